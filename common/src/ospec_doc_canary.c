/*
 * ospec_doc_canary.c - a canary's weights and analysis (docs/ospec.md,
 * "Canary"): deployment.canary_configuration (OSpec's shape),
 * deployment.analysis (Flagger's analysis block), metadata.canary (the
 * patterns example's shape), and the success criteria
 * (deployment.monitoring.success_criteria, monitoring.success_criteria).
 * They become deploy's --canary-* and --analysis-* flags; ospec analyses the
 * proxy's own counters (success rate, mean response time), so every other
 * metric is a warning. Once the strategy is known, osp_doc_canary_finish
 * notes what won and warns about settings another strategy ignores.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "ospec/util.h"
#include "ospec_doc_int.h"

/* Priorities inside one scope (ospec_doc_int.h): the more specific key wins. */
enum {
	OSP_DOC_P_CRIT_MON = 1,     /* monitoring.success_criteria */
	OSP_DOC_P_CRIT_DEP = 2,     /* deployment.monitoring.success_criteria */
	OSP_DOC_P_META = 3,         /* metadata.canary */
	OSP_DOC_P_ANALYSIS = 4,     /* deployment.analysis (and its metrics) */
	OSP_DOC_P_CONF = 5,         /* deployment.canary_configuration */
};

#define OSP_DOC_MAX_LATENCY_MS 3600000 /* the coordinator's bound: 1h */
#define OSP_DOC_MAX_INTERVAL_MS 86400000 /* 24h */

static const char *const osp_doc_cv_flag[OSP_DOC_CV_N] = { "--canary-initial",
	"--canary-step", "--canary-max", "--analysis-interval", "--analysis-threshold",
	"--analysis-success-rate", "--analysis-max-latency" };

bool osp_doc_slotted(const char *strategy)
{
	return strcmp(strategy, "blue_green") == 0 || strcmp(strategy, "canary") == 0;
}

/* ---- values ---- */

/* osp_doc_weight reads a share of the traffic: 10 or "10%", 1..100. */
static bool osp_doc_weight(osp_doc_ctx *c, const osp_cfg_node *n, const char *path,
	uint32_t *out)
{
	char num[8], got[64];
	uint64_t v;
	size_t l = 0;

	if (n->kind == OSP_CFG_SCALAR && !n->is_null)
		l = strlen(n->value);
	if (l > 0 && l < sizeof(num)) {
		osp_strlcpy(num, n->value, sizeof(num));
		if (num[l - 1] == '%')
			num[l - 1] = '\0';
		if (osp_u64_parse(num, 1, 100, &v) == OSP_OK) {
			*out = (uint32_t)v;
			return true;
		}
	}
	osp_doc_got(n, got, sizeof(got));
	osp_doc_err(c, n, path, "expected a percentage of the traffic 1..100 (10 or \"10%%\"), "
		"got %s", got);
	return false;
}

/* osp_doc_pct_parse reads "99", "99.5", "0.25" or "0.5%" (0..100, at most 2
 * decimals) into hundredths of a percent. */
static bool osp_doc_pct_parse(const char *s, uint32_t *x100)
{
	uint32_t whole = 0, frac = 0;
	size_t i = 0, nd = 0;

	if (s[0] < '0' || s[0] > '9')
		return false;
	for (; s[i] >= '0' && s[i] <= '9'; i++) {
		whole = whole * 10 + (uint32_t)(s[i] - '0');
		if (whole > 100)
			return false;
	}
	if (s[i] == '.') {
		for (i++; s[i] >= '0' && s[i] <= '9'; i++, nd++) {
			if (nd == 2)
				return false;
			frac = frac * 10 + (uint32_t)(s[i] - '0');
		}
		if (nd == 0)
			return false;
		if (nd == 1)
			frac *= 10;
	}
	if (s[i] == '%')
		i++;
	if (s[i] != '\0' || (whole == 100 && frac > 0))
		return false;
	*x100 = whole * 100 + frac;
	return true;
}

/* osp_doc_pct reads a percentage 0..100 with at most 2 decimals. */
static bool osp_doc_pct(osp_doc_ctx *c, const osp_cfg_node *n, const char *path,
	uint32_t *x100)
{
	char got[64];

	if (n->kind == OSP_CFG_SCALAR && !n->is_null && osp_doc_pct_parse(n->value, x100))
		return true;
	osp_doc_got(n, got, sizeof(got));
	osp_doc_err(c, n, path, "expected a percentage 0..100 with at most 2 decimals (99.5), "
		"got %s", got);
	return false;
}

