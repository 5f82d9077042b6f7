/*
 * agent_exec.c - executes commands from the log. Handlers converge ("make
 * it so"): running the same command twice leaves the same state.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

struct agent_exec {
	agent *a;
};

osp_err agent_exec_alloc(agent *a, agent_exec **out)
{
	agent_exec *x = calloc(1, sizeof(*x));

	if (x == NULL)
		return OSP_ENOMEM;
	x->a = a;
	*out = x;
	return OSP_OK;
}

void agent_exec_free(agent_exec *x)
{
	free(x);
}

void agent_exec_restore(agent_exec *x)
{
	(void)x;
}

void agent_exec_run(agent_exec *x, const Ospec__V1__Command *cmd,
	Ospec__V1__CommandResult *res, char *msg, size_t msglen)
{
	(void)x;
	switch (cmd->kind_case) {
	case OSPEC__V1__COMMAND__KIND_NOOP:
		res->status = OSPEC__V1__RESULT_STATUS__RESULT_OK;
		snprintf(msg, msglen, "noop%s%s", cmd->noop->note ? ": " : "",
			cmd->noop->note ? cmd->noop->note : "");
		break;
	default:
		res->status = OSPEC__V1__RESULT_STATUS__RESULT_REFUSED;
		snprintf(msg, msglen, "command kind %d is not supported by this agent",
			(int)cmd->kind_case);
		break;
	}
	res->message = msg;
}

size_t agent_exec_apps(agent_exec *x, Ospec__V1__AppState ***out)
{
	(void)x;
	*out = NULL;
	return 0;
}

void agent_exec_apps_free(Ospec__V1__AppState **apps, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(apps[i]);
	free(apps);
}
