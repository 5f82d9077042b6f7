/*
 * coord_ctl_plans.c - control verbs of OSpec plans (docs/ospec.md): apply,
 * plan (what apply would do, changing nothing), approve, and the plan's view
 * in status; abort, pause and resume of a plan (coord_ctl_rollouts.c sends
 * plan ids here).
 *
 * ospecctl reads the OSpec document on the operator's machine and sends the
 * template rollout (deploy's arguments) and the stages as JSON; the nodes of
 * every stage are resolved here, from the live inventory, when the plan is
 * applied, and stored with it: what `plan` shows is what runs. A plan's
 * JSON view (status, its row in `rollouts`) is in coord_ctl_plans_json.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_control.h"
#include "coord_plans.h"
#include "coord_releases.h"
#include "coord_active.h"
#include "coord_secrets.h"

#define COORD_PLAN_MAX_BAKE_MS (7 * 24 * 3600 * 1000LL)

/* The stage arguments as sent, before resolution. */
typedef struct coord_stage_arg {
	const char *name, *select, *nodes, *batch, *max_failures, *gate_why;
	int64_t bake_ms, progress_deadline_ms;
	bool gate;
} coord_stage_arg;

static int coord_plan_arg_stage(const osp_json *o, size_t i, coord_stage_arg *a, char *err,
	size_t errlen)
{
	const osp_json *g = osp_json_get(o, "gate");

	memset(a, 0, sizeof(*a));
	if (o->type != OSP_JSON_OBJ) {
		snprintf(err, errlen, "stages[%zu]: expected an object", i);
		return 2;
	}
	a->name = osp_json_get_str(o, "name");
	a->select = osp_json_get_str(o, "select");
	a->nodes = osp_json_get_str(o, "nodes");
	a->batch = osp_json_get_str(o, "batch");
	a->max_failures = osp_json_get_str(o, "max_failures");
	a->gate_why = osp_json_get_str(o, "gate_why");
	a->bake_ms = osp_json_get_int(o, "bake_ms", -1);
	a->progress_deadline_ms = osp_json_get_int(o, "progress_deadline_ms", 0);
	a->gate = g != NULL && g->type == OSP_JSON_BOOL && g->b;
	if (a->name == NULL || !osp_valid_id(a->name) || strlen(a->name) > 40) {
		snprintf(err, errlen, "stages[%zu].name: expected 1-40 characters of A-Z a-z 0-9 . _ -",
			i);
		return 2;
	}
	if (a->bake_ms > COORD_PLAN_MAX_BAKE_MS || a->progress_deadline_ms < 0 ||
		a->progress_deadline_ms > COORD_PLAN_MAX_BAKE_MS) {
		snprintf(err, errlen, "stage %s: bake and progress deadline must be 0..7 days",
			a->name);
		return 2;
	}
	return 0;
}

/* coord_plan_sel joins the plan's and the stage's selectors. */
static int coord_plan_sel(const char *global, const char *stage, osp_labels *sel, char *joined,
	size_t len)
{
	int n = snprintf(joined, len, "%s%s%s", global ? global : "",
		global && global[0] && stage && stage[0] ? "," : "", stage ? stage : "");

	/* a selector cut short would select other nodes: refused, never cut */
	if (n < 0 || (size_t)n >= len)
		return -1;
	return joined[0] == '\0' || osp_labels_parse_list(sel, joined) == OSP_OK ? 0 : -1;
}

static int coord_plan_by_id(const void *a, const void *b)
{
	return strcmp((*(coord_node *const *)a)->id, (*(coord_node *const *)b)->id);
}

/* coord_plan_resolve picks stage a's nodes: every uncordoned node matching
 * the plan's and the stage's labels that no earlier stage took (taken[]),
 * at most a->nodes of them, in node id order. */
