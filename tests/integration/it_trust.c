/*
 * it_trust.c - mutual TLS, proven node identity, roles on the control API,
 * nothing before register, secrets kept out of every output: real
 * coordinator, agents and ospecctl on loopback.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>

#include "harness.h"
#include "ospec/tls.h"
#include "ospec/util.h"
#include "ospec/wire.h"

#define IT_UUID "00000000-0000-4000-8000-000000000001"

static int it_setup(void **state)
{
	return h_env_fixture_setup(state, "trust");
}

/* it_pki makes DIR/pki: a CA, the coordinator (127.0.0.1), the given nodes,
 * admin alice and viewer bob. */
static void it_pki(h_env *e, const char *const nodes[])
{
	assert_int_equal(h_certs(e, "init", "pki", NULL), 0);
	assert_int_equal(h_certs(e, "issue", "pki", "--coordinator", "127.0.0.1", NULL), 0);
	for (size_t i = 0; nodes != NULL && nodes[i] != NULL; i++)
		assert_int_equal(h_certs(e, "issue", "pki", "--node", nodes[i], NULL), 0);
	assert_int_equal(h_certs(e, "issue", "pki", "--admin", "alice", NULL), 0);
	assert_int_equal(h_certs(e, "issue", "pki", "--viewer", "bob", NULL), 0);
}

/* it_coord_tls starts a coordinator on tls+tcp:// presenting cert name
 * (from DIR/pki), with a TLS control endpoint at ctl_url (may be NULL). */
static void it_coord_tls(h_env *e, const char *name, const char *ctl_url)
{
	char cfg[400];
	char *extra[] = { "-c", cfg, ctl_url ? "--control-tls" : NULL, (char *)ctl_url, NULL };

	h_use_tls(e);
	assert_true(h_tls_yaml(e, "coordinator.yaml", "pki", "pki", name, NULL, cfg, sizeof(cfg)));
	assert_non_null(h_coord_start(e, "500ms", extra));
}

/* it_agent_tls starts agent id with cert name from DIR/cert_dir, its state
 * in DIR/state (NULL: the harness's), extra YAML (may be NULL). */
static h_proc *it_agent_tls(h_env *e, const char *id, const char *cert_dir, const char *name,
	const char *state, const char *yaml)
{
	char cfg[400], file[128], dir[400], pname[80];
	char *argv[16];
	int n = 0;

	snprintf(file, sizeof(file), "agent-%s-%s.yaml", id, state ? state : "main");
	assert_true(h_tls_yaml(e, file, "pki", cert_dir, name, yaml, cfg, sizeof(cfg)));
	if (state == NULL) {
		char *extra[] = { "-c", cfg, NULL };
		return h_agent_start(e, id, NULL, extra);
	}
	snprintf(dir, sizeof(dir), "%s/%s", e->dir, state);
	snprintf(pname, sizeof(pname), "%s", state);
	argv[n++] = (char *)h_bin("ospec-agent");
	argv[n++] = "-c";
	argv[n++] = cfg;
	argv[n++] = "--id";
	argv[n++] = (char *)id;
	argv[n++] = "--coordinator";
	argv[n++] = e->agents_url;
	argv[n++] = "--state";
	argv[n++] = dir;
	argv[n++] = "--log-level";
	argv[n++] = "debug";
	argv[n] = NULL;
	return h_spawn(e, pname, argv);
}

struct it_node_is {
	const char *id;
	const char *state;    /* "up", "down", or NULL: absent */
	char uuid[64];
};

static bool it_node_is(h_env *e, void *arg)
{
	struct it_node_is *s = arg;
	osp_json *nodes = h_ctl_json(e, NULL, "nodes", NULL);
	const osp_json *n = h_node(nodes, s->id);
	bool ok;

	if (nodes == NULL)
		return false;
	if (s->state == NULL) {
		ok = n == NULL;
	} else {
		ok = n != NULL && strcmp(osp_json_get_str(n, "state"), s->state) == 0;
		if (ok)
			snprintf(s->uuid, sizeof(s->uuid), "%s", osp_json_get_str(n, "instance_uuid"));
	}
	osp_json_free(nodes);
	return ok;
}

