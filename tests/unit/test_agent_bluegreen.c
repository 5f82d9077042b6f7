/*
 * test_agent_bluegreen.c - the agent's blue-green handlers (Stage into a
 * slot, SwitchPrepare, SwitchDecision, ScaleDown), the restore, the in-doubt
 * list and the live health monitor, driven through the exec layer without a
 * coordinator, with the real sample app (<build>/artifacts/hello-N.tar.gz:
 * 1, 2 good; 4 healthy for 3 s after start, then 500) and the "none" traffic
 * driver (no proxy configured). Waits are generous; nothing asserts an upper
 * bound of a duration tighter than WAIT_MS.
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

#define WAIT_MS 30000 /* generous: loaded machine, valgrind */
#define APP "hello"

#define R_OK_ OSPEC__V1__RESULT_STATUS__RESULT_OK
#define R_FAILED OSPEC__V1__RESULT_STATUS__RESULT_FAILED
#define R_REFUSED OSPEC__V1__RESULT_STATUS__RESULT_REFUSED
#define R_YES OSPEC__V1__RESULT_STATUS__RESULT_VOTE_YES
#define R_NO OSPEC__V1__RESULT_STATUS__RESULT_VOTE_NO

/* fx: the shared agent fixture (test_support_agent.h); blue and green are
 * the ports of the app's slots. */
typedef ts_agent_fx fx;

static int fx_setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	ts_agent_fx_init(f, "/tmp/ospec-bg-XXXXXX");
	f->blue = ts_free_port();
	do
		f->green = ts_free_port();
	while (f->green == f->blue);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	fx *f = *state;
	static const char *const slots[] = { "blue", "green", "main" };

	ts_agent_stop_slots(f->a, APP, slots, 3);
	ts_agent_fx_fini(f);
	free(f);
	return 0;
}

/* stage_of prepares a Stage of hello-v into slot with the fixture's ports. */
static void stage_of(fx *f, ts_cmd *c, int v, const char *slot, uint64_t gen)
{
	ts_cmd_stage_slot(c, f, APP, v, slot, gen);
}

/* prepare_of: expect 0 = no expected version. */
static void prepare_of(ts_cmd *c, const char *id, const char *slot, int expect, uint64_t gen)
{
	ts_cmd_prepare(c, id, APP, slot, expect, gen);
}

static void decision_of(ts_cmd *c, const char *id, bool commit, uint64_t gen)
{
	ts_cmd_decision(c, id, APP, commit, gen);
}

static void scale_down_of(ts_cmd *c, const char *slot, uint64_t slot_gen, uint64_t gen)
{
	ts_cmd_init(c, gen);
	ospec__v1__scale_down__init(&c->sd);
	c->sd.app = (char *)APP;
	c->sd.slot = (char *)slot;
	c->sd.slot_generation = slot_gen;
	c->cmd.kind_case = OSPEC__V1__COMMAND__KIND_SCALE_DOWN;
	c->cmd.scale_down = &c->sd;
}

/* assert_switch_state checks the record's active slot and prepared switch
 * ("" = none). */
static void assert_switch_state(fx *f, const char *active, const char *prepared)
{
	Ospec__V1__AgentAppRecord *r = ts_agent_record(f->a, APP);

	assert_non_null(r);
	assert_string_equal(r->active_slot != NULL ? r->active_slot : "", active);
	assert_string_equal(r->prepared_switch_id != NULL ? r->prepared_switch_id : "", prepared);
	ospec__v1__agent_app_record__free_unpacked(r, NULL);
}

/* The report's view of the app. */
typedef struct rep {
	char active[8], version[16], idle[16];
	bool running, healthy;
} rep;

