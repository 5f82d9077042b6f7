/* test_coord_rollout.c - unit tests for coordinator/engine/coord_rollout.c: every
 * transition of the rollout state machine, driven by events, no sockets. */
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

#define MIN10 (10 * 60 * 1000)

/* fx: the shared rollout fixture (test_support_rollout.h). */
typedef ts_ro fx;

/* fx_check_no_overlap: after any event, no STAGE went out while a step of
 * another batch is still staging (rolling never runs two batches at once). */
static void fx_check_no_overlap(const fx *f)
{
	size_t i, j;

	if (f->r.strategy == COORD_RO_RECREATE)
		return;
	for (i = 0; i < f->out.n; i++) {
		const coord_ro_action *a = &f->out.v[i];

		if (a->kind != COORD_RO_ACT_SEND || f->steps[a->step].cmd != COORD_RO_CMD_STAGE)
			continue;
		for (j = 0; j < f->r.nsteps; j++) {
			if (f->steps[j].state == COORD_STEP_STAGING)
				assert_int_equal(f->steps[j].batch, f->steps[a->step].batch);
		}
	}
}

/* fx_init makes n steps web-1..web-n (previous release 1.0) for version 2.0. */
static void fx_init(fx *f, size_t n, coord_ro_strategy strategy, uint32_t batch, bool pct,
		    uint32_t max_failures, bool max_pct)
{
	ts_ro_init(f, n);
	f->r.strategy = strategy;
	f->r.batch = batch;
	f->r.batch_pct = pct;
	f->r.max_failures = max_failures;
	f->r.max_failures_pct = max_pct;
	f->check = fx_check_no_overlap; /* after every event */
}

static void test_coord_rollout_plan(void **state)
{
	fx *f = *state;

	fx_init(f, 5, COORD_RO_ROLLING, 2, false, 0, false);
	assert_int_equal(coord_ro_plan(&f->r), 3);
	assert_int_equal(f->steps[0].batch, 0);
	assert_int_equal(f->steps[1].batch, 0);
	assert_int_equal(f->steps[2].batch, 1);
	assert_int_equal(f->steps[3].batch, 1);
	assert_int_equal(f->steps[4].batch, 2);
	/* 40% of 5 is 2 per batch; 1% still means one node; 0 means 1. */
	fx_init(f, 5, COORD_RO_ROLLING, 40, true, 0, false);
	assert_int_equal(coord_ro_plan(&f->r), 3);
	assert_int_equal(f->steps[1].batch, 0);
	assert_int_equal(f->steps[2].batch, 1);
	fx_init(f, 5, COORD_RO_ROLLING, 1, true, 0, false);
	assert_int_equal(coord_ro_plan(&f->r), 5);
	fx_init(f, 5, COORD_RO_ROLLING, 0, false, 0, false);
	assert_int_equal(coord_ro_plan(&f->r), 5);
	fx_init(f, 5, COORD_RO_ROLLING, 100, true, 0, false);
	assert_int_equal(coord_ro_plan(&f->r), 1);
	/* Skipped steps get no batch and do not count for the percentage. */
	fx_init(f, 5, COORD_RO_ROLLING, 50, true, 0, false);
	f->steps[1].state = COORD_STEP_SKIPPED;
	assert_int_equal(coord_ro_plan(&f->r), 2);
	assert_int_equal(f->steps[0].batch, 0);
	assert_int_equal(f->steps[1].batch, COORD_RO_NO_BATCH);
	assert_int_equal(f->steps[2].batch, 0);
	assert_int_equal(f->steps[3].batch, 1);
	assert_int_equal(f->steps[4].batch, 1);
	f->r.nsteps = 0;
	assert_int_equal(coord_ro_plan(&f->r), 0);
}

static void test_coord_rollout_budget(void **state)
{
	fx *f = *state;

	fx_init(f, 5, COORD_RO_ROLLING, 1, false, 3, false);
	assert_int_equal(coord_ro_budget(&f->r), 3);
	fx_init(f, 5, COORD_RO_ROLLING, 1, false, 40, true);
	assert_int_equal(coord_ro_budget(&f->r), 2);
	fx_init(f, 5, COORD_RO_ROLLING, 1, false, 39, true);
	assert_int_equal(coord_ro_budget(&f->r), 1);
	f->steps[4].state = COORD_STEP_SKIPPED;
	f->r.max_failures = 50;
	assert_int_equal(coord_ro_budget(&f->r), 2);
	fx_init(f, 5, COORD_RO_ROLLING, 1, false, 0, false);
	assert_int_equal(coord_ro_budget(&f->r), 0);
}

