/*
 * test_coord_register.c - the group commit of registers and command results
 * (coord_register.c): results that arrive together are applied in one
 * transaction, nothing of them is visible (store, engine, commands, acks)
 * before the flush commits, and a group whose commit fails leaves memory as
 * the store (a register's facts are not taken, results are reloaded and
 * answered with an error so that the agents send them again).
 *
 * No sockets: each request's context has an aio but no nng context, so a
 * reply fails to send and stays in the aio, where the test reads it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>

#include <cmocka.h>

#include "coord.h"
#include "ospec/util.h"
#include "coord_control.h"
#include "coord_engine_hooks.h"
#include "coord_active.h"
#include "test_support.h"
#include "test_support_coord.h"

#define TR_SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define TR_UUID "00000000-0000-4000-8000-000000000001"
#define TR_NODES 4
#define TR_NEW 3 /* registers of nodes the coordinator does not know */
#define TR_CTXS (TR_NODES + 1 + TR_NEW)

typedef struct tr_fx {
	ts_coord_fx f;
	coord_pipe *p[TR_NODES];
	coord_ctx x[TR_CTXS]; /* then: a register, the new nodes' */
} tr_fx;

static void tr_aio_cb(void *arg)
{
	(void)arg; /* the reply stays in the aio for the test to read */
}

/* tr_count_cb counts the completions of an aio (arg: an atomic_int). */
static void tr_count_cb(void *arg)
{
	atomic_fetch_add((atomic_int *)arg, 1);
}

/* tr_setup_store opens a store of map_size bytes (0: the default; mem: the
 * memory store, whose commits a test can fail), starts the group commit
 * and adds TR_NODES up nodes n0.. with a connection each. */
static tr_fx *tr_setup_store(uint64_t map_size, bool mem)
{
	tr_fx *t = calloc(1, sizeof(*t));
	char err[256] = "";

	assert_non_null(t);
	ts_mkdtemp(t->f.root, sizeof(t->f.root), "/tmp/ospec-coordreg-XXXXXX");
	snprintf(t->f.data, sizeof(t->f.data), "%s/data", t->f.root);
	t->f.c.cfg.data = t->f.data;
	t->f.c.cfg.heartbeat = 1000;
	t->f.c.cfg.map_size = map_size;
	t->f.c.cfg.listen = "tcp://127.0.0.1:1";
	if (mem)
		ts_coord_fx_init_mem(&t->f);
	else if (coord_db_open(&t->f.c, err, sizeof(err)) != OSP_OK)
		fail_msg("coord_db_open: %s", err);
	assert_int_equal(pthread_mutex_init(&t->f.c.mtx, NULL), 0);
	assert_int_equal(coord_register_start(&t->f.c), OSP_OK);
	for (size_t i = 0; i < TR_CTXS; i++) {
		t->x[i].c = &t->f.c;
		assert_int_equal(nng_aio_alloc(&t->x[i].aio, tr_aio_cb, NULL), 0);
	}
	for (size_t i = 0; i < TR_NODES; i++) {
		char id[16];
		coord_node *n;

		snprintf(id, sizeof(id), "n%zu", i);
		assert_non_null(n = coord_node_add(&t->f.c, id, TR_UUID));
		n->state = COORD_NODE_UP;
		assert_non_null(t->p[i] = coord_pipe_get(&t->f.c, (uint32_t)(10 + i), true));
		t->p[i]->node = n;
		coord_pipe_registered(&t->f.c, t->p[i]);
		t->x[i].pipe_id = t->p[i]->id;
	}
	/* the group's timer would flush behind the test's back: the test holds
	 * the lock from here on, as the agent server does */
	pthread_mutex_lock(&t->f.c.mtx);
	return t;
}

static tr_fx *tr_setup(uint64_t map_size)
{
	return tr_setup_store(map_size, false);
}

static void tr_teardown(tr_fx *t)
{
	pthread_mutex_unlock(&t->f.c.mtx);
	for (size_t i = 0; i < TR_CTXS; i++) {
		nng_aio_wait(t->x[i].aio);
		nng_msg_free(nng_aio_get_msg(t->x[i].aio));
		nng_aio_free(t->x[i].aio);
	}
	atomic_store(&t->f.c.stopping, true);
	coord_register_stop(&t->f.c);
	ts_coord_fx_fini(&t->f);
	pthread_mutex_destroy(&t->f.c.mtx);
	free(t);
}

