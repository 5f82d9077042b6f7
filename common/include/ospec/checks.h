/*
 * checks.h - the rules of a rollout's checks, shared by ospecctl's
 * coordinator side, the agent and the wire decoder (protocol 1.2):
 *
 *  - required secrets: env variable NAMES an app's env_file (agent config)
 *    must define. Only names ever travel or are stored, never values.
 *  - smoke checks (acceptance.http_endpoints): "METHOD PATH STATUS", run
 *    once each against a new release after its health check passed.
 *
 * The limits are in wire.h (OSP_WIRE_MAX_ENV_*, OSP_WIRE_MAX_SMOKE).
 */
#ifndef OSPEC_CHECKS_H
#define OSPEC_CHECKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ospec/err.h"

/* osp_checks_env_key reports whether s is an env variable name as the agent's
 * runner accepts it in an env file: [A-Za-z_][A-Za-z0-9_]*, any length. */
bool osp_checks_env_key(const char *s);

/* osp_checks_env_name reports whether s is an env name that may be reported
 * or required: osp_checks_env_key and 1..OSP_WIRE_MAX_ENV_NAME bytes. */
bool osp_checks_env_name(const char *s);

/*
 * osp_checks_env_missing writes into out (len bytes, always NUL-terminated
 * when len > 0) the names of want that are not in have, in want's order,
 * separated by ", " (a cut list ends in "..."). Returns how many are
 * missing. have and want are lists of NUL-terminated names (NULL with a
 * count of 0 is fine).
 */
size_t osp_checks_env_missing(char *const *have, size_t nhave, char *const *want, size_t nwant,
	char *out, size_t len);

/*
 * osp_checks_smoke checks one smoke check: method one of GET HEAD POST PUT
 * DELETE PATCH OPTIONS, path starting with '/' of at most OSP_WIRE_MAX_PATH
 * bytes without blanks or control characters, status 100..599. Returns
 * OSP_OK, or OSP_EINVAL with err (errlen bytes) saying which part is wrong
 * (the values shown escaped).
 */
osp_err osp_checks_smoke(const char *method, const char *path, uint32_t status, char *err,
	size_t errlen);

#endif
