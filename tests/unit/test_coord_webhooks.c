/*
 * test_coord_webhooks.c - webhooks (coord_webhooks.h): URL checks, the body
 * and its Slack text, the HMAC signature against an independent vector, the
 * retry schedule, and the outbox over a real LMDB (written in the caller's
 * transaction, sent, retried with the same event id, dropped with an event).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "coord_webhooks.h"
#include "ospec/json.h"
#include "ospec/ospec_doc.h"
#include "test_support.h"
#include "test_support_coord.h"

static void test_coord_webhooks_url(void **state)
{
	Ospec__V1__RolloutRecord r;
	char err[256] = "", shown[128];

	(void)state;
	assert_true(coord_wh_url_ok("http://127.0.0.1:9000/hook"));
	assert_true(coord_wh_url_ok("https://hooks.slack.com/services/T0/B0/XYZ"));
	assert_false(coord_wh_url_ok("ftp://example.com/x"));
	assert_false(coord_wh_url_ok("garbage"));
	assert_false(coord_wh_url_ok("http://"));
	assert_false(coord_wh_url_ok("http:///path"));
	assert_false(coord_wh_url_ok("http://a b/"));
	assert_false(coord_wh_url_ok("http://host/\n"));
	coord_wh_url_show("https://user:pw@hooks.slack.com/services/T0/B0/XYZ?x=1", shown,
		sizeof(shown));
	assert_string_equal(shown, "https://hooks.slack.com");

	ospec__v1__rollout_record__init(&r);
	assert_int_equal(coord_wh_args("http://a/1 https://b/2 http://a/1", &r, err,
				 sizeof(err)), 0);
	assert_int_equal(r.n_webhooks, 2); /* the repeat once */
	assert_int_equal(coord_wh_args("ftp://x/", &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "--webhook: expected an http:// or https:// URL"));
	assert_non_null(strstr(err, "ftp://x/"));
	assert_int_equal(coord_wh_args("http://3/ http://4/ http://5/ http://6/ http://7/ "
				       "http://8/ http://9/",
				 &r, err, sizeof(err)),
		-1);
	assert_non_null(strstr(err, "more than 8"));
	for (size_t i = 0; i < r.n_webhooks; i++)
		free(r.webhooks[i]);
	free(r.webhooks);
}

static void test_coord_webhooks_body(void **state)
{
	coord_wh_event ev = { .type = "rollout.failed", .rollout = "hello-12", .plan = "",
		.stage = NULL, .app = "hello", .version = "2.4.0", .state = "failed",
		.message = "1 of 3 nodes failed\nweb-2: unhealthy", .ts_ms = 1700000000123LL };
	osp_buf b;
	osp_json *j = NULL;
	char err[128];

	(void)state;
	osp_buf_init(&b, 65536);
	assert_int_equal(coord_wh_body(&ev, "u-7", &b), OSP_OK);
	assert_int_equal(osp_json_parse(b.data, b.len, &j, err, sizeof(err)), OSP_OK);
	assert_string_equal(osp_json_get_str(j, "id"), "u-7");
	assert_string_equal(osp_json_get_str(j, "type"), "rollout.failed");
	assert_string_equal(osp_json_get_str(j, "rollout"), "hello-12");
	assert_int_equal(osp_json_get(j, "plan")->type, OSP_JSON_NULL);
	assert_int_equal(osp_json_get(j, "stage")->type, OSP_JSON_NULL);
	assert_string_equal(osp_json_get_str(j, "app"), "hello");
	assert_string_equal(osp_json_get_str(j, "version"), "2.4.0");
	assert_string_equal(osp_json_get_str(j, "state"), "failed");
	assert_string_equal(osp_json_get_str(j, "message"), "1 of 3 nodes failed\nweb-2: unhealthy");
	assert_string_equal(osp_json_get_str(j, "ts"), "2023-11-14T22:13:20.123Z");
	/* one line: the newline of the reason is a space in the text */
	assert_string_equal(osp_json_get_str(j, "text"),
		"ospec: rollout hello-12 (hello 2.4.0) failed: 1 of 3 nodes failed web-2: unhealthy");
	osp_json_free(j);
	osp_buf_fini(&b);
}