static int64_t it_stat(h_env *e, const char *key)
{
	osp_json *j = h_ctl_json(e, NULL, "stats", NULL);
	int64_t v = osp_json_get_int(j, key, -1);

	osp_json_free(j);
	return v;
}

/* web-1's certificate claiming web-2: refused with the reason, logged,
 * counted; the real web-2 is unaffected */
static void test_trust_impostor_refused(void **state)
{
	h_env *e = *state;
	static const char *const nodes[] = { "web-1", "web-2", NULL };
	struct it_node_is up1 = { "web-1", "up", "" }, up2 = { "web-2", "up", "" };
	char before[64], why[512];
	h_proc *imp;

	it_pki(e, nodes);
	it_coord_tls(e, "127.0.0.1", NULL);
	assert_non_null(it_agent_tls(e, "web-1", "pki", "web-1", NULL, NULL));
	assert_non_null(it_agent_tls(e, "web-2", "pki", "web-2", NULL, NULL));
	assert_true(h_wait_for(it_node_is, e, &up1, h_ms(20000)));
	assert_true(h_wait_for(it_node_is, e, &up2, h_ms(20000)));
	snprintf(before, sizeof(before), "%s", up2.uuid);

	imp = it_agent_tls(e, "web-2", "pki", "web-1", "impostor", NULL);
	assert_non_null(imp);
	assert_true(h_wait_log(e->coord->log,
		"register of node 'web-2' refused: identity proof refused: certificate for "
		"'web-1' cannot register as 'web-2'",
		h_ms(20000)));
	assert_true(h_wait_log(imp->log, "AGENT-REFUSED", h_ms(10000)));
	assert_true(it_stat(e, "refused") >= 1);
	/* the impostor holds a valid certificate: the TLS layer let it in */
	assert_true(h_file_contains(imp->log, "AGENT-TLS-CONNECTED"));
	/* web-2 stays up with its own identity: checked after the impostor was
	 * refused again and web-2 heartbeated three times since */
	if (!h_node_steady(e, "web-2", before, 2, 3, why, sizeof(why)))
		fail_msg("%s", why);
	assert_true(it_node_is(e, &up2));
	assert_string_equal(up2.uuid, before);
	assert_false(h_file_contains(e->coord->log, "COORD-NODE-DOWN node 'web-2'"));
}

/* it_raw_call sends env on s and returns the decoded reply (NULL: none). */
static osp_env *it_raw_call(nng_socket s, osp_env *env)
{
	nng_msg *m = NULL;
	osp_env *rep = NULL;
	char err[256];

	if (osp_wire_encode(env, &m) != OSP_OK)
		return NULL;
	if (nng_sendmsg(s, m, 0) != 0) {
		nng_msg_free(m);
		return NULL;
	}
	if (nng_recvmsg(s, &m, 0) != 0)
		return NULL;
	osp_wire_decode(nng_msg_body(m), nng_msg_len(m), &rep, err, sizeof(err));
	nng_msg_free(m);
	return rep;
}

/* it_tls_client makes a client config: ca, and own certificate name (NULL:
 * none) from DIR/dir. */
static nng_tls_config *it_tls_client(h_env *e, const char *dir, const char *name)
{
	nng_tls_config *cfg = NULL;
	char ca[400], cert[400], key[400], err[512];

	snprintf(ca, sizeof(ca), "%s/pki/ca.pem", e->dir);
	if (name != NULL) {
		snprintf(cert, sizeof(cert), "%s/%s/%s.pem", e->dir, dir, name);
		snprintf(key, sizeof(key), "%s/%s/%s.key", e->dir, dir, name);
		assert_int_equal(osp_tls_client_config(ca, cert, key, "127.0.0.1", &cfg, err,
					 sizeof(err)),
			OSP_OK);
		return cfg;
	}
	assert_int_equal(nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT), 0);
	assert_int_equal(nng_tls_config_ca_file(cfg, ca), 0);
	assert_int_equal(nng_tls_config_server_name(cfg, "127.0.0.1"), 0);
	assert_int_equal(nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED), 0);
	return cfg;
}

