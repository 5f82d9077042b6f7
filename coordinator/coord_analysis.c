/*
 * coord_analysis.c - the canary's optional external check: one PromQL query
 * against a Prometheus HTTP API (`deploy --analysis-url`) at every analysis.
 *
 * The engine asks with COORD_RO_ACT_QUERY; the request is queued here (under
 * c->mtx, after the transaction that asked was built) and a worker thread of
 * its own runs it with libcurl, so the coordinator's loop never waits on a
 * remote server. The answer goes back as COORD_RO_EV_METRIC through
 * coord_engine_on_metric, which takes c->mtx like any other event source.
 * The worker holds its own lock only to take a job, never with c->mtx.
 */
#include "coord_analysis.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "coord_engine_hooks.h"
#include "coord_active.h"
#include "ospec/json.h"
#include "ospec/log.h"
#include "ospec/url_redact.h"
#include "ospec/util.h"

#define COORD_AN_TIMEOUT_MS 5000
#define COORD_AN_REPLY_MAX (1024 * 1024)
#define COORD_AN_QUEUE_MAX 256

typedef struct coord_an_job {
	struct coord_an_job *next;
	char id[64];
	char url[COORD_AN_URL_MAX + 1];
	char query[COORD_AN_QUERY_MAX * 2 + 64]; /* placeholders filled in */
	char min[40], max[40];
	uint64_t analysis;      /* which analysis asked (EV_METRIC.seq) */
} coord_an_job;

typedef struct coord_analysis coord_analysis;

struct coord_analysis {
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	pthread_t thr;
	bool started, stop;
	coord_an_job *head, *tail;
	size_t n;
};

/* coord_an_fill copies tpl into out with {app}, {version} and {interval}
 * replaced; false if it does not fit. */
static bool coord_an_fill(const char *tpl, const char *app, const char *version,
	int64_t interval_ms, char *out, size_t len)
{
	char iv[32];
	size_t o = 0;

	snprintf(iv, sizeof(iv), "%llds", (long long)((interval_ms + 999) / 1000));
	for (const char *p = tpl; *p != '\0';) {
		const char *val = NULL;
		size_t skip = 0;

		if (strncmp(p, "{app}", 5) == 0)
			val = app, skip = 5;
		else if (strncmp(p, "{version}", 9) == 0)
			val = version, skip = 9;
		else if (strncmp(p, "{interval}", 10) == 0)
			val = iv, skip = 10;
		if (val != NULL) {
			size_t vl = strlen(val);
			if (o + vl >= len)
				return false;
			memcpy(out + o, val, vl);
			o += vl;
			p += skip;
			continue;
		}
		if (o + 1 >= len)
			return false;
		out[o++] = *p++;
	}
	out[o] = '\0';
	return true;
}

static size_t coord_an_write(char *p, size_t sz, size_t n, void *arg)
{
	osp_buf *b = arg;

	if (b->len + sz * n > COORD_AN_REPLY_MAX)
		return 0; /* too big: curl fails the transfer */
	return osp_buf_append(b, p, sz * n) == OSP_OK ? sz * n : 0;
}

/* coord_an_value finds the one value of a Prometheus query answer. */
static bool coord_an_value(const osp_json *doc, double *v, char *why, size_t len)
{
	const osp_json *data = osp_json_get(doc, "data"), *res, *pair = NULL;
	const char *type, *status = osp_json_get_str(doc, "status");
	char *end;

	if (status == NULL || strcmp(status, "success") != 0) {
		snprintf(why, len, "Prometheus answered %s: %s", status ? status : "no status",
			osp_json_get_str(doc, "error") ? osp_json_get_str(doc, "error") : "no error");
		return false;
	}
	type = data != NULL ? osp_json_get_str(data, "resultType") : NULL;
	res = data != NULL ? osp_json_get(data, "result") : NULL;
	if (type == NULL || res == NULL || res->type != OSP_JSON_ARR) {
		snprintf(why, len, "not a Prometheus query answer (no data.result)");
		return false;
	}
	if (strcmp(type, "scalar") == 0) {
		pair = res;
	} else if (strcmp(type, "vector") == 0) {
		if (res->n != 1) {
			snprintf(why, len, "%zu series; the query must give exactly one value", res->n);
			return false;
		}
		pair = osp_json_get(res->items[0], "value");
	} else {
		snprintf(why, len, "result type %s; the query must give a scalar or one series",
			type);
		return false;
	}
	if (pair == NULL || pair->type != OSP_JSON_ARR || pair->n != 2 ||
		pair->items[1]->type != OSP_JSON_STR) {
		snprintf(why, len, "malformed sample in the answer");
		return false;
	}
	*v = strtod(pair->items[1]->str, &end);
	if (end == pair->items[1]->str || *end != '\0' || isnan(*v)) {
		snprintf(why, len, "the value is not a number ('%.32s')", pair->items[1]->str);
		return false;
	}
	return true;
}

