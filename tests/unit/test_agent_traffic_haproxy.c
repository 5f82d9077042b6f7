/*
 * test_agent_traffic_haproxy.c - the traffic drivers against a real haproxy.
 *
 * Each test that needs it gets its own temp dir with a generated haproxy.cfg
 * (admin socket, a frontend on a free loopback port, backend `hello` with
 * hello_blue and hello_green, green `disabled`, no `check`), a haproxy in the
 * foreground and two sample-app processes (deploy/examples/hello) answering
 * "1" (blue) and "2" (green). Every process is a child that dies with the
 * test (PR_SET_PDEATHSIG) and is stopped in the teardown, pass or fail.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
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

#define TX_HAPROXY "/usr/sbin/haproxy"
#define TX_HELLO OSPEC_BINARY_DIR "/deploy/examples/hello/hello"
#define TX_START_MS 15000 /* generous: a loaded 2-core machine under valgrind */

/* A bounded load generator through the frontend (a thread). */
typedef struct tx_load {
	unsigned port;
	pthread_t thread;
	bool running;
	atomic_bool after;   /* set by the test once its change is done */
	atomic_bool abandon; /* set by the teardown after a failure */
	int min_after, max_total;
	atomic_int total;
	int after_count, failed, seen1, seen2;
	char first_failure[128];
} tx_load;

typedef struct tx {
	char dir[128];
	char sock[192];
	char cfgpath[192];
	unsigned fe_port, port[2]; /* frontend; blue and green apps */
	pid_t haproxy, app[2];
	char backend[32], srv_blue[32], srv_green[32];
	agent_proxy_cfg cfg; /* points into the arrays above */
	tx_load load;        /* joined by the teardown if a test failed */
} tx;

/* ---- processes ---------------------------------------------------------- */

/* tx_spawn starts argv[0] with env, stdout and stderr to out; the child dies
 * with this thread (PR_SET_PDEATHSIG), so a crashed test leaves nothing. */
static pid_t tx_spawn(char *const argv[], char *const env[], const char *out)
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

/* tx_stop stops a child: SIGTERM, then SIGKILL after 5 s; accepts 0. */
static void tx_stop(pid_t *pid)
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

static void tx_path(char *buf, size_t len, const tx *t, const char *name)
{
	assert_true((size_t)snprintf(buf, len, "%s/%s", t->dir, name) < len);
}

