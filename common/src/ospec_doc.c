/*
 * ospec_doc.c - OSpec documents as plans (ospec/ospec_doc.h, docs/ospec.md):
 * the findings, the walk over a map with a table of keys, the typed reads
 * that turn cfg's located errors into findings, parse and load, and the last
 * step that places the approval gates and writes the notes of the values
 * that won. The sections are read in ospec_doc_map.c (OSpec's own) and
 * ospec_doc_fleet.c (fleet:, multi_region, the stages).
 */
#include "ospec/ospec_doc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ospec/cfg.h"
#include "ospec/util.h"
#include "ospec_doc_int.h"

#define OSP_DOC_MAX_BYTES ((size_t)4 * 1024 * 1024)
#define OSP_DOC_MAX_FINDINGS 1000 /* more are counted, not kept */

/* osp_doc_push appends one finding; past OSP_DOC_MAX_FINDINGS it is only
 * counted (osp_doc_findings_print says how many were left out). */
static osp_err osp_doc_push(osp_doc_findings *f, bool error, int line, int col,
	const char *path, const char *msg)
{
	osp_doc_finding *x;

	if (error)
		f->errors++;
	else
		f->warnings++;
	if (f->n >= OSP_DOC_MAX_FINDINGS)
		return OSP_OK;
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 16;
		osp_doc_finding *v = realloc(f->v, cap * sizeof(*v));
		if (v == NULL)
			return OSP_ENOMEM;
		f->v = v;
		f->cap = cap;
	}
	x = &f->v[f->n++];
	x->error = error;
	x->line = line;
	x->col = col;
	/* what the document says is shown escaped: a finding is one line */
	osp_str_show(path, x->path, sizeof(x->path));
	osp_str_show(msg, x->msg, sizeof(x->msg));
	return OSP_OK;
}

static void osp_doc_vadd(osp_doc_ctx *c, bool error, int line, int col, const char *path,
	const char *fmt, va_list ap)
{
	char msg[sizeof(((osp_doc_finding *)0)->msg)];

	if (!error && c->quiet)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (osp_doc_push(c->f, error, line, col, path, msg) != OSP_OK)
		c->oom = OSP_ENOMEM;
}

void osp_doc_add(osp_doc_ctx *c, bool error, int line, int col, const char *path,
	const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	osp_doc_vadd(c, error, line, col, path, fmt, ap);
	va_end(ap);
}

void osp_doc_err(osp_doc_ctx *c, const osp_cfg_node *n, const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	osp_doc_vadd(c, true, n ? n->line : 0, n ? n->col : 0, path, fmt, ap);
	va_end(ap);
}

void osp_doc_warn(osp_doc_ctx *c, const osp_cfg_node *n, const char *path, const char *fmt, ...)
{
	va_list ap;
	int line = 0, col = 0;

	if (n != NULL) {
		line = n->key ? n->key_line : n->line;
		col = n->key ? n->key_col : n->col;
	}
	va_start(ap, fmt);
	osp_doc_vadd(c, false, line, col, path, fmt, ap);
	va_end(ap);
}

void osp_doc_notef(osp_doc_ctx *c, const char *key, const char *fmt, ...)
{
	osp_doc_note *x;
	va_list ap;

	if (c->quiet || c->plan->nnotes >= OSP_DOC_MAX_NOTES)
		return;
	x = &c->plan->notes[c->plan->nnotes++];
	osp_strlcpy(x->key, key, sizeof(x->key));
	va_start(ap, fmt);
	vsnprintf(x->became, sizeof(x->became), fmt, ap);
	va_end(ap);
}

void osp_doc_join(char *buf, size_t len, const char *parent, const char *key, size_t i)
{
	if (key == NULL)
		snprintf(buf, len, "%s[%zu]", parent, i);
	else if (parent[0] != '\0')
		snprintf(buf, len, "%s.%s", parent, key);
	else
		snprintf(buf, len, "%s", key);
}

