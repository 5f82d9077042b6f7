/*
 * etcd.h - a small client of etcd's v3 JSON gateway (POST http://HOST:PORT/v3/...,
 * keys and values in base64, 64-bit numbers as JSON strings) over libcurl.
 * It is what the etcd store back-end (store_etcd.c) and the coordinator's
 * leader election (coord_leader.c) talk through. Plain http only for now
 * (docs/ha.md: run etcd on loopback or a private network).
 *
 * Endpoints are tried in order, starting at the last one that answered. A
 * request that could not be delivered (connection refused, no route, a member
 * without quorum answering "etcdserver: ..." unavailable errors) moves to the
 * next endpoint. A request that was sent and got no answer may have been
 * applied: for osp_etcd_txn that is OSP_ETIMEDOUT ("outcome unknown"), never
 * retried here; reads and lease calls, which may be repeated, go on to the
 * next endpoint (so one of them may take up to one timeout per endpoint).
 * etcd's own "request timed out" / "leader changed" answers to a Txn are
 * outcome unknown too. Every error message names the endpoint
 * ("etcd http://HOST:PORT: POST /v3/kv/txn: ..."). One osp_etcd may be used
 * by one thread at a time.
 */
#ifndef OSPEC_ETCD_H
#define OSPEC_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ospec/err.h"

typedef struct osp_etcd osp_etcd;

/* osp_etcd_new: endpoints "HOST:PORT[,HOST:PORT...]" (an "http://" on each is
 * accepted), timeout_ms for one request (0: 5000). OSP_EINVAL with err for a
 * malformed list. Nothing is contacted yet. */
osp_err osp_etcd_new(const char *endpoints, int64_t timeout_ms, osp_etcd **out, char *err,
	size_t errlen);

/* osp_etcd_free closes the connection and frees e; accepts NULL. */
void osp_etcd_free(osp_etcd *e);

/* One key-value as etcd returns it; key and val are NUL-terminated copies
 * (binary-safe with their lengths). */
typedef struct osp_etcd_kv {
	char *key;
	size_t klen;
	char *val;
	size_t vlen;
	int64_t create_rev, mod_rev, lease;
} osp_etcd_kv;

void osp_etcd_kv_free(osp_etcd_kv *kv); /* frees the copies, not kv */

/* osp_etcd_get reads one key (1 to 511 bytes; at revision rev, 0: the
 * newest) into *out (the caller frees it with osp_etcd_kv_free). OSP_ENOENT
 * when absent. *hdr_rev (may be NULL) gets the revision the answer is of. */
osp_err osp_etcd_get(osp_etcd *e, const void *key, size_t klen, int64_t rev, osp_etcd_kv *out,
	int64_t *hdr_rev, char *err, size_t errlen);

/* osp_etcd_range calls fn for every key in [key, end) (end NULL: every key
 * with the prefix key) in key order, all read at one revision (rev, or the
 * newest when 0; *hdr_rev gets it), paging as it goes (500 keys a request).
 * klen 0 means every key (end is ignored); a prefix is at most 512 bytes.
 * kv and its copies are valid only during the call. fn returns 0 to go on,
 * 1 to stop, < 0 to stop with OSP_EINVAL. */
typedef int (*osp_etcd_kv_fn)(void *arg, const osp_etcd_kv *kv);
osp_err osp_etcd_range(osp_etcd *e, const void *key, size_t klen, const void *end, size_t elen,
	int64_t rev, osp_etcd_kv_fn fn, void *arg, int64_t *hdr_rev, char *err, size_t errlen);

/* Leases: grant with a TTL in seconds (*id gets it), keep alive once
 * (*ttl_left gets the TTL etcd restarted; OSP_ENOENT when the lease is gone),
 * revoke (OSP_OK when it was already gone). */
osp_err osp_etcd_lease_grant(osp_etcd *e, int64_t ttl_s, int64_t *id, char *err, size_t errlen);
osp_err osp_etcd_lease_keepalive(osp_etcd *e, int64_t id, int64_t *ttl_left, char *err,
	size_t errlen);
osp_err osp_etcd_lease_revoke(osp_etcd *e, int64_t id, char *err, size_t errlen);

/* A compare of a Txn: the key's create or mod revision, or its value. */
typedef enum osp_etcd_target {
	OSP_ETCD_CREATE, /* create_revision == rev (0: the key does not exist) */
	OSP_ETCD_MOD,    /* mod_revision == rev */
	OSP_ETCD_VALUE,  /* value == val */
} osp_etcd_target;

typedef struct osp_etcd_cmp {
	const void *key;
	size_t klen;
	osp_etcd_target target;
	int64_t rev;
	const void *val;
	size_t vlen;
} osp_etcd_cmp;

/* An operation of a Txn's success branch: a put (with lease, 0 for none) or
 * a delete of one key. etcd refuses two operations on one key in a Txn. */
typedef struct osp_etcd_op {
	bool del;
	const void *key;
	size_t klen;
	const void *val;
	size_t vlen;
	int64_t lease;
} osp_etcd_op;

/* osp_etcd_txn runs "if every cmp holds then every op" atomically.
 * *succeeded says which branch ran (false: nothing written); *hdr_rev gets
 * the revision after it. OSP_ETIMEDOUT when the request was sent and no
 * answer came (it may have been applied); OSP_ENET when no endpoint took it
 * (nothing applied); OSP_ETOOBIG when etcd refuses its size or number of
 * operations (err names etcd's --max-txn-ops / --max-request-bytes). */
osp_err osp_etcd_txn(osp_etcd *e, const osp_etcd_cmp *cmps, size_t ncmps, const osp_etcd_op *ops,
	size_t nops, bool *succeeded, int64_t *hdr_rev, char *err, size_t errlen);

/* osp_etcd_prefix_end writes into end (room for plen bytes) the smallest key
 * greater than every key with prefix; *elen gets its length (0 with a
 * prefix of 0xff bytes only: no end). */
void osp_etcd_prefix_end(const void *prefix, size_t plen, char *end, size_t *elen);

#endif
