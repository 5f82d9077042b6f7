/*
 * test_coord_metrics.c - the coordinator's /metrics page
 * (coordinator/coord_metrics.c) rendered over a real store with nodes,
 * rollouts and a plan, read back by a strict parser of the Prometheus text
 * format 0.0.4 written here: every line a # HELP, a # TYPE or a sample with
 * a valid name, labels and float value; every sample's family typed;
 * histogram buckets cumulative, ending with le="+Inf" equal to _count.
 */
#include <ctype.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "coord.h"
#include "coord_control.h"
#include "coord_engine_hooks.h"
#include "coord_metrics.h"
#include "coord_active.h"
#include "test_support.h"
#include "test_support_coord.h"

#define TM_SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define TM_MAX_SAMPLES 512
#define TM_MAX_FAMILIES 96

/* ------------------------------------------------------------ the parser */

typedef struct tm_family {
	char name[128];
	char type[16]; /* "" until its # TYPE */
	bool help;
	size_t samples;
} tm_family;

typedef struct tm_sample {
	char name[128];
	char labels[256]; /* as written between the braces, "" if none */
	double value;
	size_t family;
} tm_sample;

typedef struct tm_page {
	tm_family fam[TM_MAX_FAMILIES];
	size_t nfam;
	tm_sample s[TM_MAX_SAMPLES];
	size_t ns;
	char err[256];
} tm_page;

