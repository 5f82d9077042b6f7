/*
 * test_coord_record.c - the rollout record's field map
 * (coord_record.c): every field of the engine's rollout, of its steps
 * and of its canary goes into the store and comes back as it was, and the
 * record that comes back is what status shows. A field whose row is missing
 * from the map comes back zero and fails test_coord_record_roundtrip.
 * The owner's other records: switch decisions and request replies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "coord.h"
#include "coord_control.h"
#include "coord_active.h"
#include "test_support.h"
#include "test_support_coord.h"

#define TS_NSTEPS 2

/* ts_step fills every field of step s with a value of its own (k: which
 * step). */
static void ts_step(coord_ro_step *s, unsigned k)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->node, sizeof(s->node), "web-%u", k);
	s->state = COORD_STEP_SWITCHING;
	s->batch = 3 + k;
	s->seq = 1000 + k;
	s->cmd = COORD_RO_CMD_PREPARE;
	s->started_ms = 1700000000001LL + k;
	s->finished_ms = 1700000000002LL + k;
	snprintf(s->reason, sizeof(s->reason), "reason of %u", k);
	snprintf(s->prev_version, sizeof(s->prev_version), "1.%u", k);
	snprintf(s->prev_sha256, sizeof(s->prev_sha256), "%064u", k);
	snprintf(s->version, sizeof(s->version), "2.%u", k);
	snprintf(s->sha256, sizeof(s->sha256), "%064u", k + 7);
	s->void_seq = 2000 + k;
	s->revert_pending = true;
	s->stopped = true;
	osp_strlcpy(s->slot, "green", sizeof(s->slot));
	osp_strlcpy(s->old_slot, "blue", sizeof(s->old_slot));
	osp_strlcpy(s->to_slot, k ? "blue" : "green", sizeof(s->to_slot));
	s->vote = COORD_RO_VOTE_NO;
	s->in_switch = true;
	s->decide_commit = true;
	s->acked_ms = 1700000000003LL + k;
	s->healthy_seen = true;
	s->stage_generation = 3000 + k;
	s->base = (coord_ro_stats){ .requests = 10 + k, .errors = 1 + k, .rtime_ms = 5 + k,
		.has_rtime = true, .proxy_start = 1600000000000LL + k };
	s->last = (coord_ro_stats){ .requests = 20 + k, .errors = 2 + k, .rtime_ms = 6 + k,
		.has_rtime = true, .proxy_start = 1600000000001LL + k };
	s->has_base = true;
	s->fresh = true;
}

/* ts_canary fills every field of a canary (ext: the record has a query). */
static void ts_canary(coord_ro_canary *c)
{
	c->initial = 5;
	c->step = 10;
	c->max = 50;
	c->interval_ms = 60001;
	c->threshold = 3;
	c->min_success_x100 = 9900;
	c->max_rtime_ms = 250;
	c->min_requests = 77;
	c->weight = 15;
	c->step_no = 2;
	c->step_until_ms = 1700000000100LL;
	c->failed_checks = 1;
	c->analyses = 4;
	c->an_ms = 1700000000200LL;
	c->an_requests = 500;
	c->an_errors = 3;
	c->an_rtime_ms = 42;
	c->an_has_rtime = true;
	c->an_passed = true;
	c->an_nodes = 2;
	osp_strlcpy(c->an_note, "p99 fine", sizeof(c->an_note));
	c->ext = true;
	c->ext_state = COORD_RO_EXT_PASSED;
	osp_strlcpy(c->ext_note, "0.998", sizeof(c->ext_note));
}

