/*
 * coord_rollout_canary.c - the canary half of the rollout engine: weighted
 * traffic between the slots, analysed step by step (docs/canary.md). Pure:
 * no I/O, no clock reads, no allocation.
 *
 * A canary stages into the idle slot as blue-green does (coord_rollout.c,
 * READY steps), then:
 *
 *   WEIGHT   r->canary.weight is the decision, recorded with the commands
 *            that carry it: TrafficWeight(slot, weight) to every staged node.
 *            A node that cannot take the weight, or does not answer within
 *            the progress deadline, resets the canary.
 *   BAKE     every node is at the weight; traffic flows for the interval.
 *   ANALYZE  TrafficStats to every node; the differences of the proxy's
 *            counters since the interval began, summed over the nodes that
 *            answered, give the success rate and the mean response time.
 *            Passed: the next weight, or the promotion after the last one.
 *            Failed: the same weight again, until `threshold` failed
 *            analyses reset the canary.
 *   GATE     (a switch gate) passed at the last weight: APPROVE promotes.
 *   RESET    weight 0 to every node that took a weight; once they answered
 *            (or the deadline passed: the command stays in their logs) the
 *            rollout ends failed, aborted or rolled_back.
 *
 * The promotion is the blue-green switch (coord_rollout_bg.c) towards the
 * canary slots; a promotion that is not committed comes back here to reset.
 * After a coordinator restart nothing is re-sent: the outstanding commands
 * are in the node logs, and the weight in the record is the one they carry.
 */
#include "coord_rollout_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Counters asked for at the end of an interval must come back within this
 * (or the progress deadline, if shorter); the nodes that did not answer are
 * left out of that analysis. */
#define COORD_CN_STATS_MS 15000

static int64_t coord_cn_stats_ms(const coord_rollout *r)
{
	if (r->progress_deadline_ms > 0 && r->progress_deadline_ms < COORD_CN_STATS_MS)
		return r->progress_deadline_ms;
	return COORD_CN_STATS_MS;
}

/* coord_cn_outstanding counts the canary's members still owing cmd. */
static size_t coord_cn_outstanding(const coord_rollout *r, coord_ro_cmd cmd)
{
	size_t i, n = 0;

	for (i = 0; i < r->nsteps; i++)
		n += r->steps[i].in_switch && r->steps[i].cmd == cmd;
	return n;
}

/* coord_cn_send_weight tells every member the recorded weight. */
static size_t coord_cn_send_weight(coord_rollout *r, int64_t now, coord_ro_actions *out)
{
	size_t i, n = 0;

	for (i = 0; i < r->nsteps; i++) {
		if (!r->steps[i].in_switch)
			continue;
		coord_ro_issue(r, i, COORD_RO_CMD_WEIGHT, now, out);
		n++;
	}
	return n;
}

/* coord_cn_step_weight moves to weight w (step step_no): recorded here, sent
 * to every member in the same commit. */
static void coord_cn_step_weight(coord_rollout *r, uint32_t w, int64_t now, coord_ro_actions *out)
{
	size_t n;

	r->canary.weight = w;
	r->canary.step_no++;
	r->phase = COORD_CN_WEIGHT;
	n = coord_cn_send_weight(r, now, out);
	coord_ro_event_msg(out, SIZE_MAX, "canary.weight",
			   "step %u: %u%% of the traffic to %s on %zu node%s", r->canary.step_no, w,
			   r->version, n, coord_ro_plural(n));
}

/* ------------------------------------------------------------- reset */

void coord_ro_cn_reset(coord_rollout *r, int64_t now, const char *why, coord_ro_actions *out)
{
	uint32_t from = r->canary.weight;
	size_t i, n;

	r->reason[0] = '\0';
	coord_ro_append(r->reason, sizeof(r->reason), "canary reset from %u%%: %s", from, why);
	r->canary.weight = 0;
	r->phase = COORD_CN_RESET;
	if (r->state == COORD_RO_PAUSED || r->state == COORD_RO_WAITING_APPROVAL)
		r->state = COORD_RO_RUNNING;
	r->paused = false;
	for (i = 0; i < r->nsteps; i++)
		r->steps[i].fresh = false;
	n = coord_cn_send_weight(r, now, out);
	coord_ro_event_msg(out, SIZE_MAX, "canary.reset",
			   "weight 0 on %zu node%s: all traffic back on the active slot (%s)", n,
			   coord_ro_plural(n), why);
	if (n == 0)
		coord_ro_finish(r, r->ending != 0 ? r->ending : COORD_RO_FAILED, now, out);
}

