/*
 * haproxy.c - the haproxy traffic driver: the runtime API on haproxy's admin
 * socket (`stats socket PATH mode 600 level admin`).
 *
 * One connection per command: connect (2 s), send one line, read until haproxy
 * closes (it does after one command outside interactive mode), at most 1 MiB.
 * `set server` answers nothing on success and a line of text on failure
 * ("No such server."), so any non-blank reply is an error and goes to err.
 *
 * A switch puts the new server `ready`, waits until haproxy counts it up, and
 * only then puts the old one in `maint`: the other order leaves a moment with
 * no server and requests get 503. `maint` rather than `drain`: in-flight
 * requests finish either way (haproxy does not cut streams of a server going
 * to maintenance unless `on-marked-down shutdown-sessions` is set), while
 * `drain` would keep sending cookie-persistent clients to the old release, so
 * the switch would never complete. A backend's server names are written as
 * `disabled` in haproxy.cfg for the idle slot; haproxy then shows the config
 * bit (CMAINT) even when it serves, which is why the admin bits are masked.
 *
 * A commit also puts both servers back at their configured weight (`set
 * weight B/S 100%`), so a promotion after a canary (haproxy_canary.c) leaves
 * no odd weight behind.
 *
 * Runtime changes live in memory only: a reloaded or restarted haproxy reads
 * its config again. watch() notices (another Pid or Start_time_sec in
 * `show info`, or a drifted state) and commits the active slot again.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "haproxy.h"

#define AGENT_HAPROXY_IO_MS 2000       /* connect, and each wait for bytes */
#define AGENT_HAPROXY_CALL_MS 10000    /* one whole command */
#define AGENT_HAPROXY_UP_WAIT_MS 10000 /* new server up after `ready` (with checks) */

static const char *const agent_haproxy_slots[2] = { "blue", "green" };

int agent_haproxy_slot(const char *slot)
{
	return strcmp(slot, "green") == 0 ? 1 : 0;
}

/* agent_haproxy_name_ok accepts what haproxy accepts in proxy and server
 * names; anything else could smuggle a second command (';' or a newline). */
bool agent_haproxy_name_ok(const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	if (n == 0 || n > AGENT_HAPROXY_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			    c == '_' || c == '-' || c == '.' || c == ':'))
			return false;
	}
	return true;
}

/* agent_haproxy_check_name checks one name setting (vals NULL: absent). */
static osp_err agent_haproxy_check_name(const char *key, const char *val, char *err,
	size_t errlen)
{
	if (val == NULL || val[0] == '\0') {
		agent_traffic_seterr(err, errlen, "%s: required by the haproxy driver", key);
		return OSP_ECONFIG;
	}
	if (!agent_haproxy_name_ok(val)) {
		agent_traffic_seterr(err, errlen,
			"%s: \"%.64s\" is not a haproxy name (1..%d letters, digits, "
			"'_', '-', '.', ':')", key, val, AGENT_HAPROXY_NAME_MAX);
		return OSP_ECONFIG;
	}
	return OSP_OK;
}

/* agent_haproxy_check_cfg: a socket, a backend, and the blue and green
 * servers (blue-green) or the one server of a rolling app (proxy.server), or
 * both. */
static osp_err agent_haproxy_check_cfg(const agent_proxy_cfg *cfg, char *err, size_t errlen)
{
	bool single = cfg->server != NULL;
	bool pair = cfg->server_blue != NULL || cfg->server_green != NULL || !single;
	osp_err rv;

	if (cfg->socket == NULL || cfg->socket[0] == '\0') {
		agent_traffic_seterr(err, errlen, "proxy.socket: required by the haproxy driver");
		return OSP_ECONFIG;
	}
	if (strlen(cfg->socket) >= sizeof(((struct sockaddr_un *)NULL)->sun_path)) {
		agent_traffic_seterr(err, errlen, "proxy.socket: longer than %zu bytes",
			sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1);
		return OSP_ECONFIG;
	}
	rv = agent_haproxy_check_name("proxy.backend", cfg->backend, err, errlen);
	if (rv == OSP_OK && single)
		rv = agent_haproxy_check_name("proxy.server", cfg->server, err, errlen);
	if (rv == OSP_OK && pair)
		rv = agent_haproxy_check_name("proxy.servers.blue", cfg->server_blue, err, errlen);
	if (rv == OSP_OK && pair)
		rv = agent_haproxy_check_name("proxy.servers.green", cfg->server_green, err,
			errlen);
	if (rv == OSP_OK && pair && strcmp(cfg->server_blue, cfg->server_green) == 0) {
		agent_traffic_seterr(err, errlen,
			"proxy.servers: blue and green must be two servers, both are \"%s\"",
			cfg->server_blue);
		return OSP_ECONFIG;
	}
	return rv;
}

