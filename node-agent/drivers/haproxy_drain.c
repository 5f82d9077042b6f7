/*
 * haproxy_drain.c - the rolling operations of the haproxy driver: drain,
 * ready and the state of an in-place app's one server (proxy.server), over
 * the runtime-API client of haproxy.c (drivers/haproxy.h).
 *
 * drain is `set server BACKEND/SERVER state drain`: haproxy sends the server
 * no new requests (a keep-alive client's next request is balanced again) and
 * lets those in flight finish; when every server of the backend is drained
 * or down, its `backup` servers take the traffic. The current sessions are
 * the `scur` column of `show stat` (found by name in its CSV header). ready
 * is `set server ... state ready`. Both read the admin state back from
 * `show servers state`: the command answering nothing is not proof enough.
 */
#include <stdio.h>
#include <string.h>

#include "haproxy.h"

/* agent_haproxy_stat_header finds pxname, svname (col[0], col[1]) and
 * names[] (col[2 + i], -1 when absent) in the CSV header "# pxname,...". */
static bool agent_haproxy_stat_header(char *line, const char *const *names, size_t n,
	int *col)
{
	char *f[AGENT_HAPROXY_FIELDS_MAX * 2];
	size_t nf;

	if (strncmp(line, "# ", 2) != 0)
		return false;
	nf = agent_haproxy_split(line + 2, ',', f, sizeof(f) / sizeof(f[0]));
	for (size_t c = 0; c < n + 2; c++) {
		const char *want = c == 0 ? "pxname" : c == 1 ? "svname" : names[c - 2];
		col[c] = -1;
		for (size_t i = 0; i < nf && col[c] < 0; i++)
			if (strcmp(f[i], want) == 0)
				col[c] = (int)i;
	}
	return col[0] >= 0 && col[1] >= 0;
}

/* agent_haproxy_parse_stat finds server's row in a `show stat` reply (see
 * agent_haproxy_stat). OSP_ENOENT when no line names it, OSP_EDECODE for
 * another format. */
static osp_err agent_haproxy_parse_stat(agent_haproxy *h, const char *server, osp_buf *rep,
	const char *const *names, size_t n, char **vals)
{
	char *f[AGENT_HAPROXY_FIELDS_MAX * 2], *p, *nl;
	int col[AGENT_HAPROXY_STAT_COLS + 2];
	size_t nf;

	if (n > AGENT_HAPROXY_STAT_COLS || rep->data == NULL ||
		(nl = strchr(rep->data, '\n')) == NULL)
		return OSP_EDECODE;
	*nl = '\0';
	if (!agent_haproxy_stat_header(rep->data, names, n, col))
		return OSP_EDECODE;
	for (p = nl + 1; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		if (nl == NULL)
			return OSP_EDECODE; /* cut short */
		*nl = '\0';
		nf = agent_haproxy_split(p, ',', f, sizeof(f) / sizeof(f[0]));
		if (*p == '\0' || (size_t)col[0] >= nf || (size_t)col[1] >= nf ||
			strcmp(f[col[0]], h->backend) != 0 || strcmp(f[col[1]], server) != 0)
			continue;
		for (size_t i = 0; i < n; i++)
			vals[i] = col[i + 2] >= 0 && (size_t)col[i + 2] < nf ? f[col[i + 2]] : NULL;
		return OSP_OK;
	}
	return OSP_ENOENT;
}

osp_err agent_haproxy_stat(agent_haproxy *h, const char *server, const char *const *names,
	size_t n, char **vals, osp_buf *rep, char *err, size_t errlen)
{
	char cmd[200];
	osp_err rv;

	snprintf(cmd, sizeof(cmd), "show stat %s 4 -1", h->backend);
	rv = agent_haproxy_call(h, cmd, rep, err, errlen);
	if (rv == OSP_OK && (rep->len < 2 || strncmp(rep->data, "# ", 2) != 0))
		rv = agent_haproxy_refused(h, cmd, rep, err, errlen);
	else if (rv == OSP_OK)
		rv = agent_haproxy_parse_stat(h, server, rep, names, n, vals);
	if (rv == OSP_ENOENT)
		agent_traffic_seterr(err, errlen, "haproxy at '%s': backend '%s' has no server '%s'",
			h->socket, h->backend, server);
	else if (rv == OSP_EDECODE)
		agent_traffic_seterr(err, errlen, "haproxy at '%s': '%s': unexpected reply format",
			h->socket, cmd);
	return rv;
}

