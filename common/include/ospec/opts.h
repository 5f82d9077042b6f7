/*
 * opts.h - one table describes a daemon's settings: every flag is also a key
 * of its YAML config file (-c FILE) with the dashes turned into underscores
 * ("--log-level" is "log_level:"); a flag wins over the file. Unknown flags or
 * keys are a usage error.
 */
#ifndef OSPEC_OPTS_H
#define OSPEC_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ospec/cfg.h"
#include "ospec/err.h"

typedef enum osp_opt_type {
	OSP_OPT_STR = 0,  /* char * (heap, owned by the target) */
	OSP_OPT_DURATION, /* int64_t milliseconds in [min, max] (default 0..OSP_OPTS_MS_MAX) */
	OSP_OPT_SIZE,     /* uint64_t bytes in [min, max] (default: any) */
	OSP_OPT_UINT,     /* uint64_t in [min, max] */
	OSP_OPT_BOOL,     /* bool; a flag without value sets true */
	OSP_OPT_LABELS,   /* osp_labels; flag repeatable K=V, config a map */
	OSP_OPT_CUSTOM,   /* config only: custom() reads the node */
} osp_opt_type;

/* The longest duration a DURATION option takes when its table gives no range:
 * what a 32-bit millisecond field (the wire's) holds. */
#define OSP_OPTS_MS_MAX 2147483647LL

/* What an OSP_OPT_STR option's text must be, besides at most 4096 bytes. */
typedef enum osp_opt_form {
	OSP_FORM_ANY = 0,
	OSP_FORM_PATH,    /* a file or directory: not empty, no control characters */
	OSP_FORM_URL,     /* SCHEME://...: one of .choices as "scheme://"; ipc://PATH with a
			   * non-empty path of at most 107 bytes, any other HOST:PORT with a
			   * port 1..65535 and nothing after it */
} osp_opt_form;

typedef struct osp_opt osp_opt;
struct osp_opt {
	const char *name;             /* flag name without dashes: "log-level" */
	char short_name;              /* e.g. 'c', or 0 */
	osp_opt_type type;
	size_t offset;                /* offsetof(target struct, field) */
	const char *metavar;          /* "DIR", "URL", ... for --help */
	const char *help;             /* one line */
	const char *defval;           /* textual default or NULL */
	uint64_t min, max;            /* UINT, SIZE, DURATION (ms) range; 0, 0: the default */
	const char *const *choices;   /* OSP_OPT_STR: NULL-terminated allowed values
				       * (OSP_FORM_URL: allowed schemes, "tcp://") */
	osp_opt_form form;            /* OSP_OPT_STR: what the text must look like */
	bool list;                    /* OSP_OPT_STR: several values, "a,b" (blanks around
				       * each dropped), or a YAML list in the config file;
				       * each one checked as .form and .choices say, stored
				       * as "a,b" */
	bool flag_only;               /* not a config key (e.g. "config") */
	bool config_only;             /* not a flag (e.g. "tls", "apps") */
	/* OSP_OPT_CUSTOM: read node into target; errors via osp_cfg_errorf. */
	osp_err (*custom)(void *target, const osp_cfg_doc *doc, const osp_cfg_node *node,
		char *err, size_t errlen);
	/* OSP_OPT_CUSTOM: free what custom() stored; may be NULL. */
	void (*custom_free)(void *target);
};

typedef enum osp_opts_action {
	OSP_OPTS_RUN = 0,
	OSP_OPTS_HELP,
	OSP_OPTS_VERSION,
} osp_opts_action;

/*
 * osp_opts_load fills target from defaults, then the config file named by the
 * option with type OSP_OPT_STR named "config" (short 'c') if given, then the
 * remaining flags. Accepts "--name value", "--name=value", "-c value".
 * "--help"/"-h" and "--version" set *action and return OSP_OK at once.
 * Returns OSP_EINVAL for a usage error (unknown flag, missing or bad value,
 * a value out of its range or not of its form; err says which and what is
 * allowed: "--heartbeat: expected a duration from 100ms to 10m, got '...'")
 * and OSP_ECONFIG for a config file error (err is
 * "file:line:col: key: message"; unknown keys are errors here).
 */
osp_err osp_opts_load(const osp_opt *table, size_t n, int argc, char **argv, void *target,
	osp_opts_action *action, char *err, size_t errlen);

/* osp_opts_usage prints "usage: prog ..." and one line per option to out. */
void osp_opts_usage(const osp_opt *table, size_t n, const char *prog, const char *summary,
	void *out_file);

/* osp_opts_free frees strings, labels and custom data in target; idempotent. */
void osp_opts_free(const osp_opt *table, size_t n, void *target);

#endif