static int coord_plan_resolve(coord_node **nodes, size_t nn, bool *taken,
	const Ospec__V1__RolloutRecord *tpl, const coord_stage_arg *a,
	Ospec__V1__PlanStageRecord *s, char *err, size_t errlen)
{
	osp_labels sel = { 0 };
	char joined[600];
	size_t cand = 0, limit = SIZE_MAX;
	uint32_t n;
	bool pct;

	if (coord_plan_sel(tpl->select, a->select, &sel, joined, sizeof(joined)) != 0) {
		osp_labels_fini(&sel);
		char shown[160];
		snprintf(err, errlen, "stage %s: select: expected K=V[,K=V...] of at most %zu "
			"characters with the plan's own, got '%s'", a->name, sizeof(joined) - 1,
			osp_str_show(joined, shown, sizeof(shown)));
		return 2;
	}
	s->select = strdup(joined);
	for (size_t i = 0; i < nn; i++)
		cand += !taken[i] && !nodes[i]->cordoned && osp_labels_match(&nodes[i]->labels, &sel);
	if (a->nodes != NULL && a->nodes[0] != '\0') {
		if (coord_ctl_count(a->nodes, 1, 100000, &n, &pct) != 0) {
			osp_labels_fini(&sel);
			snprintf(err, errlen, "stage %s: nodes: expected N >= 1 or N%%", a->name);
			return 2;
		}
		limit = pct ? ((size_t)n * cand + 99) / 100 : n;
		if (limit == 0)
			limit = 1;
	}
	s->nodes = calloc(cand ? cand : 1, sizeof(char *));
	for (size_t i = 0; s->nodes != NULL && i < nn && s->n_nodes < limit; i++) {
		if (taken[i] || nodes[i]->cordoned || !osp_labels_match(&nodes[i]->labels, &sel))
			continue;
		if ((s->nodes[s->n_nodes] = strdup(nodes[i]->id)) == NULL)
			break;
		s->n_nodes++;
		taken[i] = true;
	}
	osp_labels_fini(&sel);
	if (s->n_nodes == 0) {
		snprintf(err, errlen, "stage %s selects no nodes (%s%s): every matching node is "
			"taken by an earlier stage, cordoned, or not known", a->name,
			joined[0] ? "select " : "every node", joined);
		return 1;
	}
	return 0;
}

/* coord_plan_stage_rec fills stage s from a and the template. */
static int coord_plan_stage_rec(const coord_stage_arg *a, const Ospec__V1__RolloutRecord *tpl,
	Ospec__V1__PlanStageRecord *s, char *err, size_t errlen)
{
	bool pct;

	s->name = strdup(a->name);
	s->batch = tpl->batch;
	s->batch_pct = tpl->batch_pct;
	s->max_failures = tpl->max_failures;
	s->max_failures_pct = tpl->max_failures_pct;
	if (a->batch != NULL && a->batch[0] != '\0') {
		if (coord_ctl_count(a->batch, 1, 100000, &s->batch, &pct) != 0) {
			snprintf(err, errlen, "stage %s: batch: expected N >= 1 or N%%", a->name);
			return 2;
		}
		s->batch_pct = pct;
	}
	if (a->max_failures != NULL && a->max_failures[0] != '\0') {
		if (coord_ctl_count(a->max_failures, 0, 100000, &s->max_failures, &pct) != 0) {
			snprintf(err, errlen, "stage %s: max_failures: expected N or N%%", a->name);
			return 2;
		}
		s->max_failures_pct = pct;
	}
	s->bake_ms = a->bake_ms >= 0 ? a->bake_ms : tpl->rollback_window_ms;
	s->progress_deadline_ms = a->progress_deadline_ms;
	if (s->progress_deadline_ms > 0 &&
		s->progress_deadline_ms <= (int64_t)tpl->health_deadline_ms) {
		snprintf(err, errlen, "stage %s: progress_deadline must be longer than the health "
			"deadline", a->name);
		return 2;
	}
	if (coord_ro_slotted(tpl->strategy) && s->bake_ms >= tpl->scale_down_delay_ms) {
		snprintf(err, errlen, "stage %s: bake must be shorter than --scale-down-delay (the "
			"old slot is what a switch back needs)", a->name);
		return 2;
	}
	s->gate = a->gate;
	s->gate_why = strdup(a->gate_why ? a->gate_why : (a->gate ? "approval: true" : ""));
	s->state = COORD_RO_PENDING;
	s->has_batch = s->has_batch_pct = s->has_max_failures = s->has_max_failures_pct = 1;
	s->has_bake_ms = s->has_progress_deadline_ms = s->has_gate = s->has_state = 1;
	return s->name != NULL && s->gate_why != NULL ? 0 : 1;
}

/* coord_plan_build makes the plan (no id yet) from the request: the template
 * rollout, then the stages, resolved against the inventory. 0, or the exit
 * status with err. */
