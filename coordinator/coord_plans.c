/*
 * coord_plans.c - plans in the store and their glue to the plan engine and
 * to the rollouts their stages run as (coord_plans.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_plans.h"
#include "coord_webhooks.h"

osp_err coord_plans_get(osp_txn *t, const char *id, Ospec__V1__PlanRecord **out)
{
	ProtobufCMessage *m = NULL;
	osp_err rv = coord_pb_get(t, "plans", id, strlen(id), &ospec__v1__plan_record__descriptor,
		&m);

	*out = (Ospec__V1__PlanRecord *)m;

	if (rv == OSP_ESTORE) {
		OSP_ERROR("COORD-STORE-CORRUPT", "undecodable plan record '%s'", id);
		return OSP_EDECODE;
	}
	if (rv != OSP_OK)
		return rv;
	if ((*out)->template_ == NULL || (*out)->n_stages == 0) {
		OSP_ERROR("COORD-STORE-CORRUPT", "plan record '%s' has no template or no stage", id);
		ospec__v1__plan_record__free_unpacked(*out, NULL);
		*out = NULL;
		return OSP_EDECODE;
	}
	return OSP_OK;
}

osp_err coord_plans_put(osp_txn *t, const Ospec__V1__PlanRecord *p)
{
	return coord_pb_put(t, "plans", p->id, &p->base);
}

osp_err coord_plans_foreach(osp_txn *t, coord_pb_fn fn, void *arg)
{
	return coord_pb_foreach(t, "plans", &ospec__v1__plan_record__descriptor, fn, arg);
}

struct coord_plans_find {
	const char *app;
	char *id;
	size_t len;
	bool found;
};

static int coord_plans_active_cb(void *arg, ProtobufCMessage *m)
{
	struct coord_plans_find *f = arg;
	Ospec__V1__PlanRecord *p = (Ospec__V1__PlanRecord *)m;

	if (strcmp(p->app, f->app) == 0 && !coord_ro_terminal((coord_ro_state)p->state)) {
		osp_strlcpy(f->id, p->id, f->len);
		f->found = true;
	}
	ospec__v1__plan_record__free_unpacked(p, NULL);
	return f->found ? 1 : 0;
}

bool coord_plans_active(osp_txn *t, const char *app, char *id, size_t len)
{
	struct coord_plans_find f = { app, id, len, false };

	coord_plans_foreach(t, coord_plans_active_cb, &f);
	return f.found;
}

void coord_plans_to_engine(const Ospec__V1__PlanRecord *p, coord_plan *out)
{
	memset(out, 0, sizeof(*out));
	out->state = (coord_ro_state)p->state;
	out->current = p->current;
	out->abort_requested = p->abort_requested;
	osp_strlcpy(out->reason, p->reason ? p->reason : "", sizeof(out->reason));
	out->nstages = p->n_stages < COORD_PLAN_MAX_STAGES ? p->n_stages : COORD_PLAN_MAX_STAGES;
	for (size_t i = 0; i < out->nstages; i++) {
		const Ospec__V1__PlanStageRecord *s = p->stages[i];
		osp_strlcpy(out->stages[i].name, s->name, sizeof(out->stages[i].name));
		out->stages[i].gate = s->gate;
		out->stages[i].approved = s->approved_ms > 0;
		out->stages[i].state = (coord_ro_state)s->state;
	}
}

static osp_err coord_plans_set_str(char **dst, const char *src)
{
	char *d = strdup(src != NULL ? src : "");

	if (d == NULL)
		return OSP_ENOMEM;
	free(*dst);
	*dst = d;
	return OSP_OK;
}

/* coord_plans_from_engine writes the engine's view back into p. */
static osp_err coord_plans_from_engine(Ospec__V1__PlanRecord *p, const coord_plan *pl)
{
	p->state = pl->state;
	p->current = pl->current;
	p->abort_requested = pl->abort_requested;
	p->has_state = p->has_current = p->has_abort_requested = 1;
	for (size_t i = 0; i < pl->nstages; i++) {
		p->stages[i]->state = pl->stages[i].state;
		p->stages[i]->has_state = 1;
	}
	return coord_plans_set_str(&p->reason, pl->reason);
}

/* coord_plans_clone copies a rollout record (protobuf-c has no deep copy:
 * packed and unpacked again). */
