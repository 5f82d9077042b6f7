/* wire.c - envelope encoding, bounded decoding and request helpers. */
#include "ospec/wire.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ospec/checks.h"
#include "ospec/util.h"

void osp_wire_env_init(osp_env *env, const char *node_id, const char *uuid, uint64_t msg_id)
{
	ospec__v1__envelope__init(env);
	env->version_major = OSP_PROTO_MAJOR;
	env->has_version_minor = 1;
	env->version_minor = OSP_PROTO_MINOR;
	env->has_msg_id = 1;
	env->msg_id = msg_id;
	env->node_id = (char *)node_id;
	env->instance_uuid = (char *)uuid;
}

osp_err osp_wire_encode(const osp_env *env, nng_msg **out)
{
	size_t n = ospec__v1__envelope__get_packed_size(env);
	nng_msg *m = NULL;

	if (n > OSP_WIRE_MAX_MSG)
		return OSP_ETOOBIG;
	if (nng_msg_alloc(&m, n) != 0)
		return OSP_ENOMEM;
	ospec__v1__envelope__pack(env, nng_msg_body(m));
	*out = m;
	return OSP_OK;
}

void osp_wire_free(osp_env *env)
{
	if (env != NULL)
		ospec__v1__envelope__free_unpacked(env, NULL);
}

int osp_wire_valid_version(const char *v)
{
	size_t n = v ? strlen(v) : 0;

	if (n == 0 || n > OSP_WIRE_MAX_VERSION)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (!isalnum(c) && c != '.' && c != '_' && c != '+' && c != '-')
			return 0;
	}
	/* never a path component of its own */
	return strcmp(v, ".") != 0 && strcmp(v, "..") != 0;
}

int osp_wire_valid_slot(const char *s)
{
	return s == NULL || s[0] == '\0' || strcmp(s, "main") == 0 || strcmp(s, "blue") == 0 ||
		strcmp(s, "green") == 0;
}

/* wire_check_* set err and return an error for a field past its rules. */
static osp_err wire_check_len(const char *field, const char *s, size_t max, char *err,
	size_t errlen)
{
	if (s != NULL && strnlen(s, max + 1) > max) {
		snprintf(err, errlen, "field '%s' longer than %zu bytes", field, max);
		return OSP_ETOOBIG;
	}
	return OSP_OK;
}

static osp_err wire_check_id(const char *field, const char *s, int required, char *err,
	size_t errlen)
{
	if (s == NULL || s[0] == '\0') {
		if (!required)
			return OSP_OK;
		snprintf(err, errlen, "field '%s' is missing", field);
		return OSP_EINVAL;
	}
	if (strnlen(s, OSP_WIRE_MAX_ID + 1) > OSP_WIRE_MAX_ID) {
		snprintf(err, errlen, "field '%s' longer than %d bytes", field, OSP_WIRE_MAX_ID);
		return OSP_ETOOBIG;
	}
	if (!osp_valid_id(s)) {
		snprintf(err, errlen, "field '%s' has invalid characters", field);
		return OSP_EINVAL;
	}
	return OSP_OK;
}

static osp_err wire_check_version(const char *field, const char *s, char *err, size_t errlen)
{
	if (s == NULL || s[0] == '\0')
		return OSP_OK;
	if (strnlen(s, OSP_WIRE_MAX_VERSION + 1) > OSP_WIRE_MAX_VERSION) {
		snprintf(err, errlen, "field '%s' longer than %d bytes", field,
			OSP_WIRE_MAX_VERSION);
		return OSP_ETOOBIG;
	}
	if (!osp_wire_valid_version(s)) {
		snprintf(err, errlen, "field '%s' has invalid characters", field);
		return OSP_EINVAL;
	}
	return OSP_OK;
}

static osp_err wire_check_slot(const char *field, const char *s, char *err, size_t errlen)
{
	if (!osp_wire_valid_slot(s)) {
		snprintf(err, errlen, "field '%s' is not a slot name", field);
		return s && strnlen(s, 64) >= 64 ? OSP_ETOOBIG : OSP_EINVAL;
	}
	return OSP_OK;
}

