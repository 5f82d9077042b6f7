/*
 * bench_store_etcd.c - issue 15: the commit of the etcd store against
 * LMDB's. For each store (LMDB with synced commits; etcd with 1 member; etcd
 * with 3 members on loopback, started by tests/support/etcd_fixture.c with
 * the flags docs/ha.md gives) it commits, for --seconds each, a small write
 * transaction (one put of ~200 bytes, like a step record) and a 100-key one,
 * and prints commits/s and the commit latency p50/p99 (begin to commit, one
 * writer).
 *
 *   bench_store_etcd [--dir PARENT] [--seconds S]
 *
 * etcd's data dirs and LMDB's go under the same PARENT, so both fsync to the
 * same disk (etcd fsyncs its WAL at each commit, as LMDB does its pages).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "etcd_fixture.h"
#include "ospec/log.h"
#include "ospec/store.h"

#define BE_VAL 200

typedef struct be_opts {
	const char *parent;
	double seconds;
} be_opts;

/* One timed transaction: n puts of ~200 bytes, keys from seq on. */
typedef struct be_txn_arg {
	osp_store *s;
	int n;
	uint64_t seq;
	char val[BE_VAL];
} be_txn_arg;

/* be_txn commits one transaction of a->n puts; 0 or the osp_err. */
static int be_txn(void *arg)
{
	be_txn_arg *a = arg;
	osp_txn *t = NULL;
	char key[32];
	osp_err rv;

	if ((rv = osp_store_txn_begin(a->s, true, &t)) != OSP_OK)
		return (int)rv;
	for (int i = 0; i < a->n; i++) {
		/* 1000 keys per size of txn, overwritten in turn: the store stays small */
		int kl = snprintf(key, sizeof(key), "step/%d/%04llu", a->n,
			(unsigned long long)a->seq++ % 1000);

		if ((rv = osp_store_put(t, "kv", key, (size_t)kl, a->val, BE_VAL)) != OSP_OK) {
			osp_store_txn_abort(t);
			return (int)rv;
		}
	}
	return (int)osp_store_txn_commit(t);
}

/* be_phase runs txns of n keys for o->seconds and prints a row. */
static int be_phase(osp_store *s, const be_opts *o, const char *store, int n)
{
	be_txn_arg a = { .s = s, .n = n };
	bench_samples lat = { 0 };
	uint64_t txns = 0;
	int64_t el = 0;
	int rv;

	memset(a.val, 's', sizeof(a.val));
	rv = bench_time_for(o->seconds, be_txn, &a, &lat, &txns, &el);
	if (rv == 0)
		printf("| %-24s | %8d | %9.0f | %8.2f | %8.2f |\n", store, n,
			(double)txns * 1e9 / el, bench_samples_pct(&lat, 50) / 1e6,
			bench_samples_pct(&lat, 99) / 1e6);
	else
		fprintf(stderr, "bench_store_etcd: %s, %d keys: %s\n", store, n,
			osp_strerror((osp_err)rv));
	fflush(stdout);
	bench_samples_fini(&lat);
	return rv == 0 ? 0 : 1;
}

/* be_run opens the store o describes and runs both phases on it. */
static int be_run(const osp_store_opts *so, const be_opts *o, const char *store)
{
	osp_store *s = NULL;
	char err[512];
	int rc;

	if (osp_store_open(so, &s, err, sizeof(err)) != OSP_OK) {
		fprintf(stderr, "bench_store_etcd: %s: %s\n", store, err);
		return 1;
	}
	rc = be_phase(s, o, store, 1);
	rc |= be_phase(s, o, store, 100);
	osp_store_close(s);
	return rc;
}

/* be_etcd starts an n-member cluster under dir and runs the phases on it. */
static int be_etcd(const be_opts *o, const char *dir, int n, const char *store)
{
	static const char *const dbs[] = { "kv" };
	osp_store_opts so = { .backend = OSP_STORE_ETCD, .dbs = dbs, .ndbs = 1, .schema = 1,
		.etcd_prefix = "/bench/" };
	te_cluster c;
	int rc;

	if (te_start(&c, n, dir) != 0)
		return 1;
	so.etcd_endpoints = c.endpoints;
	rc = be_run(&so, o, store);
	te_stop_all(&c);
	return rc;
}

static int be_parse(int argc, char **argv, be_opts *o)
{
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(argv[i], "--dir") == 0 && v != NULL) {
			o->parent = v;
			i++;
		} else if (strcmp(argv[i], "--seconds") == 0 && v != NULL && atof(v) > 0) {
			o->seconds = atof(v);
			i++;
		} else {
			fprintf(stderr, "usage: bench_store_etcd [--dir PARENT] [--seconds S]\n");
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const dbs[] = { "kv" };
	be_opts o = { .seconds = 5 };
	char tmp[512], sub[600];
	osp_store_opts lmdb = { .backend = OSP_STORE_LMDB, .dbs = dbs, .ndbs = 1, .schema = 1 };
	int rc;

	if (be_parse(argc, argv, &o) != 0)
		return 2;
	if (bench_tmpdir(o.parent, "store-etcd", tmp, sizeof(tmp)) != 0)
		return 1;
	osp_log_setup(OSP_LOG_ERROR, OSP_LOG_TEXT, "bench_store_etcd", NULL);
	bench_header(argc, argv);
	printf("# data under %s (%s); one writer; latency = begin to commit\n\n", tmp,
		bench_fs_type(tmp));
	printf("| %-24s | %8s | %9s | %8s | %8s |\n", "store", "keys/txn", "commits/s",
		"p50 ms", "p99 ms");
	printf("|--------------------------|---------:|----------:|---------:|---------:|\n");
	snprintf(sub, sizeof(sub), "%s/lmdb", tmp);
	lmdb.dir = sub;
	rc = be_run(&lmdb, &o, "LMDB (synced)");
	snprintf(sub, sizeof(sub), "%s/etcd1", tmp);
	rc |= be_etcd(&o, sub, 1, "etcd, 1 member");
	snprintf(sub, sizeof(sub), "%s/etcd3", tmp);
	rc |= be_etcd(&o, sub, 3, "etcd, 3 members");
	bench_rmtree(tmp);
	return rc;
}
