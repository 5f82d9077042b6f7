/*
 * agent_traffic.c - traffic driver selection, the argument checks every
 * driver relies on, and the per-proxy lock table.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_traffic.h"

static const agent_traffic_ops *const agent_traffic_drivers[] = {
	&agent_traffic_haproxy_ops,
	&agent_traffic_nginx_ops,
	&agent_traffic_exec_ops,
	&agent_traffic_none_ops,
};

/* One mutex per proxy, found by key; a short list (a host has a few). */
struct agent_traffic_lock {
	char *key;
	unsigned refs;
	pthread_mutex_t mu;
	struct agent_traffic_lock *next;
};

static pthread_mutex_t agent_traffic_locks_mu = PTHREAD_MUTEX_INITIALIZER;
static agent_traffic_lock *agent_traffic_locks;

void agent_traffic_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap); /* a truncated message is still useful */
	va_end(ap);
}

osp_err agent_traffic_lock_get(const char *key, agent_traffic_lock **out)
{
	agent_traffic_lock *l;
	osp_err rv = OSP_OK;

	*out = NULL;
	pthread_mutex_lock(&agent_traffic_locks_mu);
	for (l = agent_traffic_locks; l != NULL; l = l->next)
		if (strcmp(l->key, key) == 0)
			break;
	if (l == NULL) {
		l = calloc(1, sizeof(*l));
		if (l != NULL)
			l->key = strdup(key);
		if (l == NULL || l->key == NULL) {
			free(l);
			rv = OSP_ENOMEM;
			goto out;
		}
		pthread_mutex_init(&l->mu, NULL);
		l->next = agent_traffic_locks;
		agent_traffic_locks = l;
	}
	l->refs++;
	*out = l;
out:
	pthread_mutex_unlock(&agent_traffic_locks_mu);
	return rv;
}

void agent_traffic_lock_put(agent_traffic_lock *l)
{
	agent_traffic_lock **pp;

	if (l == NULL)
		return;
	pthread_mutex_lock(&agent_traffic_locks_mu);
	if (--l->refs == 0) {
		for (pp = &agent_traffic_locks; *pp != NULL; pp = &(*pp)->next) {
			if (*pp == l) {
				*pp = l->next;
				break;
			}
		}
		pthread_mutex_destroy(&l->mu);
		free(l->key);
		free(l);
	}
	pthread_mutex_unlock(&agent_traffic_locks_mu);
}

pthread_mutex_t *agent_traffic_lock_mutex(agent_traffic_lock *l)
{
	return &l->mu;
}

/* agent_traffic_pick names the driver cfg asks for (see the header). */
static const char *agent_traffic_pick(const agent_proxy_cfg *cfg)
{
	if (cfg == NULL)
		return "none";
	if (cfg->driver != NULL && cfg->driver[0] != '\0')
		return cfg->driver;
	if (cfg->socket != NULL && cfg->socket[0] != '\0')
		return "haproxy";
	return "none";
}

osp_err agent_traffic_open(const agent_proxy_cfg *cfg, agent_traffic **out, char *err,
	size_t errlen)
{
	static const agent_proxy_cfg empty = { 0 };
	const char *name = agent_traffic_pick(cfg);
	const agent_traffic_ops *ops = NULL;
	agent_traffic *t = NULL;
	osp_err rv;

	*out = NULL;
	for (size_t i = 0; i < sizeof(agent_traffic_drivers) / sizeof(*agent_traffic_drivers);
		i++)
		if (strcmp(agent_traffic_drivers[i]->name, name) == 0)
			ops = agent_traffic_drivers[i];
	if (ops == NULL) {
		agent_traffic_seterr(err, errlen,
			"proxy.driver: \"%.32s\" is not available in this build "
			"(expected haproxy, nginx, exec or none)", name);
		return OSP_ECONFIG;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		agent_traffic_seterr(err, errlen, "out of memory");
		return OSP_ENOMEM;
	}
	t->ops = ops;
	rv = ops->open(t, cfg != NULL ? cfg : &empty, err, errlen);
	if (rv != OSP_OK) {
		free(t);
		return rv;
	}
	*out = t;
	return OSP_OK;
}

void agent_traffic_set_app(agent_traffic *t, const char *app, unsigned blue_port,
	unsigned green_port)
{
	osp_strlcpy(t->app, app != NULL ? app : "", sizeof(t->app));
	t->port[0] = blue_port <= 65535 ? blue_port : 0;
	t->port[1] = green_port <= 65535 ? green_port : 0;
}

void agent_traffic_close(agent_traffic *t)
{
	if (t == NULL)
		return;
	t->ops->close(t);
	free(t);
}

const char *agent_traffic_name(const agent_traffic *t)
{
	return t->ops->name;
}

/* agent_traffic_done makes sure a failure carries a message. */
static osp_err agent_traffic_done(const agent_traffic *t, osp_err rv, char *err, size_t errlen)
{
	if (rv != OSP_OK && err != NULL && errlen > 0 && err[0] == '\0')
		agent_traffic_seterr(err, errlen, "%s driver: %s", t->ops->name,
			osp_strerror(rv));
	return rv;
}

/* agent_traffic_check_slot refuses anything but "blue" and "green", and
 * empties err so every call starts with a clean message. */
static osp_err agent_traffic_check_slot(const char *slot, char *err, size_t errlen)
{
	agent_traffic_seterr(err, errlen, "%s", "");
	if (slot != NULL && (strcmp(slot, "blue") == 0 || strcmp(slot, "green") == 0))
		return OSP_OK;
	agent_traffic_seterr(err, errlen, "slot: expected blue or green, got \"%.16s\"",
		slot != NULL ? slot : "(null)");
	return OSP_EINVAL;
}

