/*
 * test_agent_driver_nginx.c - the nginx traffic driver against a real nginx
 * started by each test with its own prefix, config, pid file and logs under
 * a temp dir, on random loopback ports. The two "slots" are server blocks of
 * the same nginx answering "blue" and "green"; the front proxies to the
 * upstream whose servers the driver's include names, and writes the
 * canary's access log (log_format ospec, docs/drivers.md).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent_traffic.h"
#include "ospec/util.h"
#include "test_support.h"

typedef struct fx {
	char dir[256], conf[300], inc[300], pid[300], log[300];
	unsigned front, port[2];
	pid_t nginx;
	agent_proxy_cfg cfg;
	agent_traffic *t;
	char err[2048];
} fx;

static const char *fx_slot_inc =
	"# ospec-agent: app hello, active slot blue (rewritten by the agent: do not edit)\n"
	"server 127.0.0.1:%u;\n";

/* fx_write_conf writes nginx.conf; extra is appended (to break it). */
static void fx_write_conf(fx *f, const char *extra)
{
	char body[4096];

	snprintf(body, sizeof(body),
		"daemon off;\n%s"
		"worker_processes 1;\n"
		"pid %s;\n"
		"error_log %s/error.log warn;\n"
		"events { worker_connections 256; }\n"
		"http {\n"
		"  access_log off;\n"
		"  log_format ospec '$upstream_addr $upstream_status $upstream_response_time';\n"
		"  client_body_temp_path %s/tmp-body;\n  proxy_temp_path %s/tmp-proxy;\n"
		"  fastcgi_temp_path %s/tmp-fcgi;\n  uwsgi_temp_path %s/tmp-uwsgi;\n"
		"  scgi_temp_path %s/tmp-scgi;\n"
		"  upstream hello { include %s; keepalive 4; }\n"
		"  server { listen 127.0.0.1:%u; access_log %s/ospec.log ospec;\n"
		"    location / { proxy_pass http://hello; "
		"proxy_http_version 1.1; proxy_set_header Connection \"\"; } }\n"
		"  server { listen 127.0.0.1:%u; location / { return 200 \"blue\\n\"; } }\n"
		"  server { listen 127.0.0.1:%u; location / { return 200 \"green\\n\"; } }\n"
		"}\n%s",
		geteuid() == 0 ? "user root;\n" : "", f->pid, f->dir, f->dir, f->dir, f->dir, f->dir,
		f->dir, f->inc, f->front, f->dir, f->port[0], f->port[1], extra);
	assert_int_equal(osp_file_write_atomic(f->conf, body, strlen(body), 0644), OSP_OK);
}

static void fx_nginx_start(fx *f)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		setpgid(0, 0);
		execl("/usr/sbin/nginx", "nginx", "-e", "stderr", "-p", f->dir, "-c", f->conf,
			(char *)NULL);
		_exit(127);
	}
	f->nginx = pid;
	assert_true(ts_wait_answers(f->front, "blue", 10000));
}

static void fx_nginx_stop(fx *f)
{
	if (f->nginx <= 0)
		return;
	kill(-f->nginx, SIGKILL); /* master and workers: their own group */
	while (waitpid(f->nginx, NULL, 0) < 0 && errno == EINTR)
		;
	f->nginx = 0;
	unlink(f->pid);
}

static int fx_setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	char inc[256];

	assert_non_null(f);
	ts_mkdtemp(f->dir, sizeof(f->dir), "/tmp/ospec-drv-nginx-XXXXXX");
	snprintf(f->conf, sizeof(f->conf), "%s/nginx.conf", f->dir);
	snprintf(f->inc, sizeof(f->inc), "%s/hello.upstream", f->dir);
	snprintf(f->pid, sizeof(f->pid), "%s/nginx.pid", f->dir);
	snprintf(f->log, sizeof(f->log), "%s/ospec.log", f->dir);
	f->front = ts_free_port();
	f->port[0] = ts_free_port();
	do
		f->port[1] = ts_free_port();
	while (f->port[1] == f->port[0] || f->port[1] == f->front);
	snprintf(inc, sizeof(inc), fx_slot_inc, f->port[0]);
	assert_int_equal(osp_file_write_atomic(f->inc, inc, strlen(inc), 0644), OSP_OK);
	fx_write_conf(f, "");
	f->cfg.driver = "nginx";
	f->cfg.nginx_conf = f->conf;
	f->cfg.nginx_prefix = f->dir;
	f->cfg.nginx_upstream_file = f->inc;
	*state = f;
	fx_nginx_start(f);
	assert_int_equal(agent_traffic_open(&f->cfg, &f->t, f->err, sizeof(f->err)), OSP_OK);
	agent_traffic_set_app(f->t, "hello", f->port[0], f->port[1]);
	return 0;
}

