/*
 * coord_rollout_bg.c - the blue-green half of the rollout engine: the
 * two-phase traffic switch of DESIGN.md ("Two-phase traffic switch"). Pure:
 * no I/O, no clock reads, no allocation.
 *
 * Staging into the idle slot runs through the batches of coord_rollout.c
 * (READY instead of DONE, no revert). Then one switch at a time:
 *
 *   PREPARE  every READY step gets a PREPARE towards step.to_slot and votes;
 *            the decision is taken when every member voted or the prepare
 *            deadline passed (a missing vote counts as NO).
 *   COMMIT   ACT_DECIDE (the glue records the decision durably) comes before
 *            the DECIDE sends; YES voters get the decision, everyone else an
 *            abort. DECIDE is never cancelled: a node that does not answer is
 *            unreachable and learns the decision when it reconnects.
 *   VERIFY   health is watched until verify_until_ms; an unhealthy report or
 *            an operator ROLLBACK opens a switch back (BACK_PREPARE,
 *            BACK_COMMIT) towards each step's old_slot, ending rolled_back.
 *
 * After success the rollout is terminal; SCALE_DOWN (from the glue, once
 * scale_down_at_ms is reached) stops the old slots (coord_rollout_scale.c).
 */
#include "coord_rollout_int.h"

#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------- helpers */

static bool coord_ro_bg_back(const coord_rollout *r)
{
	return r->phase == COORD_BG_BACK_PREPARE || r->phase == COORD_BG_BACK_COMMIT;
}

static int64_t coord_ro_bg_prepare_ms(const coord_rollout *r)
{
	return r->prepare_deadline_ms > 0 ? r->prepare_deadline_ms : COORD_RO_PREPARE_DEADLINE_MS;
}

/* coord_ro_bg_prepare_deadline: from then a missing vote counts as NO. */
static int64_t coord_ro_bg_prepare_deadline(const coord_rollout *r)
{
	return coord_ro_after(r->prepare_started_ms, coord_ro_bg_prepare_ms(r));
}

/* coord_ro_bg_verify_deadline: from then the rollback window is over. */
static int64_t coord_ro_bg_verify_deadline(const coord_rollout *r)
{
	return coord_ro_after(r->verify_until_ms, 0);
}

/* coord_ro_bg_waiting counts the members of the switch still owing cmd. */
static size_t coord_ro_bg_waiting(const coord_rollout *r, coord_ro_cmd cmd)
{
	size_t i, n = 0;

	for (i = 0; i < r->nsteps; i++)
		n += r->steps[i].in_switch && r->steps[i].cmd == cmd;
	return n;
}

/* coord_ro_bg_slot returns the slot the done steps serve, "mixed" if they
 * differ (slots are chosen per node). */
static const char *coord_ro_bg_slot(const coord_rollout *r)
{
	const char *slot = NULL;
	size_t i;

	for (i = 0; i < r->nsteps; i++) {
		const coord_ro_step *s = &r->steps[i];

		if (s->state != COORD_STEP_DONE)
			continue;
		if (slot != NULL && strcmp(slot, s->slot) != 0)
			return "mixed";
		slot = s->slot;
	}
	return slot != NULL ? slot : "none";
}

static void coord_ro_bg_set_reason(coord_ro_step *s, const char *text)
{
	s->reason[0] = '\0';
	coord_ro_append(s->reason, sizeof(s->reason), "%s", text);
}

/* --------------------------------------------------------------- stage */

void coord_ro_bg_result_stage(coord_rollout *r, size_t i, const coord_ro_event *ev,
			      const char *msg, coord_ro_actions *out)
{
	coord_ro_step *s = &r->steps[i];

	s->cmd = COORD_RO_CMD_NONE;
	s->finished_ms = ev->now_ms;
	/* the agent picked the idle slot and says what is active: its own
	 * record at that moment, never a heartbeat snapshot */
	if (ev->slot != NULL && (strcmp(ev->slot, "blue") == 0 || strcmp(ev->slot, "green") == 0))
		coord_ro_strlcpy(s->slot, ev->slot, sizeof(s->slot));
	if (ev->active_slot != NULL)
		coord_ro_strlcpy(s->old_slot, strcmp(ev->active_slot, s->slot) != 0 ? ev->active_slot : "",
			    sizeof(s->old_slot));
	if (ev->prev_version != NULL) {
		coord_ro_strlcpy(s->prev_version, ev->prev_version, sizeof(s->prev_version));
		/* traffic still goes to the active slot's release */
		coord_ro_strlcpy(s->version, ev->prev_version, sizeof(s->version));
	}
	if (ev->ok) {
		s->state = COORD_STEP_READY;
		coord_ro_event_msg(out, i, "step.ready", "%s staged %s in slot %s", s->node,
				   r->version, s->slot);
		return;
	}
	/* The active slot never changed: nothing to revert. */
	s->state = COORD_STEP_FAILED;
	coord_ro_bg_set_reason(s, msg);
	coord_ro_event_msg(out, i, "step.failed",
			   "%s failed to stage in slot %s: %s (traffic untouched)", s->node, s->slot,
			   msg);
}

