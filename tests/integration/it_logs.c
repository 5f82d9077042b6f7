/*
 * it_logs.c - `ospecctl logs NODE APP` end to end (issue 13, protocol 1.4)
 * with a real coordinator, real agents and the sample app (it prints
 * "hello <version> listening on port <port>" on stdout when it starts):
 * the last lines, --json, --follow picking up a new run's line after a
 * second deploy, clear errors (unknown node or app, a node that is down, a
 * usage error) with their exit codes, a node that does not answer (its agent
 * stopped) failing after the wait while the control API goes on answering,
 * and a viewer certificate reading logs over the TLS control endpoint.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "harness.h"
#include "ospec/util.h"

static int it_setup(void **state)
{
	*state = h_setup("logs");
	return *state != NULL ? 0 : -1;
}

static int it_teardown(void **state)
{
	h_teardown(*state);
	return 0;
}

struct it_node_is {
	const char *id;
	const char *state; /* "up" or "down" */
};

static bool it_node_is(h_env *e, void *arg)
{
	struct it_node_is *s = arg;
	osp_json *nodes = h_ctl_json(e, NULL, "nodes", NULL);
	const osp_json *n = h_node(nodes, s->id);
	bool ok = n != NULL && strcmp(h_str(n, "state"), s->state) == 0;

	osp_json_free(nodes);
	return ok;
}

/* What `ospecctl logs ARGS` is expected to print (it_logs_has). */
struct it_logs_want {
	const char *node, *app;
	const char *lines;
	const char *needle; /* on stdout */
};

static bool it_logs_has(h_env *e, void *arg)
{
	struct it_logs_want *w = arg;
	char *out = NULL, *err = NULL;
	int code = h_ctl(e, &out, &err, "logs", w->node, w->app, "--lines", w->lines, NULL);
	bool ok = code == 0 && out != NULL && strstr(out, w->needle) != NULL;

	free(out);
	free(err);
	return ok;
}

/* it_count counts the occurrences of needle in the file at path. */
static int it_count(const char *path, const char *needle)
{
	char buf[65536];
	size_t n;
	int count = 0;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	for (const char *p = strstr(buf, needle); p != NULL; p = strstr(p + 1, needle))
		count++;
	return count;
}

/* it_expect runs ospecctl logs ARGS... and checks its exit code and that
 * stderr holds want. */
static void it_expect(h_env *e, int code, const char *want, const char *a1, const char *a2,
	const char *a3)
{
	char *out = NULL, *err = NULL;
	int got = h_ctl(e, &out, &err, "logs", a1, a2, a3, NULL);

	if (got != code || err == NULL || strstr(err, want) == NULL)
		fail_msg("logs %s %s %s: want exit %d and '%s', got %d: %s", a1 ? a1 : "",
			a2 ? a2 : "", a3 ? a3 : "", code, want, got, err ? err : "");
	free(out);
	free(err);
}

/* it_fleet: a coordinator (heartbeat hb), agents n1 and n2 running the
 * sample app version 1 (ports into ports[2]). */
static void it_fleet(h_env *e, const char *hb, char *const coord_extra[], int ports[2])
{
	struct it_node_is up1 = { "n1", "up" }, up2 = { "n2", "up" };
	char url[600], sha[65], id[64], *err = NULL;

	assert_non_null(h_coord_start(e, hb, coord_extra));
	ports[0] = h_free_port();
	ports[1] = h_free_port();
	assert_non_null(h_agent_start_app(e, "n1", "role=web", "hello", ports[0]));
	assert_non_null(h_agent_start_app(e, "n2", "role=web", "hello", ports[1]));
	assert_true(h_wait_for(it_node_is, e, &up1, h_ms(20000)));
	assert_true(h_wait_for(it_node_is, e, &up2, h_ms(20000)));
	assert_true(h_artifact(e, "1", NULL, url, sha));
	assert_int_equal(h_deploy(e, "1", url, sha, id, &err, "--batch", "100%", "--wait",
				 "--timeout", "120s", NULL),
		0);
	free(err);
}

