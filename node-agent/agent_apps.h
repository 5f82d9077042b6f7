/*
 * agent_apps.h - the agent's apps in the single slot "main" (rolling
 * deploys): the durable desired state of each app (an AgentAppRecord in the
 * store), the Stage, Revert and Stop handlers, the restore at agent start and
 * the apps report of register and heartbeat.
 *
 * Handlers converge ("make it so"): a command executed twice leaves the same
 * state. The record is written BEFORE the process is touched (write-ahead),
 * so that a restarted agent restores what the coordinator last asked for.
 *
 * On disk everything is named by the release's sha256 (64 lowercase hex
 * digits, checked) and the app name (osp_valid_id, checked): no version or
 * other text from a command ever becomes part of a path.
 *
 * Threads: the handlers and the restore run on one thread (the session's);
 * agent_apps_report may run at the same time on another (the heartbeat's).
 * agent_apps.c and agent_apps_cmd.c implement this header; the fields
 * of struct agent_apps and the agent_apps_rec_* helpers are theirs only.
 */
#ifndef AGENT_APPS_H
#define AGENT_APPS_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent.h"
#include "agent_release.h"
#include "agent_runner.h"

#define AGENT_APPS_SLOT "main"
#define AGENT_APPS_STOP_GRACE_MS 10000
#define AGENT_APPS_REVERT_DEADLINE_MS 30000
#define AGENT_APPS_TAIL_LINES 5
#define AGENT_APPS_MAX_RECORDS 4096 /* records handled by restore, report, gc */
#define AGENT_APPS_HEALTH_MAX 256   /* apps whose last health result is kept */

/* A release as recorded (ReleaseRef), in fixed buffers. port is the port the
 * release was started on (after the host override). */
typedef struct agent_rel {
	bool set;
	char version[OSP_WIRE_MAX_VERSION + 1];
	char sha256[AGENT_RELEASE_SHA256_LEN + 1];
	char run[OSP_WIRE_MAX_RUN + 1];
	char url[OSP_WIRE_MAX_URL + 1];
	unsigned port;
} agent_rel;

#define AGENT_APPS_SLOT_LEN 8 /* "green" and the NUL, rounded up */

/* One slot of a blue-green app (SlotRecord; agent_bluegreen.c). rel.port is
 * the slot's effective port. */
typedef struct agent_slot_rec {
	agent_rel rel;
	bool running;           /* desired */
	uint64_t generation;    /* of the Stage that filled the slot */
	char health_path[OSP_WIRE_MAX_PATH + 1];
	uint32_t health_rise, health_timeout_ms;
} agent_slot_rec;

/* The desired state of one app (AgentAppRecord). current/previous/running
 * are the main slot's; blue, green and the switch fields are blue-green's. */
typedef struct agent_app_rec {
	char app[OSP_WIRE_MAX_ID + 1];
	agent_rel current, previous;
	bool running;
	uint64_t generation;
	char health_path[OSP_WIRE_MAX_PATH + 1];
	agent_slot_rec blue, green;
	char active_slot[AGENT_APPS_SLOT_LEN];               /* "", "blue", "green" */
	char prepared_switch_id[OSP_WIRE_MAX_ID + 1];        /* "": none */
	char prepared_to_slot[AGENT_APPS_SLOT_LEN];
	char committed_switch_id[OSP_WIRE_MAX_ID + 1];       /* the last one applied */
	char canary_slot[AGENT_APPS_SLOT_LEN];               /* "": no canary */
	unsigned canary_weight;                              /* 0..100 (percent) */
} agent_app_rec;

typedef enum agent_apps_health {
	AGENT_APPS_HEALTH_UNKNOWN = 0,
	AGENT_APPS_HEALTH_OK,
	AGENT_APPS_HEALTH_FAILED,
} agent_apps_health;

typedef struct agent_apps {
	const agent_cfg *cfg;
	agent_store *store;
	agent_runner *runner;
	char state[PATH_MAX];  /* absolute state dir */
	atomic_bool stopping; /* set when the agent stops (agent_dispatch_cancel): fetches
	                       * and the health waits of commands give up */
	pthread_mutex_t mtx;   /* guards health[] */
	struct {
		char app[OSP_WIRE_MAX_ID + 1];
		agent_apps_health h;
		uint64_t epoch; /* bumped by each agent_apps_health_set */
	} health[AGENT_APPS_HEALTH_MAX];
	size_t nhealth;
	/* strings of the result a handler is building (res->* point here):
	 * handlers run one at a time and each result is packed before the next */
	struct {
		char version[OSP_WIRE_MAX_VERSION + 1];
		char sha256[AGENT_RELEASE_SHA256_LEN + 1];
		char previous[OSP_WIRE_MAX_VERSION + 1];
	} res;
} agent_apps;

