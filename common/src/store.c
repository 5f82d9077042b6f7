/* store.c - the LMDB wrapper: open with lock and schema check, txns, iteration. */
#include "ospec/store.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ospec/log.h"
#include "ospec/util.h"

struct osp_store {
	MDB_env *env;
	int lock_fd;
	size_t ndbs;
	const char *names[OSP_STORE_MAX_DBS + 1];
	MDB_dbi dbis[OSP_STORE_MAX_DBS + 1];
	uint64_t write_failures; /* txns with writes aborted or not committed */
};

struct osp_txn {
	osp_store *s;
	MDB_txn *txn;
	bool wrote; /* a put or delete was made: an abort discards something */
};

static osp_err store_err(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return OSP_OK;
	case MDB_NOTFOUND:
		return OSP_ENOENT;
	case MDB_MAP_FULL:
		return OSP_EMAPFULL;
	case MDB_KEYEXIST:
		return OSP_EEXIST;
	case ENOMEM:
		return OSP_ENOMEM;
	default:
		return OSP_ESTORE;
	}
}

static int store_dbi(osp_store *s, const char *db, MDB_dbi *dbi)
{
	for (size_t i = 0; i < s->ndbs; i++) {
		if (strcmp(s->names[i], db) == 0) {
			*dbi = s->dbis[i];
			return 0;
		}
	}
	return -1;
}

/* store_migration_find returns the step from version `from`, or NULL. */
static const osp_store_migration *store_migration_find(const osp_store_opts *o, uint64_t from)
{
	for (size_t i = 0; i < o->nmigrations; i++)
		if (o->migrations[i].from == from && o->migrations[i].fn != NULL)
			return &o->migrations[i];
	return NULL;
}

/* store_migrate runs the steps from version `have` up to o->schema in t and
 * records the new version; nothing is committed here. */
static osp_err store_migrate(const osp_store_opts *o, osp_txn *t, uint64_t have, char *err,
	size_t errlen)
{
	char why[512];
	uint8_t be[8];
	osp_err rv;

	for (uint64_t v = have; v < o->schema; v++) {
		if (store_migration_find(o, v) == NULL) {
			snprintf(err, errlen, "store schema version %llu, this program knows %u and "
				"has no migration from %llu to %llu: upgrade through a version that has "
				"one, or restore a backup made by this version",
				(unsigned long long)have, o->schema, (unsigned long long)v,
				(unsigned long long)v + 1);
			return OSP_ESCHEMA;
		}
	}
	for (uint64_t v = have; v < o->schema; v++) {
		const osp_store_migration *m = store_migration_find(o, v);

		why[0] = '\0';
		if ((rv = m->fn(t, why, sizeof(why))) != OSP_OK) {
			snprintf(err, errlen, "store '%s': migration from schema %llu to %llu (%s) "
				"failed: %s; the store is unchanged", o->dir, (unsigned long long)v,
				(unsigned long long)v + 1, m->what ? m->what : "", why[0] ? why :
				osp_strerror(rv));
			return OSP_ESCHEMA;
		}
		OSP_INFO("OSP-STORE-MIGRATE", "store '%s': schema %llu -> %llu: %s", o->dir,
			(unsigned long long)v, (unsigned long long)v + 1, m->what ? m->what : "");
	}
	osp_be64_put(be, o->schema);
	return osp_store_put(t, "meta", "schema", 6, be, 8);
}

/* store_schema_check writes the schema version on first open, checks it
 * after, and migrates an older store (one write transaction: every step and
 * the new version, or nothing). */
