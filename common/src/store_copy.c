/*
 * store_copy.c - backup files of the store and the LMDB file checks they
 * share with opening one: osp_store_copy writes the back-end's copy to a new
 * file (tmp, fsync, link, fsync the directory), osp_store_file_schema reads a
 * backup's schema, store_lmdb_check_size refuses a truncated LMDB file
 * before it is mapped (store_int.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ospec/util.h"
#include "store_int.h"

/*
 * LMDB's file layout (lmdb 0.9 mdb.c), read before LMDB maps the file: a
 * mapped page past the end of a truncated data.mdb is a SIGBUS, not an error.
 * Pages 0 and 1 each hold a page header (pgno, pad, flags, lower/upper) and
 * then an MDB_meta: magic, version, address, mapsize, two MDB_db (the first's
 * md_pad is the page size), last_pg, txnid. LMDB uses the meta with the
 * higher txnid.
 */
#define STORE_MDB_MAGIC 0xBEEFC0DEU
#define STORE_MDB_VERSION 1U
#define STORE_MDB_P_META 0x08U
#define STORE_PGHDR (sizeof(size_t) + 8)            /* offsetof(MDB_page, mp_ptrs) */
#define STORE_DB_SIZE (8 + 5 * sizeof(size_t))      /* sizeof(MDB_db) */
#define STORE_META_PSIZE (8 + sizeof(void *) + sizeof(size_t))
#define STORE_META_LAST (STORE_META_PSIZE + 2 * STORE_DB_SIZE)
#define STORE_META_TXNID (STORE_META_LAST + sizeof(size_t))
#define STORE_META_END (STORE_META_TXNID + sizeof(size_t))

typedef struct store_meta {
	bool ok;           /* a meta page with LMDB's magic and version */
	uint32_t psize;
	uint64_t last_pg, txnid;
} store_meta;

static uint64_t store_word(const uint8_t *p)
{
	uint64_t v = 0;

	if (sizeof(size_t) == 8) {
		memcpy(&v, p, 8);
	} else {
		uint32_t w;
		memcpy(&w, p, 4);
		v = w;
	}
	return v;
}

/* store_meta_read decodes the meta page at off (native byte order, as LMDB
 * writes it); m->ok is false when it is not one. */
static void store_meta_read(int fd, off_t off, store_meta *m)
{
	uint8_t b[STORE_PGHDR + STORE_META_END];
	uint32_t magic, version;
	uint16_t flags;

	memset(m, 0, sizeof(*m));
	if (pread(fd, b, sizeof(b), off) != (ssize_t)sizeof(b))
		return;
	memcpy(&flags, b + sizeof(size_t) + 2, 2);
	memcpy(&magic, b + STORE_PGHDR, 4);
	memcpy(&version, b + STORE_PGHDR + 4, 4);
	memcpy(&m->psize, b + STORE_PGHDR + STORE_META_PSIZE, 4);
	m->last_pg = store_word(b + STORE_PGHDR + STORE_META_LAST);
	m->txnid = store_word(b + STORE_PGHDR + STORE_META_TXNID);
	m->ok = (flags & STORE_MDB_P_META) != 0 && magic == STORE_MDB_MAGIC &&
		version == STORE_MDB_VERSION;
}

static bool store_psize_ok(uint32_t ps)
{
	return ps >= 512 && ps <= 65536 && (ps & (ps - 1)) == 0;
}

/* The size checks below name their file `what` ("store 'DIR': data.mdb",
 * or a backup's path) and end their message with tail. */
static osp_err store_damaged(const char *what, const char *tail, uint64_t have, uint64_t need,
	char *err, size_t errlen)
{
	snprintf(err, errlen, "%s is damaged: %llu bytes, the store needs at least %llu%s", what,
		(unsigned long long)have, (unsigned long long)need, tail);
	return OSP_ESTORE;
}

osp_err store_lmdb_check_size(int fd, const char *what, const char *tail, uint64_t size,
	char *err, size_t errlen)
{
	long os = sysconf(_SC_PAGESIZE);
	uint64_t ps = os > 0 ? (uint64_t)os : 4096, need;
	store_meta m0, m1, *m;

	store_meta_read(fd, 0, &m0);
	if (m0.ok && store_psize_ok(m0.psize))
		ps = m0.psize;
	if (size < 2 * ps)
		return store_damaged(what, tail, size, 2 * ps, err, errlen);
	store_meta_read(fd, (off_t)ps, &m1);
	if (m1.ok && m1.psize != ps)
		m1.ok = false;
	if (!m0.ok && !m1.ok) {
		snprintf(err, errlen, "%s is damaged: %llu bytes without a valid LMDB meta page%s",
			what, (unsigned long long)size, tail);
		return OSP_ESTORE;
	}
	m = !m0.ok || (m1.ok && m1.txnid > m0.txnid) ? &m1 : &m0;
	if (m->last_pg >= UINT64_MAX / ps)
		return store_damaged(what, tail, size, UINT64_MAX, err, errlen);
	need = (m->last_pg + 1) * ps;
	if (size < need)
		return store_damaged(what, tail, size, need, err, errlen);
	return OSP_OK;
}

