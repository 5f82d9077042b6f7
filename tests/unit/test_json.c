/* test_json.c - unit tests for the JSON writer and parser (common/src/json.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ospec/json.h"

/* ---------------------------------------------------------------- helpers */

/* parse_ok parses NUL-terminated text and fails the test on error. */
static osp_json *parse_ok(const char *text)
{
	char err[128] = "";
	osp_json *j = NULL;
	osp_err rv = osp_json_parse(text, strlen(text), &j, err, sizeof(err));

	if (rv != OSP_OK)
		fail_msg("parse of '%s' failed: %s (%s)", text, osp_strerror(rv), err);
	assert_non_null(j);
	return j;
}

/* parse_err parses len bytes of text, expects rv, and returns the message. */
static void parse_err(const char *text, size_t len, osp_err want, char *err, size_t errlen)
{
	osp_json *j = (osp_json *)(uintptr_t)1; /* must be reset to NULL */
	osp_err rv = osp_json_parse(text, len, &j, err, errlen);

	if (rv != want) {
		osp_json_free(rv == OSP_OK ? j : NULL);
		fail_msg("parse of '%.*s': got %s, want %s", (int)len, text, osp_strerror(rv),
			 osp_strerror(want));
	}
	assert_null(j);
}

/* parse_msg expects text to fail with OSP_EDECODE and exactly message msg. */
static void parse_msg(const char *text, const char *msg)
{
	char err[128];

	parse_err(text, strlen(text), OSP_EDECODE, err, sizeof(err));
	assert_string_equal(err, msg);
}

/* ---------------------------------------------------------------- writer */

static void test_json_writer_nesting(void **state)
{
	osp_buf b;
	osp_jw w;

	(void)state;
	osp_buf_init(&b, 0);
	osp_jw_init(&w, &b);
	osp_jw_obj_begin(&w);
	osp_jw_key(&w, "name");
	osp_jw_str(&w, "web-3");
	osp_jw_key(&w, "ports");
	osp_jw_arr_begin(&w);
	osp_jw_int(&w, 80);
	osp_jw_int(&w, -1);
	osp_jw_arr_begin(&w);
	osp_jw_arr_end(&w);
	osp_jw_obj_begin(&w);
	osp_jw_obj_end(&w);
	osp_jw_arr_end(&w);
	osp_jw_key(&w, "ok");
	osp_jw_bool(&w, true);
	osp_jw_key(&w, "bad");
	osp_jw_bool(&w, false);
	osp_jw_key(&w, "none");
	osp_jw_null(&w);
	osp_jw_key(&w, "nil");
	osp_jw_str(&w, NULL);
	osp_jw_key(&w, "sub");
	osp_jw_obj_begin(&w);
	osp_jw_key(&w, "n");
	osp_jw_uint(&w, 7);
	osp_jw_obj_end(&w);
	osp_jw_obj_end(&w);
	assert_int_equal(osp_jw_err(&w), OSP_OK);
	assert_string_equal(b.data, "{\"name\":\"web-3\",\"ports\":[80,-1,[],{}],\"ok\":true,"
				    "\"bad\":false,\"none\":null,\"nil\":null,\"sub\":{\"n\":7}}");
	osp_buf_fini(&b);
}

static void test_json_writer_escapes(void **state)
{
	osp_buf b;
	osp_jw w;

	(void)state;
	osp_buf_init(&b, 0);
	osp_jw_init(&w, &b);
	osp_jw_arr_begin(&w);
	osp_jw_str(&w, "q\"b\\s/n\nr\rt\tb\bf\f");
	osp_jw_str(&w, "\x01\x1f\x7f end");
	osp_jw_str(&w, "");
	osp_jw_arr_end(&w);
	assert_int_equal(osp_jw_err(&w), OSP_OK);
	assert_string_equal(b.data, "[\"q\\\"b\\\\s/n\\nr\\rt\\tb\\bf\\f\","
				    "\"\\u0001\\u001f\x7f end\",\"\"]");
	osp_buf_fini(&b);
}

