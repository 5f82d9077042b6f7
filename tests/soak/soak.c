/*
 * soak.c - the randomized soak test (soak.h, docs/testing.md).
 *
 *   soak [--rounds N] [--seed S] [--strategies rolling,blue_green]
 *        [--kinds healthy,fail_health,crash,wrong_sha] [--chaos none,agent,coordinator]
 *        [--back-to-back on|off] [--watch D|none] [--heartbeat D]
 *        [--converge SECONDS] [--keep-going]
 *
 * Exit 0 only if every round converged; 1 otherwise; 2 on a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ospec/util.h"
#include "soak.h"

const char *const soak_ids[SOAK_NODES] = { "n1", "n2", "n3", "n4" };
const char *const soak_app_names[SOAK_APPS] = { "hello", "hellobg" };
const char *const soak_strategy_names[SOAK_APPS] = { "rolling", "blue_green" };
const char *const soak_kind_names[SOAK_NKINDS] = { "healthy", "fail_health", "crash",
	"wrong_sha" };
static const char *const soak_chaos_names[SOAK_NCHAOS] = { "none", "agent", "coordinator" };

static volatile sig_atomic_t soak_stop;

static void soak_on_signal(int sig)
{
	(void)sig;
	soak_stop = 1;
}

/* soak_rand returns a number in [0, n) from the seeded splitmix64 stream, so
 * a seed replays the same choices. */
