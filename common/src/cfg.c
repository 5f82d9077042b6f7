/*
 * cfg.c - a bounded YAML reader on libyaml's event stream.
 *
 * libyaml's document API builds a graph in which aliases share nodes; walking
 * it naively expands an alias bomb exponentially. Here every event is turned
 * into a node of a plain tree while the limits are checked: nesting depth,
 * node count, and an alias budget (an alias copies the anchored subtree, and
 * the copied nodes and bytes are counted before the copy is made). Anchors
 * live in a small table with the size and height of their subtree.
 * Reading values out of the tree (osp_cfg_get, the typed getters, the error
 * messages) is cfg_get.c.
 */
#include "ospec/cfg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "ospec/util.h"

#define OSP_CFG_DEPTH_CAP 1024  /* the tree is walked recursively */
#define OSP_CFG_MAX_ANCHORS 1024

typedef struct osp_cfg_anchor {
	char *name;
	const osp_cfg_node *node; /* inside the tree, not owned */
	size_t nodes, bytes, height;
} osp_cfg_anchor;

typedef struct osp_cfg_frame {
	osp_cfg_node *node;       /* open map or sequence, owned until attached */
	char *anchor;             /* to register when the collection ends */
	char *key;                /* map: key read, waiting for its value */
	int key_line, key_col;
	size_t nodes0, bytes0;    /* counters when the collection started */
	size_t height;            /* tallest child so far (collections count 1) */
} osp_cfg_frame;

typedef struct osp_cfg_reader {
	const char *name;
	osp_cfg_limits lim;
	osp_cfg_frame *stack;
	size_t depth;
	osp_cfg_anchor *anchors;
	size_t nanchors;
	size_t nodes, bytes, alias_nodes, alias_bytes;
	size_t ndocs;
	int doc_line, doc_col;    /* start of the current document */
	osp_cfg_node *root;       /* root of the current document */
	osp_cfg_node *first;      /* root of the first document */
	char *err;
	size_t errlen;
} osp_cfg_reader;

static void osp_cfg_node_free(osp_cfg_node *n)
{
	if (n == NULL)
		return;
	for (size_t i = 0; i < n->n; i++)
		osp_cfg_node_free(n->items[i]);
	free(n->items);
	free(n->key);
	free(n->value);
	free(n);
}

/* Messages are for humans; a truncated one is still useful, so the result of
 * vsnprintf is deliberately not checked here. */
