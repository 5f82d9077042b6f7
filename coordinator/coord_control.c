/*
 * coord_control.c - the control API for ospecctl: nng rep0 on the control
 * URL (ipc:// with mode 0600: file permissions are the access control, the
 * peer uid is the actor). One thread serves it; every request is short.
 * Mutating requests carry a request id; the reply is stored with the change
 * in one transaction, and a repeated id gets the stored reply. With
 * --control-tls the same socket also listens on tls+tcp://; a request from
 * there must be signed by an operator certificate (coord_control_tls.c).
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/transport/ipc/ipc.h>

#include "coord.h"
#include "coord_backup.h"
#include "coord_control.h"
#include "coord_control_tls.h"
#include "coord_ctl_ipc.h"
#include "coord_active.h"
#include "ospec/v1/control.pb-c.h"

/*
 * The control server: one thread receives and runs requests in turn (every
 * verb is short), each on one of COORD_CTL_SLOTS nng contexts, and hands the
 * reply to nng without waiting for it to leave. A connection that does not
 * read its replies (a pipelining peer, a stuck one) ties up at most
 * COORD_CTL_PIPE_INFLIGHT contexts; past that, or when a reply waited
 * COORD_SEND_TIMEOUT_MS for it, the connection is closed. Everyone else is
 * served meanwhile.
 */
#define COORD_CTL_SLOTS 16
#define COORD_CTL_PIPE_INFLIGHT 4
#define COORD_CTL_WAIT_MS 250 /* how often the thread looks at c->stopping */

typedef struct coord_ctl_srv coord_ctl_srv;

typedef struct coord_ctl_slot {
	coord_ctl_srv *srv;
	nng_ctx ctx;
	nng_aio *aio;  /* the reply's send */
	uint32_t pipe; /* connection whose reply is being sent, 0: free */
	bool open;
} coord_ctl_slot;

struct coord_ctl_srv {
	coord *c;
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	nng_aio *raio; /* receives, on the free slot's context */
	coord_ratelog rl;         /* COORD-CTL-STUCK */
	coord_ratelog rl_refused; /* COORD-CTL-REFUSED */
	coord_ctl_slot slot[COORD_CTL_SLOTS];
	uint32_t to_close[COORD_CTL_SLOTS]; /* closed by the thread, never by a callback */
	size_t nclose;
};

const char *coord_ctl_arg(const coord_ctl_req *rq, const char *key)
{
	for (size_t i = 0; i < rq->msg->n_args; i++)
		if (strcmp(rq->msg->args[i]->key, key) == 0)
			return rq->msg->args[i]->value;
	return NULL;
}

static const coord_verb coord_verbs[] = {
	{ "nodes", false, coord_verb_nodes },
	{ "cordon", true, coord_verb_cordon },
	{ "uncordon", true, coord_verb_uncordon },
	{ "forget", true, coord_verb_forget },
	{ "stats", false, coord_verb_stats },
	{ "backup", true, coord_verb_backup, .nolock = true }, /* coord_backup.c */
	{ "logs", false, coord_verb_logs }, /* coord_logs.c: answered later */
	COORD_ROLLOUT_VERBS
};

static const coord_verb *coord_control_find(const char *name)
{
	for (size_t i = 0; i < sizeof(coord_verbs) / sizeof(coord_verbs[0]); i++)
		if (strcmp(coord_verbs[i].name, name) == 0)
			return &coord_verbs[i];
	return NULL;
}

nng_msg *coord_control_pack(const Ospec__V1__CtlReply *r)
{
	nng_msg *m = NULL;

	if (nng_msg_alloc(&m, ospec__v1__ctl_reply__get_packed_size(r)) != 0)
		return NULL;
	ospec__v1__ctl_reply__pack(r, nng_msg_body(m));
	return m;
}

/* coord_control_reply builds a CtlReply message. */
static nng_msg *coord_control_reply(uint32_t status, const char *error, const char *json)
{
	Ospec__V1__CtlReply r;

	if (status != 0 && (error == NULL || error[0] == '\0')) {
		/* every path: deferred and lock-free verbs too */
		OSP_ERROR("COORD-CTL-NOREASON", "a control reply with status %u had no reason",
			status);
		error = "failed without a reason (a coordinator defect: see its log)";
	}
	ospec__v1__ctl_reply__init(&r);
	r.status = status;
	r.error = (char *)error;
	r.json = (char *)json;
	return coord_control_pack(&r);
}

