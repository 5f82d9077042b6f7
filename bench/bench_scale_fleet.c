/*
 * bench_scale_fleet.c - one fleet size of bench_scale: a real
 * ospec-coordinator and N simulated agents (bench_fleet_sim.c, the real
 * protocol over loopback, one process).
 *
 * In order: the register storm (every agent dials at once), a rolling
 * deploy over every node (the coordinator's CPU per node), a first
 * blue-green deploy (release 1 into blue), then the measured one: release 2
 * with --batch 100% into green and the switch of the whole fleet. The
 * DECISION is the coordinator's: `decided` of the switch in `ospecctl
 * status --json` (its wall clock, ms, the moment the commit was taken,
 * before it is synced and any node can read it); each agent's APPLY is the
 * moment the coordinator acknowledged its SwitchDecision result (the agent's
 * Ack; the simulated agent applies a commit at once). Both clocks are this
 * machine's. The coordinator's memory is read every 10 ms meanwhile.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_coord.h"
#include "bench_fleet.h"
#include "bench_scale.h"

/* a fake release's sha256: one per version ("%064d"); nothing is fetched */
#define BS_SHA_FMT "%064d"
#define BS_PHASE_MS 600000  /* the longest wait for one phase */
#define BS_SCALE_DOWN "2s"  /* the measured deploy's --scale-down-delay */

typedef struct bs_run {
	const bs_opts *o;
	uint64_t n;
	bs_fleet_res *r;
	bench_coord c;
	bf_sim *sim;
	char id[64]; /* the last deploy's rollout */
} bs_run;

static double bs_ms(int64_t ns)
{
	return (double)ns / 1e6;
}

/* bs_sample keeps the coordinator's memory peak. */
static void bs_sample(bs_run *x)
{
	bs_mem m;

	if (bs_mem_read(x->c.pid, &m) == 0)
		bs_mem_max(&x->r->peak, &m);
}

/* bs_pct returns the p-th percentile of s in ms. */
static double bs_pct(bench_samples *s, double p)
{
	return s->n > 0 ? bs_ms(bench_samples_pct(s, p)) : -1;
}

/* bs_stats reads one integer of `ospecctl --json stats`; -1 if it failed. */
static int64_t bs_stats(bs_run *x, const char *key)
{
	static const char *const args[] = { "stats", NULL };
	osp_json *j = bench_coord_json(&x->c, 20000, args);
	int64_t v = j != NULL ? osp_json_get_int(j, key, -1) : -1;

	osp_json_free(j);
	return v;
}

/* bs_storm starts the agents (all dial at once) and waits until every one
 * registered and holds a poll. */
static int bs_storm(bs_run *x)
{
	bench_samples reg = { 0 };
	bf_sim_counters cn = { 0 };
	int64_t t0, end;
	char err[256];

	if (bf_sim_open(x->c.url, x->n, (int)x->o->heartbeat_ms, &x->sim, err, sizeof(err)) !=
		0) {
		fprintf(stderr, "bench_scale: %s\n", err);
		return -1;
	}
	t0 = bench_now_ns();
	end = t0 + (int64_t)BS_PHASE_MS * 1000000;
	bf_sim_start(x->sim);
	while (cn.registered < x->n && bench_now_ns() < end && !atomic_load(&bs_interrupted) &&
		bench_coord_alive(&x->c)) {
		bs_sleep_ms(10);
		bs_sample(x);
		bf_sim_counters_get(x->sim, &cn);
	}
	if (cn.registered < x->n) {
		fprintf(stderr, "bench_scale: %llu of %llu agents registered\n",
			(unsigned long long)cn.registered, (unsigned long long)x->n);
		return -1;
	}
	bf_sim_reg_times(x->sim, &reg);
	x->r->reg_all = bs_pct(&reg, 100);
	x->r->reg_p50 = bs_pct(&reg, 50);
	x->r->reg_p99 = bs_pct(&reg, 99);
	x->r->reg_retries = cn.reg_retries;
	bench_samples_fini(&reg);
	while (bench_now_ns() < end && !atomic_load(&bs_interrupted) &&
		bs_stats(x, "held_polls") < (int64_t)x->n)
		bs_sleep_ms(50);
	x->r->held_all = bs_ms(bench_now_ns() - t0);
	return 0;
}

