/*
 * hello.h - what hello.c (the server: sockets, poll loop, routes, markers)
 * and hello_http.c (the request parser) share.
 */
#ifndef HELLO_H
#define HELLO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HELLO_BODY_MAX (1024 * 1024) /* request bodies are read and dropped */

/* A parsed request head. */
struct hello_req {
	char method[16];
	char path[1024];
	int minor;            /* HTTP/1.<minor> */
	bool conn_close;      /* "Connection: close" */
	bool conn_keepalive;  /* "Connection: keep-alive" */
	uint64_t content_len;
};

/* hello_parse_head parses a request head of len bytes (up to and including
 * the blank line; head is cut into lines in place) into *r. Returns 0, or -1
 * for garbage (a bad request line or header, obsolete line folding, a
 * Transfer-Encoding, a Content-Length above HELLO_BODY_MAX). */
int hello_parse_head(char *head, size_t len, struct hello_req *r);

#endif