static void test_coord_webhooks_text(void **state)
{
	char t[COORD_WH_TEXT_MAX], big[3000];
	coord_wh_event st = { .type = "rollout.started", .rollout = "p-3.eu", .plan = "p-3",
		.stage = "eu", .app = "hello", .version = "1.0", .state = "running",
		.message = "hello 1.0 to 2 nodes (rolling)" };
	coord_wh_event gate = { .type = "stage.waiting_approval", .plan = "p-3", .stage = "us",
		.app = "hello", .version = "1.0", .state = "waiting_approval", .message = "" };

	(void)state;
	coord_wh_text(&st, t, sizeof(t));
	assert_string_equal(t, "ospec: rollout p-3.eu (hello 1.0, stage eu of plan p-3) started: "
			       "hello 1.0 to 2 nodes (rolling)");
	coord_wh_text(&gate, t, sizeof(t));
	assert_string_equal(t, "ospec: plan p-3 (hello 1.0): stage us waits for approval");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	st.message = big;
	coord_wh_text(&st, t, sizeof(t));
	assert_int_equal(strlen(t), sizeof(t) - 1);
	assert_string_equal(t + strlen(t) - 3, "...");
}

static void test_coord_webhooks_hmac(void **state)
{
	const char *body = "{\"id\":\"x-1\",\"type\":\"rollout.failed\"}";
	char hex[65];

	(void)state;
	/* printf '%s' '{"id":"x-1","type":"rollout.failed"}' |
	 *     openssl dgst -sha256 -hmac 'k3y-s3cret' */
	coord_wh_sign((const uint8_t *)"k3y-s3cret", 10, body, strlen(body), hex);
	assert_string_equal(hex, "46afaca5e6c9b44a29da5b45b65f449a08801ff34c210beb2e27e201ab2b1042");
}

static void test_coord_webhooks_backoff(void **state)
{
	(void)state;
	/* 1 s doubling, +-20%, never above 5 min */
	assert_int_equal(coord_wh_backoff_ms(1, 0), 800);
	assert_int_equal(coord_wh_backoff_ms(1, 400), 1200);
	assert_int_equal(coord_wh_backoff_ms(1, 401), 800); /* rnd wraps inside the spread */
	assert_int_equal(coord_wh_backoff_ms(2, 0), 1600);
	assert_int_equal(coord_wh_backoff_ms(3, 800), 4000);
	assert_int_equal(coord_wh_backoff_ms(9, 0), 204800);
	assert_int_equal(coord_wh_backoff_ms(10, 0), 240000);
	assert_int_equal(coord_wh_backoff_ms(10, 60000), 300000);
	assert_int_equal(coord_wh_backoff_ms(10, 120000), 300000); /* capped */
	for (uint32_t a = 1; a < 60; a++)
		for (uint32_t r = 0; r < 200000; r += 9973)
			assert_true(coord_wh_backoff_ms(a, r) <= COORD_WH_BACKOFF_MAX_MS);
	assert_false(coord_wh_give_up(49, 0, COORD_WH_GIVE_UP_MS - 1));
	assert_true(coord_wh_give_up(50, 0, 1));
	assert_true(coord_wh_give_up(1, 0, COORD_WH_GIVE_UP_MS));
}

/* A receiver in memory: fails the first `fail` POSTs. */
typedef struct fake_rx {
	int fail;
	int calls;
	char ids[16][80];
	char urls[16][128];
	char sigs[16][65];
} fake_rx;

static bool fake_send(void *arg, const char *url, const char *id, const char *body,
	const char *sig, char *why, size_t len)
{
	fake_rx *rx = arg;
	int i = rx->calls++;

	(void)body;
	if (i < 16) {
		osp_strlcpy(rx->ids[i], id, sizeof(rx->ids[i]));
		osp_strlcpy(rx->urls[i], url, sizeof(rx->urls[i]));
		osp_strlcpy(rx->sigs[i], sig ? sig : "", sizeof(rx->sigs[i]));
	}
	if (i < rx->fail) {
		snprintf(why, len, "HTTP 500");
		return false;
	}
	return true;
}

static uint64_t outbox_count(coord *c)
{
	osp_txn *t = NULL;
	uint64_t n = 0;

	assert_int_equal(osp_store_txn_begin(c->store, false, &t), OSP_OK);
	assert_int_equal(osp_store_count(t, "outbox", &n), OSP_OK);
	osp_store_txn_abort(t);
	return n;
}

