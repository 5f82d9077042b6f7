/*
 * coord_engine.c - glue between the agent server and the rollout engine:
 * records command results, feeds them and the clock to the engine, and
 * makes sure every change is committed before an agent can see it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord.h"
#include "coord_engine_hooks.h"
#include "coord_active.h"
#include "coord_webhooks.h"
#include "ospec/fault.h"

static const char *coord_engine_status_name(Ospec__V1__ResultStatus s)
{
	switch (s) {
	case OSPEC__V1__RESULT_STATUS__RESULT_OK:
		return "ok";
	case OSPEC__V1__RESULT_STATUS__RESULT_FAILED:
		return "failed";
	case OSPEC__V1__RESULT_STATUS__RESULT_IN_PROGRESS:
		return "in progress";
	case OSPEC__V1__RESULT_STATUS__RESULT_REFUSED:
		return "refused";
	case OSPEC__V1__RESULT_STATUS__RESULT_VOTE_YES:
		return "vote yes";
	case OSPEC__V1__RESULT_STATUS__RESULT_VOTE_NO:
		return "vote no";
	default:
		return "unknown";
	}
}

/* coord_engine_switch_open reports whether an active rollout may still
 * decide switch id (then its decision is yet to come). */
static bool coord_engine_switch_open(coord *c, const char *id)
{
	for (coord_ro_entry *e = c->rollouts; e != NULL; e = e->next)
		if (strcmp(e->ro.switch_id, id) == 0 && coord_ro_switch_undecided(&e->ro))
			return true;
	return false;
}

/* coord_engine_presume_abort tells node n that switch id was aborted: no
 * decision was recorded and none can come (presumed abort). */
static osp_err coord_engine_presume_abort(coord *c, osp_txn *t, coord_node *n,
	const Ospec__V1__InDoubt *d)
{
	Ospec__V1__Command cmd;
	Ospec__V1__SwitchDecision dec;
	osp_err rv;

	ospec__v1__command__init(&cmd);
	ospec__v1__switch_decision__init(&dec);
	dec.switch_id = d->switch_id;
	dec.app = d->app;
	dec.commit = 0;
	cmd.kind_case = OSPEC__V1__COMMAND__KIND_DECISION;
	cmd.decision = &dec;
	if ((rv = coord_db_cmd_append(c, t, n, &cmd)) != OSP_OK)
		return rv;
	return coord_db_event(c, t, "switch.presumed_abort", n->id, NULL, d->app, "coordinator",
		"switch '%s' has no recorded decision: abort", d->switch_id);
}

void coord_engine_on_register(coord *c, coord_node *n, const Ospec__V1__Register *r)
{
	osp_txn *t = NULL;
	bool wrote = false;

	if (r->n_in_doubt == 0 || osp_store_txn_begin(c->store, true, &t) != OSP_OK)
		return;
	for (size_t i = 0; i < r->n_in_doubt; i++) {
		const Ospec__V1__InDoubt *d = r->in_doubt[i];

		/* a recorded decision is in the node's log already: it gets it
		 * at its next poll; one that cannot be read is not presumed
		 * absent (the node asks again at its next register) */
		if (coord_ro_rec_decision(t, d->switch_id, NULL) != OSP_ENOENT ||
			coord_engine_switch_open(c, d->switch_id))
			continue;
		if (coord_engine_presume_abort(c, t, n, d) != OSP_OK) {
			osp_store_txn_abort(t);
			coord_db_reload_log_ends(c);
			return;
		}
		wrote = true;
	}
	if (!wrote) {
		osp_store_txn_abort(t);
		return;
	}
	if (coord_db_commit(c, t, "presumed abort") != OSP_OK)
		coord_db_reload_log_ends(c);
	/* the node's poll may be held already: answer it now */
	coord_active_kick(c);
}

/* coord_engine_apply applies ev to e in its own transaction and commits. */
static osp_err coord_engine_apply(coord *c, coord_ro_entry *e, const coord_ro_event *ev,
	const char *actor)
{
	osp_txn *t = NULL;
	osp_err rv;

	if ((rv = osp_store_txn_begin(c->store, true, &t)) != OSP_OK)
		return rv;
	if ((rv = coord_active_event(c, t, e, ev, actor)) != OSP_OK) {
		osp_store_txn_abort(t);
		coord_active_reload(c);
		return rv;
	}
	if ((rv = coord_db_commit(c, t, "rollout")) != OSP_OK) {
		coord_active_reload(c); /* the txn is gone either way */
		return rv;
	}
	/* tests: the canary's counters were asked for, no answer is in yet */
	if (e->ro.strategy == COORD_RO_CANARY && e->ro.phase == COORD_CN_ANALYZE)
		osp_fault_point("coordinator-in-analysis");
	return rv;
}

