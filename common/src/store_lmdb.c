/*
 * store_lmdb.c - the LMDB back-end of the store (store_int.h): one
 * environment per directory, locked with flock, data.mdb checked against its
 * meta pages before it is mapped, named databases opened at open.
 */
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
#include "store_int.h"

#define STORE_MARKER "store.id"

typedef struct store_lmdb {
	MDB_env *env;
	int lock_fd;
	MDB_dbi dbis[STORE_NDBS];
} store_lmdb;

static osp_err store_lmdb_err(int rc)
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

static MDB_dbi store_lmdb_dbi(osp_txn *t, size_t db)
{
	return ((store_lmdb *)t->s->impl)->dbis[db];
}

/* store_lmdb_check_file refuses a data.mdb LMDB would crash on (truncated),
 * and an empty or missing one where store.id says a store existed, unless
 * o->init (an absent data.mdb without store.id is a first start). */
static osp_err store_lmdb_check_file(const osp_store_opts *o, char *err, size_t errlen)
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
		rv = store_lmdb_check_size(fd, what, "; restore a backup", (uint64_t)st.st_size,
			err, errlen);
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

/* store_lmdb_opened writes DIR/store.id once the store holds its schema:
 * from then on an empty or missing data.mdb is a loss, not a first start
 * (new stores, and older ones made before the marker). */
static void store_lmdb_opened(osp_store *s, const osp_store_opts *o)
{
	char path[4096], id[OSP_UUID_LEN + 2];
	struct stat st;

	(void)s;
	if ((size_t)snprintf(path, sizeof(path), "%s/" STORE_MARKER, o->dir) >= sizeof(path) ||
		lstat(path, &st) == 0 || osp_uuid_new(id) != OSP_OK)
		return;
	osp_strlcpy(id + OSP_UUID_LEN, "\n", 2);
	if (osp_file_write_atomic(path, id, OSP_UUID_LEN + 1, 0600) != OSP_OK)
		OSP_WARN("OSP-STORE-MARK", "cannot write '%s'", path);
}

/* store_lmdb_env opens the environment and every database of s. */
static int store_lmdb_env(store_lmdb *l, osp_store *s, const osp_store_opts *o)
{
	MDB_txn *txn = NULL;
	unsigned flags = MDB_NOTLS;
	int rc, dead = 0;

	if ((rc = mdb_env_create(&l->env)) != 0 ||
		(rc = mdb_env_set_maxdbs(l->env, STORE_NDBS)) != 0 ||
		(rc = mdb_env_set_mapsize(l->env, o->map_size ? o->map_size : 1ULL << 30)) != 0)
		return rc;
	if (o->nometasync)
		flags |= MDB_NOMETASYNC;
	if ((rc = mdb_env_open(l->env, o->dir, flags, 0600)) != 0)
		return rc;
	mdb_reader_check(l->env, &dead);
	if (dead > 0)
		OSP_WARN("OSP-STORE-READERS", "cleared %d stale reader slots in '%s'", dead, o->dir);
	if ((rc = mdb_txn_begin(l->env, NULL, 0, &txn)) != 0)
		return rc;
	for (size_t i = 0; i < s->ndbs; i++) {
		if ((rc = mdb_dbi_open(txn, s->names[i], MDB_CREATE, &l->dbis[i])) != 0) {
			mdb_txn_abort(txn);
			return rc;
		}
	}
	return mdb_txn_commit(txn);
}

