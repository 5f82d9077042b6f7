/*
 * ospec_doc.h - OSpec documents as plans (docs/ospec.md).
 *
 * An OSpec document (../shared/ospec-deployment-guide.md) is read with the
 * bounded YAML reader (cfg.h), checked, and mapped to what ospec acts on: the
 * strategy, the post-deploy watch, health checks, approval gates, required
 * secrets (names only), smoke checks, and the stages (ospec's own `fleet:`
 * block, or `multi_region`). Everything else in the document is reported as
 * a warning and left alone. A canary's weights and analysis thresholds come
 * from deployment.canary_configuration, Flagger's analysis block and the
 * success criteria (ospec_doc_canary.c). No I/O besides reading the file; no
 * coordinator.
 */
#ifndef OSPEC_OSPEC_DOC_H
#define OSPEC_OSPEC_DOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ospec/err.h"

#define OSP_DOC_MAX_STAGES 16
#define OSP_DOC_MAX_SECRETS 32
#define OSP_DOC_MAX_SMOKE 16
#define OSP_DOC_MAX_NOTES 64
#define OSP_DOC_MAX_WEBHOOKS 8
#define OSP_DOC_WEBHOOK_MAX 2048 /* bytes of one webhook URL */

/* One finding: printed as "file:line:col: path: message". */
typedef struct osp_doc_finding {
	bool error;             /* false: a warning */
	int line, col;          /* 1-based; 0 when the finding has no place (e.g. --env) */
	char path[160];         /* dotted key path: "fleet.stages[2].batch" */
	char msg[320];
} osp_doc_finding;

typedef struct osp_doc_findings {
	char file[256];         /* name used in messages */
	osp_doc_finding *v;     /* heap, owned; osp_doc_findings_free */
	size_t n, cap;
	size_t errors, warnings;
} osp_doc_findings;

/* One stage of the plan, in order. Strings are what the CLI flags take. */
typedef struct osp_doc_stage {
	char name[41];          /* id characters: A-Z a-z 0-9 . _ - */
	char select[256];       /* "K=V,K=V" labels the stage's nodes carry ("" every node) */
	char nodes[16];         /* "N" or "N%": at most this many of the selected nodes not
				 * taken by an earlier stage; "" all of them */
	char batch[16];         /* "N" or "N%"; "" the plan's default */
	char max_failures[16];  /* "N" or "N%"; "" the plan's default */
	int64_t bake_ms;        /* watch after the stage before the next starts; -1 the plan's
				 * watch */
	int64_t progress_deadline_ms; /* 0 the default */
	bool approval;          /* a gate before this stage */
	char approval_why[160]; /* which key asked for the gate */
} osp_doc_stage;

/* A smoke check (acceptance.http_endpoints) each agent runs against the new
 * release before it counts as healthy. */
typedef struct osp_doc_smoke {
	char method[8];         /* GET HEAD POST PUT DELETE PATCH OPTIONS */
	char path[256];         /* starts with '/' */
	uint32_t status;        /* expected HTTP status, 100..599 */
} osp_doc_smoke;

/* What one OSpec key turned into ("plan" prints these). */
typedef struct osp_doc_note {
	char key[128];          /* "guardrails.deployment.rollback_timeout_minutes" */
	char became[192];       /* "--watch 5m" */
} osp_doc_note;

typedef struct osp_doc_plan {
	char env[41];           /* the environment asked for ("" none) */
	/* fleet: (ospec's own block); "" / 0 when absent: the CLI must supply them */
	char app[41];
	char run[1024];
	uint32_t port;
	uint32_t blue_port, green_port;
	char artifact[1024];    /* URL template: {app} and {version} are replaced; "" none */
	char select[256];       /* fleet.select: every stage's nodes also carry these labels */
	char batch[16];         /* fleet.batch: the default batch ("" the CLI default) */
	char max_failures[16];
	/* deployment */
	char strategy[16];      /* "rolling", "recreate", "blue_green" or "canary"; "" unset */
	int64_t watch_ms;       /* post-deploy watch / rollback window; -1 unset */
	bool switch_approval;   /* blue_green, canary: a gate before the (full) traffic
				 * switch */
	char switch_approval_why[160];
	/* canary (deploy's --canary-* and --analysis-* flags): kept whatever the
	 * strategy, used by plan/apply only when the plan runs as canary;
	 * 0 / -1 unset: the coordinator's default */
	uint32_t canary_initial, canary_step, canary_max; /* percent 1..100; 0 unset */
	int64_t analysis_interval_ms;    /* 1s..24h, one step and its analysis; -1 unset */
	uint32_t analysis_threshold;     /* failed analyses that reset the canary, 1..1000;
					  * 0 unset */
	char analysis_success_rate[8];   /* minimum success rate in percent, 0..100 with
					  * at most 2 decimals ("99.5"; "0" not checked);
					  * "" unset */
	int64_t analysis_max_latency_ms; /* mean response time ceiling; -1 unset */
	/* health checks; "" / 0 / -1 unset */
	char health_path[256];
	int64_t health_interval_ms, health_timeout_ms; /* -1 unset */
	uint32_t health_fall, health_rise;             /* 0 unset */
	/* secrets.required: names only (values are never read) */
	char secrets[OSP_DOC_MAX_SECRETS][128];
	size_t nsecrets;
	osp_doc_smoke smoke[OSP_DOC_MAX_SMOKE];
	size_t nsmoke;
	/* monitoring.alerting.channels: the http:// and https:// ones, sent as
	 * apply's --webhook (the others are warned about and left alone) */
	char webhooks[OSP_DOC_MAX_WEBHOOKS][OSP_DOC_WEBHOOK_MAX + 1];
	size_t nwebhooks;
	osp_doc_stage stages[OSP_DOC_MAX_STAGES];
	size_t nstages;         /* >= 1 on success: one stage "all" when none is named */
	osp_doc_note notes[OSP_DOC_MAX_NOTES];
	size_t nnotes;
} osp_doc_plan;

/*
 * osp_doc_parse checks the document in data (name is used in messages) for
 * the environment env (NULL or "": none) and maps it into *plan. Findings are
 * appended to f (errors and warnings). Returns OSP_OK when there is no error
 * (warnings allowed), OSP_ECONFIG when f holds at least one error (*plan is
 * then not to be used), OSP_ENOMEM. Hostile input (alias bombs, deep nesting,
 * huge files, binary, bad UTF-8) is one located error in bounded time and
 * memory.
 */
osp_err osp_doc_parse(const char *name, const char *data, size_t len, const char *env,
	osp_doc_plan *plan, osp_doc_findings *f);

/* osp_doc_load reads path (a regular file, at most 4 MiB) and calls
 * osp_doc_parse; an unreadable file is one error finding and OSP_EIO. */
osp_err osp_doc_load(const char *path, const char *env, osp_doc_plan *plan,
	osp_doc_findings *f);

/* osp_doc_findings_print prints one "file:line:col: path: error|warning:
 * message" line per finding to out. */
void osp_doc_findings_print(const osp_doc_findings *f, FILE *out);

/* osp_doc_findings_free frees the findings (f itself is the caller's). */
void osp_doc_findings_free(osp_doc_findings *f);

#endif
