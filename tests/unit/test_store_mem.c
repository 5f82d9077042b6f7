/*
 * test_store_mem.c - what the memory store promises besides test_store.c's
 * suite: readers see the snapshot of their begin, values stay put until
 * their transaction ends, one writer at a time (these three on LMDB too, so
 * both back-ends are held to the same behaviour); the fail-next-commit test
 * hook discards a transaction as a failed LMDB commit does and counts it; a
 * backup is refused before any file is made; a scan goes on past writes its
 * callback makes (on LMDB too).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ospec/log.h"
#include "ospec/store.h"
#include "test_support.h"
#include "test_support_store.h"

/* A reader keeps its snapshot across a writer's commit: the old value (at
 * the same address), the deleted key, the old count; a reader begun after
 * sees the new ones; an aborted write is seen by nobody. */
static void test_store_mem_snapshot(void **state)
{
	ts_store_fx *f = *state;
	osp_txn *r = NULL, *w = NULL;
	const void *v, *v2;
	size_t vl;
	uint64_t n = 0;
	char buf[64];

	ts_store_put1(f->s, "kv", "a", 1, "old");
	ts_store_put1(f->s, "kv", "b", 1, "gone");
	assert_int_equal(osp_store_txn_begin(f->s, false, &r), OSP_OK);
	assert_int_equal(osp_store_get(r, "kv", "a", 1, &v, &vl), OSP_OK);

	assert_int_equal(osp_store_txn_begin(f->s, true, &w), OSP_OK);
	assert_int_equal(osp_store_put(w, "kv", "a", 1, "new!", 4), OSP_OK);
	assert_int_equal(osp_store_del(w, "kv", "b", 1), OSP_OK);
	assert_int_equal(osp_store_put(w, "kv", "c", 1, "added", 5), OSP_OK);
	/* the writer sees its own writes before the commit, the reader does not */
	assert_int_equal(osp_store_get(w, "kv", "a", 1, &v2, &vl), OSP_OK);
	assert_memory_equal(v2, "new!", 4);
	assert_int_equal(osp_store_get(r, "kv", "c", 1, &v2, &vl), OSP_ENOENT);
	assert_int_equal(osp_store_txn_commit(w), OSP_OK);

	assert_memory_equal(v, "old", 3); /* still valid: r has not ended */
	assert_int_equal(osp_store_get(r, "kv", "a", 1, &v2, &vl), OSP_OK);
	assert_int_equal(vl, 3);
	assert_memory_equal(v2, "old", 3);
	assert_int_equal(osp_store_get(r, "kv", "b", 1, &v2, &vl), OSP_OK);
	assert_int_equal(osp_store_get(r, "kv", "c", 1, &v2, &vl), OSP_ENOENT);
	assert_int_equal(osp_store_count(r, "kv", &n), OSP_OK);
	assert_int_equal(n, 2);
	osp_store_txn_abort(r);

	assert_int_equal(ts_store_get1(f->s, "kv", "a", 1, buf, sizeof(buf)), OSP_OK);
	assert_string_equal(buf, "new!");
	assert_int_equal(ts_store_get1(f->s, "kv", "b", 1, buf, sizeof(buf)), OSP_ENOENT);
	assert_int_equal(ts_store_get1(f->s, "kv", "c", 1, buf, sizeof(buf)), OSP_OK);

	assert_int_equal(osp_store_txn_begin(f->s, true, &w), OSP_OK);
	assert_int_equal(osp_store_put(w, "kv", "a", 1, "aborted", 7), OSP_OK);
	osp_store_txn_abort(w);
	assert_int_equal(ts_store_get1(f->s, "kv", "a", 1, buf, sizeof(buf)), OSP_OK);
	assert_string_equal(buf, "new!");
}

typedef struct store_writer {
	osp_store *s;
	volatile int began; /* set once the second writer's begin returned */
	char seen[16];      /* what it read in its write transaction */
} store_writer;

