/* coord_ctl_json.c - the JSON of rollouts as the control API writes them
 * (status, rollouts, deploy --dry-run): CLI.md's stable snake_case fields. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "coord_control.h"
#include "coord_active.h"
#include "coord_secrets.h"
#include "ospec/url_redact.h"

void coord_jw_time(osp_jw *w, const char *key, int64_t ms)
{
	char ts[40];

	osp_jw_key(w, key);
	if (ms <= 0) {
		osp_jw_null(w);
		return;
	}
	osp_time_fmt(ms, ts, sizeof(ts));
	osp_jw_str(w, ts);
}

void coord_jw_kv(osp_jw *w, const char *key, const char *val)
{
	osp_jw_key(w, key);
	osp_jw_str(w, val ? val : "");
}

/* coord_json_switches writes the two-phase switches of a blue-green rollout
 * with their flip skew (first to last acknowledged apply, coordinator clock). */
static void coord_json_switches(osp_jw *w, const Ospec__V1__RolloutRecord *r)
{
	osp_jw_key(w, "switches");
	osp_jw_arr_begin(w);
	for (size_t i = 0; i < r->n_switches; i++) {
		const Ospec__V1__SwitchRecord *sw = r->switches[i];
		osp_jw_obj_begin(w);
		coord_jw_kv(w, "id", sw->id);
		coord_jw_kv(w, "to", sw->to);
		coord_jw_kv(w, "decision", sw->decision);
		coord_jw_time(w, "decided", sw->decided_ms);
		osp_jw_key(w, "members");
		osp_jw_uint(w, sw->members);
		osp_jw_key(w, "skew_ms");
		if (sw->first_ack_ms > 0 && sw->last_ack_ms >= sw->first_ack_ms)
			osp_jw_int(w, sw->last_ack_ms - sw->first_ack_ms);
		else
			osp_jw_null(w);
		osp_jw_obj_end(w);
	}
	osp_jw_arr_end(w);
}

/* The numbers of a canary as status shows them, in this order: the JSON key
 * and the CanaryRecord field (pct_x100: a percentage in 1/100 %, "99.00"). */
#define COORD_JSON_CN(k, f, pct) { k, offsetof(Ospec__V1__CanaryRecord, f), \
	COORD_RF_KIND(((Ospec__V1__CanaryRecord *)0)->f), pct }
static const struct {
	const char *key;
	size_t off;
	coord_rf_kind kind;
	bool pct_x100;
} coord_json_canary_map[] = {
	COORD_JSON_CN("weight", weight, false), COORD_JSON_CN("step", step_no, false),
	COORD_JSON_CN("initial", initial, false), COORD_JSON_CN("step_weight", step, false),
	COORD_JSON_CN("max_weight", max, false), COORD_JSON_CN("interval_ms", interval_ms, false),
	COORD_JSON_CN("threshold", threshold, false),
	COORD_JSON_CN("failed_checks", failed_checks, false),
	COORD_JSON_CN("analyses", analyses, false),
	COORD_JSON_CN("min_success_rate", min_success_x100, true),
	COORD_JSON_CN("max_latency_ms", max_rtime_ms, false),
	COORD_JSON_CN("min_requests", min_requests, false),
};
#undef COORD_JSON_CN