void coord_engine_on_heartbeat(coord *c, coord_node *n)
{
	bool changed = false;

	for (coord_ro_entry *e = c->rollouts; e != NULL; e = e->next) {
		coord_ro_event ev = { .kind = COORD_RO_EV_HEALTH, .node = n->id };
		const Ospec__V1__AppState *a = NULL;
		const coord_ro_step *st = NULL;

		size_t si;

		if (!coord_ro_watching(&e->ro))
			continue;
		if (coord_active_node_steps(e, n->id, &si, 1) == 1)
			st = &e->ro.steps[si];
		for (size_t i = 0; i < n->n_apps && st != NULL; i++)
			if (strcmp(n->apps[i]->app, e->ro.app) == 0)
				a = n->apps[i];
		if (a == NULL)
			continue;
		ev.ok = a->running && a->healthy;
		/* a healthy report the engine has seen already changes nothing: no
		 * write transaction per heartbeat for the length of a watch */
		if (ev.ok && st->healthy_seen)
			continue;
		ev.now_ms = coord_clock_now(&c->clock);
		ev.slot = a->active_slot;
		ev.sha256 = a->sha256;
		ev.message = ev.ok ? "healthy" : a->running ? "health checks failing"
							    : "the app is not running";
		if (coord_engine_apply(c, e, &ev, "node") != OSP_OK)
			goto kick; /* reloaded: the list changed */
		changed = true;
	}
	if (changed)
		coord_active_reap(c);
	return;
kick:
	/* what earlier entries committed must still reach the nodes */
	coord_active_kick(c);
}

/* A node has one step in a rollout (its membership): a lookup looks at up
 * to this many. */
#define COORD_EXEC_STEPS_MAX 8

/* coord_engine_owner finds the active rollout waiting for (node, seq), or
 * owning the revert queued behind a voided command. */
static coord_ro_entry *coord_engine_owner(coord *c, const char *node, uint64_t seq)
{
	size_t idx[COORD_EXEC_STEPS_MAX];

	for (coord_ro_entry *e = c->rollouts; e != NULL; e = e->next) {
		size_t n = coord_active_node_steps(e, node, idx, COORD_EXEC_STEPS_MAX);

		for (size_t k = 0; k < n; k++)
			if (e->ro.steps[idx[k]].seq == seq || e->ro.steps[idx[k]].void_seq == seq)
				return e;
	}
	return NULL;
}

/* coord_engine_result_fields copies what the node reports about its state
 * after the command into ev (pointers into r). */
static void coord_engine_result_fields(const Ospec__V1__CommandResult *r, coord_ro_event *ev)
{
	ev->version = r->version;
	ev->sha256 = r->sha256;
	ev->prev_version = r->previous_version;
	ev->active_slot = r->active_slot;
	ev->slot = r->slot;
	if (!r->has_kind)
		return; /* an agent before protocol 1.1: it names nothing */
	switch (r->kind) {
	case OSPEC__V1__COMMAND__KIND_STAGE:
		ev->done_cmd = COORD_RO_CMD_STAGE;
		break;
	case OSPEC__V1__COMMAND__KIND_REVERT:
		ev->done_cmd = COORD_RO_CMD_REVERT;
		break;
	case OSPEC__V1__COMMAND__KIND_STOP:
		ev->done_cmd = COORD_RO_CMD_STOP;
		break;
	case OSPEC__V1__COMMAND__KIND_PREPARE:
		ev->done_cmd = COORD_RO_CMD_PREPARE;
		break;
	case OSPEC__V1__COMMAND__KIND_DECISION:
		ev->done_cmd = COORD_RO_CMD_DECIDE;
		break;
	case OSPEC__V1__COMMAND__KIND_SCALE_DOWN:
		ev->done_cmd = COORD_RO_CMD_SCALE_DOWN;
		break;
	case OSPEC__V1__COMMAND__KIND_WEIGHT:
		ev->done_cmd = COORD_RO_CMD_WEIGHT;
		break;
	case OSPEC__V1__COMMAND__KIND_STATS:
		ev->done_cmd = COORD_RO_CMD_STATS;
		break;
	default:
		break;
	}
}

/* coord_engine_note_app brings n's inventory up to date with what a rolling
 * Stage or Revert answered it runs: a result is newer than the last
 * heartbeat, and the next rollout's plan and status read the inventory. */
