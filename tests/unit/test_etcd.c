/*
 * test_etcd.c - the etcd client (ospec/etcd.h) against real etcd members
 * (tests/support/etcd_fixture.h): put and get of binary keys, range paging
 * at one revision, Txn compares (value, mod and create revision), etcd's
 * refusal of a too big Txn, leases (keepalive, expiry, revoke), endpoints
 * that do not answer, and a 3-member cluster losing one member, then
 * quorum, then getting it back.
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
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

#include "etcd_fixture.h"
#include "ospec/etcd.h"
#include "ospec/log.h"
#include "ospec/util.h"
#include "test_port.h"
#include "test_support.h"

/* One single-member cluster for the group; each test has a client. */
typedef struct etcd_fx {
	char root[64];
	te_cluster c;
	te_cluster c3; /* test_etcd_cluster's, stopped by the group teardown too */
	osp_etcd *e;
} etcd_fx;

static etcd_fx *etcd_group;

static int etcd_group_setup(void **state)
{
	char dir[128];

	(void)state;
	etcd_group = calloc(1, sizeof(*etcd_group));
	assert_non_null(etcd_group);
	ts_mkdtemp(etcd_group->root, sizeof(etcd_group->root), "/tmp/ospec-etcd-XXXXXX");
	snprintf(dir, sizeof(dir), "%s/one", etcd_group->root);
	return te_start(&etcd_group->c, 1, dir);
}

static int etcd_group_teardown(void **state)
{
	(void)state;
	te_stop_all(&etcd_group->c);
	te_stop_all(&etcd_group->c3);
	ts_rmtree(etcd_group->root);
	free(etcd_group);
	return 0;
}

static int etcd_setup(void **state)
{
	char err[256];

	if (osp_etcd_new(etcd_group->c.endpoints, 3000, &etcd_group->e, err, sizeof(err)) !=
		OSP_OK)
		fail_msg("osp_etcd_new: %s", err);
	*state = etcd_group;
	return 0;
}

static int etcd_teardown(void **state)
{
	etcd_fx *f = *state;

	osp_etcd_free(f->e);
	f->e = NULL;
	return 0;
}

/* etcd_put writes key=val (strings) in a Txn of its own. */
static void etcd_put(osp_etcd *e, const char *key, const char *val)
{
	osp_etcd_op op = { .key = key, .klen = strlen(key), .val = val, .vlen = strlen(val) };
	char err[512];
	bool ok = false;

	if (osp_etcd_txn(e, NULL, 0, &op, 1, &ok, NULL, err, sizeof(err)) != OSP_OK)
		fail_msg("put %s: %s", key, err);
	assert_true(ok);
}

static void test_etcd_put_get(void **state)
{
	etcd_fx *f = *state;
	static const char bin[] = { 'b', 0, (char)0xff, 'x' };
	osp_etcd_op op = { .key = bin, .klen = 4, .val = "\0\1", .vlen = 2 };
	osp_etcd_kv kv;
	char err[512];
	int64_t rev = 0, rev2 = 0;
	bool ok = false;

	etcd_put(f->e, "/pg/a", "one");
	assert_int_equal(osp_etcd_get(f->e, "/pg/a", 5, 0, &kv, &rev, err, sizeof(err)), OSP_OK);
	assert_int_equal(kv.klen, 5);
	assert_string_equal(kv.val, "one");
	assert_true(kv.create_rev > 0 && kv.mod_rev == kv.create_rev && rev >= kv.mod_rev);
	osp_etcd_kv_free(&kv);
	/* binary key and value, an empty value */
	assert_int_equal(osp_etcd_txn(f->e, NULL, 0, &op, 1, &ok, &rev2, err, sizeof(err)), OSP_OK);
	assert_true(ok && rev2 > rev);
	assert_int_equal(osp_etcd_get(f->e, bin, 4, 0, &kv, NULL, err, sizeof(err)), OSP_OK);
	assert_int_equal(kv.vlen, 2);
	assert_memory_equal(kv.val, "\0\1", 2);
	assert_memory_equal(kv.key, bin, 4);
	osp_etcd_kv_free(&kv);
	etcd_put(f->e, "/pg/empty", "");
	assert_int_equal(osp_etcd_get(f->e, "/pg/empty", 9, 0, &kv, NULL, err, sizeof(err)),
		OSP_OK);
	assert_int_equal(kv.vlen, 0);
	osp_etcd_kv_free(&kv);
	/* a prefix of a key is not the key; an old revision shows the old value */
	assert_int_equal(osp_etcd_get(f->e, "/pg/", 4, 0, &kv, NULL, err, sizeof(err)), OSP_ENOENT);
	etcd_put(f->e, "/pg/a", "two");
	assert_int_equal(osp_etcd_get(f->e, "/pg/a", 5, rev, &kv, NULL, err, sizeof(err)), OSP_OK);
	assert_string_equal(kv.val, "one");
	osp_etcd_kv_free(&kv);
}

