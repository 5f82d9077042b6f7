/*
 * test_support_store.c - the store helpers of the unit tests
 * (test_support_store.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "etcd_fixture.h"
#include "test_support.h"
#include "test_support_store.h"

static const char *const ts_store_dbs[] = { "kv", "other" };

osp_store_backend ts_store_lmdb = OSP_STORE_LMDB, ts_store_mem = OSP_STORE_MEMORY,
		  ts_store_etcd = OSP_STORE_ETCD;

/* One etcd member for every etcd store of the process, started at the first
 * and stopped at exit; each store has a prefix of its own. */
static te_cluster ts_store_etcd_cluster;
static char ts_store_etcd_root[64];

static void ts_store_etcd_stop(void)
{
	te_stop_all(&ts_store_etcd_cluster);
	ts_rmtree(ts_store_etcd_root);
}

const char *ts_store_etcd_endpoints(void)
{
	char dir[128];

	if (ts_store_etcd_cluster.n == 0) {
		ts_mkdtemp(ts_store_etcd_root, sizeof(ts_store_etcd_root),
			"/tmp/ospec-store-etcd-XXXXXX");
		snprintf(dir, sizeof(dir), "%s/etcd", ts_store_etcd_root);
		if (te_start(&ts_store_etcd_cluster, 1, dir) != 0)
			fail_msg("cannot start etcd under %s", dir);
		atexit(ts_store_etcd_stop);
	}
	return ts_store_etcd_cluster.endpoints;
}

void ts_store_etcd_prefix(const char *dir, char *buf, size_t len)
{
	assert_true((size_t)snprintf(buf, len, "/ts%s/", dir) < len);
}

osp_err ts_store_open(osp_store_backend backend, const char *dir, uint32_t schema,
	uint64_t map_size, osp_store **s, char *err, size_t errlen)
{
	char prefix[256];
	osp_store_opts o = {
		.backend = backend,
		.dir = dir,
		.map_size = map_size,
		.dbs = ts_store_dbs,
		.ndbs = 2,
		.schema = schema,
	};

	if (backend == OSP_STORE_ETCD) {
		ts_store_etcd_prefix(dir, prefix, sizeof(prefix));
		o.etcd_endpoints = ts_store_etcd_endpoints();
		o.etcd_prefix = prefix;
	}
	err[0] = '\0';
	return osp_store_open(&o, s, err, errlen);
}

int ts_store_setup(void **state)
{
	const osp_store_backend *be = *state;
	ts_store_fx *f = calloc(1, sizeof(*f));
	char err[256];

	assert_non_null(f);
	f->backend = be != NULL ? *be : OSP_STORE_LMDB;
	ts_mkdtemp(f->root, sizeof(f->root), "/tmp/ospec-store-XXXXXX");
	snprintf(f->dir, sizeof(f->dir), "%s/a/b/db", f->root);
	if (ts_store_open(f->backend, f->dir, 3, 0, &f->s, err, sizeof(err)) != OSP_OK)
		fail_msg("osp_store_open: %s", err);
	*state = f;
	return 0;
}

int ts_store_teardown(void **state)
{
	ts_store_fx *f = *state;

	osp_store_close(f->s);
	ts_rmtree(f->root);
	free(f);
	return 0;
}

void ts_store_put1(osp_store *s, const char *db, const void *k, size_t kl, const char *v)
{
	osp_txn *t = NULL;

	assert_int_equal(osp_store_txn_begin(s, true, &t), OSP_OK);
	assert_int_equal(osp_store_put(t, db, k, kl, v, strlen(v)), OSP_OK);
	assert_int_equal(osp_store_txn_commit(t), OSP_OK);
}

osp_err ts_store_get1(osp_store *s, const char *db, const void *k, size_t kl, char *buf,
	size_t len)
{
	osp_txn *t = NULL;
	const void *v;
	size_t vl;
	osp_err rv;

	buf[0] = '\0';
	assert_int_equal(osp_store_txn_begin(s, false, &t), OSP_OK);
	rv = osp_store_get(t, db, k, kl, &v, &vl);
	if (rv == OSP_OK) {
		assert_true(vl < len);
		memcpy(buf, v, vl);
		buf[vl] = '\0';
	}
	osp_store_txn_abort(t);
	return rv;
}