/* coord_control_dedup returns the stored reply of a repeated request id. */
static nng_msg *coord_control_dedup(coord *c, const char *rid)
{
	osp_txn *t = NULL;
	nng_msg *m = NULL;
	Ospec__V1__RequestRecord *r = NULL;

	if (rid == NULL || rid[0] == '\0' || osp_store_txn_begin(c->store, false, &t) != OSP_OK)
		return NULL;
	if (coord_ro_rec_request_get(t, rid, &r) == OSP_OK) {
		m = coord_control_reply(r->status, r->error, r->json);
		ospec__v1__request_record__free_unpacked(r, NULL);
	}
	osp_store_txn_abort(t);
	return m;
}

/* coord_control_finish commits a mutating verb's transaction (with its
 * request record) when it succeeded, or aborts it. Memory follows the store:
 * on_abort runs whenever nothing was committed, after_commit only after a
 * successful commit. Returns the final status. */
static int coord_control_finish(coord *c, const coord_verb *v, coord_ctl_req *rq, int status,
	osp_buf *json, char *err, size_t errlen)
{
	const char *rid = rq->msg->request_id;
	osp_err rv = OSP_OK;

	if (status == 0 && !rq->discard && rid != NULL && rid[0] != '\0')
		rv = coord_ro_rec_request_put(rq->txn, rid, (uint32_t)status, NULL, json->data);
	if (status == 0 && rv == OSP_OK && !rq->discard) {
		rv = coord_db_commit(c, rq->txn, v->name); /* frees the txn either way */
		rq->txn = NULL;
		if (rv == OSP_OK) {
			if (rq->after_commit != NULL)
				rq->after_commit(c, rq);
			return 0;
		}
		status = 1;
		snprintf(err, errlen, "cannot save the change: %s", osp_strerror(rv));
	} else {
		osp_store_txn_abort(rq->txn);
		rq->txn = NULL;
		if (status == 0 && rv != OSP_OK) {
			status = 1;
			snprintf(err, errlen, "cannot save the change: %s", osp_strerror(rv));
		}
	}
	/* nothing was committed: what the verb changed in memory goes too */
	if (rq->on_abort != NULL)
		rq->on_abort(c, rq);
	return status;
}

int coord_control_exec(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen)
{
	const coord_verb *v = coord_control_find(rq->msg->verb);
	int status;
	osp_err rv;
	double t0 = coord_metrics_mono_s(); /* the wait for the lock counts */

	if (v == NULL) {
		snprintf(err, errlen, "unknown verb");
		return 2;
	}
	pthread_mutex_lock(&c->mtx);
	if (v->mutates && (rv = osp_store_txn_begin(c->store, true, &rq->txn)) != OSP_OK) {
		pthread_mutex_unlock(&c->mtx);
		snprintf(err, errlen, "coordinator store unavailable");
		return 1;
	}
	status = v->fn(c, rq, json, err, errlen);
	if (status == COORD_CTL_DEFERRED) {
		/* the verb answers later (coord_control_deferred); it changed
		 * nothing durable, so there is no transaction to finish */
		rq->deferred = true;
	} else if (rq->txn != NULL) {
		status = coord_control_finish(c, v, rq, status, json, err, errlen);
	}
	coord_metrics_ctl(c, coord_metrics_mono_s() - t0);
	pthread_mutex_unlock(&c->mtx);
	if (status != 0 && status != COORD_CTL_DEFERRED && err[0] == '\0') {
		/* a failure the operator cannot read is a defect: say where */
		OSP_ERROR("COORD-CTL-NOREASON", "verb '%s' failed (status %d) without a reason",
			v->name, status);
		snprintf(err, errlen, "'%s' failed without a reason (a coordinator defect: see "
				      "its log)", v->name);
	}
	return status;
}

/* coord_control_run runs one verb (coord_control_exec) and makes its reply;
 * NULL when the verb answers later. */
static nng_msg *coord_control_run(coord *c, coord_ctl_req *rq)
{
	osp_buf json;
	char err[1024] = "";
	int status;
	nng_msg *m = NULL;

	osp_buf_init(&json, 16 * 1024 * 1024);
	status = coord_control_exec(c, rq, &json, err, sizeof(err));
	if (!rq->deferred)
		m = coord_control_reply((uint32_t)status, status ? err : NULL,
			json.data ? json.data : (status ? NULL : "{}"));
	osp_buf_fini(&json);
	return m;
}

/* coord_control_run_nolock runs a verb with nolock set: no coord.mtx while
 * it runs (it takes what it needs itself), no transaction, no request
 * record (a repeat runs again). */
