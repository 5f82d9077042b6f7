/*
 * test_support_rollout.h - the fixture of the rollout state machine's unit
 * tests (test_coord_rollout.c, test_coord_rollout_bg.c): one rollout, its
 * steps and an action buffer, plus a fake glue that numbers the commands it
 * "sends" the way coord_active.c does. No sockets, no clock: the test moves
 * now. Like test_support.h, the helpers fail the running cmocka test.
 */
#ifndef TEST_SUPPORT_ROLLOUT_H
#define TEST_SUPPORT_ROLLOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coord_rollout.h"

#define TS_RO_MAX_STEPS 16

typedef struct ts_ro {
	coord_rollout r;
	coord_ro_step steps[TS_RO_MAX_STEPS];
	coord_ro_actions out;
	uint64_t next_seq;
	int64_t now;
	/* check, when set, runs after each event (ts_ro_run): a test file's
	 * own invariants over out */
	void (*check)(const struct ts_ro *f);
} ts_ro;

/* ts_ro_setup is a cmocka setup: *state becomes a zeroed ts_ro (heap) with
 * room for 2 * TS_RO_MAX_STEPS + 8 actions and now = 1000000. */
int ts_ro_setup(void **state);

/* ts_ro_teardown is the cmocka teardown of ts_ro_setup. */
int ts_ro_teardown(void **state);

/* ts_ro_init resets f's rollout to n (<= TS_RO_MAX_STEPS) pending steps
 * web-1..web-n on previous release 1.0 (sha256 "aaa..."): rollout "ro-1" of
 * app "hello" to version 2.0, no batch begun, a 10 minute progress deadline,
 * every other setting 0. f->check and the action list stay as they are. */
void ts_ro_init(ts_ro *f, size_t n);

/* ts_ro_run applies ev with a fresh action list, then plays the glue: each
 * SEND (to a valid step with a command) gets the next sequence number; then
 * ts_ro_check_deadline and f->check run. Returns coord_ro_apply's result. */
osp_err ts_ro_run(ts_ro *f, const coord_ro_event *ev);

/* ts_ro_check_deadline checks coord_ro_next_deadline against the engine
 * itself, on copies of f's rollout: with a deadline, its event a ms before
 * changes nothing and at the deadline changes the rollout; without one, a
 * TICK ten years later changes nothing. ts_ro_run calls it after every
 * event, so every scenario of the engine's unit tests checks it. */
void ts_ro_check_deadline(const ts_ro *f);

/* ts_ro_apply applies an event of kind at f->now (ts_ro_run). */
osp_err ts_ro_apply(ts_ro *f, coord_ro_event_kind kind);

/* ts_ro_result_seq reports a result for step i (0-based) with sequence seq. */
osp_err ts_ro_result_seq(ts_ro *f, size_t i, uint64_t seq, bool ok, const char *msg);

/* ts_ro_ok reports step i's current command as done; it must be accepted. */
void ts_ro_ok(ts_ro *f, size_t i);

/* ts_ro_fail reports step i's current command as failed with msg; it must
 * be accepted. */
void ts_ro_fail(ts_ro *f, size_t i, const char *msg);

/* ts_ro_count counts the actions of kind the last event produced. */
size_t ts_ro_count(const ts_ro *f, coord_ro_action_kind kind);

/* ts_ro_sent reports whether the last event sent command cmd to step i. */
bool ts_ro_sent(const ts_ro *f, size_t i, coord_ro_cmd cmd);

/* ts_ro_event returns the message of the last event's first EVENT action of
 * kind, or NULL. */
const char *ts_ro_event(const ts_ro *f, const char *kind);

/* ts_ro_assert_done checks that the last event finished the rollout in
 * state st: one DONE action, last, a "rollout.<state>" event and
 * finished_ms = now. */
void ts_ro_assert_done(const ts_ro *f, coord_ro_state st);

#endif
