/*
 * it_plans_bg.c - a blue-green OSpec plan through real haproxy processes:
 * two regions, one stage each, every stage with its own two-phase switch;
 * `human_approval_required: [production_traffic_switch]` holds the first
 * switch (every node of the stage staged, traffic untouched) until approve.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "ospec/util.h"

#define PB_NODES 2

static const char *const pb_ids[PB_NODES] = { "eu-1", "us-1" };
static const char *const pb_labels[PB_NODES] = { "region=eu-west", "region=us-east" };

typedef struct pb_fleet {
	h_env *e;
	int front[PB_NODES], blue[PB_NODES], green[PB_NODES];
	char url1[600], sha1[65], url2[600], sha2[65], doc[600];
} pb_fleet;

static int pb_setup(void **state)
{
	pb_fleet *f = calloc(1, sizeof(*f));

	if (f == NULL || (f->e = h_setup("plansbg")) == NULL) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int pb_teardown(void **state)
{
	pb_fleet *f = *state;

	h_teardown(f->e);
	free(f);
	return 0;
}

static bool pb_all_up(h_env *e, void *arg)
{
	(void)arg;
	return h_nodes_up(e) == PB_NODES;
}

static void pb_proxies(pb_fleet *f, char *buf, size_t len)
{
	size_t o = 0;

	for (int i = 0; i < PB_NODES && o < len; i++) {
		char got[32];
		h_app_answer(f->front[i], got, sizeof(got));
		o += (size_t)snprintf(buf + o, len - o, "%s%s=%s", i ? "," : "", pb_ids[i], got);
	}
}

struct pb_want {
	const char *id, *state;
	char last[1024]; /* the state seen last, and the reason when there is one */
	bool reached;    /* the last look saw state */
};

/* pb_state_is: the plan is in w->state, or in a final state it will not
 * leave (the wait ends at once; pb_wait tells the two apart) */
static bool pb_state_is(h_env *e, void *arg)
{
	static const char *const final[] = { "succeeded", "failed", "aborted", "rolled_back" };
	struct pb_want *w = arg;
	osp_json *st = h_status(e, w->id);
	const char *state = st != NULL ? h_str(st, "state") : "?";
	bool ok = strcmp(state, w->state) == 0;

	snprintf(w->last, sizeof(w->last), "%s%s%s", state,
		st != NULL && h_str(st, "reason")[0] ? "; reason: " : "",
		st != NULL ? h_str(st, "reason") : "");
	w->reached = ok;
	for (size_t i = 0; i < sizeof(final) / sizeof(final[0]); i++)
		ok = ok || strcmp(state, final[i]) == 0;
	osp_json_free(st); /* state points into it */
	return ok;
}

/* pb_wait waits up to ms for w->state; false at once on another final state */
static bool pb_wait(pb_fleet *f, struct pb_want *w, int ms)
{
	return h_wait_for(pb_state_is, f->e, w, ms) && w->reached;
}