static osp_err store_schema_check(osp_store *s, const osp_store_opts *o, char *err,
	size_t errlen)
{
	osp_txn *t = NULL;
	const void *v;
	size_t vl;
	uint8_t be[8];
	uint64_t have;
	osp_err rv;

	if ((rv = osp_store_txn_begin(s, true, &t)) != OSP_OK)
		goto out;
	rv = osp_store_get(t, "meta", "schema", 6, &v, &vl);
	if (rv == OSP_ENOENT) {
		osp_be64_put(be, o->schema);
		if ((rv = osp_store_put(t, "meta", "schema", 6, be, 8)) != OSP_OK)
			goto out;
		rv = osp_store_txn_commit(t);
		t = NULL;
		goto out;
	}
	if (rv != OSP_OK)
		goto out;
	have = vl == 8 ? osp_be64_get(v) : 0;
	if (vl != 8 || have == 0) {
		snprintf(err, errlen, "store schema version %llu, this program knows %u",
			(unsigned long long)have, o->schema);
		rv = OSP_ESCHEMA;
	} else if (have > o->schema) {
		snprintf(err, errlen, "store schema version %llu is newer than this program, which "
			"knows %u: run the version that wrote it (or newer), or restore a backup "
			"made by this version", (unsigned long long)have, o->schema);
		rv = OSP_ESCHEMA;
	} else if (have < o->schema) {
		if ((rv = store_migrate(o, t, have, err, errlen)) != OSP_OK)
			goto out;
		rv = osp_store_txn_commit(t);
		t = NULL;
		if (rv != OSP_OK)
			snprintf(err, errlen, "store '%s': cannot commit the schema migration: %s",
				o->dir, osp_strerror(rv));
		return rv;
	}
out:
	osp_store_txn_abort(t);
	if (rv != OSP_OK && rv != OSP_ESCHEMA)
		snprintf(err, errlen, "store schema check: %s", osp_strerror(rv));
	return rv;
}

/*
 * LMDB's file layout (lmdb 0.9 mdb.c), read before LMDB maps the file: a
 * mapped page past the end of a truncated data.mdb is a SIGBUS, not an error.
 * Pages 0 and 1 each hold a page header (pgno, pad, flags, lower/upper) and
 * then an MDB_meta: magic, version, address, mapsize, two MDB_db (the first's
 * md_pad is the page size), last_pg, txnid. LMDB uses the meta with the
 * higher txnid.
 */
#define STORE_MDB_MAGIC 0xBEEFC0DEU
#define STORE_MDB_VERSION 1U
#define STORE_MDB_P_META 0x08U
#define STORE_PGHDR (sizeof(size_t) + 8)            /* offsetof(MDB_page, mp_ptrs) */
#define STORE_DB_SIZE (8 + 5 * sizeof(size_t))      /* sizeof(MDB_db) */
#define STORE_META_PSIZE (8 + sizeof(void *) + sizeof(size_t))
#define STORE_META_LAST (STORE_META_PSIZE + 2 * STORE_DB_SIZE)
#define STORE_META_TXNID (STORE_META_LAST + sizeof(size_t))
#define STORE_META_END (STORE_META_TXNID + sizeof(size_t))
#define STORE_MARKER "store.id"

typedef struct store_meta {
	bool ok;           /* a meta page with LMDB's magic and version */
	uint32_t psize;
	uint64_t last_pg, txnid;
} store_meta;

static uint64_t store_word(const uint8_t *p)
{
	uint64_t v = 0;

	if (sizeof(size_t) == 8) {
		memcpy(&v, p, 8);
	} else {
		uint32_t w;
		memcpy(&w, p, 4);
		v = w;
	}
	return v;
}

/* store_meta_read decodes the meta page at off (native byte order, as LMDB
 * writes it); m->ok is false when it is not one. */
