/*
 * it_webhooks.c - webhooks end to end (docs/webhooks.md): a real coordinator
 * and agents, and a receiver in this process (a thread on a loopback port)
 * that checks each POST's HMAC signature with the shared secret, records the
 * events and answers 500 to the first N requests when told to.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <poll.h>
#include <pthread.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <mbedtls/md.h>

#include "harness.h"
#include "ospec/json.h"
#include "ospec/util.h"

#define IT_SECRET "it-webhook-secret"
#define IT_MAX_REQ 64

/* One POST the receiver got. */
typedef struct it_req {
	char path[64];
	char id[96];
	char type[48];
	char rollout[64];
	char text[1024];
	char ua[64];
	bool sig_ok;
	int status;             /* what it answered */
} it_req;

typedef struct it_rx {
	int port, fd;
	pthread_t thr;
	bool running;
	volatile bool stop;
	pthread_mutex_t mtx;
	int fail_first;         /* answer 500 to this many requests first */
	int n;
	it_req req[IT_MAX_REQ];
} it_rx;

/* it_hmac_ok checks "sha256=<hex>" against HMAC-SHA256(IT_SECRET, body). */
static bool it_hmac_ok(const char *hdr, const char *body, size_t len)
{
	uint8_t mac[32];
	char hex[65];

	if (hdr == NULL || strncmp(hdr, "sha256=", 7) != 0)
		return false;
	mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
		(const uint8_t *)IT_SECRET, strlen(IT_SECRET), (const uint8_t *)body, len, mac);
	for (size_t i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
	return strncmp(hdr + 7, hex, 64) == 0 && (hdr[71] == '\r' || hdr[71] == '\0');
}

/* it_header copies header name's value (up to CR) into out. */
static const char *it_header(const char *head, const char *name, char *out, size_t len)
{
	const char *p = head;

	out[0] = '\0';
	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncasecmp(p, name, strlen(name)) == 0 && p[strlen(name)] == ':') {
			const char *v = p + strlen(name) + 1;
			while (*v == ' ')
				v++;
			snprintf(out, len, "%.*s", (int)strcspn(v, "\r\n"), v);
			return out;
		}
	}
	return NULL;
}

static const char *it_s(const osp_json *j, const char *key)
{
	const char *v = osp_json_get_str(j, key);

	return v != NULL ? v : "";
}

static void it_rx_serve(it_rx *rx, int c)
{
	char buf[65536], val[200], path[64] = "";
	size_t got = 0, need;
	char *end = NULL, *body;
	ssize_t r;
	it_req q = { 0 };
	osp_json *j = NULL;
	int status;

	buf[0] = '\0';
	while (got < sizeof(buf) - 1 && (end = strstr(buf, "\r\n\r\n")) == NULL) {
		if ((r = recv(c, buf + got, sizeof(buf) - 1 - got, 0)) <= 0)
			return;
		got += (size_t)r;
		buf[got] = '\0';
	}
	if (end == NULL)
		return;
	body = end + 4;
	need = (size_t)(body - buf) + (size_t)atoi(it_header(buf, "Content-Length", val,
		sizeof(val)) ? val : "0");
	while (got < need && got < sizeof(buf) - 1) {
		if ((r = recv(c, buf + got, sizeof(buf) - 1 - got, 0)) <= 0)
			return;
		got += (size_t)r;
	}
	buf[got] = '\0';
	*end = '\0';
	sscanf(buf, "POST %63s", path);
	osp_strlcpy(q.path, path, sizeof(q.path));
	it_header(buf, "X-Ospec-Event-Id", q.id, sizeof(q.id));
	it_header(buf, "User-Agent", q.ua, sizeof(q.ua));
	q.sig_ok = it_hmac_ok(it_header(buf, "X-Ospec-Signature", val, sizeof(val)), body,
		strlen(body));
	if (osp_json_parse(body, strlen(body), &j, val, sizeof(val)) == OSP_OK) {
		osp_strlcpy(q.type, it_s(j, "type"), sizeof(q.type));
		osp_strlcpy(q.rollout, it_s(j, "rollout"), sizeof(q.rollout));
		osp_strlcpy(q.text, it_s(j, "text"), sizeof(q.text));
		/* the body's id is the header's */
		if (osp_json_get_str(j, "id") == NULL || strcmp(osp_json_get_str(j, "id"), q.id) != 0)
			q.sig_ok = false;
		osp_json_free(j);
	}
	pthread_mutex_lock(&rx->mtx);
	status = rx->n < rx->fail_first ? 500 : 200;
	q.status = status;
	if (rx->n < IT_MAX_REQ)
		rx->req[rx->n++] = q;
	pthread_mutex_unlock(&rx->mtx);
	snprintf(buf, sizeof(buf), "HTTP/1.1 %d %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
		status, status == 200 ? "OK" : "Internal Server Error");
	(void)!send(c, buf, strlen(buf), MSG_NOSIGNAL);
}