/* coord_an_run runs one job: ok when the value is within its range; msg
 * says the value or why there is none. */
static bool coord_an_run(const coord_an_job *j, char *msg, size_t len)
{
	CURL *h = curl_easy_init();
	char *q = NULL, url[COORD_AN_URL_MAX * 2 + 4096], shown[COORD_AN_URL_MAX + 1];
	osp_json *doc = NULL;
	long code = 0;
	osp_buf b;
	double v = 0;
	bool ok = false;
	CURLcode rc;

	osp_buf_init(&b, 4096);
	if (osp_url_redact(j->url, shown, sizeof(shown)) != OSP_OK)
		osp_strlcpy(shown, "(the analysis URL)", sizeof(shown));
	if (h == NULL || (q = curl_easy_escape(h, j->query, 0)) == NULL) {
		snprintf(msg, len, "out of memory");
		goto out;
	}
	snprintf(url, sizeof(url), "%s%sapi/v1/query?query=%s", j->url,
		j->url[strlen(j->url) - 1] == '/' ? "" : "/", q);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)COORD_AN_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, coord_an_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	if ((rc = curl_easy_perform(h)) != CURLE_OK) {
		snprintf(msg, len, "%s: %s", shown, curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	if (b.data == NULL || osp_json_parse(b.data, b.len, &doc, msg, len) != OSP_OK) {
		snprintf(msg, len, "%s: HTTP %ld, not JSON", shown, code);
		goto out;
	}
	if (!coord_an_value(doc, &v, msg, len))
		goto out;
	if (j->min[0] != '\0' && v < strtod(j->min, NULL))
		snprintf(msg, len, "value %g below %s", v, j->min);
	else if (j->max[0] != '\0' && v > strtod(j->max, NULL))
		snprintf(msg, len, "value %g above %s", v, j->max);
	else
		ok = true, snprintf(msg, len, "value %g", v);
out:
	osp_json_free(doc);
	curl_free(q);
	if (h != NULL)
		curl_easy_cleanup(h);
	osp_buf_fini(&b);
	return ok;
}

static void *coord_an_main(void *arg)
{
	coord *c = arg;
	coord_analysis *a = c->analysis;

	for (;;) {
		coord_an_job *j;
		char msg[512];
		bool ok;

		pthread_mutex_lock(&a->mtx);
		while (a->head == NULL && !a->stop)
			pthread_cond_wait(&a->cv, &a->mtx);
		if (a->stop) {
			pthread_mutex_unlock(&a->mtx);
			return NULL;
		}
		j = a->head;
		a->head = j->next;
		if (a->head == NULL)
			a->tail = NULL;
		a->n--;
		pthread_mutex_unlock(&a->mtx);
		msg[0] = '\0';
		ok = coord_an_run(j, msg, sizeof(msg));
		OSP_INFO("COORD-ANALYSIS", "rollout '%s': metrics query %s: %s", j->id,
			ok ? "passed" : "failed", msg);
		coord_engine_on_metric(c, j->id, j->analysis, ok, msg);
		free(j);
	}
}

void coord_analysis_request(coord *c, const coord_ro_entry *e)
{
	const Ospec__V1__CanaryRecord *cr = e->rec->canary;
	coord_analysis *a = c->analysis;
	coord_an_job *j;

	if (cr == NULL || cr->analysis_url == NULL || cr->analysis_url[0] == '\0')
		return;
	if (a == NULL) {
		if ((a = calloc(1, sizeof(*a))) == NULL)
			return; /* the analysis ends without an answer: a failed check */
		pthread_mutex_init(&a->mtx, NULL);
		pthread_cond_init(&a->cv, NULL);
		c->analysis = a;
	}
	if (!a->started) {
		if (pthread_create(&a->thr, NULL, coord_an_main, c) != 0) {
			OSP_ERROR("COORD-ANALYSIS", "cannot start the metrics query thread");
			return;
		}
		a->started = true;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return;
	osp_strlcpy(j->id, e->ro.id, sizeof(j->id));
	j->analysis = (uint64_t)e->ro.canary.analyses + 1;
	osp_strlcpy(j->url, cr->analysis_url, sizeof(j->url));
	osp_strlcpy(j->min, cr->query_min ? cr->query_min : "", sizeof(j->min));
	osp_strlcpy(j->max, cr->query_max ? cr->query_max : "", sizeof(j->max));
	if (!coord_an_fill(cr->analysis_query ? cr->analysis_query : "", e->ro.app,
		    e->ro.version, cr->interval_ms, j->query, sizeof(j->query))) {
		free(j);
		return;
	}
	pthread_mutex_lock(&a->mtx);
	if (a->n >= COORD_AN_QUEUE_MAX) {
		pthread_mutex_unlock(&a->mtx);
		OSP_WARN("COORD-ANALYSIS", "rollout '%s': %d metrics queries waiting; not asked",
			e->ro.id, COORD_AN_QUEUE_MAX);
		free(j);
		return;
	}
	if (a->tail != NULL)
		a->tail->next = j;
	else
		a->head = j;
	a->tail = j;
	a->n++;
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mtx);
}

void coord_analysis_stop(coord *c)
{
	coord_analysis *a = c->analysis;

	if (a == NULL)
		return;
	pthread_mutex_lock(&a->mtx);
	a->stop = true;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mtx);
	if (a->started)
		pthread_join(a->thr, NULL); /* at most one query's timeout */
	while (a->head != NULL) {
		coord_an_job *j = a->head;
		a->head = j->next;
		free(j);
	}
	pthread_cond_destroy(&a->cv);
	pthread_mutex_destroy(&a->mtx);
	free(a);
	c->analysis = NULL;
}