static coord_node *tr_node(tr_fx *t, size_t i)
{
	return t->p[i]->node;
}

/* tr_reply decodes the reply x was given (its body case; 0: none yet) and,
 * for an Ack, its sequence. */
static int tr_reply(coord_ctx *x, uint64_t *ack_seq)
{
	nng_msg *m;
	osp_env *e = NULL;
	char err[256];
	int body;

	if (x->state != COORD_CTX_SEND)
		return 0;
	nng_aio_wait(x->aio);
	assert_non_null(m = nng_aio_get_msg(x->aio));
	if (osp_wire_decode(nng_msg_body(m), nng_msg_len(m), &e, err, sizeof(err)) != OSP_OK)
		fail_msg("reply: %s", err);
	body = (int)e->body_case;
	if (ack_seq != NULL && e->body_case == OSPEC__V1__ENVELOPE__BODY_ACK)
		*ack_seq = e->ack->seq;
	osp_wire_free(e);
	nng_msg_free(m);
	nng_aio_set_msg(x->aio, NULL);
	x->state = COORD_CTX_RECV;
	return body;
}

/* tr_deploy deploys hello 2 to every node, batch nodes at a time. */
static coord_ro_entry *tr_deploy(tr_fx *t, const char *batch)
{
	return ts_coord_deploy(&t->f, TR_SHA, batch);
}

/* tr_result has node i's Stage (seq 1) answered ok through the group. */
static void tr_result(tr_fx *t, size_t i)
{
	Ospec__V1__CommandResult r;

	ospec__v1__command_result__init(&r);
	r.app = "hello";
	r.seq = 1;
	r.status = OSPEC__V1__RESULT_STATUS__RESULT_OK;
	r.message = "";
	r.version = "2";
	r.sha256 = TR_SHA;
	r.slot = "main";
	r.has_kind = 1;
	r.kind = OSPEC__V1__COMMAND__KIND_STAGE;
	coord_register_result(&t->f.c, &t->x[i], t->p[i], tr_node(t, i), &r);
}

/* tr_count is how many records db holds (committed). */
static uint64_t tr_count(tr_fx *t, const char *db)
{
	osp_txn *txn = NULL;
	uint64_t n = 0;

	assert_int_equal(osp_store_txn_begin(t->f.c.store, false, &txn), OSP_OK);
	assert_int_equal(osp_store_count(txn, db, &n), OSP_OK);
	osp_store_txn_abort(txn);
	return n;
}

/* tr_step_state is the state of node i's step in e. */
static coord_step_state tr_step_state(const coord_ro_entry *e, size_t i)
{
	char id[16];

	snprintf(id, sizeof(id), "n%zu", i);
	for (size_t k = 0; k < e->ro.nsteps; k++)
		if (strcmp(e->ro.steps[k].node, id) == 0)
			return e->ro.steps[k].state;
	fail_msg("no step of %s", id);
	return COORD_STEP_PENDING;
}

/* Two results of one burst: nothing of them is recorded, applied, sent or
 * acknowledged until the flush; then both are, in one commit, and the
 * commands that follow (the next batch's Stages) are in the log. */
