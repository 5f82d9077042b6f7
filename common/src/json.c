/* json.c - the parsed JSON tree (ospec/json.h: free, member lookup) and the
 * UTF-8 check the writer (json_write.c) and the parser (json_parse.c) share. */
#include "ospec/json.h"

#include <stdlib.h>
#include <string.h>

#include "json_int.h"

size_t osp_json_utf8_seq(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	size_t need;

	if (c < 0x80)
		return 1;
	if (c < 0xc2 || c > 0xf4)
		return 0;
	need = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
	if (n < need)
		return 0;
	for (size_t k = 1; k < need; k++) {
		if ((p[k] & 0xc0) != 0x80)
			return 0;
	}
	if (c == 0xe0 && p[1] < 0xa0)
		return 0; /* overlong 3-byte form */
	if (c == 0xed && p[1] >= 0xa0)
		return 0; /* UTF-16 surrogate */
	if (c == 0xf0 && p[1] < 0x90)
		return 0; /* overlong 4-byte form */
	if (c == 0xf4 && p[1] >= 0x90)
		return 0; /* above U+10FFFF */
	return need;
}

void osp_json_free(osp_json *j)
{
	if (j == NULL)
		return;
	for (size_t k = 0; k < j->n; k++)
		osp_json_free(j->items[k]);
	free(j->items);
	free(j->str);
	free(j->key);
	free(j);
}

const osp_json *osp_json_get(const osp_json *o, const char *key)
{
	if (o == NULL || key == NULL || o->type != OSP_JSON_OBJ)
		return NULL;
	/* with duplicate keys the last one wins, as in most parsers */
	for (size_t k = o->n; k > 0; k--) {
		if (strcmp(o->items[k - 1]->key, key) == 0)
			return o->items[k - 1];
	}
	return NULL;
}

const char *osp_json_get_str(const osp_json *o, const char *key)
{
	const osp_json *m = osp_json_get(o, key);

	return m != NULL && m->type == OSP_JSON_STR ? m->str : NULL;
}

int64_t osp_json_get_int(const osp_json *o, const char *key, int64_t def)
{
	const osp_json *m = osp_json_get(o, key);

	/* i is exact only when num is an integer in int64 range */
	if (m == NULL || m->type != OSP_JSON_NUM || (double)m->i != m->num)
		return def;
	return m->i;
}
