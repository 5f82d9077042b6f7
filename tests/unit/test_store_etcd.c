/*
 * test_store_etcd.c - what only the etcd store does (its shared behaviour
 * is test_store.c's "(etcd)" runs): fencing on the leader key's
 * create_revision, what lands in etcd and where, a second store on the same
 * prefix, a commit etcd refuses as too big, and a commit of unknown outcome
 * followed by a reload. Against a real etcd member
 * (tests/support/etcd_fixture.h) that the tests pause and resume
 * (SIGSTOP/SIGCONT) to make an answer go missing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "etcd_fixture.h"
#include "ospec/etcd.h"
#include "ospec/log.h"
#include "ospec/store.h"
#include "ospec/util.h"
#include "test_support.h"
#include "test_support_store.h"

typedef struct sefx {
	char root[64];
	te_cluster c;
	osp_etcd *e;     /* a client of our own, beside the stores' */
	char prefix[96]; /* this test's */
	int fenced;      /* calls of the fenced callback */
} sefx;

static sefx *se_group;
static int se_seq;

static int se_group_setup(void **state)
{
	char dir[128], err[256];

	(void)state;
	se_group = calloc(1, sizeof(*se_group));
	assert_non_null(se_group);
	ts_mkdtemp(se_group->root, sizeof(se_group->root), "/tmp/ospec-store-etcd-XXXXXX");
	snprintf(dir, sizeof(dir), "%s/etcd", se_group->root);
	if (te_start(&se_group->c, 1, dir) != 0)
		return -1;
	if (osp_etcd_new(se_group->c.endpoints, 3000, &se_group->e, err, sizeof(err)) != OSP_OK)
		return -1;
	return 0;
}

static int se_group_teardown(void **state)
{
	(void)state;
	osp_etcd_free(se_group->e);
	te_stop_all(&se_group->c);
	ts_rmtree(se_group->root);
	free(se_group);
	return 0;
}

static int se_setup(void **state)
{
	snprintf(se_group->prefix, sizeof(se_group->prefix), "/tse/%d/", ++se_seq);
	se_group->fenced = 0;
	*state = se_group;
	return 0;
}

static void se_on_fenced(void *arg)
{
	((sefx *)arg)->fenced++;
}

/* se_open opens the store of "kv" and "other" under f->prefix. */
static osp_err se_open(sefx *f, const char *fence, int64_t fence_rev, int64_t timeout_ms,
	osp_store **s, char *err, size_t errlen)
{
	static const char *const dbs[] = { "kv", "other" };
	osp_store_opts o = { .backend = OSP_STORE_ETCD, .dbs = dbs, .ndbs = 2, .schema = 3,
		.etcd_endpoints = f->c.endpoints, .etcd_prefix = f->prefix,
		.etcd_timeout_ms = timeout_ms, .etcd_fence_key = fence,
		.etcd_fence_rev = fence_rev, .etcd_fenced = se_on_fenced, .etcd_fenced_arg = f };

	err[0] = '\0';
	return osp_store_open(&o, s, err, errlen);
}

/* se_key writes f->prefix + rest into buf. */
static const char *se_key(const sefx *f, const char *rest, char *buf, size_t len)
{
	assert_true((size_t)snprintf(buf, len, "%s%s", f->prefix, rest) < len);
	return buf;
}

/* se_etcd_put writes key=val straight into etcd; *create_rev (may be NULL)
 * gets the key's create revision. */
static void se_etcd_put(sefx *f, const char *key, const char *val, int64_t *create_rev)
{
	osp_etcd_op op = { .key = key, .klen = strlen(key), .val = val, .vlen = strlen(val) };
	osp_etcd_kv kv;
	char err[512];
	bool ok = false;

	if (osp_etcd_txn(f->e, NULL, 0, &op, 1, &ok, NULL, err, sizeof(err)) != OSP_OK || !ok)
		fail_msg("put %s: %s", key, err);
	if (create_rev == NULL)
		return;
	assert_int_equal(osp_etcd_get(f->e, key, strlen(key), 0, &kv, NULL, err, sizeof(err)),
		OSP_OK);
	*create_rev = kv.create_rev;
	osp_etcd_kv_free(&kv);
}