static void test_coord_register_results_one_commit(void **state)
{
	tr_fx *t = tr_setup(0);
	coord_ro_entry *e = tr_deploy(t, "2");
	uint64_t events = tr_count(t, "events"), seq = 0;

	(void)state;
	assert_int_equal(tr_node(t, 0)->log_end, 1);
	assert_int_equal(tr_node(t, 2)->log_end, 0); /* the second batch */
	tr_result(t, 0);
	tr_result(t, 1);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(t->x[i].state, COORD_CTX_REGWAIT);
		assert_int_equal(tr_step_state(e, i), COORD_STEP_STAGING);
	}
	assert_int_equal(t->f.c.nregs, 2);
	assert_true(coord_register_pending(&t->f.c, tr_node(t, 1)));
	assert_false(coord_register_pending(&t->f.c, tr_node(t, 2)));
	assert_int_equal(tr_count(t, "events"), events);
	assert_int_equal(tr_node(t, 2)->log_end, 0);

	coord_register_flush(&t->f.c);
	assert_int_equal(t->f.c.nregs, 0);
	assert_int_equal(t->f.c.nregwait, 0);
	e = t->f.c.rollouts;
	for (size_t i = 0; i < 2; i++) {
		seq = 0;
		assert_int_equal(tr_reply(&t->x[i], &seq), OSPEC__V1__ENVELOPE__BODY_ACK);
		assert_int_equal(seq, 1);
		assert_int_equal(tr_step_state(e, i), COORD_STEP_DONE);
	}
	/* two command.result events at least, and what the engine said */
	assert_true(tr_count(t, "events") >= events + 2);
	/* the second batch's Stages are committed, and marked to be sent */
	for (size_t i = 2; i < TR_NODES; i++) {
		assert_int_equal(tr_node(t, i)->log_end, 1);
		assert_true(tr_node(t, i)->kick); /* no agent server here to answer */
		assert_int_equal(tr_step_state(e, i), COORD_STEP_STAGING);
	}
	/* the store says the same as memory: reloaded, the steps are done */
	coord_active_reload(&t->f.c);
	assert_non_null(e = t->f.c.rollouts);
	assert_int_equal(tr_step_state(e, 0), COORD_STEP_DONE);
	assert_int_equal(tr_step_state(e, 1), COORD_STEP_DONE);
	tr_teardown(t);
}

/* The scale-down's results of an ended blue-green rollout, in one group:
 * its record is written once, at the end of the group. Written at each
 * result (the rollout had ended, so it was not held back), each write
 * compared every step: 2000 ScaleDown results took 300 ms a group of 1000
 * (docs/benchmarks.md). */
static void test_coord_register_ended_rollout_saved_once(void **state)
{
	tr_fx *t = tr_setup(0);
	coord_ro_entry *e = tr_deploy(t, "100%");
	coord_ro_event ev = { .kind = COORD_RO_EV_SCALE_DOWN };
	osp_txn *txn = NULL;
	uint64_t saves, seq;

	(void)state;
	/* as a blue-green rollout that switched every node from blue */
	e->ro.strategy = COORD_RO_BLUE_GREEN;
	e->ro.state = COORD_RO_SUCCEEDED;
	e->ro.phase = COORD_BG_VERIFY; /* its last phase */
	e->ro.scale_down_at_ms = 1;
	for (size_t i = 0; i < e->ro.nsteps; i++) {
		e->ro.steps[i].state = COORD_STEP_DONE;
		e->ro.steps[i].cmd = COORD_RO_CMD_NONE;
		osp_strlcpy(e->ro.steps[i].slot, "green", sizeof(e->ro.steps[i].slot));
		osp_strlcpy(e->ro.steps[i].old_slot, "blue", sizeof(e->ro.steps[i].old_slot));
	}
	ev.now_ms = coord_clock_now(&t->f.c.clock);
	assert_int_equal(osp_store_txn_begin(t->f.c.store, true, &txn), OSP_OK);
	assert_int_equal(coord_active_event(&t->f.c, txn, e, &ev, "test"), OSP_OK);
	assert_int_equal(osp_store_txn_commit(txn), OSP_OK);
	saves = t->f.c.ro_saves;
	for (size_t i = 0; i < TR_NODES; i++) {
		Ospec__V1__CommandResult r;

		assert_int_equal(e->ro.steps[i].cmd, COORD_RO_CMD_SCALE_DOWN);
		ospec__v1__command_result__init(&r);
		r.app = "hello";
		r.seq = tr_node(t, i)->log_end; /* its ScaleDown */
		r.status = OSPEC__V1__RESULT_STATUS__RESULT_OK;
		r.message = "";
		r.slot = "blue";
		r.has_kind = 1;
		r.kind = OSPEC__V1__COMMAND__KIND_SCALE_DOWN;
		coord_register_result(&t->f.c, &t->x[i], t->p[i], tr_node(t, i), &r);
	}
	coord_register_flush(&t->f.c);
	assert_int_equal(t->f.c.ro_saves, saves + 1);
	for (size_t i = 0; i < TR_NODES; i++) {
		seq = 0;
		assert_int_equal(tr_reply(&t->x[i], &seq), OSPEC__V1__ENVELOPE__BODY_ACK);
		assert_int_equal(seq, tr_node(t, i)->log_end);
	}
	/* every old slot stopped: the rollout is done with and let go */
	assert_null(t->f.c.rollouts);
	tr_teardown(t);
}

