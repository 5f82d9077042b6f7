/*
 * coord_clock.h - the rollout clock: the time the coordinator gives the
 * rollout engine (every coord_ro_event.now_ms) and compares its deadlines
 * with (coord_ro_next_deadline). Milliseconds on the wall-clock scale, so
 * that the deadlines stored in a rollout record mean the same after a
 * restart, but counted by the monotonic clock during a run: anchored to the
 * wall clock once, at start, it never goes backwards and never jumps when
 * the wall clock is stepped (NTP, an operator's date). Why, and what a step
 * while the coordinator is down does: docs/architecture.md, "Clocks".
 */
#ifndef COORD_CLOCK_H
#define COORD_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

typedef struct coord_clock {
	int64_t wall0;          /* the wall clock at the anchor (ms) */
	int64_t mono0;          /* the monotonic clock at the anchor (ms) */
	bool set;
} coord_clock;

/* coord_clock_init anchors k to the wall clock now. Called at start, before
 * any thread reads k (main.c); a zeroed k anchors itself at its first read. */
void coord_clock_init(coord_clock *k);

/* coord_clock_anchor anchors k at (wall, mono): tests set both. */
void coord_clock_anchor(coord_clock *k, int64_t wall, int64_t mono);

/* coord_clock_at returns the rollout time at monotonic time now_mono (a
 * reading of osp_now_mono_ms the caller already has): wall0 + now_mono -
 * mono0. */
int64_t coord_clock_at(coord_clock *k, int64_t now_mono);

/* coord_clock_now returns the rollout time now. Called with coord.mtx held
 * (or before the threads start), like every other use of the coord. */
int64_t coord_clock_now(coord_clock *k);

#endif
