/*
 * agent_bluegreen.h - the agent's side of blue-green deploys (DESIGN.md
 * "Two-phase traffic switch"): an app with two slots, "blue" and "green",
 * each on its own port, one of them active behind the host's proxy.
 *
 *  - Stage(slot blue|green) installs a release into the idle slot, starts it
 *    and health-checks it; traffic is untouched. The active slot and the
 *    slots of an app with a prepared switch are refused.
 *  - SwitchPrepare re-checks the target slot, readies the proxy change and
 *    records the switch as prepared (durably) before it votes YES; a
 *    prepared node never commits on its own, also not after a restart.
 *  - SwitchDecision applies (proxy commit, retried) or discards it; a
 *    decision for a switch this node did not prepare is answered OK.
 *  - ScaleDown stops the old slot unless it is active again or was staged
 *    again since the rollout's Stage.
 *  - TrafficWeight (canary) sends a percentage of the traffic to the idle
 *    slot through the driver and records it; the watch re-asserts it after
 *    a proxy restart; a weight 0 or a committed switch ends it. A slot with
 *    canary traffic is not staged into or scaled down. TrafficStats reads
 *    the proxy's counters of a slot.
 *  - A monitor thread checks the active slot of every blue-green app, and
 *    every app running in the main slot (agent_apps_mon.h), every second
 *    (the apps report's `healthy` follows it within seconds); another asks
 *    the traffic driver every 2 s to re-assert the active slot after a proxy
 *    restart. Both run from agent_bluegreen_restore (the agent's start) on.
 *
 * The state lives in the app's AgentAppRecord (agent_apps.h: blue, green,
 * active_slot, prepared_*), written before anything is changed.
 *
 * Threads: the handlers and agent_bluegreen_restore run on the dispatcher's thread;
 * agent_bluegreen_state_fill and agent_bluegreen_in_doubt may run on another at the same
 * time; the monitor threads run on their own. This header is implemented by
 * agent_bluegreen.c (the Stage/Switch/ScaleDown handlers),
 * agent_bluegreen_canary.c (TrafficWeight, TrafficStats),
 * agent_bluegreen_mon.c (the context, its apps table and the monitor),
 * agent_bluegreen_restore.c (the restore at start) and
 * agent_bluegreen_report.c (apps report, in-doubt list); the fields of
 * struct agent_bluegreen are theirs only.
 */
#ifndef AGENT_BLUEGREEN_H
#define AGENT_BLUEGREEN_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent_apps.h"
#include "agent_traffic.h"

#define AGENT_BLUEGREEN_PREPARE_DEADLINE_MS 10000 /* the prepare's fresh health check */
/* its pace: the slot passed its rise at staging, this only confirms it is
 * still up, so the checks come quickly (at the default 500 ms a rise of 2
 * held every switch and canary weight for half a second: bench_canary) */
#define AGENT_BLUEGREEN_RECHECK_INTERVAL_MS 50
#define AGENT_BLUEGREEN_COMMIT_ATTEMPTS 3
#define AGENT_BLUEGREEN_COMMIT_PAUSE_MS 1000
#define AGENT_BLUEGREEN_MONITOR_MS 1000        /* one health GET per app and tick */
#define AGENT_BLUEGREEN_WATCH_MS 2000          /* the driver's watch per app */
#define AGENT_BLUEGREEN_MONITOR_TIMEOUT_MS 900 /* per GET: a tick stays about 1 s */
#define AGENT_BLUEGREEN_MONITOR_FALL 2         /* failed ticks before unhealthy */
#define AGENT_BLUEGREEN_MAX_APPS OSP_WIRE_MAX_APPS  /* as many as a report carries */

/* The monitor's view of one blue-green app. */
typedef struct agent_bluegreen_app {
	char app[OSP_WIRE_MAX_ID + 1];
	agent_traffic *t;               /* opened on first use, NULL until then */
	char slot[AGENT_APPS_SLOT_LEN]; /* the slot the counters are about */
	unsigned fails;                 /* consecutive failed checks */
	unsigned epoch;                 /* bumped by a reset: older checks are void */
	agent_apps_health h;            /* last published state */
	char watch_err[256];            /* last watch error (logged on change; watch thread) */
} agent_bluegreen_app;

