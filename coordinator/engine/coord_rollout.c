/*
 * coord_rollout.c - the rollout engine: a pure state machine (see
 * coord_rollout.h). No I/O, no clock reads, no allocation.
 *
 * This file is the top of the engine: coord_ro_apply dispatches each event
 * by strategy and phase, and the staging phase every strategy starts with
 * lives here. Rolling stages batch after batch, never two at once. Recreate
 * stops every member at once (phase 0), then stages every stopped member at
 * once (phase 1). blue_green and canary stage in batches like rolling (into
 * the idle slot, READY instead of DONE, no revert), then go on in
 * coord_rollout_bg.c (the two-phase switch) and coord_rollout_canary.c (the
 * weights). Shared helpers are in coord_rollout_core.c; nothing below calls
 * back up into this file.
 *
 * Failures (failed, unreachable, reverted steps) are counted against the
 * budget. A failed stage is reverted (to the previous release, or the app is
 * stopped when there was none). Over budget, no new batch starts and the
 * rollout fails once nothing is outstanding any more, pending reverts
 * included. Reverts within budget do not hold back the next batch.
 */
#include "coord_rollout_int.h"

#include <stdio.h>
#include <string.h>

/* coord_ro_progressing: a STAGE or STOP is outstanding (blocks the next batch). */
static bool coord_ro_progressing(const coord_rollout *r)
{
	size_t i;

	for (i = 0; i < r->nsteps; i++) {
		if (r->steps[i].cmd == COORD_RO_CMD_STAGE || r->steps[i].cmd == COORD_RO_CMD_STOP)
			return true;
	}
	return false;
}

static bool coord_ro_reverting(const coord_rollout *r)
{
	size_t i;

	for (i = 0; i < r->nsteps; i++) {
		if (r->steps[i].revert_pending || r->steps[i].cmd == COORD_RO_CMD_REVERT)
			return true;
	}
	return false;
}

/* coord_ro_nbatches: one more than the highest batch of a member step. */
static uint32_t coord_ro_nbatches(const coord_rollout *r)
{
	uint32_t n = 0;
	size_t i;

	for (i = 0; i < r->nsteps; i++) {
		const coord_ro_step *s = &r->steps[i];

		if (coord_ro_is_member(s) && s->batch != COORD_RO_NO_BATCH && s->batch >= n)
			n = s->batch + 1;
	}
	return n;
}

/* ------------------------------------------------------------- finishing */

static void coord_ro_abort_done(coord_rollout *r, int64_t now, coord_ro_actions *out)
{
	size_t done = coord_ro_count(r, COORD_STEP_DONE), members = coord_ro_members(r);
	size_t nfail = coord_ro_failures(r);

	r->reason[0] = '\0';
	if (coord_ro_slotted(r->strategy)) /* aborts only while staging */
		coord_ro_append(r->reason, sizeof(r->reason),
				"aborted by request: %zu of %zu node%s staged %s, traffic untouched",
				coord_ro_count(r, COORD_STEP_READY), members,
				coord_ro_plural(members), r->version);
	else
		coord_ro_append(r->reason, sizeof(r->reason),
				"aborted by request: %zu of %zu node%s on %s", done, members,
				coord_ro_plural(members), r->version);
	if (nfail > 0)
		coord_ro_append(r->reason, sizeof(r->reason), ", %zu failed", nfail);
	coord_ro_finish(r, COORD_RO_ABORTED, now, out);
}

/* ------------------------------------------------------------- batches */

/* coord_ro_stage_set sends cmd to every step for which pick() holds, makes it
 * STAGING, and records one "batch.started" event titled title. Returns how
 * many steps were started. */
static size_t coord_ro_stage_set(coord_rollout *r, bool (*pick)(const coord_ro_step *, uint32_t),
				 uint32_t arg, coord_ro_cmd cmd, const char *title, int64_t now,
				 coord_ro_actions *out)
{
	char names[COORD_RO_MAX_REASON] = "";
	const char *sep = "";
	size_t i, n = 0;

	for (i = 0; i < r->nsteps; i++) {
		coord_ro_step *s = &r->steps[i];

		if (!pick(s, arg))
			continue;
		s->state = COORD_STEP_STAGING;
		s->finished_ms = 0;
		coord_ro_issue(r, i, cmd, now, out);
		coord_ro_append(names, sizeof(names), "%s%s", sep, s->node);
		sep = ", ";
		n++;
	}
	if (n > 0)
		coord_ro_event_msg(out, SIZE_MAX, "batch.started", "%s: %s", title, names);
	return n;
}

