/*
 * coord_rollouts_rec.c - a rollout's record and the engine's view of it:
 * coord_ro_from_rec fills the engine from the stored record, coord_ro_save
 * writes the engine's state back into the record and the store.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_rollouts.h"

/* coord_ro_stats_from copies wire counters (NULL: zero). */
void coord_ro_stats_from(coord_ro_stats *o, const Ospec__V1__SlotStats *s)
{
	memset(o, 0, sizeof(*o));
	if (s == NULL)
		return;
	o->requests = s->requests;
	o->errors = s->errors;
	o->rtime_ms = s->rtime_ms;
	o->has_rtime = s->has_rtime && s->has_rtime_ms;
	o->proxy_start = s->proxy_start;
}

static void coord_ro_stats_to(Ospec__V1__SlotStats *o, const coord_ro_stats *s)
{
	ospec__v1__slot_stats__init(o);
	o->has_requests = o->has_errors = o->has_rtime_ms = o->has_has_rtime = 1;
	o->requests = s->requests;
	o->errors = s->errors;
	o->rtime_ms = s->rtime_ms;
	o->has_rtime = s->has_rtime;
	o->has_proxy_start = 1;
	o->proxy_start = s->proxy_start;
}

static void coord_ro_canary_from(coord_ro_canary *c, const Ospec__V1__CanaryRecord *r)
{
	if (r == NULL)
		return;
	c->initial = r->initial;
	c->step = r->step;
	c->max = r->max;
	c->interval_ms = r->interval_ms;
	c->threshold = r->threshold > 0 ? r->threshold : 1;
	c->min_success_x100 = r->min_success_x100;
	c->max_rtime_ms = r->max_rtime_ms;
	c->min_requests = r->min_requests;
	c->weight = r->weight;
	c->step_no = r->step_no;
	c->step_until_ms = r->step_until_ms;
	c->failed_checks = r->failed_checks;
	c->analyses = r->analyses;
	c->an_ms = r->an_ms;
	c->an_requests = r->an_requests;
	c->an_errors = r->an_errors;
	c->an_rtime_ms = r->an_rtime_ms;
	c->an_has_rtime = r->an_has_rtime;
	c->an_passed = r->an_passed;
	c->an_nodes = r->an_nodes;
	osp_strlcpy(c->an_note, r->an_note != NULL ? r->an_note : "", sizeof(c->an_note));
	c->ext = r->analysis_url != NULL && r->analysis_url[0] != '\0';
	c->ext_state = (coord_ro_ext)r->ext_state;
	osp_strlcpy(c->ext_note, r->ext_note != NULL ? r->ext_note : "", sizeof(c->ext_note));
}

/* coord_ro_canary_to fills o (strings point into c) from the engine. */
void coord_ro_canary_to(Ospec__V1__CanaryRecord *o, const coord_ro_canary *c)
{
	ospec__v1__canary_record__init(o);
	o->has_initial = o->has_step = o->has_max = o->has_interval_ms = o->has_threshold = 1;
	o->initial = c->initial;
	o->step = c->step;
	o->max = c->max;
	o->interval_ms = c->interval_ms;
	o->threshold = c->threshold;
	o->has_min_success_x100 = o->has_max_rtime_ms = o->has_min_requests = 1;
	o->min_success_x100 = c->min_success_x100;
	o->max_rtime_ms = c->max_rtime_ms;
	o->min_requests = c->min_requests;
	o->has_weight = o->has_step_no = o->has_step_until_ms = o->has_failed_checks = 1;
	o->weight = c->weight;
	o->step_no = c->step_no;
	o->step_until_ms = c->step_until_ms;
	o->failed_checks = c->failed_checks;
	o->has_analyses = o->has_an_ms = o->has_an_requests = o->has_an_errors = 1;
	o->analyses = c->analyses;
	o->an_ms = c->an_ms;
	o->an_requests = c->an_requests;
	o->an_errors = c->an_errors;
	o->has_an_rtime_ms = o->has_an_has_rtime = o->has_an_passed = o->has_an_nodes = 1;
	o->an_rtime_ms = c->an_rtime_ms;
	o->an_has_rtime = c->an_has_rtime;
	o->an_passed = c->an_passed;
	o->an_nodes = c->an_nodes;
	o->an_note = (char *)c->an_note;
	o->has_ext_state = 1;
	o->ext_state = c->ext_state;
	o->ext_note = (char *)c->ext_note;
}

