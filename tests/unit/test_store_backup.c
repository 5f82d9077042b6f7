/*
 * test_store_backup.c - backups and schema migrations of the LMDB wrapper,
 * and the coordinator's restore checks (coord_backup.c): a compacted copy
 * holds the same records in a smaller file and never sees an uncommitted
 * write; a copy never replaces a file; a backup file's schema is read
 * without changing it and garbage is refused; an older store is migrated
 * step by step in one transaction (or not at all); a newer one is refused;
 * --restore refuses a non-empty data dir, moves it aside with
 * --force-restore, and refuses garbage and a newer schema.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "coord_backup.h"
#include "ospec/log.h"
#include "ospec/store.h"
#include "ospec/util.h"
#include "test_support.h"
#include "test_support_store.h"

static const char *const bk_dbs[] = { "kv", "other" };

typedef struct bk_fx {
	char root[64];
	char dir[128];
} bk_fx;

static osp_err bk_open(const char *dir, uint32_t schema, const osp_store_migration *m,
	size_t nm, osp_store **s, char *err, size_t errlen)
{
	osp_store_opts o = {
		.dir = dir,
		.dbs = bk_dbs,
		.ndbs = 2,
		.schema = schema,
		.migrations = m,
		.nmigrations = nm,
	};

	err[0] = '\0';
	*s = NULL;
	return osp_store_open(&o, s, err, errlen);
}

static int bk_setup(void **state)
{
	bk_fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	ts_mkdtemp(f->root, sizeof(f->root), "/tmp/ospec-bk-XXXXXX");
	snprintf(f->dir, sizeof(f->dir), "%s/db", f->root);
	*state = f;
	return 0;
}

static int bk_teardown(void **state)
{
	bk_fx *f = *state;

	ts_rmtree(f->root);
	free(f);
	return 0;
}

static void bk_put(osp_store *s, const char *db, const char *k, const char *v)
{
	ts_store_put1(s, db, k, strlen(k), v);
}

/* bk_get copies k's value into buf ("" when absent) and returns the code. */
static osp_err bk_get(osp_store *s, const char *db, const char *k, char *buf, size_t len)
{
	return ts_store_get1(s, db, k, strlen(k), buf, len);
}

static uint64_t bk_count(osp_store *s, const char *db)
{
	osp_txn *t = NULL;
	uint64_t n = 0;

	assert_int_equal(osp_store_txn_begin(s, false, &t), OSP_OK);
	assert_int_equal(osp_store_count(t, db, &n), OSP_OK);
	osp_store_txn_abort(t);
	return n;
}

static off_t bk_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

/* bk_install puts a backup file in place as DIR/data.mdb (what --restore does). */
static void bk_install(const char *file, const char *dir)
{
	char dst[256];

	assert_int_equal(osp_mkdir_p(dir, 0700), OSP_OK);
	snprintf(dst, sizeof(dst), "%s/data.mdb", dir);
	assert_int_equal(rename(file, dst), 0);
}

