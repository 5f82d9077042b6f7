/*
 * it_foundation.c - one coordinator and real agent processes on loopback:
 * inventory, liveness, restarts, hostile peers, refusals.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "harness.h"
#include "ospec/util.h"
#include "ospec/wire.h"

static int it_setup(void **state)
{
	return h_env_fixture_setup(state, "foundation");
}

static void it_start_five(h_env *e)
{
	static const char *const ids[] = { "web-1", "web-2", "web-3", "db-1", "db-2" };
	char labels[128];

	assert_non_null(h_coord_start(e, "500ms", NULL));
	for (int i = 0; i < 5; i++) {
		snprintf(labels, sizeof(labels), "region=%s,role=%s", i % 2 ? "eu" : "us",
			ids[i][0] == 'w' ? "web" : "db");
		assert_non_null(h_agent_start(e, ids[i], labels, NULL));
	}
	assert_true(h_wait_nodes_up(e, 5, h_ms(20000)));
}

/* (a) five agents: all listed, with labels, up */
static void test_foundation_five_agents_listed(void **state)
{
	h_env *e = *state;
	osp_json *nodes;
	const osp_json *n, *labels;
	int code;

	it_start_five(e);
	nodes = h_ctl_json(e, &code, "nodes", NULL);
	assert_int_equal(code, 0);
	assert_non_null(nodes);
	assert_int_equal(nodes->type, OSP_JSON_ARR);
	assert_int_equal(nodes->n, 5);
	n = h_node(nodes, "db-2");
	assert_non_null(n);
	assert_string_equal(osp_json_get_str(n, "state"), "up");
	labels = osp_json_get(n, "labels");
	assert_non_null(labels);
	assert_string_equal(osp_json_get_str(labels, "role"), "db");
	assert_string_equal(osp_json_get_str(labels, "region"), "us");
	assert_false(osp_json_get(n, "cordoned")->b);
	assert_non_null(osp_json_get(n, "apps"));
	osp_json_free(nodes);

	/* a selector narrows the list */
	nodes = h_ctl_json(e, &code, "nodes", "--select", "role=web,region=us", NULL);
	assert_non_null(nodes);
	assert_int_equal(nodes->n, 2);
	osp_json_free(nodes);
}

struct it_state_of {
	const char *id;
	const char *state;
	char uuid[64];
};

static bool it_node_state_is(h_env *e, void *arg)
{
	struct it_state_of *s = arg;
	osp_json *nodes = h_ctl_json(e, NULL, "nodes", NULL);
	const osp_json *n = h_node(nodes, s->id);
	bool ok = n != NULL && strcmp(osp_json_get_str(n, "state"), s->state) == 0;

	if (ok)
		snprintf(s->uuid, sizeof(s->uuid), "%s", osp_json_get_str(n, "instance_uuid"));
	osp_json_free(nodes);
	return ok;
}

/* (b) kill -9 an agent: down within 3 heartbeats; back up with its identity */
static void test_foundation_agent_down_and_back(void **state)
{
	h_env *e = *state;
	struct it_state_of up = { "web-2", "up" }, down = { "web-2", "down" };
	char before[64];
	int64_t t0;
	h_proc *p;

	it_start_five(e);
	assert_true(it_node_state_is(e, &up));
	snprintf(before, sizeof(before), "%s", up.uuid);
	p = h_agent_start(e, "web-2", NULL, NULL); /* a second one on the same state */
	assert_non_null(p);
	assert_int_not_equal(h_wait_exit(p, h_ms(10000)), -1); /* (f) refused to start */
	assert_true(h_file_contains(p->log, "in use by another agent"));

	for (size_t i = 0; i < e->nprocs; i++)
		if (strcmp(e->procs[i].name, "agent-web-2") == 0 && e->procs[i].pid > 0)
			p = &e->procs[i];
	t0 = osp_now_mono_ms();
	h_kill(e, p, SIGKILL);
	/* 3 heartbeats of 500 ms, plus the ticker and ospecctl's own time */
	assert_true(h_wait_for(it_node_state_is, e, &down, h_ms(6000)));
	assert_true(osp_now_mono_ms() - t0 >= 1000); /* not before it missed beats */
	assert_non_null(h_agent_start(e, "web-2", NULL, NULL));
	assert_true(h_wait_for(it_node_state_is, e, &up, h_ms(20000)));
	assert_string_equal(up.uuid, before);
}