static int coord_plan_build(coord *c, coord_ctl_req *rq, const char *stages,
	Ospec__V1__PlanRecord **out, char *err, size_t errlen)
{
	Ospec__V1__PlanRecord *p = calloc(1, sizeof(*p));
	osp_json *j = NULL;
	coord_node **nodes = NULL;
	bool *taken = NULL;
	size_t nn = 0;
	char jerr[128];
	int st = 1;

	if (p == NULL)
		return 1;
	ospec__v1__plan_record__init(p);
	if ((p->template_ = coord_ctl_deploy_rec(rq, err, errlen)) == NULL) {
		st = 2;
		goto out;
	}
	if (coord_ctl_arg(rq, "switch-gate") != NULL &&
		strcmp(coord_ctl_arg(rq, "switch-gate"), "true") == 0) {
		if (!coord_ro_slotted(p->template_->strategy)) {
			snprintf(err, errlen, "a traffic-switch gate needs the blue_green or canary "
				"strategy (rolling and recreate gate the stage instead)");
			st = 2;
			goto out;
		}
		p->template_->has_switch_gate = p->template_->switch_gate = 1;
	}
	if (stages == NULL || osp_json_parse(stages, strlen(stages), &j, jerr, sizeof(jerr)) !=
			OSP_OK || j->type != OSP_JSON_ARR || j->n == 0 ||
		j->n > COORD_PLAN_MAX_STAGES) {
		snprintf(err, errlen, "stages: expected a JSON array of 1 to %d stages",
			COORD_PLAN_MAX_STAGES);
		st = 2;
		goto out;
	}
	for (coord_node *n = c->nodes; n != NULL; n = n->next)
		nn++;
	nodes = calloc(nn ? nn : 1, sizeof(*nodes));
	taken = calloc(nn ? nn : 1, sizeof(*taken));
	p->stages = calloc(j->n, sizeof(*p->stages));
	if (nodes == NULL || taken == NULL || p->stages == NULL)
		goto out;
	nn = 0;
	for (coord_node *n = c->nodes; n != NULL; n = n->next)
		nodes[nn++] = n;
	qsort(nodes, nn, sizeof(*nodes), coord_plan_by_id);
	for (size_t i = 0; i < j->n; i++) {
		coord_stage_arg a;
		Ospec__V1__PlanStageRecord *s = calloc(1, sizeof(*s));

		if (s == NULL)
			goto out;
		ospec__v1__plan_stage_record__init(s);
		p->stages[p->n_stages++] = s;
		if ((st = coord_plan_arg_stage(j->items[i], i, &a, err, errlen)) != 0)
			goto out;
		/* the stage's rollout is <app>-<seq>.<stage>: an id is at most 63
		 * characters (12 digits of numbering allowed for) */
		if (strlen(p->template_->app) + strlen(a.name) + 14 > 63) {
			snprintf(err, errlen, "stage '%s': its rollout id (%s-N.%s) would be longer "
				"than 63 characters: use a shorter stage name", a.name,
				p->template_->app, a.name);
			st = 2;
			goto out;
		}
		for (size_t k = 0; k < i; k++) {
			if (strcmp(p->stages[k]->name, a.name) == 0) {
				snprintf(err, errlen, "stage name '%s' is used twice", a.name);
				st = 2;
				goto out;
			}
		}
		if ((st = coord_plan_stage_rec(&a, p->template_, s, err, errlen)) != 0 ||
			(st = coord_plan_resolve(nodes, nn, taken, p->template_, &a, s, err,
				 errlen)) != 0)
			goto out;
	}
	p->app = strdup(p->template_->app);
	p->version = strdup(p->template_->version);
	p->env = strdup(coord_ctl_arg(rq, "env") ? coord_ctl_arg(rq, "env") : "");
	p->file = strdup(coord_ctl_arg(rq, "file") ? coord_ctl_arg(rq, "file") : "");
	p->actor = strdup(rq->actor);
	p->state = COORD_RO_PENDING;
	p->has_state = p->has_current = 1;
	st = p->app && p->version && p->env && p->file && p->actor ? 0 : 1;
out:
	osp_json_free(j);
	free(nodes);
	free(taken);
	if (st != 0) {
		ospec__v1__plan_record__free_unpacked(p, NULL);
		p = NULL;
	}
	*out = p;
	return st;
}

