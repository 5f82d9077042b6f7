/* test_coord_rollout_bg_back.c - unit tests for coordinator/engine/coord_rollout_bg.c:
 * the blue-green rollout after (or instead of) the forward switch: verify,
 * switch back on bad health, operator rollback and abort, scale-down of the
 * old slot; driven by events, no sockets, no clock. The forward switch is in
 * test_coord_rollout_bg.c; the helpers in test_support_rollout_bg.h. */
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

static void test_coord_rollout_bg_scale_down(void **state)
{
	ts_ro *f = *state;
	uint64_t seq;
	size_t i;

	ts_bg_switched(f, 3, 0);
	ts_bg_none(f, COORD_RO_EV_SCALE_DOWN, OSP_ESTATE); /* not succeeded */
	ts_bg_tick(f, f->r.verify_until_ms + 1);
	ts_ro_assert_done(f, COORD_RO_SUCCEEDED);
	/* Terminal: ticks and control events change nothing; not due yet. */
	f->now = f->r.scale_down_at_ms - 1;
	ts_bg_none(f, COORD_RO_EV_TICK, OSP_OK);
	ts_bg_none(f, COORD_RO_EV_SCALE_DOWN, OSP_ESTATE);
	ts_bg_none(f, COORD_RO_EV_ROLLBACK, OSP_ESTATE);
	ts_bg_none(f, COORD_RO_EV_START, OSP_ESTATE);
	assert_false(f->r.scale_down_sent);
	f->now++;
	ts_bg_do(f, COORD_RO_EV_SCALE_DOWN);
	assert_true(f->r.scale_down_sent);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 3);
	for (i = 0; i < 3; i++)
		assert_true(ts_ro_sent(f, i, COORD_RO_CMD_SCALE_DOWN));
	assert_string_equal(ts_ro_event(f, "scale_down"), "web-1: stopping slot blue (1.0)");
	assert_int_equal(f->r.state, COORD_RO_SUCCEEDED);
	ts_bg_none(f, COORD_RO_EV_SCALE_DOWN, OSP_OK); /* once only */
	/* Results are taken on the terminal rollout; a refusal is recorded. */
	seq = f->steps[0].seq;
	ts_ro_ok(f, 0);
	assert_int_equal(f->steps[0].cmd, COORD_RO_CMD_NONE);
	assert_string_equal(ts_ro_event(f, "scale_down.done"), "web-1: slot blue stopped");
	ts_bg_ignored(f, 0, seq, false, "dup");
	ts_ro_fail(f, 1, "slot blue is active (generation 7)");
	assert_int_equal(f->steps[1].cmd, COORD_RO_CMD_NONE);
	assert_string_equal(f->steps[1].reason,
			    "scale-down of slot blue refused: slot blue is active (generation 7)");
	assert_non_null(ts_ro_event(f, "scale_down.refused"));
	assert_int_equal(f->r.state, COORD_RO_SUCCEEDED);
	assert_int_equal(f->steps[1].state, COORD_STEP_DONE);
	assert_int_equal(f->steps[2].cmd, COORD_RO_CMD_SCALE_DOWN);
}

