/*
 * haproxy_canary.c - the canary operations of the haproxy driver: weighted
 * traffic between the blue and green servers, the servers' counters, and
 * `show info` (Pid, Start_time_sec: the watch's restart detection and the
 * counters' epoch), over the runtime-API client of haproxy.c.
 *
 * weight(active, canary, w) sets absolute weights, `set weight B/CANARY w`
 * and `set weight B/ACTIVE 100-w` (haproxy's configured weight is 1 unless
 * the config says otherwise, so a relative "10%" would mean nothing), then
 * `set server B/CANARY state ready`, waits until haproxy counts it up and
 * reads both back from `show servers state` (srv_uweight, admin state).
 * Weight 0 is a plain commit of the active slot, which also puts both
 * servers back at their configured weight (`set weight B/S 100%`).
 *
 * stats(slot) reads the slot server's row of `show stat B 4 -1`, its
 * columns found by the CSV header: requests = hrsp_1xx + hrsp_2xx +
 * hrsp_3xx + hrsp_4xx + hrsp_5xx + hrsp_other + econ + eresp, errors =
 * hrsp_5xx + econ + eresp, rtime = haproxy's average response time of the
 * last 1024 requests (ms; an average, not a percentile). All cumulative since
 * haproxy started (Start_time_sec of `show info`): the coordinator takes
 * differences and notices a restart by proxy_start.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "haproxy.h"

/* agent_haproxy_field finds "Key: value" in a `show info` reply and parses
 * the value as a number. */
static bool agent_haproxy_field(const osp_buf *rep, const char *key, long *out)
{
	size_t klen = strlen(key);
	const char *p = rep->data, *end;

	if (p == NULL)
		return false;
	end = p + rep->len;
	while (p != NULL && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		char num[32];

		if (n > klen + 2 && n - klen - 2 < sizeof(num) && strncmp(p, key, klen) == 0 &&
			p[klen] == ':' && p[klen + 1] == ' ') {
			memcpy(num, p + klen + 2, n - klen - 2);
			num[n - klen - 2] = '\0';
			return agent_haproxy_long(num, out);
		}
		p = nl != NULL ? nl + 1 : NULL;
	}
	return false;
}

osp_err agent_haproxy_info(agent_haproxy *h, long long *pid, long long *start, char *err,
	size_t errlen)
{
	const char *cmd = "show info";
	osp_buf rep;
	osp_err rv;
	long v;

	*pid = -1;
	*start = 0;
	osp_buf_init(&rep, AGENT_HAPROXY_REPLY_MAX);
	rv = agent_haproxy_call(h, cmd, &rep, err, errlen);
	if (rv == OSP_OK && agent_haproxy_field(&rep, "Start_time_sec", &v))
		*start = v;
	if (rv == OSP_OK && agent_haproxy_field(&rep, "Pid", &v))
		*pid = v;
	else if (rv == OSP_OK)
		rv = agent_haproxy_refused(h, cmd, &rep, err, errlen);
	osp_buf_fini(&rep);
	return rv;
}

osp_err agent_haproxy_set_weight(agent_haproxy *h, const char *name, const char *value,
	char *err, size_t errlen)
{
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "set weight %s/%s %s", h->backend, name,
		value); /* names are at most 127 bytes each: it fits */
	return agent_haproxy_quiet(h, cmd, err, errlen);
}

/* agent_haproxy_weighted: haproxy holds what weight() sets, the canary
 * serving at w, the active server in neither maintenance nor drain at 100-w. */
static bool agent_haproxy_weighted(const agent_haproxy_srv srv[2], int act, int can, unsigned w)
{
	return agent_haproxy_serving(&srv[can]) && srv[can].weight == (long)w &&
		(srv[act].admin & (AGENT_HAPROXY_ADMF_MAINT | AGENT_HAPROXY_ADMF_DRAIN)) == 0 &&
		srv[act].weight == (long)(AGENT_TRAFFIC_WEIGHT_MAX - w);
}

/* agent_haproxy_weight_locked applies w (1..100); the caller holds the lock. */
static osp_err agent_haproxy_weight_locked(agent_haproxy *h, int act, int can, unsigned w,
	char *err, size_t errlen)
{
	agent_haproxy_srv srv[2];
	char num[2][16];
	osp_err rv = agent_haproxy_servers(h, srv, err, errlen);

	if (rv != OSP_OK || agent_haproxy_weighted(srv, act, can, w))
		return rv; /* already so: a watch's re-assert costs one read */
	snprintf(num[0], sizeof(num[0]), "%u", w);
	snprintf(num[1], sizeof(num[1]), "%u", AGENT_TRAFFIC_WEIGHT_MAX - w);
	rv = agent_haproxy_set_weight(h, h->server[can], num[0], err, errlen);
	if (rv == OSP_OK)
		rv = agent_haproxy_set_weight(h, h->server[act], num[1], err, errlen);
	if (rv == OSP_OK && (srv[act].admin & (AGENT_HAPROXY_ADMF_FMAINT |
						      AGENT_HAPROXY_ADMF_FDRAIN)) != 0)
		rv = agent_haproxy_set_server(h, h->server[act], "ready", err, errlen);
	if (rv == OSP_OK)
		rv = agent_haproxy_set_server(h, h->server[can], "ready", err, errlen);
	if (rv == OSP_OK)
		rv = agent_haproxy_wait_up(h, can, err, errlen);
	if (rv == OSP_OK)
		rv = agent_haproxy_servers(h, srv, err, errlen);
	if (rv == OSP_OK && !agent_haproxy_weighted(srv, act, can, w)) {
		agent_traffic_seterr(err, errlen,
			"haproxy at '%s': read-back after weight %u%% to '%s': server '%s' op %ld "
			"admin %ld weight %ld, server '%s' op %ld admin %ld weight %ld",
			h->socket, w, h->server[can], h->server[can], srv[can].op, srv[can].admin,
			srv[can].weight, h->server[act], srv[act].op, srv[act].admin,
			srv[act].weight);
		rv = OSP_EIO;
	}
	return rv;
}