static void *tr_stop_main(void *arg)
{
	coord_register_stop(arg);
	return NULL;
}

/* The coordinator stops while a request callback that began before the
 * stop holds the lock and adds a result to the group: the group's timer is
 * still there for it to arm, and is stopped after. It was stopped and freed
 * without the lock, then armed by that callback (it_ha: SIGSEGV at
 * SIGTERM). */
static void test_coord_register_stop_while_adding(void **state)
{
	tr_fx *t = tr_setup(0); /* holds the lock, as the callback does */
	pthread_t th;

	(void)state;
	atomic_store(&t->f.c.stopping, true);
	assert_int_equal(pthread_create(&th, NULL, tr_stop_main, &t->f.c), 0);
	osp_sleep_ms(200); /* the stop goes as far as it can without the lock */
	tr_result(t, 0);
	assert_int_equal(t->x[0].state, COORD_CTX_REGWAIT);
	pthread_mutex_unlock(&t->f.c.mtx);
	assert_int_equal(pthread_join(th, NULL), 0);
	pthread_mutex_lock(&t->f.c.mtx);
	assert_null(t->f.c.reg_flush);
	assert_null(t->f.c.regs); /* the result waiting was freed with the group */
	tr_teardown(t);
}

/* tr_register_as has node id (instance uuid) register on a new connection
 * pipe through context k with hostname host and label role=role; k's state
 * after coord_register_handle is returned. */
static coord_ctx_state tr_register_ctx(tr_fx *t, coord_ctx *x, uint32_t pipe, const char *id,
	const char *uuid, const char *host, const char *role)
{
	coord_pipe *p = coord_pipe_get(&t->f.c, pipe, true);
	Ospec__V1__Register r;
	Ospec__V1__Label l, *lp = &l;
	osp_env env;

	assert_non_null(p);
	p->has_nonce = true;
	memset(p->nonce, 7, sizeof(p->nonce));
	x->pipe_id = p->id;
	osp_wire_env_init(&env, id, uuid, 1);
	ospec__v1__register__init(&r);
	ospec__v1__label__init(&l);
	l.key = "role";
	l.value = (char *)role;
	r.labels = &lp;
	r.n_labels = 1;
	r.hostname = (char *)host;
	r.nonce.data = p->nonce;
	r.nonce.len = sizeof(p->nonce);
	r.has_cursor = 1;
	r.cursor = 0;
	env.body_case = OSPEC__V1__ENVELOPE__BODY_REGISTER;
	env.register_ = &r;
	coord_register_handle(&t->f.c, x, p, &env);
	return x->state;
}

static coord_ctx_state tr_register_as(tr_fx *t, size_t k, uint32_t pipe, const char *id,
	const char *uuid, const char *host, const char *role)
{
	return tr_register_ctx(t, &t->x[k], pipe, id, uuid, host, role);
}

/* A register that would take the last place of the connections not
 * registered yet commits the group waiting before it joins a new one: with
 * every place held by a waiting register, every other connection would be
 * refused until the group's timer. */
