/*
 * coord_agents.c - the agent protocol server: a rep0 socket with a pool of
 * nng contexts (async aio, no thread per agent). A poll without commands is
 * held in its context until commands arrive or poll_hold passes.
 *
 * One connection may hold at most COORD_PIPE_MAX_INFLIGHT contexts (held
 * polls and replies waiting to be sent included): past that, or when a reply
 * waits COORD_SEND_TIMEOUT_MS for a connection that does not read, the
 * connection is closed and its contexts serve others. The pool grows while
 * few contexts are left receiving, so a stuck peer never starves the fleet.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

#include "coord.h"
#include "coord_engine_hooks.h"
#include "ospec/tls.h"

#define COORD_CTX_INITIAL 16
#define COORD_CTX_GROW 16
#define COORD_PIPE_MAX_BAD 8
#define COORD_HELD_PER_PIPE 2
#define COORD_CTX_RESERVE 8

static void coord_ctx_cb(void *arg);
static void coord_ctx_recv(coord_ctx *x);

static osp_err coord_ctx_add(coord *c)
{
	coord_ctx *x = calloc(1, sizeof(*x));
	int rv;

	if (x == NULL)
		return OSP_ENOMEM;
	x->c = c;
	if ((rv = nng_ctx_open(&x->ctx, c->agents)) != 0) {
		free(x);
		return osp_nng_err(rv);
	}
	if ((rv = nng_aio_alloc(&x->aio, coord_ctx_cb, x)) != 0) {
		nng_ctx_close(x->ctx);
		free(x);
		return osp_nng_err(rv);
	}
	x->next = c->ctxs;
	c->ctxs = x;
	c->nctx++;
	coord_ctx_recv(x);
	return OSP_OK;
}

static void coord_agents_grow(coord *c);

/* coord_ctx_recv re-arms x to receive (no timeout: a request may be long in
 * coming). */
static void coord_ctx_recv(coord_ctx *x)
{
	x->state = COORD_CTX_RECV;
	nng_aio_set_timeout(x->aio, NNG_DURATION_INFINITE);
	nng_ctx_recv(x->ctx, x->aio);
}

/* coord_ctx_send sends m as the reply of x (x goes to SEND). A reply that
 * waits longer than COORD_SEND_TIMEOUT_MS behind earlier ones on a
 * connection that does not read comes back with NNG_ETIMEDOUT. Nothing is
 * sent to a connection being closed (m is freed, x stays in RECV): see
 * coord_agents_unqueue. */
static void coord_ctx_send(coord_ctx *x, nng_msg *m)
{
	coord *c = x->c;
	coord_pipe *p = x->pipe_id ? coord_pipe_get(c, x->pipe_id, false) : NULL;

	/* stopping: the aios are stopped (coord_agents_stop), and nng 1.5 does
	 * not call back a send begun on a stopped aio, so its message would
	 * stay on the aio, leaked (a held poll answered as its pipe closed) */
	if ((p != NULL && p->closing) || atomic_load(&c->stopping)) {
		nng_msg_free(m);
		x->state = COORD_CTX_RECV;
		return;
	}
	x->state = COORD_CTX_SEND;
	c->nsend++;
	nng_aio_set_msg(x->aio, m);
	nng_aio_set_timeout(x->aio, COORD_SEND_TIMEOUT_MS);
	nng_ctx_send(x->ctx, x->aio);
	coord_agents_grow(c);
}

/* coord_ctx_done ends x's request: its connection has one fewer in flight. */
static void coord_ctx_done(coord *c, coord_ctx *x)
{
	coord_pipe *p;

	if (x->pipe_id != 0 && (p = coord_pipe_get(c, x->pipe_id, false)) != NULL &&
		p->inflight > 0)
		p->inflight--;
	x->pipe_id = 0;
}

void coord_agents_rearm(coord *c, coord_ctx *x)
{
	if (x->state != COORD_CTX_RECV)
		return;
	coord_ctx_done(c, x);
	coord_ctx_recv(x);
}

