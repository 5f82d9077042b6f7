/*
 * test_support_release.c - the release fixture shared by test_agent_release.c
 * and test_agent_release_archive.c (see test_support_release.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <mbedtls/sha256.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "ospec/util.h"
#include "test_support.h"
#include "test_support_release.h"

static int chmod_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)f;
	if (flag == FTW_D)
		chmod(p, (st->st_mode & 0777) | 0700);
	return 0;
}

int ts_rel_setup(void **state)
{
	struct ts_rel_fx *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	ts_mkdtemp(x->root, sizeof(x->root), "/tmp/test_agent_release.XXXXXX");
	snprintf(x->state, sizeof(x->state), "%s/state", x->root);
	snprintf(x->src, sizeof(x->src), "%s/src", x->root);
	assert_int_equal(mkdir(x->state, 0755), 0);
	assert_int_equal(mkdir(x->src, 0755), 0);
	*state = x;
	return 0;
}

int ts_rel_teardown(void **state)
{
	struct ts_rel_fx *x = *state;

	nftw(x->root, chmod_cb, 16, FTW_PHYS);
	ts_rmtree(x->root);
	free(x);
	return 0;
}

static void make_archive(const char *file, const struct ts_rel_ent *ents, size_t n)
{
	struct archive *a = archive_write_new();

	assert_non_null(a);
	assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
	assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, file), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		const struct ts_rel_ent *t = &ents[i];
		archive_entry_set_pathname(e, t->path);
		archive_entry_set_perm(e, t->mode ? t->mode : 0644);
		archive_entry_set_mtime(e, 1000000, 0);
		if (t->type == 'f') {
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_size(e, (la_int64_t)strlen(t->data));
		} else if (t->type == 'd') {
			archive_entry_set_filetype(e, AE_IFDIR);
		} else if (t->type == 'l') {
			archive_entry_set_filetype(e, AE_IFLNK);
			archive_entry_set_symlink(e, t->data);
		} else if (t->type == 'h') {
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_hardlink(e, t->data);
			archive_entry_set_size(e, 0);
		} else {
			archive_entry_set_filetype(e, AE_IFCHR);
			archive_entry_set_rdev(e, makedev(1, 3));
		}
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		if (t->type == 'f')
			assert_int_equal(archive_write_data(a, t->data, strlen(t->data)),
				(la_ssize_t)strlen(t->data));
		archive_entry_free(e);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

void ts_rel_sha_file(const char *path, char hex[65])
{
	char *data;
	size_t len;
	unsigned char d[32];

	assert_int_equal(osp_file_read(path, 1 << 20, &data, &len), OSP_OK);
	assert_int_equal(mbedtls_sha256_ret((const unsigned char *)data, len, d, 0), 0);
	osp_hex_encode(d, sizeof(d), hex);
	free(data);
}

void ts_rel_src_archive(struct ts_rel_fx *x, const char *name, const struct ts_rel_ent *ents, size_t n,
	char sha[65], char *url, size_t ulen)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", x->src, name);
	make_archive(path, ents, n);
	ts_rel_sha_file(path, sha);
	if (url != NULL)
		snprintf(url, ulen, "file://%s", path);
}

int ts_rel_count_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

int ts_rel_count_sub(struct ts_rel_fx *x, const char *sub)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", x->state, sub);
	return ts_rel_count_dir(p);
}

bool ts_rel_exists_at(const char *base, const char *rel)
{
	char p[PATH_MAX];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", base, rel);
	return lstat(p, &st) == 0;
}
