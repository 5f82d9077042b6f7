/*
 * test_store.c - the store on every back-end: schema, get/put/del, prefix
 * scans both ways (prefixes ending in 0xff too), del_prefix, count and a
 * full map run on LMDB (a temp dir), on the memory store and on etcd (one
 * real member, a key prefix per test: tests/support/etcd_fixture.h) alike; open,
 * lock and the files are LMDB's: a damaged data.mdb (truncated, not LMDB's,
 * emptied or removed) is refused, not mapped. The big-endian key helpers.
 * The memory store's own behaviour is test_store_mem.c, the etcd store's
 * test_store_etcd.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ospec/log.h"
#include "ospec/store.h"
#include "ospec/util.h"
#include "test_support.h"
#include "test_support_store.h"

/* store_open_at opens an LMDB store of "kv" and "other" at dir. */
static osp_err store_open_at(const char *dir, uint32_t schema, uint64_t map_size,
	osp_store **s, char *err, size_t errlen)
{
	return ts_store_open(OSP_STORE_LMDB, dir, schema, map_size, s, err, errlen);
}

static void test_store_open_creates_dir(void **state)
{
	ts_store_fx *f = *state;
	struct stat st;
	char path[256];

	assert_int_equal(stat(f->dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/data.mdb", f->dir);
	assert_int_equal(stat(path, &st), 0);
	snprintf(path, sizeof(path), "%s/ospec.lock", f->dir);
	assert_int_equal(stat(path, &st), 0);
}

static void test_store_schema(void **state)
{
	ts_store_fx *f = *state;
	osp_store *s2 = NULL;
	char err[256], buf[64];
	const uint8_t be3[8] = { 0, 0, 0, 0, 0, 0, 0, 3 };

	/* written on first open, as a big-endian u64 in meta */
	assert_int_equal(ts_store_get1(f->s, "meta", "schema", 6, buf, sizeof(buf)), OSP_OK);
	assert_memory_equal(buf, be3, 8);
	if (f->backend == OSP_STORE_MEMORY)
		return; /* nothing outlives a memory store: a reopen is a new one */
	ts_store_put1(f->s, "kv", "k", 1, "v");
	osp_store_close(f->s);
	f->s = NULL;

	assert_int_equal(ts_store_open(f->backend, f->dir, 4, 0, &s2, err, sizeof(err)),
		OSP_ESCHEMA);
	assert_null(s2);
	assert_non_null(strstr(err, "schema version 3"));
	assert_non_null(strstr(err, "knows 4"));

	/* a refused open leaves the lock free and the data alone */
	assert_int_equal(ts_store_open(f->backend, f->dir, 3, 0, &f->s, err, sizeof(err)),
		OSP_OK);
	assert_int_equal(ts_store_get1(f->s, "kv", "k", 1, buf, sizeof(buf)), OSP_OK);
	assert_string_equal(buf, "v");
}

static void test_store_lock(void **state)
{
	ts_store_fx *f = *state;
	osp_store *s2 = NULL;
	char err[256];

	/* flock is per open file description: a second open in this process fails */
	assert_int_equal(store_open_at(f->dir, 3, 0, &s2, err, sizeof(err)), OSP_ELOCKED);
	assert_null(s2);
	assert_non_null(strstr(err, f->dir));
	assert_non_null(strstr(err, "in use"));
	osp_store_close(f->s);
	f->s = NULL;
	assert_int_equal(store_open_at(f->dir, 3, 0, &s2, err, sizeof(err)), OSP_OK);
	f->s = s2;
}

static void test_store_open_errors(void **state)
{
	ts_store_fx *f = *state;
	const char *many[OSP_STORE_MAX_DBS + 1];
	osp_store_opts o = { .dir = f->dir, .dbs = many, .ndbs = OSP_STORE_MAX_DBS + 1 };
	osp_store *s2 = NULL;
	char err[256], path[256];
	FILE *fp;

	for (size_t i = 0; i < OSP_STORE_MAX_DBS + 1; i++)
		many[i] = "x";
	assert_int_equal(osp_store_open(&o, &s2, err, sizeof(err)), OSP_EINVAL);
	assert_null(s2);

	/* a file where the directory should be */
	snprintf(path, sizeof(path), "%s/file", f->root);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fclose(fp);
	assert_int_not_equal(store_open_at(path, 1, 0, &s2, err, sizeof(err)), OSP_OK);
	assert_null(s2);
	assert_non_null(strstr(err, path));
}

static void test_store_put_get_del(void **state)
{
	ts_store_fx *f = *state;
	osp_txn *t = NULL;
	const void *v;
	size_t vl;
	char buf[64];

	ts_store_put1(f->s, "kv", "alpha", 5, "1");
	ts_store_put1(f->s, "other", "alpha", 5, "2");
	assert_int_equal(ts_store_get1(f->s, "kv", "alpha", 5, buf, sizeof(buf)), OSP_OK);
	assert_string_equal(buf, "1");
	assert_int_equal(ts_store_get1(f->s, "other", "alpha", 5, buf, sizeof(buf)), OSP_OK);
	assert_string_equal(buf, "2");
	assert_int_equal(ts_store_get1(f->s, "kv", "alph", 4, buf, sizeof(buf)), OSP_ENOENT);
	assert_int_equal(ts_store_get1(f->s, "nope", "alpha", 5, buf, sizeof(buf)), OSP_EINVAL);

	/* overwrite, then an aborted delete leaves it */
	ts_store_put1(f->s, "kv", "alpha", 5, "one");
	assert_int_equal(osp_store_txn_begin(f->s, true, &t), OSP_OK);
	assert_int_equal(osp_store_del(t, "kv", "alpha", 5), OSP_OK);
	assert_int_equal(osp_store_get(t, "kv", "alpha", 5, &v, &vl), OSP_ENOENT);
	osp_store_txn_abort(t);
	assert_int_equal(ts_store_get1(f->s, "kv", "alpha", 5, buf, sizeof(buf)), OSP_OK);
	assert_string_equal(buf, "one");

	assert_int_equal(osp_store_txn_begin(f->s, true, &t), OSP_OK);
	assert_int_equal(osp_store_del(t, "kv", "alpha", 5), OSP_OK);
	assert_int_equal(osp_store_del(t, "kv", "alpha", 5), OSP_ENOENT);
	assert_int_equal(osp_store_del(t, "nope", "alpha", 5), OSP_EINVAL);
	assert_int_equal(osp_store_put(t, "nope", "a", 1, "b", 1), OSP_EINVAL);
	assert_int_equal(osp_store_txn_commit(t), OSP_OK);
	assert_int_equal(ts_store_get1(f->s, "kv", "alpha", 5, buf, sizeof(buf)), OSP_ENOENT);
	assert_int_equal(ts_store_get1(f->s, "other", "alpha", 5, buf, sizeof(buf)), OSP_OK);
	osp_store_txn_abort(NULL);
}

/* A scan collects "key=val" lines; stop_after > 0 stops after that many. */
typedef struct store_seen {
	char keys[64][16];
	size_t n;
	size_t stop_after;
	bool fail;
} store_seen;

static int store_seen_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	store_seen *s = arg;

	(void)v;
	(void)vl;
	assert_true(s->n < 64 && kl < 16);
	memcpy(s->keys[s->n], k, kl);
	s->keys[s->n][kl] = '\0';
	s->n++;
	if (s->fail)
		return -1;
	return s->stop_after && s->n >= s->stop_after ? 1 : 0;
}

/* store_scan_str runs a scan and joins the keys with ',' (bytes >= 0x80 as '#',
 * control bytes as '_'). */
static const char *store_scan_str(osp_store *st, const void *prefix, size_t plen, bool rev,
	char *out, size_t len)
{
	store_seen seen = { .n = 0 };
	osp_txn *t = NULL;
	size_t o = 0;

	assert_int_equal(osp_store_txn_begin(st, false, &t), OSP_OK);
	assert_int_equal(osp_store_foreach(t, "kv", prefix, plen, rev, store_seen_cb, &seen),
		OSP_OK);
	osp_store_txn_abort(t);
	out[0] = '\0';
	for (size_t i = 0; i < seen.n; i++) {
		for (const char *c = seen.keys[i]; *c && o + 2 < len; c++) {
			unsigned char b = (unsigned char)*c;

			out[o++] = b >= 0x80 ? '#' : b < 0x20 ? '_' : *c;
		}
		if (i + 1 < seen.n && o + 2 < len)
			out[o++] = ',';
	}
	out[o] = '\0';
	return out;
}

static void store_fill(osp_store *s, const char *const *keys, size_t n)
{
	osp_txn *t = NULL;

	assert_int_equal(osp_store_txn_begin(s, true, &t), OSP_OK);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(osp_store_put(t, "kv", keys[i], strlen(keys[i]), "x", 1), OSP_OK);
	assert_int_equal(osp_store_txn_commit(t), OSP_OK);
}

static void test_store_foreach_prefix(void **state)
{
	ts_store_fx *f = *state;
	static const char *const keys[] = { "a", "ab", "ab\xff", "ab\xff\xff", "ab\xff\x01", "abc",
		"abd", "ac", "b", "b\xff", "\xff", "\xff\xff", "\xff\xff\x01" };
	store_seen seen = { .stop_after = 2 };
	osp_txn *t = NULL;
	char out[256];

	store_fill(f->s, keys, sizeof(keys) / sizeof(keys[0]));
	assert_string_equal(store_scan_str(f->s, "", 0, false, out, sizeof(out)),
		"a,ab,abc,abd,ab#,ab#_,ab##,ac,b,b#,#,##,##_");
	assert_string_equal(store_scan_str(f->s, "ab", 2, false, out, sizeof(out)),
		"ab,abc,abd,ab#,ab#_,ab##");
	assert_string_equal(store_scan_str(f->s, "ab", 2, true, out, sizeof(out)),
		"ab##,ab#_,ab#,abd,abc,ab");
	assert_string_equal(store_scan_str(f->s, "", 0, true, out, sizeof(out)),
		"##_,##,#,b#,b,ac,ab##,ab#_,ab#,abd,abc,ab,a");
	/* no prefix at all may be NULL */
	assert_string_equal(store_scan_str(f->s, NULL, 0, false, out, sizeof(out)),
		"a,ab,abc,abd,ab#,ab#_,ab##,ac,b,b#,#,##,##_");
	assert_string_equal(store_scan_str(f->s, NULL, 0, true, out, sizeof(out)),
		"##_,##,#,b#,b,ac,ab##,ab#_,ab#,abd,abc,ab,a");
	/* prefixes ending in 0xff: the upper bound has to carry */
	assert_string_equal(store_scan_str(f->s, "ab\xff", 3, false, out, sizeof(out)),
		"ab#,ab#_,ab##");
	assert_string_equal(store_scan_str(f->s, "ab\xff", 3, true, out, sizeof(out)),
		"ab##,ab#_,ab#");
	assert_string_equal(store_scan_str(f->s, "ab\xff\xff", 4, true, out, sizeof(out)),
		"ab##");
	assert_string_equal(store_scan_str(f->s, "b\xff", 2, true, out, sizeof(out)), "b#");
	assert_string_equal(store_scan_str(f->s, "b", 1, true, out, sizeof(out)), "b#,b");
	assert_string_equal(store_scan_str(f->s, "\xff", 1, true, out, sizeof(out)),
		"##_,##,#");
	assert_string_equal(store_scan_str(f->s, "\xff\xff", 2, true, out, sizeof(out)),
		"##_,##");
	assert_string_equal(store_scan_str(f->s, "\xff\xff", 2, false, out, sizeof(out)),
		"##,##_");
	/* absent prefixes, below, between and above every key */
	assert_string_equal(store_scan_str(f->s, "0", 1, true, out, sizeof(out)), "");
	assert_string_equal(store_scan_str(f->s, "0", 1, false, out, sizeof(out)), "");
	assert_string_equal(store_scan_str(f->s, "aa", 2, true, out, sizeof(out)), "");
	assert_string_equal(store_scan_str(f->s, "abe", 3, false, out, sizeof(out)), "");
	assert_string_equal(store_scan_str(f->s, "\xff\xff\xff", 3, true, out, sizeof(out)), "");

	/* stopping early and stopping with an error */
	assert_int_equal(osp_store_txn_begin(f->s, false, &t), OSP_OK);
	assert_int_equal(osp_store_foreach(t, "kv", "ab", 2, true, store_seen_cb, &seen), OSP_OK);
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.keys[1], "ab\xff\x01");
	seen = (store_seen){ .fail = true };
	assert_int_equal(osp_store_foreach(t, "kv", "", 0, false, store_seen_cb, &seen),
		OSP_EINVAL);
	assert_int_equal(seen.n, 1);
	assert_int_equal(osp_store_foreach(t, "nope", "", 0, false, store_seen_cb, &seen),
		OSP_EINVAL);
	osp_store_txn_abort(t);
}

