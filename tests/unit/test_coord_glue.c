/*
 * test_coord_glue.c - the coordinator's glue around the rollout engine on
 * the in-memory store (ts_coord_fx_init_mem): a deploy through the control
 * verb (coord_ctl_rollouts.c), results through coord_engine_on_result
 * (coord_engine.c) and deadlines through coord_engine_tick, a register's
 * presumed abort (coord_engine_on_register), records saved and loaded
 * (coord_active*.c, coord_db.c), and a commit the store refuses (osp_store_mem_fail_next_commit): the
 * rollout and the nodes' log ends reload, so memory equals the store again,
 * and the next try succeeds. One test runs the same on LMDB, and checks the
 * database list the memory fixture uses against the one coord_db_open makes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <lmdb.h>

#include "coord.h"
#include "coord_control.h"
#include "coord_engine_hooks.h"
#include "coord_active.h"
#include "ospec/json.h"
#include "ospec/log.h"
#include "test_support.h"
#include "test_support_coord.h"

#define GLUE_SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static coord_node *glue_node(ts_coord_fx *f, const char *id)
{
	coord_node *n = coord_node_add(&f->c, id, "00000000-0000-4000-8000-000000000001");

	assert_non_null(n);
	n->state = COORD_NODE_UP;
	return n;
}

/* glue_run runs r's verb through the control path (coord_control_exec),
 * the next commit failing with fail unless it is OSP_OK. Returns the
 * verb's final status; json is the reply. */
static int glue_run(ts_coord_fx *f, ts_ctl_rq *r, osp_err fail, osp_buf *json, char *err,
	size_t errlen)
{
	if (fail != OSP_OK)
		assert_int_equal(osp_store_mem_fail_next_commit(f->c.store, fail), OSP_OK);
	return coord_control_exec(&f->c, &r->rq, json, err, errlen);
}

/* glue_deploy deploys hello 2 to every up node, one node per batch; the
 * rollout's id goes to id. */
static coord_ro_entry *glue_deploy(ts_coord_fx *f, char *id, size_t idlen)
{
	ts_ctl_rq r;
	osp_buf json;
	char err[512] = "";
	int st;

	ts_ctl_rq_make(&r, "deploy", "app", "hello", "version", "2", "artifact",
		"file:///tmp/x.tgz", "sha256", GLUE_SHA, "run", "bin/hello", "port", "8080",
		"watch", "0", "batch", "1", "max-failures", "5", NULL);
	osp_buf_init(&json, 1 << 20);
	st = glue_run(f, &r, OSP_OK, &json, err, sizeof(err));
	osp_buf_fini(&json);
	if (st != 0)
		fail_msg("deploy: %d %s", st, err);
	assert_non_null(f->c.rollouts);
	osp_strlcpy(id, f->c.rollouts->ro.id, idlen);
	return f->c.rollouts;
}

/* glue_step returns the step of node in e. */
static coord_ro_step *glue_step(coord_ro_entry *e, const char *node)
{
	for (size_t i = 0; i < e->ro.nsteps; i++)
		if (strcmp(e->ro.steps[i].node, node) == 0)
			return &e->ro.steps[i];
	fail_msg("no step of node '%s'", node);
	return NULL;
}

/* glue_answer answers node's outstanding stage with OK. */
static osp_err glue_answer(ts_coord_fx *f, coord_ro_entry *e, const char *node)
{
	Ospec__V1__CommandResult r;
	coord_ro_step *st = glue_step(e, node);

	assert_int_equal(st->cmd, COORD_RO_CMD_STAGE);
	ospec__v1__command_result__init(&r);
	r.app = "hello";
	r.seq = st->seq;
	r.status = OSPEC__V1__RESULT_STATUS__RESULT_OK;
	r.message = "";
	r.version = "2";
	r.sha256 = GLUE_SHA;
	r.has_kind = 1;
	r.kind = OSPEC__V1__COMMAND__KIND_STAGE;
	return coord_engine_on_result(&f->c, coord_node_find(&f->c, node), &r);
}

/* glue_same asserts that the active rollout id in memory is what the store
 * holds: its state, and each step's node, state, outstanding command and
 * sequence. Returns the entry. */
