/*
 * test_agent_traffic_haproxy_canary.c - the haproxy driver's canary
 * operations against a real haproxy (the shared fixture of
 * test_support_haproxy.h: backend hello, hello_blue answering "1" active,
 * hello_green answering "2" disabled): weight() and its read-back, weight 0
 * as a plain commit, a commit after a canary restoring the configured
 * weights, and stats() following real requests and 5xx answers (the sample
 * app's FAIL_PCT marker, also checked on its own).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent_traffic.h"
#include "ospec/util.h"
#include "test_support.h"
#include "test_support_haproxy.h"

/* One server's line of `show servers state`, straight from the socket. */
typedef struct srvst {
	int op, admin, uweight, iweight;
} srvst;

static void state_of(const ts_hx *t, const char *name, srvst *s)
{
	char reply[8192], *p, *nl;

	memset(s, 0, sizeof(*s));
	s->op = -1;
	assert_true(ts_hx_admin(t, "show servers state hello", reply, sizeof(reply)) > 0);
	for (p = reply; p != NULL && *p != '\0'; p = nl != NULL ? nl + 1 : NULL) {
		char n[64];
		srvst v;
		nl = strchr(p, '\n');
		if (nl != NULL)
			*nl = '\0';
		if (sscanf(p, "%*d hello %*d %63s %*s %d %d %d %d", n, &v.op, &v.admin, &v.uweight,
			    &v.iweight) == 5 &&
			strcmp(n, name) == 0)
			*s = v;
	}
	assert_int_not_equal(s->op, -1);
}

/* count_answers sends n requests through the frontend, each on a new
 * connection, and counts the bodies: "1", "2", anything else. */
static void count_answers(const ts_hx *t, int n, int c[3])
{
	char body[256];

	c[0] = c[1] = c[2] = 0;
	for (int i = 0; i < n; i++) {
		bool ok = ts_http_get(t->fe_port, body, sizeof(body));
		c[!ok ? 2 : strcmp(body, "1") == 0 ? 0 : strcmp(body, "2") == 0 ? 1 : 2]++;
	}
}

static void weight_ok(agent_traffic *tr, const char *active, const char *canary, unsigned w)
{
	char err[512];

	if (agent_traffic_weight(tr, active, canary, w, err, sizeof(err)) != OSP_OK)
		fail_msg("weight %u to %s: %s", w, canary, err);
}

static void stats_ok(agent_traffic *tr, const char *slot, agent_traffic_slot_stats *st)
{
	char err[512];

	if (agent_traffic_stats(tr, slot, st, err, sizeof(err)) != OSP_OK)
		fail_msg("stats %s: %s", slot, err);
}

static void test_agent_traffic_haproxy_canary_weight_10(void **state)
{
	ts_hx *t = *state;
	agent_traffic *tr = ts_hx_open(&t->cfg);
	char before[256], after[256];
	srvst b, g;
	int c[3];

	weight_ok(tr, "blue", "green", 10);
	state_of(t, "hello_blue", &b);
	state_of(t, "hello_green", &g);
	assert_int_equal(b.uweight, 90);
	assert_int_equal(g.uweight, 10);
	assert_int_equal(g.admin & 0x29, 0); /* neither forced maint nor drain */
	assert_int_equal(b.admin & 0x29, 0);
	assert_int_equal(g.op, 2);
	ts_hx_assert_current(tr, ""); /* both serve */
	count_answers(t, 100, c);
	assert_int_equal(c[2], 0);
	assert_in_range(c[1], 5, 20); /* weighted round robin: about 10 of 100 */
	assert_int_equal(c[0] + c[1], 100);
	/* idempotent: the same weight again changes nothing */
	ts_hx_states(t, before, sizeof(before));
	weight_ok(tr, "blue", "green", 10);
	ts_hx_states(t, after, sizeof(after));
	assert_string_equal(before, after);
	state_of(t, "hello_green", &g);
	assert_int_equal(g.uweight, 10);
	/* all of it to the canary */
	weight_ok(tr, "blue", "green", 100);
	state_of(t, "hello_blue", &b);
	assert_int_equal(b.uweight, 0);
	count_answers(t, 20, c);
	assert_int_equal(c[1], 20);
	agent_traffic_close(tr);
}

static void test_agent_traffic_haproxy_canary_weight_0_is_commit(void **state)
{
	ts_hx *t = *state;
	agent_traffic *tr = ts_hx_open(&t->cfg);
	char plain[256], after[256];
	srvst b0, g0, b, g;
	int c[3];

	ts_hx_commit(tr, "blue");
	ts_hx_states(t, plain, sizeof(plain));
	state_of(t, "hello_blue", &b0);
	state_of(t, "hello_green", &g0);
	weight_ok(tr, "blue", "green", 30);
	state_of(t, "hello_green", &g);
	assert_int_equal(g.uweight, 30);
	weight_ok(tr, "blue", "green", 0);
	ts_hx_states(t, after, sizeof(after));
	assert_string_equal(plain, after);
	state_of(t, "hello_blue", &b);
	state_of(t, "hello_green", &g);
	assert_memory_equal(&b, &b0, sizeof(b));
	assert_memory_equal(&g, &g0, sizeof(g));
	assert_int_equal(b.uweight, b.iweight);
	ts_hx_assert_current(tr, "blue");
	count_answers(t, 20, c);
	assert_int_equal(c[0], 20);
	agent_traffic_close(tr);
}

