/*
 * coord_register.c - hello and register: the nonce challenge, the identity
 * proof, the node's record, the binding of the connection.
 *
 * A register is answered only once the node's record is durable. Registers
 * of known nodes are committed in groups: the first one of a group waits
 * COORD_REG_GROUP_MS for others (at most COORD_REG_GROUP_MAX), then one
 * synced commit records them all, each with its node.registered and
 * node.up events. A fleet that reconnects at once (a restarted coordinator)
 * so costs a few commits instead of two per node, which on a disk that
 * really flushes (1-10 ms) was tens of seconds with every other request
 * waiting behind the lock (docs/benchmarks.md, "Restart"). Registers of new
 * nodes join the group too (a new fleet's first storm, docs/benchmarks.md
 * "Scale": one commit each made 5000 agents wait past their 5 s timeout);
 * such a node reaches memory only after the commit. A register with
 * in-doubt switches is recorded at once as before.
 *
 * Command results join the same group (docs/benchmarks.md, "Scale"): a
 * fleet-wide switch answers with one result per node at once, and one
 * synced commit each queued them for seconds. A group holds a fleet's
 * answers (COORD_REG_GROUP_MAX), so they are acknowledged together. The flush applies each result
 * to its rollout in the group's transaction, commits once, and only then
 * sends the commands that follow and acknowledges the results (an agent
 * sends an unacknowledged result again, so nothing is lost to a crash
 * before the commit). What a register says about its node reaches memory
 * only after the commit too: a failed commit leaves memory as the store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>

#include "coord.h"
#include "coord_backup.h"
#include "coord_engine_hooks.h"
#include "coord_active.h"
#include "ospec/fault.h"
#include "ospec/tls.h"

/* A register that would take the last of the COORD_UNREG_MAX places of
 * connections not registered yet (each waiting register holds one until its
 * commit) commits the group before it joins, rather than after the group's
 * wait: with every place held, every other connection is refused meanwhile.
 * (A fleet's results may fill the rest of a group.)
 * New nodes' registers a group holds at most before it commits at once:
 * each holds one of the COORD_UNREG_MAX places of connections waiting to
 * register, and while they wait the storm's other connections are refused.
 * Measured (bench_scale, 2000 agents): groups of up to 256 gave 90-1223
 * register retries; of 64, still hundreds; of 16, 0-1 (152 commits). */
#define COORD_REG_NEW_MAX 16

/* coord_reg_refuse answers a refused register and closes the connection
 * once the answer had time to leave. Before an identity is proven nothing is
 * written to the store: anyone who can connect could otherwise fill it and
 * push the history out. Counted (stats.refused), logged once per
 * COORD_LOG_EVERY_MS per reason with the count held back. */
static void coord_reg_refuse(coord *c, coord_ctx *x, coord_pipe *p, coord_rl rl,
	const char *node, const char *why)
{
	int64_t now = osp_now_mono_ms();
	uint64_t held;

	c->stats.refused++;
	if ((unsigned)rl < COORD_REFUSED_N)
		c->stats.refused_by[rl]++;
	if (coord_ratelog_due(&c->rl[rl], now, &held))
		OSP_WARN("COORD-REGISTER-REFUSED", "register of node '%s' refused: %s (%llu more "
			"refusals like it since the last report)", node, why,
			(unsigned long long)held);
	coord_agents_send_error(x, OSPEC__V1__ERROR_CODE__ERR_REFUSED, why);
	coord_conn_close_soon(p, now + COORD_REFUSE_CLOSE_MS); /* after the answer */
}