/* osp_doc_got describes a node for "got ..." in messages. */
void osp_doc_got(const osp_cfg_node *n, char *buf, size_t len)
{
	char v[52];

	if (n == NULL || (n->kind == OSP_CFG_SCALAR && n->is_null))
		osp_strlcpy(buf, "nothing", len);
	else if (n->kind != OSP_CFG_SCALAR)
		osp_strlcpy(buf, n->kind == OSP_CFG_MAP ? "a map" : "a list", len);
	else
		snprintf(buf, len, "\"%s\"", osp_str_show(n->value, v, sizeof(v)));
}

/* osp_doc_lookup finds name in a table: an exact entry, else the "*" entry
 * (any other key), else NULL. */
static const osp_doc_key *osp_doc_lookup(const osp_doc_key *keys, const char *name)
{
	const osp_doc_key *any = NULL;

	for (const osp_doc_key *k = keys; k->name != NULL; k++) {
		if (strcmp(k->name, name) == 0)
			return k;
		if (strcmp(k->name, "*") == 0)
			any = k;
	}
	return any;
}

/* osp_doc_unknown is an unknown key of a strict map: an error naming the
 * keys it may have. */
static void osp_doc_unknown(osp_doc_ctx *c, const osp_cfg_node *n, const char *path,
	const osp_doc_key *keys)
{
	char names[256] = "";
	size_t off = 0;

	for (const osp_doc_key *k = keys; k->name != NULL && off < sizeof(names); k++)
		off += (size_t)snprintf(names + off, sizeof(names) - off, "%s%s",
			off ? ", " : "", k->name);
	osp_doc_add(c, true, n->key_line, n->key_col, path, "unknown key (expected one of: %s)",
		names);
}

void osp_doc_walk(osp_doc_ctx *c, const osp_cfg_node *map, const char *path,
	const osp_doc_key *keys, bool strict)
{
	char sub[OSP_DOC_PATH_MAX];

	if (map->kind == OSP_CFG_SCALAR && map->is_null)
		return; /* "section:" with nothing in it */
	if (!osp_doc_map(c, map, path))
		return;
	for (size_t i = 0; i < map->n; i++) {
		const osp_cfg_node *n = map->items[i];
		const osp_doc_key *k = osp_doc_lookup(keys, n->key);

		osp_doc_join(sub, sizeof(sub), path, n->key, 0);
		if (k != NULL && k->fn != NULL)
			k->fn(c, n, sub);
		else if (k != NULL && k->ignored[0] != '\0')
			osp_doc_warn(c, n, sub, "%s", k->ignored);
		else if (k == NULL && strict)
			osp_doc_unknown(c, n, sub, keys);
		else if (k == NULL)
			osp_doc_warn(c, n, sub, "not used by ospec");
	}
}

/* osp_doc_want: n is of kind (a map or a list), else an error naming path. */
static bool osp_doc_want(osp_doc_ctx *c, const osp_cfg_node *n, const char *path,
	osp_cfg_kind kind)
{
	char got[64];

	if (n != NULL && n->kind == kind)
		return true;
	osp_doc_got(n, got, sizeof(got));
	osp_doc_err(c, n, path, "expected %s, got %s", kind == OSP_CFG_MAP ? "a map" : "a list",
		got);
	return false;
}

bool osp_doc_map(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	return osp_doc_want(c, n, path, OSP_CFG_MAP);
}

bool osp_doc_list(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	return osp_doc_want(c, n, path, OSP_CFG_SEQ);
}

/* osp_doc_cfg_fail turns the message of a cfg typed read ("file:line:col:
 * path: expected ..., got ...") into an error finding at n. */
static bool osp_doc_cfg_fail(osp_doc_ctx *c, const osp_cfg_node *n, const char *path,
	const char *err)
{
	char pre[512];
	size_t l;

	if (n != NULL)
		snprintf(pre, sizeof(pre), "%s:%d:%d: %s: ", c->doc->file, n->line, n->col, path);
	else
		snprintf(pre, sizeof(pre), "%s: %s: ", c->doc->file, path);
	l = strlen(pre);
	osp_doc_err(c, n, path, "%s", strncmp(err, pre, l) == 0 ? err + l : err);
	return false;
}

