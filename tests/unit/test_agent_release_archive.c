/*
 * test_agent_release_archive.c - releases on the agent: the path checks and
 * the refusal of hostile archives (escaping paths, absolute paths, symlinks,
 * hard links, devices, not an archive), which must leave no trace. Fetch,
 * the cache and gc are in test_agent_release.c.
 *
 * Archives are built with the shared fixture (test_support_release.h); every
 * test has its own temp directory, removed afterwards.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent_release.h"
#include "agent_release_int.h"
#include "ospec/log.h"
#include "ospec/util.h"
#include "test_support.h"
#include "test_support_release.h"

/* assert_nothing_left: the refused archive left no trace anywhere. */
static void assert_nothing_left(struct ts_rel_fx *x)
{
	int rel = ts_rel_count_sub(x, "releases");

	assert_true(rel == 0 || rel == -1);
	assert_int_equal(ts_rel_count_dir(x->state), rel == -1 ? 1 : 2); /* cache (+ releases) */
	assert_int_equal(ts_rel_count_dir(x->root), 2);                   /* src, state */
	assert_false(ts_rel_exists_at(x->state, "x"));
	assert_false(ts_rel_exists_at(x->root, "x"));
	assert_false(ts_rel_exists_at(x->state, "releases/x"));
}

static void test_agent_release_path_check(void **state)
{
	(void)state;
	assert_true(agent_release_path_ok("bin/hello", NULL, 0));
	assert_true(agent_release_path_ok("./bin/./hello", NULL, 0));
	assert_true(agent_release_path_ok(".", NULL, 0));
	assert_true(agent_release_path_ok("a..b/..c", NULL, 0));
	assert_false(agent_release_path_ok("../x", NULL, 0));
	assert_false(agent_release_path_ok("a/../../x", NULL, 0));
	assert_false(agent_release_path_ok("a/..", NULL, 0));
	assert_false(agent_release_path_ok("/abs/x", NULL, 0));
	assert_false(agent_release_path_ok("", NULL, 0));
	assert_false(agent_release_path_ok(NULL, NULL, 0));
	assert_string_equal(agent_release_path_check("../x", NULL, 0),
		"path escapes the release directory");
	assert_string_equal(agent_release_path_check("/abs/x", NULL, 0), "path is absolute");

	/* symlinks: relative, staying inside as seen from the link's directory */
	assert_true(agent_release_path_ok("current", "bin/hello", 1));
	assert_true(agent_release_path_ok("lib/up", "../VERSION", 1));
	assert_true(agent_release_path_ok("a/b/c", "../../x/y", 1));
	assert_true(agent_release_path_ok("a/./b", "./../x", 1));
	assert_true(agent_release_path_ok("self", ".", 1));
	assert_false(agent_release_path_ok("evil", "/etc", 1));
	assert_false(agent_release_path_ok("evil", "../../x", 1));
	assert_false(agent_release_path_ok("evil", "..", 1));
	assert_false(agent_release_path_ok("a/b/c", "../../../x", 1));
	assert_false(agent_release_path_ok("a/evil", "b/../../..", 1));
	assert_false(agent_release_path_ok("a/evil", "b/../x", 1));
	assert_false(agent_release_path_ok("evil", "", 1));
	assert_false(agent_release_path_ok("evil", NULL, 1));
	assert_false(agent_release_path_ok(".", "x", 1));
	assert_string_equal(agent_release_path_check("evil", "/etc", 1),
		"symlink target is absolute");
	assert_string_equal(agent_release_path_check("evil", "../../x", 1),
		"symlink target escapes the release directory");

	/* hard links name a path inside the archive */
	assert_true(agent_release_path_ok("hl", "VERSION", 0));
	assert_true(agent_release_path_ok("a/hl", "bin/hello", 0));
	assert_false(agent_release_path_ok("hl", "../x", 0));
	assert_false(agent_release_path_ok("a/hl", "../VERSION", 0));
	assert_false(agent_release_path_ok("hl", "/etc/passwd", 0));
	assert_false(agent_release_path_ok("hl", ".", 0));

	/* length limit */
	char longp[2100];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	assert_string_equal(agent_release_path_check(longp, NULL, 0), "path is too long");
}

/* refuse_case packs ents, prepares it and expects OSP_EPERM with msg. */
static void refuse_case(struct ts_rel_fx *x, const struct ts_rel_ent *ents, size_t n, const char *msg)
{
	char sha[65], url[PATH_MAX];

	ts_rel_src_archive(x, "bad.tgz", ents, n, sha, url, sizeof(url));
	x->err[0] = '\0';
	assert_int_equal(agent_release_prepare(x->state, url, sha, x->dir, sizeof(x->dir), x->err,
				 sizeof(x->err)),
		OSP_EPERM);
	if (msg[strlen(msg) - 1] == '*')
		assert_int_equal(strncmp(x->err, msg, strlen(msg) - 1), 0);
	else
		assert_string_equal(x->err, msg);
	assert_nothing_left(x);
	/* unpack alone refuses it the same way (the archive is cached) */
	assert_int_equal(agent_release_unpack(x->state, sha, x->dir, sizeof(x->dir), x->err,
				 sizeof(x->err)),
		OSP_EPERM);
	assert_nothing_left(x);
}

