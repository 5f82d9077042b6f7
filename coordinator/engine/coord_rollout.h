/*
 * coord_rollout.h - the rollout engine: a pure state machine. State + event
 * in, new state + actions out; no I/O, no clock reads (time comes in the
 * event), no allocation beyond the rollout itself. Built as its own library
 * (coordinator/engine/, ospec_engine), linked to libc only. The glue
 * (coord_active.c) turns actions into commands appended to node logs and
 * commits the new state with them in one transaction; coord_engine.c feeds
 * results, heartbeats and, when coord_ro_next_deadline says so, the clock.
 */
#ifndef COORD_ROLLOUT_H
#define COORD_ROLLOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ospec/err.h"

#define COORD_RO_MAX_REASON 2048
/* A step's own reason (what status shows for a node) is cut shorter: at
 * 5000 nodes every byte of it is 5 MB of the coordinator's memory per
 * rollout. The step's events keep the node's whole message (up to
 * COORD_RO_MAX_REASON). */
#define COORD_RO_STEP_REASON 512
#define COORD_RO_MAX_ACTIONS 4096
#define COORD_RO_NO_BATCH UINT32_MAX /* batch of a skipped step */
#define COORD_RO_NEVER INT64_MAX     /* no deadline (coord_ro_next_deadline) */
/* blue-green: the prepare deadline used when prepare_deadline_ms <= 0 */
#define COORD_RO_PREPARE_DEADLINE_MS 30000

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
	COORD_RO_CMD_PREPARE,   /* blue-green: SwitchPrepare(switch_id, to step.to_slot) */
	COORD_RO_CMD_DECIDE,    /* blue-green: SwitchDecision(switch_id, step.decide_commit) */
	COORD_RO_CMD_SCALE_DOWN,/* blue-green: stop step.old_slot (refused if active again) */
	COORD_RO_CMD_WEIGHT,    /* canary: TrafficWeight(step.slot, r->canary.weight) */
	COORD_RO_CMD_STATS,     /* canary: TrafficStats(step.slot) */
} coord_ro_cmd;

/* Votes of a step in the current switch. */
typedef enum coord_ro_vote {
	COORD_RO_VOTE_NONE = 0,
	COORD_RO_VOTE_YES,
	COORD_RO_VOTE_NO,
} coord_ro_vote;

/* The decision of the current switch (durable before phase 2). */
typedef enum coord_ro_decision {
	COORD_RO_DECISION_NONE = 0,
	COORD_RO_DECISION_COMMIT,
	COORD_RO_DECISION_ABORT,
} coord_ro_decision;

/* Phases of a rolling or recreate rollout (coord_rollout.phase; recreate
 * uses 0 stopping and 1 starting before them). */
enum {
	COORD_RO_WATCH = 2,     /* every batch done: health watched until watch_until_ms */
	COORD_RO_BACK = 3,      /* going back: every done node reverts (watch failure,
				 * abort or rollback during the watch) */
};

/* Phases of a canary rollout before its promotion (coord_rollout.phase; it
 * stages as blue-green in COORD_BG_STAGE and promotes through the blue-green
 * switch, COORD_BG_PREPARE onwards). */
enum {
	COORD_CN_WEIGHT = 10,   /* TrafficWeight(r->canary.weight) out, acks being collected */
	COORD_CN_BAKE,          /* every node at the weight: traffic flows until step_until_ms */
	COORD_CN_ANALYZE,       /* TrafficStats out: the interval's counters being collected */
	COORD_CN_GATE,          /* passed at the last weight: waiting for APPROVE to promote */
	COORD_CN_RESET,         /* going back: TrafficWeight(0) out, then the rollout ends */
};