/* -------------------------------------------------------------- switch */

/* coord_ro_bg_switch_id names switch r->switch_no "<rollout id>-s<n>",
 * shortening the id rather than the number if it does not fit. */
static void coord_ro_bg_switch_id(coord_rollout *r)
{
	char suffix[16];
	int n = snprintf(suffix, sizeof(suffix), "-s%u", r->switch_no);
	int keep = (int)sizeof(r->switch_id) - 1 - n;

	if (n < 0 || keep < 0)
		keep = 0;
	snprintf(r->switch_id, sizeof(r->switch_id), "%.*s%s", keep, r->id, suffix);
}

/* coord_ro_bg_open opens the next switch over the steps marked in_switch
 * (their to_slot set): PREPARE to each, one "switch.prepare" event. */
static void coord_ro_bg_open(coord_rollout *r, int64_t now, coord_ro_actions *out)
{
	bool back = coord_ro_bg_back(r);
	size_t i, n = 0;

	r->switch_no++;
	coord_ro_bg_switch_id(r);
	r->decision = COORD_RO_DECISION_NONE;
	r->prepare_started_ms = now;
	r->first_ack_ms = 0;
	r->last_ack_ms = 0;
	for (i = 0; i < r->nsteps; i++) {
		coord_ro_step *s = &r->steps[i];

		if (!s->in_switch)
			continue;
		s->vote = COORD_RO_VOTE_NONE;
		s->decide_commit = false;
		s->acked_ms = 0;
		s->state = COORD_STEP_SWITCHING;
		coord_ro_issue(r, i, COORD_RO_CMD_PREPARE, now, out);
		n++;
	}
	coord_ro_event_msg(out, SIZE_MAX, "switch.prepare", "switch %s: %zu node%s prepare to %s",
			   r->switch_id, n, coord_ro_plural(n),
			   back ? "switch back" : "switch to the new release");
}

void coord_ro_bg_staged(coord_rollout *r, int64_t now, coord_ro_actions *out)
{
	size_t i;

	if (coord_ro_count(r, COORD_STEP_READY) == 0) {
		/* Every member failed within a generous budget: not a success. */
		coord_ro_fail_summary(r);
		coord_ro_finish(r, COORD_RO_FAILED, now, out);
		return;
	}
	for (i = 0; i < r->nsteps; i++) {
		coord_ro_step *s = &r->steps[i];

		s->in_switch = s->state == COORD_STEP_READY;
		if (s->in_switch)
			coord_ro_strlcpy(s->to_slot, s->slot, sizeof(s->to_slot));
	}
	r->reason[0] = '\0';
	r->phase = COORD_BG_PREPARE;
	coord_ro_bg_open(r, now, out);
}

/* coord_ro_bg_switch_back opens a switch back after why: every done member
 * of the forward switch that has an old slot goes back to it. */
static void coord_ro_bg_switch_back(coord_rollout *r, int64_t now, const char *why,
				    coord_ro_actions *out)
{
	char note[COORD_RO_MAX_REASON] = "";
	size_t i, n = 0;

	coord_ro_append(note, sizeof(note), "%s", why);
	for (i = 0; i < r->nsteps; i++) {
		coord_ro_step *s = &r->steps[i];
		bool done = s->in_switch && s->state == COORD_STEP_DONE;

		s->in_switch = done && s->old_slot[0] != '\0';
		if (done && !s->in_switch)
			coord_ro_append(note, sizeof(note),
					"; %s stays on %s (first deploy there: no slot to go back to)",
					s->node, r->version);
		if (!s->in_switch)
			continue;
		coord_ro_strlcpy(s->to_slot, s->old_slot, sizeof(s->to_slot));
		n++;
	}
	coord_ro_event_msg(out, SIZE_MAX, "rollout.switching_back", "switching back after %s",
			   why);
	r->reason[0] = '\0';
	if (n == 0) {
		coord_ro_append(r->reason, sizeof(r->reason),
				"nothing to switch back to (first deploy) after %s", note);
		coord_ro_finish(r, r->ending == COORD_RO_ABORTED ? COORD_RO_ABORTED : COORD_RO_FAILED,
				now, out);
		return;
	}
	/* Kept for the final reason, written when the switch back settles. */
	coord_ro_append(r->reason, sizeof(r->reason), "%s", note);
	r->phase = COORD_BG_BACK_PREPARE;
	coord_ro_bg_open(r, now, out);
}