static void test_agent_release_unpack_refuses_dotdot(void **state)
{
	struct ts_rel_fx *x = *state;
	const struct ts_rel_ent e1[] = { { "ok.txt", 'f', "ok\n", 0 }, { "../x", 'f', "pwned\n", 0 } };
	const struct ts_rel_ent e2[] = { { "a/../../../x", 'f', "pwned\n", 0 } };

	refuse_case(x, e1, 2, "archive entry '../x': path escapes the release directory");
	refuse_case(x, e2, 1,
		"archive entry 'a/../../../x': path escapes the release directory");
}

static void test_agent_release_unpack_refuses_absolute(void **state)
{
	struct ts_rel_fx *x = *state;
	char abs[PATH_MAX], msg[PATH_MAX + 100];
	struct ts_rel_ent e[] = { { "ok.txt", 'f', "ok\n", 0 }, { abs, 'f', "pwned\n", 0 } };

	snprintf(abs, sizeof(abs), "%s/x", x->root);
	snprintf(msg, sizeof(msg), "archive entry '%s': path is absolute", abs);
	refuse_case(x, e, 2, msg);
	e[1].path = "/abs/x";
	refuse_case(x, e, 2, "archive entry '/abs/x': path is absolute");
}

static void test_agent_release_unpack_refuses_symlinks(void **state)
{
	struct ts_rel_fx *x = *state;
	const struct ts_rel_ent e1[] = { { "evil", 'l', "/etc", 0 }, { "evil/passwd", 'f', "x\n", 0 } };
	const struct ts_rel_ent e2[] = { { "evil", 'l', "../../x", 0 }, { "evil/y", 'f', "x\n", 0 } };
	const struct ts_rel_ent e3[] = { { "d", 'd', NULL, 0755 }, { "d/evil", 'l', "x/../../..", 0 } };

	refuse_case(x, e1, 2, "archive entry 'evil' -> '/etc': symlink target is absolute");
	refuse_case(x, e2, 2,
		"archive entry 'evil' -> '../../x': symlink target escapes the release directory");
	refuse_case(x, e3, 2,
		"archive entry 'd/evil' -> 'x/../../..': symlink target has '..' after a name");
}

static void test_agent_release_unpack_refuses_through_symlink(void **state)
{
	struct ts_rel_fx *x = *state;
	/* links that stay inside pass the path check; writing through them is
	 * still refused (libarchive's secure symlink check) */
	const struct ts_rel_ent e1[] = { { "d", 'd', NULL, 0755 }, { "link", 'l', "d", 0 },
		{ "link/f", 'f', "x\n", 0 } };
	const struct ts_rel_ent e2[] = { { "sub", 'd', NULL, 0755 }, { "sub/up", 'l', "..", 0 },
		{ "sub/up/x", 'f', "x\n", 0 } };

	refuse_case(x, e1, 3, "archive entry 'link/f': *");
	refuse_case(x, e2, 3, "archive entry 'sub/up/x': *");
}

static void test_agent_release_unpack_refuses_links_and_devices(void **state)
{
	struct ts_rel_fx *x = *state;
	const struct ts_rel_ent e1[] = { { "ok", 'f', "x\n", 0 }, { "hl", 'h', "../x", 0 } };
	const struct ts_rel_ent e2[] = { { "hl", 'h', "/etc/passwd", 0 } };
	const struct ts_rel_ent e3[] = { { "dev/null", 'c', NULL, 0666 } };

	refuse_case(x, e1, 2,
		"archive entry 'hl' -> '../x': hard link target escapes the release directory");
	refuse_case(x, e2, 1, "archive entry 'hl' -> '/etc/passwd': hard link target is absolute");
	refuse_case(x, e3, 1, "archive entry 'dev/null': not a file, directory or link *");
}