static void test_store_backup_copy_compacted(void **state)
{
	bk_fx *f = *state;
	osp_store *s = NULL, *c = NULL;
	char err[512], k[32], v[512], buf[600], path[256], src[256], dir2[256];
	uint64_t bytes = 0, schema = 0;
	struct stat st;

	assert_int_equal(bk_open(f->dir, 7, NULL, 0, &s, err, sizeof(err)), OSP_OK);
	memset(v, 'x', sizeof(v) - 1);
	v[sizeof(v) - 1] = '\0';
	for (int i = 0; i < 2000; i++) {
		snprintf(k, sizeof(k), "k%05d", i);
		bk_put(s, "kv", k, v);
	}
	for (int i = 0; i < 2000; i++) {
		osp_txn *t = NULL;

		if (i >= 1800)
			continue; /* keep the last 200: the pages of the others are freed */
		snprintf(k, sizeof(k), "k%05d", i);
		assert_int_equal(osp_store_txn_begin(s, true, &t), OSP_OK);
		assert_int_equal(osp_store_del(t, "kv", k, strlen(k)), OSP_OK);
		assert_int_equal(osp_store_txn_commit(t), OSP_OK);
	}
	bk_put(s, "other", "o", "1");

	snprintf(path, sizeof(path), "%s/backup.mdb", f->root);
	assert_int_equal(osp_store_copy(s, path, &bytes, err, sizeof(err)), OSP_OK);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal((uint64_t)st.st_size, bytes);
	snprintf(src, sizeof(src), "%s/data.mdb", f->dir);
	/* compacted: the free pages (of the 1800 deleted records) are not copied */
	assert_true(bk_size(path) * 2 < bk_size(src));
	snprintf(buf, sizeof(buf), "%s.tmp", path);
	assert_int_not_equal(access(buf, F_OK), 0);

	assert_int_equal(osp_store_file_schema(path, &schema, err, sizeof(err)), OSP_OK);
	assert_int_equal(schema, 7);

	/* the copy opens as a store with the same records */
	snprintf(dir2, sizeof(dir2), "%s/copy", f->root);
	bk_install(path, dir2);
	assert_int_equal(bk_open(dir2, 7, NULL, 0, &c, err, sizeof(err)), OSP_OK);
	assert_int_equal(bk_count(c, "kv"), 200);
	assert_int_equal(bk_count(c, "kv"), bk_count(s, "kv"));
	for (int i = 1800; i < 2000; i++) {
		snprintf(k, sizeof(k), "k%05d", i);
		assert_int_equal(bk_get(c, "kv", k, buf, sizeof(buf)), OSP_OK);
		assert_string_equal(buf, v);
	}
	assert_int_equal(bk_get(c, "kv", "k00001", buf, sizeof(buf)), OSP_ENOENT);
	assert_int_equal(bk_get(c, "other", "o", buf, sizeof(buf)), OSP_OK);
	assert_string_equal(buf, "1");
	osp_store_close(c);
	osp_store_close(s);
}

/* A write transaction open during the copy does not block it, and what it
 * has not committed is not in the copy. */
static void test_store_backup_copy_skips_uncommitted(void **state)
{
	bk_fx *f = *state;
	osp_store *s = NULL, *c = NULL;
	osp_txn *w = NULL;
	char err[512], path[256], dir2[256], buf[64];

	assert_int_equal(bk_open(f->dir, 1, NULL, 0, &s, err, sizeof(err)), OSP_OK);
	bk_put(s, "kv", "before", "1");
	assert_int_equal(osp_store_txn_begin(s, true, &w), OSP_OK);
	assert_int_equal(osp_store_put(w, "kv", "during", 6, "2", 1), OSP_OK);
	snprintf(path, sizeof(path), "%s/b.mdb", f->root);
	assert_int_equal(osp_store_copy(s, path, NULL, err, sizeof(err)), OSP_OK);
	assert_int_equal(osp_store_txn_commit(w), OSP_OK);
	assert_int_equal(bk_get(s, "kv", "during", buf, sizeof(buf)), OSP_OK);

	snprintf(dir2, sizeof(dir2), "%s/copy", f->root);
	bk_install(path, dir2);
	assert_int_equal(bk_open(dir2, 1, NULL, 0, &c, err, sizeof(err)), OSP_OK);
	assert_int_equal(bk_get(c, "kv", "before", buf, sizeof(buf)), OSP_OK);
	assert_int_equal(bk_get(c, "kv", "during", buf, sizeof(buf)), OSP_ENOENT);
	osp_store_close(c);
	osp_store_close(s);
}

