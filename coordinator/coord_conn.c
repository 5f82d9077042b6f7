/*
 * coord_conn.c - what one agent connection may cost: a cap on connections
 * that have not registered, a register deadline, an idle timeout for
 * registered ones, and the sweep that closes what is overdue. With the
 * per-connection limits in coord_agents.c (requests in flight, reply send
 * timeout, receive limit) a slow, stuck or hostile peer costs only its own
 * connection (docs/security.md, "Connection limits").
 */
#include <dirent.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include <nng/nng.h>

#include "coord.h"
#include "ospec/tls.h"

#define COORD_SWEEP_MS 250
#define COORD_SWEEP_MAX 512 /* closed per sweep; the rest at the next one */
#define COORD_FORGET_MS 5000 /* a closed connection nng never reports gone is forgotten */

bool coord_ratelog_due(coord_ratelog *r, int64_t now_ms, uint64_t *held)
{
	if (r->last_ms != 0 && now_ms - r->last_ms < COORD_LOG_EVERY_MS) {
		r->held++;
		return false;
	}
	*held = r->held;
	r->held = 0;
	r->last_ms = now_ms;
	return true;
}

void coord_ratelog_flush(coord_ratelog *r, int64_t now_ms, const char *id, const char *what)
{
	if (r->held == 0 || now_ms - r->last_ms < COORD_LOG_EVERY_MS)
		return;
	OSP_WARN(id, "%llu more %s in the last %lld s", (unsigned long long)r->held, what,
		(long long)(now_ms - r->last_ms) / 1000);
	r->held = 0;
	r->last_ms = now_ms;
}

/* What each rate-limited reason says when it reports lines held back. */
static const struct {
	const char *id, *what;
} coord_rl_says[COORD_RL_N] = {
	[COORD_RL_REFUSED_NONCE] = { "COORD-REGISTER-REFUSED",
		"registers refused: without the nonce of their connection" },
	[COORD_RL_REFUSED_ID] = { "COORD-REGISTER-REFUSED",
		"registers refused: without a valid node id and instance uuid" },
	[COORD_RL_REFUSED_PROOF] = { "COORD-REGISTER-REFUSED",
		"registers refused: identity proof refused" },
	[COORD_RL_REFUSED_INSTANCE] = { "COORD-REGISTER-REFUSED",
		"registers refused: another instance of a known node" },
	[COORD_RL_BAD_MESSAGE] = { "COORD-BAD-MESSAGE", "bad messages" },
	[COORD_RL_REPLAY] = { "COORD-REPLAY", "replayed messages ignored" },
	[COORD_RL_CONN_LIMIT] = { "COORD-CONN-LIMIT",
		"connections closed at once: too many not registered yet" },
	[COORD_RL_CONN_STUCK] = { "COORD-CONN-STUCK",
		"connections closed: their replies were not read" },
	[COORD_RL_CONN_DEADLINE] = { "COORD-CONN-DEADLINE",
		"connections closed: no register in time" },
	[COORD_RL_CONN_IDLE] = { "COORD-CONN-IDLE", "connections closed: silent too long" },
	[COORD_RL_NNG_REAPER] = { "COORD-NNG-REAPER",
		"closed connections nng never released, forgotten" },
};

bool coord_conn_admit(coord *c, uint32_t id, int64_t now_mono)
{
	coord_pipe *p;
	uint64_t held;

	if (c->n_unreg >= COORD_UNREG_MAX) {
		c->stats.conn_limit++;
		if (coord_ratelog_due(&c->rl[COORD_RL_CONN_LIMIT], now_mono, &held))
			OSP_WARN("COORD-CONN-LIMIT", "connection %u closed: %d connections have not "
				"registered yet (%llu more closed like it since the last report)",
				id, COORD_UNREG_MAX, (unsigned long long)held);
		return false;
	}
	if ((p = coord_pipe_get(c, id, true)) == NULL)
		return false;
	p->added_mono = p->last_mono = now_mono;
	return true;
}

void coord_conn_close_soon(coord_pipe *p, int64_t at_mono)
{
	p->closing = true;
	if (at_mono <= 0)
		at_mono = osp_now_mono_ms();
	if (p->close_at == 0 || at_mono < p->close_at)
		p->close_at = at_mono;
}

