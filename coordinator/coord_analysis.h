/*
 * coord_analysis.h - the canary's external metrics query (coord_analysis.c):
 * one PromQL query against a Prometheus HTTP API at every analysis, run on a
 * worker thread, answered to the engine as COORD_RO_EV_METRIC.
 */
#ifndef COORD_ANALYSIS_H
#define COORD_ANALYSIS_H

#include <stddef.h>

#include "coord.h"

#define COORD_AN_URL_MAX 1024
#define COORD_AN_QUERY_MAX 2048

struct coord_ro_entry;

/* coord_analysis_request queues e's query (its record's canary analysis_url
 * and analysis_query with {app}, {version} and {interval} filled in); the
 * caller holds c->mtx. The worker starts on first use. Nothing is queued for
 * a rollout without a query; a full queue or no memory is logged and leaves
 * the analysis without an answer (a failed check). */
void coord_analysis_request(coord *c, const struct coord_ro_entry *e);

/* coord_analysis_stop stops the worker (waiting for a query in flight, at
 * most its 5 s timeout) and drops what is queued. c->mtx not held. */
void coord_analysis_stop(coord *c);

/* coord_analysis_args checks the deploy flags --analysis-url,
 * --analysis-query, --analysis-query-min and --analysis-query-max (each may
 * be NULL): 0, or -1 with err naming the flag. */
int coord_analysis_args(const char *url, const char *query, const char *min, const char *max,
	char *err, size_t errlen);

#endif