bool osp_doc_str(osp_doc_ctx *c, const osp_cfg_node *n, const char *path, size_t maxlen,
	const char **out)
{
	char err[768];

	if (osp_cfg_str(c->doc, n, path, maxlen, out, err, sizeof(err)) != OSP_OK)
		return osp_doc_cfg_fail(c, n, path, err);
	return true;
}

bool osp_doc_u64(osp_doc_ctx *c, const osp_cfg_node *n, const char *path, uint64_t min,
	uint64_t max, uint64_t *out)
{
	char err[768];

	if (osp_cfg_u64(c->doc, n, path, min, max, out, err, sizeof(err)) != OSP_OK)
		return osp_doc_cfg_fail(c, n, path, err);
	return true;
}

bool osp_doc_bool(osp_doc_ctx *c, const osp_cfg_node *n, const char *path, bool *out)
{
	char err[768];

	if (osp_cfg_bool(c->doc, n, path, out, err, sizeof(err)) != OSP_OK)
		return osp_doc_cfg_fail(c, n, path, err);
	return true;
}

bool osp_doc_duration(osp_doc_ctx *c, const osp_cfg_node *n, const char *path, int64_t *ms)
{
	char err[768];

	if (osp_cfg_duration(c->doc, n, path, ms, err, sizeof(err)) != OSP_OK)
		return osp_doc_cfg_fail(c, n, path, err);
	return true;
}

bool osp_doc_claim(osp_doc_ctx *c, osp_doc_src *src, int prio, const char *key)
{
	prio += c->base;
	if (src->prio > prio) {
		osp_doc_notef(c, key, "nothing: %s wins", src->key);
		return false;
	}
	if (src->prio > 0 && strcmp(src->key, key) != 0)
		osp_doc_notef(c, src->key, "nothing: %s wins", key);
	src->prio = prio;
	osp_strlcpy(src->key, key, sizeof(src->key));
	return true;
}

bool osp_doc_is_env_name(const osp_doc_ctx *c, const char *name)
{
	static const char *const common[] = { "development", "staging", "production" };

	if (c->env[0] != '\0' && strcmp(name, c->env) == 0)
		return true;
	if (osp_cfg_get(c->envs, name) != NULL)
		return true;
	for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++)
		if (strcmp(name, common[i]) == 0)
			return true;
	return false;
}

static void osp_doc_plan_init(osp_doc_plan *plan, const char *env)
{
	memset(plan, 0, sizeof(*plan));
	if (env != NULL && strlen(env) < sizeof(plan->env))
		osp_strlcpy(plan->env, env, sizeof(plan->env));
	plan->watch_ms = -1;
	plan->health_interval_ms = -1;
	plan->health_timeout_ms = -1;
	plan->analysis_interval_ms = -1;
	plan->analysis_max_latency_ms = -1;
}

/* osp_doc_gates places each gate human_approval_required asked for: before
 * the traffic switch of a blue-green rollout (a canary's promotion, the full
 * switch after its last weight), else before the first stage. */
static void osp_doc_gates(osp_doc_ctx *c)
{
	osp_doc_plan *p = c->plan;
	bool bg = osp_doc_slotted(p->strategy);
	bool canary = strcmp(p->strategy, "canary") == 0;

	for (size_t i = 0; i < c->prov.ngates; i++) {
		const osp_doc_gate *g = &c->prov.gates[i];
		const char *what = strcmp(g->tag, "true") == 0 ? "" : "tag ";

		if (g->traffic_switch && bg) {
			if (!p->switch_approval)
				snprintf(p->switch_approval_why, sizeof(p->switch_approval_why),
					"%s: %s", g->key, g->tag);
			p->switch_approval = true;
			osp_doc_notef(c, g->key, "gate before the %s (tag %s)", canary ?
				"promotion after the last canary weight" : "traffic switch", g->tag);
			continue;
		}
		if (!p->stages[0].approval)
			snprintf(p->stages[0].approval_why, sizeof(p->stages[0].approval_why),
				"%s: %s", g->key, g->tag);
		p->stages[0].approval = true;
		if (g->traffic_switch)
			osp_doc_notef(c, g->key, "gate before stage %s (tag %s: %s has no traffic "
				"switch)", p->stages[0].name, g->tag,
				p->strategy[0] ? p->strategy : "rolling");
		else
			osp_doc_notef(c, g->key, "gate before stage %s (%s%s)", p->stages[0].name,
				what, g->tag);
	}
}