#define ETCD_NKEYS 1234 /* more than two pages of etcd.c's ETCD_PAGE (500) */

typedef struct etcd_seen {
	size_t n, stop_after;
	char last[32];
	bool ordered;
} etcd_seen;

static int etcd_seen_cb(void *arg, const osp_etcd_kv *kv)
{
	etcd_seen *s = arg;

	if (s->n > 0 && strcmp(kv->key, s->last) <= 0)
		s->ordered = false;
	osp_strlcpy(s->last, kv->key, sizeof(s->last));
	s->n++;
	return s->stop_after && s->n >= s->stop_after ? 1 : 0;
}

/* etcd_ops_make makes n puts of fmt % i (keys of up to 15 bytes) with the
 * value val; the caller frees *ops and *keys. */
static void etcd_ops_make(size_t n, const char *fmt, const char *val, osp_etcd_op **ops,
	char (**keys)[16])
{
	*ops = calloc(n, sizeof(**ops));
	*keys = calloc(n, 16);
	assert_true(*ops != NULL && *keys != NULL);
	for (size_t i = 0; i < n; i++) {
		(*ops)[i].klen = (size_t)snprintf((*keys)[i], 16, fmt, i);
		(*ops)[i].key = (*keys)[i];
		(*ops)[i].val = val;
		(*ops)[i].vlen = strlen(val);
	}
}

/* etcd_fill writes /rp/kNNNNN for i < n in one Txn. */
static void etcd_fill(osp_etcd *e, size_t n)
{
	osp_etcd_op *ops = NULL;
	char (*keys)[16] = NULL, err[512];
	bool ok = false;

	etcd_ops_make(n, "/rp/k%05zu", "v", &ops, &keys);
	if (osp_etcd_txn(e, NULL, 0, ops, n, &ok, NULL, err, sizeof(err)) != OSP_OK)
		fail_msg("fill: %s", err);
	assert_true(ok);
	free(ops);
	free(keys);
}

static void test_etcd_range_paging(void **state)
{
	etcd_fx *f = *state;
	etcd_seen seen = { .ordered = true };
	char err[512];
	int64_t rev = 0, rev2 = 0;

	etcd_fill(f->e, ETCD_NKEYS);
	assert_int_equal(osp_etcd_range(f->e, "/rp/", 4, NULL, 0, 0, etcd_seen_cb, &seen, &rev,
		err, sizeof(err)), OSP_OK);
	assert_int_equal(seen.n, ETCD_NKEYS);
	assert_true(seen.ordered);
	assert_string_equal(seen.last, "/rp/k01233");
	/* at the revision read: a key written since is not in it */
	etcd_put(f->e, "/rp/k99999", "late");
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(osp_etcd_range(f->e, "/rp/", 4, NULL, 0, rev, etcd_seen_cb, &seen, &rev2,
		err, sizeof(err)), OSP_OK);
	assert_int_equal(seen.n, ETCD_NKEYS);
	assert_int_equal(rev2, rev);
	/* [from, end), and a stop from the callback in the second page */
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(osp_etcd_range(f->e, "/rp/k00100", 10, "/rp/k00200", 10, 0, etcd_seen_cb,
		&seen, NULL, err, sizeof(err)), OSP_OK);
	assert_int_equal(seen.n, 100);
	memset(&seen, 0, sizeof(seen));
	seen.stop_after = 700;
	assert_int_equal(osp_etcd_range(f->e, "/rp/", 4, NULL, 0, 0, etcd_seen_cb, &seen, NULL,
		err, sizeof(err)), OSP_OK);
	assert_int_equal(seen.n, 700);
}

