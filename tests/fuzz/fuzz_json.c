/*
 * fuzz_json.c - libFuzzer target for the JSON parser (osp_json_parse).
 *
 * Parses the input as is (it is not NUL-terminated, so any read past the end
 * is caught by ASan). Every accepted document is also written back with the
 * osp_jw writer and parsed again, which must succeed: the writer's output of
 * a tree the parser built is always valid JSON.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ospec/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_json_write writes the tree j with the writer (numbers as integers). */
static void fuzz_json_write(osp_jw *w, const osp_json *j)
{
	if (j->key != NULL)
		osp_jw_key(w, j->key);
	switch (j->type) {
	case OSP_JSON_NULL: osp_jw_null(w); break;
	case OSP_JSON_BOOL: osp_jw_bool(w, j->b); break;
	case OSP_JSON_NUM: osp_jw_int(w, j->i); break;
	case OSP_JSON_STR: osp_jw_str(w, j->str); break;
	case OSP_JSON_ARR:
	case OSP_JSON_OBJ:
		if (j->type == OSP_JSON_ARR)
			osp_jw_arr_begin(w);
		else
			osp_jw_obj_begin(w);
		for (size_t k = 0; k < j->n; k++)
			fuzz_json_write(w, j->items[k]);
		if (j->type == OSP_JSON_ARR)
			osp_jw_arr_end(w);
		else
			osp_jw_obj_end(w);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	osp_json *j = NULL, *again = NULL;
	char err[128];
	osp_buf b;
	osp_jw w;

	if (osp_json_parse((const char *)data, size, &j, err, sizeof(err)) != OSP_OK) {
		if (j != NULL || strncmp(err, "offset ", 7) != 0)
			abort(); /* a failure must leave *out NULL and say where */
		return 0;
	}
	(void)osp_json_get_str(j, "key");
	(void)osp_json_get_int(j, "key", 0);
	osp_buf_init(&b, 0);
	osp_jw_init(&w, &b);
	fuzz_json_write(&w, j);
	if (osp_jw_err(&w) != OSP_OK ||
	    osp_json_parse(b.data, b.len, &again, err, sizeof(err)) != OSP_OK)
		abort();
	osp_json_free(again);
	osp_buf_fini(&b);
	osp_json_free(j);
	return 0;
}
