/*
 * bench_canary.c - the fleet-wide canary weight change with real processes:
 * one ospec-coordinator, one haproxy holding a backend app_k per node
 * (servers blue and green), N ospec-agent processes each driving its own
 * backend, and the sample app `hello` that the agents start.
 *
 *   bench_canary [--agents 10,40] [--health-rise N] [--keep]
 *
 * For each N: release 1 goes out blue-green, then a canary of release 2
 * (--canary-initial 10). A thread asks haproxy for `show servers state`
 * every millisecond and notes, per backend, the first answer in which green
 * serves at weight 10 and blue at 90. The DECISION is the coordinator's
 * `canary.weight` event (its `ts`: wall clock, ms, same machine). Then
 * `ospecctl abort` and the same for the reset: the `canary.reset` event to
 * green back in maintenance and both servers at their configured weight.
 * Everything started is killed and the temp dir removed, on failure too.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "bench_canary.h"
#include "bench_coord.h"
#include "bench_fleet.h"
#include "ospec/json.h"
#include "ospec/util.h"

#ifndef OSPEC_BINARY_DIR
#define OSPEC_BINARY_DIR "build"
#endif
#ifndef OSPEC_SOURCE_DIR
#define OSPEC_SOURCE_DIR "."
#endif

#define BC_MAX_RUNS 8

typedef struct bc_opts {
	uint64_t agents[BC_MAX_RUNS];
	size_t nruns;
	bool keep;
	char rise[16]; /* --health-rise of both deploys; "" = ospecctl's default */
	char coord[600], ctl[600], agent[600], hello[600], pack[600];
} bc_opts;

/* One measured change (the weight or the reset); times in ms from the
 * decision. */
typedef struct bc_change {
	size_t applied, acked;   /* backends seen at the target, results recorded */
	double p50, p99, max;    /* -> this backend's servers at the target */
	double ack_p50, ack_max; /* -> the node's command.result event */
	double all_acked;        /* -> canary.baking / the rollout's end */
} bc_change;

typedef struct bc_result {
	uint64_t n;
	bool ok;
	bc_change ch[BC_T_N];
	double abort_to_reset, abort_ms, poll_ms;
	uint64_t rss, anon; /* the coordinator's, KiB, at the end */
} bc_result;

/* One run's processes, ports and files. */
typedef struct bc_fleet {
	const bc_opts *o;
	size_t n;
	bench_coord c; /* the coordinator, the temp dir and ospecctl */
	char hacfg[620], halog[620];
	pid_t haproxy, agents[BC_MAX_AGENTS];
	int port[2 * BC_MAX_AGENTS]; /* blue/green per node */
	char art[3][700], sha[3][65], id[64];
	pthread_t thr;
	bool watching;
	bc_watch w;
} bc_fleet;

#define BC_BLUE(f, k) ((f)->port[2 * (k)])
#define BC_GREEN(f, k) ((f)->port[1 + 2 * (k)])

static atomic_bool bc_interrupted;

static void bc_on_signal(int sig)
{
	(void)sig;
	atomic_store(&bc_interrupted, true);
}

void bc_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !atomic_load(&bc_interrupted))
		;
}

/* bc_json runs ospecctl --json VERB [ARGS] (up to 4) and parses the output;
 * NULL if it failed. The caller frees. */
static osp_json *bc_json(bc_fleet *f, const char *verb, const char *a1, const char *a2,
	const char *a3, const char *a4)
{
	const char *const args[] = { verb, a1, a2, a3, a4, NULL };

	return bench_coord_json(&f->c, 30000, args);
}

/* The conditions bc_wait waits for. */
enum { BC_W_HAPROXY, BC_W_AGENTS, BC_W_WEIGHT, BC_W_RESET, BC_W_BAKING, BC_W_END };

/* bc_has_event: the rollout's history holds an event whose kind starts with
 * prefix. */
