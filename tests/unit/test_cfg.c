/* test_cfg.c - the bounded YAML reader: real documents, located errors and
 * hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ospec/cfg.h"
#include "ospec/util.h"

/* the real OSpec examples, from the repository's own fixtures only */
#define EXAMPLES_FIXTURE OSPEC_SOURCE_DIR "/tests/fixtures/ospec-examples"

static char err[1024];

static osp_err parse(const char *text, osp_cfg_doc **doc)
{
	memset(err, 0, sizeof(err));
	return osp_cfg_parse("t.yaml", text, strlen(text), NULL, doc, err, sizeof(err));
}

/* parse_fail asserts that text is refused with rv and exactly msg. */
static void parse_fail(const char *text, osp_err rv, const char *msg)
{
	osp_cfg_doc *doc = (osp_cfg_doc *)1;

	assert_int_equal(parse(text, &doc), rv);
	assert_null(doc);
	assert_string_equal(err, msg);
}

/* examples_dir returns the fixture directory; the test fails, naming it,
 * when it is missing (never a fallback outside the tree). */
static const char *examples_dir(void)
{
	struct stat st;

	if (stat(EXAMPLES_FIXTURE, &st) != 0 || !S_ISDIR(st.st_mode) ||
		access(EXAMPLES_FIXTURE, R_OK | X_OK) != 0)
		fail_msg("the OSpec examples fixture %s is missing or unreadable "
			 "(it is part of the repository: restore tests/fixtures/ospec-examples)",
			EXAMPLES_FIXTURE);
	return EXAMPLES_FIXTURE;
}

/* file_line returns line (1-based) of path without its indentation. */
static void file_line(const char *path, int line, char *buf, size_t len)
{
	char *data = NULL, *p, *nl;
	size_t n;

	assert_int_equal(osp_file_read(path, 1 << 22, &data, &n), OSP_OK);
	p = data;
	for (int i = 1; i < line; i++) {
		p = strchr(p, '\n');
		assert_non_null(p);
		p++;
	}
	while (*p == ' ')
		p++;
	nl = strchr(p, '\n');
	if (nl != NULL)
		*nl = '\0';
	osp_strlcpy(buf, p, len);
	free(data);
}

static void test_cfg_examples_parse(void **state)
{
	const char *dir = examples_dir();
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[1024];
	int ok = 0, refused = 0;

	(void)state;
	if (d == NULL)
		fail_msg("cannot open %s", dir);
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		osp_cfg_doc *doc = NULL;
		osp_err rv;

		if (n < 6 || strcmp(e->d_name + n - 5, ".yaml") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		rv = osp_cfg_load(path, NULL, &doc, err, sizeof(err));
		if (strcmp(e->d_name, "invalid-cli-tool.yaml") == 0 ||
			strcmp(e->d_name, "writing-ospecs-13.yaml") == 0 ||
			strcmp(e->d_name, "writing-ospecs-14.yaml") == 0) {
			/* checked one by one below */
			assert_int_equal(rv, OSP_ECONFIG);
			refused++;
			continue;
		}
		if (rv != OSP_OK)
			fail_msg("%s: %s", e->d_name, err);
		assert_non_null(doc->root);
		assert_string_equal(doc->file, path);
		osp_cfg_doc_free(doc);
		ok++;
	}
	closedir(d);
	assert_int_equal(refused, 3);
	assert_true(ok >= 50);
}

static void test_cfg_example_invalid_located(void **state)
{
	char path[1024], want[1200], line[256];
	osp_cfg_doc *doc = NULL;

	(void)state;
	snprintf(path, sizeof(path), "%s/invalid-cli-tool.yaml", examples_dir());
	/* line 24 is the "exit_code: 0" that follows a list item scalar */
	file_line(path, 24, line, sizeof(line));
	assert_string_equal(line, "exit_code: 0");
	assert_int_equal(osp_cfg_load(path, NULL, &doc, err, sizeof(err)), OSP_ECONFIG);
	assert_null(doc);
	snprintf(want, sizeof(want), "%s:24:11: did not find expected '-' indicator "
		"(while parsing a block collection at 23:9)", path);
	assert_string_equal(err, want);
}

