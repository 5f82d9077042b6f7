/*
 * test_agent_hooks.c - an app's hooks (node-agent/agent_hooks.c): real
 * scripts written into a temp dir and run as the agent runs them: the
 * environment they see (and what they do not inherit), the working
 * directory, the exit code and output tail in the reason, the env file's
 * values redacted from it, the timeout killing the whole process group, a
 * hook that cannot run, and the config block (relative paths refused).
 */
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

#include "agent.h"
#include "agent_hooks.h"
#include "ospec/util.h"
#include "test_support.h"

#define HK_SECRET "hunter2-5f1e-NEVER-IN-A-REASON"

struct hk_fx {
	char dir[64];
	char rel[128];  /* the "release dir": the hooks' cwd */
	char env[128];  /* the app's env file */
	char script[128];
	char msg[8192];
	agent_app_cfg ac;
	agent_hook_env he;
};

static int hk_setup(void **state)
{
	struct hk_fx *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	ts_mkdtemp(x->dir, sizeof(x->dir), "/tmp/ospec-agent-hooks-XXXXXX");
	snprintf(x->rel, sizeof(x->rel), "%s/release", x->dir);
	assert_int_equal(mkdir(x->rel, 0755), 0);
	snprintf(x->env, sizeof(x->env), "%s/app.env", x->dir);
	snprintf(x->script, sizeof(x->script), "%s/hook", x->dir);
	osp_strlcpy(x->ac.name, "web", sizeof(x->ac.name));
	x->he = (agent_hook_env){ .app = "web", .node = "n1", .version = "2.0.1",
		.sha256 = "ab12", .previous_version = "2.0.0", .release_dir = x->rel,
		.slot = "main", .port = 8080, .rollout = "r-42" };
	*state = x;
	return 0;
}

static int hk_teardown(void **state)
{
	struct hk_fx *x = *state;

	agent_hooks_cfg_free(&x->ac.hooks);
	ts_rmtree(x->dir);
	free(x);
	return 0;
}

/* hk_script writes body (after "#!/bin/sh\n") as the executable hook k. */
static void hk_script(struct hk_fx *x, agent_hook_kind k, const char *body, mode_t mode)
{
	char text[2048];
	int n = snprintf(text, sizeof(text), "#!/bin/sh\n%s", body);

	assert_true(n > 0 && (size_t)n < sizeof(text));
	assert_int_equal(osp_file_write_atomic(x->script, text, (size_t)n, mode), OSP_OK);
	free(x->ac.hooks.path[k]);
	x->ac.hooks.path[k] = strdup(x->script);
	assert_non_null(x->ac.hooks.path[k]);
}

static char *hk_read(const char *dir, const char *name)
{
	char path[256], *data = NULL;
	size_t len;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(osp_file_read(path, 1 << 20, &data, &len), OSP_OK);
	return data;
}