/* coord_ro_from_rec fills the engine's view from a record (steps allocated). */
osp_err coord_ro_from_rec(coord_ro_entry *e)
{
	const Ospec__V1__RolloutRecord *r = e->rec;
	coord_rollout *ro = &e->ro;

	memset(ro, 0, sizeof(*ro));
	osp_strlcpy(ro->id, r->id, sizeof(ro->id));
	osp_strlcpy(ro->app, r->app, sizeof(ro->app));
	osp_strlcpy(ro->version, r->version, sizeof(ro->version));
	osp_strlcpy(ro->sha256, r->sha256 ? r->sha256 : "", sizeof(ro->sha256));
	ro->strategy = (coord_ro_strategy)r->strategy;
	ro->batch = r->batch;
	ro->batch_pct = r->batch_pct;
	ro->max_failures = r->max_failures;
	ro->max_failures_pct = r->max_failures_pct;
	ro->progress_deadline_ms = r->progress_deadline_ms;
	ro->state = (coord_ro_state)r->state;
	ro->paused = r->paused;
	ro->abort_requested = r->abort_requested;
	ro->current_batch = r->has_current_batch ? r->current_batch : -1;
	ro->phase = r->phase;
	ro->started_ms = r->started_ms;
	ro->finished_ms = r->finished_ms;
	osp_strlcpy(ro->reason, r->reason ? r->reason : "", sizeof(ro->reason));
	osp_strlcpy(ro->switch_id, r->switch_id ? r->switch_id : "", sizeof(ro->switch_id));
	ro->switch_no = r->switch_no;
	ro->decision = (coord_ro_decision)r->decision;
	ro->prepare_deadline_ms = r->has_prepare_deadline_ms ? r->prepare_deadline_ms : 30000;
	ro->prepare_started_ms = r->prepare_started_ms;
	ro->rollback_window_ms = r->rollback_window_ms;
	ro->auto_rollback = !r->no_auto_rollback;
	ro->switch_gate = r->switch_gate;
	ro->switch_approved = r->switch_approved;
	ro->ending = (coord_ro_state)r->ending;
	ro->watch_until_ms = r->watch_until_ms;
	ro->verify_until_ms = r->verify_until_ms;
	ro->scale_down_delay_ms = r->scale_down_delay_ms;
	ro->scale_down_at_ms = r->scale_down_at_ms;
	ro->scale_down_sent = r->scale_down_sent;
	ro->first_ack_ms = r->first_ack_ms;
	ro->last_ack_ms = r->last_ack_ms;
	coord_ro_canary_from(&ro->canary, r->canary);
	ro->nsteps = r->n_steps;
	if (r->n_steps > 0 && (ro->steps = calloc(r->n_steps, sizeof(*ro->steps))) == NULL)
		return OSP_ENOMEM;
	for (size_t i = 0; i < r->n_steps; i++) {
		const Ospec__V1__StepRecord *s = r->steps[i];
		coord_ro_step *st = &ro->steps[i];
		osp_strlcpy(st->node, s->node, sizeof(st->node));
		st->state = (coord_step_state)s->state;
		st->batch = s->batch;
		st->seq = s->seq;
		st->cmd = (coord_ro_cmd)s->cmd;
		st->started_ms = s->started_ms;
		st->finished_ms = s->finished_ms;
		osp_strlcpy(st->reason, s->reason ? s->reason : "", sizeof(st->reason));
		osp_strlcpy(st->prev_version, s->prev_version ? s->prev_version : "",
			sizeof(st->prev_version));
		osp_strlcpy(st->prev_sha256, s->prev_sha256 ? s->prev_sha256 : "",
			sizeof(st->prev_sha256));
		st->revert_pending = s->revert_pending;
		osp_strlcpy(st->slot, s->slot ? s->slot : "", sizeof(st->slot));
		osp_strlcpy(st->old_slot, s->old_slot ? s->old_slot : "", sizeof(st->old_slot));
		osp_strlcpy(st->to_slot, s->to_slot ? s->to_slot : "", sizeof(st->to_slot));
		st->vote = (coord_ro_vote)s->vote;
		st->in_switch = s->in_switch;
		st->decide_commit = s->decide_commit;
		st->acked_ms = s->acked_ms;
		st->healthy_seen = s->healthy_seen;
		st->stage_generation = s->stage_generation;
		st->void_seq = s->void_seq;
		osp_strlcpy(st->version, s->version ? s->version : "", sizeof(st->version));
		osp_strlcpy(st->sha256, s->sha256 ? s->sha256 : "", sizeof(st->sha256));
		coord_ro_stats_from(&st->base, s->canary_base);
		coord_ro_stats_from(&st->last, s->canary_last);
		st->has_base = s->canary_has_base;
		st->fresh = s->canary_fresh;
	}
	return OSP_OK;
}