/* it_history_twice checks that every one of the five nodes has at least two
 * events of kind in the history (before and after a restart). */
static void it_history_twice(h_env *e, const char *kind)
{
	static const char *const ids[] = { "web-1", "web-2", "web-3", "db-1", "db-2" };
	osp_json *h = h_ctl_json(e, NULL, "history", "--limit", "1000", NULL);
	const osp_json *ev = osp_json_get(h, "events");

	assert_non_null(ev);
	for (int i = 0; i < 5; i++) {
		int n = 0;
		for (size_t k = 0; k < ev->n; k++)
			n += strcmp(h_str(ev->items[k], "kind"), kind) == 0 &&
			     strcmp(h_str(ev->items[k], "node"), ids[i]) == 0;
		if (n < 2)
			fail_msg("node '%s' has %d '%s' events, want 2 or more", ids[i], n, kind);
	}
	osp_json_free(h);
}

/* (c) kill -9 the coordinator: the nodes are known after a restart and come
 * back up by themselves, within a few seconds of the restart even when it
 * came 2 s later (systemd's RestartSec): the agents' pauses are bounded
 * (agent_reconnect_delay), not nng's back-off doubled at every refusal */
static void test_foundation_coordinator_restart(void **state)
{
	h_env *e = *state;
	osp_json *nodes;
	int64_t t0;

	it_start_five(e);
	assert_int_not_equal(h_ctl(e, NULL, NULL, "cordon", "db-1", NULL), -1);
	h_kill(e, e->coord, SIGKILL);
	osp_sleep_ms(2000);
	t0 = osp_now_mono_ms();
	assert_non_null(h_coord_start(e, "500ms", NULL));
	nodes = h_ctl_json(e, NULL, "nodes", NULL);
	assert_non_null(nodes);
	assert_int_equal(nodes->n, 5); /* known from the store at once */
	assert_true(osp_json_get(h_node(nodes, "db-1"), "cordoned")->b);
	osp_json_free(nodes);
	assert_true(h_wait_nodes_up(e, 5, h_ms(8000)));
	print_message("five nodes up %lld ms after the restart\n",
		(long long)(osp_now_mono_ms() - t0));
	/* the registers after the restart were committed in groups: each
	 * node's record and events are durable all the same */
	h_kill(e, e->coord, SIGKILL);
	assert_non_null(h_coord_start(e, "500ms", NULL));
	it_history_twice(e, "node.registered");
	it_history_twice(e, "node.up");
}

/* it_raw sends bytes on a req socket and returns the decoded reply (or NULL). */
static osp_env *it_raw(nng_socket s, const void *data, size_t len)
{
	nng_msg *m = NULL;
	osp_env *e = NULL;
	char err[256];

	if (nng_msg_alloc(&m, len) != 0)
		return NULL;
	memcpy(nng_msg_body(m), data, len);
	if (nng_sendmsg(s, m, 0) != 0) {
		nng_msg_free(m);
		return NULL;
	}
	if (nng_recvmsg(s, &m, 0) != 0)
		return NULL;
	osp_wire_decode(nng_msg_body(m), nng_msg_len(m), &e, err, sizeof(err));
	nng_msg_free(m);
	return e;
}

static uint64_t it_stat(h_env *e, const char *key)
{
	osp_json *j = h_ctl_json(e, NULL, "stats", NULL);
	int64_t v = osp_json_get_int(j, key, -1);

	osp_json_free(j);
	return (uint64_t)v;
}

/* (d) garbage, truncated, bad-version and oversized messages: errors,
 * counted, logged; the coordinator keeps serving */