/* Phases of a blue-green rollout (coord_rollout.phase). */
enum {
	COORD_BG_STAGE = 0,     /* stage into the idle slot, batches apply */
	COORD_BG_PREPARE,       /* votes being collected */
	COORD_BG_COMMIT,        /* decision sent, acks being collected */
	COORD_BG_VERIFY,        /* rollback window: health watched */
	COORD_BG_BACK_PREPARE,  /* switching back: votes */
	COORD_BG_BACK_COMMIT,   /* switching back: decision sent */
};

/* A proxy's cumulative counters of one slot's server (wire SlotStats). */
typedef struct coord_ro_stats {
	uint64_t requests;
	uint64_t errors;
	uint32_t rtime_ms;
	bool has_rtime;
	int64_t proxy_start;    /* counters count from then; another value: they restarted */
} coord_ro_stats;

/* Where the external query of the current analysis is. */
typedef enum coord_ro_ext {
	COORD_RO_EXT_NONE = 0,
	COORD_RO_EXT_PENDING,   /* asked (ACT_QUERY), no answer yet */
	COORD_RO_EXT_PASSED,
	COORD_RO_EXT_FAILED,
} coord_ro_ext;

/* A canary rollout's settings and where it is (coord_rollout.canary). */
typedef struct coord_ro_canary {
	/* settings: weights go initial, initial + step, ... up to max (percent) */
	uint32_t initial, step, max;
	int64_t interval_ms;    /* traffic at each weight this long, then an analysis */
	uint32_t threshold;     /* this many failed analyses abort the canary (>= 1) */
	uint32_t min_success_x100; /* success rate floor in 1/100 % (9900: 99%); 0: none */
	uint32_t max_rtime_ms;  /* mean response time ceiling; 0: none */
	uint64_t min_requests;  /* fewer requests to the canary in an interval: failed */
	/* state */
	uint32_t weight;        /* the recorded weight (what every node is told) */
	uint32_t step_no;       /* 1 for the first weight */
	int64_t step_until_ms;  /* BAKE: when the analysis of this interval starts */
	uint32_t failed_checks;
	uint32_t analyses;
	/* the last analysis, aggregated over the nodes that answered */
	int64_t an_ms;          /* 0: none yet */
	uint64_t an_requests, an_errors;
	uint32_t an_rtime_ms;
	bool an_has_rtime;
	bool an_passed;
	uint32_t an_nodes;
	char an_note[COORD_RO_MAX_REASON / 4];
	/* an external metrics query (Prometheus, --analysis-url) checked at
	 * every analysis besides the counters: the glue runs it on ACT_QUERY
	 * and answers with EV_METRIC */
	bool ext;
	coord_ro_ext ext_state;
	char ext_note[COORD_RO_MAX_REASON / 4]; /* the query's value or why it failed */
} coord_ro_canary;

typedef struct coord_ro_step {
	char node[64];
	coord_step_state state;
	uint32_t batch;
	uint64_t seq;           /* set by the glue after it appended the command */
	coord_ro_cmd cmd;       /* outstanding command, NONE if none */
	int64_t started_ms;     /* when the outstanding command was issued */
	int64_t finished_ms;
	char reason[COORD_RO_STEP_REASON];
	char prev_version[129]; /* "" if the app did not run there; from the inventory at
				 * creation (a hint for plans), then from the node's own
				 * answer to its stage (what it really ran before) */
	char prev_sha256[65];
	char version[129];      /* what the node runs after its last answer ("" unknown
				 * or stopped); blue-green: its active slot's release */
	char sha256[65];
	uint64_t void_seq;      /* glue: the revert appended when its stage was voided */
	bool revert_pending;    /* a revert is outstanding (cmd == REVERT) */
	bool stopped;           /* recreate: the stop succeeded */
	/* blue-green */
	char slot[8];           /* the slot staged into (the idle one the agent picked and
				 * named in its stage result): "blue"/"green" */
	char old_slot[8];       /* the active slot before the switch, "" on first deploy
				 * (from the stage result too) */
	char to_slot[8];        /* the slot the outstanding PREPARE switches traffic to; the
				 * engine fills it before every PREPARE: step.slot going
				 * forward, step.old_slot when switching back */
	coord_ro_vote vote;     /* in the current switch */
	bool in_switch;         /* member of the current switch */
	bool decide_commit;     /* the decision this step's DECIDE carries */
	int64_t acked_ms;       /* when it acknowledged the decision (coordinator clock) */
	bool healthy_seen;      /* verify: reported healthy on the new slot */
	uint64_t stage_generation; /* glue: generation of the STAGE it sent */
	/* canary: the slot's counters at the start of the interval and the
	 * latest ones (fresh: answered in the current analysis) */
	coord_ro_stats base, last;
	bool has_base, fresh;
} coord_ro_step;

