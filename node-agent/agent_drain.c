/*
 * agent_drain.c - drain for rolling deploys behind a proxy (agent_drain.h).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_bluegreen.h"
#include "agent_drain.h"
#include "agent_traffic.h"

#define AGENT_DRAIN_HELD_MAX 64

struct agent_drain {
	agent_apps *p;
	agent_traffic *t;
	char app[OSP_WIRE_MAX_ID + 1];
	char server[128];
	char err[512];
};

/* The apps whose stage holds the drain, (p, app) pairs. */
static pthread_mutex_t agent_drain_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	const agent_apps *p;
	char app[OSP_WIRE_MAX_ID + 1];
} agent_drain_held[AGENT_DRAIN_HELD_MAX];

/* agent_drain_slot finds (p, app) in the table, or a free entry when want_free.
 * Caller holds agent_drain_mu. */
static long agent_drain_slot(const agent_apps *p, const char *app, bool want_free)
{
	for (long i = 0; i < AGENT_DRAIN_HELD_MAX; i++) {
		bool used = agent_drain_held[i].p != NULL;
		if (want_free ? !used
			      : used && agent_drain_held[i].p == p &&
					strcmp(agent_drain_held[i].app, app) == 0)
			return i;
	}
	return -1;
}

/* agent_drain_proxy returns app's proxy settings when it has a server. */
static const agent_proxy_cfg *agent_drain_proxy(const agent_apps *p, const char *app)
{
	const agent_app_cfg *ac = agent_cfg_app(p->cfg, app);

	return ac != NULL && ac->proxy.server != NULL && ac->proxy.server[0] != '\0' ? &ac->proxy
										     : NULL;
}

/* agent_drain_wait polls the sessions of d's server until 0 or timeout_ms. */
static void agent_drain_wait(agent_drain *d, int64_t timeout_ms)
{
	int64_t start = osp_now_mono_ms(), until = start + timeout_ms;
	agent_traffic_srv st = { 0 };
	osp_err rv;

	for (;;) {
		rv = agent_traffic_srv_state(d->t, d->server, &st, d->err, sizeof(d->err));
		if (rv != OSP_OK || st.sessions <= 0 || osp_now_mono_ms() >= until)
			break;
		osp_sleep_ms(AGENT_DRAIN_POLL_MS);
	}
	if (rv != OSP_OK)
		OSP_WARN("AGENT-DRAIN", "app '%s': cannot read the sessions of server '%s': %s; "
			"stopping it now", d->app, d->server, d->err);
	else if (st.sessions > 0)
		OSP_WARN("AGENT-DRAIN", "app '%s': server '%s' still has %ld sessions after "
			"%lld ms (drain_timeout): stopping it now", d->app, d->server, st.sessions,
			(long long)timeout_ms);
	else
		OSP_INFO("AGENT-DRAIN", "app '%s': server '%s' drained in %lld ms", d->app,
			d->server, (long long)(osp_now_mono_ms() - start));
}

void agent_drain_begin(agent_apps *p, const char *app, agent_drain **out)
{
	const agent_proxy_cfg *px = agent_drain_proxy(p, app);
	agent_drain *d = NULL;
	long i;

	*out = NULL;
	if (px == NULL)
		return;
	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		OSP_ERROR("AGENT-DRAIN", "app '%s': not drained: out of memory", app);
		return;
	}
	d->p = p;
	osp_strlcpy(d->app, app, sizeof(d->app));
	osp_strlcpy(d->server, px->server, sizeof(d->server));
	pthread_mutex_lock(&agent_drain_mu);
	if (agent_drain_slot(p, app, false) < 0 && (i = agent_drain_slot(p, app, true)) >= 0) {
		agent_drain_held[i].p = p;
		osp_strlcpy(agent_drain_held[i].app, app, sizeof(agent_drain_held[i].app));
	}
	pthread_mutex_unlock(&agent_drain_mu);
	if (agent_traffic_open(px, &d->t, d->err, sizeof(d->err)) != OSP_OK ||
		agent_traffic_drain(d->t, d->server, d->err, sizeof(d->err)) != OSP_OK) {
		OSP_WARN("AGENT-DRAIN", "app '%s': cannot drain server '%s': %s; replacing the "
			"process without drain", app, d->server, d->err);
		if (d->t != NULL)
			(void)agent_traffic_ready(d->t, d->server, d->err, sizeof(d->err));
		*out = d; /* end() releases the hold */
		return;
	}
	OSP_INFO("AGENT-DRAIN", "app '%s': server '%s' is draining", app, d->server);
	agent_drain_wait(d, px->drain_timeout > 0 ? px->drain_timeout : AGENT_DRAIN_TIMEOUT_MS);
	*out = d;
}

