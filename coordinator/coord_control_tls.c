/*
 * coord_control_tls.c - the control API over tls+tcp://: the listener, the
 * per-request proof, roles and the replay cache (see coord_control_tls.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>

#include "coord_control_tls.h"
#include "ospec/tls.h"

#define COORD_CTL_MAX_RID 64

struct coord_ctl_replay {
	struct {
		char rid[COORD_CTL_MAX_RID + 1];
		int64_t ts_ms;    /* the request's own timestamp */
	} e[COORD_CTL_REPLAY_MAX];
};

/* coord_control_replay_add records rid; false (why set) if it was seen
 * within the window or the cache is full of live entries. */
static bool coord_control_replay_add(coord *c, const char *rid, int64_t ts_ms, int64_t now,
	char *why, size_t len)
{
	struct coord_ctl_replay *r = c->ctl_replay;
	size_t slot = COORD_CTL_REPLAY_MAX;

	for (size_t i = 0; i < COORD_CTL_REPLAY_MAX; i++) {
		/* past the window a request is refused by its timestamp anyway */
		if (r->e[i].rid[0] != '\0' && now - r->e[i].ts_ms > COORD_CTL_WINDOW_MS)
			r->e[i].rid[0] = '\0';
		if (r->e[i].rid[0] == '\0') {
			if (slot == COORD_CTL_REPLAY_MAX)
				slot = i;
		} else if (strcmp(r->e[i].rid, rid) == 0) {
			snprintf(why, len, "request id '%s' was used already (a replay?)", rid);
			return false;
		}
	}
	if (slot == COORD_CTL_REPLAY_MAX) {
		snprintf(why, len, "too many signed requests in the last %d minutes; try later",
			COORD_CTL_WINDOW_MS / 60000);
		return false;
	}
	osp_strlcpy(r->e[slot].rid, rid, sizeof(r->e[slot].rid));
	r->e[slot].ts_ms = ts_ms;
	return true;
}

/* coord_control_check_fields checks that msg carries a complete proof. */
static bool coord_control_check_fields(const Ospec__V1__CtlRequest *msg, int64_t now, char *why,
	size_t len)
{
	int64_t skew;

	if (!msg->has_cert_chain_pem || msg->cert_chain_pem.len == 0 || !msg->has_signature ||
		msg->signature.len == 0 || !msg->has_ts_ms || msg->request_id == NULL ||
		msg->request_id[0] == '\0') {
		snprintf(why, len, "request not signed: a remote ospecctl needs --cert, --key "
				   "and --ca (an admin or viewer certificate)");
		return false;
	}
	if (strlen(msg->request_id) > COORD_CTL_MAX_RID) {
		snprintf(why, len, "request id longer than %d bytes", COORD_CTL_MAX_RID);
		return false;
	}
	if (msg->signature.len > OSP_TLS_MAX_SIG || msg->cert_chain_pem.len > OSP_TLS_MAX_PEM) {
		snprintf(why, len, "request proof too big");
		return false;
	}
	skew = now - (int64_t)msg->ts_ms;
	if (msg->ts_ms > (uint64_t)INT64_MAX || skew > COORD_CTL_WINDOW_MS ||
		skew < -COORD_CTL_WINDOW_MS) {
		snprintf(why, len, "request time is more than %d minutes from the coordinator's "
				   "clock (check both clocks)", COORD_CTL_WINDOW_MS / 60000);
		return false;
	}
	return true;
}

