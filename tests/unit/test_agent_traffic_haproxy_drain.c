/*
 * test_agent_traffic_haproxy_drain.c - the rolling operations of the haproxy
 * traffic driver (drain, ready, the server's sessions) against a real
 * haproxy (test_support_haproxy.h: backend `hello` with hello_blue serving
 * "1"). The in-place app's server is hello_blue (proxy.server).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent_traffic.h"
#include "ospec/util.h"
#include "test_support.h"
#include "test_support_haproxy.h"

/* tx_rolling opens the driver with a rolling-only config: proxy.server. */
static agent_traffic *tx_rolling(ts_hx *t, char *server)
{
	agent_proxy_cfg cfg = { .driver = "haproxy", .socket = t->sock, .backend = t->backend,
		.server = server };

	return ts_hx_open(&cfg);
}

static agent_traffic_srv tx_state(agent_traffic *tr, const char *server)
{
	agent_traffic_srv st;
	char err[512];

	if (agent_traffic_srv_state(tr, server, &st, err, sizeof(err)) != OSP_OK)
		fail_msg("srv_state: %s", err);
	return st;
}

/* tx_wait_sessions waits (bounded, 20 s) until server has want sessions. */
static void tx_wait_sessions(agent_traffic *tr, const char *server, long want)
{
	int64_t until = osp_now_mono_ms() + 20000;
	agent_traffic_srv st;

	for (;;) {
		st = tx_state(tr, server);
		if (st.sessions == want)
			return;
		if (osp_now_mono_ms() >= until)
			fail_msg("server %s has %ld sessions, expected %ld", server, st.sessions,
				want);
		osp_sleep_ms(50);
	}
}

static void test_agent_traffic_haproxy_drain_sets_state_ready_restores(void **state)
{
	ts_hx *t = *state;
	agent_traffic *tr = tx_rolling(t, t->srv_blue);
	char err[512], states[256];
	agent_traffic_srv st;

	st = tx_state(tr, t->srv_blue);
	assert_false(st.draining);
	assert_false(st.maint);
	if (agent_traffic_drain(tr, t->srv_blue, err, sizeof(err)) != OSP_OK)
		fail_msg("drain: %s", err);
	st = tx_state(tr, t->srv_blue);
	assert_true(st.draining);
	ts_hx_states(t, states, sizeof(states));
	assert_non_null(strstr(states, "hello_blue:2/8")); /* running, forced drain */
	assert_int_equal(agent_traffic_drain(tr, t->srv_blue, err, sizeof(err)), OSP_OK);
	if (agent_traffic_ready(tr, t->srv_blue, err, sizeof(err)) != OSP_OK)
		fail_msg("ready: %s", err);
	st = tx_state(tr, t->srv_blue);
	assert_false(st.draining);
	ts_hx_states(t, states, sizeof(states));
	assert_non_null(strstr(states, "hello_blue:2/0"));
	ts_hx_assert_version(t, "1");
	assert_int_equal(agent_traffic_ready(tr, t->srv_blue, err, sizeof(err)), OSP_OK);
	agent_traffic_close(tr);
}

/* A request held by a stopped app is a session; drain keeps it, and it ends
 * when the app answers. */
static void test_agent_traffic_haproxy_drain_sessions_counted(void **state)
{
	ts_hx *t = *state;
	agent_traffic *tr = tx_rolling(t, t->srv_blue);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(t->fe_port) };
	const char *req = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	char err[512], buf[512];
	int fd;

	assert_int_equal(tx_state(tr, t->srv_blue).sessions, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(kill(t->app[0], SIGSTOP), 0);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
	tx_wait_sessions(tr, t->srv_blue, 1);
	if (agent_traffic_drain(tr, t->srv_blue, err, sizeof(err)) != OSP_OK)
		fail_msg("drain: %s", err);
	assert_int_equal(tx_state(tr, t->srv_blue).sessions, 1); /* in flight: kept */
	assert_int_equal(kill(t->app[0], SIGCONT), 0);
	tx_wait_sessions(tr, t->srv_blue, 0);
	assert_true(recv(fd, buf, sizeof(buf) - 1, 0) > 0); /* it was answered */
	close(fd);
	assert_true(tx_state(tr, t->srv_blue).draining);
	assert_int_equal(agent_traffic_ready(tr, t->srv_blue, err, sizeof(err)), OSP_OK);
	agent_traffic_close(tr);
}

