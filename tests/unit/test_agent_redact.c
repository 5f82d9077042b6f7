/*
 * test_agent_redact.c - env file values out of app output
 * (node-agent/agent_redact.c), and the failed step's reason that carries an
 * app's stderr tail (agent_apps_check_slot) with the sample app printing
 * its secret: the value must never reach the result message.
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
#include "agent_redact.h"
#include "agent_runner.h"
#include "ospec/util.h"
#include "test_support.h"
#include "test_support_agent.h"

#define SECRET "s3cr3t-VALUE-4f7b9e2a"

/* redacts applies r to in and checks the result. */
static void redacts(const agent_redact *r, const char *in, const char *want)
{
	char out[512];

	assert_int_equal(agent_redact_apply(r, in, out, sizeof(out)), OSP_OK);
	assert_string_equal(out, want);
}

static void test_agent_redact_values(void **state)
{
	agent_redact r;

	(void)state;
	agent_redact_init(&r);
	assert_int_equal(agent_redact_add(&r, "hunter2", 7), OSP_OK);
	assert_int_equal(agent_redact_add(&r, "hunter2-long", 12), OSP_OK);
	assert_int_equal(agent_redact_add(&r, "abc", 3), OSP_OK); /* too short: kept */
	assert_int_equal(agent_redact_add(&r, "hunter2", 7), OSP_OK); /* once */
	assert_int_equal(r.n, 2);

	redacts(&r, "DB_PASSWORD=hunter2\npassword is hunter2!", "DB_PASSWORD=[redacted]\n"
		"password is [redacted]!");
	/* anywhere, several times, the longest match wins */
	redacts(&r, "xhunter2hunter2-longy", "x[redacted][redacted]y");
	redacts(&r, "abc hunter hunte", "abc hunter [redacted]");
	/* a tail may cut a value at its start or its end */
	redacts(&r, "ter2-long was set", "[redacted] was set");
	redacts(&r, "the value is hunt", "the value is [redacted]");
	redacts(&r, "the value is hun", "the value is hun"); /* 3 bytes: too little to tell */
	redacts(&r, "", "");
	redacts(NULL, "as is", "as is");
	agent_redact_fini(&r);
	agent_redact_fini(&r); /* twice is fine */
}

static void test_agent_redact_cut(void **state)
{
	agent_redact r;
	char out[16];

	(void)state;
	agent_redact_init(&r);
	assert_int_equal(agent_redact_add(&r, "hunter2", 7), OSP_OK);
	/* the mark is longer than the value: the output is cut, never the
	 * secret let through */
	assert_int_equal(agent_redact_apply(&r, "pw hunter2 pw hunter2", out, sizeof(out)),
		OSP_ETOOBIG);
	assert_string_equal(out, "pw [redacted] p");
	assert_int_equal(agent_redact_apply(&r, "x", out, 0), OSP_EINVAL);
	for (size_t i = 1; i < AGENT_REDACT_MAX_VALUES; i++) { /* hunter2 is one */
		char v[16];
		snprintf(v, sizeof(v), "value-%zu", i);
		assert_int_equal(agent_redact_add(&r, v, strlen(v)), OSP_OK);
	}
	assert_int_equal(agent_redact_add(&r, "one-too-many", 12), OSP_ETOOBIG);
	agent_redact_fini(&r);
}