static rep report_of(fx *f)
{
	Ospec__V1__AppState **apps = NULL;
	size_t n = agent_dispatch_apps(f->a->dispatch, &apps);
	rep r;

	memset(&r, 0, sizeof(r));
	assert_int_equal(n, 1);
	assert_string_equal(apps[0]->app, APP);
	osp_strlcpy(r.active, apps[0]->active_slot ? apps[0]->active_slot : "", sizeof(r.active));
	osp_strlcpy(r.version, apps[0]->version ? apps[0]->version : "", sizeof(r.version));
	osp_strlcpy(r.idle, apps[0]->idle_version ? apps[0]->idle_version : "", sizeof(r.idle));
	assert_true(apps[0]->has_running && apps[0]->has_healthy);
	r.running = apps[0]->running;
	r.healthy = apps[0]->healthy;
	agent_dispatch_apps_free(apps, n);
	return r;
}

static void assert_report(
	fx *f, const char *active, const char *version, const char *idle, bool healthy)
{
	rep r = report_of(f);

	assert_string_equal(r.active, active);
	assert_string_equal(r.version, version);
	assert_string_equal(r.idle, idle);
	assert_int_equal(r.running, active[0] != '\0');
	assert_int_equal(r.healthy, healthy);
}

/* in_doubt_is checks the in-doubt list: one switch id, or none for NULL. */
static void in_doubt_is(fx *f, const char *id)
{
	Ospec__V1__InDoubt **v = NULL;
	size_t n = agent_dispatch_in_doubt(f->a->dispatch, &v);

	if (id == NULL) {
		assert_int_equal(n, 0);
		assert_null(v);
		return;
	}
	assert_int_equal(n, 1);
	assert_string_equal(v[0]->switch_id, id);
	assert_string_equal(v[0]->app, APP);
	agent_dispatch_in_doubt_free(v, n);
}

static bool slot_supervised(fx *f, const char *slot, pid_t *pid)
{
	agent_proc_status st;

	if (agent_runner_status(agent_dispatch_runner(f->a->dispatch), APP, slot, &st) != OSP_OK)
		return false;
	if (pid != NULL)
		*pid = st.pid;
	return st.running;
}

/* restart_agent frees the dispatcher and makes a new one over the same store
 * (the agent restarted; the apps kept running). */
static void restart_agent(fx *f)
{
	agent_dispatch_free(f->a->dispatch);
	f->a->dispatch = NULL;
	assert_int_equal(agent_dispatch_alloc(f->a, &f->a->dispatch), OSP_OK);
	agent_dispatch_restore(f->a->dispatch);
}

/* bootstrap stages hello-v into blue and switches to it (first deploy). */
static void bootstrap(fx *f, int v)
{
	ts_cmd *c = &f->c;

	stage_of(f, c, v, "blue", 1);
	ts_cmd_expect(f->a, c, R_OK_);
	prepare_of(c, "sw-boot", "blue", v, 2);
	ts_cmd_expect(f->a, c, R_YES);
	decision_of(c, "sw-boot", true, 3);
	ts_cmd_expect(f->a, c, R_OK_);
	assert_switch_state(f, "blue", "");
}

static void test_agent_bluegreen_first_deploy(void **state)
{
	fx *f = *state;
	ts_cmd *c = &f->c;

	/* first deploy: blue is staged, nothing is active yet */
	stage_of(f, c, 1, "blue", 1);
	ts_cmd_expect(f->a, c, R_OK_);
	assert_string_equal(c->res.slot, "blue");
	assert_string_equal(c->res.version, "1");
	ts_assert_answers(f->blue, "1");
	assert_false(ts_answers(f->green));
	assert_report(f, "", "", "", false);

	/* the bootstrap switch: YES (twice: the vote stands), locked, commit */
	prepare_of(c, "sw-1", "blue", 1, 2);
	ts_cmd_expect(f->a, c, R_YES);
	assert_string_equal(c->res.switch_id, "sw-1");
	in_doubt_is(f, "sw-1");
	ts_cmd_expect(f->a, c, R_YES);
	stage_of(f, c, 2, "green", 3);
	ts_cmd_expect(f->a, c, R_REFUSED);
	ts_assert_has(c->msg, "switch 'sw-1' is prepared: slots are locked");
	prepare_of(c, "sw-other", "green", 0, 4);
	ts_cmd_expect(f->a, c, R_NO);
	ts_assert_has(c->msg, "slots are locked");
	decision_of(c, "sw-1", true, 5);
	ts_cmd_expect(f->a, c, R_OK_);
	ts_assert_has(c->msg, "slot 'blue' is active");
	assert_switch_state(f, "blue", "");
	in_doubt_is(f, NULL);
	assert_report(f, "blue", "1", "", true);
	/* the same decision again (lost result): converged */
	ts_cmd_expect(f->a, c, R_OK_);
	ts_assert_has(c->msg, "is applied");
	ts_assert_answers(f->blue, "1");
	assert_false(ts_answers(f->green));
}

