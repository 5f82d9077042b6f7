/*
 * it_plans.c - OSpec plans (issue 11) on real coordinator and agent
 * processes in three regions (two nodes each): stages in order, `plan`
 * equals what ran, an approval gate that holds across a kill -9 of the
 * coordinator, and a failing region that stops the later ones before any
 * of their agents hears of the release.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "ospec/util.h"

#define PL_NODES 6

static const char *const pl_ids[PL_NODES] = { "ap-1", "ap-2", "eu-1", "eu-2", "us-1", "us-2" };
static const char *const pl_labels[PL_NODES] = { "region=ap-south", "region=ap-south",
	"region=eu-west", "region=eu-west", "region=us-east", "region=us-east" };

typedef struct pl_fleet {
	h_env *e;
	int ports[PL_NODES];
	char url1[600], sha1[65], url2[600], sha2[65];
	char doc[600];
} pl_fleet;

static int pl_setup(void **state)
{
	pl_fleet *f = calloc(1, sizeof(*f));

	if (f == NULL || (f->e = h_setup("plans")) == NULL) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int pl_teardown(void **state)
{
	pl_fleet *f = *state;

	h_teardown(f->e);
	free(f);
	return 0;
}

static bool pl_all_up(h_env *e, void *arg)
{
	(void)arg;
	return h_nodes_up(e) == PL_NODES;
}

/* pl_start_env: a coordinator, six agents in three regions, every node on
 * v1, and v2 packed; with env (an env_file per agent under DIR/env/) when
 * env is not NULL. */
static void pl_start_env(pl_fleet *f, const char *const env[PL_NODES])
{
	char id[64], *err = NULL, path[600];

	assert_non_null(h_coord_start(f->e, "500ms", NULL));
	if (env != NULL) {
		snprintf(path, sizeof(path), "%s/env", f->e->dir);
		assert_int_equal(mkdir(path, 0700), 0);
	}
	for (int i = 0; i < PL_NODES; i++) {
		f->ports[i] = h_free_port();
		if (env == NULL) {
			assert_non_null(h_agent_start_app(f->e, pl_ids[i], pl_labels[i], "hello",
				f->ports[i]));
			continue;
		}
		snprintf(path, sizeof(path), "%s/env/%s.env", f->e->dir, pl_ids[i]);
		FILE *fp = fopen(path, "w");
		assert_non_null(fp);
		fputs(env[i], fp);
		fclose(fp);
		assert_non_null(h_agent_start_env(f->e, pl_ids[i], pl_labels[i], "hello", f->ports[i],
			path));
	}
	if (!h_wait_for(pl_all_up, f->e, NULL, h_ms(20000)))
		fail_msg("the agents did not all come up");
	assert_true(h_artifact(f->e, "1", NULL, f->url1, f->sha1));
	assert_true(h_artifact(f->e, "2", NULL, f->url2, f->sha2));
	if (h_deploy(f->e, "1", f->url1, f->sha1, id, &err, "--batch", "100%", "--wait", NULL) != 0)
		fail_msg("deploy of v1 failed: %s", err ? err : "");
	free(err);
}

static void pl_start(pl_fleet *f)
{
	pl_start_env(f, NULL);
}

/* pl_write_doc writes an OSpec document with three stages (us, eu, ap);
 * eu_gate puts an approval gate before eu. */
static void pl_write_doc_secrets(pl_fleet *f, bool eu_gate, const char *secrets)
{
	FILE *fp;

	snprintf(f->doc, sizeof(f->doc), "%s/ospec.yaml", f->e->dir);
	fp = fopen(f->doc, "w");
	assert_non_null(fp);
	fprintf(fp,
		"name: hello\n"
		"description: three regions, one after the other\n"
		"stack:\n  language: C\n"
		"deployment:\n  strategy: rolling\n"
		"guardrails:\n  deployment:\n    health_check_retries: 2\n"
		"fleet:\n"
		"  app: hello\n"
		"  run: \"bin/hello --port {port}\"\n"
		"  port: 8080\n"
		"  artifact: \"file://%s/art/hello-{version}.tar.gz\"\n"
		"  watch: 0s\n"
		"  stages:\n"
		"    - {name: us, select: {region: us-east}, batch: 1, bake: 1s}\n"
		"    - {name: eu, select: {region: eu-west}, batch: 2%s}\n"
		"    - {name: ap, select: {region: ap-south}, batch: 50%%}\n"
		"%s",
		f->e->dir, eu_gate ? ", approval: true" : "", secrets ? secrets : "");
	fclose(fp);
}

