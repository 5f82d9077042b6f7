/*
 * store_mem.c - the in-memory back-end of the store (store_int.h), for tests
 * and benchmarks: held to LMDB's behaviour, not to its speed.
 *
 * Each database is a version: a sorted array of records, reference counted.
 * A transaction holds the versions current at its begin (its snapshot); a
 * write transaction copies a database whole on its first write to it, and
 * its commit makes its copies current. One writer at a time (s->writer is
 * held from begin to commit or abort, as LMDB's writer mutex is); readers
 * never wait for it. A record is freed when it is overwritten or deleted in
 * the transaction that owns its copy, or with its version: a value is valid
 * until the transaction ends or its next write, as in LMDB.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

#define STORE_MEM_OVERHEAD 64 /* bytes per record counted against map_size */
#define STORE_MEM_MAXKEY 511  /* LMDB's default key size limit */

typedef struct store_mem_rec {
	size_t klen, vlen;
	uint8_t data[]; /* the key, then the value */
} store_mem_rec;

/* One version of one database. */
typedef struct store_mem_db {
	size_t ref; /* guarded by store_mem.lock */
	size_t n, cap;
	store_mem_rec **recs; /* sorted as LMDB sorts: memcmp, then length */
	uint64_t bytes;       /* keys, values and STORE_MEM_OVERHEAD each */
} store_mem_db;

typedef struct store_mem {
	pthread_mutex_t lock;   /* cur[] and every version's ref */
	pthread_mutex_t writer; /* held by the one write transaction */
	store_mem_db *cur[STORE_NDBS];
	size_t ndbs;
	uint64_t map_size;
	osp_err fail_next; /* osp_store_mem_fail_next_commit; guarded by lock */
} store_mem;

typedef struct store_mem_txn {
	store_mem_db *db[STORE_NDBS];
	bool own[STORE_NDBS]; /* db[i] is this transaction's copy */
	uint64_t gen;         /* bumped by each write: a scan seeks again */
} store_mem_txn;

static store_mem_rec *store_mem_rec_new(const void *k, size_t kl, const void *v, size_t vl)
{
	store_mem_rec *r = malloc(sizeof(*r) + kl + vl);

	if (r == NULL)
		return NULL;
	r->klen = kl;
	r->vlen = vl;
	memcpy(r->data, k, kl);
	if (vl > 0)
		memcpy(r->data + kl, v, vl);
	return r;
}

static int store_mem_cmp(const store_mem_rec *r, const void *k, size_t kl)
{
	int c = memcmp(r->data, k, r->klen < kl ? r->klen : kl);

	if (c != 0)
		return c;
	return r->klen < kl ? -1 : r->klen > kl ? 1 : 0;
}

