/*
 * agent_checks.h - the agent's side of a rollout's checks (protocol 1.2,
 * ospec/checks.h):
 *
 *  - the NAMES of the variables each configured app's env_file defines, for
 *    the apps report of register and heartbeat (the coordinator refuses a
 *    rollout whose required names a member lacks); never a value;
 *  - the Stage's required names, checked again against the env_file before
 *    anything is fetched (the coordinator's view may be a heartbeat old);
 *  - the Stage's smoke checks, run once each against the new release after
 *    its health check passed, with the health checks' HTTP client.
 *
 * An env file is read as the runner reads it (agent_runner_env_split: KEY=
 * VALUE lines, '#' comments, "export " allowed; PORT, OSPEC_APP and
 * OSPEC_SLOT are the agent's own and not the file's), only if it is a
 * regular file (agent_regfile.h). The text read, values and all, is wiped
 * before it is freed; nothing of a value is logged or returned.
 *
 * Thread-safe: the report runs on the heartbeat thread, the Stage checks on
 * the dispatcher's.
 */
#ifndef AGENT_CHECKS_H
#define AGENT_CHECKS_H

#include <stdbool.h>
#include <stddef.h>

#include "agent_apps.h"

/* The env names of one app as reported: sorted, unique, at most
 * OSP_WIRE_MAX_ENV_NAMES of at most OSP_WIRE_MAX_ENV_NAME bytes. */
typedef struct agent_env_names {
	size_t n;
	bool cut;                            /* the file defines names left out */
	size_t used;                         /* bytes of buf used (NULs included) */
	char *v[OSP_WIRE_MAX_ENV_NAMES];     /* into buf */
	char buf[OSP_WIRE_MAX_ENV_NAMES * (OSP_WIRE_MAX_ENV_NAME + 1)];
} agent_env_names;

/* What one apps report may still carry (OSP_WIRE_MAX_ENV_REPORT_*). */
typedef struct agent_env_budget {
	size_t names, bytes;
} agent_env_budget;

#define AGENT_ENV_BUDGET_INIT \
	{ .names = OSP_WIRE_MAX_ENV_REPORT_NAMES, .bytes = OSP_WIRE_MAX_ENV_REPORT_BYTES }

/*
 * agent_checks_env_names reads the names path defines into *out (zeroed
 * first), at most what *budget (may be NULL: no budget) has left, which it
 * takes from *budget. Names past the budget, past OSP_WIRE_MAX_ENV_NAMES or
 * longer than OSP_WIRE_MAX_ENV_NAME set out->cut. Lines the runner would
 * refuse are skipped. Returns OSP_OK, or the errors of agent_regfile_read
 * with why (whylen bytes) saying what is wrong, without a value.
 */
osp_err agent_checks_env_names(const char *path, agent_env_names *out, agent_env_budget *budget,
	char *why, size_t whylen);

/* agent_checks_env_report fills *out with the names of app's env_file (host
 * config cfg) within *budget: empty when app has no env_file or it cannot be
 * read. Returns whether app has an env_file. */
bool agent_checks_env_report(const agent_cfg *cfg, const char *app, agent_env_names *out,
	agent_env_budget *budget);

/* agent_checks_env_put points st->env_names at a copy of env's names made in
 * names (OSP_WIRE_MAX_ENV_NAMES pointers) and text (env->used bytes), both
 * the caller's and living as long as st; sets env_names_cut. env NULL or
 * empty: nothing. */
void agent_checks_env_put(Ospec__V1__AppState *st, char **names, char *text,
	const agent_env_names *env);

/*
 * agent_checks_stage_env checks a Stage's require_env against the env_file
 * of its app (host config): true when every name is defined there (or none
 * is required). Otherwise res is final (RESULT_FAILED) with msg saying
 * "required secrets missing: NODE lacks A, B (app APP's env_file)" (or that
 * the app has no env_file, or why it cannot be read), and it is logged.
 */
bool agent_checks_stage_env(agent_apps *p, const Ospec__V1__Stage *s,
	Ospec__V1__CommandResult *res, char *msg, size_t msglen);

/*
 * agent_checks_smoke runs the smoke checks v (n of them) once each, in
 * order, against 127.0.0.1:port with timeout_ms per request (0: the health
 * checks' default). Returns OSP_OK when every one answered its status;
 * otherwise OSP_EREFUSED (another status) or the transfer's error, with the
 * first failure in why: "smoke check GET /api/ping: expected 200, got 503",
 * "smoke check GET /api/ping: connection refused".
 */
osp_err agent_checks_smoke(Ospec__V1__SmokeCheck *const *v, size_t n, unsigned port,
	int64_t timeout_ms, char *why, size_t whylen);

/*
 * agent_checks_stage_verify is what a Stage checks once its release runs in
 * slot: the health check (agent_apps_check_slot with hs), then the Stage's
 * smoke checks on hs->port. A failed smoke check fails like a failed health
 * check: msg says "<the smoke check>; stderr: <last lines>" and its error is
 * returned. OSP_OK when all passed.
 */
osp_err agent_checks_stage_verify(agent_apps *p, const Ospec__V1__Stage *s, const char *slot,
	bool fresh, struct agent_health_spec *hs, char *msg, size_t msglen);

#endif
