/* test_ospec_doc.c - OSpec documents as plans: every mapping rule on small
 * documents and every error path (located, naming the key). Hostile input
 * and the real examples are test_ospec_doc_input.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ospec/ospec_doc.h"
#include "ospec/util.h"
#include "test_ospec_doc.h"

#define FLEET "fleet:\n  app: hello\n  run: \"bin/hello --port {port}\"\n  port: 8080\n"

static void test_ospec_doc_default_stage(void **state)
{
	(void)state;
	assert_ok(FLEET, NULL);
	assert_int_equal(fnd.n, 0);
	assert_string_equal(plan.app, "hello");
	assert_string_equal(plan.run, "bin/hello --port {port}");
	assert_int_equal(plan.port, 8080);
	assert_int_equal(plan.nstages, 1);
	assert_string_equal(plan.stages[0].name, "all");
	assert_string_equal(plan.stages[0].select, "");
	assert_int_equal(plan.stages[0].bake_ms, -1);
	assert_false(plan.stages[0].approval);
	assert_int_equal(plan.watch_ms, -1);
	assert_string_equal(plan.strategy, "");
	assert_int_equal(plan.health_interval_ms, -1);
	assert_int_equal(plan.nsmoke + plan.nsecrets, 0);
}

static void test_ospec_doc_fleet_stages(void **state)
{
	(void)state;
	assert_ok("fleet:\n"
		"  app: hello\n"
		"  run: \"bin/hello --port {port}\"\n"
		"  ports: {blue: 8081, green: 8082}\n"
		"  artifact: https://dl.example.com/{app}/{app}-{version}.tar.gz\n"
		"  select: {role: web}\n"
		"  batch: 2\n"
		"  max_failures: 10%\n"
		"  watch: 2m\n"
		"  health: {path: /healthz, interval: 1s, timeout: 3s, rise: 2, fall: 4}\n"
		"  stages:\n"
		"    - {name: canary, select: {region: us-east}, nodes: 1, bake: 30s}\n"
		"    - {name: us, select: {region: us-east}, batch: 25%, max_failures: 1}\n"
		"    - {name: eu, select: {region: eu-west, zone: eu-west-1a}, batch: 50%, "
		"approval: true, progress_deadline: 5m}\n", NULL);
	assert_int_equal(plan.blue_port, 8081);
	assert_int_equal(plan.green_port, 8082);
	assert_string_equal(plan.artifact, "https://dl.example.com/{app}/{app}-{version}.tar.gz");
	assert_string_equal(plan.select, "role=web");
	assert_string_equal(plan.batch, "2");
	assert_string_equal(plan.max_failures, "10%");
	assert_int_equal(plan.watch_ms, 120000);
	assert_string_equal(plan.health_path, "/healthz");
	assert_int_equal(plan.health_interval_ms, 1000);
	assert_int_equal(plan.health_timeout_ms, 3000);
	assert_int_equal(plan.health_rise, 2);
	assert_int_equal(plan.health_fall, 4);
	assert_int_equal(plan.nstages, 3);
	assert_string_equal(plan.stages[0].name, "canary");
	assert_string_equal(plan.stages[0].select, "region=us-east");
	assert_string_equal(plan.stages[0].nodes, "1");
	assert_int_equal(plan.stages[0].bake_ms, 30000);
	assert_string_equal(plan.stages[1].batch, "25%");
	assert_string_equal(plan.stages[1].max_failures, "1");
	assert_int_equal(plan.stages[1].bake_ms, -1);
	assert_string_equal(plan.stages[2].select, "region=eu-west,zone=eu-west-1a");
	assert_true(plan.stages[2].approval);
	assert_string_equal(plan.stages[2].approval_why, "fleet.stages[2].approval");
	assert_int_equal(plan.stages[2].progress_deadline_ms, 300000);
	assert_false(plan.stages[0].approval);
	/* the CLI's selector string is taken as well */
	assert_ok(FLEET "  select: \"role=web,tier=front\"\n", NULL);
	assert_string_equal(plan.select, "role=web,tier=front");
}