static void test_agent_bluegreen_switch_restart_scale_down(void **state)
{
	fx *f = *state;
	ts_cmd *c = &f->c;
	pid_t pid;

	/* v2 goes to the idle slot only; blue keeps answering 1 */
	bootstrap(f, 1);
	stage_of(f, c, 2, "blue", 6);
	ts_cmd_expect(f->a, c, R_REFUSED);
	assert_string_equal(c->msg, "slot 'blue' is active: stage into the idle slot");
	stage_of(f, c, 2, "green", 7);
	ts_cmd_expect(f->a, c, R_OK_);
	ts_assert_answers(f->blue, "1");
	ts_assert_answers(f->green, "2");
	assert_report(f, "blue", "1", "2", true);

	/* prepared, then the agent restarts: still prepared, not switched */
	prepare_of(c, "sw-2", "green", 2, 8);
	ts_cmd_expect(f->a, c, R_YES);
	restart_agent(f);
	assert_switch_state(f, "blue", "sw-2");
	in_doubt_is(f, "sw-2");
	assert_report(f, "blue", "1", "2", true);
	ts_assert_answers(f->blue, "1");
	ts_assert_answers(f->green, "2");
	decision_of(c, "sw-2", true, 9);
	ts_cmd_expect(f->a, c, R_OK_);
	assert_string_equal(c->res.slot, "green");
	assert_switch_state(f, "green", "");
	assert_report(f, "green", "2", "1", true);

	/* scale-down: the active slot and a stale generation are refused */
	scale_down_of(c, "green", 7, 10);
	ts_cmd_expect(f->a, c, R_REFUSED);
	assert_string_equal(c->msg, "slot 'green' is active again");
	ts_assert_answers(f->green, "2");
	scale_down_of(c, "blue", 7, 11);
	ts_cmd_expect(f->a, c, R_OK_);
	assert_false(slot_supervised(f, "blue", NULL));
	assert_false(ts_answers(f->blue));
	assert_report(f, "green", "2", "", true);
	/* again: converged */
	ts_cmd_expect(f->a, c, R_OK_);

	/* blue restaged by a newer rollout: the old rollout's scale-down is stale */
	stage_of(f, c, 1, "blue", 12);
	ts_cmd_expect(f->a, c, R_OK_);
	assert_true(slot_supervised(f, "blue", &pid));
	scale_down_of(c, "blue", 7, 13);
	ts_cmd_expect(f->a, c, R_REFUSED);
	ts_assert_has(c->msg, "staged again");
	ts_assert_answers(f->blue, "1");
	scale_down_of(c, "blue", 12, 14);
	ts_cmd_expect(f->a, c, R_OK_);
	assert_false(ts_answers(f->blue));
}

