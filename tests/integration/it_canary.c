/*
 * it_canary.c - the canary strategy with real processes: a coordinator, and
 * per node a real haproxy (or nginx) in front of the app's blue and green
 * slots, its agent, and the sample app; a load generator sends requests
 * through every node's proxy all along.
 *
 *   - a good release walks every weight, is analysed at each, and promotes;
 *   - a release that answers 500 to 10% of its requests is reset to weight
 *     0 within interval x threshold (plus the answers' round trip), ends
 *     failed with the numbers, and the node outside the rollout never sees
 *     it;
 *   - kill -9 of the coordinator while the canary bakes: it resumes at the
 *     recorded weight, sends no weight twice, and promotes;
 *   - the same good canary through nginx (weights in the upstream include,
 *     counters from its access log).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "ospec/util.h"

#define CN_NODES 3 /* n1, n2 run the canary; n3 stays out of it */

static const char *const cn_ids[CN_NODES] = { "n1", "n2", "n3" };

typedef struct cn_fleet {
	h_env *e;
	h_proc *coord;
	int front[CN_NODES], blue[CN_NODES], green[CN_NODES];
	char url[4][600], sha[4][65];
	bool nginx;
} cn_fleet;

static int cn_setup(void **state)
{
	return h_fixture_setup(state, sizeof(cn_fleet), "canary");
}

/* cn_start: coordinator, per node a proxy and its agent (n1, n2 role=web,
 * n3 role=other); releases 1 (good), 2 (good) and 3 (500 on 10% of GET /). */
static void cn_start(cn_fleet *f, bool nginx)
{
	static const char *const bad[] = { "FAIL_PCT=10", NULL };
	char name[16], proxy[1536];

	f->nginx = nginx;
	assert_non_null(f->coord = h_coord_start(f->e, "500ms", NULL));
	for (int i = 0; i < CN_NODES; i++) {
		const char *labels = i < 2 ? "role=web" : "role=other";

		h_slot_ports(&f->front[i], &f->blue[i], &f->green[i]);
		snprintf(name, sizeof(name), "%s%d", nginx ? "nginx" : "haproxy", i + 1);
		if (nginx) {
			if (h_nginx_start(f->e, name, f->front[i], f->blue[i]) == NULL)
				fail_msg("nginx %s did not start", name);
			snprintf(proxy, sizeof(proxy),
				"      driver: nginx\n"
				"      nginx:\n"
				"        binary: /usr/sbin/nginx\n"
				"        prefix: %s/%s\n"
				"        conf: %s/%s/nginx.conf\n"
				"        upstream_file: %s/%s/hello.upstream\n"
				"        access_log: %s/%s/access.log\n",
				f->e->dir, name, f->e->dir, name, f->e->dir, name, f->e->dir, name);
			assert_non_null(h_agent_start_proxy(f->e, cn_ids[i], labels, f->blue[i],
				f->green[i], proxy));
		} else {
			assert_non_null(h_haproxy_start(f->e, name, f->front[i], f->blue[i],
				f->green[i]));
			assert_non_null(h_agent_start_bg(f->e, cn_ids[i], labels, f->blue[i],
				f->green[i], name, NULL));
		}
	}
	if (!h_wait_nodes_up(f->e, CN_NODES, h_ms(20000)))
		fail_msg("the agents did not all come up");
	assert_true(h_artifact(f->e, "1", NULL, f->url[1], f->sha[1]));
	assert_true(h_artifact(f->e, "2", NULL, f->url[2], f->sha[2]));
	assert_true(h_artifact(f->e, "3", bad, f->url[3], f->sha[3]));
}

static void cn_ports_arg(cn_fleet *f, char *buf, size_t len)
{
	snprintf(buf, len, "blue=%d,green=%d", f->blue[0], f->green[0]);
}

/* cn_v1: release 1 on every node, blue-green (slot blue: a first deploy). */
static void cn_v1(cn_fleet *f)
{
	char ports[64], id[64], *err = NULL;
	int code;

	cn_ports_arg(f, ports, sizeof(ports));
	code = h_deploy(f->e, "1", f->url[1], f->sha[1], id, &err, "--strategy", "blue_green",
		"--ports", ports, "--batch", "100%", "--wait", NULL);
	if (code != 0)
		fail_msg("deploy 1: exit %d: %s", code, err ? err : "");
	free(err);
}

