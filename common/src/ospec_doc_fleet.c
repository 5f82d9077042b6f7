/*
 * ospec_doc_fleet.c - ospec's own `fleet:` block (strict: an unknown key is
 * an error) and the stages of a plan: fleet.stages, else one stage per
 * region of multi_region (in the order of deployment_order), else one stage
 * "all" (docs/ospec.md, "Stages").
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "ospec/labels.h"
#include "ospec/util.h"
#include "ospec_doc_int.h"

#define OSP_DOC_MAX_COUNT 100000 /* nodes, batch, max_failures as a count */

/* ---- values of fleet: ---- */

/* osp_doc_count reads "N" (min..OSP_DOC_MAX_COUNT) or "N%" (min..100) into
 * out (len >= 16), as the CLI's --batch and --max-failures take them. */
static bool osp_doc_count(osp_doc_ctx *c, const osp_cfg_node *n, const char *path,
	uint64_t min, char *out, size_t len)
{
	char num[16], got[64];
	size_t l = 0;
	uint64_t v;
	bool pct = false;

	if (n->kind == OSP_CFG_SCALAR && !n->is_null && (l = strlen(n->value)) > 0 &&
		l < sizeof(num) && l < len) {
		pct = n->value[l - 1] == '%';
		osp_strlcpy(num, n->value, sizeof(num));
		num[pct ? l - 1 : l] = '\0';
		if (osp_u64_parse(num, min, pct ? 100 : OSP_DOC_MAX_COUNT, &v) == OSP_OK &&
			(!pct || v > 0 || min == 0)) {
			osp_strlcpy(out, n->value, len);
			return true;
		}
	}
	osp_doc_got(n, got, sizeof(got));
	osp_doc_err(c, n, path, "expected a count %llu..%d or a percentage %llu%%..100%%, got %s",
		(unsigned long long)min, OSP_DOC_MAX_COUNT, (unsigned long long)(min ? 1 : 0),
		got);
	return false;
}

/* osp_doc_label_add appends "key=value" to out (len bytes) after checking it
 * with the label parser; an error at n otherwise. */
static bool osp_doc_label_add(osp_doc_ctx *c, const osp_cfg_node *n, const char *path,
	const char *key, const char *value, char *out, size_t len)
{
	osp_labels l = { 0 };
	char kv[160];
	size_t off = strlen(out);
	osp_err rv;

	snprintf(kv, sizeof(kv), "%s=%s", key, value);
	rv = osp_labels_parse_list(&l, kv);
	osp_labels_fini(&l);
	if (rv == OSP_ENOMEM) {
		c->oom = rv;
		return false;
	}
	if (rv != OSP_OK || strlen(kv) >= sizeof(kv) - 1) {
		osp_doc_err(c, n, path, "expected a label: a key of A-Z a-z 0-9 . _ - / and a "
			"value of at most 63 printable characters without , = \" \\ or spaces");
		return false;
	}
	if (off + (off ? 1 : 0) + strlen(kv) >= len) {
		osp_doc_err(c, n, path, "the labels are longer than %zu bytes", len - 1);
		return false;
	}
	snprintf(out + off, len - off, "%s%s", off ? "," : "", kv);
	return true;
}

/* osp_doc_select reads a selector: a map of labels ({region: us-east}) or
 * the CLI's "K=V,K=V", into out ("" every node). */
static bool osp_doc_select(osp_doc_ctx *c, const osp_cfg_node *n, const char *path,
	char *out, size_t len)
{
	char sub[OSP_DOC_PATH_MAX], kv[256];
	const char *v, *eq;
	bool ok = true;

	out[0] = '\0';
	if (n->kind == OSP_CFG_MAP) {
		for (size_t i = 0; i < n->n && ok; i++) {
			osp_doc_join(sub, sizeof(sub), path, n->items[i]->key, 0);
			ok = osp_doc_str(c, n->items[i], sub, 63, &v) &&
				osp_doc_label_add(c, n->items[i], sub, n->items[i]->key, v, out, len);
		}
		return ok;
	}
	if (!osp_doc_str(c, n, path, len - 1, &v))
		return false;
	/* "K=V,K=V": each pair through the same check */
	while (ok && *v != '\0') {
		size_t l = strcspn(v, ",");
		if (l >= sizeof(kv))
			l = sizeof(kv) - 1;
		memcpy(kv, v, l);
		kv[l] = '\0';
		eq = strchr(kv, '=');
		if (eq == NULL) {
			osp_doc_err(c, n, path, "expected K=V,K=V or a map of labels");
			return false;
		}
		kv[eq - kv] = '\0';
		ok = osp_doc_label_add(c, n, path, kv, eq + 1, out, len);
		v += strcspn(v, ",");
		if (*v == ',')
			v++;
	}
	return ok;
}

