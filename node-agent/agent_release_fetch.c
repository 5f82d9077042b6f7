/*
 * agent_release_fetch.c - fetching an artifact into the cache: http(s)
 * with libcurl, file:// read here (only regular files, never through curl:
 * libcurl would open a FIFO and wait forever), hashed as it arrives
 * (mbedTLS sha256), renamed into place only when the sha256 matches. A
 * fetch ends: at the total deadline, when the transfer stalls, or when the
 * caller's cancel flag is set. See agent_release.h.
 */
#include "agent_release.h"
#include "agent_release_int.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mbedtls/sha256.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "agent_metrics.h"
#include "agent_regfile.h"
#include "ospec/log.h"
#include "ospec/url_redact.h"
#include "ospec/util.h"

#define AGENT_RELEASE_MAX_SIZE_DEFAULT (2ULL * 1024 * 1024 * 1024)
#define AGENT_RELEASE_MIN_FREE_DEFAULT (64ULL * 1024 * 1024)
#define AGENT_RELEASE_MAX_REDIRS 5
#define AGENT_RELEASE_SAFE_URL 512 /* bytes of a redacted URL in messages */

static pthread_once_t agent_release_curl_once = PTHREAD_ONCE_INIT;
static CURLcode agent_release_curl_rc = CURLE_FAILED_INIT;

static void agent_release_curl_init(void)
{
	agent_release_curl_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* The state of one download, shared with the curl callbacks. */
struct agent_release_dl {
	CURL *curl;
	int fd;
	const char *dir;
	mbedtls_sha256_context sha;
	uint64_t got;
	uint64_t max_size;
	uint64_t min_free;
	long timeout_ms;
	const atomic_bool *cancel;
	bool space_checked;
	osp_err fail; /* set by a callback when it stops the transfer */
	char why[256];
};

/* agent_release_dl_cancelled reports (and records) a cancel by the caller. */
static bool agent_release_dl_cancelled(struct agent_release_dl *d)
{
	if (d->cancel == NULL || !atomic_load(d->cancel))
		return false;
	d->fail = OSP_ECLOSED;
	snprintf(d->why, sizeof(d->why), "cancelled");
	return true;
}

/* agent_release_dl_space checks the size (cl, -1 when unknown) against the
 * limit and the free space, once. */
static bool agent_release_dl_space(struct agent_release_dl *d, long long cl)
{
	struct statvfs vfs;
	uint64_t need, avail;

	d->space_checked = true;
	if (cl >= 0 && (uint64_t)cl > d->max_size) {
		d->fail = OSP_ETOOBIG;
		snprintf(d->why, sizeof(d->why), "artifact is %lld bytes, above the limit of "
			"%llu", cl, (unsigned long long)d->max_size);
		return false;
	}
	need = cl >= 0 ? (uint64_t)cl : d->min_free;
	if (statvfs(d->dir, &vfs) != 0) {
		d->fail = OSP_EIO;
		snprintf(d->why, sizeof(d->why), "statvfs '%.150s': %s", d->dir, strerror(errno));
		return false;
	}
	avail = (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize;
	if (avail < need) {
		d->fail = OSP_EIO;
		snprintf(d->why, sizeof(d->why), "not enough free space in '%.120s': need %s%llu "
			"bytes, %llu available", d->dir, cl >= 0 ? "" : "at least ",
			(unsigned long long)need, (unsigned long long)avail);
		return false;
	}
	return true;
}

/* agent_release_dl_data hashes and writes n bytes; false (d->fail set) to
 * stop. */
static bool agent_release_dl_data(struct agent_release_dl *d, const char *ptr, size_t n)
{
	size_t off = 0;

	if (n > d->max_size - d->got) {
		d->fail = OSP_ETOOBIG;
		snprintf(d->why, sizeof(d->why), "artifact is larger than the limit of %llu bytes",
			(unsigned long long)d->max_size);
		return false;
	}
	d->got += n;
	if (mbedtls_sha256_update_ret(&d->sha, (const unsigned char *)ptr, n) != 0) {
		d->fail = OSP_EIO;
		snprintf(d->why, sizeof(d->why), "sha256 failed");
		return false;
	}
	while (off < n) {
		ssize_t w = write(d->fd, ptr + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			d->fail = OSP_EIO;
			snprintf(d->why, sizeof(d->why), "write to '%.150s': %s", d->dir,
				strerror(errno));
			return false;
		}
		off += (size_t)w;
	}
	return true;
}

static size_t agent_release_dl_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct agent_release_dl *d = arg;
	size_t n = size * nmemb;
	curl_off_t cl = -1;

	if (agent_release_dl_cancelled(d))
		return 0;
	if (!d->space_checked) {
		if (curl_easy_getinfo(d->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) != CURLE_OK)
			cl = -1;
		if (!agent_release_dl_space(d, (long long)cl))
			return 0;
	}
	return agent_release_dl_data(d, ptr, n) ? n : 0;
}

/* agent_release_dl_progress is curl's progress callback: it runs while the
 * transfer waits for data too (about once a second at least), so a cancel
 * is seen even when nothing arrives. */
static int agent_release_dl_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
	curl_off_t ultotal, curl_off_t ulnow)
{
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return agent_release_dl_cancelled(arg) ? 1 : 0;
}

