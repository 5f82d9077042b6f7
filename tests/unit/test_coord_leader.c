/*
 * test_coord_leader.c - the leader election (coord_leader.c) against a real
 * etcd member (tests/support/etcd_fixture.h): one leader at a time, a
 * standby that knows who leads, a resign that hands over at once, and a
 * leader whose lease is revoked under it losing the leadership.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <pthread.h>

#include "coord_leader.h"
#include "etcd_fixture.h"
#include "ospec/etcd.h"
#include "ospec/log.h"
#include "ospec/util.h"

typedef struct lt_fx {
	te_cluster etcd;
	char dir[128];
} lt_fx;

static int lt_setup(void **state)
{
	lt_fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/ospec-leader-XXXXXX");
	if (mkdtemp(f->dir) == NULL || te_start(&f->etcd, 1, f->dir) != 0) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int lt_teardown(void **state)
{
	lt_fx *f = *state;
	char cmd[200];

	te_stop_all(&f->etcd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", f->dir);
	free(f);
	return 0;
}

static int lt_lost_calls;

/* a leader of these tests that loses the leadership says so, and the test
 * fails (instead of the process exiting) */
static void lt_lost_fail(void *arg, const char *why)
{
	fprintf(stderr, "leader '%s' lost: %s\n", (const char *)arg, why);
	__atomic_add_fetch(&lt_lost_calls, 1, __ATOMIC_SEQ_CST);
}

static coord_leader *lt_new(lt_fx *f, const char *name)
{
	char control[64];
	coord_leader_opts o = { .endpoints = f->etcd.endpoints, .prefix = "/lt/", .name = name,
		.control = control, .agents = "tcp://127.0.0.1:1", .ttl_ms = 3000,
		.lost = lt_lost_fail, .lost_arg = (void *)name };
	coord_leader *l = NULL;
	char err[256];

	snprintf(control, sizeof(control), "ipc:///tmp/%s.sock", name);
	assert_int_equal(coord_leader_new(&o, &l, err, sizeof(err)), OSP_OK);
	return l;
}

static void test_store_url_parse(void **state)
{
	char ep[128], pre[64], err[256];

	(void)state;
	assert_int_equal(coord_store_url_parse("etcd://127.0.0.1:2379", ep, sizeof(ep), pre,
				 sizeof(pre), err, sizeof(err)), OSP_OK);
	assert_string_equal(ep, "127.0.0.1:2379");
	assert_string_equal(pre, "/ospec/");
	assert_int_equal(coord_store_url_parse("etcd://a:1,b:2/prod/eu", ep, sizeof(ep), pre,
				 sizeof(pre), err, sizeof(err)), OSP_OK);
	assert_string_equal(ep, "a:1,b:2");
	assert_string_equal(pre, "/prod/eu/");
	assert_int_equal(coord_store_url_parse("etcd://a:1/x/", ep, sizeof(ep), pre, sizeof(pre),
				 err, sizeof(err)), OSP_OK);
	assert_string_equal(pre, "/x/");
	assert_int_equal(coord_store_url_parse("lmdb:///var/lib", ep, sizeof(ep), pre, sizeof(pre),
				 err, sizeof(err)), OSP_EINVAL);
	assert_non_null(strstr(err, "expected etcd://"));
	assert_int_equal(coord_store_url_parse("etcd:///p", ep, sizeof(ep), pre, sizeof(pre), err,
				 sizeof(err)), OSP_EINVAL);
	assert_non_null(strstr(err, "no etcd endpoint"));
	assert_int_equal(coord_store_url_parse("etcd://a:1/p q", ep, sizeof(ep), pre, sizeof(pre),
				 err, sizeof(err)), OSP_EINVAL);
}

struct lt_campaign {
	coord_leader *l;
	sigset_t set;
	osp_err rv;
	int sig;
	bool done;
};

static void *lt_campaign_main(void *arg)
{
	struct lt_campaign *c = arg;

	c->rv = coord_leader_campaign(c->l, &c->set, &c->sig);
	__atomic_store_n(&c->done, true, __ATOMIC_RELEASE);
	return NULL;
}

/* One leads; the other waits, names the leader, and wins right after the
 * leader resigns (well inside the 2 s TTL) with a later fence revision. */