/* osp_doc_pct_fmt writes hundredths of a percent as the flag takes them. */
static void osp_doc_pct_fmt(uint32_t x100, char *buf, size_t len)
{
	if (x100 % 100 == 0)
		snprintf(buf, len, "%u", x100 / 100);
	else if (x100 % 10 == 0)
		snprintf(buf, len, "%u.%u", x100 / 100, x100 % 100 / 10);
	else
		snprintf(buf, len, "%u.%02u", x100 / 100, x100 % 100);
}

/* osp_doc_ms reads a response time: a number of milliseconds (500) or a
 * duration with its unit ("500ms", "2s"), 1ms..1h. */
static bool osp_doc_ms(osp_doc_ctx *c, const osp_cfg_node *n, const char *path, int64_t *ms)
{
	char got[64];
	uint64_t v;

	if (n->kind == OSP_CFG_SCALAR && !n->is_null) {
		bool digits = n->value[0] != '\0' && strspn(n->value, "0123456789") ==
			strlen(n->value);

		if (digits && osp_u64_parse(n->value, 1, OSP_DOC_MAX_LATENCY_MS, &v) == OSP_OK) {
			*ms = (int64_t)v;
			return true;
		}
		if (!digits && osp_duration_parse(n->value, ms) == OSP_OK && *ms >= 1 &&
			*ms <= OSP_DOC_MAX_LATENCY_MS)
			return true;
	}
	osp_doc_got(n, got, sizeof(got));
	osp_doc_err(c, n, path, "expected milliseconds 1..3600000 (500) or a duration (500ms, "
		"2s), got %s", got);
	return false;
}

/* osp_doc_interval reads a step's duration: a duration, or a number of
 * seconds, 1s..24h. */
static bool osp_doc_interval(osp_doc_ctx *c, const osp_cfg_node *n, const char *path,
	int64_t *ms)
{
	char got[64];

	if (!osp_doc_duration(c, n, path, ms))
		return false;
	if (*ms >= 1000 && *ms <= OSP_DOC_MAX_INTERVAL_MS)
		return true;
	osp_doc_got(n, got, sizeof(got));
	osp_doc_err(c, n, path, "expected a duration from 1s to 24h (a number is seconds), "
		"got %s", got);
	return false;
}

/* osp_doc_canary_set records v as value cv of the plan if the key at path
 * (priority prio) wins. */
static void osp_doc_canary_set(osp_doc_ctx *c, osp_doc_cv cv, int prio,
	const osp_cfg_node *n, const char *path, int64_t v)
{
	osp_doc_plan *p = c->p;

	if (!osp_doc_claim(c, &c->pv->canary[cv], prio, path))
		return;
	c->pv->canary_node[cv] = n;
	switch (cv) {
	case OSP_DOC_CV_INITIAL:
		p->canary_initial = (uint32_t)v;
		break;
	case OSP_DOC_CV_STEP:
		p->canary_step = (uint32_t)v;
		break;
	case OSP_DOC_CV_MAX:
		p->canary_max = (uint32_t)v;
		break;
	case OSP_DOC_CV_INTERVAL:
		p->analysis_interval_ms = v;
		break;
	case OSP_DOC_CV_THRESHOLD:
		p->analysis_threshold = (uint32_t)v;
		break;
	case OSP_DOC_CV_SUCCESS:
		osp_doc_pct_fmt((uint32_t)v, p->analysis_success_rate,
			sizeof(p->analysis_success_rate));
		break;
	case OSP_DOC_CV_LATENCY:
		p->analysis_max_latency_ms = v;
		break;
	case OSP_DOC_CV_N:
		break;
	}
}

/* osp_doc_block_add remembers a block of canary settings. */
static void osp_doc_block_add(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	osp_doc_block *b;

	if (c->pv->nblocks >= OSP_DOC_MAX_CANARY_BLOCKS)
		return;
	b = &c->pv->blocks[c->pv->nblocks++];
	b->node = n;
	osp_strlcpy(b->path, path, sizeof(b->path));
}

/* ---- metrics (Flagger's analysis.metrics) ---- */

typedef enum osp_doc_metric_kind {
	OSP_DOC_M_SUCCESS,      /* request-success-rate: thresholdRange.min */
	OSP_DOC_M_DURATION,     /* request-duration: thresholdRange.max */
	OSP_DOC_M_OTHER,
} osp_doc_metric_kind;

