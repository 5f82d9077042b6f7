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

/* bench_tmpdir makes a fresh directory "<parent>/ospec-bench-<tag>-XXXXXX"
 * (parent NULL: $TMPDIR or /tmp) into out. Returns 0 or -1. */
int bench_tmpdir(const char *parent, const char *tag, char *out, size_t outlen);

/* bench_rmtree removes path and everything under it (no symlinks followed). */
void bench_rmtree(const char *path);

/* bench_fs_type names the file system type of path ("ext4", "tmpfs", ...). */
const char *bench_fs_type(const char *path);

/* bench_arg_u64 parses a decimal flag value; returns 0 or -1. */
int bench_arg_u64(const char *s, uint64_t *out);

#endif