/* agent_release_deadline_msg says that the total deadline passed. */
static void agent_release_deadline_msg(struct agent_release_dl *d, const char *safe, char *err,
	size_t errlen)
{
	char dl[32];

	osp_duration_fmt(d->timeout_ms, dl, sizeof(dl));
	agent_release_errf(err, errlen, "fetch '%s': not finished within the fetch deadline of "
		"%s (%llu bytes received; agent config fetch_timeout)", safe, dl,
		(unsigned long long)d->got);
}

/* agent_release_curl_err converts a failed transfer into osp_err + message. */
static osp_err agent_release_curl_err(struct agent_release_dl *d, CURLcode rc,
	const char *errbuf, const char *safe, char *err, size_t errlen)
{
	curl_off_t spent_us = 0;
	long code = 0;
	osp_err rv = OSP_ENET;

	if (d->fail != OSP_OK) {
		agent_release_errf(err, errlen, "fetch '%s': %s", safe, d->why);
		return d->fail;
	}
	if (rc == CURLE_HTTP_RETURNED_ERROR) {
		curl_easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, &code);
		agent_release_errf(err, errlen, "fetch '%s': HTTP status %ld", safe, code);
		return OSP_ENET;
	}
	if (rc == CURLE_FILESIZE_EXCEEDED) {
		agent_release_errf(err, errlen, "fetch '%s': artifact is larger than the limit "
			"of %llu bytes", safe, (unsigned long long)d->max_size);
		return OSP_ETOOBIG;
	}
	if (rc == CURLE_OPERATION_TIMEDOUT) {
		/* the total deadline, or the connect / low-speed limits */
		if (curl_easy_getinfo(d->curl, CURLINFO_TOTAL_TIME_T, &spent_us) == CURLE_OK &&
			spent_us / 1000 + 50 >= d->timeout_ms) {
			agent_release_deadline_msg(d, safe, err, errlen);
			return OSP_ETIMEDOUT;
		}
		rv = OSP_ETIMEDOUT;
	} else if (rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_URL_MALFORMAT) {
		rv = OSP_EINVAL;
	} else if (rc == CURLE_OUT_OF_MEMORY) {
		rv = OSP_ENOMEM;
	}
	/* curl's error buffer names the host at most, never userinfo or query */
	agent_release_errf(err, errlen, "fetch '%s': %s%s%s", safe, curl_easy_strerror(rc),
		errbuf[0] != '\0' ? ": " : "", errbuf);
	return rv;
}

