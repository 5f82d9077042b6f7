/*
 * hostile_net.c - raw SP connections (TCP and TLS) for the hostile tests,
 * and the probe that watches the fleet meanwhile (hostile.h).
 *
 * nng's SP over TCP: each side first sends an 8-byte header (0, 'S', 'P', 0,
 * protocol number big-endian, 2 reserved bytes); then every message is an
 * 8-byte big-endian length and the payload, which for req0 -> rep0 starts
 * with a 4-byte request id (top bit set). TLS carries the same bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "hostile.h"
#include "ospec/json.h"
#include "ospec/util.h"

#define HS_SP_REQ0 48

struct hs_tls {
	mbedtls_net_context net;
	mbedtls_ssl_context ssl;
	mbedtls_ssl_config conf;
	mbedtls_x509_crt ca, cert;
	mbedtls_pk_context key;
	mbedtls_entropy_context ent;
	mbedtls_ctr_drbg_context drbg;
};

pthread_mutex_t hs_run_lock = PTHREAD_MUTEX_INITIALIZER;

static void hs_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

void hs_frame_len(osp_buf *b, uint64_t len)
{
	uint8_t hdr[12];

	hs_be64(hdr, len + 4);
	hdr[8] = 0x80;
	hdr[9] = hdr[10] = 0;
	hdr[11] = 1;
	osp_buf_append(b, hdr, sizeof(hdr));
}

void hs_frame(osp_buf *b, uint32_t req_id, const void *body, size_t len)
{
	uint8_t hdr[12];

	hs_be64(hdr, len + 4);
	req_id |= 0x80000000u;
	hdr[8] = (uint8_t)(req_id >> 24);
	hdr[9] = (uint8_t)(req_id >> 16);
	hdr[10] = (uint8_t)(req_id >> 8);
	hdr[11] = (uint8_t)req_id;
	osp_buf_append(b, hdr, sizeof(hdr));
	osp_buf_append(b, body, len);
}

static const uint8_t hs_sp_header[8] = { 0, 'S', 'P', 0, 0, HS_SP_REQ0, 0, 0 };

bool hs_connect(hs_conn *c, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { .tv_sec = 5 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	if (fd < 0)
		return false;
	/* a connect to a busy listener waits at most this long */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
		send(fd, hs_sp_header, sizeof(hs_sp_header), MSG_NOSIGNAL) != sizeof(hs_sp_header)) {
		close(fd);
		return false;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	c->fd = fd;
	c->t_open = osp_now_mono_ms();
	return true;
}

static void hs_tls_free(struct hs_tls *t)
{
	if (t == NULL)
		return;
	mbedtls_ssl_free(&t->ssl);
	mbedtls_ssl_config_free(&t->conf);
	mbedtls_x509_crt_free(&t->ca);
	mbedtls_x509_crt_free(&t->cert);
	mbedtls_pk_free(&t->key);
	mbedtls_ctr_drbg_free(&t->drbg);
	mbedtls_entropy_free(&t->ent);
	mbedtls_net_free(&t->net);
	free(t);
}

/* hs_tls_setup loads the CA and name's certificate and key from DIR/pki. */
static bool hs_tls_setup(struct hs_tls *t, h_env *e, const char *name)
{
	char ca[400], cert[400], key[400];

	snprintf(ca, sizeof(ca), "%s/pki/ca.pem", e->dir);
	snprintf(cert, sizeof(cert), "%s/pki/%s.pem", e->dir, name);
	snprintf(key, sizeof(key), "%s/pki/%s.key", e->dir, name);
	return mbedtls_ctr_drbg_seed(&t->drbg, mbedtls_entropy_func, &t->ent, NULL, 0) == 0 &&
		mbedtls_x509_crt_parse_file(&t->ca, ca) == 0 &&
		mbedtls_x509_crt_parse_file(&t->cert, cert) == 0 &&
		mbedtls_pk_parse_keyfile(&t->key, key, NULL) == 0 &&
		mbedtls_ssl_config_defaults(&t->conf, MBEDTLS_SSL_IS_CLIENT,
			MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT) == 0 &&
		mbedtls_ssl_conf_own_cert(&t->conf, &t->cert, &t->key) == 0;
}

