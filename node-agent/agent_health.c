/*
 * agent_health.c - HTTP health checks with libcurl: one GET per check, rise
 * and fall counting, interval, per-check timeout and an overall deadline.
 */
#include "agent_health.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "agent_metrics.h"
#include "ospec/util.h"

#define AGENT_HEALTH_SLICE_MS 50 /* how often a pause looks at cancel/alive */
#define AGENT_HEALTH_URL_MAX 2048

static pthread_once_t agent_health_once = PTHREAD_ONCE_INIT;
static CURLcode agent_health_init_rc = CURLE_FAILED_INIT;

/* curl_global_init is reference counted, so other modules may call it too. */
static void agent_health_global_init(void)
{
	agent_health_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* agent_health_discard drops the response body. */
static size_t agent_health_discard(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	(void)ptr;
	(void)userdata;
	return size * nmemb;
}

/* agent_health_curl_err turns a transfer failure into an osp_err and text. */
static osp_err agent_health_curl_err(CURL *h, CURLcode rc, const char *ebuf, int64_t timeout_ms, char *msg,
	size_t len)
{
	long oserr = 0;
	char dur[32], tmp[128];

	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		osp_duration_fmt(timeout_ms, dur, sizeof(dur));
		snprintf(msg, len, "timed out after %s", dur);
		return OSP_ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		if (curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &oserr) == CURLE_OK && oserr != 0) {
			snprintf(msg, len, "%s", strerror_r((int)oserr, tmp, sizeof(tmp)));
			msg[0] = (char)tolower((unsigned char)msg[0]);
			return OSP_ENET;
		}
		break;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		snprintf(msg, len, "%s", ebuf[0] ? ebuf : curl_easy_strerror(rc));
		return OSP_EINVAL;
	case CURLE_OUT_OF_MEMORY:
		snprintf(msg, len, "out of memory");
		return OSP_ENOMEM;
	default:
		break;
	}
	snprintf(msg, len, "%s", ebuf[0] ? ebuf : curl_easy_strerror(rc));
	return OSP_ENET;
}

/* agent_health_setup sets the options of one check on h. */
static CURLcode agent_health_setup(CURL *h, const char *url, int64_t timeout_ms, char *ebuf)
{
	CURLcode rc;

	rc = curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_URL, url);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_PROXY, ""); /* never via http_proxy */
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_USERAGENT, "ospec-agent/" OSPEC_VERSION);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, agent_health_discard);
	return rc;
}

/* agent_health_method makes h send method (checks.h: GET HEAD POST PUT
 * DELETE PATCH OPTIONS) without a body; POST, PUT and PATCH say so with an
 * empty one (Content-Length: 0). */
static CURLcode agent_health_method(CURL *h, const char *method)
{
	CURLcode rc = CURLE_OK;

	if (strcmp(method, "GET") == 0)
		return CURLE_OK;
	if (strcmp(method, "HEAD") == 0)
		return curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
		strcmp(method, "PATCH") == 0) {
		rc = curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
		if (rc == CURLE_OK)
			rc = curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
	}
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	return rc;
}

/* agent_health_request sends one request of method to url. Returns OSP_OK
 * for any HTTP answer (*code is its status), otherwise the transfer's error
 * with msg (len bytes) saying why ("connection refused", "timed out after
 * 2s"). */
static osp_err agent_health_request(const char *method, const char *url, int64_t timeout_ms,
	long *code, char *msg, size_t len)
{
	char ebuf[CURL_ERROR_SIZE] = "";
	CURL *h = NULL;
	CURLcode rc;
	osp_err rv = OSP_OK;

	*code = 0;
	if (timeout_ms <= 0)
		timeout_ms = AGENT_HEALTH_TIMEOUT_MS;
	pthread_once(&agent_health_once, agent_health_global_init);
	if (agent_health_init_rc != CURLE_OK) {
		snprintf(msg, len, "libcurl initialisation failed");
		return OSP_ENOMEM;
	}
	if ((h = curl_easy_init()) == NULL) {
		snprintf(msg, len, "out of memory");
		return OSP_ENOMEM;
	}
	rc = agent_health_setup(h, url, timeout_ms, ebuf);
	if (rc == CURLE_OK)
		rc = agent_health_method(h, method);
	if (rc == CURLE_OK)
		rc = curl_easy_perform(h);
	if (rc != CURLE_OK)
		rv = agent_health_curl_err(h, rc, ebuf, timeout_ms, msg, len);
	else
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, code);
	curl_easy_cleanup(h);
	return rv;
}