static osp_doc_metric_kind osp_doc_metric_of(const char *name)
{
	char k[32];
	size_t n = 0;

	for (; *name != '\0' && n + 1 < sizeof(k); name++)
		k[n++] = *name == '_' ? '-' : (char)tolower((unsigned char)*name);
	k[n] = '\0';
	if (strcmp(k, "request-success-rate") == 0)
		return OSP_DOC_M_SUCCESS;
	if (strcmp(k, "request-duration") == 0)
		return OSP_DOC_M_DURATION;
	return OSP_DOC_M_OTHER;
}

/* osp_doc_metric_range reads thresholdRange: min for the success rate, max
 * for the response time. */
static void osp_doc_metric_range(osp_doc_ctx *c, const osp_cfg_node *tr, const char *path,
	osp_doc_metric_kind k, int prio)
{
	const char *want = k == OSP_DOC_M_SUCCESS ? "min" : "max";
	char sub[OSP_DOC_PATH_MAX];
	uint32_t x100;
	int64_t ms;

	if (!osp_doc_map(c, tr, path))
		return;
	for (size_t i = 0; i < tr->n; i++) {
		const osp_cfg_node *v = tr->items[i];

		osp_doc_join(sub, sizeof(sub), path, v->key, 0);
		if (strcmp(v->key, want) != 0)
			osp_doc_warn(c, v, sub, "not used by ospec: %s has a %s (%s.%s)",
				k == OSP_DOC_M_SUCCESS ? "the success rate" : "the response time",
				k == OSP_DOC_M_SUCCESS ? "minimum" : "maximum", path, want);
		else if (k == OSP_DOC_M_SUCCESS && osp_doc_pct(c, v, sub, &x100))
			osp_doc_canary_set(c, OSP_DOC_CV_SUCCESS, prio, v, sub, x100);
		else if (k == OSP_DOC_M_DURATION && osp_doc_ms(c, v, sub, &ms))
			osp_doc_canary_set(c, OSP_DOC_CV_LATENCY, prio, v, sub, ms);
	}
}

/* osp_doc_metric reads one metric: a name, or a map with name,
 * thresholdRange and interval. */
static void osp_doc_metric(osp_doc_ctx *c, const osp_cfg_node *m, const char *path,
	int64_t block_ms, int prio)
{
	const osp_cfg_node *nm = m, *tr = NULL;
	char sub[OSP_DOC_PATH_MAX];
	osp_doc_metric_kind k;
	const char *name;
	int64_t ms;

	osp_strlcpy(sub, path, sizeof(sub));
	if (m->kind == OSP_CFG_MAP) {
		nm = osp_cfg_get(m, "name");
		tr = osp_cfg_get(m, "thresholdRange");
		if (nm == NULL) {
			osp_doc_err(c, m, path, "a metric needs a name (request-success-rate, "
				"request-duration)");
			return;
		}
		osp_doc_join(sub, sizeof(sub), path, "name", 0);
	}
	if (!osp_doc_str(c, nm, sub, 128, &name))
		return;
	k = osp_doc_metric_of(name);
	if (k == OSP_DOC_M_OTHER) {
		osp_doc_warn(c, m, path, "metric %s is ignored: ospec analyses the proxy's counters "
			"only (request-success-rate and request-duration, the mean response time)",
			name);
		return;
	}
	for (size_t i = 0; m->kind == OSP_CFG_MAP && i < m->n; i++) {
		const osp_cfg_node *v = m->items[i];

		osp_doc_join(sub, sizeof(sub), path, v->key, 0);
		if (strcmp(v->key, "interval") == 0) {
			if (osp_doc_interval(c, v, sub, &ms) && block_ms > 0 && ms != block_ms)
				osp_doc_warn(c, v, sub, "not used by ospec: every metric is analysed "
					"over the step's interval (the block's interval)");
		} else if (strcmp(v->key, "name") != 0 && strcmp(v->key, "thresholdRange") != 0) {
			osp_doc_warn(c, v, sub, "not used by ospec");
		}
	}
	if (tr != NULL) {
		osp_doc_join(sub, sizeof(sub), path, "thresholdRange", 0);
		osp_doc_metric_range(c, tr, sub, k, prio);
	} else {
		osp_doc_notef(c, path, k == OSP_DOC_M_SUCCESS ? "the success rate is analysed "
			"(--analysis-success-rate: default 99)" : "the mean response time is analysed "
			"(--analysis-max-latency: default 500ms)");
	}
}

