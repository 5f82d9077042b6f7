/*
 * test_agent_store.c - the agent's LMDB state (STATE/db): meta values, results
 * with the cursor, acks, retention, app records, the lock and reopening.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "agent_store.h"
#include "ospec/util.h"
#include "test_support.h"

typedef struct as_fx {
	char root[64];
	agent_store *s;
} as_fx;

static agent_store *as_open(const char *root, uint64_t retain)
{
	agent_store *s = NULL;
	char err[256] = "";
	osp_err rv = agent_store_lmdb_open(root, retain, false, &s, err, sizeof(err));

	if (rv != OSP_OK)
		fail_msg("agent_store_lmdb_open: %s: %s", osp_strerror(rv), err);
	return s;
}

static int as_setup(void **state)
{
	as_fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	ts_mkdtemp(f->root, sizeof(f->root), "/tmp/ospec-agent-store-XXXXXX");
	f->s = as_open(f->root, 10);
	*state = f;
	return 0;
}

static int as_teardown(void **state)
{
	as_fx *f = *state;

	agent_store_close(f->s);
	ts_rmtree(f->root);
	free(f);
	return 0;
}

/* as_put stores the result "r<seq>" for seq. */
static void as_put(agent_store *s, uint64_t seq, bool acked)
{
	char v[32];
	int n = snprintf(v, sizeof(v), "r%llu", (unsigned long long)seq);

	assert_int_equal(s->ops->result_put(s, seq, v, (size_t)n, acked), OSP_OK);
}

/* as_has reports whether the result of seq is kept (and checks its bytes). */
static bool as_has(agent_store *s, uint64_t seq, bool *acked)
{
	void *v = NULL;
	size_t len = 0;
	char want[32];
	osp_err rv = s->ops->result_get(s, seq, &v, &len, acked);

	if (rv == OSP_ENOENT)
		return false;
	assert_int_equal(rv, OSP_OK);
	snprintf(want, sizeof(want), "r%llu", (unsigned long long)seq);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(v, want, len);
	free(v);
	return true;
}

static uint64_t as_cursor(agent_store *s)
{
	uint64_t c = 12345;

	assert_int_equal(s->ops->cursor_get(s, &c), OSP_OK);
	return c;
}

static void test_agent_store_meta(void **state)
{
	as_fx *f = *state;
	char v[64];

	assert_int_equal(f->s->ops->meta_get(f->s, "node_id", v, sizeof(v)), OSP_ENOENT);
	assert_int_equal(f->s->ops->meta_put(f->s, "node_id", "web-1"), OSP_OK);
	assert_int_equal(f->s->ops->meta_put(f->s, "instance_uuid",
				 "9b2f1c1e-2a51-4d7e-8d0a-3b5c2d1e0f99"),
		OSP_OK);
	assert_int_equal(f->s->ops->meta_get(f->s, "node_id", v, sizeof(v)), OSP_OK);
	assert_string_equal(v, "web-1");
	assert_int_equal(f->s->ops->meta_put(f->s, "node_id", "web-22"), OSP_OK);
	assert_int_equal(f->s->ops->meta_get(f->s, "node_id", v, sizeof(v)), OSP_OK);
	assert_string_equal(v, "web-22");
	assert_int_equal(f->s->ops->meta_put(f->s, "empty", ""), OSP_OK);
	assert_int_equal(f->s->ops->meta_get(f->s, "empty", v, sizeof(v)), OSP_OK);
	assert_string_equal(v, "");
	/* the value and its NUL must fit */
	assert_int_equal(f->s->ops->meta_get(f->s, "node_id", v, 6), OSP_ETOOBIG);
	assert_int_equal(f->s->ops->meta_get(f->s, "node_id", v, 7), OSP_OK);
	assert_string_equal(v, "web-22");
	assert_int_equal(as_cursor(f->s), 0); /* no result yet */
}

static void test_agent_store_result_cursor(void **state)
{
	as_fx *f = *state;
	uint8_t bin[300];
	void *v = NULL;
	size_t len = 0;
	bool acked = true;

	as_put(f->s, 1, false);
	assert_int_equal(as_cursor(f->s), 1);
	assert_true(as_has(f->s, 1, &acked));
	assert_false(acked);
	as_put(f->s, 2, true);
	assert_int_equal(as_cursor(f->s), 2);
	assert_true(as_has(f->s, 2, &acked));
	assert_true(acked);
	assert_true(as_has(f->s, 2, NULL));
	assert_false(as_has(f->s, 3, NULL));

	/* binary records (packed protobuf) come back byte for byte */
	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (uint8_t)i;
	assert_int_equal(f->s->ops->result_put(f->s, 3, bin, sizeof(bin), false), OSP_OK);
	assert_int_equal(f->s->ops->result_get(f->s, 3, &v, &len, &acked), OSP_OK);
	assert_int_equal(len, sizeof(bin));
	assert_memory_equal(v, bin, sizeof(bin));
	free(v);
	/* an empty record */
	assert_int_equal(f->s->ops->result_put(f->s, 4, "", 0, false), OSP_OK);
	assert_int_equal(f->s->ops->result_get(f->s, 4, &v, &len, NULL), OSP_OK);
	assert_int_equal(len, 0);
	free(v);
	assert_int_equal(as_cursor(f->s), 4);
}

