/* test_coord_rollout_bg.c - unit tests for coordinator/engine/coord_rollout_bg.c:
 * the blue-green two-phase switch of the rollout engine forward (stage into
 * the idle slot, prepare and vote, one decision, acks), driven by events, no
 * sockets, no clock. Switch back, rollback, verify, abort and scale-down are
 * in test_coord_rollout_bg_back.c; the helpers in test_support_rollout_bg.h. */
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

static void test_coord_rollout_bg_happy_path(void **state)
{
	ts_ro *f = *state;
	int64_t t0;
	size_t i;

	ts_bg_init(f, 3, 2, 0);
	ts_bg_do(f, COORD_RO_EV_START);
	assert_true(ts_ro_sent(f, 0, COORD_RO_CMD_STAGE) && ts_ro_sent(f, 1, COORD_RO_CMD_STAGE));
	assert_string_equal(ts_ro_event(f, "batch.started"), "batch 1/2: web-1, web-2");
	ts_ro_ok(f, 0);
	assert_int_equal(f->steps[0].state, COORD_STEP_READY); /* not done: traffic untouched */
	assert_string_equal(ts_ro_event(f, "step.ready"), "web-1 staged 2.0 in slot green");
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 0);
	ts_ro_ok(f, 1);
	assert_true(ts_ro_sent(f, 2, COORD_RO_CMD_STAGE));
	assert_int_equal(f->r.phase, COORD_BG_STAGE);
	f->now += TS_BG_SEC;
	ts_ro_ok(f, 2);
	/* Everything staged: switch 1 opens, a PREPARE for every member. */
	assert_int_equal(f->r.phase, COORD_BG_PREPARE);
	assert_string_equal(f->r.switch_id, "ro-1-s1");
	assert_int_equal(f->r.switch_no, 1);
	assert_int_equal(f->r.prepare_started_ms, f->now);
	assert_int_equal(f->r.decision, COORD_RO_DECISION_NONE);
	assert_string_equal(ts_ro_event(f, "switch.prepare"),
			    "switch ro-1-s1: 3 nodes prepare to switch to the new release");
	for (i = 0; i < 3; i++) {
		assert_true(ts_ro_sent(f, i, COORD_RO_CMD_PREPARE));
		assert_true(f->steps[i].in_switch);
		assert_int_equal(f->steps[i].state, COORD_STEP_SWITCHING);
		assert_int_equal(f->steps[i].vote, COORD_RO_VOTE_NONE);
		assert_string_equal(f->steps[i].to_slot, "green");
	}
	ts_ro_ok(f, 1);
	assert_int_equal(f->steps[1].vote, COORD_RO_VOTE_YES);
	assert_string_equal(ts_ro_event(f, "step.voted"), "web-2 voted yes in switch ro-1-s1");
	ts_ro_ok(f, 0);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_DECIDE), 0);
	assert_int_equal(f->r.phase, COORD_BG_PREPARE);
	ts_ro_ok(f, 2);
	ts_bg_assert_decided(f, COORD_RO_DECISION_COMMIT, 3);
	assert_string_equal(ts_ro_event(f, "switch.decided"), "commit: 3 yes");
	assert_int_equal(f->r.phase, COORD_BG_COMMIT);
	for (i = 0; i < 3; i++)
		assert_true(f->steps[i].decide_commit);
	/* Acks: the flip skew is first to last acknowledged apply. */
	t0 = f->now;
	ts_ro_ok(f, 0);
	assert_int_equal(f->steps[0].state, COORD_STEP_DONE);
	assert_int_equal(f->steps[0].acked_ms, t0);
	assert_string_equal(ts_ro_event(f, "step.switched"), "web-1 switched to slot green");
	f->now = t0 + 15;
	ts_ro_ok(f, 2);
	assert_int_equal(f->r.phase, COORD_BG_COMMIT);
	f->now = t0 + 40;
	ts_ro_ok(f, 1);
	assert_int_equal(f->r.first_ack_ms, t0);
	assert_int_equal(f->r.last_ack_ms, t0 + 40);
	assert_int_equal(f->r.phase, COORD_BG_VERIFY);
	assert_int_equal(f->r.verify_until_ms, f->now + TS_BG_MIN5);
	assert_string_equal(ts_ro_event(f, "switch.committed"),
			    "switch ro-1-s1 committed: 3 nodes on slot green, flip skew 40 ms");
	assert_int_equal(f->r.state, COORD_RO_RUNNING);
	/* Verify: healthy reports are recorded; the window runs out. */
	ts_bg_health(f, 0, true, "green", NULL);
	assert_true(f->steps[0].healthy_seen);
	assert_string_equal(ts_ro_event(f, "step.healthy"), "web-1 healthy on slot green");
	ts_bg_health(f, 0, true, "green", NULL);
	assert_int_equal(f->out.n, 0);
	f->now = f->r.verify_until_ms;
	ts_bg_none(f, COORD_RO_EV_TICK, OSP_OK);
	ts_bg_tick(f, f->now + 1);
	ts_ro_assert_done(f, COORD_RO_SUCCEEDED);
	assert_string_equal(f->r.reason, "3 nodes on 2.0 (slot green), flip skew 40 ms");
	assert_int_equal(f->r.scale_down_at_ms, f->now + TS_BG_MIN10 - TS_BG_MIN5);
	assert_false(f->r.scale_down_sent);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 0);
}

