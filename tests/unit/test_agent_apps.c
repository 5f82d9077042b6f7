/*
 * test_agent_apps.c - the agent's app handlers (Stage, Revert, Stop, restore,
 * apps report) driven through the exec layer, without a coordinator, with
 * the real sample app: <build>/artifacts/hello-N.tar.gz (1, 2 good; 3 fails
 * its health check; 5 crashes at start). Waits are generous; nothing asserts
 * an upper bound of a duration.
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
#include "agent_apps.h"
#include "agent_runner.h"
#include "ospec/v1/agent.pb-c.h"
#include "test_support.h"
#include "test_support_agent.h"

#define WAIT_MS 30000  /* generous: loaded machine, valgrind */
#define MONITOR_WAIT_MS 15000 /* "within seconds": 1 s ticks, 2 failures */
#define APP "hello"
#define OTHER "other"

/* fx: the shared agent fixture (test_support_agent.h). */
typedef ts_agent_fx fx;

static int fx_setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	ts_agent_fx_init(f, "/tmp/ospec-apps-XXXXXX");
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	fx *f = *state;

	if (f->a != NULL && f->a->dispatch != NULL) {
		agent_runner_stop(agent_dispatch_runner(f->a->dispatch), APP, "main", 5000);
		agent_runner_stop(agent_dispatch_runner(f->a->dispatch), OTHER, "main", 5000);
	}
	ts_agent_fx_fini(f);
	free(f);
	return 0;
}

static void revert_of(fx *f, ts_cmd *c, int v, uint64_t gen)
{
	ts_cmd_init(c, gen);
	ospec__v1__revert__init(&c->revert);
	c->revert.app = (char *)APP;
	if (v > 0)
		snprintf(c->version, sizeof(c->version), "%d", v);
	c->revert.version = c->version;
	c->revert.sha256 = v > 0 ? f->sha[v] : (char *)"";
	c->cmd.kind_case = OSPEC__V1__COMMAND__KIND_REVERT;
	c->cmd.revert = &c->revert;
}

static void stop_of(ts_cmd *c, uint64_t gen)
{
	ts_cmd_init(c, gen);
	ospec__v1__stop__init(&c->stop);
	c->stop.app = (char *)APP;
	c->cmd.kind_case = OSPEC__V1__COMMAND__KIND_STOP;
	c->cmd.stop = &c->stop;
}

/* assert_record checks current/previous versions (NULL: none) and running. */
static void assert_record(fx *f, int cur, int prev, bool running)
{
	Ospec__V1__AgentAppRecord *r = ts_agent_record(f->a, APP);
	char v[16];

	assert_non_null(r);
	if (cur > 0) {
		snprintf(v, sizeof(v), "%d", cur);
		assert_non_null(r->current);
		assert_string_equal(r->current->version, v);
		assert_string_equal(r->current->sha256, f->sha[cur]);
	} else {
		assert_null(r->current);
	}
	if (prev > 0) {
		snprintf(v, sizeof(v), "%d", prev);
		assert_non_null(r->previous);
		assert_string_equal(r->previous->version, v);
		assert_string_equal(r->previous->sha256, f->sha[prev]);
	} else {
		assert_null(r->previous);
	}
	assert_int_equal(r->has_running && r->running, running);
	ospec__v1__agent_app_record__free_unpacked(r, NULL);
}

static agent_proc_status status_of(fx *f)
{
	agent_proc_status st;

	assert_int_equal(agent_runner_status(agent_dispatch_runner(f->a->dispatch), APP, "main", &st), OSP_OK);
	return st;
}

/* assert_report checks the apps report of register/heartbeat. */
static void assert_report(fx *f, int v, bool healthy, uint64_t gen)
{
	Ospec__V1__AppState **apps = NULL;
	size_t n = agent_dispatch_apps(f->a->dispatch, &apps);
	char want[16];

	snprintf(want, sizeof(want), "%d", v);
	assert_int_equal(n, 1);
	assert_string_equal(apps[0]->app, APP);
	assert_string_equal(apps[0]->active_slot, "main");
	assert_string_equal(apps[0]->version, want);
	assert_string_equal(apps[0]->sha256, f->sha[v]);
	assert_true(apps[0]->has_running && apps[0]->running);
	assert_true(apps[0]->has_healthy);
	assert_int_equal(apps[0]->healthy, healthy);
	assert_int_equal(apps[0]->generation, gen);
	agent_dispatch_apps_free(apps, n);
}