void coord_ro_cn_unpromoted(coord_rollout *r, int64_t now, coord_ro_actions *out)
{
	char why[COORD_RO_MAX_REASON] = "";

	/* the members of the switch are the canary's: their slots still carry
	 * the weight, so it goes back to 0 before the rollout ends */
	coord_ro_append(why, sizeof(why), "promotion switch %s aborted%s%s", r->switch_id,
			r->reason[0] != '\0' ? ": " : "", r->reason);
	if (r->abort_requested)
		r->ending = COORD_RO_ABORTED;
	coord_ro_cn_reset(r, now, why, out);
}

/* coord_cn_reset_settled ends the rollout once every weight 0 was answered. */
static void coord_cn_reset_settled(coord_rollout *r, int64_t now, coord_ro_actions *out)
{
	size_t i, back = 0;

	if (coord_cn_outstanding(r, COORD_RO_CMD_WEIGHT) != 0)
		return;
	for (i = 0; i < r->nsteps; i++) {
		const coord_ro_step *s = &r->steps[i];

		if (!s->in_switch)
			continue;
		if (s->fresh)
			back++; /* answered weight 0, whatever happened to it before */
		else
			coord_ro_append(r->reason, sizeof(r->reason), "; %s: %s", s->node,
					s->reason);
	}
	coord_ro_append(r->reason, sizeof(r->reason), "; %zu node%s back at weight 0", back,
			coord_ro_plural(back));
	if (r->ending == COORD_RO_ABORTED || r->ending == COORD_RO_ROLLED_BACK) {
		char why[COORD_RO_MAX_REASON];

		coord_ro_strlcpy(why, r->reason, sizeof(why));
		r->reason[0] = '\0';
		coord_ro_append(r->reason, sizeof(r->reason), "%s by request: %s",
				r->ending == COORD_RO_ABORTED ? "aborted" : "rolled back", why);
	}
	coord_ro_finish(r, r->ending != 0 ? r->ending : COORD_RO_FAILED, now, out);
}

/* ----------------------------------------------------------- analysis */

/* coord_cn_delta: how far a counter moved; a proxy that restarted counts
 * from 0 again, so its whole count is the movement. */
static uint64_t coord_cn_delta(uint64_t now, uint64_t base, bool restarted)
{
	return restarted || now < base ? now : now - base;
}

/* coord_cn_numbers writes "N requests, E errors (success S%), rtime R ms". */
static void coord_cn_numbers(const coord_ro_canary *c, char *buf, size_t len)
{
	uint64_t ok = c->an_requests - (c->an_errors < c->an_requests ? c->an_errors
								      : c->an_requests);

	buf[0] = '\0';
	coord_ro_append(buf, len, "%" PRIu64 " request%s, %" PRIu64 " error%s", c->an_requests,
			coord_ro_plural(c->an_requests), c->an_errors, coord_ro_plural(c->an_errors));
	if (c->an_requests > 0)
		coord_ro_append(buf, len, " (success %.2f%%)",
				100.0 * (double)ok / (double)c->an_requests);
	if (c->an_has_rtime)
		coord_ro_append(buf, len, ", mean response %u ms", c->an_rtime_ms);
	coord_ro_append(buf, len, " on %u node%s", c->an_nodes, coord_ro_plural(c->an_nodes));
}

/* coord_cn_aggregate sums the interval's counters over the members that
 * answered, notes the others, and makes the latest counters the next
 * interval's base. */