bool hs_connect_tls(hs_conn *c, h_env *e, const char *name, int port)
{
	struct hs_tls *t = calloc(1, sizeof(*t));
	char portstr[16];
	size_t off = 0;
	int rv;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	if (t == NULL)
		return false;
	mbedtls_net_init(&t->net);
	mbedtls_ssl_init(&t->ssl);
	mbedtls_ssl_config_init(&t->conf);
	mbedtls_x509_crt_init(&t->ca);
	mbedtls_x509_crt_init(&t->cert);
	mbedtls_pk_init(&t->key);
	mbedtls_entropy_init(&t->ent);
	mbedtls_ctr_drbg_init(&t->drbg);
	snprintf(portstr, sizeof(portstr), "%d", port);
	if (!hs_tls_setup(t, e, name))
		goto fail;
	mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&t->conf, &t->ca, NULL);
	mbedtls_ssl_conf_rng(&t->conf, mbedtls_ctr_drbg_random, &t->drbg);
	if (mbedtls_ssl_setup(&t->ssl, &t->conf) != 0 ||
		mbedtls_ssl_set_hostname(&t->ssl, "127.0.0.1") != 0)
		goto fail;
	/* no fork may inherit the socket before it is close-on-exec */
	pthread_mutex_lock(&hs_run_lock);
	rv = mbedtls_net_connect(&t->net, "127.0.0.1", portstr, MBEDTLS_NET_PROTO_TCP);
	if (rv == 0)
		fcntl(t->net.fd, F_SETFD, FD_CLOEXEC);
	pthread_mutex_unlock(&hs_run_lock);
	if (rv != 0)
		goto fail;
	mbedtls_ssl_set_bio(&t->ssl, &t->net, mbedtls_net_send, mbedtls_net_recv, NULL);
	while ((rv = mbedtls_ssl_handshake(&t->ssl)) != 0)
		if (rv != MBEDTLS_ERR_SSL_WANT_READ && rv != MBEDTLS_ERR_SSL_WANT_WRITE)
			goto fail;
	while (off < sizeof(hs_sp_header)) {
		rv = mbedtls_ssl_write(&t->ssl, hs_sp_header + off, sizeof(hs_sp_header) - off);
		if (rv < 0)
			goto fail;
		off += (size_t)rv;
	}
	mbedtls_net_set_nonblock(&t->net);
	c->tls = t;
	c->fd = t->net.fd;
	c->t_open = osp_now_mono_ms();
	return true;
fail:
	hs_tls_free(t);
	return false;
}

bool hs_closed(hs_conn *c)
{
	struct pollfd p = { .fd = c->fd, .events = POLLRDHUP };

	if (c->t_closed != 0)
		return true;
	if (c->fd < 0)
		return false;
	/* the peer's FIN (after data we never read) or its reset */
	if (poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0) {
		c->t_closed = osp_now_mono_ms();
		return true;
	}
	return false;
}

