/*
 * test_agent_cfg.c - the agent's config (node-agent/agent_cfg.c): what is
 * wrong with an app's host settings is found at start, with the key named
 * (a user that does not exist, an env file that is missing, unreadable or
 * not a regular file), the fetch deadline (fetch_timeout) and the
 * coordinator URLs (several: a highly available coordinator, issue 15).
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

/* assert_urls checks the split coordinator list against want (n URLs). */
static void assert_urls(const agent_cfg *cfg, const char *const *want, size_t n)
{
	assert_int_equal(cfg->ncoordinators, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(cfg->coordinators[i], want[i]);
}

/* One URL or several, as a flag, a string or a YAML list: the order kept,
 * blanks around each dropped, a flag over the file. */
static void test_agent_cfg_coordinators(void **state)
{
	static const char *const def[] = { "tcp://127.0.0.1:7400" };
	static const char *const ab[] = { "tcp://a.example:7400", "tcp://10.0.0.2:7401" };
	static const char *const ba[] = { "tcp://10.0.0.2:7401", "tcp://a.example:7400" };
	static const char *const three[] = { "tcp://a:1", "tcp://b:2", "tcp://c:3" };
	struct cfg_fx *x = *state;

	assert_int_equal(load(x, "log_level: info\n", NULL, NULL), OSP_OK);
	assert_urls(&x->cfg, def, 1);
	assert_int_equal(load(x, "coordinator: tcp://a.example:7400\n", NULL, NULL), OSP_OK);
	assert_urls(&x->cfg, ab, 1);
	assert_int_equal(load(x, "coordinator: \"tcp://a.example:7400, tcp://10.0.0.2:7401\"\n",
		NULL, NULL), OSP_OK);
	assert_urls(&x->cfg, ab, 2);
	assert_string_equal(x->cfg.coordinator, "tcp://a.example:7400,tcp://10.0.0.2:7401");
	assert_int_equal(load(x, "coordinator: [tcp://a.example:7400, tcp://10.0.0.2:7401]\n",
		NULL, NULL), OSP_OK);
	assert_urls(&x->cfg, ab, 2);
	assert_int_equal(load(x, "coordinator:\n  - tcp://10.0.0.2:7401\n  - tcp://a.example:7400\n",
		NULL, NULL), OSP_OK);
	assert_urls(&x->cfg, ba, 2);
	assert_int_equal(load(x, "coordinator: [tcp://a.example:7400, tcp://10.0.0.2:7401]\n",
		"--coordinator", "tcp://a:1,tcp://b:2, tcp://c:3"), OSP_OK);
	assert_urls(&x->cfg, three, 3);
}

/* What is wrong with the list is said, naming the URL: a bad one among
 * good ones, an empty item or list, a URL twice, schemes mixed, too many,
 * TLS URLs without the TLS files. */
static void test_agent_cfg_coordinators_bad(void **state)
{
	struct cfg_fx *x = *state;

	assert_int_not_equal(load(x, "log_level: info\n", "--coordinator",
		"tcp://a:1,tcp://b,tcp://c:3"), OSP_OK);
	ts_assert_has(x->err, "--coordinator: expected a URL tcp://HOST:PORT");
	ts_assert_has(x->err, "got 'tcp://b'");
	assert_int_not_equal(load(x, "log_level: info\n", "--coordinator", "tcp://a:1,,tcp://c:3"),
		OSP_OK);
	ts_assert_has(x->err, "--coordinator");
	assert_int_not_equal(load(x, "coordinator: [tcp://a:1, http://b:2]\n", NULL, NULL), OSP_OK);
	ts_assert_has(x->err, "agent.yaml:1:26: coordinator[1]: expected a URL");
	ts_assert_has(x->err, "got \"http://b:2\"");
	assert_int_not_equal(load(x, "coordinator: [tcp://a:1, [tcp://b:2]]\n", NULL, NULL),
		OSP_OK);
	ts_assert_has(x->err, "coordinator[1]: expected a URL");
	assert_int_not_equal(load(x, "coordinator: []\n", NULL, NULL), OSP_OK);
	ts_assert_has(x->err, "coordinator: expected at least one value");
	assert_int_not_equal(load(x, "coordinator: [tcp://a:1, tcp://a:1]\n", NULL, NULL), OSP_OK);
	ts_assert_has(x->err, "'tcp://a:1' is listed twice");
	assert_int_not_equal(load(x, "log_level: info\n", "--coordinator",
		"tls+tcp://a:1,tcp://b:2"), OSP_OK);
	ts_assert_has(x->err, "'tls+tcp://a:1' and 'tcp://b:2' differ in scheme");
	assert_int_not_equal(load(x, "coordinator: [tcp://a:1, tcp://a:2, tcp://a:3, tcp://a:4, "
		"tcp://a:5, tcp://a:6, tcp://a:7, tcp://a:8, tcp://a:9]\n", NULL, NULL), OSP_OK);
	ts_assert_has(x->err, "more than 8 URLs");
	assert_int_not_equal(load(x, "coordinator: [tls+tcp://a:1, tls+tcp://b:2]\n", NULL, NULL),
		OSP_OK);
	ts_assert_has(x->err, "'tls+tcp://a:1,tls+tcp://b:2' needs TLS files");
}

#define FX_TEST(f) cmocka_unit_test_setup_teardown(f, cfg_setup, cfg_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(test_agent_cfg_app_user),
		FX_TEST(test_agent_cfg_app_env_file),
		FX_TEST(test_agent_cfg_fetch_timeout),
		FX_TEST(test_agent_cfg_coordinators),
		FX_TEST(test_agent_cfg_coordinators_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