static osp_err store_lmdb_open(osp_store *s, const osp_store_opts *o, char *err,
	size_t errlen)
{
	store_lmdb *l = calloc(1, sizeof(*l));
	osp_err rv;
	int rc;

	if (l == NULL)
		return OSP_ENOMEM;
	l->lock_fd = -1;
	s->impl = l;
	if ((rv = osp_mkdir_p(o->dir, 0700)) != OSP_OK) {
		snprintf(err, errlen, "cannot create '%s': %s", o->dir, strerror(errno));
		return rv;
	}
	rv = osp_dir_lock(o->dir, "ospec.lock", &l->lock_fd);
	if (rv != OSP_OK) {
		snprintf(err, errlen, "'%s' %s", o->dir,
			rv == OSP_ELOCKED ? "is in use by another process" : "cannot be locked");
		return rv;
	}
	if ((rv = store_lmdb_check_file(o, err, errlen)) != OSP_OK)
		return rv;
	if ((rc = store_lmdb_env(l, s, o)) != 0) {
		rv = store_lmdb_err(rc);
		snprintf(err, errlen, "store '%s': %s", o->dir, mdb_strerror(rc));
		return rv == OSP_ENOENT ? OSP_ESTORE : rv;
	}
	return OSP_OK;
}

static void store_lmdb_close(osp_store *s)
{
	store_lmdb *l = s->impl;

	if (l == NULL)
		return;
	if (l->env != NULL)
		mdb_env_close(l->env);
	if (l->lock_fd >= 0)
		close(l->lock_fd);
	free(l);
	s->impl = NULL;
}

static osp_err store_lmdb_txn_begin(osp_txn *t)
{
	store_lmdb *l = t->s->impl;
	MDB_txn *txn = NULL;
	int rc = mdb_txn_begin(l->env, NULL, t->write ? 0 : MDB_RDONLY, &txn);

	t->impl = txn;
	return store_lmdb_err(rc);
}

static osp_err store_lmdb_commit(osp_txn *t)
{
	int rc = mdb_txn_commit(t->impl);

	if (rc != 0)
		OSP_DEBUG("OSP-STORE-LMDB", "mdb_txn_commit: %s", mdb_strerror(rc));
	return store_lmdb_err(rc);
}

static void store_lmdb_abort(osp_txn *t)
{
	mdb_txn_abort(t->impl);
}

static osp_err store_lmdb_get(osp_txn *t, size_t db, const void *key, size_t klen,
	const void **val, size_t *vlen)
{
	MDB_val k = { klen, (void *)key }, v;
	int rc;

	if ((rc = mdb_get(t->impl, store_lmdb_dbi(t, db), &k, &v)) != 0)
		return store_lmdb_err(rc);
	*val = v.mv_data;
	*vlen = v.mv_size;
	return OSP_OK;
}

static osp_err store_lmdb_put(osp_txn *t, size_t db, const void *key, size_t klen,
	const void *val, size_t vlen)
{
	MDB_val k = { klen, (void *)key }, v = { vlen, (void *)val };

	return store_lmdb_err(mdb_put(t->impl, store_lmdb_dbi(t, db), &k, &v, 0));
}

static osp_err store_lmdb_del(osp_txn *t, size_t db, const void *key, size_t klen)
{
	MDB_val k = { klen, (void *)key };

	return store_lmdb_err(mdb_del(t->impl, store_lmdb_dbi(t, db), &k, NULL));
}