static void coord_cn_aggregate(coord_rollout *r, int64_t now)
{
	coord_ro_canary *c = &r->canary;
	double rt_weighted = 0;
	uint64_t rt_requests = 0;
	size_t i;

	c->an_ms = now;
	c->an_requests = c->an_errors = 0;
	c->an_rtime_ms = 0;
	c->an_has_rtime = false;
	c->an_nodes = 0;
	c->an_note[0] = '\0';
	for (i = 0; i < r->nsteps; i++) {
		coord_ro_step *s = &r->steps[i];
		bool restarted;
		uint64_t req;

		if (!s->in_switch)
			continue;
		if (!s->fresh || !s->has_base) {
			coord_ro_append(c->an_note, sizeof(c->an_note), "%s%s: %s",
					c->an_note[0] != '\0' ? "; " : "", s->node,
					!s->fresh ? "no counters" : "no base counters yet");
			if (s->fresh) {
				s->base = s->last;
				s->has_base = true;
			}
			s->fresh = false;
			continue;
		}
		restarted = s->last.proxy_start != s->base.proxy_start;
		req = coord_cn_delta(s->last.requests, s->base.requests, restarted);
		c->an_requests += req;
		c->an_errors += coord_cn_delta(s->last.errors, s->base.errors, restarted);
		if (s->last.has_rtime && req > 0) {
			rt_weighted += (double)s->last.rtime_ms * (double)req;
			rt_requests += req;
		}
		c->an_nodes++;
		s->base = s->last;
		s->fresh = false;
	}
	if (rt_requests > 0) {
		c->an_has_rtime = true;
		c->an_rtime_ms = (uint32_t)(rt_weighted / (double)rt_requests + 0.5);
	}
}

/* coord_cn_check decides whether the aggregated interval passed; a failure
 * is explained in why. */
static bool coord_cn_check(const coord_ro_canary *c, char *why, size_t len)
{
	uint64_t errors = c->an_errors < c->an_requests ? c->an_errors : c->an_requests;
	uint64_t min = c->min_requests > 0 ? c->min_requests : 1;

	why[0] = '\0';
	if (c->an_nodes == 0) {
		coord_ro_append(why, len, "no node reported the canary's counters");
		return false;
	}
	if (c->an_requests < min) {
		coord_ro_append(why, len, "%" PRIu64 " request%s reached the canary (at least %" PRIu64
				" needed)", c->an_requests, coord_ro_plural(c->an_requests), min);
		return false;
	}
	/* (requests - errors) / requests < floor, in integers */
	if (c->min_success_x100 > 0 &&
	    (c->an_requests - errors) * 10000 < (uint64_t)c->min_success_x100 * c->an_requests) {
		coord_ro_append(why, len, "success rate below %u.%02u%%", c->min_success_x100 / 100,
				c->min_success_x100 % 100);
		return false;
	}
	if (c->max_rtime_ms > 0 && c->an_has_rtime && c->an_rtime_ms > c->max_rtime_ms) {
		coord_ro_append(why, len, "mean response time above %u ms", c->max_rtime_ms);
		return false;
	}
	if (c->ext && c->ext_state != COORD_RO_EXT_PASSED) {
		coord_ro_append(why, len, "metrics query: %s",
				c->ext_state == COORD_RO_EXT_FAILED ? c->ext_note
								    : "no answer in time");
		return false;
	}
	return true;
}

static void coord_cn_promote(coord_rollout *r, int64_t now, coord_ro_actions *out)
{
	if (r->switch_gate && !r->switch_approved) {
		r->phase = COORD_CN_GATE;
		r->state = COORD_RO_WAITING_APPROVAL;
		coord_ro_event_msg(out, SIZE_MAX, "rollout.waiting_approval",
				   "canary passed at %u%%: the promotion waits for approval "
				   "(ospecctl approve)", r->canary.weight);
		return;
	}
	coord_ro_event_msg(out, SIZE_MAX, "canary.promote",
			   "canary passed at %u%%: switching every node to %s", r->canary.weight,
			   r->version);
	/* the switch goes over the READY members, towards their canary slots */
	r->phase = COORD_BG_STAGE;
	coord_ro_bg_staged(r, now, out);
}

