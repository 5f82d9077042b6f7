/*
 * ospec_doc_map.c - the OSpec sections ospec acts on (docs/ospec.md, "What
 * ospec reads"): deployment (strategy, traffic_switching, health_checks;
 * a canary's blocks are read in ospec_doc_canary.c),
 * guardrails (rollback_timeout_minutes, health_check_retries,
 * human_approval_required), monitoring (health checks), secrets.required,
 * acceptance.http_endpoints (smoke checks) and environments.<env>. Every
 * other key is a warning; a wrong type for a key read here is an error.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ospec/checks.h"
#include "ospec/util.h"
#include "ospec_doc_int.h"

/* Priorities inside one scope (ospec_doc_int.h): the more specific key wins. */
enum {
	OSP_DOC_P_THRESHOLD = 1,     /* deployment.traffic_switching.rollback_threshold_seconds */
	OSP_DOC_P_HEALTH_URL = 1,    /* monitoring.health_check_url */
	OSP_DOC_P_HEALTH_MON = 2,    /* monitoring.health_checks */
	OSP_DOC_P_GUARD = 3,         /* guardrails.X */
	OSP_DOC_P_GUARD_DEP = 4,     /* guardrails.deployment.X */
	OSP_DOC_P_HEALTH_DEP = 5,    /* deployment.health_checks */
};

/* osp_doc_append adds ", item" to a list in buf (cut when full). */
static void osp_doc_append(char *buf, size_t len, const char *item)
{
	size_t off = strlen(buf);

	if (off + 1 < len)
		snprintf(buf + off, len - off, "%s%s", off ? ", " : "", item);
}

/* osp_doc_scope reads map n (an environment's block) with keys: into the
 * plan when the environment applies, else into scratch (errors only). */
static void osp_doc_scope(osp_doc_ctx *c, const osp_cfg_node *n, const char *path,
	bool applies, const osp_doc_key *keys)
{
	osp_doc_plan *p = c->p;
	osp_doc_prov *pv = c->pv;
	int base = c->base;
	bool quiet = c->quiet;

	if (!applies) {
		memset(c->scratch, 0, sizeof(*c->scratch));
		memset(&c->scratch_pv, 0, sizeof(c->scratch_pv));
		c->p = c->scratch;
		c->pv = &c->scratch_pv;
		c->quiet = true;
	}
	c->base = OSP_DOC_PRIO_ENV;
	osp_doc_walk(c, n, path, keys, false);
	c->p = p;
	c->pv = pv;
	c->base = base;
	c->quiet = quiet;
}

/* ---- deployment ---- */

/* osp_doc_strategy_hint names the strategy s was probably meant to be. */
static const char *osp_doc_strategy_hint(const char *s)
{
	static const char *const names[][2] = { { "rolling", "rolling" },
		{ "recreate", "recreate" }, { "bluegreen", "blue_green" }, { "canary", "canary" } };
	char k[32];
	size_t n = 0;

	for (; *s != '\0' && n + 1 < sizeof(k); s++)
		if (*s != '-' && *s != '_' && *s != ' ')
			k[n++] = (char)tolower((unsigned char)*s);
	k[n] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(k, names[i][0]) == 0)
			return names[i][1];
	return NULL;
}

static void osp_doc_strategy(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	const char *s, *hint;

	if (!osp_doc_str(c, n, path, 64, &s))
		return;
	if (strcmp(s, "feature_flags") == 0) {
		osp_doc_warn(c, n, path, "feature_flags: ospec does not switch feature flags "
			"(your flag service does); the code rolls out with the default strategy, "
			"rolling");
		return;
	}
	if (strcmp(s, "rolling") != 0 && strcmp(s, "recreate") != 0 &&
		strcmp(s, "blue_green") != 0 && strcmp(s, "canary") != 0) {
		hint = osp_doc_strategy_hint(s);
		osp_doc_err(c, n, path, "unknown strategy \"%s\": expected rolling, recreate, "
			"blue_green or canary%s%s%s", s, hint ? " (did you mean " : "", hint ? hint : "",
			hint ? "?)" : "");
		return;
	}
	if (osp_doc_claim(c, &c->pv->strategy, 1, path))
		osp_strlcpy(c->p->strategy, s, sizeof(c->p->strategy));
}