static void store_meta_read(int fd, off_t off, store_meta *m)
{
	uint8_t b[STORE_PGHDR + STORE_META_END];
	uint32_t magic, version;
	uint16_t flags;

	memset(m, 0, sizeof(*m));
	if (pread(fd, b, sizeof(b), off) != (ssize_t)sizeof(b))
		return;
	memcpy(&flags, b + sizeof(size_t) + 2, 2);
	memcpy(&magic, b + STORE_PGHDR, 4);
	memcpy(&version, b + STORE_PGHDR + 4, 4);
	memcpy(&m->psize, b + STORE_PGHDR + STORE_META_PSIZE, 4);
	m->last_pg = store_word(b + STORE_PGHDR + STORE_META_LAST);
	m->txnid = store_word(b + STORE_PGHDR + STORE_META_TXNID);
	m->ok = (flags & STORE_MDB_P_META) != 0 && magic == STORE_MDB_MAGIC &&
		version == STORE_MDB_VERSION;
}

static bool store_psize_ok(uint32_t ps)
{
	return ps >= 512 && ps <= 65536 && (ps & (ps - 1)) == 0;
}

/* The size checks below name their file `what` ("store 'DIR': data.mdb",
 * or a backup's path) and end their message with tail. */
static osp_err store_damaged(const char *what, const char *tail, uint64_t have, uint64_t need,
	char *err, size_t errlen)
{
	snprintf(err, errlen, "%s is damaged: %llu bytes, the store needs at least %llu%s", what,
		(unsigned long long)have, (unsigned long long)need, tail);
	return OSP_ESTORE;
}

/* store_check_size compares the size of the open data.mdb (or a backup of
 * one) with what its newest meta page says the store uses. */
static osp_err store_check_size(int fd, const char *what, const char *tail, uint64_t size,
	char *err, size_t errlen)
{
	long os = sysconf(_SC_PAGESIZE);
	uint64_t ps = os > 0 ? (uint64_t)os : 4096, need;
	store_meta m0, m1, *m;

	store_meta_read(fd, 0, &m0);
	if (m0.ok && store_psize_ok(m0.psize))
		ps = m0.psize;
	if (size < 2 * ps)
		return store_damaged(what, tail, size, 2 * ps, err, errlen);
	store_meta_read(fd, (off_t)ps, &m1);
	if (m1.ok && m1.psize != ps)
		m1.ok = false;
	if (!m0.ok && !m1.ok) {
		snprintf(err, errlen, "%s is damaged: %llu bytes without a valid LMDB meta page%s",
			what, (unsigned long long)size, tail);
		return OSP_ESTORE;
	}
	m = !m0.ok || (m1.ok && m1.txnid > m0.txnid) ? &m1 : &m0;
	if (m->last_pg >= UINT64_MAX / ps)
		return store_damaged(what, tail, size, UINT64_MAX, err, errlen);
	need = (m->last_pg + 1) * ps;
	if (size < need)
		return store_damaged(what, tail, size, need, err, errlen);
	return OSP_OK;
}

/* store_check_file refuses a data.mdb LMDB would crash on (truncated), and an
 * empty or missing one where store.id says a store existed, unless o->init
 * (an absent data.mdb without store.id is a first start). */
static osp_err store_check_file(const osp_store_opts *o, char *err, size_t errlen)
{
	char data[4096], marker[4096];
	struct stat st;
	bool had;
	int fd = -1;
	osp_err rv = OSP_OK;

	if ((size_t)snprintf(data, sizeof(data), "%s/data.mdb", o->dir) >= sizeof(data) ||
		(size_t)snprintf(marker, sizeof(marker), "%s/" STORE_MARKER, o->dir) >=
			sizeof(marker)) {
		snprintf(err, errlen, "store '%s': path too long", o->dir);
		return OSP_ETOOBIG;
	}
	had = lstat(marker, &st) == 0;
	fd = open(data, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno != ENOENT) {
		snprintf(err, errlen, "store '%s': cannot open data.mdb: %s", o->dir,
			strerror(errno));
		return OSP_ESTORE;
	}
	if (fd >= 0 && fstat(fd, &st) != 0) {
		snprintf(err, errlen, "store '%s': cannot stat data.mdb: %s", o->dir,
			strerror(errno));
		rv = OSP_ESTORE;
		goto out;
	}
	if (fd >= 0 && !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "store '%s': data.mdb is not a regular file", o->dir);
		rv = OSP_ESTORE;
		goto out;
	}
	if (fd >= 0 && st.st_size > 0) {
		char what[4200];

		snprintf(what, sizeof(what), "store '%s': data.mdb", o->dir);
		rv = store_check_size(fd, what, "; restore a backup", (uint64_t)st.st_size, err,
			errlen);
		goto out;
	}
	if (had && !o->init) {
		snprintf(err, errlen, "store '%s': data.mdb is %s but " STORE_MARKER " says a "
			"store existed here: restore a backup, or start with --init for an empty "
			"store", o->dir, fd >= 0 ? "empty (0 bytes)" : "missing");
		rv = OSP_ESTORE;
	} else if (had) {
		OSP_WARN("OSP-STORE-INIT", "--init: starting an empty store in '%s' where one "
			"existed", o->dir);
	}
