/* test_coord_plans.c - plans in the coordinator over a real store
 * (coordinator/coord_plans.c, coord_ctl_plans.c): a stage whose rollout ends
 * as it is created, an abort that ends the stage at once, an id too long,
 * and a plan left behind its stage that moves on at start. Each case left a
 * plan `running` forever (its app locked) before the fix. */
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
#include "coord_engine_hooks.h"
#include "coord_plans.h"
#include "coord_active.h"
#include "test_support.h"
#include "test_support_coord.h"

#define TP_CAP (16u * 1024 * 1024)
#define TP_SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define TP_BASE "app", "hello", "version", "1", "artifact", "file:///tmp/x.tgz", "sha256", \
	TP_SHA, "run", "bin/hello", "port", "8080", "watch", "0"

typedef int (*tp_verb)(coord *, coord_ctl_req *, osp_buf *, char *, size_t);

static coord_node *tp_node(ts_coord_fx *f, const char *id, const char *region)
{
	coord_node *n = coord_node_add(&f->c, id, "00000000-0000-4000-8000-000000000001");

	assert_non_null(n);
	n->state = COORD_NODE_UP;
	assert_int_equal(osp_labels_set(&n->labels, "region", region), OSP_OK);
	return n;
}

/* tp_run runs verb with "key", "value", ..., NULL in a write transaction,
 * committed (and the after-commit hook run) when it answers 0. */
static int tp_run(ts_coord_fx *f, tp_verb v, const char *verb, char *err, size_t errlen, ...)
{
	ts_ctl_rq r;
	const char *k;
	osp_buf json;
	va_list ap;
	int st;

	ts_ctl_rq_make(&r, verb, NULL);
	va_start(ap, errlen);
	while ((k = va_arg(ap, const char *)) != NULL)
		ts_ctl_rq_add(&r, k, va_arg(ap, const char *));
	va_end(ap);
	assert_int_equal(osp_store_txn_begin(f->c.store, true, &r.rq.txn), OSP_OK);
	osp_buf_init(&json, TP_CAP);
	err[0] = '\0';
	st = v(&f->c, &r.rq, &json, err, errlen);
	osp_buf_fini(&json);
	if (st == 0) {
		assert_int_equal(osp_store_txn_commit(r.rq.txn), OSP_OK);
		if (r.rq.after_commit)
			r.rq.after_commit(&f->c, &r.rq);
	} else {
		osp_store_txn_abort(r.rq.txn);
		if (r.rq.on_abort != NULL)
			r.rq.on_abort(&f->c, &r.rq);
	}
	return st;
}

/* tp_plan_state returns plan id's state and its stage i's state. */
static coord_ro_state tp_plan_state(ts_coord_fx *f, const char *id, size_t i,
	coord_ro_state *stage)
{
	osp_txn *t = NULL;
	Ospec__V1__PlanRecord *p = NULL;
	coord_ro_state st;

	assert_int_equal(osp_store_txn_begin(f->c.store, false, &t), OSP_OK);
	assert_int_equal(coord_plans_get(t, id, &p), OSP_OK);
	st = (coord_ro_state)p->state;
	if (stage != NULL)
		*stage = (coord_ro_state)p->stages[i]->state;
	ospec__v1__plan_record__free_unpacked(p, NULL);
	osp_store_txn_abort(t);
	return st;
}

/* A gated stage whose only node is cordoned before approve: its rollout
 * ends as it is created; the plan must end with it, the app free again. */
static void test_plans_stage_ends_at_creation(void **state)
{
	ts_coord_fx *f = *state;
	coord_node *a1 = tp_node(f, "a1", "a");
	char err[512];
	coord_ro_state stage;

	assert_int_equal(tp_run(f, coord_verb_apply, "apply", err, sizeof(err), TP_BASE, "stages",
		"[{\"name\":\"a\",\"select\":\"region=a\",\"gate\":true}]", NULL), 0);
	assert_int_equal(tp_plan_state(f, "hello-1", 0, &stage), COORD_RO_WAITING_APPROVAL);
	a1->cordoned = true;
	assert_int_equal(tp_run(f, coord_verb_approve, "approve", err, sizeof(err), "rollout",
		"hello-1", NULL), 0);
	assert_true(coord_ro_terminal(tp_plan_state(f, "hello-1", 0, &stage)));
	assert_true(coord_ro_terminal(stage));
	assert_null(coord_active_of_app(&f->c, "hello"));
	/* the app is free: a new plan is accepted */
	a1->cordoned = false;
	assert_int_equal(tp_run(f, coord_verb_apply, "apply", err, sizeof(err), TP_BASE, "stages",
		"[{\"name\":\"a\",\"select\":\"region=a\"}]", NULL), 0);
}

/* A paused stage with nothing in flight: abort ends its rollout at once,
 * inside the plan's own change; the plan must end aborted. */
