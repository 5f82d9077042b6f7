/*
 * it_drain.c - rolling deploys behind a proxy with drain (docs/rollouts.md,
 * "Drain"): three nodes, each with its own haproxy whose backend `hello` has
 * the node's app as server `local` and the other nodes' apps as `backup`
 * servers. A v1 -> v2 rolling deploy (one node at a time) under continuous
 * load through every frontend (keep-alive and new connections).
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

#define IT_NODES 3

typedef struct it_drain {
	h_env *e;
	int app[IT_NODES], front[IT_NODES];
	char url[3][600];
	char sha[3][65];
} it_drain;

static const char *const it_ids[IT_NODES] = { "d1", "d2", "d3" };

static int it_setup(void **state)
{
	it_drain *f = calloc(1, sizeof(*f));

	if (f == NULL || (f->e = h_setup("drain")) == NULL)
		return -1;
	*state = f;
	return 0;
}

static int it_teardown(void **state)
{
	it_drain *f = *state;

	h_teardown(f->e);
	free(f);
	return 0;
}

static bool it_all_up(h_env *e, void *arg)
{
	(void)arg;
	return h_nodes_up(e) == IT_NODES;
}

/* it_fronts_answer: every frontend answers with the version in arg. */
static bool it_fronts_answer(h_env *e, void *arg)
{
	it_drain *f = arg;
	char got[64];

	(void)e;
	for (int i = 0; i < IT_NODES; i++) {
		h_app_answer(f->front[i], got, sizeof(got));
		if (strcmp(got, "1") != 0)
			return false;
	}
	return true;
}

/* it_start: a coordinator, per node a haproxy and an agent (with the drain
 * proxy block when drain), v1 deployed and served by every frontend. */
static void it_start(it_drain *f, bool drain)
{
	char name[32], id[64], *err = NULL;

	assert_non_null(h_coord_start(f->e, "500ms", NULL));
	for (int i = 0; i < IT_NODES; i++) {
		f->app[i] = h_free_port();
		f->front[i] = h_free_port();
	}
	for (int i = 0; i < IT_NODES; i++) {
		int backups[IT_NODES - 1];
		size_t nb = 0;

		for (int j = 0; j < IT_NODES; j++)
			if (j != i)
				backups[nb++] = f->app[j];
		snprintf(name, sizeof(name), "hx-%s", it_ids[i]);
		assert_non_null(h_haproxy_start_rolling(f->e, name, f->front[i], f->app[i],
			backups, nb));
		assert_non_null(h_agent_start_drain(f->e, it_ids[i], "role=web", f->app[i],
			drain ? name : NULL));
	}
	assert_true(h_wait_for(it_all_up, f->e, NULL, h_ms(20000)));
	assert_true(h_artifact(f->e, "1", NULL, f->url[1], f->sha[1]));
	assert_true(h_artifact(f->e, "2", NULL, f->url[2], f->sha[2]));
	assert_int_equal(h_deploy(f->e, "1", f->url[1], f->sha[1], id, &err, "--batch", "1",
				 "--wait", NULL),
		0);
	free(err);
	assert_true(h_wait_for(it_fronts_answer, f->e, f, h_ms(20000)));
}

/* it_roll deploys v2 one node at a time under load through every frontend. */
static void it_roll(it_drain *f, long *requests, long *failures, bool seen[10])
{
	char id[64], *err = NULL;
	h_load *l = h_load_start(f->front, IT_NODES, 600);
	osp_json *st;
	int rc;

	assert_non_null(l);
	rc = h_deploy(f->e, "2", f->url[2], f->sha[2], id, &err, "--batch", "1", "--wait", NULL);
	h_load_stop(l, requests, failures, seen);
	if (rc != 0)
		fail_msg("deploy v2: exit %d: %s", rc, err != NULL ? err : "");
	free(err);
	st = h_status(f->e, id);
	assert_non_null(st);
	assert_string_equal(osp_json_get_str(st, "state"), "succeeded");
	osp_json_free(st);
}

static void test_drain_rolling_no_failed_request(void **state)
{
	it_drain *f = *state;
	long requests = 0, failures = 0;
	bool seen[10];
	h_proc *a;

	it_start(f, true);
	it_roll(f, &requests, &failures, seen);
	print_message("with drain: %ld requests, %ld failed\n", requests, failures);
	assert_true(requests > 0);
	assert_int_equal(failures, 0);
	assert_true(seen[1]);
	assert_true(seen[2]);
	for (int i = 0; i < IT_NODES; i++) {
		char got[64], pname[80];

		snprintf(pname, sizeof(pname), "agent-%s", it_ids[i]);
		a = h_proc_named(f->e, pname);
		assert_non_null(a);
		/* each stage drained its server and put it back */
		assert_true(h_file_contains(a->log, "server 'local' drained in"));
		assert_true(h_file_contains(a->log, "server 'local' is ready again"));
		h_app_answer(f->app[i], got, sizeof(got));
		assert_string_equal(got, "2");
	}
}

/* The same deploy without drain: its failures are reported, not asserted
 * (how many depends on timing; docs/rollouts.md has the measurements). */
static void test_drain_rolling_without_drain_reported(void **state)
{
	it_drain *f = *state;
	long requests = 0, failures = 0;
	bool seen[10];

	it_start(f, false);
	it_roll(f, &requests, &failures, seen);
	print_message("without drain: %ld requests, %ld failed\n", requests, failures);
	assert_true(requests > 0);
	assert_true(seen[2]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_drain_rolling_no_failed_request, it_setup,
			it_teardown),
		cmocka_unit_test_setup_teardown(test_drain_rolling_without_drain_reported, it_setup,
			it_teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
