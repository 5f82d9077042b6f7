/*
 * it_bluegreen_safety.c - issue 9 for blue-green through real haproxy
 * processes (one per node, in front of the app's blue and green slots):
 * back-to-back deploys (the agent picks the idle slot), abort / rollback /
 * a queued deploy during the verify window, --wait=switch, and the
 * scale-down outcome in the history.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "ospec/util.h"

#define BS_NODES 3
/* a deploy that ends when its switch is done: no verify window */
#define BS_NO_WATCH "--watch", "0"
#define BS_DEPLOY(f, a, id, err, ...)                                                      \
	h_deploy((f)->e, (a)->v, (a)->url, (a)->sha, (id), (err), "--strategy", "blue_green", \
		"--ports", (f)->ports_arg, "--batch", "100%", __VA_ARGS__, NULL)

static const char *const bs_ids[BS_NODES] = { "n1", "n2", "n3" };

typedef struct bs_fleet {
	h_env *e;
	int front[BS_NODES], blue[BS_NODES], green[BS_NODES];
	char ports_arg[64];
} bs_fleet;

static int bs_setup(void **state)
{
	return h_fixture_setup(state, sizeof(bs_fleet), "bgsafety");
}

/* bs_start_hb: a coordinator telling agents to beat every heartbeat, and
 * per node a haproxy and an agent. */
static void bs_start_hb(bs_fleet *f, const char *heartbeat)
{
	char name[16];

	assert_non_null(h_coord_start(f->e, heartbeat, NULL));
	for (int i = 0; i < BS_NODES; i++) {
		f->front[i] = h_free_port();
		f->blue[i] = h_free_port();
		f->green[i] = h_free_port();
		snprintf(name, sizeof(name), "px%d", i + 1);
		assert_non_null(h_haproxy_start(f->e, name, f->front[i], f->blue[i], f->green[i]));
		assert_non_null(h_agent_start_bg(f->e, bs_ids[i], "role=web", f->blue[i],
			f->green[i], name, NULL));
	}
	snprintf(f->ports_arg, sizeof(f->ports_arg), "blue=%d,green=%d", f->blue[0],
		f->green[0]);
	if (!h_wait_nodes_up(f->e, BS_NODES, h_ms(20000)))
		fail_msg("%d agents did not all come up", BS_NODES);
}

static void bs_start(bs_fleet *f)
{
	bs_start_hb(f, "500ms");
}

/* bs_expect_proxies waits up to ms for every node's haproxy frontend (its
 * active slot) to answer version. */
static void bs_expect_proxies(bs_fleet *f, const char *version, int ms, const char *when)
{
	h_answers w = { f->front, BS_NODES, version };
	char seen[256], got[64];
	size_t off = 0;

	if (h_wait_for(h_answers_are, f->e, &w, ms))
		return;
	for (int i = 0; i < BS_NODES && off < sizeof(seen); i++) {
		h_app_answer(f->front[i], got, sizeof(got));
		off += (size_t)snprintf(seen + off, sizeof(seen) - off, "%s%s='%s'", i ? ", " : "",
			bs_ids[i], got);
	}
	fail_msg("%s: every proxy should answer '%s'; they answer: %s", when, version, seen);
}

struct bs_commit {
	const char *id;
	char last[512];
};

/* bs_is_committed: running, with a committed switch to the new slots. */
static bool bs_is_committed(h_env *e, void *arg)
{
	struct bs_commit *c = arg;
	osp_json *st = h_status(e, c->id);
	const osp_json *sw = osp_json_get(st, "switches");
	bool ok = false;

	snprintf(c->last, sizeof(c->last), "state '%s', %zu switches, reason: %s",
		h_str(st, "state"), sw != NULL ? sw->n : 0, h_str(st, "reason"));
	for (size_t i = 0; sw != NULL && i < sw->n; i++)
		ok = ok || (strcmp(h_str(sw->items[i], "to"), "new") == 0 &&
				   strcmp(h_str(sw->items[i], "decision"), "commit") == 0);
	ok = ok && strcmp(h_str(st, "state"), "running") == 0;
	osp_json_free(st);
	return ok;
}

/* bs_verifying deploys a with a verify window of window and returns when
 * its switch committed and every proxy answers it (window still open). */