static void test_agent_store_result_ack(void **state)
{
	as_fx *f = *state;
	bool acked = true;

	as_put(f->s, 1, false);
	assert_int_equal(f->s->ops->result_ack(f->s, 1), OSP_OK);
	assert_true(as_has(f->s, 1, &acked));
	assert_true(acked);
	/* acking twice is harmless; an unknown result is ENOENT */
	assert_int_equal(f->s->ops->result_ack(f->s, 1), OSP_OK);
	assert_true(as_has(f->s, 1, &acked));
	assert_true(acked);
	assert_int_equal(f->s->ops->result_ack(f->s, 99), OSP_ENOENT);
	assert_int_equal(as_cursor(f->s), 1);
}

typedef struct as_seen {
	uint64_t seqs[64];
	size_t n, stop_after;
} as_seen;

static int as_unacked_cb(void *arg, const char *key, const void *val, size_t len)
{
	as_seen *s = arg;
	char buf[32];

	assert_null(key);
	assert_true(len > 1 && len < sizeof(buf) && s->n < 64);
	memcpy(buf, val, len);
	buf[len] = '\0';
	assert_int_equal(buf[0], 'r');
	s->seqs[s->n++] = strtoull(buf + 1, NULL, 10);
	return s->stop_after && s->n >= s->stop_after ? 1 : 0;
}

static void test_agent_store_result_unacked(void **state)
{
	as_fx *f = *state;
	as_seen seen = { .n = 0 };
	agent_store *s = NULL;

	agent_store_close(f->s);
	f->s = s = as_open(f->root, 1000);
	/* across a byte boundary (255, 256): the order is numeric */
	for (uint64_t seq = 250; seq <= 262; seq++)
		as_put(s, seq, seq % 3 == 0);
	assert_int_equal(s->ops->result_ack(s, 256), OSP_OK);
	assert_int_equal(s->ops->result_ack(s, 250), OSP_OK);
	assert_int_equal(s->ops->result_unacked(s, as_unacked_cb, &seen), OSP_OK);
	/* unacked: 251 253 254 257 259 260 262 (multiples of 3 were put acked) */
	assert_int_equal(seen.n, 7);
	assert_int_equal(seen.seqs[0], 251);
	assert_int_equal(seen.seqs[1], 253);
	assert_int_equal(seen.seqs[2], 254);
	assert_int_equal(seen.seqs[3], 257);
	assert_int_equal(seen.seqs[4], 259);
	assert_int_equal(seen.seqs[5], 260);
	assert_int_equal(seen.seqs[6], 262);
	/* the callback can stop the walk */
	seen = (as_seen){ .stop_after = 2 };
	assert_int_equal(s->ops->result_unacked(s, as_unacked_cb, &seen), OSP_OK);
	assert_int_equal(seen.n, 2);
	assert_int_equal(seen.seqs[1], 253);
}

static void test_agent_store_retention(void **state)
{
	as_fx *f = *state;

	/* retain = 10: acknowledged results fall out of the window */
	for (uint64_t seq = 1; seq <= 30; seq++)
		as_put(f->s, seq, true);
	for (uint64_t seq = 1; seq <= 20; seq++)
		assert_false(as_has(f->s, seq, NULL));
	for (uint64_t seq = 21; seq <= 30; seq++)
		assert_true(as_has(f->s, seq, NULL));
	assert_int_equal(as_cursor(f->s), 30);

	/* a gap in the sequence still drops everything that fell out of the window */
	as_put(f->s, 100, true);
	for (uint64_t seq = 21; seq <= 30; seq++)
		assert_false(as_has(f->s, seq, NULL));
	assert_true(as_has(f->s, 100, NULL));
	as_put(f->s, 101, true);
	assert_true(as_has(f->s, 100, NULL));
	assert_true(as_has(f->s, 101, NULL));
	assert_int_equal(as_cursor(f->s), 101);

	/* an unacknowledged result waits to be re-sent, up to ten windows */
	as_put(f->s, 102, false);
	as_put(f->s, 150, true);
	assert_true(as_has(f->s, 102, NULL));
	as_put(f->s, 250, true);
	assert_false(as_has(f->s, 102, NULL));
}

