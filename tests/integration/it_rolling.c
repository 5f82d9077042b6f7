/*
 * it_rolling.c - rolling deploys end to end: real coordinator, real agents,
 * the real sample app, on loopback (each agent gives the app its own port).
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

#define IT_NODES 5

typedef struct it_fleet {
	h_env *e;
	int ports[IT_NODES];
	char url[8][600];
	char sha[8][65];
} it_fleet;

static const char *const it_ids[IT_NODES] = { "n1", "n2", "n3", "n4", "n5" };

static int it_setup(void **state)
{
	it_fleet *f = calloc(1, sizeof(*f));

	if (f == NULL || (f->e = h_setup("rolling")) == NULL)
		return -1;
	*state = f;
	return 0;
}

static int it_teardown(void **state)
{
	it_fleet *f = *state;

	h_teardown(f->e);
	free(f);
	return 0;
}

struct it_count {
	int want;
};

static bool it_up_is(h_env *e, void *arg)
{
	return h_nodes_up(e) == ((struct it_count *)arg)->want;
}

/* it_fleet_start: a coordinator and n agents, each app on its own port, and
 * artifacts 1 (good), 2 (good), 3 (fails health). */
static void it_fleet_start(it_fleet *f, int n)
{
	struct it_count up = { n };
	static const char *const bad[] = { "FAIL_HEALTH=", NULL };

	assert_non_null(h_coord_start(f->e, "500ms", NULL));
	for (int i = 0; i < n; i++) {
		f->ports[i] = h_free_port();
		assert_non_null(h_agent_start_app(f->e, it_ids[i], "role=web", "hello", f->ports[i]));
	}
	assert_true(h_wait_for(it_up_is, f->e, &up, h_ms(20000)));
	assert_true(h_artifact(f->e, "1", NULL, f->url[1], f->sha[1]));
	assert_true(h_artifact(f->e, "2", NULL, f->url[2], f->sha[2]));
	assert_true(h_artifact(f->e, "3", bad, f->url[3], f->sha[3]));
}

static void it_assert_all(it_fleet *f, int n, const char *version)
{
	char got[64];

	for (int i = 0; i < n; i++) {
		h_app_answer(f->ports[i], got, sizeof(got));
		if (strcmp(got, version) != 0)
			fail_msg("node %s answers '%s', expected '%s'", it_ids[i], got, version);
	}
}

static const osp_json *it_step(const osp_json *status, const char *node)
{
	const osp_json *nodes = osp_json_get(status, "nodes");

	for (size_t i = 0; nodes != NULL && i < nodes->n; i++)
		if (strcmp(osp_json_get_str(nodes->items[i], "node"), node) == 0)
			return nodes->items[i];
	return NULL;
}

/* batches never overlap: every node of batch k+1 started after every node
 * of batch k finished (RFC 3339 UTC strings compare as times) */
static void it_assert_batches_in_order(const osp_json *status)
{
	const osp_json *nodes = osp_json_get(status, "nodes");

	for (size_t i = 0; i < nodes->n; i++) {
		for (size_t j = 0; j < nodes->n; j++) {
			const osp_json *a = nodes->items[i], *b = nodes->items[j];
			if (osp_json_get_int(b, "batch", 0) != osp_json_get_int(a, "batch", 0) + 1)
				continue;
			assert_true(strcmp(osp_json_get_str(b, "started"),
					    osp_json_get_str(a, "finished")) >= 0);
		}
	}
}