/* ------------------------------------------------------------- decide */

/* coord_ro_bg_tally counts the votes of the current switch. With deadline,
 * a member without a vote is a NO. Every NO is listed in nos ("web-2 voted
 * no: reason; web-3: no vote before the prepare deadline (30s)"). */
static void coord_ro_bg_tally(coord_rollout *r, bool deadline, size_t *yes, char *nos,
			      size_t noslen)
{
	const char *sep = "";
	char dl[32];
	size_t i;

	coord_ro_duration_fmt(coord_ro_bg_prepare_ms(r), dl, sizeof(dl));
	*yes = 0;
	for (i = 0; i < r->nsteps; i++) {
		coord_ro_step *s = &r->steps[i];

		if (!s->in_switch)
			continue;
		if (s->vote == COORD_RO_VOTE_NONE && deadline) {
			s->vote = COORD_RO_VOTE_NO;
			s->reason[0] = '\0';
			coord_ro_append(s->reason, sizeof(s->reason),
					"no vote before the prepare deadline (%s)", dl);
			coord_ro_append(nos, noslen, "%s%s: %s", sep, s->node, s->reason);
			sep = "; ";
		} else if (s->vote == COORD_RO_VOTE_NO) {
			coord_ro_append(nos, noslen, "%s%s voted no: %s", sep, s->node, s->reason);
			sep = "; ";
		}
		*yes += s->vote == COORD_RO_VOTE_YES;
	}
}

/* coord_ro_bg_decide_reason writes the rollout's reason for the decision;
 * a switch back finds its trigger in r->reason (coord_ro_bg_switch_back). */
static void coord_ro_bg_decide_reason(coord_rollout *r, bool commit, const char *nos)
{
	char why[COORD_RO_MAX_REASON];
	const char *old = "the previous release";
	size_t i;

	coord_ro_strlcpy(why, r->reason, sizeof(why));
	r->reason[0] = '\0';
	if (!coord_ro_bg_back(r)) {
		/* commit: the reason is written when the rollout ends */
		if (!commit && !r->abort_requested)
			coord_ro_append(r->reason, sizeof(r->reason), "switch aborted: %s", nos);
		return;
	}
	if (!commit) {
		coord_ro_append(r->reason, sizeof(r->reason),
				"switch back failed: no node voted yes (%s), after %s", nos, why);
		return;
	}
	for (i = 0; i < r->nsteps; i++) {
		if (r->steps[i].in_switch && r->steps[i].vote == COORD_RO_VOTE_YES) {
			old = coord_ro_prev_name(&r->steps[i]);
			break;
		}
	}
	coord_ro_append(r->reason, sizeof(r->reason), "switched back to %s after %s", old, why);
	if (nos[0] != '\0')
		coord_ro_append(r->reason, sizeof(r->reason), "; still on %s: %s", r->version, nos);
}

/* coord_ro_bg_decide takes the decision of the current switch, records it
 * (ACT_DECIDE first), then sends every member its DECIDE. */