static void test_agent_apps_upgrade_fail_revert_stop(void **state)
{
	fx *f = *state;
	ts_cmd *c = &f->c;
	unsigned port = ts_free_port();
	char path[512];

	ts_cmd_stage(c, f, APP, 1, 1, port, 1);
	ts_cmd_expect(f->a, c, OSPEC__V1__RESULT_STATUS__RESULT_OK);
	assert_string_equal(c->res.app, APP);
	assert_string_equal(c->res.version, "1");
	assert_string_equal(c->res.slot, "main");
	ts_assert_answers(port, "1");
	assert_record(f, 1, 0, true);
	assert_report(f, 1, true, 1);

	ts_cmd_stage(c, f, APP, 2, 2, port, 2);
	ts_cmd_expect(f->a, c, OSPEC__V1__RESULT_STATUS__RESULT_OK);
	ts_assert_answers(port, "2");
	assert_record(f, 2, 1, true);

	/* hello-3 answers 500 on /health: fails after `fall` checks, with its stderr */
	ts_cmd_stage(c, f, APP, 3, 3, port, 3);
	c->stage.has_health_deadline_ms = 1;
	c->stage.health_deadline_ms = 3000;
	ts_cmd_expect(f->a, c, OSPEC__V1__RESULT_STATUS__RESULT_FAILED);
	ts_assert_has(c->msg, "unhealthy after 3 failed checks: ");
	ts_assert_has(c->msg, "stderr: ");
	ts_assert_has(c->msg, "health failing on purpose");
	assert_record(f, 3, 2, true); /* left for the coordinator to revert */
	assert_report(f, 3, false, 3);

	revert_of(f, c, 2, 4);
	ts_cmd_expect(f->a, c, OSPEC__V1__RESULT_STATUS__RESULT_OK);
	assert_string_equal(c->msg, "reverted to 2");
	ts_assert_answers(port, "2");
	assert_record(f, 2, 3, true);
	assert_report(f, 2, true, 4);

	/* a revert target that left the cache is refused and changes nothing */
	snprintf(path, sizeof(path), "%s/cache/%s", f->state, f->sha[3]);
	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/releases/%s", f->state, f->sha[3]);
	assert_int_equal(ts_rmtree(path), 0);
	revert_of(f, c, 3, 5);
	ts_cmd_expect(f->a, c, OSPEC__V1__RESULT_STATUS__RESULT_FAILED);
	assert_string_equal(c->msg, "release 3 is no longer in the cache");
	ts_assert_answers(port, "2");

	stop_of(c, 6);
	ts_cmd_expect(f->a, c, OSPEC__V1__RESULT_STATUS__RESULT_OK);
	assert_false(ts_answers(port));
	assert_record(f, 2, 3, false);
}

/* An undo (Revert with from_sha256) that the agent's stop cut short in its
 * health wait is not answered and runs again at the next start; by then the
 * record is undone already, and the second run must still check the health
 * of what it went back to before it answers OK (it said "nothing to undo"). */
static void test_agent_apps_undo_run_again_checks_health(void **state)
{
	fx *f = *state;
	ts_cmd *c = &f->c;
	unsigned port = ts_free_port();

	ts_cmd_stage(c, f, APP, 1, 1, port, 1);
	ts_cmd_expect(f->a, c, OSPEC__V1__RESULT_STATUS__RESULT_OK);
	ts_cmd_stage(c, f, APP, 2, 2, port, 2);
	ts_cmd_expect(f->a, c, OSPEC__V1__RESULT_STATUS__RESULT_OK);
	revert_of(f, c, 0, 3);
	c->revert.from_sha256 = f->sha[2];
	ts_cmd_expect(f->a, c, OSPEC__V1__RESULT_STATUS__RESULT_OK);
	assert_string_equal(c->msg, "reverted to 1");
	assert_record(f, 1, 2, true);

	/* the reverted-to app dies before the run again checks it */
	assert_int_equal(agent_runner_stop(agent_dispatch_runner(f->a->dispatch), APP, "main", 5000),
		OSP_OK);
	revert_of(f, c, 0, 3);
	c->revert.from_sha256 = f->sha[2];
	ts_cmd_expect(f->a, c, OSPEC__V1__RESULT_STATUS__RESULT_FAILED);
	assert_record(f, 1, 2, true);
}

