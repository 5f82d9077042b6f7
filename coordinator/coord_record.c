/*
 * coord_record.c - the rollout record's one owner: the only module
 * that reads and writes the databases "rollouts" (the record's header),
 * "switches" (the decisions of two-phase switches), "requests" (the replies
 * of mutating control requests) and the meta key "rollout_seq"
 * (coord_record_steps.c, its part, keeps "steps").
 *
 * The engine's view (coord_rollout) and the stored record (RolloutRecord,
 * StepRecord, CanaryRecord) are tied by one field map per message: a row
 * names a field of the engine struct and the protobuf field it is stored
 * in, and coord_rf_from / coord_rf_to copy every row one way or the other.
 * Adding a field to a rollout is its declaration in coord_rollout.h and
 * store.proto plus one row here (test_coord_record.c fails without
 * the row).
 */
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_active.h"

enum {
	COORD_RF_NOT = 1,    /* a bool stored negated (auto_rollback: no_auto_rollback) */
	COORD_RF_CANARY = 2, /* written only for a canary rollout (read always) */
	COORD_RF_OWN = 4,    /* the record's own (its key and release): read, never
			      * written back */
};

/* One field: where it is in the engine's struct and in the record's. */
typedef struct coord_rf {
	size_t eoff, elen;   /* engine: offset and size */
	coord_rf_kind ekind;
	size_t poff, phas;   /* record: offset of the value and of its has_ flag */
	coord_rf_kind pkind;
	int64_t absent;      /* the engine's value when the record lacks the field */
	unsigned flags;
} coord_rf;

#define COORD_RF_ROW(E, P, ef, pf, has, absent, fl) \
	{ offsetof(E, ef), sizeof(((E *)0)->ef), COORD_RF_KIND(((E *)0)->ef), offsetof(P, pf), \
		has, COORD_RF_KIND(((P *)0)->pf), absent, fl }

/* The header: coord_rollout <-> RolloutRecord (the steps and the canary
 * have their own maps). RO: a field of one name on both sides; RO_AS: of
 * other names, with the value when absent and flags; RO_STR: a string. */
#define RO_AS(ef, pf, absent, fl) COORD_RF_ROW(coord_rollout, Ospec__V1__RolloutRecord, ef, \
	pf, offsetof(Ospec__V1__RolloutRecord, has_##pf), absent, fl)
#define RO(f) RO_AS(f, f, 0, 0)
#define RO_STR(f, fl) COORD_RF_ROW(coord_rollout, Ospec__V1__RolloutRecord, f, f, \
	COORD_RF_NOHAS, 0, fl)
static const coord_rf coord_rf_rollout[] = {
	RO_STR(id, COORD_RF_OWN), RO_STR(app, COORD_RF_OWN), RO_STR(version, COORD_RF_OWN),
	RO_STR(sha256, COORD_RF_OWN),
	RO(strategy), RO(batch), RO(batch_pct), RO(max_failures), RO(max_failures_pct),
	RO(progress_deadline_ms), RO(state), RO(paused), RO(abort_requested),
	RO_AS(current_batch, current_batch, -1, 0), RO(phase),
	RO_STR(switch_id, 0), RO(switch_no), RO(decision),
	RO_AS(prepare_deadline_ms, prepare_deadline_ms, COORD_RO_PREPARE_DEADLINE_MS, 0),
	RO(prepare_started_ms), RO(rollback_window_ms), RO(switch_gate), RO(switch_approved),
	RO_AS(auto_rollback, no_auto_rollback, 1, COORD_RF_NOT), RO(ending), RO(watch_until_ms),
	RO(verify_until_ms), RO(scale_down_delay_ms), RO(scale_down_at_ms), RO(scale_down_sent),
	RO(first_ack_ms), RO(last_ack_ms), RO(started_ms), RO(finished_ms), RO_STR(reason, 0),
};
#undef RO
#undef RO_AS
#undef RO_STR

/* A step: coord_ro_step <-> StepRecord (node and state are required: no
 * has_ flag). */
#define ST_AS(ef, pf, fl) COORD_RF_ROW(coord_ro_step, Ospec__V1__StepRecord, ef, pf, \
	offsetof(Ospec__V1__StepRecord, has_##pf), 0, fl)
#define ST(f) ST_AS(f, f, 0)
#define ST_NOHAS(ef, pf, fl) COORD_RF_ROW(coord_ro_step, Ospec__V1__StepRecord, ef, pf, \
	COORD_RF_NOHAS, 0, fl)