out:
	if (fd >= 0)
		close(fd);
	return rv;
}

/* store_mark writes DIR/store.id once the store holds its schema: from then
 * on an empty or missing data.mdb is a loss, not a first start. */
static void store_mark(const char *dir)
{
	char path[4096], id[OSP_UUID_LEN + 2];
	struct stat st;

	if ((size_t)snprintf(path, sizeof(path), "%s/" STORE_MARKER, dir) >= sizeof(path) ||
		lstat(path, &st) == 0 || osp_uuid_new(id) != OSP_OK)
		return;
	osp_strlcpy(id + OSP_UUID_LEN, "\n", 2);
	if (osp_file_write_atomic(path, id, OSP_UUID_LEN + 1, 0600) != OSP_OK)
		OSP_WARN("OSP-STORE-MARK", "cannot write '%s'", path);
}

osp_err osp_store_open(const osp_store_opts *o, osp_store **out, char *err, size_t errlen)
{
	osp_store *s = NULL;
	MDB_txn *txn = NULL;
	unsigned flags = MDB_NOTLS;
	int rc, dead = 0;
	osp_err rv;

	if (o->ndbs > OSP_STORE_MAX_DBS) {
		snprintf(err, errlen, "too many databases");
		return OSP_EINVAL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return OSP_ENOMEM;
	s->lock_fd = -1;
	if ((rv = osp_mkdir_p(o->dir, 0700)) != OSP_OK) {
		snprintf(err, errlen, "cannot create '%s': %s", o->dir, strerror(errno));
		goto fail;
	}
	rv = osp_dir_lock(o->dir, "ospec.lock", &s->lock_fd);
	if (rv != OSP_OK) {
		snprintf(err, errlen, "'%s' %s", o->dir,
			rv == OSP_ELOCKED ? "is in use by another process" : "cannot be locked");
		goto fail;
	}
	if ((rv = store_check_file(o, err, errlen)) != OSP_OK)
		goto fail;
	rv = OSP_ESTORE;
	if ((rc = mdb_env_create(&s->env)) != 0 ||
		(rc = mdb_env_set_maxdbs(s->env, OSP_STORE_MAX_DBS + 1)) != 0 ||
		(rc = mdb_env_set_mapsize(s->env, o->map_size ? o->map_size : 1ULL << 30)) != 0)
		goto lmdb_fail;
	if (o->nometasync)
		flags |= MDB_NOMETASYNC;
	if ((rc = mdb_env_open(s->env, o->dir, flags, 0600)) != 0)
		goto lmdb_fail;
	mdb_reader_check(s->env, &dead);
	if (dead > 0)
		OSP_WARN("OSP-STORE-READERS", "cleared %d stale reader slots in '%s'", dead, o->dir);
	if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
		goto lmdb_fail;
	s->names[0] = "meta";
	for (size_t i = 0; i < o->ndbs; i++)
		s->names[i + 1] = o->dbs[i];
	s->ndbs = o->ndbs + 1;
	for (size_t i = 0; i < s->ndbs; i++)
		if ((rc = mdb_dbi_open(txn, s->names[i], MDB_CREATE, &s->dbis[i])) != 0)
			goto lmdb_fail;
	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc != 0)
		goto lmdb_fail;
	if ((rv = store_schema_check(s, o, err, errlen)) != OSP_OK)
		goto fail;
	store_mark(o->dir); /* new stores, and older ones made before the marker */
	*out = s;
	return OSP_OK;
lmdb_fail:
	rv = store_err(rc);
	if (rv == OSP_ENOENT)
		rv = OSP_ESTORE;
	snprintf(err, errlen, "store '%s': %s", o->dir, mdb_strerror(rc));
fail:
	if (txn != NULL)
		mdb_txn_abort(txn);
	osp_store_close(s);
	return rv;
}