static void test_plan_bluegreen_switch_gate(void **state)
{
	pb_fleet *f = *state;
	struct pb_want w = { NULL, "waiting_approval", "", false };
	char id[64] = "", *out = NULL, *err = NULL, seen[128], name[16];
	osp_json *st;
	FILE *fp;
	int code;

	assert_non_null(h_coord_start(f->e, "500ms", NULL));
	for (int i = 0; i < PB_NODES; i++) {
		f->front[i] = h_free_port();
		f->blue[i] = h_free_port();
		f->green[i] = h_free_port();
		snprintf(name, sizeof(name), "px%d", i + 1);
		assert_non_null(h_haproxy_start(f->e, name, f->front[i], f->blue[i], f->green[i]));
		assert_non_null(h_agent_start_bg(f->e, pb_ids[i], pb_labels[i], f->blue[i],
			f->green[i], name, NULL));
	}
	if (!h_wait_for(pb_all_up, f->e, NULL, h_ms(20000)))
		fail_msg("the agents did not all come up");
	assert_true(h_artifact(f->e, "1", NULL, f->url1, f->sha1));
	assert_true(h_artifact(f->e, "2", NULL, f->url2, f->sha2));
	snprintf(f->doc, sizeof(f->doc), "%s/ospec.yaml", f->e->dir);
	fp = fopen(f->doc, "w");
	assert_non_null(fp);
	fprintf(fp,
		"name: hello\n"
		"deployment:\n  strategy: blue_green\n"
		"guardrails:\n  human_approval_required: [\"production_traffic_switch\"]\n"
		"fleet:\n"
		"  app: hello\n"
		"  run: \"bin/hello --port {port}\"\n"
		"  ports: {blue: %d, green: %d}\n"
		"  artifact: \"file://%s/art/hello-{version}.tar.gz\"\n"
		"  watch: 0s\n"
		"  stages:\n"
		"    - {name: us, select: {region: us-east}}\n"
		"    - {name: eu, select: {region: eu-west}}\n",
		f->blue[0], f->green[0], f->e->dir);
	fclose(fp);
	/* v1 everywhere, no gate (no environment named) */
	code = h_ctl(f->e, NULL, &err, "apply", "-f", f->doc, "--version", "1", "--sha256", f->sha1,
		"--wait", "--timeout", "180s", NULL);
	if (code != 0)
		fail_msg("apply v1 exited %d: %s", code, err ? err : "");
	free(err);
	err = NULL;
	pb_proxies(f, seen, sizeof(seen));
	assert_string_equal(seen, "eu-1=1,us-1=1");
	/* v2 for production: the first switch waits; an abort there ends the
	 * plan with traffic untouched and the app free */
	code = h_ctl(f->e, &out, &err, "apply", "-f", f->doc, "--env", "production", "--version",
		"2", "--sha256", f->sha2, NULL);
	if (code != 0)
		fail_msg("apply v2 exited %d: %s", code, err ? err : "");
	sscanf(out, "%63s", id);
	free(out);
	free(err);
	w.id = id;
	if (!pb_wait(f, &w, h_ms(60000)))
		fail_msg("plan %s is '%s', expected it to wait at the switch", id, w.last);
	assert_int_equal(h_ctl(f->e, NULL, NULL, "abort", id, NULL), 0);
	w.state = "aborted";
	if (!pb_wait(f, &w, h_ms(30000)))
		fail_msg("plan %s is '%s' after abort at the switch gate", id, w.last);
	pb_proxies(f, seen, sizeof(seen));
	assert_string_equal(seen, "eu-1=1,us-1=1");
	/* again, and this time approved */
	out = err = NULL;
	code = h_ctl(f->e, &out, &err, "apply", "-f", f->doc, "--env", "production", "--version",
		"2", "--sha256", f->sha2, NULL);
	if (code != 0)
		fail_msg("apply v2 after the abort exited %d: %s", code, err ? err : "");
	sscanf(out, "%63s", id);
	free(out);
	free(err);
	w.state = "waiting_approval";
	if (!pb_wait(f, &w, h_ms(60000)))
		fail_msg("plan %s is '%s', expected it to wait at the switch", id, w.last);
	st = h_status(f->e, id);
	assert_string_equal(h_str(st, "waiting_stage"), "us");
	osp_json_free(st);
	pb_proxies(f, seen, sizeof(seen));
	assert_string_equal(seen, "eu-1=1,us-1=1"); /* staged, traffic untouched */
	assert_int_equal(h_ctl(f->e, NULL, NULL, "approve", id, "--stage", "eu", NULL), 1);
	assert_int_equal(h_ctl(f->e, NULL, NULL, "approve", id, NULL), 0);
	w.state = "succeeded";
	if (!pb_wait(f, &w, h_ms(120000)))
		fail_msg("plan %s is '%s', expected succeeded", id, w.last);
	pb_proxies(f, seen, sizeof(seen));
	assert_string_equal(seen, "eu-1=2,us-1=2");
	/* one switch per stage: each stage's rollout has its own */
	{
		char child[96];
		snprintf(child, sizeof(child), "%s.eu", id);
		st = h_status(f->e, child);
		assert_non_null(st);
		assert_int_equal(osp_json_get(st, "switches")->n, 1);
		osp_json_free(st);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_plan_bluegreen_switch_gate, pb_setup,
			pb_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