static void test_coord_rollout_rolling_batches(void **state)
{
	fx *f = *state;

	fx_init(f, 5, COORD_RO_ROLLING, 2, false, 0, false);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_START), OSP_OK);
	assert_int_equal(f->r.state, COORD_RO_RUNNING);
	assert_int_equal(f->r.started_ms, f->now);
	assert_int_equal(f->r.current_batch, 0);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 2);
	assert_true(ts_ro_sent(f, 0, COORD_RO_CMD_STAGE) && ts_ro_sent(f, 1, COORD_RO_CMD_STAGE));
	assert_string_equal(ts_ro_event(f, "batch.started"), "batch 1/3: web-1, web-2");
	assert_int_equal(f->steps[0].state, COORD_STEP_STAGING);
	assert_int_equal(f->steps[0].started_ms, f->now);
	assert_int_equal(f->steps[2].state, COORD_STEP_PENDING);

	f->now += 1000;
	ts_ro_ok(f, 0);
	assert_int_equal(f->steps[0].state, COORD_STEP_DONE);
	assert_int_equal(f->steps[0].cmd, COORD_RO_CMD_NONE);
	assert_int_equal(f->steps[0].finished_ms, f->now);
	assert_string_equal(ts_ro_event(f, "step.done"), "web-1 is on 2.0");
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 0); /* web-2 still staging */
	ts_ro_ok(f, 1);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 2);
	assert_true(ts_ro_sent(f, 2, COORD_RO_CMD_STAGE) && ts_ro_sent(f, 3, COORD_RO_CMD_STAGE));
	assert_string_equal(ts_ro_event(f, "batch.started"), "batch 2/3: web-3, web-4");
	ts_ro_ok(f, 3);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 0);
	ts_ro_ok(f, 2);
	assert_true(ts_ro_sent(f, 4, COORD_RO_CMD_STAGE));
	assert_string_equal(ts_ro_event(f, "batch.started"), "batch 3/3: web-5");
	assert_int_equal(f->r.state, COORD_RO_RUNNING);
	f->now += 1000;
	ts_ro_ok(f, 4);
	ts_ro_assert_done(f, COORD_RO_SUCCEEDED);
	assert_string_equal(f->r.reason, "5 nodes on 2.0");
	assert_string_equal(coord_ro_action_msg(&f->out, &f->out.v[f->out.n - 1]),
		"5 nodes on 2.0");
}

static void test_coord_rollout_failure_over_budget(void **state)
{
	fx *f = *state;

	fx_init(f, 5, COORD_RO_ROLLING, 2, false, 0, false);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_START), OSP_OK);
	ts_ro_fail(f, 0, "health check /health: 503 after 60s");
	assert_int_equal(f->steps[0].state, COORD_STEP_FAILED);
	assert_string_equal(f->steps[0].reason, "health check /health: 503 after 60s");
	assert_true(f->steps[0].revert_pending);
	assert_true(ts_ro_sent(f, 0, COORD_RO_CMD_REVERT));
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 1);
	assert_non_null(strstr(ts_ro_event(f, "step.failed"), "web-1 failed: health check"));
	assert_non_null(strstr(ts_ro_event(f, "step.failed"), "reverting to 1.0"));

	ts_ro_ok(f, 1); /* the batch ends, but no new batch over budget */
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 0);
	assert_int_equal(f->r.state, COORD_RO_RUNNING); /* the revert is pending */
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_DONE), 0);

	f->now += 5000;
	ts_ro_ok(f, 0);
	assert_int_equal(f->steps[0].state, COORD_STEP_REVERTED);
	assert_false(f->steps[0].revert_pending);
	assert_string_equal(f->steps[0].reason, "health check /health: 503 after 60s; reverted to 1.0");
	assert_string_equal(ts_ro_event(f, "step.reverted"), "web-1 reverted to 1.0");
	ts_ro_assert_done(f, COORD_RO_FAILED);
	assert_string_equal(f->r.reason, "1 of 5 nodes failed (budget 0): web-1: health check "
					 "/health: 503 after 60s; reverted to 1.0");
	assert_int_equal(f->steps[2].state, COORD_STEP_PENDING);
	assert_int_equal(f->steps[4].state, COORD_STEP_PENDING);
}

static void test_coord_rollout_failure_within_budget(void **state)
{
	fx *f = *state;

	fx_init(f, 3, COORD_RO_ROLLING, 1, false, 1, false);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_START), OSP_OK);
	ts_ro_fail(f, 0, "exit 1");
	/* The revert does not hold back the next batch. */
	assert_true(ts_ro_sent(f, 0, COORD_RO_CMD_REVERT));
	assert_true(ts_ro_sent(f, 1, COORD_RO_CMD_STAGE));
	ts_ro_ok(f, 1);
	assert_true(ts_ro_sent(f, 2, COORD_RO_CMD_STAGE));
	ts_ro_ok(f, 2);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_DONE), 0); /* revert still pending */
	assert_int_equal(f->r.state, COORD_RO_RUNNING);
	ts_ro_ok(f, 0);
	ts_ro_assert_done(f, COORD_RO_SUCCEEDED);
	assert_string_equal(f->r.reason, "2 nodes on 2.0 (1 failed within budget)");
}

