/* test_coord_rollout_watch.c - unit tests for coordinator/engine/coord_rollout_watch.c
 * and the rules of issue 9 in the engine: the post-deploy watch of rolling
 * rollouts and its way back, revert targets and slots taken from the
 * node's own answers, voided stages, abort and rollback inside the blue-green
 * verify window, scale-downs kept until answered. Driven by events, no
 * sockets, no clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "coord_rollout.h"
#include "test_support_rollout.h"
#include "test_support_rollout_bg.h"

#define SHA_NEW "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define WATCH_MS (2 * 60 * 1000)

/* watch_init: n rolling steps, batch 100%, a 2 minute watch, auto-rollback. */
static void watch_init(ts_ro *f, size_t n)
{
	ts_ro_init(f, n);
	f->check = NULL;
	f->r.strategy = COORD_RO_ROLLING;
	f->r.batch = 100;
	f->r.batch_pct = true;
	f->r.rollback_window_ms = WATCH_MS;
	f->r.auto_rollback = true;
	memcpy(f->r.sha256, SHA_NEW, 65);
}

/* result reports step i's outstanding command with what the node runs. */
static osp_err result(ts_ro *f, size_t i, bool ok, const char *version, const char *prev)
{
	coord_ro_event ev = {
		.kind = COORD_RO_EV_RESULT,
		.now_ms = f->now,
		.node = f->steps[i].node,
		.seq = f->steps[i].seq,
		.ok = ok,
		.message = ok ? NULL : "health check failed",
		.version = version,
		.prev_version = prev,
	};

	return ts_ro_run(f, &ev);
}

static osp_err health(ts_ro *f, size_t i, bool ok, const char *sha)
{
	coord_ro_event ev = {
		.kind = COORD_RO_EV_HEALTH,
		.now_ms = f->now,
		.node = f->steps[i].node,
		.ok = ok,
		.message = ok ? "healthy" : "health checks failing",
		.sha256 = sha,
	};

	return ts_ro_run(f, &ev);
}

/* watching: every step staged and done; the rollout watches. */
static void watching(ts_ro *f, size_t n)
{
	size_t i;

	watch_init(f, n);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_START), OSP_OK);
	for (i = 0; i < n; i++)
		assert_int_equal(result(f, i, true, "2.0", "1.5"), OSP_OK);
	assert_int_equal(f->r.state, COORD_RO_RUNNING);
	assert_int_equal(f->r.phase, COORD_RO_WATCH);
	assert_int_equal(f->r.watch_until_ms, f->now + WATCH_MS);
	assert_non_null(ts_ro_event(f, "rollout.watching"));
	/* the node's own word, not the inventory's 1.0 */
	assert_string_equal(f->steps[0].prev_version, "1.5");
	assert_string_equal(f->steps[0].version, "2.0");
}

static void test_coord_rollout_watch_passes(void **state)
{
	ts_ro *f = *state;

	watching(f, 3);
	assert_int_equal(health(f, 0, true, SHA_NEW), OSP_OK);
	assert_non_null(ts_ro_event(f, "step.healthy"));
	f->now += WATCH_MS;
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_TICK), OSP_OK);
	assert_int_equal(f->r.state, COORD_RO_RUNNING); /* not past the end yet */
	f->now++;
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_TICK), OSP_OK);
	ts_ro_assert_done(f, COORD_RO_SUCCEEDED);
	assert_string_equal(f->r.reason, "3 nodes on 2.0");
	/* no watch: succeeded at once, as before */
	watch_init(f, 1);
	f->r.rollback_window_ms = 0;
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_START), OSP_OK);
	assert_int_equal(result(f, 0, true, "2.0", "1.0"), OSP_OK);
	ts_ro_assert_done(f, COORD_RO_SUCCEEDED);
}

/* An unhealthy node inside the window rolls every done node back. */
static void test_coord_rollout_watch_unhealthy_rolls_back(void **state)
{
	ts_ro *f = *state;
	size_t i;

	watching(f, 3);
	/* a report about another release (a stale heartbeat) is not this one's */
	assert_int_equal(health(f, 1, false, "cccc"), OSP_OK);
	assert_int_equal(f->out.n, 0);
	assert_int_equal(health(f, 1, false, SHA_NEW), OSP_OK);
	assert_non_null(ts_ro_event(f, "step.unhealthy"));
	assert_non_null(ts_ro_event(f, "rollout.going_back"));
	assert_int_equal(f->r.phase, COORD_RO_BACK);
	for (i = 0; i < 3; i++)
		assert_true(ts_ro_sent(f, i, COORD_RO_CMD_REVERT));
	/* pause and a second unhealthy report change nothing; abort is taken */
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_PAUSE), OSP_ESTATE);
	assert_int_equal(health(f, 2, false, SHA_NEW), OSP_OK);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 0);
	for (i = 0; i < 3; i++) {
		assert_int_equal(f->r.state, COORD_RO_RUNNING);
		assert_int_equal(result(f, i, true, "1.5", NULL), OSP_OK);
		assert_int_equal(f->steps[i].state, COORD_STEP_REVERTED);
		assert_string_equal(f->steps[i].version, "1.5");
	}
	ts_ro_assert_done(f, COORD_RO_ROLLED_BACK);
	assert_non_null(strstr(f->r.reason, "web-2 turned unhealthy on 2.0"));
	assert_non_null(strstr(f->r.reason, "3 nodes reverted (to 1.5)"));
}