/* coord_cn_evaluate closes an analysis: aggregate, check, move on. */
static void coord_cn_evaluate(coord_rollout *r, int64_t now, coord_ro_actions *out)
{
	coord_ro_canary *c = &r->canary;
	char nums[COORD_RO_MAX_REASON / 2], why[COORD_RO_MAX_REASON / 4];
	uint32_t next;

	coord_cn_aggregate(r, now);
	c->an_passed = coord_cn_check(c, why, sizeof(why));
	c->analyses++;
	coord_cn_numbers(c, nums, sizeof(nums));
	if (c->ext && c->ext_state == COORD_RO_EXT_PASSED)
		coord_ro_append(nums, sizeof(nums), "; metrics query: %s", c->ext_note);
	c->ext_state = COORD_RO_EXT_NONE;
	if (!c->an_passed) {
		c->failed_checks++;
		coord_ro_event_msg(out, SIZE_MAX, "canary.analysis",
				   "failed at %u%% (%u of %u allowed): %s: %s%s%s", c->weight,
				   c->failed_checks, c->threshold, why, nums,
				   c->an_note[0] != '\0' ? "; " : "", c->an_note);
		/* the note says why, for status */
		coord_ro_append(c->an_note, sizeof(c->an_note), "%s%s",
				c->an_note[0] != '\0' ? "; " : "", why);
		if (c->failed_checks >= c->threshold) {
			char reset[COORD_RO_MAX_REASON] = "";

			coord_ro_append(reset, sizeof(reset),
					"analysis failed %u time%s (threshold %u), last at %u%%: %s: %s",
					c->failed_checks, coord_ro_plural(c->failed_checks),
					c->threshold, c->weight, why, nums);
			coord_ro_cn_reset(r, now, reset, out);
			return;
		}
	} else {
		coord_ro_event_msg(out, SIZE_MAX, "canary.analysis", "passed at %u%%: %s%s%s",
				   c->weight, nums, c->an_note[0] != '\0' ? "; " : "", c->an_note);
		if (!r->paused) {
			next = coord_ro_canary_next_weight(c, c->weight);
			if (next == c->weight) {
				coord_cn_promote(r, now, out);
				return;
			}
			coord_cn_step_weight(r, next, now, out);
			return;
		}
	}
	/* another interval at the same weight */
	r->phase = COORD_CN_BAKE;
	c->step_until_ms = coord_ro_add(now, c->interval_ms);
}

static void coord_cn_analyze(coord_rollout *r, int64_t now, coord_ro_actions *out)
{
	size_t i;

	r->phase = COORD_CN_ANALYZE;
	r->canary.step_until_ms = coord_ro_add(now, coord_cn_stats_ms(r));
	r->canary.ext_state = COORD_RO_EXT_NONE;
	r->canary.ext_note[0] = '\0';
	if (r->canary.ext) {
		r->canary.ext_state = COORD_RO_EXT_PENDING;
		coord_ro_push(out, COORD_RO_ACT_QUERY, SIZE_MAX);
	}
	for (i = 0; i < r->nsteps; i++) {
		if (!r->steps[i].in_switch)
			continue;
		r->steps[i].fresh = false;
		coord_ro_issue(r, i, COORD_RO_CMD_STATS, now, out);
	}
}

/* ------------------------------------------------------------- staged */

void coord_ro_cn_staged(coord_rollout *r, int64_t now, coord_ro_actions *out)
{
	size_t i;

	if (coord_ro_count(r, COORD_STEP_READY) == 0) {
		coord_ro_fail_summary(r);
		coord_ro_finish(r, COORD_RO_FAILED, now, out);
		return;
	}
	for (i = 0; i < r->nsteps; i++) {
		coord_ro_step *s = &r->steps[i];

		s->in_switch = s->state == COORD_STEP_READY;
		s->has_base = s->fresh = false;
	}
	r->reason[0] = '\0';
	r->canary.step_no = 0;
	r->canary.failed_checks = 0;
	coord_cn_step_weight(r, r->canary.initial, now, out);
}

