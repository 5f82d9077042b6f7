/*
 * bench_scale.c - issue 14 ("Scale"): a fleet-wide blue-green flip, the
 * register storm, a rolling deploy's coordinator CPU per node and the
 * coordinator's memory, at N simulated agents (bench_scale_fleet.c); the
 * memory of one real ospec-agent idle and during a deploy
 * (bench_scale_agent.c).
 *
 *   bench_scale [--agents 100,1000] [--heartbeat-ms MS] [--rolling-batch B]
 *               [--no-fleet] [--no-agent] [--keep]
 *
 * Prints two Markdown tables, the command line first. Every process it
 * starts is stopped and every temp dir removed, on failure and Ctrl-C too.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>

#include "bench_coord.h"
#include "bench_scale.h"
#include "ospec/util.h"

atomic_bool bs_interrupted;

static void bs_on_signal(int sig)
{
	(void)sig;
	atomic_store(&bs_interrupted, true);
}

void bs_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !atomic_load(&bs_interrupted))
		;
}

int bs_mem_read(pid_t pid, bs_mem *m)
{
	memset(m, 0, sizeof(*m));
	if (pid <= 0 || bench_proc_kb(pid, "status", "VmRSS", &m->rss) != 0)
		return -1;
	bench_proc_kb(pid, "status", "RssAnon", &m->anon);
	bench_proc_kb(pid, "smaps_rollup", "Pss", &m->pss);
	bench_proc_kb(pid, "smaps_rollup", "Pss_Anon", &m->pss_anon);
	return 0;
}

void bs_mem_max(bs_mem *peak, const bs_mem *m)
{
	peak->rss = m->rss > peak->rss ? m->rss : peak->rss;
	peak->anon = m->anon > peak->anon ? m->anon : peak->anon;
	peak->pss = m->pss > peak->pss ? m->pss : peak->pss;
	peak->pss_anon = m->pss_anon > peak->pss_anon ? m->pss_anon : peak->pss_anon;
}

/* ------------------------------------------------------------ tables */

/* The rows of the fleet table, in order. */
enum {
	BS_R_DONE, BS_R_REG_ALL, BS_R_REG_PCT, BS_R_REG_RETRY, BS_R_HELD, BS_R_ROLL_ALL,
	BS_R_ROLL_CPU, BS_R_BG_STAGED, BS_R_BG_PREPARE, BS_R_DEC_RX, BS_R_DEC_ACK, BS_R_RX_ACK,
	BS_R_SKEW_ACK, BS_R_SKEW_RX, BS_R_SKEW_COORD, BS_R_DEC_ACKED, BS_R_BG_ALL, BS_R_BG_CPU,
	BS_R_SCALE, BS_R_MEM_IDLE, BS_R_MEM_N, BS_R_MEM_PEAK, BS_R_MEM_END, BS_R_ERR, BS_R_UP,
	BS_R_N
};

static const char *const bs_labels[BS_R_N] = {
	"run completed",
	"register storm: all registered",
	"  register time p50 / p99",
	"  register retries (5 s timeout, back-off)",
	"  every poll held (from the first dial)",
	"rolling deploy: last result acknowledged",
	"  coordinator CPU meanwhile (per node)",
	"blue-green deploy: every node staged",
	"  first SwitchPrepare -> decision",
	"  decision -> SwitchDecision at first / last",
	"  **decision -> commit acked p50 / p99 / max**",
	"  first SwitchDecision -> acked p50 / p99 / max",
	"  **skew: first to last commit acked**",
	"  skew: first to last SwitchDecision arrived",
	"  skew, the coordinator's (`status`)",
	"  commits acked / answers not OK",
	"  deploy -> last commit acked",
	"  coordinator CPU, whole deploy (per node)",
	"  ScaleDown acked (" "2 s after the switch)",
	"coordinator VmRSS / RssAnon, idle",
	"  with N agents registered",
	"  peak (read every 10 ms)",
	"  at the end (VmHWM)",
	"agent-side errors / timeouts",
	"nodes up at the end",
};

static double bs_mib(uint64_t kb)
{
	return (double)kb / 1024.0;
}