static void coord_ro_bg_decide(coord_rollout *r, int64_t now, bool deadline,
			       coord_ro_actions *out)
{
	char nos[COORD_RO_MAX_REASON] = "";
	bool back = coord_ro_bg_back(r), commit;
	coord_ro_action *a;
	size_t i, yes;

	coord_ro_bg_tally(r, deadline, &yes, nos, sizeof(nos));
	for (i = 0; i < r->nsteps; i++) {
		coord_ro_step *s = &r->steps[i];

		if (s->in_switch && s->vote == COORD_RO_VOTE_NO) {
			s->state = COORD_STEP_FAILED; /* excluded from the switch */
			s->finished_ms = now;
			if (back)
				coord_ro_append(s->reason, sizeof(s->reason), "; still on %s",
						r->version);
		}
	}
	/* Going back must not be blocked by the broken release: any YES goes. */
	if (back)
		commit = yes > 0;
	else if (r->strategy == COORD_RO_CANARY) /* promoted everywhere or nowhere */
		commit = !r->abort_requested && yes > 0 && nos[0] == '\0';
	else
		commit = !r->abort_requested && yes > 0 &&
			 coord_ro_failures(r) <= coord_ro_budget(r);
	r->decision = commit ? COORD_RO_DECISION_COMMIT : COORD_RO_DECISION_ABORT;
	a = coord_ro_push(out, COORD_RO_ACT_DECIDE, SIZE_MAX);
	if (a != NULL) {
		coord_ro_strlcpy(a->event, commit ? "commit" : "abort", sizeof(a->event));
		coord_ro_msg(out, a, "%s", r->switch_id);
	}
	if (commit)
		coord_ro_event_msg(out, SIZE_MAX, "switch.decided", "commit: %zu yes%s%s", yes,
				   nos[0] != '\0' ? "; excluded: " : "", nos);
	else
		coord_ro_event_msg(out, SIZE_MAX, "switch.decided", "abort: %s",
				   r->abort_requested && !back ? "aborted by request"
				   : nos[0] != '\0'	       ? nos
							       : "no node voted yes");
	coord_ro_bg_decide_reason(r, commit, nos);
	r->phase = back ? COORD_BG_BACK_COMMIT : COORD_BG_COMMIT;
	for (i = 0; i < r->nsteps; i++) {
		coord_ro_step *s = &r->steps[i];

		if (!s->in_switch)
			continue;
		if (s->vote == COORD_RO_VOTE_NO)
			coord_ro_event_msg(out, i, "step.failed", "%s excluded from switch %s: %s",
					   s->node, r->switch_id, s->reason);
		s->decide_commit = commit && s->vote == COORD_RO_VOTE_YES;
		coord_ro_issue(r, i, COORD_RO_CMD_DECIDE, now, out);
	}
}

/* coord_ro_bg_vote records the vote carried by the result of a PREPARE and
 * decides once every member voted. */
static void coord_ro_bg_vote(coord_rollout *r, size_t i, const coord_ro_event *ev,
			     const char *msg, coord_ro_actions *out)
{
	coord_ro_step *s = &r->steps[i];
	size_t k;

	s->cmd = COORD_RO_CMD_NONE;
	if (ev->ok) {
		s->vote = COORD_RO_VOTE_YES;
		coord_ro_event_msg(out, i, "step.voted", "%s voted yes in switch %s", s->node,
				   r->switch_id);
	} else {
		s->vote = COORD_RO_VOTE_NO;
		coord_ro_bg_set_reason(s, msg);
		coord_ro_event_msg(out, i, "step.voted", "%s voted no in switch %s: %s", s->node,
				   r->switch_id, msg);
	}
	for (k = 0; k < r->nsteps; k++) {
		if (r->steps[k].in_switch && r->steps[k].vote == COORD_RO_VOTE_NONE)
			return;
	}
	coord_ro_bg_decide(r, ev->now_ms, false, out);
}

/* ------------------------------------------------------------- settle */

static void coord_ro_bg_succeed(coord_rollout *r, int64_t now, coord_ro_actions *out)
{
	size_t done = coord_ro_count(r, COORD_STEP_DONE), nfail = coord_ro_failures(r);
	int64_t win = r->rollback_window_ms > 0 ? r->rollback_window_ms : 0;
	int64_t wait = r->scale_down_delay_ms > win ? r->scale_down_delay_ms - win : 0;

	r->reason[0] = '\0';
	coord_ro_append(r->reason, sizeof(r->reason), "%zu node%s on %s (slot %s), flip skew %lld ms",
			done, coord_ro_plural(done), r->version, coord_ro_bg_slot(r),
			(long long)(r->last_ack_ms - r->first_ack_ms));
	if (nfail > 0)
		coord_ro_append(r->reason, sizeof(r->reason), " (%zu failed%s)", nfail,
				nfail <= coord_ro_budget(r) ? " within budget" : "");
	/* The old slots run until scale_down_delay after the commit. */
	r->scale_down_at_ms = coord_ro_add(now, wait);
	coord_ro_finish(r, COORD_RO_SUCCEEDED, now, out);
}