static osp_err agent_release_curl_setup(struct agent_release_dl *d, const char *url,
	const agent_release_opts *o, char *errbuf)
{
	CURL *c = d->curl;
	long ct = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 10000;
	long lsl = o->low_speed_limit > 0 ? o->low_speed_limit : 1024;
	long lst = o->low_speed_time > 0 ? o->low_speed_time : 30;
	CURLcode rc = CURLE_OK;

#define AGENT_RELEASE_SETOPT(opt, val)                  \
	do {                                            \
		if (rc == CURLE_OK)                     \
			rc = curl_easy_setopt(c, opt, val); \
	} while (0)
	AGENT_RELEASE_SETOPT(CURLOPT_URL, url);
	/* file:// is read by agent_release_file, never by curl */
	AGENT_RELEASE_SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
	AGENT_RELEASE_SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	AGENT_RELEASE_SETOPT(CURLOPT_FOLLOWLOCATION, 1L);
	AGENT_RELEASE_SETOPT(CURLOPT_MAXREDIRS, (long)AGENT_RELEASE_MAX_REDIRS);
	AGENT_RELEASE_SETOPT(CURLOPT_CONNECTTIMEOUT_MS, ct);
	AGENT_RELEASE_SETOPT(CURLOPT_TIMEOUT_MS, d->timeout_ms);
	AGENT_RELEASE_SETOPT(CURLOPT_LOW_SPEED_LIMIT, lsl);
	AGENT_RELEASE_SETOPT(CURLOPT_LOW_SPEED_TIME, lst);
	AGENT_RELEASE_SETOPT(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)d->max_size);
	AGENT_RELEASE_SETOPT(CURLOPT_FAILONERROR, 1L);
	AGENT_RELEASE_SETOPT(CURLOPT_NOSIGNAL, 1L);
	AGENT_RELEASE_SETOPT(CURLOPT_USERAGENT, "ospec-agent/" OSPEC_VERSION);
	AGENT_RELEASE_SETOPT(CURLOPT_ERRORBUFFER, errbuf);
	AGENT_RELEASE_SETOPT(CURLOPT_WRITEFUNCTION, agent_release_dl_write);
	AGENT_RELEASE_SETOPT(CURLOPT_WRITEDATA, d);
	AGENT_RELEASE_SETOPT(CURLOPT_XFERINFOFUNCTION, agent_release_dl_progress);
	AGENT_RELEASE_SETOPT(CURLOPT_XFERINFODATA, d);
	AGENT_RELEASE_SETOPT(CURLOPT_NOPROGRESS, 0L);
#undef AGENT_RELEASE_SETOPT
	return rc == CURLE_OK ? OSP_OK : OSP_ENOMEM;
}

/* agent_release_http fetches url with libcurl into d->fd. */
static osp_err agent_release_http(struct agent_release_dl *d, const char *url, const char *safe,
	const agent_release_opts *o, char *err, size_t errlen)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	CURLcode rc;

	pthread_once(&agent_release_curl_once, agent_release_curl_init);
	if (agent_release_curl_rc != CURLE_OK) {
		agent_release_errf(err, errlen, "libcurl initialisation failed: %s",
			curl_easy_strerror(agent_release_curl_rc));
		return OSP_ENET;
	}
	d->curl = curl_easy_init();
	if (d->curl == NULL || agent_release_curl_setup(d, url, o, errbuf) != OSP_OK) {
		agent_release_errf(err, errlen, "libcurl setup failed");
		return OSP_ENOMEM;
	}
	rc = curl_easy_perform(d->curl);
	if (rc != CURLE_OK)
		return agent_release_curl_err(d, rc, errbuf, safe, err, errlen);
	return OSP_OK;
}

/* agent_release_file_path extracts the local path of a file:// URL (percent
 * decoded; heap, the caller frees it with curl_free). */
