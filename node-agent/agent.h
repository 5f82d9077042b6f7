/*
 * agent.h - the agent's internal umbrella header.
 *
 * The agent core is a library: a process (main.c) or a benchmark creates
 * agents with agent_alloc, each with its own config, store and threads.
 */
#ifndef AGENT_H
#define AGENT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

#include "agent_store.h"
#include "ospec/cfg.h"
#include "ospec/err.h"
#include "ospec/labels.h"
#include "ospec/log.h"
#include "ospec/util.h"
#include "ospec/wire.h"

#define AGENT_MAX_APPS 64
#define AGENT_MAX_COORDINATORS 8 /* agent URLs of one highly available coordinator */

/* Host-local proxy settings of one app (CLI.md, agent config). */
typedef struct agent_proxy_cfg {
	char *driver;         /* haproxy | nginx | exec | none */
	char *socket;         /* haproxy admin socket */
	char *backend;
	char *server_blue;
	char *server_green;
	char *server;         /* rolling: this node's one server in backend */
	int64_t drain_timeout; /* ms; 0: AGENT_DRAIN_TIMEOUT_MS (rolling drain) */
	char *check_url;
	char *nginx_binary, *nginx_prefix, *nginx_conf, *nginx_upstream_file;
	char *nginx_access_log; /* canary counters: log_format ospec (docs/drivers.md) */
	char *exec_prepare, *exec_commit, *exec_abort, *exec_current;
	char *exec_weight, *exec_stats; /* canary scripts (docs/drivers.md) */
	int64_t exec_timeout; /* ms; 0: the driver's default (30 s) */
} agent_proxy_cfg;

/* The hooks of one app (apps.<app>.hooks; agent_hooks.h, docs/hooks.md):
 * absolute paths of executables, indexed by agent_hook_kind. */
#define AGENT_HOOKS_N 4 /* pre_stage, post_stage, pre_switch, post_switch */
typedef struct agent_hooks_cfg {
	char *path[AGENT_HOOKS_N]; /* NULL: no such hook */
	int64_t timeout;           /* ms; 0: AGENT_HOOK_TIMEOUT_MS (60 s) */
} agent_hooks_cfg;

/* Host-local settings of one app. */
typedef struct agent_app_cfg {
	char name[OSP_WIRE_MAX_ID + 1];
	uint64_t port;        /* 0: the rollout's */
	uint64_t blue_port, green_port;
	char *user;
	char *env_file;
	agent_proxy_cfg proxy;
	agent_hooks_cfg hooks;
} agent_app_cfg;

typedef struct agent_cfg {
	char *config;
	char *id;
	osp_labels labels;
	char *coordinator;        /* the coordinators' agent URLs as given: "URL,URL" */
	size_t ncoordinators;     /* coordinator split by agent_cfg_coordinators */
	char *coordinators[AGENT_MAX_COORDINATORS]; /* heap; dialled in this order */
	char *state;
	char *log_level;
	char *log_format;
	char *tls_ca, *tls_cert, *tls_key;
	uint64_t keep_releases;
	uint64_t retain_results;
	bool init;                /* --init: accept a lost data.mdb (store.h) */
	int64_t fetch_timeout;    /* ms: the deadline of one artifact fetch */
	char *metrics;            /* HOST:PORT of GET /metrics (agent_metrics.h); NULL: off */
	size_t napps;
	agent_app_cfg apps[AGENT_MAX_APPS];
} agent_cfg;

/* agent_cfg_load fills cfg from argv and the config file (opts.h rules); the
 * id defaults to the hostname. Returns as osp_opts_load. */
osp_err agent_cfg_load(agent_cfg *cfg, int argc, char **argv, int *action, char *err,
	size_t errlen);

/* agent_cfg_coordinators splits cfg->coordinator ("URL,URL", each checked
 * by opts.h) into cfg->coordinators: at most AGENT_MAX_COORDINATORS, each
 * once, all of one scheme (one TLS set-up and register proof for all: a
 * tcp:// beside tls+tcp:// ones would register in clear with whoever
 * answers there). agent_cfg_load calls it; OSP_EINVAL with err saying why,
 * OSP_ENOMEM. */
osp_err agent_cfg_coordinators(agent_cfg *cfg, char *err, size_t errlen);

/* agent_cfg_usage prints --help. */
void agent_cfg_usage(void);

/* agent_cfg_free frees cfg's strings; idempotent. */
void agent_cfg_free(agent_cfg *cfg);

/* agent_cfg_app returns the host settings of app, or NULL. */
const agent_app_cfg *agent_cfg_app(const agent_cfg *cfg, const char *app);

