/*
 * bench_restart.c - how fast a fleet is back after its coordinator dies: a
 * real ospec-coordinator with N agents registered (real ospec-agent
 * processes, or simulated agents in this process: bench_fleet_sim.c), then
 * `kill -9`, a restart on the same data directory and port, and the time
 * until every node is up again (re-registered) and polling.
 *
 *   bench_restart [--real 200] [--sim 1000,2000] [--down-ms MS]
 *                 [--heartbeat-ms MS] [--keep]
 *
 * Times are from the SIGKILL. Progress is read with `ospecctl --json stats`
 * every 50 ms (nodes_up, held_polls), so they are good to about 60 ms.
 * Everything runs on 127.0.0.1 in a temp dir that is removed at the end, on
 * failure and Ctrl-C too (--keep keeps it, with every log).
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
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

#define RS_MAX_RUNS 8
#define RS_MAX_REAL 1000
#define RS_POLL_MS 50
#define RS_WAIT_S 120 /* for the first registration and for the recovery */

typedef struct rs_opts {
	uint64_t n[RS_MAX_RUNS];
	bool real[RS_MAX_RUNS];
	size_t nruns;
	uint64_t down_ms, hb_ms;
	bool keep;
	char coord_bin[600], ctl_bin[600], agent_bin[600];
} rs_opts;

/* What one run measured: ms from the SIGKILL unless said. */
typedef struct rs_result {
	uint64_t n;
	bool real, ok;
	double answers;                  /* the restarted coordinator answers ospecctl */
	double up_first, up_50, up_90, up_all;
	double held_all;                 /* held_polls >= n */
	uint64_t registers;              /* COORD-NODE-REGISTERED after the restart */
	uint64_t overflows;              /* TcpExt ListenOverflows meanwhile */
	uint64_t conn_limit;             /* connections closed: too many unregistered */
	double cpu_s;                    /* the new coordinator's CPU until every poll held */
	uint64_t sim_retries, sim_timeouts;
	double sim_p50, sim_p99;         /* simulated: re-register time per agent */
} rs_result;

/* One run's processes and files. */
typedef struct rs_fleet {
	const rs_opts *o;
	size_t n;
	bool real;
	bench_coord c; /* the coordinator, its temp dir and ospecctl */
	char hb[32];   /* its --heartbeat */
	pid_t *agents;
	bf_sim *sim;
} rs_fleet;

/* What `ospecctl --json stats` says. */
typedef struct rs_stats {
	uint64_t up, held, conn_limit;
} rs_stats;

static atomic_bool rs_interrupted;

static void rs_on_signal(int sig)
{
	(void)sig;
	atomic_store(&rs_interrupted, true);
}

static void rs_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !atomic_load(&rs_interrupted))
		;
}

static double rs_ms(int64_t ns)
{
	return (double)ns / 1e6;
}

/* rs_stats_get runs ospecctl --json stats; 0, or -1 when it did not answer. */
static int rs_stats_get(rs_fleet *f, rs_stats *st)
{
	static const char *const args[] = { "stats", NULL };
	osp_json *j = bench_coord_json(&f->c, 5000, args);

	if (j == NULL)
		return -1;
	st->up = (uint64_t)osp_json_get_int(j, "nodes_up", 0);
	st->held = (uint64_t)osp_json_get_int(j, "held_polls", 0);
	st->conn_limit = (uint64_t)osp_json_get_int(j, "conn_limit", 0);
	osp_json_free(j);
	return 0;
}

/* rs_coord_spawn (re)starts the coordinator on f's data dir and port (its
 * log appended to f->c.log). */
static int rs_coord_spawn(rs_fleet *f)
{
	const char *const extra[] = { "--heartbeat", f->hb, NULL };

	return bench_coord_spawn(&f->c, extra);
}

/* rs_setup makes the temp dir, picks the ports, starts the coordinator and
 * waits until it answers (bench_coord.h). */
static int rs_setup(rs_fleet *f)
{
	const char *const extra[] = { "--heartbeat", f->hb, NULL };

	f->c.prog = "bench_restart";
	f->c.coord_bin = f->o->coord_bin;
	f->c.ctl_bin = f->o->ctl_bin;
	snprintf(f->hb, sizeof(f->hb), "%llums", (unsigned long long)f->o->hb_ms);
	return bench_coord_start(&f->c, "restart", extra);
}