/* cn_deploy_canary runs a canary deploy of release v on role=web (no
 * --wait) with the defaults of these tests (weights 25 then 50, 2 s
 * intervals, 2 failed analyses reset) and extra flags (NULL-terminated, at
 * most 8, later ones win); returns ospecctl's exit code, stderr in *err. */
static int cn_deploy_canary(cn_fleet *f, int v, char *id, char **err, const char *const extra[])
{
	char ports[64], ver[4];
	const char *x[8] = { 0 };

	for (int k = 0; extra != NULL && extra[k] != NULL && k < 8; k++)
		x[k] = extra[k];
	cn_ports_arg(f, ports, sizeof(ports));
	snprintf(ver, sizeof(ver), "%d", v);
	return h_deploy(f->e, ver, f->url[v], f->sha[v], id, err, "--strategy", "canary",
		"--ports", ports, "--select", "role=web", "--batch", "100%", "--canary-step", "25",
		"--canary-max", "50", "--analysis-interval", "2s", "--analysis-threshold", "2",
		"--analysis-min-requests", "5", "--analysis-max-latency", "2s", x[0], x[1], x[2],
		x[3], x[4], x[5], x[6], x[7], NULL);
}

/* cn_canary is cn_deploy_canary that must be accepted; a1, a2 extra. */
static void cn_canary(cn_fleet *f, int v, char *id, const char *a1, const char *a2)
{
	const char *const extra[] = { a1, a1 != NULL ? a2 : NULL, NULL };
	char *err = NULL;
	int code = cn_deploy_canary(f, v, id, &err, extra);

	if (code != 0)
		fail_msg("deploy %d (canary): exit %d: %s", v, code, err ? err : "");
	free(err);
	assert_true(id[0] != '\0');
}

/* cn_ts_ms reads a history time "YYYY-MM-DDTHH:MM:SS.mmmZ". */
static int64_t cn_ts_ms(const char *s)
{
	struct tm tm = { 0 };
	int ms = 0;
	const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);

	if (rest == NULL || sscanf(rest, ".%3dZ", &ms) != 1)
		return -1;
	return (int64_t)timegm(&tm) * 1000 + ms;
}

/* cn_history returns the rollout's events, oldest first, as one JSON array
 * (the caller frees the document in *doc). */
static const osp_json *cn_history(cn_fleet *f, const char *id, osp_json **doc)
{
	*doc = h_ctl_json(f->e, NULL, "history", "--rollout", id, NULL);
	assert_non_null(*doc);
	return osp_json_get(*doc, "events");
}

/* cn_events counts the rollout's events of kind whose message has needle
 * (NULL: any); *first_ms gets the time of the oldest one (may be NULL). */
static int cn_events(cn_fleet *f, const char *id, const char *kind, const char *needle,
	int64_t *first_ms)
{
	osp_json *doc;
	const osp_json *ev = cn_history(f, id, &doc);
	int n = 0;

	for (size_t i = 0; ev != NULL && i < ev->n; i++) {
		const osp_json *e = ev->items[i];

		if (strcmp(h_str(e, "kind"), kind) != 0 ||
			(needle != NULL && strstr(h_str(e, "message"), needle) == NULL))
			continue;
		n++;
		if (first_ms != NULL) /* newest first: the last match is the oldest */
			*first_ms = cn_ts_ms(h_str(e, "ts"));
	}
	osp_json_free(doc);
	return n;
}

/* cn_haproxy asks node i's haproxy (admin socket) cmd; the answer goes to
 * buf. */
static bool cn_haproxy(cn_fleet *f, int i, const char *cmd, char *buf, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t got = 0;
	ssize_t n;
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/haproxy%d.sock", f->e->dir, i + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0)
		return false;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
		write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd) || write(fd, "\n", 1) != 1) {
		close(fd);
		return false;
	}
	while (got + 1 < len && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	close(fd);
	return true;
}