static void test_store_backup_copy_refuses(void **state)
{
	bk_fx *f = *state;
	osp_store *s = NULL;
	char err[512], path[256], tmp[300];
	FILE *fp;

	assert_int_equal(bk_open(f->dir, 1, NULL, 0, &s, err, sizeof(err)), OSP_OK);
	/* an existing file is never replaced */
	snprintf(path, sizeof(path), "%s/exists.mdb", f->root);
	assert_non_null(fp = fopen(path, "w"));
	fputs("keep me", fp);
	fclose(fp);
	assert_int_equal(osp_store_copy(s, path, NULL, err, sizeof(err)), OSP_EEXIST);
	ts_assert_has(err, "exists");
	assert_non_null(fp = fopen(path, "r"));
	assert_non_null(fgets(tmp, sizeof(tmp), fp));
	fclose(fp);
	assert_string_equal(tmp, "keep me");
	/* a left-over temp file is not taken over either */
	snprintf(path, sizeof(path), "%s/new.mdb", f->root);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_non_null(fp = fopen(tmp, "w"));
	fclose(fp);
	assert_int_equal(osp_store_copy(s, path, NULL, err, sizeof(err)), OSP_EEXIST);
	ts_assert_has(err, "remove it");
	assert_int_not_equal(access(path, F_OK), 0);
	/* relative paths mean nothing to a remote coordinator */
	assert_int_equal(osp_store_copy(s, "rel.mdb", NULL, err, sizeof(err)), OSP_EINVAL);
	ts_assert_has(err, "absolute");
	osp_store_close(s);
}

static void test_store_backup_file_schema_refuses(void **state)
{
	bk_fx *f = *state;
	char err[512], path[256], buf[8192];
	uint64_t schema = 0;
	osp_store *s = NULL;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/garbage", f->root);
	assert_non_null(fp = fopen(path, "w"));
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 7 + 3);
	fwrite(buf, 1, sizeof(buf), fp);
	fclose(fp);
	assert_int_equal(osp_store_file_schema(path, &schema, err, sizeof(err)), OSP_ESTORE);
	ts_assert_has(err, "not an LMDB store file");

	snprintf(path, sizeof(path), "%s/empty", f->root);
	assert_non_null(fp = fopen(path, "w"));
	fclose(fp);
	assert_int_equal(osp_store_file_schema(path, &schema, err, sizeof(err)), OSP_ESTORE);
	ts_assert_has(err, "empty");

	assert_int_equal(osp_store_file_schema(f->root, &schema, err, sizeof(err)), OSP_ESTORE);
	snprintf(path, sizeof(path), "%s/absent", f->root);
	assert_int_equal(osp_store_file_schema(path, &schema, err, sizeof(err)), OSP_ESTORE);

	/* a truncated backup is refused before it is mapped */
	assert_int_equal(bk_open(f->dir, 1, NULL, 0, &s, err, sizeof(err)), OSP_OK);
	for (int i = 0; i < 300; i++) {
		char k[16];
		snprintf(k, sizeof(k), "k%d", i);
		bk_put(s, "kv", k, "some value that takes a little room in the pages");
	}
	snprintf(path, sizeof(path), "%s/full.mdb", f->root);
	assert_int_equal(osp_store_copy(s, path, NULL, err, sizeof(err)), OSP_OK);
	osp_store_close(s);
	assert_int_equal(truncate(path, bk_size(path) - 4096), 0);
	assert_int_equal(osp_store_file_schema(path, &schema, err, sizeof(err)), OSP_ESTORE);
	ts_assert_has(err, "damaged");
}

/* -- migrations -- */

static int bk_steps_run[8];
static size_t bk_nsteps_run;

/* 1 -> 2: kv "a" gets a "v2:" prefix */
static osp_err bk_m12(osp_txn *t, char *err, size_t errlen)
{
	const void *v;
	size_t vl;
	char buf[64];
	osp_err rv;

	bk_steps_run[bk_nsteps_run++] = 1;
	if ((rv = osp_store_get(t, "kv", "a", 1, &v, &vl)) != OSP_OK) {
		snprintf(err, errlen, "no key 'a'");
		return rv;
	}
	assert_true(vl + 3 < sizeof(buf));
	memcpy(buf, "v2:", 3);
	memcpy(buf + 3, v, vl); /* copied out before the put below */
	return osp_store_put(t, "kv", "a", 1, buf, vl + 3);
}

