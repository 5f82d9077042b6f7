/*
 * coord_ctl_canary.c - the canary strategy's deploy arguments into the
 * rollout record (RolloutRecord.canary; docs/canary.md has the defaults).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_analysis.h"
#include "coord_control.h"
#include "coord_active.h"
#include "coord_rollout.h"
#include "ospec/util.h"

static const char *const coord_ctl_canary_args[] = { "canary-initial", "canary-step",
	"canary-max", "analysis-interval", "analysis-threshold", "analysis-success-rate",
	"analysis-max-latency", "analysis-min-requests", "analysis-url", "analysis-query",
	"analysis-query-min", "analysis-query-max", NULL };

/* coord_ctl_canary_pct parses a success rate "99", "99.5" or "99.95" (0 to
 * 100) into hundredths of a percent. */
static int coord_ctl_canary_pct(const char *s, uint32_t *x100)
{
	unsigned long whole = 0, frac = 0;
	size_t i = 0, nd = 0;

	if (s == NULL || s[0] < '0' || s[0] > '9')
		return -1;
	for (; s[i] >= '0' && s[i] <= '9' && i < 4; i++)
		whole = whole * 10 + (unsigned long)(s[i] - '0');
	if (s[i] == '.') {
		for (i++; s[i] >= '0' && s[i] <= '9' && nd < 2; i++, nd++)
			frac = frac * 10 + (unsigned long)(s[i] - '0');
		if (nd == 0)
			return -1;
		if (nd == 1)
			frac *= 10;
	}
	if (s[i] == '%')
		i++;
	if (s[i] != '\0' || whole > 100 || (whole == 100 && frac > 0))
		return -1;
	*x100 = (uint32_t)(whole * 100 + frac);
	return 0;
}

/* coord_ctl_canary_latency reads --analysis-max-latency: a duration, or 0
 * for no latency check. */
static int coord_ctl_canary_latency(coord_ctl_req *rq, uint32_t *ms, char *err, size_t errlen)
{
	const char *v = coord_ctl_arg(rq, "analysis-max-latency");
	int64_t d;

	if (v != NULL && strcmp(v, "0") == 0) {
		*ms = 0;
		return 0;
	}
	if (coord_ctl_ms(rq, "analysis-max-latency", "500ms", COORD_CTL_HOUR, &d, err, errlen) != 0)
		return -1;
	*ms = (uint32_t)d;
	return 0;
}

osp_err coord_ctl_canary_members(coord *c, const struct coord_ro_entry *e, char *err,
	size_t errlen)
{
	size_t old = 0;

	if (e->ro.strategy != COORD_RO_CANARY)
		return OSP_OK;
	err[0] = '\0';
	for (size_t i = 0; i < e->ro.nsteps; i++) {
		const coord_node *n = coord_node_find(c, e->ro.steps[i].node);

		if (e->ro.steps[i].state == COORD_STEP_SKIPPED || n == NULL ||
			n->proto_minor >= COORD_CANARY_PROTO_MINOR)
			continue;
		if (old++ == 0)
			snprintf(err, errlen, "a canary needs agents of protocol 1.%d or later "
				"(TrafficWeight); older: ", COORD_CANARY_PROTO_MINOR);
		if (old <= 8)
			snprintf(err + strlen(err), errlen - strlen(err), "%s%s (1.%u%s%s)",
				old > 1 ? ", " : "", n->id, n->proto_minor,
				n->agent_version[0] ? ", ospec-agent " : "", n->agent_version);
	}
	if (old == 0)
		return OSP_OK;
	if (old > 8)
		snprintf(err + strlen(err), errlen - strlen(err), " and %zu more", old - 8);
	snprintf(err + strlen(err), errlen - strlen(err),
		"; upgrade them first, or deploy with --strategy blue_green");
	return OSP_EREFUSED;
}

