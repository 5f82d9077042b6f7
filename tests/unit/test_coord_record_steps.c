/*
 * test_coord_record_steps.c - a rollout's steps in their own records
 * (schema 2): a schema-1 store (steps embedded in the rollout record) is
 * migrated at open and loads as it was; a save writes only the steps that
 * changed, and everything again after an aborted write transaction.
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
#include "coord_active.h"
#include "test_support.h"
#include "test_support_coord.h"

#define TS_NSTEPS 5

/* ts_rec fills r (with steps s and p) as 0.1.0 stored a rollout. */
static void ts_rec(Ospec__V1__RolloutRecord *r, const char *id, uint32_t state,
	Ospec__V1__StepRecord *s, Ospec__V1__StepRecord **p, char names[][16])
{
	ospec__v1__rollout_record__init(r);
	r->id = (char *)id;
	r->app = "hello";
	r->version = "2";
	r->sha256 = "ab";
	r->has_strategy = r->has_state = r->has_created_seq = 1;
	r->strategy = COORD_RO_ROLLING;
	r->state = state;
	r->created_seq = state + 1;
	r->reason = "paused by uid:0";
	for (size_t i = 0; i < TS_NSTEPS; i++) {
		ospec__v1__step_record__init(&s[i]);
		snprintf(names[i], 16, "web-%zu", i);
		s[i].node = names[i];
		s[i].state = i < 2 ? COORD_STEP_DONE : COORD_STEP_PENDING;
		s[i].has_batch = s[i].has_seq = 1;
		s[i].batch = (uint32_t)i / 2;
		s[i].seq = i < 2 ? 10 + i : 0;
		s[i].version = i < 2 ? "2" : "1";
		s[i].prev_version = "1";
		p[i] = &s[i];
	}
	r->steps = p;
	r->n_steps = TS_NSTEPS;
}

/* ts_put packs r into db at key. */
static void ts_put(osp_txn *t, const char *db, const char *key,
	const Ospec__V1__RolloutRecord *r)
{
	size_t n = ospec__v1__rollout_record__get_packed_size(r);
	uint8_t *buf = malloc(n);

	assert_non_null(buf);
	ospec__v1__rollout_record__pack(r, buf);
	assert_int_equal(osp_store_put(t, db, key, strlen(key), buf, n), OSP_OK);
	free(buf);
}

/* ts_step_bytes packs step s (for comparisons). */
static size_t ts_step_bytes(const Ospec__V1__StepRecord *s, uint8_t *buf, size_t cap)
{
	size_t n = ospec__v1__step_record__get_packed_size(s);

	assert_true(n <= cap);
	return ospec__v1__step_record__pack(s, buf);
}

/* ts_stored_step reads step i of rollout id as stored (raw bytes). */
static size_t ts_stored_step(ts_coord_fx *f, const char *id, uint32_t i, uint8_t *out,
	size_t cap)
{
	uint8_t key[80];
	size_t kl = strlen(id), vl = 0;
	const void *v;
	osp_txn *t = NULL;

	memcpy(key, id, kl);
	key[kl++] = 0;
	key[kl++] = (uint8_t)(i >> 24);
	key[kl++] = (uint8_t)(i >> 16);
	key[kl++] = (uint8_t)(i >> 8);
	key[kl++] = (uint8_t)i;
	assert_int_equal(osp_store_txn_begin(f->c.store, false, &t), OSP_OK);
	assert_int_equal(osp_store_get(t, "steps", key, kl, &v, &vl), OSP_OK);
	assert_true(vl <= cap);
	memcpy(out, v, vl);
	osp_store_txn_abort(t);
	return vl;
}

/* ts_save_junk_kept saves e in t (begun, with junk of junk_len bytes put
 * as step 0 of ro-1), commits, checks that step 0 is still the junk (the
 * save did not find it changed) and returns the record read back. */