void coord_conn_stuck(coord *c, coord_pipe *p, const char *why)
{
	uint64_t held;

	coord_conn_close_soon(p, 0);
	c->stats.conn_stuck++;
	if (coord_ratelog_due(&c->rl[COORD_RL_CONN_STUCK], osp_now_mono_ms(), &held))
		OSP_WARN("COORD-CONN-STUCK", "connection %u%s%s%s closed: %s (%llu more closed "
			"for being stuck since the last report)", p->id,
			p->node ? " of node '" : "", p->node ? p->node->id : "", p->node ? "'" : "",
			why, (unsigned long long)held);
}

int64_t coord_conn_idle_ms(const coord *c)
{
	int64_t idle = COORD_IDLE_HEARTBEATS * c->cfg.heartbeat;

	return idle > COORD_IDLE_MIN_MS ? idle : COORD_IDLE_MIN_MS;
}

/* coord_conn_overdue_why says why p must close now (NULL: it need not) and
 * counts it. */
static const char *coord_conn_overdue_why(coord *c, const coord_pipe *p, int64_t now,
	coord_rl *rl)
{
	if (p->close_at > 0)
		return now >= p->close_at ? "" : NULL; /* logged already */
	if (!p->registered_once && now - p->added_mono > COORD_REGISTER_DEADLINE_MS) {
		c->stats.conn_deadline++;
		*rl = COORD_RL_CONN_DEADLINE;
		return "did not register in time";
	}
	if (p->registered_once && now - p->last_mono > coord_conn_idle_ms(c)) {
		c->stats.conn_idle++;
		*rl = COORD_RL_CONN_IDLE;
		return "sent nothing for too long";
	}
	return NULL;
}

/* coord_conn_forget drops the connections closed COORD_FORGET_MS ago that
 * nng never reported gone. nng 1.5.2's pipe reaper can stop for good when
 * peers that pipelined without reading go away (no NNG_PIPE_EV_REM_POST
 * follows, for any connection): counting them on would lock every agent out
 * once COORD_UNREG_MAX are left. */
static void coord_conn_forget(coord *c, int64_t now)
{
	uint32_t gone[64];
	size_t n = 0;
	uint64_t held;

	for (coord_pipe *p = c->pipes; p != NULL && n < 64; p = p->next)
		if (p->close_sent && now >= p->close_at)
			gone[n++] = p->id;
	for (size_t i = 0; i < n; i++)
		coord_pipe_drop(c, gone[i]);
	if (n > 0 && coord_ratelog_due(&c->rl[COORD_RL_NNG_REAPER], now, &held))
		OSP_ERROR("COORD-NNG-REAPER", "nng has not released %zu closed connection%s after "
			"%d s (%llu more since the last report): a known nng 1.5.2 defect after "
			"peers that do not read their replies; connections may leak file "
			"descriptors until the coordinator restarts", n, n == 1 ? "" : "s",
			COORD_FORGET_MS / 1000, (unsigned long long)held);
}

size_t coord_conn_overdue(coord *c, int64_t now_mono, uint32_t *ids, size_t cap)
{
	size_t n = 0;

	coord_conn_forget(c, now_mono);
	for (coord_pipe *p = c->pipes; p != NULL && n < cap; p = p->next) {
		coord_rl rl = COORD_RL_N;
		const char *why;
		uint64_t held;

		if (p->close_sent || (why = coord_conn_overdue_why(c, p, now_mono, &rl)) == NULL)
			continue;
		/* forgotten unless its NNG_PIPE_EV_REM_POST comes first */
		p->closing = p->close_sent = true;
		p->close_at = now_mono + COORD_FORGET_MS;
		ids[n++] = p->id;
		if (rl != COORD_RL_N && coord_ratelog_due(&c->rl[rl], now_mono, &held))
			OSP_WARN(rl == COORD_RL_CONN_DEADLINE ? "COORD-CONN-DEADLINE" : "COORD-CONN-IDLE",
				"connection %u%s%s%s closed: %s (%llu more closed like it since the "
				"last report)", p->id, p->node ? " of node '" : "",
				p->node ? p->node->id : "", p->node ? "'" : "", why,
				(unsigned long long)held);
	}
	return n;
}

void coord_conn_close(uint32_t id)
{
	nng_pipe np;

	if (id == 0)
		return;
	/* nng_pipe is a struct with one id; rebuild it from the id */
	np.id = id;
	nng_pipe_close(np);
}

