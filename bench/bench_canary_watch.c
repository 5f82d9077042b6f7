/*
 * bench_canary_watch.c - bench_canary's view of haproxy (bench_canary.h):
 * its admin socket, the parse of `show servers state`, and the watcher
 * thread that notes when each backend reaches the state a change leaves.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bench_canary.h"
#include "bench_common.h"
#include "ospec/util.h"

/* bc_haproxy sends cmd to the admin socket and reads the whole answer. */
int bc_haproxy(const char *sock, const char *cmd, char *buf, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t got = 0;
	ssize_t r;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	osp_strlcpy(sa.sun_path, sock, sizeof(sa.sun_path));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
		write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd)) {
		close(fd);
		return -1;
	}
	while (got + 1 < len && (r = read(fd, buf + got, len - 1 - got)) > 0)
		got += (size_t)r;
	buf[got] = '\0';
	close(fd);
	return 0;
}

/* A server's row of `show servers state`. */
typedef struct bc_srv {
	long op, admin, uw, iw; /* srv_op_state, srv_admin_state, srv_uweight, srv_iweight */
	bool have;
} bc_srv;

/* bc_parse_state fills srv[k][0 blue, 1 green] of backends app_1..app_n from
 * a `show servers state` answer: format "1", whose columns start with
 * be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state
 * srv_uweight srv_iweight (haproxy 1.6 to 3.x). */
static void bc_parse_state(const char *buf, size_t n, bc_srv (*srv)[2])
{
	static const char head[] = "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state "
				   "srv_admin_state srv_uweight srv_iweight ";

	if (strncmp(buf, head, sizeof(head) - 1) != 0)
		return;
	for (const char *p = strchr(buf + 2, '\n'); p != NULL; p = strchr(p + 1, '\n')) {
		char name[16];
		size_t k;
		bc_srv s = { .have = true };

		if (sscanf(p + 1, "%*d app_%zu %*d %15s %*s %ld %ld %ld %ld", &k, name, &s.op,
			    &s.admin, &s.uw, &s.iw) == 6 &&
			k >= 1 && k <= n)
			srv[k - 1][strcmp(name, "green") == 0] = s;
	}
}

/* bc_at reports whether a backend's servers hold the target's state, as the
 * agent's last command leaves it (node-agent/drivers/haproxy_canary.c):
 * WEIGHT: green up and in no maintenance (0x23) at 10, blue at 90; RESET:
 * green forced into maintenance (0x01), both at their configured weight. */
static bool bc_at(int target, const bc_srv s[2])
{
	if (!s[0].have || !s[1].have || (s[0].admin & 0x23) != 0)
		return false;
	if (target == BC_T_WEIGHT)
		return s[1].uw == BC_WEIGHT && s[1].op == 2 && (s[1].admin & 0x23) == 0 &&
			s[0].uw == 100 - BC_WEIGHT;
	return (s[1].admin & 0x01) != 0 && s[1].uw == s[1].iw && s[0].uw == s[0].iw;
}

/* bc_watch_main polls haproxy while a target is set; the time noted for a
 * backend is when the answer arrived (so at most one poll late). */
void *bc_watch_main(void *arg)
{
	bc_watch *w = arg;
	char *buf = malloc(BC_REPLY_MAX);
	bc_srv(*srv)[2] = calloc(w->n, sizeof(*srv));

	while (buf != NULL && srv != NULL && !atomic_load(&w->stop)) {
		int t = atomic_load(&w->target);
		int64_t t0 = bench_now_ns(), now;

		if (t == BC_T_NONE ||
			bc_haproxy(w->sock, "show servers state\n", buf, BC_REPLY_MAX) != 0) {
			bc_sleep_ms(1);
			continue;
		}
		now = bench_wall_ns() / 1000;
		memset(srv, 0, w->n * sizeof(*srv));
		bc_parse_state(buf, w->n, srv);
		for (size_t k = 0; k < w->n; k++)
			if (w->seen_us[t][k] == 0 && bc_at(t, srv[k])) {
				w->seen_us[t][k] = now;
				atomic_fetch_add(&w->done[t], 1);
			}
		bc_sleep_ms(1);
		atomic_fetch_add(&w->polls, 1);
		atomic_fetch_add(&w->poll_ns, (uint64_t)(bench_now_ns() - t0));
	}
	free(buf);
	free(srv);
	return NULL;
}
