/*
 * bench_fleet_bg.h - what a simulated agent of bench_fleet_sim.c keeps to
 * answer blue-green commands as ospec-agent does (node-agent/
 * agent_bluegreen.c), and when each kind of command arrived and was
 * acknowledged (bench_scale measures a fleet-wide flip with it).
 *
 * One blue-green app per agent; slots are only recorded (no process, no
 * proxy), so every answer is immediate. Each bf_bg belongs to one agent and
 * is used from that agent's poll callback only; the times are atomics so
 * that the benchmark's thread can read them meanwhile.
 */
#ifndef BENCH_FLEET_BG_H
#define BENCH_FLEET_BG_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "bench_fleet.h"
#include "ospec/wire.h"

typedef struct bf_bg {
	/* per bf_kind: the latest command's sequence, when it arrived and
	 * when its result was acknowledged (bench_now_ns; 0: not yet) */
	uint64_t seq[BF_K_N];
	atomic_int_fast64_t rx[BF_K_N], ack[BF_K_N];
	int cur; /* kind of the result being reported, -1: none (set per result) */
	/* the app's record: active slot, prepared switch and its slot, the
	 * last committed switch, each slot's release and generation */
	char active[8], to[8];
	char prepared[OSP_WIRE_MAX_ID + 1], committed[OSP_WIRE_MAX_ID + 1];
	char ver[2][OSP_WIRE_MAX_VERSION + 1];
	uint64_t gen[2];
	char msg[160];                /* the answer's message */
	atomic_uint_fast32_t refused; /* answers that were not a success */
} bf_bg;

/* bf_bg_answer notes the arrival of cmd (a re-delivered sequence keeps its
 * first time) and, for a Stage into "idle"/"blue"/"green", SwitchPrepare,
 * SwitchDecision or ScaleDown, fills r (status, message, kind, slot, ...)
 * as ospec-agent would; r's strings then point into g or cmd. Other
 * commands and a rolling Stage keep the answer r holds. */
void bf_bg_answer(bf_bg *g, const Ospec__V1__Command *cmd, Ospec__V1__CommandResult *r);

/* bf_bg_acked notes that the result bf_bg_answer last saw was acknowledged. */
void bf_bg_acked(bf_bg *g);

/* bf_bg_times: if g's latest command of kind k arrived at or after since,
 * adds its arrival - t0 to rx and, once acknowledged, its Ack - t0 to acked
 * (either may be NULL; ns) and returns 1 if it was acknowledged; else 0. */
int bf_bg_times(bf_bg *g, bf_kind k, int64_t since, int64_t t0, bench_samples *rx,
	bench_samples *acked);

#endif
