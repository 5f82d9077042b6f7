/*
 * test_coord_db.c - the coordinator's records in a real store on a temp dir:
 * per-node command logs, events and their retention, node records.
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

typedef struct db_fx {
	char root[64];
	char data[128];
	coord c;
} db_fx;

static void db_open(db_fx *f)
{
	char err[256] = "";
	osp_err rv = coord_db_open(&f->c, err, sizeof(err));

	if (rv != OSP_OK)
		fail_msg("coord_db_open: %s: %s", osp_strerror(rv), err);
}

static int db_setup(void **state)
{
	db_fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	ts_mkdtemp(f->root, sizeof(f->root), "/tmp/ospec-coord-db-XXXXXX");
	snprintf(f->data, sizeof(f->data), "%s/data", f->root);
	f->c.cfg.data = f->data;
	f->c.cfg.heartbeat = 1000;
	db_open(f);
	*state = f;
	return 0;
}

static int db_teardown(void **state)
{
	db_fx *f = *state;

	coord_registry_free(&f->c);
	osp_store_close(f->c.store);
	ts_rmtree(f->root);
	free(f);
	return 0;
}

static osp_txn *db_begin(db_fx *f, bool write)
{
	osp_txn *t = NULL;

	assert_int_equal(osp_store_txn_begin(f->c.store, write, &t), OSP_OK);
	return t;
}

/* db_append appends count Noop commands "<node>#<seq>" to n's log and commits. */
static void db_append(db_fx *f, coord_node *n, int count)
{
	osp_txn *t = db_begin(f, true);

	for (int i = 0; i < count; i++) {
		Ospec__V1__Command cmd;
		Ospec__V1__Noop noop;
		char note[96];
		uint64_t before = n->log_end;

		ospec__v1__command__init(&cmd);
		ospec__v1__noop__init(&noop);
		snprintf(note, sizeof(note), "%s#%llu", n->id, (unsigned long long)before + 1);
		noop.note = note;
		cmd.kind_case = OSPEC__V1__COMMAND__KIND_NOOP;
		cmd.noop = &noop;
		assert_int_equal(coord_db_cmd_append(&f->c, t, n, &cmd), OSP_OK);
		assert_int_equal(cmd.seq, before + 1);
		assert_int_equal(n->log_end, before + 1);
	}
	assert_int_equal(coord_db_commit(&f->c, t, "commands"), OSP_OK);
}

/* db_read reads node's log after `after` and checks every entry is its own,
 * in sequence from after+1; returns how many. */
static size_t db_read(db_fx *f, const char *node, uint64_t after, uint32_t max)
{
	osp_txn *t = db_begin(f, false);
	Ospec__V1__Command **cmds = NULL;
	size_t n = 999;

	assert_int_equal(coord_db_cmd_read(&f->c, t, node, after, max, &cmds, &n), OSP_OK);
	osp_store_txn_abort(t);
	for (size_t i = 0; i < n; i++) {
		char want[96];

		assert_int_equal(cmds[i]->seq, after + 1 + i);
		assert_int_equal(cmds[i]->kind_case, OSPEC__V1__COMMAND__KIND_NOOP);
		snprintf(want, sizeof(want), "%s#%llu", node, (unsigned long long)cmds[i]->seq);
		assert_string_equal(cmds[i]->noop->note, want);
	}
	coord_db_cmds_free(cmds, n);
	return n;
}