static void test_etcd_txn_compare(void **state)
{
	etcd_fx *f = *state;
	osp_etcd_cmp cmp = { .key = "/tc/k", .klen = 5, .target = OSP_ETCD_VALUE, .val = "old",
		.vlen = 3 };
	osp_etcd_op op = { .key = "/tc/k", .klen = 5, .val = "new", .vlen = 3 };
	osp_etcd_kv kv;
	char err[512];
	bool ok = true;

	etcd_put(f->e, "/tc/k", "other");
	assert_int_equal(osp_etcd_txn(f->e, &cmp, 1, &op, 1, &ok, NULL, err, sizeof(err)), OSP_OK);
	assert_false(ok); /* the compare failed: nothing written */
	assert_int_equal(osp_etcd_get(f->e, "/tc/k", 5, 0, &kv, NULL, err, sizeof(err)), OSP_OK);
	assert_string_equal(kv.val, "other");
	cmp.target = OSP_ETCD_MOD;
	cmp.rev = kv.mod_rev;
	osp_etcd_kv_free(&kv);
	assert_int_equal(osp_etcd_txn(f->e, &cmp, 1, &op, 1, &ok, NULL, err, sizeof(err)), OSP_OK);
	assert_true(ok);
	assert_int_equal(osp_etcd_get(f->e, "/tc/k", 5, 0, &kv, NULL, err, sizeof(err)), OSP_OK);
	assert_string_equal(kv.val, "new");
	osp_etcd_kv_free(&kv);
	/* the same mod revision again: it moved with the write */
	assert_int_equal(osp_etcd_txn(f->e, &cmp, 1, &op, 1, &ok, NULL, err, sizeof(err)), OSP_OK);
	assert_false(ok);
}

static void test_etcd_create_revision(void **state)
{
	etcd_fx *f = *state;
	osp_etcd_cmp absent = { .key = "/cr/lead", .klen = 8, .target = OSP_ETCD_CREATE };
	osp_etcd_op put = { .key = "/cr/lead", .klen = 8, .val = "me", .vlen = 2 };
	osp_etcd_op del = { .del = true, .key = "/cr/lead", .klen = 8 };
	osp_etcd_cmp held = absent;
	osp_etcd_kv kv;
	char err[512];
	bool ok = false;

	/* create if absent, once */
	assert_int_equal(osp_etcd_txn(f->e, &absent, 1, &put, 1, &ok, NULL, err, sizeof(err)),
		OSP_OK);
	assert_true(ok);
	assert_int_equal(osp_etcd_txn(f->e, &absent, 1, &put, 1, &ok, NULL, err, sizeof(err)),
		OSP_OK);
	assert_false(ok);
	assert_int_equal(osp_etcd_get(f->e, "/cr/lead", 8, 0, &kv, NULL, err, sizeof(err)), OSP_OK);
	held.rev = kv.create_rev;
	osp_etcd_kv_free(&kv);
	/* overwriting keeps the create revision; deleting and creating again moves it */
	assert_int_equal(osp_etcd_txn(f->e, &held, 1, &put, 1, &ok, NULL, err, sizeof(err)),
		OSP_OK);
	assert_true(ok);
	assert_int_equal(osp_etcd_txn(f->e, &held, 1, &del, 1, &ok, NULL, err, sizeof(err)),
		OSP_OK);
	assert_true(ok);
	assert_int_equal(osp_etcd_get(f->e, "/cr/lead", 8, 0, &kv, NULL, err, sizeof(err)),
		OSP_ENOENT);
	etcd_put(f->e, "/cr/lead", "someone else");
	assert_int_equal(osp_etcd_txn(f->e, &held, 1, &put, 1, &ok, NULL, err, sizeof(err)),
		OSP_OK);
	assert_false(ok);
}

