/*
 * test_coord_ctl_spec.c - a rollout's spec (coordinator/coord_ctl_spec.c):
 * deploy fills every setting from its arguments or their defaults, and a
 * rollback carries every setting of the rollout it undoes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "coord.h"
#include "coord_control.h"
#include "test_support.h"
#include "test_support_coord.h"

#define TS_SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* ts_deploy builds deploy's record from the release and the given
 * "key", "value" pairs (NULL-ended, at most 12 pairs). */
static Ospec__V1__RolloutRecord *ts_deploy(const char *key, ...)
{
	ts_ctl_rq r;
	Ospec__V1__RolloutRecord *rec;
	char err[512] = "";
	va_list ap;

	ts_ctl_rq_make(&r, "deploy", "app", "hello", "version", "2", "artifact",
		"file:///tmp/hello.tar.gz", "sha256", TS_SHA, "run", "./hello", NULL);
	va_start(ap, key);
	for (const char *k = key; k != NULL; k = va_arg(ap, const char *))
		ts_ctl_rq_add(&r, k, va_arg(ap, const char *));
	va_end(ap);
	rec = coord_ctl_deploy_rec(&r.rq, err, sizeof(err));
	if (rec == NULL)
		fail_msg("deploy refused: %s", err);
	return rec;
}

/* Without arguments every setting has its default, present in the record. */
static void test_coord_ctl_spec_defaults(void **state)
{
	Ospec__V1__RolloutRecord *r = ts_deploy("port", "8080", NULL);

	(void)state;
	assert_true(r->has_batch && r->batch == 1 && !r->batch_pct);
	assert_true(r->has_max_failures && r->max_failures == 0 && r->has_max_failures_pct);
	assert_string_equal(r->health_path, "/health");
	assert_true(r->has_health_interval_ms && r->health_interval_ms == 500);
	assert_true(r->has_health_timeout_ms && r->health_timeout_ms == 2000);
	assert_true(r->has_health_deadline_ms && r->health_deadline_ms == 60000);
	assert_true(r->has_health_rise && r->health_rise == 2);
	assert_true(r->has_health_fall && r->health_fall == 3);
	assert_true(r->has_progress_deadline_ms && r->progress_deadline_ms == 600000);
	assert_true(r->has_rollback_window_ms && r->rollback_window_ms == 120000);
	assert_true(r->has_scale_down_delay_ms && r->scale_down_delay_ms == 600000);
	assert_true(r->has_prepare_deadline_ms && r->prepare_deadline_ms == 30000);
	assert_true(r->has_no_auto_rollback && !r->no_auto_rollback);
	assert_null(r->select);
	assert_true(r->has_port && r->port == 8080);
	ospec__v1__rollout_record__free_unpacked(r, NULL);
}

/* A rollback keeps every setting of the rollout it undoes: its packed
 * settings equal the original's once the rest is cleared from both. */
static void test_coord_ctl_spec_copy(void **state)
{
	Ospec__V1__RolloutRecord *r = ts_deploy("strategy", "blue_green", "ports",
		"blue=8081,green=8082", "batch", "25%", "max-failures", "2", "health-path", "/hz",
		"health-interval", "1s", "health-timeout", "3s", "health-deadline", "90s",
		"health-rise", "4", "health-fall", "5", "progress-deadline", "20m", "watch", "3m",
		"scale-down-delay", "30m", "prepare-deadline", "45s", "select", "region=eu", NULL);
	Ospec__V1__RolloutRecord n = OSPEC__V1__ROLLOUT_RECORD__INIT;
	uint8_t a[1024], b[1024];
	size_t la, lb;

	(void)state;
	assert_int_equal(coord_ctl_spec_copy(&n, r), 0);
	assert_int_equal(n.strategy, COORD_RO_BLUE_GREEN);
	assert_int_equal(n.blue_port, 8081);
	assert_int_equal(n.green_port, 8082);
	assert_true(n.batch == 25 && n.batch_pct);
	assert_string_equal(n.health_path, "/hz");
	assert_string_equal(n.select, "region=eu");
	assert_int_equal(n.rollback_window_ms, 180000);
	/* everything else the same: what deploy set and rollback does not carry
	 * (the release, the auto-rollback switch) cleared from the original */
	{
		Ospec__V1__RolloutRecord m = *r;

		m.app = m.version = n.app = n.version = "";
		m.artifact = m.sha256 = m.run = NULL;
		m.has_no_auto_rollback = 0;
		assert_true(ospec__v1__rollout_record__get_packed_size(&m) <= sizeof(a));
		la = ospec__v1__rollout_record__pack(&m, a);
		lb = ospec__v1__rollout_record__pack(&n, b);
	}
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
	free(n.health_path);
	free(n.select);
	ospec__v1__rollout_record__free_unpacked(r, NULL);
}

/* Deploy's two ports are in the record as stored: a plan's stage (a packed
 * copy of the template) and a rollout loaded after a restart send them. */
static void test_coord_ctl_spec_ports_stored(void **state)
{
	Ospec__V1__RolloutRecord *r = ts_deploy("strategy", "blue_green", "ports",
		"blue=8081,green=8082", "watch", "1m", NULL);
	Ospec__V1__RolloutRecord *back;
	uint8_t buf[2048];
	size_t n;

	(void)state;
	assert_true(ospec__v1__rollout_record__get_packed_size(r) <= sizeof(buf));
	n = ospec__v1__rollout_record__pack(r, buf);
	assert_non_null(back = ospec__v1__rollout_record__unpack(NULL, n, buf));
	assert_int_equal(back->blue_port, 8081);
	assert_int_equal(back->green_port, 8082);
	ospec__v1__rollout_record__free_unpacked(back, NULL);
	ospec__v1__rollout_record__free_unpacked(r, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_coord_ctl_spec_defaults),
		cmocka_unit_test(test_coord_ctl_spec_copy),
		cmocka_unit_test(test_coord_ctl_spec_ports_stored),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
