/*
 * test_coord_ctl_checks.c - deploy's --require-env and --smoke on the
 * coordinator (coord_ctl_checks.c, coord_secrets.c) over a real store: the
 * arguments' rules (usage errors), the members' inventory checked when a
 * rollout is created (a node lacking a name refuses it whole, before any
 * command is appended), and the Stage carrying both.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "coord.h"
#include "coord_control.h"
#include "coord_active.h"
#include "coord_secrets.h"
#include "ospec/json.h"
#include "test_support.h"
#include "test_support_coord.h"

#define CTL_REPLY_CAP (16u * 1024 * 1024)
#define SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

typedef ts_coord_fx fx;

/* fx_node adds node id reporting app "hello" with env names (NULL-ended;
 * names NULL: it reports no app at all). */
static coord_node *fx_node(fx *f, const char *id, const char *const *names, bool cut)
{
	coord_node *n = coord_node_add(&f->c, id, "00000000-0000-4000-8000-000000000001");
	Ospec__V1__AppState a, *ap = &a;
	size_t k = 0;

	assert_non_null(n);
	n->state = COORD_NODE_UP;
	if (names == NULL)
		return n;
	ospec__v1__app_state__init(&a);
	a.app = "hello";
	while (names[k] != NULL)
		k++;
	a.env_names = (char **)names;
	a.n_env_names = k;
	a.has_env_names_cut = cut;
	a.env_names_cut = cut;
	coord_node_set_apps(n, &ap, 1);
	return n;
}

/* fx_deploy runs deploy with "key", "value" pairs after the required flags
 * (NULL-ended) in a write transaction that is committed on success (else
 * aborted), and returns the status; err gets the reason. */
static int fx_deploy(fx *f, char *err, size_t errlen, ...)
{
	static const char *const base[] = { "app", "hello", "version", "1", "artifact",
		"file:///tmp/x.tgz", "sha256", SHA, "run", "bin/hello", "port", "8080", "watch", "0",
		NULL };
	ts_ctl_rq r;
	const char *k;
	osp_buf json;
	va_list ap;
	int st;

	ts_ctl_rq_make(&r, "deploy", NULL);
	for (size_t i = 0; base[i] != NULL; i += 2)
		ts_ctl_rq_add(&r, base[i], base[i + 1]);
	va_start(ap, errlen);
	while ((k = va_arg(ap, const char *)) != NULL)
		ts_ctl_rq_add(&r, k, va_arg(ap, const char *));
	va_end(ap);
	assert_int_equal(osp_store_txn_begin(f->c.store, true, &r.rq.txn), OSP_OK);
	osp_buf_init(&json, CTL_REPLY_CAP);
	err[0] = '\0';
	st = coord_verb_deploy(&f->c, &r.rq, &json, err, errlen);
	osp_buf_fini(&json);
	if (st == 0) {
		assert_int_equal(osp_store_txn_commit(r.rq.txn), OSP_OK);
	} else {
		osp_store_txn_abort(r.rq.txn);
		if (r.rq.on_abort != NULL)
			r.rq.on_abort(&f->c, &r.rq);
	}
	return st;
}

/* fx_log returns how many commands node's log holds; *stage (may be NULL)
 * gets a copy of the first Stage's require_env count and smoke count. */
static size_t fx_log(fx *f, const char *node, size_t *nreq, size_t *nsmoke)
{
	Ospec__V1__Command **cmds = NULL;
	osp_txn *t = NULL;
	size_t n = 0;

	assert_int_equal(osp_store_txn_begin(f->c.store, false, &t), OSP_OK);
	assert_int_equal(coord_db_cmd_read(&f->c, t, node, 0, 100, &cmds, &n), OSP_OK);
	for (size_t i = 0; i < n && nreq != NULL; i++) {
		if (cmds[i]->kind_case != OSPEC__V1__COMMAND__KIND_STAGE)
			continue;
		*nreq = cmds[i]->stage->n_require_env;
		*nsmoke = cmds[i]->stage->n_smoke;
		if (*nreq > 1) {
			assert_string_equal(cmds[i]->stage->require_env[0], "DATABASE_URL");
			assert_string_equal(cmds[i]->stage->require_env[1], "NEXTAUTH_SECRET");
		}
		if (*nsmoke > 1) {
			assert_string_equal(cmds[i]->stage->smoke[1]->method, "HEAD");
			assert_string_equal(cmds[i]->stage->smoke[1]->path, "/health");
			assert_int_equal(cmds[i]->stage->smoke[1]->status, 200);
		}
		break;
	}
	coord_db_cmds_free(cmds, n);
	osp_store_txn_abort(t);
	return n;
}