/* wire_check_bg_slot: exactly "blue" or "green" (a canary's slot). */
static osp_err wire_check_bg_slot(const char *field, const char *s, char *err, size_t errlen)
{
	if (s == NULL || (strcmp(s, "blue") != 0 && strcmp(s, "green") != 0)) {
		snprintf(err, errlen, "field '%s' is not blue or green", field);
		return s && strnlen(s, 64) >= 64 ? OSP_ETOOBIG : OSP_EINVAL;
	}
	return OSP_OK;
}

/* wire_check_env_names checks a list of env names (n of them, at most
 * OSP_WIRE_MAX_ENV_NAMES, each osp_checks_env_name) and adds their count and
 * bytes to *count and *bytes. */
static osp_err wire_check_env_names(const char *field, char *const *v, size_t n, size_t *count,
	size_t *bytes, char *err, size_t errlen)
{
	if (n > OSP_WIRE_MAX_ENV_NAMES) {
		snprintf(err, errlen, "field '%s': more than %d names", field, OSP_WIRE_MAX_ENV_NAMES);
		return OSP_ETOOBIG;
	}
	for (size_t i = 0; i < n; i++) {
		if (!osp_checks_env_name(v[i])) {
			snprintf(err, errlen, "field '%s': not an env name of 1-%d bytes", field,
				OSP_WIRE_MAX_ENV_NAME);
			return OSP_EINVAL;
		}
		*bytes += strlen(v[i]);
	}
	*count += n;
	return OSP_OK;
}

static osp_err wire_check_apps(Ospec__V1__AppState **apps, size_t n, char *err, size_t errlen)
{
	size_t names = 0, bytes = 0;
	osp_err rv;

	if (n > OSP_WIRE_MAX_APPS) {
		snprintf(err, errlen, "more than %d apps", OSP_WIRE_MAX_APPS);
		return OSP_ETOOBIG;
	}
	for (size_t i = 0; i < n; i++) {
		if ((rv = wire_check_id("apps.app", apps[i]->app, 1, err, errlen)) != OSP_OK ||
			(rv = wire_check_slot("apps.active_slot", apps[i]->active_slot, err,
				 errlen)) != OSP_OK ||
			(rv = wire_check_version("apps.version", apps[i]->version, err, errlen)) !=
				OSP_OK ||
			(rv = wire_check_version("apps.idle_version", apps[i]->idle_version, err,
				 errlen)) != OSP_OK ||
			(rv = wire_check_len("apps.sha256", apps[i]->sha256, 64, err, errlen)) !=
				OSP_OK ||
			(rv = wire_check_env_names("apps.env_names", apps[i]->env_names,
				 apps[i]->n_env_names, &names, &bytes, err, errlen)) != OSP_OK)
			return rv;
	}
	if (names > OSP_WIRE_MAX_ENV_REPORT_NAMES || bytes > OSP_WIRE_MAX_ENV_REPORT_BYTES) {
		snprintf(err, errlen, "apps.env_names: more than %d names or %d bytes in all",
			OSP_WIRE_MAX_ENV_REPORT_NAMES, OSP_WIRE_MAX_ENV_REPORT_BYTES);
		return OSP_ETOOBIG;
	}
	return OSP_OK;
}