static void test_agent_bluegreen_abort_and_presumed_abort(void **state)
{
	fx *f = *state;
	ts_cmd *c = &f->c;

	bootstrap(f, 1);
	stage_of(f, c, 2, "green", 4);
	ts_cmd_expect(f->a, c, R_OK_);

	/* the coordinator aborts: nothing changes, the slots unlock */
	prepare_of(c, "sw-2", "green", 2, 5);
	ts_cmd_expect(f->a, c, R_YES);
	decision_of(c, "sw-2", false, 6);
	ts_cmd_expect(f->a, c, R_OK_);
	assert_string_equal(c->msg, "switch 'sw-2' aborted");
	assert_switch_state(f, "blue", "");
	in_doubt_is(f, NULL);
	assert_report(f, "blue", "1", "2", true);
	ts_assert_answers(f->blue, "1");
	stage_of(f, c, 2, "green", 7);
	ts_cmd_expect(f->a, c, R_OK_);

	/* presumed abort (and a commit) for switches this node never prepared */
	decision_of(c, "sw-never", false, 8);
	ts_cmd_expect(f->a, c, R_OK_);
	assert_string_equal(c->msg, "nothing prepared for switch 'sw-never'");
	/* a commit for a switch this node never voted in is refused: it must
	 * not be counted as switched */
	decision_of(c, "sw-never-2", true, 9);
	ts_cmd_expect(f->a, c, OSPEC__V1__RESULT_STATUS__RESULT_REFUSED);
	ts_assert_has(c->msg, "was not prepared here");
	assert_switch_state(f, "blue", "");

	/* a prepared switch ignores another switch's abort */
	prepare_of(c, "sw-3", "green", 2, 10);
	ts_cmd_expect(f->a, c, R_YES);
	decision_of(c, "sw-4", false, 11);
	ts_cmd_expect(f->a, c, R_OK_);
	assert_switch_state(f, "blue", "sw-3");
	decision_of(c, "sw-3", false, 12);
	ts_cmd_expect(f->a, c, R_OK_);

	/* votes NO: the wrong version, a stopped slot; nothing is recorded */
	prepare_of(c, "sw-5", "green", 1, 13);
	ts_cmd_expect(f->a, c, R_NO);
	assert_string_equal(c->msg, "slot 'green' holds version 2, not 1");
	scale_down_of(c, "green", 7, 14);
	ts_cmd_expect(f->a, c, R_OK_);
	prepare_of(c, "sw-6", "green", 2, 15);
	ts_cmd_expect(f->a, c, R_NO);
	assert_string_equal(c->msg, "slot 'green' holds no running release");
	assert_switch_state(f, "blue", "");
	in_doubt_is(f, NULL);
	ts_assert_answers(f->blue, "1");
}

static void test_agent_bluegreen_ports_and_refusals(void **state)
{
	fx *f = *state;
	ts_cmd *c = &f->c;
	unsigned hb = ts_free_port(), hg = ts_free_port();

	/* nothing recorded: every prepare is a NO, scale-down of nothing is OK */
	prepare_of(c, "sw-1", "blue", 0, 1);
	ts_cmd_expect(f->a, c, R_NO);
	prepare_of(c, "sw-1", "purple", 0, 1);
	ts_cmd_expect(f->a, c, R_NO);
	scale_down_of(c, "purple", 1, 1);
	ts_cmd_expect(f->a, c, R_REFUSED);

	/* the Stage without ports, with equal ports */
	stage_of(f, c, 1, "blue", 1);
	c->stage.has_blue_port = c->stage.has_green_port = 0;
	ts_cmd_expect(f->a, c, R_REFUSED);
	ts_assert_has(c->msg, "no blue and green ports");
	stage_of(f, c, 1, "blue", 1);
	c->stage.green_port = c->stage.blue_port;
	ts_cmd_expect(f->a, c, R_REFUSED);
	stage_of(f, c, 1, "blue", 1);
	c->stage.no_start = 1;
	ts_cmd_expect(f->a, c, R_REFUSED);
	assert_null(ts_agent_record(f->a, APP));

	/* the host's ports win over the rollout's */
	while (hg == hb || hb == f->blue || hb == f->green)
		hb = ts_free_port();
	while (hg == hb || hg == f->blue || hg == f->green)
		hg = ts_free_port();
	f->cfg.napps = 1;
	snprintf(f->cfg.apps[0].name, sizeof(f->cfg.apps[0].name), APP);
	f->cfg.apps[0].blue_port = hb;
	f->cfg.apps[0].green_port = hg;
	stage_of(f, c, 1, "blue", 2);
	ts_cmd_expect(f->a, c, R_OK_);
	ts_assert_answers(hb, "1");
	assert_false(ts_answers(f->blue));

	/* a stale generation */
	stage_of(f, c, 2, "green", 1);
	ts_cmd_expect(f->a, c, R_REFUSED);
	assert_string_equal(c->msg, "stale generation 1 < 2");
	assert_false(ts_answers(hg));
}

