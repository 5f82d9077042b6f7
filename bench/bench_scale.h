/*
 * bench_scale.h - the pieces of bench_scale (issue 14, "Scale"): a real
 * coordinator with N simulated agents (bench_scale_fleet.c) and one real
 * ospec-agent with the hello app (bench_scale_agent.c); bench_scale.c parses
 * the flags and prints the tables.
 */
#ifndef BENCH_SCALE_H
#define BENCH_SCALE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define BS_MAX_RUNS 8

typedef struct bs_opts {
	uint64_t agents[BS_MAX_RUNS];
	size_t nruns;
	uint64_t heartbeat_ms;  /* the coordinator's --heartbeat */
	const char *roll_batch; /* the rolling deploy's --batch */
	bool fleet, agent;      /* which parts run */
	bool keep;
	char coord[600], ctl[600], agent_bin[600], hello[600], pack[600];
} bs_opts;

/* Memory of a process, KiB. */
typedef struct bs_mem {
	uint64_t rss, anon, pss, pss_anon;
} bs_mem;

/* What one fleet size measured; times in ms unless said, -1: not measured. */
typedef struct bs_fleet_res {
	uint64_t n;
	bool ok;
	/* register storm, from bf_sim_start */
	double reg_all, reg_p50, reg_p99, held_all;
	uint64_t reg_retries;
	/* rolling deploy over every node */
	double roll_all, roll_cpu;  /* deploy -> last result acked; CPU s meanwhile */
	size_t roll_acked;
	/* the blue-green deploy whose switch is measured */
	double bg_staged, bg_prepare, bg_all, bg_cpu;
	double dec_rx_first, dec_rx_all;        /* decision -> SwitchDecision arrived */
	double dec_p50, dec_p99, dec_max;       /* decision -> its result acked */
	double rx_p50, rx_p99, rx_max;          /* first SwitchDecision arrived -> acked */
	double skew_ack, skew_rx, skew_coord;   /* first to last: acked, arrived; coordinator's */
	size_t dec_acked, scale_acked;
	uint64_t refused;
	/* coordinator memory, KiB */
	bs_mem idle, with_n, peak, end;
	uint64_t hwm;
	uint64_t errors, timeouts;
	int64_t nodes_up;   /* -1: `ospecctl stats` did not answer */
} bs_fleet_res;

/* What the real agent measured. */
typedef struct bs_agent_res {
	bool ok;
	bs_mem no_app, idle, deploy_peak, after;
	uint64_t samples;   /* readings during the deploy */
	uint64_t hwm;       /* VmHWM at the end, KiB */
	double deploy_ms;   /* `deploy --wait` */
	bs_mem coord;       /* the coordinator's, at the end (one node) */
} bs_agent_res;

/* bs_interrupted is set by SIGINT/SIGTERM: every wait gives up. */
extern atomic_bool bs_interrupted;

/* bs_sleep_ms sleeps (cut short by an interruption). */
void bs_sleep_ms(int ms);

/* bs_mem_read reads VmRSS, RssAnon, Pss and Pss_Anon of pid (0 where the
 * kernel has no smaps_rollup). Returns 0 or -1. */
int bs_mem_read(pid_t pid, bs_mem *m);

/* bs_mem_max keeps the larger of each field of *peak and m. */
void bs_mem_max(bs_mem *peak, const bs_mem *m);

/* bs_fleet_one measures n simulated agents against a fresh coordinator;
 * stops everything it started. Returns 0 or -1 (r->ok says the same). */
int bs_fleet_one(const bs_opts *o, uint64_t n, bs_fleet_res *r);

/* bs_agent_run measures one real ospec-agent with the hello app. */
int bs_agent_run(const bs_opts *o, bs_agent_res *r);

#endif
