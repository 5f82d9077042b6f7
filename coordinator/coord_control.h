/*
 * coord_control.h - control API verbs. A verb runs with coord.mtx held; a
 * mutating verb gets rq->txn (a write transaction) to put its changes in,
 * which the dispatcher commits before the reply is sent. A verb returns the
 * ospecctl exit status (0 ok, 1 failed, 2 usage, 4 not found), writes its
 * result document to json and a one-line reason to err.
 */
#ifndef COORD_CONTROL_H
#define COORD_CONTROL_H

#include "coord.h"
#include "coord_plan.h"
#include "coord_rollout.h"
#include "ospec/json.h"
#include "ospec/v1/control.pb-c.h"

typedef struct coord_ctl_req coord_ctl_req;
struct coord_ctl_req {
	Ospec__V1__CtlRequest *msg;
	char actor[64];
	osp_txn *txn;                 /* mutating verbs only */
	bool discard;                 /* abort txn even on success (dry runs) */
	/* optional: run after a successful commit / after a failed one */
	void (*after_commit)(coord *c, coord_ctl_req *rq);
	void (*on_abort)(coord *c, coord_ctl_req *rq);
	void (*cleanup)(coord_ctl_req *rq);
	void *data;                   /* for those hooks */
	/* the reply's slot on the control socket: a verb that returns
	 * COORD_CTL_DEFERRED keeps it and answers later with
	 * coord_control_deferred (logs); NULL where no reply can wait */
	void *defer;
	bool deferred;                /* the verb returned COORD_CTL_DEFERRED */
};

/* coord_control_pack packs reply r into a new message (the caller's to send
 * or free); NULL out of memory. The standby (coord_standby.c) answers with it
 * too. */
nng_msg *coord_control_pack(const Ospec__V1__CtlReply *r);

/* A verb's status meaning "answered later" (coord_control_deferred). */
#define COORD_CTL_DEFERRED (-1)

/* coord_control_deferred sends the reply of a request whose verb returned
 * COORD_CTL_DEFERRED (defer is its rq->defer), exactly once: status, error
 * (NULL when status is 0) and json as coord_control's replies. Never blocks;
 * callable from any thread, with or without coord.mtx. */
void coord_control_deferred(void *defer, uint32_t status, const char *error, const char *json);

/* coord_verb_logs (coord_logs.c) asks node NODE's agent for app APP's
 * captured output (arguments node, app, slot, lines, follow, out_offset,
 * err_offset) and answers when the node does (COORD_CTL_DEFERRED), or at
 * once: 2 (bad argument), 4 (unknown node or app), 1 (node down, agent older
 * than protocol 1.4, too many reads waiting). */
int coord_verb_logs(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen);

typedef int (*coord_verb_fn)(coord *c, coord_ctl_req *rq, osp_buf *json, char *err,
	size_t errlen);

typedef struct coord_verb {
	const char *name;
	bool mutates;
	coord_verb_fn fn;
	/* runs without coord.mtx, without a transaction and without request
	 * de-duplication (backup: seconds of copying must not stall the agents);
	 * mutates then only means "admin role" */
	bool nolock;
} coord_verb;

/* coord_control_exec runs the verb rq->msg names as a control request
 * does, without a socket (no signer check, no repeat lookup): under
 * coord.mtx, a mutating verb in a write transaction committed with its
 * request record (or aborted, on_abort run) before it returns. Returns the
 * verb's status: 0, 1 with err (refused, or its change could not be saved),
 * 2 for an unknown verb; rq->deferred when it answers later. */
int coord_control_exec(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen);

/* coord_ctl_arg returns the value of argument key, or NULL. */
const char *coord_ctl_arg(const coord_ctl_req *rq, const char *key);

/* coord_ctl_nodes.c */
int coord_verb_nodes(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen);
int coord_verb_cordon(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen);
int coord_verb_uncordon(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen);
int coord_verb_forget(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen);
int coord_verb_stats(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen);

/* coord_json_node writes one node as a JSON object. */
void coord_json_node(osp_jw *w, const coord_node *n);

/* coord_ctl_rollouts.c */
int coord_verb_deploy(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen);
int coord_verb_status(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen);
int coord_verb_rollouts(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen);
int coord_verb_history(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen);
int coord_verb_pause(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen);
int coord_verb_resume(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen);
int coord_verb_abort(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen);
/* coord_control_relisten closes the control listener and listens again on
 * the same URL (the socket file made anew, permissions and group as at
 * start): what revives an ipc:// listener nng 1.5.2 wedged. Called by the
 * watchdog only. OSP_ECONFIG (group) or nng errors with err. */
osp_err coord_control_relisten(coord *c, char *err, size_t errlen);

/* coord_ctl_watchdog_start starts the control watchdog (ipc:// only;
 * coord_ctl_watchdog.c): every COORD_CTL_WATCHDOG_MS it asks its own control
 * socket, as ospecctl would, and listens again after two unanswered tries.
 * coord_ctl_watchdog_stop stops it (c->stopping is set first). */
