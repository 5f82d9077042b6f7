/*
 * test_coord_conn.c - what one agent connection may cost (coord_conn.c):
 * the request size limits against the largest legitimate request, the cap
 * on unregistered connections, the register deadline, the idle timeout,
 * the close after a refusal, and rate-limited log lines. Synthetic clock, no
 * sockets (tests/hostile/ runs the same limits against a live coordinator).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "coord.h"

/* conn_fill writes len-1 characters c and a NUL into buf. */
static char *conn_fill(char *buf, size_t len, char c)
{
	memset(buf, c, len - 1);
	buf[len - 1] = '\0';
	return buf;
}

/* The largest Register an agent can send (every list full, every field at
 * its limit) is decoded; the limits leave room above it. */
static void test_coord_conn_largest_register_fits(void **state)
{
	static char app[OSP_WIRE_MAX_APPS][OSP_WIRE_MAX_ID + 1];
	static char key[OSP_WIRE_MAX_LABELS][64], val[OSP_WIRE_MAX_LABELS][64];
	static char sw[OSP_WIRE_MAX_APPS][OSP_WIRE_MAX_ID + 1];
	static uint8_t cert[OSP_WIRE_MAX_CERT], sig[OSP_WIRE_MAX_SIG];
	/* env names (1.2): the report's budget, spread over the apps */
	static char envn[OSP_WIRE_MAX_ENV_REPORT_NAMES][OSP_WIRE_MAX_ENV_NAME + 1];
	static char *envp[OSP_WIRE_MAX_ENV_REPORT_NAMES];
	const size_t per_app = OSP_WIRE_MAX_ENV_REPORT_NAMES / OSP_WIRE_MAX_APPS;
	const size_t env_len = OSP_WIRE_MAX_ENV_REPORT_BYTES / OSP_WIRE_MAX_ENV_REPORT_NAMES;
	char ver[OSP_WIRE_MAX_VERSION + 1], sha[65], host[256], av[65], id[OSP_WIRE_MAX_ID + 1];
	Ospec__V1__AppState as[OSP_WIRE_MAX_APPS], *asp[OSP_WIRE_MAX_APPS];
	Ospec__V1__Label lb[OSP_WIRE_MAX_LABELS], *lbp[OSP_WIRE_MAX_LABELS];
	Ospec__V1__InDoubt dbt[OSP_WIRE_MAX_APPS], *dbtp[OSP_WIRE_MAX_APPS];
	uint8_t nonce[OSP_WIRE_NONCE_LEN] = { 0 };
	Ospec__V1__Register reg;
	osp_env env, *back = NULL;
	nng_msg *m = NULL;
	char err[256];

	(void)state;
	conn_fill(ver, sizeof(ver), '9');
	conn_fill(sha, sizeof(sha), 'a');
	conn_fill(host, sizeof(host), 'h');
	conn_fill(av, sizeof(av), 'v');
	conn_fill(id, sizeof(id), 'n');
	memset(cert, 'C', sizeof(cert));
	memset(sig, 0x30, sizeof(sig));
	ospec__v1__register__init(&reg);
	for (size_t i = 0; i < OSP_WIRE_MAX_APPS; i++) {
		conn_fill(app[i], sizeof(app[i]), 'a');
		app[i][0] = (char)('A' + i % 26);
		conn_fill(sw[i], sizeof(sw[i]), 's');
		ospec__v1__app_state__init(&as[i]);
		as[i].app = app[i];
		as[i].active_slot = "green";
		as[i].version = ver;
		as[i].idle_version = ver;
		as[i].sha256 = sha;
		as[i].has_generation = as[i].has_running = as[i].has_healthy = 1;
		as[i].generation = UINT64_MAX;
		as[i].running = as[i].healthy = 1;
		for (size_t k = 0; k < per_app; k++) {
			char *e = envn[i * per_app + k];
			memset(e, 'E', env_len);
			e[env_len] = '\0';
			snprintf(e, 12, "E%02zu_%03zu", i, k);
			e[strlen(e)] = 'E';
			envp[i * per_app + k] = e;
		}
		as[i].env_names = &envp[i * per_app];
		as[i].n_env_names = per_app;
		as[i].has_env_names_cut = 1;
		asp[i] = &as[i];
		ospec__v1__in_doubt__init(&dbt[i]);
		dbt[i].switch_id = sw[i];
		dbt[i].app = app[i];
		dbtp[i] = &dbt[i];
	}
	for (size_t i = 0; i < OSP_WIRE_MAX_LABELS; i++) {
		conn_fill(key[i], sizeof(key[i]), 'k');
		snprintf(key[i], 8, "k%zu", i);
		key[i][strlen(key[i])] = 'k';
		conn_fill(val[i], sizeof(val[i]), 'x');
		ospec__v1__label__init(&lb[i]);
		lb[i].key = key[i];
		lb[i].value = val[i];
		lbp[i] = &lb[i];
	}
	reg.nonce.data = nonce;
	reg.nonce.len = sizeof(nonce);
	reg.n_labels = OSP_WIRE_MAX_LABELS;
	reg.labels = lbp;
	reg.has_cursor = 1;
	reg.cursor = UINT64_MAX;
	reg.hostname = host;
	reg.agent_version = av;
	reg.n_apps = OSP_WIRE_MAX_APPS;
	reg.apps = asp;
	reg.n_in_doubt = OSP_WIRE_MAX_APPS;
	reg.in_doubt = dbtp;
	reg.has_cert_chain_pem = reg.has_signature = 1;
	reg.cert_chain_pem.data = cert;
	reg.cert_chain_pem.len = sizeof(cert);
	reg.signature.data = sig;
	reg.signature.len = sizeof(sig);
	osp_wire_env_init(&env, id, "00000000-0000-4000-8000-000000000001", UINT64_MAX);
	env.body_case = OSPEC__V1__ENVELOPE__BODY_REGISTER;
	env.register_ = &reg;
	assert_int_equal(osp_wire_encode(&env, &m), OSP_OK);
	/* what the decoder accepts: every limit reached, none passed */
	assert_int_equal(osp_wire_decode(nng_msg_body(m), nng_msg_len(m), &back, err, sizeof(err)),
		OSP_OK);
	osp_wire_free(back);
	print_message("largest register: %zu bytes (limit %d, receive limit %d)\n",
		nng_msg_len(m), COORD_AGENT_MAX_REQ, COORD_AGENT_RECVMAX);
	assert_true(nng_msg_len(m) + 8 * 1024 <= COORD_AGENT_MAX_REQ);
	assert_true(COORD_AGENT_MAX_REQ < COORD_AGENT_RECVMAX);
	/* and what every unregistered connection may make nng hold at once */
	assert_true((size_t)COORD_UNREG_MAX * COORD_AGENT_RECVMAX <= 32u * 1024 * 1024);
	nng_msg_free(m);
}