static void coord_conn_sweep_cb(void *arg)
{
	coord *c = arg;
	uint32_t ids[COORD_SWEEP_MAX];
	int64_t now;
	size_t n;

	if (nng_aio_result(c->conn_sweep) != 0 || atomic_load(&c->stopping))
		return;
	pthread_mutex_lock(&c->mtx);
	now = osp_now_mono_ms();
	n = coord_conn_overdue(c, now, ids, COORD_SWEEP_MAX);
	for (size_t i = 0; i < n; i++)
		coord_agents_unqueue(c, ids[i]);
	for (int i = 0; i < COORD_RL_N; i++)
		coord_ratelog_flush(&c->rl[i], now, coord_rl_says[i].id, coord_rl_says[i].what);
	pthread_mutex_unlock(&c->mtx);
	/* outside the lock: a closed pipe's callbacks take it */
	for (size_t i = 0; i < n; i++)
		coord_conn_close(ids[i]);
	nng_sleep_aio(COORD_SWEEP_MS, c->conn_sweep);
}

osp_err coord_conn_start(coord *c)
{
	int rv;

	if ((rv = nng_aio_alloc(&c->conn_sweep, coord_conn_sweep_cb, c)) != 0)
		return osp_nng_err(rv);
	nng_sleep_aio(COORD_SWEEP_MS, c->conn_sweep);
	return OSP_OK;
}

void coord_conn_stop(coord *c)
{
	if (c->conn_sweep == NULL)
		return;
	nng_aio_stop(c->conn_sweep); /* c->stopping is set: no re-arm */
	nng_aio_free(c->conn_sweep);
	c->conn_sweep = NULL;
}

/* coord_conn_tls puts the server TLS configuration (client certificate
 * required) on listener l. */
osp_err coord_conn_tls(coord *c, nng_listener l, char *err, size_t errlen)
{
	nng_tls_config *cfg = NULL;
	char why[512];
	int rv;

	if (osp_tls_server_config(c->cfg.tls_ca, c->cfg.tls_cert, c->cfg.tls_key, &cfg, why,
		    sizeof(why)) != OSP_OK) {
		snprintf(err, errlen, "cannot listen on '%s': %s", c->cfg.listen, why);
		return OSP_ECONFIG;
	}
	rv = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, cfg);
	nng_tls_config_free(cfg); /* the listener holds its own reference */
	if (rv != 0) {
		snprintf(err, errlen, "cannot listen on '%s': %s", c->cfg.listen, nng_strerror(rv));
		return OSP_ECONFIG;
	}
	return OSP_OK;
}

/* coord_conn_somaxconn reads net.core.somaxconn, the kernel's cap on any
 * accept queue (0 if unknown). */
static int coord_conn_somaxconn(void)
{
	FILE *f = fopen("/proc/sys/net/core/somaxconn", "r");
	int v = 0;

	if (f == NULL)
		return 0;
	if (fscanf(f, "%d", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

/* coord_conn_listening_on reports whether fd is a socket listening on TCP
 * port (IPv4 or IPv6). */
static bool coord_conn_listening_on(int fd, int port)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss), ol;
	int on = 0;

	ol = sizeof(on);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &ol) != 0 || !on ||
		getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
		return false;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port) == port;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) == port;
	return false;
}

void coord_conn_backlog(nng_listener l, int backlog)
{
	int port = 0, raised = 0, cap = coord_conn_somaxconn();
	struct dirent *de;
	DIR *d;

	if (nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port) != 0 || port <= 0)
		return; /* not TCP */
	/* nng 1.5.2 has no option for it and never shows its descriptor: find
	 * the socket listening on our port among ours (the only one on it, as
	 * a bind to a port in use fails) and listen again, which on Linux only
	 * changes its queue length */
	if ((d = opendir("/proc/self/fd")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		int fd = atoi(de->d_name);
		if (de->d_name[0] < '0' || de->d_name[0] > '9' || fd == dirfd(d))
			continue;
		if (coord_conn_listening_on(fd, port) && listen(fd, backlog) == 0)
			raised++;
	}
	closedir(d);
	if (raised == 0)
		OSP_WARN("COORD-BACKLOG", "cannot raise the accept queue of port %d from nng's 128: "
			"a fleet reconnecting at once may see its connections retried", port);
	else if (cap > 0 && cap < backlog)
		OSP_WARN("COORD-BACKLOG", "accept queue of port %d limited to %d by "
			"net.core.somaxconn (ospec asks for %d): raise it for large fleets", port,
			cap, backlog);
	else
		OSP_INFO("COORD-BACKLOG", "accept queue of port %d raised from 128 to %d", port,
			backlog);
}
