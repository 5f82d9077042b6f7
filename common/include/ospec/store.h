/*
 * store.h - the key-value store shared by the coordinator and the agent:
 * named databases of sorted byte keys, transactions (one writer at a time,
 * readers see a snapshot), a schema version and migrations.
 *
 * Back-ends (osp_store_opts.backend; common/src/store_int.h is their
 * interface): LMDB (store_lmdb.c, the default), an in-memory store
 * (store_mem.c) for tests and benchmarks, and etcd (store_etcd.c, for a
 * highly available coordinator: docs/ha.md). Callers use osp_store_* alike.
 *
 * LMDB: one environment per directory, locked with flock so two processes cannot
 * share it, an explicit map size, mdb_reader_check at open, named databases
 * and a schema version in the "meta" database. MDB_MAP_FULL becomes
 * OSP_EMAPFULL, an error the operator sees, never a crash.
 *
 * Values returned by osp_store_get (and handed to a foreach callback) are
 * valid only inside their transaction and, in a write transaction, until the
 * next put or delete in it (lmdb.h): copy them out before commit or abort.
 * The memory store frees an overwritten or deleted value at once, so a
 * caller that keeps one too long is caught by valgrind in the unit tests.
 * Keys are 1 to 511 bytes (LMDB's limit; OSP_ESTORE otherwise).
 */
#ifndef OSPEC_STORE_H
#define OSPEC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ospec/err.h"

typedef struct osp_store osp_store;
typedef struct osp_txn osp_txn;

#define OSP_STORE_MAX_DBS 16

/* osp_store_migrate_fn moves a store from schema version N to N+1 inside
 * the open's write transaction t (every database of the opts is open in it).
 * Returns OSP_OK, or an error with a reason in err: the whole migration is
 * then aborted and the store left as it was. */
typedef osp_err (*osp_store_migrate_fn)(osp_txn *t, char *err, size_t errlen);

/* One migration step: from version `from` to from + 1. */
typedef struct osp_store_migration {
	uint32_t from;
	const char *what;       /* one line for the log: what the step changes */
	osp_store_migrate_fn fn;
} osp_store_migration;

/* Where the records live. */
typedef enum osp_store_backend {
	OSP_STORE_LMDB = 0, /* an LMDB environment in dir: the default */
	/* in this process only, gone at close: for tests and benchmarks. Sorted
	 * keys, one writer at a time (a second one waits, as in LMDB), readers
	 * see the snapshot of their begin; the same error codes as LMDB,
	 * map_size is a byte budget (OSP_EMAPFULL), the schema and migrations
	 * as in LMDB; dir is only a name for messages (may be NULL); no lock,
	 * no files, no backups (osp_store_copy: OSP_ESTATE) */
	OSP_STORE_MEMORY,
	/* etcd (docs/ha.md, "The etcd store"): every key under etcd_prefix, held
	 * whole in this process as a write-through cache (reads never leave the
	 * process; a commit is one etcd Txn, applied to the cache only when etcd
	 * took it), the memory store's snapshots, map_size as its byte budget;
	 * one coordinator writes at a time (etcd_fence_key); no backups here
	 * (osp_store_copy: OSP_ESTATE: back etcd up with `etcdctl snapshot save`) */
	OSP_STORE_ETCD,
} osp_store_backend;

typedef struct osp_store_opts {
	osp_store_backend backend; /* OSP_STORE_LMDB when left zero */
	const char *dir;        /* LMDB: created (0700) if missing */
	uint64_t map_size;      /* bytes; 0 means 1 GiB */
	const char *const *dbs; /* names of the databases besides "meta" */
	size_t ndbs;
	uint32_t schema;        /* expected schema version; written on first open */
	bool nometasync;        /* MDB_NOMETASYNC (durable at the next synced commit) */
	bool init;              /* accept an empty or missing data.mdb where a store was */
	/* steps from older schema versions (any order; may be NULL): a store at
	 * version N < schema is migrated at open by the steps N, N+1, ...,
	 * schema-1, all in one write transaction with the new version */
	const osp_store_migration *migrations;
	size_t nmigrations;
	/* OSP_STORE_ETCD only (docs/ha.md) */
	const char *etcd_endpoints; /* "HOST:PORT,HOST:PORT,..." (required) */
	/* every key lives under it: PREFIX + dbname + "/" + key bytes, e.g.
	 * "/ospec/prod/" (required; other keys under it are left alone) */
	const char *etcd_prefix;
	int64_t etcd_timeout_ms; /* one etcd request; 0: 5000 */
	/* fencing: when etcd_fence_key is set, EVERY commit's Txn also compares
	 * that key's create_revision with etcd_fence_rev (the leader key: a
	 * coordinator that lost its leadership cannot write). A commit refused
	 * by it is OSP_ESTORE ("fenced: ...") and calls etcd_fenced(arg) first,
	 * from inside the commit: the callback must not use the store. */
	const char *etcd_fence_key;
	int64_t etcd_fence_rev;
	void (*etcd_fenced)(void *arg);
	void *etcd_fenced_arg;
} osp_store_opts;