static void osp_doc_threshold(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	uint64_t s;

	if (osp_doc_u64(c, n, path, 0, 86400, &s) &&
		osp_doc_claim(c, &c->pv->watch, OSP_DOC_P_THRESHOLD, path))
		c->p->watch_ms = (int64_t)s * 1000;
}

static void osp_doc_validation_checks(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	char other[256] = "", sub[OSP_DOC_PATH_MAX];
	bool smoke = false, ok = true;
	const char *s;

	if (!osp_doc_list(c, n, path))
		return;
	for (size_t i = 0; i < n->n; i++) {
		osp_doc_join(sub, sizeof(sub), path, NULL, i);
		if (!osp_doc_str(c, n->items[i], sub, 128, &s)) {
			ok = false;
			continue;
		}
		if (strcmp(s, "health_check") == 0)
			osp_doc_notef(c, sub, "health checks on every node (ospec's default)");
		else if (strcmp(s, "smoke_tests") == 0)
			smoke = true;
		else
			osp_doc_append(other, sizeof(other), s);
	}
	if (other[0] != '\0')
		osp_doc_warn(c, n, path, "not acted on: %s (ospec runs health_check and "
			"smoke_tests)", other);
	if (ok && osp_doc_claim(c, &c->pv->smoke_on, 1, path))
		c->pv->smoke_on_val = smoke;
}

static void osp_doc_traffic(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	static const osp_doc_key keys[] = {
		{ "validation_checks", osp_doc_validation_checks, NULL },
		{ "rollback_threshold_seconds", osp_doc_threshold, NULL },
		{ NULL, NULL, NULL },
	};

	osp_doc_walk(c, n, path, keys, false);
}

bool osp_doc_url_path(const char *s, char *out, size_t len)
{
	const char *p = s, *q;

	if (p[0] == '$' && p[1] == '{') {
		q = strchr(p, '}');
		p = q != NULL ? q + 1 : "";
	} else if (p[0] == '$') {
		for (p++; isalnum((unsigned char)*p) || *p == '_'; p++)
			;
	} else if ((q = strstr(p, "://")) != NULL) {
		p = q + 3;
		p += strcspn(p, "/");
		if (*p == '\0')
			p = "/";
	}
	if (p[0] != '/')
		return false;
	for (q = p; *q != '\0'; q++)
		if ((unsigned char)*q <= 0x20 || *q == 0x7f)
			return false;
	return osp_strlcpy(out, p, len) < len;
}

/* One field of a health check: what its key sets. */
typedef enum osp_doc_hkey {
	OSP_DOC_H_PATH,
	OSP_DOC_H_INTERVAL_S,
	OSP_DOC_H_INTERVAL,
	OSP_DOC_H_TIMEOUT_S,
	OSP_DOC_H_TIMEOUT,
	OSP_DOC_H_FALL,
	OSP_DOC_H_RISE,
	OSP_DOC_H_STATUS,
	OSP_DOC_H_UNKNOWN,
} osp_doc_hkey;

static osp_doc_hkey osp_doc_hkey_of(const char *name)
{
	static const struct {
		const char *name;
		osp_doc_hkey k;
	} keys[] = {
		{ "endpoint", OSP_DOC_H_PATH }, { "http_endpoint", OSP_DOC_H_PATH },
		{ "path", OSP_DOC_H_PATH }, { "url", OSP_DOC_H_PATH },
		{ "interval_seconds", OSP_DOC_H_INTERVAL_S }, { "interval", OSP_DOC_H_INTERVAL },
		{ "timeout_seconds", OSP_DOC_H_TIMEOUT_S }, { "timeout", OSP_DOC_H_TIMEOUT },
		{ "retries", OSP_DOC_H_FALL }, { "retry_attempts", OSP_DOC_H_FALL },
		{ "failure_threshold", OSP_DOC_H_FALL }, { "fall", OSP_DOC_H_FALL },
		{ "success_threshold", OSP_DOC_H_RISE }, { "rise", OSP_DOC_H_RISE },
		{ "expected_status", OSP_DOC_H_STATUS },
	};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(name, keys[i].name) == 0)
			return keys[i].k;
	return OSP_DOC_H_UNKNOWN;
}