static void test_coord_rollout_revert_without_prev(void **state)
{
	fx *f = *state;

	fx_init(f, 2, COORD_RO_ROLLING, 1, false, 0, false);
	f->steps[0].prev_version[0] = '\0';
	f->steps[0].prev_sha256[0] = '\0';
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_START), OSP_OK);
	ts_ro_fail(f, 0, "bind: address in use");
	assert_true(ts_ro_sent(f, 0, COORD_RO_CMD_REVERT)); /* "stop the app" */
	assert_non_null(strstr(ts_ro_event(f, "step.failed"), "reverting to the release it ran "
							      "before, if any"));
	ts_ro_ok(f, 0);
	assert_int_equal(f->steps[0].state, COORD_STEP_REVERTED);
	assert_string_equal(f->steps[0].reason,
			    "bind: address in use; stopped (no previous release)");
	ts_ro_assert_done(f, COORD_RO_FAILED);
	assert_int_equal(f->steps[1].state, COORD_STEP_PENDING);
}

static void test_coord_rollout_revert_fails(void **state)
{
	fx *f = *state;

	fx_init(f, 1, COORD_RO_ROLLING, 1, false, 0, false);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_START), OSP_OK);
	ts_ro_fail(f, 0, NULL);
	assert_string_equal(f->steps[0].reason, "failed without a message");
	ts_ro_fail(f, 0, "release 1.0 gone from cache");
	assert_int_equal(f->steps[0].state, COORD_STEP_FAILED);
	assert_false(f->steps[0].revert_pending);
	assert_int_equal(f->steps[0].cmd, COORD_RO_CMD_NONE);
	assert_string_equal(f->steps[0].reason,
			    "failed without a message; revert failed: release 1.0 gone from cache");
	assert_non_null(ts_ro_event(f, "step.revert_failed"));
	ts_ro_assert_done(f, COORD_RO_FAILED);
}

static void test_coord_rollout_unreachable(void **state)
{
	fx *f = *state;
	uint64_t seq;

	fx_init(f, 3, COORD_RO_ROLLING, 2, false, 0, false);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_START), OSP_OK);
	seq = f->steps[0].seq;
	ts_ro_ok(f, 1);
	f->now += MIN10; /* exactly at the deadline: still waiting */
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_TICK), OSP_OK);
	assert_int_equal(f->out.n, 0);
	f->now += 1;
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_TICK), OSP_OK);
	assert_int_equal(f->steps[0].state, COORD_STEP_UNREACHABLE);
	assert_int_equal(f->steps[0].cmd, COORD_RO_CMD_NONE);
	assert_string_equal(f->steps[0].reason, "no answer within the progress deadline (10m)");
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_CANCEL), 1);
	assert_int_equal(f->out.v[0].kind, COORD_RO_ACT_CANCEL);
	assert_int_equal(f->out.v[0].step, 0);
	assert_string_equal(ts_ro_event(f, "step.unreachable"),
			    "web-1 unreachable: no answer within the progress deadline (10m)");
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 0); /* no revert, no batch */
	ts_ro_assert_done(f, COORD_RO_FAILED);
	assert_non_null(strstr(f->r.reason, "1 of 3 nodes failed (budget 0): web-1: no answer"));
	/* The node answers after all: too late, only recorded (the revert
	 * the glue queued behind the voided stage undoes it). */
	assert_int_equal(ts_ro_result_seq(f, 0, seq, true, NULL), OSP_OK);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 0);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_DONE), 0);
	assert_int_equal(f->steps[0].state, COORD_STEP_UNREACHABLE);
}

static void test_coord_rollout_unreachable_within_budget(void **state)
{
	fx *f = *state;

	fx_init(f, 2, COORD_RO_ROLLING, 1, false, 1, false);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_START), OSP_OK);
	f->now += MIN10 + 1;
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_TICK), OSP_OK);
	assert_int_equal(f->steps[0].state, COORD_STEP_UNREACHABLE);
	assert_true(ts_ro_sent(f, 1, COORD_RO_CMD_STAGE));
	assert_int_equal(f->steps[1].started_ms, f->now);
	ts_ro_ok(f, 1);
	ts_ro_assert_done(f, COORD_RO_SUCCEEDED);
	assert_string_equal(f->r.reason, "1 node on 2.0 (1 failed within budget)");
}

/* A node that had fetched its stage before the deadline voided it, and
 * answers success later, keeps no release its step does not count: the
 * voided stage (CANCEL) gets a revert queued behind it in the node's log by
 * the glue, so the engine only records the late answer and goes on. */
static void test_coord_rollout_late_success_reverted(void **state)
{
	fx *f = *state;
	uint64_t seq;

	fx_init(f, 2, COORD_RO_ROLLING, 1, false, 1, false);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_START), OSP_OK);
	seq = f->steps[0].seq;
	f->now += MIN10 + 1;
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_TICK), OSP_OK);
	assert_int_equal(f->steps[0].state, COORD_STEP_UNREACHABLE);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_CANCEL), 1);
	assert_true(ts_ro_sent(f, 1, COORD_RO_CMD_STAGE)); /* within budget: goes on */
	assert_int_equal(ts_ro_result_seq(f, 0, seq, true, NULL), OSP_OK);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 0);
	assert_non_null(ts_ro_event(f, "step.late"));
	ts_ro_ok(f, 1);
	assert_int_equal(f->steps[0].state, COORD_STEP_UNREACHABLE);
	ts_ro_assert_done(f, COORD_RO_SUCCEEDED);
}

