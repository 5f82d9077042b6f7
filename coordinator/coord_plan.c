/*
 * coord_plan.c - the plan engine (coord_plan.h): stages in order, gates,
 * and the end of the plan. No I/O.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "coord_plan.h"

static coord_plan_action *coord_plan_push(coord_plan_actions *out, coord_plan_action_kind kind,
	size_t stage)
{
	coord_plan_action *a;

	if (out->n >= COORD_PLAN_MAX_ACTIONS)
		return NULL; /* cannot happen: one event makes at most 4 */
	a = &out->v[out->n++];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	a->stage = stage;
	return a;
}

static void coord_plan_note(coord_plan_actions *out, size_t stage, const char *kind,
	const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void coord_plan_note(coord_plan_actions *out, size_t stage, const char *kind,
	const char *fmt, ...)
{
	coord_plan_action *a = coord_plan_push(out, COORD_PLAN_ACT_EVENT, stage);
	va_list ap;

	if (a == NULL)
		return;
	snprintf(a->event, sizeof(a->event), "%s", kind);
	va_start(ap, fmt);
	vsnprintf(a->message, sizeof(a->message), fmt, ap);
	va_end(ap);
}

static void coord_plan_finish(coord_plan *p, coord_ro_state st, coord_plan_actions *out)
{
	p->state = st;
	coord_plan_note(out, SIZE_MAX, st == COORD_RO_SUCCEEDED ? "plan.succeeded" : "plan.ended",
		"plan %s%s%s", coord_ro_state_name(st), p->reason[0] ? ": " : "", p->reason);
	coord_plan_push(out, COORD_PLAN_ACT_DONE, SIZE_MAX);
}

/* coord_plan_advance starts the current stage, or stops at its gate, or
 * ends the plan once every stage succeeded. */
static void coord_plan_advance(coord_plan *p, coord_plan_actions *out)
{
	coord_plan_stage *s;

	if (p->current >= p->nstages) {
		coord_plan_finish(p, COORD_RO_SUCCEEDED, out);
		return;
	}
	s = &p->stages[p->current];
	if (s->gate && !s->approved) {
		s->state = COORD_RO_WAITING_APPROVAL;
		p->state = COORD_RO_WAITING_APPROVAL;
		coord_plan_note(out, p->current, "stage.waiting_approval",
			"stage %s waits for approval (ospecctl approve)", s->name);
		return;
	}
	s->state = COORD_RO_RUNNING;
	p->state = COORD_RO_RUNNING;
	coord_plan_push(out, COORD_PLAN_ACT_CREATE, p->current);
	coord_plan_note(out, p->current, "stage.started", "stage %s started (%u of %zu)",
		s->name, p->current + 1, p->nstages);
}

static osp_err coord_plan_find(const coord_plan *p, const char *name, size_t *i)
{
	for (size_t k = 0; k < p->nstages; k++) {
		if (strcmp(p->stages[k].name, name) == 0) {
			*i = k;
			return OSP_OK;
		}
	}
	return OSP_ENOENT;
}

static osp_err coord_plan_child_done(coord_plan *p, const coord_plan_event *ev,
	coord_plan_actions *out)
{
	coord_plan_stage *s;
	size_t i;

	if (ev->stage == NULL || coord_plan_find(p, ev->stage, &i) != OSP_OK)
		return OSP_ENOENT;
	s = &p->stages[i];
	if (coord_ro_terminal(p->state) || i != p->current || s->state != COORD_RO_RUNNING ||
		!coord_ro_terminal(ev->child_state))
		return OSP_OK; /* stale or duplicate */
	s->state = ev->child_state;
	if (ev->child_state == COORD_RO_SUCCEEDED) {
		coord_plan_note(out, i, "stage.succeeded", "stage %s succeeded", s->name);
		p->current++;
		if (p->abort_requested && p->current < p->nstages) {
			snprintf(p->reason, sizeof(p->reason),
				"aborted after stage %s; %zu later stage%s not started", s->name,
				p->nstages - p->current, p->nstages - p->current == 1 ? "" : "s");
			coord_plan_finish(p, COORD_RO_ABORTED, out);
			return OSP_OK;
		}
		coord_plan_advance(p, out);
		return OSP_OK;
	}
	snprintf(p->reason, sizeof(p->reason), "stage %s %s%s%s", s->name,
		coord_ro_state_name(ev->child_state), ev->reason && ev->reason[0] ? ": " : "",
		ev->reason ? ev->reason : "");
	coord_plan_note(out, i, "stage.ended", "stage %s %s", s->name,
		coord_ro_state_name(ev->child_state));
	coord_plan_finish(p, ev->child_state, out);
	return OSP_OK;
}

static osp_err coord_plan_approve(coord_plan *p, const coord_plan_event *ev,
	coord_plan_actions *out)
{
	coord_plan_stage *s;
	size_t i;

	if (p->state != COORD_RO_WAITING_APPROVAL || p->current >= p->nstages)
		return OSP_ESTATE;
	if (ev->stage != NULL && ev->stage[0] != '\0' &&
		(coord_plan_find(p, ev->stage, &i) != OSP_OK || i != p->current))
		return OSP_ENOENT;
	s = &p->stages[p->current];
	s->approved = true;
	s->state = COORD_RO_PENDING;
	coord_plan_note(out, p->current, "stage.approved", "stage %s approved", s->name);
	coord_plan_advance(p, out);
	return OSP_OK;
}

static osp_err coord_plan_abort(coord_plan *p, coord_plan_actions *out)
{
	coord_plan_stage *s;

	if (coord_ro_terminal(p->state))
		return OSP_ESTATE;
	if (p->current >= p->nstages)
		return OSP_ESTATE;
	s = &p->stages[p->current];
	if (s->state == COORD_RO_RUNNING) {
		if (p->abort_requested)
			return OSP_OK;
		p->abort_requested = true;
		coord_plan_push(out, COORD_PLAN_ACT_ABORT_CHILD, p->current);
		coord_plan_note(out, p->current, "plan.abort_requested",
			"abort requested during stage %s: no later stage starts", s->name);
		return OSP_OK;
	}
	/* waiting at a gate, or not started: nothing runs */
	s->state = COORD_RO_ABORTED;
	snprintf(p->reason, sizeof(p->reason), "aborted before stage %s", s->name);
	coord_plan_finish(p, COORD_RO_ABORTED, out);
	return OSP_OK;
}

osp_err coord_plan_apply(coord_plan *p, const coord_plan_event *ev, coord_plan_actions *out)
{
	coord_plan saved;
	size_t n0;
	osp_err rv;

	if (p == NULL || ev == NULL || out == NULL || p->nstages > COORD_PLAN_MAX_STAGES)
		return OSP_EINVAL;
	saved = *p;
	n0 = out->n;
	switch (ev->kind) {
	case COORD_PLAN_EV_START:
		if (coord_ro_terminal(p->state))
			rv = OSP_ESTATE;
		else if (p->state == COORD_RO_PENDING && p->nstages == 0)
			rv = OSP_EINVAL;
		else {
			if (p->state == COORD_RO_PENDING)
				coord_plan_advance(p, out);
			rv = OSP_OK;
		}
		break;
	case COORD_PLAN_EV_CHILD_DONE:
		rv = coord_plan_child_done(p, ev, out);
		break;
	case COORD_PLAN_EV_APPROVE:
		rv = coord_plan_approve(p, ev, out);
		break;
	case COORD_PLAN_EV_ABORT:
		rv = coord_plan_abort(p, out);
		break;
	default:
		rv = OSP_EINVAL;
	}
	if (rv != OSP_OK) {
		*p = saved;
		out->n = n0;
	}
	return rv;
}

const char *coord_plan_stage_state_name(const coord_plan *p, size_t i)
{
	if (i >= p->nstages)
		return "unknown";
	if (p->stages[i].state == COORD_RO_PENDING && coord_ro_terminal(p->state))
		return "not_started";
	return coord_ro_state_name(p->stages[i].state);
}