static bool bc_has_event(bc_fleet *f, const char *prefix)
{
	osp_json *j = bc_json(f, "history", "--rollout", f->id, NULL, NULL);
	const osp_json *ev = j != NULL ? osp_json_get(j, "events") : NULL;
	bool found = false;

	for (size_t i = 0; ev != NULL && i < ev->n && !found; i++) {
		const char *k = osp_json_get_str(ev->items[i], "kind");
		found = k != NULL && strncmp(k, prefix, strlen(prefix)) == 0 &&
			strcmp(k, "rollout.abort_requested") != 0;
	}
	osp_json_free(j);
	return found;
}

static bool bc_check(bc_fleet *f, int what)
{
	char buf[256];
	osp_json *j;
	size_t up = 0;
	bool ok;

	switch (what) {
	case BC_W_HAPROXY:
		return bc_haproxy(f->w.sock, "show info\n", buf, sizeof(buf)) == 0 &&
			strstr(buf, "Pid:") != NULL;
	case BC_W_AGENTS:
		j = bc_json(f, "nodes", NULL, NULL, NULL, NULL);
		for (size_t i = 0; j != NULL && i < j->n; i++) {
			const char *s = osp_json_get_str(j->items[i], "state");
			up += s != NULL && strcmp(s, "up") == 0;
		}
		ok = j != NULL && up == f->n;
		osp_json_free(j);
		return ok;
	case BC_W_WEIGHT:
		return atomic_load(&f->w.done[BC_T_WEIGHT]) == f->n;
	case BC_W_RESET:
		return atomic_load(&f->w.done[BC_T_RESET]) == f->n;
	case BC_W_BAKING:
		return bc_has_event(f, "canary.baking");
	default:
		return bc_has_event(f, "rollout.");
	}
}

/* bc_wait checks `what` every step_ms until it holds or timeout_ms passed. */
static bool bc_wait(bc_fleet *f, int what, int timeout_ms, int step_ms)
{
	int64_t end = bench_now_ns() + (int64_t)timeout_ms * 1000000;

	while (!atomic_load(&bc_interrupted)) {
		if (bc_check(f, what))
			return true;
		if (bench_now_ns() >= end)
			return false;
		bc_sleep_ms(step_ms);
	}
	return false;
}

/* bc_ports hands out distinct free loopback ports; 0 or -1. */
static int bc_ports(bc_fleet *f)
{
	size_t total = 2 * f->n;

	for (size_t i = 0; i < total; i++) {
		bool dup = true;
		for (int tries = 0; tries < 100 && dup; tries++) {
			f->port[i] = bf_free_port();
			dup = f->port[i] == 0;
			for (size_t j = 0; j < i && !dup; j++)
				dup = f->port[j] == f->port[i];
		}
		if (dup)
			return -1;
	}
	return 0;
}

/* bc_haproxy_start writes the config (a backend app_k per node, blue on,
 * green disabled) and starts haproxy on it. */
static int bc_haproxy_start(bc_fleet *f)
{
	size_t cap = 512 + f->n * 160, o;
	char *cfg = malloc(cap);
	int rc = -1;

	if (cfg == NULL)
		return -1;
	o = (size_t)snprintf(cfg, cap,
		"global\n  stats socket %s mode 600 level admin\n  maxconn 2000\n"
		"defaults\n  mode http\n  timeout connect 2s\n  timeout client 10s\n"
		"  timeout server 10s\n",
		f->w.sock);
	for (size_t k = 0; k < f->n && o < cap; k++)
		o += (size_t)snprintf(cfg + o, cap - o,
			"backend app_%zu\n  server blue 127.0.0.1:%d\n"
			"  server green 127.0.0.1:%d disabled\n",
			k + 1, BC_BLUE(f, k), BC_GREEN(f, k));
	if (o < cap && osp_file_write_atomic(f->hacfg, cfg, o, 0644) == OSP_OK) {
		char *argv[] = { "/usr/sbin/haproxy", "-db", "-f", f->hacfg, NULL };
		f->haproxy = bf_spawn(argv, f->halog, f->halog);
		rc = f->haproxy > 0 && bc_wait(f, BC_W_HAPROXY, 10000, 20) ? 0 : -1;
	}
	free(cfg);
	if (rc != 0)
		fprintf(stderr, "bench_canary: haproxy did not answer on %s; log: %s\n", f->w.sock,
			f->halog);
	return rc;
}