/* store_mem_lower returns the index of the first record >= k (d->n if none). */
static size_t store_mem_lower(const store_mem_db *d, const void *k, size_t kl)
{
	size_t lo = 0, hi = d->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (store_mem_cmp(d->recs[mid], k, kl) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* store_mem_db_free frees a version no transaction holds any more. */
static void store_mem_db_free(store_mem_db *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->n; i++)
		free(d->recs[i]);
	free(d->recs);
	free(d);
}

/* store_mem_unref drops a reference to d; the caller holds m->lock. */
static void store_mem_unref(store_mem_db *d)
{
	if (d != NULL && --d->ref == 0)
		store_mem_db_free(d);
}

/* store_mem_clone copies d whole (records too) for a writer. */
static store_mem_db *store_mem_clone(const store_mem_db *d)
{
	store_mem_db *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->ref = 1;
	c->cap = d->n > 8 ? d->n : 8;
	if ((c->recs = calloc(c->cap, sizeof(*c->recs))) == NULL)
		goto fail;
	for (; c->n < d->n; c->n++) {
		const store_mem_rec *r = d->recs[c->n];

		c->recs[c->n] = store_mem_rec_new(r->data, r->klen, r->data + r->klen, r->vlen);
		if (c->recs[c->n] == NULL)
			goto fail;
	}
	c->bytes = d->bytes;
	return c;
fail:
	store_mem_db_free(c);
	return NULL;
}

static osp_err store_mem_open(osp_store *s, const osp_store_opts *o, char *err, size_t errlen)
{
	store_mem *m = calloc(1, sizeof(*m));

	if (m == NULL) {
		snprintf(err, errlen, "store '%s': out of memory", s->name);
		return OSP_ENOMEM;
	}
	pthread_mutex_init(&m->lock, NULL);
	pthread_mutex_init(&m->writer, NULL);
	s->impl = m;
	m->ndbs = s->ndbs;
	m->map_size = o->map_size ? o->map_size : 1ULL << 30;
	for (size_t i = 0; i < m->ndbs; i++) {
		if ((m->cur[i] = calloc(1, sizeof(*m->cur[i]))) == NULL) {
			snprintf(err, errlen, "store '%s': out of memory", s->name);
			return OSP_ENOMEM;
		}
		m->cur[i]->ref = 1;
	}
	return OSP_OK;
}

static void store_mem_close(osp_store *s)
{
	store_mem *m = s->impl;

	if (m == NULL)
		return;
	for (size_t i = 0; i < m->ndbs; i++)
		store_mem_db_free(m->cur[i]); /* no transaction may be open */
	pthread_mutex_destroy(&m->lock);
	pthread_mutex_destroy(&m->writer);
	free(m);
	s->impl = NULL;
}

static osp_err store_mem_txn_begin(osp_txn *t)
{
	store_mem *m = t->s->impl;
	store_mem_txn *x = calloc(1, sizeof(*x));

	if (x == NULL)
		return OSP_ENOMEM;
	if (t->write)
		pthread_mutex_lock(&m->writer);
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->ndbs; i++) {
		x->db[i] = m->cur[i];
		x->db[i]->ref++;
	}
	pthread_mutex_unlock(&m->lock);
	t->impl = x;
	return OSP_OK;
}

/* store_mem_end drops t's versions (its copies are freed) and the writer. */
static void store_mem_end(osp_txn *t)
{
	store_mem *m = t->s->impl;
	store_mem_txn *x = t->impl;

	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->ndbs; i++)
		store_mem_unref(x->db[i]);
	pthread_mutex_unlock(&m->lock);
	if (t->write)
		pthread_mutex_unlock(&m->writer);
	free(x);
	t->impl = NULL;
}

static osp_err store_mem_commit(osp_txn *t)
{
	store_mem *m = t->s->impl;
	store_mem_txn *x = t->impl;
	osp_err rv;

	pthread_mutex_lock(&m->lock);
	rv = OSP_OK;
	if (t->write) {
		rv = m->fail_next;
		m->fail_next = OSP_OK;
	}
	if (rv == OSP_OK) {
		for (size_t i = 0; i < m->ndbs; i++) {
			if (!x->own[i])
				continue;
			/* the copy's reference passes to cur; the old version loses cur's */
			store_mem_unref(m->cur[i]);
			m->cur[i] = x->db[i];
			x->db[i] = NULL;
		}
	}
	pthread_mutex_unlock(&m->lock);
	store_mem_end(t);
	return rv;
}

static void store_mem_abort(osp_txn *t)
{
	store_mem_end(t);
}

/* store_mem_wdb returns t's own copy of database i (made on first write). */
static osp_err store_mem_wdb(osp_txn *t, size_t i, store_mem_db **out)
{
	store_mem *m = t->s->impl;
	store_mem_txn *x = t->impl;
	store_mem_db *c;

	if (!t->write)
		return OSP_ESTORE; /* LMDB: EACCES, a write in a read-only txn */
	if (!x->own[i]) {
		if ((c = store_mem_clone(x->db[i])) == NULL)
			return OSP_ENOMEM;
		pthread_mutex_lock(&m->lock);
		store_mem_unref(x->db[i]);
		pthread_mutex_unlock(&m->lock);
		x->db[i] = c;
		x->own[i] = true;
	}
	x->gen++;
	*out = x->db[i];
	return OSP_OK;
}

/* store_mem_bytes is what t's snapshot uses of the map. */
static uint64_t store_mem_bytes(osp_txn *t)
{
	store_mem_txn *x = t->impl;
	uint64_t b = 0;

	for (size_t i = 0; i < t->s->ndbs; i++)
		b += x->db[i]->bytes;
	return b;
}