static nng_msg *coord_control_run_nolock(coord *c, const coord_verb *v, coord_ctl_req *rq)
{
	osp_buf json;
	char err[1024] = "";
	int status;
	nng_msg *m;
	double t0 = coord_metrics_mono_s();

	osp_buf_init(&json, 64 * 1024);
	status = v->fn(c, rq, &json, err, sizeof(err));
	pthread_mutex_lock(&c->mtx);
	coord_metrics_ctl(c, coord_metrics_mono_s() - t0);
	pthread_mutex_unlock(&c->mtx);
	m = coord_control_reply((uint32_t)status, status ? err : NULL,
		json.data ? json.data : (status ? NULL : "{}"));
	osp_buf_fini(&json);
	return m;
}

/* coord_control_over_tls reports whether np came through the TLS listener. */
static bool coord_control_over_tls(coord *c, nng_pipe np)
{
	return c->ctl_tls_on &&
		nng_listener_id(nng_pipe_listener(np)) == nng_listener_id(c->ctl_tls_listener);
}

/* coord_control_refused logs a refused request over TLS whose signer is not
 * proven, at most once per COORD_LOG_EVERY_MS (anyone with a certificate
 * from the CA can send many). */
static void coord_control_refused(coord_ctl_srv *srv, const char *why)
{
	uint64_t held = 0;

	if (coord_ratelog_due(&srv->rl_refused, osp_now_mono_ms(), &held))
		OSP_WARN("COORD-CTL-REFUSED", "control request over TLS refused: %s (%llu more "
			"refusals since the last report)", why, (unsigned long long)held);
}

/* coord_control_handle runs one request; NULL with *deferred when its verb
 * answers later on slot sl, NULL alone when no reply could be made. */
static nng_msg *coord_control_handle(coord_ctl_srv *srv, nng_msg *req, coord_ctl_slot *sl,
	bool *deferred)
{
	coord *c = srv->c;
	Ospec__V1__CtlRequest *msg;
	coord_ctl_req rq = { 0 };
	const coord_verb *v;
	nng_pipe np = nng_msg_get_pipe(req);
	uint64_t uid = 0;
	bool tls = coord_control_over_tls(c, np), viewer = false;
	char why[600];
	nng_msg *m;

	msg = ospec__v1__ctl_request__unpack(NULL, nng_msg_len(req), nng_msg_body(req));
	if (msg == NULL)
		return coord_control_reply(2, "undecodable control request", NULL);
	if (msg->version_major != 1) {
		m = coord_control_reply(2, "unsupported control protocol version", NULL);
		goto out;
	}
	/* over TLS nothing runs before the signer is proven (coord_control_tls.c) */
	if (tls && !coord_control_auth(c, msg, rq.actor, sizeof(rq.actor), &viewer, why,
			   sizeof(why))) {
		coord_control_refused(srv, why);
		m = coord_control_reply(1, why, NULL);
		goto out;
	}
	if ((v = coord_control_find(msg->verb)) == NULL) {
		m = coord_control_reply(2, "unknown verb", NULL);
		goto out;
	}
	if (viewer && v->mutates) {
		snprintf(why, sizeof(why), "role 'viewer' may not run '%s'", v->name);
		OSP_WARN("COORD-CTL-REFUSED", "%s refused: %s", rq.actor, why);
		m = coord_control_reply(1, why, NULL);
		goto out;
	}
	/* over TLS the actor is "cert:<CN>" already */
	if (!tls && nng_pipe_get_uint64(np, NNG_OPT_IPC_PEER_UID, &uid) == 0)
		snprintf(rq.actor, sizeof(rq.actor), "uid:%llu", (unsigned long long)uid);
	else if (!tls)
		osp_strlcpy(rq.actor, "control", sizeof(rq.actor));
	rq.msg = msg;
	if (v->nolock) {
		m = coord_control_run_nolock(c, v, &rq);
		goto out;
	}
	if (v->mutates && (m = coord_control_dedup(c, msg->request_id)) != NULL)
		goto out;
	rq.defer = sl;
	m = coord_control_run(c, &rq);
	*deferred = rq.deferred;
	if (rq.cleanup != NULL)
		rq.cleanup(&rq);
out:
	ospec__v1__ctl_request__free_unpacked(msg, NULL);
	return m;
}

/* coord_control_stuck has connection pipe, which does not read its
 * replies, closed by the control thread (coord_control_close_stuck); logged
 * once per COORD_LOG_EVERY_MS. Caller holds srv->mtx. */