static osp_err wire_check_register(const Ospec__V1__Register *r, char *err, size_t errlen)
{
	osp_err rv;

	if (r->nonce.len != OSP_WIRE_NONCE_LEN) {
		snprintf(err, errlen, "register nonce must be %d bytes", OSP_WIRE_NONCE_LEN);
		return OSP_EINVAL;
	}
	if (r->n_labels > OSP_WIRE_MAX_LABELS) {
		snprintf(err, errlen, "more than %d labels", OSP_WIRE_MAX_LABELS);
		return OSP_ETOOBIG;
	}
	for (size_t i = 0; i < r->n_labels; i++) {
		if (!osp_valid_label(r->labels[i]->key, r->labels[i]->value)) {
			snprintf(err, errlen, "label %zu is not a valid key=value", i);
			return OSP_EINVAL;
		}
	}
	if ((rv = wire_check_len("hostname", r->hostname, 255, err, errlen)) != OSP_OK ||
		(rv = wire_check_len("agent_version", r->agent_version, 64, err, errlen)) !=
			OSP_OK ||
		(rv = wire_check_apps(r->apps, r->n_apps, err, errlen)) != OSP_OK)
		return rv;
	if (r->n_in_doubt > OSP_WIRE_MAX_APPS) {
		snprintf(err, errlen, "more than %d in-doubt switches", OSP_WIRE_MAX_APPS);
		return OSP_ETOOBIG;
	}
	for (size_t i = 0; i < r->n_in_doubt; i++) {
		if ((rv = wire_check_id("in_doubt.switch_id", r->in_doubt[i]->switch_id, 1, err,
			     errlen)) != OSP_OK ||
			(rv = wire_check_id("in_doubt.app", r->in_doubt[i]->app, 1, err, errlen)) !=
				OSP_OK)
			return rv;
	}
	if (r->has_cert_chain_pem && r->cert_chain_pem.len > OSP_WIRE_MAX_CERT) {
		snprintf(err, errlen, "certificate chain longer than %d bytes", OSP_WIRE_MAX_CERT);
		return OSP_ETOOBIG;
	}
	if (r->has_signature && r->signature.len > OSP_WIRE_MAX_SIG) {
		snprintf(err, errlen, "signature longer than %d bytes", OSP_WIRE_MAX_SIG);
		return OSP_ETOOBIG;
	}
	return OSP_OK;
}

/* wire_check_stage_checks checks a Stage's required env names and smoke
 * checks (protocol 1.2). */
static osp_err wire_check_stage_checks(const Ospec__V1__Stage *s, char *err, size_t errlen)
{
	size_t names = 0, bytes = 0;
	char why[256];
	osp_err rv;

	if ((rv = wire_check_env_names("stage.require_env", s->require_env, s->n_require_env,
		     &names, &bytes, err, errlen)) != OSP_OK)
		return rv;
	if (s->n_smoke > OSP_WIRE_MAX_SMOKE) {
		snprintf(err, errlen, "field 'stage.smoke': more than %d checks", OSP_WIRE_MAX_SMOKE);
		return OSP_ETOOBIG;
	}
	for (size_t i = 0; i < s->n_smoke; i++) {
		if (osp_checks_smoke(s->smoke[i]->method, s->smoke[i]->path, s->smoke[i]->status, why,
			    sizeof(why)) != OSP_OK) {
			snprintf(err, errlen, "field 'stage.smoke': %s", why);
			return OSP_EINVAL;
		}
	}
	return OSP_OK;
}

static osp_err wire_check_stage(const Ospec__V1__Stage *s, char *err, size_t errlen)
{
	osp_err rv;

	if ((rv = wire_check_id("stage.app", s->app, 1, err, errlen)) != OSP_OK ||
		(rv = wire_check_version("stage.version", s->version, err, errlen)) != OSP_OK ||
		(rv = wire_check_len("stage.artifact_url", s->artifact_url, OSP_WIRE_MAX_URL, err,
			 errlen)) != OSP_OK ||
		(rv = wire_check_len("stage.sha256", s->sha256, 64, err, errlen)) != OSP_OK ||
		(rv = wire_check_len("stage.run", s->run, OSP_WIRE_MAX_RUN, err, errlen)) !=
			OSP_OK ||
		/* "idle": the agent picks the slot traffic does not go to */
		(s->slot == NULL || strcmp(s->slot, "idle") != 0 ?
			(rv = wire_check_slot("stage.slot", s->slot, err, errlen)) != OSP_OK : 0) ||
		(rv = wire_check_len("stage.health_path", s->health_path, OSP_WIRE_MAX_PATH, err,
			 errlen)) != OSP_OK)
		return rv;
	if (s->version == NULL || s->version[0] == '\0') {
		snprintf(err, errlen, "field 'stage.version' is missing");
		return OSP_EINVAL;
	}
	return wire_check_stage_checks(s, err, errlen);
}

