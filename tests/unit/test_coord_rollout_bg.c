/* test_coord_rollout_bg.c - unit tests for coordinator/coord_rollout_bg.c:
 * the blue-green two-phase switch of the rollout engine (stage into the idle
 * slot, prepare and vote, one decision, acks, verify, switch back,
 * scale-down), driven by events, no sockets, no clock. */
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

#define SEC 1000
#define MIN10 (10 * 60 * SEC)
#define MIN5 (5 * 60 * SEC)

/* fx: the shared rollout fixture (test_support_rollout.h). */
typedef ts_ro fx;

/* fx_check_actions: no action may have been dropped, no message cut. */
static void fx_check_actions(const fx *f)
{
	size_t i;

	assert_true(f->out.n < f->out.cap);
	for (i = 0; i < f->out.n; i++)
		assert_true(strlen(f->out.v[i].message) < sizeof(f->out.v[i].message));
}

/* fx_init makes n blue-green steps web-1..web-n, active slot blue running
 * 1.0, staging 2.0 into green; 30s prepare deadline, 5m rollback window,
 * 10m scale-down delay and progress deadline. */
static void fx_init(fx *f, size_t n, uint32_t batch, uint32_t max_failures)
{
	size_t i;

	ts_ro_init(f, n);
	f->r.strategy = COORD_RO_BLUE_GREEN;
	f->r.batch = batch;
	f->r.max_failures = max_failures;
	f->r.prepare_deadline_ms = 30 * SEC;
	f->r.rollback_window_ms = MIN5;
	f->r.scale_down_delay_ms = MIN10;
	f->check = fx_check_actions; /* after every event */
	for (i = 0; i < n; i++) {
		snprintf(f->steps[i].slot, sizeof(f->steps[i].slot), "green");
		snprintf(f->steps[i].old_slot, sizeof(f->steps[i].old_slot), "blue");
	}
}

/* fx_first_deploy makes step i new to the app: staged into blue, no old slot. */
static void fx_first_deploy(fx *f, size_t i)
{
	coord_ro_step *s = &f->steps[i];

	s->prev_version[0] = '\0';
	s->prev_sha256[0] = '\0';
	snprintf(s->slot, sizeof(s->slot), "blue");
	s->old_slot[0] = '\0';
}

/* fx_ignored: a result for step i with seq changes nothing. */
static void fx_ignored(fx *f, size_t i, uint64_t seq, bool ok, const char *msg)
{
	assert_int_equal(ts_ro_result_seq(f, i, seq, ok, msg), OSP_OK);
	assert_int_equal(f->out.n, 0);
}

/* fx_do applies kind, which must succeed. */
static void fx_do(fx *f, coord_ro_event_kind kind)
{
	assert_int_equal(ts_ro_apply(f, kind), OSP_OK);
}

/* fx_none applies kind: err, and no action at all. */
static void fx_none(fx *f, coord_ro_event_kind kind, osp_err err)
{
	assert_int_equal(ts_ro_apply(f, kind), err);
	assert_int_equal(f->out.n, 0);
}

/* fx_tick moves the clock to now and ticks. */
static void fx_tick(fx *f, int64_t now)
{
	f->now = now;
	fx_do(f, COORD_RO_EV_TICK);
}

/* fx_health reports step i's health (on slot, NULL: any), accepted. */
static void fx_health(fx *f, size_t i, bool ok, const char *slot, const char *msg)
{
	coord_ro_event ev = { .kind = COORD_RO_EV_HEALTH, .now_ms = f->now,
			      .node = f->steps[i].node, .ok = ok, .slot = slot, .message = msg };

	assert_int_equal(ts_ro_run(f, &ev), OSP_OK);
}

/* fx_assert_decided: this event took the decision d: exactly one DECIDE
 * action, before every SEND, each SEND a DECIDE to a member of the switch. */
static void fx_assert_decided(const fx *f, coord_ro_decision d, size_t members)
{
	size_t i, decide = SIZE_MAX, sends = 0;

	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_DECIDE), 1);
	assert_int_equal(f->r.decision, d);
	for (i = 0; i < f->out.n; i++) {
		const coord_ro_action *a = &f->out.v[i];

		if (a->kind == COORD_RO_ACT_DECIDE) {
			decide = i;
			assert_string_equal(a->message, f->r.switch_id);
			assert_string_equal(a->event, d == COORD_RO_DECISION_COMMIT ? "commit"
										    : "abort");
		}
		if (a->kind != COORD_RO_ACT_SEND)
			continue;
		assert_true(decide < i);
		assert_int_equal(f->steps[a->step].cmd, COORD_RO_CMD_DECIDE);
		assert_true(f->steps[a->step].in_switch);
		sends++;
	}
	assert_int_equal(sends, members);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_CANCEL), 0);
}

/* fx_stage_all starts the rollout and stages every batch successfully; the
 * last stage opens the forward switch. */