/* osp_doc_smoke_note lists the smoke checks in one note. */
static void osp_doc_smoke_note(osp_doc_ctx *c)
{
	osp_doc_plan *p = c->plan;
	char list[192];
	size_t off = 0;

	if (c->prov.smoke_on.prio > 0 && !c->prov.smoke_on_val) {
		if (p->nsmoke > 0)
			osp_doc_warn(c, c->prov.smoke_node, c->prov.smoke.key, "not run as smoke "
				"checks: %s does not list smoke_tests", c->prov.smoke_on.key);
		p->nsmoke = 0;
		return;
	}
	for (size_t i = 0; i < p->nsmoke && off < sizeof(list); i++)
		off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s %s %u",
			i ? ", " : "", p->smoke[i].method, p->smoke[i].path, p->smoke[i].status);
	if (p->nsmoke > 0)
		osp_doc_notef(c, c->prov.smoke.key, "smoke checks: %s", list);
}

/* osp_doc_winners notes what each key that set a value became. */
static void osp_doc_winners(osp_doc_ctx *c)
{
	const osp_doc_prov *v = &c->prov;
	const osp_doc_plan *p = c->plan;
	char d[32];

	if (v->strategy.prio > 0)
		osp_doc_notef(c, v->strategy.key, "--strategy %s", p->strategy);
	if (v->watch.prio > 0) {
		osp_duration_fmt(p->watch_ms, d, sizeof(d));
		osp_doc_notef(c, v->watch.key, "--watch %s", d);
	}
	if (v->health_path.prio > 0)
		osp_doc_notef(c, v->health_path.key, "--health-path %s", p->health_path);
	if (v->health_interval.prio > 0) {
		osp_duration_fmt(p->health_interval_ms, d, sizeof(d));
		osp_doc_notef(c, v->health_interval.key, "--health-interval %s", d);
	}
	if (v->health_timeout.prio > 0) {
		osp_duration_fmt(p->health_timeout_ms, d, sizeof(d));
		osp_doc_notef(c, v->health_timeout.key, "--health-timeout %s", d);
	}
	if (v->health_fall.prio > 0)
		osp_doc_notef(c, v->health_fall.key, "--health-fall %u", p->health_fall);
	if (v->health_rise.prio > 0)
		osp_doc_notef(c, v->health_rise.key, "--health-rise %u", p->health_rise);
}

static void osp_doc_secrets_note(osp_doc_ctx *c)
{
	const osp_doc_plan *p = c->plan;
	char list[192];
	size_t off = 0;

	for (size_t i = 0; i < p->nsecrets && off < sizeof(list); i++)
		off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s", i ? ", " : "",
			p->secrets[i]);
	if (p->nsecrets > 0)
		osp_doc_notef(c, "secrets.required", "checked on every target host before any "
			"stage: %s", list);
}

/* osp_doc_ports checks the ports against the strategy. */
static void osp_doc_ports(osp_doc_ctx *c)
{
	const osp_cfg_node *fleet = osp_cfg_get(c->doc->root, "fleet");
	const osp_doc_plan *p = c->plan;
	bool bg = osp_doc_slotted(p->strategy);

	if (bg && p->port != 0 && p->blue_port == 0)
		osp_doc_err(c, osp_cfg_get(fleet, "port"), "fleet.port",
			"%s needs two ports: fleet.ports {blue: N, green: M}", p->strategy);
	if (!bg && p->strategy[0] != '\0' && p->blue_port != 0 && p->port == 0)
		osp_doc_warn(c, osp_cfg_get(fleet, "ports"), "fleet.ports",
			"used by blue_green and canary only; %s takes fleet.port (or --port)",
			p->strategy);
}

