/* bench_common.c - clocks, statistics, headers and temp dirs for bench/. */
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench_common.h"

int64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* bench_cpu_model reads the first "model name" of /proc/cpuinfo. */
static void bench_cpu_model(char *out, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];

	snprintf(out, len, "unknown CPU");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *colon = strchr(line, ':');
		if (strncmp(line, "model name", 10) != 0 || colon == NULL)
			continue;
		colon++;
		while (*colon == ' ' || *colon == '\t')
			colon++;
		colon[strcspn(colon, "\n")] = '\0';
		snprintf(out, len, "%s", colon);
		break;
	}
	fclose(f);
}

void bench_header(int argc, char **argv)
{
	struct utsname u;
	char cpu[256];

	printf("# $");
	for (int i = 0; i < argc; i++)
		printf(" %s", argv[i]);
	printf("\n");
	bench_cpu_model(cpu, sizeof(cpu));
	if (uname(&u) != 0)
		snprintf(u.release, sizeof(u.release), "?");
	printf("# machine: %ld cores, %s, Linux %s\n", sysconf(_SC_NPROCESSORS_ONLN), cpu,
		u.release);
	fflush(stdout);
}

int bench_samples_add(bench_samples *s, int64_t x)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 1024;
		int64_t *v = realloc(s->v, cap * sizeof(*v));
		if (v == NULL)
			return -1;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = x;
	return 0;
}

static int bench_cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

int64_t bench_samples_pct(bench_samples *s, double p)
{
	size_t i;

	if (s->n == 0)
		return 0;
	qsort(s->v, s->n, sizeof(*s->v), bench_cmp_i64);
	/* nearest rank */
	i = (size_t)(p / 100.0 * (double)s->n + 0.999999);
	if (i > 0)
		i--;
	if (i >= s->n)
		i = s->n - 1;
	return s->v[i];
}

void bench_samples_fini(bench_samples *s)
{
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}

int bench_time_for(double seconds, bench_op_fn fn, void *arg, bench_samples *lat,
	uint64_t *calls, int64_t *elapsed_ns)
{
	int64_t start = bench_now_ns(), limit = (int64_t)(seconds * 1e9);
	int rc;

	*calls = 0;
	do {
		int64_t t0 = bench_now_ns();

		if ((rc = fn(arg)) != 0)
			break;
		bench_samples_add(lat, bench_now_ns() - t0);
		(*calls)++;
	} while (bench_now_ns() - start < limit);
	*elapsed_ns = bench_now_ns() - start;
	return rc;
}

int bench_tmpdir(const char *parent, const char *tag, char *out, size_t outlen)
{
	const char *p = parent;
	int n;

	if (p == NULL)
		p = getenv("TMPDIR");
	if (p == NULL || p[0] == '\0')
		p = "/tmp";
	n = snprintf(out, outlen, "%s/ospec-bench-%s-XXXXXX", p, tag);
	if (n < 0 || (size_t)n >= outlen)
		return -1;
	return mkdtemp(out) == NULL ? -1 : 0;
}

static int bench_rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	if (remove(path) != 0 && errno != ENOENT)
		fprintf(stderr, "bench: cannot remove '%s': %s\n", path, strerror(errno));
	return 0;
}

void bench_rmtree(const char *path)
{
	if (path == NULL || path[0] == '\0')
		return;
	nftw(path, bench_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

const char *bench_fs_type(const char *path)
{
	struct statfs s;

	if (statfs(path, &s) != 0)
		return "?";
	switch ((unsigned long)s.f_type) {
	case 0xEF53UL:
		return "ext4";
	case 0x01021994UL:
		return "tmpfs";
	case 0x58465342UL:
		return "xfs";
	case 0x9123683EUL:
		return "btrfs";
	case 0x794C7630UL:
		return "overlayfs";
	default:
		return "other";
	}
}

int bench_arg_u64(const char *s, uint64_t *out)
{
	char *end = NULL;
	unsigned long long v;

	if (s == NULL || s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

int64_t bench_wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t bench_ts_ms(const char *s)
{
	struct tm tm;
	int ms = 0, n = 0;

	memset(&tm, 0, sizeof(tm));
	if (s == NULL || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &tm.tm_year, &tm.tm_mon,
				 &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms, &n) != 7 ||
		n == 0)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm) * 1000 + ms;
}

int bench_proc_kb(pid_t pid, const char *file, const char *name, uint64_t *kb)
{
	char path[96], line[256];
	size_t len = strlen(name);
	FILE *f;
	int rc = -1;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (rc != 0 && fgets(line, sizeof(line), f) != NULL) {
		unsigned long long v;
		if (strncmp(line, name, len) == 0 && line[len] == ':' &&
			sscanf(line + len + 1, "%llu", &v) == 1) {
			*kb = v;
			rc = 0;
		}
	}
	fclose(f);
	return rc;
}

void bench_table_head(const char *label, int lw, const uint64_t *v, size_t n, int cw)
{
	printf("| %-*s |", lw, label);
	for (size_t i = 0; i < n; i++)
		printf(" %*llu |", cw, (unsigned long long)v[i]);
	printf("\n|");
	for (int k = 0; k < lw + 2; k++)
		putchar('-');
	for (size_t i = 0; i < n; i++) {
		putchar('|');
		for (int k = 0; k < cw + 1; k++)
			putchar('-');
		putchar(':');
	}
	printf("|\n");
}

uint64_t bench_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 0;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0 && getrlimit(RLIMIT_NOFILE, &rl) != 0)
			return 0;
	}
	return rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
}

void bench_nofile_for(const char *prog, uint64_t agents)
{
	struct rlimit rl;
	uint64_t want = 2 * agents + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < want) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			fprintf(stderr, "%s: cannot raise RLIMIT_NOFILE: %s\n", prog, strerror(errno));
	}
	if (rl.rlim_cur < agents + 64)
		fprintf(stderr, "%s: only %llu file descriptors for %llu agents\n", prog,
			(unsigned long long)rl.rlim_cur, (unsigned long long)agents);
}

int bench_arg_list(const char *s, uint64_t lo, uint64_t hi, uint64_t *out, size_t max,
	size_t *n)
{
	const char *p = s;

	*n = 0;
	while (p != NULL && *p != '\0') {
		const char *comma = strchr(p, ',');
		size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		char one[32];

		if (len == 0 || len >= sizeof(one) || *n >= max)
			return -1;
		memcpy(one, p, len);
		one[len] = '\0';
		if (bench_arg_u64(one, &out[*n]) != 0 || out[*n] < lo || out[*n] > hi)
			return -1;
		(*n)++;
		p = comma != NULL ? comma + 1 : NULL;
	}
	return *n > 0 ? 0 : -1;
}

void bench_signals(void (*fn)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}
