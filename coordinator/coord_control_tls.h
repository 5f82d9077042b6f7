/*
 * coord_control_tls.h - the control API over tls+tcp:// (--control-tls).
 *
 * The TLS layer already requires a client certificate signed by the CA, but
 * nng 1.5.2 cannot say which one, so every request over TLS also carries the
 * signer's certificate chain, a wall-clock timestamp and a signature over
 * osp_tls_ctl_msg(request_id, verb, ts_ms, args). The coordinator verifies
 * the chain against its CA, the signature, the timestamp (within
 * COORD_CTL_WINDOW_MS of its clock) and that the request id was not seen in
 * that window. The role is the certificate's OU: "admin" may run every verb,
 * "viewer" only verbs that change nothing. The actor is "cert:<CN>".
 */
#ifndef COORD_CONTROL_TLS_H
#define COORD_CONTROL_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "coord.h"
#include "ospec/v1/control.pb-c.h"

#define COORD_CTL_WINDOW_MS (5 * 60 * 1000)
#define COORD_CTL_REPLAY_MAX 4096

/*
 * coord_control_auth checks the proof of msg (a request that came over TLS).
 * On success writes "cert:<CN>" into actor, sets *viewer for the viewer
 * role and returns true; otherwise writes the reason into why. Called from
 * the control thread only (the replay cache is its own).
 */
bool coord_control_auth(coord *c, const Ospec__V1__CtlRequest *msg, char *actor,
	size_t actor_len, bool *viewer, char *why, size_t why_len);

/* coord_control_auth_init allocates the replay cache coord_control_auth
 * needs (once; coord_control_tls_fini frees it). OSP_ENOMEM. */
osp_err coord_control_auth_init(coord *c);

/* coord_control_tls_start adds the tls+tcp:// listener (cfg.control_tls) to
 * the control socket; err says why it cannot. */
osp_err coord_control_tls_start(coord *c, char *err, size_t errlen);

/* coord_control_tls_fini frees the replay cache (after the socket closed). */
void coord_control_tls_fini(coord *c);

#endif