static void test_coord_register_last_place_commits(void **state)
{
	tr_fx *t = tr_setup(0);
	coord_ctx *x = calloc(COORD_UNREG_MAX, sizeof(*x));
	coord_pipe *p;

	(void)state;
	assert_non_null(x);
	for (size_t i = 0; i < COORD_UNREG_MAX; i++) {
		char id[16];

		snprintf(id, sizeof(id), "k%zu", i);
		assert_non_null(coord_node_add(&t->f.c, id, TR_UUID));
		x[i].c = &t->f.c;
		assert_int_equal(nng_aio_alloc(&x[i].aio, tr_aio_cb, NULL), 0);
		assert_int_equal(tr_register_ctx(t, &x[i], (uint32_t)(1000 + i), id, TR_UUID,
					 "host", "web"),
			COORD_CTX_REGWAIT);
		/* the last place: the others were committed (and answered) */
		assert_int_equal(t->f.c.nregs, i + 1 < COORD_UNREG_MAX ? i + 1 : 1);
	}
	for (size_t i = 0; i + 1 < COORD_UNREG_MAX; i++) {
		assert_int_equal(tr_reply(&x[i], NULL), OSPEC__V1__ENVELOPE__BODY_REGISTERED);
		assert_non_null(p = coord_pipe_get(&t->f.c, (uint32_t)(1000 + i), false));
		assert_true(p->registered_once);
	}
	assert_int_equal(x[COORD_UNREG_MAX - 1].state, COORD_CTX_REGWAIT);
	coord_register_flush(&t->f.c);
	assert_int_equal(tr_reply(&x[COORD_UNREG_MAX - 1], NULL),
		OSPEC__V1__ENVELOPE__BODY_REGISTERED);
	for (size_t i = 0; i < COORD_UNREG_MAX; i++) {
		nng_aio_wait(x[i].aio);
		nng_msg_free(nng_aio_get_msg(x[i].aio));
		nng_aio_free(x[i].aio);
	}
	free(x);
	tr_teardown(t);
}

/* tr_register has node 0 register again on connection 4 with hostname host
 * and label role=role, through the group. */
static void tr_register(tr_fx *t, const char *host, const char *role)
{
	assert_int_equal(tr_register_as(t, TR_NODES, 4, "n0", TR_UUID, host, role),
		COORD_CTX_REGWAIT);
}

/* tr_register_new has new node "new<i>" register on its own connection
 * through its context (TR_NODES + 1 + i); k's state is returned. */
static coord_ctx_state tr_register_new(tr_fx *t, size_t i, const char *uuid)
{
	char id[16];

	snprintf(id, sizeof(id), "new%zu", i);
	return tr_register_as(t, TR_NODES + 1 + i, (uint32_t)(100 + i), id, uuid, "new-host",
		"db");
}

/* Registers of new nodes join the group commit: none is answered, known in
 * memory or in the store before it; one flush records them all, then adds
 * them to memory (labels, hostname, up, bound to their connection) and
 * answers each. A second instance of a node that waits is refused. */
static void test_coord_register_new_nodes_one_commit(void **state)
{
	tr_fx *t = tr_setup(0);
	uint64_t nodes = tr_count(t, "nodes"), events = tr_count(t, "events");
	coord_node *n;

	(void)state;
	for (size_t i = 0; i < TR_NEW - 1; i++)
		assert_int_equal(tr_register_new(t, i, TR_UUID), COORD_CTX_REGWAIT);
	tr_register(t, "host-0", "web"); /* and a known node's, in the same group */
	assert_int_equal(t->f.c.nregs, TR_NEW);
	assert_null(coord_node_find(&t->f.c, "new0"));
	assert_null(coord_node_find(&t->f.c, "new1"));
	assert_int_equal(tr_count(t, "nodes"), nodes);
	assert_int_equal(tr_count(t, "events"), events);
	/* new0 waits with TR_UUID: another instance (on the last context) is
	 * refused as if new0 were known */
	assert_int_equal(tr_register_as(t, TR_CTXS - 1, 102, "new0",
				 "00000000-0000-4000-8000-000000000002", "other", "db"),
		COORD_CTX_SEND);
	assert_int_equal(tr_reply(&t->x[TR_CTXS - 1], NULL), OSPEC__V1__ENVELOPE__BODY_ERROR);
	assert_int_equal(t->f.c.stats.refused_by[COORD_RL_REFUSED_INSTANCE], 1);
	assert_int_equal(t->f.c.nregs, TR_NEW);

	coord_register_flush(&t->f.c);
	assert_int_equal(t->f.c.nregwait, 0);
	/* the two new ones, and n0 (the fixture's nodes are in memory only) */
	assert_int_equal(tr_count(t, "nodes"), nodes + 3);
	/* node.registered for each, node.up for the two new ones */
	assert_int_equal(tr_count(t, "events"), events + 5);
	for (size_t i = 0; i < TR_NEW - 1; i++) {
		char id[16];

		snprintf(id, sizeof(id), "new%zu", i);
		assert_non_null(n = coord_node_find(&t->f.c, id));
		assert_int_equal(tr_reply(&t->x[TR_NODES + 1 + i], NULL),
			OSPEC__V1__ENVELOPE__BODY_REGISTERED);
		assert_string_equal(n->uuid, TR_UUID);
		assert_string_equal(n->hostname, "new-host");
		assert_string_equal(osp_labels_get(&n->labels, "role"), "db");
		assert_int_equal(n->state, COORD_NODE_UP);
		assert_ptr_equal(coord_pipe_get(&t->f.c, (uint32_t)(100 + i), false)->node, n);
	}
	assert_int_equal(tr_reply(&t->x[TR_NODES], NULL), OSPEC__V1__ENVELOPE__BODY_REGISTERED);
	assert_string_equal(tr_node(t, 0)->hostname, "host-0");
	tr_teardown(t);
}

