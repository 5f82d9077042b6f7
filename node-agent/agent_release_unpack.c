/*
 * agent_release_unpack.c - unpacking a cached artifact into a release
 * directory with libarchive, and the entry path check.
 *
 * libarchive's disk writer resolves entry paths against the current working
 * directory, and its secure flags refuse absolute paths, so the extraction
 * must run with the temp directory as its cwd. A process-wide chdir would
 * pull the ground from under every other thread of the agent; instead the
 * extraction runs on a short-lived thread that first gives itself a private
 * cwd with unshare(CLONE_FS) (Linux).
 */
#include "agent_release.h"
#include "agent_release_int.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <fts.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "ospec/log.h"
#include "ospec/util.h"

#define AGENT_RELEASE_PATH_MAX 2048       /* longest entry path or link target */
#define AGENT_RELEASE_MAX_ENTRIES 1000000 /* entries in one archive */

#define AGENT_RELEASE_EXTRACT_FLAGS                                                   \
	(ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT |          \
		ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS | ARCHIVE_EXTRACT_PERM |       \
		ARCHIVE_EXTRACT_TIME)

/* The components of a path, as agent_release_path_check needs them. */
struct agent_release_walk {
	size_t names;      /* components other than "", "." and ".." */
	size_t ups_lead;   /* ".." components before the first name */
	bool up_after_name; /* a ".." after a name */
};

static void agent_release_walk(const char *p, struct agent_release_walk *w)
{
	memset(w, 0, sizeof(*w));
	while (*p != '\0') {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (w->names == 0)
				w->ups_lead++;
			else
				w->up_after_name = true;
		} else if (n > 0 && !(n == 1 && p[0] == '.')) {
			w->names++;
		}
		p += n;
		if (*p == '/')
			p++;
	}
}

/* agent_release_link_check checks a link target (entry already checked). */
static const char *agent_release_link_check(const struct agent_release_walk *e,
	const char *target, int is_symlink)
{
	struct agent_release_walk t;

	if (strnlen(target, AGENT_RELEASE_PATH_MAX + 1) > AGENT_RELEASE_PATH_MAX)
		return is_symlink ? "symlink target is too long" : "hard link target is too long";
	if (target[0] == '\0')
		return is_symlink ? "symlink target is empty" : "hard link target is empty";
	if (target[0] == '/')
		return is_symlink ? "symlink target is absolute" : "hard link target is absolute";
	if (e->names == 0)
		return "a link cannot replace the release directory";
	agent_release_walk(target, &t);
	if (!is_symlink) {
		/* a hard link target is a path inside the archive, like an entry */
		if (t.ups_lead > 0 || t.up_after_name)
			return "hard link target escapes the release directory";
		return t.names == 0 ? "hard link target is the release directory" : NULL;
	}
	/* ".." after a name could climb out through another symlink: refused.
	 * Leading ".." climb real directories (extraction never goes through a
	 * symlink), from the link's own directory, which is e->names - 1 deep. */
	if (t.up_after_name)
		return "symlink target has '..' after a name";
	if (t.ups_lead > e->names - 1)
		return "symlink target escapes the release directory";
	return NULL;
}

const char *agent_release_path_check(const char *entry_path, const char *link_target,
	int is_symlink)
{
	struct agent_release_walk e;

	if (entry_path == NULL || entry_path[0] == '\0')
		return "empty path";
	if (strnlen(entry_path, AGENT_RELEASE_PATH_MAX + 1) > AGENT_RELEASE_PATH_MAX)
		return "path is too long";
	if (entry_path[0] == '/')
		return "path is absolute";
	agent_release_walk(entry_path, &e);
	if (e.ups_lead > 0 || e.up_after_name)
		return "path escapes the release directory";
	if (link_target == NULL)
		return is_symlink ? "symlink without a target" : NULL;
	return agent_release_link_check(&e, link_target, is_symlink);
}