static int fx_teardown(void **state)
{
	fx *f = *state;

	fx_nginx_stop(f);
	agent_traffic_close(f->t);
	ts_rmtree(f->dir);
	free(f);
	return 0;
}

static void fx_assert_inc(fx *f, const char *slot, unsigned port)
{
	char *data = NULL, want[64];
	size_t len;

	assert_int_equal(osp_file_read(f->inc, 65536, &data, &len), OSP_OK);
	snprintf(want, sizeof(want), "active slot %s ", slot);
	ts_assert_has(data, want);
	snprintf(want, sizeof(want), "\nserver 127.0.0.1:%u;\n", port);
	ts_assert_has(data, want);
	free(data);
}

static void test_agent_driver_nginx_switch(void **state)
{
	fx *f = *state;
	char slot[AGENT_TRAFFIC_SLOT_MAX], tmp[400];

	assert_int_equal(agent_traffic_current(f->t, slot, sizeof(slot), f->err, sizeof(f->err)),
		OSP_OK);
	assert_string_equal(slot, "blue");
	/* prepare changes nothing nginx reads; abort drops the candidate */
	assert_int_equal(agent_traffic_prepare(f->t, "green", f->err, sizeof(f->err)), OSP_OK);
	fx_assert_inc(f, "blue", f->port[0]);
	snprintf(tmp, sizeof(tmp), "%s/.hello.upstream.ospec-new", f->dir);
	assert_int_equal(access(tmp, F_OK), 0);
	assert_int_equal(agent_traffic_abort(f->t, f->err, sizeof(f->err)), OSP_OK);
	assert_int_equal(access(tmp, F_OK), -1);
	ts_assert_answers(f->front, "blue");
	/* commit: the include, a reload, and the front answers green */
	assert_int_equal(agent_traffic_prepare(f->t, "green", f->err, sizeof(f->err)), OSP_OK);
	assert_int_equal(agent_traffic_commit(f->t, "green", f->err, sizeof(f->err)), OSP_OK);
	fx_assert_inc(f, "green", f->port[1]);
	ts_assert_answers(f->front, "green"); /* at once: the commit waited for the reload */
	assert_int_equal(agent_traffic_current(f->t, slot, sizeof(slot), f->err, sizeof(f->err)),
		OSP_OK);
	assert_string_equal(slot, "green");
	/* idempotent, and back */
	assert_int_equal(agent_traffic_commit(f->t, "green", f->err, sizeof(f->err)), OSP_OK);
	assert_int_equal(agent_traffic_commit(f->t, "blue", f->err, sizeof(f->err)), OSP_OK);
	ts_assert_answers(f->front, "blue");
}

static void test_agent_driver_nginx_refused(void **state)
{
	fx *f = *state;

	/* the running nginx is fine, the config on disk is not */
	fx_write_conf(f, "bogus_directive_of_ospec_test on;\n");
	assert_int_equal(agent_traffic_prepare(f->t, "green", f->err, sizeof(f->err)),
		OSP_EREFUSED);
	ts_assert_has(f->err, "bogus_directive_of_ospec_test");
	assert_int_equal(agent_traffic_commit(f->t, "green", f->err, sizeof(f->err)),
		OSP_EREFUSED);
	ts_assert_has(f->err, "nginx -t failed");
	ts_assert_has(f->err, "unknown directive");
	fx_assert_inc(f, "blue", f->port[0]); /* put back */
	ts_assert_answers(f->front, "blue");
}

