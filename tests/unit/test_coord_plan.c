/* test_coord_plan.c - the plan engine: stages in order, gates, the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "coord_plan.h"

static void tp_init(coord_plan *p, size_t n, const bool *gates)
{
	memset(p, 0, sizeof(*p));
	p->nstages = n;
	for (size_t i = 0; i < n; i++) {
		snprintf(p->stages[i].name, sizeof(p->stages[i].name), "s%zu", i + 1);
		p->stages[i].gate = gates != NULL && gates[i];
	}
}

static size_t tp_count(const coord_plan_actions *a, coord_plan_action_kind k, size_t stage)
{
	size_t n = 0;

	for (size_t i = 0; i < a->n; i++)
		n += a->v[i].kind == k && (stage == SIZE_MAX || a->v[i].stage == stage);
	return n;
}

static osp_err tp_done(coord_plan *p, const char *stage, coord_ro_state st,
	coord_plan_actions *a)
{
	coord_plan_event ev = { .kind = COORD_PLAN_EV_CHILD_DONE, .stage = stage,
		.child_state = st, .reason = "3 of 4 nodes failed" };

	a->n = 0;
	return coord_plan_apply(p, &ev, a);
}

static void test_plan_stages_in_order(void **state)
{
	coord_plan p;
	coord_plan_actions a = { 0 };
	coord_plan_event start = { .kind = COORD_PLAN_EV_START };

	(void)state;
	tp_init(&p, 3, NULL);
	assert_int_equal(coord_plan_apply(&p, &start, &a), OSP_OK);
	assert_int_equal(p.state, COORD_RO_RUNNING);
	assert_int_equal(tp_count(&a, COORD_PLAN_ACT_CREATE, 0), 1);
	assert_int_equal(tp_count(&a, COORD_PLAN_ACT_CREATE, SIZE_MAX), 1);
	/* a restart: START on a running plan creates nothing again */
	a.n = 0;
	assert_int_equal(coord_plan_apply(&p, &start, &a), OSP_OK);
	assert_int_equal(a.n, 0);
	/* a result for a stage that is not running is stale */
	assert_int_equal(tp_done(&p, "s2", COORD_RO_SUCCEEDED, &a), OSP_OK);
	assert_int_equal(a.n, 0);
	assert_int_equal(tp_done(&p, "nope", COORD_RO_SUCCEEDED, &a), OSP_ENOENT);
	assert_int_equal(tp_done(&p, "s1", COORD_RO_SUCCEEDED, &a), OSP_OK);
	assert_int_equal(tp_count(&a, COORD_PLAN_ACT_CREATE, 1), 1);
	assert_int_equal(p.current, 1);
	assert_int_equal(tp_done(&p, "s2", COORD_RO_SUCCEEDED, &a), OSP_OK);
	assert_int_equal(tp_count(&a, COORD_PLAN_ACT_CREATE, 2), 1);
	assert_int_equal(tp_done(&p, "s3", COORD_RO_SUCCEEDED, &a), OSP_OK);
	assert_int_equal(tp_count(&a, COORD_PLAN_ACT_DONE, SIZE_MAX), 1);
	assert_int_equal(p.state, COORD_RO_SUCCEEDED);
	/* terminal: START is refused, a duplicate result ignored */
	assert_int_equal(coord_plan_apply(&p, &start, &a), OSP_ESTATE);
	assert_int_equal(tp_done(&p, "s3", COORD_RO_SUCCEEDED, &a), OSP_OK);
	assert_int_equal(a.n, 0);
}

static void test_plan_failed_stage_stops_the_rest(void **state)
{
	coord_plan p;
	coord_plan_actions a = { 0 };
	coord_plan_event start = { .kind = COORD_PLAN_EV_START };

	(void)state;
	tp_init(&p, 3, NULL);
	assert_int_equal(coord_plan_apply(&p, &start, &a), OSP_OK);
	assert_int_equal(tp_done(&p, "s1", COORD_RO_SUCCEEDED, &a), OSP_OK);
	assert_int_equal(tp_done(&p, "s2", COORD_RO_FAILED, &a), OSP_OK);
	assert_int_equal(p.state, COORD_RO_FAILED);
	assert_int_equal(tp_count(&a, COORD_PLAN_ACT_CREATE, SIZE_MAX), 0);
	assert_int_equal(tp_count(&a, COORD_PLAN_ACT_DONE, SIZE_MAX), 1);
	assert_non_null(strstr(p.reason, "stage s2 failed: 3 of 4 nodes failed"));
	assert_string_equal(coord_plan_stage_state_name(&p, 2), "not_started");
	assert_string_equal(coord_plan_stage_state_name(&p, 1), "failed");
	/* a rolled-back stage ends the plan rolled_back */
	tp_init(&p, 2, NULL);
	a.n = 0;
	assert_int_equal(coord_plan_apply(&p, &start, &a), OSP_OK);
	assert_int_equal(tp_done(&p, "s1", COORD_RO_ROLLED_BACK, &a), OSP_OK);
	assert_int_equal(p.state, COORD_RO_ROLLED_BACK);
}