/* Following the leader among several coordinators (agent_dial.c). The
 * session dials one URL at a time; when it fails (no connection, no answer,
 * the session lost, "not the leader") it moves on to the next, round robin.
 * Within a round the next URL is tried at once (after a pause below
 * AGENT_FOLLOW_SWITCH_MS: a standby that just took over is found quickly);
 * once every URL failed in a row the round is over and the pause of one
 * coordinator away applies (agent_reconnect_delay), so a list of N dead URLs
 * tries each no more often than a single one is tried. A refusal (the
 * leader refused us, our TLS files) does not move: it backs off where it is. */
#define AGENT_FOLLOW_SWITCH_MS 300
/* a session that lasted this long was with a live leader: losing it moves on
 * quickly; a shorter one (a peer that drops us at once) backs off first */
#define AGENT_FOLLOW_LIVE_MS 1000

typedef struct agent_follow {
	size_t n;      /* URLs */
	size_t at;     /* the one dialled now */
	size_t failed; /* URLs failed in a row in this round */
} agent_follow;

/* agent_follow_init starts f over n URLs (n >= 1) at the first. */
void agent_follow_init(agent_follow *f, size_t n);

/* agent_follow_failed records that URL f->at failed and moves f->at on to
 * the next one, round robin; returns true when that completed a round (each
 * URL failed once in a row since the last success or round): the caller then
 * pauses as for one coordinator away. With one URL every failure does. */
bool agent_follow_failed(agent_follow *f);

/* agent_follow_ok says URL f->at answered (registered): the next failure
 * begins a new round. */
void agent_follow_ok(agent_follow *f);

typedef struct agent agent;

/* The command dispatcher (agent_dispatch.c): hands each command of the log to
 * its handler (agent_apps*.c, agent_bluegreen*.c), which fills the result. */
typedef struct agent_dispatch agent_dispatch;

struct agent {
	const agent_cfg *cfg;
	agent_store *store;
	char id[OSP_WIRE_MAX_ID + 1];
	char uuid[OSP_UUID_LEN + 1];
	nng_socket sock;
	nng_dialer dialer;
	bool dial_started;            /* the session thread started a->dialer */
	bool redial;                  /* moved to another URL: dial it even if connected */
	agent_follow follow;          /* which coordinator URL (session thread) */
	atomic_size_t coord_at;       /* follow.at, for the other threads */
	nng_tls_config *tls[AGENT_MAX_COORDINATORS]; /* per URL (tls+tcp://, held), else NULL */
	atomic_uint_fast32_t pipe_id; /* the connection while it is up, else 0 */
	nng_ctx poll_ctx, hb_ctx;
	pthread_mutex_t mtx;
	atomic_uint_fast64_t msg_id;
	atomic_bool stopping;
	atomic_bool registered;
	atomic_uint_fast32_t heartbeat_ms;
	uint32_t poll_hold_ms;
	char register_err[512]; /* why the last register failed (session thread) */
	uint64_t cursor;
	bool resend;              /* a result was not acknowledged: re-send first */
	pthread_t session_thread, hb_thread;
	atomic_int_fast64_t hb_alive_ms; /* monotonic ms of the heartbeat loop's last turn:
					  * systemd's watchdog (main.c, docs/systemd.md) */
	bool threads_started;
	agent_dispatch *dispatch;
	/* log reads answered lately (agent_logs.c): one read comes in both a
	 * poll and a heartbeat reply; under mtx */
#define AGENT_LOGS_SEEN 16
	uint64_t logs_seen[AGENT_LOGS_SEEN];
	unsigned logs_seen_at;
};

/* agent_alloc makes an agent over an open store (the agent does not own cfg;
 * it owns store from here on). Loads or creates the identity (instance uuid). */
osp_err agent_alloc(const agent_cfg *cfg, agent_store *store, agent **out, char *err,
	size_t errlen);

/* agent_start dials the coordinator (in the background, forever) and starts
 * the session and heartbeat threads. */
osp_err agent_start(agent *a);

/* agent_stop stops the threads and closes the socket; apps keep running. */
void agent_stop(agent *a);

/* agent_free frees the agent and closes its store; accepts NULL. */
void agent_free(agent *a);

/* agent_request sends one envelope body on ctx and decodes the reply.
 * Returns OSP_EREFUSED with err set when the coordinator answered Error
 * (*code says which). *rep is the caller's on OSP_OK. */
osp_err agent_request(agent *a, nng_ctx ctx, osp_env *env, int timeout_ms, osp_env **rep,
	Ospec__V1__ErrorCode *code, char *err, size_t errlen);