osp_err agent_haproxy_weight(agent_traffic *t, const char *active_slot,
	const char *canary_slot, unsigned weight, char *err, size_t errlen)
{
	agent_haproxy *h = t->drv;
	int act = agent_haproxy_slot(active_slot), can = agent_haproxy_slot(canary_slot);
	osp_err rv;

	pthread_mutex_lock(agent_traffic_lock_mutex(h->lock));
	if (weight == 0) {
		rv = agent_haproxy_commit_locked(h, act, err, errlen);
	} else {
		rv = agent_haproxy_weight_locked(h, act, can, weight, err, errlen);
		if (rv != OSP_OK) {
			char ignore[8];
			/* best effort back to the active slot alone: a canary that is
			 * half set up must not take traffic */
			(void)agent_haproxy_commit_locked(h, act, ignore, sizeof(ignore));
		}
	}
	pthread_mutex_unlock(agent_traffic_lock_mutex(h->lock));
	return rv;
}

/* agent_haproxy_u64 adds a counter field to *sum: "" (not applicable in this
 * mode) is 0; anything else must be a whole non-negative number. */
static bool agent_haproxy_u64(const char *v, uint64_t *sum)
{
	unsigned long long n;
	char *end;

	if (v == NULL || v[0] == '\0')
		return true;
	if (v[0] < '0' || v[0] > '9')
		return false;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	*sum += n;
	return true;
}

enum { ST_1XX, ST_2XX, ST_3XX, ST_4XX, ST_5XX, ST_OTHER, ST_ECON, ST_ERESP, ST_RTIME, ST_N };

/* agent_haproxy_counters fills st from the stat fields v[]. */
static bool agent_haproxy_counters(char *const v[ST_N], agent_traffic_slot_stats *st)
{
	uint64_t rt = 0;
	bool ok = true;

	for (int i = ST_1XX; i <= ST_ERESP && ok; i++)
		ok = agent_haproxy_u64(v[i], &st->requests);
	ok = ok && agent_haproxy_u64(v[ST_5XX], &st->errors) &&
		agent_haproxy_u64(v[ST_ECON], &st->errors) &&
		agent_haproxy_u64(v[ST_ERESP], &st->errors) && agent_haproxy_u64(v[ST_RTIME], &rt);
	st->has_rtime = ok && v[ST_RTIME] != NULL && v[ST_RTIME][0] != '\0';
	st->rtime_ms = rt > UINT32_MAX ? UINT32_MAX : (uint32_t)rt;
	return ok;
}

osp_err agent_haproxy_stats(agent_traffic *t, const char *slot, agent_traffic_slot_stats *st,
	char *err, size_t errlen)
{
	static const char *const names[ST_N] = { "hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx",
		"hrsp_5xx", "hrsp_other", "econ", "eresp", "rtime" };
	agent_haproxy *h = t->drv;
	agent_haproxy_srv srv[2];
	int idx = agent_haproxy_slot(slot);
	char *v[ST_N] = { NULL };
	long long pid, start;
	osp_buf rep;
	osp_err rv;

	osp_buf_init(&rep, AGENT_HAPROXY_REPLY_MAX);
	pthread_mutex_lock(agent_traffic_lock_mutex(h->lock));
	rv = agent_haproxy_servers(h, srv, err, errlen);
	if (rv == OSP_OK)
		rv = agent_haproxy_info(h, &pid, &start, err, errlen);
	if (rv == OSP_OK)
		rv = agent_haproxy_stat(h, h->server[idx], names, ST_N, v, &rep, err, errlen);
	pthread_mutex_unlock(agent_traffic_lock_mutex(h->lock));
	if (rv == OSP_OK && (v[ST_2XX] == NULL || v[ST_5XX] == NULL)) {
		agent_traffic_seterr(err, errlen,
			"haproxy at '%s': 'show stat' has no hrsp_2xx/hrsp_5xx columns", h->socket);
		rv = OSP_EDECODE;
	} else if (rv == OSP_OK && !agent_haproxy_counters(v, st)) {
		agent_traffic_seterr(err, errlen,
			"haproxy at '%s': 'show stat': a counter of server '%s/%s' is not a number",
			h->socket, h->backend, h->server[idx]);
		rv = OSP_EDECODE;
	}
	if (rv == OSP_OK) {
		st->weight = srv[idx].weight > 0 ? (uint32_t)srv[idx].weight : 0;
		st->proxy_start = start;
	}
	osp_buf_fini(&rep);
	return rv;
}
