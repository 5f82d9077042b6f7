/* checks.c - required env names and smoke checks (checks.h). */
#include "ospec/checks.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "ospec/util.h"
#include "ospec/wire.h"

bool osp_checks_env_key(const char *s)
{
	if (s == NULL || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 1; s[i] != '\0'; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
			return false;
	return true;
}

bool osp_checks_env_name(const char *s)
{
	return osp_checks_env_key(s) &&
		strnlen(s, OSP_WIRE_MAX_ENV_NAME + 1) <= OSP_WIRE_MAX_ENV_NAME;
}

/* osp_checks_env_has reports whether name is one of have. */
static bool osp_checks_env_has(char *const *have, size_t nhave, const char *name)
{
	for (size_t i = 0; i < nhave; i++)
		if (have[i] != NULL && strcmp(have[i], name) == 0)
			return true;
	return false;
}

size_t osp_checks_env_missing(char *const *have, size_t nhave, char *const *want, size_t nwant,
	char *out, size_t len)
{
	size_t n = 0, off = 0;
	bool cut = false;

	if (out != NULL && len > 0)
		out[0] = '\0';
	for (size_t i = 0; i < nwant; i++) {
		int w;

		if (want[i] == NULL || osp_checks_env_has(have, nhave, want[i]))
			continue;
		n++;
		if (out == NULL || len < 4 || cut)
			continue;
		w = snprintf(out + off, len - off, "%s%s", n > 1 ? ", " : "", want[i]);
		if (w < 0 || (size_t)w >= len - off) {
			/* no half name: the list ends in "..." where it was cut */
			out[off < len - 4 ? off : len - 4] = '\0';
			osp_strlcpy(out + strlen(out), "...", len - strlen(out));
			cut = true;
			continue;
		}
		off += (size_t)w;
	}
	return n;
}

osp_err osp_checks_smoke(const char *method, const char *path, uint32_t status, char *err,
	size_t errlen)
{
	static const char *const methods[] = { "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH",
		"OPTIONS", NULL };
	char shown[80];
	size_t i;

	for (i = 0; method != NULL && methods[i] != NULL; i++)
		if (strcmp(method, methods[i]) == 0)
			break;
	if (method == NULL || methods[i] == NULL) {
		snprintf(err, errlen,
			"method '%s': expected GET, HEAD, POST, PUT, DELETE, PATCH or OPTIONS",
			osp_str_show(method, shown, sizeof(shown)));
		return OSP_EINVAL;
	}
	if (path == NULL || path[0] != '/' ||
		strnlen(path, OSP_WIRE_MAX_PATH + 1) > OSP_WIRE_MAX_PATH) {
		snprintf(err, errlen,
			"path '%s': expected a path starting with '/' of at most %d bytes",
			osp_str_show(path, shown, sizeof(shown)), OSP_WIRE_MAX_PATH);
		return OSP_EINVAL;
	}
	for (i = 0; path[i] != '\0'; i++) {
		if ((unsigned char)path[i] <= 0x20 || path[i] == 0x7f) {
			snprintf(err, errlen,
				"path '%s': blanks and control characters are not allowed",
				osp_str_show(path, shown, sizeof(shown)));
			return OSP_EINVAL;
		}
	}
	if (status < 100 || status > 599) {
		snprintf(err, errlen, "status %u: expected an HTTP status 100..599", status);
		return OSP_EINVAL;
	}
	return OSP_OK;
}