static void test_coord_rollout_revert_unanswered(void **state)
{
	fx *f = *state;

	fx_init(f, 1, COORD_RO_ROLLING, 1, false, 0, false);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_START), OSP_OK);
	f->now += 1000;
	ts_ro_fail(f, 0, "crashed");
	assert_int_equal(f->r.state, COORD_RO_RUNNING);
	f->now += MIN10 + 1;
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_TICK), OSP_OK);
	assert_int_equal(f->steps[0].state, COORD_STEP_FAILED);
	assert_false(f->steps[0].revert_pending);
	assert_string_equal(f->steps[0].reason,
			    "crashed; revert unanswered (it reverts when it reconnects)");
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_CANCEL), 0); /* stays in the log */
	ts_ro_assert_done(f, COORD_RO_FAILED);
}

static void test_coord_rollout_stale_results(void **state)
{
	fx *f = *state;
	coord_ro_event ev = { .kind = COORD_RO_EV_RESULT, .now_ms = 1, .seq = 1, .ok = true };
	coord_ro_step before;
	uint64_t seq;

	fx_init(f, 2, COORD_RO_ROLLING, 1, false, 0, false);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_START), OSP_OK);
	seq = f->steps[0].seq;
	/* A result for an older command of this node is ignored. */
	before = f->steps[0];
	assert_int_equal(ts_ro_result_seq(f, 0, seq - 1, false, "old"), OSP_OK);
	assert_int_equal(f->out.n, 0);
	assert_memory_equal(&before, &f->steps[0], sizeof(before));
	ts_ro_ok(f, 0);
	assert_true(ts_ro_sent(f, 1, COORD_RO_CMD_STAGE));
	/* The same result again (a re-sent reply) is ignored too. */
	assert_int_equal(ts_ro_result_seq(f, 0, seq, false, "dup"), OSP_OK);
	assert_int_equal(f->out.n, 0);
	assert_int_equal(f->steps[0].state, COORD_STEP_DONE);
	/* Unknown node, missing node. */
	ev.node = "db-1";
	f->out.n = 0;
	assert_int_equal(coord_ro_apply(&f->r, &ev, &f->out), OSP_ENOENT);
	ev.node = NULL;
	assert_int_equal(coord_ro_apply(&f->r, &ev, &f->out), OSP_EINVAL);
	assert_int_equal(f->out.n, 0);
	assert_int_equal(coord_ro_apply(NULL, &ev, &f->out), OSP_EINVAL);
	assert_int_equal(coord_ro_apply(&f->r, NULL, &f->out), OSP_EINVAL);
	assert_int_equal(coord_ro_apply(&f->r, &ev, NULL), OSP_EINVAL);
}

static void test_coord_rollout_pause_resume(void **state)
{
	fx *f = *state;

	fx_init(f, 3, COORD_RO_ROLLING, 1, false, 0, false);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_PAUSE), OSP_ESTATE); /* pending */
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_START), OSP_OK);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_RESUME), OSP_ESTATE);
	assert_int_equal(f->out.n, 0);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_PAUSE), OSP_OK);
	assert_int_equal(f->r.state, COORD_RO_PAUSED);
	assert_true(f->r.paused);
	assert_non_null(ts_ro_event(f, "rollout.paused"));
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_PAUSE), OSP_ESTATE);
	assert_int_equal(f->out.n, 0);
	ts_ro_ok(f, 0); /* in flight: finishes, but the next batch waits */
	assert_int_equal(f->steps[0].state, COORD_STEP_DONE);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 0);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_TICK), OSP_OK);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 0);
	assert_int_equal(f->steps[1].state, COORD_STEP_PENDING);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_RESUME), OSP_OK);
	assert_int_equal(f->r.state, COORD_RO_RUNNING);
	assert_false(f->r.paused);
	assert_non_null(ts_ro_event(f, "rollout.resumed"));
	assert_true(ts_ro_sent(f, 1, COORD_RO_CMD_STAGE));
	ts_ro_ok(f, 1);
	/* Paused during the last batch: it ends only once resumed. */
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_PAUSE), OSP_OK);
	ts_ro_ok(f, 2);
	assert_int_equal(f->r.state, COORD_RO_PAUSED);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_RESUME), OSP_OK);
	ts_ro_assert_done(f, COORD_RO_SUCCEEDED);
}