static osp_err wire_check_command(const Ospec__V1__Command *c, char *err, size_t errlen)
{
	osp_err rv;

	if ((rv = wire_check_len("rollout_id", c->rollout_id, OSP_WIRE_MAX_ID, err, errlen)) !=
		OSP_OK)
		return rv;
	switch (c->kind_case) {
	case OSPEC__V1__COMMAND__KIND_STAGE:
		return wire_check_stage(c->stage, err, errlen);
	case OSPEC__V1__COMMAND__KIND_REVERT:
		if ((rv = wire_check_id("revert.app", c->revert->app, 1, err, errlen)) != OSP_OK ||
			(rv = wire_check_version("revert.version", c->revert->version, err,
				 errlen)) != OSP_OK ||
			(rv = wire_check_len("revert.run", c->revert->run, OSP_WIRE_MAX_RUN, err,
				 errlen)) != OSP_OK ||
			(rv = wire_check_len("revert.sha256", c->revert->sha256, 64, err, errlen)) !=
				OSP_OK ||
			(rv = wire_check_len("revert.from_sha256", c->revert->from_sha256, 64, err,
				 errlen)) != OSP_OK)
			return rv;
		return wire_check_slot("revert.slot", c->revert->slot, err, errlen);
	case OSPEC__V1__COMMAND__KIND_STOP:
		if ((rv = wire_check_id("stop.app", c->stop->app, 1, err, errlen)) != OSP_OK)
			return rv;
		return wire_check_slot("stop.slot", c->stop->slot, err, errlen);
	case OSPEC__V1__COMMAND__KIND_PREPARE:
		if ((rv = wire_check_id("prepare.switch_id", c->prepare->switch_id, 1, err,
			     errlen)) != OSP_OK ||
			(rv = wire_check_id("prepare.app", c->prepare->app, 1, err, errlen)) !=
				OSP_OK ||
			(rv = wire_check_version("prepare.expect_version", c->prepare->expect_version,
				 err, errlen)) != OSP_OK)
			return rv;
		return wire_check_slot("prepare.to_slot", c->prepare->to_slot, err, errlen);
	case OSPEC__V1__COMMAND__KIND_DECISION:
		if ((rv = wire_check_id("decision.switch_id", c->decision->switch_id, 1, err,
			     errlen)) != OSP_OK)
			return rv;
		return wire_check_id("decision.app", c->decision->app, 1, err, errlen);
	case OSPEC__V1__COMMAND__KIND_SCALE_DOWN:
		if ((rv = wire_check_id("scale_down.app", c->scale_down->app, 1, err, errlen)) !=
			OSP_OK)
			return rv;
		return wire_check_slot("scale_down.slot", c->scale_down->slot, err, errlen);
	case OSPEC__V1__COMMAND__KIND_WEIGHT:
		if ((rv = wire_check_id("weight.app", c->weight->app, 1, err, errlen)) != OSP_OK ||
			(rv = wire_check_len("weight.step_id", c->weight->step_id, OSP_WIRE_MAX_ID,
				 err, errlen)) != OSP_OK ||
			(rv = wire_check_bg_slot("weight.slot", c->weight->slot, err, errlen)) !=
				OSP_OK)
			return rv;
		if (c->weight->weight > 100) {
			snprintf(err, errlen, "field 'weight.weight' above 100");
			return OSP_EINVAL;
		}
		return OSP_OK;
	case OSPEC__V1__COMMAND__KIND_STATS:
		if ((rv = wire_check_id("stats.app", c->stats->app, 1, err, errlen)) != OSP_OK)
			return rv;
		return wire_check_bg_slot("stats.slot", c->stats->slot, err, errlen);
	case OSPEC__V1__COMMAND__KIND_NOOP:
		return wire_check_len("noop.note", c->noop->note, OSP_WIRE_MAX_TEXT, err, errlen);
	case OSPEC__V1__COMMAND__KIND__NOT_SET:
		/* a kind this build does not know (a newer coordinator's): the
		 * executor answers it REFUSED and the log moves on; failing the
		 * whole Commands would stop the node's log there for good */
		return OSP_OK;
	default:
		snprintf(err, errlen, "command %llu has no known kind", (unsigned long long)c->seq);
		return OSP_EINVAL;
	}
}

