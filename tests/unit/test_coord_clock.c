/* test_coord_clock.c - unit tests for coordinator/coord_clock.c: the rollout
 * clock is the wall clock at its anchor, moved on by the monotonic clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "coord_clock.h"
#include "ospec/util.h"

/* a wall-clock step after the anchor does not move it: only the monotonic
 * reading does */
static void test_coord_clock_counts_monotonic(void **state)
{
	coord_clock k = { 0 };

	(void)state;
	coord_clock_anchor(&k, 1700000000000LL, 5000);
	assert_int_equal(coord_clock_at(&k, 5000), 1700000000000LL);
	assert_int_equal(coord_clock_at(&k, 5001), 1700000000001LL);
	assert_int_equal(coord_clock_at(&k, 65000), 1700000060000LL);
}

/* a zeroed clock anchors itself at its first read; it reads the wall clock
 * then, and never goes backwards */
static void test_coord_clock_now(void **state)
{
	coord_clock k = { 0 };
	int64_t prev, wall = osp_now_wall_ms();

	(void)state;
	prev = coord_clock_now(&k);
	assert_true(k.set);
	assert_true(llabs(prev - wall) < 2000);
	for (int i = 0; i < 1000; i++) {
		int64_t now = coord_clock_now(&k);

		assert_true(now >= prev);
		prev = now;
	}
	osp_sleep_ms(20);
	assert_true(coord_clock_now(&k) >= prev + 19);
	/* init re-anchors to the wall clock */
	coord_clock_init(&k);
	assert_true(llabs(coord_clock_now(&k) - osp_now_wall_ms()) < 2000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_coord_clock_counts_monotonic),
		cmocka_unit_test(test_coord_clock_now),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