/* ts_rollout fills every field of the engine's rollout ro (steps: its own). */
static void ts_rollout(coord_rollout *ro, coord_ro_step *steps)
{
	memset(ro, 0, sizeof(*ro));
	osp_strlcpy(ro->id, "hello-7", sizeof(ro->id));
	osp_strlcpy(ro->app, "hello", sizeof(ro->app));
	osp_strlcpy(ro->version, "2.0", sizeof(ro->version));
	snprintf(ro->sha256, sizeof(ro->sha256), "%064d", 9);
	ro->strategy = COORD_RO_CANARY;
	ro->batch = 25;
	ro->batch_pct = true;
	ro->max_failures = 10;
	ro->max_failures_pct = true;
	ro->progress_deadline_ms = 600001;
	ro->state = COORD_RO_PAUSED;
	ro->paused = true;
	ro->abort_requested = true;
	ro->current_batch = 1;
	ro->phase = COORD_CN_BAKE;
	osp_strlcpy(ro->switch_id, "hello-7-s1", sizeof(ro->switch_id));
	ro->switch_no = 1;
	ro->decision = COORD_RO_DECISION_COMMIT;
	ro->prepare_deadline_ms = 30001;
	ro->prepare_started_ms = 1700000000300LL;
	ro->rollback_window_ms = 300001;
	ro->switch_gate = true;
	ro->switch_approved = true;
	ro->auto_rollback = false; /* the record's default is true: false must come back */
	ro->ending = COORD_RO_ROLLED_BACK;
	ro->watch_until_ms = 1700000000400LL;
	ro->verify_until_ms = 1700000000500LL;
	ro->scale_down_delay_ms = 600002;
	ro->scale_down_at_ms = 1700000000600LL;
	ro->scale_down_sent = true;
	ro->first_ack_ms = 1700000000700LL;
	ro->last_ack_ms = 1700000000710LL;
	ts_canary(&ro->canary);
	ro->started_ms = 1700000000800LL;
	ro->finished_ms = 1700000000900LL;
	osp_strlcpy(ro->reason, "paused by uid:0", sizeof(ro->reason));
	for (unsigned k = 0; k < TS_NSTEPS; k++)
		ts_step(&steps[k], k);
	ro->nsteps = TS_NSTEPS;
	ro->steps = steps;
}

/* ts_same fails at the first byte where a and b differ, naming its offset
 * (offsetof in the struct tells the field). */
static void ts_same(const char *what, const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			fail_msg("%s: byte %zu differs after the round trip (a field without its row "
				"in the map?)", what, i);
}

/* The record of a rollout: its own strings (key and release) and the
 * canary's query, which the engine does not hold. */
static Ospec__V1__RolloutRecord *ts_record(const coord_rollout *ro)
{
	Ospec__V1__RolloutRecord *r = calloc(1, sizeof(*r));
	Ospec__V1__CanaryRecord *cn = calloc(1, sizeof(*cn));

	assert_non_null(r);
	assert_non_null(cn);
	ospec__v1__rollout_record__init(r);
	ospec__v1__canary_record__init(cn);
	r->id = strdup(ro->id);
	r->app = strdup(ro->app);
	r->version = strdup(ro->version);
	r->sha256 = strdup(ro->sha256);
	cn->analysis_url = strdup("http://prom:9090");
	cn->analysis_query = strdup("up");
	r->canary = cn;
	return r;
}

