/* coord_ctl_rollouts.c - control verbs about rollouts: deploy, rollouts,
 * status, history, pause, resume, abort (rollback: coord_ctl_rollback.c;
 * the rollout spec deploy, apply and rollback build: coord_ctl_spec.c),
 * and the helpers those files use (coord_control.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_control.h"
#include "coord_ctl_checks.h"
#include "coord_plans.h"
#include "coord_releases.h"
#include "coord_active.h"
#include "coord_webhooks.h"

/* coord_verb_dry_run builds the rollout in the request's transaction, prints
 * the plan, and has the transaction thrown away (nothing is stored, nothing
 * is started). */
static int coord_verb_dry_run(coord *c, coord_ctl_req *rq, Ospec__V1__RolloutRecord *rec,
	osp_buf *json, char *err, size_t errlen)
{
	coord_ro_entry *e = NULL;
	Ospec__V1__RolloutRecord *stored = NULL;
	osp_jw w;
	int status = 1;

	rq->discard = true;
	rq->on_abort = coord_active_reload_hook; /* memory follows the store */
	rec->state = COORD_RO_PENDING;
	/* why it would be refused (e.g. required secrets missing) is said */
	if (coord_active_create(c, rq->txn, rec, true, "dry-run", &e, err, errlen) != OSP_OK)
		return 1;
	if (coord_rollout_get(c, rq->txn, e->ro.id, &stored) == OSP_OK) {
		osp_jw_init(&w, json);
		coord_json_rollout(c, &w, stored, true);
		ospec__v1__rollout_record__free_unpacked(stored, NULL);
		status = 0;
	}
	return status;
}

static int coord_verb_deploy_one(coord *c, coord_ctl_req *rq, osp_buf *json, char *err,
	size_t errlen)
{
	Ospec__V1__RolloutRecord *rec = coord_ctl_deploy_rec(rq, err, errlen);
	const char *q = coord_ctl_arg(rq, "queue"), *dry = coord_ctl_arg(rq, "dry-run");
	coord_ro_entry *running, *e = NULL;
	char id[64];
	osp_jw w;

	if (rec == NULL)
		return 2;
	rec->actor = strdup(rq->actor);
	rec->created_ms = osp_now_wall_ms();
	rec->has_created_ms = 1;
	/* a version names one release: a usage error, before anything else */
	if (coord_releases_check(c, rq->txn, rec->app, rec->version, rec->sha256, err,
		    errlen) == OSP_EEXIST) {
		ospec__v1__rollout_record__free_unpacked(rec, NULL);
		return 2;
	}
	if (dry != NULL && strcmp(dry, "true") == 0) {
		rec->id = strdup("dry-run");
		return coord_verb_dry_run(c, rq, rec, json, err, errlen);
	}
	if (coord_plans_active(rq->txn, rec->app, id, sizeof(id))) {
		snprintf(err, errlen, "app '%s' has plan '%s' in progress: wait for it or abort it",
			rec->app, id);
		ospec__v1__rollout_record__free_unpacked(rec, NULL);
		return 1;
	}
	running = coord_active_of_app(c, rec->app);
	if (running != NULL && (q == NULL || strcmp(q, "true") != 0)) {
		snprintf(err, errlen,
			"app '%s' already has rollout '%s' (%s): wait for it, abort it, or use --queue",
			rec->app, running->ro.id, coord_ro_state_name(running->ro.state));
		ospec__v1__rollout_record__free_unpacked(rec, NULL);
		return 1;
	}
	if (coord_ctl_rec_number(c, rq, rec) != 0) {
		snprintf(err, errlen, "cannot number the rollout");
		ospec__v1__rollout_record__free_unpacked(rec, NULL);
		return 1;
	}
	rec->state = COORD_RO_PENDING;
	if (coord_active_create(c, rq->txn, rec, running != NULL, rq->actor, &e, err, errlen) !=
		OSP_OK)
		return 1;
	osp_jw_init(&w, json);
	osp_jw_obj_begin(&w);
	coord_jw_kv(&w, "id", e->ro.id);
	coord_jw_kv(&w, "state", coord_ro_state_name(e->ro.state));
	osp_jw_key(&w, "nodes");
	osp_jw_uint(&w, e->ro.nsteps);
	osp_jw_obj_end(&w);
	return 0;
}

int coord_verb_deploy(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen)
{
	if (coord_ctl_arg(rq, "canary") != NULL)
		return coord_ctl_deploy_canary(c, rq, json, err, errlen);
	if (coord_ctl_arg(rq, "canary-bake") != NULL ||
		(coord_ctl_arg(rq, "canary-approval") != NULL &&
			(coord_ctl_arg(rq, "strategy") == NULL ||
				strcmp(coord_ctl_arg(rq, "strategy"), "canary") != 0))) {
		snprintf(err, errlen, "--canary-bake needs --canary N; --canary-approval needs "
			"--canary N or --strategy canary");
		return 2;
	}
	return coord_verb_deploy_one(c, rq, json, err, errlen);
}