static void osp_doc_fleet_app(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	const char *s;

	if (!osp_doc_str(c, n, path, sizeof(c->p->app) - 1, &s))
		return;
	if (!osp_valid_id(s))
		osp_doc_err(c, n, path, "expected an app id: A-Z a-z 0-9 . _ -, starting with a "
			"letter or digit");
	else
		osp_strlcpy(c->p->app, s, sizeof(c->p->app));
}

static void osp_doc_fleet_run(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	const char *s;

	if (osp_doc_str(c, n, path, sizeof(c->p->run) - 1, &s))
		osp_strlcpy(c->p->run, s, sizeof(c->p->run));
}

static void osp_doc_fleet_port(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	uint64_t v;

	if (osp_doc_u64(c, n, path, 1, 65535, &v))
		c->p->port = (uint32_t)v;
}

static void osp_doc_fleet_ports(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	static const osp_doc_key keys[] = { { "blue", NULL, "" }, { "green", NULL, "" },
		{ NULL, NULL, NULL } };
	const osp_cfg_node *b = osp_cfg_get(n, "blue"), *g = osp_cfg_get(n, "green");
	char sub[OSP_DOC_PATH_MAX];
	uint64_t bv = 0, gv = 0;
	bool ok;

	osp_doc_walk(c, n, path, keys, true);
	if (n->kind != OSP_CFG_MAP)
		return;
	if (b == NULL || g == NULL) {
		osp_doc_err(c, n, path, "expected {blue: N, green: M}");
		return;
	}
	osp_doc_join(sub, sizeof(sub), path, "blue", 0);
	ok = osp_doc_u64(c, b, sub, 1, 65535, &bv);
	osp_doc_join(sub, sizeof(sub), path, "green", 0);
	ok = osp_doc_u64(c, g, sub, 1, 65535, &gv) && ok;
	if (ok && bv == gv) {
		osp_doc_err(c, g, sub, "the green port must differ from the blue one");
		return;
	}
	if (ok) {
		c->p->blue_port = (uint32_t)bv;
		c->p->green_port = (uint32_t)gv;
	}
}

static void osp_doc_fleet_artifact(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	const char *s, *b;

	if (!osp_doc_str(c, n, path, sizeof(c->p->artifact) - 1, &s))
		return;
	if (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0 &&
		strncmp(s, "file://", 7) != 0) {
		osp_doc_err(c, n, path, "expected an http://, https:// or file:// URL");
		return;
	}
	for (b = strchr(s, '{'); b != NULL; b = strchr(b + 1, '{')) {
		if (strncmp(b, "{app}", 5) != 0 && strncmp(b, "{version}", 9) != 0) {
			osp_doc_err(c, n, path, "unknown placeholder at \"%.20s\": the URL may hold "
				"{app} and {version}", b);
			return;
		}
	}
	osp_strlcpy(c->p->artifact, s, sizeof(c->p->artifact));
}

static void osp_doc_fleet_select(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	osp_doc_select(c, n, path, c->p->select, sizeof(c->p->select));
}

static void osp_doc_fleet_batch(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	osp_doc_count(c, n, path, 1, c->p->batch, sizeof(c->p->batch));
}

static void osp_doc_fleet_maxf(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	osp_doc_count(c, n, path, 0, c->p->max_failures, sizeof(c->p->max_failures));
}

static void osp_doc_fleet_watch(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	int64_t ms;

	if (osp_doc_duration(c, n, path, &ms) &&
		osp_doc_claim(c, &c->pv->watch, OSP_DOC_PRIO_FLEET, path))
		c->p->watch_ms = ms;
}

/* ---- fleet.health ---- */

static void osp_doc_fleet_hfield(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	osp_doc_health_field(c, n, path, OSP_DOC_PRIO_FLEET, true);
}

static void osp_doc_fleet_health(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	static const osp_doc_key keys[] = {
		{ "path", osp_doc_fleet_hfield, NULL },
		{ "interval", osp_doc_fleet_hfield, NULL },
		{ "timeout", osp_doc_fleet_hfield, NULL },
		{ "rise", osp_doc_fleet_hfield, NULL },
		{ "fall", osp_doc_fleet_hfield, NULL },
		{ NULL, NULL, NULL },
	};

	osp_doc_walk(c, n, path, keys, true);
}