void osp_store_close(osp_store *s)
{
	if (s == NULL)
		return;
	if (s->env != NULL)
		mdb_env_close(s->env);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	free(s);
}

osp_err osp_store_txn_begin(osp_store *s, bool write, osp_txn **t)
{
	osp_txn *x = calloc(1, sizeof(*x));
	int rc;

	if (x == NULL)
		return OSP_ENOMEM;
	x->s = s;
	if ((rc = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, &x->txn)) != 0) {
		free(x);
		return store_err(rc);
	}
	*t = x;
	return OSP_OK;
}

osp_err osp_store_txn_commit(osp_txn *t)
{
	int rc = mdb_txn_commit(t->txn);

	if (rc != 0 && t->wrote)
		t->s->write_failures++;
	free(t);
	if (rc != 0)
		OSP_ERROR("OSP-STORE-COMMIT", "commit failed: %s", mdb_strerror(rc));
	return store_err(rc);
}

void osp_store_txn_abort(osp_txn *t)
{
	if (t == NULL)
		return;
	if (t->wrote)
		t->s->write_failures++;
	mdb_txn_abort(t->txn);
	free(t);
}

uint64_t osp_store_write_failures(const osp_txn *t)
{
	return t->s->write_failures;
}

osp_err osp_store_get(osp_txn *t, const char *db, const void *key, size_t klen,
	const void **val, size_t *vlen)
{
	MDB_dbi dbi;
	MDB_val k = { klen, (void *)key }, v;
	int rc;

	if (store_dbi(t->s, db, &dbi) != 0)
		return OSP_EINVAL;
	if ((rc = mdb_get(t->txn, dbi, &k, &v)) != 0)
		return store_err(rc);
	*val = v.mv_data;
	*vlen = v.mv_size;
	return OSP_OK;
}

osp_err osp_store_put(osp_txn *t, const char *db, const void *key, size_t klen,
	const void *val, size_t vlen)
{
	MDB_dbi dbi;
	MDB_val k = { klen, (void *)key }, v = { vlen, (void *)val };

	if (store_dbi(t->s, db, &dbi) != 0)
		return OSP_EINVAL;
	t->wrote = true;
	return store_err(mdb_put(t->txn, dbi, &k, &v, 0));
}

osp_err osp_store_del(osp_txn *t, const char *db, const void *key, size_t klen)
{
	MDB_dbi dbi;
	MDB_val k = { klen, (void *)key };

	if (store_dbi(t->s, db, &dbi) != 0)
		return OSP_EINVAL;
	t->wrote = true;
	return store_err(mdb_del(t->txn, dbi, &k, NULL));
}

static bool store_has_prefix(const MDB_val *k, const void *prefix, size_t plen)
{
	/* plen 0 may come with a NULL prefix: memcmp must not see it */
	return plen == 0 || (k->mv_size >= plen && memcmp(k->mv_data, prefix, plen) == 0);
}