static void pl_write_doc(pl_fleet *f, bool eu_gate)
{
	pl_write_doc_secrets(f, eu_gate, NULL);
}

/* pl_answers: the version every node's app answers, "a,b,..." in id order. */
static void pl_answers(pl_fleet *f, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (int i = 0; i < PL_NODES && o < len; i++) {
		char got[32];
		h_app_answer(f->ports[i], got, sizeof(got));
		o += (size_t)snprintf(buf + o, len - o, "%s%s=%s", i ? "," : "", pl_ids[i], got);
	}
}

static const osp_json *pl_stage(const osp_json *doc, const char *name)
{
	const osp_json *st = osp_json_get(doc, "stages");

	for (size_t i = 0; st != NULL && i < st->n; i++)
		if (strcmp(h_str(st->items[i], "name"), name) == 0)
			return st->items[i];
	return NULL;
}

/* pl_nodes_of writes a stage's "node:batch" list. */
static void pl_nodes_of(const osp_json *stage, char *buf, size_t len)
{
	const osp_json *n = osp_json_get(stage, "nodes");
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; n != NULL && i < n->n && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s:%lld", i ? "," : "",
			h_str(n->items[i], "node"), (long long)osp_json_get_int(n->items[i], "batch", 0));
}

struct pl_state {
	const char *id;
	const char *want;
	char last[64];
};

static bool pl_state_is(h_env *e, void *arg)
{
	struct pl_state *s = arg;
	osp_json *st = h_status(e, s->id);

	osp_strlcpy(s->last, st != NULL ? h_str(st, "state") : "?", sizeof(s->last));
	osp_json_free(st);
	return strcmp(s->last, s->want) == 0;
}

static void pl_wait_state(pl_fleet *f, const char *id, const char *want, int ms)
{
	struct pl_state s = { id, want, "" };

	if (!h_wait_for(pl_state_is, f->e, &s, h_ms(ms)))
		fail_msg("plan %s is '%s', expected '%s' within %d s", id, s.last, want, ms / 1000);
}