static void test_cfg_example_duplicate_keys(void **state)
{
	char path[1024], want[1200], line[256];
	osp_cfg_doc *doc = NULL;

	(void)state;
	/* "this, not this" fragments that repeat a key: refused, never last-wins */
	snprintf(path, sizeof(path), "%s/writing-ospecs-13.yaml", examples_dir());
	file_line(path, 8, line, sizeof(line));
	assert_string_equal(line, "stack:");
	assert_int_equal(osp_cfg_load(path, NULL, &doc, err, sizeof(err)), OSP_ECONFIG);
	snprintf(want, sizeof(want), "%s:8:1: duplicate key 'stack' (first at line 2)", path);
	assert_string_equal(err, want);

	snprintf(path, sizeof(path), "%s/writing-ospecs-14.yaml", examples_dir());
	file_line(path, 6, line, sizeof(line));
	assert_true(strncmp(line, "alternatives:", 13) == 0);
	assert_int_equal(osp_cfg_load(path, NULL, &doc, err, sizeof(err)), OSP_ECONFIG);
	snprintf(want, sizeof(want), "%s:6:3: duplicate key 'alternatives' (first at line 3)",
		path);
	assert_string_equal(err, want);
}

static void test_cfg_tree_shape(void **state)
{
	osp_cfg_doc *doc = NULL;
	const osp_cfg_node *root, *n;

	(void)state;
	assert_int_equal(parse("name: web\n"
			       "port: 8080\n"
			       "quoted: \"x y\"\n"
			       "empty:\n"
			       "tilde: ~\n"
			       "list:\n"
			       "  - a\n"
			       "  - {k: v}\n", &doc), OSP_OK);
	root = doc->root;
	assert_int_equal(root->kind, OSP_CFG_MAP);
	assert_int_equal(root->n, 6);
	assert_string_equal(doc->file, "t.yaml");

	n = osp_cfg_get(root, "port");
	assert_non_null(n);
	assert_int_equal(n->kind, OSP_CFG_SCALAR);
	assert_string_equal(n->value, "8080");
	assert_string_equal(n->key, "port");
	assert_int_equal(n->key_line, 2);
	assert_int_equal(n->key_col, 1);
	assert_int_equal(n->line, 2);
	assert_int_equal(n->col, 7);
	assert_false(n->quoted);
	assert_false(n->is_null);

	n = osp_cfg_get(root, "quoted");
	assert_true(n->quoted);
	assert_string_equal(n->value, "x y");
	assert_true(osp_cfg_get(root, "empty")->is_null);
	assert_true(osp_cfg_get(root, "tilde")->is_null);

	n = osp_cfg_get(root, "list");
	assert_int_equal(n->kind, OSP_CFG_SEQ);
	assert_int_equal(n->n, 2);
	assert_null(n->items[0]->key);
	assert_string_equal(n->items[0]->value, "a");
	assert_int_equal(n->items[0]->line, 7);
	assert_int_equal(n->items[0]->col, 5);
	assert_string_equal(osp_cfg_get(n->items[1], "k")->value, "v");

	assert_null(osp_cfg_get(root, "missing"));
	assert_null(osp_cfg_get(n, "k")); /* not a map */
	assert_null(osp_cfg_get(NULL, "k"));
	osp_cfg_doc_free(doc);
	osp_cfg_doc_free(NULL);
}

static void test_cfg_empty_documents(void **state)
{
	static const char *const empty[] = { "", "# only a comment\n", "~\n", "---\n", "---\n...\n" };
	osp_cfg_doc *doc = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
		assert_int_equal(parse(empty[i], &doc), OSP_OK);
		assert_null(doc->root);
		osp_cfg_doc_free(doc);
	}
}

static void test_cfg_syntax_errors_located(void **state)
{
	(void)state;
	parse_fail("a: b: c\n", OSP_ECONFIG,
		"t.yaml:1:5: mapping values are not allowed in this context");
	parse_fail("ok: 1\nx: [1, 2\n", OSP_ECONFIG,
		"t.yaml:3:1: did not find expected ',' or ']' (while parsing a flow sequence at 2:4)");
	parse_fail("a: 'open\n", OSP_ECONFIG,
		"t.yaml:2:1: found unexpected end of stream (while scanning a quoted scalar at 1:4)");
	parse_fail("a: \x01\n", OSP_ECONFIG, "t.yaml:1:4: control characters are not allowed");
}

