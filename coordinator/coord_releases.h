/*
 * coord_releases.h - which release a version names: the coordinator binds
 * (app, version) to one sha256 and (app, sha256) to one version, in the
 * "releases" database, the first time a rollout uses them. A version is
 * the operator's name for one build; the agents' cache is content-addressed
 * (by sha256), so a version re-used with other content would run the wrong
 * code under the right name. Called with coord.mtx held, inside the
 * caller's transaction.
 */
#ifndef COORD_RELEASES_H
#define COORD_RELEASES_H

#include "coord.h"

/* coord_releases_check checks that version and sha256 name one
 * release of app: a version already deployed with another sha256, or a
 * sha256 already deployed as another version, is refused (OSP_EEXIST, both
 * named in err). OSP_OK when they are new or agree; store errors. */
osp_err coord_releases_check(coord *c, osp_txn *t, const char *app, const char *version,
	const char *sha256, char *err, size_t errlen);

/* coord_releases_bind records that version and sha256 name one
 * release of app (in t; idempotent). Store errors. */
osp_err coord_releases_bind(coord *c, osp_txn *t, const char *app, const char *version,
	const char *sha256);

#endif
