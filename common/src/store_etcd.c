/*
 * store_etcd.c - the etcd back-end of the store (store_int.h; docs/ha.md,
 * "The etcd store"): a write-through cache.
 *
 * Every record lives in etcd under PREFIX + dbname + "/" + key bytes. At
 * open all of them are read (paged, at one revision) into an inner memory
 * store (store_mem.c's own ops on an osp_store of ours: one map, not two),
 * and reads are served from it with the memory store's snapshots. A write
 * transaction writes into an inner write transaction and notes which
 * (db, key) it touched; its commit sends ONE etcd Txn: if the fence holds
 * (the leader key's create_revision, when opts set one) then put each
 * touched key's final value or delete it. Only when etcd says the Txn
 * succeeded is the inner transaction committed: the cache never holds what
 * etcd refused.
 *
 * The commit marker makes a Txn without an answer (OSP_ETIMEDOUT: an etcd
 * leader change, a member that died with the request) safe to settle: every
 * commit also puts PREFIX_commit to a value of its own, under the compare
 * "PREFIX_commit's mod_revision is the one the last commit left", so the
 * Txn applies at most once however often it is sent. After no answer the
 * marker is read again: our value means it applied; the old revision means
 * it did not, and it is sent again; for about three request timeouts. Only
 * then is the outcome unknown: the cache is stale and the next txn_begin
 * reloads it from etcd first, in an inner write transaction that replaces
 * everything, so readers already open keep their snapshot.
 *
 * Limits (docs/ha.md): one process writes a prefix at a time (the fence
 * makes a deposed leader's commits fail; the cache does not watch for other
 * writers, so two live writers would each keep a stale cache); the whole
 * store is held in memory (map_size is its budget, as for the memory
 * store); one commit must fit etcd's --max-txn-ops and --max-request-bytes
 * (OSP_ETOOBIG otherwise, logged with the flag to raise). Keys under the
 * prefix that do not start with a known database name and "/" (a leader
 * key, say) are not the store's and are left alone.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ospec/etcd.h"
#include "ospec/log.h"
#include "ospec/util.h"
#include "store_int.h"

typedef struct store_etcd {
	osp_store mem;          /* the cache, run by osp_store_mem_ops */
	/* Locks, always taken in this order: reload (a stale cache's reload, in
	 * txn_begin before the inner one begins), the inner store's writer (held
	 * by a write txn, and by the reload's inner write txn), lock (a leaf
	 * around e and last_err: nothing else is taken while it is held but the
	 * inner store's own internal lock). A commit holds the writer and takes
	 * lock; it never takes reload. */
	osp_etcd *e; /* one request at a time: under lock */
	pthread_mutex_t reload, lock;
	char *prefix, *fence_key;
	int64_t fence_rev;
	void (*fenced)(void *arg);
	void *fenced_arg;
	bool stale; /* __atomic: a commit's outcome is unknown, reload first */
	char *marker_key;       /* PREFIX_commit */
	int64_t marker_mod;     /* its mod_revision after the last commit (0: none): under
	                         * the inner writer */
	uint64_t marker_seq;    /* makes each commit's marker value unique */
	int64_t timeout_ms;     /* one request's */
	char last_err[1024]; /* the last failed commit's reason: under lock */
} store_etcd;

/* One (db, key) a write transaction touched. */
typedef struct store_etcd_touch {
	size_t db, klen;
	uint8_t key[];
} store_etcd_touch;

typedef struct store_etcd_txn {
	osp_txn mem; /* the inner transaction on the cache */
	store_etcd_touch **touched;
	size_t n, cap;
} store_etcd_txn;

/* store_etcd_key builds PREFIX + dbname + "/" + key into a heap buffer. */
static char *store_etcd_key(const store_etcd *se, size_t db, const void *key, size_t klen,
	size_t *out_len)
{
	const char *name = se->mem.names[db];
	size_t pl = strlen(se->prefix), nl = strlen(name);
	char *k = malloc(pl + nl + 1 + klen + 1);

	if (k == NULL)
		return NULL;
	memcpy(k, se->prefix, pl);
	memcpy(k + pl, name, nl);
	k[pl + nl] = '/';
	memcpy(k + pl + nl + 1, key, klen);
	*out_len = pl + nl + 1 + klen;
	return k;
}

