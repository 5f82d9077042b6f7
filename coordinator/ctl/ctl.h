/*
 * ctl.h - ospecctl internals: the control client, the verb table and output
 * helpers. Exit codes (CLI.md): 0 ok, 1 failed, 2 usage, 3 coordinator
 * unreachable, 4 not found, 5 wait timed out.
 */
#ifndef CTL_H
#define CTL_H

#include <stdbool.h>
#include <stddef.h>

#include "ospec/json.h"
#include "ospec/util.h"

enum {
	CTL_EXIT_OK = 0,
	CTL_EXIT_FAILED = 1,
	CTL_EXIT_USAGE = 2,
	CTL_EXIT_UNREACHABLE = 3,
	CTL_EXIT_NOT_FOUND = 4,
	CTL_EXIT_TIMEOUT = 5,
};

#define CTL_URLS_MAX 8  /* addresses in --coordinator */
#define CTL_URL_MAX 512 /* bytes of one, its NUL included */

typedef struct ctl ctl;
struct ctl {
	const char *url; /* --coordinator as given: URL[,URL...] */
	char urls[CTL_URLS_MAX][CTL_URL_MAX]; /* ... its addresses (ctl_urls_parse) */
	size_t nurls;
	bool json;
	bool is_tty;
	/* tls+tcp:// control (--cert/--key/--ca or OSPEC_CERT/OSPEC_KEY/OSPEC_CA) */
	const char *cert, *key, *ca;
};

#define CTL_MAX_ARGS 64

/* One control request being built. */
typedef struct ctl_req {
	const char *verb;
	size_t nargs;
	const char *keys[CTL_MAX_ARGS];
	const char *vals[CTL_MAX_ARGS];
	bool mutates;             /* gets a request id */
	int64_t timeout_ms;       /* how long to wait for the answer; 0: 30 s */
} ctl_req;

/* ctl_req_arg adds key=value (both borrowed). */
void ctl_req_arg(ctl_req *rq, const char *key, const char *val);

/* ctl_urls_parse splits c->url (URL[,URL...]; blanks around a URL are
 * dropped, and a URL listed twice) into c->urls; false after printing why
 * (a usage error: no URL, more than CTL_URLS_MAX, one too long). */
bool ctl_urls_parse(ctl *c);

/* ctl_urls_local reports whether every address of c is ipc:// (this
 * machine). */
bool ctl_urls_local(const ctl *c);

/*
 * ctl_call sends rq to the coordinator and waits for the reply. It asks the
 * addresses of c->urls in order: one it cannot reach, or a standby (whose
 * reply says so), hands over to the next, and a standby's leader is asked
 * right after it, each address at most once. A request sent that got no
 * answer is never sent elsewhere (it may have been applied). Returns the
 * exit code: the leader's reply's status, or CTL_EXIT_UNREACHABLE (after
 * printing one line naming every address tried and why). On success *json
 * is the reply document (heap, the caller frees). On a non-zero status the
 * reply's error goes into errbuf (errlen bytes) when errbuf is not NULL (the
 * caller prints it), else it is printed.
 */
int ctl_call(const ctl *c, const ctl_req *rq, char **json, char *errbuf, size_t errlen);

/* ctl_errorf prints "ospecctl: msg" as one line to stderr (control characters
 * escaped: osp_str_show). */
void ctl_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A verb: argv[0] is the verb name. */
typedef struct ctl_verb {
	const char *name;
	const char *usage;        /* "NODE", "[--select K=V,...]", ... */
	const char *help;         /* one line */
	const char *details;      /* more lines for --help, or NULL */
	int (*run)(const ctl *c, int argc, char **argv);
} ctl_verb;

/* ctl_verb_help prints the verb's help if argv asks for it; true if it did. */
bool ctl_verb_help(const ctl_verb *v, int argc, char **argv);

/* ctl_certs runs "certs init|issue" (ctl_certs.c): local, no coordinator needed;
 * returns the exit code (2 usage, 1 failed, e.g. a file exists already). */
int ctl_certs(const ctl *c, int argc, char **argv);

#define CTL_CERTS_HELP                                                                        \
	"  certs init --dir DIR [--name CN] [--days N] [--force]\n"                            \
	"      a CA: DIR/ca.pem and DIR/ca.key (ECDSA P-256, 10 years, key mode 0600)\n"       \
	"  certs issue --dir DIR (--node ID | --coordinator NAME [--ip ADDR] |\n"              \
	"                         --admin NAME | --viewer NAME) [--days N] [--force]\n"        \
	"      DIR/NAME.pem and DIR/NAME.key signed by the CA:\n"                              \
	"      --node ID            an agent: CN=ID, SAN DNS:ID, clientAuth\n"                 \
	"      --coordinator NAME   the coordinator as agents dial it: CN=NAME, SAN DNS:NAME\n" \
	"                           (+ IP:NAME for an address, + IP:ADDR with --ip), serverAuth\n" \
	"      --admin NAME         an operator who may change rollouts (OU=admin), clientAuth\n" \
	"      --viewer NAME        an operator who may only read (OU=viewer), clientAuth\n"   \
	"  existing files are kept unless --force\n"

