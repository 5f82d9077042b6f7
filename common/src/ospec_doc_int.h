/*
 * ospec_doc_int.h - what the three files of the OSpec reader share:
 * ospec_doc.c (findings, the walk over a map, parse/load, the final plan),
 * ospec_doc_map.c (the OSpec sections: deployment, guardrails, monitoring,
 * secrets, acceptance, environments), ospec_doc_canary.c (a canary's
 * weights and analysis) and ospec_doc_fleet.c (ospec's own `fleet:` block,
 * multi_region, the stages).
 *
 * Precedence is by priority: every value the plan takes records the key that
 * set it and that key's priority; a key of a higher priority replaces it, a
 * lower one leaves it (both leave a note saying which key won). The
 * document's own keys are 1..9, an environment's (environments.ENV,
 * guardrails.ENV) 10 more, fleet: OSP_DOC_PRIO_FLEET.
 */
#ifndef OSPEC_DOC_INT_H
#define OSPEC_DOC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ospec/cfg.h"
#include "ospec/ospec_doc.h"

#define OSP_DOC_PRIO_ENV 10
#define OSP_DOC_PRIO_FLEET 100
#define OSP_DOC_PATH_MAX 160  /* osp_doc_finding.path */
#define OSP_DOC_MAX_GATES 8

/* Which key set a value of the plan, and at what priority (0: unset). */
typedef struct osp_doc_src {
	int prio;
	char key[128];
} osp_doc_src;

/* A human_approval_required that asks for a gate (placed once the stages
 * and the strategy are known). */
typedef struct osp_doc_gate {
	char key[128];
	char tag[64];           /* "true" for a plain true */
	bool traffic_switch;    /* an <env>_traffic_switch tag */
} osp_doc_gate;

/* The canary's values, each with its own source (osp_doc_prov.canary). */
typedef enum osp_doc_cv {
	OSP_DOC_CV_INITIAL,     /* --canary-initial */
	OSP_DOC_CV_STEP,        /* --canary-step */
	OSP_DOC_CV_MAX,         /* --canary-max */
	OSP_DOC_CV_INTERVAL,    /* --analysis-interval */
	OSP_DOC_CV_THRESHOLD,   /* --analysis-threshold */
	OSP_DOC_CV_SUCCESS,     /* --analysis-success-rate */
	OSP_DOC_CV_LATENCY,     /* --analysis-max-latency */
	OSP_DOC_CV_N,
} osp_doc_cv;

#define OSP_DOC_MAX_CANARY_BLOCKS 8

/* A block of canary settings that was read (warned about when the strategy
 * is not canary). */
typedef struct osp_doc_block {
	const osp_cfg_node *node;
	char path[OSP_DOC_PATH_MAX];
} osp_doc_block;

/* Where each value of a plan came from. */
typedef struct osp_doc_prov {
	osp_doc_src strategy, watch, health_path, health_interval, health_timeout;
	osp_doc_src health_fall, health_rise, smoke, smoke_on;
	osp_doc_src webhooks;   /* monitoring.alerting.channels */
	bool smoke_on_val;      /* with smoke_on set: validation_checks lists smoke_tests */
	const osp_cfg_node *smoke_node; /* the http_endpoints that made the smoke checks */
	osp_doc_gate gates[OSP_DOC_MAX_GATES];
	size_t ngates;
	osp_doc_src canary[OSP_DOC_CV_N];               /* the canary's values */
	const osp_cfg_node *canary_node[OSP_DOC_CV_N];  /* the value that won */
	osp_doc_block blocks[OSP_DOC_MAX_CANARY_BLOCKS];
	size_t nblocks;
} osp_doc_prov;

typedef struct osp_doc_ctx {
	const osp_cfg_doc *doc;
	osp_doc_findings *f;
	const char *env;          /* "" none */
	osp_doc_plan *plan;       /* the result */
	osp_doc_prov prov;
	/* the scope being read: plan/prov, or scratch for an environment that
	 * does not apply (checked for errors, then thrown away) */
	osp_doc_plan *p;
	osp_doc_prov *pv;
	osp_doc_plan *scratch;
	osp_doc_prov scratch_pv;
	int base;                 /* priority base of the scope: 0 or OSP_DOC_PRIO_ENV */
	bool quiet;               /* a scope that does not apply: errors only, no notes */
	const osp_cfg_node *envs; /* the top-level environments: map, or NULL */
	const osp_cfg_node *multi_region; /* read for the stages when fleet has none */
	bool fleet_stages;        /* fleet.stages made the stages */
	osp_doc_stage *stage;     /* the fleet.stages entry being read */
	osp_err oom;              /* sticky OSP_ENOMEM */
} osp_doc_ctx;

/* A handler reads the value n of a key whose dotted path is path. */
typedef void (*osp_doc_fn)(osp_doc_ctx *c, const osp_cfg_node *n, const char *path);

/* One key of a map: fn reads it; fn NULL is a key ospec knows and leaves
 * alone: ignored is then the warning ("" none). Tables end with name NULL. */
typedef struct osp_doc_key {
	const char *name;
	osp_doc_fn fn;
	const char *ignored;
} osp_doc_key;