/* store_etcd_split finds the database of an etcd key under the prefix:
 * -1 when it is not one of the store's. */
static int store_etcd_split(const store_etcd *se, const char *k, size_t kl, size_t *db,
	size_t *off)
{
	size_t pl = strlen(se->prefix);

	if (kl < pl || memcmp(k, se->prefix, pl) != 0)
		return -1;
	for (size_t i = 0; i < se->mem.ndbs; i++) {
		size_t nl = strlen(se->mem.names[i]);

		if (kl > pl + nl + 1 && memcmp(k + pl, se->mem.names[i], nl) == 0 &&
			k[pl + nl] == '/') {
			*db = i;
			*off = pl + nl + 1;
			return 0;
		}
	}
	return -1;
}

/* The reload's state: the inner write transaction it fills. */
typedef struct store_etcd_load {
	store_etcd *se;
	osp_txn *t;
	osp_err rv;
	uint64_t skipped;
} store_etcd_load;

static int store_etcd_load_cb(void *arg, const osp_etcd_kv *kv)
{
	store_etcd_load *l = arg;
	size_t db, off;

	if (store_etcd_split(l->se, kv->key, kv->klen, &db, &off) != 0) {
		l->skipped++; /* not the store's: a leader key, another program's */
		return 0;
	}
	l->rv = osp_store_mem_ops.put(l->t, db, kv->key + off, kv->klen - off, kv->val, kv->vlen);
	return l->rv == OSP_OK ? 0 : -1;
}

/* store_etcd_clear empties every database of the inner write transaction t. */
static osp_err store_etcd_clear(store_etcd *se, osp_txn *t)
{
	size_t n;
	osp_err rv = OSP_OK;

	for (size_t i = 0; i < se->mem.ndbs && rv == OSP_OK; i++)
		rv = osp_store_mem_ops.del_prefix(t, i, NULL, 0, &n);
	return rv;
}

/* store_etcd_marker_read reads the commit marker at revision rev (0: the
 * newest): *mod gets its mod_revision (0 when absent) and, when mine is not
 * NULL, *mine whether its value is mine_val. Takes se->lock. */
static osp_err store_etcd_marker_read(store_etcd *se, int64_t rev, int64_t *mod,
	const char *mine_val, bool *mine, char *err, size_t errlen)
{
	osp_etcd_kv kv = { 0 };
	osp_err rv;

	pthread_mutex_lock(&se->lock);
	rv = osp_etcd_get(se->e, se->marker_key, strlen(se->marker_key), rev, &kv, NULL, err,
		errlen);
	pthread_mutex_unlock(&se->lock);
	if (mine != NULL)
		*mine = rv == OSP_OK && mine_val != NULL && kv.val != NULL &&
			kv.vlen == strlen(mine_val) && memcmp(kv.val, mine_val, kv.vlen) == 0;
	if (rv == OSP_ENOENT) {
		*mod = 0;
		rv = OSP_OK;
	} else if (rv == OSP_OK) {
		*mod = kv.mod_rev;
	}
	osp_etcd_kv_free(&kv);
	return rv;
}

/* store_etcd_reload replaces the cache with every key under the prefix, read
 * at one revision, in one inner write transaction (open readers keep their
 * snapshot). The caller holds se->reload (or is the open). */
static osp_err store_etcd_reload(store_etcd *se, char *err, size_t errlen)
{
	osp_txn t = { .s = &se->mem, .write = true };
	store_etcd_load l = { .se = se, .t = &t, .rv = OSP_OK };
	int64_t rev = 0;
	osp_err rv;

	if ((rv = osp_store_mem_ops.txn_begin(&t)) != OSP_OK)
		return rv;
	rv = store_etcd_clear(se, &t);
	pthread_mutex_lock(&se->lock);
	if (rv == OSP_OK)
		rv = osp_etcd_range(se->e, se->prefix, strlen(se->prefix), NULL, 0, 0,
			store_etcd_load_cb, &l, &rev, err, errlen);
	pthread_mutex_unlock(&se->lock);
	if (rv == OSP_EINVAL && l.rv != OSP_OK) {
		rv = l.rv;
		snprintf(err, errlen, "cannot hold the store's keys in memory: %s (map_size is "
			"its byte budget)", osp_strerror(rv));
	}
	if (rv == OSP_OK)
		rv = store_etcd_marker_read(se, rev, &se->marker_mod, NULL, NULL, err, errlen);
	if (rv != OSP_OK) {
		osp_store_mem_ops.abort(&t);
		return rv;
	}
	OSP_DEBUG("OSP-STORE-ETCD-LOAD", "store '%s': loaded at etcd revision %" PRId64
		" (%" PRIu64 " keys under the prefix not the store's)", se->mem.name, rev,
		l.skipped);
	return osp_store_mem_ops.commit(&t);
}