/* store_lmdb_seek_below positions c on the last key < bound (of blen bytes). */
static int store_lmdb_seek_below(MDB_cursor *c, const void *bound, size_t blen, MDB_val *k,
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

/* store_lmdb_seek_last positions c on the last key with prefix (for
 * reverse scans). */
static int store_lmdb_seek_last(MDB_cursor *c, const void *prefix, size_t plen, MDB_val *k,
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
	return store_lmdb_seek_below(c, upper, n, k, v);
}

static osp_err store_lmdb_foreach(osp_txn *t, size_t db, const void *prefix, size_t plen,
	const void *from, size_t flen, bool reverse, osp_store_iter_fn fn, void *arg)
{
	MDB_cursor *c = NULL;
	MDB_val k, v;
	osp_err rv = OSP_OK;
	int rc;

	if (!reverse && from == NULL && plen > 0) {
		from = prefix;
		flen = plen;
	}
	k.mv_size = flen;
	k.mv_data = (void *)from;
	if ((rc = mdb_cursor_open(t->impl, store_lmdb_dbi(t, db), &c)) != 0)
		return store_lmdb_err(rc);
	if (reverse && from != NULL)
		rc = store_lmdb_seek_below(c, from, flen, &k, &v);
	else if (reverse)
		rc = store_lmdb_seek_last(c, prefix, plen, &k, &v);
	else
		rc = mdb_cursor_get(c, &k, &v, from != NULL ? MDB_SET_RANGE : MDB_FIRST);
	while (rc == 0 && store_has_prefix(k.mv_data, k.mv_size, prefix, plen)) {
		int r = fn(arg, k.mv_data, k.mv_size, v.mv_data, v.mv_size);
		if (r < 0)
			rv = OSP_EINVAL;
		if (r != 0)
			goto out;
		rc = mdb_cursor_get(c, &k, &v, reverse ? MDB_PREV : MDB_NEXT);
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		rv = store_lmdb_err(rc);
out:
	mdb_cursor_close(c);
	return rv;
}

static osp_err store_lmdb_del_prefix(osp_txn *t, size_t db, const void *prefix, size_t plen,
	size_t *count)
{
	MDB_cursor *c = NULL;
	MDB_val k = { plen, (void *)prefix }, v;
	size_t n = 0;
	int rc;

	if ((rc = mdb_cursor_open(t->impl, store_lmdb_dbi(t, db), &c)) != 0)
		return store_lmdb_err(rc);
	rc = mdb_cursor_get(c, &k, &v, plen ? MDB_SET_RANGE : MDB_FIRST);
	while (rc == 0 && store_has_prefix(k.mv_data, k.mv_size, prefix, plen)) {
		if ((rc = mdb_cursor_del(c, 0)) != 0)
			break;
		n++;
		rc = mdb_cursor_get(c, &k, &v, MDB_GET_CURRENT);
		if (rc == MDB_NOTFOUND || rc == EINVAL)
			rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	*count = n;
	return rc == 0 || rc == MDB_NOTFOUND ? OSP_OK : store_lmdb_err(rc);
}

static osp_err store_lmdb_count(osp_txn *t, size_t db, uint64_t *n)
{
	MDB_stat st;
	int rc;

	if ((rc = mdb_stat(t->impl, store_lmdb_dbi(t, db), &st)) != 0)
		return store_lmdb_err(rc);
	*n = st.ms_entries;
	return OSP_OK;
}

static osp_err store_lmdb_usage(osp_store *s, uint64_t *used, uint64_t *map_size)
{
	store_lmdb *l = s->impl;
	MDB_envinfo info;
	MDB_stat st;

	if (l == NULL || l->env == NULL)
		return OSP_EINVAL;
	if (mdb_env_info(l->env, &info) != 0 || mdb_env_stat(l->env, &st) != 0)
		return OSP_ESTORE;
	*used = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
	*map_size = info.me_mapsize;
	return OSP_OK;
}

/* store_lmdb_copy: its own read transaction (and a writer thread inside
 * LMDB): writers of this environment are not blocked meanwhile. */
static osp_err store_lmdb_copy(osp_store *s, int fd, char *err, size_t errlen)
{
	store_lmdb *l = s->impl;
	int rc = mdb_env_copyfd2(l->env, fd, MDB_CP_COMPACT);

	if (rc != 0) {
		snprintf(err, errlen, "%s", mdb_strerror(rc));
		return OSP_ESTORE;
	}
	return OSP_OK;
}

const osp_store_ops osp_store_lmdb_ops = {
	.name = "lmdb",
	.open = store_lmdb_open,
	.opened = store_lmdb_opened,
	.close = store_lmdb_close,
	.txn_begin = store_lmdb_txn_begin,
	.commit = store_lmdb_commit,
	.abort = store_lmdb_abort,
	.get = store_lmdb_get,
	.put = store_lmdb_put,
	.del = store_lmdb_del,
	.foreach = store_lmdb_foreach,
	.del_prefix = store_lmdb_del_prefix,
	.count = store_lmdb_count,
	.usage = store_lmdb_usage,
	.copy = store_lmdb_copy,
};