typedef struct coord_rollout {
	char id[64];
	char app[64];
	char version[129];
	char sha256[65];        /* the release's sha256 (what a revert undoes) */
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
	uint32_t phase;         /* recreate: 0 stopping, 1 starting; blue-green: COORD_BG_* */
	/* blue-green */
	char switch_id[64];     /* the current switch ("<rollout id>-s<n>") */
	uint32_t switch_no;     /* 1 forward, 2 back, ... */
	coord_ro_decision decision;
	int64_t prepare_deadline_ms;  /* votes must arrive within this (default 30s) */
	int64_t prepare_started_ms;
	int64_t rollback_window_ms;   /* the post-deploy watch: blue-green verifies this long
				       * after the commit, rolling/recreate watch this long
				       * after the last batch (0: no watch) */
	bool switch_gate;       /* blue-green: once staged, wait in WAITING_APPROVAL for
				 * APPROVE before the switch (an OSpec traffic-switch gate) */
	bool switch_approved;
	bool auto_rollback;     /* an unhealthy node in the watch makes the fleet go back
				 * (else the rollout fails and nothing is reverted) */
	coord_ro_state ending;  /* going back on request: ABORTED (abort) or ROLLED_BACK
				 * (rollback); 0 for an automatic way back */
	int64_t watch_until_ms; /* rolling/recreate: end of the watch */
	int64_t verify_until_ms;
	int64_t scale_down_delay_ms;  /* > rollback window */
	int64_t scale_down_at_ms;     /* when the old slots are stopped (0: not planned) */
	bool scale_down_sent;
	int64_t first_ack_ms, last_ack_ms; /* flip skew of the current switch */
	coord_ro_canary canary; /* strategy canary */
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
	COORD_RO_EV_HEALTH,     /* a node reports the app's health (ok) on its active slot */
	COORD_RO_EV_ROLLBACK,   /* operator: go back now (during the watch or verify) */
	COORD_RO_EV_SCALE_DOWN, /* blue-green, succeeded, now >= scale_down_at_ms: stop the
				 * old slots (the one event a terminal rollout accepts) */
	COORD_RO_EV_APPROVE,    /* blue-green waiting at its switch gate: switch now */
	COORD_RO_EV_METRIC,     /* canary: the external query's answer (ok: within its range;
				 * message: the value or the error; seq: the number of the
				 * analysis it was asked for, canary.analyses + 1 then) */
} coord_ro_event_kind;

typedef struct coord_ro_event {
	coord_ro_event_kind kind;
	int64_t now_ms;         /* coordinator wall clock */
	const char *node;       /* RESULT, HEALTH */
	uint64_t seq;           /* RESULT: the command's sequence */
	bool ok;                /* RESULT, HEALTH */
	const char *message;    /* RESULT, HEALTH: reason on failure (may be NULL) */
	/* RESULT of a PREPARE: ok means the node voted YES (RESULT_VOTE_YES) */
	const char *slot;       /* HEALTH: the slot the node reports active; a report for
				 * another slot than step.slot is ignored; NULL or "": any.
				 * RESULT of a blue-green STAGE: the slot the agent staged into */
	/* RESULT: what the node reports (each may be NULL or "") */
	const char *version;    /* the release the app runs after the command */
	const char *sha256;     /* its sha256; HEALTH: the release reported (a rolling
				 * report about another release is ignored) */
	const char *prev_version; /* STAGE: what ran before (the agent's revert target) */
	const char *active_slot;  /* blue-green STAGE: the active slot when it staged */
	coord_ro_cmd done_cmd;  /* RESULT: the kind of command executed (NONE: unknown) */
	const coord_ro_stats *stats; /* RESULT of WEIGHT or STATS: the slot's counters (NULL:
				 * none reported) */
} coord_ro_event;

