/*
 * cfg_get.c - reading values out of a parsed config tree (ospec/cfg.h): map
 * lookup, the typed getters and the "file:line:col: path: expected ..., got
 * ..." errors. The reader that builds the tree is cfg.c.
 */
#include "ospec/cfg.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ospec/util.h"

#define OSP_CFG_GOT_MAX 48 /* bytes of a value quoted in a message */

const osp_cfg_node *osp_cfg_get(const osp_cfg_node *map, const char *key)
{
	if (map == NULL || key == NULL || map->kind != OSP_CFG_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++) {
		if (strcmp(map->items[i]->key, key) == 0)
			return map->items[i];
	}
	return NULL;
}

/* osp_cfg_got describes what a node holds for "got ..." in messages: a quoted,
 * shortened scalar with control characters replaced, or the kind. */
static void osp_cfg_got(const osp_cfg_node *n, char *buf, size_t len)
{
	char v[OSP_CFG_GOT_MAX + 1];
	size_t i = 0, cut;
	const char *s;

	if (n == NULL || (n->kind == OSP_CFG_SCALAR && n->is_null && n->value[0] == '\0')) {
		osp_strlcpy(buf, "nothing", len);
		return;
	}
	if (n->kind != OSP_CFG_SCALAR) {
		osp_strlcpy(buf, n->kind == OSP_CFG_MAP ? "a map" : "a list", len);
		return;
	}
	s = n->value;
	cut = strlen(s) > OSP_CFG_GOT_MAX ? OSP_CFG_GOT_MAX : strlen(s);
	while (cut > 0 && cut < strlen(s) && ((unsigned char)s[cut] & 0xC0) == 0x80)
		cut--; /* do not split a UTF-8 sequence */
	for (i = 0; i < cut; i++) {
		unsigned char c = (unsigned char)s[i];
		v[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	v[i] = '\0';
	snprintf(buf, len, "\"%s%s\"", v, cut < strlen(s) ? "..." : "");
}

osp_err osp_cfg_errorf(const osp_cfg_doc *d, const osp_cfg_node *n, const char *path,
	char *err, size_t errlen, const char *fmt, ...)
{
	const char *file = d && d->file ? d->file : "<config>";
	va_list ap;
	int k;

	if (errlen == 0)
		return OSP_ECONFIG;
	if (n != NULL)
		k = snprintf(err, errlen, "%s:%d:%d: ", file, n->line, n->col);
	else
		k = snprintf(err, errlen, "%s: ", file);
	if (k >= 0 && (size_t)k < errlen && path != NULL && path[0] != '\0')
		k += snprintf(err + k, errlen - (size_t)k, "%s: ", path);
	if (k < 0 || (size_t)k >= errlen)
		return OSP_ECONFIG; /* a truncated message is still a message */
	va_start(ap, fmt);
	vsnprintf(err + k, errlen - (size_t)k, fmt, ap);
	va_end(ap);
	return OSP_ECONFIG;
}

static osp_err osp_cfg_expected(const osp_cfg_doc *d, const osp_cfg_node *n, const char *path,
	char *err, size_t errlen, const char *what)
{
	char got[OSP_CFG_GOT_MAX + 8];

	osp_cfg_got(n, got, sizeof(got));
	return osp_cfg_errorf(d, n, path, err, errlen, "expected %s, got %s", what, got);
}

static bool osp_cfg_is_value(const osp_cfg_node *n)
{
	return n != NULL && n->kind == OSP_CFG_SCALAR && !n->is_null;
}

osp_err osp_cfg_str(const osp_cfg_doc *d, const osp_cfg_node *n, const char *path,
	size_t maxlen, const char **out, char *err, size_t errlen)
{
	char what[64];

	if (maxlen == 0)
		snprintf(what, sizeof(what), "a string");
	else
		snprintf(what, sizeof(what), "a string of at most %zu bytes", maxlen);
	if (!osp_cfg_is_value(n) || (maxlen > 0 && strlen(n->value) > maxlen))
		return osp_cfg_expected(d, n, path, err, errlen, what);
	*out = n->value;
	return OSP_OK;
}

osp_err osp_cfg_u64(const osp_cfg_doc *d, const osp_cfg_node *n, const char *path,
	uint64_t min, uint64_t max, uint64_t *out, char *err, size_t errlen)
{
	char what[96];

	if (max == UINT64_MAX)
		snprintf(what, sizeof(what), "an integer >= %llu", (unsigned long long)min);
	else
		snprintf(what, sizeof(what), "an integer in %llu..%llu", (unsigned long long)min,
			(unsigned long long)max);
	if (!osp_cfg_is_value(n) || osp_u64_parse(n->value, min, max, out) != OSP_OK)
		return osp_cfg_expected(d, n, path, err, errlen, what);
	return OSP_OK;
}

osp_err osp_cfg_bool(const osp_cfg_doc *d, const osp_cfg_node *n, const char *path,
	bool *out, char *err, size_t errlen)
{
	static const char *const yes[] = { "true", "yes", "on" };
	static const char *const no[] = { "false", "no", "off" };

	if (osp_cfg_is_value(n)) {
		for (size_t i = 0; i < 3; i++) {
			if (strcasecmp(n->value, yes[i]) == 0 || strcasecmp(n->value, no[i]) == 0) {
				*out = strcasecmp(n->value, yes[i]) == 0;
				return OSP_OK;
			}
		}
	}
	return osp_cfg_expected(d, n, path, err, errlen, "true or false");
}

osp_err osp_cfg_duration(const osp_cfg_doc *d, const osp_cfg_node *n, const char *path,
	int64_t *ms, char *err, size_t errlen)
{
	if (!osp_cfg_is_value(n) || osp_duration_parse(n->value, ms) != OSP_OK)
		return osp_cfg_expected(d, n, path, err, errlen, "a duration like 500ms, 30s, 5m");
	return OSP_OK;
}
