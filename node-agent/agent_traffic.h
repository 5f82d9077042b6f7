/*
 * agent_traffic.h - traffic drivers: how the agent moves an app's traffic
 * between its blue and green slots on this host.
 *
 * One interface, one file per back-end in drivers/ (haproxy*.c, nginx*.c,
 * exec.c, none.c), as nng's rep0_sock_ops or curl's lib/vtls/. The
 * two-phase switch (DESIGN.md) maps onto it directly:
 *
 *   prepare(to)   ready the change without applying it (phase 1, before the vote)
 *   commit(to)    apply it; idempotent, so a retried or re-delivered COMMIT is safe
 *   abort()       discard a prepared change
 *   current()     which slot the proxy sends traffic to right now
 *   watch(active) called every few seconds: notices a restarted or hand-edited
 *                 proxy and re-asserts the active slot
 *   weight(active, canary, w)  canary: w% of the traffic to the canary slot,
 *                 the rest to the active one; 0 is a plain commit(active)
 *   stats(slot)   the proxy's counters of the slot's server (canary analysis)
 *
 * Slots are "blue" or "green"; the wrappers below refuse anything else, so
 * drivers only ever see those two words. err/errlen is the caller's buffer:
 * the wrappers empty it, and every failure leaves a message there (with the
 * proxy's own text when it refused).
 *
 * Threads: every call on one agent_traffic, and every call of every
 * agent_traffic that talks to the same proxy (same socket path) inside this
 * process, is serialised by a per-proxy mutex (agent_traffic_lock below). So a
 * commit is one indivisible sequence of proxy commands, and watch() may run on
 * a timer thread while commit() runs on the dispatcher's.
 */
#ifndef AGENT_TRAFFIC_H
#define AGENT_TRAFFIC_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent.h"
#include "ospec/err.h"

#define AGENT_TRAFFIC_SLOT_MAX 8 /* "green" plus the NUL, rounded up */

typedef struct agent_traffic agent_traffic;

/* The state of one server as the proxy reports it (rolling drain). */
typedef struct agent_traffic_srv {
	long sessions;  /* current sessions on the server (haproxy: scur) */
	bool draining;  /* forced into drain (`set server ... state drain`) */
	bool maint;     /* in maintenance (forced or inherited) */
} agent_traffic_srv;

/* A proxy's counters of one slot's server (wire SlotStats): requests and
 * errors are cumulative since proxy_start (the coordinator takes
 * differences); rtime_ms is an average response time (haproxy: of the last
 * 1024 requests), not a percentile. */
typedef struct agent_traffic_slot_stats {
	uint64_t requests; /* answered or failed requests sent to the server */
	uint64_t errors;   /* 5xx answers and connection/response errors */
	uint32_t rtime_ms;
	bool has_rtime;    /* rtime_ms is known */
	uint32_t weight;   /* the weight the proxy holds for the server (raw) */
	int64_t proxy_start; /* when the counters started (Unix s); 0 unknown */
} agent_traffic_slot_stats;

#define AGENT_TRAFFIC_WEIGHT_MAX 100

/* The operations of one driver; filled with designated initializers. */
typedef struct agent_traffic_ops {
	const char *name; /* the config's proxy.driver word */

	/* open checks cfg and sets t->drv; no I/O with the proxy (it may be
	 * down while the agent starts). OSP_ECONFIG with err on bad settings. */
	osp_err (*open)(agent_traffic *t, const agent_proxy_cfg *cfg, char *err,
		size_t errlen);

	/* prepare readies a switch to to_slot without changing anything: the
	 * proxy answers, the backend and both servers exist. */
	osp_err (*prepare)(agent_traffic *t, const char *to_slot, char *err, size_t errlen);

	/* commit sends traffic to to_slot (new server ready first, then the old
	 * one out) and verifies it with a read-back. Idempotent. */
	osp_err (*commit)(agent_traffic *t, const char *to_slot, char *err, size_t errlen);

	/* abort discards a prepared change. */
	osp_err (*abort)(agent_traffic *t, char *err, size_t errlen);

	/* current writes the active slot into slot ("" if neither or both). */
	osp_err (*current)(agent_traffic *t, char *slot, size_t len, char *err, size_t errlen);

	/* watch re-asserts active_slot when the proxy restarted or drifted;
	 * *reasserted says whether it did. */
	osp_err (*watch)(agent_traffic *t, const char *active_slot, bool *reasserted, char *err,
		size_t errlen);

	/* Rolling drain, for an app with one server (proxy.server); NULL in a
	 * driver without it (the wrappers then do nothing and succeed).
	 * drain takes server out of the rotation (in-flight sessions finish),
	 * ready puts it back, both verified by read-back; srv_state reads it. */
	osp_err (*drain)(agent_traffic *t, const char *server, char *err, size_t errlen);
	osp_err (*ready)(agent_traffic *t, const char *server, char *err, size_t errlen);
	osp_err (*srv_state)(agent_traffic *t, const char *server, agent_traffic_srv *st,
		char *err, size_t errlen);

	/* Canary; NULL in a driver without it (the wrappers then fail with
	 * OSP_ESTATE and say so). weight sends weight percent (1..100) of the
	 * traffic to canary_slot and the rest to active_slot, verified by a
	 * read-back; weight 0 leaves exactly the state of commit(active_slot).
	 * Idempotent. stats reads slot's counters into *st (zeroed by the
	 * wrapper). The slots are "blue"/"green" and differ. */
	osp_err (*weight)(agent_traffic *t, const char *active_slot, const char *canary_slot,
		unsigned weight, char *err, size_t errlen);
	osp_err (*stats)(agent_traffic *t, const char *slot, agent_traffic_slot_stats *st, char *err,
		size_t errlen);

	/* close frees t->drv (t itself belongs to agent_traffic.c). */
	void (*close)(agent_traffic *t);
} agent_traffic_ops;

