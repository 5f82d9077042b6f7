/*
 * hello.c - the sample app ospec deploys in its examples and integration tests.
 *
 * A small HTTP/1.1 server: one thread, poll(2), keep-alive and pipelining,
 * bounded buffers, idle timeout. It never trusts a request: anything it cannot
 * parse gets a 400 and the connection is closed.
 *
 *   hello [--port N] [--bind ADDR]      (port from $PORT when --port is absent)
 *
 *   GET /        200 "<version>\n"
 *   GET /health  200 "ok\n", or 500 when misbehaving on purpose (below)
 *   other paths  404; other methods 405; garbage 400
 *
 * The release layout is RELEASE/bin/hello + RELEASE/VERSION. The version file
 * is $HELLO_VERSION_FILE or RELEASE/VERSION (RELEASE found from /proc/self/exe).
 * Marker files next to the version file make it misbehave, for tests:
 *   CRASH        print "hello: crashing on purpose" and exit(3) at start
 *   START_DELAY  milliseconds to sleep before listening
 *   FAIL_HEALTH  /health answers 500 (checked on every request)
 *   FAIL_AFTER   seconds: /health is healthy that long after start, then 500
 *   FAIL_PCT     0..100: that percentage of `GET /` requests answer 500
 *                "failing on purpose\n" (checked on every request), the
 *                others 200 as usual; deterministic and evenly spread: a
 *                request counter n (every GET/HEAD of /, from 0) fails when
 *                (n + 1) * FAIL_PCT / 100 > n * FAIL_PCT / 100 (10: n = 9,
 *                19, 29...), so any 100 requests in a row hold FAIL_PCT.
 *                /health is not affected (a canary that passes its health
 *                checks but fails some of its traffic)
 * SIGTERM or SIGINT: exit 0 at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hello.h"

#define HELLO_HEAD_MAX 8192          /* request line + headers */
#define HELLO_OUT_MAX (64 * 1024)    /* stop reading while this much is unsent */
#define HELLO_IDLE_MS 30000          /* close connections idle this long */
#define HELLO_CONN_MAX 4096
#define HELLO_LINGER_MS 2000         /* read and drop input this long before close */

struct hello_conn {
	int fd;
	char in[HELLO_HEAD_MAX];
	size_t inlen;
	uint64_t discard; /* request body bytes still to drop */
	char *out;
	size_t outlen;
	size_t outoff;
	size_t outcap;
	bool close_after; /* close once out is flushed */
	bool lingering;   /* write side shut; draining input until EOF */
	int64_t last_ms;
	int64_t linger_until;
};

static volatile sig_atomic_t hello_stop;
static char hello_version[128] = "unknown";
static char hello_dir[PATH_MAX]; /* where VERSION and the marker files live */
static int64_t hello_start_ms;
static int64_t hello_fail_after_ms = -1;

static int64_t hello_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void hello_on_signal(int sig)
{
	(void)sig;
	hello_stop = 1;
}

/* hello_read_small reads a small file into buf, trimmed of surrounding
 * whitespace. Returns 0, or -1 if it cannot be read. */
static int hello_read_small(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	size_t n, s = 0;

	if (f == NULL)
		return -1;
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' ||
			buf[n - 1] == '\t'))
		buf[--n] = '\0';
	while (buf[s] == ' ' || buf[s] == '\t' || buf[s] == '\n' || buf[s] == '\r')
		s++;
	memmove(buf, buf + s, n - s + 1);
	return 0;
}

static int hello_marker_path(const char *name, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s", hello_dir, name);

	return (n < 0 || (size_t)n >= len) ? -1 : 0;
}

static bool hello_marker_exists(const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	if (hello_marker_path(name, path, sizeof(path)) != 0)
		return false;
	return stat(path, &st) == 0;
}

/* hello_marker_num reads a marker file holding a non-negative number; -1 if
 * it is absent or not a number (a message says so). */
static long long hello_marker_num(const char *name)
{
	char path[PATH_MAX], buf[64], *end;
	long long v;

	if (hello_marker_path(name, path, sizeof(path)) != 0 ||
		hello_read_small(path, buf, sizeof(buf)) != 0)
		return -1;
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (errno != 0 || end == buf || *end != '\0' || v < 0) {
		fprintf(stderr, "hello: ignoring %s: expected a number, got '%s'\n", path, buf);
		return -1;
	}
	return v;
}

