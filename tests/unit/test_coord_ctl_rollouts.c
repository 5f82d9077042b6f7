/*
 * test_coord_ctl_rollouts.c - control verbs about rollouts on a real store
 * (coordinator/coord_ctl_rollouts.c): a history bigger than one reply comes
 * back as complete pages, deploy durations are range-checked before they
 * reach a 32-bit field, and an id the operator typed is echoed escaped.
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
#include "ospec/json.h"
#include "test_support.h"
#include "test_support_coord.h"

#define CTL_REPLY_CAP (16u * 1024 * 1024) /* coord_control.c's reply buffer */

typedef ts_coord_fx ctl_fx;
typedef ts_ctl_rq ctl_rq;

/* ctl_fill writes n events with long messages in one transaction. */
static void ctl_fill(ctl_fx *f, int n)
{
	char msg[512];
	osp_txn *t = NULL;

	memset(msg, 'm', sizeof(msg) - 1);
	msg[sizeof(msg) - 1] = '\0';
	assert_int_equal(osp_store_txn_begin(f->c.store, true, &t), OSP_OK);
	for (int i = 0; i < n; i++)
		assert_int_equal(coord_db_event(&f->c, t, "rollout.step", "web-1", "r-1", "hello",
					 "coordinator", "%d %s", i, msg),
			OSP_OK);
	assert_int_equal(osp_store_txn_commit(t), OSP_OK);
}

/* ctl_history runs "history" with limit (and before, if not NULL) and parses
 * the reply, which must be one complete document. */
static osp_json *ctl_history(ctl_fx *f, const char *limit, const char *before, size_t *bytes)
{
	ctl_rq r;
	osp_buf json;
	osp_json *doc = NULL;
	char err[512] = "", perr[128];
	int st;

	if (before != NULL)
		ts_ctl_rq_make(&r, "history", "limit", limit, "before", before, NULL);
	else
		ts_ctl_rq_make(&r, "history", "limit", limit, NULL);
	osp_buf_init(&json, CTL_REPLY_CAP);
	st = coord_verb_history(&f->c, &r.rq, &json, err, sizeof(err));
	if (st != 0)
		fail_msg("history: status %d: %s", st, err);
	assert_non_null(json.data);
	*bytes = json.len;
	if (osp_json_parse(json.data, json.len, &doc, perr, sizeof(perr)) != OSP_OK)
		fail_msg("history reply of %zu bytes is not one JSON document: %s", json.len, perr);
	osp_buf_fini(&json);
	return doc;
}

/* `history --limit 100000` (the documented maximum) printed 16 MiB of
 * unterminated JSON with exit 0: the reply buffer's cap cut it. Now a reply
 * stops before the cap with "truncated": true and "next", and paging with
 * --before walks every event exactly once, newest first. */
static void test_coord_ctl_history_pages(void **state)
{
	ctl_fx *f = *state;
	const int total = 60000; /* about 40 MiB of JSON */
	uint64_t prev = UINT64_MAX, seen = 0;
	char before[32] = "";
	int pages = 0;

	ctl_fill(f, total);
	for (;;) {
		size_t bytes = 0;
		osp_json *doc = ctl_history(f, "100000", before[0] ? before : NULL, &bytes);
		const osp_json *ev = osp_json_get(doc, "events"), *cut;

		assert_non_null(ev);
		assert_true(bytes < CTL_REPLY_CAP);
		for (size_t i = 0; i < ev->n; i++) {
			uint64_t seq = (uint64_t)osp_json_get_int(ev->items[i], "seq", 0);
			assert_true(seq < prev);
			prev = seq;
			seen++;
		}
		pages++;
		cut = osp_json_get(doc, "truncated");
		if (cut == NULL) {
			assert_null(osp_json_get(doc, "next"));
			osp_json_free(doc);
			break;
		}
		assert_true(cut->type == OSP_JSON_BOOL && cut->b);
		assert_int_equal(osp_json_get_int(doc, "next", 0), (int64_t)prev);
		snprintf(before, sizeof(before), "%llu", (unsigned long long)prev);
		osp_json_free(doc);
		assert_true(pages < 20);
	}
	assert_true(pages >= 3);
	assert_int_equal(seen, total);
	assert_int_equal(prev, 1);
}