static void test_coord_rollout_pause_then_fail(void **state)
{
	fx *f = *state;

	fx_init(f, 3, COORD_RO_ROLLING, 1, false, 0, false);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_START), OSP_OK);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_PAUSE), OSP_OK);
	ts_ro_fail(f, 0, "oops");
	ts_ro_ok(f, 0); /* the revert */
	ts_ro_assert_done(f, COORD_RO_FAILED);
	assert_false(f->r.paused);
}

static void test_coord_rollout_abort(void **state)
{
	fx *f = *state;

	fx_init(f, 4, COORD_RO_ROLLING, 2, false, 0, false);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_START), OSP_OK);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_ABORT), OSP_OK);
	assert_true(f->r.abort_requested);
	assert_int_equal(f->r.state, COORD_RO_RUNNING);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_DONE), 0);
	assert_non_null(ts_ro_event(f, "rollout.abort_requested"));
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_ABORT), OSP_OK); /* repeated */
	assert_int_equal(f->out.n, 0);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_PAUSE), OSP_ESTATE);
	ts_ro_ok(f, 0);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_DONE), 0);
	ts_ro_ok(f, 1);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 0);
	ts_ro_assert_done(f, COORD_RO_ABORTED);
	assert_string_equal(f->r.reason, "aborted by request: 2 of 4 nodes on 2.0");
	assert_int_equal(f->steps[2].state, COORD_STEP_PENDING);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_ABORT), OSP_ESTATE);
}

static void test_coord_rollout_abort_waits_for_revert(void **state)
{
	fx *f = *state;

	fx_init(f, 3, COORD_RO_ROLLING, 1, false, 1, false);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_START), OSP_OK);
	ts_ro_fail(f, 0, "bad");
	assert_true(ts_ro_sent(f, 1, COORD_RO_CMD_STAGE));
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_ABORT), OSP_OK);
	ts_ro_ok(f, 1);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_DONE), 0); /* revert of web-1 pending */
	ts_ro_ok(f, 0);
	ts_ro_assert_done(f, COORD_RO_ABORTED);
	assert_string_equal(f->r.reason, "aborted by request: 1 of 3 nodes on 2.0, 1 failed");
}

static void test_coord_rollout_abort_pending_and_paused(void **state)
{
	fx *f = *state;

	fx_init(f, 2, COORD_RO_ROLLING, 1, false, 0, false);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_ABORT), OSP_OK);
	ts_ro_assert_done(f, COORD_RO_ABORTED);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 0);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_START), OSP_ESTATE);

	fx_init(f, 2, COORD_RO_ROLLING, 1, false, 0, false);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_START), OSP_OK);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_PAUSE), OSP_OK);
	ts_ro_ok(f, 0);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_ABORT), OSP_OK); /* nothing in flight */
	ts_ro_assert_done(f, COORD_RO_ABORTED);
	assert_false(f->r.paused);
}

static void test_coord_rollout_restart(void **state)
{
	fx *f = *state;

	fx_init(f, 4, COORD_RO_ROLLING, 2, false, 0, false);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_START), OSP_OK);
	f->now += MIN10 / 2;
	ts_ro_ok(f, 0);
	/* The coordinator restarts: the glue loads the state and sends START. */
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_START), OSP_OK);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 0);
	assert_int_equal(f->out.n, 0);
	assert_int_equal(f->r.state, COORD_RO_RUNNING);
	assert_int_equal(f->r.started_ms, f->now - MIN10 / 2);
	assert_int_equal(f->steps[1].state, COORD_STEP_STAGING);
	/* The deadline still counts from the original send. */
	f->now += MIN10 / 2 + 1;
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_TICK), OSP_OK);
	assert_int_equal(f->steps[1].state, COORD_STEP_UNREACHABLE);
	ts_ro_assert_done(f, COORD_RO_FAILED);

	/* Restart of a paused rollout: it stays paused. */
	fx_init(f, 2, COORD_RO_ROLLING, 1, false, 0, false);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_START), OSP_OK);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_PAUSE), OSP_OK);
	ts_ro_ok(f, 0);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_START), OSP_OK);
	assert_int_equal(f->out.n, 0);
	assert_int_equal(f->r.state, COORD_RO_PAUSED);
}

static void test_coord_rollout_recreate(void **state)
{
	fx *f = *state;
	size_t i;

	fx_init(f, 3, COORD_RO_RECREATE, 1, false, 1, false);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_START), OSP_OK);
	/* Phase 0: stop every member at once, batches ignored. */
	for (i = 0; i < 3; i++) {
		assert_true(ts_ro_sent(f, i, COORD_RO_CMD_STOP));
		assert_int_equal(f->steps[i].state, COORD_STEP_STAGING);
	}
	assert_string_equal(ts_ro_event(f, "batch.started"),
			    "recreate: stopping 3 nodes: web-1, web-2, web-3");
	ts_ro_ok(f, 0);
	assert_true(f->steps[0].stopped);
	assert_int_equal(f->steps[0].state, COORD_STEP_STAGING);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 0);
	/* A restart in phase 0 re-sends nothing. */
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_START), OSP_OK);
	assert_int_equal(f->out.n, 0);
	ts_ro_fail(f, 2, "permission denied");
	assert_int_equal(f->steps[2].state, COORD_STEP_FAILED);
	assert_string_equal(f->steps[2].reason, "stop failed: permission denied");
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 0); /* no revert for a stop */
	ts_ro_ok(f, 1);
	/* Phase 1: stage every stopped member at once. */
	assert_int_equal(f->r.phase, 1);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 2);
	assert_true(ts_ro_sent(f, 0, COORD_RO_CMD_STAGE) && ts_ro_sent(f, 1, COORD_RO_CMD_STAGE));
	assert_string_equal(ts_ro_event(f, "batch.started"),
			    "recreate: starting 2 nodes: web-1, web-2");
	ts_ro_ok(f, 1);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_DONE), 0);
	ts_ro_ok(f, 0);
	ts_ro_assert_done(f, COORD_RO_SUCCEEDED);
	assert_string_equal(f->r.reason, "2 nodes on 2.0 (1 failed within budget)");
}

