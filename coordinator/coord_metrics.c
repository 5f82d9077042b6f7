/* coord_metrics.c - the /metrics page (coord_metrics.h): Prometheus text
 * exposition format 0.0.4, every family with # HELP and # TYPE, names with
 * the ospec_ prefix, counters ending _total, durations in seconds. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "coord.h"
#include "coord_metrics.h"
#include "coord_active.h"
#include "coord_webhooks.h"
#include "ospec/prom.h"

#define COORD_RO_STATES (COORD_RO_ROLLED_BACK + 1)

/* Upper bounds of the histograms' buckets (+Inf implied, last). */
static const double coord_metrics_step_le[] = { 1, 2, 5, 10, 30, 60, 120, 300, 600 };
static const double coord_metrics_ctl_le[] = { 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5 };
#define COORD_LE_N(a) (sizeof(a) / sizeof((a)[0]))
_Static_assert(COORD_LE_N(coord_metrics_step_le) < COORD_HIST_MAX, "step buckets");
_Static_assert(COORD_LE_N(coord_metrics_ctl_le) < COORD_HIST_MAX, "control buckets");

/* Label values of the counters kept in coord.stats, by index. */
static const char *const coord_metrics_result_names[COORD_RESULT_N] = {
	"ok", "failed", "in_progress", "refused", "vote_yes", "vote_no", "unknown",
};
static const char *const coord_metrics_refused_names[COORD_REFUSED_N] = {
	[COORD_RL_REFUSED_NONCE] = "nonce",
	[COORD_RL_REFUSED_ID] = "identity",
	[COORD_RL_REFUSED_PROOF] = "proof",
	[COORD_RL_REFUSED_INSTANCE] = "instance",
};


/* coord_mw_family writes the # HELP and # TYPE lines of name. */
static void coord_mw_family(osp_prom_w *w, const char *name, const char *type, const char *help)
{
	osp_prom_printf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void coord_mw_uint(osp_prom_w *w, const char *name, const char *type, const char *help,
	uint64_t v)
{
	coord_mw_family(w, name, type, help);
	osp_prom_printf(w, "%s %llu\n", name, (unsigned long long)v);
}

static void coord_mw_hist(osp_prom_w *w, const char *name, const char *help,
	const coord_hist *h, const double *le, size_t nle)
{
	uint64_t cum = 0;

	coord_mw_family(w, name, "histogram", help);
	for (size_t i = 0; i < nle; i++) {
		cum += h->counts[i];
		osp_prom_printf(w, "%s_bucket{le=\"%g\"} %llu\n", name, le[i],
			(unsigned long long)cum);
	}
	osp_prom_printf(w, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)h->count);
	osp_prom_printf(w, "%s_sum %.9g\n%s_count %llu\n", name, h->sum, name,
		(unsigned long long)h->count);
}

static void coord_hist_observe(coord_hist *h, const double *le, size_t nle, double v)
{
	size_t i = 0;

	if (v < 0)
		v = 0; /* the wall clock stepped back */
	while (i < nle && v > le[i])
		i++;
	h->counts[i]++;
	h->count++;
	h->sum += v;
}

void coord_metrics_step(struct coord *c, int64_t ms)
{
	coord_hist_observe(&c->metrics.step, coord_metrics_step_le,
		COORD_LE_N(coord_metrics_step_le), (double)ms / 1000.0);
}

void coord_metrics_switch_skew(struct coord *c, int64_t ms)
{
	c->metrics.skew = ms > 0 ? (double)ms / 1000.0 : 0;
	c->metrics.skew_set = true;
}

void coord_metrics_ctl(struct coord *c, double seconds)
{
	coord_hist_observe(&c->metrics.ctl, coord_metrics_ctl_le,
		COORD_LE_N(coord_metrics_ctl_le), seconds);
}

double coord_metrics_mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* coord_metrics_varint reads a protobuf varint at p[*i] (n bytes). */
static bool coord_metrics_varint(const uint8_t *p, size_t n, size_t *i, uint64_t *v)
{
	*v = 0;
	for (unsigned shift = 0; shift < 64 && *i < n; shift += 7) {
		uint8_t b = p[(*i)++];
		*v |= (uint64_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0)
			return true;
	}
	return false;
}

/* coord_metrics_pb_uint finds the varint field of a protobuf message without
 * unpacking it (a rollout record holds every step: a scrape must not
 * allocate them all). 1: *out set (the last occurrence), 0: absent, -1:
 * malformed. */
static int coord_metrics_pb_uint(const uint8_t *p, size_t n, uint64_t field, uint64_t *out)
{
	size_t i = 0;
	uint64_t key, v;
	int found = 0;

	while (i < n) {
		if (!coord_metrics_varint(p, n, &i, &key))
			return -1;
		switch (key & 7) {
		case 0:
			if (!coord_metrics_varint(p, n, &i, &v))
				return -1;
			if (key >> 3 == field) {
				*out = v;
				found = 1;
			}
			break;
		case 1:
			if (n - i < 8)
				return -1;
			i += 8;
			break;
		case 2:
			if (!coord_metrics_varint(p, n, &i, &v) || v > n - i)
				return -1;
			i += (size_t)v;
			break;
		case 5:
			if (n - i < 4)
				return -1;
			i += 4;
			break;
		default:
			return -1; /* groups: never written by protobuf-c for our messages */
		}
	}
	return found;
}