static void test_cfg_tabs_refused(void **state)
{
	osp_cfg_doc *doc = NULL;

	(void)state;
	parse_fail("a:\n  b: 1\n\tc: 2\n", OSP_ECONFIG,
		"t.yaml:3:1: found a tab character where YAML allows only spaces for indentation");
	/* a tab inside a value is fine */
	assert_int_equal(parse("a: \"x\ty\"\n", &doc), OSP_OK);
	assert_string_equal(osp_cfg_get(doc->root, "a")->value, "x\ty");
	osp_cfg_doc_free(doc);
}

static void test_cfg_duplicate_key(void **state)
{
	(void)state;
	parse_fail("a: 1\nb: 2\na: 3\n", OSP_ECONFIG, "t.yaml:3:1: duplicate key 'a' (first at line 1)");
	parse_fail("top:\n  x: 1\n  y: 2\n  x: 3\n", OSP_ECONFIG,
		"t.yaml:4:3: duplicate key 'x' (first at line 2)");
	parse_fail("{b: 1, a: 2, b: 3, a: 4}", OSP_ECONFIG,
		"t.yaml:1:14: duplicate key 'b' (first at line 1)");
}

static void test_cfg_duplicate_key_large_map(void **state)
{
	osp_buf b;
	osp_cfg_doc *doc = NULL;

	(void)state;
	osp_buf_init(&b, 0);
	for (int i = 0; i < 20000; i++)
		assert_int_equal(osp_buf_printf(&b, "k%d: %d\n", i, i), OSP_OK);
	assert_int_equal(osp_cfg_parse("big.yaml", b.data, b.len, NULL, &doc, err, sizeof(err)),
		OSP_OK);
	assert_int_equal(doc->root->n, 20000);
	osp_cfg_doc_free(doc);
	assert_int_equal(osp_buf_printf(&b, "k17: again\n"), OSP_OK);
	assert_int_equal(osp_cfg_parse("big.yaml", b.data, b.len, NULL, &doc, err, sizeof(err)),
		OSP_ECONFIG);
	assert_string_equal(err, "big.yaml:20001:1: duplicate key 'k17' (first at line 18)");
	osp_buf_fini(&b);
}

static void test_cfg_keys_must_be_scalars(void **state)
{
	(void)state;
	parse_fail("? [a]\n: 1\n", OSP_ECONFIG, "t.yaml:1:3: map keys must be scalars");
	parse_fail("{[a]: 1}", OSP_ECONFIG, "t.yaml:1:2: map keys must be scalars");
	parse_fail("x: &m {a: 1}\n*m : 2\n", OSP_ECONFIG, "t.yaml:2:1: map keys must be scalars");
}

static void test_cfg_multiple_documents(void **state)
{
	osp_cfg_doc *doc = NULL;

	(void)state;
	parse_fail("a: 1\n---\nb: 2\n", OSP_ECONFIG,
		"t.yaml:2:1: multiple documents are not supported");
	/* an empty trailing document is harmless */
	assert_int_equal(parse("---\na: 1\n...\n---\n", &doc), OSP_OK);
	assert_string_equal(osp_cfg_get(doc->root, "a")->value, "1");
	osp_cfg_doc_free(doc);
}

static void test_cfg_invalid_utf8(void **state)
{
	(void)state;
	parse_fail("a: b\nc: \xff\n", OSP_ECONFIG, "t.yaml:2:4: invalid UTF-8 at byte offset 8");
	/* columns count characters: "é" is one */
	parse_fail("a: \xc3\xa9\xc0\xaf\n", OSP_ECONFIG, "t.yaml:1:5: invalid UTF-8 at byte offset 5");
	parse_fail("a: \xed\xa0\x80\n", OSP_ECONFIG, "t.yaml:1:4: invalid UTF-8 at byte offset 3");
	parse_fail("a: \xf4\x90\x80\x80\n", OSP_ECONFIG, "t.yaml:1:4: invalid UTF-8 at byte offset 3");
	parse_fail("a: \xe2\x82", OSP_ECONFIG, "t.yaml:1:4: invalid UTF-8 at byte offset 3");
}

static void test_cfg_nul_in_value(void **state)
{
	(void)state;
	parse_fail("a: \"x\\0y\"\n", OSP_ECONFIG, "t.yaml:1:4: NUL character in a value");
}

