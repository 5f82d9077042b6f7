/*
 * it_harness.c - the integration harness itself, where a mistake in it shows
 * up as another test's flake:
 *
 *  - h_kill_procs kills a test's own processes only. `ctest -j2` runs two
 *    tests side by side, and node ids repeat across tests (it_plans and
 *    it_plans_bg both have an "eu-1"). it_plans used to kill "every process
 *    mentioning agent-eu-1/", which SIGKILLed it_plans_bg's eu-1 apps: its
 *    green slot then failed the switch prepare's health re-check with
 *    "process exited with status 137".
 *
 * The node id here ("hx-1") is this file's own, so that even a harness that
 * matched a bare needle could only ever hit these processes.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "harness.h"
#include "ospec/util.h"

#define HX_TESTS 2

typedef struct hx_fx {
	h_env *e[HX_TESTS]; /* two tests' environments, as two ctest jobs have */
} hx_fx;

static int hx_teardown(void **state)
{
	hx_fx *f = *state;

	for (int i = 0; i < HX_TESTS; i++)
		h_teardown(f->e[i]);
	free(f);
	return 0;
}

static int hx_setup(void **state)
{
	hx_fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	*state = f;
	for (int i = 0; i < HX_TESTS; i++) {
		f->e[i] = h_setup(i == 0 ? "harness-a" : "harness-b");
		if (f->e[i] == NULL) {
			hx_teardown(state); /* cmocka skips the teardown of a failed setup */
			return -1;
		}
	}
	return 0;
}

/* hx_app starts, in e, a process that runs from the release dir of node
 * hx-1 as an agent runs an app there: its working directory is
 * E/agent-hx-1/releases/1 and its command line does not name it. */
static h_proc *hx_app(h_env *e)
{
	char dir[400];

	snprintf(dir, sizeof(dir), "%s/agent-hx-1/releases/1", e->dir);
	assert_int_equal(osp_mkdir_p(dir, 0755), OSP_OK);
	/* the dir reaches the shell through its environment, so only the working
	 * directory names it, before and after the exec of sleep */
	assert_int_equal(setenv("HX_RELEASE_DIR", dir, 1), 0);
	return h_spawn(e, "app-hx-1", (char *[]){ "/bin/sh", "-c",
		"cd \"$HX_RELEASE_DIR\" && exec /bin/sleep 600", NULL });
}

static void test_harness_kill_procs_spares_other_tests(void **state)
{
	hx_fx *f = *state;
	h_proc *app[HX_TESTS];
	char longer[1024];
	int st;

	for (int i = 0; i < HX_TESTS; i++)
		assert_non_null(app[i] = hx_app(f->e[i]));
	for (int i = 0; i < HX_TESTS; i++) {
		int64_t end = osp_now_mono_ms() + h_ms(10000);
		while (h_count_procs(f->e[i], "agent-hx-1/") != 1 && osp_now_mono_ms() < end)
			osp_sleep_ms(20);
		assert_int_equal(h_count_procs(f->e[i], "agent-hx-1/"), 1);
	}
	/* what it_plans does to its own eu-1 */
	assert_int_equal(h_kill_procs(f->e[0], "agent-hx-1/"), 1);
	st = h_wait_exit(app[0], h_ms(10000));
	assert_true(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	assert_int_equal(h_count_procs(f->e[0], "agent-hx-1/"), 0);
	/* the other test's node of the same id runs on */
	assert_int_equal(h_wait_exit(app[1], 300), -1);
	assert_int_equal(h_count_procs(f->e[1], "agent-hx-1/"), 1);
	/* a path too long to build kills nothing rather than something else */
	memset(longer, 'x', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	assert_int_equal(h_kill_procs(f->e[1], longer), -1);
	assert_int_equal(h_count_procs(f->e[1], "agent-hx-1/"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_harness_kill_procs_spares_other_tests,
			hx_setup, hx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