static void test_coord_rollout_watch_no_auto_rollback(void **state)
{
	ts_ro *f = *state;

	watching(f, 2);
	f->r.auto_rollback = false;
	assert_int_equal(health(f, 0, false, SHA_NEW), OSP_OK);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 0);
	ts_ro_assert_done(f, COORD_RO_FAILED);
	assert_non_null(strstr(f->r.reason, "auto-rollback is off"));
	assert_int_equal(f->steps[0].state, COORD_STEP_DONE);
}

/* abort and rollback inside the window go back; outside it they do not. */
static void test_coord_rollout_watch_abort_rollback(void **state)
{
	ts_ro *f = *state;

	watching(f, 2);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_ABORT), OSP_OK);
	assert_true(ts_ro_sent(f, 0, COORD_RO_CMD_REVERT) && ts_ro_sent(f, 1, COORD_RO_CMD_REVERT));
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_ABORT), OSP_OK); /* on its way */
	assert_int_equal(result(f, 0, true, "1.5", NULL), OSP_OK);
	/* a failed revert is reported; the rollout still ends */
	assert_int_equal(result(f, 1, false, "2.0", NULL), OSP_OK);
	ts_ro_assert_done(f, COORD_RO_ABORTED);
	assert_non_null(strstr(f->r.reason, "aborted by request during the watch"));
	assert_non_null(strstr(f->r.reason, "web-2 still on 2.0"));

	watching(f, 2);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_ROLLBACK), OSP_OK);
	assert_int_equal(result(f, 0, true, "1.5", NULL), OSP_OK);
	assert_int_equal(result(f, 1, true, "", NULL), OSP_OK); /* stopped: none before */
	ts_ro_assert_done(f, COORD_RO_ROLLED_BACK);
	assert_string_equal(f->steps[1].reason, "stopped (no previous release)");

	/* while batches run, rollback does not fit */
	watch_init(f, 2);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_START), OSP_OK);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_ROLLBACK), OSP_ESTATE);
}

/* A failed stage is reverted to what the node said it ran before. */
static void test_coord_rollout_watch_revert_target_from_node(void **state)
{
	ts_ro *f = *state;

	watch_init(f, 1);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_START), OSP_OK);
	assert_int_equal(result(f, 0, false, "3.0", "2.5"), OSP_OK);
	assert_true(ts_ro_sent(f, 0, COORD_RO_CMD_REVERT));
	assert_non_null(strstr(ts_ro_event(f, "step.failed"), "reverting to 2.5"));
	assert_string_equal(f->steps[0].version, "3.0");
	assert_int_equal(result(f, 0, true, "2.5", NULL), OSP_OK);
	assert_string_equal(f->steps[0].version, "2.5");
	assert_string_equal(ts_ro_event(f, "step.reverted"), "web-1 reverted to 2.5");
	ts_ro_assert_done(f, COORD_RO_FAILED);
}

/* An unanswered stage is voided (CANCEL); its late answers are recorded and
 * change nothing; an unanswered revert is never voided. */
static void test_coord_rollout_watch_voided(void **state)
{
	ts_ro *f = *state;
	uint64_t seq;

	watch_init(f, 2);
	f->r.batch = 1;
	f->r.batch_pct = false;
	f->r.max_failures = 1;
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_START), OSP_OK);
	seq = f->steps[0].seq;
	f->now += 10 * 60 * 1000 + 1;
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_TICK), OSP_OK);
	assert_int_equal(f->steps[0].state, COORD_STEP_UNREACHABLE);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_CANCEL), 1);
	f->steps[0].void_seq = 99; /* the glue queued a revert behind it */
	/* it ran the stage after all: recorded, nothing sent */
	assert_int_equal(ts_ro_result_seq(f, 0, seq, true, NULL), OSP_OK);
	assert_non_null(ts_ro_event(f, "step.late"));
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 0);
	/* then the revert queued behind it */
	{
		coord_ro_event ev = { .kind = COORD_RO_EV_RESULT, .now_ms = f->now,
				      .node = "web-1", .seq = 99, .ok = true, .version = "1.0" };
		assert_int_equal(ts_ro_run(f, &ev), OSP_OK);
	}
	assert_string_equal(ts_ro_event(f, "step.late_revert"), "web-1 came back: 1.0");
	assert_string_equal(f->steps[0].version, "1.0");
	assert_int_equal(f->steps[0].state, COORD_STEP_UNREACHABLE);

	/* a revert that goes unanswered stays in the node's log */
	watch_init(f, 1);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_START), OSP_OK);
	assert_int_equal(result(f, 0, false, "2.0", "1.0"), OSP_OK);
	f->now += 10 * 60 * 1000 + 1;
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_TICK), OSP_OK);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_CANCEL), 0);
	assert_non_null(strstr(f->steps[0].reason, "it reverts when it reconnects"));
	ts_ro_assert_done(f, COORD_RO_FAILED);
}

