/*
 * opts.c - a daemon's settings from one table: defaults, then the YAML config
 * file (-c FILE), then the command-line flags, which win.
 *
 * Every value passes through osp_opts_parse, whether it comes from a default
 * string, a flag or a config scalar, so the three accept exactly the same
 * text. The command line is read twice: first to find --help, --version and
 * the config file (and to refuse unknown flags before any file is read), then
 * to apply the flags over what the file set.
 */
#include "ospec/opts.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ospec/labels.h"
#include "ospec/util.h"

#define OSP_OPTS_STR_MAX 4096  /* longest string value (a path, a URL) */
#define OSP_OPTS_KEY_MAX 128   /* longest config key */
#define OSP_OPTS_SHOW_MAX 48   /* bytes of a bad value quoted in a message */

typedef struct osp_opts_tok {
	const osp_opt *opt;       /* NULL for --help and --version */
	osp_opts_action action;
	const char *value;        /* the flag's text; "true" for a bare BOOL flag */
	char spelled[80];         /* "--name" or "-c" as typed, for messages */
} osp_opts_tok;

/* Messages are for humans; a truncated one is still useful, so the result of
 * vsnprintf is deliberately not checked. */
static osp_err osp_opts_fail(char *err, size_t errlen, osp_err rv, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static osp_err osp_opts_fail(char *err, size_t errlen, osp_err rv, const char *fmt, ...)
{
	va_list ap;

	if (errlen == 0)
		return rv;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rv;
}

/* osp_opts_show copies a shortened s with control characters replaced. */
static void osp_opts_show(const char *s, char *buf, size_t len)
{
	size_t n = strlen(s), cut = n > OSP_OPTS_SHOW_MAX ? OSP_OPTS_SHOW_MAX : n, i;
	char v[OSP_OPTS_SHOW_MAX + 1];

	while (cut > 0 && cut < n && ((unsigned char)s[cut] & 0xC0) == 0x80)
		cut--; /* do not split a UTF-8 sequence */
	for (i = 0; i < cut; i++) {
		unsigned char c = (unsigned char)s[i];
		v[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	v[i] = '\0';
	snprintf(buf, len, "%s%s", v, cut < n ? "..." : "");
}

static void *osp_opts_field(const osp_opt *o, void *target)
{
	return (char *)target + o->offset;
}

static bool osp_opts_is_config(const osp_opt *o)
{
	return o->type == OSP_OPT_STR && strcmp(o->name, "config") == 0;
}

/* osp_opts_key writes the config key of o: dashes become underscores, and a
 * LABELS option is plural ("label" -> "labels"). */
static void osp_opts_key(const osp_opt *o, char *buf, size_t len)
{
	size_t i;

	for (i = 0; o->name[i] != '\0' && i + 2 < len; i++)
		buf[i] = o->name[i] == '-' ? '_' : o->name[i];
	if (o->type == OSP_OPT_LABELS)
		buf[i++] = 's';
	buf[i] = '\0';
}

static uint64_t osp_opts_max(const osp_opt *o)
{
	if (o->min == 0 && o->max == 0)
		return o->type == OSP_OPT_DURATION ? (uint64_t)OSP_OPTS_MS_MAX : UINT64_MAX;
	return o->max;
}

/* osp_opts_ranged: the table gave o a range (shown in messages). */
static bool osp_opts_ranged(const osp_opt *o)
{
	return o->min != 0 || o->max != 0;
}

/* osp_opts_size_fmt writes bytes in the largest unit that divides it. */
static void osp_opts_size_fmt(uint64_t v, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	size_t u = 0;

	while (u + 1 < sizeof(units) / sizeof(units[0]) && v != 0 && v % 1024 == 0) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, "%llu%s", (unsigned long long)v, units[u]);
}

/* osp_opts_port_ok: 1..65535 in decimal digits, the whole of s. */
static bool osp_opts_port_ok(const char *s)
{
	uint64_t port;

	return s[0] >= '0' && s[0] <= '9' && osp_u64_parse(s, 1, 65535, &port) == OSP_OK;
}

/* osp_opts_url_ok checks "scheme://rest" against o's schemes: ipc:// needs a
 * path that fits a unix socket address (sun_path, 108 bytes with its NUL);
 * the others HOST:PORT (HOST may be empty or [v6]) and nothing after it. */
static bool osp_opts_url_ok(const osp_opt *o, const char *text)
{
	const char *rest = NULL, *colon;

	for (size_t i = 0; o->choices != NULL && o->choices[i] != NULL; i++) {
		size_t l = strlen(o->choices[i]);
		if (strncmp(text, o->choices[i], l) == 0)
			rest = text + l;
	}
	if (rest == NULL)
		return false;
	for (const char *p = rest; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == ' ')
			return false;
	if (strncmp(text, "ipc://", 6) == 0)
		return rest[0] != '\0' && strlen(rest) < 108;
	if (rest[0] == '[') {
		const char *end = strchr(rest, ']');
		if (end == NULL || end[1] != ':')
			return false;
		return osp_opts_port_ok(end + 2);
	}
	colon = strrchr(rest, ':');
	if (colon == NULL || memchr(rest, '/', (size_t)(colon - rest)) != NULL)
		return false;
	return osp_opts_port_ok(colon + 1);
}

/* osp_opts_what_str describes what a STR option accepts. */
static void osp_opts_what_str(const osp_opt *o, char *buf, size_t len)
{
	size_t k;

	if (o->list) {
		osp_opt one = *o;
		one.list = false;
		osp_opts_what_str(&one, buf, len);
		k = strlen(buf);
		snprintf(buf + k, len - k, " (several: separated by ',')");
		return;
	}

	if (o->form == OSP_FORM_PATH) {
		snprintf(buf, len, "a path (not empty)");
		return;
	}
	if (o->choices == NULL) {
		snprintf(buf, len, "a value of at most %d bytes", OSP_OPTS_STR_MAX);
		return;
	}
	k = (size_t)snprintf(buf, len, o->form == OSP_FORM_URL ? "a URL " : "one of ");
	for (size_t i = 0; o->choices[i] != NULL && k < len; i++) {
		const char *sep = o->form == OSP_FORM_URL ? " or " : "|";
		k += (size_t)snprintf(buf + k, len - k, "%s%s%s", i ? sep : "", o->choices[i],
			o->form != OSP_FORM_URL ? ""
			: strcmp(o->choices[i], "ipc://") == 0 ? "PATH" : "HOST:PORT");
	}
}

/* osp_opts_what describes the text o accepts, for "expected ..." messages. */
static void osp_opts_what(const osp_opt *o, char *buf, size_t len)
{
	char lo[32], hi[32];

	switch (o->type) {
	case OSP_OPT_STR:
		osp_opts_what_str(o, buf, len);
		return;
	case OSP_OPT_DURATION:
		if (!osp_opts_ranged(o)) {
			snprintf(buf, len, "a duration like 500ms, 30s, 5m");
			return;
		}
		osp_duration_fmt((int64_t)o->min, lo, sizeof(lo));
		osp_duration_fmt((int64_t)o->max, hi, sizeof(hi));
		snprintf(buf, len, "a duration from %s to %s", lo, hi);
		return;
	case OSP_OPT_SIZE:
		if (!osp_opts_ranged(o)) {
			snprintf(buf, len, "a size like 64KiB, 4MiB");
			return;
		}
		osp_opts_size_fmt(o->min, lo, sizeof(lo));
		osp_opts_size_fmt(o->max, hi, sizeof(hi));
		snprintf(buf, len, "a size from %s to %s", lo, hi);
		return;
	case OSP_OPT_UINT:
		if (osp_opts_max(o) == UINT64_MAX)
			snprintf(buf, len, "an integer >= %llu", (unsigned long long)o->min);
		else
			snprintf(buf, len, "an integer in %llu..%llu", (unsigned long long)o->min,
				(unsigned long long)o->max);
		return;
	case OSP_OPT_BOOL:
		snprintf(buf, len, "true or false");
		return;
	case OSP_OPT_LABELS:
		snprintf(buf, len, "KEY=VALUE (key: letters, digits, . _ - /; value: up to 63 "
			"printable characters without , = \" \\; at most %d labels)", OSP_LABELS_MAX);
		return;
	default:
		snprintf(buf, len, "a value in the config file");
		return;
	}
}

/* osp_opts_str_ok: text is one value o accepts (a list option: one item). */
static bool osp_opts_str_ok(const osp_opt *o, const char *text)
{
	bool ok = o->choices == NULL || o->form == OSP_FORM_URL;

	if (strlen(text) > OSP_OPTS_STR_MAX)
		return false;
	for (size_t i = 0; !ok && o->choices[i] != NULL; i++)
		ok = strcmp(o->choices[i], text) == 0;
	if (o->form == OSP_FORM_PATH) {
		/* "" would put files at "/" (DIR + "/name") */
		ok = ok && text[0] != '\0';
		for (const char *p = text; ok && *p != '\0'; p++)
			ok = (unsigned char)*p >= 0x20 && *p != 0x7f;
	}
	if (o->form == OSP_FORM_URL)
		ok = osp_opts_url_ok(o, text);
	return ok;
}

/* osp_opts_list_item copies the next item of a list text at *p (up to the
 * next ',', blanks around it dropped) into buf and moves *p past it (NULL
 * after the last). false when it does not fit len. */
static bool osp_opts_list_item(const char **p, char *buf, size_t len)
{
	const char *s = *p, *end = strchr(s, ',');
	size_t n = end != NULL ? (size_t)(end - s) : strlen(s);

	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	*p = end != NULL ? end + 1 : NULL;
	if (n >= len)
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return true;
}

/* osp_opts_list_bad_item copies the first item of text that o does not
 * accept into buf (the whole text if none), for messages. */
static void osp_opts_list_bad_item(const osp_opt *o, const char *text, char *buf, size_t len)
{
	char item[OSP_OPTS_STR_MAX + 1];

	osp_strlcpy(buf, text, len); /* an empty or too long item: the whole text */
	for (const char *p = text; p != NULL;) {
		if (!osp_opts_list_item(&p, item, sizeof(item)))
			return;
		if (!osp_opts_str_ok(o, item)) {
			if (item[0] != '\0')
				osp_strlcpy(buf, item, len);
			return;
		}
	}
}

/* osp_opts_list_norm writes a list text as "item,item" (blanks dropped)
 * into out; OSP_EINVAL when an item is empty or not what o accepts. */
static osp_err osp_opts_list_norm(const osp_opt *o, const char *text, char *out, size_t len)
{
	char item[OSP_OPTS_STR_MAX + 1];
	size_t k = 0;

	out[0] = '\0';
	for (const char *p = text; p != NULL;) {
		if (!osp_opts_list_item(&p, item, sizeof(item)) || item[0] == '\0' ||
			!osp_opts_str_ok(o, item))
			return OSP_EINVAL;
		k += (size_t)snprintf(out + k, len - k, "%s%s", k ? "," : "", item);
		if (k >= len)
			return OSP_ETOOBIG;
	}
	return OSP_OK;
}

static osp_err osp_opts_set_str(const osp_opt *o, const char *text, char **field)
{
	char norm[OSP_OPTS_STR_MAX + 1];
	char *copy;
	osp_err rv;

	if (strlen(text) > OSP_OPTS_STR_MAX)
		return OSP_EINVAL;
	if (o->list) {
		if ((rv = osp_opts_list_norm(o, text, norm, sizeof(norm))) != OSP_OK)
			return rv;
		text = norm;
	} else if (!osp_opts_str_ok(o, text)) {
		return OSP_EINVAL;
	}
	copy = strdup(text);
	if (copy == NULL)
		return OSP_ENOMEM;
	free(*field);
	*field = copy;
	return OSP_OK;
}

static osp_err osp_opts_parse_bool(const char *text, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on" };
	static const char *const no[] = { "false", "no", "off" };

	for (size_t i = 0; i < 3; i++) {
		if (strcasecmp(text, yes[i]) == 0 || strcasecmp(text, no[i]) == 0) {
			*out = strcasecmp(text, yes[i]) == 0;
			return OSP_OK;
		}
	}
	return OSP_EINVAL;
}

/* osp_opts_parse stores text into o's field. A LABELS text is one K=V (a flag)
 * or, with list, "K=V,K2=V2" (a default). OSP_EINVAL or OSP_ETOOBIG means the
 * text is not what osp_opts_what describes. */
static osp_err osp_opts_parse(const osp_opt *o, const char *text, bool list, void *target)
{
	void *f = osp_opts_field(o, target);
	int64_t ms;
	uint64_t u;
	bool b;

	switch (o->type) {
	case OSP_OPT_STR:
		return osp_opts_set_str(o, text, f);
	case OSP_OPT_DURATION:
		/* checked here, not where it is used: a field of 32 bits would
		 * silently keep the low bits of a bigger value */
		if (osp_duration_parse(text, &ms) != OSP_OK || (uint64_t)ms < o->min ||
			(uint64_t)ms > osp_opts_max(o))
			return OSP_EINVAL;
		*(int64_t *)f = ms;
		return OSP_OK;
	case OSP_OPT_SIZE:
		if (osp_size_parse(text, &u) != OSP_OK || u < o->min || u > osp_opts_max(o))
			return OSP_EINVAL;
		*(uint64_t *)f = u;
		return OSP_OK;
	case OSP_OPT_UINT:
		if (osp_u64_parse(text, o->min, osp_opts_max(o), &u) != OSP_OK)
			return OSP_EINVAL;
		*(uint64_t *)f = u;
		return OSP_OK;
	case OSP_OPT_BOOL:
		if (osp_opts_parse_bool(text, &b) != OSP_OK)
			return OSP_EINVAL;
		*(bool *)f = b;
		return OSP_OK;
	case OSP_OPT_LABELS:
		return list ? osp_labels_parse_list(f, text) : osp_labels_parse_kv(f, text);
	default:
		return OSP_EINVAL;
	}
}

static const osp_opt *osp_opts_find_long(const osp_opt *table, size_t n, const char *name,
	size_t len)
{
	for (size_t i = 0; i < n; i++) {
		const osp_opt *o = &table[i];
		if (!o->config_only && o->type != OSP_OPT_CUSTOM && strlen(o->name) == len &&
			strncmp(o->name, name, len) == 0)
			return o;
	}
	return NULL;
}

static const osp_opt *osp_opts_find_short(const osp_opt *table, size_t n, char c)
{
	for (size_t i = 0; i < n; i++) {
		const osp_opt *o = &table[i];
		if (!o->config_only && o->type != OSP_OPT_CUSTOM && o->short_name != 0 &&
			o->short_name == c)
			return o;
	}
	return NULL;
}

/* osp_opts_lookup identifies argv[i] (without its value): a table entry, or
 * --help/--version. *inl is the "=value" (or "-cVALUE") part or NULL. */
static osp_err osp_opts_lookup(const osp_opt *table, size_t n, const char *a,
	osp_opts_tok *tok, const char **inl, char *err, size_t errlen)
{
	const char *name = a + 2, *eq;
	size_t len;

	if (a[0] != '-' || a[1] == '\0' || strcmp(a, "--") == 0)
		return osp_opts_fail(err, errlen, OSP_EINVAL, "unexpected argument '%.64s'", a);
	if (a[1] != '-') {
		snprintf(tok->spelled, sizeof(tok->spelled), "-%c", a[1]);
		*inl = a[2] == '\0' ? NULL : a[2] == '=' ? a + 3 : a + 2;
		if (a[1] == 'h' && *inl == NULL)
			tok->action = OSP_OPTS_HELP;
		else if ((tok->opt = osp_opts_find_short(table, n, a[1])) == NULL)
			return osp_opts_fail(err, errlen, OSP_EINVAL, "unknown option '-%c'", a[1]);
		return OSP_OK;
	}
	eq = strchr(name, '=');
	len = eq ? (size_t)(eq - name) : strlen(name);
	*inl = eq ? eq + 1 : NULL;
	snprintf(tok->spelled, sizeof(tok->spelled), "--%.*s", len > 64 ? 64 : (int)len, name);
	if ((len == 4 && strncmp(name, "help", 4) == 0) ||
		(len == 7 && strncmp(name, "version", 7) == 0)) {
		if (*inl != NULL)
			return osp_opts_fail(err, errlen, OSP_EINVAL, "option '%s' takes no value",
				tok->spelled);
		tok->action = name[0] == 'h' ? OSP_OPTS_HELP : OSP_OPTS_VERSION;
		return OSP_OK;
	}
	tok->opt = osp_opts_find_long(table, n, name, len);
	if (tok->opt == NULL)
		return osp_opts_fail(err, errlen, OSP_EINVAL, "unknown option '%s'", tok->spelled);
	return OSP_OK;
}

/* osp_opts_next reads the flag at argv[*i] and its value, advancing *i past
 * both. A BOOL flag takes its value only in the "--flag=value" form. */
static osp_err osp_opts_next(const osp_opt *table, size_t n, int argc, char **argv, int *i,
	osp_opts_tok *tok, char *err, size_t errlen)
{
	const char *inl = NULL;
	osp_err rv;

	memset(tok, 0, sizeof(*tok));
	rv = osp_opts_lookup(table, n, argv[*i], tok, &inl, err, errlen);
	(*i)++;
	if (rv != OSP_OK || tok->opt == NULL)
		return rv;
	if (inl != NULL) {
		tok->value = inl;
	} else if (tok->opt->type == OSP_OPT_BOOL) {
		tok->value = "true";
	} else if (*i < argc) {
		tok->value = argv[(*i)++];
	} else {
		return osp_opts_fail(err, errlen, OSP_EINVAL, "option '%s' needs a value%s%s",
			tok->spelled, tok->opt->metavar ? " " : "",
			tok->opt->metavar ? tok->opt->metavar : "");
	}
	return OSP_OK;
}

/* osp_opts_show_value shows text for a message: of a list, its first item
 * that o does not accept. */
static void osp_opts_show_value(const osp_opt *o, const char *text, char *buf, size_t len)
{
	char item[OSP_OPTS_STR_MAX + 1];

	if (o->type == OSP_OPT_STR && o->list) {
		osp_opts_list_bad_item(o, text, item, sizeof(item));
		text = item;
	}
	osp_opts_show(text, buf, len);
}

/* osp_opts_bad writes "<who>: expected <what>, got '<text>'" for a flag or a
 * default value and returns OSP_EINVAL (or rv if it is OSP_ENOMEM). */
static osp_err osp_opts_bad(const osp_opt *o, const char *who, const char *text, osp_err rv,
	char *err, size_t errlen)
{
	char what[256], shown[OSP_OPTS_SHOW_MAX + 8];

	if (rv == OSP_ENOMEM)
		return osp_opts_fail(err, errlen, rv, "%s: out of memory", who);
	osp_opts_what(o, what, sizeof(what));
	osp_opts_show_value(o, text, shown, sizeof(shown));
	return osp_opts_fail(err, errlen, OSP_EINVAL, "%s: expected %s, got '%s'", who, what,
		shown);
}

static osp_err osp_opts_defaults(const osp_opt *table, size_t n, void *target, char *err,
	size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		const osp_opt *o = &table[i];
		char who[96];
		osp_err rv;

		if (o->defval == NULL || o->type == OSP_OPT_CUSTOM)
			continue;
		rv = osp_opts_parse(o, o->defval, true, target);
		if (rv != OSP_OK) {
			snprintf(who, sizeof(who), "default of --%.64s", o->name);
			return osp_opts_bad(o, who, o->defval, rv, err, errlen);
		}
	}
	return OSP_OK;
}

/* osp_opts_node_bad writes "file:l:c: key: expected <what>, got ..." for a
 * config value that o does not accept. */
static osp_err osp_opts_node_bad(const osp_opt *o, const osp_cfg_doc *doc,
	const osp_cfg_node *node, const char *key, osp_err rv, char *err, size_t errlen)
{
	char what[256], shown[OSP_OPTS_SHOW_MAX + 8];

	if (rv == OSP_ENOMEM)
		return osp_opts_fail(err, errlen, rv, "%s: out of memory", doc->file);
	osp_opts_what(o, what, sizeof(what));
	if (node->kind == OSP_CFG_MAP || node->kind == OSP_CFG_SEQ)
		return osp_cfg_errorf(doc, node, key, err, errlen, "expected %s, got a %s", what,
			node->kind == OSP_CFG_MAP ? "map" : "list");
	if (node->is_null)
		return osp_cfg_errorf(doc, node, key, err, errlen, "expected %s, got nothing", what);
	osp_opts_show_value(o, node->value, shown, sizeof(shown));
	return osp_cfg_errorf(doc, node, key, err, errlen, "expected %s, got \"%s\"", what, shown);
}

static osp_err osp_opts_labels_node(const osp_opt *o, const osp_cfg_doc *doc,
	const osp_cfg_node *node, const char *key, void *target, char *err, size_t errlen)
{
	osp_labels *l = osp_opts_field(o, target);
	char path[OSP_OPTS_KEY_MAX + 80];

	if (node->kind == OSP_CFG_SCALAR && node->is_null) {
		osp_labels_fini(l);
		return OSP_OK;
	}
	if (node->kind != OSP_CFG_MAP)
		return osp_cfg_errorf(doc, node, key, err, errlen,
			"expected a map of labels like {region: us-east, role: web}");
	osp_labels_fini(l); /* the file's labels replace the defaults */
	for (size_t i = 0; i < node->n; i++) {
		const osp_cfg_node *item = node->items[i];
		osp_cfg_node at = *item;
		osp_err rv;

		snprintf(path, sizeof(path), "%s.%.64s", key, item->key);
		if (item->kind != OSP_CFG_SCALAR)
			return osp_cfg_errorf(doc, item, path, err, errlen,
				"expected a label value, got a %s",
				item->kind == OSP_CFG_MAP ? "map" : "list");
		rv = osp_labels_set(l, item->key, item->is_null ? "" : item->value);
		if (rv == OSP_ENOMEM)
			return rv;
		if (rv == OSP_ETOOBIG)
			return osp_cfg_errorf(doc, item, key, err, errlen, "more than %d labels",
				OSP_LABELS_MAX);
		if (rv != OSP_OK && !osp_valid_label(item->key, "")) {
			at.line = item->key_line; /* point at the key, not the value */
			at.col = item->key_col;
			return osp_cfg_errorf(doc, &at, path, err, errlen, "invalid label key (letters, "
				"digits, . _ - / and at most 63 of them, starting with a letter or digit)");
		}
		if (rv != OSP_OK)
			return osp_cfg_errorf(doc, item, path, err, errlen, "invalid label value (up to "
				"63 printable characters without spaces, , = \" \\)");
	}
	return OSP_OK;
}

/* osp_opts_seq_node reads a YAML list into a list option: each item one
 * value o accepts (an error points at the first that is not), stored as
 * the text "item,item". */
static osp_err osp_opts_seq_node(const osp_opt *o, const osp_cfg_doc *doc,
	const osp_cfg_node *node, const char *key, void *target, char *err, size_t errlen)
{
	char text[OSP_OPTS_STR_MAX + 1], path[OSP_OPTS_KEY_MAX + 24];
	size_t k = 0;
	osp_err rv;

	if (node->n == 0)
		return osp_cfg_errorf(doc, node, key, err, errlen, "expected at least one value, "
			"got an empty list");
	text[0] = '\0';
	for (size_t i = 0; i < node->n; i++) {
		const osp_cfg_node *it = node->items[i];

		snprintf(path, sizeof(path), "%s[%zu]", key, i);
		if (it->kind != OSP_CFG_SCALAR || it->is_null || strchr(it->value, ',') != NULL ||
			!osp_opts_str_ok(o, it->value))
			return osp_opts_node_bad(o, doc, it, path, OSP_EINVAL, err, errlen);
		k += (size_t)snprintf(text + k, sizeof(text) - k, "%s%s", i ? "," : "", it->value);
		if (k >= sizeof(text))
			return osp_cfg_errorf(doc, node, key, err, errlen,
				"longer than %d bytes in all", OSP_OPTS_STR_MAX);
	}
	rv = osp_opts_parse(o, text, false, target);
	return rv == OSP_OK ? rv : osp_opts_node_bad(o, doc, node, key, rv, err, errlen);
}

static osp_err osp_opts_apply_node(const osp_opt *o, const osp_cfg_doc *doc,
	const osp_cfg_node *node, const char *key, void *target, char *err, size_t errlen)
{
	osp_err rv;

	if (o->type == OSP_OPT_CUSTOM) {
		if (o->custom == NULL)
			return osp_cfg_errorf(doc, node, key, err, errlen, "no reader for this key");
		rv = o->custom(osp_opts_field(o, target), doc, node, err, errlen);
		return rv == OSP_OK || rv == OSP_ENOMEM ? rv : OSP_ECONFIG;
	}
	if (o->type == OSP_OPT_LABELS)
		return osp_opts_labels_node(o, doc, node, key, target, err, errlen);
	if (o->type == OSP_OPT_STR && o->list && node->kind == OSP_CFG_SEQ)
		return osp_opts_seq_node(o, doc, node, key, target, err, errlen);
	if (node->kind != OSP_CFG_SCALAR || node->is_null)
		return osp_opts_node_bad(o, doc, node, key, OSP_EINVAL, err, errlen);
	rv = osp_opts_parse(o, node->value, false, target);
	if (rv != OSP_OK)
		return osp_opts_node_bad(o, doc, node, key, rv, err, errlen);
	return OSP_OK;
}

static const osp_opt *osp_opts_find_key(const osp_opt *table, size_t n, const char *key)
{
	char k[OSP_OPTS_KEY_MAX];

	for (size_t i = 0; i < n; i++) {
		if (table[i].flag_only || osp_opts_is_config(&table[i]))
			continue;
		osp_opts_key(&table[i], k, sizeof(k));
		if (strcmp(k, key) == 0)
			return &table[i];
	}
	return NULL;
}

static osp_err osp_opts_config(const osp_opt *table, size_t n, const char *path, void *target,
	char *err, size_t errlen)
{
	osp_cfg_doc *doc = NULL;
	const osp_cfg_node *root;
	osp_err rv;

	rv = osp_cfg_load(path, NULL, &doc, err, errlen);
	if (rv != OSP_OK)
		return rv == OSP_ENOMEM ? rv : OSP_ECONFIG;
	root = doc->root;
	if (root != NULL && root->kind != OSP_CFG_MAP) {
		rv = osp_cfg_errorf(doc, root, NULL, err, errlen,
			"expected a map of settings (key: value), got a %s",
			root->kind == OSP_CFG_SEQ ? "list" : "single value");
		goto out;
	}
	for (size_t i = 0; root != NULL && i < root->n; i++) {
		const osp_cfg_node *item = root->items[i];
		const osp_opt *o = osp_opts_find_key(table, n, item->key);
		osp_cfg_node at = *item;

		if (o == NULL) {
			at.line = item->key_line; /* point at the key */
			at.col = item->key_col;
			rv = osp_cfg_errorf(doc, &at, item->key, err, errlen, "unknown key");
			goto out;
		}
		if ((rv = osp_opts_apply_node(o, doc, item, item->key, target, err, errlen)) != OSP_OK)
			goto out;
	}
out:
	osp_cfg_doc_free(doc);
	return rv;
}

/* osp_opts_scan is the first pass: it refuses unknown flags and finds --help,
 * --version and the config file before anything is applied. */
static osp_err osp_opts_scan(const osp_opt *table, size_t n, int argc, char **argv,
	osp_opts_action *action, const char **config, char *err, size_t errlen)
{
	osp_opts_tok tok;

	for (int i = 1; i < argc;) {
		osp_err rv = osp_opts_next(table, n, argc, argv, &i, &tok, err, errlen);
		if (rv != OSP_OK)
			return rv;
		if (tok.action != OSP_OPTS_RUN) {
			*action = tok.action;
			return OSP_OK;
		}
		if (osp_opts_is_config(tok.opt))
			*config = tok.value;
	}
	return OSP_OK;
}

osp_err osp_opts_load(const osp_opt *table, size_t n, int argc, char **argv, void *target,
	osp_opts_action *action, char *err, size_t errlen)
{
	const char *config = NULL;
	osp_opts_tok tok;
	osp_err rv;

	*action = OSP_OPTS_RUN;
	if (errlen > 0)
		err[0] = '\0';
	rv = osp_opts_scan(table, n, argc, argv, action, &config, err, errlen);
	if (rv != OSP_OK || *action != OSP_OPTS_RUN)
		return rv;
	if ((rv = osp_opts_defaults(table, n, target, err, errlen)) != OSP_OK)
		goto fail;
	if (config != NULL && (rv = osp_opts_config(table, n, config, target, err, errlen)) != OSP_OK)
		goto fail;
	for (int i = 1; i < argc;) {
		if ((rv = osp_opts_next(table, n, argc, argv, &i, &tok, err, errlen)) != OSP_OK)
			goto fail;
		rv = osp_opts_parse(tok.opt, tok.value, false, target);
		if (rv != OSP_OK) {
			rv = osp_opts_bad(tok.opt, tok.spelled, tok.value, rv, err, errlen);
			goto fail;
		}
	}
	return OSP_OK;
fail:
	/* leave nothing half-owned behind; osp_opts_free is idempotent */
	osp_opts_free(table, n, target);
	return rv;
}

static void osp_opts_usage_line(FILE *f, const osp_opt *o, int width)
{
	char left[160], key[OSP_OPTS_KEY_MAX];
	const char *mv = o->metavar;

	if (mv == NULL && o->type == OSP_OPT_LABELS)
		mv = "KEY=VALUE";
	else if (mv == NULL && o->type != OSP_OPT_BOOL)
		mv = "VALUE";
	if (o->config_only || o->type == OSP_OPT_CUSTOM) {
		osp_opts_key(o, key, sizeof(key));
		snprintf(left, sizeof(left), "  %s:", key);
	} else if (o->short_name != 0) {
		snprintf(left, sizeof(left), "  -%c, --%s%s%s", o->short_name, o->name,
			o->type == OSP_OPT_BOOL ? "" : " ", o->type == OSP_OPT_BOOL ? "" : mv);
	} else {
		snprintf(left, sizeof(left), "      --%s%s%s", o->name,
			o->type == OSP_OPT_BOOL ? "" : " ", o->type == OSP_OPT_BOOL ? "" : mv);
	}
	fprintf(f, "%-*s  %s", width, left, o->help ? o->help : "");
	if ((o->type == OSP_OPT_DURATION || o->type == OSP_OPT_SIZE) && osp_opts_ranged(o)) {
		char what[128];
		osp_opts_what(o, what, sizeof(what));
		fprintf(f, " (%s)", what);
	}
	if (o->type == OSP_OPT_STR && o->choices != NULL && o->form != OSP_FORM_URL) {
		fputs(" (", f);
		for (size_t i = 0; o->choices[i] != NULL; i++)
			fprintf(f, "%s%s", i ? "|" : "", o->choices[i]);
		fputs(")", f);
	}
	if (o->type == OSP_OPT_LABELS)
		fputs(" (repeatable)", f);
	if (o->defval != NULL)
		fprintf(f, " [default: %s]", o->defval);
	fputc('\n', f);
}

void osp_opts_usage(const osp_opt *table, size_t n, const char *prog, const char *summary,
	void *out_file)
{
	FILE *f = out_file ? out_file : stdout;
	bool has_config = false, has_file_only = false;
	int width = 22;

	for (size_t i = 0; i < n; i++) {
		int w = 9 + (int)strlen(table[i].name) +
			(table[i].metavar ? (int)strlen(table[i].metavar) : 9);
		if (w > width)
			width = w > 34 ? 34 : w;
		has_config = has_config || osp_opts_is_config(&table[i]);
		has_file_only = has_file_only || table[i].config_only ||
			table[i].type == OSP_OPT_CUSTOM;
	}
	fprintf(f, "usage: %s [options]\n", prog ? prog : "program");
	if (summary != NULL)
		fprintf(f, "%s\n", summary);
	fputs("\noptions:\n", f);
	for (size_t i = 0; i < n; i++) {
		if (!table[i].config_only && table[i].type != OSP_OPT_CUSTOM)
			osp_opts_usage_line(f, &table[i], width);
	}
	fprintf(f, "%-*s  show this help and exit\n", width, "  -h, --help");
	fprintf(f, "%-*s  show the version and exit\n", width, "      --version");
	if (has_file_only) {
		fputs("\nconfig file only:\n", f);
		for (size_t i = 0; i < n; i++) {
			if (table[i].config_only || table[i].type == OSP_OPT_CUSTOM)
				osp_opts_usage_line(f, &table[i], width);
		}
	}
	if (has_config)
		fputs("\nEvery flag can also be set in the config file as \"name: value\", with '-'\n"
			"written '_' (--log-level is log_level:); a flag wins over the file.\n", f);
}

void osp_opts_free(const osp_opt *table, size_t n, void *target)
{
	for (size_t i = 0; i < n; i++) {
		const osp_opt *o = &table[i];
		void *f = osp_opts_field(o, target);

		if (o->type == OSP_OPT_STR) {
			free(*(char **)f);
			*(char **)f = NULL;
		} else if (o->type == OSP_OPT_LABELS) {
			osp_labels_fini(f);
		} else if (o->type == OSP_OPT_CUSTOM && o->custom_free != NULL) {
			o->custom_free(f);
		}
	}
}