typedef enum coord_ro_action_kind {
	COORD_RO_ACT_SEND = 0,  /* send step's cmd to the node (glue sets step.seq) */
	COORD_RO_ACT_CANCEL,    /* the node's outstanding command is void (unreachable) */
	COORD_RO_ACT_EVENT,     /* record an event */
	COORD_RO_ACT_DONE,      /* the rollout reached a terminal state */
	COORD_RO_ACT_QUERY,     /* canary: run the external metrics query, answer with
				 * EV_METRIC (after this transaction committed) */
	COORD_RO_ACT_DECIDE,    /* blue-green: record r->decision for r->switch_id durably;
				 * the glue commits it before any DECIDE command can be seen
				 * (event: "commit"/"abort", message: the switch id) */
} coord_ro_action_kind;

typedef struct coord_ro_action {
	coord_ro_action_kind kind;
	size_t step;            /* index into steps, or SIZE_MAX for rollout-wide */
	char event[32];         /* EVENT: "batch.started", "step.failed", ... */
	size_t msg;             /* its message in the actions' text (coord_ro_action_msg),
				 * COORD_RO_NO_MSG if none */
} coord_ro_action;

#define COORD_RO_NO_MSG SIZE_MAX

/* The actions of one or more events. The messages (at most
 * COORD_RO_MAX_REASON bytes each) are kept apart, one after the other in
 * text, so that an action is small: a fleet-wide fan-out of 5000 SENDs used
 * to take 10 MB of 2 KB message buffers, most of them holding 20 bytes.
 * The engine grows text with realloc as it needs (it may start NULL); the
 * caller frees it. A message that cannot be kept for lack of memory is "". */
typedef struct coord_ro_actions {
	size_t n;
	coord_ro_action *v;     /* capacity cap, owned by the caller */
	size_t cap;
	char *text;             /* the messages, NUL-terminated; text_cap bytes */
	size_t text_len, text_cap;
} coord_ro_actions;

/* coord_ro_action_msg returns a's message ("" if none); valid until the
 * next event applied with out. */
const char *coord_ro_action_msg(const coord_ro_actions *out, const coord_ro_action *a);

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
 * (seq != step.seq, or no outstanding command) are ignored with OSP_OK.
 *
 * Blue-green (phase COORD_BG_*): stage batches as rolling (READY, no revert),
 * then the forward switch: PREPARE to every READY step, votes, one decision
 * (ACT_DECIDE comes before the DECIDE sends it governs), DECIDE to every
 * member, acks, VERIFY until verify_until_ms, SUCCEEDED with scale_down_at_ms
 * set. An unhealthy report or ROLLBACK in VERIFY opens a switch back
 * (BACK_PREPARE/BACK_COMMIT) ending ROLLED_BACK. PREPARE and DECIDE are never
 * cancelled. Past staging: PAUSE and RESUME are OSP_ESTATE; ABORT decides
 * abort in PREPARE (the rollout ends ABORTED) and is OSP_ESTATE later;
 * ROLLBACK is OSP_ESTATE outside VERIFY (OSP_OK while switching back);
 * START changes nothing (outstanding commands are in the node logs). HEALTH outside
 * VERIFY or of a step that is not done is ignored (OSP_OK; OSP_EINVAL without
 * a node, OSP_ENOENT for an unknown node in VERIFY). SCALE_DOWN is OSP_ESTATE
 * unless the rollout is a succeeded blue-green one with scale_down_at_ms set
 * and reached; a second SCALE_DOWN is ignored (OSP_OK). Results of SCALE_DOWN
 * commands are taken on the terminal rollout. */