/* -------------------------------------------------------------- events */

static void coord_cn_weight_result(coord_rollout *r, size_t i, const coord_ro_event *ev,
				   const char *msg, coord_ro_actions *out)
{
	coord_ro_step *s = &r->steps[i];
	char why[COORD_RO_MAX_REASON] = "";

	s->cmd = COORD_RO_CMD_NONE;
	if (ev->ok && ev->stats != NULL && r->phase == COORD_CN_WEIGHT) {
		/* this weight's interval counts from here (without counters in
		 * the answer: from the last analysis) */
		s->base = *ev->stats;
		s->has_base = true;
	}
	if (r->phase == COORD_CN_RESET) {
		s->fresh = ev->ok; /* resetting, fresh means: took weight 0 */
		if (!ev->ok) {
			s->state = COORD_STEP_FAILED;
			s->reason[0] = '\0';
			coord_ro_append(s->reason, sizeof(s->reason), "weight 0 failed: %s", msg);
			coord_ro_event_msg(out, i, "step.failed", "%s: %s", s->node, s->reason);
		}
		coord_cn_reset_settled(r, ev->now_ms, out);
		return;
	}
	if (!ev->ok) {
		s->state = COORD_STEP_FAILED;
		s->reason[0] = '\0';
		coord_ro_append(s->reason, sizeof(s->reason), "weight %u%% failed: %s",
				r->canary.weight, msg);
		coord_ro_event_msg(out, i, "step.failed", "%s: %s", s->node, s->reason);
		coord_ro_append(why, sizeof(why), "%s could not take weight %u%%: %s", s->node,
				r->canary.weight, msg);
		coord_ro_cn_reset(r, ev->now_ms, why, out);
		return;
	}
	if (coord_cn_outstanding(r, COORD_RO_CMD_WEIGHT) != 0)
		return;
	r->phase = COORD_CN_BAKE;
	r->canary.step_until_ms = coord_ro_add(ev->now_ms, r->canary.interval_ms);
	coord_ro_event_msg(out, SIZE_MAX, "canary.baking",
			   "every node at %u%%: analysis after the interval", r->canary.weight);
}

static void coord_cn_stats_result(coord_rollout *r, size_t i, const coord_ro_event *ev,
				  const char *msg, coord_ro_actions *out)
{
	coord_ro_step *s = &r->steps[i];

	s->cmd = COORD_RO_CMD_NONE;
	if (ev->ok && ev->stats != NULL) {
		s->last = *ev->stats;
		s->fresh = true;
	} else {
		coord_ro_event_msg(out, i, "step.no_counters", "%s: no counters: %s", s->node,
				   ev->ok ? "none reported" : msg);
	}
	if (coord_cn_outstanding(r, COORD_RO_CMD_STATS) == 0 &&
	    r->canary.ext_state != COORD_RO_EXT_PENDING)
		coord_cn_evaluate(r, ev->now_ms, out);
}

/* coord_cn_on_metric takes the external query's answer. */
static osp_err coord_cn_on_metric(coord_rollout *r, const coord_ro_event *ev,
				  coord_ro_actions *out)
{
	coord_ro_canary *c = &r->canary;

	if (r->phase != COORD_CN_ANALYZE || c->ext_state != COORD_RO_EXT_PENDING ||
	    ev->seq != (uint64_t)c->analyses + 1)
		return OSP_OK; /* late: that analysis is over */
	c->ext_state = ev->ok ? COORD_RO_EXT_PASSED : COORD_RO_EXT_FAILED;
	c->ext_note[0] = '\0';
	coord_ro_append(c->ext_note, sizeof(c->ext_note), "%s",
			ev->message != NULL && ev->message[0] != '\0' ? ev->message
								    : "no value");
	if (coord_cn_outstanding(r, COORD_RO_CMD_STATS) == 0)
		coord_cn_evaluate(r, ev->now_ms, out);
	return OSP_OK;
}