/* ctl_backup.c: `backup FILE` (a hot copy of the coordinator's store). */
int ctl_backup(const ctl *c, int argc, char **argv);

#define CTL_BACKUP_HELP                                                                       \
	"  FILE is a path on the coordinator's machine, written by the coordinator (mode\n"   \
	"  0600); it must not exist. A relative FILE is taken from the current directory\n"  \
	"  with an ipc:// control socket (same machine) and refused over tls+tcp://.\n"      \
	"  The copy is consistent and compacted (LMDB mdb_env_copyfd2), made while the\n"    \
	"  coordinator goes on; restore it with 'ospec-coordinator --restore FILE'.\n"      \
	"  --timeout D  how long to wait for the copy (default 10m). Admin role only.\n"    \
	"  docs/backup.md\n"

/* ctl_logs.c: `logs NODE APP [--follow] [--lines N] [--slot S]` (protocol 1.4). */
int ctl_logs(const ctl *c, int argc, char **argv);

#define CTL_LOGS_HELP                                                                         \
	"  the app's captured output on NODE, read by its agent (STATE/logs/APP.SLOT.out\n"   \
	"  and .err, rotated .1 files included) and handed over by the coordinator:\n"       \
	"  the app's stdout on stdout, its stderr on stderr (--json: the answer document)\n"  \
	"  --lines N, -n N  the last N lines of each (1..1000, default 100; at most 16 KiB\n" \
	"                   of each per answer)\n"                                             \
	"  --follow, -f     then print what the app writes, asking every 500ms, until\n"     \
	"                   interrupted; a rotated or truncated file is read from its start\n" \
	"                   again (said on stderr)\n"                                          \
	"  --slot S         main, blue or green (default: the app's active slot)\n"           \
	"  env_file values are redacted. Roles admin and viewer. A node that is down, or\n"  \
	"  whose agent is older than protocol 1.4, is an error (exit 1); an unknown node\n" \
	"  or app exit 4; a node that does not answer within 10 s exit 1.\n"

/* ctl_nodes.c */
int ctl_nodes(const ctl *c, int argc, char **argv);
int ctl_cordon(const ctl *c, int argc, char **argv);
int ctl_uncordon(const ctl *c, int argc, char **argv);
int ctl_forget(const ctl *c, int argc, char **argv);
int ctl_stats(const ctl *c, int argc, char **argv);

/* ctl_table.c: a simple aligned text table. */
typedef struct ctl_table {
	size_t ncols, nrows;
	char **cells;             /* nrows * ncols, heap */
	size_t cap;
} ctl_table;

/* ctl_one_line copies the first line of text (NULL: "") into buf of len,
 * ending in "..." when more lines follow or it was cut: a cell of a table
 * is one line; --json has the whole text. */
void ctl_one_line(const char *text, char *buf, size_t len);

void ctl_table_init(ctl_table *t, size_t ncols);
void ctl_table_row(ctl_table *t, const char *const *cells);
void ctl_table_print(const ctl_table *t);
void ctl_table_fini(ctl_table *t);

/* ctl_parse_json parses a reply document; prints an error and returns NULL on failure. */
osp_json *ctl_parse_json(const char *text);

/* ctl_rollouts.c (watch: ctl_watch.c) */
int ctl_deploy(const ctl *c, int argc, char **argv);
int ctl_status(const ctl *c, int argc, char **argv);
int ctl_watch(const ctl *c, int argc, char **argv);
int ctl_rollouts(const ctl *c, int argc, char **argv);
int ctl_history(const ctl *c, int argc, char **argv);
int ctl_pause(const ctl *c, int argc, char **argv);
int ctl_resume(const ctl *c, int argc, char **argv);
int ctl_abort(const ctl *c, int argc, char **argv);
int ctl_rollback(const ctl *c, int argc, char **argv);

/* Helpers of the rollout verbs, shared with ctl_plans.c. */
extern const char *const ctl_deploy_flags[]; /* deploy's --NAME VALUE flags, NULL-ended */
/* The --wait of deploy, apply and rollback: none, until terminal, until switched. */
enum { CTL_WAIT_NONE = 0, CTL_WAIT_END, CTL_WAIT_SWITCH };
/* ctl_wait_flag parses --wait / --wait=end / --wait=switch at arg; returns 1
 * if it was one (*mode set), 0 if not, -1 for a bad value. */