static Ospec__V1__RolloutRecord *ts_save_junk_kept(ts_coord_fx *f, osp_txn *t,
	coord_ro_entry *e, size_t junk_len)
{
	Ospec__V1__RolloutRecord *got = NULL;
	uint8_t buf[512];

	assert_int_equal(coord_ro_save(&f->c, t, e), OSP_OK);
	assert_int_equal(osp_store_txn_commit(t), OSP_OK);
	assert_int_equal(ts_stored_step(f, "ro-1", 0, buf, sizeof(buf)), junk_len);
	assert_int_equal(osp_store_txn_begin(f->c.store, false, &t), OSP_OK);
	assert_int_equal(coord_rollout_get(&f->c, t, "ro-1", &got), OSP_OK);
	osp_store_txn_abort(t);
	return got;
}

/* A store written by 0.1.0 (schema 1: steps inside the rollout record) is
 * migrated when this coordinator opens it: the records lose their steps,
 * the steps are in "steps", and every rollout reads back and loads as it
 * was stored. */
static void test_coord_record_steps_migrate_1_2(void **state)
{
	ts_coord_fx *f = calloc(1, sizeof(*f));
	const char *dbs[] = { "rollouts" };
	osp_store_opts o = { .dbs = dbs, .ndbs = 1, .schema = 1 };
	Ospec__V1__RolloutRecord r1, r2, *got = NULL;
	Ospec__V1__StepRecord s1[TS_NSTEPS], s2[TS_NSTEPS], *p1[TS_NSTEPS], *p2[TS_NSTEPS];
	char n1[TS_NSTEPS][16], n2[TS_NSTEPS][16], err[512] = "";
	uint8_t a[512], b[512];
	osp_store *old = NULL;
	osp_txn *t = NULL;
	const void *v;
	size_t vl;
	uint64_t schema = 0;
	coord_ro_entry *e;

	(void)state;
	assert_non_null(f);
	ts_mkdtemp(f->root, sizeof(f->root), "/tmp/ospec-steps-XXXXXX");
	snprintf(f->data, sizeof(f->data), "%s/data", f->root);
	o.dir = f->data;
	assert_int_equal(osp_store_open(&o, &old, err, sizeof(err)), OSP_OK);
	ts_rec(&r1, "ro-paused", COORD_RO_PAUSED, s1, p1, n1);
	ts_rec(&r2, "ro-done", COORD_RO_SUCCEEDED, s2, p2, n2);
	s2[4].reason = "cordoned";
	assert_int_equal(osp_store_txn_begin(old, true, &t), OSP_OK);
	ts_put(t, "rollouts", r1.id, &r1);
	ts_put(t, "rollouts", r2.id, &r2);
	assert_int_equal(osp_store_txn_commit(t), OSP_OK);
	osp_store_close(old);

	f->c.cfg.data = f->data;
	f->c.cfg.heartbeat = 1000;
	assert_int_equal(coord_db_open(&f->c, err, sizeof(err)), OSP_OK);
	assert_int_equal(osp_store_schema(f->c.store, &schema), OSP_OK);
	assert_int_equal(schema, 2);
	/* the record itself holds no step any more */
	assert_int_equal(osp_store_txn_begin(f->c.store, false, &t), OSP_OK);
	assert_int_equal(osp_store_get(t, "rollouts", "ro-done", 7, &v, &vl), OSP_OK);
	got = ospec__v1__rollout_record__unpack(NULL, vl, v);
	assert_non_null(got);
	assert_int_equal(got->n_steps, 0);
	ospec__v1__rollout_record__free_unpacked(got, NULL);
	/* read back: the same steps in the same order, byte for byte */
	assert_int_equal(coord_rollout_get(&f->c, t, "ro-done", &got), OSP_OK);
	assert_int_equal(got->n_steps, TS_NSTEPS);
	for (size_t i = 0; i < TS_NSTEPS; i++) {
		size_t la = ts_step_bytes(&s2[i], a, sizeof(a));
		size_t lb = ts_step_bytes(got->steps[i], b, sizeof(b));
		assert_int_equal(la, lb);
		assert_memory_equal(a, b, la);
	}
	assert_string_equal(got->reason, "paused by uid:0");
	ospec__v1__rollout_record__free_unpacked(got, NULL);
	osp_store_txn_abort(t);
	/* the paused one is loaded into the engine as it was */
	assert_int_equal(coord_active_load(&f->c), OSP_OK);
	e = coord_active_find(&f->c, "ro-paused");
	assert_non_null(e);
	assert_null(coord_active_find(&f->c, "ro-done"));
	assert_int_equal(e->ro.state, COORD_RO_PAUSED);
	assert_int_equal(e->ro.nsteps, TS_NSTEPS);
	for (size_t i = 0; i < TS_NSTEPS; i++) {
		assert_string_equal(e->ro.steps[i].node, n1[i]);
		assert_int_equal(e->ro.steps[i].state, s1[i].state);
		assert_int_equal(e->ro.steps[i].batch, s1[i].batch);
		assert_int_equal(e->ro.steps[i].seq, s1[i].seq);
		assert_string_equal(e->ro.steps[i].version, s1[i].version);
		assert_string_equal(e->ro.steps[i].prev_version, "1");
	}
	coord_active_free(&f->c);
	ts_coord_fx_fini(f);
	free(f);
}

