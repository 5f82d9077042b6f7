/*
 * test_coord_rollout_canary.c - the canary half of the rollout engine
 * (coordinator/engine/coord_rollout_canary.c): weights as recorded decisions, the
 * analysis of the proxies' counters, the threshold, the reset to weight 0,
 * the promotion through the blue-green switch and its gate.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "coord_rollout.h"
#include "test_support_rollout.h"
#include "test_support_rollout_bg.h"

/* 3 nodes; weights 10, 30, 50; 60 s intervals; 2 failed analyses reset;
 * success >= 99%, mean response <= 500 ms, at least 10 requests. */
static void cn_init(ts_ro *f, size_t n)
{
	ts_bg_init(f, n, (uint32_t)n, 0);
	f->r.strategy = COORD_RO_CANARY;
	f->r.canary.initial = 10;
	f->r.canary.step = 20;
	f->r.canary.max = 50;
	f->r.canary.interval_ms = 60 * TS_BG_SEC;
	f->r.canary.threshold = 2;
	f->r.canary.min_success_x100 = 9900;
	f->r.canary.max_rtime_ms = 500;
	f->r.canary.min_requests = 10;
}

/* cn_result answers step i's command with counters (NULL: none). */
static void cn_result(ts_ro *f, size_t i, bool ok, const coord_ro_stats *st, const char *msg)
{
	coord_ro_event ev = { .kind = COORD_RO_EV_RESULT, .now_ms = f->now,
			      .node = f->steps[i].node, .seq = f->steps[i].seq, .ok = ok,
			      .message = msg, .stats = st };

	assert_int_equal(ts_ro_run(f, &ev), OSP_OK);
}

/* cn_stage_all stages every node; the first weight must go out. */
static void cn_stage_all(ts_ro *f)
{
	size_t i;

	ts_bg_do(f, COORD_RO_EV_START);
	for (i = 0; i < f->r.nsteps; i++) {
		assert_int_equal(f->steps[i].cmd, COORD_RO_CMD_STAGE);
		ts_ro_ok(f, i);
	}
	assert_int_equal(f->r.phase, COORD_CN_WEIGHT);
	assert_int_equal(f->r.canary.weight, f->r.canary.initial);
	for (i = 0; i < f->r.nsteps; i++)
		assert_true(ts_ro_sent(f, i, COORD_RO_CMD_WEIGHT));
	assert_non_null(ts_ro_event(f, "canary.weight"));
}

/* cn_weights_ok: every node confirms the weight, reporting requests so far. */
static void cn_weights_ok(ts_ro *f, uint64_t requests, uint64_t errors)
{
	coord_ro_stats st;
	size_t i;

	/* zeroed whole, padding too: the engine copies it into the rollout,
	 * and ts_ro_check_deadline compares rollouts byte for byte */
	memset(&st, 0, sizeof(st));
	st.requests = requests;
	st.errors = errors;
	st.proxy_start = 7;

	for (i = 0; i < f->r.nsteps; i++)
		if (f->steps[i].cmd == COORD_RO_CMD_WEIGHT)
			cn_result(f, i, true, &st, NULL);
	assert_int_equal(f->r.phase, COORD_CN_BAKE);
	assert_int_equal(f->r.canary.step_until_ms, f->now + 60 * TS_BG_SEC);
}

/* cn_interval lets the interval pass: the tick asks every node for counters. */
static void cn_interval(ts_ro *f)
{
	size_t i;

	ts_bg_tick(f, f->r.canary.step_until_ms - 1);
	assert_int_equal(f->r.phase, COORD_CN_BAKE); /* not yet */
	ts_bg_tick(f, f->r.canary.step_until_ms);
	assert_int_equal(f->r.phase, COORD_CN_ANALYZE);
	for (i = 0; i < f->r.nsteps; i++)
		if (f->steps[i].in_switch)
			assert_true(ts_ro_sent(f, i, COORD_RO_CMD_STATS));
}

/* cn_stats_all answers every STATS with requests/errors/rtime. */
static void cn_stats_all(ts_ro *f, uint64_t requests, uint64_t errors, uint32_t rtime)
{
	coord_ro_stats st;
	size_t i;

	memset(&st, 0, sizeof(st)); /* padding too (cn_weights_ok) */
	st.requests = requests;
	st.errors = errors;
	st.rtime_ms = rtime;
	st.has_rtime = true;
	st.proxy_start = 7;

	for (i = 0; i < f->r.nsteps; i++)
		if (f->steps[i].cmd == COORD_RO_CMD_STATS)
			cn_result(f, i, true, &st, NULL);
}

