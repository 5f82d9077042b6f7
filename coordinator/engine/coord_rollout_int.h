/*
 * coord_rollout_int.h - internals of the rollout engine, shared by its
 * files. Nothing outside the engine includes this header; the glue uses
 * coord_rollout.h.
 *
 * The files call one way, top to bottom (docs/architecture.md):
 *
 *   coord_rollout.c          coord_ro_apply: dispatch, the staging phase
 *                            (batches) of every strategy, rolling, recreate
 *   coord_rollout_canary.c   weights and analyses; promotes through the switch
 *   coord_rollout_gate.c     blue-green's switch gate; opens the switch
 *   coord_rollout_bg.c       the two-phase switch (blue-green, canary promotion)
 *   coord_rollout_scale.c    the scale-down of the old slots after a switch
 *   coord_rollout_watch.c    rolling/recreate post-deploy watch
 *   coord_rollout_core.c     text, actions, counting, plan, budget, deadlines,
 *                            finishing (calls nothing above it)
 *   coord_rollout_names.c    names of states and strategies
 */
#ifndef COORD_ROLLOUT_INT_H
#define COORD_ROLLOUT_INT_H

#include <stdarg.h>

#include "coord_rollout.h"

#define COORD_RO_NOTE_LEN 256

/* coord_ro_vappend appends to the NUL-terminated buf of size len (at most
 * 2 * COORD_RO_MAX_REASON). A result too long for buf keeps its start (a
 * third) and its end with " ... " between, so a reader sees that text is
 * missing and still reads what was appended last. */
void coord_ro_vappend(char *buf, size_t len, const char *fmt, va_list ap);

/* coord_ro_vmsg makes the message of action a (pushed into out) from fmt,
 * cut to COORD_RO_MAX_REASON bytes; coord_ro_msg with arguments. */