/* fx_usage expects deploy with key=val to be a usage error saying want */
static void fx_usage(fx *f, const char *key, const char *val, const char *want)
{
	char err[512];

	assert_int_equal(fx_deploy(f, err, sizeof(err), key, val, NULL), 2);
	if (strstr(err, want) == NULL)
		fail_msg("%s %s: '%s'", key, val, err);
}

static void test_coord_ctl_checks_usage(void **state)
{
	fx *f = *state;
	char many[4096];
	size_t off = 0;

	fx_node(f, "n1", NULL, false);
	fx_usage(f, "require-env", "GOOD,bad-name",
		"--require-env: 'bad-name' is not an env variable name");
	fx_usage(f, "require-env", "A,,B", "--require-env: an empty entry");
	fx_usage(f, "require-env", "9LIVES", "'9LIVES' is not an env variable name");
	fx_usage(f, "smoke", "GET /x",
		"--smoke: expected \"METHOD PATH STATUS\" like \"GET /api/ping 200\", got 'GET /x'");
	fx_usage(f, "smoke", "GET /x 200 extra", "got 'GET /x 200 extra'");
	fx_usage(f, "smoke", "get /x 200", "--smoke: method 'get': expected GET, HEAD, POST");
	fx_usage(f, "smoke", "GET x 200", "--smoke: path 'x': expected a path starting with '/'");
	fx_usage(f, "smoke", "GET /x 700", "--smoke: status 700: expected an HTTP status 100..599");
	fx_usage(f, "smoke", "GET /x 200;", "--smoke: an empty entry");
	for (int i = 0; i < OSP_WIRE_MAX_ENV_NAMES + 1; i++)
		off += (size_t)snprintf(many + off, sizeof(many) - off, "%sN%d", i ? "," : "", i);
	fx_usage(f, "require-env", many, "--require-env: more than 64 names");
	off = 0;
	for (int i = 0; i < OSP_WIRE_MAX_SMOKE + 1; i++)
		off += (size_t)snprintf(many + off, sizeof(many) - off, "%sGET /%d 200", i ? ";" : "",
			i);
	fx_usage(f, "smoke", many, "--smoke: more than 16 checks");
	assert_int_equal(fx_log(f, "n1", NULL, NULL), 0);
}

static void test_coord_ctl_checks_refused(void **state)
{
	fx *f = *state;
	static const char *const both[] = { "DATABASE_URL", "NEXTAUTH_SECRET", "OTHER", NULL };
	static const char *const one[] = { "DATABASE_URL", NULL };
	char err[1024];

	fx_node(f, "n1", both, false);
	fx_node(f, "n2", one, false);
	fx_node(f, "n3", NULL, false); /* never reported the app */
	assert_int_equal(fx_deploy(f, err, sizeof(err), "require-env",
				 "DATABASE_URL, NEXTAUTH_SECRET", NULL),
		1);
	assert_string_equal(err, "required secrets missing: n2 lacks NEXTAUTH_SECRET; n3 lacks "
				 "DATABASE_URL, NEXTAUTH_SECRET (app hello's env_file)");
	/* nothing stored, nothing sent */
	assert_null(coord_active_of_app(&f->c, "hello"));
	assert_int_equal(fx_log(f, "n1", NULL, NULL), 0);
	assert_int_equal(fx_log(f, "n2", NULL, NULL), 0);
	assert_int_equal(fx_log(f, "n3", NULL, NULL), 0);
	/* a dry run says so too */
	assert_int_equal(fx_deploy(f, err, sizeof(err), "require-env", "NEXTAUTH_SECRET",
				 "dry-run", "true", NULL),
		1);
	ts_assert_has(err, "n2 lacks NEXTAUTH_SECRET; n3 lacks NEXTAUTH_SECRET (app hello's");
}