static int soak_rand(soak *s, int n)
{
	uint64_t z = (s->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return (int)(z % (uint64_t)n);
}

/* soak_pick_weighted picks an allowed index with the given weights. */
static int soak_pick_weighted(soak *s, const bool *allowed, const int *weight, int n)
{
	int total = 0, x;

	for (int i = 0; i < n; i++)
		total += allowed[i] ? weight[i] : 0;
	x = soak_rand(s, total);
	for (int i = 0; i < n; i++) {
		if (!allowed[i])
			continue;
		if (x < weight[i])
			return i;
		x -= weight[i];
	}
	return 0;
}

/* soak_forget drops a reaped process from the harness's table, so restarts
 * never run out of its H_MAX_PROCS slots. */
static void soak_forget(h_env *e, h_proc *p)
{
	size_t i;

	if (p == NULL || p < e->procs || p >= e->procs + e->nprocs || p->pid > 0)
		return;
	i = (size_t)(p - e->procs);
	memmove(&e->procs[i], &e->procs[i + 1], (e->nprocs - i - 1) * sizeof(e->procs[0]));
	e->nprocs--;
	e->coord = NULL;
	for (size_t j = 0; j < e->nprocs; j++)
		if (strcmp(e->procs[j].name, "coordinator") == 0 && e->procs[j].pid > 0)
			e->coord = &e->procs[j];
}

/* soak_agent_start starts node i's agent with both apps in its config (the
 * same state dir and id on every restart). */
static bool soak_agent_start(soak *s, int i)
{
	char cfg[400], body[2048];
	char *extra[3];

	snprintf(cfg, sizeof(cfg), "%s/agent-%s.yaml", s->e->dir, soak_ids[i]);
	snprintf(body, sizeof(body),
		"apps:\n"
		"  hello:\n"
		"    port: %d\n"
		"  hellobg:\n"
		"    ports: {blue: %d, green: %d}\n"
		"    proxy:\n"
		"      driver: haproxy\n"
		"      socket: %s/px%d.sock\n"
		"      backend: hello\n"
		"      servers: {blue: hello_blue, green: hello_green}\n",
		s->port[i], s->blue[i], s->green[i], s->e->dir, i + 1);
	if (osp_file_write_atomic(cfg, body, strlen(body), 0644) != OSP_OK)
		return false;
	extra[0] = "-c";
	extra[1] = cfg;
	extra[2] = NULL;
	return h_agent_start(s->e, soak_ids[i], "role=web", extra) != NULL;
}

static bool soak_all_up(h_env *e, void *arg)
{
	(void)arg;
	return h_nodes_up(e) == SOAK_NODES;
}

/* soak_fleet_start: a coordinator, and per node a haproxy and an agent. */
static bool soak_fleet_start(soak *s)
{
	char name[16];

	if (h_coord_start(s->e, s->o.heartbeat, NULL) == NULL)
		return false;
	for (int i = 0; i < SOAK_NODES; i++) {
		s->port[i] = h_free_port();
		s->front[i] = h_free_port();
		s->blue[i] = h_free_port();
		s->green[i] = h_free_port();
		snprintf(name, sizeof(name), "px%d", i + 1);
		if (h_haproxy_start(s->e, name, s->front[i], s->blue[i], s->green[i]) == NULL ||
			!soak_agent_start(s, i))
			return false;
	}
	return h_wait_for(soak_all_up, s->e, NULL, h_ms(30000));
}

/* soak_artifact packs hello as APP version v (a marker file names the app, so
 * the two apps never share a sha256) into DIR/art/APP-v.tar.gz. */
static bool soak_artifact(soak *s, const soak_round *r, char *url, size_t urllen, char *sha)
{
	const char *app = soak_app_names[r->app];
	char pack[512], stage[400], out[400], shafile[420], tag[64];
	char *argv[12], *data = NULL;
	size_t len;
	int n = 0;

	snprintf(pack, sizeof(pack), "%s/deploy/examples/hello/pack.sh", OSPEC_SOURCE_DIR);
	snprintf(stage, sizeof(stage), "%s/art/stage-%s-%s", s->e->dir, app, r->version);
	snprintf(out, sizeof(out), "%s/art/%s-%s.tar.gz", s->e->dir, app, r->version);
	snprintf(tag, sizeof(tag), "APP=%s", app);
	argv[n++] = "/bin/sh";
	argv[n++] = pack;
	argv[n++] = (char *)h_bin("hello");
	argv[n++] = (char *)r->version;
	argv[n++] = stage;
	argv[n++] = out;
	argv[n++] = tag;
	if (r->kind == SOAK_FAIL_HEALTH)
		argv[n++] = "FAIL_HEALTH=";
	else if (r->kind == SOAK_CRASH)
		argv[n++] = "CRASH=";
	argv[n] = NULL;
	if (h_run(argv, h_ms(30000), NULL, NULL) != 0)
		return false;
	snprintf(shafile, sizeof(shafile), "%s.sha256", out);
	if (osp_file_read(shafile, 128, &data, &len) != OSP_OK)
		return false;
	snprintf(sha, 65, "%.64s", data);
	free(data);
	snprintf(url, urllen, "file://%s", out);
	return strlen(sha) == 64;
}

/* soak_watch_ms is the post-deploy watch the deploys get (--watch; without
 * it, the 1 s rollback window of blue-green). */
static int64_t soak_watch_ms(const soak *s)
{
	int64_t ms = 1000;

	if (s->o.watch[0] != '\0' && osp_duration_parse(s->o.watch, &ms) != OSP_OK)
		ms = 0;
	return ms;
}

/* soak_pick makes round n's random choices (all of them up front, so a seed
 * replays the same sequence whatever happens during the rounds). */
static void soak_pick(soak *s, soak_round *r, int n)
{
	static const int app_w[SOAK_APPS] = { 1, 1 };
	static const int kind_w[SOAK_NKINDS] = { 3, 1, 1, 1 };
	static const int chaos_w[SOAK_NCHAOS] = { 2, 1, 1 };

	memset(r, 0, sizeof(*r));
	r->n = n;
	r->ok = true;
	r->app = (soak_app)soak_pick_weighted(s, s->o.strategies, app_w, SOAK_APPS);
	r->kind = (soak_kind)soak_pick_weighted(s, s->o.kinds, kind_w, SOAK_NKINDS);
	r->chaos = (soak_chaos)soak_pick_weighted(s, s->o.chaos, chaos_w, SOAK_NCHAOS);
	r->victim = soak_rand(s, SOAK_NODES);
	r->chaos_after_ms = 50 + soak_rand(s, 1450); /* most rollouts take 1-5 s */
	r->chaos_down_ms = 300 + soak_rand(s, 2700);
	r->batch = soak_rand(s, 2) == 0 ? "2" : "100%";
	/* a short scale-down (3 s past the watch) or one that never comes */
	if (soak_rand(s, 2) == 0)
		snprintf(r->scale_down, sizeof(r->scale_down), "%llds",
			(long long)(soak_watch_ms(s) / 1000 + 3));
	else
		osp_strlcpy(r->scale_down, "600s", sizeof(r->scale_down));
	r->back_to_back = soak_rand(s, 3) == 0 && s->o.back_to_back;
	for (int i = 0; i < 64; i++)
		r->bad_sha[i] = "0123456789abcdef"[soak_rand(s, 16)];
}

typedef struct soak_child {
	pid_t pid;
	bool done;
	int code; /* exit code; -1 if killed or not ended */
} soak_child;

/* soak_spawn starts argv with stdout and stderr into the given files. */
static bool soak_spawn(soak_child *c, char *const argv[], const char *out, const char *err)
{
	c->done = false;
	c->code = -1;
	c->pid = fork();
	if (c->pid < 0)
		return false;
	if (c->pid == 0) {
		int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int fe = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fo >= 0 && dup2(fo, 1) >= 0)
			close(fo);
		if (fe >= 0 && dup2(fe, 2) >= 0)
			close(fe);
		execv(argv[0], argv);
		_exit(127);
	}
	return true;
}