/* Records of one database counted by state. */
typedef struct coord_metrics_states {
	uint64_t field;               /* the state's field number in the record */
	uint64_t n[COORD_RO_STATES];
	uint64_t unreadable;          /* undecodable, or a state out of range */
} coord_metrics_states;

static int coord_metrics_state_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	coord_metrics_states *s = arg;
	uint64_t state = 0; /* absent: the default, pending */

	(void)k;
	(void)kl;
	if (coord_metrics_pb_uint(v, vl, s->field, &state) < 0 || state >= COORD_RO_STATES)
		s->unreadable++;
	else
		s->n[state]++;
	return 0;
}

static void coord_mw_states(osp_prom_w *w, const char *name, const char *help,
	const coord_metrics_states *s)
{
	coord_mw_family(w, name, "gauge", help);
	for (unsigned i = 0; i < COORD_RO_STATES; i++)
		osp_prom_printf(w, "%s{state=\"%s\"} %llu\n", name,
			coord_ro_state_name((coord_ro_state)i), (unsigned long long)s->n[i]);
}

/* coord_metrics_store writes the gauges read from LMDB. */
static osp_err coord_metrics_store(coord *c, osp_prom_w *w)
{
	coord_metrics_states ro = { .field = 23 }, pl = { .field = 6 }; /* store.proto */
	uint64_t used = 0, map = 0, outbox = 0;
	osp_txn *t = NULL;
	osp_err rv;

	if ((rv = osp_store_usage(c->store, &used, &map)) != OSP_OK)
		return rv;
	if ((rv = osp_store_txn_begin(c->store, false, &t)) != OSP_OK)
		return rv;
	rv = coord_ro_rec_keys(t, coord_metrics_state_cb, &ro);
	if (rv == OSP_OK)
		rv = osp_store_foreach(t, "plans", NULL, 0, false, coord_metrics_state_cb, &pl);
	if (rv == OSP_OK)
		rv = osp_store_count(t, "outbox", &outbox);
	osp_store_txn_abort(t);
	if (rv != OSP_OK)
		return rv;
	coord_mw_states(w, "ospec_rollouts", "Rollouts in the store by state.", &ro);
	coord_mw_states(w, "ospec_plans", "OSpec plans in the store by state.", &pl);
	coord_mw_family(w, "ospec_store_records_unreadable", "gauge",
		"Stored rollout and plan records whose state cannot be read.");
	osp_prom_printf(w, "ospec_store_records_unreadable{db=\"rollouts\"} %llu\n",
		(unsigned long long)ro.unreadable);
	osp_prom_printf(w, "ospec_store_records_unreadable{db=\"plans\"} %llu\n",
		(unsigned long long)pl.unreadable);
	coord_mw_uint(w, "ospec_store_bytes", "gauge",
		"Bytes of the LMDB map in use (pages up to the last used one).", used);
	coord_mw_uint(w, "ospec_store_map_size_bytes", "gauge",
		"LMDB map size (map_size): writes fail once the store reaches it.", map);
	coord_mw_uint(w, "ospec_webhook_outbox", "gauge",
		"Webhook deliveries waiting in the outbox (not answered 2xx yet).", outbox);
	return OSP_OK;
}

/* coord_metrics_nodes writes the gauges of the in-memory node list. */
static void coord_metrics_nodes(coord *c, osp_prom_w *w)
{
	uint64_t up = 0, down = 0, cordoned = 0;

	for (const coord_node *n = c->nodes; n != NULL; n = n->next) {
		up += n->state == COORD_NODE_UP;
		down += n->state != COORD_NODE_UP;
		cordoned += n->cordoned;
	}
	coord_mw_family(w, "ospec_nodes", "gauge", "Known nodes by liveness.");
	osp_prom_printf(w, "ospec_nodes{state=\"up\"} %llu\nospec_nodes{state=\"down\"} %llu\n",
		(unsigned long long)up, (unsigned long long)down);
	coord_mw_uint(w, "ospec_nodes_cordoned", "gauge",
		"Known nodes that are cordoned (left out of new rollouts).", cordoned);
}

/* coord_metrics_agents writes the agent server's counters (coord.stats, the
 * ones `ospecctl stats` shows, and those kept for this page). */