static void test_agent_release_unpack_refuses_hardlink_to_symlink(void **state)
{
	struct ts_rel_fx *x = *state;
	/* a/b/root -> ../.. stays inside from a/b; the same link text at the
	 * top, through a hard link to it, is outside (x20 of it reached "/") */
	const struct ts_rel_ent e1[] = { { "a", 'd', NULL, 0755 }, { "a/b", 'd', NULL, 0755 },
		{ "a/b/root", 'l', "../..", 0 }, { "root", 'h', "a/b/root", 0 } };
	/* a chain: a/c/l2 -> ../b/l1 -> ../.. all inside; a hard link to l2 at
	 * the top is "l2 -> ../b/l1", one level above the release */
	const struct ts_rel_ent e2[] = { { "a", 'd', NULL, 0755 }, { "a/b", 'd', NULL, 0755 },
		{ "a/c", 'd', NULL, 0755 }, { "a/b/l1", 'l', "../..", 0 },
		{ "a/c/l2", 'l', "../b/l1", 0 }, { "top", 'h', "a/c/l2", 0 } };

	refuse_case(x, e1, 4, "archive entry 'root' -> 'a/b/root': hard link to a symlink "
		"('../..') whose target, seen from the hard link's place: symlink target escapes "
		"the release directory");
	refuse_case(x, e2, 6, "archive entry 'top' -> 'a/c/l2': hard link to a symlink "
		"('../b/l1') whose target, seen from the hard link's place: *");
}

static void test_agent_release_unpack_hardlink_to_symlink_inside(void **state)
{
	struct ts_rel_fx *x = *state;
	/* a hard link to a symlink at the same depth stays inside: accepted */
	const struct ts_rel_ent e[] = { { "a", 'd', NULL, 0755 }, { "a/b", 'd', NULL, 0755 },
		{ "c", 'd', NULL, 0755 }, { "a/VERSION", 'f', "1\n", 0644 },
		{ "a/b/up", 'l', "../VERSION", 0 }, { "c/up", 'h', "a/b/up", 0 } };
	char sha[65], url[PATH_MAX], p[PATH_MAX + 16], link[64];
	ssize_t n;

	ts_rel_src_archive(x, "ok.tgz", e, 6, sha, url, sizeof(url));
	assert_int_equal(agent_release_prepare(x->state, url, sha, x->dir, sizeof(x->dir), x->err,
				 sizeof(x->err)),
		OSP_OK);
	snprintf(p, sizeof(p), "%s/c/up", x->dir);
	n = readlink(p, link, sizeof(link) - 1);
	assert_int_equal(n, 10);
	link[n] = '\0';
	assert_string_equal(link, "../VERSION");
}

static void test_agent_release_tree_check(void **state)
{
	struct ts_rel_fx *x = *state;
	char p[PATH_MAX + 32];

	/* what an archive may leave, checked where each link is */
	snprintf(p, sizeof(p), "%s/a/b", x->src);
	assert_int_equal(osp_mkdir_p(p, 0755), OSP_OK);
	snprintf(p, sizeof(p), "%s/a/b/root", x->src);
	assert_int_equal(symlink("../..", p), 0);
	snprintf(p, sizeof(p), "%s/a/self", x->src);
	assert_int_equal(symlink(".", p), 0);
	assert_int_equal(agent_release_tree_check(x->src, x->err, sizeof(x->err)), OSP_OK);
	snprintf(p, sizeof(p), "%s/a/up", x->src);
	assert_int_equal(symlink("../../etc", p), 0);
	assert_int_equal(agent_release_tree_check(x->src, x->err, sizeof(x->err)), OSP_EPERM);
	assert_string_equal(x->err, "archive entry 'a/up' -> '../../etc': symlink target "
		"escapes the release directory (checked where the link ended up)");
}

static void test_agent_release_unpack_not_an_archive(void **state)
{
	struct ts_rel_fx *x = *state;
	char path[PATH_MAX], url[PATH_MAX + 10], sha[65];

	snprintf(path, sizeof(path), "%s/junk.tgz", x->src);
	assert_int_equal(osp_file_write_atomic(path, "this is no archive\n", 19, 0644), OSP_OK);
	ts_rel_sha_file(path, sha);
	snprintf(url, sizeof(url), "file://%s", path);
	assert_int_equal(agent_release_prepare(x->state, url, sha, x->dir, sizeof(x->dir), x->err,
				 sizeof(x->err)),
		OSP_EDECODE);
	assert_int_equal(ts_rel_count_sub(x, "releases"), 0);
}

#define FX_TEST(f) cmocka_unit_test_setup_teardown(f, ts_rel_setup, ts_rel_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agent_release_path_check),
		FX_TEST(test_agent_release_unpack_refuses_dotdot),
		FX_TEST(test_agent_release_unpack_refuses_absolute),
		FX_TEST(test_agent_release_unpack_refuses_symlinks),
		FX_TEST(test_agent_release_unpack_refuses_through_symlink),
		FX_TEST(test_agent_release_unpack_refuses_links_and_devices),
		FX_TEST(test_agent_release_unpack_refuses_hardlink_to_symlink),
		FX_TEST(test_agent_release_unpack_hardlink_to_symlink_inside),
		FX_TEST(test_agent_release_tree_check),
		FX_TEST(test_agent_release_unpack_not_an_archive),
	};

	osp_log_setup(OSP_LOG_ERROR, OSP_LOG_TEXT, "test_agent_release_archive", NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
