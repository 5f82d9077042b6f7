/*
 * test_coord_rollout_deadline.c - what the glue asks the engine
 * (coordinator/engine/): coord_ro_next_deadline, for every phase, when the
 * rollout next needs a TICK or a SCALE_DOWN, and "never" where no time
 * event would change anything (coord_engine_tick asks only this, so each
 * value here is when a real coordinator acts); and coord_ro_watching,
 * coord_ro_switch_undecided, coord_ro_scale_down_pending. Every event of
 * these tests (and of every other engine test) also runs
 * ts_ro_check_deadline: a ms before the deadline the event changes nothing,
 * at the deadline it does.
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

#define SEC 1000
#define MIN10 (10 * 60 * SEC)

/* deadline returns coord_ro_next_deadline and checks its kind. */
static int64_t deadline(const ts_ro *f, coord_ro_event_kind want)
{
	coord_ro_event_kind kind = COORD_RO_EV_RESUME; /* overwritten */
	int64_t at = coord_ro_next_deadline(&f->r, &kind);

	assert_int_equal(kind, want);
	return at;
}

static void assert_never(const ts_ro *f)
{
	assert_true(deadline(f, COORD_RO_EV_TICK) == COORD_RO_NEVER);
}

/* at moves the clock to t and applies kind. */
static void at(ts_ro *f, int64_t t, coord_ro_event_kind kind)
{
	f->now = t;
	assert_int_equal(ts_ro_apply(f, kind), OSP_OK);
}

static void test_coord_rollout_deadline_none(void **state)
{
	ts_ro *f = *state;
	coord_ro_event_kind kind = COORD_RO_EV_RESUME;

	assert_true(coord_ro_next_deadline(NULL, &kind) == COORD_RO_NEVER);
	assert_int_equal(kind, COORD_RO_EV_TICK);
	ts_ro_init(f, 2);
	assert_true(coord_ro_next_deadline(&f->r, NULL) == COORD_RO_NEVER); /* kind optional */
	/* queued behind another rollout: nothing outstanding */
	assert_never(f);
	/* terminal: nothing, whatever its fields say */
	f->r.state = COORD_RO_FAILED;
	f->steps[0].cmd = COORD_RO_CMD_STAGE;
	assert_never(f);
}

/* Rolling: the progress deadline of each outstanding stage and revert,
 * paused or not; none without a progress deadline. */
static void test_coord_rollout_deadline_rolling(void **state)
{
	ts_ro *f = *state;
	int64_t t0;

	ts_ro_init(f, 3);
	f->r.batch = 1;
	f->r.max_failures = 1;
	t0 = f->now;
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_START), OSP_OK);
	assert_int_equal(deadline(f, COORD_RO_EV_TICK), t0 + MIN10 + 1);
	/* paused: no new batch, but the stage in flight still runs out */
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_PAUSE), OSP_OK);
	assert_int_equal(deadline(f, COORD_RO_EV_TICK), t0 + MIN10 + 1);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_RESUME), OSP_OK);
	/* without a progress deadline the engine waits for ever */
	f->r.progress_deadline_ms = 0;
	assert_never(f);
	f->r.progress_deadline_ms = MIN10;
	/* the next batch counts from its own stage */
	f->now += 5 * SEC;
	ts_ro_ok(f, 0);
	assert_int_equal(f->steps[1].cmd, COORD_RO_CMD_STAGE);
	assert_int_equal(deadline(f, COORD_RO_EV_TICK), t0 + 5 * SEC + MIN10 + 1);
	/* a failed stage: its revert has the deadline */
	f->now += SEC;
	ts_ro_fail(f, 1, "health check failed");
	assert_int_equal(f->steps[1].cmd, COORD_RO_CMD_REVERT);
	assert_int_equal(f->steps[2].cmd, COORD_RO_CMD_STAGE); /* within budget: goes on */
	assert_int_equal(deadline(f, COORD_RO_EV_TICK), t0 + 6 * SEC + MIN10 + 1);
	/* at the deadline both run out (the revert stays in the log) */
	at(f, t0 + 6 * SEC + MIN10 + 1, COORD_RO_EV_TICK);
	assert_int_equal(f->steps[1].cmd, COORD_RO_CMD_NONE);
	assert_int_equal(f->steps[2].state, COORD_STEP_UNREACHABLE);
	assert_true(coord_ro_terminal(f->r.state)); /* 2 failures over a budget of 1 */
	assert_never(f);
}

