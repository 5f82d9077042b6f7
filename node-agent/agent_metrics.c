/* agent_metrics.c - the agent's /metrics page and its counters
 * (agent_metrics.h): Prometheus text format 0.0.4, every family with # HELP
 * and # TYPE, names with the ospec_agent_ prefix, counters ending _total,
 * durations in seconds, sizes in bytes. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

#include "agent.h"
#include "agent_metrics.h"
#include "ospec/prom.h"


/* Command kinds by kind_case - 10 (wire.proto, Command.kind), then unknown. */
static const char *const agent_metrics_kinds[] = {
	"noop", "stage", "revert", "stop", "prepare", "decision", "scale_down", "weight",
	"stats", "unknown",
};
#define AGENT_METRICS_KINDS (sizeof(agent_metrics_kinds) / sizeof(agent_metrics_kinds[0]))
#define AGENT_METRICS_KIND_FIRST 10

/* Result statuses by ResultStatus value, then unknown (as the coordinator's
 * ospec_results_total). */
static const char *const agent_metrics_results[] = {
	"ok", "failed", "in_progress", "refused", "vote_yes", "vote_no", "unknown",
};
#define AGENT_METRICS_RESULTS (sizeof(agent_metrics_results) / sizeof(agent_metrics_results[0]))

static const char *const agent_metrics_fetch_names[AGENT_METRICS_FETCH_N] = {
	"ok", "failed", "cached",
};

/* Upper bounds of the fetch duration buckets (+Inf implied, last). */
static const double agent_metrics_fetch_le[] = { 0.1, 0.5, 1, 5, 10, 30, 60, 300, 600 };
#define AGENT_METRICS_LE_N (sizeof(agent_metrics_fetch_le) / sizeof(agent_metrics_fetch_le[0]))

/* The process's counters, under agent_metrics_mtx (bumped a few times a
 * second at most: a mutex is plenty and keeps the histogram consistent). */
typedef struct agent_metrics_counts {
	uint64_t health[2]; /* [0] failed, [1] ok */
	uint64_t fetches[AGENT_METRICS_FETCH_N];
	uint64_t fetch_bytes;
	uint64_t fetch_le[AGENT_METRICS_LE_N + 1]; /* per bucket, not cumulative; last +Inf */
	double fetch_sum;
	uint64_t commands[AGENT_METRICS_KINDS][AGENT_METRICS_RESULTS];
} agent_metrics_counts;
static agent_metrics_counts agent_metrics_c;
static pthread_mutex_t agent_metrics_mtx = PTHREAD_MUTEX_INITIALIZER;

void agent_metrics_fetch(agent_metrics_fetch_result r, uint64_t bytes, double seconds)
{
	size_t i = 0;

	if ((unsigned)r >= AGENT_METRICS_FETCH_N)
		return;
	if (seconds < 0)
		seconds = 0;
	pthread_mutex_lock(&agent_metrics_mtx);
	agent_metrics_c.fetches[r]++;
	if (r != AGENT_METRICS_FETCH_CACHED) {
		while (i < AGENT_METRICS_LE_N && seconds > agent_metrics_fetch_le[i])
			i++;
		agent_metrics_c.fetch_le[i]++;
		agent_metrics_c.fetch_sum += seconds;
		agent_metrics_c.fetch_bytes += bytes;
	}
	pthread_mutex_unlock(&agent_metrics_mtx);
}

void agent_metrics_health(bool ok)
{
	pthread_mutex_lock(&agent_metrics_mtx);
	agent_metrics_c.health[ok ? 1 : 0]++;
	pthread_mutex_unlock(&agent_metrics_mtx);
}

void agent_metrics_command(int kind_case, int status)
{
	size_t k = AGENT_METRICS_KINDS - 1, r = AGENT_METRICS_RESULTS - 1;

	if (kind_case >= AGENT_METRICS_KIND_FIRST &&
		kind_case < AGENT_METRICS_KIND_FIRST + (int)AGENT_METRICS_KINDS - 1)
		k = (size_t)(kind_case - AGENT_METRICS_KIND_FIRST);
	if (status >= 0 && status < (int)AGENT_METRICS_RESULTS - 1)
		r = (size_t)status;
	pthread_mutex_lock(&agent_metrics_mtx);
	agent_metrics_c.commands[k][r]++;
	pthread_mutex_unlock(&agent_metrics_mtx);
}