/* cn_weight reads server's current weight on node i ("get weight"). */
static int cn_weight(cn_fleet *f, int i, const char *server)
{
	char cmd[64], buf[256];
	int w = -1;

	snprintf(cmd, sizeof(cmd), "get weight hello/%s", server);
	if (cn_haproxy(f, i, cmd, buf, sizeof(buf)))
		sscanf(buf, "%d", &w);
	return w;
}

typedef struct cn_wait {
	const char *id, *phase;
	long weight;
} cn_wait;

static bool cn_at(h_env *e, void *arg)
{
	cn_wait *w = arg;
	osp_json *st = h_status(e, w->id);
	const osp_json *c = st != NULL ? osp_json_get(st, "canary") : NULL;
	bool ok = c != NULL && osp_json_get_int(c, "weight", -1) == w->weight &&
		strcmp(h_str(st, "phase"), w->phase) == 0;

	osp_json_free(st);
	return ok;
}

/* cn_wait_at waits until rollout id is in phase at weight. */
static void cn_wait_at(cn_fleet *f, const char *id, const char *phase, long weight)
{
	cn_wait w = { id, phase, weight };

	if (!h_wait_for(cn_at, f->e, &w, h_ms(60000))) {
		osp_json *st = h_status(f->e, id);
		fail_msg("rollout %s never was '%s' at %ld%% (now %s, %s)", id, phase, weight,
			h_str(st, "phase"), h_str(st, "reason"));
	}
}

static void cn_end(cn_fleet *f, const char *id, const char *want)
{
	char state[32];

	if (!h_wait_terminal(f->e, id, h_ms(120000), state, sizeof(state)) ||
		strcmp(state, want) != 0) {
		osp_json *st = h_status(f->e, id);
		fail_msg("rollout %s ended '%s' (%s), expected %s", id, state, h_str(st, "reason"),
			want);
	}
}

/* cn_fronts_answer: every front of nodes [from, to) answers v (20 tries). */
static void cn_fronts_answer(cn_fleet *f, int from, int to, const char *v)
{
	char got[64];

	for (int i = from; i < to; i++)
		for (int k = 0; k < 20; k++) {
			h_app_answer(f->front[i], got, sizeof(got));
			if (strcmp(got, v) != 0)
				fail_msg("node %s's proxy answered '%s', expected '%s'", cn_ids[i], got,
					v);
		}
}

/* A good release: 25%, analysed, 50%, analysed, promoted; no request
 * failed on the way, and n3 never saw it. */
static void test_canary_good_promotes(void **state)
{
	cn_fleet *f = *state;
	char id[64];
	h_load *web, *other;
	long reqs, fails, oreqs, ofails;
	bool seen[10], oseen[10];

	cn_start(f, false);
	cn_v1(f);
	web = h_load_start(f->front, 2, 300);
	other = h_load_start(&f->front[2], 1, 300);
	assert_non_null(web);
	assert_non_null(other);
	cn_canary(f, 2, id, NULL, NULL);
	cn_wait_at(f, id, "baking", 25);
	/* the recorded weight is what haproxy holds */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(cn_weight(f, i, "hello_green"), 25);
		assert_int_equal(cn_weight(f, i, "hello_blue"), 75);
	}
	cn_end(f, id, "succeeded");
	h_load_stop(web, &reqs, &fails, seen);
	h_load_stop(other, &oreqs, &ofails, oseen);
	fprintf(stderr, "good canary under load: %ld requests, %ld failed\n", reqs, fails);
	assert_int_equal(cn_events(f, id, "canary.weight", "25%", NULL), 1);
	assert_int_equal(cn_events(f, id, "canary.weight", "50%", NULL), 1);
	assert_true(cn_events(f, id, "canary.analysis", "passed at 25%", NULL) >= 1);
	assert_true(cn_events(f, id, "canary.analysis", "passed at 50%", NULL) >= 1);
	assert_int_equal(cn_events(f, id, "canary.promote", NULL, NULL), 1);
	assert_int_equal(fails, 0);
	assert_true(seen[1] && seen[2]);
	/* promoted: green alone, at its configured weight */
	cn_fronts_answer(f, 0, 2, "2");
	for (int i = 0; i < 2; i++)
		assert_int_equal(cn_weight(f, i, "hello_green"), 1);
	/* the node outside the rollout */
	assert_int_equal(ofails, 0);
	assert_true(oseen[1] && !oseen[2]);
	cn_fronts_answer(f, 2, 3, "1");
}