static void fx_stage_all(fx *f)
{
	size_t i, rounds = 0;
	bool any = true;

	fx_do(f, COORD_RO_EV_START);
	while (any && f->r.phase == COORD_BG_STAGE && rounds++ < TS_RO_MAX_STEPS) {
		any = false;
		for (i = 0; i < f->r.nsteps; i++) {
			if (f->steps[i].cmd == COORD_RO_CMD_STAGE) {
				ts_ro_ok(f, i);
				any = true;
				break;
			}
		}
	}
	assert_int_equal(f->r.phase, COORD_BG_PREPARE);
}

/* fx_vote_all: every member of the switch votes yes, acks come 10 ms apart. */
static void fx_vote_all(fx *f)
{
	size_t i;

	for (i = 0; i < f->r.nsteps; i++) {
		if (f->steps[i].in_switch && f->steps[i].cmd == COORD_RO_CMD_PREPARE)
			ts_ro_ok(f, i);
	}
}

static void fx_ack_all(fx *f)
{
	size_t i;

	for (i = 0; i < f->r.nsteps; i++) {
		if (f->steps[i].in_switch && f->steps[i].cmd == COORD_RO_CMD_DECIDE) {
			f->now += 10;
			ts_ro_ok(f, i);
		}
	}
}

/* fx_switched brings n nodes to VERIFY through a unanimous forward switch. */
static void fx_switched(fx *f, size_t n, uint32_t max_failures)
{
	fx_init(f, n, (uint32_t)n, max_failures);
	fx_stage_all(f);
	fx_vote_all(f);
	fx_ack_all(f);
	assert_int_equal(f->r.phase, COORD_BG_VERIFY);
}

static void test_coord_rollout_bg_happy_path(void **state)
{
	fx *f = *state;
	int64_t t0;
	size_t i;

	fx_init(f, 3, 2, 0);
	fx_do(f, COORD_RO_EV_START);
	assert_true(ts_ro_sent(f, 0, COORD_RO_CMD_STAGE) && ts_ro_sent(f, 1, COORD_RO_CMD_STAGE));
	assert_string_equal(ts_ro_event(f, "batch.started"), "batch 1/2: web-1, web-2");
	ts_ro_ok(f, 0);
	assert_int_equal(f->steps[0].state, COORD_STEP_READY); /* not done: traffic untouched */
	assert_string_equal(ts_ro_event(f, "step.ready"), "web-1 staged 2.0 in slot green");
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 0);
	ts_ro_ok(f, 1);
	assert_true(ts_ro_sent(f, 2, COORD_RO_CMD_STAGE));
	assert_int_equal(f->r.phase, COORD_BG_STAGE);
	f->now += SEC;
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
	fx_assert_decided(f, COORD_RO_DECISION_COMMIT, 3);
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
	assert_int_equal(f->r.verify_until_ms, f->now + MIN5);
	assert_string_equal(ts_ro_event(f, "switch.committed"),
			    "switch ro-1-s1 committed: 3 nodes on slot green, flip skew 40 ms");
	assert_int_equal(f->r.state, COORD_RO_RUNNING);
	/* Verify: healthy reports are recorded; the window runs out. */
	fx_health(f, 0, true, "green", NULL);
	assert_true(f->steps[0].healthy_seen);
	assert_string_equal(ts_ro_event(f, "step.healthy"), "web-1 healthy on slot green");
	fx_health(f, 0, true, "green", NULL);
	assert_int_equal(f->out.n, 0);
	f->now = f->r.verify_until_ms;
	fx_none(f, COORD_RO_EV_TICK, OSP_OK);
	fx_tick(f, f->now + 1);
	ts_ro_assert_done(f, COORD_RO_SUCCEEDED);
	assert_string_equal(f->r.reason, "3 nodes on 2.0 (slot green), flip skew 40 ms");
	assert_int_equal(f->r.scale_down_at_ms, f->now + MIN10 - MIN5);
	assert_false(f->r.scale_down_sent);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 0);
}

/* A rollback while the idle slots still run the release: every step starts
 * ready, nothing is staged, the switch opens at once. */
static void test_coord_rollout_bg_nothing_to_stage(void **state)
{
	fx *f = *state;
	size_t i;

	fx_init(f, 3, 1, 0);
	for (i = 0; i < 3; i++)
		f->steps[i].state = COORD_STEP_READY;
	fx_do(f, COORD_RO_EV_START);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 3);
	assert_int_equal(f->r.phase, COORD_BG_PREPARE);
	for (i = 0; i < 3; i++) {
		assert_true(ts_ro_sent(f, i, COORD_RO_CMD_PREPARE));
		assert_false(ts_ro_sent(f, i, COORD_RO_CMD_STAGE));
	}
}