static void test_plan_gate_holds_until_approve(void **state)
{
	static const bool gates[] = { false, true };
	coord_plan p;
	coord_plan_actions a = { 0 };
	coord_plan_event start = { .kind = COORD_PLAN_EV_START };
	coord_plan_event appr = { .kind = COORD_PLAN_EV_APPROVE, .stage = "s1" };

	(void)state;
	tp_init(&p, 2, gates);
	assert_int_equal(coord_plan_apply(&p, &start, &a), OSP_OK);
	/* nothing waits yet */
	assert_int_equal(coord_plan_apply(&p, &appr, &a), OSP_ESTATE);
	assert_int_equal(tp_done(&p, "s1", COORD_RO_SUCCEEDED, &a), OSP_OK);
	assert_int_equal(p.state, COORD_RO_WAITING_APPROVAL);
	assert_int_equal(p.stages[1].state, COORD_RO_WAITING_APPROVAL);
	assert_int_equal(tp_count(&a, COORD_PLAN_ACT_CREATE, SIZE_MAX), 0);
	/* a restart while waiting starts nothing */
	a.n = 0;
	assert_int_equal(coord_plan_apply(&p, &start, &a), OSP_OK);
	assert_int_equal(a.n, 0);
	/* approving another stage than the waiting one is refused, unchanged */
	assert_int_equal(coord_plan_apply(&p, &appr, &a), OSP_ENOENT);
	assert_int_equal(p.state, COORD_RO_WAITING_APPROVAL);
	appr.stage = NULL;
	assert_int_equal(coord_plan_apply(&p, &appr, &a), OSP_OK);
	assert_int_equal(tp_count(&a, COORD_PLAN_ACT_CREATE, 1), 1);
	assert_int_equal(p.state, COORD_RO_RUNNING);
	assert_true(p.stages[1].approved);
}

static void test_plan_abort(void **state)
{
	static const bool gates[] = { true, false };
	coord_plan p;
	coord_plan_actions a = { 0 };
	coord_plan_event start = { .kind = COORD_PLAN_EV_START };
	coord_plan_event abort_ev = { .kind = COORD_PLAN_EV_ABORT };

	(void)state;
	/* at a gate: ends at once, nothing created */
	tp_init(&p, 2, gates);
	assert_int_equal(coord_plan_apply(&p, &start, &a), OSP_OK);
	assert_int_equal(p.state, COORD_RO_WAITING_APPROVAL);
	a.n = 0;
	assert_int_equal(coord_plan_apply(&p, &abort_ev, &a), OSP_OK);
	assert_int_equal(p.state, COORD_RO_ABORTED);
	assert_int_equal(tp_count(&a, COORD_PLAN_ACT_CREATE, SIZE_MAX), 0);
	assert_int_equal(coord_plan_apply(&p, &abort_ev, &a), OSP_ESTATE);
	/* while a stage runs: its rollout is aborted; the plan ends with it */
	tp_init(&p, 2, NULL);
	a.n = 0;
	assert_int_equal(coord_plan_apply(&p, &start, &a), OSP_OK);
	a.n = 0;
	assert_int_equal(coord_plan_apply(&p, &abort_ev, &a), OSP_OK);
	assert_int_equal(tp_count(&a, COORD_PLAN_ACT_ABORT_CHILD, 0), 1);
	assert_int_equal(p.state, COORD_RO_RUNNING);
	/* the stage could not be aborted any more and succeeded: no next stage */
	assert_int_equal(tp_done(&p, "s1", COORD_RO_SUCCEEDED, &a), OSP_OK);
	assert_int_equal(tp_count(&a, COORD_PLAN_ACT_CREATE, SIZE_MAX), 0);
	assert_int_equal(p.state, COORD_RO_ABORTED);
	assert_string_equal(coord_plan_stage_state_name(&p, 1), "not_started");
}

static void test_plan_bad_input(void **state)
{
	coord_plan p;
	coord_plan_actions a = { 0 };
	coord_plan_event start = { .kind = COORD_PLAN_EV_START };

	(void)state;
	tp_init(&p, 0, NULL);
	assert_int_equal(coord_plan_apply(&p, &start, &a), OSP_EINVAL);
	assert_int_equal(coord_plan_apply(NULL, &start, &a), OSP_EINVAL);
	tp_init(&p, 1, NULL);
	assert_int_equal(coord_plan_apply(&p, NULL, &a), OSP_EINVAL);
	assert_int_equal(tp_done(&p, NULL, COORD_RO_SUCCEEDED, &a), OSP_ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan_stages_in_order),
		cmocka_unit_test(test_plan_failed_stage_stops_the_rest),
		cmocka_unit_test(test_plan_gate_holds_until_approve),
		cmocka_unit_test(test_plan_abort),
		cmocka_unit_test(test_plan_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