void coord_agents_send_error(coord_ctx *x, Ospec__V1__ErrorCode code, const char *text)
{
	nng_msg *m = NULL;

	if (osp_wire_error_msg(code, text, &m) != OSP_OK) {
		/* no reply possible: stay in RECV, the callback re-arms */
		x->state = COORD_CTX_RECV;
		return;
	}
	coord_ctx_send(x, m);
}

void coord_agents_send_env(coord_ctx *x, osp_env *env)
{
	nng_msg *m = NULL;

	if (osp_wire_encode(env, &m) != OSP_OK) {
		coord_agents_send_error(x, OSPEC__V1__ERROR_CODE__ERR_INTERNAL, "reply too big");
		return;
	}
	coord_ctx_send(x, m);
}

/* coord_agents_reply_cmds answers a poll with the commands after cursor
 * (possibly none). */
static void coord_agents_reply_cmds(coord *c, coord_ctx *x, coord_node *n, uint64_t cursor,
	uint32_t max)
{
	osp_env env;
	Ospec__V1__Commands cmds;
	Ospec__V1__Command **list = NULL;
	Ospec__V1__LogRequest lr[COORD_LOGS_PER_NODE], *lrp[COORD_LOGS_PER_NODE];
	size_t nlist = 0;
	osp_txn *t = NULL;

	osp_wire_env_init(&env, NULL, NULL, 0);
	ospec__v1__commands__init(&cmds);
	if (n != NULL) {
		/* log reads ride along (1.4): no sequence, never in the log */
		cmds.n_logs = coord_logs_for_node(c, n, true, lr, lrp);
		cmds.logs = lrp;
	}
	if (n != NULL && n->log_end > cursor &&
		((t = c->fanout_txn) != NULL || osp_store_txn_begin(c->store, false, &t) == OSP_OK)) {
		if (coord_db_cmd_read(c, t, n->id, cursor, max, &list, &nlist) != OSP_OK) {
			list = NULL;
			nlist = 0;
		}
		if (t != c->fanout_txn)
			osp_store_txn_abort(t);
	}
	c->stats.commands_sent += nlist;
	cmds.n_entries = nlist;
	cmds.entries = list;
	cmds.has_log_end = 1;
	cmds.log_end = n ? n->log_end : 0;
	env.body_case = OSPEC__V1__ENVELOPE__BODY_COMMANDS;
	env.commands = &cmds;
	coord_agents_send_env(x, &env);
	coord_db_cmds_free(list, nlist);
}

/* coord_agents_grow adds contexts when few are left to receive: held polls,
 * registers waiting for their commit and replies waiting for their
 * connection do not receive. */
static void coord_agents_grow(coord *c)
{
	size_t free_ctx = c->nctx - c->nheld - c->nsend - c->nregwait;

	if (free_ctx > 4 || c->nctx >= c->cfg.max_contexts || atomic_load(&c->stopping))
		return;
	for (int i = 0; i < COORD_CTX_GROW && c->nctx < c->cfg.max_contexts; i++)
		if (coord_ctx_add(c) != OSP_OK)
			break;
}

static void coord_agents_release(coord *c, coord_ctx *x);

/* coord_agents_hold keeps a poll until commands arrive. A connection gets at
 * most COORD_HELD_PER_PIPE held polls (an agent needs one; a second covers a
 * retry racing the old one): a newer poll answers the older one at once, so
 * one client cannot take every context. Near max_contexts a poll is
 * answered empty rather than held. */
static void coord_agents_hold(coord *c, coord_ctx *x, coord_node *n, uint32_t pipe,
	uint64_t cursor, uint32_t max)
{
	coord_ctx *oldest = NULL;
	unsigned same = 0;

	for (coord_ctx *h = n->held; h != NULL; h = h->held_next) {
		if (h->held_pipe != pipe)
			continue;
		same++;
		oldest = h; /* the list is newest first */
	}
	if (same >= COORD_HELD_PER_PIPE && oldest != NULL)
		coord_agents_release(c, oldest);
	if (c->nheld + COORD_CTX_RESERVE >= c->cfg.max_contexts) {
		coord_agents_reply_cmds(c, x, n, cursor, max);
		return;
	}
	x->state = COORD_CTX_HELD;
	x->held_node = n;
	x->held_pipe = pipe;
	x->held_cursor = cursor;
	x->held_max = max;
	x->held_until = osp_now_mono_ms() + c->cfg.poll_hold;
	x->held_next = n->held;
	n->held = x;
	c->nheld++;
	coord_agents_grow(c);
}

