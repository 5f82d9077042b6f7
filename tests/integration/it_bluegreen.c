/*
 * it_bluegreen.c - blue-green across a fleet through real haproxy processes:
 * every node has its own haproxy (frontend port, admin socket) in front of
 * its app's blue and green slots, all on loopback.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "ospec/util.h"

#define BG_NODES 3

typedef struct bg_fleet {
	h_env *e;
	int front[BG_NODES], blue[BG_NODES], green[BG_NODES];
	char url[10][600];
	char sha[10][65];
} bg_fleet;

static const char *const bg_ids[BG_NODES] = { "n1", "n2", "n3" };

static int bg_setup(void **state)
{
	return h_fixture_setup(state, sizeof(bg_fleet), "bluegreen");
}

static void bg_agent(bg_fleet *f, int i)
{
	char name[16];

	snprintf(name, sizeof(name), "px%d", i + 1);
	assert_non_null(h_agent_start_bg(f->e, bg_ids[i], "role=web", f->blue[i], f->green[i],
		name, NULL));
}

/* bg_start: coordinator, one haproxy and one agent per node, artifacts. */
static void bg_start(bg_fleet *f, const char *coord_crash)
{
	char name[16];

	if (coord_crash != NULL)
		setenv("OSPEC_CRASH_POINT", coord_crash, 1);
	assert_non_null(h_coord_start(f->e, "500ms", NULL));
	unsetenv("OSPEC_CRASH_POINT");
	for (int i = 0; i < BG_NODES; i++) {
		f->front[i] = h_free_port();
		f->blue[i] = h_free_port();
		f->green[i] = h_free_port();
		snprintf(name, sizeof(name), "px%d", i + 1);
		assert_non_null(h_haproxy_start(f->e, name, f->front[i], f->blue[i], f->green[i]));
		bg_agent(f, i);
	}
	assert_true(h_wait_nodes_up(f->e, BG_NODES, h_ms(20000)));
	assert_true(h_artifact(f->e, "1", NULL, f->url[1], f->sha[1]));
	assert_true(h_artifact(f->e, "2", NULL, f->url[2], f->sha[2]));
}

/* bg_deploy deploys version v blue-green and returns ospecctl's exit code. */
static int bg_deploy(bg_fleet *f, const char *v, const char *url, const char *sha, char *id,
	const char *window)
{
	char ports[64], *err = NULL;
	int code;

	snprintf(ports, sizeof(ports), "blue=%d,green=%d", f->blue[0], f->green[0]);
	code = h_deploy(f->e, v, url, sha, id, &err, "--strategy", "blue_green", "--ports", ports,
		"--batch", "3", "--rollback-window", window ? window : "1s",
		"--scale-down-delay", "600s", "--wait", NULL);
	if (code != 0)
		fprintf(stderr, "deploy %s: exit %d: %s\n", v, code, err ? err : "");
	free(err);
	return code;
}

static void bg_assert_proxies(bg_fleet *f, const char *version)
{
	char got[64];

	for (int i = 0; i < BG_NODES; i++) {
		h_app_answer(f->front[i], got, sizeof(got));
		if (strcmp(got, version) != 0)
			fail_msg("proxy of %s answers '%s', expected '%s'", bg_ids[i], got, version);
	}
}

static const char *bg_state(bg_fleet *f, const char *id, char *buf, size_t len)
{
	osp_json *st = h_status(f->e, id);

	osp_strlcpy(buf, st ? osp_json_get_str(st, "state") : "?", len);
	osp_json_free(st);
	return buf;
}

static void test_bluegreen_switch_under_load(void **state)
{
	bg_fleet *f = *state;
	char id[64];
	h_load *load;
	long reqs, fails;
	bool seen[10];
	osp_json *st;
	const osp_json *sw;

	bg_start(f, NULL);
	assert_int_equal(bg_deploy(f, "1", f->url[1], f->sha[1], id, NULL), 0);
	bg_assert_proxies(f, "1");
	load = h_load_start(f->front, BG_NODES, 120);
	assert_non_null(load);
	/* the load runs across the switch: answered by 1 before, by 2 after,
	 * and a hundred requests more once 2 answered (not pauses that prove
	 * nothing on a loaded machine) */
	assert_true(h_load_wait_seen(load, 1, h_ms(10000)));
	assert_int_equal(bg_deploy(f, "2", f->url[2], f->sha[2], id, NULL), 0);
	assert_true(h_load_wait_seen(load, 2, h_ms(10000)));
	assert_true(h_load_wait_more(load, 100, h_ms(10000)));
	h_load_stop(load, &reqs, &fails, seen);
	fprintf(stderr, "load: %ld requests, %ld failed\n", reqs, fails);
	assert_true(reqs > 100);
	assert_int_equal(fails, 0);
	assert_true(seen[1] && seen[2]);
	bg_assert_proxies(f, "2");
	st = h_status(f->e, id);
	assert_non_null(st);
	assert_string_equal(osp_json_get_str(st, "state"), "succeeded");
	sw = osp_json_get(st, "switches");
	assert_non_null(sw);
	assert_int_equal(sw->n, 1);
	assert_string_equal(osp_json_get_str(sw->items[0], "decision"), "commit");
	assert_int_equal(osp_json_get(sw->items[0], "skew_ms")->type, OSP_JSON_NUM);
	osp_json_free(st);
}