static void test_coord_db_cmd_log(void **state)
{
	db_fx *f = *state;
	coord_node *w1 = coord_node_add(&f->c, "web-1", NULL);
	coord_node *w10 = coord_node_add(&f->c, "web-10", NULL);
	coord_node *w = coord_node_add(&f->c, "web", NULL);

	/* ids that are prefixes of each other, appended interleaved */
	db_append(f, w1, 2);
	db_append(f, w10, 3);
	db_append(f, w1, 3);
	assert_int_equal(w1->log_end, 5);
	assert_int_equal(w10->log_end, 3);
	assert_int_equal(db_read(f, "web-1", 0, 0), 5);
	assert_int_equal(db_read(f, "web-10", 0, 0), 3);
	assert_int_equal(db_read(f, "web", 0, 0), 0);
	assert_int_equal(db_read(f, "web-100", 0, 0), 0);
	assert_int_equal(db_read(f, "eb-1", 0, 0), 0);
	/* after a cursor only later entries come back */
	assert_int_equal(db_read(f, "web-1", 3, 0), 2);
	assert_int_equal(db_read(f, "web-1", 4, 0), 1);
	assert_int_equal(db_read(f, "web-1", 5, 0), 0);
	assert_int_equal(db_read(f, "web-1", 500, 0), 0);
	assert_int_equal(db_read(f, "web-10", 2, 0), 1);
	/* max entries */
	assert_int_equal(db_read(f, "web-1", 0, 2), 2);
	assert_int_equal(db_read(f, "web-1", 2, 2), 2);
	assert_int_equal(db_read(f, "web-1", 4, 2), 1);
	db_append(f, w, 1);
	assert_int_equal(db_read(f, "web", 0, 0), 1);
	assert_int_equal(db_read(f, "web-1", 0, 0), 5);
}

static void test_coord_db_cmd_read_limits(void **state)
{
	db_fx *f = *state;
	coord_node *n = coord_node_add(&f->c, "bulk", NULL);
	char longid[100];
	Ospec__V1__Command **cmds = NULL;
	size_t cnt = 0;
	osp_txn *t;

	db_append(f, n, 300);
	assert_int_equal(db_read(f, "bulk", 0, 0), 64);     /* default */
	assert_int_equal(db_read(f, "bulk", 0, 1000), 256); /* capped at OSP_WIRE_MAX_CMDS */
	assert_int_equal(db_read(f, "bulk", 256, 1000), 44);
	assert_int_equal(db_read(f, "bulk", 299, 1), 1);

	/* an id longer than any valid one is refused, not copied into a key */
	memset(longid, 'x', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	t = db_begin(f, true);
	assert_int_equal(coord_db_cmd_read(&f->c, t, longid, 0, 0, &cmds, &cnt), OSP_EINVAL);
	assert_int_equal(coord_db_delete_node(&f->c, t, longid), OSP_EINVAL);
	osp_store_txn_abort(t);
}

/* Events seen by a scan: keys and kinds. */
typedef struct db_events {
	uint64_t keys[64];
	char kinds[64][32];
	size_t n;
} db_events;

static int db_events_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	db_events *e = arg;
	Ospec__V1__EventRecord *r = ospec__v1__event_record__unpack(NULL, vl, v);

	assert_int_equal(kl, 8);
	assert_non_null(r);
	assert_true(e->n < 64);
	e->keys[e->n] = osp_be64_get(k);
	osp_strlcpy(e->kinds[e->n], r->kind, sizeof(e->kinds[0]));
	e->n++;
	ospec__v1__event_record__free_unpacked(r, NULL);
	return 0;
}

static void db_list_events(db_fx *f, db_events *e)
{
	osp_txn *t = db_begin(f, false);

	memset(e, 0, sizeof(*e));
	assert_int_equal(osp_store_foreach(t, "events", NULL, 0, false, db_events_cb, e), OSP_OK);
	osp_store_txn_abort(t);
}

/* db_events_add writes count events in one committed transaction each. */
static void db_events_add(db_fx *f, int count)
{
	for (int i = 0; i < count; i++) {
		osp_txn *t = db_begin(f, true);

		assert_int_equal(coord_db_event(&f->c, t, "test.event", "web-1", NULL, NULL,
					 "test", "event %d", i),
			OSP_OK);
		assert_int_equal(coord_db_commit(&f->c, t, "event"), OSP_OK);
	}
}

