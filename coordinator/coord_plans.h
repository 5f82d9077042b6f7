/*
 * coord_plans.h - OSpec plans in the coordinator (docs/ospec.md): records in
 * the "plans" database, driven by the pure plan engine (coord_plan.h). Each
 * stage runs as one rollout (RolloutRecord.plan/stage) made from the plan's
 * template; the plan moves on in the same transaction as its stage's rollout
 * ends, so a kill -9 at any point resumes at the same stage and gate.
 * All functions are called with coord.mtx held.
 */
#ifndef COORD_PLANS_H
#define COORD_PLANS_H

#include "coord.h"
#include "coord_plan.h"
#include "coord_active.h"

/* coord_plans_get reads plan id from t into *out (the caller frees it with
 * ospec__v1__plan_record__free_unpacked); OSP_ENOENT if not known. */
osp_err coord_plans_get(osp_txn *t, const char *id, Ospec__V1__PlanRecord **out);

/* coord_plans_put stores p in t. */
osp_err coord_plans_put(osp_txn *t, const Ospec__V1__PlanRecord *p);

/* coord_plans_foreach calls fn with every decodable plan in t (an
 * Ospec__V1__PlanRecord fn owns), in key order (coord_pb_foreach). */
osp_err coord_plans_foreach(osp_txn *t, coord_pb_fn fn, void *arg);

/* coord_plans_active finds app's plan that has not ended (at most one):
 * true with its id in id (len bytes). */
bool coord_plans_active(osp_txn *t, const char *app, char *id, size_t len);

/* coord_plans_event applies ev to plan p (stored by the caller's t after
 * this: p is saved here) and does what follows: a stage's rollout created
 * and started, or aborted, events written. OSP_ESTATE / OSP_ENOENT as
 * coord_plan_apply (p unchanged); other errors with err. */
osp_err coord_plans_event(coord *c, osp_txn *t, Ospec__V1__PlanRecord *p,
	const coord_plan_event *ev, const char *actor, char *err, size_t errlen);

/* coord_plans_child_done tells e's plan (if any) that e ended: called by
 * coord_active_event in the transaction that ended it. */
osp_err coord_plans_child_done(coord *c, osp_txn *t, const coord_ro_entry *e, const char *actor);

/* coord_plans_resume (at start, after the rollouts are loaded) moves on
 * every plan whose running stage's rollout has ended or is gone without the
 * plan having heard of it: a plan never waits for a stage that will not
 * report again. */
osp_err coord_plans_resume(coord *c);

/* coord_plans_to_engine copies the engine's view of p into *out. */
void coord_plans_to_engine(const Ospec__V1__PlanRecord *p, coord_plan *out);

#endif