/* Engine -> store -> engine: every field comes back; then status shows it. */
static void test_coord_record_roundtrip(void **state)
{
	ts_coord_fx *f = *state;
	coord_ro_step steps[TS_NSTEPS];
	coord_ro_entry e = { 0 }, back = { 0 };
	coord_rollout want;
	osp_txn *t = NULL;
	osp_buf out = { 0 };
	osp_json *j = NULL;
	const osp_json *cn, *nodes, *n0;
	osp_jw w;
	char err[128];

	ts_rollout(&e.ro, steps);
	e.rec = ts_record(&e.ro);
	assert_int_equal(osp_store_txn_begin(f->c.store, true, &t), OSP_OK);
	assert_int_equal(coord_ro_save(&f->c, t, &e), OSP_OK);
	assert_int_equal(osp_store_txn_commit(t), OSP_OK);

	assert_int_equal(osp_store_txn_begin(f->c.store, false, &t), OSP_OK);
	assert_int_equal(coord_rollout_get(&f->c, t, "hello-7", &back.rec), OSP_OK);
	osp_store_txn_abort(t);
	assert_int_equal(coord_ro_from_rec(&back), OSP_OK);
	assert_int_equal(back.ro.nsteps, TS_NSTEPS);
	for (size_t i = 0; i < TS_NSTEPS; i++)
		ts_same("coord_ro_step", &steps[i], &back.ro.steps[i], sizeof(steps[i]));
	ts_same("coord_ro_canary", &e.ro.canary, &back.ro.canary, sizeof(e.ro.canary));
	memcpy(&want, &e.ro, sizeof(want));
	want.steps = back.ro.steps;
	ts_same("coord_rollout", &want, &back.ro, sizeof(want));

	/* what status shows of it (coord_ctl_json.c reads the record) */
	osp_buf_init(&out, 0);
	osp_jw_init(&w, &out);
	coord_json_rollout(NULL, &w, back.rec, true);
	assert_int_equal(osp_jw_err(&w), OSP_OK);
	assert_int_equal(osp_json_parse(out.data, out.len, &j, err, sizeof(err)), OSP_OK);
	assert_string_equal(osp_json_get_str(j, "id"), "hello-7");
	assert_string_equal(osp_json_get_str(j, "state"), "paused");
	assert_string_equal(osp_json_get_str(j, "strategy"), "canary");
	assert_string_equal(osp_json_get_str(j, "phase"), coord_ro_phase_name(COORD_RO_CANARY,
		COORD_RO_PAUSED, COORD_CN_BAKE));
	assert_string_equal(osp_json_get_str(j, "reason"), "paused by uid:0");
	assert_string_equal(osp_json_get_str(j, "batch_size"), "25%");
	assert_string_equal(osp_json_get_str(j, "max_failures"), "10%");
	assert_int_equal(osp_json_get_int(j, "watch_ms", 0), 300001);
	assert_int_equal(osp_json_get_int(j, "current_batch", 0), 2);
	assert_false(osp_json_get(j, "auto_rollback")->b);
	assert_true(osp_json_get(j, "paused")->b);
	assert_non_null(cn = osp_json_get(j, "canary"));
	assert_int_equal(osp_json_get_int(cn, "weight", 0), 15);
	assert_int_equal(osp_json_get_int(cn, "step", 0), 2);
	assert_int_equal(osp_json_get_int(cn, "initial", 0), 5);
	assert_int_equal(osp_json_get_int(cn, "step_weight", 0), 10);
	assert_int_equal(osp_json_get_int(cn, "max_weight", 0), 50);
	assert_int_equal(osp_json_get_int(cn, "interval_ms", 0), 60001);
	assert_int_equal(osp_json_get_int(cn, "threshold", 0), 3);
	assert_int_equal(osp_json_get_int(cn, "failed_checks", 0), 1);
	assert_int_equal(osp_json_get_int(cn, "analyses", 0), 4);
	assert_string_equal(osp_json_get_str(cn, "min_success_rate"), "99.00");
	assert_int_equal(osp_json_get_int(cn, "max_latency_ms", 0), 250);
	assert_int_equal(osp_json_get_int(cn, "min_requests", 0), 77);
	assert_string_equal(osp_json_get_str(osp_json_get(cn, "metrics_query"), "last"), "0.998");
	assert_int_equal(osp_json_get_int(osp_json_get(cn, "last_analysis"), "requests", 0), 500);
	assert_int_equal(osp_json_get_int(osp_json_get(cn, "last_analysis"), "latency_ms", 0),
		42);
	assert_string_equal(osp_json_get_str(osp_json_get(cn, "last_analysis"), "note"),
		"p99 fine");
	assert_non_null(nodes = osp_json_get(j, "nodes"));
	assert_int_equal(nodes->n, TS_NSTEPS);
	n0 = nodes->items[1];
	assert_string_equal(osp_json_get_str(n0, "node"), "web-1");
	assert_string_equal(osp_json_get_str(n0, "step"), "switching");
	assert_int_equal(osp_json_get_int(n0, "batch", 0), 5);
	assert_string_equal(osp_json_get_str(n0, "version"), "2.1");
	assert_string_equal(osp_json_get_str(n0, "previous_version"), "1.1");
	assert_string_equal(osp_json_get_str(n0, "reason"), "reason of 1");
	assert_string_equal(osp_json_get_str(n0, "slot"), "green");
	assert_string_equal(osp_json_get_str(n0, "old_slot"), "blue");
	assert_non_null(osp_json_get_str(n0, "acked"));

	osp_json_free(j);
	osp_buf_fini(&out);
	free(back.ro.steps);
	ospec__v1__rollout_record__free_unpacked(back.rec, NULL);
	coord_ro_stored_fini(&e);
	ospec__v1__rollout_record__free_unpacked(e.rec, NULL);
}

