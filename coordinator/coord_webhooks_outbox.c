/*
 * coord_webhooks_outbox.c - the webhook outbox (coord_webhooks.h): entries
 * written in the transaction of the change they report, and the worker
 * thread that POSTs them with libcurl.
 *
 * Locks: c->mtx guards the store as everywhere; w->mtx only the worker's
 * wake-up flag. The hooks hold c->mtx and take w->mtx to signal; the worker
 * never takes c->mtx while it holds w->mtx, and never holds c->mtx during a
 * POST. A wake-up may come before its transaction commits: the worker reads
 * the outbox under c->mtx, which the committing thread holds until its
 * commit, and it looks again every second in any case, so nothing waits for
 * a later change to be sent.
 */
#include "coord_webhooks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "coord_active.h"
#include "ospec/log.h"
#include "ospec/util.h"

#define COORD_WH_BODY_MAX (64 * 1024)
#define COORD_WH_PASS_MAX 16        /* entries sent per round */
#define COORD_WH_SCAN_MAX 100000    /* entries looked at per round */
#define COORD_WH_POLL_MS 1000
#define COORD_WH_KEY_LEN 10         /* event sequence (8, big-endian), URL index (2) */

coord_webhooks *coord_wh_get(coord *c)
{
	coord_webhooks *w = c->wh;

	if (w != NULL)
		return w;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	pthread_mutex_init(&w->mtx, NULL);
	pthread_cond_init(&w->cv, NULL);
	c->wh = w;
	return w;
}

static void *coord_wh_main(void *arg);

/* coord_wh_launch starts the worker once it may run. */
static void coord_wh_launch(coord *c, coord_webhooks *w)
{
	if (!w->may_run || w->started || atomic_load(&w->stop))
		return;
	if (pthread_create(&w->thr, NULL, coord_wh_main, c) != 0) {
		OSP_ERROR("COORD-WEBHOOK", "cannot start the webhook thread; entries wait in "
			"the outbox until the next start");
		return;
	}
	w->started = true;
}

static void coord_wh_kick(coord *c)
{
	coord_webhooks *w = coord_wh_get(c);

	if (w == NULL)
		return; /* the entry waits in the outbox for the next start */
	coord_wh_launch(c, w);
	pthread_mutex_lock(&w->mtx);
	w->kicked = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mtx);
}

/* coord_wh_next_id makes the next event id "<store uuid>-<seq>" (both kept
 * in meta, so an id is never given twice, not even after a restore of an
 * older copy of another store). */
static osp_err coord_wh_next_id(osp_txn *t, uint64_t *seq, char *id, size_t len)
{
	char uuid[40] = "";
	const void *v;
	size_t vl;
	uint8_t be[8];
	uint64_t n = 0;
	osp_err rv = osp_store_get(t, "meta", "webhook_uuid", 12, &v, &vl);

	if (rv == OSP_OK && vl > 0 && vl < sizeof(uuid)) {
		memcpy(uuid, v, vl);
		uuid[vl] = '\0';
	} else if (rv == OSP_OK || rv == OSP_ENOENT) {
		if ((rv = osp_uuid_new(uuid)) != OSP_OK ||
			(rv = osp_store_put(t, "meta", "webhook_uuid", 12, uuid, strlen(uuid))) !=
				OSP_OK)
			return rv;
	} else {
		return rv;
	}
	rv = osp_store_get(t, "meta", "webhook_seq", 11, &v, &vl);
	if (rv == OSP_OK && vl == 8)
		n = osp_be64_get(v);
	else if (rv != OSP_OK && rv != OSP_ENOENT)
		return rv;
	osp_be64_put(be, ++n);
	if ((rv = osp_store_put(t, "meta", "webhook_seq", 11, be, 8)) != OSP_OK)
		return rv;
	*seq = n;
	snprintf(id, len, "%s-%llu", uuid, (unsigned long long)n);
	return OSP_OK;
}

/* coord_wh_put_one writes one outbox entry. */
static osp_err coord_wh_put_one(osp_txn *t, uint64_t seq, uint16_t idx,
	const Ospec__V1__OutboxRecord *r)
{
	uint8_t key[COORD_WH_KEY_LEN], *buf;
	size_t len = ospec__v1__outbox_record__get_packed_size(r);
	osp_err rv;

	osp_be64_put(key, seq);
	key[8] = (uint8_t)(idx >> 8);
	key[9] = (uint8_t)idx;
	if ((buf = malloc(len ? len : 1)) == NULL)
		return OSP_ENOMEM;
	ospec__v1__outbox_record__pack(r, buf);
	rv = osp_store_put(t, "outbox", key, sizeof(key), buf, len);
	free(buf);
	return rv;
}

