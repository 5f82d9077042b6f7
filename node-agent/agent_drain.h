/*
 * agent_drain.h - drain for rolling deploys behind a proxy (docs/rollouts.md,
 * "Drain"). An in-place app with `apps.<app>.proxy.server` set is taken out
 * of the proxy before its process is replaced and put back once the new one
 * is healthy; the watch puts back a server left in drain (an agent restart
 * mid-stage) as soon as its app runs healthy and no stage holds it.
 *
 * Threads: begin/end run on the dispatcher's thread (one handler at a time);
 * watch on the monitor's watch thread. A process-wide table marks the apps whose stage
 * holds the drain; the watch skips them, under the same mutex, so it never
 * puts a server back in the middle of a stage.
 */
#ifndef AGENT_DRAIN_H
#define AGENT_DRAIN_H

#include "agent_apps.h"

#define AGENT_DRAIN_TIMEOUT_MS 30000 /* proxy.drain_timeout default */
#define AGENT_DRAIN_POLL_MS 100      /* sessions read while waiting */

typedef struct agent_drain agent_drain;

/*
 * agent_drain_begin drains app's server when the host config gives it one
 * (proxy.server), then waits until the proxy counts no session on it or
 * proxy.drain_timeout passes. *out is NULL when there is nothing to drain,
 * else the caller's, finished with agent_drain_end. A proxy that refuses or
 * does not answer is logged and the stage goes on as without drain (the
 * server is put back at once, best effort): a deploy never waits on a broken
 * proxy. Never fails.
 */
void agent_drain_begin(agent_apps *p, const char *app, agent_drain **out);

/*
 * agent_drain_end puts the server back (`ready`, verified by read-back) when
 * healthy, and frees d (accepts NULL). When the new process is not healthy,
 * the server stays drained: the revert that follows puts it back once its
 * release is healthy, or the watch does when the app turns healthy.
 */
void agent_drain_end(agent_drain *d, bool healthy);

/*
 * agent_drain_watch re-asserts `ready` for every configured app with a
 * proxy.server whose server is drained while its app runs healthy in the
 * main slot and no stage holds it (the agent restarted mid-stage, or the
 * proxy kept an old drain). Failures are logged.
 */
void agent_drain_watch(agent_apps *p);

#endif