static void test_agent_hooks_env(void **state)
{
	struct hk_fx *x = *state;
	static const char *const want[] = { "OSPEC_HOOK=pre_stage\n", "OSPEC_APP=web\n",
		"OSPEC_NODE=n1\n", "OSPEC_VERSION=2.0.1\n", "OSPEC_SHA256=ab12\n",
		"OSPEC_PREVIOUS_VERSION=2.0.0\n", "OSPEC_SLOT=main\n", "OSPEC_PORT=8080\n",
		"OSPEC_ROLLOUT=r-42\n", "PATH=/usr/local/bin:/usr/bin:/bin\n",
		"DATABASE_URL=postgres://db/app\n", "ARG=pre_stage\n", NULL };
	const char envf[] = "# the app's\nDATABASE_URL=postgres://db/app\nOSPEC_VERSION=from-file\n";
	char line[256], *seen;

	assert_int_equal(osp_file_write_atomic(x->env, envf, strlen(envf), 0600), OSP_OK);
	x->ac.env_file = x->env;
	setenv("OSPEC_HOOKS_TEST_LEAK", "inherited", 1);
	hk_script(x, AGENT_HOOK_PRE_STAGE, "env > seen\necho \"ARG=$1\" >> seen\n"
					   "echo \"CWD=$(pwd)\" >> seen\n", 0755);
	assert_int_equal(agent_hook_run(&x->ac, AGENT_HOOK_PRE_STAGE, &x->he, x->msg,
				 sizeof(x->msg)),
		OSP_OK);
	unsetenv("OSPEC_HOOKS_TEST_LEAK");
	x->ac.env_file = NULL;
	seen = hk_read(x->rel, "seen"); /* written in its cwd: the release dir */
	for (size_t i = 0; want[i] != NULL; i++)
		ts_assert_has(seen, want[i]);
	snprintf(line, sizeof(line), "OSPEC_RELEASE_DIR=%s\n", x->rel);
	ts_assert_has(seen, line);
	snprintf(line, sizeof(line), "CWD=%s\n", x->rel);
	ts_assert_has(seen, line);
	/* nothing of the agent's own environment; the agent's variables win
	 * over the env file's */
	assert_null(strstr(seen, "OSPEC_HOOKS_TEST_LEAK"));
	assert_null(strstr(seen, "from-file"));
	free(seen);
}

static void test_agent_hooks_none(void **state)
{
	struct hk_fx *x = *state;

	osp_strlcpy(x->msg, "untouched", sizeof(x->msg));
	assert_int_equal(agent_hook_run(&x->ac, AGENT_HOOK_POST_SWITCH, &x->he, x->msg,
				 sizeof(x->msg)),
		OSP_OK);
	assert_int_equal(agent_hook_run(NULL, AGENT_HOOK_PRE_STAGE, &x->he, x->msg,
				 sizeof(x->msg)),
		OSP_OK);
	assert_string_equal(x->msg, "untouched");
}

static void test_agent_hooks_exit_code(void **state)
{
	struct hk_fx *x = *state;

	/* 20 lines on stdout, the last on stderr: the reason has the last 5 */
	hk_script(x, AGENT_HOOK_POST_STAGE,
		"i=1\nwhile [ $i -lt 20 ]; do echo \"line $i\"; i=$((i+1)); done\n"
		"echo 'migration 42 failed' >&2\nexit 3\n", 0755);
	assert_int_equal(agent_hook_run(&x->ac, AGENT_HOOK_POST_STAGE, &x->he, x->msg,
				 sizeof(x->msg)),
		OSP_EREFUSED);
	ts_assert_has(x->msg, "hook post_stage failed (exit 3): line 16\n");
	ts_assert_has(x->msg, "line 19\nmigration 42 failed");
	assert_null(strstr(x->msg, "line 15"));
	assert_int_equal(x->msg[strlen(x->msg) - 1], 'd'); /* no trailing newline */
}

static void test_agent_hooks_redacted(void **state)
{
	struct hk_fx *x = *state;
	const char envf[] = "export API_TOKEN=\"" HK_SECRET "\"\n";

	assert_int_equal(osp_file_write_atomic(x->env, envf, strlen(envf), 0600), OSP_OK);
	x->ac.env_file = x->env;
	hk_script(x, AGENT_HOOK_PRE_SWITCH, "echo \"token is $API_TOKEN\"\nexit 1\n", 0755);
	assert_int_equal(agent_hook_run(&x->ac, AGENT_HOOK_PRE_SWITCH, &x->he, x->msg,
				 sizeof(x->msg)),
		OSP_EREFUSED);
	x->ac.env_file = NULL;
	ts_assert_has(x->msg, "hook pre_switch failed (exit 1): token is [redacted]");
	assert_null(strstr(x->msg, "hunter2"));
}

/* hk_gone reports whether pid no longer runs (gone, or a zombie not yet
 * reaped by init). */