/* osp_doc_metrics reads a list of metrics; block is the map that holds it
 * (its interval, if any, is the metrics' too). */
static void osp_doc_metrics(osp_doc_ctx *c, const osp_cfg_node *n, const char *path,
	const osp_cfg_node *block, int prio)
{
	const osp_cfg_node *iv = osp_cfg_get(block, "interval");
	char sub[OSP_DOC_PATH_MAX];
	int64_t block_ms = 0;

	if (iv == NULL)
		iv = osp_cfg_get(block, "analysis_interval");
	if (iv != NULL && iv->kind == OSP_CFG_SCALAR && !iv->is_null &&
		osp_duration_parse(iv->value, &block_ms) != OSP_OK)
		block_ms = 0;
	if (n->kind == OSP_CFG_SCALAR && n->is_null)
		return;
	if (!osp_doc_list(c, n, path))
		return;
	for (size_t i = 0; i < n->n; i++) {
		osp_doc_join(sub, sizeof(sub), path, NULL, i);
		osp_doc_metric(c, n->items[i], sub, block_ms, prio);
	}
}

/* ---- the blocks ---- */

typedef enum osp_doc_ck {
	OSP_DOC_CK_WEIGHT,
	OSP_DOC_CK_INTERVAL,
	OSP_DOC_CK_COUNT,
	OSP_DOC_CK_METRICS,
	OSP_DOC_CK_WEBHOOKS,
} osp_doc_ck;

/* One key of a canary block and the value it sets. */
typedef struct osp_doc_ckey {
	const char *name;
	osp_doc_ck kind;
	osp_doc_cv cv;
} osp_doc_ckey;

static const osp_doc_ckey osp_doc_conf_keys[] = {
	{ "initial_traffic", OSP_DOC_CK_WEIGHT, OSP_DOC_CV_INITIAL },
	{ "increment", OSP_DOC_CK_WEIGHT, OSP_DOC_CV_STEP },
	{ "max_traffic", OSP_DOC_CK_WEIGHT, OSP_DOC_CV_MAX },
	{ "step_duration", OSP_DOC_CK_INTERVAL, OSP_DOC_CV_INTERVAL },
	{ NULL, OSP_DOC_CK_WEIGHT, OSP_DOC_CV_N },
};

/* Flagger's analysis (camelCase), and the snake_case of metadata.canary. */
static const osp_doc_ckey osp_doc_analysis_keys[] = {
	{ "interval", OSP_DOC_CK_INTERVAL, OSP_DOC_CV_INTERVAL },
	{ "analysis_interval", OSP_DOC_CK_INTERVAL, OSP_DOC_CV_INTERVAL },
	{ "threshold", OSP_DOC_CK_COUNT, OSP_DOC_CV_THRESHOLD },
	{ "stepWeight", OSP_DOC_CK_WEIGHT, OSP_DOC_CV_STEP },
	{ "step_weight", OSP_DOC_CK_WEIGHT, OSP_DOC_CV_STEP },
	{ "maxWeight", OSP_DOC_CK_WEIGHT, OSP_DOC_CV_MAX },
	{ "max_weight", OSP_DOC_CK_WEIGHT, OSP_DOC_CV_MAX },
	{ "metrics", OSP_DOC_CK_METRICS, OSP_DOC_CV_N },
	{ "webhooks", OSP_DOC_CK_WEBHOOKS, OSP_DOC_CV_N },
	{ NULL, OSP_DOC_CK_WEIGHT, OSP_DOC_CV_N },
};

static void osp_doc_canary_key(osp_doc_ctx *c, const osp_cfg_node *n, const char *path,
	const osp_doc_ckey *k, const osp_cfg_node *block, int prio)
{
	uint32_t u;
	uint64_t t;
	int64_t ms;

	switch (k->kind) {
	case OSP_DOC_CK_WEIGHT:
		if (osp_doc_weight(c, n, path, &u))
			osp_doc_canary_set(c, k->cv, prio, n, path, u);
		break;
	case OSP_DOC_CK_INTERVAL:
		if (osp_doc_interval(c, n, path, &ms))
			osp_doc_canary_set(c, k->cv, prio, n, path, ms);
		break;
	case OSP_DOC_CK_COUNT:
		if (osp_doc_u64(c, n, path, 1, 1000, &t))
			osp_doc_canary_set(c, k->cv, prio, n, path, (int64_t)t);
		break;
	case OSP_DOC_CK_METRICS:
		osp_doc_metrics(c, n, path, block, prio);
		break;
	case OSP_DOC_CK_WEBHOOKS:
		osp_doc_warn(c, n, path, "not run: ospec calls no webhooks; it analyses the "
			"proxy's counters (success rate, mean response time), and smoke checks are "
			"acceptance.http_endpoints");
		break;
	}
}