static osp_err agent_release_file_path(const char *url, const char *safe, char **path,
	char *err, size_t errlen)
{
	CURLU *u = curl_url();
	CURLUcode rc;

	*path = NULL;
	if (u == NULL)
		return OSP_ENOMEM;
	rc = curl_url_set(u, CURLUPART_URL, url, 0);
	if (rc == CURLUE_OK)
		rc = curl_url_get(u, CURLUPART_PATH, path, CURLU_URLDECODE);
	curl_url_cleanup(u);
	if (rc != CURLUE_OK || *path == NULL || (*path)[0] != '/') {
		agent_release_errf(err, errlen, "fetch '%s': not a usable file URL (%s)", safe,
			rc != CURLUE_OK ? curl_url_strerror(rc) : "no absolute path");
		if (*path != NULL)
			curl_free(*path);
		*path = NULL;
		return OSP_EINVAL;
	}
	return OSP_OK;
}

/* agent_release_file_copy reads the open regular file fd into the download,
 * within the deadline and until cancelled. */
static osp_err agent_release_file_copy(struct agent_release_dl *d, int fd, const char *safe,
	char *err, size_t errlen)
{
	int64_t deadline = osp_now_mono_ms() + d->timeout_ms;
	char *buf = malloc(65536);
	osp_err rv = OSP_OK;

	if (buf == NULL)
		return OSP_ENOMEM;
	for (;;) {
		ssize_t r;

		if (agent_release_dl_cancelled(d)) {
			agent_release_errf(err, errlen, "fetch '%s': %s", safe, d->why);
			rv = d->fail;
			break;
		}
		if (osp_now_mono_ms() > deadline) {
			agent_release_deadline_msg(d, safe, err, errlen);
			rv = OSP_ETIMEDOUT;
			break;
		}
		r = read(fd, buf, 65536);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			/* EAGAIN: O_NONBLOCK is kept, a pseudo file that would block fails */
			agent_release_errf(err, errlen, "fetch '%s': read: %s", safe,
				errno == EAGAIN ? "it would block: not a plain file" : strerror(errno));
			rv = OSP_EIO;
			break;
		}
		if (r == 0)
			break;
		if (!agent_release_dl_data(d, buf, (size_t)r)) {
			agent_release_errf(err, errlen, "fetch '%s': %s", safe, d->why);
			rv = d->fail;
			break;
		}
	}
	free(buf);
	return rv;
}

/* agent_release_file fetches a file:// URL: only a regular file is read
 * (opened with O_NONBLOCK, checked with fstat), so a FIFO, a device or a
 * directory is refused at once. */
static osp_err agent_release_file(struct agent_release_dl *d, const char *url, const char *safe,
	char *err, size_t errlen)
{
	char *path = NULL, why[128];
	struct stat st;
	int fd = -1;
	osp_err rv;

	rv = agent_release_file_path(url, safe, &path, err, errlen);
	if (rv != OSP_OK)
		return rv;
	rv = agent_regfile_open(path, &fd, why, sizeof(why));
	if (rv == OSP_EPERM)
		agent_release_errf(err, errlen, "fetch '%s': refused: the path %s (file:// "
			"fetches only regular files)", safe, why);
	else if (rv != OSP_OK)
		agent_release_errf(err, errlen, "fetch '%s': %s", safe, why);
	if (rv != OSP_OK)
		goto out;
	if (fstat(fd, &st) != 0) {
		agent_release_errf(err, errlen, "fetch '%s': %s", safe, strerror(errno));
		rv = OSP_EIO;
		goto out;
	}
	if (!agent_release_dl_space(d, (long long)st.st_size)) {
		agent_release_errf(err, errlen, "fetch '%s': %s", safe, d->why);
		rv = d->fail;
		goto out;
	}
	rv = agent_release_file_copy(d, fd, safe, err, errlen);
out:
	if (fd >= 0)
		close(fd);
	curl_free(path);
	return rv;
}

/* agent_release_download fetches url into the open temp file d->fd and
 * leaves the hex digest of what arrived in got_hex. */