static void coord_control_stuck(coord_ctl_srv *srv, uint32_t pipe, const char *why)
{
	uint64_t held = 0;

	if (coord_ratelog_due(&srv->rl, osp_now_mono_ms(), &held))
		OSP_WARN("COORD-CTL-STUCK", "control connection %u closed: %s (%llu more closed "
			"like it since the last report)", pipe, why, (unsigned long long)held);
	for (size_t i = 0; i < srv->nclose; i++)
		if (srv->to_close[i] == pipe)
			return;
	if (srv->nclose < COORD_CTL_SLOTS)
		srv->to_close[srv->nclose++] = pipe;
}

/* coord_control_close_stuck closes what coord_control_stuck noted. */
static void coord_control_close_stuck(coord_ctl_srv *srv)
{
	uint32_t ids[COORD_CTL_SLOTS];
	size_t n;

	pthread_mutex_lock(&srv->mtx);
	n = srv->nclose;
	memcpy(ids, srv->to_close, n * sizeof(ids[0]));
	srv->nclose = 0;
	/* its replies still queued in nng give their slots back at once */
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < COORD_CTL_SLOTS; k++)
			if (srv->slot[k].pipe == ids[i])
				nng_aio_cancel(srv->slot[k].aio);
	pthread_mutex_unlock(&srv->mtx);
	for (size_t i = 0; i < n; i++)
		coord_conn_close(ids[i]);
}

static void coord_control_sent_cb(void *arg)
{
	coord_ctl_slot *sl = arg;
	coord_ctl_srv *srv = sl->srv;
	int rv = nng_aio_result(sl->aio);
	uint32_t pipe;

	if (rv != 0) {
		nng_msg_free(nng_aio_get_msg(sl->aio)); /* not sent: still ours */
		nng_aio_set_msg(sl->aio, NULL);
	}
	pthread_mutex_lock(&srv->mtx);
	pipe = sl->pipe;
	sl->pipe = 0;
	if (rv == NNG_ETIMEDOUT)
		coord_control_stuck(srv, pipe, "a reply waited too long for it to read");
	pthread_cond_signal(&srv->cv);
	pthread_mutex_unlock(&srv->mtx);
}

/* coord_control_slot_free gives sl back (no reply is sent on it). */
static void coord_control_slot_free(coord_ctl_slot *sl)
{
	coord_ctl_srv *srv = sl->srv;

	pthread_mutex_lock(&srv->mtx);
	sl->pipe = 0;
	pthread_cond_signal(&srv->cv);
	pthread_mutex_unlock(&srv->mtx);
}

void coord_control_deferred(void *defer, uint32_t status, const char *error, const char *json)
{
	coord_ctl_slot *sl = defer;
	nng_msg *m;

	if (sl == NULL)
		return;
	m = coord_control_reply(status, status ? error : NULL, json ? json : (status ? NULL : "{}"));
	if (m == NULL) {
		/* no memory for the reply: the client's own timeout tells */
		coord_control_slot_free(sl);
		return;
	}
	nng_aio_set_msg(sl->aio, m);
	nng_aio_set_timeout(sl->aio, COORD_SEND_TIMEOUT_MS);
	nng_ctx_send(sl->ctx, sl->aio);
}

/* coord_control_free_slot waits up to COORD_CTL_WAIT_MS for a slot whose
 * reply has left; NULL if none. */
static coord_ctl_slot *coord_control_free_slot(coord_ctl_srv *srv)
{
	coord_ctl_slot *free_sl = NULL;
	struct timespec until;
	int64_t end = osp_now_wall_ms() + COORD_CTL_WAIT_MS;

	until.tv_sec = end / 1000;
	until.tv_nsec = (end % 1000) * 1000000;
	pthread_mutex_lock(&srv->mtx);
	for (;;) {
		for (size_t i = 0; i < COORD_CTL_SLOTS && free_sl == NULL; i++)
			if (srv->slot[i].pipe == 0)
				free_sl = &srv->slot[i];
		if (free_sl != NULL || pthread_cond_timedwait(&srv->cv, &srv->mtx, &until) != 0)
			break;
	}
	pthread_mutex_unlock(&srv->mtx);
	return free_sl;
}