/* store_seek_below positions c on the last key < bound (of blen bytes). */
static int store_seek_below(MDB_cursor *c, const void *bound, size_t blen, MDB_val *k,
	MDB_val *v)
{
	int rc;

	k->mv_size = blen;
	k->mv_data = (void *)bound;
	rc = mdb_cursor_get(c, k, v, MDB_SET_RANGE);
	if (rc == MDB_NOTFOUND)
		return mdb_cursor_get(c, k, v, MDB_LAST);
	if (rc != 0)
		return rc;
	return mdb_cursor_get(c, k, v, MDB_PREV);
}

/* store_seek_last positions c on the last key with prefix (for reverse scans). */
static int store_seek_last(MDB_cursor *c, const void *prefix, size_t plen, MDB_val *k,
	MDB_val *v)
{
	uint8_t upper[512];
	size_t n = plen;

	if (plen == 0)
		return mdb_cursor_get(c, k, v, MDB_LAST);
	if (plen > sizeof(upper))
		return EINVAL;
	memcpy(upper, prefix, plen);
	/* the smallest key greater than every key with the prefix */
	while (n > 0 && upper[n - 1] == 0xff)
		n--;
	if (n == 0)
		return mdb_cursor_get(c, k, v, MDB_LAST);
	upper[n - 1]++;
	return store_seek_below(c, upper, n, k, v);
}

