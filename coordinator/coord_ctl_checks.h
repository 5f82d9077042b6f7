/*
 * coord_ctl_checks.h - a rollout's checks as the control API gets them:
 * required env names (deploy --require-env, request arg "require-env":
 * NAME[,NAME...]) and smoke checks (deploy --smoke, request arg "smoke":
 * "METHOD PATH STATUS" entries separated by ';'), into the rollout record
 * (RolloutRecord.require_env, .smoke). The rules are ospec/checks.h's.
 */
#ifndef COORD_CTL_CHECKS_H
#define COORD_CTL_CHECKS_H

#include <stddef.h>
#include <stdint.h>

#include "coord_control.h"

/* coord_ctl_checks reads rq's "require-env" and "smoke" arguments (both
 * optional) into r. Returns 0, or -1 with err saying which flag is wrong
 * (a usage error). */
int coord_ctl_checks(coord_ctl_req *rq, Ospec__V1__RolloutRecord *r, char *err, size_t errlen);

/* coord_ctl_checks_env_add adds name to r's required env names (a repeat is
 * kept once). Returns 0, or -1 with err: not an env name (osp_checks_env_name),
 * more than OSP_WIRE_MAX_ENV_NAMES, out of memory. */
int coord_ctl_checks_env_add(Ospec__V1__RolloutRecord *r, const char *name, char *err,
	size_t errlen);

/* coord_ctl_checks_smoke_add adds the smoke check METHOD PATH STATUS to r.
 * Returns 0, or -1 with err: a part is wrong (osp_checks_smoke), more than
 * OSP_WIRE_MAX_SMOKE checks, out of memory. */
int coord_ctl_checks_smoke_add(Ospec__V1__RolloutRecord *r, const char *method, const char *path,
	uint32_t status, char *err, size_t errlen);

#endif