/* rs_agent_spawn starts real agent k (no apps: it registers, polls and
 * heartbeats). */
static int rs_agent_spawn(rs_fleet *f, size_t k)
{
	char id[16], state[640], log[640];

	snprintf(id, sizeof(id), "r%04zu", k + 1);
	snprintf(state, sizeof(state), "%s/agent-%s", f->c.dir, id);
	snprintf(log, sizeof(log), "%s/agent-%s.log", f->c.dir, id);
	char *argv[] = { (char *)f->o->agent_bin, "--id", id, "--coordinator", f->c.url, "--state",
		state, "--label", "role=web", NULL };
	f->agents[k] = bf_spawn(argv, log, log);
	return f->agents[k] > 0 ? 0 : -1;
}

/* rs_fleet_start starts the agents and waits until every node is up with
 * its poll held. */
static int rs_fleet_start(rs_fleet *f)
{
	int64_t end = bench_now_ns() + (int64_t)RS_WAIT_S * 1000000000;
	char err[256];
	rs_stats st = { 0 };

	if (f->real) {
		if ((f->agents = calloc(f->n, sizeof(*f->agents))) == NULL)
			return -1;
		for (size_t k = 0; k < f->n; k++)
			if (rs_agent_spawn(f, k) != 0) {
				fprintf(stderr, "bench_restart: cannot start agent %zu\n", k + 1);
				return -1;
			}
	} else {
		if (bf_sim_open(f->c.url, f->n, (int)f->o->hb_ms, &f->sim, err, sizeof(err)) != 0) {
			fprintf(stderr, "bench_restart: %s\n", err);
			return -1;
		}
		bf_sim_start(f->sim);
	}
	while (bench_now_ns() < end && !atomic_load(&rs_interrupted)) {
		if (rs_stats_get(f, &st) == 0 && st.up >= f->n && st.held >= f->n)
			return 0;
		rs_sleep_ms(200);
	}
	fprintf(stderr, "bench_restart: only %llu of %zu nodes up (%llu polls held)\n",
		(unsigned long long)st.up, f->n, (unsigned long long)st.held);
	return -1;
}

/* rs_file_size returns the size of path (0 when missing). */
static long rs_file_size(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? (long)sb.st_size : 0;
}

/* rs_count_from counts the lines of path from byte offset off on that
 * contain what. */
static uint64_t rs_count_from(const char *path, long off, const char *what)
{
	FILE *f = fopen(path, "r");
	char line[2048];
	uint64_t n = 0;

	if (f == NULL)
		return 0;
	if (fseek(f, off, SEEK_SET) == 0)
		while (fgets(line, sizeof(line), f) != NULL)
			n += strstr(line, what) != NULL;
	fclose(f);
	return n;
}

/* rs_note records the time t (ms) at the first crossing of a threshold. */
static void rs_note(double *at, bool reached, double t)
{
	if (reached && *at < 0)
		*at = t;
}

/* rs_watch polls the restarted coordinator until every node is up and every
 * poll held (or RS_WAIT_S passed). */
static int rs_watch(rs_fleet *f, rs_result *r, int64_t t0)
{
	int64_t end = t0 + (int64_t)RS_WAIT_S * 1000000000;
	rs_stats st = { 0 };

	r->answers = r->up_first = r->up_50 = r->up_90 = r->up_all = r->held_all = -1;
	while (bench_now_ns() < end && !atomic_load(&rs_interrupted)) {
		int64_t before = bench_now_ns();
		double t;

		if (rs_stats_get(f, &st) != 0) {
			rs_sleep_ms(RS_POLL_MS);
			continue;
		}
		/* the state is at least as new as the start of the call */
		t = rs_ms(before - t0);
		rs_note(&r->answers, true, t);
		rs_note(&r->up_first, st.up >= 1, t);
		rs_note(&r->up_50, st.up * 2 >= f->n, t);
		rs_note(&r->up_90, st.up * 10 >= f->n * 9, t);
		rs_note(&r->up_all, st.up >= f->n, t);
		rs_note(&r->held_all, st.held >= f->n, t);
		if (r->up_all >= 0 && r->held_all >= 0)
			break;
		rs_sleep_ms(RS_POLL_MS);
	}
	r->conn_limit = st.conn_limit;
	if (r->up_all < 0 || r->held_all < 0) {
		fprintf(stderr, "bench_restart: %llu of %zu nodes up, %llu polls held after %d s\n",
			(unsigned long long)st.up, f->n, (unsigned long long)st.held, RS_WAIT_S);
		return -1;
	}
	return 0;
}