static void test_coord_rollout_bg_scale_down(void **state)
{
	fx *f = *state;
	uint64_t seq;
	size_t i;

	fx_switched(f, 3, 0);
	fx_none(f, COORD_RO_EV_SCALE_DOWN, OSP_ESTATE); /* not succeeded */
	fx_tick(f, f->r.verify_until_ms + 1);
	ts_ro_assert_done(f, COORD_RO_SUCCEEDED);
	/* Terminal: ticks and control events change nothing; not due yet. */
	f->now = f->r.scale_down_at_ms - 1;
	fx_none(f, COORD_RO_EV_TICK, OSP_OK);
	fx_none(f, COORD_RO_EV_SCALE_DOWN, OSP_ESTATE);
	fx_none(f, COORD_RO_EV_ROLLBACK, OSP_ESTATE);
	fx_none(f, COORD_RO_EV_START, OSP_ESTATE);
	assert_false(f->r.scale_down_sent);
	f->now++;
	fx_do(f, COORD_RO_EV_SCALE_DOWN);
	assert_true(f->r.scale_down_sent);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 3);
	for (i = 0; i < 3; i++)
		assert_true(ts_ro_sent(f, i, COORD_RO_CMD_SCALE_DOWN));
	assert_string_equal(ts_ro_event(f, "scale_down"), "web-1: stopping slot blue (1.0)");
	assert_int_equal(f->r.state, COORD_RO_SUCCEEDED);
	fx_none(f, COORD_RO_EV_SCALE_DOWN, OSP_OK); /* once only */
	/* Results are taken on the terminal rollout; a refusal is recorded. */
	seq = f->steps[0].seq;
	ts_ro_ok(f, 0);
	assert_int_equal(f->steps[0].cmd, COORD_RO_CMD_NONE);
	assert_string_equal(ts_ro_event(f, "scale_down.done"), "web-1: slot blue stopped");
	fx_ignored(f, 0, seq, false, "dup");
	ts_ro_fail(f, 1, "slot blue is active (generation 7)");
	assert_int_equal(f->steps[1].cmd, COORD_RO_CMD_NONE);
	assert_string_equal(f->steps[1].reason,
			    "scale-down of slot blue refused: slot blue is active (generation 7)");
	assert_non_null(ts_ro_event(f, "scale_down.refused"));
	assert_int_equal(f->r.state, COORD_RO_SUCCEEDED);
	assert_int_equal(f->steps[1].state, COORD_STEP_DONE);
	assert_int_equal(f->steps[2].cmd, COORD_RO_CMD_SCALE_DOWN);
}

static void test_coord_rollout_bg_no_vote_aborts(void **state)
{
	fx *f = *state;
	size_t i;

	fx_init(f, 3, 3, 0);
	fx_stage_all(f);
	ts_ro_ok(f, 0);
	ts_ro_fail(f, 1, "slot green: GET /health 503");
	assert_int_equal(f->steps[1].vote, COORD_RO_VOTE_NO);
	assert_string_equal(ts_ro_event(f, "step.voted"),
			    "web-2 voted no in switch ro-1-s1: slot green: GET /health 503");
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_DECIDE), 0);
	ts_ro_ok(f, 2);
	fx_assert_decided(f, COORD_RO_DECISION_ABORT, 3);
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
	fx_none(f, COORD_RO_EV_SCALE_DOWN, OSP_ESTATE);
}

static void test_coord_rollout_bg_no_vote_within_budget(void **state)
{
	fx *f = *state;

	fx_init(f, 3, 3, 1);
	fx_stage_all(f);
	ts_ro_ok(f, 0);
	ts_ro_fail(f, 1, "proxy: no server green");
	ts_ro_ok(f, 2);
	fx_assert_decided(f, COORD_RO_DECISION_COMMIT, 3);
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
	fx_health(f, 1, false, "green", "down");
	assert_int_equal(f->out.n, 0);
	assert_int_equal(f->r.phase, COORD_BG_VERIFY);
	fx_tick(f, f->r.verify_until_ms + 1);
	ts_ro_assert_done(f, COORD_RO_SUCCEEDED);
	assert_string_equal(f->r.reason,
			    "2 nodes on 2.0 (slot green), flip skew 20 ms (1 failed within budget)");
	/* Scale-down only where the switch happened. */
	f->now = f->r.scale_down_at_ms;
	fx_do(f, COORD_RO_EV_SCALE_DOWN);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 2);
	assert_true(ts_ro_sent(f, 0, COORD_RO_CMD_SCALE_DOWN) &&
		ts_ro_sent(f, 2, COORD_RO_CMD_SCALE_DOWN));

	/* A NO on top of an earlier stage failure is over budget 1: abort. */
	fx_init(f, 3, 3, 1);
	fx_do(f, COORD_RO_EV_START);
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
	fx_assert_decided(f, COORD_RO_DECISION_ABORT, 2);
	assert_int_equal(f->steps[0].cmd, COORD_RO_CMD_NONE);
	ts_ro_ok(f, 1);
	ts_ro_ok(f, 2);
	ts_ro_assert_done(f, COORD_RO_FAILED);
	assert_string_equal(f->r.reason, "switch aborted: web-3 voted no: bad");
	assert_int_equal(f->steps[1].state, COORD_STEP_READY);
}