static coord_ro_entry *glue_same(ts_coord_fx *f, const char *id)
{
	coord_ro_entry *e = coord_active_find(&f->c, id);
	Ospec__V1__RolloutRecord *r = NULL;
	osp_txn *t = NULL;

	assert_non_null(e);
	assert_int_equal(osp_store_txn_begin(f->c.store, false, &t), OSP_OK);
	assert_int_equal(coord_rollout_get(&f->c, t, id, &r), OSP_OK);
	osp_store_txn_abort(t);
	assert_int_equal(r->state, e->ro.state);
	assert_int_equal(r->n_steps, e->ro.nsteps);
	for (size_t i = 0; i < r->n_steps; i++) {
		const coord_ro_step *s = &e->ro.steps[i];

		assert_string_equal(r->steps[i]->node, s->node);
		assert_int_equal(r->steps[i]->state, s->state);
		assert_int_equal(r->steps[i]->cmd, s->cmd);
		assert_int_equal(r->steps[i]->seq, s->seq);
	}
	ospec__v1__rollout_record__free_unpacked(r, NULL);
	return e;
}

/* A deploy and a result on the memory store: saved, and loaded back into a
 * fresh active set as it was. */
static void test_coord_glue_deploy_result(void **state)
{
	ts_coord_fx *f = *state;
	coord_ro_entry *e;
	char id[64];

	glue_node(f, "n1");
	glue_node(f, "n2");
	e = glue_deploy(f, id, sizeof(id));
	assert_int_equal(e->ro.state, COORD_RO_RUNNING);
	e = glue_same(f, id);
	assert_int_equal(glue_answer(f, e, "n1"), OSP_OK);
	e = glue_same(f, id);
	assert_int_equal(glue_step(e, "n1")->state, COORD_STEP_DONE);
	assert_int_equal(glue_step(e, "n2")->cmd, COORD_RO_CMD_STAGE); /* next batch */

	/* what a restart reads */
	coord_active_free(&f->c);
	assert_null(coord_active_find(&f->c, id));
	assert_int_equal(coord_active_load(&f->c), OSP_OK);
	e = glue_same(f, id);
	assert_int_equal(glue_step(e, "n1")->state, COORD_STEP_DONE);
}

/* A result whose commit fails: coord_engine_on_result reports it, the
 * rollout reloads from the store (the step is staged again, not done) and
 * the node's log end is what was committed; the agent's re-sent result then
 * goes through. */
static void test_coord_glue_result_commit_fails(void **state)
{
	ts_coord_fx *f = *state;
	coord_node *n2;
	coord_ro_entry *e;
	uint64_t seq, log_end;
	char id[64];

	glue_node(f, "n1");
	n2 = glue_node(f, "n2");
	e = glue_deploy(f, id, sizeof(id));
	seq = glue_step(e, "n1")->seq;
	log_end = n2->log_end;

	assert_int_equal(osp_store_mem_fail_next_commit(f->c.store, OSP_ESTORE), OSP_OK);
	assert_int_equal(glue_answer(f, e, "n1"), OSP_ESTORE);
	e = glue_same(f, id); /* a new entry: the old one was freed by the reload */
	assert_int_equal(glue_step(e, "n1")->cmd, COORD_RO_CMD_STAGE);
	assert_int_equal(glue_step(e, "n1")->seq, seq);
	assert_int_not_equal(glue_step(e, "n1")->state, COORD_STEP_DONE);
	assert_int_equal(glue_step(e, "n2")->seq, 0); /* n2's stage was never sent */
	assert_int_equal(n2->log_end, log_end);

	assert_int_equal(glue_answer(f, e, "n1"), OSP_OK);
	e = glue_same(f, id);
	assert_int_equal(glue_step(e, "n1")->state, COORD_STEP_DONE);
	assert_true(n2->log_end > log_end);
}

/* `ospecctl pause` whose commit fails answers 1 and leaves the rollout
 * running in memory as in the store (the reload hook); a second pause is
 * saved, and `status` (a read verb) shows it paused. */