/* hello_locate finds the version file and the directory of the markers. */
static void hello_locate(void)
{
	char exe[PATH_MAX], vfile[PATH_MAX], *slash;
	const char *env = getenv("HELLO_VERSION_FILE");
	ssize_t n;

	if (env != NULL && env[0] != '\0') {
		snprintf(vfile, sizeof(vfile), "%s", env);
	} else {
		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (n < 0)
			n = 0;
		exe[n] = '\0';
		for (int i = 0; i < 2; i++) { /* RELEASE/bin/hello -> RELEASE */
			slash = strrchr(exe, '/');
			if (slash != NULL)
				*slash = '\0';
		}
		if (snprintf(vfile, sizeof(vfile), "%s/VERSION", exe) >= (int)sizeof(vfile))
			vfile[0] = '\0';
	}
	snprintf(hello_dir, sizeof(hello_dir), "%s", vfile);
	slash = strrchr(hello_dir, '/');
	if (slash == NULL)
		snprintf(hello_dir, sizeof(hello_dir), ".");
	else if (slash == hello_dir)
		hello_dir[1] = '\0';
	else
		*slash = '\0';
	if (hello_read_small(vfile, hello_version, sizeof(hello_version)) != 0 ||
		hello_version[0] == '\0') {
		fprintf(stderr, "hello: cannot read version file '%s'; version is 'unknown'\n",
			vfile);
		snprintf(hello_version, sizeof(hello_version), "unknown");
	}
}

/* hello_out appends to the connection's output buffer (bounded by the
 * caller: at most one response is added beyond HELLO_OUT_MAX). */
static int hello_out(struct hello_conn *c, const char *data, size_t len)
{
	if (c->outlen + len > c->outcap) {
		size_t ncap = c->outcap ? c->outcap : 1024;
		char *p;
		while (ncap < c->outlen + len)
			ncap *= 2;
		p = realloc(c->out, ncap);
		if (p == NULL)
			return -1;
		c->out = p;
		c->outcap = ncap;
	}
	memcpy(c->out + c->outlen, data, len);
	c->outlen += len;
	return 0;
}

static void hello_respond(struct hello_conn *c, int code, const char *reason,
	const char *body, bool head_only, bool keep)
{
	char hdr[512];
	size_t blen = strlen(body);
	int n;

	n = snprintf(hdr, sizeof(hdr),
		"HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
		"Content-Length: %zu\r\nConnection: %s\r\n%s\r\n",
		code, reason, blen, keep ? "keep-alive" : "close",
		code == 405 ? "Allow: GET, HEAD\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(hdr) || hello_out(c, hdr, (size_t)n) != 0 ||
		(!head_only && hello_out(c, body, blen) != 0)) {
		c->close_after = true; /* out of memory: drop the connection */
		c->outlen = c->outoff = 0;
		return;
	}
	if (!keep)
		c->close_after = true;
}

static void hello_health(struct hello_conn *c, bool head, bool keep)
{
	int64_t up = hello_now_ms() - hello_start_ms;

	if (hello_marker_exists("FAIL_HEALTH")) {
		fprintf(stderr, "hello: health failing on purpose (FAIL_HEALTH present)\n");
		hello_respond(c, 500, "Internal Server Error", "unhealthy\n", head, keep);
	} else if (hello_fail_after_ms >= 0 && up >= hello_fail_after_ms) {
		fprintf(stderr, "hello: health failing on purpose (FAIL_AFTER %llds passed)\n",
			(long long)(hello_fail_after_ms / 1000));
		hello_respond(c, 500, "Internal Server Error", "unhealthy\n", head, keep);
	} else {
		hello_respond(c, 200, "OK", "ok\n", head, keep);
	}
}

/* hello_fail_pct counts a request of / and says whether it fails on
 * purpose (FAIL_PCT, read on every request so a test can change it live). */
static bool hello_fail_pct(void)
{
	static uint64_t n;
	long long pct = hello_marker_exists("FAIL_PCT") ? hello_marker_num("FAIL_PCT") : 0;
	uint64_t p = (uint64_t)(pct > 100 ? 100 : pct < 0 ? 0 : pct);
	bool fail = (n + 1) * p / 100 > n * p / 100;

	n++;
	return fail;
}