static void test_coord_rollout_bg_prepare_deadline(void **state)
{
	fx *f = *state;
	int64_t t0;
	uint64_t seq;

	fx_init(f, 3, 3, 1);
	f->r.prepare_deadline_ms = 0; /* the default, 30s */
	fx_stage_all(f);
	t0 = f->r.prepare_started_ms;
	seq = f->steps[2].seq;
	ts_ro_ok(f, 0);
	ts_ro_ok(f, 1);
	f->now = t0 + 30 * SEC; /* exactly at the deadline: still waiting */
	fx_none(f, COORD_RO_EV_TICK, OSP_OK);
	fx_tick(f, f->now + 1);
	fx_assert_decided(f, COORD_RO_DECISION_COMMIT, 3); /* no CANCEL for the PREPARE */
	assert_int_equal(f->steps[2].vote, COORD_RO_VOTE_NO);
	assert_int_equal(f->steps[2].state, COORD_STEP_FAILED);
	assert_string_equal(f->steps[2].reason, "no vote before the prepare deadline (30s)");
	assert_string_equal(ts_ro_event(f, "switch.decided"),
			    "commit: 2 yes; excluded: web-3: no vote before the prepare deadline (30s)");
	assert_false(f->steps[2].decide_commit);
	/* The vote comes late: ignored, the decision stands. */
	fx_ignored(f, 2, seq, true, NULL);
	assert_int_equal(f->steps[2].vote, COORD_RO_VOTE_NO);
	assert_int_equal(f->steps[2].cmd, COORD_RO_CMD_DECIDE);

	/* Budget 0: a missing vote aborts the switch. */
	fx_init(f, 2, 2, 0);
	fx_stage_all(f);
	ts_ro_ok(f, 0);
	fx_tick(f, f->now + 30 * SEC + 1);
	fx_assert_decided(f, COORD_RO_DECISION_ABORT, 2);
	assert_string_equal(ts_ro_event(f, "switch.decided"),
			    "abort: web-2: no vote before the prepare deadline (30s)");

	/* Votes are bounded by the prepare deadline, not the progress one. */
	fx_init(f, 2, 2, 0);
	f->r.prepare_deadline_ms = 2 * MIN10;
	fx_stage_all(f);
	f->now += MIN10 + 1;
	fx_none(f, COORD_RO_EV_TICK, OSP_OK);
	assert_int_equal(f->steps[0].state, COORD_STEP_SWITCHING);
	assert_int_equal(f->steps[0].cmd, COORD_RO_CMD_PREPARE);
	fx_vote_all(f);
	fx_assert_decided(f, COORD_RO_DECISION_COMMIT, 2);
}

static void test_coord_rollout_bg_duplicate_votes(void **state)
{
	fx *f = *state;
	coord_ro_event ev = { .kind = COORD_RO_EV_RESULT, .seq = 1, .ok = true };
	uint64_t seq0, seq1, seq2;

	fx_init(f, 3, 3, 0);
	fx_stage_all(f);
	seq0 = f->steps[0].seq;
	seq1 = f->steps[1].seq;
	seq2 = f->steps[2].seq;
	ts_ro_ok(f, 0);
	/* The same vote again, a NO this time: ignored. */
	fx_ignored(f, 0, seq0, false, "dup");
	assert_int_equal(f->steps[0].vote, COORD_RO_VOTE_YES);
	/* An answer to an older command of the node: ignored. */
	fx_ignored(f, 1, seq1 - 3, false, "old");
	assert_int_equal(f->steps[1].vote, COORD_RO_VOTE_NONE);
	ts_ro_ok(f, 1);
	ts_ro_ok(f, 2);
	fx_assert_decided(f, COORD_RO_DECISION_COMMIT, 3);
	/* A vote repeated after the decision is not an ack. */
	fx_ignored(f, 1, seq1, true, NULL);
	assert_int_equal(f->steps[1].state, COORD_STEP_SWITCHING);
	assert_int_equal(f->steps[1].cmd, COORD_RO_CMD_DECIDE);
	fx_ack_all(f);
	assert_int_equal(f->r.phase, COORD_BG_VERIFY);
	fx_ignored(f, 2, seq2, false, "late");
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
	fx *f = *state;
	int64_t t0;
	uint64_t seq;

	fx_init(f, 3, 3, 0);
	fx_stage_all(f);
	fx_vote_all(f);
	seq = f->steps[2].seq;
	t0 = f->now;
	ts_ro_ok(f, 0);
	ts_ro_ok(f, 1);
	f->now = t0 + MIN10;
	fx_none(f, COORD_RO_EV_TICK, OSP_OK);
	fx_tick(f, f->now + 1);
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
	fx_ignored(f, 2, seq, true, NULL); /* too late */
	assert_int_equal(f->steps[2].state, COORD_STEP_UNREACHABLE);
	fx_tick(f, f->r.verify_until_ms + 1);
	ts_ro_assert_done(f, COORD_RO_SUCCEEDED);
	assert_string_equal(f->r.reason, "2 nodes on 2.0 (slot green), flip skew 0 ms (1 failed)");

	/* An apply that failed after the agent's retries: that node failed. */
	fx_init(f, 2, 2, 0);
	fx_stage_all(f);
	fx_vote_all(f);
	ts_ro_fail(f, 0, "haproxy: admin socket gone after 3 tries");
	assert_int_equal(f->steps[0].state, COORD_STEP_FAILED);
	assert_string_equal(f->steps[0].reason,
			    "applying the switch failed: haproxy: admin socket gone after 3 tries");
	ts_ro_ok(f, 1);
	assert_int_equal(f->r.phase, COORD_BG_VERIFY);

	/* Nobody applied a committed switch: failed. */
	fx_init(f, 1, 1, 0);
	fx_stage_all(f);
	fx_vote_all(f);
	ts_ro_fail(f, 0, "x");
	ts_ro_assert_done(f, COORD_RO_FAILED);
	assert_string_equal(f->r.reason, "switch ro-1-s1 committed but no node applied it: "
					 "web-1: applying the switch failed: x");
}

