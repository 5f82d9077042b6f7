/*
 * test_agent_release_fetch.c - a fetch always ends (agent_release_fetch.c):
 * a server dripping 2 KB/s (above curl's low-speed limit) is cut at the
 * total deadline, a cancel stops a fetch in flight within a second, a FIFO
 * (or a device, a directory) as a file:// artifact is refused at once; and
 * the agent's Stage uses the configured deadline (fetch_timeout) and stops
 * its fetch when the agent stops. Nothing of a failed fetch stays behind.
 *
 * The dripping server runs on a thread on 127.0.0.1 (random port); every
 * test has its own temp directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "agent_release.h"
#include "ospec/log.h"
#include "ospec/util.h"
#include "test_support.h"
#include "test_support_agent.h"
#include "test_support_release.h"

#define DRIP_FOR_MS 10000 /* then the server gives up: a fetch must end sooner */
#define ANY_SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* ---- a server that announces 1 MiB and sends 2 KB/s ---- */

struct drip {
	int lfd;
	int port;
	atomic_int stop;
	atomic_int conns;  /* requests answered so far */
	atomic_int chunks; /* body chunks sent on the latest one */
	pthread_t th;
};

static void drip_conn(struct drip *s, int fd)
{
	static const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n"
				   "Connection: close\r\n\r\n";
	char req[2048], chunk[205];
	int64_t end = osp_now_mono_ms() + DRIP_FOR_MS;

	if (!ts_recv_head(fd, req, sizeof(req)))
		return;
	atomic_store(&s->chunks, 0);
	atomic_fetch_add(&s->conns, 1);
	if (send(fd, head, strlen(head), MSG_NOSIGNAL) < 0)
		return;
	memset(chunk, 'x', sizeof(chunk));
	/* 205 bytes every 100 ms: 2 KB/s, twice curl's default low-speed limit */
	while (!atomic_load(&s->stop) && osp_now_mono_ms() < end) {
		if (send(fd, chunk, sizeof(chunk), MSG_NOSIGNAL) < 0)
			return; /* the client went away */
		atomic_fetch_add(&s->chunks, 1);
		osp_sleep_ms(100);
	}
}

/* drip_wait_body waits up to ms until request number conn (from 1) was sent
 * n chunks of its body: the fetch is under way, well into the transfer. */
static bool drip_wait_body(struct drip *s, int conn, int n, int64_t ms)
{
	int64_t end = osp_now_mono_ms() + ms;

	while (osp_now_mono_ms() < end) {
		if (atomic_load(&s->conns) > conn)
			return false; /* that one is over already */
		if (atomic_load(&s->conns) == conn && atomic_load(&s->chunks) >= n)
			return true;
		osp_sleep_ms(10);
	}
	return false;
}

static void *drip_main(void *arg)
{
	struct drip *s = arg;

	while (!atomic_load(&s->stop)) {
		int fd = accept(s->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		if (!atomic_load(&s->stop))
			drip_conn(s, fd);
		close(fd);
	}
	return NULL;
}

static void drip_start(struct drip *s)
{
	unsigned port;

	atomic_init(&s->stop, 0);
	atomic_init(&s->conns, 0);
	atomic_init(&s->chunks, 0);
	s->lfd = ts_bind_loopback(&port);
	assert_int_equal(listen(s->lfd, 16), 0);
	s->port = (int)port;
	assert_int_equal(pthread_create(&s->th, NULL, drip_main, s), 0);
}

static void drip_stop(struct drip *s)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	atomic_store(&s->stop, 1);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)s->port);
	if (fd >= 0) { /* wake the accept */
		(void)connect(fd, (struct sockaddr *)&sa, sizeof(sa));
		close(fd);
	}
	pthread_join(s->th, NULL);
	close(s->lfd);
}

/* ---- a fetch on its own thread, timed ---- */

struct fetch_run {
	const char *state;
	char url[512];
	agent_release_opts o;
	atomic_bool cancel;
	atomic_bool done;
	osp_err rv;
	int64_t ended_ms;
	char err[1024];
};

static void *fetch_main(void *arg)
{
	struct fetch_run *f = arg;

	f->rv = agent_release_fetch_opts(f->state, f->url, ANY_SHA, &f->o, f->err,
		sizeof(f->err));
	f->ended_ms = osp_now_mono_ms();
	atomic_store(&f->done, true);
	return NULL;
}