/* coord_ro_save writes only the steps whose state changed; after an
 * aborted write transaction it writes every step again (what it believed
 * stored may be what was lost). */
static void test_coord_record_steps_save_changed(void **state)
{
	ts_coord_fx *f = *state;
	Ospec__V1__RolloutRecord r, *got = NULL;
	Ospec__V1__StepRecord s[TS_NSTEPS], *p[TS_NSTEPS];
	char names[TS_NSTEPS][16];
	uint8_t buf[512], junk[5] = { 0x0a, 0x01, 'X', 0x10, 0x00 }; /* node "X", state 0 */
	osp_txn *t = NULL;
	coord_ro_entry *e;

	ts_rec(&r, "ro-1", COORD_RO_PAUSED, s, p, names);
	r.n_steps = 0;
	assert_int_equal(osp_store_txn_begin(f->c.store, true, &t), OSP_OK);
	ts_put(t, "rollouts", r.id, &r);
	for (uint32_t i = 0; i < TS_NSTEPS; i++) {
		size_t n = ts_step_bytes(&s[i], buf, sizeof(buf));
		assert_int_equal(coord_ro_steps_put(t, r.id, i, buf, n), OSP_OK);
	}
	assert_int_equal(osp_store_txn_commit(t), OSP_OK);
	assert_int_equal(coord_active_load(&f->c), OSP_OK);
	assert_non_null(e = coord_active_find(&f->c, "ro-1"));

	/* step 0 is overwritten behind the coordinator's back: a save that did
	 * not change step 0 leaves it alone, step 3 changed and is written */
	assert_int_equal(osp_store_txn_begin(f->c.store, true, &t), OSP_OK);
	assert_int_equal(coord_ro_steps_put(t, "ro-1", 0, junk, sizeof(junk)), OSP_OK);
	e->ro.steps[3].state = COORD_STEP_FAILED;
	osp_strlcpy(e->ro.steps[3].reason, "health check failed", sizeof(e->ro.steps[3].reason));
	e->ro.steps[2].acked_ms = 1234; /* after the last string of the step */
	osp_strlcpy(e->ro.steps[1].to_slot, "green", sizeof(e->ro.steps[1].to_slot));
	got = ts_save_junk_kept(f, t, e, sizeof(junk));
	assert_int_equal(got->n_steps, TS_NSTEPS);
	assert_string_equal(got->steps[0]->node, "X");
	assert_int_equal(got->steps[3]->state, COORD_STEP_FAILED);
	assert_int_equal(got->steps[2]->acked_ms, 1234);
	assert_string_equal(got->steps[1]->to_slot, "green");
	assert_string_equal(got->steps[3]->reason, "health check failed");
	assert_int_equal(got->steps[4]->state, COORD_STEP_PENDING);
	ospec__v1__rollout_record__free_unpacked(got, NULL);

	/* what is kept of a stored step is its form (strings up to their NUL):
	 * bytes after a string's NUL are no change (step 0 stays as the junk
	 * put behind the coordinator's back), a string cut shorter is one, and
	 * so is a string further on in the step */
	assert_int_equal(osp_store_txn_begin(f->c.store, true, &t), OSP_OK);
	assert_int_equal(coord_ro_steps_put(t, "ro-1", 0, junk, sizeof(junk)), OSP_OK);
	e->ro.steps[0].reason[sizeof(e->ro.steps[0].reason) - 2] = 'Z';
	e->ro.steps[0].to_slot[sizeof(e->ro.steps[0].to_slot) - 1] = 'Z';
	osp_strlcpy(e->ro.steps[3].reason, "health", sizeof(e->ro.steps[3].reason));
	osp_strlcpy(e->ro.steps[2].sha256, "beef", sizeof(e->ro.steps[2].sha256));
	got = ts_save_junk_kept(f, t, e, sizeof(junk));
	assert_string_equal(got->steps[3]->reason, "health");
	assert_string_equal(got->steps[2]->sha256, "beef");
	ospec__v1__rollout_record__free_unpacked(got, NULL);

	/* a change saved in a transaction that is aborted: the next save,
	 * with nothing changed since, writes it (and every step) again */
	assert_int_equal(osp_store_txn_begin(f->c.store, true, &t), OSP_OK);
	e->ro.steps[4].state = COORD_STEP_DONE;
	assert_int_equal(coord_ro_save(&f->c, t, e), OSP_OK);
	osp_store_txn_abort(t);
	assert_int_equal(osp_store_txn_begin(f->c.store, true, &t), OSP_OK);
	assert_int_equal(coord_ro_save(&f->c, t, e), OSP_OK);
	assert_int_equal(osp_store_txn_commit(t), OSP_OK);
	assert_int_equal(osp_store_txn_begin(f->c.store, false, &t), OSP_OK);
	assert_int_equal(coord_rollout_get(&f->c, t, "ro-1", &got), OSP_OK);
	osp_store_txn_abort(t);
	assert_int_equal(got->steps[4]->state, COORD_STEP_DONE);
	assert_string_equal(got->steps[0]->node, "web-0"); /* rewritten too */
	ospec__v1__rollout_record__free_unpacked(got, NULL);
	coord_active_free(&f->c);
}

