/*
 * it_group_commit.c - command results are committed in groups and
 * acknowledged only after their commit (coord_register.c): a coordinator
 * killed in a group's transaction, after the results were applied and
 * before the commit, loses none of them. The agents never got their Ack, so
 * they send the results again once registered with the next coordinator,
 * and the rollout ends with every node on the new release.
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

#define GC_NODES 3

static const char *const gc_ids[GC_NODES] = { "gc-1", "gc-2", "gc-3" };

typedef struct gc_fleet {
	h_env *e;
	int ports[GC_NODES];
	char url[600], sha[65];
} gc_fleet;

static int gc_setup(void **state)
{
	gc_fleet *f = calloc(1, sizeof(*f));

	if (f == NULL || (f->e = h_setup("groupcommit")) == NULL) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int gc_teardown(void **state)
{
	gc_fleet *f = *state;

	h_teardown(f->e);
	free(f);
	return 0;
}

static bool gc_all_up(h_env *e, void *arg)
{
	(void)arg;
	return h_nodes_up(e) == GC_NODES;
}

static bool gc_all_answer_1(h_env *e, void *arg)
{
	gc_fleet *f = arg;
	char got[64];

	(void)e;
	for (int i = 0; i < GC_NODES; i++) {
		h_app_answer(f->ports[i], got, sizeof(got));
		if (strcmp(got, "1") != 0)
			return false;
	}
	return true;
}

/* The coordinator dies with the first results of a deploy applied in its
 * group's transaction and not committed; the next one gets them again. */
static void test_group_commit_killed_before_commit(void **state)
{
	gc_fleet *f = *state;
	char id[64], st[32];
	osp_json *status;

	setenv("OSPEC_CRASH_POINT", "coordinator-before-result-commit", 1);
	assert_non_null(h_coord_start(f->e, "500ms", NULL));
	unsetenv("OSPEC_CRASH_POINT");
	for (int i = 0; i < GC_NODES; i++) {
		f->ports[i] = h_free_port();
		assert_non_null(h_agent_start_app(f->e, gc_ids[i], "role=web", "hello", f->ports[i]));
	}
	assert_true(h_wait_for(gc_all_up, f->e, NULL, h_ms(20000)));
	assert_true(h_artifact(f->e, "1", NULL, f->url, f->sha));
	assert_int_equal(h_deploy(f->e, "1", f->url, f->sha, id, NULL, "--batch", "3", NULL), 0);
	/* the first group holding a result kills it before its commit */
	assert_int_not_equal(h_wait_exit(f->e->coord, h_ms(60000)), -1);
	assert_true(h_file_contains(f->e->coord->log, "OSP-CRASH-POINT"));

	assert_non_null(h_coord_start(f->e, "500ms", NULL));
	if (!h_wait_terminal(f->e, id, h_ms(60000), st, sizeof(st)))
		fail_msg("rollout %s did not end after the restart (last state %s): a result "
			 "lost with the group?", id, st);
	assert_string_equal(st, "succeeded");
	assert_true(h_wait_for(gc_all_answer_1, f->e, f, h_ms(10000)));
	status = h_status(f->e, id);
	assert_non_null(status);
	for (int i = 0; i < GC_NODES; i++)
		assert_string_equal(h_str(h_step(status, gc_ids[i]), "step"), "done");
	osp_json_free(status);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_group_commit_killed_before_commit, gc_setup,
			gc_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