static void test_store_foreach_from(void **state)
{
	ts_store_fx *f = *state;
	uint8_t key[16], from[16];
	store_seen seen = { .n = 0 };
	osp_txn *t = NULL;
	uint64_t got[40];
	size_t ng = 0;

	(void)got;
	assert_int_equal(osp_store_txn_begin(f->s, true, &t), OSP_OK);
	for (uint64_t node = 1; node <= 3; node++) {
		for (uint64_t seq = 1; seq <= 300; seq += 3) {
			key[0] = (uint8_t)('0' + node);
			osp_be64_put(key + 1, seq);
			assert_int_equal(osp_store_put(t, "kv", key, 9, "v", 1), OSP_OK);
		}
	}
	assert_int_equal(osp_store_txn_commit(t), OSP_OK);

	/* node 2 from sequence 290: 292, 295, 298 and nothing of node 3 */
	assert_int_equal(osp_store_txn_begin(f->s, false, &t), OSP_OK);
	from[0] = '2';
	osp_be64_put(from + 1, 290);
	assert_int_equal(osp_store_foreach_from(t, "kv", from, 1, from, 9, store_seen_cb, &seen),
		OSP_OK);
	assert_int_equal(seen.n, 3);
	for (size_t i = 0; i < seen.n; i++) {
		assert_int_equal(seen.keys[i][0], '2');
		got[ng++] = osp_be64_get((const uint8_t *)seen.keys[i] + 1);
	}
	assert_int_equal(got[0], 292);
	assert_int_equal(got[1], 295);
	assert_int_equal(got[2], 298);
	/* an exact hit is included */
	seen.n = 0;
	osp_be64_put(from + 1, 298);
	assert_int_equal(osp_store_foreach_from(t, "kv", from, 1, from, 9, store_seen_cb, &seen),
		OSP_OK);
	assert_int_equal(seen.n, 1);
	/* past the node's last key: nothing, not node 3's first */
	seen.n = 0;
	osp_be64_put(from + 1, 299);
	assert_int_equal(osp_store_foreach_from(t, "kv", from, 1, from, 9, store_seen_cb, &seen),
		OSP_OK);
	assert_int_equal(seen.n, 0);
	osp_store_txn_abort(t);
}