/* The handle every driver gets; drv is the driver's own state. app and port
 * (set by agent_traffic_set_app before each call) tell the nginx and exec
 * drivers which app and which ports the slots listen on (0: unknown). */
struct agent_traffic {
	const agent_traffic_ops *ops;
	void *drv;
	char app[OSP_WIRE_MAX_ID + 1];
	unsigned port[2]; /* [0] blue, [1] green */
};

/* The drivers (drivers/<name>.c). */
extern const agent_traffic_ops agent_traffic_haproxy_ops;
extern const agent_traffic_ops agent_traffic_none_ops;
extern const agent_traffic_ops agent_traffic_nginx_ops;
extern const agent_traffic_ops agent_traffic_exec_ops;

/*
 * agent_traffic_open picks the driver of cfg and opens it: proxy.driver, or
 * "haproxy" when it is absent and a socket is set, or "none" when cfg is NULL
 * or has neither (an app without a proxy: every call succeeds and current()
 * returns the slot last committed in memory). No I/O with the proxy happens
 * here. On OSP_OK *out is the caller's, closed with agent_traffic_close.
 * Returns OSP_ECONFIG (err says which setting) for an unknown driver or
 * incomplete/unsafe settings, OSP_ENOMEM.
 */
osp_err agent_traffic_open(const agent_proxy_cfg *cfg, agent_traffic **out, char *err,
	size_t errlen);

/* agent_traffic_set_app names the app and its slots' ports (0: unknown) for
 * the calls that follow; the caller serialises it with them (the app's
 * switch lock). app longer than an id is cut. */
void agent_traffic_set_app(agent_traffic *t, const char *app, unsigned blue_port,
	unsigned green_port);

/* agent_traffic_close closes the driver and frees t; accepts NULL. */
void agent_traffic_close(agent_traffic *t);

/* agent_traffic_name returns the driver's name ("haproxy", "none"). */
const char *agent_traffic_name(const agent_traffic *t);

/*
 * agent_traffic_prepare readies a switch to to_slot ("blue" or "green")
 * without applying it. Returns OSP_EINVAL for another slot word, else the
 * driver's result (haproxy: OSP_ENET / OSP_ETIMEDOUT when the socket does not
 * answer, OSP_EREFUSED with haproxy's text in err, OSP_ENOENT for a missing
 * server). err always says what failed.
 */
osp_err agent_traffic_prepare(agent_traffic *t, const char *to_slot, char *err, size_t errlen);

/*
 * agent_traffic_commit applies the switch to to_slot and verifies it.
 * Idempotent: committing the active slot again is a no-op in effect. Errors
 * as agent_traffic_prepare, plus OSP_ESTATE when the new server did not come
 * up (it is put back as it was) and OSP_EIO when the read-back disagrees.
 */
osp_err agent_traffic_commit(agent_traffic *t, const char *to_slot, char *err, size_t errlen);

/* agent_traffic_abort discards a prepared change (haproxy: nothing to undo). */
osp_err agent_traffic_abort(agent_traffic *t, char *err, size_t errlen);