int coord_ctl_rollout_arg(coord *c, coord_ctl_req *rq, osp_txn *t,
	Ospec__V1__RolloutRecord **out, char *err, size_t errlen)
{
	const char *id = coord_ctl_arg(rq, "rollout");
	char shown[160];

	if (id == NULL || id[0] == '\0') {
		snprintf(err, errlen, "a rollout id is required");
		return 2;
	}
	if (coord_rollout_get(c, t, id, out) != OSP_OK) {
		/* shown escaped: the id is whatever the operator typed */
		snprintf(err, errlen, "rollout '%s' is not known",
			osp_str_show(id, shown, sizeof(shown)));
		return 4;
	}
	return 0;
}

int coord_verb_status(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen)
{
	Ospec__V1__RolloutRecord *r = NULL;
	osp_txn *t = NULL;
	osp_jw w;
	int status;

	if (coord_ctl_arg(rq, "rollout") != NULL) {
		int st = coord_ctl_plan_status(c, coord_ctl_arg(rq, "rollout"), json);
		if (st == 0)
			return 0; /* a plan */
		if (st == 1) {
			char shown[160];
			snprintf(err, errlen, "plan '%s' cannot be read from the store (see the "
				"coordinator's log)",
				osp_str_show(coord_ctl_arg(rq, "rollout"), shown, sizeof(shown)));
			return 1;
		}
	}
	if (osp_store_txn_begin(c->store, false, &t) != OSP_OK)
		return 1;
	status = coord_ctl_rollout_arg(c, rq, t, &r, err, errlen);
	osp_store_txn_abort(t);
	if (status != 0)
		return status;
	osp_jw_init(&w, json);
	coord_json_rollout(c, &w, r, true);
	ospec__v1__rollout_record__free_unpacked(r, NULL);
	return 0;
}

static int coord_ctl_list_cb(void *arg, ProtobufCMessage *m)
{
	Ospec__V1__RolloutRecord *r = (Ospec__V1__RolloutRecord *)m;
	struct coord_ctl_list *l = arg;

	if ((l->app != NULL && strcmp(l->app, r->app) != 0) || l->n >= l->cap ||
		(l->t != NULL && coord_ro_steps_read(l->t, r) != OSP_OK)) {
		ospec__v1__rollout_record__free_unpacked(r, NULL);
		return 0;
	}
	l->v[l->n++] = r;
	return 0;
}

osp_err coord_ctl_list_read(osp_txn *t, struct coord_ctl_list *l)
{
	return coord_ro_rec_foreach(t, coord_ctl_list_cb, l);
}

int coord_ctl_by_seq_desc(const void *a, const void *b)
{
	const Ospec__V1__RolloutRecord *x = *(Ospec__V1__RolloutRecord *const *)a;
	const Ospec__V1__RolloutRecord *y = *(Ospec__V1__RolloutRecord *const *)b;

	return x->created_seq < y->created_seq ? 1 : x->created_seq > y->created_seq ? -1 : 0;
}

int coord_verb_rollouts(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen)
{
	struct coord_ctl_list l = { .cap = 100000, .app = coord_ctl_arg(rq, "app") };
	osp_txn *t = NULL;
	osp_jw w;
	size_t limit = 200;

	Ospec__V1__PlanRecord **plans = NULL;
	size_t np = 0, ip = 0, ir = 0;

	(void)err;
	(void)errlen;
	if ((l.v = calloc(l.cap, sizeof(*l.v))) == NULL)
		return 1;
	if (osp_store_txn_begin(c->store, false, &t) != OSP_OK) {
		free(l.v);
		return 1;
	}
	l.t = t; /* the list counts done and failed nodes */
	coord_ctl_list_read(t, &l);
	np = coord_ctl_plans_list(t, l.app, limit, &plans);
	qsort(l.v, l.n, sizeof(*l.v), coord_ctl_by_seq_desc);
	osp_jw_init(&w, json);
	osp_jw_arr_begin(&w);
	/* rollouts and plans, newest first (one numbering for both) */
	while ((ir < l.n || ip < np) && ir + ip < limit) {
		if (ip < np && (ir >= l.n || plans[ip]->created_seq > l.v[ir]->created_seq))
			coord_json_plan_row(c, t, &w, plans[ip++]);
		else
			coord_json_rollout(c, &w, l.v[ir++], false);
	}
	osp_jw_arr_end(&w);
	osp_store_txn_abort(t);
	for (size_t i = 0; i < l.n; i++)
		ospec__v1__rollout_record__free_unpacked(l.v[i], NULL);
	for (size_t i = 0; i < np; i++)
		ospec__v1__plan_record__free_unpacked(plans[i], NULL);
	free(plans);
	free(l.v);
	return 0;
}

