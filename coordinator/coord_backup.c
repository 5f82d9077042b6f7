/*
 * coord_backup.c - hot backups of the coordinator's store, restoring one
 * before start, resending what a restored store lost, and the store's schema
 * migrations. docs/backup.md is the operator's side of it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "coord_backup.h"
#include "coord_active.h"

/*
 * Schema migrations: one step per version, from N to N+1, run by
 * osp_store_open in one write transaction with the new version number when
 * the store is older than COORD_SCHEMA. To change the layout incompatibly:
 * bump COORD_SCHEMA (coord.h), write coord_migrate_<N>_<N+1>(osp_txn *t,
 * char *err, size_t errlen) that rewrites the records, add
 * { N, "what it does", coord_migrate_<N>_<N+1> } below, and a test that opens
 * a store written at N (tests/unit/test_store_backup.c shows how). A new
 * database or a new protobuf field needs no step: databases are created at
 * open, fields are optional.
 *
 * 1 -> 2 (0.2.0): a rollout's steps leave its record for their own keys in
 * "steps" (coord_record_steps.c), so that a result writes one step, not
 * the whole fleet's.
 */
static const osp_store_migration coord_migrations[] = {
	{ 1, "rollout steps in their own records", coord_migrate_1_2 },
};

const osp_store_migration *coord_backup_migrations(size_t *n)
{
	*n = sizeof(coord_migrations) / sizeof(coord_migrations[0]);
	return coord_migrations;
}

bool coord_backup_can_open(uint64_t v)
{
	size_t n;
	const osp_store_migration *m = coord_backup_migrations(&n);

	if (v == 0 || v > COORD_SCHEMA)
		return false;
	for (uint64_t from = v; from < COORD_SCHEMA; from++) {
		bool found = false;

		for (size_t i = 0; i < n && !found; i++)
			found = m[i].from == from && m[i].fn != NULL;
		if (!found)
			return false;
	}
	return true;
}

/* coord_backup_event records who made a backup (after it: the backup itself
 * does not hold its own event). */
static void coord_backup_event(coord *c, const char *actor, const char *path, uint64_t bytes)
{
	osp_txn *t = NULL;

	pthread_mutex_lock(&c->mtx);
	if (osp_store_txn_begin(c->store, true, &t) == OSP_OK) {
		if (coord_db_event(c, t, "store.backup", NULL, NULL, NULL, actor,
			    "store copied to '%s' (%llu bytes)", path,
			    (unsigned long long)bytes) == OSP_OK)
			coord_db_commit(c, t, "backup event");
		else
			osp_store_txn_abort(t);
	}
	pthread_mutex_unlock(&c->mtx);
}

int coord_verb_backup(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen)
{
	const char *path = coord_ctl_arg(rq, "file");
	uint64_t bytes = 0, schema = 0;
	int64_t t0 = osp_now_mono_ms(), took;
	char at[40];
	osp_jw w;
	osp_err rv;

	if (path == NULL || path[0] == '\0') {
		snprintf(err, errlen, "backup: FILE is missing");
		return 2;
	}
	if (path[0] != '/') {
		snprintf(err, errlen, "backup: '%s' is not an absolute path (FILE is a path on the "
			"coordinator's machine)", path);
		return 2;
	}
	OSP_INFO("COORD-BACKUP", "%s: copying the store to '%s'", rq->actor, path);
	/* no coord.mtx here: the copy has its own read transaction, and the
	 * environment is opened with MDB_NOTLS (store_lmdb.c), so agents, the ticker
	 * and the engine go on writing meanwhile */
	if ((rv = osp_store_copy(c->store, path, &bytes, err, errlen)) != OSP_OK) {
		OSP_WARN("COORD-BACKUP", "backup to '%s' failed: %s", path, err);
		return rv == OSP_EINVAL ? 2 : 1;
	}
	osp_store_schema(c->store, &schema);
	took = osp_now_mono_ms() - t0;
	OSP_INFO("COORD-BACKUP", "store copied to '%s': %llu bytes, schema %llu, %lld ms", path,
		(unsigned long long)bytes, (unsigned long long)schema, (long long)took);
	coord_backup_event(c, rq->actor, path, bytes);
	osp_time_fmt(osp_now_wall_ms(), at, sizeof(at));
	osp_jw_init(&w, json);
	osp_jw_obj_begin(&w);
	osp_jw_key(&w, "path");
	osp_jw_str(&w, path);
	osp_jw_key(&w, "bytes");
	osp_jw_uint(&w, bytes);
	osp_jw_key(&w, "schema");
	osp_jw_uint(&w, schema);
	osp_jw_key(&w, "took_ms");
	osp_jw_int(&w, took);
	osp_jw_key(&w, "at");
	osp_jw_str(&w, at);
	osp_jw_obj_end(&w);
	return 0;
}