int ctl_wait_flag(const char *arg, int *mode);
/* ctl_flag matches "--name VALUE" or "--name=VALUE" at argv[*i]. */
const char *ctl_flag(int argc, char **argv, int *i, const char *name);
/* ctl_timeout_flag parses --timeout D of verb; prints why and returns false
 * for a bad or too long one. */
bool ctl_timeout_flag(const char *verb, const char *v, int64_t *ms);
/* ctl_started prints a new rollout's id first on stdout, then follows it
 * with --wait; returns the exit code. */
int ctl_started(const ctl *c, const osp_json *j, int wait, int64_t timeout);
/* ctl_wait_until follows rollout (or plan) id until it ends (or switched). */
int ctl_wait_until(const ctl *c, const char *id, int64_t timeout_ms, bool until_switch);

/* ctl_canary_line writes a canary rollout's weight, step, failed analyses,
 * next analysis time and last analysis numbers (from status JSON r) into
 * buf; false (buf untouched) when r has no canary. */
bool ctl_canary_line(const osp_json *r, char *buf, size_t len);

/* ctl_is_terminal: state is succeeded, failed, aborted or rolled_back. */
bool ctl_is_terminal(const char *state);
/* ctl_status_doc fetches the status of rollout (or plan) id; *code is the
 * exit code, err (may be NULL) the coordinator's error. */
osp_json *ctl_status_doc(const ctl *c, const char *id, int *code, char *err, size_t errlen);

/* ctl_plans.c: OSpec plans */
int ctl_plan(const ctl *c, int argc, char **argv);
int ctl_apply(const ctl *c, int argc, char **argv);
int ctl_approve(const ctl *c, int argc, char **argv);
/* ctl_print_plan prints a plan's status (status of a plan id). */
void ctl_print_plan(const osp_json *p);

/* ctl_checks.c: deploy's repeatable flags, each joined into one request
 * argument: --require-env NAME[,NAME...] ("require-env", names separated by
 * ','), --smoke "METHOD PATH STATUS" ("smoke", entries separated by ';') and
 * --webhook URL ("webhook", URLs separated by ' '). Zero it before use. */
typedef struct ctl_checks {
	char env[16384];
	char smoke[8192];
	char webhook[8 * 2049 + 8]; /* --webhook URL (repeatable): "webhook", URLs separated by ' ' */
} ctl_checks;
/* ctl_checks_flag takes --require-env, --smoke or --webhook at argv[*i]
 * (with its value; *i moves past it) into ck: 1 if it was one, 0 if not, -1
 * after printing why it is wrong (usage). */
int ctl_checks_flag(ctl_checks *ck, const char *verb, int argc, char **argv, int *i);
/* ctl_checks_args adds ck's joined flags to rq (borrowed from ck). */
void ctl_checks_args(const ctl_checks *ck, ctl_req *rq);

#define CTL_DEPLOY_HELP                                                                      \
	"  --app APP --version V --artifact URL --sha256 HEX --run CMD (--port N | --ports "  \
	"blue=N,green=M)\n"                                                                    \
	"  --strategy rolling|recreate|blue_green|canary   (default rolling)\n"              \
	"  --ports blue=N,green=M        blue_green, canary: the two slots' ports\n"            \
	"  --watch D                     post-deploy watch (2m; blue_green: 5m, its rollback\n" \
	"                                window: --rollback-window is its older name)\n"     \
	"  --no-auto-rollback            an unhealthy node in the watch fails, no rollback\n" \
	"  --prepare-deadline D --scale-down-delay D  blue_green (30s 10m)\n"                 \
	"  --select K=V,...              nodes with these labels (default: all)\n"            \
	"  --batch N|N%                  nodes at a time (default 1)\n"                        \
	"  --max-failures N|N%           failure budget (default 0)\n"                         \
	"  --health-path P --health-interval D --health-rise N --health-fall N\n"             \
	"  --health-timeout D --health-deadline D   (defaults /health 500ms 2 3 2s 60s)\n"    \
	"  --progress-deadline D         a node silent this long is unreachable (10m)\n"       \
	"  --require-env NAME[,NAME...]  env names every node's env_file must define for the\n" \
	"                                app (checked before anything is sent; repeatable)\n"  \
	"  --smoke \"METHOD PATH STATUS\"  checked once on each new release after its health\n" \
	"                                check, e.g. \"GET /api/ping 200\" (repeatable, <= 16)\n" \
	"  --canary N|N% [--canary-bake D] [--canary-approval]\n"                               \
	"                                rolling: N nodes first (baked D, default --watch),\n"  \
	"                                then the rest (after approve with --canary-approval)\n" \
	"  --canary-initial P --canary-step P --canary-max P --analysis-interval D\n"        \
	"  --analysis-threshold N --analysis-success-rate P --analysis-max-latency D\n"      \
	"  --analysis-min-requests N     --strategy canary: traffic weights and analysis\n"   \
	"  --webhook URL                 rollout events POSTed there too (repeatable)\n"      \
	"  --queue                       wait behind the app's running rollout\n"              \
	"  --dry-run                     print the batches, change nothing\n"                  \
	"  --wait [--timeout D]          block until terminal: exit 0 only if succeeded\n"     \
	"  --wait=switch                 blue_green: return once traffic is switched\n"       \
	"  prints the rollout id as the first line on stdout\n"