static osp_err agent_release_download(struct agent_release_dl *d, const char *url,
	const agent_release_opts *o, char got_hex[AGENT_RELEASE_SHA256_LEN + 1], char *err,
	size_t errlen)
{
	char safe[AGENT_RELEASE_SAFE_URL];
	unsigned char digest[32];
	osp_err rv;

	/* the URL may hold a password or a signature: never in a message */
	(void)osp_url_redact(url, safe, sizeof(safe));
	if (strncasecmp(url, "file:", 5) == 0)
		rv = agent_release_file(d, url, safe, err, errlen);
	else
		rv = agent_release_http(d, url, safe, o, err, errlen);
	if (rv != OSP_OK)
		return rv;
	if (mbedtls_sha256_finish_ret(&d->sha, digest) != 0 || fsync(d->fd) != 0) {
		agent_release_errf(err, errlen, "finishing download in '%s': %s", d->dir,
			strerror(errno));
		return OSP_EIO;
	}
	osp_hex_encode(digest, sizeof(digest), got_hex);
	return OSP_OK;
}

static void agent_release_sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		(void)fsync(fd); /* make the rename durable; best effort */
		close(fd);
	}
}

/* agent_release_cached reports whether the cache already holds a matching
 * copy; a mismatching one is removed. */
static bool agent_release_cached(const char *path, const char *sha)
{
	char got[AGENT_RELEASE_SHA256_LEN + 1];
	osp_err rv = agent_release_hash_file(path, got);

	if (rv == OSP_OK && strcmp(got, sha) == 0) {
		agent_release_touch(path);
		return true;
	}
	if (rv != OSP_ENOENT) {
		OSP_WARN("OSP-REL-CACHE-BAD", "cached artifact '%s' does not match its sha256, "
			"fetching again", path);
		(void)unlink(path);
	}
	return false;
}

/* agent_release_fetch_paths fills the cache directory, the final name and
 * the mkostemp template of a download. */
static osp_err agent_release_fetch_paths(const char *state_dir, const char *sha, char *dir,
	char *final, char *tmp, char *err, size_t errlen)
{
	osp_err rv = agent_release_path(dir, PATH_MAX, state_dir, "cache", "", err, errlen);

	if (rv == OSP_OK)
		rv = agent_release_path(final, PATH_MAX, state_dir, "cache", sha, err, errlen);
	if (rv == OSP_OK)
		rv = agent_release_path(tmp, PATH_MAX, state_dir, "cache", "tmp-XXXXXX", err,
			errlen);
	return rv;
}

/* agent_release_dl_begin creates the temp file and readies d for o. */
static osp_err agent_release_dl_begin(struct agent_release_dl *d, const char *dir, char *tmp,
	const agent_release_opts *o, char *err, size_t errlen)
{
	if (osp_mkdir_p(dir, 0700) != OSP_OK) {
		agent_release_errf(err, errlen, "create '%s': %s", dir, strerror(errno));
		return OSP_EIO;
	}
	d->fd = mkostemp(tmp, O_CLOEXEC);
	if (d->fd < 0) {
		agent_release_errf(err, errlen, "create temp file in '%s': %s", dir,
			strerror(errno));
		return OSP_EIO;
	}
	if (mbedtls_sha256_starts_ret(&d->sha, 0) != 0) {
		agent_release_errf(err, errlen, "sha256 initialisation failed");
		return OSP_EIO;
	}
	d->dir = dir;
	d->max_size = o->max_size ? o->max_size : AGENT_RELEASE_MAX_SIZE_DEFAULT;
	d->min_free = o->min_free ? o->min_free : AGENT_RELEASE_MIN_FREE_DEFAULT;
	d->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : AGENT_RELEASE_TIMEOUT_DEFAULT_MS;
	d->cancel = o->cancel;
	return OSP_OK;
}