/* hs_write writes up to n bytes; >= 0 written (0: would block), -1 closed. */
static ssize_t hs_write(hs_conn *c, const uint8_t *p, size_t n)
{
	ssize_t w;

	if (c->tls != NULL) {
		int rv = mbedtls_ssl_write(&c->tls->ssl, p, n);
		if (rv == MBEDTLS_ERR_SSL_WANT_WRITE || rv == MBEDTLS_ERR_SSL_WANT_READ)
			return 0;
		return rv < 0 ? -1 : rv;
	}
	w = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (w < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
	return w;
}

bool hs_pump(hs_conn *c)
{
	for (int i = 0; i < 64; i++) {
		ssize_t w;

		if (c->fd < 0 || hs_closed(c))
			return false;
		if (c->off >= c->len) {
			if (!c->repeat)
				return true;
			c->off = 0;
			c->frames_sent++;
		}
		/* TLS: a write that would block is repeated with the same bytes */
		w = hs_write(c, c->buf + c->off, c->len - c->off > 16384 ? 16384 : c->len - c->off);
		if (w < 0) {
			c->t_closed = osp_now_mono_ms();
			return false;
		}
		if (w == 0)
			return true;
		c->off += (size_t)w;
	}
	return true;
}

void hs_drip_byte(hs_conn *c)
{
	if (c->fd < 0 || hs_closed(c) || c->off >= c->len)
		return;
	if (send(c->fd, c->buf + c->off, 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1)
		c->off++;
}

void hs_close(hs_conn *c)
{
	if (c->tls != NULL) {
		hs_tls_free(c->tls); /* closes the socket */
		c->tls = NULL;
	} else if (c->fd >= 0) {
		close(c->fd);
	}
	c->fd = -1;
}

/* hs_read_n reads exactly n bytes within the deadline end (monotonic ms). */
static bool hs_read_n(hs_conn *c, uint8_t *p, size_t n, int64_t end)
{
	size_t got = 0;

	while (got < n) {
		struct pollfd f = { .fd = c->fd, .events = POLLIN };
		ssize_t r;
		int64_t left = end - osp_now_mono_ms();

		if (left <= 0 || poll(&f, 1, (int)left) != 1)
			return false;
		r = recv(c->fd, p + got, n - got, MSG_DONTWAIT);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
			return false;
		if (r > 0)
			got += (size_t)r;
	}
	return true;
}

bool hs_read_reply(hs_conn *c, int ms, bool *hdr_read, uint8_t **body, size_t *len)
{
	int64_t end = osp_now_mono_ms() + ms;
	uint8_t hdr[8], id[4];
	uint64_t n = 0;

	*body = NULL;
	if (!*hdr_read && !hs_read_n(c, hdr, 8, end))
		return false;
	*hdr_read = true;
	if (!hs_read_n(c, hdr, 8, end))
		return false;
	for (int i = 0; i < 8; i++)
		n = n << 8 | hdr[i];
	if (n < 4 || n > 1024 * 1024 || !hs_read_n(c, id, 4, end))
		return false;
	*len = (size_t)n - 4;
	if ((*body = malloc(*len + 1)) == NULL || !hs_read_n(c, *body, *len, end)) {
		free(*body);
		*body = NULL;
		return false;
	}
	return true;
}

long hs_rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

int hs_nodes_up(h_env *e, int ms, int64_t *took)
{
	char *argv[] = { (char *)h_bin("ospecctl"), "--coordinator", e->ctl_url, "--json", "nodes",
		NULL };
	char *out = NULL, msg[128];
	osp_json *j = NULL;
	int64_t t0;
	int code, up = -1;

	pthread_mutex_lock(&hs_run_lock);
	t0 = osp_now_mono_ms();
	code = h_run(argv, ms, &out, NULL);
	if (took != NULL)
		*took = osp_now_mono_ms() - t0;
	pthread_mutex_unlock(&hs_run_lock);
	if (code == 0 && out != NULL && osp_json_parse(out, strlen(out), &j, msg, sizeof(msg)) == OSP_OK) {
		up = 0;
		for (int i = 1; i <= HS_NODES; i++) {
			char id[16];
			const osp_json *n;

			snprintf(id, sizeof(id), "web-%d", i);
			n = h_node(j, id);
			up += n != NULL && strcmp(h_str(n, "state"), "up") == 0;
		}
	}
	osp_json_free(j);
	free(out);
	return up;
}

static void hs_probe_once(hs_probe *p)
{
	int64_t took = 0;
	int up = hs_nodes_up(p->e, 5000, &took);
	long rss = hs_rss_kb(p->coord);

	pthread_mutex_lock(&p->mtx);
	p->probes++;
	if (took > p->worst_ms)
		p->worst_ms = took;
	if (up != HS_NODES || took > h_ms(1000)) {
		if (p->fails++ == 0)
			snprintf(p->fail_what, sizeof(p->fail_what),
				"ospecctl nodes: %d of %d up, answered in %lld ms", up, HS_NODES,
				(long long)took);
	}
	p->rss_kb = rss;
	if (rss > p->rss_max_kb)
		p->rss_max_kb = rss;
	pthread_mutex_unlock(&p->mtx);
}

static void *hs_probe_main(void *arg)
{
	hs_probe *p = arg;

	while (!atomic_load(&p->stop)) {
		hs_probe_once(p);
		osp_sleep_ms(200);
	}
	return NULL;
}

void hs_probe_window(hs_probe *p)
{
	pthread_mutex_lock(&p->mtx);
	p->probes = p->fails = 0;
	p->worst_ms = 0;
	p->rss_max_kb = p->rss_kb;
	p->fail_what[0] = '\0';
	pthread_mutex_unlock(&p->mtx);
}

void hs_probe_start(hs_probe *p, h_env *e, pid_t coord)
{
	p->e = e;
	p->coord = coord;
	pthread_mutex_init(&p->mtx, NULL);
	atomic_store(&p->stop, false);
	p->rss_kb = hs_rss_kb(coord);
	hs_probe_window(p);
	p->started = pthread_create(&p->th, NULL, hs_probe_main, p) == 0;
}

void hs_probe_stop(hs_probe *p)
{
	if (!p->started)
		return;
	atomic_store(&p->stop, true);
	pthread_join(p->th, NULL);
	p->started = false;
	pthread_mutex_destroy(&p->mtx);
}