static bool tm_fail(tm_page *p, size_t line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static bool tm_fail(tm_page *p, size_t line, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(p->err, sizeof(p->err), "line %zu: %s", line, msg);
	return false;
}

/* tm_name_len is the length of the metric (or, with label, label) name at s. */
static size_t tm_name_len(const char *s, bool label)
{
	size_t n = 0;

	if (!(isalpha((unsigned char)s[0]) || s[0] == '_' || (!label && s[0] == ':')))
		return 0;
	while (isalnum((unsigned char)s[n]) || s[n] == '_' || (!label && s[n] == ':'))
		n++;
	return n;
}

static tm_family *tm_family_get(tm_page *p, const char *name, size_t len)
{
	for (size_t i = 0; i < p->nfam; i++)
		if (strlen(p->fam[i].name) == len && strncmp(p->fam[i].name, name, len) == 0)
			return &p->fam[i];
	if (p->nfam == TM_MAX_FAMILIES || len >= sizeof(p->fam[0].name))
		return NULL;
	memcpy(p->fam[p->nfam].name, name, len);
	return &p->fam[p->nfam++];
}

/* tm_comment parses "# HELP name text" or "# TYPE name type". */
static bool tm_comment(tm_page *p, size_t ln, const char *l)
{
	bool help = strncmp(l, "# HELP ", 7) == 0;
	size_t n;
	tm_family *f;

	if (!help && strncmp(l, "# TYPE ", 7) != 0)
		return tm_fail(p, ln, "a comment that is neither # HELP nor # TYPE");
	if ((n = tm_name_len(l + 7, false)) == 0 || l[7 + n] != ' ')
		return tm_fail(p, ln, "bad metric name in a comment");
	if ((f = tm_family_get(p, l + 7, n)) == NULL)
		return tm_fail(p, ln, "too many families");
	if (f->samples > 0)
		return tm_fail(p, ln, "%s: comment after its samples", f->name);
	if (help) {
		if (f->help || l[8 + n] == '\0')
			return tm_fail(p, ln, "%s: second or empty HELP", f->name);
		f->help = true;
		return true;
	}
	if (f->type[0] != '\0')
		return tm_fail(p, ln, "%s: second TYPE", f->name);
	if (strcmp(l + 8 + n, "counter") != 0 && strcmp(l + 8 + n, "gauge") != 0 &&
		strcmp(l + 8 + n, "histogram") != 0)
		return tm_fail(p, ln, "%s: bad type '%s'", f->name, l + 8 + n);
	osp_strlcpy(f->type, l + 8 + n, sizeof(f->type));
	return true;
}

/* tm_labels checks {name="value",...} at l; *end is past the '}'. */
static bool tm_labels(tm_page *p, size_t ln, const char *l, const char **end)
{
	const char *q = l + 1;

	while (*q != '}') {
		size_t n = tm_name_len(q, true);

		if (n == 0 || q[n] != '=' || q[n + 1] != '"')
			return tm_fail(p, ln, "bad label at '%.20s'", q);
		for (q += n + 2; *q != '"'; q++) {
			if (*q == '\0' || *q == '\n')
				return tm_fail(p, ln, "unterminated label value");
			if (*q == '\\' && q[1] != '\\' && q[1] != '"' && q[1] != 'n')
				return tm_fail(p, ln, "bad escape in a label value");
			if (*q == '\\')
				q++;
		}
		q++;
		if (*q == ',' && q[1] != '}')
			q++;
		else if (*q != '}')
			return tm_fail(p, ln, "expected , or } after a label");
	}
	*end = q + 1;
	return true;
}

/* tm_family_of finds the typed family of a sample name (a histogram's
 * _bucket, _sum and _count belong to it). */
static tm_family *tm_family_of(tm_page *p, const char *name)
{
	static const char *const sfx[] = { "_bucket", "_sum", "_count" };
	size_t len = strlen(name);

	for (size_t i = 0; i < p->nfam; i++) {
		const char *fn = p->fam[i].name;
		size_t fl = strlen(fn);

		if (strcmp(fn, name) == 0 && strcmp(p->fam[i].type, "histogram") != 0)
			return &p->fam[i];
		for (size_t k = 0; k < 3; k++)
			if (strcmp(p->fam[i].type, "histogram") == 0 && len == fl + strlen(sfx[k]) &&
				strncmp(name, fn, fl) == 0 && strcmp(name + fl, sfx[k]) == 0)
				return &p->fam[i];
	}
	return NULL;
}

static bool tm_sample_line(tm_page *p, size_t ln, const char *l)
{
	size_t n = tm_name_len(l, false);
	const char *q = l + n, *lab = NULL, *v;
	char *e;
	tm_sample *s;
	tm_family *f;

	if (n == 0 || n >= sizeof(s->name))
		return tm_fail(p, ln, "bad metric name");
	if (*q == '{') {
		lab = q + 1;
		if (!tm_labels(p, ln, q, &q))
			return false;
	}
	if (*q != ' ' || p->ns == TM_MAX_SAMPLES)
		return tm_fail(p, ln, "expected one space before the value");
	s = &p->s[p->ns];
	memcpy(s->name, l, n);
	s->name[n] = '\0';
	if (lab != NULL && (size_t)(q - 1 - lab) < sizeof(s->labels))
		memcpy(s->labels, lab, (size_t)(q - 1 - lab));
	v = q + 1;
	if (strcmp(v, "+Inf") == 0 || strcmp(v, "-Inf") == 0 || strcmp(v, "NaN") == 0)
		s->value = strtod(v, NULL);
	else if (*v == '\0' || isspace((unsigned char)*v) ||
		(s->value = strtod(v, &e), *e != '\0'))
		return tm_fail(p, ln, "bad value '%s'", v);
	if ((f = tm_family_of(p, s->name)) == NULL)
		return tm_fail(p, ln, "%s: no # TYPE before it", s->name);
	for (size_t i = 0; i < p->ns; i++)
		if (strcmp(p->s[i].name, s->name) == 0 && strcmp(p->s[i].labels, s->labels) == 0)
			return tm_fail(p, ln, "%s{%s}: twice", s->name, s->labels);
	if (p->ns > 0 && p->s[p->ns - 1].family != (size_t)(f - p->fam) && f->samples > 0)
		return tm_fail(p, ln, "%s: samples of a family are not together", s->name);
	s->family = (size_t)(f - p->fam);
	f->samples++;
	p->ns++;
	return true;
}

/* tm_histograms checks every histogram: buckets with increasing le,
 * cumulative counts, the last le="+Inf" equal to _count, a _sum. */
static bool tm_histograms(tm_page *p)
{
	for (size_t fi = 0; fi < p->nfam; fi++) {
		double prev_le = -INFINITY, prev = 0, count = NAN;
		bool inf = false, sum = false;
		char bucket[160], cnt[160], sm[160];

		if (strcmp(p->fam[fi].type, "histogram") != 0)
			continue;
		snprintf(bucket, sizeof(bucket), "%s_bucket", p->fam[fi].name);
		snprintf(cnt, sizeof(cnt), "%s_count", p->fam[fi].name);
		snprintf(sm, sizeof(sm), "%s_sum", p->fam[fi].name);
		for (size_t i = 0; i < p->ns; i++) {
			const tm_sample *s = &p->s[i];
			double le;

			if (strcmp(s->name, cnt) == 0)
				count = s->value;
			sum |= strcmp(s->name, sm) == 0;
			if (strcmp(s->name, bucket) != 0)
				continue;
			if (strncmp(s->labels, "le=\"", 4) != 0 || inf)
				return tm_fail(p, 0, "%s: a bucket without le or after +Inf", bucket);
			le = strcmp(s->labels, "le=\"+Inf\"") == 0 ? INFINITY : strtod(s->labels + 4, NULL);
			if (le <= prev_le || s->value < prev)
				return tm_fail(p, 0, "%s{%s}: not cumulative", bucket, s->labels);
			inf = isinf(le);
			prev_le = le;
			prev = s->value;
		}
		if (!inf || !sum || prev != count)
			return tm_fail(p, 0, "%s: no +Inf bucket equal to _count, or no _sum",
				p->fam[fi].name);
	}
	return true;
}

/* tm_parse reads the whole page into p; false with p->err on any defect. */
static bool tm_parse(tm_page *p, const char *text)
{
	char line[1024];
	size_t ln = 0;

	memset(p, 0, sizeof(*p));
	if (text[0] == '\0' || text[strlen(text) - 1] != '\n')
		return tm_fail(p, 0, "empty, or the last line has no newline");
	for (const char *l = text; *l != '\0';) {
		const char *nl = strchr(l, '\n');
		size_t n = (size_t)(nl - l);

		ln++;
		if (n >= sizeof(line))
			return tm_fail(p, ln, "line too long");
		memcpy(line, l, n);
		line[n] = '\0';
		l = nl + 1;
		if (n == 0)
			return tm_fail(p, ln, "empty line");
		if (line[0] == '#' ? !tm_comment(p, ln, line) : !tm_sample_line(p, ln, line))
			return false;
	}
	return tm_histograms(p);
}

/* tm_value returns the value of name{labels}; fails the test if absent. */
static double tm_value(const tm_page *p, const char *name, const char *labels)
{
	for (size_t i = 0; i < p->ns; i++)
		if (strcmp(p->s[i].name, name) == 0 && strcmp(p->s[i].labels, labels) == 0)
			return p->s[i].value;
	fail_msg("%s{%s} is not on the page", name, labels);
	return NAN;
}

/* ------------------------------------------------------------- fixtures */

static coord_node *tm_node(ts_coord_fx *f, const char *id, bool up, bool cordoned)
{
	coord_node *n = coord_node_add(&f->c, id, "00000000-0000-4000-8000-000000000001");

	assert_non_null(n);
	n->state = up ? COORD_NODE_UP : COORD_NODE_DOWN;
	n->cordoned = cordoned;
	return n;
}

/* tm_put stores key=val (n bytes) in db, committed. */
static void tm_put(ts_coord_fx *f, const char *db, const char *key, const void *val, size_t n)
{
	osp_txn *t = NULL;

	assert_int_equal(osp_store_txn_begin(f->c.store, true, &t), OSP_OK);
	assert_int_equal(osp_store_put(t, db, key, strlen(key), val, n), OSP_OK);
	assert_int_equal(osp_store_txn_commit(t), OSP_OK);
}

/* tm_put_rollout stores a finished rollout record id in state. */
static void tm_put_rollout(ts_coord_fx *f, const char *id, coord_ro_state state)
{
	Ospec__V1__RolloutRecord r = OSPEC__V1__ROLLOUT_RECORD__INIT;
	uint8_t buf[512];

	r.id = (char *)id;
	r.app = "old";
	r.version = "0";
	r.has_state = 1;
	r.state = state;
	assert_true(ospec__v1__rollout_record__get_packed_size(&r) <= sizeof(buf));
	tm_put(f, "rollouts", id, buf, ospec__v1__rollout_record__pack(&r, buf));
}

/* tm_deploy deploys hello 2 to every up node, all in one batch. */
static coord_ro_entry *tm_deploy(ts_coord_fx *f)
{
	return ts_coord_deploy(f, TM_SHA, "10");
}

/* tm_answer has node's stage answered ok or failed, its command issued
 * ago_ms before now. */
static void tm_answer(ts_coord_fx *f, coord_ro_entry *e, const char *node, bool ok,
	int64_t ago_ms)
{
	Ospec__V1__CommandResult r;
	coord_ro_step *st = NULL;

	for (size_t i = 0; i < e->ro.nsteps; i++)
		if (strcmp(e->ro.steps[i].node, node) == 0)
			st = &e->ro.steps[i];
	assert_non_null(st);
	assert_int_equal(st->cmd, COORD_RO_CMD_STAGE);
	st->started_ms = osp_now_wall_ms() - ago_ms;
	ospec__v1__command_result__init(&r);
	r.app = "hello";
	r.seq = st->seq;
	r.status = ok ? OSPEC__V1__RESULT_STATUS__RESULT_OK : OSPEC__V1__RESULT_STATUS__RESULT_FAILED;
	r.message = ok ? "" : "health check failed";
	r.version = ok ? "2" : "";
	r.sha256 = ok ? TM_SHA : "";
	r.has_kind = 1;
	r.kind = OSPEC__V1__COMMAND__KIND_STAGE;
	assert_int_equal(coord_engine_on_result(&f->c, coord_node_find(&f->c, node), &r), OSP_OK);
}

/* tm_render renders the page and parses it strictly into p. */
static void tm_render(ts_coord_fx *f, tm_page *p)
{
	osp_buf page;

	osp_buf_init(&page, COORD_METRICS_MAX);
	assert_int_equal(coord_metrics_render(&f->c, &page), OSP_OK);
	assert_non_null(page.data);
	if (!tm_parse(p, page.data))
		fail_msg("not Prometheus text 0.0.4: %s\n%s", p->err, page.data);
	osp_buf_fini(&page);
}

/* ---------------------------------------------------------------- tests */

/* Nodes, rollouts and plans by state, the stage durations observed by the
 * glue when results come in, and the counters of `ospecctl stats`. */
static void test_coord_metrics_page(void **state)
{
	ts_coord_fx *f = *state;
	tm_page *p = calloc(1, sizeof(*p));
	coord_ro_entry *e;

	assert_non_null(p);
	tm_node(f, "n1", true, false);
	tm_node(f, "n2", true, false);
	tm_node(f, "n3", true, false);
	tm_node(f, "n4", false, true);
	tm_put_rollout(f, "old-1", COORD_RO_SUCCEEDED);
	tm_put_rollout(f, "old-2", COORD_RO_SUCCEEDED);
	tm_put_rollout(f, "old-3", COORD_RO_ROLLED_BACK);
	e = tm_deploy(f);
	tm_answer(f, e, "n1", true, 7000);   /* le=10 */
	tm_answer(f, e, "n2", false, 45000); /* le=60 */
	f->c.stats.requests = 42;
	f->c.stats.commands_sent = 5;
	f->c.stats.results[1] = 2;
	f->c.stats.refused_by[COORD_RL_REFUSED_PROOF] = 3;
	coord_metrics_switch_skew(&f->c, 1500);
	coord_metrics_ctl(&f->c, 0.002);
	tm_render(f, p);

	assert_true(tm_value(p, "ospec_nodes", "state=\"up\"") == 3);
	assert_true(tm_value(p, "ospec_nodes", "state=\"down\"") == 1);
	assert_true(tm_value(p, "ospec_nodes_cordoned", "") == 1);
	assert_true(tm_value(p, "ospec_rollouts", "state=\"succeeded\"") == 2);
	assert_true(tm_value(p, "ospec_rollouts", "state=\"rolled_back\"") == 1);
	assert_true(tm_value(p, "ospec_rollouts", "state=\"running\"") == 1);
	assert_true(tm_value(p, "ospec_rollouts", "state=\"aborted\"") == 0);
	assert_true(tm_value(p, "ospec_plans", "state=\"running\"") == 0);
	assert_true(tm_value(p, "ospec_step_duration_seconds_bucket", "le=\"5\"") == 0);
	assert_true(tm_value(p, "ospec_step_duration_seconds_bucket", "le=\"10\"") == 1);
	assert_true(tm_value(p, "ospec_step_duration_seconds_bucket", "le=\"30\"") == 1);
	assert_true(tm_value(p, "ospec_step_duration_seconds_bucket", "le=\"60\"") == 2);
	assert_true(tm_value(p, "ospec_step_duration_seconds_count", "") == 2);
	assert_true(fabs(tm_value(p, "ospec_step_duration_seconds_sum", "") - 52) < 1);
	assert_true(tm_value(p, "ospec_switch_skew_seconds", "") == 1.5);
	assert_true(tm_value(p, "ospec_agent_requests_total", "") == 42);
	assert_true(tm_value(p, "ospec_commands_sent_total", "") == 5);
	assert_true(tm_value(p, "ospec_results_total", "status=\"failed\"") == 2);
	assert_true(tm_value(p, "ospec_results_total", "status=\"ok\"") == 0);
	assert_true(tm_value(p, "ospec_registers_refused_total", "reason=\"proof\"") == 3);
	assert_true(tm_value(p, "ospec_control_request_duration_seconds_bucket", "le=\"0.001\"") ==
		0);
	assert_true(tm_value(p, "ospec_control_request_duration_seconds_bucket", "le=\"0.005\"") ==
		1);
	assert_true(tm_value(p, "ospec_store_bytes", "") > 0);
	assert_true(tm_value(p, "ospec_store_bytes", "") <=
		tm_value(p, "ospec_store_map_size_bytes", ""));
	free(p);
}

/* A plan counts under ospec_plans; a record whose state cannot be read is
 * counted as unreadable, never a crash or a missing page. */
static void test_coord_metrics_plans_and_bad_records(void **state)
{
	ts_coord_fx *f = *state;
	Ospec__V1__PlanRecord pr = OSPEC__V1__PLAN_RECORD__INIT;
	uint8_t buf[256];
	tm_page *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	pr.id = "hello-7";
	pr.app = "hello";
	pr.version = "7";
	pr.has_state = 1;
	pr.state = COORD_RO_WAITING_APPROVAL;
	assert_true(ospec__v1__plan_record__get_packed_size(&pr) <= sizeof(buf));
	tm_put(f, "plans", pr.id, buf, ospec__v1__plan_record__pack(&pr, buf));
	tm_put(f, "rollouts", "bad-1", "\x0a\x7f", 2); /* a string longer than the record */
	tm_put(f, "plans", "bad-2", "\x30\x2a", 2);    /* state (field 6) 42 */
	tm_render(f, p);
	assert_true(tm_value(p, "ospec_plans", "state=\"waiting_approval\"") == 1);
	assert_true(tm_value(p, "ospec_plans", "state=\"pending\"") == 0);
	assert_true(tm_value(p, "ospec_store_records_unreadable", "db=\"rollouts\"") == 1);
	assert_true(tm_value(p, "ospec_store_records_unreadable", "db=\"plans\"") == 1);
	for (size_t i = 0; i < p->ns; i++)
		if (strcmp(p->s[i].name, "ospec_rollouts") == 0)
			assert_true(p->s[i].value == 0);
	/* no switch committed yet: the gauge has no sample */
	for (size_t i = 0; i < p->ns; i++)
		assert_string_not_equal(p->s[i].name, "ospec_switch_skew_seconds");
	free(p);
}

/* Without a store the page is an error (the HTTP handler answers 500). */
static void test_coord_metrics_no_store(void **state)
{
	ts_coord_fx *f = *state;
	osp_store *s = f->c.store;
	osp_buf page;

	osp_buf_init(&page, COORD_METRICS_MAX);
	f->c.store = NULL;
	assert_int_not_equal(coord_metrics_render(&f->c, &page), OSP_OK);
	f->c.store = s;
	/* too small a buffer: an error, not a cut page */
	osp_buf_fini(&page);
	osp_buf_init(&page, 512);
	assert_int_equal(coord_metrics_render(&f->c, &page), OSP_ETOOBIG);
	osp_buf_fini(&page);
}

/* The parser above is what the other tests trust: it must refuse each
 * defect it claims to find. */
static void test_coord_metrics_parser_refuses(void **state)
{
	static const char *const bad[] = {
		"x_total 1\n",                                          /* no TYPE */
		"# TYPE x gauge\nx{a=\"1\"} 1\nx{a=\"1\"} 2\n",         /* twice */
		"# TYPE x gauge\nx{a=1} 1\n",                           /* unquoted */
		"# TYPE x gauge\nx{a=\"1\",} 1\n",                      /* trailing comma */
		"# TYPE x gauge\nx 1.5z\n",                             /* bad float */
		"# TYPE 1x gauge\n",                                    /* bad name */
		"# TYPE x summary\n",                                   /* not ours */
		"# TYPE x gauge\nx 1",                                  /* no newline */
		"# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"2\"} 1\n"
		"h_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 2\n",        /* not cumulative */
		"# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\n"
		"h_sum 1\nh_count 2\n",                                 /* +Inf != count */
		"# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n", /* no +Inf */
	};
	tm_page *p = calloc(1, sizeof(*p));

	(void)state;
	assert_non_null(p);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (tm_parse(p, bad[i]))
			fail_msg("accepted: %s", bad[i]);
	assert_true(tm_parse(p, "# HELP x a gauge\n# TYPE x gauge\nx{a=\"q\\\"\"} -Inf\n"));
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_coord_metrics_page, ts_coord_setup,
			ts_coord_teardown),
		cmocka_unit_test_setup_teardown(test_coord_metrics_plans_and_bad_records,
			ts_coord_setup, ts_coord_teardown),
		cmocka_unit_test_setup_teardown(test_coord_metrics_no_store, ts_coord_setup,
			ts_coord_teardown),
		cmocka_unit_test(test_coord_metrics_parser_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