static void test_rolling_v1_then_v2(void **state)
{
	it_fleet *f = *state;
	char id[64], *err = NULL;
	osp_json *st;

	it_fleet_start(f, IT_NODES);
	assert_int_equal(h_deploy(f->e, "1", f->url[1], f->sha[1], id, &err, "--batch", "2",
				 "--wait", NULL),
		0);
	free(err);
	it_assert_all(f, IT_NODES, "1");
	assert_int_equal(h_deploy(f->e, "2", f->url[2], f->sha[2], id, &err, "--batch", "2",
				 "--wait", NULL),
		0);
	free(err);
	it_assert_all(f, IT_NODES, "2");
	st = h_status(f->e, id);
	assert_non_null(st);
	assert_string_equal(osp_json_get_str(st, "state"), "succeeded");
	assert_int_equal(osp_json_get_int(st, "batches", 0), 3);
	it_assert_batches_in_order(st);
	assert_string_equal(osp_json_get_str(it_step(st, "n3"), "previous_version"), "1");
	osp_json_free(st);
}

static void test_rolling_failed_health_reverts(void **state)
{
	it_fleet *f = *state;
	char id[64], *err = NULL, got[64];
	osp_json *st;
	const char *reason;

	it_fleet_start(f, IT_NODES);
	assert_int_equal(h_deploy(f->e, "2", f->url[2], f->sha[2], id, NULL, "--batch", "5",
				 "--wait", NULL),
		0);
	assert_int_equal(h_deploy(f->e, "3", f->url[3], f->sha[3], id, &err, "--batch", "2",
				 "--health-deadline", "3s", "--wait", NULL),
		1);
	free(err);
	st = h_status(f->e, id);
	assert_non_null(st);
	assert_string_equal(osp_json_get_str(st, "state"), "failed");
	reason = osp_json_get_str(st, "reason");
	assert_non_null(strstr(reason, "n1"));
	reason = osp_json_get_str(it_step(st, "n1"), "reason");
	assert_non_null(strstr(reason, "HTTP 500"));                      /* the check */
	assert_non_null(strstr(reason, "health failing on purpose"));     /* the stderr tail */
	assert_string_equal(osp_json_get_str(it_step(st, "n1"), "step"), "reverted");
	assert_string_equal(osp_json_get_str(it_step(st, "n3"), "step"), "pending");
	osp_json_free(st);
	/* the failing batch is back on 2, the rest never left it */
	it_assert_all(f, IT_NODES, "2");
	h_app_answer(f->ports[0], got, sizeof(got));
	assert_string_equal(got, "2");
}

static void test_rolling_wrong_sha256(void **state)
{
	it_fleet *f = *state;
	char id[64], *err = NULL;
	osp_json *st;
	const char *reason;

	it_fleet_start(f, 2);
	assert_int_equal(h_deploy(f->e, "1", f->url[1], f->sha[1], id, NULL, "--batch", "2",
				 "--wait", NULL),
		0);
	/* v2's URL with v3's digest (not in any cache: a cached digest is its
	 * own proof and is never downloaded again) */
	assert_int_equal(h_deploy(f->e, "2", f->url[2], f->sha[3], id, &err, "--wait", NULL), 1);
	free(err);
	st = h_status(f->e, id);
	reason = osp_json_get_str(it_step(st, "n1"), "reason");
	assert_non_null(strstr(reason, "sha256 mismatch: expected "));
	assert_non_null(strstr(reason, f->sha[3])); /* what it wanted */
	/* a file:// artifact is a host file: its own digest is never shown */
	assert_null(strstr(reason, f->sha[2]));
	osp_json_free(st);
	it_assert_all(f, 2, "1");
}

static void test_rolling_second_deploy_refused_pause_resume(void **state)
{
	it_fleet *f = *state;
	char id[64], id2[64], *err = NULL;
	osp_json *st;
	int code;

	it_fleet_start(f, 3);
	assert_int_equal(h_deploy(f->e, "1", f->url[1], f->sha[1], id, NULL, NULL), 0);
	assert_int_equal(h_ctl(f->e, NULL, NULL, "pause", id, NULL), 0);
	/* one rollout per app */
	code = h_deploy(f->e, "2", f->url[2], f->sha[2], id2, &err, NULL);
	assert_int_equal(code, 1);
	assert_non_null(strstr(err, id));
	free(err);
	/* paused survives a coordinator restart */
	h_kill(f->e, f->e->coord, SIGKILL);
	assert_non_null(h_coord_start(f->e, "500ms", NULL));
	st = h_status(f->e, id);
	assert_string_equal(osp_json_get_str(st, "state"), "paused");
	osp_json_free(st);
	assert_int_equal(h_ctl(f->e, NULL, NULL, "resume", id, NULL), 0);
	assert_int_equal(h_ctl(f->e, NULL, NULL, "watch", id, NULL), 0);
	it_assert_all(f, 3, "1");
}

