/*
 * test_wire_canary.c - the limits of the canary commands of protocol 1.3
 * (TrafficWeight, TrafficStats) and a round trip of CommandResult.stats.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <nng/nng.h>

#include "ospec/util.h"
#include "ospec/wire.h"
#include "test_support_wire.h"

typedef struct wc {
	Ospec__V1__TrafficWeight tw;
	Ospec__V1__TrafficStats ts;
	Ospec__V1__Command c[2], *cp[2];
	Ospec__V1__Commands batch;
	osp_env env;
} wc;

static void wc_init(wc *w)
{
	memset(w, 0, sizeof(*w));
	ospec__v1__traffic_weight__init(&w->tw);
	w->tw.app = "hello";
	w->tw.slot = "green";
	w->tw.weight = 10;
	w->tw.step_id = "ro-1-w1";
	ospec__v1__traffic_stats__init(&w->ts);
	w->ts.app = "hello";
	w->ts.slot = "green";
	for (int i = 0; i < 2; i++) {
		ospec__v1__command__init(&w->c[i]);
		w->c[i].seq = (uint64_t)i + 1;
		w->cp[i] = &w->c[i];
	}
	w->c[0].kind_case = OSPEC__V1__COMMAND__KIND_WEIGHT;
	w->c[0].weight = &w->tw;
	w->c[1].kind_case = OSPEC__V1__COMMAND__KIND_STATS;
	w->c[1].stats = &w->ts;
	ospec__v1__commands__init(&w->batch);
	w->batch.n_entries = 2;
	w->batch.entries = w->cp;
	osp_wire_env_init(&w->env, NULL, NULL, 1);
	w->env.body_case = OSPEC__V1__ENVELOPE__BODY_COMMANDS;
	w->env.commands = &w->batch;
}

static void wc_expect(const osp_env *env, osp_err want, const char *what)
{
	osp_env *d = NULL;
	char err[256] = "";
	osp_err rv = ts_wire_encode_decode(env, &d, err, sizeof(err));

	if (rv != want || strstr(err, what) == NULL)
		fail_msg("want %s naming '%s', got %s: '%s'", osp_strerror(want), what,
			osp_strerror(rv), err);
	osp_wire_free(d);
}

static void test_wire_canary_commands(void **state)
{
	char longid[OSP_WIRE_MAX_ID + 2];
	osp_env *d = NULL;
	char err[256];
	wc w;

	(void)state;
	wc_init(&w);
	assert_int_equal(ts_wire_encode_decode(&w.env, &d, err, sizeof(err)), OSP_OK);
	assert_int_equal(d->commands->entries[0]->weight->weight, 10);
	assert_string_equal(d->commands->entries[1]->stats->slot, "green");
	osp_wire_free(d);
	memset(longid, 'a', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';

	w.tw.weight = 101;
	wc_expect(&w.env, OSP_EINVAL, "weight.weight");
	w.tw.weight = 100;
	wc_expect(&w.env, OSP_OK, "");
	w.tw.slot = "main";
	wc_expect(&w.env, OSP_EINVAL, "weight.slot");
	w.tw.slot = "idle";
	wc_expect(&w.env, OSP_EINVAL, "weight.slot");
	w.tw.slot = "green";
	w.tw.app = "hel lo";
	wc_expect(&w.env, OSP_EINVAL, "weight.app");
	w.tw.app = longid;
	wc_expect(&w.env, OSP_ETOOBIG, "weight.app");
	w.tw.app = "hello";
	w.tw.step_id = longid;
	wc_expect(&w.env, OSP_ETOOBIG, "weight.step_id");
	w.tw.step_id = NULL;
	wc_expect(&w.env, OSP_OK, "");
	w.ts.slot = "";
	wc_expect(&w.env, OSP_EINVAL, "stats.slot");
	w.ts.slot = "blue";
	w.ts.app = "";
	wc_expect(&w.env, OSP_EINVAL, "stats.app");
}

static void test_wire_canary_result_stats(void **state)
{
	Ospec__V1__SlotStats st = { TS_WIRE_BASE(slot_stats) };
	Ospec__V1__CommandResult res = { TS_WIRE_BASE(command_result) };
	osp_env env, *d = NULL;
	char err[256];

	(void)state;
	st.has_requests = st.has_errors = st.has_rtime_ms = st.has_has_rtime = 1;
	st.requests = 12345678901ULL;
	st.errors = 17;
	st.rtime_ms = 42;
	st.has_rtime = 1;
	st.has_proxy_start = 1;
	st.proxy_start = 1700000000;
	res.stats = &st;
	res.has_kind = 1;
	res.kind = OSPEC__V1__COMMAND__KIND_STATS;
	res.slot = "green";
	osp_wire_env_init(&env, "web-1", NULL, 1);
	env.body_case = OSPEC__V1__ENVELOPE__BODY_RESULT;
	env.result = &res;
	assert_int_equal(ts_wire_encode_decode(&env, &d, err, sizeof(err)), OSP_OK);
	assert_non_null(d->result->stats);
	assert_int_equal(d->result->stats->requests, 12345678901ULL);
	assert_int_equal(d->result->stats->errors, 17);
	assert_int_equal(d->result->stats->rtime_ms, 42);
	assert_true(d->result->stats->has_rtime);
	assert_int_equal(d->result->stats->proxy_start, 1700000000);
	osp_wire_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wire_canary_commands),
		cmocka_unit_test(test_wire_canary_result_stats),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