typedef struct as_apps {
	char names[8][64];
	char vals[8][64];
	size_t n;
} as_apps;

static int as_apps_cb(void *arg, const char *key, const void *val, size_t len)
{
	as_apps *a = arg;

	assert_non_null(key);
	assert_true(a->n < 8 && len < 64);
	osp_strlcpy(a->names[a->n], key, sizeof(a->names[0]));
	memcpy(a->vals[a->n], val, len);
	a->vals[a->n][len] = '\0';
	a->n++;
	return 0;
}

static void test_agent_store_apps(void **state)
{
	as_fx *f = *state;
	as_apps apps = { .n = 0 };
	void *v = NULL;
	size_t len = 0;

	assert_int_equal(f->s->ops->app_get(f->s, "shop", &v, &len), OSP_ENOENT);
	assert_int_equal(f->s->ops->app_put(f->s, "shop", "desired-1", 9), OSP_OK);
	assert_int_equal(f->s->ops->app_put(f->s, "search", "desired-2", 9), OSP_OK);
	assert_int_equal(f->s->ops->app_put(f->s, "api", "", 0), OSP_OK);
	assert_int_equal(f->s->ops->app_put(f->s, "shop", "desired-3", 9), OSP_OK);
	assert_int_equal(f->s->ops->app_get(f->s, "shop", &v, &len), OSP_OK);
	assert_int_equal(len, 9);
	assert_memory_equal(v, "desired-3", 9);
	free(v);
	assert_int_equal(f->s->ops->app_get(f->s, "api", &v, &len), OSP_OK);
	assert_int_equal(len, 0);
	free(v);

	assert_int_equal(f->s->ops->app_list(f->s, as_apps_cb, &apps), OSP_OK);
	assert_int_equal(apps.n, 3);
	assert_string_equal(apps.names[0], "api");
	assert_string_equal(apps.names[1], "search");
	assert_string_equal(apps.names[2], "shop");
	assert_string_equal(apps.vals[2], "desired-3");

	assert_int_equal(f->s->ops->app_del(f->s, "search"), OSP_OK);
	assert_int_equal(f->s->ops->app_del(f->s, "search"), OSP_ENOENT);
	assert_int_equal(f->s->ops->app_get(f->s, "search", &v, &len), OSP_ENOENT);
	apps.n = 0;
	assert_int_equal(f->s->ops->app_list(f->s, as_apps_cb, &apps), OSP_OK);
	assert_int_equal(apps.n, 2);
	assert_string_equal(apps.names[1], "shop");
}

static void test_agent_store_reopen(void **state)
{
	as_fx *f = *state;
	agent_store *other = NULL;
	char err[256], v[64];
	void *a = NULL;
	size_t len = 0;
	bool acked = false;

	assert_int_equal(f->s->ops->meta_put(f->s, "node_id", "web-1"), OSP_OK);
	as_put(f->s, 1, false);
	as_put(f->s, 2, false);
	assert_int_equal(f->s->ops->result_ack(f->s, 1), OSP_OK);
	assert_int_equal(f->s->ops->app_put(f->s, "shop", "d", 1), OSP_OK);

	/* a second agent on the same state dir is refused */
	assert_int_equal(agent_store_lmdb_open(f->root, 10, false, &other, err, sizeof(err)),
		OSP_ELOCKED);
	assert_null(other);
	assert_non_null(strstr(err, "in use"));

	agent_store_close(f->s);
	f->s = as_open(f->root, 10);
	assert_int_equal(f->s->ops->meta_get(f->s, "node_id", v, sizeof(v)), OSP_OK);
	assert_string_equal(v, "web-1");
	assert_int_equal(as_cursor(f->s), 2);
	assert_true(as_has(f->s, 1, &acked));
	assert_true(acked);
	assert_true(as_has(f->s, 2, &acked));
	assert_false(acked);
	assert_int_equal(f->s->ops->app_get(f->s, "shop", &a, &len), OSP_OK);
	assert_int_equal(len, 1);
	free(a);
	agent_store_close(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_agent_store_meta, as_setup, as_teardown),
		cmocka_unit_test_setup_teardown(test_agent_store_result_cursor, as_setup,
			as_teardown),
		cmocka_unit_test_setup_teardown(test_agent_store_result_ack, as_setup, as_teardown),
		cmocka_unit_test_setup_teardown(test_agent_store_result_unacked, as_setup,
			as_teardown),
		cmocka_unit_test_setup_teardown(test_agent_store_retention, as_setup, as_teardown),
		cmocka_unit_test_setup_teardown(test_agent_store_apps, as_setup, as_teardown),
		cmocka_unit_test_setup_teardown(test_agent_store_reopen, as_setup, as_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
