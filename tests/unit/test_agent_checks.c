/*
 * test_agent_checks.c - the agent's side of a rollout's checks
 * (agent_checks.h): the env names of an env file (names only, sorted,
 * bounded), the apps report carrying them, a Stage's required names checked
 * before anything is fetched, and smoke checks after the health check
 * (rolling and blue-green), driven through the exec layer with the real
 * sample app (hello answers GET / and /health 200, other paths 404, other
 * methods 405). Waits are generous; nothing asserts an upper bound.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent.h"
#include "agent_checks.h"
#include "agent_runner.h"
#include "ospec/checks.h"
#include "test_support.h"
#include "test_support_agent.h"

#define APP "hello"
#define SECRET "s3cr3t-9b1d7e44-never-on-the-wire"
#define R_OK_ OSPEC__V1__RESULT_STATUS__RESULT_OK
#define R_FAILED OSPEC__V1__RESULT_STATUS__RESULT_FAILED

typedef struct fx {
	ts_agent_fx a;
	char env_path[192];
	char *req[4];
	Ospec__V1__SmokeCheck sc[3], *scp[3];
} fx;

static void fx_env(fx *f, const char *text)
{
	assert_int_equal(osp_file_write_atomic(f->env_path, text, strlen(text), 0600), OSP_OK);
}

static int fx_setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	ts_agent_fx_init(&f->a, "/tmp/ospec-checks-XXXXXX");
	snprintf(f->env_path, sizeof(f->env_path), "%s/hello.env", f->a.root);
	fx_env(f, "DATABASE_URL=postgres://u:" SECRET "@db/app\n"
		  "export NEXTAUTH_SECRET=\"" SECRET "\"\n");
	f->a.cfg.napps = 1;
	snprintf(f->a.cfg.apps[0].name, sizeof(f->a.cfg.apps[0].name), APP);
	f->a.cfg.apps[0].env_file = f->env_path; /* the test's: agent_cfg_free is not called */
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	fx *f = *state;
	static const char *const slots[] = { "main", "blue", "green" };

	ts_agent_stop_slots(f->a.a, APP, slots, 3);
	ts_agent_fx_fini(&f->a);
	free(f);
	return 0;
}

/* fx_require makes the fixture's Stage require names (NULL-terminated). */
static void fx_require(fx *f, const char *const *names)
{
	size_t n = 0;

	while (names[n] != NULL && n < 4) {
		f->req[n] = (char *)names[n];
		n++;
	}
	f->a.c.stage.require_env = f->req;
	f->a.c.stage.n_require_env = n;
}

/* fx_smoke gives the fixture's Stage the smoke checks "M P S" (n <= 3). */
static void fx_smoke(fx *f, size_t n, ...)
{
	va_list ap;

	va_start(ap, n);
	for (size_t i = 0; i < n; i++) {
		ospec__v1__smoke_check__init(&f->sc[i]);
		f->sc[i].method = va_arg(ap, char *);
		f->sc[i].path = va_arg(ap, char *);
		f->sc[i].status = va_arg(ap, unsigned);
		f->scp[i] = &f->sc[i];
	}
	va_end(ap);
	f->a.c.stage.smoke = f->scp;
	f->a.c.stage.n_smoke = n;
}

/* assert_no_secret fails if the secret is anywhere in len bytes at p. */
static void assert_no_secret(const void *p, size_t len)
{
	if (memmem(p, len, SECRET, strlen(SECRET)) != NULL)
		fail_msg("the secret's value is in the output");
}

/* assert_dir_empty checks that nothing was fetched or unpacked. */
static void assert_dir_empty(const char *state, const char *sub)
{
	char path[256];
	DIR *d;
	struct dirent *de;
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s", state, sub);
	if ((d = opendir(path)) == NULL)
		return; /* never made: empty */
	while ((de = readdir(d)) != NULL)
		n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	closedir(d);
	assert_int_equal(n, 0);
}

