/*
 * coord_rollout_watch.c - the post-deploy watch of rolling and recreate
 * rollouts and their way back. Pure: no I/O, no clock reads, no allocation.
 *
 * When every batch is done (within the budget) and rollback_window_ms > 0,
 * the rollout stays running in phase COORD_RO_WATCH until watch_until_ms:
 * the agents check every running app every second and report it in their
 * heartbeats (HEALTH). A done node whose app turns unhealthy inside the
 * window makes the whole fleet go back (auto_rollback): every done node gets
 * a REVERT of this release (the agent returns to the release its own record
 * names as previous) and the rollout ends rolled_back. Without auto_rollback
 * the rollout fails at once and nothing is reverted. An operator's abort or
 * rollback inside the window goes back the same way and ends aborted or
 * rolled_back. Blue-green has the same window as its verify phase
 * (coord_rollout_bg.c).
 */
#include "coord_rollout_int.h"

#include <stdio.h>
#include <string.h>

bool coord_ro_watch_begin(coord_rollout *r, int64_t now, coord_ro_actions *out)
{
	char dur[32];
	size_t done = coord_ro_count(r, COORD_STEP_DONE);

	if (r->rollback_window_ms <= 0 || done == 0)
		return false;
	r->phase = COORD_RO_WATCH;
	r->watch_until_ms = coord_ro_add(now, r->rollback_window_ms);
	coord_ro_duration_fmt(r->rollback_window_ms, dur, sizeof(dur));
	coord_ro_event_msg(out, SIZE_MAX, "rollout.watching",
			   "%zu node%s on %s; watching their health for %s%s", done,
			   coord_ro_plural(done), r->version, dur,
			   r->auto_rollback ? " (an unhealthy node rolls the fleet back)" : "");
	return true;
}

/* coord_ro_watch_back_done ends the way back once no revert is outstanding. */
static void coord_ro_watch_back_done(coord_rollout *r, int64_t now, coord_ro_actions *out)
{
	char why[COORD_RO_MAX_REASON];
	size_t back = coord_ro_count(r, COORD_STEP_REVERTED), i;
	const char *to = NULL, *sep = "";

	for (i = 0; i < r->nsteps && to == NULL; i++)
		if (r->steps[i].state == COORD_STEP_REVERTED && r->steps[i].version[0] != '\0')
			to = r->steps[i].version;
	coord_ro_strlcpy(why, r->reason, sizeof(why));
	r->reason[0] = '\0';
	if (r->ending == COORD_RO_ABORTED)
		coord_ro_append(r->reason, sizeof(r->reason), "aborted by request during the watch");
	else
		coord_ro_append(r->reason, sizeof(r->reason), "went back after %s", why);
	coord_ro_append(r->reason, sizeof(r->reason), ": %zu node%s reverted", back,
			coord_ro_plural(back));
	if (to != NULL)
		coord_ro_append(r->reason, sizeof(r->reason), " (to %s)", to);
	for (i = 0; i < r->nsteps; i++) {
		const coord_ro_step *s = &r->steps[i];

		if (s->state != COORD_STEP_DONE)
			continue;
		/* its revert failed or went unanswered: still on this release */
		coord_ro_append(r->reason, sizeof(r->reason), "%s%s still on %s: %s",
				sep[0] == '\0' ? "; " : sep, s->node, r->version, s->reason);
		sep = ", ";
	}
	coord_ro_finish(r, r->ending != 0 ? r->ending : COORD_RO_ROLLED_BACK, now, out);
}

/* coord_ro_watch_go_back reverts every done node after why; the rollout
 * ends in ending (0: rolled_back) once they answered. */
static void coord_ro_watch_go_back(coord_rollout *r, int64_t now, const char *why,
				   coord_ro_state ending, coord_ro_actions *out)
{
	size_t i, n = 0;

	r->phase = COORD_RO_BACK;
	r->ending = ending;
	r->reason[0] = '\0';
	coord_ro_append(r->reason, sizeof(r->reason), "%s", why);
	for (i = 0; i < r->nsteps; i++) {
		coord_ro_step *s = &r->steps[i];

		if (s->state != COORD_STEP_DONE)
			continue;
		coord_ro_issue(r, i, COORD_RO_CMD_REVERT, now, out);
		n++;
	}
	coord_ro_event_msg(out, SIZE_MAX, "rollout.going_back", "going back after %s: "
			   "reverting %zu node%s", why, n, coord_ro_plural(n));
	if (n == 0)
		coord_ro_watch_back_done(r, now, out);
}

