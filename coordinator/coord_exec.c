/*
 * coord_exec.c - glue between the agent server and the rollout engine:
 * records command results and hands them on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord.h"
#include "coord_engine_hooks.h"

static const char *coord_exec_status_name(Ospec__V1__ResultStatus s)
{
	switch (s) {
	case OSPEC__V1__RESULT_STATUS__RESULT_OK:
		return "ok";
	case OSPEC__V1__RESULT_STATUS__RESULT_FAILED:
		return "failed";
	case OSPEC__V1__RESULT_STATUS__RESULT_IN_PROGRESS:
		return "in_progress";
	case OSPEC__V1__RESULT_STATUS__RESULT_REFUSED:
		return "refused";
	case OSPEC__V1__RESULT_STATUS__RESULT_VOTE_YES:
		return "vote_yes";
	case OSPEC__V1__RESULT_STATUS__RESULT_VOTE_NO:
		return "vote_no";
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

void coord_engine_on_result(coord *c, coord_node *n, const Ospec__V1__CommandResult *r)
{
	osp_txn *t = NULL;

	if (r->status == OSPEC__V1__RESULT_STATUS__RESULT_IN_PROGRESS)
		return;
	if (osp_store_txn_begin(c->store, true, &t) != OSP_OK)
		return;
	if (coord_db_event(c, t, "command.result", n->id, NULL, r->app, "node",
		    "seq %llu %s%s%s", (unsigned long long)r->seq, coord_exec_status_name(r->status),
		    r->message ? ": " : "", r->message ? r->message : "") != OSP_OK) {
		osp_store_txn_abort(t);
		return;
	}
	coord_db_commit(c, t, "command result");
}

void coord_engine_tick(coord *c, int64_t now_mono)
{
	(void)c;
	(void)now_mono;
}

osp_err coord_engine_start(coord *c)
{
	(void)c;
	return OSP_OK;
}

void coord_engine_fini(coord *c)
{
	(void)c;
}