static const coord_rf coord_rf_step[] = {
	ST_NOHAS(node, node, 0), ST_NOHAS(state, state, 0), ST(batch), ST(seq), ST(cmd),
	ST(started_ms), ST(finished_ms), ST_NOHAS(reason, reason, 0),
	ST_NOHAS(prev_version, prev_version, 0), ST_NOHAS(prev_sha256, prev_sha256, 0),
	ST(revert_pending), ST_NOHAS(slot, slot, 0), ST_NOHAS(old_slot, old_slot, 0),
	ST_NOHAS(to_slot, to_slot, 0), ST(vote), ST(in_switch), ST(decide_commit), ST(acked_ms),
	ST(healthy_seen), ST(stage_generation), ST(void_seq), ST(stopped),
	ST_NOHAS(version, version, 0), ST_NOHAS(sha256, sha256, 0),
	/* the COORD_RF_STEP_STATS rows of kind STATS */
	ST_NOHAS(base, canary_base, COORD_RF_CANARY), ST_NOHAS(last, canary_last, COORD_RF_CANARY),
	ST_AS(has_base, canary_has_base, COORD_RF_CANARY),
	ST_AS(fresh, canary_fresh, COORD_RF_CANARY),
};
#define COORD_RF_STEP_STATS 2 /* room coord_ro_save_step gives them */
#undef ST
#undef ST_AS
#undef ST_NOHAS

/* A canary's settings and state: coord_ro_canary <-> CanaryRecord (ext is
 * the record's analysis_url being set; the query itself stays the
 * record's, coord_ro_save_header). */
#define CN(f) COORD_RF_ROW(coord_ro_canary, Ospec__V1__CanaryRecord, f, f, \
	offsetof(Ospec__V1__CanaryRecord, has_##f), 0, 0)
#define CN_STR(f) COORD_RF_ROW(coord_ro_canary, Ospec__V1__CanaryRecord, f, f, \
	COORD_RF_NOHAS, 0, 0)
static const coord_rf coord_rf_canary[] = {
	CN(initial), CN(step), CN(max), CN(interval_ms), CN(threshold), CN(min_success_x100),
	CN(max_rtime_ms), CN(min_requests), CN(weight), CN(step_no), CN(step_until_ms),
	CN(failed_checks), CN(analyses), CN(an_ms), CN(an_requests), CN(an_errors),
	CN(an_rtime_ms), CN(an_has_rtime), CN(an_passed), CN(an_nodes), CN_STR(an_note),
	CN(ext_state), CN_STR(ext_note),
};
#undef CN
#undef CN_STR

#define COORD_RF_N(m) (sizeof(m) / sizeof((m)[0]))

int64_t coord_rf_get(const void *p, coord_rf_kind k)
{
	switch (k) {
	case COORD_RF_BOOL:
		return *(const bool *)p;
	case COORD_RF_I32:
		return *(const int32_t *)p;
	case COORD_RF_U32:
		return *(const uint32_t *)p;
	case COORD_RF_I64:
		return *(const int64_t *)p;
	case COORD_RF_U64:
		return (int64_t)*(const uint64_t *)p; /* back to uint64_t by coord_rf_set */
	default:
		return 0;
	}
}

void coord_rf_set(void *p, coord_rf_kind k, int64_t v)
{
	switch (k) {
	case COORD_RF_BOOL:
		*(bool *)p = v != 0;
		break;
	case COORD_RF_I32:
		*(int32_t *)p = (int32_t)v;
		break;
	case COORD_RF_U32:
		*(uint32_t *)p = (uint32_t)v;
		break;
	case COORD_RF_I64:
		*(int64_t *)p = v;
		break;
	case COORD_RF_U64:
		*(uint64_t *)p = (uint64_t)v;
		break;
	default:
		break;
	}
}

/* coord_rf_from fills the engine's struct eng from the record msg, every
 * row of map m (strings cut to their buffer; absent fields get the row's
 * value). */
