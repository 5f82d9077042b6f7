/*
 * coord_rollout_core.c - what every strategy of the rollout engine shares:
 * text helpers, actions, counting, batch planning, the failure budget,
 * deadlines and the way a rollout ends. Pure: no I/O, no clock reads; it
 * allocates the actions' message text (coord_ro_vmsg, the caller owns it)
 * and, for a moment, a text over 8 KB being cut (coord_ro_vappend). Everything else in the engine calls down into this file; it
 * calls nothing above it (coord_rollout_int.h lists what it exports).
 */
#include "coord_rollout_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* -------------------------------------------------------------- strings */

/* The mark where a text too long for its buffer was cut. */
#define COORD_RO_CUT " ... "
#define COORD_RO_CUT_LEN 5

void coord_ro_vappend(char *buf, size_t len, const char *fmt, va_list ap)
{
	char small[4 * COORD_RO_MAX_REASON], out[2 * COORD_RO_MAX_REASON], *add = small;
	size_t used = strnlen(buf, len), n, total, head, tail, o = 0;
	va_list again;
	int w;

	if (len < 4 * COORD_RO_CUT_LEN || len > sizeof(out) || used >= len)
		return;
	va_copy(again, ap);
	w = vsnprintf(small, sizeof(small), fmt, ap);
	/* a node's message may be 8 KB: its end is what is kept, so the whole
	 * text is formatted (the engine's other allocation, rare) */
	if (w >= 0 && (size_t)w >= sizeof(small) && (add = malloc((size_t)w + 1)) != NULL)
		w = vsnprintf(add, (size_t)w + 1, fmt, again);
	else if (add == NULL)
		add = small; /* no memory: the end of what fits */
	va_end(again);
	if (w < 0) {
		if (add != small)
			free(add);
		return;
	}
	n = add == small && (size_t)w >= sizeof(small) ? sizeof(small) - 1 : (size_t)w;
	if (used + n < len) {
		memcpy(buf + used, add, n + 1);
		if (add != small)
			free(add);
		return;
	}
	/* too long: the start (a third) and the end of buf + add, with the
	 * mark between; the end holds what was appended last (a node's
	 * stderr lines, "reverted to ...") */
	total = used + n;
	head = (len - 1 - COORD_RO_CUT_LEN) / 3;
	tail = len - 1 - COORD_RO_CUT_LEN - head;
	for (size_t k = 0; k < head; k++)
		out[o++] = k < used ? buf[k] : add[k - used];
	memcpy(out + o, COORD_RO_CUT, COORD_RO_CUT_LEN);
	o += COORD_RO_CUT_LEN;
	for (size_t k = total - tail; k < total; k++)
		out[o++] = k < used ? buf[k] : add[k - used];
	out[o] = '\0';
	memcpy(buf, out, o + 1);
	if (add != small)
		free(add);
}

void coord_ro_append(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	coord_ro_vappend(buf, len, fmt, ap);
	va_end(ap);
}

const char *coord_ro_plural(size_t n)
{
	return n == 1 ? "" : "s";
}

/* coord_ro_strlcpy and coord_ro_duration_fmt are the engine's own copies of
 * osp_strlcpy and osp_duration_fmt (common/src/util.c): the engine links to
 * libc only, and these two are all it needed from ospec_common. The unit
 * test test_coord_rollout_core_helpers checks they agree. */
