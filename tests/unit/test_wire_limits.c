/*
 * test_wire_limits.c - the agent protocol envelope's limits: oversized
 * messages and fields, invalid characters, and the valid version, slot and
 * name checks. Round trips, garbage and osp_req_call are in test_wire.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <nng/nng.h>

#include "ospec/util.h"
#include "ospec/wire.h"
#include "test_support_wire.h"


/* wire_expect checks that env is refused with want and that err names what. */
static void wire_expect(const osp_env *env, osp_err want, const char *what)
{
	osp_env *d = NULL;
	char err[256];
	osp_err rv = ts_wire_encode_decode(env, &d, err, sizeof(err));

	if (rv != want || strstr(err, what) == NULL)
		fail_msg("want %s naming '%s', got %s: '%s'", osp_strerror(want), what,
			osp_strerror(rv), err);
	osp_wire_free(d);
}

/* wire_long returns a heap string of n copies of c. */
static char *wire_long(size_t n, char c)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* WIRE_TRY sets lval to bad, expects want naming what, and puts lval back. */
#define WIRE_TRY(env, lval, bad, want, what)           \
	do {                                           \
		__typeof__(lval) wire_saved_ = (lval); \
		(lval) = (bad);                        \
		wire_expect((env), (want), (what));    \
		(lval) = wire_saved_;                  \
	} while (0)

static void test_wire_oversized_message(void **state)
{
	char *note = wire_long(OSP_WIRE_MAX_MSG, 'n'), err[256];
	osp_env env, *d = NULL;
	nng_msg *m = NULL;
	uint8_t *buf;
	size_t len;
	ts_wire_cmds w;

	(void)state;
	ts_wire_cmds_init(&w, &env);
	w.noop.note = note;
	assert_int_equal(osp_wire_encode(&env, &m), OSP_ETOOBIG);
	assert_null(m);

	/* a well-formed envelope past the limit is refused before unpacking */
	len = ospec__v1__envelope__get_packed_size(&env);
	assert_true(len > OSP_WIRE_MAX_MSG);
	buf = malloc(len);
	assert_non_null(buf);
	ospec__v1__envelope__pack(&env, buf);
	assert_int_equal(osp_wire_decode(buf, len, &d, err, sizeof(err)), OSP_ETOOBIG);
	assert_null(d);
	assert_non_null(strstr(err, "limit"));

	/* exactly at the limit it is encodable (the note is then over its own cap) */
	note[OSP_WIRE_MAX_MSG - (len - OSP_WIRE_MAX_MSG)] = '\0';
	assert_int_equal(ospec__v1__envelope__get_packed_size(&env), OSP_WIRE_MAX_MSG);
	assert_int_equal(osp_wire_encode(&env, &m), OSP_OK);
	assert_int_equal(nng_msg_len(m), OSP_WIRE_MAX_MSG);
	assert_int_equal(osp_wire_decode(nng_msg_body(m), nng_msg_len(m), &d, err, sizeof(err)),
		OSP_ETOOBIG);
	assert_non_null(strstr(err, "noop.note"));
	nng_msg_free(m);
	free(buf);
	free(note);
}