static void coord_rf_from(const coord_rf *m, size_t n, void *eng, const void *msg)
{
	char *e = eng;
	const char *p = msg;

	for (size_t i = 0; i < n; i++) {
		const coord_rf *f = &m[i];
		int64_t v;

		if (f->ekind == COORD_RF_STR) {
			const char *s = *(char *const *)(p + f->poff);
			osp_strlcpy(e + f->eoff, s != NULL ? s : "", f->elen);
			continue;
		}
		if (f->ekind == COORD_RF_STATS) {
			coord_ro_stats_from((coord_ro_stats *)(e + f->eoff),
				*(Ospec__V1__SlotStats *const *)(p + f->poff));
			continue;
		}
		if (f->phas != COORD_RF_NOHAS && !*(const protobuf_c_boolean *)(p + f->phas))
			v = f->absent;
		else if (f->flags & COORD_RF_NOT)
			v = !coord_rf_get(p + f->poff, f->pkind);
		else
			v = coord_rf_get(p + f->poff, f->pkind);
		coord_rf_set(e + f->eoff, f->ekind, v);
	}
}

static void coord_ro_stats_to(Ospec__V1__SlotStats *o, const coord_ro_stats *s);

/* coord_rf_to writes the engine's struct eng into the record msg, every row
 * of map m but the record's own (and the canary's rows unless canary). dup:
 * strings are copied (msg owns them; the old ones are freed), else they
 * point into eng. The rows of kind STATS are packed into stats (room for
 * nstats: OSP_ETOOBIG past it). OSP_ENOMEM: msg is partly written. */
static osp_err coord_rf_to(const coord_rf *m, size_t n, const void *eng, void *msg, bool canary,
	bool dup, Ospec__V1__SlotStats *stats, size_t nstats)
{
	const char *e = eng;
	char *p = msg;

	for (size_t i = 0; i < n; i++) {
		const coord_rf *f = &m[i];
		int64_t v;

		if ((f->flags & COORD_RF_OWN) || ((f->flags & COORD_RF_CANARY) && !canary))
			continue;
		if (f->ekind == COORD_RF_STR) {
			char **dst = (char **)(p + f->poff);
			char *s = (char *)(e + f->eoff);

			if (dup) {
				if ((s = strdup(s)) == NULL)
					return OSP_ENOMEM;
				free(*dst);
			}
			*dst = s;
			continue;
		}
		if (f->ekind == COORD_RF_STATS) {
			if (nstats == 0)
				return OSP_ETOOBIG;
			coord_ro_stats_to(stats, (const coord_ro_stats *)(e + f->eoff));
			*(Ospec__V1__SlotStats **)(p + f->poff) = stats++;
			nstats--;
			continue;
		}
		v = coord_rf_get(e + f->eoff, f->ekind);
		coord_rf_set(p + f->poff, f->pkind, (f->flags & COORD_RF_NOT) ? !v : v);
		if (f->phas != COORD_RF_NOHAS)
			*(protobuf_c_boolean *)(p + f->phas) = 1;
	}
	return OSP_OK;
}

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

/* coord_ro_from_rec fills the engine's view from a record (steps allocated). */
osp_err coord_ro_from_rec(coord_ro_entry *e)
{
	const Ospec__V1__RolloutRecord *r = e->rec;
	coord_rollout *ro = &e->ro;

	memset(ro, 0, sizeof(*ro));
	coord_rf_from(coord_rf_rollout, COORD_RF_N(coord_rf_rollout), ro, r);
	if (r->canary != NULL) {
		coord_rf_from(coord_rf_canary, COORD_RF_N(coord_rf_canary), &ro->canary, r->canary);
		if (ro->canary.threshold == 0)
			ro->canary.threshold = 1;
		ro->canary.ext = r->canary->analysis_url != NULL && r->canary->analysis_url[0] != '\0';
	}
	ro->nsteps = r->n_steps;
	if (r->n_steps > 0 && (ro->steps = calloc(r->n_steps, sizeof(*ro->steps))) == NULL)
		return OSP_ENOMEM;
	for (size_t i = 0; i < r->n_steps; i++)
		coord_rf_from(coord_rf_step, COORD_RF_N(coord_rf_step), &ro->steps[i], r->steps[i]);
	return OSP_OK;
}

/* coord_ro_header_to writes the engine's rollout-wide state into r (the
 * strings copied: r owns them) and the flip skew into its current switch. */