static void store_etcd_close(osp_store *s)
{
	store_etcd *se = s->impl;

	if (se == NULL)
		return;
	osp_store_mem_ops.close(&se->mem);
	osp_etcd_free(se->e);
	pthread_mutex_destroy(&se->lock);
	pthread_mutex_destroy(&se->reload);
	free(se->prefix);
	free(se->fence_key);
	free(se->marker_key);
	free(se);
	s->impl = NULL;
}

/* store_etcd_init copies the options into se and makes the client. */
static osp_err store_etcd_init(store_etcd *se, const osp_store_opts *o, char *err,
	size_t errlen)
{
	se->prefix = osp_strdup_n(o->etcd_prefix, 4096);
	se->fence_key = o->etcd_fence_key ? osp_strdup_n(o->etcd_fence_key, 4096) : NULL;
	if (se->prefix != NULL) {
		size_t len = strlen(se->prefix) + sizeof("_commit");

		if ((se->marker_key = malloc(len)) != NULL)
			snprintf(se->marker_key, len, "%s_commit", se->prefix);
	}
	if (se->prefix == NULL || se->marker_key == NULL ||
		(o->etcd_fence_key != NULL && se->fence_key == NULL))
		return OSP_ENOMEM;
	se->timeout_ms = o->etcd_timeout_ms > 0 ? o->etcd_timeout_ms : 5000;
	se->fence_rev = o->etcd_fence_rev;
	se->fenced = o->etcd_fenced;
	se->fenced_arg = o->etcd_fenced_arg;
	return osp_etcd_new(o->etcd_endpoints, o->etcd_timeout_ms, &se->e, err, errlen);
}

static osp_err store_etcd_open(osp_store *s, const osp_store_opts *o, char *err,
	size_t errlen)
{
	store_etcd *se = calloc(1, sizeof(*se));
	char why[768] = "";
	osp_err rv;

	if (se == NULL)
		return OSP_ENOMEM;
	pthread_mutex_init(&se->lock, NULL);
	pthread_mutex_init(&se->reload, NULL);
	s->impl = se;
	if (o->dir == NULL)
		snprintf(s->name, sizeof(s->name), "etcd %s %s", o->etcd_endpoints,
			o->etcd_prefix);
	se->mem = (osp_store){ .ops = &osp_store_mem_ops, .ndbs = s->ndbs };
	memcpy(se->mem.names, s->names, sizeof(s->names));
	osp_strlcpy(se->mem.name, s->name, sizeof(se->mem.name));
	if ((rv = store_etcd_init(se, o, why, sizeof(why))) != OSP_OK)
		goto fail;
	if ((rv = osp_store_mem_ops.open(&se->mem, o, why, sizeof(why))) != OSP_OK)
		goto fail;
	if ((rv = store_etcd_reload(se, why, sizeof(why))) != OSP_OK)
		goto fail;
	return OSP_OK;
fail:
	snprintf(err, errlen, "store '%s': cannot open: %s", s->name,
		why[0] ? why : osp_strerror(rv));
	return rv;
}