void osp_doc_health_field(osp_doc_ctx *c, const osp_cfg_node *n, const char *path,
	int prio, bool apply)
{
	osp_doc_hkey k = osp_doc_hkey_of(n->key);
	osp_doc_plan *p = c->p;
	osp_doc_prov *v = c->pv;
	char hp[sizeof(p->health_path)];
	const char *s;
	uint64_t u = 0;
	int64_t ms = 0;

	switch (k) {
	case OSP_DOC_H_PATH:
		if (!osp_doc_str(c, n, path, 1024, &s))
			return;
		if (!osp_doc_url_path(s, hp, sizeof(hp))) {
			osp_doc_err(c, n, path, "expected a path or a URL (/health, "
				"http://host:8080/health, ${APP_URL}/health)");
			return;
		}
		if (apply && osp_doc_claim(c, &v->health_path, prio, path))
			osp_strlcpy(p->health_path, hp, sizeof(p->health_path));
		return;
	case OSP_DOC_H_INTERVAL_S:
	case OSP_DOC_H_TIMEOUT_S:
		if (!osp_doc_u64(c, n, path, 1, 3600, &u))
			return;
		ms = (int64_t)u * 1000;
		break;
	case OSP_DOC_H_INTERVAL:
	case OSP_DOC_H_TIMEOUT:
		if (!osp_doc_duration(c, n, path, &ms))
			return;
		break;
	case OSP_DOC_H_FALL:
	case OSP_DOC_H_RISE:
		if (!osp_doc_u64(c, n, path, 1, 100, &u))
			return;
		break;
	case OSP_DOC_H_STATUS:
		if (osp_doc_u64(c, n, path, 100, 599, &u) && (u < 200 || u > 299))
			osp_doc_warn(c, n, path, "ospec's health check passes on any 2xx answer, "
				"not on %llu", (unsigned long long)u);
		else if (u != 0)
			osp_doc_notef(c, path, "any 2xx answer passes the health check");
		return;
	case OSP_DOC_H_UNKNOWN:
		osp_doc_warn(c, n, path, "not used by ospec");
		return;
	}
	if (!apply)
		return;
	if ((k == OSP_DOC_H_INTERVAL_S || k == OSP_DOC_H_INTERVAL) &&
		osp_doc_claim(c, &v->health_interval, prio, path))
		p->health_interval_ms = ms;
	if ((k == OSP_DOC_H_TIMEOUT_S || k == OSP_DOC_H_TIMEOUT) &&
		osp_doc_claim(c, &v->health_timeout, prio, path))
		p->health_timeout_ms = ms;
	if (k == OSP_DOC_H_FALL && osp_doc_claim(c, &v->health_fall, prio, path))
		p->health_fall = (uint32_t)u;
	if (k == OSP_DOC_H_RISE && osp_doc_claim(c, &v->health_rise, prio, path))
		p->health_rise = (uint32_t)u;
}

/* osp_doc_health reads health_checks: one map, or a list of maps of which
 * the first is used (ospec checks one path per app). */
