/*
 * test_agent_bluegreen_canary.c - the agent's canary handlers (TrafficWeight,
 * TrafficStats) driven through the exec layer without a coordinator, with the
 * real sample app in blue and green and the exec traffic driver: its weight
 * script logs each weight it is given, its stats script prints counters. The
 * refusals (active slot, prepared switch, an idle slot that does not run,
 * Stage and ScaleDown of a canary slot), the durable record, the result's
 * stats, the end of a canary by weight 0 and by a committed switch, the
 * restore at agent start, and an app without a proxy.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent.h"
#include "agent_runner.h"
#include "ospec/v1/agent.pb-c.h"
#include "test_support.h"
#include "test_support_agent.h"

#define APP "hello"
#define R_OK_ OSPEC__V1__RESULT_STATUS__RESULT_OK
#define R_FAILED OSPEC__V1__RESULT_STATUS__RESULT_FAILED
#define R_REFUSED OSPEC__V1__RESULT_STATUS__RESULT_REFUSED
#define R_YES OSPEC__V1__RESULT_STATUS__RESULT_VOTE_YES

typedef struct cfx {
	ts_agent_fx f; /* first: the shared fixture */
	Ospec__V1__TrafficWeight tw;
	Ospec__V1__TrafficStats ts;
	char script[3][300], weights[300];
} cfx;

static void cfx_script(const char *path, const char *body)
{
	char text[1024];

	snprintf(text, sizeof(text), "#!/bin/sh\n%s\n", body);
	assert_int_equal(osp_file_write_atomic(path, text, strlen(text), 0755), OSP_OK);
	assert_int_equal(chmod(path, 0755), 0);
}

/* cfx_setup: the agent fixture, and app hello behind the exec driver
 * (proxy: true) or without a proxy. */
static int cfx_setup_with(void **state, bool proxy)
{
	cfx *x = calloc(1, sizeof(*x));
	ts_agent_fx *f;
	agent_app_cfg *ac;
	char body[600];

	assert_non_null(x);
	f = &x->f;
	ts_agent_fx_init(f, "/tmp/ospec-canary-XXXXXX");
	f->blue = ts_free_port();
	do
		f->green = ts_free_port();
	while (f->green == f->blue);
	*state = x;
	if (!proxy)
		return 0;
	snprintf(x->weights, sizeof(x->weights), "%s/weights", f->root);
	snprintf(x->script[0], sizeof(x->script[0]), "%s/commit.sh", f->root);
	snprintf(x->script[1], sizeof(x->script[1]), "%s/weight.sh", f->root);
	snprintf(x->script[2], sizeof(x->script[2]), "%s/stats.sh", f->root);
	cfx_script(x->script[0], "exit 0");
	snprintf(body, sizeof(body), "echo \"$OSPEC_ACTIVE_SLOT $OSPEC_CANARY_SLOT $OSPEC_WEIGHT\" >> '%s'",
		x->weights);
	cfx_script(x->script[1], body);
	cfx_script(x->script[2], "echo \"requests=100 errors=2 rtime_ms=7\"");
	/* the agent reads the host config at use: set before the first command */
	ac = &f->cfg.apps[0];
	osp_strlcpy(ac->name, APP, sizeof(ac->name));
	ac->proxy.driver = "exec";
	ac->proxy.exec_commit = x->script[0];
	ac->proxy.exec_weight = x->script[1];
	ac->proxy.exec_stats = x->script[2];
	f->cfg.napps = 1;
	return 0;
}

static int cfx_setup(void **state)
{
	return cfx_setup_with(state, true);
}

static int cfx_setup_noproxy(void **state)
{
	return cfx_setup_with(state, false);
}

static int cfx_teardown(void **state)
{
	cfx *x = *state;
	static const char *const slots[] = { "blue", "green" };

	ts_agent_stop_slots(x->f.a, APP, slots, 2);
	ts_agent_fx_fini(&x->f);
	free(x);
	return 0;
}

static void stage_of(ts_agent_fx *f, int v, const char *slot, uint64_t gen)
{
	ts_cmd_stage_slot(&f->c, f, APP, v, slot, gen);
}

static void switch_to(ts_agent_fx *f, const char *id, const char *slot, uint64_t gen)
{
	ts_cmd_prepare(&f->c, id, APP, slot, 0, gen);
	ts_cmd_expect(f->a, &f->c, R_YES);
	ts_cmd_decision(&f->c, id, APP, true, gen + 1);
	ts_cmd_expect(f->a, &f->c, R_OK_);
}