static bool coord_ro_pick_batch(const coord_ro_step *s, uint32_t batch)
{
	return s->state == COORD_STEP_PENDING && s->batch == batch;
}

static bool coord_ro_pick_member(const coord_ro_step *s, uint32_t unused)
{
	(void)unused;
	return s->state == COORD_STEP_PENDING;
}

static bool coord_ro_pick_stopped(const coord_ro_step *s, uint32_t unused)
{
	(void)unused;
	return s->state == COORD_STEP_STAGING && s->stopped && s->cmd == COORD_RO_CMD_NONE;
}

/* coord_ro_next_batch starts the next batch that has pending steps. Returns
 * false when there is none left. */
static bool coord_ro_next_batch(coord_rollout *r, int64_t now, coord_ro_actions *out)
{
	int64_t nb = coord_ro_nbatches(r), next = (int64_t)r->current_batch + 1;
	char title[64];

	if (next < 0)
		next = 0;
	if (nb > INT32_MAX)
		nb = INT32_MAX;
	for (; next < nb; next++) {
		r->current_batch = (int32_t)next;
		snprintf(title, sizeof(title), "batch %lld/%lld", (long long)next + 1,
			 (long long)nb);
		if (coord_ro_stage_set(r, coord_ro_pick_batch, (uint32_t)next, COORD_RO_CMD_STAGE,
				       title, now, out) > 0)
			return true;
	}
	return false;
}

/* coord_ro_recreate_next moves recreate from phase 0 (every member stopped or
 * answered) to phase 1. Returns false when phase 1 is already under way. */
static bool coord_ro_recreate_next(coord_rollout *r, int64_t now, coord_ro_actions *out)
{
	char title[64];
	size_t n = 0, i;

	if (r->phase != 0)
		return false;
	r->phase = 1;
	for (i = 0; i < r->nsteps; i++)
		n += coord_ro_pick_stopped(&r->steps[i], 0);
	snprintf(title, sizeof(title), "recreate: starting %zu node%s", n, coord_ro_plural(n));
	return coord_ro_stage_set(r, coord_ro_pick_stopped, 0, COORD_RO_CMD_STAGE, title, now,
				  out) > 0;
}

/* coord_ro_advance decides what follows the last event: a terminal state,
 * the next batch (or recreate phase), or nothing yet. */
static void coord_ro_advance(coord_rollout *r, int64_t now, coord_ro_actions *out)
{
	bool idle = !coord_ro_progressing(r) && !coord_ro_reverting(r);
	bool started;

	if (coord_ro_terminal(r->state) || r->state == COORD_RO_PENDING)
		return;
	if (coord_ro_watch_advance(r, now, out))
		return;
	if (coord_ro_failures(r) > coord_ro_budget(r)) {
		if (idle) {
			coord_ro_fail_summary(r);
			coord_ro_finish(r, COORD_RO_FAILED, now, out);
		}
		return;
	}
	if (r->abort_requested) {
		if (idle)
			coord_ro_abort_done(r, now, out);
		return;
	}
	if (r->state != COORD_RO_RUNNING || r->paused || coord_ro_progressing(r))
		return;
	if (r->strategy == COORD_RO_RECREATE)
		started = coord_ro_recreate_next(r, now, out);
	else
		started = coord_ro_next_batch(r, now, out);
	if (started || coord_ro_reverting(r))
		return;
	if (r->strategy == COORD_RO_CANARY) {
		coord_ro_cn_staged(r, now, out); /* its gate is before the promotion */
		return;
	}
	if (r->strategy == COORD_RO_BLUE_GREEN) {
		if (!coord_ro_gate_holds(r, out))
			coord_ro_bg_staged(r, now, out);
		return;
	}
	if (coord_ro_count(r, COORD_STEP_DONE) == 0) {
		/* Everything failed within a generous budget: not a success. */
		coord_ro_fail_summary(r);
		coord_ro_finish(r, COORD_RO_FAILED, now, out);
		return;
	}
	if (!coord_ro_watch_begin(r, now, out))
		coord_ro_succeed(r, now, out);
}

/* --------------------------------------------------------------- events */