/* 2 -> 3: a key moves to the other database */
static osp_err bk_m23(osp_txn *t, char *err, size_t errlen)
{
	const void *v;
	size_t vl;
	char buf[64];
	osp_err rv;

	bk_steps_run[bk_nsteps_run++] = 2;
	if ((rv = osp_store_get(t, "kv", "a", 1, &v, &vl)) != OSP_OK) {
		snprintf(err, errlen, "no key 'a'");
		return rv;
	}
	assert_true(vl < sizeof(buf));
	memcpy(buf, v, vl);
	if ((rv = osp_store_put(t, "other", "a", 1, buf, vl)) != OSP_OK)
		return rv;
	return osp_store_del(t, "kv", "a", 1);
}

static osp_err bk_fail(osp_txn *t, char *err, size_t errlen)
{
	(void)t;
	bk_steps_run[bk_nsteps_run++] = 9;
	snprintf(err, errlen, "record 'a' cannot be converted");
	return OSP_EINVAL;
}

/* bk_store_v1 makes a store at schema 1 holding kv a=1. */
static void bk_store_v1(const char *dir)
{
	osp_store *s = NULL;
	char err[256];

	assert_int_equal(bk_open(dir, 1, NULL, 0, &s, err, sizeof(err)), OSP_OK);
	bk_put(s, "kv", "a", "1");
	osp_store_close(s);
}

static void test_store_backup_migrate_steps(void **state)
{
	bk_fx *f = *state;
	/* out of order on purpose: steps are found by their version */
	const osp_store_migration m[] = {
		{ 2, "move a to other", bk_m23 },
		{ 1, "prefix the values", bk_m12 },
	};
	osp_store *s = NULL;
	char err[256], buf[64];
	uint64_t schema = 0;

	bk_store_v1(f->dir);
	bk_nsteps_run = 0;
	assert_int_equal(bk_open(f->dir, 3, m, 2, &s, err, sizeof(err)), OSP_OK);
	assert_int_equal(bk_nsteps_run, 2);
	assert_int_equal(bk_steps_run[0], 1);
	assert_int_equal(bk_steps_run[1], 2);
	assert_int_equal(osp_store_schema(s, &schema), OSP_OK);
	assert_int_equal(schema, 3);
	assert_int_equal(bk_get(s, "kv", "a", buf, sizeof(buf)), OSP_ENOENT);
	assert_int_equal(bk_get(s, "other", "a", buf, sizeof(buf)), OSP_OK);
	assert_string_equal(buf, "v2:1");
	osp_store_close(s);

	/* at its version now: no step runs again */
	bk_nsteps_run = 0;
	assert_int_equal(bk_open(f->dir, 3, m, 2, &s, err, sizeof(err)), OSP_OK);
	assert_int_equal(bk_nsteps_run, 0);
	osp_store_close(s);
}

static void test_store_backup_migrate_missing_step(void **state)
{
	bk_fx *f = *state;
	const osp_store_migration m[] = { { 1, "prefix the values", bk_m12 } };
	osp_store *s = NULL;
	char err[256], buf[64];
	uint64_t schema = 0;

	bk_store_v1(f->dir);
	bk_nsteps_run = 0;
	assert_int_equal(bk_open(f->dir, 3, m, 1, &s, err, sizeof(err)), OSP_ESCHEMA);
	assert_null(s);
	ts_assert_has(err, "schema version 1");
	ts_assert_has(err, "knows 3");
	ts_assert_has(err, "no migration from 2 to 3");
	assert_int_equal(bk_nsteps_run, 0); /* checked before any step runs */
	/* unchanged, and the lock is free */
	assert_int_equal(bk_open(f->dir, 1, NULL, 0, &s, err, sizeof(err)), OSP_OK);
	assert_int_equal(osp_store_schema(s, &schema), OSP_OK);
	assert_int_equal(schema, 1);
	assert_int_equal(bk_get(s, "kv", "a", buf, sizeof(buf)), OSP_OK);
	assert_string_equal(buf, "1");
	osp_store_close(s);
}

