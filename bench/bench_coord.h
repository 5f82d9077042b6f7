/*
 * bench_coord.h - a real ospec-coordinator for a benchmark: a temporary
 * directory (data, control socket, logs), free loopback ports, the process
 * and `ospecctl` against it. bench_scale, bench_fleet, bench_restart and
 * bench_canary use it.
 */
#ifndef BENCH_COORD_H
#define BENCH_COORD_H

#include <stdbool.h>
#include <sys/types.h>

#include "bench_fleet.h"
#include "ospec/json.h"

typedef struct bench_coord {
	const char *prog;                 /* for messages: "bench_scale" */
	const char *coord_bin, *ctl_bin;  /* the binaries (not owned) */
	char dir[512];                    /* the temp dir; "" before start */
	char data[600], ctl[620], log[620], ctlerr[620];
	char url[64], http[64];           /* agents' tcp:// URL, HTTP host:port */
	pid_t pid;                        /* 0: not running */
} bench_coord;

/* bench_coord_bin puts $env, else def, into out; 0 if it is executable. */
int bench_coord_bin(char *out, size_t len, const char *env, const char *def);

/* bench_coord_start makes the temp dir "ospec-bench-<tag>-*", starts the
 * coordinator (--data, --listen, --control ipc, --http, then the NULL-ended
 * extra flags, e.g. "--heartbeat", "5s") and waits up to 15 s until
 * `ospecctl stats` answers. c->prog and the binaries must be set. Returns 0
 * or -1 (said on stderr; bench_coord_fini cleans up either way). */
int bench_coord_start(bench_coord *c, const char *tag, const char *const *extra);

/* bench_coord_prepare is bench_coord_start without starting anything: the
 * temp dir and the ports (a standby that will not answer `stats` is then
 * started with bench_coord_spawn). 0 or -1. */
int bench_coord_prepare(bench_coord *c, const char *tag);

/* bench_coord_spawn (re)starts the coordinator on c's data dir and ports,
 * as bench_coord_start did (same extra flags), without waiting; its output
 * is appended to c->log. A restart after a kill uses it. Returns 0 or -1. */
int bench_coord_spawn(bench_coord *c, const char *const *extra);

/* bench_coord_alive reports whether the coordinator still runs (and says
 * so on stderr, once, when it exited). */
bool bench_coord_alive(bench_coord *c);

/* bench_coord_ctl runs `ospecctl --coordinator CTL ARGS...` (args
 * NULL-ended, at most 40), stdout kept in res->out (the caller frees it),
 * stderr appended to c->ctlerr. Returns its exit status, -1 if it did not
 * run. */
int bench_coord_ctl(bench_coord *c, int timeout_ms, bf_run_result *res, const char *const *args);

/* bench_coord_run is bench_coord_ctl where keep false throws stdout away
 * (res->out NULL): what a timing of ospecctl alone wants. */
int bench_coord_run(
	bench_coord *c, int timeout_ms, bool keep, bf_run_result *res, const char *const *args);

/* bench_coord_json runs `ospecctl --json ARGS...` and parses its output;
 * NULL if it failed. The caller frees the tree (osp_json_free). */
osp_json *bench_coord_json(bench_coord *c, int timeout_ms, const char *const *args);

/* bench_coord_stop sends SIGTERM, SIGKILL after 10 s; returns the ms it
 * took, -1 if nothing ran. */
double bench_coord_stop(bench_coord *c);

/* bench_coord_fini stops the coordinator if it runs and removes the temp
 * dir (kept, and said, with keep). Accepts a zeroed c. */
void bench_coord_fini(bench_coord *c, bool keep);

#endif