static void test_ospec_doc_fleet_strict(void **state)
{
	(void)state;
	assert_int_equal(doc(FLEET "  colour: blue\n", NULL), OSP_ECONFIG);
	assert_has("5:3: fleet.colour: error: unknown key (expected one of: app, run, port,");
	assert_int_equal(doc("fleet:\n  stages:\n    - {name: a, size: 3}\n", NULL), OSP_ECONFIG);
	assert_has("3:17: fleet.stages[0].size: error: unknown key (expected one of: name, "
		"select,");
	assert_int_equal(doc("fleet:\n  health: {path: /h, retries: 3}\n", NULL), OSP_ECONFIG);
	assert_has("2:22: fleet.health.retries: error: unknown key");
	assert_int_equal(doc("fleet:\n  stages:\n    - {nodes: 1}\n", NULL), OSP_ECONFIG);
	assert_has("3:7: fleet.stages[0]: error: name is required");
	assert_int_equal(doc("fleet:\n  stages:\n    - {name: a}\n    - {name: a}\n", NULL),
		OSP_ECONFIG);
	assert_has("4:14: fleet.stages[1].name: error: stage name \"a\" is used twice");
	assert_int_equal(doc("fleet:\n  stages:\n    - {name: \"us east\"}\n", NULL),
		OSP_ECONFIG);
	assert_has("3:14: fleet.stages[0].name: error: expected a stage name");
	assert_int_equal(doc("fleet:\n  stages: []\n", NULL), OSP_ECONFIG);
	assert_has("2:11: fleet.stages: error: expected 1..16 stages, got 0");
	assert_int_equal(doc("fleet: [app]\n", NULL), OSP_ECONFIG);
	assert_has("1:8: fleet: error: expected a map, got a list");
}

static void test_ospec_doc_fleet_wrong_types(void **state)
{
	(void)state;
	assert_int_equal(doc("fleet:\n  port: http\n", NULL), OSP_ECONFIG);
	assert_has("2:9: fleet.port: error: expected an integer in 1..65535, got \"http\"");
	assert_int_equal(doc("fleet:\n  batch: lots\n", NULL), OSP_ECONFIG);
	assert_has("2:10: fleet.batch: error: expected a count 1..100000 or a percentage "
		"1%..100%, got \"lots\"");
	assert_int_equal(doc("fleet:\n  batch: 0%\n", NULL), OSP_ECONFIG);
	assert_has("2:10: fleet.batch: error: expected a count 1..100000");
	assert_int_equal(doc("fleet:\n  max_failures: 101%\n", NULL), OSP_ECONFIG);
	assert_has("2:17: fleet.max_failures: error: expected a count 0..100000 or a "
		"percentage 0%..100%");
	assert_int_equal(doc("fleet:\n  watch: soon\n", NULL), OSP_ECONFIG);
	assert_has("2:10: fleet.watch: error: expected a duration like 500ms, 30s, 5m, got "
		"\"soon\"");
	assert_int_equal(doc("fleet:\n  app: \"-x\"\n", NULL), OSP_ECONFIG);
	assert_has("2:8: fleet.app: error: expected an app id");
	assert_int_equal(doc("fleet:\n  stages:\n    - {name: a, approval: maybe}\n", NULL),
		OSP_ECONFIG);
	assert_has("3:27: fleet.stages[0].approval: error: expected true or false, got "
		"\"maybe\"");
	assert_int_equal(doc("fleet:\n  stages:\n    - {name: a, select: {region: us east}}\n",
		NULL), OSP_ECONFIG);
	assert_has("3:34: fleet.stages[0].select.region: error: expected a label");
	assert_int_equal(doc("fleet:\n  select: \"region\"\n", NULL), OSP_ECONFIG);
	assert_has("2:11: fleet.select: error: expected K=V,K=V or a map of labels");
	assert_int_equal(doc("fleet:\n  stages:\n    - {name: a, bake: [1]}\n", NULL),
		OSP_ECONFIG);
	assert_has("3:23: fleet.stages[0].bake: error: expected a duration");
}

static void test_ospec_doc_fleet_ports_artifact(void **state)
{
	(void)state;
	assert_int_equal(doc("fleet: {port: 80, ports: {blue: 81, green: 82}}\n", NULL),
		OSP_ECONFIG);
	assert_has("1:26: fleet.ports: error: give fleet.port or fleet.ports, not both");
	assert_int_equal(doc("fleet: {ports: {blue: 81, green: 81}}\n", NULL), OSP_ECONFIG);
	assert_has("1:34: fleet.ports.green: error: the green port must differ");
	assert_int_equal(doc("fleet: {ports: {blue: 81}}\n", NULL), OSP_ECONFIG);
	assert_has("1:16: fleet.ports: error: expected {blue: N, green: M}");
	assert_int_equal(doc(FLEET "deployment: {strategy: blue_green}\n", NULL), OSP_ECONFIG);
	assert_has("4:9: fleet.port: error: blue_green needs two ports");
	assert_int_equal(doc("fleet: {artifact: \"ftp://x/{app}\"}\n", NULL), OSP_ECONFIG);
	assert_has("1:19: fleet.artifact: error: expected an http://, https:// or file:// URL");
	assert_int_equal(doc("fleet: {artifact: \"https://x/{name}.tgz\"}\n", NULL),
		OSP_ECONFIG);
	assert_has("1:19: fleet.artifact: error: unknown placeholder at \"{name}.tgz\"");
	assert_ok("fleet: {artifact: \"file:///srv/{app}-{version}.tar.gz\"}\n", NULL);
}