/* osp_store_open opens (or creates) the store. err says what went wrong:
 * OSP_EINVAL (too many databases, an unknown back-end, LMDB without dir,
 * etcd without endpoints or prefix), for etcd OSP_ENET / OSP_ETIMEDOUT when
 * the keys under the prefix cannot be loaded,
 * OSP_ELOCKED (another process), OSP_ESCHEMA (found version N: newer than
 * o->schema, or older without a migration step for every version up to it,
 * or a migration step failed), OSP_ESTORE.
 * Before LMDB maps DIR/data.mdb its size is checked against its meta pages:
 * a truncated file is refused (OSP_ESTORE, "data.mdb is damaged: N bytes, the
 * store needs at least M; restore a backup") instead of crashing with SIGBUS.
 * DIR/store.id is written once the store exists; an empty or missing
 * data.mdb beside it is refused (OSP_ESTORE) unless o->init. */
osp_err osp_store_open(const osp_store_opts *o, osp_store **out, char *err, size_t errlen);

/* osp_store_close closes the environment and releases the lock; accepts NULL.
 * No transaction may be open. */
void osp_store_close(osp_store *s);

/* osp_store_txn_begin starts a read (write=false) or write transaction. */
osp_err osp_store_txn_begin(osp_store *s, bool write, osp_txn **t);

/* osp_store_txn_commit commits and frees t; on failure t is freed as well.
 * OSP_EMAPFULL when the map is full. */
osp_err osp_store_txn_commit(osp_txn *t);

/* osp_store_txn_abort discards and frees t; accepts NULL. */
void osp_store_txn_abort(osp_txn *t);

/* osp_store_write_failures returns how many write transactions of t's store
 * that had written something were aborted or failed to commit since it was
 * opened. A caller that keeps
 * in memory what it believes is stored (to write only what changed) notes
 * the count when it writes and trusts its copy only while the count has not
 * moved: a moved count means a write of its may have been discarded. */
uint64_t osp_store_write_failures(const osp_txn *t);

/* osp_store_get looks key up in db. *val points into the map (read-only, valid
 * until the transaction ends). OSP_ENOENT if absent. */
osp_err osp_store_get(osp_txn *t, const char *db, const void *key, size_t klen,
	const void **val, size_t *vlen);

/* osp_store_put stores key=val in db. OSP_EMAPFULL when full. */
osp_err osp_store_put(osp_txn *t, const char *db, const void *key, size_t klen,
	const void *val, size_t vlen);

/* osp_store_del deletes key; OSP_ENOENT if absent. */
osp_err osp_store_del(osp_txn *t, const char *db, const void *key, size_t klen);

/* osp_store_iter_fn returns 0 to go on, 1 to stop, <0 to stop with an error. */
typedef int (*osp_store_iter_fn)(void *arg, const void *key, size_t klen, const void *val,
	size_t vlen);

/* osp_store_foreach calls fn for each key starting with prefix (plen may be 0),
 * in key order, or in reverse when reverse is true. */
osp_err osp_store_foreach(osp_txn *t, const char *db, const void *prefix, size_t plen,
	bool reverse, osp_store_iter_fn fn, void *arg);

/* osp_store_foreach_from is osp_store_foreach (forward) starting at the first
 * key >= from (which should itself start with prefix). */