#define CTL_PLAN_VERBS                                                                       \
	{ "plan", "-f FILE [--env ENV] --version V [deploy flags]",                           \
		"what apply would run: stages, nodes, batches, gates (changes nothing)",          \
		"  reads the OSpec document here; asks the coordinator for the inventory.\n"      \
		"  deploy flags given here win over the document (see docs/ospec.md)\n",         \
		ctl_plan },                                                                      \
	{ "apply", "-f FILE [--env ENV] --version V [--artifact URL] --sha256 HEX [--wait]",   \
		"run an OSpec document's plan: its stages in order, with their gates",           \
		"  --wait [--timeout D]  block until the plan ends: exit 0 only if succeeded\n"   \
		"  prints the plan's id as the first line on stdout; deploy flags win over\n"    \
		"  the document (docs/ospec.md)\n",                                              \
		ctl_apply },                                                                     \
	{ "approve", "ROLLOUT [--stage S]", "pass the approval gate a plan waits at", NULL,    \
		ctl_approve },

#define CTL_ROLLOUT_VERBS                                                                    \
	{ "deploy", "--app APP --version V --artifact URL --sha256 HEX --run CMD --port N ...", \
		"roll a release out (ad hoc, without a spec file)", CTL_DEPLOY_HELP, ctl_deploy }, \
	{ "rollouts", "[--app APP]", "list rollouts, newest first", NULL, ctl_rollouts },     \
	{ "status", "ROLLOUT", "a rollout's state and every node's step", NULL, ctl_status }, \
	{ "watch", "ROLLOUT", "follow a rollout until it ends", NULL, ctl_watch },            \
	{ "history", "[--app APP] [--rollout R] [--limit N] [--before SEQ]",                 \
		"events, oldest first",                                                          \
		"  --limit N     the latest N events (default 1000, at most 100000)\n"            \
		"  --before SEQ  only events older than SEQ: the next page when an answer says\n" \
		"                \"truncated\": true, \"next\": SEQ (it holds at most 8 MiB)\n",   \
		ctl_history },                                                                   \
	{ "pause", "ROLLOUT", "start no new batch (in-flight nodes finish)", NULL, ctl_pause }, \
	{ "resume", "ROLLOUT", "continue a paused rollout", NULL, ctl_resume },               \
	{ "abort", "ROLLOUT", "stop: in-flight nodes finish or revert; ends aborted", NULL,   \
		ctl_abort },                                                                     \
	{ "rollback", "ROLLOUT [--wait] [--timeout D]",                                       \
		"new rollout back to the release before ROLLOUT (its app's latest succeeded)",   \
		"  instant for blue-green while the old slot still runs that release (a switch\n" \
		"  back); restaged otherwise. Prints the new rollout's id first.\n",            \
		ctl_rollback },

/* ctl_validate.c: OSpec documents (docs/ospec.md), offline: no coordinator */
int ctl_validate(const ctl *c, int argc, char **argv);

#define CTL_VALIDATE_HELP                                                                     \
	"  -f FILE       an OSpec document (repeat -f for more); read locally, never sent\n"   \
	"  --env ENV     apply environments.ENV and the approval tags of ENV\n"                \
	"  prints one 'file:line:col: key.path: error|warning: message' line per finding,\n"   \
	"  then 'N files: I invalid, W warnings, E errors'. Exit 0 valid (warnings\n"         \
	"  allowed), 1 an error in any file, 2 usage. --json: one JSON document.\n"

/* Verbs about OSpec documents that work offline (docs/ospec.md). */
#define CTL_OSPEC_VERBS                                                                       \
	{ "validate", "-f FILE [-f FILE...] [--env ENV]",                                      \
		"check OSpec documents locally (no coordinator)", CTL_VALIDATE_HELP, ctl_validate },

#endif