/* A rollback while the idle slots still run the release: every step starts
 * ready, nothing is staged, the switch opens at once. */
static void test_coord_rollout_bg_nothing_to_stage(void **state)
{
	ts_ro *f = *state;
	size_t i;

	ts_bg_init(f, 3, 1, 0);
	for (i = 0; i < 3; i++)
		f->steps[i].state = COORD_STEP_READY;
	ts_bg_do(f, COORD_RO_EV_START);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 3);
	assert_int_equal(f->r.phase, COORD_BG_PREPARE);
	for (i = 0; i < 3; i++) {
		assert_true(ts_ro_sent(f, i, COORD_RO_CMD_PREPARE));
		assert_false(ts_ro_sent(f, i, COORD_RO_CMD_STAGE));
	}
}

static void test_coord_rollout_bg_no_vote_aborts(void **state)
{
	ts_ro *f = *state;
	size_t i;

	ts_bg_init(f, 3, 3, 0);
	ts_bg_stage_all(f);
	ts_ro_ok(f, 0);
	ts_ro_fail(f, 1, "slot green: GET /health 503");
	assert_int_equal(f->steps[1].vote, COORD_RO_VOTE_NO);
	assert_string_equal(ts_ro_event(f, "step.voted"),
			    "web-2 voted no in switch ro-1-s1: slot green: GET /health 503");
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_DECIDE), 0);
	ts_ro_ok(f, 2);
	ts_bg_assert_decided(f, COORD_RO_DECISION_ABORT, 3);
	assert_string_equal(ts_ro_event(f, "switch.decided"),
			    "abort: web-2 voted no: slot green: GET /health 503");
	/* Everyone gets abort, the YES voters too. */
	for (i = 0; i < 3; i++)
		assert_false(f->steps[i].decide_commit);
	assert_int_equal(f->steps[1].state, COORD_STEP_FAILED);
	assert_string_equal(f->steps[1].reason, "slot green: GET /health 503");
	assert_non_null(ts_ro_event(f, "step.failed"));
	ts_ro_ok(f, 0);
	assert_int_equal(f->steps[0].state, COORD_STEP_READY);
	assert_string_equal(f->steps[0].reason, "switch aborted");
	ts_ro_ok(f, 1);
	assert_int_equal(f->steps[1].state, COORD_STEP_FAILED);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_DONE), 0);
	ts_ro_ok(f, 2);
	ts_ro_assert_done(f, COORD_RO_FAILED);
	assert_string_equal(f->r.reason,
			    "switch aborted: web-2 voted no: slot green: GET /health 503");
	assert_int_equal(f->r.scale_down_at_ms, 0);
	for (i = 0; i < 3; i++)
		assert_int_not_equal(f->steps[i].state, COORD_STEP_DONE);
	ts_bg_none(f, COORD_RO_EV_SCALE_DOWN, OSP_ESTATE);
}