/* agent_apps_alloc makes the apps context over cfg and store (both stay the
 * caller's and must outlive it): creates the state dir if needed, the runner
 * (STATE/run, STATE/logs) and removes leftover temp downloads and unpacks.
 * Returns OSP_EINVAL (no state dir), OSP_ETOOBIG, OSP_EIO, OSP_ENOMEM. */
osp_err agent_apps_alloc(const agent_cfg *cfg, agent_store *store, agent_apps **out);

/* agent_apps_free frees the context; the apps keep running (their pidfiles
 * let the next agent adopt them). Accepts NULL. */
void agent_apps_free(agent_apps *p);

/* agent_apps_restore adopts the processes a previous agent left running, then
 * starts every app recorded as running that is not (from the release cache,
 * without a health wait), and stops an adopted app recorded as stopped.
 * Problems are logged; nothing is reported. */
void agent_apps_restore(agent_apps *p);

/* agent_apps_stage executes a Stage command (cmd->kind_case STAGE): fetch,
 * verify and unpack the release, run the app's pre_stage hook, record it,
 * replace the running process, health-check it and run the post_stage hook
 * (agent_hooks.h). Fills res (status, app, version, slot; message -> msg). */
void agent_apps_stage(agent_apps *p, const Ospec__V1__Command *cmd,
	Ospec__V1__CommandResult *res, char *msg, size_t msglen);

/* agent_apps_revert executes a Revert command: back to the recorded previous
 * release (from the cache), or stop the app when the command has no sha256. */
void agent_apps_revert(agent_apps *p, const Ospec__V1__Command *cmd,
	Ospec__V1__CommandResult *res, char *msg, size_t msglen);

/* agent_apps_stop executes a Stop command: record the app as stopped, stop
 * its process. */
void agent_apps_stop(agent_apps *p, const Ospec__V1__Command *cmd,
	Ospec__V1__CommandResult *res, char *msg, size_t msglen);

/* agent_apps_report fills *out with one AppState per recorded app (at most
 * OSP_WIRE_MAX_APPS). Each element is one heap block (free(element) frees its
 * strings too); the array is heap. Returns the count; 0 with *out NULL when
 * there is nothing or memory ran out. */
size_t agent_apps_report(agent_apps *p, Ospec__V1__AppState ***out);

/* -- helpers shared by agent_apps.c, agent_apps_cmd.c and the blue-green
 * handlers (agent_bluegreen.c) -- */

/* The result statuses the handlers answer with. */
#define AGENT_RES_OK OSPEC__V1__RESULT_STATUS__RESULT_OK
#define AGENT_RES_FAILED OSPEC__V1__RESULT_STATUS__RESULT_FAILED
#define AGENT_RES_REFUSED OSPEC__V1__RESULT_STATUS__RESULT_REFUSED
#define AGENT_RES_YES OSPEC__V1__RESULT_STATUS__RESULT_VOTE_YES
#define AGENT_RES_NO OSPEC__V1__RESULT_STATUS__RESULT_VOTE_NO

/* agent_apps_result finishes a command's result: res->status = status and
 * res->message = msg, which receives the printf-style message (cut to msglen,
 * never overflows). msg stays the caller's and must outlive res. */
