/*
 * agent_metrics.h - the agent's own Prometheus page (docs/operations.md,
 * "The agent's /metrics"): text exposition format 0.0.4 on GET /metrics of
 * an optional HTTP listener (`metrics: HOST:PORT` in the agent config; off
 * by default).
 *
 * The counters are the process's, not one agent's: they are bumped where the
 * work happens (agent_release_fetch.c, agent_health.c, agent_dispatch.c), which
 * knows no agent. A process running several agents (a benchmark) sums them.
 * They start at 0 with the process. Every function here is thread-safe.
 */
#ifndef AGENT_METRICS_H
#define AGENT_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ospec/err.h"
#include "ospec/util.h"
#include "ospec/wire.h"

#define AGENT_METRICS_MAX (256 * 1024) /* a bigger page is OSP_ETOOBIG */

/* How one artifact fetch ended (ospec_agent_fetches_total{result}). */
typedef enum agent_metrics_fetch_result {
	AGENT_METRICS_FETCH_OK = 0, /* downloaded and verified */
	AGENT_METRICS_FETCH_FAILED, /* a download that failed (network, sha256, space, stop) */
	AGENT_METRICS_FETCH_CACHED, /* the cache held a matching copy: nothing downloaded */
	AGENT_METRICS_FETCH_N
} agent_metrics_fetch_result;

/* agent_metrics_fetch counts one fetch: a download (OK or FAILED) adds bytes
 * (what arrived, also of a failed one) and observes seconds (its duration);
 * a CACHED one only counts. */
void agent_metrics_fetch(agent_metrics_fetch_result r, uint64_t bytes, double seconds);

/* agent_metrics_health counts one HTTP health check of an app (ok: a 2xx). */
void agent_metrics_health(bool ok);

/* agent_metrics_command counts one executed command by its kind (the
 * Command's kind_case) and the status of its result (ResultStatus). */
void agent_metrics_command(int kind_case, int status);

/* What the page shows besides the counters: read from the agent at each
 * scrape (agent_metrics_start's handler) or made up by a test. */
typedef struct agent_metrics_view {
	const char *node;          /* node id; NULL leaves ospec_agent_info's node label out */
	bool registered;           /* a session with the coordinator is up */
	Ospec__V1__AppState *const *apps; /* the apps report (agent_dispatch_apps) */
	size_t napps;
} agent_metrics_view;

/* agent_metrics_render appends the whole page for v and the counters to out
 * (the caller's; its cap should be AGENT_METRICS_MAX). OSP_ETOOBIG when it
 * does not fit, OSP_ENOMEM; out is then incomplete, to be discarded. */
osp_err agent_metrics_render(const agent_metrics_view *v, osp_buf *out);

/* agent_metrics_addr_ok reports whether addr is HOST:PORT (port 1..65535,
 * no '/' or blanks): what the `metrics` key takes besides "off". */
bool agent_metrics_addr_ok(const char *addr);

struct agent;
typedef struct agent_metrics_srv agent_metrics_srv;

/* agent_metrics_start serves GET /metrics of a on addr (HOST:PORT) with
 * nng's HTTP server, in its threads; any other path is a 404, another method
 * a 405. a must outlive the server. *out is the caller's, freed by
 * agent_metrics_stop. OSP_EINVAL for a bad addr, an nng error (the address
 * in use: OSP_EIO or OSP_ENET) with err saying which. */
osp_err agent_metrics_start(struct agent *a, const char *addr, agent_metrics_srv **out,
	char *err, size_t errlen);

/* agent_metrics_stop stops serving and frees s; accepts NULL. */
void agent_metrics_stop(agent_metrics_srv *s);

#endif
