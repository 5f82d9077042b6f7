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
#include "ospec/wire.h"

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

/* -- hostile_fixture.c: hostile_conn's fixture -- */

#define HS_RSS_MAX_KB (64 * 1024)
/* Under AddressSanitizer the coordinator's memory is ASan's (shadow,
 * quarantine of 256 MB by default): the bound is checked in the normal
 * build only, the numbers are still printed. */
#if defined(__SANITIZE_ADDRESS__)
#define HS_RSS_CHECKED 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HS_RSS_CHECKED 0
#endif
#endif
#ifndef HS_RSS_CHECKED
#define HS_RSS_CHECKED 1
#endif
#define HS_UUID "00000000-0000-4000-8000-0000000000aa"
#define HS_HALF_CONNS 500

/* The fixture: the fleet, the probe and the drips. */
typedef struct hs_fx {
	h_env *e;
	hs_probe probe;
	char ctl_tls_url[64];
	int ctl_tls_port;
	char rollout[64];
	uint64_t seq[256];        /* the rollout's events before the attacks */
	size_t nseq;
	int64_t coord_start;      /* monotonic ms */
	long rss_base_kb;
	/* the drips run from the set-up on, beside the other attacks */
	pthread_t drip_th;
	bool drip_started;
	atomic_bool drip_stop;
	hs_conn drip_unreg, drip_reg;
	osp_buf drip_unreg_buf, drip_reg_buf;
	int64_t drip_reg_last;    /* its last whole message */
	bool drip_reg_ok;         /* it registered */
} hs_fx;

/* hs_env_frame encodes env without a message id (a pipelining attacker's
 * frames are all alike) into b as one SP frame. */
void hs_env_frame(osp_buf *b, osp_env *env, uint32_t req_id);

/* hs_window_check asserts what the probe saw since hs_probe_window. */
void hs_window_check(hs_fx *f, const char *what);

/* hs_rollout_seqs reads the seqs of the rollout's events into seq (cap). */
size_t hs_rollout_seqs(hs_fx *f, uint64_t *seq, size_t cap);

/* hs_count_kind counts the stored events of kind (the newest 100000). */
long hs_count_kind(hs_fx *f, const char *kind);

/* hs_node_up reports whether node id is listed up. */
bool hs_node_up(hs_fx *f, const char *id);

/* hs_setup is the cmocka set-up: a coordinator (control also on TLS) with
 * HS_NODES agents and a recorded rollout, the probe and both drips running. */
int hs_setup(void **state);

/* hs_teardown stops the drips and the probe and tears the fleet down. */
int hs_teardown(void **state);

#endif