void coord_backup_on_register(coord *c, coord_node *n, uint64_t cursor)
{
	size_t sent = 0;
	osp_err rv;

	if (!c->restored)
		return;
	if ((rv = coord_active_resend(c, n, cursor, &sent)) != OSP_OK)
		OSP_ERROR("COORD-RESENT", "node '%s': cannot re-send the commands it passed: %s",
			n->id, osp_strerror(rv));
}

/* coord_backup_dir_state: 0 absent, 1 an empty directory, 2 a non-empty
 * one, -1 something else (err says what). */
static int coord_backup_dir_state(const char *dir, char *err, size_t errlen)
{
	struct stat st;
	struct dirent *de;
	DIR *d;
	int state = 1;

	if (lstat(dir, &st) != 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "--data '%s': %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "--data '%s' is not a directory", dir);
		return -1;
	}
	if ((d = opendir(dir)) == NULL) {
		snprintf(err, errlen, "--data '%s': %s", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
			state = 2;
			break;
		}
	}
	closedir(d);
	return state;
}

/* coord_backup_fsync_path fsyncs a file or directory by name. */
static int coord_backup_fsync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* coord_backup_parent writes the directory holding path into out. */
static void coord_backup_parent(const char *path, char *out, size_t len)
{
	char *slash;

	osp_strlcpy(out, path, len);
	slash = strrchr(out, '/');
	if (slash == NULL)
		osp_strlcpy(out, ".", len);
	else if (slash == out)
		slash[1] = '\0';
	else
		*slash = '\0';
}

/* coord_backup_move_aside renames a non-empty data dir to
 * DIR.before-restore-<UTC time>; refused while a process holds its lock. */
static int coord_backup_move_aside(const char *dir, char *moved, size_t mlen, char *err,
	size_t errlen)
{
	char stamp[32], parent[4096];
	struct stat st;
	time_t now = time(NULL);
	struct tm tm;
	int lock = -1;
	osp_err rv;

	if ((rv = osp_dir_lock(dir, "ospec.lock", &lock)) != OSP_OK) {
		snprintf(err, errlen, "--data '%s' %s: stop the coordinator that uses it first",
			dir, rv == OSP_ELOCKED ? "is in use by another process" : "cannot be locked");
		return 2;
	}
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	if ((size_t)snprintf(moved, mlen, "%s.before-restore-%s", dir, stamp) >= mlen) {
		close(lock);
		snprintf(err, errlen, "--data '%s': path too long", dir);
		return 2;
	}
	if (lstat(moved, &st) == 0) {
		close(lock);
		snprintf(err, errlen, "'%s' exists already: try again in a second", moved);
		return 2;
	}
	/* the lock goes with the directory; it is released after the move */
	if (rename(dir, moved) != 0) {
		close(lock);
		snprintf(err, errlen, "cannot move '%s' aside to '%s': %s", dir, moved,
			strerror(errno));
		return 1;
	}
	close(lock);
	coord_backup_parent(dir, parent, sizeof(parent));
	coord_backup_fsync_path(parent);
	return 0;
}

/* coord_backup_copy_file copies src to dst (created 0600, must not exist)
 * and fsyncs it. */