/* agent_dial.c: the connection, dialed by the session thread.
 *
 * After a lost coordinator the agent waits agent_reconnect_delay before each
 * attempt: uniform in [0, cap), cap AGENT_RECONNECT_SPREAD_MS while the
 * coordinator has been away less than AGENT_RECONNECT_AWAY_DIV times that,
 * then a 1/AGENT_RECONNECT_AWAY_DIV of the time away, at most
 * AGENT_RECONNECT_MAX_MS. A fleet spreads its reconnects over the first
 * window (no thundering herd after a restart), is back within that window
 * after a short outage and within about an eighth of a long one. */
#define AGENT_RECONNECT_SPREAD_MS 2000
#define AGENT_RECONNECT_AWAY_DIV 8
#define AGENT_RECONNECT_MAX_MS 30000

/* agent_reconnect_delay returns the pause in ms before the next attempt to
 * reach a coordinator away for away_ms (0: just lost), from the random
 * number rnd: in [0, AGENT_RECONNECT_MAX_MS). */
int64_t agent_reconnect_delay(int64_t away_ms, uint32_t rnd);

/* agent_dial_init sets a's socket up for agent_dial (connection tracking,
 * nng's redial bounded, the TLS configuration of each tls+tcp:// URL, its
 * host name checked) and creates the first URL's dialer, not started. Logs what is wrong; OSP_ECONFIG
 * (TLS files) or an nng error (a bad URL). */
osp_err agent_dial_init(agent *a);

/* agent_dial connects to the coordinator (agent_dial_url) in the foreground:
 * the first time with the dialer agent_dial_init made, later with a fresh
 * one (the old one, and nng's redial with it, closed). OSP_OK once connected; otherwise why in
 * a->register_err (TLS failures are logged here too, a repeat of *last, the
 * previous nng error, at debug level). Session thread only. */
osp_err agent_dial(agent *a, int *last);

/* agent_dial_url returns the coordinator URL dialled now (cfg's, any thread). */
const char *agent_dial_url(agent *a);

/* agent_dial_move moves on to the next coordinator URL after the current one
 * failed (agent_follow_failed): the next agent_dial dials it even while a
 * connection is up. Returns whether a round is over. Session thread only. */
bool agent_dial_move(agent *a);

/* agent_dial_connected says whether a connection to the coordinator is up. */
bool agent_dial_connected(agent *a);

/* agent_dial_fini releases what agent_dial_init kept, once the socket is
 * closed and the session thread joined; idempotent. */
void agent_dial_fini(agent *a);

/* agent_dispatch.c */
osp_err agent_dispatch_alloc(agent *a, agent_dispatch **out);
void agent_dispatch_free(agent_dispatch *x);
/* agent_dispatch_restore brings apps back to their recorded desired state at
 * start, before the coordinator answers. */
void agent_dispatch_restore(agent_dispatch *x);
/* agent_dispatch_cancel makes the fetch in flight (and every later one) stop
 * within about a second with OSP_ECLOSED: agent_stop calls it, so that a
 * stop never waits for a slow download. There is no way back. */
void agent_dispatch_cancel(agent_dispatch *x);
/* agent_dispatch_result_stands: whether a command's result with status is
 * recorded and answered. Once the agent is stopping (agent_dispatch_cancel) only
 * a success or a YES vote stands: a failure, a NO vote or a refusal may come
 * from the cancelled fetch or health wait, so the command is left to run
 * again at the next start (handlers converge). */
bool agent_dispatch_result_stands(int status, bool stopping);
/* agent_dispatch_run executes one command; res->message points into msg. */
void agent_dispatch_run(agent_dispatch *x, const Ospec__V1__Command *cmd,
	Ospec__V1__CommandResult *res, char *msg, size_t msglen);
/* agent_dispatch_apps fills the apps report (caller frees with agent_dispatch_apps_free). */
size_t agent_dispatch_apps(agent_dispatch *x, Ospec__V1__AppState ***out);
void agent_dispatch_apps_free(Ospec__V1__AppState **apps, size_t n);
/* agent_dispatch_in_doubt fills *out with the switches this node prepared and
 * has not heard the decision of (one per app), for Register.in_doubt; the
 * caller frees with agent_dispatch_in_doubt_free. Returns the count (0 with *out
 * NULL when there is none or memory ran out). */
size_t agent_dispatch_in_doubt(agent_dispatch *x, Ospec__V1__InDoubt ***out);
/* agent_dispatch_in_doubt_free frees what agent_dispatch_in_doubt made; accepts NULL. */
void agent_dispatch_in_doubt_free(Ospec__V1__InDoubt **v, size_t n);
/* agent_dispatch_runner returns the dispatcher's process runner (agent_runner.h),
 * owned by x: for status queries and tests. */
struct agent_runner *agent_dispatch_runner(agent_dispatch *x);
/* agent_dispatch_state_dir returns the absolute state dir (the runner's logs are
 * under it, in logs/), owned by x. */
const char *agent_dispatch_state_dir(agent_dispatch *x);

#endif