/* coord_ctl_plan_show is `plan` for stages (JSON): what would run. */
static int coord_ctl_plan_show(coord *c, coord_ctl_req *rq, const char *stages, osp_buf *json,
	char *err, size_t errlen)
{
	Ospec__V1__PlanRecord *p = NULL;
	osp_txn *t = NULL;
	osp_jw w;
	int st = coord_plan_build(c, rq, stages, &p, err, errlen);

	if (st != 0)
		return st;
	p->id = strdup("(plan)");
	/* apply would refuse it: so does plan, with the same words */
	for (size_t i = 0; i < p->n_stages; i++) {
		const Ospec__V1__PlanStageRecord *s = p->stages[i];
		if (coord_secrets_check(c, p->app, p->template_->require_env,
			    p->template_->n_require_env, (const char *const *)s->nodes, s->n_nodes,
			    err, errlen) != OSP_OK) {
			ospec__v1__plan_record__free_unpacked(p, NULL);
			return 1;
		}
	}
	if (osp_store_txn_begin(c->store, false, &t) == OSP_OK) {
		if (coord_releases_check(c, t, p->app, p->version, p->template_->sha256, err,
			    errlen) == OSP_EEXIST)
			st = 2;
		osp_store_txn_abort(t);
	}
	if (st == 0) {
		osp_jw_init(&w, json);
		coord_json_plan(c, NULL, &w, p);
	}
	ospec__v1__plan_record__free_unpacked(p, NULL);
	return st;
}

int coord_verb_plan(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen)
{
	return coord_ctl_plan_show(c, rq, coord_ctl_arg(rq, "stages"), json, err, errlen);
}

/* coord_ctl_plan_start is `apply` for stages (JSON): stored and started. */
static int coord_ctl_plan_start(coord *c, coord_ctl_req *rq, const char *stages, osp_buf *json,
	char *err, size_t errlen)
{
	Ospec__V1__PlanRecord *p = NULL;
	coord_plan_event ev = { .kind = COORD_PLAN_EV_START };
	coord_ro_entry *running;
	char id[64], other[64];
	uint64_t seq = 0;
	osp_err rv;
	osp_jw w;
	int st = coord_plan_build(c, rq, stages, &p, err, errlen);

	if (st != 0)
		return st;
	if (coord_releases_check(c, rq->txn, p->app, p->version, p->template_->sha256, err,
		    errlen) == OSP_EEXIST) {
		st = 2;
		goto out;
	}
	st = 1;
	/* required secrets: every node of every stage, before anything is stored */
	for (size_t i = 0; i < p->n_stages; i++) {
		const Ospec__V1__PlanStageRecord *s = p->stages[i];
		if (coord_secrets_check(c, p->app, p->template_->require_env,
			    p->template_->n_require_env, (const char *const *)s->nodes, s->n_nodes,
			    err, errlen) != OSP_OK)
			goto out;
	}
	if ((running = coord_active_of_app(c, p->app)) != NULL) {
		snprintf(err, errlen, "app '%s' already has rollout '%s' (%s): wait for it or abort it",
			p->app, running->ro.id, coord_ro_state_name(running->ro.state));
		goto out;
	}
	if (coord_plans_active(rq->txn, p->app, other, sizeof(other))) {
		snprintf(err, errlen, "app '%s' already has plan '%s' in progress: wait for it or "
			"abort it", p->app, other);
		goto out;
	}
	if (coord_active_mint_id(c, rq->txn, p->app, id, sizeof(id), &seq) != OSP_OK) {
		snprintf(err, errlen, "cannot number the plan");
		goto out;
	}
	p->id = strdup(id);
	p->created_seq = seq;
	p->created_ms = osp_now_wall_ms();
	p->has_created_seq = p->has_created_ms = 1;
	coord_ctl_rollouts_hooks(rq);
	if ((rv = coord_db_event(c, rq->txn, "plan.created", NULL, p->id, p->app, rq->actor,
		     "%s %s in %zu stage%s%s%s", p->app, p->version, p->n_stages,
		     p->n_stages == 1 ? "" : "s", p->file[0] ? " from " : "", p->file)) != OSP_OK ||
		(rv = coord_plans_event(c, rq->txn, p, &ev, rq->actor, err, errlen)) != OSP_OK) {
		if (err[0] == '\0')
			snprintf(err, errlen, "cannot start the plan: %s", osp_strerror(rv));
		goto out;
	}
	osp_jw_init(&w, json);
	osp_jw_obj_begin(&w);
	coord_jw_kv(&w, "id", p->id);
	coord_jw_kv(&w, "state", coord_ro_state_name((coord_ro_state)p->state));
	osp_jw_key(&w, "stages");
	osp_jw_uint(&w, p->n_stages);
	osp_jw_obj_end(&w);
	st = 0;
out:
	ospec__v1__plan_record__free_unpacked(p, NULL);
	return st;
}

