/* test_util.c - unit tests for common/src/util.c. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ospec/util.h"

/* make_tmpdir creates a private temp directory; rm_tmpdir removes it. */
static void make_tmpdir(char *dir, size_t len)
{
	const char *base = getenv("TMPDIR");

	if (base == NULL || base[0] == '\0')
		base = "/tmp";
	assert_true((size_t)snprintf(dir, len, "%s/ospec-test-util-XXXXXX", base) < len);
	assert_non_null(mkdtemp(dir));
}

/* rm_tmpdir removes dir and the plain files and empty dirs under it (one level). */
static void rm_tmpdir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4096];

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (unlink(path) != 0)
			rmdir(path);
	}
	closedir(d);
	rmdir(dir);
}

/* count_entries counts the entries of dir other than . and .. */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	}
	closedir(d);
	return n;
}

static void test_util_duration_parse(void **state)
{
	static const struct {
		const char *s;
		int64_t ms;
	} good[] = {
		{ "500ms", 500 }, { "30s", 30000 }, { "5m", 300000 }, { "1h", 3600000 },
		{ "7", 7000 },    { "0s", 0 },      { "0ms", 0 },     { "1500ms", 1500 },
		{ "24h", 86400000 },
	};
	static const char *const bad[] = {
		"", "ms", "s", "5 s", " 5s", "5s ", "-5s", "+5s", "5x", "5sec", "1.5s", "5S",
		"5M", "5hm", "1d", "0x10", "99999999999999999999s", "9223372036854775807h",
		"9223372036854775808ms",
	};
	int64_t ms;

	(void)state;
	for (size_t k = 0; k < sizeof(good) / sizeof(good[0]); k++) {
		ms = -1;
		assert_int_equal(osp_duration_parse(good[k].s, &ms), OSP_OK);
		assert_true(ms == good[k].ms);
	}
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		ms = -1;
		if (osp_duration_parse(bad[k], &ms) != OSP_EINVAL)
			fail_msg("duration '%s' was accepted", bad[k]);
		assert_true(ms == -1);
	}
	assert_int_equal(osp_duration_parse(NULL, &ms), OSP_EINVAL);
}

static void test_util_duration_fmt(void **state)
{
	static const struct {
		int64_t ms;
		const char *s;
	} cases[] = {
		{ 1500, "1500ms" }, { 30000, "30s" }, { 300000, "5m" }, { 3600000, "1h" },
		{ 0, "0s" },        { 90000, "90s" }, { 1, "1ms" },     { 7200000, "2h" },
	};
	char buf[32];
	int64_t back;

	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		osp_duration_fmt(cases[k].ms, buf, sizeof(buf));
		assert_string_equal(buf, cases[k].s);
		assert_int_equal(osp_duration_parse(buf, &back), OSP_OK);
		assert_true(back == cases[k].ms);
	}
}

static void test_util_size_parse(void **state)
{
	static const struct {
		const char *s;
		uint64_t bytes;
	} good[] = {
		{ "64KiB", 65536 },        { "4MiB", 4194304 }, { "1GiB", 1073741824 },
		{ "123", 123 },            { "10B", 10 },       { "0", 0 },
		{ "2TiB", 2199023255552ULL }, { "16777215TiB", 16777215ULL << 40 },
	};
	static const char *const bad[] = {
		"", "KiB", "1KB", "1k", "1 KiB", "-1", "1.5MiB", "1kib", "1MB",
		"16777216TiB", "17179869184GiB", "18446744073709551616",
	};
	uint64_t b;

	(void)state;
	for (size_t k = 0; k < sizeof(good) / sizeof(good[0]); k++) {
		assert_int_equal(osp_size_parse(good[k].s, &b), OSP_OK);
		assert_true(b == good[k].bytes);
	}
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		if (osp_size_parse(bad[k], &b) != OSP_EINVAL)
			fail_msg("size '%s' was accepted", bad[k]);
	}
	assert_int_equal(osp_size_parse(NULL, &b), OSP_EINVAL);
}

