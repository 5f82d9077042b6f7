/*
 * test_agent_traffic_haproxy.c - the traffic drivers against a real haproxy:
 * current, prepare, commit (under load, idempotent), a bad backend or
 * socket, and without haproxy the config checks, the none driver and a
 * misbehaving admin socket. Restarts, re-assertion and concurrent commits
 * are in test_agent_traffic_haproxy_watch.c.
 *
 * The haproxy and sample-app fixture is shared (test_support_haproxy.h):
 * every process is a child that dies with the test and is stopped in the
 * teardown, pass or fail.
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
#include "test_support_haproxy.h"

/* ---- tests with haproxy ------------------------------------------------- */

static void test_agent_traffic_haproxy_current_blue_at_start(void **state)
{
	ts_hx *t = *state;
	agent_traffic *tr = ts_hx_open(&t->cfg);

	assert_string_equal(agent_traffic_name(tr), "haproxy");
	ts_hx_assert_current(tr, "blue");
	ts_hx_assert_version(t, "1");
	agent_traffic_close(tr);
}

static void test_agent_traffic_haproxy_prepare_changes_nothing(void **state)
{
	ts_hx *t = *state;
	agent_traffic *tr = ts_hx_open(&t->cfg);
	char before[256], after[256], err[256];

	ts_hx_states(t, before, sizeof(before));
	assert_non_null(strstr(before, "hello_green:0/5")); /* disabled: FMAINT|CMAINT */
	assert_int_equal(agent_traffic_prepare(tr, "green", err, sizeof(err)), OSP_OK);
	ts_hx_states(t, after, sizeof(after));
	assert_string_equal(before, after);
	ts_hx_assert_version(t, "1");
	ts_hx_assert_current(tr, "blue");
	assert_int_equal(agent_traffic_abort(tr, err, sizeof(err)), OSP_OK);
	ts_hx_assert_version(t, "1");
	/* a server with weight 0 would get nothing: refused before the vote */
	assert_true(ts_hx_admin(t, "set weight hello/hello_green 0", err, sizeof(err)) >= 0);
	assert_int_equal(agent_traffic_prepare(tr, "green", err, sizeof(err)), OSP_ESTATE);
	assert_non_null(strstr(err, "weight 0"));
	agent_traffic_close(tr);
}

static void test_agent_traffic_haproxy_commit_under_load(void **state)
{
	ts_hx *t = *state;
	agent_traffic *tr = ts_hx_open(&t->cfg);
	ts_hx_load *l;
	char err[256];

	assert_int_equal(agent_traffic_prepare(tr, "green", err, sizeof(err)), OSP_OK);
	l = ts_hx_load_start(t, 60, 150);
	ts_hx_commit(tr, "green");
	ts_hx_load_finish(l);
	assert_true(l->seen1 >= 60); /* the switch happened under load */
	assert_true(l->seen2 >= 150);
	ts_hx_assert_version(t, "2");
	ts_hx_assert_current(tr, "green");
	agent_traffic_close(tr);
}

static void test_agent_traffic_haproxy_commit_idempotent(void **state)
{
	ts_hx *t = *state;
	agent_traffic *tr = ts_hx_open(&t->cfg);
	char before[256], after[256];

	ts_hx_commit(tr, "blue"); /* already active */
	ts_hx_assert_current(tr, "blue");
	ts_hx_assert_version(t, "1");
	ts_hx_commit(tr, "green");
	ts_hx_states(t, before, sizeof(before));
	ts_hx_commit(tr, "green");
	ts_hx_states(t, after, sizeof(after));
	assert_string_equal(before, after);
	ts_hx_assert_current(tr, "green");
	ts_hx_assert_version(t, "2");
	ts_hx_commit(tr, "blue"); /* and back: instant rollback */
	ts_hx_assert_current(tr, "blue");
	ts_hx_assert_version(t, "1");
	agent_traffic_close(tr);
}