/* wire_check_log_reqs checks the log reads of a poll or heartbeat reply
 * (protocol 1.4). */
static osp_err wire_check_log_reqs(Ospec__V1__LogRequest **v, size_t n, char *err,
	size_t errlen)
{
	osp_err rv;

	if (n > OSP_WIRE_MAX_LOG_REQS) {
		snprintf(err, errlen, "more than %d log requests", OSP_WIRE_MAX_LOG_REQS);
		return OSP_ETOOBIG;
	}
	for (size_t i = 0; i < n; i++) {
		if ((rv = wire_check_id("logs.app", v[i]->app, 1, err, errlen)) != OSP_OK ||
			(rv = wire_check_slot("logs.slot", v[i]->slot, err, errlen)) != OSP_OK)
			return rv;
		if (v[i]->lines > OSP_WIRE_MAX_LOG_LINES) {
			snprintf(err, errlen, "field 'logs.lines' above %d", OSP_WIRE_MAX_LOG_LINES);
			return OSP_EINVAL;
		}
	}
	return OSP_OK;
}

/* wire_check_log_chunk checks an answer to a log read (protocol 1.4). */
static osp_err wire_check_log_chunk(const Ospec__V1__LogChunk *l, char *err, size_t errlen)
{
	osp_err rv;

	if ((rv = wire_check_id("log_chunk.app", l->app, 0, err, errlen)) != OSP_OK ||
		(rv = wire_check_slot("log_chunk.slot", l->slot, err, errlen)) != OSP_OK ||
		(rv = wire_check_len("log_chunk.error", l->error, OSP_WIRE_MAX_TEXT, err,
			 errlen)) != OSP_OK)
		return rv;
	if ((l->has_out && l->out.len > OSP_WIRE_MAX_LOG_DATA) ||
		(l->has_err && l->err.len > OSP_WIRE_MAX_LOG_DATA)) {
		snprintf(err, errlen, "field 'log_chunk.%s' longer than %d bytes",
			l->has_out && l->out.len > OSP_WIRE_MAX_LOG_DATA ? "out" : "err",
			OSP_WIRE_MAX_LOG_DATA);
		return OSP_ETOOBIG;
	}
	return OSP_OK;
}