static void agent_haproxy_free(agent_haproxy *h)
{
	if (h == NULL)
		return;
	agent_traffic_lock_put(h->lock);
	free(h->socket);
	free(h->backend);
	free(h->server[0]);
	free(h->server[1]);
	free(h->single);
	free(h);
}

static osp_err agent_haproxy_open(agent_traffic *t, const agent_proxy_cfg *cfg, char *err,
	size_t errlen)
{
	agent_haproxy *h = NULL;
	osp_err rv;

	rv = agent_haproxy_check_cfg(cfg, err, errlen);
	if (rv != OSP_OK)
		return rv;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		goto nomem;
	h->socket = strdup(cfg->socket);
	h->backend = strdup(cfg->backend);
	h->server[0] = cfg->server_blue != NULL ? strdup(cfg->server_blue) : NULL;
	h->server[1] = cfg->server_green != NULL ? strdup(cfg->server_green) : NULL;
	h->single = cfg->server != NULL ? strdup(cfg->server) : NULL;
	if (h->socket == NULL || h->backend == NULL ||
		(cfg->server_blue != NULL && (h->server[0] == NULL || h->server[1] == NULL)) ||
		(cfg->server != NULL && h->single == NULL))
		goto nomem;
	if (agent_traffic_lock_get(h->socket, &h->lock) != OSP_OK)
		goto nomem;
	t->drv = h;
	return OSP_OK;
nomem:
	agent_haproxy_free(h);
	agent_traffic_seterr(err, errlen, "out of memory");
	return OSP_ENOMEM;
}

static void agent_haproxy_close(agent_traffic *t)
{
	agent_haproxy_free(t->drv);
	t->drv = NULL;
}

/* agent_haproxy_connect opens a connection to the admin socket. */
static osp_err agent_haproxy_connect(agent_haproxy *h, int *fdp, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = AGENT_HAPROXY_IO_MS / 1000 };
	int fd, e;

	*fdp = -1;
	osp_strlcpy(sa.sun_path, h->socket, sizeof(sa.sun_path)); /* length checked at open */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		agent_traffic_seterr(err, errlen, "haproxy socket: %s", strerror(errno));
		return OSP_EIO;
	}
	/* a blocking AF_UNIX connect waits while the listen backlog is full;
	 * SO_SNDTIMEO bounds that wait, and the sends after it */
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		*fdp = fd;
		return OSP_OK;
	}
	e = errno;
	close(fd);
	if (e == EAGAIN || e == EINPROGRESS || e == ETIMEDOUT) {
		agent_traffic_seterr(err, errlen, "haproxy at '%s': connect: no answer within %ds",
			h->socket, AGENT_HAPROXY_IO_MS / 1000);
		return OSP_ETIMEDOUT;
	}
	agent_traffic_seterr(err, errlen, "haproxy at '%s': connect: %s%s", h->socket,
		strerror(e),
		e == EACCES ? " (the agent's user needs write access to the socket: see "
			      "deploy/haproxy/README.md)"
		: e == ENOENT || e == ECONNREFUSED
			? " (is haproxy running with 'stats socket ... level admin' there?)"
			: "");
	return OSP_ENET;
}

static osp_err agent_haproxy_send(agent_haproxy *h, int fd, const char *line, char *err,
	size_t errlen)
{
	size_t len = strlen(line), off = 0;

	while (off < len) {
		ssize_t w = send(fd, line + off, len - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			agent_traffic_seterr(err, errlen, "haproxy at '%s': send: %s", h->socket,
				w < 0 ? strerror(errno) : "nothing sent");
			return OSP_ENET;
		}
		off += (size_t)w;
	}
	return OSP_OK;
}

