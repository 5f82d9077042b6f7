/*
 * agent_bluegreen_mon.c - the blue-green context (agent_bluegreen.h) and its
 * monitor: the table of blue-green apps with each app's traffic driver, and
 * the two monitor threads over it (live health of the active slot and,
 * through agent_apps_mon.c, of the main-slot apps; the driver's re-assert
 * of the active slot after a proxy restart). The command handlers are in
 * agent_bluegreen.c and agent_bluegreen_canary.c, the restore at agent start
 * in agent_bluegreen_restore.c, the apps report and in-doubt list in
 * agent_bluegreen_report.c.
 *
 * Locks, always taken in this order: g->sw (a switch's proxy commit and
 * record against the monitor's watch, so a watch never re-asserts a slot
 * that a commit just left), g->mtx (the apps table), the health table's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent_apps_mon.h"
#include "agent_bluegreen.h"
#include "agent_drain.h"
#include "agent_health.h"

/* The monitor's state between ticks (its own thread only). */
typedef struct agent_bluegreen_mon {
	agent_app_rec rec;
	char app[OSP_WIRE_MAX_ID + 1];
	char url[OSP_WIRE_MAX_PATH + 64];
	char err[512];
} agent_bluegreen_mon;

osp_err agent_bluegreen_alloc(agent_apps *p, agent_bluegreen **out)
{
	agent_bluegreen *g = calloc(1, sizeof(*g));
	pthread_condattr_t ca;

	*out = NULL;
	if (g == NULL)
		return OSP_ENOMEM;
	g->p = p;
	pthread_mutex_init(&g->mtx, NULL);
	pthread_mutex_init(&g->sw, NULL);
	/* the monitor's naps use the monotonic clock: wall-clock steps do not
	 * stretch or skip them */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->wake, &ca);
	pthread_condattr_destroy(&ca);
	*out = g;
	return OSP_OK;
}

void agent_bluegreen_free(agent_bluegreen *g)
{
	if (g == NULL)
		return;
	pthread_mutex_lock(&g->mtx);
	g->stopping = true;
	pthread_cond_broadcast(&g->wake);
	pthread_mutex_unlock(&g->mtx);
	if (g->health_started)
		pthread_join(g->health_thread, NULL);
	if (g->watch_started)
		pthread_join(g->watch_thread, NULL);
	for (size_t i = 0; i < g->napps; i++)
		agent_traffic_close(g->apps[i].t);
	pthread_cond_destroy(&g->wake);
	pthread_mutex_destroy(&g->sw);
	pthread_mutex_destroy(&g->mtx);
	free(g);
}

/* agent_bluegreen_find returns the index of app in g->apps (added when missing),
 * or -1 when the table is full. Caller holds g->mtx. */
static long agent_bluegreen_find(agent_bluegreen *g, const char *app)
{
	size_t i;

	for (i = 0; i < g->napps; i++)
		if (strcmp(g->apps[i].app, app) == 0)
			return (long)i;
	if (i == AGENT_BLUEGREEN_MAX_APPS)
		return -1;
	memset(&g->apps[i], 0, sizeof(g->apps[i]));
	osp_strlcpy(g->apps[i].app, app, sizeof(g->apps[i].app));
	g->napps++;
	return (long)i;
}

osp_err agent_bluegreen_traffic(agent_bluegreen *g, const agent_app_rec *rec, agent_traffic **t,
	char *err, size_t errlen)
{
	const char *app = rec->app;
	const agent_app_cfg *ac = agent_cfg_app(g->p->cfg, app);
	unsigned port[2] = { rec->blue.rel.port, rec->green.rel.port };
	osp_err rv = OSP_OK;
	long i;

	*t = NULL;
	pthread_mutex_lock(&g->mtx);
	if ((i = agent_bluegreen_find(g, app)) < 0) {
		snprintf(err, errlen, "more than %d blue-green apps", AGENT_BLUEGREEN_MAX_APPS);
		rv = OSP_ETOOBIG;
	} else if (g->apps[i].t == NULL) {
		/* no proxy settings for the app: the "none" driver */
		rv = agent_traffic_open(ac != NULL ? &ac->proxy : NULL, &g->apps[i].t, err, errlen);
	}
	if (ac != NULL && ac->blue_port > 0 && ac->green_port > 0) {
		port[0] = port[0] != 0 ? port[0] : (unsigned)ac->blue_port;
		port[1] = port[1] != 0 ? port[1] : (unsigned)ac->green_port;
	}
	if (rv == OSP_OK) {
		*t = g->apps[i].t;
		agent_traffic_set_app(*t, app, port[0], port[1]);
	}
	pthread_mutex_unlock(&g->mtx);
	return rv;
}