static osp_err store_scan(osp_txn *t, const char *db, const void *prefix, size_t plen,
	const void *from, size_t flen, bool reverse, osp_store_iter_fn fn, void *arg)
{
	MDB_dbi dbi;
	MDB_cursor *c = NULL;
	MDB_val k = { flen, (void *)from }, v;
	osp_err rv = OSP_OK;
	int rc;

	if (store_dbi(t->s, db, &dbi) != 0)
		return OSP_EINVAL;
	if ((rc = mdb_cursor_open(t->txn, dbi, &c)) != 0)
		return store_err(rc);
	if (reverse && from != NULL)
		rc = store_seek_below(c, from, flen, &k, &v);
	else if (reverse)
		rc = store_seek_last(c, prefix, plen, &k, &v);
	else
		rc = mdb_cursor_get(c, &k, &v, flen ? MDB_SET_RANGE : MDB_FIRST);
	while (rc == 0 && store_has_prefix(&k, prefix, plen)) {
		int r = fn(arg, k.mv_data, k.mv_size, v.mv_data, v.mv_size);
		if (r < 0)
			rv = OSP_EINVAL;
		if (r != 0)
			goto out;
		rc = mdb_cursor_get(c, &k, &v, reverse ? MDB_PREV : MDB_NEXT);
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		rv = store_err(rc);
out:
	mdb_cursor_close(c);
	return rv;
}

osp_err osp_store_foreach(osp_txn *t, const char *db, const void *prefix, size_t plen,
	bool reverse, osp_store_iter_fn fn, void *arg)
{
	if (reverse)
		return store_scan(t, db, prefix, plen, NULL, 0, true, fn, arg);
	return store_scan(t, db, prefix, plen, prefix, plen, false, fn, arg);
}

osp_err osp_store_foreach_before(osp_txn *t, const char *db, const void *prefix, size_t plen,
	const void *before, size_t blen, osp_store_iter_fn fn, void *arg)
{
	return store_scan(t, db, prefix, plen, before, blen, true, fn, arg);
}

osp_err osp_store_foreach_from(osp_txn *t, const char *db, const void *prefix, size_t plen,
	const void *from, size_t flen, osp_store_iter_fn fn, void *arg)
{
	return store_scan(t, db, prefix, plen, from, flen, false, fn, arg);
}

osp_err osp_store_del_prefix(osp_txn *t, const char *db, const void *prefix, size_t plen,
	size_t *count)
{
	MDB_dbi dbi;
	MDB_cursor *c = NULL;
	MDB_val k = { plen, (void *)prefix }, v;
	size_t n = 0;
	int rc;

	if (store_dbi(t->s, db, &dbi) != 0)
		return OSP_EINVAL;
	if ((rc = mdb_cursor_open(t->txn, dbi, &c)) != 0)
		return store_err(rc);
	rc = mdb_cursor_get(c, &k, &v, plen ? MDB_SET_RANGE : MDB_FIRST);
	while (rc == 0 && store_has_prefix(&k, prefix, plen)) {
		t->wrote = true;
		if ((rc = mdb_cursor_del(c, 0)) != 0)
			break;
		n++;
		rc = mdb_cursor_get(c, &k, &v, MDB_GET_CURRENT);
		if (rc == MDB_NOTFOUND || rc == EINVAL)
			rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	if (count != NULL)
		*count = n;
	return rc == 0 || rc == MDB_NOTFOUND ? OSP_OK : store_err(rc);
}

osp_err osp_store_count(osp_txn *t, const char *db, uint64_t *n)
{
	MDB_dbi dbi;
	MDB_stat st;
	int rc;

	if (store_dbi(t->s, db, &dbi) != 0)
		return OSP_EINVAL;
	if ((rc = mdb_stat(t->txn, dbi, &st)) != 0)
		return store_err(rc);
	*n = st.ms_entries;
	return OSP_OK;
}

osp_err osp_store_usage(osp_store *s, uint64_t *used, uint64_t *map_size)
{
	MDB_envinfo info;
	MDB_stat st;

	if (s == NULL || s->env == NULL)
		return OSP_EINVAL;
	if (mdb_env_info(s->env, &info) != 0 || mdb_env_stat(s->env, &st) != 0)
		return OSP_ESTORE;
	*used = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
	*map_size = info.me_mapsize;
	return OSP_OK;
}

osp_err osp_store_schema(osp_store *s, uint64_t *schema)
{
	osp_txn *t = NULL;
	const void *v;
	size_t vl;
	osp_err rv;

	if ((rv = osp_store_txn_begin(s, false, &t)) != OSP_OK)
		return rv;
	rv = osp_store_get(t, "meta", "schema", 6, &v, &vl);
	if (rv == OSP_OK && vl != 8)
		rv = OSP_ESTORE;
	if (rv == OSP_OK)
		*schema = osp_be64_get(v);
	osp_store_txn_abort(t);
	return rv;
}

/* store_fsync_dir makes a new name in the directory of path durable. */
static int store_fsync_dir(const char *path)
{
	char dir[4096];
	char *slash;
	int fd, rc;

	if (osp_strlcpy(dir, path, sizeof(dir)) >= sizeof(dir))
		return -1;
	slash = strrchr(dir, '/');
	if (slash == NULL)
		return -1;
	if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

osp_err osp_store_copy(osp_store *s, const char *path, uint64_t *bytes, char *err,
	size_t errlen)
{
	char tmp[4096];
	struct stat st;
	int fd = -1, rc;
	bool made = false;
	osp_err rv = OSP_EIO;

	if (s == NULL || s->env == NULL || path == NULL || path[0] != '/') {
		snprintf(err, errlen, "'%s': the backup file must be an absolute path",
			path ? path : "");
		return OSP_EINVAL;
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		snprintf(err, errlen, "'%s': path too long", path);
		return OSP_ETOOBIG;
	}
	if (lstat(path, &st) == 0) {
		snprintf(err, errlen, "'%s' exists: a backup never replaces a file", path);
		return OSP_EEXIST;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create '%s': %s%s", tmp, strerror(errno),
			errno == EEXIST ? " (another backup running, or one that was interrupted: "
					  "remove it)" : "");
		return errno == EEXIST ? OSP_EEXIST : OSP_EIO;
	}
	made = true;
	/* its own read transaction (and a writer thread inside LMDB): writers
	 * of this environment are not blocked meanwhile */
	if ((rc = mdb_env_copyfd2(s->env, fd, MDB_CP_COMPACT)) != 0) {
		snprintf(err, errlen, "cannot copy the store to '%s': %s", tmp, mdb_strerror(rc));
		rv = OSP_ESTORE;
		goto out;
	}
	if (fsync(fd) != 0 || fstat(fd, &st) != 0) {
		snprintf(err, errlen, "cannot write '%s': %s", tmp, strerror(errno));
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		snprintf(err, errlen, "cannot write '%s': %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	/* link, not rename: a file made at path meanwhile is never replaced */
	if (link(tmp, path) != 0) {
		snprintf(err, errlen, "cannot create '%s': %s", path, strerror(errno));
		rv = errno == EEXIST ? OSP_EEXIST : OSP_EIO;
		goto out;
	}
	if (store_fsync_dir(path) != 0) {
		snprintf(err, errlen, "cannot sync the directory of '%s': %s", path,
			strerror(errno));
		unlink(path);
		goto out;
	}
	if (bytes != NULL)
		*bytes = (uint64_t)st.st_size;
	rv = OSP_OK;
out:
	if (fd >= 0)
		close(fd);
	if (made)
		unlink(tmp);
	return rv;
}

/* store_file_check opens file read-only and checks its size against its
 * meta pages (a truncated LMDB file is a SIGBUS once mapped). */
static osp_err store_file_check(const char *file, char *err, size_t errlen)
{
	char what[4200];
	struct stat st;
	int fd;
	osp_err rv;

	fd = open(file, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open '%s': %s", file, strerror(errno));
		return OSP_ESTORE;
	}
	if (fstat(fd, &st) != 0) {
		snprintf(err, errlen, "cannot stat '%s': %s", file, strerror(errno));
		close(fd);
		return OSP_ESTORE;
	}
	if (!S_ISREG(st.st_mode) || st.st_size == 0) {
		snprintf(err, errlen, "'%s' is not an LMDB store file (%s)", file,
			!S_ISREG(st.st_mode) ? "not a regular file" : "empty");
		close(fd);
		return OSP_ESTORE;
	}
	snprintf(what, sizeof(what), "'%s'", file);
	rv = store_check_size(fd, what, " (not an LMDB store file, or a damaged one)",
		(uint64_t)st.st_size, err, errlen);
	close(fd);
	return rv;
}

osp_err osp_store_file_schema(const char *file, uint64_t *schema, char *err, size_t errlen)
{
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	MDB_val k = { 6, (void *)"schema" }, v;
	osp_err rv;
	int rc;

	if ((rv = store_file_check(file, err, errlen)) != OSP_OK)
		return rv;
	rv = OSP_ESTORE;
	if ((rc = mdb_env_create(&env)) != 0 ||
		(rc = mdb_env_set_maxdbs(env, OSP_STORE_MAX_DBS + 1)) != 0 ||
		/* NOLOCK: no FILE-lock is made beside a backup; nobody writes it */
		(rc = mdb_env_open(env, file, MDB_NOSUBDIR | MDB_RDONLY | MDB_NOLOCK, 0600)) != 0 ||
		(rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) != 0) {
		snprintf(err, errlen, "'%s' cannot be opened as an LMDB store: %s", file,
			mdb_strerror(rc));
		goto out;
	}
	if ((rc = mdb_dbi_open(txn, "meta", 0, &dbi)) != 0) {
		snprintf(err, errlen, "'%s' is an LMDB file without ospec's 'meta' database: %s",
			file, mdb_strerror(rc));
		goto out;
	}
	if ((rc = mdb_get(txn, dbi, &k, &v)) != 0 || v.mv_size != 8) {
		snprintf(err, errlen, "'%s' has no store schema version: not an ospec store", file);
		goto out;
	}
	*schema = osp_be64_get(v.mv_data);
	rv = OSP_OK;
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	if (env != NULL)
		mdb_env_close(env);
	return rv;
}

void osp_be64_put(uint8_t out[8], uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		out[i] = (uint8_t)(v & 0xff);
		v >>= 8;
	}
}

uint64_t osp_be64_get(const uint8_t in[8])
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | in[i];
	return v;
}
