/*
 * test_support_haproxy.h - the fixture of the haproxy traffic-driver tests
 * (test_agent_traffic_haproxy.c, test_agent_traffic_haproxy_watch.c), prefix
 * ts_hx_. Each test gets its own temp dir with a generated haproxy.cfg (admin
 * socket, a frontend on a free loopback port, backend `hello` with
 * hello_blue and hello_green, green `disabled`, no `check`), a haproxy in
 * the foreground and two sample-app processes (deploy/examples/hello)
 * answering "1" (blue) and "2" (green). Every process is a child that dies
 * with the test (PR_SET_PDEATHSIG) and is stopped in the teardown, pass or
 * fail. Like test_support.h, the helpers fail the running cmocka test.
 */
#ifndef TEST_SUPPORT_HAPROXY_H
#define TEST_SUPPORT_HAPROXY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "agent_traffic.h"

/* A bounded load generator through the frontend (a thread). */
typedef struct ts_hx_load {
	unsigned port;
	pthread_t thread;
	bool running;
	atomic_bool after;   /* set by the test once its change is done */
	atomic_bool abandon; /* set by the teardown after a failure */
	int min_after, max_total;
	atomic_int total;
	int after_count, failed, seen1, seen2;
	char first_failure[128];
} ts_hx_load;

typedef struct ts_hx {
	char dir[128];
	char sock[192];
	char cfgpath[192];
	unsigned fe_port, port[2]; /* frontend; blue and green apps */
	pid_t haproxy, app[2];
	char backend[32], srv_blue[32], srv_green[32];
	agent_proxy_cfg cfg; /* points into the arrays above */
	ts_hx_load load;        /* joined by the teardown if a test failed */
} ts_hx;

/* ts_hx_setup is a cmocka setup: *state becomes a new ts_hx with both apps
 * and haproxy (blue active, admin level) running. */
int ts_hx_setup(void **state);

/* ts_hx_teardown is a cmocka teardown: abandons a running load, stops
 * haproxy and the apps, removes the temp dir and frees the fixture. */
int ts_hx_teardown(void **state);

/* ts_hx_path puts DIR/name into buf (len bytes); fails the test if cut. */
void ts_hx_path(char *buf, size_t len, const ts_hx *t, const char *name);

/* ts_hx_admin sends one command to the admin socket without the driver.
 * Returns the reply length (the reply in out, len bytes), or -1 if the
 * socket does not answer. */
ssize_t ts_hx_admin(const ts_hx *t, const char *cmd, char *out, size_t len);

/* ts_hx_assert_version fails the test unless a GET through the frontend, on
 * a new connection, answers 200 with body want. */
void ts_hx_assert_version(const ts_hx *t, const char *want);

/* ts_hx_load_start starts a load generator through the frontend (t->load)
 * and returns it after min_before requests; it stops after min_after more
 * requests once the change is marked done (ts_hx_load_finish). */
ts_hx_load *ts_hx_load_start(ts_hx *t, int min_before, int min_after);

/* ts_hx_load_finish marks the change done, waits for min_after more
 * requests and fails the test if any request failed. */
void ts_hx_load_finish(ts_hx_load *l);

/* ts_hx_open opens the traffic driver for cfg; fails the test if it cannot. */
agent_traffic *ts_hx_open(const agent_proxy_cfg *cfg);

/* ts_hx_assert_current fails the test unless the driver reports slot want. */
void ts_hx_assert_current(agent_traffic *tr, const char *want);

/* ts_hx_commit commits slot; fails the test if that fails. */
void ts_hx_commit(agent_traffic *tr, const char *slot);

/* ts_hx_states reads op and admin state of both servers, as text
 * ("name:op/admin " each), straight from the admin socket. */
void ts_hx_states(const ts_hx *t, char *out, size_t len);

/* ts_hx_restart stops haproxy and starts it again from a new config with
 * slot `active` (0 blue, 1 green) enabled and the socket at level. */
void ts_hx_restart(ts_hx *t, int active, const char *level);

#endif