static void coord_agents_release(coord *c, coord_ctx *x)
{
	coord_node *n = x->held_node;

	c->nheld--;
	if (n != NULL) {
		for (coord_ctx **pp = &n->held; *pp != NULL; pp = &(*pp)->held_next) {
			if (*pp == x) {
				*pp = x->held_next;
				break;
			}
		}
	}
	x->held_next = NULL;
	x->held_node = NULL;
	coord_agents_reply_cmds(c, x, n, x->held_cursor, x->held_max);
	/* no reply could be made; outside the callback nobody else re-arms a
	 * context left receiving */
	if (x->state == COORD_CTX_RECV) {
		coord_ctx_done(c, x);
		coord_ctx_recv(x);
	}
}

void coord_agents_wake(coord *c, coord_node *n)
{
	coord_ctx *x, *next;

	for (x = n->held; x != NULL; x = next) {
		next = x->held_next;
		if (x->state == COORD_CTX_HELD)
			coord_agents_release(c, x);
	}
}

void coord_agents_kick(coord *c, coord_node *n)
{
	coord_ctx *x, *next;

	/* only this node's held polls: a fleet-wide rollout kicks every node,
	 * and walking every context for each was quadratic */
	n->kick = false;
	for (x = n->held; x != NULL; x = next) {
		next = x->held_next;
		if (x->state == COORD_CTX_HELD && n->log_end > x->held_cursor)
			coord_agents_release(c, x);
	}
}

void coord_agents_unqueue(coord *c, uint32_t pipe)
{
	for (coord_ctx *x = c->ctxs; x != NULL; x = x->next)
		if (x->state == COORD_CTX_SEND && x->pipe_id == pipe)
			nng_aio_cancel(x->aio); /* out of rep0's queue now; the callback frees */
}

void coord_agents_tick(coord *c, int64_t now_mono)
{
	for (coord_ctx *x = c->ctxs; x != NULL; x = x->next)
		if (x->state == COORD_CTX_HELD && now_mono >= x->held_until)
			coord_agents_release(c, x);
}

void coord_agents_ack(coord_ctx *x, uint64_t seq)
{
	osp_env env;
	Ospec__V1__Ack ack;

	osp_wire_env_init(&env, NULL, NULL, 0);
	ospec__v1__ack__init(&ack);
	ack.has_seq = 1;
	ack.seq = seq;
	env.body_case = OSPEC__V1__ENVELOPE__BODY_ACK;
	env.ack = &ack;
	coord_agents_send_env(x, &env);
}

static void coord_agents_save_node(coord *c, coord_node *n)
{
	osp_txn *t = NULL;

	if (osp_store_txn_begin(c->store, true, &t) != OSP_OK)
		return;
	if (coord_db_save_node(c, t, n) != OSP_OK) {
		osp_store_txn_abort(t);
		return;
	}
	coord_db_commit(c, t, "node apps");
}