static void test_agent_apps_sha_mismatch_keeps_old(void **state)
{
	fx *f = *state;
	ts_cmd *c = &f->c;
	unsigned host_port = ts_free_port(), cmd_port = ts_free_port();

	/* the host's port override wins over the command's */
	f->cfg.napps = 1;
	snprintf(f->cfg.apps[0].name, sizeof(f->cfg.apps[0].name), APP);
	f->cfg.apps[0].port = host_port;
	if (cmd_port == host_port)
		cmd_port = host_port + 1;
	ts_cmd_stage(c, f, APP, 1, 1, cmd_port, 1);
	ts_cmd_expect(f->a, c, OSPEC__V1__RESULT_STATUS__RESULT_OK);
	ts_assert_answers(host_port, "1");
	assert_false(ts_answers(cmd_port));

	/* hello-2's url with hello-3's digest */
	ts_cmd_stage(c, f, APP, 2, 3, cmd_port, 2);
	ts_cmd_expect(f->a, c, OSPEC__V1__RESULT_STATUS__RESULT_FAILED);
	ts_assert_has(c->msg, "sha256 mismatch");
	ts_assert_answers(host_port, "1");
	assert_record(f, 1, 0, true);
}

static void test_agent_apps_restore(void **state)
{
	fx *f = *state;
	ts_cmd *c = &f->c;
	unsigned port = ts_free_port();
	char path[512];
	pid_t pid;

	ts_cmd_stage(c, f, APP, 1, 1, port, 1);
	ts_cmd_expect(f->a, c, OSPEC__V1__RESULT_STATUS__RESULT_OK);
	pid = status_of(f).pid;
	/* the same command again (agent crashed before recording the result) */
	ts_cmd_expect(f->a, c, OSPEC__V1__RESULT_STATUS__RESULT_OK);
	assert_int_equal(status_of(f).pid, pid);

	/* a new agent adopts the running app: no second process */
	agent_dispatch_free(f->a->dispatch);
	f->a->dispatch = NULL;
	assert_int_equal(agent_dispatch_alloc(f->a, &f->a->dispatch), OSP_OK);
	agent_dispatch_restore(f->a->dispatch);
	assert_int_equal(status_of(f).pid, pid);
	assert_int_equal(status_of(f).restarts, 0);
	ts_assert_answers(port, "1");
	assert_report(f, 1, true, 1);

	/* the app died while no agent ran, and its release dir is gone: the
	 * restore unpacks it again from the cache and starts it */
	agent_dispatch_free(f->a->dispatch);
	f->a->dispatch = NULL;
	ts_kill_wait(pid, WAIT_MS);
	snprintf(path, sizeof(path), "%s/releases/%s", f->state, f->sha[1]);
	assert_int_equal(ts_rmtree(path), 0);
	assert_int_equal(agent_dispatch_alloc(f->a, &f->a->dispatch), OSP_OK);
	agent_dispatch_restore(f->a->dispatch);
	assert_true(status_of(f).pid != pid);
	assert_true(ts_wait_answers(port, "1", WAIT_MS));
}

/* swap_record swaps current and previous in the stored record: the state
 * after a crash between writing the record and restarting the app. */
static void swap_record(fx *f)
{
	Ospec__V1__AgentAppRecord *r = ts_agent_record(f->a, APP);
	Ospec__V1__ReleaseRef *t;
	uint8_t buf[16384];
	size_t len;

	assert_non_null(r);
	t = r->current;
	r->current = r->previous;
	r->previous = t;
	len = ospec__v1__agent_app_record__get_packed_size(r);
	assert_true(len <= sizeof(buf));
	ospec__v1__agent_app_record__pack(r, buf);
	ospec__v1__agent_app_record__free_unpacked(r, NULL);
	assert_int_equal(f->a->store->ops->app_put(f->a->store, APP, buf, len), OSP_OK);
}