static void test_logs_read_follow_errors(void **state)
{
	h_env *e = *state;
	int ports[2];
	char needle[128], url[600], sha[65], id[64], *out = NULL, *err = NULL;
	struct it_logs_want w = { "n1", "hello", "5", needle };
	struct it_node_is down2 = { "n2", "down" };
	h_proc *follow, *n2;
	osp_json *j;
	int code;

	it_fleet(e, "500ms", NULL, ports);

	/* the last lines of the app's stdout */
	snprintf(needle, sizeof(needle), "hello 1 listening on port %d\n", ports[0]);
	assert_true(h_wait_for(it_logs_has, e, &w, h_ms(20000)));
	/* --json: the answer document, the slot read and where a follow goes on */
	j = h_ctl_json(e, &code, "logs", "n1", "hello", "--lines", "1", NULL);
	assert_int_equal(code, 0);
	assert_non_null(j);
	assert_string_equal(h_str(j, "node"), "n1");
	assert_string_equal(h_str(j, "slot"), "main");
	assert_non_null(strstr(h_str(j, "stdout"), needle));
	assert_true(osp_json_get_int(j, "stdout_next", 0) >= (int64_t)strlen(needle));
	osp_json_free(j);

	/* clear errors, at once */
	it_expect(e, 4, "ospecctl: node 'nosuch' is not known", "nosuch", "hello", NULL);
	it_expect(e, 4, "node 'n1' reports no app 'nosuch'", "n1", "nosuch", NULL);
	it_expect(e, 2, "ospecctl: logs: expected NODE APP", "n1", NULL, NULL);
	it_expect(e, 2, "--lines: expected 1..1000", "n1", "hello", "--lines=0");

	/* --follow: a second deploy restarts the app, its new line shows up */
	{
		char *argv[] = { (char *)h_bin("ospecctl"), "--coordinator", e->ctl_url, "logs",
			"n1", "hello", "--follow", "--lines", "1", NULL };
		follow = h_spawn(e, "follow", argv);
		assert_non_null(follow);
	}
	assert_true(h_wait_log(follow->log, needle, h_ms(20000)));
	assert_true(h_artifact(e, "2", NULL, url, sha));
	assert_int_equal(h_deploy(e, "2", url, sha, id, &err, "--batch", "100%", "--wait",
				 "--timeout", "120s", NULL),
		0);
	free(err);
	err = NULL;
	snprintf(needle, sizeof(needle), "hello 2 listening on port %d", ports[0]);
	assert_true(h_wait_log(follow->log, needle, h_ms(20000)));
	assert_false(h_file_contains(follow->log, "ospecctl:")); /* no error on the way */
	/* each line once: the follow reads go on after the offsets */
	assert_int_equal(it_count(follow->log, needle), 1);
	snprintf(needle, sizeof(needle), "hello 1 listening on port %d", ports[0]);
	assert_int_equal(it_count(follow->log, needle), 1);
	h_kill(e, follow, SIGKILL);

	/* a node that is down: said at once, exit 1 */
	n2 = h_proc_named(e, "agent-n2");
	assert_non_null(n2);
	h_kill(e, n2, SIGKILL);
	assert_true(h_wait_for(it_node_is, e, &down2, h_ms(20000)));
	code = h_ctl(e, &out, &err, "logs", "n2", "hello", NULL);
	assert_int_equal(code, 1);
	assert_non_null(strstr(err, "ospecctl: node 'n2' is down"));
	free(out);
	free(err);
}

/* it_waiting reports whether the coordinator has a log read waiting. */
static bool it_waiting(h_env *e, void *arg)
{
	osp_json *j = h_ctl_json(e, NULL, "stats", NULL);
	bool ok = j != NULL && osp_json_get_int(j, "log_reads_waiting", 0) >= 1;

	(void)arg;
	osp_json_free(j);
	return ok;
}