int coord_verb_apply(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen)
{
	return coord_ctl_plan_start(c, rq, coord_ctl_arg(rq, "stages"), json, err, errlen);
}

int coord_ctl_deploy_canary(coord *c, coord_ctl_req *rq, osp_buf *json, char *err,
	size_t errlen)
{
	const char *canary = coord_ctl_arg(rq, "canary"), *strat = coord_ctl_arg(rq, "strategy");
	const char *bake = coord_ctl_arg(rq, "canary-bake"), *q = coord_ctl_arg(rq, "queue");
	const char *appr = coord_ctl_arg(rq, "canary-approval"), *dry = coord_ctl_arg(rq, "dry-run");
	char stages[512];
	int64_t bake_ms = -1;
	uint32_t n;
	bool pct;

	if (strat != NULL && strcmp(strat, "rolling") != 0) {
		snprintf(err, errlen, "--canary N applies to --strategy rolling (canary nodes "
			"first); --strategy canary shifts traffic by weight on every node instead "
			"(--canary-initial, --canary-step, --canary-max)");
		return 2;
	}
	if (coord_ctl_count(canary, 1, 100000, &n, &pct) != 0 || (pct && n >= 100)) {
		snprintf(err, errlen, "--canary: expected a count >= 1 or a percentage 1%%..99%%");
		return 2;
	}
	if (bake != NULL && (osp_duration_parse(bake, &bake_ms) != OSP_OK || bake_ms < 0 ||
				    bake_ms > COORD_PLAN_MAX_BAKE_MS)) {
		snprintf(err, errlen, "--canary-bake: expected a duration from 0 to 168h");
		return 2;
	}
	if (q != NULL && strcmp(q, "true") == 0) {
		snprintf(err, errlen, "--queue does not go with --canary: a canary deploy is a plan, "
			"which starts only when its app is free");
		return 2;
	}
	/* the canary nodes all at once, baked; then the rest as --batch says,
	 * behind an approval gate when asked for */
	snprintf(stages, sizeof(stages),
		"[{\"name\":\"canary\",\"nodes\":\"%s\",\"batch\":\"100%%\",\"bake_ms\":%lld},"
		"{\"name\":\"rest\",\"gate\":%s,\"gate_why\":\"%s\"}]",
		canary, (long long)bake_ms,
		appr != NULL && strcmp(appr, "true") == 0 ? "true" : "false",
		appr != NULL && strcmp(appr, "true") == 0 ? "--canary-approval" : "");
	if (dry != NULL && strcmp(dry, "true") == 0)
		return coord_ctl_plan_show(c, rq, stages, json, err, errlen);
	return coord_ctl_plan_start(c, rq, stages, json, err, errlen);
}

int coord_ctl_plan_control(coord *c, coord_ctl_req *rq, const char *id, coord_plan_event_kind kind,
	osp_buf *json, char *err, size_t errlen)
{
	Ospec__V1__PlanRecord *p = NULL;
	coord_plan_event ev = { .kind = kind, .stage = coord_ctl_arg(rq, "stage") };
	char shown[160];
	osp_err rv;
	osp_jw w;

	if (coord_plans_get(rq->txn, id, &p) != OSP_OK)
		return 4;
	coord_ctl_rollouts_hooks(rq);
	rv = coord_plans_event(c, rq->txn, p, &ev, rq->actor, err, errlen);
	if (rv == OSP_ESTATE || rv == OSP_ENOENT) {
		coord_plan pl;
		coord_plans_to_engine(p, &pl);
		if (rv == OSP_ENOENT)
			snprintf(err, errlen, "plan '%s' has no stage '%s' waiting for approval%s%s",
				p->id, osp_str_show(ev.stage, shown, sizeof(shown)),
				pl.state == COORD_RO_WAITING_APPROVAL ? ": the gate is at " : "",
				pl.state == COORD_RO_WAITING_APPROVAL ? p->stages[pl.current]->name
								      : "");
		else
			snprintf(err, errlen, "plan '%s' is %s: cannot %s it", p->id,
				coord_ro_state_name(pl.state),
				kind == COORD_PLAN_EV_APPROVE ? "approve" : "abort");
		rq->on_abort = NULL;
		ospec__v1__plan_record__free_unpacked(p, NULL);
		return 1;
	}
	if (rv != OSP_OK) {
		if (err[0] == '\0')
			snprintf(err, errlen, "cannot change plan '%s': %s", p->id, osp_strerror(rv));
		ospec__v1__plan_record__free_unpacked(p, NULL);
		return 1;
	}
	osp_jw_init(&w, json);
	osp_jw_obj_begin(&w);
	coord_jw_kv(&w, "id", p->id);
	coord_jw_kv(&w, "state", coord_ro_state_name((coord_ro_state)p->state));
	osp_jw_obj_end(&w);
	ospec__v1__plan_record__free_unpacked(p, NULL);
	return 0;
}