/* coord_ro_begin starts a rollout that has not started a batch yet. */
static void coord_ro_begin(coord_rollout *r, int64_t now, coord_ro_actions *out)
{
	size_t members = coord_ro_members(r);
	char title[64];

	coord_ro_plan(r);
	if (members == 0) {
		r->reason[0] = '\0';
		coord_ro_append(r->reason, sizeof(r->reason), "no nodes match the selection");
		coord_ro_finish(r, COORD_RO_FAILED, now, out);
		return;
	}
	if (r->strategy == COORD_RO_RECREATE) {
		r->current_batch = 0;
		r->phase = 0;
		snprintf(title, sizeof(title), "recreate: stopping %zu node%s", members,
			 coord_ro_plural(members));
		coord_ro_stage_set(r, coord_ro_pick_member, 0, COORD_RO_CMD_STOP, title, now, out);
		return;
	}
	/* nothing to stage at all (blue-green rollback while the idle slots
	 * still run the release): go straight on to the switch */
	if (!coord_ro_next_batch(r, now, out))
		coord_ro_advance(r, now, out);
}

static osp_err coord_ro_on_start(coord_rollout *r, int64_t now, coord_ro_actions *out)
{
	if (r->state != COORD_RO_PENDING && r->state != COORD_RO_RUNNING &&
	    r->state != COORD_RO_PAUSED)
		return OSP_ESTATE;
	/* A paused rollout seen again after a restart stays paused. */
	if (r->state == COORD_RO_PENDING)
		r->state = COORD_RO_RUNNING;
	if (r->started_ms == 0)
		r->started_ms = now;
	if (r->current_batch < 0) {
		coord_ro_begin(r, now, out);
		return OSP_OK;
	}
	/* After a coordinator restart: the outstanding commands are in the
	 * node logs already, so nothing is re-sent; only re-evaluate. */
	coord_ro_advance(r, now, out);
	return OSP_OK;
}

/* coord_ro_revert_note describes where a revert goes. The agent decides
 * from its own record; prev_version is what it said it ran before. */
static void coord_ro_revert_note(const coord_ro_step *s, char *buf, size_t len)
{
	if (s->prev_version[0] != '\0')
		snprintf(buf, len, "reverting to %s", s->prev_version);
	else
		snprintf(buf, len, "reverting to the release it ran before, if any");
}


static void coord_ro_result_stage(coord_rollout *r, size_t i, const coord_ro_event *ev,
				  const char *msg, coord_ro_actions *out)
{
	coord_ro_step *s = &r->steps[i];
	char note[COORD_RO_NOTE_LEN];

	if (coord_ro_slotted(r->strategy)) {
		coord_ro_bg_result_stage(r, i, ev, msg, out);
		return;
	}
	s->cmd = COORD_RO_CMD_NONE;
	s->finished_ms = ev->now_ms;
	/* what the node really ran before: its own revert target */
	if (ev->prev_version != NULL)
		coord_ro_strlcpy(s->prev_version, ev->prev_version, sizeof(s->prev_version));
	if (ev->ok) {
		s->state = COORD_STEP_DONE;
		coord_ro_strlcpy(s->version, r->version, sizeof(s->version));
		coord_ro_strlcpy(s->sha256, r->sha256, sizeof(s->sha256));
		coord_ro_event_msg(out, i, "step.done", "%s is on %s", s->node, r->version);
		return;
	}
	coord_ro_note_runs(s, ev);
	s->state = COORD_STEP_FAILED;
	s->reason[0] = '\0';
	coord_ro_append(s->reason, sizeof(s->reason), "%s", msg);
	coord_ro_revert_note(s, note, sizeof(note));
	coord_ro_event_msg(out, i, "step.failed", "%s failed: %s; %s", s->node, msg, note);
	/* Without a previous release the revert means "stop the app". */
	coord_ro_issue(r, i, COORD_RO_CMD_REVERT, ev->now_ms, out);
}