/* wire_check_body checks the limits of each body kind. */
static osp_err wire_check_body(const osp_env *e, char *err, size_t errlen)
{
	osp_err rv;

	switch (e->body_case) {
	case OSPEC__V1__ENVELOPE__BODY_REGISTER:
		return wire_check_register(e->register_, err, errlen);
	case OSPEC__V1__ENVELOPE__BODY_HEARTBEAT:
		return wire_check_apps(e->heartbeat->apps, e->heartbeat->n_apps, err, errlen);
	case OSPEC__V1__ENVELOPE__BODY_COMMANDS:
		if (e->commands->n_entries > OSP_WIRE_MAX_CMDS) {
			snprintf(err, errlen, "more than %d commands", OSP_WIRE_MAX_CMDS);
			return OSP_ETOOBIG;
		}
		for (size_t i = 0; i < e->commands->n_entries; i++)
			if ((rv = wire_check_command(e->commands->entries[i], err, errlen)) !=
				OSP_OK)
				return rv;
		return wire_check_log_reqs(e->commands->logs, e->commands->n_logs, err, errlen);
	case OSPEC__V1__ENVELOPE__BODY_HEARTBEAT_ACK:
		return wire_check_log_reqs(e->heartbeat_ack->logs, e->heartbeat_ack->n_logs, err,
			errlen);
	case OSPEC__V1__ENVELOPE__BODY_LOG_CHUNK:
		return wire_check_log_chunk(e->log_chunk, err, errlen);
	case OSPEC__V1__ENVELOPE__BODY_RESULT:
		if ((rv = wire_check_len("result.message", e->result->message, OSP_WIRE_MAX_TEXT,
			     err, errlen)) != OSP_OK ||
			(rv = wire_check_id("result.app", e->result->app, 0, err, errlen)) !=
				OSP_OK ||
			(rv = wire_check_version("result.version", e->result->version, err,
				 errlen)) != OSP_OK ||
			(rv = wire_check_id("result.switch_id", e->result->switch_id, 0, err,
				 errlen)) != OSP_OK ||
			(rv = wire_check_version("result.previous_version",
				 e->result->previous_version, err, errlen)) != OSP_OK ||
			(rv = wire_check_len("result.sha256", e->result->sha256, 64, err, errlen)) !=
				OSP_OK ||
			(rv = wire_check_slot("result.active_slot", e->result->active_slot, err,
				 errlen)) != OSP_OK)
			return rv;
		return wire_check_slot("result.slot", e->result->slot, err, errlen);
	case OSPEC__V1__ENVELOPE__BODY_EVENT:
		if ((rv = wire_check_len("event.kind", e->event->kind, 64, err, errlen)) !=
				OSP_OK ||
			(rv = wire_check_id("event.app", e->event->app, 0, err, errlen)) != OSP_OK)
			return rv;
		return wire_check_len("event.message", e->event->message, OSP_WIRE_MAX_TEXT, err,
			errlen);
	case OSPEC__V1__ENVELOPE__BODY_ERROR:
		return wire_check_len("error.message", e->error->message, OSP_WIRE_MAX_TEXT, err,
			errlen);
	case OSPEC__V1__ENVELOPE__BODY_CHALLENGE:
		if (e->challenge->nonce.len != OSP_WIRE_NONCE_LEN) {
			snprintf(err, errlen, "challenge nonce must be %d bytes",
				OSP_WIRE_NONCE_LEN);
			return OSP_EINVAL;
		}
		return OSP_OK;
	case OSPEC__V1__ENVELOPE__BODY_HELLO:
		return wire_check_len("hello.agent_version", e->hello->agent_version, 64, err,
			errlen);
	default:
		return OSP_OK;
	}
}

/* wire_fields_ok reports whether every unknown field in m (and the messages
 * inside it) has a valid field number (1..2^29-1). protobuf-c keeps an
 * unknown field whose overlong tag says 0 (or too big a number) and would
 * write it back in a form that no longer decodes: a record made from it
 * could not be read again. Found by tests/fuzz/fuzz_envelope. */
static bool wire_fields_ok(const ProtobufCMessage *m, unsigned depth)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	const char *base = (const char *)m;

	if (depth > 16)
		return false;
	for (unsigned i = 0; i < m->n_unknown_fields; i++)
		if (m->unknown_fields[i].tag == 0 || m->unknown_fields[i].tag > 536870911u)
			return false;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];

		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(base + f->quantifier_offset);
			ProtobufCMessage *const *v = *(ProtobufCMessage *const *const *)(base + f->offset);
			for (size_t k = 0; k < n; k++)
				if (v[k] != NULL && !wire_fields_ok(v[k], depth + 1))
					return false;
			continue;
		}
		/* a oneof member is there only when the case says so */
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
			*(const uint32_t *)(base + f->quantifier_offset) != f->id)
			continue;
		if (*(ProtobufCMessage *const *)(base + f->offset) != NULL &&
			!wire_fields_ok(*(ProtobufCMessage *const *)(base + f->offset), depth + 1))
			return false;
	}
	return true;
}

