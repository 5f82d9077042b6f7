/*
 * coord_rollout_int.h - internals shared by the two halves of the rollout
 * engine: coord_rollout.c (names, plan, batches, rolling and recreate) and
 * coord_rollout_bg.c (the blue-green two-phase switch). Nothing outside
 * those two files includes this header; the glue uses coord_rollout.h.
 */
#ifndef COORD_ROLLOUT_INT_H
#define COORD_ROLLOUT_INT_H

#include <stdarg.h>

#include "coord_rollout.h"

#define COORD_RO_NOTE_LEN 256

/* coord_ro_vappend appends to the NUL-terminated buf of size len; a
 * truncated result ends in "..." so a reader sees that text is missing. */
void coord_ro_vappend(char *buf, size_t len, const char *fmt, va_list ap);

/* coord_ro_append is coord_ro_vappend with arguments. */
void coord_ro_append(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* coord_ro_plural returns "s" for n != 1: "1 node", "3 nodes". */
const char *coord_ro_plural(size_t n);

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
 * OSP_ENOENT if no step has that node, else OSP_OK with its index in *i. */
osp_err coord_ro_find(const coord_rollout *r, const char *node, size_t *i);

/* Counting: members (steps not skipped), steps in state st, failed steps
 * (failed, unreachable, reverted). */
size_t coord_ro_members(const coord_rollout *r);
size_t coord_ro_count(const coord_rollout *r, coord_step_state st);
size_t coord_ro_failures(const coord_rollout *r);

/* coord_ro_finish makes r terminal (state st) with r->reason already
 * written: a "rollout.<state>" EVENT, then DONE. */
void coord_ro_finish(coord_rollout *r, coord_ro_state st, int64_t now, coord_ro_actions *out);

/* coord_ro_fail_summary writes "N of M nodes failed (budget B): node:
 * reason; ..." into r->reason ("failed to stage" for blue-green). */
void coord_ro_fail_summary(coord_rollout *r);

/* coord_ro_bg_apply handles every event of a blue-green rollout past its
 * stage phase, and HEALTH, ROLLBACK and SCALE_DOWN for any rollout. Same
 * contract as coord_ro_apply (the room in out was checked). */
osp_err coord_ro_bg_apply(coord_rollout *r, const coord_ro_event *ev, coord_ro_actions *out);

/* coord_ro_bg_result_stage handles the result of a blue-green STAGE (into
 * the idle slot): READY, or FAILED without a revert (traffic untouched). */
void coord_ro_bg_result_stage(coord_rollout *r, size_t i, const coord_ro_event *ev,
			      const char *msg, coord_ro_actions *out);

/* coord_ro_bg_staged is called when a blue-green rollout has nothing left to
 * stage, within its budget, neither paused nor aborting: it opens the
 * forward switch over the READY steps (or fails when there are none). */
void coord_ro_bg_staged(coord_rollout *r, int64_t now, coord_ro_actions *out);

#endif
