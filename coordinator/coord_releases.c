/* coord_releases.c - one version names one release (coord_releases.h). */
#include <stdio.h>
#include <string.h>

#include "coord_releases.h"

/* coord_releases_key writes "<kind>\0<app>\0<name>" into key. */
static size_t coord_releases_key(char *key, size_t len, char kind, const char *app,
	const char *name)
{
	size_t al = strlen(app), nl = strlen(name), n = 2 + al + 1 + nl;

	if (n > len)
		return 0;
	key[0] = kind;
	key[1] = '\0';
	memcpy(key + 2, app, al);
	key[2 + al] = '\0';
	memcpy(key + 3 + al, name, nl);
	return n;
}

/* coord_releases_get reads the binding of (kind, app, name) into
 * out (NUL-terminated; "" when there is none). */
static osp_err coord_releases_get(osp_txn *t, char kind, const char *app,
	const char *name, char *out, size_t outlen)
{
	char key[400];
	size_t kl = coord_releases_key(key, sizeof(key), kind, app, name), vl;
	const void *v;
	osp_err rv;

	out[0] = '\0';
	if (kl == 0)
		return OSP_ETOOBIG;
	rv = osp_store_get(t, "releases", key, kl, &v, &vl);
	if (rv == OSP_ENOENT)
		return OSP_OK;
	if (rv != OSP_OK)
		return rv;
	if (vl >= outlen)
		vl = outlen - 1;
	memcpy(out, v, vl);
	out[vl] = '\0';
	return OSP_OK;
}

osp_err coord_releases_check(coord *c, osp_txn *t, const char *app, const char *version,
	const char *sha256, char *err, size_t errlen)
{
	char have[160];
	osp_err rv;

	(void)c;
	if ((rv = coord_releases_get(t, 'v', app, version, have, sizeof(have))) != OSP_OK)
		return rv;
	if (have[0] != '\0' && strcmp(have, sha256) != 0) {
		snprintf(err, errlen,
			"version %s of app '%s' is sha256 %s; this deploy says %s: a version names "
			"one release (give the new build a new version)",
			version, app, have, sha256);
		return OSP_EEXIST;
	}
	if ((rv = coord_releases_get(t, 's', app, sha256, have, sizeof(have))) != OSP_OK)
		return rv;
	if (have[0] != '\0' && strcmp(have, version) != 0) {
		snprintf(err, errlen,
			"sha256 %s is version %s of app '%s', not %s: deploy it as version %s", sha256,
			have, app, version, have);
		return OSP_EEXIST;
	}
	return OSP_OK;
}

osp_err coord_releases_bind(coord *c, osp_txn *t, const char *app, const char *version,
	const char *sha256)
{
	char key[400];
	size_t kl;
	osp_err rv;

	(void)c;
	if ((kl = coord_releases_key(key, sizeof(key), 'v', app, version)) == 0)
		return OSP_ETOOBIG;
	if ((rv = osp_store_put(t, "releases", key, kl, sha256, strlen(sha256))) != OSP_OK)
		return rv;
	if ((kl = coord_releases_key(key, sizeof(key), 's', app, sha256)) == 0)
		return OSP_ETOOBIG;
	return osp_store_put(t, "releases", key, kl, version, strlen(version));
}