static void test_json_writer_keys_escaped(void **state)
{
	osp_buf b;
	osp_jw w;

	(void)state;
	osp_buf_init(&b, 0);
	osp_jw_init(&w, &b);
	osp_jw_obj_begin(&w);
	osp_jw_key(&w, "a\"b\n");
	osp_jw_int(&w, 1);
	osp_jw_key(&w, "\xff");
	osp_jw_int(&w, 2);
	osp_jw_obj_end(&w);
	assert_int_equal(osp_jw_err(&w), OSP_OK);
	assert_string_equal(b.data, "{\"a\\\"b\\n\":1,\"\xef\xbf\xbd\":2}");
	osp_buf_fini(&b);
}

static void test_json_writer_invalid_utf8(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80" },
		{ "a\xff" "b", "a\xef\xbf\xbd" "b" },
		{ "\x80", "\xef\xbf\xbd" },
		{ "x\xc3", "x\xef\xbf\xbd" },                                 /* truncated */
		{ "\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd" },                    /* overlong '/' */
		{ "\xe0\x80\xaf", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },    /* overlong */
		{ "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },    /* surrogate */
		{ "\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
		{ "\xe2\x82" "a", "\xef\xbf\xbd\xef\xbf\xbd" "a" },
		{ "\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf" }, /* U+10FFFF is fine */
	};
	osp_buf b;
	osp_jw w;
	char want[64];

	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		osp_buf_init(&b, 0);
		osp_jw_init(&w, &b);
		osp_jw_str(&w, cases[k].in);
		assert_int_equal(osp_jw_err(&w), OSP_OK);
		snprintf(want, sizeof(want), "\"%s\"", cases[k].out);
		assert_string_equal(b.data, want);
		osp_buf_fini(&b);
	}
}

static void test_json_writer_big_ints(void **state)
{
	osp_buf b;
	osp_jw w;

	(void)state;
	osp_buf_init(&b, 0);
	osp_jw_init(&w, &b);
	osp_jw_arr_begin(&w);
	osp_jw_int(&w, INT64_MIN);
	osp_jw_int(&w, INT64_MAX);
	osp_jw_uint(&w, UINT64_MAX);
	osp_jw_int(&w, 0);
	osp_jw_arr_end(&w);
	assert_int_equal(osp_jw_err(&w), OSP_OK);
	assert_string_equal(b.data, "[-9223372036854775808,9223372036854775807,"
				    "18446744073709551615,0]");
	osp_buf_fini(&b);
}

static void test_json_writer_raw(void **state)
{
	osp_buf b;
	osp_jw w;

	(void)state;
	osp_buf_init(&b, 0);
	osp_jw_init(&w, &b);
	osp_jw_obj_begin(&w);
	osp_jw_key(&w, "a");
	osp_jw_raw(&w, "[1,2]xx", 5);
	osp_jw_key(&w, "b");
	osp_jw_raw(&w, "{}", 2);
	osp_jw_obj_end(&w);
	assert_int_equal(osp_jw_err(&w), OSP_OK);
	assert_string_equal(b.data, "{\"a\":[1,2],\"b\":{}}");
	osp_jw_raw(&w, NULL, 3);
	assert_int_equal(osp_jw_err(&w), OSP_EINVAL);
	osp_buf_fini(&b);
}

static void test_json_writer_cap_is_sticky(void **state)
{
	osp_buf b;
	osp_jw w;
	size_t len;

	(void)state;
	osp_buf_init(&b, 16);
	osp_jw_init(&w, &b);
	osp_jw_arr_begin(&w);
	osp_jw_str(&w, "0123456789");
	assert_int_equal(osp_jw_err(&w), OSP_OK);
	osp_jw_str(&w, "0123456789");
	assert_int_equal(osp_jw_err(&w), OSP_ETOOBIG);
	len = b.len;
	assert_true(len <= 16);
	/* later calls, even small ones that would fit, change nothing */
	osp_jw_arr_end(&w);
	osp_jw_int(&w, 1);
	assert_int_equal(osp_jw_err(&w), OSP_ETOOBIG);
	assert_int_equal(b.len, len);
	osp_buf_fini(&b);
}