static osp_err store_mem_get(osp_txn *t, size_t db, const void *key, size_t klen,
	const void **val, size_t *vlen)
{
	const store_mem_db *d = ((store_mem_txn *)t->impl)->db[db];
	size_t i;

	if (klen == 0 || klen > STORE_MEM_MAXKEY)
		return OSP_ESTORE; /* LMDB: MDB_BAD_VALSIZE */
	i = store_mem_lower(d, key, klen);
	if (i == d->n || store_mem_cmp(d->recs[i], key, klen) != 0)
		return OSP_ENOENT;
	*val = d->recs[i]->data + klen;
	*vlen = d->recs[i]->vlen;
	return OSP_OK;
}

static osp_err store_mem_put(osp_txn *t, size_t db, const void *key, size_t klen,
	const void *val, size_t vlen)
{
	store_mem *m = t->s->impl;
	store_mem_db *d;
	store_mem_rec *r;
	uint64_t need = (uint64_t)klen + vlen + STORE_MEM_OVERHEAD, old = 0;
	size_t i;
	bool found;
	osp_err rv;

	if (klen == 0 || klen > STORE_MEM_MAXKEY)
		return OSP_ESTORE; /* LMDB: MDB_BAD_VALSIZE */
	if ((rv = store_mem_wdb(t, db, &d)) != OSP_OK)
		return rv;
	i = store_mem_lower(d, key, klen);
	found = i < d->n && store_mem_cmp(d->recs[i], key, klen) == 0;
	if (found)
		old = d->recs[i]->klen + d->recs[i]->vlen + STORE_MEM_OVERHEAD;
	if (store_mem_bytes(t) - old + need > m->map_size)
		return OSP_EMAPFULL;
	if (!found && d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 8;
		store_mem_rec **nr = realloc(d->recs, cap * sizeof(*nr));

		if (nr == NULL)
			return OSP_ENOMEM;
		d->recs = nr;
		d->cap = cap;
	}
	if ((r = store_mem_rec_new(key, klen, val, vlen)) == NULL)
		return OSP_ENOMEM;
	if (found) {
		free(d->recs[i]);
	} else {
		memmove(&d->recs[i + 1], &d->recs[i], (d->n - i) * sizeof(*d->recs));
		d->n++;
	}
	d->recs[i] = r;
	d->bytes = d->bytes - old + need;
	return OSP_OK;
}

/* store_mem_remove deletes records [i, j) of d. */
static void store_mem_remove(store_mem_db *d, size_t i, size_t j)
{
	for (size_t n = i; n < j; n++) {
		d->bytes -= d->recs[n]->klen + d->recs[n]->vlen + STORE_MEM_OVERHEAD;
		free(d->recs[n]);
	}
	memmove(&d->recs[i], &d->recs[j], (d->n - j) * sizeof(*d->recs));
	d->n -= j - i;
}

static osp_err store_mem_del(osp_txn *t, size_t db, const void *key, size_t klen)
{
	store_mem_txn *x = t->impl;
	store_mem_db *d = x->db[db];
	size_t i;
	osp_err rv;

	if (klen == 0 || klen > STORE_MEM_MAXKEY)
		return OSP_ESTORE;
	i = store_mem_lower(d, key, klen);
	if (i == d->n || store_mem_cmp(d->recs[i], key, klen) != 0)
		return t->write ? OSP_ENOENT : OSP_ESTORE;
	if ((rv = store_mem_wdb(t, db, &d)) != OSP_OK)
		return rv;
	store_mem_remove(d, i, i + 1);
	return OSP_OK;
}

/* store_mem_last returns one past the last record with prefix, from i on. */
static size_t store_mem_end_of(const store_mem_db *d, size_t i, const void *prefix,
	size_t plen)
{
	while (i < d->n && store_has_prefix(d->recs[i]->data, d->recs[i]->klen, prefix, plen))
		i++;
	return i;
}

/* store_mem_seek: forward, the first record >= from (or with prefix);
 * reverse, one past the last record < from (or with prefix). */
