/*
 * test_wire_logs.c - the limits of the log reads of protocol 1.4
 * (Commands.logs, HeartbeatAck.logs, LogChunk) and their round trip.
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

#include "coord.h"
#include "ospec/util.h"
#include "ospec/wire.h"
#include "test_support_wire.h"

#define WL_N (OSP_WIRE_MAX_LOG_REQS + 1)

typedef struct wl {
	Ospec__V1__LogRequest r[WL_N], *rp[WL_N];
	Ospec__V1__Commands cmds;
	Ospec__V1__HeartbeatAck ack;
	osp_env env;
} wl;

static void wl_init(wl *w, bool heartbeat)
{
	memset(w, 0, sizeof(*w));
	for (int i = 0; i < WL_N; i++) {
		ospec__v1__log_request__init(&w->r[i]);
		w->r[i].id = 1000 + (uint64_t)i;
		w->r[i].app = "hello";
		w->r[i].slot = "main";
		w->r[i].has_lines = 1;
		w->r[i].lines = 5;
		w->rp[i] = &w->r[i];
	}
	osp_wire_env_init(&w->env, NULL, NULL, 1);
	if (heartbeat) {
		ospec__v1__heartbeat_ack__init(&w->ack);
		w->ack.n_logs = 1;
		w->ack.logs = w->rp;
		w->env.body_case = OSPEC__V1__ENVELOPE__BODY_HEARTBEAT_ACK;
		w->env.heartbeat_ack = &w->ack;
	} else {
		ospec__v1__commands__init(&w->cmds);
		w->cmds.n_logs = 1;
		w->cmds.logs = w->rp;
		w->env.body_case = OSPEC__V1__ENVELOPE__BODY_COMMANDS;
		w->env.commands = &w->cmds;
	}
}

static void wl_expect(const osp_env *env, osp_err want, const char *what)
{
	osp_env *d = NULL;
	char err[256] = "";
	osp_err rv = ts_wire_encode_decode(env, &d, err, sizeof(err));

	if (rv != want || strstr(err, what) == NULL)
		fail_msg("want %s naming '%s', got %s: '%s'", osp_strerror(want), what,
			osp_strerror(rv), err);
	osp_wire_free(d);
}

/* wl_requests checks the limits of the log reads in a poll or heartbeat reply. */
static void wl_requests(bool heartbeat)
{
	char longid[OSP_WIRE_MAX_ID + 2];
	osp_env *d = NULL;
	char err[256];
	wl w;

	wl_init(&w, heartbeat);
	w.r[0].has_follow = w.r[0].has_out_offset = 1;
	w.r[0].follow = true;
	w.r[0].out_offset = 123456789012ULL;
	assert_int_equal(ts_wire_encode_decode(&w.env, &d, err, sizeof(err)), OSP_OK);
	{
		Ospec__V1__LogRequest *r = heartbeat ? d->heartbeat_ack->logs[0] : d->commands->logs[0];
		assert_int_equal(r->id, 1000);
		assert_string_equal(r->app, "hello");
		assert_true(r->follow);
		assert_int_equal(r->out_offset, 123456789012ULL);
	}
	osp_wire_free(d);

	/* as many as fit, then one more */
	wl_init(&w, heartbeat);
	if (heartbeat)
		w.ack.n_logs = OSP_WIRE_MAX_LOG_REQS;
	else
		w.cmds.n_logs = OSP_WIRE_MAX_LOG_REQS;
	wl_expect(&w.env, OSP_OK, "");
	if (heartbeat)
		w.ack.n_logs = WL_N;
	else
		w.cmds.n_logs = WL_N;
	wl_expect(&w.env, OSP_ETOOBIG, "log requests");

	wl_init(&w, heartbeat);
	w.r[0].lines = OSP_WIRE_MAX_LOG_LINES;
	wl_expect(&w.env, OSP_OK, "");
	w.r[0].lines = OSP_WIRE_MAX_LOG_LINES + 1;
	wl_expect(&w.env, OSP_EINVAL, "logs.lines");

	wl_init(&w, heartbeat);
	w.r[0].app = "../etc";
	wl_expect(&w.env, OSP_EINVAL, "logs.app");
	memset(longid, 'a', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	w.r[0].app = longid;
	wl_expect(&w.env, OSP_ETOOBIG, "logs.app");

	wl_init(&w, heartbeat);
	w.r[0].slot = "idle"; /* the agent never picks: the coordinator names the slot */
	wl_expect(&w.env, OSP_EINVAL, "logs.slot");
	w.r[0].slot = "../../x";
	wl_expect(&w.env, OSP_EINVAL, "logs.slot");
}

static void test_wire_logs_requests(void **state)
{
	(void)state;
	wl_requests(false);
	wl_requests(true);
}

static void test_wire_logs_chunk(void **state)
{
	Ospec__V1__LogChunk ch;
	osp_env env, *d = NULL;
	char err[256], *big = malloc(OSP_WIRE_MAX_LOG_DATA + 1);

	(void)state;
	assert_non_null(big);
	memset(big, 'x', OSP_WIRE_MAX_LOG_DATA + 1);
	ospec__v1__log_chunk__init(&ch);
	ch.id = 77;
	ch.app = "hello";
	ch.slot = "green";
	ch.has_out = ch.has_err = 1;
	ch.out.data = (uint8_t *)"line 1\nline 2\n";
	ch.out.len = 14;
	ch.err.data = (uint8_t *)big;
	ch.err.len = OSP_WIRE_MAX_LOG_DATA;
	ch.has_out_next = 1;
	ch.out_next = 14;
	ch.has_err_reset = 1;
	ch.err_reset = true;
	osp_wire_env_init(&env, "web-1", NULL, 1);
	env.body_case = OSPEC__V1__ENVELOPE__BODY_LOG_CHUNK;
	env.log_chunk = &ch;
	assert_int_equal(ts_wire_encode_decode(&env, &d, err, sizeof(err)), OSP_OK);
	assert_int_equal(d->log_chunk->id, 77);
	assert_int_equal(d->log_chunk->out.len, 14);
	assert_memory_equal(d->log_chunk->out.data, "line 1\nline 2\n", 14);
	assert_int_equal(d->log_chunk->err.len, OSP_WIRE_MAX_LOG_DATA);
	assert_true(d->log_chunk->err_reset);
	assert_int_equal(d->log_chunk->out_next, 14);
	osp_wire_free(d);

	ch.err.len = OSP_WIRE_MAX_LOG_DATA + 1;
	wl_expect(&env, OSP_ETOOBIG, "log_chunk.err");
	ch.err.len = 0;
	ch.out.data = (uint8_t *)big;
	ch.out.len = OSP_WIRE_MAX_LOG_DATA + 1;
	wl_expect(&env, OSP_ETOOBIG, "log_chunk.out");
	ch.out.len = 0;
	ch.slot = "purple";
	wl_expect(&env, OSP_EINVAL, "log_chunk.slot");
	ch.slot = "main";
	ch.app = "a b";
	wl_expect(&env, OSP_EINVAL, "log_chunk.app");
	ch.app = "hello";
	big[OSP_WIRE_MAX_LOG_DATA] = '\0';
	ch.error = big; /* 40 KiB of error text: past the 8 KiB of a message */
	wl_expect(&env, OSP_ETOOBIG, "log_chunk.error");
	free(big);
}

/* The largest chunk an agent can send fits under the coordinator's request
 * limit (COORD_AGENT_MAX_REQ, 96 KiB): two full streams and a full error. */
static void test_wire_logs_chunk_fits(void **state)
{
	Ospec__V1__LogChunk ch;
	osp_env env;
	char *big = malloc(OSP_WIRE_MAX_LOG_DATA), *msg = malloc(OSP_WIRE_MAX_TEXT + 1);
	char id[OSP_WIRE_MAX_ID + 1], uuid[OSP_WIRE_MAX_UUID + 1];

	(void)state;
	assert_non_null(big);
	assert_non_null(msg);
	memset(big, 0xff, OSP_WIRE_MAX_LOG_DATA);
	memset(msg, 'e', OSP_WIRE_MAX_TEXT);
	msg[OSP_WIRE_MAX_TEXT] = '\0';
	memset(id, 'n', OSP_WIRE_MAX_ID);
	id[OSP_WIRE_MAX_ID] = '\0';
	memset(uuid, 'u', OSP_WIRE_MAX_UUID);
	uuid[OSP_WIRE_MAX_UUID] = '\0';
	ospec__v1__log_chunk__init(&ch);
	ch.id = UINT64_MAX;
	ch.app = id;
	ch.slot = "green";
	ch.has_out = ch.has_err = 1;
	ch.out.data = ch.err.data = (uint8_t *)big;
	ch.out.len = ch.err.len = OSP_WIRE_MAX_LOG_DATA;
	ch.has_out_next = ch.has_err_next = 1;
	ch.out_next = ch.err_next = UINT64_MAX;
	ch.has_out_reset = ch.has_err_reset = ch.has_more = ch.has_not_found = 1;
	ch.error = msg;
	osp_wire_env_init(&env, id, uuid, UINT64_MAX);
	env.body_case = OSPEC__V1__ENVELOPE__BODY_LOG_CHUNK;
	env.log_chunk = &ch;
	assert_true(ospec__v1__envelope__get_packed_size(&env) <= COORD_AGENT_MAX_REQ);
	free(big);
	free(msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wire_logs_requests),
		cmocka_unit_test(test_wire_logs_chunk),
		cmocka_unit_test(test_wire_logs_chunk_fits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