static void test_json_writer_depth_limit(void **state)
{
	osp_buf b;
	osp_jw w;

	(void)state;
	osp_buf_init(&b, 0);
	osp_jw_init(&w, &b);
	for (int k = 0; k < 64; k++)
		osp_jw_arr_begin(&w);
	assert_int_equal(osp_jw_err(&w), OSP_OK);
	for (int k = 0; k < 64; k++)
		osp_jw_arr_end(&w);
	assert_int_equal(osp_jw_err(&w), OSP_OK);
	assert_int_equal(b.len, 128);
	osp_jw_arr_begin(&w);
	for (int k = 0; k < 64; k++)
		osp_jw_obj_begin(&w);
	assert_int_equal(osp_jw_err(&w), OSP_ETOOBIG);
	osp_buf_fini(&b);
}

static void test_json_writer_misuse(void **state)
{
	osp_buf b;
	osp_jw w;

	(void)state;
	osp_buf_init(&b, 0);
	osp_jw_init(&w, &b);
	osp_jw_arr_end(&w); /* nothing open */
	assert_int_equal(osp_jw_err(&w), OSP_EINVAL);

	osp_jw_init(&w, &b);
	osp_jw_key(&w, "top"); /* a key outside any object */
	assert_int_equal(osp_jw_err(&w), OSP_EINVAL);

	osp_jw_init(&w, &b);
	osp_jw_obj_begin(&w);
	osp_jw_key(&w, "a");
	osp_jw_obj_end(&w); /* key without a value */
	assert_int_equal(osp_jw_err(&w), OSP_EINVAL);

	osp_jw_init(&w, &b);
	osp_jw_obj_begin(&w);
	osp_jw_key(&w, "a");
	osp_jw_key(&w, "b"); /* two keys in a row */
	assert_int_equal(osp_jw_err(&w), OSP_EINVAL);
	osp_buf_fini(&b);
}

/* ---------------------------------------------------------------- round trips */

static void test_json_roundtrip(void **state)
{
	char ctl[32];
	osp_buf b;
	osp_jw w;
	osp_json *j;
	const osp_json *a;

	(void)state;
	for (int k = 1; k < 32; k++)
		ctl[k - 1] = (char)k;
	ctl[31] = '\0';
	osp_buf_init(&b, 0);
	osp_jw_init(&w, &b);
	osp_jw_obj_begin(&w);
	osp_jw_key(&w, "ctl");
	osp_jw_str(&w, ctl);
	osp_jw_key(&w, "q\"\\");
	osp_jw_str(&w, "caf\xc3\xa9 \xf0\x9f\x98\x80 \"\\/");
	osp_jw_key(&w, "bad");
	osp_jw_str(&w, "a\xff");
	osp_jw_key(&w, "min");
	osp_jw_int(&w, INT64_MIN);
	osp_jw_key(&w, "max");
	osp_jw_int(&w, INT64_MAX);
	osp_jw_key(&w, "list");
	osp_jw_arr_begin(&w);
	osp_jw_bool(&w, true);
	osp_jw_null(&w);
	osp_jw_str(&w, "x");
	osp_jw_arr_end(&w);
	osp_jw_obj_end(&w);
	assert_int_equal(osp_jw_err(&w), OSP_OK);

	j = parse_ok(b.data);
	assert_int_equal(j->type, OSP_JSON_OBJ);
	assert_int_equal(j->n, 6);
	assert_string_equal(osp_json_get_str(j, "ctl"), ctl);
	assert_string_equal(osp_json_get_str(j, "q\"\\"), "caf\xc3\xa9 \xf0\x9f\x98\x80 \"\\/");
	assert_string_equal(osp_json_get_str(j, "bad"), "a\xef\xbf\xbd");
	assert_true(osp_json_get_int(j, "min", 0) == INT64_MIN);
	assert_true(osp_json_get_int(j, "max", 0) == INT64_MAX);
	a = osp_json_get(j, "list");
	assert_non_null(a);
	assert_int_equal(a->type, OSP_JSON_ARR);
	assert_int_equal(a->n, 3);
	assert_int_equal(a->items[0]->type, OSP_JSON_BOOL);
	assert_true(a->items[0]->b);
	assert_int_equal(a->items[1]->type, OSP_JSON_NULL);
	assert_string_equal(a->items[2]->str, "x");
	assert_null(a->items[2]->key);
	osp_json_free(j);
	osp_buf_fini(&b);
}