static void coord_agents_heartbeat(coord *c, coord_ctx *x, coord_node *n, const osp_env *e)
{
	osp_env env;
	Ospec__V1__HeartbeatAck ack;
	Ospec__V1__LogRequest lr[COORD_LOGS_PER_NODE], *lrp[COORD_LOGS_PER_NODE];

	/* its results waiting for the group commit come first: the engine
	 * sees a node's reports in the order they came */
	if (e->heartbeat->n_apps > 0 && coord_register_pending(c, n))
		coord_register_flush(c);
	if (e->heartbeat->n_apps > 0) {
		/* what runs where outlives a restart (it decides the idle slot
		 * and the revert target of the next rollout); it changes rarely,
		 * so this is neither a copy nor a commit per heartbeat */
		if (coord_node_apps_differ(n, e->heartbeat->apps, e->heartbeat->n_apps)) {
			coord_node_set_apps(n, e->heartbeat->apps, e->heartbeat->n_apps);
			coord_agents_save_node(c, n);
		}
		coord_engine_on_heartbeat(c, n);
	}
	osp_wire_env_init(&env, NULL, NULL, 0);
	ospec__v1__heartbeat_ack__init(&ack);
	ack.has_heartbeat_ms = 1;
	ack.heartbeat_ms = (uint32_t)c->cfg.heartbeat;
	/* log reads go in heartbeat replies too: the agent's session thread may
	 * be busy executing a long Stage and not polling */
	ack.n_logs = coord_logs_for_node(c, n, false, lr, lrp);
	ack.logs = lrp;
	env.body_case = OSPEC__V1__ENVELOPE__BODY_HEARTBEAT_ACK;
	env.heartbeat_ack = &ack;
	coord_agents_send_env(x, &env);
}

static void coord_agents_event(coord *c, coord_ctx *x, coord_node *n, const osp_env *e)
{
	osp_txn *t = NULL;
	char kind[80];

	snprintf(kind, sizeof(kind), "agent.%s", e->event->kind);
	if (osp_store_txn_begin(c->store, true, &t) == OSP_OK) {
		if (coord_db_event(c, t, kind, n->id, NULL, e->event->app, "node", "%s",
			    e->event->message ? e->event->message : "") == OSP_OK)
			coord_db_commit(c, t, "event");
		else
			osp_store_txn_abort(t);
	}
	coord_agents_ack(x, 0);
}

/* coord_agents_dispatch handles one decoded request from a registered pipe. */
static void coord_agents_dispatch(coord *c, coord_ctx *x, coord_pipe *p, const osp_env *e)
{
	coord_node *n = p->node;

	if (e->body_case == OSPEC__V1__ENVELOPE__BODY_HELLO) {
		coord_register_hello(c, x, p);
		return;
	}
	if (e->body_case == OSPEC__V1__ENVELOPE__BODY_REGISTER) {
		coord_register_handle(c, x, p, e);
		return;
	}
	if (n == NULL || e->node_id == NULL || strcmp(e->node_id, n->id) != 0 ||
		e->instance_uuid == NULL || strcmp(e->instance_uuid, n->uuid) != 0) {
		c->stats.not_registered++;
		coord_agents_send_error(x, OSPEC__V1__ERROR_CODE__ERR_NOT_REGISTERED,
			"register first");
		return;
	}
	coord_node_seen(c, n);
	switch (e->body_case) {
	case OSPEC__V1__ENVELOPE__BODY_HEARTBEAT:
		coord_agents_heartbeat(c, x, n, e);
		return;
	case OSPEC__V1__ENVELOPE__BODY_POLL:
		if (e->poll->cursor > n->acked)
			n->acked = e->poll->cursor;
		if (e->poll->cursor > n->log_end) {
			/* as at register: new commands must come after its cursor */
			OSP_WARN("COORD-CURSOR-AHEAD", "node '%s' polls with cursor %llu past "
				"log end %llu", n->id, (unsigned long long)e->poll->cursor,
				(unsigned long long)n->log_end);
			n->log_end = e->poll->cursor;
		}
		/* a log read waiting is answered at once too (never held) */
		if (n->log_end > e->poll->cursor || coord_logs_waiting(c, n))
			coord_agents_reply_cmds(c, x, n, e->poll->cursor, e->poll->max_entries);
		else
			coord_agents_hold(c, x, n, p->id, e->poll->cursor, e->poll->max_entries);
		return;
	case OSPEC__V1__ENVELOPE__BODY_RESULT:
		c->stats.results[(unsigned)e->result->status < COORD_RESULT_N - 1
				? (unsigned)e->result->status
				: COORD_RESULT_N - 1]++;
		/* acknowledged only once recorded (otherwise the agent re-sends),
		 * in a group commit with the results and registers around it */
		if (e->result->status == OSPEC__V1__RESULT_STATUS__RESULT_IN_PROGRESS)
			coord_agents_ack(x, e->result->seq); /* nothing to record */
		else
			coord_register_result(c, x, p, n, e->result);
		return;
	case OSPEC__V1__ENVELOPE__BODY_EVENT:
		coord_agents_event(c, x, n, e);
		return;
	case OSPEC__V1__ENVELOPE__BODY_LOG_CHUNK:
		/* to the ospecctl logs waiting for it; nothing is stored */
		coord_logs_on_chunk(c, n, e->log_chunk);
		coord_agents_ack(x, 0);
		return;
	default:
		c->stats.decode_errors++;
		coord_agents_send_error(x, OSPEC__V1__ERROR_CODE__ERR_INVALID,
			"not a request an agent may send");
		return;
	}
}