static void test_ospec_doc_strategy(void **state)
{
	(void)state;
	assert_ok("deployment: {strategy: rolling}\n", NULL);
	assert_string_equal(plan.strategy, "rolling");
	assert_string_equal(note("deployment.strategy"), "--strategy rolling");
	assert_ok("deployment: {strategy: recreate}\n", NULL);
	assert_string_equal(plan.strategy, "recreate");
	assert_ok("deployment: {strategy: blue_green}\n", NULL);
	assert_string_equal(plan.strategy, "blue_green");
	assert_ok("deployment:\n  strategy: canary\n", NULL);
	assert_string_equal(plan.strategy, "canary");
	assert_string_equal(note("deployment.strategy"), "--strategy canary");
	assert_int_equal(fnd.n, 0);
	assert_int_equal(doc("deployment: {strategy: blue-green}\n", NULL), OSP_ECONFIG);
	assert_has("1:24: deployment.strategy: error: unknown strategy \"blue-green\": expected "
		"rolling, recreate, blue_green or canary (did you mean blue_green?)");
	assert_int_equal(doc("deployment: {strategy: Canary}\n", NULL), OSP_ECONFIG);
	assert_has("1:24: deployment.strategy: error: unknown strategy \"Canary\": expected "
		"rolling, recreate, blue_green or canary (did you mean canary?)");
	assert_int_equal(doc("deployment: {strategy: big_bang}\n", NULL), OSP_ECONFIG);
	assert_has("1:24: deployment.strategy: error: unknown strategy \"big_bang\": expected "
		"rolling, recreate, blue_green or canary");
	assert_int_equal(doc("deployment: {strategy: [rolling]}\n", NULL), OSP_ECONFIG);
	assert_has("1:24: deployment.strategy: error: expected a string");
	assert_ok("deployment: {strategy: feature_flags}\n", NULL);
	assert_has("1:14: deployment.strategy: warning: feature_flags: ospec does not switch");
	assert_string_equal(plan.strategy, "");
	assert_int_equal(doc("deployment: rolling\n", NULL), OSP_ECONFIG);
	assert_has("1:13: deployment: error: expected a map, got \"rolling\"");
}

static void test_ospec_doc_watch(void **state)
{
	(void)state;
	assert_ok("guardrails:\n  deployment: {rollback_timeout_minutes: 5}\n", NULL);
	assert_int_equal(plan.watch_ms, 300000);
	assert_string_equal(note("guardrails.deployment.rollback_timeout_minutes"), "--watch 5m");
	assert_ok("guardrails: {rollback_timeout_minutes: 2}\n", NULL);
	assert_int_equal(plan.watch_ms, 120000);
	assert_ok("deployment: {traffic_switching: {rollback_threshold_seconds: 300}}\n", NULL);
	assert_int_equal(plan.watch_ms, 300000);
	assert_string_equal(note("deployment.traffic_switching.rollback_threshold_seconds"),
		"--watch 5m");
	/* rollback_timeout_minutes wins over rollback_threshold_seconds, in any order */
	assert_ok("guardrails: {rollback_timeout_minutes: 10}\n"
		"deployment: {traffic_switching: {rollback_threshold_seconds: 30}}\n", NULL);
	assert_int_equal(plan.watch_ms, 600000);
	assert_string_equal(note("deployment.traffic_switching.rollback_threshold_seconds"),
		"nothing: guardrails.rollback_timeout_minutes wins");
	/* fleet.watch wins over both */
	assert_ok("guardrails: {rollback_timeout_minutes: 10}\nfleet: {watch: 90s}\n", NULL);
	assert_int_equal(plan.watch_ms, 90000);
	assert_string_equal(note("fleet.watch"), "--watch 90s");
	assert_string_equal(note("guardrails.rollback_timeout_minutes"),
		"nothing: fleet.watch wins");
	/* the environment's key wins over the document's, even a weaker kind of key */
	assert_ok("guardrails: {rollback_timeout_minutes: 10}\nenvironments:\n  production:\n"
		"    deployment: {traffic_switching: {rollback_threshold_seconds: 30}}\n",
		"production");
	assert_int_equal(plan.watch_ms, 30000);
	assert_int_equal(doc("guardrails:\n  rollback_timeout_minutes: 5m\n", NULL), OSP_ECONFIG);
	assert_has("2:29: guardrails.rollback_timeout_minutes: error: expected an integer in "
		"0..1440, got \"5m\"");
	assert_int_equal(doc("deployment:\n  traffic_switching:\n    "
		"rollback_threshold_seconds: -1\n", NULL), OSP_ECONFIG);
	assert_has("3:33: deployment.traffic_switching.rollback_threshold_seconds: error: "
		"expected an integer in 0..86400");
}