static void agent_mw_family(osp_prom_w *w, const char *name, const char *type, const char *help)
{
	osp_prom_printf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* agent_mw_label escapes s as a label value (\\, \", \n) into out, cut at a
 * whole character below outlen (a version is the OSpec's text). */
static void agent_mw_label(const char *s, char *out, size_t outlen)
{
	size_t o = 0;

	for (; s != NULL && *s != '\0'; s++) {
		const char *esc = *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : *s == '\n' ? "\\n" : NULL;
		size_t need = esc != NULL ? 2 : 1;

		if (o + need >= outlen)
			break;
		if (esc != NULL)
			memcpy(out + o, esc, 2);
		else
			out[o] = *s;
		o += need;
	}
	/* cut inside a UTF-8 sequence (the next byte continues it): drop the
	 * sequence's bytes already copied, so the value stays valid UTF-8 */
	if (s != NULL && *s != '\0' && ((unsigned char)*s & 0xc0) == 0x80) {
		while (o > 0 && ((unsigned char)out[o - 1] & 0xc0) == 0x80)
			o--;
		if (o > 0 && ((unsigned char)out[o - 1] & 0xc0) == 0xc0)
			o--;
	}
	out[o] = '\0';
}

static bool agent_metrics_deployed(const Ospec__V1__AppState *st)
{
	return st != NULL && st->active_slot != NULL && st->active_slot[0] != '\0';
}

/* agent_metrics_apps writes the app gauges: counts by state, then one
 * series per deployed app (at most OSP_WIRE_MAX_APPS). */
static void agent_metrics_apps(osp_prom_w *w, const agent_metrics_view *v)
{
	static const char *const fam[] = { "ospec_agent_app_up", "ospec_agent_app_healthy" };
	static const char *const help[] = {
		"whether the app's active slot runs (1) or not (0)",
		"whether the app's active slot runs and passes its health checks",
	};
	char app[OSP_WIRE_MAX_ID * 2 + 1], slot[32], ver[256];
	uint64_t running = 0, stopped = 0;

	for (size_t i = 0; i < v->napps; i++) {
		if (!agent_metrics_deployed(v->apps[i]))
			continue;
		if (v->apps[i]->running)
			running++;
		else
			stopped++;
	}
	agent_mw_family(w, "ospec_agent_apps", "gauge", "deployed apps by state of their active slot");
	osp_prom_printf(w, "ospec_agent_apps{state=\"running\"} %llu\n", (unsigned long long)running);
	osp_prom_printf(w, "ospec_agent_apps{state=\"stopped\"} %llu\n", (unsigned long long)stopped);
	for (size_t f = 0; f < 3; f++) {
		agent_mw_family(w, f < 2 ? fam[f] : "ospec_agent_app_info", "gauge",
			f < 2 ? help[f] : "the version in the app's active slot (always 1)");
		for (size_t i = 0; i < v->napps; i++) {
			const Ospec__V1__AppState *st = v->apps[i];

			if (!agent_metrics_deployed(st))
				continue;
			agent_mw_label(st->app, app, sizeof(app));
			agent_mw_label(st->active_slot, slot, sizeof(slot));
			if (f == 2) {
				agent_mw_label(st->version, ver, sizeof(ver));
				osp_prom_printf(w, "ospec_agent_app_info{app=\"%s\",slot=\"%s\","
					"version=\"%s\"} 1\n", app, slot, ver);
			} else {
				osp_prom_printf(w, "%s{app=\"%s\",slot=\"%s\"} %d\n", fam[f], app, slot,
					(f == 0 ? st->running : st->healthy) ? 1 : 0);
			}
		}
	}
}

/* agent_metrics_counters writes the process's counters from a snapshot. */
static void agent_metrics_counters(osp_prom_w *w)
{
	agent_metrics_counts c;
	uint64_t cum = 0, count = 0;

	pthread_mutex_lock(&agent_metrics_mtx);
	c = agent_metrics_c;
	pthread_mutex_unlock(&agent_metrics_mtx);

	agent_mw_family(w, "ospec_agent_health_checks_total", "counter",
		"HTTP health checks of the apps by result (ok: a 2xx answer)");
	osp_prom_printf(w, "ospec_agent_health_checks_total{result=\"ok\"} %llu\n",
		(unsigned long long)c.health[1]);
	osp_prom_printf(w, "ospec_agent_health_checks_total{result=\"failed\"} %llu\n",
		(unsigned long long)c.health[0]);
	agent_mw_family(w, "ospec_agent_fetches_total", "counter",
		"artifact fetches by how they ended (cached: nothing downloaded)");
	for (size_t i = 0; i < AGENT_METRICS_FETCH_N; i++)
		osp_prom_printf(w, "ospec_agent_fetches_total{result=\"%s\"} %llu\n",
			agent_metrics_fetch_names[i], (unsigned long long)c.fetches[i]);
	agent_mw_family(w, "ospec_agent_fetch_bytes_total", "counter",
		"bytes of artifacts downloaded, failed downloads included");
	osp_prom_printf(w, "ospec_agent_fetch_bytes_total %llu\n",
		(unsigned long long)c.fetch_bytes);
	agent_mw_family(w, "ospec_agent_fetch_duration_seconds", "histogram",
		"how long artifact downloads took, connect to last byte (not cache hits)");
	for (size_t i = 0; i <= AGENT_METRICS_LE_N; i++)
		count += c.fetch_le[i];
	for (size_t i = 0; i < AGENT_METRICS_LE_N; i++) {
		cum += c.fetch_le[i];
		osp_prom_printf(w, "ospec_agent_fetch_duration_seconds_bucket{le=\"%g\"} %llu\n",
			agent_metrics_fetch_le[i], (unsigned long long)cum);
	}
	osp_prom_printf(w, "ospec_agent_fetch_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
		"ospec_agent_fetch_duration_seconds_sum %.9g\n"
		"ospec_agent_fetch_duration_seconds_count %llu\n",
		(unsigned long long)count, c.fetch_sum, (unsigned long long)count);
	agent_mw_family(w, "ospec_agent_commands_total", "counter",
		"commands executed by kind and result status (a series appears at its first command)");
	for (size_t k = 0; k < AGENT_METRICS_KINDS; k++)
		for (size_t r = 0; r < AGENT_METRICS_RESULTS; r++)
			if (c.commands[k][r] > 0)
				osp_prom_printf(w, "ospec_agent_commands_total{kind=\"%s\",result=\"%s\"} "
					"%llu\n", agent_metrics_kinds[k], agent_metrics_results[r],
					(unsigned long long)c.commands[k][r]);
}

osp_err agent_metrics_render(const agent_metrics_view *v, osp_buf *out)
{
	osp_prom_w w = { .b = out, .err = OSP_OK };
	char node[OSP_WIRE_MAX_ID * 2 + 1];

	agent_mw_family(&w, "ospec_agent_info", "gauge", "the agent's version and node id (always 1)");
	if (v->node != NULL) {
		agent_mw_label(v->node, node, sizeof(node));
		osp_prom_printf(&w, "ospec_agent_info{version=\"%s\",node=\"%s\"} 1\n", OSPEC_VERSION,
			node);
	} else {
		osp_prom_printf(&w, "ospec_agent_info{version=\"%s\"} 1\n", OSPEC_VERSION);
	}
	agent_mw_family(&w, "ospec_agent_registered", "gauge",
		"whether the agent has a session with the coordinator (1) or not (0)");
	osp_prom_printf(&w, "ospec_agent_registered %d\n", v->registered ? 1 : 0);
	agent_metrics_apps(&w, v);
	agent_metrics_counters(&w);
	return w.err;
}

bool agent_metrics_addr_ok(const char *addr)
{
	const char *colon;
	uint64_t port;

	if (addr == NULL || (colon = strrchr(addr, ':')) == NULL || colon == addr)
		return false;
	return strcspn(addr, "/ \t\r\n") == strlen(addr) && colon[1] >= '0' && colon[1] <= '9' &&
		osp_u64_parse(colon + 1, 1, 65535, &port) == OSP_OK;
}

struct agent_metrics_srv {
	agent *a;
	nng_http_server *http;
};


/* agent_metrics_handle renders the page from a fresh apps report. */
static void agent_metrics_handle(nng_aio *aio)
{
	nng_http_handler *h = nng_aio_get_input(aio, 1);
	agent_metrics_srv *s = nng_http_handler_get_data(h);
	Ospec__V1__AppState **apps = NULL;
	agent_metrics_view v = { .node = s->a->id };
	osp_buf page;
	char msg[128];
	osp_err rv;

	v.registered = atomic_load(&s->a->registered);
	v.napps = agent_dispatch_apps(s->a->dispatch, &apps);
	v.apps = apps;
	osp_buf_init(&page, AGENT_METRICS_MAX);
	rv = agent_metrics_render(&v, &page);
	agent_dispatch_apps_free(apps, v.napps);
	if (rv != OSP_OK) {
		snprintf(msg, sizeof(msg), "metrics unavailable: %s\n", osp_strerror(rv));
		osp_http_reply(aio, 500, "text/plain", msg, strlen(msg));
	} else {
		osp_http_reply(aio, 200, OSP_PROM_CTYPE, page.data ? page.data : "",
			page.len);
	}
	osp_buf_fini(&page);
}

osp_err agent_metrics_start(struct agent *a, const char *addr, agent_metrics_srv **out,
	char *err, size_t errlen)
{
	agent_metrics_srv *s = NULL;
	nng_http_handler *h = NULL;
	nng_url *url = NULL;
	char urlstr[300];
	int rv;

	*out = NULL;
	if (!agent_metrics_addr_ok(addr) || strlen(addr) > 256) {
		snprintf(err, errlen, "metrics: expected HOST:PORT, got '%.64s'", addr ? addr : "");
		return OSP_EINVAL;
	}
	snprintf(urlstr, sizeof(urlstr), "http://%s", addr);
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return OSP_ENOMEM;
	s->a = a;
	if ((rv = nng_url_parse(&url, urlstr)) != 0) {
		snprintf(err, errlen, "metrics: '%s' is not HOST:PORT", addr);
		goto fail;
	}
	rv = nng_http_server_hold(&s->http, url);
	nng_url_free(url);
	if (rv != 0) {
		s->http = NULL;
		snprintf(err, errlen, "metrics %s: %s", addr, nng_strerror(rv));
		goto fail;
	}
	if ((rv = nng_http_handler_alloc(&h, "/metrics", agent_metrics_handle)) != 0) {
		snprintf(err, errlen, "metrics: %s", nng_strerror(rv));
		goto fail;
	}
	nng_http_handler_set_method(h, "GET");
	nng_http_handler_set_data(h, s, NULL);
	if ((rv = nng_http_server_add_handler(s->http, h)) != 0) {
		nng_http_handler_free(h);
		snprintf(err, errlen, "metrics: %s", nng_strerror(rv));
		goto fail;
	}
	if ((rv = nng_http_server_start(s->http)) != 0) {
		snprintf(err, errlen, "cannot serve metrics on %s: %s", addr, nng_strerror(rv));
		goto fail;
	}
	*out = s;
	return OSP_OK;
fail:
	if (s->http != NULL)
		nng_http_server_release(s->http);
	free(s);
	return osp_nng_err(rv);
}

void agent_metrics_stop(agent_metrics_srv *s)
{
	if (s == NULL)
		return;
	nng_http_server_stop(s->http);
	nng_http_server_release(s->http);
	free(s);
}