osp_err agent_traffic_prepare(agent_traffic *t, const char *to_slot, char *err, size_t errlen)
{
	osp_err rv = agent_traffic_check_slot(to_slot, err, errlen);

	if (rv != OSP_OK)
		return rv;
	return agent_traffic_done(t, t->ops->prepare(t, to_slot, err, errlen), err, errlen);
}

osp_err agent_traffic_commit(agent_traffic *t, const char *to_slot, char *err, size_t errlen)
{
	osp_err rv = agent_traffic_check_slot(to_slot, err, errlen);

	if (rv != OSP_OK)
		return rv;
	return agent_traffic_done(t, t->ops->commit(t, to_slot, err, errlen), err, errlen);
}

osp_err agent_traffic_abort(agent_traffic *t, char *err, size_t errlen)
{
	agent_traffic_seterr(err, errlen, "%s", "");
	return agent_traffic_done(t, t->ops->abort(t, err, errlen), err, errlen);
}

osp_err agent_traffic_current(agent_traffic *t, char *slot, size_t len, char *err,
	size_t errlen)
{
	agent_traffic_seterr(err, errlen, "%s", "");
	if (slot == NULL || len < AGENT_TRAFFIC_SLOT_MAX) {
		agent_traffic_seterr(err, errlen, "slot buffer shorter than %d bytes",
			AGENT_TRAFFIC_SLOT_MAX);
		return OSP_EINVAL;
	}
	slot[0] = '\0';
	return agent_traffic_done(t, t->ops->current(t, slot, len, err, errlen), err, errlen);
}

osp_err agent_traffic_watch(agent_traffic *t, const char *active_slot, bool *reasserted,
	char *err, size_t errlen)
{
	osp_err rv = OSP_OK;

	*reasserted = false;
	agent_traffic_seterr(err, errlen, "%s", "");
	if (active_slot != NULL && active_slot[0] != '\0')
		rv = agent_traffic_check_slot(active_slot, err, errlen);
	if (rv != OSP_OK)
		return rv;
	rv = t->ops->watch(t, active_slot != NULL ? active_slot : "", reasserted, err, errlen);
	return agent_traffic_done(t, rv, err, errlen);
}

/* agent_traffic_check_server refuses an empty server name and empties err. */
static osp_err agent_traffic_check_server(const char *server, char *err, size_t errlen)
{
	agent_traffic_seterr(err, errlen, "%s", "");
	if (server != NULL && server[0] != '\0')
		return OSP_OK;
	agent_traffic_seterr(err, errlen, "proxy.server: a server name is required");
	return OSP_EINVAL;
}

osp_err agent_traffic_drain(agent_traffic *t, const char *server, char *err, size_t errlen)
{
	osp_err rv = agent_traffic_check_server(server, err, errlen);

	if (rv != OSP_OK || t->ops->drain == NULL)
		return rv;
	return agent_traffic_done(t, t->ops->drain(t, server, err, errlen), err, errlen);
}

osp_err agent_traffic_ready(agent_traffic *t, const char *server, char *err, size_t errlen)
{
	osp_err rv = agent_traffic_check_server(server, err, errlen);

	if (rv != OSP_OK || t->ops->ready == NULL)
		return rv;
	return agent_traffic_done(t, t->ops->ready(t, server, err, errlen), err, errlen);
}

osp_err agent_traffic_srv_state(agent_traffic *t, const char *server,
	agent_traffic_srv *st, char *err, size_t errlen)
{
	osp_err rv = agent_traffic_check_server(server, err, errlen);

	memset(st, 0, sizeof(*st));
	if (rv != OSP_OK || t->ops->srv_state == NULL)
		return rv;
	return agent_traffic_done(t, t->ops->srv_state(t, server, st, err, errlen), err, errlen);
}

osp_err agent_traffic_weight(agent_traffic *t, const char *active_slot, const char *canary_slot,
	unsigned weight, char *err, size_t errlen)
{
	osp_err rv = agent_traffic_check_slot(active_slot, err, errlen);

	if (rv == OSP_OK)
		rv = agent_traffic_check_slot(canary_slot, err, errlen);
	if (rv != OSP_OK)
		return rv;
	if (strcmp(active_slot, canary_slot) == 0 || weight > AGENT_TRAFFIC_WEIGHT_MAX) {
		agent_traffic_seterr(err, errlen,
			"weight: expected 0..%d%% to the idle slot, got %u%% to slot '%s' with "
			"slot '%s' active", AGENT_TRAFFIC_WEIGHT_MAX, weight, canary_slot, active_slot);
		return OSP_EINVAL;
	}
	if (t->ops->weight == NULL) {
		agent_traffic_seterr(err, errlen,
			"proxy driver %s cannot weight traffic: a canary needs haproxy, nginx or exec",
			t->ops->name);
		return OSP_ESTATE;
	}
	rv = t->ops->weight(t, active_slot, canary_slot, weight, err, errlen);
	return agent_traffic_done(t, rv, err, errlen);
}

osp_err agent_traffic_stats(agent_traffic *t, const char *slot, agent_traffic_slot_stats *st,
	char *err, size_t errlen)
{
	osp_err rv = agent_traffic_check_slot(slot, err, errlen);

	memset(st, 0, sizeof(*st));
	if (rv != OSP_OK)
		return rv;
	if (t->ops->stats == NULL) {
		agent_traffic_seterr(err, errlen, "proxy driver %s has no traffic counters",
			t->ops->name);
		return OSP_ESTATE;
	}
	return agent_traffic_done(t, t->ops->stats(t, slot, st, err, errlen), err, errlen);
}
