/*
 * coord_plan.h - the plan engine: the stages of an OSpec plan, in order,
 * each run as one rollout. A pure state machine like coord_rollout.h: state
 * + event in, new state + actions out; no I/O, no clock (time comes in the
 * event). The glue (coord_plans.c) creates a stage's rollout for CREATE,
 * aborts it for ABORT_CHILD, records EVENT, and commits the plan with them.
 *
 * A plan runs its stages one after the other. A stage with a gate waits in
 * WAITING_APPROVAL until APPROVE; a stage whose rollout does not succeed
 * ends the plan in that rollout's state, and no later stage ever starts.
 */
#ifndef COORD_PLAN_H
#define COORD_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coord_rollout.h"
#include "ospec/err.h"

#define COORD_PLAN_MAX_STAGES 16
#define COORD_PLAN_MAX_ACTIONS 8

typedef struct coord_plan_stage {
	char name[41];
	bool gate;              /* approval needed before it starts */
	bool approved;
	coord_ro_state state;   /* PENDING (not started), WAITING_APPROVAL, RUNNING, then the
				 * stage rollout's terminal state */
} coord_plan_stage;

typedef struct coord_plan {
	coord_ro_state state;   /* PENDING, RUNNING, WAITING_APPROVAL, then terminal */
	uint32_t current;       /* the stage running or waiting; nstages once done */
	bool abort_requested;   /* no later stage starts; ends ABORTED */
	char reason[512];
	size_t nstages;
	coord_plan_stage stages[COORD_PLAN_MAX_STAGES];
} coord_plan;

typedef enum coord_plan_event_kind {
	COORD_PLAN_EV_START = 0,  /* begin; on a running plan (a restart): nothing */
	COORD_PLAN_EV_CHILD_DONE, /* the stage's rollout ended in child_state */
	COORD_PLAN_EV_APPROVE,    /* the gate of stage (NULL: the waiting one) is passed */
	COORD_PLAN_EV_ABORT,
} coord_plan_event_kind;

typedef struct coord_plan_event {
	coord_plan_event_kind kind;
	const char *stage;        /* CHILD_DONE, APPROVE (may be NULL) */
	coord_ro_state child_state;
	const char *reason;       /* CHILD_DONE: the rollout's reason (may be NULL) */
} coord_plan_event;

typedef enum coord_plan_action_kind {
	COORD_PLAN_ACT_CREATE = 0, /* create and start stage's rollout */
	COORD_PLAN_ACT_ABORT_CHILD,/* abort stage's rollout */
	COORD_PLAN_ACT_EVENT,      /* record event/message */
	COORD_PLAN_ACT_DONE,       /* the plan reached a terminal state */
} coord_plan_action_kind;

typedef struct coord_plan_action {
	coord_plan_action_kind kind;
	size_t stage;
	char event[32];            /* "stage.started", "stage.waiting_approval", ... */
	char message[640];
} coord_plan_action;

typedef struct coord_plan_actions {
	size_t n;
	coord_plan_action v[COORD_PLAN_MAX_ACTIONS];
} coord_plan_actions;

/*
 * coord_plan_apply applies ev to p and appends actions to out (out->n is
 * not reset). OSP_EINVAL for NULL arguments; OSP_ESTATE for an event that
 * does not fit (APPROVE when no stage waits, ABORT or START on a terminal
 * plan); OSP_ENOENT for APPROVE naming a stage that is not the waiting one,
 * or CHILD_DONE naming no stage. A CHILD_DONE for a stage that is not
 * running (stale, duplicate) is ignored with OSP_OK. p is unchanged on error.
 */
osp_err coord_plan_apply(coord_plan *p, const coord_plan_event *ev, coord_plan_actions *out);

/* coord_plan_stage_state_name: the stage state as status shows it:
 * coord_ro_state_name, or "not_started" for a PENDING stage of a finished
 * plan. A static string. */
const char *coord_plan_stage_state_name(const coord_plan *p, size_t i);

#endif