/* bc_agent_start writes agent k's config and starts it. */
static int bc_agent_start(bc_fleet *f, size_t k)
{
	char cfg[640], state[640], log[640], id[16], body[2048];
	int len;

	snprintf(id, sizeof(id), "a%03zu", k + 1);
	snprintf(cfg, sizeof(cfg), "%s/agent-%s.yaml", f->c.dir, id);
	snprintf(state, sizeof(state), "%s/agent-%s", f->c.dir, id);
	snprintf(log, sizeof(log), "%s/agent-%s.log", f->c.dir, id);
	len = snprintf(body, sizeof(body),
		"apps:\n  hello:\n    ports: {blue: %d, green: %d}\n    proxy:\n"
		"      driver: haproxy\n      socket: %s\n      backend: app_%zu\n"
		"      servers: {blue: blue, green: green}\n",
		BC_BLUE(f, k), BC_GREEN(f, k), f->w.sock, k + 1);
	if (len < 0 || (size_t)len >= sizeof(body) ||
		osp_file_write_atomic(cfg, body, (size_t)len, 0644) != OSP_OK)
		return -1;
	char *argv[] = { (char *)f->o->agent, "--id", id, "--coordinator", f->c.url, "--state",
		state, "--label", "role=web", "-c", cfg, NULL };
	f->agents[k] = bf_spawn(argv, log, log);
	return f->agents[k] > 0 ? 0 : -1;
}

/* bc_start: the coordinator and its temp dir (bench_coord.h), ports,
 * haproxy, N agents all up. */
static int bc_start(bc_fleet *f)
{
	static const char *const extra[] = { "--heartbeat", "1s", NULL };

	f->c.prog = "bench_canary";
	f->c.coord_bin = f->o->coord;
	f->c.ctl_bin = f->o->ctl;
	if (bench_coord_start(&f->c, "canary", extra) != 0)
		return -1;
	if (bc_ports(f) != 0) {
		fprintf(stderr, "bench_canary: cannot find free ports\n");
		return -1;
	}
	snprintf(f->w.sock, sizeof(f->w.sock), "%s/haproxy.sock", f->c.dir);
	snprintf(f->hacfg, sizeof(f->hacfg), "%s/haproxy.cfg", f->c.dir);
	snprintf(f->halog, sizeof(f->halog), "%s/haproxy.log", f->c.dir);
	if (bc_haproxy_start(f) != 0)
		return -1;
	for (size_t k = 0; k < f->n; k++)
		if (bc_agent_start(f, k) != 0) {
			fprintf(stderr, "bench_canary: cannot start agent %zu\n", k + 1);
			return -1;
		}
	if (!bc_wait(f, BC_W_AGENTS, 60000, 200)) {
		fprintf(stderr, "bench_canary: not all %zu agents came up in 60 s; logs in %s\n",
			f->n, f->c.dir);
		return -1;
	}
	return 0;
}

/* bc_artifact packs hello as version v (deploy/examples/hello/pack.sh). */
static int bc_artifact(bc_fleet *f, int v)
{
	char ver[8], stage[640], out[640], shafile[660], *data = NULL;
	size_t len;
	bf_run_result res;

	snprintf(ver, sizeof(ver), "%d", v);
	snprintf(stage, sizeof(stage), "%s/art/stage-%d", f->c.dir, v);
	snprintf(out, sizeof(out), "%s/art/hello-%d.tar.gz", f->c.dir, v);
	snprintf(shafile, sizeof(shafile), "%s.sha256", out);
	char *argv[] = { "/bin/sh", (char *)f->o->pack, (char *)f->o->hello, ver, stage, out,
		NULL };
	if (bf_run(argv, f->c.ctlerr, 30000, false, &res) != 0 || res.status != 0 ||
		osp_file_read(shafile, 128, &data, &len) != OSP_OK || len < 64) {
		fprintf(stderr, "bench_canary: %s failed; see %s\n", f->o->pack, f->c.ctlerr);
		free(data);
		return -1;
	}
	snprintf(f->sha[v], sizeof(f->sha[v]), "%.64s", data);
	free(data);
	snprintf(f->art[v], sizeof(f->art[v]), "file://%s", out);
	return 0;
}

