/*
 * coord_rollout.h - the rollout engine: a pure state machine. State + event
 * in, new state + actions out; no I/O, no clock reads (time comes in the
 * event), no allocation beyond the rollout itself. The glue (coord_exec.c)
 * turns actions into commands appended to node logs, commits the new state
 * with them in one transaction, and feeds results and ticks back.
 */
#ifndef COORD_ROLLOUT_H
#define COORD_ROLLOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ospec/err.h"

#define COORD_RO_MAX_REASON 2048
#define COORD_RO_MAX_ACTIONS 4096
#define COORD_RO_NO_BATCH UINT32_MAX /* batch of a skipped step */

typedef enum coord_ro_state {
	COORD_RO_PENDING = 0,   /* queued behind another rollout of the app */
	COORD_RO_RUNNING,
	COORD_RO_PAUSED,
	COORD_RO_WAITING_APPROVAL,
	COORD_RO_SUCCEEDED,
	COORD_RO_FAILED,
	COORD_RO_ABORTED,
	COORD_RO_ROLLED_BACK,
} coord_ro_state;

typedef enum coord_step_state {
	COORD_STEP_PENDING = 0,
	COORD_STEP_STAGING,
	COORD_STEP_READY,
	COORD_STEP_SWITCHING,
	COORD_STEP_DONE,
	COORD_STEP_FAILED,
	COORD_STEP_UNREACHABLE,
	COORD_STEP_SKIPPED,
	COORD_STEP_REVERTED,
} coord_step_state;

typedef enum coord_ro_strategy {
	COORD_RO_ROLLING = 0,
	COORD_RO_BLUE_GREEN,
	COORD_RO_CANARY,
	COORD_RO_RECREATE,
} coord_ro_strategy;

/* The command a step is waiting for. */
typedef enum coord_ro_cmd {
	COORD_RO_CMD_NONE = 0,
	COORD_RO_CMD_STAGE,     /* install + start + health-check the new release */
	COORD_RO_CMD_REVERT,    /* back to prev_version/prev_sha256 (or stop if none) */
	COORD_RO_CMD_STOP,      /* recreate: stop the app */
} coord_ro_cmd;

typedef struct coord_ro_step {
	char node[64];
	coord_step_state state;
	uint32_t batch;
	uint64_t seq;           /* set by the glue after it appended the command */
	coord_ro_cmd cmd;       /* outstanding command, NONE if none */
	int64_t started_ms;     /* when the outstanding command was issued */
	int64_t finished_ms;
	char reason[COORD_RO_MAX_REASON];
	char prev_version[129]; /* "" if the app did not run there */
	char prev_sha256[65];
	bool revert_pending;    /* a revert is outstanding (cmd == REVERT) */
	bool stopped;           /* recreate: the stop succeeded */
} coord_ro_step;

typedef struct coord_rollout {
	char id[64];
	char app[64];
	char version[129];
	coord_ro_strategy strategy;
	uint32_t batch;         /* count, or percent when batch_pct */
	bool batch_pct;
	uint32_t max_failures;  /* count, or percent when max_failures_pct */
	bool max_failures_pct;
	int64_t progress_deadline_ms;
	coord_ro_state state;
	bool paused;            /* no new batch starts */
	bool abort_requested;   /* no new batch; ends aborted when idle */
	int32_t current_batch;  /* -1 before the first */
	uint32_t phase;         /* recreate: 0 stopping, 1 starting */
	int64_t started_ms, finished_ms;
	char reason[COORD_RO_MAX_REASON];
	size_t nsteps;
	coord_ro_step *steps;   /* owned by the caller */
} coord_rollout;

typedef enum coord_ro_event_kind {
	COORD_RO_EV_START = 0,  /* begin (also: resume after a coordinator restart) */
	COORD_RO_EV_TICK,       /* time passed: deadlines */
	COORD_RO_EV_RESULT,     /* a node reported the result of a command */
	COORD_RO_EV_PAUSE,
	COORD_RO_EV_RESUME,
	COORD_RO_EV_ABORT,
} coord_ro_event_kind;

typedef struct coord_ro_event {
	coord_ro_event_kind kind;
	int64_t now_ms;         /* coordinator wall clock */
	const char *node;       /* RESULT */
	uint64_t seq;           /* RESULT: the command's sequence */
	bool ok;                /* RESULT */
	const char *message;    /* RESULT: reason on failure */
} coord_ro_event;

typedef enum coord_ro_action_kind {
	COORD_RO_ACT_SEND = 0,  /* send step's cmd to the node (glue sets step.seq) */
	COORD_RO_ACT_CANCEL,    /* the node's outstanding command is void (unreachable) */
	COORD_RO_ACT_EVENT,     /* record an event */
	COORD_RO_ACT_DONE,      /* the rollout reached a terminal state */
} coord_ro_action_kind;

typedef struct coord_ro_action {
	coord_ro_action_kind kind;
	size_t step;            /* index into steps, or SIZE_MAX for rollout-wide */
	char event[32];         /* EVENT: "batch.started", "step.failed", ... */
	char message[COORD_RO_MAX_REASON];
} coord_ro_action;

typedef struct coord_ro_actions {
	size_t n;
	coord_ro_action *v;     /* capacity cap, owned by the caller */
	size_t cap;
} coord_ro_actions;

/* coord_ro_plan assigns steps to batches in their given order (the glue sorts
 * them by node id): `batch` nodes per batch, or ceil(batch% of the members),
 * at least 1. Skipped steps get COORD_RO_NO_BATCH. Returns the number of
 * batches. Blue-green and canary stage in batches like rolling; recreate
 * ignores the batches (it stops every member, then stages every stopped one).
 * coord_ro_apply(START) calls it when no batch has started yet. */
uint32_t coord_ro_plan(coord_rollout *r);

/* coord_ro_budget returns how many failed steps the rollout tolerates. */
uint32_t coord_ro_budget(const coord_rollout *r);

/* coord_ro_actions_needed returns how many free action slots coord_ro_apply
 * needs in out for r (2 * nsteps + 8), or SIZE_MAX if that overflows. */
size_t coord_ro_actions_needed(const coord_rollout *r);

/* coord_ro_apply applies one event to r and appends the actions to out.
 * OSP_ETOOBIG if out has fewer than coord_ro_actions_needed(r) free slots
 * (r is then unchanged), OSP_EINVAL for NULL arguments or a RESULT without a
 * node, OSP_ENOENT for a RESULT from a node that is not a step of r,
 * OSP_ESTATE for an event that does not fit (e.g. RESUME when not paused, or
 * any control event on a terminal rollout): r and out are then unchanged.
 * RESULT and TICK on a terminal rollout, and stale or duplicate results
 * (seq != step.seq, or no outstanding command) are ignored with OSP_OK. */
osp_err coord_ro_apply(coord_rollout *r, const coord_ro_event *ev, coord_ro_actions *out);

/* Names used in JSON and on the CLI (CLI.md); "unknown" for a bad value.
 * coord_ro_state_name, coord_step_state_name and coord_ro_strategy_name
 * return static strings. */
const char *coord_ro_state_name(coord_ro_state s);
const char *coord_step_state_name(coord_step_state s);
const char *coord_ro_strategy_name(coord_ro_strategy s);
/* coord_ro_strategy_parse parses a strategy name; returns 0, or -1 if s is
 * NULL or unknown (out untouched). */
int coord_ro_strategy_parse(const char *s, coord_ro_strategy *out);
/* coord_ro_terminal reports whether s is final (succeeded, failed, aborted,
 * rolled_back). */
bool coord_ro_terminal(coord_ro_state s);

#endif