/* coord_agents_bad counts an undecodable request; the COORD_PIPE_MAX_BADth
 * closes the connection. */
static void coord_agents_bad(coord *c, coord_pipe *p, osp_err rv, const char *err)
{
	uint64_t held;

	if (rv == OSP_EVERSION)
		c->stats.version_errors++;
	else if (rv == OSP_ETOOBIG)
		c->stats.too_big++;
	else
		c->stats.decode_errors++;
	if (p == NULL)
		return;
	p->bad++;
	if (coord_ratelog_due(&c->rl[COORD_RL_BAD_MESSAGE], osp_now_mono_ms(), &held))
		OSP_WARN("COORD-BAD-MESSAGE", "connection %u%s%s%s: %s (%u so far; %llu more bad "
			"messages since the last report)", p->id, p->node ? " of node '" : "",
			p->node ? p->node->id : "", p->node ? "'" : "", err, p->bad,
			(unsigned long long)held);
	if (p->bad >= COORD_PIPE_MAX_BAD)
		coord_conn_close_soon(p, 0); /* what it sends until then is dropped */
}

/* coord_agents_admit decides whether connection p may have request x served:
 * not when it is gone or closing (dropped unanswered), not past
 * COORD_PIPE_MAX_INFLIGHT (a peer that sends and does not read: closed). */
static bool coord_agents_admit(coord *c, coord_ctx *x, coord_pipe *p, uint32_t pid)
{
	if (p == NULL || p->closing) {
		c->stats.dropped++;
		return false;
	}
	x->pipe_id = pid;
	if (++p->inflight <= COORD_PIPE_MAX_INFLIGHT) {
		p->last_mono = osp_now_mono_ms();
		return true;
	}
	c->stats.dropped++;
	coord_conn_stuck(c, p, "too many requests unanswered (its replies are not read)");
	return false;
}

/* coord_agents_decode decodes a request of at most COORD_AGENT_MAX_REQ bytes. */
static osp_err coord_agents_decode(nng_msg *m, osp_env **e, char *err, size_t errlen)
{
	if (nng_msg_len(m) > COORD_AGENT_MAX_REQ) {
		*e = NULL;
		snprintf(err, errlen, "message of %zu bytes exceeds the %d byte limit",
			nng_msg_len(m), COORD_AGENT_MAX_REQ);
		return OSP_ETOOBIG;
	}
	return osp_wire_decode(nng_msg_body(m), nng_msg_len(m), e, err, errlen);
}

/* coord_agents_request handles one received message. x stays in RECV when
 * nothing is sent (the request was dropped). */