/* ---- fleet.stages ---- */

static void osp_doc_st_name(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	const char *s;

	if (!osp_doc_str(c, n, path, sizeof(c->stage->name) - 1, &s))
		return;
	if (!osp_valid_id(s)) {
		osp_doc_err(c, n, path, "expected a stage name: A-Z a-z 0-9 . _ -, starting with "
			"a letter or digit");
		return;
	}
	for (size_t i = 0; i < c->p->nstages; i++) {
		if (strcmp(c->p->stages[i].name, s) == 0) {
			osp_doc_err(c, n, path, "stage name \"%s\" is used twice", s);
			return;
		}
	}
	osp_strlcpy(c->stage->name, s, sizeof(c->stage->name));
}

static void osp_doc_st_select(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	osp_doc_select(c, n, path, c->stage->select, sizeof(c->stage->select));
}

static void osp_doc_st_nodes(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	osp_doc_count(c, n, path, 1, c->stage->nodes, sizeof(c->stage->nodes));
}

static void osp_doc_st_batch(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	osp_doc_count(c, n, path, 1, c->stage->batch, sizeof(c->stage->batch));
}

static void osp_doc_st_maxf(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	osp_doc_count(c, n, path, 0, c->stage->max_failures, sizeof(c->stage->max_failures));
}

static void osp_doc_st_bake(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	osp_doc_duration(c, n, path, &c->stage->bake_ms);
}

static void osp_doc_st_deadline(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	int64_t ms;

	if (!osp_doc_duration(c, n, path, &ms))
		return;
	if (ms <= 0)
		osp_doc_err(c, n, path, "expected a duration above 0");
	else
		c->stage->progress_deadline_ms = ms;
}

static void osp_doc_st_approval(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	bool b;

	if (!osp_doc_bool(c, n, path, &b) || !b)
		return;
	c->stage->approval = true;
	osp_strlcpy(c->stage->approval_why, path, sizeof(c->stage->approval_why));
}

static void osp_doc_fleet_stages(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	static const osp_doc_key keys[] = {
		{ "name", osp_doc_st_name, NULL },
		{ "select", osp_doc_st_select, NULL },
		{ "nodes", osp_doc_st_nodes, NULL },
		{ "batch", osp_doc_st_batch, NULL },
		{ "max_failures", osp_doc_st_maxf, NULL },
		{ "bake", osp_doc_st_bake, NULL },
		{ "progress_deadline", osp_doc_st_deadline, NULL },
		{ "approval", osp_doc_st_approval, NULL },
		{ NULL, NULL, NULL },
	};
	char sub[OSP_DOC_PATH_MAX];
	osp_doc_stage *st;

	if (!osp_doc_list(c, n, path))
		return;
	if (n->n == 0 || n->n > OSP_DOC_MAX_STAGES) {
		osp_doc_err(c, n, path, "expected 1..%d stages, got %zu", OSP_DOC_MAX_STAGES, n->n);
		return;
	}
	c->fleet_stages = true;
	for (size_t i = 0; i < n->n; i++) {
		osp_doc_join(sub, sizeof(sub), path, NULL, i);
		if (!osp_doc_map(c, n->items[i], sub))
			continue;
		st = &c->p->stages[c->p->nstages];
		memset(st, 0, sizeof(*st));
		st->bake_ms = -1;
		c->stage = st;
		osp_doc_walk(c, n->items[i], sub, keys, true);
		c->stage = NULL;
		if (osp_cfg_get(n->items[i], "name") == NULL)
			osp_doc_err(c, n->items[i], sub, "name is required");
		if (st->name[0] != '\0')
			c->p->nstages++;
	}
}

void osp_doc_fleet(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	static const osp_doc_key keys[] = {
		{ "app", osp_doc_fleet_app, NULL },
		{ "run", osp_doc_fleet_run, NULL },
		{ "port", osp_doc_fleet_port, NULL },
		{ "ports", osp_doc_fleet_ports, NULL },
		{ "artifact", osp_doc_fleet_artifact, NULL },
		{ "select", osp_doc_fleet_select, NULL },
		{ "batch", osp_doc_fleet_batch, NULL },
		{ "max_failures", osp_doc_fleet_maxf, NULL },
		{ "watch", osp_doc_fleet_watch, NULL },
		{ "health", osp_doc_fleet_health, NULL },
		{ "stages", osp_doc_fleet_stages, NULL },
		{ NULL, NULL, NULL },
	};

	osp_doc_walk(c, n, path, keys, true);
	if (osp_cfg_get(n, "port") != NULL && osp_cfg_get(n, "ports") != NULL)
		osp_doc_err(c, osp_cfg_get(n, "ports"), "fleet.ports", "give fleet.port or "
			"fleet.ports, not both");
}

