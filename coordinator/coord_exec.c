/*
 * coord_exec.c - glue between the agent server and the rollout engine:
 * records command results, feeds them and the clock to the engine, and
 * makes sure every change is committed before an agent can see it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord.h"
#include "coord_engine_hooks.h"
#include "coord_rollouts.h"

static const char *coord_exec_status_name(Ospec__V1__ResultStatus s)
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

void coord_engine_on_register(coord *c, coord_node *n, const Ospec__V1__Register *r)
{
	(void)c;
	(void)n;
	(void)r;
}

/* coord_exec_owner finds the active rollout waiting for (node, seq). */
static coord_ro_entry *coord_exec_owner(coord *c, const char *node, uint64_t seq)
{
	for (coord_ro_entry *e = c->rollouts; e != NULL; e = e->next)
		for (size_t i = 0; i < e->ro.nsteps; i++)
			if (e->ro.steps[i].seq == seq && strcmp(e->ro.steps[i].node, node) == 0)
				return e;
	return NULL;
}

osp_err coord_engine_on_result(coord *c, coord_node *n, const Ospec__V1__CommandResult *r)
{
	coord_ro_entry *e;
	coord_ro_event ev = { .kind = COORD_RO_EV_RESULT };
	osp_txn *t = NULL;
	osp_err rv;

	if (r->status == OSPEC__V1__RESULT_STATUS__RESULT_IN_PROGRESS)
		return OSP_OK;
	if ((rv = osp_store_txn_begin(c->store, true, &t)) != OSP_OK)
		return rv;
	e = coord_exec_owner(c, n->id, r->seq);
	rv = coord_db_event(c, t, "command.result", n->id, e ? e->ro.id : NULL, r->app, "node",
		"seq %llu %s%s%s", (unsigned long long)r->seq, coord_exec_status_name(r->status),
		r->message && r->message[0] ? ": " : "", r->message ? r->message : "");
	if (rv == OSP_OK && e != NULL) {
		ev.now_ms = osp_now_wall_ms();
		ev.node = n->id;
		ev.seq = r->seq;
		ev.ok = r->status == OSPEC__V1__RESULT_STATUS__RESULT_OK;
		ev.message = r->message ? r->message : "";
		rv = coord_rollouts_event(c, t, e, &ev, "node");
	}
	if (rv != OSP_OK) {
		osp_store_txn_abort(t);
		if (e != NULL)
			coord_rollouts_reload(c);
		return rv;
	}
	if ((rv = coord_db_commit(c, t, "command result")) != OSP_OK) {
		coord_rollouts_reload(c);
		return rv;
	}
	coord_rollouts_reap(c);
	return OSP_OK;
}

/* coord_exec_due reports whether a deadline of e has passed (cheap: no txn). */
static bool coord_exec_due(const coord_ro_entry *e, int64_t now)
{
	if (e->ro.state != COORD_RO_RUNNING && e->ro.state != COORD_RO_PAUSED)
		return false;
	for (size_t i = 0; i < e->ro.nsteps; i++) {
		const coord_ro_step *st = &e->ro.steps[i];
		if (st->cmd != COORD_RO_CMD_NONE &&
			st->started_ms + e->ro.progress_deadline_ms < now)
			return true;
	}
	return false;
}

void coord_engine_tick(coord *c, int64_t now_mono)
{
	static int64_t last;
	int64_t now = osp_now_wall_ms();
	coord_ro_event ev = { .kind = COORD_RO_EV_TICK };
	bool changed = false;

	if (now_mono - last < 500)
		return;
	last = now_mono;
	ev.now_ms = now;
	for (coord_ro_entry *e = c->rollouts; e != NULL; e = e->next) {
		osp_txn *t = NULL;

		if (!coord_exec_due(e, now) || osp_store_txn_begin(c->store, true, &t) != OSP_OK)
			continue;
		if (coord_rollouts_event(c, t, e, &ev, "coordinator") != OSP_OK) {
			osp_store_txn_abort(t);
			coord_rollouts_reload(c);
			return;
		}
		if (coord_db_commit(c, t, "rollout deadline") != OSP_OK) {
			coord_rollouts_reload(c); /* the txn is gone either way */
			return;
		}
		changed = true;
	}
	if (changed)
		coord_rollouts_reap(c);
}

osp_err coord_engine_start(coord *c)
{
	return coord_rollouts_load(c);
}

void coord_engine_fini(coord *c)
{
	coord_rollouts_free(c);
}
