/* test_ospec_doc_input.c - the OSpec reader on hostile input (alias bombs,
 * deep nesting, binary, bad UTF-8, huge files, a FIFO, a directory) and on
 * the real OSpec examples (tests/fixtures/ospec-examples); the mapping rules
 * are test_ospec_doc.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ospec/ospec_doc.h"
#include "ospec/util.h"
#include "test_support.h"
#include "test_ospec_doc.h"

/* ---- hostile input ---- */

static void assert_quick(int64_t t0)
{
	assert_true(osp_now_mono_ms() - t0 < 5000);
}

static void test_ospec_doc_hostile_text(void **state)
{
	const char *bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, "
		"*a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
		"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d]\n";
	size_t big = (size_t)20 * 1024 * 1024, n = 200;
	char *buf = malloc(big);
	int64_t t0 = osp_now_mono_ms();

	(void)state;
	assert_non_null(buf);
	assert_int_equal(doc(bomb, NULL), OSP_ECONFIG);
	assert_int_equal(fnd.errors, 1);
	assert_has("4:36: error: aliases expand to more than 10000 nodes");
	memset(buf, '[', n);
	memset(buf + n, ']', n);
	buf[2 * n] = '\0';
	assert_int_equal(doc(buf, NULL), OSP_ECONFIG);
	assert_has("1:65: error: nesting deeper than 64 levels");
	assert_int_equal(doc("fleet: {app: \"\xff\xfe\"}\n", NULL), OSP_ECONFIG);
	assert_has("1:15: error: invalid UTF-8");
	for (size_t i = 0; i < 4096; i++)
		buf[i] = (char)(i * 7 + 1);
	teardown(NULL);
	assert_int_equal(osp_doc_parse("bin", buf, 4096, NULL, &plan, &fnd), OSP_ECONFIG);
	assert_int_equal(fnd.errors, 1);
	memset(buf, 'a', big);
	teardown(NULL);
	assert_int_equal(osp_doc_parse("t.yaml", buf, big, NULL, &plan, &fnd), OSP_ECONFIG);
	assert_has("1:1: error: document is larger than 4194304 bytes");
	free(buf);
	assert_quick(t0);
}

static void test_ospec_doc_hostile_many_keys(void **state)
{
	osp_buf b;
	char *out = NULL;
	size_t outlen = 0;
	FILE *f;

	(void)state;
	osp_buf_init(&b, 0);
	for (int i = 0; i < 50000; i++)
		assert_int_equal(osp_buf_printf(&b, "k%d: 1\n", i), OSP_OK);
	assert_int_equal(doc(b.data, NULL), OSP_OK);
	osp_buf_fini(&b);
	assert_int_equal(fnd.warnings, 50000); /* counted, but only 1000 kept */
	assert_int_equal(fnd.n, 1000);
	f = open_memstream(&out, &outlen);
	assert_non_null(f);
	osp_doc_findings_print(&fnd, f);
	fclose(f);
	assert_non_null(strstr(out, "t.yaml:0:0: warning: 49000 more findings not shown\n"));
	free(out);
}