static void coord_metrics_agents(coord *c, osp_prom_w *w)
{
	const coord_stats *s = &c->stats;

	coord_mw_uint(w, "ospec_agent_requests_total", "counter",
		"Requests received from agents.", s->requests);
	coord_mw_uint(w, "ospec_commands_sent_total", "counter",
		"Commands handed to agents in poll replies (a command fetched again counts again).",
		s->commands_sent);
	coord_mw_family(w, "ospec_results_total", "counter",
		"Command results received from agents, by status.");
	for (unsigned i = 0; i < COORD_RESULT_N; i++)
		osp_prom_printf(w, "ospec_results_total{status=\"%s\"} %llu\n",
			coord_metrics_result_names[i], (unsigned long long)s->results[i]);
	coord_mw_family(w, "ospec_registers_refused_total", "counter",
		"Agent registers refused, by reason.");
	for (unsigned i = 0; i < COORD_REFUSED_N; i++)
		osp_prom_printf(w, "ospec_registers_refused_total{reason=\"%s\"} %llu\n",
			coord_metrics_refused_names[i], (unsigned long long)s->refused_by[i]);
	coord_mw_family(w, "ospec_agent_errors_total", "counter",
		"Agent requests answered with an error, by kind.");
	osp_prom_printf(w,
		"ospec_agent_errors_total{kind=\"undecodable\"} %llu\n"
		"ospec_agent_errors_total{kind=\"version\"} %llu\n"
		"ospec_agent_errors_total{kind=\"too_big\"} %llu\n"
		"ospec_agent_errors_total{kind=\"not_registered\"} %llu\n"
		"ospec_agent_errors_total{kind=\"replay\"} %llu\n",
		(unsigned long long)s->decode_errors, (unsigned long long)s->version_errors,
		(unsigned long long)s->too_big, (unsigned long long)s->not_registered,
		(unsigned long long)s->replays);
	coord_mw_family(w, "ospec_agent_connections_closed_total", "counter",
		"Agent connections closed by the connection limits, by reason.");
	osp_prom_printf(w,
		"ospec_agent_connections_closed_total{reason=\"limit\"} %llu\n"
		"ospec_agent_connections_closed_total{reason=\"stuck\"} %llu\n"
		"ospec_agent_connections_closed_total{reason=\"deadline\"} %llu\n"
		"ospec_agent_connections_closed_total{reason=\"idle\"} %llu\n",
		(unsigned long long)s->conn_limit, (unsigned long long)s->conn_stuck,
		(unsigned long long)s->conn_deadline, (unsigned long long)s->conn_idle);
	coord_mw_uint(w, "ospec_agent_requests_dropped_total", "counter",
		"Agent requests dropped because their connection was being closed.", s->dropped);
	coord_mw_uint(w, "ospec_agent_contexts", "gauge",
		"Request contexts of the agent server.", c->nctx);
	coord_mw_uint(w, "ospec_agent_held_polls", "gauge",
		"Agent polls held until commands arrive.", c->nheld);
	coord_mw_uint(w, "ospec_control_relistens_total", "counter",
		"Times the control watchdog revived the control listener.",
		atomic_load(&c->ctl_relistens));
}

/* coord_metrics_webhooks writes the webhook worker's counters. */
static void coord_metrics_webhooks(coord *c, osp_prom_w *w)
{
	uint64_t ok, retry, dropped;

	coord_webhooks_counts(c, &ok, &retry, &dropped);
	coord_mw_family(w, "ospec_webhook_deliveries_total", "counter",
		"Webhook POSTs by outcome: ok (2xx), retry (failed, tried again), dropped (given up).");
	osp_prom_printf(w,
		"ospec_webhook_deliveries_total{result=\"ok\"} %llu\n"
		"ospec_webhook_deliveries_total{result=\"retry\"} %llu\n"
		"ospec_webhook_deliveries_total{result=\"dropped\"} %llu\n",
		(unsigned long long)ok, (unsigned long long)retry, (unsigned long long)dropped);
}

osp_err coord_metrics_render(struct coord *c, osp_buf *out)
{
	osp_prom_w w = { .b = out };
	osp_err rv;

	if (c->store == NULL)
		return OSP_EINVAL;
	coord_metrics_nodes(c, &w);
	if ((rv = coord_metrics_store(c, &w)) != OSP_OK)
		return rv;
	coord_mw_hist(&w, "ospec_step_duration_seconds",
		"Seconds from a step's stage command to its result (done, ready or failed).",
		&c->metrics.step, coord_metrics_step_le, COORD_LE_N(coord_metrics_step_le));
	coord_mw_family(&w, "ospec_switch_skew_seconds", "gauge",
		"Flip skew of the last committed blue-green switch (first to last node applied).");
	if (c->metrics.skew_set)
		osp_prom_printf(&w, "ospec_switch_skew_seconds %.3f\n", c->metrics.skew);
	coord_metrics_agents(c, &w);
	coord_metrics_webhooks(c, &w);
	coord_mw_hist(&w, "ospec_control_request_duration_seconds",
		"Seconds the coordinator took to run a control (ospecctl) request.",
		&c->metrics.ctl, coord_metrics_ctl_le, COORD_LE_N(coord_metrics_ctl_le));
	return w.err;
}