static void put_event(coord *c, char **urls, size_t n, bool commit)
{
	coord_wh_event ev = { .type = "rollout.succeeded", .rollout = "hello-1", .app = "hello",
		.version = "1.0", .state = "succeeded", .message = "3 of 3 nodes", .ts_ms = 1 };
	osp_txn *t = NULL;

	pthread_mutex_lock(&c->mtx);
	assert_int_equal(osp_store_txn_begin(c->store, true, &t), OSP_OK);
	assert_int_equal(coord_webhooks_put(c, t, &ev, urls, n), OSP_OK);
	if (commit)
		assert_int_equal(osp_store_txn_commit(t), OSP_OK);
	else
		osp_store_txn_abort(t);
	pthread_mutex_unlock(&c->mtx);
}

static void test_coord_webhooks_outbox(void **state)
{
	ts_coord_fx *f = *state;
	coord *c = &f->c;
	char *mine[] = { "http://b.example/2", "http://a.example/1" };
	fake_rx rx = { .fail = 1 };
	int64_t now = osp_now_wall_ms(), next = 0;
	uint64_t ok, retry, dropped;

	pthread_mutex_init(&c->mtx, NULL);
	c->cfg.webhooks.v[0] = strdup("http://a.example/1");
	c->cfg.webhooks.n = 1;
	/* an aborted transaction leaves nothing to send */
	put_event(c, mine, 2, false);
	assert_int_equal(outbox_count(c), 0);
	/* the coordinator's URL and the rollout's other one: two entries, one id */
	put_event(c, mine, 2, true);
	assert_int_equal(outbox_count(c), 2);
	now = osp_now_wall_ms(); /* entries are due from when they were written */
	assert_int_equal(coord_webhooks_pass(c, now, fake_send, &rx, &next), 2);
	assert_int_equal(rx.calls, 2);
	assert_string_equal(rx.ids[0], rx.ids[1]);
	assert_string_equal(rx.urls[0], "http://a.example/1"); /* first failed */
	assert_string_equal(rx.urls[1], "http://b.example/2");
	assert_string_equal(rx.sigs[0], ""); /* no secret: no signature */
	assert_int_equal(outbox_count(c), 1);
	/* not due yet: nothing sent, next is the backoff's */
	assert_int_equal(coord_webhooks_pass(c, now, fake_send, &rx, &next), 0);
	assert_true(next > now && next <= now + 5000);
	/* with a secret, the retry is signed and carries the same event id */
	c->wh->klen = 3;
	memcpy(c->wh->key, "abc", 3);
	assert_int_equal(coord_webhooks_pass(c, next, fake_send, &rx, &next), 1);
	assert_string_equal(rx.ids[2], rx.ids[0]);
	assert_string_equal(rx.urls[2], "http://a.example/1");
	assert_int_equal(strlen(rx.sigs[2]), 64);
	assert_int_equal(outbox_count(c), 0);
	coord_webhooks_counts(c, &ok, &retry, &dropped);
	assert_int_equal(ok, 2);
	assert_int_equal(retry, 1);
	assert_int_equal(dropped, 0);
	/* a second event gets a new id */
	put_event(c, NULL, 0, true);
	assert_int_equal(coord_webhooks_pass(c, osp_now_wall_ms(), fake_send, &rx, &next), 1);
	assert_string_not_equal(rx.ids[3], rx.ids[0]);
	free(c->cfg.webhooks.v[0]);
	c->cfg.webhooks.n = 0;
}

struct find_ev {
	const char *kind;
	char msg[512];
	bool found;
};

static int find_ev_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	struct find_ev *fe = arg;
	Ospec__V1__EventRecord *e = ospec__v1__event_record__unpack(NULL, vl, v);

	(void)k;
	(void)kl;
	if (e != NULL && strcmp(e->kind, fe->kind) == 0) {
		fe->found = true;
		osp_strlcpy(fe->msg, e->message ? e->message : "", sizeof(fe->msg));
	}
	if (e != NULL)
		ospec__v1__event_record__free_unpacked(e, NULL);
	return 0;
}

