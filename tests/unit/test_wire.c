/*
 * test_wire.c - the agent protocol envelope: round trips of every body kind,
 * refusal of garbage, truncation and foreign versions, and osp_req_call
 * against a real rep0 socket on inproc://. Field and size limits are in
 * test_wire_limits.c. Timeouts are only checked as lower bounds (the machine
 * may be loaded).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include "ospec/util.h"
#include "ospec/wire.h"
#include "test_support_wire.h"

/* wire_roundtrip decodes env's encoding, checks the envelope header and that
 * the decoded envelope packs to the very same bytes: every field survived.
 * The caller spot-checks the body and frees the result. */
static osp_env *wire_roundtrip(const osp_env *env)
{
	osp_env *d = NULL;
	nng_msg *m = NULL;
	uint8_t *again;
	size_t len;
	char err[256];

	assert_int_equal(osp_wire_encode(env, &m), OSP_OK);
	len = nng_msg_len(m);
	assert_int_equal(osp_wire_decode(nng_msg_body(m), len, &d, err, sizeof(err)), OSP_OK);
	assert_non_null(d);
	assert_int_equal(d->version_major, OSP_PROTO_MAJOR);
	assert_true(d->has_version_minor);
	assert_int_equal(d->version_minor, OSP_PROTO_MINOR);
	assert_int_equal(d->msg_id, env->msg_id);
	if (env->node_id != NULL)
		assert_string_equal(d->node_id, env->node_id);
	else
		assert_null(d->node_id);
	if (env->instance_uuid != NULL)
		assert_string_equal(d->instance_uuid, env->instance_uuid);
	assert_int_equal(d->body_case, env->body_case);
	assert_int_equal(ospec__v1__envelope__get_packed_size(d), len);
	again = malloc(len ? len : 1);
	assert_non_null(again);
	ospec__v1__envelope__pack(d, again);
	assert_memory_equal(again, nng_msg_body(m), len);
	free(again);
	nng_msg_free(m);
	return d;
}

