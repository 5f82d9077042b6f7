/*
 * agent_bluegreen_mon.c - the blue-green context (agent_bluegreen.h): the
 * traffic driver of each app, the monitor threads (live health of the active
 * slot and, through agent_apps_mon.c, of the main-slot apps; proxy
 * re-assert), the restore at agent start, the apps report and the in-doubt
 * list. The command handlers are in agent_bluegreen.c.
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

/* One element of the in-doubt list: free(&blk->d) frees it all. */
typedef struct agent_bluegreen_doubt_blk {
	Ospec__V1__InDoubt d; /* first: the element's address is the block's */
	char switch_id[OSP_WIRE_MAX_ID + 1];
	char app[OSP_WIRE_MAX_ID + 1];
} agent_bluegreen_doubt_blk;

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

/* agent_bluegreen_monitor_start starts the threads once. Caller holds g->mtx. */
static void agent_bluegreen_monitor_start(agent_bluegreen *g)
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
