/*
 * test_agent_driver_exec.c - the exec traffic driver against real shell
 * scripts written by each test: success and its environment, a non-zero
 * exit with its stderr in the error, the timeout kill of the whole process
 * group, the read-back and watch through a `current` script, config errors,
 * the canary's weight and stats scripts.
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
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent_traffic.h"
#include "ospec/util.h"
#include "test_support.h"

typedef struct fx {
	char dir[256];
	char state[300];
	agent_proxy_cfg cfg;
	agent_traffic *t;
	char err[1024];
} fx;

/* fx_script writes DIR/name with body after a /bin/sh line, mode 0755,
 * and returns its path (static per name slot). */
static char *fx_script(fx *f, const char *name, const char *body)
{
	char path[400], text[2048];

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	snprintf(text, sizeof(text), "#!/bin/sh\n%s\n", body);
	assert_int_equal(osp_file_write_atomic(path, text, strlen(text), 0755), OSP_OK);
	assert_int_equal(chmod(path, 0755), 0);
	return strdup(path);
}

static int fx_setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	char body[1024];

	assert_non_null(f);
	ts_mkdtemp(f->dir, sizeof(f->dir), "/tmp/ospec-drv-exec-XXXXXX");
	snprintf(f->state, sizeof(f->state), "%s/active", f->dir);
	/* commit records its whole view of the change, then switches the state */
	snprintf(body, sizeof(body),
		"env | sort > \"%s/env.$OSPEC_PHASE\"\n"
		"echo \"$1\" > \"%s/arg.$OSPEC_PHASE\"\n"
		"echo \"$OSPEC_TO_SLOT\" > '%s'\n",
		f->dir, f->dir, f->state);
	f->cfg.driver = "exec";
	f->cfg.exec_commit = fx_script(f, "commit.sh", body);
	snprintf(body, sizeof(body), "env | sort > \"%s/env.$OSPEC_PHASE\"", f->dir);
	f->cfg.exec_prepare = fx_script(f, "prepare.sh", body);
	f->cfg.exec_abort = fx_script(f, "abort.sh", body);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	fx *f = *state;

	agent_traffic_close(f->t);
	free(f->cfg.exec_commit);
	free(f->cfg.exec_prepare);
	free(f->cfg.exec_abort);
	free(f->cfg.exec_current);
	free(f->cfg.exec_weight);
	free(f->cfg.exec_stats);
	ts_rmtree(f->dir);
	free(f);
	return 0;
}

static void fx_open(fx *f)
{
	assert_int_equal(agent_traffic_open(&f->cfg, &f->t, f->err, sizeof(f->err)), OSP_OK);
	assert_string_equal(agent_traffic_name(f->t), "exec");
	agent_traffic_set_app(f->t, "hello", 18081, 18082);
}

static void fx_assert_file_has(fx *f, const char *name, const char *needle)
{
	char path[400], *data = NULL;
	size_t len;

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	assert_int_equal(osp_file_read(path, 65536, &data, &len), OSP_OK);
	ts_assert_has(data, needle);
	free(data);
}

