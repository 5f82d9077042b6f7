/* test_ospec_doc_canary.c - a canary's settings in an OSpec document
 * (ospec_doc_canary.c, docs/ospec.md "Canary"): canary_configuration,
 * Flagger's analysis, metadata.canary, the success criteria, their
 * precedence, bad values, and settings another strategy ignores. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ospec/ospec_doc.h"
#include "test_ospec_doc.h"

#define PORTS "fleet:\n  app: hello\n  ports: {blue: 8081, green: 8082}\n"

/* the shape of deployment-strategies-4.yaml */
#define CONF "deployment:\n" \
	"  strategy: canary\n" \
	"  canary_configuration:\n" \
	"    initial_traffic: 5\n" \
	"    increment: 10\n" \
	"    max_traffic: 100\n" \
	"    step_duration: 300\n" \
	"  monitoring:\n" \
	"    success_criteria:\n" \
	"      error_rate_threshold: 0.5\n" \
	"      latency_p95_threshold: 500\n" \
	"      business_metric_threshold: 0.95\n" \
	"    failure_criteria:\n" \
	"      error_rate_threshold: 2\n"

/* the guide's Flagger analysis */
#define FLAGGER "deployment:\n" \
	"  strategy: canary\n" \
	"  analysis:\n" \
	"    interval: 30s\n" \
	"    threshold: 5\n" \
	"    maxWeight: 50\n" \
	"    stepWeight: 10\n" \
	"    metrics:\n" \
	"    - name: request-success-rate\n" \
	"      thresholdRange:\n" \
	"        min: 99\n" \
	"      interval: 30s\n" \
	"    - name: request-duration\n" \
	"      thresholdRange:\n" \
	"        max: 500\n" \
	"      interval: 30s\n" \
	"    webhooks:\n" \
	"    - name: smoke-tests\n" \
	"      type: pre-rollout\n"

static void test_ospec_doc_canary_configuration(void **state)
{
	(void)state;
	assert_ok(PORTS CONF, NULL);
	assert_string_equal(plan.strategy, "canary");
	assert_int_equal(plan.canary_initial, 5);
	assert_int_equal(plan.canary_step, 10);
	assert_int_equal(plan.canary_max, 100);
	assert_int_equal(plan.analysis_interval_ms, 300000);
	assert_string_equal(plan.analysis_success_rate, "99.5");
	assert_int_equal(plan.analysis_max_latency_ms, 500);
	assert_int_equal(plan.analysis_threshold, 0);
	assert_string_equal(note("deployment.canary_configuration.initial_traffic"),
		"--canary-initial 5");
	assert_string_equal(note("deployment.canary_configuration.increment"), "--canary-step 10");
	assert_string_equal(note("deployment.canary_configuration.max_traffic"),
		"--canary-max 100");
	assert_string_equal(note("deployment.canary_configuration.step_duration"),
		"--analysis-interval 5m");
	assert_string_equal(note("deployment.monitoring.success_criteria.error_rate_threshold"),
		"--analysis-success-rate 99.5");
	assert_string_equal(note("deployment.monitoring.success_criteria.latency_p95_threshold"),
		"--analysis-max-latency 500ms (the mean response time)");
	assert_has("14:7: deployment.monitoring.success_criteria.latency_p95_threshold: warning: "
		"checked against the mean response time");
	assert_has("15:7: deployment.monitoring.success_criteria.business_metric_threshold: "
		"warning: not used by ospec");
	assert_has("16:5: deployment.monitoring.failure_criteria: warning: not used by ospec");
	assert_int_equal(fnd.errors, 0);
	/* percentages as strings, durations with their unit */
	assert_ok(PORTS "deployment:\n  strategy: canary\n  canary_configuration:\n"
		"    initial_traffic: \"20%\"\n    max_traffic: 80%\n    step_duration: 2m\n"
		"monitoring:\n  success_criteria: {error_rate_threshold: \"0.25%\", "
		"latency_p95_threshold: 1s}\n", NULL);
	assert_int_equal(plan.canary_initial, 20);
	assert_int_equal(plan.canary_max, 80);
	assert_int_equal(plan.canary_step, 0);
	assert_int_equal(plan.analysis_interval_ms, 120000);
	assert_string_equal(plan.analysis_success_rate, "99.75");
	assert_int_equal(plan.analysis_max_latency_ms, 1000);
}