/* agent_bluegreen_wait naps until deadline (monotonic ms) or a stop; returns false
 * when stopping. Caller holds g->mtx. */
static bool agent_bluegreen_wait(agent_bluegreen *g, int64_t deadline)
{
	struct timespec ts;

	while (!g->stopping && osp_now_mono_ms() < deadline) {
		ts.tv_sec = (time_t)(deadline / 1000);
		ts.tv_nsec = (long)(deadline % 1000) * 1000000L;
		if (pthread_cond_timedwait(&g->wake, &g->mtx, &ts) == ETIMEDOUT)
			break;
	}
	return !g->stopping;
}

/* agent_bluegreen_probe checks the active slot sl of m->rec once: its health path,
 * then the host's check_url through the proxy. Returns false with m->err. */
static bool agent_bluegreen_probe(
	agent_bluegreen *g, agent_bluegreen_mon *m, const agent_slot_rec *sl)
{
	const agent_app_cfg *ac = agent_cfg_app(g->p->cfg, m->app);
	const char *path = sl->health_path[0] != '\0' ? sl->health_path : AGENT_HEALTH_PATH;
	int n;

	if (!sl->rel.set || !sl->running) {
		snprintf(m->err, sizeof(m->err), "slot '%s' is not meant to run",
			m->rec.active_slot);
		return false;
	}
	n = snprintf(m->url, sizeof(m->url), "http://127.0.0.1:%u%s", sl->rel.port, path);
	if (n < 0 || (size_t)n >= sizeof(m->url) || path[0] != '/') {
		snprintf(m->err, sizeof(m->err), "invalid health path");
		return false;
	}
	if (agent_health_check_once(m->url, AGENT_BLUEGREEN_MONITOR_TIMEOUT_MS, NULL, m->err,
		    sizeof(m->err)) != OSP_OK)
		return false;
	if (ac != NULL && ac->proxy.check_url != NULL && ac->proxy.check_url[0] != '\0' &&
		agent_health_check_once(ac->proxy.check_url, AGENT_BLUEGREEN_MONITOR_TIMEOUT_MS,
			NULL, m->err, sizeof(m->err)) != OSP_OK)
		return false;
	return true;
}

/* agent_bluegreen_count applies one check result of app i (begun when the table
 * said epoch) and publishes a change of state. */
static void agent_bluegreen_count(
	agent_bluegreen *g, size_t i, const agent_bluegreen_mon *m, unsigned epoch, bool ok)
{
	agent_bluegreen_app *a;
	agent_apps_health h;

	pthread_mutex_lock(&g->mtx);
	a = &g->apps[i];
	if (a->epoch != epoch) {
		/* a switch reset the state while this check ran */
		pthread_mutex_unlock(&g->mtx);
		return;
	}
	if (strcmp(a->slot, m->rec.active_slot) != 0) {
		/* another slot became active since the last check: start over */
		osp_strlcpy(a->slot, m->rec.active_slot, sizeof(a->slot));
		a->fails = 0;
		a->h = AGENT_APPS_HEALTH_UNKNOWN;
	}
	a->fails = ok ? 0 : a->fails + 1;
	h = ok ? AGENT_APPS_HEALTH_OK
	       : (a->fails >= AGENT_BLUEGREEN_MONITOR_FALL ? AGENT_APPS_HEALTH_FAILED : a->h);
	if (h != a->h) {
		if (h == AGENT_APPS_HEALTH_FAILED)
			OSP_WARN("AGENT-APP-UNHEALTHY",
				"app '%s' active slot '%s' is unhealthy: %s", m->app, a->slot,
				m->err);
		else if (a->h == AGENT_APPS_HEALTH_FAILED)
			OSP_INFO("AGENT-APP-HEALTHY", "app '%s' active slot '%s' is healthy again",
				m->app, a->slot);
		a->h = h;
		agent_apps_health_set(g->p, m->app, h);
	}
	pthread_mutex_unlock(&g->mtx);
}