/* se_etcd_get returns the code of a get of key straight from etcd; the
 * value goes to buf. */
static osp_err se_etcd_get(sefx *f, const char *key, char *buf, size_t len)
{
	osp_etcd_kv kv;
	char err[512];
	osp_err rv = osp_etcd_get(f->e, key, strlen(key), 0, &kv, NULL, err, sizeof(err));

	buf[0] = '\0';
	if (rv == OSP_OK)
		osp_strlcpy(buf, kv.val, len);
	osp_etcd_kv_free(&kv);
	return rv;
}

/* se_put1 commits k=v in db "kv" and returns the commit's code. */
static osp_err se_put1(osp_store *s, const char *k, const char *v)
{
	osp_txn *t = NULL;

	assert_int_equal(osp_store_txn_begin(s, true, &t), OSP_OK);
	assert_int_equal(osp_store_put(t, "kv", k, strlen(k), v, strlen(v)), OSP_OK);
	return osp_store_txn_commit(t);
}

static void test_store_etcd_fencing(void **state)
{
	sefx *f = *state;
	char lead[128], key[128], err[512], buf[64];
	int64_t rev = 0, rev2 = 0;
	osp_store *s = NULL;
	osp_etcd_op del;
	bool ok = false;

	se_key(f, "leader", lead, sizeof(lead));
	se_etcd_put(f, lead, "coordinator-1", &rev);
	/* a wrong revision: even the schema's first write is refused */
	assert_int_equal(se_open(f, lead, rev + 1, 0, &s, err, sizeof(err)), OSP_ESTORE);
	assert_null(s);
	assert_int_equal(f->fenced, 1);
	f->fenced = 0;
	assert_int_equal(se_open(f, lead, rev, 0, &s, err, sizeof(err)), OSP_OK);
	assert_int_equal(se_put1(s, "a", "1"), OSP_OK);
	assert_int_equal(se_etcd_get(f, se_key(f, "kv/a", key, sizeof(key)), buf, sizeof(buf)),
		OSP_OK);
	assert_string_equal(buf, "1");
	/* the leader key deleted (the lease expired): fenced, nothing written */
	del = (osp_etcd_op){ .del = true, .key = lead, .klen = strlen(lead) };
	assert_int_equal(osp_etcd_txn(f->e, NULL, 0, &del, 1, &ok, NULL, err, sizeof(err)),
		OSP_OK);
	assert_int_equal(se_put1(s, "b", "2"), OSP_ESTORE);
	assert_int_equal(f->fenced, 1);
	assert_int_equal(osp_store_etcd_error(s, err, sizeof(err)), OSP_OK);
	assert_non_null(strstr(err, "fenced"));
	assert_non_null(strstr(err, "no longer holds the leadership"));
	assert_non_null(strstr(err, lead));
	assert_int_equal(se_etcd_get(f, se_key(f, "kv/b", key, sizeof(key)), buf, sizeof(buf)),
		OSP_ENOENT);
	assert_int_equal(ts_store_get1(s, "kv", "b", 1, buf, sizeof(buf)), OSP_ENOENT);
	/* another coordinator made it again: still fenced (a new create revision) */
	se_etcd_put(f, lead, "coordinator-2", &rev2);
	assert_true(rev2 != rev);
	assert_int_equal(se_put1(s, "a", "3"), OSP_ESTORE);
	assert_int_equal(f->fenced, 2);
	assert_int_equal(se_etcd_get(f, key, buf, sizeof(buf)), OSP_ENOENT);
	assert_int_equal(ts_store_get1(s, "kv", "a", 1, buf, sizeof(buf)), OSP_OK);
	assert_string_equal(buf, "1");
	osp_store_close(s);
}

/* se_fill commits p/1..p/3 and x, then (one txn) a del_prefix of p/, a put of
 * q and of p/2 again, and a delete of x. */