osp_err agent_health_check_once(const char *url, int64_t timeout_ms, long *http_status, char *err, size_t errlen)
{
	char msg[CURL_ERROR_SIZE + 64] = "";
	long code = 0;
	osp_err rv;

	if (http_status != NULL)
		*http_status = 0;
	if (url == NULL)
		return OSP_EINVAL;
	rv = agent_health_request("GET", url, timeout_ms, &code, msg, sizeof(msg));
	if (http_status != NULL)
		*http_status = code;
	if (rv == OSP_OK && (code < 200 || code > 299)) {
		snprintf(msg, sizeof(msg), "HTTP %ld", code);
		rv = OSP_EREFUSED;
	}
	agent_metrics_health(rv == OSP_OK);
	if (rv != OSP_OK && err != NULL && errlen > 0)
		snprintf(err, errlen, "GET %s: %s", url, msg);
	return rv;
}

/* agent_health_stopped reports (into err) whether the wait must end now. */
static osp_err agent_health_stopped(const agent_health_spec *s, char *err, size_t errlen)
{
	if (s->cancel != NULL && atomic_load(s->cancel)) {
		snprintf(err, errlen, "health check cancelled");
		return OSP_ECLOSED;
	}
	if (s->alive != NULL && !s->alive(s->arg)) {
		snprintf(err, errlen, "process exited");
		return OSP_ECLOSED;
	}
	return OSP_OK;
}

/* agent_health_pause sleeps ms (not past deadline), looking at cancel and
 * alive every slice. */
static osp_err agent_health_pause(const agent_health_spec *s, int64_t ms, int64_t deadline, char *err,
	size_t errlen)
{
	int64_t end = osp_now_mono_ms() + ms;
	osp_err rv;

	if (end > deadline)
		end = deadline;
	for (;;) {
		int64_t left = end - osp_now_mono_ms();
		if (left <= 0)
			return OSP_OK;
		osp_sleep_ms(left < AGENT_HEALTH_SLICE_MS ? left : AGENT_HEALTH_SLICE_MS);
		rv = agent_health_stopped(s, err, errlen);
		if (rv != OSP_OK)
			return rv;
	}
}

/* agent_health_url builds the URL of s; OSP_EINVAL if s is unusable. */
static osp_err agent_health_url(const agent_health_spec *s, char *url, size_t len, char *err, size_t errlen)
{
	const char *host = s->host != NULL ? s->host : "127.0.0.1";
	const char *path = s->path != NULL ? s->path : AGENT_HEALTH_PATH;
	bool v6 = strchr(host, ':') != NULL;

	if (s->port == 0 || s->port > 65535 || host[0] == '\0' || path[0] != '/' || strpbrk(path, " \r\n") != NULL ||
	    strpbrk(host, "/ \r\n[]") != NULL) {
		snprintf(err, errlen, "invalid health check target (host, port 1..65535, path starting with '/')");
		return OSP_EINVAL;
	}
	if ((size_t)snprintf(url, len, "http://%s%s%s:%u%s", v6 ? "[" : "", host, v6 ? "]" : "", s->port, path) >=
	    len) {
		snprintf(err, errlen, "health check url too long");
		return OSP_EINVAL;
	}
	return OSP_OK;
}

osp_err agent_health_probe(const agent_health_spec *s, const char *method, long *http_status,
	char *why, size_t whylen)
{
	char url[AGENT_HEALTH_URL_MAX];
	osp_err rv;

	*http_status = 0;
	if (s == NULL || method == NULL)
		return OSP_EINVAL;
	if ((rv = agent_health_url(s, url, sizeof(url), why, whylen)) != OSP_OK)
		return rv;
	return agent_health_request(method, url, s->timeout_ms, http_status, why, whylen);
}