/* it_tls_dial dials the agent listener with cfg; returns nng's result. */
static int it_tls_dial(h_env *e, nng_tls_config *cfg)
{
	nng_socket s;
	nng_dialer d;
	int rv;

	assert_int_equal(nng_req0_open(&s), 0);
	assert_int_equal(nng_dialer_create(&d, s, e->agents_url), 0);
	assert_int_equal(nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg), 0);
	rv = nng_dialer_start(d, 0);
	nng_close(s);
	nng_tls_config_free(cfg);
	return rv;
}

/* a foreign CA, no client certificate, a plain tcp:// client: none gets in;
 * the fleet is unaffected */
static void test_trust_strangers_refused(void **state)
{
	h_env *e = *state;
	static const char *const nodes[] = { "web-1", NULL };
	struct it_node_is up1 = { "web-1", "up", "" }, absent = { "web-3", NULL, "" };
	char plain[64];
	nng_socket s;
	osp_env env, *rep;
	Ospec__V1__Hello hello;
	h_proc *foreign;

	it_pki(e, nodes);
	assert_int_equal(h_certs(e, "init", "foreign", NULL), 0);
	assert_int_equal(h_certs(e, "issue", "foreign", "--node", "web-3", NULL), 0);
	it_coord_tls(e, "127.0.0.1", NULL);
	assert_non_null(it_agent_tls(e, "web-1", "pki", "web-1", NULL, NULL));
	assert_true(h_wait_for(it_node_is, e, &up1, h_ms(20000)));

	/* an agent whose certificate another CA signed: the handshake fails */
	foreign = it_agent_tls(e, "web-3", "foreign", "web-3", NULL, NULL);
	assert_non_null(foreign);
	assert_true(h_wait_log(foreign->log, "AGENT-TLS-FAIL", h_ms(20000)));
	assert_true(h_file_contains(foreign->log, "not signed by this CA"));
	assert_true(it_node_is(e, &absent));
	assert_int_not_equal(it_tls_dial(e, it_tls_client(e, "foreign", "web-3")), 0);
	/* no client certificate at all */
	assert_int_not_equal(it_tls_dial(e, it_tls_client(e, NULL, NULL)), 0);
	/* a proper one gets through the same way (the checks above can fail) */
	assert_int_equal(it_tls_dial(e, it_tls_client(e, "pki", "web-1")), 0);

	/* plain tcp:// to the TLS port: no answer, whatever is sent */
	snprintf(plain, sizeof(plain), "tcp://127.0.0.1:%d", e->agents_port);
	assert_int_equal(nng_req0_open(&s), 0);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 2000);
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 2000);
	nng_dial(s, plain, NULL, NNG_FLAG_NONBLOCK);
	osp_wire_env_init(&env, "web-9", NULL, 1);
	ospec__v1__hello__init(&hello);
	env.body_case = OSPEC__V1__ENVELOPE__BODY_HELLO;
	env.hello = &hello;
	rep = it_raw_call(s, &env);
	assert_null(rep);
	nng_close(s);

	assert_true(it_node_is(e, &absent));
	assert_true(it_node_is(e, &up1));
	assert_false(h_file_contains(e->coord->log, "COORD-NODE-REGISTERED node 'web-3'"));
}

/* an agent facing a coordinator that presents an agent's certificate (the
 * wrong name, the wrong usage) refuses it and says so */
