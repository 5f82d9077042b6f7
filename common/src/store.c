/*
 * store.c - the store's dispatcher: back-end selection, database names,
 * transactions and their failed-write count, the schema check and
 * migrations, shared by every back-end (store_int.h). LMDB is
 * store_lmdb.c, the in-memory store store_mem.c, etcd store_etcd.c, backup
 * files store_copy.c.
 */
#include "ospec/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ospec/log.h"
#include "ospec/util.h"
#include "store_int.h"

/* store_db finds db's index in s->names; -1 when the store has no such db. */
static int store_db(const osp_store *s, const char *db, size_t *i)
{
	if (db == NULL)
		return -1;
	for (size_t n = 0; n < s->ndbs; n++) {
		if (strcmp(s->names[n], db) == 0) {
			*i = n;
			return 0;
		}
	}
	return -1;
}

bool store_has_prefix(const void *k, size_t klen, const void *prefix, size_t plen)
{
	/* plen 0 may come with a NULL prefix: memcmp must not see it */
	return plen == 0 || (klen >= plen && memcmp(k, prefix, plen) == 0);
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
	const char *name = t->s->name;
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
				"failed: %s; the store is unchanged", name, (unsigned long long)v,
				(unsigned long long)v + 1, m->what ? m->what : "", why[0] ? why :
				osp_strerror(rv));
			return OSP_ESCHEMA;
		}
		OSP_INFO("OSP-STORE-MIGRATE", "store '%s': schema %llu -> %llu: %s", name,
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
				s->name, osp_strerror(rv));
		return rv;
	}
out:
	osp_store_txn_abort(t);
	if (rv != OSP_OK && rv != OSP_ESCHEMA)
		snprintf(err, errlen, "store schema check: %s", osp_strerror(rv));
	return rv;
}

/* store_ops_of returns the back-end's table (the back-end is checked). */
static const osp_store_ops *store_ops_of(osp_store_backend b)
{
	if (b == OSP_STORE_MEMORY)
		return &osp_store_mem_ops;
	return b == OSP_STORE_ETCD ? &osp_store_etcd_ops : &osp_store_lmdb_ops;
}

/* store_opts_check refuses what no back-end could open. */
static osp_err store_opts_check(const osp_store_opts *o, char *err, size_t errlen)
{
	if (o->ndbs > OSP_STORE_MAX_DBS) {
		snprintf(err, errlen, "too many databases");
		return OSP_EINVAL;
	}
	if (o->backend != OSP_STORE_LMDB && o->backend != OSP_STORE_MEMORY &&
		o->backend != OSP_STORE_ETCD) {
		snprintf(err, errlen, "unknown store back-end %d", (int)o->backend);
		return OSP_EINVAL;
	}
	if (o->backend == OSP_STORE_LMDB && o->dir == NULL) {
		snprintf(err, errlen, "an LMDB store needs a directory");
		return OSP_EINVAL;
	}
	if (o->backend == OSP_STORE_ETCD && (o->etcd_endpoints == NULL ||
		o->etcd_prefix == NULL || o->etcd_prefix[0] == '\0')) {
		snprintf(err, errlen, "an etcd store needs endpoints (HOST:PORT,...) and a key "
			"prefix");
		return OSP_EINVAL;
	}
	return OSP_OK;
}

osp_err osp_store_open(const osp_store_opts *o, osp_store **out, char *err, size_t errlen)
{
	osp_store *s = NULL;
	osp_err rv;

	if ((rv = store_opts_check(o, err, errlen)) != OSP_OK)
		return rv;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return OSP_ENOMEM;
	s->ops = store_ops_of(o->backend);
	osp_strlcpy(s->name, o->dir != NULL ? o->dir : s->ops->name, sizeof(s->name));
	s->names[0] = "meta";
	for (size_t i = 0; i < o->ndbs; i++)
		s->names[i + 1] = o->dbs[i];
	s->ndbs = o->ndbs + 1;
	if ((rv = s->ops->open(s, o, err, errlen)) != OSP_OK)
		goto fail;
	if ((rv = store_schema_check(s, o, err, errlen)) != OSP_OK)
		goto fail;
	if (s->ops->opened != NULL)
		s->ops->opened(s, o);
	*out = s;
	return OSP_OK;
fail:
	osp_store_close(s);
	return rv;
}

void osp_store_close(osp_store *s)
{
	if (s == NULL)
		return;
	s->ops->close(s);
	free(s);
}

osp_err osp_store_txn_begin(osp_store *s, bool write, osp_txn **t)
{
	osp_txn *x = calloc(1, sizeof(*x));
	osp_err rv;

	if (x == NULL)
		return OSP_ENOMEM;
	x->s = s;
	x->write = write;
	if ((rv = s->ops->txn_begin(x)) != OSP_OK) {
		free(x);
		return rv;
	}
	*t = x;
	return OSP_OK;
}

