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

#include "coord_clock.h"
#include "coord_metrics.h"

#define COORD_SCHEMA 2

/*
 * What one connection may cost (docs/security.md, "Connection limits"). A
 * peer that is slow, stuck or hostile costs its own connection, never the
 * fleet's. The largest legitimate request is a Register with 64 apps, 64
 * labels, 64 in-doubt switches, the env names a report may carry (8 KiB), a
 * 32 KiB certificate chain and a signature: ~85 KiB
 * (tests/unit/test_coord_conn.c builds one).
 */
#define COORD_AGENT_MAX_REQ (96 * 1024)  /* larger: ERR_TOO_BIG, counted */
#define COORD_AGENT_RECVMAX (128 * 1024) /* nng drops a larger message unread */
#define COORD_UNREG_MAX 256              /* connections not registered yet */
#define COORD_REGISTER_DEADLINE_MS 10000 /* from connect to Registered */
#define COORD_IDLE_HEARTBEATS 6          /* registered and silent this long: closed */
#define COORD_IDLE_MIN_MS 10000
#define COORD_SEND_TIMEOUT_MS 5000       /* a reply not taken by then closes its connection */
#define COORD_PIPE_MAX_INFLIGHT 8        /* requests of one connection not answered yet */
#define COORD_REFUSE_CLOSE_MS 250        /* a refused connection closes after its reply */
#define COORD_LISTEN_BACKLOG 4096        /* the agent port's accept queue (nng: 128) */
#define COORD_REG_GROUP_MS 5             /* a register waits this long for others to commit with */
/* Registers and results committed together at most: a fleet-wide switch's
 * answers in one or two commits, acknowledged together (groups of 256 spread
 * 2000 nodes' acks over 8 commits: a skew of 112-143 ms against 56-83 ms,
 * docs/benchmarks.md "After: results in fleet-sized groups") */
#define COORD_REG_GROUP_MAX 2048
#define COORD_LOG_EVERY_MS 10000         /* rate-limited log lines: one per reason */

typedef struct coord coord;
typedef struct coord_node coord_node;
typedef struct coord_ctx coord_ctx;
struct coord_ro_entry;

#define COORD_WH_MAX_URLS 8 /* webhook URLs of the coordinator, and of one rollout */

/*
 * `ospecctl logs` (coord_logs.c, protocol 1.4): a log read waiting for its
 * node's answer. In memory only: a log read changes nothing, is never in the
 * command log, takes no sequence and is forgotten by a restart. The control
 * request that asked waits with a deferred reply (coord_control.c), never
 * with coord.mtx held.
 */
#define COORD_LOGS_MAX 8           /* log reads waiting, all nodes together */
#define COORD_LOGS_PER_NODE 2      /* ... for one node */
#define COORD_LOGS_WAIT_MS 10000   /* an unanswered read fails after this */
#define COORD_LOGS_PROTO_MINOR 4   /* agents older than 1.4 have no logs */

typedef struct coord_log_req {
	bool used;
	uint64_t id;                   /* LogRequest.id, matched by LogChunk.id */
	char node[OSP_WIRE_MAX_ID + 1];
	char app[OSP_WIRE_MAX_ID + 1];
	char slot[8];                  /* main, blue, green */
	uint32_t lines;
	bool follow;
	uint64_t out_offset, err_offset;
	bool sent_poll, sent_hb;       /* handed out in a poll / heartbeat reply */
	int64_t deadline;              /* monotonic ms */
	void *reply;                   /* the deferred control reply (coord_control.h) */
} coord_log_req;

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
	bool init;             /* --init: accept a lost data.mdb (store.h) */
	char *restore;         /* --restore FILE: a backup copied into --data first (coord_backup.c) */
	bool force_restore;    /* --force-restore: move a non-empty --data aside first */
	/* webhooks (coord_webhooks.c, docs/webhooks.md) */
	char *webhook_secret_file; /* the HMAC key, read once at start */
	char *webhook_flag;        /* the last --webhook; coord_webhooks_flags reads every one */
	struct coord_wh_urls {
		char *v[COORD_WH_MAX_URLS];
		size_t n;
	} webhooks;                /* --webhook URL (repeatable) or webhooks: [URL, ...] */
	/* high availability (coord_leader.c, docs/ha.md) */
	char *store;               /* NULL: LMDB in data; etcd://HOST:PORT,.../PREFIX */
	char *name;                /* this coordinator's name (default: the host name) */
	int64_t lease_ttl;         /* ms */
	char *advertise_control;   /* the control URL standbys name (default: control) */
} coord_cfg;