static void test_store_del_prefix(void **state)
{
	ts_store_fx *f = *state;
	static const char *const keys[] = { "a", "web-1", "web-1\x01", "web-10", "web-2",
		"web-0", "web-1\xff" };
	osp_txn *t = NULL;
	char out[512], key[32];
	uint64_t n = 0;
	size_t count = 99;

	memset(out, 'o', sizeof(out));
	store_fill(f->s, keys, sizeof(keys) / sizeof(keys[0]));
	/* enough keys to span many pages, deleted in one cursor walk */
	assert_int_equal(osp_store_txn_begin(f->s, true, &t), OSP_OK);
	for (int i = 0; i < 3000; i++) {
		int kl = snprintf(key, sizeof(key), "web-1/%05d", i);
		assert_int_equal(osp_store_put(t, "kv", key, (size_t)kl, out, 200), OSP_OK);
	}
	assert_int_equal(osp_store_txn_commit(t), OSP_OK);

	assert_int_equal(osp_store_txn_begin(f->s, true, &t), OSP_OK);
	assert_int_equal(osp_store_del_prefix(t, "kv", "web-1", 5, &count), OSP_OK);
	assert_int_equal(count, 3004);
	assert_int_equal(osp_store_count(t, "kv", &n), OSP_OK);
	assert_int_equal(n, 3);
	assert_int_equal(osp_store_txn_commit(t), OSP_OK);
	assert_string_equal(store_scan_str(f->s, "", 0, false, out, sizeof(out)),
		"a,web-0,web-2");

	/* nothing to delete; no prefix deletes everything */
	assert_int_equal(osp_store_txn_begin(f->s, true, &t), OSP_OK);
	assert_int_equal(osp_store_del_prefix(t, "kv", "web-3", 5, &count), OSP_OK);
	assert_int_equal(count, 0);
	assert_int_equal(osp_store_del_prefix(t, "kv", "z", 1, NULL), OSP_OK);
	assert_int_equal(osp_store_del_prefix(t, "kv", "web-2", 5, &count), OSP_OK);
	assert_int_equal(count, 1);
	assert_int_equal(osp_store_del_prefix(t, "kv", NULL, 0, &count), OSP_OK);
	assert_int_equal(count, 2);
	assert_int_equal(osp_store_del_prefix(t, "nope", "", 0, &count), OSP_EINVAL);
	assert_int_equal(osp_store_count(t, "kv", &n), OSP_OK);
	assert_int_equal(n, 0);
	assert_int_equal(osp_store_count(t, "nope", &n), OSP_EINVAL);
	assert_int_equal(osp_store_txn_commit(t), OSP_OK);
}

