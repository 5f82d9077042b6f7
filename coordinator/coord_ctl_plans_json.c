/*
 * coord_ctl_plans_json.c - OSpec plans as the control API shows them: a
 * plan's status (its stages with their rollouts' nodes), its row in
 * `rollouts`, and the list of stored plans (coord_control.h). The verbs
 * that change plans are in coord_ctl_plans.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_control.h"
#include "coord_plans.h"
#include "coord_active.h"

/* coord_json_plan_nodes writes a stage's nodes: from its rollout once it
 * exists, else as planned (batches as the rollout will cut them). */
static void coord_json_plan_nodes(osp_jw *w, const Ospec__V1__PlanRecord *p,
	const Ospec__V1__PlanStageRecord *s, const Ospec__V1__RolloutRecord *r, size_t *done,
	size_t *failed)
{
	osp_jw_key(w, "nodes");
	osp_jw_arr_begin(w);
	if (r != NULL) {
		uint32_t batches = 0;

		coord_json_count(r, done, failed, &batches);
		for (size_t i = 0; i < r->n_steps; i++) {
			const Ospec__V1__StepRecord *st = r->steps[i];

			coord_json_step_head(w, st);
			coord_jw_kv(w, "version", st->version);
			coord_jw_kv(w, "reason", st->reason);
			osp_jw_obj_end(w);
		}
	} else {
		coord_rollout ro = { .batch = s->batch, .batch_pct = s->batch_pct,
			.strategy = (coord_ro_strategy)p->template_->strategy };
		coord_ro_step *steps = calloc(s->n_nodes ? s->n_nodes : 1, sizeof(*steps));

		ro.steps = steps;
		ro.nsteps = steps != NULL ? s->n_nodes : 0;
		coord_ro_plan(&ro);
		for (size_t i = 0; i < ro.nsteps; i++) {
			osp_jw_obj_begin(w);
			coord_jw_kv(w, "node", s->nodes[i]);
			coord_jw_kv(w, "step", "pending");
			osp_jw_key(w, "batch");
			osp_jw_int(w, (int64_t)steps[i].batch + 1);
			osp_jw_obj_end(w);
		}
		free(steps);
	}
	osp_jw_arr_end(w);
}

void coord_json_plan(coord *c, osp_txn *t, osp_jw *w, const Ospec__V1__PlanRecord *p)
{
	coord_plan pl;
	size_t total = 0, done = 0, failed = 0;
	char num[32];
	const char *phase = "done";

	coord_plans_to_engine(p, &pl);
	if (!coord_ro_terminal(pl.state) && pl.current < pl.nstages) {
		const char *child = p->stages[pl.current]->rollout;
		Ospec__V1__RolloutRecord *r = NULL;
		phase = p->stages[pl.current]->name;
		/* a running stage waiting at its switch gate: the plan waits */
		if (t != NULL && child != NULL && child[0] != '\0' &&
			coord_rollout_get(c, t, child, &r) == OSP_OK) {
			if (r->state == COORD_RO_WAITING_APPROVAL)
				pl.state = COORD_RO_WAITING_APPROVAL;
			ospec__v1__rollout_record__free_unpacked(r, NULL);
		}
	}
	osp_jw_obj_begin(w);
	coord_jw_kv(w, "id", p->id);
	coord_jw_kv(w, "kind", "plan");
	coord_jw_kv(w, "app", p->app);
	coord_jw_kv(w, "version", p->version);
	coord_jw_kv(w, "env", p->env);
	coord_jw_kv(w, "file", p->file);
	coord_jw_kv(w, "state", coord_ro_state_name(pl.state));
	coord_jw_kv(w, "strategy", coord_ro_strategy_name((coord_ro_strategy)p->template_->strategy));
	coord_jw_kv(w, "phase", phase);
	coord_jw_kv(w, "sha256", p->template_->sha256);
	coord_jw_kv(w, "reason", p->reason);
	coord_jw_kv(w, "actor", p->actor);
	coord_jw_time(w, "created", p->created_ms);
	coord_jw_time(w, "finished", p->finished_ms);
	coord_jw_kv(w, "waiting_stage", pl.state == COORD_RO_WAITING_APPROVAL ? phase : "");
	osp_jw_key(w, "switch_gate");
	osp_jw_bool(w, p->template_->switch_gate);
	osp_jw_key(w, "stages");
	osp_jw_arr_begin(w);
	for (size_t i = 0; i < p->n_stages; i++) {
		const Ospec__V1__PlanStageRecord *s = p->stages[i];
		Ospec__V1__RolloutRecord *r = NULL;
		size_t d = 0, f = 0;

		if (t != NULL && s->rollout != NULL && s->rollout[0] != '\0')
			coord_rollout_get(c, t, s->rollout, &r);
		osp_jw_obj_begin(w);
		coord_jw_kv(w, "name", s->name);
		coord_jw_kv(w, "state", coord_plan_stage_state_name(&pl, i));
		coord_jw_kv(w, "rollout", s->rollout);
		coord_jw_kv(w, "phase", r != NULL ? coord_ro_phase_name((coord_ro_strategy)r->strategy,
						(coord_ro_state)r->state, r->phase)
					: "");
		coord_jw_kv(w, "select", s->select);
		snprintf(num, sizeof(num), "%u%s", s->batch, s->batch_pct ? "%" : "");
		coord_jw_kv(w, "batch_size", num);
		snprintf(num, sizeof(num), "%u%s", s->max_failures, s->max_failures_pct ? "%" : "");
		coord_jw_kv(w, "max_failures", num);
		osp_jw_key(w, "bake_ms");
		osp_jw_int(w, s->bake_ms);
		osp_jw_key(w, "gate");
		osp_jw_bool(w, s->gate);
		coord_jw_kv(w, "gate_why", s->gate_why);
		coord_jw_kv(w, "approved_by", s->approved_by);
		coord_jw_time(w, "approved", s->approved_ms);
		coord_jw_time(w, "started", s->started_ms);
		coord_jw_time(w, "finished", s->finished_ms);
		/* the end of the bake (or blue-green verify) while it runs */
		coord_jw_time(w, "watch_until",
			r == NULL || coord_ro_terminal((coord_ro_state)r->state) ? 0
			: coord_ro_slotted((coord_ro_strategy)r->strategy) ? r->verify_until_ms
							     : r->watch_until_ms);
		coord_jw_kv(w, "reason", r != NULL ? r->reason : s->reason);
		coord_json_plan_nodes(w, p, s, r, &d, &f);
		osp_jw_key(w, "nodes_total");
		osp_jw_uint(w, r != NULL ? r->n_steps : s->n_nodes);
		osp_jw_key(w, "nodes_done");
		osp_jw_uint(w, d);
		osp_jw_key(w, "nodes_failed");
		osp_jw_uint(w, f);
		osp_jw_obj_end(w);
		total += r != NULL ? r->n_steps : s->n_nodes;
		done += d;
		failed += f;
		if (r != NULL)
			ospec__v1__rollout_record__free_unpacked(r, NULL);
	}
	osp_jw_arr_end(w);
	osp_jw_key(w, "nodes_total");
	osp_jw_uint(w, total);
	osp_jw_key(w, "nodes_done");
	osp_jw_uint(w, done);
	osp_jw_key(w, "nodes_failed");
	osp_jw_uint(w, failed);
	osp_jw_obj_end(w);
}