/* soak_child_poll reaps c if it ended; true if it has. */
static bool soak_child_poll(soak_child *c)
{
	int st;

	if (!c->done && waitpid(c->pid, &st, WNOHANG) == c->pid) {
		c->done = true;
		c->code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	}
	return c->done;
}

/* soak_child_wait waits up to ms for c, then kills it. */
static void soak_child_wait(soak_child *c, int ms)
{
	int64_t end = osp_now_mono_ms() + ms;

	while (!soak_child_poll(c) && osp_now_mono_ms() < end && !soak_stop)
		osp_sleep_ms(50);
	if (!c->done) {
		kill(c->pid, SIGKILL);
		waitpid(c->pid, NULL, 0);
		c->done = true;
	}
}

/* soak_read_id copies the first word of the file's first complete line. */
static bool soak_read_id(const char *path, char *id, size_t len)
{
	char *data = NULL;
	size_t n;
	bool got = false;

	if (osp_file_read(path, 1 << 20, &data, &n) != OSP_OK)
		return false;
	if (strchr(data, '\n') != NULL) {
		data[strcspn(data, " \t\n")] = '\0';
		osp_strlcpy(id, data, len);
		got = id[0] != '\0';
	}
	free(data);
	return got;
}

/* soak_tail returns the last bytes of a file on one line (heap). */
static char *soak_tail(const char *path, size_t max)
{
	char *data = NULL, *t;
	size_t n;

	if (osp_file_read(path, 1 << 20, &data, &n) != OSP_OK)
		return strdup("");
	while (n > 0 && (data[n - 1] == '\n' || data[n - 1] == ' '))
		data[--n] = '\0';
	t = strdup(n > max ? data + n - max : data);
	free(data);
	for (char *p = t; p != NULL && *p != '\0'; p++)
		if (*p == '\n')
			*p = '|';
	return t != NULL ? t : strdup("");
}

/* soak_deploy_start runs ospecctl deploy --wait for round r in the
 * background (stdout and stderr into DIR/deploy-N-APP-V.{out,err}). */
static bool soak_deploy_start(soak *s, soak_round *r, soak_child *c, const char *url,
	const char *sha, char *out, char *err, size_t len)
{
	char ports[64], *argv[64];
	int n = 0;

	snprintf(out, len, "%s/deploy-%d-%s-%s.out", s->e->dir, r->n, soak_app_names[r->app],
		r->version);
	snprintf(err, len, "%s/deploy-%d-%s-%s.err", s->e->dir, r->n, soak_app_names[r->app],
		r->version);
	snprintf(ports, sizeof(ports), "blue=%d,green=%d", s->blue[0], s->green[0]);
	argv[n++] = (char *)h_bin("ospecctl");
	argv[n++] = "--coordinator";
	argv[n++] = s->e->ctl_url;
	argv[n++] = "deploy";
	argv[n++] = "--app";
	argv[n++] = (char *)soak_app_names[r->app];
	argv[n++] = "--version";
	argv[n++] = r->version;
	argv[n++] = "--artifact";
	argv[n++] = (char *)url;
	argv[n++] = "--sha256";
	argv[n++] = (char *)sha;
	argv[n++] = "--run";
	argv[n++] = "bin/hello --port {port}";
	argv[n++] = "--strategy";
	argv[n++] = (char *)soak_strategy_names[r->app];
	if (r->app == SOAK_ROLLING) {
		argv[n++] = "--port";
		argv[n++] = "8080"; /* each agent's config gives its own */
	} else {
		argv[n++] = "--ports";
		argv[n++] = ports;
		argv[n++] = "--scale-down-delay";
		argv[n++] = r->scale_down;
		if (s->o.watch[0] == '\0') {
			/* binaries without --watch: keep the verify window short */
			argv[n++] = "--rollback-window";
			argv[n++] = "1s";
		}
	}
	if (s->o.watch[0] != '\0') {
		argv[n++] = "--watch";
		argv[n++] = s->o.watch;
	}
	argv[n++] = "--batch";
	argv[n++] = (char *)r->batch;
	argv[n++] = "--health-deadline";
	argv[n++] = "10s";
	argv[n++] = "--progress-deadline";
	argv[n++] = "60s";
	argv[n++] = "--wait";
	argv[n++] = "--timeout";
	argv[n++] = "120s";
	argv[n] = NULL;
	return soak_spawn(c, argv, out, err);
}