static void test_ospec_doc_health(void **state)
{
	(void)state;
	assert_ok("guardrails: {health_check_retries: 3}\n", NULL);
	assert_int_equal(plan.health_fall, 3);
	assert_string_equal(note("guardrails.health_check_retries"), "--health-fall 3");
	assert_ok("deployment:\n  health_checks:\n    http_endpoint: /health\n"
		"    expected_status: 200\n    timeout_seconds: 30\n    retry_attempts: 5\n"
		"guardrails: {deployment: {health_check_retries: 3}}\n", NULL);
	assert_string_equal(plan.health_path, "/health");
	assert_int_equal(plan.health_timeout_ms, 30000);
	assert_int_equal(plan.health_fall, 5); /* deployment.health_checks wins */
	assert_string_equal(note("guardrails.deployment.health_check_retries"),
		"nothing: deployment.health_checks.retry_attempts wins");
	assert_ok("monitoring:\n  health_checks:\n    - endpoint: \"/health\"\n"
		"      interval_seconds: 30\n      timeout_seconds: 5\n"
		"    - endpoint: \"/ready\"\n      interval_seconds: 10\n", NULL);
	assert_string_equal(plan.health_path, "/health");
	assert_int_equal(plan.health_interval_ms, 30000);
	assert_int_equal(plan.health_timeout_ms, 5000);
	assert_has("6:7: monitoring.health_checks[1]: warning: not checked: ospec checks one "
		"health path per app");
	assert_ok("monitoring: {health_check_url: \"${APP_URL}/health\"}\n", NULL);
	assert_string_equal(plan.health_path, "/health");
	assert_ok("monitoring: {health_check_url: \"https://a.example.com:8443/ready?x=1\"}\n",
		NULL);
	assert_string_equal(plan.health_path, "/ready?x=1");
	assert_ok("monitoring: {health_check_url: \"http://a.example.com\"}\n", NULL);
	assert_string_equal(plan.health_path, "/");
	assert_ok("deployment: {health_checks: {path: /h, interval: 2s, expected_status: 503}}\n",
		NULL);
	assert_int_equal(plan.health_interval_ms, 2000);
	assert_has("1:54: deployment.health_checks.expected_status: warning: ospec's health "
		"check passes on any 2xx answer, not on 503");
	assert_int_equal(doc("monitoring: {health_check_url: health}\n", NULL), OSP_ECONFIG);
	assert_has("1:32: monitoring.health_check_url: error: expected a URL or a path");
	assert_int_equal(doc("guardrails: {health_check_retries: three}\n", NULL), OSP_ECONFIG);
	assert_has("1:36: guardrails.health_check_retries: error: expected an integer in 1..100");
	assert_int_equal(doc("deployment: {health_checks: /health}\n", NULL), OSP_ECONFIG);
	assert_has("1:29: deployment.health_checks: error: expected a map");
	assert_int_equal(doc("monitoring: {health_checks: [{timeout_seconds: 0}]}\n", NULL),
		OSP_ECONFIG);
	assert_has("1:48: monitoring.health_checks[0].timeout_seconds: error: expected an "
		"integer in 1..3600, got \"0\"");
	/* guardrails' retries win over monitoring's, in any order */
	assert_ok("guardrails: {health_check_retries: 2}\n"
		"monitoring: {health_checks: {retries: 7}}\n", NULL);
	assert_int_equal(plan.health_fall, 2);
	assert_ok("monitoring: {health_checks: {retries: 7}}\n"
		"guardrails: {health_check_retries: 2}\n", NULL);
	assert_int_equal(plan.health_fall, 2);
	/* fleet.health wins over the document */
	assert_ok("monitoring: {health_check_url: /a}\nfleet: {health: {path: /b}}\n", NULL);
	assert_string_equal(plan.health_path, "/b");
	assert_string_equal(note("monitoring.health_check_url"), "nothing: fleet.health.path wins");
}

