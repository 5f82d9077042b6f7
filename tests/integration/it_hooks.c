/*
 * it_hooks.c - an app's hooks end to end (docs/hooks.md) with a real
 * coordinator, real agents whose config gives the sample app hooks written
 * by the test, and the sample app:
 *
 *  - a rolling deploy runs pre_stage (in the unpacked release, before the
 *    new process) and post_stage (after its health check) once per node, in
 *    that order, with the release in their environment;
 *  - a pre_stage that exits 3 fails the deploy with its (redacted) output
 *    as the reason, and the old version keeps answering;
 *  - a blue-green deploy through the exec driver whose pre_switch hook
 *    fails on one node: that node votes no with the hook's reason, the
 *    switch is aborted and traffic stays; post_switch ran only for the
 *    switch that was committed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "ospec/util.h"

#define HK_NODES 2
#define HK_SECRET "s3cr3t-9b41-NEVER-IN-A-REASON"

static const char *const hk_ids[HK_NODES] = { "n1", "n2" };

typedef struct hk_fleet {
	h_env *e;
	int port[HK_NODES], blue[HK_NODES], green[HK_NODES];
	char hook[400];    /* the one hook script every node runs */
	char secrets[400]; /* the env files' dir */
	char url[3][600], sha[3][65];
} hk_fleet;

static int hk_setup(void **state)
{
	return h_fixture_setup(state, sizeof(hk_fleet), "hooks");
}

/* hk_hook writes the hook script: every run appends one line
 * "HOOK NODE VERSION SLOT PORT PREVIOUS ROLLOUT CWD=... FILE=<VERSION file of
 * its cwd>" to DIR/hooks-NODE.log (RELEASE_DIR checked against the cwd),
 * then runs extra (shell text, may fail the hook). */
static void hk_hook(hk_fleet *f, const char *extra)
{
	char body[4096];
	int n;

	snprintf(f->hook, sizeof(f->hook), "%s/hook.sh", f->e->dir);
	n = snprintf(body, sizeof(body),
		"#!/bin/sh\n"
		"[ \"$(pwd)\" = \"$OSPEC_RELEASE_DIR\" ] || { echo 'cwd is not the release' >&2; exit 9; }\n"
		"echo \"$1 $OSPEC_NODE $OSPEC_VERSION $OSPEC_SLOT $OSPEC_PORT prev=$OSPEC_PREVIOUS_VERSION "
		"rollout=$OSPEC_ROLLOUT sha=$OSPEC_SHA256 file=$(cat VERSION)\" >> '%s/hooks-'\"$OSPEC_NODE\".log\n"
		"%s",
		f->e->dir, extra != NULL ? extra : "");
	assert_true(n > 0 && (size_t)n < sizeof(body));
	assert_int_equal(osp_file_write_atomic(f->hook, body, (size_t)n, 0755), OSP_OK);
}

/* hk_agent starts agent i with the app block body (under apps.hello) and
 * an env file holding the secret. */
static void hk_agent(hk_fleet *f, int i, const char *body)
{
	char cfg[400], env[420], text[4096], envtext[128];
	char *extra[] = { "-c", cfg, NULL };
	int n;

	snprintf(f->secrets, sizeof(f->secrets), "%s/secrets", f->e->dir);
	assert_int_equal(osp_mkdir_p(f->secrets, 0700), OSP_OK);
	snprintf(env, sizeof(env), "%s/%s.env", f->secrets, hk_ids[i]);
	n = snprintf(envtext, sizeof(envtext), "API_TOKEN=" HK_SECRET "\n");
	assert_int_equal(osp_file_write_atomic(env, envtext, (size_t)n, 0600), OSP_OK);
	snprintf(cfg, sizeof(cfg), "%s/agent-%s.yaml", f->e->dir, hk_ids[i]);
	n = snprintf(text, sizeof(text), "apps:\n  hello:\n    env_file: %s\n%s", env, body);
	assert_true(n > 0 && (size_t)n < sizeof(text));
	assert_int_equal(osp_file_write_atomic(cfg, text, (size_t)n, 0644), OSP_OK);
	assert_non_null(h_agent_start(f->e, hk_ids[i], "role=web", extra));
}

/* hk_rolling_fleet: a coordinator and two agents with the hook as pre_stage
 * and post_stage; artifacts 1 and 2. */
