/*
 * agent_dispatch.c - the command dispatcher: hands each command of the log
 * to its handler (the coordinator's coord_engine.c is another thing: the
 * engine's glue). Handlers converge ("make it so"): running the same
 * command twice leaves the same state. The app handlers (Stage, Revert,
 * Stop) are in agent_apps*.c, the blue-green ones (Stage into blue/green,
 * SwitchPrepare, SwitchDecision, ScaleDown, TrafficWeight, TrafficStats)
 * in agent_bluegreen*.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "agent_apps.h"
#include "agent_bluegreen.h"
#include "agent_metrics.h"

struct agent_dispatch {
	agent *a;
	agent_apps *apps;
	agent_bluegreen *bg;
};

osp_err agent_dispatch_alloc(agent *a, agent_dispatch **out)
{
	agent_dispatch *x = calloc(1, sizeof(*x));
	osp_err rv;

	*out = NULL;
	if (x == NULL)
		return OSP_ENOMEM;
	x->a = a;
	if ((rv = agent_apps_alloc(a->cfg, a->store, &x->apps)) != OSP_OK) {
		free(x);
		return rv;
	}
	if ((rv = agent_bluegreen_alloc(x->apps, &x->bg)) != OSP_OK) {
		agent_apps_free(x->apps);
		free(x);
		return rv;
	}
	*out = x;
	return OSP_OK;
}

void agent_dispatch_free(agent_dispatch *x)
{
	if (x == NULL)
		return;
	agent_bluegreen_free(x->bg); /* first: its monitor uses the apps context */
	agent_apps_free(x->apps);
	free(x);
}

void agent_dispatch_restore(agent_dispatch *x)
{
	agent_apps_restore(x->apps);
	agent_bluegreen_restore(x->bg);
}

struct agent_runner *agent_dispatch_runner(agent_dispatch *x)
{
	return x->apps->runner;
}

const char *agent_dispatch_state_dir(agent_dispatch *x)
{
	return x->apps->state;
}

void agent_dispatch_cancel(agent_dispatch *x)
{
	if (x != NULL)
		atomic_store(&x->apps->stopping, true);
}

bool agent_dispatch_result_stands(int status, bool stopping)
{
	return !stopping || status == OSPEC__V1__RESULT_STATUS__RESULT_OK ||
		status == OSPEC__V1__RESULT_STATUS__RESULT_VOTE_YES;
}

void agent_dispatch_run(agent_dispatch *x, const Ospec__V1__Command *cmd,
	Ospec__V1__CommandResult *res, char *msg, size_t msglen)
{
	msg[0] = '\0';
	switch (cmd->kind_case) {
	case OSPEC__V1__COMMAND__KIND_NOOP:
		res->status = OSPEC__V1__RESULT_STATUS__RESULT_OK;
		snprintf(msg, msglen, "noop%s%s", cmd->noop->note ? ": " : "",
			cmd->noop->note ? cmd->noop->note : "");
		break;
	case OSPEC__V1__COMMAND__KIND_STAGE:
		if (agent_bluegreen_is_slot(cmd->stage->slot) ||
			(cmd->stage->slot != NULL && strcmp(cmd->stage->slot, "idle") == 0))
			agent_bluegreen_stage(x->bg, cmd, res, msg, msglen);
		else
			agent_apps_stage(x->apps, cmd, res, msg, msglen);
		break;
	case OSPEC__V1__COMMAND__KIND_REVERT:
		agent_apps_revert(x->apps, cmd, res, msg, msglen);
		break;
	case OSPEC__V1__COMMAND__KIND_STOP:
		agent_apps_stop(x->apps, cmd, res, msg, msglen);
		break;
	case OSPEC__V1__COMMAND__KIND_PREPARE:
		agent_bluegreen_prepare(x->bg, cmd, res, msg, msglen);
		break;
	case OSPEC__V1__COMMAND__KIND_DECISION:
		agent_bluegreen_decision(x->bg, cmd, res, msg, msglen);
		break;
	case OSPEC__V1__COMMAND__KIND_SCALE_DOWN:
		agent_bluegreen_scale_down(x->bg, cmd, res, msg, msglen);
		break;
	case OSPEC__V1__COMMAND__KIND_WEIGHT:
		agent_bluegreen_weight(x->bg, cmd, res, msg, msglen);
		break;
	case OSPEC__V1__COMMAND__KIND_STATS:
		agent_bluegreen_stats(x->bg, cmd, res, msg, msglen);
		break;
	default:
		res->status = OSPEC__V1__RESULT_STATUS__RESULT_REFUSED;
		snprintf(msg, msglen, "command kind %d is not supported by this agent (protocol "
			"1.%d; a newer coordinator's command? upgrade ospec-agent)",
			(int)cmd->kind_case, OSP_PROTO_MINOR);
		break;
	}
	res->message = msg;
	/* which command this answers: a late answer to a voided stage and to
	 * the revert queued behind it must not be confused */
	res->has_kind = 1;
	res->kind = (uint32_t)cmd->kind_case;
	agent_metrics_command((int)cmd->kind_case, (int)res->status);
}

size_t agent_dispatch_apps(agent_dispatch *x, Ospec__V1__AppState ***out)
{
	return agent_apps_report(x->apps, out);
}

size_t agent_dispatch_in_doubt(agent_dispatch *x, Ospec__V1__InDoubt ***out)
{
	return agent_bluegreen_in_doubt(x->bg, out);
}

void agent_dispatch_in_doubt_free(Ospec__V1__InDoubt **v, size_t n)
{
	agent_bluegreen_in_doubt_free(v, n);
}

void agent_dispatch_apps_free(Ospec__V1__AppState **apps, size_t n)
{
	/* each element is one block holding its strings (agent_apps_report) */
	for (size_t i = 0; i < n; i++)
		free(apps[i]);
	free(apps);
}