static void se_fill(osp_store *s)
{
	osp_txn *t = NULL;
	size_t n = 0;

	assert_int_equal(osp_store_txn_begin(s, true, &t), OSP_OK);
	assert_int_equal(osp_store_put(t, "kv", "p/1", 3, "1", 1), OSP_OK);
	assert_int_equal(osp_store_put(t, "kv", "p/2", 3, "2", 1), OSP_OK);
	assert_int_equal(osp_store_put(t, "kv", "p/3", 3, "3", 1), OSP_OK);
	assert_int_equal(osp_store_put(t, "other", "x", 1, "x", 1), OSP_OK);
	assert_int_equal(osp_store_txn_commit(t), OSP_OK);
	assert_int_equal(osp_store_txn_begin(s, true, &t), OSP_OK);
	assert_int_equal(osp_store_del_prefix(t, "kv", "p/", 2, &n), OSP_OK);
	assert_int_equal(n, 3);
	assert_int_equal(osp_store_put(t, "kv", "q", 1, "q", 1), OSP_OK);
	assert_int_equal(osp_store_put(t, "kv", "p/2", 3, "again", 5), OSP_OK);
	assert_int_equal(osp_store_put(t, "kv", "q", 1, "Q", 1), OSP_OK);
	assert_int_equal(osp_store_del(t, "other", "x", 1), OSP_OK);
	assert_int_equal(osp_store_txn_commit(t), OSP_OK);
}

static void test_store_etcd_second_store(void **state)
{
	sefx *f = *state;
	char key[128], err[512], buf[64];
	osp_store *a = NULL, *b = NULL;
	uint64_t n = 0;
	osp_txn *t = NULL;

	assert_int_equal(se_open(f, NULL, 0, 0, &a, err, sizeof(err)), OSP_OK);
	se_etcd_put(f, se_key(f, "leader", key, sizeof(key)), "not the store's", NULL);
	se_fill(a);
	/* in etcd as the final state of each txn: deletes included */
	assert_int_equal(se_etcd_get(f, se_key(f, "kv/p/1", key, sizeof(key)), buf, sizeof(buf)),
		OSP_ENOENT);
	assert_int_equal(se_etcd_get(f, se_key(f, "kv/p/2", key, sizeof(key)), buf, sizeof(buf)),
		OSP_OK);
	assert_string_equal(buf, "again");
	assert_int_equal(se_etcd_get(f, se_key(f, "other/x", key, sizeof(key)), buf, sizeof(buf)),
		OSP_ENOENT);
	/* a second store on the prefix reads what the first committed */
	assert_int_equal(se_open(f, NULL, 0, 0, &b, err, sizeof(err)), OSP_OK);
	assert_int_equal(ts_store_get1(b, "kv", "q", 1, buf, sizeof(buf)), OSP_OK);
	assert_string_equal(buf, "Q");
	assert_int_equal(osp_store_txn_begin(b, false, &t), OSP_OK);
	assert_int_equal(osp_store_count(t, "kv", &n), OSP_OK);
	assert_int_equal(n, 2); /* p/2 and q; the leader key is left alone */
	assert_int_equal(osp_store_count(t, "other", &n), OSP_OK);
	assert_int_equal(n, 0);
	osp_store_txn_abort(t);
	/* the cache does not watch: a later commit of a's shows after a reopen
	 * (docs/ha.md: one writer at a time) */
	assert_int_equal(se_put1(a, "late", "1"), OSP_OK);
	assert_int_equal(ts_store_get1(b, "kv", "late", 4, buf, sizeof(buf)), OSP_ENOENT);
	osp_store_close(b);
	b = NULL;
	assert_int_equal(se_open(f, NULL, 0, 0, &b, err, sizeof(err)), OSP_OK);
	assert_int_equal(ts_store_get1(b, "kv", "late", 4, buf, sizeof(buf)), OSP_OK);
	assert_int_equal(se_etcd_get(f, se_key(f, "leader", key, sizeof(key)), buf, sizeof(buf)),
		OSP_OK);
	osp_store_close(a);
	osp_store_close(b);
}