static void test_agent_bluegreen_restore(void **state)
{
	fx *f = *state;
	ts_cmd *c = &f->c;
	pid_t bpid, gpid, pid;

	bootstrap(f, 1);
	stage_of(f, c, 2, "green", 4);
	ts_cmd_expect(f->a, c, R_OK_);
	assert_true(slot_supervised(f, "blue", &bpid));
	assert_true(slot_supervised(f, "green", &gpid));

	/* adopted, not restarted */
	restart_agent(f);
	assert_true(slot_supervised(f, "blue", &pid));
	assert_int_equal(pid, bpid);
	assert_true(slot_supervised(f, "green", &pid));
	assert_int_equal(pid, gpid);
	ts_assert_answers(f->blue, "1");
	ts_assert_answers(f->green, "2");

	/* both died while no agent ran: the restore starts them again */
	agent_dispatch_free(f->a->dispatch);
	f->a->dispatch = NULL;
	ts_kill_wait(bpid, WAIT_MS);
	ts_kill_wait(gpid, WAIT_MS);
	assert_int_equal(agent_dispatch_alloc(f->a, &f->a->dispatch), OSP_OK);
	agent_dispatch_restore(f->a->dispatch);
	assert_true(ts_wait_answers(f->blue, "1", WAIT_MS));
	assert_true(ts_wait_answers(f->green, "2", WAIT_MS));
	assert_switch_state(f, "blue", "");
	assert_report(f, "blue", "1", "2", true);
}

/* wait_healthy polls the report until healthy == want. */
static bool wait_healthy(fx *f, bool want)
{
	for (int64_t end = osp_now_mono_ms() + WAIT_MS; osp_now_mono_ms() < end; osp_sleep_ms(100))
		if (report_of(f).healthy == want)
			return true;
	return false;
}

static void test_agent_bluegreen_monitor(void **state)
{
	fx *f = *state;
	ts_cmd *c = &f->c;
	uint64_t gen = 4;
	bool switched = false;

	bootstrap(f, 1);
	/* a healthy active slot stays healthy over several monitor ticks */
	osp_sleep_ms(3000);
	assert_true(report_of(f).healthy);

	/* hello-4 passes its checks for 3 s after start, then answers 500. On a
	 * very slow machine the prepare may come too late: start it afresh. */
	for (int attempt = 0; attempt < 3 && !switched; attempt++) {
		stage_of(f, c, 4, "green", gen++);
		c->stage.has_health_rise = 1;
		c->stage.health_rise = 1;
		ts_cmd_expect(f->a, c, R_OK_);
		prepare_of(c, "sw-4", "green", 4, gen++);
		if (ts_cmd_run(f->a, c) == R_YES) {
			switched = true;
			break;
		}
		scale_down_of(c, "green", gen - 2, gen);
		gen++;
		ts_cmd_expect(f->a, c, R_OK_);
	}
	assert_true(switched);
	decision_of(c, "sw-4", true, gen++);
	ts_cmd_expect(f->a, c, R_OK_);
	assert_report(f, "green", "4", "1", true);

	/* the monitor notices within seconds; the process still runs */
	assert_true(wait_healthy(f, false));
	assert_true(report_of(f).running);
	ts_assert_answers(f->green, "4");

	/* a restarted agent's monitor finds it unhealthy too */
	restart_agent(f);
	assert_true(wait_healthy(f, false));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_agent_bluegreen_first_deploy, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
			test_agent_bluegreen_switch_restart_scale_down, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
			test_agent_bluegreen_abort_and_presumed_abort, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
			test_agent_bluegreen_ports_and_refusals, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
			test_agent_bluegreen_restore, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
			test_agent_bluegreen_monitor, fx_setup, fx_teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