static void coord_ro_result_revert(coord_rollout *r, size_t i, const coord_ro_event *ev,
				   const char *msg, coord_ro_actions *out)
{
	coord_ro_step *s = &r->steps[i];

	s->cmd = COORD_RO_CMD_NONE;
	s->revert_pending = false;
	s->finished_ms = ev->now_ms;
	coord_ro_note_runs(s, ev);
	if (ev->ok && ev->version == NULL && ev->sha256 == NULL) /* an agent that names nothing */
		coord_ro_strlcpy(s->version, s->prev_version, sizeof(s->version));
	if (!ev->ok) {
		coord_ro_append(s->reason, sizeof(s->reason), "; revert failed: %s", msg);
		coord_ro_event_msg(out, i, "step.revert_failed", "%s: revert failed: %s", s->node,
				   msg);
		return;
	}
	if (s->state == COORD_STEP_DONE) /* going back after the watch or on request */
		s->reason[0] = '\0';
	s->state = COORD_STEP_REVERTED;
	if (s->version[0] != '\0') {
		coord_ro_append(s->reason, sizeof(s->reason), "%sreverted to %s",
				s->reason[0] != '\0' ? "; " : "", s->version);
		coord_ro_event_msg(out, i, "step.reverted", "%s reverted to %s", s->node,
				   s->version);
	} else {
		coord_ro_append(s->reason, sizeof(s->reason), "%sstopped (no previous release)",
				s->reason[0] != '\0' ? "; " : "");
		coord_ro_event_msg(out, i, "step.reverted",
				   "%s: app stopped (no previous release to revert to)", s->node);
	}
}

static void coord_ro_result_stop(coord_rollout *r, size_t i, const coord_ro_event *ev,
				 const char *msg, coord_ro_actions *out)
{
	coord_ro_step *s = &r->steps[i];

	s->cmd = COORD_RO_CMD_NONE;
	if (ev->ok) {
		s->stopped = true;
		coord_ro_event_msg(out, i, "step.stopped", "%s stopped (recreate)", s->node);
		return;
	}
	/* The old release may still run there: nothing to revert. */
	s->state = COORD_STEP_FAILED;
	s->finished_ms = ev->now_ms;
	s->reason[0] = '\0';
	coord_ro_append(s->reason, sizeof(s->reason), "stop failed: %s", msg);
	coord_ro_event_msg(out, i, "step.failed", "%s failed to stop: %s", s->node, msg);
}

/* coord_ro_late handles an answer that comes after its step stopped waiting:
 * the stage of a node declared unreachable (it ran anyway; the revert the
 * glue appended behind it in the node's log undoes it), or that revert
 * (void_seq). Only recorded: nothing of the rollout changes. Returns false
 * when ev is not such an answer. */
static bool coord_ro_late(coord_rollout *r, size_t i, const coord_ro_event *ev,
			  coord_ro_actions *out)
{
	coord_ro_step *s = &r->steps[i];
	bool voided = s->void_seq != 0 && ev->seq == s->void_seq;

	if (!voided && !(s->state == COORD_STEP_UNREACHABLE && s->cmd == COORD_RO_CMD_NONE &&
			 s->seq != 0 && ev->seq == s->seq))
		return false;
	coord_ro_note_runs(s, ev);
	if (voided)
		coord_ro_event_msg(out, i, "step.late_revert", "%s came back: %s", s->node,
				   ev->ok ? (s->version[0] != '\0' ? s->version : "stopped")
					  : "the revert failed");
	else
		coord_ro_event_msg(out, i, "step.late", "%s answered after the progress deadline "
				   "(%s); the revert queued behind it undoes it", s->node,
				   ev->ok ? "ok" : "failed");
	return true;
}

static osp_err coord_ro_on_result(coord_rollout *r, const coord_ro_event *ev,
				  coord_ro_actions *out)
{
	const char *msg = coord_ro_result_msg(ev);
	coord_ro_step *s;
	size_t i;
	osp_err err = coord_ro_find(r, ev->node, &i);

	if (err != OSP_OK)
		return err;
	s = &r->steps[i];
	if (coord_ro_late(r, i, ev, out))
		return OSP_OK;
	/* Terminal rollouts have nothing outstanding; late or duplicate
	 * results for an older command are ignored. */
	if (coord_ro_terminal(r->state) || ev->seq != s->seq || s->cmd == COORD_RO_CMD_NONE)
		return OSP_OK;
	if (s->cmd == COORD_RO_CMD_STAGE)
		coord_ro_result_stage(r, i, ev, msg, out);
	else if (s->cmd == COORD_RO_CMD_REVERT)
		coord_ro_result_revert(r, i, ev, msg, out);
	else
		coord_ro_result_stop(r, i, ev, msg, out);
	coord_ro_advance(r, ev->now_ms, out);
	return OSP_OK;
}