static size_t store_mem_seek(const store_mem_db *d, const void *prefix, size_t plen,
	const void *from, size_t flen, bool reverse)
{
	if (from != NULL)
		return store_mem_lower(d, from, flen);
	if (plen == 0)
		return reverse ? d->n : 0;
	if (!reverse)
		return store_mem_lower(d, prefix, plen);
	return store_mem_end_of(d, store_mem_lower(d, prefix, plen), prefix, plen);
}

static osp_err store_mem_foreach(osp_txn *t, size_t db, const void *prefix, size_t plen,
	const void *from, size_t flen, bool reverse, osp_store_iter_fn fn, void *arg)
{
	store_mem_txn *x = t->impl;
	uint8_t key[STORE_MEM_MAXKEY];
	size_t i = store_mem_seek(x->db[db], prefix, plen, from, flen, reverse), kl;

	for (;;) {
		const store_mem_db *d = x->db[db]; /* a write in fn may replace it */
		const store_mem_rec *r;
		uint64_t gen = x->gen;
		int rc;

		if (reverse ? i == 0 : i >= d->n)
			return OSP_OK;
		r = d->recs[reverse ? i - 1 : i];
		if (!store_has_prefix(r->data, r->klen, prefix, plen))
			return OSP_OK;
		kl = r->klen;
		memcpy(key, r->data, kl);
		rc = fn(arg, r->data, r->klen, r->data + r->klen, r->vlen);
		if (rc != 0)
			return rc < 0 ? OSP_EINVAL : OSP_OK;
		if (x->gen == gen) {
			i = reverse ? i - 1 : i + 1;
			continue;
		}
		/* fn wrote: find the place after this key again */
		d = x->db[db];
		i = store_mem_lower(d, key, kl);
		if (!reverse && i < d->n && store_mem_cmp(d->recs[i], key, kl) == 0)
			i++;
	}
}

static osp_err store_mem_del_prefix(osp_txn *t, size_t db, const void *prefix, size_t plen,
	size_t *count)
{
	store_mem_txn *x = t->impl;
	store_mem_db *d = x->db[db];
	size_t i = plen ? store_mem_lower(d, prefix, plen) : 0, j;
	osp_err rv;

	j = store_mem_end_of(d, i, prefix, plen);
	*count = 0;
	if (j == i)
		return OSP_OK;
	if ((rv = store_mem_wdb(t, db, &d)) != OSP_OK)
		return rv;
	store_mem_remove(d, i, j);
	*count = j - i;
	return OSP_OK;
}

static osp_err store_mem_count(osp_txn *t, size_t db, uint64_t *n)
{
	*n = ((store_mem_txn *)t->impl)->db[db]->n;
	return OSP_OK;
}

static osp_err store_mem_usage(osp_store *s, uint64_t *used, uint64_t *map_size)
{
	store_mem *m = s->impl;
	uint64_t b = 0;

	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->ndbs; i++)
		b += m->cur[i]->bytes;
	pthread_mutex_unlock(&m->lock);
	*used = b;
	*map_size = m->map_size;
	return OSP_OK;
}

osp_err osp_store_mem_fail_next_commit(osp_store *s, osp_err rv)
{
	store_mem *m;

	if (s == NULL || s->ops != &osp_store_mem_ops || rv == OSP_OK)
		return OSP_EINVAL;
	m = s->impl;
	pthread_mutex_lock(&m->lock);
	m->fail_next = rv;
	pthread_mutex_unlock(&m->lock);
	return OSP_OK;
}

const osp_store_ops osp_store_mem_ops = {
	.name = "memory",
	.open = store_mem_open,
	.close = store_mem_close,
	.txn_begin = store_mem_txn_begin,
	.commit = store_mem_commit,
	.abort = store_mem_abort,
	.get = store_mem_get,
	.put = store_mem_put,
	.del = store_mem_del,
	.foreach = store_mem_foreach,
	.del_prefix = store_mem_del_prefix,
	.count = store_mem_count,
	.usage = store_mem_usage,
	.copy = NULL, /* osp_store_copy: the memory store cannot be backed up */
};