void coord_register_hello(coord *c, coord_ctx *x, coord_pipe *p)
{
	osp_env env;
	Ospec__V1__Challenge ch;

	if (osp_random_bytes(p->nonce, sizeof(p->nonce)) != OSP_OK) {
		coord_agents_send_error(x, OSPEC__V1__ERROR_CODE__ERR_INTERNAL, "no randomness");
		return;
	}
	p->has_nonce = true;
	osp_wire_env_init(&env, NULL, NULL, 0);
	ospec__v1__challenge__init(&ch);
	ch.nonce.data = p->nonce;
	ch.nonce.len = sizeof(p->nonce);
	ch.has_proof_required = 1;
	ch.proof_required = osp_tls_url_is_tls(c->cfg.listen);
	env.body_case = OSPEC__V1__ENVELOPE__BODY_CHALLENGE;
	env.challenge = &ch;
	coord_agents_send_env(x, &env);
}

/* coord_reg_facts takes what a register says about node n into memory (a
 * new node's, or a group's copy: coord_reg_later). */
static osp_err coord_reg_facts(coord_node *n, bool is_new, const osp_env *e)
{
	const Ospec__V1__Register *r = e->register_;
	osp_labels labels = { 0 };
	osp_err rv = OSP_OK;

	for (size_t i = 0; i < r->n_labels && rv == OSP_OK; i++)
		rv = osp_labels_set(&labels, r->labels[i]->key, r->labels[i]->value);
	if (rv == OSP_OK)
		rv = osp_labels_copy(&n->labels, &labels);
	osp_labels_fini(&labels);
	if (rv != OSP_OK)
		return rv;
	osp_strlcpy(n->hostname, r->hostname ? r->hostname : "", sizeof(n->hostname));
	osp_strlcpy(n->agent_version, r->agent_version ? r->agent_version : "",
		sizeof(n->agent_version));
	n->proto_minor = e->has_version_minor ? e->version_minor : 0;
	coord_node_set_apps(n, r->apps, r->n_apps);
	if (is_new)
		n->first_seen_ms = osp_now_wall_ms();
	if (r->cursor > n->log_end) {
		/* the agent executed more than this store knows (a restored
		 * backup?): new commands must come after its cursor */
		OSP_WARN("COORD-CURSOR-AHEAD", "node '%s' reports cursor %llu past log end %llu",
			n->id, (unsigned long long)r->cursor, (unsigned long long)n->log_end);
		n->log_end = r->cursor;
	}
	n->acked = r->cursor;
	n->last_seen_wall = osp_now_wall_ms();
	return OSP_OK;
}

/* coord_reg_record writes node n's record and its node.registered event into
 * t, and node.up when it is down (up says so: once per node and group). */
static osp_err coord_reg_record(coord *c, osp_txn *t, coord_node *n, bool is_new,
	uint64_t cursor, bool up)
{
	osp_err rv;

	if ((rv = coord_db_save_node(c, t, n)) != OSP_OK ||
		(rv = coord_db_event(c, t, "node.registered", n->id, NULL, NULL, "coordinator",
			 "%s instance %s, %zu labels, cursor %llu", is_new ? "new" : "known",
			 n->uuid, n->labels.n, (unsigned long long)cursor)) != OSP_OK)
		return rv;
	if (up && n->state != COORD_NODE_UP)
		rv = coord_db_event(c, t, "node.up", n->id, NULL, NULL, "coordinator",
			"node is up");
	return rv;
}

/* coord_reg_answer binds connection p to node n (recorded) and answers x
 * with Registered; r is the register (NULL: a known node without in-doubt
 * switches registered at cursor). */
static void coord_reg_answer(coord *c, coord_ctx *x, coord_pipe *p, coord_node *n,
	const Ospec__V1__Register *r, uint64_t cursor)
{
	Ospec__V1__Register plain;
	Ospec__V1__Registered ok;
	osp_env env;

	p->node = n;
	coord_pipe_registered(c, p);
	n->pipe_id = p->id;
	coord_node_mark_up(n); /* its node.up event is in the record's commit */
	OSP_INFO("COORD-NODE-REGISTERED", "node '%s' registered (instance %s, cursor %llu)",
		n->id, n->uuid, (unsigned long long)cursor);
	if (r == NULL) {
		ospec__v1__register__init(&plain);
		plain.has_cursor = 1;
		plain.cursor = cursor;
		r = &plain;
	}
	coord_engine_on_register(c, n, r);
	coord_backup_on_register(c, n, cursor); /* after a --restore only */
	osp_wire_env_init(&env, NULL, NULL, 0);
	ospec__v1__registered__init(&ok);
	ok.heartbeat_ms = (uint32_t)c->cfg.heartbeat;
	ok.has_poll_hold_ms = 1;
	ok.poll_hold_ms = (uint32_t)c->cfg.poll_hold;
	ok.has_cursor = 1;
	ok.cursor = n->acked;
	env.body_case = OSPEC__V1__ENVELOPE__BODY_REGISTERED;
	env.registered = &ok;
	coord_agents_send_env(x, &env);
}

