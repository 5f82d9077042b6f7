/* bench_coord.c - a real ospec-coordinator and ospecctl for a benchmark. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_coord.h"

#define BENCH_COORD_MAX_ARGS 40

int bench_coord_bin(char *out, size_t len, const char *env, const char *def)
{
	const char *v = getenv(env);

	snprintf(out, len, "%s", v != NULL && v[0] != '\0' ? v : def);
	return access(out, X_OK) == 0 ? 0 : -1;
}

/* bench_coord_paths names the files in c->dir and the two listen addresses. */
static int bench_coord_paths(bench_coord *c)
{
	int port = bf_free_port(), hport = bf_free_port();

	if (port == 0 || hport == 0 || port == hport)
		return -1;
	snprintf(c->data, sizeof(c->data), "%s/data", c->dir);
	snprintf(c->ctl, sizeof(c->ctl), "ipc://%s/ctl.sock", c->dir);
	snprintf(c->log, sizeof(c->log), "%s/coordinator.log", c->dir);
	snprintf(c->ctlerr, sizeof(c->ctlerr), "%s/ospecctl.err", c->dir);
	snprintf(c->url, sizeof(c->url), "tcp://127.0.0.1:%d", port);
	snprintf(c->http, sizeof(c->http), "127.0.0.1:%d", hport);
	return 0;
}

int bench_coord_spawn(bench_coord *c, const char *const *extra)
{
	char *argv[BENCH_COORD_MAX_ARGS + 1];
	size_t n = 0;
	const char *fixed[] = { c->coord_bin, "--data", c->data, "--listen", c->url, "--control",
		c->ctl, "--http", c->http };

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		argv[n++] = (char *)fixed[i];
	for (; extra != NULL && *extra != NULL && n < BENCH_COORD_MAX_ARGS; extra++)
		argv[n++] = (char *)*extra;
	argv[n] = NULL;
	if ((c->pid = bf_spawn(argv, c->log, c->log)) <= 0) {
		c->pid = 0;
		return -1;
	}
	return 0;
}

int bench_coord_prepare(bench_coord *c, const char *tag)
{
	c->pid = 0;
	if (bench_tmpdir(NULL, tag, c->dir, sizeof(c->dir)) != 0 || bench_coord_paths(c) != 0) {
		fprintf(stderr, "%s: cannot make a temp dir or find free ports\n", c->prog);
		return -1;
	}
	return 0;
}

int bench_coord_start(bench_coord *c, const char *tag, const char *const *extra)
{
	static const char *const stats[] = { "stats", NULL };

	if (bench_coord_prepare(c, tag) != 0 || bench_coord_spawn(c, extra) != 0)
		return -1;
	for (int i = 0; i < 150; i++) {
		bf_run_result res;
		int st;
		struct timespec ts = { 0, 100000000L };

		if (!bench_coord_alive(c))
			return -1;
		st = bench_coord_ctl(c, 5000, &res, stats);
		free(res.out);
		if (st == 0)
			return 0;
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "%s: the coordinator did not answer within 15 s; log: %s\n", c->prog,
		c->log);
	return -1;
}

bool bench_coord_alive(bench_coord *c)
{
	int st;

	if (c->pid <= 0)
		return false;
	if ((st = bf_wait_pid(c->pid, 0)) == -2)
		return true;
	fprintf(stderr, "%s: the coordinator exited (status %d); log: %s\n", c->prog, st, c->log);
	c->pid = 0;
	return false;
}

int bench_coord_run(
	bench_coord *c, int timeout_ms, bool keep, bf_run_result *res, const char *const *args)
{
	char *argv[BENCH_COORD_MAX_ARGS + 4] = { (char *)c->ctl_bin, "--coordinator", c->ctl };
	size_t n = 3;

	memset(res, 0, sizeof(*res));
	for (; *args != NULL && n < BENCH_COORD_MAX_ARGS + 3; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	if (bf_run(argv, c->ctlerr, timeout_ms, keep, res) != 0)
		return -1;
	return res->status;
}

int bench_coord_ctl(bench_coord *c, int timeout_ms, bf_run_result *res, const char *const *args)
{
	return bench_coord_run(c, timeout_ms, true, res, args);
}

osp_json *bench_coord_json(bench_coord *c, int timeout_ms, const char *const *args)
{
	const char *a[BENCH_COORD_MAX_ARGS + 1] = { "--json" };
	bf_run_result res;
	osp_json *j = NULL;
	char err[128];
	size_t n = 1;

	for (; *args != NULL && n < BENCH_COORD_MAX_ARGS; args++)
		a[n++] = *args;
	a[n] = NULL;
	if (bench_coord_ctl(c, timeout_ms, &res, a) == 0 && res.out != NULL &&
		osp_json_parse(res.out, res.out_bytes, &j, err, sizeof(err)) != OSP_OK)
		fprintf(stderr, "%s: ospecctl --json %s: %s\n", c->prog, a[1], err);
	free(res.out);
	return j;
}

double bench_coord_stop(bench_coord *c)
{
	int64_t t0 = bench_now_ns();

	if (c->pid <= 0)
		return -1;
	kill(c->pid, SIGTERM);
	if (bf_wait_pid(c->pid, 10000) == -2) {
		fprintf(stderr, "%s: coordinator ignored SIGTERM for 10 s: SIGKILL\n", c->prog);
		kill(c->pid, SIGKILL);
		bf_wait_pid(c->pid, 5000);
	}
	c->pid = 0;
	return (double)(bench_now_ns() - t0) / 1e6;
}

void bench_coord_fini(bench_coord *c, bool keep)
{
	if (c == NULL)
		return;
	bench_coord_stop(c);
	if (c->dir[0] == '\0')
		return;
	if (keep)
		fprintf(stderr, "%s: %s kept (coordinator.log and every log there)\n", c->prog ? c->prog : "bench",
			c->dir);
	else
		bench_rmtree(c->dir);
	c->dir[0] = '\0';
}
