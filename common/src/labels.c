/* labels.c - a small ordered set of key=value labels. */
#include "ospec/labels.h"

#include <stdlib.h>
#include <string.h>

#include "ospec/util.h"

#define OSP_LABELS_PART_MAX 64 /* a key or value is at most 63 bytes */

/* osp_labels_grow makes room for cap labels (at most OSP_LABELS_MAX). */
static osp_err osp_labels_grow(osp_labels *l, size_t cap)
{
	char **k, **v;

	if (cap > OSP_LABELS_MAX)
		cap = OSP_LABELS_MAX;
	if (cap <= l->cap)
		return OSP_OK;
	if ((k = realloc(l->keys, cap * sizeof(*k))) == NULL)
		return OSP_ENOMEM;
	l->keys = k;
	if ((v = realloc(l->vals, cap * sizeof(*v))) == NULL)
		return OSP_ENOMEM;
	l->vals = v;
	l->cap = cap;
	return OSP_OK;
}

static ptrdiff_t osp_labels_find(const osp_labels *l, const char *key)
{
	for (size_t i = 0; i < l->n; i++) {
		if (strcmp(l->keys[i], key) == 0)
			return (ptrdiff_t)i;
	}
	return -1;
}

osp_err osp_labels_set(osp_labels *l, const char *key, const char *value)
{
	ptrdiff_t i;
	char *k = NULL, *v = NULL;

	if (!osp_valid_label(key, value))
		return OSP_EINVAL;
	v = strdup(value);
	if (v == NULL)
		return OSP_ENOMEM;
	i = osp_labels_find(l, key);
	if (i >= 0) {
		free(l->vals[i]);
		l->vals[i] = v;
		return OSP_OK;
	}
	if (l->n >= OSP_LABELS_MAX) {
		free(v);
		return OSP_ETOOBIG;
	}
	if (l->n == l->cap && osp_labels_grow(l, l->cap ? 2 * l->cap : 4) != OSP_OK) {
		free(v);
		return OSP_ENOMEM;
	}
	k = strdup(key);
	if (k == NULL) {
		free(v);
		return OSP_ENOMEM;
	}
	l->keys[l->n] = k;
	l->vals[l->n] = v;
	l->n++;
	return OSP_OK;
}

const char *osp_labels_get(const osp_labels *l, const char *key)
{
	ptrdiff_t i;

	if (l == NULL || key == NULL)
		return NULL;
	i = osp_labels_find(l, key);
	return i >= 0 ? l->vals[i] : NULL;
}

/* osp_labels_split copies the key and value of "K=V" (of length len) into
 * key and val, each OSP_LABELS_PART_MAX bytes. */
static osp_err osp_labels_split(const char *kv, size_t len, char *key, char *val)
{
	const char *eq = memchr(kv, '=', len);
	size_t klen, vlen;

	if (eq == NULL)
		return OSP_EINVAL;
	klen = (size_t)(eq - kv);
	vlen = len - klen - 1;
	if (klen >= OSP_LABELS_PART_MAX || vlen >= OSP_LABELS_PART_MAX)
		return OSP_EINVAL;
	memcpy(key, kv, klen);
	key[klen] = '\0';
	memcpy(val, eq + 1, vlen);
	val[vlen] = '\0';
	return OSP_OK;
}

osp_err osp_labels_parse_kv(osp_labels *l, const char *kv)
{
	char key[OSP_LABELS_PART_MAX], val[OSP_LABELS_PART_MAX];
	osp_err rv;

	if (kv == NULL)
		return OSP_EINVAL;
	rv = osp_labels_split(kv, strlen(kv), key, val);
	if (rv != OSP_OK)
		return rv;
	return osp_labels_set(l, key, val);
}

osp_err osp_labels_parse_list(osp_labels *l, const char *list)
{
	char key[OSP_LABELS_PART_MAX], val[OSP_LABELS_PART_MAX];
	osp_labels tmp = { 0 };
	const char *p = list;
	osp_err rv;

	if (list == NULL)
		return OSP_EINVAL;
	if (list[0] == '\0')
		return OSP_OK; /* the empty selector */
	/* Work on a copy so that a bad element leaves l unchanged. */
	if ((rv = osp_labels_copy(&tmp, l)) != OSP_OK)
		return rv;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		rv = osp_labels_split(p, len, key, val);
		if (rv == OSP_OK)
			rv = osp_labels_set(&tmp, key, val);
		if (rv != OSP_OK || comma == NULL)
			break;
		p = comma + 1;
	}
	if (rv != OSP_OK) {
		osp_labels_fini(&tmp);
		return rv;
	}
	osp_labels_fini(l);
	*l = tmp; /* the strings move to l */
	return OSP_OK;
}

bool osp_labels_match(const osp_labels *l, const osp_labels *sel)
{
	if (sel == NULL)
		return true;
	for (size_t i = 0; i < sel->n; i++) {
		const char *v = osp_labels_get(l, sel->keys[i]);
		if (v == NULL || strcmp(v, sel->vals[i]) != 0)
			return false;
	}
	return true;
}

osp_err osp_labels_copy(osp_labels *dst, const osp_labels *src)
{
	osp_labels tmp = { 0 };

	if (dst == src)
		return OSP_OK;
	if (src->n > 0 && osp_labels_grow(&tmp, src->n) != OSP_OK) {
		osp_labels_fini(&tmp);
		return OSP_ENOMEM;
	}
	for (size_t i = 0; i < src->n; i++) {
		tmp.keys[i] = strdup(src->keys[i]);
		tmp.vals[i] = strdup(src->vals[i]);
		tmp.n = i + 1;
		if (tmp.keys[i] == NULL || tmp.vals[i] == NULL) {
			osp_labels_fini(&tmp);
			return OSP_ENOMEM;
		}
	}
	osp_labels_fini(dst);
	*dst = tmp; /* the strings move to dst */
	return OSP_OK;
}

void osp_labels_fini(osp_labels *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n && i < l->cap; i++) {
		free(l->keys[i]);
		free(l->vals[i]);
	}
	free(l->keys);
	free(l->vals);
	l->keys = l->vals = NULL;
	l->n = l->cap = 0;
}
