/*
 * bench_ha.c - how fast a standby coordinator takes over (issue 15,
 * docs/ha.md): a real 3-member etcd cluster on loopback, two real
 * ospec-coordinator processes on one etcd store (--store etcd://...), N real
 * ospec-agent processes that know both. Each run kills the leader with
 * SIGKILL and measures, from the kill:
 *   - leads: the standby's log says it is the leader;
 *   - answers: `ospecctl stats` through both control URLs answers;
 *   - fleet back: it counts every node up (re-registered with it);
 * then starts the killed one again as the standby. The two swap roles run
 * after run.
 *
 *   bench_ha [--agents N] [--runs R] [--ttl S] [--keep]
 *
 * Defaults: 20 agents, 5 runs, a 2 s lease. Times are good to the 20 ms
 * poll. Everything is removed at the end (--keep keeps the logs).
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench_common.h"
#include "bench_coord.h"
#include "bench_fleet.h"
#include "etcd_fixture.h"
#include "ospec/json.h"
#include "ospec/util.h"

#ifndef OSPEC_BINARY_DIR
#define OSPEC_BINARY_DIR "build"
#endif

#define HB_MAX_RUNS 20
#define HB_MAX_AGENTS 500
#define HB_POLL_MS 20

typedef struct hb_opts {
	uint64_t agents, runs, ttl_s;
	bool keep;
	char coord_bin[600], ctl_bin[600], agent_bin[600];
} hb_opts;

typedef struct hb_run {
	double leads, answers, back;
	bool ok;
} hb_run;

typedef struct hb_bench {
	const hb_opts *o;
	te_cluster etcd;
	char dir[512];
	char store[400], ttl[16], ctls[1300], urls[200];
	bench_coord c[2];
	char name[2][8];
	pid_t agents[HB_MAX_AGENTS];
	int leader;
} hb_bench;

static atomic_bool hb_interrupted;

static void hb_on_signal(int sig)
{
	(void)sig;
	atomic_store(&hb_interrupted, true);
}

static void hb_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !atomic_load(&hb_interrupted))
		;
}

/* hb_spawn starts coordinator k on its own dir and ports, on the shared store. */
static int hb_spawn(hb_bench *b, int k)
{
	const char *const extra[] = { "--store", b->store, "--name", b->name[k], "--lease-ttl",
		b->ttl, "--heartbeat", "1s", NULL };

	return bench_coord_spawn(&b->c[k], extra);
}

/* hb_log_has: coordinator k's log contains what after byte off. */
static bool hb_log_has(hb_bench *b, int k, const char *what, long off)
{
	FILE *fp = fopen(b->c[k].log, "r");
	char line[2048];
	bool found = false;

	if (fp == NULL)
		return false;
	if (fseek(fp, off, SEEK_SET) == 0)
		while (!found && fgets(line, sizeof(line), fp) != NULL)
			found = strstr(line, what) != NULL;
	fclose(fp);
	return found;
}

/* hb_log_end is the size of coordinator k's log now. */
static long hb_log_end(hb_bench *b, int k)
{
	struct stat sb;

	return stat(b->c[k].log, &sb) == 0 ? (long)sb.st_size : 0;
}

/* hb_nodes_up asks coordinator k (through both control URLs, as an
 * operator would) how many nodes are up; -1 when nobody answered. */
static int64_t hb_nodes_up(hb_bench *b, int k)
{
	static const char *const args[] = { "stats", NULL };
	bench_coord ops = b->c[k]; /* its ospecctl, with every control URL */
	osp_json *j;
	int64_t up;

	osp_strlcpy(ops.ctl, b->ctls, sizeof(ops.ctl));
	j = bench_coord_json(&ops, 3000, args);

	if (j == NULL)
		return -1;
	up = osp_json_get_int(j, "nodes_up", 0);
	osp_json_free(j);
	return up;
}

static int hb_wait_log(hb_bench *b, int k, const char *what, long off, int ms)
{
	for (int t = 0; t < ms && !atomic_load(&hb_interrupted); t += HB_POLL_MS) {
		if (hb_log_has(b, k, what, off))
			return 0;
		hb_sleep_ms(HB_POLL_MS);
	}
	fprintf(stderr, "bench_ha: '%s' never logged '%s'; log: %s\n", b->name[k], what,
		b->c[k].log);
	return -1;
}

