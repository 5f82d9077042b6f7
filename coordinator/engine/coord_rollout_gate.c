/*
 * coord_rollout_gate.c - the switch gate of a blue-green rollout (an OSpec
 * `<env>_traffic_switch` approval, docs/ospec.md): every node is staged, its
 * new release healthy in the idle slot, and the rollout waits in
 * WAITING_APPROVAL until APPROVE opens the switch. Nothing is outstanding
 * while it waits; ABORT ends it aborted with traffic untouched.
 */
#include "coord_rollout_int.h"

bool coord_ro_gate_holds(coord_rollout *r, coord_ro_actions *out)
{
	if (!r->switch_gate || r->switch_approved || coord_ro_count(r, COORD_STEP_READY) == 0)
		return false;
	if (r->state != COORD_RO_WAITING_APPROVAL) {
		r->state = COORD_RO_WAITING_APPROVAL;
		coord_ro_event_msg(out, SIZE_MAX, "rollout.waiting_approval",
			"%zu node%s staged: the traffic switch waits for approval (ospecctl approve)",
			coord_ro_count(r, COORD_STEP_READY),
			coord_ro_plural(coord_ro_count(r, COORD_STEP_READY)));
	}
	return true;
}

osp_err coord_ro_gate_approve(coord_rollout *r, int64_t now, coord_ro_actions *out)
{
	if (r->state != COORD_RO_WAITING_APPROVAL || r->strategy != COORD_RO_BLUE_GREEN ||
		r->phase != COORD_BG_STAGE)
		return OSP_ESTATE;
	r->switch_approved = true;
	r->state = COORD_RO_RUNNING;
	coord_ro_event_msg(out, SIZE_MAX, "rollout.approved", "the traffic switch was approved");
	coord_ro_bg_staged(r, now, out);
	return OSP_OK;
}