/* more operations than the fixture's --max-txn-ops: etcd refuses, and the
 * message says which flag to raise */
static void test_etcd_too_big(void **state)
{
	etcd_fx *f = *state;
	size_t n = 100001;
	osp_etcd_op *ops = NULL;
	char (*keys)[16] = NULL, err[512];
	bool ok = true;

	etcd_ops_make(n, "/tb/%06zu", "", &ops, &keys);
	if (osp_etcd_txn(f->e, NULL, 0, ops, n, &ok, NULL, err, sizeof(err)) != OSP_ETOOBIG)
		fail_msg("not OSP_ETOOBIG: %s", err);
	assert_false(ok);
	assert_non_null(strstr(err, "too many operations"));
	assert_non_null(strstr(err, "--max-txn-ops"));
	assert_non_null(strstr(err, f->c.endpoints));
	free(ops);
	free(keys);
}

static void test_etcd_lease(void **state)
{
	etcd_fx *f = *state;
	osp_etcd_op op = { .key = "/ls/k", .klen = 5, .val = "v", .vlen = 1 };
	osp_etcd_kv kv;
	int64_t id = 0, id2 = 0, ttl = 0;
	char err[512];
	bool ok = false;

	assert_int_equal(osp_etcd_lease_grant(f->e, 2, &id, err, sizeof(err)), OSP_OK);
	op.lease = id;
	assert_int_equal(osp_etcd_txn(f->e, NULL, 0, &op, 1, &ok, NULL, err, sizeof(err)), OSP_OK);
	assert_true(ok);
	assert_int_equal(osp_etcd_get(f->e, "/ls/k", 5, 0, &kv, NULL, err, sizeof(err)), OSP_OK);
	assert_int_equal(kv.lease, id);
	osp_etcd_kv_free(&kv);
	/* kept alive past its TTL */
	for (int i = 0; i < 6; i++) {
		osp_sleep_ms(500);
		assert_int_equal(osp_etcd_lease_keepalive(f->e, id, &ttl, err, sizeof(err)), OSP_OK);
		assert_int_equal(ttl, 2);
	}
	assert_int_equal(osp_etcd_get(f->e, "/ls/k", 5, 0, &kv, NULL, err, sizeof(err)), OSP_OK);
	osp_etcd_kv_free(&kv);
	/* left alone: gone with its key */
	osp_sleep_ms(3500);
	assert_int_equal(osp_etcd_get(f->e, "/ls/k", 5, 0, &kv, NULL, err, sizeof(err)),
		OSP_ENOENT);
	assert_int_equal(osp_etcd_lease_keepalive(f->e, id, &ttl, err, sizeof(err)), OSP_ENOENT);
	/* revoked: its key goes at once; revoking again is fine */
	assert_int_equal(osp_etcd_lease_grant(f->e, 60, &id2, err, sizeof(err)), OSP_OK);
	op.lease = id2;
	assert_int_equal(osp_etcd_txn(f->e, NULL, 0, &op, 1, &ok, NULL, err, sizeof(err)), OSP_OK);
	assert_int_equal(osp_etcd_lease_revoke(f->e, id2, err, sizeof(err)), OSP_OK);
	assert_int_equal(osp_etcd_get(f->e, "/ls/k", 5, 0, &kv, NULL, err, sizeof(err)),
		OSP_ENOENT);
	assert_int_equal(osp_etcd_lease_revoke(f->e, id2, err, sizeof(err)), OSP_OK);
}