/* fetch_wait waits up to ms for f's thread; false if it is still running. */
static bool fetch_wait(struct fetch_run *f, int64_t ms)
{
	int64_t end = osp_now_mono_ms() + ms;

	while (!atomic_load(&f->done) && osp_now_mono_ms() < end)
		osp_sleep_ms(10);
	return atomic_load(&f->done);
}

static void test_agent_release_fetch_deadline(void **state)
{
	struct ts_rel_fx *x = *state;
	struct drip s = { .lfd = -1 };
	agent_release_opts o = { .timeout_ms = 1500 };
	int64_t t0, spent;
	osp_err rv;
	char url[256];

	drip_start(&s);
	snprintf(url, sizeof(url), "http://ops:hunter2@127.0.0.1:%d/app.tgz?X-Amz-Signature=c0ffee",
		s.port);
	t0 = osp_now_mono_ms();
	rv = agent_release_fetch_opts(x->state, url, ANY_SHA, &o, x->err, sizeof(x->err));
	spent = osp_now_mono_ms() - t0;
	drip_stop(&s);
	if (rv != OSP_ETIMEDOUT)
		fail_msg("fetch from a dripping server: %s after %lld ms, want a timeout: %s",
			osp_strerror(rv), (long long)spent, x->err);
	assert_true(spent >= 1400 && spent < 4000);
	ts_assert_has(x->err, "not finished within the fetch deadline of 1500ms");
	/* the message names the artifact, never its credentials */
	ts_assert_has(x->err, "http://127.0.0.1:");
	ts_assert_has(x->err, "/app.tgz?X-Amz-Signature=REDACTED");
	assert_null(strstr(x->err, "hunter2"));
	assert_null(strstr(x->err, "c0ffee"));
	assert_int_equal(ts_rel_count_sub(x, "cache"), 0); /* no temp file left */
}

static void test_agent_release_fetch_cancel(void **state)
{
	struct ts_rel_fx *x = *state;
	struct drip s = { .lfd = -1 };
	struct fetch_run *f = calloc(1, sizeof(*f));
	pthread_t th;
	int64_t set_ms;

	assert_non_null(f);
	drip_start(&s);
	f->state = x->state;
	snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d/app.tgz", s.port);
	atomic_init(&f->cancel, false);
	atomic_init(&f->done, false);
	f->o.timeout_ms = 60000;
	f->o.cancel = &f->cancel;
	assert_int_equal(pthread_create(&th, NULL, fetch_main, f), 0);
	/* cancelled mid-body, not before the request was even made */
	assert_true(drip_wait_body(&s, 1, 3, 10000));
	assert_false(atomic_load(&f->done));
	set_ms = osp_now_mono_ms();
	atomic_store(&f->cancel, true);
	fetch_wait(f, 15000);
	pthread_join(th, NULL);
	drip_stop(&s);
	if (f->rv != OSP_ECLOSED || f->ended_ms - set_ms >= 1000)
		fail_msg("cancelled fetch: %s %lld ms after the cancel: %s", osp_strerror(f->rv),
			(long long)(f->ended_ms - set_ms), f->err);
	ts_assert_has(f->err, "cancelled");
	assert_int_equal(ts_rel_count_sub(x, "cache"), 0);
	free(f);
}