static void test_agent_checks_env_names(void **state)
{
	fx *f = *state;
	agent_env_names *e = calloc(1, sizeof(*e));
	char why[256], name[200];

	assert_non_null(e);
	memset(name, 'L', sizeof(name));
	memcpy(name, "LONG_", 5);
	name[OSP_WIRE_MAX_ENV_NAME + 1] = '\0'; /* one byte too long to report */
	fx_env(f, "");
	assert_int_equal(agent_checks_env_names(f->env_path, e, NULL, why, sizeof(why)), OSP_OK);
	assert_int_equal(e->n, 0);
	assert_false(e->cut);
	{
		char text[1024];
		snprintf(text, sizeof(text),
			"# comment " SECRET "\n\n  ZED=" SECRET "\r\nexport ALPHA='" SECRET "'\n"
			"PORT=9\nOSPEC_APP=x\n1BAD=" SECRET "\nno equals " SECRET "\nmid=1\n"
			"ALPHA=again\n%s=v\n_UNDER=\n",
			name);
		fx_env(f, text);
	}
	assert_int_equal(agent_checks_env_names(f->env_path, e, NULL, why, sizeof(why)), OSP_OK);
	/* sorted, unique; the agent's own, bad and too long names left out */
	assert_int_equal(e->n, 4);
	assert_string_equal(e->v[0], "ALPHA");
	assert_string_equal(e->v[1], "ZED");
	assert_string_equal(e->v[2], "_UNDER");
	assert_string_equal(e->v[3], "mid");
	assert_true(e->cut); /* the long name exists but is not reported */
	assert_no_secret(e, sizeof(*e));

	/* a regular file only, and no value in the reason */
	assert_int_equal(agent_checks_env_names(f->a.root, e, NULL, why, sizeof(why)), OSP_EPERM);
	ts_assert_has(why, "directory");
	assert_int_equal(e->n, 0);
	free(e);
}

static void test_agent_checks_env_names_bounds(void **state)
{
	fx *f = *state;
	agent_env_names *e = calloc(1, sizeof(*e));
	agent_env_budget b = { .names = 3, .bytes = 1000 };
	char text[4096], why[256];
	size_t off = 0;

	assert_non_null(e);
	for (int i = 0; i < 70; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off, "VAR_%02d=x\n", i);
	fx_env(f, text);
	assert_int_equal(agent_checks_env_names(f->env_path, e, NULL, why, sizeof(why)), OSP_OK);
	assert_int_equal(e->n, OSP_WIRE_MAX_ENV_NAMES);
	assert_true(e->cut);
	assert_string_equal(e->v[0], "VAR_00");
	assert_string_equal(e->v[63], "VAR_63");
	/* a report's budget: what is left is taken */
	assert_int_equal(agent_checks_env_names(f->env_path, e, &b, why, sizeof(why)), OSP_OK);
	assert_int_equal(e->n, 3);
	assert_true(e->cut);
	assert_int_equal(b.names, 0);
	assert_int_equal(b.bytes, 1000 - 3 * 6);
	free(e);
}

/* report_app returns the report element of APP (the caller frees apps). */
static Ospec__V1__AppState *report_app(fx *f, Ospec__V1__AppState ***apps, size_t *n)
{
	*n = agent_dispatch_apps(f->a.a->dispatch, apps);
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*apps)[i]->app, APP) == 0)
			return (*apps)[i];
	return NULL;
}