/* an etcd store has no backup of its own: the message says what to do */
static void test_store_etcd_no_copy(void **state)
{
	sefx *f = *state;
	char err[512], path[128];
	osp_store *s = NULL;
	uint64_t used = 0, map = 0;

	assert_int_equal(se_open(f, NULL, 0, 0, &s, err, sizeof(err)), OSP_OK);
	snprintf(path, sizeof(path), "%s/backup.mdb", f->root);
	assert_int_equal(osp_store_copy(s, path, NULL, err, sizeof(err)), OSP_ESTATE);
	assert_non_null(strstr(err, "etcdctl snapshot save"));
	assert_string_equal(osp_store_backend_name(s), "etcd");
	assert_int_equal(osp_store_usage(s, &used, &map), OSP_OK);
	assert_true(used > 0 && map == 1ULL << 30);
	osp_store_close(s);
}

/* a commit over the fixture's --max-txn-ops: refused whole, the flag named,
 * the cache unchanged and the store still usable */
static void test_store_etcd_too_big(void **state)
{
	sefx *f = *state;
	char err[512], key[16], buf[64];
	osp_store *s = NULL;
	osp_txn *t = NULL;

	assert_int_equal(se_open(f, NULL, 0, 0, &s, err, sizeof(err)), OSP_OK);
	assert_int_equal(osp_store_txn_begin(s, true, &t), OSP_OK);
	for (int i = 0; i <= 100000; i++) {
		int kl = snprintf(key, sizeof(key), "k%06d", i);

		assert_int_equal(osp_store_put(t, "kv", key, (size_t)kl, "v", 1), OSP_OK);
	}
	assert_int_equal(osp_store_txn_commit(t), OSP_ETOOBIG);
	assert_int_equal(osp_store_etcd_error(s, err, sizeof(err)), OSP_OK);
	assert_non_null(strstr(err, "--max-txn-ops"));
	assert_non_null(strstr(err, "--max-request-bytes"));
	assert_int_equal(ts_store_get1(s, "kv", "k000000", 7, buf, sizeof(buf)), OSP_ENOENT);
	assert_int_equal(se_etcd_get(f, se_key(f, "kv/k000000", err, sizeof(err)), buf,
		sizeof(buf)), OSP_ENOENT);
	assert_int_equal(se_put1(s, "small", "1"), OSP_OK);
	osp_store_close(s);
}

/* se_unknown_commit commits "x" with the member stopped: no answer. */
static void se_unknown_commit(sefx *f, osp_store *s)
{
	char err[512];
	osp_txn *t = NULL;
	int64_t t0;
	osp_err rv;

	assert_int_equal(te_pause_member(&f->c, 0), 0);
	t0 = osp_now_mono_ms();
	rv = se_put1(s, "x", "maybe");
	assert_int_equal(osp_store_etcd_error(s, err, sizeof(err)), OSP_OK);
	if (rv != OSP_ETIMEDOUT)
		fail_msg("commit: %s (%s)", osp_strerror(rv), err);
	/* the send's timeout, then about three more settling it */
	assert_true(osp_now_mono_ms() - t0 < 6000);
	assert_non_null(strstr(err, "outcome unknown"));
	assert_non_null(strstr(err, f->c.endpoints));
	/* etcd still away: no transaction on a cache that may be wrong */
	assert_int_not_equal(osp_store_txn_begin(s, false, &t), OSP_OK);
	assert_int_equal(te_resume_member(&f->c, 0), 0);
	/* back: it works through the requests queued meanwhile first */
	assert_int_equal(te_wait_quorum(&f->c, 10000), 0);
}