static int hb_wait_up(hb_bench *b, int k, int ms)
{
	int64_t end = bench_now_ns() + (int64_t)ms * 1000000, up = -1;

	while (bench_now_ns() < end && !atomic_load(&hb_interrupted)) {
		if ((up = hb_nodes_up(b, k)) >= (int64_t)b->o->agents)
			return 0;
		hb_sleep_ms(HB_POLL_MS);
	}
	fprintf(stderr, "bench_ha: '%s' counts %lld of %llu nodes up after %d ms; log: %s\n",
		b->name[k], (long long)up, (unsigned long long)b->o->agents, ms, b->c[k].log);
	return -1;
}

/* hb_start: etcd, coordinator 0 (leader), 1 (standby), the agents. */
static int hb_start(hb_bench *b)
{
	char edir[600];

	if (bench_tmpdir(NULL, "ha", b->dir, sizeof(b->dir)) != 0)
		return -1;
	snprintf(edir, sizeof(edir), "%s/etcd", b->dir);
	if (te_start(&b->etcd, 3, edir) != 0)
		return -1;
	snprintf(b->store, sizeof(b->store), "etcd://%s/bench-ha", b->etcd.endpoints);
	snprintf(b->ttl, sizeof(b->ttl), "%llus", (unsigned long long)b->o->ttl_s);
	for (int k = 0; k < 2; k++) {
		b->c[k].prog = "bench_ha";
		b->c[k].coord_bin = b->o->coord_bin;
		b->c[k].ctl_bin = b->o->ctl_bin;
		snprintf(b->name[k], sizeof(b->name[k]), "c%d", k);
		if (bench_coord_prepare(&b->c[k], k ? "ha-b" : "ha-a") != 0)
			return -1;
	}
	snprintf(b->urls, sizeof(b->urls), "%s,%s", b->c[0].url, b->c[1].url);
	snprintf(b->ctls, sizeof(b->ctls), "%s,%s", b->c[0].ctl, b->c[1].ctl);
	if (hb_spawn(b, 0) != 0 || hb_wait_log(b, 0, "is the leader", 0, 20000) != 0 ||
		hb_spawn(b, 1) != 0 || hb_wait_log(b, 1, "is a standby", 0, 20000) != 0)
		return -1;
	for (uint64_t i = 0; i < b->o->agents; i++) {
		char id[16], state[700], log[700];

		snprintf(id, sizeof(id), "h%04llu", (unsigned long long)i + 1);
		snprintf(state, sizeof(state), "%s/agent-%s", b->dir, id);
		snprintf(log, sizeof(log), "%s/agent-%s.log", b->dir, id);
		char *argv[] = { (char *)b->o->agent_bin, "--id", id, "--coordinator", b->urls, "--state",
			state, NULL };
		if ((b->agents[i] = bf_spawn((char *const *)argv, log, log)) <= 0)
			return -1;
	}
	b->leader = 0;
	return hb_wait_up(b, 0, 60000);
}

/* hb_once kills the leader and measures the takeover. */
static hb_run hb_once(hb_bench *b)
{
	int old = b->leader, now = 1 - old;
	int64_t t0;
	hb_run r = { 0 };
	/* the standby's log may say "is the leader" from an earlier run */
	long off = hb_log_end(b, now), off_old = hb_log_end(b, old);

	t0 = bench_now_ns();
	kill(b->c[old].pid, SIGKILL);
	bf_wait_pid(b->c[old].pid, 10000);
	b->c[old].pid = 0;
	if (hb_wait_log(b, now, "is the leader", off, 60000) != 0)
		return r;
	r.leads = (double)(bench_now_ns() - t0) / 1e6;
	while (hb_nodes_up(b, now) < 0 && !atomic_load(&hb_interrupted) &&
		bench_now_ns() - t0 < 60 * 1000000000LL)
		hb_sleep_ms(HB_POLL_MS);
	r.answers = (double)(bench_now_ns() - t0) / 1e6;
	if (hb_wait_up(b, now, 60000) != 0)
		return r;
	r.back = (double)(bench_now_ns() - t0) / 1e6;
	r.ok = true;
	b->leader = now;
	/* the old leader comes back as the standby */
	if (hb_spawn(b, old) != 0 || hb_wait_log(b, old, "is a standby", off_old, 20000) != 0)
		r.ok = false;
	return r;
}