/* coord_json_canary writes a canary's weight, next step and last analysis. */
static void coord_json_canary(osp_jw *w, const Ospec__V1__RolloutRecord *r)
{
	const Ospec__V1__CanaryRecord *c = r->canary;
	char num[32];

	if (r->strategy != COORD_RO_CANARY || c == NULL)
		return;
	osp_jw_key(w, "canary");
	osp_jw_obj_begin(w);
	for (size_t i = 0; i < sizeof(coord_json_canary_map) / sizeof(coord_json_canary_map[0]);
		i++) {
		const char *f = (const char *)c + coord_json_canary_map[i].off;
		int64_t v = coord_rf_get(f, coord_json_canary_map[i].kind);

		if (coord_json_canary_map[i].kind == COORD_RF_I64) {
			osp_jw_key(w, coord_json_canary_map[i].key);
			osp_jw_int(w, v);
		} else if (coord_json_canary_map[i].pct_x100) {
			snprintf(num, sizeof(num), "%u.%02u", (unsigned)v / 100, (unsigned)v % 100);
			coord_jw_kv(w, coord_json_canary_map[i].key, num);
		} else {
			osp_jw_key(w, coord_json_canary_map[i].key);
			osp_jw_uint(w, (uint64_t)v);
		}
	}
	if (c->analysis_url != NULL && c->analysis_url[0] != '\0') {
		char url[1100];

		if (osp_url_redact(c->analysis_url, url, sizeof(url)) != OSP_OK)
			osp_strlcpy(url, "(not shown)", sizeof(url));
		osp_jw_key(w, "metrics_query");
		osp_jw_obj_begin(w);
		coord_jw_kv(w, "url", url);
		coord_jw_kv(w, "query", c->analysis_query);
		coord_jw_kv(w, "min", c->query_min);
		coord_jw_kv(w, "max", c->query_max);
		coord_jw_kv(w, "last", c->ext_note);
		osp_jw_obj_end(w);
	}
	/* when the current interval's analysis starts */
	coord_jw_time(w, "next_analysis", r->phase == COORD_CN_BAKE && !coord_ro_terminal(
		(coord_ro_state)r->state) ? c->step_until_ms : 0);
	osp_jw_key(w, "last_analysis");
	if (c->an_ms == 0) {
		osp_jw_null(w);
	} else {
		uint64_t err = c->an_errors < c->an_requests ? c->an_errors : c->an_requests;

		osp_jw_obj_begin(w);
		coord_jw_time(w, "at", c->an_ms);
		osp_jw_key(w, "passed");
		osp_jw_bool(w, c->an_passed);
		osp_jw_key(w, "requests");
		osp_jw_uint(w, c->an_requests);
		osp_jw_key(w, "errors");
		osp_jw_uint(w, c->an_errors);
		osp_jw_key(w, "success_rate");
		if (c->an_requests > 0)
			snprintf(num, sizeof(num), "%.2f",
				100.0 * (double)(c->an_requests - err) / (double)c->an_requests);
		else
			osp_strlcpy(num, "", sizeof(num));
		if (num[0] != '\0')
			osp_jw_str(w, num);
		else
			osp_jw_null(w);
		osp_jw_key(w, "latency_ms");
		if (c->an_has_rtime)
			osp_jw_uint(w, c->an_rtime_ms);
		else
			osp_jw_null(w);
		osp_jw_key(w, "nodes");
		osp_jw_uint(w, c->an_nodes);
		coord_jw_kv(w, "note", c->an_note);
		osp_jw_obj_end(w);
	}
	osp_jw_obj_end(w);
}

/* coord_json_step_runs writes "version" and "sha256" of step s: the node's
 * own answer to this rollout's last command, or for a node this rollout
 * never sent a command (pending, skipped) what it reports now: the plan's
 * snapshot may predate a rollout that ended a moment before. */
static void coord_json_step_runs(coord *c, osp_jw *w, const Ospec__V1__RolloutRecord *r,
	const Ospec__V1__StepRecord *s)
{
	const char *ver = s->version, *sha = s->sha256;
	coord_node *n = s->seq == 0 && c != NULL ? coord_node_find(c, s->node) : NULL;

	for (size_t i = 0; n != NULL && i < n->n_apps; i++) {
		const Ospec__V1__AppState *a = n->apps[i];
		if (strcmp(a->app, r->app) != 0)
			continue;
		ver = a->version;
		sha = a->sha256;
	}
	coord_jw_kv(w, "version", ver);
	coord_jw_kv(w, "sha256", sha);
}

void coord_json_step_head(osp_jw *w, const Ospec__V1__StepRecord *s)
{
	osp_jw_obj_begin(w);
	coord_jw_kv(w, "node", s->node);
	coord_jw_kv(w, "step", coord_step_state_name((coord_step_state)s->state));
	osp_jw_key(w, "batch");
	osp_jw_int(w, s->state == COORD_STEP_SKIPPED ? 0 : (int64_t)s->batch + 1);
}

void coord_json_count(const Ospec__V1__RolloutRecord *r, size_t *done, size_t *failed,
	uint32_t *batches)
{
	for (size_t i = 0; i < r->n_steps; i++) {
		const Ospec__V1__StepRecord *s = r->steps[i];
		*done += s->state == COORD_STEP_DONE;
		*failed += s->state == COORD_STEP_FAILED || s->state == COORD_STEP_UNREACHABLE ||
			s->state == COORD_STEP_REVERTED;
		if (s->state != COORD_STEP_SKIPPED && s->batch + 1 > *batches)
			*batches = s->batch + 1;
	}
}