static void test_store_etcd_unknown_reload(void **state)
{
	sefx *f = *state;
	char key[128], err[512], buf[64], inetcd[64];
	osp_store *s = NULL;
	osp_txn *r = NULL;
	const void *v;
	size_t vl;
	osp_err had;

	assert_int_equal(se_open(f, NULL, 0, 1000, &s, err, sizeof(err)), OSP_OK);
	assert_int_equal(se_put1(s, "a", "1"), OSP_OK);
	assert_int_equal(osp_store_txn_begin(s, false, &r), OSP_OK); /* an open reader */
	se_unknown_commit(f, s);
	/* another writer's record the cache never saw */
	se_etcd_put(f, se_key(f, "kv/direct", key, sizeof(key)), "d", NULL);
	/* the next transaction reloads: the cache is etcd's again */
	assert_int_equal(ts_store_get1(s, "kv", "direct", 6, buf, sizeof(buf)), OSP_OK);
	assert_string_equal(buf, "d");
	had = se_etcd_get(f, se_key(f, "kv/x", key, sizeof(key)), inetcd, sizeof(inetcd));
	assert_int_equal(ts_store_get1(s, "kv", "x", 1, buf, sizeof(buf)), had);
	assert_string_equal(buf, inetcd);
	/* the reader kept its snapshot through the reload */
	assert_int_equal(osp_store_get(r, "kv", "direct", 6, &v, &vl), OSP_ENOENT);
	assert_int_equal(osp_store_get(r, "kv", "a", 1, &v, &vl), OSP_OK);
	assert_memory_equal(v, "1", 1);
	osp_store_txn_abort(r);
	/* and writes go on */
	assert_int_equal(se_put1(s, "after", "1"), OSP_OK);
	assert_int_equal(se_etcd_get(f, se_key(f, "kv/after", key, sizeof(key)), buf,
		sizeof(buf)), OSP_OK);
	osp_store_close(s);
}

struct se_resume {
	sefx *f;
	int after_ms;
};

static void *se_resume_main(void *arg)
{
	struct se_resume *r = arg;

	osp_sleep_ms(r->after_ms);
	te_resume_member(&r->f->c, 0);
	return NULL;
}

/* A commit whose Txn got no answer (the member paused past the request
 * timeout) is settled by the commit marker once etcd answers again: applied
 * once, in etcd and in the cache, no reload, no error. Without the marker
 * this commit failed with OSP_ETIMEDOUT. */
static void test_store_etcd_unknown_settled(void **state)
{
	sefx *f = *state;
	struct se_resume r = { f, 1600 };
	char key[128], err[512], buf[64];
	osp_store *s = NULL;
	pthread_t th;
	osp_err rv;

	assert_int_equal(se_open(f, NULL, 0, 1000, &s, err, sizeof(err)), OSP_OK);
	assert_int_equal(se_put1(s, "a", "1"), OSP_OK);
	assert_int_equal(te_pause_member(&f->c, 0), 0);
	assert_int_equal(pthread_create(&th, NULL, se_resume_main, &r), 0);
	rv = se_put1(s, "x", "settled");
	pthread_join(th, NULL);
	osp_store_etcd_error(s, err, sizeof(err));
	if (rv != OSP_OK)
		fail_msg("commit: %s (%s)", osp_strerror(rv), err);
	assert_int_equal(se_etcd_get(f, se_key(f, "kv/x", key, sizeof(key)), buf, sizeof(buf)),
		OSP_OK);
	assert_string_equal(buf, "settled");
	assert_int_equal(ts_store_get1(s, "kv", "x", 1, buf, sizeof(buf)), OSP_OK);
	assert_string_equal(buf, "settled");
	/* the marker moved once per commit: the next one goes through at once */
	assert_int_equal(se_put1(s, "y", "2"), OSP_OK);
	osp_store_close(s);
}

#define SE_TEST(fn) cmocka_unit_test_setup_teardown(fn, se_setup, NULL)

int main(void)
{
	const struct CMUnitTest tests[] = {
		SE_TEST(test_store_etcd_fencing),
		SE_TEST(test_store_etcd_second_store),
		SE_TEST(test_store_etcd_no_copy),
		SE_TEST(test_store_etcd_too_big),
		SE_TEST(test_store_etcd_unknown_reload),
		SE_TEST(test_store_etcd_unknown_settled),
	};

	osp_log_setup(OSP_LOG_ERROR + 1, OSP_LOG_TEXT, "test_store_etcd", NULL);
	return cmocka_run_group_tests(tests, se_group_setup, se_group_teardown);
}