static void test_coord_rollout_bg_unhealthy_switch_back(void **state)
{
	ts_ro *f = *state;
	int64_t t0;
	size_t i;

	ts_bg_switched(f, 3, 0);
	/* A report about another slot (the old one) does not count. */
	ts_bg_health(f, 1, false, "blue", "down");
	assert_int_equal(f->out.n, 0);
	ts_bg_health(f, 1, false, "green", "GET /health: 503");
	assert_string_equal(ts_ro_event(f, "step.unhealthy"),
			    "web-2: unhealthy on slot green: GET /health: 503");
	assert_string_equal(ts_ro_event(f, "rollout.switching_back"),
			    "switching back after web-2: unhealthy on slot green: GET /health: 503");
	assert_int_equal(f->r.phase, COORD_BG_BACK_PREPARE);
	assert_int_equal(f->r.switch_no, 2);
	assert_string_equal(f->r.switch_id, "ro-1-s2");
	assert_int_equal(f->r.decision, COORD_RO_DECISION_NONE);
	assert_int_equal(f->r.prepare_started_ms, f->now);
	assert_string_equal(ts_ro_event(f, "switch.prepare"),
			    "switch ro-1-s2: 3 nodes prepare to switch back");
	for (i = 0; i < 3; i++) {
		assert_true(ts_ro_sent(f, i, COORD_RO_CMD_PREPARE));
		assert_string_equal(f->steps[i].to_slot, "blue");
		assert_int_equal(f->steps[i].state, COORD_STEP_SWITCHING);
		assert_int_equal(f->steps[i].vote, COORD_RO_VOTE_NONE);
	}
	assert_int_equal(f->r.state, COORD_RO_RUNNING);
	ts_bg_none(f, COORD_RO_EV_ROLLBACK, OSP_OK); /* on its way */
	ts_bg_health(f, 0, false, "green", "x"); /* not verifying */
	assert_int_equal(f->out.n, 0);
	/* Going back is not blocked by a NO, whatever the budget. */
	ts_ro_ok(f, 0);
	ts_ro_fail(f, 1, "slot blue: not running");
	ts_ro_ok(f, 2);
	ts_bg_assert_decided(f, COORD_RO_DECISION_COMMIT, 3);
	assert_int_equal(f->r.phase, COORD_BG_BACK_COMMIT);
	assert_true(f->steps[0].decide_commit && f->steps[2].decide_commit);
	assert_false(f->steps[1].decide_commit);
	assert_string_equal(f->steps[1].reason, "slot blue: not running; still on 2.0");
	t0 = f->now;
	ts_ro_ok(f, 0);
	assert_int_equal(f->steps[0].state, COORD_STEP_REVERTED);
	assert_string_equal(f->steps[0].reason, "switched back to 1.0 (slot blue)");
	assert_string_equal(ts_ro_event(f, "step.switched_back"), "web-1 switched to slot blue");
	f->now = t0 + 25;
	ts_ro_ok(f, 2);
	f->now = t0 + 40;
	ts_ro_ok(f, 1);
	ts_ro_assert_done(f, COORD_RO_ROLLED_BACK);
	assert_string_equal(ts_ro_event(f, "switch.committed"),
			    "switch ro-1-s2 committed: 2 nodes back on the old slot, flip skew 25 ms");
	assert_string_equal(f->r.reason,
			    "switched back to 1.0 after web-2: unhealthy on slot green: GET /health: "
			    "503; still on 2.0: web-2 voted no: slot blue: not running");
	assert_int_equal(f->steps[1].state, COORD_STEP_FAILED);
	assert_int_equal(f->r.scale_down_at_ms, 0);
	ts_bg_none(f, COORD_RO_EV_SCALE_DOWN, OSP_ESTATE);

	/* Nobody can go back: the switch back aborts and the rollout fails. */
	ts_bg_switched(f, 2, 0);
	ts_bg_health(f, 0, false, NULL, NULL); /* no slot: any */
	assert_int_equal(f->r.phase, COORD_BG_BACK_PREPARE);
	ts_ro_fail(f, 0, "blue gone");
	ts_bg_tick(f, f->now + 30 * TS_BG_SEC + 1);
	ts_bg_assert_decided(f, COORD_RO_DECISION_ABORT, 2);
	assert_string_equal(ts_ro_event(f, "switch.decided"),
			    "abort: web-1 voted no: blue gone; web-2: no vote before the prepare "
			    "deadline (30s)");
	ts_bg_ack_all(f);
	ts_ro_assert_done(f, COORD_RO_FAILED);
	assert_string_equal(f->r.reason,
			    "switch back failed: no node voted yes (web-1 voted no: blue gone; web-2: "
			    "no vote before the prepare deadline (30s)), after web-1: unhealthy on slot "
			    "green");
	assert_int_equal(f->r.scale_down_at_ms, 0);
}