static void test_wire_oversized_fields(void **state)
{
	uint8_t nonce[OSP_WIRE_NONCE_LEN] = { 0 }, *cert = calloc(1, OSP_WIRE_MAX_CERT + 1);
	Ospec__V1__Label lbl = { TS_WIRE_BASE(label), .key = "k", .value = "v" };
	Ospec__V1__Label bad = { TS_WIRE_BASE(label), .key = "k", .value = "" };
	Ospec__V1__Label *lp[OSP_WIRE_MAX_LABELS + 1];
	Ospec__V1__Register reg = { TS_WIRE_BASE(register), .nonce = { sizeof(nonce), nonce },
		.labels = lp, .has_cert_chain_pem = 1, .cert_chain_pem = { 10, cert },
		.has_signature = 1, .signature = { 64, cert } };
	Ospec__V1__AppState app = ts_wire_app_state("shop", "1.0"), *ap[OSP_WIRE_MAX_APPS + 1];
	Ospec__V1__Heartbeat hb = { TS_WIRE_BASE(heartbeat), .apps = ap, .n_apps = 1 };
	Ospec__V1__Command *many[OSP_WIRE_MAX_CMDS + 1];
	char *id64 = wire_long(OSP_WIRE_MAX_ID + 1, 'a'), *id63 = wire_long(OSP_WIRE_MAX_ID, 'a');
	char *url = wire_long(OSP_WIRE_MAX_URL + 1, 'u'), *v64 = wire_long(64, 'v');
	char *uuid = wire_long(OSP_WIRE_MAX_UUID + 1, 'f');
	char *run = wire_long(OSP_WIRE_MAX_RUN + 1, 'r');
	char *ver = wire_long(OSP_WIRE_MAX_VERSION + 1, '1');
	char *text = wire_long(OSP_WIRE_MAX_TEXT + 1, 't'), *host = wire_long(256, 'h');
	ts_wire_cmds w;
	osp_env env;

	(void)state;
	assert_non_null(cert);
	/* header: node_id of 63 is fine, 64 is not; instance_uuid of 37 */
	ts_wire_cmds_init(&w, &env);
	WIRE_TRY(&env, env.node_id, id63, OSP_OK, "");
	WIRE_TRY(&env, env.node_id, id64, OSP_ETOOBIG, "node_id");
	WIRE_TRY(&env, env.instance_uuid, uuid, OSP_ETOOBIG, "instance_uuid");

	/* commands: URL, run, version, note, ids and slots past their limits */
	WIRE_TRY(&env, w.stage.artifact_url, url, OSP_ETOOBIG, "stage.artifact_url");
	WIRE_TRY(&env, w.stage.run, run, OSP_ETOOBIG, "stage.run");
	WIRE_TRY(&env, w.stage.version, ver, OSP_ETOOBIG, "stage.version");
	WIRE_TRY(&env, w.stage.app, id64, OSP_ETOOBIG, "stage.app");
	WIRE_TRY(&env, w.revert.run, run, OSP_ETOOBIG, "revert.run");
	WIRE_TRY(&env, w.noop.note, text, OSP_ETOOBIG, "noop.note");
	WIRE_TRY(&env, w.c[3].rollout_id, id64, OSP_ETOOBIG, "rollout_id");
	WIRE_TRY(&env, w.stop.slot, v64, OSP_ETOOBIG, "stop.slot");
	/* 256 commands are fine, 257 are not */
	for (int i = 0; i <= OSP_WIRE_MAX_CMDS; i++)
		many[i] = &w.c[0];
	w.cmds.entries = many;
	WIRE_TRY(&env, w.cmds.n_entries, OSP_WIRE_MAX_CMDS, OSP_OK, "");
	WIRE_TRY(&env, w.cmds.n_entries, OSP_WIRE_MAX_CMDS + 1, OSP_ETOOBIG, "commands");

	/* register: labels, a label value, cert chain, signature, hostname */
	for (int i = 0; i <= OSP_WIRE_MAX_LABELS; i++)
		lp[i] = &lbl;
	osp_wire_env_init(&env, "web-1", NULL, 1);
	env.body_case = OSPEC__V1__ENVELOPE__BODY_REGISTER;
	env.register_ = &reg;
	WIRE_TRY(&env, reg.n_labels, OSP_WIRE_MAX_LABELS, OSP_OK, "");
	WIRE_TRY(&env, reg.n_labels, OSP_WIRE_MAX_LABELS + 1, OSP_ETOOBIG, "labels");
	reg.n_labels = 3;
	lp[2] = &bad;
	WIRE_TRY(&env, bad.value, id63, OSP_OK, "");
	WIRE_TRY(&env, bad.value, v64, OSP_EINVAL, "label 2");
	reg.n_labels = 0;
	WIRE_TRY(&env, reg.cert_chain_pem.len, OSP_WIRE_MAX_CERT, OSP_OK, "");
	WIRE_TRY(&env, reg.cert_chain_pem.len, OSP_WIRE_MAX_CERT + 1, OSP_ETOOBIG,
		"certificate chain");
	WIRE_TRY(&env, reg.signature.len, OSP_WIRE_MAX_SIG + 1, OSP_ETOOBIG, "signature");
	WIRE_TRY(&env, reg.hostname, host, OSP_ETOOBIG, "hostname");

	/* heartbeat: 64 apps are fine, 65 are not; an app id of 64 */
	for (int i = 0; i <= OSP_WIRE_MAX_APPS; i++)
		ap[i] = &app;
	osp_wire_env_init(&env, "web-1", NULL, 1);
	env.body_case = OSPEC__V1__ENVELOPE__BODY_HEARTBEAT;
	env.heartbeat = &hb;
	WIRE_TRY(&env, hb.n_apps, OSP_WIRE_MAX_APPS, OSP_OK, "");
	WIRE_TRY(&env, hb.n_apps, OSP_WIRE_MAX_APPS + 1, OSP_ETOOBIG, "apps");
	WIRE_TRY(&env, app.app, id64, OSP_ETOOBIG, "apps.app");
	WIRE_TRY(&env, app.sha256, v64, OSP_OK, "");
	WIRE_TRY(&env, app.sha256, url, OSP_ETOOBIG, "apps.sha256");

	free(id64);
	free(id63);
	free(url);
	free(v64);
	free(uuid);
	free(run);
	free(ver);
	free(text);
	free(host);
	free(cert);
}