static void test_cfg_deep_nesting_refused(void **state)
{
	size_t n = 200000;
	char *deep = malloc(2 * n + 1);
	osp_cfg_doc *doc = NULL;

	(void)state;
	assert_non_null(deep);
	memset(deep, '[', n);
	memset(deep + n, ']', n);
	deep[2 * n] = '\0';
	assert_int_equal(osp_cfg_parse("deep.yaml", deep, 2 * n, NULL, &doc, err, sizeof(err)),
		OSP_ETOOBIG);
	assert_null(doc);
	assert_string_equal(err, "deep.yaml:1:65: nesting deeper than 64 levels");

	/* exactly 64 levels is allowed */
	memmove(deep + 64, deep + 2 * n - 64, 64);
	assert_int_equal(osp_cfg_parse("deep.yaml", deep, 128, NULL, &doc, err, sizeof(err)),
		OSP_OK);
	assert_int_equal(doc->root->kind, OSP_CFG_SEQ);
	osp_cfg_doc_free(doc);
	free(deep);
}

static void test_cfg_alias_copies(void **state)
{
	osp_cfg_doc *doc = NULL;
	const osp_cfg_node *a, *b;

	(void)state;
	assert_int_equal(parse("base: &b {x: 1, y: [2, 3]}\n"
			       "other: *b\n"
			       "port: &p 80\n"
			       "again: *p\n", &doc), OSP_OK);
	a = osp_cfg_get(doc->root, "base");
	b = osp_cfg_get(doc->root, "other");
	assert_ptr_not_equal(a, b);
	assert_int_equal(b->kind, OSP_CFG_MAP);
	assert_string_equal(b->key, "other");
	assert_int_equal(b->line, 2);
	assert_int_equal(b->col, 8);
	assert_string_equal(osp_cfg_get(b, "x")->value, "1");
	assert_string_equal(osp_cfg_get(b, "y")->items[1]->value, "3");
	assert_ptr_not_equal(osp_cfg_get(a, "y"), osp_cfg_get(b, "y"));
	assert_string_equal(osp_cfg_get(doc->root, "again")->value, "80");
	osp_cfg_doc_free(doc);

	parse_fail("a: *nope\n", OSP_ECONFIG, "t.yaml:1:4: unknown anchor 'nope'");
	/* an anchor is complete only at its end, so it cannot contain itself */
	parse_fail("a: &x [1, *x]\n", OSP_ECONFIG, "t.yaml:1:11: unknown anchor 'x'");
}

static void test_cfg_alias_bomb_refused(void **state)
{
	static const char bomb[] =
		"a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
		"b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
		"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
		"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
		"f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
		"g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
		"h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
		"i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n";
	osp_cfg_doc *doc = NULL;

	(void)state;
	/*
	 * a is 10 nodes, b 91, c 820, d 7381. Copies so far: b 9*10, c 9*91, d 9*820
	 * = 8289; the first *d (7381 more) passes the 10000 budget.
	 */
	parse_fail(bomb, OSP_ETOOBIG, "t.yaml:5:8: aliases expand to more than 10000 nodes");

	/* the same budget, set lower: lines a and b only, the 6th *a is past 50 */
	osp_cfg_limits lim = { .max_alias_nodes = 50 };
	size_t ab = (size_t)(strstr(bomb, "c:") - bomb);
	assert_int_equal(osp_cfg_parse("t.yaml", bomb, ab, &lim, &doc, err, sizeof(err)),
		OSP_ETOOBIG);
	assert_string_equal(err, "t.yaml:2:28: aliases expand to more than 50 nodes");
}

static void test_cfg_alias_bytes_refused(void **state)
{
	osp_buf b;
	osp_cfg_doc *doc = NULL;

	(void)state;
	osp_buf_init(&b, 0);
	assert_int_equal(osp_buf_puts(&b, "big: &big \""), OSP_OK);
	for (int i = 0; i < 100000; i++)
		assert_int_equal(osp_buf_puts(&b, "0123456789"), OSP_OK);
	assert_int_equal(osp_buf_puts(&b, "\"\nc: [*big, *big, *big, *big, *big]\n"), OSP_OK);
	/* five copies of 1 MB would be 5 MB of strings from a 1 MB file */
	assert_int_equal(osp_cfg_parse("t.yaml", b.data, b.len, NULL, &doc, err, sizeof(err)),
		OSP_ETOOBIG);
	assert_string_equal(err, "t.yaml:2:29: aliases expand to more than 4194304 bytes");
	osp_buf_fini(&b);
}