static void test_coord_rollout_bg_operator_rollback(void **state)
{
	ts_ro *f = *state;

	ts_bg_init(f, 2, 2, 0);
	ts_bg_stage_all(f);
	ts_bg_none(f, COORD_RO_EV_ROLLBACK, OSP_ESTATE); /* not switched */
	ts_bg_vote_all(f);
	ts_bg_none(f, COORD_RO_EV_ROLLBACK, OSP_ESTATE); /* not settled */
	ts_bg_ack_all(f);
	assert_int_equal(f->r.phase, COORD_BG_VERIFY);
	ts_bg_do(f, COORD_RO_EV_ROLLBACK);
	assert_string_equal(ts_ro_event(f, "rollout.switching_back"),
			    "switching back after a rollback request");
	assert_int_equal(f->r.phase, COORD_BG_BACK_PREPARE);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 2);
	ts_bg_none(f, COORD_RO_EV_ROLLBACK, OSP_OK);
	ts_bg_none(f, COORD_RO_EV_ABORT, OSP_OK); /* already going back */
	ts_bg_none(f, COORD_RO_EV_PAUSE, OSP_ESTATE);
	ts_bg_vote_all(f);
	ts_bg_assert_decided(f, COORD_RO_DECISION_COMMIT, 2);
	ts_bg_ack_all(f);
	ts_ro_assert_done(f, COORD_RO_ROLLED_BACK);
	assert_string_equal(f->r.reason, "switched back to 1.0 after a rollback request");
	assert_int_equal(f->steps[0].state, COORD_STEP_REVERTED);
	assert_int_equal(f->steps[1].state, COORD_STEP_REVERTED);
	ts_bg_none(f, COORD_RO_EV_ROLLBACK, OSP_ESTATE);
}

static void test_coord_rollout_bg_abort(void **state)
{
	ts_ro *f = *state;
	uint64_t seq;

	/* While staging: in-flight stages finish, no switch. */
	ts_bg_init(f, 3, 1, 0);
	ts_bg_do(f, COORD_RO_EV_START);
	ts_bg_do(f, COORD_RO_EV_ABORT);
	assert_true(f->r.abort_requested);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_DONE), 0);
	ts_ro_ok(f, 0);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 0);
	ts_ro_assert_done(f, COORD_RO_ABORTED);
	assert_string_equal(f->r.reason,
			    "aborted by request: 1 of 3 nodes staged 2.0, traffic untouched");
	assert_int_equal(f->r.switch_no, 0);

	/* Paused while staging: the switch opens only once resumed. */
	ts_bg_init(f, 2, 1, 0);
	ts_bg_do(f, COORD_RO_EV_START);
	ts_bg_do(f, COORD_RO_EV_PAUSE);
	ts_ro_ok(f, 0);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 0);
	ts_bg_do(f, COORD_RO_EV_RESUME);
	assert_true(ts_ro_sent(f, 1, COORD_RO_CMD_STAGE));
	ts_bg_do(f, COORD_RO_EV_PAUSE);
	ts_ro_ok(f, 1);
	assert_int_equal(f->r.phase, COORD_BG_STAGE);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 0);
	ts_bg_do(f, COORD_RO_EV_RESUME);
	assert_int_equal(f->r.phase, COORD_BG_PREPARE);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 2);
	/* A switch does not pause. */
	ts_bg_none(f, COORD_RO_EV_PAUSE, OSP_ESTATE);
	ts_bg_none(f, COORD_RO_EV_RESUME, OSP_ESTATE);
	/* While preparing: the switch is aborted at once. */
	seq = f->steps[1].seq;
	ts_ro_ok(f, 0);
	ts_bg_do(f, COORD_RO_EV_ABORT);
	ts_bg_assert_decided(f, COORD_RO_DECISION_ABORT, 2);
	assert_string_equal(ts_ro_event(f, "switch.decided"), "abort: aborted by request");
	assert_int_equal(f->steps[1].state, COORD_STEP_SWITCHING); /* no vote, not failed */
	ts_bg_none(f, COORD_RO_EV_ABORT, OSP_OK);
	ts_bg_ignored(f, 1, seq, true, NULL); /* late vote */
	ts_bg_ack_all(f);
	ts_ro_assert_done(f, COORD_RO_ABORTED);
	assert_string_equal(f->r.reason,
			    "aborted by request: switch ro-1-s1 aborted, traffic untouched");
	assert_int_equal(f->steps[0].state, COORD_STEP_READY);
	assert_int_equal(f->steps[1].state, COORD_STEP_READY);

	/* Decided and being applied, abort waits for verify; in verify it
	 * switches back (test_coord_rollout_watch.c follows it to the end). */
	ts_bg_init(f, 2, 2, 0);
	ts_bg_stage_all(f);
	ts_bg_vote_all(f);
	ts_bg_none(f, COORD_RO_EV_ABORT, OSP_ESTATE);
	ts_bg_ack_all(f);
	assert_int_equal(f->r.phase, COORD_BG_VERIFY);
	ts_bg_do(f, COORD_RO_EV_ABORT);
	assert_int_equal(f->r.phase, COORD_BG_BACK_PREPARE);
	assert_int_equal(f->r.ending, COORD_RO_ABORTED);
	assert_false(f->r.abort_requested);
}