/* rs_restart kills the coordinator (SIGKILL), waits down_ms, starts it again
 * on the same data dir and port and measures the recovery. */
static int rs_restart(rs_fleet *f, rs_result *r)
{
	bf_sim_counters c0 = { 0 }, c1 = { 0 };
	bench_samples reg = { 0 };
	uint64_t ov0;
	int64_t t0;
	long off;
	int rc;

	if (f->sim != NULL)
		bf_sim_counters_get(f->sim, &c0);
	ov0 = bf_listen_overflows();
	t0 = bench_now_ns();
	kill(f->c.pid, SIGKILL);
	bf_wait_pid(f->c.pid, 5000);
	f->c.pid = 0;
	rs_sleep_ms((int)f->o->down_ms);
	off = rs_file_size(f->c.log);
	if (rs_coord_spawn(f) != 0)
		return -1;
	rc = rs_watch(f, r, t0);
	r->cpu_s = (double)bf_proc_cpu_ns(f->c.pid) / 1e9;
	r->overflows = bf_listen_overflows() - ov0;
	rs_sleep_ms(500); /* late registers: counted, not timed */
	r->registers = rs_count_from(f->c.log, off, "COORD-NODE-REGISTERED");
	if (f->sim != NULL) {
		bf_sim_counters_get(f->sim, &c1);
		r->sim_retries = c1.reg_retries - c0.reg_retries;
		r->sim_timeouts = c1.timeouts - c0.timeouts;
		bf_sim_reg_since(f->sim, t0, &reg);
		r->sim_p50 = rs_ms(bench_samples_pct(&reg, 50));
		r->sim_p99 = rs_ms(bench_samples_pct(&reg, 99));
		bench_samples_fini(&reg);
	}
	return rc;
}

/* rs_stop sends sig to every pid, then SIGKILL to what is left after 10 s. */
static void rs_stop_all(pid_t *pids, size_t n, int sig)
{
	for (size_t k = 0; k < n; k++)
		if (pids[k] > 0)
			kill(pids[k], sig);
	for (size_t k = 0; k < n; k++) {
		if (pids[k] <= 0)
			continue;
		if (bf_wait_pid(pids[k], 10000) == -2) {
			kill(pids[k], SIGKILL);
			bf_wait_pid(pids[k], 5000);
		}
		pids[k] = 0;
	}
}

/* rs_tail prints the last lines of f's coordinator log to stderr. */
static void rs_tail(const rs_fleet *f)
{
	char cmd[700];

	snprintf(cmd, sizeof(cmd), "tail -n 15 '%s' >&2", f->c.log);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_restart: see %s\n", f->c.log);
}

/* rs_one runs one fleet; stops and removes everything whatever happens. */
static int rs_one(const rs_opts *o, size_t i, rs_result *r)
{
	rs_fleet f = { .o = o, .n = (size_t)o->n[i], .real = o->real[i] };
	int code = -1;

	memset(r, 0, sizeof(*r));
	r->n = o->n[i];
	r->real = o->real[i];
	fprintf(stderr, "bench_restart: %zu %s agents: starting\n", f.n, f.real ? "real" : "simulated");
	if (rs_setup(&f) != 0 || rs_fleet_start(&f) != 0)
		goto out;
	rs_sleep_ms(2000); /* heartbeats running, nothing in flight */
	fprintf(stderr, "bench_restart: %zu agents up: kill -9, restart after %llu ms\n", f.n,
		(unsigned long long)o->down_ms);
	if (rs_restart(&f, r) == 0 && !atomic_load(&rs_interrupted))
		code = 0;
out:
	if (code != 0 && f.c.dir[0] != '\0')
		rs_tail(&f);
	/* the coordinator goes first: the agents' goodbyes are not measured */
	bench_coord_stop(&f.c);
	if (f.agents != NULL)
		rs_stop_all(f.agents, f.n, SIGTERM);
	free(f.agents);
	bf_sim_close(f.sim);
	bench_coord_fini(&f.c, o->keep);
	r->ok = code == 0;
	return code;
}

