/*
 * agent_release.c - releases on the agent: the helpers of the release
 * modules (arguments, paths, sha256 of a file, removing a tree), garbage
 * collection and the cleanup of temp files. Fetching into the cache is in
 * agent_release_fetch.c, unpacking (libarchive) and the entry path check in
 * agent_release_unpack.c. See agent_release.h for the on-disk layout.
 */
#include "agent_release.h"
#include "agent_release_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <mbedtls/sha256.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ospec/log.h"
#include "ospec/util.h"

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