static void test_coord_rollout_recreate_failures(void **state)
{
	fx *f = *state;

	/* Over budget in phase 0: wait for every stop, then fail, never stage. */
	fx_init(f, 2, COORD_RO_RECREATE, 1, false, 0, false);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_START), OSP_OK);
	ts_ro_fail(f, 0, "no such unit");
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_DONE), 0);
	ts_ro_ok(f, 1);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 0);
	ts_ro_assert_done(f, COORD_RO_FAILED);

	/* A failed stage in phase 1 is reverted; unreachable in phase 0 counts. */
	fx_init(f, 3, COORD_RO_RECREATE, 1, false, 1, false);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_START), OSP_OK);
	ts_ro_ok(f, 0);
	ts_ro_ok(f, 1);
	f->now += MIN10 + 1;
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_TICK), OSP_OK);
	assert_int_equal(f->steps[2].state, COORD_STEP_UNREACHABLE);
	assert_true(ts_ro_sent(f, 0, COORD_RO_CMD_STAGE) && ts_ro_sent(f, 1, COORD_RO_CMD_STAGE));
	ts_ro_fail(f, 0, "unhealthy");
	assert_true(ts_ro_sent(f, 0, COORD_RO_CMD_REVERT));
	ts_ro_ok(f, 1);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_DONE), 0);
	ts_ro_ok(f, 0);
	ts_ro_assert_done(f, COORD_RO_FAILED);
	assert_non_null(strstr(f->r.reason, "2 of 3 nodes failed (budget 1)"));
}

static void test_coord_rollout_skipped(void **state)
{
	fx *f = *state;

	fx_init(f, 4, COORD_RO_ROLLING, 1, false, 0, false);
	f->steps[1].state = COORD_STEP_SKIPPED;
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_START), OSP_OK);
	assert_true(ts_ro_sent(f, 0, COORD_RO_CMD_STAGE));
	ts_ro_ok(f, 0);
	assert_true(ts_ro_sent(f, 2, COORD_RO_CMD_STAGE));
	assert_string_equal(ts_ro_event(f, "batch.started"), "batch 2/3: web-3");
	ts_ro_ok(f, 2);
	ts_ro_ok(f, 3);
	ts_ro_assert_done(f, COORD_RO_SUCCEEDED);
	assert_string_equal(f->r.reason, "3 nodes on 2.0");
	assert_int_equal(f->steps[1].state, COORD_STEP_SKIPPED);
	assert_int_equal(f->steps[1].seq, 0);
}

static void test_coord_rollout_all_skipped(void **state)
{
	fx *f = *state;

	fx_init(f, 2, COORD_RO_ROLLING, 1, false, 0, false);
	f->steps[0].state = COORD_STEP_SKIPPED;
	f->steps[1].state = COORD_STEP_SKIPPED;
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_START), OSP_OK);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_SEND), 0);
	ts_ro_assert_done(f, COORD_RO_FAILED);
	assert_string_equal(f->r.reason, "no nodes match the selection");
	fx_init(f, 0, COORD_RO_RECREATE, 1, false, 0, false);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_START), OSP_OK);
	ts_ro_assert_done(f, COORD_RO_FAILED);
}

static void test_coord_rollout_all_failed_in_budget(void **state)
{
	fx *f = *state;

	fx_init(f, 2, COORD_RO_ROLLING, 2, false, 100, true);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_START), OSP_OK);
	ts_ro_fail(f, 0, "a");
	ts_ro_fail(f, 1, "b");
	ts_ro_ok(f, 0);
	ts_ro_ok(f, 1);
	ts_ro_assert_done(f, COORD_RO_FAILED); /* nothing reached 2.0: no success */
}