static bool hk_gone(pid_t pid)
{
	char path[64], *stat = NULL, *p;
	size_t len;
	bool gone;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (osp_file_read(path, 4096, &stat, &len) != OSP_OK)
		return true;
	p = strrchr(stat, ')');
	gone = p != NULL && p[1] == ' ' && p[2] == 'Z';
	free(stat);
	return gone;
}

static void test_agent_hooks_timeout(void **state)
{
	struct hk_fx *x = *state;
	int64_t t0 = osp_now_mono_ms(), took;
	char *pid;
	bool gone = false;

	x->ac.hooks.timeout = 300;
	/* a child in the background holds the output pipe: it must die too */
	hk_script(x, AGENT_HOOK_PRE_STAGE,
		"sleep 30 &\necho $! > child.pid\necho 'waiting for the lock'\nsleep 30\n", 0755);
	assert_int_equal(agent_hook_run(&x->ac, AGENT_HOOK_PRE_STAGE, &x->he, x->msg,
				 sizeof(x->msg)),
		OSP_ETIMEDOUT);
	took = osp_now_mono_ms() - t0;
	assert_true(took >= 300 && took < 5000);
	ts_assert_has(x->msg, "hook pre_stage failed (killed after the timeout of 300ms): "
			      "waiting for the lock");
	pid = hk_read(x->rel, "child.pid");
	for (int i = 0; i < 50 && !gone; i++) {
		gone = hk_gone((pid_t)atoi(pid));
		if (!gone)
			osp_sleep_ms(20);
	}
	if (!gone)
		kill((pid_t)atoi(pid), SIGKILL);
	free(pid);
	assert_true(gone);
}

static void test_agent_hooks_cannot_run(void **state)
{
	struct hk_fx *x = *state;

	hk_script(x, AGENT_HOOK_POST_SWITCH, "exit 0\n", 0644); /* not executable */
	assert_int_equal(agent_hook_run(&x->ac, AGENT_HOOK_POST_SWITCH, &x->he, x->msg,
				 sizeof(x->msg)),
		OSP_EPERM);
	ts_assert_has(x->msg, "hook post_switch failed (cannot run it: exec '");
	ts_assert_has(x->msg, "permission denied");
	free(x->ac.hooks.path[AGENT_HOOK_POST_SWITCH]);
	x->ac.hooks.path[AGENT_HOOK_POST_SWITCH] = strdup("/nonexistent/ospec-hook");
	assert_int_equal(agent_hook_run(&x->ac, AGENT_HOOK_POST_SWITCH, &x->he, x->msg,
				 sizeof(x->msg)),
		OSP_ENOENT);
	ts_assert_has(x->msg, "/nonexistent/ospec-hook': no such file or directory");
}

/* As root, a hook runs as the app's user, with that user's HOME. */
static void test_agent_hooks_user(void **state)
{
	struct hk_fx *x = *state;

	if (geteuid() != 0)
		skip();
	assert_int_equal(chmod(x->dir, 0755), 0); /* nobody reaches the script and the cwd */
	x->ac.user = "nobody";
	hk_script(x, AGENT_HOOK_PRE_STAGE, "echo \"user=$(id -un) home=$HOME\"\nexit 4\n", 0755);
	assert_int_equal(agent_hook_run(&x->ac, AGENT_HOOK_PRE_STAGE, &x->he, x->msg,
				 sizeof(x->msg)),
		OSP_EREFUSED);
	x->ac.user = NULL;
	ts_assert_has(x->msg, "hook pre_stage failed (exit 4): user=nobody home=/");
}