static void test_ospec_doc_approval_true(void **state)
{
	(void)state;
	assert_ok("guardrails: {human_approval_required: true}\n", NULL);
	assert_true(plan.stages[0].approval);
	assert_string_equal(plan.stages[0].approval_why, "guardrails.human_approval_required: true");
	assert_string_equal(note("guardrails.human_approval_required"), "gate before stage all "
		"(true)");
	assert_ok("guardrails: {human_approval_required: false}\n", NULL);
	assert_false(plan.stages[0].approval);
	assert_int_equal(doc("guardrails: {human_approval_required: maybe}\n", NULL),
		OSP_ECONFIG);
	assert_has("1:39: guardrails.human_approval_required: error: expected true or false");
	assert_int_equal(doc("guardrails: {human_approval_required: {production: true}}\n", NULL),
		OSP_ECONFIG);
	assert_has("1:39: guardrails.human_approval_required: error: expected true, false or a "
		"list of tags");
	assert_int_equal(doc("guardrails: {human_approval_required: [[production]]}\n", NULL),
		OSP_ECONFIG);
	assert_has("1:40: guardrails.human_approval_required[0]: error: expected a string");
}

static void test_ospec_doc_approval_tags(void **state)
{
	static const char *const gates[] = { "production", "production_deploy",
		"production_deployment" };
	char text[256];

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		snprintf(text, sizeof(text), "fleet:\n  stages: [{name: us}, {name: eu}]\n"
			"guardrails:\n  deployment:\n    human_approval_required: [%s]\n", gates[i]);
		assert_ok(text, "production");
		assert_true(plan.stages[0].approval);
		assert_false(plan.stages[1].approval);
		assert_false(plan.switch_approval);
		assert_true(strstr(plan.stages[0].approval_why,
			"guardrails.deployment.human_approval_required: production") != NULL);
		snprintf(text, sizeof(text), "gate before stage us (tag %s)", gates[i]);
		assert_string_equal(note("guardrails.deployment.human_approval_required"), text);
	}
	assert_ok("guardrails: {human_approval_required: [production_deploy]}\n", "staging");
	assert_false(plan.stages[0].approval);
	assert_string_equal(note("guardrails.human_approval_required"),
		"no gate: tag production_deploy is for --env production");
	assert_ok("guardrails: {human_approval_required: [staging]}\n", "staging");
	assert_true(plan.stages[0].approval);
	/* without --env no tag gates: a warning says so */
	assert_ok("guardrails:\n  human_approval_required: [production, database_migration]\n",
		NULL);
	assert_false(plan.stages[0].approval);
	assert_has("2:3: guardrails.human_approval_required: warning: no gate without --env: "
		"production");
	assert_has("2:3: guardrails.human_approval_required: warning: not acted on: "
		"database_migration");
	/* a tag that is not about a deploy never gates */
	assert_ok("guardrails: {human_approval_required: [payment_integration]}\n", "production");
	assert_false(plan.stages[0].approval);
}

static void test_ospec_doc_approval_traffic_switch(void **state)
{
	(void)state;
	assert_ok("fleet: {ports: {blue: 81, green: 82}}\ndeployment: {strategy: blue_green}\n"
		"guardrails: {human_approval_required: [production_traffic_switch]}\n",
		"production");
	assert_true(plan.switch_approval);
	assert_string_equal(plan.switch_approval_why,
		"guardrails.human_approval_required: production_traffic_switch");
	assert_false(plan.stages[0].approval);
	assert_string_equal(note("guardrails.human_approval_required"),
		"gate before the traffic switch (tag production_traffic_switch)");
	/* rolling has no traffic switch: the first stage is gated */
	assert_ok("guardrails: {human_approval_required: [production_traffic_switch]}\n",
		"production");
	assert_false(plan.switch_approval);
	assert_true(plan.stages[0].approval);
	assert_string_equal(note("guardrails.human_approval_required"), "gate before stage all "
		"(tag production_traffic_switch: rolling has no traffic switch)");
}

static void test_ospec_doc_approval_env_guardrails(void **state)
{
	const char *text = "guardrails:\n  production:\n    human_approval_required: true\n"
		"    lint: block\n  staging: {lint: error}\n";

	(void)state;
	assert_ok(text, "production");
	assert_true(plan.stages[0].approval);
	assert_string_equal(plan.stages[0].approval_why,
		"guardrails.production.human_approval_required: true");
	assert_has("4:5: guardrails.production.lint: warning: not used by ospec");
	assert_false(has("5:14: guardrails.staging.lint")); /* another environment: quiet */
	assert_ok(text, "staging");
	assert_false(plan.stages[0].approval);
	assert_ok(text, NULL);
	assert_false(plan.stages[0].approval);
	assert_has("2:3: guardrails.production: warning: applies only with --env production");
	/* a wrong type is an error whichever environment is chosen */
	assert_int_equal(doc("guardrails:\n  production: {human_approval_required: 3}\n",
		"staging"), OSP_ECONFIG);
	assert_has("2:41: guardrails.production.human_approval_required: error: expected true "
		"or false, got \"3\"");
}