static void test_store_backup_migrate_failure_rolls_back(void **state)
{
	bk_fx *f = *state;
	const osp_store_migration m[] = {
		{ 1, "prefix the values", bk_m12 },
		{ 2, "convert", bk_fail },
	};
	osp_store *s = NULL;
	char err[256], buf[64];
	uint64_t schema = 0;

	bk_store_v1(f->dir);
	bk_nsteps_run = 0;
	assert_int_equal(bk_open(f->dir, 3, m, 2, &s, err, sizeof(err)), OSP_ESCHEMA);
	assert_int_equal(bk_nsteps_run, 2);
	ts_assert_has(err, "migration from schema 2 to 3 (convert) failed");
	ts_assert_has(err, "cannot be converted");
	ts_assert_has(err, "unchanged");
	/* the first step's write went with the aborted transaction */
	assert_int_equal(bk_open(f->dir, 1, NULL, 0, &s, err, sizeof(err)), OSP_OK);
	assert_int_equal(osp_store_schema(s, &schema), OSP_OK);
	assert_int_equal(schema, 1);
	assert_int_equal(bk_get(s, "kv", "a", buf, sizeof(buf)), OSP_OK);
	assert_string_equal(buf, "1");
	osp_store_close(s);
}

static void test_store_backup_newer_refused(void **state)
{
	bk_fx *f = *state;
	osp_store *s = NULL;
	char err[256];

	assert_int_equal(bk_open(f->dir, 5, NULL, 0, &s, err, sizeof(err)), OSP_OK);
	osp_store_close(s);
	assert_int_equal(bk_open(f->dir, 4, NULL, 0, &s, err, sizeof(err)), OSP_ESCHEMA);
	assert_null(s);
	ts_assert_has(err, "schema version 5 is newer than this program, which knows 4");
}

/* -- the coordinator's --restore checks -- */

/* bk_backup_at makes a backup file of a store at schema into path. */
static void bk_backup_at(bk_fx *f, uint32_t schema, const char *path)
{
	osp_store *s = NULL;
	char err[256], dir[256];

	snprintf(dir, sizeof(dir), "%s/src-%u", f->root, schema);
	assert_int_equal(bk_open(dir, schema, NULL, 0, &s, err, sizeof(err)), OSP_OK);
	bk_put(s, "kv", "a", "restored");
	assert_int_equal(osp_store_copy(s, path, NULL, err, sizeof(err)), OSP_OK);
	osp_store_close(s);
}

