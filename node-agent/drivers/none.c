/*
 * none.c - the traffic driver of an app without a proxy on this host.
 *
 * Every call succeeds; current() returns the slot last committed, kept in
 * memory only (the agent's store holds the durable active slot). Useful for
 * apps that clients reach on both ports, and for benchmarks. A canary needs
 * a proxy: weight() above 0 and stats() fail and say so.
 */
#include <stdlib.h>
#include <string.h>

#include "agent_traffic.h"

typedef struct agent_none {
	pthread_mutex_t mu;
	char slot[AGENT_TRAFFIC_SLOT_MAX];
} agent_none;

static osp_err agent_none_open(agent_traffic *t, const agent_proxy_cfg *cfg, char *err,
	size_t errlen)
{
	agent_none *n = calloc(1, sizeof(*n));

	(void)cfg;
	if (n == NULL) {
		agent_traffic_seterr(err, errlen, "out of memory");
		return OSP_ENOMEM;
	}
	pthread_mutex_init(&n->mu, NULL);
	t->drv = n;
	return OSP_OK;
}

static osp_err agent_none_prepare(agent_traffic *t, const char *to_slot, char *err,
	size_t errlen)
{
	(void)t;
	(void)to_slot;
	(void)err;
	(void)errlen;
	return OSP_OK;
}

static osp_err agent_none_commit(agent_traffic *t, const char *to_slot, char *err,
	size_t errlen)
{
	agent_none *n = t->drv;

	(void)err;
	(void)errlen;
	pthread_mutex_lock(&n->mu);
	osp_strlcpy(n->slot, to_slot, sizeof(n->slot));
	pthread_mutex_unlock(&n->mu);
	return OSP_OK;
}

static osp_err agent_none_abort(agent_traffic *t, char *err, size_t errlen)
{
	(void)t;
	(void)err;
	(void)errlen;
	return OSP_OK;
}

static osp_err agent_none_current(agent_traffic *t, char *slot, size_t len, char *err,
	size_t errlen)
{
	agent_none *n = t->drv;

	(void)err;
	(void)errlen;
	pthread_mutex_lock(&n->mu);
	osp_strlcpy(slot, n->slot, len);
	pthread_mutex_unlock(&n->mu);
	return OSP_OK;
}

/* agent_none_watch has nothing that could restart or drift: it only adopts
 * the active slot, so current() agrees with the caller after an agent restart. */
static osp_err agent_none_watch(agent_traffic *t, const char *active_slot, bool *reasserted,
	char *err, size_t errlen)
{
	agent_none *n = t->drv;

	(void)err;
	(void)errlen;
	*reasserted = false;
	if (active_slot[0] != '\0') {
		pthread_mutex_lock(&n->mu);
		osp_strlcpy(n->slot, active_slot, sizeof(n->slot));
		pthread_mutex_unlock(&n->mu);
	}
	return OSP_OK;
}

/* agent_none_weight: without a proxy there is nothing to weight; 0 (no
 * canary) is a commit of the active slot and succeeds. */
static osp_err agent_none_weight(agent_traffic *t, const char *active_slot,
	const char *canary_slot, unsigned weight, char *err, size_t errlen)
{
	(void)canary_slot;
	if (weight == 0)
		return agent_none_commit(t, active_slot, err, errlen);
	agent_traffic_seterr(err, errlen,
		"app %s has no proxy: a canary needs haproxy, nginx or exec (docs/drivers.md)",
		t->app);
	return OSP_ESTATE;
}

static osp_err agent_none_stats(agent_traffic *t, const char *slot, agent_traffic_slot_stats *st,
	char *err, size_t errlen)
{
	(void)slot;
	(void)st;
	agent_traffic_seterr(err, errlen,
		"app %s has no proxy: no traffic counters for a canary analysis (docs/drivers.md)",
		t->app);
	return OSP_ESTATE;
}

static void agent_none_close(agent_traffic *t)
{
	agent_none *n = t->drv;

	if (n == NULL)
		return;
	pthread_mutex_destroy(&n->mu);
	free(n);
	t->drv = NULL;
}

const agent_traffic_ops agent_traffic_none_ops = {
	.name = "none",
	.open = agent_none_open,
	.prepare = agent_none_prepare,
	.commit = agent_none_commit,
	.abort = agent_none_abort,
	.current = agent_none_current,
	.watch = agent_none_watch,
	.weight = agent_none_weight,
	.stats = agent_none_stats,
	.close = agent_none_close,
};