static void test_foundation_hostile_peer(void **state)
{
	h_env *e = *state;
	nng_socket s;
	osp_env env, *rep;
	Ospec__V1__Hello hello;
	nng_msg *good = NULL;
	uint8_t garbage[64], *big;
	/* past the coordinator's request limit (COORD_AGENT_MAX_REQ, 96 KiB),
	 * under its receive limit (128 KiB): refused, answered, counted */
	size_t big_len = 96 * 1024 + 4096;

	it_start_five(e);
	assert_int_equal(nng_req0_open(&s), 0);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 10000);
	assert_int_equal(nng_dial(s, e->agents_url, NULL, 0), 0);

	memset(garbage, 0xff, sizeof(garbage));
	rep = it_raw(s, garbage, sizeof(garbage));
	assert_non_null(rep);
	assert_int_equal(rep->body_case, OSPEC__V1__ENVELOPE__BODY_ERROR);
	assert_int_equal(rep->error->code, OSPEC__V1__ERROR_CODE__ERR_DECODE);
	osp_wire_free(rep);

	/* a valid envelope cut in half */
	osp_wire_env_init(&env, "web-9", NULL, 1);
	ospec__v1__hello__init(&hello);
	hello.agent_version = "a-long-enough-version-string-to-cut";
	env.body_case = OSPEC__V1__ENVELOPE__BODY_HELLO;
	env.hello = &hello;
	assert_int_equal(osp_wire_encode(&env, &good), OSP_OK);
	rep = it_raw(s, nng_msg_body(good), nng_msg_len(good) - 10);
	assert_non_null(rep);
	assert_int_equal(rep->body_case, OSPEC__V1__ENVELOPE__BODY_ERROR);
	osp_wire_free(rep);
	nng_msg_free(good);

	/* another major version */
	osp_wire_env_init(&env, "web-9", NULL, 2);
	env.version_major = 2;
	assert_int_equal(osp_wire_encode(&env, &good), OSP_OK);
	rep = it_raw(s, nng_msg_body(good), nng_msg_len(good));
	assert_non_null(rep);
	assert_int_equal(rep->error->code, OSPEC__V1__ERROR_CODE__ERR_VERSION);
	osp_wire_free(rep);
	nng_msg_free(good);

	/* past the message limit */
	big = calloc(1, big_len);
	assert_non_null(big);
	rep = it_raw(s, big, big_len);
	free(big);
	assert_non_null(rep);
	assert_int_equal(rep->error->code, OSPEC__V1__ERROR_CODE__ERR_TOO_BIG);
	osp_wire_free(rep);

	/* a poll before register */
	{
		Ospec__V1__Poll poll;
		osp_wire_env_init(&env, "web-1", "00000000-0000-4000-8000-000000000000", 5);
		ospec__v1__poll__init(&poll);
		env.body_case = OSPEC__V1__ENVELOPE__BODY_POLL;
		env.poll = &poll;
		assert_int_equal(osp_wire_encode(&env, &good), OSP_OK);
		rep = it_raw(s, nng_msg_body(good), nng_msg_len(good));
		nng_msg_free(good);
		assert_non_null(rep);
		assert_int_equal(rep->error->code, OSPEC__V1__ERROR_CODE__ERR_NOT_REGISTERED);
		osp_wire_free(rep);
	}
	nng_close(s);

	assert_true(it_stat(e, "decode_errors") >= 2);
	assert_true(it_stat(e, "version_errors") >= 1);
	assert_true(it_stat(e, "too_big") >= 1);
	assert_true(it_stat(e, "not_registered") >= 1);
	assert_true(h_file_contains(e->coord->log, "COORD-BAD-MESSAGE"));
	/* everyone else is unaffected */
	assert_true(h_wait_nodes_up(e, 5, h_ms(5000)));
	assert_non_null(h_agent_start(e, "late-1", NULL, NULL));
	assert_true(h_wait_nodes_up(e, 6, h_ms(20000)));
}