/* coord_ro_bg_unapplied: a committed forward switch no node acknowledged. */
static void coord_ro_bg_unapplied(coord_rollout *r, int64_t now, coord_ro_actions *out)
{
	const char *sep = ": ";
	size_t i;

	r->reason[0] = '\0';
	coord_ro_append(r->reason, sizeof(r->reason), "switch %s committed but no node applied it",
			r->switch_id);
	for (i = 0; i < r->nsteps; i++) {
		if (!r->steps[i].in_switch)
			continue;
		coord_ro_append(r->reason, sizeof(r->reason), "%s%s: %s", sep, r->steps[i].node,
				r->steps[i].reason);
		sep = "; ";
	}
	coord_ro_finish(r, COORD_RO_FAILED, now, out);
}

/* coord_ro_bg_settle_back ends the rollout once the switch back settled. */
static void coord_ro_bg_settle_back(coord_rollout *r, int64_t now, coord_ro_actions *out)
{
	size_t i, n = coord_ro_count(r, COORD_STEP_REVERTED);

	r->scale_down_at_ms = 0; /* both slots stay as they are */
	if (r->decision != COORD_RO_DECISION_COMMIT) {
		coord_ro_finish(r, COORD_RO_FAILED, now, out);
		return;
	}
	if (r->ending == COORD_RO_ABORTED) {
		char why[COORD_RO_MAX_REASON];

		coord_ro_strlcpy(why, r->reason, sizeof(why));
		r->reason[0] = '\0';
		coord_ro_append(r->reason, sizeof(r->reason), "aborted by request: %s", why);
	}
	coord_ro_event_msg(out, SIZE_MAX, "switch.committed",
			   "switch %s committed: %zu node%s back on the old slot, flip skew %lld ms",
			   r->switch_id, n, coord_ro_plural(n),
			   (long long)(r->last_ack_ms - r->first_ack_ms));
	/* YES voters that did not confirm (they converge when they reconnect). */
	for (i = 0; i < r->nsteps; i++) {
		const coord_ro_step *s = &r->steps[i];

		if (s->in_switch && s->decide_commit && s->state != COORD_STEP_REVERTED)
			coord_ro_append(r->reason, sizeof(r->reason), "; %s: %s", s->node,
					s->reason);
	}
	coord_ro_finish(r, r->ending != 0 ? r->ending : COORD_RO_ROLLED_BACK, now, out);
}

/* coord_ro_bg_settle follows the last answer (or timeout) to a decision. */
static void coord_ro_bg_settle(coord_rollout *r, int64_t now, coord_ro_actions *out)
{
	size_t done;

	if (coord_ro_bg_back(r)) {
		coord_ro_bg_settle_back(r, now, out);
		return;
	}
	if (r->decision != COORD_RO_DECISION_COMMIT && r->strategy == COORD_RO_CANARY)
		return; /* coord_ro_bg_unpromoted: the canary resets its weights */
	if (r->decision != COORD_RO_DECISION_COMMIT) {
		if (r->abort_requested)
			coord_ro_append(r->reason, sizeof(r->reason),
					"aborted by request: switch %s aborted, traffic untouched",
					r->switch_id);
		coord_ro_finish(r, r->abort_requested ? COORD_RO_ABORTED : COORD_RO_FAILED, now,
				out);
		return;
	}
	done = coord_ro_count(r, COORD_STEP_DONE);
	if (done == 0) {
		coord_ro_bg_unapplied(r, now, out);
		return;
	}
	r->phase = COORD_BG_VERIFY;
	r->verify_until_ms = coord_ro_add(now, r->rollback_window_ms > 0 ? r->rollback_window_ms
									  : 0);
	coord_ro_event_msg(out, SIZE_MAX, "switch.committed",
			   "switch %s committed: %zu node%s on slot %s, flip skew %lld ms",
			   r->switch_id, done, coord_ro_plural(done), coord_ro_bg_slot(r),
			   (long long)(r->last_ack_ms - r->first_ack_ms));
	if (r->rollback_window_ms <= 0)
		coord_ro_bg_succeed(r, now, out); /* no window: nothing to verify */
}

bool coord_ro_switch_undecided(const coord_rollout *r)
{
	return r != NULL && !coord_ro_terminal(r->state) && r->decision == COORD_RO_DECISION_NONE;
}