/* coord_ro_step_to fills s (strings point into st; stats, two, used for a
 * canary) from the engine's step. */
static void coord_ro_step_to(Ospec__V1__StepRecord *s, Ospec__V1__SlotStats *stats,
	const coord_ro_step *st, bool cn)
{
	ospec__v1__step_record__init(s);
	s->node = (char *)st->node;
	s->state = st->state;
	s->has_batch = s->has_seq = s->has_cmd = 1;
	s->batch = st->batch;
	s->seq = st->seq;
	s->cmd = st->cmd;
	s->has_started_ms = s->has_finished_ms = s->has_revert_pending = 1;
	s->started_ms = st->started_ms;
	s->finished_ms = st->finished_ms;
	s->reason = (char *)st->reason;
	s->prev_version = (char *)st->prev_version;
	s->prev_sha256 = (char *)st->prev_sha256;
	s->revert_pending = st->revert_pending;
	s->slot = (char *)st->slot;
	s->old_slot = (char *)st->old_slot;
	s->to_slot = (char *)st->to_slot;
	s->has_vote = s->has_in_switch = s->has_decide_commit = 1;
	s->vote = st->vote;
	s->in_switch = st->in_switch;
	s->decide_commit = st->decide_commit;
	s->has_acked_ms = s->has_healthy_seen = 1;
	s->acked_ms = st->acked_ms;
	s->healthy_seen = st->healthy_seen;
	s->has_stage_generation = s->has_void_seq = 1;
	s->stage_generation = st->stage_generation;
	s->void_seq = st->void_seq;
	s->version = (char *)st->version;
	s->sha256 = (char *)st->sha256;
	if (cn) {
		coord_ro_stats_to(&stats[0], &st->base);
		coord_ro_stats_to(&stats[1], &st->last);
		s->canary_base = &stats[0];
		s->canary_last = &stats[1];
		s->has_canary_has_base = s->has_canary_fresh = 1;
		s->canary_has_base = st->has_base;
		s->canary_fresh = st->fresh;
	}
}

/* coord_ro_header_to writes the engine's rollout-wide state into r. */
static osp_err coord_ro_header_to(Ospec__V1__RolloutRecord *r, const coord_rollout *ro)
{
	char *reason = strdup(ro->reason), *switch_id = strdup(ro->switch_id);

	if (reason == NULL || switch_id == NULL) {
		free(reason);
		free(switch_id);
		return OSP_ENOMEM;
	}
	r->state = ro->state;
	r->has_state = r->has_paused = r->has_abort_requested = r->has_current_batch = 1;
	r->paused = ro->paused;
	r->abort_requested = ro->abort_requested;
	r->current_batch = ro->current_batch;
	r->has_phase = r->has_started_ms = r->has_finished_ms = 1;
	r->phase = ro->phase;
	r->started_ms = ro->started_ms;
	r->finished_ms = ro->finished_ms;
	free(r->reason);
	r->reason = reason;
	free(r->switch_id);
	r->switch_id = switch_id;
	r->has_switch_no = r->has_decision = r->has_prepare_deadline_ms = 1;
	r->switch_no = ro->switch_no;
	r->decision = ro->decision;
	r->prepare_deadline_ms = ro->prepare_deadline_ms;
	r->has_prepare_started_ms = r->has_verify_until_ms = r->has_scale_down_at_ms = 1;
	r->prepare_started_ms = ro->prepare_started_ms;
	r->verify_until_ms = ro->verify_until_ms;
	r->scale_down_at_ms = ro->scale_down_at_ms;
	r->has_ending = r->has_watch_until_ms = 1;
	r->ending = ro->ending;
	r->watch_until_ms = ro->watch_until_ms;
	r->has_scale_down_sent = r->has_first_ack_ms = r->has_last_ack_ms = 1;
	r->scale_down_sent = ro->scale_down_sent;
	r->has_switch_gate = r->has_switch_approved = 1;
	r->switch_gate = ro->switch_gate;
	r->switch_approved = ro->switch_approved;
	r->first_ack_ms = ro->first_ack_ms;
	r->last_ack_ms = ro->last_ack_ms;
	if (r->n_switches > 0 && strcmp(r->switches[r->n_switches - 1]->id, ro->switch_id) == 0) {
		Ospec__V1__SwitchRecord *sw = r->switches[r->n_switches - 1];
		sw->has_first_ack_ms = sw->has_last_ack_ms = 1;
		sw->first_ack_ms = ro->first_ack_ms;
		sw->last_ack_ms = ro->last_ack_ms;
	}
	return OSP_OK;
}

