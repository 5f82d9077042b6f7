/*
 * it_rolling_safety.c - issue 9 on a real rolling fleet: a rollout never
 * leaves a node on the wrong release. Revert targets come from the agent's
 * own record, (app, version) is bound to one sha256, an unhealthy release
 * fails fast, the post-deploy watch rolls back, a voided command is never
 * applied late, and a reason holds only this release's output on one table
 * line. Every check is what an operator sees: GET / on each node, `status`,
 * `nodes`.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "ospec/util.h"

#define RS_MAX 4
/* a deploy that ends when its last batch is done: no post-deploy watch */
#define RS_NO_WATCH "--watch", "0"
#define RS_DEPLOY(f, a, id, err, ...) \
	h_deploy((f)->e, (a)->v, (a)->url, (a)->sha, (id), (err), __VA_ARGS__, NULL)

static const char *const rs_ids[RS_MAX] = { "web-1", "web-2", "web-3", "web-4" };

typedef struct rs_fleet {
	h_env *e;
	int n;
	int ports[RS_MAX];
} rs_fleet;

static int rs_setup(void **state)
{
	return h_fixture_setup(state, sizeof(rs_fleet), "rsafety");
}

/* rs_start_hb: a coordinator telling agents to beat every heartbeat, and n
 * agents (web-1..), each app on its own port. */
static void rs_start_hb(rs_fleet *f, int n, const char *heartbeat)
{

	f->n = n;
	assert_non_null(h_coord_start(f->e, heartbeat, NULL));
	for (int i = 0; i < n; i++) {
		f->ports[i] = h_free_port();
		assert_non_null(
			h_agent_start_app(f->e, rs_ids[i], "role=web", "hello", f->ports[i]));
	}
	if (!h_wait_nodes_up(f->e, n, h_ms(20000)))
		fail_msg("%d agents did not all come up", n);
}

static void rs_start(rs_fleet *f, int n)
{
	rs_start_hb(f, n, "500ms");
}

static void rs_answers(rs_fleet *f, char *buf, size_t len)
{
	size_t off = 0;
	char got[64];

	buf[0] = '\0';
	for (int i = 0; i < f->n && off < len; i++) {
		h_app_answer(f->ports[i], got, sizeof(got));
		off += (size_t)snprintf(buf + off, len - off, "%s%s='%s'", i ? ", " : "", rs_ids[i],
			got);
	}
}

struct rs_want {
	rs_fleet *f;
	int node; /* -1: every node */
	const char *version;
};

static bool rs_answer_is(h_env *e, void *arg)
{
	struct rs_want *w = arg;
	char got[64];

	(void)e;
	for (int i = 0; i < w->f->n; i++) {
		if (w->node >= 0 && i != w->node)
			continue;
		h_app_answer(w->f->ports[i], got, sizeof(got));
		if (strcmp(got, w->version) != 0)
			return false;
	}
	return true;
}

/* rs_expect_all waits up to ms for every node to answer version on GET /;
 * when says at which point of the test. */
static void rs_expect_all(rs_fleet *f, const char *version, int ms, const char *when)
{
	struct rs_want w = { f, -1, version };
	char seen[512];

	if (h_wait_for(rs_answer_is, f->e, &w, ms))
		return;
	rs_answers(f, seen, sizeof(seen));
	fail_msg("%s: every node should answer '%s' on GET /; they answer: %s", when, version,
		seen);
}

/* rs_expect_node waits up to ms for node i to answer version, then requires
 * it to keep answering it for stay_ms. */
static void rs_expect_node(rs_fleet *f, int i, const char *version, int ms, int stay_ms)
{
	struct rs_want w = { f, i, version };
	char got[64];
	int64_t end;

	if (!h_wait_for(rs_answer_is, f->e, &w, ms)) {
		h_app_answer(f->ports[i], got, sizeof(got));
		fail_msg("%s answers '%s' on GET /, expected '%s' within %d s", rs_ids[i], got,
			version, ms / 1000);
	}
	end = osp_now_mono_ms() + stay_ms;
	while (osp_now_mono_ms() < end) {
		h_app_answer(f->ports[i], got, sizeof(got));
		if (strcmp(got, version) != 0)
			fail_msg("%s answered '%s', then '%s' on GET /: it must stay on '%s'",
				rs_ids[i], version, got, version);
		osp_sleep_ms(200);
	}
}