static void cn_assert_no_prepare(const ts_ro *f)
{
	for (size_t i = 0; i < f->r.nsteps; i++)
		assert_false(ts_ro_sent(f, i, COORD_RO_CMD_PREPARE));
}

/* A healthy canary walks 10 -> 30 -> 50, each step analysed, then promotes
 * through the two-phase switch and succeeds. */
static void test_cn_good_canary_promotes(void **state)
{
	ts_ro *f = *state;
	uint32_t seen[3], k = 0;
	uint64_t total = 100, errs = 0;

	cn_init(f, 3);
	cn_stage_all(f);
	cn_weights_ok(f, total, 0);
	for (;;) {
		seen[k++] = f->r.canary.weight;
		cn_interval(f);
		total += 200;
		errs++;
		cn_stats_all(f, total, errs, 40); /* 200 requests, 1 error per node: 99.5% */
		assert_true(f->r.canary.an_passed);
		assert_int_equal(f->r.canary.an_requests, 600);
		assert_int_equal(f->r.canary.an_errors, 3);
		assert_int_equal(f->r.canary.an_nodes, 3);
		assert_int_equal(f->r.canary.an_rtime_ms, 40);
		if (f->r.phase != COORD_CN_WEIGHT)
			break;
		cn_assert_no_prepare(f);
		/* each weight's interval counts from its confirmation */
		total += 5;
		errs += 5;
		cn_weights_ok(f, total, errs);
	}
	assert_int_equal(k, 3);
	assert_int_equal(seen[0], 10);
	assert_int_equal(seen[1], 30);
	assert_int_equal(seen[2], 50);
	assert_int_equal(f->r.canary.analyses, 3);
	/* promoted: the switch towards the canary slots */
	assert_int_equal(f->r.phase, COORD_BG_PREPARE);
	assert_non_null(ts_ro_event(f, "canary.promote"));
	for (size_t i = 0; i < 3; i++) {
		assert_true(ts_ro_sent(f, i, COORD_RO_CMD_PREPARE));
		assert_string_equal(f->steps[i].to_slot, "green");
	}
	ts_bg_vote_all(f);
	ts_bg_ack_all(f);
	assert_int_equal(f->r.phase, COORD_BG_VERIFY);
	ts_bg_tick(f, f->r.verify_until_ms + 1);
	assert_int_equal(f->r.state, COORD_RO_SUCCEEDED);
}

/* 10% errors: the first failed analysis keeps the weight, the second (the
 * threshold) resets every node to weight 0 and fails with the numbers. */
static void test_cn_errors_reset_at_threshold(void **state)
{
	ts_ro *f = *state;
	const char *ev;

	cn_init(f, 3);
	cn_stage_all(f);
	cn_weights_ok(f, 0, 0);
	cn_interval(f);
	cn_stats_all(f, 100, 10, 20);
	assert_false(f->r.canary.an_passed);
	assert_int_equal(f->r.canary.failed_checks, 1);
	assert_int_equal(f->r.phase, COORD_CN_BAKE); /* same weight, another interval */
	assert_int_equal(f->r.canary.weight, 10);
	ev = ts_ro_event(f, "canary.analysis");
	assert_non_null(ev);
	assert_non_null(strstr(ev, "success rate below 99.00%"));
	assert_non_null(strstr(ev, "300 requests, 30 errors (success 90.00%)"));
	cn_interval(f);
	cn_stats_all(f, 200, 20, 20);
	assert_int_equal(f->r.phase, COORD_CN_RESET);
	assert_int_equal(f->r.canary.weight, 0);
	for (size_t i = 0; i < 3; i++)
		assert_true(ts_ro_sent(f, i, COORD_RO_CMD_WEIGHT));
	cn_assert_no_prepare(f);
	for (size_t i = 0; i < 3; i++)
		cn_result(f, i, true, NULL, NULL);
	ts_ro_assert_done(f, COORD_RO_FAILED);
	assert_non_null(strstr(f->r.reason, "canary reset from 10%"));
	assert_non_null(strstr(f->r.reason, "analysis failed 2 times (threshold 2)"));
	assert_non_null(strstr(f->r.reason, "success 90.00%"));
	assert_non_null(strstr(f->r.reason, "3 nodes back at weight 0"));
}