typedef enum coord_node_state {
	COORD_NODE_DOWN = 0,
	COORD_NODE_UP,
} coord_node_state;

/* A chained hash table of entries that carry their own bucket link
 * (coord_registry.c); zeroed is empty. */
typedef struct coord_tab {
	void **b;                 /* buckets: none, or a power of two of them */
	size_t nb;
	size_t n;                 /* entries */
} coord_tab;

/* One known node: durable part in rec (NodeRecord), liveness in memory. */
struct coord_node {
	char id[OSP_WIRE_MAX_ID + 1];
	char uuid[OSP_WIRE_MAX_UUID + 1];
	osp_labels labels;
	bool cordoned;
	char hostname[256];
	char agent_version[65];
	uint32_t proto_minor;     /* the agent's protocol minor (envelope) at register */
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
	uint64_t reg_group;       /* the last group commit that recorded its register */
	coord_node *next;
	coord_node *hnext;        /* next in its bucket of coord.node_tab */
};

/* One registered or registering connection. */
typedef struct coord_pipe {
	uint32_t id;
	bool registered_once;     /* counted in coord.n_unreg until set */
	bool closing;             /* its requests are dropped; closed soon */
	bool close_sent;          /* nng_pipe_close was called for it */
	int64_t added_mono;       /* when it connected */
	int64_t last_mono;        /* its last complete request */
	int64_t close_at;         /* >0: closed by the sweep at this time */
	unsigned inflight;        /* its requests not answered yet (contexts held) */
	bool has_nonce;
	uint8_t nonce[OSP_WIRE_NONCE_LEN];
	coord_node *node;         /* set once registered */
	uint64_t max_msg_id;      /* replay window: highest seen */
	uint64_t window;          /* bit i: max_msg_id - i was seen */
	unsigned bad;             /* undecodable messages on this connection */
	struct coord_pipe *next;
	struct coord_pipe *hnext; /* next in its bucket of coord.pipe_tab */
} coord_pipe;

typedef enum coord_ctx_state {
	COORD_CTX_RECV = 0,
	COORD_CTX_SEND,
	COORD_CTX_HELD,
	COORD_CTX_REGWAIT, /* a register or result waiting for its group commit (coord_register.c) */
} coord_ctx_state;

struct coord_ctx {
	coord *c;
	nng_ctx ctx;
	nng_aio *aio;
	coord_ctx_state state;
	uint32_t pipe_id;         /* connection of the request it serves, 0 if none */
	coord_node *held_node;    /* poll held for this node */
	uint32_t held_pipe;
	uint64_t held_cursor;
	uint32_t held_max;
	int64_t held_until;       /* monotonic ms */
	coord_ctx *held_next;     /* next poll held for the same node */
	coord_ctx *next;
};

/* What is left to do for one result once its transaction is committed
 * (coord_engine_result_in fills it, coord_engine_result_done uses it). */
typedef struct coord_result_done {
	struct coord_ro_entry *e; /* the rollout it answered, NULL if none */
	size_t staging;           /* the step whose Stage it answered, SIZE_MAX if none */
	int64_t issued_ms, now_ms;
} coord_result_done;

/* A request waiting for the group commit (coord_register.c): a register of
 * a known node, or a command result. */