/* rs_expect_status_versions: status shows every node on the version it
 * serves (per node "version" = what it runs after its last answer). */
static void rs_expect_status_versions(rs_fleet *f, const char *id, const char *version)
{
	osp_json *st = h_status(f->e, id);

	if (st == NULL)
		fail_msg("status %s: no answer", id);
	for (int i = 0; i < f->n; i++) {
		const osp_json *s = h_step(st, rs_ids[i]);
		if (s == NULL)
			fail_msg("status %s: node %s missing", id, rs_ids[i]);
		if (strcmp(h_str(s, "version"), version) != 0)
			fail_msg("status %s: node %s (step %s) shows version '%s'; it serves '%s'",
				id, rs_ids[i], h_str(s, "step"), h_str(s, "version"), version);
	}
	osp_json_free(st);
}

struct rs_field {
	const char *id, *node, *key, *want;
	char last[64];
};

static bool rs_field_is(h_env *e, void *arg)
{
	struct rs_field *w = arg;
	osp_json *st = h_status(e, w->id);
	const osp_json *o = w->node != NULL ? h_step(st, w->node) : st;
	bool ok;

	osp_strlcpy(w->last, h_str(o, w->key), sizeof(w->last));
	ok = strcmp(w->last, w->want) == 0;
	osp_json_free(st);
	return ok;
}

/* rs_wait_field waits up to ms for a status field (of node, or of the
 * rollout when node is NULL) to read want. */
static void rs_wait_field(rs_fleet *f, const char *id, const char *node, const char *key,
	const char *want, int ms)
{
	struct rs_field w = { id, node, key, want, "" };

	if (!h_wait_for(rs_field_is, f->e, &w, ms))
		fail_msg("rollout %s%s%s: %s is '%s' after %d s, expected '%s'", id,
			node != NULL ? " node " : "", node != NULL ? node : "", key, w.last,
			ms / 1000, want);
}

struct rs_health {
	rs_fleet *f;
	int node; /* -1: every node */
	const char *version;
	bool healthy;
	char last[160];
};

static bool rs_health_is(h_env *e, void *arg)
{
	struct rs_health *w = arg;
	osp_json *nodes = h_ctl_json(e, NULL, "nodes", NULL);
	bool ok = nodes != NULL;

	for (int i = 0; ok && i < w->f->n; i++) {
		const osp_json *a = h_node_app(h_node(nodes, rs_ids[i]), "hello");
		const osp_json *h = a != NULL ? osp_json_get(a, "healthy") : NULL;
		if (w->node >= 0 && i != w->node)
			continue;
		snprintf(w->last, sizeof(w->last), "%s: version '%s', healthy %s", rs_ids[i],
			h_str(a, "version"), h == NULL ? "absent" : h->b ? "true" : "false");
		ok = h != NULL && h->type == OSP_JSON_BOOL && h->b == w->healthy &&
			strcmp(h_str(a, "version"), w->version) == 0;
	}
	osp_json_free(nodes);
	return ok;
}

/* rs_expect_nodes_health waits up to ms for `nodes --json` to report app
 * hello at version with apps[].healthy == healthy (node i, or all: -1). */
static void rs_expect_nodes_health(rs_fleet *f, int node, const char *version, bool healthy,
	int ms)
{
	struct rs_health w = { f, node, version, healthy, "" };

	if (!h_wait_for(rs_health_is, f->e, &w, ms))
		fail_msg("nodes --json after %d s: %s; expected version '%s', healthy %s",
			ms / 1000, w.last, version, healthy ? "true" : "false");
}

