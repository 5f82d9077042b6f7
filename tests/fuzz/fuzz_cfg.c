/*
 * fuzz_cfg.c - libFuzzer target for the YAML reader (osp_cfg_parse) and its
 * typed reads.
 *
 * A failure must leave *doc NULL and say where ("fuzz.yaml:L:C: ..."). An
 * accepted document is walked: every node's position is 1-based, every map
 * child has a key, and every scalar goes through the typed reads (string,
 * number, bool, duration), which may refuse it but never crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ospec/cfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_cfg_walk(const osp_cfg_doc *d, const osp_cfg_node *n, size_t depth)
{
	char err[256];
	const char *s;
	uint64_t u;
	int64_t ms;
	bool b;

	if (n->line < 1 || n->col < 1 || depth > 64)
		abort();
	if (n->kind == OSP_CFG_SCALAR) {
		if (n->value == NULL || n->n != 0)
			abort();
		(void)osp_cfg_str(d, n, "x", 64, &s, err, sizeof(err));
		(void)osp_cfg_u64(d, n, "x", 1, 65535, &u, err, sizeof(err));
		(void)osp_cfg_bool(d, n, "x", &b, err, sizeof(err));
		(void)osp_cfg_duration(d, n, "x", &ms, err, sizeof(err));
		return;
	}
	if (n->value != NULL)
		abort();
	for (size_t i = 0; i < n->n; i++) {
		if (n->kind == OSP_CFG_MAP && n->items[i]->key == NULL)
			abort();
		fuzz_cfg_walk(d, n->items[i], depth + 1);
	}
	if (n->kind == OSP_CFG_MAP && n->n > 0 && osp_cfg_get(n, n->items[0]->key) == NULL)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	osp_cfg_doc *doc = NULL;
	char err[512];
	osp_err rv;

	err[0] = '\0';
	rv = osp_cfg_parse("fuzz.yaml", (const char *)data, size, NULL, &doc, err, sizeof(err));
	if (rv != OSP_OK) {
		if (doc != NULL || strncmp(err, "fuzz.yaml:", 10) != 0)
			abort();
		return 0;
	}
	if (doc->root != NULL)
		fuzz_cfg_walk(doc, doc->root, 0);
	osp_cfg_doc_free(doc);
	return 0;
}
