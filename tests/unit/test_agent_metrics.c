/*
 * test_agent_metrics.c - the agent's /metrics page (node-agent/agent_metrics.c):
 * the app gauges from an apps report, label values escaped, the counters
 * bumped where the work happens (a real fetch of the sample release, a real
 * health check of a closed port, commands) and shown as counters and a
 * cumulative histogram; the page's size cap; the `metrics` address check.
 * The live page (a real agent, curl, promtool) is tests/unit/metrics_live.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent_health.h"
#include "agent_metrics.h"
#include "agent_release.h"
#include "test_support.h"

/* tm_render renders v into a fresh page (the caller frees with osp_buf_fini). */
static void tm_render(const agent_metrics_view *v, osp_buf *page)
{
	osp_buf_init(page, AGENT_METRICS_MAX);
	assert_int_equal(agent_metrics_render(v, page), OSP_OK);
	assert_non_null(page->data);
}

/* tm_value returns the value of the sample "series" (name and labels as
 * written), failing the test when the page lacks it. */
static double tm_value(const osp_buf *page, const char *series)
{
	size_t n = strlen(series);
	const char *p = page->data;

	while ((p = strstr(p, series)) != NULL) {
		if ((p == page->data || p[-1] == '\n') && p[n] == ' ')
			return strtod(p + n + 1, NULL);
		p += n;
	}
	fail_msg("no sample '%s' in:\n%s", series, page->data);
	return -1;
}

/* tm_absent checks that no line of page starts with prefix. */
static void tm_absent(const osp_buf *page, const char *prefix)
{
	const char *p = page->data;
	size_t n = strlen(prefix);

	for (; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, prefix, n) == 0)
			fail_msg("unexpected line '%.80s'", p);
}

/* tm_well_formed checks each family has # HELP then # TYPE before its
 * samples, and each sample is "name[{labels}] number". */
static void tm_well_formed(const osp_buf *page)
{
	char typed[64][96];
	size_t ntyped = 0;
	const char *l = page->data;

	while (l != NULL && *l != '\0') {
		const char *nl = strchr(l, '\n');
		char line[600], name[96];
		size_t len;

		assert_non_null(nl); /* every line ends with \n */
		len = (size_t)(nl - l);
		assert_true(len < sizeof(line));
		memcpy(line, l, len);
		line[len] = '\0';
		if (sscanf(line, "# TYPE %95s", name) == 1) {
			assert_true(ntyped < 64);
			snprintf(typed[ntyped++], sizeof(typed[0]), "%s", name);
		} else if (strncmp(line, "# HELP ", 7) != 0) {
			size_t k = strcspn(line, "{ ");
			bool found = false;
			char *end;

			assert_true(line[0] != '#' && k > 0 && k < sizeof(name));
			memcpy(name, line, k);
			name[k] = '\0';
			for (size_t i = 0; i < ntyped && !found; i++) {
				size_t tl = strlen(typed[i]);
				/* a histogram's samples: NAME_bucket, NAME_sum, NAME_count */
				found = strcmp(name, typed[i]) == 0 ||
					(strncmp(name, typed[i], tl) == 0 &&
						(strcmp(name + tl, "_bucket") == 0 ||
							strcmp(name + tl, "_sum") == 0 ||
							strcmp(name + tl, "_count") == 0));
			}
			if (!found)
				fail_msg("sample of an untyped family: '%s'", line);
			(void)strtod(strrchr(line, ' ') + 1, &end);
			assert_true(*end == '\0');
		}
		l = nl + 1;
	}
}

static void tm_app(Ospec__V1__AppState *st, const char *app, const char *slot,
	const char *version, bool running, bool healthy)
{
	ospec__v1__app_state__init(st);
	st->app = (char *)app;
	st->active_slot = (char *)slot;
	st->version = (char *)version;
	st->has_running = st->has_healthy = 1;
	st->running = running;
	st->healthy = healthy;
}