static void test_agent_driver_exec_commit_env(void **state)
{
	fx *f = *state;
	char slot[AGENT_TRAFFIC_SLOT_MAX];

	fx_open(f);
	assert_int_equal(agent_traffic_prepare(f->t, "green", f->err, sizeof(f->err)), OSP_OK);
	fx_assert_file_has(f, "env.prepare", "OSPEC_PHASE=prepare\n");
	assert_int_equal(agent_traffic_commit(f->t, "green", f->err, sizeof(f->err)), OSP_OK);
	fx_assert_file_has(f, "active", "green\n");
	fx_assert_file_has(f, "arg.commit", "commit\n");
	fx_assert_file_has(f, "env.commit", "OSPEC_APP=hello\n");
	fx_assert_file_has(f, "env.commit", "OSPEC_FROM_PORT=18081\n");
	fx_assert_file_has(f, "env.commit", "OSPEC_FROM_SLOT=blue\n");
	fx_assert_file_has(f, "env.commit", "OSPEC_PHASE=commit\n");
	fx_assert_file_has(f, "env.commit", "OSPEC_TO_PORT=18082\n");
	fx_assert_file_has(f, "env.commit", "OSPEC_TO_SLOT=green\n");
	fx_assert_file_has(f, "env.commit", "PATH=/usr/local/bin:/usr/bin:/bin\n");
	/* without a current script: the slot last committed */
	assert_int_equal(agent_traffic_current(f->t, slot, sizeof(slot), f->err, sizeof(f->err)),
		OSP_OK);
	assert_string_equal(slot, "green");
	/* abort names the slot that was prepared */
	assert_int_equal(agent_traffic_prepare(f->t, "blue", f->err, sizeof(f->err)), OSP_OK);
	assert_int_equal(agent_traffic_abort(f->t, f->err, sizeof(f->err)), OSP_OK);
	fx_assert_file_has(f, "env.abort", "OSPEC_PHASE=abort\n");
	fx_assert_file_has(f, "env.abort", "OSPEC_TO_SLOT=blue\n");
	fx_assert_file_has(f, "active", "green\n");
}

static void test_agent_driver_exec_exit_code(void **state)
{
	fx *f = *state;

	free(f->cfg.exec_prepare);
	f->cfg.exec_prepare = fx_script(f, "prepare.sh",
		"echo 'some output'\necho \"backend $OSPEC_TO_SLOT is not registered\" >&2\nexit 3");
	fx_open(f);
	assert_int_equal(agent_traffic_prepare(f->t, "green", f->err, sizeof(f->err)),
		OSP_EREFUSED);
	ts_assert_has(f->err, "prepare.sh' exited 3");
	ts_assert_has(f->err, "backend green is not registered");
}