/* rs_deploy_ok deploys a to every node at once, no watch, and checks it. */
static void rs_deploy_ok(rs_fleet *f, const h_art *a, char *id)
{
	char *err = NULL, what[64];

	snprintf(what, sizeof(what), "deploy %s", a->v);
	h_expect_exit(RS_DEPLOY(f, a, id, &err, "--batch", "100%", "--wait", RS_NO_WATCH), 0,
		what, &err);
	rs_expect_all(f, a->v, h_ms(5000), what);
}

/* v2 everywhere, then at once an unhealthy v3 one node at a time: the failed
 * node goes back to what IT ran (2), whatever the inventory still says. */
static void test_rs_revert_uses_agent_record(void **state)
{
	rs_fleet *f = *state;
	h_art v1, v2, v3;
	char id[64], *err = NULL;
	int code;

	/* the default heartbeat: the inventory lags what agents run by seconds */
	rs_start_hb(f, 4, "5s");
	h_art_make(f->e, &v1, "1", NULL);
	h_art_make(f->e, &v2, "2", NULL);
	h_art_make(f->e, &v3, "3", "FAIL_HEALTH=1");
	rs_deploy_ok(f, &v1, id);
	rs_deploy_ok(f, &v2, id);
	code = RS_DEPLOY(f, &v3, id, &err, "--batch", "1", "--health-deadline", "5s", "--wait");
	if (code == 0)
		fail_msg("deploy 3 (its /health answers 500) exited 0");
	free(err);
	h_expect_end(f->e, id, "failed", h_ms(10000));
	rs_expect_all(f, "2", h_ms(5000), "after the failed deploy of 3");
	rs_expect_status_versions(f, id, "2");
}

/* A digest nothing matches, right after v2: the fetch fails, there is
 * nothing to undo, every node stays on 2. */
static void test_rs_wrong_sha_after_deploy(void **state)
{
	rs_fleet *f = *state;
	h_art v1, v2, v4;
	char id[64], *err = NULL;

	rs_start_hb(f, 4, "5s");
	h_art_make(f->e, &v1, "1", NULL);
	h_art_make(f->e, &v2, "2", NULL);
	h_art_make(f->e, &v4, "4", NULL);
	rs_deploy_ok(f, &v1, id);
	rs_deploy_ok(f, &v2, id);
	osp_strlcpy(v4.sha, "0bad0bad0bad0bad0bad0bad0bad0bad0bad0bad0bad0bad0bad0bad0bad0bad",
		sizeof(v4.sha));
	h_expect_exit(RS_DEPLOY(f, &v4, id, &err, "--batch", "1", "--wait"), 1,
		"deploy 4 with a sha256 nothing has", &err);
	rs_expect_all(f, "2", h_ms(5000), "after the failed deploy of 4");
	rs_expect_status_versions(f, id, "2");
}

/* (app, version) names one sha256: another digest for a known version, or a
 * known digest under another version, is a usage error naming the digests. */
static void test_rs_version_bound_to_sha(void **state)
{
	rs_fleet *f = *state;
	h_art v1, v2, other, nine;
	char id[64], id2[64], *err = NULL;
	osp_json *st;
	int code;

	rs_start(f, 3);
	h_art_make(f->e, &v1, "1", NULL);
	h_art_make(f->e, &v2, "2", NULL);
	h_art_make(f->e, &other, "1-other", NULL);
	rs_deploy_ok(f, &v1, id);
	rs_deploy_ok(f, &v2, id2);
	/* version 1 again, with other code */
	osp_strlcpy(other.v, "1", sizeof(other.v));
	code = RS_DEPLOY(f, &other, id, &err, "--batch", "100%", RS_NO_WATCH);
	if (code != 2)
		fail_msg("deploy of version 1 with another sha256: exit %d, expected 2; "
			 "stderr:\n%s", code, err);
	if (strstr(err, v1.sha) == NULL || strstr(err, other.sha) == NULL)
		fail_msg("the refusal must name version 1's sha256 %s and the new one %s; "
			 "stderr:\n%s", v1.sha, other.sha, err);
	free(err);
	/* v2's digest under a new version */
	nine = v2;
	osp_strlcpy(nine.v, "9", sizeof(nine.v));
	h_expect_exit(RS_DEPLOY(f, &nine, id, &err, "--batch", "100%", RS_NO_WATCH), 2,
		"deploy of v2's sha256 as version 9", &err);
	rs_expect_all(f, "2", h_ms(5000), "after the refused deploys");
	st = h_status(f->e, id2);
	assert_non_null(st);
	if (strcmp(h_str(st, "sha256"), v2.sha) != 0)
		fail_msg("status %s: sha256 '%s', expected '%s'", id2, h_str(st, "sha256"), v2.sha);
	osp_json_free(st);
	st = h_ctl_json(f->e, NULL, "rollouts", NULL);
	assert_non_null(st);
	if (st->n != 2)
		fail_msg("%zu rollouts exist; the two refused deploys must not make any", st->n);
	osp_json_free(st);
}