/* coord_reg_now records node n at once (one synced commit) and answers. */
static void coord_reg_now(coord *c, coord_ctx *x, coord_pipe *p, coord_node *n, bool is_new,
	const osp_env *e)
{
	osp_txn *t = NULL;
	osp_err rv;

	if ((rv = coord_reg_facts(n, is_new, e)) == OSP_OK &&
		(rv = osp_store_txn_begin(c->store, true, &t)) == OSP_OK) {
		if ((rv = coord_reg_record(c, t, n, is_new, e->register_->cursor, true)) != OSP_OK)
			osp_store_txn_abort(t);
		else
			rv = coord_db_commit(c, t, "node");
	}
	if (rv != OSP_OK) {
		if (is_new)
			coord_node_remove(c, n);
		coord_agents_send_error(x, OSPEC__V1__ERROR_CODE__ERR_INTERNAL,
			"cannot record the node");
		return;
	}
	p->has_nonce = false; /* one register per nonce */
	coord_reg_answer(c, x, p, n, e->register_, e->register_->cursor);
}

/* coord_reg_facts_free frees a register's facts (NULL is fine). */
static void coord_reg_facts_free(coord_node *f)
{
	if (f == NULL)
		return;
	osp_labels_fini(&f->labels);
	coord_node_set_apps(f, NULL, 0);
	free(f);
}

/* coord_reg_staged fills *tmp with node n as the group records it: n with
 * the facts f of its register (tmp borrows f's labels and apps). */
static void coord_reg_staged(const coord_node *n, const coord_node *f, uint64_t cursor,
	coord_node *tmp)
{
	*tmp = *n;
	tmp->labels = f->labels;
	osp_strlcpy(tmp->hostname, f->hostname, sizeof(tmp->hostname));
	osp_strlcpy(tmp->agent_version, f->agent_version, sizeof(tmp->agent_version));
	tmp->proto_minor = f->proto_minor;
	tmp->apps = f->apps;
	tmp->n_apps = f->n_apps;
	/* the log may have grown since the register arrived */
	if (cursor > tmp->log_end)
		tmp->log_end = cursor;
	tmp->acked = cursor;
	tmp->last_seen_wall = f->last_seen_wall;
}

/* coord_reg_take moves the facts of w's register into node n (after the
 * commit that recorded them); w->facts is then empty. */
static void coord_reg_take(coord_node *n, coord_reg_wait *w)
{
	coord_node *f = w->facts, tmp;

	coord_reg_staged(n, f, w->cursor, &tmp);
	if (w->cursor > n->log_end)
		/* the agent executed more than this store knows (a restored
		 * backup?): new commands must come after its cursor */
		OSP_WARN("COORD-CURSOR-AHEAD", "node '%s' reports cursor %llu past log end %llu",
			n->id, (unsigned long long)w->cursor, (unsigned long long)n->log_end);
	osp_labels_fini(&n->labels);
	coord_node_set_apps(n, NULL, 0);
	*n = tmp; /* n's links (next, held, pipe...) were copied with it */
	memset(&f->labels, 0, sizeof(f->labels));
	f->apps = NULL;
	f->n_apps = 0;
}

/* coord_reg_adopt adds the new node w recorded (w->facts, then no longer
 * w's) to memory after the commit; a register of the same node earlier in
 * the group added it already: w's facts are taken into it. Returns the node,
 * NULL if it is not in memory (another instance, or no memory). */