static void test_coord_ctl_checks_missing_rules(void **state)
{
	fx *f = *state;
	static const char *const one[] = { "DATABASE_URL", NULL };
	char *want[] = { "DATABASE_URL", "NEXTAUTH_SECRET" };
	const char *nodes[] = { "n1", "n2", "gone" };
	char missing[256], err[256];

	fx_node(f, "n1", one, true); /* a cut list: the agent decides */
	fx_node(f, "n2", one, false);
	assert_false(coord_secrets_missing(&f->c, "n1", "hello", want, 2, missing, sizeof(missing)));
	assert_true(coord_secrets_missing(&f->c, "n2", "hello", want, 2, missing, sizeof(missing)));
	assert_string_equal(missing, "NEXTAUTH_SECRET");
	assert_true(coord_secrets_missing(&f->c, "n2", "other", want, 1, missing, sizeof(missing)));
	assert_string_equal(missing, "DATABASE_URL");
	assert_false(coord_secrets_missing(&f->c, "n2", "hello", want, 1, missing, sizeof(missing)));
	/* a short buffer: the node list is cut, never the end */
	assert_int_equal(coord_secrets_check(&f->c, "hello", want, 2, nodes, 3, err, 120),
		OSP_EREFUSED);
	assert_string_equal(err, "required secrets missing: n2 lacks NEXTAUTH_SECRET; and 1 more "
				 "node (app hello's env_file)");
	assert_int_equal(coord_secrets_check(&f->c, "hello", want, 0, nodes, 3, err, 120), OSP_OK);
}

static void test_coord_ctl_checks_stage_carries(void **state)
{
	fx *f = *state;
	static const char *const both[] = { "DATABASE_URL", "NEXTAUTH_SECRET", NULL };
	coord_node *n3;
	size_t nreq = 0, nsmoke = 0;
	char err[512];

	fx_node(f, "n1", both, false);
	fx_node(f, "n2", both, false);
	n3 = fx_node(f, "n3", NULL, false);
	n3->cordoned = true; /* skipped: gets no Stage, is not checked */
	assert_int_equal(fx_deploy(f, err, sizeof(err), "require-env",
				 "DATABASE_URL,NEXTAUTH_SECRET,DATABASE_URL", "smoke",
				 "GET /api/ping 200; HEAD /health 200", NULL),
		0);
	assert_non_null(coord_active_of_app(&f->c, "hello"));
	assert_int_equal(fx_log(f, "n1", &nreq, &nsmoke), 1);
	assert_int_equal(nreq, 2); /* the repeat kept once */
	assert_int_equal(nsmoke, 2);
	assert_int_equal(fx_log(f, "n3", NULL, NULL), 0);
}

static void test_coord_ctl_checks_large_reports_compare(void **state)
{
	fx *f = *state;
	static char names[OSP_WIRE_MAX_ENV_NAMES][OSP_WIRE_MAX_ENV_NAME + 1];
	char *v[OSP_WIRE_MAX_ENV_NAMES];
	Ospec__V1__AppState a, *ap = &a;
	coord_node *n = fx_node(f, "n1", NULL, false);

	for (int i = 0; i < OSP_WIRE_MAX_ENV_NAMES; i++) {
		memset(names[i], 'N', OSP_WIRE_MAX_ENV_NAME);
		snprintf(names[i], 8, "N%03d", i);
		names[i][strlen(names[i])] = 'N';
		v[i] = names[i];
	}
	ospec__v1__app_state__init(&a);
	a.app = "hello";
	a.env_names = v;
	a.n_env_names = OSP_WIRE_MAX_ENV_NAMES;
	assert_true(ospec__v1__app_state__get_packed_size(&a) > 8000);
	coord_node_set_apps(n, &ap, 1);
	/* the same big report is no change (no store write per heartbeat) */
	assert_false(coord_node_apps_differ(n, &ap, 1));
	names[63][0] = 'M';
	assert_true(coord_node_apps_differ(n, &ap, 1));
}