static void coord_agents_request(coord *c, coord_ctx *x, nng_msg *m)
{
	uint32_t pid = (uint32_t)nng_pipe_id(nng_msg_get_pipe(m));
	/* a connection is known from NNG_PIPE_EV_ADD_PRE on, until it is gone */
	coord_pipe *p = coord_pipe_get(c, pid, false);
	osp_env *e = NULL;
	char err[256];
	osp_err rv;
	uint64_t held;

	c->stats.requests++;
	if (!coord_agents_admit(c, x, p, pid)) {
		nng_msg_free(m);
		return;
	}
	rv = coord_agents_decode(m, &e, err, sizeof(err));
	nng_msg_free(m);
	if (rv != OSP_OK) {
		coord_agents_bad(c, p, rv, err);
		coord_agents_send_error(x,
			rv == OSP_EVERSION ? OSPEC__V1__ERROR_CODE__ERR_VERSION
			: rv == OSP_ETOOBIG ? OSPEC__V1__ERROR_CODE__ERR_TOO_BIG
			: rv == OSP_EINVAL  ? OSPEC__V1__ERROR_CODE__ERR_INVALID
					    : OSPEC__V1__ERROR_CODE__ERR_DECODE,
			err);
		osp_wire_free(e);
		return;
	}
	if (e->has_msg_id && !coord_pipe_seen_msg(p, e->msg_id)) {
		c->stats.replays++;
		if (coord_ratelog_due(&c->rl[COORD_RL_REPLAY], osp_now_mono_ms(), &held))
			OSP_WARN("COORD-REPLAY", "connection %u: message %llu seen already, ignored "
				"(%llu more since the last report)", pid,
				(unsigned long long)e->msg_id, (unsigned long long)held);
		coord_agents_send_error(x, OSPEC__V1__ERROR_CODE__ERR_REPLAY, "message id seen already");
	} else {
		coord_agents_dispatch(c, x, p, e);
	}
	osp_wire_free(e);
}

/* coord_ctx_sent ends a send: a reply the connection did not take in time
 * closes that connection; a reply not sent is freed here. */
static void coord_ctx_sent(coord *c, coord_ctx *x, int rv)
{
	coord_pipe *p;

	c->nsend--;
	if (rv == 0)
		return;
	nng_msg_free(nng_aio_get_msg(x->aio));
	nng_aio_set_msg(x->aio, NULL);
	if (rv == NNG_ETIMEDOUT && (p = coord_pipe_get(c, x->pipe_id, false)) != NULL &&
		!p->closing)
		coord_conn_stuck(c, p, "a reply waited too long for it to read");
}

static void coord_ctx_cb(void *arg)
{
	coord_ctx *x = arg;
	coord *c = x->c;
	int rv = nng_aio_result(x->aio);

	/* connections are closed by the sweep (coord_conn.c), never from an
	 * nng callback: this one may run inside the pipe's own receive */
	pthread_mutex_lock(&c->mtx);
	if (x->state == COORD_CTX_SEND) {
		coord_ctx_sent(c, x, rv);
		coord_ctx_done(c, x);
	} else if (x->state == COORD_CTX_RECV && rv == 0 && atomic_load(&c->stopping)) {
		/* stopping: the group commit is gone (coord_register_stop) */
		nng_msg_free(nng_aio_get_msg(x->aio));
		nng_aio_set_msg(x->aio, NULL);
		coord_ctx_done(c, x);
	} else if (x->state == COORD_CTX_RECV && rv == 0) {
		coord_agents_request(c, x, nng_aio_get_msg(x->aio));
		if (x->state != COORD_CTX_RECV) {
			pthread_mutex_unlock(&c->mtx);
			return;
		}
		nng_aio_set_msg(x->aio, NULL); /* freed by the request */
		coord_ctx_done(c, x);          /* dropped, or no reply could be made */
	}
	if (rv != NNG_ECLOSED && !atomic_load(&c->stopping))
		coord_ctx_recv(x);
	pthread_mutex_unlock(&c->mtx);
}

static void coord_agents_pipe_cb(nng_pipe np, nng_pipe_ev ev, void *arg)
{
	coord *c = arg;
	uint32_t id = (uint32_t)nng_pipe_id(np);
	bool ok;

	/* stopping: coord_agents_stop frees the contexts, and the registry goes
	 * after it; an event nng delivers late must touch neither */
	if (atomic_load(&c->stopping)) {
		if (ev == NNG_PIPE_EV_ADD_PRE)
			nng_pipe_close(np);
		return;
	}
	if (ev == NNG_PIPE_EV_ADD_PRE) {
		pthread_mutex_lock(&c->mtx);
		ok = coord_conn_admit(c, id, osp_now_mono_ms());
		pthread_mutex_unlock(&c->mtx);
		/* closed before it is added: nng reads nothing from it and sends
		 * no further event for it */
		if (!ok)
			nng_pipe_close(np);
		return;
	}
	if (ev != NNG_PIPE_EV_REM_POST)
		return;
	pthread_mutex_lock(&c->mtx);
	/* polls held for this connection can never be answered: free them */
	for (coord_ctx *x = c->ctxs; x != NULL; x = x->next)
		if (x->state == COORD_CTX_HELD && x->held_pipe == id)
			coord_agents_release(c, x);
	coord_pipe_drop(c, id);
	pthread_mutex_unlock(&c->mtx);
}