/* One failed commit fails every new node's register of its group (they
 * were in that one transaction): each is answered with an error, none is in
 * memory or in the store, and the agents' next registers record them. */
static void test_coord_register_new_nodes_failed_commit(void **state)
{
	tr_fx *t = tr_setup_store(0, true);
	uint64_t nodes = tr_count(t, "nodes");

	(void)state;
	assert_int_equal(osp_store_mem_fail_next_commit(t->f.c.store, OSP_ESTORE), OSP_OK);
	for (size_t i = 0; i < TR_NEW; i++)
		assert_int_equal(tr_register_new(t, i, TR_UUID), COORD_CTX_REGWAIT);
	coord_register_flush(&t->f.c);
	for (size_t i = 0; i < TR_NEW; i++) {
		char id[16];

		snprintf(id, sizeof(id), "new%zu", i);
		assert_int_equal(tr_reply(&t->x[TR_NODES + 1 + i], NULL),
			OSPEC__V1__ENVELOPE__BODY_ERROR);
		assert_null(coord_node_find(&t->f.c, id));
		assert_null(coord_pipe_get(&t->f.c, (uint32_t)(100 + i), false)->node);
	}
	assert_int_equal(tr_count(t, "nodes"), nodes);
	assert_int_equal(t->f.c.nregwait, 0);
	/* registered again (a new nonce each): recorded this time */
	for (size_t i = 0; i < TR_NEW; i++)
		assert_int_equal(tr_register_new(t, i, TR_UUID), COORD_CTX_REGWAIT);
	coord_register_flush(&t->f.c);
	for (size_t i = 0; i < TR_NEW; i++)
		assert_int_equal(tr_reply(&t->x[TR_NODES + 1 + i], NULL),
			OSPEC__V1__ENVELOPE__BODY_REGISTERED);
	assert_int_equal(tr_count(t, "nodes"), nodes + TR_NEW);
	tr_teardown(t);
}

/* A register's facts reach the node once its group is committed. */
static void test_coord_register_facts_after_commit(void **state)
{
	tr_fx *t = tr_setup(0);
	coord_node *n = tr_node(t, 0);

	(void)state;
	osp_strlcpy(n->hostname, "old-host", sizeof(n->hostname));
	tr_register(t, "new-host", "web");
	assert_string_equal(n->hostname, "old-host"); /* not before the commit */
	assert_null(osp_labels_get(&n->labels, "role"));
	coord_register_flush(&t->f.c);
	assert_int_equal(tr_reply(&t->x[TR_NODES], NULL), OSPEC__V1__ENVELOPE__BODY_REGISTERED);
	assert_string_equal(n->hostname, "new-host");
	assert_string_equal(osp_labels_get(&n->labels, "role"), "web");
	tr_teardown(t);
}

/* tr_fill fills the store (a reader holds the snapshot of before, so no page
 * is reused): every write transaction from now on fails. The caller ends
 * *reader after the flush. */
