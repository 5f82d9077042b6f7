/*
 * cfg.h - a bounded YAML reader built on libyaml's event stream.
 *
 * The document becomes a small tree of nodes, each with its line and column
 * (1-based), so every later message can say file:line:col. Limits are checked
 * while reading: nesting depth, document size, node count and an alias budget
 * (aliases are copied, never expanded recursively past the budget). A hostile
 * file is refused quickly, never expanded.
 */
#ifndef OSPEC_CFG_H
#define OSPEC_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ospec/err.h"

typedef enum osp_cfg_kind {
	OSP_CFG_SCALAR = 0,
	OSP_CFG_MAP,
	OSP_CFG_SEQ,
} osp_cfg_kind;

typedef struct osp_cfg_node osp_cfg_node;
struct osp_cfg_node {
	osp_cfg_kind kind;
	int line, col;          /* where the value starts, 1-based */
	char *key;              /* key in the parent map, NULL otherwise */
	int key_line, key_col;  /* where the key starts */
	char *value;            /* scalar text; NULL for maps and sequences */
	bool quoted;            /* scalar was single/double quoted or a block */
	bool is_null;           /* plain scalar "", "~", "null" */
	size_t n;               /* number of children (maps and sequences) */
	osp_cfg_node **items;   /* children in document order */
};

typedef struct osp_cfg_limits {
	size_t max_depth;       /* default 64 */
	size_t max_bytes;       /* default 4 MiB */
	size_t max_nodes;       /* default 200000 */
	size_t max_alias_nodes; /* nodes copied through aliases; default 10000 */
} osp_cfg_limits;

typedef struct osp_cfg_doc {
	char *file;             /* name used in messages */
	osp_cfg_node *root;     /* NULL for an empty document */
} osp_cfg_doc;

/*
 * osp_cfg_parse reads one YAML document from data. name is used in messages.
 * lim may be NULL for the defaults. On success *doc is the caller's, to free
 * with osp_cfg_doc_free. On failure err holds "name:line:col: message" and the
 * result is OSP_ECONFIG (malformed, invalid UTF-8, duplicate key) or
 * OSP_ETOOBIG (a limit), or OSP_ENOMEM.
 */
osp_err osp_cfg_parse(const char *name, const char *data, size_t len,
	const osp_cfg_limits *lim, osp_cfg_doc **doc, char *err, size_t errlen);

/* osp_cfg_load reads the file at path with osp_cfg_parse; OSP_EIO if it cannot
 * be read (err says why). */
osp_err osp_cfg_load(const char *path, const osp_cfg_limits *lim, osp_cfg_doc **doc,
	char *err, size_t errlen);

/* osp_cfg_doc_free frees a document; accepts NULL. */
void osp_cfg_doc_free(osp_cfg_doc *doc);

/* osp_cfg_get returns the child of map with key, or NULL (also if map is not a map). */
const osp_cfg_node *osp_cfg_get(const osp_cfg_node *map, const char *key);

/*
 * Typed reads with located errors. path is the dotted key path for messages
 * ("fleet.stages[2].batch"). Each writes "file:line:col: path: expected ..., got
 * "..."" into err and returns OSP_ECONFIG on a wrong type or range.
 */
osp_err osp_cfg_str(const osp_cfg_doc *d, const osp_cfg_node *n, const char *path,
	size_t maxlen, const char **out, char *err, size_t errlen);
osp_err osp_cfg_u64(const osp_cfg_doc *d, const osp_cfg_node *n, const char *path,
	uint64_t min, uint64_t max, uint64_t *out, char *err, size_t errlen);
osp_err osp_cfg_bool(const osp_cfg_doc *d, const osp_cfg_node *n, const char *path,
	bool *out, char *err, size_t errlen);
osp_err osp_cfg_duration(const osp_cfg_doc *d, const osp_cfg_node *n, const char *path,
	int64_t *ms, char *err, size_t errlen);

/* osp_cfg_errorf writes "file:line:col: path: message" for node n into err and
 * returns OSP_ECONFIG. */
osp_err osp_cfg_errorf(const osp_cfg_doc *d, const osp_cfg_node *n, const char *path,
	char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

#endif