static void osp_doc_health(osp_doc_ctx *c, const osp_cfg_node *n, const char *path, int prio)
{
	char sub[OSP_DOC_PATH_MAX], fld[OSP_DOC_PATH_MAX];

	if (n->kind == OSP_CFG_SCALAR && n->is_null)
		return;
	if (n->kind == OSP_CFG_MAP) {
		for (size_t i = 0; i < n->n; i++) {
			osp_doc_join(fld, sizeof(fld), path, n->items[i]->key, 0);
			osp_doc_health_field(c, n->items[i], fld, prio, true);
		}
		return;
	}
	if (n->kind != OSP_CFG_SEQ) {
		osp_doc_err(c, n, path, "expected a map (endpoint, interval_seconds, "
			"timeout_seconds, retries) or a list of them");
		return;
	}
	for (size_t i = 0; i < n->n; i++) {
		const osp_cfg_node *h = n->items[i];

		osp_doc_join(sub, sizeof(sub), path, NULL, i);
		if (!osp_doc_map(c, h, sub))
			continue;
		for (size_t j = 0; j < h->n; j++) {
			osp_doc_join(fld, sizeof(fld), sub, h->items[j]->key, 0);
			osp_doc_health_field(c, h->items[j], fld, prio, i == 0);
		}
		if (i > 0)
			osp_doc_warn(c, h, sub, "not checked: ospec checks one health path per "
				"app, the first (%s[0])", path);
	}
}

static void osp_doc_health_dep(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	osp_doc_health(c, n, path, OSP_DOC_P_HEALTH_DEP);
}

void osp_doc_deployment(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	static const osp_doc_key keys[] = {
		{ "strategy", osp_doc_strategy, NULL },
		{ "traffic_switching", osp_doc_traffic, NULL },
		{ "health_checks", osp_doc_health_dep, NULL },
		{ "canary_configuration", osp_doc_canary_conf, NULL },
		{ "analysis", osp_doc_analysis, NULL },
		{ "monitoring", osp_doc_dep_monitoring, NULL },
		{ "traffic_routing", NULL, "not used by ospec: a canary's share of the traffic is "
			"set by weight in each node's proxy; routing rules are not applied" },
		{ "progression_rules", NULL, "not used by ospec: a canary moves one step each "
			"analysis interval while its analysis passes" },
		{ "environments", NULL, "not used by ospec: environments are the top-level "
			"environments: (chosen with --env); blue-green's two slots are fleet.ports" },
		{ "configuration", NULL, "not used by ospec: the batch size is fleet.batch or "
			"fleet.stages[].batch" },
		{ "rollback", NULL, "not used by ospec: a node that fails its health checks "
			"during the deploy or the watch makes ospec roll back" },
		{ NULL, NULL, NULL },
	};

	osp_doc_walk(c, n, path, keys, false);
}

/* ---- guardrails ---- */

static void osp_doc_timeout(osp_doc_ctx *c, const osp_cfg_node *n, const char *path, int prio)
{
	uint64_t m;

	if (osp_doc_u64(c, n, path, 0, 1440, &m) && osp_doc_claim(c, &c->pv->watch, prio, path))
		c->p->watch_ms = (int64_t)m * 60 * 1000;
}

static void osp_doc_retries(osp_doc_ctx *c, const osp_cfg_node *n, const char *path, int prio)
{
	uint64_t r;

	if (osp_doc_u64(c, n, path, 1, 100, &r) &&
		osp_doc_claim(c, &c->pv->health_fall, prio, path))
		c->p->health_fall = (uint32_t)r;
}

static void osp_doc_timeout_g(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	osp_doc_timeout(c, n, path, OSP_DOC_P_GUARD);
}

static void osp_doc_timeout_gd(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	osp_doc_timeout(c, n, path, OSP_DOC_P_GUARD_DEP);
}

static void osp_doc_retries_g(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	osp_doc_retries(c, n, path, OSP_DOC_P_GUARD);
}

static void osp_doc_retries_gd(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	osp_doc_retries(c, n, path, OSP_DOC_P_GUARD_DEP);
}