/* store_etcd_fresh reloads a stale cache before a transaction begins. */
static osp_err store_etcd_fresh(store_etcd *se)
{
	char err[768] = "";
	osp_err rv = OSP_OK;

	if (!__atomic_load_n(&se->stale, __ATOMIC_SEQ_CST))
		return OSP_OK;
	pthread_mutex_lock(&se->reload);
	if (__atomic_load_n(&se->stale, __ATOMIC_SEQ_CST))
		rv = store_etcd_reload(se, err, sizeof(err));
	if (rv == OSP_OK && __atomic_exchange_n(&se->stale, false, __ATOMIC_SEQ_CST))
		OSP_INFO("OSP-STORE-ETCD-RELOAD", "store '%s': reloaded from etcd after a commit "
			"of unknown outcome", se->mem.name);
	pthread_mutex_unlock(&se->reload);
	if (rv != OSP_OK)
		OSP_ERROR("OSP-STORE-ETCD-STALE", "store '%s': a commit's outcome is unknown and "
			"the cache cannot be reloaded: %s", se->mem.name, err);
	return rv;
}

static osp_err store_etcd_txn_begin(osp_txn *t)
{
	store_etcd *se = t->s->impl;
	store_etcd_txn *x;
	osp_err rv;

	if ((rv = store_etcd_fresh(se)) != OSP_OK)
		return rv;
	if ((x = calloc(1, sizeof(*x))) == NULL)
		return OSP_ENOMEM;
	x->mem = (osp_txn){ .s = &se->mem, .write = t->write };
	if ((rv = osp_store_mem_ops.txn_begin(&x->mem)) != OSP_OK) {
		free(x);
		return rv;
	}
	t->impl = x;
	return OSP_OK;
}

/* store_etcd_txn_free frees what t noted (the inner txn has ended). */
static void store_etcd_txn_free(osp_txn *t)
{
	store_etcd_txn *x = t->impl;

	for (size_t i = 0; i < x->n; i++)
		free(x->touched[i]);
	free(x->touched);
	free(x);
	t->impl = NULL;
}

static void store_etcd_abort(osp_txn *t)
{
	osp_store_mem_ops.abort(&((store_etcd_txn *)t->impl)->mem);
	store_etcd_txn_free(t);
}

/* store_etcd_touch notes that t wrote (db, key). */
static osp_err store_etcd_touch_add(osp_txn *t, size_t db, const void *key, size_t klen)
{
	store_etcd_txn *x = t->impl;
	store_etcd_touch *k;

	if (x->n == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 16;
		store_etcd_touch **n = realloc(x->touched, cap * sizeof(*n));

		if (n == NULL)
			return OSP_ENOMEM;
		x->touched = n;
		x->cap = cap;
	}
	if ((k = malloc(sizeof(*k) + klen)) == NULL)
		return OSP_ENOMEM;
	k->db = db;
	k->klen = klen;
	memcpy(k->key, key, klen);
	x->touched[x->n++] = k;
	return OSP_OK;
}

static osp_err store_etcd_get(osp_txn *t, size_t db, const void *key, size_t klen,
	const void **val, size_t *vlen)
{
	return osp_store_mem_ops.get(&((store_etcd_txn *)t->impl)->mem, db, key, klen, val,
		vlen);
}

static osp_err store_etcd_put(osp_txn *t, size_t db, const void *key, size_t klen,
	const void *val, size_t vlen)
{
	osp_err rv = osp_store_mem_ops.put(&((store_etcd_txn *)t->impl)->mem, db, key, klen, val,
		vlen);

	return rv == OSP_OK ? store_etcd_touch_add(t, db, key, klen) : rv;
}

static osp_err store_etcd_del(osp_txn *t, size_t db, const void *key, size_t klen)
{
	osp_err rv = osp_store_mem_ops.del(&((store_etcd_txn *)t->impl)->mem, db, key, klen);

	return rv == OSP_OK ? store_etcd_touch_add(t, db, key, klen) : rv;
}

static osp_err store_etcd_foreach(osp_txn *t, size_t db, const void *prefix, size_t plen,
	const void *from, size_t flen, bool reverse, osp_store_iter_fn fn, void *arg)
{
	return osp_store_mem_ops.foreach(&((store_etcd_txn *)t->impl)->mem, db, prefix, plen,
		from, flen, reverse, fn, arg);
}

/* The keys a del_prefix is about to delete, noted one by one. */
typedef struct store_etcd_note {
	osp_txn *t;
	size_t db;
	osp_err rv;
} store_etcd_note;