typedef struct agent_bluegreen {
	agent_apps *p;
	pthread_mutex_t mtx; /* guards apps[], napps, the monitor fields */
	pthread_mutex_t sw;  /* a switch's commit + record vs the monitor's watch */
	agent_bluegreen_app apps[AGENT_BLUEGREEN_MAX_APPS];
	size_t napps;
	pthread_t health_thread, watch_thread;
	bool health_started, watch_started;
	bool stopping; /* under mtx; wake signals it */
	pthread_cond_t wake;
	Ospec__V1__SlotStats res_stats; /* res->stats of the handler running (one at a time) */
} agent_bluegreen;

/* Buffers of one apps-report element (agent_apps_report). */
typedef struct agent_bluegreen_state_bufs {
	char slot[AGENT_APPS_SLOT_LEN];
	char version[OSP_WIRE_MAX_VERSION + 1];
	char sha256[AGENT_RELEASE_SHA256_LEN + 1];
	char idle_version[OSP_WIRE_MAX_VERSION + 1];
} agent_bluegreen_state_bufs;

/* agent_bluegreen_alloc makes the blue-green context over p (the caller's; it must
 * outlive it). The monitor starts at agent_bluegreen_restore (or with the
 * first blue-green Stage). Returns OSP_ENOMEM. */
osp_err agent_bluegreen_alloc(agent_apps *p, agent_bluegreen **out);

/* agent_bluegreen_free stops the monitor, closes the traffic drivers and frees g;
 * the apps and the proxy stay as they are. Accepts NULL. */
void agent_bluegreen_free(agent_bluegreen *g);

/* agent_bluegreen_restore runs at agent start after agent_apps_restore (which
 * adopted the running processes): starts the monitor (also without any
 * blue-green app: it watches the main-slot apps too), starts every slot
 * recorded as running that does not run its release, stops one recorded as
 * stopped and re-asserts the active slot on the proxy (driver commit). A
 * prepared switch stays prepared. Problems are logged. */
void agent_bluegreen_restore(agent_bluegreen *g);

/* agent_bluegreen_is_slot reports whether slot is "blue" or "green". */
bool agent_bluegreen_is_slot(const char *slot);

/* agent_bluegreen_stage executes a Stage into slot blue or green (see above). Fills
 * res (status, app, version, slot; message -> msg). */
void agent_bluegreen_stage(agent_bluegreen *g, const Ospec__V1__Command *cmd,
	Ospec__V1__CommandResult *res, char *msg, size_t msglen);

/* agent_bluegreen_prepare executes a SwitchPrepare: RESULT_VOTE_YES (res->switch_id
 * set) or RESULT_VOTE_NO with the reason in msg. */
void agent_bluegreen_prepare(agent_bluegreen *g, const Ospec__V1__Command *cmd,
	Ospec__V1__CommandResult *res, char *msg, size_t msglen);

/* agent_bluegreen_decision executes a SwitchDecision: OK, or FAILED when the proxy
 * refused the commit AGENT_BLUEGREEN_COMMIT_ATTEMPTS times. Either way a COMMIT
 * makes the target slot the recorded active slot, which the monitor keeps
 * re-asserting on the proxy (the node converges to the decision). */
void agent_bluegreen_decision(agent_bluegreen *g, const Ospec__V1__Command *cmd,
	Ospec__V1__CommandResult *res, char *msg, size_t msglen);

/* agent_bluegreen_scale_down executes a ScaleDown: OK (slot stopped), REFUSED when
 * the slot is active again, about to become active, or was staged with a
 * generation above the command's slot_generation. */
void agent_bluegreen_scale_down(agent_bluegreen *g, const Ospec__V1__Command *cmd,
	Ospec__V1__CommandResult *res, char *msg, size_t msglen);

/* agent_bluegreen_weight executes a TrafficWeight (protocol 1.3, canary):
 * cmd->weight->weight percent of the app's traffic to cmd->weight->slot, which
 * must be the idle slot, running a healthy release, with no switch prepared
 * (weight 0, the reset, needs neither), the rest to the active slot. Applied
 * by the traffic driver, then recorded (canary_slot, canary_weight; weight
 * 0 records "no canary" first), then answered OK with res->stats (the slot's
 * counters right after the change, the coordinator's baseline) when the
 * driver can read them; without them the message says why. REFUSED for a
 * command that does not fit the app's state, FAILED when the driver or the
 * store failed. Idempotent. res->stats points into g (valid until the next
 * handler runs). */
void agent_bluegreen_weight(agent_bluegreen *g, const Ospec__V1__Command *cmd,
	Ospec__V1__CommandResult *res, char *msg, size_t msglen);

/* agent_bluegreen_stats executes a TrafficStats: OK with res->stats (the
 * proxy's counters of the slot's server, as agent_bluegreen_weight), FAILED
 * with the driver's error, REFUSED for an app without slots here. */