osp_err coord_webhooks_put(coord *c, osp_txn *t, const coord_wh_event *ev, char *const *urls,
	size_t nurls)
{
	const char *all[2 * COORD_WH_MAX_URLS];
	size_t n = 0;
	char id[80];
	uint64_t seq;
	osp_buf body;
	Ospec__V1__OutboxRecord r;
	osp_err rv;

	for (size_t k = 0; k < 2; k++) {
		char *const *v = k == 0 ? c->cfg.webhooks.v : urls;
		size_t nv = k == 0 ? c->cfg.webhooks.n : nurls;
		for (size_t i = 0; i < nv && n < sizeof(all) / sizeof(all[0]); i++) {
			bool dup = false;
			for (size_t j = 0; j < n && !dup; j++)
				dup = strcmp(all[j], v[i]) == 0;
			if (!dup && coord_wh_url_ok(v[i]))
				all[n++] = v[i];
		}
	}
	if (n == 0)
		return OSP_OK;
	if ((rv = coord_wh_next_id(t, &seq, id, sizeof(id))) != OSP_OK)
		return rv;
	osp_buf_init(&body, COORD_WH_BODY_MAX);
	if ((rv = coord_wh_body(ev, id, &body)) != OSP_OK)
		goto out;
	ospec__v1__outbox_record__init(&r);
	r.id = id;
	r.body = body.data;
	r.type = (char *)ev->type;
	r.rollout = (char *)(ev->rollout != NULL && ev->rollout[0] ? ev->rollout : ev->plan);
	r.app = (char *)ev->app;
	r.has_attempts = r.has_first_ms = r.has_next_ms = 1;
	r.first_ms = r.next_ms = osp_now_wall_ms();
	for (size_t i = 0; i < n && rv == OSP_OK; i++) {
		r.url = (char *)all[i];
		rv = coord_wh_put_one(t, seq, (uint16_t)i, &r);
	}
out:
	osp_buf_fini(&body);
	if (rv == OSP_OK)
		coord_wh_kick(c);
	return rv;
}

static bool coord_wh_is(const char *type, const char *const *list)
{
	for (size_t i = 0; list[i] != NULL; i++)
		if (strcmp(type, list[i]) == 0)
			return true;
	return false;
}

osp_err coord_webhooks_rollout(coord *c, osp_txn *t, const coord_ro_entry *e, const char *type,
	const char *message)
{
	static const char *const types[] = { "rollout.started", "rollout.waiting_approval",
		"rollout.succeeded", "rollout.failed", "rollout.aborted", "rollout.rolled_back",
		NULL };
	coord_wh_event ev = { 0 };

	if (type == NULL || !coord_wh_is(type, types) ||
		(e->rec->n_webhooks == 0 && c->cfg.webhooks.n == 0))
		return OSP_OK;
	ev.type = type;
	ev.rollout = e->ro.id;
	ev.plan = e->rec->plan;
	ev.stage = e->rec->stage;
	ev.app = e->ro.app;
	ev.version = e->ro.version;
	ev.state = strcmp(type, "rollout.started") == 0 ? "running" : type + 8;
	ev.message = message;
	ev.ts_ms = osp_now_wall_ms();
	return coord_webhooks_put(c, t, &ev, e->rec->webhooks, e->rec->n_webhooks);
}

osp_err coord_webhooks_plan(coord *c, osp_txn *t, const Ospec__V1__PlanRecord *p,
	const char *type, const char *stage, const char *message)
{
	static const char *const types[] = { "plan.started", "stage.waiting_approval",
		"plan.succeeded", "plan.ended", NULL };
	const Ospec__V1__RolloutRecord *tpl = p->template_;
	coord_wh_event ev = { 0 };
	char ended[48];

	if (type == NULL || !coord_wh_is(type, types) ||
		((tpl == NULL || tpl->n_webhooks == 0) && c->cfg.webhooks.n == 0))
		return OSP_OK;
	ev.state = coord_ro_state_name((coord_ro_state)p->state);
	if (strcmp(type, "plan.ended") == 0) {
		snprintf(ended, sizeof(ended), "plan.%s", ev.state);
		type = ended; /* plan.failed, plan.aborted, plan.rolled_back */
	} else if (strcmp(type, "plan.started") == 0) {
		ev.state = "running";
	} else if (strcmp(type, "stage.waiting_approval") == 0) {
		ev.state = "waiting_approval";
		ev.stage = stage;
	}
	ev.type = type;
	ev.plan = p->id;
	ev.app = p->app;
	ev.version = p->version;
	ev.message = message;
	ev.ts_ms = osp_now_wall_ms();
	return coord_webhooks_put(c, t, &ev, tpl != NULL ? tpl->webhooks : NULL,
		tpl != NULL ? tpl->n_webhooks : 0);
}