/* A node that cannot take a weight resets the canary everywhere. */
static void test_cn_weight_refused_resets(void **state)
{
	ts_ro *f = *state;

	cn_init(f, 3);
	cn_stage_all(f);
	cn_result(f, 0, true, NULL, NULL);
	cn_result(f, 1, false, NULL, "app hello has no proxy");
	assert_int_equal(f->r.phase, COORD_CN_RESET);
	assert_int_equal(f->r.canary.weight, 0);
	/* node 3's outstanding weight 10 is superseded by weight 0 */
	for (size_t i = 0; i < 3; i++)
		assert_true(ts_ro_sent(f, i, COORD_RO_CMD_WEIGHT));
	for (size_t i = 0; i < 3; i++)
		cn_result(f, i, true, NULL, NULL);
	ts_ro_assert_done(f, COORD_RO_FAILED);
	assert_non_null(strstr(f->r.reason, "web-2 could not take weight 10%: app hello has no "
					    "proxy"));
}

/* An unanswered weight: after the progress deadline the canary resets; the
 * silent node keeps weight 0 in its log and the rollout still ends. */
static void test_cn_weight_unanswered(void **state)
{
	ts_ro *f = *state;

	cn_init(f, 2);
	cn_stage_all(f);
	cn_result(f, 0, true, NULL, NULL);
	ts_bg_tick(f, f->now + TS_BG_MIN10 + 1);
	assert_int_equal(f->r.phase, COORD_CN_RESET);
	assert_int_equal(f->steps[1].state, COORD_STEP_UNREACHABLE);
	assert_true(ts_ro_sent(f, 0, COORD_RO_CMD_WEIGHT));
	cn_result(f, 0, true, NULL, NULL);
	ts_bg_tick(f, f->now + TS_BG_MIN10 + 1);
	ts_ro_assert_done(f, COORD_RO_FAILED);
	assert_non_null(strstr(f->r.reason, "it gets weight 0 when it reconnects"));
}

/* Too few requests reached the canary: a failed analysis, not a pass. */
static void test_cn_no_traffic_is_a_failed_check(void **state)
{
	ts_ro *f = *state;

	cn_init(f, 2);
	cn_stage_all(f);
	cn_weights_ok(f, 50, 0);
	cn_interval(f);
	cn_stats_all(f, 54, 0, 1); /* 4 + 4 requests < 10 */
	assert_false(f->r.canary.an_passed);
	assert_non_null(strstr(ts_ro_event(f, "canary.analysis"),
				"8 requests reached the canary (at least 10 needed)"));
}

/* A slow canary fails on latency alone. */
static void test_cn_latency_ceiling(void **state)
{
	ts_ro *f = *state;

	cn_init(f, 2);
	cn_stage_all(f);
	cn_weights_ok(f, 0, 0);
	cn_interval(f);
	cn_stats_all(f, 500, 0, 501);
	assert_false(f->r.canary.an_passed);
	assert_non_null(strstr(ts_ro_event(f, "canary.analysis"),
				"mean response time above 500 ms"));
}

/* A node that does not answer the counters is left out of that analysis
 * (said in the note); a proxy that restarted counts from 0. */
static void test_cn_missing_and_restarted_counters(void **state)
{
	ts_ro *f = *state;
	coord_ro_stats restarted;

	memset(&restarted, 0, sizeof(restarted)); /* padding too (cn_weights_ok) */
	restarted.requests = 40;
	restarted.rtime_ms = 10;
	restarted.has_rtime = true;
	restarted.proxy_start = 99;

	cn_init(f, 3);
	cn_stage_all(f);
	cn_weights_ok(f, 1000, 0);
	cn_interval(f);
	cn_result(f, 0, true, &restarted, NULL); /* counters below the base: restarted */
	cn_result(f, 1, false, NULL, "haproxy socket: connection refused");
	assert_int_equal(f->r.phase, COORD_CN_ANALYZE);
	ts_bg_tick(f, f->now + 15 * TS_BG_SEC + 1);
	assert_int_equal(f->r.canary.an_nodes, 1);
	assert_int_equal(f->r.canary.an_requests, 40);
	assert_true(f->r.canary.an_passed);
	assert_non_null(strstr(f->r.canary.an_note, "web-2: no counters"));
	assert_non_null(strstr(f->r.canary.an_note, "web-3: no counters"));
	assert_int_equal(f->r.canary.weight, 30);
	/* web-3's late answer is ignored */
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(f->steps[i].cmd, COORD_RO_CMD_WEIGHT);
}