/* 10% of the canary's answers are 500: reset to 0 within interval x
 * threshold of the first bake, failed with the numbers; n3 untouched. */
static void test_canary_5xx_reset(void **state)
{
	cn_fleet *f = *state;
	char id[64], log[400];
	h_load *web, *other;
	long reqs, fails, oreqs, ofails;
	bool seen[10], oseen[10];
	int64_t baking = 0, reset = 0;
	osp_json *st;

	cn_start(f, false);
	cn_v1(f);
	web = h_load_start(f->front, 2, 300);
	other = h_load_start(&f->front[2], 1, 300);
	assert_non_null(web);
	assert_non_null(other);
	cn_canary(f, 3, id, "--canary-initial", "50");
	cn_end(f, id, "failed");
	h_load_stop(web, &reqs, &fails, seen);
	h_load_stop(other, &oreqs, &ofails, oseen);
	fprintf(stderr, "5xx canary under load: %ld requests, %ld failed\n", reqs, fails);
	st = h_status(f->e, id);
	assert_non_null(strstr(h_str(st, "reason"), "canary reset from 50%"));
	assert_non_null(strstr(h_str(st, "reason"), "success rate below 99.00%"));
	assert_non_null(strstr(h_str(st, "reason"), "2 nodes back at weight 0"));
	osp_json_free(st);
	/* within interval x threshold (2 x 2 s) of the first bake, plus the
	 * counters' round trips */
	assert_int_equal(cn_events(f, id, "canary.baking", NULL, &baking), 1);
	assert_int_equal(cn_events(f, id, "canary.reset", NULL, &reset), 1);
	fprintf(stderr, "5xx canary: reset %lld ms after the first bake began\n",
		(long long)(reset - baking));
	assert_true(reset - baking >= 4000);
	assert_true(reset - baking <= 4000 + h_ms(3000));
	assert_int_equal(cn_events(f, id, "canary.promote", NULL, NULL), 0);
	assert_true(fails > 0 && seen[3]); /* it did get traffic, and failed some */
	/* back on release 1 at the configured weights */
	cn_fronts_answer(f, 0, 2, "1");
	for (int i = 0; i < 2; i++)
		assert_int_equal(cn_weight(f, i, "hello_blue"), 1);
	/* n3: never a command about release 3, never a failed request */
	assert_int_equal(ofails, 0);
	assert_true(oseen[1] && !oseen[3]);
	snprintf(log, sizeof(log), "%s/agent-n3.log", f->e->dir);
	if (h_file_contains(log, "version '3'"))
		fail_msg("%s mentions release 3: n3 got a command", log);
	assert_int_equal(cn_weight(f, 2, "hello_blue"), 1);
}

/* kill -9 of the coordinator while the canary bakes at 25%: after the
 * restart it is still at 25%, sends no weight twice, and promotes; a
 * haproxy restarted meanwhile gets its weight back from the agent. */