/* ---- the worker ---- */

typedef struct coord_wh_item {
	uint8_t key[COORD_WH_KEY_LEN];
	char *url, *id, *body;
} coord_wh_item;

typedef struct coord_wh_scan {
	int64_t now, next;
	coord_wh_item items[COORD_WH_PASS_MAX];
	size_t n, seen, nblocked;
	uint64_t blocked[4 * COORD_WH_MAX_URLS * 8]; /* URLs (hashed) with an older entry */
} coord_wh_scan;

static uint64_t coord_wh_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* coord_wh_block marks url's hash h: true if it was marked already (an
 * older entry of that URL comes first). */
static bool coord_wh_block(coord_wh_scan *s, uint64_t h)
{
	for (size_t i = 0; i < s->nblocked; i++)
		if (s->blocked[i] == h)
			return true;
	if (s->nblocked < sizeof(s->blocked) / sizeof(s->blocked[0]))
		s->blocked[s->nblocked++] = h;
	return false;
}

static int coord_wh_scan_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	coord_wh_scan *s = arg;
	Ospec__V1__OutboxRecord *r;
	coord_wh_item *it;

	if (++s->seen > COORD_WH_SCAN_MAX)
		return 1;
	if (kl != COORD_WH_KEY_LEN || (r = ospec__v1__outbox_record__unpack(NULL, vl, v)) == NULL)
		return 0; /* undecodable: left alone (never sent), counted in the gauge */
	if (coord_wh_block(s, coord_wh_hash(r->url))) {
		ospec__v1__outbox_record__free_unpacked(r, NULL);
		return 0;
	}
	if (r->next_ms > s->now) {
		if (r->next_ms < s->next)
			s->next = r->next_ms;
		ospec__v1__outbox_record__free_unpacked(r, NULL);
		return 0;
	}
	it = &s->items[s->n];
	memcpy(it->key, k, COORD_WH_KEY_LEN);
	it->url = strdup(r->url);
	it->id = strdup(r->id);
	it->body = strdup(r->body);
	ospec__v1__outbox_record__free_unpacked(r, NULL);
	if (it->url == NULL || it->id == NULL || it->body == NULL) {
		free(it->url);
		free(it->id);
		free(it->body);
		return 1;
	}
	return ++s->n >= COORD_WH_PASS_MAX ? 1 : 0;
}

/* coord_wh_drop deletes entry r (key k) for good and records why. */
static osp_err coord_wh_drop(coord *c, osp_txn *t, const uint8_t *k,
	const Ospec__V1__OutboxRecord *r)
{
	char shown[200];
	osp_err rv;

	coord_wh_url_show(r->url, shown, sizeof(shown));
	OSP_WARN("COORD-WEBHOOK", "event %s (%s) to '%s' dropped after %u attempts: %s", r->id,
		r->type ? r->type : "?", shown, r->attempts, r->last_error ? r->last_error : "?");
	if ((rv = osp_store_del(t, "outbox", k, COORD_WH_KEY_LEN)) != OSP_OK)
		return rv;
	return coord_db_event(c, t, "webhook.dropped", NULL, r->rollout, r->app, "coordinator",
		"event %s (%s) to %s dropped after %u attempts: %s", r->id,
		r->type ? r->type : "?", shown, r->attempts, r->last_error ? r->last_error : "?");
}