/* bs_cell formats row k of run x into b. */
static void bs_cell(const bs_fleet_res *x, int k, char *b, size_t l)
{
	double n = x->n > 0 ? (double)x->n : 1;

	/* a run that did not get to the switch has nothing to show there */
	if ((k >= BS_R_BG_STAGED && k <= BS_R_SCALE && k != BS_R_DEC_ACKED && x->dec_acked == 0) ||
		((k == BS_R_ROLL_ALL || k == BS_R_ROLL_CPU) && x->roll_acked == 0)) {
		snprintf(b, l, "-");
		return;
	}
	switch (k) {
	case BS_R_DONE:
		snprintf(b, l, "%s", x->ok ? "yes" : "**no** (stderr)");
		break;
	case BS_R_REG_ALL:
		snprintf(b, l, "%.2f s", x->reg_all / 1000);
		break;
	case BS_R_REG_PCT:
		snprintf(b, l, "%.0f / %.0f ms", x->reg_p50, x->reg_p99);
		break;
	case BS_R_REG_RETRY:
		snprintf(b, l, "%llu", (unsigned long long)x->reg_retries);
		break;
	case BS_R_HELD:
		snprintf(b, l, "%.2f s", x->held_all / 1000);
		break;
	case BS_R_ROLL_ALL:
		snprintf(b, l, "%.2f s (%zu)", x->roll_all / 1000, x->roll_acked);
		break;
	case BS_R_ROLL_CPU:
		snprintf(b, l, "%.2f s (%.2f ms)", x->roll_cpu, x->roll_cpu * 1000 / n);
		break;
	case BS_R_BG_STAGED:
		snprintf(b, l, "%.2f s", x->bg_staged / 1000);
		break;
	case BS_R_BG_PREPARE:
		snprintf(b, l, "%.0f ms", x->bg_prepare);
		break;
	case BS_R_DEC_RX:
		snprintf(b, l, "%.0f / %.0f ms", x->dec_rx_first, x->dec_rx_all);
		break;
	case BS_R_DEC_ACK:
		snprintf(b, l, "%.0f / %.0f / %.0f ms", x->dec_p50, x->dec_p99, x->dec_max);
		break;
	case BS_R_RX_ACK:
		snprintf(b, l, "%.0f / %.0f / %.0f ms", x->rx_p50, x->rx_p99, x->rx_max);
		break;
	case BS_R_SKEW_ACK:
		snprintf(b, l, "%.0f ms", x->skew_ack);
		break;
	case BS_R_SKEW_RX:
		snprintf(b, l, "%.0f ms", x->skew_rx);
		break;
	case BS_R_SKEW_COORD:
		snprintf(b, l, "%.0f ms", x->skew_coord);
		break;
	case BS_R_DEC_ACKED:
		snprintf(b, l, "%zu / %llu", x->dec_acked, (unsigned long long)x->refused);
		break;
	case BS_R_BG_ALL:
		snprintf(b, l, "%.2f s", x->bg_all / 1000);
		break;
	case BS_R_BG_CPU:
		snprintf(b, l, "%.2f s (%.2f ms)", x->bg_cpu, x->bg_cpu * 1000 / n);
		break;
	case BS_R_SCALE:
		snprintf(b, l, "%zu", x->scale_acked);
		break;
	case BS_R_MEM_IDLE:
	case BS_R_MEM_N:
	case BS_R_MEM_PEAK: {
		const bs_mem *m = k == BS_R_MEM_IDLE ? &x->idle : k == BS_R_MEM_N ? &x->with_n
										  : &x->peak;
		snprintf(b, l, "%.1f / %.1f MiB", bs_mib(m->rss), bs_mib(m->anon));
		break;
	}
	case BS_R_MEM_END:
		snprintf(b, l, "%.1f / %.1f MiB (%.1f)", bs_mib(x->end.rss), bs_mib(x->end.anon),
			bs_mib(x->hwm));
		break;
	case BS_R_ERR:
		snprintf(b, l, "%llu / %llu", (unsigned long long)x->errors,
			(unsigned long long)x->timeouts);
		break;
	default:
		if (x->nodes_up >= 0)
			snprintf(b, l, "%lld", (long long)x->nodes_up);
		else
			snprintf(b, l, "? (no answer)");
		break;
	}
}

static void bs_print_fleet(const bs_fleet_res *res, size_t nr)
{
	uint64_t cols[BS_MAX_RUNS];
	char b[64];

	for (size_t i = 0; i < nr; i++)
		cols[i] = res[i].n;
	bench_table_head("agents (simulated, one process)", 48, cols, nr, 22);
	for (int k = 0; k < BS_R_N; k++) {
		printf("| %-48s |", bs_labels[k]);
		for (size_t i = 0; i < nr; i++) {
			bs_cell(&res[i], k, b, sizeof(b));
			printf(" %22s |", b);
		}
		printf("\n");
	}
}