/* next_rand is a small deterministic PRNG (xorshift32) so failures repeat. */
static uint32_t next_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* put_utf8 encodes cp at d and returns the bytes written. */
static size_t put_utf8(char *d, uint32_t cp)
{
	if (cp < 0x80) {
		d[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		d[0] = (char)(0xc0 | (cp >> 6));
		d[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		d[0] = (char)(0xe0 | (cp >> 12));
		d[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		d[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	d[0] = (char)(0xf0 | (cp >> 18));
	d[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	d[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	d[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static void test_json_roundtrip_random_strings(void **state)
{
	uint32_t seed = 12345;
	char s[200];

	(void)state;
	for (int round = 0; round < 2000; round++) {
		bool utf8 = round % 2 == 0;
		size_t n = 0, want = next_rand(&seed) % 40;
		osp_buf b;
		osp_jw w;
		osp_json *j;

		/* even rounds: valid UTF-8 code points; odd rounds: any bytes 1..255 */
		for (size_t k = 0; k < want; k++) {
			uint32_t cp = next_rand(&seed) % 0x110000;
			if (!utf8)
				s[n++] = (char)(1 + next_rand(&seed) % 255);
			else if (cp != 0 && (cp < 0xd800 || cp > 0xdfff))
				n += put_utf8(s + n, cp);
		}
		s[n] = '\0';
		osp_buf_init(&b, 0);
		osp_jw_init(&w, &b);
		osp_jw_str(&w, s);
		assert_int_equal(osp_jw_err(&w), OSP_OK);
		j = parse_ok(b.data);
		assert_int_equal(j->type, OSP_JSON_STR);
		if (utf8)
			assert_string_equal(j->str, s);
		osp_json_free(j);
		osp_buf_fini(&b);
	}
}

/* ---------------------------------------------------------------- parser */

static void test_json_parse_scalars(void **state)
{
	osp_json *j;

	(void)state;
	j = parse_ok(" \t\r\n true \n");
	assert_int_equal(j->type, OSP_JSON_BOOL);
	assert_true(j->b);
	osp_json_free(j);
	j = parse_ok("false");
	assert_int_equal(j->type, OSP_JSON_BOOL);
	assert_false(j->b);
	osp_json_free(j);
	j = parse_ok("null");
	assert_int_equal(j->type, OSP_JSON_NULL);
	osp_json_free(j);
	j = parse_ok("\"\"");
	assert_int_equal(j->type, OSP_JSON_STR);
	assert_string_equal(j->str, "");
	osp_json_free(j);
	j = parse_ok("[]");
	assert_int_equal(j->type, OSP_JSON_ARR);
	assert_int_equal(j->n, 0);
	osp_json_free(j);
	j = parse_ok("{ }");
	assert_int_equal(j->type, OSP_JSON_OBJ);
	assert_int_equal(j->n, 0);
	osp_json_free(j);
}

static void test_json_parse_numbers(void **state)
{
	static const struct {
		const char *text;
		double num;
		int64_t i;
	} cases[] = {
		{ "0", 0, 0 },       { "-0", 0, 0 },           { "42", 42, 42 },
		{ "-17", -17, -17 }, { "1.5", 1.5, 0 },        { "-0.25", -0.25, 0 },
		{ "1e3", 1000, 1000 }, { "2E+2", 200, 200 },   { "-1e-2", -0.01, 0 },
		{ "1.0", 1, 1 },     { "10.50e1", 105, 105 },  { "1e-400", 0, 0 },
	};
	osp_json *j;

	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		j = parse_ok(cases[k].text);
		assert_int_equal(j->type, OSP_JSON_NUM);
		if (j->num != cases[k].num)
			fail_msg("'%s': num %g, want %g", cases[k].text, j->num, cases[k].num);
		assert_true(j->i == cases[k].i);
		osp_json_free(j);
	}
}

static void test_json_parse_big_ints(void **state)
{
	osp_json *j;

	(void)state;
	j = parse_ok("{\"max\":9223372036854775807,\"min\":-9223372036854775808,"
		     "\"odd\":9007199254740993,\"over\":9223372036854775808,"
		     "\"under\":-9223372036854775809,\"u64\":18446744073709551615,"
		     "\"wrap\":18446744073709551617,\"huge\":1e300,\"frac\":2.5,\"exp\":3e2,\"str\":\"5\"}");
	assert_true(osp_json_get_int(j, "max", 0) == INT64_MAX);
	assert_true(osp_json_get_int(j, "min", 0) == INT64_MIN);
	/* beyond double precision, but i keeps every digit */
	assert_true(osp_json_get_int(j, "odd", 0) == 9007199254740993LL);
	assert_true(osp_json_get_int(j, "over", -7) == -7);
	assert_true(osp_json_get_int(j, "under", -7) == -7);
	assert_true(osp_json_get_int(j, "u64", -7) == -7);
	assert_true(osp_json_get(j, "u64")->num == 18446744073709551615.0);
	/* i is 0 when num is not an integer in int64 range (no wrap-around) */
	assert_true(osp_json_get(j, "over")->i == 0);
	assert_true(osp_json_get(j, "u64")->i == 0);
	assert_true(osp_json_get(j, "wrap")->i == 0);
	assert_true(osp_json_get_int(j, "huge", -7) == -7);
	assert_true(osp_json_get_int(j, "frac", -7) == -7);
	assert_true(osp_json_get_int(j, "exp", -7) == 300);
	assert_true(osp_json_get_int(j, "str", -7) == -7);
	assert_true(osp_json_get_int(j, "missing", -7) == -7);
	osp_json_free(j);
}

static void test_json_parse_unicode(void **state)
{
	static const struct {
		const char *text, *str;
	} cases[] = {
		{ "\"\\u00e9\"", "\xc3\xa9" },
		{ "\"\\u20AC\"", "\xe2\x82\xac" },
		{ "\"\\u0041\\u007f\"", "A\x7f" },
		{ "\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80" },
		{ "\"\\uDBFF\\uDFFF\"", "\xf4\x8f\xbf\xbf" },
		{ "\"\\uffff\"", "\xef\xbf\xbf" },
		{ "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"", "caf\xc3\xa9 \xf0\x9f\x98\x80" },
		{ "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t" },
	};
	osp_json *j;

	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		j = parse_ok(cases[k].text);
		assert_int_equal(j->type, OSP_JSON_STR);
		assert_string_equal(j->str, cases[k].str);
		osp_json_free(j);
	}
}

static void test_json_parse_rejects(void **state)
{
	static const char *const bad[] = {
		"", "   ", "[1,]", "{\"a\":1,}", "[,1]", "{,}", "{\"a\" 1}", "{a:1}",
		"{\"a\":}", "{1:2}", "01", "-01", "00", "1.", ".5", "+1", "-", "1e", "1e+",
		"1.e3", "0x10", "[1 2]", "{\"a\":1 \"b\":2}", "// c\n1", "/* c */1", "[1]//",
		"tru", "nul", "True", "NULL", "NaN", "Infinity", "-Infinity", "'a'", "\"abc",
		"\"\\x\"", "\"\\u12\"", "\"\\u12G4\"", "\"\\U0041\"", "\"\\ud800\"", "\"\\udc00\"",
		"\"\\ud800\\u0041\"", "\"\\ud800\\ud800\"", "\"\\udbff\"x", "\"a\x01\"",
		"\"a\tb\"", "\"a\nb\"", "\"\x7f\x1f\"", "\"\xff\"", "\"\xc0\xaf\"",
		"\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\"\xe2\x82\"", "\"\xf8\x88\x80\x80\x80\"",
		"\"\\u0000\"", "1e400", "-1e400", "[", "{", "{\"a\"", "{\"a\":", "[1,", "]", "}",
		"1 2", "[]]", "{}x", "\"a\"\"b\"", "[1,2", "\xef\xbb\xbf" "1", "\x0c" "1",
		"[\"a\":1]", "{\"a\",1}",
	};
	char err[128];

	(void)state;
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		err[0] = '\0';
		parse_err(bad[k], strlen(bad[k]), OSP_EDECODE, err, sizeof(err));
		if (strncmp(err, "offset ", 7) != 0)
			fail_msg("'%s': message '%s' does not say where", bad[k], err);
	}
	/* a NUL byte inside the given length is not the end of the text */
	parse_err("1\0", 2, OSP_EDECODE, err, sizeof(err));
	parse_err("\"a\0b\"", 5, OSP_EDECODE, err, sizeof(err));
}

static void test_json_parse_error_messages(void **state)
{
	(void)state;
	parse_msg("{\"a\" 1}", "offset 5: expected ':' after object key");
	parse_msg("{\"a\":1 \"b\":2}", "offset 7: expected ',' or '}' in object");
	parse_msg("[1 2]", "offset 3: expected ',' or ']' in array");
	parse_msg("[1,]", "offset 3: trailing comma");
	parse_msg("{\"a\":1,}", "offset 7: trailing comma");
	parse_msg("{a:1}", "offset 1: expected string key in object");
	parse_msg("", "offset 0: expected a value");
	parse_msg("  // x", "offset 2: expected a value");
	parse_msg("[01]", "offset 1: leading zeros are not allowed");
	parse_msg("1.x", "offset 2: expected digits after '.'");
	parse_msg("1e+", "offset 3: expected digits in exponent");
	parse_msg("1 x", "offset 2: unexpected data after the value");
	parse_msg("  \"abc", "offset 2: unterminated string");
	parse_msg("\"ab\\q\"", "offset 3: invalid escape in string");
	parse_msg("\"a\\ud800b\"", "offset 2: lone high surrogate in \\u escape");
	parse_msg("\"\\udc00\"", "offset 1: lone low surrogate in \\u escape");
	parse_msg("\"\\u00g0\"", "offset 1: expected 4 hex digits after \\u");
	parse_msg("\"ab\x01\"", "offset 3: control character in string");
	parse_msg("\"ab\xc3(\"", "offset 3: invalid UTF-8 in string");
	parse_msg("[1e999]", "offset 1: number out of range");
}

static void test_json_parse_error_buffer(void **state)
{
	char small[12];
	osp_json *j = NULL;

	(void)state;
	/* a short buffer is truncated, not overrun; no buffer at all is fine */
	memset(small, 'x', sizeof(small));
	assert_int_equal(osp_json_parse("{\"a\" 1}", 7, &j, small, sizeof(small)), OSP_EDECODE);
	assert_string_equal(small, "offset 5: e");
	assert_int_equal(osp_json_parse("{\"a\" 1}", 7, &j, NULL, 0), OSP_EDECODE);
	assert_null(j);
	/* success clears a stale message */
	assert_int_equal(osp_json_parse("1", 1, &j, small, sizeof(small)), OSP_OK);
	assert_string_equal(small, "");
	osp_json_free(j);
	assert_int_equal(osp_json_parse("1", 1, NULL, NULL, 0), OSP_EINVAL);
	assert_int_equal(osp_json_parse(NULL, 3, &j, NULL, 0), OSP_EINVAL);
	assert_int_equal(osp_json_parse(NULL, 0, &j, NULL, 0), OSP_EDECODE);
}

static void test_json_parse_exact_length(void **state)
{
	static const char *const texts[] = { "123", "-", "tru", "\"ab", "\"a\\", "\"\\u12",
					     "\"\\ud800\\u", "[1,", "{\"k\"", "1e", "\"\xe2\x82" };
	osp_json *j = NULL;

	(void)state;
	/* input without a NUL after it: valgrind/ASan catch any read past len */
	for (size_t k = 0; k < sizeof(texts) / sizeof(texts[0]); k++) {
		size_t n = strlen(texts[k]);
		char *copy = malloc(n);
		osp_err rv;

		assert_non_null(copy);
		memcpy(copy, texts[k], n);
		rv = osp_json_parse(copy, n, &j, NULL, 0);
		assert_int_equal(rv, k == 0 ? OSP_OK : OSP_EDECODE);
		if (k == 0)
			assert_true(j->i == 123);
		osp_json_free(j);
		j = NULL;
		free(copy);
	}
	/* only the first len bytes count */
	assert_int_equal(osp_json_parse("12345", 2, &j, NULL, 0), OSP_OK);
	assert_true(j->i == 12);
	osp_json_free(j);
}

/* nest builds n copies of open followed by n copies of close. */
static char *nest(const char *open, const char *mid, const char *close, size_t n)
{
	osp_buf b;

	osp_buf_init(&b, 0);
	for (size_t k = 0; k < n; k++)
		assert_int_equal(osp_buf_puts(&b, open), OSP_OK);
	assert_int_equal(osp_buf_puts(&b, mid), OSP_OK);
	for (size_t k = 0; k < n; k++)
		assert_int_equal(osp_buf_puts(&b, close), OSP_OK);
	return b.data;
}

static void test_json_parse_depth_limit(void **state)
{
	char err[128];
	char *t;
	osp_json *j;
	const osp_json *c;

	(void)state;
	t = nest("[", "1", "]", 64);
	j = parse_ok(t);
	c = j;
	for (int k = 1; k < 64; k++)
		c = c->items[0];
	assert_int_equal(c->items[0]->type, OSP_JSON_NUM);
	osp_json_free(j);
	free(t);

	t = nest("[", "1", "]", 65);
	parse_err(t, strlen(t), OSP_ETOOBIG, err, sizeof(err));
	assert_string_equal(err, "offset 64: nesting deeper than 64");
	free(t);

	t = nest("{\"a\":", "{}", "}", 63);
	osp_json_free(parse_ok(t));
	free(t);
	t = nest("{\"a\":", "{}", "}", 64);
	parse_err(t, strlen(t), OSP_ETOOBIG, err, sizeof(err));
	assert_string_equal(err, "offset 320: nesting deeper than 64");
	free(t);
}

static void test_json_parse_depth_bomb(void **state)
{
	size_t n = 100000;
	char *t = malloc(n);
	char err[128];

	(void)state;
	assert_non_null(t);
	/* refused where the limit is hit, long before the end of the input */
	memset(t, '[', n);
	parse_err(t, n, OSP_ETOOBIG, err, sizeof(err));
	assert_string_equal(err, "offset 64: nesting deeper than 64");
	for (size_t k = 0; k < n; k++)
		t[k] = "{\"\":"[k % 4];
	parse_err(t, n, OSP_ETOOBIG, err, sizeof(err));
	assert_string_equal(err, "offset 256: nesting deeper than 64");
	free(t);
}

/* zeros builds an array of n zeros. */
static char *zeros(size_t n, size_t *len)
{
	char *t = malloc(2 * n + 2);

	assert_non_null(t);
	t[0] = '[';
	for (size_t k = 0; k < n; k++) {
		t[1 + 2 * k] = '0';
		t[2 + 2 * k] = ',';
	}
	t[2 * n] = ']';
	*len = 2 * n + 1;
	return t;
}

static void test_json_parse_value_limit(void **state)
{
	char err[128];
	osp_json *j = NULL;
	size_t len;
	char *t;

	(void)state;
	/* the array plus 999,999 numbers: exactly 1,000,000 values */
	t = zeros(999999, &len);
	assert_int_equal(osp_json_parse(t, len, &j, err, sizeof(err)), OSP_OK);
	assert_int_equal(j->n, 999999);
	osp_json_free(j);
	free(t);

	t = zeros(1000000, &len);
	parse_err(t, len, OSP_ETOOBIG, err, sizeof(err));
	assert_string_equal(err, "offset 1999999: more than 1000000 values");
	free(t);
}

static void test_json_get(void **state)
{
	osp_json *j;
	const osp_json *m;

	(void)state;
	j = parse_ok("{\"s\":\"v\",\"n\":5,\"o\":{\"x\":\"y\"},\"a\\u0062\":\"esc\","
		     "\"dup\":1,\"dup\":2,\"nul\":null}");
	assert_string_equal(osp_json_get_str(j, "s"), "v");
	assert_null(osp_json_get_str(j, "n"));
	assert_null(osp_json_get_str(j, "nul"));
	assert_null(osp_json_get_str(j, "missing"));
	assert_true(osp_json_get_int(j, "n", 0) == 5);
	assert_true(osp_json_get_int(j, "s", 9) == 9);
	assert_string_equal(osp_json_get_str(j, "ab"), "esc");
	assert_true(osp_json_get_int(j, "dup", 0) == 2); /* the last one wins */
	m = osp_json_get(j, "o");
	assert_non_null(m);
	assert_string_equal(m->key, "o");
	assert_string_equal(osp_json_get_str(m, "x"), "y");
	assert_null(osp_json_get(j, "x")); /* no recursive lookup */
	assert_null(osp_json_get(j, NULL));
	assert_null(osp_json_get(NULL, "s"));
	assert_null(osp_json_get_str(NULL, "s"));
	assert_true(osp_json_get_int(NULL, "n", 3) == 3);
	/* not an object */
	assert_null(osp_json_get(osp_json_get(j, "s"), "s"));
	osp_json_free(j);

	j = parse_ok("[{\"a\":1}]");
	assert_null(osp_json_get(j, "a"));
	osp_json_free(j);
	osp_json_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_writer_nesting),
		cmocka_unit_test(test_json_writer_escapes),
		cmocka_unit_test(test_json_writer_keys_escaped),
		cmocka_unit_test(test_json_writer_invalid_utf8),
		cmocka_unit_test(test_json_writer_big_ints),
		cmocka_unit_test(test_json_writer_raw),
		cmocka_unit_test(test_json_writer_cap_is_sticky),
		cmocka_unit_test(test_json_writer_depth_limit),
		cmocka_unit_test(test_json_writer_misuse),
		cmocka_unit_test(test_json_roundtrip),
		cmocka_unit_test(test_json_roundtrip_random_strings),
		cmocka_unit_test(test_json_parse_scalars),
		cmocka_unit_test(test_json_parse_numbers),
		cmocka_unit_test(test_json_parse_big_ints),
		cmocka_unit_test(test_json_parse_unicode),
		cmocka_unit_test(test_json_parse_rejects),
		cmocka_unit_test(test_json_parse_error_messages),
		cmocka_unit_test(test_json_parse_error_buffer),
		cmocka_unit_test(test_json_parse_exact_length),
		cmocka_unit_test(test_json_parse_depth_limit),
		cmocka_unit_test(test_json_parse_depth_bomb),
		cmocka_unit_test(test_json_parse_value_limit),
		cmocka_unit_test(test_json_get),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