/* rs_row prints one table row: a label and one formatted value per run. */
static void rs_row(const rs_result *res, size_t nr, const char *label,
	void (*fmt)(const rs_result *x, char *buf, size_t len))
{
	printf("| %-48s |", label);
	for (size_t i = 0; i < nr; i++) {
		char buf[64] = "failed";
		if (res[i].ok)
			fmt(&res[i], buf, sizeof(buf));
		printf(" %18s |", buf);
	}
	printf("\n");
}

#define RS_FMT(name, ...)                                                                  \
	static void name(const rs_result *x, char *b, size_t l)                           \
	{                                                                                  \
		snprintf(b, l, __VA_ARGS__);                                               \
	}
RS_FMT(rs_f_answers, "%.2f s", x->answers / 1000)
RS_FMT(rs_f_first, "%.2f s", x->up_first / 1000)
RS_FMT(rs_f_5090, "%.2f / %.2f s", x->up_50 / 1000, x->up_90 / 1000)
RS_FMT(rs_f_all, "%.2f s", x->up_all / 1000)
RS_FMT(rs_f_held, "%.2f s", x->held_all / 1000)
RS_FMT(rs_f_regs, "%llu", (unsigned long long)x->registers)
RS_FMT(rs_f_ovf, "%llu", (unsigned long long)x->overflows)
RS_FMT(rs_f_limit, "%llu", (unsigned long long)x->conn_limit)
RS_FMT(rs_f_cpu, "%.2f s", x->cpu_s)

static void rs_f_simreg(const rs_result *x, char *b, size_t l)
{
	if (x->real)
		snprintf(b, l, "-");
	else
		snprintf(b, l, "%.2f / %.2f s", x->sim_p50 / 1000, x->sim_p99 / 1000);
}

static void rs_f_simretry(const rs_result *x, char *b, size_t l)
{
	if (x->real)
		snprintf(b, l, "-");
	else
		snprintf(b, l, "%llu / %llu", (unsigned long long)x->sim_retries,
			(unsigned long long)x->sim_timeouts);
}

static void rs_print(const rs_result *res, size_t nr)
{
	printf("| %-48s |", "agents");
	for (size_t i = 0; i < nr; i++) {
		char b[32];
		snprintf(b, sizeof(b), "%llu %s", (unsigned long long)res[i].n,
			res[i].real ? "real" : "simulated");
		printf(" %18s |", b);
	}
	printf("\n|%s|", "--------------------------------------------------");
	for (size_t i = 0; i < nr; i++)
		printf("%s|", "-------------------:");
	printf("\n");
	rs_row(res, nr, "restarted coordinator answers `ospecctl`", rs_f_answers);
	rs_row(res, nr, "first node up", rs_f_first);
	rs_row(res, nr, "half / 90 % of the nodes up", rs_f_5090);
	rs_row(res, nr, "**every node up** (re-registered)", rs_f_all);
	rs_row(res, nr, "every poll held again", rs_f_held);
	rs_row(res, nr, "registers after the restart", rs_f_regs);
	rs_row(res, nr, "  simulated: re-register time p50 / p99", rs_f_simreg);
	rs_row(res, nr, "  simulated: register retries / timeouts", rs_f_simretry);
	rs_row(res, nr, "accept-queue overflows meanwhile (host)", rs_f_ovf);
	rs_row(res, nr, "connections refused: too many unregistered", rs_f_limit);
	rs_row(res, nr, "coordinator CPU until every poll held", rs_f_cpu);
}

static int rs_usage(FILE *f)
{
	fprintf(f,
		"usage: bench_restart [--real N[,N...]] [--sim N[,N...]] [--down-ms MS]\n"
		"                     [--heartbeat-ms MS] [--keep]\n"
		"  --real LIST       real ospec-agent processes per run (200; 1..%d)\n"
		"  --sim LIST        simulated agents per run, in this process (1000,2000)\n"
		"  --down-ms MS      time between the SIGKILL and the restart (0)\n"
		"  --heartbeat-ms MS the coordinator's --heartbeat (5000, its default)\n"
		"  --keep            keep each run's temp dir (every log)\n"
		"  binaries: $OSPEC_COORDINATOR_BIN, $OSPECCTL_BIN, $OSPEC_AGENT_BIN, else %s\n",
		RS_MAX_REAL, OSPEC_BINARY_DIR);
	return f == stdout ? 0 : 2;
}