/* bs_deploy runs `ospecctl deploy` of app version v (a fake artifact: the
 * simulated agents fetch nothing) with --watch 0 and extra, without --wait,
 * and keeps the rollout's id. */
static int bs_deploy(bs_run *x, const char *app, int v, const char *const *extra)
{
	char ver[16], sha[72];
	const char *a[40] = { "deploy", "--app", app, "--version", ver, "--artifact",
		"http://127.0.0.1:9/bench.tar.gz", "--sha256", sha, "--run", "/bin/true",
		"--watch", "0" };
	size_t n = 13;
	bf_run_result res;
	int st;

	snprintf(ver, sizeof(ver), "%d.0.0", v);
	snprintf(sha, sizeof(sha), BS_SHA_FMT, v);

	for (; *extra != NULL && n < 39; extra++)
		a[n++] = *extra;
	a[n] = NULL;
	x->id[0] = '\0';
	st = bench_coord_ctl(&x->c, BS_PHASE_MS, &res, a);
	if (st == 0 && res.out != NULL)
		sscanf(res.out, "%63s", x->id);
	free(res.out);
	if (st == 0 && x->id[0] != '\0')
		return 0;
	fprintf(stderr, "bench_scale: deploy of %s %s exited %d; see %s\n", app, ver, st,
		x->c.ctlerr);
	return -1;
}

/* bs_wait_acked waits until every agent's result to its latest command of
 * kind k, arrived at or after since, is acknowledged; returns how many. */
static size_t bs_wait_acked(bs_run *x, bf_kind k, int64_t since, int timeout_ms)
{
	int64_t end = bench_now_ns() + (int64_t)timeout_ms * 1000000;
	size_t got = 0;

	while (!atomic_load(&bs_interrupted) && bench_coord_alive(&x->c)) {
		got = bf_sim_kind_acked(x->sim, k, since);
		if (got >= x->n || bench_now_ns() >= end)
			break;
		bs_sample(x);
		bs_sleep_ms(10);
	}
	return got;
}

/* bs_rolling deploys to every node with the rolling strategy and measures
 * the coordinator's CPU until the last result is acknowledged. */
static int bs_rolling(bs_run *x)
{
	const char *const extra[] = { "--port", "18080", "--batch", x->o->roll_batch, NULL };
	bench_samples ack = { 0 };
	int64_t t0 = bench_now_ns(), c0 = bf_proc_cpu_ns(x->c.pid);

	if (bs_deploy(x, "roll", 1, extra) != 0)
		return -1;
	x->r->roll_acked = bs_wait_acked(x, BF_K_STAGE, t0, BS_PHASE_MS);
	x->r->roll_cpu = (double)(bf_proc_cpu_ns(x->c.pid) - c0) / 1e9;
	bf_sim_kind_times(x->sim, BF_K_STAGE, t0, t0, NULL, &ack);
	x->r->roll_all = bs_pct(&ack, 100);
	bench_samples_fini(&ack);
	if (x->r->roll_acked < x->n) {
		fprintf(stderr, "bench_scale: rolling deploy: %zu of %llu results acknowledged\n",
			x->r->roll_acked, (unsigned long long)x->n);
		return -1;
	}
	return 0;
}

/* bs_switch_info reads the last switch of rollout x->id from `ospecctl
 * status --json`: when it was decided (wall ms) and its flip skew (ms). */