static Ospec__V1__RolloutRecord *coord_plans_clone(const Ospec__V1__RolloutRecord *r)
{
	size_t n = ospec__v1__rollout_record__get_packed_size(r);
	uint8_t *buf = malloc(n ? n : 1);
	Ospec__V1__RolloutRecord *out;

	if (buf == NULL)
		return NULL;
	ospec__v1__rollout_record__pack(r, buf);
	out = ospec__v1__rollout_record__unpack(NULL, n, buf);
	free(buf);
	return out;
}

/* coord_plans_child_rec makes stage i's rollout record from the template. */
static Ospec__V1__RolloutRecord *coord_plans_child_rec(const Ospec__V1__PlanRecord *p, size_t i,
	uint64_t seq, const char *actor)
{
	const Ospec__V1__PlanStageRecord *s = p->stages[i];
	Ospec__V1__RolloutRecord *r = coord_plans_clone(p->template_);
	char id[128];
	bool ok;

	if (r == NULL)
		return NULL;
	snprintf(id, sizeof(id), "%s.%s", p->id, s->name);
	ok = coord_plans_set_str(&r->id, id) == OSP_OK &&
		coord_plans_set_str(&r->plan, p->id) == OSP_OK &&
		coord_plans_set_str(&r->stage, s->name) == OSP_OK &&
		coord_plans_set_str(&r->select, s->select) == OSP_OK &&
		coord_plans_set_str(&r->actor, actor) == OSP_OK;
	if (ok && s->n_nodes > 0) {
		r->nodes = calloc(s->n_nodes, sizeof(char *));
		ok = r->nodes != NULL;
		for (size_t k = 0; ok && k < s->n_nodes; k++) {
			ok = (r->nodes[k] = strdup(s->nodes[k])) != NULL;
			r->n_nodes += ok;
		}
	}
	if (!ok) {
		ospec__v1__rollout_record__free_unpacked(r, NULL);
		return NULL;
	}
	r->batch = s->batch;
	r->batch_pct = s->batch_pct;
	r->max_failures = s->max_failures;
	r->max_failures_pct = s->max_failures_pct;
	r->rollback_window_ms = s->bake_ms;
	/* a traffic-switch gate holds the plan's first switch; once approved,
	 * later stages switch on their own */
	r->switch_gate = p->template_->switch_gate && i == 0;
	r->switch_approved = 0;
	r->has_switch_gate = r->has_switch_approved = 1;
	if (s->progress_deadline_ms > 0)
		r->progress_deadline_ms = s->progress_deadline_ms;
	r->created_ms = osp_now_wall_ms();
	r->created_seq = seq;
	r->state = COORD_RO_PENDING;
	r->has_batch = r->has_batch_pct = r->has_max_failures = r->has_max_failures_pct = 1;
	r->has_rollback_window_ms = r->has_created_ms = r->has_created_seq = r->has_state = 1;
	return r;
}

/* coord_plans_create starts stage i: its rollout created and started in t. */
static osp_err coord_plans_create(coord *c, osp_txn *t, Ospec__V1__PlanRecord *p, size_t i,
	const char *actor, char *err, size_t errlen)
{
	Ospec__V1__PlanStageRecord *s = p->stages[i];
	Ospec__V1__RolloutRecord *r;
	coord_ro_entry *e = NULL;
	uint64_t seq;
	osp_err rv;

	if ((rv = coord_active_next_seq(c, t, &seq)) != OSP_OK)
		return rv;
	char id[160];

	if ((r = coord_plans_child_rec(p, i, seq, actor)) == NULL)
		return OSP_ENOMEM;
	osp_strlcpy(id, r->id, sizeof(id));
	s->started_ms = osp_now_wall_ms();
	s->has_started_ms = 1;
	/* the app is free: the stage before ended in this transaction, and
	 * deploy refuses while the plan runs */
	if ((rv = coord_active_create(c, t, r, false, actor, &e, err, errlen)) != OSP_OK)
		return rv;
	return coord_plans_set_str(&s->rollout, id);
}

/* coord_plans_defer notes that stage ended in state while its plan is being
 * changed (coord.plan_busy): the change applies it after its own actions. */