static void test_agent_driver_nginx_watch(void **state)
{
	fx *f = *state;
	char inc[256];
	bool again = true;

	assert_int_equal(agent_traffic_commit(f->t, "green", f->err, sizeof(f->err)), OSP_OK);
	assert_int_equal(agent_traffic_watch(f->t, "green", &again, f->err, sizeof(f->err)), OSP_OK);
	assert_false(again);
	/* drift: the include edited by hand (and nginx reloaded with it) */
	snprintf(inc, sizeof(inc), fx_slot_inc, f->port[0]);
	assert_int_equal(osp_file_write_atomic(f->inc, inc, strlen(inc), 0644), OSP_OK);
	assert_int_equal(agent_traffic_watch(f->t, "green", &again, f->err, sizeof(f->err)), OSP_OK);
	assert_true(again);
	fx_assert_inc(f, "green", f->port[1]);
	assert_true(ts_wait_answers(f->front, "green", 5000));
	/* a restarted nginx: another master pid */
	fx_nginx_stop(f);
	assert_int_equal(agent_traffic_watch(f->t, "green", &again, f->err, sizeof(f->err)), OSP_ENOENT);
	ts_assert_has(f->err, "is nginx running?");
	f->nginx = fork();
	if (f->nginx == 0) {
		setpgid(0, 0);
		execl("/usr/sbin/nginx", "nginx", "-e", "stderr", "-p", f->dir, "-c", f->conf,
			(char *)NULL);
		_exit(127);
	}
	assert_true(ts_wait_answers(f->front, "green", 10000));
	assert_int_equal(agent_traffic_watch(f->t, "green", &again, f->err, sizeof(f->err)), OSP_OK);
	assert_true(again);
}

static void test_agent_driver_nginx_config(void **state)
{
	fx *f = *state;
	agent_proxy_cfg c = f->cfg;
	agent_traffic *t = NULL;

	c.nginx_conf = NULL;
	assert_int_equal(agent_traffic_open(&c, &t, f->err, sizeof(f->err)), OSP_ECONFIG);
	ts_assert_has(f->err, "proxy.nginx.conf: required");
	c.nginx_conf = f->conf;
	c.nginx_upstream_file = "hello.upstream";
	assert_int_equal(agent_traffic_open(&c, &t, f->err, sizeof(f->err)), OSP_ECONFIG);
	ts_assert_has(f->err, "proxy.nginx.upstream_file: expected an absolute path");
	c.nginx_upstream_file = f->inc;
	c.nginx_binary = "/nonexistent/nginx";
	assert_int_equal(agent_traffic_open(&c, &t, f->err, sizeof(f->err)), OSP_ECONFIG);
	ts_assert_has(f->err, "not an executable file");
	assert_null(t);
	/* a port the driver was not told is an error, not a broken include */
	agent_traffic_set_app(f->t, "hello", f->port[0], 0);
	assert_int_equal(agent_traffic_commit(f->t, "green", f->err, sizeof(f->err)), OSP_ECONFIG);
	ts_assert_has(f->err, "port of slot 'green'");
	fx_assert_inc(f, "blue", f->port[0]);
}

/* count_front sends n requests through the front: [0] blue, [1] green, [2] other. */
static void count_front(fx *f, int n, int c[3])
{
	char body[256];

	c[0] = c[1] = c[2] = 0;
	for (int i = 0; i < n; i++) {
		bool ok = ts_http_get(f->front, body, sizeof(body));
		c[!ok ? 2 : strcmp(body, "blue") == 0 ? 0 : strcmp(body, "green") == 0 ? 1 : 2]++;
	}
}

/* wait_only waits (up to 10 s: the reload is asynchronous) until 10
 * requests in a row reach slot idx alone. */
static bool wait_only(fx *f, int idx)
{
	int c[3];

	for (int64_t until = osp_now_mono_ms() + 10000; osp_now_mono_ms() < until;) {
		count_front(f, 10, c);
		if (c[idx] == 10)
			return true;
	}
	return false;
}

static void fx_read_inc(fx *f, char **data)
{
	size_t len;

	assert_int_equal(osp_file_read(f->inc, 65536, data, &len), OSP_OK);
}