static void test_coord_db_events(void **state)
{
	db_fx *f = *state;
	Ospec__V1__EventRecord *r;
	osp_txn *t = db_begin(f, true);
	const void *v;
	size_t vl;
	uint8_t key[8];
	db_events e;

	assert_int_equal(coord_db_event(&f->c, t, "rollout.created", "web-1", "r-1", "shop",
				 "uid:1000", "rollout '%s' of %d nodes", "r-1", 3),
		OSP_OK);
	assert_int_equal(coord_db_commit(&f->c, t, "event"), OSP_OK);
	assert_int_equal(f->c.event_seq, 1);
	t = db_begin(f, false);
	osp_be64_put(key, 1);
	assert_int_equal(osp_store_get(t, "events", key, 8, &v, &vl), OSP_OK);
	r = ospec__v1__event_record__unpack(NULL, vl, v);
	osp_store_txn_abort(t);
	assert_non_null(r);
	assert_true(r->ts_ms > 0);
	assert_string_equal(r->kind, "rollout.created");
	assert_string_equal(r->node, "web-1");
	assert_string_equal(r->rollout, "r-1");
	assert_string_equal(r->app, "shop");
	assert_string_equal(r->actor, "uid:1000");
	assert_string_equal(r->message, "rollout 'r-1' of 3 nodes");
	ospec__v1__event_record__free_unpacked(r, NULL);

	/* keys go on after a restart: the last one is found in the store */
	db_events_add(f, 2);
	osp_store_close(f->c.store);
	f->c.store = NULL;
	f->c.event_seq = 77;
	db_open(f);
	db_events_add(f, 1);
	db_list_events(f, &e);
	assert_int_equal(e.n, 4);
	for (size_t i = 0; i < e.n; i++)
		assert_int_equal(e.keys[i], i + 1);
	assert_string_equal(e.kinds[3], "test.event");
}

static void test_coord_db_trim_events(void **state)
{
	db_fx *f = *state;
	db_events e;
	osp_txn *t;

	f->c.cfg.event_retention = 5;
	t = db_begin(f, true);
	assert_int_equal(coord_db_trim_events(&f->c, t), OSP_OK); /* nothing yet */
	assert_int_equal(coord_db_commit(&f->c, t, "trim"), OSP_OK);
	db_events_add(f, 12);
	t = db_begin(f, true);
	assert_int_equal(coord_db_trim_events(&f->c, t), OSP_OK);
	assert_int_equal(coord_db_commit(&f->c, t, "trim"), OSP_OK);
	db_list_events(f, &e);
	assert_int_equal(e.n, 5);
	assert_int_equal(e.keys[0], 8);
	assert_int_equal(e.keys[4], 12);

	/* an aborted transaction leaves a gap in the keys (13); the trim still
	 * deletes everything older than the window */
	t = db_begin(f, true);
	assert_int_equal(coord_db_event(&f->c, t, "lost", NULL, NULL, NULL, "test", "x"), OSP_OK);
	osp_store_txn_abort(t);
	db_events_add(f, 7);
	t = db_begin(f, true);
	assert_int_equal(coord_db_trim_events(&f->c, t), OSP_OK);
	assert_int_equal(coord_db_commit(&f->c, t, "trim"), OSP_OK);
	db_list_events(f, &e);
	assert_int_equal(e.n, 5);
	assert_int_equal(e.keys[0], 16);
	assert_int_equal(e.keys[4], 20);
	for (size_t i = 0; i < e.n; i++)
		assert_string_equal(e.kinds[i], "test.event");
}

/* Node noise (a refused register, liveness, an agent's own events) goes
 * first, however new: rollout, step, switch and operator events stay while
 * noise is left to delete (issue 10: 100k refused registers evicted every
 * earlier event). */
