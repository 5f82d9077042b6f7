/*
 * test_coord_logs.c - the coordinator's side of `ospecctl logs`
 * (coordinator/coord_logs.c): what is refused at once (unknown node or app,
 * a node down, an agent older than protocol 1.4, bad arguments, too many
 * reads waiting), which slot is read, and the life of a waiting read: handed
 * out once per poll and once per heartbeat reply, answered only by the node
 * that was asked, failed at its deadline or when its node goes down.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "coord.h"
#include "coord_control.h"
#include "test_support.h"
#include "test_support_coord.h"

/* fx_node adds node id, up, of protocol 1.minor, reporting app hello with
 * active slot `active` ("" for a rolling app). */
static coord_node *fx_node(ts_coord_fx *f, const char *id, uint32_t minor, const char *active)
{
	Ospec__V1__AppState st, *stp = &st;
	coord_node *n = coord_node_add(&f->c, id, "00000000-0000-4000-8000-000000000001");

	assert_non_null(n);
	n->state = COORD_NODE_UP;
	n->pipe_id = 7;
	n->proto_minor = minor;
	snprintf(n->agent_version, sizeof(n->agent_version), "0.9.%u", minor);
	ospec__v1__app_state__init(&st);
	st.app = "hello";
	st.active_slot = (char *)active;
	coord_node_set_apps(n, &stp, 1);
	return n;
}

/* fx_logs runs the verb with key/value arguments (no deferred reply is
 * possible here: a read that would wait answers 1 "cannot wait"). */
static int fx_logs(ts_coord_fx *f, char *err, size_t errlen, ...)
{
	ts_ctl_rq r;
	osp_buf json;
	va_list ap;
	const char *k;
	int status;

	ts_ctl_rq_make(&r, "logs", NULL);
	va_start(ap, errlen);
	while ((k = va_arg(ap, const char *)) != NULL)
		ts_ctl_rq_add(&r, k, va_arg(ap, const char *));
	va_end(ap);
	osp_buf_init(&json, 1024 * 1024);
	err[0] = '\0';
	status = coord_verb_logs(&f->c, &r.rq, &json, err, errlen);
	osp_buf_fini(&json);
	return status;
}

static void test_coord_logs_refused(void **state)
{
	ts_coord_fx *f = *state;
	char err[1024];
	coord_node *n2;

	fx_node(f, "n1", 4, "");
	n2 = fx_node(f, "n2", 3, "");
	assert_int_equal(fx_logs(f, err, sizeof(err), "node", "nosuch", "app", "hello", NULL), 4);
	ts_assert_has(err, "node 'nosuch' is not known");
	assert_int_equal(fx_logs(f, err, sizeof(err), "node", "n1", "app", "nosuch", NULL), 4);
	ts_assert_has(err, "node 'n1' reports no app 'nosuch'");
	assert_int_equal(fx_logs(f, err, sizeof(err), "node", "n2", "app", "hello", NULL), 1);
	ts_assert_has(err, "node 'n2' runs ospec-agent 0.9.3 (protocol 1.3), which has no logs "
			   "(protocol 1.4); upgrade ospec-agent");
	n2->proto_minor = 4;
	n2->state = COORD_NODE_DOWN;
	n2->pipe_id = 0;
	assert_int_equal(fx_logs(f, err, sizeof(err), "node", "n2", "app", "hello", NULL), 1);
	ts_assert_has(err, "node 'n2' is down");
	/* usage */
	assert_int_equal(fx_logs(f, err, sizeof(err), "app", "hello", NULL), 2);
	assert_int_equal(fx_logs(f, err, sizeof(err), "node", "n1", NULL), 2);
	assert_int_equal(fx_logs(f, err, sizeof(err), "node", "n1", "app", "hello", "lines",
				 "1001", NULL),
		2);
	assert_int_equal(fx_logs(f, err, sizeof(err), "node", "n1", "app", "hello", "slot",
				 "idle", NULL),
		2);
	assert_int_equal(fx_logs(f, err, sizeof(err), "node", "n1", "app", "hello",
				 "out_offset", "-1", NULL),
		2);
	/* everything fine: only the missing deferred reply stops it here */
	assert_int_equal(fx_logs(f, err, sizeof(err), "node", "n1", "app", "hello", "lines",
				 "1000", NULL),
		1);
	ts_assert_has(err, "cannot wait");
	for (size_t i = 0; i < COORD_LOGS_MAX; i++)
		assert_false(f->c.logs[i].used);
}