osp_err agent_release_fetch_opts(const char *state_dir, const char *url, const char *sha256_hex,
	const agent_release_opts *opts, char *err, size_t errlen)
{
	struct agent_release_dl d = { .fd = -1 };
	agent_release_opts o = { 0 };
	char dir[PATH_MAX], final[PATH_MAX], tmp[PATH_MAX];
	char got[AGENT_RELEASE_SHA256_LEN + 1];
	int64_t began = 0; /* a download began (ospec_agent_fetch_* metrics) */
	osp_err rv;

	if (opts != NULL)
		o = *opts;
	mbedtls_sha256_init(&d.sha);
	tmp[0] = '\0';
	rv = agent_release_check_args(state_dir, sha256_hex, err, errlen);
	if (rv != OSP_OK)
		goto out;
	if (url == NULL || url[0] == '\0') {
		agent_release_errf(err, errlen, "no artifact url");
		rv = OSP_EINVAL;
		goto out;
	}
	rv = agent_release_fetch_paths(state_dir, sha256_hex, dir, final, tmp, err, errlen);
	if (rv != OSP_OK || agent_release_cached(final, sha256_hex)) {
		if (rv == OSP_OK)
			agent_metrics_fetch(AGENT_METRICS_FETCH_CACHED, 0, 0);
		tmp[0] = '\0';
		goto out;
	}
	began = osp_now_mono_ms();
	rv = agent_release_dl_begin(&d, dir, tmp, &o, err, errlen);
	if (rv == OSP_OK)
		rv = agent_release_download(&d, url, &o, got, err, errlen);
	if (rv != OSP_OK)
		goto out;
	if (strcmp(got, sha256_hex) != 0) {
		/* a file:// URL reads a file of this host: its digest is not for
		 * viewers of status (file:///etc/shadow with any sha256) */
		if (strncmp(url, "file://", 7) == 0)
			agent_release_errf(err, errlen,
				"sha256 mismatch: expected %s (the local file's own digest is not shown)",
				sha256_hex);
		else
			agent_release_errf(err, errlen, "sha256 mismatch: expected %s, got %s",
				sha256_hex, got);
		rv = OSP_ECHECKSUM;
		goto out;
	}
	if (rename(tmp, final) != 0) {
		agent_release_errf(err, errlen, "rename into '%s': %s", final, strerror(errno));
		rv = OSP_EIO;
		goto out;
	}
	tmp[0] = '\0'; /* it is the cached file now */
	agent_release_sync_dir(dir);
	OSP_INFO("OSP-REL-FETCHED", "release '%.12s' fetched (%llu bytes)", sha256_hex,
		(unsigned long long)d.got);
out:
	if (began != 0)
		agent_metrics_fetch(rv == OSP_OK ? AGENT_METRICS_FETCH_OK : AGENT_METRICS_FETCH_FAILED,
			d.got, (double)(osp_now_mono_ms() - began) / 1000.0);
	if (d.curl != NULL)
		curl_easy_cleanup(d.curl);
	if (d.fd >= 0)
		close(d.fd);
	if (d.fd >= 0 && tmp[0] != '\0')
		(void)unlink(tmp);
	mbedtls_sha256_free(&d.sha);
	return rv;
}

osp_err agent_release_fetch(const char *state_dir, const char *url, const char *sha256_hex,
	char *err, size_t errlen)
{
	return agent_release_fetch_opts(state_dir, url, sha256_hex, NULL, err, errlen);
}

osp_err agent_release_prepare_opts(const char *state_dir, const char *url,
	const char *sha256_hex, const agent_release_opts *opts, char *dir_out, size_t dir_len,
	char *err, size_t errlen)
{
	osp_err rv = agent_release_fetch_opts(state_dir, url, sha256_hex, opts, err, errlen);

	if (rv != OSP_OK)
		return rv;
	/* fetch has just verified the cached copy: no need to hash it again */
	return agent_release_unpack_verified(state_dir, sha256_hex, dir_out, dir_len, err,
		errlen);
}

osp_err agent_release_prepare(const char *state_dir, const char *url, const char *sha256_hex,
	char *dir_out, size_t dir_len, char *err, size_t errlen)
{
	return agent_release_prepare_opts(state_dir, url, sha256_hex, NULL, dir_out, dir_len, err,
		errlen);
}