static void hello_route(struct hello_conn *c, const struct hello_req *r)
{
	bool head = strcmp(r->method, "HEAD") == 0;
	bool keep = r->minor >= 1 ? !r->conn_close : r->conn_keepalive && !r->conn_close;
	char body[sizeof(hello_version) + 2];
	char *q = strchr(r->path, '?');
	size_t plen = q != NULL ? (size_t)(q - r->path) : strlen(r->path);
	bool root = plen == 1 && r->path[0] == '/';
	bool health = plen == 7 && strncmp(r->path, "/health", 7) == 0;

	if (!root && !health) {
		hello_respond(c, 404, "Not Found", "not found\n", head, keep);
	} else if (!head && strcmp(r->method, "GET") != 0) {
		hello_respond(c, 405, "Method Not Allowed", "method not allowed\n", false, keep);
	} else if (health) {
		hello_health(c, head, keep);
	} else if (hello_fail_pct()) {
		hello_respond(c, 500, "Internal Server Error", "failing on purpose\n", head, keep);
	} else {
		snprintf(body, sizeof(body), "%s\n", hello_version);
		hello_respond(c, 200, "OK", body, head, keep);
	}
}

/* hello_head_end finds the end of a request head in c->in: returns the head
 * length (up to and including the blank line), 0 if incomplete, SIZE_MAX for
 * a NUL byte. Bare LF line ends are accepted. */
static size_t hello_head_end(struct hello_conn *c)
{
	for (size_t i = 0; i < c->inlen; i++) {
		if (c->in[i] == '\0')
			return SIZE_MAX; /* NUL in a head is garbage */
		if (c->in[i] != '\n')
			continue;
		size_t j = i + 1;
		if (j < c->inlen && c->in[j] == '\r')
			j++;
		if (j < c->inlen && c->in[j] == '\n')
			return j + 1;
	}
	return 0;
}

/* hello_process handles every complete request in c->in. */
static void hello_process(struct hello_conn *c)
{
	struct hello_req r;

	while (!c->close_after && c->outlen - c->outoff < HELLO_OUT_MAX) {
		if (c->discard > 0) {
			size_t d = c->discard < c->inlen ? (size_t)c->discard : c->inlen;
			memmove(c->in, c->in + d, c->inlen - d);
			c->inlen -= d;
			c->discard -= d;
			if (c->discard > 0)
				return;
		}
		while (c->inlen > 0 && (c->in[0] == '\r' || c->in[0] == '\n')) {
			memmove(c->in, c->in + 1, --c->inlen); /* blank lines between requests */
		}
		size_t hl = hello_head_end(c);
		if (hl == 0 && c->inlen < sizeof(c->in))
			return;
		if (hl == 0 || hl == SIZE_MAX || hello_parse_head(c->in, hl, &r) != 0) {
			hello_respond(c, 400, "Bad Request", "bad request\n", false, false);
			return;
		}
		hello_route(c, &r);
		memmove(c->in, c->in + hl, c->inlen - hl);
		c->inlen -= hl;
		c->discard = r.content_len;
	}
}

/* hello_flush writes what it can; returns -1 when the connection is done. */
static int hello_flush(struct hello_conn *c)
{
	while (c->outoff < c->outlen) {
		ssize_t w = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (w <= 0)
			return -1;
		c->outoff += (size_t)w;
	}
	c->outoff = c->outlen = 0;
	if (c->close_after && !c->lingering) {
		/* closing with unread input would reset the connection and could
		 * destroy the answer in flight: shut our side, drain, then close */
		if (shutdown(c->fd, SHUT_WR) != 0)
			return -1;
		c->lingering = true;
		c->linger_until = hello_now_ms() + HELLO_LINGER_MS;
	}
	return 0;
}

/* hello_drain drops input of a lingering connection; -1 once it is done. */
static int hello_drain(struct hello_conn *c)
{
	char scratch[4096];

	for (;;) {
		ssize_t n = recv(c->fd, scratch, sizeof(scratch), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0)
			return -1;
	}
}

