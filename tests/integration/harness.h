/*
 * harness.h - integration test helpers: temp dirs, free loopback ports, real
 * processes (coordinator, agents, ospecctl) started and always stopped, and
 * polling with deadlines (never fixed sleeps for correctness).
 *
 * Every process a test starts is recorded; h_teardown kills them all with
 * SIGKILL, then every process whose command line mentions the test's temp dir
 * (apps started by agents), and removes the temp dir. Children also get
 * PR_SET_PDEATHSIG so a crashed test leaves nothing behind.
 */
#ifndef HARNESS_H
#define HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "ospec/json.h"

#define H_MAX_PROCS 64

typedef struct h_proc {
	pid_t pid;
	char name[64];
	char log[512];
} h_proc;

typedef struct h_env {
	char dir[256];           /* the test's temp dir */
	char ctl_url[320];       /* ipc:// control socket */
	char agents_url[200];    /* tcp://127.0.0.1:PORT (a list for it_ha: URL,URL) */
	char http[64];           /* 127.0.0.1:PORT */
	int agents_port;
	h_proc procs[H_MAX_PROCS];
	size_t nprocs;
	h_proc *coord;
	/* programs of another build (the upgrade tests' previous release); NULL:
	 * this build's (h_bin) */
	const char *coord_bin, *ctl_bin, *agent_bin;
} h_env;

/* h_setup makes the temp dir and picks ports; returns the env (heap). */
h_env *h_setup(const char *name);

/* h_teardown stops everything and frees env. */
void h_teardown(h_env *e);

/* h_bin returns the path of a built program ("ospec-agent", "hello", ...):
 * the same pointer for the same name, valid and unchanged for the whole
 * process (at most H_BIN_MAX different names). Thread-safe. */
#define H_BIN_MAX 16
const char *h_bin(const char *name);

/* h_prog is e's program name: its override (coord_bin, ctl_bin, agent_bin) or
 * this build's. */
const char *h_prog(const h_env *e, const char *name);

/* h_free_port returns a free TCP port on 127.0.0.1. */
int h_free_port(void);

/* h_count_procs counts processes whose command line, working directory or
 * executable mentions the path "E->dir/under" (under: e.g.
 * "agent-n1/releases/SHA"); returns -1 if that path is too long. Only e's
 * own processes: `ctest -j` runs tests side by side, with the same node ids
 * ("agent-eu-1/" is in two tests), so a bare needle matches another test's. */
int h_count_procs(h_env *e, const char *under);

/* h_kill_procs kills (SIGKILL) the processes h_count_procs(e, under) counts;
 * returns how many, or -1 if the path is too long (then nothing is killed). */
int h_kill_procs(h_env *e, const char *under);

/* h_spawn starts argv (NULL-terminated) with output to DIR/<name>.log. */
h_proc *h_spawn(h_env *e, const char *name, char *const argv[]);

/* h_coord_start starts the coordinator on e's ports and data dir with extra
 * args (NULL-terminated list, may be NULL); waits until /readyz says ready. */
h_proc *h_coord_start(h_env *e, const char *heartbeat, char *const extra[]);

/* h_agent_start starts agent ID with its own state dir DIR/agent-ID and the
 * labels "k=v,k=v" (may be NULL); extra args may be NULL. */
h_proc *h_agent_start(h_env *e, const char *id, const char *labels, char *const extra[]);

/* h_kill sends sig and, for SIGKILL/SIGTERM, reaps the process. Returns its
 * exit status (as from waitpid) or -1. */
int h_kill(h_env *e, h_proc *p, int sig);

/* h_wait_exit waits up to ms for p to exit; returns the wait status or -1. */
int h_wait_exit(h_proc *p, int ms);

/* h_run runs a program to completion with a timeout; stdout into *out (heap,
 * may be NULL), stderr into *err (heap, may be NULL). Returns the exit code,
 * or -1 if it did not finish in time. */
int h_run(char *const argv[], int timeout_ms, char **out, char **err);

/* h_ctl runs "ospecctl --coordinator URL ARGS..." (NULL-terminated). */
int h_ctl(h_env *e, char **out, char **err, ...);