static void test_ospec_doc_smoke(void **state)
{
	(void)state;
	assert_ok("acceptance:\n  http_endpoints:\n"
		"    - {path: /, status: 200}\n"
		"    - {path: /products, method: get, expected_status: 204}\n"
		"    - {path: /auth/login, method: POST, status: 200}\n"
		"    - {path: \"/tasks/{task_id}\", status: 200}\n"
		"    - {path: /tasks, status: 200, auth_required: true}\n"
		"    - {path: /metrics, response_format: prometheus}\n", NULL);
	assert_int_equal(plan.nsmoke, 3);
	assert_string_equal(plan.smoke[0].method, "GET");
	assert_string_equal(plan.smoke[0].path, "/");
	assert_int_equal(plan.smoke[0].status, 200);
	assert_string_equal(plan.smoke[1].method, "GET");
	assert_int_equal(plan.smoke[1].status, 204);
	assert_string_equal(plan.smoke[2].path, "/metrics");
	assert_int_equal(plan.smoke[2].status, 200);
	assert_has("5:7: acceptance.http_endpoints[2]: warning: POST /auth/login is not run as "
		"a smoke check");
	assert_has("6:7: acceptance.http_endpoints[3]: warning: /tasks/{task_id} is not run as "
		"a smoke check (a placeholder");
	assert_has("7:7: acceptance.http_endpoints[4]: warning: /tasks is not run as a smoke "
		"check (auth_required");
	assert_has("8:7: acceptance.http_endpoints[5]: warning: only the status is checked; not "
		"acted on: response_format");
	assert_string_equal(note("acceptance.http_endpoints"),
		"smoke checks: GET / 200, GET /products 204, GET /metrics 200");
	assert_int_equal(doc("acceptance:\n  http_endpoints:\n    - {path: /, status: ok}\n"
		"    - {status: 200}\n    - {path: health}\n    - {path: /, method: FETCH}\n"
		"    - /health\n    - {path: \"/a;b\"}\n", NULL), OSP_ECONFIG);
	assert_has("3:25: acceptance.http_endpoints[0].status: error: expected an integer in "
		"100..599, got \"ok\"");
	assert_has("4:7: acceptance.http_endpoints[1].path: error: required");
	assert_has("5:14: acceptance.http_endpoints[2].path: error: path 'health': expected a "
		"path starting with '/'");
	assert_has("6:25: acceptance.http_endpoints[3].method: error: method 'FETCH': expected "
		"GET, HEAD");
	assert_has("7:7: acceptance.http_endpoints[4]: error: expected a map, got \"/health\"");
	assert_has("8:14: acceptance.http_endpoints[5].path: error: path '/a;b': a smoke check's "
		"path may not hold ';'");
	assert_int_equal(doc("acceptance: {http_endpoints: {path: /}}\n", NULL), OSP_ECONFIG);
	assert_has("1:30: acceptance.http_endpoints: error: expected a list, got a map");
}

static void test_ospec_doc_smoke_validation_checks(void **state)
{
	const char *eps = "acceptance: {http_endpoints: [{path: /health}]}\n";
	char text[512];

	(void)state;
	/* no validation_checks: the endpoints are smoke checks */
	assert_ok(eps, NULL);
	assert_int_equal(plan.nsmoke, 1);
	snprintf(text, sizeof(text), "%sdeployment:\n  traffic_switching:\n    "
		"validation_checks: [health_check, smoke_tests, performance_baseline]\n", eps);
	assert_ok(text, NULL);
	assert_int_equal(plan.nsmoke, 1);
	assert_has("4:5: deployment.traffic_switching.validation_checks: warning: not acted on: "
		"performance_baseline");
	assert_string_equal(note("deployment.traffic_switching.validation_checks[0]"),
		"health checks on every node (ospec's default)");
	/* listed checks without smoke_tests: no smoke checks */
	snprintf(text, sizeof(text), "%sdeployment:\n  traffic_switching:\n    "
		"validation_checks: [health_check]\n", eps);
	assert_ok(text, NULL);
	assert_int_equal(plan.nsmoke, 0);
	assert_has("1:14: acceptance.http_endpoints: warning: not run as smoke checks: "
		"deployment.traffic_switching.validation_checks does not list smoke_tests");
	assert_int_equal(doc("deployment: {traffic_switching: {validation_checks: smoke}}\n",
		NULL), OSP_ECONFIG);
	assert_has("1:53: deployment.traffic_switching.validation_checks: error: expected a list");
}