static coord_node *coord_reg_adopt(coord *c, coord_reg_wait *w)
{
	coord_node *n = coord_node_find(c, w->id);

	if (n == NULL) {
		if (!coord_node_link(c, w->facts))
			return NULL; /* not after coord_node_reserve */
		n = w->facts;
		w->facts = NULL; /* memory's now */
		return n;
	}
	if (strcmp(n->uuid, w->uuid) != 0)
		return NULL;
	coord_reg_take(n, w);
	return n;
}

/* coord_reg_done answers one waiting request of a group commit that ended
 * with rv (n NULL: its node was forgotten meanwhile, or fresh: w recorded
 * it as new); w's copies are freed. */
static void coord_reg_done(coord *c, coord_reg_wait *w, coord_node *n, bool fresh, osp_err rv)
{
	coord_pipe *p = coord_pipe_get(c, w->pipe, false);
	coord_ctx *x = w->x;

	x->state = COORD_CTX_RECV;
	c->nregwait--;
	/* durable now, whoever is still there to hear it */
	if (rv == OSP_OK && fresh)
		n = coord_reg_adopt(c, w);
	else if (rv == OSP_OK && n != NULL && w->facts != NULL)
		coord_reg_take(n, w);
	if (p == NULL || p->closing) {
		/* nobody to answer; the context receives again (once: a second
		 * re-arm below would start a receive on a busy aio) */
	} else if (rv != OSP_OK || n == NULL) {
		coord_agents_send_error(x, OSPEC__V1__ERROR_CODE__ERR_INTERNAL,
			rv == OSP_OK ? "node forgotten meanwhile"
			: w->result != NULL ? "result not recorded, send it again"
					    : "cannot record the node");
	} else if (w->result != NULL) {
		coord_agents_ack(x, w->result->seq);
	} else {
		coord_reg_answer(c, x, p, n, NULL, w->cursor);
	}
	coord_agents_rearm(c, x); /* when no reply could be made */
	coord_reg_facts_free(w->facts);
	w->facts = NULL;
	if (w->result != NULL)
		ospec__v1__command_result__free_unpacked(w->result, NULL);
	w->result = NULL;
}

/* coord_reg_write writes waiting request w of node n into t: a register's
 * record (with its facts: up says whether node.up is due; fresh: a new
 * node's, n is NULL), or a result's engine step (*d). */
static osp_err coord_reg_write(coord *c, osp_txn *t, coord_reg_wait *w, coord_node *n,
	bool fresh, bool up, coord_result_done *d)
{
	coord_node tmp;

	*d = (coord_result_done){ .staging = SIZE_MAX };
	if (w->result != NULL)
		return coord_engine_result_in(c, t, n, w->result, d);
	if (fresh)
		return coord_reg_record(c, t, w->facts, true, w->cursor, up);
	coord_reg_staged(n, w->facts, w->cursor, &tmp);
	return coord_reg_record(c, t, &tmp, false, w->cursor, up);
}

