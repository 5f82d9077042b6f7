/*
 * test_coord_registry.c - the coordinator's in-memory registry: the per-pipe
 * replay window, pipes, the sorted node list, removal, app reports, and
 * liveness (coord_node_seen / coord_registry_tick with a synthetic clock)
 * writing events into a real store on a temp dir.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "coord.h"
#include "test_support.h"

static void test_coord_registry_replay_in_order(void **state)
{
	coord_pipe p = { .id = 1 };

	(void)state;
	for (uint64_t id = 1; id <= 200; id++)
		assert_true(coord_pipe_seen_msg(&p, id));
	assert_int_equal(p.max_msg_id, 200);
	/* every one of the last 64 is a replay now, and so is anything older */
	for (uint64_t id = 1; id <= 200; id++)
		assert_false(coord_pipe_seen_msg(&p, id));
	assert_true(coord_pipe_seen_msg(&p, 201));
}

static void test_coord_registry_replay_out_of_order(void **state)
{
	coord_pipe p = { .id = 1 };

	(void)state;
	assert_true(coord_pipe_seen_msg(&p, 100));
	/* late arrivals inside the window are taken once */
	assert_true(coord_pipe_seen_msg(&p, 90));
	assert_false(coord_pipe_seen_msg(&p, 90));
	assert_true(coord_pipe_seen_msg(&p, 99));
	assert_true(coord_pipe_seen_msg(&p, 37)); /* 100 - 63: the window's edge */
	assert_false(coord_pipe_seen_msg(&p, 37));
	assert_false(coord_pipe_seen_msg(&p, 36)); /* 100 - 64: too old to tell */
	assert_false(coord_pipe_seen_msg(&p, 1));
	assert_false(coord_pipe_seen_msg(&p, 100));
	assert_int_equal(p.max_msg_id, 100);

	/* a step forward shifts what was seen along with it */
	assert_true(coord_pipe_seen_msg(&p, 102));
	assert_false(coord_pipe_seen_msg(&p, 100));
	assert_false(coord_pipe_seen_msg(&p, 99));
	assert_false(coord_pipe_seen_msg(&p, 90));
	assert_true(coord_pipe_seen_msg(&p, 101));
	assert_true(coord_pipe_seen_msg(&p, 98));
	assert_false(coord_pipe_seen_msg(&p, 38)); /* now 102 - 64 */
	assert_true(coord_pipe_seen_msg(&p, 39));
}

static void test_coord_registry_replay_jumps(void **state)
{
	coord_pipe p = { .id = 1 };

	(void)state;
	assert_true(coord_pipe_seen_msg(&p, 10));
	assert_true(coord_pipe_seen_msg(&p, 9));
	/* 63 ahead: 10 and 9 sit at bits 62 and 63 */
	assert_true(coord_pipe_seen_msg(&p, 72));
	assert_false(coord_pipe_seen_msg(&p, 10));
	assert_false(coord_pipe_seen_msg(&p, 9));
	assert_true(coord_pipe_seen_msg(&p, 11));
	/* exactly 64 ahead: the old window is gone (72 is now too old) */
	assert_true(coord_pipe_seen_msg(&p, 136));
	assert_false(coord_pipe_seen_msg(&p, 72));
	assert_true(coord_pipe_seen_msg(&p, 73));
	assert_false(coord_pipe_seen_msg(&p, 136));
	/* a huge jump, right up to the top of the range */
	assert_true(coord_pipe_seen_msg(&p, 1000000));
	assert_true(coord_pipe_seen_msg(&p, 999999));
	assert_false(coord_pipe_seen_msg(&p, 136));
	assert_true(coord_pipe_seen_msg(&p, UINT64_MAX));
	assert_false(coord_pipe_seen_msg(&p, UINT64_MAX));
	assert_true(coord_pipe_seen_msg(&p, UINT64_MAX - 63));
	assert_false(coord_pipe_seen_msg(&p, UINT64_MAX - 64));
	assert_false(coord_pipe_seen_msg(&p, 1000000));

	/* a fresh pipe takes msg_id 0 once */
	memset(&p, 0, sizeof(p));
	assert_true(coord_pipe_seen_msg(&p, 0));
	assert_false(coord_pipe_seen_msg(&p, 0));
	assert_true(coord_pipe_seen_msg(&p, 1));
	assert_false(coord_pipe_seen_msg(&p, 0));
}