static osp_err osp_cfg_fail(osp_cfg_reader *r, osp_err rv, int line, int col,
	const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static osp_err osp_cfg_fail(osp_cfg_reader *r, osp_err rv, int line, int col,
	const char *fmt, ...)
{
	va_list ap;
	int n;

	if (r->errlen == 0)
		return rv;
	n = snprintf(r->err, r->errlen, "%s:%d:%d: ", r->name, line, col);
	if (n < 0 || (size_t)n >= r->errlen)
		return rv;
	va_start(ap, fmt);
	vsnprintf(r->err + n, r->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return rv;
}

/* osp_cfg_position turns a byte offset into a 1-based line and column
 * (columns count characters, as libyaml's marks do). */
static void osp_cfg_position(const char *data, size_t off, int *line, int *col)
{
	int l = 1, c = 1;

	for (size_t i = 0; i < off; i++) {
		unsigned char b = (unsigned char)data[i];
		if (b == '\n') {
			l++;
			c = 1;
		} else if ((b & 0xC0) != 0x80) {
			c++;
		}
	}
	*line = l;
	*col = c;
}

/* osp_cfg_utf8_check returns the offset of the first invalid UTF-8 sequence,
 * or len if the whole input is valid (no overlongs, surrogates, > U+10FFFF). */
static size_t osp_cfg_utf8_check(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t need;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			need = 1;
			cp = c & 0x1F;
		} else if (c >= 0xE0 && c <= 0xEF) {
			need = 2;
			cp = c & 0x0F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			need = 3;
			cp = c & 0x07;
		} else {
			return i;
		}
		if (len - i <= need)
			return i;
		for (size_t k = 1; k <= need; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return i;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if ((need == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
			(need == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
			return i;
		i += need + 1;
	}
	return len;
}

static osp_err osp_cfg_push_item(osp_cfg_node *parent, osp_cfg_node *child)
{
	if ((parent->n & (parent->n - 1)) == 0) {
		/* n is 0 or a power of two: the array is full */
		size_t cap = parent->n ? parent->n * 2 : 4;
		osp_cfg_node **p = realloc(parent->items, cap * sizeof(*p));
		if (p == NULL)
			return OSP_ENOMEM;
		parent->items = p;
	}
	parent->items[parent->n++] = child;
	return OSP_OK;
}

static osp_err osp_cfg_count(osp_cfg_reader *r, size_t nodes, size_t bytes, int line, int col)
{
	r->nodes += nodes;
	r->bytes += bytes;
	if (r->nodes > r->lim.max_nodes)
		return osp_cfg_fail(r, OSP_ETOOBIG, line, col,
			"document has more than %zu nodes", r->lim.max_nodes);
	return OSP_OK;
}

/* osp_cfg_attach hands a finished node to the open collection (or makes it
 * the document root). In a map that waits for a key, the node must be a
 * scalar and becomes the key. The node is consumed even on failure. */
static osp_err osp_cfg_attach(osp_cfg_reader *r, osp_cfg_node *node)
{
	osp_cfg_frame *f;
	osp_err rv;

	if (r->depth == 0) {
		r->root = node;
		return OSP_OK;
	}
	f = &r->stack[r->depth - 1];
	if (f->node->kind == OSP_CFG_MAP && f->key == NULL) {
		if (node->kind != OSP_CFG_SCALAR) {
			rv = osp_cfg_fail(r, OSP_ECONFIG, node->line, node->col,
				"map keys must be scalars");
			osp_cfg_node_free(node);
			return rv;
		}
		/* an anchor would keep pointing at the node freed below (found by
		 * tests/fuzz/fuzz_cfg): no configuration needs one on a key */
		for (size_t i = 0; i < r->nanchors; i++) {
			if (r->anchors[i].node == node) {
				rv = osp_cfg_fail(r, OSP_ECONFIG, node->line, node->col,
					"anchors on map keys are not supported");
				osp_cfg_node_free(node);
				return rv;
			}
		}
		f->key = node->value;
		node->value = NULL; /* now the frame's */
		f->key_line = node->line;
		f->key_col = node->col;
		osp_cfg_node_free(node);
		return OSP_OK;
	}
	if (f->node->kind == OSP_CFG_MAP) {
		node->key = f->key;
		node->key_line = f->key_line;
		node->key_col = f->key_col;
		f->key = NULL; /* now the node's */
	}
	if ((rv = osp_cfg_push_item(f->node, node)) != OSP_OK)
		osp_cfg_node_free(node);
	return rv;
}

static osp_err osp_cfg_add_anchor(osp_cfg_reader *r, char *name, const osp_cfg_node *node,
	size_t nodes, size_t bytes, size_t height)
{
	osp_cfg_anchor *p;

	if (r->nanchors >= OSP_CFG_MAX_ANCHORS) {
		free(name);
		return osp_cfg_fail(r, OSP_ETOOBIG, node->line, node->col,
			"more than %d anchors", OSP_CFG_MAX_ANCHORS);
	}
	if (r->anchors == NULL) {
		r->anchors = calloc(OSP_CFG_MAX_ANCHORS, sizeof(*r->anchors));
		if (r->anchors == NULL) {
			free(name);
			return OSP_ENOMEM;
		}
	}
	p = &r->anchors[r->nanchors++];
	p->name = name;
	p->node = node;
	p->nodes = nodes;
	p->bytes = bytes;
	p->height = height;
	return OSP_OK;
}

static void osp_cfg_clear_anchors(osp_cfg_reader *r)
{
	for (size_t i = 0; i < r->nanchors; i++)
		free(r->anchors[i].name);
	r->nanchors = 0;
}

static osp_cfg_node *osp_cfg_node_new(osp_cfg_kind kind, const yaml_mark_t *m)
{
	osp_cfg_node *n = calloc(1, sizeof(*n));

	if (n == NULL)
		return NULL;
	n->kind = kind;
	n->line = (int)m->line + 1;
	n->col = (int)m->column + 1;
	return n;
}

static osp_err osp_cfg_on_scalar(osp_cfg_reader *r, const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	osp_cfg_node *n;
	char *anchor = NULL;
	osp_err rv;

	n = osp_cfg_node_new(OSP_CFG_SCALAR, &ev->start_mark);
	if (n == NULL)
		return OSP_ENOMEM;
	if (memchr(v, '\0', len) != NULL) {
		rv = osp_cfg_fail(r, OSP_ECONFIG, n->line, n->col, "NUL character in a value");
		goto fail;
	}
	if ((rv = osp_cfg_count(r, 1, len, n->line, n->col)) != OSP_OK)
		goto fail;
	n->value = malloc(len + 1);
	if (ev->data.scalar.anchor != NULL)
		anchor = strdup((const char *)ev->data.scalar.anchor);
	if (n->value == NULL || (ev->data.scalar.anchor != NULL && anchor == NULL)) {
		rv = OSP_ENOMEM;
		goto fail;
	}
	memcpy(n->value, v, len);
	n->value[len] = '\0';
	n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
	n->is_null = !n->quoted && (len == 0 || strcmp(n->value, "~") == 0 ||
		strcmp(n->value, "null") == 0 || strcmp(n->value, "Null") == 0 ||
		strcmp(n->value, "NULL") == 0);
	if (anchor != NULL && (rv = osp_cfg_add_anchor(r, anchor, n, 1, len, 0)) != OSP_OK) {
		anchor = NULL; /* freed by osp_cfg_add_anchor */
		goto fail;
	}
	return osp_cfg_attach(r, n);
fail:
	free(anchor);
	osp_cfg_node_free(n);
	return rv;
}

static osp_err osp_cfg_on_start(osp_cfg_reader *r, const yaml_event_t *ev, osp_cfg_kind kind)
{
	const yaml_char_t *anchor = kind == OSP_CFG_MAP ? ev->data.mapping_start.anchor :
		ev->data.sequence_start.anchor;
	int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
	osp_cfg_frame *f;
	osp_err rv;

	if (r->depth > 0 && r->stack[r->depth - 1].node->kind == OSP_CFG_MAP &&
		r->stack[r->depth - 1].key == NULL)
		return osp_cfg_fail(r, OSP_ECONFIG, line, col, "map keys must be scalars");
	if (r->depth >= r->lim.max_depth)
		return osp_cfg_fail(r, OSP_ETOOBIG, line, col,
			"nesting deeper than %zu levels", r->lim.max_depth);
	f = &r->stack[r->depth];
	memset(f, 0, sizeof(*f));
	f->nodes0 = r->nodes;
	f->bytes0 = r->bytes;
	if ((rv = osp_cfg_count(r, 1, 0, line, col)) != OSP_OK)
		return rv;
	f->node = osp_cfg_node_new(kind, &ev->start_mark);
	if (f->node == NULL)
		return OSP_ENOMEM;
	r->depth++; /* the frame owns f->node from here */
	if (anchor != NULL && (f->anchor = strdup((const char *)anchor)) == NULL)
		return OSP_ENOMEM;
	return OSP_OK;
}

static int osp_cfg_key_cmp(const void *a, const void *b)
{
	const osp_cfg_node *x = *(const osp_cfg_node *const *)a;
	const osp_cfg_node *y = *(const osp_cfg_node *const *)b;
	int c = strcmp(x->key, y->key);

	if (c == 0) /* equal keys: document order */
		c = x->key_line != y->key_line ? x->key_line - y->key_line : x->key_col - y->key_col;
	return c;
}

/* osp_cfg_check_dups reports the first repeated key of map in document order.
 * Sorting a copy keeps a map of many keys O(n log n). */
static osp_err osp_cfg_check_dups(osp_cfg_reader *r, const osp_cfg_node *map)
{
	const osp_cfg_node **v, *dup = NULL, *orig = NULL;

	if (map->n < 2)
		return OSP_OK;
	v = malloc(map->n * sizeof(*v));
	if (v == NULL)
		return OSP_ENOMEM;
	memcpy(v, map->items, map->n * sizeof(*v));
	qsort(v, map->n, sizeof(*v), osp_cfg_key_cmp);
	for (size_t i = 1; i < map->n; i++) {
		if (strcmp(v[i - 1]->key, v[i]->key) != 0)
			continue;
		if (dup == NULL || v[i]->key_line < dup->key_line ||
			(v[i]->key_line == dup->key_line && v[i]->key_col < dup->key_col)) {
			dup = v[i];
			orig = v[i - 1];
		}
	}
	free(v);
	if (dup == NULL)
		return OSP_OK;
	return osp_cfg_fail(r, OSP_ECONFIG, dup->key_line, dup->key_col,
		"duplicate key '%s' (first at line %d)", dup->key, orig->key_line);
}

static osp_err osp_cfg_on_end(osp_cfg_reader *r)
{
	osp_cfg_frame *f = &r->stack[r->depth - 1];
	osp_cfg_node *n = f->node;
	size_t height = f->height + 1;
	osp_err rv;

	if (n->kind == OSP_CFG_MAP && (rv = osp_cfg_check_dups(r, n)) != OSP_OK)
		return rv;
	r->depth--;
	f->node = NULL; /* ours now: attached below or freed on failure */
	if (f->anchor != NULL) {
		rv = osp_cfg_add_anchor(r, f->anchor, n, r->nodes - f->nodes0,
			r->bytes - f->bytes0, height);
		f->anchor = NULL; /* the table's */
		if (rv != OSP_OK) {
			osp_cfg_node_free(n);
			return rv;
		}
	}
	if (r->depth > 0 && r->stack[r->depth - 1].height < height)
		r->stack[r->depth - 1].height = height;
	return osp_cfg_attach(r, n);
}

static osp_cfg_node *osp_cfg_copy(const osp_cfg_node *src)
{
	osp_cfg_node *n = calloc(1, sizeof(*n));

	if (n == NULL)
		return NULL;
	*n = *src;
	n->key = NULL;
	n->value = NULL;
	n->items = NULL;
	n->n = 0;
	if (src->key != NULL && (n->key = strdup(src->key)) == NULL)
		goto fail;
	if (src->value != NULL && (n->value = strdup(src->value)) == NULL)
		goto fail;
	if (src->n > 0 && (n->items = calloc(src->n, sizeof(*n->items))) == NULL)
		goto fail;
	for (size_t i = 0; i < src->n; i++) {
		n->items[i] = osp_cfg_copy(src->items[i]);
		if (n->items[i] == NULL)
			goto fail;
		n->n++;
	}
	return n;
fail:
	osp_cfg_node_free(n);
	return NULL;
}

static osp_err osp_cfg_on_alias(osp_cfg_reader *r, const yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
	const osp_cfg_anchor *a = NULL;
	osp_cfg_node *n;
	osp_err rv;

	for (size_t i = r->nanchors; i > 0; i--) {
		if (strcmp(r->anchors[i - 1].name, name) == 0) {
			a = &r->anchors[i - 1];
			break;
		}
	}
	if (a == NULL)
		return osp_cfg_fail(r, OSP_ECONFIG, line, col, "unknown anchor '%s'", name);
	r->alias_nodes += a->nodes;
	r->alias_bytes += a->bytes;
	if (r->alias_nodes > r->lim.max_alias_nodes)
		return osp_cfg_fail(r, OSP_ETOOBIG, line, col,
			"aliases expand to more than %zu nodes", r->lim.max_alias_nodes);
	if (r->alias_bytes > r->lim.max_bytes)
		return osp_cfg_fail(r, OSP_ETOOBIG, line, col,
			"aliases expand to more than %zu bytes", r->lim.max_bytes);
	if (r->depth + a->height > r->lim.max_depth)
		return osp_cfg_fail(r, OSP_ETOOBIG, line, col,
			"alias makes nesting deeper than %zu levels", r->lim.max_depth);
	if ((rv = osp_cfg_count(r, a->nodes, a->bytes, line, col)) != OSP_OK)
		return rv;
	n = osp_cfg_copy(a->node);
	if (n == NULL)
		return OSP_ENOMEM;
	free(n->key); /* the copy takes the key of its new place */
	n->key = NULL;
	n->key_line = n->key_col = 0;
	n->line = line;
	n->col = col;
	if (r->depth > 0 && r->stack[r->depth - 1].height < a->height)
		r->stack[r->depth - 1].height = a->height;
	return osp_cfg_attach(r, n);
}

/* osp_cfg_char_at returns the byte at a 1-based line and column, or 0. */
static char osp_cfg_char_at(const char *data, size_t len, int line, int col)
{
	size_t i = 0;

	for (int l = 1; l < line && i < len; i++)
		l += data[i] == '\n';
	for (int c = 1; i < len && data[i] != '\n'; c++) {
		if (c == col)
			return data[i];
		i++;
		while (i < len && ((unsigned char)data[i] & 0xC0) == 0x80)
			i++; /* the rest of a UTF-8 sequence */
	}
	return 0;
}

static osp_err osp_cfg_yaml_error(osp_cfg_reader *r, const yaml_parser_t *p, const char *data,
	size_t len)
{
	int line, col;
	const char *problem = p->problem ? p->problem : "malformed YAML";

	if (p->error == YAML_MEMORY_ERROR)
		return OSP_ENOMEM;
	if (p->error == YAML_READER_ERROR) {
		osp_cfg_position(data, p->problem_offset, &line, &col);
		return osp_cfg_fail(r, OSP_ECONFIG, line, col, "%s", problem);
	}
	line = (int)p->problem_mark.line + 1;
	col = (int)p->problem_mark.column + 1;
	if (osp_cfg_char_at(data, len, line, col) == '\t')
		return osp_cfg_fail(r, OSP_ECONFIG, line, col,
			"found a tab character where YAML allows only spaces for indentation");
	if (p->context != NULL)
		return osp_cfg_fail(r, OSP_ECONFIG, line, col, "%s (%s at %d:%d)", problem,
			p->context, (int)p->context_mark.line + 1, (int)p->context_mark.column + 1);
	return osp_cfg_fail(r, OSP_ECONFIG, line, col, "%s", problem);
}

static osp_err osp_cfg_on_doc(osp_cfg_reader *r, const yaml_event_t *ev)
{
	if (ev->type == YAML_DOCUMENT_START_EVENT) {
		r->doc_line = (int)ev->start_mark.line + 1;
		r->doc_col = (int)ev->start_mark.column + 1;
		osp_cfg_clear_anchors(r); /* anchors are per document */
		return OSP_OK;
	}
	if (r->root != NULL && r->root->kind == OSP_CFG_SCALAR && r->root->is_null) {
		osp_cfg_node_free(r->root);
		r->root = NULL;
	}
	r->ndocs++;
	if (r->ndocs == 1) {
		r->first = r->root;
		r->root = NULL;
		return OSP_OK;
	}
	if (r->root != NULL)
		return osp_cfg_fail(r, OSP_ECONFIG, r->doc_line, r->doc_col,
			"multiple documents are not supported");
	return OSP_OK;
}

static osp_err osp_cfg_event(osp_cfg_reader *r, const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		return osp_cfg_on_scalar(r, ev);
	case YAML_SEQUENCE_START_EVENT:
		return osp_cfg_on_start(r, ev, OSP_CFG_SEQ);
	case YAML_MAPPING_START_EVENT:
		return osp_cfg_on_start(r, ev, OSP_CFG_MAP);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return osp_cfg_on_end(r);
	case YAML_ALIAS_EVENT:
		return osp_cfg_on_alias(r, ev);
	case YAML_DOCUMENT_START_EVENT:
	case YAML_DOCUMENT_END_EVENT:
		return osp_cfg_on_doc(r, ev);
	default:
		return OSP_OK;
	}
}

static osp_err osp_cfg_run(osp_cfg_reader *r, const char *data, size_t len)
{
	yaml_parser_t p;
	yaml_event_t ev;
	bool done = false;
	osp_err rv = OSP_OK;

	if (!yaml_parser_initialize(&p))
		return OSP_ENOMEM;
	yaml_parser_set_input_string(&p, (const unsigned char *)data, len);
	yaml_parser_set_encoding(&p, YAML_UTF8_ENCODING);
	while (!done && rv == OSP_OK) {
		if (!yaml_parser_parse(&p, &ev)) {
			rv = osp_cfg_yaml_error(r, &p, data, len);
			break;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		rv = osp_cfg_event(r, &ev);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	return rv;
}

static void osp_cfg_limits_fill(osp_cfg_limits *out, const osp_cfg_limits *lim)
{
	out->max_depth = lim && lim->max_depth ? lim->max_depth : 64;
	out->max_bytes = lim && lim->max_bytes ? lim->max_bytes : (size_t)4 * 1024 * 1024;
	out->max_nodes = lim && lim->max_nodes ? lim->max_nodes : 200000;
	out->max_alias_nodes = lim && lim->max_alias_nodes ? lim->max_alias_nodes : 10000;
	if (out->max_depth > OSP_CFG_DEPTH_CAP)
		out->max_depth = OSP_CFG_DEPTH_CAP;
}

static void osp_cfg_reader_fini(osp_cfg_reader *r)
{
	for (size_t i = 0; i < r->depth; i++) {
		osp_cfg_node_free(r->stack[i].node);
		free(r->stack[i].anchor);
		free(r->stack[i].key);
	}
	free(r->stack);
	osp_cfg_clear_anchors(r);
	free(r->anchors);
	osp_cfg_node_free(r->root);
	osp_cfg_node_free(r->first);
}

osp_err osp_cfg_parse(const char *name, const char *data, size_t len,
	const osp_cfg_limits *lim, osp_cfg_doc **doc, char *err, size_t errlen)
{
	osp_cfg_reader r = { .name = name ? name : "<config>", .err = err, .errlen = errlen };
	osp_cfg_doc *d = NULL;
	size_t bad;
	int line, col;
	osp_err rv;

	*doc = NULL;
	if (errlen > 0)
		err[0] = '\0';
	osp_cfg_limits_fill(&r.lim, lim);
	if (len > r.lim.max_bytes)
		return osp_cfg_fail(&r, OSP_ETOOBIG, 1, 1, "document is larger than %zu bytes",
			r.lim.max_bytes);
	bad = osp_cfg_utf8_check((const unsigned char *)data, len);
	if (bad < len) {
		osp_cfg_position(data, bad, &line, &col);
		return osp_cfg_fail(&r, OSP_ECONFIG, line, col, "invalid UTF-8 at byte offset %zu",
			bad);
	}
	r.stack = calloc(r.lim.max_depth, sizeof(*r.stack));
	d = calloc(1, sizeof(*d));
	if (r.stack == NULL || d == NULL || (d->file = strdup(r.name)) == NULL) {
		rv = OSP_ENOMEM;
		goto out;
	}
	if ((rv = osp_cfg_run(&r, data, len)) != OSP_OK)
		goto out;
	d->root = r.first;
	r.first = NULL; /* the document's */
	*doc = d;
	d = NULL;
out:
	osp_cfg_doc_free(d);
	osp_cfg_reader_fini(&r);
	if (rv == OSP_ENOMEM && errlen > 0)
		snprintf(err, errlen, "%s: out of memory", r.name);
	return rv;
}

/* osp_cfg_read reads the regular file at path (at most max bytes):
 * osp_file_read opens it without blocking and refuses a FIFO, a device or a
 * directory (OSP_EINVAL). */
static osp_err osp_cfg_read(const char *path, size_t max, char **data, size_t *len)
{
	return osp_file_read(path, max, data, len);
}

osp_err osp_cfg_load(const char *path, const osp_cfg_limits *lim, osp_cfg_doc **doc,
	char *err, size_t errlen)
{
	size_t max = lim && lim->max_bytes ? lim->max_bytes : (size_t)4 * 1024 * 1024;
	char *data = NULL;
	size_t len = 0;
	osp_err rv;

	*doc = NULL;
	errno = 0;
	rv = osp_cfg_read(path, max, &data, &len);
	if (rv == OSP_ETOOBIG)
		snprintf(err, errlen, "%s: file is larger than %zu bytes", path, max);
	else if (rv == OSP_EINVAL)
		snprintf(err, errlen, "%s: not a regular file (a FIFO, device or directory is "
			"not read)", path);
	else if (rv != OSP_OK)
		snprintf(err, errlen, "%s: cannot read: %s", path, rv == OSP_ENOMEM ?
			"out of memory" : errno != 0 ? strerror(errno) : osp_strerror(rv));
	if (rv != OSP_OK)
		return rv == OSP_ETOOBIG || rv == OSP_ENOMEM ? rv : OSP_EIO;
	rv = osp_cfg_parse(path, data, len, lim, doc, err, errlen);
	free(data);
	return rv;
}

void osp_cfg_doc_free(osp_cfg_doc *doc)
{
	if (doc == NULL)
		return;
	osp_cfg_node_free(doc->root);
	free(doc->file);
	free(doc);
}