/* The history reply stops adding events past this many bytes, well inside
 * the reply buffer's cap (coord_control.c: 16 MiB) whatever one event holds
 * (a message is at most a few KiB), and says where the next page starts. */
#define COORD_CTL_HIST_BUDGET (8u * 1024 * 1024)

struct coord_ctl_hist {
	osp_jw *w;
	const char *app, *rollout;
	size_t n, max;
	uint64_t last;      /* seq of the last event written */
	bool truncated;     /* stopped by the budget, not by max */
};

static int coord_ctl_hist_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	struct coord_ctl_hist *h = arg;
	Ospec__V1__EventRecord *e;

	if (kl != 8)
		return 0;
	if (h->w->out->len >= COORD_CTL_HIST_BUDGET) {
		h->truncated = true;
		return 1;
	}
	if ((e = ospec__v1__event_record__unpack(NULL, vl, v)) == NULL)
		return 0;
	if ((h->app == NULL || (e->app && strcmp(h->app, e->app) == 0)) &&
		(h->rollout == NULL || (e->rollout && strcmp(h->rollout, e->rollout) == 0))) {
		h->last = osp_be64_get(k);
		osp_jw_obj_begin(h->w);
		osp_jw_key(h->w, "seq");
		osp_jw_uint(h->w, h->last);
		coord_jw_time(h->w, "ts", e->ts_ms);
		coord_jw_kv(h->w, "kind", e->kind);
		coord_jw_kv(h->w, "node", e->node);
		coord_jw_kv(h->w, "rollout", e->rollout);
		coord_jw_kv(h->w, "app", e->app);
		coord_jw_kv(h->w, "actor", e->actor);
		coord_jw_kv(h->w, "message", e->message);
		osp_jw_obj_end(h->w);
		h->n++;
	}
	ospec__v1__event_record__free_unpacked(e, NULL);
	return h->n >= h->max ? 1 : 0;
}

/* history [--app A] [--rollout R] [--limit N] [--before SEQ]: events newest
 * first, at most N (default 1000) and at most COORD_CTL_HIST_BUDGET bytes of
 * them; a reply cut by the budget has "truncated": true and "next": the SEQ
 * to ask for the older ones with (--before). */
int coord_verb_history(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen)
{
	osp_jw w;
	struct coord_ctl_hist h = { .w = &w, .app = coord_ctl_arg(rq, "app"),
		.rollout = coord_ctl_arg(rq, "rollout"), .max = 1000 };
	const char *lim = coord_ctl_arg(rq, "limit"), *before = coord_ctl_arg(rq, "before");
	uint64_t n, below = 0;
	uint8_t key[8];
	osp_txn *t = NULL;
	osp_err rv = OSP_ESTORE;

	if (lim != NULL) {
		if (osp_u64_parse(lim, 1, 100000, &n) != OSP_OK) {
			snprintf(err, errlen, "--limit: expected 1..100000");
			return 2;
		}
		h.max = n;
	}
	if (before != NULL && osp_u64_parse(before, 1, UINT64_MAX, &below) != OSP_OK) {
		snprintf(err, errlen, "--before: expected the SEQ of an event (a 'next' of history)");
		return 2;
	}
	osp_jw_init(&w, json);
	osp_jw_obj_begin(&w);
	osp_jw_key(&w, "events");
	osp_jw_arr_begin(&w);
	/* newest first while scanning, so the limit keeps the latest */
	if (osp_store_txn_begin(c->store, false, &t) == OSP_OK) {
		osp_be64_put(key, below);
		rv = below != 0
			? osp_store_foreach_before(t, "events", NULL, 0, key, 8, coord_ctl_hist_cb, &h)
			: osp_store_foreach(t, "events", NULL, 0, true, coord_ctl_hist_cb, &h);
		osp_store_txn_abort(t);
	}
	osp_jw_arr_end(&w);
	if (h.truncated) {
		osp_jw_key(&w, "truncated");
		osp_jw_bool(&w, true);
		osp_jw_key(&w, "next");
		osp_jw_uint(&w, h.last);
	}
	osp_jw_obj_end(&w);
	if (rv != OSP_OK) {
		snprintf(err, errlen, "cannot read the history: %s", osp_strerror(rv));
		return 1;
	}
	if (osp_jw_err(&w) != OSP_OK) {
		/* never a cut document: the client would print half of it */
		snprintf(err, errlen, "the history does not fit in one reply: ask for fewer "
			"events (--limit)");
		return 1;
	}
	return 0;
}

