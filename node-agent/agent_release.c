/*
 * agent_release.c - releases on the agent: fetch into the cache (libcurl),
 * verify (mbedTLS sha256), prepare, garbage-collect, clean temp files.
 * Unpacking (libarchive) and the entry path check are in
 * agent_release_unpack.c. See agent_release.h for the on-disk layout.
 */
#include "agent_release.h"
#include "agent_release_int.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <mbedtls/sha256.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "ospec/log.h"
#include "ospec/util.h"

#define AGENT_RELEASE_MAX_SIZE_DEFAULT (2ULL * 1024 * 1024 * 1024)
#define AGENT_RELEASE_MIN_FREE_DEFAULT (64ULL * 1024 * 1024)
#define AGENT_RELEASE_MAX_REDIRS 5

static pthread_once_t agent_release_curl_once = PTHREAD_ONCE_INIT;
static CURLcode agent_release_curl_rc = CURLE_FAILED_INIT;

void agent_release_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap); /* a truncated message is still useful */
	va_end(ap);
}

bool agent_release_sha_valid(const char *s)
{
	if (s == NULL)
		return false;
	for (size_t i = 0; i < AGENT_RELEASE_SHA256_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[AGENT_RELEASE_SHA256_LEN] == '\0';
}

osp_err agent_release_check_args(const char *state_dir, const char *sha, char *err,
	size_t errlen)
{
	if (state_dir == NULL || state_dir[0] == '\0') {
		agent_release_errf(err, errlen, "no state directory");
		return OSP_EINVAL;
	}
	if (!agent_release_sha_valid(sha)) {
		agent_release_errf(err, errlen, "invalid sha256 '%.80s': expected 64 lowercase "
			"hex digits", sha != NULL ? sha : "");
		return OSP_EINVAL;
	}
	return OSP_OK;
}

osp_err agent_release_path(char *buf, size_t len, const char *state_dir, const char *sub,
	const char *name, char *err, size_t errlen)
{
	int n = snprintf(buf, len, "%s/%s%s%s", state_dir, sub, name[0] ? "/" : "", name);

	if (n < 0 || (size_t)n >= len) {
		agent_release_errf(err, errlen, "path too long under state directory '%.200s'",
			state_dir);
		return OSP_ETOOBIG;
	}
	return OSP_OK;
}

void agent_release_touch(const char *path)
{
	/* best effort: the mtime only orders releases for the garbage collector */
	(void)utimensat(AT_FDCWD, path, NULL, 0);
}

osp_err agent_release_hash_file(const char *path, char hex[AGENT_RELEASE_SHA256_LEN + 1])
{
	mbedtls_sha256_context ctx;
	unsigned char buf[65536], digest[32];
	osp_err rv = OSP_OK;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? OSP_ENOENT : OSP_EIO;
	mbedtls_sha256_init(&ctx);
	if (mbedtls_sha256_starts_ret(&ctx, 0) != 0) {
		rv = OSP_EIO;
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rv = OSP_EIO;
			goto out;
		}
		if (r == 0)
			break;
		if (mbedtls_sha256_update_ret(&ctx, buf, (size_t)r) != 0) {
			rv = OSP_EIO;
			goto out;
		}
	}
	if (mbedtls_sha256_finish_ret(&ctx, digest) != 0) {
		rv = OSP_EIO;
		goto out;
	}
	osp_hex_encode(digest, sizeof(digest), hex);
out:
	mbedtls_sha256_free(&ctx);
	close(fd);
	return rv;
}

static int agent_release_rm_cb(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)f;
	if (flag == FTW_DP || flag == FTW_D || flag == FTW_DNR)
		return rmdir(path) == 0 || errno == ENOENT ? 0 : -1;
	return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
}

static int agent_release_chmod_cb(const char *path, const struct stat *st, int flag,
	struct FTW *f)
{
	(void)f;
	/* pre-order: a directory becomes searchable before it is entered, so a
	 * release that made itself read-only can still be removed */
	if ((flag == FTW_D || flag == FTW_DNR) && (st->st_mode & 0700) != 0700)
		(void)chmod(path, (st->st_mode & 07777) | 0700);
	return 0;
}