typedef struct coord_reg_wait {
	coord_ctx *x;             /* answers it (COORD_CTX_REGWAIT) */
	uint32_t pipe;
	char id[OSP_WIRE_MAX_ID + 1];
	char uuid[OSP_WIRE_MAX_UUID + 1];
	uint64_t cursor;
	/* a register: what it says about the node (labels, hostname, apps...),
	 * taken into the node only once the commit succeeded (owned) */
	coord_node *facts;
	/* ... of a node unknown when it came: facts is the whole node, added
	 * to memory after the commit */
	bool is_new;
	/* a result (owned, unpacked with the NULL allocator), else NULL */
	Ospec__V1__CommandResult *result;
	/* the flush's own (coord_register_flush): the node it found, whether
	 * it records a new one, what is left of a result after the commit */
	coord_node *node;
	bool fresh;
	coord_result_done done;
} coord_reg_wait;

#define COORD_RESULT_N 7  /* ResultStatus OK..VOTE_NO, then any other */
#define COORD_REFUSED_N 4 /* the COORD_RL_REFUSED_* reasons, first in coord_rl */

typedef struct coord_stats {
	uint64_t decode_errors;
	uint64_t version_errors;
	uint64_t too_big;
	uint64_t not_registered;
	uint64_t refused;
	uint64_t replays;
	uint64_t requests;
	/* connections closed by the limits (coord_conn.c) */
	uint64_t conn_limit;      /* refused: COORD_UNREG_MAX unregistered already */
	uint64_t conn_stuck;      /* replies not read: send timeout or too many in flight */
	uint64_t conn_deadline;   /* no Register within COORD_REGISTER_DEADLINE_MS */
	uint64_t conn_idle;       /* registered, then silent */
	uint64_t dropped;         /* requests dropped on a connection being closed */
	/* for /metrics (coord_metrics.c) */
	uint64_t commands_sent;   /* commands handed to agents in poll replies */
	uint64_t results[COORD_RESULT_N];    /* results by ResultStatus; the last: other */
	uint64_t refused_by[COORD_REFUSED_N]; /* refused, by reason: COORD_RL_REFUSED_* */
} coord_stats;

/* A log line kept to one per COORD_LOG_EVERY_MS, with the count held back. */
typedef struct coord_ratelog {
	int64_t last_ms;
	uint64_t held;
} coord_ratelog;

/* Reasons with a rate-limited log line each. */
typedef enum coord_rl {
	COORD_RL_REFUSED_NONCE = 0,
	COORD_RL_REFUSED_ID,
	COORD_RL_REFUSED_PROOF,
	COORD_RL_REFUSED_INSTANCE,
	COORD_RL_BAD_MESSAGE,
	COORD_RL_REPLAY,
	COORD_RL_CONN_LIMIT,
	COORD_RL_CONN_STUCK,
	COORD_RL_CONN_DEADLINE,
	COORD_RL_CONN_IDLE,
	COORD_RL_NNG_REAPER,
	COORD_RL_N
} coord_rl;
_Static_assert(COORD_RL_REFUSED_INSTANCE + 1 == COORD_REFUSED_N, "refused reasons");