static void osp_doc_gate_add(osp_doc_ctx *c, const char *key, const char *tag, bool sw)
{
	osp_doc_gate *g;

	if (c->pv->ngates >= OSP_DOC_MAX_GATES)
		return; /* the first stage is gated already */
	g = &c->pv->gates[c->pv->ngates++];
	osp_strlcpy(g->key, key, sizeof(g->key));
	osp_strlcpy(g->tag, tag, sizeof(g->tag));
	g->traffic_switch = sw;
}

/* osp_doc_tag sorts one human_approval_required tag: a deploy of this
 * environment (a gate), a deploy of another one (nothing), a deploy without
 * --env (noenv), or no deploy at all (other). */
static void osp_doc_tag(osp_doc_ctx *c, const char *path, const char *tag, char *noenv,
	char *other, size_t len)
{
	static const char *const suffix[] = { "", "_deploy", "_deployment", "_traffic_switch" };
	size_t tl = strlen(tag);
	char e[64];

	for (size_t k = 0; k < 4; k++) {
		size_t sl = strlen(suffix[k]);

		if (tl <= sl || tl - sl >= sizeof(e) || strcmp(tag + tl - sl, suffix[k]) != 0)
			continue;
		memcpy(e, tag, tl - sl);
		e[tl - sl] = '\0';
		if (k == 0 && !osp_doc_is_env_name(c, e))
			continue; /* a bare tag gates only when it names an environment */
		if (c->env[0] == '\0')
			osp_doc_append(noenv, len, tag);
		else if (strcmp(e, c->env) == 0)
			osp_doc_gate_add(c, path, tag, k == 3);
		else
			osp_doc_notef(c, path, "no gate: tag %s is for --env %s", tag, e);
		return;
	}
	osp_doc_append(other, len, tag);
}

static void osp_doc_approval(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	char sub[OSP_DOC_PATH_MAX], noenv[256] = "", other[256] = "";
	const char *tag;
	bool b;

	if (n->kind == OSP_CFG_SCALAR) {
		if (!osp_doc_bool(c, n, path, &b))
			return;
		if (b)
			osp_doc_gate_add(c, path, "true", false);
		else
			osp_doc_notef(c, path, "no gate");
		return;
	}
	if (n->kind != OSP_CFG_SEQ) {
		osp_doc_err(c, n, path, "expected true, false or a list of tags (production, "
			"production_deploy, ...), got a map");
		return;
	}
	for (size_t i = 0; i < n->n; i++) {
		osp_doc_join(sub, sizeof(sub), path, NULL, i);
		if (osp_doc_str(c, n->items[i], sub, 63, &tag))
			osp_doc_tag(c, path, tag, noenv, other, sizeof(noenv));
	}
	if (noenv[0] != '\0')
		osp_doc_warn(c, n, path, "no gate without --env: %s (a tag gates the deploy to "
			"its environment only)", noenv);
	if (other[0] != '\0')
		osp_doc_warn(c, n, path, "not acted on: %s (ospec gates deploys: ENV, ENV_deploy, "
			"ENV_deployment, ENV_traffic_switch)", other);
}

static void osp_doc_guardrails_dep(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	static const osp_doc_key keys[] = {
		{ "rollback_timeout_minutes", osp_doc_timeout_gd, NULL },
		{ "health_check_retries", osp_doc_retries_gd, NULL },
		{ "human_approval_required", osp_doc_approval, NULL },
		{ NULL, NULL, NULL },
	};

	osp_doc_walk(c, n, path, keys, false);
}

static void osp_doc_guardrails_other(osp_doc_ctx *c, const osp_cfg_node *n, const char *path);

static const osp_doc_key osp_doc_guardrails_keys[] = {
	{ "deployment", osp_doc_guardrails_dep, NULL },
	{ "rollback_timeout_minutes", osp_doc_timeout_g, NULL },
	{ "health_check_retries", osp_doc_retries_g, NULL },
	{ "human_approval_required", osp_doc_approval, NULL },
	{ "*", osp_doc_guardrails_other, NULL },
	{ NULL, NULL, NULL },
};