/* A node whose agent does not answer (stopped): the read fails after the
 * coordinator's wait, and meanwhile every other control request is served
 * (the read waits without the control thread or the coordinator's lock). */
static void test_logs_no_answer(void **state)
{
	h_env *e = *state;
	int ports[2], status;
	h_proc *n1, *logs;
	int64_t t0;
	char *out = NULL, *err = NULL;

	/* 10 s heartbeats: the stopped node stays "up" for 30 s, longer than the
	 * 10 s a read waits */
	it_fleet(e, "10s", NULL, ports);
	n1 = h_proc_named(e, "agent-n1");
	assert_non_null(n1);
	assert_int_equal(kill(n1->pid, SIGSTOP), 0);
	{
		char *argv[] = { (char *)h_bin("ospecctl"), "--coordinator", e->ctl_url, "logs",
			"n1", "hello", NULL };
		logs = h_spawn(e, "logs-stopped", argv);
		assert_non_null(logs);
	}
	assert_true(h_wait_for(it_waiting, e, NULL, h_ms(8000)));
	t0 = osp_now_mono_ms();
	assert_int_equal(h_ctl(e, &out, &err, "nodes", NULL), 0);
	if (osp_now_mono_ms() - t0 > h_ms(3000))
		fail_msg("nodes took %lld ms while a log read waited",
			(long long)(osp_now_mono_ms() - t0));
	free(out);
	free(err);
	status = h_wait_exit(logs, h_ms(30000));
	assert_true(status >= 0 && WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	assert_true(h_file_contains(logs->log, "ospecctl: node 'n1' did not answer in time"));
	kill(n1->pid, SIGCONT);
	/* the node answers again once it runs */
	{
		char needle[128];
		struct it_logs_want w = { "n1", "hello", "5", needle };
		snprintf(needle, sizeof(needle), "hello 1 listening on port %d", ports[0]);
		assert_true(h_wait_for(it_logs_has, e, &w, h_ms(30000)));
	}
}

/* A viewer certificate may read logs over the TLS control endpoint (logs
 * changes nothing). */
static void test_logs_viewer(void **state)
{
	h_env *e = *state;
	int ports[2];
	char ctl[64], cfg[400], needle[128], *out = NULL, *err = NULL;
	char *extra[] = { "-c", cfg, "--control-tls", ctl, NULL };

	snprintf(ctl, sizeof(ctl), "tls+tcp://127.0.0.1:%d", h_free_port());
	assert_int_equal(h_certs(e, "init", "pki", NULL), 0);
	assert_int_equal(h_certs(e, "issue", "pki", "--coordinator", "127.0.0.1", NULL), 0);
	assert_int_equal(h_certs(e, "issue", "pki", "--viewer", "bob", NULL), 0);
	assert_true(h_tls_yaml(e, "coordinator.yaml", "pki", "pki", "127.0.0.1", NULL, cfg,
		sizeof(cfg)));
	it_fleet(e, "500ms", extra, ports);
	snprintf(needle, sizeof(needle), "hello 1 listening on port %d", ports[1]);
	assert_int_equal(h_ctl_as(e, ctl, "bob", &out, &err, "logs", "n2", "hello", NULL), 0);
	if (out == NULL || strstr(out, needle) == NULL)
		fail_msg("viewer logs: want '%s', got '%s' (stderr '%s')", needle, out ? out : "",
			err ? err : "");
	free(out);
	free(err);
	/* ... and still may not change anything */
	assert_int_equal(h_ctl_as(e, ctl, "bob", &out, &err, "cordon", "n2", NULL), 1);
	assert_non_null(strstr(err, "role 'viewer' may not run 'cordon'"));
	free(out);
	free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_logs_read_follow_errors, it_setup,
			it_teardown),
		cmocka_unit_test_setup_teardown(test_logs_no_answer, it_setup, it_teardown),
		cmocka_unit_test_setup_teardown(test_logs_viewer, it_setup, it_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
