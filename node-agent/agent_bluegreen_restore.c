/*
 * agent_bluegreen_restore.c - the blue-green apps at agent start
 * (agent_bluegreen_restore, agent_bluegreen.h): each slot back to its
 * recorded state, the active slot (or the canary weight) re-asserted on the
 * proxy, the monitor started. Runs after agent_apps_restore, on the
 * dispatcher's thread. Locks as agent_bluegreen_mon.c.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "agent_bluegreen.h"

/* agent_bluegreen_restore_slot brings one slot of rec to its recorded state. */
static void agent_bluegreen_restore_slot(agent_bluegreen *g, agent_app_rec *rec, const char *slot)
{
	const agent_app_cfg *ac = agent_cfg_app(g->p->cfg, rec->app);
	agent_slot_rec *sl = agent_bluegreen_slot(rec, slot);
	agent_proc_status st;
	char dir[PATH_MAX], err[512];
	bool supervised = agent_runner_status(g->p->runner, rec->app, slot, &st) == OSP_OK;
	osp_err rv;

	if (!sl->running || !sl->rel.set) {
		if (supervised) {
			OSP_INFO("AGENT-APP-RESTORE",
				"stopping app '%s' slot '%s': recorded as stopped", rec->app, slot);
			agent_runner_stop(g->p->runner, rec->app, slot, AGENT_APPS_STOP_GRACE_MS);
		}
		return;
	}
	if (ac != NULL && ac->blue_port > 0 && ac->green_port > 0 && ac->blue_port <= 65535 &&
		ac->green_port <= 65535)
		sl->rel.port =
			(unsigned)(strcmp(slot, "blue") == 0 ? ac->blue_port : ac->green_port);
	if (supervised && agent_apps_runs_slot(g->p, rec->app, slot, &sl->rel)) {
		OSP_INFO("AGENT-APP-RESTORE", "app '%s' slot '%s' runs version '%s' (pid %d)",
			rec->app, slot, sl->rel.version, (int)st.pid);
		return;
	}
	if (supervised) {
		OSP_INFO("AGENT-APP-RESTORE",
			"app '%s' slot '%s' does not run version '%s'; restarting", rec->app, slot,
			sl->rel.version);
		agent_runner_stop(g->p->runner, rec->app, slot, AGENT_APPS_STOP_GRACE_MS);
	}
	rv = agent_apps_release_dir(g->p, &sl->rel, dir, sizeof(dir), err, sizeof(err));
	if (rv == OSP_OK)
		rv = agent_apps_start_slot(g->p, rec->app, slot, &sl->rel, dir, err, sizeof(err));
	if (rv != OSP_OK) {
		OSP_ERROR("AGENT-APP-RESTORE", "cannot restore app '%s' slot '%s' version '%s': %s",
			rec->app, slot, sl->rel.version, err);
		return;
	}
	OSP_INFO("AGENT-APP-RESTORE",
		"restarted app '%s' slot '%s' version '%s' on port %u (no health wait at restore)",
		rec->app, slot, sl->rel.version, sl->rel.port);
}

/* agent_bluegreen_restore_proxy re-asserts rec's active slot on the proxy. */
static void agent_bluegreen_restore_proxy(agent_bluegreen *g, const agent_app_rec *rec)
{
	agent_traffic *t = NULL;
	char err[512] = "";
	bool canary = false;
	osp_err rv;

	if (rec->prepared_switch_id[0] != '\0')
		OSP_INFO("AGENT-SWITCH-IN-DOUBT",
			"app '%s' switch '%s' to slot '%s' is prepared: waiting for the decision",
			rec->app, rec->prepared_switch_id, rec->prepared_to_slot);
	if (rec->active_slot[0] == '\0')
		return;
	pthread_mutex_lock(&g->sw);
	rv = agent_bluegreen_traffic(g, rec, &t, err, sizeof(err));
	if (rv == OSP_OK)
		rv = agent_bluegreen_proxy_assert(t, rec, &canary, err, sizeof(err));
	if (rv == OSP_OK && !canary)
		rv = agent_traffic_commit(t, rec->active_slot, err, sizeof(err));
	pthread_mutex_unlock(&g->sw);
	if (rv != OSP_OK)
		OSP_ERROR("AGENT-PROXY-RESTORE", "app '%s': cannot re-assert slot '%s'%s: %s",
			rec->app, rec->active_slot, canary ? " with its canary" : "", err);
	else if (canary)
		OSP_INFO("AGENT-PROXY-RESTORE",
			"app '%s': slot '%s' is active on the proxy (%s), canary slot '%s' at %u%%",
			rec->app, rec->active_slot, agent_traffic_name(t), rec->canary_slot,
			rec->canary_weight);
	else
		OSP_INFO("AGENT-PROXY-RESTORE", "app '%s': slot '%s' is active on the proxy (%s)",
			rec->app, rec->active_slot, agent_traffic_name(t));
}

void agent_bluegreen_restore(agent_bluegreen *g)
{
	agent_apps_names nm = { 0 };
	agent_app_rec *rec = NULL;
	bool found;
	osp_err rv;

	/* the monitor runs from the agent's start on, blue-green apps or not:
	 * it also watches the main-slot apps */
	pthread_mutex_lock(&g->mtx);
	agent_bluegreen_monitor_start(g);
	pthread_mutex_unlock(&g->mtx);
	if ((rv = agent_apps_names_get(g->p, &nm)) != OSP_OK) {
		OSP_ERROR("AGENT-APP-RESTORE", "cannot list the app records: %s", osp_strerror(rv));
		return;
	}
	if ((rec = malloc(sizeof(*rec))) == NULL) {
		OSP_ERROR("AGENT-APP-RESTORE", "cannot restore the blue-green apps: out of memory");
		goto out;
	}
	for (size_t i = 0; i < nm.n; i++) {
		if (agent_apps_rec_load(g->p, nm.v[i], rec, &found) != OSP_OK || !found ||
			!agent_bluegreen_rec_is_bg(rec))
			continue; /* agent_apps_restore reported a bad record */
		agent_bluegreen_restore_slot(g, rec, "blue");
		agent_bluegreen_restore_slot(g, rec, "green");
		agent_bluegreen_restore_proxy(g, rec);
		agent_bluegreen_monitor_add(g, rec->app);
	}
out:
	free(rec);
	free(nm.v);
}
