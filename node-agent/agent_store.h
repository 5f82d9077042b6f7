/*
 * agent_store.h - the agent's durable state behind an interface, so a
 * benchmark can host thousands of simulated agents with an in-memory store.
 * The LMDB back-end is agent_store_lmdb.c.
 *
 * Records are opaque bytes (packed protobuf) keyed by name or sequence.
 */
#ifndef AGENT_STORE_H
#define AGENT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ospec/err.h"

typedef struct agent_store agent_store;

typedef int (*agent_store_iter_fn)(void *arg, const char *key, const void *val, size_t len);

typedef struct agent_store_ops {
	/* meta: small named values (identity, instance uuid, cursor) */
	osp_err (*meta_get)(agent_store *s, const char *key, char *val, size_t len);
	osp_err (*meta_put)(agent_store *s, const char *key, const char *val);
	/* results: record the result of seq and move the cursor to seq in one
	 * durable step; keep at most `retain` results */
	osp_err (*result_put)(agent_store *s, uint64_t seq, const void *val, size_t len,
		bool acked);
	/* result_get: *val is malloc'd, the caller frees it */
	osp_err (*result_get)(agent_store *s, uint64_t seq, void **val, size_t *len, bool *acked);
	osp_err (*result_ack)(agent_store *s, uint64_t seq);
	/* result_unacked: calls fn(arg, NULL, val, len) for unacked results in order */
	osp_err (*result_unacked)(agent_store *s, agent_store_iter_fn fn, void *arg);
	osp_err (*cursor_get)(agent_store *s, uint64_t *cursor);
	/* apps: one record per app (desired state) */
	osp_err (*app_put)(agent_store *s, const char *app, const void *val, size_t len);
	osp_err (*app_get)(agent_store *s, const char *app, void **val, size_t *len);
	osp_err (*app_del)(agent_store *s, const char *app);
	osp_err (*app_list)(agent_store *s, agent_store_iter_fn fn, void *arg);
	void (*close)(agent_store *s);
} agent_store_ops;

struct agent_store {
	const agent_store_ops *ops;
	void *impl;
};

/* agent_store_lmdb_open opens STATE/db (LMDB) and locks STATE against a
 * second agent. retain bounds the results kept. err says why on failure
 * (OSP_ELOCKED: another agent runs on this state dir; OSP_ESTORE: also a
 * truncated data.mdb, or a lost one without init: osp_store_open). */
osp_err agent_store_lmdb_open(const char *state_dir, uint64_t retain, bool init,
	agent_store **out, char *err, size_t errlen);

/* agent_store_close closes any back-end; accepts NULL. */
void agent_store_close(agent_store *s);

#endif