static void test_ospec_doc_canary_flagger(void **state)
{
	(void)state;
	assert_ok(PORTS FLAGGER, NULL);
	assert_int_equal(plan.canary_initial, 0); /* the coordinator starts at the step */
	assert_int_equal(plan.canary_step, 10);
	assert_int_equal(plan.canary_max, 50);
	assert_int_equal(plan.analysis_interval_ms, 30000);
	assert_int_equal(plan.analysis_threshold, 5);
	assert_string_equal(plan.analysis_success_rate, "99");
	assert_int_equal(plan.analysis_max_latency_ms, 500);
	assert_string_equal(note("deployment.analysis.stepWeight"),
		"--canary-step 10 (the first weight too)");
	assert_string_equal(note("deployment.analysis.maxWeight"), "--canary-max 50");
	assert_string_equal(note("deployment.analysis.interval"), "--analysis-interval 30s");
	assert_string_equal(note("deployment.analysis.threshold"), "--analysis-threshold 5");
	assert_string_equal(note("deployment.analysis.metrics[0].thresholdRange.min"),
		"--analysis-success-rate 99");
	assert_string_equal(note("deployment.analysis.metrics[1].thresholdRange.max"),
		"--analysis-max-latency 500ms (the mean response time)");
	/* the metrics' interval is the block's: nothing to say; webhooks are not run */
	assert_int_equal(fnd.n, 1);
	assert_has("20:5: deployment.analysis.webhooks: warning: not run: ospec calls no "
		"webhooks");
	/* a metric's own interval that differs is a warning */
	assert_ok(PORTS "deployment:\n  strategy: canary\n  analysis:\n    interval: 1m\n"
		"    metrics:\n    - {name: request-success-rate, thresholdRange: {min: 99.95}, "
		"interval: 30s}\n", NULL);
	assert_string_equal(plan.analysis_success_rate, "99.95");
	assert_has("9:66: deployment.analysis.metrics[0].interval: warning: not used by ospec: "
		"every metric is analysed over the step's interval");
}

static void test_ospec_doc_canary_metadata(void **state)
{
	(void)state;
	/* the shape of patterns-8.yaml, with the strategy */
	assert_ok(PORTS "deployment: {strategy: canary}\n"
		"metadata:\n  canary:\n    analysis_interval: \"1m\"\n    threshold: 10\n"
		"    max_weight: 50\n    metrics:\n      - request_success_rate\n"
		"      - request_duration\n      - error_rate\n", NULL);
	assert_int_equal(plan.analysis_interval_ms, 60000);
	assert_int_equal(plan.analysis_threshold, 10);
	assert_int_equal(plan.canary_max, 50);
	assert_string_equal(plan.analysis_success_rate, "");
	assert_string_equal(note("metadata.canary.metrics[0]"), "the success rate is analysed "
		"(--analysis-success-rate: default 99)");
	assert_has("13:9: metadata.canary.metrics[2]: warning: metric error_rate is ignored: "
		"ospec analyses the proxy's counters only");
	assert_int_equal(fnd.n, 1);
	/* deployment.analysis wins over metadata.canary, whatever the order */
	assert_ok(PORTS "metadata:\n  canary: {threshold: 10}\n  owner: me\n"
		"deployment:\n  strategy: canary\n  analysis: {threshold: 3}\n", NULL);
	assert_int_equal(plan.analysis_threshold, 3);
	assert_string_equal(note("metadata.canary.threshold"),
		"nothing: deployment.analysis.threshold wins");
	assert_has("4:1: metadata: warning: not used by ospec, except metadata.canary");
	/* metadata without a canary block: one warning, as before */
	assert_ok("metadata: {owner: me, canary: true}\n", NULL);
	assert_has("1:1: metadata: warning: not used by ospec");
	assert_int_equal(fnd.n, 1);
}

