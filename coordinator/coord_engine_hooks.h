/*
 * coord_engine_hooks.h - what the agent server tells the rollout side.
 * Called with coord.mtx held.
 */
#ifndef COORD_ENGINE_HOOKS_H
#define COORD_ENGINE_HOOKS_H

#include "coord.h"

/* coord_engine_on_register: node n (re)registered with r (apps, in-doubt switches). */
void coord_engine_on_register(coord *c, coord_node *n, const Ospec__V1__Register *r);

/* coord_engine_on_result: node n reports the result of one command, applied
 * and committed in its own transaction (the agent server groups results:
 * coord_register_result). Recorded durably before the reply is acknowledged. */
osp_err coord_engine_on_result(coord *c, coord_node *n, const Ospec__V1__CommandResult *r);

/* coord_result_done (coord.h): what is left to do for one result once its
 * transaction is committed. */

/* coord_engine_result_in records result r of node n in write transaction t
 * (its event, the engine step, the commands that follow) without
 * committing; d gets what coord_engine_result_done needs after the commit.
 * On an error t may hold part of it and memory may be ahead of the store:
 * the caller aborts t and reloads (coord_active_reload) when d->e is set. */
osp_err coord_engine_result_in(coord *c, osp_txn *t, coord_node *n,
	const Ospec__V1__CommandResult *r, coord_result_done *d);

/* coord_engine_result_done runs what follows a committed result d (step
 * metrics, the crash point of the tests); the caller reaps afterwards
 * (coord_active_reap), once for a whole group. */
void coord_engine_result_done(coord *c, const coord_result_done *d);

/* coord_engine_on_heartbeat: node n reported its apps (health watched while a
 * blue-green rollout verifies). */
void coord_engine_on_heartbeat(coord *c, coord_node *n);

/* coord_engine_tick: called every ticker round with the monotonic time;
 * returns at once until the earliest deadline of the active rollouts
 * (c->ro_wake_ms, rollout clock: coord_clock.h), then applies to each due
 * rollout the event coord_ro_next_deadline names, and sleeps again until the
 * next. */
void coord_engine_tick(coord *c, int64_t now_mono);

/* coord_engine_start: re-derive in-flight work from the store after a start. */
osp_err coord_engine_start(coord *c);

/* coord_engine_on_metric: the answer of rollout id's metrics query (from
 * the analysis worker, c->mtx not held). */
void coord_engine_on_metric(coord *c, const char *id, uint64_t analysis, bool ok,
	const char *msg);

/* coord_engine_fini: free the engine's memory. */
void coord_engine_fini(coord *c);

#endif