static void test_coord_rollout_bg_no_vote_within_budget(void **state)
{
	ts_ro *f = *state;

	ts_bg_init(f, 3, 3, 1);
	ts_bg_stage_all(f);
	ts_ro_ok(f, 0);
	ts_ro_fail(f, 1, "proxy: no server green");
	ts_ro_ok(f, 2);
	ts_bg_assert_decided(f, COORD_RO_DECISION_COMMIT, 3);
	assert_string_equal(ts_ro_event(f, "switch.decided"),
			    "commit: 2 yes; excluded: web-2 voted no: proxy: no server green");
	assert_true(f->steps[0].decide_commit);
	assert_false(f->steps[1].decide_commit); /* a NO voter always gets abort */
	assert_true(f->steps[2].decide_commit);
	assert_int_equal(f->steps[1].state, COORD_STEP_FAILED);
	assert_string_equal(f->steps[1].reason, "proxy: no server green");
	assert_string_equal(ts_ro_event(f, "step.failed"),
			    "web-2 excluded from switch ro-1-s1: proxy: no server green");
	ts_ro_ok(f, 1);
	assert_int_equal(f->steps[1].state, COORD_STEP_FAILED);
	assert_string_equal(ts_ro_event(f, "step.switch_aborted"), "web-2 discarded switch ro-1-s1");
	f->now += 5;
	ts_ro_ok(f, 0);
	f->now += 20;
	ts_ro_ok(f, 2);
	assert_int_equal(f->r.phase, COORD_BG_VERIFY);
	assert_string_equal(ts_ro_event(f, "switch.committed"),
			    "switch ro-1-s1 committed: 2 nodes on slot green, flip skew 20 ms");
	/* The excluded node's reports do not count. */
	ts_bg_health(f, 1, false, "green", "down");
	assert_int_equal(f->out.n, 0);
	assert_int_equal(f->r.phase, COORD_BG_VERIFY);
	ts_bg_tick(f, f->r.verify_until_ms + 1);
	ts_ro_assert_done(f, COORD_RO_SUCCEEDED);
	assert_string_equal(f->r.reason,
			    "2 nodes on 2.0 (slot green), flip skew 20 ms (1 failed within budget)");
	/* Scale-down only where the switch happened. */
	f->now = f->r.scale_down_at_ms;
	ts_bg_do(f, COORD_RO_EV_SCALE_DOWN);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 2);
	assert_true(ts_ro_sent(f, 0, COORD_RO_CMD_SCALE_DOWN) &&
		ts_ro_sent(f, 2, COORD_RO_CMD_SCALE_DOWN));

	/* A NO on top of an earlier stage failure is over budget 1: abort. */
	ts_bg_init(f, 3, 3, 1);
	ts_bg_do(f, COORD_RO_EV_START);
	ts_ro_fail(f, 0, "unpack: disk full");
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 0);
	ts_ro_ok(f, 1);
	ts_ro_ok(f, 2);
	assert_int_equal(f->r.phase, COORD_BG_PREPARE);
	assert_false(f->steps[0].in_switch);
	assert_string_equal(ts_ro_event(f, "switch.prepare"),
			    "switch ro-1-s1: 2 nodes prepare to switch to the new release");
	ts_ro_ok(f, 1);
	ts_ro_fail(f, 2, "bad");
	ts_bg_assert_decided(f, COORD_RO_DECISION_ABORT, 2);
	assert_int_equal(f->steps[0].cmd, COORD_RO_CMD_NONE);
	ts_ro_ok(f, 1);
	ts_ro_ok(f, 2);
	ts_ro_assert_done(f, COORD_RO_FAILED);
	assert_string_equal(f->r.reason, "switch aborted: web-3 voted no: bad");
	assert_int_equal(f->steps[1].state, COORD_STEP_READY);
}

