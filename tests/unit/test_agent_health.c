/*
 * test_agent_health.c - health checks against a tiny HTTP server thread on a
 * random loopback port that answers each request with a scripted status (or
 * hangs).
 */
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent_health.h"
#include "ospec/util.h"
#include "test_support.h"

#define SRV_HANG 0
#define SRV_SCRIPT_MAX 16

typedef struct test_srv {
	int fd;
	unsigned port;
	pthread_t thread;
	atomic_int stop;
	atomic_int requests;
	int script[SRV_SCRIPT_MAX]; /* status of request i; later ones get dflt */
	int nscript;
	atomic_int dflt;
	char last_line[256]; /* request line of the last request */
	pthread_mutex_t mu;
} test_srv;

/* srv_read_request reads until the end of the headers; false if the client
 * went away or the server is stopping. */
static bool srv_read_request(test_srv *s, int c, char *req, size_t len)
{
	size_t n = 0;

	while (!atomic_load(&s->stop)) {
		struct pollfd pfd = { .fd = c, .events = POLLIN };
		ssize_t r;

		if (poll(&pfd, 1, 50) <= 0)
			continue;
		r = read(c, req + n, len - 1 - n);
		if (r <= 0)
			return false;
		n += (size_t)r;
		req[n] = '\0';
		if (strstr(req, "\r\n\r\n") != NULL)
			return true;
		if (n == len - 1)
			return false;
	}
	return false;
}

/* srv_hang keeps the connection open without answering until the client
 * closes it or the server stops. */
static void srv_hang(test_srv *s, int c)
{
	char buf[256];

	while (!atomic_load(&s->stop)) {
		struct pollfd pfd = { .fd = c, .events = POLLIN };
		if (poll(&pfd, 1, 50) > 0 && read(c, buf, sizeof(buf)) <= 0)
			return;
	}
}

static void srv_serve(test_srv *s, int c)
{
	char req[4096], resp[256];
	int idx, code;
	char *eol;

	if (!srv_read_request(s, c, req, sizeof(req)))
		return;
	eol = strstr(req, "\r\n");
	if (eol != NULL)
		*eol = '\0';
	pthread_mutex_lock(&s->mu);
	osp_strlcpy(s->last_line, req, sizeof(s->last_line));
	pthread_mutex_unlock(&s->mu);
	idx = atomic_fetch_add(&s->requests, 1);
	code = idx < s->nscript ? s->script[idx] : atomic_load(&s->dflt);
	if (code == SRV_HANG) {
		srv_hang(s, c);
		return;
	}
	snprintf(resp, sizeof(resp), "HTTP/1.1 %d X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", code);
	if (write(c, resp, strlen(resp)) < 0)
		return;
}

static void *srv_main(void *arg)
{
	test_srv *s = arg;

	while (!atomic_load(&s->stop)) {
		struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
		int c;

		if (poll(&pfd, 1, 50) <= 0)
			continue;
		c = accept(s->fd, NULL, NULL);
		if (c < 0)
			continue;
		srv_serve(s, c);
		close(c);
	}
	return NULL;
}

static void srv_start(test_srv *s, int dflt, const int *script, int nscript)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->mu, NULL);
	s->fd = ts_bind_loopback(&s->port);
	assert_int_equal(listen(s->fd, 16), 0);
	atomic_store(&s->dflt, dflt);
	for (int i = 0; i < nscript && i < SRV_SCRIPT_MAX; i++)
		s->script[i] = script[i];
	s->nscript = nscript;
	assert_int_equal(pthread_create(&s->thread, NULL, srv_main, s), 0);
}

static void srv_stop(test_srv *s)
{
	atomic_store(&s->stop, 1);
	pthread_join(s->thread, NULL);
	close(s->fd);
	pthread_mutex_destroy(&s->mu);
}

/* srv_last_line returns the last request line (copied under the lock). */
static const char *srv_last_line(test_srv *s, char *buf, size_t len)
{
	pthread_mutex_lock(&s->mu);
	osp_strlcpy(buf, s->last_line, len);
	pthread_mutex_unlock(&s->mu);
	return buf;
}

static agent_health_spec spec_for(unsigned port)
{
	agent_health_spec hs;

	memset(&hs, 0, sizeof(hs));
	hs.port = port;
	hs.interval_ms = 50;
	hs.timeout_ms = 5000;
	hs.deadline_ms = 30000;
	return hs;
}

static void test_agent_health_healthy(void **state)
{
	test_srv s;
	agent_health_spec hs;
	char err[512], line[256];

	(void)state;
	srv_start(&s, 200, NULL, 0);
	hs = spec_for(s.port);
	assert_int_equal(agent_health_wait(&hs, err, sizeof(err)), OSP_OK);
	/* rise defaults to 2: exactly two checks, on the default path */
	assert_int_equal(atomic_load(&s.requests), 2);
	assert_string_equal(srv_last_line(&s, line, sizeof(line)), "GET /health HTTP/1.1");
	srv_stop(&s);
}

