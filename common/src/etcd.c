/*
 * etcd.c - the client of etcd's v3 JSON gateway (ospec/etcd.h) over libcurl.
 *
 * One CURL easy handle per osp_etcd, reused for every request so its
 * connection to the endpoint that answered last stays open. Each request
 * walks the endpoints from the last good one. What moves a request on to
 * the next endpoint is a failure that proves the member did not apply it:
 * the connection could not be made, or etcd answered an "Unavailable" error
 * that is raised before a proposal ("no leader"). A write sent without an
 * answer (a timeout, the connection cut, etcd's own "request timed out")
 * may have been applied: a Txn then ends with OSP_ETIMEDOUT, never retried
 * here, because retrying a fenced write blindly could apply it twice or
 * hide that the leadership was lost meanwhile. Reads and lease calls are
 * safe to repeat and do move on.
 */
#include "ospec/etcd.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <mbedtls/base64.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ospec/json.h"
#include "ospec/util.h"

#define ETCD_MAX_ENDPOINTS 16
#define ETCD_URL_MAX 256
#define ETCD_TIMEOUT_MS 5000
#define ETCD_PAGE 500 /* keys per range request: bounds one answer's size */
/* a page of ETCD_PAGE values of up to --max-request-bytes each could be big:
 * the answer is capped well above what a store of ours holds */
#define ETCD_RESP_MAX ((size_t)512 * 1024 * 1024)

struct osp_etcd {
	CURL *h;
	char url[ETCD_MAX_ENDPOINTS][ETCD_URL_MAX]; /* "http://HOST:PORT" */
	size_t n, good;                             /* good: the last that answered */
	int64_t timeout_ms;
	osp_buf resp;
	char ebuf[CURL_ERROR_SIZE];
};

/* What one attempt at one endpoint came to. */
typedef enum etcd_try {
	ETCD_TRY_OK,   /* an answer: *out holds it */
	ETCD_TRY_NEXT, /* not applied there: the next endpoint may take it */
	ETCD_TRY_FAIL, /* final: rv and err say why */
} etcd_try;

static pthread_once_t etcd_once = PTHREAD_ONCE_INIT;
static CURLcode etcd_init_rc = CURLE_FAILED_INIT;