static void test_trust_agent_refuses_wrong_coordinator(void **state)
{
	h_env *e = *state;
	static const char *const nodes[] = { "web-1", "web-2", NULL };
	struct it_node_is absent = { "web-2", NULL, "" };
	h_proc *a;

	it_pki(e, nodes);
	it_coord_tls(e, "web-1", NULL);
	a = it_agent_tls(e, "web-2", "pki", "web-2", NULL, NULL);
	assert_non_null(a);
	assert_true(h_wait_log(a->log, "AGENT-TLS-FAIL", h_ms(20000)));
	assert_true(h_file_contains(a->log, "refusing to talk to it"));
	assert_false(h_file_contains(a->log, "AGENT-REGISTERED"));
	/* it keeps trying (with backoff) and keeps refusing: checked once it
	 * tried again (a repeated failure is logged at debug level) */
	assert_true(h_wait_log(a->log, "failed again", h_ms(20000)));
	assert_int_equal(h_wait_exit(a, 10), -1);
	assert_true(it_node_is(e, &absent));
	assert_false(h_file_contains(e->coord->log, "COORD-NODE-REGISTERED"));
}

/* it_expect runs ospecctl as name with args; checks exit code and stderr */
static void it_expect(h_env *e, const char *url, const char *name, int code, const char *msg,
	const char *a1, const char *a2, const char *a3)
{
	char *out = NULL, *err = NULL;
	int got = h_ctl_as(e, url, name, &out, &err, a1, a2, a3, NULL);

	if (got != code || (msg != NULL && strstr(err, msg) == NULL))
		fail_msg("ospecctl as %s %s: exit %d (want %d), stderr '%s' (want '%s')",
			name ? name : "-", a1, got, code, err ? err : "", msg ? msg : "");
	free(out);
	free(err);
}

/* a viewer reads but cannot deploy, abort or cordon; an admin can; the
 * actor is the certificate's name; a node's certificate has no role */
static void test_trust_viewer_cannot_mutate(void **state)
{
	h_env *e = *state;
	static const char *const nodes[] = { "web-1", NULL };
	struct it_node_is up1 = { "web-1", "up", "" };
	char url[64], *out = NULL, *err = NULL;
	osp_json *j;
	int code;

	snprintf(url, sizeof(url), "tls+tcp://127.0.0.1:%d", h_free_port());
	it_pki(e, nodes);
	it_coord_tls(e, "127.0.0.1", url);
	assert_non_null(it_agent_tls(e, "web-1", "pki", "web-1", NULL, NULL));
	assert_true(h_wait_for(it_node_is, e, &up1, h_ms(20000)));

	it_expect(e, url, "bob", 0, NULL, "nodes", NULL, NULL);
	it_expect(e, url, "bob", 1, "ospecctl: role 'viewer' may not run 'cordon'", "cordon",
		"web-1", NULL);
	it_expect(e, url, "bob", 1, "ospecctl: role 'viewer' may not run 'abort'", "abort", "r-1",
		NULL);
	code = h_ctl_as(e, url, "bob", &out, &err, "deploy", "--app", "hello", "--version", "1",
		"--artifact", "file:///nonexistent.tar.gz", "--sha256",
		"0000000000000000000000000000000000000000000000000000000000000000", "--run",
		"bin/hello --port {port}", "--port", "8080", NULL);
	assert_int_equal(code, 1);
	assert_non_null(strstr(err, "ospecctl: role 'viewer' may not run 'deploy'"));
	assert_string_equal(out, "");
	free(out);
	free(err);
	/* nothing changed */
	j = h_ctl_json(e, NULL, "nodes", NULL);
	assert_non_null(j);
	assert_false(osp_json_get(h_node(j, "web-1"), "cordoned")->b);
	osp_json_free(j);
	assert_true(h_file_contains(e->coord->log, "COORD-CTL-REFUSED cert:bob refused"));

	/* the admin may, and is recorded as the actor */
	it_expect(e, url, "alice", 0, NULL, "cordon", "web-1", NULL);
	code = h_ctl_as(e, url, "alice", &out, &err, "--json", "history", NULL);
	assert_int_equal(code, 0);
	assert_non_null(strstr(out, "\"actor\":\"cert:alice\""));
	free(out);
	free(err);
	/* a node's certificate is no operator's; no certificate is a usage error */
	it_expect(e, url, "web-1", 1, "has no ospec role", "nodes", NULL, NULL);
	it_expect(e, url, NULL, 2, "needs --cert FILE", "nodes", NULL, NULL);
}