static void coord_plans_defer(coord *c, const char *stage, coord_ro_state state,
	const char *reason)
{
	c->plan_deferred = true;
	osp_strlcpy(c->plan_def_stage, stage, sizeof(c->plan_def_stage));
	c->plan_def_state = (int)state;
	osp_strlcpy(c->plan_def_reason, reason ? reason : "", sizeof(c->plan_def_reason));
}

/* coord_plans_abort_child aborts stage i's rollout; one that cannot be
 * aborted any more (a switch already decided) finishes, and the plan stops
 * after it. */
static osp_err coord_plans_abort_child(coord *c, osp_txn *t, Ospec__V1__PlanRecord *p, size_t i,
	const char *actor)
{
	const char *id = p->stages[i]->rollout;
	coord_ro_entry *e = id != NULL ? coord_active_find(c, id) : NULL;
	coord_ro_event ev = { .kind = COORD_RO_EV_ABORT, .now_ms = coord_clock_now(&c->clock) };
	osp_err rv;

	if (e == NULL) {
		/* not active: it ended (or never was); the plan learns it now */
		Ospec__V1__RolloutRecord *r = NULL;
		coord_plans_defer(c, p->stages[i]->name, COORD_RO_FAILED, "its rollout is gone");
		if (id != NULL && coord_rollout_get(c, t, id, &r) == OSP_OK) {
			if (coord_ro_terminal((coord_ro_state)r->state))
				coord_plans_defer(c, p->stages[i]->name, (coord_ro_state)r->state,
					r->reason);
			ospec__v1__rollout_record__free_unpacked(r, NULL);
		}
		return OSP_OK;
	}
	if (coord_ro_terminal(e->ro.state))
		return OSP_OK;
	rv = coord_active_event(c, t, e, &ev, actor);
	if (rv == OSP_ESTATE) {
		OSP_INFO("COORD-PLAN", "plan '%s': stage %s cannot be aborted now (%s); no later "
			"stage starts", p->id, p->stages[i]->name, coord_ro_state_name(e->ro.state));
		return OSP_OK;
	}
	return rv;
}

/* coord_plans_refused: a stage's rollout was refused before anything was
 * written for it (not a store failure, which aborts the transaction). */
static bool coord_plans_refused(osp_err rv)
{
	return rv == OSP_EINVAL || rv == OSP_EEXIST || rv == OSP_EREFUSED || rv == OSP_ENOENT ||
		rv == OSP_ESTATE;
}

/* coord_plans_step applies one event to p and does its actions; a stage
 * whose rollout is refused at creation goes to *failed (reason in refused). */
static osp_err coord_plans_step(coord *c, osp_txn *t, Ospec__V1__PlanRecord *p,
	const coord_plan_event *ev, const char *actor, char *err, size_t errlen, size_t *failed,
	char *refused, size_t rlen)
{
	coord_plan pl;
	coord_plan_actions acts = { 0 };
	bool was_pending = (coord_ro_state)p->state == COORD_RO_PENDING;
	osp_err rv;

	coord_plans_to_engine(p, &pl);
	if ((rv = coord_plan_apply(&pl, ev, &acts)) != OSP_OK)
		return rv;
	if ((rv = coord_plans_from_engine(p, &pl)) != OSP_OK)
		return rv;
	if (was_pending && pl.state != COORD_RO_PENDING &&
		(rv = coord_webhooks_plan(c, t, p, "plan.started", NULL, "")) != OSP_OK)
		return rv;
	for (size_t i = 0; i < pl.nstages && rv == OSP_OK; i++) {
		Ospec__V1__PlanStageRecord *s = p->stages[i];
		if (ev->kind == COORD_PLAN_EV_APPROVE && pl.stages[i].approved &&
			s->approved_ms == 0) {
			s->approved_ms = osp_now_wall_ms();
			s->has_approved_ms = 1;
			rv = coord_plans_set_str(&s->approved_by, actor);
		}
		if (ev->kind == COORD_PLAN_EV_CHILD_DONE && strcmp(s->name, ev->stage) == 0 &&
			s->finished_ms == 0 && coord_ro_terminal((coord_ro_state)s->state)) {
			s->finished_ms = osp_now_wall_ms();
			s->has_finished_ms = 1;
			rv = coord_plans_set_str(&s->reason, ev->reason);
		}
	}
	for (size_t i = 0; i < acts.n && rv == OSP_OK; i++) {
		const coord_plan_action *a = &acts.v[i];
		switch (a->kind) {
		case COORD_PLAN_ACT_CREATE:
			err[0] = '\0';
			rv = coord_plans_create(c, t, p, a->stage, actor, err, errlen);
			if (coord_plans_refused(rv)) {
				/* refused before anything was written (a required secret
				 * gone, a release conflict): the stage fails, not the
				 * transaction that ended the stage before */
				snprintf(refused, rlen, "%s", err[0] ? err : osp_strerror(rv));
				*failed = a->stage;
				rv = OSP_OK;
			}
			break;
		case COORD_PLAN_ACT_ABORT_CHILD:
			rv = coord_plans_abort_child(c, t, p, a->stage, actor);
			break;
		case COORD_PLAN_ACT_EVENT:
			rv = coord_db_event(c, t, a->event, NULL, p->id, p->app, actor, "%s",
				a->message);
			OSP_INFO("COORD-PLAN", "plan '%s': %s", p->id, a->message);
			if (rv == OSP_OK)
				rv = coord_webhooks_plan(c, t, p, a->event,
					a->stage < pl.nstages ? pl.stages[a->stage].name : NULL,
					a->message);
			break;
		case COORD_PLAN_ACT_DONE:
			p->finished_ms = osp_now_wall_ms();
			p->has_finished_ms = 1;
			break;
		}
	}
	return rv;
}