/* Blue-green: the slot staged into and the active slot come from the
 * node's answer to its stage. */
static void test_coord_rollout_watch_bg_slots_from_node(void **state)
{
	ts_ro *f = *state;
	coord_ro_event ev = { .kind = COORD_RO_EV_RESULT, .ok = true, .slot = "green",
			      .active_slot = "blue", .prev_version = "1.7", .version = "1.7" };

	ts_ro_init(f, 1);
	f->r.strategy = COORD_RO_BLUE_GREEN;
	f->r.batch = 1;
	f->steps[0].slot[0] = '\0'; /* the coordinator does not guess */
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_START), OSP_OK);
	ev.now_ms = f->now;
	ev.node = "web-1";
	ev.seq = f->steps[0].seq;
	assert_int_equal(ts_ro_run(f, &ev), OSP_OK);
	assert_string_equal(f->steps[0].slot, "green");
	assert_string_equal(f->steps[0].old_slot, "blue");
	assert_string_equal(f->steps[0].prev_version, "1.7");
	assert_true(ts_ro_sent(f, 0, COORD_RO_CMD_PREPARE));
	assert_string_equal(f->steps[0].to_slot, "green");
}

/* Blue-green verify: abort switches back and ends aborted. */
static void test_coord_rollout_watch_bg_abort_in_verify(void **state)
{
	ts_ro *f = *state;

	ts_bg_switched(f, 2, 0);
	assert_int_equal(f->r.phase, COORD_BG_VERIFY);
	ts_bg_do(f, COORD_RO_EV_ABORT);
	assert_int_equal(f->r.phase, COORD_BG_BACK_PREPARE);
	assert_true(ts_ro_sent(f, 0, COORD_RO_CMD_PREPARE));
	ts_bg_none(f, COORD_RO_EV_ABORT, OSP_OK); /* on its way */
	ts_ro_ok(f, 0);
	ts_ro_ok(f, 1); /* votes */
	ts_ro_ok(f, 0);
	ts_ro_ok(f, 1); /* acks */
	ts_ro_assert_done(f, COORD_RO_ABORTED);
	assert_non_null(strstr(f->r.reason, "aborted by request"));
	assert_string_equal(f->steps[0].version, "1.0");
}

/* A scale-down unanswered within the progress deadline is given up (the
 * glue keeps the rollout until then). */
static void test_coord_rollout_watch_bg_scale_down_expires(void **state)
{
	ts_ro *f = *state;

	ts_bg_switched(f, 2, 0);
	ts_bg_tick(f, f->r.verify_until_ms + 1);
	f->now = f->r.scale_down_at_ms;
	ts_bg_do(f, COORD_RO_EV_SCALE_DOWN);
	ts_ro_ok(f, 0);
	assert_int_equal(f->steps[1].cmd, COORD_RO_CMD_SCALE_DOWN);
	f->now += 10 * 60 * 1000 + 1;
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_TICK), OSP_OK);
	assert_int_equal(f->steps[1].cmd, COORD_RO_CMD_NONE);
	assert_non_null(ts_ro_event(f, "scale_down.unanswered"));
	assert_int_equal(f->r.state, COORD_RO_SUCCEEDED);
}

#define FX_TEST(fn) cmocka_unit_test_setup_teardown(fn, ts_ro_setup, ts_ro_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(test_coord_rollout_watch_passes),
		FX_TEST(test_coord_rollout_watch_unhealthy_rolls_back),
		FX_TEST(test_coord_rollout_watch_no_auto_rollback),
		FX_TEST(test_coord_rollout_watch_abort_rollback),
		FX_TEST(test_coord_rollout_watch_revert_target_from_node),
		FX_TEST(test_coord_rollout_watch_voided),
		FX_TEST(test_coord_rollout_watch_bg_slots_from_node),
		FX_TEST(test_coord_rollout_watch_bg_abort_in_verify),
		FX_TEST(test_coord_rollout_watch_bg_scale_down_expires),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