/* soak_chaos_run kills the round's victim some time after the rollout
 * started and restarts it with the same state (agent) or data (coordinator)
 * dir. False if the coordinator could not be restarted (the soak stops). */
static bool soak_chaos_run(soak *s, soak_round *r, soak_child *c)
{
	bool agent = r->chaos == SOAK_KILL_AGENT, ended;
	char name[32];
	h_proc *p;

	snprintf(name, sizeof(name), "agent-%s", soak_ids[r->victim]);
	osp_sleep_ms(r->chaos_after_ms);
	ended = soak_child_poll(c);
	p = agent ? h_proc_named(s->e, name) : s->e->coord;
	h_kill(s->e, p, SIGKILL);
	soak_forget(s->e, p);
	snprintf(r->chaos_note, sizeof(r->chaos_note), "kill %s +%.1fs down %.1fs%s",
		agent ? soak_ids[r->victim] : "coord", r->chaos_after_ms / 1000.0,
		r->chaos_down_ms / 1000.0, ended ? " (after end)" : "");
	osp_sleep_ms(r->chaos_down_ms);
	if (agent) {
		if (!soak_agent_start(s, r->victim))
			soak_fail(s, r, "cannot restart agent %s", soak_ids[r->victim]);
		return true;
	}
	if (h_coord_start(s->e, s->o.heartbeat, NULL) == NULL) {
		soak_fail(s, r, "the coordinator did not come back after kill -9 (see %s/coordinator.log)",
			s->e->dir);
		return false;
	}
	return true;
}

/* soak_coord_check runs when deploy --wait did not end with 0 or 1: it says
 * whether the coordinator is still running (restarting it if it died, so
 * the soak can go on) and shows the end of its log. */
static void soak_coord_check(soak *s, soak_round *r)
{
	char log[600], *tail;
	h_proc *p = s->e->coord;
	int st;

	snprintf(log, sizeof(log), "%s/coordinator.log", s->e->dir);
	tail = soak_tail(log, 1500);
	if (p != NULL && p->pid > 0 && waitpid(p->pid, &st, WNOHANG) == p->pid) {
		p->pid = 0;
		soak_forget(s->e, p);
		soak_fail(s, r, "the coordinator died (%s %d); its log ends: %s",
			WIFSIGNALED(st) ? "signal" : "exit status",
			WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), tail);
		if (h_coord_start(s->e, s->o.heartbeat, NULL) == NULL)
			soak_fail(s, r, "the coordinator did not start again");
	} else {
		printf("soak: round %d: the coordinator is running; its log ends: %s\n", r->n, tail);
	}
	free(tail);
}

/* soak_deploy_play deploys round r's release (with its chaos) and waits for
 * deploy --wait. False if the soak cannot go on at all. */