/* agent_haproxy_recv reads until haproxy closes the connection. */
static osp_err agent_haproxy_recv(agent_haproxy *h, int fd, const char *cmd, osp_buf *rep,
	char *err, size_t errlen)
{
	int64_t deadline = osp_now_mono_ms() + AGENT_HAPROXY_CALL_MS;
	char chunk[16384];

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - osp_now_mono_ms();
		ssize_t r;
		int n;

		n = left <= 0 ? 0 : poll(&pfd, 1, left < AGENT_HAPROXY_IO_MS ? (int)left
									: AGENT_HAPROXY_IO_MS);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			agent_traffic_seterr(err, errlen, "haproxy at '%s': '%s': %s", h->socket,
				cmd, n < 0 ? strerror(errno) : "no complete answer in time");
			return n < 0 ? OSP_EIO : OSP_ETIMEDOUT;
		}
		r = recv(fd, chunk, sizeof(chunk), 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			agent_traffic_seterr(err, errlen, "haproxy at '%s': '%s': recv: %s",
				h->socket, cmd, strerror(errno));
			return OSP_ENET;
		}
		if (r == 0)
			return OSP_OK;
		if (osp_buf_append(rep, chunk, (size_t)r) != OSP_OK) {
			agent_traffic_seterr(err, errlen,
				"haproxy at '%s': '%s': reply larger than %d bytes", h->socket, cmd,
				AGENT_HAPROXY_REPLY_MAX);
			return OSP_ETOOBIG;
		}
	}
}

/* agent_haproxy_call runs one command; rep (initialised by the caller)
 * receives the whole reply, NUL-terminated when not empty. */
osp_err agent_haproxy_call(agent_haproxy *h, const char *cmd, osp_buf *rep, char *err,
	size_t errlen)
{
	char line[600];
	int fd = -1;
	osp_err rv;

	if ((size_t)snprintf(line, sizeof(line), "%s\n", cmd) >= sizeof(line)) {
		agent_traffic_seterr(err, errlen, "haproxy command too long");
		return OSP_ETOOBIG;
	}
	rv = agent_haproxy_connect(h, &fd, err, errlen);
	if (rv != OSP_OK)
		goto out;
	rv = agent_haproxy_send(h, fd, line, err, errlen);
	if (rv != OSP_OK)
		goto out;
	rv = agent_haproxy_recv(h, fd, cmd, rep, err, errlen);
out:
	if (fd >= 0)
		close(fd);
	return rv;
}

/* agent_haproxy_text copies a reply with every run of white space made one
 * space and the ends trimmed: "" for a reply that means success. */
void agent_haproxy_text(const osp_buf *rep, char *out, size_t len)
{
	size_t o = 0;
	bool space = false;

	for (size_t i = 0; i < rep->len && o + 1 < len; i++) {
		char c = rep->data[i];
		if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
			space = o > 0;
			continue;
		}
		if (space && o + 2 < len)
			out[o++] = ' ';
		space = false;
		out[o++] = (c >= 32 && c < 127) ? c : '?';
	}
	out[o] = '\0';
}

/* agent_haproxy_refused reports a text reply of haproxy as the error. */
osp_err agent_haproxy_refused(agent_haproxy *h, const char *cmd, const osp_buf *rep,
	char *err, size_t errlen)
{
	char text[512];

	agent_haproxy_text(rep, text, sizeof(text));
	agent_traffic_seterr(err, errlen, "haproxy at '%s': '%s': %s%s", h->socket, cmd,
		text[0] != '\0' ? text : "empty reply",
		strstr(text, "Permission denied") != NULL ? " (the stats socket needs 'level admin')"
							   : "");
	return OSP_EREFUSED;
}

osp_err agent_haproxy_quiet(agent_haproxy *h, const char *cmd, char *err, size_t errlen)
{
	char text[8];
	osp_buf rep;
	osp_err rv;

	osp_buf_init(&rep, AGENT_HAPROXY_REPLY_MAX);
	rv = agent_haproxy_call(h, cmd, &rep, err, errlen);
	if (rv == OSP_OK) {
		agent_haproxy_text(&rep, text, sizeof(text));
		if (text[0] != '\0')
			rv = agent_haproxy_refused(h, cmd, &rep, err, errlen);
	}
	osp_buf_fini(&rep);
	return rv;
}

osp_err agent_haproxy_set_server(agent_haproxy *h, const char *name, const char *state,
	char *err, size_t errlen)
{
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "set server %s/%s state %s", h->backend, name,
		state); /* names are at most 127 bytes each: it fits */
	return agent_haproxy_quiet(h, cmd, err, errlen);
}