osp_err coord_agents_start(coord *c, char *err, size_t errlen)
{
	nng_listener l;
	int rv;

	if ((rv = nng_rep0_open(&c->agents)) != 0) {
		snprintf(err, errlen, "cannot open the agent socket: %s", nng_strerror(rv));
		return osp_nng_err(rv);
	}
	/* nng allocates a whole message when its length arrives, so the limit is
	 * what a half-sent message can cost: a little above the largest request
	 * (a message between the two is refused with ERR_TOO_BIG and counted;
	 * past it nng drops the connection unread) */
	nng_socket_set_size(c->agents, NNG_OPT_RECVMAXSZ, COORD_AGENT_RECVMAX);
	nng_pipe_notify(c->agents, NNG_PIPE_EV_ADD_PRE, coord_agents_pipe_cb, c);
	nng_pipe_notify(c->agents, NNG_PIPE_EV_REM_POST, coord_agents_pipe_cb, c);
	if ((rv = nng_listener_create(&l, c->agents, c->cfg.listen)) != 0 ||
		(rv = nng_listener_set_size(l, NNG_OPT_RECVMAXSZ, COORD_AGENT_RECVMAX)) != 0) {
		snprintf(err, errlen, "cannot listen on '%s': %s", c->cfg.listen, nng_strerror(rv));
		return osp_nng_err(rv);
	}
	if (osp_tls_url_is_tls(c->cfg.listen) && coord_conn_tls(c, l, err, errlen) != OSP_OK)
		return OSP_ECONFIG;
	if ((rv = nng_listener_start(l, 0)) != 0) {
		snprintf(err, errlen, "cannot listen on '%s': %s", c->cfg.listen, nng_strerror(rv));
		return osp_nng_err(rv);
	}
	coord_conn_backlog(l, COORD_LISTEN_BACKLOG);
	if ((rv = coord_register_start(c)) != OSP_OK) {
		snprintf(err, errlen, "cannot start the register group commit: %s",
			osp_strerror(rv));
		return rv;
	}
	pthread_mutex_lock(&c->mtx);
	for (int i = 0; i < COORD_CTX_INITIAL; i++)
		coord_ctx_add(c);
	pthread_mutex_unlock(&c->mtx);
	if ((rv = coord_conn_start(c)) != OSP_OK) {
		snprintf(err, errlen, "cannot start the connection sweep: %s", osp_strerror(rv));
		return rv;
	}
	return OSP_OK;
}

void coord_agents_stop(coord *c)
{
	coord_ctx *x;

	/* stop issuing first, then close (DEPENDENCIES.md: nng close ordering).
	 * With stopping set no callback re-arms or adds contexts, so the list
	 * is stable once we hold the lock; aio_stop runs without it because a
	 * callback in flight needs it to finish. */
	atomic_store(&c->stopping, true);
	coord_conn_stop(c);
	coord_register_stop(c);
	pthread_mutex_lock(&c->mtx);
	x = c->ctxs;
	pthread_mutex_unlock(&c->mtx);
	for (; x != NULL; x = x->next)
		nng_aio_stop(x->aio);
	nng_close(c->agents);
	/* taken off under the lock: a pipe event already running holds it */
	pthread_mutex_lock(&c->mtx);
	x = c->ctxs;
	c->ctxs = NULL;
	pthread_mutex_unlock(&c->mtx);
	while (x != NULL) {
		coord_ctx *next = x->next;
		nng_msg *left = nng_aio_get_msg(x->aio); /* a reply never sent */

		if (left != NULL)
			nng_msg_free(left);
		nng_aio_free(x->aio);
		free(x);
		x = next;
	}
	c->nctx = c->nheld = c->nsend = 0;
}