static void test_coord_db_trim_noise_first(void **state)
{
	db_fx *f = *state;
	static const char *const kept[][3] = {
		/* kind, rollout, actor */
		{ "rollout.created", "r-1", "uid:1000" },
		{ "step.done", "r-1", "coordinator" },
		{ "switch.committed", "r-1", "coordinator" },
		{ "command.result", "r-1", "node" },
		{ "node.cordoned", NULL, "cert:alice" },
		{ "rollout.succeeded", "r-1", "coordinator" },
	};
	const size_t nkept = sizeof(kept) / sizeof(kept[0]);
	db_events e;
	osp_txn *t;

	f->c.cfg.event_retention = 20;
	t = db_begin(f, true);
	for (size_t i = 0; i < nkept; i++)
		assert_int_equal(coord_db_event(&f->c, t, kept[i][0], "web-1", kept[i][1], "shop",
					 kept[i][2], "history %zu", i),
			OSP_OK);
	/* then a flood of noise, newer than all of it */
	for (int i = 0; i < 500; i++)
		assert_int_equal(coord_db_event(&f->c, t, i % 3 == 0 ? "node.refused"
					 : i % 3 == 1 ? "agent.app_exited" : "node.up",
					 "web-9", NULL, NULL, i % 3 == 1 ? "node" : "coordinator",
					 "noise %d", i),
			OSP_OK);
	assert_int_equal(coord_db_commit(&f->c, t, "events"), OSP_OK);
	t = db_begin(f, true);
	assert_int_equal(coord_db_trim_events(&f->c, t), OSP_OK);
	assert_int_equal(coord_db_commit(&f->c, t, "trim"), OSP_OK);
	db_list_events(f, &e);
	assert_int_equal(e.n, 20);
	for (size_t i = 0; i < nkept; i++) {
		assert_int_equal(e.keys[i], i + 1);
		assert_string_equal(e.kinds[i], kept[i][0]);
	}
	/* the newest noise is what is left of it */
	assert_int_equal(e.keys[nkept], nkept + 500 - (20 - nkept) + 1);
	assert_int_equal(e.keys[19], nkept + 500);

	/* history alone past the retention: its oldest goes */
	f->c.cfg.event_retention = 3;
	t = db_begin(f, true);
	assert_int_equal(coord_db_trim_events(&f->c, t), OSP_OK);
	assert_int_equal(coord_db_commit(&f->c, t, "trim"), OSP_OK);
	db_list_events(f, &e);
	assert_int_equal(e.n, 3);
	assert_string_equal(e.kinds[0], "command.result");
	assert_string_equal(e.kinds[2], "rollout.succeeded");
}

static void test_coord_db_event_is_noise(void **state)
{
	(void)state;
	assert_true(coord_db_event_is_noise("node.refused", NULL, "coordinator"));
	assert_true(coord_db_event_is_noise("node.down", "", "coordinator"));
	assert_true(coord_db_event_is_noise("agent.app_exited", NULL, "node"));
	assert_true(coord_db_event_is_noise("node.up", NULL, NULL));
	assert_false(coord_db_event_is_noise("node.cordoned", NULL, "uid:1000"));
	assert_false(coord_db_event_is_noise("node.forgotten", NULL, "cert:alice"));
	assert_false(coord_db_event_is_noise("command.result", "r-1", "node"));
	assert_false(coord_db_event_is_noise("node.up", "r-1", "coordinator"));
	assert_false(coord_db_event_is_noise("rollout.created", NULL, "coordinator"));
	assert_false(coord_db_event_is_noise("switch.presumed_abort", NULL, "coordinator"));
	assert_false(coord_db_event_is_noise("nodes", NULL, "coordinator"));
}

/* db_put_request stores a request record of time ts under id. */
static void db_put_request(db_fx *f, const char *id, int64_t ts)
{
	Ospec__V1__RequestRecord r;
	uint8_t buf[256];
	size_t len;
	osp_txn *t = db_begin(f, true);

	ospec__v1__request_record__init(&r);
	r.ts_ms = ts;
	r.status = 0;
	len = ospec__v1__request_record__pack(&r, buf);
	assert_int_equal(osp_store_put(t, "requests", id, strlen(id), buf, len), OSP_OK);
	assert_int_equal(coord_db_commit(&f->c, t, "request"), OSP_OK);
}