/* h_ctl_json runs ospecctl --json ARGS and parses stdout; NULL on failure. */
osp_json *h_ctl_json(h_env *e, int *code, ...);

/* h_node returns the node object with id from a nodes list, or NULL. */
const osp_json *h_node(const osp_json *nodes, const char *id);

/* h_nodes_up counts nodes that are "up" (calls ospecctl). -1 on failure. */
int h_nodes_up(h_env *e);

/* h_wait_for polls fn(arg) every 100 ms until it returns true or ms passed. */
bool h_wait_for(bool (*fn)(h_env *e, void *arg), h_env *e, void *arg, int ms);

/* h_file_contains reports whether the file at path contains needle. */
bool h_file_contains(const char *path, const char *needle);

/* h_http_get fetches http://127.0.0.1:port/path; returns the status, body in
 * *body (heap, may be NULL), -1 on connection failure. */
int h_http_get(int port, const char *path, char **body);

/* h_slow_factor scales timeouts (env OSPEC_TEST_SLOW, default 1). */
int h_ms(int ms);

/* -- harness_fixture.c: what the tests' cmocka fixtures share -- */

/* h_fixture_setup is a cmocka setup's body: allocates a zeroed fixture of
 * size bytes whose first member is an h_env *, sets it to h_setup(name) and
 * puts the fixture into *state. Returns 0, or -1 with nothing left. */
int h_fixture_setup(void **state, size_t size, const char *name);

/* h_fixture_teardown is the cmocka teardown of such a fixture: h_teardown of
 * its env, then the fixture freed. Returns 0. */
int h_fixture_teardown(void **state);

/* h_env_fixture_setup is a cmocka setup's body for a test whose state is
 * the env itself: *state = h_setup(name). Returns 0 or -1. */
int h_env_fixture_setup(void **state, const char *name);

/* h_env_fixture_teardown is its cmocka teardown (h_teardown). Returns 0. */
int h_env_fixture_teardown(void **state);

/* h_wait_nodes_up waits up to ms until exactly want nodes are up. */
bool h_wait_nodes_up(h_env *e, int want, int ms);

/* An artifact of the sample app: its version, URL and sha256. */
typedef struct h_art {
	char v[32];
	char url[600];
	char sha[65];
} h_art;

/* h_art_make packs version v into *a with one marker file ("NAME=CONTENT",
 * or NULL: none); fails the test when it cannot. */
void h_art_make(h_env *e, h_art *a, const char *v, const char *marker);

/* h_slot_ports picks a blue-green node's three ports (its proxy's front,
 * blue, green), all different. */
void h_slot_ports(int *front, int *blue, int *green);

/* h_deploy_bg deploys version v (url, sha) blue-green on ports blue and
 * green, every node at once, no verify window, and waits for its end; the
 * rollout id goes to id. Returns ospecctl's exit code (its stderr printed
 * when not 0). */
int h_deploy_bg(h_env *e, int v, const char *url, const char *sha, int blue, int green, char *id);

/* h_expect_end waits up to ms for rollout id to end and fails the test
 * unless it ended in state want (saying the rollout's reason). */
void h_expect_end(h_env *e, const char *id, const char *want, int ms);

/* h_expect_exit fails the test unless code is want, showing *err (an
 * ospecctl's stderr: a pointer, read after the command ran); frees *err and
 * sets it to NULL. */
void h_expect_exit(int code, int want, const char *what, char **err);

/* Fleet helpers for deploy tests. */

/* h_agent_start_app starts agent id with labels and a config file giving
 * app its own port (apps.APP.port); returns the process. */
h_proc *h_agent_start_app(h_env *e, const char *id, const char *labels, const char *app,
	int port);

/* h_agent_start_env is h_agent_start_app with apps.APP.env_file: env_file
 * (NULL: none). */
h_proc *h_agent_start_env(h_env *e, const char *id, const char *labels, const char *app,
	int port, const char *env_file);