static osp_err agent_haproxy_set(agent_haproxy *h, int idx, const char *state, char *err,
	size_t errlen)
{
	return agent_haproxy_set_server(h, h->server[idx], state, err, errlen);
}

size_t agent_haproxy_split(char *line, char sep, char **f, size_t max)
{
	const char set[2] = { sep, '\0' };
	size_t n = 0;
	char *p = line;

	while (*p != '\0' && n < max) {
		if (sep == ' ')
			while (*p == ' ')
				*p++ = '\0';
		else if (n > 0)
			*p++ = '\0'; /* one separator: empty CSV fields stay fields */
		if (sep == ' ' && *p == '\0')
			break;
		f[n++] = p;
		p += strcspn(p, set);
	}
	return n;
}

bool agent_haproxy_long(const char *s, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	return errno == 0 && end != s && *end == '\0';
}

/* The columns of `show servers state` that matter, found by name in its
 * header so a newer haproxy with more columns still parses. */
enum { COL_BE, COL_SRV, COL_OP, COL_ADMIN, COL_WEIGHT, COL_N };

static bool agent_haproxy_header(char *line, int col[COL_N])
{
	static const char *const names[COL_N] = { "be_name", "srv_name", "srv_op_state",
		"srv_admin_state", "srv_uweight" };
	char *f[AGENT_HAPROXY_FIELDS_MAX];
	size_t n = agent_haproxy_split(line, ' ', f, AGENT_HAPROXY_FIELDS_MAX);

	for (int c = 0; c < COL_N; c++) {
		col[c] = -1;
		for (size_t i = 1; i < n; i++) /* f[0] is "#" */
			if (strcmp(f[i], names[c]) == 0)
				col[c] = (int)i - 1;
		if (col[c] < 0)
			return false;
	}
	return true;
}

/* agent_haproxy_row fills srv[] from one data line. */
static bool agent_haproxy_row(agent_haproxy *h, char *line, const int col[COL_N],
	char *const names[2], agent_haproxy_srv srv[2])
{
	char *f[AGENT_HAPROXY_FIELDS_MAX];
	size_t n = agent_haproxy_split(line, ' ', f, AGENT_HAPROXY_FIELDS_MAX);

	for (int c = 0; c < COL_N; c++)
		if ((size_t)col[c] >= n)
			return false;
	if (strcmp(f[col[COL_BE]], h->backend) != 0)
		return true;
	for (int i = 0; i < 2; i++) {
		if (names[i] == NULL || strcmp(f[col[COL_SRV]], names[i]) != 0)
			continue;
		srv[i].found = agent_haproxy_long(f[col[COL_OP]], &srv[i].op) &&
			agent_haproxy_long(f[col[COL_ADMIN]], &srv[i].admin) &&
			agent_haproxy_long(f[col[COL_WEIGHT]], &srv[i].weight);
		if (!srv[i].found)
			return false;
	}
	return true;
}

/* agent_haproxy_parse_servers reads the reply of `show servers state`:
 * "1", a "# be_id be_name ..." header, one line per server. Anything else
 * is haproxy's error text. */
static osp_err agent_haproxy_parse_servers(agent_haproxy *h, const char *cmd, osp_buf *rep,
	char *const names[2], agent_haproxy_srv srv[2], char *err, size_t errlen)
{
	int col[COL_N];
	char *p, *nl;

	memset(srv, 0, 2 * sizeof(*srv));
	if (rep->len < 2 || strncmp(rep->data, "1\n", 2) != 0)
		return agent_haproxy_refused(h, cmd, rep, err, errlen);
	p = rep->data + 2;
	nl = strchr(p, '\n');
	if (strncmp(p, "# ", 2) != 0 || nl == NULL)
		goto bad;
	*nl = '\0';
	if (!agent_haproxy_header(p, col))
		goto bad;
	for (p = nl + 1; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		if (nl == NULL)
			goto bad; /* cut short */
		*nl = '\0';
		if (*p != '\0' && !agent_haproxy_row(h, p, col, names, srv))
			goto bad;
	}
	return OSP_OK;
bad:
	agent_traffic_seterr(err, errlen, "haproxy at '%s': '%s': unexpected reply format",
		h->socket, cmd);
	return OSP_EDECODE;
}