static osp_err coord_ro_header_to(Ospec__V1__RolloutRecord *r, const coord_rollout *ro)
{
	osp_err rv = coord_rf_to(coord_rf_rollout, COORD_RF_N(coord_rf_rollout), ro, r, false,
		true, NULL, 0);

	if (rv != OSP_OK)
		return rv;
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
		ospec__v1__canary_record__init(&canary);
		coord_rf_to(coord_rf_canary, COORD_RF_N(coord_rf_canary), &e->ro.canary, &canary,
			true, false, NULL, 0); /* no string copied, no STATS: cannot fail */
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
	Ospec__V1__SlotStats stats[COORD_RF_STEP_STATS];
	uint8_t small[2048], *buf = small;
	size_t len;
	osp_err rv;

	ospec__v1__step_record__init(&s);
	if ((rv = coord_rf_to(coord_rf_step, COORD_RF_N(coord_rf_step), &e->ro.steps[i], &s,
		     e->ro.strategy == COORD_RO_CANARY, false, stats, COORD_RF_STEP_STATS)) != OSP_OK)
		return rv;
	len = ospec__v1__step_record__get_packed_size(&s);
	if (len > sizeof(small) && (buf = malloc(len)) == NULL)
		return OSP_ENOMEM;
	ospec__v1__step_record__pack(&s, buf);
	rv = coord_ro_steps_put(t, e->ro.id, (uint32_t)i, buf, len);
	if (buf != small)
		free(buf);
	return rv;
}

/*
 * A step as the store sees it, for coord_ro_save to tell which steps changed:
 * every byte of the engine's step except the tail of each string after its
 * NUL (strings are stored up to it). Each string is kept as its bytes and a
 * NUL, every other byte as it is, so two steps have the same form exactly
 * when they would be stored alike (a difference in padding only costs a
 * write). The form of a step is about 300 bytes where the step is 2.7 KB:
 * at 5000 nodes a rollout's copy went from 13 MB to under 2.
 */
typedef struct coord_ro_strseg {
	size_t off, len;
} coord_ro_strseg;

/* The step's strings in the order of their offsets (coord_ro_strs_init). */
static coord_ro_strseg coord_ro_strs[COORD_RF_N(coord_rf_step)];
static size_t coord_ro_nstrs;
static pthread_once_t coord_ro_strs_once = PTHREAD_ONCE_INIT;

static void coord_ro_strs_init(void)
{
	for (size_t i = 0; i < COORD_RF_N(coord_rf_step); i++) {
		size_t k, off = coord_rf_step[i].eoff, end = off + coord_rf_step[i].elen;
		bool overlaps = false;
		if (coord_rf_step[i].ekind != COORD_RF_STR)
			continue;
		/* a second row over the same bytes (an alias) would break the
		 * walk: its bytes are kept whole, as any other byte */
		for (k = 0; k < coord_ro_nstrs; k++)
			overlaps |= off < coord_ro_strs[k].off + coord_ro_strs[k].len &&
				    coord_ro_strs[k].off < end;
		if (overlaps)
			continue;
		/* insertion by offset */
		for (k = coord_ro_nstrs; k > 0 && coord_ro_strs[k - 1].off > coord_rf_step[i].eoff;
			k--)
			coord_ro_strs[k] = coord_ro_strs[k - 1];
		coord_ro_strs[k].off = coord_rf_step[i].eoff;
		coord_ro_strs[k].len = coord_rf_step[i].elen;
		coord_ro_nstrs++;
	}
}

/* The longest form: every byte, and a NUL after each string. */
#define COORD_RO_FORM_MAX (sizeof(coord_ro_step) + COORD_RF_N(coord_rf_step))

/* coord_ro_step_form writes s's form into out (COORD_RO_FORM_MAX bytes) and
 * returns its length. */
static size_t coord_ro_step_form(const coord_ro_step *s, uint8_t *out)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t at = 0, n = 0;

	pthread_once(&coord_ro_strs_once, coord_ro_strs_init);
	for (size_t i = 0; i < coord_ro_nstrs; i++) {
		size_t off = coord_ro_strs[i].off, len = strnlen((const char *)p + off,
			coord_ro_strs[i].len);
		memcpy(out + n, p + at, off - at);
		n += off - at;
		memcpy(out + n, p + off, len);
		n += len;
		out[n++] = '\0';
		at = off + coord_ro_strs[i].len;
	}
	memcpy(out + n, p + at, sizeof(*s) - at);
	return n + sizeof(*s) - at;
}

/* coord_ro_form_keep makes f the form of step s; false when out of memory
 * (f is then empty: the step counts as changed). */
static bool coord_ro_form_keep(coord_ro_form *f, const coord_ro_step *s)
{
	uint8_t buf[COORD_RO_FORM_MAX];
	size_t n = coord_ro_step_form(s, buf);
	uint8_t *b = n == f->len ? f->b : realloc(f->b, n);

	if (b == NULL) {
		free(f->b);
		f->b = NULL;
		f->len = 0;
		return false;
	}
	memcpy(b, buf, n);
	f->b = b;
	f->len = n;
	return true;
}