static void test_coord_glue_ctl_pause(void **state)
{
	ts_coord_fx *f = *state;
	ts_ctl_rq r;
	osp_buf json;
	osp_json *doc = NULL;
	char err[512] = "", id[64], perr[128];
	coord_ro_entry *e;

	glue_node(f, "n1");
	e = glue_deploy(f, id, sizeof(id));
	osp_buf_init(&json, 1 << 20);
	ts_ctl_rq_make(&r, "pause", "rollout", id, NULL);
	assert_int_equal(glue_run(f, &r, OSP_EMAPFULL, &json, err,
				 sizeof(err)),
		1);
	assert_non_null(strstr(err, "cannot save the change"));
	e = glue_same(f, id);
	assert_int_equal(e->ro.state, COORD_RO_RUNNING);
	osp_buf_fini(&json);

	osp_buf_init(&json, 1 << 20);
	ts_ctl_rq_make(&r, "pause", "rollout", id, NULL);
	assert_int_equal(glue_run(f, &r, OSP_OK, &json, err, sizeof(err)), 0);
	e = glue_same(f, id);
	assert_int_equal(e->ro.state, COORD_RO_PAUSED);
	osp_buf_fini(&json);

	osp_buf_init(&json, 1 << 20);
	ts_ctl_rq_make(&r, "status", "rollout", id, NULL);
	assert_int_equal(glue_run(f, &r, OSP_OK, &json, err, sizeof(err)), 0);
	assert_non_null(json.data);
	assert_int_equal(osp_json_parse(json.data, json.len, &doc, perr, sizeof(perr)), OSP_OK);
	assert_non_null(osp_json_get_str(doc, "state"));
	assert_string_equal(osp_json_get_str(doc, "id"), id);
	assert_string_equal(osp_json_get_str(doc, "state"), "paused");
	osp_json_free(doc);
	osp_buf_fini(&json);
}

/* A deadline the tick acts on whose commit fails: the rollout reloads (the
 * step still staged, as stored), the tick tries again COORD_EXEC_RETRY_MS
 * (500 ms) later, and then the timeout is saved. */
static void test_coord_glue_tick_commit_fails(void **state)
{
	ts_coord_fx *f = *state;
	coord_ro_entry *e;
	int64_t wall0 = osp_now_wall_ms(), mono0 = osp_now_mono_ms(), due, now;
	coord_step_state before;
	Ospec__V1__RolloutRecord *r = NULL;
	osp_txn *t = NULL;
	char id[64];

	coord_clock_anchor(&f->c.clock, wall0, mono0);
	glue_node(f, "n1");
	e = glue_deploy(f, id, sizeof(id));
	before = glue_step(e, "n1")->state;
	due = coord_ro_next_deadline(&e->ro, NULL);
	assert_true(due != COORD_RO_NEVER && due > wall0);
	now = mono0 + (due - wall0) + 1;

	assert_int_equal(osp_store_mem_fail_next_commit(f->c.store, OSP_ESTORE), OSP_OK);
	coord_engine_tick(&f->c, now);
	e = glue_same(f, id);
	assert_int_equal(glue_step(e, "n1")->state, before);
	assert_int_equal(glue_step(e, "n1")->cmd, COORD_RO_CMD_STAGE);
	assert_int_equal(f->c.ro_wake_ms, wall0 + (now - mono0) + 500);

	/* the stage times out: the only node is unreachable, the rollout failed
	 * (and reaped) */
	coord_engine_tick(&f->c, now + 500);
	assert_null(coord_active_find(&f->c, id));
	assert_int_equal(osp_store_txn_begin(f->c.store, false, &t), OSP_OK);
	assert_int_equal(coord_rollout_get(&f->c, t, id, &r), OSP_OK);
	osp_store_txn_abort(t);
	assert_int_equal(r->state, COORD_RO_FAILED);
	assert_int_equal(r->n_steps, 1);
	assert_int_equal(r->steps[0]->state, COORD_STEP_UNREACHABLE);
	ospec__v1__rollout_record__free_unpacked(r, NULL);
}

static int glue_count_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	(void)k;
	(void)kl;
	(void)v;
	(void)vl;
	(*(uint64_t *)arg)++;
	return 0;
}

/* glue_cmdlog counts the commands in node's log as stored. */
static uint64_t glue_cmdlog(ts_coord_fx *f, const char *node)
{
	osp_txn *t = NULL;
	uint64_t n = 0;

	assert_int_equal(osp_store_txn_begin(f->c.store, false, &t), OSP_OK);
	/* the key is the node id, NUL, a sequence: the NUL ends the prefix */
	assert_int_equal(osp_store_foreach(t, "cmdlog", node, strlen(node) + 1, false,
				 glue_count_cb, &n),
		OSP_OK);
	osp_store_txn_abort(t);
	return n;
}