static void test_wire_roundtrip_handshake(void **state)
{
	uint8_t nonce[OSP_WIRE_NONCE_LEN], pem[100], sig[64];
	Ospec__V1__Hello hello = { TS_WIRE_BASE(hello), .agent_version = "0.1.0" };
	Ospec__V1__Challenge ch = { TS_WIRE_BASE(challenge), .nonce = { sizeof(nonce), nonce },
		.has_proof_required = 1, .proof_required = 1 };
	Ospec__V1__Label l0 = { TS_WIRE_BASE(label), .key = "region", .value = "us-east" };
	Ospec__V1__Label l1 = { TS_WIRE_BASE(label), .key = "example.com/tier", .value = "" };
	Ospec__V1__Label *lp[2] = { &l0, &l1 };
	Ospec__V1__AppState app = ts_wire_app_state("shop", "1.2.3+build.4"), *appp[1] = { &app };
	Ospec__V1__InDoubt id = { TS_WIRE_BASE(in_doubt), .switch_id = "sw-1", .app = "shop" };
	Ospec__V1__InDoubt *idp[1] = { &id };
	Ospec__V1__Register reg = { TS_WIRE_BASE(register), .nonce = { sizeof(nonce), nonce },
		.n_labels = 2, .labels = lp, .has_cursor = 1, .cursor = 42,
		.hostname = "web-1.example.com", .agent_version = "0.1.0", .n_apps = 1,
		.apps = appp, .n_in_doubt = 1, .in_doubt = idp, .has_cert_chain_pem = 1,
		.cert_chain_pem = { sizeof(pem), pem }, .has_signature = 1,
		.signature = { sizeof(sig), sig } };
	Ospec__V1__Registered regd = { TS_WIRE_BASE(registered), .heartbeat_ms = 5000,
		.has_poll_hold_ms = 1, .poll_hold_ms = 30000, .has_cursor = 1, .cursor = 40 };
	osp_env env, *d;

	(void)state;
	for (size_t i = 0; i < sizeof(nonce); i++)
		nonce[i] = (uint8_t)(i * 7);
	memset(pem, 'P', sizeof(pem));
	memset(sig, 0xa5, sizeof(sig));

	osp_wire_env_init(&env, "web-1", "9b2f1c1e-2a51-4d7e-8d0a-3b5c2d1e0f99", 1);
	env.body_case = OSPEC__V1__ENVELOPE__BODY_HELLO;
	env.hello = &hello;
	d = wire_roundtrip(&env);
	assert_string_equal(d->hello->agent_version, "0.1.0");
	osp_wire_free(d);

	osp_wire_env_init(&env, NULL, NULL, 2);
	env.body_case = OSPEC__V1__ENVELOPE__BODY_CHALLENGE;
	env.challenge = &ch;
	d = wire_roundtrip(&env);
	assert_int_equal(d->challenge->nonce.len, sizeof(nonce));
	assert_memory_equal(d->challenge->nonce.data, nonce, sizeof(nonce));
	assert_true(d->challenge->proof_required);
	osp_wire_free(d);

	osp_wire_env_init(&env, "web-1", "9b2f1c1e-2a51-4d7e-8d0a-3b5c2d1e0f99", 3);
	env.body_case = OSPEC__V1__ENVELOPE__BODY_REGISTER;
	env.register_ = &reg;
	d = wire_roundtrip(&env);
	assert_int_equal(d->register_->n_labels, 2);
	assert_string_equal(d->register_->labels[1]->key, "example.com/tier");
	assert_string_equal(d->register_->labels[1]->value, "");
	assert_int_equal(d->register_->cursor, 42);
	assert_string_equal(d->register_->apps[0]->version, "1.2.3+build.4");
	assert_true(d->register_->apps[0]->healthy);
	assert_string_equal(d->register_->in_doubt[0]->switch_id, "sw-1");
	assert_memory_equal(d->register_->cert_chain_pem.data, pem, sizeof(pem));
	assert_memory_equal(d->register_->signature.data, sig, sizeof(sig));
	osp_wire_free(d);

	osp_wire_env_init(&env, NULL, NULL, 3);
	env.body_case = OSPEC__V1__ENVELOPE__BODY_REGISTERED;
	env.registered = &regd;
	d = wire_roundtrip(&env);
	assert_int_equal(d->registered->heartbeat_ms, 5000);
	assert_int_equal(d->registered->poll_hold_ms, 30000);
	assert_int_equal(d->registered->cursor, 40);
	osp_wire_free(d);
}

static void test_wire_roundtrip_liveness(void **state)
{
	Ospec__V1__AppState a0 = ts_wire_app_state("shop", "2.0.0");
	Ospec__V1__AppState a1 = ts_wire_app_state("search", "2024.01.02-rc_1");
	Ospec__V1__AppState *ap[2] = { &a0, &a1 };
	Ospec__V1__Heartbeat hb = { TS_WIRE_BASE(heartbeat), .has_cursor = 1, .cursor = 9,
		.n_apps = 2, .apps = ap };
	Ospec__V1__HeartbeatAck hba = { TS_WIRE_BASE(heartbeat_ack), .has_heartbeat_ms = 1,
		.heartbeat_ms = 2500 };
	Ospec__V1__Poll poll = { TS_WIRE_BASE(poll), .cursor = 1ULL << 40, .has_max_entries = 1,
		.max_entries = 32 };
	Ospec__V1__Ack ack = { TS_WIRE_BASE(ack), .has_seq = 1, .seq = 77 };
	osp_env env, *d;

	(void)state;
	osp_wire_env_init(&env, "db-2", NULL, 100);
	env.body_case = OSPEC__V1__ENVELOPE__BODY_HEARTBEAT;
	env.heartbeat = &hb;
	d = wire_roundtrip(&env);
	assert_int_equal(d->heartbeat->cursor, 9);
	assert_int_equal(d->heartbeat->n_apps, 2);
	assert_string_equal(d->heartbeat->apps[1]->app, "search");
	assert_string_equal(d->heartbeat->apps[1]->version, "2024.01.02-rc_1");
	osp_wire_free(d);

	osp_wire_env_init(&env, NULL, NULL, 100);
	env.body_case = OSPEC__V1__ENVELOPE__BODY_HEARTBEAT_ACK;
	env.heartbeat_ack = &hba;
	d = wire_roundtrip(&env);
	assert_int_equal(d->heartbeat_ack->heartbeat_ms, 2500);
	osp_wire_free(d);

	osp_wire_env_init(&env, "db-2", NULL, UINT64_MAX);
	env.body_case = OSPEC__V1__ENVELOPE__BODY_POLL;
	env.poll = &poll;
	d = wire_roundtrip(&env);
	assert_int_equal(d->poll->cursor, 1ULL << 40);
	assert_int_equal(d->poll->max_entries, 32);
	osp_wire_free(d);

	osp_wire_env_init(&env, NULL, NULL, 0);
	env.body_case = OSPEC__V1__ENVELOPE__BODY_ACK;
	env.ack = &ack;
	d = wire_roundtrip(&env);
	assert_int_equal(d->ack->seq, 77);
	osp_wire_free(d);
}