/* bc_deploy runs ospecctl deploy of version v: blue-green with --wait, or
 * the canary (its id kept in f->id). */
static int bc_deploy(bc_fleet *f, int v, bool canary)
{
	static const char *const bg[] = { "blue_green", "--wait", NULL };
	static const char *const cn[] = { "canary", "--canary-initial", "10", "--canary-step",
		"40", "--canary-max", "50", "--analysis-interval", "20s",
		"--analysis-min-requests", "1", NULL };
	char ver[8], ports[64];
	const char *a[48] = { "deploy", "--app", "hello", "--version", ver, "--artifact",
		f->art[v], "--sha256", f->sha[v], "--run", "bin/hello --port {port}", "--port",
		"8080", "--ports", ports, "--batch", "100%", "--watch", "0", "--strategy" };
	size_t n = 20;
	bf_run_result res;
	int st;

	snprintf(ver, sizeof(ver), "%d", v);
	snprintf(ports, sizeof(ports), "blue=%d,green=%d", BC_BLUE(f, 0), BC_GREEN(f, 0));
	for (const char *const *x = canary ? cn : bg; *x != NULL; x++)
		a[n++] = *x;
	if (f->o->rise[0] != '\0') {
		a[n++] = "--health-rise";
		a[n++] = f->o->rise;
	}
	st = bench_coord_ctl(&f->c, 300000, &res, a);
	if (st == 0 && canary && res.out != NULL)
		sscanf(res.out, "%63s", f->id);
	free(res.out);
	if (st != 0 || (canary && f->id[0] == '\0')) {
		fprintf(stderr, "bench_canary: deploy %d (%s) exited %d; see %s\n", v,
			canary ? "canary" : "blue_green", st, f->c.ctlerr);
		return -1;
	}
	return 0;
}

/* bc_ts_us reads a history time "YYYY-MM-DDTHH:MM:SS.mmmZ" (wall us). */
static int64_t bc_ts_us(const char *s)
{
	struct tm tm = { 0 };
	int ms = 0;
	const char *rest = s != NULL ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;

	if (rest == NULL || sscanf(rest, ".%3dZ", &ms) != 1)
		return -1;
	return ((int64_t)timegm(&tm) * 1000 + ms) * 1000;
}

/* bc_fill computes one change's numbers from its decision and the
 * per-node applied and acked times (wall us, 0: never). */
static void bc_fill(bc_change *c, int64_t dec, const int64_t *seen, const int64_t *ack,
	size_t n, int64_t all)
{
	bench_samples s = { 0 }, a = { 0 };

	for (size_t k = 0; k < n; k++) {
		if (seen[k] != 0 && bench_samples_add(&s, seen[k] - dec) == 0)
			c->applied++;
		if (ack[k] != 0 && bench_samples_add(&a, ack[k] - dec) == 0)
			c->acked++;
	}
	c->p50 = (double)bench_samples_pct(&s, 50) / 1e3;
	c->p99 = (double)bench_samples_pct(&s, 99) / 1e3;
	c->max = (double)bench_samples_pct(&s, 100) / 1e3;
	c->ack_p50 = (double)bench_samples_pct(&a, 50) / 1e3;
	c->ack_max = (double)bench_samples_pct(&a, 100) / 1e3;
	c->all_acked = all > 0 ? (double)(all - dec) / 1e3 : -1;
	bench_samples_fini(&s);
	bench_samples_fini(&a);
}

/* bc_history reads the rollout's events oldest first: the decisions
 * (canary.weight, canary.reset), each node's first command.result after
 * each (its answer), canary.baking and the rollout's end. */
