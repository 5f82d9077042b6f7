/*
 * test_agent_traffic_haproxy_watch.c - the haproxy traffic driver keeping
 * its slot: a restarted haproxy or a hand-made change re-asserted by watch,
 * a socket below `level admin`, and concurrent commits under load. The rest
 * of the driver is in test_agent_traffic_haproxy.c.
 *
 * The haproxy and sample-app fixture is shared (test_support_haproxy.h):
 * every process is a child that dies with the test and is stopped in the
 * teardown, pass or fail.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent_traffic.h"
#include "ospec/util.h"
#include "test_support.h"
#include "test_support_haproxy.h"


static void test_agent_traffic_haproxy_restart_reasserted(void **state)
{
	ts_hx *t = *state;
	agent_traffic *tr = ts_hx_open(&t->cfg);
	char err[512];
	bool re = true;

	ts_hx_commit(tr, "green");
	assert_int_equal(agent_traffic_watch(tr, "green", &re, err, sizeof(err)), OSP_OK);
	assert_false(re); /* first look: green is active, nothing to do */
	ts_hx_restart(t, 0, "admin"); /* same config: blue is back */
	ts_hx_assert_version(t, "1");
	if (agent_traffic_watch(tr, "green", &re, err, sizeof(err)) != OSP_OK)
		fail_msg("watch: %s", err);
	assert_true(re);
	ts_hx_assert_version(t, "2");
	ts_hx_assert_current(tr, "green");
	assert_int_equal(agent_traffic_watch(tr, "green", &re, err, sizeof(err)), OSP_OK);
	assert_false(re); /* settled */
	agent_traffic_close(tr);
}

/* A restart is noticed by its Pid even when the state happens to look right. */
static void test_agent_traffic_haproxy_restart_seen_by_pid(void **state)
{
	ts_hx *t = *state;
	agent_traffic *tr = ts_hx_open(&t->cfg);
	char err[512];
	bool re = true;

	assert_int_equal(agent_traffic_watch(tr, "", &re, err, sizeof(err)), OSP_OK);
	assert_false(re); /* no active slot yet: only records */
	ts_hx_commit(tr, "green");
	assert_int_equal(agent_traffic_watch(tr, "green", &re, err, sizeof(err)), OSP_OK);
	assert_false(re);
	ts_hx_restart(t, 1, "admin"); /* a config that already has green enabled */
	ts_hx_assert_version(t, "2");
	if (agent_traffic_watch(tr, "green", &re, err, sizeof(err)) != OSP_OK)
		fail_msg("watch: %s", err);
	assert_true(re);
	ts_hx_assert_current(tr, "green");
	agent_traffic_close(tr);
}

static void test_agent_traffic_haproxy_drift_reasserted(void **state)
{
	ts_hx *t = *state;
	agent_traffic *tr = ts_hx_open(&t->cfg);
	char err[512], reply[256];
	bool re = true;

	ts_hx_commit(tr, "green");
	assert_int_equal(agent_traffic_watch(tr, "green", &re, err, sizeof(err)), OSP_OK);
	assert_false(re);
	/* an operator puts blue back by hand: both serve */
	assert_true(ts_hx_admin(t, "set server hello/hello_blue state ready", reply,
			    sizeof(reply)) >= 0);
	ts_hx_assert_current(tr, "");
	assert_int_equal(agent_traffic_watch(tr, "green", &re, err, sizeof(err)), OSP_OK);
	assert_true(re);
	ts_hx_assert_current(tr, "green");
	ts_hx_assert_version(t, "2");
	agent_traffic_close(tr);
}

/* A socket below `level admin` reads fine but cannot switch: prepare finds
 * out, so the node votes NO instead of failing after the decision. */
static void test_agent_traffic_haproxy_needs_admin_level(void **state)
{
	ts_hx *t = *state;
	agent_traffic *tr = ts_hx_open(&t->cfg);
	char err[512];

	ts_hx_restart(t, 0, "operator");
	ts_hx_assert_current(tr, "blue");
	assert_int_equal(agent_traffic_prepare(tr, "green", err, sizeof(err)), OSP_EPERM);
	assert_non_null(strstr(err, "level admin"));
	assert_int_equal(agent_traffic_commit(tr, "green", err, sizeof(err)), OSP_EREFUSED);
	assert_non_null(strstr(err, "Permission denied"));
	ts_hx_assert_version(t, "1");
	agent_traffic_close(tr);
}

typedef struct tx_flipper {
	agent_traffic *tr;
	const char *slot;
	int n;
	int failed;
	char err[512];
} tx_flipper;

static void *tx_flip_run(void *arg)
{
	tx_flipper *f = arg;

	for (int i = 0; i < f->n; i++) {
		char err[512];
		if (agent_traffic_commit(f->tr, f->slot, err, sizeof(err)) != OSP_OK &&
			f->failed++ == 0)
			osp_strlcpy(f->err, err, sizeof(f->err));
	}
	return NULL;
}

/* Two handles on one socket commit opposite slots at once: each commit is
 * one indivisible sequence, so every commit succeeds, and at every moment one
 * server serves (the load sees no failure). */
static void test_agent_traffic_haproxy_concurrent_commits(void **state)
{
	ts_hx *t = *state;
	tx_flipper f[2] = {
		{ .tr = ts_hx_open(&t->cfg), .slot = "green", .n = 25 },
		{ .tr = ts_hx_open(&t->cfg), .slot = "blue", .n = 25 },
	};
	pthread_t th[2];
	char slot[AGENT_TRAFFIC_SLOT_MAX], err[256];

	ts_hx_load_start(t, 20, 50);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, tx_flip_run, &f[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	ts_hx_load_finish(&t->load);
	for (int i = 0; i < 2; i++)
		if (f[i].failed != 0)
			fail_msg("%d commits to %s failed; first: %s", f[i].failed, f[i].slot,
				f[i].err);
	assert_int_equal(agent_traffic_current(f[0].tr, slot, sizeof(slot), err, sizeof(err)),
		OSP_OK);
	assert_true(strcmp(slot, "blue") == 0 || strcmp(slot, "green") == 0);
	ts_hx_assert_version(t, strcmp(slot, "blue") == 0 ? "1" : "2");
	agent_traffic_close(f[0].tr);
	agent_traffic_close(f[1].tr);
}

int main(void)
{
#define HX(name) cmocka_unit_test_setup_teardown(name, ts_hx_setup, ts_hx_teardown)
	const struct CMUnitTest tests[] = {
		HX(test_agent_traffic_haproxy_restart_reasserted),
		HX(test_agent_traffic_haproxy_restart_seen_by_pid),
		HX(test_agent_traffic_haproxy_drift_reasserted),
		HX(test_agent_traffic_haproxy_needs_admin_level),
		HX(test_agent_traffic_haproxy_concurrent_commits),
	};
#undef HX

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