static osp_err coord_cn_on_result(coord_rollout *r, const coord_ro_event *ev,
				  coord_ro_actions *out)
{
	const char *msg = coord_ro_result_msg(ev);
	coord_ro_step *s;
	size_t i;
	osp_err err = coord_ro_find(r, ev->node, &i);

	if (err != OSP_OK)
		return err;
	s = &r->steps[i];
	if (ev->seq != s->seq || s->cmd == COORD_RO_CMD_NONE || !s->in_switch)
		return OSP_OK; /* late, duplicate, or not ours */
	if (s->cmd == COORD_RO_CMD_WEIGHT &&
	    (r->phase == COORD_CN_WEIGHT || r->phase == COORD_CN_RESET))
		coord_cn_weight_result(r, i, ev, msg, out);
	else if (s->cmd == COORD_RO_CMD_STATS && r->phase == COORD_CN_ANALYZE)
		coord_cn_stats_result(r, i, ev, msg, out);
	return OSP_OK;
}

/* coord_cn_expire: members that did not confirm a weight within the
 * progress deadline. Going forward that resets the canary; resetting, the
 * weight 0 stays in their logs for when they come back. */
static void coord_cn_expire(coord_rollout *r, int64_t now, coord_ro_actions *out)
{
	char dl[32], why[COORD_RO_MAX_REASON] = "";
	size_t i;

	if (r->progress_deadline_ms <= 0)
		return;
	coord_ro_duration_fmt(r->progress_deadline_ms, dl, sizeof(dl));
	for (i = 0; i < r->nsteps; i++) {
		coord_ro_step *s = &r->steps[i];

		if (!s->in_switch || s->cmd != COORD_RO_CMD_WEIGHT ||
		    !coord_ro_due(now, coord_ro_step_deadline(r, s)))
			continue;
		s->cmd = COORD_RO_CMD_NONE;
		s->state = COORD_STEP_UNREACHABLE;
		s->finished_ms = now;
		s->reason[0] = '\0';
		coord_ro_append(s->reason, sizeof(s->reason),
				"no answer to weight %u%% within the progress deadline (%s)%s",
				r->canary.weight, dl,
				r->phase == COORD_CN_RESET ? "; it gets weight 0 when it reconnects" : "");
		coord_ro_event_msg(out, i, "step.unreachable", "%s: %s", s->node, s->reason);
		if (why[0] == '\0')
			coord_ro_append(why, sizeof(why), "%s: %s", s->node, s->reason);
	}
	if (why[0] == '\0')
		return;
	if (r->phase == COORD_CN_RESET)
		coord_cn_reset_settled(r, now, out);
	else
		coord_ro_cn_reset(r, now, why, out);
}

/* coord_cn_bake_deadline: from then the interval's analysis starts;
 * coord_cn_analyze_deadline: from then it is evaluated with what came in. */
static int64_t coord_cn_bake_deadline(const coord_rollout *r)
{
	return r->canary.step_until_ms;
}

static int64_t coord_cn_analyze_deadline(const coord_rollout *r)
{
	return coord_ro_after(r->canary.step_until_ms, 0);
}

int64_t coord_ro_cn_deadline(const coord_rollout *r)
{
	int64_t at = COORD_RO_NEVER;
	size_t i;

	if (coord_ro_terminal(r->state))
		return COORD_RO_NEVER;
	/* what coord_cn_on_tick acts on, phase by phase */
	switch (r->phase) {
	case COORD_CN_WEIGHT:
	case COORD_CN_RESET:
		for (i = 0; i < r->nsteps; i++)
			if (r->steps[i].in_switch && r->steps[i].cmd == COORD_RO_CMD_WEIGHT)
				at = coord_ro_min(at, coord_ro_step_deadline(r, &r->steps[i]));
		return at;
	case COORD_CN_BAKE:
		return coord_cn_bake_deadline(r);
	case COORD_CN_ANALYZE:
		return coord_cn_analyze_deadline(r);
	default:
		return COORD_RO_NEVER;
	}
}