static void test_ospec_doc_canary_bad_values(void **state)
{
	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "canary_configuration: {initial_traffic: 60, max_traffic: 50}",
			"3:43: deployment.canary_configuration.initial_traffic: error: the first "
			"weight, 60%, is above the maximum, 50% "
			"(deployment.canary_configuration.max_traffic)" },
		{ "canary_configuration: {initial_traffic: 0%}",
			"3:43: deployment.canary_configuration.initial_traffic: error: expected a "
			"percentage of the traffic 1..100 (10 or \"10%\"), got \"0%\"" },
		{ "canary_configuration: {increment: 101}",
			"3:37: deployment.canary_configuration.increment: error: expected a "
			"percentage of the traffic 1..100" },
		{ "canary_configuration: {max_traffic: abc}",
			"3:39: deployment.canary_configuration.max_traffic: error: expected a "
			"percentage of the traffic 1..100 (10 or \"10%\"), got \"abc\"" },
		{ "canary_configuration: {step_duration: -300}",
			"3:41: deployment.canary_configuration.step_duration: error: expected a "
			"duration" },
		{ "canary_configuration: {step_duration: 0}",
			"3:41: deployment.canary_configuration.step_duration: error: expected a "
			"duration from 1s to 24h (a number is seconds), got \"0\"" },
		{ "canary_configuration: {step_duration: 500ms}",
			"3:41: deployment.canary_configuration.step_duration: error: expected a "
			"duration from 1s to 24h" },
		{ "analysis: {threshold: 0}",
			"3:25: deployment.analysis.threshold: error: expected an integer in 1..1000" },
		{ "analysis: {metrics: [{name: request-success-rate, thresholdRange: {min: "
			"99.999}}]}",
			"3:75: deployment.analysis.metrics[0].thresholdRange.min: error: expected a "
			"percentage 0..100 with at most 2 decimals (99.5), got \"99.999\"" },
		{ "analysis: {metrics: [{name: request-duration, thresholdRange: {max: 0}}]}",
			"3:71: deployment.analysis.metrics[0].thresholdRange.max: error: expected "
			"milliseconds 1..3600000" },
		{ "analysis: {metrics: [{thresholdRange: {min: 99}}]}",
			"3:24: deployment.analysis.metrics[0]: error: a metric needs a name" },
		{ "analysis: [interval]",
			"3:13: deployment.analysis: error: expected a map, got a list" },
		{ "monitoring: {success_criteria: {error_rate_threshold: 101}}",
			"3:57: deployment.monitoring.success_criteria.error_rate_threshold: error: "
			"expected a percentage 0..100" },
	};
	char text[512];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "deployment:\n  strategy: canary\n  %s\n"
			PORTS, bad[i].text);
		if (doc(text, NULL) != OSP_ECONFIG) {
			osp_doc_findings_print(&fnd, stderr);
			fail_msg("accepted: %s", bad[i].text);
		}
		assert_has(bad[i].want);
	}
	/* a first weight above the default maximum (50%) is a warning: --canary-max may
	 * still come from the command line */
	assert_ok("deployment:\n  strategy: canary\n  canary_configuration: {initial_traffic: 60}\n"
		PORTS, NULL);
	assert_has("3:26: deployment.canary_configuration.initial_traffic: warning: the first "
		"weight, 60%, is above the default maximum, 50%");
}

static void test_ospec_doc_canary_other_strategy(void **state)
{
	(void)state;
	assert_ok("deployment:\n  strategy: rolling\n  canary_configuration: {increment: 20}\n"
		"  analysis: {threshold: 3}\nmonitoring:\n  success_criteria: "
		"{error_rate_threshold: 1}\n", NULL);
	assert_has("3:3: deployment.canary_configuration: warning: ignored: strategy is rolling");
	assert_has("4:3: deployment.analysis: warning: ignored: strategy is rolling");
	assert_has("6:3: monitoring.success_criteria: warning: ignored: strategy is rolling");
	assert_int_equal(plan.canary_step, 0);
	assert_int_equal(plan.analysis_threshold, 0);
	assert_string_equal(plan.analysis_success_rate, "");
	assert_string_equal(note("deployment.canary_configuration.increment"), "");
	/* an environment's strategy decides */
	assert_ok("deployment:\n  strategy: canary\n  analysis: {threshold: 3}\n"
		"environments:\n  production:\n    deployment: {strategy: blue_green}\n" PORTS,
		"production");
	assert_has("3:3: deployment.analysis: warning: ignored: strategy is blue_green");
	assert_int_equal(plan.analysis_threshold, 0);
	/* no strategy at all: kept for plan --strategy canary, with a warning */
	assert_ok("deployment:\n  analysis: {threshold: 3}\n", NULL);
	assert_has("2:3: deployment.analysis: warning: used only with --strategy canary");
	assert_int_equal(plan.analysis_threshold, 3);
	assert_string_equal(note("deployment.analysis.threshold"),
		"--analysis-threshold 3 (with --strategy canary)");
}

