/* test_coord_rollout_core.c - unit tests for coordinator/engine/
 * coord_rollout_core.c: the engine's own copies of common helpers agree with
 * the originals, the deadline arithmetic every strategy uses, and the
 * actions' messages kept apart from the actions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "coord_rollout_int.h"
#include "ospec/util.h"

/* the engine links to libc only, so it carries copies of these two; what
 * an operator reads must not change with the copy */
static void test_coord_rollout_core_helpers(void **state)
{
	static const int64_t ms[] = { 0, 1, 999, 1000, 1500, 30000, 59999, 60000, 90000,
				      300000, 3600000, 5400000, 7200000, 86400000, -1, -60000,
				      INT64_MAX, INT64_MIN + 1 };
	static const char *const strs[] = { "", "a", "abc", "abcd", "abcdefgh" };
	char a[32], b[32];

	(void)state;
	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
		coord_ro_duration_fmt(ms[i], a, sizeof(a));
		osp_duration_fmt(ms[i], b, sizeof(b));
		assert_string_equal(a, b);
	}
	coord_ro_duration_fmt(30000, a, sizeof(a));
	assert_string_equal(a, "30s");
	coord_ro_duration_fmt(1500, a, sizeof(a));
	assert_string_equal(a, "1500ms");
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		for (size_t len = 1; len <= 6; len++) {
			memset(a, 'x', sizeof(a));
			memset(b, 'x', sizeof(b));
			assert_int_equal(coord_ro_strlcpy(a, strs[i], len),
					 osp_strlcpy(b, strs[i], len));
			assert_memory_equal(a, b, sizeof(a));
		}
	}
	/* len 0 writes nothing and still reports the length */
	memset(a, 'x', sizeof(a));
	assert_int_equal(coord_ro_strlcpy(a, "abc", 0), 3);
	assert_int_equal(a[0], 'x');
}

static void test_coord_rollout_core_deadlines(void **state)
{
	coord_ro_step s = { .cmd = COORD_RO_CMD_STAGE, .started_ms = 1000 };
	coord_rollout r = { .progress_deadline_ms = 500, .nsteps = 1, .steps = &s };

	(void)state;
	assert_int_equal(coord_ro_add(1, 2), 3);
	assert_true(coord_ro_add(INT64_MAX - 1, 5) == INT64_MAX);
	assert_int_equal(coord_ro_add(7, 0), 7);
	/* "more than span after start": the first such ms */
	assert_int_equal(coord_ro_after(1000, 500), 1501);
	assert_int_equal(coord_ro_after(1000, 0), 1001);
	assert_true(coord_ro_after(1000, -1) == COORD_RO_NEVER);
	assert_true(coord_ro_after(INT64_MAX - 10, 100) == COORD_RO_NEVER);
	assert_false(coord_ro_due(1500, 1501));
	assert_true(coord_ro_due(1501, 1501));
	assert_true(coord_ro_due(9999, 1501));
	assert_false(coord_ro_due(INT64_MAX, COORD_RO_NEVER));
	/* a step's progress deadline */
	assert_int_equal(coord_ro_step_deadline(&r, &s), 1501);
	s.cmd = COORD_RO_CMD_NONE;
	assert_true(coord_ro_step_deadline(&r, &s) == COORD_RO_NEVER);
	s.cmd = COORD_RO_CMD_REVERT;
	r.progress_deadline_ms = 0; /* none */
	assert_true(coord_ro_step_deadline(&r, &s) == COORD_RO_NEVER);
	r.progress_deadline_ms = -5;
	assert_true(coord_ro_step_deadline(&r, &s) == COORD_RO_NEVER);
}

/* coord_ro_find finds every step, sorted by node id (as the glue makes
 * them: a binary search) or not (a scan), and no other */