static void test_cfg_alias_depth_refused(void **state)
{
	osp_buf b;
	osp_cfg_doc *doc = NULL;

	(void)state;
	osp_buf_init(&b, 0);
	assert_int_equal(osp_buf_puts(&b, "a: &x "), OSP_OK);
	for (int i = 0; i < 40; i++)
		assert_int_equal(osp_buf_puts(&b, "["), OSP_OK);
	for (int i = 0; i < 40; i++)
		assert_int_equal(osp_buf_puts(&b, "]"), OSP_OK);
	/* 1 (root) + 30 + 40 levels through the alias */
	assert_int_equal(osp_buf_puts(&b, "\nb: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[*x]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n"),
		OSP_OK);
	assert_int_equal(osp_cfg_parse("t.yaml", b.data, b.len, NULL, &doc, err, sizeof(err)),
		OSP_ETOOBIG);
	assert_string_equal(err, "t.yaml:2:34: alias makes nesting deeper than 64 levels");
	osp_buf_fini(&b);
}

static void test_cfg_size_limit(void **state)
{
	size_t n = (size_t)4 * 1024 * 1024 + 1;
	char *big = malloc(n);
	osp_cfg_doc *doc = NULL;
	char path[] = "/tmp/test_cfg_XXXXXX";
	int fd;

	(void)state;
	assert_non_null(big);
	memset(big, '#', n); /* one huge comment: valid YAML, only too big */
	assert_int_equal(osp_cfg_parse("big.yaml", big, n, NULL, &doc, err, sizeof(err)),
		OSP_ETOOBIG);
	assert_string_equal(err, "big.yaml:1:1: document is larger than 4194304 bytes");
	assert_null(doc);
	assert_int_equal(osp_cfg_parse("big.yaml", big, n - 1, NULL, &doc, err, sizeof(err)),
		OSP_OK);
	assert_null(doc->root);
	osp_cfg_doc_free(doc);

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, big, n), (ssize_t)n);
	close(fd);
	assert_int_equal(osp_cfg_load(path, NULL, &doc, err, sizeof(err)), OSP_ETOOBIG);
	assert_non_null(strstr(err, "file is larger than 4194304 bytes"));
	unlink(path);
	free(big);
}

static void test_cfg_node_limit(void **state)
{
	osp_cfg_limits lim = { .max_nodes = 5 };
	osp_cfg_doc *doc = NULL;
	const char *text = "[1, 2, 3, 4, 5, 6]";

	(void)state;
	assert_int_equal(osp_cfg_parse("t.yaml", text, strlen(text), &lim, &doc, err, sizeof(err)),
		OSP_ETOOBIG);
	assert_string_equal(err, "t.yaml:1:14: document has more than 5 nodes");
	lim.max_nodes = 7;
	assert_int_equal(osp_cfg_parse("t.yaml", text, strlen(text), &lim, &doc, err, sizeof(err)),
		OSP_OK);
	osp_cfg_doc_free(doc);
}

static void test_cfg_load_errors(void **state)
{
	char path[] = "/tmp/test_cfg_XXXXXX";
	osp_cfg_doc *doc = NULL;
	int fd;

	(void)state;
	assert_int_equal(osp_cfg_load("/nonexistent/x.yaml", NULL, &doc, err, sizeof(err)),
		OSP_EIO);
	assert_string_equal(err, "/nonexistent/x.yaml: cannot read: No such file or directory");
	assert_null(doc);

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "a: [1\n", 6), 6);
	close(fd);
	assert_int_equal(osp_cfg_load(path, NULL, &doc, err, sizeof(err)), OSP_ECONFIG);
	assert_true(strncmp(err, path, strlen(path)) == 0);
	assert_string_equal(err + strlen(path),
		":2:1: did not find expected ',' or ']' (while parsing a flow sequence at 1:4)");
	unlink(path);
}

/* a config file that is a FIFO hung the program in open(2) or read(2); a
 * directory or a device is no config file either */
