/*
 * coord_metrics.h - what the coordinator exposes on GET /metrics, in the
 * Prometheus text exposition format 0.0.4 (docs/operations.md, "/metrics").
 *
 * Gauges are read when the page is rendered (nodes from memory, rollouts and
 * plans from LMDB, the store's size); counters are coord.stats; the two
 * histograms and the switch skew are kept here, in coord.metrics. Every
 * function is called with coord.mtx held.
 */
#ifndef COORD_METRICS_H
#define COORD_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "ospec/err.h"
#include "ospec/util.h"

struct coord;

#define COORD_METRICS_MAX (256 * 1024) /* a bigger page is an error (OSP_ETOOBIG) */
#define COORD_HIST_MAX 16              /* buckets of a histogram, +Inf included */

/* A histogram: per-bucket counts (not cumulative; the last is +Inf), their
 * total and the sum of what was observed. Zeroed memory is an empty one. */
typedef struct coord_hist {
	uint64_t counts[COORD_HIST_MAX];
	uint64_t count;
	double sum;
} coord_hist;

typedef struct coord_metrics {
	coord_hist step;    /* ospec_step_duration_seconds */
	coord_hist ctl;     /* ospec_control_request_duration_seconds */
	bool skew_set;      /* a switch committed since the start */
	double skew;        /* ospec_switch_skew_seconds: of the last committed switch */
} coord_metrics;

/* coord_metrics_step observes a step's stage: ms from its STAGE command being
 * issued to the result that ended it (done, ready or failed). */
void coord_metrics_step(struct coord *c, int64_t ms);

/* coord_metrics_switch_skew records the flip skew (first to last applied
 * acknowledgement, ms) of a switch that just committed. */
void coord_metrics_switch_skew(struct coord *c, int64_t ms);

/* coord_metrics_ctl observes one control request that took seconds. */
void coord_metrics_ctl(struct coord *c, double seconds);

/* coord_metrics_mono_s is the monotonic clock in seconds (sub-millisecond),
 * for timing control requests. */
double coord_metrics_mono_s(void);

/* coord_metrics_render appends the whole page to out (the caller's; its cap
 * should be COORD_METRICS_MAX). OSP_ETOOBIG if it does not fit, OSP_EINVAL
 * without a store, a store error (OSP_ESTORE, ...) if the rollouts, plans or
 * the store's size cannot be read; out is then incomplete, to be discarded. */
osp_err coord_metrics_render(struct coord *c, osp_buf *out);

#endif
