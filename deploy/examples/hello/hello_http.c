/*
 * hello_http.c - the sample app's HTTP/1.1 request parser (hello.h): a
 * request head in, a hello_req out, no I/O. It never trusts a request:
 * anything it cannot parse is garbage (-1), which hello.c answers with a 400.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hello.h"

static bool hello_token_char(char ch)
{
	return ch > 32 && ch < 127 && strchr("()<>@,;:\\\"/[]?={}", ch) == NULL;
}

/* hello_parse_line parses "METHOD SP TARGET SP HTTP/1.x". */
static int hello_parse_line(char *line, struct hello_req *r)
{
	char *sp1 = strchr(line, ' '), *sp2;
	size_t mlen, tlen;

	if (sp1 == NULL)
		return -1;
	sp2 = strchr(sp1 + 1, ' ');
	if (sp2 == NULL)
		return -1;
	mlen = (size_t)(sp1 - line);
	tlen = (size_t)(sp2 - sp1 - 1);
	if (mlen == 0 || mlen >= sizeof(r->method) || tlen == 0 || tlen >= sizeof(r->path))
		return -1;
	for (size_t i = 0; i < mlen; i++)
		if (!hello_token_char(line[i]))
			return -1;
	for (size_t i = 0; i < tlen; i++)
		if (sp1[1 + i] <= 32 || sp1[1 + i] >= 127)
			return -1;
	if (sp1[1] != '/' && !(tlen == 1 && sp1[1] == '*'))
		return -1;
	if (strncmp(sp2 + 1, "HTTP/1.", 7) != 0 || sp2[8] < '0' || sp2[8] > '9' || sp2[9] != '\0')
		return -1;
	memcpy(r->method, line, mlen);
	r->method[mlen] = '\0';
	memcpy(r->path, sp1 + 1, tlen);
	r->path[tlen] = '\0';
	r->minor = sp2[8] - '0';
	return 0;
}

/* hello_conn_tokens sets the connection flags from a Connection header value. */
static void hello_conn_tokens(const char *v, struct hello_req *r)
{
	while (*v != '\0') {
		size_t n;
		while (*v == ' ' || *v == '\t' || *v == ',')
			v++;
		n = strcspn(v, " \t,");
		if (n == 5 && strncasecmp(v, "close", 5) == 0)
			r->conn_close = true;
		else if (n == 10 && strncasecmp(v, "keep-alive", 10) == 0)
			r->conn_keepalive = true;
		v += n;
	}
}

/* hello_parse_header handles one "Name: value" line. */
static int hello_parse_header(char *line, struct hello_req *r, bool *have_len)
{
	char *colon = strchr(line, ':'), *v, *end;
	size_t vlen;

	if (colon == NULL || colon == line)
		return -1;
	for (char *p = line; p < colon; p++)
		if (!hello_token_char(*p))
			return -1;
	*colon = '\0';
	v = colon + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	vlen = strlen(v);
	while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		v[--vlen] = '\0';
	for (size_t i = 0; i < vlen; i++)
		if ((unsigned char)v[i] < 32 && v[i] != '\t')
			return -1;
	if (strcasecmp(line, "Connection") == 0) {
		hello_conn_tokens(v, r);
	} else if (strcasecmp(line, "Content-Length") == 0) {
		unsigned long long n;
		if (*have_len || v[0] < '0' || v[0] > '9')
			return -1;
		errno = 0;
		n = strtoull(v, &end, 10);
		if (errno != 0 || *end != '\0')
			return -1;
		r->content_len = n;
		*have_len = true;
	} else if (strcasecmp(line, "Transfer-Encoding") == 0) {
		return -1; /* no request bodies expected; chunked is refused */
	}
	return 0;
}

/* hello_next_line cuts the line at *p (ended by LF or CRLF, before end) and
 * returns it, advancing *p; NULL if there is no complete line. */
static char *hello_next_line(char **p, char *end)
{
	char *line = *p, *lf = memchr(line, '\n', (size_t)(end - line));

	if (lf == NULL)
		return NULL;
	*lf = '\0';
	if (lf > line && lf[-1] == '\r')
		lf[-1] = '\0';
	*p = lf + 1;
	return line;
}

int hello_parse_head(char *head, size_t len, struct hello_req *r)
{
	char *p = head, *end = head + len, *line;
	bool have_len = false;

	memset(r, 0, sizeof(*r));
	line = hello_next_line(&p, end);
	if (line == NULL || hello_parse_line(line, r) != 0)
		return -1;
	for (;;) {
		line = hello_next_line(&p, end);
		if (line == NULL)
			return -1;
		if (line[0] == '\0')
			break;
		if (line[0] == ' ' || line[0] == '\t')
			return -1; /* obsolete line folding */
		if (hello_parse_header(line, r, &have_len) != 0)
			return -1;
	}
	if (r->content_len > HELLO_BODY_MAX)
		return -1;
	return 0;
}
