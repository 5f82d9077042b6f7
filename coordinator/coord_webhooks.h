/*
 * coord_webhooks.h - rollout and plan transitions POSTed to webhooks
 * (docs/webhooks.md).
 *
 * Where the URLs come from: the coordinator's own list (--webhook URL,
 * repeatable, or webhooks: [URL, ...] in its config file) and a rollout's
 * (deploy/apply --webhook URL, RolloutRecord.webhooks; a plan's is its
 * template's). Each transition is written to the "outbox" database, one
 * entry per URL, in the SAME transaction as the change it reports: a kill -9
 * can neither lose it nor send one for a change that was not committed. A
 * worker thread of its own (coord_webhooks_outbox.c) POSTs the entries that
 * are due, deletes the ones answered 2xx and retries the others with
 * backoff (1 s doubling to 5 min, jittered) until they are 24 h old or have
 * had 50 attempts; then it drops them and records the event webhook.dropped.
 * Delivery is at least once: receivers de-duplicate by the event id.
 *
 * The engine never waits: the hooks only write the outbox entry and signal
 * the worker, which never holds coord.mtx during network I/O.
 */
#ifndef COORD_WEBHOOKS_H
#define COORD_WEBHOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coord.h"
#include "ospec/cfg.h"

struct coord_ro_entry;

#define COORD_WH_URL_MAX 2048           /* bytes of one URL */
#define COORD_WH_TIMEOUT_MS 10000       /* one POST, connect included */
#define COORD_WH_BACKOFF_FIRST_MS 1000
#define COORD_WH_BACKOFF_MAX_MS (5 * 60 * 1000)
#define COORD_WH_GIVE_UP_ATTEMPTS 50
#define COORD_WH_GIVE_UP_MS (24LL * 3600 * 1000)
#define COORD_WH_SECRET_MAX 4096
#define COORD_WH_TEXT_MAX 1024          /* the Slack `text`, cut with "..." */

/* The webhooks' state in coord (c->wh): the secret and the worker. */
typedef struct coord_webhooks {
	pthread_mutex_t mtx;       /* guards kicked; never held with c->mtx taken after */
	pthread_cond_t cv;
	pthread_t thr;
	bool may_run;              /* coord_webhooks_start was called */
	bool started;              /* thr runs */
	bool kicked;               /* something was put since the worker last looked */
	atomic_bool stop;
	uint8_t key[COORD_WH_SECRET_MAX];
	size_t klen;               /* 0: no secret, no signature header */
	atomic_uint_fast64_t ok, retry, dropped; /* /metrics */
} coord_webhooks;

/* coord_wh_get returns c->wh, made on first use (no secret); NULL when out
 * of memory. */
coord_webhooks *coord_wh_get(coord *c);

/* ---- pure helpers (coord_webhooks.c), unit-tested ---- */

/* coord_wh_url_ok reports whether url can be a webhook: http:// or
 * https://, a host, at most COORD_WH_URL_MAX bytes, printable ASCII without
 * spaces. */
bool coord_wh_url_ok(const char *url);

/* coord_wh_url_show writes what a log line or an event may say of url:
 * scheme://host[:port] only (a Slack URL's path is its secret). */
void coord_wh_url_show(const char *url, char *buf, size_t len);

/* coord_wh_args reads deploy/apply's "webhook" request argument (URLs
 * separated by spaces; NULL: none) into r->webhooks (a repeat is kept
 * once). 0, or -1 with err (a usage error: not an http(s) URL, more than
 * COORD_WH_MAX_URLS, out of memory). */
int coord_wh_args(const char *list, Ospec__V1__RolloutRecord *r, char *err, size_t errlen);

/* One transition as the body tells it. Strings are borrowed; NULL or ""
 * rollout/plan/stage are written as null. */
typedef struct coord_wh_event {
	const char *type;      /* "rollout.failed", "plan.succeeded", ... */
	const char *rollout, *plan, *stage;
	const char *app, *version;
	const char *state;     /* "failed", "waiting_approval", ... */
	const char *message;   /* the event's message (a finished rollout's reason) */
	int64_t ts_ms;         /* wall clock */
} coord_wh_event;

/* coord_wh_text writes the one-line Slack-compatible summary of ev, e.g.
 * "ospec: rollout hello-12 (hello 2.4.0) failed: 1 of 3 nodes failed ..."
 * (control characters become spaces; cut at len with "..."). */
void coord_wh_text(const coord_wh_event *ev, char *buf, size_t len);

/* coord_wh_body appends ev's JSON document with event id id to out:
 * {"id","type","rollout","plan","stage","app","version","state","message",
 * "ts","text"}. OSP_ENOMEM, or OSP_ETOOBIG past out's cap. */