/* weight_cmd makes f->c a TrafficWeight. */
static void weight_cmd(cfx *x, const char *slot, unsigned w)
{
	ts_cmd *c = &x->f.c;

	ts_cmd_init(c, 0);
	ospec__v1__traffic_weight__init(&x->tw);
	x->tw.app = (char *)APP;
	x->tw.slot = (char *)slot;
	x->tw.weight = w;
	x->tw.step_id = "ro-1-w1";
	c->cmd.kind_case = OSPEC__V1__COMMAND__KIND_WEIGHT;
	c->cmd.weight = &x->tw;
}

static void stats_cmd(cfx *x, const char *slot)
{
	ts_cmd *c = &x->f.c;

	ts_cmd_init(c, 0);
	ospec__v1__traffic_stats__init(&x->ts);
	x->ts.app = (char *)APP;
	x->ts.slot = (char *)slot;
	c->cmd.kind_case = OSPEC__V1__COMMAND__KIND_STATS;
	c->cmd.stats = &x->ts;
}

static void assert_canary(cfx *x, const char *slot, unsigned w)
{
	Ospec__V1__AgentAppRecord *r = ts_agent_record(x->f.a, APP);

	assert_non_null(r);
	assert_string_equal(r->canary_slot != NULL ? r->canary_slot : "", slot);
	assert_int_equal(r->has_canary_weight ? r->canary_weight : 0, w);
	ospec__v1__agent_app_record__free_unpacked(r, NULL);
}

static void assert_weights_log(cfx *x, const char *want)
{
	char *data = NULL;
	size_t len;

	if (osp_file_read(x->weights, 65536, &data, &len) != OSP_OK)
		data = strdup("");
	assert_string_equal(data, want);
	free(data);
}

/* blue 1 active, green 2 staged: the canary's starting point */
static void canary_ready(cfx *x)
{
	ts_agent_fx *f = &x->f;

	stage_of(f, 1, "blue", 1);
	ts_cmd_expect(f->a, &f->c, R_OK_);
	switch_to(f, "sw-1", "blue", 2);
	stage_of(f, 2, "idle", 4);
	ts_cmd_expect(f->a, &f->c, R_OK_);
	assert_string_equal(f->c.res.slot, "green");
}

static void test_agent_bluegreen_canary_weight_and_refusals(void **state)
{
	cfx *x = *state;
	ts_agent_fx *f = &x->f;
	ts_cmd *c = &f->c;

	/* no app yet: nothing to weight */
	weight_cmd(x, "green", 10);
	ts_cmd_expect(f->a, c, R_REFUSED);
	ts_assert_has(c->msg, "no active slot");
	canary_ready(x);
	weight_cmd(x, "blue", 10);
	ts_cmd_expect(f->a, c, R_REFUSED);
	ts_assert_has(c->msg, "slot 'blue' of app 'hello' is active");
	assert_weights_log(x, "");

	weight_cmd(x, "green", 10);
	ts_cmd_expect(f->a, c, R_OK_);
	assert_int_equal(c->res.kind, OSPEC__V1__COMMAND__KIND_WEIGHT);
	assert_string_equal(c->res.slot, "green");
	assert_string_equal(c->res.version, "2");
	assert_non_null(c->res.stats); /* the baseline */
	assert_int_equal(c->res.stats->requests, 100);
	assert_int_equal(c->res.stats->errors, 2);
	assert_true(c->res.stats->has_rtime && c->res.stats->rtime_ms == 7);
	assert_canary(x, "green", 10);
	assert_weights_log(x, "blue green 10\n");
	/* re-delivered: fine, and the script is not run for nothing */
	ts_cmd_expect(f->a, c, R_OK_);
	assert_weights_log(x, "blue green 10\n");

	/* the canary's slot is busy */
	stage_of(f, 1, "green", 10);
	ts_cmd_expect(f->a, c, R_REFUSED);
	ts_assert_has(c->msg, "slot green carries 10% canary traffic of app hello");
	ts_assert_answers(f->green, "2");
	ts_cmd_init(c, 11);
	ospec__v1__scale_down__init(&c->sd);
	c->sd.app = (char *)APP;
	c->sd.slot = "green";
	c->sd.slot_generation = 99;
	c->cmd.kind_case = OSPEC__V1__COMMAND__KIND_SCALE_DOWN;
	c->cmd.scale_down = &c->sd;
	ts_cmd_expect(f->a, c, R_REFUSED);
	ts_assert_has(c->msg, "carries 10% canary traffic");
	ts_assert_answers(f->green, "2");

	stats_cmd(x, "green");
	ts_cmd_expect(f->a, c, R_OK_);
	assert_int_equal(c->res.kind, OSPEC__V1__COMMAND__KIND_STATS);
	assert_non_null(c->res.stats);
	assert_int_equal(c->res.stats->requests, 100);

	/* the next step, then the reset */
	weight_cmd(x, "green", 20);
	ts_cmd_expect(f->a, c, R_OK_);
	assert_canary(x, "green", 20);
	weight_cmd(x, "green", 0);
	ts_cmd_expect(f->a, c, R_OK_);
	assert_canary(x, "", 0);
	assert_weights_log(x, "blue green 10\nblue green 20\nblue green 0\n");
	/* no canary any more: the slot may be staged again */
	stage_of(f, 1, "green", 12);
	ts_cmd_expect(f->a, c, R_OK_);
}