static void test_plan_stages_in_order_and_plan_equals_run(void **state)
{
	pl_fleet *f = *state;
	char id[64] = "", *out = NULL, *err = NULL, seen[256], want[128], got[128];
	osp_json *plan, *st;
	int code;

	pl_start(f);
	pl_write_doc(f, false);
	plan = h_ctl_json(f->e, &code, "plan", "-f", f->doc, "--version", "2", "--sha256", f->sha2,
		NULL);
	if (plan == NULL)
		fail_msg("plan --json failed (exit %d)", code);
	assert_string_equal(h_str(plan, "state"), "pending");
	code = h_ctl(f->e, &out, &err, "apply", "-f", f->doc, "--version", "2", "--sha256", f->sha2,
		"--wait", "--timeout", "240s", NULL);
	if (code != 0)
		fail_msg("apply --wait exited %d: %s", code, err ? err : "");
	sscanf(out, "%63s", id);
	free(out);
	free(err);
	st = h_status(f->e, id);
	assert_non_null(st);
	assert_string_equal(h_str(st, "kind"), "plan");
	assert_string_equal(h_str(st, "state"), "succeeded");
	/* what plan showed is what ran: the same nodes, in the same batches */
	for (size_t i = 0; i < 3; i++) {
		static const char *const names[] = { "us", "eu", "ap" };
		pl_nodes_of(pl_stage(plan, names[i]), want, sizeof(want));
		pl_nodes_of(pl_stage(st, names[i]), got, sizeof(got));
		if (strcmp(want, got) != 0)
			fail_msg("stage %s: plan showed %s, ran %s", names[i], want, got);
		assert_string_equal(h_str(pl_stage(st, names[i]), "state"), "succeeded");
	}
	pl_nodes_of(pl_stage(plan, "us"), want, sizeof(want));
	assert_string_equal(want, "us-1:1,us-2:2");
	pl_nodes_of(pl_stage(plan, "ap"), want, sizeof(want));
	assert_string_equal(want, "ap-1:1,ap-2:2");
	/* stage order: each starts after the one before finished (RFC 3339 UTC
	 * with milliseconds: text order is time order) */
	if (strcmp(h_str(pl_stage(st, "eu"), "started"), h_str(pl_stage(st, "us"), "finished")) < 0 ||
		strcmp(h_str(pl_stage(st, "ap"), "started"), h_str(pl_stage(st, "eu"), "finished")) < 0)
		fail_msg("stages overlapped: us %s..%s, eu %s..%s, ap %s..",
			h_str(pl_stage(st, "us"), "started"), h_str(pl_stage(st, "us"), "finished"),
			h_str(pl_stage(st, "eu"), "started"), h_str(pl_stage(st, "eu"), "finished"),
			h_str(pl_stage(st, "ap"), "started"));
	pl_answers(f, seen, sizeof(seen));
	assert_string_equal(seen, "ap-1=2,ap-2=2,eu-1=2,eu-2=2,us-1=2,us-2=2");
	osp_json_free(plan);
	osp_json_free(st);
	/* rollouts lists the plan (kind "plan") after its stages' rollouts,
	 * newest first */
	{
		osp_json *list = h_ctl_json(f->e, &code, "rollouts", NULL);
		char ids[256] = "";
		size_t o = 0;
		assert_non_null(list);
		for (size_t i = 0; i < list->n && i < 4; i++)
			o += (size_t)snprintf(ids + o, sizeof(ids) - o, "%s%s%s", i ? "," : "",
				h_str(list->items[i], "id"),
				strcmp(h_str(list->items[i], "kind"), "plan") == 0 ? "(plan)" : "");
		snprintf(want, sizeof(want), "%s.ap,%s.eu,%s.us,%s(plan)", id, id, id, id);
		assert_string_equal(ids, want);
		osp_json_free(list);
	}
}

/* pl_logs: every node's command log, "id=log_end/cursor,..." in id order
 * (the cursor caught up: the node executed all of it). */
static void pl_logs(pl_fleet *f, char *buf, size_t len)
{
	osp_json *nodes = h_ctl_json(f->e, NULL, "nodes", NULL);
	size_t o = 0;

	assert_non_null(nodes);
	buf[0] = '\0';
	for (int i = 0; i < PL_NODES && o < len; i++) {
		const osp_json *n = h_node(nodes, pl_ids[i]);
		o += (size_t)snprintf(buf + o, len - o, "%s%s=%lld/%lld", i ? "," : "", pl_ids[i],
			(long long)osp_json_get_int(n, "log_end", -1),
			(long long)osp_json_get_int(n, "cursor", -1));
	}
	osp_json_free(nodes);
}