static void test_agent_apps_restore_replaces_other_release(void **state)
{
	fx *f = *state;
	ts_cmd *c = &f->c;
	unsigned port = ts_free_port();
	pid_t pid;

	ts_cmd_stage(c, f, APP, 2, 2, port, 1);
	ts_cmd_expect(f->a, c, OSPEC__V1__RESULT_STATUS__RESULT_OK);
	ts_cmd_stage(c, f, APP, 1, 1, port, 2);
	ts_cmd_expect(f->a, c, OSPEC__V1__RESULT_STATUS__RESULT_OK);
	ts_assert_answers(port, "1");
	pid = status_of(f).pid;

	/* recorded: 2 should run; running: 1 */
	agent_dispatch_free(f->a->dispatch);
	f->a->dispatch = NULL;
	swap_record(f);
	assert_int_equal(agent_dispatch_alloc(f->a, &f->a->dispatch), OSP_OK);
	agent_dispatch_restore(f->a->dispatch);
	assert_true(status_of(f).pid != pid);
	assert_true(ts_wait_answers(port, "2", WAIT_MS));

	/* the re-sent Stage of 2 finds it running and only checks it */
	pid = status_of(f).pid;
	ts_cmd_stage(c, f, APP, 2, 2, port, 2);
	ts_cmd_expect(f->a, c, OSPEC__V1__RESULT_STATUS__RESULT_OK);
	assert_int_equal(status_of(f).pid, pid);
	ts_assert_answers(port, "2");
	assert_record(f, 2, 1, true);
}

static void test_agent_apps_stale_generation(void **state)
{
	fx *f = *state;
	ts_cmd *c = &f->c;
	unsigned port = ts_free_port();

	ts_cmd_stage(c, f, APP, 1, 1, port, 5);
	ts_cmd_expect(f->a, c, OSPEC__V1__RESULT_STATUS__RESULT_OK);
	ts_cmd_stage(c, f, APP, 2, 2, port, 3);
	ts_cmd_expect(f->a, c, OSPEC__V1__RESULT_STATUS__RESULT_REFUSED);
	assert_string_equal(c->msg, "stale generation 3 < 5");
	stop_of(c, 4);
	ts_cmd_expect(f->a, c, OSPEC__V1__RESULT_STATUS__RESULT_REFUSED);
	revert_of(f, c, 0, 4);
	ts_cmd_expect(f->a, c, OSPEC__V1__RESULT_STATUS__RESULT_REFUSED);
	ts_assert_answers(port, "1");
	assert_record(f, 1, 0, true);
}

static void test_agent_apps_crash_at_start(void **state)
{
	fx *f = *state;
	ts_cmd *c = &f->c;
	agent_proc_status st;
	unsigned port = ts_free_port();

	ts_cmd_stage(c, f, APP, 5, 5, port, 1);
	ts_cmd_expect(f->a, c, OSPEC__V1__RESULT_STATUS__RESULT_FAILED);
	ts_assert_has(c->msg, "process exited with status 3");
	ts_assert_has(c->msg, "stderr: hello: crashing on purpose");
	assert_record(f, 5, 0, true);

	/* nothing to go back to: the revert stops the app */
	revert_of(f, c, 0, 2);
	ts_cmd_expect(f->a, c, OSPEC__V1__RESULT_STATUS__RESULT_OK);
	assert_string_equal(c->msg, "stopped (no previous release)");
	assert_record(f, 0, 0, false);
	assert_int_equal(agent_runner_status(agent_dispatch_runner(f->a->dispatch), APP, "main", &st),
		OSP_ENOENT);
}

static void test_agent_apps_port_clash_refused(void **state)
{
	fx *f = *state;
	ts_cmd *c = &f->c;
	unsigned port = ts_free_port();

	ts_cmd_stage(c, f, APP, 2, 2, port, 1);
	c->stage.app = (char *)OTHER;
	ts_cmd_expect(f->a, c, OSPEC__V1__RESULT_STATUS__RESULT_OK);
	ts_cmd_stage(c, f, APP, 1, 1, port, 1);
	ts_cmd_expect(f->a, c, OSPEC__V1__RESULT_STATUS__RESULT_REFUSED);
	ts_assert_has(c->msg, "already used by app '" OTHER "'");
	ts_assert_answers(port, "2");
}