/* hello_on_readable reads and answers; returns -1 when the connection is done. */
static int hello_on_readable(struct hello_conn *c)
{
	for (;;) {
		/* a full buffer here means answers are waiting for output space */
		if (c->close_after || c->outlen - c->outoff >= HELLO_OUT_MAX ||
			c->inlen == sizeof(c->in))
			break;
		ssize_t n = recv(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0)
			return -1;
		if (n == 0) { /* peer done sending: answer what came, then close */
			c->close_after = true;
			break;
		}
		c->inlen += (size_t)n;
		c->last_ms = hello_now_ms();
		hello_process(c);
	}
	return hello_flush(c);
}

static void hello_conn_free(struct hello_conn *c)
{
	if (c == NULL)
		return;
	close(c->fd);
	free(c->out);
	free(c);
}

/* hello_listen opens the listening socket; prints why on failure. */
static int hello_listen(const char *bind_addr, const char *port)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
		.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	int fd = -1, one = 1, rc;

	rc = getaddrinfo(bind_addr, port, &hints, &ai);
	if (rc != 0) {
		fprintf(stderr, "hello: bad address '%s' port '%s': %s\n", bind_addr, port,
			gai_strerror(rc));
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
		bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
		fprintf(stderr, "hello: cannot listen on %s port %s: %s\n", bind_addr, port,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

static int hello_bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
		return -1;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

struct hello_loop {
	int lfd;
	size_t max;
	size_t n;
	struct pollfd *pfd;      /* pfd[0] is the listener, pfd[i + 1] is conns[i] */
	struct hello_conn **conns;
};

static void hello_accept(struct hello_loop *l)
{
	while (l->n < l->max) {
		int one = 1;
		int fd = accept4(l->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct hello_conn *c;
		if (fd < 0)
			return; /* EAGAIN, or EMFILE and friends: try again later */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = calloc(1, sizeof(*c));
		if (c == NULL) {
			close(fd);
			return;
		}
		c->fd = fd;
		c->last_ms = hello_now_ms();
		l->conns[l->n++] = c;
	}
}

/* hello_service handles the events of connection i; returns -1 to close it. */
static int hello_service(struct hello_conn *c, short rev, int64_t now)
{
	if (rev & (POLLERR | POLLNVAL))
		return -1;
	if (c->lingering) {
		if (now > c->linger_until)
			return -1;
		return (rev & (POLLIN | POLLHUP)) ? hello_drain(c) : 0;
	}
	if (rev & POLLOUT) {
		if (hello_flush(c) != 0)
			return -1;
		hello_process(c); /* requests held back while output was full */
		if (hello_flush(c) != 0)
			return -1;
	}
	if (rev & (POLLIN | POLLHUP))
		return hello_on_readable(c);
	if (rev == 0 && now - c->last_ms > HELLO_IDLE_MS)
		return -1;
	return 0;
}

static void hello_run(struct hello_loop *l)
{
	sigset_t empty;

	sigemptyset(&empty);
	while (!hello_stop) {
		struct timespec ts = { .tv_sec = 1, .tv_nsec = 0 };
		int64_t now;
		size_t j = 0;
		l->pfd[0].fd = l->lfd;
		l->pfd[0].events = l->n < l->max ? POLLIN : 0;
		for (size_t i = 0; i < l->n; i++) {
			struct hello_conn *c = l->conns[i];
			l->pfd[i + 1].fd = c->fd;
			l->pfd[i + 1].events =
				(c->outoff < c->outlen && !c->lingering) ? POLLOUT : POLLIN;
			l->pfd[i + 1].revents = 0;
		}
		/* signals are blocked except inside ppoll: no lost wake-up */
		if (ppoll(l->pfd, l->n + 1, &ts, &empty) < 0 && errno != EINTR)
			break;
		if (hello_stop)
			break;
		now = hello_now_ms();
		for (size_t i = 0; i < l->n; i++) {
			if (hello_service(l->conns[i], l->pfd[i + 1].revents, now) != 0)
				hello_conn_free(l->conns[i]);
			else
				l->conns[j++] = l->conns[i];
		}
		l->n = j;
		if (l->pfd[0].revents & POLLIN)
			hello_accept(l);
	}
}

static void hello_usage(FILE *f)
{
	fprintf(f, "usage: hello [--port N] [--bind ADDR]\n"
		   "  --port N     port to listen on (default: $PORT)\n"
		   "  --bind ADDR  address to bind (default: 0.0.0.0)\n");
}

/* hello_args parses the command line; returns 0, or the exit code. */
static int hello_args(int argc, char **argv, const char **port, const char **bind_addr)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			hello_usage(stdout);
			return -1;
		} else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
			*port = argv[++i];
		} else if (strncmp(argv[i], "--port=", 7) == 0) {
			*port = argv[i] + 7;
		} else if (strcmp(argv[i], "--bind") == 0 && i + 1 < argc) {
			*bind_addr = argv[++i];
		} else if (strncmp(argv[i], "--bind=", 7) == 0) {
			*bind_addr = argv[i] + 7;
		} else {
			fprintf(stderr, "hello: unknown or incomplete argument '%s'\n", argv[i]);
			hello_usage(stderr);
			return 2;
		}
	}
	if (*port == NULL)
		*port = getenv("PORT");
	if (*port == NULL || **port == '\0') {
		fprintf(stderr, "hello: no port: use --port N or set PORT\n");
		return 2;
	}
	char *end;
	errno = 0;
	long v = strtol(*port, &end, 10);
	if (errno != 0 || end == *port || *end != '\0' || v < 0 || v > 65535) {
		fprintf(stderr, "hello: bad port '%s': expected 0..65535\n", *port);
		return 2;
	}
	return 0;
}

