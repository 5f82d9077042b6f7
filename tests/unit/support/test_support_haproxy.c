/*
 * test_support_haproxy.c - the haproxy fixture shared by
 * test_agent_traffic_haproxy.c and test_agent_traffic_haproxy_watch.c (see
 * test_support_haproxy.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent_traffic.h"
#include "ospec/util.h"
#include "test_support.h"
#include "test_support_haproxy.h"

#define TS_HX_HAPROXY "/usr/sbin/haproxy"
#define TS_HX_HELLO OSPEC_BINARY_DIR "/deploy/examples/hello/hello"
#define TS_HX_START_MS 15000 /* generous: a loaded 2-core machine under valgrind */

/* ---- processes ---------------------------------------------------------- */

/* ts_hx_spawn starts argv[0] with env, stdout and stderr to out; the child dies
 * with this thread (PR_SET_PDEATHSIG), so a crashed test leaves nothing. */
static pid_t ts_hx_spawn(char *const argv[], char *const env[], const char *out)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(126);
		execve(argv[0], argv, env);
		_exit(127);
	}
	return pid;
}

/* ts_hx_stop stops a child: SIGTERM, then SIGKILL after 5 s; accepts 0. */
static void ts_hx_stop(pid_t *pid)
{
	int64_t until = osp_now_mono_ms() + 5000;

	if (*pid <= 0)
		return;
	kill(*pid, SIGTERM);
	while (waitpid(*pid, NULL, WNOHANG) == 0) {
		if (osp_now_mono_ms() > until) {
			kill(*pid, SIGKILL);
			waitpid(*pid, NULL, 0);
			break;
		}
		osp_sleep_ms(10);
	}
	*pid = 0;
}

void ts_hx_path(char *buf, size_t len, const ts_hx *t, const char *name)
{
	assert_true((size_t)snprintf(buf, len, "%s/%s", t->dir, name) < len);
}

static void ts_hx_write(const char *path, const char *data)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(data, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* ts_hx_start_app starts hello for slot i on a port it picks itself (--port 0)
 * and reads that port from its first output line. */
static void ts_hx_start_app(ts_hx *t, int i)
{
	static const char *const names[2] = { "blue", "green" };
	char vfile[256], out[256], envv[300], *data = NULL, *p;
	size_t len = 0;
	int64_t until = osp_now_mono_ms() + TS_HX_START_MS;

	snprintf(vfile, sizeof(vfile), "%s/%s.VERSION", t->dir, names[i]);
	snprintf(out, sizeof(out), "%s/%s.out", t->dir, names[i]);
	snprintf(envv, sizeof(envv), "HELLO_VERSION_FILE=%s", vfile);
	ts_hx_write(vfile, i == 0 ? "1\n" : "2\n");
	char *argv[] = { TS_HX_HELLO, "--port", "0", "--bind", "127.0.0.1", NULL };
	char *env[] = { envv, NULL };
	t->app[i] = ts_hx_spawn(argv, env, out);
	assert_true(t->app[i] > 0);
	for (;;) {
		free(data);
		data = NULL;
		p = osp_file_read(out, 4096, &data, &len) == OSP_OK
			? strstr(data, "listening on port ")
			: NULL;
		if (p != NULL && strchr(p, '\n') != NULL) {
			t->port[i] = (unsigned)atoi(p + strlen("listening on port "));
			break;
		}
		if (osp_now_mono_ms() > until || waitpid(t->app[i], NULL, WNOHANG) != 0)
			fail_msg("hello (%s) did not start; is target 'hello' built? output: %s",
				names[i], data != NULL ? data : "(none)");
		osp_sleep_ms(20);
	}
	free(data);
	assert_true(t->port[i] > 0);
}

/* ts_hx_write_cfg writes haproxy.cfg with the `active` slot enabled and the
 * other one `disabled`. No `check`: see deploy/haproxy/README.md. */
static void ts_hx_write_cfg(ts_hx *t, int active, const char *level)
{
	char cfg[2048];
	int n = snprintf(cfg, sizeof(cfg),
		"global\n"
		"    stats socket %s mode 600 level %s\n"
		"    stats timeout 30s\n"
		"defaults\n"
		"    mode http\n"
		"    timeout connect 5s\n"
		"    timeout client 30s\n"
		"    timeout server 30s\n"
		"frontend fe\n"
		"    bind 127.0.0.1:%u\n"
		"    default_backend hello\n"
		"backend hello\n"
		"    server hello_blue 127.0.0.1:%u%s\n"
		"    server hello_green 127.0.0.1:%u%s\n",
		t->sock, level, t->fe_port, t->port[0], active == 0 ? "" : " disabled", t->port[1],
		active == 1 ? "" : " disabled");

	assert_true(n > 0 && (size_t)n < sizeof(cfg));
	ts_hx_write(t->cfgpath, cfg);
}

/* ts_hx_admin sends one command to the admin socket without the driver. Returns
 * the reply length, or -1 if the socket does not answer. */
ssize_t ts_hx_admin(const ts_hx *t, const char *cmd, char *out, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 5 };
	size_t n = 0;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	out[0] = '\0';
	osp_strlcpy(sa.sun_path, t->sock, sizeof(sa.sun_path));
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
		write(fd, cmd, strlen(cmd)) < 0 || write(fd, "\n", 1) != 1) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	for (;;) {
		ssize_t r = read(fd, out + n, len - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		if (n == len - 1)
			break;
	}
	out[n] = '\0';
	close(fd);
	return (ssize_t)n;
}