static void test_store_count(void **state)
{
	ts_store_fx *f = *state;
	osp_txn *t = NULL;
	uint64_t n = 99;
	char key[16];

	assert_int_equal(osp_store_txn_begin(f->s, true, &t), OSP_OK);
	assert_int_equal(osp_store_count(t, "kv", &n), OSP_OK);
	assert_int_equal(n, 0);
	for (int i = 0; i < 50; i++) {
		int kl = snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(osp_store_put(t, "kv", key, (size_t)kl, "v", 1), OSP_OK);
	}
	assert_int_equal(osp_store_put(t, "kv", "k7", 2, "again", 5), OSP_OK);
	assert_int_equal(osp_store_count(t, "kv", &n), OSP_OK);
	assert_int_equal(n, 50);
	assert_int_equal(osp_store_count(t, "other", &n), OSP_OK);
	assert_int_equal(n, 0);
	assert_int_equal(osp_store_count(t, "meta", &n), OSP_OK);
	assert_int_equal(n, 1);
	assert_int_equal(osp_store_txn_commit(t), OSP_OK);
}

static void test_store_map_full(void **state)
{
	ts_store_fx *f = *state;
	char dir[160], err[256], val[1000], key[16], buf[1024];
	osp_store *s = NULL;
	osp_txn *t = NULL;
	osp_err rv = OSP_OK;
	int i, committed = 0;

	snprintf(dir, sizeof(dir), "%s/tiny", f->root);
	assert_int_equal(ts_store_open(f->backend, dir, 1, 64 * 1024, &s, err, sizeof(err)),
		OSP_OK);
	memset(val, 'v', sizeof(val));
	/* one value per transaction until the map is full, at put or at commit */
	for (i = 0; i < 1000 && rv == OSP_OK; i++) {
		int kl = snprintf(key, sizeof(key), "k%04d", i);

		assert_int_equal(osp_store_txn_begin(s, true, &t), OSP_OK);
		rv = osp_store_put(t, "kv", key, (size_t)kl, val, sizeof(val));
		if (rv != OSP_OK) {
			osp_store_txn_abort(t);
			break;
		}
		rv = osp_store_txn_commit(t); /* frees t even on failure */
		if (rv == OSP_OK)
			committed++;
	}
	assert_int_equal(rv, OSP_EMAPFULL);
	assert_true(committed > 0 && committed < 64);

	/* still usable for reads */
	assert_int_equal(ts_store_get1(s, "kv", "k0000", 5, buf, sizeof(buf)), OSP_OK);
	assert_int_equal(strlen(buf), sizeof(val));
	if (f->backend != OSP_STORE_LMDB) {
		/* no bigger map to reopen with: a delete makes room for one more */
		assert_int_equal(osp_store_txn_begin(s, true, &t), OSP_OK);
		assert_int_equal(osp_store_del(t, "kv", "k0000", 5), OSP_OK);
		assert_int_equal(osp_store_put(t, "kv", "k9999", 5, val, sizeof(val)), OSP_OK);
		assert_int_equal(osp_store_txn_commit(t), OSP_OK);
		assert_int_equal(ts_store_get1(s, "kv", "k9999", 5, buf, sizeof(buf)), OSP_OK);
		osp_store_close(s);
		return;
	}
	osp_store_close(s);
	s = NULL;

	/* reopened as it was: everything committed before is there, nothing else */
	assert_int_equal(store_open_at(dir, 1, 64 * 1024, &s, err, sizeof(err)), OSP_OK);
	for (i = 0; i < committed; i++) {
		int kl = snprintf(key, sizeof(key), "k%04d", i);

		assert_int_equal(ts_store_get1(s, "kv", key, (size_t)kl, buf, sizeof(buf)), OSP_OK);
		assert_memory_equal(buf, val, sizeof(val));
	}
	snprintf(key, sizeof(key), "k%04d", committed);
	assert_int_equal(ts_store_get1(s, "kv", key, 5, buf, sizeof(buf)), OSP_ENOENT);
	osp_store_close(s);
	s = NULL;

	/* the operator's remedy: a bigger map, and writes succeed again */
	assert_int_equal(store_open_at(dir, 1, 1024 * 1024, &s, err, sizeof(err)), OSP_OK);
	assert_int_equal(osp_store_txn_begin(s, true, &t), OSP_OK);
	assert_int_equal(osp_store_put(t, "kv", key, 5, val, sizeof(val)), OSP_OK);
	assert_int_equal(osp_store_del(t, "kv", "k0000", 5), OSP_OK);
	assert_int_equal(osp_store_txn_commit(t), OSP_OK);
	assert_int_equal(ts_store_get1(s, "kv", key, 5, buf, sizeof(buf)), OSP_OK);
	assert_int_equal(ts_store_get1(s, "kv", "k0001", 5, buf, sizeof(buf)), OSP_OK);
	osp_store_close(s);
}

