/*
 * haproxy.h - inside the haproxy traffic driver: its state and the runtime-API
 * client of haproxy.c, shared with haproxy_drain.c (drain, ready and the
 * server state of a rolling app's single server) and haproxy_canary.c
 * (weights, counters, `show info`). Not for use outside drivers/haproxy*.c.
 */
#ifndef AGENT_DRIVERS_HAPROXY_H
#define AGENT_DRIVERS_HAPROXY_H

#include "agent_traffic.h"

#define AGENT_HAPROXY_REPLY_MAX (1024 * 1024)
#define AGENT_HAPROXY_NAME_MAX 127
#define AGENT_HAPROXY_FIELDS_MAX 64

/* srv_admin_state bits (haproxy 2.6 include/haproxy/server-t.h) */
#define AGENT_HAPROXY_ADMF_FMAINT 0x01 /* forced by `set server ... maint` */
#define AGENT_HAPROXY_ADMF_MAINT 0x23  /* any maintenance: forced, inherited, DNS */
#define AGENT_HAPROXY_ADMF_FDRAIN 0x08
#define AGENT_HAPROXY_ADMF_DRAIN 0x18
/* srv_op_state */
#define AGENT_HAPROXY_OP_STARTING 1 /* up, in slowstart */
#define AGENT_HAPROXY_OP_RUNNING 2

typedef struct agent_haproxy {
	char *socket;
	char *backend;
	char *server[2]; /* [0] blue, [1] green; NULL for a rolling-only config */
	char *single;    /* proxy.server: the rolling app's server, or NULL */
	agent_traffic_lock *lock;
	bool seen; /* pid and start hold what the last watch() saw */
	long long pid, start;
} agent_haproxy;

/* One server's line of `show servers state`. */
typedef struct agent_haproxy_srv {
	bool found;
	long op;
	long admin;
	long weight;
} agent_haproxy_srv;

/* agent_haproxy_name_ok: a haproxy proxy or server name (no ';', no space). */
bool agent_haproxy_name_ok(const char *s);

/* agent_haproxy_call runs one command on a new connection; rep (initialised
 * by the caller, bounded) receives the whole reply. Errors as in haproxy.c. */
osp_err agent_haproxy_call(agent_haproxy *h, const char *cmd, osp_buf *rep, char *err,
	size_t errlen);

/* agent_haproxy_text copies rep with white space runs made one space. */
void agent_haproxy_text(const osp_buf *rep, char *out, size_t len);

/* agent_haproxy_refused puts haproxy's text reply to cmd into err;
 * returns OSP_EREFUSED. */
osp_err agent_haproxy_refused(agent_haproxy *h, const char *cmd, const osp_buf *rep, char *err,
	size_t errlen);

/* agent_haproxy_quiet runs cmd, a command haproxy answers with nothing when
 * it did it; any text back is its refusal (OSP_EREFUSED, quoted in err). */
osp_err agent_haproxy_quiet(agent_haproxy *h, const char *cmd, char *err, size_t errlen);

/* agent_haproxy_set_server runs `set server BACKEND/name state STATE`. */
osp_err agent_haproxy_set_server(agent_haproxy *h, const char *name, const char *state,
	char *err, size_t errlen);

/* agent_haproxy_server_state reads name's line of `show servers state`;
 * OSP_ENOENT when the backend has no such server. */
osp_err agent_haproxy_server_state(agent_haproxy *h, const char *name, agent_haproxy_srv *srv,
	char *err, size_t errlen);

/* agent_haproxy_split cuts line at sep in place; returns the field count. */
size_t agent_haproxy_split(char *line, char sep, char **f, size_t max);

/* agent_haproxy_long parses a whole decimal number. */
bool agent_haproxy_long(const char *s, long *out);

/* -- shared by haproxy.c and haproxy_canary.c -- */

/* agent_haproxy_slot: 1 for "green", else 0 (blue). */
int agent_haproxy_slot(const char *slot);

/* agent_haproxy_servers reads the state of both slot servers; OSP_ENOENT
 * when the backend lacks one, OSP_ECONFIG for a rolling-only config. */
osp_err agent_haproxy_servers(agent_haproxy *h, agent_haproxy_srv srv[2], char *err,
	size_t errlen);

/* agent_haproxy_serving: up, and neither in maintenance nor draining. */
bool agent_haproxy_serving(const agent_haproxy_srv *s);

/* agent_haproxy_wait_up waits until haproxy counts slot server idx as serving;
 * OSP_ESTATE after AGENT_HAPROXY_UP_WAIT_MS. */
osp_err agent_haproxy_wait_up(agent_haproxy *h, int idx, char *err, size_t errlen);

/* agent_haproxy_commit_locked switches to slot index to (the caller holds
 * h->lock): new server ready and up, weights back to configured, old one
 * in maint, read back. */
osp_err agent_haproxy_commit_locked(agent_haproxy *h, int to, char *err, size_t errlen);

/* agent_haproxy_info reads Pid and Start_time_sec (0 when an older haproxy
 * lacks it) from `show info` (haproxy_canary.c). */
osp_err agent_haproxy_info(agent_haproxy *h, long long *pid, long long *start, char *err,
	size_t errlen);

/* agent_haproxy_set_weight runs `set weight BACKEND/name value` (a number,
 * or "100%": the configured weight). */
osp_err agent_haproxy_set_weight(agent_haproxy *h, const char *name, const char *value,
	char *err, size_t errlen);

/* agent_haproxy_stat reads `show stat BACKEND 4 -1` into rep (initialised and
 * freed by the caller) and finds server's row: vals[i] points into rep at the
 * field named names[i] (n <= AGENT_HAPROXY_STAT_COLS), NULL when this haproxy
 * has no such column. Columns are found by the CSV header, never by index.
 * OSP_ENOENT (no such server), OSP_EDECODE, errors of agent_haproxy_call;
 * err says which. (haproxy_drain.c) */
#define AGENT_HAPROXY_STAT_COLS 16
osp_err agent_haproxy_stat(agent_haproxy *h, const char *server, const char *const *names,
	size_t n, char **vals, osp_buf *rep, char *err, size_t errlen);

/* The canary operations (haproxy_canary.c), for the ops table. */
osp_err agent_haproxy_weight(agent_traffic *t, const char *active_slot,
	const char *canary_slot, unsigned weight, char *err, size_t errlen);
osp_err agent_haproxy_stats(agent_traffic *t, const char *slot, agent_traffic_slot_stats *st,
	char *err, size_t errlen);

/* The rolling operations (haproxy_drain.c), for the ops table. */
osp_err agent_haproxy_drain(agent_traffic *t, const char *server, char *err, size_t errlen);
osp_err agent_haproxy_ready(agent_traffic *t, const char *server, char *err, size_t errlen);
osp_err agent_haproxy_srv_state(agent_traffic *t, const char *server,
	agent_traffic_srv *st, char *err, size_t errlen);

#endif