static void *it_rx_main(void *arg)
{
	it_rx *rx = arg;

	while (!rx->stop) {
		struct pollfd p = { .fd = rx->fd, .events = POLLIN };
		int c;

		if (poll(&p, 1, 100) <= 0)
			continue;
		if ((c = accept(rx->fd, NULL, NULL)) < 0)
			continue;
		it_rx_serve(rx, c);
		close(c);
	}
	return NULL;
}

/* it_rx_start listens on rx->port (chosen before, so a URL can name it while
 * nothing listens yet). */
static void it_rx_start(it_rx *rx)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)rx->port) };
	int one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	rx->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(rx->fd >= 0);
	setsockopt(rx->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(rx->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(rx->fd, 16), 0);
	rx->stop = false;
	assert_int_equal(pthread_create(&rx->thr, NULL, it_rx_main, rx), 0);
	rx->running = true;
}

static void it_rx_stop(it_rx *rx)
{
	if (!rx->running)
		return;
	rx->stop = true;
	pthread_join(rx->thr, NULL);
	close(rx->fd);
	rx->running = false;
}

/* it_rx_accepted: how many requests for path with type were answered 200. */
static int it_rx_accepted(it_rx *rx, const char *path, const char *type)
{
	int n = 0;

	pthread_mutex_lock(&rx->mtx);
	for (int i = 0; i < rx->n; i++)
		n += rx->req[i].status == 200 && strcmp(rx->req[i].path, path) == 0 &&
			strcmp(rx->req[i].type, type) == 0;
	pthread_mutex_unlock(&rx->mtx);
	return n;
}

typedef struct it_fx {
	h_env *e;
	it_rx rx;
	char secret[400], url[2][600], sha[2][65], hook[2][128];
	int ports[2];
} it_fx;

static int it_setup(void **state)
{
	it_fx *f = calloc(1, sizeof(*f));
	FILE *fp;

	if (f == NULL || (f->e = h_setup("webhooks")) == NULL)
		return -1;
	pthread_mutex_init(&f->rx.mtx, NULL);
	f->rx.port = h_free_port();
	snprintf(f->hook[0], sizeof(f->hook[0]), "http://127.0.0.1:%d/all", f->rx.port);
	snprintf(f->hook[1], sizeof(f->hook[1]), "http://127.0.0.1:%d/mine", f->rx.port);
	snprintf(f->secret, sizeof(f->secret), "%s/webhook.secret", f->e->dir);
	if ((fp = fopen(f->secret, "w")) == NULL)
		return -1;
	fprintf(fp, "%s\n", IT_SECRET);
	fclose(fp);
	*state = f;
	return 0;
}

static int it_teardown(void **state)
{
	it_fx *f = *state;

	h_teardown(f->e);
	it_rx_stop(&f->rx);
	pthread_mutex_destroy(&f->rx.mtx);
	free(f);
	return 0;
}

struct it_up {
	int want;
};

static bool it_up_is(h_env *e, void *arg)
{
	return h_nodes_up(e) == ((struct it_up *)arg)->want;
}

/* it_fleet: the coordinator (webhook f->hook[0], signed) and two agents,
 * artifacts 1 (good) and 2 (fails its health checks). */
static void it_fleet(it_fx *f)
{
	char *const extra[] = { "--webhook", f->hook[0], "--webhook-secret-file", f->secret, NULL };
	static const char *const bad[] = { "FAIL_HEALTH=", NULL };
	struct it_up up = { 2 };

	assert_non_null(h_coord_start(f->e, "500ms", extra));
	for (int i = 0; i < 2; i++) {
		char id[8];
		snprintf(id, sizeof(id), "n%d", i + 1);
		f->ports[i] = h_free_port();
		assert_non_null(h_agent_start_app(f->e, id, "role=web", "hello", f->ports[i]));
	}
	assert_true(h_wait_for(it_up_is, f->e, &up, h_ms(20000)));
	assert_true(h_artifact(f->e, "1", NULL, f->url[0], f->sha[0]));
	assert_true(h_artifact(f->e, "2", bad, f->url[1], f->sha[1]));
}

struct it_want {
	it_rx *rx;
	const char *path, *type;
	int n;
};

static bool it_got(h_env *e, void *arg)
{
	struct it_want *w = arg;

	(void)e;
	return it_rx_accepted(w->rx, w->path, w->type) >= w->n;
}