/* agent_health_timeout writes the deadline message: "never became healthy"
 * while the app never answered HTTP (it may not have been listening yet). */
static void agent_health_timeout(int64_t deadline_ms, const char *last, bool answered, unsigned ok_run,
	unsigned rise, char *err, size_t errlen)
{
	const char *what = answered ? "" : "never became healthy: ";
	char dur[32];

	osp_duration_fmt(deadline_ms, dur, sizeof(dur));
	if (last[0] != '\0')
		snprintf(err, errlen, "%shealth deadline %s passed: %s", what, dur, last);
	else if (ok_run > 0)
		snprintf(err, errlen, "health deadline %s passed: only %u of %u consecutive checks passed", dur,
			ok_run, rise);
	else
		snprintf(err, errlen, "%shealth deadline %s passed: no check completed", what, dur);
}

osp_err agent_health_wait(const agent_health_spec *s, char *err, size_t errlen)
{
	char url[AGENT_HEALTH_URL_MAX], msg[AGENT_HEALTH_URL_MAX + CURL_ERROR_SIZE + 64], last[sizeof(msg)] = "";
	int64_t interval, timeout, deadline_ms, deadline;
	unsigned rise, fall, ok_run = 0, fail_run = 0;
	bool answered = false; /* some check got an HTTP status: the app listens */
	long code;
	osp_err rv, checked;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (s == NULL)
		return OSP_EINVAL;
	rv = agent_health_url(s, url, sizeof(url), err, errlen);
	if (rv != OSP_OK)
		return rv;
	interval = s->interval_ms > 0 ? s->interval_ms : AGENT_HEALTH_INTERVAL_MS;
	timeout = s->timeout_ms > 0 ? s->timeout_ms : AGENT_HEALTH_TIMEOUT_MS;
	deadline_ms = s->deadline_ms > 0 ? s->deadline_ms : AGENT_HEALTH_DEADLINE_MS;
	rise = s->rise > 0 ? s->rise : AGENT_HEALTH_RISE;
	fall = s->fall > 0 ? s->fall : AGENT_HEALTH_FALL;
	deadline = osp_now_mono_ms() + deadline_ms;
	for (;;) {
		int64_t left = deadline - osp_now_mono_ms();

		rv = agent_health_stopped(s, err, errlen);
		if (rv != OSP_OK)
			return rv;
		if (left <= 0) {
			agent_health_timeout(deadline_ms, last, answered, ok_run, rise, err, errlen);
			return OSP_ETIMEDOUT;
		}
		rv = agent_health_check_once(url, left < timeout ? left : timeout, &code, msg, sizeof(msg));
		if (rv == OSP_EINVAL || rv == OSP_ENOMEM) {
			snprintf(err, errlen, "%s", msg);
			return rv;
		}
		checked = rv;
		rv = agent_health_stopped(s, err, errlen);
		if (rv != OSP_OK)
			return rv;
		/* Fail fast on answers: `fall` non-2xx answers in a row fail the
		 * wait at once, so a release that always answers 500 does not
		 * hold its batch until the deadline. Refused or timed-out
		 * connections neither count nor break the run: the app may be
		 * starting, or the host busy (a check timing out on a loaded
		 * machine is no verdict on the release); the deadline covers an
		 * app that never becomes healthy, and a dead process is seen at
		 * once (s->alive). */
		if (code != 0)
			answered = true;
		if (checked == OSP_OK) {
			fail_run = 0;
			if (++ok_run >= rise)
				return OSP_OK;
		} else {
			ok_run = 0;
			osp_strlcpy(last, msg, sizeof(last));
			if (code != 0 && ++fail_run >= fall) {
				snprintf(err, errlen, "unhealthy after %u failed checks: %s", fail_run, last);
				return OSP_EREFUSED;
			}
		}
		rv = agent_health_pause(s, interval, deadline, err, errlen);
		if (rv != OSP_OK)
			return rv;
	}
}