void agent_apps_result(Ospec__V1__CommandResult *res, Ospec__V1__ResultStatus status,
	char *msg, size_t msglen, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* agent_apps_stage_fields checks a Stage's sha256 (64 lowercase hex digits),
 * version, artifact url and run command and copies them into *r (zeroed
 * first; port and set are left to the caller). Returns false with res final
 * (RESULT_REFUSED, the reason in msg) when one is missing, invalid or too long. */
bool agent_apps_stage_fields(const Ospec__V1__Stage *s, agent_rel *r,
	Ospec__V1__CommandResult *res, char *msg, size_t msglen);

/* agent_apps_stage_health fills *hs for a health check of a release on port
 * with a Stage's health settings (absent = 0 = agent_health_wait's defaults;
 * hs->path points into s). */
struct agent_health_spec;
void agent_apps_stage_health(const Ospec__V1__Stage *s, unsigned port,
	struct agent_health_spec *hs);

/* agent_apps_result_runs names in res what the app runs after the command
 * (rel; NULL or unset: nothing) and, when prev is given, the release it
 * would go back to; the strings are copied into p->res. */
void agent_apps_result_runs(agent_apps *p, Ospec__V1__CommandResult *res, const agent_rel *rel,
	const agent_rel *prev);

/* agent_apps_rel_same reports whether a is set and is the same release as b:
 * sha256, version, run command and effective port. */
bool agent_apps_rel_same(const agent_rel *a, const agent_rel *b);

/* agent_apps_rec_load reads app's record into *rec (*found = false and a
 * fresh record for app when there is none). OSP_EDECODE for a corrupt record,
 * store errors. */
osp_err agent_apps_rec_load(agent_apps *p, const char *app, agent_app_rec *rec, bool *found);

/* agent_apps_rec_save writes rec durably (OSP_ENOMEM, store errors). */
osp_err agent_apps_rec_save(agent_apps *p, const agent_app_rec *rec);

/* agent_apps_health_set remembers the last health result of app (of its
 * active slot for a blue-green app) and begins a new health epoch of app: a
 * monitor's check begun before can no longer publish (a handler's UNKNOWN
 * at its start and OK/FAILED after its own wait always win). */
void agent_apps_health_set(agent_apps *p, const char *app, agent_apps_health h);

/* agent_apps_health_get returns the last health result of app. */
agent_apps_health agent_apps_health_get(agent_apps *p, const char *app);

/* agent_apps_health_epoch returns app's health epoch (0 while nothing was
 * ever set for it) and, when h is not NULL, its health at that epoch. A
 * monitor reads it before it looks at the app's record and probes. */
uint64_t agent_apps_health_epoch(agent_apps *p, const char *app, agent_apps_health *h);

/* agent_apps_health_publish is a monitor's agent_apps_health_set: it writes
 * h only if app's epoch is still epoch (no handler set the health since
 * the monitor read it) and keeps the epoch. Returns whether h was written
 * (false too when the table is full). */
bool agent_apps_health_publish(agent_apps *p, const char *app, uint64_t epoch, agent_apps_health h);

/* App names collected from the store (v is heap, the caller frees it). */
typedef struct agent_apps_names {
	char (*v)[OSP_WIRE_MAX_ID + 1];
	size_t n, cap;
	bool oom;
} agent_apps_names;

/* agent_apps_names_get lists the recorded app names into *nm (free nm->v).
 * OSP_ETOOBIG past AGENT_APPS_MAX_RECORDS, OSP_ENOMEM, store errors. */
osp_err agent_apps_names_get(agent_apps *p, agent_apps_names *nm);

/* agent_apps_port is the port app runs on: the host override, else fallback
 * (0 if neither). */
unsigned agent_apps_port(const agent_apps *p, const char *app, unsigned fallback);

/* agent_apps_prepare is agent_release_prepare_opts into p's state dir with
 * the agent's fetch deadline (config fetch_timeout) and p->stopping:
 * fetch, verify and unpack the release of sha256 from url into dir. */
osp_err agent_apps_prepare(agent_apps *p, const char *url, const char *sha256, char *dir,
	size_t len, char *err, size_t errlen);

/* agent_apps_release_dir writes STATE/releases/<sha256> of rel into dir,
 * unpacking it again from the cache when the directory is gone. OSP_ENOENT
 * ("release V is no longer in the cache" in err), errors of
 * agent_release_unpack. */
osp_err agent_apps_release_dir(agent_apps *p, const agent_rel *rel, char *dir, size_t len,
	char *err, size_t errlen);

/* agent_apps_runs reports whether app's main slot runs exactly rel (its
 * release dir, run command and effective port), as the runner's pidfile
 * records it: after a crash between the write-ahead record and the restart,
 * a running process may still be the previous release. */
bool agent_apps_runs(agent_apps *p, const char *app, const agent_rel *rel);

/* agent_apps_runs_slot is agent_apps_runs for any slot. */
bool agent_apps_runs_slot(agent_apps *p, const char *app, const char *slot,
	const agent_rel *rel);

/* agent_apps_start starts rel (rel->port is the effective port) from dir in
 * app's main slot, as the host config's user with its env file. Errors of
 * agent_runner_start. */
osp_err agent_apps_start(agent_apps *p, const char *app, const agent_rel *rel, const char *dir,
	char *err, size_t errlen);

/* agent_apps_start_slot is agent_apps_start for any slot. */
osp_err agent_apps_start_slot(agent_apps *p, const char *app, const char *slot,
	const agent_rel *rel, const char *dir, char *err, size_t errlen);

/* agent_apps_check_slot waits until app's slot is healthy (hs: what to
 * check; hs->alive and hs->arg are set here); a process started by this
 * command (fresh) must not have been restarted meanwhile. On failure msg says
 * "<the failed check>; stderr: <last lines>" and the result is that of
 * agent_health_wait. Only the main slot's result goes to the health table. */
osp_err agent_apps_check_slot(agent_apps *p, const char *app, const char *slot, bool fresh,
	struct agent_health_spec *hs, char *msg, size_t msglen);

/* agent_apps_fail_reason writes "<err>; stderr: <last lines>" into msg:
 * why a check of app's slot failed, with the slot's stderr tail (the env
 * file's values redacted, control characters replaced). */
void agent_apps_fail_reason(agent_apps *p, const char *app, const char *slot, const char *err,
	char *msg, size_t msglen);

/* agent_apps_gc runs the release garbage collection, protecting the current
 * and previous release and the blue and green releases of every recorded
 * app; skipped (logged) if a record cannot be read. */
void agent_apps_gc(agent_apps *p);

#endif