/* Recreate: the stop of every member, then the stage of every stopped one. */
static void test_coord_rollout_deadline_recreate(void **state)
{
	ts_ro *f = *state;
	int64_t t0 = f->now;

	ts_ro_init(f, 2);
	f->r.strategy = COORD_RO_RECREATE;
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_START), OSP_OK);
	assert_int_equal(f->steps[0].cmd, COORD_RO_CMD_STOP);
	assert_int_equal(deadline(f, COORD_RO_EV_TICK), t0 + MIN10 + 1);
	f->now += SEC;
	ts_ro_ok(f, 0);
	assert_int_equal(deadline(f, COORD_RO_EV_TICK), t0 + MIN10 + 1); /* web-2's stop */
	f->now += SEC;
	ts_ro_ok(f, 1);
	assert_int_equal(f->steps[0].cmd, COORD_RO_CMD_STAGE);
	assert_int_equal(deadline(f, COORD_RO_EV_TICK), t0 + 2 * SEC + MIN10 + 1);
}

/* Rolling's post-deploy watch ends a ms after watch_until; going back, the
 * reverts have the deadline. */
static void test_coord_rollout_deadline_watch(void **state)
{
	ts_ro *f = *state;
	int64_t end;
	size_t i;

	ts_ro_init(f, 2);
	f->r.batch = 2;
	f->r.rollback_window_ms = 2 * 60 * SEC;
	f->r.auto_rollback = true;
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_START), OSP_OK);
	f->now += SEC;
	ts_ro_ok(f, 0);
	ts_ro_ok(f, 1);
	assert_int_equal(f->r.phase, COORD_RO_WATCH);
	end = f->r.watch_until_ms;
	assert_int_equal(end, f->now + 2 * 60 * SEC);
	assert_int_equal(deadline(f, COORD_RO_EV_TICK), end + 1);
	at(f, end, COORD_RO_EV_TICK); /* the last ms of the window: still watching */
	assert_int_equal(f->r.state, COORD_RO_RUNNING);
	at(f, end + 1, COORD_RO_EV_TICK);
	assert_int_equal(f->r.state, COORD_RO_SUCCEEDED);
	assert_never(f);
	/* again, and an operator's rollback inside the window */
	ts_ro_init(f, 2);
	f->r.batch = 2;
	f->r.rollback_window_ms = 2 * 60 * SEC;
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_START), OSP_OK);
	ts_ro_ok(f, 0);
	ts_ro_ok(f, 1);
	f->now += 30 * SEC;
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_ROLLBACK), OSP_OK);
	assert_int_equal(f->r.phase, COORD_RO_BACK);
	for (i = 0; i < 2; i++)
		assert_int_equal(f->steps[i].cmd, COORD_RO_CMD_REVERT);
	assert_int_equal(deadline(f, COORD_RO_EV_TICK), f->now + MIN10 + 1);
}

/* Blue-green: stage, prepare (the prepare deadline, not the PREPAREs'
 * progress deadline), commit (the DECIDEs'), verify, then the scale-down
 * time (SCALE_DOWN) and the scale-downs' own deadline. */