static void test_wire_invalid_chars(void **state)
{
	uint8_t nonce[16] = { 0 };
	Ospec__V1__CommandResult res = { TS_WIRE_BASE(command_result) };
	Ospec__V1__Challenge ch = { TS_WIRE_BASE(challenge), .nonce = { sizeof(nonce), nonce } };
	Ospec__V1__Register reg = { TS_WIRE_BASE(register), .nonce = { sizeof(nonce), nonce } };
	ts_wire_cmds w;
	osp_env env;

	(void)state;
	ts_wire_cmds_init(&w, &env);
	WIRE_TRY(&env, env.node_id, "web 1", OSP_EINVAL, "node_id");
	WIRE_TRY(&env, env.node_id, "../web", OSP_EINVAL, "node_id");
	WIRE_TRY(&env, env.node_id, "-web", OSP_EINVAL, "node_id");
	WIRE_TRY(&env, w.stage.version, "../../etc", OSP_EINVAL, "stage.version");
	WIRE_TRY(&env, w.stage.version, "..", OSP_EINVAL, "stage.version");
	WIRE_TRY(&env, w.stage.version, "", OSP_EINVAL, "stage.version");
	WIRE_TRY(&env, w.stage.slot, "purple", OSP_EINVAL, "stage.slot");
	WIRE_TRY(&env, w.stage.app, "shop/../x", OSP_EINVAL, "stage.app");
	WIRE_TRY(&env, w.revert.version, "1.0 && rm -rf /", OSP_EINVAL, "revert.version");
	WIRE_TRY(&env, w.revert.slot, "Blue", OSP_EINVAL, "revert.slot");
	WIRE_TRY(&env, w.prep.to_slot, "purple", OSP_EINVAL, "prepare.to_slot");
	WIRE_TRY(&env, w.prep.switch_id, "sw\n1", OSP_EINVAL, "prepare.switch_id");
	WIRE_TRY(&env, w.dec.app, "", OSP_EINVAL, "decision.app");
	WIRE_TRY(&env, w.sd.slot, "purple", OSP_EINVAL, "scale_down.slot");
	wire_expect(&env, OSP_OK, ""); /* every field put back: valid again */
	/* a kind this build does not know (what a newer coordinator's command
	 * decodes to) passes: the dispatcher refuses that one command, instead of
	 * the whole Commands failing forever and stopping the node's log there */
	w.c[6].kind_case = OSPEC__V1__COMMAND__KIND__NOT_SET;
	wire_expect(&env, OSP_OK, "");
	w.c[6].kind_case = OSPEC__V1__COMMAND__KIND_SCALE_DOWN;

	osp_wire_env_init(&env, "web-1", NULL, 1);
	env.body_case = OSPEC__V1__ENVELOPE__BODY_RESULT;
	env.result = &res;
	WIRE_TRY(&env, res.slot, "purple", OSP_EINVAL, "result.slot");
	WIRE_TRY(&env, res.version, "1/2", OSP_EINVAL, "result.version");
	WIRE_TRY(&env, res.app, "shop;", OSP_EINVAL, "result.app");

	/* nonces are exactly 32 bytes */
	osp_wire_env_init(&env, NULL, NULL, 1);
	env.body_case = OSPEC__V1__ENVELOPE__BODY_CHALLENGE;
	env.challenge = &ch;
	wire_expect(&env, OSP_EINVAL, "nonce");
	env.body_case = OSPEC__V1__ENVELOPE__BODY_REGISTER;
	env.register_ = &reg;
	wire_expect(&env, OSP_EINVAL, "nonce");
}