static void bs_verifying(bs_fleet *f, const h_art *a, char *id, const char *window)
{
	struct bs_commit c = { id, "" };
	char *err = NULL;

	h_expect_exit(BS_DEPLOY(f, a, id, &err, "--watch", window), 0, "deploy", &err);
	if (!h_wait_for(bs_is_committed, f->e, &c, h_ms(60000)))
		fail_msg("rollout %s: no committed switch while running (%s)", id, c.last);
	bs_expect_proxies(f, a->v, h_ms(10000), "after the commit");
}

/* bs_deploy_ok deploys a with no verify window and waits for it. */
static void bs_deploy_ok(bs_fleet *f, const h_art *a, char *id)
{
	char *err = NULL, what[64];

	snprintf(what, sizeof(what), "deploy %s", a->v);
	h_expect_exit(BS_DEPLOY(f, a, id, &err, "--wait", BS_NO_WATCH), 0, what, &err);
	h_expect_end(f->e, id, "succeeded", h_ms(5000));
	bs_expect_proxies(f, a->v, h_ms(5000), what);
}

/* Ten deploys in a row, no pause: each one stages into whatever slot is idle
 * on each node at that moment. */
static void test_bs_ten_back_to_back(void **state)
{
	bs_fleet *f = *state;
	h_art a[11];
	char id[64], v[8];

	/* the default heartbeat: the inventory lags each node's slots by seconds */
	bs_start_hb(f, "5s");
	for (int i = 1; i <= 10; i++) {
		snprintf(v, sizeof(v), "%d", i);
		h_art_make(f->e, &a[i], v, NULL);
	}
	for (int i = 1; i <= 10; i++)
		bs_deploy_ok(f, &a[i], id);
}

static void test_bs_abort_during_verify(void **state)
{
	bs_fleet *f = *state;
	h_art v1, v2;
	char id[64], *err = NULL;

	bs_start(f);
	h_art_make(f->e, &v1, "1", NULL);
	h_art_make(f->e, &v2, "2", NULL);
	bs_deploy_ok(f, &v1, id);
	bs_verifying(f, &v2, id, "60s");
	h_expect_exit(h_ctl(f->e, NULL, &err, "abort", id, NULL), 0, "abort during verify", &err);
	h_expect_end(f->e, id, "aborted", h_ms(30000));
	bs_expect_proxies(f, "1", h_ms(5000), "after abort");
}

static void test_bs_rollback_during_verify(void **state)
{
	bs_fleet *f = *state;
	h_art v1, v2;
	char id[64], first[64] = "", *out = NULL, *err = NULL;

	bs_start(f);
	h_art_make(f->e, &v1, "1", NULL);
	h_art_make(f->e, &v2, "2", NULL);
	bs_deploy_ok(f, &v1, id);
	bs_verifying(f, &v2, id, "60s");
	h_expect_exit(h_ctl(f->e, &out, &err, "rollback", id, NULL), 0,
		"rollback during verify", &err);
	sscanf(out, "%63s", first);
	if (strcmp(first, id) != 0)
		fail_msg("rollback during verify printed '%s' first, expected the rollout's id %s",
			first, id);
	free(out);
	h_expect_end(f->e, id, "rolled_back", h_ms(30000));
	bs_expect_proxies(f, "1", h_ms(5000), "after rollback");
}

/* A deploy queued during the verify window waits for it, then runs. */
static void test_bs_queue_during_verify(void **state)
{
	bs_fleet *f = *state;
	h_art v1, v2, v3;
	char id[64], q[64], *err = NULL;
	osp_json *r, *s;

	bs_start(f);
	h_art_make(f->e, &v1, "1", NULL);
	h_art_make(f->e, &v2, "2", NULL);
	h_art_make(f->e, &v3, "3", NULL);
	bs_deploy_ok(f, &v1, id);
	bs_verifying(f, &v2, id, "30s");
	h_expect_exit(BS_DEPLOY(f, &v3, q, &err, "--queue", BS_NO_WATCH), 0,
		"deploy --queue during verify", &err);
	s = h_status(f->e, q);
	assert_non_null(s);
	if (strcmp(h_str(s, "state"), "pending") != 0)
		fail_msg("queued rollout %s is '%s' while %s verifies, expected 'pending'", q,
			h_str(s, "state"), id);
	osp_json_free(s);
	h_expect_end(f->e, q, "succeeded", h_ms(120000));
	bs_expect_proxies(f, "3", h_ms(5000), "after the queued deploy");
	r = h_status(f->e, id);
	s = h_status(f->e, q);
	assert_non_null(r);
	assert_non_null(s);
	if (strcmp(h_str(r, "state"), "succeeded") != 0)
		fail_msg("rollout %s ended '%s', expected 'succeeded'", id, h_str(r, "state"));
	/* RFC 3339 UTC strings compare as times */
	if (strcmp(h_str(s, "started"), h_str(r, "finished")) < 0)
		fail_msg("queued %s started at %s, before %s finished at %s", q,
			h_str(s, "started"), id, h_str(r, "finished"));
	osp_json_free(r);
	osp_json_free(s);
}