bool coord_ro_watch_advance(coord_rollout *r, int64_t now, coord_ro_actions *out)
{
	size_t i;

	if (r->phase == COORD_RO_WATCH)
		return true; /* only the clock, health or an operator moves it */
	if (r->phase != COORD_RO_BACK)
		return false;
	for (i = 0; i < r->nsteps; i++)
		if (r->steps[i].cmd != COORD_RO_CMD_NONE)
			return true;
	coord_ro_watch_back_done(r, now, out);
	return true;
}

int64_t coord_ro_watch_deadline(const coord_rollout *r)
{
	return r->phase == COORD_RO_WATCH ? coord_ro_after(r->watch_until_ms, 0) : COORD_RO_NEVER;
}

bool coord_ro_watch_tick(coord_rollout *r, int64_t now, coord_ro_actions *out)
{
	char dur[32];
	size_t done;

	if (!coord_ro_due(now, coord_ro_watch_deadline(r)))
		return false;
	done = coord_ro_count(r, COORD_STEP_DONE);
	coord_ro_duration_fmt(r->rollback_window_ms, dur, sizeof(dur));
	coord_ro_event_msg(out, SIZE_MAX, "rollout.watched", "%zu node%s stayed healthy for %s",
			   done, coord_ro_plural(done), dur);
	coord_ro_succeed(r, now, out);
	return true;
}

osp_err coord_ro_watch_health(coord_rollout *r, const coord_ro_event *ev, coord_ro_actions *out)
{
	char why[COORD_RO_MAX_REASON] = "";
	const char *msg = ev->message != NULL ? ev->message : "";
	coord_ro_step *s;
	size_t i;
	osp_err err;

	if (ev->node == NULL)
		return OSP_EINVAL;
	if (coord_ro_terminal(r->state) || r->phase != COORD_RO_WATCH)
		return OSP_OK;
	if ((err = coord_ro_find(r, ev->node, &i)) != OSP_OK)
		return err;
	s = &r->steps[i];
	/* only a report about this release on a node that took it counts */
	if (s->state != COORD_STEP_DONE ||
	    (ev->sha256 != NULL && ev->sha256[0] != '\0' && strcmp(ev->sha256, r->sha256) != 0))
		return OSP_OK;
	if (ev->ok) {
		if (!s->healthy_seen)
			coord_ro_event_msg(out, i, "step.healthy", "%s healthy on %s", s->node,
					   r->version);
		s->healthy_seen = true;
		return OSP_OK;
	}
	coord_ro_append(why, sizeof(why), "%s turned unhealthy on %s%s%s", s->node, r->version,
			msg[0] != '\0' ? ": " : "", msg);
	coord_ro_event_msg(out, i, "step.unhealthy", "%s", why);
	coord_ro_append(s->reason, sizeof(s->reason), "%sunhealthy after the deploy%s%s",
			s->reason[0] != '\0' ? "; " : "", msg[0] != '\0' ? ": " : "", msg);
	if (r->auto_rollback) {
		coord_ro_watch_go_back(r, ev->now_ms, why, 0, out);
		return OSP_OK;
	}
	r->reason[0] = '\0';
	coord_ro_append(r->reason, sizeof(r->reason), "%s (auto-rollback is off: nothing reverted)",
			why);
	coord_ro_finish(r, COORD_RO_FAILED, ev->now_ms, out);
	return OSP_OK;
}

osp_err coord_ro_watch_request(coord_rollout *r, coord_ro_event_kind kind, int64_t now,
			       coord_ro_actions *out)
{
	bool abort = kind == COORD_RO_EV_ABORT;

	if (coord_ro_terminal(r->state))
		return OSP_ESTATE;
	if (r->phase == COORD_RO_BACK)
		return OSP_OK; /* already on its way back */
	if (r->phase != COORD_RO_WATCH)
		return OSP_ESTATE;
	coord_ro_watch_go_back(r, now, abort ? "an abort request" : "a rollback request",
			       abort ? COORD_RO_ABORTED : COORD_RO_ROLLED_BACK, out);
	return OSP_OK;
}