static void test_coord_db_trim_requests(void **state)
{
	db_fx *f = *state;
	osp_txn *t;
	const void *v;
	size_t vl;

	db_put_request(f, "old-1", 1000);
	db_put_request(f, "old-2", 1999);
	db_put_request(f, "new-1", 2000);
	t = db_begin(f, true);
	assert_int_equal(coord_db_trim_requests(&f->c, t, 2000), OSP_OK);
	assert_int_equal(coord_db_commit(&f->c, t, "trim"), OSP_OK);
	t = db_begin(f, false);
	assert_int_equal(osp_store_get(t, "requests", "old-1", 5, &v, &vl), OSP_ENOENT);
	assert_int_equal(osp_store_get(t, "requests", "old-2", 5, &v, &vl), OSP_ENOENT);
	assert_int_equal(osp_store_get(t, "requests", "new-1", 5, &v, &vl), OSP_OK);
	osp_store_txn_abort(t);
}

static void test_coord_db_nodes_roundtrip(void **state)
{
	db_fx *f = *state;
	coord_node *n, *m;
	Ospec__V1__AppState a0, a1, *ap[2] = { &a0, &a1 };
	Ospec__V1__NodeRecord bad;
	uint8_t buf[64];
	size_t len;
	osp_txn *t;

	n = coord_node_add(&f->c, "web-2", "9b2f1c1e-2a51-4d7e-8d0a-3b5c2d1e0f99");
	assert_int_equal(osp_labels_set(&n->labels, "region", "us-east"), OSP_OK);
	assert_int_equal(osp_labels_set(&n->labels, "example.com/tier", "gold"), OSP_OK);
	n->cordoned = true;
	osp_strlcpy(n->hostname, "web-2.example.com", sizeof(n->hostname));
	osp_strlcpy(n->agent_version, "0.1.0", sizeof(n->agent_version));
	n->first_seen_ms = 1700000000000;
	n->last_seen_wall = 1700000099999;
	n->last_seen_mono = 5;
	n->state = COORD_NODE_UP;
	n->log_end = 42;
	n->acked = 40;
	ospec__v1__app_state__init(&a0);
	ospec__v1__app_state__init(&a1);
	a0.app = "shop";
	a0.version = "1.2.3";
	a0.active_slot = "blue";
	a1.app = "search";
	a1.has_generation = 1;
	a1.generation = 9;
	coord_node_set_apps(n, ap, 2);
	m = coord_node_add(&f->c, "db-1", "u2");
	m->log_end = 1;
	assert_non_null(coord_node_add(&f->c, "api", ""));

	t = db_begin(f, true);
	for (coord_node *x = f->c.nodes; x != NULL; x = x->next)
		assert_int_equal(coord_db_save_node(&f->c, t, x), OSP_OK);
	/* a corrupt record and one with an invalid id are skipped at load */
	assert_int_equal(osp_store_put(t, "nodes", "junk", 4, "\xff\xff\xff", 3), OSP_OK);
	ospec__v1__node_record__init(&bad);
	bad.id = "../etc";
	bad.instance_uuid = "";
	len = ospec__v1__node_record__pack(&bad, buf);
	assert_true(len > 0 && len < sizeof(buf));
	assert_int_equal(osp_store_put(t, "nodes", "../etc", 6, buf, len), OSP_OK);
	assert_int_equal(coord_db_commit(&f->c, t, "nodes"), OSP_OK);

	coord_registry_free(&f->c);
	assert_null(f->c.nodes);
	assert_int_equal(coord_db_load_nodes(&f->c), OSP_OK);
	assert_non_null(f->c.nodes);
	assert_string_equal(f->c.nodes->id, "api");
	assert_string_equal(f->c.nodes->next->id, "db-1");
	assert_string_equal(f->c.nodes->next->next->id, "web-2");
	assert_null(f->c.nodes->next->next->next);

	n = coord_node_find(&f->c, "web-2");
	assert_non_null(n);
	assert_string_equal(n->uuid, "9b2f1c1e-2a51-4d7e-8d0a-3b5c2d1e0f99");
	assert_int_equal(n->labels.n, 2);
	assert_string_equal(osp_labels_get(&n->labels, "region"), "us-east");
	assert_string_equal(osp_labels_get(&n->labels, "example.com/tier"), "gold");
	assert_true(n->cordoned);
	assert_string_equal(n->hostname, "web-2.example.com");
	assert_string_equal(n->agent_version, "0.1.0");
	assert_int_equal(n->first_seen_ms, 1700000000000);
	assert_int_equal(n->last_seen_wall, 1700000099999);
	assert_int_equal(n->log_end, 42);
	assert_int_equal(n->acked, 40);
	/* liveness is not durable: a loaded node is down until it speaks */
	assert_int_equal(n->state, COORD_NODE_DOWN);
	assert_int_equal(n->last_seen_mono, 0);
	assert_int_equal(n->n_apps, 2);
	assert_string_equal(n->apps[0]->app, "shop");
	assert_string_equal(n->apps[0]->version, "1.2.3");
	assert_string_equal(n->apps[0]->active_slot, "blue");
	assert_string_equal(n->apps[1]->app, "search");
	assert_int_equal(n->apps[1]->generation, 9);
	m = coord_node_find(&f->c, "db-1");
	assert_string_equal(m->uuid, "u2");
	assert_int_equal(m->log_end, 1);
	assert_false(m->cordoned);
	assert_int_equal(m->labels.n, 0);
}

