/*
 * fuzz_pipeline.c - libFuzzer target for what a pipelining peer reaches
 * before it has proven anything: the register path on the agent port and
 * the control decoder with its proof check on the control TLS endpoint,
 * several requests per connection, decoded in sequence as the coordinator
 * receives them from one connection that never reads its replies.
 *
 * One input is one connection's byte stream after the SP header. Byte 0
 * picks the port: even = agent port, odd = control endpoint. The rest is cut
 * into frames the way nng's TCP transport does: an 8-byte big-endian length,
 * then the payload; a length past the receive limit ends the connection
 * unread (nng drops it) and a short last frame is a half-sent message. A
 * payload starts with rep0's backtrace: 4-byte hops until one has its top
 * bit set (at most 8), then the request body.
 *
 * Agent port: osp_wire_decode with the coordinator's request limit, the
 * replay window of the connection (coord_pipe_seen_msg), then per body what
 * coord_agents.c does before an identity is proven: Hello hands out the
 * nonce (here a fixed one, so inputs can echo it and reach the proof),
 * Register checks nonce, id, uuid and the certificate proof
 * (osp_tls_verify_register parses the peer's PEM chain and signature). A
 * refused register closes the connection: what follows is dropped.
 *
 * Control: the CtlRequest decoder and coord_control_auth (field checks,
 * chain, signature, role, replay cache). A ts_ms below 2^32 is taken as an
 * age in ms (modulo the 5-minute window), so inputs can pass the clock check
 * and reach the chain and signature checks.
 *
 * Aborts: a proof that verifies (no input can hold a key of the CA made at
 * start), a refusal that does not say why, a decoded register that breaks a
 * limit of wire.h.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coord.h"
#include "coord_control_tls.h"
#include "ospec/certs.h"
#include "ospec/tls.h"
#include "ospec/util.h"
#include "ospec/wire.h"
#include "ospec/v1/control.pb-c.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CTL_RECVMAX (1024 * 1024) /* the control socket's receive limit */
#define FUZZ_MAX_HOPS 8                /* rep0's default maximum TTL */

static coord fuzz_c;
static char fuzz_ca[512];
static const uint8_t fuzz_nonce[OSP_WIRE_NONCE_LEN] = {
	0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
	0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
	0x5a, 0x5a, 0x5a, 0x5a,
};

/* One connection's state, as the coordinator keeps it. */
typedef struct fuzz_conn {
	coord_pipe pipe;
	bool has_nonce, closing;
} fuzz_conn;

static char fuzz_dir[64];

/* fuzz_cleanup removes the CA made at start. */
static void fuzz_cleanup(void)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/ca.pem", fuzz_dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/ca.key", fuzz_dir);
	unlink(path);
	rmdir(fuzz_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[] = "/tmp/ospec-fuzz-pipeline-XXXXXX", err[256];

	(void)argc;
	(void)argv;
	if (mkdtemp(dir) == NULL ||
		osp_certs_init(dir, "fuzz-ca", 1, true, err, sizeof(err)) != OSP_OK) {
		fprintf(stderr, "fuzz_pipeline: cannot make a CA: %s\n", err);
		abort();
	}
	snprintf(fuzz_dir, sizeof(fuzz_dir), "%s", dir);
	atexit(fuzz_cleanup);
	snprintf(fuzz_ca, sizeof(fuzz_ca), "%s/ca.pem", dir);
	fuzz_c.cfg.tls_ca = fuzz_ca;
	fuzz_c.cfg.heartbeat = 1000;
	if (coord_control_auth_init(&fuzz_c) != OSP_OK)
		abort();
	return 0;
}

static void fuzz_said_why(const char *why)
{
	if (why[0] == '\0')
		abort();
}

/* fuzz_register does what coord_register_handle (coord_register.c) does
 * before anything about the named node is looked at. */