/* /health always 500: the stage fails after --health-fall checks, not at the
 * 60 s --health-deadline. */
static void test_rs_fail_fast(void **state)
{
	rs_fleet *f = *state;
	h_art v1, sick;
	char id[64], *err = NULL;
	int64_t t0, ms;
	int code;

	rs_start(f, 3);
	h_art_make(f->e, &v1, "1", NULL);
	h_art_make(f->e, &sick, "5", "FAIL_HEALTH=1");
	rs_deploy_ok(f, &v1, id);
	t0 = osp_now_mono_ms();
	code = RS_DEPLOY(f, &sick, id, &err, "--batch", "1", "--health-deadline", "60s", "--wait",
		"--timeout", "45s");
	ms = osp_now_mono_ms() - t0;
	if (code == 5)
		fail_msg("an always-unhealthy release was still staging after 45 s: no fail fast");
	h_expect_exit(code, 1, "deploy 5 (its /health answers 500)", &err);
	if (ms > h_ms(25000))
		fail_msg("the rollout took %lld ms to fail; --health-fall 3 x 500ms should end it "
			 "well before the 60 s deadline", (long long)ms);
	h_expect_end(f->e, id, "failed", h_ms(5000));
	rs_expect_all(f, "1", h_ms(5000), "after the failed deploy of 5");
}

/* A release that turns unhealthy after its stage, inside --watch: the fleet
 * is reverted, the rollout ends rolled_back, nodes report healthy again. */
static void test_rs_watch_auto_rollback(void **state)
{
	rs_fleet *f = *state;
	h_art v1, v2;
	char id[64], *err = NULL;
	osp_json *st;
	bool named = false;

	rs_start(f, 3);
	h_art_make(f->e, &v1, "1", NULL);
	h_art_make(f->e, &v2, "2", "FAIL_AFTER=5");
	rs_deploy_ok(f, &v1, id);
	h_expect_exit(RS_DEPLOY(f, &v2, id, &err, "--batch", "100%", "--watch", "60s", "--wait",
			       "--timeout", "55s"),
		1, "deploy 2 (unhealthy 5 s after start) with --watch 60s", &err);
	h_expect_end(f->e, id, "rolled_back", h_ms(5000));
	st = h_status(f->e, id);
	assert_non_null(st);
	for (int i = 0; i < f->n; i++) {
		const char *step = h_str(h_step(st, rs_ids[i]), "step");
		named = named || strstr(h_str(st, "reason"), rs_ids[i]) != NULL;
		if (strcmp(step, "reverted") != 0)
			fail_msg("status %s: node %s step '%s', expected 'reverted'", id, rs_ids[i],
				step);
	}
	if (!named)
		fail_msg("status %s: the reason must name the unhealthy node: '%s'", id,
			h_str(st, "reason"));
	osp_json_free(st);
	rs_expect_all(f, "1", h_ms(5000), "after the rollback");
	rs_expect_nodes_health(f, -1, "1", true, h_ms(15000));
}

/* The same with --no-auto-rollback: the rollout fails as soon as a node
 * turns unhealthy, nothing is reverted, `nodes` shows the truth. */