static void hb_stop(hb_bench *b)
{
	for (uint64_t i = 0; i < b->o->agents; i++)
		if (b->agents[i] > 0) {
			kill(b->agents[i], SIGKILL);
			bf_wait_pid(b->agents[i], 5000);
		}
	for (int k = 0; k < 2; k++)
		bench_coord_fini(&b->c[k], b->o->keep);
	te_stop_all(&b->etcd);
	if (!b->o->keep && b->dir[0] != '\0')
		bench_rmtree(b->dir);
}

static int hb_args(int argc, char **argv, hb_opts *o)
{
	o->agents = 20;
	o->runs = 5;
	o->ttl_s = 2;
	for (int i = 1; i < argc; i++) {
		uint64_t *v = strcmp(argv[i], "--agents") == 0 ? &o->agents :
			strcmp(argv[i], "--runs") == 0	       ? &o->runs :
			strcmp(argv[i], "--ttl") == 0	       ? &o->ttl_s : NULL;

		if (strcmp(argv[i], "--keep") == 0) {
			o->keep = true;
			continue;
		}
		if (v == NULL || i + 1 >= argc || bench_arg_u64(argv[++i], v) != 0) {
			fprintf(stderr, "usage: bench_ha [--agents N] [--runs R] [--ttl S] [--keep]\n");
			return -1;
		}
	}
	if (o->agents < 1 || o->agents > HB_MAX_AGENTS || o->runs < 1 ||
		o->runs > HB_MAX_RUNS || o->ttl_s < 2 || o->ttl_s > 60) {
		fprintf(stderr, "bench_ha: --agents 1..%d, --runs 1..%d, --ttl 2..60\n",
			HB_MAX_AGENTS, HB_MAX_RUNS);
		return -1;
	}
	if (bench_coord_bin(o->coord_bin, sizeof(o->coord_bin), "OSPEC_COORDINATOR_BIN",
		    OSPEC_BINARY_DIR "/coordinator/ospec-coordinator") != 0 ||
		bench_coord_bin(o->ctl_bin, sizeof(o->ctl_bin), "OSPECCTL_BIN",
			OSPEC_BINARY_DIR "/coordinator/ospecctl") != 0 ||
		bench_coord_bin(o->agent_bin, sizeof(o->agent_bin), "OSPEC_AGENT_BIN",
			OSPEC_BINARY_DIR "/node-agent/ospec-agent") != 0) {
		fprintf(stderr, "bench_ha: build the programs first\n");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static hb_bench b;
	hb_opts o = { 0 };
	hb_run runs[HB_MAX_RUNS];
	int code = 0;

	if (hb_args(argc, argv, &o) != 0)
		return 2;
	bench_header(argc, argv);
	bench_signals(hb_on_signal);
	b.o = &o;
	if (hb_start(&b) != 0) {
		fprintf(stderr, "bench_ha: the setup failed\n");
		hb_stop(&b);
		return 1;
	}
	printf("%llu agents, lease TTL %llu s, 3 etcd members on loopback\n\n",
		(unsigned long long)o.agents, (unsigned long long)o.ttl_s);
	printf("%-5s %12s %12s %14s\n", "run", "leads (ms)", "answers (ms)", "fleet back (ms)");
	for (uint64_t i = 0; i < o.runs && !atomic_load(&hb_interrupted); i++) {
		runs[i] = hb_once(&b);
		if (!runs[i].ok) {
			printf("%-5llu %12s\n", (unsigned long long)i + 1, "failed");
			code = 1;
			break;
		}
		printf("%-5llu %12.0f %12.0f %14.0f\n", (unsigned long long)i + 1, runs[i].leads,
			runs[i].answers, runs[i].back);
		fflush(stdout);
	}
	hb_stop(&b);
	return code;
}