static void test_wire_roundtrip_commands(void **state)
{
	ts_wire_cmds w;
	osp_env env, *d;
	Ospec__V1__Command **e;

	(void)state;
	ts_wire_cmds_init(&w, &env);
	d = wire_roundtrip(&env);
	assert_int_equal(d->commands->n_entries, 7);
	assert_int_equal(d->commands->log_end, 7);
	e = d->commands->entries;
	for (int i = 0; i < 7; i++) {
		assert_int_equal(e[i]->seq, i + 1);
		assert_int_equal(e[i]->generation, 10 + i);
		assert_int_equal(e[i]->kind_case, OSPEC__V1__COMMAND__KIND_NOOP + i);
	}
	assert_string_equal(e[0]->noop->note, "hello");
	assert_string_equal(e[1]->stage->artifact_url, w.stage.artifact_url);
	assert_string_equal(e[1]->stage->run, "./shop --port {port}");
	assert_int_equal(e[1]->stage->green_port, 8082);
	assert_false(e[1]->stage->has_blue_port);
	assert_string_equal(e[2]->revert->version, "1.2.2");
	assert_string_equal(e[3]->stop->slot, "blue");
	assert_string_equal(e[4]->prepare->to_slot, "green");
	assert_true(e[5]->decision->commit);
	assert_int_equal(e[6]->scale_down->slot_generation, 5);
	osp_wire_free(d);
}

static void test_wire_roundtrip_result_event_error(void **state)
{
	Ospec__V1__CommandResult res = { TS_WIRE_BASE(command_result), .seq = 6,
		.status = OSPEC__V1__RESULT_STATUS__RESULT_VOTE_NO,
		.message = "health check '/healthz' failed 3 times", .app = "shop",
		.version = "1.2.3", .slot = "green", .has_finished_ms = 1,
		.finished_ms = 1700000000123ULL, .switch_id = "sw-9" };
	Ospec__V1__Event ev = { TS_WIRE_BASE(event), .kind = "app.crashed", .app = "shop",
		.message = "exit status 3" };
	osp_env env, *d = NULL;
	nng_msg *m = NULL;
	char err[256];

	(void)state;
	osp_wire_env_init(&env, "web-1", NULL, 8);
	env.body_case = OSPEC__V1__ENVELOPE__BODY_RESULT;
	env.result = &res;
	d = wire_roundtrip(&env);
	assert_int_equal(d->result->seq, 6);
	assert_int_equal(d->result->status, OSPEC__V1__RESULT_STATUS__RESULT_VOTE_NO);
	assert_string_equal(d->result->message, res.message);
	assert_string_equal(d->result->switch_id, "sw-9");
	osp_wire_free(d);

	osp_wire_env_init(&env, "web-1", NULL, 9);
	env.body_case = OSPEC__V1__ENVELOPE__BODY_EVENT;
	env.event = &ev;
	d = wire_roundtrip(&env);
	assert_string_equal(d->event->kind, "app.crashed");
	assert_string_equal(d->event->message, "exit status 3");
	osp_wire_free(d);

	/* an Error reply built by the helper */
	assert_int_equal(osp_wire_error_msg(OSPEC__V1__ERROR_CODE__ERR_REPLAY, "msg_id 4 seen",
				 &m),
		OSP_OK);
	d = NULL;
	assert_int_equal(osp_wire_decode(nng_msg_body(m), nng_msg_len(m), &d, err, sizeof(err)),
		OSP_OK);
	nng_msg_free(m);
	assert_int_equal(d->body_case, OSPEC__V1__ENVELOPE__BODY_ERROR);
	assert_int_equal(d->error->code, OSPEC__V1__ERROR_CODE__ERR_REPLAY);
	assert_string_equal(d->error->message, "msg_id 4 seen");
	osp_wire_free(d);
	osp_wire_free(NULL);
}