/* coord_ro_expire handles one step whose outstanding command timed out. */
static void coord_ro_expire(coord_rollout *r, size_t i, const char *dl, int64_t now,
			    coord_ro_actions *out)
{
	coord_ro_step *s = &r->steps[i];

	if (s->cmd == COORD_RO_CMD_REVERT) {
		/* never voided: it brings the node back whenever it returns */
		s->cmd = COORD_RO_CMD_NONE;
		s->revert_pending = false;
		coord_ro_append(s->reason, sizeof(s->reason),
				"; revert unanswered (it reverts when it reconnects)");
		coord_ro_event_msg(out, i, "step.revert_unanswered",
				   "%s: no answer to the revert within the progress deadline (%s); "
				   "the revert stays in its log", s->node, dl);
		return;
	}
	/* the stage is voided; the glue queues a revert of it behind */
	coord_ro_push(out, COORD_RO_ACT_CANCEL, i);
	s->cmd = COORD_RO_CMD_NONE;
	s->state = COORD_STEP_UNREACHABLE;
	s->finished_ms = now;
	s->reason[0] = '\0';
	coord_ro_append(s->reason, sizeof(s->reason),
			"no answer within the progress deadline (%s)", dl);
	coord_ro_event_msg(out, i, "step.unreachable", "%s unreachable: %s", s->node, s->reason);
}

static osp_err coord_ro_on_tick(coord_rollout *r, int64_t now, coord_ro_actions *out)
{
	char dl[32];
	size_t i;

	if (coord_ro_terminal(r->state))
		return OSP_OK;
	coord_ro_duration_fmt(r->progress_deadline_ms, dl, sizeof(dl));
	/* A deadline of 0 or less means none. */
	for (i = 0; i < r->nsteps && r->progress_deadline_ms > 0; i++) {
		const coord_ro_step *s = &r->steps[i];

		if (!coord_ro_due(now, coord_ro_step_deadline(r, s)))
			continue;
		coord_ro_expire(r, i, dl, now, out);
	}
	if (!coord_ro_watch_tick(r, now, out))
		coord_ro_advance(r, now, out);
	return OSP_OK;
}

static osp_err coord_ro_on_pause(coord_rollout *r, coord_ro_actions *out)
{
	if (r->state != COORD_RO_RUNNING || r->abort_requested || r->phase == COORD_RO_WATCH ||
	    r->phase == COORD_RO_BACK)
		return OSP_ESTATE;
	r->state = COORD_RO_PAUSED;
	r->paused = true;
	coord_ro_event_msg(out, SIZE_MAX, "rollout.paused",
			   "paused: no new batch starts; nodes in flight finish");
	return OSP_OK;
}

static osp_err coord_ro_on_resume(coord_rollout *r, int64_t now, coord_ro_actions *out)
{
	if (r->state != COORD_RO_PAUSED)
		return OSP_ESTATE;
	r->state = COORD_RO_RUNNING;
	r->paused = false;
	coord_ro_event_msg(out, SIZE_MAX, "rollout.resumed", "resumed");
	coord_ro_advance(r, now, out);
	return OSP_OK;
}

static osp_err coord_ro_on_abort(coord_rollout *r, int64_t now, coord_ro_actions *out)
{
	if (coord_ro_terminal(r->state))
		return OSP_ESTATE;
	if (r->abort_requested)
		return OSP_OK; /* repeated: already on its way */
	if (r->phase == COORD_RO_WATCH || r->phase == COORD_RO_BACK)
		return coord_ro_watch_request(r, COORD_RO_EV_ABORT, now, out);
	if (r->state == COORD_RO_PENDING) {
		r->reason[0] = '\0';
		coord_ro_append(r->reason, sizeof(r->reason), "aborted before it started");
		coord_ro_finish(r, COORD_RO_ABORTED, now, out);
		return OSP_OK;
	}
	r->abort_requested = true;
	r->paused = false;
	r->state = COORD_RO_RUNNING;
	coord_ro_event_msg(out, SIZE_MAX, "rollout.abort_requested",
			   "abort requested: no new batch starts; nodes in flight finish");
	coord_ro_advance(r, now, out);
	return OSP_OK;
}

/* coord_ro_stage_deadline is coord_ro_next_deadline for what
 * coord_ro_on_tick handles: the staging phase of every strategy, and all of
 * rolling and recreate (their outstanding stage, stop or revert, the watch). */
