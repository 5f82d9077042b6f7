/*
 * coord_rollout_scale.c - after a blue-green (or promoted canary) rollout
 * succeeded: the scale-down of the old slots, part of the rollout engine.
 * Pure: no I/O, no clock reads, no allocation.
 *
 * The old slots keep running until scale_down_at_ms (the scale-down delay
 * after the commit, longer than the rollback window). The glue sends
 * SCALE_DOWN once its clock reaches that time (coord_ro_next_deadline says
 * when); each node then gets a ScaleDown of its old slot, carrying the
 * generation the rollout staged with, which the agent refuses if that slot
 * is active again. Answers, or the progress deadline, close them.
 */
#include "coord_rollout_int.h"

#include <string.h>

/* coord_ro_scale_expire gives up on scale-downs unanswered within the
 * progress deadline (the node is away; the command stays in its log). */
void coord_ro_scale_expire(coord_rollout *r, int64_t now, coord_ro_actions *out)
{
	char dl[32];
	size_t i;

	coord_ro_duration_fmt(r->progress_deadline_ms, dl, sizeof(dl));
	for (i = 0; i < r->nsteps && r->progress_deadline_ms > 0; i++) {
		coord_ro_step *s = &r->steps[i];

		if (s->cmd != COORD_RO_CMD_SCALE_DOWN ||
		    !coord_ro_due(now, coord_ro_step_deadline(r, s)))
			continue;
		s->cmd = COORD_RO_CMD_NONE;
		coord_ro_event_msg(out, i, "scale_down.unanswered",
				   "%s: no answer to the scale-down of slot %s within %s; it stays "
				   "in its log", s->node, s->old_slot, dl);
	}
}

/* coord_ro_scale_result: a refusal means the old slot is active again. */
void coord_ro_scale_result(coord_rollout *r, size_t i, const coord_ro_event *ev,
			   const char *msg, coord_ro_actions *out)
{
	coord_ro_step *s = &r->steps[i];

	s->cmd = COORD_RO_CMD_NONE;
	if (ev->ok) {
		coord_ro_event_msg(out, i, "scale_down.done", "%s: slot %s stopped", s->node,
				   s->old_slot);
		return;
	}
	coord_ro_append(s->reason, sizeof(s->reason), "%sscale-down of slot %s refused: %s",
			s->reason[0] != '\0' ? "; " : "", s->old_slot, msg);
	coord_ro_event_msg(out, i, "scale_down.refused", "%s: scale-down of slot %s refused: %s",
			   s->node, s->old_slot, msg);
}

osp_err coord_ro_scale_down(coord_rollout *r, int64_t now, coord_ro_actions *out)
{
	size_t i, n = 0;

	if (!coord_ro_slotted(r->strategy) || r->state != COORD_RO_SUCCEEDED ||
	    r->scale_down_at_ms == 0)
		return OSP_ESTATE;
	if (r->scale_down_sent)
		return OSP_OK;
	if (now < r->scale_down_at_ms)
		return OSP_ESTATE;
	r->scale_down_sent = true;
	for (i = 0; i < r->nsteps; i++) {
		coord_ro_step *s = &r->steps[i];

		if (s->state != COORD_STEP_DONE || s->old_slot[0] == '\0')
			continue;
		coord_ro_issue(r, i, COORD_RO_CMD_SCALE_DOWN, now, out);
		coord_ro_event_msg(out, i, "scale_down", "%s: stopping slot %s (%s)", s->node,
				   s->old_slot, coord_ro_prev_name(s));
		n++;
	}
	if (n == 0)
		coord_ro_event_msg(out, SIZE_MAX, "scale_down", "no old slot to stop (first deploy)");
	return OSP_OK;
}

bool coord_ro_scale_down_pending(const coord_rollout *r)
{
	size_t i;

	if (r == NULL || r->state != COORD_RO_SUCCEEDED || r->scale_down_at_ms <= 0)
		return false;
	if (!r->scale_down_sent)
		return true;
	/* kept until every scale-down answered (or its deadline passed) */
	for (i = 0; i < r->nsteps; i++)
		if (r->steps[i].cmd == COORD_RO_CMD_SCALE_DOWN)
			return true;
	return false;
}

int64_t coord_ro_scale_deadline(const coord_rollout *r, coord_ro_event_kind *kind)
{
	int64_t at = COORD_RO_NEVER;
	size_t i;

	*kind = COORD_RO_EV_TICK;
	if (!coord_ro_slotted(r->strategy) || r->state != COORD_RO_SUCCEEDED)
		return COORD_RO_NEVER;
	if (r->scale_down_at_ms != 0 && !r->scale_down_sent) {
		*kind = COORD_RO_EV_SCALE_DOWN;
		return r->scale_down_at_ms;
	}
	for (i = 0; i < r->nsteps; i++)
		if (r->steps[i].cmd == COORD_RO_CMD_SCALE_DOWN)
			at = coord_ro_min(at, coord_ro_step_deadline(r, &r->steps[i]));
	return at;
}