static void test_agent_checks_report_names(void **state)
{
	fx *f = *state;
	Ospec__V1__AppState **apps = NULL, *a;
	uint8_t buf[8192];
	size_t n, len;

	/* configured with an env_file, never deployed: reported all the same */
	a = report_app(f, &apps, &n);
	assert_non_null(a);
	assert_int_equal(n, 1);
	assert_int_equal(a->n_env_names, 2);
	assert_string_equal(a->env_names[0], "DATABASE_URL");
	assert_string_equal(a->env_names[1], "NEXTAUTH_SECRET");
	assert_false(a->env_names_cut);
	assert_null(a->version);
	assert_false(a->running);
	len = ospec__v1__app_state__get_packed_size(a);
	assert_true(len <= sizeof(buf));
	ospec__v1__app_state__pack(a, buf);
	assert_no_secret(buf, len);
	agent_dispatch_apps_free(apps, n);

	/* an app without an env_file reports no names */
	f->a.cfg.apps[0].env_file = NULL;
	a = report_app(f, &apps, &n);
	assert_null(a);
	agent_dispatch_apps_free(apps, n);
	f->a.cfg.apps[0].env_file = f->env_path;
}

static void test_agent_checks_stage_requires(void **state)
{
	fx *f = *state;
	ts_cmd *c = &f->a.c;
	static const char *const need[] = { "DATABASE_URL", "MISSING_ONE", "NEXTAUTH_SECRET",
		"MISSING_TWO", NULL };
	static const char *const have[] = { "NEXTAUTH_SECRET", "DATABASE_URL", NULL };
	Ospec__V1__AppState **apps = NULL;
	unsigned port = ts_free_port();
	size_t n;

	ts_cmd_stage(c, &f->a, APP, 1, 1, port, 1);
	fx_require(f, need);
	ts_cmd_expect(f->a.a, c, R_FAILED);
	assert_string_equal(c->msg, "required secrets missing: node-1 lacks MISSING_ONE, "
				    "MISSING_TWO (app hello's env_file)");
	/* refused before anything was fetched, recorded or started */
	assert_dir_empty(f->a.state, "cache");
	assert_dir_empty(f->a.state, "releases");
	assert_null(ts_agent_record(f->a.a, APP));
	assert_false(ts_answers(port));

	/* no env_file at all */
	f->a.cfg.apps[0].env_file = NULL;
	ts_cmd_expect(f->a.a, c, R_FAILED);
	ts_assert_has(c->msg, "node-1 lacks DATABASE_URL, MISSING_ONE, NEXTAUTH_SECRET, "
			      "MISSING_TWO (app hello has no env_file)");
	f->a.cfg.apps[0].env_file = f->env_path;

	/* all there: staged and running, the report as before plus the names */
	ts_cmd_stage(c, &f->a, APP, 1, 1, port, 2);
	fx_require(f, have);
	ts_cmd_expect(f->a.a, c, R_OK_);
	ts_assert_answers(port, "1");
	assert_no_secret(c->msg, strlen(c->msg));
	n = agent_dispatch_apps(f->a.a->dispatch, &apps);
	assert_int_equal(n, 1);
	assert_string_equal(apps[0]->version, "1");
	assert_int_equal(apps[0]->n_env_names, 2);
	agent_dispatch_apps_free(apps, n);
}

static void test_agent_checks_smoke_rolling(void **state)
{
	fx *f = *state;
	ts_cmd *c = &f->a.c;
	unsigned port = ts_free_port();
	char why[512];

	/* a failing check fails the stage like a failed health check */
	ts_cmd_stage(c, &f->a, APP, 1, 1, port, 1);
	fx_smoke(f, 2, "GET", "/", 200u, "GET", "/api/ping", 200u);
	ts_cmd_expect(f->a.a, c, R_FAILED);
	ts_assert_has(c->msg, "smoke check GET /api/ping: expected 200, got 404; stderr: ");
	ts_assert_answers(port, "1"); /* left for the coordinator to revert */

	/* methods are sent as asked: hello answers 405 to anything but GET/HEAD */
	ts_cmd_stage(c, &f->a, APP, 2, 2, port, 2);
	fx_smoke(f, 3, "GET", "/", 200u, "HEAD", "/health", 200u, "POST", "/", 405u);
	ts_cmd_expect(f->a.a, c, R_OK_);
	ts_assert_answers(port, "2");

	/* nobody there: the connect error names the check */
	assert_int_equal(agent_checks_smoke(f->scp, 1, ts_free_port(), 1000, why, sizeof(why)),
		OSP_ENET);
	assert_string_equal(why, "smoke check GET /: connection refused");
}