int coord_analysis_args(const char *url, const char *query, const char *min, const char *max,
	char *err, size_t errlen)
{
	char *end;

	if (url == NULL) {
		if (query == NULL && min == NULL && max == NULL)
			return 0;
		snprintf(err, errlen, "--analysis-query and its range need --analysis-url");
		return -1;
	}
	if (strlen(url) > COORD_AN_URL_MAX ||
		(strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) ||
		strlen(url) < 9) {
		snprintf(err, errlen, "--analysis-url: expected the http:// or https:// URL of a "
			"Prometheus server, at most %d bytes", COORD_AN_URL_MAX);
		return -1;
	}
	if (query == NULL || query[0] == '\0' || strlen(query) > COORD_AN_QUERY_MAX) {
		snprintf(err, errlen, "--analysis-url needs --analysis-query PROMQL (1 to %d bytes)",
			COORD_AN_QUERY_MAX);
		return -1;
	}
	if (min == NULL && max == NULL) {
		snprintf(err, errlen, "--analysis-query needs --analysis-query-min X and/or "
			"--analysis-query-max X (the range its value must be in)");
		return -1;
	}
	for (int k = 0; k < 2; k++) {
		const char *v = k == 0 ? min : max;
		double d;

		if (v == NULL)
			continue;
		d = strtod(v, &end);
		if (strlen(v) >= 40 || end == v || *end != '\0' || isnan(d) || isinf(d)) {
			snprintf(err, errlen, "--analysis-query-%s: expected a number", k ? "max" : "min");
			return -1;
		}
	}
	return 0;
}