bool coord_ro_bg_unpromoted(const coord_rollout *r)
{
	return r->strategy == COORD_RO_CANARY && !coord_ro_terminal(r->state) &&
	       r->phase == COORD_BG_COMMIT && r->decision == COORD_RO_DECISION_ABORT &&
	       coord_ro_bg_waiting(r, COORD_RO_CMD_DECIDE) == 0;
}

/* coord_ro_bg_ack handles the answer to a DECIDE. */
static void coord_ro_bg_ack(coord_rollout *r, size_t i, const coord_ro_event *ev,
			    const char *msg, coord_ro_actions *out)
{
	coord_ro_step *s = &r->steps[i];
	bool back = coord_ro_bg_back(r);
	int64_t now = ev->now_ms;

	s->cmd = COORD_RO_CMD_NONE;
	s->finished_ms = now;
	if (!ev->ok) {
		if (s->state != COORD_STEP_FAILED)
			s->reason[0] = '\0';
		else
			coord_ro_append(s->reason, sizeof(s->reason), "; ");
		s->state = COORD_STEP_FAILED;
		coord_ro_append(s->reason, sizeof(s->reason), "%s failed: %s",
				!s->decide_commit ? "discarding the switch"
				: back		  ? "switching back"
						  : "applying the switch",
				msg);
		coord_ro_event_msg(out, i, "step.failed", "%s: %s", s->node, s->reason);
	} else if (s->decide_commit) {
		s->acked_ms = now;
		if (r->first_ack_ms == 0 || now < r->first_ack_ms)
			r->first_ack_ms = now;
		if (now > r->last_ack_ms)
			r->last_ack_ms = now;
		s->state = back ? COORD_STEP_REVERTED : COORD_STEP_DONE;
		s->reason[0] = '\0';
		coord_ro_strlcpy(s->version, back ? s->prev_version : r->version, sizeof(s->version));
		if (!back)
			coord_ro_strlcpy(s->sha256, r->sha256, sizeof(s->sha256));
		if (back)
			coord_ro_append(s->reason, sizeof(s->reason), "switched back to %s (slot %s)",
					coord_ro_prev_name(s), s->to_slot);
		coord_ro_event_msg(out, i, back ? "step.switched_back" : "step.switched",
				   "%s switched to slot %s", s->node, s->to_slot);
	} else {
		s->acked_ms = now;
		if (s->state == COORD_STEP_SWITCHING) {
			/* An abort: the node stays where it was. */
			s->state = back ? COORD_STEP_DONE : COORD_STEP_READY;
			coord_ro_bg_set_reason(s, back ? "switch back aborted" : "switch aborted");
		}
		coord_ro_event_msg(out, i, "step.switch_aborted", "%s discarded switch %s",
				   s->node, r->switch_id);
	}
	if (coord_ro_bg_waiting(r, COORD_RO_CMD_DECIDE) == 0)
		coord_ro_bg_settle(r, now, out);
}

/* coord_ro_bg_expire marks members that did not answer their DECIDE within
 * the progress deadline unreachable. No CANCEL: the decision stays in the
 * node's log and is applied when the node reconnects. */
static void coord_ro_bg_expire(coord_rollout *r, int64_t now, coord_ro_actions *out)
{
	char dl[32];
	size_t i, n = 0;

	coord_ro_duration_fmt(r->progress_deadline_ms, dl, sizeof(dl));
	for (i = 0; i < r->nsteps && r->progress_deadline_ms > 0; i++) {
		coord_ro_step *s = &r->steps[i];

		if (!s->in_switch || s->cmd != COORD_RO_CMD_DECIDE ||
		    !coord_ro_due(now, coord_ro_step_deadline(r, s)))
			continue;
		s->cmd = COORD_RO_CMD_NONE;
		s->finished_ms = now;
		if (s->state == COORD_STEP_FAILED) {
			coord_ro_append(s->reason, sizeof(s->reason), "; decision unanswered");
		} else {
			s->state = COORD_STEP_UNREACHABLE;
			s->reason[0] = '\0';
			coord_ro_append(s->reason, sizeof(s->reason),
					"no answer to the switch decision within the progress "
					"deadline (%s); it gets the decision (%s) when it reconnects",
					dl, s->decide_commit ? "commit" : "abort");
		}
		coord_ro_event_msg(out, i, "step.unreachable", "%s: %s", s->node, s->reason);
		n++;
	}
	if (n > 0 && coord_ro_bg_waiting(r, COORD_RO_CMD_DECIDE) == 0)
		coord_ro_bg_settle(r, now, out);
}