/* coord_ro_form_same: step s would be stored as the step whose form is f
 * (false may be a false alarm, e.g. padding; true never is). */
static bool coord_ro_form_same(const coord_ro_form *f, const coord_ro_step *s)
{
	uint8_t buf[COORD_RO_FORM_MAX];

	return f->b != NULL && coord_ro_step_form(s, buf) == f->len && memcmp(buf, f->b, f->len) == 0;
}

/* coord_ro_forms_free frees n forms and the array. */
static void coord_ro_forms_free(coord_ro_form *v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++)
		free(v[i].b);
	free(v);
}

void coord_ro_stored_fini(coord_ro_entry *e)
{
	coord_ro_forms_free(e->stored, e->nstored);
	free(e->stored_hdr);
	e->stored = NULL;
	e->stored_hdr = NULL;
	e->nstored = e->stored_hdr_len = 0;
	e->stored_ok = false;
}

osp_err coord_ro_stored_init(osp_txn *t, coord_ro_entry *e)
{
	coord_ro_stored_fini(e);
	if (e->ro.nsteps > 0 && (e->stored = calloc(e->ro.nsteps, sizeof(*e->stored))) == NULL)
		return OSP_ENOMEM;
	e->nstored = e->ro.nsteps;
	/* a form that cannot be kept stays empty: that step counts as
	 * changed, and the next save writes it */
	for (size_t i = 0; i < e->ro.nsteps; i++)
		coord_ro_form_keep(&e->stored[i], &e->ro.steps[i]);
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

	c->ro_saves++;
	if (all) {
		coord_ro_stored_fini(e);
		if (ro->nsteps > 0 && (e->stored = calloc(ro->nsteps, sizeof(*e->stored))) == NULL)
			return OSP_ENOMEM;
		e->nstored = ro->nsteps;
		if ((rv = coord_ro_steps_del(t, ro->id)) != OSP_OK)
			goto fail;
	}
	if ((rv = coord_ro_save_header(t, e, all)) != OSP_OK)
		goto fail;
	for (size_t i = 0; i < ro->nsteps; i++) {
		if (!all && coord_ro_form_same(&e->stored[i], &ro->steps[i]))
			continue;
		if ((rv = coord_ro_save_step(t, e, i)) != OSP_OK)
			goto fail;
		/* written: without memory for its form it counts as changed
		 * next time (written again), which is only a write */
		coord_ro_form_keep(&e->stored[i], &ro->steps[i]);
	}
	e->stored_ok = true;
	e->stored_failures = osp_store_write_failures(t);
	return OSP_OK;
fail:
	e->stored_ok = false; /* the caller aborts: next time, everything */
	return rv;
}

osp_err coord_pb_put(osp_txn *t, const char *db, const char *key, const ProtobufCMessage *m)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(len ? len : 1);
	osp_err rv;

	if (buf == NULL)
		return OSP_ENOMEM;
	protobuf_c_message_pack(m, buf);
	rv = osp_store_put(t, db, key, strlen(key), buf, len);
	free(buf);
	return rv;
}

osp_err coord_ro_rec_put(osp_txn *t, const Ospec__V1__RolloutRecord *r)
{
	return coord_pb_put(t, "rollouts", r->id, &r->base);
}

osp_err coord_pb_get(osp_txn *t, const char *db, const void *key, size_t kl,
	const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out)
{
	const void *v;
	size_t vl;
	osp_err rv;

	*out = NULL;
	if ((rv = osp_store_get(t, db, key, kl, &v, &vl)) != OSP_OK)
		return rv;
	return (*out = protobuf_c_message_unpack(desc, NULL, vl, v)) != NULL ? OSP_OK
										: OSP_ESTORE;
}

osp_err coord_ro_rec_get_key(osp_txn *t, const void *key, size_t kl,
	Ospec__V1__RolloutRecord **out)
{
	ProtobufCMessage *m = NULL;
	osp_err rv = coord_pb_get(t, "rollouts", key, kl, &ospec__v1__rollout_record__descriptor,
		&m);

	*out = (Ospec__V1__RolloutRecord *)m;
	return rv;
}

typedef struct coord_pb_each {
	const ProtobufCMessageDescriptor *desc;
	const char *db;
	coord_pb_fn fn;
	void *arg;
} coord_pb_each;