/* agent_haproxy_servers_of reads the state of the servers names[] (NULL:
 * none) of the backend into srv[]. */
static osp_err agent_haproxy_servers_of(agent_haproxy *h, char *const names[2],
	agent_haproxy_srv srv[2], char *err, size_t errlen)
{
	char cmd[200];
	osp_buf rep;
	osp_err rv;

	snprintf(cmd, sizeof(cmd), "show servers state %s", h->backend);
	osp_buf_init(&rep, AGENT_HAPROXY_REPLY_MAX);
	rv = agent_haproxy_call(h, cmd, &rep, err, errlen);
	if (rv == OSP_OK)
		rv = agent_haproxy_parse_servers(h, cmd, &rep, names, srv, err, errlen);
	osp_buf_fini(&rep);
	return rv;
}

osp_err agent_haproxy_server_state(agent_haproxy *h, const char *name, agent_haproxy_srv *srv,
	char *err, size_t errlen)
{
	char *names[2] = { (char *)name, NULL };
	agent_haproxy_srv two[2];
	osp_err rv = agent_haproxy_servers_of(h, names, two, err, errlen);

	*srv = two[0];
	if (rv == OSP_OK && !srv->found) {
		agent_traffic_seterr(err, errlen, "haproxy at '%s': backend '%s' has no server '%s'",
			h->socket, h->backend, name);
		rv = OSP_ENOENT;
	}
	return rv;
}

/* agent_haproxy_servers reads the state of both servers; OSP_ENOENT when
 * the backend lacks one of them. */
osp_err agent_haproxy_servers(agent_haproxy *h, agent_haproxy_srv srv[2], char *err,
	size_t errlen)
{
	osp_err rv;

	if (h->server[0] == NULL) {
		agent_traffic_seterr(err, errlen, "proxy.servers: blue-green needs the blue and "
			"green servers; this app has only proxy.server (rolling drain)");
		return OSP_ECONFIG;
	}
	rv = agent_haproxy_servers_of(h, h->server, srv, err, errlen);
	for (int i = 0; i < 2 && rv == OSP_OK; i++) {
		if (!srv[i].found) {
			agent_traffic_seterr(err, errlen,
				"haproxy at '%s': backend '%s' has no server '%s' (proxy.servers.%s)",
				h->socket, h->backend, h->server[i], agent_haproxy_slots[i]);
			rv = OSP_ENOENT;
		}
	}
	return rv;
}

/* agent_haproxy_serving: up, and neither in maintenance nor draining. The
 * config bit of `disabled` (CMAINT, 0x04) stays set after `ready`: ignored. */
bool agent_haproxy_serving(const agent_haproxy_srv *s)
{
	return (s->op == AGENT_HAPROXY_OP_RUNNING || s->op == AGENT_HAPROXY_OP_STARTING) &&
		(s->admin & (AGENT_HAPROXY_ADMF_MAINT | AGENT_HAPROXY_ADMF_DRAIN)) == 0;
}

static const char *agent_haproxy_active(const agent_haproxy_srv srv[2])
{
	bool b = agent_haproxy_serving(&srv[0]), g = agent_haproxy_serving(&srv[1]);

	return b == g ? "" : b ? "blue" : "green";
}

/* agent_haproxy_level makes sure the socket allows `set server` (read-only
 * commands work at lower levels, so only this finds it before a commit). */
static osp_err agent_haproxy_level(agent_haproxy *h, char *err, size_t errlen)
{
	const char *cmd = "show cli level";
	char text[64];
	osp_buf rep;
	osp_err rv;

	osp_buf_init(&rep, AGENT_HAPROXY_REPLY_MAX);
	rv = agent_haproxy_call(h, cmd, &rep, err, errlen);
	agent_haproxy_text(&rep, text, sizeof(text));
	osp_buf_fini(&rep);
	if (rv == OSP_OK && strcmp(text, "admin") != 0) {
		agent_traffic_seterr(err, errlen,
			"haproxy at '%s': '%s': %s; switching needs 'stats socket ... level admin'",
			h->socket, cmd, text);
		rv = OSP_EPERM;
	}
	return rv;
}