static osp_err coord_cn_on_tick(coord_rollout *r, int64_t now, coord_ro_actions *out)
{
	switch (r->phase) {
	case COORD_CN_WEIGHT:
	case COORD_CN_RESET:
		coord_cn_expire(r, now, out);
		break;
	case COORD_CN_BAKE:
		if (coord_ro_due(now, coord_cn_bake_deadline(r)))
			coord_cn_analyze(r, now, out);
		break;
	case COORD_CN_ANALYZE:
		if (coord_ro_due(now, coord_cn_analyze_deadline(r))) {
			/* late answers are ignored: their command is gone */
			for (size_t i = 0; i < r->nsteps; i++)
				if (r->steps[i].in_switch && r->steps[i].cmd == COORD_RO_CMD_STATS)
					r->steps[i].cmd = COORD_RO_CMD_NONE;
			coord_cn_evaluate(r, now, out);
		}
		break;
	default:
		break;
	}
	return OSP_OK;
}

static osp_err coord_cn_on_request(coord_rollout *r, coord_ro_event_kind kind, int64_t now,
				   coord_ro_actions *out)
{
	if (r->phase == COORD_CN_RESET)
		return OSP_OK; /* already on its way back */
	r->ending = kind == COORD_RO_EV_ABORT ? COORD_RO_ABORTED : COORD_RO_ROLLED_BACK;
	coord_ro_cn_reset(r, now, kind == COORD_RO_EV_ABORT ? "an abort request"
							     : "a rollback request", out);
	return OSP_OK;
}

osp_err coord_ro_cn_apply(coord_rollout *r, const coord_ro_event *ev, coord_ro_actions *out)
{
	if (coord_ro_terminal(r->state))
		return ev->kind == COORD_RO_EV_RESULT || ev->kind == COORD_RO_EV_TICK ? OSP_OK
										      : OSP_ESTATE;
	switch (ev->kind) {
	case COORD_RO_EV_START:
		/* outstanding commands are in the node logs; a query in flight
		 * died with the process: ask again */
		if (r->phase == COORD_CN_ANALYZE && r->canary.ext_state == COORD_RO_EXT_PENDING)
			coord_ro_push(out, COORD_RO_ACT_QUERY, SIZE_MAX);
		return OSP_OK;
	case COORD_RO_EV_METRIC:
		return coord_cn_on_metric(r, ev, out);
	case COORD_RO_EV_TICK:
		return coord_cn_on_tick(r, ev->now_ms, out);
	case COORD_RO_EV_RESULT:
		return coord_cn_on_result(r, ev, out);
	case COORD_RO_EV_PAUSE:
		if (r->state != COORD_RO_RUNNING || r->phase == COORD_CN_RESET)
			return OSP_ESTATE;
		r->state = COORD_RO_PAUSED;
		r->paused = true;
		coord_ro_event_msg(out, SIZE_MAX, "rollout.paused",
				   "paused: the canary stays at %u%% and is still analysed",
				   r->canary.weight);
		return OSP_OK;
	case COORD_RO_EV_RESUME:
		if (r->state != COORD_RO_PAUSED)
			return OSP_ESTATE;
		r->state = COORD_RO_RUNNING;
		r->paused = false;
		coord_ro_event_msg(out, SIZE_MAX, "rollout.resumed",
				   "resumed: the next passed analysis moves the weight on");
		return OSP_OK;
	case COORD_RO_EV_ABORT:
	case COORD_RO_EV_ROLLBACK:
		return coord_cn_on_request(r, ev->kind, ev->now_ms, out);
	case COORD_RO_EV_HEALTH:
		return ev->node == NULL ? OSP_EINVAL : OSP_OK;
	case COORD_RO_EV_APPROVE:
		if (r->phase != COORD_CN_GATE || r->state != COORD_RO_WAITING_APPROVAL)
			return OSP_ESTATE;
		r->switch_approved = true;
		r->state = COORD_RO_RUNNING;
		coord_ro_event_msg(out, SIZE_MAX, "rollout.approved", "the promotion was approved");
		coord_cn_promote(r, ev->now_ms, out);
		return OSP_OK;
	case COORD_RO_EV_SCALE_DOWN:
		return OSP_ESTATE;
	}
	return OSP_EINVAL;
}