static void test_agent_release_fetch_refuses_fifo(void **state)
{
	struct ts_rel_fx *x = *state;
	struct fetch_run *f = calloc(1, sizeof(*f));
	char fifo[PATH_MAX];
	pthread_t th;
	int64_t t0;
	bool ended;

	assert_non_null(f);
	snprintf(fifo, sizeof(fifo), "%s/artifact.fifo", x->src);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	f->state = x->state;
	snprintf(f->url, sizeof(f->url), "file://%s", fifo);
	atomic_init(&f->done, false);
	t0 = osp_now_mono_ms();
	assert_int_equal(pthread_create(&th, NULL, fetch_main, f), 0);
	ended = fetch_wait(f, 3000);
	if (!ended) {
		/* it hangs in open(): a writer lets it go, then fail */
		int w = open(fifo, O_WRONLY | O_NONBLOCK);
		if (w >= 0)
			close(w);
		pthread_join(th, NULL);
		free(f);
		fail_msg("a file:// fetch of a FIFO hung in open()");
	}
	pthread_join(th, NULL);
	assert_true(f->ended_ms - t0 < 1000);
	assert_int_equal(f->rv, OSP_EPERM);
	ts_assert_has(f->err, "is a FIFO, not a regular file");
	ts_assert_has(f->err, "file:// fetches only regular files");
	free(f);

	/* a directory and a device: the same */
	snprintf(fifo, sizeof(fifo), "file://%s", x->src);
	assert_int_equal(agent_release_fetch(x->state, fifo, ANY_SHA, x->err, sizeof(x->err)),
		OSP_EPERM);
	ts_assert_has(x->err, "is a directory, not a regular file");
	assert_int_equal(agent_release_fetch(x->state, "file:///dev/zero", ANY_SHA, x->err,
				 sizeof(x->err)),
		OSP_EPERM);
	ts_assert_has(x->err, "is a character device, not a regular file");
	/* a percent-encoded name and file://localhost still work */
	assert_int_equal(agent_release_fetch(x->state, "file://localhost/nonexistent%20file",
				 ANY_SHA, x->err, sizeof(x->err)),
		OSP_ENOENT);
	ts_assert_has(x->err, "no such file");
	assert_int_equal(agent_release_fetch(x->state, "file://otherhost/etc/hostname", ANY_SHA,
				 x->err, sizeof(x->err)),
		OSP_EINVAL);
	assert_int_equal(ts_rel_count_sub(x, "cache"), 0);
}

/* ---- the agent's Stage: the configured deadline, and a stop ---- */

struct stage_run {
	ts_agent_fx *f;
	Ospec__V1__ResultStatus status;
	int64_t ended_ms;
};

static void *stage_main(void *arg)
{
	struct stage_run *r = arg;

	r->status = ts_cmd_run(r->f->a, &r->f->c);
	r->ended_ms = osp_now_mono_ms();
	return NULL;
}

static void test_agent_release_fetch_stage_deadline_and_stop(void **state)
{
	ts_agent_fx *f = calloc(1, sizeof(*f));
	struct drip s = { .lfd = -1 };
	struct stage_run r = { 0 };
	char url[256];
	pthread_t th;
	int64_t t0;
	int conn;

	(void)state;
	assert_non_null(f);
	ts_agent_fx_init(f, "/tmp/ospec-fetch-XXXXXX");
	drip_start(&s);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hello.tgz", s.port);

	/* agent config fetch_timeout: 1s */
	f->cfg.fetch_timeout = 1000;
	ts_cmd_stage(&f->c, f, "hello", 1, 1, ts_free_port(), 1);
	f->c.stage.artifact_url = url;
	t0 = osp_now_mono_ms();
	ts_cmd_expect(f->a, &f->c, OSPEC__V1__RESULT_STATUS__RESULT_FAILED);
	assert_true(osp_now_mono_ms() - t0 < 4000);
	ts_assert_has(f->c.msg, "not finished within the fetch deadline of 1s");

	/* the agent stops while a Stage fetches: the fetch ends at once */
	f->cfg.fetch_timeout = 60000;
	ts_cmd_stage(&f->c, f, "hello", 1, 1, ts_free_port(), 2);
	f->c.stage.artifact_url = url;
	r.f = f;
	conn = atomic_load(&s.conns);
	assert_int_equal(pthread_create(&th, NULL, stage_main, &r), 0);
	assert_true(drip_wait_body(&s, conn + 1, 3, 10000)); /* the fetch is under way */
	t0 = osp_now_mono_ms();
	agent_dispatch_cancel(f->a->dispatch);
	pthread_join(th, NULL);
	drip_stop(&s);
	assert_int_equal(r.status, OSPEC__V1__RESULT_STATUS__RESULT_FAILED);
	if (r.ended_ms - t0 >= 1000)
		fail_msg("the stage ended %lld ms after the cancel: %s",
			(long long)(r.ended_ms - t0), f->c.msg);
	ts_assert_has(f->c.msg, "cancelled");
	ts_agent_fx_fini(f);
	free(f);
}

#define FX_TEST(f) cmocka_unit_test_setup_teardown(f, ts_rel_setup, ts_rel_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(test_agent_release_fetch_deadline),
		FX_TEST(test_agent_release_fetch_cancel),
		FX_TEST(test_agent_release_fetch_refuses_fifo),
		cmocka_unit_test(test_agent_release_fetch_stage_deadline_and_stop),
	};

	osp_log_setup(OSP_LOG_ERROR, OSP_LOG_TEXT, "test_agent_release_fetch", NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
