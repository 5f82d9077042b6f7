/*
 * wire.h - the agent protocol's envelope: encoding, bounded decoding and
 * synchronous request helpers over nng contexts.
 *
 * Every decoded message has passed the field limits below; a message that
 * does not is refused whole (OSP_ETOOBIG or OSP_EINVAL) and never reaches a
 * handler.
 */
#ifndef OSPEC_WIRE_H
#define OSPEC_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>

#include "ospec/err.h"
#include "ospec/v1/wire.pb-c.h"

#define OSP_PROTO_MAJOR 1
/* 1.1: Revert.from_sha256, Stage slot "idle", result fields; 1.2: AppState
 * env_names (names only), Stage require_env and smoke (checks.h); 1.3:
 * TrafficWeight and TrafficStats (canary); 1.4: LogRequest and LogChunk
 * (`ospecctl logs`) */
#define OSP_PROTO_MINOR 4

/* Limits. The socket's receive limit is the outer bound. */
#define OSP_WIRE_MAX_MSG (1024 * 1024)
#define OSP_WIRE_MAX_ID 63
#define OSP_WIRE_MAX_UUID 36
#define OSP_WIRE_MAX_VERSION 128
#define OSP_WIRE_MAX_URL 2048
#define OSP_WIRE_MAX_RUN 4096
#define OSP_WIRE_MAX_TEXT 8192
#define OSP_WIRE_MAX_PATH 256
#define OSP_WIRE_MAX_LABELS 64
#define OSP_WIRE_MAX_APPS 64
#define OSP_WIRE_MAX_CMDS 256
#define OSP_WIRE_MAX_CERT 32768
#define OSP_WIRE_MAX_SIG 1024
#define OSP_WIRE_NONCE_LEN 32
#define OSP_WIRE_MAX_ENV_NAMES 64          /* env names of one app, or required by a Stage */
#define OSP_WIRE_MAX_ENV_NAME 128          /* bytes of one env name */
#define OSP_WIRE_MAX_ENV_REPORT_NAMES 256  /* env names in one apps report, all apps */
#define OSP_WIRE_MAX_ENV_REPORT_BYTES 8192 /* bytes of those names, all apps */
#define OSP_WIRE_MAX_SMOKE 16              /* smoke checks of one Stage */
#define OSP_WIRE_MAX_LOG_REQS 8            /* LogRequests in one Commands or HeartbeatAck */
#define OSP_WIRE_MAX_LOG_LINES 1000        /* LogRequest.lines */
#define OSP_WIRE_LOG_READ 16384            /* bytes the agent reads of a stream per answer */
#define OSP_WIRE_MAX_LOG_DATA 40960        /* LogChunk.out / .err: the read, redacted (a
					    * mark may be 2.5 times the value it replaces) */

typedef Ospec__V1__Envelope osp_env;

/* osp_wire_env_init initialises env as a v1 envelope from node_id/uuid (may be NULL). */
void osp_wire_env_init(osp_env *env, const char *node_id, const char *uuid, uint64_t msg_id);

/* osp_wire_encode packs env into a new nng message (*out is the caller's).
 * OSP_ETOOBIG past OSP_WIRE_MAX_MSG, OSP_ENOMEM. */
osp_err osp_wire_encode(const osp_env *env, nng_msg **out);

/*
 * osp_wire_decode unpacks and checks one envelope. On OSP_OK *out is the
 * caller's (osp_wire_free). Errors, with err saying what:
 *   OSP_EDECODE  not a protobuf envelope, or no body
 *   OSP_EVERSION another major version (*out is still set so the caller can
 *                answer; free it)
 *   OSP_ETOOBIG  a field or list past its limit
 *   OSP_EINVAL   a field with invalid characters (ids, slots, versions)
 */
osp_err osp_wire_decode(const void *buf, size_t len, osp_env **out, char *err, size_t errlen);

/* osp_wire_free frees a decoded envelope; accepts NULL. */
void osp_wire_free(osp_env *env);

/* osp_wire_error_msg builds an Error reply as an nng message. */
osp_err osp_wire_error_msg(Ospec__V1__ErrorCode code, const char *text, nng_msg **out);

/* osp_wire_valid_version reports whether a release version string is
 * acceptable: 1..128 characters of [A-Za-z0-9._+-]. */
int osp_wire_valid_version(const char *v);

/* osp_wire_valid_slot reports whether s is "", "main", "blue" or "green". */
int osp_wire_valid_slot(const char *s);

/*
 * osp_req_call sends req on ctx and waits up to timeout_ms (<0: forever) for
 * the reply. req is always consumed. On OSP_OK *rep is the caller's.
 * OSP_ETIMEDOUT, OSP_ECLOSED, OSP_ENET.
 */
osp_err osp_req_call(nng_ctx ctx, nng_msg *req, int timeout_ms, nng_msg **rep);

/* osp_nng_err converts an NNG_* code. */
osp_err osp_nng_err(int rv);

#endif
