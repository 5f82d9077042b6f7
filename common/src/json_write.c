/* json_write.c - the JSON writer (ospec/json.h osp_jw_*): escaping, nesting
 * bounded by OSP_JSON_MAX_DEPTH, output into an osp_buf. */
#include "ospec/json.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "json_int.h"

void osp_jw_init(osp_jw *w, osp_buf *out)
{
	memset(w, 0, sizeof(*w));
	w->out = out;
}

osp_err osp_jw_err(const osp_jw *w)
{
	return w->err;
}

/* osp_jw_put appends len bytes, recording the first error. */
static void osp_jw_put(osp_jw *w, const char *s, size_t len)
{
	osp_err rv;

	if (w->err != OSP_OK)
		return;
	rv = osp_buf_append(w->out, s, len);
	if (rv != OSP_OK)
		w->err = rv;
}

/* osp_jw_sep writes the comma a value needs; false if the writer failed. */
static bool osp_jw_sep(osp_jw *w)
{
	if (w->err != OSP_OK)
		return false;
	if (w->after_key) {
		w->after_key = false;
		return true;
	}
	if (w->depth > 0) {
		if (w->need_comma[w->depth - 1])
			osp_jw_put(w, ",", 1);
		w->need_comma[w->depth - 1] = true;
	}
	return w->err == OSP_OK;
}

/* osp_jw_escape1 writes the escape for the byte c that cannot be written as is. */
static void osp_jw_escape1(osp_jw *w, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";
	static const char from[] = "\"\\\n\r\t\b\f", to[] = "\"\\nrtbf";
	const char *m = memchr(from, c, sizeof(from) - 1);
	char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf] };

	if (c >= 0x80) {
		osp_jw_put(w, "\xef\xbf\xbd", 3); /* invalid UTF-8 becomes U+FFFD */
	} else if (m != NULL) {
		esc[1] = to[m - from];
		osp_jw_put(w, esc, 2);
	} else {
		osp_jw_put(w, esc, 6);
	}
}

/* osp_jw_escaped writes s as a quoted JSON string. */
static void osp_jw_escaped(osp_jw *w, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, start = 0, seq;

	osp_jw_put(w, "\"", 1);
	while (i < n && w->err == OSP_OK) {
		unsigned char c = p[i];

		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
			i++;
			continue;
		}
		seq = c >= 0x80 ? osp_json_utf8_seq(p + i, n - i) : 0;
		if (seq > 0) {
			i += seq;
			continue;
		}
		/* flush the run of plain bytes, then the escape */
		osp_jw_put(w, s + start, i - start);
		osp_jw_escape1(w, c);
		start = ++i;
	}
	osp_jw_put(w, s + start, i - start);
	osp_jw_put(w, "\"", 1);
}

/* osp_jw_begin opens a container with the bracket ch. */
static void osp_jw_begin(osp_jw *w, const char *ch)
{
	if (!osp_jw_sep(w))
		return;
	if (w->depth >= OSP_JSON_MAX_DEPTH) {
		w->err = OSP_ETOOBIG;
		return;
	}
	osp_jw_put(w, ch, 1);
	w->need_comma[w->depth] = false;
	w->depth++;
}

/* osp_jw_end closes a container with the bracket ch. */
static void osp_jw_end(osp_jw *w, const char *ch)
{
	if (w->err != OSP_OK)
		return;
	if (w->depth == 0 || w->after_key) {
		/* nothing open, or a key without its value */
		w->err = OSP_EINVAL;
		return;
	}
	w->depth--;
	osp_jw_put(w, ch, 1);
}

void osp_jw_obj_begin(osp_jw *w)
{
	osp_jw_begin(w, "{");
}

void osp_jw_obj_end(osp_jw *w)
{
	osp_jw_end(w, "}");
}

void osp_jw_arr_begin(osp_jw *w)
{
	osp_jw_begin(w, "[");
}

void osp_jw_arr_end(osp_jw *w)
{
	osp_jw_end(w, "]");
}

void osp_jw_key(osp_jw *w, const char *key)
{
	if (w->err != OSP_OK)
		return;
	if (key == NULL || w->depth == 0 || w->after_key) {
		w->err = OSP_EINVAL;
		return;
	}
	if (w->need_comma[w->depth - 1])
		osp_jw_put(w, ",", 1);
	w->need_comma[w->depth - 1] = true;
	osp_jw_escaped(w, key);
	osp_jw_put(w, ":", 1);
	w->after_key = true;
}

void osp_jw_str(osp_jw *w, const char *s)
{
	if (s == NULL) {
		osp_jw_null(w);
		return;
	}
	if (osp_jw_sep(w))
		osp_jw_escaped(w, s);
}

void osp_jw_int(osp_jw *w, int64_t v)
{
	char num[32];
	int n;

	if (!osp_jw_sep(w))
		return;
	n = snprintf(num, sizeof(num), "%" PRId64, v);
	osp_jw_put(w, num, (size_t)n);
}

void osp_jw_uint(osp_jw *w, uint64_t v)
{
	char num[32];
	int n;

	if (!osp_jw_sep(w))
		return;
	n = snprintf(num, sizeof(num), "%" PRIu64, v);
	osp_jw_put(w, num, (size_t)n);
}

void osp_jw_bool(osp_jw *w, bool v)
{
	if (osp_jw_sep(w))
		osp_jw_put(w, v ? "true" : "false", v ? 4 : 5);
}

void osp_jw_null(osp_jw *w)
{
	if (osp_jw_sep(w))
		osp_jw_put(w, "null", 4);
}

void osp_jw_raw(osp_jw *w, const char *json, size_t len)
{
	if (w->err != OSP_OK)
		return;
	if (json == NULL || len == 0) {
		w->err = OSP_EINVAL;
		return;
	}
	if (osp_jw_sep(w))
		osp_jw_put(w, json, len);
}