osp_err agent_release_rm_tree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? OSP_OK : OSP_EIO;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) == 0 ? OSP_OK : OSP_EIO;
	(void)nftw(path, agent_release_chmod_cb, 16, FTW_PHYS);
	if (nftw(path, agent_release_rm_cb, 16, FTW_PHYS | FTW_DEPTH) != 0)
		return OSP_EIO;
	return OSP_OK;
}

/* agent_release_redact copies url without user:password and query string. */
void agent_release_redact(const char *url, char *out, size_t len)
{
	const char *scheme_end = strstr(url, "://");
	const char *auth, *auth_end, *at, *rest_end;
	size_t o = 0;

	if (len == 0)
		return;
	out[0] = '\0';
	if (scheme_end == NULL) {
		snprintf(out, len, "%.*s", (int)strcspn(url, "?#"), url);
		return;
	}
	auth = scheme_end + 3;
	auth_end = auth + strcspn(auth, "/?#");
	at = NULL;
	for (const char *p = auth; p < auth_end; p++)
		if (*p == '@')
			at = p;
	o = (size_t)snprintf(out, len, "%.*s", (int)(auth - url), url);
	if (o >= len)
		return;
	if (at != NULL)
		auth = at + 1;
	rest_end = auth_end + strcspn(auth_end, "?#");
	snprintf(out + o, len - o, "%.*s%s", (int)(rest_end - auth), auth,
		*rest_end != '\0' ? "?..." : "");
}