static void test_ospec_doc_secrets(void **state)
{
	char text[2048];
	size_t off;

	(void)state;
	assert_ok("secrets:\n  provider: vault://x\n  required: [DATABASE_URL, _K2, DATABASE_URL]\n"
		"  optional: [SENTRY_DSN]\n", NULL);
	assert_int_equal(plan.nsecrets, 2);
	assert_string_equal(plan.secrets[0], "DATABASE_URL");
	assert_string_equal(plan.secrets[1], "_K2");
	assert_has("2:3: secrets.provider: warning: not used by ospec");
	assert_has("4:3: secrets.optional: warning: not checked");
	assert_string_equal(note("secrets.required"), "checked on every target host before any "
		"stage: DATABASE_URL, _K2");
	assert_int_equal(doc("secrets:\n  required: [DB-URL, \"2X\", \"A B\"]\n", NULL),
		OSP_ECONFIG);
	assert_has("2:14: secrets.required[0]: error: expected a secret's name "
		"([A-Za-z_][A-Za-z0-9_]*), got \"DB-URL\"");
	assert_has("2:22: secrets.required[1]: error: expected a secret's name");
	assert_has("2:28: secrets.required[2]: error: expected a secret's name");
	assert_int_equal(doc("secrets: {required: API_KEY}\n", NULL), OSP_ECONFIG);
	assert_has("1:21: secrets.required: error: expected a list, got \"API_KEY\"");
	off = (size_t)snprintf(text, sizeof(text), "secrets:\n  required:\n");
	for (int i = 0; i < 33; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off, "    - S%d\n", i);
	assert_int_equal(doc(text, NULL), OSP_ECONFIG);
	assert_has("35:7: secrets.required[32]: error: more than 32 secrets");
}

static void test_ospec_doc_environments(void **state)
{
	const char *text = "guardrails: {deployment: {rollback_timeout_minutes: 5}}\n"
		"secrets: {required: [A]}\n"
		"environments:\n"
		"  production:\n"
		"    stack: {deploy: ECS}\n"
		"    guardrails: {rollback_timeout_minutes: 10, human_approval_required: true}\n"
		"    secrets: {required: [B], provider: x}\n"
		"  staging:\n"
		"    stack: {deploy: Docker}\n"
		"    deployment: {strategy: recreate}\n";

	(void)state;
	assert_ok(text, "production");
	assert_int_equal(plan.watch_ms, 600000); /* the environment's value wins */
	assert_string_equal(note("environments.production.guardrails.rollback_timeout_minutes"),
		"--watch 10m");
	assert_true(plan.stages[0].approval);
	assert_int_equal(plan.nsecrets, 2);
	assert_string_equal(plan.strategy, "");
	assert_string_equal(plan.env, "production");
	assert_has("5:5: environments.production.stack: warning: not used by ospec");
	assert_false(has("9:5: environments.staging.stack"));
	assert_ok(text, "staging");
	assert_int_equal(plan.watch_ms, 300000);
	assert_false(plan.stages[0].approval);
	assert_int_equal(plan.nsecrets, 1);
	assert_string_equal(plan.strategy, "recreate");
	assert_ok(text, NULL);
	assert_int_equal(plan.watch_ms, 300000);
	assert_string_equal(plan.strategy, "");
	assert_has("3:1: environments: warning: applies only with --env (production, staging)");
	assert_int_equal(doc(text, "qa"), OSP_ECONFIG);
	assert_has("3:1: environments: error: --env qa names no environment of this document "
		"(production, staging)");
	assert_int_equal(doc(text, "bad env"), OSP_ECONFIG);
	assert_has("0:0: error: --env: expected an environment name");
	/* a document without environments: takes any --env */
	assert_ok(FLEET, "qa");
	/* an environment that does not apply is still checked for errors */
	assert_int_equal(doc("environments:\n  staging:\n    deployment: {strategy: canery}\n",
		"production"), OSP_ECONFIG);
	assert_int_equal(doc("environments:\n  staging:\n    deployment: {strategy: canery}\n",
		"staging"), OSP_ECONFIG);
	assert_has("3:28: environments.staging.deployment.strategy: error: unknown strategy "
		"\"canery\"");
	assert_int_equal(doc("environments: [production]\n", NULL), OSP_ECONFIG);
	assert_has("1:15: environments: error: expected a map, got a list");
	assert_int_equal(doc("environments: {production: true}\n", NULL), OSP_ECONFIG);
	assert_has("1:28: environments.production: error: expected a map, got \"true\"");
}