/* osp_doc_guardrails_other: guardrails.ENV (a map named after an
 * environment) holds that environment's guardrails; any other key is not
 * used by ospec. */
static void osp_doc_guardrails_other(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	if (n->kind != OSP_CFG_MAP || c->base != 0 || !osp_doc_is_env_name(c, n->key)) {
		osp_doc_warn(c, n, path, "not used by ospec");
		return;
	}
	if (c->env[0] == '\0')
		osp_doc_warn(c, n, path, "applies only with --env %s", n->key);
	osp_doc_scope(c, n, path, strcmp(n->key, c->env) == 0, osp_doc_guardrails_keys);
}

void osp_doc_guardrails(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	osp_doc_walk(c, n, path, osp_doc_guardrails_keys, false);
}

/* ---- monitoring ---- */

static void osp_doc_health_mon(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	osp_doc_health(c, n, path, OSP_DOC_P_HEALTH_MON);
}

static void osp_doc_health_url(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	char hp[sizeof(c->p->health_path)];
	const char *s;

	if (!osp_doc_str(c, n, path, 1024, &s))
		return;
	if (!osp_doc_url_path(s, hp, sizeof(hp))) {
		osp_doc_err(c, n, path, "expected a URL or a path (http://host:8080/health, "
			"${APP_URL}/health, /health)");
		return;
	}
	if (osp_doc_claim(c, &c->pv->health_path, OSP_DOC_P_HEALTH_URL, path))
		osp_strlcpy(c->p->health_path, hp, sizeof(c->p->health_path));
}

void osp_doc_monitoring(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	static const osp_doc_key keys[] = {
		{ "alerting", osp_doc_alerting, NULL },
		{ "health_checks", osp_doc_health_mon, NULL },
		{ "health_check_url", osp_doc_health_url, NULL },
		{ "success_criteria", osp_doc_success_mon, NULL },
		{ "failure_criteria", NULL, "not used by ospec: a canary is reset after "
			"--analysis-threshold failed analyses against the success criteria" },
		{ NULL, NULL, NULL },
	};

	osp_doc_walk(c, n, path, keys, false);
}

/* ---- secrets ---- */

static void osp_doc_secrets_required(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	osp_doc_plan *p = c->p;
	char sub[OSP_DOC_PATH_MAX];
	const char *s;
	bool dup;

	if (n->kind == OSP_CFG_SCALAR && n->is_null)
		return;
	if (!osp_doc_list(c, n, path))
		return;
	for (size_t i = 0; i < n->n; i++) {
		osp_doc_join(sub, sizeof(sub), path, NULL, i);
		if (!osp_doc_str(c, n->items[i], sub, sizeof(p->secrets[0]) - 1, &s))
			continue;
		if (!osp_checks_env_name(s)) {
			osp_doc_err(c, n->items[i], sub, "expected a secret's name "
				"([A-Za-z_][A-Za-z0-9_]*), got \"%s\"", s);
			continue;
		}
		dup = false;
		for (size_t k = 0; k < p->nsecrets && !dup; k++)
			dup = strcmp(p->secrets[k], s) == 0;
		if (dup)
			continue;
		if (p->nsecrets >= OSP_DOC_MAX_SECRETS) {
			osp_doc_err(c, n->items[i], sub, "more than %d secrets", OSP_DOC_MAX_SECRETS);
			return;
		}
		osp_strlcpy(p->secrets[p->nsecrets++], s, sizeof(p->secrets[0]));
	}
}

void osp_doc_secrets(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	static const osp_doc_key keys[] = {
		{ "required", osp_doc_secrets_required, NULL },
		{ "optional", NULL, "not checked: only secrets.required is checked on the hosts" },
		{ "provider", NULL, "not used by ospec: the agents look the names up in each "
			"app's environment (env_file in the agent's config)" },
		{ NULL, NULL, NULL },
	};

	osp_doc_walk(c, n, path, keys, false);
}

/* ---- acceptance.http_endpoints: smoke checks ---- */