int coord_ctl_plan_status(coord *c, const char *id, osp_buf *json)
{
	Ospec__V1__PlanRecord *p = NULL;
	osp_txn *t = NULL;
	osp_err rv;
	osp_jw w;

	if (osp_store_txn_begin(c->store, false, &t) != OSP_OK)
		return 1;
	if ((rv = coord_plans_get(t, id, &p)) != OSP_OK) {
		osp_store_txn_abort(t);
		return rv == OSP_ENOENT ? 4 : 1; /* 1: it is there but cannot be read */
	}
	osp_jw_init(&w, json);
	coord_json_plan(c, t, &w, p);
	osp_store_txn_abort(t);
	ospec__v1__plan_record__free_unpacked(p, NULL);
	return 0;
}

struct coord_ctl_plan_list {
	Ospec__V1__PlanRecord **v;
	size_t n, cap;
	const char *app;
};

static int coord_ctl_plan_list_cb(void *arg, ProtobufCMessage *m)
{
	struct coord_ctl_plan_list *l = arg;
	Ospec__V1__PlanRecord *p = (Ospec__V1__PlanRecord *)m;

	if ((l->app != NULL && strcmp(l->app, p->app) != 0) || l->n >= l->cap) {
		ospec__v1__plan_record__free_unpacked(p, NULL);
		return 0;
	}
	l->v[l->n++] = p;
	return 0;
}

static int coord_ctl_plan_by_seq_desc(const void *a, const void *b)
{
	const Ospec__V1__PlanRecord *x = *(Ospec__V1__PlanRecord *const *)a;
	const Ospec__V1__PlanRecord *y = *(Ospec__V1__PlanRecord *const *)b;

	return x->created_seq < y->created_seq ? 1 : x->created_seq > y->created_seq ? -1 : 0;
}

size_t coord_ctl_plans_list(osp_txn *t, const char *app, size_t cap,
	Ospec__V1__PlanRecord ***out)
{
	struct coord_ctl_plan_list l = { .cap = cap, .app = app };

	*out = NULL;
	if ((l.v = calloc(cap ? cap : 1, sizeof(*l.v))) == NULL)
		return 0;
	coord_plans_foreach(t, coord_ctl_plan_list_cb, &l);
	qsort(l.v, l.n, sizeof(*l.v), coord_ctl_plan_by_seq_desc);
	*out = l.v;
	return l.n;
}

void coord_json_plan_row(coord *c, osp_txn *t, osp_jw *w, const Ospec__V1__PlanRecord *p)
{
	size_t total = 0, done = 0, failed = 0;
	uint32_t batches = 0;
	coord_plan pl;

	coord_plans_to_engine(p, &pl);
	for (size_t i = 0; i < p->n_stages; i++) {
		const Ospec__V1__PlanStageRecord *s = p->stages[i];
		Ospec__V1__RolloutRecord *r = NULL;
		if (s->rollout != NULL && s->rollout[0] != '\0' &&
			coord_rollout_get(c, t, s->rollout, &r) == OSP_OK) {
			total += r->n_steps;
			coord_json_count(r, &done, &failed, &batches);
			ospec__v1__rollout_record__free_unpacked(r, NULL);
		} else {
			total += s->n_nodes;
		}
	}
	osp_jw_obj_begin(w);
	coord_jw_kv(w, "id", p->id);
	coord_jw_kv(w, "kind", "plan");
	coord_jw_kv(w, "app", p->app);
	coord_jw_kv(w, "version", p->version);
	coord_jw_kv(w, "state", coord_ro_state_name(pl.state));
	coord_jw_kv(w, "strategy",
		coord_ro_strategy_name((coord_ro_strategy)p->template_->strategy));
	osp_jw_key(w, "stages");
	osp_jw_uint(w, p->n_stages);
	osp_jw_key(w, "nodes_total");
	osp_jw_uint(w, total);
	osp_jw_key(w, "nodes_done");
	osp_jw_uint(w, done);
	coord_jw_time(w, "created", p->created_ms);
	osp_jw_obj_end(w);
}