static void test_coord_rollout_bg_unhealthy_switch_back(void **state)
{
	fx *f = *state;
	int64_t t0;
	size_t i;

	fx_switched(f, 3, 0);
	/* A report about another slot (the old one) does not count. */
	fx_health(f, 1, false, "blue", "down");
	assert_int_equal(f->out.n, 0);
	fx_health(f, 1, false, "green", "GET /health: 503");
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
	fx_none(f, COORD_RO_EV_ROLLBACK, OSP_OK); /* on its way */
	fx_health(f, 0, false, "green", "x"); /* not verifying */
	assert_int_equal(f->out.n, 0);
	/* Going back is not blocked by a NO, whatever the budget. */
	ts_ro_ok(f, 0);
	ts_ro_fail(f, 1, "slot blue: not running");
	ts_ro_ok(f, 2);
	fx_assert_decided(f, COORD_RO_DECISION_COMMIT, 3);
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
	fx_none(f, COORD_RO_EV_SCALE_DOWN, OSP_ESTATE);

	/* Nobody can go back: the switch back aborts and the rollout fails. */
	fx_switched(f, 2, 0);
	fx_health(f, 0, false, NULL, NULL); /* no slot: any */
	assert_int_equal(f->r.phase, COORD_BG_BACK_PREPARE);
	ts_ro_fail(f, 0, "blue gone");
	fx_tick(f, f->now + 30 * SEC + 1);
	fx_assert_decided(f, COORD_RO_DECISION_ABORT, 2);
	assert_string_equal(ts_ro_event(f, "switch.decided"),
			    "abort: web-1 voted no: blue gone; web-2: no vote before the prepare "
			    "deadline (30s)");
	fx_ack_all(f);
	ts_ro_assert_done(f, COORD_RO_FAILED);
	assert_string_equal(f->r.reason,
			    "switch back failed: no node voted yes (web-1 voted no: blue gone; web-2: "
			    "no vote before the prepare deadline (30s)), after web-1: unhealthy on slot "
			    "green");
	assert_int_equal(f->r.scale_down_at_ms, 0);
}

static void test_coord_rollout_bg_operator_rollback(void **state)
{
	fx *f = *state;

	fx_init(f, 2, 2, 0);
	fx_stage_all(f);
	fx_none(f, COORD_RO_EV_ROLLBACK, OSP_ESTATE); /* not switched */
	fx_vote_all(f);
	fx_none(f, COORD_RO_EV_ROLLBACK, OSP_ESTATE); /* not settled */
	fx_ack_all(f);
	assert_int_equal(f->r.phase, COORD_BG_VERIFY);
	fx_do(f, COORD_RO_EV_ROLLBACK);
	assert_string_equal(ts_ro_event(f, "rollout.switching_back"),
			    "switching back after a rollback request");
	assert_int_equal(f->r.phase, COORD_BG_BACK_PREPARE);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 2);
	fx_none(f, COORD_RO_EV_ROLLBACK, OSP_OK);
	fx_none(f, COORD_RO_EV_ABORT, OSP_ESTATE);
	fx_none(f, COORD_RO_EV_PAUSE, OSP_ESTATE);
	fx_vote_all(f);
	fx_assert_decided(f, COORD_RO_DECISION_COMMIT, 2);
	fx_ack_all(f);
	ts_ro_assert_done(f, COORD_RO_ROLLED_BACK);
	assert_string_equal(f->r.reason, "switched back to 1.0 after a rollback request");
	assert_int_equal(f->steps[0].state, COORD_STEP_REVERTED);
	assert_int_equal(f->steps[1].state, COORD_STEP_REVERTED);
	fx_none(f, COORD_RO_EV_ROLLBACK, OSP_ESTATE);
}

