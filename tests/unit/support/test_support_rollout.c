/*
 * test_support_rollout.c - the rollout state machine's test fixture
 * (test_support_rollout.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_support_rollout.h"

int ts_ro_setup(void **state)
{
	ts_ro *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->out.cap = 2 * TS_RO_MAX_STEPS + 8;
	f->out.v = calloc(f->out.cap, sizeof(coord_ro_action));
	assert_non_null(f->out.v);
	f->now = 1000000;
	*state = f;
	return 0;
}

int ts_ro_teardown(void **state)
{
	ts_ro *f = *state;

	free(f->out.v);
	free(f->out.text);
	free(f);
	return 0;
}

void ts_ro_init(ts_ro *f, size_t n)
{
	size_t i;

	assert_true(n <= TS_RO_MAX_STEPS);
	memset(&f->r, 0, sizeof(f->r));
	memset(f->steps, 0, sizeof(f->steps));
	snprintf(f->r.id, sizeof(f->r.id), "ro-1");
	snprintf(f->r.app, sizeof(f->r.app), "hello");
	snprintf(f->r.version, sizeof(f->r.version), "2.0");
	f->r.progress_deadline_ms = 10 * 60 * 1000;
	f->r.current_batch = -1;
	f->r.nsteps = n;
	f->r.steps = f->steps;
	for (i = 0; i < n; i++) {
		snprintf(f->steps[i].node, sizeof(f->steps[i].node), "web-%zu", i + 1);
		snprintf(f->steps[i].prev_version, sizeof(f->steps[i].prev_version), "1.0");
		memset(f->steps[i].prev_sha256, 'a', 64);
	}
}

/* ts_ro_probe applies kind at now to a copy of f's rollout: *n gets the
 * number of actions, *changed whether the rollout or a step changed. */
static osp_err ts_ro_probe(const ts_ro *f, coord_ro_event_kind kind, int64_t now, size_t *n,
			   bool *changed)
{
	static coord_ro_action acts[2 * TS_RO_MAX_STEPS + 8];
	coord_ro_actions out = { .v = acts, .cap = sizeof(acts) / sizeof(acts[0]) };
	coord_ro_step steps[TS_RO_MAX_STEPS];
	coord_ro_event ev = { .kind = kind, .now_ms = now };
	coord_rollout r;
	osp_err err;

	memcpy(&r, &f->r, sizeof(r));
	memcpy(steps, f->steps, sizeof(steps));
	r.steps = steps;
	err = coord_ro_apply(&r, &ev, &out);
	free(out.text);
	r.steps = f->r.steps;
	*n = out.n;
	*changed = memcmp(&r, &f->r, sizeof(r)) != 0 || memcmp(steps, f->steps, sizeof(steps)) != 0;
	return err;
}

void ts_ro_check_deadline(const ts_ro *f)
{
	coord_ro_event_kind kind;
	int64_t at = coord_ro_next_deadline(&f->r, &kind);
	bool changed;
	osp_err err;
	size_t n;

	if (f->r.steps != f->steps || f->r.nsteps > TS_RO_MAX_STEPS)
		return; /* a test's own odd rollout */
	if (at == COORD_RO_NEVER) {
		/* no deadline: no TICK changes anything, however late */
		assert_int_equal(kind, COORD_RO_EV_TICK);
		err = ts_ro_probe(f, COORD_RO_EV_TICK, f->now + 10LL * 365 * 24 * 3600 * 1000, &n,
				  &changed);
		assert_int_equal(err, OSP_OK);
		assert_int_equal(n, 0);
		assert_false(changed);
		return;
	}
	assert_true(kind == COORD_RO_EV_TICK || kind == COORD_RO_EV_SCALE_DOWN);
	/* a ms before: nothing (a SCALE_DOWN before its time is refused) */
	err = ts_ro_probe(f, kind, at - 1, &n, &changed);
	assert_true(err == OSP_OK || (kind == COORD_RO_EV_SCALE_DOWN && err == OSP_ESTATE));
	assert_int_equal(n, 0);
	assert_false(changed);
	/* at the deadline: the engine acts on it */
	err = ts_ro_probe(f, kind, at, &n, &changed);
	assert_int_equal(err, OSP_OK);
	assert_true(changed);
}

osp_err ts_ro_run(ts_ro *f, const coord_ro_event *ev)
{
	osp_err err;
	size_t i;

	f->out.n = 0;
	f->out.text_len = 0;
	err = coord_ro_apply(&f->r, ev, &f->out);
	for (i = 0; i < f->out.n; i++) {
		coord_ro_action *a = &f->out.v[i];

		if (a->kind != COORD_RO_ACT_SEND)
			continue;
		assert_true(a->step < f->r.nsteps);
		assert_int_not_equal(f->steps[a->step].cmd, COORD_RO_CMD_NONE);
		f->steps[a->step].seq = ++f->next_seq;
	}
	ts_ro_check_deadline(f);
	if (f->check != NULL)
		f->check(f);
	return err;
}

osp_err ts_ro_apply(ts_ro *f, coord_ro_event_kind kind)
{
	coord_ro_event ev = { .kind = kind, .now_ms = f->now };

	return ts_ro_run(f, &ev);
}

osp_err ts_ro_result_seq(ts_ro *f, size_t i, uint64_t seq, bool ok, const char *msg)
{
	coord_ro_event ev = { .kind = COORD_RO_EV_RESULT, .now_ms = f->now,
			      .node = f->steps[i].node, .seq = seq, .ok = ok, .message = msg };

	return ts_ro_run(f, &ev);
}

void ts_ro_ok(ts_ro *f, size_t i)
{
	assert_int_equal(ts_ro_result_seq(f, i, f->steps[i].seq, true, NULL), OSP_OK);
}

void ts_ro_fail(ts_ro *f, size_t i, const char *msg)
{
	assert_int_equal(ts_ro_result_seq(f, i, f->steps[i].seq, false, msg), OSP_OK);
}

size_t ts_ro_count(const ts_ro *f, coord_ro_action_kind kind)
{
	size_t i, n = 0;

	for (i = 0; i < f->out.n; i++)
		n += f->out.v[i].kind == kind;
	return n;
}

bool ts_ro_sent(const ts_ro *f, size_t i, coord_ro_cmd cmd)
{
	size_t k;

	for (k = 0; k < f->out.n; k++) {
		if (f->out.v[k].kind == COORD_RO_ACT_SEND && f->out.v[k].step == i)
			return f->steps[i].cmd == cmd;
	}
	return false;
}

const char *ts_ro_event(const ts_ro *f, const char *kind)
{
	size_t i;

	for (i = 0; i < f->out.n; i++) {
		if (f->out.v[i].kind == COORD_RO_ACT_EVENT && strcmp(f->out.v[i].event, kind) == 0)
			return coord_ro_action_msg(&f->out, &f->out.v[i]);
	}
	return NULL;
}

void ts_ro_assert_done(const ts_ro *f, coord_ro_state st)
{
	char kind[32];

	assert_int_equal(f->r.state, st);
	assert_int_equal(ts_ro_count(f, COORD_RO_ACT_DONE), 1);
	assert_int_equal(f->out.v[f->out.n - 1].kind, COORD_RO_ACT_DONE);
	snprintf(kind, sizeof(kind), "rollout.%s", coord_ro_state_name(st));
	assert_non_null(ts_ro_event(f, kind));
	assert_int_equal(f->r.finished_ms, f->now);
}