static void test_agent_health_custom_path_and_status(void **state)
{
	static const int script[] = { 204, 301 };
	test_srv s;
	char url[128], err[512], line[256];
	long code = -1;

	(void)state;
	srv_start(&s, 200, script, 2);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/ready?x=1", s.port);
	assert_int_equal(agent_health_check_once(url, 5000, &code, err, sizeof(err)), OSP_OK);
	assert_int_equal(code, 204);
	assert_string_equal(srv_last_line(&s, line, sizeof(line)), "GET /ready?x=1 HTTP/1.1");
	/* a redirect is not followed and is not healthy */
	assert_int_equal(agent_health_check_once(url, 5000, &code, err, sizeof(err)), OSP_EREFUSED);
	assert_int_equal(code, 301);
	assert_non_null(strstr(err, "HTTP 301"));
	srv_stop(&s);
}

static void test_agent_health_rise_counts_consecutive(void **state)
{
	static const int script[] = { 200, 500, 200, 200 };
	test_srv s;
	agent_health_spec hs;
	char err[512];

	(void)state;
	srv_start(&s, 500, script, 4);
	hs = spec_for(s.port);
	hs.rise = 2;
	assert_int_equal(agent_health_wait(&hs, err, sizeof(err)), OSP_OK);
	/* the 500 resets the count: healthy only after requests 3 and 4 */
	assert_int_equal(atomic_load(&s.requests), 4);
	srv_stop(&s);

	srv_start(&s, 200, NULL, 0);
	hs = spec_for(s.port);
	hs.rise = 5;
	assert_int_equal(agent_health_wait(&hs, err, sizeof(err)), OSP_OK);
	assert_int_equal(atomic_load(&s.requests), 5);
	srv_stop(&s);
}

static void test_agent_health_fall_after_up(void **state)
{
	static const int script[] = { 200, 500, 500, 500 };
	test_srv s;
	agent_health_spec hs;
	char err[512], want[256];

	(void)state;
	srv_start(&s, 200, script, 4);
	hs = spec_for(s.port);
	assert_int_equal(agent_health_wait(&hs, err, sizeof(err)), OSP_EREFUSED);
	assert_int_equal(atomic_load(&s.requests), 4);
	snprintf(want, sizeof(want), "unhealthy after 3 failed checks: GET http://127.0.0.1:%u/health: HTTP 500",
		s.port);
	assert_string_equal(err, want);
	srv_stop(&s);
}

static void test_agent_health_fail_fast_once_answering(void **state)
{
	test_srv s;
	agent_health_spec hs;
	char err[512], want[256];
	int64_t t0;

	(void)state;
	/* the release always answers 500: it listens, so `fall` failures end the
	 * wait at once instead of holding the batch until the deadline */
	srv_start(&s, 500, NULL, 0);
	hs = spec_for(s.port);
	hs.deadline_ms = 30000;
	hs.fall = 3;
	hs.interval_ms = 100;
	t0 = osp_now_mono_ms();
	assert_int_equal(agent_health_wait(&hs, err, sizeof(err)), OSP_EREFUSED);
	assert_true(osp_now_mono_ms() - t0 < 10000);
	assert_int_equal(atomic_load(&s.requests), 3);
	snprintf(want, sizeof(want), "unhealthy after 3 failed checks: GET http://127.0.0.1:%u/health: HTTP 500",
		s.port);
	assert_string_equal(err, want);
	srv_stop(&s);
}

static void test_agent_health_deadline_names_last_failure(void **state)
{
	static const int script[] = { 500, 200, 500, 200, 404, 200, 500, 200, 500, 200, 500, 200, 500, 200,
		500, 200 };
	test_srv s;
	agent_health_spec hs;
	char err[512], want[256];

	(void)state;
	/* answering, but never `rise` successes nor `fall` failures in a row:
	 * the deadline ends it, naming the last failed check */
	srv_start(&s, 500, script, 16);
	hs = spec_for(s.port);
	hs.interval_ms = 100;
	hs.deadline_ms = 1000;
	assert_int_equal(agent_health_wait(&hs, err, sizeof(err)), OSP_ETIMEDOUT);
	assert_true(atomic_load(&s.requests) >= 2);
	assert_true(atomic_load(&s.requests) <= 16);
	snprintf(want, sizeof(want), "health deadline 1s passed: GET http://127.0.0.1:%u/health: HTTP ", s.port);
	assert_memory_equal(err, want, strlen(want));
	srv_stop(&s);
}