/* At most COORD_UNREG_MAX connections wait to register; registered ones do
 * not count, a closed one frees its place. */
static void test_coord_conn_unregistered_cap(void **state)
{
	coord c;

	(void)state;
	memset(&c, 0, sizeof(c));
	for (uint32_t id = 1; id <= COORD_UNREG_MAX; id++)
		assert_true(coord_conn_admit(&c, id, 1000));
	assert_int_equal(c.n_unreg, COORD_UNREG_MAX);
	assert_false(coord_conn_admit(&c, 9999, 1000));
	assert_null(coord_pipe_get(&c, 9999, false)); /* nothing kept of it */
	assert_int_equal(c.stats.conn_limit, 1);
	/* one registers: room for one more */
	coord_pipe_registered(&c, coord_pipe_get(&c, 7, false));
	coord_pipe_registered(&c, coord_pipe_get(&c, 7, false)); /* counted once */
	assert_int_equal(c.n_unreg, COORD_UNREG_MAX - 1);
	assert_true(coord_conn_admit(&c, 10000, 1000));
	assert_false(coord_conn_admit(&c, 10001, 1000));
	/* one goes away: room again; a registered one going changes nothing */
	coord_pipe_drop(&c, 8);
	coord_pipe_drop(&c, 7);
	assert_int_equal(c.n_unreg, COORD_UNREG_MAX - 1);
	assert_true(coord_conn_admit(&c, 10002, 1000));
	assert_int_equal(c.stats.conn_limit, 2);
	coord_registry_free(&c);
	assert_int_equal(c.n_unreg, 0);
}

/* The sweep closes: a refused connection once its reply had time to leave,
 * one that did not register in time, a registered one gone silent. Each
 * once. */