static void test_agent_driver_nginx_weight(void **state)
{
	fx *f = *state;
	char want[128], slot[AGENT_TRAFFIC_SLOT_MAX], *data = NULL, *plain = NULL;
	int c[3];

	assert_int_equal(agent_traffic_commit(f->t, "blue", f->err, sizeof(f->err)), OSP_OK);
	fx_read_inc(f, &plain);
	assert_int_equal(agent_traffic_weight(f->t, "blue", "green", 10, f->err, sizeof(f->err)),
		OSP_OK);
	fx_read_inc(f, &data);
	snprintf(want, sizeof(want), "\nserver 127.0.0.1:%u weight=90;\n", f->port[0]);
	ts_assert_has(data, want);
	snprintf(want, sizeof(want), "\nserver 127.0.0.1:%u weight=10;\n", f->port[1]);
	ts_assert_has(data, want);
	free(data);
	assert_int_equal(agent_traffic_current(f->t, slot, sizeof(slot), f->err, sizeof(f->err)),
		OSP_OK);
	assert_string_equal(slot, ""); /* both serve */
	/* the reload is asynchronous (old workers finish their connections): a
	 * round of 50 requests must come to about 10% green within 10 s */
	c[1] = -1;
	for (int64_t until = osp_now_mono_ms() + 10000;
		osp_now_mono_ms() < until && !(c[1] >= 3 && c[1] <= 8);)
		count_front(f, 50, c);
	assert_in_range(c[1], 3, 8);
	assert_int_equal(c[2], 0);
	/* the same weight again: the file is as wanted, nothing reloads */
	assert_int_equal(agent_traffic_weight(f->t, "blue", "green", 10, f->err, sizeof(f->err)),
		OSP_OK);
	/* 100: the canary alone (nginx weights are >= 1) */
	assert_int_equal(agent_traffic_weight(f->t, "blue", "green", 100, f->err, sizeof(f->err)),
		OSP_OK);
	fx_read_inc(f, &data);
	snprintf(want, sizeof(want), "127.0.0.1:%u", f->port[0]);
	assert_null(strstr(data, want));
	free(data);
	assert_true(wait_only(f, 1));
	/* 0: exactly the include of a plain commit of the active slot */
	assert_int_equal(agent_traffic_weight(f->t, "blue", "green", 0, f->err, sizeof(f->err)),
		OSP_OK);
	fx_read_inc(f, &data);
	assert_string_equal(data, plain);
	free(data);
	free(plain);
	assert_true(wait_only(f, 0));
}

static void test_agent_driver_nginx_stats_live(void **state)
{
	fx *f = *state;
	agent_traffic_slot_stats g0, g1, b1;
	agent_traffic *t = NULL;
	agent_proxy_cfg cfg = f->cfg;
	int c[3];

	/* without access_log: a clear error */
	assert_int_equal(agent_traffic_stats(f->t, "green", &g0, f->err, sizeof(f->err)),
		OSP_ESTATE);
	ts_assert_has(f->err, "no access_log configured for app hello");
	cfg.nginx_access_log = f->log;
	assert_int_equal(agent_traffic_open(&cfg, &t, f->err, sizeof(f->err)), OSP_OK);
	agent_traffic_set_app(t, "hello", f->port[0], f->port[1]);
	assert_int_equal(agent_traffic_weight(t, "blue", "green", 50, f->err, sizeof(f->err)),
		OSP_OK);
	c[1] = 0; /* the reload is asynchronous: until the new workers serve */
	for (int64_t until = osp_now_mono_ms() + 10000; osp_now_mono_ms() < until && c[1] < 4;)
		count_front(f, 10, c);
	osp_sleep_ms(200); /* the last of those requests logged */
	assert_int_equal(agent_traffic_stats(t, "green", &g0, f->err, sizeof(f->err)), OSP_OK);
	assert_int_equal(g0.weight, 50);
	assert_true(g0.proxy_start > 0);
	count_front(f, 30, c);
	assert_int_equal(c[2], 0);
	assert_true(c[1] > 5);
	/* nginx logs a request just after its answer: wait for the last lines */
	for (int64_t until = osp_now_mono_ms() + 5000;; osp_sleep_ms(20)) {
		assert_int_equal(agent_traffic_stats(t, "green", &g1, f->err, sizeof(f->err)),
			OSP_OK);
		if (g1.requests - g0.requests >= (uint64_t)c[1] || osp_now_mono_ms() > until)
			break;
	}
	assert_int_equal(agent_traffic_stats(t, "blue", &b1, f->err, sizeof(f->err)), OSP_OK);
	assert_int_equal(g1.requests - g0.requests, (uint64_t)c[1]);
	assert_true(b1.requests >= (uint64_t)c[0]);
	assert_int_equal(g1.errors, 0);
	assert_true(g1.has_rtime);
	agent_traffic_close(t);
}

static void append(const char *path, const char *text, bool truncate)
{
	FILE *fp = fopen(path, truncate ? "w" : "a");

	assert_non_null(fp);
	assert_true(fputs(text, fp) >= 0);
	assert_int_equal(fclose(fp), 0);
}

/* The lines already in the log when the driver first reads it (an agent
 * restarted mid-canary: the previous release's traffic on the same port) are
 * not counted; what comes after is. */