static void test_agent_traffic_haproxy_bad_backend(void **state)
{
	ts_hx *t = *state;
	agent_proxy_cfg cfg = t->cfg;
	agent_traffic *tr;
	char err[256];

	cfg.backend = "nope";
	tr = ts_hx_open(&cfg);
	assert_int_equal(agent_traffic_prepare(tr, "green", err, sizeof(err)), OSP_EREFUSED);
	assert_non_null(strstr(err, "Can't find backend."));
	assert_non_null(strstr(err, "show servers state nope"));
	assert_int_equal(agent_traffic_commit(tr, "green", err, sizeof(err)), OSP_EREFUSED);
	agent_traffic_close(tr);

	cfg = t->cfg;
	cfg.server_green = "hello_purple";
	tr = ts_hx_open(&cfg);
	assert_int_equal(agent_traffic_prepare(tr, "green", err, sizeof(err)), OSP_ENOENT);
	assert_non_null(strstr(err, "hello_purple"));
	assert_int_equal(agent_traffic_commit(tr, "green", err, sizeof(err)), OSP_ENOENT);
	agent_traffic_close(tr);
	ts_hx_assert_version(t, "1"); /* nothing changed */
}

static void test_agent_traffic_haproxy_socket_missing(void **state)
{
	ts_hx *t = *state;
	agent_proxy_cfg cfg = t->cfg;
	char path[256], err[512], slot[AGENT_TRAFFIC_SLOT_MAX];
	agent_traffic *tr;
	bool re = true;

	ts_hx_path(path, sizeof(path), t, "missing.sock");
	cfg.socket = path;
	tr = ts_hx_open(&cfg);
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

/* ---- tests without haproxy ---------------------------------------------- */

static void test_agent_traffic_haproxy_config_checked(void **state)
{
	agent_proxy_cfg ok = { .socket = "/run/haproxy/admin.sock", .backend = "hello",
		.server_blue = "hello_blue", .server_green = "hello_green" };
	agent_proxy_cfg c;
	agent_traffic *tr = NULL;
	char err[256];

	(void)state;
	tr = ts_hx_open(&ok); /* the driver defaults to haproxy when a socket is set */
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

	tr = ts_hx_open(&ok);
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
	tr = ts_hx_open(NULL); /* no proxy block */
	assert_string_equal(agent_traffic_name(tr), "none");
	ts_hx_assert_current(tr, "");
	assert_int_equal(agent_traffic_prepare(tr, "green", err, sizeof(err)), OSP_OK);
	ts_hx_assert_current(tr, "");
	ts_hx_commit(tr, "green");
	ts_hx_assert_current(tr, "green");
	assert_int_equal(agent_traffic_abort(tr, err, sizeof(err)), OSP_OK);
	assert_int_equal(agent_traffic_watch(tr, "green", &re, err, sizeof(err)), OSP_OK);
	assert_false(re);
	agent_traffic_close(tr);

	tr = ts_hx_open(&c); /* a proxy block without a socket */
	assert_string_equal(agent_traffic_name(tr), "none");
	agent_traffic_close(tr);
	c.driver = "none";
	c.socket = "/ignored";
	tr = ts_hx_open(&c);
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
	tr = ts_hx_open(&c);
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
#define HX(name) cmocka_unit_test_setup_teardown(name, ts_hx_setup, ts_hx_teardown)
	const struct CMUnitTest tests[] = {
		HX(test_agent_traffic_haproxy_current_blue_at_start),
		HX(test_agent_traffic_haproxy_prepare_changes_nothing),
		HX(test_agent_traffic_haproxy_commit_under_load),
		HX(test_agent_traffic_haproxy_commit_idempotent),
		HX(test_agent_traffic_haproxy_bad_backend),
		HX(test_agent_traffic_haproxy_socket_missing),
		cmocka_unit_test(test_agent_traffic_haproxy_config_checked),
		cmocka_unit_test(test_agent_traffic_haproxy_none_driver),
		cmocka_unit_test(test_agent_traffic_haproxy_reply_capped),
		cmocka_unit_test(test_agent_traffic_haproxy_silent_socket_times_out),
	};
#undef HX

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