/* osp_doc_env_check refuses a --env the document's environments: lacks. */
static void osp_doc_env_check(osp_doc_ctx *c, const osp_cfg_node *root)
{
	const osp_cfg_node *envs = osp_cfg_get(root, "environments");
	char names[160] = "";
	size_t off = 0;

	if (c->env[0] == '\0')
		return;
	if (!osp_valid_id(c->env) || strlen(c->env) >= sizeof(c->plan->env)) {
		osp_doc_add(c, true, 0, 0, "", "--env: expected an environment name (1..40 of "
			"A-Z a-z 0-9 . _ -)");
		return;
	}
	if (envs == NULL || envs->kind != OSP_CFG_MAP || osp_cfg_get(envs, c->env) != NULL)
		return;
	for (size_t i = 0; i < envs->n && off < sizeof(names); i++)
		off += (size_t)snprintf(names + off, sizeof(names) - off, "%s%s", i ? ", " : "",
			envs->items[i]->key);
	osp_doc_add(c, true, envs->key_line, envs->key_col, "environments",
		"--env %s names no environment of this document (%s)", c->env, names);
}

static void osp_doc_root(osp_doc_ctx *c, const osp_cfg_node *root)
{
	static const osp_doc_key keys[] = {
		{ "fleet", osp_doc_fleet, NULL },
		{ "deployment", osp_doc_deployment, NULL },
		{ "guardrails", osp_doc_guardrails, NULL },
		{ "monitoring", osp_doc_monitoring, NULL },
		{ "secrets", osp_doc_secrets, NULL },
		{ "acceptance", osp_doc_acceptance, NULL },
		{ "environments", osp_doc_environments, NULL },
		{ "multi_region", osp_doc_multi_region, NULL },
		{ "metadata", osp_doc_metadata, NULL },  /* for metadata.canary */
		/* what the document is: nothing to do, nothing to say */
		{ "ospec_version", NULL, "" },
		{ "id", NULL, "" },
		{ "name", NULL, "" },
		{ "description", NULL, "" },
		{ "outcome_type", NULL, "" },
		{ NULL, NULL, NULL },
	};

	if (root == NULL) {
		osp_doc_add(c, true, 1, 1, "", "the document is empty");
		return;
	}
	if (root->kind != OSP_CFG_MAP) {
		osp_doc_err(c, root, "", "expected a map of sections at the top of the document");
		return;
	}
	if (osp_cfg_get(root, "environments") != NULL &&
		osp_cfg_get(root, "environments")->kind == OSP_CFG_MAP)
		c->envs = osp_cfg_get(root, "environments");
	osp_doc_env_check(c, root);
	osp_doc_walk(c, root, "", keys, false);
	osp_doc_stages(c);
	if (c->plan->nstages == 0)
		return; /* only after an error */
	osp_doc_gates(c);
	osp_doc_smoke_note(c);
	osp_doc_winners(c);
	osp_doc_canary_finish(c);
	osp_doc_secrets_note(c);
	osp_doc_ports(c);
}

/* osp_doc_cfg_finding records the reader's "name:line:col: message" (or
 * "name: message") as an error finding. */
static osp_err osp_doc_cfg_finding(osp_doc_findings *f, const char *name, const char *err)
{
	size_t l = strlen(name);
	const char *p = err;
	char *end;
	long line = 0, col = 0;

	if (strncmp(err, name, l) == 0 && err[l] == ':') {
		p = err + l + 1;
		line = strtol(p, &end, 10);
		if (end != p && *end == ':') {
			p = end + 1;
			col = strtol(p, &end, 10);
			p = end;
		} else {
			line = 0;
		}
		if (p[0] == ':')
			p++;
		if (p[0] == ' ')
			p++;
	}
	return osp_doc_push(f, true, (int)line, (int)col, "", p);
}

/* osp_doc_sort puts the findings from index from in document order (stable:
 * an insertion sort over at most OSP_DOC_MAX_FINDINGS); the stages, read
 * last, may have added some of an earlier line. */
static void osp_doc_sort(osp_doc_findings *f, size_t from)
{
	for (size_t i = from + 1; i < f->n; i++) {
		osp_doc_finding x = f->v[i];
		size_t j = i;

		while (j > from && (f->v[j - 1].line > x.line ||
			(f->v[j - 1].line == x.line && f->v[j - 1].col > x.col))) {
			f->v[j] = f->v[j - 1];
			j--;
		}
		f->v[j] = x;
	}
}