/* coord_control_busy counts the replies of connection pipe still waiting. */
static unsigned coord_control_busy(coord_ctl_srv *srv, uint32_t pipe)
{
	unsigned busy = 0;

	pthread_mutex_lock(&srv->mtx);
	for (size_t i = 0; i < COORD_CTL_SLOTS; i++)
		busy += srv->slot[i].pipe == pipe;
	pthread_mutex_unlock(&srv->mtx);
	return busy;
}

/* coord_control_flush reports the log lines held back, once a period. */
static void coord_control_flush(coord_ctl_srv *srv)
{
	int64_t now = osp_now_mono_ms();

	pthread_mutex_lock(&srv->mtx);
	coord_ratelog_flush(&srv->rl, now, "COORD-CTL-STUCK",
		"control connections closed: their replies were not read");
	pthread_mutex_unlock(&srv->mtx);
	coord_ratelog_flush(&srv->rl_refused, now, "COORD-CTL-REFUSED",
		"control requests over TLS refused");
}

/* coord_control_serve receives one request on a free slot, runs it and
 * starts sending the reply. false when the socket is closed. */
static bool coord_control_serve(coord_ctl_srv *srv)
{
	coord_ctl_slot *sl;
	nng_msg *req, *rep;
	uint32_t pipe;
	bool deferred = false;
	int rv;

	coord_control_close_stuck(srv);
	pthread_mutex_lock(&srv->c->mtx);
	coord_logs_tick(srv->c, osp_now_mono_ms()); /* log reads past their wait */
	pthread_mutex_unlock(&srv->c->mtx);
	if ((sl = coord_control_free_slot(srv)) == NULL)
		return true;
	nng_aio_set_timeout(srv->raio, COORD_CTL_WAIT_MS);
	nng_ctx_recv(sl->ctx, srv->raio);
	nng_aio_wait(srv->raio);
	coord_control_flush(srv);
	if ((rv = nng_aio_result(srv->raio)) == NNG_ETIMEDOUT)
		return true;
	if (rv != 0)
		return false;
	req = nng_aio_get_msg(srv->raio);
	nng_aio_set_msg(srv->raio, NULL);
	pipe = (uint32_t)nng_pipe_id(nng_msg_get_pipe(req));
	if (coord_control_busy(srv, pipe) >= COORD_CTL_PIPE_INFLIGHT) {
		nng_msg_free(req);
		pthread_mutex_lock(&srv->mtx);
		coord_control_stuck(srv, pipe, "too many requests unanswered (its replies are "
					       "not read)");
		pthread_mutex_unlock(&srv->mtx);
		coord_control_close_stuck(srv);
		return true;
	}
	/* the slot is busy from here: a deferred reply may even be sent
	 * before the handler returns */
	pthread_mutex_lock(&srv->mtx);
	sl->pipe = pipe;
	pthread_mutex_unlock(&srv->mtx);
	rep = coord_control_handle(srv, req, sl, &deferred);
	nng_msg_free(req);
	if (rep == NULL) {
		if (!deferred)
			coord_control_slot_free(sl);
		return true;
	}
	nng_aio_set_msg(sl->aio, rep);
	nng_aio_set_timeout(sl->aio, COORD_SEND_TIMEOUT_MS);
	nng_ctx_send(sl->ctx, sl->aio);
	return true;
}

/* coord_control_srv_fini stops every send (a reply still waiting is freed
 * by its callback) and frees the contexts. */
static void coord_control_srv_fini(coord_ctl_srv *srv)
{
	for (size_t i = 0; i < COORD_CTL_SLOTS; i++) {
		coord_ctl_slot *sl = &srv->slot[i];

		if (sl->aio != NULL)
			nng_aio_stop(sl->aio);
		if (sl->open)
			nng_ctx_close(sl->ctx);
		nng_aio_free(sl->aio);
	}
	nng_aio_free(srv->raio);
	pthread_cond_destroy(&srv->cv);
	pthread_mutex_destroy(&srv->mtx);
}

static osp_err coord_control_srv_init(coord_ctl_srv *srv, coord *c)
{
	int rv = 0;

	memset(srv, 0, sizeof(*srv));
	srv->c = c;
	pthread_mutex_init(&srv->mtx, NULL);
	pthread_cond_init(&srv->cv, NULL);
	if ((rv = nng_aio_alloc(&srv->raio, NULL, NULL)) != 0)
		return osp_nng_err(rv);
	for (size_t i = 0; i < COORD_CTL_SLOTS && rv == 0; i++) {
		coord_ctl_slot *sl = &srv->slot[i];

		sl->srv = srv;
		if ((rv = nng_aio_alloc(&sl->aio, coord_control_sent_cb, sl)) == 0 &&
			(rv = nng_ctx_open(&sl->ctx, c->ctl)) == 0)
			sl->open = true;
	}
	return rv == 0 ? OSP_OK : osp_nng_err(rv);
}