static void test_agent_traffic_haproxy_canary_commit_restores_weights(void **state)
{
	ts_hx *t = *state;
	agent_traffic *tr = ts_hx_open(&t->cfg);
	char err[256];
	srvst b, g;

	weight_ok(tr, "blue", "green", 50);
	ts_hx_commit(tr, "green"); /* the promotion */
	state_of(t, "hello_blue", &b);
	state_of(t, "hello_green", &g);
	assert_int_equal(g.uweight, g.iweight);
	assert_int_equal(b.uweight, b.iweight);
	assert_int_equal(g.iweight, 1); /* haproxy's default: no odd weight left */
	assert_true((b.admin & 0x01) != 0);
	ts_hx_assert_current(tr, "green");
	ts_hx_assert_version(t, "2");
	/* the arguments are checked before the driver sees them */
	assert_int_equal(agent_traffic_weight(tr, "green", "green", 10, err, sizeof(err)),
		OSP_EINVAL);
	assert_int_equal(agent_traffic_weight(tr, "green", "blue", 101, err, sizeof(err)),
		OSP_EINVAL);
	assert_int_equal(agent_traffic_weight(tr, "green", "purple", 10, err, sizeof(err)),
		OSP_EINVAL);
	assert_int_equal(agent_traffic_stats(tr, "main", &(agent_traffic_slot_stats){ 0 }, err,
				 sizeof(err)),
		OSP_EINVAL);
	agent_traffic_close(tr);
}

static void write_fail_pct(const ts_hx *t, const char *pct)
{
	char path[256];

	ts_hx_path(path, sizeof(path), t, "FAIL_PCT");
	assert_int_equal(osp_file_write_atomic(path, pct, strlen(pct), 0644), OSP_OK);
}

static void test_agent_traffic_haproxy_canary_stats(void **state)
{
	ts_hx *t = *state;
	agent_traffic *tr = ts_hx_open(&t->cfg);
	agent_traffic_slot_stats g0, g1, g2, b1;
	int c[3];

	stats_ok(tr, "green", &g0);
	assert_true(g0.proxy_start > 0);
	weight_ok(tr, "blue", "green", 50);
	count_answers(t, 40, c);
	assert_int_equal(c[2], 0);
	assert_true(c[1] >= 10);
	stats_ok(tr, "green", &g1);
	stats_ok(tr, "blue", &b1);
	assert_int_equal(g1.requests - g0.requests, (uint64_t)c[1]);
	assert_int_equal(g1.errors, g0.errors);
	assert_true(b1.requests >= (uint64_t)c[0]);
	assert_int_equal(g1.weight, 50);
	assert_true(g1.has_rtime);
	assert_true(g1.proxy_start == g0.proxy_start);
	/* both apps read their markers from the fixture's dir: all of / fails */
	write_fail_pct(t, "100");
	count_answers(t, 40, c);
	stats_ok(tr, "green", &g2);
	assert_true(g2.requests - g1.requests >= 10);
	assert_int_equal(g2.errors - g1.errors, g2.requests - g1.requests);
	assert_int_equal(c[0] + c[1], 0);
	agent_traffic_close(tr);
}

static void test_agent_traffic_haproxy_canary_hello_fail_pct(void **state)
{
	ts_hx *t = *state;
	char body[256];
	int fails = 0, last = -1;

	write_fail_pct(t, "10");
	for (int i = 0; i < 100; i++) {
		assert_true(ts_http_get(t->port[1], body, sizeof(body)));
		if (strcmp(body, "failing on purpose") != 0)
			continue;
		/* evenly spread: one in every ten, never a burst */
		if (last >= 0)
			assert_int_equal(i - last, 10);
		last = i;
		fails++;
	}
	assert_int_equal(fails, 10);
	/* /health is not affected: haproxy has no checks here, so ask directly */
	write_fail_pct(t, "100");
	assert_true(ts_http_get(t->port[0], body, sizeof(body)));
	assert_string_equal(body, "failing on purpose");
	write_fail_pct(t, "0");
	assert_true(ts_http_get(t->port[0], body, sizeof(body)));
	assert_string_equal(body, "1");
}

static void test_agent_traffic_haproxy_canary_rolling_config(void **state)
{
	ts_hx *t = *state;
	agent_proxy_cfg cfg = t->cfg;
	agent_traffic *tr;
	agent_traffic_slot_stats st;
	char err[512];

	cfg.server_blue = cfg.server_green = NULL;
	cfg.server = "hello_blue"; /* a rolling app: no slots to weight */
	tr = ts_hx_open(&cfg);
	assert_int_equal(agent_traffic_weight(tr, "blue", "green", 10, err, sizeof(err)),
		OSP_ECONFIG);
	ts_assert_has(err, "proxy.servers");
	assert_int_equal(agent_traffic_stats(tr, "green", &st, err, sizeof(err)), OSP_ECONFIG);
	agent_traffic_close(tr);
}

int main(void)
{
#define HX(name) cmocka_unit_test_setup_teardown(name, ts_hx_setup, ts_hx_teardown)
	const struct CMUnitTest tests[] = {
		HX(test_agent_traffic_haproxy_canary_weight_10),
		HX(test_agent_traffic_haproxy_canary_weight_0_is_commit),
		HX(test_agent_traffic_haproxy_canary_commit_restores_weights),
		HX(test_agent_traffic_haproxy_canary_stats),
		HX(test_agent_traffic_haproxy_canary_hello_fail_pct),
		HX(test_agent_traffic_haproxy_canary_rolling_config),
	};
#undef HX

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