struct coord {
	coord_cfg cfg;
	pthread_mutex_t mtx;
	osp_store *store;
	struct coord_leader *leader; /* with --store etcd://: won before the store opens */
	char etcd_endpoints[1024], etcd_prefix[256]; /* --store, parsed */
	nng_socket agents;        /* rep0 */
	nng_socket ctl;           /* rep0, control API */
	nng_listener ctl_listener;
	bool ctl_ipc_owned;       /* the ipc socket file is ours (coord_ctl_ipc.c) */
	uint64_t ctl_ipc_dev, ctl_ipc_ino; /* ... and which file that is */
	nng_listener ctl_tls_listener; /* --control-tls, if set */
	bool ctl_tls_on;
	struct coord_ctl_replay *ctl_replay; /* request ids seen over TLS */
	void *http;               /* nng_http_server */
	coord_node *nodes;        /* sorted by id */
	coord_pipe *pipes;
	/* the same, by id (coord_registry.c): every request looks its
	 * connection up, and a result or a command its node, by name */
	coord_tab node_tab, pipe_tab;
	coord_ctx *ctxs;
	struct coord_ro_entry *rollouts; /* active (non-terminal) rollouts */
	void *ro_acts;            /* the engine's action buffer, reused */
	size_t ro_acts_cap;
	char *ro_text;            /* and its messages' (coord_ro_actions.text) */
	size_t ro_text_cap;
	coord_clock clock;        /* the rollout clock: every engine event's now (coord_clock.h) */
	/* answers node n's held polls once it has new commands: the agent server's
	 * coord_agents_kick, wired by main.c, so that the rollout side
	 * (coord_active_kick) reaches it without calling up into it; NULL: no
	 * agent server (unit tests), the node's kick mark stays */
	void (*answer_polls)(coord *c, coord_node *n);
	/* coord_active_kick: one read transaction for every reply of a
	 * fan-out (NULL otherwise: each reply reads on its own) */
	osp_txn *fanout_txn;
	/* queues the canary metrics query of rollout e (ACT_QUERY): the analysis
	 * worker's coord_analysis_request, wired by main.c; its answer comes back
	 * through coord_engine_on_metric. NULL: the query is not asked (no
	 * answer: the analysis fails its query check) */
	void (*ask_metric)(coord *c, const struct coord_ro_entry *e);
	bool ro_defer_save;       /* a group commit is applying events: each rollout's
				   * record is written once, at its end (coord_active_save_due) */
	uint64_t ro_saves;        /* rollout records written (coord_ro_save), for the tests */
	int64_t ro_wake_ms;       /* no rollout deadline before this (rollout clock); kept by
				   * coord_engine_tick, moved earlier by coord_active_event,
				   * 0 after a (re)load: look at once */
	/* the plan being changed (coord_plans.c): a stage rollout that ends
	 * meanwhile (created and failed at once, aborted at once) is noted here
	 * and applied to that change's own copy of the plan afterwards */
	char plan_busy[160];
	bool plan_deferred;
	char plan_def_stage[48];
	int plan_def_state;
	char plan_def_reason[512];
	size_t nctx, nheld;
	size_t nsend;             /* contexts whose reply is waiting for its connection */
	size_t n_unreg;           /* connections that never registered */
	coord_reg_wait *regs;     /* registers and results waiting for their group commit */
	size_t nregs;             /* ... how many (COORD_REG_GROUP_MAX at most) */
	size_t nregs_reg, nregs_new; /* ... of them registers, and of new nodes */
	size_t nregwait;          /* contexts in COORD_CTX_REGWAIT */
	nng_aio *reg_flush;       /* ends a group's wait */
	bool reg_armed;           /* ... and is waiting */
	uint64_t reg_groups;      /* group commits begun (coord_node.reg_group) */
	coord_ratelog rl[COORD_RL_N];
	nng_aio *conn_sweep;      /* coord_conn.c: closes overdue connections */
	coord_stats stats;
	coord_metrics metrics;    /* histograms and gauges of /metrics */
	uint64_t event_seq;       /* last event key */
	atomic_bool stopping;
	bool ready;
	pthread_t ticker, ctl_thread, ctl_watchdog;
	bool ticker_started, ctl_started, ctl_watchdog_started;
	atomic_uint ctl_relistens; /* times the control watchdog revived the listener */
	struct coord_analysis *analysis; /* canary metrics queries (coord_analysis.c) */
	bool restored;            /* started with --restore: re-send what a node passed (coord_backup.c) */
	struct coord_webhooks *wh; /* webhook outbox worker (coord_webhooks.c) */
	coord_log_req logs[COORD_LOGS_MAX]; /* log reads waiting (coord_logs.c) */
	uint64_t logs_next_id;
};

/* coord_db.c: records in LMDB. All take an open write or read txn. */
osp_err coord_db_open(coord *c, char *err, size_t errlen);
osp_err coord_db_load_nodes(coord *c);
osp_err coord_db_save_node(coord *c, osp_txn *t, const coord_node *n);
osp_err coord_db_delete_node(coord *c, osp_txn *t, const char *id);
osp_err coord_db_event(coord *c, osp_txn *t, const char *kind, const char *node,
	const char *rollout, const char *app, const char *actor, const char *fmt, ...)
	__attribute__((format(printf, 8, 9)));