static osp_err osp_doc_run(osp_doc_ctx *c, osp_doc_plan *plan, osp_doc_findings *f,
	const char *env)
{
	size_t n0 = f->n;

	c->f = f;
	c->env = env != NULL ? env : "";
	c->plan = plan;
	c->p = plan;
	c->pv = &c->prov;
	c->scratch = malloc(sizeof(*c->scratch));
	if (c->scratch == NULL)
		return OSP_ENOMEM;
	osp_doc_root(c, c->doc->root);
	free(c->scratch);
	osp_doc_sort(f, n0);
	return c->oom;
}

osp_err osp_doc_parse(const char *name, const char *data, size_t len, const char *env,
	osp_doc_plan *plan, osp_doc_findings *f)
{
	osp_cfg_limits lim = { .max_bytes = OSP_DOC_MAX_BYTES };
	osp_cfg_doc *doc = NULL;
	osp_doc_ctx *c = NULL;
	size_t errors0 = f->errors;
	char err[1024];
	osp_err rv;

	name = name != NULL ? name : "<document>";
	osp_str_show(name, f->file, sizeof(f->file));
	osp_doc_plan_init(plan, env);
	rv = osp_cfg_parse(name, data, len, &lim, &doc, err, sizeof(err));
	if (rv == OSP_ENOMEM)
		return rv;
	if (rv != OSP_OK) /* malformed, or a limit: one located error */
		return osp_doc_cfg_finding(f, name, err) == OSP_OK ? OSP_ECONFIG : OSP_ENOMEM;
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		osp_cfg_doc_free(doc);
		return OSP_ENOMEM;
	}
	c->doc = doc;
	rv = osp_doc_run(c, plan, f, env);
	free(c);
	osp_cfg_doc_free(doc);
	if (rv != OSP_OK)
		return rv;
	return f->errors > errors0 ? OSP_ECONFIG : OSP_OK;
}

osp_err osp_doc_load(const char *path, const char *env, osp_doc_plan *plan,
	osp_doc_findings *f)
{
	char *data = NULL, msg[160];
	size_t len = 0;
	osp_err rv;

	errno = 0;
	rv = osp_file_read(path, OSP_DOC_MAX_BYTES, &data, &len);
	if (rv == OSP_OK) {
		rv = osp_doc_parse(path, data, len, env, plan, f);
		free(data);
		return rv;
	}
	if (rv == OSP_ENOMEM)
		return rv;
	osp_str_show(path, f->file, sizeof(f->file));
	osp_doc_plan_init(plan, env);
	if (rv == OSP_ETOOBIG)
		snprintf(msg, sizeof(msg), "file is larger than %zu bytes (4 MiB)",
			OSP_DOC_MAX_BYTES);
	else if (rv == OSP_EINVAL)
		snprintf(msg, sizeof(msg), "not a regular file (a FIFO, device or directory is "
			"not read)");
	else
		snprintf(msg, sizeof(msg), "cannot read: %s", rv == OSP_ENOENT ?
			"no such file" : errno != 0 ? strerror(errno) : osp_strerror(rv));
	if (osp_doc_push(f, true, 0, 0, "", msg) != OSP_OK)
		return OSP_ENOMEM;
	return OSP_EIO;
}

void osp_doc_findings_print(const osp_doc_findings *f, FILE *out)
{
	for (size_t i = 0; i < f->n; i++) {
		const osp_doc_finding *x = &f->v[i];

		fprintf(out, "%s:%d:%d: %s%s%s: %s\n", f->file, x->line, x->col, x->path,
			x->path[0] ? ": " : "", x->error ? "error" : "warning", x->msg);
	}
	if (f->errors + f->warnings > f->n)
		fprintf(out, "%s:0:0: warning: %zu more findings not shown\n", f->file,
			f->errors + f->warnings - f->n);
}

void osp_doc_findings_free(osp_doc_findings *f)
{
	if (f == NULL)
		return;
	free(f->v);
	f->v = NULL;
	f->n = f->cap = 0;
}