/* coord_ctl_approve_switch passes the switch gate of rollout e (waiting). */
static int coord_ctl_approve_switch(coord *c, coord_ctl_req *rq, coord_ro_entry *e,
	const char *reply_id, osp_buf *json, char *err, size_t errlen)
{
	coord_ro_event ev = { .kind = COORD_RO_EV_APPROVE, .now_ms = coord_clock_now(&c->clock) };
	osp_err rv;
	osp_jw w;

	coord_ctl_rollouts_hooks(rq);
	if ((rv = coord_active_event(c, rq->txn, e, &ev, rq->actor)) != OSP_OK) {
		snprintf(err, errlen, "rollout '%s' is %s: no gate waits%s%s", e->ro.id,
			coord_ro_state_name(e->ro.state), rv == OSP_ESTATE ? "" : ": ",
			rv == OSP_ESTATE ? "" : osp_strerror(rv));
		if (rv == OSP_ESTATE)
			rq->on_abort = NULL;
		return 1;
	}
	osp_jw_init(&w, json);
	osp_jw_obj_begin(&w);
	coord_jw_kv(&w, "id", reply_id);
	coord_jw_kv(&w, "state", "running");
	osp_jw_obj_end(&w);
	return 0;
}

int coord_verb_approve(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen)
{
	const char *id = coord_ctl_arg(rq, "rollout"), *stage = coord_ctl_arg(rq, "stage");
	Ospec__V1__PlanRecord *p = NULL;
	coord_ro_entry *e = NULL;
	char shown[160];

	if (id == NULL || id[0] == '\0') {
		snprintf(err, errlen, "a rollout id is required");
		return 2;
	}
	if (coord_plans_get(rq->txn, id, &p) == OSP_OK) {
		/* a plan whose running stage waits at its switch gate */
		Ospec__V1__PlanStageRecord *s = p->current < p->n_stages ? p->stages[p->current] : NULL;
		if (p->state == COORD_RO_RUNNING && s != NULL && s->rollout != NULL)
			e = coord_active_find(c, s->rollout);
		if (e != NULL && e->ro.state == COORD_RO_WAITING_APPROVAL) {
			int st = 1;
			if (stage != NULL && stage[0] != '\0' && strcmp(stage, s->name) != 0)
				snprintf(err, errlen, "plan '%s' has no stage '%s' waiting for approval: "
					"the gate is at %s", id, osp_str_show(stage, shown, sizeof(shown)),
					s->name);
			else
				st = coord_ctl_approve_switch(c, rq, e, id, json, err, errlen);
			ospec__v1__plan_record__free_unpacked(p, NULL);
			return st;
		}
		ospec__v1__plan_record__free_unpacked(p, NULL);
		return coord_ctl_plan_control(c, rq, id, COORD_PLAN_EV_APPROVE, json, err, errlen);
	}
	if ((e = coord_active_find(c, id)) != NULL)
		return coord_ctl_approve_switch(c, rq, e, id, json, err, errlen);
	{
		Ospec__V1__RolloutRecord *r = NULL;
		if (coord_rollout_get(c, rq->txn, id, &r) == OSP_OK) {
			snprintf(err, errlen, "rollout '%s' is %s: no gate waits", id,
				coord_ro_state_name((coord_ro_state)r->state));
			ospec__v1__rollout_record__free_unpacked(r, NULL);
			return 1;
		}
	}
	snprintf(err, errlen, "rollout '%s' is not known", osp_str_show(id, shown, sizeof(shown)));
	return 4;
}