static void it_wait_event(it_fx *f, const char *path, const char *type, int ms)
{
	struct it_want w = { &f->rx, path, type, 1 };

	if (!h_wait_for(it_got, f->e, &w, h_ms(ms))) {
		for (int i = 0; i < f->rx.n; i++)
			fprintf(stderr, "  request %d: %s %s id %s status %d sig %d\n", i,
				f->rx.req[i].path, f->rx.req[i].type, f->rx.req[i].id, f->rx.req[i].status,
				f->rx.req[i].sig_ok);
		fail_msg("no %s POSTed to %s in %d ms (%d requests seen)", type, path, ms, f->rx.n);
	}
}

/* it_find returns the first request to path with type (answered 200 if ok). */
static const it_req *it_find(it_rx *rx, const char *path, const char *type, bool ok)
{
	for (int i = 0; i < rx->n; i++)
		if (strcmp(rx->req[i].path, path) == 0 && strcmp(rx->req[i].type, type) == 0 &&
			(!ok || rx->req[i].status == 200))
			return &rx->req[i];
	return NULL;
}

/* (1) a rolling deploy: the coordinator's URL and the deploy's own each get
 * rollout.started then rollout.succeeded, signed, with the Slack text; a
 * deploy that fails its health checks posts rollout.failed with the reason. */
static void it_webhooks_rolling(void **state)
{
	it_fx *f = *state;
	char id[64], id2[64], want[200], *err = NULL;
	const it_req *st, *ok;

	it_rx_start(&f->rx);
	it_fleet(f);
	assert_int_equal(h_deploy(f->e, "1", f->url[0], f->sha[0], id, &err, "--batch", "1",
				 "--webhook", f->hook[1], "--wait", NULL), 0);
	free(err);
	it_wait_event(f, "/all", "rollout.succeeded", 10000);
	it_wait_event(f, "/mine", "rollout.succeeded", 10000);
	pthread_mutex_lock(&f->rx.mtx);
	for (int i = 0; i < f->rx.n; i++) {
		if (!f->rx.req[i].sig_ok)
			fail_msg("request %d (%s %s) has a bad signature", i, f->rx.req[i].path,
				f->rx.req[i].type);
		assert_non_null(strstr(f->rx.req[i].ua, "ospec/"));
	}
	st = it_find(&f->rx, "/all", "rollout.started", true);
	ok = it_find(&f->rx, "/all", "rollout.succeeded", true);
	assert_non_null(st);
	assert_non_null(ok);
	assert_true(st < ok); /* in order */
	assert_string_equal(ok->rollout, id);
	assert_string_not_equal(st->id, ok->id);
	snprintf(want, sizeof(want), "ospec: rollout %s (hello 1) succeeded", id);
	if (strncmp(ok->text, want, strlen(want)) != 0)
		fail_msg("text '%s', expected it to start with '%s'", ok->text, want);
	snprintf(want, sizeof(want), "ospec: rollout %s (hello 1) started: hello 1 to 2 nodes", id);
	assert_non_null(strstr(st->text, want));
	/* the same event to both URLs: one id */
	assert_string_equal(it_find(&f->rx, "/mine", "rollout.succeeded", true)->id, ok->id);
	pthread_mutex_unlock(&f->rx.mtx);

	/* a failing deploy, without its own URL: only the coordinator's */
	assert_int_equal(h_deploy(f->e, "2", f->url[1], f->sha[1], id2, &err, "--batch", "1",
				 "--health-deadline", "3s", "--progress-deadline", "20s", "--wait",
				 NULL), 1);
	free(err);
	it_wait_event(f, "/all", "rollout.failed", 10000);
	pthread_mutex_lock(&f->rx.mtx);
	ok = it_find(&f->rx, "/all", "rollout.failed", true);
	snprintf(want, sizeof(want), "ospec: rollout %s (hello 2) failed: ", id2);
	if (strncmp(ok->text, want, strlen(want)) != 0 || strstr(ok->text, "n1") == NULL)
		fail_msg("text '%s', expected '%s' and the failed node", ok->text, want);
	assert_null(it_find(&f->rx, "/mine", "rollout.failed", false));
	pthread_mutex_unlock(&f->rx.mtx);
}

/* (2) a receiver that answers 500 three times still gets every event, each
 * retried with the same event id, in order. */