void coord_register_flush(coord *c)
{
	size_t n = c->nregs, nfresh = 0;
	bool engine = false;
	osp_txn *t = NULL;
	osp_err rv;

	if (n == 0)
		return;
	rv = osp_store_txn_begin(c->store, true, &t);
	c->reg_groups++;
	c->ro_defer_save = true;
	for (size_t i = 0; i < n; i++) {
		coord_reg_wait *w = &c->regs[i];
		bool first = true;

		/* by id: a node forgotten meanwhile is not written back; a new
		 * one is written from its facts unless another register of it
		 * made it known meanwhile (coord_reg_now) */
		w->node = coord_node_find(c, w->id);
		w->fresh = w->node == NULL && w->is_new;
		if (w->node != NULL && strcmp(w->node->uuid, w->uuid) != 0)
			w->node = NULL;
		nfresh += w->fresh;
		/* node.up once per node and group: a known node is marked with
		 * the group (a group is up to COORD_REG_GROUP_MAX long), a new
		 * one is looked for among the few new ones before it */
		if (w->result == NULL && w->node != NULL) {
			first = w->node->reg_group != c->reg_groups;
			w->node->reg_group = c->reg_groups;
		}
		for (size_t j = 0; j < i && first && w->result == NULL && w->fresh; j++)
			first = !c->regs[j].fresh || strcmp(c->regs[j].id, w->id) != 0;
		w->done = (coord_result_done){ .staging = SIZE_MAX };
		/* a result applied to the engine (memory reloads if it fails) */
		engine = engine || (w->result != NULL && rv == OSP_OK && w->node != NULL);
		if (rv == OSP_OK && (w->node != NULL || w->fresh))
			rv = coord_reg_write(c, t, w, w->node, w->fresh, first, &w->done);
	}
	c->ro_defer_save = false;
	/* room for the new nodes before the commit: after it, adding them
	 * cannot fail */
	if (rv == OSP_OK && nfresh > 0 && !coord_node_reserve(c, nfresh))
		rv = OSP_ENOMEM;
	if (rv == OSP_OK && engine)
		rv = coord_active_save_due(c, t, NULL);
	/* tests: results applied, not committed, none acknowledged yet */
	if (rv == OSP_OK && engine)
		osp_fault_point("coordinator-before-result-commit");
	if (rv == OSP_OK)
		rv = coord_db_commit(c, t, "nodes and results");
	else if (t != NULL)
		osp_store_txn_abort(t);
	/* results moved the engine on in memory: back to what is durable */
	if (rv != OSP_OK && engine)
		coord_active_reload(c);
	for (size_t i = 0; i < n && rv == OSP_OK; i++)
		coord_engine_result_done(c, &c->regs[i].done);
	c->nregs = c->nregs_reg = c->nregs_new = 0;
	for (size_t i = 0; i < n; i++)
		coord_reg_done(c, &c->regs[i], c->regs[i].node, c->regs[i].fresh, rv);
	/* the commands that follow from the results go out now, after the
	 * commit (and what earlier changes committed, after a reload) */
	if (engine && rv == OSP_OK)
		coord_active_reap(c);
	else if (engine)
		coord_active_kick(c);
}

/* coord_reg_flush_cb ends a group's wait. */
static void coord_reg_flush_cb(void *arg)
{
	coord *c = arg;

	pthread_mutex_lock(&c->mtx);
	/* NULL: coord_register_stop took it (and cancels this wait) */
	if (c->reg_flush != NULL && nng_aio_result(c->reg_flush) == 0) {
		c->reg_armed = false;
		if (!atomic_load(&c->stopping))
			coord_register_flush(c);
	}
	pthread_mutex_unlock(&c->mtx);
}

/* coord_reg_wait_add takes x's request for node n into the group (flushed
 * first if full) and arms its wait; the caller fills in what it carries. */
static coord_reg_wait *coord_reg_wait_add(coord *c, coord_ctx *x, coord_pipe *p,
	const coord_node *n)
{
	coord_reg_wait *w;

	if (c->nregs == COORD_REG_GROUP_MAX)
		coord_register_flush(c);
	w = &c->regs[c->nregs++];
	memset(w, 0, sizeof(*w));
	w->x = x;
	w->pipe = p->id;
	osp_strlcpy(w->id, n->id, sizeof(w->id));
	osp_strlcpy(w->uuid, n->uuid, sizeof(w->uuid));
	x->state = COORD_CTX_REGWAIT;
	c->nregwait++;
	if (!c->reg_armed && c->reg_flush != NULL) {
		c->reg_armed = true;
		nng_sleep_aio(COORD_REG_GROUP_MS, c->reg_flush);
	}
	return w;
}

/* coord_reg_later takes the register of node n (NULL: a new node) into the
 * group commit; x waits (COORD_CTX_REGWAIT) until coord_register_flush
 * answers it. What the register says about n is kept aside (w->facts; a new
 * node's whole node) until the commit. */