static void test_agent_metrics_apps(void **state)
{
	Ospec__V1__AppState st[4];
	Ospec__V1__AppState *apps[4] = { &st[0], &st[1], &st[2], &st[3] };
	agent_metrics_view v = { .node = "web-1", .registered = true, .apps = apps, .napps = 4 };
	osp_buf page;

	(void)state;
	tm_app(&st[0], "api", "main", "1.4.2", true, true);
	tm_app(&st[1], "shop", "green", "2.0 \"rc\\1\"\nx", true, false);
	tm_app(&st[2], "batch", "blue", "7", false, false);
	tm_app(&st[3], "envonly", "", NULL, false, false); /* configured, never deployed */
	tm_render(&v, &page);
	tm_well_formed(&page);
	assert_true(strstr(page.data, "\nospec_agent_info{version=\"" OSPEC_VERSION
					"\",node=\"web-1\"} 1\n") != NULL);
	assert_int_equal(tm_value(&page, "ospec_agent_registered"), 1);
	assert_int_equal(tm_value(&page, "ospec_agent_apps{state=\"running\"}"), 2);
	assert_int_equal(tm_value(&page, "ospec_agent_apps{state=\"stopped\"}"), 1);
	assert_int_equal(tm_value(&page, "ospec_agent_app_up{app=\"api\",slot=\"main\"}"), 1);
	assert_int_equal(tm_value(&page, "ospec_agent_app_healthy{app=\"api\",slot=\"main\"}"), 1);
	assert_int_equal(tm_value(&page, "ospec_agent_app_up{app=\"shop\",slot=\"green\"}"), 1);
	assert_int_equal(tm_value(&page, "ospec_agent_app_healthy{app=\"shop\",slot=\"green\"}"), 0);
	assert_int_equal(tm_value(&page, "ospec_agent_app_up{app=\"batch\",slot=\"blue\"}"), 0);
	assert_int_equal(tm_value(&page,
		"ospec_agent_app_info{app=\"api\",slot=\"main\",version=\"1.4.2\"}"), 1);
	/* quotes, backslashes and newlines escaped: the line stays one line */
	assert_int_equal(tm_value(&page,
		"ospec_agent_app_info{app=\"shop\",slot=\"green\",version=\"2.0 \\\"rc\\\\1\\\"\\nx\"}"), 1);
	tm_absent(&page, "ospec_agent_app_up{app=\"envonly\"");
	osp_buf_fini(&page);

	/* no apps, not registered, no node id */
	memset(&v, 0, sizeof(v));
	tm_render(&v, &page);
	tm_well_formed(&page);
	assert_true(strstr(page.data, "\nospec_agent_info{version=\"" OSPEC_VERSION "\"} 1\n"));
	assert_int_equal(tm_value(&page, "ospec_agent_registered"), 0);
	assert_int_equal(tm_value(&page, "ospec_agent_apps{state=\"running\"}"), 0);
	tm_absent(&page, "ospec_agent_app_up{");
	osp_buf_fini(&page);
}

static void test_agent_metrics_counters(void **state)
{
	agent_metrics_view v = { 0 };
	osp_buf a, b;

	(void)state;
	tm_render(&v, &a);
	agent_metrics_fetch(AGENT_METRICS_FETCH_OK, 1000, 0.3);
	agent_metrics_fetch(AGENT_METRICS_FETCH_FAILED, 24, 700); /* past the last bucket */
	agent_metrics_fetch(AGENT_METRICS_FETCH_CACHED, 5, 9);    /* neither bytes nor time */
	agent_metrics_health(true);
	agent_metrics_health(true);
	agent_metrics_health(false);
	agent_metrics_command(11, 0); /* stage ok */
	agent_metrics_command(11, 1); /* stage failed */
	agent_metrics_command(15, 4); /* decision vote_yes */
	agent_metrics_command(99, 42);
	tm_render(&v, &b);
	tm_well_formed(&b);
#define DELTA(s) (tm_value(&b, s) - tm_value(&a, s))
	assert_int_equal(DELTA("ospec_agent_fetches_total{result=\"ok\"}"), 1);
	assert_int_equal(DELTA("ospec_agent_fetches_total{result=\"failed\"}"), 1);
	assert_int_equal(DELTA("ospec_agent_fetches_total{result=\"cached\"}"), 1);
	assert_int_equal(DELTA("ospec_agent_fetch_bytes_total"), 1024);
	assert_int_equal(DELTA("ospec_agent_fetch_duration_seconds_bucket{le=\"0.1\"}"), 0);
	assert_int_equal(DELTA("ospec_agent_fetch_duration_seconds_bucket{le=\"0.5\"}"), 1);
	assert_int_equal(DELTA("ospec_agent_fetch_duration_seconds_bucket{le=\"600\"}"), 1);
	assert_int_equal(DELTA("ospec_agent_fetch_duration_seconds_bucket{le=\"+Inf\"}"), 2);
	assert_int_equal(DELTA("ospec_agent_fetch_duration_seconds_count"), 2);
	assert_true(DELTA("ospec_agent_fetch_duration_seconds_sum") > 700.29 &&
		DELTA("ospec_agent_fetch_duration_seconds_sum") < 700.31);
	assert_int_equal(DELTA("ospec_agent_health_checks_total{result=\"ok\"}"), 2);
	assert_int_equal(DELTA("ospec_agent_health_checks_total{result=\"failed\"}"), 1);
#undef DELTA
	/* command series appear at their first command */
	assert_int_equal(tm_value(&b, "ospec_agent_commands_total{kind=\"stage\",result=\"ok\"}"), 1);
	assert_int_equal(tm_value(&b,
		"ospec_agent_commands_total{kind=\"stage\",result=\"failed\"}"), 1);
	assert_int_equal(tm_value(&b,
		"ospec_agent_commands_total{kind=\"decision\",result=\"vote_yes\"}"), 1);
	assert_int_equal(tm_value(&b,
		"ospec_agent_commands_total{kind=\"unknown\",result=\"unknown\"}"), 1);
	tm_absent(&b, "ospec_agent_commands_total{kind=\"noop\"");
	osp_buf_fini(&a);
	osp_buf_fini(&b);
}