static void test_util_u64_range(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(osp_u64_parse("1", 1, 10, &v), OSP_OK);
	assert_true(v == 1);
	assert_int_equal(osp_u64_parse("10", 1, 10, &v), OSP_OK);
	assert_true(v == 10);
	v = 99;
	assert_int_equal(osp_u64_parse("0", 1, 10, &v), OSP_EINVAL);
	assert_int_equal(osp_u64_parse("11", 1, 10, &v), OSP_EINVAL);
	assert_true(v == 99); /* untouched on failure */
	assert_int_equal(osp_u64_parse("18446744073709551615", 0, UINT64_MAX, &v), OSP_OK);
	assert_true(v == UINT64_MAX);
	assert_int_equal(osp_u64_parse("18446744073709551610", 0, UINT64_MAX, &v), OSP_OK);
	assert_true(v == UINT64_MAX - 5);
	assert_int_equal(osp_u64_parse("18446744073709551616", 0, UINT64_MAX, &v), OSP_EINVAL);
	assert_int_equal(osp_u64_parse("99999999999999999999", 0, UINT64_MAX, &v), OSP_EINVAL);
	assert_int_equal(osp_u64_parse("", 0, 10, &v), OSP_EINVAL);
	assert_int_equal(osp_u64_parse("+1", 0, 10, &v), OSP_EINVAL);
	assert_int_equal(osp_u64_parse("-1", 0, 10, &v), OSP_EINVAL);
	assert_int_equal(osp_u64_parse(" 1", 0, 10, &v), OSP_EINVAL);
	assert_int_equal(osp_u64_parse("1 ", 0, 10, &v), OSP_EINVAL);
	assert_int_equal(osp_u64_parse("0x1", 0, 10, &v), OSP_EINVAL);
	assert_int_equal(osp_u64_parse(NULL, 0, 10, &v), OSP_EINVAL);
	assert_int_equal(osp_u64_parse("007", 0, 10, &v), OSP_OK);
	assert_true(v == 7);
}

static void test_util_buf_cap(void **state)
{
	osp_buf b;

	(void)state;
	osp_buf_init(&b, 16);
	assert_int_equal(osp_buf_append(&b, "0123456789abcdef", 16), OSP_OK);
	assert_int_equal(b.len, 16);
	assert_int_equal(osp_buf_append(&b, "x", 1), OSP_ETOOBIG);
	assert_int_equal(osp_buf_puts(&b, "yy"), OSP_ETOOBIG);
	assert_int_equal(osp_buf_printf(&b, "%d", 5), OSP_ETOOBIG);
	/* a refused append leaves the buffer as it was */
	assert_int_equal(b.len, 16);
	assert_string_equal(b.data, "0123456789abcdef");
	assert_int_equal(osp_buf_append(&b, "", 0), OSP_OK);
	osp_buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	assert_int_equal(osp_buf_append(&b, "0123456789abcdefg", 17), OSP_ETOOBIG);
	assert_int_equal(b.len, 0);
	assert_int_equal(osp_buf_append(&b, NULL, SIZE_MAX), OSP_ETOOBIG);
	osp_buf_fini(&b);
	assert_null(b.data);
	osp_buf_fini(&b); /* twice is fine */
	osp_buf_fini(NULL);
}

static void test_util_buf_growth(void **state)
{
	osp_buf b;
	char chunk[1000];

	(void)state;
	osp_buf_init(&b, 0);
	for (int k = 0; k < 300; k++) {
		memset(chunk, 'a' + k % 26, sizeof(chunk));
		assert_int_equal(osp_buf_append(&b, chunk, sizeof(chunk)), OSP_OK);
	}
	assert_int_equal(b.len, 300000);
	assert_true(b.cap > b.len);
	assert_int_equal(b.data[b.len], '\0');
	for (int k = 0; k < 300; k++) {
		assert_int_equal(b.data[k * 1000], 'a' + k % 26);
		assert_int_equal(b.data[k * 1000 + 999], 'a' + k % 26);
	}
	osp_buf_reset(&b);
	/* longer than the 512-byte fast path of osp_buf_printf */
	memset(chunk, 'z', sizeof(chunk));
	chunk[sizeof(chunk) - 1] = '\0';
	assert_int_equal(osp_buf_printf(&b, "<%s|%d>", chunk, 42), OSP_OK);
	assert_int_equal(b.len, 999 + 5);
	assert_int_equal(b.data[0], '<');
	assert_string_equal(b.data + 1000, "|42>");
	osp_buf_fini(&b);
}