static void test_plan_gate_holds_across_coordinator_kill(void **state)
{
	pl_fleet *f = *state;
	char id[64] = "", *out = NULL, *err = NULL, seen[256], logs_before[256], logs_after[256];
	osp_json *st, *hist;
	const osp_json *evs;
	int code;
	bool approved = false;

	pl_start(f);
	pl_write_doc(f, true);
	code = h_ctl(f->e, &out, &err, "apply", "-f", f->doc, "--version", "2", "--sha256", f->sha2,
		NULL);
	if (code != 0)
		fail_msg("apply exited %d: %s", code, err ? err : "");
	sscanf(out, "%63s", id);
	free(out);
	free(err);
	pl_wait_state(f, id, "waiting_approval", 120000);
	pl_answers(f, seen, sizeof(seen));
	assert_string_equal(seen, "ap-1=1,ap-2=1,eu-1=1,eu-2=1,us-1=2,us-2=2");
	/* deploy is refused while the plan is in progress */
	assert_int_equal(h_deploy(f->e, "2", f->url2, f->sha2, NULL, NULL, NULL), 1);
	pl_logs(f, logs_before, sizeof(logs_before));
	h_kill(f->e, f->e->coord, SIGKILL);
	assert_non_null(h_coord_start(f->e, "500ms", NULL));
	st = h_status(f->e, id);
	assert_non_null(st);
	assert_string_equal(h_str(st, "state"), "waiting_approval");
	assert_string_equal(h_str(st, "waiting_stage"), "eu");
	osp_json_free(st);
	/* the gate holds: nothing moves on its own. Checked once every agent
	 * was seen three times by the restarted coordinator (it had the time
	 * and the traffic to move on), not after a pause: still waiting, and
	 * no command was queued for any node since before the kill */
	assert_true(h_wait_beats(f->e, pl_ids, PL_NODES, 3, h_ms(30000)));
	st = h_status(f->e, id);
	assert_non_null(st);
	assert_string_equal(h_str(st, "state"), "waiting_approval");
	osp_json_free(st);
	pl_logs(f, logs_after, sizeof(logs_after));
	assert_string_equal(logs_after, logs_before);
	pl_answers(f, seen, sizeof(seen));
	assert_string_equal(seen, "ap-1=1,ap-2=1,eu-1=1,eu-2=1,us-1=2,us-2=2");
	/* approving a stage that does not wait is refused */
	assert_int_equal(h_ctl(f->e, NULL, NULL, "approve", id, "--stage", "ap", NULL), 1);
	assert_int_equal(h_ctl(f->e, NULL, NULL, "approve", id, "--stage", "eu", NULL), 0);
	pl_wait_state(f, id, "succeeded", 180000);
	pl_answers(f, seen, sizeof(seen));
	assert_string_equal(seen, "ap-1=2,ap-2=2,eu-1=2,eu-2=2,us-1=2,us-2=2");
	/* the approval is in the history with who gave it */
	hist = h_ctl_json(f->e, &code, "history", "--rollout", id, NULL);
	assert_non_null(hist);
	evs = osp_json_get(hist, "events");
	assert_non_null(evs);
	for (size_t i = 0; i < evs->n; i++)
		approved = approved || (strcmp(h_str(evs->items[i], "kind"), "stage.approved") == 0 &&
					       h_str(evs->items[i], "actor")[0] != '\0');
	assert_true(approved);
	osp_json_free(hist);
}

/* pl_hold_port keeps port busy (a listener nobody answers), so the app of
 * that node cannot start there. */
static int pl_hold_port(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((unsigned short)port);
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(s, 1) != 0) {
		if (s >= 0)
			close(s);
		return -1;
	}
	return s;
}

static void test_plan_failing_region_stops_the_rest(void **state)
{
	pl_fleet *f = *state;
	char id[64] = "", *out = NULL, *err = NULL, seen[256], log[600];
	osp_json *st;
	int code, held;

	pl_start(f);
	pl_write_doc(f, false);
	/* eu-1's app cannot restart on its port: stage eu fails (max failures 0) */
	h_kill_procs(f->e, "agent-eu-1/"); /* this test's eu-1 only: it_plans_bg has one */
	held = -1;
	for (int tries = 0; tries < 50 && held < 0; tries++) {
		held = pl_hold_port(f->ports[2]);
		if (held < 0)
			osp_sleep_ms(100);
	}
	assert_true(held >= 0);
	code = h_ctl(f->e, &out, &err, "apply", "-f", f->doc, "--version", "2", "--sha256", f->sha2,
		"--health-deadline", "5s", "--wait", "--timeout", "240s", NULL);
	sscanf(out != NULL ? out : "", "%63s", id);
	if (code != 1)
		fail_msg("apply --wait exited %d, expected 1: %s", code, err ? err : "");
	free(out);
	free(err);
	st = h_status(f->e, id);
	assert_non_null(st);
	assert_string_equal(h_str(st, "state"), "failed");
	assert_string_equal(h_str(pl_stage(st, "us"), "state"), "succeeded");
	assert_string_equal(h_str(pl_stage(st, "eu"), "state"), "failed");
	assert_string_equal(h_str(pl_stage(st, "ap"), "state"), "not_started");
	assert_string_equal(h_str(pl_stage(st, "ap"), "rollout"), "");
	assert_non_null(strstr(h_str(st, "reason"), "stage eu failed"));
	osp_json_free(st);
	/* ap's agents never heard of release 2 */
	for (int i = 0; i < 2; i++) {
		snprintf(log, sizeof(log), "%s/agent-%s.log", f->e->dir, pl_ids[i]);
		if (h_file_contains(log, "version '2'"))
			fail_msg("%s's log mentions release 2: a later stage got a command", pl_ids[i]);
	}
	pl_answers(f, seen, sizeof(seen));
	assert_non_null(strstr(seen, "ap-1=1,ap-2=1"));
	close(held);
}

