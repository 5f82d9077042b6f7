/* bench_common.c - clocks, statistics, headers and temp dirs for bench/. */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