/* agent_haproxy_sessions reads server's scur from `show stat BACKEND 4 -1`
 * (type 4: servers only). */
static osp_err agent_haproxy_sessions(agent_haproxy *h, const char *server, long *scur,
	char *err, size_t errlen)
{
	static const char *const names[] = { "scur" };
	char *v = NULL;
	osp_buf rep;
	osp_err rv;

	osp_buf_init(&rep, AGENT_HAPROXY_REPLY_MAX);
	rv = agent_haproxy_stat(h, server, names, 1, &v, &rep, err, errlen);
	if (rv == OSP_OK && (v == NULL || !agent_haproxy_long(v, scur))) {
		agent_traffic_seterr(err, errlen,
			"haproxy at '%s': 'show stat': no scur for server '%s/%s'", h->socket,
			h->backend, server);
		rv = OSP_EDECODE;
	}
	osp_buf_fini(&rep);
	return rv;
}

/* agent_haproxy_check_server refuses a name haproxy would not take. */
static osp_err agent_haproxy_check_server(agent_haproxy *h, const char *server, char *err,
	size_t errlen)
{
	if (agent_haproxy_name_ok(server))
		return OSP_OK;
	agent_traffic_seterr(err, errlen, "haproxy at '%s': \"%.64s\" is not a server name",
		h->socket, server);
	return OSP_EINVAL;
}

/* agent_haproxy_set_verified sets server's state, then reads it back: drain
 * must show the forced drain bit, ready neither drain nor maintenance. */
static osp_err agent_haproxy_set_verified(agent_traffic *t, const char *server,
	const char *state, char *err, size_t errlen)
{
	agent_haproxy *h = t->drv;
	bool drain = strcmp(state, "drain") == 0;
	agent_haproxy_srv srv;
	osp_err rv = agent_haproxy_check_server(h, server, err, errlen);

	if (rv != OSP_OK)
		return rv;
	pthread_mutex_lock(agent_traffic_lock_mutex(h->lock));
	rv = agent_haproxy_set_server(h, server, state, err, errlen);
	if (rv == OSP_OK)
		rv = agent_haproxy_server_state(h, server, &srv, err, errlen);
	pthread_mutex_unlock(agent_traffic_lock_mutex(h->lock));
	if (rv == OSP_OK &&
		(drain ? (srv.admin & AGENT_HAPROXY_ADMF_FDRAIN) == 0
		       : (srv.admin & (AGENT_HAPROXY_ADMF_MAINT | AGENT_HAPROXY_ADMF_DRAIN)) != 0)) {
		agent_traffic_seterr(err, errlen,
			"haproxy at '%s': read-back after 'state %s': server '%s/%s' op %ld admin %ld",
			h->socket, state, h->backend, server, srv.op, srv.admin);
		rv = OSP_EIO;
	}
	return rv;
}

osp_err agent_haproxy_drain(agent_traffic *t, const char *server, char *err, size_t errlen)
{
	return agent_haproxy_set_verified(t, server, "drain", err, errlen);
}

osp_err agent_haproxy_ready(agent_traffic *t, const char *server, char *err, size_t errlen)
{
	return agent_haproxy_set_verified(t, server, "ready", err, errlen);
}

osp_err agent_haproxy_srv_state(agent_traffic *t, const char *server,
	agent_traffic_srv *st, char *err, size_t errlen)
{
	agent_haproxy *h = t->drv;
	agent_haproxy_srv srv;
	osp_err rv = agent_haproxy_check_server(h, server, err, errlen);

	if (rv != OSP_OK)
		return rv;
	pthread_mutex_lock(agent_traffic_lock_mutex(h->lock));
	rv = agent_haproxy_server_state(h, server, &srv, err, errlen);
	if (rv == OSP_OK)
		rv = agent_haproxy_sessions(h, server, &st->sessions, err, errlen);
	pthread_mutex_unlock(agent_traffic_lock_mutex(h->lock));
	if (rv == OSP_OK) {
		st->draining = (srv.admin & AGENT_HAPROXY_ADMF_DRAIN) != 0;
		st->maint = (srv.admin & AGENT_HAPROXY_ADMF_MAINT) != 0;
	}
	return rv;
}