static void test_store_backup_restore_checks(void **state)
{
	bk_fx *f = *state;
	char file[256], newer[256], data[256], moved[300], err[1024], buf[64];
	coord_cfg cfg = { 0 };
	osp_store *s = NULL;
	struct dirent *de;
	DIR *d;
	FILE *fp;

	snprintf(file, sizeof(file), "%s/b.mdb", f->root);
	snprintf(newer, sizeof(newer), "%s/newer.mdb", f->root);
	snprintf(data, sizeof(data), "%s/data", f->root);
	bk_backup_at(f, COORD_SCHEMA, file);
	bk_backup_at(f, COORD_SCHEMA + 1, newer);
	cfg.data = data;

	/* into a directory that does not exist: made, data.mdb in place */
	cfg.restore = file;
	assert_int_equal(coord_backup_restore(&cfg, err, sizeof(err)), 0);
	assert_int_equal(bk_open(data, COORD_SCHEMA, NULL, 0, &s, err, sizeof(err)), OSP_OK);
	assert_int_equal(bk_get(s, "kv", "a", buf, sizeof(buf)), OSP_OK);
	assert_string_equal(buf, "restored");
	bk_put(s, "kv", "a", "changed since");
	osp_store_close(s);

	/* a non-empty data dir is refused ... */
	assert_int_equal(coord_backup_restore(&cfg, err, sizeof(err)), 2);
	ts_assert_has(err, "is not empty");
	ts_assert_has(err, "--force-restore");
	/* ... and moved aside, never deleted, with --force-restore */
	cfg.force_restore = true;
	assert_int_equal(coord_backup_restore(&cfg, err, sizeof(err)), 0);
	assert_non_null(d = opendir(f->root));
	moved[0] = '\0';
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, "data.before-restore-", 20) == 0)
			snprintf(moved, sizeof(moved), "%s/%s", f->root, de->d_name);
	closedir(d);
	assert_true(moved[0] != '\0');
	assert_int_equal(bk_open(moved, COORD_SCHEMA, NULL, 0, &s, err, sizeof(err)), OSP_OK);
	assert_int_equal(bk_get(s, "kv", "a", buf, sizeof(buf)), OSP_OK);
	assert_string_equal(buf, "changed since");
	osp_store_close(s);
	assert_int_equal(bk_open(data, COORD_SCHEMA, NULL, 0, &s, err, sizeof(err)), OSP_OK);
	assert_int_equal(bk_get(s, "kv", "a", buf, sizeof(buf)), OSP_OK);
	assert_string_equal(buf, "restored");
	/* while a process holds the data dir, even --force-restore is refused */
	assert_int_equal(coord_backup_restore(&cfg, err, sizeof(err)), 2);
	ts_assert_has(err, "in use by another process");
	osp_store_close(s);
	cfg.force_restore = false;

	/* a newer schema and garbage are refused before the data dir is touched */
	snprintf(data, sizeof(data), "%s/data2", f->root);
	cfg.restore = newer;
	assert_int_equal(coord_backup_restore(&cfg, err, sizeof(err)), 2);
	ts_assert_has(err, "newer than this ospec-coordinator");
	assert_int_not_equal(access(data, F_OK), 0);
	snprintf(file, sizeof(file), "%s/garbage", f->root);
	assert_non_null(fp = fopen(file, "w"));
	fputs("not a store at all, just some text that is long enough to be read", fp);
	fclose(fp);
	cfg.restore = file;
	assert_int_equal(coord_backup_restore(&cfg, err, sizeof(err)), 2);
	ts_assert_has(err, "--restore");
	assert_int_not_equal(access(data, F_OK), 0);
	/* a store older than any migration */
	assert_false(coord_backup_can_open(0));
	assert_true(coord_backup_can_open(COORD_SCHEMA));
	assert_false(coord_backup_can_open(COORD_SCHEMA + 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_store_backup_copy_compacted, bk_setup,
			bk_teardown),
		cmocka_unit_test_setup_teardown(test_store_backup_copy_skips_uncommitted, bk_setup,
			bk_teardown),
		cmocka_unit_test_setup_teardown(test_store_backup_copy_refuses, bk_setup,
			bk_teardown),
		cmocka_unit_test_setup_teardown(test_store_backup_file_schema_refuses, bk_setup,
			bk_teardown),
		cmocka_unit_test_setup_teardown(test_store_backup_migrate_steps, bk_setup,
			bk_teardown),
		cmocka_unit_test_setup_teardown(test_store_backup_migrate_missing_step, bk_setup,
			bk_teardown),
		cmocka_unit_test_setup_teardown(test_store_backup_migrate_failure_rolls_back,
			bk_setup, bk_teardown),
		cmocka_unit_test_setup_teardown(test_store_backup_newer_refused, bk_setup,
			bk_teardown),
		cmocka_unit_test_setup_teardown(test_store_backup_restore_checks, bk_setup,
			bk_teardown),
	};

	osp_log_setup(OSP_LOG_ERROR, OSP_LOG_TEXT, "test_store_backup", NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