static void test_etcd_endpoints(void **state)
{
	etcd_fx *f = *state;
	osp_etcd *e = NULL;
	char err[512], list[300];
	bool ok = false;
	osp_etcd_op op = { .key = "/ep/k", .klen = 5, .val = "v", .vlen = 1 };
	int port = tp_free_port();

	assert_int_equal(osp_etcd_new("", 0, &e, err, sizeof(err)), OSP_EINVAL);
	assert_int_equal(osp_etcd_new("host-without-port", 0, &e, err, sizeof(err)), OSP_EINVAL);
	assert_non_null(strstr(err, "host-without-port"));
	/* nobody listening: not delivered (OSP_ENET), the endpoint named */
	snprintf(list, sizeof(list), "127.0.0.1:%d", port);
	assert_int_equal(osp_etcd_new(list, 1000, &e, err, sizeof(err)), OSP_OK);
	assert_int_equal(osp_etcd_txn(e, NULL, 0, &op, 1, &ok, NULL, err, sizeof(err)), OSP_ENET);
	assert_non_null(strstr(err, list));
	osp_etcd_free(e);
	/* a dead endpoint first, then the live one: it moves on */
	snprintf(list, sizeof(list), "http://127.0.0.1:%d, %s", port, f->c.endpoints);
	assert_int_equal(osp_etcd_new(list, 1000, &e, err, sizeof(err)), OSP_OK);
	assert_int_equal(osp_etcd_txn(e, NULL, 0, &op, 1, &ok, NULL, err, sizeof(err)), OSP_OK);
	assert_true(ok);
	osp_etcd_free(e);
}

/* etcd_try_put reports how a put went and how long it took. */
static osp_err etcd_try_put(osp_etcd *e, int64_t *ms, char *err, size_t errlen)
{
	osp_etcd_op op = { .key = "/cl/k", .klen = 5, .val = "v", .vlen = 1 };
	int64_t t0 = osp_now_mono_ms();
	bool ok = false;
	osp_err rv = osp_etcd_txn(e, NULL, 0, &op, 1, &ok, NULL, err, errlen);

	*ms = osp_now_mono_ms() - t0;
	return rv == OSP_OK && !ok ? OSP_ESTATE : rv;
}

static void test_etcd_cluster(void **state)
{
	etcd_fx *f = *state;
	te_cluster *c = &f->c3;
	char dir[128], err[512];
	osp_etcd *e = NULL;
	int64_t ms;
	osp_err rv;

	snprintf(dir, sizeof(dir), "%s/three", f->root);
	assert_int_equal(te_start(c, 3, dir), 0);
	assert_int_equal(osp_etcd_new(c->endpoints, 2000, &e, err, sizeof(err)), OSP_OK);
	assert_int_equal(etcd_try_put(e, &ms, err, sizeof(err)), OSP_OK);
	/* one member down (the first endpoint, the client's last good one) */
	assert_int_equal(te_stop_member(c, 0), 0);
	if (etcd_try_put(e, &ms, err, sizeof(err)) != OSP_OK) {
		/* a new leader may be being elected: within a few election timeouts */
		assert_int_equal(te_wait_quorum(c, 5000), 0);
		assert_int_equal(etcd_try_put(e, &ms, err, sizeof(err)), OSP_OK);
	}
	/* two down: no quorum; the write fails, says so, and within the timeout
	 * of the one member that took it (the others refuse at once) */
	assert_int_equal(te_stop_member(c, 1), 0);
	rv = etcd_try_put(e, &ms, err, sizeof(err));
	assert_true(rv == OSP_ETIMEDOUT || rv == OSP_ENET);
	assert_true(ms < 2000 + 1500);
	assert_non_null(strstr(err, "etcd"));
	if (rv == OSP_ETIMEDOUT)
		assert_non_null(strstr(err, "outcome unknown"));
	/* both back: writes go through again */
	assert_int_equal(te_start_member(c, 0), 0);
	assert_int_equal(te_start_member(c, 1), 0);
	assert_int_equal(te_wait_quorum(c, 20000), 0);
	/* the member left alone may still force one more election as the others
	 * rejoin: a write of this client's may time out meanwhile, not for long */
	for (int i = 0; i < 5 && etcd_try_put(e, &ms, err, sizeof(err)) != OSP_OK; i++)
		osp_sleep_ms(200);
	if (etcd_try_put(e, &ms, err, sizeof(err)) != OSP_OK)
		fail_msg("after quorum came back (%lld ms): %s", (long long)ms, err);
	osp_etcd_free(e);
	te_stop_all(c);
}