static void test_coord_rollout_bg_prepare_deadline(void **state)
{
	ts_ro *f = *state;
	int64_t t0;
	uint64_t seq;

	ts_bg_init(f, 3, 3, 1);
	f->r.prepare_deadline_ms = 0; /* the default, 30s */
	ts_bg_stage_all(f);
	t0 = f->r.prepare_started_ms;
	seq = f->steps[2].seq;
	ts_ro_ok(f, 0);
	ts_ro_ok(f, 1);
	f->now = t0 + 30 * TS_BG_SEC; /* exactly at the deadline: still waiting */
	ts_bg_none(f, COORD_RO_EV_TICK, OSP_OK);
	ts_bg_tick(f, f->now + 1);
	ts_bg_assert_decided(f, COORD_RO_DECISION_COMMIT, 3); /* no CANCEL for the PREPARE */
	assert_int_equal(f->steps[2].vote, COORD_RO_VOTE_NO);
	assert_int_equal(f->steps[2].state, COORD_STEP_FAILED);
	assert_string_equal(f->steps[2].reason, "no vote before the prepare deadline (30s)");
	assert_string_equal(ts_ro_event(f, "switch.decided"),
			    "commit: 2 yes; excluded: web-3: no vote before the prepare deadline (30s)");
	assert_false(f->steps[2].decide_commit);
	/* The vote comes late: ignored, the decision stands. */
	ts_bg_ignored(f, 2, seq, true, NULL);
	assert_int_equal(f->steps[2].vote, COORD_RO_VOTE_NO);
	assert_int_equal(f->steps[2].cmd, COORD_RO_CMD_DECIDE);

	/* Budget 0: a missing vote aborts the switch. */
	ts_bg_init(f, 2, 2, 0);
	ts_bg_stage_all(f);
	ts_ro_ok(f, 0);
	ts_bg_tick(f, f->now + 30 * TS_BG_SEC + 1);
	ts_bg_assert_decided(f, COORD_RO_DECISION_ABORT, 2);
	assert_string_equal(ts_ro_event(f, "switch.decided"),
			    "abort: web-2: no vote before the prepare deadline (30s)");

	/* Votes are bounded by the prepare deadline, not the progress one. */
	ts_bg_init(f, 2, 2, 0);
	f->r.prepare_deadline_ms = 2 * TS_BG_MIN10;
	ts_bg_stage_all(f);
	f->now += TS_BG_MIN10 + 1;
	ts_bg_none(f, COORD_RO_EV_TICK, OSP_OK);
	assert_int_equal(f->steps[0].state, COORD_STEP_SWITCHING);
	assert_int_equal(f->steps[0].cmd, COORD_RO_CMD_PREPARE);
	ts_bg_vote_all(f);
	ts_bg_assert_decided(f, COORD_RO_DECISION_COMMIT, 2);
}

static void test_coord_rollout_bg_duplicate_votes(void **state)
{
	ts_ro *f = *state;
	coord_ro_event ev = { .kind = COORD_RO_EV_RESULT, .seq = 1, .ok = true };
	uint64_t seq0, seq1, seq2;

	ts_bg_init(f, 3, 3, 0);
	ts_bg_stage_all(f);
	seq0 = f->steps[0].seq;
	seq1 = f->steps[1].seq;
	seq2 = f->steps[2].seq;
	ts_ro_ok(f, 0);
	/* The same vote again, a NO this time: ignored. */
	ts_bg_ignored(f, 0, seq0, false, "dup");
	assert_int_equal(f->steps[0].vote, COORD_RO_VOTE_YES);
	/* An answer to an older command of the node: ignored. */
	ts_bg_ignored(f, 1, seq1 - 3, false, "old");
	assert_int_equal(f->steps[1].vote, COORD_RO_VOTE_NONE);
	ts_ro_ok(f, 1);
	ts_ro_ok(f, 2);
	ts_bg_assert_decided(f, COORD_RO_DECISION_COMMIT, 3);
	/* A vote repeated after the decision is not an ack. */
	ts_bg_ignored(f, 1, seq1, true, NULL);
	assert_int_equal(f->steps[1].state, COORD_STEP_SWITCHING);
	assert_int_equal(f->steps[1].cmd, COORD_RO_CMD_DECIDE);
	ts_bg_ack_all(f);
	assert_int_equal(f->r.phase, COORD_BG_VERIFY);
	ts_bg_ignored(f, 2, seq2, false, "late");
	assert_int_equal(f->steps[2].state, COORD_STEP_DONE);
	/* Unknown and missing nodes. */
	ev.now_ms = f->now;
	ev.node = "db-1";
	assert_int_equal(coord_ro_apply(&f->r, &ev, &f->out), OSP_ENOENT);
	ev.kind = COORD_RO_EV_HEALTH;
	assert_int_equal(coord_ro_apply(&f->r, &ev, &f->out), OSP_ENOENT);
	ev.node = NULL;
	assert_int_equal(coord_ro_apply(&f->r, &ev, &f->out), OSP_EINVAL);
	ev.kind = COORD_RO_EV_RESULT;
	assert_int_equal(coord_ro_apply(&f->r, &ev, &f->out), OSP_EINVAL);
	assert_int_equal(f->out.n, 0);
}