static void test_coord_rollout_bg_health_outside_verify(void **state)
{
	ts_ro *f = *state;

	ts_bg_init(f, 2, 1, 0);
	ts_bg_health(f, 0, false, "green", "x"); /* pending */
	ts_bg_do(f, COORD_RO_EV_START);
	ts_bg_health(f, 0, false, "green", "x"); /* staging */
	assert_int_equal(f->out.n, 0);
	ts_ro_ok(f, 0);
	ts_ro_ok(f, 1);
	ts_bg_health(f, 0, false, "green", "x"); /* preparing */
	assert_int_equal(f->out.n, 0);
	assert_int_equal(f->r.phase, COORD_BG_PREPARE);
	ts_bg_vote_all(f);
	ts_bg_health(f, 0, false, "green", "x"); /* committing */
	assert_int_equal(f->out.n, 0);
	assert_int_equal(f->r.phase, COORD_BG_COMMIT);
	ts_bg_ack_all(f);
	ts_bg_tick(f, f->r.verify_until_ms + 1);
	ts_ro_assert_done(f, COORD_RO_SUCCEEDED);
	ts_bg_health(f, 0, false, "green", "x"); /* succeeded */
	assert_int_equal(f->out.n, 0);
	assert_int_equal(f->r.state, COORD_RO_SUCCEEDED);

	/* Without a rollback window there is nothing to verify. */
	ts_bg_init(f, 1, 1, 0);
	f->r.rollback_window_ms = 0;
	f->r.scale_down_delay_ms = 0;
	ts_bg_stage_all(f);
	ts_bg_vote_all(f);
	ts_bg_ack_all(f);
	ts_ro_assert_done(f, COORD_RO_SUCCEEDED);
	assert_non_null(ts_ro_event(f, "switch.committed"));
	assert_int_equal(f->r.scale_down_at_ms, f->now);
}

#define FX_TEST(fn) cmocka_unit_test_setup_teardown(fn, ts_ro_setup, ts_ro_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(test_coord_rollout_bg_scale_down),
		FX_TEST(test_coord_rollout_bg_unhealthy_switch_back),
		FX_TEST(test_coord_rollout_bg_operator_rollback),
		FX_TEST(test_coord_rollout_bg_abort),
		FX_TEST(test_coord_rollout_bg_health_outside_verify),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