static void it_webhooks_retry(void **state)
{
	it_fx *f = *state;
	char id[64], *err = NULL;
	const it_req *st, *ok;

	f->rx.fail_first = 3;
	it_rx_start(&f->rx);
	it_fleet(f);
	assert_int_equal(h_deploy(f->e, "1", f->url[0], f->sha[0], id, &err, "--wait", NULL), 0);
	free(err);
	/* backoff 1 s, 2 s, 4 s (+-20%) before the 4th try succeeds */
	it_wait_event(f, "/all", "rollout.started", 20000);
	it_wait_event(f, "/all", "rollout.succeeded", 10000);
	pthread_mutex_lock(&f->rx.mtx);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(f->rx.req[i].status, 500);
		assert_string_equal(f->rx.req[i].type, "rollout.started");
		assert_string_equal(f->rx.req[i].id, f->rx.req[0].id);
	}
	st = it_find(&f->rx, "/all", "rollout.started", true);
	ok = it_find(&f->rx, "/all", "rollout.succeeded", true);
	assert_string_equal(st->id, f->rx.req[0].id);
	assert_true(st == &f->rx.req[3] && ok > st); /* succeeded waited for started */
	pthread_mutex_unlock(&f->rx.mtx);
	assert_int_equal(it_rx_accepted(&f->rx, "/all", "rollout.started"), 1);
}

/* (3) kill -9 of the coordinator while the receiver is down: after a restart
 * with the receiver up, every event arrives; none is lost. */
static void it_webhooks_restart(void **state)
{
	it_fx *f = *state;
	char *const extra[] = { "--webhook", f->hook[0], "--webhook-secret-file", f->secret, NULL };
	char id[64], *err = NULL, *metrics = NULL;
	int port = 0;

	it_fleet(f); /* nothing listens on the receiver's port */
	assert_int_equal(h_deploy(f->e, "1", f->url[0], f->sha[0], id, &err, "--wait", NULL), 0);
	free(err);
	/* a first attempt or two fail (connection refused): waited for, not
	 * slept on */
	assert_true(h_wait_log(f->e->coord->log, "retried with backoff", h_ms(20000)));
	h_kill(f->e, f->e->coord, SIGKILL);
	it_rx_start(&f->rx);
	assert_non_null(h_coord_start(f->e, "500ms", extra));
	assert_true(h_file_contains(f->e->coord->log, "waiting in the outbox: resumed"));
	it_wait_event(f, "/all", "rollout.started", 20000);
	it_wait_event(f, "/all", "rollout.succeeded", 20000);
	assert_true(it_find(&f->rx, "/all", "rollout.started", true) <
		it_find(&f->rx, "/all", "rollout.succeeded", true));
	assert_true(it_find(&f->rx, "/all", "rollout.started", true)->sig_ok);
	/* the outbox is empty again */
	sscanf(f->e->http, "127.0.0.1:%d", &port);
	assert_int_equal(h_http_get(port, "/metrics", &metrics), 200);
	assert_non_null(strstr(metrics, "\nospec_webhook_outbox 0\n"));
	assert_non_null(strstr(metrics, "ospec_webhook_deliveries_total{result=\"ok\"} 2\n"));
	free(metrics);
}

/* (4) a bad --webhook is refused: exit 2 and what is wrong. */
static void it_webhooks_bad_url(void **state)
{
	it_fx *f = *state;
	static const char *const bad[] = { "ftp://example.com/hook", "garbage", "http://" };
	char id[64], *err = NULL, data[400];

	it_fleet(f);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(h_deploy(f->e, "1", f->url[0], f->sha[0], id, &err, "--webhook",
					 bad[i], NULL), 2);
		if (err == NULL || strstr(err, "--webhook: expected an http:// or https:// URL") == NULL ||
			strstr(err, bad[i]) == NULL)
			fail_msg("'%s': stderr '%s'", bad[i], err ? err : "");
		free(err);
		err = NULL;
	}
	/* nothing was started */
	assert_int_equal(h_ctl(f->e, NULL, NULL, "status", "hello-1", NULL), 4);
	/* the coordinator refuses one at start as well */
	snprintf(data, sizeof(data), "%s/coord-bad", f->e->dir);
	{
		char *const argv[] = { (char *)h_bin("ospec-coordinator"), "--data", data,
			"--webhook", "ftp://example.com/x", NULL };
		assert_int_equal(h_run(argv, h_ms(10000), NULL, &err), 2);
		assert_non_null(strstr(err, "--webhook: expected an http:// or https:// URL"));
		free(err);
	}
}

/* it_webhooks [PATTERN]: only the tests whose name matches PATTERN */
int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(it_webhooks_rolling, it_setup, it_teardown),
		cmocka_unit_test_setup_teardown(it_webhooks_retry, it_setup, it_teardown),
		cmocka_unit_test_setup_teardown(it_webhooks_restart, it_setup, it_teardown),
		cmocka_unit_test_setup_teardown(it_webhooks_bad_url, it_setup, it_teardown),
	};

	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
