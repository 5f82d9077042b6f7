/*
 * agent_bluegreen_report.c - what the agent tells the coordinator about its
 * blue-green apps (agent_bluegreen.h): an app's element of the apps report
 * (agent_bluegreen_state_fill) and the switches prepared here with no
 * decision yet (agent_bluegreen_in_doubt, for Register). May run on another
 * thread than the handlers': it only reads the records and the health table.
 */
#include <stdlib.h>
#include <string.h>

#include "agent_bluegreen.h"

/* One element of the in-doubt list: free(&blk->d) frees it all. */
typedef struct agent_bluegreen_doubt_blk {
	Ospec__V1__InDoubt d; /* first: the element's address is the block's */
	char switch_id[OSP_WIRE_MAX_ID + 1];
	char app[OSP_WIRE_MAX_ID + 1];
} agent_bluegreen_doubt_blk;

bool agent_bluegreen_rec_is_bg(const agent_app_rec *rec)
{
	return rec->blue.rel.set || rec->green.rel.set || rec->active_slot[0] != '\0' ||
		rec->prepared_switch_id[0] != '\0';
}

void agent_bluegreen_state_fill(agent_apps *p, const agent_app_rec *rec, Ospec__V1__AppState *st,
	agent_bluegreen_state_bufs *b)
{
	const agent_slot_rec *act = NULL, *idle = NULL;
	agent_proc_status ps;
	bool running = false;

	if (strcmp(rec->active_slot, "blue") == 0) {
		act = &rec->blue;
		idle = &rec->green;
	} else if (strcmp(rec->active_slot, "green") == 0) {
		act = &rec->green;
		idle = &rec->blue;
	}
	osp_strlcpy(b->slot, rec->active_slot, sizeof(b->slot));
	st->active_slot = b->slot;
	if (act != NULL && act->rel.set) {
		osp_strlcpy(b->version, act->rel.version, sizeof(b->version));
		osp_strlcpy(b->sha256, act->rel.sha256, sizeof(b->sha256));
		st->version = b->version;
		st->sha256 = b->sha256;
		running = act->running &&
			agent_runner_status(p->runner, rec->app, rec->active_slot, &ps) == OSP_OK &&
			ps.running;
	}
	/* what an instant switch back would find: only a slot meant to run */
	if (idle != NULL && idle->rel.set && idle->running) {
		osp_strlcpy(b->idle_version, idle->rel.version, sizeof(b->idle_version));
		st->idle_version = b->idle_version;
	}
	st->has_generation = 1;
	st->generation = rec->generation;
	st->has_running = 1;
	st->running = running;
	st->has_healthy = 1;
	st->healthy = running && agent_apps_health_get(p, rec->app) != AGENT_APPS_HEALTH_FAILED;
}

/* agent_bluegreen_doubt_new makes one in-doubt element for rec. */
static Ospec__V1__InDoubt *agent_bluegreen_doubt_new(const agent_app_rec *rec)
{
	agent_bluegreen_doubt_blk *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return NULL;
	ospec__v1__in_doubt__init(&b->d);
	osp_strlcpy(b->switch_id, rec->prepared_switch_id, sizeof(b->switch_id));
	osp_strlcpy(b->app, rec->app, sizeof(b->app));
	b->d.switch_id = b->switch_id;
	b->d.app = b->app;
	return &b->d;
}

size_t agent_bluegreen_in_doubt(agent_bluegreen *g, Ospec__V1__InDoubt ***out)
{
	Ospec__V1__InDoubt **v = NULL;
	agent_apps_names nm;
	agent_app_rec *rec = NULL;
	size_t n = 0;
	bool found;

	*out = NULL;
	if (agent_apps_names_get(g->p, &nm) != OSP_OK || nm.n == 0)
		goto out;
	if ((v = calloc(nm.n, sizeof(*v))) == NULL || (rec = malloc(sizeof(*rec))) == NULL)
		goto out;
	for (size_t i = 0; i < nm.n && n < OSP_WIRE_MAX_APPS; i++) {
		if (agent_apps_rec_load(g->p, nm.v[i], rec, &found) != OSP_OK || !found ||
			rec->prepared_switch_id[0] == '\0')
			continue;
		if ((v[n] = agent_bluegreen_doubt_new(rec)) == NULL)
			break;
		n++;
	}
out:
	free(rec);
	free(nm.v);
	if (n == 0) {
		free(v);
		return 0;
	}
	*out = v;
	return n;
}

void agent_bluegreen_in_doubt_free(Ospec__V1__InDoubt **v, size_t n)
{
	/* each element is one block holding its strings (agent_bluegreen_doubt_new) */
	for (size_t i = 0; i < n && v != NULL; i++)
		free(v[i]);
	free(v);
}