/* coord_json_rollout writes a rollout record; with steps, the per-node view. */
void coord_json_rollout(coord *c, osp_jw *w, const Ospec__V1__RolloutRecord *r, bool steps)
{
	size_t done = 0, failed = 0;
	uint32_t batches = 0;
	char num[32], safe_url[OSP_WIRE_MAX_URL + 64];

	coord_json_count(r, &done, &failed, &batches);
	osp_jw_obj_begin(w);
	coord_jw_kv(w, "id", r->id);
	coord_jw_kv(w, "app", r->app);
	coord_jw_kv(w, "version", r->version);
	coord_jw_kv(w, "state", coord_ro_state_name((coord_ro_state)r->state));
	coord_jw_kv(w, "strategy", coord_ro_strategy_name((coord_ro_strategy)r->strategy));
	coord_jw_kv(w, "phase", coord_ro_phase_name((coord_ro_strategy)r->strategy,
					(coord_ro_state)r->state, r->phase));
	coord_jw_kv(w, "sha256", r->sha256);
	osp_jw_key(w, "watch_ms");
	osp_jw_int(w, r->rollback_window_ms);
	osp_jw_key(w, "auto_rollback");
	osp_jw_bool(w, !r->no_auto_rollback);
	coord_jw_time(w, "watch_until", coord_ro_slotted((coord_ro_strategy)r->strategy)
						? r->verify_until_ms : r->watch_until_ms);
	coord_json_canary(w, r);
	coord_jw_kv(w, "reason", r->reason);
	coord_jw_kv(w, "actor", r->actor);
	coord_jw_kv(w, "rollback_of", r->rollback_of);
	coord_jw_time(w, "created", r->created_ms);
	coord_jw_time(w, "started", r->started_ms);
	coord_jw_time(w, "finished", r->finished_ms);
	osp_jw_key(w, "paused");
	osp_jw_bool(w, r->paused);
	osp_jw_key(w, "nodes_total");
	osp_jw_uint(w, r->n_steps);
	osp_jw_key(w, "nodes_done");
	osp_jw_uint(w, done);
	osp_jw_key(w, "nodes_failed");
	osp_jw_uint(w, failed);
	osp_jw_key(w, "batches");
	osp_jw_uint(w, batches);
	osp_jw_key(w, "current_batch");
	osp_jw_int(w, r->has_current_batch ? r->current_batch + 1 : 0);
	if (steps) {
		/* the record keeps the real URL (agents fetch it); readers get it
		 * without credentials or signatures */
		if (r->artifact == NULL || r->artifact[0] == '\0')
			safe_url[0] = '\0';
		else if (osp_url_redact(r->artifact, safe_url, sizeof(safe_url)) != OSP_OK)
			osp_strlcpy(safe_url, "(not shown)", sizeof(safe_url));
		coord_jw_kv(w, "artifact", safe_url);
		coord_jw_kv(w, "run", r->run);
		coord_jw_kv(w, "select", r->select);
		snprintf(num, sizeof(num), "%u%s", r->batch, r->batch_pct ? "%" : "");
		coord_jw_kv(w, "batch_size", num);
		snprintf(num, sizeof(num), "%u%s", r->max_failures, r->max_failures_pct ? "%" : "");
		coord_jw_kv(w, "max_failures", num);
		coord_secrets_json_rollout(w, r);
		coord_json_switches(w, r);
		osp_jw_key(w, "nodes");
		osp_jw_arr_begin(w);
		for (size_t i = 0; i < r->n_steps; i++) {
			const Ospec__V1__StepRecord *s = r->steps[i];

			coord_json_step_head(w, s);
			/* what the node runs after its last answer (its own word); a
			 * node this rollout never sent anything: what it reports now */
			coord_json_step_runs(c, w, r, s);
			coord_jw_kv(w, "previous_version", s->prev_version);
			coord_jw_time(w, "started", s->started_ms);
			coord_jw_time(w, "finished", s->finished_ms);
			osp_jw_key(w, "seconds");
			if (s->started_ms > 0 && s->finished_ms >= s->started_ms)
				osp_jw_int(w, (s->finished_ms - s->started_ms + 500) / 1000);
			else
				osp_jw_null(w);
			coord_jw_kv(w, "reason", s->reason);
			if (coord_ro_slotted((coord_ro_strategy)r->strategy)) {
				coord_jw_kv(w, "slot", s->slot);
				coord_jw_kv(w, "old_slot", s->old_slot);
				coord_jw_time(w, "acked", s->acked_ms);
			}
			osp_jw_obj_end(w);
		}
		osp_jw_arr_end(w);
	}
	osp_jw_obj_end(w);
}