void coord_ro_vmsg(coord_ro_actions *out, coord_ro_action *a, const char *fmt, va_list ap);
void coord_ro_msg(coord_ro_actions *out, coord_ro_action *a, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* coord_ro_append is coord_ro_vappend with arguments. */
void coord_ro_append(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* coord_ro_strlcpy copies at most len-1 bytes of src and NUL-terminates;
 * returns strlen(src) (truncation: a result >= len). */
size_t coord_ro_strlcpy(char *dst, const char *src, size_t len);

/* coord_ro_duration_fmt writes ms in the shortest exact unit ("1500ms",
 * "30s", "5m", "1h"). */
void coord_ro_duration_fmt(int64_t ms, char *buf, size_t len);

/* coord_ro_plural returns "s" for n != 1: "1 node", "3 nodes". */
const char *coord_ro_plural(size_t n);

/* -- deadlines (coord_rollout_core.c): every time the engine compares with
 * an event's now goes through these, and coord_ro_next_deadline composes the
 * same functions, so what it announces is exactly what a TICK acts on. -- */

/* coord_ro_add returns a + b (b >= 0) saturated at INT64_MAX. */
int64_t coord_ro_add(int64_t a, int64_t b);

/* coord_ro_after returns the first time that is more than span ms after
 * start (start + span + 1, saturated), COORD_RO_NEVER for a negative span. */
int64_t coord_ro_after(int64_t start, int64_t span);

/* coord_ro_due reports whether now has reached at (never for COORD_RO_NEVER). */
bool coord_ro_due(int64_t now, int64_t at);

/* coord_ro_step_deadline returns when s's outstanding command runs out of
 * the progress deadline; COORD_RO_NEVER when nothing is outstanding or the
 * rollout has no progress deadline (<= 0). Whether that expiry matters
 * depends on the phase (a PREPARE waits for the prepare deadline instead). */
int64_t coord_ro_step_deadline(const coord_rollout *r, const coord_ro_step *s);

/* coord_ro_min returns the earlier of two times. */
static inline int64_t coord_ro_min(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* coord_ro_prev_name names the release a step goes back to. */
static inline const char *coord_ro_prev_name(const coord_ro_step *s)
{
	if (s->prev_version[0] != '\0')
		return s->prev_version;
	return s->prev_sha256[0] != '\0' ? s->prev_sha256 : "the previous release";
}

/* coord_ro_is_member: the step takes part (it was not skipped). */
static inline bool coord_ro_is_member(const coord_ro_step *s)
{
	return s->state != COORD_STEP_SKIPPED;
}

/* coord_ro_push appends an action of kind for step (SIZE_MAX: rollout-wide)
 * and returns it, or NULL if out is full (coord_ro_apply checked the room
 * up front, so NULL means a broken bound). */
coord_ro_action *coord_ro_push(coord_ro_actions *out, coord_ro_action_kind kind, size_t step);

/* coord_ro_event_msg appends an EVENT action of kind with a formatted message. */
void coord_ro_event_msg(coord_ro_actions *out, size_t step, const char *kind, const char *fmt,
			...) __attribute__((format(printf, 4, 5)));

/* coord_ro_issue gives step i the outstanding command cmd issued at now and
 * appends a SEND (the glue then sets step.seq). */
void coord_ro_issue(coord_rollout *r, size_t i, coord_ro_cmd cmd, int64_t now,
		    coord_ro_actions *out);

/* coord_ro_find looks up the step of node: OSP_EINVAL for a NULL node,
 * OSP_ENOENT if no step has that node, else OSP_OK with its index in *i.
 * O(log n) when the steps are sorted by node id (as the glue makes them),
 * else a scan; node ids are unique within a rollout. */
osp_err coord_ro_find(const coord_rollout *r, const char *node, size_t *i);

/* Counting: members (steps not skipped), steps in state st, failed steps
 * (failed, unreachable, reverted). */
size_t coord_ro_members(const coord_rollout *r);
size_t coord_ro_count(const coord_rollout *r, coord_step_state st);
size_t coord_ro_failures(const coord_rollout *r);

/* coord_ro_finish makes r terminal (state st) with r->reason already
 * written: a "rollout.<state>" EVENT, then DONE. */
void coord_ro_finish(coord_rollout *r, coord_ro_state st, int64_t now, coord_ro_actions *out);

/* coord_ro_succeed ends r succeeded ("N nodes on V"). */
void coord_ro_succeed(coord_rollout *r, int64_t now, coord_ro_actions *out);

/* coord_ro_note_runs records in s what the node reports it runs after a
 * command (ev->version, ev->sha256), when it reported anything. */
void coord_ro_note_runs(coord_ro_step *s, const coord_ro_event *ev);

/* -- the post-deploy watch of rolling and recreate (coord_rollout_watch.c) -- */

/* coord_ro_watch_begin enters the watch (phase COORD_RO_WATCH) when every
 * batch is done and a window is set; false when there is nothing to watch
 * (the caller then ends the rollout succeeded). */
bool coord_ro_watch_begin(coord_rollout *r, int64_t now, coord_ro_actions *out);

/* coord_ro_watch_advance is coord_ro_advance for the watch and the way
 * back: true when r is in one of them (then it did what was due: ending the
 * way back once no revert is outstanding). */
bool coord_ro_watch_advance(coord_rollout *r, int64_t now, coord_ro_actions *out);

/* coord_ro_watch_tick ends a watch whose window passed (succeeded); true
 * when it did. coord_ro_watch_deadline says from when it will
 * (COORD_RO_NEVER outside the watch). */
bool coord_ro_watch_tick(coord_rollout *r, int64_t now, coord_ro_actions *out);
int64_t coord_ro_watch_deadline(const coord_rollout *r);

/* coord_ro_watch_health takes a HEALTH report of a rolling or recreate
 * rollout: outside the watch, of a step that is not done, or about another
 * release it is ignored (OSP_OK); unhealthy goes back (auto_rollback) or
 * fails the rollout. OSP_EINVAL without a node, OSP_ENOENT for an unknown one
 * during the watch. */
osp_err coord_ro_watch_health(coord_rollout *r, const coord_ro_event *ev, coord_ro_actions *out);

/* coord_ro_watch_request takes ABORT or ROLLBACK during the watch: every
 * done node is reverted, the rollout ends aborted or rolled_back. OSP_OK
 * while already going back; OSP_ESTATE outside the watch. */
osp_err coord_ro_watch_request(coord_rollout *r, coord_ro_event_kind kind, int64_t now,
			       coord_ro_actions *out);

/* coord_ro_fail_summary writes "N of M nodes failed (budget B): node:
 * reason; ..." into r->reason ("failed to stage" for blue-green). */
void coord_ro_fail_summary(coord_rollout *r);

/* coord_ro_bg_apply handles every event of a blue-green rollout past its
 * stage phase, and HEALTH, ROLLBACK and SCALE_DOWN for any rollout. Same
 * contract as coord_ro_apply (the room in out was checked). */
osp_err coord_ro_bg_apply(coord_rollout *r, const coord_ro_event *ev, coord_ro_actions *out);

/* coord_ro_bg_deadline is coord_ro_next_deadline for the rollouts
 * coord_ro_bg_apply takes (past the stage phase, scale-down included). */
int64_t coord_ro_bg_deadline(const coord_rollout *r, coord_ro_event_kind *kind);

/* The scale-down of the old slots after a switch (coord_rollout_scale.c):
 * coord_ro_scale_down takes SCALE_DOWN (contract in coord_ro_apply);
 * coord_ro_scale_result the answer to one (step i's cmd is SCALE_DOWN);
 * coord_ro_scale_expire gives up on those past the progress deadline (the
 * command stays in the node's log); coord_ro_scale_deadline says when the
 * next SCALE_DOWN or TICK is due for a succeeded slotted rollout. */
osp_err coord_ro_scale_down(coord_rollout *r, int64_t now, coord_ro_actions *out);
void coord_ro_scale_result(coord_rollout *r, size_t i, const coord_ro_event *ev,
			   const char *msg, coord_ro_actions *out);
void coord_ro_scale_expire(coord_rollout *r, int64_t now, coord_ro_actions *out);
int64_t coord_ro_scale_deadline(const coord_rollout *r, coord_ro_event_kind *kind);

/* coord_ro_bg_unpromoted: r is a canary whose promotion switch settled
 * without a commit; the switch leaves it there (it calls nothing above it)
 * and coord_ro_apply hands it to coord_ro_cn_unpromoted in the same step. */
bool coord_ro_bg_unpromoted(const coord_rollout *r);

/* coord_ro_bg_result_stage handles the result of a blue-green STAGE (into
 * the idle slot): READY, or FAILED without a revert (traffic untouched). */
void coord_ro_bg_result_stage(coord_rollout *r, size_t i, const coord_ro_event *ev,
			      const char *msg, coord_ro_actions *out);

/* The switch gate (coord_rollout_gate.c). coord_ro_gate_holds reports
 * whether a staged blue-green rollout must wait for APPROVE before its
 * switch (then it is WAITING_APPROVAL, said once in an event);
 * coord_ro_gate_approve takes APPROVE: OSP_ESTATE unless waiting there. */
bool coord_ro_gate_holds(coord_rollout *r, coord_ro_actions *out);
osp_err coord_ro_gate_approve(coord_rollout *r, int64_t now, coord_ro_actions *out);

/* coord_ro_bg_staged is called when a blue-green rollout has nothing left to
 * stage, within its budget, neither paused nor aborting: it opens the
 * forward switch over the READY steps (or fails when there are none). */
void coord_ro_bg_staged(coord_rollout *r, int64_t now, coord_ro_actions *out);

/* The canary (coord_rollout_canary.c). coord_ro_cn_staged is called when a
 * canary has nothing left to stage, within its budget, neither paused nor
 * aborting: the first weight goes out (or it fails when nothing is READY).
 * coord_ro_cn_apply handles every event in the COORD_CN_* phases (same
 * contract as coord_ro_apply). coord_ro_cn_reset sends weight 0 to every
 * member and ends the rollout once they answered (why goes into the
 * reason; r->ending, if set, is the state it ends in, else failed). */
void coord_ro_cn_staged(coord_rollout *r, int64_t now, coord_ro_actions *out);
osp_err coord_ro_cn_apply(coord_rollout *r, const coord_ro_event *ev, coord_ro_actions *out);
void coord_ro_cn_reset(coord_rollout *r, int64_t now, const char *why, coord_ro_actions *out);
/* coord_ro_cn_deadline is coord_ro_next_deadline in the COORD_CN_* phases. */
int64_t coord_ro_cn_deadline(const coord_rollout *r);
/* coord_ro_cn_unpromoted: a canary's promotion switch settled without a
 * commit (coord_ro_bg_unpromoted): the weights are reset, then it ends. */
void coord_ro_cn_unpromoted(coord_rollout *r, int64_t now, coord_ro_actions *out);

/* coord_ro_result_msg is a RESULT's message, or "failed without a message". */
static inline const char *coord_ro_result_msg(const coord_ro_event *ev)
{
	return ev->message != NULL && ev->message[0] != '\0' ? ev->message
							      : "failed without a message";
}

/* coord_ro_cn_phase: phase is one of the canary's own (COORD_CN_*). */
static inline bool coord_ro_cn_phase(uint32_t phase)
{
	return phase >= COORD_CN_WEIGHT && phase <= COORD_CN_RESET;
}

#endif
