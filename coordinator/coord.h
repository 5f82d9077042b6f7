/*
 * coord.h - the coordinator's internal umbrella header.
 *
 * Threading: nng's aio callbacks (agent server), the control thread, the
 * ticker thread and the HTTP handlers all take coord.mtx before touching any
 * state below. LMDB write transactions are only opened under it.
 */
#ifndef COORD_H
#define COORD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <nng/nng.h>

#include "ospec/err.h"
#include "ospec/labels.h"
#include "ospec/log.h"
#include "ospec/store.h"
#include "ospec/util.h"
#include "ospec/wire.h"
#include "ospec/v1/store.pb-c.h"

#define COORD_SCHEMA 1

typedef struct coord coord;
typedef struct coord_node coord_node;
typedef struct coord_ctx coord_ctx;
struct coord_ro_entry;

/* Settings (flags and config keys, CLI.md). */
typedef struct coord_cfg {
	char *config;
	char *data;
	char *listen;
	char *control;
	char *http;
	char *log_level;
	char *log_format;
	char *control_tls;     /* tls+tcp:// control endpoint, or NULL */
	char *control_group;   /* group allowed on the ipc control socket (0660), or NULL */
	char *tls_ca, *tls_cert, *tls_key; /* config block tls: {ca, cert, key} */
	int64_t heartbeat;     /* ms */
	int64_t poll_hold;     /* ms a poll is held without commands */
	uint64_t map_size;
	uint64_t event_retention; /* events kept */
	uint64_t max_contexts;
} coord_cfg;

typedef enum coord_node_state {
	COORD_NODE_DOWN = 0,
	COORD_NODE_UP,
} coord_node_state;

/* One known node: durable part in rec (NodeRecord), liveness in memory. */
struct coord_node {
	char id[OSP_WIRE_MAX_ID + 1];
	char uuid[OSP_WIRE_MAX_UUID + 1];
	osp_labels labels;
	bool cordoned;
	char hostname[256];
	char agent_version[65];
	int64_t first_seen_ms;
	int64_t last_seen_wall;   /* wall clock of the last message */
	int64_t last_seen_mono;
	coord_node_state state;
	uint32_t pipe_id;         /* the registered connection, 0 if none */
	uint64_t log_end;         /* highest sequence in its command log */
	uint64_t acked;           /* highest sequence the agent reported executed */
	Ospec__V1__AppState **apps; /* last report (owned) */
	size_t n_apps;
	coord_ctx *held;          /* polls held for this node (via held_next) */
	bool kick;                /* commands were appended since the last kick */
	coord_node *next;
};

/* One registered or registering connection. */
typedef struct coord_pipe {
	uint32_t id;
	bool has_nonce;
	uint8_t nonce[OSP_WIRE_NONCE_LEN];
	coord_node *node;         /* set once registered */
	uint64_t max_msg_id;      /* replay window: highest seen */
	uint64_t window;          /* bit i: max_msg_id - i was seen */
	unsigned bad;             /* undecodable messages on this connection */
	struct coord_pipe *next;
} coord_pipe;

typedef enum coord_ctx_state {
	COORD_CTX_RECV = 0,
	COORD_CTX_SEND,
	COORD_CTX_HELD,
} coord_ctx_state;

struct coord_ctx {
	coord *c;
	nng_ctx ctx;
	nng_aio *aio;
	coord_ctx_state state;
	coord_node *held_node;    /* poll held for this node */
	uint32_t held_pipe;
	uint64_t held_cursor;
	uint32_t held_max;
	int64_t held_until;       /* monotonic ms */
	coord_ctx *held_next;     /* next poll held for the same node */
	coord_ctx *next;
};

typedef struct coord_stats {
	uint64_t decode_errors;
	uint64_t version_errors;
	uint64_t too_big;
	uint64_t not_registered;
	uint64_t refused;
	uint64_t replays;
	uint64_t requests;
} coord_stats;

