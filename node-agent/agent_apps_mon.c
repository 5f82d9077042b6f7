/*
 * agent_apps_mon.c - live health checks of the main-slot apps
 * (agent_apps_mon.h): one GET per app and round, failure counting and the
 * epoch-guarded publish into the health table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_apps_mon.h"
#include "agent_bluegreen.h"
#include "agent_health.h"

/* The counters of one app between rounds. */
typedef struct agent_apps_mon_app {
	char app[OSP_WIRE_MAX_ID + 1];
	uint64_t epoch; /* of the health table when the count began */
	unsigned fails; /* consecutive failed checks */
	bool seen;      /* checked in this round */
} agent_apps_mon_app;

struct agent_apps_mon {
	agent_apps *p;
	agent_app_rec rec;
	char url[OSP_WIRE_MAX_PATH + 64];
	char err[512];
	agent_apps_mon_app apps[AGENT_APPS_HEALTH_MAX]; /* as many as the table holds */
	size_t napps;
	bool full_logged;
};

osp_err agent_apps_mon_alloc(agent_apps *p, agent_apps_mon **out)
{
	agent_apps_mon *m = calloc(1, sizeof(*m));

	*out = NULL;
	if (m == NULL)
		return OSP_ENOMEM;
	m->p = p;
	*out = m;
	return OSP_OK;
}

void agent_apps_mon_free(agent_apps_mon *m)
{
	free(m);
}

/* agent_apps_mon_find returns app's counters (new ones when missing), or
 * NULL when the table is full. */
static agent_apps_mon_app *agent_apps_mon_find(agent_apps_mon *m, const char *app)
{
	agent_apps_mon_app *a;

	for (size_t i = 0; i < m->napps; i++)
		if (strcmp(m->apps[i].app, app) == 0)
			return &m->apps[i];
	if (m->napps == AGENT_APPS_HEALTH_MAX) {
		if (!m->full_logged)
			OSP_ERROR("AGENT-MONITOR", "app '%s' is not monitored: more than %d apps", app,
				AGENT_APPS_HEALTH_MAX);
		m->full_logged = true;
		return NULL;
	}
	a = &m->apps[m->napps++];
	memset(a, 0, sizeof(*a));
	osp_strlcpy(a->app, app, sizeof(a->app));
	return a;
}

/* agent_apps_mon_watched reports whether m->rec is an app the round checks:
 * recorded as running a release in the main slot. */
static bool agent_apps_mon_watched(const agent_apps_mon *m)
{
	return m->rec.running && m->rec.current.set && !agent_bluegreen_rec_is_bg(&m->rec);
}

/* agent_apps_mon_probe GETs the health path of m->rec once; false with
 * m->err. */
static bool agent_apps_mon_probe(agent_apps_mon *m)
{
	const char *path = m->rec.health_path[0] != '\0' ? m->rec.health_path : AGENT_HEALTH_PATH;
	unsigned port = agent_apps_port(m->p, m->rec.app, m->rec.current.port);
	int n;

	if (port == 0 || path[0] != '/') {
		snprintf(m->err, sizeof(m->err), "no port or an invalid health path");
		return false;
	}
	n = snprintf(m->url, sizeof(m->url), "http://127.0.0.1:%u%s", port, path);
	if (n < 0 || (size_t)n >= sizeof(m->url)) {
		snprintf(m->err, sizeof(m->err), "health url too long");
		return false;
	}
	return agent_health_check_once(m->url, AGENT_BLUEGREEN_MONITOR_TIMEOUT_MS, NULL, m->err,
		       sizeof(m->err)) == OSP_OK;
}

/* agent_apps_mon_check checks app once and publishes a change of its state. */
static void agent_apps_mon_check(agent_apps_mon *m, const char *app)
{
	agent_apps_mon_app *a;
	agent_apps_health h, nh;
	uint64_t epoch;
	bool found = false, ok;

	/* the epoch first: a handler that changes the record after this read
	 * also sets the health, which voids this check's publish */
	epoch = agent_apps_health_epoch(m->p, app, &h);
	if (agent_apps_rec_load(m->p, app, &m->rec, &found) != OSP_OK || !found ||
		!agent_apps_mon_watched(m) || (a = agent_apps_mon_find(m, app)) == NULL)
		return;
	a->seen = true;
	if (a->epoch != epoch) {
		/* a handler decided since the last round: count from its result */
		a->epoch = epoch;
		a->fails = 0;
	}
	if (epoch != 0 && h == AGENT_APPS_HEALTH_UNKNOWN)
		return; /* a handler is deciding; it sets the result itself */
	ok = agent_apps_mon_probe(m);
	a->fails = ok ? 0 : a->fails + 1;
	nh = ok ? AGENT_APPS_HEALTH_OK
		: (a->fails >= AGENT_BLUEGREEN_MONITOR_FALL ? AGENT_APPS_HEALTH_FAILED : h);
	if (nh == h)
		return;
	if (!agent_apps_health_publish(m->p, app, epoch, nh)) {
		a->fails = 0; /* a handler set it meanwhile: the next round starts over */
		return;
	}
	if (nh == AGENT_APPS_HEALTH_FAILED)
		OSP_WARN("AGENT-APP-UNHEALTHY", "app '%s' is unhealthy: %s", app, m->err);
	else if (h == AGENT_APPS_HEALTH_FAILED)
		OSP_INFO("AGENT-APP-HEALTHY", "app '%s' is healthy again", app);
}

void agent_apps_mon_round(agent_apps_mon *m)
{
	agent_apps_names nm;
	size_t n = 0;

	if (m == NULL || agent_apps_names_get(m->p, &nm) != OSP_OK)
		return; /* the restore logged a store that cannot be read */
	for (size_t i = 0; i < m->napps; i++)
		m->apps[i].seen = false;
	for (size_t i = 0; i < nm.n; i++)
		agent_apps_mon_check(m, nm.v[i]);
	/* forget the counters of apps no longer running here */
	for (size_t i = 0; i < m->napps; i++)
		if (m->apps[i].seen)
			m->apps[n++] = m->apps[i];
	m->napps = n;
	free(nm.v);
}