void agent_bluegreen_stats(agent_bluegreen *g, const Ospec__V1__Command *cmd,
	Ospec__V1__CommandResult *res, char *msg, size_t msglen);

/* agent_bluegreen_in_doubt fills *out with one InDoubt per app with a prepared
 * switch. Each element is one heap block (free(element) frees its strings);
 * the array is heap (agent_bluegreen_in_doubt_free). Returns the count; 0 with *out
 * NULL when there is none or memory ran out. */
size_t agent_bluegreen_in_doubt(agent_bluegreen *g, Ospec__V1__InDoubt ***out);

/* agent_bluegreen_in_doubt_free frees what agent_bluegreen_in_doubt made; accepts NULL. */
void agent_bluegreen_in_doubt_free(Ospec__V1__InDoubt **v, size_t n);

/* agent_bluegreen_rec_is_bg reports whether rec is a blue-green app's. */
bool agent_bluegreen_rec_is_bg(const agent_app_rec *rec);

/* agent_bluegreen_state_fill fills the apps-report element st of a blue-green app:
 * active slot, the active slot's version and sha256, idle_version (the idle
 * slot's release when it is meant to run), running (the active slot's
 * process) and healthy (running and not failed by the monitor). st's strings
 * point into b. */
void agent_bluegreen_state_fill(agent_apps *p, const agent_app_rec *rec, Ospec__V1__AppState *st,
	agent_bluegreen_state_bufs *b);

/* -- shared by the agent_bluegreen*.c files -- */

/* agent_bluegreen_slot_word returns a static copy of slot when it is "blue"
 * or "green" (for res->slot: it outlives every result), else NULL. */
char *agent_bluegreen_slot_word(const char *slot);

/* agent_bluegreen_slot returns rec's slot named name, or NULL for another word. */
agent_slot_rec *agent_bluegreen_slot(agent_app_rec *rec, const char *name);

/* agent_bluegreen_traffic returns the traffic driver of rec's app (opened on
 * first use from the host's proxy settings; "none" without), told the app and
 * its slots' ports (rec's releases, else the host's apps.<app>.ports).
 * OSP_ECONFIG/OSP_ENOMEM with err, or OSP_ETOOBIG when too many apps. */
osp_err agent_bluegreen_traffic(agent_bluegreen *g, const agent_app_rec *rec, agent_traffic **t,
	char *err, size_t errlen);

/* agent_bluegreen_slot_ready checks that slot of app (its record sl) may take
 * traffic: it holds a release meant to run (expect_version, if not NULL or
 * "", is that release's version), its process runs it, and it passes a fresh
 * health check (AGENT_BLUEGREEN_PREPARE_DEADLINE_MS). Returns false with the
 * reason in msg. */
bool agent_bluegreen_slot_ready(agent_bluegreen *g, const char *app, const char *slot,
	const char *expect_version, const agent_slot_rec *sl, char *msg, size_t msglen);

/* agent_bluegreen_canary_busy: when slot carries canary traffic of rec's app,
 * makes res REFUSED ("slot green carries 10% canary traffic of app hello")
 * and returns true (a Stage or ScaleDown of it must wait for the canary's
 * end: a weight 0 or a committed switch). */
bool agent_bluegreen_canary_busy(const agent_app_rec *rec, const char *slot,
	Ospec__V1__CommandResult *res, char *msg, size_t msglen);

/* agent_bluegreen_proxy_assert brings the proxy to rec's recorded state: the
 * recorded canary weight when there is one (driver weight), else nothing
 * (*handled false: the caller commits or watches the active slot). The
 * caller holds g->sw. */
osp_err agent_bluegreen_proxy_assert(agent_traffic *t, const agent_app_rec *rec, bool *handled,
	char *err, size_t errlen);

/* agent_bluegreen_monitor_add makes the monitor watch app (from now on) and starts
 * the monitor thread if it does not run yet; failures are logged. */
void agent_bluegreen_monitor_add(agent_bluegreen *g, const char *app);

/* agent_bluegreen_monitor_start starts the monitor threads unless they run
 * or g is stopping; failures are logged. Caller holds g->mtx. */
void agent_bluegreen_monitor_start(agent_bluegreen *g);

/* agent_bluegreen_monitor_reset restarts the monitor's counters of app on slot with
 * state h (published to the health table), as agent_bluegreen_monitor_add. */
void agent_bluegreen_monitor_reset(
	agent_bluegreen *g, const char *app, const char *slot, agent_apps_health h);

#endif
