/*
 * fuzz_envelope.c - libFuzzer target for the agent protocol decoder
 * (osp_wire_decode) and what a dispatcher relies on after it.
 *
 * An envelope the decoder accepts reaches the handlers, so every promise of
 * wire.h is checked here on accepted input (abort on a broken one): ids are
 * valid ids, versions valid versions, slots known slots, nonces 32 bytes,
 * lists within their limits. Then each body is walked the way a handler
 * would (every string read, every list followed), and the envelope is
 * encoded again, which must decode again. A refused input must leave *out
 * NULL (or set, for OSP_EVERSION only) and say why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>

#include "ospec/util.h"
#include "ospec/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t fuzz_sink;

/* fuzz_str reads s the way a handler would (strlen, a copy). */
static void fuzz_str(const char *s, size_t max)
{
	if (s == NULL)
		return;
	if (strlen(s) > max)
		abort();
	fuzz_sink += strlen(s);
}

static void fuzz_id(const char *s, int required)
{
	if ((s == NULL || s[0] == '\0') && !required)
		return;
	if (!osp_valid_id(s))
		abort();
}

static void fuzz_version(const char *s)
{
	if (s != NULL && s[0] != '\0' && !osp_wire_valid_version(s))
		abort();
}

static void fuzz_apps(Ospec__V1__AppState **apps, size_t n)
{
	if (n > OSP_WIRE_MAX_APPS)
		abort();
	for (size_t i = 0; i < n; i++) {
		fuzz_id(apps[i]->app, 1);
		fuzz_version(apps[i]->version);
		fuzz_version(apps[i]->idle_version);
		if (!osp_wire_valid_slot(apps[i]->active_slot))
			abort();
		fuzz_str(apps[i]->sha256, 64);
	}
}

static void fuzz_register(const Ospec__V1__Register *r)
{
	if (r->nonce.len != OSP_WIRE_NONCE_LEN || r->n_labels > OSP_WIRE_MAX_LABELS ||
		r->n_in_doubt > OSP_WIRE_MAX_APPS || r->cert_chain_pem.len > OSP_WIRE_MAX_CERT ||
		r->signature.len > OSP_WIRE_MAX_SIG)
		abort();
	for (size_t i = 0; i < r->n_labels; i++)
		if (!osp_valid_label(r->labels[i]->key, r->labels[i]->value))
			abort();
	for (size_t i = 0; i < r->n_in_doubt; i++) {
		fuzz_id(r->in_doubt[i]->switch_id, 1);
		fuzz_id(r->in_doubt[i]->app, 1);
	}
	fuzz_str(r->hostname, 255);
	fuzz_str(r->agent_version, 64);
	fuzz_apps(r->apps, r->n_apps);
}

/* fuzz_log_reqs: the log reads of protocol 1.4 within their limits. */
static void fuzz_log_reqs(Ospec__V1__LogRequest **v, size_t n)
{
	if (n > OSP_WIRE_MAX_LOG_REQS)
		abort();
	for (size_t i = 0; i < n; i++) {
		fuzz_id(v[i]->app, 1);
		if (!osp_wire_valid_slot(v[i]->slot) || v[i]->lines > OSP_WIRE_MAX_LOG_LINES)
			abort();
	}
}

static void fuzz_command(const Ospec__V1__Command *c)
{
	fuzz_str(c->rollout_id, OSP_WIRE_MAX_ID);
	switch (c->kind_case) {
	case OSPEC__V1__COMMAND__KIND_STAGE:
		fuzz_id(c->stage->app, 1);
		if (c->stage->version == NULL || !osp_wire_valid_version(c->stage->version) ||
			!osp_wire_valid_slot(c->stage->slot))
			abort();
		fuzz_str(c->stage->artifact_url, OSP_WIRE_MAX_URL);
		fuzz_str(c->stage->run, OSP_WIRE_MAX_RUN);
		fuzz_str(c->stage->sha256, 64);
		fuzz_str(c->stage->health_path, OSP_WIRE_MAX_PATH);
		break;
	case OSPEC__V1__COMMAND__KIND_REVERT:
		fuzz_id(c->revert->app, 1);
		fuzz_version(c->revert->version);
		fuzz_str(c->revert->run, OSP_WIRE_MAX_RUN);
		if (!osp_wire_valid_slot(c->revert->slot))
			abort();
		break;
	case OSPEC__V1__COMMAND__KIND_STOP:
		fuzz_id(c->stop->app, 1);
		if (!osp_wire_valid_slot(c->stop->slot))
			abort();
		break;
	case OSPEC__V1__COMMAND__KIND_PREPARE:
		fuzz_id(c->prepare->switch_id, 1);
		fuzz_id(c->prepare->app, 1);
		fuzz_version(c->prepare->expect_version);
		if (!osp_wire_valid_slot(c->prepare->to_slot))
			abort();
		break;
	case OSPEC__V1__COMMAND__KIND_DECISION:
		fuzz_id(c->decision->switch_id, 1);
		fuzz_id(c->decision->app, 1);
		break;
	case OSPEC__V1__COMMAND__KIND_SCALE_DOWN:
		fuzz_id(c->scale_down->app, 1);
		if (!osp_wire_valid_slot(c->scale_down->slot))
			abort();
		break;
	case OSPEC__V1__COMMAND__KIND_NOOP:
		fuzz_str(c->noop->note, OSP_WIRE_MAX_TEXT);
		break;
	case OSPEC__V1__COMMAND__KIND_WEIGHT:
		fuzz_id(c->weight->app, 1);
		fuzz_id(c->weight->step_id, 0);
		if (c->weight->weight > 100 || c->weight->slot == NULL ||
			(strcmp(c->weight->slot, "blue") != 0 && strcmp(c->weight->slot, "green") != 0))
			abort();
		break;
	case OSPEC__V1__COMMAND__KIND_STATS:
		fuzz_id(c->stats->app, 1);
		if (c->stats->slot == NULL ||
			(strcmp(c->stats->slot, "blue") != 0 && strcmp(c->stats->slot, "green") != 0))
			abort();
		break;
	case OSPEC__V1__COMMAND__KIND__NOT_SET:
		break; /* a newer peer's kind: passed on, the dispatcher refuses it */
	default:
		abort(); /* the decoder refuses a command of another kind */
	}
}