/* store_foreach_before: newest first from below a bound, the bound excluded
 * (the next page of a newest-first listing) */
static void test_store_foreach_before(void **state)
{
	ts_store_fx *f = *state;
	uint8_t key[8];
	store_seen seen = { .n = 0, .stop_after = 3 };
	osp_txn *t = NULL;

	assert_int_equal(osp_store_txn_begin(f->s, true, &t), OSP_OK);
	for (uint64_t seq = 10; seq <= 100; seq += 10) {
		osp_be64_put(key, seq);
		assert_int_equal(osp_store_put(t, "other", key, 8, "v", 1), OSP_OK);
	}
	assert_int_equal(osp_store_txn_commit(t), OSP_OK);
	assert_int_equal(osp_store_txn_begin(f->s, false, &t), OSP_OK);
	osp_be64_put(key, 70);
	assert_int_equal(osp_store_foreach_before(t, "other", NULL, 0, key, 8, store_seen_cb,
		&seen), OSP_OK);
	assert_int_equal(seen.n, 3);
	assert_int_equal(osp_be64_get((const uint8_t *)seen.keys[0]), 60);
	assert_int_equal(osp_be64_get((const uint8_t *)seen.keys[2]), 40);
	/* a bound between keys, past the last one, before the first one */
	seen.n = 0;
	osp_be64_put(key, 55);
	assert_int_equal(osp_store_foreach_before(t, "other", NULL, 0, key, 8, store_seen_cb,
		&seen), OSP_OK);
	assert_int_equal(osp_be64_get((const uint8_t *)seen.keys[0]), 50);
	seen.n = 0;
	osp_be64_put(key, 1000);
	assert_int_equal(osp_store_foreach_before(t, "other", NULL, 0, key, 8, store_seen_cb,
		&seen), OSP_OK);
	assert_int_equal(osp_be64_get((const uint8_t *)seen.keys[0]), 100);
	seen.n = 0;
	osp_be64_put(key, 10);
	assert_int_equal(osp_store_foreach_before(t, "other", NULL, 0, key, 8, store_seen_cb,
		&seen), OSP_OK);
	assert_int_equal(seen.n, 0);
	osp_store_txn_abort(t);
}