static void agent_release_curl_init(void)
{
	agent_release_curl_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* The state of one download, shared with the curl write callback. */
struct agent_release_dl {
	CURL *curl;
	int fd;
	const char *dir;
	mbedtls_sha256_context sha;
	uint64_t got;
	uint64_t max_size;
	uint64_t min_free;
	bool space_checked;
	osp_err fail; /* set by the callback when it stops the transfer */
	char why[256];
};

/* agent_release_dl_space checks the free space once the size may be known. */
static bool agent_release_dl_space(struct agent_release_dl *d)
{
	curl_off_t cl = -1;
	struct statvfs vfs;
	uint64_t need, avail;

	d->space_checked = true;
	if (curl_easy_getinfo(d->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) != CURLE_OK)
		cl = -1;
	if (cl >= 0 && (uint64_t)cl > d->max_size) {
		d->fail = OSP_ETOOBIG;
		snprintf(d->why, sizeof(d->why), "artifact is %lld bytes, above the limit of "
			"%llu", (long long)cl, (unsigned long long)d->max_size);
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

static size_t agent_release_dl_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct agent_release_dl *d = arg;
	size_t n = size * nmemb, off = 0;

	if (!d->space_checked && !agent_release_dl_space(d))
		return 0;
	if (n > d->max_size - d->got) {
		d->fail = OSP_ETOOBIG;
		snprintf(d->why, sizeof(d->why), "artifact is larger than the limit of %llu bytes",
			(unsigned long long)d->max_size);
		return 0;
	}
	d->got += n;
	if (mbedtls_sha256_update_ret(&d->sha, (const unsigned char *)ptr, n) != 0) {
		d->fail = OSP_EIO;
		snprintf(d->why, sizeof(d->why), "sha256 failed");
		return 0;
	}
	while (off < n) {
		ssize_t w = write(d->fd, ptr + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			d->fail = OSP_EIO;
			snprintf(d->why, sizeof(d->why), "write to '%.150s': %s", d->dir,
				strerror(errno));
			return 0;
		}
		off += (size_t)w;
	}
	return n;
}

/* agent_release_curl_err converts a failed transfer into osp_err + message. */
static osp_err agent_release_curl_err(struct agent_release_dl *d, CURLcode rc,
	const char *errbuf, const char *url, char *err, size_t errlen)
{
	char safe[512];
	long code = 0;
	osp_err rv = OSP_ENET;

	agent_release_redact(url, safe, sizeof(safe));
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
	if (rc == CURLE_OPERATION_TIMEDOUT)
		rv = OSP_ETIMEDOUT;
	else if (rc == CURLE_FILE_COULDNT_READ_FILE)
		rv = OSP_ENOENT;
	else if (rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_URL_MALFORMAT)
		rv = OSP_EINVAL;
	else if (rc == CURLE_OUT_OF_MEMORY)
		rv = OSP_ENOMEM;
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
	AGENT_RELEASE_SETOPT(CURLOPT_PROTOCOLS_STR, "http,https,file");
	AGENT_RELEASE_SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	AGENT_RELEASE_SETOPT(CURLOPT_FOLLOWLOCATION, 1L);
	AGENT_RELEASE_SETOPT(CURLOPT_MAXREDIRS, (long)AGENT_RELEASE_MAX_REDIRS);
	AGENT_RELEASE_SETOPT(CURLOPT_CONNECTTIMEOUT_MS, ct);
	AGENT_RELEASE_SETOPT(CURLOPT_LOW_SPEED_LIMIT, lsl);
	AGENT_RELEASE_SETOPT(CURLOPT_LOW_SPEED_TIME, lst);
	AGENT_RELEASE_SETOPT(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)d->max_size);
	AGENT_RELEASE_SETOPT(CURLOPT_FAILONERROR, 1L);
	AGENT_RELEASE_SETOPT(CURLOPT_NOSIGNAL, 1L);
	AGENT_RELEASE_SETOPT(CURLOPT_USERAGENT, "ospec-agent/" OSPEC_VERSION);
	AGENT_RELEASE_SETOPT(CURLOPT_ERRORBUFFER, errbuf);
	AGENT_RELEASE_SETOPT(CURLOPT_WRITEFUNCTION, agent_release_dl_write);
	AGENT_RELEASE_SETOPT(CURLOPT_WRITEDATA, d);
#undef AGENT_RELEASE_SETOPT
	return rc == CURLE_OK ? OSP_OK : OSP_ENOMEM;
}

/* agent_release_download fetches url into the open temp file d->fd and
 * leaves the hex digest of what arrived in got_hex. */
static osp_err agent_release_download(struct agent_release_dl *d, const char *url,
	const agent_release_opts *o, char got_hex[AGENT_RELEASE_SHA256_LEN + 1], char *err,
	size_t errlen)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	unsigned char digest[32];
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
		return agent_release_curl_err(d, rc, errbuf, url, err, errlen);
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

osp_err agent_release_fetch_opts(const char *state_dir, const char *url, const char *sha256_hex,
	const agent_release_opts *opts, char *err, size_t errlen)
{
	struct agent_release_dl d = { .fd = -1 };
	agent_release_opts o = { 0 };
	char dir[PATH_MAX], final[PATH_MAX], tmp[PATH_MAX];
	char got[AGENT_RELEASE_SHA256_LEN + 1];
	bool tmp_made = false;
	osp_err rv;

	if (opts != NULL)
		o = *opts;
	mbedtls_sha256_init(&d.sha);
	rv = agent_release_check_args(state_dir, sha256_hex, err, errlen);
	if (rv != OSP_OK)
		goto out;
	if (url == NULL || url[0] == '\0') {
		agent_release_errf(err, errlen, "no artifact url");
		rv = OSP_EINVAL;
		goto out;
	}
	rv = agent_release_fetch_paths(state_dir, sha256_hex, dir, final, tmp, err, errlen);
	if (rv != OSP_OK || agent_release_cached(final, sha256_hex))
		goto out;
	if (osp_mkdir_p(dir, 0700) != OSP_OK) {
		agent_release_errf(err, errlen, "create '%s': %s", dir, strerror(errno));
		rv = OSP_EIO;
		goto out;
	}
	d.fd = mkostemp(tmp, O_CLOEXEC);
	if (d.fd < 0) {
		agent_release_errf(err, errlen, "create temp file in '%s': %s", dir,
			strerror(errno));
		rv = OSP_EIO;
		goto out;
	}
	tmp_made = true;
	if (mbedtls_sha256_starts_ret(&d.sha, 0) != 0) {
		agent_release_errf(err, errlen, "sha256 initialisation failed");
		rv = OSP_EIO;
		goto out;
	}
	d.dir = dir;
	d.max_size = o.max_size ? o.max_size : AGENT_RELEASE_MAX_SIZE_DEFAULT;
	d.min_free = o.min_free ? o.min_free : AGENT_RELEASE_MIN_FREE_DEFAULT;
	rv = agent_release_download(&d, url, &o, got, err, errlen);
	if (rv != OSP_OK)
		goto out;
	if (strcmp(got, sha256_hex) != 0) {
		agent_release_errf(err, errlen, "sha256 mismatch: expected %s, got %s", sha256_hex,
			got);
		rv = OSP_ECHECKSUM;
		goto out;
	}
	if (rename(tmp, final) != 0) {
		agent_release_errf(err, errlen, "rename into '%s': %s", final, strerror(errno));
		rv = OSP_EIO;
		goto out;
	}
	tmp_made = false; /* it is the cached file now */
	agent_release_sync_dir(dir);
	OSP_INFO("OSP-REL-FETCHED", "release '%.12s' fetched (%llu bytes)", sha256_hex,
		(unsigned long long)d.got);
out:
	if (d.curl != NULL)
		curl_easy_cleanup(d.curl);
	if (d.fd >= 0)
		close(d.fd);
	if (tmp_made)
		(void)unlink(tmp);
	mbedtls_sha256_free(&d.sha);
	return rv;
}

osp_err agent_release_fetch(const char *state_dir, const char *url, const char *sha256_hex,
	char *err, size_t errlen)
{
	return agent_release_fetch_opts(state_dir, url, sha256_hex, NULL, err, errlen);
}

osp_err agent_release_prepare(const char *state_dir, const char *url, const char *sha256_hex,
	char *dir_out, size_t dir_len, char *err, size_t errlen)
{
	osp_err rv = agent_release_fetch(state_dir, url, sha256_hex, err, errlen);

	if (rv != OSP_OK)
		return rv;
	/* fetch has just verified the cached copy: no need to hash it again */
	return agent_release_unpack_verified(state_dir, sha256_hex, dir_out, dir_len, err,
		errlen);
}

/* agent_release_clean_dir removes the entries of dir whose name starts with
 * prefix. */
static void agent_release_clean_dir(const char *dir, const char *prefix)
{
	DIR *dh = opendir(dir);
	struct dirent *de;
	char path[PATH_MAX];

	if (dh == NULL)
		return;
	while ((de = readdir(dh)) != NULL) {
		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path))
			continue;
		if (agent_release_rm_tree(path) != OSP_OK)
			OSP_WARN("OSP-REL-CLEAN", "cannot remove leftover '%s'", path);
		else
			OSP_DEBUG("OSP-REL-CLEAN", "removed leftover '%s'", path);
	}
	closedir(dh);
}