static void *store_writer_main(void *arg)
{
	store_writer *w = arg;
	osp_txn *t = NULL;
	const void *v;
	size_t vl = 0;

	if (osp_store_txn_begin(w->s, true, &t) != OSP_OK)
		return NULL;
	__atomic_store_n(&w->began, 1, __ATOMIC_SEQ_CST);
	if (osp_store_get(t, "kv", "k", 1, &v, &vl) == OSP_OK && vl < sizeof(w->seen))
		memcpy(w->seen, v, vl);
	osp_store_put(t, "kv", "k", 1, "second", 6);
	osp_store_txn_commit(t);
	return NULL;
}

/* A second writer waits for the first one's commit, then sees its write. */
static void test_store_mem_one_writer(void **state)
{
	ts_store_fx *f = *state;
	store_writer w = { .s = f->s };
	osp_txn *t = NULL;
	pthread_t th;
	char buf[64];

	assert_int_equal(osp_store_txn_begin(f->s, true, &t), OSP_OK);
	assert_int_equal(osp_store_put(t, "kv", "k", 1, "first", 5), OSP_OK);
	assert_int_equal(pthread_create(&th, NULL, store_writer_main, &w), 0);
	usleep(100 * 1000);
	assert_int_equal(__atomic_load_n(&w.began, __ATOMIC_SEQ_CST), 0);
	/* a reader does not wait for the writer */
	assert_int_equal(ts_store_get1(f->s, "kv", "k", 1, buf, sizeof(buf)), OSP_ENOENT);
	assert_int_equal(osp_store_txn_commit(t), OSP_OK);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(w.began, 1);
	assert_string_equal(w.seen, "first");
	assert_int_equal(ts_store_get1(f->s, "kv", "k", 1, buf, sizeof(buf)), OSP_OK);
	assert_string_equal(buf, "second");
}

/* The hook fails the next write commit: its writes are gone, the failure is
 * counted (osp_store_write_failures), and the commit after succeeds. A read
 * transaction's commit does not use the hook up. */
static void test_store_mem_fail_next_commit(void **state)
{
	ts_store_fx *f = *state;
	osp_store *lmdb = NULL;
	osp_txn *t = NULL;
	uint64_t before, after;
	char buf[64], err[256], dir[160];

	ts_store_put1(f->s, "kv", "k", 1, "kept");
	assert_int_equal(osp_store_mem_fail_next_commit(f->s, OSP_EMAPFULL), OSP_OK);
	assert_int_equal(osp_store_txn_begin(f->s, false, &t), OSP_OK);
	before = osp_store_write_failures(t);
	assert_int_equal(osp_store_txn_commit(t), OSP_OK);

	assert_int_equal(osp_store_txn_begin(f->s, true, &t), OSP_OK);
	assert_int_equal(osp_store_put(t, "kv", "k", 1, "lost", 4), OSP_OK);
	assert_int_equal(osp_store_put(t, "other", "x", 1, "lost", 4), OSP_OK);
	assert_int_equal(osp_store_txn_commit(t), OSP_EMAPFULL); /* t is freed */
	assert_int_equal(ts_store_get1(f->s, "kv", "k", 1, buf, sizeof(buf)), OSP_OK);
	assert_string_equal(buf, "kept");
	assert_int_equal(ts_store_get1(f->s, "other", "x", 1, buf, sizeof(buf)), OSP_ENOENT);
	assert_int_equal(osp_store_txn_begin(f->s, false, &t), OSP_OK);
	after = osp_store_write_failures(t);
	osp_store_txn_abort(t);
	assert_int_equal(after, before + 1);

	ts_store_put1(f->s, "kv", "k", 1, "next"); /* asserts OSP_OK */
	assert_int_equal(ts_store_get1(f->s, "kv", "k", 1, buf, sizeof(buf)), OSP_OK);
	assert_string_equal(buf, "next");

	/* not a memory store, or no error to fail with */
	assert_int_equal(osp_store_mem_fail_next_commit(f->s, OSP_OK), OSP_EINVAL);
	assert_int_equal(osp_store_mem_fail_next_commit(NULL, OSP_ESTORE), OSP_EINVAL);
	snprintf(dir, sizeof(dir), "%s/lmdb", f->root);
	assert_int_equal(ts_store_open(OSP_STORE_LMDB, dir, 3, 0, &lmdb, err, sizeof(err)),
		OSP_OK);
	assert_int_equal(osp_store_mem_fail_next_commit(lmdb, OSP_ESTORE), OSP_EINVAL);
	assert_string_equal(osp_store_backend_name(lmdb), "lmdb");
	assert_string_equal(osp_store_backend_name(f->s), "memory");
	osp_store_close(lmdb);
}