static void bs_print_mem_row(const char *label, const bs_mem *m)
{
	printf("| %-44s | %8.2f MiB | %8.2f MiB | %8.2f MiB | %8.2f MiB |\n", label, bs_mib(m->rss),
		bs_mib(m->anon), bs_mib(m->pss), bs_mib(m->pss_anon));
}

static void bs_print_agent(const bs_agent_res *r)
{
	char peak[96];

	if (!r->ok) {
		printf("(the real agent's run failed: see stderr)\n");
		return;
	}
	snprintf(peak, sizeof(peak), "during `deploy` of hello 2 (peak of %llu)",
		(unsigned long long)r->samples);
	printf("| %-44s | %12s | %12s | %12s | %12s |\n", "one real ospec-agent, app `hello`",
		"VmRSS", "RssAnon", "Pss", "Pss_Anon");
	printf("|----------------------------------------------|-------------:|-------------:|"
	       "-------------:|-------------:|\n");
	bs_print_mem_row("registered, no app", &r->no_app);
	bs_print_mem_row("idle, hello 1 running", &r->idle);
	bs_print_mem_row(peak, &r->deploy_peak);
	bs_print_mem_row("idle after it, hello 2 running", &r->after);
	printf("\n`deploy --wait` of hello 2: %.0f ms, read every %.1f ms. The agent's VmHWM "
	       "(peak RSS since it started): %.2f MiB. The coordinator with this one node: "
	       "VmRSS %.1f MiB, RssAnon %.1f MiB.\n",
		r->deploy_ms, r->samples > 0 ? r->deploy_ms / (double)r->samples : 0,
		bs_mib(r->hwm), bs_mib(r->coord.rss), bs_mib(r->coord.anon));
}

/* ------------------------------------------------------------- flags */

static int bs_usage(FILE *f)
{
	fprintf(f,
		"usage: bench_scale [--agents N[,N...]] [--heartbeat-ms MS] [--rolling-batch B]\n"
		"                   [--no-fleet] [--no-agent] [--keep]\n"
		"  --agents LIST       simulated agents per run (100,1000; the issue's sizes:\n"
		"                      100,1000,2000,5000)\n"
		"  --heartbeat-ms MS   the coordinator's --heartbeat (5000, its default)\n"
		"  --rolling-batch B   the rolling deploy's --batch (10%%)\n"
		"  --no-fleet          skip the simulated fleet\n"
		"  --no-agent          skip the real ospec-agent's memory\n"
		"  --keep              keep each run's temp dir (logs)\n"
		"  binaries: $OSPEC_COORDINATOR_BIN, $OSPECCTL_BIN, $OSPEC_AGENT_BIN,\n"
		"  $OSPEC_HELLO_BIN, $OSPEC_HELLO_PACK, else under %s\n",
		OSPEC_BINARY_DIR);
	return f == stdout ? 0 : 2;
}

static int bs_parse(int argc, char **argv, bs_opts *o)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
			return bs_usage(stdout) + 100;
		if (strcmp(a, "--no-fleet") == 0 || strcmp(a, "--no-agent") == 0 ||
			strcmp(a, "--keep") == 0) {
			o->fleet = o->fleet && strcmp(a, "--no-fleet") != 0;
			o->agent = o->agent && strcmp(a, "--no-agent") != 0;
			o->keep = o->keep || strcmp(a, "--keep") == 0;
			continue;
		}
		if (v == NULL)
			return bs_usage(stderr);
		i++;
		if (strcmp(a, "--agents") == 0 &&
			bench_arg_list(v, 1, 9000, o->agents, BS_MAX_RUNS, &o->nruns) == 0)
			continue;
		if (strcmp(a, "--heartbeat-ms") == 0 && bench_arg_u64(v, &o->heartbeat_ms) == 0 &&
			o->heartbeat_ms >= 100 && o->heartbeat_ms <= 60000)
			continue;
		if (strcmp(a, "--rolling-batch") == 0 && v[0] != '\0') {
			o->roll_batch = v;
			continue;
		}
		return bs_usage(stderr);
	}
	return 0;
}