void coord_ctl_watchdog_start(coord *c);
void coord_ctl_watchdog_stop(coord *c);

/* coord_verb_control applies PAUSE, RESUME, ABORT or ROLLBACK to the active
 * rollout named by the "rollout" argument: 0 with {"id", "state"} in json,
 * 1 when it does not fit its state, 4 for an unknown rollout. */
int coord_verb_control(coord *c, coord_ctl_req *rq, osp_buf *json, coord_ro_event_kind kind,
	char *err, size_t errlen);

/* OSpec plans (coord_ctl_plans.c): `plan` shows what `apply` would run,
 * `apply` stores and starts a plan, `approve` passes its gate. */
int coord_verb_plan(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen);
int coord_verb_apply(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen);
int coord_verb_approve(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen);

/* coord_ctl_deploy_canary is `deploy --canary N|N%` (rolling): a plan of two
 * stages, the canary nodes (all at once, baked for --canary-bake, default
 * the --watch) then the rest (behind an approval gate with
 * --canary-approval). The rollout id it answers is the plan's. */
int coord_ctl_deploy_canary(coord *c, coord_ctl_req *rq, osp_buf *json, char *err,
	size_t errlen);

/* coord_json_plan writes plan p (t: read its stages' rollouts; NULL for a
 * plan not stored, as `plan` shows it) (coord_ctl_plans_json.c, with the
 * three below). */
void coord_json_plan(coord *c, osp_txn *t, osp_jw *w, const Ospec__V1__PlanRecord *p);

/* coord_ctl_plan_status writes plan id's status into json: 0, 4 if there is
 * no such plan, 1 on a store error. */
int coord_ctl_plan_status(coord *c, const char *id, osp_buf *json);

/* coord_ctl_plans_list reads up to cap plans (of app, if not NULL) from t,
 * newest first, into *out (the caller frees each record and the array). */
size_t coord_ctl_plans_list(osp_txn *t, const char *app, size_t cap,
	Ospec__V1__PlanRecord ***out);

/* coord_json_plan_row writes plan p as a row of `rollouts` (kind "plan"). */
void coord_json_plan_row(coord *c, osp_txn *t, osp_jw *w, const Ospec__V1__PlanRecord *p);

/* coord_ctl_plan_control applies APPROVE or ABORT to plan id in rq->txn:
 * 0, 1 (does not fit its state; err says why), 4 (no such plan). */
int coord_ctl_plan_control(coord *c, coord_ctl_req *rq, const char *id,
	coord_plan_event_kind kind, osp_buf *json, char *err, size_t errlen);

/* coord_verb_rollback (coord_ctl_rollback.c) starts a rollout of ROLLOUT's
 * app back to the release before it; refused unless ROLLOUT is the app's
 * latest succeeded rollout and no other rollout of the app is active. */
int coord_verb_rollback(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen);

/* -- helpers of the rollout verbs (coord_ctl_spec.c, coord_ctl_rollouts.c),
 * shared with coord_ctl_rollback.c and coord_ctl_plans.c -- */

/* coord_ctl_count parses "N" or "N%" (N in min..max; a percentage 0..100,
 * 0% only when min is 0) into *n and *pct; 0, or -1 when s is not one. */
int coord_ctl_count(const char *s, uint32_t min, uint32_t max, uint32_t *n, bool *pct);

#define COORD_CTL_HOUR (3600LL * 1000)
#define COORD_CTL_DAY (24 * COORD_CTL_HOUR)

/* coord_ctl_ms reads the optional duration argument key (def when absent)
 * of 1 ms to max_ms; coord_ctl_u32 a number min..max. Both return 0, or -1
 * with err naming the flag (a usage error). */
int coord_ctl_ms(coord_ctl_req *rq, const char *key, const char *def, int64_t max_ms,
	int64_t *ms, char *err, size_t errlen);
int coord_ctl_u32(coord_ctl_req *rq, const char *key, const char *def, uint32_t min,
	uint32_t max, uint32_t *out, char *err, size_t errlen);

/* coord_ctl_canary reads the canary strategy's arguments into r->canary
 * (coord_ctl_canary.c): --canary-initial/-step/-max (percent), --analysis-
 * interval, -threshold, -success-rate, -max-latency, -min-requests, and
 * --canary-approval (a gate before the promotion). For another strategy any
 * of them is a usage error. Returns 0, or -1 with err. */
int coord_ctl_canary(coord_ctl_req *rq, Ospec__V1__RolloutRecord *r, char *err, size_t errlen);

/* coord_ctl_canary_members refuses a canary rollout (OSP_EREFUSED, err names
 * the nodes) when a member's agent speaks a protocol older than 1.3: it would
 * not understand TrafficWeight. OSP_OK for other strategies. */