osp_err coord_ro_apply(coord_rollout *r, const coord_ro_event *ev, coord_ro_actions *out);

/* coord_ro_next_deadline returns when r next needs a time event, and which
 * one in *kind (may be NULL): COORD_RO_EV_SCALE_DOWN for a succeeded
 * blue-green or canary rollout whose old slots are due to stop, else
 * COORD_RO_EV_TICK. It is the earliest now_ms at which coord_ro_apply of that
 * event acts on a deadline: a progress deadline of an outstanding command
 * (where the phase expires it), the end of a rolling/recreate watch, of a
 * canary's bake interval or analysis, of a blue-green prepare or verify, the
 * scale-down time. Before it, that event changes nothing; the glue applies
 * it once its clock reaches the time and asks again afterwards (results and
 * operator events move deadlines too). COORD_RO_NEVER (*kind TICK) when no
 * time event would change anything: terminal, pending, waiting for approval,
 * or waiting for answers without a progress deadline. Pure: r is not
 * changed; NULL r gives COORD_RO_NEVER. */
int64_t coord_ro_next_deadline(const coord_rollout *r, coord_ro_event_kind *kind);

/* coord_ro_watching reports whether HEALTH reports can change r now: a
 * rolling/recreate watch or a blue-green verify (a canary's after its
 * promotion). Outside them the engine ignores HEALTH, so the glue need not
 * open a transaction for a heartbeat. */
bool coord_ro_watching(const coord_rollout *r);

/* coord_ro_switch_undecided reports whether r's current switch
 * (r->switch_id, when set) may still get a decision: r is not terminal and
 * has none recorded. A node in doubt about a switch that no rollout can
 * still decide gets a presumed abort. */
bool coord_ro_switch_undecided(const coord_rollout *r);

/* coord_ro_scale_down_pending reports whether a succeeded blue-green or
 * canary rollout still has scale-downs to send or to hear back from: the
 * glue keeps it among the active rollouts until then. */
bool coord_ro_scale_down_pending(const coord_rollout *r);

/* coord_ro_slotted: the strategy stages into an idle slot and switches
 * traffic (blue-green, canary). */
bool coord_ro_slotted(coord_ro_strategy s);

/* coord_ro_canary_next_weight returns the weight after w (w + step, at most
 * max), or w when w is max already. */
uint32_t coord_ro_canary_next_weight(const coord_ro_canary *c, uint32_t w);

/* Names used in JSON and on the CLI (CLI.md); "unknown" for a bad value.
 * coord_ro_state_name, coord_step_state_name and coord_ro_strategy_name
 * return static strings. */
const char *coord_ro_state_name(coord_ro_state s);
const char *coord_step_state_name(coord_step_state s);
const char *coord_ro_strategy_name(coord_ro_strategy s);
/* coord_ro_strategy_parse parses a strategy name; returns 0, or -1 if s is
 * NULL or unknown (out untouched). */
int coord_ro_strategy_parse(const char *s, coord_ro_strategy *out);
/* coord_ro_phase_name names where a rollout is (status "phase"): "queued",
 * "batches", "stopping"/"starting" (recreate), "watching", "reverting",
 * "staging", "preparing", "switching", "verifying", "switching_back"
 * (blue-green), "done" once terminal. A static string. */
const char *coord_ro_phase_name(coord_ro_strategy strategy, coord_ro_state state, uint32_t phase);
/* coord_ro_terminal reports whether s is final (succeeded, failed, aborted,
 * rolled_back). */
bool coord_ro_terminal(coord_ro_state s);

#endif