static int store_etcd_note_cb(void *arg, const void *key, size_t klen, const void *val,
	size_t vlen)
{
	store_etcd_note *n = arg;

	(void)val;
	(void)vlen;
	n->rv = store_etcd_touch_add(n->t, n->db, key, klen);
	return n->rv == OSP_OK ? 0 : -1;
}

static osp_err store_etcd_del_prefix(osp_txn *t, size_t db, const void *prefix, size_t plen,
	size_t *count)
{
	store_etcd_txn *x = t->impl;
	store_etcd_note n = { .t = t, .db = db, .rv = OSP_OK };
	osp_err rv;

	*count = 0;
	/* noted first: the inner delete frees the keys (in a read txn it then
	 * fails as the memory store's does, and a read txn's notes are unused) */
	rv = osp_store_mem_ops.foreach(&x->mem, db, prefix, plen, plen ? prefix : NULL, plen,
		false, store_etcd_note_cb, &n);
	if (rv != OSP_OK)
		return n.rv != OSP_OK ? n.rv : rv;
	return osp_store_mem_ops.del_prefix(&x->mem, db, prefix, plen, count);
}

static osp_err store_etcd_count(osp_txn *t, size_t db, uint64_t *n)
{
	return osp_store_mem_ops.count(&((store_etcd_txn *)t->impl)->mem, db, n);
}

static osp_err store_etcd_usage(osp_store *s, uint64_t *used, uint64_t *map_size)
{
	return osp_store_mem_ops.usage(&((store_etcd *)s->impl)->mem, used, map_size);
}

/* store_etcd_touch_cmp orders touches by db, then key as the store sorts. */
static int store_etcd_touch_cmp(const void *pa, const void *pb)
{
	const store_etcd_touch *a = *(store_etcd_touch *const *)pa;
	const store_etcd_touch *b = *(store_etcd_touch *const *)pb;
	int c;

	if (a->db != b->db)
		return a->db < b->db ? -1 : 1;
	c = memcmp(a->key, b->key, a->klen < b->klen ? a->klen : b->klen);
	if (c != 0)
		return c;
	return a->klen < b->klen ? -1 : a->klen > b->klen ? 1 : 0;
}

/* The Txn a commit sends: one operation per distinct key, their keys, and
 * the commit marker's put last (its value in marker). */
typedef struct store_etcd_batch {
	osp_etcd_op *ops;
	char **keys;
	size_t n;
	char marker[96];
} store_etcd_batch;

static void store_etcd_batch_fini(store_etcd_batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->keys[i]);
	free(b->keys);
	free(b->ops);
}

/* store_etcd_batch_add adds the operation that leaves k as t has it: a put of
 * its value (pointing into t: valid until t ends) or a delete. */
static osp_err store_etcd_batch_add(store_etcd *se, store_etcd_txn *x, const store_etcd_touch *k,
	store_etcd_batch *b)
{
	osp_etcd_op *op = &b->ops[b->n];
	const void *v = NULL;
	size_t vl = 0;
	osp_err rv = osp_store_mem_ops.get(&x->mem, k->db, k->key, k->klen, &v, &vl);

	if (rv != OSP_OK && rv != OSP_ENOENT)
		return rv;
	if ((b->keys[b->n] = store_etcd_key(se, k->db, k->key, k->klen, &op->klen)) == NULL)
		return OSP_ENOMEM;
	op->key = b->keys[b->n];
	op->del = rv == OSP_ENOENT;
	op->val = v;
	op->vlen = vl;
	b->n++;
	return OSP_OK;
}

/* store_etcd_batch_make builds the operations of t's commit: each touched key
 * once (etcd refuses two operations on one key in a Txn). */