static void test_rolling_coordinator_killed_midway(void **state)
{
	it_fleet *f = *state;
	char id[64], url[600], sha[65];
	static const char *const slow[] = { "START_DELAY=1500", NULL };
	osp_json *st;

	it_fleet_start(f, IT_NODES);
	assert_true(h_artifact(f->e, "2s", slow, url, sha));
	assert_int_equal(h_deploy(f->e, "2s", url, sha, id, NULL, "--batch", "1", NULL), 0);
	/* wait until the rollout is under way, then kill -9 the coordinator */
	for (int i = 0; i < 300; i++) {
		st = h_status(f->e, id);
		if (st != NULL && osp_json_get_int(st, "nodes_done", 0) >= 1) {
			osp_json_free(st);
			break;
		}
		osp_json_free(st);
		osp_sleep_ms(100);
	}
	h_kill(f->e, f->e->coord, SIGKILL);
	osp_sleep_ms(500);
	assert_non_null(h_coord_start(f->e, "500ms", NULL));
	assert_int_equal(h_ctl(f->e, NULL, NULL, "watch", id, NULL), 0);
	it_assert_all(f, IT_NODES, "2s");
}

static void test_rolling_down_node_unreachable(void **state)
{
	it_fleet *f = *state;
	char id[64], *err = NULL;
	osp_json *st;

	it_fleet_start(f, IT_NODES);
	h_kill(f->e, h_proc_named(f->e, "agent-n3"), SIGKILL);
	assert_int_equal(h_deploy(f->e, "1", f->url[1], f->sha[1], id, &err, "--batch", "2",
				 "--max-failures", "1", "--health-deadline", "5s",
				 "--progress-deadline", "8s", "--wait", NULL),
		0);
	free(err);
	st = h_status(f->e, id);
	assert_string_equal(osp_json_get_str(st, "state"), "succeeded");
	assert_string_equal(osp_json_get_str(it_step(st, "n3"), "step"), "unreachable");
	assert_string_equal(osp_json_get_str(it_step(st, "n5"), "step"), "done");
	osp_json_free(st);
}

static void test_rolling_agent_killed_while_staging(void **state)
{
	it_fleet *f = *state;
	char id[64], url[600], sha[65], needle[400], got[64], pidfile[400];
	static const char *const slow[] = { "START_DELAY=3000", NULL };
	osp_json *st = NULL;
	int i;

	it_fleet_start(f, 2);
	assert_true(h_artifact(f->e, "7", slow, url, sha));
	assert_int_equal(h_deploy(f->e, "7", url, sha, id, NULL, "--batch", "2", NULL), 0);
	/* the app is started (its release dir is in its command line) but not
	 * healthy yet: kill -9 the agent now */
	snprintf(needle, sizeof(needle), "agent-n1/releases/%s", sha);
	snprintf(pidfile, sizeof(pidfile), "%s/agent-n1/run/hello.main.pid", f->e->dir);
	for (i = 0; i < 200 && (h_count_procs(f->e, needle) == 0 || access(pidfile, F_OK) != 0); i++)
		osp_sleep_ms(50);
	assert_true(i < 200);
	h_kill(f->e, h_proc_named(f->e, "agent-n1"), SIGKILL);
	assert_int_equal(h_count_procs(f->e, needle), 1); /* the app outlives its agent */
	assert_non_null(h_agent_start_app(f->e, "n1", "role=web", "hello", f->ports[0]));
	assert_int_equal(h_ctl(f->e, NULL, NULL, "watch", id, NULL), 0);
	assert_int_equal(h_count_procs(f->e, needle), 1); /* adopted, not doubled */
	h_app_answer(f->ports[0], got, sizeof(got));
	assert_string_equal(got, "7");
	st = h_status(f->e, id);
	assert_string_equal(osp_json_get_str(st, "state"), "succeeded");
	osp_json_free(st);
}