/* osp_doc_smoke_check checks the endpoint with the rules the agent applies
 * (osp_checks_smoke); the error is placed at the part that is wrong. */
static bool osp_doc_smoke_check(osp_doc_ctx *c, const osp_cfg_node *e, const char *path,
	const osp_doc_smoke *sm)
{
	const char *part = NULL;
	char err[256], sub[OSP_DOC_PATH_MAX];

	if (osp_checks_smoke(sm->method, sm->path, sm->status, err, sizeof(err)) == OSP_OK) {
		if (strchr(sm->path, ';') == NULL)
			return true;
		/* the checks travel to the coordinator separated by ';' (deploy --smoke) */
		snprintf(err, sizeof(err), "path '%s': a smoke check's path may not hold ';'",
			sm->path);
	}
	if (strncmp(err, "method", 6) == 0)
		part = "method";
	else if (strncmp(err, "path", 4) == 0)
		part = "path";
	osp_doc_join(sub, sizeof(sub), path, part, 0);
	osp_doc_err(c, part ? osp_cfg_get(e, part) : e, part ? sub : path, "%s", err);
	return false;
}

/* osp_doc_endpoint reads one endpoint into *sm; false if it has an error or
 * is not run as a smoke check (a warning says why). */
static bool osp_doc_endpoint(osp_doc_ctx *c, const osp_cfg_node *e, const char *path,
	osp_doc_smoke *sm)
{
	const osp_cfg_node *pn = osp_cfg_get(e, "path"), *mn = osp_cfg_get(e, "method");
	const osp_cfg_node *sn = osp_cfg_get(e, "status"), *xn = osp_cfg_get(e, "expected_status");
	const osp_cfg_node *an = osp_cfg_get(e, "auth_required");
	char sub[OSP_DOC_PATH_MAX], other[160] = "";
	const char *s;
	uint64_t st = 200;
	bool auth = false, ok = true;

	if (!osp_doc_map(c, e, path))
		return false;
	osp_doc_join(sub, sizeof(sub), path, "path", 0);
	if (pn == NULL) {
		osp_doc_err(c, e, sub, "required: the path to request, starting with '/'");
		ok = false;
	} else if (osp_doc_str(c, pn, sub, sizeof(sm->path) - 1, &s)) {
		osp_strlcpy(sm->path, s, sizeof(sm->path));
	} else {
		ok = false;
	}
	osp_strlcpy(sm->method, "GET", sizeof(sm->method));
	osp_doc_join(sub, sizeof(sub), path, "method", 0);
	if (mn != NULL && osp_doc_str(c, mn, sub, sizeof(sm->method) - 1, &s)) {
		osp_strlcpy(sm->method, s, sizeof(sm->method));
		for (char *q = sm->method; *q != '\0'; q++)
			*q = (char)toupper((unsigned char)*q);
	} else if (mn != NULL) {
		ok = false;
	}
	if (sn != NULL && xn != NULL) {
		osp_doc_err(c, xn, path, "give status or expected_status, not both");
		ok = false;
	}
	osp_doc_join(sub, sizeof(sub), path, sn ? "status" : "expected_status", 0);
	if ((sn || xn) && !osp_doc_u64(c, sn ? sn : xn, sub, 100, 599, &st))
		ok = false;
	sm->status = (uint32_t)st;
	osp_doc_join(sub, sizeof(sub), path, "auth_required", 0);
	if (an != NULL && !osp_doc_bool(c, an, sub, &auth))
		ok = false;
	if (!ok || !osp_doc_smoke_check(c, e, path, sm))
		return false;
	/* a smoke check runs on every node of a live fleet, without a body or
	 * credentials: only requests that change nothing and need nothing */
	if (strcmp(sm->method, "GET") != 0 && strcmp(sm->method, "HEAD") != 0 &&
		strcmp(sm->method, "OPTIONS") != 0) {
		osp_doc_warn(c, e, path, "%s %s is not run as a smoke check (only GET, HEAD and "
			"OPTIONS: others change state or need a body)", sm->method, sm->path);
		return false;
	}
	if (strpbrk(sm->path, "{}") != NULL) {
		osp_doc_warn(c, e, path, "%s is not run as a smoke check (a placeholder in the "
			"path)", sm->path);
		return false;
	}
	if (auth) {
		osp_doc_warn(c, e, path, "%s is not run as a smoke check (auth_required: a smoke "
			"check sends no credentials)", sm->path);
		return false;
	}
	for (size_t i = 0; i < e->n; i++) {
		const char *k = e->items[i]->key;
		if (strcmp(k, "path") && strcmp(k, "method") && strcmp(k, "status") &&
			strcmp(k, "expected_status") && strcmp(k, "auth_required"))
			osp_doc_append(other, sizeof(other), k);
	}
	if (other[0] != '\0')
		osp_doc_warn(c, e, path, "only the status is checked; not acted on: %s", other);
	return true;
}