/* agent_bluegreen_watch lets app's driver re-assert the recorded active slot after
 * a proxy restart. The record is read under g->sw: a commit cannot slip in
 * between. */
static void agent_bluegreen_watch(agent_bluegreen *g, size_t i, agent_bluegreen_mon *m)
{
	agent_traffic *t = NULL;
	bool found = false, again = false;
	osp_err rv;

	m->err[0] = '\0';
	pthread_mutex_lock(&g->sw);
	rv = agent_apps_rec_load(g->p, m->app, &m->rec, &found);
	if (rv == OSP_OK && found && m->rec.active_slot[0] != '\0' &&
		(rv = agent_bluegreen_traffic(g, &m->rec, &t, m->err, sizeof(m->err))) == OSP_OK) {
		bool canary;
		/* a canary: its weight is what to re-assert (idempotent), not the
		 * active slot alone, which would put the canary server out */
		rv = agent_bluegreen_proxy_assert(t, &m->rec, &canary, m->err, sizeof(m->err));
		if (!canary)
			rv = agent_traffic_watch(t, m->rec.active_slot, &again, m->err,
				sizeof(m->err));
	}
	pthread_mutex_unlock(&g->sw);
	if (again)
		OSP_WARN("AGENT-PROXY-REASSERT",
			"app '%s': the proxy restarted or drifted; slot '%s' re-asserted", m->app,
			m->rec.active_slot);
	pthread_mutex_lock(&g->mtx);
	if (rv != OSP_OK && m->err[0] == '\0')
		snprintf(m->err, sizeof(m->err), "%s", osp_strerror(rv));
	if (rv != OSP_OK && strcmp(g->apps[i].watch_err, m->err) != 0)
		OSP_WARN("AGENT-PROXY-WATCH", "app '%s': proxy: %s", m->app, m->err);
	else if (rv == OSP_OK && g->apps[i].watch_err[0] != '\0')
		OSP_INFO("AGENT-PROXY-WATCH", "app '%s': proxy answers again", m->app);
	osp_strlcpy(g->apps[i].watch_err, rv == OSP_OK ? "" : m->err, sizeof(g->apps[i].watch_err));
	pthread_mutex_unlock(&g->mtx);
}

/* agent_bluegreen_check_one checks the active slot of app i once. */
static void agent_bluegreen_check_one(agent_bluegreen *g, size_t i, agent_bluegreen_mon *m)
{
	agent_slot_rec *sl;
	unsigned epoch;
	bool found = false;

	pthread_mutex_lock(&g->mtx);
	osp_strlcpy(m->app, g->apps[i].app, sizeof(m->app));
	epoch = g->apps[i].epoch;
	pthread_mutex_unlock(&g->mtx);
	if (agent_apps_rec_load(g->p, m->app, &m->rec, &found) != OSP_OK || !found)
		return;
	sl = agent_bluegreen_slot(&m->rec, m->rec.active_slot);
	if (sl != NULL)
		agent_bluegreen_count(g, i, m, epoch, agent_bluegreen_probe(g, m, sl));
}

/* agent_bluegreen_watch_one lets the driver of app i re-assert its active slot. */
static void agent_bluegreen_watch_one(agent_bluegreen *g, size_t i, agent_bluegreen_mon *m)
{
	pthread_mutex_lock(&g->mtx);
	osp_strlcpy(m->app, g->apps[i].app, sizeof(m->app));
	pthread_mutex_unlock(&g->mtx);
	agent_bluegreen_watch(g, i, m);
}

/* agent_bluegreen_loop calls one(g, i, m) for every app, then runs a round
 * of apps_mon (may be NULL), each period_ms until g stops. */