static void test_one_leader_then_handover(void **state)
{
	lt_fx *f = *state;
	coord_leader *a = lt_new(f, "la"), *b = lt_new(f, "lb");
	struct lt_campaign ca = { .l = a }, cb = { .l = b };
	char name[64], control[128];
	pthread_t tb;
	int64_t t0, rev_a;

	sigemptyset(&ca.set);
	sigaddset(&ca.set, SIGUSR1);
	cb.set = ca.set;
	pthread_sigmask(SIG_BLOCK, &ca.set, NULL);
	assert_int_equal(coord_leader_campaign(a, &ca.set, &ca.sig), OSP_OK);
	rev_a = coord_leader_rev(a);
	assert_true(rev_a > 0);
	assert_string_equal(coord_leader_key(a), "/lt/_leader");
	assert_int_equal(pthread_create(&tb, NULL, lt_campaign_main, &cb), 0);
	for (int i = 0; i < 100; i++) {
		coord_leader_current(b, name, sizeof(name), control, sizeof(control));
		if (name[0] != '\0')
			break;
		osp_sleep_ms(50);
	}
	assert_string_equal(name, "la");
	assert_string_equal(control, "ipc:///tmp/la.sock");
	osp_sleep_ms(3500); /* longer than the TTL: a's keep-alive holds it */
	assert_false(__atomic_load_n(&cb.done, __ATOMIC_ACQUIRE));
	assert_int_equal(__atomic_load_n(&lt_lost_calls, __ATOMIC_SEQ_CST), 0);
	t0 = osp_now_mono_ms();
	coord_leader_free(a, true);
	pthread_join(tb, NULL);
	assert_int_equal(cb.rv, OSP_OK);
	fprintf(stderr, "handover after a resign: %lld ms\n", (long long)(osp_now_mono_ms() - t0));
	assert_true(osp_now_mono_ms() - t0 < 1500);
	assert_true(coord_leader_rev(b) > rev_a);
	coord_leader_free(b, true);
}

/* A standby campaigning stops at a signal with OSP_ECLOSED. */
static void test_campaign_stops_at_signal(void **state)
{
	lt_fx *f = *state;
	coord_leader *a = lt_new(f, "la"), *b = lt_new(f, "lb");
	struct lt_campaign cb = { .l = b };
	pthread_t tb;
	int sig = 0;

	sigemptyset(&cb.set);
	sigaddset(&cb.set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &cb.set, NULL);
	assert_int_equal(coord_leader_campaign(a, &cb.set, &sig), OSP_OK);
	assert_int_equal(pthread_create(&tb, NULL, lt_campaign_main, &cb), 0);
	osp_sleep_ms(600);
	pthread_kill(tb, SIGUSR1);
	pthread_join(tb, NULL);
	assert_int_equal(cb.rv, OSP_ECLOSED);
	assert_int_equal(cb.sig, SIGUSR1);
	assert_int_equal(coord_leader_rev(b), 0);
	coord_leader_free(b, false);
	coord_leader_free(a, true);
}

struct lt_lost {
	int calls;
	char why[256];
};

static void lt_on_lost(void *arg, const char *why)
{
	struct lt_lost *x = arg;

	osp_strlcpy(x->why, why, sizeof(x->why));
	__atomic_add_fetch(&x->calls, 1, __ATOMIC_SEQ_CST);
}

/* A leader whose lease is revoked from outside loses the leadership within
 * the TTL, saying why (the real coordinator then exits 75: it_ha). */
static void test_lease_gone_lost(void **state)
{
	lt_fx *f = *state;
	struct lt_lost x = { 0 };
	coord_leader_opts o = { .endpoints = f->etcd.endpoints, .prefix = "/lt/", .name = "lc",
		.control = "ipc:///tmp/lc.sock", .ttl_ms = 3000, .lost = lt_on_lost,
		.lost_arg = &x };
	coord_leader *l = NULL;
	osp_etcd *cli = NULL;
	osp_etcd_kv kv = { 0 };
	char err[256];
	sigset_t set;
	int sig = 0;
	int64_t t0;

	sigemptyset(&set);
	assert_int_equal(coord_leader_new(&o, &l, err, sizeof(err)), OSP_OK);
	assert_int_equal(coord_leader_campaign(l, &set, &sig), OSP_OK);
	assert_int_equal(osp_etcd_new(f->etcd.endpoints, 2000, &cli, err, sizeof(err)), OSP_OK);
	assert_int_equal(osp_etcd_get(cli, "/lt/_leader", 11, 0, &kv, NULL, err, sizeof(err)),
		OSP_OK);
	assert_true(kv.lease != 0);
	osp_sleep_ms(3500); /* kept alive past its TTL: not lost */
	assert_int_equal(__atomic_load_n(&x.calls, __ATOMIC_SEQ_CST), 0);
	t0 = osp_now_mono_ms();
	assert_int_equal(osp_etcd_lease_revoke(cli, kv.lease, err, sizeof(err)), OSP_OK);
	while (__atomic_load_n(&x.calls, __ATOMIC_SEQ_CST) == 0 && osp_now_mono_ms() - t0 < 5000)
		osp_sleep_ms(20);
	assert_int_equal(__atomic_load_n(&x.calls, __ATOMIC_SEQ_CST), 1);
	assert_true(osp_now_mono_ms() - t0 < 3000 + 1000);
	assert_non_null(strstr(x.why, "the lease is gone"));
	osp_etcd_kv_free(&kv);
	osp_etcd_free(cli);
	coord_leader_free(l, false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_url_parse),
		cmocka_unit_test_setup_teardown(test_one_leader_then_handover, lt_setup, lt_teardown),
		cmocka_unit_test_setup_teardown(test_campaign_stops_at_signal, lt_setup, lt_teardown),
		cmocka_unit_test_setup_teardown(test_lease_gone_lost, lt_setup, lt_teardown),
	};

	osp_log_setup(OSP_LOG_WARN, OSP_LOG_TEXT, "test_coord_leader", NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