/* abort while baking: weight 0 everywhere, then aborted. */
static void test_cn_abort_resets(void **state)
{
	ts_ro *f = *state;

	cn_init(f, 2);
	cn_stage_all(f);
	cn_weights_ok(f, 0, 0);
	ts_bg_do(f, COORD_RO_EV_ABORT);
	assert_int_equal(f->r.phase, COORD_CN_RESET);
	assert_int_equal(f->r.canary.weight, 0);
	ts_bg_do(f, COORD_RO_EV_ABORT); /* repeated: on its way */
	assert_int_equal(f->out.n, 0);
	cn_result(f, 0, true, NULL, NULL);
	cn_result(f, 1, true, NULL, NULL);
	ts_ro_assert_done(f, COORD_RO_ABORTED);
	assert_non_null(strstr(f->r.reason, "aborted by request"));
}

/* A promotion switch that a node votes against is aborted; the canary slots
 * still carry their weight, so it is reset before the rollout fails. */
static void test_cn_promotion_refused_resets(void **state)
{
	ts_ro *f = *state;

	cn_init(f, 2);
	f->r.canary.initial = 50; /* one step */
	cn_stage_all(f);
	cn_weights_ok(f, 0, 0);
	cn_interval(f);
	cn_stats_all(f, 100, 0, 5);
	assert_int_equal(f->r.phase, COORD_BG_PREPARE);
	ts_ro_ok(f, 0);
	ts_ro_fail(f, 1, "slot green is not healthy");
	/* abort decided: every member gets its abort */
	ts_bg_ack_all(f);
	assert_int_equal(f->r.phase, COORD_CN_RESET);
	assert_int_equal(f->r.canary.weight, 0);
	for (size_t i = 0; i < 2; i++)
		if (f->steps[i].cmd == COORD_RO_CMD_WEIGHT)
			cn_result(f, i, true, NULL, NULL);
	assert_int_equal(f->r.state, COORD_RO_FAILED);
	assert_non_null(strstr(f->r.reason, "promotion switch"));
	/* the node that voted no took weight 0 too: both are back */
	assert_non_null(strstr(f->r.reason, "2 nodes back at weight 0"));
}

/* With a gate the promotion waits for APPROVE at the last weight. */
static void test_cn_gate_before_promotion(void **state)
{
	ts_ro *f = *state;

	cn_init(f, 2);
	f->r.switch_gate = true;
	f->r.canary.initial = 50;
	cn_stage_all(f);
	cn_weights_ok(f, 0, 0);
	ts_bg_none(f, COORD_RO_EV_APPROVE, OSP_ESTATE); /* not at the gate yet */
	cn_interval(f);
	cn_stats_all(f, 100, 0, 5);
	assert_int_equal(f->r.phase, COORD_CN_GATE);
	assert_int_equal(f->r.state, COORD_RO_WAITING_APPROVAL);
	cn_assert_no_prepare(f);
	ts_bg_tick(f, f->now + TS_BG_MIN10 * 3); /* nothing is due while it waits */
	assert_int_equal(f->out.n, 0);
	ts_bg_do(f, COORD_RO_EV_APPROVE);
	assert_int_equal(f->r.phase, COORD_BG_PREPARE);
	assert_true(ts_ro_sent(f, 0, COORD_RO_CMD_PREPARE));
}

/* Paused: a passed analysis keeps the weight; resumed, the next one moves on. */
static void test_cn_pause_holds_the_weight(void **state)
{
	ts_ro *f = *state;

	cn_init(f, 2);
	cn_stage_all(f);
	cn_weights_ok(f, 0, 0);
	ts_bg_do(f, COORD_RO_EV_PAUSE);
	assert_int_equal(f->r.state, COORD_RO_PAUSED);
	cn_interval(f);
	cn_stats_all(f, 100, 0, 5);
	assert_true(f->r.canary.an_passed);
	assert_int_equal(f->r.canary.weight, 10);
	assert_int_equal(f->r.phase, COORD_CN_BAKE);
	ts_bg_do(f, COORD_RO_EV_RESUME);
	cn_interval(f);
	cn_stats_all(f, 200, 0, 5);
	assert_int_equal(f->r.canary.weight, 30);
	assert_int_equal(f->r.phase, COORD_CN_WEIGHT);
}

/* cn_metric answers the query of the current analysis (off: of an older one) */
static void cn_metric_of(ts_ro *f, uint64_t off, bool ok, const char *msg)
{
	coord_ro_event ev = { .kind = COORD_RO_EV_METRIC, .now_ms = f->now, .ok = ok,
			      .message = msg, .seq = f->r.canary.analyses + 1 - off };

	assert_int_equal(ts_ro_run(f, &ev), OSP_OK);
}

static void cn_metric(ts_ro *f, bool ok, const char *msg)
{
	coord_ro_event ev = { .kind = COORD_RO_EV_METRIC, .now_ms = f->now, .ok = ok,
			      .message = msg, .seq = f->r.canary.analyses + 1 };

	assert_int_equal(ts_ro_run(f, &ev), OSP_OK);
}

