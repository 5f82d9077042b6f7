/*
 * bench_fleet.c - the headline benchmark: a real ospec-coordinator process
 * and N simulated agents (one process, nng aio) speaking the real protocol
 * on loopback.
 *
 *   bench_fleet [--agents 100,500,1000] [--window S] [--no-deploy] [--keep]
 *
 * For each N a fresh coordinator (temp data dir, free loopback ports,
 * --heartbeat 1s, control on an ipc socket in the temp dir) is started,
 * then measured: the register storm, heartbeat round trips, its RSS idle and
 * with N agents, `ospecctl --json nodes` and `cordon`/`uncordon`, and a
 * rolling deploy with --batch 100% that every simulated agent answers at
 * once. The coordinator is stopped (SIGTERM, then SIGKILL) and the temp dir
 * removed at the end, on failure too.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>

#include "bench_coord.h"
#include "bench_fleet.h"
#include "ospec/json.h"
#include "ospec/util.h"

#ifndef OSPEC_BINARY_DIR
#define OSPEC_BINARY_DIR "build"
#endif

#define BF_MAX_RUNS 8
#define BF_CTL_RUNS 5

typedef struct bf_opts {
	uint64_t agents[BF_MAX_RUNS];
	size_t nruns;
	double window;     /* s of steady heartbeats measured */
	bool deploy;
	bool keep;
	uint64_t heartbeat_ms;
	const char *batch;
	const char *coord_bin, *ctl_bin;
} bf_opts;

/* What one run measured (times in ms unless said). */
typedef struct bf_result {
	uint64_t n;
	bool ok;
	double storm_all, reg_p50, reg_p99;
	uint64_t reg_retries;
	uint64_t overflows;         /* TcpExt ListenOverflows during the storm */
	double held_all;            /* s until every poll is held */
	double hb_p50, hb_p99, hb_max, hb_rate;
	double cpu_pct;             /* coordinator, steady state */
	uint64_t idle_rss, idle_anon, n_rss, n_anon, dep_rss, dep_anon; /* KiB */
	uint64_t held, contexts;
	double nodes_ms, nodes_max_ms, stats_ms, cordon_ms;
	size_t nodes_kib, nodes_count;
	bool deployed;
	double dep_stage_first, dep_stage_p50, dep_stage_all, dep_ack_p50, dep_ack_all, dep_exit;
	int dep_status;
	double dep_cpu;             /* coordinator CPU s until every result was acked */
	uint64_t dep_acked;
	double stop_ms;
	uint64_t errors, timeouts;
	uint64_t downs;             /* COORD-NODE-DOWN lines in the coordinator's log */
} bf_result;

/* One run's processes and files. */
typedef struct bf_fleet {
	const bf_opts *o;
	bench_coord c; /* the coordinator, its temp dir and ospecctl */
	bf_sim *sim;
} bf_fleet;

static atomic_bool bf_interrupted;

static void bf_on_signal(int sig)
{
	(void)sig;
	atomic_store(&bf_interrupted, true);
}

static double bf_ms(int64_t ns)
{
	return (double)ns / 1e6;
}

static void bf_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !atomic_load(&bf_interrupted))
		;
}

/* bf_ctl runs ospecctl --coordinator CTL ARGS (NULL-ended); keep: its
 * stdout in res->out (the caller frees it). Returns its exit status, -1 if it
 * did not run. */
static int bf_ctl(bf_fleet *r, bool keep, int timeout_ms, bf_run_result *res,
	const char *const *args)
{
	return bench_coord_run(&r->c, timeout_ms, keep, res, args);
}

/* bf_stats reads `ospecctl --json stats` into *held and *contexts. */
static int bf_stats(bf_fleet *r, uint64_t *held, uint64_t *contexts, int64_t *elapsed)
{
	bf_run_result res;
	osp_json *j = NULL;
	char err[128];
	int rc = -1;

	static const char *const args[] = { "--json", "stats", NULL };

	if (bf_ctl(r, true, 10000, &res, args) != 0) {
		free(res.out);
		return -1;
	}
	if (res.out != NULL &&
		osp_json_parse(res.out, res.out_bytes, &j, err, sizeof(err)) == OSP_OK) {
		*held = (uint64_t)osp_json_get_int(j, "held_polls", 0);
		*contexts = (uint64_t)osp_json_get_int(j, "contexts", 0);
		if (elapsed != NULL)
			*elapsed = res.elapsed;
		rc = 0;
	}
	osp_json_free(j);
	free(res.out);
	return rc;
}