osp_err coord_plans_event(coord *c, osp_txn *t, Ospec__V1__PlanRecord *p,
	const coord_plan_event *ev, const char *actor, char *err, size_t errlen)
{
	size_t failed = SIZE_MAX;
	char refused[512] = "", stage[48], reason[512];
	osp_err rv;

	/* while this change runs, a stage rollout of p that ends reports to it
	 * (coord_plans_child_done defers), never to a stale copy in the store */
	osp_strlcpy(c->plan_busy, p->id, sizeof(c->plan_busy));
	c->plan_deferred = false;
	rv = coord_plans_step(c, t, p, ev, actor, err, errlen, &failed, refused, sizeof(refused));
	while (rv == OSP_OK && (failed != SIZE_MAX || c->plan_deferred)) {
		coord_plan_event done = { .kind = COORD_PLAN_EV_CHILD_DONE, .stage = stage,
			.reason = reason };
		if (failed != SIZE_MAX) {
			osp_strlcpy(stage, p->stages[failed]->name, sizeof(stage));
			osp_strlcpy(reason, refused, sizeof(reason));
			done.child_state = COORD_RO_FAILED;
			OSP_WARN("COORD-PLAN", "plan '%s': stage %s cannot start: %s", p->id, stage,
				refused);
			failed = SIZE_MAX;
		} else {
			osp_strlcpy(stage, c->plan_def_stage, sizeof(stage));
			osp_strlcpy(reason, c->plan_def_reason, sizeof(reason));
			done.child_state = (coord_ro_state)c->plan_def_state;
			c->plan_deferred = false;
		}
		rv = coord_plans_step(c, t, p, &done, actor, err, errlen, &failed, refused,
			sizeof(refused));
		if (rv == OSP_ESTATE || rv == OSP_ENOENT)
			rv = OSP_OK; /* stale: the plan had moved on */
	}
	c->plan_busy[0] = '\0';
	c->plan_deferred = false;
	if (rv == OSP_OK)
		rv = coord_plans_put(t, p);
	return rv;
}

osp_err coord_plans_child_done(coord *c, osp_txn *t, const coord_ro_entry *e, const char *actor)
{
	Ospec__V1__PlanRecord *p = NULL;
	coord_plan_event ev = { .kind = COORD_PLAN_EV_CHILD_DONE };
	char err[256] = "";
	osp_err rv;

	if (e->rec->plan == NULL || e->rec->plan[0] == '\0' || e->rec->stage == NULL)
		return OSP_OK;
	if (strcmp(c->plan_busy, e->rec->plan) == 0) {
		coord_plans_defer(c, e->rec->stage, e->ro.state, e->ro.reason);
		return OSP_OK;
	}
	if ((rv = coord_plans_get(t, e->rec->plan, &p)) != OSP_OK) {
		/* never hold the stage's own transaction hostage to its plan */
		OSP_ERROR("COORD-PLAN", "rollout '%s' names plan '%s', which cannot be read: %s",
			e->ro.id, e->rec->plan, osp_strerror(rv));
		return rv == OSP_ENOENT || rv == OSP_EDECODE ? OSP_OK : rv;
	}
	ev.stage = e->rec->stage;
	ev.child_state = e->ro.state;
	ev.reason = e->ro.reason;
	rv = coord_plans_event(c, t, p, &ev, actor, err, sizeof(err));
	if (rv != OSP_OK)
		OSP_ERROR("COORD-PLAN", "plan '%s': stage %s ended %s, the next step failed: %s%s%s",
			p->id, e->rec->stage, coord_ro_state_name(e->ro.state), osp_strerror(rv),
			err[0] ? ": " : "", err);
	ospec__v1__plan_record__free_unpacked(p, NULL);
	return rv;
}