/* it_call sends env on a context and decodes the reply (NULL on failure). */
static osp_env *it_call(nng_ctx ctx, osp_env *env)
{
	nng_msg *m = NULL, *r = NULL;
	osp_env *e = NULL;
	char err[256];

	if (osp_wire_encode(env, &m) != OSP_OK)
		return NULL;
	if (osp_req_call(ctx, m, 10000, &r) != OSP_OK)
		return NULL;
	osp_wire_decode(nng_msg_body(r), nng_msg_len(r), &e, err, sizeof(err));
	nng_msg_free(r);
	return e;
}

/* A registered client that sends many polls at once on one connection gets
 * at most two held; the fleet stays up. */
static void test_foundation_poll_flood_bounded(void **state)
{
	h_env *e = *state;
	static const char uuid[] = "11111111-2222-4333-8444-555555555555";
	nng_socket s;
	nng_ctx ctx[20];
	nng_aio *aio[20];
	osp_env env, *rep;
	Ospec__V1__Hello hello;
	Ospec__V1__Register reg;
	Ospec__V1__Poll poll;
	uint8_t nonce[OSP_WIRE_NONCE_LEN];
	uint64_t id = 1;

	it_start_five(e);
	assert_int_equal(nng_req0_open(&s), 0);
	nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	assert_int_equal(nng_dial(s, e->agents_url, NULL, 0), 0);
	for (int i = 0; i < 20; i++)
		assert_int_equal(nng_ctx_open(&ctx[i], s), 0);
	osp_wire_env_init(&env, "flood-1", uuid, id++);
	ospec__v1__hello__init(&hello);
	env.body_case = OSPEC__V1__ENVELOPE__BODY_HELLO;
	env.hello = &hello;
	rep = it_call(ctx[0], &env);
	assert_non_null(rep);
	assert_int_equal(rep->body_case, OSPEC__V1__ENVELOPE__BODY_CHALLENGE);
	memcpy(nonce, rep->challenge->nonce.data, sizeof(nonce));
	osp_wire_free(rep);
	osp_wire_env_init(&env, "flood-1", uuid, id++);
	ospec__v1__register__init(&reg);
	reg.nonce.data = nonce;
	reg.nonce.len = sizeof(nonce);
	env.body_case = OSPEC__V1__ENVELOPE__BODY_REGISTER;
	env.register_ = &reg;
	rep = it_call(ctx[0], &env);
	assert_non_null(rep);
	assert_int_equal(rep->body_case, OSPEC__V1__ENVELOPE__BODY_REGISTERED);
	osp_wire_free(rep);
	/* twenty polls at once, none of which has anything to get */
	for (int i = 0; i < 20; i++) {
		nng_msg *m = NULL;
		osp_wire_env_init(&env, "flood-1", uuid, id++);
		ospec__v1__poll__init(&poll);
		env.body_case = OSPEC__V1__ENVELOPE__BODY_POLL;
		env.poll = &poll;
		assert_int_equal(osp_wire_encode(&env, &m), OSP_OK);
		assert_int_equal(nng_aio_alloc(&aio[i], NULL, NULL), 0);
		nng_aio_set_msg(aio[i], m);
		nng_ctx_send(ctx[i], aio[i]);
		nng_aio_wait(aio[i]);
		assert_int_equal(nng_aio_result(aio[i]), 0);
		nng_ctx_recv(ctx[i], aio[i]);
	}
	for (int i = 0; i < 100 && it_stat(e, "held_polls") > 5 + 2; i++)
		osp_sleep_ms(50);
	assert_true(it_stat(e, "held_polls") <= 5 + 2); /* the fleet's five + two */
	assert_true(h_wait_nodes_up(e, 5, h_ms(3000)) || h_nodes_up(e) == 6);
	for (int i = 0; i < 20; i++) {
		nng_aio_cancel(aio[i]);
		nng_aio_wait(aio[i]);
		if (nng_aio_result(aio[i]) == 0)
			nng_msg_free(nng_aio_get_msg(aio[i]));
		nng_aio_free(aio[i]);
	}
	nng_close(s);
}