/* the limit still keeps the latest events; --before is checked */
static void test_coord_ctl_history_limit_and_before(void **state)
{
	ctl_fx *f = *state;
	size_t bytes;
	osp_json *doc;
	const osp_json *ev;
	ctl_rq r;
	osp_buf json;
	char err[256] = "";

	ctl_fill(f, 50);
	doc = ctl_history(f, "5", NULL, &bytes);
	ev = osp_json_get(doc, "events");
	assert_int_equal(ev->n, 5);
	assert_int_equal(osp_json_get_int(ev->items[0], "seq", 0), 50);
	assert_null(osp_json_get(doc, "truncated"));
	osp_json_free(doc);
	doc = ctl_history(f, "100", "3", &bytes);
	ev = osp_json_get(doc, "events");
	assert_int_equal(ev->n, 2);
	assert_int_equal(osp_json_get_int(ev->items[0], "seq", 0), 2);
	osp_json_free(doc);

	ts_ctl_rq_make(&r, "history", "before", "soon", NULL);
	osp_buf_init(&json, CTL_REPLY_CAP);
	assert_int_equal(coord_verb_history(&f->c, &r.rq, &json, err, sizeof(err)), 2);
	assert_non_null(strstr(err, "--before"));
	osp_buf_fini(&json);
}

/* deploy with every argument valid but one duration */
static int ctl_deploy_with(ctl_fx *f, const char *key, const char *val, char *err,
	size_t errlen)
{
	ctl_rq r;
	osp_buf json;
	int st;

	ts_ctl_rq_make(&r, "deploy", "app", "hello", "version", "1", "artifact", "file:///tmp/x.tgz",
		"sha256", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "run",
		"bin/hello", "port", "8080", key, val, NULL);
	osp_buf_init(&json, CTL_REPLY_CAP);
	err[0] = '\0';
	st = coord_verb_deploy(&f->c, &r.rq, &json, err, errlen);
	osp_buf_fini(&json);
	return st;
}

/* deploy durations went into 32-bit fields unchecked: 4294967396ms became
 * 100ms; each is now bounded and a usage error (2) names the flag */
static void test_coord_ctl_deploy_duration_range(void **state)
{
	ctl_fx *f = *state;
	static const struct {
		const char *key, *val, *want;
	} bad[] = {
		{ "health-interval", "4294967396ms",
			"--health-interval: expected a duration from 1ms to 1h, got '4294967396ms'" },
		{ "health-timeout", "2h", "--health-timeout: expected a duration from 1ms to 1h" },
		{ "health-deadline", "1000000h",
			"--health-deadline: expected a duration from 1ms to 24h, got '1000000h'" },
		{ "progress-deadline", "1000000h",
			"--progress-deadline: expected a duration from 1ms to 168h" },
		{ "scale-down-delay", "169h", "--scale-down-delay: expected a duration from 1ms" },
		{ "prepare-deadline", "25h", "--prepare-deadline: expected a duration from 1ms to 24h" },
		{ "health-interval", "0", "--health-interval: expected a duration from 1ms to 1h" },
	};
	char err[512];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(ctl_deploy_with(f, bad[i].key, bad[i].val, err, sizeof(err)), 2);
		if (strstr(err, bad[i].want) == NULL)
			fail_msg("%s %s: '%s'", bad[i].key, bad[i].val, err);
	}
}

/* an id with a newline is echoed escaped: one error, one line */
static void test_coord_ctl_unknown_id_escaped(void **state)
{
	ctl_fx *f = *state;
	ctl_rq r;
	osp_buf json;
	char err[512] = "";

	ts_ctl_rq_make(&r, "status", "rollout", "r-1\nospec-coordinator error FAKE", NULL);
	osp_buf_init(&json, CTL_REPLY_CAP);
	assert_int_equal(coord_verb_status(&f->c, &r.rq, &json, err, sizeof(err)), 4);
	assert_string_equal(err, "rollout 'r-1\\nospec-coordinator error FAKE' is not known");
	osp_buf_fini(&json);
}

#define FX_TEST(fn) cmocka_unit_test_setup_teardown(fn, ts_coord_setup, ts_coord_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(test_coord_ctl_history_pages),
		FX_TEST(test_coord_ctl_history_limit_and_before),
		FX_TEST(test_coord_ctl_deploy_duration_range),
		FX_TEST(test_coord_ctl_unknown_id_escaped),
	};

	osp_log_setup(OSP_LOG_ERROR + 1, OSP_LOG_TEXT, "test_coord_ctl_rollouts", NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
