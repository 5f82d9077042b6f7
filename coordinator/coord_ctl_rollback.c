/* coord_ctl_rollback.c - the control verb rollback: a new rollout of an
 * app back to the release of its succeeded rollout before the latest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_control.h"
#include "coord_plans.h"
#include "coord_active.h"

/* coord_ctl_app_succeeded lists the succeeded rollouts of app into l, newest
 * first (l->v has room for l->cap; the caller frees the records). */
static void coord_ctl_app_succeeded(coord *c, const char *app, struct coord_ctl_list *l)
{
	osp_txn *t = NULL;
	size_t keep = 0;

	l->app = app;
	if (osp_store_txn_begin(c->store, false, &t) == OSP_OK) {
		coord_ctl_list_read(t, l);
		osp_store_txn_abort(t);
	}
	for (size_t i = 0; i < l->n; i++) {
		if (l->v[i]->state == COORD_RO_SUCCEEDED)
			l->v[keep++] = l->v[i];
		else
			ospec__v1__rollout_record__free_unpacked(l->v[i], NULL);
	}
	l->n = keep;
	qsort(l->v, l->n, sizeof(*l->v), coord_ctl_by_seq_desc);
}

/* coord_ctl_rollback_rec makes the record of a rollback of r to prev: r's
 * spec (coord_ctl_spec_copy), nodes and webhooks with prev's release. */
static Ospec__V1__RolloutRecord *coord_ctl_rollback_rec(const Ospec__V1__RolloutRecord *r,
	const Ospec__V1__RolloutRecord *prev)
{
	Ospec__V1__RolloutRecord *n = calloc(1, sizeof(*n));

	if (n == NULL)
		return NULL;
	ospec__v1__rollout_record__init(n);
	n->app = strdup(r->app);
	n->version = strdup(prev->version);
	n->artifact = strdup(prev->artifact ? prev->artifact : "");
	n->sha256 = strdup(prev->sha256 ? prev->sha256 : "");
	n->run = strdup(prev->run ? prev->run : "");
	n->rollback_of = strdup(r->id);
	/* a plan's stage went to exactly these nodes: so does its rollback */
	if (r->n_nodes > 0 && (n->nodes = calloc(r->n_nodes, sizeof(char *))) != NULL)
		for (size_t i = 0; i < r->n_nodes; i++)
			if ((n->nodes[n->n_nodes] = strdup(r->nodes[i])) != NULL)
				n->n_nodes++;
	/* whoever was told of the rollout is told of its rollback */
	if (r->n_webhooks > 0 && (n->webhooks = calloc(r->n_webhooks, sizeof(char *))) != NULL)
		for (size_t i = 0; i < r->n_webhooks; i++)
			if ((n->webhooks[n->n_webhooks] = strdup(r->webhooks[i])) != NULL)
				n->n_webhooks++;
	if (coord_ctl_spec_copy(n, r) != 0) {
		ospec__v1__rollout_record__free_unpacked(n, NULL);
		return NULL;
	}
	return n;
}

int coord_verb_rollback(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen)
{
	struct coord_ctl_list l = { .cap = 100000 };
	Ospec__V1__RolloutRecord *r = NULL, *prev = NULL, *rec = NULL;
	coord_ro_entry *e = NULL, *running;
	char id[64];
	int status = 1;
	osp_jw w;
	const char *id0 = coord_ctl_arg(rq, "rollout");

	/* inside its watch (verify window) the rollout itself goes back */
	if (id0 != NULL && (e = coord_active_find(c, id0)) != NULL &&
		!coord_ro_terminal(e->ro.state))
		return coord_verb_control(c, rq, json, COORD_RO_EV_ROLLBACK, err, errlen);
	if ((status = coord_ctl_rollout_arg(c, rq, rq->txn, &r, err, errlen)) != 0)
		return status;
	status = 1;
	if ((l.v = calloc(l.cap, sizeof(*l.v))) == NULL)
		goto out;
	coord_ctl_app_succeeded(c, r->app, &l);
	if (l.n == 0 || strcmp(l.v[0]->id, r->id) != 0) {
		if (l.n > 0)
			snprintf(err, errlen,
				"rollout '%s' is not the latest succeeded rollout of app '%s' "
				"(that is '%s'): refused",
				r->id, r->app, l.v[0]->id);
		else
			snprintf(err, errlen, "rollout '%s' did not succeed: refused", r->id);
		goto out;
	}
	if ((running = coord_active_of_app(c, r->app)) != NULL) {
		snprintf(err, errlen, "app '%s' already has rollout '%s' (%s)", r->app,
			running->ro.id, coord_ro_state_name(running->ro.state));
		goto out;
	}
	if (coord_plans_active(rq->txn, r->app, id, sizeof(id))) {
		snprintf(err, errlen, "app '%s' has plan '%s' in progress: wait for it or abort it",
			r->app, id);
		goto out;
	}
	/* the release before: the latest succeeded one that is another release
	 * (the stages of one plan all carry the same) */
	for (size_t i = 1; i < l.n && prev == NULL; i++)
		if (l.v[i]->sha256 == NULL || r->sha256 == NULL ||
			strcmp(l.v[i]->sha256, r->sha256) != 0)
			prev = l.v[i];
	if (prev == NULL) {
		snprintf(err, errlen, "no release of app '%s' before '%s' is known to roll back to",
			r->app, r->id);
		goto out;
	}
	if ((rec = coord_ctl_rollback_rec(r, prev)) == NULL ||
		coord_ctl_rec_number(c, rq, rec) != 0) {
		snprintf(err, errlen, "cannot create the rollback");
		goto out;
	}
	status = coord_active_create(c, rq->txn, rec, false, rq->actor, &e, err, errlen) ==
			OSP_OK
		? 0
		: 1;
	rec = NULL; /* taken over */
	if (status == 0) {
		osp_jw_init(&w, json);
		osp_jw_obj_begin(&w);
		coord_jw_kv(&w, "id", e->ro.id);
		coord_jw_kv(&w, "state", coord_ro_state_name(e->ro.state));
		coord_jw_kv(&w, "rollback_of", r->id);
		coord_jw_kv(&w, "version", e->ro.version);
		osp_jw_obj_end(&w);
	}
out:
	for (size_t i = 0; i < l.n; i++)
		ospec__v1__rollout_record__free_unpacked(l.v[i], NULL);
	free(l.v);
	if (rec != NULL)
		ospec__v1__rollout_record__free_unpacked(rec, NULL);
	ospec__v1__rollout_record__free_unpacked(r, NULL);
	return status;
}