static void test_coord_rollout_deadline_blue_green(void **state)
{
	ts_ro *f = *state;
	int64_t t, sd;
	size_t i;

	ts_bg_init(f, 2, 2, 0);
	ts_bg_do(f, COORD_RO_EV_START);
	assert_int_equal(deadline(f, COORD_RO_EV_TICK), f->now + MIN10 + 1);
	f->now += SEC;
	ts_bg_stage_all(f);
	assert_int_equal(f->r.phase, COORD_BG_PREPARE);
	t = f->r.prepare_started_ms;
	assert_int_equal(deadline(f, COORD_RO_EV_TICK), t + 30 * SEC + 1);
	/* no prepare deadline set: the default */
	f->r.prepare_deadline_ms = 0;
	assert_int_equal(deadline(f, COORD_RO_EV_TICK), t + COORD_RO_PREPARE_DEADLINE_MS + 1);
	f->r.prepare_deadline_ms = 30 * SEC;
	f->now += SEC;
	ts_bg_vote_all(f);
	assert_int_equal(f->r.phase, COORD_BG_COMMIT);
	assert_int_equal(deadline(f, COORD_RO_EV_TICK), f->now + MIN10 + 1);
	f->now += SEC;
	ts_bg_ack_all(f);
	assert_int_equal(f->r.phase, COORD_BG_VERIFY);
	assert_int_equal(deadline(f, COORD_RO_EV_TICK), f->r.verify_until_ms + 1);
	at(f, f->r.verify_until_ms + 1, COORD_RO_EV_TICK);
	assert_int_equal(f->r.state, COORD_RO_SUCCEEDED);
	/* the old slots stop at scale_down_at_ms: the one event a terminal
	 * rollout takes */
	sd = f->r.scale_down_at_ms;
	assert_int_equal(sd, f->now + TS_BG_MIN10 - TS_BG_MIN5);
	assert_int_equal(deadline(f, COORD_RO_EV_SCALE_DOWN), sd);
	at(f, sd, COORD_RO_EV_SCALE_DOWN);
	for (i = 0; i < 2; i++)
		assert_int_equal(f->steps[i].cmd, COORD_RO_CMD_SCALE_DOWN);
	assert_int_equal(deadline(f, COORD_RO_EV_TICK), sd + MIN10 + 1);
	ts_ro_ok(f, 0);
	assert_int_equal(deadline(f, COORD_RO_EV_TICK), sd + MIN10 + 1); /* web-2's */
	ts_ro_ok(f, 1);
	assert_never(f);
}

/* Blue-green: waiting at its switch gate needs no clock; a switch back has
 * its own prepare deadline. */
static void test_coord_rollout_deadline_blue_green_gate_back(void **state)
{
	ts_ro *f = *state;

	ts_bg_init(f, 2, 2, 0);
	f->r.switch_gate = true;
	ts_bg_do(f, COORD_RO_EV_START);
	ts_ro_ok(f, 0);
	ts_ro_ok(f, 1);
	assert_int_equal(f->r.state, COORD_RO_WAITING_APPROVAL);
	assert_never(f);
	ts_bg_switched(f, 2, 0);
	f->now += SEC;
	ts_bg_health(f, 0, false, "green", "health checks failing");
	assert_int_equal(f->r.phase, COORD_BG_BACK_PREPARE);
	assert_int_equal(deadline(f, COORD_RO_EV_TICK), f->now + 30 * SEC + 1);
	at(f, f->now + 30 * SEC + 1, COORD_RO_EV_TICK); /* nobody voted: decided */
	assert_int_equal(f->r.decision, COORD_RO_DECISION_ABORT);
	assert_int_equal(f->r.phase, COORD_BG_BACK_COMMIT);
	assert_int_equal(deadline(f, COORD_RO_EV_TICK), f->now + MIN10 + 1);
}

/* canary_init: 2 nodes, weights 10 then 50, 60 s intervals, threshold 2. */
static void canary_init(ts_ro *f)
{
	ts_bg_init(f, 2, 2, 0);
	f->r.strategy = COORD_RO_CANARY;
	f->r.canary.initial = 10;
	f->r.canary.step = 40;
	f->r.canary.max = 50;
	f->r.canary.interval_ms = 60 * SEC;
	f->r.canary.threshold = 2;
	f->r.canary.min_requests = 1;
}

