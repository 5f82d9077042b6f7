/*
 * bench_scale_agent.c - the memory of one real ospec-agent (bench_scale):
 * a real coordinator, one agent (its own state dir and config, app `hello`
 * on one port) and the sample app packed by deploy/examples/hello/pack.sh.
 *
 * Read from /proc/PID/status (VmRSS, RssAnon) and /proc/PID/smaps_rollup
 * (Pss, Pss_Anon): registered with no app; idle with hello 1 running (after
 * a rolling deploy and a few heartbeats); as often as it can (2 ms pauses) during the rolling
 * deploy of hello 2 (fetch by file://, sha256, unpack, stop, start, health
 * checks), the peak kept; and after it, with VmHWM (the peak RSS). The agent is killed at the end and
 * so is the app's process group (its pid from the agent's pidfile: SIGTERM
 * to an agent leaves its apps running).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_coord.h"
#include "bench_fleet.h"
#include "bench_scale.h"
#include "ospec/util.h"

typedef struct bs_agent {
	const bs_opts *o;
	bench_coord c;
	pid_t pid;
	int port;
	char state[600], cfg[600], log[600];
	char art[3][700], sha[3][72];
} bs_agent;

/* bs_agent_pack packs hello as version v into the temp dir. */
static int bs_agent_pack(bs_agent *a, int v)
{
	char ver[8], stage[640], shafile[720], *data = NULL;
	size_t len = 0;
	bf_run_result res;

	snprintf(ver, sizeof(ver), "%d", v);
	snprintf(stage, sizeof(stage), "%s/art/stage-%d", a->c.dir, v);
	snprintf(a->art[v], sizeof(a->art[v]), "%s/art/hello-%d.tar.gz", a->c.dir, v);
	snprintf(shafile, sizeof(shafile), "%s.sha256", a->art[v]);
	char *argv[] = { "/bin/sh", (char *)a->o->pack, (char *)a->o->hello, ver, stage,
		a->art[v], NULL };
	if (bf_run(argv, a->c.ctlerr, 30000, false, &res) != 0 || res.status != 0 ||
		osp_file_read(shafile, 128, &data, &len) != OSP_OK || len < 64) {
		fprintf(stderr, "bench_scale: %s failed; see %s\n", a->o->pack, a->c.ctlerr);
		free(data);
		return -1;
	}
	snprintf(a->sha[v], sizeof(a->sha[v]), "%.64s", data);
	free(data);
	return 0;
}

/* bs_agent_up waits until the coordinator lists the agent as up. */
static bool bs_agent_up(bs_agent *a)
{
	static const char *const args[] = { "nodes", NULL };

	for (int i = 0; i < 150 && !atomic_load(&bs_interrupted); i++) {
		osp_json *j = bench_coord_json(&a->c, 10000, args);
		const char *st = j != NULL && j->type == OSP_JSON_ARR && j->n == 1
			? osp_json_get_str(j->items[0], "state") : NULL;
		bool up = st != NULL && strcmp(st, "up") == 0;

		osp_json_free(j);
		if (up)
			return true;
		bs_sleep_ms(100);
	}
	fprintf(stderr, "bench_scale: the agent did not come up; log: %s\n", a->log);
	return false;
}

/* bs_agent_start writes the agent's config (hello on one port) and starts it. */
static int bs_agent_start(bs_agent *a)
{
	char body[256];
	int len;

	a->port = bf_free_port();
	snprintf(a->state, sizeof(a->state), "%s/agent", a->c.dir);
	snprintf(a->cfg, sizeof(a->cfg), "%s/agent.yaml", a->c.dir);
	snprintf(a->log, sizeof(a->log), "%s/agent.log", a->c.dir);
	len = snprintf(body, sizeof(body), "apps:\n  hello:\n    port: %d\n", a->port);
	if (a->port == 0 || len < 0 || (size_t)len >= sizeof(body) ||
		osp_file_write_atomic(a->cfg, body, (size_t)len, 0644) != OSP_OK)
		return -1;
	char *argv[] = { (char *)a->o->agent_bin, "--id", "a001", "--coordinator", a->c.url,
		"--state", a->state, "--label", "role=web", "-c", a->cfg, NULL };
	if ((a->pid = bf_spawn(argv, a->log, a->log)) <= 0) {
		a->pid = 0;
		return -1;
	}
	return bs_agent_up(a) ? 0 : -1;
}

/* bs_agent_deploy starts `ospecctl deploy --wait` of hello v (rolling, in
 * place) and returns its pid, or -1. */