static void test_coord_rollout_bg_unreachable_commit(void **state)
{
	ts_ro *f = *state;
	int64_t t0;
	uint64_t seq;

	ts_bg_init(f, 3, 3, 0);
	ts_bg_stage_all(f);
	ts_bg_vote_all(f);
	seq = f->steps[2].seq;
	t0 = f->now;
	ts_ro_ok(f, 0);
	ts_ro_ok(f, 1);
	f->now = t0 + TS_BG_MIN10;
	ts_bg_none(f, COORD_RO_EV_TICK, OSP_OK);
	ts_bg_tick(f, f->now + 1);
	/* No CANCEL: the decision stays in the node's log for its return. */
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_CANCEL), 0);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 0);
	assert_int_equal(f->steps[2].state, COORD_STEP_UNREACHABLE);
	assert_int_equal(f->steps[2].cmd, COORD_RO_CMD_NONE);
	assert_string_equal(f->steps[2].reason,
			    "no answer to the switch decision within the progress deadline (10m); "
			    "it gets the decision (commit) when it reconnects");
	assert_non_null(ts_ro_event(f, "step.unreachable"));
	assert_int_equal(f->r.phase, COORD_BG_VERIFY);
	assert_string_equal(ts_ro_event(f, "switch.committed"),
			    "switch ro-1-s1 committed: 2 nodes on slot green, flip skew 0 ms");
	ts_bg_ignored(f, 2, seq, true, NULL); /* too late */
	assert_int_equal(f->steps[2].state, COORD_STEP_UNREACHABLE);
	ts_bg_tick(f, f->r.verify_until_ms + 1);
	ts_ro_assert_done(f, COORD_RO_SUCCEEDED);
	assert_string_equal(f->r.reason, "2 nodes on 2.0 (slot green), flip skew 0 ms (1 failed)");

	/* An apply that failed after the agent's retries: that node failed. */
	ts_bg_init(f, 2, 2, 0);
	ts_bg_stage_all(f);
	ts_bg_vote_all(f);
	ts_ro_fail(f, 0, "haproxy: admin socket gone after 3 tries");
	assert_int_equal(f->steps[0].state, COORD_STEP_FAILED);
	assert_string_equal(f->steps[0].reason,
			    "applying the switch failed: haproxy: admin socket gone after 3 tries");
	ts_ro_ok(f, 1);
	assert_int_equal(f->r.phase, COORD_BG_VERIFY);

	/* Nobody applied a committed switch: failed. */
	ts_bg_init(f, 1, 1, 0);
	ts_bg_stage_all(f);
	ts_bg_vote_all(f);
	ts_ro_fail(f, 0, "x");
	ts_ro_assert_done(f, COORD_RO_FAILED);
	assert_string_equal(f->r.reason, "switch ro-1-s1 committed but no node applied it: "
					 "web-1: applying the switch failed: x");
}