/* -------------------------------------------------------------- events */

static osp_err coord_ro_bg_on_tick(coord_rollout *r, int64_t now, coord_ro_actions *out)
{
	if (r->state == COORD_RO_SUCCEEDED)
		coord_ro_scale_expire(r, now, out);
	if (coord_ro_terminal(r->state))
		return OSP_OK;
	switch (r->phase) {
	case COORD_BG_PREPARE:
	case COORD_BG_BACK_PREPARE:
		/* Outstanding PREPAREs are not cancelled: a late vote is ignored. */
		if (r->decision == COORD_RO_DECISION_NONE &&
		    coord_ro_due(now, coord_ro_bg_prepare_deadline(r)))
			coord_ro_bg_decide(r, now, true, out);
		break;
	case COORD_BG_COMMIT:
	case COORD_BG_BACK_COMMIT:
		coord_ro_bg_expire(r, now, out);
		break;
	case COORD_BG_VERIFY:
		if (coord_ro_due(now, coord_ro_bg_verify_deadline(r)))
			coord_ro_bg_succeed(r, now, out);
		break;
	default:
		break;
	}
	return OSP_OK;
}

static osp_err coord_ro_bg_on_result(coord_rollout *r, const coord_ro_event *ev,
				     coord_ro_actions *out)
{
	const char *msg = coord_ro_result_msg(ev);
	bool voting = r->phase == COORD_BG_PREPARE || r->phase == COORD_BG_BACK_PREPARE;
	bool acking = r->phase == COORD_BG_COMMIT || r->phase == COORD_BG_BACK_COMMIT;
	coord_ro_step *s;
	size_t i;
	osp_err err = coord_ro_find(r, ev->node, &i);

	if (err != OSP_OK)
		return err;
	s = &r->steps[i];
	/* Late and duplicate answers are ignored (their command is gone). */
	if (ev->seq != s->seq || s->cmd == COORD_RO_CMD_NONE)
		return OSP_OK;
	if (s->cmd == COORD_RO_CMD_SCALE_DOWN) /* the rollout is terminal by now */
		coord_ro_scale_result(r, i, ev, msg, out);
	else if (coord_ro_terminal(r->state) || !s->in_switch)
		return OSP_OK;
	else if (s->cmd == COORD_RO_CMD_PREPARE && voting && r->decision == COORD_RO_DECISION_NONE)
		coord_ro_bg_vote(r, i, ev, msg, out);
	else if (s->cmd == COORD_RO_CMD_DECIDE && acking)
		coord_ro_bg_ack(r, i, ev, msg, out);
	return OSP_OK;
}

static osp_err coord_ro_bg_on_health(coord_rollout *r, const coord_ro_event *ev,
				     coord_ro_actions *out)
{
	char why[COORD_RO_MAX_REASON] = "";
	const char *msg = ev->message != NULL ? ev->message : "";
	coord_ro_step *s;
	size_t i;
	osp_err err;

	if (ev->node == NULL)
		return OSP_EINVAL;
	if (!coord_ro_slotted(r->strategy) || coord_ro_terminal(r->state) ||
	    r->phase != COORD_BG_VERIFY)
		return OSP_OK;
	if ((err = coord_ro_find(r, ev->node, &i)) != OSP_OK)
		return err;
	s = &r->steps[i];
	/* Only a switched node's report about its new slot counts. An empty
	 * slot is not "any": the node had no active slot when it wrote that
	 * report, so it was written before the switch it acknowledged (the
	 * agent records the slot before it answers) and arrived late. */
	if (!s->in_switch || s->state != COORD_STEP_DONE ||
	    (ev->slot != NULL && strcmp(ev->slot, s->slot) != 0))
		return OSP_OK;
	if (ev->ok) {
		if (!s->healthy_seen)
			coord_ro_event_msg(out, i, "step.healthy", "%s healthy on slot %s", s->node,
					   s->slot);
		s->healthy_seen = true;
		return OSP_OK;
	}
	coord_ro_append(why, sizeof(why), "%s: unhealthy on slot %s%s%s", s->node, s->slot,
			msg[0] != '\0' ? ": " : "", msg);
	coord_ro_event_msg(out, i, "step.unhealthy", "%s", why);
	coord_ro_bg_switch_back(r, ev->now_ms, why, out);
	return OSP_OK;
}