static void agent_bluegreen_loop(agent_bluegreen *g, int64_t period_ms,
	void (*one)(agent_bluegreen *g, size_t i, agent_bluegreen_mon *m), agent_apps_mon *apps_mon)
{
	agent_bluegreen_mon *m = malloc(sizeof(*m));
	size_t n;

	if (m == NULL) {
		OSP_ERROR("AGENT-MONITOR", "cannot monitor the blue-green apps: out of memory");
		return;
	}
	pthread_mutex_lock(&g->mtx);
	while (!g->stopping) {
		int64_t next = osp_now_mono_ms() + period_ms;

		n = g->napps;
		pthread_mutex_unlock(&g->mtx);
		/* apps are only ever added: indexes below n stay valid */
		for (size_t i = 0; i < n; i++)
			one(g, i, m);
		if (apps_mon != NULL)
			agent_apps_mon_round(apps_mon);
		if (one == agent_bluegreen_watch_one)
			agent_drain_watch(g->p); /* rolling drain's re-assert (agent_drain.h) */
		pthread_mutex_lock(&g->mtx);
		if (!agent_bluegreen_wait(g, next))
			break;
	}
	pthread_mutex_unlock(&g->mtx);
	free(m);
}

/* The health checks and the proxy watch run on threads of their own: a
 * proxy that hangs (seconds of socket timeouts) must not delay `healthy`.
 * The health thread checks the main-slot apps too (agent_apps_mon.h). */
static void *agent_bluegreen_health_main(void *arg)
{
	agent_bluegreen *g = arg;
	agent_apps_mon *apps_mon = NULL;

	if (agent_apps_mon_alloc(g->p, &apps_mon) != OSP_OK)
		OSP_ERROR("AGENT-MONITOR", "cannot monitor the main-slot apps: out of memory");
	agent_bluegreen_loop(g, AGENT_BLUEGREEN_MONITOR_MS, agent_bluegreen_check_one, apps_mon);
	agent_apps_mon_free(apps_mon);
	return NULL;
}

static void *agent_bluegreen_watch_main(void *arg)
{
	agent_bluegreen_loop(arg, AGENT_BLUEGREEN_WATCH_MS, agent_bluegreen_watch_one, NULL);
	return NULL;
}

void agent_bluegreen_monitor_start(agent_bluegreen *g)
{
	int rc;

	if (g->stopping)
		return;
	if (!g->health_started) {
		rc = pthread_create(&g->health_thread, NULL, agent_bluegreen_health_main, g);
		g->health_started = rc == 0;
		if (rc != 0)
			OSP_ERROR("AGENT-MONITOR", "cannot start the health monitor: %s",
				strerror(rc));
	}
	if (!g->watch_started) {
		rc = pthread_create(&g->watch_thread, NULL, agent_bluegreen_watch_main, g);
		g->watch_started = rc == 0;
		if (rc != 0)
			OSP_ERROR(
				"AGENT-MONITOR", "cannot start the proxy watch: %s", strerror(rc));
	}
}

void agent_bluegreen_monitor_add(agent_bluegreen *g, const char *app)
{
	pthread_mutex_lock(&g->mtx);
	if (agent_bluegreen_find(g, app) < 0)
		OSP_ERROR("AGENT-MONITOR",
			"app '%s' is not monitored: more than %d blue-green apps", app,
			AGENT_BLUEGREEN_MAX_APPS);
	agent_bluegreen_monitor_start(g);
	pthread_mutex_unlock(&g->mtx);
}

void agent_bluegreen_monitor_reset(
	agent_bluegreen *g, const char *app, const char *slot, agent_apps_health h)
{
	long i;

	pthread_mutex_lock(&g->mtx);
	if ((i = agent_bluegreen_find(g, app)) >= 0) {
		osp_strlcpy(g->apps[i].slot, slot, sizeof(g->apps[i].slot));
		g->apps[i].fails = 0;
		g->apps[i].h = h;
		g->apps[i].epoch++;
		agent_apps_health_set(g->p, app, h);
	}
	agent_bluegreen_monitor_start(g);
	pthread_mutex_unlock(&g->mtx);
}