static void test_coord_rollout_terminal(void **state)
{
	fx *f = *state;
	uint64_t seq;

	fx_init(f, 1, COORD_RO_ROLLING, 1, false, 0, false);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_START), OSP_OK);
	seq = f->steps[0].seq;
	ts_ro_ok(f, 0);
	ts_ro_assert_done(f, COORD_RO_SUCCEEDED);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_TICK), OSP_OK);
	assert_int_equal(f->out.n, 0);
	assert_int_equal(ts_ro_result_seq(f, 0, seq, false, "late"), OSP_OK);
	assert_int_equal(f->out.n, 0);
	assert_int_equal(f->steps[0].state, COORD_STEP_DONE);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_START), OSP_ESTATE);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_PAUSE), OSP_ESTATE);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_RESUME), OSP_ESTATE);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_ABORT), OSP_ESTATE);
	assert_int_equal(f->out.n, 0);
	assert_int_equal(f->r.state, COORD_RO_SUCCEEDED);
}

static void test_coord_rollout_toobig(void **state)
{
	fx *f = *state;
	coord_ro_event ev = { .kind = COORD_RO_EV_START, .now_ms = 5 };
	coord_ro_step steps[TS_RO_MAX_STEPS];
	coord_rollout before;

	fx_init(f, 5, COORD_RO_ROLLING, 5, false, 0, false);
	assert_int_equal(coord_ro_actions_needed(&f->r), 18);
	before = f->r;
	memcpy(steps, f->steps, sizeof(steps));
	f->out.n = f->out.cap - 17;
	assert_int_equal(coord_ro_apply(&f->r, &ev, &f->out), OSP_ETOOBIG);
	assert_int_equal(f->out.n, f->out.cap - 17);
	assert_memory_equal(&before, &f->r, sizeof(before));
	assert_memory_equal(steps, f->steps, sizeof(steps));
	f->out.n = f->out.cap - 18; /* exactly enough */
	assert_int_equal(coord_ro_apply(&f->r, &ev, &f->out), OSP_OK);
	assert_int_equal(f->out.n, f->out.cap - 18 + 6);
	f->out.n = f->out.cap + 1; /* broken list */
	assert_int_equal(coord_ro_apply(&f->r, &ev, &f->out), OSP_ETOOBIG);
	f->r.nsteps = SIZE_MAX;
	assert_int_equal(coord_ro_actions_needed(&f->r), SIZE_MAX);
}

static void test_coord_rollout_long_reasons(void **state)
{
	fx *f = *state;
	char msg[700];
	const char *end = "; stderr: last line";
	size_t i, len;

	/* a cause, a long middle, the stderr lines last */
	memset(msg, 'x', sizeof(msg) - 1);
	memcpy(msg, "cause: ", 7);
	memcpy(msg + sizeof(msg) - 1 - strlen(end), end, strlen(end) + 1);
	fx_init(f, TS_RO_MAX_STEPS, COORD_RO_ROLLING, TS_RO_MAX_STEPS, false, 0, false);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_START), OSP_OK);
	ts_ro_fail(f, 0, msg);
	/* the step's event keeps the node's whole message */
	assert_non_null(strstr(ts_ro_event(f, "step.failed"), msg));
	for (i = 1; i < TS_RO_MAX_STEPS; i++)
		ts_ro_fail(f, i, msg);
	for (i = 0; i < TS_RO_MAX_STEPS; i++)
		ts_ro_fail(f, i, msg); /* reverts fail too: reasons grow */
	ts_ro_assert_done(f, COORD_RO_FAILED);
	/* too long: the start and the end are kept, " ... " between */
	len = strlen(f->r.reason);
	assert_int_equal(len, COORD_RO_MAX_REASON - 1);
	assert_non_null(strstr(f->r.reason, " ... "));
	assert_non_null(strstr(f->r.reason, "16 of 16 nodes failed (budget 0): web-1: cause: xxx"));
	assert_string_equal(f->r.reason + len - strlen(end), end);
	/* a step's own reason is cut at COORD_RO_STEP_REASON: its cause and
	 * the stderr lines of its last message are kept */
	len = strlen(f->steps[0].reason);
	assert_int_equal(len, COORD_RO_STEP_REASON - 1);
	assert_memory_equal(f->steps[0].reason, "cause: xxx", 10);
	assert_non_null(strstr(f->steps[0].reason, " ... "));
	assert_string_equal(f->steps[0].reason + len - strlen(end), end);
	for (i = 0; i < f->out.n; i++)
		assert_true(strlen(coord_ro_action_msg(&f->out, &f->out.v[i])) < COORD_RO_MAX_REASON);
}

static void test_coord_rollout_blue_green_events(void **state)
{
	fx *f = *state;
	coord_ro_event health = { .kind = COORD_RO_EV_HEALTH, .ok = false, .node = "web-1" };

	/* A rolling rollout has no switch: health is ignored, rollback and
	 * scale-down do not fit. */
	fx_init(f, 2, COORD_RO_ROLLING, 1, false, 0, false);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_START), OSP_OK);
	health.now_ms = f->now;
	assert_int_equal(ts_ro_run(f, &health), OSP_OK);
	assert_int_equal(f->out.n, 0);
	health.node = NULL;
	assert_int_equal(ts_ro_run(f, &health), OSP_EINVAL);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_ROLLBACK), OSP_ESTATE);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_SCALE_DOWN), OSP_ESTATE);
	assert_int_equal(f->out.n, 0);
	assert_int_equal(f->steps[0].state, COORD_STEP_STAGING);
	ts_ro_ok(f, 0);
	ts_ro_ok(f, 1);
	ts_ro_assert_done(f, COORD_RO_SUCCEEDED);
	assert_int_equal(ts_ro_apply(f, COORD_RO_EV_SCALE_DOWN), OSP_ESTATE);
	assert_int_equal(f->r.scale_down_at_ms, 0);
}