/* it_body sets env's body to a minimal valid message of kind c */
static void it_body(osp_env *env, Ospec__V1__Envelope__BodyCase c, void *buf)
{
	static uint8_t nonce[OSP_WIRE_NONCE_LEN];

	env->body_case = c;
	switch (c) {
	case OSPEC__V1__ENVELOPE__BODY_HELLO:
		ospec__v1__hello__init(buf);
		env->hello = buf;
		break;
	case OSPEC__V1__ENVELOPE__BODY_CHALLENGE:
		ospec__v1__challenge__init(buf);
		env->challenge = buf;
		env->challenge->nonce.data = nonce;
		env->challenge->nonce.len = sizeof(nonce);
		break;
	case OSPEC__V1__ENVELOPE__BODY_REGISTER:
		ospec__v1__register__init(buf);
		env->register_ = buf;
		env->register_->nonce.data = nonce;
		env->register_->nonce.len = sizeof(nonce);
		break;
	case OSPEC__V1__ENVELOPE__BODY_REGISTERED:
		ospec__v1__registered__init(buf);
		env->registered = buf;
		break;
	case OSPEC__V1__ENVELOPE__BODY_HEARTBEAT:
		ospec__v1__heartbeat__init(buf);
		env->heartbeat = buf;
		break;
	case OSPEC__V1__ENVELOPE__BODY_HEARTBEAT_ACK:
		ospec__v1__heartbeat_ack__init(buf);
		env->heartbeat_ack = buf;
		break;
	case OSPEC__V1__ENVELOPE__BODY_POLL:
		ospec__v1__poll__init(buf);
		env->poll = buf;
		break;
	case OSPEC__V1__ENVELOPE__BODY_COMMANDS:
		ospec__v1__commands__init(buf);
		env->commands = buf;
		break;
	case OSPEC__V1__ENVELOPE__BODY_RESULT:
		ospec__v1__command_result__init(buf);
		env->result = buf;
		env->result->seq = 1;
		break;
	case OSPEC__V1__ENVELOPE__BODY_ACK:
		ospec__v1__ack__init(buf);
		env->ack = buf;
		break;
	case OSPEC__V1__ENVELOPE__BODY_EVENT:
		ospec__v1__event__init(buf);
		env->event = buf;
		env->event->kind = "started";
		break;
	case OSPEC__V1__ENVELOPE__BODY_ERROR:
		ospec__v1__error__init(buf);
		env->error = buf;
		break;
	case OSPEC__V1__ENVELOPE__BODY_LOG_CHUNK: /* protocol 1.4 */
		ospec__v1__log_chunk__init(buf);
		env->log_chunk = buf;
		env->log_chunk->id = 1;
		break;
	default:
		fail_msg("body %d not covered by this test", (int)c);
	}
}

