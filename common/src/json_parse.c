/* json_parse.c - a bounded, strict RFC 8259 JSON parser (ospec/json.h
 * osp_json_parse) into the tree of json.c. */
#include "ospec/json.h"

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_int.h"

#define OSP_JSON_MAX_VALUES 1000000

typedef struct osp_json_parser {
	const unsigned char *s;
	size_t len;
	size_t pos;
	size_t count; /* values created so far */
	char *err;
	size_t errlen;
} osp_json_parser;

static osp_err osp_json_value(osp_json_parser *p, int depth, osp_json **out);

/* osp_json_fail writes "offset N: what" and returns rv. */
static osp_err osp_json_fail(osp_json_parser *p, size_t at, osp_err rv, const char *what)
{
	if (p->err != NULL && p->errlen > 0)
		snprintf(p->err, p->errlen, "offset %zu: %s", at, what);
	return rv;
}

/* osp_json_peek returns the byte at pos, or -1 at the end of the input. */
static int osp_json_peek(const osp_json_parser *p)
{
	return p->pos < p->len ? p->s[p->pos] : -1;
}

/* osp_json_ws skips the four JSON whitespace characters. */
static void osp_json_ws(osp_json_parser *p)
{
	while (p->pos < p->len) {
		unsigned char c = p->s[p->pos];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		p->pos++;
	}
}

/* osp_json_new allocates a node, enforcing the value-count limit. */
static osp_err osp_json_new(osp_json_parser *p, osp_json_type type, osp_json **out)
{
	osp_json *j;

	if (p->count >= OSP_JSON_MAX_VALUES)
		return osp_json_fail(p, p->pos, OSP_ETOOBIG, "more than 1000000 values");
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return osp_json_fail(p, p->pos, OSP_ENOMEM, "out of memory");
	p->count++;
	j->type = type;
	*out = j;
	return OSP_OK;
}