/* A hostile "etcd" on loopback: answers every request with one body. */
struct etcd_liar {
	int fd;
	unsigned port;
	const char *body;
	atomic_bool stop;
	pthread_t thread;
};

static void *etcd_liar_main(void *arg)
{
	struct etcd_liar *l = arg;

	while (!atomic_load(&l->stop)) {
		struct pollfd pfd = { .fd = l->fd, .events = POLLIN };
		char req[4096], resp[8192];
		int c;

		if (poll(&pfd, 1, 50) <= 0 || (c = accept(l->fd, NULL, NULL)) < 0)
			continue;
		if (read(c, req, sizeof(req)) > 0) {
			snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Type: application/json"
				"\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
				strlen(l->body), l->body);
			if (write(c, resp, strlen(resp)) < 0)
				fprintf(stderr, "liar: write failed\n");
		}
		close(c);
	}
	return NULL;
}

/* Malformed answers from an endpoint (not JSON, the wrong JSON type, a key
 * that is not base64, a revision that is not a number) are errors with the
 * endpoint named: nothing crashes, nothing is taken as a value. */
static void test_etcd_malformed_answers(void **state)
{
	static const char *const bodies[] = {
		"not json{",
		"[1,2,3]",
		"{\"header\":{\"revision\":\"x\"},\"kvs\":[{\"key\":\"!!!\",\"value\":7}]}",
		"{\"kvs\":\"nope\",\"count\":\"-1\"}",
		"{\"succeeded\":\"maybe\",\"header\":[]}",
	};
	char err[512], list[64];
	osp_etcd_op op = { .key = "/m/k", .klen = 4, .val = "v", .vlen = 1 };

	(void)state;
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		struct etcd_liar l = { .body = bodies[i] };
		osp_etcd *e = NULL;
		osp_etcd_kv kv = { 0 };
		bool ok = true;
		int64_t id = 0;

		l.fd = ts_bind_loopback(&l.port);
		assert_int_equal(listen(l.fd, 16), 0);
		assert_int_equal(pthread_create(&l.thread, NULL, etcd_liar_main, &l), 0);
		snprintf(list, sizeof(list), "127.0.0.1:%u", l.port);
		assert_int_equal(osp_etcd_new(list, 1000, &e, err, sizeof(err)), OSP_OK);
		if (osp_etcd_get(e, "/m/k", 4, 0, &kv, NULL, err, sizeof(err)) == OSP_OK)
			fail_msg("body %zu: get answered OK", i);
		osp_etcd_kv_free(&kv);
		if (osp_etcd_txn(e, NULL, 0, &op, 1, &ok, NULL, err, sizeof(err)) == OSP_OK && ok)
			fail_msg("body %zu: txn taken as applied", i);
		if (osp_etcd_lease_grant(e, 5, &id, err, sizeof(err)) == OSP_OK)
			fail_msg("body %zu: a lease granted from '%s'", i, bodies[i]);
		atomic_store(&l.stop, true);
		pthread_join(l.thread, NULL);
		close(l.fd);
		osp_etcd_free(e);
	}
}

#define ETCD_TEST(fn) cmocka_unit_test_setup_teardown(fn, etcd_setup, etcd_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		ETCD_TEST(test_etcd_put_get),
		ETCD_TEST(test_etcd_range_paging),
		ETCD_TEST(test_etcd_txn_compare),
		ETCD_TEST(test_etcd_create_revision),
		ETCD_TEST(test_etcd_too_big),
		ETCD_TEST(test_etcd_lease),
		ETCD_TEST(test_etcd_endpoints),
		ETCD_TEST(test_etcd_cluster),
		cmocka_unit_test(test_etcd_malformed_answers),
	};

	osp_log_setup(OSP_LOG_ERROR + 1, OSP_LOG_TEXT, "test_etcd", NULL);
	return cmocka_run_group_tests(tests, etcd_group_setup, etcd_group_teardown);
}