/* ---- multi_region ---- */

void osp_doc_multi_region(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	/* regions and deployment_order are read for the stages (osp_doc_stages) */
	static const osp_doc_key keys[] = {
		{ "regions", NULL, "" },
		{ "deployment_order", NULL, "" },
		{ NULL, NULL, NULL },
	};

	osp_doc_walk(c, n, path, keys, false);
	if (n->kind == OSP_CFG_MAP)
		c->multi_region = n;
}

/* The regions of multi_region.regions, primary first. */
typedef struct osp_doc_regions {
	char name[OSP_DOC_MAX_STAGES][41];
	size_t n, nprimary;
	bool staged[OSP_DOC_MAX_STAGES];
} osp_doc_regions;

static void osp_doc_region_add(osp_doc_ctx *c, const osp_cfg_node *n, const char *path,
	osp_doc_regions *r)
{
	char sel[64] = "";
	const char *s;

	if (!osp_doc_str(c, n, path, sizeof(r->name[0]) - 1, &s))
		return;
	if (!osp_valid_id(s)) {
		osp_doc_err(c, n, path, "expected a region name: A-Z a-z 0-9 . _ -, starting "
			"with a letter or digit (it names a stage and the label region=NAME)");
		return;
	}
	if (!osp_doc_label_add(c, n, path, "region", s, sel, sizeof(sel)))
		return;
	for (size_t i = 0; i < r->n; i++) {
		if (strcmp(r->name[i], s) == 0) {
			osp_doc_warn(c, n, path, "region %s is listed twice", s);
			return;
		}
	}
	if (r->n == OSP_DOC_MAX_STAGES) {
		osp_doc_err(c, n, path, "more than %d regions", OSP_DOC_MAX_STAGES);
		return;
	}
	osp_strlcpy(r->name[r->n++], s, sizeof(r->name[0]));
}

/* osp_doc_regions_read reads primary and secondary: a name or a list. */
static void osp_doc_regions_read(osp_doc_ctx *c, const osp_cfg_node *n, const char *path,
	osp_doc_regions *r)
{
	static const char *const which[] = { "primary", "secondary" };
	char sub[OSP_DOC_PATH_MAX], item[OSP_DOC_PATH_MAX];

	if (!osp_doc_map(c, n, path))
		return;
	for (size_t i = 0; i < n->n; i++) {
		osp_doc_join(sub, sizeof(sub), path, n->items[i]->key, 0);
		if (strcmp(n->items[i]->key, "primary") && strcmp(n->items[i]->key, "secondary"))
			osp_doc_warn(c, n->items[i], sub, "not used by ospec (regions are primary "
				"and secondary)");
	}
	for (size_t w = 0; w < 2; w++) {
		const osp_cfg_node *v = osp_cfg_get(n, which[w]);

		osp_doc_join(sub, sizeof(sub), path, which[w], 0);
		if (v != NULL && v->kind == OSP_CFG_SEQ) {
			for (size_t i = 0; i < v->n; i++) {
				osp_doc_join(item, sizeof(item), sub, NULL, i);
				osp_doc_region_add(c, v->items[i], item, r);
			}
		} else if (v != NULL && !(v->kind == OSP_CFG_SCALAR && v->is_null)) {
			osp_doc_region_add(c, v, sub, r);
		}
		if (w == 0)
			r->nprimary = r->n;
	}
}

/* osp_doc_token reports whether word stands in s as a whole word: not next
 * to a letter, digit or '-' ("deploy_to_us-east-1" names us-east-1). */
static bool osp_doc_token(const char *s, const char *word)
{
	size_t wl = strlen(word);

	for (const char *p = strstr(s, word); p != NULL; p = strstr(p + 1, word)) {
		bool left = p == s || !(isalnum((unsigned char)p[-1]) || p[-1] == '-');
		bool right = !(isalnum((unsigned char)p[wl]) || p[wl] == '-');
		if (left && right)
			return true;
	}
	return false;
}

