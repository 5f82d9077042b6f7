/*
 * test_agent_cfg.c - the agent's config (node-agent/agent_cfg.c): what is
 * wrong with an app's host settings is found at start, with the key named
 * (a user that does not exist, an env file that is missing, unreadable or
 * not a regular file), and the fetch deadline (fetch_timeout).
 */
#include <setjmp.h>
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
#include "ospec/util.h"
#include "test_support.h"

struct cfg_fx {
	char dir[64];
	char path[128];
	char env[128];
	char err[1024];
	agent_cfg cfg;
};

static int cfg_setup(void **state)
{
	struct cfg_fx *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	ts_mkdtemp(x->dir, sizeof(x->dir), "/tmp/ospec-agent-cfg-XXXXXX");
	snprintf(x->path, sizeof(x->path), "%s/agent.yaml", x->dir);
	snprintf(x->env, sizeof(x->env), "%s/app.env", x->dir);
	*state = x;
	return 0;
}

static int cfg_teardown(void **state)
{
	struct cfg_fx *x = *state;

	agent_cfg_free(&x->cfg);
	ts_rmtree(x->dir);
	free(x);
	return 0;
}

/* load writes yaml as the config file and loads it (plus extra flags). */
static osp_err load(struct cfg_fx *x, const char *yaml, const char *flag, const char *val)
{
	char *argv[] = { "ospec-agent", "--id", "n1", "-c", x->path, (char *)flag, (char *)val,
		NULL };
	int argc = flag != NULL ? 7 : 5, action = 0;

	agent_cfg_free(&x->cfg);
	memset(&x->cfg, 0, sizeof(x->cfg));
	assert_int_equal(osp_file_write_atomic(x->path, yaml, strlen(yaml), 0600), OSP_OK);
	x->err[0] = '\0';
	return agent_cfg_load(&x->cfg, argc, argv, &action, x->err, sizeof(x->err));
}

static void test_agent_cfg_app_user(void **state)
{
	struct cfg_fx *x = *state;

	assert_int_equal(load(x, "apps:\n  web:\n    user: root\n", NULL, NULL), OSP_OK);
	assert_string_equal(x->cfg.apps[0].user, "root");
	assert_int_not_equal(load(x, "apps:\n  web:\n    port: 80\n    user: nosuch-ospec-user\n",
				     NULL, NULL),
		OSP_OK);
	ts_assert_has(x->err, "agent.yaml:4:");
	ts_assert_has(x->err, "apps.web.user: user 'nosuch-ospec-user' does not exist");
}

static void test_agent_cfg_app_env_file(void **state)
{
	struct cfg_fx *x = *state;
	char yaml[512];

	snprintf(yaml, sizeof(yaml), "apps:\n  web:\n    env_file: %s\n", x->env);
	assert_int_not_equal(load(x, yaml, NULL, NULL), OSP_OK);
	ts_assert_has(x->err, "apps.web.env_file: env file '");
	ts_assert_has(x->err, "app.env' does not exist");

	assert_int_equal(osp_file_write_atomic(x->env, "K=v\n", 4, 0600), OSP_OK);
	assert_int_equal(load(x, yaml, NULL, NULL), OSP_OK);
	assert_string_equal(x->cfg.apps[0].env_file, x->env);

	if (geteuid() != 0) { /* root reads anything */
		assert_int_equal(chmod(x->env, 0), 0);
		assert_int_not_equal(load(x, yaml, NULL, NULL), OSP_OK);
		ts_assert_has(x->err, "app.env' cannot be read: Permission denied");
	}
	/* a FIFO is refused at once, not waited on; so is a directory */
	assert_int_equal(unlink(x->env), 0);
	assert_int_equal(mkfifo(x->env, 0600), 0);
	assert_int_not_equal(load(x, yaml, NULL, NULL), OSP_OK);
	ts_assert_has(x->err, "app.env' is a FIFO, not a regular file");
	snprintf(yaml, sizeof(yaml), "apps:\n  web:\n    env_file: %s\n", x->dir);
	assert_int_not_equal(load(x, yaml, NULL, NULL), OSP_OK);
	ts_assert_has(x->err, "is a directory, not a regular file");
}

static void test_agent_cfg_fetch_timeout(void **state)
{
	struct cfg_fx *x = *state;

	assert_int_equal(load(x, "log_level: info\n", NULL, NULL), OSP_OK);
	assert_int_equal(x->cfg.fetch_timeout, 10 * 60 * 1000); /* the default */
	assert_int_equal(load(x, "fetch_timeout: 90s\n", NULL, NULL), OSP_OK);
	assert_int_equal(x->cfg.fetch_timeout, 90000);
	assert_int_equal(load(x, "fetch_timeout: 90s\n", "--fetch-timeout", "2m"), OSP_OK);
	assert_int_equal(x->cfg.fetch_timeout, 120000);
	assert_int_not_equal(load(x, "fetch_timeout: 10ms\n", NULL, NULL), OSP_OK);
	ts_assert_has(x->err, "fetch_timeout");
	ts_assert_has(x->err, "1s to 24h");
	assert_int_not_equal(load(x, "fetch_timeout: 25h\n", NULL, NULL), OSP_OK);
	ts_assert_has(x->err, "1s to 24h");
	assert_int_not_equal(load(x, "log_level: info\n", "--fetch-timeout", "0s"), OSP_OK);
	ts_assert_has(x->err, "--fetch-timeout");
}

#define FX_TEST(f) cmocka_unit_test_setup_teardown(f, cfg_setup, cfg_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(test_agent_cfg_app_user),
		FX_TEST(test_agent_cfg_app_env_file),
		FX_TEST(test_agent_cfg_fetch_timeout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