osp_err osp_wire_decode(const void *buf, size_t len, osp_env **out, char *err, size_t errlen)
{
	osp_env *e;
	osp_err rv;

	*out = NULL;
	if (len > OSP_WIRE_MAX_MSG) {
		snprintf(err, errlen, "message of %zu bytes exceeds the %d byte limit", len,
			OSP_WIRE_MAX_MSG);
		return OSP_ETOOBIG;
	}
	e = ospec__v1__envelope__unpack(NULL, len, buf);
	if (e == NULL) {
		snprintf(err, errlen, "undecodable envelope (%zu bytes)", len);
		return OSP_EDECODE;
	}
	if (e->version_major != OSP_PROTO_MAJOR) {
		snprintf(err, errlen, "unsupported protocol version %u (this side speaks %d)",
			e->version_major, OSP_PROTO_MAJOR);
		*out = e;
		return OSP_EVERSION;
	}
	if (e->body_case == OSPEC__V1__ENVELOPE__BODY__NOT_SET) {
		snprintf(err, errlen, "envelope without a body");
		rv = OSP_EDECODE;
		goto fail;
	}
	if (!wire_fields_ok(&e->base, 0)) {
		snprintf(err, errlen, "envelope with an invalid field number");
		rv = OSP_EDECODE;
		goto fail;
	}
	if ((rv = wire_check_id("node_id", e->node_id, 0, err, errlen)) != OSP_OK)
		goto fail;
	if (e->instance_uuid != NULL &&
		strnlen(e->instance_uuid, OSP_WIRE_MAX_UUID + 1) > OSP_WIRE_MAX_UUID) {
		snprintf(err, errlen, "field 'instance_uuid' longer than %d bytes",
			OSP_WIRE_MAX_UUID);
		rv = OSP_ETOOBIG;
		goto fail;
	}
	if ((rv = wire_check_body(e, err, errlen)) != OSP_OK)
		goto fail;
	*out = e;
	return OSP_OK;
fail:
	ospec__v1__envelope__free_unpacked(e, NULL);
	return rv;
}

osp_err osp_wire_error_msg(Ospec__V1__ErrorCode code, const char *text, nng_msg **out)
{
	osp_env env;
	Ospec__V1__Error e;

	osp_wire_env_init(&env, NULL, NULL, 0);
	ospec__v1__error__init(&e);
	e.code = code;
	e.message = (char *)text;
	env.body_case = OSPEC__V1__ENVELOPE__BODY_ERROR;
	env.error = &e;
	return osp_wire_encode(&env, out);
}

osp_err osp_nng_err(int rv)
{
	switch (rv) {
	case 0:
		return OSP_OK;
	case NNG_ENOMEM:
		return OSP_ENOMEM;
	case NNG_ETIMEDOUT:
		return OSP_ETIMEDOUT;
	case NNG_ECLOSED:
	case NNG_ECANCELED:
		return OSP_ECLOSED;
	case NNG_EINVAL:
	case NNG_EADDRINVAL:
		return OSP_EINVAL;
	case NNG_EMSGSIZE:
		return OSP_ETOOBIG;
	case NNG_EPERM:
		return OSP_EPERM;
	default:
		return OSP_ENET;
	}
}

osp_err osp_req_call(nng_ctx ctx, nng_msg *req, int timeout_ms, nng_msg **rep)
{
	nng_aio *aio = NULL;
	int rv;

	*rep = NULL;
	if ((rv = nng_aio_alloc(&aio, NULL, NULL)) != 0) {
		nng_msg_free(req);
		return osp_nng_err(rv);
	}
	nng_aio_set_timeout(aio, timeout_ms < 0 ? NNG_DURATION_INFINITE : timeout_ms);
	nng_aio_set_msg(aio, req);
	nng_ctx_send(ctx, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0) {
		nng_msg_free(nng_aio_get_msg(aio)); /* a failed send leaves it ours */
		nng_aio_free(aio);
		return osp_nng_err(rv);
	}
	nng_ctx_recv(ctx, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0) {
		nng_aio_free(aio);
		return osp_nng_err(rv);
	}
	*rep = nng_aio_get_msg(aio);
	nng_aio_free(aio);
	return OSP_OK;
}