static int bs_switch_info(bs_run *x, int64_t *decided_ms, double *skew_ms)
{
	const char *const args[] = { "status", x->id, NULL };
	osp_json *j = bench_coord_json(&x->c, 60000, args);
	const osp_json *sw = j != NULL ? osp_json_get(j, "switches") : NULL;
	const osp_json *last = sw != NULL && sw->type == OSP_JSON_ARR && sw->n > 0
		? sw->items[sw->n - 1] : NULL;
	int rc = -1;

	if (last != NULL && (*decided_ms = bench_ts_ms(osp_json_get_str(last, "decided"))) > 0) {
		*skew_ms = (double)osp_json_get_int(last, "skew_ms", -1);
		rc = 0;
	} else {
		fprintf(stderr, "bench_scale: no decided switch in `status %s`\n", x->id);
	}
	osp_json_free(j);
	return rc;
}

/* bs_flip_numbers computes the switch's numbers: dec is the decision on
 * the monotonic clock, t0 the deploy's start. */
static void bs_flip_numbers(bs_run *x, int64_t t0, int64_t dec)
{
	bench_samples st = { 0 }, prx = { 0 }, rx = { 0 }, ack = { 0 }, fr = { 0 };
	bs_fleet_res *r = x->r;
	int64_t first_rx;

	bf_sim_kind_times(x->sim, BF_K_STAGE, t0, t0, NULL, &st);
	bf_sim_kind_times(x->sim, BF_K_PREPARE, t0, dec, &prx, NULL);
	bf_sim_kind_times(x->sim, BF_K_DECISION, t0, dec, &rx, &ack);
	r->bg_staged = bs_pct(&st, 100);
	r->bg_prepare = -bs_pct(&prx, 0);
	r->dec_rx_first = bs_pct(&rx, 0);
	r->dec_rx_all = bs_pct(&rx, 100);
	r->dec_p50 = bs_pct(&ack, 50);
	r->dec_p99 = bs_pct(&ack, 99);
	r->dec_max = bs_pct(&ack, 100);
	r->bg_all = r->dec_max + bs_ms(dec - t0);
	r->skew_ack = r->dec_max - bs_pct(&ack, 0);
	r->skew_rx = r->dec_rx_all - r->dec_rx_first;
	/* the same acks from the first SwitchDecision to arrive at any agent */
	first_rx = dec + bench_samples_pct(&rx, 0);
	bf_sim_kind_times(x->sim, BF_K_DECISION, t0, first_rx, NULL, &fr);
	r->rx_p50 = bs_pct(&fr, 50);
	r->rx_p99 = bs_pct(&fr, 99);
	r->rx_max = bs_pct(&fr, 100);
	bench_samples_fini(&st);
	bench_samples_fini(&prx);
	bench_samples_fini(&rx);
	bench_samples_fini(&ack);
	bench_samples_fini(&fr);
}

/* bs_flip: release 1 blue-green (into blue, the first switch), then the
 * measured release 2 (into green, the whole fleet flips), its scale-down. */
static int bs_flip(bs_run *x)
{
	/* the votes of thousands of nodes can take longer than the default
	 * 30 s prepare deadline (one synced commit each): the decision must be
	 * a commit to be measured */
	const char *const boot[] = { "--strategy", "blue_green", "--ports",
		"blue=18081,green=18082", "--batch", "100%", "--prepare-deadline", "10m",
		"--scale-down-delay", "1ms", NULL };
	const char *const flip[] = { "--strategy", "blue_green", "--ports",
		"blue=18081,green=18082", "--batch", "100%", "--prepare-deadline", "10m",
		"--scale-down-delay", BS_SCALE_DOWN, NULL };
	int64_t t0 = bench_now_ns(), c0, off, decided_ms = 0;

	if (bs_deploy(x, "web", 1, boot) != 0)
		return -1;
	if (bs_wait_acked(x, BF_K_DECISION, t0, BS_PHASE_MS) < x->n) {
		fprintf(stderr, "bench_scale: the first blue-green switch did not reach every node\n");
		return -1;
	}
	bs_sleep_ms(1000); /* the first rollout settles */
	c0 = bf_proc_cpu_ns(x->c.pid);
	t0 = bench_now_ns();
	if (bs_deploy(x, "web", 2, flip) != 0)
		return -1;
	x->r->dec_acked = bs_wait_acked(x, BF_K_DECISION, t0, BS_PHASE_MS);
	x->r->bg_cpu = (double)(bf_proc_cpu_ns(x->c.pid) - c0) / 1e9;
	off = bench_wall_ns() - bench_now_ns(); /* wall = mono + off */
	x->r->refused = bf_sim_bg_refused(x->sim);
	if (x->r->dec_acked < x->n || bs_switch_info(x, &decided_ms, &x->r->skew_coord) != 0) {
		fprintf(stderr, "bench_scale: the switch: %zu of %llu commits acknowledged\n",
			x->r->dec_acked, (unsigned long long)x->n);
		return -1;
	}
	bs_flip_numbers(x, t0, decided_ms * 1000000 - off);
	x->r->scale_acked = bs_wait_acked(x, BF_K_SCALE_DOWN, t0, BS_PHASE_MS);
	return 0;
}