/* The counters are bumped by the code that does the work: a real fetch of
 * the sample release (then a cache hit) and a health check nobody answers. */
static void test_agent_metrics_counted_where_it_happens(void **state)
{
	agent_metrics_view v = { 0 };
	char dir[64], url[1024], sha[TS_SHA256_LEN + 1], err[512];
	osp_buf a, b;
	unsigned port = ts_free_port();

	(void)state;
	ts_hello_artifact(1, url, sizeof(url), sha, sizeof(sha));
	ts_mkdtemp(dir, sizeof(dir), "/tmp/ospec-tam-XXXXXX");
	tm_render(&v, &a);
	assert_int_equal(agent_release_fetch(dir, url, sha, err, sizeof(err)), OSP_OK);
	assert_int_equal(agent_release_fetch(dir, url, sha, err, sizeof(err)), OSP_OK);
	snprintf(err, sizeof(err), "http://127.0.0.1:%u/health", port);
	assert_int_not_equal(agent_health_check_once(err, 500, NULL, NULL, 0), OSP_OK);
	tm_render(&v, &b);
#define DELTA(s) (tm_value(&b, s) - tm_value(&a, s))
	assert_int_equal(DELTA("ospec_agent_fetches_total{result=\"ok\"}"), 1);
	assert_int_equal(DELTA("ospec_agent_fetches_total{result=\"cached\"}"), 1);
	assert_true(DELTA("ospec_agent_fetch_bytes_total") > 100); /* the tarball's size */
	assert_int_equal(DELTA("ospec_agent_fetch_duration_seconds_count"), 1);
	assert_int_equal(DELTA("ospec_agent_health_checks_total{result=\"failed\"}"), 1);
#undef DELTA
	osp_buf_fini(&a);
	osp_buf_fini(&b);
	ts_rmtree(dir);
}

static void test_agent_metrics_too_big(void **state)
{
	agent_metrics_view v = { 0 };
	osp_buf page;

	(void)state;
	osp_buf_init(&page, 256);
	assert_int_equal(agent_metrics_render(&v, &page), OSP_ETOOBIG);
	osp_buf_fini(&page);
}

static void test_agent_metrics_addr(void **state)
{
	(void)state;
	assert_true(agent_metrics_addr_ok("127.0.0.1:9465"));
	assert_true(agent_metrics_addr_ok("0.0.0.0:9465"));
	assert_true(agent_metrics_addr_ok("[::1]:9465"));
	assert_true(agent_metrics_addr_ok("localhost:1"));
	assert_false(agent_metrics_addr_ok(NULL));
	assert_false(agent_metrics_addr_ok(""));
	assert_false(agent_metrics_addr_ok("9465"));
	assert_false(agent_metrics_addr_ok(":9465"));
	assert_false(agent_metrics_addr_ok("127.0.0.1:0"));
	assert_false(agent_metrics_addr_ok("127.0.0.1:65536"));
	assert_false(agent_metrics_addr_ok("127.0.0.1:"));
	assert_false(agent_metrics_addr_ok("127.0.0.1:94x5"));
	assert_false(agent_metrics_addr_ok("http://127.0.0.1:9465"));
	assert_false(agent_metrics_addr_ok("host name:9465"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agent_metrics_apps),
		cmocka_unit_test(test_agent_metrics_counters),
		cmocka_unit_test(test_agent_metrics_counted_where_it_happens),
		cmocka_unit_test(test_agent_metrics_too_big),
		cmocka_unit_test(test_agent_metrics_addr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