/* fx_alive: pid exists and is not a zombie */
static bool fx_alive(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *fp;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fp = fopen(path, "r");
	if (fp == NULL)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p != NULL && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

static void test_agent_driver_exec_timeout(void **state)
{
	fx *f = *state;
	char body[512], path[400], *data = NULL;
	size_t len;
	int64_t t0;
	long bg;

	snprintf(body, sizeof(body), "sleep 30 &\necho $! > '%s/bg.pid'\necho stuck >&2\nsleep 30",
		f->dir);
	free(f->cfg.exec_commit);
	f->cfg.exec_commit = fx_script(f, "commit.sh", body);
	f->cfg.exec_timeout = 500;
	fx_open(f);
	t0 = osp_now_mono_ms();
	assert_int_equal(agent_traffic_commit(f->t, "green", f->err, sizeof(f->err)),
		OSP_ETIMEDOUT);
	assert_true(osp_now_mono_ms() - t0 < 5000);
	ts_assert_has(f->err, "timed out (killed)");
	ts_assert_has(f->err, "stuck");
	/* the script's background child went with it: the group was killed */
	snprintf(path, sizeof(path), "%s/bg.pid", f->dir);
	assert_int_equal(osp_file_read(path, 64, &data, &len), OSP_OK);
	bg = strtol(data, NULL, 10);
	free(data);
	assert_true(bg > 0);
	/* gone, or a zombie until its new parent reaps it */
	for (int i = 0; i < 50 && fx_alive((pid_t)bg); i++)
		osp_sleep_ms(20);
	assert_false(fx_alive((pid_t)bg));
}

static void test_agent_driver_exec_current_watch(void **state)
{
	fx *f = *state;
	char body[512], slot[AGENT_TRAFFIC_SLOT_MAX];
	bool again = true;

	snprintf(body, sizeof(body), "cat '%s' 2>/dev/null; exit 0", f->state);
	f->cfg.exec_current = fx_script(f, "current.sh", body);
	fx_open(f);
	assert_int_equal(agent_traffic_commit(f->t, "blue", f->err, sizeof(f->err)), OSP_OK);
	assert_int_equal(agent_traffic_current(f->t, slot, sizeof(slot), f->err, sizeof(f->err)),
		OSP_OK);
	assert_string_equal(slot, "blue");
	assert_int_equal(agent_traffic_watch(f->t, "blue", &again, f->err, sizeof(f->err)), OSP_OK);
	assert_false(again);
	/* somebody switched by hand: watch switches back */
	assert_int_equal(osp_file_write_atomic(f->state, "green\n", 6, 0644), OSP_OK);
	assert_int_equal(agent_traffic_watch(f->t, "blue", &again, f->err, sizeof(f->err)), OSP_OK);
	assert_true(again);
	fx_assert_file_has(f, "active", "blue\n");
	/* a current script that prints nonsense is an error, not a slot */
	assert_int_equal(osp_file_write_atomic(f->state, "purple\n", 7, 0644), OSP_OK);
	assert_int_equal(agent_traffic_current(f->t, slot, sizeof(slot), f->err, sizeof(f->err)),
		OSP_EDECODE);
	ts_assert_has(f->err, "purple");
}

static void test_agent_driver_exec_readback(void **state)
{
	fx *f = *state;

	f->cfg.exec_current = fx_script(f, "current.sh", "echo blue");
	fx_open(f);
	assert_int_equal(agent_traffic_commit(f->t, "green", f->err, sizeof(f->err)), OSP_EIO);
	ts_assert_has(f->err, "read-back");
}

static void test_agent_driver_exec_config(void **state)
{
	fx *f = *state;
	char *commit = f->cfg.exec_commit;

	f->cfg.exec_commit = NULL;
	assert_int_equal(agent_traffic_open(&f->cfg, &f->t, f->err, sizeof(f->err)), OSP_ECONFIG);
	ts_assert_has(f->err, "proxy.exec.commit: required");
	f->cfg.exec_commit = "bin/commit.sh";
	assert_int_equal(agent_traffic_open(&f->cfg, &f->t, f->err, sizeof(f->err)), OSP_ECONFIG);
	ts_assert_has(f->err, "absolute path");
	f->cfg.exec_commit = "/nonexistent/commit.sh";
	assert_int_equal(agent_traffic_open(&f->cfg, &f->t, f->err, sizeof(f->err)), OSP_ECONFIG);
	ts_assert_has(f->err, "not an executable file");
	f->cfg.exec_commit = commit;
	assert_null(f->t);
}

static void test_agent_driver_exec_weight(void **state)
{
	fx *f = *state;
	char body[512];

	/* no weight script: a canary is refused with a clear error */
	fx_open(f);
	assert_int_equal(agent_traffic_weight(f->t, "blue", "green", 10, f->err, sizeof(f->err)),
		OSP_ESTATE);
	ts_assert_has(f->err, "proxy driver exec has no weight script");
	/* weight 0 without one is a plain commit of the active slot */
	assert_int_equal(agent_traffic_weight(f->t, "blue", "green", 0, f->err, sizeof(f->err)),
		OSP_OK);
	fx_assert_file_has(f, "active", "blue\n");
	agent_traffic_close(f->t);
	f->t = NULL;
	/* with one: its environment, and it runs again only when the weight changes */
	snprintf(body, sizeof(body),
		"env | sort > \"%s/env.$OSPEC_PHASE\"\necho \"$OSPEC_WEIGHT\" >> '%s/weights'",
		f->dir, f->dir);
	f->cfg.exec_weight = fx_script(f, "weight.sh", body);
	fx_open(f);
	assert_int_equal(agent_traffic_weight(f->t, "blue", "green", 10, f->err, sizeof(f->err)),
		OSP_OK);
	fx_assert_file_has(f, "env.weight", "OSPEC_PHASE=weight\n");
	fx_assert_file_has(f, "env.weight", "OSPEC_WEIGHT=10\n");
	fx_assert_file_has(f, "env.weight", "OSPEC_CANARY_SLOT=green\n");
	fx_assert_file_has(f, "env.weight", "OSPEC_ACTIVE_SLOT=blue\n");
	fx_assert_file_has(f, "env.weight", "OSPEC_CANARY_PORT=18082\n");
	fx_assert_file_has(f, "env.weight", "OSPEC_ACTIVE_PORT=18081\n");
	fx_assert_file_has(f, "env.weight", "OSPEC_TO_SLOT=green\n");
	fx_assert_file_has(f, "env.weight", "OSPEC_APP=hello\n");
	assert_int_equal(agent_traffic_weight(f->t, "blue", "green", 10, f->err, sizeof(f->err)),
		OSP_OK);
	assert_int_equal(agent_traffic_weight(f->t, "blue", "green", 20, f->err, sizeof(f->err)),
		OSP_OK);
	assert_int_equal(agent_traffic_weight(f->t, "blue", "green", 0, f->err, sizeof(f->err)),
		OSP_OK);
	fx_assert_file_has(f, "weights", "10\n20\n0\n"); /* the repeated 10 did not run */
	/* a failing script fails the weight */
	free(f->cfg.exec_weight);
	f->cfg.exec_weight = fx_script(f, "weight.sh", "echo 'lb said no' >&2; exit 2");
	agent_traffic_close(f->t);
	f->t = NULL;
	fx_open(f);
	assert_int_equal(agent_traffic_weight(f->t, "blue", "green", 30, f->err, sizeof(f->err)),
		OSP_EREFUSED);
	ts_assert_has(f->err, "lb said no");
}

/* stats_of writes a stats script printing out and reads the counters. */
static osp_err stats_of(fx *f, const char *out, agent_traffic_slot_stats *st)
{
	char body[512];

	snprintf(body, sizeof(body), "env | sort > \"%s/env.$OSPEC_PHASE\"\nprintf '%s'", f->dir,
		out);
	free(f->cfg.exec_stats);
	f->cfg.exec_stats = fx_script(f, "stats.sh", body);
	agent_traffic_close(f->t); /* the driver reads its config at open */
	f->t = NULL;
	fx_open(f);
	return agent_traffic_stats(f->t, "green", st, f->err, sizeof(f->err));
}

static void test_agent_driver_exec_stats(void **state)
{
	fx *f = *state;
	agent_traffic_slot_stats st;
	static const char *const bad[] = { "", "requests=10\n", "requests=10 errors=x\n",
		"requests=10 errors=1 errors=2\n", "requests=10  errors=1\n",
		"requests=10 errors=1 p95=3\n", "requests=10 errors=1\nmore\n",
		"requests=-1 errors=0\n", "requests=1 errors=5\n", "ok\n" };

	fx_open(f);
	assert_int_equal(agent_traffic_stats(f->t, "green", &st, f->err, sizeof(f->err)),
		OSP_ESTATE);
	ts_assert_has(f->err, "proxy driver exec has no stats script");
	assert_int_equal(stats_of(f, "requests=120 errors=3 rtime_ms=42\\n", &st), OSP_OK);
	assert_int_equal(st.requests, 120);
	assert_int_equal(st.errors, 3);
	assert_true(st.has_rtime);
	assert_int_equal(st.rtime_ms, 42);
	fx_assert_file_has(f, "env.stats", "OSPEC_SLOT=green\n");
	fx_assert_file_has(f, "env.stats", "OSPEC_PORT=18082\n");
	assert_int_equal(stats_of(f, "errors=0 requests=7", &st), OSP_OK);
	assert_int_equal(st.requests, 7);
	assert_false(st.has_rtime);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char out[128];
		size_t o = 0;
		/* printf's format: a newline as \\n */
		for (const char *p = bad[i]; *p != '\0' && o + 3 < sizeof(out); p++) {
			if (*p == '\n') {
				out[o++] = '\\';
				out[o++] = 'n';
			} else {
				out[o++] = *p;
			}
		}
		out[o] = '\0';
		if (stats_of(f, out, &st) != OSP_EDECODE)
			fail_msg("stats output \"%s\" was accepted", out);
		ts_assert_has(f->err, "expected one line");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_agent_driver_exec_commit_env, fx_setup,
			fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_driver_exec_exit_code, fx_setup,
			fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_driver_exec_timeout, fx_setup,
			fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_driver_exec_current_watch, fx_setup,
			fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_driver_exec_readback, fx_setup,
			fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_driver_exec_config, fx_setup,
			fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_driver_exec_weight, fx_setup,
			fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_driver_exec_stats, fx_setup,
			fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