static void test_rs_watch_no_auto_rollback(void **state)
{
	rs_fleet *f = *state;
	h_art v1, v2;
	char id[64], *err = NULL;
	osp_json *st;
	int code;

	rs_start(f, 3);
	h_art_make(f->e, &v1, "1", NULL);
	h_art_make(f->e, &v2, "2", "FAIL_AFTER=5");
	rs_deploy_ok(f, &v1, id);
	code = RS_DEPLOY(f, &v2, id, &err, "--batch", "100%", "--watch", "60s",
		"--no-auto-rollback", "--wait", "--timeout", "50s");
	if (code == 5)
		fail_msg("deploy 2 still running 50 s in: it must fail once a node is unhealthy");
	h_expect_exit(code, 1, "deploy 2 (unhealthy 5 s after start) --no-auto-rollback", &err);
	h_expect_end(f->e, id, "failed", h_ms(5000));
	st = h_status(f->e, id);
	assert_non_null(st);
	for (int i = 0; i < f->n; i++)
		if (strcmp(h_str(h_step(st, rs_ids[i]), "step"), "reverted") == 0)
			fail_msg("status %s: node %s was reverted despite --no-auto-rollback", id,
				rs_ids[i]);
	osp_json_free(st);
	rs_expect_all(f, "2", h_ms(5000), "after the failed watch");
	rs_expect_nodes_health(f, -1, "2", false, h_ms(15000));
}

/* rs_expect_table_rows: `status ID` (table) prints one line per node and
 * no line that continues a reason (the app's stderr lines start "hello:"). */
static void rs_expect_table_rows(rs_fleet *f, const char *id)
{
	char *out = NULL, line[2048];
	int seen[RS_MAX] = { 0 };
	bool table = false;

	h_expect_exit(h_ctl(f->e, &out, NULL, "status", id, NULL), 0, "status", NULL);
	for (const char *p = out; p != NULL && *p != '\0';) {
		const char *nl = strchr(p, '\n');
		int len = nl != NULL ? (int)(nl - p) : (int)strlen(p);
		int k;

		snprintf(line, sizeof(line), "%.*s", len, p);
		p = nl != NULL ? nl + 1 : NULL;
		if (strncmp(line + strspn(line, " \t"), "hello:", 6) == 0)
			fail_msg("status %s: a reason runs onto its own line: '%s'\n%s", id, line,
				out);
		if (!table) {
			table = strncmp(line, "NODE", 4) == 0;
			continue;
		}
		for (k = 0; k < f->n; k++)
			if (strncmp(line, rs_ids[k], strlen(rs_ids[k])) == 0 &&
				line[strlen(rs_ids[k])] == ' ')
				break;
		if (k == f->n)
			fail_msg("status %s: table line that is not a node row: '%s'\n%s", id, line,
				out);
		seen[k]++;
	}
	for (int k = 0; k < f->n; k++)
		if (seen[k] != 1)
			fail_msg("status %s: %d rows for node %s, expected 1\n%s", id, seen[k],
				rs_ids[k], out ? out : "");
	free(out);
}

/* A crash (its stderr line), then a release that fails health without
 * crashing: the second reason holds only the second release's output, and
 * the status table keeps one line per node. */