static void test_agent_health_connection_refused(void **state)
{
	agent_health_spec hs;
	char url[128], err[512], want[256];
	unsigned port;
	long code = -1;
	int64_t t0;
	int fd;

	(void)state;
	fd = ts_bind_loopback(&port); /* bound but not listening: connections are refused */
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/health", port);
	assert_int_equal(agent_health_check_once(url, 5000, &code, err, sizeof(err)), OSP_ENET);
	assert_int_equal(code, 0);
	snprintf(want, sizeof(want), "GET %s: connection refused", url);
	assert_string_equal(err, want);

	/* nothing listens yet (the app may be starting): refused connections
	 * never count towards fall, only the deadline ends the wait */
	hs = spec_for(port);
	hs.deadline_ms = 1500;
	hs.fall = 1;
	t0 = osp_now_mono_ms();
	assert_int_equal(agent_health_wait(&hs, err, sizeof(err)), OSP_ETIMEDOUT);
	assert_true(osp_now_mono_ms() - t0 >= 1400);
	snprintf(want, sizeof(want), "never became healthy: health deadline 1500ms passed: GET %s: connection refused",
		url);
	assert_string_equal(err, want);
	close(fd);
}

static bool alive_never(void *arg)
{
	(void)arg;
	return false;
}

/* alive_for returns true for the first *arg calls. */
static bool alive_for(void *arg)
{
	atomic_int *left = arg;

	return atomic_fetch_sub(left, 1) > 0;
}

static void test_agent_health_process_exit_fails_at_once(void **state)
{
	test_srv s;
	agent_health_spec hs;
	atomic_int left;
	char err[512];
	int64_t t0;

	(void)state;
	srv_start(&s, 500, NULL, 0);
	hs = spec_for(s.port);
	hs.deadline_ms = 60000;
	hs.alive = alive_never;
	t0 = osp_now_mono_ms();
	assert_int_equal(agent_health_wait(&hs, err, sizeof(err)), OSP_ECLOSED);
	assert_string_equal(err, "process exited");
	assert_int_equal(atomic_load(&s.requests), 0);

	/* dying while the checks fail: no waiting for the 60s deadline */
	atomic_store(&left, 5);
	hs.alive = alive_for;
	hs.arg = &left;
	assert_int_equal(agent_health_wait(&hs, err, sizeof(err)), OSP_ECLOSED);
	assert_string_equal(err, "process exited");
	assert_true(atomic_load(&s.requests) >= 1);
	assert_true(osp_now_mono_ms() - t0 < 30000);
	srv_stop(&s);
}

static void test_agent_health_cancel(void **state)
{
	test_srv s;
	agent_health_spec hs;
	atomic_bool cancel = true;
	char err[512];

	(void)state;
	srv_start(&s, 500, NULL, 0);
	hs = spec_for(s.port);
	hs.cancel = &cancel;
	assert_int_equal(agent_health_wait(&hs, err, sizeof(err)), OSP_ECLOSED);
	assert_string_equal(err, "health check cancelled");
	srv_stop(&s);
}

static void test_agent_health_hanging_server_times_out(void **state)
{
	test_srv s;
	agent_health_spec hs;
	char url[128], err[512], want[256];
	long code = -1;

	(void)state;
	srv_start(&s, SRV_HANG, NULL, 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/health", s.port);
	assert_int_equal(agent_health_check_once(url, 300, &code, err, sizeof(err)), OSP_ETIMEDOUT);
	snprintf(want, sizeof(want), "GET %s: timed out after 300ms", url);
	assert_string_equal(err, want);

	hs = spec_for(s.port);
	hs.timeout_ms = 200;
	hs.deadline_ms = 1000;
	assert_int_equal(agent_health_wait(&hs, err, sizeof(err)), OSP_ETIMEDOUT);
	assert_non_null(strstr(err, "never became healthy: health deadline 1s passed: GET "));
	assert_non_null(strstr(err, "timed out after"));
	srv_stop(&s);
}

static void test_agent_health_bad_spec(void **state)
{
	agent_health_spec hs = spec_for(0);
	char err[512];

	(void)state;
	assert_int_equal(agent_health_wait(&hs, err, sizeof(err)), OSP_EINVAL);
	hs.port = 8080;
	hs.path = "health";
	assert_int_equal(agent_health_wait(&hs, err, sizeof(err)), OSP_EINVAL);
	assert_int_equal(agent_health_wait(NULL, err, sizeof(err)), OSP_EINVAL);
	assert_int_equal(agent_health_check_once("ftp://127.0.0.1/x", 1000, NULL, err, sizeof(err)), OSP_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agent_health_healthy),
		cmocka_unit_test(test_agent_health_custom_path_and_status),
		cmocka_unit_test(test_agent_health_rise_counts_consecutive),
		cmocka_unit_test(test_agent_health_fall_after_up),
		cmocka_unit_test(test_agent_health_fail_fast_once_answering),
		cmocka_unit_test(test_agent_health_deadline_names_last_failure),
		cmocka_unit_test(test_agent_health_connection_refused),
		cmocka_unit_test(test_agent_health_process_exit_fails_at_once),
		cmocka_unit_test(test_agent_health_cancel),
		cmocka_unit_test(test_agent_health_hanging_server_times_out),
		cmocka_unit_test(test_agent_health_bad_spec),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