/* osp_doc_canary_block reads a map of canary settings with keys. */
static void osp_doc_canary_block(osp_doc_ctx *c, const osp_cfg_node *n, const char *path,
	const osp_doc_ckey *keys, int prio)
{
	char sub[OSP_DOC_PATH_MAX];

	if (n->kind == OSP_CFG_SCALAR && n->is_null)
		return;
	if (!osp_doc_map(c, n, path))
		return;
	osp_doc_block_add(c, n, path);
	for (size_t i = 0; i < n->n; i++) {
		const osp_cfg_node *v = n->items[i];
		const osp_doc_ckey *k = keys;

		while (k->name != NULL && strcmp(k->name, v->key) != 0)
			k++;
		osp_doc_join(sub, sizeof(sub), path, v->key, 0);
		if (k->name == NULL)
			osp_doc_warn(c, v, sub, "not used by ospec");
		else
			osp_doc_canary_key(c, v, sub, k, n, prio);
	}
}

void osp_doc_canary_conf(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	osp_doc_canary_block(c, n, path, osp_doc_conf_keys, OSP_DOC_P_CONF);
}

void osp_doc_analysis(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	osp_doc_canary_block(c, n, path, osp_doc_analysis_keys, OSP_DOC_P_ANALYSIS);
}

void osp_doc_metadata(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	const osp_cfg_node *cn = osp_cfg_get(n, "canary");

	if (cn == NULL || cn->kind != OSP_CFG_MAP) {
		osp_doc_warn(c, n, path, "not used by ospec");
		return;
	}
	if (n->n > 1)
		osp_doc_warn(c, n, path, "not used by ospec, except metadata.canary (a canary's "
			"analysis)");
	osp_doc_canary_block(c, cn, "metadata.canary", osp_doc_analysis_keys, OSP_DOC_P_META);
}

/* osp_doc_success reads success_criteria: error_rate_threshold (percent)
 * and latency_p95_threshold (ms). */
static void osp_doc_success(osp_doc_ctx *c, const osp_cfg_node *n, const char *path, int prio)
{
	char sub[OSP_DOC_PATH_MAX];
	uint32_t x100;
	int64_t ms;

	if (n->kind == OSP_CFG_SCALAR && n->is_null)
		return;
	if (!osp_doc_map(c, n, path))
		return;
	osp_doc_block_add(c, n, path);
	for (size_t i = 0; i < n->n; i++) {
		const osp_cfg_node *v = n->items[i];

		osp_doc_join(sub, sizeof(sub), path, v->key, 0);
		if (strcmp(v->key, "error_rate_threshold") == 0) {
			if (osp_doc_pct(c, v, sub, &x100))
				osp_doc_canary_set(c, OSP_DOC_CV_SUCCESS, prio, v, sub, 10000 - x100);
		} else if (strcmp(v->key, "latency_p95_threshold") == 0) {
			if (osp_doc_ms(c, v, sub, &ms))
				osp_doc_canary_set(c, OSP_DOC_CV_LATENCY, prio, v, sub, ms);
		} else {
			osp_doc_warn(c, v, sub, "not used by ospec: a canary's analysis checks the "
				"proxy's counters only (error rate, mean response time)");
		}
	}
}

void osp_doc_success_mon(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	osp_doc_success(c, n, path, OSP_DOC_P_CRIT_MON);
}

static void osp_doc_success_dep(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	osp_doc_success(c, n, path, OSP_DOC_P_CRIT_DEP);
}

void osp_doc_dep_monitoring(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	static const osp_doc_key keys[] = {
		{ "success_criteria", osp_doc_success_dep, NULL },
		{ "failure_criteria", NULL, "not used by ospec: a canary is reset after "
			"--analysis-threshold failed analyses against the success criteria" },
		{ NULL, NULL, NULL },
	};

	osp_doc_walk(c, n, path, keys, false);
}

/* ---- once the strategy is known ---- */

