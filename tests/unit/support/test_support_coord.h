/*
 * test_support_coord.h - helpers of the unit tests that run the
 * coordinator's control verbs over a real store (test_coord_ctl_rollouts.c,
 * test_coord_ctl_checks.c), prefix ts_coord_ / ts_ctl_. Like test_support.h,
 * they fail the running cmocka test on a setup error.
 */
#ifndef TEST_SUPPORT_COORD_H
#define TEST_SUPPORT_COORD_H

#include "coord.h"
#include "coord_control.h"

#define TS_CTL_MAX_ARGS 32

/* A coordinator (no sockets, no threads) over a fresh store in a temp dir. */
typedef struct ts_coord_fx {
	char root[64];
	char data[128]; /* root/data: the LMDB environment */
	coord c;
} ts_coord_fx;

/* ts_coord_fx_init makes a temp dir from tmpl (ts_mkdtemp) and opens the
 * coordinator's store in root/data (heartbeat 1 s) into f (zeroed by the
 * caller). */
void ts_coord_fx_init(ts_coord_fx *f, const char *tmpl);

/* ts_coord_fx_fini frees f's rollouts, the engine's buffer and its nodes,
 * closes the store and removes the temp dir; f stays the caller's. */
void ts_coord_fx_fini(ts_coord_fx *f);

/* ts_coord_setup and ts_coord_teardown are cmocka setup and teardown
 * functions: *state is a heap ts_coord_fx, initialised with ts_coord_fx_init
 * (temp dir /tmp/ospec-coord-XXXXXX), finished with ts_coord_fx_fini. */
int ts_coord_setup(void **state);
int ts_coord_teardown(void **state);

/* ts_coord_fx_init_mem opens the coordinator's databases, schema and
 * migrations (as coord_db_open does) on the in-memory store instead: no temp
 * dir (f->root stays empty), faster, and osp_store_mem_fail_next_commit can
 * fail a commit. ts_coord_fx_fini finishes it as the LMDB one. */
void ts_coord_fx_init_mem(ts_coord_fx *f);

/* ts_coord_mem_setup is ts_coord_setup on the in-memory store
 * (ts_coord_fx_init_mem); ts_coord_teardown finishes it. */
int ts_coord_mem_setup(void **state);

/* ts_coord_dbs are the coordinator's database names (coordinator/coord_db.c
 * keeps its list private; test_coord_glue.c checks this one against the
 * databases of an LMDB store coord_db_open made), ts_coord_ndbs their count. */
extern const char *const ts_coord_dbs[];
extern const size_t ts_coord_ndbs;

/* A control request to a verb, with the buffers its arguments live in. */
typedef struct ts_ctl_rq {
	Ospec__V1__CtlRequest msg;
	Ospec__V1__CtlArg args[TS_CTL_MAX_ARGS], *argp[TS_CTL_MAX_ARGS];
	coord_ctl_req rq; /* actor uid:0, no transaction */
} ts_ctl_rq;

/* ts_ctl_rq_make makes r a request of verb with the arguments "key",
 * "value", ..., NULL (borrowed). */
void ts_ctl_rq_make(ts_ctl_rq *r, const char *verb, ...);

/* ts_ctl_rq_add adds the argument key=val (borrowed) to r. */
void ts_ctl_rq_add(ts_ctl_rq *r, const char *key, const char *val);

/* ts_coord_deploy deploys app hello version 2 (artifact sha256 sha) to every
 * up node of f, batch nodes at a time, watch 0, max-failures 5, committed;
 * returns the rollout (f's first active one). */
struct coord_ro_entry *ts_coord_deploy(ts_coord_fx *f, const char *sha, const char *batch);

#endif