static void test_ospec_doc_multi_region(void **state)
{
	const char *regions = "multi_region:\n  regions:\n    primary: us-east-1\n"
		"    secondary: [us-west-2, eu-west-1]\n";
	char text[512];

	(void)state;
	assert_ok(regions, NULL);
	assert_int_equal(plan.nstages, 3);
	assert_string_equal(plan.stages[0].name, "us-east-1");
	assert_string_equal(plan.stages[0].select, "region=us-east-1");
	assert_string_equal(plan.stages[2].name, "eu-west-1");
	assert_int_equal(plan.stages[2].bake_ms, -1);
	assert_string_equal(note("multi_region"), "stages us-east-1, us-west-2, eu-west-1 "
		"(each selects region=NAME)");
	/* entries that name regions order them; prose is not acted on */
	snprintf(text, sizeof(text), "%s  deployment_order: [validate_staging, "
		"deploy_to_eu-west-1, deploy_to_primary_production, us-east-10]\n", regions);
	assert_ok(text, NULL);
	assert_int_equal(plan.nstages, 3);
	assert_string_equal(plan.stages[0].name, "eu-west-1");
	assert_string_equal(plan.stages[1].name, "us-east-1");
	assert_string_equal(plan.stages[2].name, "us-west-2");
	assert_has("5:3: multi_region.deployment_order: warning: not acted on (names no region): "
		"validate_staging, us-east-10");
	assert_has("5:3: multi_region.deployment_order: warning: regions it does not name are "
		"deployed last: us-west-2");
	/* fleet.stages wins */
	snprintf(text, sizeof(text), "%sfleet: {stages: [{name: one}]}\n", regions);
	assert_ok(text, NULL);
	assert_int_equal(plan.nstages, 1);
	assert_string_equal(plan.stages[0].name, "one");
	assert_string_equal(note("multi_region"), "nothing: fleet.stages wins");
	assert_int_equal(doc("multi_region: {regions: {primary: \"us east\"}}\n", NULL),
		OSP_ECONFIG);
	assert_has("1:35: multi_region.regions.primary: error: expected a region name");
	assert_int_equal(doc("multi_region: {regions: [us-east-1]}\n", NULL), OSP_ECONFIG);
	assert_has("1:25: multi_region.regions: error: expected a map, got a list");
	assert_int_equal(doc("multi_region: {regions: {primary: a}, deployment_order: a}\n",
		NULL), OSP_ECONFIG);
	assert_has("1:57: multi_region.deployment_order: error: expected a list");
}

static void test_ospec_doc_unknown_sections(void **state)
{
	(void)state;
	assert_ok("ospec_version: \"1.0\"\nname: shop\nid: shop\ndescription: d\n"
		"outcome_type: web-app\nstack:\n  frontend: {framework: Next.js, version: 14}\n"
		"  backend: [a, b]\nprompts: {a: b}\n", NULL);
	assert_int_equal(fnd.n, 2); /* one warning per section, none for what nests in it */
	assert_has("6:1: stack: warning: not used by ospec");
	assert_has("9:1: prompts: warning: not used by ospec");
	assert_int_equal(doc("", NULL), OSP_ECONFIG);
	assert_has("1:1: error: the document is empty");
	assert_int_equal(doc("- a\n- b\n", NULL), OSP_ECONFIG);
	assert_has("1:1: error: expected a map of sections");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_ospec_doc_default_stage),
		T(test_ospec_doc_fleet_stages),
		T(test_ospec_doc_fleet_strict),
		T(test_ospec_doc_fleet_wrong_types),
		T(test_ospec_doc_fleet_ports_artifact),
		T(test_ospec_doc_strategy),
		T(test_ospec_doc_watch),
		T(test_ospec_doc_health),
		T(test_ospec_doc_approval_true),
		T(test_ospec_doc_approval_tags),
		T(test_ospec_doc_approval_traffic_switch),
		T(test_ospec_doc_approval_env_guardrails),
		T(test_ospec_doc_smoke),
		T(test_ospec_doc_smoke_validation_checks),
		T(test_ospec_doc_secrets),
		T(test_ospec_doc_environments),
		T(test_ospec_doc_multi_region),
		T(test_ospec_doc_unknown_sections),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