/* Canary: the weight's acks (progress deadline), the bake interval (at
 * step_until_ms), the analysis (a ms after its window), the reset. */
static void test_coord_rollout_deadline_canary(void **state)
{
	ts_ro *f = *state;
	int64_t t;

	canary_init(f);
	ts_bg_do(f, COORD_RO_EV_START);
	f->now += SEC;
	ts_ro_ok(f, 0);
	ts_ro_ok(f, 1);
	assert_int_equal(f->r.phase, COORD_CN_WEIGHT);
	assert_int_equal(deadline(f, COORD_RO_EV_TICK), f->now + MIN10 + 1);
	f->now += SEC;
	ts_ro_ok(f, 0);
	ts_ro_ok(f, 1);
	assert_int_equal(f->r.phase, COORD_CN_BAKE);
	t = f->r.canary.step_until_ms;
	assert_int_equal(t, f->now + 60 * SEC);
	assert_int_equal(deadline(f, COORD_RO_EV_TICK), t); /* due at the interval's end */
	/* paused, a canary is still analysed */
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_PAUSE), OSP_OK);
	assert_int_equal(deadline(f, COORD_RO_EV_TICK), t);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_RESUME), OSP_OK);
	at(f, t, COORD_RO_EV_TICK);
	assert_int_equal(f->r.phase, COORD_CN_ANALYZE);
	/* the counters have 15 s (less than the progress deadline) */
	assert_int_equal(f->r.canary.step_until_ms, t + 15 * SEC);
	assert_int_equal(deadline(f, COORD_RO_EV_TICK), t + 15 * SEC + 1);
	at(f, t + 15 * SEC + 1, COORD_RO_EV_TICK); /* nobody answered: failed once */
	assert_int_equal(f->r.canary.failed_checks, 1);
	assert_int_equal(f->r.phase, COORD_CN_BAKE);
	assert_int_equal(deadline(f, COORD_RO_EV_TICK), f->now + 60 * SEC);
	/* an abort resets the weights: their acks have the deadline */
	f->now += SEC;
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_ABORT), OSP_OK);
	assert_int_equal(f->r.phase, COORD_CN_RESET);
	assert_int_equal(deadline(f, COORD_RO_EV_TICK), f->now + MIN10 + 1);
	ts_ro_ok(f, 0);
	ts_ro_ok(f, 1);
	assert_int_equal(f->r.state, COORD_RO_ABORTED);
	assert_never(f);
}

/* Canary: waiting at the promotion gate needs no clock. */
static void test_coord_rollout_deadline_canary_gate(void **state)
{
	ts_ro *f = *state;
	coord_ro_stats st = { .requests = 100, .proxy_start = 7 };
	int64_t t;
	size_t i;

	canary_init(f);
	f->r.canary.initial = 50; /* the only weight */
	f->r.switch_gate = true;
	ts_bg_do(f, COORD_RO_EV_START);
	ts_ro_ok(f, 0);
	ts_ro_ok(f, 1);
	for (i = 0; i < 2; i++) {
		coord_ro_event ev = { .kind = COORD_RO_EV_RESULT, .now_ms = f->now,
				      .node = f->steps[i].node, .seq = f->steps[i].seq, .ok = true,
				      .stats = &st };

		assert_int_equal(ts_ro_run(f, &ev), OSP_OK);
	}
	t = f->r.canary.step_until_ms;
	at(f, t, COORD_RO_EV_TICK);
	st.requests = 200;
	for (i = 0; i < 2; i++) {
		coord_ro_event ev = { .kind = COORD_RO_EV_RESULT, .now_ms = f->now,
				      .node = f->steps[i].node, .seq = f->steps[i].seq, .ok = true,
				      .stats = &st };

		assert_int_equal(ts_ro_run(f, &ev), OSP_OK);
	}
	assert_int_equal(f->r.phase, COORD_CN_GATE);
	assert_int_equal(f->r.state, COORD_RO_WAITING_APPROVAL);
	assert_never(f);
	/* approved: the promotion switch's prepare deadline */
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_APPROVE), OSP_OK);
	assert_int_equal(f->r.phase, COORD_BG_PREPARE);
	assert_int_equal(deadline(f, COORD_RO_EV_TICK), f->now + 30 * SEC + 1);
}