static int coord_backup_copy_file(const char *src, const char *dst, uint64_t *bytes, char *err,
	size_t errlen)
{
	char buf[1 << 16];
	int in = -1, out = -1, code = 1;
	ssize_t n;

	*bytes = 0;
	if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "cannot open '%s': %s", src, strerror(errno));
		return 1;
	}
	if ((out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0) {
		snprintf(err, errlen, "cannot create '%s': %s", dst, strerror(errno));
		goto out;
	}
	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "cannot read '%s': %s", src, strerror(errno));
			goto out;
		}
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				snprintf(err, errlen, "cannot write '%s': %s", dst, strerror(errno));
				goto out;
			}
			off += w;
		}
		*bytes += (uint64_t)n;
	}
	if (fsync(out) != 0) {
		snprintf(err, errlen, "cannot write '%s': %s", dst, strerror(errno));
		goto out;
	}
	code = 0;
out:
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) != 0 && code == 0) {
		snprintf(err, errlen, "cannot write '%s': %s", dst, strerror(errno));
		code = 1;
	}
	if (code != 0 && out >= 0)
		unlink(dst);
	return code;
}

/* coord_backup_check_file refuses a backup this program cannot open. */
static int coord_backup_check_file(const char *file, uint64_t *schema, char *err, size_t errlen)
{
	char why[1024];

	if (osp_store_file_schema(file, schema, why, sizeof(why)) != OSP_OK) {
		snprintf(err, errlen, "--restore: %s", why);
		return 2;
	}
	if (*schema > COORD_SCHEMA) {
		snprintf(err, errlen, "--restore: '%s' has store schema version %llu, newer than "
			"this ospec-coordinator, which knows %u: restore it with the version that "
			"made it (or newer)", file, (unsigned long long)*schema, COORD_SCHEMA);
		return 2;
	}
	if (!coord_backup_can_open(*schema)) {
		snprintf(err, errlen, "--restore: '%s' has store schema version %llu; this "
			"ospec-coordinator knows %u and has no migration from it", file,
			(unsigned long long)*schema, COORD_SCHEMA);
		return 2;
	}
	return 0;
}

int coord_backup_restore(const coord_cfg *cfg, char *err, size_t errlen)
{
	char data[4096], tmp[4096], moved[4200] = "";
	const char *dir = cfg->data;
	uint64_t schema = 0, bytes = 0;
	int code, state;

	if ((code = coord_backup_check_file(cfg->restore, &schema, err, errlen)) != 0)
		return code;
	if ((size_t)snprintf(data, sizeof(data), "%s/data.mdb", dir) >= sizeof(data) ||
		(size_t)snprintf(tmp, sizeof(tmp), "%s/data.mdb.tmp", dir) >= sizeof(tmp)) {
		snprintf(err, errlen, "--data '%s': path too long", dir);
		return 2;
	}
	if ((state = coord_backup_dir_state(dir, err, errlen)) < 0)
		return 2;
	if (state == 2 && !cfg->force_restore) {
		snprintf(err, errlen, "--restore: the data dir '%s' is not empty (it holds a store?): "
			"restore into a new or empty directory, or add --force-restore to move it "
			"aside to '%s.before-restore-<time>'", dir, dir);
		return 2;
	}
	if (state == 2 && (code = coord_backup_move_aside(dir, moved, sizeof(moved), err,
				   errlen)) != 0)
		return code;
	if (osp_mkdir_p(dir, 0700) != OSP_OK) {
		snprintf(err, errlen, "cannot create '%s': %s", dir, strerror(errno));
		return 1;
	}
	if ((code = coord_backup_copy_file(cfg->restore, tmp, &bytes, err, errlen)) != 0)
		return code;
	if (rename(tmp, data) != 0) {
		snprintf(err, errlen, "cannot rename '%s' to '%s': %s", tmp, data, strerror(errno));
		unlink(tmp);
		return 1;
	}
	if (coord_backup_fsync_path(dir) != 0) {
		snprintf(err, errlen, "cannot sync '%s': %s", dir, strerror(errno));
		return 1;
	}
	OSP_INFO("COORD-RESTORE", "restored '%s' (%llu bytes, schema %llu) into '%s'%s%s%s",
		cfg->restore, (unsigned long long)bytes, (unsigned long long)schema, dir,
		moved[0] ? "; the old data dir is now '" : "", moved, moved[0] ? "'" : "");
	return 0;
}