/* What a dry run must leave as it found it: every node's command log and
 * cursor, the event history, the commands handed out. */
struct it_untouched {
	int64_t log_end[IT_NODES], cursor[IT_NODES];
	char seen[IT_NODES][40]; /* last_seen (RFC 3339 UTC: compares as a time) */
	size_t events;
	int64_t newest;          /* seq of the newest event */
	char sent[64];           /* the ospec_commands_sent_total line */
	int n;
};

static void it_metric_line(h_env *e, const char *name, char *buf, size_t len)
{
	char *page = NULL, *at, *nl;
	int port = 0;

	buf[0] = '\0';
	sscanf(e->http, "127.0.0.1:%d", &port);
	assert_int_equal(h_http_get(port, "/metrics", &page), 200);
	at = strstr(page, name);
	while (at != NULL && at != page && at[-1] != '\n')
		at = strstr(at + 1, name);
	assert_non_null(at);
	if ((nl = strchr(at, '\n')) != NULL)
		*nl = '\0';
	osp_strlcpy(buf, at, len);
	free(page);
}

static void it_untouched_take(it_fleet *f, int n, struct it_untouched *u)
{
	osp_json *nodes = h_ctl_json(f->e, NULL, "nodes", NULL);
	osp_json *hist = h_ctl_json(f->e, NULL, "history", "--limit", "100000", NULL);
	const osp_json *ev;

	assert_non_null(nodes);
	assert_non_null(hist);
	memset(u, 0, sizeof(*u));
	u->n = n;
	for (int i = 0; i < n; i++) {
		const osp_json *x = h_node(nodes, it_ids[i]);
		assert_non_null(x);
		u->log_end[i] = osp_json_get_int(x, "log_end", -1);
		u->cursor[i] = osp_json_get_int(x, "cursor", -1);
		osp_strlcpy(u->seen[i], h_str(x, "last_seen"), sizeof(u->seen[i]));
	}
	ev = osp_json_get(hist, "events");
	assert_non_null(ev);
	u->events = ev->n;
	u->newest = ev->n > 0 ? osp_json_get_int(ev->items[0], "seq", -1) : 0;
	it_metric_line(f->e, "ospec_commands_sent_total ", u->sent, sizeof(u->sent));
	osp_json_free(nodes);
	osp_json_free(hist);
}

/* every node heartbeated since *arg was taken: the coordinator had its
 * chance to hand them anything queued */
static bool it_all_seen_since(h_env *e, void *arg)
{
	const struct it_untouched *u = arg;
	osp_json *nodes = h_ctl_json(e, NULL, "nodes", NULL);
	bool all = nodes != NULL;

	for (int i = 0; all && i < u->n; i++)
		all = strcmp(h_str(h_node(nodes, it_ids[i]), "last_seen"), u->seen[i]) > 0;
	osp_json_free(nodes);
	return all;
}

/* it_lines_are asserts text is exactly the lines want (NULL-terminated), each
 * compared with its inner runs of spaces squeezed to one and trailing spaces
 * dropped (the table's column widths are not the point; the indentation is);
 * a want line ending in '*' is a prefix. */