/* store_fsync_dir makes a new name in the directory of path durable. */
static int store_fsync_dir(const char *path)
{
	char dir[4096];
	char *slash;
	int fd, rc;

	if (osp_strlcpy(dir, path, sizeof(dir)) >= sizeof(dir))
		return -1;
	slash = strrchr(dir, '/');
	if (slash == NULL)
		return -1;
	if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

osp_err osp_store_copy(osp_store *s, const char *path, uint64_t *bytes, char *err,
	size_t errlen)
{
	char tmp[4096], why[256];
	struct stat st;
	int fd = -1;
	bool made = false;
	osp_err rv = OSP_EIO;

	if (s != NULL && s->ops->copy == NULL) {
		snprintf(err, errlen, "the %s store cannot be backed up: %s", s->ops->name,
			s->ops->no_copy_why != NULL ? s->ops->no_copy_why :
			"its records live only in this process");
		return OSP_ESTATE;
	}
	if (s == NULL || path == NULL || path[0] != '/') {
		snprintf(err, errlen, "'%s': the backup file must be an absolute path",
			path ? path : "");
		return OSP_EINVAL;
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		snprintf(err, errlen, "'%s': path too long", path);
		return OSP_ETOOBIG;
	}
	if (lstat(path, &st) == 0) {
		snprintf(err, errlen, "'%s' exists: a backup never replaces a file", path);
		return OSP_EEXIST;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create '%s': %s%s", tmp, strerror(errno),
			errno == EEXIST ? " (another backup running, or one that was interrupted: "
					  "remove it)" : "");
		return errno == EEXIST ? OSP_EEXIST : OSP_EIO;
	}
	made = true;
	why[0] = '\0';
	if ((rv = s->ops->copy(s, fd, why, sizeof(why))) != OSP_OK) {
		snprintf(err, errlen, "cannot copy the store to '%s': %s", tmp,
			why[0] ? why : osp_strerror(rv));
		goto out;
	}
	rv = OSP_EIO;
	if (fsync(fd) != 0 || fstat(fd, &st) != 0) {
		snprintf(err, errlen, "cannot write '%s': %s", tmp, strerror(errno));
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		snprintf(err, errlen, "cannot write '%s': %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	/* link, not rename: a file made at path meanwhile is never replaced */
	if (link(tmp, path) != 0) {
		snprintf(err, errlen, "cannot create '%s': %s", path, strerror(errno));
		rv = errno == EEXIST ? OSP_EEXIST : OSP_EIO;
		goto out;
	}
	if (store_fsync_dir(path) != 0) {
		snprintf(err, errlen, "cannot sync the directory of '%s': %s", path,
			strerror(errno));
		unlink(path);
		goto out;
	}
	if (bytes != NULL)
		*bytes = (uint64_t)st.st_size;
	rv = OSP_OK;
out:
	if (fd >= 0)
		close(fd);
	if (made)
		unlink(tmp);
	return rv;
}

/* store_file_check opens file read-only and checks its size against its
 * meta pages (a truncated LMDB file is a SIGBUS once mapped). */
static osp_err store_file_check(const char *file, char *err, size_t errlen)
{
	char what[4200];
	struct stat st;
	int fd;
	osp_err rv;

	fd = open(file, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open '%s': %s", file, strerror(errno));
		return OSP_ESTORE;
	}
	if (fstat(fd, &st) != 0) {
		snprintf(err, errlen, "cannot stat '%s': %s", file, strerror(errno));
		close(fd);
		return OSP_ESTORE;
	}
	if (!S_ISREG(st.st_mode) || st.st_size == 0) {
		snprintf(err, errlen, "'%s' is not an LMDB store file (%s)", file,
			!S_ISREG(st.st_mode) ? "not a regular file" : "empty");
		close(fd);
		return OSP_ESTORE;
	}
	snprintf(what, sizeof(what), "'%s'", file);
	rv = store_lmdb_check_size(fd, what, " (not an LMDB store file, or a damaged one)",
		(uint64_t)st.st_size, err, errlen);
	close(fd);
	return rv;
}

osp_err osp_store_file_schema(const char *file, uint64_t *schema, char *err, size_t errlen)
{
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	MDB_val k = { 6, (void *)"schema" }, v;
	osp_err rv;
	int rc;

	if ((rv = store_file_check(file, err, errlen)) != OSP_OK)
		return rv;
	rv = OSP_ESTORE;
	if ((rc = mdb_env_create(&env)) != 0 ||
		(rc = mdb_env_set_maxdbs(env, STORE_NDBS)) != 0 ||
		/* NOLOCK: no FILE-lock is made beside a backup; nobody writes it */
		(rc = mdb_env_open(env, file, MDB_NOSUBDIR | MDB_RDONLY | MDB_NOLOCK, 0600)) != 0 ||
		(rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) != 0) {
		snprintf(err, errlen, "'%s' cannot be opened as an LMDB store: %s", file,
			mdb_strerror(rc));
		goto out;
	}
	if ((rc = mdb_dbi_open(txn, "meta", 0, &dbi)) != 0) {
		snprintf(err, errlen, "'%s' is an LMDB file without ospec's 'meta' database: %s",
			file, mdb_strerror(rc));
		goto out;
	}
	if ((rc = mdb_get(txn, dbi, &k, &v)) != 0 || v.mv_size != 8) {
		snprintf(err, errlen, "'%s' has no store schema version: not an ospec store", file);
		goto out;
	}
	*schema = osp_be64_get(v.mv_data);
	rv = OSP_OK;
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	if (env != NULL)
		mdb_env_close(env);
	return rv;
}