/* store_file_path writes DIR/name into buf. */
static const char *store_file_path(const char *dir, const char *name, char *buf, size_t len)
{
	assert_true((size_t)snprintf(buf, len, "%s/%s", dir, name) < len);
	return buf;
}

static osp_err store_open_init(const char *dir, bool init, osp_store **s, char *err,
	size_t errlen)
{
	static const char *const dbs[] = { "kv", "other" };
	osp_store_opts o = { .dir = dir, .dbs = dbs, .ndbs = 2, .schema = 3, .init = init };

	err[0] = '\0';
	return osp_store_open(&o, s, err, errlen);
}

/* A data.mdb cut short (a full disk, a bad copy) made LMDB map pages past the
 * end of the file: SIGBUS at the first read. Now each size is refused with
 * what it has and what it needs, and the process goes on. */
static void test_store_truncated_refused(void **state)
{
	ts_store_fx *f = *state;
	static const off_t cuts[] = { -4096, 40960, 24576, 12288, 8192, 6000, 4096, 100 };
	char path[256], err[512], val[1000], key[16], want[64];
	osp_store *s = NULL;
	osp_txn *t = NULL;
	struct stat st;

	memset(val, 'v', sizeof(val));
	assert_int_equal(osp_store_txn_begin(f->s, true, &t), OSP_OK);
	for (int i = 0; i < 300; i++) {
		int kl = snprintf(key, sizeof(key), "k%04d", i);
		assert_int_equal(osp_store_put(t, "kv", key, (size_t)kl, val, sizeof(val)), OSP_OK);
	}
	assert_int_equal(osp_store_txn_commit(t), OSP_OK);
	osp_store_close(f->s);
	f->s = NULL;
	store_file_path(f->dir, "data.mdb", path, sizeof(path));
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size > 100 * 1024);
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		off_t size = cuts[i] < 0 ? st.st_size + cuts[i] : cuts[i];

		assert_int_equal(truncate(path, size), 0);
		assert_int_equal(store_open_init(f->dir, false, &s, err, sizeof(err)), OSP_ESTORE);
		assert_null(s);
		snprintf(want, sizeof(want), "data.mdb is damaged: %lld bytes", (long long)size);
		if (strstr(err, want) == NULL || strstr(err, "restore a backup") == NULL)
			fail_msg("size %lld: %s", (long long)size, err);
		/* --init does not paper over a damaged file: it is evidence */
		assert_int_equal(store_open_init(f->dir, true, &s, err, sizeof(err)), OSP_ESTORE);
		assert_null(s);
	}
}