/* With an external query the analysis waits for its answer too; a value
 * out of range or no answer in time is a failed analysis; a restart while
 * it is asked asks again. */
static void test_cn_metrics_query(void **state)
{
	ts_ro *f = *state;

	cn_init(f, 2);
	f->r.canary.ext = true;
	cn_stage_all(f);
	cn_weights_ok(f, 0, 0);
	cn_interval(f);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_QUERY), 1);
	assert_int_equal(f->r.canary.ext_state, COORD_RO_EXT_PENDING);
	cn_stats_all(f, 100, 0, 5);
	assert_int_equal(f->r.phase, COORD_CN_ANALYZE); /* still waiting for the query */
	ts_bg_do(f, COORD_RO_EV_START); /* a restart: the query in flight is lost */
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_QUERY), 1);
	cn_metric(f, true, "value 0.999");
	assert_true(f->r.canary.an_passed);
	assert_non_null(strstr(ts_ro_event(f, "canary.analysis"), "metrics query: value 0.999"));
	assert_int_equal(f->r.canary.weight, 30);
	cn_metric(f, false, "late"); /* its analysis is over: ignored */
	assert_int_equal(f->out.n, 0);
	cn_weights_ok(f, 100, 0);
	cn_interval(f);
	cn_stats_all(f, 200, 0, 5);
	cn_metric_of(f, 1, true, "value 1 (asked for the analysis before)");
	assert_int_equal(f->out.n, 0); /* not this analysis's answer */
	assert_int_equal(f->r.phase, COORD_CN_ANALYZE);
	cn_metric(f, false, "value 0.5 below 0.99");
	assert_false(f->r.canary.an_passed);
	assert_non_null(strstr(ts_ro_event(f, "canary.analysis"),
				"metrics query: value 0.5 below 0.99"));
	cn_interval(f);
	cn_stats_all(f, 300, 0, 5);
	ts_bg_tick(f, f->now + 15 * TS_BG_SEC + 1); /* no answer */
	assert_int_equal(f->r.phase, COORD_CN_RESET);
	assert_non_null(strstr(f->r.reason, "metrics query: no answer in time"));
}

static void test_cn_next_weight(void **state)
{
	coord_ro_canary c = { .initial = 5, .step = 10, .max = 100 };

	(void)state;
	assert_int_equal(coord_ro_canary_next_weight(&c, 5), 15);
	assert_int_equal(coord_ro_canary_next_weight(&c, 95), 100);
	assert_int_equal(coord_ro_canary_next_weight(&c, 100), 100);
	c.step = 0;
	assert_int_equal(coord_ro_canary_next_weight(&c, 5), 5);
	assert_true(coord_ro_slotted(COORD_RO_CANARY));
	assert_false(coord_ro_slotted(COORD_RO_ROLLING));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cn_good_canary_promotes, ts_ro_setup,
						ts_ro_teardown),
		cmocka_unit_test_setup_teardown(test_cn_errors_reset_at_threshold, ts_ro_setup,
						ts_ro_teardown),
		cmocka_unit_test_setup_teardown(test_cn_weight_refused_resets, ts_ro_setup,
						ts_ro_teardown),
		cmocka_unit_test_setup_teardown(test_cn_weight_unanswered, ts_ro_setup,
						ts_ro_teardown),
		cmocka_unit_test_setup_teardown(test_cn_no_traffic_is_a_failed_check, ts_ro_setup,
						ts_ro_teardown),
		cmocka_unit_test_setup_teardown(test_cn_latency_ceiling, ts_ro_setup,
						ts_ro_teardown),
		cmocka_unit_test_setup_teardown(test_cn_missing_and_restarted_counters,
						ts_ro_setup, ts_ro_teardown),
		cmocka_unit_test_setup_teardown(test_cn_abort_resets, ts_ro_setup, ts_ro_teardown),
		cmocka_unit_test_setup_teardown(test_cn_promotion_refused_resets, ts_ro_setup,
						ts_ro_teardown),
		cmocka_unit_test_setup_teardown(test_cn_gate_before_promotion, ts_ro_setup,
						ts_ro_teardown),
		cmocka_unit_test_setup_teardown(test_cn_pause_holds_the_weight, ts_ro_setup,
						ts_ro_teardown),
		cmocka_unit_test_setup_teardown(test_cn_metrics_query, ts_ro_setup, ts_ro_teardown),
		cmocka_unit_test(test_cn_next_weight),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