/* The control socket is 0600, or 0660 for a configured group. */
static void test_foundation_control_socket_mode(void **state)
{
	h_env *e = *state;
	char *extra[] = { "--control-group", "daemon", NULL };
	struct group *g = getgrnam("daemon");
	struct stat st;

	assert_non_null(h_coord_start(e, "500ms", NULL));
	assert_int_equal(stat(e->ctl_url + 6, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	h_kill(e, e->coord, SIGTERM);
	assert_non_null(g);
	assert_non_null(h_coord_start(e, "500ms", extra));
	assert_int_equal(stat(e->ctl_url + 6, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0660);
	assert_int_equal(st.st_gid, g->gr_gid);
}

/* (e) ospecctl against a stopped coordinator: exit 3, one line naming it */
static void test_foundation_ctl_unreachable(void **state)
{
	h_env *e = *state;
	char *out = NULL, *err = NULL;
	int code = h_ctl(e, &out, &err, "nodes", NULL);

	assert_int_equal(code, 3);
	assert_non_null(strstr(err, e->ctl_url));
	assert_non_null(strstr(err, "ospecctl: "));
	assert_null(strchr(err, '\n') == NULL ? NULL : strchr(strchr(err, '\n') + 1, '\n'));
	assert_string_equal(out, "");
	free(out);
	free(err);
}

/* a second live agent with the same id and another instance is refused; the
 * first one is unaffected; forget is refused while it is up */
static void test_foundation_duplicate_id_refused(void **state)
{
	h_env *e = *state;
	struct it_state_of up = { "web-1", "up" };
	char *argv[8], state_dir[300], *out = NULL, *err = NULL, uuid[64], why[512];
	h_proc *p;

	it_start_five(e);
	assert_true(it_node_state_is(e, &up));
	osp_strlcpy(uuid, up.uuid, sizeof(uuid));
	snprintf(state_dir, sizeof(state_dir), "%s/clone", e->dir);
	argv[0] = (char *)h_bin("ospec-agent");
	argv[1] = "--id";
	argv[2] = "web-1";
	argv[3] = "--coordinator";
	argv[4] = e->agents_url;
	argv[5] = "--state";
	argv[6] = state_dir;
	argv[7] = NULL;
	p = h_spawn(e, "clone", argv);
	assert_non_null(p);
	for (int i = 0; i < 100 && !h_file_contains(e->coord->log, "COORD-REGISTER-REFUSED"); i++)
		osp_sleep_ms(100);
	assert_true(h_file_contains(e->coord->log, "COORD-REGISTER-REFUSED"));
	assert_true(h_file_contains(p->log, "AGENT-REFUSED"));
	/* the original stays up as itself: checked after the clone was refused
	 * again and the original heartbeated three times since, not after a
	 * pause that proves nothing */
	if (!h_node_steady(e, "web-1", uuid, 2, 3, why, sizeof(why)))
		fail_msg("%s", why);
	assert_true(it_node_state_is(e, &up));
	assert_string_equal(up.uuid, uuid);
	assert_int_equal(h_ctl(e, &out, &err, "forget", "web-1", NULL), 1);
	assert_non_null(strstr(err, "is up"));
	free(out);
	free(err);
	assert_int_equal(h_ctl(e, NULL, NULL, "forget", "nope", NULL), 4);
	assert_int_equal(h_ctl(e, NULL, NULL, "cordon", NULL), 2);
}

/* it_foundation [PATTERN]: only the tests whose name matches PATTERN */
int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_foundation_five_agents_listed, it_setup,
			h_env_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_foundation_agent_down_and_back, it_setup,
			h_env_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_foundation_coordinator_restart, it_setup,
			h_env_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_foundation_hostile_peer, it_setup,
			h_env_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_foundation_ctl_unreachable, it_setup,
			h_env_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_foundation_poll_flood_bounded, it_setup,
			h_env_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_foundation_control_socket_mode, it_setup,
			h_env_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_foundation_duplicate_id_refused, it_setup,
			h_env_fixture_teardown),
	};

	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
