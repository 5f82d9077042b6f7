/*
 * json.h - a small JSON writer (for --json output, JSON log lines and the
 * control API's replies) and a bounded parser (for ospecctl and tests).
 */
#ifndef OSPEC_JSON_H
#define OSPEC_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ospec/err.h"
#include "ospec/util.h"

/*
 * Writer. It tracks nesting and commas itself; keys and strings are escaped
 * (control characters, quotes, backslash; invalid UTF-8 becomes U+FFFD).
 * Errors (allocation, the buffer's cap, nesting past 64) are sticky: check
 * osp_jw_err at the end.
 */
typedef struct osp_jw {
	osp_buf *out;
	int depth;
	bool need_comma[64];
	bool after_key;
	osp_err err;
} osp_jw;

void osp_jw_init(osp_jw *w, osp_buf *out);
void osp_jw_obj_begin(osp_jw *w);
void osp_jw_obj_end(osp_jw *w);
void osp_jw_arr_begin(osp_jw *w);
void osp_jw_arr_end(osp_jw *w);
void osp_jw_key(osp_jw *w, const char *key);
void osp_jw_str(osp_jw *w, const char *s);  /* NULL writes null */
void osp_jw_int(osp_jw *w, int64_t v);
void osp_jw_uint(osp_jw *w, uint64_t v);
void osp_jw_bool(osp_jw *w, bool v);
void osp_jw_null(osp_jw *w);
/* osp_jw_raw inserts already valid JSON text as one value. */
void osp_jw_raw(osp_jw *w, const char *json, size_t len);
osp_err osp_jw_err(const osp_jw *w);

/* Parser. */
typedef enum osp_json_type {
	OSP_JSON_NULL = 0,
	OSP_JSON_BOOL,
	OSP_JSON_NUM,
	OSP_JSON_STR,
	OSP_JSON_ARR,
	OSP_JSON_OBJ,
} osp_json_type;

typedef struct osp_json osp_json;
struct osp_json {
	osp_json_type type;
	bool b;
	double num;
	int64_t i;       /* num as an integer when it is one */
	char *str;       /* OSP_JSON_STR, NUL-terminated UTF-8 */
	char *key;       /* key when inside an object */
	size_t n;        /* children of arrays and objects */
	osp_json **items;
};

/* osp_json_parse parses text (len bytes; depth <= 64, at most 1,000,000 values).
 * On success *out is the caller's (osp_json_free). On failure err says
 * "offset N: what" and the result is OSP_EDECODE, OSP_ETOOBIG or OSP_ENOMEM. */
osp_err osp_json_parse(const char *text, size_t len, osp_json **out, char *err, size_t errlen);

/* osp_json_free frees a tree; accepts NULL. */
void osp_json_free(osp_json *j);

/* osp_json_get returns the member key of object o, or NULL. */
const osp_json *osp_json_get(const osp_json *o, const char *key);

/* osp_json_get_str returns the string member key of o, or NULL if absent or not a string. */
const char *osp_json_get_str(const osp_json *o, const char *key);

/* osp_json_get_int returns the integer member key of o, or def. */
int64_t osp_json_get_int(const osp_json *o, const char *key, int64_t def);

#endif