/* A damaged store: a step missing between others is refused (OSP_ESTORE),
 * not read with every later step shifted into its place. */
static void test_coord_record_steps_gap_refused(void **state)
{
	ts_coord_fx *f = *state;
	Ospec__V1__RolloutRecord r, *got = NULL;
	Ospec__V1__StepRecord s[TS_NSTEPS], *p[TS_NSTEPS];
	char names[TS_NSTEPS][16];
	uint8_t buf[512];
	osp_txn *t = NULL;

	ts_rec(&r, "ro-1", COORD_RO_PAUSED, s, p, names);
	r.n_steps = 0;
	assert_int_equal(osp_store_txn_begin(f->c.store, true, &t), OSP_OK);
	ts_put(t, "rollouts", r.id, &r);
	for (uint32_t i = 0; i < TS_NSTEPS; i++) {
		size_t n = ts_step_bytes(&s[i], buf, sizeof(buf));

		if (i != 2)
			assert_int_equal(coord_ro_steps_put(t, r.id, i, buf, n), OSP_OK);
	}
	assert_int_equal(osp_store_txn_commit(t), OSP_OK);
	assert_int_equal(osp_store_txn_begin(f->c.store, false, &t), OSP_OK);
	assert_int_equal(coord_rollout_get(&f->c, t, "ro-1", &got), OSP_ESTORE);
	osp_store_txn_abort(t);
	assert_null(got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_coord_record_steps_migrate_1_2),
		cmocka_unit_test_setup_teardown(test_coord_record_steps_save_changed,
			ts_coord_setup, ts_coord_teardown),
		cmocka_unit_test_setup_teardown(test_coord_record_steps_gap_refused,
			ts_coord_setup, ts_coord_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