/* A canary is refused, before anything is stored or sent, when a member's
 * agent speaks a protocol without TrafficWeight (it would fail every command
 * after it); its flags are usage errors with another strategy. */
static void test_coord_ctl_checks_canary_protocol(void **state)
{
	fx *f = *state;
	char err[1024];
	coord_node *n1 = fx_node(f, "n1", NULL, false), *n2 = fx_node(f, "n2", NULL, false);

	n1->proto_minor = 3;
	n2->proto_minor = 2;
	snprintf(n2->agent_version, sizeof(n2->agent_version), "0.9.1");
	fx_usage(f, "analysis-interval", "10s", "--analysis-interval applies to --strategy canary");
	/* the canary's own flags: every bad value is a usage error naming the flag */
	{
		static const char *const bad[][3] = {
			{ "analysis-success-rate", "101", "--analysis-success-rate" },
			{ "analysis-success-rate", "99.999", "--analysis-success-rate" },
			{ "analysis-success-rate", "abc", "--analysis-success-rate" },
			{ "canary-max", "0", "--canary-max" },
			{ "canary-step", "101", "--canary-step" },
			{ "canary-initial", "60", "must not be above --canary-max (50%)" },
			{ "analysis-interval", "500ms", "at least 1s" },
			{ "analysis-threshold", "0", "--analysis-threshold" },
			{ "analysis-max-latency", "-1s", "--analysis-max-latency" },
			{ "analysis-url", "ftp://x", "--analysis-url" },
			{ "analysis-query", "vector(1)", "need --analysis-url" },
		};
		char e2[512];

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			assert_int_equal(fx_deploy(f, e2, sizeof(e2), "strategy", "canary", "ports",
						 "blue=8081,green=8082", bad[i][0], bad[i][1], NULL),
				2);
			if (strstr(e2, bad[i][2]) == NULL)
				fail_msg("%s %s: '%s'", bad[i][0], bad[i][1], e2);
		}
	}
	assert_int_equal(fx_deploy(f, err, sizeof(err), "strategy", "canary", "ports",
				 "blue=8081,green=8082", NULL),
		1);
	ts_assert_has(err, "a canary needs agents of protocol 1.3 or later (TrafficWeight); "
			   "older: n2 (1.2, ospec-agent 0.9.1)");
	assert_null(coord_active_of_app(&f->c, "hello"));
	assert_int_equal(fx_log(f, "n1", NULL, NULL), 0);
	assert_int_equal(fx_log(f, "n2", NULL, NULL), 0);
	n2->proto_minor = 3;
	assert_int_equal(fx_deploy(f, err, sizeof(err), "strategy", "canary", "ports",
				 "blue=8081,green=8082", "batch", "100%", NULL),
		0);
	assert_int_equal(fx_log(f, "n1", NULL, NULL), 1);
	assert_int_equal(fx_log(f, "n2", NULL, NULL), 1);
}

#define FX_TEST(fn) cmocka_unit_test_setup_teardown(fn, ts_coord_setup, ts_coord_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(test_coord_ctl_checks_usage),
		FX_TEST(test_coord_ctl_checks_refused),
		FX_TEST(test_coord_ctl_checks_missing_rules),
		FX_TEST(test_coord_ctl_checks_stage_carries),
		FX_TEST(test_coord_ctl_checks_large_reports_compare),
		FX_TEST(test_coord_ctl_checks_canary_protocol),
	};

	osp_log_setup(OSP_LOG_ERROR + 1, OSP_LOG_TEXT, "test_coord_ctl_checks", NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