static void test_agent_traffic_haproxy_drain_errors_surface(void **state)
{
	ts_hx *t = *state;
	agent_traffic *tr = tx_rolling(t, "nosuch");
	agent_traffic_srv st;
	char err[512];

	assert_int_equal(agent_traffic_drain(tr, "nosuch", err, sizeof(err)), OSP_EREFUSED);
	assert_non_null(strstr(err, "set server hello/nosuch state drain"));
	assert_non_null(strstr(err, "No such server"));
	assert_int_equal(agent_traffic_ready(tr, "nosuch", err, sizeof(err)), OSP_EREFUSED);
	assert_non_null(strstr(err, "No such server"));
	assert_int_equal(agent_traffic_srv_state(tr, "nosuch", &st, err, sizeof(err)), OSP_ENOENT);
	assert_non_null(strstr(err, "no server 'nosuch'"));
	assert_int_equal(agent_traffic_drain(tr, "", err, sizeof(err)), OSP_EINVAL);
	assert_int_equal(agent_traffic_drain(tr, "a;b", err, sizeof(err)), OSP_EINVAL);
	/* a rolling-only config has no blue-green servers */
	assert_int_equal(agent_traffic_commit(tr, "green", err, sizeof(err)), OSP_ECONFIG);
	assert_non_null(strstr(err, "proxy.servers"));
	agent_traffic_close(tr);
}

static void test_agent_traffic_haproxy_drain_socket_down(void **state)
{
	ts_hx *t = *state;
	char sock[256], err[512];
	agent_proxy_cfg cfg = { .socket = sock, .backend = t->backend, .server = t->srv_blue };
	agent_traffic *tr;

	ts_hx_path(sock, sizeof(sock), t, "absent.sock");
	tr = ts_hx_open(&cfg);
	assert_int_equal(agent_traffic_drain(tr, t->srv_blue, err, sizeof(err)), OSP_ENET);
	assert_non_null(strstr(err, "absent.sock"));
	agent_traffic_close(tr);
}

/* Without a proxy the rolling operations do nothing and succeed. */
static void test_agent_traffic_haproxy_drain_none_driver(void **state)
{
	agent_traffic *tr = ts_hx_open(NULL);
	agent_traffic_srv st = { .sessions = 7 };
	char err[128];

	(void)state;
	assert_string_equal(agent_traffic_name(tr), "none");
	assert_int_equal(agent_traffic_drain(tr, "web", err, sizeof(err)), OSP_OK);
	assert_int_equal(agent_traffic_srv_state(tr, "web", &st, err, sizeof(err)), OSP_OK);
	assert_int_equal(st.sessions, 0);
	assert_int_equal(agent_traffic_ready(tr, "web", err, sizeof(err)), OSP_OK);
	agent_traffic_close(tr);
}

int main(void)
{
#define HX(name) cmocka_unit_test_setup_teardown(name, ts_hx_setup, ts_hx_teardown)
	const struct CMUnitTest tests[] = {
		HX(test_agent_traffic_haproxy_drain_sets_state_ready_restores),
		HX(test_agent_traffic_haproxy_drain_sessions_counted),
		HX(test_agent_traffic_haproxy_drain_errors_surface),
		HX(test_agent_traffic_haproxy_drain_socket_down),
		cmocka_unit_test(test_agent_traffic_haproxy_drain_none_driver),
	};
#undef HX

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