void agent_drain_end(agent_drain *d, bool healthy)
{
	long i;

	if (d == NULL)
		return;
	if (d->t != NULL && healthy) {
		if (agent_traffic_ready(d->t, d->server, d->err, sizeof(d->err)) == OSP_OK)
			OSP_INFO("AGENT-DRAIN", "app '%s': server '%s' is ready again", d->app,
				d->server);
		else
			OSP_WARN("AGENT-DRAIN", "app '%s': cannot put server '%s' back: %s; the "
				"watch retries", d->app, d->server, d->err);
	} else if (d->t != NULL) {
		OSP_WARN("AGENT-DRAIN", "app '%s': server '%s' stays drained: the app is not "
			"healthy (put back once it is)", d->app, d->server);
	}
	pthread_mutex_lock(&agent_drain_mu);
	if ((i = agent_drain_slot(d->p, d->app, false)) >= 0)
		agent_drain_held[i].p = NULL;
	pthread_mutex_unlock(&agent_drain_mu);
	agent_traffic_close(d->t);
	free(d);
}

/* agent_drain_watch_one re-asserts ready for one app if it needs it.
 * Caller holds agent_drain_mu. */
static void agent_drain_watch_one(agent_apps *p, const agent_app_cfg *ac, agent_app_rec *rec)
{
	agent_traffic *t = NULL;
	agent_traffic_srv st;
	agent_apps_health h = AGENT_APPS_HEALTH_UNKNOWN;
	bool found = false;
	char err[512];

	(void)agent_apps_health_epoch(p, ac->name, &h);
	if (h != AGENT_APPS_HEALTH_OK || agent_drain_slot(p, ac->name, false) >= 0 ||
		agent_apps_rec_load(p, ac->name, rec, &found) != OSP_OK || !found ||
		!rec->running || !rec->current.set || agent_bluegreen_rec_is_bg(rec))
		return;
	if (agent_traffic_open(&ac->proxy, &t, err, sizeof(err)) != OSP_OK)
		return; /* the config was checked at start: only ENOMEM */
	if (agent_traffic_srv_state(t, ac->proxy.server, &st, err, sizeof(err)) == OSP_OK &&
		st.draining) {
		if (agent_traffic_ready(t, ac->proxy.server, err, sizeof(err)) == OSP_OK)
			OSP_WARN("AGENT-DRAIN-REASSERT", "app '%s': server '%s' was left in drain "
				"while the app runs healthy: ready again", ac->name,
				ac->proxy.server);
		else
			OSP_WARN("AGENT-DRAIN-REASSERT", "app '%s': cannot put server '%s' back: %s",
				ac->name, ac->proxy.server, err);
	}
	agent_traffic_close(t);
}

void agent_drain_watch(agent_apps *p)
{
	agent_app_rec *rec = NULL;

	for (size_t i = 0; i < p->cfg->napps; i++) {
		const agent_app_cfg *ac = &p->cfg->apps[i];

		if (agent_drain_proxy(p, ac->name) == NULL)
			continue;
		if (rec == NULL && (rec = malloc(sizeof(*rec))) == NULL)
			return;
		pthread_mutex_lock(&agent_drain_mu);
		agent_drain_watch_one(p, ac, rec);
		pthread_mutex_unlock(&agent_drain_mu);
	}
	free(rec);
}