static void test_coord_registry_pipes(void **state)
{
	coord c;
	coord_pipe *p5, *p6;
	coord_node *n;

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_null(coord_pipe_get(&c, 5, false));
	p5 = coord_pipe_get(&c, 5, true);
	assert_non_null(p5);
	assert_int_equal(p5->id, 5);
	assert_null(p5->node);
	assert_ptr_equal(coord_pipe_get(&c, 5, false), p5);
	assert_ptr_equal(coord_pipe_get(&c, 5, true), p5);
	p6 = coord_pipe_get(&c, 6, true);
	assert_non_null(p6);
	assert_true(p6 != p5);
	assert_ptr_equal(coord_pipe_get(&c, 6, false), p6);

	n = coord_node_add(&c, "web-1", NULL);
	assert_non_null(n);
	p5->node = n;
	n->pipe_id = 5;
	/* a pipe that is not the node's current one leaves the binding alone */
	p6->node = n;
	coord_pipe_drop(&c, 6);
	assert_int_equal(n->pipe_id, 5);
	assert_null(coord_pipe_get(&c, 6, false));
	coord_pipe_drop(&c, 5);
	assert_int_equal(n->pipe_id, 0);
	assert_null(coord_pipe_get(&c, 5, false));
	coord_pipe_drop(&c, 77); /* unknown: nothing happens */
	assert_null(c.pipes);
	assert_ptr_equal(coord_node_find(&c, "web-1"), n);

	/* pipes left at the end are freed with the registry */
	assert_non_null(coord_pipe_get(&c, 8, true));
	assert_non_null(coord_pipe_get(&c, 9, true));
	coord_registry_free(&c);
	assert_null(c.nodes);
	assert_null(c.pipes);
}

static void test_coord_registry_node_sorted(void **state)
{
	static const char *const ids[] = { "web-2", "db-1", "web-10", "web-1", "app", "zz", "a" };
	static const char *const sorted[] = { "a", "app", "db-1", "web-1", "web-10", "web-2",
		"zz" };
	coord c;
	coord_node *n;
	size_t i = 0;

	(void)state;
	memset(&c, 0, sizeof(c));
	for (size_t k = 0; k < sizeof(ids) / sizeof(ids[0]); k++) {
		const char *uuid = k == 0 ? "9b2f1c1e-2a51-4d7e-8d0a-3b5c2d1e0f99" : NULL;

		n = coord_node_add(&c, ids[k], uuid);
		assert_non_null(n);
		assert_string_equal(n->id, ids[k]);
		assert_int_equal(n->state, COORD_NODE_DOWN);
	}
	for (n = c.nodes; n != NULL; n = n->next, i++)
		assert_string_equal(n->id, sorted[i]);
	assert_int_equal(i, 7);
	for (size_t k = 0; k < 7; k++) {
		n = coord_node_find(&c, ids[k]);
		assert_non_null(n);
		assert_string_equal(n->id, ids[k]);
	}
	assert_string_equal(coord_node_find(&c, "web-2")->uuid,
		"9b2f1c1e-2a51-4d7e-8d0a-3b5c2d1e0f99");
	assert_string_equal(coord_node_find(&c, "web-1")->uuid, "");
	assert_null(coord_node_find(&c, "web"));
	assert_null(coord_node_find(&c, "web-100"));
	assert_null(coord_node_find(&c, ""));
	coord_registry_free(&c);
}

/* Thousands of nodes and connections: every one is found through the index
 * after it grew many times, and removed ones are not (nor their neighbours
 * lost). */
static void test_coord_registry_index(void **state)
{
	enum { N = 3000 };
	coord c;
	char id[32];

	(void)state;
	memset(&c, 0, sizeof(c));
	for (unsigned k = 0; k < N; k++) {
		snprintf(id, sizeof(id), "node-%u", k);
		assert_non_null(coord_node_add(&c, id, NULL));
		assert_non_null(coord_pipe_get(&c, 1000 + k, true));
	}
	for (unsigned k = 0; k < N; k += 3) {
		snprintf(id, sizeof(id), "node-%u", k);
		coord_node_remove(&c, coord_node_find(&c, id));
		coord_pipe_drop(&c, 1000 + k);
	}
	for (unsigned k = 0; k < N; k++) {
		coord_node *n;

		snprintf(id, sizeof(id), "node-%u", k);
		n = coord_node_find(&c, id);
		if (k % 3 == 0) {
			assert_null(n);
			assert_null(coord_pipe_get(&c, 1000 + k, false));
			continue;
		}
		assert_non_null(n);
		assert_string_equal(n->id, id);
		assert_non_null(coord_pipe_get(&c, 1000 + k, false));
		assert_int_equal(coord_pipe_get(&c, 1000 + k, false)->id, 1000 + k);
	}
	assert_int_equal(c.node_tab.n, N - N / 3);
	assert_int_equal(c.pipe_tab.n, N - N / 3);
	assert_null(coord_node_find(&c, "node-3000"));
	coord_registry_free(&c);
	assert_null(coord_node_find(&c, "node-1"));
	assert_null(coord_pipe_get(&c, 1001, false));
}