int coord_verb_control(coord *c, coord_ctl_req *rq, osp_buf *json, coord_ro_event_kind kind,
	char *err, size_t errlen)
{
	const char *id = coord_ctl_arg(rq, "rollout");
	coord_ro_entry *e = id ? coord_active_find(c, id) : NULL;
	coord_ro_event ev = { .kind = kind, .now_ms = coord_clock_now(&c->clock) };
	Ospec__V1__RolloutRecord *r = NULL;
	Ospec__V1__PlanRecord *p = NULL;
	osp_err rv;
	osp_jw w;

	if (e == NULL && id != NULL && coord_plans_get(rq->txn, id, &p) == OSP_OK) {
		/* a plan: abort it; pause, resume: its running stage */
		const char *stage = p->current < p->n_stages ? p->stages[p->current]->rollout : NULL;
		coord_ro_state st = (coord_ro_state)p->state;
		if (stage != NULL && kind != COORD_RO_EV_ABORT && kind != COORD_RO_EV_ROLLBACK)
			e = coord_active_find(c, stage);
		ospec__v1__plan_record__free_unpacked(p, NULL);
		if (kind == COORD_RO_EV_ABORT)
			return coord_ctl_plan_control(c, rq, id, COORD_PLAN_EV_ABORT, json, err,
				errlen);
		if (kind == COORD_RO_EV_ROLLBACK || e == NULL) {
			snprintf(err, errlen, "plan '%s' is %s: cannot %s it%s", id,
				coord_ro_state_name(st),
				kind == COORD_RO_EV_PAUSE ? "pause" : kind == COORD_RO_EV_RESUME
					? "resume" : "roll back",
				kind == COORD_RO_EV_ROLLBACK ? " (roll back its stage's rollout)" : "");
			return 1;
		}
	}
	if (e == NULL) {
		int st = coord_ctl_rollout_arg(c, rq, rq->txn, &r, err, errlen);
		if (st != 0)
			return st;
		snprintf(err, errlen, "rollout '%s' is %s: nothing to change", r->id,
			coord_ro_state_name((coord_ro_state)r->state));
		ospec__v1__rollout_record__free_unpacked(r, NULL);
		return 1;
	}
	coord_ctl_rollouts_hooks(rq);
	rv = coord_active_event(c, rq->txn, e, &ev, rq->actor);
	if (rv == OSP_ESTATE) {
		snprintf(err, errlen, "rollout '%s' is %s: cannot %s it", e->ro.id,
			coord_ro_state_name(e->ro.state),
			kind == COORD_RO_EV_PAUSE    ? "pause"
			: kind == COORD_RO_EV_RESUME ? "resume"
			: kind == COORD_RO_EV_ABORT  ? "abort"
						     : "roll back");
		rq->on_abort = NULL;
		return 1;
	}
	if (rv != OSP_OK) {
		snprintf(err, errlen, "cannot change rollout '%s': %s", e->ro.id, osp_strerror(rv));
		return 1;
	}
	osp_jw_init(&w, json);
	osp_jw_obj_begin(&w);
	coord_jw_kv(&w, "id", e->ro.id);
	coord_jw_kv(&w, "state", coord_ro_state_name(e->ro.state));
	if (kind == COORD_RO_EV_ROLLBACK)
		coord_jw_kv(&w, "rollback_of", e->ro.id);
	osp_jw_obj_end(&w);
	return 0;
}

int coord_verb_pause(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen)
{
	return coord_verb_control(c, rq, json, COORD_RO_EV_PAUSE, err, errlen);
}

int coord_verb_resume(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen)
{
	return coord_verb_control(c, rq, json, COORD_RO_EV_RESUME, err, errlen);
}

int coord_verb_abort(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen)
{
	return coord_verb_control(c, rq, json, COORD_RO_EV_ABORT, err, errlen);
}

void coord_ctl_rollouts_hooks(coord_ctl_req *rq)
{
	rq->on_abort = coord_active_reload_hook;
	rq->after_commit = coord_active_after_commit_hook;
}

int coord_ctl_rec_number(coord *c, coord_ctl_req *rq, Ospec__V1__RolloutRecord *rec)
{
	char id[64];
	uint64_t seq;

	if (coord_active_mint_id(c, rq->txn, rec->app, id, sizeof(id), &seq) != OSP_OK ||
		(rec->id = strdup(id)) == NULL)
		return -1;
	rec->created_seq = seq;
	rec->has_created_seq = 1;
	if (rec->actor == NULL) {
		rec->actor = strdup(rq->actor);
		rec->created_ms = osp_now_wall_ms();
		rec->has_created_ms = 1;
	}
	coord_ctl_rollouts_hooks(rq);
	return rec->actor != NULL ? 0 : -1;
}

void coord_active_reload_hook(coord *c, coord_ctl_req *rq)
{
	(void)rq;
	coord_active_reload(c);
}

void coord_active_after_commit_hook(coord *c, coord_ctl_req *rq)
{
	(void)rq;
	coord_active_reap(c);
	coord_active_kick(c);
}