static osp_err agent_haproxy_prepare(agent_traffic *t, const char *to_slot, char *err,
	size_t errlen)
{
	agent_haproxy *h = t->drv;
	agent_haproxy_srv srv[2];
	int to = agent_haproxy_slot(to_slot);
	osp_err rv;

	pthread_mutex_lock(agent_traffic_lock_mutex(h->lock));
	rv = agent_haproxy_level(h, err, errlen);
	if (rv == OSP_OK)
		rv = agent_haproxy_servers(h, srv, err, errlen);
	pthread_mutex_unlock(agent_traffic_lock_mutex(h->lock));
	if (rv == OSP_OK && srv[to].weight <= 0) {
		/* `ready` would not bring it any traffic */
		agent_traffic_seterr(err, errlen,
			"haproxy at '%s': server '%s/%s' has weight 0 and would get no traffic",
			h->socket, h->backend, h->server[to]);
		rv = OSP_ESTATE;
	}
	return rv;
}

/* agent_haproxy_wait_up waits until haproxy counts server idx as serving
 * (at once without `check`; after `rise` good checks with it). */
osp_err agent_haproxy_wait_up(agent_haproxy *h, int idx, char *err, size_t errlen)
{
	int64_t until = osp_now_mono_ms() + AGENT_HAPROXY_UP_WAIT_MS;
	agent_haproxy_srv srv[2];
	osp_err rv;

	for (;;) {
		rv = agent_haproxy_servers(h, srv, err, errlen);
		if (rv != OSP_OK || agent_haproxy_serving(&srv[idx]))
			return rv;
		if (osp_now_mono_ms() >= until)
			break;
		osp_sleep_ms(50);
	}
	agent_traffic_seterr(err, errlen,
		"haproxy at '%s': server '%s/%s' is ready but not up after %ds (op state %ld, "
		"admin state %ld: failing health checks?); the old slot still serves",
		h->socket, h->backend, h->server[idx], AGENT_HAPROXY_UP_WAIT_MS / 1000,
		srv[idx].op, srv[idx].admin);
	return OSP_ESTATE;
}

/* agent_haproxy_commit_locked switches to slot `to`; the caller holds the
 * socket's lock, so no other switch interleaves its commands. */
osp_err agent_haproxy_commit_locked(agent_haproxy *h, int to, char *err, size_t errlen)
{
	agent_haproxy_srv srv[2];
	const char *restore = NULL;
	int from = 1 - to;
	osp_err rv;

	rv = agent_haproxy_servers(h, srv, err, errlen);
	if (rv != OSP_OK)
		return rv;
	if (srv[to].admin & AGENT_HAPROXY_ADMF_FMAINT)
		restore = "maint";
	else if (srv[to].admin & AGENT_HAPROXY_ADMF_FDRAIN)
		restore = "drain";
	rv = agent_haproxy_set(h, to, "ready", err, errlen);
	if (rv != OSP_OK)
		return rv;
	rv = agent_haproxy_wait_up(h, to, err, errlen);
	/* configured weights again (a canary changed them): the new server's
	 * before the old one leaves, so that it never serves alone at 0 */
	if (rv == OSP_OK)
		rv = agent_haproxy_set_weight(h, h->server[to], "100%", err, errlen);
	if (rv == OSP_OK)
		rv = agent_haproxy_set(h, from, "maint", err, errlen);
	if (rv == OSP_OK)
		rv = agent_haproxy_set_weight(h, h->server[from], "100%", err, errlen);
	if (rv != OSP_OK) {
		char ignore[8];
		/* best effort back to how it was: the old slot alone serves */
		if (restore != NULL)
			(void)agent_haproxy_set(h, to, restore, ignore, sizeof(ignore));
		return rv;
	}
	rv = agent_haproxy_servers(h, srv, err, errlen);
	if (rv == OSP_OK && (!agent_haproxy_serving(&srv[to]) ||
				    (srv[from].admin & AGENT_HAPROXY_ADMF_FMAINT) == 0)) {
		agent_traffic_seterr(err, errlen,
			"haproxy at '%s': read-back after the switch to '%s': server '%s' op %ld "
			"admin %ld, server '%s' op %ld admin %ld",
			h->socket, agent_haproxy_slots[to], h->server[to], srv[to].op,
			srv[to].admin, h->server[from], srv[from].op, srv[from].admin);
		rv = OSP_EIO;
	}
	return rv;
}