static void test_agent_driver_nginx_stats_log_history(void **state)
{
	fx *f = *state;
	agent_traffic_slot_stats g;
	agent_traffic *t = NULL;
	agent_proxy_cfg cfg = f->cfg;
	char path[400], text[256];
	unsigned G = f->port[1];

	snprintf(path, sizeof(path), "%s/old.log", f->dir);
	snprintf(text, sizeof(text), "127.0.0.1:%u 500 0.001\n127.0.0.1:%u 500 0.001\n", G, G);
	append(path, text, true);
	cfg.nginx_access_log = path;
	assert_int_equal(agent_traffic_open(&cfg, &t, f->err, sizeof(f->err)), OSP_OK);
	agent_traffic_set_app(t, "hello", f->port[0], G);
	assert_int_equal(agent_traffic_stats(t, "green", &g, f->err, sizeof(f->err)), OSP_OK);
	assert_int_equal(g.requests, 0);
	snprintf(text, sizeof(text), "127.0.0.1:%u 200 0.002\n", G);
	append(path, text, false);
	assert_int_equal(agent_traffic_stats(t, "green", &g, f->err, sizeof(f->err)), OSP_OK);
	assert_int_equal(g.requests, 1);
	assert_int_equal(g.errors, 0);
	agent_traffic_close(t);
}

static void test_agent_driver_nginx_stats_log_parsing(void **state)
{
	fx *f = *state;
	agent_traffic_slot_stats g, b;
	agent_traffic *t = NULL;
	agent_proxy_cfg cfg = f->cfg;
	char path[400], text[1024];
	unsigned B = f->port[0], G = f->port[1];

	snprintf(path, sizeof(path), "%s/hand.log", f->dir);
	cfg.nginx_access_log = path;
	assert_int_equal(agent_traffic_open(&cfg, &t, f->err, sizeof(f->err)), OSP_OK);
	agent_traffic_set_app(t, "hello", B, G);
	assert_int_equal(agent_traffic_stats(t, "green", &g, f->err, sizeof(f->err)), OSP_ENOENT);
	ts_assert_has(f->err, "hand.log");
	snprintf(text, sizeof(text),
		"127.0.0.1:%u 200 0.010\n"
		"127.0.0.1:%u 200 0.020\n"
		"127.0.0.1:%u 502 0.001\n"
		"127.0.0.1:%u, 127.0.0.1:%u 502, 200 0.001, 0.030\n"
		"127.0.0.1:%u - -\n"
		"garbage line\n"
		"- 200 -\n"
		"127.0.0.1:%u9 200 0.001\n"
		"127.0.0.1:%u 200 0.0",
		B, G, G, B, G, G, G, G);
	append(path, text, true);
	assert_int_equal(agent_traffic_stats(t, "green", &g, f->err, sizeof(f->err)), OSP_OK);
	assert_int_equal(agent_traffic_stats(t, "blue", &b, f->err, sizeof(f->err)), OSP_OK);
	assert_int_equal(g.requests, 4); /* the retried one counts for its last upstream */
	assert_int_equal(g.errors, 2);   /* 502 and "-" */
	assert_true(g.has_rtime);
	assert_int_equal(g.rtime_ms, (20 + 1 + 30) / 3);
	assert_int_equal(b.requests, 1);
	assert_int_equal(b.errors, 0);
	assert_int_equal(b.rtime_ms, 10);
	/* the partial last line counts once nginx finished writing it */
	append(path, "50\n", false);
	assert_int_equal(agent_traffic_stats(t, "green", &g, f->err, sizeof(f->err)), OSP_OK);
	assert_int_equal(g.requests, 5);
	assert_int_equal(g.rtime_ms, (20 + 1 + 30 + 50) / 4);
	/* read again: nothing new, the counters stay (cumulative) */
	assert_int_equal(agent_traffic_stats(t, "green", &g, f->err, sizeof(f->err)), OSP_OK);
	assert_int_equal(g.requests, 5);
	/* rotated (a shorter file): read from its start */
	snprintf(text, sizeof(text), "127.0.0.1:%u 500 0.005\n", G);
	append(path, text, true);
	assert_int_equal(agent_traffic_stats(t, "green", &g, f->err, sizeof(f->err)), OSP_OK);
	assert_int_equal(g.requests, 6);
	assert_int_equal(g.errors, 3);
	agent_traffic_close(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_agent_driver_nginx_switch, fx_setup,
			fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_driver_nginx_refused, fx_setup,
			fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_driver_nginx_watch, fx_setup,
			fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_driver_nginx_config, fx_setup,
			fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_driver_nginx_weight, fx_setup,
			fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_driver_nginx_stats_live, fx_setup,
			fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_driver_nginx_stats_log_history, fx_setup,
			fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_driver_nginx_stats_log_parsing, fx_setup,
			fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