struct coord_plans_stuck {
	coord *c;
	osp_txn *t;
	char ids[16][160];
	size_t n;
};

/* coord_plans_stuck_cb notes a plan whose running stage's rollout ended
 * (or is gone) without the plan moving on. */
static int coord_plans_stuck_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	struct coord_plans_stuck *st = arg;
	Ospec__V1__PlanRecord *p = ospec__v1__plan_record__unpack(NULL, vl, v);
	Ospec__V1__RolloutRecord *r = NULL;

	(void)k;
	(void)kl;
	if (p == NULL)
		return 0;
	if (!coord_ro_terminal((coord_ro_state)p->state) && p->current < p->n_stages &&
		p->stages[p->current]->state == COORD_RO_RUNNING && st->n < 16) {
		const char *id = p->stages[p->current]->rollout;
		bool stuck = id == NULL || id[0] == '\0' ||
			coord_rollout_get(st->c, st->t, id, &r) != OSP_OK ||
			coord_ro_terminal((coord_ro_state)r->state);
		if (stuck)
			osp_strlcpy(st->ids[st->n++], p->id, sizeof(st->ids[0]));
		if (r != NULL)
			ospec__v1__rollout_record__free_unpacked(r, NULL);
	}
	ospec__v1__plan_record__free_unpacked(p, NULL);
	return 0;
}

osp_err coord_plans_resume(coord *c)
{
	struct coord_plans_stuck st = { .c = c };
	osp_txn *t = NULL;
	osp_err rv;

	if ((rv = osp_store_txn_begin(c->store, false, &t)) != OSP_OK)
		return rv;
	st.t = t;
	osp_store_foreach(t, "plans", NULL, 0, false, coord_plans_stuck_cb, &st);
	osp_store_txn_abort(t);
	if (st.n == 0)
		return OSP_OK;
	if ((rv = osp_store_txn_begin(c->store, true, &t)) != OSP_OK)
		return rv;
	for (size_t i = 0; i < st.n && rv == OSP_OK; i++) {
		Ospec__V1__PlanRecord *p = NULL;
		Ospec__V1__RolloutRecord *r = NULL;
		coord_plan_event ev = { .kind = COORD_PLAN_EV_CHILD_DONE,
			.child_state = COORD_RO_FAILED, .reason = "its rollout is gone" };
		char err[256] = "";

		if (coord_plans_get(t, st.ids[i], &p) != OSP_OK)
			continue;
		ev.stage = p->stages[p->current]->name;
		if (p->stages[p->current]->rollout != NULL &&
			coord_rollout_get(c, t, p->stages[p->current]->rollout, &r) == OSP_OK) {
			ev.child_state = (coord_ro_state)r->state;
			ev.reason = r->reason;
		}
		OSP_WARN("COORD-PLAN", "plan '%s': stage %s ended (%s) without the plan moving on; "
			"it moves on now", p->id, ev.stage, coord_ro_state_name(ev.child_state));
		rv = coord_plans_event(c, t, p, &ev, "coordinator", err, sizeof(err));
		if (rv == OSP_ESTATE || rv == OSP_ENOENT)
			rv = OSP_OK;
		if (r != NULL)
			ospec__v1__rollout_record__free_unpacked(r, NULL);
		ospec__v1__plan_record__free_unpacked(p, NULL);
	}
	if (rv != OSP_OK) {
		osp_store_txn_abort(t);
		return rv;
	}
	return coord_db_commit(c, t, "plan resume");
}