static int bc_history(bc_fleet *f, bc_result *r, int64_t abort_us)
{
	osp_json *j = bc_json(f, "history", "--rollout", f->id, "--limit", "100000");
	const osp_json *ev = j != NULL ? osp_json_get(j, "events") : NULL;
	int64_t dec[BC_T_N] = { 0 }, all[BC_T_N] = { 0 };
	int64_t(*ack)[BC_MAX_AGENTS] = calloc(BC_T_N, sizeof(*ack));
	int t = BC_T_NONE;

	for (size_t i = ev != NULL ? ev->n : 0; ack != NULL && i > 0; i--) {
		const osp_json *e = ev->items[i - 1];
		const char *kind = osp_json_get_str(e, "kind"), *node = osp_json_get_str(e, "node");
		int64_t ts = bc_ts_us(osp_json_get_str(e, "ts"));
		size_t k;

		if (kind == NULL || ts < 0)
			continue;
		if (t + 1 < BC_T_N && strcmp(kind, t < 0 ? "canary.weight" : "canary.reset") == 0)
			dec[++t] = ts;
		else if (t >= 0 && all[t] == 0 &&
			strcmp(kind, t == BC_T_WEIGHT ? "canary.baking" : "rollout.aborted") == 0)
			all[t] = ts;
		else if (t >= 0 && strcmp(kind, "command.result") == 0 && node != NULL &&
			sscanf(node, "a%zu", &k) == 1 && k >= 1 && k <= f->n && ack[t][k - 1] == 0)
			ack[t][k - 1] = ts;
	}
	if (t == BC_T_RESET) {
		for (t = 0; t < BC_T_N; t++)
			bc_fill(&r->ch[t], dec[t], f->w.seen_us[t], ack[t], f->n, all[t]);
		r->abort_to_reset = (double)(dec[BC_T_RESET] - abort_us) / 1e3;
		t = BC_T_RESET;
	} else {
		fprintf(stderr, "bench_canary: no canary.weight and canary.reset in the history\n");
	}
	free(ack);
	osp_json_free(j);
	return t == BC_T_RESET ? 0 : -1;
}

/* bc_measure: release 1, the canary of 2 up to weight 10, the abort. */
static int bc_measure(bc_fleet *f, bc_result *r)
{
	const char *const abort_args[] = { "abort", f->id, NULL };
	bf_run_result res;
	int64_t abort_us;

	fprintf(stderr, "bench_canary: %zu agents: release 1, blue-green\n", f->n);
	if (bc_artifact(f, 1) != 0 || bc_artifact(f, 2) != 0 || bc_deploy(f, 1, false) != 0)
		return -1;
	f->w.n = f->n;
	atomic_store(&f->w.target, BC_T_WEIGHT);
	if (pthread_create(&f->thr, NULL, bc_watch_main, &f->w) != 0)
		return -1;
	f->watching = true;
	fprintf(stderr, "bench_canary: %zu agents: canary of release 2 at %d%%\n", f->n,
		BC_WEIGHT);
	if (bc_deploy(f, 2, true) != 0)
		return -1;
	if (!bc_wait(f, BC_W_WEIGHT, 90000, 50) || !bc_wait(f, BC_W_BAKING, 30000, 100)) {
		fprintf(stderr, "bench_canary: %zu of %zu proxies at %d%%; canary.baking %s\n",
			atomic_load(&f->w.done[BC_T_WEIGHT]), f->n, BC_WEIGHT,
			bc_check(f, BC_W_BAKING) ? "seen" : "not seen");
		return -1;
	}
	/* the reset's end is the state before the canary: looked for only now */
	atomic_store(&f->w.target, BC_T_RESET);
	bc_sleep_ms(50);
	fprintf(stderr, "bench_canary: %zu agents: abort (the reset)\n", f->n);
	abort_us = bench_wall_ns() / 1000;
	if (bench_coord_ctl(&f->c, 30000, &res, abort_args) != 0) {
		fprintf(stderr, "bench_canary: ospecctl abort %s failed; see %s\n", f->id,
			f->c.ctlerr);
		free(res.out);
		return -1;
	}
	free(res.out);
	r->abort_ms = (double)res.elapsed / 1e6;
	if (!bc_wait(f, BC_W_RESET, 30000, 50) || !bc_wait(f, BC_W_END, 30000, 100)) {
		fprintf(stderr, "bench_canary: %zu of %zu proxies reset; the rollout %s\n",
			atomic_load(&f->w.done[BC_T_RESET]), f->n,
			bc_check(f, BC_W_END) ? "ended" : "did not end");
		return -1;
	}
	atomic_store(&f->w.target, BC_T_NONE);
	uint64_t polls = atomic_load(&f->w.polls);
	r->poll_ms = polls > 0 ? (double)atomic_load(&f->w.poll_ns) / (double)polls / 1e6 : 0;
	bf_proc_status(f->c.pid, &r->rss, &r->anon);
	return bc_history(f, r, abort_us);
}