static void it_lines_are(const char *text, const char *const want[])
{
	char line[1024];
	const char *p = text;
	size_t i = 0;

	for (; want[i] != NULL; i++) {
		size_t n = 0, wl = strlen(want[i]);
		bool lead = true;

		if (*p == '\0')
			fail_msg("line %zu missing, want '%s' in:\n%s", i + 1, want[i], text);
		for (; *p != '\0' && *p != '\n'; p++) {
			lead = lead && *p == ' ';
			if (!lead && *p == ' ' && line[n - 1] == ' ')
				continue;
			if (n + 1 < sizeof(line))
				line[n++] = *p;
		}
		p += *p == '\n';
		while (n > 0 && line[n - 1] == ' ')
			n--;
		line[n] = '\0';
		if (wl > 0 && want[i][wl - 1] == '*' ? strncmp(line, want[i], wl - 1) != 0
						     : strcmp(line, want[i]) != 0)
			fail_msg("line %zu is '%s', want '%s' in:\n%s", i + 1, line, want[i], text);
	}
	if (*p != '\0')
		fail_msg("more than the %zu lines expected: '%s' in:\n%s", i, p, text);
}

/* it_plan_node asserts the i-th entry of a plan's nodes[]. */
static void it_plan_node(const osp_json *plan, size_t i, const char *node, int batch,
	const char *runs, const char *sha)
{
	const osp_json *nodes = osp_json_get(plan, "nodes"), *x;

	assert_non_null(nodes);
	assert_true(i < nodes->n);
	x = nodes->items[i];
	assert_string_equal(h_str(x, "node"), node);
	assert_int_equal(osp_json_get_int(x, "batch", -1), batch);
	assert_string_equal(h_str(x, "step"), "pending");
	/* nothing was sent: each node still reports what it runs */
	assert_string_equal(h_str(x, "version"), runs);
	assert_string_equal(h_str(x, "sha256"), sha);
	assert_string_equal(h_str(x, "previous_version"), runs);
	assert_null(osp_json_get_str(x, "started"));
	assert_null(osp_json_get_str(x, "finished"));
}

/* A dry run prints the whole plan (every batch, in order, and the release
 * it would send) and stores and sends nothing: no rollout, no command in any
 * node's log, no event, even after every agent heartbeated since. */