/* rs_parse_list appends the comma-separated counts of s as runs. */
static int rs_parse_list(const char *s, bool real, rs_opts *o)
{
	char buf[256];
	char *p = buf;

	if (osp_strlcpy(buf, s, sizeof(buf)) >= sizeof(buf))
		return -1;
	while (*p != '\0') {
		char *comma = strchr(p, ',');
		uint64_t v;
		if (comma != NULL)
			*comma = '\0';
		if (bench_arg_u64(p, &v) != 0 || v == 0 || v > (real ? RS_MAX_REAL : 20000) ||
			o->nruns >= RS_MAX_RUNS)
			return -1;
		o->real[o->nruns] = real;
		o->n[o->nruns++] = v;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	return 0;
}

static int rs_parse(int argc, char **argv, rs_opts *o)
{
	bool lists = false;

	for (int i = 1; i < argc; i += 2) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return rs_usage(stdout) + 100;
		if (strcmp(argv[i], "--keep") == 0) {
			o->keep = true;
			i--;
			continue;
		}
		if (v == NULL)
			return rs_usage(stderr);
		if (strcmp(argv[i], "--real") == 0 || strcmp(argv[i], "--sim") == 0) {
			if (!lists)
				o->nruns = 0; /* the first list replaces the default runs */
			lists = true;
			if (rs_parse_list(v, strcmp(argv[i], "--real") == 0, o) != 0)
				return rs_usage(stderr);
		} else if (strcmp(argv[i], "--down-ms") == 0) {
			if (bench_arg_u64(v, &o->down_ms) != 0 || o->down_ms > 60000)
				return rs_usage(stderr);
		} else if (strcmp(argv[i], "--heartbeat-ms") == 0) {
			if (bench_arg_u64(v, &o->hb_ms) != 0 || o->hb_ms < 100 || o->hb_ms > 60000)
				return rs_usage(stderr);
		} else {
			return rs_usage(stderr);
		}
	}
	return 0;
}

/* rs_bin fills out with $env or the build tree's path; -1 if not there. */
static int rs_bin(char *out, size_t len, const char *env, const char *dflt)
{
	if (bench_coord_bin(out, len, env, dflt) != 0) {
		fprintf(stderr, "bench_restart: '%s' is missing: build it first\n", out);
		return -1;
	}
	return 0;
}

/* rs_raise_nofile lifts the descriptor limit for the largest run. */
static void rs_raise_nofile(const rs_opts *o)
{
	uint64_t max = 0;

	for (size_t i = 0; i < o->nruns; i++)
		max = o->n[i] > max ? o->n[i] : max;
	bench_nofile_for("bench_restart", max);
}

int main(int argc, char **argv)
{
	static rs_opts o = { .n = { 200, 1000, 2000 }, .real = { true, false, false }, .nruns = 3,
		.hb_ms = 5000 };
	rs_result res[RS_MAX_RUNS];
	struct sigaction sa;
	size_t ran = 0;
	int rc, code = 0;

	if ((rc = rs_parse(argc, argv, &o)) != 0)
		return rc >= 100 ? 0 : rc;
	if (rs_bin(o.coord_bin, sizeof(o.coord_bin), "OSPEC_COORDINATOR_BIN",
		    OSPEC_BINARY_DIR "/coordinator/ospec-coordinator") != 0 ||
		rs_bin(o.ctl_bin, sizeof(o.ctl_bin), "OSPECCTL_BIN",
			OSPEC_BINARY_DIR "/coordinator/ospecctl") != 0 ||
		rs_bin(o.agent_bin, sizeof(o.agent_bin), "OSPEC_AGENT_BIN",
			OSPEC_BINARY_DIR "/node-agent/ospec-agent") != 0)
		return 1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = rs_on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	rs_raise_nofile(&o);
	for (size_t i = 0; i < o.nruns && !atomic_load(&rs_interrupted); i++, ran++)
		if (rs_one(&o, i, &res[i]) != 0)
			code = 1;
	bench_header(argc, argv);
	printf("# a real ospec-coordinator (--heartbeat %llums, synced LMDB) and N agents on\n"
	       "# loopback, all registered and polling; then kill -9, %llu ms down, a restart on\n"
	       "# the same data dir and port. Times from the SIGKILL, read with ospecctl every\n"
	       "# %d ms.\n\n",
		(unsigned long long)o.hb_ms, (unsigned long long)o.down_ms, RS_POLL_MS);
	rs_print(res, ran);
	nng_fini();
	return code;
}