static void test_canary_coordinator_kill_resumes(void **state)
{
	cn_fleet *f = *state;
	char id[64];
	h_load *web;
	long reqs, fails;
	bool seen[10];

	cn_start(f, false);
	cn_v1(f);
	web = h_load_start(f->front, 2, 300);
	assert_non_null(web);
	cn_canary(f, 2, id, "--analysis-interval", "4s");
	cn_wait_at(f, id, "baking", 25);
	h_kill(f->e, f->coord, SIGKILL);
	/* the proxies keep the weight while the coordinator is away */
	for (int i = 0; i < 2; i++)
		assert_int_equal(cn_weight(f, i, "hello_green"), 25);
	assert_non_null(f->coord = h_coord_start(f->e, "500ms", NULL));
	{
		osp_json *st = h_status(f->e, id);
		const osp_json *c = osp_json_get(st, "canary");
		assert_non_null(c);
		assert_int_equal(osp_json_get_int(c, "weight", -1), 25);
		osp_json_free(st);
	}
	/* n1's haproxy restarts from its file (green disabled): the agent's
	 * proxy watch puts the recorded weight back, so the canary serves again */
	{
		char cfg[400], got[64];
		h_proc *hp = h_proc_named(f->e, "haproxy-haproxy1");
		bool canary = false;
		int64_t end;

		assert_non_null(hp);
		h_kill(f->e, hp, SIGKILL);
		snprintf(cfg, sizeof(cfg), "%s/haproxy1.cfg", f->e->dir);
		assert_non_null(h_spawn(f->e, "haproxy-haproxy1",
			(char *[]){ "/usr/sbin/haproxy", "-db", "-f", cfg, NULL }));
		end = osp_now_mono_ms() + h_ms(15000);
		while (!canary && osp_now_mono_ms() < end) {
			h_app_answer(f->front[0], got, sizeof(got));
			canary = strcmp(got, "2") == 0;
			osp_sleep_ms(20);
		}
		if (!canary)
			fail_msg("n1's haproxy restarted and never sent traffic to the canary again");
	}
	cn_end(f, id, "succeeded");
	h_load_stop(web, &reqs, &fails, seen);
	assert_int_equal(cn_events(f, id, "canary.weight", "25%", NULL), 1);
	assert_int_equal(cn_events(f, id, "canary.weight", "50%", NULL), 1);
	fprintf(stderr, "canary across a coordinator kill and a haproxy restart: %ld requests, "
		"%ld failed\n", reqs, fails);
	cn_fronts_answer(f, 0, 2, "2");
}

/* The coordinator dies right after it asked for the counters of the first
 * analysis (crash point): the proxies stay at 25% while it is away; after the
 * restart the analysis ends with the answers the agents re-send, no weight
 * is sent twice, and the canary promotes. */
static void test_canary_coordinator_crash_in_analysis(void **state)
{
	cn_fleet *f = *state;
	char id[64];
	h_load *web;
	long reqs, fails;
	bool seen[10];

	cn_start(f, false);
	cn_v1(f);
	h_kill(f->e, f->coord, SIGTERM);
	setenv("OSPEC_CRASH_POINT", "coordinator-in-analysis", 1);
	f->coord = h_coord_start(f->e, "500ms", NULL);
	unsetenv("OSPEC_CRASH_POINT");
	assert_non_null(f->coord);
	if (!h_wait_nodes_up(f->e, CN_NODES, h_ms(20000)))
		fail_msg("the agents did not come back");
	web = h_load_start(f->front, 2, 300);
	assert_non_null(web);
	cn_canary(f, 2, id, NULL, NULL);
	assert_int_not_equal(h_wait_exit(f->coord, h_ms(60000)), -1);
	assert_true(h_file_contains(f->coord->log, "OSP-CRASH-POINT"));
	for (int i = 0; i < 2; i++)
		assert_int_equal(cn_weight(f, i, "hello_green"), 25);
	assert_non_null(f->coord = h_coord_start(f->e, "500ms", NULL));
	cn_end(f, id, "succeeded");
	h_load_stop(web, &reqs, &fails, seen);
	assert_int_equal(cn_events(f, id, "canary.weight", "25%", NULL), 1);
	assert_int_equal(cn_events(f, id, "canary.weight", "50%", NULL), 1);
	assert_int_equal(cn_events(f, id, "canary.analysis", "at 25%", NULL), 1);
	assert_int_equal(fails, 0);
	cn_fronts_answer(f, 0, 2, "2");
}

/* nginx: the include carries the weights while the canary bakes; promoted,
 * it names green alone. */