static void hk_rolling_fleet(hk_fleet *f)
{
	char body[1200];

	assert_non_null(h_coord_start(f->e, "500ms", NULL));
	for (int i = 0; i < HK_NODES; i++) {
		f->port[i] = h_free_port();
		snprintf(body, sizeof(body),
			"    port: %d\n"
			"    hooks: {pre_stage: %s, post_stage: %s, timeout: 30s}\n",
			f->port[i], f->hook, f->hook);
		hk_agent(f, i, body);
	}
	if (!h_wait_nodes_up(f->e, HK_NODES, h_ms(20000)))
		fail_msg("the agents did not all come up");
	assert_true(h_artifact(f->e, "1", NULL, f->url[1], f->sha[1]));
	assert_true(h_artifact(f->e, "2", NULL, f->url[2], f->sha[2]));
}

static char *hk_log(hk_fleet *f, int i)
{
	char path[400], *data = NULL;
	size_t len;

	snprintf(path, sizeof(path), "%s/hooks-%s.log", f->e->dir, hk_ids[i]);
	if (osp_file_read(path, 1 << 20, &data, &len) != OSP_OK)
		return strdup("");
	return data;
}

static int hk_count(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

static void hk_assert_answers(hk_fleet *f, const char *version)
{
	char got[64];

	for (int i = 0; i < HK_NODES; i++) {
		h_app_answer(f->port[i], got, sizeof(got));
		if (strcmp(got, version) != 0)
			fail_msg("node %s answers '%s', expected '%s'", hk_ids[i], got, version);
	}
}

static void test_hooks_rolling(void **state)
{
	hk_fleet *f = *state;
	char id[64], pre[512], post[512], *log;
	const char *a, *b;

	hk_hook(f, NULL);
	hk_rolling_fleet(f);
	assert_int_equal(h_deploy(f->e, "1", f->url[1], f->sha[1], id, NULL, "--wait", NULL), 0);
	assert_int_equal(h_deploy(f->e, "2", f->url[2], f->sha[2], id, NULL, "--wait", NULL), 0);
	hk_assert_answers(f, "2");
	for (int i = 0; i < HK_NODES; i++) {
		log = hk_log(f, i);
		/* version 2: once each, pre before post, in the release's dir
		 * (its VERSION file), the port, the version it replaced, the
		 * rollout */
		snprintf(pre, sizeof(pre),
			"pre_stage %s 2 main %d prev=1 rollout=%s sha=%s file=2\n", hk_ids[i],
			f->port[i], id, f->sha[2]);
		snprintf(post, sizeof(post),
			"post_stage %s 2 main %d prev=1 rollout=%s sha=%s file=2\n", hk_ids[i],
			f->port[i], id, f->sha[2]);
		a = strstr(log, pre);
		b = strstr(log, post);
		if (a == NULL || b == NULL || b < a)
			fail_msg("node %s: hooks of version 2 missing or out of order:\n%s",
				hk_ids[i], log);
		assert_int_equal(hk_count(log, pre), 1);
		assert_int_equal(hk_count(log, post), 1);
		/* version 1 had its two runs too, and nothing else ran */
		assert_int_equal(hk_count(log, "pre_stage "), 2);
		assert_int_equal(hk_count(log, "post_stage "), 2);
		assert_non_null(strstr(log, "pre_stage n"));
		assert_non_null(strstr(log, " 1 main "));
		free(log);
	}
}

static void test_hooks_pre_stage_fails(void **state)
{
	hk_fleet *f = *state;
	char id[64], *err = NULL, *out = NULL, found[512];
	const char *reason;
	osp_json *st;
	h_proc *p;

	/* version 2's migration fails, printing the app's token */
	hk_hook(f, "if [ \"$OSPEC_VERSION\" = 2 ]; then\n"
		   "  echo \"connecting with $API_TOKEN\"\n"
		   "  echo 'migration 0042 failed: table locked' >&2\n"
		   "  exit 3\n"
		   "fi\n");
	hk_rolling_fleet(f);
	assert_int_equal(h_deploy(f->e, "1", f->url[1], f->sha[1], id, NULL, "--wait", NULL), 0);
	assert_int_equal(h_deploy(f->e, "2", f->url[2], f->sha[2], id, &err, "--wait", NULL), 1);
	free(err);
	st = h_status(f->e, id);
	assert_non_null(st);
	assert_string_equal(h_str(st, "state"), "failed");
	reason = h_str(h_step(st, "n1"), "reason");
	if (strstr(reason, "hook pre_stage failed (exit 3): connecting with [redacted]\n"
			   "migration 0042 failed: table locked") == NULL)
		fail_msg("n1's reason: %s", reason);
	assert_string_equal(h_str(h_step(st, "n2"), "step"), "pending");
	osp_json_free(st);
	/* the reason is what `ospecctl status` shows */
	assert_int_equal(h_ctl(f->e, &out, NULL, "status", id, NULL), 0);
	assert_non_null(out);
	if (strstr(out, "hook pre_stage failed (exit 3)") == NULL)
		fail_msg("ospecctl status said:\n%s", out);
	free(out);
	/* version 1 never stopped: the new process was not started */
	hk_assert_answers(f, "1");
	assert_non_null(p = h_proc_named(f->e, "agent-n1"));
	assert_false(h_file_contains(p->log, "version '2' started"));
	assert_true(h_file_contains(p->log, "AGENT-HOOK-FAILED"));
	/* the token is nowhere but in the env files */
	if (h_tree_find(f->e->dir, HK_SECRET, f->secrets, found, sizeof(found)))
		fail_msg("the token is in '%s'", found);
	assert_true(h_tree_find(f->e->dir, HK_SECRET, NULL, found, sizeof(found)));
}

/* hk_lb writes node i's exec-driver script: the "load balancer" is
 * DIR/lb-ID.state ("SLOT PORT"). */
static void hk_lb(hk_fleet *f, int i, char *path, size_t len)
{
	char body[1024];
	int n;

	snprintf(path, len, "%s/lb-%s.sh", f->e->dir, hk_ids[i]);
	n = snprintf(body, sizeof(body),
		"#!/bin/sh\n"
		"state='%s/lb-%s.state'\n"
		"case \"$1\" in\n"
		"commit) printf '%%s %%s\\n' \"$OSPEC_TO_SLOT\" \"$OSPEC_TO_PORT\" > \"$state.tmp\" &&\n"
		"  mv \"$state.tmp\" \"$state\" ;;\n"
		"current) if [ -f \"$state\" ]; then cut -d' ' -f1 \"$state\"; fi ;;\n"
		"esac\n",
		f->e->dir, hk_ids[i]);
	assert_true(n > 0 && (size_t)n < sizeof(body));
	assert_int_equal(osp_file_write_atomic(path, body, (size_t)n, 0755), OSP_OK);
}

static int hk_deploy_bg(hk_fleet *f, int v, char *id)
{
	return h_deploy_bg(f->e, v, f->url[v], f->sha[v], f->blue[0], f->green[0], id);
}

/* hk_bg_fleet: a coordinator and two agents with blue/green ports, the
 * exec driver and the hook as pre_switch and post_switch; artifacts 1, 2. */
static void hk_bg_fleet(hk_fleet *f)
{
	char lb[400], body[2048];

	assert_non_null(h_coord_start(f->e, "500ms", NULL));
	for (int i = 0; i < HK_NODES; i++) {
		f->blue[i] = h_free_port();
		do
			f->green[i] = h_free_port();
		while (f->green[i] == f->blue[i]);
		hk_lb(f, i, lb, sizeof(lb));
		snprintf(body, sizeof(body),
			"    ports: {blue: %d, green: %d}\n"
			"    proxy:\n"
			"      driver: exec\n"
			"      exec: {commit: %s, current: %s}\n"
			"    hooks: {pre_switch: %s, post_switch: %s}\n",
			f->blue[i], f->green[i], lb, lb, f->hook, f->hook);
		hk_agent(f, i, body);
	}
	if (!h_wait_nodes_up(f->e, HK_NODES, h_ms(20000)))
		fail_msg("the agents did not all come up");
	assert_true(h_artifact(f->e, "1", NULL, f->url[1], f->sha[1]));
	assert_true(h_artifact(f->e, "2", NULL, f->url[2], f->sha[2]));
}

/* hk_assert_lb checks that node i's balancer sends traffic to slot. */
static void hk_assert_lb(hk_fleet *f, int i, const char *slot)
{
	char path[400], want[64];

	snprintf(path, sizeof(path), "%s/lb-%s.state", f->e->dir, hk_ids[i]);
	snprintf(want, sizeof(want), "%s %d\n", slot,
		strcmp(slot, "blue") == 0 ? f->blue[i] : f->green[i]);
	if (!h_file_contains(path, want))
		fail_msg("%s does not say '%s'", path, want);
}

static void test_hooks_pre_switch_votes_no(void **state)
{
	hk_fleet *f = *state;
	char id[64], want[256], *log;
	const char *reason;
	osp_json *st;

	/* n2 is not ready for version 2 */
	hk_hook(f, "if [ \"$1\" = pre_switch ] && [ \"$OSPEC_NODE\" = n2 ] && "
		   "[ \"$OSPEC_VERSION\" = 2 ]; then\n"
		   "  echo 'n2: cache warm-up not finished'\n"
		   "  exit 5\n"
		   "fi\n");
	hk_bg_fleet(f);
	assert_int_equal(hk_deploy_bg(f, 1, id), 0);
	assert_int_not_equal(hk_deploy_bg(f, 2, id), 0);
	st = h_status(f->e, id);
	assert_non_null(st);
	assert_string_equal(h_str(st, "state"), "failed");
	reason = h_str(h_step(st, "n2"), "reason");
	if (strstr(reason, "hook pre_switch failed (exit 5): n2: cache warm-up not finished") ==
		NULL)
		fail_msg("n2's reason: %s", reason);
	if (strstr(h_str(st, "reason"), "cache warm-up not finished") == NULL)
		fail_msg("the rollout's reason: %s", h_str(st, "reason"));
	osp_json_free(st);
	for (int i = 0; i < HK_NODES; i++) {
		hk_assert_lb(f, i, "blue"); /* traffic never moved: version 1 serves */
		log = hk_log(f, i);
		/* version 1: pre_switch then post_switch on blue; version 2:
		 * pre_switch on green only, no post_switch */
		snprintf(want, sizeof(want), "pre_switch %s 1 blue %d prev= ", hk_ids[i],
			f->blue[i]);
		assert_non_null(strstr(log, want));
		snprintf(want, sizeof(want), "post_switch %s 1 blue %d prev= ", hk_ids[i],
			f->blue[i]);
		assert_non_null(strstr(log, want));
		snprintf(want, sizeof(want), "pre_switch %s 2 green %d prev=1 rollout=%s ",
			hk_ids[i], f->green[i], id);
		if (strstr(log, want) == NULL)
			fail_msg("node %s: no '%s' in:\n%s", hk_ids[i], want, log);
		assert_null(strstr(log, "post_switch n1 2 "));
		assert_null(strstr(log, "post_switch n2 2 "));
		free(log);
	}
}

static void test_hooks_post_switch_fails(void **state)
{
	hk_fleet *f = *state;
	char id[64], *log;
	const char *reason;
	osp_json *st;

	hk_hook(f, "if [ \"$1\" = post_switch ] && [ \"$OSPEC_NODE\" = n2 ] && "
		   "[ \"$OSPEC_VERSION\" = 2 ]; then\n"
		   "  echo 'cdn purge failed'\n"
		   "  exit 7\n"
		   "fi\n");
	hk_bg_fleet(f);
	assert_int_equal(hk_deploy_bg(f, 1, id), 0);
	(void)hk_deploy_bg(f, 2, id);
	st = h_status(f->e, id);
	assert_non_null(st);
	fprintf(stderr, "post_switch failure: rollout %s '%s': %s\n", id, h_str(st, "state"),
		h_str(st, "reason"));
	reason = h_str(h_step(st, "n2"), "reason");
	if (strstr(reason, "hook post_switch failed (exit 7): cdn purge failed") == NULL)
		fail_msg("n2's reason: %s", reason);
	if (strstr(reason, "slot 'green' is active and stays so") == NULL)
		fail_msg("n2's reason: %s", reason);
	assert_string_equal(h_str(h_step(st, "n2"), "step"), "failed");
	/* the coordinator counts n2 as failed; n1 applied it (docs/hooks.md) */
	assert_non_null(strstr(h_str(st, "reason"), "(1 failed)"));
	assert_string_equal(h_str(h_step(st, "n1"), "step"), "done");
	osp_json_free(st);
	/* the agent did not undo the switch: both nodes serve green */
	for (int i = 0; i < HK_NODES; i++) {
		hk_assert_lb(f, i, "green");
		log = hk_log(f, i);
		assert_non_null(strstr(log, "post_switch "));
		free(log);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hooks_rolling, hk_setup, h_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_hooks_pre_stage_fails, hk_setup, h_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_hooks_pre_switch_votes_no, hk_setup,
			h_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_hooks_post_switch_fails, hk_setup,
			h_fixture_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