/* wire_rand is xorshift64: a fixed seed keeps failures reproducible. */
static uint64_t wire_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void test_wire_garbage_random(void **state)
{
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	uint8_t buf[512];
	char err[256];

	(void)state;
	for (int i = 0; i < 3000; i++) {
		size_t len = (size_t)(wire_rand(&seed) % sizeof(buf));
		osp_env *d = (osp_env *)1;
		osp_err rv;

		for (size_t j = 0; j < len; j++)
			buf[j] = (uint8_t)wire_rand(&seed);
		err[0] = '\0';
		rv = osp_wire_decode(buf, len, &d, err, sizeof(err));
		if (rv != OSP_EDECODE)
			fail_msg("random buffer %d (%zu bytes): %s '%s'", i, len,
				osp_strerror(rv), err);
		assert_null(d);
		assert_true(err[0] != '\0');
	}
}

static void test_wire_garbage_patterns(void **state)
{
	static const struct {
		const char *name;
		const char *bytes;
		size_t len;
	} pats[] = {
		{ "empty", "", 0 },
		{ "one zero", "\x00", 1 },
		{ "zeros", "\x00\x00\x00\x00\x00\x00\x00\x00", 8 },
		{ "ones", "\xff\xff\xff\xff\xff\xff\xff\xff", 8 },
		{ "http", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27 },
		{ "json", "{\"version_major\":1}", 19 },
		{ "endless varint", "\x08\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80", 12 },
		{ "huge body length", "\x08\x01\x52\xff\xff\xff\xff\x07", 8 },
		{ "bad wire type", "\x08\x01\x57", 3 },
		{ "field zero", "\x00\x01\x08\x01", 4 },
		{ "version only", "\x08\x01", 2 },
		{ "body without version", "\x52\x00", 2 },
		{ "challenge without nonce", "\x08\x01\x5a\x00", 4 },
	};
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(pats) / sizeof(pats[0]); i++) {
		osp_env *d = NULL;
		osp_err rv;

		err[0] = '\0';
		rv = osp_wire_decode(pats[i].bytes, pats[i].len, &d, err, sizeof(err));
		if (rv != OSP_EDECODE)
			fail_msg("pattern '%s': %s '%s'", pats[i].name, osp_strerror(rv), err);
		assert_null(d);
	}
	/* the smallest valid envelope for contrast: version 1 and an empty Hello */
	{
		osp_env *d = NULL;

		assert_int_equal(osp_wire_decode("\x08\x01\x52\x00", 4, &d, err, sizeof(err)),
			OSP_OK);
		assert_int_equal(d->body_case, OSPEC__V1__ENVELOPE__BODY_HELLO);
		osp_wire_free(d);
	}
}

static void test_wire_truncated(void **state)
{
	ts_wire_cmds w;
	osp_env env, *d = NULL;
	nng_msg *m = NULL;
	char err[256];
	size_t len;

	(void)state;
	ts_wire_cmds_init(&w, &env);
	env.node_id = "web-1";
	assert_int_equal(osp_wire_encode(&env, &m), OSP_OK);
	len = nng_msg_len(m);
	assert_true(len > 100);
	/* every strict prefix is refused: the body is last and length-delimited */
	for (size_t cut = 0; cut < len; cut++) {
		osp_err rv = osp_wire_decode(nng_msg_body(m), cut, &d, err, sizeof(err));

		if (rv != OSP_EDECODE)
			fail_msg("prefix of %zu/%zu bytes: %s '%s'", cut, len, osp_strerror(rv),
				err);
		assert_null(d);
	}
	assert_int_equal(osp_wire_decode(nng_msg_body(m), len, &d, err, sizeof(err)), OSP_OK);
	osp_wire_free(d);
	nng_msg_free(m);
}