/* A weight whose fresh health re-check the agent's stop cancels is refused,
 * and that refusal does not stand (it is not recorded nor answered: the
 * next start runs the weight again); nothing was applied. */
static void test_agent_bluegreen_canary_weight_cut_by_stop(void **state)
{
	cfx *x = *state;
	ts_agent_fx *f = &x->f;
	ts_cmd *c = &f->c;

	canary_ready(x);
	agent_dispatch_cancel(f->a->dispatch);
	weight_cmd(x, "green", 10);
	ts_cmd_expect(f->a, c, R_REFUSED);
	ts_assert_has(c->msg, "the agent is stopping");
	assert_false(agent_dispatch_result_stands((int)c->res.status, true));
	assert_true(agent_dispatch_result_stands((int)c->res.status, false));
	assert_true(agent_dispatch_result_stands(R_OK_, true));
	assert_canary(x, "", 0);
	assert_weights_log(x, "");
}

static void test_agent_bluegreen_canary_promote_and_restore(void **state)
{
	cfx *x = *state;
	ts_agent_fx *f = &x->f;
	ts_cmd *c = &f->c;

	canary_ready(x);
	weight_cmd(x, "green", 30);
	ts_cmd_expect(f->a, c, R_OK_);
	/* the agent restarts: the restore re-asserts the weight, not the
	 * active slot alone */
	agent_dispatch_free(f->a->dispatch);
	f->a->dispatch = NULL;
	assert_int_equal(agent_dispatch_alloc(f->a, &f->a->dispatch), OSP_OK);
	agent_dispatch_restore(f->a->dispatch);
	assert_canary(x, "green", 30);
	assert_weights_log(x, "blue green 30\nblue green 30\n");
	/* the coordinator re-sends its step after the restart: fine */
	weight_cmd(x, "green", 30);
	ts_cmd_expect(f->a, c, R_OK_);

	/* a prepared switch locks the slots: no new weight */
	ts_cmd_prepare(c, "sw-promote", APP, "green", 0, 20);
	ts_cmd_expect(f->a, c, R_YES);
	weight_cmd(x, "green", 40);
	ts_cmd_expect(f->a, c, R_REFUSED);
	ts_assert_has(c->msg, "switch 'sw-promote' is prepared");
	assert_canary(x, "green", 30);
	/* the promotion ends the canary */
	ts_cmd_decision(c, "sw-promote", APP, true, 21);
	ts_cmd_expect(f->a, c, R_OK_);
	assert_canary(x, "", 0);
	/* blue is idle now, and free to scale down */
	ts_cmd_init(c, 22);
	ospec__v1__scale_down__init(&c->sd);
	c->sd.app = (char *)APP;
	c->sd.slot = "blue";
	c->sd.slot_generation = 99;
	c->cmd.kind_case = OSPEC__V1__COMMAND__KIND_SCALE_DOWN;
	c->cmd.scale_down = &c->sd;
	ts_cmd_expect(f->a, c, R_OK_);
	/* a canary into a slot that does not run is refused */
	weight_cmd(x, "blue", 10);
	ts_cmd_expect(f->a, c, R_REFUSED);
	ts_assert_has(c->msg, "no canary: slot 'blue' holds no running release");
}

static void test_agent_bluegreen_canary_no_proxy(void **state)
{
	cfx *x = *state;
	ts_agent_fx *f = &x->f;
	ts_cmd *c = &f->c;

	canary_ready(x);
	weight_cmd(x, "green", 10);
	ts_cmd_expect(f->a, c, R_FAILED);
	ts_assert_has(c->msg, "app hello has no proxy: a canary needs haproxy, nginx or exec");
	assert_canary(x, "", 0);
	stats_cmd(x, "green");
	ts_cmd_expect(f->a, c, R_FAILED);
	ts_assert_has(c->msg, "has no proxy");
	assert_null(c->res.stats);
	/* a reset is always possible */
	weight_cmd(x, "green", 0);
	ts_cmd_expect(f->a, c, R_OK_);
	ts_assert_has(c->msg, "no counters");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_agent_bluegreen_canary_weight_and_refusals,
			cfx_setup, cfx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_bluegreen_canary_weight_cut_by_stop,
			cfx_setup, cfx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_bluegreen_canary_promote_and_restore,
			cfx_setup, cfx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_bluegreen_canary_no_proxy,
			cfx_setup_noproxy, cfx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