/* coord_db_cmd_append appends cmd to n's log: its seq and generation are
 * the next place in the log (set here). */
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
/* coord_db_trim_events deletes events past cfg.event_retention (at most
 * COORD_DB_TRIM_MAX per call): node noise first (coord_db_event_is_noise),
 * oldest first; rollout, step, switch and operator events only when the
 * noise alone is not enough. */
#define COORD_DB_TRIM_MAX 100000
osp_err coord_db_trim_events(coord *c, osp_txn *t);
/* coord_db_event_is_noise reports whether an event is node noise: a node.* or
 * agent.* event that names no rollout and no operator (actor "coordinator",
 * "node" or none). */
bool coord_db_event_is_noise(const char *kind, const char *rollout, const char *actor);
/* coord_db_trim_requests forgets the replies of control requests older than
 * before_ms (a request id only needs de-duplicating for a retry's lifetime). */
osp_err coord_db_trim_requests(coord *c, osp_txn *t, int64_t before_ms);
/* coord_db_commit commits t and logs a failure (MDB_MAP_FULL is said plainly). */
osp_err coord_db_commit(coord *c, osp_txn *t, const char *what);

/* coord_registry.c: nodes in memory. Callers hold c->mtx. */
/* coord_hash_id hashes a node id (FNV-1a) for the in-memory indexes. */
size_t coord_hash_id(const char *id);
/* coord_node_find returns node id (an index lookup), NULL if unknown. */
coord_node *coord_node_find(coord *c, const char *id);
/* coord_node_add adds node id (down, no facts) to memory: coord_node_alloc
 * then coord_node_link. NULL without memory. */
coord_node *coord_node_add(coord *c, const char *id, const char *uuid);
/* coord_node_alloc allocates node id (down, no facts) without adding it:
 * the caller owns it until coord_node_link succeeds. NULL without memory. */
coord_node *coord_node_alloc(const char *id, const char *uuid);
/* coord_node_link adds n (unknown so far) to memory, which then owns it;
 * false without memory (n is still the caller's). It cannot fail for the
 * next `more` nodes after coord_node_reserve(c, more) returned true. */
bool coord_node_link(coord *c, coord_node *n);
bool coord_node_reserve(coord *c, size_t more);
void coord_node_remove(coord *c, coord_node *n);
void coord_node_set_apps(coord_node *n, Ospec__V1__AppState **apps, size_t napps);
/* coord_node_seen notes a message from n; a node that was down is up (its
 * node.up event committed). */
void coord_node_seen(coord *c, coord_node *n);
/* coord_node_mark_up is coord_node_seen without the event: the caller
 * committed node.up with something else. Returns whether n was down. */
bool coord_node_mark_up(coord_node *n);
/* coord_node_apps_differ reports whether a report differs from n's apps. */
bool coord_node_apps_differ(const coord_node *n, Ospec__V1__AppState **apps, size_t napps);
void coord_registry_tick(coord *c, int64_t now_mono);
void coord_registry_free(coord *c);
/* coord_pipe_get finds connection id; with create, a missing one is added
 * (unregistered, counted in c->n_unreg, its clocks at now). NULL if absent or
 * out of memory. coord_pipe_drop forgets it (after NNG_PIPE_EV_REM_POST). */
coord_pipe *coord_pipe_get(coord *c, uint32_t id, bool create);
void coord_pipe_drop(coord *c, uint32_t id);
/* coord_pipe_registered marks p registered (no longer in c->n_unreg). */
void coord_pipe_registered(coord *c, coord_pipe *p);
/* coord_pipe_seen_msg records msg_id; false if it was seen already (replay). */
bool coord_pipe_seen_msg(coord_pipe *p, uint64_t msg_id);

/* coord_conn.c: what one agent connection may cost. Callers hold c->mtx
 * unless said otherwise. */
