/*
 * agent_bluegreen_canary.c - the canary's command handlers (agent_bluegreen.h):
 * TrafficWeight and TrafficStats (protocol 1.3), and the checks the other
 * blue-green handlers and the monitor make about a canary.
 *
 * The canary lives in the app's record (canary_slot, canary_weight): set
 * after the driver applied a weight above 0, cleared before a weight 0 is
 * applied (so a failed reset still converges: the watch then re-asserts the
 * active slot alone) and by a committed switch. A crash between a weight's
 * apply and its record leaves the record's older state, which the restore
 * and the watch re-assert; the coordinator re-sends the weight.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_bluegreen.h"

/* The state of one canary command (heap: records are large). */
typedef struct agent_bluegreen_cwork {
	agent_app_rec rec;
	bool found;
	agent_traffic_slot_stats st;
	char err[1024];
	char why[512];
} agent_bluegreen_cwork;

bool agent_bluegreen_canary_busy(const agent_app_rec *rec, const char *slot,
	Ospec__V1__CommandResult *res, char *msg, size_t msglen)
{
	if (rec->canary_weight == 0 || slot == NULL || strcmp(rec->canary_slot, slot) != 0)
		return false;
	agent_apps_result(res, AGENT_RES_REFUSED, msg, msglen,
		"slot %s carries %u%% canary traffic of app %s", slot, rec->canary_weight,
		rec->app);
	return true;
}

osp_err agent_bluegreen_proxy_assert(agent_traffic *t, const agent_app_rec *rec, bool *handled,
	char *err, size_t errlen)
{
	*handled = rec->canary_weight > 0 && rec->canary_slot[0] != '\0' &&
		rec->active_slot[0] != '\0';
	if (!*handled)
		return OSP_OK;
	return agent_traffic_weight(t, rec->active_slot, rec->canary_slot, rec->canary_weight, err,
		errlen);
}

/* agent_bluegreen_canary_load checks app and slot and loads the record into
 * w. Returns false with res final. The app must have an active slot, and
 * slot must be the other one. */
static bool agent_bluegreen_canary_load(agent_bluegreen *g, const char *app, const char *slot,
	agent_bluegreen_cwork *w, Ospec__V1__CommandResult *res, char *msg, size_t msglen)
{
	osp_err rv;

	if (app == NULL || !osp_valid_id(app) || !agent_bluegreen_is_slot(slot)) {
		agent_apps_result(res, AGENT_RES_REFUSED, msg, msglen,
			"invalid app name or slot (expected blue or green)");
		return false;
	}
	rv = agent_apps_rec_load(g->p, app, &w->rec, &w->found);
	if (rv != OSP_OK) {
		agent_apps_result(res, AGENT_RES_FAILED, msg, msglen,
			"cannot read the record of app '%s': %s", app, osp_strerror(rv));
		return false;
	}
	if (!w->found || w->rec.active_slot[0] == '\0') {
		agent_apps_result(res, AGENT_RES_REFUSED, msg, msglen,
			"app '%s' has no active slot on this node: a canary needs a blue-green app",
			app);
		return false;
	}
	if (strcmp(w->rec.active_slot, slot) == 0) {
		agent_apps_result(res, AGENT_RES_REFUSED, msg, msglen,
			"slot '%s' of app '%s' is active: the canary goes to the idle slot", slot,
			app);
		return false;
	}
	return true;
}

/* agent_bluegreen_canary_stats puts w->st into g->res_stats and res. */
static void agent_bluegreen_canary_result(agent_bluegreen *g, const agent_bluegreen_cwork *w,
	Ospec__V1__CommandResult *res)
{
	Ospec__V1__SlotStats *s = &g->res_stats;

	ospec__v1__slot_stats__init(s);
	s->has_requests = s->has_errors = s->has_has_rtime = s->has_weight = 1;
	s->requests = w->st.requests;
	s->errors = w->st.errors;
	s->has_rtime = w->st.has_rtime;
	s->has_rtime_ms = w->st.has_rtime;
	s->rtime_ms = w->st.rtime_ms;
	s->weight = w->st.weight;
	s->has_proxy_start = w->st.proxy_start != 0;
	s->proxy_start = w->st.proxy_start;
	res->stats = s;
}

/* agent_bluegreen_weight_apply changes the proxy and the record under g->sw.
 * Returns false with res final. */
static bool agent_bluegreen_weight_apply(agent_bluegreen *g, const Ospec__V1__TrafficWeight *c,
	agent_bluegreen_cwork *w, Ospec__V1__CommandResult *res, char *msg, size_t msglen)
{
	agent_traffic *t = NULL;
	osp_err rv;
	bool ok = false;

	pthread_mutex_lock(&g->sw);
	if (c->weight == 0) {
		/* write-ahead: a reset the proxy did not take yet still converges */
		w->rec.canary_slot[0] = '\0';
		w->rec.canary_weight = 0;
		if ((rv = agent_apps_rec_save(g->p, &w->rec)) != OSP_OK) {
			agent_apps_result(res, AGENT_RES_FAILED, msg, msglen,
				"cannot record app '%s': %s", c->app, osp_strerror(rv));
			goto out;
		}
	}
	rv = agent_bluegreen_traffic(g, &w->rec, &t, w->err, sizeof(w->err));
	if (rv == OSP_OK)
		rv = agent_traffic_weight(t, w->rec.active_slot, c->slot, c->weight, w->err,
			sizeof(w->err));
	if (rv != OSP_OK) {
		agent_apps_result(res, AGENT_RES_FAILED, msg, msglen,
			"weight %u%% to slot '%s' not applied: proxy: %s", c->weight, c->slot,
			w->err);
		goto out;
	}
	if (c->weight > 0) {
		osp_strlcpy(w->rec.canary_slot, c->slot, sizeof(w->rec.canary_slot));
		w->rec.canary_weight = c->weight;
		if ((rv = agent_apps_rec_save(g->p, &w->rec)) != OSP_OK) {
			agent_apps_result(res, AGENT_RES_FAILED, msg, msglen,
				"weight %u%% applied but not recorded: %s", c->weight,
				osp_strerror(rv));
			goto out;
		}
	}
	/* the coordinator's baseline: the counters right after the change */
	if (agent_traffic_stats(t, c->slot, &w->st, w->why, sizeof(w->why)) == OSP_OK)
		agent_bluegreen_canary_result(g, w, res);
	ok = true;
out:
	pthread_mutex_unlock(&g->sw);
	return ok;
}