static void test_coord_conn_overdue(void **state)
{
	coord c;
	coord_pipe *fresh, *slow, *reg, *quiet, *refused;
	uint32_t ids[8];
	int64_t t0 = 100000, idle;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.cfg.heartbeat = 1000;
	idle = coord_conn_idle_ms(&c);
	assert_int_equal(idle, COORD_IDLE_MIN_MS); /* 6 heartbeats of 1 s: the floor */
	c.cfg.heartbeat = 5000;
	idle = coord_conn_idle_ms(&c);
	assert_int_equal(idle, COORD_IDLE_HEARTBEATS * 5000);
	assert_true(coord_conn_admit(&c, 1, t0));
	assert_true(coord_conn_admit(&c, 2, t0 - COORD_REGISTER_DEADLINE_MS - 1));
	assert_true(coord_conn_admit(&c, 3, t0 - 3600 * 1000));
	assert_true(coord_conn_admit(&c, 4, t0 - 3600 * 1000));
	assert_true(coord_conn_admit(&c, 5, t0));
	fresh = coord_pipe_get(&c, 1, false);
	slow = coord_pipe_get(&c, 2, false);
	reg = coord_pipe_get(&c, 3, false);
	quiet = coord_pipe_get(&c, 4, false);
	refused = coord_pipe_get(&c, 5, false);
	coord_pipe_registered(&c, reg);
	reg->last_mono = t0 - idle + 1000; /* not past it */
	coord_pipe_registered(&c, quiet);
	quiet->last_mono = t0 - idle - 1;
	refused->closing = true;
	refused->close_at = t0 + COORD_REFUSE_CLOSE_MS;

	assert_int_equal(coord_conn_overdue(&c, t0, ids, 8), 2);
	assert_int_equal(ids[0] + ids[1], 2 + 4); /* list order is the pipes' */
	assert_true(slow->closing && quiet->closing);
	assert_false(fresh->closing || reg->closing);
	assert_int_equal(c.stats.conn_deadline, 1);
	assert_int_equal(c.stats.conn_idle, 1);
	/* marked: not again */
	assert_int_equal(coord_conn_overdue(&c, t0 + 1, ids, 8), 0);
	/* the refused one after its reply had time to leave */
	assert_int_equal(coord_conn_overdue(&c, t0 + COORD_REFUSE_CLOSE_MS, ids, 8), 1);
	assert_int_equal(ids[0], 5);
	assert_int_equal(coord_conn_overdue(&c, t0 + 2 * COORD_REFUSE_CLOSE_MS, ids, 8), 0);
	/* nng reported 5 gone; the ones closed 5 s ago that nng never reported
	 * gone (its reaper can stop: no NNG_PIPE_EV_REM_POST) are forgotten, so
	 * they cannot hold places of COORD_UNREG_MAX; the quiet fresh one closes
	 * at its deadline (reg heard from meanwhile); the cap on ids holds */
	coord_pipe_drop(&c, 5);
	reg->last_mono = t0 + COORD_REGISTER_DEADLINE_MS;
	assert_int_equal(c.n_unreg, 2); /* 1 and 2 */
	assert_int_equal(coord_conn_overdue(&c, t0 + COORD_REGISTER_DEADLINE_MS + 1, ids, 1), 1);
	assert_int_equal(ids[0], 1);
	assert_null(coord_pipe_get(&c, 2, false));
	assert_null(coord_pipe_get(&c, 4, false));
	assert_non_null(coord_pipe_get(&c, 3, false));
	assert_int_equal(c.n_unreg, 1);
	assert_int_equal(c.stats.conn_deadline, 2);
	assert_int_equal(coord_conn_overdue(&c, t0 + COORD_REGISTER_DEADLINE_MS + 2, ids, 8), 0);
	coord_registry_free(&c);
}

/* One line per COORD_LOG_EVERY_MS; the next one says how many were held. */
static void test_coord_conn_ratelog(void **state)
{
	coord_ratelog r = { 0 };
	uint64_t held = 99;

	(void)state;
	assert_true(coord_ratelog_due(&r, 5000, &held));
	assert_int_equal(held, 0);
	for (int i = 0; i < 1000; i++)
		assert_false(coord_ratelog_due(&r, 5000 + i, &held));
	assert_false(coord_ratelog_due(&r, 5000 + COORD_LOG_EVERY_MS - 1, &held));
	assert_true(coord_ratelog_due(&r, 5000 + COORD_LOG_EVERY_MS, &held));
	assert_int_equal(held, 1001);
	assert_false(coord_ratelog_due(&r, 5000 + COORD_LOG_EVERY_MS + 1, &held));
	assert_true(coord_ratelog_due(&r, 5000 + 3 * COORD_LOG_EVERY_MS, &held));
	assert_int_equal(held, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_coord_conn_largest_register_fits),
		cmocka_unit_test(test_coord_conn_unregistered_cap),
		cmocka_unit_test(test_coord_conn_overdue),
		cmocka_unit_test(test_coord_conn_ratelog),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