/* bc_mentions: /proc/PID's command line or cwd mentions dir. */
static bool bc_mentions(const char *pid, const char *dir)
{
	char path[300], buf[4096];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%s/cmdline", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	for (ssize_t i = 0; i < n; i++)
		buf[i] = buf[i] == '\0' ? ' ' : buf[i];
	buf[n > 0 ? n : 0] = '\0';
	if (strstr(buf, dir) != NULL)
		return true;
	snprintf(path, sizeof(path), "/proc/%s/cwd", pid); /* apps run bin/hello */
	n = readlink(path, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	return n > 0 && strstr(buf, dir) != NULL;
}

/* bc_kill_mentions SIGKILLs every process (not this one) whose command line
 * or cwd mentions dir: the hello apps the agents started. */
static void bc_kill_mentions(const char *dir)
{
	DIR *d = opendir("/proc");
	struct dirent *de;

	while (d != NULL && (de = readdir(d)) != NULL) {
		pid_t pid = (pid_t)atoi(de->d_name);
		if (pid > 1 && pid != getpid() && bc_mentions(de->d_name, dir))
			kill(pid, SIGKILL);
	}
	if (d != NULL)
		closedir(d);
}

/* bc_stop sends sig to *pid, SIGKILL after 10 s, and reaps it. */
static void bc_stop(pid_t *pid, int sig)
{
	if (*pid <= 0)
		return;
	kill(*pid, sig);
	if (bf_wait_pid(*pid, 10000) == -2) {
		kill(*pid, SIGKILL);
		bf_wait_pid(*pid, 5000);
	}
	*pid = 0;
}

/* bc_one runs one fleet size; stops everything whatever happens. */
static int bc_one(const bc_opts *o, uint64_t n, bc_result *r)
{
	bc_fleet *f = calloc(1, sizeof(*f));
	int code = -1;

	memset(r, 0, sizeof(*r));
	r->n = n;
	if (f == NULL)
		return -1;
	f->o = o;
	f->n = (size_t)n;
	atomic_store(&f->w.target, BC_T_NONE);
	fprintf(stderr, "bench_canary: %zu agents: starting the coordinator, haproxy, agents\n",
		f->n);
	if (bc_start(f) == 0 && bc_measure(f, r) == 0 && !atomic_load(&bc_interrupted))
		code = 0;
	if (atomic_load(&bc_interrupted))
		fprintf(stderr, "bench_canary: interrupted: stopping everything\n");
	if (f->watching) {
		atomic_store(&f->w.stop, true);
		pthread_join(f->thr, NULL);
	}
	for (size_t k = 0; k < f->n; k++)
		bc_stop(&f->agents[k], SIGKILL);
	bench_coord_stop(&f->c);
	bc_stop(&f->haproxy, SIGKILL);
	if (f->c.dir[0] != '\0') {
		bc_kill_mentions(f->c.dir); /* the apps, whose agents are gone */
		if (o->keep || code != 0)
			fprintf(stderr, "bench_canary: logs in %s%s\n", f->c.dir,
				o->keep ? " (kept)" : " (removed; --keep keeps them)");
		if (!o->keep)
			bench_rmtree(f->c.dir);
	}
	free(f);
	r->ok = code == 0;
	return code;
}

/* bc_row prints a table row: label, then per run the change's fmt. */
static void bc_row(const bc_result *res, size_t nr, const char *label, int t, int fmt)
{
	printf("| %-46s |", label);
	for (size_t i = 0; i < nr; i++) {
		const bc_result *x = &res[i];
		const bc_change *c = &x->ch[t];
		char b[64] = "failed";

		if (x->ok && fmt == 0)
			snprintf(b, sizeof(b), "%.1f / %.1f / %.1f ms", c->p50, c->p99, c->max);
		else if (x->ok && fmt == 1)
			snprintf(b, sizeof(b), "%.1f ms (%zu of %llu)", c->max, c->applied,
				(unsigned long long)x->n);
		else if (x->ok && fmt == 2)
			snprintf(b, sizeof(b), "%.1f / %.1f ms (%zu)", c->ack_p50, c->ack_max,
				c->acked);
		else if (x->ok && fmt == 3)
			snprintf(b, sizeof(b), "%.1f ms", c->all_acked);
		else if (x->ok && fmt == 4)
			snprintf(b, sizeof(b), "%.1f ms", x->abort_to_reset);
		else if (x->ok && fmt == 5)
			snprintf(b, sizeof(b), "%.1f ms", x->abort_ms);
		else if (x->ok && fmt == 6)
			snprintf(b, sizeof(b), "%.2f ms", x->poll_ms);
		else if (x->ok)
			snprintf(b, sizeof(b), "%.1f / %.1f MiB", (double)x->rss / 1024,
				(double)x->anon / 1024);
		printf(" %24s |", b);
	}
	printf("\n");
}

static void bc_print(const bc_result *res, size_t nr)
{
	printf("| %-46s |", "agents (real ospec-agent, one haproxy)");
	for (size_t i = 0; i < nr; i++)
		printf(" %24llu |", (unsigned long long)res[i].n);
	printf("\n|------------------------------------------------|");
	for (size_t i = 0; i < nr; i++)
		printf("-------------------------:|");
	printf("\n");
	bc_row(res, nr, "weight 10%: decision -> proxy p50 / p99 / max", 0, 0);
	bc_row(res, nr, "  decision -> every proxy at the new weight", 0, 1);
	bc_row(res, nr, "  decision -> result recorded p50 / max", 0, 2);
	bc_row(res, nr, "  decision -> `canary.baking` (all answered)", 0, 3);
	bc_row(res, nr, "reset: `ospecctl abort` started -> decision", 1, 4);
	bc_row(res, nr, "  `ospecctl abort` returned", 1, 5);
	bc_row(res, nr, "  decision -> proxy p50 / p99 / max", 1, 0);
	bc_row(res, nr, "  decision -> every proxy back", 1, 1);
	bc_row(res, nr, "  decision -> result recorded p50 / max", 1, 2);
	bc_row(res, nr, "  decision -> `rollout.aborted` (all answered)", 1, 3);
	bc_row(res, nr, "haproxy poll period (mean)", 0, 6);
	bc_row(res, nr, "coordinator VmRSS / RssAnon at the end", 0, 7);
}

static int bc_usage(FILE *f)
{
	fprintf(f,
		"usage: bench_canary [--agents N[,N...]] [--health-rise N] [--keep]\n"
		"  --agents LIST     real agents per run, comma-separated, 1..%d each (10,40)\n"
		"  --health-rise N   the deploys' --health-rise (ospecctl's default: 2)\n"
		"  --keep            keep each run's temp dir (every process's log)\n"
		"  binaries: $OSPEC_COORDINATOR_BIN, $OSPECCTL_BIN, $OSPEC_AGENT_BIN,\n"
		"  $OSPEC_HELLO_BIN, else under %s; /usr/sbin/haproxy\n",
		BC_MAX_AGENTS, OSPEC_BINARY_DIR);
	return f == stdout ? 0 : 2;
}

static int bc_parse(int argc, char **argv, bc_opts *o)
{
	for (int i = 1; i < argc; i++) {
		char buf[256], *save = NULL;
		uint64_t v;

		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return bc_usage(stdout) + 100;
		if (strcmp(argv[i], "--keep") == 0) {
			o->keep = true;
		} else if (strcmp(argv[i], "--health-rise") == 0 && i + 1 < argc) {
			if (bench_arg_u64(argv[++i], &v) != 0 || v < 1 || v > 100)
				return bc_usage(stderr);
			snprintf(o->rise, sizeof(o->rise), "%llu", (unsigned long long)v);
		} else if (strcmp(argv[i], "--agents") == 0 && i + 1 < argc &&
			osp_strlcpy(buf, argv[++i], sizeof(buf)) < sizeof(buf)) {
			o->nruns = 0;
			for (char *t = strtok_r(buf, ",", &save); t != NULL;
				t = strtok_r(NULL, ",", &save))
				if (o->nruns >= BC_MAX_RUNS || bench_arg_u64(t, &v) != 0 || v == 0 ||
					v > BC_MAX_AGENTS)
					return bc_usage(stderr);
				else
					o->agents[o->nruns++] = v;
			if (o->nruns == 0)
				return bc_usage(stderr);
		} else {
			return bc_usage(stderr);
		}
	}
	return 0;
}

/* bc_bin: $env, else def; 0 if the file is there (executable unless pack). */
static int bc_bin(char *out, size_t len, const char *env, const char *def)
{
	snprintf(out, len, "%s", getenv(env) != NULL ? getenv(env) : def);
	if (access(out, strstr(out, ".sh") != NULL ? R_OK : X_OK) == 0)
		return 0;
	fprintf(stderr, "bench_canary: '%s' is missing: build it (or set $%s)\n", out, env);
	return -1;
}

int main(int argc, char **argv)
{
	static bc_opts o = { .agents = { 10, 40 }, .nruns = 2 };
	bc_result res[BC_MAX_RUNS];
	struct sigaction sa;
	size_t ran = 0;
	int rc, code = 0;

	if ((rc = bc_parse(argc, argv, &o)) != 0)
		return rc >= 100 ? 0 : rc;
	if (bc_bin(o.coord, sizeof(o.coord), "OSPEC_COORDINATOR_BIN",
		    OSPEC_BINARY_DIR "/coordinator/ospec-coordinator") != 0 ||
		bc_bin(o.ctl, sizeof(o.ctl), "OSPECCTL_BIN",
			OSPEC_BINARY_DIR "/coordinator/ospecctl") != 0 ||
		bc_bin(o.agent, sizeof(o.agent), "OSPEC_AGENT_BIN",
			OSPEC_BINARY_DIR "/node-agent/ospec-agent") != 0 ||
		bc_bin(o.hello, sizeof(o.hello), "OSPEC_HELLO_BIN",
			OSPEC_BINARY_DIR "/deploy/examples/hello/hello") != 0 ||
		bc_bin(o.pack, sizeof(o.pack), "OSPEC_HELLO_PACK",
			OSPEC_SOURCE_DIR "/deploy/examples/hello/pack.sh") != 0)
		return 1;
	if (access("/usr/sbin/haproxy", X_OK) != 0) {
		fprintf(stderr, "bench_canary: /usr/sbin/haproxy is missing: install haproxy\n");
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = bc_on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < o.nruns && !atomic_load(&bc_interrupted); i++, ran++)
		if (bc_one(&o, o.agents[i], &res[i]) != 0)
			code = 1;
	bench_header(argc, argv);
	printf("# a real ospec-coordinator (--heartbeat 1s, synced LMDB), N ospec-agent\n"
	       "# processes, one haproxy with a backend per agent, all on loopback; a canary\n"
	       "# at %d%% (--health-rise %s), then abort. decision = the coordinator's\n"
	       "# canary.weight / canary.reset event (ms); proxy = the first 1 ms poll of\n"
	       "# `show servers state` that shows it; result = the node's command.result\n\n",
		BC_WEIGHT, o.rise[0] != '\0' ? o.rise : "2");
	bc_print(res, ran);
	return code;
}
