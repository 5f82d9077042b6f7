/* test_coord_rollout_gate.c - the switch gate of a blue-green rollout
 * (coordinator/engine/coord_rollout_gate.c): staged, then WAITING_APPROVAL with
 * nothing outstanding until APPROVE opens the switch; ABORT there ends the
 * rollout with traffic untouched. */
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

/* tg_staged: three nodes staged with the gate on; the rollout waits. */
static void tg_staged(ts_ro *f)
{
	ts_bg_init(f, 3, 3, 0);
	f->r.switch_gate = true;
	ts_bg_do(f, COORD_RO_EV_START);
	ts_ro_ok(f, 0);
	ts_ro_ok(f, 1);
	ts_ro_ok(f, 2);
	assert_int_equal(f->r.state, COORD_RO_WAITING_APPROVAL);
	assert_int_equal(f->r.phase, COORD_BG_STAGE);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 0);
	assert_string_equal(ts_ro_event(f, "rollout.waiting_approval"),
		"3 nodes staged: the traffic switch waits for approval (ospecctl approve)");
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(f->steps[i].state, COORD_STEP_READY);
}

static void test_gate_holds_until_approve(void **state)
{
	ts_ro *f = *state;

	tg_staged(f);
	/* time passes: nothing is sent, the gate holds */
	ts_bg_tick(f, f->now + 3600 * 1000LL);
	assert_int_equal(f->r.state, COORD_RO_WAITING_APPROVAL);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 0);
	/* a restart resumes only running rollouts: START does not fit here */
	ts_bg_none(f, COORD_RO_EV_START, OSP_ESTATE);
	ts_bg_none(f, COORD_RO_EV_PAUSE, OSP_ESTATE);
	ts_bg_do(f, COORD_RO_EV_APPROVE);
	assert_int_equal(f->r.state, COORD_RO_RUNNING);
	assert_int_equal(f->r.phase, COORD_BG_PREPARE);
	assert_true(f->r.switch_approved);
	for (size_t i = 0; i < 3; i++)
		assert_true(ts_ro_sent(f, i, COORD_RO_CMD_PREPARE));
	/* a second approve is past the gate */
	ts_bg_none(f, COORD_RO_EV_APPROVE, OSP_ESTATE);
}

static void test_gate_abort_leaves_traffic(void **state)
{
	ts_ro *f = *state;

	tg_staged(f);
	ts_bg_do(f, COORD_RO_EV_ABORT);
	ts_ro_assert_done(f, COORD_RO_ABORTED);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 0);
	assert_non_null(strstr(f->r.reason, "traffic untouched"));
}

static void test_gate_off_or_not_blue_green(void **state)
{
	ts_ro *f = *state;

	/* no gate: the switch opens as soon as every node is staged */
	ts_bg_init(f, 2, 2, 0);
	ts_bg_do(f, COORD_RO_EV_START);
	ts_ro_ok(f, 0);
	ts_ro_ok(f, 1);
	assert_int_equal(f->r.phase, COORD_BG_PREPARE);
	/* APPROVE on a rollout that waits for nothing */
	ts_bg_none(f, COORD_RO_EV_APPROVE, OSP_ESTATE);
	ts_ro_init(f, 2);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_APPROVE), OSP_ESTATE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_gate_holds_until_approve, ts_ro_setup,
			ts_ro_teardown),
		cmocka_unit_test_setup_teardown(test_gate_abort_leaves_traffic, ts_ro_setup,
			ts_ro_teardown),
		cmocka_unit_test_setup_teardown(test_gate_off_or_not_blue_green, ts_ro_setup,
			ts_ro_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