/* bs_fleet_end reads the coordinator's memory, peak and nodes at the end. */
static void bs_fleet_end(bs_run *x)
{
	bf_sim_counters cn;

	bs_mem_read(x->c.pid, &x->r->end);
	bs_mem_max(&x->r->peak, &x->r->end);
	bench_proc_kb(x->c.pid, "status", "VmHWM", &x->r->hwm);
	x->r->nodes_up = bs_stats(x, "nodes_up");
	bf_sim_counters_get(x->sim, &cn);
	x->r->errors = cn.errors;
	x->r->timeouts = cn.timeouts;
}

int bs_fleet_one(const bs_opts *o, uint64_t n, bs_fleet_res *r)
{
	bs_run x = { .o = o, .n = n, .r = r };
	char hb[32];
	const char *const extra[] = { "--heartbeat", hb, NULL };
	int code = -1;

	memset(r, 0, sizeof(*r));
	r->n = n;
	x.c.prog = "bench_scale";
	x.c.coord_bin = o->coord;
	x.c.ctl_bin = o->ctl;
	snprintf(hb, sizeof(hb), "%llums", (unsigned long long)o->heartbeat_ms);
	fprintf(stderr, "bench_scale: %llu agents: register storm\n", (unsigned long long)n);
	if (bench_coord_start(&x.c, "scale", extra) != 0)
		goto out;
	bs_sleep_ms(500);
	bs_mem_read(x.c.pid, &r->idle);
	if (bs_storm(&x) != 0)
		goto out;
	bs_sleep_ms(2000);
	bs_mem_read(x.c.pid, &r->with_n);
	fprintf(stderr, "bench_scale: %llu agents: rolling deploy --batch %s\n",
		(unsigned long long)n, o->roll_batch);
	if (bs_rolling(&x) != 0)
		goto out;
	fprintf(stderr, "bench_scale: %llu agents: blue-green deploys, the switch\n",
		(unsigned long long)n);
	if (bs_flip(&x) != 0)
		goto out;
	if (!atomic_load(&bs_interrupted) && bench_coord_alive(&x.c))
		code = 0;
out:
	if (x.sim != NULL && x.c.pid > 0)
		bs_fleet_end(&x);
	if (code != 0 && x.c.dir[0] != '\0')
		fprintf(stderr, "bench_scale: %llu agents failed; coordinator log: %s%s\n",
			(unsigned long long)n, x.c.log, o->keep ? "" : " (removed; --keep keeps it)");
	/* the agents first: closed while the coordinator still answers, 5000
	 * of them leave at once; closed after it, they were redialing a dead
	 * port and their close took more than 10 minutes (the coordinator logs
	 * every goodbye, which costs far less) */
	bf_sim_close(x.sim);
	bench_coord_stop(&x.c);
	bench_coord_fini(&x.c, o->keep);
	r->ok = code == 0;
	return code;
}