static void test_coord_rollout_bg_first_deploy(void **state)
{
	ts_ro *f = *state;

	ts_bg_init(f, 2, 2, 0);
	ts_bg_first_deploy(f, 0);
	ts_bg_first_deploy(f, 1);
	ts_bg_do(f, COORD_RO_EV_START);
	ts_ro_ok(f, 0);
	assert_string_equal(ts_ro_event(f, "step.ready"), "web-1 staged 2.0 in slot blue");
	ts_ro_ok(f, 1);
	assert_string_equal(f->steps[0].to_slot, "blue");
	ts_bg_vote_all(f);
	ts_bg_ack_all(f);
	assert_string_equal(ts_ro_event(f, "switch.committed"),
			    "switch ro-1-s1 committed: 2 nodes on slot blue, flip skew 10 ms");
	/* A report written before the switch (no active slot yet) that
	 * arrives after it says nothing about slot blue (it failed a CI run:
	 * "unhealthy on slot blue: the app is not running"). */
	ts_bg_health(f, 1, false, "", "the app is not running");
	assert_int_equal(f->out.n, 0);
	assert_int_equal(f->r.phase, COORD_BG_VERIFY);
	assert_int_equal(f->r.state, COORD_RO_RUNNING);
	/* Nothing to go back to. */
	ts_bg_health(f, 1, false, "blue", "crash loop");
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 0);
	ts_ro_assert_done(f, COORD_RO_FAILED);
	assert_string_equal(f->r.reason,
			    "nothing to switch back to (first deploy) after web-2: unhealthy on slot "
			    "blue: crash loop; web-1 stays on 2.0 (first deploy there: no slot to go "
			    "back to); web-2 stays on 2.0 (first deploy there: no slot to go back to)");
	assert_int_equal(f->r.scale_down_at_ms, 0);

	/* Success: no old slot to scale down. */
	ts_bg_init(f, 1, 1, 0);
	ts_bg_first_deploy(f, 0);
	ts_bg_stage_all(f);
	ts_bg_vote_all(f);
	ts_bg_ack_all(f);
	ts_bg_tick(f, f->r.verify_until_ms + 1);
	ts_ro_assert_done(f, COORD_RO_SUCCEEDED);
	assert_string_equal(f->r.reason, "1 node on 2.0 (slot blue), flip skew 0 ms");
	f->now = f->r.scale_down_at_ms;
	ts_bg_do(f, COORD_RO_EV_SCALE_DOWN);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 0);
	assert_string_equal(ts_ro_event(f, "scale_down"), "no old slot to stop (first deploy)");

	/* Mixed: the node new to the app stays, the others go back. */
	ts_bg_init(f, 3, 3, 0);
	ts_bg_first_deploy(f, 2);
	ts_bg_stage_all(f);
	ts_bg_vote_all(f);
	ts_bg_ack_all(f);
	ts_bg_do(f, COORD_RO_EV_ROLLBACK);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 2);
	assert_false(f->steps[2].in_switch);
	assert_int_equal(f->steps[2].cmd, COORD_RO_CMD_NONE);
	ts_bg_vote_all(f);
	ts_bg_ack_all(f);
	ts_ro_assert_done(f, COORD_RO_ROLLED_BACK);
	assert_string_equal(f->r.reason,
			    "switched back to 1.0 after a rollback request; web-3 stays on 2.0 (first "
			    "deploy there: no slot to go back to)");
	assert_int_equal(f->steps[2].state, COORD_STEP_DONE);

	/* Mixed success: slots differ per node; scale-down skips the new node. */
	ts_bg_init(f, 3, 3, 0);
	ts_bg_first_deploy(f, 2);
	ts_bg_stage_all(f);
	ts_bg_vote_all(f);
	ts_bg_ack_all(f);
	ts_bg_tick(f, f->r.verify_until_ms + 1);
	assert_non_null(strstr(f->r.reason, "3 nodes on 2.0 (slot mixed)"));
	f->now = f->r.scale_down_at_ms;
	ts_bg_do(f, COORD_RO_EV_SCALE_DOWN);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 2);
	assert_false(ts_ro_sent(f, 2, COORD_RO_CMD_SCALE_DOWN));
}

/* fx_restart plays a coordinator restart: START must send nothing. */
static void fx_restart(ts_ro *f, uint32_t phase)
{
	assert_int_equal(f->r.phase, phase);
	ts_bg_none(f, COORD_RO_EV_START, OSP_OK);
	assert_int_equal(f->r.phase, phase);
	assert_int_equal(f->r.state, COORD_RO_RUNNING);
}