osp_err osp_store_foreach_from(osp_txn *t, const char *db, const void *prefix, size_t plen,
	const void *from, size_t flen, osp_store_iter_fn fn, void *arg);

/* osp_store_foreach_before is osp_store_foreach in reverse, starting at the
 * last key < before (blen bytes, which should itself start with prefix): the
 * next page of a newest-first listing. */
osp_err osp_store_foreach_before(osp_txn *t, const char *db, const void *prefix, size_t plen,
	const void *before, size_t blen, osp_store_iter_fn fn, void *arg);

/* osp_store_del_prefix deletes every key starting with prefix; *count (may be
 * NULL) gets how many. */
osp_err osp_store_del_prefix(osp_txn *t, const char *db, const void *prefix, size_t plen,
	size_t *count);

/* osp_store_count returns the number of entries in db. */
osp_err osp_store_count(osp_txn *t, const char *db, uint64_t *n);

/* osp_store_usage reports how many bytes of the map the store uses (pages
 * up to the last one in use, times the page size; the memory store: its
 * keys and values plus a fixed overhead per record) in *used and the map
 * size in *map_size. OSP_EINVAL for a NULL store, OSP_ESTORE if LMDB cannot
 * say. */
osp_err osp_store_usage(osp_store *s, uint64_t *used, uint64_t *map_size);

/* osp_store_schema reads the schema version recorded in the open store. */
osp_err osp_store_schema(osp_store *s, uint64_t *schema);

/* osp_store_copy writes a consistent, compacted copy of the store to path (a
 * plain LMDB file, as data.mdb is: `mdb_stat -n` reads it) with
 * mdb_env_copyfd2(MDB_CP_COMPACT). It runs in its own read transaction, so
 * writers go on meanwhile; it takes no lock of the caller's. path must be
 * absolute and must not exist: the copy goes to path.tmp (mode 0600,
 * O_EXCL), is fsynced, then linked to path (never replacing a file) and its
 * directory fsynced. *bytes (may be NULL) gets the copy's size. Errors with
 * err: OSP_EINVAL (relative path), OSP_EEXIST (path or path.tmp exists),
 * OSP_EIO, OSP_ESTORE; OSP_ESTATE for the memory store ("the memory store
 * cannot be backed up") and the etcd store (its records are etcd's: back
 * etcd up), before any file is made. */
osp_err osp_store_copy(osp_store *s, const char *path, uint64_t *bytes, char *err,
	size_t errlen);

/* osp_store_file_schema checks that file is an LMDB store file (size against
 * its meta pages, as osp_store_open does, so a damaged one is never mapped),
 * opens it read-only without a lock file and reads meta/schema into
 * *schema. OSP_ESTORE with err when it is not one, has no meta database or
 * no schema. The file is not changed. */
osp_err osp_store_file_schema(const char *file, uint64_t *schema, char *err, size_t errlen);

/* osp_store_backend_name returns "lmdb", "memory" or "etcd" (static). */
const char *osp_store_backend_name(const osp_store *s);

/* osp_store_mem_fail_next_commit is a test hook of the memory store: the next
 * commit of a write transaction of s fails with rv (an error code, e.g.
 * OSP_ESTORE or OSP_EMAPFULL) and discards the transaction's writes, as a
 * failed LMDB commit does; later commits succeed again. OSP_EINVAL when s is
 * not a memory store or rv is OSP_OK. */
osp_err osp_store_mem_fail_next_commit(osp_store *s, osp_err rv);

/* osp_store_etcd_error copies into buf (len bytes) why the last failed
 * commit of an etcd store failed ("" if none did): "fenced: ...", an
 * outcome unknown, etcd's refusal with the endpoint. The commit's code
 * alone (OSP_ESTORE, OSP_ETIMEDOUT, OSP_ETOOBIG, OSP_ENET) cannot say it;
 * the same text is logged (OSP-STORE-ETCD-COMMIT). OSP_EINVAL when s is not
 * an etcd store. */
osp_err osp_store_etcd_error(osp_store *s, char *buf, size_t len);

/* Big-endian uint64 keys sort in numeric order. */
void osp_be64_put(uint8_t out[8], uint64_t v);
uint64_t osp_be64_get(const uint8_t in[8]);

#endif
