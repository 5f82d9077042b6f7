/*
 * bench_common.h - helpers shared by the benchmark programs: clocks, sample
 * statistics, the header every table starts with, temp directories.
 *
 * Benchmarks are not tests: they print a table and the command that made it,
 * and never fail because a number is "too slow".
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* bench_now_ns returns the monotonic clock in nanoseconds. */
int64_t bench_now_ns(void);

/* bench_header prints the command line (argv joined) and the machine (CPU
 * model, cores, kernel) as '#' comment lines on stdout. */
void bench_header(int argc, char **argv);

/* bench_samples is a growable array of durations in nanoseconds. */
typedef struct bench_samples {
	int64_t *v;
	size_t n, cap;
} bench_samples;

/* bench_samples_add appends x; returns 0 or -1 when out of memory. */
int bench_samples_add(bench_samples *s, int64_t x);

/* bench_samples_pct returns the p-th percentile (0..100) of s (sorts s in
 * place); 0 for an empty set. */
int64_t bench_samples_pct(bench_samples *s, double p);

/* bench_samples_fini frees s; accepts zeroed memory. */
void bench_samples_fini(bench_samples *s);

/* bench_op_fn is one timed operation: 0, or an error that ends the run. */
typedef int (*bench_op_fn)(void *arg);

/* bench_time_for calls fn(arg) until seconds have passed (once at least) or
 * it fails, adding each successful call's duration to lat; *calls gets how
 * many succeeded, *elapsed_ns the whole run's time. Returns fn's error or 0. */
int bench_time_for(double seconds, bench_op_fn fn, void *arg, bench_samples *lat,
	uint64_t *calls, int64_t *elapsed_ns);

/* bench_tmpdir makes a fresh directory "<parent>/ospec-bench-<tag>-XXXXXX"
 * (parent NULL: $TMPDIR or /tmp) into out. Returns 0 or -1. */
int bench_tmpdir(const char *parent, const char *tag, char *out, size_t outlen);

/* bench_rmtree removes path and everything under it (no symlinks followed). */
void bench_rmtree(const char *path);

/* bench_fs_type names the file system type of path ("ext4", "tmpfs", ...). */
const char *bench_fs_type(const char *path);

/* bench_arg_u64 parses a decimal flag value; returns 0 or -1. */
int bench_arg_u64(const char *s, uint64_t *out);

/* bench_wall_ns returns the wall clock (CLOCK_REALTIME) in nanoseconds. */
int64_t bench_wall_ns(void);

/* bench_ts_ms reads a time as the coordinator prints it
 * ("2024-06-01T12:00:00.123Z", UTC) into wall-clock milliseconds; -1 if s
 * is NULL or not such a time. */
int64_t bench_ts_ms(const char *s);

/* bench_proc_kb reads the "NAME: N kB" line of /proc/PID/FILE (FILE
 * "status" or "smaps_rollup"; NAME e.g. "RssAnon", "Pss_Anon") into *kb.
 * Returns 0, or -1 if the file or the line is not there. */
int bench_proc_kb(pid_t pid, const char *file, const char *name, uint64_t *kb);

/* bench_table_head prints a Markdown table's first two lines: label in a
 * column lw wide, then one right-aligned column cw wide per value of v. */
void bench_table_head(const char *label, int lw, const uint64_t *v, size_t n, int cw);

/* bench_raise_nofile raises RLIMIT_NOFILE to its hard limit; returns the
 * limit now in force (0 if it cannot be read). */
uint64_t bench_raise_nofile(void);

/* bench_nofile_for lifts RLIMIT_NOFILE to 2 * agents + 256 (each simulated
 * agent is a socket in the benchmark and one in the coordinator, which
 * inherits the limit), at most to the hard limit; says on stderr, after
 * prog, when it cannot or when fewer than agents + 64 remain. */
void bench_nofile_for(const char *prog, uint64_t agents);

/* bench_arg_list parses a comma-separated list of at most max decimal
 * values, each in [lo, hi], into out (*n of them). Returns 0 or -1. */
int bench_arg_list(const char *s, uint64_t lo, uint64_t hi, uint64_t *out, size_t max,
	size_t *n);

/* bench_signals makes SIGINT and SIGTERM call fn (no SA_RESTART: a sleep
 * is cut short) and ignores SIGPIPE. */
void bench_signals(void (*fn)(int));

#endif
