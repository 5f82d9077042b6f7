/*
 * json_int.h - what the JSON writer (json_write.c) and parser (json_parse.c)
 * share; private to common/src. The public API is ospec/json.h.
 */
#ifndef OSP_JSON_INT_H
#define OSP_JSON_INT_H

#include <stddef.h>

#define OSP_JSON_MAX_DEPTH 64 /* nesting, written or parsed */

/*
 * osp_json_utf8_seq returns the length (1..4) of the well-formed UTF-8
 * sequence at p (n bytes available, n >= 1), or 0 if it is not one: overlong
 * forms, surrogates (U+D800..U+DFFF) and code points above U+10FFFF are
 * refused.
 */
size_t osp_json_utf8_seq(const unsigned char *p, size_t n);

#endif