static void coord_engine_note_app(coord_node *n, const Ospec__V1__CommandResult *r)
{
	Ospec__V1__AppState *a = NULL, **v;
	char *ver, *sha;

	if (r->app == NULL || r->slot == NULL || strcmp(r->slot, "main") != 0 || !r->has_kind ||
		(r->kind != OSPEC__V1__COMMAND__KIND_STAGE &&
			r->kind != OSPEC__V1__COMMAND__KIND_REVERT) ||
		r->version == NULL || r->sha256 == NULL)
		return;
	for (size_t i = 0; i < n->n_apps && a == NULL; i++)
		if (strcmp(n->apps[i]->app, r->app) == 0)
			a = n->apps[i];
	if (a == NULL) {
		if (n->n_apps >= OSP_WIRE_MAX_APPS ||
			(v = realloc(n->apps, (n->n_apps + 1) * sizeof(*v))) == NULL)
			return;
		n->apps = v;
		if ((a = malloc(sizeof(*a))) == NULL)
			return;
		ospec__v1__app_state__init(a);
		if ((a->app = strdup(r->app)) == NULL || (a->active_slot = strdup("main")) == NULL) {
			free(a->app);
			free(a);
			return;
		}
		n->apps[n->n_apps++] = a;
	}
	/* strings of an unpacked message are plain heap blocks (NULL allocator) */
	if ((ver = strdup(r->version)) == NULL || (sha = strdup(r->sha256)) == NULL) {
		free(ver);
		return;
	}
	free(a->version);
	free(a->sha256);
	a->version = ver;
	a->sha256 = sha;
	a->has_running = 1;
	a->running = r->version[0] != '\0';
}

/* coord_engine_staging finds the step of e whose STAGE (node, seq) answers;
 * SIZE_MAX if none. */
static size_t coord_engine_staging(coord_ro_entry *e, const char *node, uint64_t seq)
{
	size_t idx[COORD_EXEC_STEPS_MAX];
	size_t n = e != NULL ? coord_active_node_steps(e, node, idx, COORD_EXEC_STEPS_MAX) : 0;

	for (size_t k = 0; k < n; k++)
		if (e->ro.steps[idx[k]].seq == seq && e->ro.steps[idx[k]].cmd == COORD_RO_CMD_STAGE)
			return idx[k];
	return SIZE_MAX;
}

/* coord_engine_observe_stage feeds ospec_step_duration_seconds once a stage's
 * result is committed: the step is done, ready (blue-green) or failed. */
static void coord_engine_observe_stage(coord *c, const coord_ro_entry *e, size_t i,
	int64_t issued_ms, int64_t now_ms)
{
	coord_step_state s;

	if (i >= e->ro.nsteps || e->ro.steps[i].cmd == COORD_RO_CMD_STAGE)
		return; /* still waiting (a stale or duplicate answer) */
	s = e->ro.steps[i].state;
	if (s == COORD_STEP_DONE || s == COORD_STEP_READY || s == COORD_STEP_FAILED)
		coord_metrics_step(c, now_ms - issued_ms);
}

osp_err coord_engine_result_in(coord *c, osp_txn *t, coord_node *n,
	const Ospec__V1__CommandResult *r, coord_result_done *d)
{
	coord_ro_event ev = { .kind = COORD_RO_EV_RESULT };
	coord_ro_stats stats;
	coord_ro_entry *e;
	osp_err rv;

	*d = (coord_result_done){ .staging = SIZE_MAX };
	coord_engine_note_app(n, r);
	e = coord_engine_owner(c, n->id, r->seq);
	rv = coord_db_event(c, t, "command.result", n->id, e ? e->ro.id : NULL, r->app, "node",
		"seq %llu %s%s%s", (unsigned long long)r->seq, coord_engine_status_name(r->status),
		r->message && r->message[0] ? ": " : "", r->message ? r->message : "");
	if (rv != OSP_OK || e == NULL)
		return rv;
	d->e = e;
	d->now_ms = ev.now_ms = coord_clock_now(&c->clock);
	ev.node = n->id;
	ev.seq = r->seq;
	/* a YES vote is the success of a prepare */
	ev.ok = r->status == OSPEC__V1__RESULT_STATUS__RESULT_OK ||
		r->status == OSPEC__V1__RESULT_STATUS__RESULT_VOTE_YES;
	ev.message = r->message ? r->message : "";
	coord_engine_result_fields(r, &ev);
	if (r->stats != NULL) {
		coord_ro_stats_from(&stats, r->stats);
		ev.stats = &stats;
	}
	if ((d->staging = coord_engine_staging(e, n->id, r->seq)) != SIZE_MAX)
		d->issued_ms = e->ro.steps[d->staging].started_ms;
	return coord_active_event(c, t, e, &ev, "node");
}