static void test_agent_checks_smoke_bluegreen(void **state)
{
	fx *f = *state;
	ts_cmd *c = &f->a.c;

	f->a.blue = ts_free_port();
	do
		f->a.green = ts_free_port();
	while (f->a.green == f->a.blue);
	/* first deploy: into blue, checked on blue's port */
	ts_cmd_stage(c, &f->a, APP, 1, 1, f->a.blue, 1);
	c->stage.slot = (char *)"idle";
	c->stage.has_blue_port = c->stage.has_green_port = 1;
	c->stage.blue_port = f->a.blue;
	c->stage.green_port = f->a.green;
	fx_smoke(f, 1, "GET", "/", 200u);
	ts_cmd_expect(f->a.a, c, R_OK_);
	assert_string_equal(c->res.slot, "blue");
	/* the next into green: with blue gone, a pass proves green was asked */
	assert_int_equal(agent_runner_stop(agent_dispatch_runner(f->a.a->dispatch), APP, "blue", 5000),
		OSP_OK);
	c->stage.slot = (char *)"green";
	c->cmd.generation = 2;
	c->stage.version = (char *)"2";
	c->stage.artifact_url = f->a.url[2];
	c->stage.sha256 = f->a.sha[2];
	ts_cmd_expect(f->a.a, c, R_OK_);
	assert_string_equal(c->res.slot, "green");
	ts_assert_answers(f->a.green, "2");
	/* and a failing one fails the blue-green stage too (the same release
	 * again: the converged path checks as well) */
	c->cmd.generation = 3;
	fx_smoke(f, 1, "DELETE", "/", 204u);
	ts_cmd_expect(f->a.a, c, R_FAILED);
	ts_assert_has(c->msg, "smoke check DELETE /: expected 204, got 405");
}

static void test_agent_checks_rules(void **state)
{
	char err[256], out[32];
	char *have[] = { "A", "B" }, *want[] = { "B", "CCCCCCCCCC", "DDDDDDDDDD", "EEEEEEEEEE" };

	(void)state;
	assert_true(osp_checks_env_name("_A1"));
	assert_false(osp_checks_env_name("1A"));
	assert_false(osp_checks_env_name("A-B"));
	assert_false(osp_checks_env_name(""));
	assert_int_equal(osp_checks_smoke("GET", "/x?y=1", 200, err, sizeof(err)), OSP_OK);
	assert_int_equal(osp_checks_smoke("get", "/", 200, err, sizeof(err)), OSP_EINVAL);
	ts_assert_has(err, "method 'get'");
	assert_int_equal(osp_checks_smoke("GET", "x", 200, err, sizeof(err)), OSP_EINVAL);
	assert_int_equal(osp_checks_smoke("GET", "/a b", 200, err, sizeof(err)), OSP_EINVAL);
	assert_int_equal(osp_checks_smoke("GET", "/", 99, err, sizeof(err)), OSP_EINVAL);
	assert_int_equal(osp_checks_smoke("GET", "/", 600, err, sizeof(err)), OSP_EINVAL);
	/* missing names in order; a list too long for the buffer ends in "..." */
	assert_int_equal(osp_checks_env_missing(have, 2, want, 1, out, sizeof(out)), 0);
	assert_string_equal(out, "");
	assert_int_equal(osp_checks_env_missing(have, 2, want, 4, out, sizeof(out)), 3);
	assert_string_equal(out, "CCCCCCCCCC, DDDDDDDDDD...");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agent_checks_rules),
		cmocka_unit_test_setup_teardown(test_agent_checks_env_names, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_checks_env_names_bounds, fx_setup,
			fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_checks_report_names, fx_setup,
			fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_checks_stage_requires, fx_setup,
			fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_checks_smoke_rolling, fx_setup,
			fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_checks_smoke_bluegreen, fx_setup,
			fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