static void test_util_strlcpy(void **state)
{
	char dst[8];

	(void)state;
	assert_int_equal(osp_strlcpy(dst, "abc", sizeof(dst)), 3);
	assert_string_equal(dst, "abc");
	assert_int_equal(osp_strlcpy(dst, "abcdefgh", sizeof(dst)), 8);
	assert_string_equal(dst, "abcdefg");
	assert_int_equal(osp_strlcpy(dst, "abcdefghijk", 4), 11);
	assert_string_equal(dst, "abc");
	memset(dst, 'x', sizeof(dst));
	assert_int_equal(osp_strlcpy(dst, "abc", 0), 3);
	assert_int_equal(dst[0], 'x'); /* len 0 writes nothing */
	assert_int_equal(osp_strlcpy(dst, "", 1), 0);
	assert_string_equal(dst, "");
}

/* an id or argument echoed in an error keeps to its line */
static void test_util_str_show(void **state)
{
	char buf[32], small[12];

	(void)state;
	assert_string_equal(osp_str_show("web-1", buf, sizeof(buf)), "web-1");
	assert_string_equal(osp_str_show("a\nb\tc\rd", buf, sizeof(buf)), "a\\nb\\tc\\rd");
	assert_string_equal(osp_str_show("\x1b[2J\x7f", buf, sizeof(buf)), "\\x1b[2J\\x7f");
	assert_string_equal(osp_str_show(NULL, buf, sizeof(buf)), "");
	/* UTF-8 is kept; a cut says so and never splits a character */
	assert_string_equal(osp_str_show("r\xc3\xa9gion", buf, sizeof(buf)), "r\xc3\xa9gion");
	assert_string_equal(osp_str_show("0123456789AB", small, sizeof(small)), "01234567...");
	assert_string_equal(osp_str_show("0123456789A", small, sizeof(small)), "0123456789A");
	assert_string_equal(osp_str_show("0123456\xc3\xa9xyz", small, sizeof(small)),
		"0123456...");
	assert_string_equal(osp_str_show("\n\n\n\n\n\n", small, sizeof(small)), "\\n\\n\\n\\n...");
}

static void test_util_strdup_n(void **state)
{
	char *s;

	(void)state;
	s = osp_strdup_n("hello", 3);
	assert_string_equal(s, "hel");
	free(s);
	s = osp_strdup_n("hi", 100);
	assert_string_equal(s, "hi");
	free(s);
}

static void test_util_uuid_format(void **state)
{
	char a[OSP_UUID_LEN + 1], b[OSP_UUID_LEN + 1];

	(void)state;
	memset(a, 'x', sizeof(a));
	assert_int_equal(osp_uuid_new(a), OSP_OK);
	assert_int_equal(osp_uuid_new(b), OSP_OK);
	assert_int_equal(strlen(a), OSP_UUID_LEN);
	for (int k = 0; k < OSP_UUID_LEN; k++) {
		if (k == 8 || k == 13 || k == 18 || k == 23)
			assert_int_equal(a[k], '-');
		else
			assert_non_null(strchr("0123456789abcdef", a[k]));
	}
	assert_int_equal(a[14], '4');                  /* version 4 */
	assert_non_null(strchr("89ab", a[19]));         /* RFC 4122 variant */
	assert_string_not_equal(a, b);
}

static void test_util_hex_encode(void **state)
{
	static const uint8_t in[] = { 0x00, 0x0f, 0xa5, 0xff };
	char out[9];

	(void)state;
	osp_hex_encode(in, sizeof(in), out);
	assert_string_equal(out, "000fa5ff");
	osp_hex_encode(in, 0, out);
	assert_string_equal(out, "");
}