static void test_coord_registry_node_remove(void **state)
{
	coord c;
	coord_node *a, *b, *d;
	coord_pipe *pa, *pb;
	coord_ctx xa, xb;

	(void)state;
	memset(&c, 0, sizeof(c));
	memset(&xa, 0, sizeof(xa));
	memset(&xb, 0, sizeof(xb));
	a = coord_node_add(&c, "a", NULL);
	b = coord_node_add(&c, "b", NULL);
	d = coord_node_add(&c, "d", NULL);
	assert_int_equal(osp_labels_set(&b->labels, "region", "eu"), OSP_OK);
	pa = coord_pipe_get(&c, 1, true);
	pb = coord_pipe_get(&c, 2, true);
	pa->node = a;
	pb->node = b;
	b->pipe_id = 2;
	xa.held_node = a;
	xb.held_node = b;
	xa.next = &xb;
	c.ctxs = &xa;

	coord_node_remove(&c, b);
	assert_null(coord_node_find(&c, "b"));
	assert_ptr_equal(c.nodes, a);
	assert_ptr_equal(a->next, d);
	/* nothing points at the freed node any more */
	assert_null(pb->node);
	assert_null(xb.held_node);
	assert_ptr_equal(pa->node, a);
	assert_ptr_equal(xa.held_node, a);
	assert_ptr_equal(coord_pipe_get(&c, 2, false), pb); /* the connection stays */

	coord_node_remove(&c, d); /* the tail */
	assert_null(a->next);
	coord_node_remove(&c, a); /* the head */
	assert_null(c.nodes);
	assert_null(pa->node);
	assert_null(xa.held_node);
	c.ctxs = NULL;
	coord_registry_free(&c);
}

static void test_coord_registry_node_apps(void **state)
{
	coord c;
	coord_node *n;
	Ospec__V1__AppState a0, a1, *ap[2] = { &a0, &a1 };
	char name[16];

	(void)state;
	memset(&c, 0, sizeof(c));
	n = coord_node_add(&c, "web-1", NULL);
	ospec__v1__app_state__init(&a0);
	ospec__v1__app_state__init(&a1);
	osp_strlcpy(name, "shop", sizeof(name));
	a0.app = name;
	a0.version = "1.0";
	a1.app = "search";
	a1.has_running = 1;
	a1.running = 1;
	coord_node_set_apps(n, ap, 2);
	assert_int_equal(n->n_apps, 2);
	/* a deep copy: the message the report came in may go away */
	osp_strlcpy(name, "gone", sizeof(name));
	assert_string_equal(n->apps[0]->app, "shop");
	assert_string_equal(n->apps[0]->version, "1.0");
	assert_string_equal(n->apps[1]->app, "search");
	assert_true(n->apps[1]->running);
	coord_node_set_apps(n, ap + 1, 1);
	assert_int_equal(n->n_apps, 1);
	assert_string_equal(n->apps[0]->app, "search");
	coord_node_set_apps(n, NULL, 0);
	assert_int_equal(n->n_apps, 0);
	assert_null(n->apps);
	coord_node_set_apps(n, ap, 2);
	coord_registry_free(&c); /* frees the copies */
}

static int reg_events_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	osp_buf *b = arg;
	Ospec__V1__EventRecord *e = ospec__v1__event_record__unpack(NULL, vl, v);

	(void)k;
	assert_int_equal(kl, 8);
	assert_non_null(e);
	assert_true(e->ts_ms > 0);
	assert_string_equal(e->actor, "coordinator");
	osp_buf_printf(b, "%s%s:%s", b->len ? "," : "", e->kind, e->node);
	ospec__v1__event_record__free_unpacked(e, NULL);
	return 0;
}