/* curl_global_init is reference counted, so other modules may call it too. */
static void etcd_global_init(void)
{
	etcd_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* etcd_add_endpoint appends one "HOST:PORT" (or "http://HOST:PORT") of n bytes. */
static osp_err etcd_add_endpoint(osp_etcd *e, const char *p, size_t n, char *err,
	size_t errlen)
{
	int w;

	if (n > 7 && strncmp(p, "http://", 7) == 0) {
		p += 7;
		n -= 7;
	}
	if (n == 0 || memchr(p, ':', n) == NULL || memchr(p, '/', n) != NULL) {
		snprintf(err, errlen, "etcd endpoint '%.*s': expected HOST:PORT", (int)n, p);
		return OSP_EINVAL;
	}
	if (e->n == ETCD_MAX_ENDPOINTS) {
		snprintf(err, errlen, "etcd endpoints: at most %d", ETCD_MAX_ENDPOINTS);
		return OSP_EINVAL;
	}
	w = snprintf(e->url[e->n], ETCD_URL_MAX, "http://%.*s", (int)n, p);
	if (w < 0 || w >= ETCD_URL_MAX) {
		snprintf(err, errlen, "etcd endpoint '%.40s...': too long", p);
		return OSP_EINVAL;
	}
	e->n++;
	return OSP_OK;
}

/* etcd_parse_endpoints splits "A,B,C" (spaces around commas allowed). */
static osp_err etcd_parse_endpoints(osp_etcd *e, const char *list, char *err, size_t errlen)
{
	const char *p = list;
	osp_err rv;

	while (*p != '\0') {
		size_t n = strcspn(p, ",");
		size_t a = 0, b = n;

		while (a < b && p[a] == ' ')
			a++;
		while (b > a && p[b - 1] == ' ')
			b--;
		if ((rv = etcd_add_endpoint(e, p + a, b - a, err, errlen)) != OSP_OK)
			return rv;
		p += n;
		if (*p == ',')
			p++;
	}
	if (e->n == 0) {
		snprintf(err, errlen, "etcd endpoints: none given (expected HOST:PORT,...)");
		return OSP_EINVAL;
	}
	return OSP_OK;
}

osp_err osp_etcd_new(const char *endpoints, int64_t timeout_ms, osp_etcd **out, char *err,
	size_t errlen)
{
	osp_etcd *e = NULL;
	osp_err rv;

	pthread_once(&etcd_once, etcd_global_init);
	if (etcd_init_rc != CURLE_OK) {
		snprintf(err, errlen, "libcurl initialisation failed");
		return OSP_ENOMEM;
	}
	if (endpoints == NULL || timeout_ms < 0) {
		snprintf(err, errlen, "etcd: no endpoints or a negative timeout");
		return OSP_EINVAL;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return OSP_ENOMEM;
	e->timeout_ms = timeout_ms ? timeout_ms : ETCD_TIMEOUT_MS;
	osp_buf_init(&e->resp, ETCD_RESP_MAX);
	if ((rv = etcd_parse_endpoints(e, endpoints, err, errlen)) != OSP_OK)
		goto fail;
	if ((e->h = curl_easy_init()) == NULL) {
		snprintf(err, errlen, "etcd: out of memory");
		rv = OSP_ENOMEM;
		goto fail;
	}
	*out = e;
	return OSP_OK;
fail:
	osp_etcd_free(e);
	return rv;
}

void osp_etcd_free(osp_etcd *e)
{
	if (e == NULL)
		return;
	if (e->h != NULL)
		curl_easy_cleanup(e->h);
	osp_buf_fini(&e->resp);
	free(e);
}

void osp_etcd_kv_free(osp_etcd_kv *kv)
{
	if (kv == NULL)
		return;
	free(kv->key);
	free(kv->val);
	kv->key = kv->val = NULL;
}

void osp_etcd_prefix_end(const void *prefix, size_t plen, char *end, size_t *elen)
{
	const unsigned char *p = prefix;

	/* drop trailing 0xff bytes and add one to the last byte left (clientv3's
	 * GetPrefixRangeEnd) */
	while (plen > 0 && p[plen - 1] == 0xff)
		plen--;
	*elen = plen;
	if (plen == 0)
		return;
	memcpy(end, prefix, plen);
	end[plen - 1] = (char)(p[plen - 1] + 1);
}

/* etcd_write_b64 writes key: base64(p[0..n)) into w. */
static void etcd_write_b64(osp_jw *w, const char *key, const void *p, size_t n)
{
	size_t cap = 4 * ((n + 2) / 3) + 1, olen = 0;
	unsigned char *b = malloc(cap);

	if (b != NULL)
		b[0] = '\0'; /* mbedtls writes nothing for an empty input */
	if (b == NULL || mbedtls_base64_encode(b, cap, &olen, p, n) != 0) {
		w->err = OSP_ENOMEM; /* the writer's error is sticky: the request is not sent */
		free(b);
		return;
	}
	osp_jw_key(w, key);
	osp_jw_str(w, (const char *)b);
	free(b);
}

/* etcd_b64_dup decodes s into a NUL-terminated heap copy (*out, *n); a NULL
 * s (etcd leaves empty fields out) is an empty value. */
static osp_err etcd_b64_dup(const char *s, char **out, size_t *n)
{
	size_t sl = s != NULL ? strlen(s) : 0, cap = sl / 4 * 3 + 3;
	unsigned char *b = malloc(cap + 1);

	if (b == NULL)
		return OSP_ENOMEM;
	*n = 0;
	if (sl > 0 && mbedtls_base64_decode(b, cap, n, (const unsigned char *)s, sl) != 0) {
		free(b);
		return OSP_EDECODE;
	}
	b[*n] = '\0';
	*out = (char *)b;
	return OSP_OK;
}

/* etcd_int reads an int64 field that the gateway writes as a JSON string
 * (or a number); 0 when absent, as etcd leaves zero values out. */
static int64_t etcd_int(const osp_json *o, const char *key)
{
	const osp_json *m = osp_json_get(o, key);

	if (m != NULL && m->type == OSP_JSON_STR)
		return strtoll(m->str, NULL, 10);
	return osp_json_get_int(o, key, 0);
}

/* etcd_hdr_rev is the revision of an answer's header. */
static int64_t etcd_hdr_rev(const osp_json *resp)
{
	const osp_json *h = osp_json_get(resp, "header");

	return h != NULL ? etcd_int(h, "revision") : 0;
}

/* etcd_body_cb appends the answer to e->resp (a full buffer ends the transfer). */
static size_t etcd_body_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	osp_etcd *e = arg;

	if (osp_buf_append(&e->resp, ptr, size * nmemb) != OSP_OK)
		return 0;
	return size * nmemb;
}

/* etcd_perform POSTs body to url + path with e's handle. */
static CURLcode etcd_perform(osp_etcd *e, const char *url, const char *path,
	const osp_buf *body, long *code)
{
	char full[ETCD_URL_MAX + 64];
	CURLcode rc;

	snprintf(full, sizeof(full), "%s%s", url, path);
	osp_buf_reset(&e->resp);
	e->ebuf[0] = '\0';
	*code = 0;
	curl_easy_reset(e->h); /* keeps the open connections */
	curl_easy_setopt(e->h, CURLOPT_URL, full);
	curl_easy_setopt(e->h, CURLOPT_POSTFIELDS, body->len ? body->data : "{}");
	curl_easy_setopt(e->h, CURLOPT_POSTFIELDSIZE, (long)(body->len ? body->len : 2));
	curl_easy_setopt(e->h, CURLOPT_TIMEOUT_MS, (long)e->timeout_ms);
	curl_easy_setopt(e->h, CURLOPT_CONNECTTIMEOUT_MS, (long)e->timeout_ms);
	curl_easy_setopt(e->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e->h, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(e->h, CURLOPT_WRITEFUNCTION, etcd_body_cb);
	curl_easy_setopt(e->h, CURLOPT_WRITEDATA, e);
	curl_easy_setopt(e->h, CURLOPT_ERRORBUFFER, e->ebuf);
	rc = curl_easy_perform(e->h);
	if (rc == CURLE_OK)
		curl_easy_getinfo(e->h, CURLINFO_RESPONSE_CODE, code);
	return rc;
}

/* etcd_sent reports whether the last transfer got its request out: after
 * that, no answer does not mean nothing was applied. */
static bool etcd_sent(osp_etcd *e)
{
	long n = 0;

	curl_easy_getinfo(e->h, CURLINFO_REQUEST_SIZE, &n);
	return n > 0;
}

/* etcd_is_unavail_safe: an etcd error raised before anything was proposed,
 * so another member may take the request (gRPC code 14 is also used for
 * "request timed out", which may have been applied: not listed here). */
static bool etcd_is_unavail_safe(const char *msg)
{
	static const char *const safe[] = { "no leader", "not capable", "too many requests",
		"unhealthy cluster", "server stopped" };

	for (size_t i = 0; i < sizeof(safe) / sizeof(safe[0]); i++)
		if (strstr(msg, safe[i]) != NULL)
			return true;
	return false;
}

/* etcd_is_timeout: etcd's own "timed out" errors: the proposal may be applied. */
static bool etcd_is_timeout(const char *msg)
{
	return strstr(msg, "timed out") != NULL || strstr(msg, "leader changed") != NULL;
}

/* etcd_answer_err turns an etcd error answer ({"error","code"}) into a code. */
static etcd_try etcd_answer_err(osp_etcd *e, const char *url, const char *path,
	const osp_json *j, long http, bool may_repeat, osp_err *rv, char *err, size_t errlen)
{
	const char *msg = j != NULL ? osp_json_get_str(j, "error") : NULL;
	int64_t code = j != NULL ? osp_json_get_int(j, "code", 0) : 0;

	if (msg == NULL)
		msg = e->resp.len ? e->resp.data : "an empty answer";
	snprintf(err, errlen, "etcd %s: POST %s: HTTP %ld: %.300s", url, path, http, msg);
	*rv = OSP_EREFUSED;
	if (strstr(msg, "too many operations") != NULL || strstr(msg, "too large") != NULL ||
		code == 8) {
		snprintf(err, errlen, "etcd %s: POST %s: %.200s: the write is larger than etcd "
			"takes: raise etcd's --max-txn-ops and --max-request-bytes (docs/ha.md)",
			url, path, msg);
		*rv = OSP_ETOOBIG;
	} else if (strstr(msg, "lease not found") != NULL) {
		*rv = OSP_ENOENT;
	} else if (etcd_is_unavail_safe(msg) || (may_repeat && code == 14)) {
		*rv = OSP_ENET;
		return ETCD_TRY_NEXT;
	} else if (etcd_is_timeout(msg)) {
		snprintf(err, errlen, "etcd %s: POST %s: %.200s: outcome unknown (it may have been "
			"applied)", url, path, msg);
		*rv = OSP_ETIMEDOUT;
	}
	return ETCD_TRY_FAIL;
}

/* etcd_transfer_err sorts a failed transfer: not delivered (the next
 * endpoint), or sent without an answer (final unless may_repeat). */
static etcd_try etcd_transfer_err(osp_etcd *e, const char *url, const char *path,
	CURLcode rc, bool may_repeat, osp_err *rv, char *err, size_t errlen)
{
	const char *why = e->ebuf[0] ? e->ebuf : curl_easy_strerror(rc);

	if (rc == CURLE_WRITE_ERROR) {
		snprintf(err, errlen, "etcd %s: POST %s: the answer is over %zu bytes", url, path,
			ETCD_RESP_MAX);
		*rv = OSP_ETOOBIG;
		return ETCD_TRY_FAIL;
	}
	snprintf(err, errlen, "etcd %s: POST %s: %s", url, path, why);
	*rv = OSP_ENET;
	if (!etcd_sent(e) || may_repeat)
		return ETCD_TRY_NEXT;
	snprintf(err, errlen, "etcd %s: POST %s: %s after the request was sent: outcome unknown "
		"(it may have been applied)", url, path, why);
	*rv = OSP_ETIMEDOUT;
	return ETCD_TRY_FAIL;
}

/* etcd_try_one sends the request to endpoint i. */
static etcd_try etcd_try_one(osp_etcd *e, size_t i, const char *path, const osp_buf *body,
	bool may_repeat, osp_json **out, osp_err *rv, char *err, size_t errlen)
{
	const char *url = e->url[i];
	char perr[128];
	osp_json *j = NULL;
	long http;
	CURLcode rc = etcd_perform(e, url, path, body, &http);
	etcd_try r;

	if (rc != CURLE_OK)
		return etcd_transfer_err(e, url, path, rc, may_repeat, rv, err, errlen);
	if (osp_json_parse(e->resp.data ? e->resp.data : "", e->resp.len, &j, perr,
		sizeof(perr)) != OSP_OK)
		j = NULL;
	if (http == 200 && j != NULL && j->type == OSP_JSON_OBJ &&
		osp_json_get(j, "error") == NULL) {
		*out = j;
		return ETCD_TRY_OK;
	}
	r = etcd_answer_err(e, url, path, j, http, may_repeat, rv, err, errlen);
	osp_json_free(j);
	return r;
}

/* etcd_post sends body to path, from the last good endpoint on; *out gets
 * the answer (the caller frees it). may_repeat: the request may be applied
 * twice without harm (reads, lease calls), so one sent without an answer
 * goes on to the next endpoint too. */
static osp_err etcd_post(osp_etcd *e, const char *path, const osp_buf *body, bool may_repeat,
	osp_json **out, char *err, size_t errlen)
{
	osp_err rv = OSP_ENET;

	for (size_t k = 0; k < e->n; k++) {
		size_t i = (e->good + k) % e->n;
		etcd_try r = etcd_try_one(e, i, path, body, may_repeat, out, &rv, err, errlen);

		if (r == ETCD_TRY_OK)
			e->good = i;
		if (r == ETCD_TRY_OK)
			return OSP_OK;
		if (r == ETCD_TRY_FAIL)
			return rv;
	}
	if (e->n > 1) {
		char last[512];

		osp_strlcpy(last, err, sizeof(last));
		snprintf(err, errlen, "etcd: none of %zu endpoints took the request (the last: %s)",
			e->n, last);
	}
	return rv;
}

/* etcd_kv_read decodes one kv object of an answer. */
static osp_err etcd_kv_read(const osp_json *j, osp_etcd_kv *kv)
{
	osp_err rv;

	memset(kv, 0, sizeof(*kv));
	if ((rv = etcd_b64_dup(osp_json_get_str(j, "key"), &kv->key, &kv->klen)) != OSP_OK)
		return rv;
	if ((rv = etcd_b64_dup(osp_json_get_str(j, "value"), &kv->val, &kv->vlen)) != OSP_OK) {
		osp_etcd_kv_free(kv);
		return rv;
	}
	kv->create_rev = etcd_int(j, "create_revision");
	kv->mod_rev = etcd_int(j, "mod_revision");
	kv->lease = etcd_int(j, "lease");
	return OSP_OK;
}

/* etcd_range_body writes a range request of [key, end) at rev. */
static osp_err etcd_range_body(osp_buf *b, const void *key, size_t klen, const void *end,
	size_t elen, int64_t limit, int64_t rev)
{
	osp_jw w;

	osp_buf_reset(b);
	osp_jw_init(&w, b);
	osp_jw_obj_begin(&w);
	etcd_write_b64(&w, "key", key, klen);
	if (end != NULL)
		etcd_write_b64(&w, "range_end", end, elen);
	osp_jw_key(&w, "limit");
	osp_jw_int(&w, limit);
	if (rev > 0) {
		osp_jw_key(&w, "revision");
		osp_jw_int(&w, rev);
	}
	osp_jw_obj_end(&w);
	return osp_jw_err(&w);
}

/* etcd_kvs_each calls fn on each kv of a range answer; *last gets the last key
 * (a heap copy replacing the old one). *stop when fn said so. */
static osp_err etcd_kvs_each(const osp_json *resp, osp_etcd_kv_fn fn, void *arg, char **last,
	size_t *llen, bool *stop)
{
	const osp_json *kvs = osp_json_get(resp, "kvs");
	osp_err rv = OSP_OK;

	for (size_t i = 0; kvs != NULL && i < kvs->n && !*stop && rv == OSP_OK; i++) {
		osp_etcd_kv kv;
		int rc;

		if ((rv = etcd_kv_read(kvs->items[i], &kv)) != OSP_OK)
			break;
		rc = fn(arg, &kv);
		free(*last);
		*last = kv.key; /* kept for the next page's start */
		*llen = kv.klen;
		kv.key = NULL;
		osp_etcd_kv_free(&kv);
		if (rc != 0) {
			*stop = true;
			rv = rc < 0 ? OSP_EINVAL : OSP_OK;
		}
	}
	return rv;
}

/* etcd_next_start makes the key just after last: last + "\0". */
static osp_err etcd_next_start(char **last, size_t *llen)
{
	char *n = realloc(*last, *llen + 2);

	if (n == NULL)
		return OSP_ENOMEM;
	n[*llen] = '\0';
	*llen += 1;
	*last = n;
	return OSP_OK;
}

/* etcd_range_page reads one page from start; *more when etcd has more. */
static osp_err etcd_range_page(osp_etcd *e, osp_buf *body, const void *start, size_t slen,
	const void *end, size_t elen, int64_t *rev, osp_json **resp, char *err, size_t errlen)
{
	osp_err rv = etcd_range_body(body, start, slen, end, elen, ETCD_PAGE, *rev);

	if (rv != OSP_OK)
		return rv;
	if ((rv = etcd_post(e, "/v3/kv/range", body, true, resp, err, errlen)) != OSP_OK)
		return rv;
	if (*rev == 0)
		*rev = etcd_hdr_rev(*resp); /* every later page at the first one's revision */
	return OSP_OK;
}

osp_err osp_etcd_range(osp_etcd *e, const void *key, size_t klen, const void *end, size_t elen,
	int64_t rev, osp_etcd_kv_fn fn, void *arg, int64_t *hdr_rev, char *err, size_t errlen)
{
	char pend[512], *last = NULL;
	size_t llen = 0;
	osp_buf body;
	osp_json *resp = NULL;
	bool stop = false, more = true;
	osp_err rv = OSP_OK;

	if (klen == 0) {
		key = end = "\0"; /* every key: etcd's [\0, \0) */
		klen = elen = 1;
	} else if (end == NULL) {
		if (klen > sizeof(pend))
			return OSP_EINVAL;
		osp_etcd_prefix_end(key, klen, pend, &elen);
		end = elen ? pend : "\0";
		elen = elen ? elen : 1;
	}
	osp_buf_init(&body, 0);
	while (more && !stop && rv == OSP_OK) {
		rv = etcd_range_page(e, &body, last ? last : key, last ? llen : klen, end, elen,
			&rev, &resp, err, errlen);
		if (rv != OSP_OK)
			break;
		more = osp_json_get(resp, "more") != NULL && osp_json_get(resp, "more")->b;
		rv = etcd_kvs_each(resp, fn, arg, &last, &llen, &stop);
		osp_json_free(resp);
		resp = NULL;
		if (rv == OSP_OK && more && !stop)
			rv = last != NULL ? etcd_next_start(&last, &llen) : OSP_EDECODE;
	}
	if (hdr_rev != NULL)
		*hdr_rev = rev;
	free(last);
	osp_buf_fini(&body);
	return rv;
}

/* etcd_memdup copies n bytes and a NUL. */
static char *etcd_memdup(const char *p, size_t n)
{
	char *c = malloc(n + 1);

	if (c != NULL) {
		memcpy(c, p, n);
		c[n] = '\0';
	}
	return c;
}

/* etcd_get_cb keeps the first (only) kv of a get. */
static int etcd_get_cb(void *arg, const osp_etcd_kv *kv)
{
	osp_etcd_kv *out = arg;

	*out = *kv;
	out->key = etcd_memdup(kv->key, kv->klen);
	out->val = etcd_memdup(kv->val, kv->vlen);
	if (out->key == NULL || out->val == NULL) {
		osp_etcd_kv_free(out);
		return -1;
	}
	return 1;
}

osp_err osp_etcd_get(osp_etcd *e, const void *key, size_t klen, int64_t rev, osp_etcd_kv *out,
	int64_t *hdr_rev, char *err, size_t errlen)
{
	char end[512];
	size_t elen = klen + 1;
	osp_err rv;

	if (klen == 0 || klen >= sizeof(end))
		return OSP_EINVAL;
	memset(out, 0, sizeof(*out));
	/* [key, key\0): the key alone */
	memcpy(end, key, klen);
	end[klen] = '\0';
	rv = osp_etcd_range(e, key, klen, end, elen, rev, etcd_get_cb, out, hdr_rev, err, errlen);
	if (rv == OSP_EINVAL && out->key == NULL)
		return OSP_ENOMEM;
	if (rv == OSP_OK && out->key == NULL)
		return OSP_ENOENT;
	return rv;
}

/* etcd_txn_cmp writes one compare of a Txn. */
static void etcd_txn_cmp(osp_jw *w, const osp_etcd_cmp *c)
{
	static const char *const target[] = { "CREATE", "MOD", "VALUE" };
	static const char *const field[] = { "create_revision", "mod_revision", "value" };

	osp_jw_obj_begin(w);
	osp_jw_key(w, "result");
	osp_jw_str(w, "EQUAL");
	osp_jw_key(w, "target");
	osp_jw_str(w, target[c->target]);
	etcd_write_b64(w, "key", c->key, c->klen);
	if (c->target == OSP_ETCD_VALUE) {
		etcd_write_b64(w, field[c->target], c->val, c->vlen);
	} else {
		osp_jw_key(w, field[c->target]);
		osp_jw_int(w, c->rev);
	}
	osp_jw_obj_end(w);
}

/* etcd_txn_op writes one operation of a Txn's success branch. */
static void etcd_txn_op(osp_jw *w, const osp_etcd_op *op)
{
	osp_jw_obj_begin(w);
	osp_jw_key(w, op->del ? "request_delete_range" : "request_put");
	osp_jw_obj_begin(w);
	etcd_write_b64(w, "key", op->key, op->klen);
	if (!op->del) {
		etcd_write_b64(w, "value", op->val, op->vlen);
		if (op->lease != 0) {
			osp_jw_key(w, "lease");
			osp_jw_int(w, op->lease);
		}
	}
	osp_jw_obj_end(w);
	osp_jw_obj_end(w);
}

/* etcd_txn_body writes the whole Txn request. */
static osp_err etcd_txn_body(osp_buf *b, const osp_etcd_cmp *cmps, size_t ncmps,
	const osp_etcd_op *ops, size_t nops)
{
	osp_jw w;

	osp_jw_init(&w, b);
	osp_jw_obj_begin(&w);
	osp_jw_key(&w, "compare");
	osp_jw_arr_begin(&w);
	for (size_t i = 0; i < ncmps; i++) {
		if (cmps[i].target > OSP_ETCD_VALUE)
			return OSP_EINVAL;
		etcd_txn_cmp(&w, &cmps[i]);
	}
	osp_jw_arr_end(&w);
	osp_jw_key(&w, "success");
	osp_jw_arr_begin(&w);
	for (size_t i = 0; i < nops; i++)
		etcd_txn_op(&w, &ops[i]);
	osp_jw_arr_end(&w);
	osp_jw_obj_end(&w);
	return osp_jw_err(&w);
}

osp_err osp_etcd_txn(osp_etcd *e, const osp_etcd_cmp *cmps, size_t ncmps, const osp_etcd_op *ops,
	size_t nops, bool *succeeded, int64_t *hdr_rev, char *err, size_t errlen)
{
	osp_buf body;
	osp_json *resp = NULL;
	const osp_json *ok;
	osp_err rv;

	*succeeded = false;
	/* the request's own size is etcd's to judge (--max-request-bytes); this
	 * cap only keeps a runaway caller from building gigabytes */
	osp_buf_init(&body, ETCD_RESP_MAX);
	rv = etcd_txn_body(&body, cmps, ncmps, ops, nops);
	if (rv == OSP_ETOOBIG)
		snprintf(err, errlen, "etcd: a txn of %zu operations is over %zu bytes", nops,
			ETCD_RESP_MAX);
	if (rv == OSP_OK)
		rv = etcd_post(e, "/v3/kv/txn", &body, false, &resp, err, errlen);
	if (rv == OSP_OK) {
		ok = osp_json_get(resp, "succeeded");
		*succeeded = ok != NULL && ok->type == OSP_JSON_BOOL && ok->b;
		if (hdr_rev != NULL)
			*hdr_rev = etcd_hdr_rev(resp);
	}
	osp_json_free(resp);
	osp_buf_fini(&body);
	return rv;
}

/* etcd_lease_call posts {"key": v} to a lease path (safe to repeat: a
 * second grant only leaves a lease that expires unused). */
static osp_err etcd_lease_call(osp_etcd *e, const char *path, const char *key, int64_t v,
	osp_json **resp, char *err, size_t errlen)
{
	osp_buf body;
	osp_jw w;
	osp_err rv;

	osp_buf_init(&body, 0);
	osp_jw_init(&w, &body);
	osp_jw_obj_begin(&w);
	osp_jw_key(&w, key);
	osp_jw_int(&w, v);
	osp_jw_obj_end(&w);
	rv = osp_jw_err(&w);
	if (rv == OSP_OK)
		rv = etcd_post(e, path, &body, true, resp, err, errlen);
	osp_buf_fini(&body);
	return rv;
}

osp_err osp_etcd_lease_grant(osp_etcd *e, int64_t ttl_s, int64_t *id, char *err, size_t errlen)
{
	osp_json *resp = NULL;
	osp_err rv = etcd_lease_call(e, "/v3/lease/grant", "TTL", ttl_s, &resp, err, errlen);

	if (rv == OSP_OK) {
		*id = etcd_int(resp, "ID");
		if (*id == 0) {
			snprintf(err, errlen, "etcd: lease grant: no lease ID in the answer");
			rv = OSP_EDECODE;
		}
	}
	osp_json_free(resp);
	return rv;
}

osp_err osp_etcd_lease_keepalive(osp_etcd *e, int64_t id, int64_t *ttl_left, char *err,
	size_t errlen)
{
	osp_json *resp = NULL;
	osp_err rv = etcd_lease_call(e, "/v3/lease/keepalive", "ID", id, &resp, err, errlen);
	const osp_json *res;

	if (rv == OSP_OK) {
		/* the gateway streams {"result": {...}}; a lease that is gone comes
		 * back without a TTL (0) */
		res = osp_json_get(resp, "result");
		*ttl_left = res != NULL ? etcd_int(res, "TTL") : 0;
		if (*ttl_left <= 0) {
			snprintf(err, errlen, "etcd: lease %" PRId64 " is gone (expired or revoked)",
				id);
			rv = OSP_ENOENT;
		}
	}
	osp_json_free(resp);
	return rv;
}

osp_err osp_etcd_lease_revoke(osp_etcd *e, int64_t id, char *err, size_t errlen)
{
	osp_json *resp = NULL;
	osp_err rv = etcd_lease_call(e, "/v3/lease/revoke", "ID", id, &resp, err, errlen);

	osp_json_free(resp);
	return rv == OSP_ENOENT ? OSP_OK : rv; /* already gone: what revoke wanted */
}