int coord_ctl_canary(coord_ctl_req *rq, Ospec__V1__RolloutRecord *r, char *err, size_t errlen)
{
	Ospec__V1__CanaryRecord *c;
	const char *rate = coord_ctl_arg(rq, "analysis-success-rate");
	uint32_t step;
	int64_t ms;

	if (r->strategy != COORD_RO_CANARY) {
		for (size_t i = 0; coord_ctl_canary_args[i] != NULL; i++) {
			if (coord_ctl_arg(rq, coord_ctl_canary_args[i]) != NULL) {
				snprintf(err, errlen, "--%s applies to --strategy canary only",
					coord_ctl_canary_args[i]);
				return -1;
			}
		}
		return 0;
	}
	if ((c = malloc(sizeof(*c))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	ospec__v1__canary_record__init(c);
	r->canary = c; /* freed with the record */
	if (coord_ctl_u32(rq, "canary-step", "10", 1, 100, &step, err, errlen) != 0 ||
		coord_ctl_u32(rq, "canary-max", "50", 1, 100, &c->max, err, errlen) != 0)
		return -1;
	c->step = step;
	if (coord_ctl_arg(rq, "canary-initial") == NULL)
		c->initial = step < c->max ? step : c->max;
	else if (coord_ctl_u32(rq, "canary-initial", "10", 1, 100, &c->initial, err, errlen) != 0)
		return -1;
	if (c->initial > c->max) {
		snprintf(err, errlen, "--canary-initial (%u%%) must not be above --canary-max (%u%%)",
			c->initial, c->max);
		return -1;
	}
	if (coord_ctl_ms(rq, "analysis-interval", "1m", COORD_CTL_DAY, &ms, err, errlen) != 0)
		return -1;
	if (ms < 1000) {
		snprintf(err, errlen, "--analysis-interval: expected at least 1s (the proxy's "
			"counters need traffic to say anything)");
		return -1;
	}
	c->interval_ms = ms;
	if (coord_ctl_u32(rq, "analysis-threshold", "5", 1, 1000, &c->threshold, err, errlen) != 0)
		return -1;
	if (coord_ctl_canary_pct(rate != NULL ? rate : "99", &c->min_success_x100) != 0) {
		char shown[80];

		snprintf(err, errlen, "--analysis-success-rate: expected a percentage 0..100 with "
			"at most 2 decimals (0: not checked), got '%s'",
			osp_str_show(rate, shown, sizeof(shown)));
		return -1;
	}
	if (coord_ctl_canary_latency(rq, &c->max_rtime_ms, err, errlen) != 0)
		return -1;
	{
		uint32_t minreq;

		if (coord_ctl_u32(rq, "analysis-min-requests", "10", 1, 1000000000, &minreq, err,
			    errlen) != 0)
			return -1;
		c->min_requests = minreq;
	}
	if (coord_analysis_args(coord_ctl_arg(rq, "analysis-url"), coord_ctl_arg(rq, "analysis-query"),
		    coord_ctl_arg(rq, "analysis-query-min"), coord_ctl_arg(rq, "analysis-query-max"),
		    err, errlen) != 0)
		return -1;
	if (coord_ctl_arg(rq, "analysis-url") != NULL &&
		((c->analysis_url = strdup(coord_ctl_arg(rq, "analysis-url"))) == NULL ||
			(c->analysis_query = strdup(coord_ctl_arg(rq, "analysis-query"))) == NULL ||
			(c->query_min = strdup(coord_ctl_arg(rq, "analysis-query-min") ?
				coord_ctl_arg(rq, "analysis-query-min") : "")) == NULL ||
			(c->query_max = strdup(coord_ctl_arg(rq, "analysis-query-max") ?
				coord_ctl_arg(rq, "analysis-query-max") : "")) == NULL)) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	c->has_initial = c->has_step = c->has_max = c->has_interval_ms = c->has_threshold = 1;
	c->has_min_success_x100 = c->has_max_rtime_ms = c->has_min_requests = 1;
	r->has_switch_gate = 1;
	r->switch_gate = coord_ctl_arg(rq, "canary-approval") != NULL &&
		strcmp(coord_ctl_arg(rq, "canary-approval"), "true") == 0;
	return 0;
}
