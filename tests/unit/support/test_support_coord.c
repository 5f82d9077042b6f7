/*
 * test_support_coord.c - the coordinator helpers of the unit tests
 * (test_support_coord.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "coord_backup.h"
#include "coord_engine_hooks.h"
#include "test_support.h"
#include "test_support_coord.h"

void ts_coord_fx_init(ts_coord_fx *f, const char *tmpl)
{
	char err[256] = "";

	ts_mkdtemp(f->root, sizeof(f->root), tmpl);
	snprintf(f->data, sizeof(f->data), "%s/data", f->root);
	f->c.cfg.data = f->data;
	f->c.cfg.heartbeat = 1000;
	if (coord_db_open(&f->c, err, sizeof(err)) != OSP_OK)
		fail_msg("coord_db_open: %s", err);
}

const char *const ts_coord_dbs[] = {
	"nodes", "cmdlog", "events", "requests", "rollouts", "switches", "releases", "plans",
	"outbox", "steps",
};
const size_t ts_coord_ndbs = sizeof(ts_coord_dbs) / sizeof(ts_coord_dbs[0]);

void ts_coord_fx_init_mem(ts_coord_fx *f)
{
	osp_store_opts o = {
		.backend = OSP_STORE_MEMORY,
		.dir = "coordinator",
		.dbs = ts_coord_dbs,
		.ndbs = ts_coord_ndbs,
		.schema = COORD_SCHEMA,
	};
	char err[256] = "";

	o.migrations = coord_backup_migrations(&o.nmigrations);
	f->c.cfg.heartbeat = 1000;
	if (osp_store_open(&o, &f->c.store, err, sizeof(err)) != OSP_OK)
		fail_msg("osp_store_open (memory): %s", err);
}

int ts_coord_mem_setup(void **state)
{
	ts_coord_fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	ts_coord_fx_init_mem(f);
	*state = f;
	return 0;
}

void ts_coord_fx_fini(ts_coord_fx *f)
{
	coord_engine_fini(&f->c);
	coord_registry_free(&f->c);
	osp_store_close(f->c.store);
	ts_rmtree(f->root);
}

int ts_coord_setup(void **state)
{
	ts_coord_fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	ts_coord_fx_init(f, "/tmp/ospec-coord-XXXXXX");
	*state = f;
	return 0;
}

int ts_coord_teardown(void **state)
{
	ts_coord_fx_fini(*state);
	free(*state);
	return 0;
}

void ts_ctl_rq_add(ts_ctl_rq *r, const char *key, const char *val)
{
	Ospec__V1__CtlArg *a = &r->args[r->msg.n_args];

	assert_true(r->msg.n_args < TS_CTL_MAX_ARGS);
	ospec__v1__ctl_arg__init(a);
	a->key = (char *)key;
	a->value = (char *)val;
	r->argp[r->msg.n_args++] = a;
}

void ts_ctl_rq_make(ts_ctl_rq *r, const char *verb, ...)
{
	va_list ap;
	const char *k;

	memset(r, 0, sizeof(*r));
	ospec__v1__ctl_request__init(&r->msg);
	r->msg.version_major = 1;
	r->msg.verb = (char *)verb;
	r->msg.args = r->argp;
	va_start(ap, verb);
	while ((k = va_arg(ap, const char *)) != NULL)
		ts_ctl_rq_add(r, k, va_arg(ap, const char *));
	va_end(ap);
	r->rq.msg = &r->msg;
	osp_strlcpy(r->rq.actor, "uid:0", sizeof(r->rq.actor));
}

struct coord_ro_entry *ts_coord_deploy(ts_coord_fx *f, const char *sha, const char *batch)
{
	ts_ctl_rq r;
	osp_buf json;
	char err[512] = "";
	int st;

	ts_ctl_rq_make(&r, "deploy", "app", "hello", "version", "2", "artifact",
		"file:///tmp/x.tgz", "sha256", sha, "run", "bin/hello", "port", "8080", "watch",
		"0", "batch", batch, "max-failures", "5", NULL);
	assert_int_equal(osp_store_txn_begin(f->c.store, true, &r.rq.txn), OSP_OK);
	osp_buf_init(&json, 1 << 20);
	st = coord_verb_deploy(&f->c, &r.rq, &json, err, sizeof(err));
	osp_buf_fini(&json);
	if (st != 0)
		fail_msg("deploy: %d %s", st, err);
	assert_int_equal(osp_store_txn_commit(r.rq.txn), OSP_OK);
	assert_non_null(f->c.rollouts);
	return f->c.rollouts;
}