/* osp_json_hex4 reads four hex digits at s. Returns -1 if they are not. */
static long osp_json_hex4(const unsigned char *s)
{
	long v = 0;

	for (int k = 0; k < 4; k++) {
		unsigned char c = s[k];
		int d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* osp_json_put_utf8 encodes code point cp at d; returns the bytes written. */
static size_t osp_json_put_utf8(char *d, unsigned long cp)
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

/*
 * osp_json_unicode decodes the \uXXXX escape (and a following low surrogate)
 * at p->pos, which points at the 'u'. Appends UTF-8 at *d.
 */
static osp_err osp_json_unicode(osp_json_parser *p, char **d)
{
	size_t at = p->pos - 1; /* the backslash */
	long hi, lo;

	hi = p->len - p->pos < 5 ? -1 : osp_json_hex4(p->s + p->pos + 1);
	if (hi < 0)
		return osp_json_fail(p, at, OSP_EDECODE, "expected 4 hex digits after \\u");
	p->pos += 5;
	if (hi == 0)
		return osp_json_fail(p, at, OSP_EDECODE, "\\u0000 is not supported");
	if (hi >= 0xdc00 && hi <= 0xdfff)
		return osp_json_fail(p, at, OSP_EDECODE, "lone low surrogate in \\u escape");
	if (hi >= 0xd800 && hi <= 0xdbff) {
		if (p->len - p->pos < 6 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u')
			return osp_json_fail(p, at, OSP_EDECODE, "lone high surrogate in \\u escape");
		lo = osp_json_hex4(p->s + p->pos + 2);
		if (lo < 0xdc00 || lo > 0xdfff)
			return osp_json_fail(p, at, OSP_EDECODE, "lone high surrogate in \\u escape");
		p->pos += 6;
		hi = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
	}
	*d += osp_json_put_utf8(*d, (unsigned long)hi);
	return OSP_OK;
}

/* osp_json_escape decodes the escape whose backslash is at p->pos. */
static osp_err osp_json_escape(osp_json_parser *p, char **d)
{
	size_t at = p->pos;
	char c;

	p->pos++;
	if (p->pos >= p->len)
		return osp_json_fail(p, at, OSP_EDECODE, "unterminated string");
	switch (p->s[p->pos]) {
	case '"': c = '"'; break;
	case '\\': c = '\\'; break;
	case '/': c = '/'; break;
	case 'b': c = '\b'; break;
	case 'f': c = '\f'; break;
	case 'n': c = '\n'; break;
	case 'r': c = '\r'; break;
	case 't': c = '\t'; break;
	case 'u': return osp_json_unicode(p, d);
	default: return osp_json_fail(p, at, OSP_EDECODE, "invalid escape in string");
	}
	*(*d)++ = c;
	p->pos++;
	return OSP_OK;
}

/* osp_json_strbody decodes the string body at p->pos (after the quote) into d. */
static osp_err osp_json_strbody(osp_json_parser *p, char *d, size_t start)
{
	osp_err rv;

	for (;;) {
		unsigned char c;
		size_t seq;

		if (p->pos >= p->len)
			return osp_json_fail(p, start, OSP_EDECODE, "unterminated string");
		c = p->s[p->pos];
		if (c == '"')
			break;
		if (c == '\\') {
			rv = osp_json_escape(p, &d);
			if (rv != OSP_OK)
				return rv;
			continue;
		}
		if (c < 0x20)
			return osp_json_fail(p, p->pos, OSP_EDECODE, "control character in string");
		seq = osp_json_utf8_seq(p->s + p->pos, p->len - p->pos);
		if (seq == 0)
			return osp_json_fail(p, p->pos, OSP_EDECODE, "invalid UTF-8 in string");
		memcpy(d, p->s + p->pos, seq);
		d += seq;
		p->pos += seq;
	}
	*d = '\0';
	p->pos++; /* the closing quote */
	return OSP_OK;
}

/*
 * osp_json_string parses the string at p->pos (a '"') into a new heap string.
 * The decoded text is never longer than the raw text, so a scan to the
 * closing quote sizes the buffer.
 */
static osp_err osp_json_string(osp_json_parser *p, char **out)
{
	size_t start = p->pos, end = p->pos + 1;
	char *d;
	osp_err rv;

	while (end < p->len && p->s[end] != '"')
		end += p->s[end] == '\\' ? 2 : 1;
	if (end >= p->len)
		return osp_json_fail(p, start, OSP_EDECODE, "unterminated string");
	d = malloc(end - start);
	if (d == NULL)
		return osp_json_fail(p, start, OSP_ENOMEM, "out of memory");
	p->pos++;
	rv = osp_json_strbody(p, d, start);
	if (rv != OSP_OK) {
		free(d);
		return rv;
	}
	*out = d;
	return OSP_OK;
}

/* osp_json_digits skips digits; returns how many. */
static size_t osp_json_digits(osp_json_parser *p)
{
	size_t n = 0;

	while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
		p->pos++;
		n++;
	}
	return n;
}

/* osp_json_strtod converts the number text from start to p->pos, in any locale. */
static osp_err osp_json_strtod(osp_json_parser *p, size_t start, double *v)
{
	char small[64], *buf = small, *end;
	size_t n = p->pos - start;
	const char *dp = localeconv()->decimal_point;

	if (n >= sizeof(small)) {
		buf = malloc(n + 1);
		if (buf == NULL)
			return osp_json_fail(p, start, OSP_ENOMEM, "out of memory");
	}
	memcpy(buf, p->s + start, n);
	buf[n] = '\0';
	if (dp != NULL && dp[0] != '\0' && dp[0] != '.' && dp[1] == '\0') {
		char *dot = memchr(buf, '.', n);
		if (dot != NULL)
			*dot = dp[0];
	}
	*v = strtod(buf, &end);
	if (buf != small)
		free(buf);
	if (isinf(*v) || isnan(*v))
		return osp_json_fail(p, start, OSP_EDECODE, "number out of range");
	return OSP_OK;
}

/* osp_json_exact sets j->i from the integer text at s (digits, optional '-'). */
static void osp_json_exact(osp_json *j, const unsigned char *s, size_t n)
{
	bool neg = s[0] == '-';
	uint64_t mag = 0;

	for (size_t k = neg ? 1 : 0; k < n; k++) {
		unsigned d = (unsigned)(s[k] - '0');
		if (mag > (UINT64_MAX - d) / 10)
			return;
		mag = mag * 10 + d;
	}
	if (neg && mag <= (uint64_t)INT64_MAX + 1)
		j->i = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
	else if (!neg && mag <= (uint64_t)INT64_MAX)
		j->i = (int64_t)mag;
}

/* osp_json_number parses a number per the RFC 8259 grammar. */
static osp_err osp_json_number(osp_json_parser *p, osp_json *j)
{
	size_t start = p->pos;
	bool integer = true;
	osp_err rv;

	if (osp_json_peek(p) == '-')
		p->pos++;
	if (osp_json_peek(p) == '0') {
		p->pos++;
		if (osp_json_peek(p) >= '0' && osp_json_peek(p) <= '9')
			return osp_json_fail(p, start, OSP_EDECODE, "leading zeros are not allowed");
	} else if (osp_json_digits(p) == 0) {
		return osp_json_fail(p, start, OSP_EDECODE, "expected a value");
	}
	if (osp_json_peek(p) == '.') {
		p->pos++;
		integer = false;
		if (osp_json_digits(p) == 0)
			return osp_json_fail(p, p->pos, OSP_EDECODE, "expected digits after '.'");
	}
	if (osp_json_peek(p) == 'e' || osp_json_peek(p) == 'E') {
		p->pos++;
		integer = false;
		if (osp_json_peek(p) == '+' || osp_json_peek(p) == '-')
			p->pos++;
		if (osp_json_digits(p) == 0)
			return osp_json_fail(p, p->pos, OSP_EDECODE, "expected digits in exponent");
	}
	rv = osp_json_strtod(p, start, &j->num);
	if (rv != OSP_OK)
		return rv;
	if (integer)
		osp_json_exact(j, p->s + start, p->pos - start);
	else if (j->num == floor(j->num) && j->num >= -9223372036854775808.0 &&
		 j->num < 9223372036854775808.0)
		j->i = (int64_t)j->num;
	return OSP_OK;
}

/* osp_json_push appends child to the array or object j. */
static osp_err osp_json_push(osp_json_parser *p, osp_json *j, osp_json *child, size_t *cap)
{
	if (j->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 4;
		osp_json **items = realloc(j->items, ncap * sizeof(*items));
		if (items == NULL)
			return osp_json_fail(p, p->pos, OSP_ENOMEM, "out of memory");
		j->items = items;
		*cap = ncap;
	}
	j->items[j->n++] = child;
	return OSP_OK;
}

/* osp_json_member parses one "key": value pair of an object into j. */
static osp_err osp_json_member(osp_json_parser *p, osp_json *j, int depth, size_t *cap)
{
	char *key = NULL;
	osp_json *child = NULL;
	osp_err rv;

	if (osp_json_peek(p) != '"')
		return osp_json_fail(p, p->pos, OSP_EDECODE, "expected string key in object");
	rv = osp_json_string(p, &key);
	if (rv != OSP_OK)
		goto out;
	osp_json_ws(p);
	if (osp_json_peek(p) != ':') {
		rv = osp_json_fail(p, p->pos, OSP_EDECODE, "expected ':' after object key");
		goto out;
	}
	p->pos++;
	osp_json_ws(p);
	rv = osp_json_value(p, depth, &child);
	if (rv != OSP_OK)
		goto out;
	child->key = key;
	key = NULL; /* owned by child */
	rv = osp_json_push(p, j, child, cap);
	if (rv != OSP_OK)
		goto out;
	child = NULL; /* owned by j */
out:
	free(key);
	osp_json_free(child);
	return rv;
}

/* osp_json_element parses one value of an array into j. */
static osp_err osp_json_element(osp_json_parser *p, osp_json *j, int depth, size_t *cap)
{
	osp_json *child = NULL;
	osp_err rv;

	rv = osp_json_value(p, depth, &child);
	if (rv != OSP_OK)
		return rv;
	rv = osp_json_push(p, j, child, cap);
	if (rv != OSP_OK)
		osp_json_free(child);
	return rv;
}

/*
 * osp_json_container parses an array or object at p->pos ('[' or '{') into j;
 * depth is the nesting of j itself.
 */
static osp_err osp_json_container(osp_json_parser *p, osp_json *j, int depth)
{
	bool obj = j->type == OSP_JSON_OBJ;
	int close = obj ? '}' : ']';
	size_t cap = 0;
	osp_err rv;

	if (depth > OSP_JSON_MAX_DEPTH)
		return osp_json_fail(p, p->pos, OSP_ETOOBIG, "nesting deeper than 64");
	p->pos++;
	osp_json_ws(p);
	if (osp_json_peek(p) == close) {
		p->pos++;
		return OSP_OK;
	}
	for (;;) {
		if (obj) {
			rv = osp_json_member(p, j, depth, &cap);
		} else {
			rv = osp_json_element(p, j, depth, &cap);
		}
		if (rv != OSP_OK)
			return rv;
		osp_json_ws(p);
		if (osp_json_peek(p) == close) {
			p->pos++;
			return OSP_OK;
		}
		if (osp_json_peek(p) != ',')
			return osp_json_fail(p, p->pos, OSP_EDECODE,
				obj ? "expected ',' or '}' in object" : "expected ',' or ']' in array");
		p->pos++;
		osp_json_ws(p);
		if (osp_json_peek(p) == close)
			return osp_json_fail(p, p->pos, OSP_EDECODE, "trailing comma");
	}
}

/* osp_json_literal matches the word lit at p->pos. */
static bool osp_json_literal(osp_json_parser *p, const char *lit)
{
	size_t n = strlen(lit);

	if (p->len - p->pos < n || memcmp(p->s + p->pos, lit, n) != 0)
		return false;
	p->pos += n;
	return true;
}

/* osp_json_type_at picks the node type for the first byte c of a value. */
static bool osp_json_type_at(int c, osp_json_type *t)
{
	if (c == '{')
		*t = OSP_JSON_OBJ;
	else if (c == '[')
		*t = OSP_JSON_ARR;
	else if (c == '"')
		*t = OSP_JSON_STR;
	else if (c == 't' || c == 'f')
		*t = OSP_JSON_BOOL;
	else if (c == 'n')
		*t = OSP_JSON_NULL;
	else if (c == '-' || (c >= '0' && c <= '9'))
		*t = OSP_JSON_NUM;
	else
		return false;
	return true;
}

/* osp_json_value parses one value at p->pos; depth is its parent's nesting. */
static osp_err osp_json_value(osp_json_parser *p, int depth, osp_json **out)
{
	osp_json *j = NULL;
	osp_json_type t;
	size_t at = p->pos;
	osp_err rv;

	if (!osp_json_type_at(osp_json_peek(p), &t))
		return osp_json_fail(p, at, OSP_EDECODE, "expected a value");
	rv = osp_json_new(p, t, &j);
	if (rv != OSP_OK)
		return rv;
	switch (t) {
	case OSP_JSON_OBJ:
	case OSP_JSON_ARR:
		rv = osp_json_container(p, j, depth + 1);
		break;
	case OSP_JSON_STR:
		rv = osp_json_string(p, &j->str);
		break;
	case OSP_JSON_NUM:
		rv = osp_json_number(p, j);
		break;
	case OSP_JSON_BOOL:
		j->b = osp_json_literal(p, "true");
		if (!j->b && !osp_json_literal(p, "false"))
			rv = osp_json_fail(p, at, OSP_EDECODE, "expected a value");
		break;
	case OSP_JSON_NULL:
		if (!osp_json_literal(p, "null"))
			rv = osp_json_fail(p, at, OSP_EDECODE, "expected a value");
		break;
	}
	if (rv != OSP_OK) {
		osp_json_free(j);
		return rv;
	}
	*out = j;
	return OSP_OK;
}

osp_err osp_json_parse(const char *text, size_t len, osp_json **out, char *err, size_t errlen)
{
	osp_json_parser p = { .s = (const unsigned char *)text, .len = len,
			      .err = err, .errlen = errlen };
	osp_json *j = NULL;
	osp_err rv;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (out == NULL || (text == NULL && len > 0))
		return osp_json_fail(&p, 0, OSP_EINVAL, "invalid argument");
	*out = NULL;
	osp_json_ws(&p);
	rv = osp_json_value(&p, 0, &j);
	if (rv != OSP_OK)
		return rv;
	osp_json_ws(&p);
	if (p.pos != p.len) {
		osp_json_free(j);
		return osp_json_fail(&p, p.pos, OSP_EDECODE, "unexpected data after the value");
	}
	*out = j;
	return OSP_OK;
}