static void test_rolling_recreate_and_dry_run(void **state)
{
	it_fleet *f = *state;
	char id[64], *out = NULL, *err = NULL, sha_line[128];
	struct it_untouched before, after;
	osp_json *plan, *st;
	int code;
	const char *const table[] = { "rollout dry-run: hello 2 pending (rolling)",
		"  created *", sha_line, "NODE BATCH STEP VERSION SECONDS REASON",
		"n1 1 pending 1 -", "n2 1 pending 1 -", "n3 2 pending 1 -", NULL };

	it_fleet_start(f, 3);
	assert_int_equal(h_deploy(f->e, "1", f->url[1], f->sha[1], id, NULL, "--batch", "3",
				 "--wait", NULL),
		0);
	it_untouched_take(f, 3, &before);
	assert_int_equal(h_ctl(f->e, &out, &err, "deploy", "--app", "hello", "--version", "2",
				 "--artifact", f->url[2], "--sha256", f->sha[2], "--run",
				 "bin/hello --port {port}", "--port", "8080", "--batch", "2",
				 "--dry-run", NULL),
		0);
	snprintf(sha_line, sizeof(sha_line), "  phase queued; sha256 %s", f->sha[2]);
	it_lines_are(out, table);
	assert_non_null(strstr(out, "; nodes 3, done 0, failed 0; batch 0 of 2\n"));
	assert_string_equal(err, "");
	free(out);
	free(err);
	/* the same plan as JSON: the release and how it would be rolled out */
	plan = h_ctl_json(f->e, &code, "deploy", "--app", "hello", "--version", "2", "--artifact",
		f->url[2], "--sha256", f->sha[2], "--run", "bin/hello --port {port}", "--port",
		"8080", "--batch", "2", "--dry-run", NULL);
	assert_int_equal(code, 0);
	assert_non_null(plan);
	assert_string_equal(h_str(plan, "id"), "dry-run");
	assert_string_equal(h_str(plan, "app"), "hello");
	assert_string_equal(h_str(plan, "version"), "2");
	assert_string_equal(h_str(plan, "state"), "pending");
	assert_string_equal(h_str(plan, "strategy"), "rolling");
	assert_string_equal(h_str(plan, "phase"), "queued");
	assert_string_equal(h_str(plan, "sha256"), f->sha[2]);
	assert_string_equal(h_str(plan, "artifact"), f->url[2]);
	assert_string_equal(h_str(plan, "run"), "bin/hello --port {port}");
	assert_string_equal(h_str(plan, "batch_size"), "2");
	assert_string_equal(h_str(plan, "max_failures"), "0");
	assert_int_equal(osp_json_get_int(plan, "nodes_total", -1), 3);
	assert_int_equal(osp_json_get_int(plan, "nodes_done", -1), 0);
	assert_int_equal(osp_json_get_int(plan, "batches", -1), 2);
	assert_int_equal(osp_json_get_int(plan, "current_batch", -1), 0);
	assert_null(osp_json_get_str(plan, "started"));
	assert_int_equal(osp_json_get(plan, "nodes")->n, 3);
	it_plan_node(plan, 0, "n1", 1, "1", f->sha[1]);
	it_plan_node(plan, 1, "n2", 1, "1", f->sha[1]);
	it_plan_node(plan, 2, "n3", 2, "1", f->sha[1]);
	osp_json_free(plan);

	/* nothing stored, nothing sent: checked once every agent heartbeated
	 * after both dry runs (a queued command would have been handed out) */
	it_untouched_take(f, 3, &after);
	assert_true(h_wait_for(it_all_seen_since, f->e, &after, h_ms(10000)));
	it_untouched_take(f, 3, &after);
	for (int i = 0; i < 3; i++) {
		if (after.log_end[i] != before.log_end[i] || after.cursor[i] != before.cursor[i])
			fail_msg("node %s: log end %lld cursor %lld, before the dry run %lld %lld",
				it_ids[i], (long long)after.log_end[i], (long long)after.cursor[i],
				(long long)before.log_end[i], (long long)before.cursor[i]);
	}
	assert_string_equal(after.sent, before.sent);
	assert_int_equal(after.events, before.events);
	assert_int_equal(after.newest, before.newest);
	st = h_ctl_json(f->e, NULL, "rollouts", NULL);
	assert_non_null(st);
	assert_int_equal(st->n, 1);
	assert_string_equal(h_str(st->items[0], "id"), id);
	osp_json_free(st);
	assert_int_equal(h_ctl(f->e, NULL, NULL, "status", "dry-run", NULL), 4);
	it_assert_all(f, 3, "1");

	assert_int_equal(h_deploy(f->e, "2", f->url[2], f->sha[2], id, NULL, "--strategy",
				 "recreate", "--wait", NULL),
		0);
	it_assert_all(f, 3, "2");
	st = h_status(f->e, id);
	assert_string_equal(osp_json_get_str(st, "strategy"), "recreate");
	osp_json_free(st);
}

struct it_down {
	const char *id;
};

static bool it_node_down(h_env *e, void *arg)
{
	osp_json *nodes = h_ctl_json(e, NULL, "nodes", NULL);
	const osp_json *n = h_node(nodes, ((struct it_down *)arg)->id);
	bool down = n != NULL && strcmp(osp_json_get_str(n, "state"), "down") == 0;

	osp_json_free(nodes);
	return down;
}

static bool it_n1_log_is_one(h_env *e, void *arg)
{
	osp_json *nodes = h_ctl_json(e, NULL, "nodes", NULL);
	const osp_json *n = h_node(nodes, "n1");
	bool ok = n != NULL && osp_json_get_int(n, "log_end", -1) == 1 &&
		osp_json_get_int(n, "cursor", -1) == 1;

	(void)arg;
	osp_json_free(nodes);
	return ok;
}