static osp_err agent_haproxy_commit(agent_traffic *t, const char *to_slot, char *err,
	size_t errlen)
{
	agent_haproxy *h = t->drv;
	osp_err rv;

	pthread_mutex_lock(agent_traffic_lock_mutex(h->lock));
	rv = agent_haproxy_commit_locked(h, agent_haproxy_slot(to_slot), err, errlen);
	pthread_mutex_unlock(agent_traffic_lock_mutex(h->lock));
	return rv;
}

/* agent_haproxy_abort: prepare changed nothing, so there is nothing to undo. */
static osp_err agent_haproxy_abort(agent_traffic *t, char *err, size_t errlen)
{
	(void)t;
	(void)err;
	(void)errlen;
	return OSP_OK;
}

static osp_err agent_haproxy_current(agent_traffic *t, char *slot, size_t len, char *err,
	size_t errlen)
{
	agent_haproxy *h = t->drv;
	agent_haproxy_srv srv[2];
	osp_err rv;

	pthread_mutex_lock(agent_traffic_lock_mutex(h->lock));
	rv = agent_haproxy_servers(h, srv, err, errlen);
	pthread_mutex_unlock(agent_traffic_lock_mutex(h->lock));
	if (rv == OSP_OK)
		osp_strlcpy(slot, agent_haproxy_active(srv), len);
	return rv;
}

/* agent_haproxy_asserted: haproxy holds what a commit to `to` set, the new
 * server out of maintenance and drain, the old one forced into maintenance.
 * A new server that is DOWN because its haproxy health checks fail is not
 * drift: committing again could not change that (see the README). */
static bool agent_haproxy_asserted(const agent_haproxy_srv srv[2], int to)
{
	return (srv[to].admin & (AGENT_HAPROXY_ADMF_MAINT | AGENT_HAPROXY_ADMF_DRAIN)) == 0 &&
		(srv[1 - to].admin & AGENT_HAPROXY_ADMF_FMAINT) != 0;
}

static osp_err agent_haproxy_watch(agent_traffic *t, const char *active_slot, bool *reasserted,
	char *err, size_t errlen)
{
	agent_haproxy *h = t->drv;
	agent_haproxy_srv srv[2];
	long long pid, start;
	bool restarted;
	const char *cur;
	osp_err rv;

	*reasserted = false;
	pthread_mutex_lock(agent_traffic_lock_mutex(h->lock));
	rv = agent_haproxy_info(h, &pid, &start, err, errlen);
	if (rv != OSP_OK)
		goto out;
	restarted = h->seen && (pid != h->pid || start != h->start);
	if (active_slot[0] != '\0') {
		rv = agent_haproxy_servers(h, srv, err, errlen);
		if (rv != OSP_OK)
			goto out;
		cur = agent_haproxy_active(srv);
		if (restarted || !agent_haproxy_asserted(srv, agent_haproxy_slot(active_slot))) {
			rv = agent_haproxy_commit_locked(h, agent_haproxy_slot(active_slot), err,
				errlen);
			if (rv != OSP_OK)
				goto out; /* not recorded as seen: the next call tries again */
			*reasserted = true;
			if (restarted)
				OSP_WARN("AGENT-TRAFFIC-REASSERT",
					"haproxy at '%s' restarted (pid %lld, was %lld): re-asserted "
					"slot '%s' of backend '%s'",
					h->socket, pid, h->pid, active_slot, h->backend);
			else
				OSP_WARN("AGENT-TRAFFIC-REASSERT",
					"haproxy at '%s': backend '%s' drifted from slot '%s' "
					"(serving: %s): re-asserted", h->socket, h->backend,
					active_slot, cur[0] != '\0' ? cur : "neither or both");
		}
	}
	h->seen = true;
	h->pid = pid;
	h->start = start;
out:
	pthread_mutex_unlock(agent_traffic_lock_mutex(h->lock));
	return rv;
}

const agent_traffic_ops agent_traffic_haproxy_ops = {
	.name = "haproxy",
	.open = agent_haproxy_open,
	.prepare = agent_haproxy_prepare,
	.commit = agent_haproxy_commit,
	.abort = agent_haproxy_abort,
	.current = agent_haproxy_current,
	.watch = agent_haproxy_watch,
	.drain = agent_haproxy_drain,
	.ready = agent_haproxy_ready,
	.srv_state = agent_haproxy_srv_state,
	.weight = agent_haproxy_weight,
	.stats = agent_haproxy_stats,
	.close = agent_haproxy_close,
};