/* h_tree_find reports whether a regular file under dir (not under skip, a
 * path prefix, may be NULL) holds needle, or cannot be read to tell; the
 * first one's path goes to found (len bytes, "" when none). */
bool h_tree_find(const char *dir, const char *needle, const char *skip, char *found, size_t len);

/* h_artifact packs the sample app as version v (with marker files "NAME=CONTENT",
 * NULL-terminated, may be NULL) into DIR/art/hello-v.tar.gz; url and sha256
 * are written into the caller's buffers (url >= 600, sha >= 65 bytes). */
bool h_artifact(h_env *e, const char *v, const char *const markers[], char *url, char *sha);

/* h_deploy runs "ospecctl deploy --app hello --version v ..." with extra
 * flags (NULL-terminated) and returns the exit code; the rollout id (first
 * stdout line) is copied into id (>= 64 bytes). Without --watch (or
 * --rollback-window) among the flags it adds "--watch 0": only the tests of
 * the post-deploy watch wait for one. */
int h_deploy(h_env *e, const char *v, const char *url, const char *sha, char *id,
	char **err, ...);

/* h_app_answer returns the body of GET / on 127.0.0.1:port ("" if none). */
void h_app_answer(int port, char *buf, size_t len);

/* h_answers_are (for h_wait_for; arg an h_answers): every one of the n
 * ports answers version (the apps' or their proxies' front ports). */
typedef struct h_answers {
	const int *ports;
	size_t n;
	const char *version;
} h_answers;
bool h_answers_are(h_env *e, void *arg);

/* h_status returns the status document of a rollout (NULL on failure). */
osp_json *h_status(h_env *e, const char *id);

/* h_proc_named finds the latest process started under name. */
h_proc *h_proc_named(h_env *e, const char *name);

/* haproxy for blue-green tests: a frontend on front_port balancing backend
 * "hello" over hello_blue (blue_port) and hello_green (green_port, starting
 * disabled), admin socket DIR/<name>.sock. */
h_proc *h_haproxy_start(h_env *e, const char *name, int front_port, int blue_port,
	int green_port);

/* h_agent_start_bg starts agent id with the app's blue/green ports and a
 * haproxy proxy block on socket DIR/<haproxy name>.sock. */
h_proc *h_agent_start_bg(h_env *e, const char *id, const char *labels, int blue_port,
	int green_port, const char *haproxy_name, const char *extra_cfg);

/* h_agent_start_proxy starts agent id with the app's blue/green ports and
 * a proxy block whose members are the YAML text proxy (each line indented
 * six spaces, as "      driver: exec\n"). */
h_proc *h_agent_start_proxy(h_env *e, const char *id, const char *labels, int blue_port,
	int green_port, const char *proxy);

/* h_nginx_start starts a real nginx (master and workers under the test's dir,
 * -g "daemon off;") with prefix DIR/<name>, config DIR/<name>/nginx.conf, pid
 * file, error log (level notice) and temp paths under it, and a frontend on
 * front_port proxying (keep-alive) to `upstream hello { include
 * DIR/<name>/hello.upstream; }`, written first naming blue (blue_port). Waits
 * until the frontend accepts connections; NULL on failure. Requests are logged
 * to DIR/<name>/access.log in the `ospec` format of docs/drivers.md (the
 * canary's counters). */
h_proc *h_nginx_start(h_env *e, const char *name, int front_port, int blue_port);

/* haproxy for rolling-drain tests (it_drain.c): a frontend on front_port,
 * backend "hello" with server "local" (local_port) and the nbackup ports as
 * `backup` servers peer1.. (used while local is drained), admin socket
 * DIR/<name>.sock. `retries 0`: a request sent to a stopped app fails
 * instead of being retried a second later. */
h_proc *h_haproxy_start_rolling(h_env *e, const char *name, int front_port, int local_port,
	const int *backup_ports, size_t nbackup);

/* h_agent_start_drain starts agent id with apps.hello.port and, when
 * haproxy_name is not NULL, a proxy block {socket DIR/<name>.sock, backend
 * hello, server local} for rolling drain. */
