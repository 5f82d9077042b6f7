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

typedef struct ctl ctl;
struct ctl {
	const char *url;
	bool json;
	bool is_tty;
};

#define CTL_MAX_ARGS 64

/* One control request being built. */
typedef struct ctl_req {
	const char *verb;
	size_t nargs;
	const char *keys[CTL_MAX_ARGS];
	const char *vals[CTL_MAX_ARGS];
	bool mutates;             /* gets a request id */
} ctl_req;

/* ctl_req_arg adds key=value (both borrowed). */
void ctl_req_arg(ctl_req *rq, const char *key, const char *val);

/*
 * ctl_call sends rq to the coordinator and waits for the reply. Returns the
 * exit code: the reply's status, or CTL_EXIT_UNREACHABLE (after printing one
 * line naming the address). On success *json is the reply document (heap,
 * the caller frees). On a non-zero status the reply's error is printed.
 * quiet_errors: do not print the coordinator's error (the caller will).
 */
int ctl_call(const ctl *c, const ctl_req *rq, char **json, char *errbuf, size_t errlen);

/* ctl_print_error prints "ospecctl: msg" to stderr. */
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

void ctl_table_init(ctl_table *t, size_t ncols);
void ctl_table_row(ctl_table *t, const char *const *cells);
void ctl_table_print(const ctl_table *t);
void ctl_table_fini(ctl_table *t);

/* ctl_parse_json parses a reply document; prints an error and returns NULL on failure. */
osp_json *ctl_parse_json(const char *text);

/* rollout verbs are added by ctl_rollouts.c */
#ifndef CTL_ROLLOUT_VERBS
#define CTL_ROLLOUT_VERBS
#endif

#endif