static void test_rs_reason_this_release_only(void **state)
{
	rs_fleet *f = *state;
	h_art v1, crash, sick;
	char id1[64], id2[64], id[64], *err = NULL;
	const char *reason;
	osp_json *st;

	rs_start(f, 3);
	h_art_make(f->e, &v1, "1", NULL);
	h_art_make(f->e, &crash, "5", "CRASH=1");
	h_art_make(f->e, &sick, "6", "FAIL_HEALTH=1");
	rs_deploy_ok(f, &v1, id);
	h_expect_exit(RS_DEPLOY(f, &crash, id1, &err, "--batch", "1", "--health-deadline", "5s",
			       "--wait"),
		1, "deploy 5 (crashes at start)", &err);
	st = h_status(f->e, id1);
	reason = h_str(h_step(st, "web-1"), "reason");
	if (strstr(reason, "crashing on purpose") == NULL)
		fail_msg("status %s: web-1's reason lacks the app's crash line: '%s'", id1, reason);
	osp_json_free(st);
	/* few checks, so few lines of its own: an unbounded tail would still
	 * show the crash above them */
	h_expect_exit(RS_DEPLOY(f, &sick, id2, &err, "--batch", "1", "--health-interval", "2s",
			       "--health-deadline", "4s", "--wait"),
		1, "deploy 6 (its /health answers 500)", &err);
	st = h_status(f->e, id2);
	reason = h_str(h_step(st, "web-1"), "reason");
	if (strstr(reason, "health failing on purpose") == NULL)
		fail_msg("status %s: web-1's reason lacks this release's stderr: '%s'", id2,
			reason);
	if (strstr(reason, "crashing on purpose") != NULL)
		fail_msg("status %s: web-1's reason shows release 5's output: '%s'", id2, reason);
	osp_json_free(st);
	rs_expect_table_rows(f, id2);
	rs_expect_table_rows(f, id1);
	rs_expect_all(f, "1", h_ms(5000), "after the failed deploys of 5 and 6");
}

/* rs_stage_began waits until node i runs the release sha: started by its
 * agent, not healthy yet (the artifact has a START_DELAY). */
static void rs_stage_began(rs_fleet *f, int i, const char *sha)
{
	char needle[400];
	int64_t end = osp_now_mono_ms() + h_ms(30000);

	snprintf(needle, sizeof(needle), "agent-%s/releases/%s", rs_ids[i], sha);
	while (h_count_procs(f->e, needle) == 0) {
		if (osp_now_mono_ms() >= end)
			fail_msg("%s never started release %s", rs_ids[i], sha);
		osp_sleep_ms(20);
	}
}

/* rs_voided_setup: v1 everywhere, then a slow v2 to all nodes at once with
 * short deadlines; returns once web-2 has started v2 (not healthy yet). */
static void rs_voided_setup(rs_fleet *f, h_art *v2, char *id)
{
	h_art v1;
	char *err = NULL;

	rs_start(f, 3);
	h_art_make(f->e, &v1, "1", NULL);
	h_art_make(f->e, v2, "2", "START_DELAY=2500");
	rs_deploy_ok(f, &v1, id);
	h_expect_exit(RS_DEPLOY(f, v2, id, &err, "--batch", "100%", "--health-deadline", "10s",
			       "--progress-deadline", "15s", RS_NO_WATCH),
		0, "deploy 2", &err);
	rs_stage_began(f, 1, v2->sha);
}

/* rs_voided_end: web-2's stage is voided (unreachable, rollout failed). */
static void rs_voided_end(rs_fleet *f, const char *id)
{
	osp_json *st;

	h_expect_end(f->e, id, "failed", h_ms(90000));
	st = h_status(f->e, id);
	assert_non_null(st);
	if (strcmp(h_str(h_step(st, "web-2"), "step"), "unreachable") != 0)
		fail_msg("status %s: web-2 step '%s', expected 'unreachable'", id,
			h_str(h_step(st, "web-2"), "step"));
	osp_json_free(st);
}

/* web-2's agent stops mid-stage and resumes after its step was voided: it
 * ends on the release it ran before, for good. */
static void test_rs_voided_after_sigstop(void **state)
{
	rs_fleet *f = *state;
	h_art v2;
	char id[64];
	h_proc *agent;

	rs_voided_setup(f, &v2, id);
	agent = h_proc_named(f->e, "agent-web-2");
	assert_non_null(agent);
	kill(agent->pid, SIGSTOP);
	rs_wait_field(f, id, "web-2", "step", "staging", h_ms(5000));
	rs_voided_end(f, id);
	kill(agent->pid, SIGCONT);
	rs_expect_node(f, 1, "1", h_ms(30000), h_ms(5000));
	rs_expect_nodes_health(f, 1, "1", true, h_ms(15000));
	rs_expect_node(f, 1, "1", 0, h_ms(3000));
}