static void test_wire_valid_version(void **state)
{
	char *v128 = wire_long(OSP_WIRE_MAX_VERSION, '9');
	char *v129 = wire_long(OSP_WIRE_MAX_VERSION + 1, '9');

	(void)state;
	assert_true(osp_wire_valid_version("1"));
	assert_true(osp_wire_valid_version("1.2.3"));
	assert_true(osp_wire_valid_version("1.2.3-rc.1+build_7"));
	assert_true(osp_wire_valid_version("v2024.01.02"));
	assert_true(osp_wire_valid_version("..."));
	assert_true(osp_wire_valid_version(v128));
	assert_false(osp_wire_valid_version(v129));
	assert_false(osp_wire_valid_version(NULL));
	assert_false(osp_wire_valid_version(""));
	assert_false(osp_wire_valid_version("."));
	assert_false(osp_wire_valid_version(".."));
	assert_false(osp_wire_valid_version("../../etc"));
	assert_false(osp_wire_valid_version("1.0/x"));
	assert_false(osp_wire_valid_version("1.0 "));
	assert_false(osp_wire_valid_version("1;ls"));
	assert_false(osp_wire_valid_version("1.0\n"));
	assert_false(osp_wire_valid_version("\xc3\xa9"));
	free(v128);
	free(v129);

	assert_true(osp_wire_valid_slot(NULL));
	assert_true(osp_wire_valid_slot(""));
	assert_true(osp_wire_valid_slot("main"));
	assert_true(osp_wire_valid_slot("blue"));
	assert_true(osp_wire_valid_slot("green"));
	assert_false(osp_wire_valid_slot("purple"));
	assert_false(osp_wire_valid_slot("Main"));
	assert_false(osp_wire_valid_slot("blue "));
}

/* protocol 1.2: a Stage's required env names and smoke checks, and the env
 * names of an apps report, are bounded and checked */
