/*
 * hostile.h - a hostile peer's tools for tests/hostile/: raw SP connections
 * written byte by byte by the test (pipelined requests that are never read,
 * half-sent frames, a drip), a raw TLS connection with mbedTLS for the
 * control endpoint, and a probe that watches the fleet from an operator's
 * seat (ospecctl nodes, the coordinator's VmRSS) the whole time.
 */
#ifndef HOSTILE_H
#define HOSTILE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "harness.h"

#define HS_NODES 3

/* One raw connection speaking nng's SP over TCP (or TLS) as a req0 peer:
 * buf (len bytes, not owned) is written from off on, repeating from 0 when
 * repeat is set; nothing is ever read unless the test asks. */
typedef struct hs_conn {
	int fd;                   /* -1: none */
	struct hs_tls *tls;       /* set: written through TLS */
	const uint8_t *buf;
	size_t len, off;
	bool repeat;
	uint64_t frames_sent;     /* whole buffers written (repeat) */
	int64_t t_open, t_closed; /* monotonic ms; t_closed 0 while open */
} hs_conn;

/* hs_frame appends one SP request frame (8-byte length, 4-byte request id
 * with the top bit set, body) to b. */
void hs_frame(osp_buf *b, uint32_t req_id, const void *body, size_t len);

/* hs_frame_len appends only an SP frame's header announcing a body of len
 * bytes (a request id included): what a half-sent message starts with. */
void hs_frame_len(osp_buf *b, uint64_t len);

/* hs_connect opens c to 127.0.0.1:port and writes the SP header of a req0
 * peer; non-blocking and close-on-exec afterwards. false if it cannot. */
bool hs_connect(hs_conn *c, int port);

/* hs_connect_tls does the same over TLS with the certificate name (from
 * DIR/pki, signed by its CA) presented to the server. */
bool hs_connect_tls(hs_conn *c, h_env *e, const char *name, int port);

/* hs_pump writes as much of c's buffer as the socket takes now. Returns
 * false once the peer has closed the connection (t_closed set). */
bool hs_pump(hs_conn *c);

/* hs_drip_byte writes the next single byte of c's buffer (plain TCP), if
 * c is still open and has bytes left. */
void hs_drip_byte(hs_conn *c);

/* hs_closed reports (and records) whether the peer has closed c. */
bool hs_closed(hs_conn *c);

/* hs_close closes c (any state). */
void hs_close(hs_conn *c);

/* hs_read_reply reads the next reply frame on a blocking-style connection
 * (waits up to ms): the SP header first if unread, the request id is
 * skipped; the envelope body goes into *body (heap) and *len. */
bool hs_read_reply(hs_conn *c, int ms, bool *hdr_read, uint8_t **body, size_t *len);

/* The probe: every ~200 ms "ospecctl --json nodes" (timed) and the
 * coordinator's VmRSS. A window collects the worst of both. */
typedef struct hs_probe {
	h_env *e;
	pid_t coord;
	pthread_t th;
	bool started;
	atomic_bool stop;
	pthread_mutex_t mtx;      /* the window below */
	long probes, fails;
	int64_t worst_ms;         /* slowest nodes answer */
	long rss_kb, rss_max_kb;  /* last and highest VmRSS */
	char fail_what[256];
} hs_probe;

/* hs_run_lock serialises forks (h_run) between the probe and the test. */
extern pthread_mutex_t hs_run_lock;

/* hs_rss_kb returns pid's VmRSS in kB, or -1. */
long hs_rss_kb(pid_t pid);

/* hs_nodes_up runs "ospecctl --json nodes" (timeout ms): how many of
 * web-1..web-HS_NODES are up, -1 when it did not answer; *took (may be NULL)
 * is how long it took. */
int hs_nodes_up(h_env *e, int ms, int64_t *took);

void hs_probe_start(hs_probe *p, h_env *e, pid_t coord);
void hs_probe_stop(hs_probe *p);
/* hs_probe_window starts a new window (worst values reset). */
void hs_probe_window(hs_probe *p);

/* hostile_proc.c: hs_count_lines counts the lines of the file at path that
 * contain needle (-1 if it cannot be read); hs_fd_count counts pid's open
 * file descriptors (-1 if unknown). */
long hs_count_lines(const char *path, const char *needle);
int hs_fd_count(pid_t pid);

#endif