static void test_ospec_doc_canary_precedence(void **state)
{
	(void)state;
	/* canary_configuration over analysis over metadata.canary; an analysis
	 * metric over the success criteria; whatever the order */
	assert_ok(PORTS "deployment:\n"
		"  analysis:\n    stepWeight: 5\n    interval: 30s\n"
		"    metrics: [{name: request-success-rate, thresholdRange: {min: 98}}]\n"
		"  canary_configuration: {increment: 20, step_duration: 2m}\n"
		"  monitoring:\n    success_criteria: {error_rate_threshold: 0.5, "
		"latency_p95_threshold: 800}\n"
		"  strategy: canary\n", NULL);
	assert_int_equal(plan.canary_step, 20);
	assert_int_equal(plan.analysis_interval_ms, 120000);
	assert_string_equal(plan.analysis_success_rate, "98");
	assert_int_equal(plan.analysis_max_latency_ms, 800);
	assert_string_equal(note("deployment.analysis.stepWeight"),
		"nothing: deployment.canary_configuration.increment wins");
	assert_string_equal(note("deployment.monitoring.success_criteria.error_rate_threshold"),
		"nothing: deployment.analysis.metrics[0].thresholdRange.min wins");
	/* deployment.monitoring over monitoring */
	assert_ok(PORTS "deployment:\n  strategy: canary\n  monitoring:\n    success_criteria: "
		"{error_rate_threshold: 1}\nmonitoring:\n  success_criteria: "
		"{error_rate_threshold: 2}\n", NULL);
	assert_string_equal(plan.analysis_success_rate, "99");
	/* the environment's over the document's */
	assert_ok(PORTS "deployment:\n  strategy: canary\n  canary_configuration: {max_traffic: "
		"30}\nenvironments:\n  production:\n    deployment:\n      canary_configuration: "
		"{max_traffic: 60}\n  staging: {}\n", "production");
	assert_int_equal(plan.canary_max, 60);
	assert_ok(PORTS "deployment:\n  strategy: canary\n  canary_configuration: {max_traffic: "
		"30}\nenvironments:\n  production:\n    deployment:\n      canary_configuration: "
		"{max_traffic: 60}\n  staging: {}\n", "staging");
	assert_int_equal(plan.canary_max, 30);
}

static void test_ospec_doc_canary_gate_ports(void **state)
{
	(void)state;
	assert_ok(PORTS "deployment: {strategy: canary}\n"
		"guardrails:\n  human_approval_required: [production_traffic_switch]\n",
		"production");
	assert_true(plan.switch_approval);
	assert_false(plan.stages[0].approval);
	assert_string_equal(note("guardrails.human_approval_required"), "gate before the "
		"promotion after the last canary weight (tag production_traffic_switch)");
	assert_int_equal(doc("fleet: {port: 8080}\ndeployment: {strategy: canary}\n", NULL),
		OSP_ECONFIG);
	assert_has("1:15: fleet.port: error: canary needs two ports: fleet.ports");
}

/* the three examples that speak of a canary */
static void test_ospec_doc_canary_examples(void **state)
{
	(void)state;
	assert_int_equal(example("deployment-strategies-4.yaml", NULL), OSP_OK);
	assert_string_equal(plan.strategy, "canary");
	assert_int_equal(plan.canary_initial, 5);
	assert_int_equal(plan.canary_step, 10);
	assert_int_equal(plan.canary_max, 100);
	assert_int_equal(plan.analysis_interval_ms, 300000);
	assert_string_equal(plan.analysis_success_rate, "99.5");
	assert_int_equal(plan.analysis_max_latency_ms, 500);
	assert_has("28:7: deployment.monitoring.success_criteria.latency_p95_threshold: "
		"warning: checked against the mean response time");
	assert_has("11:3: deployment.traffic_routing: warning: not used by ospec");
	/* patterns-8: a canary block for Flagger, without the strategy */
	assert_int_equal(example("patterns-8.yaml", NULL), OSP_OK);
	assert_string_equal(plan.strategy, "");
	assert_int_equal(plan.analysis_threshold, 10);
	assert_has("6:3: metadata.canary: warning: used only with --strategy canary");
	assert_has("13:9: metadata.canary.metrics[2]: warning: metric error_rate is ignored");
	/* example-ml-pipeline: traffic_routing: canary lives in deployment.environments */
	assert_int_equal(example("example-ml-pipeline.yaml", "production"), OSP_OK);
	assert_string_equal(plan.strategy, "");
	assert_int_equal(plan.canary_step, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_ospec_doc_canary_configuration),
		T(test_ospec_doc_canary_flagger),
		T(test_ospec_doc_canary_metadata),
		T(test_ospec_doc_canary_bad_values),
		T(test_ospec_doc_canary_other_strategy),
		T(test_ospec_doc_canary_precedence),
		T(test_ospec_doc_canary_gate_ports),
		T(test_ospec_doc_canary_examples),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