static void test_cfg_load_not_regular(void **state)
{
	char dir[] = "/tmp/test_cfg_dir_XXXXXX", fifo[64], want[160];
	osp_cfg_doc *doc = NULL;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(fifo, sizeof(fifo), "%s/agent.yaml", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	alarm(10); /* without the check this blocks forever: SIGALRM fails the test */
	assert_int_equal(osp_cfg_load(fifo, NULL, &doc, err, sizeof(err)), OSP_EIO);
	alarm(0);
	assert_null(doc);
	snprintf(want, sizeof(want), "%s: not a regular file (a FIFO, device or directory is not "
		"read)", fifo);
	assert_string_equal(err, want);
	assert_int_equal(osp_cfg_load(dir, NULL, &doc, err, sizeof(err)), OSP_EIO);
	assert_non_null(strstr(err, "not a regular file"));
	assert_int_equal(osp_cfg_load("/dev/zero", NULL, &doc, err, sizeof(err)), OSP_EIO);
	assert_non_null(strstr(err, "not a regular file"));
	unlink(fifo);
	rmdir(dir);
}

static void test_cfg_typed_reads(void **state)
{
	osp_cfg_doc *doc = NULL;
	const osp_cfg_node *r;
	const char *s;
	uint64_t u;
	bool b;
	int64_t ms;

	(void)state;
	assert_int_equal(parse("name: web-1\n"
			       "port: 8080\n"
			       "on: yes\n"
			       "off: Off\n"
			       "every: 30s\n"
			       "tls: {ca: x}\n"
			       "empty:\n", &doc), OSP_OK);
	r = doc->root;
	assert_int_equal(osp_cfg_str(doc, osp_cfg_get(r, "name"), "name", 63, &s, err, sizeof(err)),
		OSP_OK);
	assert_string_equal(s, "web-1");
	assert_int_equal(osp_cfg_u64(doc, osp_cfg_get(r, "port"), "port", 1, 65535, &u, err,
		sizeof(err)), OSP_OK);
	assert_int_equal(u, 8080);
	assert_int_equal(osp_cfg_bool(doc, osp_cfg_get(r, "on"), "on", &b, err, sizeof(err)),
		OSP_OK);
	assert_true(b);
	assert_int_equal(osp_cfg_bool(doc, osp_cfg_get(r, "off"), "off", &b, err, sizeof(err)),
		OSP_OK);
	assert_false(b);
	assert_int_equal(osp_cfg_duration(doc, osp_cfg_get(r, "every"), "every", &ms, err,
		sizeof(err)), OSP_OK);
	assert_int_equal(ms, 30000);
	osp_cfg_doc_free(doc);
}

static void test_cfg_typed_read_errors(void **state)
{
	osp_cfg_doc *doc = NULL;
	const osp_cfg_node *r;
	const char *s;
	uint64_t u;
	bool b;
	int64_t ms;

	(void)state;
	assert_int_equal(parse("name: web-1\n"
			       "port: 99999\n"
			       "flag: maybe\n"
			       "every: soon\n"
			       "tls: {ca: x}\n"
			       "empty:\n"
			       "list: [1]\n", &doc), OSP_OK);
	r = doc->root;
	assert_int_equal(osp_cfg_str(doc, osp_cfg_get(r, "name"), "name", 3, &s, err, sizeof(err)),
		OSP_ECONFIG);
	assert_string_equal(err, "t.yaml:1:7: name: expected a string of at most 3 bytes, got \"web-1\"");
	assert_int_equal(osp_cfg_str(doc, osp_cfg_get(r, "tls"), "tls", 0, &s, err, sizeof(err)),
		OSP_ECONFIG);
	assert_string_equal(err, "t.yaml:5:6: tls: expected a string, got a map");
	assert_int_equal(osp_cfg_str(doc, osp_cfg_get(r, "list"), "list", 0, &s, err, sizeof(err)),
		OSP_ECONFIG);
	assert_string_equal(err, "t.yaml:7:7: list: expected a string, got a list");
	assert_int_equal(osp_cfg_u64(doc, osp_cfg_get(r, "port"), "port", 1, 65535, &u, err,
		sizeof(err)), OSP_ECONFIG);
	assert_string_equal(err, "t.yaml:2:7: port: expected an integer in 1..65535, got \"99999\"");
	assert_int_equal(osp_cfg_u64(doc, osp_cfg_get(r, "empty"), "empty", 0, UINT64_MAX, &u, err,
		sizeof(err)), OSP_ECONFIG);
	assert_string_equal(err, "t.yaml:6:7: empty: expected an integer >= 0, got nothing");
	assert_int_equal(osp_cfg_bool(doc, osp_cfg_get(r, "flag"), "flag", &b, err, sizeof(err)),
		OSP_ECONFIG);
	assert_string_equal(err, "t.yaml:3:7: flag: expected true or false, got \"maybe\"");
	assert_int_equal(osp_cfg_duration(doc, osp_cfg_get(r, "every"), "fleet.every", &ms, err,
		sizeof(err)), OSP_ECONFIG);
	assert_string_equal(err,
		"t.yaml:4:8: fleet.every: expected a duration like 500ms, 30s, 5m, got \"soon\"");
	assert_int_equal(osp_cfg_duration(doc, NULL, "heartbeat", &ms, err, sizeof(err)),
		OSP_ECONFIG);
	assert_string_equal(err, "t.yaml: heartbeat: expected a duration like 500ms, 30s, 5m, "
		"got nothing");
	osp_cfg_doc_free(doc);
}

static void test_cfg_errorf_format(void **state)
{
	osp_cfg_doc *doc = NULL;
	char small[16];

	(void)state;
	assert_int_equal(parse("stages:\n  - batch: lots\n", &doc), OSP_OK);
	const osp_cfg_node *batch = osp_cfg_get(osp_cfg_get(doc->root, "stages")->items[0], "batch");
	assert_int_equal(osp_cfg_errorf(doc, batch, "stages[0].batch", err, sizeof(err),
		"expected %s, got \"%s\"", "1..100% or a count", batch->value), OSP_ECONFIG);
	assert_string_equal(err,
		"t.yaml:2:12: stages[0].batch: expected 1..100% or a count, got \"lots\"");
	assert_int_equal(osp_cfg_errorf(doc, batch, NULL, err, sizeof(err), "bad"), OSP_ECONFIG);
	assert_string_equal(err, "t.yaml:2:12: bad");
	/* a short buffer truncates, never overflows */
	assert_int_equal(osp_cfg_errorf(doc, batch, "stages[0].batch", small, sizeof(small), "x"),
		OSP_ECONFIG);
	assert_string_equal(small, "t.yaml:2:12: st");
	osp_cfg_doc_free(doc);
}

static void test_cfg_long_value_shortened(void **state)
{
	osp_cfg_doc *doc = NULL;
	uint64_t u;
	char text[200];

	(void)state;
	snprintf(text, sizeof(text), "n: %s\n",
		"1234567890abcdefghij1234567890abcdefghij1234567890abcdefghij");
	assert_int_equal(parse(text, &doc), OSP_OK);
	assert_int_equal(osp_cfg_u64(doc, osp_cfg_get(doc->root, "n"), "n", 0, 10, &u, err,
		sizeof(err)), OSP_ECONFIG);
	assert_string_equal(err, "t.yaml:1:4: n: expected an integer in 0..10, got "
		"\"1234567890abcdefghij1234567890abcdefghij12345678...\"");
	osp_cfg_doc_free(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cfg_examples_parse),
		cmocka_unit_test(test_cfg_example_invalid_located),
		cmocka_unit_test(test_cfg_example_duplicate_keys),
		cmocka_unit_test(test_cfg_tree_shape),
		cmocka_unit_test(test_cfg_empty_documents),
		cmocka_unit_test(test_cfg_syntax_errors_located),
		cmocka_unit_test(test_cfg_tabs_refused),
		cmocka_unit_test(test_cfg_duplicate_key),
		cmocka_unit_test(test_cfg_duplicate_key_large_map),
		cmocka_unit_test(test_cfg_keys_must_be_scalars),
		cmocka_unit_test(test_cfg_multiple_documents),
		cmocka_unit_test(test_cfg_invalid_utf8),
		cmocka_unit_test(test_cfg_nul_in_value),
		cmocka_unit_test(test_cfg_deep_nesting_refused),
		cmocka_unit_test(test_cfg_alias_copies),
		cmocka_unit_test(test_cfg_alias_bomb_refused),
		cmocka_unit_test(test_cfg_alias_bytes_refused),
		cmocka_unit_test(test_cfg_alias_depth_refused),
		cmocka_unit_test(test_cfg_size_limit),
		cmocka_unit_test(test_cfg_node_limit),
		cmocka_unit_test(test_cfg_load_errors),
		cmocka_unit_test(test_cfg_load_not_regular),
		cmocka_unit_test(test_cfg_typed_reads),
		cmocka_unit_test(test_cfg_typed_read_errors),
		cmocka_unit_test(test_cfg_errorf_format),
		cmocka_unit_test(test_cfg_long_value_shortened),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