osp_err osp_store_txn_commit(osp_txn *t)
{
	osp_err rv;

	/* counted before the commit lets the next writer in: a writer that
	 * begins after a failed commit must see the count moved (it trusts
	 * its cached copy of the store only while the count stands) */
	if (t->wrote)
		__atomic_add_fetch(&t->s->write_failures, 1, __ATOMIC_SEQ_CST);
	rv = t->s->ops->commit(t);
	if (rv == OSP_OK && t->wrote)
		__atomic_sub_fetch(&t->s->write_failures, 1, __ATOMIC_SEQ_CST);
	if (rv != OSP_OK)
		OSP_ERROR("OSP-STORE-COMMIT", "store '%s': commit failed: %s", t->s->name,
			osp_strerror(rv));
	free(t);
	return rv;
}

void osp_store_txn_abort(osp_txn *t)
{
	if (t == NULL)
		return;
	if (t->wrote)
		__atomic_add_fetch(&t->s->write_failures, 1, __ATOMIC_SEQ_CST);
	t->s->ops->abort(t);
	free(t);
}

uint64_t osp_store_write_failures(const osp_txn *t)
{
	return __atomic_load_n(&t->s->write_failures, __ATOMIC_SEQ_CST);
}

osp_err osp_store_get(osp_txn *t, const char *db, const void *key, size_t klen,
	const void **val, size_t *vlen)
{
	size_t i;

	if (store_db(t->s, db, &i) != 0)
		return OSP_EINVAL;
	return t->s->ops->get(t, i, key, klen, val, vlen);
}

osp_err osp_store_put(osp_txn *t, const char *db, const void *key, size_t klen,
	const void *val, size_t vlen)
{
	size_t i;

	if (store_db(t->s, db, &i) != 0)
		return OSP_EINVAL;
	t->wrote = true;
	return t->s->ops->put(t, i, key, klen, val, vlen);
}

osp_err osp_store_del(osp_txn *t, const char *db, const void *key, size_t klen)
{
	size_t i;

	if (store_db(t->s, db, &i) != 0)
		return OSP_EINVAL;
	t->wrote = true;
	return t->s->ops->del(t, i, key, klen);
}

/* store_scan checks db and hands the scan to the back-end (store_int.h). */
static osp_err store_scan(osp_txn *t, const char *db, const void *prefix, size_t plen,
	const void *from, size_t flen, bool reverse, osp_store_iter_fn fn, void *arg)
{
	size_t i;

	if (store_db(t->s, db, &i) != 0)
		return OSP_EINVAL;
	return t->s->ops->foreach(t, i, prefix, plen, from, flen, reverse, fn, arg);
}

osp_err osp_store_foreach(osp_txn *t, const char *db, const void *prefix, size_t plen,
	bool reverse, osp_store_iter_fn fn, void *arg)
{
	if (reverse)
		return store_scan(t, db, prefix, plen, NULL, 0, true, fn, arg);
	return store_scan(t, db, prefix, plen, plen ? prefix : NULL, plen, false, fn, arg);
}

osp_err osp_store_foreach_before(osp_txn *t, const char *db, const void *prefix, size_t plen,
	const void *before, size_t blen, osp_store_iter_fn fn, void *arg)
{
	return store_scan(t, db, prefix, plen, before, blen, true, fn, arg);
}

osp_err osp_store_foreach_from(osp_txn *t, const char *db, const void *prefix, size_t plen,
	const void *from, size_t flen, osp_store_iter_fn fn, void *arg)
{
	return store_scan(t, db, prefix, plen, flen ? from : NULL, flen, false, fn, arg);
}

osp_err osp_store_del_prefix(osp_txn *t, const char *db, const void *prefix, size_t plen,
	size_t *count)
{
	size_t i, n = 0;
	osp_err rv;

	if (store_db(t->s, db, &i) != 0)
		return OSP_EINVAL;
	rv = t->s->ops->del_prefix(t, i, prefix, plen, &n);
	if (n > 0 || rv != OSP_OK)
		t->wrote = true;
	if (count != NULL)
		*count = n;
	return rv;
}

osp_err osp_store_count(osp_txn *t, const char *db, uint64_t *n)
{
	size_t i;

	if (store_db(t->s, db, &i) != 0)
		return OSP_EINVAL;
	return t->s->ops->count(t, i, n);
}

osp_err osp_store_usage(osp_store *s, uint64_t *used, uint64_t *map_size)
{
	if (s == NULL)
		return OSP_EINVAL;
	return s->ops->usage(s, used, map_size);
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

const char *osp_store_backend_name(const osp_store *s)
{
	return s->ops->name;
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