/* bg_preplace puts a release dir for sha on node i before it is deployed,
 * with marker files (the agent uses an unpacked release as it is): a way to
 * make one node's copy of the release misbehave. */
static void bg_preplace(bg_fleet *f, int i, const char *version, const char *sha,
	const char *marker, const char *content)
{
	char dir[600], path[700], cmd[1600];
	char *argv[4] = { "/bin/sh", "-c", cmd, NULL };

	snprintf(dir, sizeof(dir), "%s/agent-%s/releases/%s", f->e->dir, bg_ids[i], sha);
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s/bin' && cp '%s' '%s/bin/hello' && printf '%s\\n' > '%s/VERSION'",
		dir, h_bin("hello"), dir, version, dir);
	assert_int_equal(h_run(argv, h_ms(10000), NULL, NULL), 0);
	snprintf(path, sizeof(path), "%s/%s", dir, marker);
	assert_int_equal(osp_file_write_atomic(path, content, strlen(content), 0644), OSP_OK);
}

static void test_bluegreen_prepare_check_fails(void **state)
{
	bg_fleet *f = *state;
	char id[64], buf[32];
	osp_json *st;

	bg_start(f, NULL);
	assert_int_equal(bg_deploy(f, "1", f->url[1], f->sha[1], id, NULL), 0);
	/* n2's green passes its stage check, then fails from 2 s on; n3 starts
	 * late, so the prepare comes after n2 began failing */
	bg_preplace(f, 1, "2", f->sha[2], "FAIL_AFTER", "2");
	bg_preplace(f, 2, "2", f->sha[2], "START_DELAY", "6000");
	assert_int_equal(bg_deploy(f, "2", f->url[2], f->sha[2], id, NULL), 1);
	st = h_status(f->e, id);
	assert_string_equal(bg_state(f, id, buf, sizeof(buf)), "failed");
	assert_non_null(strstr(osp_json_get_str(st, "reason"), "n2"));
	osp_json_free(st);
	bg_assert_proxies(f, "1"); /* every node aborted: traffic untouched */
}

static void test_bluegreen_coordinator_killed_after_decision(void **state)
{
	bg_fleet *f = *state;
	char id[64], ports[64], buf[32];
	h_answers two = { f->front, BG_NODES, "2" };

	bg_start(f, NULL);
	assert_int_equal(bg_deploy(f, "1", f->url[1], f->sha[1], id, NULL), 0);
	/* a coordinator that dies right after it committed the decision */
	h_kill(f->e, f->e->coord, SIGTERM);
	setenv("OSPEC_CRASH_POINT", "coordinator-after-decision", 1);
	assert_non_null(h_coord_start(f->e, "500ms", NULL));
	unsetenv("OSPEC_CRASH_POINT");
	snprintf(ports, sizeof(ports), "blue=%d,green=%d", f->blue[0], f->green[0]);
	assert_int_equal(h_deploy(f->e, "2", f->url[2], f->sha[2], id, NULL, "--strategy",
				 "blue_green", "--ports", ports, "--batch", "3",
				 "--rollback-window", "1s", "--scale-down-delay", "60s", NULL),
		0);
	assert_int_not_equal(h_wait_exit(f->e->coord, h_ms(60000)), -1);
	assert_true(h_file_contains(f->e->coord->log, "OSP-CRASH-POINT"));
	bg_assert_proxies(f, "1"); /* nobody heard the decision yet */
	assert_non_null(h_coord_start(f->e, "500ms", NULL));
	assert_int_equal(h_ctl(f->e, NULL, NULL, "watch", id, NULL), 0);
	assert_true(h_wait_for(h_answers_are, f->e, &two, h_ms(10000)));
	assert_string_equal(bg_state(f, id, buf, sizeof(buf)), "succeeded");
}