static void test_coord_rollout_core_find(void **state)
{
	static const char *const sorted[] = { "a", "b-1", "b-10", "b-2", "web-1", "web-2", "z" };
	static const char *const mixed[] = { "web-2", "a", "z", "b-10", "web-1", "b-1", "b-2" };
	coord_ro_step steps[7];
	coord_rollout r = { .nsteps = 7, .steps = steps };
	size_t i = 99;

	(void)state;
	memset(steps, 0, sizeof(steps));
	for (size_t k = 0; k < 7; k++)
		coord_ro_strlcpy(steps[k].node, sorted[k], sizeof(steps[k].node));
	for (size_t k = 0; k < 7; k++) {
		assert_int_equal(coord_ro_find(&r, sorted[k], &i), OSP_OK);
		assert_int_equal(i, k);
	}
	for (size_t k = 0; k < 7; k++)
		coord_ro_strlcpy(steps[k].node, mixed[k], sizeof(steps[k].node));
	for (size_t k = 0; k < 7; k++) {
		assert_int_equal(coord_ro_find(&r, mixed[k], &i), OSP_OK);
		assert_int_equal(i, k);
	}
	assert_int_equal(coord_ro_find(&r, "b", &i), OSP_ENOENT);
	assert_int_equal(coord_ro_find(&r, "zz", &i), OSP_ENOENT);
	assert_int_equal(coord_ro_find(&r, "", &i), OSP_ENOENT);
	assert_int_equal(coord_ro_find(&r, NULL, &i), OSP_EINVAL);
	r.nsteps = 0;
	assert_int_equal(coord_ro_find(&r, "a", &i), OSP_ENOENT);
}

/* Messages live in the actions' text, which grows as they come: every
 * message reads back whole after the text moved, a message over
 * COORD_RO_MAX_REASON keeps its start and end with " ... " between, an action without one reads "",
 * and the text starts again at each event (text_len = 0). */
static void test_coord_rollout_core_messages(void **state)
{
	coord_ro_action v[64];
	coord_ro_actions out = { .v = v, .cap = 64 };
	static char big[3 * COORD_RO_MAX_REASON];
	char want[64];
	const char *m;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	for (size_t i = 0; i < 40; i++) {
		coord_ro_action *a = coord_ro_push(&out, COORD_RO_ACT_EVENT, i);
		assert_non_null(a);
		/* 1500 bytes each: the text grows from 4 KB to past 60 KB */
		coord_ro_msg(&out, a, "step %zu: %.1500s", i, big);
	}
	assert_non_null(coord_ro_push(&out, COORD_RO_ACT_DONE, SIZE_MAX));
	coord_ro_msg(&out, coord_ro_push(&out, COORD_RO_ACT_EVENT, SIZE_MAX), "head %.3000s tail",
		big);
	assert_true(out.text_cap >= 40 * 1500);
	for (size_t i = 0; i < 40; i++) {
		m = coord_ro_action_msg(&out, &out.v[i]);
		snprintf(want, sizeof(want), "step %zu: xxx", i);
		assert_memory_equal(m, want, strlen(want));
		assert_int_equal(strlen(m), strlen(want) - 3 + 1500);
	}
	assert_string_equal(coord_ro_action_msg(&out, &out.v[40]), "");
	m = coord_ro_action_msg(&out, &out.v[41]);
	assert_int_equal(strlen(m), COORD_RO_MAX_REASON - 1);
	assert_memory_equal(m, "head xxx", 8);
	assert_non_null(strstr(m, "x ... x"));
	assert_string_equal(m + COORD_RO_MAX_REASON - 1 - 8, "xxx tail");
	/* a node's message may be 8 KB: its end is kept, past the 8 KB the
	 * engine formats on its stack too */
	coord_ro_msg(&out, coord_ro_push(&out, COORD_RO_ACT_EVENT, SIZE_MAX), "%s%s%s LAST-LINE",
		big, big, big);
	m = coord_ro_action_msg(&out, &out.v[42]);
	assert_int_equal(strlen(m), COORD_RO_MAX_REASON - 1);
	assert_string_equal(m + strlen(m) - 9, "LAST-LINE");
	/* the next event reuses the text from its start */
	out.n = 0;
	out.text_len = 0;
	coord_ro_msg(&out, coord_ro_push(&out, COORD_RO_ACT_SEND, 0), "stage on %s", "web-1");
	assert_string_equal(coord_ro_action_msg(&out, &out.v[0]), "stage on web-1");
	/* text bookkeeping that cannot be right is refused, not written past */
	{
		coord_rollout r;
		coord_ro_event ev = { .kind = COORD_RO_EV_TICK, .now_ms = 1 };
		memset(&r, 0, sizeof(r));
		out.n = 0;
		out.text_len = out.text_cap + 1;
		assert_int_equal(coord_ro_apply(&r, &ev, &out), OSP_EINVAL);
		out.text_len = 0;
	}
	free(out.text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_coord_rollout_core_helpers),
		cmocka_unit_test(test_coord_rollout_core_deadlines),
		cmocka_unit_test(test_coord_rollout_core_find),
		cmocka_unit_test(test_coord_rollout_core_messages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