static void test_coord_rollout_bg_first_deploy(void **state)
{
	fx *f = *state;

	fx_init(f, 2, 2, 0);
	fx_first_deploy(f, 0);
	fx_first_deploy(f, 1);
	fx_do(f, COORD_RO_EV_START);
	ts_ro_ok(f, 0);
	assert_string_equal(ts_ro_event(f, "step.ready"), "web-1 staged 2.0 in slot blue");
	ts_ro_ok(f, 1);
	assert_string_equal(f->steps[0].to_slot, "blue");
	fx_vote_all(f);
	fx_ack_all(f);
	assert_string_equal(ts_ro_event(f, "switch.committed"),
			    "switch ro-1-s1 committed: 2 nodes on slot blue, flip skew 10 ms");
	/* Nothing to go back to. */
	fx_health(f, 1, false, "blue", "crash loop");
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 0);
	ts_ro_assert_done(f, COORD_RO_FAILED);
	assert_string_equal(f->r.reason,
			    "nothing to switch back to (first deploy) after web-2: unhealthy on slot "
			    "blue: crash loop; web-1 stays on 2.0 (first deploy there: no slot to go "
			    "back to); web-2 stays on 2.0 (first deploy there: no slot to go back to)");
	assert_int_equal(f->r.scale_down_at_ms, 0);

	/* Success: no old slot to scale down. */
	fx_init(f, 1, 1, 0);
	fx_first_deploy(f, 0);
	fx_stage_all(f);
	fx_vote_all(f);
	fx_ack_all(f);
	fx_tick(f, f->r.verify_until_ms + 1);
	ts_ro_assert_done(f, COORD_RO_SUCCEEDED);
	assert_string_equal(f->r.reason, "1 node on 2.0 (slot blue), flip skew 0 ms");
	f->now = f->r.scale_down_at_ms;
	fx_do(f, COORD_RO_EV_SCALE_DOWN);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 0);
	assert_string_equal(ts_ro_event(f, "scale_down"), "no old slot to stop (first deploy)");

	/* Mixed: the node new to the app stays, the others go back. */
	fx_init(f, 3, 3, 0);
	fx_first_deploy(f, 2);
	fx_stage_all(f);
	fx_vote_all(f);
	fx_ack_all(f);
	fx_do(f, COORD_RO_EV_ROLLBACK);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 2);
	assert_false(f->steps[2].in_switch);
	assert_int_equal(f->steps[2].cmd, COORD_RO_CMD_NONE);
	fx_vote_all(f);
	fx_ack_all(f);
	ts_ro_assert_done(f, COORD_RO_ROLLED_BACK);
	assert_string_equal(f->r.reason,
			    "switched back to 1.0 after a rollback request; web-3 stays on 2.0 (first "
			    "deploy there: no slot to go back to)");
	assert_int_equal(f->steps[2].state, COORD_STEP_DONE);

	/* Mixed success: slots differ per node; scale-down skips the new node. */
	fx_init(f, 3, 3, 0);
	fx_first_deploy(f, 2);
	fx_stage_all(f);
	fx_vote_all(f);
	fx_ack_all(f);
	fx_tick(f, f->r.verify_until_ms + 1);
	assert_non_null(strstr(f->r.reason, "3 nodes on 2.0 (slot mixed)"));
	f->now = f->r.scale_down_at_ms;
	fx_do(f, COORD_RO_EV_SCALE_DOWN);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 2);
	assert_false(ts_ro_sent(f, 2, COORD_RO_CMD_SCALE_DOWN));
}

/* fx_restart plays a coordinator restart: START must send nothing. */
static void fx_restart(fx *f, uint32_t phase)
{
	assert_int_equal(f->r.phase, phase);
	fx_none(f, COORD_RO_EV_START, OSP_OK);
	assert_int_equal(f->r.phase, phase);
	assert_int_equal(f->r.state, COORD_RO_RUNNING);
}

static void test_coord_rollout_bg_restart(void **state)
{
	fx *f = *state;
	int64_t t0;

	fx_init(f, 2, 1, 0);
	fx_do(f, COORD_RO_EV_START);
	fx_restart(f, COORD_BG_STAGE);
	assert_int_equal(f->steps[0].cmd, COORD_RO_CMD_STAGE);
	ts_ro_ok(f, 0);
	fx_restart(f, COORD_BG_STAGE);
	ts_ro_ok(f, 1);
	/* Prepare with one vote in: keep waiting, the deadline still counts. */
	t0 = f->r.prepare_started_ms;
	ts_ro_ok(f, 0);
	f->now += 20 * SEC;
	fx_restart(f, COORD_BG_PREPARE);
	assert_int_equal(f->r.decision, COORD_RO_DECISION_NONE);
	assert_int_equal(f->steps[1].cmd, COORD_RO_CMD_PREPARE);
	fx_tick(f, t0 + 30 * SEC + 1);
	fx_assert_decided(f, COORD_RO_DECISION_ABORT, 2);
	/* Decided: the DECIDE commands are in the logs, nothing is re-sent. */
	fx_restart(f, COORD_BG_COMMIT);
	assert_int_equal(f->steps[0].cmd, COORD_RO_CMD_DECIDE);
	fx_ack_all(f);
	ts_ro_assert_done(f, COORD_RO_FAILED);
	fx_none(f, COORD_RO_EV_START, OSP_ESTATE);

	/* Commit, verify, and both phases of a switch back. */
	fx_init(f, 2, 2, 0);
	fx_stage_all(f);
	fx_restart(f, COORD_BG_PREPARE);
	fx_vote_all(f);
	fx_restart(f, COORD_BG_COMMIT);
	fx_ack_all(f);
	fx_restart(f, COORD_BG_VERIFY);
	fx_do(f, COORD_RO_EV_ROLLBACK);
	fx_restart(f, COORD_BG_BACK_PREPARE);
	fx_vote_all(f);
	fx_restart(f, COORD_BG_BACK_COMMIT);
	fx_ack_all(f);
	ts_ro_assert_done(f, COORD_RO_ROLLED_BACK);
}

