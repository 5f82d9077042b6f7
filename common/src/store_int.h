/*
 * store_int.h - inside the store: the back-end interface (osp_store_ops) and
 * the handles the dispatcher (store.c) shares with the back-ends:
 * store_lmdb.c (LMDB, the default), store_mem.c (in this process only) and
 * store_etcd.c (etcd, through a store_mem.c cache).
 *
 * The dispatcher owns the osp_store and osp_txn structs, resolves database
 * names to indexes (0 is "meta"; an unknown name is OSP_EINVAL before a
 * back-end sees it), counts failed writes, runs the schema check and the
 * migrations, and writes backup files around the back-end's copy. A back-end
 * keeps its own state in s->impl and t->impl.
 */
#ifndef OSPEC_STORE_INT_H
#define OSPEC_STORE_INT_H

#include "ospec/store.h"

#define STORE_NDBS (OSP_STORE_MAX_DBS + 1) /* "meta" and the caller's */

typedef struct osp_store_ops {
	const char *name; /* "lmdb", "memory", "etcd": for messages */
	/* open fills s->impl; s->names and s->ndbs are set. err on failure,
	 * after which close is called. */
	osp_err (*open)(osp_store *s, const osp_store_opts *o, char *err, size_t errlen);
	/* opened (may be NULL) runs once the schema is in place */
	void (*opened)(osp_store *s, const osp_store_opts *o);
	/* close frees s->impl (which may be half made, or NULL) */
	void (*close)(osp_store *s);
	/* txn_begin fills t->impl for a read or write (t->write) transaction */
	osp_err (*txn_begin)(osp_txn *t);
	/* commit and abort end t->impl either way; the dispatcher frees t */
	osp_err (*commit)(osp_txn *t);
	void (*abort)(osp_txn *t);
	/* db is an index into s->names; values are valid until the txn ends
	 * or the next write in it; OSP_ENOENT when absent */
	osp_err (*get)(osp_txn *t, size_t db, const void *key, size_t klen, const void **val,
		size_t *vlen);
	osp_err (*put)(osp_txn *t, size_t db, const void *key, size_t klen, const void *val,
		size_t vlen);
	osp_err (*del)(osp_txn *t, size_t db, const void *key, size_t klen);
	/* foreach calls fn on keys with prefix: forward from the first key >=
	 * from (from == NULL: the first with prefix), or in reverse from the last
	 * key < from (from == NULL: the last with prefix); fn < 0 is OSP_EINVAL */
	osp_err (*foreach)(osp_txn *t, size_t db, const void *prefix, size_t plen,
		const void *from, size_t flen, bool reverse, osp_store_iter_fn fn, void *arg);
	/* del_prefix deletes every key with prefix; *count gets how many */
	osp_err (*del_prefix)(osp_txn *t, size_t db, const void *prefix, size_t plen,
		size_t *count);
	osp_err (*count)(osp_txn *t, size_t db, uint64_t *n);
	osp_err (*usage)(osp_store *s, uint64_t *used, uint64_t *map_size);
	/* copy (NULL: the back-end cannot be backed up) writes a consistent copy
	 * to fd, as a file osp_store_file_schema reads; err on failure */
	osp_err (*copy)(osp_store *s, int fd, char *err, size_t errlen);
	/* no_copy_why (copy == NULL; NULL: "its records live only in this
	 * process") ends osp_store_copy's refusal: what to do instead */
	const char *no_copy_why;
} osp_store_ops;

struct osp_store {
	const osp_store_ops *ops;
	void *impl;
	char name[512]; /* the dir (a copy: the caller's may go), or "memory": for messages */
	size_t ndbs;
	const char *names[STORE_NDBS];
	uint64_t write_failures; /* txns with writes aborted or not committed (__atomic:
	                          * counted before a commit, taken back when it worked) */
};

struct osp_txn {
	osp_store *s;
	void *impl;
	bool write;
	bool wrote; /* a put or delete was made: an abort discards something */
};

extern const osp_store_ops osp_store_lmdb_ops; /* store_lmdb.c */
extern const osp_store_ops osp_store_mem_ops;  /* store_mem.c */
extern const osp_store_ops osp_store_etcd_ops; /* store_etcd.c */

/* store_has_prefix: k (of klen bytes) starts with prefix; plen 0 may come
 * with a NULL prefix. */
bool store_has_prefix(const void *k, size_t klen, const void *prefix, size_t plen);

/* store_lmdb_check_size (store_copy.c) compares the size of an open LMDB
 * file (data.mdb or a backup, named `what` in messages ending with tail)
 * with what its newest meta page says it uses: a truncated file is a SIGBUS
 * once mapped. OSP_ESTORE with err when it is too short or not LMDB's. */
osp_err store_lmdb_check_size(int fd, const char *what, const char *tail, uint64_t size,
	char *err, size_t errlen);

#endif