/* coord_ro_save_header packs the record without steps (the engine's canary
 * standing in for the record's) and stores it unless it is what the store
 * holds already (all: write anyway). */
static osp_err coord_ro_save_header(osp_txn *t, coord_ro_entry *e, bool all)
{
	Ospec__V1__RolloutRecord *r = e->rec;
	Ospec__V1__StepRecord **saved = r->steps;
	Ospec__V1__CanaryRecord canary, *saved_canary = r->canary;
	size_t nsaved = r->n_steps, len;
	uint8_t *buf;
	osp_err rv = OSP_OK;

	if ((rv = coord_ro_header_to(r, &e->ro)) != OSP_OK)
		return rv;
	r->steps = NULL;
	r->n_steps = 0;
	if (e->ro.strategy == COORD_RO_CANARY) {
		coord_ro_canary_to(&canary, &e->ro.canary);
		if (saved_canary != NULL) { /* the query is the record's own setting */
			canary.analysis_url = saved_canary->analysis_url;
			canary.analysis_query = saved_canary->analysis_query;
			canary.query_min = saved_canary->query_min;
			canary.query_max = saved_canary->query_max;
		}
		r->canary = &canary;
	}
	len = ospec__v1__rollout_record__get_packed_size(r);
	if ((buf = malloc(len ? len : 1)) != NULL)
		ospec__v1__rollout_record__pack(r, buf);
	r->steps = saved;
	r->n_steps = nsaved;
	r->canary = saved_canary;
	if (buf == NULL)
		return OSP_ENOMEM;
	if (!all && e->stored_hdr != NULL && e->stored_hdr_len == len &&
		memcmp(e->stored_hdr, buf, len) == 0) {
		free(buf);
		return OSP_OK;
	}
	if ((rv = osp_store_put(t, "rollouts", r->id, strlen(r->id), buf, len)) != OSP_OK) {
		free(buf);
		return rv;
	}
	free(e->stored_hdr);
	e->stored_hdr = buf;
	e->stored_hdr_len = len;
	return OSP_OK;
}

/* coord_ro_save_step packs step i and stores it. */
static osp_err coord_ro_save_step(osp_txn *t, coord_ro_entry *e, size_t i)
{
	Ospec__V1__StepRecord s;
	Ospec__V1__SlotStats stats[2];
	uint8_t small[2048], *buf = small;
	size_t len;
	osp_err rv;

	coord_ro_step_to(&s, stats, &e->ro.steps[i], e->ro.strategy == COORD_RO_CANARY);
	len = ospec__v1__step_record__get_packed_size(&s);
	if (len > sizeof(small) && (buf = malloc(len)) == NULL)
		return OSP_ENOMEM;
	ospec__v1__step_record__pack(&s, buf);
	rv = coord_ro_steps_put(t, e->ro.id, (uint32_t)i, buf, len);
	if (buf != small)
		free(buf);
	return rv;
}

/* The string buffers of a step, in declaration order: only up to the NUL is
 * stored, so coord_ro_step_same compares them with strncmp and every other
 * byte with memcmp. A field missing here is compared whole (a string added
 * later: only slower), never skipped. */