static void test_canary_nginx(void **state)
{
	cn_fleet *f = *state;
	char id[64], path[400], want[64];
	h_load *web;
	long reqs, fails;
	bool seen[10];

	cn_start(f, true);
	cn_v1(f);
	web = h_load_start(f->front, 2, 300);
	assert_non_null(web);
	cn_canary(f, 2, id, NULL, NULL);
	cn_wait_at(f, id, "baking", 25);
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/nginx%d/hello.upstream", f->e->dir, i + 1);
		snprintf(want, sizeof(want), "127.0.0.1:%d weight=25", f->green[i]);
		if (!h_file_contains(path, want))
			fail_msg("%s does not say '%s'", path, want);
	}
	cn_end(f, id, "succeeded");
	h_load_stop(web, &reqs, &fails, seen);
	fprintf(stderr, "nginx canary under load: %ld requests, %ld failed\n", reqs, fails);
	assert_true(cn_events(f, id, "canary.analysis", "passed at 50%", NULL) >= 1);
	assert_true(seen[2]);
	cn_fronts_answer(f, 0, 2, "2");
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/nginx%d/hello.upstream", f->e->dir, i + 1);
		snprintf(want, sizeof(want), "server 127.0.0.1:%d;", f->green[i]);
		assert_true(h_file_contains(path, want));
	}
}

/* prom_up: Prometheus answers its readiness endpoint. */
static bool prom_up(h_env *e, void *arg)
{
	(void)e;
	return h_http_get(*(int *)arg, "/-/ready", NULL) == 200;
}

/* A real Prometheus (no scrape targets: the queries are constant
 * expressions) as the canary's external check: a query without its range is
 * a usage error; a value below the floor resets the canary; one within the
 * range lets it promote. */
static void test_canary_prometheus_query(void **state)
{
	cn_fleet *f = *state;
	char cfg[400], tsdb[400], listen[64], url[96], id[64], *err = NULL;
	int port = h_free_port();
	h_load *web;
	long reqs, fails;
	bool seen[10];
	osp_json *st;

	if (access("/usr/bin/prometheus", X_OK) != 0)
		fail_msg("/usr/bin/prometheus is missing (scripts/deps.sh installs it)");
	snprintf(cfg, sizeof(cfg), "%s/prometheus.yml", f->e->dir);
	snprintf(tsdb, sizeof(tsdb), "%s/prometheus-data", f->e->dir);
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	assert_int_equal(osp_file_write_atomic(cfg, "global: {scrape_interval: 15s}\n", 31, 0644),
		OSP_OK);
	assert_non_null(h_spawn(f->e, "prometheus", (char *[]){ "/usr/bin/prometheus",
		"--config.file", cfg, "--storage.tsdb.path", tsdb, "--web.listen-address", listen,
		NULL }));
	if (!h_wait_for(prom_up, f->e, &port, h_ms(30000)))
		fail_msg("prometheus did not get ready (see %s/prometheus.log)", f->e->dir);
	cn_start(f, false);
	cn_v1(f);
	{
		const char *const bad[] = { "--analysis-url", url, "--analysis-query", "vector(1)",
			NULL };
		assert_int_equal(cn_deploy_canary(f, 2, id, &err, bad), 2);
		assert_non_null(strstr(err, "--analysis-query-min"));
		free(err);
		err = NULL;
	}
	web = h_load_start(f->front, 2, 300);
	assert_non_null(web);
	{
		const char *const low[] = { "--analysis-url", url, "--analysis-query",
			"vector(0.5)", "--analysis-query-min", "0.99", NULL };
		assert_int_equal(cn_deploy_canary(f, 2, id, &err, low), 0);
		free(err);
		err = NULL;
		cn_end(f, id, "failed");
		st = h_status(f->e, id);
		assert_non_null(strstr(h_str(st, "reason"), "metrics query: value 0.5 below 0.99"));
		osp_json_free(st);
	}
	{
		const char *const ok[] = { "--analysis-url", url, "--analysis-query",
			"vector(0.999)", "--analysis-query-min", "0.99", NULL };

		assert_int_equal(cn_deploy_canary(f, 2, id, &err, ok), 0);
		free(err);
		cn_end(f, id, "succeeded");
		h_load_stop(web, &reqs, &fails, seen);
		assert_true(cn_events(f, id, "canary.analysis", "metrics query: value 0.999", NULL) >=
			2);
		cn_fronts_answer(f, 0, 2, "2");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_canary_good_promotes, cn_setup, h_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_canary_5xx_reset, cn_setup, h_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_canary_coordinator_kill_resumes, cn_setup,
			h_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_canary_coordinator_crash_in_analysis, cn_setup,
			h_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_canary_nginx, cn_setup, h_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_canary_prometheus_query, cn_setup,
			h_fixture_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