static int coord_pb_each_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	coord_pb_each *each = arg;
	ProtobufCMessage *m = protobuf_c_message_unpack(each->desc, NULL, vl, v);

	if (m == NULL) {
		OSP_ERROR("COORD-STORE-CORRUPT", "undecodable record '%.*s' in '%s' skipped",
			(int)(kl < 64 ? kl : 64), (const char *)k, each->db);
		return 0;
	}
	return each->fn(each->arg, m);
}

osp_err coord_pb_foreach(osp_txn *t, const char *db, const ProtobufCMessageDescriptor *desc,
	coord_pb_fn fn, void *arg)
{
	coord_pb_each each = { desc, db, fn, arg };

	return osp_store_foreach(t, db, NULL, 0, false, coord_pb_each_cb, &each);
}

osp_err coord_ro_rec_foreach(osp_txn *t, coord_pb_fn fn, void *arg)
{
	return coord_pb_foreach(t, "rollouts", &ospec__v1__rollout_record__descriptor, fn, arg);
}

osp_err coord_ro_rec_keys(osp_txn *t, osp_store_iter_fn fn, void *arg)
{
	return osp_store_foreach(t, "rollouts", NULL, 0, false, fn, arg);
}

/* the whole rollout: its record, then its steps (one cursor) */
osp_err coord_rollout_get(coord *c, osp_txn *t, const char *id, Ospec__V1__RolloutRecord **out)
{
	osp_err rv;

	(void)c;
	if ((rv = coord_ro_rec_get_key(t, id, strlen(id), out)) != OSP_OK)
		return rv;
	if ((rv = coord_ro_steps_read(t, *out)) != OSP_OK) {
		ospec__v1__rollout_record__free_unpacked(*out, NULL);
		*out = NULL;
	}
	return rv;
}

osp_err coord_active_next_seq(coord *c, osp_txn *t, uint64_t *seq)
{
	const void *v;
	size_t vl;
	uint8_t be[8];
	uint64_t n = 0;
	osp_err rv;

	(void)c;
	rv = osp_store_get(t, "meta", "rollout_seq", 11, &v, &vl);
	if (rv == OSP_OK && vl == 8)
		n = osp_be64_get(v);
	else if (rv != OSP_ENOENT && rv != OSP_OK)
		return rv;
	n++;
	osp_be64_put(be, n);
	if ((rv = osp_store_put(t, "meta", "rollout_seq", 11, be, 8)) != OSP_OK)
		return rv;
	*seq = n;
	return OSP_OK;
}

osp_err coord_active_mint_id(coord *c, osp_txn *t, const char *app, char *id, size_t idlen,
	uint64_t *seq)
{
	osp_err rv = coord_active_next_seq(c, t, seq);
	int n;

	if (rv != OSP_OK)
		return rv;
	n = snprintf(id, idlen, "%s-%llu", app, (unsigned long long)*seq);
	return n < 0 || (size_t)n >= idlen ? OSP_ETOOBIG : OSP_OK;
}

osp_err coord_ro_rec_decide(osp_txn *t, const char *switch_id, bool commit)
{
	const char *d = commit ? "commit" : "abort";

	return osp_store_put(t, "switches", switch_id, strlen(switch_id), d, strlen(d));
}

osp_err coord_ro_rec_decision(osp_txn *t, const char *switch_id, bool *commit)
{
	const void *v;
	size_t vl;
	osp_err rv = osp_store_get(t, "switches", switch_id, strlen(switch_id), &v, &vl);

	if (rv != OSP_OK)
		return rv;
	if (commit != NULL)
		*commit = vl == 6 && memcmp(v, "commit", 6) == 0;
	return OSP_OK;
}

osp_err coord_ro_rec_request_get(osp_txn *t, const char *rid, Ospec__V1__RequestRecord **out)
{
	ProtobufCMessage *m = NULL;
	osp_err rv = coord_pb_get(t, "requests", rid, strlen(rid),
		&ospec__v1__request_record__descriptor, &m);

	*out = (Ospec__V1__RequestRecord *)m;
	return rv;
}

osp_err coord_ro_rec_request_put(osp_txn *t, const char *rid, uint32_t status,
	const char *error, const char *json)
{
	Ospec__V1__RequestRecord r;

	ospec__v1__request_record__init(&r);
	r.ts_ms = osp_now_wall_ms();
	r.status = status;
	r.error = (char *)error;
	r.json = (char *)json;
	return coord_pb_put(t, "requests", rid, &r.base);
}