static int64_t coord_ro_stage_deadline(const coord_rollout *r)
{
	int64_t at = COORD_RO_NEVER;
	size_t i;

	if (coord_ro_terminal(r->state))
		return COORD_RO_NEVER;
	for (i = 0; i < r->nsteps; i++)
		at = coord_ro_min(at, coord_ro_step_deadline(r, &r->steps[i]));
	return coord_ro_min(at, coord_ro_watch_deadline(r));
}

int64_t coord_ro_next_deadline(const coord_rollout *r, coord_ro_event_kind *kind)
{
	coord_ro_event_kind k = COORD_RO_EV_TICK;
	int64_t at;

	/* dispatched as coord_ro_apply dispatches a TICK */
	if (r == NULL || (r->steps == NULL && r->nsteps > 0))
		at = COORD_RO_NEVER;
	else if (r->strategy == COORD_RO_CANARY && coord_ro_cn_phase(r->phase))
		at = coord_ro_cn_deadline(r);
	else if (coord_ro_slotted(r->strategy) && r->phase != COORD_BG_STAGE)
		at = coord_ro_bg_deadline(r, &k);
	else
		at = coord_ro_stage_deadline(r);
	if (kind != NULL)
		*kind = at == COORD_RO_NEVER ? COORD_RO_EV_TICK : k;
	return at;
}

bool coord_ro_watching(const coord_rollout *r)
{
	if (r == NULL || coord_ro_terminal(r->state))
		return false;
	if (coord_ro_slotted(r->strategy))
		return r->phase == COORD_BG_VERIFY;
	return r->phase == COORD_RO_WATCH;
}

/* coord_ro_switch_apply is coord_ro_bg_apply, then the canary's way back
 * when its promotion switch settled without a commit. */
static osp_err coord_ro_switch_apply(coord_rollout *r, const coord_ro_event *ev,
				     coord_ro_actions *out)
{
	osp_err err = coord_ro_bg_apply(r, ev, out);

	if (err == OSP_OK && coord_ro_bg_unpromoted(r))
		coord_ro_cn_unpromoted(r, ev->now_ms, out);
	return err;
}

osp_err coord_ro_apply(coord_rollout *r, const coord_ro_event *ev, coord_ro_actions *out)
{
	if (r == NULL || ev == NULL || out == NULL || (out->v == NULL && out->cap > 0) ||
	    (r->steps == NULL && r->nsteps > 0))
		return OSP_EINVAL;
	if (out->n > out->cap || out->cap - out->n < coord_ro_actions_needed(r))
		return OSP_ETOOBIG;
	if (out->text_len > out->text_cap || (out->text == NULL && out->text_cap > 0))
		return OSP_EINVAL;
	/* Past its stage phase a blue-green rollout is the switch's business, a
	 * canary its weights' until it promotes through the same switch. */
	if (r->strategy == COORD_RO_CANARY && coord_ro_cn_phase(r->phase))
		return coord_ro_cn_apply(r, ev, out);
	if (coord_ro_slotted(r->strategy) && r->phase != COORD_BG_STAGE)
		return coord_ro_switch_apply(r, ev, out);
	switch (ev->kind) {
	case COORD_RO_EV_START:
		return coord_ro_on_start(r, ev->now_ms, out);
	case COORD_RO_EV_TICK:
		return coord_ro_on_tick(r, ev->now_ms, out);
	case COORD_RO_EV_RESULT:
		return coord_ro_on_result(r, ev, out);
	case COORD_RO_EV_PAUSE:
		return coord_ro_on_pause(r, out);
	case COORD_RO_EV_RESUME:
		return coord_ro_on_resume(r, ev->now_ms, out);
	case COORD_RO_EV_ABORT:
		return coord_ro_on_abort(r, ev->now_ms, out);
	case COORD_RO_EV_HEALTH:
		if (!coord_ro_slotted(r->strategy))
			return coord_ro_watch_health(r, ev, out);
		return coord_ro_switch_apply(r, ev, out);
	case COORD_RO_EV_ROLLBACK:
		if (!coord_ro_slotted(r->strategy))
			return coord_ro_watch_request(r, ev->kind, ev->now_ms, out);
		return coord_ro_switch_apply(r, ev, out);
	case COORD_RO_EV_SCALE_DOWN:
		return coord_ro_switch_apply(r, ev, out);
	case COORD_RO_EV_APPROVE:
		return coord_ro_gate_approve(r, ev->now_ms, out);
	case COORD_RO_EV_METRIC:
		return OSP_OK; /* a late answer: its analysis is over */
	}
	return OSP_EINVAL;
}