static osp_err store_etcd_batch_make(store_etcd *se, store_etcd_txn *x, store_etcd_batch *b)
{
	osp_err rv = OSP_OK;

	b->ops = calloc(x->n + 1, sizeof(*b->ops));
	b->keys = calloc(x->n + 1, sizeof(*b->keys));
	if (b->ops == NULL || b->keys == NULL)
		return OSP_ENOMEM;
	qsort(x->touched, x->n, sizeof(*x->touched), store_etcd_touch_cmp);
	for (size_t i = 0; i < x->n && rv == OSP_OK; i++) {
		if (i > 0 && store_etcd_touch_cmp(&x->touched[i - 1], &x->touched[i]) == 0)
			continue;
		rv = store_etcd_batch_add(se, x, x->touched[i], b);
	}
	if (rv != OSP_OK)
		return rv;
	/* unique to this commit: the process, its fence, a count and the time */
	snprintf(b->marker, sizeof(b->marker), "%ld-%" PRId64 "-%" PRIu64 "-%" PRId64,
		(long)getpid(), se->fence_rev, ++se->marker_seq, osp_now_mono_ms());
	b->ops[b->n] = (osp_etcd_op){ .key = se->marker_key, .klen = strlen(se->marker_key),
		.val = b->marker, .vlen = strlen(b->marker) };
	b->n++; /* b->keys[n - 1] stays NULL: the key is se's */
	return OSP_OK;
}

/* store_etcd_send sends the batch as one Txn: if the commit marker is where
 * the last commit left it (and the fence holds, when set). *rev gets the
 * revision it made. */
static osp_err store_etcd_send(store_etcd *se, const store_etcd_batch *b, bool *ok,
	int64_t *rev, char *err, size_t errlen)
{
	osp_etcd_cmp cmps[2] = {
		{ .key = se->marker_key, .klen = strlen(se->marker_key), .target = OSP_ETCD_MOD,
			.rev = se->marker_mod },
		{ .key = se->fence_key, .target = OSP_ETCD_CREATE, .rev = se->fence_rev },
	};
	osp_err rv;

	cmps[1].klen = se->fence_key != NULL ? strlen(se->fence_key) : 0;
	pthread_mutex_lock(&se->lock);
	rv = osp_etcd_txn(se->e, cmps, se->fence_key != NULL ? 2 : 1, b->ops, b->n, ok, rev, err,
		errlen);
	pthread_mutex_unlock(&se->lock);
	return rv;
}

/* store_etcd_settle finds out what became of a Txn sent without an answer:
 * the marker holds our value (it applied: *ok, *rev its revision), or is
 * where the last commit left it (it did not: sent again), or moved on
 * otherwise (it did not, and never will: !*ok). OSP_ETIMEDOUT when etcd gave
 * no answer for three request timeouts. */
static osp_err store_etcd_settle(store_etcd *se, const store_etcd_batch *b, bool *ok,
	int64_t *rev, char *err, size_t errlen)
{
	int64_t end = osp_now_mono_ms() + 3 * se->timeout_ms, mod = 0;
	bool mine = false, refused = false;
	osp_err rv = OSP_ETIMEDOUT;

	*ok = false;
	while (osp_now_mono_ms() < end) {
		if (store_etcd_marker_read(se, 0, &mod, b->marker, &mine, err, errlen) != OSP_OK) {
			osp_sleep_ms(100);
			continue;
		}
		/* moved: ours applied, or another writer's; refused with the marker
		 * unchanged: only the fence can have refused it */
		if (mine || mod != se->marker_mod || refused) {
			*ok = mine;
			*rev = mod;
			return OSP_OK;
		}
		rv = store_etcd_send(se, b, ok, rev, err, errlen);
		if (rv == OSP_OK && *ok)
			return OSP_OK;
		/* refused, or no answer again: the marker says which next */
		refused = rv == OSP_OK;
		if (!refused)
			osp_sleep_ms(100);
	}
	{
		char last[512];

		osp_strlcpy(last, err, sizeof(last));
		snprintf(err, errlen, "no answer from etcd for %" PRId64 " ms after a commit was "
			"sent: outcome unknown (it may have been applied); last: %s",
			3 * se->timeout_ms, last);
	}
	return OSP_ETIMEDOUT;
}

/* store_etcd_refused reports a Txn etcd did not apply (or may have: rv
 * OSP_ETIMEDOUT, and the cache goes stale) and returns the commit's code. */