/* --wait=switch returns at the commit, with the verify window still open. */
static void test_bs_wait_switch_returns_at_commit(void **state)
{
	bs_fleet *f = *state;
	h_art v1, v2;
	char id[64], *err = NULL;
	osp_json *st;

	bs_start(f);
	h_art_make(f->e, &v1, "1", NULL);
	h_art_make(f->e, &v2, "2", NULL);
	bs_deploy_ok(f, &v1, id);
	h_expect_exit(BS_DEPLOY(f, &v2, id, &err, "--watch", "60s", "--wait=switch", "--timeout",
			       "50s"),
		0, "deploy 2 --watch 60s --wait=switch", &err);
	st = h_status(f->e, id);
	assert_non_null(st);
	if (strcmp(h_str(st, "state"), "running") != 0)
		fail_msg("--wait=switch returned with %s '%s'; expected it running (verify window "
			 "of 60 s still open)", id, h_str(st, "state"));
	osp_json_free(st);
	bs_expect_proxies(f, "2", h_ms(5000), "after --wait=switch returned");
}

struct bs_scaled {
	const char *id;
	char missing[128];
};

/* bs_all_scaled_down: history has scale_down.done of rollout id for every
 * node. */
static bool bs_all_scaled_down(h_env *e, void *arg)
{
	struct bs_scaled *w = arg;
	osp_json *h = h_ctl_json(e, NULL, "history", "--rollout", w->id, NULL);
	const osp_json *ev = osp_json_get(h, "events");
	size_t off = 0;

	w->missing[0] = '\0';
	for (int i = 0; i < BS_NODES; i++) {
		bool found = false;
		for (size_t k = 0; ev != NULL && k < ev->n && !found; k++)
			found = strcmp(h_str(ev->items[k], "kind"), "scale_down.done") == 0 &&
				strcmp(h_str(ev->items[k], "node"), bs_ids[i]) == 0 &&
				strcmp(h_str(ev->items[k], "rollout"), w->id) == 0;
		if (!found && off < sizeof(w->missing))
			off += (size_t)snprintf(w->missing + off, sizeof(w->missing) - off, " %s",
				bs_ids[i]);
	}
	osp_json_free(h);
	return w->missing[0] == '\0';
}

/* The old slots are scaled down after the delay and the history says so,
 * node by node, although the rollout itself ended before. */
static void test_bs_scale_down_recorded(void **state)
{
	bs_fleet *f = *state;
	h_art v1, v2;
	char id[64], *err = NULL;
	struct bs_scaled w = { NULL, "" };

	bs_start(f);
	h_art_make(f->e, &v1, "1", NULL);
	h_art_make(f->e, &v2, "2", NULL);
	bs_deploy_ok(f, &v1, id);
	h_expect_exit(BS_DEPLOY(f, &v2, id, &err, "--watch", "1s", "--scale-down-delay", "3s",
			       "--wait"),
		0, "deploy 2 --watch 1s --scale-down-delay 3s", &err);
	w.id = id;
	if (!h_wait_for(bs_all_scaled_down, f->e, &w, h_ms(20000)))
		fail_msg("history of %s: no scale_down.done for%s within 20 s", id, w.missing);
	bs_expect_proxies(f, "2", h_ms(5000), "after scale-down");
}

#define BS_TEST(fn) cmocka_unit_test_setup_teardown(fn, bs_setup, h_fixture_teardown)

/* main [PATTERN]: runs the tests whose names match PATTERN ("*" wildcards),
 * or all of them. */
int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		BS_TEST(test_bs_ten_back_to_back),
		BS_TEST(test_bs_abort_during_verify),
		BS_TEST(test_bs_rollback_during_verify),
		BS_TEST(test_bs_queue_during_verify),
		BS_TEST(test_bs_wait_switch_returns_at_commit),
		BS_TEST(test_bs_scale_down_recorded),
	};

	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