static bool soak_deploy_play(soak *s, soak_round *r)
{
	char url[600], sha[65], out[512], err[512], *tail;
	int64_t idl;
	soak_child c;
	bool alive = true;

	snprintf(r->version, sizeof(r->version), "%d", ++s->version[r->app]);
	if (!soak_artifact(s, r, url, sizeof(url), sha)) {
		soak_fail(s, r, "cannot pack %s %s", soak_app_names[r->app], r->version);
		return false;
	}
	if (r->kind == SOAK_WRONG_SHA)
		osp_strlcpy(sha, r->bad_sha, sizeof(sha));
	if (!soak_deploy_start(s, r, &c, url, sha, out, err, sizeof(out))) {
		soak_fail(s, r, "cannot run ospecctl: %s", strerror(errno));
		return false;
	}
	/* chaos only once the rollout exists: deploy printed its id */
	idl = osp_now_mono_ms() + h_ms(30000);
	while (!soak_read_id(out, r->id, sizeof(r->id)) && !soak_child_poll(&c) &&
		osp_now_mono_ms() < idl)
		osp_sleep_ms(50);
	if (r->chaos != SOAK_CALM && r->id[0] != '\0')
		alive = soak_chaos_run(s, r, &c);
	soak_child_wait(&c, h_ms(150000));
	r->exit_code = c.code;
	if (r->id[0] == '\0')
		soak_read_id(out, r->id, sizeof(r->id));
	if (r->exit_code != 0 && r->exit_code != 1) {
		tail = soak_tail(err, 600);
		soak_fail(s, r, "deploy --wait exited %d: %s", r->exit_code, tail);
		free(tail);
		soak_coord_check(s, r);
	}
	return alive;
}

/* soak_lead_in deploys a healthy release of r's app right before r's own
 * deploy, with no pause for heartbeats: the coordinator must plan r from
 * what the agents really run, not from a stale inventory. On success every
 * node is taken to serve it (r's check verifies that); on failure r fails
 * and the lead-in is checked instead of r's deploy. */
static bool soak_lead_in(soak *s, soak_round *r, bool *go_on)
{
	soak_round pre = { .n = r->n, .app = r->app, .kind = SOAK_HEALTHY, .chaos = SOAK_CALM,
		.batch = "100%", .ok = true };
	bool alive;

	osp_strlcpy(pre.scale_down, r->scale_down, sizeof(pre.scale_down));
	alive = soak_deploy_play(s, &pre);

	osp_strlcpy(r->lead_in, pre.version, sizeof(r->lead_in));
	if (alive)
		soak_outcome(s, &pre);
	*go_on = alive && pre.ok;
	if (*go_on) {
		for (int i = 0; i < SOAK_NODES; i++)
			osp_strlcpy(s->served[r->app][i], pre.version, SOAK_VER_LEN);
		return true;
	}
	if (alive)
		soak_converge(s, &pre);
	snprintf(r->why, sizeof(r->why), "lead-in deploy of %s: %s", pre.version, pre.why);
	osp_strlcpy(r->state, pre.state, sizeof(r->state));
	osp_strlcpy(r->id, pre.id, sizeof(r->id));
	osp_strlcpy(r->version, pre.version, sizeof(r->version));
	r->exit_code = pre.exit_code;
	r->ok = false;
	return alive;
}

/* soak_round_run plays round r: the lead-in if any, r's deploy (with
 * chaos), its outcome, convergence. False if the soak cannot go on. */
static bool soak_round_run(soak *s, soak_round *r)
{
	int64_t t0 = osp_now_mono_ms(), t1;
	bool alive = true, go_on = true;

	osp_strlcpy(r->chaos_note, "-", sizeof(r->chaos_note));
	osp_strlcpy(r->lead_in, "-", sizeof(r->lead_in));
	if (r->back_to_back)
		alive = soak_lead_in(s, r, &go_on);
	if (go_on) {
		alive = soak_deploy_play(s, r);
		if (alive) {
			soak_outcome(s, r);
			t1 = osp_now_mono_ms();
			soak_converge(s, r);
			r->converge_seconds = (double)(osp_now_mono_ms() - t1) / 1000.0;
		}
	}
	r->seconds = (double)(osp_now_mono_ms() - t0) / 1000.0;
	return alive;
}

static void soak_print_round(const soak *s, const soak_round *r)
{
	printf("soak: round %d/%d %-7s %-10s batch=%-4s %-11s lead-in=%s chaos=%s -> %s (exit %d, %s) %.1f s (converge %.1f s): %s\n",
		r->n, s->o.rounds, soak_app_names[r->app], soak_strategy_names[r->app], r->batch,
		soak_kind_names[r->kind], r->lead_in, r->chaos_note, r->state, r->exit_code,
		r->id[0] ? r->id : "no id", r->seconds, r->converge_seconds, r->ok ? "converged" : "FAILED");
	fflush(stdout);
}