/* bs_bins finds the binaries the parts that run need. */
static int bs_bins(bs_opts *o)
{
	struct {
		char *out;
		const char *env, *def;
		bool need;
	} b[] = {
		{ o->coord, "OSPEC_COORDINATOR_BIN", OSPEC_BINARY_DIR "/coordinator/ospec-coordinator",
			true },
		{ o->ctl, "OSPECCTL_BIN", OSPEC_BINARY_DIR "/coordinator/ospecctl", true },
		{ o->agent_bin, "OSPEC_AGENT_BIN", OSPEC_BINARY_DIR "/node-agent/ospec-agent",
			o->agent },
		{ o->hello, "OSPEC_HELLO_BIN", OSPEC_BINARY_DIR "/deploy/examples/hello/hello",
			o->agent },
	};

	for (size_t i = 0; i < sizeof(b) / sizeof(b[0]); i++) {
		if (bench_coord_bin(b[i].out, 600, b[i].env, b[i].def) != 0 && b[i].need) {
			fprintf(stderr, "bench_scale: '%s' is missing: build it (or set $%s)\n",
				b[i].out, b[i].env);
			return -1;
		}
	}
	snprintf(o->pack, sizeof(o->pack), "%s",
		getenv("OSPEC_HELLO_PACK") ? getenv("OSPEC_HELLO_PACK")
					   : OSPEC_SOURCE_DIR "/deploy/examples/hello/pack.sh");
	if (o->agent && access(o->pack, R_OK) != 0) {
		fprintf(stderr, "bench_scale: '%s' is missing (or set $OSPEC_HELLO_PACK)\n", o->pack);
		return -1;
	}
	return 0;
}

/* bs_nofile raises RLIMIT_NOFILE: each simulated agent is a socket here
 * and one in the coordinator (which inherits the limit). */
static void bs_nofile(const bs_opts *o)
{
	uint64_t most = 0, lim = bench_raise_nofile();

	for (size_t i = 0; o->fleet && i < o->nruns; i++)
		most = o->agents[i] > most ? o->agents[i] : most;
	if (lim < 2 * most + 256)
		fprintf(stderr, "bench_scale: %llu file descriptors for %llu agents may be too few\n",
			(unsigned long long)lim, (unsigned long long)most);
}

int main(int argc, char **argv)
{
	static bs_opts o = { .agents = { 100, 1000 }, .nruns = 2, .heartbeat_ms = 5000,
		.roll_batch = "10%", .fleet = true, .agent = true };
	static bs_fleet_res res[BS_MAX_RUNS];
	bs_agent_res ar = { 0 };
	size_t ran = 0;
	int rc, code = 0;

	if ((rc = bs_parse(argc, argv, &o)) != 0)
		return rc >= 100 ? 0 : rc;
	if (bs_bins(&o) != 0)
		return 1;
	bench_signals(bs_on_signal);
	bs_nofile(&o);
	for (size_t i = 0; o.fleet && i < o.nruns && !atomic_load(&bs_interrupted); i++, ran++)
		if (bs_fleet_one(&o, o.agents[i], &res[i]) != 0)
			code = 1;
	if (o.agent && !atomic_load(&bs_interrupted) && bs_agent_run(&o, &ar) != 0)
		code = 1;
	bench_header(argc, argv);
	if (o.fleet) {
		printf("# a real ospec-coordinator (--heartbeat %llums, synced LMDB on %s) and N\n"
		       "# simulated agents in one process on loopback, sharing the cores. rolling:\n"
		       "# --batch %s; blue-green: release 2 with --batch 100%%, --watch 0,\n"
		       "# --prepare-deadline 10m. decision = the switch's `decided` (coordinator,\n"
		       "# ms); acked = the agent got the Ack of its SwitchDecision result (the\n"
		       "# simulated agent applies it at once)\n\n",
			(unsigned long long)o.heartbeat_ms,
			bench_fs_type(getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp"), o.roll_batch);
		bs_print_fleet(res, ran);
	}
	if (o.agent && !atomic_load(&bs_interrupted)) {
		printf("%s# one real ospec-agent (--heartbeat 1s coordinator), app hello on one port,\n"
		       "# rolling deploys with --wait; /proc/PID/status and smaps_rollup (Pss\n"
		       "# counts shared pages in part: it depends on what else maps the libraries)\n\n",
			o.fleet ? "\n" : "");
		bs_print_agent(&ar);
	}
	nng_fini();
	return code;
}
