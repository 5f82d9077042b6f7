/* coord_ctl_checks.c - deploy --require-env and --smoke into the rollout
 * record (coord_ctl_checks.h). */
#include "coord_ctl_checks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ospec/checks.h"

#define COORD_CTL_CHECKS_BLANKS " \t"

/* coord_ctl_checks_grow returns v (n pointers used) with room for one more, or
 * NULL with err: --FLAG has max of them already, or memory ran out (v is
 * unchanged then). */
static void *coord_ctl_checks_grow(void *v, size_t n, size_t max, const char *flag,
	const char *what, char *err, size_t errlen)
{
	void *nv = NULL;

	if (n >= max)
		snprintf(err, errlen, "--%s: more than %zu %s", flag, max, what);
	else if ((nv = realloc(v, (n + 1) * sizeof(void *))) == NULL)
		snprintf(err, errlen, "out of memory");
	return nv;
}

int coord_ctl_checks_env_add(Ospec__V1__RolloutRecord *r, const char *name, char *err,
	size_t errlen)
{
	char shown[160], **v, *dup;

	if (!osp_checks_env_name(name)) {
		snprintf(err, errlen,
			"--require-env: '%s' is not an env variable name (A-Z a-z 0-9 _, not "
			"starting with a digit, at most %d bytes)",
			osp_str_show(name, shown, sizeof(shown)), OSP_WIRE_MAX_ENV_NAME);
		return -1;
	}
	for (size_t i = 0; i < r->n_require_env; i++)
		if (strcmp(r->require_env[i], name) == 0)
			return 0;
	if ((v = coord_ctl_checks_grow(r->require_env, r->n_require_env, OSP_WIRE_MAX_ENV_NAMES,
		     "require-env", "names", err, errlen)) == NULL)
		return -1;
	r->require_env = v;
	if ((dup = strdup(name)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	r->require_env[r->n_require_env++] = dup;
	return 0;
}

int coord_ctl_checks_smoke_add(Ospec__V1__RolloutRecord *r, const char *method, const char *path,
	uint32_t status, char *err, size_t errlen)
{
	Ospec__V1__SmokeCheck *sc = NULL, **v;
	char why[256];

	if (osp_checks_smoke(method, path, status, why, sizeof(why)) != OSP_OK) {
		snprintf(err, errlen, "--smoke: %s", why);
		return -1;
	}
	if ((v = coord_ctl_checks_grow(r->smoke, r->n_smoke, OSP_WIRE_MAX_SMOKE, "smoke", "checks",
		     err, errlen)) == NULL)
		return -1;
	r->smoke = v;
	if ((sc = calloc(1, sizeof(*sc))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	ospec__v1__smoke_check__init(sc);
	sc->status = status;
	if ((sc->method = strdup(method)) == NULL || (sc->path = strdup(path)) == NULL) {
		ospec__v1__smoke_check__free_unpacked(sc, NULL);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	r->smoke[r->n_smoke++] = sc;
	return 0;
}

/* coord_ctl_checks_word cuts the next blank-separated word out of *s (modified
 * in place); NULL when there is none. */
static char *coord_ctl_checks_word(char **s)
{
	char *w = *s + strspn(*s, COORD_CTL_CHECKS_BLANKS), *end;

	if (*w == '\0')
		return NULL;
	end = w + strcspn(w, COORD_CTL_CHECKS_BLANKS);
	*s = end + (*end != '\0');
	*end = '\0';
	return w;
}

/* coord_ctl_checks_smoke_entry reads one "METHOD PATH STATUS" (modified in
 * place) into r. */
static int coord_ctl_checks_smoke_entry(Ospec__V1__RolloutRecord *r, char *entry, char *err,
	size_t errlen)
{
	char shown[160], *s = entry, *method, *path, *status;
	uint64_t code = 0;

	osp_str_show(entry, shown, sizeof(shown)); /* before the words are cut out */
	method = coord_ctl_checks_word(&s);
	path = coord_ctl_checks_word(&s);
	status = coord_ctl_checks_word(&s);
	if (method == NULL || path == NULL || status == NULL || coord_ctl_checks_word(&s) != NULL ||
		osp_u64_parse(status, 0, 999, &code) != OSP_OK) {
		snprintf(err, errlen,
			"--smoke: expected \"METHOD PATH STATUS\" like \"GET /api/ping 200\", got '%s'",
			shown);
		return -1;
	}
	return coord_ctl_checks_smoke_add(r, method, path, (uint32_t)code, err, errlen);
}

/* coord_ctl_checks_list calls fn for each non-blank item of list separated by
 * sep (a copy is cut in place); a blank item is an error. */
static int coord_ctl_checks_list(const char *flag, const char *list, char sep,
	int (*fn)(Ospec__V1__RolloutRecord *r, char *item, char *err, size_t errlen),
	Ospec__V1__RolloutRecord *r, char *err, size_t errlen)
{
	char *copy = strdup(list), *item, *next;
	int rc = 0;

	if (copy == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (item = copy; item != NULL && rc == 0; item = next) {
		size_t n;

		if ((next = strchr(item, sep)) != NULL)
			*next++ = '\0';
		item += strspn(item, COORD_CTL_CHECKS_BLANKS);
		n = strlen(item);
		while (n > 0 && strchr(COORD_CTL_CHECKS_BLANKS, item[n - 1]) != NULL)
			item[--n] = '\0';
		if (item[0] == '\0') {
			snprintf(err, errlen, "--%s: an empty entry", flag);
			rc = -1;
		} else {
			rc = fn(r, item, err, errlen);
		}
	}
	free(copy);
	return rc;
}

static int coord_ctl_checks_env_item(Ospec__V1__RolloutRecord *r, char *item, char *err,
	size_t errlen)
{
	return coord_ctl_checks_env_add(r, item, err, errlen);
}

int coord_ctl_checks(coord_ctl_req *rq, Ospec__V1__RolloutRecord *r, char *err, size_t errlen)
{
	const char *env = coord_ctl_arg(rq, "require-env"), *smoke = coord_ctl_arg(rq, "smoke");

	if (env != NULL && coord_ctl_checks_list("require-env", env, ',',
				   coord_ctl_checks_env_item, r, err, errlen) != 0)
		return -1;
	if (smoke != NULL && coord_ctl_checks_list("smoke", smoke, ';',
				     coord_ctl_checks_smoke_entry, r, err, errlen) != 0)
		return -1;
	return 0;
}