static void test_agent_redact_env_file(void **state)
{
	static const char env[] = "# a comment\n"
				  "\n"
				  "DB_URL=postgres://app:pw-9d8e@db/app\n"
				  "  export API_TOKEN=\"tok-1234 5678\"  \n"
				  "QUOTED='single q'\r\n"
				  "SHORT=yes\n"
				  "PORT=8080\n"
				  "EMPTY=\n"
				  "not a pair\n"
				  "LAST=no-newline-at-end";
	char dir[64], path[128], text[512], err[256];
	agent_redact r;

	(void)state;
	ts_mkdtemp(dir, sizeof(dir), "/tmp/ospec-redact-XXXXXX");
	snprintf(path, sizeof(path), "%s/app.env", dir);
	assert_int_equal(osp_file_write_atomic(path, env, strlen(env), 0600), OSP_OK);
	agent_redact_init(&r);
	assert_int_equal(agent_redact_env_file(&r, path, err, sizeof(err)), OSP_OK);
	assert_int_equal(r.n, 4);
	agent_redact_fini(&r);

	snprintf(text, sizeof(text), "url postgres://app:pw-9d8e@db/app token tok-1234 5678 "
		"q 'single q' short yes port 8080 last no-newline-at-end");
	assert_int_equal(agent_redact_env_text(path, text, sizeof(text), err, sizeof(err)),
		OSP_OK);
	assert_string_equal(text, "url [redacted] token [redacted] q '[redacted]' short yes "
		"port 8080 last [redacted]");
	assert_int_equal(agent_redact_env_text(NULL, text, sizeof(text), err, sizeof(err)), OSP_OK);

	/* unreadable: an error, the text untouched (the caller must drop it) */
	snprintf(path, sizeof(path), "%s/missing.env", dir);
	assert_int_equal(agent_redact_env_text(path, text, sizeof(text), err, sizeof(err)),
		OSP_ENOENT);
	ts_assert_has(err, "no such file");
	/* a FIFO is refused at once, not waited on */
	snprintf(path, sizeof(path), "%s/fifo.env", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	agent_redact_init(&r);
	assert_int_equal(agent_redact_env_file(&r, path, err, sizeof(err)), OSP_EPERM);
	ts_assert_has(err, "is a FIFO, not a regular file");
	agent_redact_fini(&r);
	ts_rmtree(dir);
}

/* The sample app run through sh, printing its secret to stderr before it
 * fails its health checks (hello-3): the failed Stage's reason carries the
 * stderr tail, with the env file's value redacted. */
static void test_agent_redact_failed_stage_reason(void **state)
{
	ts_agent_fx *f = calloc(1, sizeof(*f));
	ts_cmd *c;
	char env_path[192], env[128];
	unsigned port = ts_free_port();

	(void)state;
	assert_non_null(f);
	ts_agent_fx_init(f, "/tmp/ospec-redact-XXXXXX");
	c = &f->c;
	snprintf(env_path, sizeof(env_path), "%s/hello.env", f->root);
	snprintf(env, sizeof(env), "HELLO_TOKEN=%s\n", SECRET);
	assert_int_equal(osp_file_write_atomic(env_path, env, strlen(env), 0600), OSP_OK);
	f->cfg.napps = 1;
	snprintf(f->cfg.apps[0].name, sizeof(f->cfg.apps[0].name), "hello");
	f->cfg.apps[0].env_file = env_path; /* the test's: agent_cfg_free is not called */

	ts_cmd_stage(c, f, "hello", 3, 3, port, 1);
	c->stage.run = (char *)"sh -c 'echo \"starting with token=$HELLO_TOKEN\" >&2; "
			       "exec bin/hello --port {port}'";
	c->stage.has_health_deadline_ms = 1;
	c->stage.health_deadline_ms = 3000;
	ts_cmd_expect(f->a, c, OSPEC__V1__RESULT_STATUS__RESULT_FAILED);
	ts_assert_has(c->msg, "stderr: ");
	ts_assert_has(c->msg, "health failing on purpose");
	ts_assert_has(c->msg, "starting with token=[redacted]");
	if (strstr(c->msg, SECRET) != NULL)
		fail_msg("the secret is in the reason: %s", c->msg);

	agent_runner_stop(agent_dispatch_runner(f->a->dispatch), "hello", "main", 5000);
	ts_agent_fx_fini(f);
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agent_redact_values),
		cmocka_unit_test(test_agent_redact_cut),
		cmocka_unit_test(test_agent_redact_env_file),
		cmocka_unit_test(test_agent_redact_failed_stage_reason),
	};

	osp_log_setup(OSP_LOG_ERROR, OSP_LOG_TEXT, "test_agent_redact", NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