/* reg_events lists the stored events as "kind:node" joined by ','. */
static void reg_events(coord *c, char *out, size_t len)
{
	osp_buf b;
	osp_txn *t = NULL;

	osp_buf_init(&b, 0);
	assert_int_equal(osp_store_txn_begin(c->store, false, &t), OSP_OK);
	assert_int_equal(osp_store_foreach(t, "events", NULL, 0, false, reg_events_cb, &b),
		OSP_OK);
	osp_store_txn_abort(t);
	osp_strlcpy(out, b.len ? b.data : "", len);
	osp_buf_fini(&b);
}

/* reg_saved reports whether a NodeRecord for id is in the store. */
static bool reg_saved(coord *c, const char *id)
{
	osp_txn *t = NULL;
	const void *v;
	size_t vl;
	osp_err rv;

	assert_int_equal(osp_store_txn_begin(c->store, false, &t), OSP_OK);
	rv = osp_store_get(t, "nodes", id, strlen(id), &v, &vl);
	osp_store_txn_abort(t);
	return rv == OSP_OK;
}

static void test_coord_registry_tick(void **state)
{
	char root[64], data[128], ev[512], err[256];
	coord c;
	coord_node *a, *b, *d;
	int64_t now = 1000000, seen;

	(void)state;
	ts_mkdtemp(root, sizeof(root), "/tmp/ospec-registry-XXXXXX");
	snprintf(data, sizeof(data), "%s/data", root);
	memset(&c, 0, sizeof(c));
	c.cfg.data = data;
	c.cfg.heartbeat = 100;
	assert_int_equal(coord_db_open(&c, err, sizeof(err)), OSP_OK);

	a = coord_node_add(&c, "a", NULL);
	b = coord_node_add(&c, "b", NULL);
	d = coord_node_add(&c, "d", NULL);
	a->state = b->state = COORD_NODE_UP;
	a->last_seen_mono = now - 301; /* more than 3 heartbeats ago */
	b->last_seen_mono = now - 300; /* exactly 3: still up */
	d->last_seen_mono = 0;         /* down already: no second event */
	coord_registry_tick(&c, now);
	assert_int_equal(a->state, COORD_NODE_DOWN);
	assert_int_equal(b->state, COORD_NODE_UP);
	assert_int_equal(d->state, COORD_NODE_DOWN);
	reg_events(&c, ev, sizeof(ev));
	assert_string_equal(ev, "node.down:a");
	assert_true(reg_saved(&c, "a"));
	assert_false(reg_saved(&c, "b"));

	/* no change, no event; a millisecond later b is past the limit too */
	coord_registry_tick(&c, now);
	reg_events(&c, ev, sizeof(ev));
	assert_string_equal(ev, "node.down:a");
	coord_registry_tick(&c, now + 1);
	assert_int_equal(b->state, COORD_NODE_DOWN);
	reg_events(&c, ev, sizeof(ev));
	assert_string_equal(ev, "node.down:a,node.down:b");

	/* a message brings a node back up, once */
	coord_node_seen(&c, a);
	assert_int_equal(a->state, COORD_NODE_UP);
	assert_true(a->last_seen_wall > 0);
	seen = a->last_seen_mono;
	coord_node_seen(&c, a);
	assert_true(a->last_seen_mono >= seen);
	seen = a->last_seen_mono;
	reg_events(&c, ev, sizeof(ev));
	assert_string_equal(ev, "node.down:a,node.down:b,node.up:a");
	coord_registry_tick(&c, seen + 300);
	assert_int_equal(a->state, COORD_NODE_UP);
	coord_registry_tick(&c, seen + 301);
	assert_int_equal(a->state, COORD_NODE_DOWN);
	reg_events(&c, ev, sizeof(ev));
	assert_string_equal(ev, "node.down:a,node.down:b,node.up:a,node.down:a");

	coord_registry_free(&c);
	osp_store_close(c.store);
	ts_rmtree(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_coord_registry_replay_in_order),
		cmocka_unit_test(test_coord_registry_replay_out_of_order),
		cmocka_unit_test(test_coord_registry_replay_jumps),
		cmocka_unit_test(test_coord_registry_pipes),
		cmocka_unit_test(test_coord_registry_node_sorted),
		cmocka_unit_test(test_coord_registry_index),
		cmocka_unit_test(test_coord_registry_node_remove),
		cmocka_unit_test(test_coord_registry_node_apps),
		cmocka_unit_test(test_coord_registry_tick),
	};

	osp_log_setup(OSP_LOG_ERROR, OSP_LOG_TEXT, "test_coord_registry", NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