#define COORD_CANARY_PROTO_MINOR 3
struct coord_ro_entry;
osp_err coord_ctl_canary_members(coord *c, const struct coord_ro_entry *e, char *err,
	size_t errlen);

/* coord_ctl_deploy_rec builds a rollout record (no id yet) from deploy's
 * arguments, checked: NULL with err on a usage error. apply uses it for the
 * template every stage's rollout starts from. */
Ospec__V1__RolloutRecord *coord_ctl_deploy_rec(coord_ctl_req *rq, char *err, size_t errlen);

/* coord_ctl_spec_copy copies into n the settings of r that a rollout made
 * from it keeps (a rollback: strategy, ports, batch, failure budget, health
 * checks, deadlines, watch, scale-down delay, selector), as r holds them
 * (coord_ctl_spec.c). 0, or -1 out of memory (n is the caller's to free). */
int coord_ctl_spec_copy(Ospec__V1__RolloutRecord *n, const Ospec__V1__RolloutRecord *r);

/* coord_jw_kv writes "key": val, with "" for a NULL val. */
void coord_jw_kv(osp_jw *w, const char *key, const char *val);

/* coord_json_step_head opens step s's JSON object with what every listing
 * of steps shows first: node, step state, batch (1-based; 0 if skipped). */
void coord_json_step_head(osp_jw *w, const Ospec__V1__StepRecord *s);
/* coord_json_count adds to *done the steps of r that are done, to *failed
 * those that failed, were unreachable or reverted, and raises *batches to
 * the number of batches (coord_ctl_json.c). */
void coord_json_count(const Ospec__V1__RolloutRecord *r, size_t *done, size_t *failed,
	uint32_t *batches);

/* coord_json_rollout writes rollout r as one JSON object; with steps, the
 * per-node view (status) too. c may be NULL (nodes the rollout never
 * touched then show the plan's snapshot instead of what they report now). */
void coord_json_rollout(coord *c, osp_jw *w, const Ospec__V1__RolloutRecord *r, bool steps);

/* coord_jw_time writes "key": the wall-clock time ms (osp_time_fmt), or null
 * when ms <= 0 (not yet). */
void coord_jw_time(osp_jw *w, const char *key, int64_t ms);

/* coord_ctl_rollout_arg reads the rollout named by the "rollout" argument in
 * t into *out (the caller frees it: ospec__v1__rollout_record__free_unpacked).
 * Returns 0, or the exit status with err: 2 (no id given), 4 (not known). */
int coord_ctl_rollout_arg(coord *c, coord_ctl_req *rq, osp_txn *t,
	Ospec__V1__RolloutRecord **out, char *err, size_t errlen);

/* Rollout records gathered by coord_ctl_list_read: at most cap into v (the
 * caller's array; the records are the caller's to free), only app's when app
 * is not NULL. */
struct coord_ctl_list {
	Ospec__V1__RolloutRecord **v;
	size_t n, cap;
	const char *app;
	osp_txn *t; /* the scan's: when set, each record gets its steps */
};

/* coord_ctl_list_read adds every decodable stored rollout record (of
 * l->app, if set) to l while there is room, read in t; the others are
 * skipped. Store errors. */
osp_err coord_ctl_list_read(osp_txn *t, struct coord_ctl_list *l);

/* coord_ctl_by_seq_desc is the qsort comparator of Ospec__V1__RolloutRecord
 * pointers: newest (highest created_seq) first. */
int coord_ctl_by_seq_desc(const void *a, const void *b);

/* coord_ctl_rollouts_hooks arms rq's hooks for a request that changes
 * rollouts: reload them after an abort, reap and kick after the commit.
 * coord_ctl_rec_number gives rec its id "<app>-<seq>" and creation number
 * in rq's transaction, and its actor and creation time unless it has an
 * actor already, then arms the hooks: 0, or -1 (store error, no memory). */
void coord_ctl_rollouts_hooks(coord_ctl_req *rq);
int coord_ctl_rec_number(coord *c, coord_ctl_req *rq, Ospec__V1__RolloutRecord *rec);

/* Hooks: reload memory after a failed commit; reap + kick after a good one. */
void coord_active_reload_hook(coord *c, coord_ctl_req *rq);
void coord_active_after_commit_hook(coord *c, coord_ctl_req *rq);

#define COORD_ROLLOUT_VERBS                              \
	{ "deploy", true, coord_verb_deploy },           \
	{ "status", false, coord_verb_status },          \
	{ "rollouts", false, coord_verb_rollouts },      \
	{ "history", false, coord_verb_history },        \
	{ "pause", true, coord_verb_pause },             \
	{ "resume", true, coord_verb_resume },           \
	{ "abort", true, coord_verb_abort },             \
	{ "rollback", true, coord_verb_rollback },       \
	{ "plan", false, coord_verb_plan },              \
	{ "apply", true, coord_verb_apply },             \
	{ "approve", true, coord_verb_approve },

#endif