static void test_agent_apps_refuses_bad_commands(void **state)
{
	fx *f = *state;
	ts_cmd *c = &f->c;
	unsigned port = ts_free_port();
	char upper[65];

	/* a blue-green slot needs both ports (test_agent_bluegreen.c has the rest) */
	ts_cmd_stage(c, f, APP, 1, 1, port, 1);
	c->stage.slot = (char *)"blue";
	ts_cmd_expect(f->a, c, OSPEC__V1__RESULT_STATUS__RESULT_REFUSED);
	ts_assert_has(c->msg, "no blue and green ports");

	ts_cmd_stage(c, f, APP, 1, 1, port, 1);
	c->stage.slot = (char *)"purple";
	ts_cmd_expect(f->a, c, OSPEC__V1__RESULT_STATUS__RESULT_REFUSED);
	assert_string_equal(c->msg, "unknown slot");

	ts_cmd_stage(c, f, APP, 1, 1, port, 1);
	c->stage.app = (char *)"../etc";
	ts_cmd_expect(f->a, c, OSPEC__V1__RESULT_STATUS__RESULT_REFUSED);

	ts_cmd_stage(c, f, APP, 1, 1, port, 1);
	osp_strlcpy(upper, f->sha[1], sizeof(upper));
	for (char *p = upper; *p != '\0'; p++)
		*p = (*p >= 'a' && *p <= 'f') ? (char)(*p - 'a' + 'A') : *p;
	c->stage.sha256 = upper;
	ts_cmd_expect(f->a, c, OSPEC__V1__RESULT_STATUS__RESULT_REFUSED);

	ts_cmd_stage(c, f, APP, 1, 1, 0, 1);
	c->stage.has_port = 0;
	ts_cmd_expect(f->a, c, OSPEC__V1__RESULT_STATUS__RESULT_REFUSED);
	ts_assert_has(c->msg, "no port");

	/* a release this agent never had */
	revert_of(f, c, 2, 1);
	ts_cmd_expect(f->a, c, OSPEC__V1__RESULT_STATUS__RESULT_FAILED);
	ts_assert_has(c->msg, "not known");

	/* none of it left a record, a process or a release */
	assert_null(ts_agent_record(f->a, APP));
	assert_false(ts_answers(port));
}

/* report_healthy_within polls the apps report until the app's healthy is
 * want, for at most ms. */
static bool report_healthy_within(fx *f, bool want, int64_t ms)
{
	for (int64_t end = osp_now_mono_ms() + ms; osp_now_mono_ms() < end; osp_sleep_ms(100)) {
		Ospec__V1__AppState **apps = NULL;
		size_t n = agent_dispatch_apps(f->a->dispatch, &apps);
		bool got = n == 1 && apps[0]->has_healthy && apps[0]->healthy == want;

		agent_dispatch_apps_free(apps, n);
		if (got)
			return true;
	}
	return false;
}

/* A rolling (main-slot) app is watched after its deploy succeeded: the
 * report's `healthy` follows what /health answers, also for an app a
 * restarted agent adopted. */
static void test_agent_apps_monitor_follows_health(void **state)
{
	fx *f = *state;
	ts_cmd *c = &f->c;
	unsigned port = ts_free_port();
	char marker[512];

	/* the agent's start: the monitor runs without any blue-green app */
	agent_dispatch_restore(f->a->dispatch);
	ts_cmd_stage(c, f, APP, 1, 1, port, 1);
	ts_cmd_expect(f->a, c, OSPEC__V1__RESULT_STATUS__RESULT_OK);
	assert_report(f, 1, true, 1);
	osp_sleep_ms(2500); /* healthy over a few monitor ticks */
	assert_report(f, 1, true, 1);

	/* hello looks for FAIL_HEALTH next to its VERSION on every request */
	snprintf(marker, sizeof(marker), "%s/releases/%s/FAIL_HEALTH", f->state, f->sha[1]);
	assert_int_equal(osp_file_write_atomic(marker, "", 0, 0644), OSP_OK);
	assert_true(report_healthy_within(f, false, MONITOR_WAIT_MS));
	assert_report(f, 1, false, 1); /* still running, version 1 */
	assert_int_equal(unlink(marker), 0);
	assert_true(report_healthy_within(f, true, MONITOR_WAIT_MS));

	/* a restarted agent adopts the app; its monitor watches it at once */
	assert_int_equal(osp_file_write_atomic(marker, "", 0, 0644), OSP_OK);
	agent_dispatch_free(f->a->dispatch);
	f->a->dispatch = NULL;
	assert_int_equal(agent_dispatch_alloc(f->a, &f->a->dispatch), OSP_OK);
	agent_dispatch_restore(f->a->dispatch);
	assert_true(report_healthy_within(f, false, MONITOR_WAIT_MS));
	assert_int_equal(unlink(marker), 0);
	assert_true(report_healthy_within(f, true, MONITOR_WAIT_MS));
}