/* A required secret missing on one node of the second stage refuses the
 * whole plan before any Stage; the secret's value is in no output, log or
 * store, before or after the plan that then runs. */
static void test_plan_missing_secret_refused_before_any_stage(void **state)
{
	static const char value[] = "pl-s3cr3t-7c1e9a";
	static const char *const env[PL_NODES] = {
		"DATABASE_URL=pl-s3cr3t-7c1e9a\nAPI_KEY=k\n", "DATABASE_URL=pl-s3cr3t-7c1e9a\n",
		"DATABASE_URL=pl-s3cr3t-7c1e9a\n", "API_KEY=k\n",
		"DATABASE_URL=pl-s3cr3t-7c1e9a\n", "DATABASE_URL=pl-s3cr3t-7c1e9a\n" };
	pl_fleet *f = *state;
	char *out = NULL, *err = NULL, found[600], skip[600], log[600], path[600], id[64] = "";
	char logs_before[256], logs_after[256];
	int code;
	FILE *fp;

	pl_start_env(f, env);
	pl_write_doc_secrets(f, false, "secrets:\n  provider: local\n  required: [DATABASE_URL]\n");
	pl_logs(f, logs_before, sizeof(logs_before));
	code = h_ctl(f->e, &out, &err, "plan", "-f", f->doc, "--version", "2", "--sha256",
		f->sha2, NULL);
	assert_int_equal(code, 1);
	free(out);
	free(err);
	code = h_ctl(f->e, &out, &err, "apply", "-f", f->doc, "--version", "2", "--sha256",
		f->sha2, "--wait", NULL);
	if (code != 1 || err == NULL || strstr(err, "eu-2") == NULL ||
		strstr(err, "DATABASE_URL") == NULL)
		fail_msg("apply exited %d, expected 1 naming eu-2 and DATABASE_URL: %s", code,
			err ? err : "");
	assert_null(strstr(err, value));
	assert_true(out == NULL || strstr(out, value) == NULL);
	free(out);
	free(err);
	/* no Stage anywhere: no command was queued for any node, and once
	 * every agent was seen twice since (it would have had it), no agent
	 * heard of release 2 */
	pl_logs(f, logs_after, sizeof(logs_after));
	assert_string_equal(logs_after, logs_before);
	assert_true(h_wait_beats(f->e, pl_ids, PL_NODES, 2, h_ms(30000)));
	for (int i = 0; i < PL_NODES; i++) {
		snprintf(log, sizeof(log), "%s/agent-%s.log", f->e->dir, pl_ids[i]);
		if (h_file_contains(log, "version '2'"))
			fail_msg("%s's log mentions release 2 after a refused plan", pl_ids[i]);
	}
	/* eu-2 gets the secret: the plan runs */
	snprintf(path, sizeof(path), "%s/env/eu-2.env", f->e->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp, "API_KEY=k\nDATABASE_URL=%s\n", value);
	fclose(fp);
	for (int tries = 0; tries < 100; tries++) { /* the next heartbeat reports it */
		code = h_ctl(f->e, NULL, NULL, "plan", "-f", f->doc, "--version", "2", "--sha256",
			f->sha2, NULL);
		if (code == 0)
			break;
		osp_sleep_ms(200);
	}
	assert_int_equal(code, 0);
	code = h_ctl(f->e, &out, &err, "apply", "-f", f->doc, "--version", "2", "--sha256",
		f->sha2, "--wait", "--timeout", "240s", NULL);
	if (code != 0)
		fail_msg("apply exited %d: %s", code, err ? err : "");
	sscanf(out, "%63s", id);
	assert_null(strstr(out, value));
	assert_null(strstr(err != NULL ? err : "", value));
	free(out);
	free(err);
	out = err = NULL;
	code = h_ctl(f->e, &out, &err, "--json", "status", id, NULL);
	assert_int_equal(code, 0);
	assert_null(strstr(out, value));
	free(out);
	free(err);
	/* nowhere in the test's directory but the env files themselves: the
	 * coordinator's store, every log, the agents' state */
	snprintf(skip, sizeof(skip), "%s/env/", f->e->dir);
	if (h_tree_find(f->e->dir, value, skip, found, sizeof(found)))
		fail_msg("the secret's value is in %s", found);
}