static void test_coord_rollout_bg_restart(void **state)
{
	ts_ro *f = *state;
	int64_t t0;

	ts_bg_init(f, 2, 1, 0);
	ts_bg_do(f, COORD_RO_EV_START);
	fx_restart(f, COORD_BG_STAGE);
	assert_int_equal(f->steps[0].cmd, COORD_RO_CMD_STAGE);
	ts_ro_ok(f, 0);
	fx_restart(f, COORD_BG_STAGE);
	ts_ro_ok(f, 1);
	/* Prepare with one vote in: keep waiting, the deadline still counts. */
	t0 = f->r.prepare_started_ms;
	ts_ro_ok(f, 0);
	f->now += 20 * TS_BG_SEC;
	fx_restart(f, COORD_BG_PREPARE);
	assert_int_equal(f->r.decision, COORD_RO_DECISION_NONE);
	assert_int_equal(f->steps[1].cmd, COORD_RO_CMD_PREPARE);
	ts_bg_tick(f, t0 + 30 * TS_BG_SEC + 1);
	ts_bg_assert_decided(f, COORD_RO_DECISION_ABORT, 2);
	/* Decided: the DECIDE commands are in the logs, nothing is re-sent. */
	fx_restart(f, COORD_BG_COMMIT);
	assert_int_equal(f->steps[0].cmd, COORD_RO_CMD_DECIDE);
	ts_bg_ack_all(f);
	ts_ro_assert_done(f, COORD_RO_FAILED);
	ts_bg_none(f, COORD_RO_EV_START, OSP_ESTATE);

	/* Commit, verify, and both phases of a switch back. */
	ts_bg_init(f, 2, 2, 0);
	ts_bg_stage_all(f);
	fx_restart(f, COORD_BG_PREPARE);
	ts_bg_vote_all(f);
	fx_restart(f, COORD_BG_COMMIT);
	ts_bg_ack_all(f);
	fx_restart(f, COORD_BG_VERIFY);
	ts_bg_do(f, COORD_RO_EV_ROLLBACK);
	fx_restart(f, COORD_BG_BACK_PREPARE);
	ts_bg_vote_all(f);
	fx_restart(f, COORD_BG_BACK_COMMIT);
	ts_bg_ack_all(f);
	ts_ro_assert_done(f, COORD_RO_ROLLED_BACK);
}

static void test_coord_rollout_bg_stage_over_budget(void **state)
{
	ts_ro *f = *state;

	ts_bg_init(f, 3, 1, 0);
	ts_bg_do(f, COORD_RO_EV_START);
	ts_ro_fail(f, 0, "health check /health: 503 after 60s");
	assert_int_equal(f->steps[0].state, COORD_STEP_FAILED);
	assert_string_equal(f->steps[0].reason, "health check /health: 503 after 60s");
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 0); /* no revert, no batch */
	assert_false(f->steps[0].revert_pending);
	assert_string_equal(ts_ro_event(f, "step.failed"),
			    "web-1 failed to stage in slot green: health check /health: 503 after "
			    "60s (traffic untouched)");
	ts_ro_assert_done(f, COORD_RO_FAILED);
	assert_string_equal(f->r.reason, "1 of 3 nodes failed to stage (budget 0): web-1: health "
					 "check /health: 503 after 60s");
	assert_int_equal(f->steps[1].state, COORD_STEP_PENDING);
	assert_int_equal(f->r.switch_no, 0);
	assert_int_equal(f->r.phase, COORD_BG_STAGE);

	/* In a batch: the rest of the batch finishes first, no switch. */
	ts_bg_init(f, 3, 2, 0);
	ts_bg_do(f, COORD_RO_EV_START);
	ts_ro_fail(f, 0, "x");
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_DONE), 0);
	ts_ro_ok(f, 1);
	ts_ro_assert_done(f, COORD_RO_FAILED);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 0);
	assert_int_equal(f->steps[1].state, COORD_STEP_READY);
	assert_false(f->steps[1].in_switch);

	/* Unreachable while staging (a stage can be cancelled): within
	 * budget, the switch opens in the same tick with the others. */
	ts_bg_init(f, 2, 2, 1);
	ts_bg_do(f, COORD_RO_EV_START);
	ts_ro_ok(f, 0);
	ts_bg_tick(f, f->now + TS_BG_MIN10 + 1);
	assert_int_equal(f->steps[1].state, COORD_STEP_UNREACHABLE);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_CANCEL), 1);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 1);
	assert_true(ts_ro_sent(f, 0, COORD_RO_CMD_PREPARE));
	assert_int_equal(f->r.phase, COORD_BG_PREPARE);

	/* Every node failed within a generous budget: no switch, failed. */
	ts_bg_init(f, 2, 2, 2);
	ts_bg_do(f, COORD_RO_EV_START);
	ts_ro_fail(f, 0, "a");
	ts_ro_fail(f, 1, "b");
	ts_ro_assert_done(f, COORD_RO_FAILED);
	assert_string_equal(f->r.reason, "2 of 2 nodes failed to stage (budget 2): web-1: a; web-2: b");
}

