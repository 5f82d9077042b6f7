/*
 * coord_engine_hooks.h - what the agent server tells the rollout side.
 * Called with coord.mtx held.
 */
#ifndef COORD_ENGINE_HOOKS_H
#define COORD_ENGINE_HOOKS_H

#include "coord.h"

/* coord_engine_on_register: node n (re)registered with r (apps, in-doubt switches). */
void coord_engine_on_register(coord *c, coord_node *n, const Ospec__V1__Register *r);

/* coord_engine_on_result: node n reports the result of one command. Recorded
 * durably before the reply is acknowledged. */
osp_err coord_engine_on_result(coord *c, coord_node *n, const Ospec__V1__CommandResult *r);

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