static void soak_summary(const soak *s, const soak_round *rounds, int n)
{
	int failed = 0;

	printf("\nsoak summary (seed %llu, replay: soak --rounds %d --seed %llu)\n",
		(unsigned long long)s->o.seed, s->o.rounds, (unsigned long long)s->o.seed);
	printf("%5s  %-7s  %-10s  %-5s  %-7s  %-7s  %-11s  %-36s  %-11s  %4s  %6s  %s\n",
		"ROUND", "APP", "STRATEGY", "BATCH", "LEAD-IN", "VERSION", "KIND", "CHAOS", "STATE",
		"EXIT", "SECS", "RESULT");
	for (int i = 0; i < n; i++) {
		const soak_round *r = &rounds[i];
		failed += !r->ok;
		printf("%5d  %-7s  %-10s  %-5s  %-7s  %-7s  %-11s  %-36s  %-11s  %4d  %6.1f  %s\n",
			r->n, soak_app_names[r->app], soak_strategy_names[r->app], r->batch,
			r->lead_in, r->version, soak_kind_names[r->kind], r->chaos_note, r->state, r->exit_code, r->seconds,
			r->ok ? "ok" : "FAILED");
	}
	for (int i = 0; i < n; i++)
		if (!rounds[i].ok)
			printf("round %d: %s\n", rounds[i].n, rounds[i].why);
	printf("soak: %d of %d rounds converged, %d failed (seed %llu)\n", n - failed, n, failed,
		(unsigned long long)s->o.seed);
	fflush(stdout);
}

/* soak_parse_set turns "a,b" into flags over names; false on an unknown word. */
static bool soak_parse_set(const char *list, const char *const *names, int n, bool *set)
{
	char buf[256], *save = NULL;

	osp_strlcpy(buf, list, sizeof(buf));
	memset(set, 0, (size_t)n * sizeof(bool));
	for (char *w = strtok_r(buf, ",", &save); w != NULL; w = strtok_r(NULL, ",", &save)) {
		int i = 0;
		while (i < n && strcmp(names[i], w) != 0)
			i++;
		if (i == n) {
			fprintf(stderr, "soak: unknown '%s' in '%s'\n", w, list);
			return false;
		}
		set[i] = true;
	}
	for (int i = 0; i < n; i++)
		if (set[i])
			return true;
	fprintf(stderr, "soak: '%s' allows nothing\n", list);
	return false;
}

static int soak_usage(void)
{
	fprintf(stderr,
		"usage: soak [--rounds N] [--seed S] [--strategies rolling,blue_green]\n"
		"            [--kinds healthy,fail_health,crash,wrong_sha]\n"
		"            [--chaos none,agent,coordinator] [--back-to-back on|off]\n"
		"            [--watch D|none] [--heartbeat D]\n"
		"            [--converge SECONDS] [--keep-going]\n");
	return 2;
}

/* soak_parse_opt applies one "--name value" option. */
static int soak_parse_opt(soak_opts *o, const char *a, const char *v)
{
	if (strcmp(a, "--rounds") == 0 && atoi(v) > 0)
		o->rounds = atoi(v);
	else if (strcmp(a, "--seed") == 0)
		o->seed = strtoull(v, NULL, 10);
	else if (strcmp(a, "--converge") == 0 && atoi(v) > 0)
		o->converge_ms = atoi(v) * 1000;
	else if (strcmp(a, "--back-to-back") == 0 && (strcmp(v, "on") == 0 || strcmp(v, "off") == 0))
		o->back_to_back = strcmp(v, "on") == 0;
	else if (strcmp(a, "--heartbeat") == 0)
		osp_strlcpy(o->heartbeat, v, sizeof(o->heartbeat));
	else if (strcmp(a, "--watch") == 0)
		osp_strlcpy(o->watch, strcmp(v, "none") == 0 ? "" : v, sizeof(o->watch));
	else if (strcmp(a, "--strategies") == 0)
		return soak_parse_set(v, soak_strategy_names, SOAK_APPS, o->strategies) ? 0 : 2;
	else if (strcmp(a, "--kinds") == 0)
		return soak_parse_set(v, soak_kind_names, SOAK_NKINDS, o->kinds) ? 0 : 2;
	else if (strcmp(a, "--chaos") == 0)
		return soak_parse_set(v, soak_chaos_names, SOAK_NCHAOS, o->chaos) ? 0 : 2;
	else
		return soak_usage();
	return 0;
}