/* hk_load writes yaml as an agent config and loads it into cfg. */
static osp_err hk_load(struct hk_fx *x, agent_cfg *cfg, const char *yaml)
{
	char path[128];
	char *argv[] = { "ospec-agent", "--id", "n1", "-c", path, NULL };
	int action = 0;

	snprintf(path, sizeof(path), "%s/agent.yaml", x->dir);
	agent_cfg_free(cfg);
	memset(cfg, 0, sizeof(*cfg));
	assert_int_equal(osp_file_write_atomic(path, yaml, strlen(yaml), 0600), OSP_OK);
	x->msg[0] = '\0';
	return agent_cfg_load(cfg, 5, argv, &action, x->msg, sizeof(x->msg));
}

static void test_agent_hooks_cfg(void **state)
{
	struct hk_fx *x = *state;
	agent_cfg cfg;
	const agent_app_cfg *ac;

	memset(&cfg, 0, sizeof(cfg));
	assert_int_equal(hk_load(x, &cfg,
				 "apps:\n  web:\n    port: 80\n    hooks:\n"
				 "      pre_stage: /opt/web/migrate\n"
				 "      post_switch: /opt/web/notify\n      timeout: 5m\n"),
		OSP_OK);
	ac = agent_cfg_app(&cfg, "web");
	assert_non_null(ac);
	assert_string_equal(ac->hooks.path[AGENT_HOOK_PRE_STAGE], "/opt/web/migrate");
	assert_string_equal(ac->hooks.path[AGENT_HOOK_POST_SWITCH], "/opt/web/notify");
	assert_null(ac->hooks.path[AGENT_HOOK_POST_STAGE]);
	assert_int_equal(ac->hooks.timeout, 300000);
	assert_true(agent_hook_configured(ac, AGENT_HOOK_PRE_STAGE));
	assert_false(agent_hook_configured(ac, AGENT_HOOK_PRE_SWITCH));

	/* a relative path, a shell line, an unknown hook, a timeout past 1h */
	assert_int_equal(hk_load(x, &cfg, "apps:\n  web:\n    hooks:\n      pre_stage: migrate.sh\n"),
		OSP_ECONFIG);
	ts_assert_has(x->msg, "agent.yaml:4:");
	ts_assert_has(x->msg, "apps.web.hooks.pre_stage: expected the absolute path of an "
			      "executable, got \"migrate.sh\"");
	assert_int_not_equal(hk_load(x, &cfg,
				     "apps:\n  web:\n    hooks: {post_stage: ./smoke.sh}\n"),
		OSP_OK);
	ts_assert_has(x->msg, "apps.web.hooks.post_stage: expected the absolute path");
	assert_int_not_equal(hk_load(x, &cfg, "apps:\n  web:\n    hooks: {migrate: /bin/true}\n"),
		OSP_OK);
	ts_assert_has(x->msg, "apps.web.hooks.migrate: unknown key");
	assert_int_not_equal(hk_load(x, &cfg, "apps:\n  web:\n    hooks: {timeout: 2h}\n"),
		OSP_OK);
	ts_assert_has(x->msg, "apps.web.hooks.timeout: expected a duration from 1ms to 1h");
	assert_int_not_equal(hk_load(x, &cfg, "apps:\n  web:\n    hooks: /bin/true\n"), OSP_OK);
	ts_assert_has(x->msg, "apps.web.hooks: expected a map");
	agent_cfg_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_agent_hooks_env, hk_setup, hk_teardown),
		cmocka_unit_test_setup_teardown(test_agent_hooks_none, hk_setup, hk_teardown),
		cmocka_unit_test_setup_teardown(test_agent_hooks_exit_code, hk_setup, hk_teardown),
		cmocka_unit_test_setup_teardown(test_agent_hooks_redacted, hk_setup, hk_teardown),
		cmocka_unit_test_setup_teardown(test_agent_hooks_timeout, hk_setup, hk_teardown),
		cmocka_unit_test_setup_teardown(test_agent_hooks_cannot_run, hk_setup, hk_teardown),
		cmocka_unit_test_setup_teardown(test_agent_hooks_user, hk_setup, hk_teardown),
		cmocka_unit_test_setup_teardown(test_agent_hooks_cfg, hk_setup, hk_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