/* a file of the right size whose meta pages are not LMDB's */
static void test_store_garbage_refused(void **state)
{
	ts_store_fx *f = *state;
	char path[256], err[512], junk[16384];
	osp_store *s = NULL;
	FILE *fp;

	osp_store_close(f->s);
	f->s = NULL;
	memset(junk, 'x', sizeof(junk));
	fp = fopen(store_file_path(f->dir, "data.mdb", path, sizeof(path)), "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(junk, 1, sizeof(junk), fp), sizeof(junk));
	fclose(fp);
	assert_int_equal(store_open_init(f->dir, false, &s, err, sizeof(err)), OSP_ESTORE);
	assert_non_null(strstr(err, "without a valid LMDB meta page"));
}

/* data.mdb emptied or removed where a store was (store.id says so): refused,
 * so a coordinator does not start over with no rollouts and no history;
 * --init (o.init) is the operator saying "start empty" */
static void test_store_lost_needs_init(void **state)
{
	ts_store_fx *f = *state;
	char path[256], marker[256], err[512], buf[64];
	osp_store *s = NULL;
	struct stat st;

	ts_store_put1(f->s, "kv", "k", 1, "kept");
	osp_store_close(f->s);
	f->s = NULL;
	store_file_path(f->dir, "data.mdb", path, sizeof(path));
	store_file_path(f->dir, "store.id", marker, sizeof(marker));
	assert_int_equal(stat(marker, &st), 0);

	assert_int_equal(truncate(path, 0), 0);
	assert_int_equal(store_open_init(f->dir, false, &s, err, sizeof(err)), OSP_ESTORE);
	assert_null(s);
	assert_non_null(strstr(err, "data.mdb is empty (0 bytes)"));
	assert_non_null(strstr(err, "--init"));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 0); /* nothing was made of it */

	assert_int_equal(unlink(path), 0);
	assert_int_equal(store_open_init(f->dir, false, &s, err, sizeof(err)), OSP_ESTORE);
	assert_non_null(strstr(err, "data.mdb is missing"));

	/* with init: an empty store, usable, and the next start needs no flag */
	assert_int_equal(store_open_init(f->dir, true, &s, err, sizeof(err)), OSP_OK);
	assert_int_equal(ts_store_get1(s, "kv", "k", 1, buf, sizeof(buf)), OSP_ENOENT);
	ts_store_put1(s, "kv", "k", 1, "new");
	osp_store_close(s);
	s = NULL;
	assert_int_equal(store_open_init(f->dir, false, &s, err, sizeof(err)), OSP_OK);
	assert_int_equal(ts_store_get1(s, "kv", "k", 1, buf, sizeof(buf)), OSP_OK);
	assert_string_equal(buf, "new");
	osp_store_close(s);
}