h_proc *h_agent_start_drain(h_env *e, const char *id, const char *labels, int port,
	const char *haproxy_name);

/* A bounded load generator over several ports (keep-alive and new
 * connections), in a thread. */
typedef struct h_load h_load;
h_load *h_load_start(const int *ports, size_t nports, int max_seconds);
/* h_load_stop stops it and reports requests, failures and whether each of
 * the versions "1".."9" was seen (seen[v]). */
void h_load_stop(h_load *l, long *requests, long *failures, bool seen[10]);
/* h_load_wait_seen waits up to ms until the load was answered version v
 * (0..9) at least once; a positive sign the load runs, used instead of a
 * pause before and after what it must not disturb. */
bool h_load_wait_seen(h_load *l, int v, int ms);
/* h_load_wait_more waits up to ms until n more requests were sent from now
 * on (whatever their answer). */
bool h_load_wait_more(h_load *l, long n, int ms);

/* Trust helpers (it_trust.c): certificates, TLS configs, remote ospecctl. */

/* h_certs runs "ospecctl certs SUB --dir DIR/dir ARGS..." (NULL-terminated);
 * returns the exit code. */
int h_certs(h_env *e, const char *sub, const char *dir, ...);

/* h_tls_yaml writes DIR/file: a tls block with DIR/ca_dir/ca.pem and
 * DIR/cert_dir/name.{pem,key}, then extra (YAML text, may be NULL); the
 * file's path goes to path (len bytes). */
bool h_tls_yaml(h_env *e, const char *file, const char *ca_dir, const char *cert_dir,
	const char *name, const char *extra, char *path, size_t len);

/* h_use_tls switches e->agents_url to tls+tcp://127.0.0.1:PORT. */
void h_use_tls(h_env *e);

/* h_ctl_as runs "ospecctl --coordinator url [--cert/--key/--ca from DIR/pki
 * for name] ARGS..." (NULL-terminated; name NULL: no certificate). */
int h_ctl_as(h_env *e, const char *url, const char *name, char **out, char **err, ...);

/* h_wait_log waits up to ms for the file at path to contain needle. */
bool h_wait_log(const char *path, const char *needle, int ms);

/* Rollout-safety helpers (it_rolling_safety.c, it_bluegreen_safety.c). */

/* h_str returns the string member key of o, or "" when o is NULL or the
 * member is absent or not a string (never NULL: safe for strcmp and %s). */
const char *h_str(const osp_json *o, const char *key);

/* h_step returns the nodes[] entry of node in a status document, or NULL. */
const osp_json *h_step(const osp_json *status, const char *node);

/* h_node_app returns the apps[] entry of app in a node object of
 * "nodes --json", or NULL. */
const osp_json *h_node_app(const osp_json *node, const char *app);

/* h_wait_terminal polls the status of rollout id until its state is
 * terminal (succeeded, failed, aborted, rolled_back) or ms passed. The last
 * state seen goes to state (len bytes; "?" when status never answered).
 * Returns whether the rollout ended in time. */
bool h_wait_terminal(h_env *e, const char *id, int ms, char *state, size_t len);

/* h_node_steady checks that node id stays registered as instance uuid while
 * another agent claiming it is refused, on positive signals rather than a
 * pause: it waits until "ospecctl stats" counted at least refused_min refused
 * registers (the coordinator had the retries to act on), then until the
 * node's last_seen moved beats times (heartbeats taken after them), the node
 * up with instance uuid all along; then the history must hold exactly one
 * node.registered and one node.up event for it and no node.down (never
 * bounced). On failure says why (len bytes) and returns false. */
bool h_node_steady(h_env *e, const char *id, const char *uuid, int64_t refused_min, int beats,
	char *why, size_t len);

/* h_wait_beats waits up to ms until each of the n nodes ids was seen by the
 * coordinator beats more times from now on (its last_seen moved: a
 * heartbeat, a poll): a positive sign the coordinator had the time and the
 * traffic to act, where a test asserts that something did not happen. */
bool h_wait_beats(h_env *e, const char *const ids[], size_t n, int beats, int ms);

#endif