void agent_release_clean_tmp(const char *state_dir)
{
	char dir[PATH_MAX];

	if (state_dir == NULL)
		return;
	if (agent_release_path(dir, sizeof(dir), state_dir, "cache", "", NULL, 0) == OSP_OK)
		agent_release_clean_dir(dir, "tmp-");
	if (agent_release_path(dir, sizeof(dir), state_dir, "releases", "", NULL, 0) == OSP_OK)
		agent_release_clean_dir(dir, ".tmp-");
}

/* One release known to the garbage collector. */
struct agent_release_gc_item {
	char sha[AGENT_RELEASE_SHA256_LEN + 1];
	struct timespec used; /* newest mtime of its cache file and release dir */
};

struct agent_release_gc_list {
	struct agent_release_gc_item *v;
	size_t n, cap;
};

static bool agent_release_ts_newer(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec != b->tv_sec ? a->tv_sec > b->tv_sec : a->tv_nsec > b->tv_nsec;
}

/* agent_release_gc_add records sha with mtime ts, merging duplicates. */
static osp_err agent_release_gc_add(struct agent_release_gc_list *l, const char *sha,
	const struct timespec *ts)
{
	for (size_t i = 0; i < l->n; i++) {
		if (strcmp(l->v[i].sha, sha) != 0)
			continue;
		if (agent_release_ts_newer(ts, &l->v[i].used))
			l->v[i].used = *ts;
		return OSP_OK;
	}
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 16;
		struct agent_release_gc_item *p = realloc(l->v, ncap * sizeof(*p));
		if (p == NULL)
			return OSP_ENOMEM;
		l->v = p;
		l->cap = ncap;
	}
	osp_strlcpy(l->v[l->n].sha, sha, sizeof(l->v[l->n].sha));
	l->v[l->n].used = *ts;
	l->n++;
	return OSP_OK;
}