/*
 * agent_traffic_current writes the slot the proxy sends traffic to into slot
 * (len >= AGENT_TRAFFIC_SLOT_MAX): "blue", "green", or "" when neither or
 * both serve. Errors as agent_traffic_prepare; OSP_EINVAL for a short buffer.
 */
osp_err agent_traffic_current(agent_traffic *t, char *slot, size_t len, char *err,
	size_t errlen);

/*
 * agent_traffic_watch is called every few seconds with the app's active slot
 * (NULL or "" before the first switch: it only records what it sees). When the
 * proxy restarted since the last call (haproxy: another Pid or Start_time_sec
 * in `show info`) or no longer holds what committing active_slot set (haproxy:
 * the servers' admin states, e.g. changed by hand), it commits active_slot
 * again and sets *reasserted (false otherwise). A server that haproxy's own
 * health checks hold DOWN is not re-asserted: committing cannot change that.
 * Errors as agent_traffic_commit; the next call tries again.
 * The caller serialises watch with the app's own switches (the app's command
 * lock): a watch started with the old active slot just before a commit
 * would otherwise switch the app back.
 */
osp_err agent_traffic_watch(agent_traffic *t, const char *active_slot, bool *reasserted,
	char *err, size_t errlen);

/*
 * agent_traffic_drain takes server (a rolling app's proxy.server) out of the
 * proxy's rotation: no new requests, those in flight finish (haproxy:
 * `set server BACKEND/SERVER state drain`, then a read-back). OSP_EINVAL for
 * an empty or NULL server; else errors as agent_traffic_prepare, plus OSP_EIO
 * when the read-back disagrees. A driver without drain does nothing: OSP_OK.
 */
osp_err agent_traffic_drain(agent_traffic *t, const char *server, char *err, size_t errlen);

/*
 * agent_traffic_ready puts server back into the rotation (haproxy: `set
 * server ... state ready`) and verifies that it is neither in drain nor in
 * maintenance any more. Idempotent. Errors as agent_traffic_drain.
 */
osp_err agent_traffic_ready(agent_traffic *t, const char *server, char *err, size_t errlen);

/*
 * agent_traffic_srv_state reads server's current sessions and admin state
 * into *st (zeroed first: all zero for a driver without it). Errors as
 * agent_traffic_drain (OSP_ENOENT: the backend has no such server).
 */
osp_err agent_traffic_srv_state(agent_traffic *t, const char *server,
	agent_traffic_srv *st, char *err, size_t errlen);

/*
 * agent_traffic_weight sends weight percent (0..100) of the app's traffic to
 * canary_slot and the rest to active_slot (the two slots differ), verified by
 * a read-back; 0 leaves exactly the state of agent_traffic_commit(active_slot)
 * (the canary out, the active server at its configured weight). Idempotent:
 * the watch calls it again while a canary is on. Returns OSP_EINVAL for a bad
 * slot word, equal slots or a weight above 100; OSP_ESTATE when the driver
 * cannot weight traffic (none, or exec without a weight script: err says
 * so); else errors as agent_traffic_commit.
 */
osp_err agent_traffic_weight(agent_traffic *t, const char *active_slot, const char *canary_slot,
	unsigned weight, char *err, size_t errlen);

/*
 * agent_traffic_stats reads the counters of slot's server into *st (zeroed
 * first): haproxy's `show stat`, nginx's access log (proxy.nginx.access_log),
 * exec's stats script. OSP_EINVAL for a bad slot word, OSP_ESTATE when the
 * driver has no counters (err says what to configure), OSP_EDECODE for a
 * reply or script output it cannot read, else errors as agent_traffic_prepare.
 */
osp_err agent_traffic_stats(agent_traffic *t, const char *slot, agent_traffic_slot_stats *st,
	char *err, size_t errlen);

/* For drivers: a per-proxy mutex, shared inside the process. */
typedef struct agent_traffic_lock agent_traffic_lock;

/* agent_traffic_lock_get returns the lock of key (a socket or config path),
 * shared by every holder of the same key in this process and counted; release
 * it with agent_traffic_lock_put. Returns OSP_ENOMEM. */
osp_err agent_traffic_lock_get(const char *key, agent_traffic_lock **out);

/* agent_traffic_lock_put drops a reference; the last one frees l. Accepts NULL. */
void agent_traffic_lock_put(agent_traffic_lock *l);

/* agent_traffic_lock_mutex returns the mutex of l, to lock around a call. */
pthread_mutex_t *agent_traffic_lock_mutex(agent_traffic_lock *l);

/* agent_traffic_seterr formats into err (if err and errlen allow). */
void agent_traffic_seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