/* bf_coord_start makes the temp dir and starts the coordinator
 * (bench_coord.h) with the run's --heartbeat; waits until it answers. */
static int bf_coord_start(bf_fleet *r)
{
	char hb[32];
	const char *const extra[] = { "--heartbeat", hb, NULL };

	r->c.prog = "bench_fleet";
	r->c.coord_bin = r->o->coord_bin;
	r->c.ctl_bin = r->o->ctl_bin;
	snprintf(hb, sizeof(hb), "%llums", (unsigned long long)r->o->heartbeat_ms);
	return bench_coord_start(&r->c, "fleet", extra);
}

/* bf_storm starts the agents and waits until all registered. */
static int bf_storm(bf_fleet *r, bf_result *res)
{
	bench_samples reg = { 0 };
	bf_sim_counters c;
	int64_t t0 = bench_now_ns(), end = t0 + 60LL * 1000000000;
	char err[256];
	uint64_t held = 0, ctx = 0, ov0;

	if (bf_sim_open(r->c.url, res->n, (int)r->o->heartbeat_ms, &r->sim, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench_fleet: %s\n", err);
		return -1;
	}
	ov0 = bf_listen_overflows();
	t0 = bench_now_ns();
	bf_sim_start(r->sim);
	do {
		bf_sleep_ms(20);
		bf_sim_counters_get(r->sim, &c);
	} while (c.registered < res->n && bench_now_ns() < end && !atomic_load(&bf_interrupted) &&
		bench_coord_alive(&r->c));
	if (c.registered < res->n) {
		fprintf(stderr, "bench_fleet: only %llu of %llu agents registered\n",
			(unsigned long long)c.registered, (unsigned long long)res->n);
		return -1;
	}
	res->overflows = bf_listen_overflows() - ov0;
	bf_sim_reg_times(r->sim, &reg);
	res->storm_all = bf_ms(bench_samples_pct(&reg, 100));
	res->reg_p50 = bf_ms(bench_samples_pct(&reg, 50));
	res->reg_p99 = bf_ms(bench_samples_pct(&reg, 99));
	res->reg_retries = c.reg_retries;
	bench_samples_fini(&reg);
	/* every agent's poll held by the coordinator */
	while (bench_now_ns() < end && !atomic_load(&bf_interrupted)) {
		if (bf_stats(r, &held, &ctx, NULL) == 0 && held >= res->n)
			break;
		bf_sleep_ms(50);
	}
	res->held_all = (double)(bench_now_ns() - t0) / 1e9;
	return 0;
}

/* bf_steady measures heartbeats, CPU and RSS with every agent connected. */
static void bf_steady(bf_fleet *r, bf_result *res)
{
	bench_samples hb = { 0 };
	int64_t c0, c1, t0, t1;

	bf_sleep_ms(1500); /* every agent's heartbeat is running */
	c0 = bf_proc_cpu_ns(r->c.pid);
	t0 = bench_now_ns();
	bf_sim_hb_measure(r->sim, true);
	bf_sleep_ms((int)(r->o->window * 1000));
	bf_sim_hb_measure(r->sim, false);
	t1 = bench_now_ns();
	c1 = bf_proc_cpu_ns(r->c.pid);
	bf_sim_hb_samples(r->sim, &hb);
	res->hb_p50 = bf_ms(bench_samples_pct(&hb, 50));
	res->hb_p99 = bf_ms(bench_samples_pct(&hb, 99));
	res->hb_max = bf_ms(bench_samples_pct(&hb, 100));
	res->hb_rate = (double)hb.n * 1e9 / (double)(t1 - t0);
	res->cpu_pct = c0 >= 0 && c1 >= 0 ? 100.0 * (double)(c1 - c0) / (double)(t1 - t0) : -1;
	bench_samples_fini(&hb);
	bf_proc_status(r->c.pid, &res->n_rss, &res->n_anon);
	bf_stats(r, &res->held, &res->contexts, NULL);
}

/* bf_median_ms returns the median of k run times. */
static double bf_median_ms(bench_samples *s)
{
	return bf_ms(bench_samples_pct(s, 50));
}

/* bf_ctl_bench times ospecctl nodes, stats, cordon + uncordon. */
static void bf_ctl_bench(bf_fleet *r, bf_result *res)
{
	static const char *const nodes_args[] = { "--json", "nodes", NULL };
	static const char *const stats_args[] = { "--json", "stats", NULL };
	static const char *const cordon_args[] = { "cordon", "sim-00000", NULL };
	static const char *const uncordon_args[] = { "uncordon", "sim-00000", NULL };
	bench_samples nodes = { 0 }, stats = { 0 }, cordon = { 0 };

	for (int i = 0; i < BF_CTL_RUNS; i++) {
		bf_run_result out;
		osp_json *j = NULL;
		char err[128];

		if (bf_ctl(r, true, 10000, &out, nodes_args) == 0) {
			bench_samples_add(&nodes, out.elapsed);
			res->nodes_kib = out.out_bytes / 1024;
			if (osp_json_parse(out.out, out.out_bytes, &j, err, sizeof(err)) == OSP_OK &&
				j->type == OSP_JSON_ARR)
				res->nodes_count = j->n;
			osp_json_free(j);
		}
		free(out.out);
		if (bf_ctl(r, false, 10000, &out, stats_args) == 0)
			bench_samples_add(&stats, out.elapsed);
		if (bf_ctl(r, false, 10000, &out, cordon_args) == 0)
			bench_samples_add(&cordon, out.elapsed);
		if (bf_ctl(r, false, 10000, &out, uncordon_args) == 0)
			bench_samples_add(&cordon, out.elapsed);
	}
	res->nodes_ms = bf_median_ms(&nodes);
	res->nodes_max_ms = bf_ms(bench_samples_pct(&nodes, 100));
	res->stats_ms = bf_median_ms(&stats);
	res->cordon_ms = bf_median_ms(&cordon);
	bench_samples_fini(&nodes);
	bench_samples_fini(&stats);
	bench_samples_fini(&cordon);
}

/* bf_deploy runs a rolling deploy, batch 100%, that every agent answers. */
static void bf_deploy(bf_fleet *r, bf_result *res)
{
	char *argv[32], out[700];
	bench_samples st = { 0 }, ack = { 0 };
	bf_sim_counters c;
	int64_t t0, end, c0;
	pid_t pid;
	int status = -2;
	size_t n = 0;

	snprintf(out, sizeof(out), "%s/deploy.out", r->c.dir);
	argv[n++] = (char *)r->o->ctl_bin;
	argv[n++] = "--coordinator";
	argv[n++] = r->c.ctl;
	argv[n++] = "deploy";
	argv[n++] = "--app";
	argv[n++] = "bench";
	argv[n++] = "--version";
	argv[n++] = "1.0.0";
	argv[n++] = "--artifact";
	argv[n++] = "http://127.0.0.1:9/bench-1.0.0.tar.gz";
	argv[n++] = "--sha256";
	argv[n++] = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
	argv[n++] = "--run";
	argv[n++] = "/bin/true";
	argv[n++] = "--port";
	argv[n++] = "18080";
	argv[n++] = "--batch";
	argv[n++] = (char *)r->o->batch;
	argv[n++] = "--watch"; /* the deploy's own time, not the 2 min post-deploy watch */
	argv[n++] = "0";
	argv[n++] = "--wait";
	argv[n++] = "--timeout";
	argv[n++] = "60s";
	argv[n] = NULL;
	c0 = bf_proc_cpu_ns(r->c.pid);
	t0 = bench_now_ns();
	end = t0 + 65LL * 1000000000; /* deploy --timeout 60s, then a little */
	if ((pid = bf_spawn(argv, out, r->c.ctlerr)) < 0)
		return;
	res->deployed = true;
	while (bench_now_ns() < end && !atomic_load(&bf_interrupted)) {
		if (status == -2)
			status = bf_wait_pid(pid, 0);
		if (status != -2 && res->dep_exit == 0) {
			res->dep_exit = bf_ms(bench_now_ns() - t0);
			/* late acknowledgements (re-sent results) get 10 s more */
			end = bench_now_ns() + 10LL * 1000000000;
		}
		bf_sim_counters_get(r->sim, &c);
		if (c.acked >= res->n && status != -2)
			break;
		bf_sleep_ms(10);
	}
	if (status == -2) {
		kill(pid, SIGKILL);
		status = bf_wait_pid(pid, 5000);
	}
	res->dep_status = status;
	res->dep_cpu = (double)(bf_proc_cpu_ns(r->c.pid) - c0) / 1e9;
	bf_sim_counters_get(r->sim, &c);
	res->dep_acked = c.acked;
	bf_sim_deploy_times(r->sim, t0, &st, &ack);
	res->dep_stage_first = bf_ms(bench_samples_pct(&st, 0));
	res->dep_stage_p50 = bf_ms(bench_samples_pct(&st, 50));
	res->dep_stage_all = bf_ms(bench_samples_pct(&st, 100));
	res->dep_ack_p50 = bf_ms(bench_samples_pct(&ack, 50));
	res->dep_ack_all = bf_ms(bench_samples_pct(&ack, 100));
	bench_samples_fini(&st);
	bench_samples_fini(&ack);
	bf_proc_status(r->c.pid, &res->dep_rss, &res->dep_anon);
}

/* bf_tail prints the last lines of the file at path to stderr. */
static void bf_tail(const char *path, int lines)
{
	char *ring[64] = { 0 }, line[1024];
	FILE *f = path[0] != '\0' ? fopen(path, "r") : NULL;
	int n = 0;

	if (f == NULL)
		return;
	if (lines > 64)
		lines = 64;
	while (fgets(line, sizeof(line), f) != NULL) {
		free(ring[n % lines]);
		ring[n % lines] = strdup(line);
		n++;
	}
	fclose(f);
	fprintf(stderr, "bench_fleet: last lines of %s:\n", path);
	for (int i = n > lines ? n - lines : 0; i < n; i++)
		if (ring[i % lines] != NULL)
			fputs(ring[i % lines], stderr);
	for (int i = 0; i < lines; i++)
		free(ring[i]);
}

/* bf_count_lines counts the lines of the file at path that contain what. */
static uint64_t bf_count_lines(const char *path, const char *what)
{
	FILE *f = path[0] != '\0' ? fopen(path, "r") : NULL;
	char line[2048];
	uint64_t n = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		n += strstr(line, what) != NULL;
	fclose(f);
	return n;
}

/* bf_one runs every measurement for n agents; cleans up whatever happens. */
static int bf_one(const bf_opts *o, uint64_t n, bf_result *res)
{
	bf_fleet r = { .o = o };
	bf_sim_counters c;
	int code = -1;

	memset(res, 0, sizeof(*res));
	res->n = n;
	fprintf(stderr, "bench_fleet: %llu agents: starting the coordinator\n",
		(unsigned long long)n);
	if (bf_coord_start(&r) != 0)
		goto out;
	bf_sleep_ms(500);
	bf_proc_status(r.c.pid, &res->idle_rss, &res->idle_anon);
	fprintf(stderr, "bench_fleet: %llu agents: register storm\n", (unsigned long long)n);
	if (bf_storm(&r, res) != 0)
		goto out;
	fprintf(stderr, "bench_fleet: %llu agents: steady heartbeats for %.0f s\n",
		(unsigned long long)n, o->window);
	bf_steady(&r, res);
	fprintf(stderr, "bench_fleet: %llu agents: ospecctl\n", (unsigned long long)n);
	bf_ctl_bench(&r, res);
	if (o->deploy && bench_coord_alive(&r.c)) {
		fprintf(stderr, "bench_fleet: %llu agents: deploy --batch 100%%\n",
			(unsigned long long)n);
		bf_deploy(&r, res);
	}
	if (!atomic_load(&bf_interrupted) && bench_coord_alive(&r.c))
		code = 0;
out:
	if (r.sim != NULL) {
		bf_sim_counters_get(r.sim, &c);
		res->errors = c.errors;
		res->timeouts = c.timeouts;
	}
	/* the coordinator goes first: the agents' goodbyes would be measured */
	res->stop_ms = bench_coord_stop(&r.c);
	res->downs = bf_count_lines(r.c.log, "COORD-NODE-DOWN");
	bf_sim_close(r.sim);
	if (code != 0)
		bf_tail(r.c.log, 20);
	bench_coord_fini(&r.c, o->keep);
	res->ok = code == 0;
	return code;
}

/* bf_row prints one table row: a label and one formatted value per run. */
static void bf_row(const bf_result *res, size_t nr, const char *label,
	void (*fmt)(const bf_result *x, char *buf, size_t len))
{
	printf("| %-44s |", label);
	for (size_t i = 0; i < nr; i++) {
		char buf[64] = "failed";
		if (res[i].ok)
			fmt(&res[i], buf, sizeof(buf));
		printf(" %18s |", buf);
	}
	printf("\n");
}

#define BF_FMT(name, ...)                                                                  \
	static void name(const bf_result *x, char *b, size_t l)                           \
	{                                                                                  \
		snprintf(b, l, __VA_ARGS__);                                               \
	}
BF_FMT(bf_f_storm, "%.2f s", x->storm_all / 1000)
BF_FMT(bf_f_reg, "%.0f / %.0f ms", x->reg_p50, x->reg_p99)
BF_FMT(bf_f_retries, "%llu", (unsigned long long)x->reg_retries)
BF_FMT(bf_f_ovf, "%llu", (unsigned long long)x->overflows)
BF_FMT(bf_f_held, "%.2f s", x->held_all)
BF_FMT(bf_f_hb, "%.2f / %.2f ms", x->hb_p50, x->hb_p99)
BF_FMT(bf_f_hbmax, "%.1f ms", x->hb_max)
BF_FMT(bf_f_hbrate, "%.0f", x->hb_rate)
BF_FMT(bf_f_cpu, "%.1f %%", x->cpu_pct)
BF_FMT(bf_f_idle, "%.1f / %.1f MiB", x->idle_rss / 1024.0, x->idle_anon / 1024.0)
BF_FMT(bf_f_nrss, "%.1f / %.1f MiB", x->n_rss / 1024.0, x->n_anon / 1024.0)
BF_FMT(bf_f_per, "%.1f KiB", x->n > 0 ? ((double)x->n_anon - (double)x->idle_anon) / x->n : 0)
BF_FMT(bf_f_ctx, "%llu / %llu", (unsigned long long)x->held, (unsigned long long)x->contexts)
BF_FMT(bf_f_nodes, "%.0f ms (max %.0f)", x->nodes_ms, x->nodes_max_ms)
BF_FMT(bf_f_nodesz, "%zu / %zu KiB", x->nodes_count, x->nodes_kib)
BF_FMT(bf_f_stats, "%.0f ms", x->stats_ms)
BF_FMT(bf_f_cordon, "%.0f ms", x->cordon_ms)
BF_FMT(bf_f_dfirst, "%.0f ms", x->dep_stage_first)
BF_FMT(bf_f_dstage, "%.0f / %.0f ms", x->dep_stage_p50, x->dep_stage_all)
BF_FMT(bf_f_dack, "%.0f / %.0f ms", x->dep_ack_p50, x->dep_ack_all)
BF_FMT(bf_f_dacked, "%llu", (unsigned long long)x->dep_acked)
BF_FMT(bf_f_dexit, "%.2f s (exit %d)", x->dep_exit / 1000, x->dep_status)
BF_FMT(bf_f_dcpu, "%.1f s", x->dep_cpu)
BF_FMT(bf_f_drss, "%.1f / %.1f MiB", x->dep_rss / 1024.0, x->dep_anon / 1024.0)
BF_FMT(bf_f_stop, "%.0f ms", x->stop_ms)
BF_FMT(bf_f_downs, "%llu", (unsigned long long)x->downs)
BF_FMT(bf_f_err, "%llu / %llu", (unsigned long long)x->errors, (unsigned long long)x->timeouts)

static void bf_print(const bf_opts *o, const bf_result *res, size_t nr)
{
	printf("| %-44s |", "agents (simulated, one process)");
	for (size_t i = 0; i < nr; i++)
		printf(" %18llu |", (unsigned long long)res[i].n);
	printf("\n|%s|", "----------------------------------------------");
	for (size_t i = 0; i < nr; i++)
		printf("%s|", "-------------------:");
	printf("\n");
	bf_row(res, nr, "register storm: all registered", bf_f_storm);
	bf_row(res, nr, "register time p50 / p99", bf_f_reg);
	bf_row(res, nr, "register retries (5 s timeout, back-off)", bf_f_retries);
	bf_row(res, nr, "  accept-queue overflows meanwhile (host)", bf_f_ovf);
	bf_row(res, nr, "every poll held (from the first dial)", bf_f_held);
	bf_row(res, nr, "heartbeat round trip p50 / p99", bf_f_hb);
	bf_row(res, nr, "heartbeat round trip max", bf_f_hbmax);
	bf_row(res, nr, "heartbeats answered per second", bf_f_hbrate);
	bf_row(res, nr, "coordinator CPU, steady (of one core)", bf_f_cpu);
	bf_row(res, nr, "coordinator VmRSS / RssAnon, idle", bf_f_idle);
	bf_row(res, nr, "coordinator VmRSS / RssAnon, N agents", bf_f_nrss);
	bf_row(res, nr, "RssAnon per agent", bf_f_per);
	bf_row(res, nr, "held polls / nng contexts", bf_f_ctx);
	bf_row(res, nr, "`ospecctl --json nodes` (median of 5)", bf_f_nodes);
	bf_row(res, nr, "  nodes listed / output size", bf_f_nodesz);
	bf_row(res, nr, "`ospecctl --json stats` (median of 5)", bf_f_stats);
	bf_row(res, nr, "`ospecctl cordon`/`uncordon` (median)", bf_f_cordon);
	if (o->deploy) {
		bf_row(res, nr, "deploy: first Stage received", bf_f_dfirst);
		bf_row(res, nr, "  Stage received p50 / all", bf_f_dstage);
		bf_row(res, nr, "  result acknowledged p50 / all", bf_f_dack);
		bf_row(res, nr, "  results acknowledged", bf_f_dacked);
		bf_row(res, nr, "  `deploy --wait` returned", bf_f_dexit);
		bf_row(res, nr, "  coordinator CPU used meanwhile", bf_f_dcpu);
		bf_row(res, nr, "coordinator VmRSS / RssAnon after deploy", bf_f_drss);
	}
	bf_row(res, nr, "SIGTERM to exit, N agents connected", bf_f_stop);
	bf_row(res, nr, "agent-side errors / timeouts", bf_f_err);
	bf_row(res, nr, "nodes marked down (3 missed heartbeats)", bf_f_downs);
}

static int bf_usage(FILE *f)
{
	fprintf(f,
		"usage: bench_fleet [--agents N[,N...]] [--window S] [--heartbeat-ms MS]\n"
		"                   [--batch B] [--no-deploy] [--keep]\n"
		"  --agents LIST    simulated agents per run, comma-separated (100,500,1000)\n"
		"  --window S       seconds of steady heartbeats measured (5)\n"
		"  --heartbeat-ms MS  the coordinator's --heartbeat (1000)\n"
		"  --batch B        the deploy's --batch (100%%)\n"
		"  --no-deploy      skip the deploy fan-out\n"
		"  --keep         keep each run's temp dir (coordinator.log)\n"
		"  binaries: $OSPEC_COORDINATOR_BIN, $OSPECCTL_BIN, else %s\n",
		OSPEC_BINARY_DIR);
	return f == stdout ? 0 : 2;
}

static int bf_parse_agents(const char *s, bf_opts *o)
{
	char buf[256];
	char *p = buf;

	if (osp_strlcpy(buf, s, sizeof(buf)) >= sizeof(buf))
		return -1;
	o->nruns = 0;
	while (*p != '\0') {
		char *comma = strchr(p, ',');
		uint64_t v;
		if (comma != NULL)
			*comma = '\0';
		if (bench_arg_u64(p, &v) != 0 || v == 0 || v > 20000 || o->nruns >= BF_MAX_RUNS)
			return -1;
		o->agents[o->nruns++] = v;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	return o->nruns > 0 ? 0 : -1;
}

static int bf_parse(int argc, char **argv, bf_opts *o)
{
	for (int i = 1; i < argc;) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return bf_usage(stdout) + 100;
		if (strcmp(argv[i], "--no-deploy") == 0) {
			o->deploy = false;
			i++;
			continue;
		}
		if (strcmp(argv[i], "--keep") == 0) {
			o->keep = true;
			i++;
			continue;
		}
		if (v == NULL)
			return bf_usage(stderr);
		if (strcmp(argv[i], "--agents") == 0) {
			if (bf_parse_agents(v, o) != 0)
				return bf_usage(stderr);
		} else if (strcmp(argv[i], "--heartbeat-ms") == 0) {
			if (bench_arg_u64(v, &o->heartbeat_ms) != 0 || o->heartbeat_ms < 100 ||
				o->heartbeat_ms > 60000)
				return bf_usage(stderr);
		} else if (strcmp(argv[i], "--batch") == 0) {
			o->batch = v;
		} else if (strcmp(argv[i], "--window") == 0) {
			o->window = atof(v);
			if (o->window < 1 || o->window > 60)
				return bf_usage(stderr);
		} else {
			return bf_usage(stderr);
		}
		i += 2; /* the option and its value */
	}
	return 0;
}

static const char *bf_fs_type_tmp(void)
{
	const char *t = getenv("TMPDIR");

	return bench_fs_type(t != NULL && t[0] != '\0' ? t : "/tmp");
}

/* bf_raise_nofile lifts the descriptor limit for the largest run. */
static void bf_raise_nofile(const bf_opts *o)
{
	uint64_t max = 0;

	for (size_t i = 0; i < o->nruns; i++)
		max = o->agents[i] > max ? o->agents[i] : max;
	bench_nofile_for("bench_fleet", max);
}

int main(int argc, char **argv)
{
	static char coord_bin[600], ctl_bin[600];
	bf_opts o = { .agents = { 100, 500, 1000 }, .nruns = 3, .window = 5, .deploy = true,
		.heartbeat_ms = 1000, .batch = "100%" };
	bf_result res[BF_MAX_RUNS];
	struct sigaction sa;
	size_t ran = 0;
	int rc, code = 0;

	if ((rc = bf_parse(argc, argv, &o)) != 0)
		return rc >= 100 ? 0 : rc;
	snprintf(coord_bin, sizeof(coord_bin), "%s",
		getenv("OSPEC_COORDINATOR_BIN") ? getenv("OSPEC_COORDINATOR_BIN")
						: OSPEC_BINARY_DIR "/coordinator/ospec-coordinator");
	snprintf(ctl_bin, sizeof(ctl_bin), "%s",
		getenv("OSPECCTL_BIN") ? getenv("OSPECCTL_BIN")
				       : OSPEC_BINARY_DIR "/coordinator/ospecctl");
	o.coord_bin = coord_bin;
	o.ctl_bin = ctl_bin;
	if (access(coord_bin, X_OK) != 0 || access(ctl_bin, X_OK) != 0) {
		fprintf(stderr, "bench_fleet: '%s' or '%s' is missing: build them first\n",
			coord_bin, ctl_bin);
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = bf_on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	bf_raise_nofile(&o);
	for (size_t i = 0; i < o.nruns && !atomic_load(&bf_interrupted); i++, ran++)
		if (bf_one(&o, o.agents[i], &res[i]) != 0)
			code = 1;
	bench_header(argc, argv);
	printf("# a real ospec-coordinator (--heartbeat %llums, default poll hold 20s, synced\n"
	       "# LMDB on %s) and N simulated agents in one process on loopback; both share\n"
	       "# the machine's cores. deploy: rolling, --batch %s, every agent answers at once\n\n",
		(unsigned long long)o.heartbeat_ms,
		bf_fs_type_tmp(), o.batch);
	bf_print(&o, res, ran);
	nng_fini(); /* nng's threads: a clean valgrind run */
	return code;
}