/* A monitor's check begun before a handler set the health must not
 * overwrite the handler's result: publish only at an unchanged epoch. */
static void test_agent_apps_health_epoch(void **state)
{
	fx *f = *state;
	agent_apps *p = NULL;
	agent_apps_health h = AGENT_APPS_HEALTH_OK;
	uint64_t e;

	assert_int_equal(agent_apps_alloc(&f->cfg, f->a->store, &p), OSP_OK);
	/* never set: epoch 0, and a monitor may publish (after an agent start) */
	assert_int_equal(agent_apps_health_epoch(p, APP, &h), 0);
	assert_int_equal(h, AGENT_APPS_HEALTH_UNKNOWN);
	assert_true(agent_apps_health_publish(p, APP, 0, AGENT_APPS_HEALTH_FAILED));
	assert_int_equal(agent_apps_health_get(p, APP), AGENT_APPS_HEALTH_FAILED);
	assert_int_equal(agent_apps_health_epoch(p, APP, NULL), 0); /* publish keeps it */

	/* the monitor reads the epoch, a Stage sets UNKNOWN then OK meanwhile:
	 * the monitor's late "unhealthy" is dropped */
	e = agent_apps_health_epoch(p, APP, NULL);
	agent_apps_health_set(p, APP, AGENT_APPS_HEALTH_UNKNOWN);
	agent_apps_health_set(p, APP, AGENT_APPS_HEALTH_OK);
	assert_false(agent_apps_health_publish(p, APP, e, AGENT_APPS_HEALTH_FAILED));
	assert_int_equal(agent_apps_health_get(p, APP), AGENT_APPS_HEALTH_OK);
	assert_false(agent_apps_health_publish(p, APP, e + 1, AGENT_APPS_HEALTH_FAILED));
	assert_int_equal(agent_apps_health_get(p, APP), AGENT_APPS_HEALTH_OK);

	/* a check begun after the handler's result publishes */
	e = agent_apps_health_epoch(p, APP, &h);
	assert_int_equal(e, 2);
	assert_int_equal(h, AGENT_APPS_HEALTH_OK);
	assert_true(agent_apps_health_publish(p, APP, e, AGENT_APPS_HEALTH_FAILED));
	assert_int_equal(agent_apps_health_get(p, APP), AGENT_APPS_HEALTH_FAILED);
	/* an app never set cannot be published at a made-up epoch */
	assert_false(agent_apps_health_publish(p, OTHER, 3, AGENT_APPS_HEALTH_OK));
	assert_int_equal(agent_apps_health_get(p, OTHER), AGENT_APPS_HEALTH_UNKNOWN);
	agent_apps_free(p);
}

/* The agent's record of a stage keeps the artifact URL without its
 * credentials (the fetch used the command's URL as given). */
static void test_agent_apps_record_url_redacted(void **state)
{
	fx *f = *state;
	ts_cmd *c = &f->c;
	Ospec__V1__AgentAppRecord *r;
	char url[600], want[640];

	snprintf(url, sizeof(url), "%s?X-Amz-Credential=AKIAX&token=t0k3n&v=1", f->url[1]);
	snprintf(want, sizeof(want), "%s?X-Amz-Credential=REDACTED&token=REDACTED&v=1",
		f->url[1]);
	ts_cmd_stage(c, f, APP, 1, 1, ts_free_port(), 1);
	c->stage.artifact_url = url;
	c->stage.no_start = 1;
	ts_cmd_expect(f->a, c, OSPEC__V1__RESULT_STATUS__RESULT_OK);
	r = ts_agent_record(f->a, APP);
	assert_non_null(r);
	assert_non_null(r->current);
	assert_string_equal(r->current->artifact_url, want);
	ospec__v1__agent_app_record__free_unpacked(r, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_agent_apps_upgrade_fail_revert_stop, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_apps_sha_mismatch_keeps_old, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_apps_restore, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_apps_restore_replaces_other_release, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_apps_stale_generation, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_apps_crash_at_start, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_apps_port_clash_refused, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_apps_refuses_bad_commands, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_apps_monitor_follows_health, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_apps_health_epoch, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_apps_record_url_redacted, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_apps_undo_run_again_checks_health, fx_setup,
			fx_teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