/* coord_control_verify checks the signature over the request. */
static bool coord_control_verify(coord *c, const Ospec__V1__CtlRequest *msg, osp_tls_peer *peer,
	char *why, size_t len)
{
	const char *keys[64], *vals[64];
	char err[400];
	osp_buf b;
	bool ok = false;

	if (msg->n_args > 64) {
		snprintf(why, len, "more than 64 arguments");
		return false;
	}
	for (size_t i = 0; i < msg->n_args; i++) {
		keys[i] = msg->args[i]->key;
		vals[i] = msg->args[i]->value;
	}
	osp_buf_init(&b, 2 * 1024 * 1024);
	if (osp_tls_ctl_msg(&b, msg->request_id, msg->verb, msg->ts_ms, msg->n_args, keys, vals) !=
		OSP_OK) {
		snprintf(why, len, "request too big to verify");
		goto out;
	}
	if (osp_tls_verify_proof(c->cfg.tls_ca, msg->cert_chain_pem.data, msg->cert_chain_pem.len,
		    b.data, b.len, msg->signature.data, msg->signature.len, peer, err,
		    sizeof(err)) != OSP_OK) {
		snprintf(why, len, "certificate refused: %s", err);
		goto out;
	}
	ok = true;
out:
	osp_buf_fini(&b);
	return ok;
}

bool coord_control_auth(coord *c, const Ospec__V1__CtlRequest *msg, char *actor,
	size_t actor_len, bool *viewer, char *why, size_t why_len)
{
	osp_tls_peer peer;
	int64_t now = osp_now_wall_ms();

	*viewer = false;
	if (c->ctl_replay == NULL) {
		snprintf(why, why_len, "control over TLS is not set up");
		return false;
	}
	if (!coord_control_check_fields(msg, now, why, why_len) ||
		!coord_control_verify(c, msg, &peer, why, why_len))
		return false;
	if (strcmp(peer.ou, "admin") != 0 && strcmp(peer.ou, "viewer") != 0) {
		snprintf(why, why_len,
			"certificate of '%s' has no ospec role (OU=admin or OU=viewer; "
			"'ospecctl certs issue --admin NAME' makes one)",
			peer.cn[0] ? peer.cn : "(no name)");
		return false;
	}
	if (peer.cn[0] == '\0' ||
		(size_t)snprintf(actor, actor_len, "cert:%s", peer.cn) >= actor_len) {
		snprintf(why, why_len, "certificate name empty or too long for the event record");
		return false;
	}
	/* last: a refused request does not use up its id */
	if (!coord_control_replay_add(c, msg->request_id, (int64_t)msg->ts_ms, now, why, why_len))
		return false;
	*viewer = strcmp(peer.ou, "viewer") == 0;
	return true;
}

osp_err coord_control_auth_init(coord *c)
{
	if (c->ctl_replay == NULL && (c->ctl_replay = calloc(1, sizeof(*c->ctl_replay))) == NULL)
		return OSP_ENOMEM;
	return OSP_OK;
}

osp_err coord_control_tls_start(coord *c, char *err, size_t errlen)
{
	nng_tls_config *cfg = NULL;
	char why[512];
	int rv;

	if (osp_tls_server_config(c->cfg.tls_ca, c->cfg.tls_cert, c->cfg.tls_key, &cfg, why,
		    sizeof(why)) != OSP_OK) {
		snprintf(err, errlen, "cannot listen for control on '%s': %s", c->cfg.control_tls,
			why);
		return OSP_ECONFIG;
	}
	if (coord_control_auth_init(c) != OSP_OK) {
		nng_tls_config_free(cfg);
		snprintf(err, errlen, "out of memory");
		return OSP_ENOMEM;
	}
	if ((rv = nng_listener_create(&c->ctl_tls_listener, c->ctl, c->cfg.control_tls)) != 0 ||
		(rv = nng_listener_set_ptr(c->ctl_tls_listener, NNG_OPT_TLS_CONFIG, cfg)) != 0 ||
		(rv = nng_listener_start(c->ctl_tls_listener, 0)) != 0) {
		nng_tls_config_free(cfg);
		snprintf(err, errlen, "cannot listen for control on '%s': %s", c->cfg.control_tls,
			nng_strerror(rv));
		return osp_nng_err(rv);
	}
	nng_tls_config_free(cfg); /* the listener holds its own reference */
	c->ctl_tls_on = true;
	return OSP_OK;
}

void coord_control_tls_fini(coord *c)
{
	free(c->ctl_replay);
	c->ctl_replay = NULL;
	c->ctl_tls_on = false;
}