size_t coord_ro_strlcpy(char *dst, const char *src, size_t len)
{
	size_t n = strlen(src);

	if (len > 0) {
		size_t c = n < len - 1 ? n : len - 1;

		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

void coord_ro_duration_fmt(int64_t ms, char *buf, size_t len)
{
	if (ms != 0 && ms % 3600000 == 0)
		snprintf(buf, len, "%lldh", (long long)(ms / 3600000));
	else if (ms != 0 && ms % 60000 == 0)
		snprintf(buf, len, "%lldm", (long long)(ms / 60000));
	else if (ms % 1000 == 0)
		snprintf(buf, len, "%llds", (long long)(ms / 1000));
	else
		snprintf(buf, len, "%lldms", (long long)ms);
}

/* ------------------------------------------------------------- deadlines */

int64_t coord_ro_add(int64_t a, int64_t b)
{
	if (b > 0 && a > INT64_MAX - b)
		return INT64_MAX;
	return a + b;
}

int64_t coord_ro_after(int64_t start, int64_t span)
{
	if (span < 0)
		return COORD_RO_NEVER;
	return coord_ro_add(coord_ro_add(start, span), 1);
}

bool coord_ro_due(int64_t now, int64_t at)
{
	return at != COORD_RO_NEVER && now >= at;
}

int64_t coord_ro_step_deadline(const coord_rollout *r, const coord_ro_step *s)
{
	if (s->cmd == COORD_RO_CMD_NONE || r->progress_deadline_ms <= 0)
		return COORD_RO_NEVER;
	return coord_ro_after(s->started_ms, r->progress_deadline_ms);
}

/* -------------------------------------------------------------- actions */

coord_ro_action *coord_ro_push(coord_ro_actions *out, coord_ro_action_kind kind, size_t step)
{
	coord_ro_action *a;

	if (out->n >= out->cap)
		return NULL;
	a = &out->v[out->n++];
	a->kind = kind;
	a->step = step;
	a->event[0] = '\0';
	a->msg = COORD_RO_NO_MSG;
	return a;
}

const char *coord_ro_action_msg(const coord_ro_actions *out, const coord_ro_action *a)
{
	if (a->msg == COORD_RO_NO_MSG || out->text == NULL || a->msg >= out->text_len)
		return "";
	return out->text + a->msg;
}

void coord_ro_vmsg(coord_ro_actions *out, coord_ro_action *a, const char *fmt, va_list ap)
{
	char buf[COORD_RO_MAX_REASON];
	size_t len;

	buf[0] = '\0';
	coord_ro_vappend(buf, sizeof(buf), fmt, ap);
	len = strlen(buf) + 1;
	if (out->text_cap - out->text_len < len) {
		size_t cap = out->text_cap * 2;
		char *t;
		if (cap < out->text_len + len)
			cap = out->text_len + len;
		if (cap < 4096)
			cap = 4096;
		if ((t = realloc(out->text, cap)) == NULL)
			return; /* no message: the action still stands */
		out->text = t;
		out->text_cap = cap;
	}
	memcpy(out->text + out->text_len, buf, len);
	a->msg = out->text_len;
	out->text_len += len;
}

void coord_ro_msg(coord_ro_actions *out, coord_ro_action *a, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	coord_ro_vmsg(out, a, fmt, ap);
	va_end(ap);
}

void coord_ro_event_msg(coord_ro_actions *out, size_t step, const char *kind, const char *fmt,
			...)
{
	coord_ro_action *a = coord_ro_push(out, COORD_RO_ACT_EVENT, step);
	va_list ap;

	if (a == NULL)
		return;
	coord_ro_strlcpy(a->event, kind, sizeof(a->event));
	va_start(ap, fmt);
	coord_ro_vmsg(out, a, fmt, ap);
	va_end(ap);
}

static const char *coord_ro_cmd_name(coord_ro_cmd c)
{
	switch (c) {
	case COORD_RO_CMD_STAGE:
		return "stage";
	case COORD_RO_CMD_REVERT:
		return "revert";
	case COORD_RO_CMD_STOP:
		return "stop";
	case COORD_RO_CMD_PREPARE:
		return "prepare";
	case COORD_RO_CMD_DECIDE:
		return "decide";
	case COORD_RO_CMD_SCALE_DOWN:
		return "scale-down";
	default:
		return "none";
	}
}

void coord_ro_issue(coord_rollout *r, size_t i, coord_ro_cmd cmd, int64_t now,
		    coord_ro_actions *out)
{
	coord_ro_step *s = &r->steps[i];
	coord_ro_action *a;

	s->cmd = cmd;
	s->started_ms = now;
	s->revert_pending = cmd == COORD_RO_CMD_REVERT;
	a = coord_ro_push(out, COORD_RO_ACT_SEND, i);
	if (a != NULL)
		coord_ro_msg(out, a, "%s on %s", coord_ro_cmd_name(cmd), s->node);
}

/* -------------------------------------------------------------- counting */

osp_err coord_ro_find(const coord_rollout *r, const char *node, size_t *i)
{
	size_t lo = 0, hi = r->nsteps;

	if (node == NULL)
		return OSP_EINVAL;
	/* the glue makes the steps in the order of its node list, sorted by
	 * id: a binary search finds a step in O(log n) (each step is 2.7 KiB,
	 * and a fleet-wide switch looked up 2000 steps per result) */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(r->steps[mid].node, node) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < r->nsteps && strcmp(r->steps[lo].node, node) == 0) {
		*i = lo;
		return OSP_OK;
	}
	/* steps in any other order are still found, one by one */
	for (*i = 0; *i < r->nsteps; (*i)++) {
		if (strcmp(r->steps[*i].node, node) == 0)
			return OSP_OK;
	}
	return OSP_ENOENT;
}

size_t coord_ro_members(const coord_rollout *r)
{
	size_t i, n = 0;

	for (i = 0; i < r->nsteps; i++)
		n += coord_ro_is_member(&r->steps[i]);
	return n;
}

size_t coord_ro_count(const coord_rollout *r, coord_step_state st)
{
	size_t i, n = 0;

	for (i = 0; i < r->nsteps; i++)
		n += r->steps[i].state == st;
	return n;
}

static bool coord_ro_is_failure(const coord_ro_step *s)
{
	return s->state == COORD_STEP_FAILED || s->state == COORD_STEP_UNREACHABLE ||
	       s->state == COORD_STEP_REVERTED;
}

size_t coord_ro_failures(const coord_rollout *r)
{
	size_t i, n = 0;

	for (i = 0; i < r->nsteps; i++)
		n += coord_ro_is_failure(&r->steps[i]);
	return n;
}

/* ---------------------------------------------------------------- plan */

/* coord_ro_pct_of returns floor (or ceil) of pct% of n without overflow. */
static uint64_t coord_ro_pct_of(uint64_t pct, uint64_t n, bool ceil_it)
{
	uint64_t prod = pct * n;

	return ceil_it ? (prod + 99) / 100 : prod / 100;
}

uint32_t coord_ro_plan(coord_rollout *r)
{
	uint64_t size, members, k = 0;
	size_t i;

	if (r == NULL || (r->steps == NULL && r->nsteps > 0))
		return 0;
	members = coord_ro_members(r);
	size = r->batch_pct ? coord_ro_pct_of(r->batch, members, true) : r->batch;
	if (size == 0)
		size = 1;
	for (i = 0; i < r->nsteps; i++) {
		coord_ro_step *s = &r->steps[i];

		if (!coord_ro_is_member(s)) {
			s->batch = COORD_RO_NO_BATCH;
			continue;
		}
		s->batch = (uint32_t)(k / size);
		k++;
	}
	return (uint32_t)((members + size - 1) / size);
}

uint32_t coord_ro_budget(const coord_rollout *r)
{
	uint64_t b;

	if (r == NULL)
		return 0;
	if (!r->max_failures_pct)
		return r->max_failures;
	b = coord_ro_pct_of(r->max_failures, coord_ro_members(r), false);
	return b > UINT32_MAX ? UINT32_MAX : (uint32_t)b;
}

size_t coord_ro_actions_needed(const coord_rollout *r)
{
	if (r == NULL || r->nsteps > (SIZE_MAX - 8) / 2)
		return SIZE_MAX;
	return 2 * r->nsteps + 8;
}

/* ------------------------------------------------------------- finishing */

void coord_ro_finish(coord_rollout *r, coord_ro_state st, int64_t now, coord_ro_actions *out)
{
	char kind[32];
	coord_ro_action *a;

	r->state = st;
	r->paused = false;
	r->finished_ms = now;
	snprintf(kind, sizeof(kind), "rollout.%s", coord_ro_state_name(st));
	coord_ro_event_msg(out, SIZE_MAX, kind, "%s", r->reason);
	a = coord_ro_push(out, COORD_RO_ACT_DONE, SIZE_MAX);
	if (a != NULL) {
		coord_ro_strlcpy(a->event, coord_ro_state_name(st), sizeof(a->event));
		coord_ro_msg(out, a, "%s", r->reason);
	}
}

void coord_ro_fail_summary(coord_rollout *r)
{
	size_t i, nfail = coord_ro_failures(r), members = coord_ro_members(r);
	const char *sep = ": ";

	r->reason[0] = '\0';
	coord_ro_append(r->reason, sizeof(r->reason), "%zu of %zu node%s failed%s (budget %u)",
			nfail, members, coord_ro_plural(members),
			coord_ro_slotted(r->strategy) ? " to stage" : "", coord_ro_budget(r));
	for (i = 0; i < r->nsteps; i++) {
		const coord_ro_step *s = &r->steps[i];

		if (!coord_ro_is_failure(s))
			continue;
		coord_ro_append(r->reason, sizeof(r->reason), "%s%s: %s", sep, s->node, s->reason);
		sep = "; ";
	}
}

void coord_ro_succeed(coord_rollout *r, int64_t now, coord_ro_actions *out)
{
	size_t done = coord_ro_count(r, COORD_STEP_DONE), nfail = coord_ro_failures(r);

	r->reason[0] = '\0';
	coord_ro_append(r->reason, sizeof(r->reason), "%zu node%s on %s", done,
			coord_ro_plural(done), r->version);
	if (nfail > 0)
		coord_ro_append(r->reason, sizeof(r->reason), " (%zu failed within budget)", nfail);
	coord_ro_finish(r, COORD_RO_SUCCEEDED, now, out);
}

void coord_ro_note_runs(coord_ro_step *s, const coord_ro_event *ev)
{
	if (ev->version == NULL && ev->sha256 == NULL)
		return;
	coord_ro_strlcpy(s->version, ev->version != NULL ? ev->version : "", sizeof(s->version));
	coord_ro_strlcpy(s->sha256, ev->sha256 != NULL ? ev->sha256 : "", sizeof(s->sha256));
}