/* before register every body but Hello is refused; a replayed id is ignored */
static void test_trust_nothing_before_register(void **state)
{
	h_env *e = *state;
	const ProtobufCMessageDescriptor *d = &ospec__v1__envelope__descriptor;
	union {
		uint64_t align;
		char space[512];
	} buf;
	int64_t refused_before;
	uint64_t msg_id = 1;
	size_t checked = 0;
	nng_socket s;

	assert_true(sizeof(Ospec__V1__Register) <= sizeof(buf.space));
	assert_non_null(h_coord_start(e, "500ms", NULL));
	refused_before = it_stat(e, "not_registered");
	assert_int_equal(nng_req0_open(&s), 0);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 10000);
	assert_int_equal(nng_dial(s, e->agents_url, NULL, 0), 0);
	/* a message id seen already on this connection is not processed (first:
	 * a refused register closes its connection, and ids are per connection) */
	for (int k = 0; k < 2; k++) {
		osp_env env, *rep;
		osp_wire_env_init(&env, "web-1", IT_UUID, msg_id);
		it_body(&env, OSPEC__V1__ENVELOPE__BODY_HELLO, buf.space);
		rep = it_raw_call(s, &env);
		assert_non_null(rep);
		if (k == 0) {
			assert_int_equal(rep->body_case, OSPEC__V1__ENVELOPE__BODY_CHALLENGE);
		} else {
			assert_int_equal(rep->body_case, OSPEC__V1__ENVELOPE__BODY_ERROR);
			assert_int_equal(rep->error->code, OSPEC__V1__ERROR_CODE__ERR_REPLAY);
		}
		osp_wire_free(rep);
	}
	msg_id++;
	/* every member of the body oneof, from the descriptor itself */
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		osp_env env, *rep;

		if (!(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
			continue;
		osp_wire_env_init(&env, "web-1", IT_UUID, msg_id++);
		it_body(&env, (Ospec__V1__Envelope__BodyCase)f->id, buf.space);
		rep = it_raw_call(s, &env);
		if (rep == NULL)
			fail_msg("no answer to body '%s'", f->name);
		if (f->id == OSPEC__V1__ENVELOPE__BODY_HELLO) {
			assert_int_equal(rep->body_case, OSPEC__V1__ENVELOPE__BODY_CHALLENGE);
		} else {
			if (rep->body_case != OSPEC__V1__ENVELOPE__BODY_ERROR)
				fail_msg("body '%s' was answered with %d before register", f->name,
					(int)rep->body_case);
			/* a register without this connection's nonce is refused */
			assert_int_equal(rep->error->code,
				f->id == OSPEC__V1__ENVELOPE__BODY_REGISTER
					? OSPEC__V1__ERROR_CODE__ERR_REFUSED
					: OSPEC__V1__ERROR_CODE__ERR_NOT_REGISTERED);
		}
		osp_wire_free(rep);
		checked++;
	}
	assert_int_equal(checked, 13); /* 13: LogChunk (protocol 1.4) */
	nng_close(s);
	assert_true(it_stat(e, "not_registered") >= refused_before + 11);
	assert_true(it_stat(e, "replays") >= 1);
	/* nobody was registered by any of it */
	{
		osp_json *j = h_ctl_json(e, NULL, "nodes", NULL);
		assert_non_null(j);
		assert_int_equal(j->n, 0);
		osp_json_free(j);
	}
}

/* Secrets: the private keys and an env file's value appear in no log, no
 * store, no ospecctl output. */
static const char *it_needles[4];
static size_t it_nneedles;
static char it_found[512];
static const char *it_skip;

static int it_scan(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	char *data = NULL;
	size_t len;

	(void)f;
	if (flag != FTW_F || !S_ISREG(st->st_mode) || strncmp(path, it_skip, strlen(it_skip)) == 0 ||
		strstr(path, "/secret.env") != NULL)
		return 0;
	if (osp_file_read(path, 256 << 20, &data, &len) != OSP_OK)
		return 0;
	for (size_t i = 0; i < it_nneedles; i++)
		if (memmem(data, len, it_needles[i], strlen(it_needles[i])) != NULL)
			snprintf(it_found, sizeof(it_found), "'%s' holds secret %zu", path, i);
	free(data);
	return 0;
}

/* it_key_body returns (heap) the second line of a PEM key: base64 of the key */
static char *it_key_body(h_env *e, const char *name)
{
	char path[400], *data = NULL, *nl, *body;
	size_t len;

	snprintf(path, sizeof(path), "%s/pki/%s.key", e->dir, name);
	assert_int_equal(osp_file_read(path, 8192, &data, &len), OSP_OK);
	nl = strchr(data, '\n');
	assert_non_null(nl);
	body = strndup(nl + 1, strcspn(nl + 1, "\n"));
	free(data);
	assert_true(strlen(body) >= 40);
	return body;
}

static void it_save(h_env *e, const char *name, const char *text)
{
	char path[400];

	snprintf(path, sizeof(path), "%s/out-%s.txt", e->dir, name);
	assert_int_equal(osp_file_write_atomic(path, text, strlen(text), 0644), OSP_OK);
}