#define COORD_RO_STR(f) { offsetof(coord_ro_step, f), sizeof(((coord_ro_step *)0)->f) }
static const struct {
	size_t off, len;
} coord_ro_step_strs[] = {
	COORD_RO_STR(node), COORD_RO_STR(reason), COORD_RO_STR(prev_version),
	COORD_RO_STR(prev_sha256), COORD_RO_STR(version), COORD_RO_STR(sha256),
	COORD_RO_STR(slot), COORD_RO_STR(old_slot), COORD_RO_STR(to_slot),
};
#define COORD_RO_BEFORE(a, b) \
	_Static_assert(offsetof(coord_ro_step, a) < offsetof(coord_ro_step, b), #a " before " #b)
COORD_RO_BEFORE(node, reason);
COORD_RO_BEFORE(reason, prev_version);
COORD_RO_BEFORE(prev_version, prev_sha256);
COORD_RO_BEFORE(prev_sha256, version);
COORD_RO_BEFORE(version, sha256);
COORD_RO_BEFORE(sha256, slot);
COORD_RO_BEFORE(slot, old_slot);
COORD_RO_BEFORE(old_slot, to_slot);

/* coord_ro_step_same: a and b would be stored alike (false may be a false
 * alarm, e.g. padding; true never is). */
static bool coord_ro_step_same(const coord_ro_step *a, const coord_ro_step *b)
{
	const char *pa = (const char *)a, *pb = (const char *)b;
	size_t at = 0;

	for (size_t i = 0; i < sizeof(coord_ro_step_strs) / sizeof(coord_ro_step_strs[0]); i++) {
		size_t off = coord_ro_step_strs[i].off, len = coord_ro_step_strs[i].len;

		if (memcmp(pa + at, pb + at, off - at) != 0 || strncmp(pa + off, pb + off, len) != 0)
			return false;
		at = off + len;
	}
	return memcmp(pa + at, pb + at, sizeof(*a) - at) == 0;
}

void coord_ro_stored_fini(coord_ro_entry *e)
{
	free(e->stored);
	free(e->stored_hdr);
	e->stored = NULL;
	e->stored_hdr = NULL;
	e->nstored = e->stored_hdr_len = 0;
	e->stored_ok = false;
}

osp_err coord_ro_stored_init(osp_txn *t, coord_ro_entry *e)
{
	coord_ro_stored_fini(e);
	if (e->ro.nsteps > 0 && (e->stored = malloc(e->ro.nsteps * sizeof(*e->stored))) == NULL)
		return OSP_ENOMEM;
	if (e->ro.nsteps > 0)
		memcpy(e->stored, e->ro.steps, e->ro.nsteps * sizeof(*e->stored));
	e->nstored = e->ro.nsteps;
	e->stored_ok = true;
	e->stored_failures = osp_store_write_failures(t);
	return OSP_OK;
}

/*
 * coord_ro_save writes the engine's state into the record and the store:
 * the header when its encoding changed, and each step whose engine state
 * differs from the copy of what the store holds (coord_ro_step_same: every
 * byte, strings up to their NUL).
 * A step the engine changed is always written: a difference in a field the
 * record does not keep, or in padding, only costs a write. Everything is
 * written again (and stale steps deleted) when the copy cannot be trusted:
 * none yet (a new rollout), a change in the number of steps, or a
 * transaction with writes aborted or failed since the copy was taken (its writes may
 * be the lost ones).
 */
osp_err coord_ro_save(coord *c, osp_txn *t, coord_ro_entry *e)
{
	const coord_rollout *ro = &e->ro;
	bool all = !e->stored_ok || e->stored_failures != osp_store_write_failures(t) ||
		e->nstored != ro->nsteps;
	osp_err rv;

	(void)c;
	if (all) {
		coord_ro_stored_fini(e);
		if (ro->nsteps > 0 && (e->stored = malloc(ro->nsteps * sizeof(*e->stored))) == NULL)
			return OSP_ENOMEM;
		e->nstored = ro->nsteps;
		if ((rv = coord_ro_steps_del(t, ro->id)) != OSP_OK)
			goto fail;
	}
	if ((rv = coord_ro_save_header(t, e, all)) != OSP_OK)
		goto fail;
	for (size_t i = 0; i < ro->nsteps; i++) {
		if (!all && coord_ro_step_same(&ro->steps[i], &e->stored[i]))
			continue;
		if ((rv = coord_ro_save_step(t, e, i)) != OSP_OK)
			goto fail;
		memcpy(&e->stored[i], &ro->steps[i], sizeof(ro->steps[i]));
	}
	e->stored_ok = true;
	e->stored_failures = osp_store_write_failures(t);
	return OSP_OK;
fail:
	e->stored_ok = false; /* the caller aborts: next time, everything */
	return rv;
}