/* ts_hx_start_haproxy starts haproxy in the foreground and waits until its
 * admin socket answers with this child's pid. */
static void ts_hx_start_haproxy(ts_hx *t)
{
	char log[256], want[32], reply[8192];
	int64_t until = osp_now_mono_ms() + TS_HX_START_MS;
	char *argv[] = { TS_HX_HAPROXY, "-db", "-f", t->cfgpath, NULL };
	char *env[] = { NULL };

	ts_hx_path(log, sizeof(log), t, "haproxy.log");
	t->haproxy = ts_hx_spawn(argv, env, log);
	assert_true(t->haproxy > 0);
	snprintf(want, sizeof(want), "\nPid: %d\n", (int)t->haproxy);
	while (ts_hx_admin(t, "show info", reply, sizeof(reply)) < 0 ||
		strstr(reply, want) == NULL) {
		if (osp_now_mono_ms() > until || waitpid(t->haproxy, NULL, WNOHANG) != 0) {
			char *data = NULL;
			size_t len;
			(void)osp_file_read(log, 8192, &data, &len);
			fail_msg("haproxy did not start: %s", data != NULL ? data : "(no log)");
		}
		osp_sleep_ms(20);
	}
}

/* ---- HTTP through the frontend ------------------------------------------ */

static int ts_hx_connect(unsigned port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { .tv_sec = 15 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* ts_hx_get sends GET / on *fd (connecting when *fd < 0) and reads the answer.
 * keep=false asks for Connection: close. Returns the status (the body,
 * trimmed, in body) or -1 for a transport failure; *fd is closed unless the
 * connection can carry the next request. */
static int ts_hx_get(int *fd, unsigned port, bool keep, char *body, size_t blen)
{
	char buf[4096], req[128], *end, *cl;
	size_t n = 0, need;
	int status = -1, len;

	body[0] = '\0';
	if (*fd < 0)
		*fd = ts_hx_connect(port);
	if (*fd < 0)
		return -1;
	len = snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: t\r\n%s\r\n",
		keep ? "" : "Connection: close\r\n");
	if (send(*fd, req, (size_t)len, MSG_NOSIGNAL) != len)
		goto fail;
	for (;;) { /* the head */
		ssize_t r = recv(*fd, buf + n, sizeof(buf) - 1 - n, 0);
		if (r <= 0)
			goto fail;
		n += (size_t)r;
		buf[n] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (end != NULL)
			break;
		if (n == sizeof(buf) - 1)
			goto fail;
	}
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
		goto fail;
	cl = strcasestr(buf, "\r\ncontent-length:");
	if (cl == NULL || cl > end)
		goto fail;
	need = (size_t)(end + 4 - buf) + strtoul(cl + 17, NULL, 10);
	while (n < need && n < sizeof(buf) - 1) { /* the body */
		ssize_t r = recv(*fd, buf + n, sizeof(buf) - 1 - n, 0);
		if (r <= 0)
			goto fail;
		n += (size_t)r;
	}
	buf[n < need ? n : need] = '\0';
	osp_strlcpy(body, end + 4, blen);
	body[strcspn(body, "\r\n")] = '\0';
	if (!keep || strcasestr(buf, "\r\nconnection: close") != NULL) {
		close(*fd);
		*fd = -1;
	}
	return status;
fail:
	close(*fd);
	*fd = -1;
	return -1;
}

/* ts_hx_version asks the frontend once, on a new connection: "1", "2", or the
 * failure. */
static void ts_hx_version(const ts_hx *t, char *body, size_t blen)
{
	int fd = -1;
	int st = ts_hx_get(&fd, t->fe_port, false, body, blen);

	if (st != 200)
		snprintf(body, blen, "status %d", st);
}

void ts_hx_assert_version(const ts_hx *t, const char *want)
{
	char body[64];

	ts_hx_version(t, body, sizeof(body));
	assert_string_equal(body, want);
}

/* ---- a bounded load generator ------------------------------------------- */

/* ts_hx_load_run alternates 10 requests on one keep-alive connection with 10
 * requests on new connections, until it has min_after requests started after
 * `after`, or max_total. */
static void *ts_hx_load_run(void *arg)
{
	ts_hx_load *l = arg;
	char body[64];
	int fd = -1;

	for (int i = 0; i < l->max_total; i++) {
		bool after = atomic_load(&l->after);
		bool keep = (i / 10) % 2 == 0;
		int st;

		if ((after && l->after_count >= l->min_after) || atomic_load(&l->abandon))
			break;
		if (!keep && fd >= 0) {
			close(fd);
			fd = -1;
		}
		st = ts_hx_get(&fd, l->port, keep, body, sizeof(body));
		if (st == 200 && strcmp(body, "1") == 0) {
			l->seen1++;
		} else if (st == 200 && strcmp(body, "2") == 0) {
			l->seen2++;
		} else if (l->failed++ == 0) {
			snprintf(l->first_failure, sizeof(l->first_failure),
				"request %d: status %d body '%s'", i, st, body);
		}
		if (after)
			l->after_count++;
		atomic_fetch_add(&l->total, 1);
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

/* ts_hx_load_start starts the load and returns after min_before requests. */
ts_hx_load *ts_hx_load_start(ts_hx *t, int min_before, int min_after)
{
	int64_t until = osp_now_mono_ms() + 60000;
	ts_hx_load *l = &t->load;

	memset(l, 0, sizeof(*l));
	l->port = t->fe_port;
	l->min_after = min_after;
	l->max_total = 20000;
	assert_int_equal(pthread_create(&l->thread, NULL, ts_hx_load_run, l), 0);
	l->running = true;
	while (atomic_load(&l->total) < min_before && osp_now_mono_ms() < until)
		osp_sleep_ms(5);
	return l;
}

/* ts_hx_load_join waits for the thread (abandon: at once). */
static void ts_hx_load_join(ts_hx_load *l, bool abandon)
{
	if (!l->running)
		return;
	atomic_store(&l->abandon, abandon);
	atomic_store(&l->after, true);
	pthread_join(l->thread, NULL);
	l->running = false;
}

/* ts_hx_load_finish marks the change done, waits for min_after more requests
 * and asserts that none failed. */
void ts_hx_load_finish(ts_hx_load *l)
{
	ts_hx_load_join(l, false);
	if (l->failed != 0)
		fail_msg("%d of %d requests failed; first: %s", l->failed, atomic_load(&l->total),
			l->first_failure);
	assert_true(l->after_count >= l->min_after);
}

int ts_hx_setup(void **state)
{
	ts_hx *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	*state = t;
	ts_mkdtemp(t->dir, sizeof(t->dir), "/tmp/ospec-tah-XXXXXX");
	ts_hx_path(t->sock, sizeof(t->sock), t, "admin.sock");
	ts_hx_path(t->cfgpath, sizeof(t->cfgpath), t, "haproxy.cfg");
	snprintf(t->backend, sizeof(t->backend), "hello");
	snprintf(t->srv_blue, sizeof(t->srv_blue), "hello_blue");
	snprintf(t->srv_green, sizeof(t->srv_green), "hello_green");
	t->cfg.socket = t->sock;
	t->cfg.backend = t->backend;
	t->cfg.server_blue = t->srv_blue;
	t->cfg.server_green = t->srv_green;
	ts_hx_start_app(t, 0);
	ts_hx_start_app(t, 1);
	t->fe_port = ts_free_port();
	ts_hx_write_cfg(t, 0, "admin");
	ts_hx_start_haproxy(t);
	return 0;
}

int ts_hx_teardown(void **state)
{
	ts_hx *t = *state;

	if (t == NULL)
		return 0;
	ts_hx_load_join(&t->load, true);
	ts_hx_stop(&t->haproxy);
	ts_hx_stop(&t->app[0]);
	ts_hx_stop(&t->app[1]);
	if (t->dir[0] != '\0')
		ts_rmtree(t->dir);
	free(t);
	return 0;
}

/* ---- helpers over the driver -------------------------------------------- */

agent_traffic *ts_hx_open(const agent_proxy_cfg *cfg)
{
	agent_traffic *tr = NULL;
	char err[256];

	if (agent_traffic_open(cfg, &tr, err, sizeof(err)) != OSP_OK)
		fail_msg("agent_traffic_open: %s", err);
	return tr;
}

void ts_hx_assert_current(agent_traffic *tr, const char *want)
{
	char slot[AGENT_TRAFFIC_SLOT_MAX], err[256];

	if (agent_traffic_current(tr, slot, sizeof(slot), err, sizeof(err)) != OSP_OK)
		fail_msg("current: %s", err);
	assert_string_equal(slot, want);
}

void ts_hx_commit(agent_traffic *tr, const char *slot)
{
	char err[512];

	if (agent_traffic_commit(tr, slot, err, sizeof(err)) != OSP_OK)
		fail_msg("commit %s: %s", slot, err);
}

/* ts_hx_states reads op and admin state of both servers, as text, straight from
 * the admin socket. */
void ts_hx_states(const ts_hx *t, char *out, size_t len)
{
	char reply[8192], *p;
	size_t o = 0;

	assert_true(ts_hx_admin(t, "show servers state hello", reply, sizeof(reply)) > 0);
	out[0] = '\0';
	for (p = reply; *p != '\0';) {
		char name[64];
		int op, admin;
		char *nl = strchr(p, '\n');
		if (nl != NULL)
			*nl = '\0';
		if (sscanf(p, "%*d hello %*d %63s %*s %d %d", name, &op, &admin) == 3)
			o += (size_t)snprintf(out + o, len - o, "%s:%d/%d ", name, op, admin);
		if (nl == NULL)
			break;
		p = nl + 1;
	}
}

/* ts_hx_restart stops haproxy and starts it again, with `active` enabled. */
void ts_hx_restart(ts_hx *t, int active, const char *level)
{
	ts_hx_stop(&t->haproxy);
	ts_hx_write_cfg(t, active, level);
	ts_hx_start_haproxy(t);
}