/* fuzz_dispatch walks the body like the coordinator's and agent's handlers. */
static void fuzz_dispatch(const osp_env *e)
{
	fuzz_id(e->node_id, 0);
	if (e->instance_uuid != NULL && strlen(e->instance_uuid) > OSP_WIRE_MAX_UUID)
		abort();
	switch (e->body_case) {
	case OSPEC__V1__ENVELOPE__BODY_HELLO:
		fuzz_str(e->hello->agent_version, 64);
		break;
	case OSPEC__V1__ENVELOPE__BODY_CHALLENGE:
		if (e->challenge->nonce.len != OSP_WIRE_NONCE_LEN)
			abort();
		break;
	case OSPEC__V1__ENVELOPE__BODY_REGISTER:
		fuzz_register(e->register_);
		break;
	case OSPEC__V1__ENVELOPE__BODY_HEARTBEAT:
		fuzz_apps(e->heartbeat->apps, e->heartbeat->n_apps);
		break;
	case OSPEC__V1__ENVELOPE__BODY_COMMANDS:
		if (e->commands->n_entries > OSP_WIRE_MAX_CMDS)
			abort();
		for (size_t i = 0; i < e->commands->n_entries; i++)
			fuzz_command(e->commands->entries[i]);
		fuzz_log_reqs(e->commands->logs, e->commands->n_logs);
		break;
	case OSPEC__V1__ENVELOPE__BODY_HEARTBEAT_ACK:
		fuzz_log_reqs(e->heartbeat_ack->logs, e->heartbeat_ack->n_logs);
		break;
	case OSPEC__V1__ENVELOPE__BODY_LOG_CHUNK:
		fuzz_id(e->log_chunk->app, 0);
		fuzz_str(e->log_chunk->error, OSP_WIRE_MAX_TEXT);
		if (!osp_wire_valid_slot(e->log_chunk->slot) ||
			e->log_chunk->out.len > OSP_WIRE_MAX_LOG_DATA ||
			e->log_chunk->err.len > OSP_WIRE_MAX_LOG_DATA)
			abort();
		break;
	case OSPEC__V1__ENVELOPE__BODY_RESULT:
		fuzz_str(e->result->message, OSP_WIRE_MAX_TEXT);
		fuzz_id(e->result->app, 0);
		fuzz_id(e->result->switch_id, 0);
		fuzz_version(e->result->version);
		if (!osp_wire_valid_slot(e->result->slot))
			abort();
		break;
	case OSPEC__V1__ENVELOPE__BODY_EVENT:
		fuzz_str(e->event->kind, 64);
		fuzz_id(e->event->app, 0);
		fuzz_str(e->event->message, OSP_WIRE_MAX_TEXT);
		break;
	case OSPEC__V1__ENVELOPE__BODY_ERROR:
		fuzz_str(e->error->message, OSP_WIRE_MAX_TEXT);
		break;
	case OSPEC__V1__ENVELOPE__BODY_REGISTERED:
	case OSPEC__V1__ENVELOPE__BODY_POLL:
	case OSPEC__V1__ENVELOPE__BODY_ACK:
		break;
	default:
		abort(); /* the decoder refuses an envelope without a body */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	osp_env *e = NULL, *again = NULL;
	nng_msg *m = NULL;
	char err[256];
	osp_err rv;

	err[0] = '\0';
	rv = osp_wire_decode(data, size, &e, err, sizeof(err));
	if (rv != OSP_OK) {
		if (err[0] == '\0' || (e != NULL && rv != OSP_EVERSION))
			abort();
		osp_wire_free(e);
		return 0;
	}
	fuzz_dispatch(e);
	/* what was accepted encodes, and the encoding is accepted again */
	if (osp_wire_encode(e, &m) == OSP_OK) {
		if (osp_wire_decode(nng_msg_body(m), nng_msg_len(m), &again, err, sizeof(err)) !=
			OSP_OK)
			abort();
		if (again->body_case != e->body_case)
			abort();
		osp_wire_free(again);
		nng_msg_free(m);
	}
	osp_wire_free(e);
	return 0;
}