static void test_bluegreen_agent_killed_after_vote(void **state)
{
	bg_fleet *f = *state;
	char id[64], ports[64], buf[32];
	h_answers two = { f->front, BG_NODES, "2" };
	h_proc *p;

	bg_start(f, NULL);
	assert_int_equal(bg_deploy(f, "1", f->url[1], f->sha[1], id, NULL), 0);
	/* n2 dies right after it voted YES */
	h_kill(f->e, h_proc_named(f->e, "agent-n2"), SIGTERM);
	setenv("OSPEC_CRASH_POINT", "agent-after-vote", 1);
	bg_agent(f, 1);
	unsetenv("OSPEC_CRASH_POINT");
	p = h_proc_named(f->e, "agent-n2");
	snprintf(ports, sizeof(ports), "blue=%d,green=%d", f->blue[0], f->green[0]);
	assert_int_equal(h_deploy(f->e, "2", f->url[2], f->sha[2], id, NULL, "--strategy",
				 "blue_green", "--ports", ports, "--batch", "3",
				 "--rollback-window", "1s", "--scale-down-delay", "60s", NULL),
		0);
	assert_int_not_equal(h_wait_exit(p, h_ms(60000)), -1);
	assert_true(h_file_contains(p->log, "OSP-CRASH-POINT"));
	bg_agent(f, 1); /* back: it reports its in-doubt switch and converges */
	assert_int_equal(h_ctl(f->e, NULL, NULL, "watch", id, NULL), 0);
	assert_true(h_wait_for(h_answers_are, f->e, &two, h_ms(10000)));
	assert_string_equal(bg_state(f, id, buf, sizeof(buf)), "succeeded");
}

static void test_bluegreen_fails_after_flip_switches_back(void **state)
{
	bg_fleet *f = *state;
	char id[64], url[600], sha[65], buf[32];
	static const char *const later[] = { "FAIL_AFTER=6", NULL };

	bg_start(f, NULL);
	assert_true(h_artifact(f->e, "4", later, url, sha));
	assert_int_equal(bg_deploy(f, "1", f->url[1], f->sha[1], id, NULL), 0);
	assert_int_equal(bg_deploy(f, "4", url, sha, id, "60s"), 1);
	assert_string_equal(bg_state(f, id, buf, sizeof(buf)), "rolled_back");
	bg_assert_proxies(f, "1");
}

static void test_bluegreen_rollback_and_proxy_restart(void **state)
{
	bg_fleet *f = *state;
	char id[64], rb[64], buf[32], *out = NULL;
	h_answers two = { f->front, BG_NODES, "2" };
	h_load *load;
	long reqs, fails;
	bool seen[10];

	bg_start(f, NULL);
	assert_int_equal(bg_deploy(f, "1", f->url[1], f->sha[1], id, NULL), 0);
	assert_int_equal(bg_deploy(f, "2", f->url[2], f->sha[2], id, NULL), 0);
	/* haproxy restarted by hand comes back with blue active: the agent
	 * notices and re-asserts green */
	h_kill(f->e, h_proc_named(f->e, "haproxy-px1"), SIGKILL);
	assert_non_null(h_haproxy_start(f->e, "px1", f->front[0], f->blue[0], f->green[0]));
	assert_true(h_wait_for(h_answers_are, f->e, &two, h_ms(20000)));
	/* rollback while the old slot still runs 1: a switch back under load */
	load = h_load_start(f->front, BG_NODES, 120);
	assert_non_null(load);
	/* the load runs across the switch back: answered by 2 before, by 1
	 * after, and a hundred requests more once 1 answered */
	assert_true(h_load_wait_seen(load, 2, h_ms(10000)));
	assert_int_equal(h_ctl(f->e, &out, NULL, "rollback", id, "--wait", NULL), 0);
	assert_true(h_load_wait_seen(load, 1, h_ms(10000)));
	assert_true(h_load_wait_more(load, 100, h_ms(10000)));
	h_load_stop(load, &reqs, &fails, seen);
	sscanf(out, "%63s", rb);
	free(out);
	fprintf(stderr, "rollback load: %ld requests, %ld failed\n", reqs, fails);
	assert_true(reqs > 100);
	assert_int_equal(fails, 0);
	assert_true(seen[1] && seen[2]);
	bg_assert_proxies(f, "1");
	assert_string_equal(bg_state(f, rb, buf, sizeof(buf)), "succeeded");
	/* a rollback of something that is not the latest succeeded is refused */
	assert_int_equal(h_ctl(f->e, NULL, NULL, "rollback", id, NULL), 1);
}

/* it_bluegreen [PATTERN]: only the tests whose name matches PATTERN */
int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bluegreen_switch_under_load, bg_setup,
			h_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_bluegreen_prepare_check_fails, bg_setup,
			h_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_bluegreen_coordinator_killed_after_decision,
			bg_setup, h_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_bluegreen_agent_killed_after_vote, bg_setup,
			h_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_bluegreen_fails_after_flip_switches_back,
			bg_setup, h_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_bluegreen_rollback_and_proxy_restart,
			bg_setup, h_fixture_teardown),
	};

	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