static void tx_write(const char *path, const char *data)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(data, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* tx_start_app starts hello for slot i on a port it picks itself (--port 0)
 * and reads that port from its first output line. */
static void tx_start_app(tx *t, int i)
{
	static const char *const names[2] = { "blue", "green" };
	char vfile[256], out[256], envv[300], *data = NULL, *p;
	size_t len = 0;
	int64_t until = osp_now_mono_ms() + TX_START_MS;

	snprintf(vfile, sizeof(vfile), "%s/%s.VERSION", t->dir, names[i]);
	snprintf(out, sizeof(out), "%s/%s.out", t->dir, names[i]);
	snprintf(envv, sizeof(envv), "HELLO_VERSION_FILE=%s", vfile);
	tx_write(vfile, i == 0 ? "1\n" : "2\n");
	char *argv[] = { TX_HELLO, "--port", "0", "--bind", "127.0.0.1", NULL };
	char *env[] = { envv, NULL };
	t->app[i] = tx_spawn(argv, env, out);
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

/* tx_write_cfg writes haproxy.cfg with the `active` slot enabled and the
 * other one `disabled`. No `check`: see deploy/haproxy/README.md. */
static void tx_write_cfg(tx *t, int active, const char *level)
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
	tx_write(t->cfgpath, cfg);
}

/* tx_admin sends one command to the admin socket without the driver. Returns
 * the reply length, or -1 if the socket does not answer. */
static ssize_t tx_admin(const tx *t, const char *cmd, char *out, size_t len)
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

/* tx_start_haproxy starts haproxy in the foreground and waits until its
 * admin socket answers with this child's pid. */
static void tx_start_haproxy(tx *t)
{
	char log[256], want[32], reply[8192];
	int64_t until = osp_now_mono_ms() + TX_START_MS;
	char *argv[] = { TX_HAPROXY, "-db", "-f", t->cfgpath, NULL };
	char *env[] = { NULL };

	tx_path(log, sizeof(log), t, "haproxy.log");
	t->haproxy = tx_spawn(argv, env, log);
	assert_true(t->haproxy > 0);
	snprintf(want, sizeof(want), "\nPid: %d\n", (int)t->haproxy);
	while (tx_admin(t, "show info", reply, sizeof(reply)) < 0 ||
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

static int tx_connect(unsigned port)
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

/* tx_get sends GET / on *fd (connecting when *fd < 0) and reads the answer.
 * keep=false asks for Connection: close. Returns the status (the body,
 * trimmed, in body) or -1 for a transport failure; *fd is closed unless the
 * connection can carry the next request. */
static int tx_get(int *fd, unsigned port, bool keep, char *body, size_t blen)
{
	char buf[4096], req[128], *end, *cl;
	size_t n = 0, need;
	int status = -1, len;

	body[0] = '\0';
	if (*fd < 0)
		*fd = tx_connect(port);
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

/* tx_version asks the frontend once, on a new connection: "1", "2", or the
 * failure. */
static void tx_version(const tx *t, char *body, size_t blen)
{
	int fd = -1;
	int st = tx_get(&fd, t->fe_port, false, body, blen);

	if (st != 200)
		snprintf(body, blen, "status %d", st);
}

static void tx_assert_version(const tx *t, const char *want)
{
	char body[64];

	tx_version(t, body, sizeof(body));
	assert_string_equal(body, want);
}

/* ---- a bounded load generator ------------------------------------------- */

/* tx_load_run alternates 10 requests on one keep-alive connection with 10
 * requests on new connections, until it has min_after requests started after
 * `after`, or max_total. */
static void *tx_load_run(void *arg)
{
	tx_load *l = arg;
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
		st = tx_get(&fd, l->port, keep, body, sizeof(body));
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

/* tx_load_start starts the load and returns after min_before requests. */
static tx_load *tx_load_start(tx *t, int min_before, int min_after)
{
	int64_t until = osp_now_mono_ms() + 60000;
	tx_load *l = &t->load;

	memset(l, 0, sizeof(*l));
	l->port = t->fe_port;
	l->min_after = min_after;
	l->max_total = 20000;
	assert_int_equal(pthread_create(&l->thread, NULL, tx_load_run, l), 0);
	l->running = true;
	while (atomic_load(&l->total) < min_before && osp_now_mono_ms() < until)
		osp_sleep_ms(5);
	return l;
}

/* tx_load_join waits for the thread (abandon: at once). */
static void tx_load_join(tx_load *l, bool abandon)
{
	if (!l->running)
		return;
	atomic_store(&l->abandon, abandon);
	atomic_store(&l->after, true);
	pthread_join(l->thread, NULL);
	l->running = false;
}

/* tx_load_finish marks the change done, waits for min_after more requests
 * and asserts that none failed. */
static void tx_load_finish(tx_load *l)
{
	tx_load_join(l, false);
	if (l->failed != 0)
		fail_msg("%d of %d requests failed; first: %s", l->failed, atomic_load(&l->total),
			l->first_failure);
	assert_true(l->after_count >= l->min_after);
}

static int tx_setup(void **state)
{
	tx *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	*state = t;
	ts_mkdtemp(t->dir, sizeof(t->dir), "/tmp/ospec-tah-XXXXXX");
	tx_path(t->sock, sizeof(t->sock), t, "admin.sock");
	tx_path(t->cfgpath, sizeof(t->cfgpath), t, "haproxy.cfg");
	snprintf(t->backend, sizeof(t->backend), "hello");
	snprintf(t->srv_blue, sizeof(t->srv_blue), "hello_blue");
	snprintf(t->srv_green, sizeof(t->srv_green), "hello_green");
	t->cfg.socket = t->sock;
	t->cfg.backend = t->backend;
	t->cfg.server_blue = t->srv_blue;
	t->cfg.server_green = t->srv_green;
	tx_start_app(t, 0);
	tx_start_app(t, 1);
	t->fe_port = ts_free_port();
	tx_write_cfg(t, 0, "admin");
	tx_start_haproxy(t);
	return 0;
}

static int tx_teardown(void **state)
{
	tx *t = *state;

	if (t == NULL)
		return 0;
	tx_load_join(&t->load, true);
	tx_stop(&t->haproxy);
	tx_stop(&t->app[0]);
	tx_stop(&t->app[1]);
	if (t->dir[0] != '\0')
		ts_rmtree(t->dir);
	free(t);
	return 0;
}

/* ---- helpers over the driver -------------------------------------------- */

static agent_traffic *tx_open(const agent_proxy_cfg *cfg)
{
	agent_traffic *tr = NULL;
	char err[256];

	if (agent_traffic_open(cfg, &tr, err, sizeof(err)) != OSP_OK)
		fail_msg("agent_traffic_open: %s", err);
	return tr;
}

static void tx_assert_current(agent_traffic *tr, const char *want)
{
	char slot[AGENT_TRAFFIC_SLOT_MAX], err[256];

	if (agent_traffic_current(tr, slot, sizeof(slot), err, sizeof(err)) != OSP_OK)
		fail_msg("current: %s", err);
	assert_string_equal(slot, want);
}

static void tx_commit(agent_traffic *tr, const char *slot)
{
	char err[512];

	if (agent_traffic_commit(tr, slot, err, sizeof(err)) != OSP_OK)
		fail_msg("commit %s: %s", slot, err);
}

/* tx_states reads op and admin state of both servers, as text, straight from
 * the admin socket. */
static void tx_states(const tx *t, char *out, size_t len)
{
	char reply[8192], *p;
	size_t o = 0;

	assert_true(tx_admin(t, "show servers state hello", reply, sizeof(reply)) > 0);
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

/* ---- tests with haproxy ------------------------------------------------- */

static void test_agent_traffic_haproxy_current_blue_at_start(void **state)
{
	tx *t = *state;
	agent_traffic *tr = tx_open(&t->cfg);

	assert_string_equal(agent_traffic_name(tr), "haproxy");
	tx_assert_current(tr, "blue");
	tx_assert_version(t, "1");
	agent_traffic_close(tr);
}

static void test_agent_traffic_haproxy_prepare_changes_nothing(void **state)
{
	tx *t = *state;
	agent_traffic *tr = tx_open(&t->cfg);
	char before[256], after[256], err[256];

	tx_states(t, before, sizeof(before));
	assert_non_null(strstr(before, "hello_green:0/5")); /* disabled: FMAINT|CMAINT */
	assert_int_equal(agent_traffic_prepare(tr, "green", err, sizeof(err)), OSP_OK);
	tx_states(t, after, sizeof(after));
	assert_string_equal(before, after);
	tx_assert_version(t, "1");
	tx_assert_current(tr, "blue");
	assert_int_equal(agent_traffic_abort(tr, err, sizeof(err)), OSP_OK);
	tx_assert_version(t, "1");
	/* a server with weight 0 would get nothing: refused before the vote */
	assert_true(tx_admin(t, "set weight hello/hello_green 0", err, sizeof(err)) >= 0);
	assert_int_equal(agent_traffic_prepare(tr, "green", err, sizeof(err)), OSP_ESTATE);
	assert_non_null(strstr(err, "weight 0"));
	agent_traffic_close(tr);
}

static void test_agent_traffic_haproxy_commit_under_load(void **state)
{
	tx *t = *state;
	agent_traffic *tr = tx_open(&t->cfg);
	tx_load *l;
	char err[256];

	assert_int_equal(agent_traffic_prepare(tr, "green", err, sizeof(err)), OSP_OK);
	l = tx_load_start(t, 60, 150);
	tx_commit(tr, "green");
	tx_load_finish(l);
	assert_true(l->seen1 >= 60); /* the switch happened under load */
	assert_true(l->seen2 >= 150);
	tx_assert_version(t, "2");
	tx_assert_current(tr, "green");
	agent_traffic_close(tr);
}

static void test_agent_traffic_haproxy_commit_idempotent(void **state)
{
	tx *t = *state;
	agent_traffic *tr = tx_open(&t->cfg);
	char before[256], after[256];

	tx_commit(tr, "blue"); /* already active */
	tx_assert_current(tr, "blue");
	tx_assert_version(t, "1");
	tx_commit(tr, "green");
	tx_states(t, before, sizeof(before));
	tx_commit(tr, "green");
	tx_states(t, after, sizeof(after));
	assert_string_equal(before, after);
	tx_assert_current(tr, "green");
	tx_assert_version(t, "2");
	tx_commit(tr, "blue"); /* and back: instant rollback */
	tx_assert_current(tr, "blue");
	tx_assert_version(t, "1");
	agent_traffic_close(tr);
}

static void test_agent_traffic_haproxy_bad_backend(void **state)
{
	tx *t = *state;
	agent_proxy_cfg cfg = t->cfg;
	agent_traffic *tr;
	char err[256];

	cfg.backend = "nope";
	tr = tx_open(&cfg);
	assert_int_equal(agent_traffic_prepare(tr, "green", err, sizeof(err)), OSP_EREFUSED);
	assert_non_null(strstr(err, "Can't find backend."));
	assert_non_null(strstr(err, "show servers state nope"));
	assert_int_equal(agent_traffic_commit(tr, "green", err, sizeof(err)), OSP_EREFUSED);
	agent_traffic_close(tr);

	cfg = t->cfg;
	cfg.server_green = "hello_purple";
	tr = tx_open(&cfg);
	assert_int_equal(agent_traffic_prepare(tr, "green", err, sizeof(err)), OSP_ENOENT);
	assert_non_null(strstr(err, "hello_purple"));
	assert_int_equal(agent_traffic_commit(tr, "green", err, sizeof(err)), OSP_ENOENT);
	agent_traffic_close(tr);
	tx_assert_version(t, "1"); /* nothing changed */
}

static void test_agent_traffic_haproxy_socket_missing(void **state)
{
	tx *t = *state;
	agent_proxy_cfg cfg = t->cfg;
	char path[256], err[512], slot[AGENT_TRAFFIC_SLOT_MAX];
	agent_traffic *tr;
	bool re = true;

	tx_path(path, sizeof(path), t, "missing.sock");
	cfg.socket = path;
	tr = tx_open(&cfg);
	assert_int_equal(agent_traffic_prepare(tr, "green", err, sizeof(err)), OSP_ENET);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, strerror(ENOENT)));
	assert_int_equal(agent_traffic_commit(tr, "green", err, sizeof(err)), OSP_ENET);
	assert_int_equal(agent_traffic_current(tr, slot, sizeof(slot), err, sizeof(err)),
		OSP_ENET);
	assert_int_equal(agent_traffic_watch(tr, "green", &re, err, sizeof(err)), OSP_ENET);
	assert_false(re);
	agent_traffic_close(tr);
}

/* tx_restart stops haproxy and starts it again, with `active` enabled. */
static void tx_restart(tx *t, int active, const char *level)
{
	tx_stop(&t->haproxy);
	tx_write_cfg(t, active, level);
	tx_start_haproxy(t);
}

static void test_agent_traffic_haproxy_restart_reasserted(void **state)
{
	tx *t = *state;
	agent_traffic *tr = tx_open(&t->cfg);
	char err[512];
	bool re = true;

	tx_commit(tr, "green");
	assert_int_equal(agent_traffic_watch(tr, "green", &re, err, sizeof(err)), OSP_OK);
	assert_false(re); /* first look: green is active, nothing to do */
	tx_restart(t, 0, "admin"); /* same config: blue is back */
	tx_assert_version(t, "1");
	if (agent_traffic_watch(tr, "green", &re, err, sizeof(err)) != OSP_OK)
		fail_msg("watch: %s", err);
	assert_true(re);
	tx_assert_version(t, "2");
	tx_assert_current(tr, "green");
	assert_int_equal(agent_traffic_watch(tr, "green", &re, err, sizeof(err)), OSP_OK);
	assert_false(re); /* settled */
	agent_traffic_close(tr);
}

/* A restart is noticed by its Pid even when the state happens to look right. */
static void test_agent_traffic_haproxy_restart_seen_by_pid(void **state)
{
	tx *t = *state;
	agent_traffic *tr = tx_open(&t->cfg);
	char err[512];
	bool re = true;

	assert_int_equal(agent_traffic_watch(tr, "", &re, err, sizeof(err)), OSP_OK);
	assert_false(re); /* no active slot yet: only records */
	tx_commit(tr, "green");
	assert_int_equal(agent_traffic_watch(tr, "green", &re, err, sizeof(err)), OSP_OK);
	assert_false(re);
	tx_restart(t, 1, "admin"); /* a config that already has green enabled */
	tx_assert_version(t, "2");
	if (agent_traffic_watch(tr, "green", &re, err, sizeof(err)) != OSP_OK)
		fail_msg("watch: %s", err);
	assert_true(re);
	tx_assert_current(tr, "green");
	agent_traffic_close(tr);
}

static void test_agent_traffic_haproxy_drift_reasserted(void **state)
{
	tx *t = *state;
	agent_traffic *tr = tx_open(&t->cfg);
	char err[512], reply[256];
	bool re = true;

	tx_commit(tr, "green");
	assert_int_equal(agent_traffic_watch(tr, "green", &re, err, sizeof(err)), OSP_OK);
	assert_false(re);
	/* an operator puts blue back by hand: both serve */
	assert_true(tx_admin(t, "set server hello/hello_blue state ready", reply,
			    sizeof(reply)) >= 0);
	tx_assert_current(tr, "");
	assert_int_equal(agent_traffic_watch(tr, "green", &re, err, sizeof(err)), OSP_OK);
	assert_true(re);
	tx_assert_current(tr, "green");
	tx_assert_version(t, "2");
	agent_traffic_close(tr);
}

/* A socket below `level admin` reads fine but cannot switch: prepare finds
 * out, so the node votes NO instead of failing after the decision. */
static void test_agent_traffic_haproxy_needs_admin_level(void **state)
{
	tx *t = *state;
	agent_traffic *tr = tx_open(&t->cfg);
	char err[512];

	tx_restart(t, 0, "operator");
	tx_assert_current(tr, "blue");
	assert_int_equal(agent_traffic_prepare(tr, "green", err, sizeof(err)), OSP_EPERM);
	assert_non_null(strstr(err, "level admin"));
	assert_int_equal(agent_traffic_commit(tr, "green", err, sizeof(err)), OSP_EREFUSED);
	assert_non_null(strstr(err, "Permission denied"));
	tx_assert_version(t, "1");
	agent_traffic_close(tr);
}

typedef struct tx_flipper {
	agent_traffic *tr;
	const char *slot;
	int n;
	int failed;
	char err[512];
} tx_flipper;

static void *tx_flip_run(void *arg)
{
	tx_flipper *f = arg;

	for (int i = 0; i < f->n; i++) {
		char err[512];
		if (agent_traffic_commit(f->tr, f->slot, err, sizeof(err)) != OSP_OK &&
			f->failed++ == 0)
			osp_strlcpy(f->err, err, sizeof(f->err));
	}
	return NULL;
}

/* Two handles on one socket commit opposite slots at once: each commit is
 * one indivisible sequence, so every commit succeeds, and at every moment one
 * server serves (the load sees no failure). */
static void test_agent_traffic_haproxy_concurrent_commits(void **state)
{
	tx *t = *state;
	tx_flipper f[2] = {
		{ .tr = tx_open(&t->cfg), .slot = "green", .n = 25 },
		{ .tr = tx_open(&t->cfg), .slot = "blue", .n = 25 },
	};
	pthread_t th[2];
	char slot[AGENT_TRAFFIC_SLOT_MAX], err[256];

	tx_load_start(t, 20, 50);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, tx_flip_run, &f[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	tx_load_finish(&t->load);
	for (int i = 0; i < 2; i++)
		if (f[i].failed != 0)
			fail_msg("%d commits to %s failed; first: %s", f[i].failed, f[i].slot,
				f[i].err);
	assert_int_equal(agent_traffic_current(f[0].tr, slot, sizeof(slot), err, sizeof(err)),
		OSP_OK);
	assert_true(strcmp(slot, "blue") == 0 || strcmp(slot, "green") == 0);
	tx_assert_version(t, strcmp(slot, "blue") == 0 ? "1" : "2");
	agent_traffic_close(f[0].tr);
	agent_traffic_close(f[1].tr);
}

/* ---- tests without haproxy ---------------------------------------------- */

static void test_agent_traffic_haproxy_config_checked(void **state)
{
	agent_proxy_cfg ok = { .socket = "/run/haproxy/admin.sock", .backend = "hello",
		.server_blue = "hello_blue", .server_green = "hello_green" };
	agent_proxy_cfg c;
	agent_traffic *tr = NULL;
	char err[256];

	(void)state;
	tr = tx_open(&ok); /* the driver defaults to haproxy when a socket is set */
	assert_string_equal(agent_traffic_name(tr), "haproxy");
	agent_traffic_close(tr);

	c = ok;
	c.backend = NULL;
	assert_int_equal(agent_traffic_open(&c, &tr, err, sizeof(err)), OSP_ECONFIG);
	assert_null(tr);
	assert_non_null(strstr(err, "proxy.backend"));
	c = ok;
	c.server_green = "hello_green\nshutdown sessions server hello/hello_blue";
	assert_int_equal(agent_traffic_open(&c, &tr, err, sizeof(err)), OSP_ECONFIG);
	assert_non_null(strstr(err, "proxy.servers.green"));
	c = ok;
	c.server_blue = "a;b";
	assert_int_equal(agent_traffic_open(&c, &tr, err, sizeof(err)), OSP_ECONFIG);
	c = ok;
	c.server_green = "hello_blue";
	assert_int_equal(agent_traffic_open(&c, &tr, err, sizeof(err)), OSP_ECONFIG);
	c = ok;
	c.driver = "haproxy";
	c.socket = NULL;
	assert_int_equal(agent_traffic_open(&c, &tr, err, sizeof(err)), OSP_ECONFIG);
	assert_non_null(strstr(err, "proxy.socket"));
	c = ok;
	c.driver = "nginx"; /* a later issue */
	assert_int_equal(agent_traffic_open(&c, &tr, err, sizeof(err)), OSP_ECONFIG);
	assert_non_null(strstr(err, "nginx"));
	assert_null(tr);

	tr = tx_open(&ok);
	assert_int_equal(agent_traffic_commit(tr, "purple", err, sizeof(err)), OSP_EINVAL);
	assert_int_equal(agent_traffic_prepare(tr, NULL, err, sizeof(err)), OSP_EINVAL);
	agent_traffic_close(tr);
	agent_traffic_close(NULL);
}

static void test_agent_traffic_haproxy_none_driver(void **state)
{
	agent_proxy_cfg c = { 0 };
	agent_traffic *tr;
	char err[64];
	bool re = true;

	(void)state;
	tr = tx_open(NULL); /* no proxy block */
	assert_string_equal(agent_traffic_name(tr), "none");
	tx_assert_current(tr, "");
	assert_int_equal(agent_traffic_prepare(tr, "green", err, sizeof(err)), OSP_OK);
	tx_assert_current(tr, "");
	tx_commit(tr, "green");
	tx_assert_current(tr, "green");
	assert_int_equal(agent_traffic_abort(tr, err, sizeof(err)), OSP_OK);
	assert_int_equal(agent_traffic_watch(tr, "green", &re, err, sizeof(err)), OSP_OK);
	assert_false(re);
	agent_traffic_close(tr);

	tr = tx_open(&c); /* a proxy block without a socket */
	assert_string_equal(agent_traffic_name(tr), "none");
	agent_traffic_close(tr);
	c.driver = "none";
	c.socket = "/ignored";
	tr = tx_open(&c);
	assert_string_equal(agent_traffic_name(tr), "none");
	agent_traffic_close(tr);
}

/* A fake admin socket that floods or stays silent. */
typedef struct tx_fake {
	char dir[64], path[128];
	int lfd;
	bool flood;
	atomic_bool stop;
	pthread_t thread;
} tx_fake;

static void *tx_fake_run(void *arg)
{
	tx_fake *f = arg;
	static char chunk[65536];
	int c = accept(f->lfd, NULL, NULL);
	char cmd[256];
	ssize_t r;

	if (c < 0)
		return NULL;
	r = read(c, cmd, sizeof(cmd)); /* the command; its content does not matter */
	(void)r;
	memset(chunk, 'x', sizeof(chunk));
	for (size_t sent = 0; f->flood && sent < 4u * 1024 * 1024;) {
		ssize_t w = send(c, chunk, sizeof(chunk), MSG_NOSIGNAL);
		if (w <= 0)
			break;
		sent += (size_t)w;
	}
	while (!f->flood && !atomic_load(&f->stop))
		osp_sleep_ms(20);
	close(c);
	return NULL;
}

static void tx_fake_start(tx_fake *f, bool flood)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(f, 0, sizeof(*f));
	f->flood = flood;
	ts_mkdtemp(f->dir, sizeof(f->dir), "/tmp/ospec-tah-XXXXXX");
	snprintf(f->path, sizeof(f->path), "%s/fake.sock", f->dir);
	osp_strlcpy(sa.sun_path, f->path, sizeof(sa.sun_path));
	f->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(f->lfd >= 0);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(f->lfd, 4), 0);
	assert_int_equal(pthread_create(&f->thread, NULL, tx_fake_run, f), 0);
}

static void tx_fake_stop(tx_fake *f)
{
	atomic_store(&f->stop, true);
	pthread_join(f->thread, NULL);
	close(f->lfd);
	unlink(f->path);
	rmdir(f->dir);
}

static void tx_fake_check(bool flood, osp_err want, const char *text)
{
	agent_proxy_cfg c = { .backend = "hello", .server_blue = "b", .server_green = "g" };
	char slot[AGENT_TRAFFIC_SLOT_MAX], err[256];
	agent_traffic *tr;
	tx_fake f;

	tx_fake_start(&f, flood);
	c.socket = f.path;
	tr = tx_open(&c);
	assert_int_equal(agent_traffic_current(tr, slot, sizeof(slot), err, sizeof(err)), want);
	assert_non_null(strstr(err, text));
	agent_traffic_close(tr);
	tx_fake_stop(&f);
}

static void test_agent_traffic_haproxy_reply_capped(void **state)
{
	(void)state;
	tx_fake_check(true, OSP_ETOOBIG, "larger than");
}

static void test_agent_traffic_haproxy_silent_socket_times_out(void **state)
{
	(void)state;
	tx_fake_check(false, OSP_ETIMEDOUT, "no complete answer");
}

int main(void)
{
#define HX(name) cmocka_unit_test_setup_teardown(name, tx_setup, tx_teardown)
	const struct CMUnitTest tests[] = {
		HX(test_agent_traffic_haproxy_current_blue_at_start),
		HX(test_agent_traffic_haproxy_prepare_changes_nothing),
		HX(test_agent_traffic_haproxy_commit_under_load),
		HX(test_agent_traffic_haproxy_commit_idempotent),
		HX(test_agent_traffic_haproxy_bad_backend),
		HX(test_agent_traffic_haproxy_socket_missing),
		HX(test_agent_traffic_haproxy_restart_reasserted),
		HX(test_agent_traffic_haproxy_restart_seen_by_pid),
		HX(test_agent_traffic_haproxy_drift_reasserted),
		HX(test_agent_traffic_haproxy_needs_admin_level),
		HX(test_agent_traffic_haproxy_concurrent_commits),
		cmocka_unit_test(test_agent_traffic_haproxy_config_checked),
		cmocka_unit_test(test_agent_traffic_haproxy_none_driver),
		cmocka_unit_test(test_agent_traffic_haproxy_reply_capped),
		cmocka_unit_test(test_agent_traffic_haproxy_silent_socket_times_out),
	};
#undef HX

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