static void tr_fill(tr_fx *t, osp_txn **reader)
{
	static char val[1500];
	osp_err rv = OSP_OK;

	memset(val, 'v', sizeof(val));
	assert_int_equal(osp_store_txn_begin(t->f.c.store, false, reader), OSP_OK);
	for (int i = 0; i < 100000 && rv == OSP_OK; i++) {
		char key[32];
		int kl = snprintf(key, sizeof(key), "fill-%06d", i);
		osp_txn *w = NULL;

		assert_int_equal(osp_store_txn_begin(t->f.c.store, true, &w), OSP_OK);
		if ((rv = osp_store_put(w, "requests", key, (size_t)kl, val, sizeof(val))) != OSP_OK)
			osp_store_txn_abort(w);
		else
			rv = osp_store_txn_commit(w);
	}
	assert_int_equal(rv, OSP_EMAPFULL);
}

/* A group whose commit fails: the register's facts stay out of memory (it
 * was the review finding: they were taken at arrival), and the results are
 * answered with an error with the engine back at what the store holds. */
static void test_coord_register_failed_commit_keeps_memory(void **state)
{
	tr_fx *t = tr_setup(2 * 1024 * 1024);
	coord_ro_entry *e = tr_deploy(t, "2");
	coord_node *n = tr_node(t, 0);
	osp_txn *reader = NULL;

	(void)state;
	osp_strlcpy(n->hostname, "old-host", sizeof(n->hostname));
	tr_fill(t, &reader);
	tr_register(t, "new-host", "web");
	tr_result(t, 0);
	tr_result(t, 1);
	coord_register_flush(&t->f.c);
	osp_store_txn_abort(reader);

	assert_int_equal(tr_reply(&t->x[TR_NODES], NULL), OSPEC__V1__ENVELOPE__BODY_ERROR);
	assert_string_equal(n->hostname, "old-host");
	assert_null(osp_labels_get(&n->labels, "role"));
	assert_int_equal(n->acked, 0);
	for (size_t i = 0; i < 2; i++)
		assert_int_equal(tr_reply(&t->x[i], NULL), OSPEC__V1__ENVELOPE__BODY_ERROR);
	assert_int_equal(t->f.c.nregwait, 0);
	/* reloaded: still waiting for both Stages, no second batch */
	assert_non_null(e = t->f.c.rollouts);
	assert_int_equal(tr_step_state(e, 0), COORD_STEP_STAGING);
	assert_int_equal(tr_step_state(e, 1), COORD_STEP_STAGING);
	assert_int_equal(tr_node(t, 2)->log_end, 0);
	tr_teardown(t);
}

/* A register whose connection closes while it waits in the group: the
 * flush records it and answers nobody, and its context receives again once
 * (it re-armed twice: a second receive started on a busy aio). */
static void test_coord_register_closed_while_waiting(void **state)
{
	tr_fx *t = tr_setup(0);
	coord_ctx *x = &t->x[TR_NODES + 1];
	nng_aio *counted;
	static atomic_int done;

	(void)state;
	/* the context's aio counts its completions */
	nng_aio_free(x->aio);
	assert_int_equal(nng_aio_alloc(&counted, tr_count_cb, &done), 0);
	x->aio = counted;
	assert_int_equal(tr_register_new(t, 0, TR_UUID), COORD_CTX_REGWAIT);
	coord_pipe_get(&t->f.c, 100, false)->closing = true;
	coord_register_flush(&t->f.c);
	assert_int_equal(t->f.c.nregwait, 0);
	assert_non_null(coord_node_find(&t->f.c, "new0"));
	assert_int_equal(x->state, COORD_CTX_RECV);
	nng_aio_wait(x->aio);
	osp_sleep_ms(100); /* a second completion would come now */
	assert_int_equal(atomic_load(&done), 1);
	tr_teardown(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_coord_register_results_one_commit),
		cmocka_unit_test(test_coord_register_ended_rollout_saved_once),
		cmocka_unit_test(test_coord_register_last_place_commits),
		cmocka_unit_test(test_coord_register_stop_while_adding),
		cmocka_unit_test(test_coord_register_facts_after_commit),
		cmocka_unit_test(test_coord_register_failed_commit_keeps_memory),
		cmocka_unit_test(test_coord_register_new_nodes_one_commit),
		cmocka_unit_test(test_coord_register_new_nodes_failed_commit),
		cmocka_unit_test(test_coord_register_closed_while_waiting),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