static void osp_doc_region_stage(osp_doc_regions *r, size_t i, osp_doc_stage *st, size_t *n)
{
	if (r->staged[i])
		return;
	r->staged[i] = true;
	memset(&st[*n], 0, sizeof(st[0]));
	osp_strlcpy(st[*n].name, r->name[i], sizeof(st[0].name));
	snprintf(st[*n].select, sizeof(st[0].select), "region=%s", r->name[i]);
	st[*n].bake_ms = -1;
	(*n)++;
}

/* osp_doc_order stages the regions each entry of deployment_order names (a
 * region's name, or the word primary or secondary); an entry naming none is
 * not acted on. Regions no entry names follow, primary first. */
static void osp_doc_order(osp_doc_ctx *c, const osp_cfg_node *o, osp_doc_regions *r,
	osp_doc_stage *st, size_t *n)
{
	char prose[256] = "", left[256] = "", sub[OSP_DOC_PATH_MAX];
	const char *path = "multi_region.deployment_order", *s;
	bool any = false;

	for (size_t e = 0; o != NULL && osp_doc_list(c, o, path) && e < o->n; e++) {
		bool named = false;

		osp_doc_join(sub, sizeof(sub), path, NULL, e);
		if (!osp_doc_str(c, o->items[e], sub, 256, &s))
			continue;
		for (size_t i = 0; i < r->n; i++) {
			bool hit = osp_doc_token(s, r->name[i]) ||
				(i < r->nprimary && osp_doc_token(s, "primary")) ||
				(i >= r->nprimary && osp_doc_token(s, "secondary"));
			if (hit)
				osp_doc_region_stage(r, i, st, n);
			named = named || hit;
		}
		if (!named && strlen(prose) + strlen(s) + 3 < sizeof(prose))
			snprintf(prose + strlen(prose), sizeof(prose) - strlen(prose), "%s%s",
				prose[0] ? ", " : "", s);
		any = any || named;
	}
	if (prose[0] != '\0')
		osp_doc_warn(c, o, path, "not acted on (names no region): %s", prose);
	for (size_t i = 0; i < r->n; i++) {
		if (any && !r->staged[i] && strlen(left) + strlen(r->name[i]) + 3 < sizeof(left))
			snprintf(left + strlen(left), sizeof(left) - strlen(left), "%s%s",
				left[0] ? ", " : "", r->name[i]);
		osp_doc_region_stage(r, i, st, n);
	}
	if (left[0] != '\0')
		osp_doc_warn(c, o, path, "regions it does not name are deployed last: %s", left);
}

/* osp_doc_region_stages makes the stages of multi_region into st. */
static size_t osp_doc_region_stages(osp_doc_ctx *c, osp_doc_stage *st)
{
	const osp_cfg_node *mr = c->multi_region, *rn = osp_cfg_get(mr, "regions");
	const osp_cfg_node *o = osp_cfg_get(mr, "deployment_order");
	osp_doc_regions r;
	size_t n = 0;

	memset(&r, 0, sizeof(r));
	if (rn != NULL)
		osp_doc_regions_read(c, rn, "multi_region.regions", &r);
	if (r.n == 0) {
		if (o != NULL)
			osp_doc_warn(c, o, "multi_region.deployment_order", "not acted on: "
				"multi_region.regions names no region");
		return 0;
	}
	osp_doc_order(c, o, &r, st, &n);
	return n;
}

void osp_doc_stages(osp_doc_ctx *c)
{
	osp_doc_stage st[OSP_DOC_MAX_STAGES];
	osp_doc_plan *p = c->plan;
	char list[192] = "";
	size_t n = 0, off = 0;

	if (c->multi_region != NULL)
		n = osp_doc_region_stages(c, st);
	if (c->fleet_stages) {
		if (n > 0)
			osp_doc_notef(c, "multi_region", "nothing: fleet.stages wins");
		return;
	}
	if (n == 0) {
		memset(&p->stages[0], 0, sizeof(p->stages[0]));
		osp_strlcpy(p->stages[0].name, "all", sizeof(p->stages[0].name));
		p->stages[0].bake_ms = -1;
		p->nstages = 1;
		return;
	}
	memcpy(p->stages, st, n * sizeof(st[0]));
	p->nstages = n;
	for (size_t i = 0; i < n && off < sizeof(list); i++)
		off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s", i ? ", " : "",
			st[i].name);
	osp_doc_notef(c, "multi_region", "stages %s (each selects region=NAME)", list);
}
