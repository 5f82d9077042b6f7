/* url_redact.c - URLs without their credentials (url_redact.h). */
#include "ospec/url_redact.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "ospec/util.h"

#define OSP_URL_NAME_MAX 256 /* a longer (decoded) parameter name counts as secret */

static int osp_url_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* osp_url_decode percent-decodes s (n bytes, '+' is a space) into buf;
 * returns the decoded length, or SIZE_MAX when it does not fit. */
static size_t osp_url_decode(const char *s, size_t n, char *buf, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '%' && i + 2 < n && osp_url_hex(s[i + 1]) >= 0 &&
			osp_url_hex(s[i + 2]) >= 0) {
			c = (char)(osp_url_hex(s[i + 1]) * 16 + osp_url_hex(s[i + 2]));
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		if (o + 1 >= len)
			return SIZE_MAX;
		buf[o++] = c;
	}
	buf[o] = '\0';
	return o;
}

static bool osp_url_ends_with(const char *name, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len >= n && strncasecmp(name + len - n, suffix, n) == 0;
}

bool osp_url_param_secret(const char *name, size_t len)
{
	static const char *const exact[] = { "sig", "api_key", "apikey", "api-key", "x-api-key",
		"passwd", "pwd", "AWSAccessKeyId", "GoogleAccessId" };
	static const char *const suffix[] = { "signature", "credential", "token", "secret",
		"password" };

	for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
		if (strlen(exact[i]) == len && strncasecmp(name, exact[i], len) == 0)
			return true;
	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++)
		if (osp_url_ends_with(name, len, suffix[i]))
			return true;
	return false;
}

/* osp_url_params copies the parameters of s (n bytes, the part after '?'
 * or '#') with the values of secret ones replaced. */
static void osp_url_params(osp_fixbuf *o, const char *s, size_t n)
{
	char name[OSP_URL_NAME_MAX];
	size_t i = 0;

	while (i < n) {
		size_t plen = 0, nlen, dlen;
		const char *eq;

		while (i + plen < n && s[i + plen] != '&' && s[i + plen] != ';')
			plen++;
		eq = memchr(s + i, '=', plen);
		nlen = eq != NULL ? (size_t)(eq - (s + i)) : plen;
		dlen = osp_url_decode(s + i, nlen, name, sizeof(name));
		if (eq != NULL && (dlen == SIZE_MAX || osp_url_param_secret(name, dlen))) {
			osp_fixbuf_put(o, s + i, nlen + 1); /* "name=" */
			osp_fixbuf_put(o, OSP_URL_REDACTED, strlen(OSP_URL_REDACTED));
		} else {
			osp_fixbuf_put(o, s + i, plen);
		}
		i += plen;
		if (i < n) { /* the separator */
			osp_fixbuf_put(o, s + i, 1);
			i++;
		}
	}
}

osp_err osp_url_redact(const char *url, char *out, size_t len)
{
	osp_fixbuf o = { .p = out, .len = len };
	size_t p, auth, auth_end, path_end, query_end;
	const char *at = NULL;

	if (out == NULL || len == 0)
		return OSP_EINVAL;
	out[0] = '\0';
	if (url == NULL)
		return OSP_EINVAL;
	/* "scheme://authority": the authority ends at the path, query or
	 * fragment; without "://" a leading "user:pass@host" (which curl reads
	 * as http) is treated the same way */
	p = strcspn(url, ":/?#");
	auth = url[p] == ':' && url[p + 1] == '/' && url[p + 2] == '/' ? p + 3 : 0;
	auth_end = auth + strcspn(url + auth, "/?#");
	for (size_t i = auth; i < auth_end; i++)
		if (url[i] == '@')
			at = url + i;
	osp_fixbuf_put(&o, url, auth);
	if (at != NULL)
		auth = (size_t)(at - url) + 1;
	path_end = auth_end + strcspn(url + auth_end, "?#");
	osp_fixbuf_put(&o, url + auth, path_end - auth);
	query_end = path_end;
	if (url[path_end] == '?') {
		query_end = path_end + 1 + strcspn(url + path_end + 1, "#");
		osp_fixbuf_put(&o, "?", 1);
		osp_url_params(&o, url + path_end + 1, query_end - path_end - 1);
	}
	if (url[query_end] == '#') {
		osp_fixbuf_put(&o, "#", 1);
		osp_url_params(&o, url + query_end + 1, strlen(url + query_end + 1));
	}
	return o.cut ? OSP_ETOOBIG : OSP_OK;
}