static void fuzz_register(fuzz_conn *fc, const osp_env *e)
{
	const Ospec__V1__Register *r = e->register_;
	char why[512] = "";

	if (r->nonce.len != OSP_WIRE_NONCE_LEN || r->cert_chain_pem.len > OSP_WIRE_MAX_CERT ||
		r->signature.len > OSP_WIRE_MAX_SIG || r->n_apps > OSP_WIRE_MAX_APPS ||
		r->n_labels > OSP_WIRE_MAX_LABELS || r->n_in_doubt > OSP_WIRE_MAX_APPS)
		abort(); /* the decoder let a limit pass */
	if (!fc->has_nonce || memcmp(r->nonce.data, fuzz_nonce, sizeof(fuzz_nonce)) != 0 ||
		e->node_id == NULL || !osp_valid_id(e->node_id) || e->instance_uuid == NULL ||
		strlen(e->instance_uuid) != OSP_UUID_LEN) {
		fc->closing = true; /* refused: the connection goes */
		return;
	}
	if (r->has_cert_chain_pem && r->has_signature &&
		osp_tls_verify_register(fuzz_ca, r->cert_chain_pem.data, r->cert_chain_pem.len,
			r->signature.data, r->signature.len, r->nonce.data, r->nonce.len, e->node_id,
			e->instance_uuid, why, sizeof(why)) == OSP_OK)
		abort(); /* a proof without a key of our CA */
	if (r->has_cert_chain_pem && r->has_signature)
		fuzz_said_why(why);
	fc->has_nonce = false; /* one register per nonce */
	fc->closing = true;    /* refused (the proof), or registered: done here */
}

static void fuzz_agent_request(fuzz_conn *fc, const uint8_t *body, size_t len)
{
	osp_env *e = NULL;
	char err[256] = "";
	osp_err rv;

	if (len > COORD_AGENT_MAX_REQ)
		return; /* ERR_TOO_BIG, counted */
	rv = osp_wire_decode(body, len, &e, err, sizeof(err));
	if (rv != OSP_OK) {
		fuzz_said_why(err);
		osp_wire_free(e);
		if (++fc->pipe.bad >= 8)
			fc->closing = true;
		return;
	}
	if (e->has_msg_id && !coord_pipe_seen_msg(&fc->pipe, e->msg_id)) {
		osp_wire_free(e); /* ERR_REPLAY */
		return;
	}
	if (e->body_case == OSPEC__V1__ENVELOPE__BODY_HELLO)
		fc->has_nonce = true;
	else if (e->body_case == OSPEC__V1__ENVELOPE__BODY_REGISTER)
		fuzz_register(fc, e);
	osp_wire_free(e); /* anything else: ERR_NOT_REGISTERED */
}

static void fuzz_control_request(const uint8_t *body, size_t len)
{
	Ospec__V1__CtlRequest *msg = ospec__v1__ctl_request__unpack(NULL, len, body);
	char actor[64], why[600] = "";
	bool viewer = false;

	if (msg == NULL || msg->version_major != 1) {
		if (msg != NULL)
			ospec__v1__ctl_request__free_unpacked(msg, NULL);
		return;
	}
	if (msg->has_ts_ms && msg->ts_ms < (1ull << 32))
		msg->ts_ms = (uint64_t)osp_now_wall_ms() - msg->ts_ms % COORD_CTL_WINDOW_MS;
	if (coord_control_auth(&fuzz_c, msg, actor, sizeof(actor), &viewer, why, sizeof(why)))
		abort(); /* signed without a key of our CA */
	fuzz_said_why(why);
	ospec__v1__ctl_request__free_unpacked(msg, NULL);
}

/* fuzz_strip skips rep0's backtrace: 1 with the body left, 0 when the
 * frame is dropped (too many hops), -1 when rep0 closes the connection (a
 * frame shorter than a hop). */
static int fuzz_strip(const uint8_t **p, size_t *len)
{
	for (int hops = 0; hops < FUZZ_MAX_HOPS; hops++) {
		bool end;

		if (*len < 4)
			return -1;
		end = ((*p)[0] & 0x80) != 0;
		*p += 4;
		*len -= 4;
		if (end)
			return 1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_conn fc;
	bool control;
	size_t off = 1;

	if (size < 1)
		return 0;
	memset(&fc, 0, sizeof(fc));
	control = (data[0] & 1) != 0;
	while (!fc.closing && size - off >= 8) {
		uint64_t n = 0;
		const uint8_t *p;
		size_t len;
		int rv;

		for (int i = 0; i < 8; i++)
			n = n << 8 | data[off + i];
		off += 8;
		if (n > (control ? FUZZ_CTL_RECVMAX : COORD_AGENT_RECVMAX))
			break; /* nng drops the connection unread */
		if (n > size - off)
			break; /* half-sent: never delivered */
		p = data + off;
		len = (size_t)n;
		off += len;
		rv = fuzz_strip(&p, &len);
		if (rv < 0)
			break;
		if (rv == 0)
			continue;
		if (control)
			fuzz_control_request(p, len);
		else
			fuzz_agent_request(&fc, p, len);
	}
	return 0;
}