static void test_coord_db_delete_node(void **state)
{
	db_fx *f = *state;
	coord_node *w1 = coord_node_add(&f->c, "web-1", NULL);
	coord_node *w10 = coord_node_add(&f->c, "web-10", NULL);
	const void *v;
	size_t vl;
	uint64_t cnt = 0;
	osp_txn *t;

	db_append(f, w1, 4);
	db_append(f, w10, 3);
	t = db_begin(f, true);
	assert_int_equal(coord_db_save_node(&f->c, t, w1), OSP_OK);
	assert_int_equal(coord_db_save_node(&f->c, t, w10), OSP_OK);
	assert_int_equal(coord_db_commit(&f->c, t, "setup"), OSP_OK);

	t = db_begin(f, true);
	assert_int_equal(coord_db_delete_node(&f->c, t, "web-1"), OSP_OK);
	assert_int_equal(coord_db_delete_node(&f->c, t, "never-seen"), OSP_OK);
	assert_int_equal(coord_db_commit(&f->c, t, "delete"), OSP_OK);

	assert_int_equal(db_read(f, "web-1", 0, 0), 0);
	assert_int_equal(db_read(f, "web-10", 0, 0), 3);
	t = db_begin(f, false);
	assert_int_equal(osp_store_get(t, "nodes", "web-1", 5, &v, &vl), OSP_ENOENT);
	assert_int_equal(osp_store_get(t, "nodes", "web-10", 6, &v, &vl), OSP_OK);
	assert_int_equal(osp_store_count(t, "cmdlog", &cnt), OSP_OK);
	assert_int_equal(cnt, 3);
	osp_store_txn_abort(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_coord_db_cmd_log, db_setup, db_teardown),
		cmocka_unit_test_setup_teardown(test_coord_db_cmd_read_limits, db_setup,
			db_teardown),
		cmocka_unit_test_setup_teardown(test_coord_db_events, db_setup, db_teardown),
		cmocka_unit_test_setup_teardown(test_coord_db_trim_events, db_setup, db_teardown),
		cmocka_unit_test_setup_teardown(test_coord_db_trim_noise_first, db_setup,
			db_teardown),
		cmocka_unit_test(test_coord_db_event_is_noise),
		cmocka_unit_test_setup_teardown(test_coord_db_trim_requests, db_setup, db_teardown),
		cmocka_unit_test_setup_teardown(test_coord_db_nodes_roundtrip, db_setup,
			db_teardown),
		cmocka_unit_test_setup_teardown(test_coord_db_delete_node, db_setup, db_teardown),
	};

	osp_log_setup(OSP_LOG_ERROR, OSP_LOG_TEXT, "test_coord_db", NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