static pid_t bs_agent_deploy(bs_agent *a, int v)
{
	char ver[8], port[16], url[720];

	snprintf(ver, sizeof(ver), "%d", v);
	snprintf(port, sizeof(port), "%d", a->port);
	snprintf(url, sizeof(url), "file://%s", a->art[v]);
	char *argv[] = { (char *)a->o->ctl, "--coordinator", a->c.ctl, "deploy", "--app", "hello",
		"--version", ver, "--artifact", url, "--sha256", a->sha[v], "--run",
		"bin/hello --port {port}", "--port", port, "--watch", "0", "--wait", "--timeout",
		"120s", NULL };

	return bf_spawn(argv, NULL, a->c.ctlerr);
}

/* bs_agent_follow waits for the deploy pid, reading the agent's memory
 * every 2 ms into peak when peak is not NULL; returns its exit status. */
static int bs_agent_follow(bs_agent *a, pid_t pid, bs_mem *peak, bs_agent_res *r)
{
	int64_t t0 = bench_now_ns();
	int st = -2;

	if (pid <= 0)
		return -1;
	while (st == -2 && !atomic_load(&bs_interrupted)) {
		bs_mem m;

		if (peak != NULL && bs_mem_read(a->pid, &m) == 0) {
			bs_mem_max(peak, &m);
			r->samples++;
		}
		st = bf_wait_pid(pid, 2);
	}
	if (st == -2) {
		kill(pid, SIGKILL);
		st = bf_wait_pid(pid, 5000);
	}
	if (peak != NULL)
		r->deploy_ms = (double)(bench_now_ns() - t0) / 1e6;
	if (st != 0)
		fprintf(stderr, "bench_scale: the deploy exited %d; see %s\n", st, a->c.ctlerr);
	return st;
}

/* bs_agent_kill_app SIGKILLs the process group of the app the agent's
 * pidfile names (the agent left it running). */
static void bs_agent_kill_app(bs_agent *a)
{
	char path[700], *data = NULL;
	size_t len = 0;
	int pid = 0;

	snprintf(path, sizeof(path), "%s/run/hello.main.pid", a->state);
	if (osp_file_read(path, 4096, &data, &len) == OSP_OK && sscanf(data, "pid=%d", &pid) == 1 &&
		pid > 1) {
		kill(-(pid_t)pid, SIGKILL);
		kill((pid_t)pid, SIGKILL);
	}
	free(data);
}

int bs_agent_run(const bs_opts *o, bs_agent_res *r)
{
	static const char *const extra[] = { "--heartbeat", "1s", NULL };
	bs_agent a = { .o = o };
	int code = -1;

	memset(r, 0, sizeof(*r));
	a.c.prog = "bench_scale";
	a.c.coord_bin = o->coord;
	a.c.ctl_bin = o->ctl;
	fprintf(stderr, "bench_scale: one real ospec-agent with hello\n");
	if (bench_coord_start(&a.c, "agent", extra) != 0 || bs_agent_pack(&a, 1) != 0 ||
		bs_agent_pack(&a, 2) != 0 || bs_agent_start(&a) != 0)
		goto out;
	bs_sleep_ms(3000); /* a few heartbeats */
	bs_mem_read(a.pid, &r->no_app);
	if (bs_agent_follow(&a, bs_agent_deploy(&a, 1), NULL, r) != 0)
		goto out;
	bs_sleep_ms(3000);
	bs_mem_read(a.pid, &r->idle);
	if (bs_agent_follow(&a, bs_agent_deploy(&a, 2), &r->deploy_peak, r) != 0)
		goto out;
	bs_sleep_ms(3000);
	bs_mem_read(a.pid, &r->after);
	bench_proc_kb(a.pid, "status", "VmHWM", &r->hwm);
	bs_mem_read(a.c.pid, &r->coord);
	code = atomic_load(&bs_interrupted) ? -1 : 0;
out:
	if (a.pid > 0) {
		kill(a.pid, SIGKILL);
		bf_wait_pid(a.pid, 5000);
	}
	if (a.state[0] != '\0')
		bs_agent_kill_app(&a);
	if (code != 0 && a.c.dir[0] != '\0')
		fprintf(stderr, "bench_scale: the agent run failed; logs in %s%s\n", a.c.dir,
			o->keep ? "" : " (removed; --keep keeps them)");
	bench_coord_fini(&a.c, o->keep);
	r->ok = code == 0;
	return code;
}
