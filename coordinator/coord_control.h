/*
 * coord_control.h - control API verbs. A verb runs with coord.mtx held; a
 * mutating verb gets rq->txn (a write transaction) to put its changes in,
 * which the dispatcher commits before the reply is sent. A verb returns the
 * ospecctl exit status (0 ok, 1 failed, 2 usage, 4 not found), writes its
 * result document to json and a one-line reason to err.
 */
#ifndef COORD_CONTROL_H
#define COORD_CONTROL_H

#include "coord.h"
#include "ospec/json.h"
#include "ospec/v1/control.pb-c.h"

typedef struct coord_ctl_req coord_ctl_req;
struct coord_ctl_req {
	Ospec__V1__CtlRequest *msg;
	char actor[64];
	osp_txn *txn;                 /* mutating verbs only */
	bool discard;                 /* abort txn even on success (dry runs) */
	/* optional: run after a successful commit / after a failed one */
	void (*after_commit)(coord *c, coord_ctl_req *rq);
	void (*on_abort)(coord *c, coord_ctl_req *rq);
	void (*cleanup)(coord_ctl_req *rq);
	void *data;                   /* for those hooks */
};

typedef int (*coord_verb_fn)(coord *c, coord_ctl_req *rq, osp_buf *json, char *err,
	size_t errlen);

typedef struct coord_verb {
	const char *name;
	bool mutates;
	coord_verb_fn fn;
} coord_verb;

/* coord_ctl_arg returns the value of argument key, or NULL. */
const char *coord_ctl_arg(const coord_ctl_req *rq, const char *key);

/* coord_ctl_nodes.c */
int coord_verb_nodes(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen);
int coord_verb_cordon(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen);
int coord_verb_uncordon(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen);
int coord_verb_forget(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen);
int coord_verb_stats(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen);

/* coord_json_node writes one node as a JSON object. */
void coord_json_node(osp_jw *w, const coord_node *n);

/* coord_ctl_rollouts.c */
int coord_verb_deploy(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen);
int coord_verb_status(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen);
int coord_verb_rollouts(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen);
int coord_verb_history(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen);
int coord_verb_pause(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen);
int coord_verb_resume(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen);
int coord_verb_abort(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen);
int coord_verb_rollback(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen);

/* Hooks: reload memory after a failed commit; reap + kick after a good one. */
void coord_rollouts_reload_hook(coord *c, coord_ctl_req *rq);
void coord_rollouts_after_commit_hook(coord *c, coord_ctl_req *rq);

#define COORD_ROLLOUT_VERBS                              \
	{ "deploy", true, coord_verb_deploy },           \
	{ "status", false, coord_verb_status },          \
	{ "rollouts", false, coord_verb_rollouts },      \
	{ "history", false, coord_verb_history },        \
	{ "pause", true, coord_verb_pause },             \
	{ "resume", true, coord_verb_resume },           \
	{ "abort", true, coord_verb_abort },             \
	{ "rollback", true, coord_verb_rollback },

#endif