/* A record without the fields added later reads as their defaults. */
static void test_coord_record_absent(void **state)
{
	coord_ro_entry e = { 0 };
	Ospec__V1__RolloutRecord r;

	(void)state;
	ospec__v1__rollout_record__init(&r);
	r.id = "a-1";
	r.app = "a";
	r.version = "1";
	e.rec = &r;
	assert_int_equal(coord_ro_from_rec(&e), OSP_OK);
	assert_int_equal(e.ro.current_batch, -1);
	assert_int_equal(e.ro.prepare_deadline_ms, COORD_RO_PREPARE_DEADLINE_MS);
	assert_true(e.ro.auto_rollback);
	assert_string_equal(e.ro.sha256, "");
	assert_int_equal(e.ro.nsteps, 0);
}

/* A switch's decision is recorded and read back; none: OSP_ENOENT. */
static void test_coord_record_decision(void **state)
{
	ts_coord_fx *f = *state;
	osp_txn *t = NULL;
	bool commit = false;

	assert_int_equal(osp_store_txn_begin(f->c.store, true, &t), OSP_OK);
	assert_int_equal(coord_ro_rec_decision(t, "a-1-s1", &commit), OSP_ENOENT);
	assert_int_equal(coord_ro_rec_decide(t, "a-1-s1", true), OSP_OK);
	assert_int_equal(coord_ro_rec_decide(t, "a-1-s2", false), OSP_OK);
	assert_int_equal(coord_ro_rec_decision(t, "a-1-s1", &commit), OSP_OK);
	assert_true(commit);
	assert_int_equal(coord_ro_rec_decision(t, "a-1-s2", &commit), OSP_OK);
	assert_false(commit);
	osp_store_txn_abort(t);
}

/* The reply of a mutating request is stored and read back whole (what a
 * repeat of the request id is answered with); an unknown id: OSP_ENOENT. */
static void test_coord_record_request(void **state)
{
	ts_coord_fx *f = *state;
	Ospec__V1__RequestRecord *r = NULL;
	osp_txn *t = NULL;

	assert_int_equal(osp_store_txn_begin(f->c.store, true, &t), OSP_OK);
	assert_int_equal(coord_ro_rec_request_get(t, "rq-1", &r), OSP_ENOENT);
	assert_null(r);
	assert_int_equal(coord_ro_rec_request_put(t, "rq-1", 1, "app 'a' already has rollout",
				 "{\"id\":\"a-1\"}"),
		OSP_OK);
	assert_int_equal(coord_ro_rec_request_get(t, "rq-1", &r), OSP_OK);
	assert_int_equal(r->status, 1);
	assert_string_equal(r->error, "app 'a' already has rollout");
	assert_string_equal(r->json, "{\"id\":\"a-1\"}");
	assert_true(r->ts_ms > 0);
	ospec__v1__request_record__free_unpacked(r, NULL);
	osp_store_txn_abort(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_coord_record_roundtrip, ts_coord_setup,
			ts_coord_teardown),
		cmocka_unit_test(test_coord_record_absent),
		cmocka_unit_test_setup_teardown(test_coord_record_decision, ts_coord_setup,
			ts_coord_teardown),
		cmocka_unit_test_setup_teardown(test_coord_record_request, ts_coord_setup,
			ts_coord_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