static int soak_parse(int argc, char **argv, soak_opts *o)
{
	int rc;

	o->rounds = 50;
	o->seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 16);
	o->converge_ms = 30000;
	o->back_to_back = true;
	/* the production default: a stale inventory lasts as long as it would */
	osp_strlcpy(o->heartbeat, "5s", sizeof(o->heartbeat));
	osp_strlcpy(o->watch, "0", sizeof(o->watch));
	for (int i = 0; i < SOAK_APPS; i++)
		o->strategies[i] = true;
	for (int i = 0; i < SOAK_NKINDS; i++)
		o->kinds[i] = true;
	for (int i = 0; i < SOAK_NCHAOS; i++)
		o->chaos[i] = true;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--keep-going") == 0) {
			o->keep_going = true;
			continue;
		}
		if (i + 1 >= argc)
			return soak_usage();
		if ((rc = soak_parse_opt(o, argv[i], argv[i + 1])) != 0)
			return rc;
		i++;
	}
	return 0;
}

/* soak_baseline deploys version 1 of both apps (healthy, no chaos) as
 * round 0; *n counts the rounds played. */
static bool soak_baseline(soak *s, soak_round *rounds, int *n)
{
	for (int a = 0; a < SOAK_APPS; a++) {
		soak_round *r = &rounds[(*n)++];
		bool alive;

		memset(r, 0, sizeof(*r));
		r->ok = true;
		r->app = (soak_app)a;
		r->batch = "100%";
		osp_strlcpy(r->scale_down, "600s", sizeof(r->scale_down));
		alive = soak_round_run(s, r);
		soak_print_round(s, r);
		if (!alive || !r->ok)
			return false;
	}
	return true;
}

int main(int argc, char **argv)
{
	soak s = { 0 };
	soak_round *rounds = NULL;
	int rc, n = 0, played;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((rc = soak_parse(argc, argv, &s.o)) != 0)
		return rc;
	s.rng = s.o.seed;
	signal(SIGINT, soak_on_signal);
	signal(SIGTERM, soak_on_signal);
	printf("soak: seed %llu, %d rounds on %d agents (replay: soak --rounds %d --seed %llu)\n",
		(unsigned long long)s.o.seed, s.o.rounds, SOAK_NODES, s.o.rounds,
		(unsigned long long)s.o.seed);
	rounds = calloc((size_t)s.o.rounds + SOAK_APPS, sizeof(*rounds));
	if (rounds == NULL || (s.e = h_setup("soak")) == NULL) {
		fprintf(stderr, "soak: cannot set up\n");
		free(rounds);
		return 1;
	}
	printf("soak: temp dir %s (OSPEC_TEST_KEEP=1 keeps it)\n", s.e->dir);
	rc = 1;
	if (!soak_fleet_start(&s)) {
		fprintf(stderr, "soak: the fleet did not start (logs in %s)\n", s.e->dir);
		goto out;
	}
	if (!soak_baseline(&s, rounds, &n))
		goto summary;
	for (int i = 1; i <= s.o.rounds && !soak_stop; i++) {
		soak_round *r = &rounds[n++];
		bool alive;

		soak_pick(&s, r, i);
		alive = soak_round_run(&s, r);
		soak_print_round(&s, r);
		if (!alive || (!r->ok && !s.o.keep_going))
			break;
	}
summary:
	soak_summary(&s, rounds, n);
	rc = 0;
	for (int i = 0; i < n; i++)
		rc |= !rounds[i].ok;
	played = n - SOAK_APPS;
	if (played < s.o.rounds) {
		printf("soak: stopped after %d of %d rounds\n", played < 0 ? 0 : played, s.o.rounds);
		rc = 1;
	}
out:
	h_teardown(s.e);
	free(rounds);
	return rc;
}