/* agent_release_gc_scan adds every sha256-named entry of dir to l. */
static osp_err agent_release_gc_scan(const char *dir, struct agent_release_gc_list *l)
{
	DIR *dh = opendir(dir);
	struct dirent *de;
	struct stat st;
	osp_err rv = OSP_OK;

	if (dh == NULL)
		return errno == ENOENT ? OSP_OK : OSP_EIO;
	while (rv == OSP_OK && (de = readdir(dh)) != NULL) {
		if (!agent_release_sha_valid(de->d_name))
			continue;
		if (fstatat(dirfd(dh), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		rv = agent_release_gc_add(l, de->d_name, &st.st_mtim);
	}
	closedir(dh);
	return rv;
}

static int agent_release_gc_cmp(const void *a, const void *b)
{
	const struct agent_release_gc_item *x = a, *y = b;

	if (agent_release_ts_newer(&x->used, &y->used))
		return -1;
	if (agent_release_ts_newer(&y->used, &x->used))
		return 1;
	return strcmp(x->sha, y->sha); /* a stable order for equal times */
}

static bool agent_release_gc_protected(const char *sha, const char *const *prot, size_t nprot)
{
	for (size_t i = 0; i < nprot; i++)
		if (strcmp(prot[i], sha) == 0)
			return true;
	return false;
}

/* agent_release_gc_delete removes the cache file and release dir of sha. */
static osp_err agent_release_gc_delete(const char *state_dir, const char *sha)
{
	char path[PATH_MAX];
	osp_err rv = OSP_OK;
	const char *subs[] = { "releases", "cache" }; /* the unpacked copy goes first */

	for (size_t i = 0; i < 2; i++) {
		if (agent_release_path(path, sizeof(path), state_dir, subs[i], sha, NULL, 0) !=
				OSP_OK ||
			agent_release_rm_tree(path) != OSP_OK) {
			OSP_WARN("OSP-REL-GC-FAIL", "cannot delete '%s/%s/%s'", state_dir, subs[i],
				sha);
			rv = OSP_EIO;
		}
	}
	if (rv == OSP_OK)
		OSP_INFO("OSP-REL-GC", "release '%.12s' deleted", sha);
	return rv;
}

osp_err agent_release_gc(const char *state_dir, unsigned keep, const char *const *protected_sha,
	size_t nprot)
{
	struct agent_release_gc_list l = { 0 };
	char dir[PATH_MAX];
	osp_err rv;

	if (state_dir == NULL || (nprot > 0 && protected_sha == NULL))
		return OSP_EINVAL;
	for (size_t i = 0; i < nprot; i++)
		if (!agent_release_sha_valid(protected_sha[i]))
			return OSP_EINVAL;
	rv = agent_release_path(dir, sizeof(dir), state_dir, "releases", "", NULL, 0);
	if (rv == OSP_OK)
		rv = agent_release_gc_scan(dir, &l);
	if (rv == OSP_OK)
		rv = agent_release_path(dir, sizeof(dir), state_dir, "cache", "", NULL, 0);
	if (rv == OSP_OK)
		rv = agent_release_gc_scan(dir, &l);
	if (rv != OSP_OK)
		goto out;
	if (l.n > 0)
		qsort(l.v, l.n, sizeof(*l.v), agent_release_gc_cmp);
	for (size_t i = keep; i < l.n; i++) {
		if (agent_release_gc_protected(l.v[i].sha, protected_sha, nprot))
			continue;
		if (agent_release_gc_delete(state_dir, l.v[i].sha) != OSP_OK)
			rv = OSP_EIO;
	}
out:
	free(l.v);
	return rv;
}
