/* ctl_checks.c - deploy's repeatable --require-env and --smoke flags, each
 * joined into one request argument (ctl.h). */
#include <stdio.h>
#include <string.h>

#include "ctl.h"

/* ctl_checks_join appends sep and v to buf (len bytes); false when it would
 * not fit. */
static bool ctl_checks_join(char *buf, size_t len, char sep, const char *v)
{
	size_t used = strlen(buf), l = strlen(v);

	if (used + (used > 0) + l >= len)
		return false;
	if (used > 0)
		buf[used++] = sep;
	memcpy(buf + used, v, l + 1);
	return true;
}

int ctl_checks_flag(ctl_checks *ck, const char *verb, int argc, char **argv, int *i)
{
	const char *v;

	if ((v = ctl_flag(argc, argv, i, "require-env")) != NULL) {
		if (ctl_checks_join(ck->env, sizeof(ck->env), ',', v))
			return 1;
		ctl_errorf("%s: --require-env: expected NAME[,NAME...], at most %zu bytes in all",
			verb, sizeof(ck->env) - 1);
		return -1;
	}
	if ((v = ctl_flag(argc, argv, i, "smoke")) != NULL) {
		/* entries are separated by ';' in the request: one may not hold it */
		if (strchr(v, ';') == NULL && ctl_checks_join(ck->smoke, sizeof(ck->smoke), ';', v))
			return 1;
		ctl_errorf("%s: --smoke: expected \"METHOD PATH STATUS\" without ';', at most %zu "
			   "bytes in all",
			verb, sizeof(ck->smoke) - 1);
		return -1;
	}
	if ((v = ctl_flag(argc, argv, i, "webhook")) != NULL) {
		/* URLs are separated by ' ' in the request: one may not hold it (the
		 * coordinator checks the rest) */
		if (v[0] != '\0' && strchr(v, ' ') == NULL &&
			ctl_checks_join(ck->webhook, sizeof(ck->webhook), ' ', v))
			return 1;
		ctl_errorf("%s: --webhook: expected an http:// or https:// URL without spaces, at "
			   "most 8 of them",
			verb);
		return -1;
	}
	return 0;
}

void ctl_checks_args(const ctl_checks *ck, ctl_req *rq)
{
	if (ck->env[0] != '\0')
		ctl_req_arg(rq, "require-env", ck->env);
	if (ck->smoke[0] != '\0')
		ctl_req_arg(rq, "smoke", ck->smoke);
	if (ck->webhook[0] != '\0')
		ctl_req_arg(rq, "webhook", ck->webhook);
}