static void test_wire_check_limits(void **state)
{
	static char names[OSP_WIRE_MAX_ENV_NAMES + 1][48];
	char *nv[OSP_WIRE_MAX_ENV_NAMES + 1], *n129 = wire_long(OSP_WIRE_MAX_ENV_NAME + 1, 'N');
	Ospec__V1__SmokeCheck sc = { TS_WIRE_BASE(smoke_check), .method = "GET", .path = "/x",
		.status = 200 };
	Ospec__V1__SmokeCheck *scp[OSP_WIRE_MAX_SMOKE + 1];
	Ospec__V1__AppState app[5], *ap[5];
	Ospec__V1__Heartbeat hb = { TS_WIRE_BASE(heartbeat), .n_apps = 1, .apps = ap };
	ts_wire_cmds w;
	osp_env env;

	(void)state;
	for (int i = 0; i <= OSP_WIRE_MAX_ENV_NAMES; i++) {
		snprintf(names[i], sizeof(names[i]), "NAME_%02d_%s", i, "PADDING_PADDING_PADDING_PAD");
		nv[i] = names[i];
	}
	for (int i = 0; i <= OSP_WIRE_MAX_SMOKE; i++)
		scp[i] = &sc;
	ts_wire_cmds_init(&w, &env);
	w.stage.require_env = nv;
	w.stage.smoke = scp;
	WIRE_TRY(&env, w.stage.n_require_env, OSP_WIRE_MAX_ENV_NAMES, OSP_OK, "");
	WIRE_TRY(&env, w.stage.n_require_env, OSP_WIRE_MAX_ENV_NAMES + 1, OSP_ETOOBIG,
		"stage.require_env");
	w.stage.n_require_env = 1;
	WIRE_TRY(&env, nv[0], "lower-case", OSP_EINVAL, "stage.require_env");
	WIRE_TRY(&env, nv[0], n129, OSP_EINVAL, "stage.require_env");
	WIRE_TRY(&env, w.stage.n_smoke, OSP_WIRE_MAX_SMOKE, OSP_OK, "");
	WIRE_TRY(&env, w.stage.n_smoke, OSP_WIRE_MAX_SMOKE + 1, OSP_ETOOBIG, "stage.smoke");
	w.stage.n_smoke = 1;
	WIRE_TRY(&env, sc.method, "TRACE", OSP_EINVAL, "stage.smoke");
	WIRE_TRY(&env, sc.path, "/a\r\nHost: x", OSP_EINVAL, "stage.smoke");
	WIRE_TRY(&env, sc.status, 0, OSP_EINVAL, "stage.smoke");

	for (int i = 0; i < 5; i++) {
		app[i] = ts_wire_app_state("shop", "1.0");
		app[i].env_names = nv;
		ap[i] = &app[i];
	}
	osp_wire_env_init(&env, "web-1", NULL, 1);
	env.body_case = OSPEC__V1__ENVELOPE__BODY_HEARTBEAT;
	env.heartbeat = &hb;
	WIRE_TRY(&env, app[0].n_env_names, OSP_WIRE_MAX_ENV_NAMES, OSP_OK, "");
	WIRE_TRY(&env, app[0].n_env_names, OSP_WIRE_MAX_ENV_NAMES + 1, OSP_ETOOBIG,
		"apps.env_names");
	app[0].n_env_names = 1;
	WIRE_TRY(&env, nv[0], "A=B", OSP_EINVAL, "apps.env_names");
	/* every app within its own limit, too many in all: 4 x 64 of 35 bytes
	 * pass the count (256) but not the bytes (8 KiB); 5 x 64 neither */
	for (int i = 0; i < 5; i++)
		app[i].n_env_names = OSP_WIRE_MAX_ENV_NAMES;
	WIRE_TRY(&env, hb.n_apps, 4, OSP_ETOOBIG, "in all");
	WIRE_TRY(&env, hb.n_apps, 5, OSP_ETOOBIG, "in all");
	WIRE_TRY(&env, hb.n_apps, 2, OSP_OK, "");
	free(n129);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wire_oversized_message),
		cmocka_unit_test(test_wire_oversized_fields),
		cmocka_unit_test(test_wire_invalid_chars),
		cmocka_unit_test(test_wire_valid_version),
		cmocka_unit_test(test_wire_check_limits),
	};

	return cmocka_run_group_tests(tests, NULL, ts_wire_teardown);
}