static void test_wire_no_body(void **state)
{
	osp_env env, *d = NULL;
	char err[256];

	(void)state;
	osp_wire_env_init(&env, "web-1", NULL, 1);
	assert_int_equal(ts_wire_encode_decode(&env, &d, err, sizeof(err)), OSP_EDECODE);
	assert_non_null(strstr(err, "body"));
}

static void test_wire_version_major(void **state)
{
	Ospec__V1__Hello hello = { TS_WIRE_BASE(hello) };
	osp_env env, *d = NULL;
	char err[256];

	(void)state;
	osp_wire_env_init(&env, "web-1", NULL, 1);
	env.body_case = OSPEC__V1__ENVELOPE__BODY_HELLO;
	env.hello = &hello;
	env.version_major = 2;
	assert_int_equal(ts_wire_encode_decode(&env, &d, err, sizeof(err)), OSP_EVERSION);
	/* set so the caller can answer with its msg_id */
	assert_non_null(d);
	assert_int_equal(d->version_major, 2);
	assert_int_equal(d->msg_id, 1);
	assert_non_null(strstr(err, "version 2"));
	osp_wire_free(d);

	/* a version-2 peer's envelope may lack a v1 body: still EVERSION */
	osp_wire_env_init(&env, NULL, NULL, 2);
	env.version_major = 0;
	d = NULL;
	assert_int_equal(ts_wire_encode_decode(&env, &d, err, sizeof(err)), OSP_EVERSION);
	assert_non_null(d);
	osp_wire_free(d);
}
static void test_wire_nng_err(void **state)
{
	(void)state;
	assert_int_equal(osp_nng_err(0), OSP_OK);
	assert_int_equal(osp_nng_err(NNG_ETIMEDOUT), OSP_ETIMEDOUT);
	assert_int_equal(osp_nng_err(NNG_ECLOSED), OSP_ECLOSED);
	assert_int_equal(osp_nng_err(NNG_ECANCELED), OSP_ECLOSED);
	assert_int_equal(osp_nng_err(NNG_ENOMEM), OSP_ENOMEM);
	assert_int_equal(osp_nng_err(NNG_EMSGSIZE), OSP_ETOOBIG);
	assert_int_equal(osp_nng_err(NNG_EADDRINVAL), OSP_EINVAL);
	assert_int_equal(osp_nng_err(NNG_ECONNREFUSED), OSP_ENET);
}

/* An echo server: answers n requests with their own bytes, then returns. */
typedef struct wire_srv {
	nng_socket s;
	int n;
	int answered;
} wire_srv;

static void *wire_echo_main(void *arg)
{
	wire_srv *srv = arg;

	for (int i = 0; i < srv->n; i++) {
		nng_msg *m = NULL;

		if (nng_recvmsg(srv->s, &m, 0) != 0)
			break;
		if (nng_sendmsg(srv->s, m, 0) != 0) {
			nng_msg_free(m);
			break;
		}
		srv->answered++;
	}
	return NULL;
}

/* wire_req_open opens a req0 socket and context dialed (non-blocking) at url. */
static void wire_req_open(const char *url, nng_socket *s, nng_ctx *ctx)
{
	assert_int_equal(nng_req0_open(s), 0);
	assert_int_equal(nng_dial(*s, url, NULL, NNG_FLAG_NONBLOCK), 0);
	assert_int_equal(nng_ctx_open(ctx, *s), 0);
}

