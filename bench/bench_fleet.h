/*
 * bench_fleet.h - the pieces of bench_fleet: simulated agents speaking the
 * real protocol over nng (bench_fleet_sim.c) and the child processes it runs
 * (bench_fleet_proc.c).
 */
#ifndef BENCH_FLEET_H
#define BENCH_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bench_common.h"

/* Simulated agents: one req0 socket (one TCP connection) per agent with two
 * contexts, poll and heartbeat, like ospec-agent; every step is an nng aio
 * callback on nng's own few threads, no thread per agent. */
typedef struct bf_sim bf_sim;

typedef struct bf_sim_counters {
	uint64_t registered;   /* agents registered at least once */
	uint64_t registers;    /* Registered replies, re-registers included */
	uint64_t reg_retries;  /* a hello or register that failed or timed out */
	uint64_t errors;       /* Error replies */
	uint64_t timeouts;     /* requests that timed out */
	uint64_t heartbeats;   /* heartbeat round trips completed */
	uint64_t staged;       /* agents that received a Stage command */
	uint64_t acked;        /* agents whose result was acknowledged */
} bf_sim_counters;

/* bf_sim_open makes n agents (sockets, contexts, aios; not connected yet) for
 * url with heartbeat interval hb_ms. Returns 0 or -1 (err says why). */
int bf_sim_open(const char *url, size_t n, int hb_ms, bf_sim **out, char *err, size_t errlen);

/* bf_sim_start dials and sends every agent's Hello; the register storm's
 * clock starts here. */
void bf_sim_start(bf_sim *s);

/* bf_sim_counters_get copies the counters. */
void bf_sim_counters_get(bf_sim *s, bf_sim_counters *c);

/* bf_sim_reg_times adds each registered agent's time from bf_sim_start to
 * its Registered reply (ns) to out. */
void bf_sim_reg_times(bf_sim *s, bench_samples *out);

/* bf_sim_reg_since adds, for each agent whose latest Registered came at or
 * after t0 (bench_now_ns), the time from t0 to it (ns) to out. The latest is
 * read without a lock: call it once the agents are quiet. */
void bf_sim_reg_since(bf_sim *s, int64_t t0, bench_samples *out);

/* bf_sim_hb_measure starts (on) or stops recording heartbeat round trips. */
void bf_sim_hb_measure(bf_sim *s, bool on);

/* bf_sim_hb_samples moves the recorded heartbeat round trips (ns) to out. */
void bf_sim_hb_samples(bf_sim *s, bench_samples *out);

/* bf_sim_deploy_times adds, for each agent, the time from t0 (bench_now_ns)
 * to its Stage command (stage) and to its result's Ack (acked). */
void bf_sim_deploy_times(bf_sim *s, int64_t t0, bench_samples *stage, bench_samples *acked);

/* The commands whose arrival and acknowledged result every simulated agent
 * notes (the latest of each kind; bench_scale). Stage into slot "idle",
 * "blue" or "green", SwitchPrepare, SwitchDecision and ScaleDown are
 * answered as ospec-agent answers them (one blue-green app per agent, slots
 * recorded, no process or proxy): YES to a prepare of a staged slot, the
 * decision applied at once. */
typedef enum bf_kind {
	BF_K_STAGE = 0,
	BF_K_PREPARE,
	BF_K_DECISION,
	BF_K_SCALE_DOWN,
	BF_K_N,
} bf_kind;

/* bf_sim_kind_times adds, for each agent whose latest command of kind k
 * arrived at or after since (bench_now_ns), the time from t0 to its arrival
 * to rx and, once acknowledged, to its result's Ack to acked (ns; either may
 * be NULL). */
void bf_sim_kind_times(bf_sim *s, bf_kind k, int64_t since, int64_t t0, bench_samples *rx,
	bench_samples *acked);

/* bf_sim_kind_acked counts the agents whose latest command of kind k arrived
 * at or after since and whose result was acknowledged. */
size_t bf_sim_kind_acked(bf_sim *s, bf_kind k, int64_t since);

/* bf_sim_bg_refused counts the blue-green answers that were not a success
 * (refused, vote NO) since bf_sim_open. */
uint64_t bf_sim_bg_refused(bf_sim *s);

/* bf_sim_close stops every callback and frees everything; accepts NULL. */
void bf_sim_close(bf_sim *s);

/* A child process's outcome. */
typedef struct bf_run_result {
	int status;        /* exit code, or 128+signal, or -1 */
	int64_t elapsed;   /* ns */
	size_t out_bytes;  /* bytes on stdout */
	char *out;         /* stdout (NUL-terminated) when kept */
} bf_run_result;

/* bf_spawn starts argv[0] with stdout and stderr to the files out_path and
 * err_path (NULL: /dev/null); the child dies with this process. Returns the
 * pid or -1. */
pid_t bf_spawn(char *const argv[], const char *out_path, const char *err_path);

/* bf_run runs argv to completion (killed after timeout_ms), stdout read into
 * r->out when keep is true, stderr to err_path. Returns 0 if it ran. */
int bf_run(char *const argv[], const char *err_path, int timeout_ms, bool keep,
	bf_run_result *r);

/* bf_wait_pid waits up to timeout_ms for pid; returns its status like
 * bf_run_result.status, or -2 if it is still running. */
int bf_wait_pid(pid_t pid, int timeout_ms);

/* bf_proc_status reads VmRSS and RssAnon (KiB) of pid; 0 or -1. */
int bf_proc_status(pid_t pid, uint64_t *vmrss_kb, uint64_t *rssanon_kb);

/* bf_proc_cpu_ns returns the CPU time (user + system) pid used so far. */
int64_t bf_proc_cpu_ns(pid_t pid);

/* bf_free_port finds a free TCP port on 127.0.0.1; 0 on failure. */
int bf_free_port(void);

/* bf_listen_overflows reads TcpExt ListenOverflows (system-wide) from
 * /proc/net/netstat: connections dropped because an accept queue was full. */
uint64_t bf_listen_overflows(void);

#endif