/* A node registers with a switch in doubt that has no recorded decision:
 * the presumed abort (a command in its log) whose commit fails leaves the
 * node's log end at what is stored; the next register appends it. */
static void test_coord_glue_register_in_doubt(void **state)
{
	ts_coord_fx *f = *state;
	coord_node *n = glue_node(f, "n1");
	Ospec__V1__Register reg;
	Ospec__V1__InDoubt d, *dp = &d;

	ospec__v1__register__init(&reg);
	ospec__v1__in_doubt__init(&d);
	d.switch_id = "sw-1";
	d.app = "hello";
	reg.in_doubt = &dp;
	reg.n_in_doubt = 1;
	assert_int_equal(n->log_end, 0);

	assert_int_equal(osp_store_mem_fail_next_commit(f->c.store, OSP_ESTORE), OSP_OK);
	coord_engine_on_register(&f->c, n, &reg);
	assert_int_equal(n->log_end, 0);
	assert_int_equal(glue_cmdlog(f, "n1"), 0);

	coord_engine_on_register(&f->c, n, &reg);
	assert_int_equal(n->log_end, 1);
	assert_int_equal(glue_cmdlog(f, "n1"), 1);
}

/* glue_lmdb_dbs lists the named databases of the LMDB environment in dir
 * (its main database holds their names) into names, joined by ','. */
static void glue_lmdb_dbs(const char *dir, char *names, size_t len)
{
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	size_t o = 0;
	int rc;

	names[0] = '\0';
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
	assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		assert_true(o + k.mv_size + 2 < len);
		memcpy(names + o, k.mv_data, k.mv_size);
		o += k.mv_size;
		names[o++] = ',';
		names[o] = '\0';
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	mdb_env_close(env);
}

/* The deploy and result on LMDB, as on the memory store; and the memory
 * fixture's database list is the one coord_db_open makes ("meta" and the
 * coordinator's, sorted as LMDB keeps their names): a database added to
 * coord_db.c and not to ts_coord_dbs fails here. */
static void test_coord_glue_lmdb(void **state)
{
	ts_coord_fx *f = *state;
	coord_ro_entry *e;
	char id[64], have[512], want[512] = "";
	const char *sorted[32] = { "meta" };
	size_t n = ts_coord_ndbs + 1;

	glue_node(f, "n1");
	glue_node(f, "n2");
	e = glue_deploy(f, id, sizeof(id));
	assert_int_equal(glue_answer(f, e, "n1"), OSP_OK);
	e = glue_same(f, id);
	assert_int_equal(glue_step(e, "n1")->state, COORD_STEP_DONE);

	assert_true(n < sizeof(sorted) / sizeof(sorted[0]));
	memcpy(sorted + 1, ts_coord_dbs, ts_coord_ndbs * sizeof(sorted[0]));
	for (size_t i = 1; i < n; i++) /* insertion sort: a few names */
		for (size_t j = i; j > 0 && strcmp(sorted[j - 1], sorted[j]) > 0; j--) {
			const char *x = sorted[j];
			sorted[j] = sorted[j - 1];
			sorted[j - 1] = x;
		}
	for (size_t i = 0, o = 0; i < n; i++) {
		int w = snprintf(want + o, sizeof(want) - o, "%s,", sorted[i]);

		assert_true(w > 0 && (size_t)w < sizeof(want) - o);
		o += (size_t)w;
	}
	glue_lmdb_dbs(f->data, have, sizeof(have));
	assert_string_equal(have, want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_coord_glue_deploy_result, ts_coord_mem_setup,
			ts_coord_teardown),
		cmocka_unit_test_setup_teardown(test_coord_glue_result_commit_fails,
			ts_coord_mem_setup, ts_coord_teardown),
		cmocka_unit_test_setup_teardown(test_coord_glue_ctl_pause, ts_coord_mem_setup,
			ts_coord_teardown),
		cmocka_unit_test_setup_teardown(test_coord_glue_tick_commit_fails,
			ts_coord_mem_setup, ts_coord_teardown),
		cmocka_unit_test_setup_teardown(test_coord_glue_register_in_doubt,
			ts_coord_mem_setup, ts_coord_teardown),
		cmocka_unit_test_setup_teardown(test_coord_glue_lmdb, ts_coord_setup,
			ts_coord_teardown),
	};

	osp_log_setup(OSP_LOG_ERROR + 1, OSP_LOG_TEXT, "test_coord_glue", NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