static void hello_signals(void)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = hello_on_signal; /* no SA_RESTART: sleeps and polls wake up */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, NULL);
}

/* hello_start_delay sleeps START_DELAY ms, waking for SIGTERM. */
static void hello_start_delay(void)
{
	long long ms = hello_marker_num("START_DELAY");
	sigset_t empty;

	if (ms <= 0)
		return;
	if (ms > 3600000)
		ms = 3600000;
	sigemptyset(&empty);
	int64_t until = hello_now_ms() + ms;
	while (!hello_stop && hello_now_ms() < until) {
		int64_t left = until - hello_now_ms();
		struct timespec ts = { .tv_sec = left / 1000, .tv_nsec = (left % 1000) * 1000000 };
		ppoll(NULL, 0, &ts, &empty);
	}
}

static size_t hello_conn_limit(void)
{
	struct rlimit rl;
	size_t max = HELLO_CONN_MAX;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
		rl.rlim_cur < max + 32)
		max = rl.rlim_cur > 64 ? (size_t)rl.rlim_cur - 32 : 16;
	return max;
}

int main(int argc, char **argv)
{
	const char *port = NULL, *bind_addr = "0.0.0.0";
	struct hello_loop l = { .lfd = -1 };
	long long fail_after;
	int rc;

	rc = hello_args(argc, argv, &port, &bind_addr);
	if (rc != 0)
		return rc < 0 ? 0 : rc;
	hello_start_ms = hello_now_ms();
	hello_signals();
	hello_locate();
	if (hello_marker_exists("CRASH")) {
		fprintf(stderr, "hello: crashing on purpose\n");
		exit(3);
	}
	fail_after = hello_marker_num("FAIL_AFTER");
	if (fail_after >= 0)
		hello_fail_after_ms = fail_after > INT64_MAX / 1000 ? INT64_MAX : fail_after * 1000;
	hello_start_delay();
	if (hello_stop)
		return 0;
	l.lfd = hello_listen(bind_addr, port);
	if (l.lfd < 0)
		return 1;
	l.max = hello_conn_limit();
	l.pfd = calloc(l.max + 1, sizeof(*l.pfd));
	l.conns = calloc(l.max, sizeof(*l.conns));
	if (l.pfd == NULL || l.conns == NULL) {
		fprintf(stderr, "hello: out of memory\n");
		return 1;
	}
	printf("hello %s listening on port %d\n", hello_version, hello_bound_port(l.lfd));
	fflush(stdout);
	hello_run(&l);
	for (size_t i = 0; i < l.n; i++)
		hello_conn_free(l.conns[i]);
	free(l.pfd);
	free(l.conns);
	close(l.lfd);
	return 0;
}