static osp_err coord_ro_bg_on_rollback(coord_rollout *r, int64_t now, coord_ro_actions *out)
{
	if (!coord_ro_slotted(r->strategy) || coord_ro_terminal(r->state))
		return OSP_ESTATE;
	if (coord_ro_bg_back(r))
		return OSP_OK; /* already on its way back */
	if (r->phase != COORD_BG_VERIFY)
		return OSP_ESTATE;
	r->ending = COORD_RO_ROLLED_BACK;
	coord_ro_bg_switch_back(r, now, "a rollback request", out);
	return OSP_OK;
}

static osp_err coord_ro_bg_on_abort(coord_rollout *r, int64_t now, coord_ro_actions *out)
{
	if (coord_ro_terminal(r->state))
		return OSP_ESTATE;
	if (r->abort_requested || coord_ro_bg_back(r))
		return OSP_OK; /* repeated: already on its way */
	if (r->phase == COORD_BG_VERIFY) {
		/* the old slots still run the old release: going back is instant */
		r->ending = COORD_RO_ABORTED;
		coord_ro_bg_switch_back(r, now, "an abort request", out);
		return OSP_OK;
	}
	if (r->phase != COORD_BG_PREPARE || r->decision != COORD_RO_DECISION_NONE)
		return OSP_ESTATE; /* decided, being applied: wait for verify */
	r->abort_requested = true;
	coord_ro_event_msg(out, SIZE_MAX, "rollout.abort_requested",
			   "abort requested: switch %s is aborted, traffic untouched", r->switch_id);
	coord_ro_bg_decide(r, now, false, out);
	return OSP_OK;
}

int64_t coord_ro_bg_deadline(const coord_rollout *r, coord_ro_event_kind *kind)
{
	int64_t at = COORD_RO_NEVER;
	size_t i;

	*kind = COORD_RO_EV_TICK;
	if (r->state == COORD_RO_SUCCEEDED)
		return coord_ro_scale_deadline(r, kind);
	if (coord_ro_terminal(r->state))
		return COORD_RO_NEVER;
	/* what coord_ro_bg_on_tick acts on, phase by phase */
	switch (r->phase) {
	case COORD_BG_PREPARE:
	case COORD_BG_BACK_PREPARE:
		return r->decision == COORD_RO_DECISION_NONE ? coord_ro_bg_prepare_deadline(r)
							     : COORD_RO_NEVER;
	case COORD_BG_COMMIT:
	case COORD_BG_BACK_COMMIT:
		for (i = 0; i < r->nsteps; i++)
			if (r->steps[i].in_switch && r->steps[i].cmd == COORD_RO_CMD_DECIDE)
				at = coord_ro_min(at, coord_ro_step_deadline(r, &r->steps[i]));
		return at;
	case COORD_BG_VERIFY:
		return coord_ro_bg_verify_deadline(r);
	default:
		return COORD_RO_NEVER;
	}
}

osp_err coord_ro_bg_apply(coord_rollout *r, const coord_ro_event *ev, coord_ro_actions *out)
{
	switch (ev->kind) {
	case COORD_RO_EV_START:
		/* After a restart: what is outstanding is in the node logs, the
		 * prepare deadline still counts from prepare_started_ms. */
		return coord_ro_terminal(r->state) ? OSP_ESTATE : OSP_OK;
	case COORD_RO_EV_TICK:
		return coord_ro_bg_on_tick(r, ev->now_ms, out);
	case COORD_RO_EV_RESULT:
		return coord_ro_bg_on_result(r, ev, out);
	case COORD_RO_EV_PAUSE:
	case COORD_RO_EV_RESUME:
		return OSP_ESTATE; /* batches are over; a switch does not pause */
	case COORD_RO_EV_ABORT:
		return coord_ro_bg_on_abort(r, ev->now_ms, out);
	case COORD_RO_EV_HEALTH:
		return coord_ro_bg_on_health(r, ev, out);
	case COORD_RO_EV_ROLLBACK:
		return coord_ro_bg_on_rollback(r, ev->now_ms, out);
	case COORD_RO_EV_SCALE_DOWN:
		return coord_ro_scale_down(r, ev->now_ms, out);
	case COORD_RO_EV_APPROVE:
		return OSP_ESTATE; /* past the gate */
	case COORD_RO_EV_METRIC:
		return OSP_OK; /* a late answer: its analysis is over */
	}
	return OSP_EINVAL;
}
