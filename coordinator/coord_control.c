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
#include "coord_control.h"
#include "coord_control_tls.h"
#include "ospec/v1/control.pb-c.h"

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
	COORD_ROLLOUT_VERBS
};

static const coord_verb *coord_control_find(const char *name)
{
	for (size_t i = 0; i < sizeof(coord_verbs) / sizeof(coord_verbs[0]); i++)
		if (strcmp(coord_verbs[i].name, name) == 0)
			return &coord_verbs[i];
	return NULL;
}

/* coord_control_reply builds a CtlReply message. */
static nng_msg *coord_control_reply(uint32_t status, const char *error, const char *json)
{
	Ospec__V1__CtlReply r;
	nng_msg *m = NULL;
	size_t len;

	ospec__v1__ctl_reply__init(&r);
	r.status = status;
	r.error = (char *)error;
	r.json = (char *)json;
	len = ospec__v1__ctl_reply__get_packed_size(&r);
	if (nng_msg_alloc(&m, len) != 0)
		return NULL;
	ospec__v1__ctl_reply__pack(&r, nng_msg_body(m));
	return m;
}

/* coord_control_dedup returns the stored reply of a repeated request id. */
static nng_msg *coord_control_dedup(coord *c, const char *rid)
{
	osp_txn *t = NULL;
	const void *v;
	size_t vl;
	nng_msg *m = NULL;
	Ospec__V1__RequestRecord *r;

	if (rid == NULL || rid[0] == '\0' || osp_store_txn_begin(c->store, false, &t) != OSP_OK)
		return NULL;
	if (osp_store_get(t, "requests", rid, strlen(rid), &v, &vl) == OSP_OK &&
		(r = ospec__v1__request_record__unpack(NULL, vl, v)) != NULL) {
		m = coord_control_reply(r->status, r->error, r->json);
		ospec__v1__request_record__free_unpacked(r, NULL);
	}
	osp_store_txn_abort(t);
	return m;
}

static osp_err coord_control_save_request(osp_txn *t, const char *rid, uint32_t status,
	const char *error, const char *json)
{
	Ospec__V1__RequestRecord r;
	uint8_t *buf;
	size_t len;
	osp_err rv;

	ospec__v1__request_record__init(&r);
	r.ts_ms = osp_now_wall_ms();
	r.status = status;
	r.error = (char *)error;
	r.json = (char *)json;
	len = ospec__v1__request_record__get_packed_size(&r);
	if ((buf = malloc(len)) == NULL)
		return OSP_ENOMEM;
	ospec__v1__request_record__pack(&r, buf);
	rv = osp_store_put(t, "requests", rid, strlen(rid), buf, len);
	free(buf);
	return rv;
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
		rv = coord_control_save_request(rq->txn, rid, (uint32_t)status, NULL, json->data);
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

/* coord_control_run runs one verb under the lock; mutating verbs get a write
 * transaction that is committed (with the request record) before replying. */
static nng_msg *coord_control_run(coord *c, const coord_verb *v, coord_ctl_req *rq)
{
	osp_buf json;
	char err[1024] = "";
	int status;
	nng_msg *m;
	osp_err rv;

	osp_buf_init(&json, 16 * 1024 * 1024);
	pthread_mutex_lock(&c->mtx);
	if (v->mutates && (rv = osp_store_txn_begin(c->store, true, &rq->txn)) != OSP_OK) {
		pthread_mutex_unlock(&c->mtx);
		osp_buf_fini(&json);
		return coord_control_reply(1, "coordinator store unavailable", NULL);
	}
	status = v->fn(c, rq, &json, err, sizeof(err));
	if (rq->txn != NULL)
		status = coord_control_finish(c, v, rq, status, &json, err, sizeof(err));
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

static nng_msg *coord_control_handle(coord *c, nng_msg *req)
{
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
		OSP_WARN("COORD-CTL-REFUSED", "control request over TLS refused: %s", why);
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
	if (v->mutates && (m = coord_control_dedup(c, msg->request_id)) != NULL)
		goto out;
	m = coord_control_run(c, v, &rq);
	if (rq.cleanup != NULL)
		rq.cleanup(&rq);
out:
	ospec__v1__ctl_request__free_unpacked(msg, NULL);
	return m;
}

static void *coord_control_main(void *arg)
{
	coord *c = arg;

	while (!atomic_load(&c->stopping)) {
		nng_msg *req = NULL, *rep;
		int rv = nng_recvmsg(c->ctl, &req, 0);

		if (rv == NNG_ETIMEDOUT)
			continue;
		if (rv != 0)
			break;
		rep = coord_control_handle(c, req);
		nng_msg_free(req);
		if (rep != NULL && nng_sendmsg(c->ctl, rep, 0) != 0)
			nng_msg_free(rep);
	}
	return NULL;
}

/* coord_control_prepare_ipc creates the socket's directory and removes a stale
 * socket file left by a killed coordinator (the data dir lock says we own it). */
static void coord_control_prepare_ipc(const char *url)
{
	char path[PATH_MAX], dir[PATH_MAX];

	if (strncmp(url, "ipc://", 6) != 0)
		return;
	osp_strlcpy(path, url + 6, sizeof(path));
	osp_strlcpy(dir, path, sizeof(dir));
	osp_mkdir_p(dirname(dir), 0755);
	unlink(path);
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

osp_err coord_control_start(coord *c, char *err, size_t errlen)
{
	int rv;

	if ((rv = nng_rep0_open(&c->ctl)) != 0) {
		snprintf(err, errlen, "cannot open the control socket: %s", nng_strerror(rv));
		return osp_nng_err(rv);
	}
	nng_socket_set_size(c->ctl, NNG_OPT_RECVMAXSZ, 1024 * 1024);
	nng_socket_set_ms(c->ctl, NNG_OPT_RECVTIMEO, 250);
	coord_control_prepare_ipc(c->cfg.control);
	if ((rv = nng_listener_create(&c->ctl_listener, c->ctl, c->cfg.control)) != 0)
		goto fail;
	if (strncmp(c->cfg.control, "ipc://", 6) == 0 &&
		(rv = nng_listener_set_int(c->ctl_listener, NNG_OPT_IPC_PERMISSIONS, 0600)) != 0)
		goto fail;
	if ((rv = nng_listener_start(c->ctl_listener, 0)) != 0)
		goto fail;
	if (coord_control_group(c, err, errlen) != OSP_OK)
		return OSP_ECONFIG;
	if (c->cfg.control_tls != NULL && coord_control_tls_start(c, err, errlen) != OSP_OK)
		return OSP_ECONFIG;
	if (pthread_create(&c->ctl_thread, NULL, coord_control_main, c) != 0) {
		snprintf(err, errlen, "cannot start the control thread");
		return OSP_EIO;
	}
	c->ctl_started = true;
	return OSP_OK;
fail:
	snprintf(err, errlen, "cannot listen for control on '%s': %s", c->cfg.control,
		nng_strerror(rv));
	return osp_nng_err(rv);
}

void coord_control_stop(coord *c)
{
	if (c->ctl_started)
		pthread_join(c->ctl_thread, NULL);
	c->ctl_started = false;
	nng_close(c->ctl);
	coord_control_tls_fini(c);
	if (strncmp(c->cfg.control, "ipc://", 6) == 0)
		unlink(c->cfg.control + 6);
}