/* coord_wh_record writes what became of item (c->mtx held). */
static osp_err coord_wh_record(coord *c, osp_txn *t, const coord_wh_item *it, bool ok,
	const char *why, int64_t now, int *outcome)
{
	coord_webhooks *w = c->wh;
	Ospec__V1__OutboxRecord *r;
	const void *v;
	size_t vl;
	char shown[200], *last;
	uint32_t rnd = 0;
	osp_err rv = osp_store_get(t, "outbox", it->key, COORD_WH_KEY_LEN, &v, &vl);

	*outcome = -1;
	if (rv != OSP_OK)
		return rv == OSP_ENOENT ? OSP_OK : rv; /* gone meanwhile */
	if ((r = ospec__v1__outbox_record__unpack(NULL, vl, v)) == NULL)
		return osp_store_del(t, "outbox", it->key, COORD_WH_KEY_LEN);
	coord_wh_url_show(r->url, shown, sizeof(shown));
	if (ok) {
		if (r->attempts > 0)
			OSP_INFO("COORD-WEBHOOK", "event %s (%s) delivered to '%s' at attempt %u",
				r->id, r->type ? r->type : "?", shown, r->attempts + 1);
		rv = osp_store_del(t, "outbox", it->key, COORD_WH_KEY_LEN);
		*outcome = 0;
		goto out;
	}
	last = r->last_error;
	r->last_error = (char *)why;
	r->attempts++;
	if (coord_wh_give_up(r->attempts, r->first_ms, now)) {
		rv = coord_wh_drop(c, t, it->key, r);
		*outcome = 2;
	} else {
		osp_random_bytes(&rnd, sizeof(rnd));
		r->next_ms = now + coord_wh_backoff_ms(r->attempts, rnd);
		if (r->attempts == 1)
			OSP_WARN("COORD-WEBHOOK", "event %s (%s) to '%s' failed: %s; retried with "
				"backoff", r->id, r->type ? r->type : "?", shown, why);
		else
			OSP_DEBUG("COORD-WEBHOOK", "event %s to '%s' failed (attempt %u): %s", r->id,
				shown, r->attempts, why);
		rv = coord_wh_put_one(t, osp_be64_get(it->key),
			(uint16_t)((it->key[8] << 8) | it->key[9]), r);
		*outcome = 1;
	}
	r->last_error = last; /* freed with r */
out:
	ospec__v1__outbox_record__free_unpacked(r, NULL);
	(void)w;
	return rv;
}

size_t coord_webhooks_pass(coord *c, int64_t now_ms, coord_wh_send_fn send, void *arg,
	int64_t *next_ms)
{
	coord_webhooks *w;
	coord_wh_scan *s = calloc(1, sizeof(*s));
	osp_txn *t = NULL;
	size_t sent = 0;
	int64_t t0 = osp_now_wall_ms(); /* now_ms moves on as the POSTs take time */

	*next_ms = INT64_MAX;
	if (s == NULL)
		return 0;
	s->now = now_ms;
	s->next = INT64_MAX;
	pthread_mutex_lock(&c->mtx);
	w = coord_wh_get(c);
	if (osp_store_txn_begin(c->store, false, &t) == OSP_OK) {
		osp_store_foreach(t, "outbox", NULL, 0, false, coord_wh_scan_cb, s);
		osp_store_txn_abort(t);
	}
	pthread_mutex_unlock(&c->mtx);
	for (size_t i = 0; i < s->n; i++) {
		coord_wh_item *it = &s->items[i];
		char why[256] = "", sig[65];
		bool ok = false;
		int outcome = -1;

		if (w != NULL && !atomic_load(&w->stop)) {
			if (w->klen > 0)
				coord_wh_sign(w->key, w->klen, it->body, strlen(it->body), sig);
			ok = send(arg, it->url, it->id, it->body, w->klen > 0 ? sig : NULL, why,
				sizeof(why));
			sent++;
			pthread_mutex_lock(&c->mtx);
			if (osp_store_txn_begin(c->store, true, &t) == OSP_OK) {
				if (coord_wh_record(c, t, it, ok, why[0] ? why : "failed",
					    now_ms + (osp_now_wall_ms() - t0),
					    &outcome) != OSP_OK) {
					osp_store_txn_abort(t); /* tried again at the next round */
					outcome = -1;
				} else if (coord_db_commit(c, t, "webhook outbox") != OSP_OK)
					outcome = -1;
				if (outcome == 0)
					atomic_fetch_add(&w->ok, 1);
				else if (outcome == 1)
					atomic_fetch_add(&w->retry, 1);
				else if (outcome == 2)
					atomic_fetch_add(&w->dropped, 1);
			}
			pthread_mutex_unlock(&c->mtx);
		}
		free(it->url);
		free(it->id);
		free(it->body);
	}
	*next_ms = s->next;
	free(s);
	return sent;
}

static size_t coord_wh_sink(char *p, size_t sz, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return sz * n; /* the answer's body is not read */
}