static void test_coord_rollout_names(void **state)
{
	static const char *const ro[] = { "pending", "running", "paused", "waiting_approval",
					  "succeeded", "failed", "aborted", "rolled_back" };
	static const char *const st[] = { "pending", "done", "failed", "unreachable",
					  "skipped", "reverted", "staging", "ready", "switching" };
	static const coord_step_state stv[] = { COORD_STEP_PENDING, COORD_STEP_DONE,
		COORD_STEP_FAILED, COORD_STEP_UNREACHABLE, COORD_STEP_SKIPPED,
		COORD_STEP_REVERTED, COORD_STEP_STAGING, COORD_STEP_READY, COORD_STEP_SWITCHING };
	static const char *const strat[] = { "rolling", "blue_green", "canary", "recreate" };
	coord_ro_strategy s = COORD_RO_ROLLING;
	size_t i;

	(void)state;
	for (i = 0; i < 8; i++)
		assert_string_equal(coord_ro_state_name((coord_ro_state)i), ro[i]);
	for (i = 0; i < 9; i++)
		assert_string_equal(coord_step_state_name(stv[i]), st[i]);
	for (i = 0; i < 4; i++) {
		assert_string_equal(coord_ro_strategy_name((coord_ro_strategy)i), strat[i]);
		assert_int_equal(coord_ro_strategy_parse(strat[i], &s), 0);
		assert_int_equal(s, (coord_ro_strategy)i);
	}
	assert_string_equal(coord_ro_state_name((coord_ro_state)99), "unknown");
	assert_string_equal(coord_step_state_name((coord_step_state)99), "unknown");
	assert_string_equal(coord_ro_strategy_name((coord_ro_strategy)99), "unknown");
	assert_int_equal(coord_ro_strategy_parse("blue-green", &s), -1);
	assert_int_equal(coord_ro_strategy_parse(NULL, &s), -1);
	assert_int_equal(s, COORD_RO_RECREATE);
	assert_true(coord_ro_terminal(COORD_RO_SUCCEEDED));
	assert_true(coord_ro_terminal(COORD_RO_FAILED));
	assert_true(coord_ro_terminal(COORD_RO_ABORTED));
	assert_true(coord_ro_terminal(COORD_RO_ROLLED_BACK));
	assert_false(coord_ro_terminal(COORD_RO_PENDING));
	assert_false(coord_ro_terminal(COORD_RO_RUNNING));
	assert_false(coord_ro_terminal(COORD_RO_PAUSED));
	assert_false(coord_ro_terminal(COORD_RO_WAITING_APPROVAL));
}

#define FX_TEST(fn) cmocka_unit_test_setup_teardown(fn, ts_ro_setup, ts_ro_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(test_coord_rollout_plan),
		FX_TEST(test_coord_rollout_budget),
		FX_TEST(test_coord_rollout_rolling_batches),
		FX_TEST(test_coord_rollout_failure_over_budget),
		FX_TEST(test_coord_rollout_failure_within_budget),
		FX_TEST(test_coord_rollout_revert_without_prev),
		FX_TEST(test_coord_rollout_revert_fails),
		FX_TEST(test_coord_rollout_unreachable),
		FX_TEST(test_coord_rollout_unreachable_within_budget),
		FX_TEST(test_coord_rollout_late_success_reverted),
		FX_TEST(test_coord_rollout_revert_unanswered),
		FX_TEST(test_coord_rollout_stale_results),
		FX_TEST(test_coord_rollout_pause_resume),
		FX_TEST(test_coord_rollout_pause_then_fail),
		FX_TEST(test_coord_rollout_abort),
		FX_TEST(test_coord_rollout_abort_waits_for_revert),
		FX_TEST(test_coord_rollout_abort_pending_and_paused),
		FX_TEST(test_coord_rollout_restart),
		FX_TEST(test_coord_rollout_recreate),
		FX_TEST(test_coord_rollout_recreate_failures),
		FX_TEST(test_coord_rollout_skipped),
		FX_TEST(test_coord_rollout_all_skipped),
		FX_TEST(test_coord_rollout_all_failed_in_budget),
		FX_TEST(test_coord_rollout_terminal),
		FX_TEST(test_coord_rollout_toobig),
		FX_TEST(test_coord_rollout_long_reasons),
		FX_TEST(test_coord_rollout_blue_green_events),
		FX_TEST(test_coord_rollout_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