struct coord {
	coord_cfg cfg;
	pthread_mutex_t mtx;
	osp_store *store;
	nng_socket agents;        /* rep0 */
	nng_socket ctl;           /* rep0, control API */
	nng_listener ctl_listener;
	nng_listener ctl_tls_listener; /* --control-tls, if set */
	bool ctl_tls_on;
	struct coord_ctl_replay *ctl_replay; /* request ids seen over TLS */
	void *http;               /* nng_http_server */
	coord_node *nodes;
	coord_pipe *pipes;
	coord_ctx *ctxs;
	struct coord_ro_entry *rollouts; /* active (non-terminal) rollouts */
	void *ro_acts;            /* the engine's action buffer, reused */
	size_t ro_acts_cap;
	size_t nctx, nheld;
	coord_stats stats;
	uint64_t event_seq;       /* last event key */
	atomic_bool stopping;
	bool ready;
	pthread_t ticker, ctl_thread;
	bool ticker_started, ctl_started;
};

/* coord_db.c: records in LMDB. All take an open write or read txn. */
osp_err coord_db_open(coord *c, char *err, size_t errlen);
osp_err coord_db_load_nodes(coord *c);
osp_err coord_db_save_node(coord *c, osp_txn *t, const coord_node *n);
osp_err coord_db_delete_node(coord *c, osp_txn *t, const char *id);
osp_err coord_db_event(coord *c, osp_txn *t, const char *kind, const char *node,
	const char *rollout, const char *app, const char *actor, const char *fmt, ...)
	__attribute__((format(printf, 8, 9)));
osp_err coord_db_cmd_append(coord *c, osp_txn *t, coord_node *n, Ospec__V1__Command *cmd);
osp_err coord_db_cmd_read(coord *c, osp_txn *t, const char *node, uint64_t after,
	uint32_t max, Ospec__V1__Command ***out, size_t *n);
void coord_db_cmds_free(Ospec__V1__Command **cmds, size_t n);
/* coord_db_cmd_put overwrites the log entry cmd->seq of node (used to void a
 * command the node never executed). */
osp_err coord_db_cmd_put(coord *c, osp_txn *t, const char *node, Ospec__V1__Command *cmd);
/* coord_db_reload_log_ends re-reads each node's log end from the store
 * (after a failed commit: memory follows what is durable). */
void coord_db_reload_log_ends(coord *c);
/* coord_db_log_ends derives each node's log end from its command log; at
 * start the node record's value counts too. The record is not rewritten for
 * every appended command, so the log is the truth. */
void coord_db_log_ends(coord *c, bool at_start);
osp_err coord_db_trim_events(coord *c, osp_txn *t);
/* coord_db_trim_requests forgets the replies of control requests older than
 * before_ms (a request id only needs de-duplicating for a retry's lifetime). */
osp_err coord_db_trim_requests(coord *c, osp_txn *t, int64_t before_ms);
/* coord_db_commit commits t and logs a failure (MDB_MAP_FULL is said plainly). */
osp_err coord_db_commit(coord *c, osp_txn *t, const char *what);

/* coord_registry.c: nodes in memory. Callers hold c->mtx. */
coord_node *coord_node_find(coord *c, const char *id);
coord_node *coord_node_add(coord *c, const char *id, const char *uuid);
void coord_node_remove(coord *c, coord_node *n);
void coord_node_set_apps(coord_node *n, Ospec__V1__AppState **apps, size_t napps);
void coord_node_seen(coord *c, coord_node *n);
/* coord_node_apps_differ reports whether a report differs from n's apps. */
bool coord_node_apps_differ(const coord_node *n, Ospec__V1__AppState **apps, size_t napps);
void coord_registry_tick(coord *c, int64_t now_mono);
void coord_registry_free(coord *c);
coord_pipe *coord_pipe_get(coord *c, uint32_t id, bool create);
void coord_pipe_drop(coord *c, uint32_t id);
/* coord_pipe_seen_msg records msg_id; false if it was seen already (replay). */
bool coord_pipe_seen_msg(coord_pipe *p, uint64_t msg_id);

/* coord_agents.c: the agent protocol server. */
osp_err coord_agents_start(coord *c, char *err, size_t errlen);
void coord_agents_stop(coord *c);
/* coord_agents_kick answers the held polls of node n if it has new commands.
 * Caller holds c->mtx. */
void coord_agents_kick(coord *c, coord_node *n);
void coord_agents_tick(coord *c, int64_t now_mono);

/* coord_control.c: the control API for ospecctl. */
osp_err coord_control_start(coord *c, char *err, size_t errlen);
void coord_control_stop(coord *c);

/* coord_http.c: /healthz and /readyz. */
osp_err coord_http_start(coord *c, char *err, size_t errlen);
void coord_http_stop(coord *c);

#endif
