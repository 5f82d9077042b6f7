/* agent_redact.c - env file values out of app output (agent_redact.h). */
#include "agent_redact.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_regfile.h"
#include "ospec/util.h"
#include "agent_runner.h"

void agent_redact_init(agent_redact *r)
{
	memset(r, 0, sizeof(*r));
}

void agent_redact_fini(agent_redact *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i].s);
	free(r->v);
	memset(r, 0, sizeof(*r));
}

osp_err agent_redact_add(agent_redact *r, const char *value, size_t len)
{
	char *s;

	if (len < AGENT_REDACT_MIN)
		return OSP_OK;
	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].len == len && memcmp(r->v[i].s, value, len) == 0)
			return OSP_OK;
	if (r->n >= AGENT_REDACT_MAX_VALUES)
		return OSP_ETOOBIG;
	if (r->n == r->cap) {
		size_t ncap = r->cap ? r->cap * 2 : 16;
		struct agent_redact_val *v = realloc(r->v, ncap * sizeof(*v));
		if (v == NULL)
			return OSP_ENOMEM;
		r->v = v;
		r->cap = ncap;
	}
	if ((s = malloc(len + 1)) == NULL)
		return OSP_ENOMEM;
	memcpy(s, value, len);
	s[len] = '\0';
	r->v[r->n].s = s;
	r->v[r->n].len = len;
	r->n++;
	return OSP_OK;
}

/* agent_redact_env_line adds the value of one env file line, split by the
 * runner's own rules (agent_runner_env_split); a malformed line gives
 * nothing to the app, so nothing to hide. */
static osp_err agent_redact_env_line(agent_redact *r, char *line)
{
	char *key = NULL, *val = NULL;
	size_t len = 0;

	if (agent_runner_env_split(line, &key, &val, &len) <= 0 || agent_runner_env_reserved(key))
		return OSP_OK; /* reserved keys are set by the agent, not the file */
	return agent_redact_add(r, val, len);
}

osp_err agent_redact_env_file(agent_redact *r, const char *path, char *err, size_t errlen)
{
	char *text = NULL, *line, *nl, why[128];
	size_t len;
	osp_err rv;

	rv = agent_regfile_read(path, AGENT_RUNNER_ENV_FILE_MAX, &text, &len, why, sizeof(why));
	if (rv != OSP_OK) {
		snprintf(err, errlen, "env file '%s': %s", path, why);
		return rv;
	}
	for (line = text; line != NULL && rv == OSP_OK; line = nl) {
		nl = strchr(line, '\n');
		if (nl != NULL)
			*nl++ = '\0';
		rv = agent_redact_env_line(r, line);
	}
	if (rv != OSP_OK)
		snprintf(err, errlen, "env file '%s': %s", path, osp_strerror(rv));
	free(text);
	return rv;
}

/* agent_redact_at returns the length of the longest value matching in at
 * its start (0 if none); with partial, a value cut by the end of in counts
 * for its first `avail` bytes (at least AGENT_REDACT_MIN). */
static size_t agent_redact_at(const agent_redact *r, const char *in, size_t avail)
{
	size_t best = 0;

	for (size_t i = 0; i < r->n; i++) {
		const struct agent_redact_val *v = &r->v[i];
		size_t n = v->len <= avail ? v->len : avail;

		if (n <= best || n < AGENT_REDACT_MIN || in[0] != v->s[0])
			continue;
		if (memcmp(in, v->s, n) == 0)
			best = n;
	}
	return best;
}

/* agent_redact_head returns how many bytes at the start of in (inlen) are
 * the end of a value cut off by the start of the tail (0 if none). */
static size_t agent_redact_head(const agent_redact *r, const char *in, size_t inlen)
{
	size_t best = 0;

	for (size_t i = 0; i < r->n; i++) {
		const struct agent_redact_val *v = &r->v[i];
		size_t k = v->len - 1 < inlen ? v->len - 1 : inlen;

		for (; k >= AGENT_REDACT_MIN && k > best; k--) {
			if (in[0] == v->s[v->len - k] && memcmp(in, v->s + v->len - k, k) == 0) {
				best = k;
				break;
			}
		}
	}
	return best;
}

osp_err agent_redact_apply(const agent_redact *r, const char *in, char *out, size_t outlen)
{
	osp_fixbuf o = { .p = out, .len = outlen };
	size_t inlen, i = 0, m;

	if (out == NULL || outlen == 0)
		return OSP_EINVAL;
	out[0] = '\0';
	if (in == NULL)
		return OSP_OK;
	inlen = strlen(in);
	if (r == NULL || r->n == 0) {
		osp_fixbuf_put(&o, in, inlen);
		return o.cut ? OSP_ETOOBIG : OSP_OK;
	}
	if ((m = agent_redact_head(r, in, inlen)) > 0) {
		osp_fixbuf_put(&o, AGENT_REDACT_MARK, strlen(AGENT_REDACT_MARK));
		i = m;
	}
	while (i < inlen && !o.cut) {
		m = agent_redact_at(r, in + i, inlen - i);
		if (m > 0) {
			osp_fixbuf_put(&o, AGENT_REDACT_MARK, strlen(AGENT_REDACT_MARK));
			i += m;
		} else {
			osp_fixbuf_put(&o, in + i, 1);
			i++;
		}
	}
	return o.cut ? OSP_ETOOBIG : OSP_OK;
}

osp_err agent_redact_env_text(const char *path, char *text, size_t len, char *err,
	size_t errlen)
{
	agent_redact r;
	char *out = NULL;
	osp_err rv;

	if (path == NULL || text == NULL || len == 0)
		return OSP_OK;
	agent_redact_init(&r);
	rv = agent_redact_env_file(&r, path, err, errlen);
	if (rv != OSP_OK)
		goto out;
	if ((out = malloc(len)) == NULL) {
		snprintf(err, errlen, "out of memory");
		rv = OSP_ENOMEM;
		goto out;
	}
	/* a cut result is fine: the marks may be longer than the values */
	(void)agent_redact_apply(&r, text, out, len);
	memcpy(text, out, strlen(out) + 1);
out:
	free(out);
	agent_redact_fini(&r);
	return rv;
}