/* The same with kill -9 mid-stage and a restart after the deadline. */
static void test_rs_voided_after_kill(void **state)
{
	rs_fleet *f = *state;
	h_art v2;
	char id[64];

	rs_voided_setup(f, &v2, id);
	h_kill(f->e, h_proc_named(f->e, "agent-web-2"), SIGKILL);
	rs_wait_field(f, id, "web-2", "step", "staging", h_ms(5000));
	rs_voided_end(f, id);
	assert_non_null(h_agent_start_app(f->e, "web-2", "role=web", "hello", f->ports[1]));
	rs_expect_node(f, 1, "1", h_ms(30000), h_ms(5000));
	rs_expect_nodes_health(f, 1, "1", true, h_ms(15000));
	rs_expect_node(f, 1, "1", 0, h_ms(3000));
}

/* rs_watching deploys a healthy v to all nodes with a 60 s watch and
 * returns when the rollout says it is watching. */
static void rs_watching(rs_fleet *f, const h_art *a, char *id)
{
	char *err = NULL;
	osp_json *st;

	h_expect_exit(RS_DEPLOY(f, a, id, &err, "--batch", "100%", "--watch", "60s"), 0,
		"deploy with --watch 60s", &err);
	rs_wait_field(f, id, NULL, "phase", "watching", h_ms(30000));
	st = h_status(f->e, id);
	assert_non_null(st);
	if (strcmp(h_str(st, "state"), "running") != 0 || h_str(st, "watch_until")[0] == '\0')
		fail_msg("status %s while watching: state '%s', watch_until '%s'", id,
			h_str(st, "state"), h_str(st, "watch_until"));
	osp_json_free(st);
	rs_expect_all(f, a->v, h_ms(5000), "while watching");
}

static void test_rs_abort_during_watch(void **state)
{
	rs_fleet *f = *state;
	h_art v1, v6;
	char id[64], *err = NULL;

	rs_start(f, 3);
	h_art_make(f->e, &v1, "1", NULL);
	h_art_make(f->e, &v6, "6", NULL);
	rs_deploy_ok(f, &v1, id);
	rs_watching(f, &v6, id);
	h_expect_exit(h_ctl(f->e, NULL, &err, "abort", id, NULL), 0, "abort while watching",
		&err);
	h_expect_end(f->e, id, "aborted", h_ms(30000));
	rs_expect_all(f, "1", h_ms(5000), "after abort");
}

static void test_rs_rollback_during_watch(void **state)
{
	rs_fleet *f = *state;
	h_art v1, v7;
	char id[64], first[64] = "", *out = NULL, *err = NULL;

	rs_start(f, 3);
	h_art_make(f->e, &v1, "1", NULL);
	h_art_make(f->e, &v7, "7", NULL);
	rs_deploy_ok(f, &v1, id);
	rs_watching(f, &v7, id);
	h_expect_exit(h_ctl(f->e, &out, &err, "rollback", id, NULL), 0,
		"rollback while watching", &err);
	sscanf(out, "%63s", first);
	if (strcmp(first, id) != 0)
		fail_msg("rollback of a watching rollout printed '%s' first, expected its id %s",
			first, id);
	free(out);
	h_expect_end(f->e, id, "rolled_back", h_ms(30000));
	rs_expect_all(f, "1", h_ms(5000), "after rollback");
}

#define RS_TEST(fn) cmocka_unit_test_setup_teardown(fn, rs_setup, h_fixture_teardown)

/* main [PATTERN]: runs the tests whose names match PATTERN ("*" wildcards),
 * or all of them. */
int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		RS_TEST(test_rs_revert_uses_agent_record),
		RS_TEST(test_rs_wrong_sha_after_deploy),
		RS_TEST(test_rs_version_bound_to_sha),
		RS_TEST(test_rs_fail_fast),
		RS_TEST(test_rs_watch_auto_rollback),
		RS_TEST(test_rs_watch_no_auto_rollback),
		RS_TEST(test_rs_reason_this_release_only),
		RS_TEST(test_rs_voided_after_sigstop),
		RS_TEST(test_rs_voided_after_kill),
		RS_TEST(test_rs_abort_during_watch),
		RS_TEST(test_rs_rollback_during_watch),
	};

	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