static void test_ospec_doc_hostile_files(void **state)
{
	char dir[256], path[300];
	int64_t t0 = osp_now_mono_ms();
	FILE *f;

	(void)state;
	ts_mkdtemp(dir, sizeof(dir), "/tmp/test_ospec_doc_XXXXXX");
	snprintf(path, sizeof(path), "%s/fifo.yaml", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	alarm(10); /* a FIFO must not block: SIGALRM fails the test otherwise */
	assert_int_equal(osp_doc_load(path, NULL, &plan, &fnd), OSP_EIO);
	alarm(0);
	assert_has("0:0: error: not a regular file (a FIFO, device or directory is not read)");
	teardown(NULL);
	assert_int_equal(osp_doc_load(dir, NULL, &plan, &fnd), OSP_EIO);
	assert_has("0:0: error: not a regular file");
	teardown(NULL);
	snprintf(path, sizeof(path), "%s/nosuch.yaml", dir);
	assert_int_equal(osp_doc_load(path, NULL, &plan, &fnd), OSP_EIO);
	assert_has("0:0: error: cannot read: no such file");
	assert_string_equal(fnd.file, path);
	teardown(NULL);
	snprintf(path, sizeof(path), "%s/big.yaml", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(ftruncate(fileno(f), 20 * 1024 * 1024), 0);
	fclose(f);
	assert_int_equal(osp_doc_load(path, NULL, &plan, &fnd), OSP_EIO);
	assert_has("0:0: error: file is larger than 4194304 bytes (4 MiB)");
	teardown(NULL);
	ts_rmtree(dir);
	assert_quick(t0);
}

/* ---- the real examples ---- */

static void test_ospec_doc_examples(void **state)
{
	static const char *const invalid[] = { "invalid-cli-tool.yaml", "writing-ospecs-13.yaml",
		"writing-ospecs-14.yaml" };
	static const char *const envs[] = { NULL, "production", "staging" };
	DIR *d = opendir(EXAMPLES);
	struct dirent *e;
	int files = 0;

	(void)state;
	if (d == NULL) /* part of the repository: never looked for elsewhere */
		fail_msg("the OSpec examples fixture %s is missing or unreadable", EXAMPLES);
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		bool bad = false;

		if (n < 6 || strcmp(e->d_name + n - 5, ".yaml") != 0)
			continue;
		for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
			bad = bad || strcmp(e->d_name, invalid[i]) == 0;
		for (size_t k = 0; k < 3; k++) {
			osp_err rv = example(e->d_name, envs[k]);
			if (rv != (bad ? OSP_ECONFIG : OSP_OK)) {
				osp_doc_findings_print(&fnd, stderr);
				fail_msg("%s --env %s: %s", e->d_name, envs[k] ? envs[k] : "-",
					osp_strerror(rv));
			}
			assert_true(fnd.n > 0 || !bad);
			assert_true(rv != OSP_OK || plan.nstages >= 1);
		}
		files++;
	}
	closedir(d);
	assert_int_equal(files, 53);
}

static void test_ospec_doc_example_invalid_located(void **state)
{
	(void)state;
	assert_int_equal(example("invalid-cli-tool.yaml", NULL), OSP_ECONFIG);
	assert_int_equal(fnd.n, 1);
	assert_has("24:11: error: did not find expected '-' indicator (while parsing a block "
		"collection at 23:9)");
	assert_non_null(strstr(fnd.file, "/invalid-cli-tool.yaml"));
}

/* guardrails.deployment: human_approval_required ["production"],
 * rollback_timeout_minutes 5, health_check_retries 3 */
static void test_ospec_doc_example_deployment(void **state)
{
	(void)state;
	assert_int_equal(example("deployment.yaml", "production"), OSP_OK);
	assert_int_equal(plan.watch_ms, 5 * 60 * 1000);
	assert_int_equal(plan.health_fall, 3);
	assert_string_equal(plan.health_path, "/health");
	assert_true(plan.stages[0].approval);
	assert_string_equal(plan.stages[0].approval_why,
		"guardrails.deployment.human_approval_required: production");
	assert_int_equal(plan.nsecrets, 3);
	assert_string_equal(plan.secrets[2], "JWT_SECRET");
	assert_string_equal(note("guardrails.deployment.rollback_timeout_minutes"), "--watch 5m");
	assert_string_equal(note("guardrails.deployment.health_check_retries"), "--health-fall 3");
	assert_string_equal(note("guardrails.deployment.human_approval_required"),
		"gate before stage all (tag production)");
	assert_int_equal(example("deployment.yaml", "staging"), OSP_OK);
	assert_false(plan.stages[0].approval);
	assert_int_equal(plan.watch_ms, 5 * 60 * 1000);
	assert_int_equal(example("deployment.yaml", NULL), OSP_OK);
	assert_false(plan.stages[0].approval);
	assert_has("16:5: guardrails.deployment.human_approval_required: warning: no gate "
		"without --env: production");
}

static void test_ospec_doc_example_blue_green(void **state)
{
	(void)state;
	assert_int_equal(example("deployment-5.yaml", NULL), OSP_OK);
	assert_string_equal(plan.strategy, "blue_green");
	assert_int_equal(plan.watch_ms, 300000);
	assert_int_equal(plan.nsmoke, 0);
	assert_int_equal(example("patterns-7.yaml", "production"), OSP_OK);
	assert_true(plan.stages[0].approval);
	assert_false(plan.switch_approval);
	assert_int_equal(example("deployment-6.yaml", "production"), OSP_OK);
	assert_true(plan.stages[0].approval);
	assert_string_equal(plan.stages[0].approval_why,
		"environments.production.guardrails.human_approval_required: true");
	assert_int_equal(example("deployment-6.yaml", "staging"), OSP_OK);
	assert_false(plan.stages[0].approval);
	assert_int_equal(example("deployment-6.yaml", "qa"), OSP_ECONFIG);
}

static void test_ospec_doc_example_multi_region(void **state)
{
	static const char *const want[] = { "us-east-1", "us-west-2", "eu-west-1",
		"ap-southeast-1" };
	char sel[64];

	(void)state;
	assert_int_equal(example("deployment-strategies-6.yaml", NULL), OSP_OK);
	assert_int_equal(plan.nstages, 4);
	for (size_t i = 0; i < 4; i++) {
		snprintf(sel, sizeof(sel), "region=%s", want[i]);
		assert_string_equal(plan.stages[i].name, want[i]);
		assert_string_equal(plan.stages[i].select, sel);
	}
	assert_has("7:3: multi_region.deployment_order: warning: not acted on (names no region): "
		"deploy_to_staging_all_regions, validate_staging_deployment");
}

static void test_ospec_doc_example_api_service(void **state)
{
	(void)state;
	assert_int_equal(example("example-api-service.yaml", "production"), OSP_OK);
	assert_int_equal(plan.nsmoke, 2);
	assert_string_equal(plan.smoke[0].path, "/health");
	assert_string_equal(plan.smoke[1].path, "/metrics");
	assert_int_equal(plan.nsecrets, 4);
	assert_true(plan.stages[0].approval);
	assert_string_equal(plan.stages[0].approval_why,
		"guardrails.human_approval_required: production_deploy");
	assert_int_equal(example("example-ml-pipeline.yaml", "production"), OSP_OK);
	assert_string_equal(plan.stages[0].approval_why,
		"guardrails.human_approval_required: production_deployment");
}

static void test_ospec_doc_findings_print(void **state)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_int_equal(doc("fleet:\n  port: x\nstack: {a: 1}\n", NULL), OSP_ECONFIG);
	f = open_memstream(&out, &len);
	assert_non_null(f);
	osp_doc_findings_print(&fnd, f);
	fclose(f);
	assert_string_equal(out, "t.yaml:2:9: fleet.port: error: expected an integer in 1..65535, "
		"got \"x\"\nt.yaml:3:1: stack: warning: not used by ospec\n");
	free(out);
	assert_int_equal(fnd.errors, 1);
	assert_int_equal(fnd.warnings, 1);
	/* a key with a newline is shown escaped: one finding, one line */
	assert_ok("\"a\\nb\": 1\n", NULL);
	assert_string_equal(fnd.v[0].path, "a\\nb");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_ospec_doc_hostile_text),
		T(test_ospec_doc_hostile_many_keys),
		T(test_ospec_doc_hostile_files),
		T(test_ospec_doc_examples),
		T(test_ospec_doc_example_invalid_located),
		T(test_ospec_doc_example_deployment),
		T(test_ospec_doc_example_blue_green),
		T(test_ospec_doc_example_multi_region),
		T(test_ospec_doc_example_api_service),
		T(test_ospec_doc_findings_print),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
