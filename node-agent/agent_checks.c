/*
 * agent_checks.c - env names of the apps' env files, the Stage's required
 * names and its smoke checks (agent_checks.h).
 */
#include "agent_checks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_apps.h"
#include "agent_health.h"
#include "agent_regfile.h"
#include "agent_runner.h"
#include "ospec/checks.h"

/* The names an env file defines, pointing into its text. */
typedef struct agent_env_keys {
	char *text;   /* the whole file, values too: wiped before it is freed */
	size_t len;
	char **v;     /* sorted, unique */
	size_t n;
} agent_env_keys;

static void agent_env_keys_fini(agent_env_keys *k)
{
	if (k->text != NULL)
		explicit_bzero(k->text, k->len);
	free(k->text);
	free(k->v);
	memset(k, 0, sizeof(*k));
}

static int agent_checks_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* agent_env_keys_read reads the names path defines into *k (zeroed first;
 * agent_env_keys_fini frees it, also after an error): every line the runner
 * would pass to the app, by the runner's own splitting. */
static osp_err agent_env_keys_read(const char *path, agent_env_keys *k, char *why, size_t whylen)
{
	char *line, *nl, *key = NULL, *val = NULL;
	size_t vlen = 0, cap = 1, n = 0;
	osp_err rv;

	memset(k, 0, sizeof(*k));
	rv = agent_regfile_read(path, AGENT_RUNNER_ENV_FILE_MAX, &k->text, &k->len, why, whylen);
	if (rv != OSP_OK)
		return rv;
	for (const char *c = k->text; *c != '\0'; c++)
		cap += *c == '\n';
	if ((k->v = calloc(cap, sizeof(*k->v))) == NULL) {
		snprintf(why, whylen, "out of memory");
		return OSP_ENOMEM;
	}
	for (line = k->text; line != NULL; line = nl) {
		if ((nl = strchr(line, '\n')) != NULL)
			*nl++ = '\0';
		/* what the runner refuses or sets itself is no name of the file */
		if (agent_runner_env_split(line, &key, &val, &vlen) <= 0 ||
			agent_runner_env_reserved(key) || !osp_checks_env_key(key))
			continue;
		k->v[k->n++] = key;
	}
	qsort(k->v, k->n, sizeof(*k->v), agent_checks_cmp);
	for (size_t i = 0; i < k->n; i++)
		if (n == 0 || strcmp(k->v[n - 1], k->v[i]) != 0)
			k->v[n++] = k->v[i];
	k->n = n;
	return OSP_OK;
}

osp_err agent_checks_env_names(const char *path, agent_env_names *out, agent_env_budget *budget,
	char *why, size_t whylen)
{
	agent_env_keys k;
	osp_err rv;

	memset(out, 0, sizeof(*out));
	if ((rv = agent_env_keys_read(path, &k, why, whylen)) != OSP_OK)
		goto out;
	for (size_t i = 0; i < k.n; i++) {
		size_t len = strlen(k.v[i]);

		if (len > OSP_WIRE_MAX_ENV_NAME || out->n >= OSP_WIRE_MAX_ENV_NAMES ||
			(budget != NULL && (budget->names == 0 || budget->bytes < len))) {
			out->cut = true;
			continue;
		}
		out->v[out->n++] = memcpy(out->buf + out->used, k.v[i], len + 1);
		out->used += len + 1;
		if (budget != NULL) {
			budget->names--;
			budget->bytes -= len;
		}
	}
out:
	agent_env_keys_fini(&k);
	return rv;
}

bool agent_checks_env_report(const agent_cfg *cfg, const char *app, agent_env_names *out,
	agent_env_budget *budget)
{
	const agent_app_cfg *ac = agent_cfg_app(cfg, app);
	char why[256];

	memset(out, 0, sizeof(*out));
	if (ac == NULL || ac->env_file == NULL)
		return false;
	/* unreadable: nothing to report (the runner says why when it starts
	 * the app; a line per heartbeat here would say it every few seconds) */
	if (agent_checks_env_names(ac->env_file, out, budget, why, sizeof(why)) != OSP_OK)
		memset(out, 0, sizeof(*out));
	return true;
}