static int coord_wh_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c2, curl_off_t d)
{
	coord_webhooks *w = arg;

	(void)a;
	(void)b;
	(void)c2;
	(void)d;
	return atomic_load(&w->stop) ? 1 : 0; /* shutting down: the POST is cut */
}

/* coord_wh_post is the worker's coord_wh_send_fn: libcurl, redirects not
 * followed, COORD_WH_TIMEOUT_MS in all. */
static bool coord_wh_post(void *arg, const char *url, const char *id, const char *body,
	const char *sig, char *why, size_t len)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hd = NULL, *tmp;
	char line[160];
	const char *lines[4];
	size_t nl = 0;
	long code = 0;
	CURLcode rc;
	bool ok = false;

	if (h == NULL) {
		snprintf(why, len, "out of memory");
		return false;
	}
	lines[nl++] = "Content-Type: application/json";
	lines[nl++] = "Expect:"; /* no 100-continue round trip */
	snprintf(line, sizeof(line), "X-Ospec-Event-Id: %s", id);
	lines[nl++] = line;
	for (size_t i = 0; i < nl; i++) {
		if ((tmp = curl_slist_append(hd, lines[i])) == NULL)
			goto nomem;
		hd = tmp;
	}
	if (sig != NULL) {
		char s[100];
		snprintf(s, sizeof(s), "X-Ospec-Signature: sha256=%s", sig);
		if ((tmp = curl_slist_append(hd, s)) == NULL)
			goto nomem;
		hd = tmp;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "ospec/" OSPEC_VERSION);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)COORD_WH_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, coord_wh_sink);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, coord_wh_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, arg);
	if ((rc = curl_easy_perform(h)) != CURLE_OK) {
		snprintf(why, len, "%s", curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	ok = code >= 200 && code < 300;
	if (!ok)
		snprintf(why, len, "HTTP %ld", code);
	goto out;
nomem:
	snprintf(why, len, "out of memory");
out:
	curl_slist_free_all(hd);
	curl_easy_cleanup(h);
	return ok;
}

static void *coord_wh_main(void *arg)
{
	coord *c = arg;
	coord_webhooks *w = c->wh;
	int64_t next = 0;

	while (!atomic_load(&w->stop)) {
		int64_t now = osp_now_wall_ms(), until = now + COORD_WH_POLL_MS;

		if (next < until)
			until = next;
		pthread_mutex_lock(&w->mtx);
		if (!w->kicked && !atomic_load(&w->stop) && until > now) {
			struct timespec ts = { .tv_sec = until / 1000,
				.tv_nsec = (long)(until % 1000) * 1000000L };
			pthread_cond_timedwait(&w->cv, &w->mtx, &ts);
		}
		w->kicked = false;
		pthread_mutex_unlock(&w->mtx);
		if (atomic_load(&w->stop))
			break;
		if (coord_webhooks_pass(c, osp_now_wall_ms(), coord_wh_post, w, &next) > 0)
			next = 0; /* more may wait behind what was sent: look again at once */
	}
	return NULL;
}

void coord_webhooks_start(coord *c)
{
	coord_webhooks *w = coord_wh_get(c);
	osp_txn *t = NULL;
	uint64_t n = 0;

	if (w == NULL)
		return;
	w->may_run = true;
	if (osp_store_txn_begin(c->store, false, &t) == OSP_OK) {
		osp_store_count(t, "outbox", &n);
		osp_store_txn_abort(t);
	}
	if (n > 0) {
		OSP_INFO("COORD-WEBHOOK", "%llu webhook deliveries waiting in the outbox: resumed",
			(unsigned long long)n);
		coord_wh_launch(c, w);
	}
}

void coord_webhooks_stop(coord *c)
{
	coord_webhooks *w = c->wh;

	if (w == NULL)
		return;
	atomic_store(&w->stop, true);
	pthread_mutex_lock(&w->mtx);
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mtx);
	if (w->started)
		pthread_join(w->thr, NULL);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mtx);
	memset(w->key, 0, sizeof(w->key));
	free(w);
	c->wh = NULL;
}

void coord_webhooks_counts(coord *c, uint64_t *ok, uint64_t *retry, uint64_t *dropped)
{
	coord_webhooks *w = c->wh;

	*ok = w != NULL ? atomic_load(&w->ok) : 0;
	*retry = w != NULL ? atomic_load(&w->retry) : 0;
	*dropped = w != NULL ? atomic_load(&w->dropped) : 0;
}