osp_err coord_wh_body(const coord_wh_event *ev, const char *id, osp_buf *out);

/* coord_wh_sign writes the lowercase hex HMAC-SHA256 of body under key
 * into hex (65 bytes, NUL-terminated). */
void coord_wh_sign(const uint8_t *key, size_t klen, const void *body, size_t blen,
	char hex[65]);

/* coord_wh_backoff_ms is the wait after the attempts-th failed attempt (1
 * and up): 1 s doubling, each within +-20% by rnd, never above 5 min. */
int64_t coord_wh_backoff_ms(uint32_t attempts, uint32_t rnd);

/* coord_wh_give_up reports whether an entry written at first_ms that failed
 * attempts times is dropped at now_ms (50 attempts or 24 h). */
bool coord_wh_give_up(uint32_t attempts, int64_t first_ms, int64_t now_ms);

/* ---- configuration (coord_webhooks.c) ---- */

/* coord_webhooks_cfg reads the config key webhooks: [URL, ...] into the
 * struct coord_wh_urls at target; coord_webhooks_cfg_free frees it. */
osp_err coord_webhooks_cfg(void *target, const osp_cfg_doc *d, const osp_cfg_node *n, char *err,
	size_t errlen);
void coord_webhooks_cfg_free(void *target);

/* coord_webhooks_flags collects every --webhook URL (and --webhook=URL) of
 * argv into cfg->webhooks (they replace the config file's list). Returns
 * 0, or 2 after printing why a URL is refused. */
int coord_webhooks_flags(coord_cfg *cfg, int argc, char **argv);

/* coord_webhooks_setup reads --webhook-secret-file (never logged, never
 * stored) and says at start where events go. OSP_EIO/OSP_EINVAL with err
 * when the secret file cannot be read or is empty. */
osp_err coord_webhooks_setup(coord *c, char *err, size_t errlen);

/* ---- the outbox (coord_webhooks_outbox.c). Hooks run with c->mtx held,
 * inside the caller's write transaction t. ---- */

/* coord_webhooks_put writes ev into t's outbox once for each of urls and of
 * the coordinator's URLs (duplicates once), with a new event id, and wakes
 * the worker (a wake before the commit finds nothing new; the commit is
 * picked up by the worker's next look, at most 1 s later). Nothing is
 * written when there is no URL. Store errors (the caller aborts t). */
osp_err coord_webhooks_put(coord *c, osp_txn *t, const coord_wh_event *ev, char *const *urls,
	size_t nurls);

/* coord_webhooks_rollout sends e's transition type (message: what the
 * event says) when type is one webhooks carry (rollout.started,
 * rollout.waiting_approval, rollout.succeeded, rollout.failed,
 * rollout.aborted, rollout.rolled_back); OSP_OK for any other. */
osp_err coord_webhooks_rollout(coord *c, osp_txn *t, const struct coord_ro_entry *e,
	const char *type, const char *message);

/* coord_webhooks_plan sends plan p's transition: plan.started,
 * stage.waiting_approval (stage: its name), plan.ended (sent as plan.<its
 * state>: plan.failed, plan.aborted, plan.rolled_back), plan.succeeded;
 * OSP_OK for any other type. */
osp_err coord_webhooks_plan(coord *c, osp_txn *t, const Ospec__V1__PlanRecord *p,
	const char *type, const char *stage, const char *message);

/* coord_wh_send_fn POSTs body to url with the event id and the signature
 * (hex, NULL without a secret): true when answered 2xx, else false with why. */
typedef bool (*coord_wh_send_fn)(void *arg, const char *url, const char *id, const char *body,
	const char *sig, char *why, size_t len);

/* coord_webhooks_pass runs one round of the worker at now_ms: reads the due
 * entries (at most one per URL, the oldest: a URL gets its events in
 * order), sends each with send (c->mtx not held) and records the outcome
 * (deleted; retried later; dropped with the event webhook.dropped). Takes
 * c->mtx itself. Returns how many were sent; *next_ms is the earliest
 * next_ms left (INT64_MAX: none). */
size_t coord_webhooks_pass(coord *c, int64_t now_ms, coord_wh_send_fn send, void *arg,
	int64_t *next_ms);

/* coord_webhooks_start lets the worker run (engine start): started at once
 * when the outbox holds entries (a restart resumes them), else at the first
 * put. coord_webhooks_stop stops it (a POST in flight is cut) and frees
 * c->wh; c->mtx not held. */
void coord_webhooks_start(coord *c);
void coord_webhooks_stop(coord *c);

/* coord_webhooks_counts: deliveries since start (/metrics). c->wh may be NULL. */
void coord_webhooks_counts(coord *c, uint64_t *ok, uint64_t *retry, uint64_t *dropped);

#endif