void agent_checks_env_put(Ospec__V1__AppState *st, char **names, char *text,
	const agent_env_names *env)
{
	if (env == NULL || (env->n == 0 && !env->cut))
		return;
	memcpy(text, env->buf, env->used);
	for (size_t i = 0; i < env->n; i++)
		names[i] = text + (env->v[i] - env->buf);
	st->n_env_names = env->n;
	st->env_names = env->n > 0 ? names : NULL;
	st->has_env_names_cut = env->cut;
	st->env_names_cut = env->cut;
}

bool agent_checks_stage_env(agent_apps *p, const Ospec__V1__Stage *s,
	Ospec__V1__CommandResult *res, char *msg, size_t msglen)
{
	const agent_app_cfg *ac = agent_cfg_app(p->cfg, s->app);
	const char *node = p->cfg->id != NULL ? p->cfg->id : "this node";
	char missing[1024], why[256];
	agent_env_keys k = { 0 };
	osp_err rv;

	if (s->n_require_env == 0)
		return true;
	if (ac == NULL || ac->env_file == NULL) {
		osp_checks_env_missing(NULL, 0, s->require_env, s->n_require_env, missing,
			sizeof(missing));
		snprintf(msg, msglen,
			"required secrets missing: %s lacks %s (app %s has no env_file)", node,
			missing, s->app);
		goto fail;
	}
	rv = agent_env_keys_read(ac->env_file, &k, why, sizeof(why));
	if (rv != OSP_OK) {
		snprintf(msg, msglen, "required secrets: cannot read app %s's env_file '%s': %s",
			s->app, ac->env_file, why);
		goto fail;
	}
	if (osp_checks_env_missing(k.v, k.n, s->require_env, s->n_require_env, missing,
		    sizeof(missing)) == 0) {
		agent_env_keys_fini(&k);
		return true;
	}
	snprintf(msg, msglen, "required secrets missing: %s lacks %s (app %s's env_file)", node,
		missing, s->app);
fail:
	agent_env_keys_fini(&k);
	OSP_WARN("AGENT-APP-SECRETS", "app '%s': %s", s->app, msg);
	res->status = AGENT_RES_FAILED;
	res->message = msg;
	return false;
}

osp_err agent_checks_smoke(Ospec__V1__SmokeCheck *const *v, size_t n, unsigned port,
	int64_t timeout_ms, char *why, size_t whylen)
{
	char err[512];
	long code = 0;
	osp_err rv;

	for (size_t i = 0; i < n; i++) {
		const Ospec__V1__SmokeCheck *sc = v[i];
		agent_health_spec hs = { .port = port, .path = sc->path, .timeout_ms = timeout_ms };

		rv = agent_health_probe(&hs, sc->method, &code, err, sizeof(err));
		if (rv != OSP_OK) {
			snprintf(why, whylen, "smoke check %s %s: %s", sc->method, sc->path, err);
			return rv;
		}
		if (code != (long)sc->status) {
			snprintf(why, whylen, "smoke check %s %s: expected %u, got %ld", sc->method,
				sc->path, sc->status, code);
			return OSP_EREFUSED;
		}
	}
	return OSP_OK;
}

osp_err agent_checks_stage_verify(agent_apps *p, const Ospec__V1__Stage *s, const char *slot,
	bool fresh, struct agent_health_spec *hs, char *msg, size_t msglen)
{
	char why[1024];
	osp_err rv = agent_apps_check_slot(p, s->app, slot, fresh, hs, msg, msglen);

	if (rv != OSP_OK || s->n_smoke == 0)
		return rv;
	rv = agent_checks_smoke(s->smoke, s->n_smoke, hs->port, hs->timeout_ms, why, sizeof(why));
	if (rv != OSP_OK) {
		OSP_WARN("AGENT-APP-SMOKE", "app '%s' slot '%s': %s", s->app, slot, why);
		agent_apps_fail_reason(p, s->app, slot, why, msg, msglen);
		return rv;
	}
	OSP_INFO("AGENT-APP-SMOKE", "app '%s' slot '%s': %zu smoke check%s passed", s->app, slot,
		s->n_smoke, s->n_smoke == 1 ? "" : "s");
	return OSP_OK;
}