/* deploy --canary N (rolling): the canary nodes first, baked, then the rest
 * behind an approval gate; a broken release stops at the canary node. */
static void test_deploy_canary_nodes_then_the_rest(void **state)
{
	static const char *const broken[] = { "FAIL_HEALTH=", NULL };
	pl_fleet *f = *state;
	char id[64] = "", *err = NULL, seen[256], url3[600], sha3[65];
	struct pl_state s = { id, "waiting_approval", "" };
	osp_json *st;
	int code, on2 = 0;

	pl_start(f);
	/* a flag that does not apply is a usage error, never ignored */
	assert_int_equal(h_deploy(f->e, "2", f->url2, f->sha2, NULL, NULL, "--canary", "1",
		"--strategy", "recreate", NULL), 2);
	assert_int_equal(h_deploy(f->e, "2", f->url2, f->sha2, NULL, NULL, "--canary-bake", "1s",
		NULL), 2);
	code = h_deploy(f->e, "2", f->url2, f->sha2, id, &err, "--canary", "1", "--canary-bake",
		"1s", "--canary-approval", "--batch", "50%", NULL);
	if (code != 0)
		fail_msg("deploy --canary exited %d: %s", code, err ? err : "");
	free(err);
	err = NULL;
	if (!h_wait_for(pl_state_is, f->e, &s, h_ms(60000)))
		fail_msg("canary deploy %s is '%s', expected it to wait after the canary", id, s.last);
	pl_answers(f, seen, sizeof(seen));
	for (char *p = seen; (p = strstr(p, "=2")) != NULL; p++)
		on2++;
	assert_int_equal(on2, 1); /* exactly the canary node */
	st = h_status(f->e, id);
	assert_string_equal(h_str(pl_stage(st, "canary"), "state"), "succeeded");
	assert_int_equal(osp_json_get_int(pl_stage(st, "rest"), "nodes_total", 0), 5);
	osp_json_free(st);
	assert_int_equal(h_ctl(f->e, NULL, NULL, "approve", id, NULL), 0);
	s.want = "succeeded";
	if (!h_wait_for(pl_state_is, f->e, &s, h_ms(120000)))
		fail_msg("canary deploy %s is '%s' after approve", id, s.last);
	pl_answers(f, seen, sizeof(seen));
	assert_string_equal(seen, "ap-1=2,ap-2=2,eu-1=2,eu-2=2,us-1=2,us-2=2");
	/* a broken release: the canary node fails and goes back; no other node
	 * hears of it */
	assert_true(h_artifact(f->e, "3", broken, url3, sha3));
	code = h_deploy(f->e, "3", url3, sha3, id, &err, "--canary", "1", "--health-deadline", "5s",
		"--wait", NULL);
	if (code != 1)
		fail_msg("deploy --canary of a broken release exited %d: %s", code, err ? err : "");
	free(err);
	st = h_status(f->e, id);
	assert_string_equal(h_str(st, "state"), "failed");
	assert_string_equal(h_str(pl_stage(st, "rest"), "state"), "not_started");
	osp_json_free(st);
	pl_answers(f, seen, sizeof(seen));
	assert_string_equal(seen, "ap-1=2,ap-2=2,eu-1=2,eu-2=2,us-1=2,us-2=2");
}

/* it_plans [PATTERN]: only the tests whose name matches PATTERN */
int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_plan_stages_in_order_and_plan_equals_run,
			pl_setup, pl_teardown),
		cmocka_unit_test_setup_teardown(test_plan_gate_holds_across_coordinator_kill, pl_setup,
			pl_teardown),
		cmocka_unit_test_setup_teardown(test_plan_failing_region_stops_the_rest, pl_setup,
			pl_teardown),
		cmocka_unit_test_setup_teardown(test_plan_missing_secret_refused_before_any_stage,
			pl_setup, pl_teardown),
		cmocka_unit_test_setup_teardown(test_deploy_canary_nodes_then_the_rest, pl_setup,
			pl_teardown),
	};
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