/* coord_ratelog_due reports whether a line of r may be logged at now_ms;
 * when true, *held is how many were held back since the last one (r is
 * reset), when false the line is counted in r. */
bool coord_ratelog_due(coord_ratelog *r, int64_t now_ms, uint64_t *held);
/* coord_ratelog_flush logs, as id, how many lines of r were held back
 * ("N more <what> in the last S s") once its period has passed. */
void coord_ratelog_flush(coord_ratelog *r, int64_t now_ms, const char *id, const char *what);
/* coord_conn_admit registers a new connection (NNG_PIPE_EV_ADD_PRE); false
 * if it must be closed (too many unregistered ones, or no memory). */
bool coord_conn_admit(coord *c, uint32_t id, int64_t now_mono);
/* coord_conn_close_soon marks p closing (what it sends is dropped) and has
 * the sweep close it at at_mono (0: at once, that is within a sweep). The
 * callers of nng callbacks never close a pipe themselves. */
void coord_conn_close_soon(coord_pipe *p, int64_t at_mono);
/* coord_conn_stuck closes p soon because it does not read its replies:
 * counted (stats.conn_stuck), logged rate-limited. */
void coord_conn_stuck(coord *c, coord_pipe *p, const char *why);
/* coord_conn_idle_ms is how long a registered connection may stay silent. */
int64_t coord_conn_idle_ms(const coord *c);
/* coord_conn_overdue writes into ids (cap) the connections to close now:
 * those marked (coord_conn_close_soon) whose time has come, unregistered ones
 * past the register deadline, registered ones silent past
 * coord_conn_idle_ms. Each is counted and logged (rate-limited) once; one
 * closed 5 s ago that nng never reported gone (NNG_PIPE_EV_REM_POST) is
 * forgotten. Returns how many. */
size_t coord_conn_overdue(coord *c, int64_t now_mono, uint32_t *ids, size_t cap);
/* coord_conn_start arms the sweep that closes overdue connections (four
 * times a second); coord_conn_stop stops it (c->stopping set first; no lock held). */
osp_err coord_conn_start(coord *c);
void coord_conn_stop(coord *c);
/* coord_conn_close closes connection id (no lock needed; 0 is ignored). */
void coord_conn_close(uint32_t id);
/* coord_conn_backlog raises the accept queue of the agents' TCP listener l
 * from the 128 nng 1.5.2 listens with to backlog (the kernel caps it at
 * net.core.somaxconn), so that a fleet reconnecting at once is queued
 * rather than dropped and retried by TCP 1-3 s later. Logs when it cannot. */
void coord_conn_backlog(nng_listener l, int backlog);
/* coord_conn_tls puts the server TLS configuration (client certificate
 * required) on the agents' listener l; err says why it cannot. */
osp_err coord_conn_tls(coord *c, nng_listener l, char *err, size_t errlen);

/* coord_agents.c: the agent protocol server. */
osp_err coord_agents_start(coord *c, char *err, size_t errlen);
void coord_agents_stop(coord *c);
/* coord_agents_send_env answers the request of x with env (encoded here;
 * ERR_INTERNAL if too big); coord_agents_send_error with an Error. Nothing
 * is sent to a connection being closed: x then stays in COORD_CTX_RECV.
 * Caller holds c->mtx. */
void coord_agents_send_env(coord_ctx *x, osp_env *env);
void coord_agents_send_error(coord_ctx *x, Ospec__V1__ErrorCode code, const char *text);
/* coord_agents_rearm ends a request of x that got no reply (x in
 * COORD_CTX_RECV) and receives again; anything else is left alone. For
 * requests answered outside their receive callback. Caller holds c->mtx. */
void coord_agents_rearm(coord *c, coord_ctx *x);
/* coord_agents_ack answers the request of x with an Ack of seq (a result
 * recorded, or 0: an event or log chunk taken). Caller holds c->mtx. */
void coord_agents_ack(coord_ctx *x, uint64_t seq);
/* coord_agents_kick answers the held polls of node n if it has new commands.
 * Caller holds c->mtx. */