/* A node forgotten while a rollout waits for it, and registered again as a
 * new instance, gets nothing of that rollout (no late command, no voided
 * entry in its new log), and later rollouts reach it normally. */
static void test_rolling_forget_mid_rollout(void **state)
{
	it_fleet *f = *state;
	char id[64], state_dir[400], cfg[400], got[64];
	char *argv[8];
	struct it_down down = { "n1" };

	it_fleet_start(f, 2);
	assert_int_equal(h_deploy(f->e, "1", f->url[1], f->sha[1], id, NULL, "--batch", "2",
				 "--wait", NULL),
		0);
	h_kill(f->e, h_proc_named(f->e, "agent-n1"), SIGKILL);
	assert_true(h_wait_for(it_node_down, f->e, &down, h_ms(10000)));
	/* n1's stage stays outstanding: the rollout waits for its deadline */
	assert_int_equal(h_deploy(f->e, "2", f->url[2], f->sha[2], id, NULL, "--batch", "2",
				 "--max-failures", "1", "--health-deadline", "5s",
				 "--progress-deadline", "6s", NULL),
		0);
	assert_int_equal(h_ctl(f->e, NULL, NULL, "forget", "n1", NULL), 0);
	/* the host comes back reinstalled: its old app is gone, a new instance
	 * registers under the same id */
	h_kill_procs(f->e, "agent-n1/");
	snprintf(state_dir, sizeof(state_dir), "%s/agent-n1-new", f->e->dir);
	snprintf(cfg, sizeof(cfg), "%s/agent-n1.yaml", f->e->dir);
	argv[0] = (char *)h_bin("ospec-agent");
	argv[1] = "--id";
	argv[2] = "n1";
	argv[3] = "--coordinator";
	argv[4] = f->e->agents_url;
	argv[5] = "--state";
	argv[6] = state_dir;
	argv[7] = NULL;
	{
		char *argv2[10];
		memcpy(argv2, argv, sizeof(char *) * 7);
		argv2[7] = "-c";
		argv2[8] = cfg;
		argv2[9] = NULL;
		assert_non_null(h_spawn(f->e, "agent-n1-new", argv2));
	}
	assert_int_equal(h_ctl(f->e, NULL, NULL, "watch", id, NULL), 0); /* n1 unreachable */
	/* a later rollout reaches the new n1 */
	assert_int_equal(h_deploy(f->e, "1", f->url[1], f->sha[1], id, NULL, "--batch", "2",
				 "--wait", NULL),
		0);
	h_app_answer(f->ports[0], got, sizeof(got));
	assert_string_equal(got, "1");
	/* the new n1's log holds exactly that one stage: nothing of the old
	 * rollout was written into it */
	assert_true(h_wait_for(it_n1_log_is_one, f->e, NULL, h_ms(10000)));
}

/* it_rolling [PATTERN]: only the tests whose name matches PATTERN (cmocka's
 * filter, * and ? wildcards) */
int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rolling_v1_then_v2, it_setup, it_teardown),
		cmocka_unit_test_setup_teardown(test_rolling_failed_health_reverts, it_setup,
			it_teardown),
		cmocka_unit_test_setup_teardown(test_rolling_wrong_sha256, it_setup, it_teardown),
		cmocka_unit_test_setup_teardown(test_rolling_second_deploy_refused_pause_resume,
			it_setup, it_teardown),
		cmocka_unit_test_setup_teardown(test_rolling_coordinator_killed_midway, it_setup,
			it_teardown),
		cmocka_unit_test_setup_teardown(test_rolling_down_node_unreachable, it_setup,
			it_teardown),
		cmocka_unit_test_setup_teardown(test_rolling_agent_killed_while_staging, it_setup,
			it_teardown),
		cmocka_unit_test_setup_teardown(test_rolling_recreate_and_dry_run, it_setup,
			it_teardown),
		cmocka_unit_test_setup_teardown(test_rolling_forget_mid_rollout, it_setup,
			it_teardown),
	};

	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