static void test_plans_abort_ends_stage_at_once(void **state)
{
	ts_coord_fx *f = *state;
	coord_node *a1 = tp_node(f, "a1", "a");
	coord_ro_entry *e;
	Ospec__V1__CommandResult r;
	char err[512];
	coord_ro_state stage;

	tp_node(f, "a2", "a");
	assert_int_equal(tp_run(f, coord_verb_apply, "apply", err, sizeof(err), TP_BASE, "stages",
		"[{\"name\":\"a\",\"select\":\"region=a\"}]", NULL), 0);
	assert_int_equal(tp_run(f, coord_verb_pause, "pause", err, sizeof(err), "rollout",
		"hello-1", NULL), 0);
	e = coord_active_find(&f->c, "hello-1.a");
	assert_non_null(e);
	ospec__v1__command_result__init(&r);
	r.app = "hello";
	for (size_t i = 0; i < e->ro.nsteps; i++)
		if (strcmp(e->ro.steps[i].node, "a1") == 0)
			r.seq = e->ro.steps[i].seq;
	r.status = OSPEC__V1__RESULT_STATUS__RESULT_OK;
	r.version = "1";
	r.sha256 = TP_SHA;
	assert_int_equal(coord_engine_on_result(&f->c, a1, &r), OSP_OK);
	assert_int_equal(tp_run(f, coord_verb_abort, "abort", err, sizeof(err), "rollout",
		"hello-1", NULL), 0);
	assert_int_equal(tp_plan_state(f, "hello-1", 0, &stage), COORD_RO_ABORTED);
	assert_int_equal(stage, COORD_RO_ABORTED);
	assert_null(coord_active_of_app(&f->c, "hello"));
}

/* A stage rollout id (<app>-<n>.<stage>) must fit 63 characters. */
static void test_plans_id_too_long(void **state)
{
	ts_coord_fx *f = *state;
	char err[512];

	tp_node(f, "a1", "a");
	assert_int_equal(tp_run(f, coord_verb_apply, "apply", err, sizeof(err), "app",
		"applicationapplicationapplication1", "version", "1", "artifact",
		"file:///tmp/x.tgz", "sha256", TP_SHA, "run", "bin/hello", "port", "8080",
		"watch", "0", "stages",
		"[{\"name\":\"stagestagestagestagestagestage\",\"select\":\"region=a\"}]", NULL), 2);
	assert_non_null(strstr(err, "63 characters"));
}

/* A stage selector that, joined with the plan's, would not fit is refused:
 * cut short it would select other nodes. */
static void test_plans_select_too_long(void **state)
{
	ts_coord_fx *f = *state;
	char err[512], stages[1400];
	int o;

	tp_node(f, "a1", "a");
	o = snprintf(stages, sizeof(stages), "[{\"name\":\"a\",\"select\":\"region=a");
	for (int i = 0; i < 40; i++)
		o += snprintf(stages + o, sizeof(stages) - (size_t)o, ",k%02d=vvvvvvvvvv", i);
	snprintf(stages + o, sizeof(stages) - (size_t)o, "\"}]");
	assert_int_equal(tp_run(f, coord_verb_apply, "apply", err, sizeof(err), TP_BASE, "stages",
		stages, NULL), 2);
	assert_non_null(strstr(err, "at most"));
}

/* A plan stored behind its stage (the stage's rollout ended, the plan still
 * says running) moves on at start. */
static void test_plans_resume_moves_on(void **state)
{
	ts_coord_fx *f = *state;
	coord_node *a1 = tp_node(f, "a1", "a");
	Ospec__V1__CommandResult r;
	coord_ro_entry *e;
	const void *v;
	void *snap;
	size_t vl;
	osp_txn *t = NULL;
	char err[512];

	assert_int_equal(tp_run(f, coord_verb_apply, "apply", err, sizeof(err), TP_BASE, "stages",
		"[{\"name\":\"a\",\"select\":\"region=a\"}]", NULL), 0);
	/* the plan as stored while its stage runs */
	assert_int_equal(osp_store_txn_begin(f->c.store, false, &t), OSP_OK);
	assert_int_equal(osp_store_get(t, "plans", "hello-1", 7, &v, &vl), OSP_OK);
	snap = malloc(vl);
	assert_non_null(snap);
	memcpy(snap, v, vl);
	osp_store_txn_abort(t);
	e = coord_active_find(&f->c, "hello-1.a");
	assert_non_null(e);
	ospec__v1__command_result__init(&r);
	r.app = "hello";
	r.seq = e->ro.steps[0].seq;
	r.status = OSPEC__V1__RESULT_STATUS__RESULT_OK;
	r.version = "1";
	r.sha256 = TP_SHA;
	assert_int_equal(coord_engine_on_result(&f->c, a1, &r), OSP_OK);
	assert_int_equal(tp_plan_state(f, "hello-1", 0, NULL), COORD_RO_SUCCEEDED);
	/* put the old plan back: running, its stage's rollout succeeded */
	assert_int_equal(osp_store_txn_begin(f->c.store, true, &t), OSP_OK);
	assert_int_equal(osp_store_put(t, "plans", "hello-1", 7, snap, vl), OSP_OK);
	assert_int_equal(osp_store_txn_commit(t), OSP_OK);
	free(snap);
	assert_int_equal(tp_plan_state(f, "hello-1", 0, NULL), COORD_RO_RUNNING);
	assert_int_equal(coord_plans_resume(&f->c), OSP_OK);
	assert_int_equal(tp_plan_state(f, "hello-1", 0, NULL), COORD_RO_SUCCEEDED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_plans_stage_ends_at_creation, ts_coord_setup,
			ts_coord_teardown),
		cmocka_unit_test_setup_teardown(test_plans_abort_ends_stage_at_once, ts_coord_setup,
			ts_coord_teardown),
		cmocka_unit_test_setup_teardown(test_plans_id_too_long, ts_coord_setup,
			ts_coord_teardown),
		cmocka_unit_test_setup_teardown(test_plans_select_too_long, ts_coord_setup,
			ts_coord_teardown),
		cmocka_unit_test_setup_teardown(test_plans_resume_moves_on, ts_coord_setup,
			ts_coord_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
