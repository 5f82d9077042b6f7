/*
 * coord_secrets.h - required secrets (deploy --require-env, OSpec
 * secrets.required): env variable NAMES a rollout's app needs on every
 * member. Each agent reports the names its app's env_file defines in
 * register and heartbeat (AppState.env_names, protocol 1.2; never a value);
 * the coordinator keeps them in the node's inventory and checks a rollout's
 * members against them when it is created, before anything is sent. The
 * agent checks again before it fetches anything (the inventory may be one
 * heartbeat old). Called with coord.mtx held.
 */
#ifndef COORD_SECRETS_H
#define COORD_SECRETS_H

#include <stdbool.h>
#include <stddef.h>

#include "coord.h"
#include "ospec/json.h"

struct coord_ro_entry;

/*
 * coord_secrets_missing reports whether node's inventory lacks some of the
 * env names (n of them) for app: true with the missing names in missing
 * (len bytes, "A, B"). A node not known, or reporting no env names for app
 * (no env_file, or an agent older than 1.2), lacks them all. false when it
 * has them all, or when it cannot be told: the agent's list was cut
 * (AppState.env_names_cut: more names than a report carries), and the
 * agent's own check at the Stage decides.
 */
bool coord_secrets_missing(coord *c, const char *node, const char *app, char *const *names,
	size_t n, char *missing, size_t len);

/*
 * coord_secrets_check checks every node of nodes (nnodes ids) for app with
 * coord_secrets_missing. Returns OSP_OK when none lacks a name; otherwise
 * OSP_EREFUSED with err (errlen bytes) naming each node and what it lacks:
 * "required secrets missing: n2 lacks DATABASE_URL, NEXTAUTH_SECRET; n3
 * lacks DATABASE_URL (app hello's env_file)" (the list of nodes cut with
 * "and N more nodes" when it does not fit).
 */
osp_err coord_secrets_check(coord *c, const char *app, char *const *names, size_t n,
	const char *const *nodes, size_t nnodes, char *err, size_t errlen);

/* coord_secrets_check_rollout is coord_secrets_check for the members of a
 * rollout being created (its steps; skipped ones, e.g. cordoned, get no
 * Stage and are not checked) and the names its record requires. OSP_ENOMEM. */
osp_err coord_secrets_check_rollout(coord *c, const struct coord_ro_entry *e, char *err,
	size_t errlen);

/* coord_secrets_stage puts the record's checks into a Stage: the required
 * env names and the smoke checks (s points into r). */
void coord_secrets_stage(const Ospec__V1__RolloutRecord *r, Ospec__V1__Stage *s);

/* coord_secrets_json_app writes an inventory app's "env_names" (a list of
 * names, never values) and "env_names_cut" into the open object of w. */
void coord_secrets_json_app(osp_jw *w, const Ospec__V1__AppState *a);

/* coord_secrets_json_rollout writes a rollout's "require_env" (names) and
 * "smoke" ([{"method", "path", "status"}]) into the open object of w. */
void coord_secrets_json_rollout(osp_jw *w, const Ospec__V1__RolloutRecord *r);

#endif