static void test_coord_rollout_bg_many_nodes(void **state)
{
	ts_ro *f = *state;
	size_t i;

	/* The largest decisions stay within coord_ro_actions_needed. */
	ts_bg_init(f, TS_RO_MAX_STEPS, TS_RO_MAX_STEPS, 100);
	f->r.max_failures_pct = true;
	ts_bg_stage_all(f);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), TS_RO_MAX_STEPS);
	for (i = 1; i < TS_RO_MAX_STEPS; i++)
		ts_ro_fail(f, i, "no");
	ts_ro_ok(f, 0);
	ts_bg_assert_decided(f, COORD_RO_DECISION_COMMIT, TS_RO_MAX_STEPS);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_EVENT), 2 + TS_RO_MAX_STEPS - 1);

	/* The same at the prepare deadline, nobody having voted but one. */
	ts_bg_init(f, TS_RO_MAX_STEPS, TS_RO_MAX_STEPS, 100);
	f->r.max_failures_pct = true;
	ts_bg_stage_all(f);
	ts_ro_ok(f, 3);
	ts_bg_tick(f, f->now + 30 * TS_BG_SEC + 1);
	ts_bg_assert_decided(f, COORD_RO_DECISION_COMMIT, TS_RO_MAX_STEPS);
	assert_true(strlen(ts_ro_event(f, "switch.decided")) < COORD_RO_MAX_REASON);
	ts_bg_ack_all(f);
	assert_int_equal(f->r.phase, COORD_BG_VERIFY);
	ts_bg_do(f, COORD_RO_EV_ROLLBACK);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 1);
	assert_true(ts_ro_sent(f, 3, COORD_RO_CMD_PREPARE));
}

static void test_coord_rollout_bg_long_id(void **state)
{
	ts_ro *f = *state;

	/* The switch number survives a rollout id that fills the field. */
	ts_bg_init(f, 1, 1, 0);
	memset(f->r.id, 'r', sizeof(f->r.id) - 1);
	f->r.id[sizeof(f->r.id) - 1] = '\0';
	ts_bg_stage_all(f);
	assert_int_equal(strlen(f->r.switch_id), sizeof(f->r.switch_id) - 1);
	assert_string_equal(f->r.switch_id + strlen(f->r.switch_id) - 3, "-s1");
	assert_int_equal(strncmp(f->r.switch_id, f->r.id, 60), 0);
}

#define FX_TEST(fn) cmocka_unit_test_setup_teardown(fn, ts_ro_setup, ts_ro_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(test_coord_rollout_bg_happy_path),
		FX_TEST(test_coord_rollout_bg_nothing_to_stage),
		FX_TEST(test_coord_rollout_bg_no_vote_aborts),
		FX_TEST(test_coord_rollout_bg_no_vote_within_budget),
		FX_TEST(test_coord_rollout_bg_prepare_deadline),
		FX_TEST(test_coord_rollout_bg_duplicate_votes),
		FX_TEST(test_coord_rollout_bg_unreachable_commit),
		FX_TEST(test_coord_rollout_bg_first_deploy),
		FX_TEST(test_coord_rollout_bg_restart),
		FX_TEST(test_coord_rollout_bg_stage_over_budget),
		FX_TEST(test_coord_rollout_bg_many_nodes),
		FX_TEST(test_coord_rollout_bg_long_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