static void test_coord_rollout_bg_stage_over_budget(void **state)
{
	fx *f = *state;

	fx_init(f, 3, 1, 0);
	fx_do(f, COORD_RO_EV_START);
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
	fx_init(f, 3, 2, 0);
	fx_do(f, COORD_RO_EV_START);
	ts_ro_fail(f, 0, "x");
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_DONE), 0);
	ts_ro_ok(f, 1);
	ts_ro_assert_done(f, COORD_RO_FAILED);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 0);
	assert_int_equal(f->steps[1].state, COORD_STEP_READY);
	assert_false(f->steps[1].in_switch);

	/* Unreachable while staging (a stage can be cancelled): within
	 * budget, the switch opens in the same tick with the others. */
	fx_init(f, 2, 2, 1);
	fx_do(f, COORD_RO_EV_START);
	ts_ro_ok(f, 0);
	fx_tick(f, f->now + MIN10 + 1);
	assert_int_equal(f->steps[1].state, COORD_STEP_UNREACHABLE);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_CANCEL), 1);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 1);
	assert_true(ts_ro_sent(f, 0, COORD_RO_CMD_PREPARE));
	assert_int_equal(f->r.phase, COORD_BG_PREPARE);

	/* Every node failed within a generous budget: no switch, failed. */
	fx_init(f, 2, 2, 2);
	fx_do(f, COORD_RO_EV_START);
	ts_ro_fail(f, 0, "a");
	ts_ro_fail(f, 1, "b");
	ts_ro_assert_done(f, COORD_RO_FAILED);
	assert_string_equal(f->r.reason, "2 of 2 nodes failed to stage (budget 2): web-1: a; web-2: b");
}

static void test_coord_rollout_bg_abort(void **state)
{
	fx *f = *state;
	uint64_t seq;

	/* While staging: in-flight stages finish, no switch. */
	fx_init(f, 3, 1, 0);
	fx_do(f, COORD_RO_EV_START);
	fx_do(f, COORD_RO_EV_ABORT);
	assert_true(f->r.abort_requested);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_DONE), 0);
	ts_ro_ok(f, 0);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 0);
	ts_ro_assert_done(f, COORD_RO_ABORTED);
	assert_string_equal(f->r.reason,
			    "aborted by request: 1 of 3 nodes staged 2.0, traffic untouched");
	assert_int_equal(f->r.switch_no, 0);

	/* Paused while staging: the switch opens only once resumed. */
	fx_init(f, 2, 1, 0);
	fx_do(f, COORD_RO_EV_START);
	fx_do(f, COORD_RO_EV_PAUSE);
	ts_ro_ok(f, 0);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 0);
	fx_do(f, COORD_RO_EV_RESUME);
	assert_true(ts_ro_sent(f, 1, COORD_RO_CMD_STAGE));
	fx_do(f, COORD_RO_EV_PAUSE);
	ts_ro_ok(f, 1);
	assert_int_equal(f->r.phase, COORD_BG_STAGE);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 0);
	fx_do(f, COORD_RO_EV_RESUME);
	assert_int_equal(f->r.phase, COORD_BG_PREPARE);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 2);
	/* A switch does not pause. */
	fx_none(f, COORD_RO_EV_PAUSE, OSP_ESTATE);
	fx_none(f, COORD_RO_EV_RESUME, OSP_ESTATE);
	/* While preparing: the switch is aborted at once. */
	seq = f->steps[1].seq;
	ts_ro_ok(f, 0);
	fx_do(f, COORD_RO_EV_ABORT);
	fx_assert_decided(f, COORD_RO_DECISION_ABORT, 2);
	assert_string_equal(ts_ro_event(f, "switch.decided"), "abort: aborted by request");
	assert_int_equal(f->steps[1].state, COORD_STEP_SWITCHING); /* no vote, not failed */
	fx_none(f, COORD_RO_EV_ABORT, OSP_OK);
	fx_ignored(f, 1, seq, true, NULL); /* late vote */
	fx_ack_all(f);
	ts_ro_assert_done(f, COORD_RO_ABORTED);
	assert_string_equal(f->r.reason,
			    "aborted by request: switch ro-1-s1 aborted, traffic untouched");
	assert_int_equal(f->steps[0].state, COORD_STEP_READY);
	assert_int_equal(f->steps[1].state, COORD_STEP_READY);

	/* Once decided, abort is refused: the way out is a rollback. */
	fx_init(f, 2, 2, 0);
	fx_stage_all(f);
	fx_vote_all(f);
	fx_none(f, COORD_RO_EV_ABORT, OSP_ESTATE);
	fx_ack_all(f);
	fx_none(f, COORD_RO_EV_ABORT, OSP_ESTATE);
	assert_int_equal(f->r.phase, COORD_BG_VERIFY);
	assert_false(f->r.abort_requested);
}