static void test_trust_secrets_stay_out(void **state)
{
	h_env *e = *state;
	static const char *const nodes[] = { "web-1", NULL };
	static const char secret[] = "s3cr3t-VALUE-4f7b9e2a-never-log-me";
	struct it_node_is up1 = { "web-1", "up", "" };
	char env_path[400], yaml[1200], skip[400], url[600], sha[65], id[64], ctl[64];
	char *k1, *k2, *out = NULL, *err = NULL;
	int port = h_free_port();

	snprintf(ctl, sizeof(ctl), "tls+tcp://127.0.0.1:%d", h_free_port());
	it_pki(e, nodes);
	snprintf(env_path, sizeof(env_path), "%s/secret.env", e->dir);
	snprintf(yaml, sizeof(yaml), "HELLO_TOKEN=%s\n", secret);
	assert_int_equal(osp_file_write_atomic(env_path, yaml, strlen(yaml), 0600), OSP_OK);
	snprintf(yaml, sizeof(yaml), "apps:\n  hello:\n    port: %d\n    env_file: %s\n", port,
		env_path);
	it_coord_tls(e, "127.0.0.1", ctl);
	assert_non_null(it_agent_tls(e, "web-1", "pki", "web-1", NULL, yaml));
	assert_true(h_wait_for(it_node_is, e, &up1, h_ms(20000)));
	/* a deploy reads the env file and runs the app with it */
	assert_true(h_artifact(e, "1", NULL, url, sha));
	assert_int_equal(h_deploy(e, "1", url, sha, id, &err, "--wait", "--timeout", "120s", NULL),
		0);
	free(err);

	/* every output an operator sees, kept for the scan below */
	assert_int_equal(h_ctl_as(e, ctl, "alice", &out, &err, "--json", "nodes", NULL), 0);
	it_save(e, "nodes", out);
	free(out);
	free(err);
	assert_int_equal(h_ctl_as(e, ctl, "bob", &out, &err, "--json", "history", NULL), 0);
	it_save(e, "history", out);
	free(out);
	free(err);
	assert_int_equal(h_ctl_as(e, ctl, "bob", &out, &err, "--json", "status", id, NULL), 0);
	it_save(e, "status", out);
	free(out);
	free(err);
	assert_int_equal(h_ctl_as(e, ctl, "alice", &out, &err, "stats", NULL), 0);
	it_save(e, "stats", out);
	free(out);
	free(err);
	/* a refused operator request is logged too */
	h_ctl_as(e, ctl, "web-1", NULL, NULL, "nodes", NULL);

	k1 = it_key_body(e, "web-1");
	k2 = it_key_body(e, "127.0.0.1");
	it_needles[0] = k1;
	it_needles[1] = k2;
	it_needles[2] = secret;
	it_nneedles = 3;
	it_found[0] = '\0';
	snprintf(skip, sizeof(skip), "%s/pki/", e->dir);
	it_skip = skip;
	/* the scan can find: the key files themselves hold the needles */
	nftw(skip, it_scan, 16, FTW_PHYS);
	assert_string_equal(it_found, "");
	it_skip = "/nonexistent/";
	nftw(skip, it_scan, 16, FTW_PHYS);
	assert_string_not_equal(it_found, "");
	it_found[0] = '\0';
	it_skip = skip;
	/* every log, store and output file of the test */
	assert_int_equal(nftw(e->dir, it_scan, 16, FTW_PHYS), 0);
	if (it_found[0] != '\0')
		fail_msg("secret leaked: %s", it_found);
	free(k1);
	free(k2);
}

/* it_trust [PATTERN]: only the tests whose name matches PATTERN */
int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_trust_impostor_refused, it_setup,
			h_env_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_trust_strangers_refused, it_setup,
			h_env_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_trust_agent_refuses_wrong_coordinator, it_setup,
			h_env_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_trust_viewer_cannot_mutate, it_setup,
			h_env_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_trust_nothing_before_register, it_setup,
			h_env_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_trust_secrets_stay_out, it_setup,
			h_env_fixture_teardown),
	};

	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