/* ospec_doc.c */
void osp_doc_add(osp_doc_ctx *c, bool error, int line, int col, const char *path,
	const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* osp_doc_err: an error at node n's value; osp_doc_warn: a warning at its
 * key (its value when it has no key). Warnings are dropped in a quiet scope. */
void osp_doc_err(osp_doc_ctx *c, const osp_cfg_node *n, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void osp_doc_warn(osp_doc_ctx *c, const osp_cfg_node *n, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void osp_doc_notef(osp_doc_ctx *c, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* osp_doc_got describes n for "got ..." in a message. */
void osp_doc_got(const osp_cfg_node *n, char *buf, size_t len);
/* osp_doc_join writes "parent.key" (or "parent[i]" with key NULL) into buf. */
void osp_doc_join(char *buf, size_t len, const char *parent, const char *key, size_t i);
/* osp_doc_walk reads every key of map with the table; unknown keys are
 * errors when strict (fleet:), else warnings "not used by ospec". */
void osp_doc_walk(osp_doc_ctx *c, const osp_cfg_node *map, const char *path,
	const osp_doc_key *keys, bool strict);
/* Typed reads: false (and an error finding naming path) on a wrong type. */
bool osp_doc_map(osp_doc_ctx *c, const osp_cfg_node *n, const char *path);
bool osp_doc_list(osp_doc_ctx *c, const osp_cfg_node *n, const char *path);
bool osp_doc_str(osp_doc_ctx *c, const osp_cfg_node *n, const char *path, size_t maxlen,
	const char **out);
bool osp_doc_u64(osp_doc_ctx *c, const osp_cfg_node *n, const char *path, uint64_t min,
	uint64_t max, uint64_t *out);
bool osp_doc_bool(osp_doc_ctx *c, const osp_cfg_node *n, const char *path, bool *out);
bool osp_doc_duration(osp_doc_ctx *c, const osp_cfg_node *n, const char *path, int64_t *ms);
/* osp_doc_claim reports whether key (priority prio above the scope's base)
 * may set the value src tracks, and records it as the setter if so. */
bool osp_doc_claim(osp_doc_ctx *c, osp_doc_src *src, int prio, const char *key);
/* osp_doc_url_path copies the path of s into out: s is a path ("/health"),
 * a URL ("http://host:80/health") or a variable and a path
 * ("${APP_URL}/health"). False for anything else or a path with spaces or
 * control characters, or longer than len - 1. */
bool osp_doc_url_path(const char *s, char *out, size_t len);
/* osp_doc_is_env_name reports whether name is an environment: the --env, a
 * key of environments:, or development, staging, production. */
bool osp_doc_is_env_name(const osp_doc_ctx *c, const char *name);

/* ospec_doc_map.c: the OSpec sections */
void osp_doc_deployment(osp_doc_ctx *c, const osp_cfg_node *n, const char *path);
void osp_doc_guardrails(osp_doc_ctx *c, const osp_cfg_node *n, const char *path);
void osp_doc_monitoring(osp_doc_ctx *c, const osp_cfg_node *n, const char *path);
/* ospec_doc_alerting.c: monitoring.alerting (its channels' URLs: webhooks) */
void osp_doc_alerting(osp_doc_ctx *c, const osp_cfg_node *n, const char *path);
void osp_doc_secrets(osp_doc_ctx *c, const osp_cfg_node *n, const char *path);
void osp_doc_acceptance(osp_doc_ctx *c, const osp_cfg_node *n, const char *path);
void osp_doc_environments(osp_doc_ctx *c, const osp_cfg_node *n, const char *path);

/* osp_doc_health_field reads one key of a health check (path, endpoint,
 * url, interval[_seconds], timeout[_seconds], retries, fall, rise, ...):
 * into the plan at priority prio when apply, else only checked. */
void osp_doc_health_field(osp_doc_ctx *c, const osp_cfg_node *n, const char *path, int prio,
	bool apply);

/* ospec_doc_canary.c: deployment.canary_configuration, deployment.analysis,
 * deployment.monitoring, monitoring.success_criteria, metadata (for its
 * canary block) */
void osp_doc_canary_conf(osp_doc_ctx *c, const osp_cfg_node *n, const char *path);
void osp_doc_analysis(osp_doc_ctx *c, const osp_cfg_node *n, const char *path);
void osp_doc_dep_monitoring(osp_doc_ctx *c, const osp_cfg_node *n, const char *path);
void osp_doc_success_mon(osp_doc_ctx *c, const osp_cfg_node *n, const char *path);
void osp_doc_metadata(osp_doc_ctx *c, const osp_cfg_node *n, const char *path);
/* osp_doc_canary_finish runs once the strategy is known: the notes of the
 * canary values that won, "ignored: strategy is X" at each canary block of
 * another strategy, and initial <= max. */
void osp_doc_canary_finish(osp_doc_ctx *c);
/* osp_doc_slotted: the strategy stages into the idle slot (blue_green,
 * canary): two ports, a traffic switch. */
bool osp_doc_slotted(const char *strategy);

/* ospec_doc_fleet.c */
void osp_doc_fleet(osp_doc_ctx *c, const osp_cfg_node *n, const char *path);
void osp_doc_multi_region(osp_doc_ctx *c, const osp_cfg_node *n, const char *path);
/* osp_doc_stages makes the stages when fleet.stages did not: multi_region,
 * else one stage "all". */
void osp_doc_stages(osp_doc_ctx *c);

#endif