static void osp_doc_endpoints(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	osp_doc_smoke sm[OSP_DOC_MAX_SMOKE], one;
	char sub[OSP_DOC_PATH_MAX];
	size_t ns = 0;

	if (n->kind == OSP_CFG_SCALAR && n->is_null)
		return;
	if (!osp_doc_list(c, n, path))
		return;
	for (size_t i = 0; i < n->n; i++) {
		osp_doc_join(sub, sizeof(sub), path, NULL, i);
		memset(&one, 0, sizeof(one));
		if (!osp_doc_endpoint(c, n->items[i], sub, &one))
			continue;
		if (ns == OSP_DOC_MAX_SMOKE) {
			osp_doc_warn(c, n->items[i], sub, "not run: at most %d smoke checks",
				OSP_DOC_MAX_SMOKE);
			continue;
		}
		sm[ns++] = one;
	}
	if (osp_doc_claim(c, &c->pv->smoke, 1, path)) {
		c->pv->smoke_node = n;
		memcpy(c->p->smoke, sm, ns * sizeof(sm[0]));
		c->p->nsmoke = ns;
	}
}

void osp_doc_acceptance(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	static const osp_doc_key keys[] = {
		{ "http_endpoints", osp_doc_endpoints, NULL },
		{ NULL, NULL, NULL },
	};

	osp_doc_walk(c, n, path, keys, false);
}

/* ---- environments ---- */

void osp_doc_environments(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	static const osp_doc_key keys[] = {
		{ "deployment", osp_doc_deployment, NULL },
		{ "guardrails", osp_doc_guardrails, NULL },
		{ "monitoring", osp_doc_monitoring, NULL },
		{ "secrets", osp_doc_secrets, NULL },
		{ "acceptance", osp_doc_acceptance, NULL },
		{ "fleet", NULL, "not used by ospec: fleet: is read at the top of the document only" },
		{ "multi_region", NULL, "not used by ospec: multi_region: is read at the top of "
			"the document only" },
		{ NULL, NULL, NULL },
	};
	char sub[OSP_DOC_PATH_MAX], names[160] = "";

	if (n->kind == OSP_CFG_SCALAR && n->is_null)
		return;
	if (!osp_doc_map(c, n, path))
		return;
	for (size_t i = 0; i < n->n; i++)
		osp_doc_append(names, sizeof(names), n->items[i]->key);
	if (c->env[0] == '\0' && n->n > 0)
		osp_doc_warn(c, n, path, "applies only with --env (%s)", names);
	for (size_t i = 0; i < n->n; i++) {
		const osp_cfg_node *e = n->items[i];

		osp_doc_join(sub, sizeof(sub), path, e->key, 0);
		if (e->kind == OSP_CFG_SCALAR && e->is_null)
			continue;
		if (osp_doc_map(c, e, sub))
			osp_doc_scope(c, e, sub, strcmp(e->key, c->env) == 0, keys);
	}
}