/* osp_doc_canary_value writes value cv of the plan as its flag takes it. */
static void osp_doc_canary_value(const osp_doc_plan *p, osp_doc_cv cv, char *buf, size_t len)
{
	switch (cv) {
	case OSP_DOC_CV_INITIAL:
		snprintf(buf, len, "%u", p->canary_initial);
		break;
	case OSP_DOC_CV_STEP:
		snprintf(buf, len, "%u%s", p->canary_step, p->canary_initial == 0 ?
			" (the first weight too)" : "");
		break;
	case OSP_DOC_CV_MAX:
		snprintf(buf, len, "%u", p->canary_max);
		break;
	case OSP_DOC_CV_INTERVAL:
		osp_duration_fmt(p->analysis_interval_ms, buf, len);
		break;
	case OSP_DOC_CV_THRESHOLD:
		snprintf(buf, len, "%u", p->analysis_threshold);
		break;
	case OSP_DOC_CV_SUCCESS:
		snprintf(buf, len, "%s", p->analysis_success_rate);
		break;
	case OSP_DOC_CV_LATENCY:
		osp_duration_fmt(p->analysis_max_latency_ms, buf, len);
		snprintf(buf + strlen(buf), len - strlen(buf), " (the mean response time)");
		break;
	case OSP_DOC_CV_N:
		buf[0] = '\0';
		break;
	}
}

/* osp_doc_canary_clear forgets the canary's values (another strategy). */
static void osp_doc_canary_clear(osp_doc_plan *p)
{
	p->canary_initial = p->canary_step = p->canary_max = 0;
	p->analysis_interval_ms = -1;
	p->analysis_threshold = 0;
	p->analysis_success_rate[0] = '\0';
	p->analysis_max_latency_ms = -1;
}

/* osp_doc_canary_check: the first weight may not pass the maximum. */
static void osp_doc_canary_check(osp_doc_ctx *c)
{
	const osp_doc_prov *v = &c->prov;
	const osp_doc_plan *p = c->plan;
	const char *lat = v->canary[OSP_DOC_CV_LATENCY].key;
	size_t l = strlen(lat);

	if (p->canary_initial > 0 && p->canary_max > 0 && p->canary_initial > p->canary_max)
		osp_doc_err(c, v->canary_node[OSP_DOC_CV_INITIAL], v->canary[OSP_DOC_CV_INITIAL].key,
			"the first weight, %u%%, is above the maximum, %u%% (%s)", p->canary_initial,
			p->canary_max, v->canary[OSP_DOC_CV_MAX].key);
	else if (p->canary_initial > 50 && p->canary_max == 0)
		osp_doc_warn(c, v->canary_node[OSP_DOC_CV_INITIAL], v->canary[OSP_DOC_CV_INITIAL].key,
			"the first weight, %u%%, is above the default maximum, 50%%: give a maximum "
			"(max_traffic, maxWeight) or --canary-max", p->canary_initial);
	if (l >= 21 && strcmp(lat + l - 21, "latency_p95_threshold") == 0)
		osp_doc_warn(c, v->canary_node[OSP_DOC_CV_LATENCY], lat, "checked against the mean "
			"response time: the proxy's counters have no percentiles");
}

void osp_doc_canary_finish(osp_doc_ctx *c)
{
	const osp_doc_prov *v = &c->prov;
	osp_doc_plan *p = c->plan;
	bool canary = strcmp(p->strategy, "canary") == 0;
	char val[64];

	for (size_t i = 0; !canary && i < v->nblocks; i++) {
		if (p->strategy[0] != '\0')
			osp_doc_warn(c, v->blocks[i].node, v->blocks[i].path, "ignored: strategy "
				"is %s", p->strategy);
		else
			osp_doc_warn(c, v->blocks[i].node, v->blocks[i].path, "used only with "
				"--strategy canary (deployment.strategy is not given: rolling)");
	}
	if (!canary && p->strategy[0] != '\0') {
		osp_doc_canary_clear(p);
		return;
	}
	for (size_t cv = 0; cv < OSP_DOC_CV_N; cv++) {
		if (v->canary[cv].prio == 0)
			continue;
		osp_doc_canary_value(p, (osp_doc_cv)cv, val, sizeof(val));
		osp_doc_notef(c, v->canary[cv].key, "%s %s%s", osp_doc_cv_flag[cv], val,
			canary ? "" : " (with --strategy canary)");
	}
	osp_doc_canary_check(c);
}