static void test_util_time_fmt(void **state)
{
	char buf[64];

	(void)state;
	osp_time_fmt(1700000000123LL, buf, sizeof(buf));
	assert_string_equal(buf, "2023-11-14T22:13:20.123Z");
	osp_time_fmt(1000, buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01T00:00:01.000Z");
	osp_time_fmt(0, buf, sizeof(buf));
	assert_string_equal(buf, "-");
}

static void test_util_valid_id(void **state)
{
	static const char *const good[] = { "a", "web-3", "A.b_c-d", "0node", "x.y.z" };
	static const char *const bad[] = { "", "-a", ".a", "_a", "a b", "a/b", "a:b",
					   "caf\xc3\xa9", "a\n", "a,b" };
	char max[65];

	(void)state;
	for (size_t k = 0; k < sizeof(good) / sizeof(good[0]); k++)
		assert_true(osp_valid_id(good[k]));
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		if (osp_valid_id(bad[k]))
			fail_msg("id '%s' was accepted", bad[k]);
	}
	assert_false(osp_valid_id(NULL));
	memset(max, 'a', 63);
	max[63] = '\0';
	assert_true(osp_valid_id(max));
	max[63] = 'a';
	max[64] = '\0';
	assert_false(osp_valid_id(max));
}

static void test_util_valid_label(void **state)
{
	char max[65];

	(void)state;
	assert_true(osp_valid_label("zone", "eu-west-1a"));
	assert_true(osp_valid_label("app.kubernetes.io/name", "web"));
	assert_true(osp_valid_label("tier", ""));
	assert_true(osp_valid_label("k", "a.b:c/d@e"));
	assert_false(osp_valid_label("", "v"));
	assert_false(osp_valid_label("/k", "v"));
	assert_false(osp_valid_label("k v", "v"));
	assert_false(osp_valid_label("k=", "v"));
	assert_false(osp_valid_label("k", "a,b"));
	assert_false(osp_valid_label("k", "a=b"));
	assert_false(osp_valid_label("k", "a b"));
	assert_false(osp_valid_label("k", "a\"b"));
	assert_false(osp_valid_label("k", "a\\b"));
	assert_false(osp_valid_label("k", "a\tb"));
	assert_false(osp_valid_label("k", "caf\xc3\xa9"));
	assert_false(osp_valid_label(NULL, "v"));
	assert_false(osp_valid_label("k", NULL));
	memset(max, 'v', 63);
	max[63] = '\0';
	assert_true(osp_valid_label("k", max));
	assert_true(osp_valid_label(max, "v"));
	max[63] = 'v';
	max[64] = '\0';
	assert_false(osp_valid_label("k", max));
	assert_false(osp_valid_label(max, "v"));
}

