/*
 * test_support_rollout_bg.c - blue-green helpers over the rollout fixture,
 * shared by test_coord_rollout_bg.c and test_coord_rollout_bg_back.c (see
 * test_support_rollout_bg.h).
 */
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

/* ts_bg_check_actions: no action may have been dropped, no message cut. */
static void ts_bg_check_actions(const ts_ro *f)
{
	size_t i;

	assert_true(f->out.n < f->out.cap);
	/* a cut message fills COORD_RO_MAX_REASON - 1 bytes, "..." at its end */
	for (i = 0; i < f->out.n; i++)
		assert_true(strlen(coord_ro_action_msg(&f->out, &f->out.v[i])) <
			COORD_RO_MAX_REASON - 1);
}

/* ts_bg_init makes n blue-green steps web-1..web-n, active slot blue running
 * 1.0, staging 2.0 into green; 30s prepare deadline, 5m rollback window,
 * 10m scale-down delay and progress deadline. */
void ts_bg_init(ts_ro *f, size_t n, uint32_t batch, uint32_t max_failures)
{
	size_t i;

	ts_ro_init(f, n);
	f->r.strategy = COORD_RO_BLUE_GREEN;
	f->r.batch = batch;
	f->r.max_failures = max_failures;
	f->r.prepare_deadline_ms = 30 * TS_BG_SEC;
	f->r.rollback_window_ms = TS_BG_MIN5;
	f->r.scale_down_delay_ms = TS_BG_MIN10;
	f->check = ts_bg_check_actions; /* after every event */
	for (i = 0; i < n; i++) {
		snprintf(f->steps[i].slot, sizeof(f->steps[i].slot), "green");
		snprintf(f->steps[i].old_slot, sizeof(f->steps[i].old_slot), "blue");
	}
}

/* ts_bg_first_deploy makes step i new to the app: staged into blue, no old slot. */
void ts_bg_first_deploy(ts_ro *f, size_t i)
{
	coord_ro_step *s = &f->steps[i];

	s->prev_version[0] = '\0';
	s->prev_sha256[0] = '\0';
	snprintf(s->slot, sizeof(s->slot), "blue");
	s->old_slot[0] = '\0';
}

/* ts_bg_ignored: a result for step i with seq changes nothing. */
void ts_bg_ignored(ts_ro *f, size_t i, uint64_t seq, bool ok, const char *msg)
{
	assert_int_equal(ts_ro_result_seq(f, i, seq, ok, msg), OSP_OK);
	assert_int_equal(f->out.n, 0);
}

/* ts_bg_do applies kind, which must succeed. */
void ts_bg_do(ts_ro *f, coord_ro_event_kind kind)
{
	assert_int_equal(ts_ro_apply(f, kind), OSP_OK);
}

/* ts_bg_none applies kind: err, and no action at all. */
void ts_bg_none(ts_ro *f, coord_ro_event_kind kind, osp_err err)
{
	assert_int_equal(ts_ro_apply(f, kind), err);
	assert_int_equal(f->out.n, 0);
}

/* ts_bg_tick moves the clock to now and ticks. */
void ts_bg_tick(ts_ro *f, int64_t now)
{
	f->now = now;
	ts_bg_do(f, COORD_RO_EV_TICK);
}

/* ts_bg_health reports step i's health (on slot, NULL: any), accepted. */
void ts_bg_health(ts_ro *f, size_t i, bool ok, const char *slot, const char *msg)
{
	coord_ro_event ev = { .kind = COORD_RO_EV_HEALTH, .now_ms = f->now,
			      .node = f->steps[i].node, .ok = ok, .slot = slot, .message = msg };

	assert_int_equal(ts_ro_run(f, &ev), OSP_OK);
}

/* ts_bg_assert_decided: this event took the decision d: exactly one DECIDE
 * action, before every SEND, each SEND a DECIDE to a member of the switch. */
void ts_bg_assert_decided(const ts_ro *f, coord_ro_decision d, size_t members)
{
	size_t i, decide = SIZE_MAX, sends = 0;

	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_DECIDE), 1);
	assert_int_equal(f->r.decision, d);
	for (i = 0; i < f->out.n; i++) {
		const coord_ro_action *a = &f->out.v[i];

		if (a->kind == COORD_RO_ACT_DECIDE) {
			decide = i;
			assert_string_equal(coord_ro_action_msg(&f->out, a), f->r.switch_id);
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

/* ts_bg_stage_all starts the rollout and stages every batch successfully; the
 * last stage opens the forward switch. */
void ts_bg_stage_all(ts_ro *f)
{
	size_t i, rounds = 0;
	bool any = true;

	ts_bg_do(f, COORD_RO_EV_START);
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

/* ts_bg_vote_all: every member of the switch votes yes. */
void ts_bg_vote_all(ts_ro *f)
{
	size_t i;

	for (i = 0; i < f->r.nsteps; i++) {
		if (f->steps[i].in_switch && f->steps[i].cmd == COORD_RO_CMD_PREPARE)
			ts_ro_ok(f, i);
	}
}

/* ts_bg_ack_all: every member of the switch acks the decision, 10 ms apart. */
void ts_bg_ack_all(ts_ro *f)
{
	size_t i;

	for (i = 0; i < f->r.nsteps; i++) {
		if (f->steps[i].in_switch && f->steps[i].cmd == COORD_RO_CMD_DECIDE) {
			f->now += 10;
			ts_ro_ok(f, i);
		}
	}
}

/* ts_bg_switched brings n nodes to VERIFY through a unanimous forward switch. */
void ts_bg_switched(ts_ro *f, size_t n, uint32_t max_failures)
{
	ts_bg_init(f, n, (uint32_t)n, max_failures);
	ts_bg_stage_all(f);
	ts_bg_vote_all(f);
	ts_bg_ack_all(f);
	assert_int_equal(f->r.phase, COORD_BG_VERIFY);
}