/* No backup of a memory store: a clear error, and no file made. */
static void test_store_mem_no_backup(void **state)
{
	ts_store_fx *f = *state;
	char path[160], tmp[170], err[256] = "";
	uint64_t bytes = 7, used = 0, map = 0;
	struct stat st;

	snprintf(path, sizeof(path), "%s/backup.mdb", f->root);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_equal(osp_store_copy(f->s, path, &bytes, err, sizeof(err)), OSP_ESTATE);
	assert_non_null(strstr(err, "memory store cannot be backed up"));
	assert_int_equal(bytes, 7);
	assert_int_not_equal(stat(path, &st), 0);
	assert_int_not_equal(stat(tmp, &st), 0);
	assert_int_not_equal(stat(f->dir, &st), 0); /* and no directory either */

	/* usage: the records against the map size (1 GiB by default) */
	assert_int_equal(osp_store_usage(f->s, &used, &map), OSP_OK);
	assert_int_equal(map, 1ULL << 30);
	ts_store_put1(f->s, "kv", "k", 1, "0123456789");
	assert_int_equal(osp_store_usage(f->s, &used, &map), OSP_OK);
	assert_true(used >= 11 + 14); /* this record and meta/schema */
}

typedef struct store_edit {
	osp_txn *t;
	char seen[256];
	size_t n;
} store_edit;

/* store_edit_cb deletes each key it visits and adds "b0" (behind the scan)
 * on "b1". */
static int store_edit_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	store_edit *e = arg;
	bool first;

	(void)v;
	(void)vl;
	assert_true(e->n + kl + 1 < sizeof(e->seen));
	memcpy(e->seen + e->n, k, kl);
	e->n += kl;
	e->seen[e->n++] = ',';
	first = kl == 2 && memcmp(k, "b1", 2) == 0;
	/* k and v die with the delete, as in LMDB: the memory store frees them */
	assert_int_equal(osp_store_del(e->t, "kv", k, kl), OSP_OK);
	if (first)
		assert_int_equal(osp_store_put(e->t, "kv", "b0", 2, "x", 1), OSP_OK);
	return 0;
}

/* A callback that writes: every key once, in order (what a callback adds
 * ahead of the scan LMDB may or may not visit: not part of the contract). */
static void test_store_mem_scan_writes(void **state)
{
	ts_store_fx *f = *state;
	store_edit e = { .n = 0 };
	uint64_t n = 9;

	ts_store_put1(f->s, "kv", "a", 1, "x");
	ts_store_put1(f->s, "kv", "b1", 2, "x");
	ts_store_put1(f->s, "kv", "b2", 2, "x");
	ts_store_put1(f->s, "kv", "b3", 2, "x");
	ts_store_put1(f->s, "kv", "c", 1, "x");
	assert_int_equal(osp_store_txn_begin(f->s, true, &e.t), OSP_OK);
	assert_int_equal(osp_store_foreach(e.t, "kv", "b", 1, false, store_edit_cb, &e), OSP_OK);
	e.seen[e.n] = '\0';
	assert_string_equal(e.seen, "b1,b2,b3,");
	assert_int_equal(osp_store_count(e.t, "kv", &n), OSP_OK);
	assert_int_equal(n, 3); /* a, b0, c */
	assert_int_equal(osp_store_txn_commit(e.t), OSP_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TS_STORE_TEST(test_store_mem_snapshot, lmdb),
		TS_STORE_TEST(test_store_mem_snapshot, mem),
		TS_STORE_TEST(test_store_mem_one_writer, lmdb),
		TS_STORE_TEST(test_store_mem_one_writer, mem),
		TS_STORE_TEST(test_store_mem_fail_next_commit, mem),
		TS_STORE_TEST(test_store_mem_no_backup, mem),
		TS_STORE_TEST(test_store_mem_scan_writes, lmdb),
		TS_STORE_TEST(test_store_mem_scan_writes, mem),
	};

	osp_log_setup(OSP_LOG_ERROR + 1, OSP_LOG_TEXT, "test_store_mem", NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