static void coord_reg_later(coord *c, coord_ctx *x, coord_pipe *p, coord_node *n,
	const osp_env *e)
{
	coord_node *f = coord_node_alloc(e->node_id, e->instance_uuid);
	coord_reg_wait *w;

	if (f != NULL && n != NULL)
		f->log_end = UINT64_MAX; /* the cursor is checked at the commit */
	if (f == NULL || coord_reg_facts(f, n == NULL, e) != OSP_OK) {
		coord_reg_facts_free(f);
		coord_agents_send_error(x, OSPEC__V1__ERROR_CODE__ERR_INTERNAL,
			"cannot record the node");
		return;
	}
	p->has_nonce = false; /* one register per nonce, already now */
	/* their places are wanted; flushed before x joins, never with it: x
	 * is inside its own request's callback, which must not see it answered
	 * and received again (coord_reg_done) */
	if (c->nregs_reg + 1 >= COORD_UNREG_MAX ||
		(n == NULL && c->nregs_new >= COORD_REG_NEW_MAX))
		coord_register_flush(c);
	w = coord_reg_wait_add(c, x, p, f);
	w->facts = f;
	w->is_new = n == NULL;
	c->nregs_reg++;
	c->nregs_new += w->is_new;
	w->cursor = e->register_->cursor;
}

void coord_register_result(coord *c, coord_ctx *x, coord_pipe *p, coord_node *n,
	const Ospec__V1__CommandResult *r)
{
	size_t len = ospec__v1__command_result__get_packed_size(r);
	uint8_t *buf = malloc(len ? len : 1);
	Ospec__V1__CommandResult *copy = NULL;

	/* a deep copy: r belongs to the request, freed when this returns */
	if (buf != NULL) {
		ospec__v1__command_result__pack(r, buf);
		copy = ospec__v1__command_result__unpack(NULL, len, buf);
		free(buf);
	}
	if (copy == NULL) {
		coord_agents_send_error(x, OSPEC__V1__ERROR_CODE__ERR_INTERNAL,
			"result not recorded, send it again");
		return;
	}
	coord_reg_wait_add(c, x, p, n)->result = copy;
}

bool coord_register_pending(const coord *c, const coord_node *n)
{
	for (size_t i = 0; i < c->nregs; i++)
		if (strcmp(c->regs[i].id, n->id) == 0)
			return true;
	return false;
}

/* coord_reg_pending_new is the instance of new node id whose register waits
 * for the group commit, NULL if none. */
static const char *coord_reg_pending_new(const coord *c, const char *id)
{
	for (size_t i = 0; i < c->nregs; i++)
		if (c->regs[i].is_new && strcmp(c->regs[i].id, id) == 0)
			return c->regs[i].uuid;
	return NULL;
}

/* coord_reg_proof_ok verifies a register's certificate chain and signature
 * (TLS listeners); why says what is wrong. */
static bool coord_reg_proof_ok(coord *c, const osp_env *e, char *why, size_t len)
{
	const Ospec__V1__Register *r = e->register_;
	char err[400];

	if (!r->has_cert_chain_pem || r->cert_chain_pem.len == 0 || !r->has_signature ||
		r->signature.len == 0) {
		snprintf(why, len, "register without a certificate proof (the coordinator requires one)");
		return false;
	}
	if (osp_tls_verify_register(c->cfg.tls_ca, r->cert_chain_pem.data, r->cert_chain_pem.len,
		    r->signature.data, r->signature.len, r->nonce.data, r->nonce.len, e->node_id,
		    e->instance_uuid, err, sizeof(err)) != OSP_OK) {
		snprintf(why, len, "identity proof refused: %s", err);
		return false;
	}
	return true;
}