static osp_err store_etcd_refused(store_etcd *se, osp_err rv, const char *err)
{
	char msg[sizeof(se->last_err)];

	if (rv == OSP_OK && se->fence_key != NULL) {
		/* the leader key was deleted or made again by another coordinator,
		 * or (the same news) another writer moved the commit marker */
		snprintf(msg, sizeof(msg), "fenced: this coordinator no longer holds the "
			"leadership (%s is not the key created at revision %" PRId64 ", or another "
			"writer committed): nothing was written", se->fence_key, se->fence_rev);
		rv = OSP_ESTORE;
	} else if (rv == OSP_OK) {
		__atomic_store_n(&se->stale, true, __ATOMIC_SEQ_CST);
		snprintf(msg, sizeof(msg), "another process committed to this prefix (%s moved): "
			"nothing was written; the cache is reloaded before the next transaction",
			se->marker_key);
		rv = OSP_ESTORE;
	} else if (rv == OSP_ETIMEDOUT) {
		__atomic_store_n(&se->stale, true, __ATOMIC_SEQ_CST);
		snprintf(msg, sizeof(msg), "%s; the cache is reloaded from etcd before the next "
			"transaction", err);
	} else {
		snprintf(msg, sizeof(msg), "commit not applied: %s", err);
	}
	pthread_mutex_lock(&se->lock);
	osp_strlcpy(se->last_err, msg, sizeof(se->last_err));
	pthread_mutex_unlock(&se->lock);
	OSP_ERROR("OSP-STORE-ETCD-COMMIT", "store '%s': %s", se->mem.name, msg);
	if (strncmp(msg, "fenced", 6) == 0 && se->fenced != NULL)
		se->fenced(se->fenced_arg);
	return rv;
}

osp_err osp_store_etcd_error(osp_store *s, char *buf, size_t len)
{
	store_etcd *se;

	if (s == NULL || s->ops != &osp_store_etcd_ops || len == 0)
		return OSP_EINVAL;
	se = s->impl;
	pthread_mutex_lock(&se->lock);
	osp_strlcpy(buf, se->last_err, len);
	pthread_mutex_unlock(&se->lock);
	return OSP_OK;
}

static osp_err store_etcd_commit(osp_txn *t)
{
	store_etcd *se = t->s->impl;
	store_etcd_txn *x = t->impl;
	store_etcd_batch b = { .n = 0 };
	char err[768] = "";
	bool ok = false;
	int64_t rev = 0;
	osp_err rv;

	if (!t->write || x->n == 0) {
		rv = osp_store_mem_ops.commit(&x->mem);
		store_etcd_txn_free(t);
		return rv;
	}
	rv = store_etcd_batch_make(se, x, &b);
	if (rv == OSP_OK)
		rv = store_etcd_send(se, &b, &ok, &rev, err, sizeof(err));
	if (rv == OSP_ETIMEDOUT) {
		OSP_WARN("OSP-STORE-ETCD-SETTLE", "store '%s': %s: reading the commit marker to "
			"settle it", se->mem.name, err);
		rv = store_etcd_settle(se, &b, &ok, &rev, err, sizeof(err));
	}
	if (rv == OSP_OK && ok) {
		se->marker_mod = rev;
		/* etcd has it: the cache follows (a failure here leaves it behind) */
		if ((rv = osp_store_mem_ops.commit(&x->mem)) != OSP_OK)
			__atomic_store_n(&se->stale, true, __ATOMIC_SEQ_CST);
	} else {
		osp_store_mem_ops.abort(&x->mem);
		rv = store_etcd_refused(se, rv, err[0] ? err : osp_strerror(rv));
	}
	store_etcd_batch_fini(&b);
	store_etcd_txn_free(t);
	return rv;
}

const osp_store_ops osp_store_etcd_ops = {
	.name = "etcd",
	.open = store_etcd_open,
	.close = store_etcd_close,
	.txn_begin = store_etcd_txn_begin,
	.commit = store_etcd_commit,
	.abort = store_etcd_abort,
	.get = store_etcd_get,
	.put = store_etcd_put,
	.del = store_etcd_del,
	.foreach = store_etcd_foreach,
	.del_prefix = store_etcd_del_prefix,
	.count = store_etcd_count,
	.usage = store_etcd_usage,
	.copy = NULL,
	.no_copy_why = "its records are etcd's: back etcd up instead (`etcdctl snapshot save`, "
		"docs/ha.md)",
};