bool agent_release_path_ok(const char *entry_path, const char *link_target, int is_symlink)
{
	return agent_release_path_check(entry_path, link_target, is_symlink) == NULL;
}

/* agent_release_show copies a name for a message: control bytes become '?'. */
static void agent_release_show(const char *s, char *out, size_t len)
{
	size_t i = 0;

	if (s == NULL)
		s = "";
	for (; s[i] != '\0' && i + 1 < len; i++)
		out[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
	out[i] = '\0';
}

/* One extraction, shared with its thread. */
struct agent_release_x {
	int archive_fd;
	int dir_fd;
	char *err;
	size_t errlen;
	osp_err rv;
};

/* agent_release_hardlink_check refuses a hard link to a symlink whose
 * target escapes the release directory from the hard link's place: link(2)
 * makes the new name a symlink with the same text, in another directory
 * ("a/b/root -> ../.." stays inside, a hard link "root" to it is
 * "root -> ../.." at the top: outside). */
static osp_err agent_release_hardlink_check(struct archive_entry *e, const char *hl,
	struct agent_release_x *x)
{
	char target[AGENT_RELEASE_PATH_MAX + 2], shown[256], shown_link[256], shown_t[256];
	const char *path = archive_entry_pathname(e), *why;
	struct stat st;
	ssize_t n;

	/* not there yet: libarchive fails on it; not a symlink: nothing moves */
	if (fstatat(x->dir_fd, hl, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISLNK(st.st_mode))
		return OSP_OK;
	n = readlinkat(x->dir_fd, hl, target, sizeof(target) - 1);
	if (n < 0)
		return OSP_OK; /* gone meanwhile: nothing to link to */
	target[n] = '\0';
	why = agent_release_path_check(path, target, 1);
	if (why == NULL)
		return OSP_OK;
	agent_release_show(path, shown, sizeof(shown));
	agent_release_show(hl, shown_link, sizeof(shown_link));
	agent_release_show(target, shown_t, sizeof(shown_t));
	agent_release_errf(x->err, x->errlen, "archive entry '%s' -> '%s': hard link to a "
		"symlink ('%s') whose target, seen from the hard link's place: %s", shown,
		shown_link, shown_t, why);
	return OSP_EPERM;
}

/* agent_release_entry_refuse checks an entry before anything is written. */
static osp_err agent_release_entry_refuse(struct archive_entry *e, struct agent_release_x *x)
{
	const char *path = archive_entry_pathname(e);
	const char *hl = archive_entry_hardlink(e);
	const char *sl = archive_entry_symlink(e);
	mode_t type = archive_entry_filetype(e);
	const char *why, *link = NULL;
	char shown[256], shown_link[256];

	why = agent_release_path_check(path, NULL, 0);
	if (why == NULL && hl != NULL) {
		link = hl;
		why = agent_release_path_check(path, hl, 0);
	}
	if (why == NULL && type == AE_IFLNK) {
		link = sl;
		why = agent_release_path_check(path, sl, 1);
	}
	if (why == NULL && hl == NULL && type != AE_IFREG && type != AE_IFDIR &&
		type != AE_IFLNK) {
		link = NULL;
		why = "not a file, directory or link (devices, fifos and sockets are refused)";
	}
	if (why == NULL && hl != NULL)
		return agent_release_hardlink_check(e, hl, x);
	if (why == NULL)
		return OSP_OK;
	agent_release_show(path, shown, sizeof(shown));
	if (link != NULL) {
		agent_release_show(link, shown_link, sizeof(shown_link));
		agent_release_errf(x->err, x->errlen, "archive entry '%s' -> '%s': %s", shown,
			shown_link, why);
	} else {
		agent_release_errf(x->err, x->errlen, "archive entry '%s': %s", shown, why);
	}
	return OSP_EPERM;
}

/* agent_release_entry_space checks that a file entry fits on the disk. */
static osp_err agent_release_entry_space(struct archive_entry *e, struct agent_release_x *x)
{
	struct statvfs vfs;
	uint64_t avail;
	char shown[256];

	if (!archive_entry_size_is_set(e) || archive_entry_size(e) <= 0)
		return OSP_OK;
	if (fstatvfs(x->dir_fd, &vfs) != 0)
		return OSP_OK; /* the write itself will tell */
	avail = (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize;
	if ((uint64_t)archive_entry_size(e) <= avail)
		return OSP_OK;
	agent_release_show(archive_entry_pathname(e), shown, sizeof(shown));
	agent_release_errf(x->err, x->errlen, "archive entry '%s': not enough free space: need "
		"%lld bytes, %llu available", shown, (long long)archive_entry_size(e),
		(unsigned long long)avail);
	return OSP_EIO;
}

static osp_err agent_release_entry_data(struct archive *a, struct archive *w,
	const char *shown, struct agent_release_x *x)
{
	const void *buf;
	size_t size;
	la_int64_t off;
	int r;

	for (;;) {
		r = archive_read_data_block(a, &buf, &size, &off);
		if (r == ARCHIVE_EOF)
			return OSP_OK;
		if (r < ARCHIVE_WARN) {
			agent_release_errf(x->err, x->errlen, "archive entry '%s': %s", shown,
				archive_error_string(a));
			return OSP_EDECODE;
		}
		if (archive_write_data_block(w, buf, size, off) < ARCHIVE_WARN) {
			agent_release_errf(x->err, x->errlen, "archive entry '%s': %s", shown,
				archive_error_string(w));
			return OSP_EIO;
		}
	}
}

/* agent_release_entry checks and writes one entry. */
static osp_err agent_release_entry(struct archive *a, struct archive *w,
	struct archive_entry *e, struct agent_release_x *x)
{
	mode_t perm = archive_entry_perm(e) & 0777; /* no setuid, setgid, sticky */
	char shown[256];
	osp_err rv;
	int r;

	rv = agent_release_entry_refuse(e, x);
	if (rv == OSP_OK && archive_entry_filetype(e) == AE_IFREG)
		rv = agent_release_entry_space(e, x);
	if (rv != OSP_OK)
		return rv;
	if (archive_entry_filetype(e) == AE_IFDIR)
		perm |= 0700; /* the garbage collector must be able to delete it */
	archive_entry_set_perm(e, perm);
	agent_release_show(archive_entry_pathname(e), shown, sizeof(shown));
	r = archive_write_header(w, e);
	if (r < ARCHIVE_WARN) {
		agent_release_errf(x->err, x->errlen, "archive entry '%s': %s", shown,
			archive_error_string(w));
		return r == ARCHIVE_FATAL ? OSP_EIO : OSP_EPERM;
	}
	if (archive_entry_size(e) > 0) {
		rv = agent_release_entry_data(a, w, shown, x);
		if (rv != OSP_OK)
			return rv;
	}
	if (archive_write_finish_entry(w) < ARCHIVE_WARN) {
		agent_release_errf(x->err, x->errlen, "archive entry '%s': %s", shown,
			archive_error_string(w));
		return OSP_EIO;
	}
	return OSP_OK;
}

/* agent_release_read_support enables every format except mtree (whose
 * entries name files on the local disk) and the usual compressions. */
static void agent_release_read_support(struct archive *a)
{
	/* return values ignored: a format or filter that is not built in is
	 * simply not available */
	(void)archive_read_support_filter_gzip(a);
	(void)archive_read_support_filter_bzip2(a);
	(void)archive_read_support_filter_xz(a);
	(void)archive_read_support_filter_lzma(a);
	(void)archive_read_support_filter_lzip(a);
	(void)archive_read_support_filter_zstd(a);
	(void)archive_read_support_filter_lz4(a);
	(void)archive_read_support_filter_compress(a);
	(void)archive_read_support_format_tar(a);
	(void)archive_read_support_format_cpio(a);
	(void)archive_read_support_format_zip(a);
	(void)archive_read_support_format_7zip(a);
	(void)archive_read_support_format_ar(a);
	(void)archive_read_support_format_iso9660(a);
	(void)archive_read_support_format_rar(a);
	(void)archive_read_support_format_rar5(a);
	(void)archive_read_support_format_xar(a);
	(void)archive_read_support_format_cab(a);
	(void)archive_read_support_format_lha(a);
}

/* agent_release_extract runs on the extraction thread, cwd = temp dir. */
static osp_err agent_release_extract(struct agent_release_x *x)
{
	struct archive *a = archive_read_new(), *w = archive_write_disk_new();
	struct archive_entry *e;
	size_t count = 0;
	osp_err rv = OSP_OK;
	int r;

	if (a == NULL || w == NULL) {
		agent_release_errf(x->err, x->errlen, "out of memory");
		rv = OSP_ENOMEM;
		goto out;
	}
	agent_release_read_support(a);
	archive_write_disk_set_options(w, AGENT_RELEASE_EXTRACT_FLAGS);
	if (archive_read_open_fd(a, x->archive_fd, 65536) != ARCHIVE_OK) {
		agent_release_errf(x->err, x->errlen, "cannot read the archive: %s",
			archive_error_string(a));
		rv = OSP_EDECODE;
		goto out;
	}
	for (;;) {
		r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			agent_release_errf(x->err, x->errlen, "not a readable archive, or damaged "
				"after %zu entries: %s", count, archive_error_string(a));
			rv = OSP_EDECODE;
			goto out;
		}
		if (++count > AGENT_RELEASE_MAX_ENTRIES) {
			agent_release_errf(x->err, x->errlen, "archive has more than %d entries",
				AGENT_RELEASE_MAX_ENTRIES);
			rv = OSP_ETOOBIG;
			goto out;
		}
		rv = agent_release_entry(a, w, e, x);
		if (rv != OSP_OK)
			goto out;
	}
	if (archive_write_close(w) != ARCHIVE_OK) {
		agent_release_errf(x->err, x->errlen, "finishing the release directory: %s",
			archive_error_string(w));
		rv = OSP_EIO;
	}
out:
	/* freeing the writer applies its pending fixups, still in our cwd */
	if (w != NULL)
		archive_write_free(w);
	if (a != NULL)
		archive_read_free(a);
	return rv;
}

osp_err agent_release_tree_check(const char *root, char *err, size_t errlen)
{
	char *const roots[] = { (char *)root, NULL };
	char target[AGENT_RELEASE_PATH_MAX + 2], shown[256], shown_t[256];
	size_t rl = strlen(root);
	FTS *fts = fts_open(roots, FTS_PHYSICAL | FTS_NOCHDIR, NULL);
	FTSENT *f;
	osp_err rv = OSP_OK;

	if (fts == NULL) {
		agent_release_errf(err, errlen, "cannot walk the release: %s", strerror(errno));
		return OSP_EIO;
	}
	errno = 0;
	while (rv == OSP_OK && (f = fts_read(fts)) != NULL) {
		const char *rel = f->fts_path + rl, *why;
		ssize_t n;

		if (f->fts_info == FTS_DNR || f->fts_info == FTS_ERR || f->fts_info == FTS_NS) {
			agent_release_errf(err, errlen, "cannot walk the release at '%s': %s",
				f->fts_path, strerror(f->fts_errno));
			rv = OSP_EIO;
			break;
		}
		if (f->fts_info != FTS_SL && f->fts_info != FTS_SLNONE)
			continue;
		while (*rel == '/')
			rel++;
		n = readlink(f->fts_accpath, target, sizeof(target) - 1);
		if (n < 0) {
			agent_release_errf(err, errlen, "readlink '%s': %s", f->fts_path,
				strerror(errno));
			rv = OSP_EIO;
			break;
		}
		target[n] = '\0';
		why = agent_release_path_check(rel, target, 1);
		if (why != NULL) {
			agent_release_show(rel, shown, sizeof(shown));
			agent_release_show(target, shown_t, sizeof(shown_t));
			agent_release_errf(err, errlen, "archive entry '%s' -> '%s': %s (checked "
				"where the link ended up)", shown, shown_t, why);
			rv = OSP_EPERM;
		}
		errno = 0;
	}
	if (rv == OSP_OK && errno != 0) {
		agent_release_errf(err, errlen, "cannot walk the release: %s", strerror(errno));
		rv = OSP_EIO;
	}
	fts_close(fts);
	return rv;
}

static void *agent_release_x_main(void *arg)
{
	struct agent_release_x *x = arg;

	/* a private cwd for this thread only, then step into the temp dir */
	if (unshare(CLONE_FS) != 0 || fchdir(x->dir_fd) != 0) {
		agent_release_errf(x->err, x->errlen, "cannot enter the unpack directory: %s",
			strerror(errno));
		x->rv = OSP_EIO;
		return NULL;
	}
	x->rv = agent_release_extract(x);
	/* every symlink once more, where it ended up: whatever way an archive
	 * found to move one (hard links, replaced entries), none may escape */
	if (x->rv == OSP_OK)
		x->rv = agent_release_tree_check(".", x->err, x->errlen);
	return NULL;
}

/* agent_release_extract_into unpacks archive into the directory tmp. */
static osp_err agent_release_extract_into(const char *archive, const char *tmp, char *err,
	size_t errlen)
{
	struct agent_release_x x = { .archive_fd = -1, .dir_fd = -1, .err = err,
		.errlen = errlen, .rv = OSP_OK };
	pthread_t th;

	x.archive_fd = open(archive, O_RDONLY | O_CLOEXEC);
	x.dir_fd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (x.archive_fd < 0 || x.dir_fd < 0) {
		agent_release_errf(err, errlen, "open '%s': %s",
			x.archive_fd < 0 ? archive : tmp, strerror(errno));
		x.rv = errno == ENOENT ? OSP_ENOENT : OSP_EIO;
	} else if (pthread_create(&th, NULL, agent_release_x_main, &x) != 0) {
		agent_release_errf(err, errlen, "cannot start the unpack thread");
		x.rv = OSP_ENOMEM;
	} else {
		pthread_join(th, NULL);
	}
	if (x.archive_fd >= 0)
		close(x.archive_fd);
	if (x.dir_fd >= 0)
		close(x.dir_fd);
	return x.rv;
}

/* agent_release_existing reports an already unpacked release. */
static bool agent_release_existing(const char *final)
{
	struct stat st;

	if (stat(final, &st) != 0 || !S_ISDIR(st.st_mode))
		return false;
	agent_release_touch(final);
	return true;
}

static osp_err agent_release_out(const char *final, char *dir_out, size_t dir_len, char *err,
	size_t errlen)
{
	if (dir_out == NULL || osp_strlcpy(dir_out, final, dir_len) >= dir_len) {
		agent_release_errf(err, errlen, "release path '%s' does not fit the buffer", final);
		return OSP_ETOOBIG;
	}
	return OSP_OK;
}

/* agent_release_unpack_tmp makes the temp dir, extracts, renames. */
static osp_err agent_release_unpack_tmp(const char *rdir, const char *archive,
	const char *sha, const char *final, char *err, size_t errlen)
{
	char tmp[PATH_MAX];
	osp_err rv;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.tmp-%s-XXXXXX", rdir, sha) >= sizeof(tmp)) {
		agent_release_errf(err, errlen, "path too long under '%.200s'", rdir);
		return OSP_ETOOBIG;
	}
	if (osp_mkdir_p(rdir, 0755) != OSP_OK || mkdtemp(tmp) == NULL ||
		chmod(tmp, 0755) != 0) {
		agent_release_errf(err, errlen, "create unpack directory in '%s': %s", rdir,
			strerror(errno));
		return OSP_EIO;
	}
	rv = agent_release_extract_into(archive, tmp, err, errlen);
	if (rv == OSP_OK) {
		if (rename(tmp, final) == 0) {
			agent_release_touch(final); /* the archive may have dated "." */
			return OSP_OK;
		}
		/* a concurrent unpack of the same release may have won: fine */
		if (!agent_release_existing(final)) {
			agent_release_errf(err, errlen, "rename into '%s': %s", final,
				strerror(errno));
			rv = OSP_EIO;
		}
	}
	if (agent_release_rm_tree(tmp) != OSP_OK)
		OSP_WARN("OSP-REL-CLEAN", "cannot remove '%s'", tmp);
	return rv;
}

osp_err agent_release_unpack_verified(const char *state_dir, const char *sha256_hex,
	char *dir_out, size_t dir_len, char *err, size_t errlen)
{
	char rdir[PATH_MAX], final[PATH_MAX], archive[PATH_MAX];
	osp_err rv;

	rv = agent_release_check_args(state_dir, sha256_hex, err, errlen);
	if (rv == OSP_OK)
		rv = agent_release_path(rdir, sizeof(rdir), state_dir, "releases", "", err, errlen);
	if (rv == OSP_OK)
		rv = agent_release_path(final, sizeof(final), state_dir, "releases", sha256_hex,
			err, errlen);
	if (rv == OSP_OK)
		rv = agent_release_path(archive, sizeof(archive), state_dir, "cache", sha256_hex,
			err, errlen);
	if (rv != OSP_OK)
		return rv;
	if (dir_out == NULL || strlen(final) >= dir_len)
		return agent_release_out(final, dir_out, dir_len, err, errlen);
	if (!agent_release_existing(final)) {
		rv = agent_release_unpack_tmp(rdir, archive, sha256_hex, final, err, errlen);
		if (rv != OSP_OK)
			return rv;
		OSP_INFO("OSP-REL-UNPACKED", "release '%.12s' unpacked", sha256_hex);
	}
	return agent_release_out(final, dir_out, dir_len, err, errlen);
}

osp_err agent_release_unpack(const char *state_dir, const char *sha256_hex, char *dir_out,
	size_t dir_len, char *err, size_t errlen)
{
	char final[PATH_MAX], archive[PATH_MAX], got[AGENT_RELEASE_SHA256_LEN + 1];
	osp_err rv;

	rv = agent_release_check_args(state_dir, sha256_hex, err, errlen);
	if (rv == OSP_OK)
		rv = agent_release_path(final, sizeof(final), state_dir, "releases", sha256_hex,
			err, errlen);
	if (rv == OSP_OK)
		rv = agent_release_path(archive, sizeof(archive), state_dir, "cache", sha256_hex,
			err, errlen);
	if (rv != OSP_OK)
		return rv;
	if (agent_release_existing(final))
		return agent_release_out(final, dir_out, dir_len, err, errlen);
	rv = agent_release_hash_file(archive, got);
	if (rv == OSP_ENOENT) {
		agent_release_errf(err, errlen, "release %s is not in the cache", sha256_hex);
		return rv;
	}
	if (rv != OSP_OK) {
		agent_release_errf(err, errlen, "read '%s': %s", archive, strerror(errno));
		return rv;
	}
	if (strcmp(got, sha256_hex) != 0) {
		agent_release_errf(err, errlen, "cached artifact is corrupt: sha256 mismatch: "
			"expected %s, got %s; it was deleted, fetch it again", sha256_hex, got);
		(void)unlink(archive);
		return OSP_ECHECKSUM;
	}
	return agent_release_unpack_verified(state_dir, sha256_hex, dir_out, dir_len, err,
		errlen);
}
