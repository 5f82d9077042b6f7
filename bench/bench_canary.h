/*
 * bench_canary.h - what bench_canary.c (the runs, the fleet, the table) and
 * bench_canary_watch.c (haproxy's admin socket and the watcher thread)
 * share.
 */
#ifndef BENCH_CANARY_H
#define BENCH_CANARY_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define BC_MAX_AGENTS 200
#define BC_WEIGHT 10
#define BC_REPLY_MAX (1u << 20)

/* The two changes measured; the watcher's target. */
enum { BC_T_WEIGHT, BC_T_RESET, BC_T_N, BC_T_NONE = -1 };

/* The haproxy watcher thread. */
typedef struct bc_watch {
	char sock[600];
	size_t n;
	atomic_bool stop;
	atomic_int target;
	int64_t seen_us[BC_T_N][BC_MAX_AGENTS]; /* wall clock; 0: not yet */
	atomic_size_t done[BC_T_N];
	atomic_uint_fast64_t polls, poll_ns;
} bc_watch;

/* bc_haproxy sends cmd to haproxy's admin socket sock and reads the whole
 * answer into buf (len bytes, NUL-terminated). 0, or -1 when it could not
 * connect or write. */
int bc_haproxy(const char *sock, const char *cmd, char *buf, size_t len);

/* bc_watch_main is the watcher thread (arg: its bc_watch): it polls
 * haproxy while a target is set and notes, per backend, the wall-clock time
 * of the first answer at the target; it ends when w->stop is set. */
void *bc_watch_main(void *arg);

/* bc_sleep_ms sleeps ms, cut short by an interrupt (Ctrl-C) of the run. */
void bc_sleep_ms(int ms);

#endif