void coord_engine_result_done(coord *c, const coord_result_done *d)
{
	const coord_ro_entry *e = d->e;

	if (e == NULL)
		return;
	if (d->staging != SIZE_MAX)
		coord_engine_observe_stage(c, e, d->staging, d->issued_ms, d->now_ms);
	/* tests: the decision is durable, no node has heard it yet */
	if (e->ro.decision != COORD_RO_DECISION_NONE &&
		(e->ro.phase == COORD_BG_COMMIT || e->ro.phase == COORD_BG_BACK_COMMIT))
		osp_fault_point("coordinator-after-decision");
}

osp_err coord_engine_on_result(coord *c, coord_node *n, const Ospec__V1__CommandResult *r)
{
	coord_result_done d;
	osp_txn *t = NULL;
	osp_err rv;

	if (r->status == OSPEC__V1__RESULT_STATUS__RESULT_IN_PROGRESS)
		return OSP_OK;
	if ((rv = osp_store_txn_begin(c->store, true, &t)) != OSP_OK)
		return rv;
	if ((rv = coord_engine_result_in(c, t, n, r, &d)) != OSP_OK) {
		osp_store_txn_abort(t);
		if (d.e != NULL)
			coord_active_reload(c);
		return rv;
	}
	if ((rv = coord_db_commit(c, t, "command result")) != OSP_OK) {
		coord_active_reload(c);
		return rv;
	}
	coord_engine_result_done(c, &d);
	coord_active_reap(c);
	return OSP_OK;
}

/* After a change the store refused, the tick tries again this much later
 * (the pace it always had). */
#define COORD_EXEC_RETRY_MS 500

/* coord_engine_wake returns the earliest deadline of the active rollouts. */
static int64_t coord_engine_wake(coord *c)
{
	int64_t wake = COORD_RO_NEVER;

	for (coord_ro_entry *e = c->rollouts; e != NULL; e = e->next) {
		int64_t at = coord_ro_next_deadline(&e->ro, NULL);

		if (at < wake)
			wake = at;
	}
	return wake;
}

void coord_engine_tick(coord *c, int64_t now_mono)
{
	int64_t now = coord_clock_at(&c->clock, now_mono);
	bool changed = false;

	/* nothing is due before c->ro_wake_ms: every engine step moves it
	 * earlier if it made an earlier deadline (coord_active_event) */
	if (now < c->ro_wake_ms)
		return;
	for (coord_ro_entry *e = c->rollouts; e != NULL; e = e->next) {
		coord_ro_event ev = { .now_ms = now };

		/* the engine says when it needs the clock, and which event */
		if (now < coord_ro_next_deadline(&e->ro, &ev.kind))
			continue;
		if (coord_engine_apply(c, e, &ev, "coordinator") != OSP_OK)
			goto retry; /* reloaded: the list changed */
		changed = true;
	}
	if (changed)
		coord_active_reap(c);
	c->ro_wake_ms = coord_engine_wake(c);
	return;
retry:
	/* what earlier entries committed must still reach the nodes */
	coord_active_kick(c);
	c->ro_wake_ms = now + COORD_EXEC_RETRY_MS;
}

osp_err coord_engine_start(coord *c)
{
	osp_err rv = coord_active_load(c);

	if (rv == OSP_OK)
		coord_webhooks_start(c); /* a restart resumes the outbox */
	return rv;
}

void coord_engine_on_metric(coord *c, const char *id, uint64_t analysis, bool ok,
	const char *msg)
{
	coord_ro_event ev = { .kind = COORD_RO_EV_METRIC, .seq = analysis, .ok = ok,
		.message = msg };

	if (atomic_load(&c->stopping))
		return; /* the agents' side is gone: nothing may be kicked now */
	pthread_mutex_lock(&c->mtx);
	for (coord_ro_entry *e = c->rollouts; e != NULL; e = e->next) {
		if (strcmp(e->ro.id, id) != 0)
			continue;
		ev.now_ms = coord_clock_now(&c->clock);
		if (coord_engine_apply(c, e, &ev, "coordinator") == OSP_OK)
			coord_active_reap(c);
		else
			coord_active_kick(c);
		break;
	}
	pthread_mutex_unlock(&c->mtx);
}

void coord_engine_fini(coord *c)
{
	coord_webhooks_stop(c);
	/* the analysis worker is main.c's: stopped before the agents' side */
	coord_active_free(c);
	free(c->ro_acts);
	c->ro_acts = NULL;
	c->ro_acts_cap = 0;
	free(c->ro_text);
	c->ro_text = NULL;
	c->ro_text_cap = 0;
}