void agent_bluegreen_weight(agent_bluegreen *g, const Ospec__V1__Command *cmd,
	Ospec__V1__CommandResult *res, char *msg, size_t msglen)
{
	const Ospec__V1__TrafficWeight *c = cmd->weight;
	agent_bluegreen_cwork *w = calloc(1, sizeof(*w));
	const agent_slot_rec *sl;

	res->app = c->app;
	res->slot = agent_bluegreen_slot_word(c->slot);
	if (w == NULL) {
		agent_apps_result(res, AGENT_RES_FAILED, msg, msglen, "out of memory");
		return;
	}
	if (c->weight > AGENT_TRAFFIC_WEIGHT_MAX) {
		agent_apps_result(res, AGENT_RES_REFUSED, msg, msglen,
			"weight %u: expected 0..100", c->weight);
		goto out;
	}
	if (!agent_bluegreen_canary_load(g, c->app, c->slot, w, res, msg, msglen))
		goto out;
	/* the handlers run on one thread: the record read here is still the
	 * record when the change is applied below */
	sl = agent_bluegreen_slot(&w->rec, c->slot);
	if (c->weight > 0 && w->rec.prepared_switch_id[0] != '\0') {
		agent_apps_result(res, AGENT_RES_REFUSED, msg, msglen,
			"switch '%s' is prepared: slots are locked", w->rec.prepared_switch_id);
		goto out;
	}
	if (c->weight > 0 &&
		!agent_bluegreen_slot_ready(g, c->app, c->slot, NULL, sl, w->why, sizeof(w->why))) {
		agent_apps_result(res, AGENT_RES_REFUSED, msg, msglen, "no canary: %s", w->why);
		goto out;
	}
	if (!agent_bluegreen_weight_apply(g, c, w, res, msg, msglen)) {
		OSP_WARN("AGENT-CANARY-WEIGHT", "app '%s': %s", c->app, msg);
		goto out;
	}
	osp_strlcpy(g->p->res.version, sl->rel.version, sizeof(g->p->res.version));
	res->version = c->weight > 0 && sl->rel.set ? g->p->res.version : NULL;
	agent_apps_result(res, AGENT_RES_OK, msg, msglen,
		"weight %u%% to slot '%s', %u%% to slot '%s'%s%s", c->weight, c->slot,
		AGENT_TRAFFIC_WEIGHT_MAX - c->weight, w->rec.active_slot,
		res->stats != NULL ? "" : "; no counters: ", res->stats != NULL ? "" : w->why);
	OSP_INFO("AGENT-CANARY-WEIGHT", "app '%s': weight %u%% to slot '%s'%s%s", c->app,
		c->weight, c->slot, c->step_id != NULL ? " step " : "",
		c->step_id != NULL ? c->step_id : "");
out:
	free(w);
}

void agent_bluegreen_stats(agent_bluegreen *g, const Ospec__V1__Command *cmd,
	Ospec__V1__CommandResult *res, char *msg, size_t msglen)
{
	const Ospec__V1__TrafficStats *c = cmd->stats;
	agent_bluegreen_cwork *w = calloc(1, sizeof(*w));
	agent_traffic *t = NULL;
	osp_err rv;

	res->app = c->app;
	res->slot = agent_bluegreen_slot_word(c->slot);
	if (w == NULL) {
		agent_apps_result(res, AGENT_RES_FAILED, msg, msglen, "out of memory");
		return;
	}
	if (c->app == NULL || !osp_valid_id(c->app) || !agent_bluegreen_is_slot(c->slot)) {
		agent_apps_result(res, AGENT_RES_REFUSED, msg, msglen,
			"invalid app name or slot (expected blue or green)");
		goto out;
	}
	rv = agent_apps_rec_load(g->p, c->app, &w->rec, &w->found);
	if (rv == OSP_OK && (!w->found || !agent_bluegreen_rec_is_bg(&w->rec))) {
		agent_apps_result(res, AGENT_RES_REFUSED, msg, msglen,
			"app '%s' has no slots on this node", c->app);
		goto out;
	}
	pthread_mutex_lock(&g->sw); /* the driver's app and ports */
	if (rv == OSP_OK)
		rv = agent_bluegreen_traffic(g, &w->rec, &t, w->err, sizeof(w->err));
	if (rv == OSP_OK)
		rv = agent_traffic_stats(t, c->slot, &w->st, w->err, sizeof(w->err));
	pthread_mutex_unlock(&g->sw);
	if (rv != OSP_OK) {
		agent_apps_result(res, AGENT_RES_FAILED, msg, msglen, "slot '%s' counters: %s",
			c->slot, w->err[0] != '\0' ? w->err : osp_strerror(rv));
		goto out;
	}
	agent_bluegreen_canary_result(g, w, res);
	agent_apps_result(res, AGENT_RES_OK, msg, msglen,
		"slot '%s': %llu requests, %llu errors", c->slot,
		(unsigned long long)w->st.requests, (unsigned long long)w->st.errors);
out:
	free(w);
}
