/*
 * test_support_store.h - helpers of the store's unit tests (test_store.c,
 * test_store_mem.c), prefix ts_store_: a store of the databases "kv" and
 * "other" on either back-end, and one-record reads and writes. Like
 * test_support.h, they fail the running cmocka test on a setup error.
 */
#ifndef TEST_SUPPORT_STORE_H
#define TEST_SUPPORT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "ospec/store.h"

/* A store of "kv" and "other" (schema 3) on one back-end; root/a/b/db is
 * the LMDB directory (the memory store only names itself after it). */
typedef struct ts_store_fx {
	osp_store_backend backend;
	char root[64];
	char dir[128];
	osp_store *s;
} ts_store_fx;

/* ts_store_open opens a store of "kv" and "other" on backend at dir (a name
 * only for the memory store; for etcd, the store under the prefix made of
 * it, on the shared member); err gets the reason. */
osp_err ts_store_open(osp_store_backend backend, const char *dir, uint32_t schema,
	uint64_t map_size, osp_store **s, char *err, size_t errlen);

/* ts_store_setup and ts_store_teardown are cmocka setup and teardown
 * functions: *state is a heap ts_store_fx; a prestate pointing at an
 * osp_store_backend chooses the back-end (NULL: LMDB). */
int ts_store_setup(void **state);
int ts_store_teardown(void **state);

/* The back-ends, as cmocka prestates for ts_store_setup. */
extern osp_store_backend ts_store_lmdb, ts_store_mem, ts_store_etcd;

/* ts_store_etcd_endpoints starts, on its first call, the one etcd member
 * the process's etcd stores share (stopped and removed at exit) and
 * returns its endpoints. ts_store_etcd_prefix writes the key prefix
 * ts_store_open gives the etcd store of dir: "/ts" + dir + "/". */
const char *ts_store_etcd_endpoints(void);
void ts_store_etcd_prefix(const char *dir, char *buf, size_t len);

/* TS_STORE_TEST registers the test fn on a fresh ts_store_fx of back-end be
 * (lmdb, mem or etcd), named "fn (be)": a test registered on both holds the
 * memory store to LMDB's behaviour. */
#define TS_STORE_TEST(fn, be)                                                          \
	{                                                                              \
		.name = #fn " (" #be ")", .test_func = fn, .setup_func = ts_store_setup, \
		.teardown_func = ts_store_teardown, .initial_state = &ts_store_##be     \
	}

/* ts_store_put1 stores k=v (a string) in db in a transaction of its own. */
void ts_store_put1(osp_store *s, const char *db, const void *k, size_t kl, const char *v);

/* ts_store_get1 copies the value of k into buf ("" if absent) and returns
 * the code of the get. */
osp_err ts_store_get1(osp_store *s, const char *db, const void *k, size_t kl, char *buf,
	size_t len);

#endif
