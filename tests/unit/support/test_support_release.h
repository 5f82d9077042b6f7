/*
 * test_support_release.h - the fixture of the agent release tests
 * (test_agent_release.c, test_agent_release_archive.c): a temp dir per test
 * holding src/ (archives built with libarchive's writer) and state/ (the
 * agent's state dir), prefix ts_rel_. Like test_support.h, the helpers fail
 * the running cmocka test when the fixture itself goes wrong.
 */
#ifndef TEST_SUPPORT_RELEASE_H
#define TEST_SUPPORT_RELEASE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

struct ts_rel_fx {
	char root[PATH_MAX];  /* the test's temp dir: holds src/ and state/ only */
	char state[PATH_MAX];
	char src[PATH_MAX];
	char err[512];
	char dir[PATH_MAX];
};

/* One archive entry: type 'f' file, 'd' dir, 'l' symlink, 'h' hard link,
 * 'c' char device; data is the content or the link target. */
struct ts_rel_ent {
	const char *path;
	char type;
	const char *data;
	unsigned mode;
};

/* ts_rel_setup is a cmocka setup: *state becomes a new ts_rel_fx with the
 * temp dir root and its empty src/ and state/. */
int ts_rel_setup(void **state);

/* ts_rel_teardown is a cmocka teardown: makes every dir below root writable
 * again, removes root and frees the fixture. */
int ts_rel_teardown(void **state);

/* ts_rel_sha_file puts the sha256 of the file at path, as 64 hex digits and
 * a NUL, into hex. */
void ts_rel_sha_file(const char *path, char hex[65]);

/* ts_rel_src_archive builds the gzip'd pax archive SRC/name of the n entries
 * ents, puts its sha256 into sha and, when url is not NULL, its file:// URL
 * into url (ulen bytes). */
void ts_rel_src_archive(struct ts_rel_fx *x, const char *name, const struct ts_rel_ent *ents,
	size_t n, char sha[65], char *url, size_t ulen);

/* ts_rel_count_dir counts the entries of dir other than . and ..; -1 if
 * missing. */
int ts_rel_count_dir(const char *dir);

/* ts_rel_count_sub counts the entries of STATE/sub (ts_rel_count_dir). */
int ts_rel_count_sub(struct ts_rel_fx *x, const char *sub);

/* ts_rel_exists_at reports whether base/rel exists (lstat: links count). */
bool ts_rel_exists_at(const char *base, const char *rel);

#endif