static void test_coord_rollout_bg_health_outside_verify(void **state)
{
	fx *f = *state;

	fx_init(f, 2, 1, 0);
	fx_health(f, 0, false, "green", "x"); /* pending */
	fx_do(f, COORD_RO_EV_START);
	fx_health(f, 0, false, "green", "x"); /* staging */
	assert_int_equal(f->out.n, 0);
	ts_ro_ok(f, 0);
	ts_ro_ok(f, 1);
	fx_health(f, 0, false, "green", "x"); /* preparing */
	assert_int_equal(f->out.n, 0);
	assert_int_equal(f->r.phase, COORD_BG_PREPARE);
	fx_vote_all(f);
	fx_health(f, 0, false, "green", "x"); /* committing */
	assert_int_equal(f->out.n, 0);
	assert_int_equal(f->r.phase, COORD_BG_COMMIT);
	fx_ack_all(f);
	fx_tick(f, f->r.verify_until_ms + 1);
	ts_ro_assert_done(f, COORD_RO_SUCCEEDED);
	fx_health(f, 0, false, "green", "x"); /* succeeded */
	assert_int_equal(f->out.n, 0);
	assert_int_equal(f->r.state, COORD_RO_SUCCEEDED);

	/* Without a rollback window there is nothing to verify. */
	fx_init(f, 1, 1, 0);
	f->r.rollback_window_ms = 0;
	f->r.scale_down_delay_ms = 0;
	fx_stage_all(f);
	fx_vote_all(f);
	fx_ack_all(f);
	ts_ro_assert_done(f, COORD_RO_SUCCEEDED);
	assert_non_null(ts_ro_event(f, "switch.committed"));
	assert_int_equal(f->r.scale_down_at_ms, f->now);
}

static void test_coord_rollout_bg_many_nodes(void **state)
{
	fx *f = *state;
	size_t i;

	/* The largest decisions stay within coord_ro_actions_needed. */
	fx_init(f, TS_RO_MAX_STEPS, TS_RO_MAX_STEPS, 100);
	f->r.max_failures_pct = true;
	fx_stage_all(f);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), TS_RO_MAX_STEPS);
	for (i = 1; i < TS_RO_MAX_STEPS; i++)
		ts_ro_fail(f, i, "no");
	ts_ro_ok(f, 0);
	fx_assert_decided(f, COORD_RO_DECISION_COMMIT, TS_RO_MAX_STEPS);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_EVENT), 2 + TS_RO_MAX_STEPS - 1);

	/* The same at the prepare deadline, nobody having voted but one. */
	fx_init(f, TS_RO_MAX_STEPS, TS_RO_MAX_STEPS, 100);
	f->r.max_failures_pct = true;
	fx_stage_all(f);
	ts_ro_ok(f, 3);
	fx_tick(f, f->now + 30 * SEC + 1);
	fx_assert_decided(f, COORD_RO_DECISION_COMMIT, TS_RO_MAX_STEPS);
	assert_true(strlen(ts_ro_event(f, "switch.decided")) < COORD_RO_MAX_REASON);
	fx_ack_all(f);
	assert_int_equal(f->r.phase, COORD_BG_VERIFY);
	fx_do(f, COORD_RO_EV_ROLLBACK);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 1);
	assert_true(ts_ro_sent(f, 3, COORD_RO_CMD_PREPARE));
}

static void test_coord_rollout_bg_long_id(void **state)
{
	fx *f = *state;

	/* The switch number survives a rollout id that fills the field. */
	fx_init(f, 1, 1, 0);
	memset(f->r.id, 'r', sizeof(f->r.id) - 1);
	f->r.id[sizeof(f->r.id) - 1] = '\0';
	fx_stage_all(f);
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
		FX_TEST(test_coord_rollout_bg_scale_down),
		FX_TEST(test_coord_rollout_bg_no_vote_aborts),
		FX_TEST(test_coord_rollout_bg_no_vote_within_budget),
		FX_TEST(test_coord_rollout_bg_prepare_deadline),
		FX_TEST(test_coord_rollout_bg_duplicate_votes),
		FX_TEST(test_coord_rollout_bg_unreachable_commit),
		FX_TEST(test_coord_rollout_bg_unhealthy_switch_back),
		FX_TEST(test_coord_rollout_bg_operator_rollback),
		FX_TEST(test_coord_rollout_bg_first_deploy),
		FX_TEST(test_coord_rollout_bg_restart),
		FX_TEST(test_coord_rollout_bg_stage_over_budget),
		FX_TEST(test_coord_rollout_bg_abort),
		FX_TEST(test_coord_rollout_bg_health_outside_verify),
		FX_TEST(test_coord_rollout_bg_many_nodes),
		FX_TEST(test_coord_rollout_bg_long_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