static void test_wire_req_call_echo(void **state)
{
	const char *url = "inproc://test-wire-echo";
	wire_srv srv = { .n = 3 };
	nng_socket req;
	nng_ctx ctx;
	pthread_t th;
	osp_env env, *d = NULL;
	Ospec__V1__Poll poll;
	char err[256];

	(void)state;
	assert_int_equal(nng_rep0_open(&srv.s), 0);
	assert_int_equal(nng_listen(srv.s, url, NULL, 0), 0);
	assert_int_equal(pthread_create(&th, NULL, wire_echo_main, &srv), 0);
	wire_req_open(url, &req, &ctx);

	for (uint64_t i = 1; i <= 3; i++) {
		nng_msg *m = NULL, *rep = NULL;

		osp_wire_env_init(&env, "web-1", NULL, i);
		ospec__v1__poll__init(&poll);
		poll.cursor = 100 + i;
		env.body_case = OSPEC__V1__ENVELOPE__BODY_POLL;
		env.poll = &poll;
		assert_int_equal(osp_wire_encode(&env, &m), OSP_OK);
		/* generous: only a hang would fail; the last call waits forever */
		assert_int_equal(osp_req_call(ctx, m, i < 3 ? 60000 : -1, &rep), OSP_OK);
		assert_non_null(rep);
		assert_int_equal(osp_wire_decode(nng_msg_body(rep), nng_msg_len(rep), &d, err,
					 sizeof(err)),
			OSP_OK);
		assert_int_equal(d->msg_id, i);
		assert_int_equal(d->poll->cursor, 100 + i);
		osp_wire_free(d);
		nng_msg_free(rep);
	}
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(srv.answered, 3);
	nng_close(req);
	nng_close(srv.s);
}

static void test_wire_req_call_timeout(void **state)
{
	const char *url = "inproc://test-wire-silent";
	nng_socket rep, req, lonely;
	nng_ctx ctx, lctx;
	nng_msg *m = NULL, *r = (nng_msg *)1;
	int64_t t0;

	(void)state;
	/* a peer that takes the request and never answers */
	assert_int_equal(nng_rep0_open(&rep), 0);
	assert_int_equal(nng_listen(rep, url, NULL, 0), 0);
	wire_req_open(url, &req, &ctx);
	assert_int_equal(osp_wire_error_msg(0, "ping", &m), OSP_OK);
	t0 = osp_now_mono_ms();
	assert_int_equal(osp_req_call(ctx, m, 300, &r), OSP_ETIMEDOUT);
	assert_true(osp_now_mono_ms() - t0 >= 250);
	assert_null(r);

	/* no peer at all: the send itself times out and the request is freed */
	wire_req_open("inproc://test-wire-nobody", &lonely, &lctx);
	assert_int_equal(osp_wire_error_msg(0, "ping", &m), OSP_OK);
	r = (nng_msg *)1;
	t0 = osp_now_mono_ms();
	assert_int_equal(osp_req_call(lctx, m, 200, &r), OSP_ETIMEDOUT);
	assert_true(osp_now_mono_ms() - t0 >= 150);
	assert_null(r);

	/* a closed socket: ECLOSED, and the request is still consumed */
	nng_close(lonely);
	assert_int_equal(osp_wire_error_msg(0, "ping", &m), OSP_OK);
	assert_int_equal(osp_req_call(lctx, m, 1000, &r), OSP_ECLOSED);
	assert_null(r);
	nng_close(req);
	nng_close(rep);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wire_roundtrip_handshake),
		cmocka_unit_test(test_wire_roundtrip_liveness),
		cmocka_unit_test(test_wire_roundtrip_commands),
		cmocka_unit_test(test_wire_roundtrip_result_event_error),
		cmocka_unit_test(test_wire_garbage_random),
		cmocka_unit_test(test_wire_garbage_patterns),
		cmocka_unit_test(test_wire_truncated),
		cmocka_unit_test(test_wire_no_body),
		cmocka_unit_test(test_wire_version_major),
		cmocka_unit_test(test_wire_nng_err),
		cmocka_unit_test(test_wire_req_call_echo),
		cmocka_unit_test(test_wire_req_call_timeout),
	};

	return cmocka_run_group_tests(tests, NULL, ts_wire_teardown);
}