static void test_util_dir_lock(void **state)
{
	char dir[256];
	int fd1 = -1, fd2 = -1, fd3 = -1;
	struct stat st;
	char path[300];

	(void)state;
	make_tmpdir(dir, sizeof(dir));
	assert_int_equal(osp_dir_lock(dir, "lock", &fd1), OSP_OK);
	assert_true(fd1 >= 0);
	snprintf(path, sizeof(path), "%s/lock", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* flock locks belong to the open file description, so a second open
	 * in the same process is refused just like another process would be */
	assert_int_equal(osp_dir_lock(dir, "lock", &fd2), OSP_ELOCKED);
	assert_int_equal(fd2, -1);
	/* another name in the same directory is independent */
	assert_int_equal(osp_dir_lock(dir, "other", &fd3), OSP_OK);
	close(fd3);
	/* once released, the lock can be taken again */
	close(fd1);
	assert_int_equal(osp_dir_lock(dir, "lock", &fd2), OSP_OK);
	close(fd2);
	rm_tmpdir(dir);
	assert_int_equal(osp_dir_lock("/nonexistent-ospec-dir", "lock", &fd1), OSP_EIO);
}

static void test_util_mkdir_p(void **state)
{
	char dir[256], path[400];
	struct stat st;

	(void)state;
	make_tmpdir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/a/b/c", dir);
	assert_int_equal(osp_mkdir_p(path, 0700), OSP_OK);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(osp_mkdir_p(path, 0700), OSP_OK); /* already there */
	rmdir(path);
	snprintf(path, sizeof(path), "%s/a/b", dir);
	rmdir(path);
	rm_tmpdir(dir);
}

static void test_util_write_atomic(void **state)
{
	char dir[256], path[300];
	char *data = NULL;
	size_t len = 0;
	struct stat st;
	mode_t mask = umask(022);

	(void)state;
	umask(mask);
	make_tmpdir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/state.json", dir);
	assert_int_equal(osp_file_read(path, 0, &data, &len), OSP_ENOENT);

	assert_int_equal(osp_file_write_atomic(path, "first version", 13, 0640), OSP_OK);
	assert_int_equal(osp_file_read(path, 0, &data, &len), OSP_OK);
	assert_int_equal(len, 13);
	assert_string_equal(data, "first version");
	free(data);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640 & ~mask);

	/* overwrite with shorter content: nothing of the old file remains */
	assert_int_equal(osp_file_write_atomic(path, "v2", 2, 0640), OSP_OK);
	assert_int_equal(osp_file_read(path, 0, &data, &len), OSP_OK);
	assert_int_equal(len, 2);
	assert_string_equal(data, "v2");
	free(data);
	/* no temp file is left behind */
	assert_int_equal(count_entries(dir), 1);

	/* empty files read as an empty, NUL-terminated string */
	assert_int_equal(osp_file_write_atomic(path, "", 0, 0640), OSP_OK);
	assert_int_equal(osp_file_read(path, 0, &data, &len), OSP_OK);
	assert_int_equal(len, 0);
	assert_string_equal(data, "");
	free(data);

	/* a failed write leaves nothing behind */
	snprintf(path, sizeof(path), "%s/missing/state.json", dir);
	assert_int_equal(osp_file_write_atomic(path, "x", 1, 0640), OSP_EIO);
	assert_int_equal(count_entries(dir), 1);
	rm_tmpdir(dir);
}

static void test_util_file_read_max(void **state)
{
	char dir[256], path[300];
	char big[20000];
	char *data = NULL;
	size_t len = 0;

	(void)state;
	make_tmpdir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/big", dir);
	memset(big, 'b', sizeof(big));
	assert_int_equal(osp_file_write_atomic(path, big, sizeof(big), 0600), OSP_OK);
	assert_int_equal(osp_file_read(path, sizeof(big) - 1, &data, &len), OSP_ETOOBIG);
	assert_null(data);
	assert_int_equal(osp_file_read(path, sizeof(big), &data, &len), OSP_OK);
	assert_int_equal(len, sizeof(big));
	assert_memory_equal(data, big, sizeof(big));
	assert_int_equal(data[len], '\0');
	free(data);
	rm_tmpdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_util_duration_parse),
		cmocka_unit_test(test_util_duration_fmt),
		cmocka_unit_test(test_util_size_parse),
		cmocka_unit_test(test_util_u64_range),
		cmocka_unit_test(test_util_buf_cap),
		cmocka_unit_test(test_util_buf_growth),
		cmocka_unit_test(test_util_strlcpy),
		cmocka_unit_test(test_util_str_show),
		cmocka_unit_test(test_util_strdup_n),
		cmocka_unit_test(test_util_uuid_format),
		cmocka_unit_test(test_util_hex_encode),
		cmocka_unit_test(test_util_time_fmt),
		cmocka_unit_test(test_util_valid_id),
		cmocka_unit_test(test_util_valid_label),
		cmocka_unit_test(test_util_dir_lock),
		cmocka_unit_test(test_util_mkdir_p),
		cmocka_unit_test(test_util_write_atomic),
		cmocka_unit_test(test_util_file_read_max),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