/* The glue's other questions: whether heartbeats can matter now, whether a
 * switch may still be decided, whether scale-downs keep a finished rollout. */
static void test_coord_rollout_deadline_glue_questions(void **state)
{
	ts_ro *f = *state;
	int64_t sd;

	assert_false(coord_ro_watching(NULL));
	assert_false(coord_ro_switch_undecided(NULL));
	assert_false(coord_ro_scale_down_pending(NULL));
	/* rolling: health matters in the watch only, not on the way back */
	ts_ro_init(f, 2);
	f->r.batch = 2;
	f->r.rollback_window_ms = 60 * SEC;
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_START), OSP_OK);
	assert_false(coord_ro_watching(&f->r));
	ts_ro_ok(f, 0);
	ts_ro_ok(f, 1);
	assert_true(coord_ro_watching(&f->r));
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_ROLLBACK), OSP_OK);
	assert_false(coord_ro_watching(&f->r));
	/* blue-green: the switch is undecided while votes come in; health
	 * matters in verify; the finished rollout stays for its scale-downs */
	ts_bg_init(f, 2, 2, 0);
	ts_bg_stage_all(f);
	assert_true(coord_ro_switch_undecided(&f->r));
	assert_false(coord_ro_watching(&f->r));
	ts_bg_vote_all(f);
	assert_false(coord_ro_switch_undecided(&f->r));
	ts_bg_ack_all(f);
	assert_true(coord_ro_watching(&f->r));
	assert_false(coord_ro_scale_down_pending(&f->r));
	at(f, f->r.verify_until_ms + 1, COORD_RO_EV_TICK);
	assert_false(coord_ro_watching(&f->r));
	assert_false(coord_ro_switch_undecided(&f->r));
	assert_true(coord_ro_scale_down_pending(&f->r)); /* not sent yet */
	sd = f->r.scale_down_at_ms;
	at(f, sd, COORD_RO_EV_SCALE_DOWN);
	assert_true(coord_ro_scale_down_pending(&f->r)); /* not answered yet */
	ts_ro_ok(f, 0);
	assert_true(coord_ro_scale_down_pending(&f->r));
	ts_ro_ok(f, 1);
	assert_false(coord_ro_scale_down_pending(&f->r));
	/* a canary analysing is not watching heartbeats */
	canary_init(f);
	ts_bg_do(f, COORD_RO_EV_START);
	ts_ro_ok(f, 0);
	ts_ro_ok(f, 1);
	assert_int_equal(f->r.phase, COORD_CN_WEIGHT);
	assert_false(coord_ro_watching(&f->r));
}

#define FX_TEST(fn) cmocka_unit_test_setup_teardown(fn, ts_ro_setup, ts_ro_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(test_coord_rollout_deadline_none),
		FX_TEST(test_coord_rollout_deadline_rolling),
		FX_TEST(test_coord_rollout_deadline_recreate),
		FX_TEST(test_coord_rollout_deadline_watch),
		FX_TEST(test_coord_rollout_deadline_blue_green),
		FX_TEST(test_coord_rollout_deadline_blue_green_gate_back),
		FX_TEST(test_coord_rollout_deadline_canary),
		FX_TEST(test_coord_rollout_deadline_canary_gate),
		FX_TEST(test_coord_rollout_deadline_glue_questions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