static void test_coord_webhooks_dropped(void **state)
{
	ts_coord_fx *f = *state;
	coord *c = &f->c;
	char *mine[] = { "https://hooks.example/services/SECRET" };
	fake_rx rx = { .fail = 1000 };
	struct find_ev fe = { .kind = "webhook.dropped" };
	int64_t now = osp_now_wall_ms(), next = 0;
	uint64_t ok, retry, dropped;
	osp_txn *t = NULL;

	pthread_mutex_init(&c->mtx, NULL);
	put_event(c, mine, 1, true);
	now = osp_now_wall_ms();
	assert_int_equal(coord_webhooks_pass(c, now, fake_send, &rx, &next), 1);
	assert_int_equal(outbox_count(c), 1);
	/* a day later the next failure gives up */
	assert_int_equal(coord_webhooks_pass(c, now + COORD_WH_GIVE_UP_MS, fake_send, &rx, &next),
		1);
	assert_int_equal(outbox_count(c), 0);
	coord_webhooks_counts(c, &ok, &retry, &dropped);
	assert_int_equal(dropped, 1);
	assert_int_equal(retry, 1);
	assert_int_equal(osp_store_txn_begin(c->store, false, &t), OSP_OK);
	osp_store_foreach(t, "events", NULL, 0, false, find_ev_cb, &fe);
	osp_store_txn_abort(t);
	assert_true(fe.found);
	assert_non_null(strstr(fe.msg, "rollout.succeeded"));
	assert_non_null(strstr(fe.msg, "after 2 attempts: HTTP 500"));
	assert_null(strstr(fe.msg, "SECRET")); /* the URL's path is never told */
}

/* monitoring.alerting.channels: its http(s) URLs become webhooks, a named
 * channel is warned about, an environment's list replaces the top one. */
static void test_coord_webhooks_ospec_channels(void **state)
{
	static const char doc[] =
		"id: x\n"
		"fleet: {app: hello, run: bin/hello, port: 8080}\n"
		"monitoring:\n"
		"  alerting:\n"
		"    channels: [\"slack\", \"https://hooks.example/T/B/S\", \"http://10.0.0.1:9/h\"]\n"
		"    severity_levels: [critical]\n"
		"environments:\n"
		"  production:\n"
		"    monitoring: {alerting: {channels: [\"https://prod.example/h\"]}}\n";
	static const char bad[] = "id: x\nmonitoring: {alerting: {channels: [\"http://a b\"]}}\n";
	osp_doc_plan *p = calloc(1, sizeof(*p));
	osp_doc_findings f = { 0 };
	bool warned_slack = false;

	(void)state;
	assert_non_null(p);
	assert_int_equal(osp_doc_parse("d.yaml", doc, strlen(doc), NULL, p, &f), OSP_OK);
	assert_int_equal(p->nwebhooks, 2);
	assert_string_equal(p->webhooks[0], "https://hooks.example/T/B/S");
	assert_string_equal(p->webhooks[1], "http://10.0.0.1:9/h");
	for (size_t i = 0; i < f.n; i++)
		warned_slack |= !f.v[i].error &&
			strcmp(f.v[i].path, "monitoring.alerting.channels[0]") == 0;
	assert_true(warned_slack);
	osp_doc_findings_free(&f);
	memset(&f, 0, sizeof(f));
	assert_int_equal(osp_doc_parse("d.yaml", doc, strlen(doc), "production", p, &f), OSP_OK);
	assert_int_equal(p->nwebhooks, 1);
	assert_string_equal(p->webhooks[0], "https://prod.example/h");
	osp_doc_findings_free(&f);
	memset(&f, 0, sizeof(f));
	assert_int_not_equal(osp_doc_parse("d.yaml", bad, strlen(bad), NULL, p, &f), OSP_OK);
	assert_true(f.errors > 0);
	osp_doc_findings_free(&f);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_coord_webhooks_url),
		cmocka_unit_test(test_coord_webhooks_body),
		cmocka_unit_test(test_coord_webhooks_text),
		cmocka_unit_test(test_coord_webhooks_hmac),
		cmocka_unit_test(test_coord_webhooks_backoff),
		cmocka_unit_test(test_coord_webhooks_ospec_channels),
		cmocka_unit_test_setup_teardown(test_coord_webhooks_outbox, ts_coord_setup,
			ts_coord_teardown),
		cmocka_unit_test_setup_teardown(test_coord_webhooks_dropped, ts_coord_setup,
			ts_coord_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