/* fx_wait puts a read of node's app hello into slot i of the waiting reads. */
static void fx_wait(ts_coord_fx *f, size_t i, const char *node, uint64_t id, int64_t deadline)
{
	coord_log_req *r = &f->c.logs[i];

	memset(r, 0, sizeof(*r));
	r->used = true;
	r->id = id;
	snprintf(r->node, sizeof(r->node), "%s", node);
	snprintf(r->app, sizeof(r->app), "hello");
	snprintf(r->slot, sizeof(r->slot), "main");
	r->lines = 5;
	r->deadline = deadline;
}

static void test_coord_logs_waiting(void **state)
{
	ts_coord_fx *f = *state;
	Ospec__V1__LogRequest lr[COORD_LOGS_PER_NODE], *lrp[COORD_LOGS_PER_NODE];
	Ospec__V1__LogChunk ch;
	coord_node *n1 = fx_node(f, "n1", 4, ""), *n2 = fx_node(f, "n2", 4, "");
	int64_t now = osp_now_mono_ms();
	char err[1024];

	/* the bounds: per node, then in all */
	fx_wait(f, 0, "n1", 11, now + 10000);
	fx_wait(f, 1, "n1", 12, now + 10000);
	assert_int_equal(fx_logs(f, err, sizeof(err), "node", "n1", "app", "hello", NULL), 1);
	ts_assert_has(err, "2 log reads are waiting for this node already");
	for (size_t i = 2; i < COORD_LOGS_MAX; i++)
		fx_wait(f, i, i % 2 ? "n3" : "n4", 100 + i, now + 10000);
	assert_int_equal(fx_logs(f, err, sizeof(err), "node", "n2", "app", "hello", NULL), 1);
	ts_assert_has(err, "log reads are waiting for nodes already");
	memset(f->c.logs, 0, sizeof(f->c.logs));

	/* handed out once in a poll reply and once in a heartbeat reply */
	fx_wait(f, 3, "n1", 11, now + 10000);
	fx_wait(f, 5, "n2", 21, now + 10000);
	assert_true(coord_logs_waiting(&f->c, n1));
	assert_int_equal(coord_logs_for_node(&f->c, n1, true, lr, lrp), 1);
	assert_int_equal(lrp[0]->id, 11);
	assert_string_equal(lrp[0]->app, "hello");
	assert_string_equal(lrp[0]->slot, "main");
	assert_int_equal(lrp[0]->lines, 5);
	assert_false(lrp[0]->has_follow);
	assert_false(coord_logs_waiting(&f->c, n1));
	assert_int_equal(coord_logs_for_node(&f->c, n1, true, lr, lrp), 0);
	assert_int_equal(coord_logs_for_node(&f->c, n1, false, lr, lrp), 1);
	assert_int_equal(coord_logs_for_node(&f->c, n1, false, lr, lrp), 0);

	/* only the node that was asked answers; an unknown id is dropped */
	ospec__v1__log_chunk__init(&ch);
	ch.id = 11;
	coord_logs_on_chunk(&f->c, n2, &ch);
	assert_true(f->c.logs[3].used);
	ch.id = 99;
	coord_logs_on_chunk(&f->c, n1, &ch);
	assert_true(f->c.logs[3].used);
	ch.id = 11;
	coord_logs_on_chunk(&f->c, n1, &ch);
	assert_false(f->c.logs[3].used);
	assert_true(f->c.logs[5].used);

	/* the deadline, and a node that went down meanwhile */
	fx_wait(f, 0, "n1", 12, now + 10000);
	coord_logs_tick(&f->c, now + 9999);
	assert_true(f->c.logs[0].used);
	assert_true(f->c.logs[5].used);
	coord_logs_tick(&f->c, now + 10000);
	assert_false(f->c.logs[0].used);
	assert_false(f->c.logs[5].used);
	fx_wait(f, 0, "n2", 22, now + 10000);
	n2->state = COORD_NODE_DOWN;
	coord_logs_tick(&f->c, now);
	assert_false(f->c.logs[0].used);
	fx_wait(f, 0, "gone", 23, now + 10000);
	coord_logs_tick(&f->c, now);
	assert_false(f->c.logs[0].used);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_coord_logs_refused, ts_coord_setup,
			ts_coord_teardown),
		cmocka_unit_test_setup_teardown(test_coord_logs_waiting, ts_coord_setup,
			ts_coord_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