/* a first start, and a store made before store.id existed, open as before */
static void test_store_fresh_and_old_open(void **state)
{
	ts_store_fx *f = *state;
	char dir[160], marker[256], err[512], buf[64];
	osp_store *s = NULL;
	struct stat st;

	snprintf(dir, sizeof(dir), "%s/fresh", f->root);
	assert_int_equal(store_open_init(dir, false, &s, err, sizeof(err)), OSP_OK);
	assert_int_equal(stat(store_file_path(dir, "store.id", marker, sizeof(marker)), &st), 0);
	assert_int_equal(st.st_size, OSP_UUID_LEN + 1);
	ts_store_put1(s, "kv", "k", 1, "v");
	osp_store_close(s);
	s = NULL;

	assert_int_equal(unlink(marker), 0); /* as an older version left it */
	assert_int_equal(store_open_init(dir, false, &s, err, sizeof(err)), OSP_OK);
	assert_int_equal(ts_store_get1(s, "kv", "k", 1, buf, sizeof(buf)), OSP_OK);
	assert_int_equal(stat(marker, &st), 0); /* marked from now on */
	osp_store_close(s);
}

static void test_store_be64(void **state)
{
	static const uint64_t vals[] = { 0, 1, 255, 256, 65535, 1ULL << 32, (1ULL << 56) + 7,
		UINT64_MAX - 1, UINT64_MAX };
	uint8_t a[8], b[8];
	const uint8_t want[8] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef };

	(void)state;
	osp_be64_put(a, 0x0123456789abcdefULL);
	assert_memory_equal(a, want, 8);
	assert_int_equal(osp_be64_get(want), 0x0123456789abcdefULL);
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		osp_be64_put(a, vals[i]);
		assert_int_equal(osp_be64_get(a), vals[i]);
		/* byte order is numeric order: what LMDB's memcmp sorting relies on */
		if (i > 0) {
			osp_be64_put(b, vals[i - 1]);
			assert_true(memcmp(b, a, 8) < 0);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TS_STORE_TEST(test_store_open_creates_dir, lmdb),
		TS_STORE_TEST(test_store_schema, lmdb),
		TS_STORE_TEST(test_store_schema, mem),
		TS_STORE_TEST(test_store_schema, etcd),
		TS_STORE_TEST(test_store_lock, lmdb),
		TS_STORE_TEST(test_store_open_errors, lmdb),
		TS_STORE_TEST(test_store_put_get_del, lmdb),
		TS_STORE_TEST(test_store_put_get_del, mem),
		TS_STORE_TEST(test_store_put_get_del, etcd),
		TS_STORE_TEST(test_store_foreach_prefix, lmdb),
		TS_STORE_TEST(test_store_foreach_prefix, mem),
		TS_STORE_TEST(test_store_foreach_prefix, etcd),
		TS_STORE_TEST(test_store_foreach_from, lmdb),
		TS_STORE_TEST(test_store_foreach_from, mem),
		TS_STORE_TEST(test_store_foreach_from, etcd),
		TS_STORE_TEST(test_store_del_prefix, lmdb),
		TS_STORE_TEST(test_store_del_prefix, mem),
		TS_STORE_TEST(test_store_del_prefix, etcd),
		TS_STORE_TEST(test_store_count, lmdb),
		TS_STORE_TEST(test_store_count, mem),
		TS_STORE_TEST(test_store_count, etcd),
		TS_STORE_TEST(test_store_map_full, lmdb),
		TS_STORE_TEST(test_store_map_full, mem),
		TS_STORE_TEST(test_store_map_full, etcd),
		TS_STORE_TEST(test_store_foreach_before, lmdb),
		TS_STORE_TEST(test_store_foreach_before, mem),
		TS_STORE_TEST(test_store_foreach_before, etcd),
		TS_STORE_TEST(test_store_truncated_refused, lmdb),
		TS_STORE_TEST(test_store_garbage_refused, lmdb),
		TS_STORE_TEST(test_store_lost_needs_init, lmdb),
		TS_STORE_TEST(test_store_fresh_and_old_open, lmdb),
		cmocka_unit_test(test_store_be64),
	};

	osp_log_setup(OSP_LOG_ERROR + 1, OSP_LOG_TEXT, "test_store", NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