void coord_agents_kick(coord *c, coord_node *n);
void coord_agents_tick(coord *c, int64_t now_mono);
/* coord_agents_wake answers the held polls of node n at once (with what
 * the node has: new commands, log reads). Caller holds c->mtx. */
void coord_agents_wake(coord *c, coord_node *n);
/* coord_agents_unqueue cancels the replies to connection pipe still queued
 * in nng, so their contexts serve others at once (caller holds c->mtx; pipe
 * is marked closing, so no new ones come). */
void coord_agents_unqueue(coord *c, uint32_t pipe);

/* coord_register.c: hello and register (callers hold c->mtx). */
/* coord_register_hello answers a Hello with this connection's nonce. */
void coord_register_hello(coord *c, coord_ctx *x, coord_pipe *p);
/* coord_register_handle checks a Register (nonce, identity proof, instance)
 * and records the node before answering Registered: in a group commit (x
 * waits in COORD_CTX_REGWAIT), or at once when it reports in-doubt
 * switches. A new node is added to memory only after its commit. */
void coord_register_handle(coord *c, coord_ctx *x, coord_pipe *p, const osp_env *e);
/* coord_register_result takes command result r of node n (copied) into the
 * group commit: x waits (COORD_CTX_REGWAIT) until coord_register_flush has
 * applied it to its rollout, committed, and acknowledged it (or answered an
 * error: the agent sends it again). */
void coord_register_result(coord *c, coord_ctx *x, coord_pipe *p, coord_node *n,
	const Ospec__V1__CommandResult *r);
/* coord_register_pending reports whether node n has a request waiting for
 * the group commit (an engine event of n must not overtake it). */
bool coord_register_pending(const coord *c, const coord_node *n);
/* coord_register_flush applies the registers and results waiting in one
 * write transaction, commits once, then answers them: a register's facts
 * reach the node, and a result's commands are sent, only after the commit;
 * a failed commit reloads the rollouts and answers every one with an error. */
void coord_register_flush(coord *c);
/* coord_register_start allocates the group commit; coord_register_stop
 * drops a group waiting (c->stopping set, no lock held). */
osp_err coord_register_start(coord *c);
void coord_register_stop(coord *c);

/* coord_logs.c: log reads for `ospecctl logs` (callers hold c->mtx). */
/* coord_logs_for_node fills lr/lrp (COORD_LOGS_PER_NODE of each, the
 * caller's) with node n's log reads not yet handed out in a poll reply
 * (poll) or a heartbeat reply (!poll), marks them handed out, and returns
 * how many. The strings point into c->logs: encode before unlocking. */
size_t coord_logs_for_node(coord *c, const coord_node *n, bool poll,
	Ospec__V1__LogRequest *lr, Ospec__V1__LogRequest **lrp);
/* coord_logs_waiting reports whether node n has a log read not yet handed
 * out in a poll reply (its poll is then answered, not held). */
bool coord_logs_waiting(const coord *c, const coord_node *n);
/* coord_logs_on_chunk answers the control request waiting for chunk (from
 * node n; a chunk of an unknown or expired id, or of another node's read, is
 * dropped). */
void coord_logs_on_chunk(coord *c, const coord_node *n, const Ospec__V1__LogChunk *chunk);
/* coord_logs_tick fails the reads past their deadline, or whose node went
 * down or was forgotten meanwhile (the control thread, a few times a second). */
void coord_logs_tick(coord *c, int64_t now_mono);
/* coord_logs_count is how many log reads wait (ospecctl stats). */
size_t coord_logs_count(const coord *c);
/* coord_logs_drop forgets every read without answering (the control server
 * is stopping; its replies go with it). */
void coord_logs_drop(coord *c);

/* coord_control.c: the control API for ospecctl. */
osp_err coord_control_start(coord *c, char *err, size_t errlen);
void coord_control_stop(coord *c);

/* coord_http.c: /healthz, /readyz and /metrics (coord_metrics.c). */
osp_err coord_http_start(coord *c, char *err, size_t errlen);
void coord_http_stop(coord *c);

#endif