static void *coord_control_main(void *arg)
{
	coord *c = arg;
	coord_ctl_srv srv;

	if (coord_control_srv_init(&srv, c) != OSP_OK) {
		OSP_ERROR("COORD-CTL-START", "cannot set up the control contexts: out of memory");
		coord_control_srv_fini(&srv);
		return NULL;
	}
	while (!atomic_load(&c->stopping) && coord_control_serve(&srv))
		;
	/* log reads still waiting hold slots: forget them before the slots go */
	pthread_mutex_lock(&c->mtx);
	coord_logs_drop(c);
	pthread_mutex_unlock(&c->mtx);
	coord_control_srv_fini(&srv);
	return NULL;
}

/* coord_control_group opens the ipc socket to a group (0660): the socket file
 * is the access control, so the group's members become operators. */
static osp_err coord_control_group(coord *c, char *err, size_t errlen)
{
	const char *path = c->cfg.control + 6;
	struct group *g;

	if (c->cfg.control_group == NULL || c->cfg.control_group[0] == '\0' ||
		strncmp(c->cfg.control, "ipc://", 6) != 0)
		return OSP_OK;
	if ((g = getgrnam(c->cfg.control_group)) == NULL) {
		snprintf(err, errlen, "--control-group: no group '%s'", c->cfg.control_group);
		return OSP_ECONFIG;
	}
	if (chown(path, (uid_t)-1, g->gr_gid) != 0 || chmod(path, 0660) != 0) {
		snprintf(err, errlen, "--control-group: cannot give '%s' to group '%s': %s", path,
			c->cfg.control_group, strerror(errno));
		return OSP_EIO;
	}
	return OSP_OK;
}

/* coord_control_listen listens on --control (coord_ctl_listen), the socket
 * file recorded as c's (coord_ctl_ipc_release). */
static osp_err coord_control_listen(coord *c, char *err, size_t errlen)
{
	coord_ctl_ipc_file f;
	osp_err rv;

	c->ctl_ipc_owned = false;
	rv = coord_ctl_listen(c->ctl, c->cfg.control, &c->ctl_listener, &f, err, errlen);
	if (rv != OSP_OK)
		return rv;
	c->ctl_ipc_owned = f.owned;
	c->ctl_ipc_dev = f.dev;
	c->ctl_ipc_ino = f.ino;
	return OSP_OK;
}

osp_err coord_control_relisten(coord *c, char *err, size_t errlen)
{
	osp_err rv;

	nng_listener_close(c->ctl_listener);
	coord_ctl_ipc_release(c);
	if ((rv = coord_control_listen(c, err, errlen)) != OSP_OK)
		return rv;
	return coord_control_group(c, err, errlen);
}

osp_err coord_control_start(coord *c, char *err, size_t errlen)
{
	osp_err orv;
	int rv;

	if ((rv = nng_rep0_open(&c->ctl)) != 0) {
		snprintf(err, errlen, "cannot open the control socket: %s", nng_strerror(rv));
		return osp_nng_err(rv);
	}
	nng_socket_set_size(c->ctl, NNG_OPT_RECVMAXSZ, 1024 * 1024);
	nng_socket_set_ms(c->ctl, NNG_OPT_RECVTIMEO, 250);
	if ((orv = coord_control_listen(c, err, errlen)) != OSP_OK)
		return orv;
	if (coord_control_group(c, err, errlen) != OSP_OK)
		return OSP_ECONFIG;
	if (c->cfg.control_tls != NULL && coord_control_tls_start(c, err, errlen) != OSP_OK)
		return OSP_ECONFIG;
	if (pthread_create(&c->ctl_thread, NULL, coord_control_main, c) != 0) {
		snprintf(err, errlen, "cannot start the control thread");
		return OSP_EIO;
	}
	c->ctl_started = true;
	coord_ctl_watchdog_start(c);
	return OSP_OK;
}

void coord_control_stop(coord *c)
{
	coord_ctl_watchdog_stop(c);
	if (c->ctl_started)
		pthread_join(c->ctl_thread, NULL);
	c->ctl_started = false;
	nng_close(c->ctl);
	coord_control_tls_fini(c);
	coord_ctl_ipc_release(c); /* only the socket file this coordinator made */
}