void coord_register_handle(coord *c, coord_ctx *x, coord_pipe *p, const osp_env *e)
{
	const Ospec__V1__Register *r = e->register_;
	const char *known;
	coord_node *n;
	char why[512];
	bool is_new;

	if (!p->has_nonce || memcmp(r->nonce.data, p->nonce, sizeof(p->nonce)) != 0) {
		coord_reg_refuse(c, x, p, COORD_RL_REFUSED_NONCE, e->node_id ? e->node_id : "?",
			"register without the nonce of this connection");
		return;
	}
	if (e->node_id == NULL || !osp_valid_id(e->node_id) || e->instance_uuid == NULL ||
		strlen(e->instance_uuid) != OSP_UUID_LEN) {
		coord_reg_refuse(c, x, p, COORD_RL_REFUSED_ID, "?",
			"register without a valid node id and instance uuid");
		return;
	}
	/* the proof comes before anything about the named node is looked at or
	 * said: an impostor learns nothing and changes nothing */
	if (osp_tls_url_is_tls(c->cfg.listen) && !coord_reg_proof_ok(c, e, why, sizeof(why))) {
		coord_reg_refuse(c, x, p, COORD_RL_REFUSED_PROOF, e->node_id, why);
		return;
	}
	n = coord_node_find(c, e->node_id);
	/* a new node waiting for its commit is known as well */
	known = n != NULL ? n->uuid : coord_reg_pending_new(c, e->node_id);
	if (known != NULL && strcmp(known, e->instance_uuid) != 0) {
		snprintf(why, sizeof(why),
			"node '%s' is known with instance %s, not %s: a second agent with the "
			"same id is refused (if the host was reinstalled, run 'ospecctl forget %s')",
			e->node_id, known, e->instance_uuid, e->node_id);
		coord_reg_refuse(c, x, p, COORD_RL_REFUSED_INSTANCE, e->node_id, why);
		return;
	}
	is_new = n == NULL;
	if (r->n_in_doubt == 0) {
		coord_reg_later(c, x, p, n, e);
		return;
	}
	if (is_new && (n = coord_node_add(c, e->node_id, e->instance_uuid)) == NULL) {
		coord_agents_send_error(x, OSPEC__V1__ERROR_CODE__ERR_INTERNAL, "out of memory");
		return;
	}
	/* in-doubt switches (decided from r): at once */
	coord_reg_now(c, x, p, n, is_new, e);
}

osp_err coord_register_start(coord *c)
{
	int rv;

	if ((c->regs = calloc(COORD_REG_GROUP_MAX, sizeof(*c->regs))) == NULL)
		return OSP_ENOMEM;
	if ((rv = nng_aio_alloc(&c->reg_flush, coord_reg_flush_cb, c)) != 0)
		return osp_nng_err(rv);
	return OSP_OK;
}

void coord_register_stop(coord *c)
{
	nng_aio *aio;

	/* c->stopping is set: a group waiting is dropped with its contexts.
	 * The timer is taken under the lock: a request callback that began
	 * before c->stopping was set may be arming it (coord_reg_wait_add);
	 * stopped and freed without the lock, it was armed after its free
	 * (it_ha: SIGSEGV at SIGTERM). Stopped without the lock: its own
	 * callback takes it. */
	pthread_mutex_lock(&c->mtx);
	aio = c->reg_flush;
	c->reg_flush = NULL;
	pthread_mutex_unlock(&c->mtx);
	if (aio != NULL) {
		nng_aio_stop(aio);
		nng_aio_free(aio);
	}
	/* under the lock: a request callback still running (a heartbeat that
	 * flushes the group) may be inside coord_register_flush, whose
	 * coord_reg_done moves a wait's facts into a node; freed beside it, a
	 * node kept pointers into freed memory (it_ha: SIGSEGV at SIGTERM) */
	pthread_mutex_lock(&c->mtx);
	for (size_t i = 0; c->regs != NULL && i < c->nregs; i++) {
		coord_reg_facts_free(c->regs[i].facts);
		if (c->regs[i].result != NULL)
			ospec__v1__command_result__free_unpacked(c->regs[i].result, NULL);
	}
	free(c->regs);
	c->regs = NULL;
	c->nregs = c->nregwait = c->nregs_reg = c->nregs_new = 0;
	c->reg_armed = false;
	pthread_mutex_unlock(&c->mtx);
}
