/*
 * bench_fleet_bg.c - blue-green answers of a simulated agent: Stage into
 * the idle slot, SwitchPrepare (vote), SwitchDecision (apply or discard)
 * and ScaleDown, with the checks of ospec-agent's agent_bluegreen.c, at
 * once: there is no process to start, health check or proxy to drive.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bench_fleet_bg.h"
#include "ospec/util.h"

#define BF_OK OSPEC__V1__RESULT_STATUS__RESULT_OK
#define BF_REFUSED OSPEC__V1__RESULT_STATUS__RESULT_REFUSED
#define BF_YES OSPEC__V1__RESULT_STATUS__RESULT_VOTE_YES
#define BF_NO OSPEC__V1__RESULT_STATUS__RESULT_VOTE_NO

/* bf_bg_kind maps a command to a bf_kind; -1 for the others. */
static int bf_bg_kind(const Ospec__V1__Command *cmd)
{
	switch (cmd->kind_case) {
	case OSPEC__V1__COMMAND__KIND_STAGE:
		return BF_K_STAGE;
	case OSPEC__V1__COMMAND__KIND_PREPARE:
		return BF_K_PREPARE;
	case OSPEC__V1__COMMAND__KIND_DECISION:
		return BF_K_DECISION;
	case OSPEC__V1__COMMAND__KIND_SCALE_DOWN:
		return BF_K_SCALE_DOWN;
	default:
		return -1;
	}
}

/* bf_bg_idx: 0 for blue, 1 for green, -1 for anything else. */
static int bf_bg_idx(const char *slot)
{
	if (slot != NULL && strcmp(slot, "blue") == 0)
		return 0;
	return slot != NULL && strcmp(slot, "green") == 0 ? 1 : -1;
}

/* bf_bg_name names slot k (a static string, as r's fields want); NULL for -1. */
static char *bf_bg_name(int k)
{
	static char blue[] = "blue", green[] = "green";

	return k == 0 ? blue : k == 1 ? green : NULL;
}

/* bf_bg_set finishes r with status st and a message kept in g. */
__attribute__((format(printf, 4, 5))) static void bf_bg_set(bf_bg *g,
	Ospec__V1__CommandResult *r, Ospec__V1__ResultStatus st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(g->msg, sizeof(g->msg), fmt, ap);
	va_end(ap);
	r->status = st;
	r->message = g->msg;
	if (st != BF_OK && st != BF_YES)
		atomic_fetch_add(&g->refused, 1);
}

/* bf_bg_stage stages into the idle slot (blue on a first deploy) and names
 * the slot, the active slot and the active slot's release, as
 * agent_bluegreen_stage_report does. */
static void bf_bg_stage(bf_bg *g, const Ospec__V1__Command *cmd, Ospec__V1__CommandResult *r)
{
	const Ospec__V1__Stage *s = cmd->stage;
	int act = bf_bg_idx(g->active);
	int k = strcmp(s->slot, "idle") == 0 ? (act == 0 ? 1 : 0) : bf_bg_idx(s->slot);

	r->active_slot = bf_bg_name(act);
	r->previous_version = act >= 0 ? g->ver[act] : "";
	if (g->prepared[0] != '\0' || k == act) {
		bf_bg_set(g, r, BF_REFUSED, "slot '%s' is active or the slots are locked",
			bf_bg_name(k));
		return;
	}
	osp_strlcpy(g->ver[k], s->version, sizeof(g->ver[k]));
	g->gen[k] = cmd->has_generation ? cmd->generation : cmd->seq;
	r->slot = bf_bg_name(k);
	r->version = s->version;
	r->sha256 = s->sha256;
	bf_bg_set(g, r, BF_OK, "version %s is running and healthy in slot '%s'", s->version,
		r->slot);
}

/* bf_bg_prepare votes YES to a prepare of a staged slot (again YES to the
 * same one), NO while another switch holds the slots. */
static void bf_bg_prepare(bf_bg *g, const Ospec__V1__SwitchPrepare *c,
	Ospec__V1__CommandResult *r)
{
	int k = bf_bg_idx(c->to_slot);

	r->app = c->app;
	r->switch_id = c->switch_id;
	r->slot = bf_bg_name(k);
	r->version = c->expect_version;
	if (strcmp(g->prepared, c->switch_id) == 0 && strcmp(g->to, c->to_slot) == 0) {
		bf_bg_set(g, r, BF_YES, "switch '%s' to slot '%s' is prepared", c->switch_id,
			c->to_slot);
	} else if (g->prepared[0] != '\0' || k < 0 || g->ver[k][0] == '\0') {
		bf_bg_set(g, r, BF_NO, "switch '%s': slot '%s' is not staged or slots are locked",
			c->switch_id, c->to_slot);
	} else {
		osp_strlcpy(g->prepared, c->switch_id, sizeof(g->prepared));
		osp_strlcpy(g->to, c->to_slot, sizeof(g->to));
		bf_bg_set(g, r, BF_YES, "switch '%s' to slot '%s' (version %s) is prepared",
			c->switch_id, c->to_slot, g->ver[k]);
	}
}

/* bf_bg_decision applies (commit) or discards (abort) the prepared switch;
 * a re-sent commit finds it applied, a commit never prepared is refused. */
static void bf_bg_decision(bf_bg *g, const Ospec__V1__SwitchDecision *d,
	Ospec__V1__CommandResult *r)
{
	r->app = d->app;
	r->switch_id = d->switch_id;
	if (strcmp(g->prepared, d->switch_id) != 0) {
		if (d->commit && strcmp(g->committed, d->switch_id) == 0)
			bf_bg_set(g, r, BF_OK, "switch '%s' is applied: slot '%s' is active",
				d->switch_id, g->active);
		else if (d->commit)
			bf_bg_set(g, r, BF_REFUSED,
				"switch '%s' was not prepared here: not switching", d->switch_id);
		else
			bf_bg_set(g, r, BF_OK, "nothing prepared for switch '%s'", d->switch_id);
		return;
	}
	r->slot = bf_bg_name(bf_bg_idx(g->to));
	if (d->commit) {
		osp_strlcpy(g->active, g->to, sizeof(g->active));
		osp_strlcpy(g->committed, d->switch_id, sizeof(g->committed));
	}
	g->prepared[0] = g->to[0] = '\0';
	bf_bg_set(g, r, BF_OK, "switch '%s' %s", d->switch_id,
		d->commit ? "committed" : "aborted");
}

/* bf_bg_scale_down stops an old slot unless it is active, locked or was
 * staged again since (the command's generation). */
static void bf_bg_scale_down(bf_bg *g, const Ospec__V1__ScaleDown *c,
	Ospec__V1__CommandResult *r)
{
	int k = bf_bg_idx(c->slot);

	r->app = c->app;
	r->slot = bf_bg_name(k);
	if (k < 0 || strcmp(g->active, c->slot) == 0 || strcmp(g->to, c->slot) == 0 ||
		g->gen[k] > c->slot_generation)
		bf_bg_set(g, r, BF_REFUSED, "slot '%s' is active, locked or staged again",
			c->slot);
	else
		bf_bg_set(g, r, BF_OK, "slot '%s' stopped", c->slot);
}

void bf_bg_answer(bf_bg *g, const Ospec__V1__Command *cmd, Ospec__V1__CommandResult *r)
{
	int k = bf_bg_kind(cmd);

	g->cur = k;
	if (k < 0)
		return;
	if (g->seq[k] != cmd->seq) { /* not a re-delivery */
		g->seq[k] = cmd->seq;
		atomic_store(&g->ack[k], 0);
		atomic_store(&g->rx[k], bench_now_ns());
	}
	if (k == BF_K_STAGE && bf_bg_idx(cmd->stage->slot) < 0 &&
		(cmd->stage->slot == NULL || strcmp(cmd->stage->slot, "idle") != 0))
		return; /* rolling */
	r->has_kind = 1;
	r->kind = (uint32_t)cmd->kind_case;
	if (k == BF_K_STAGE)
		bf_bg_stage(g, cmd, r);
	else if (k == BF_K_PREPARE)
		bf_bg_prepare(g, cmd->prepare, r);
	else if (k == BF_K_DECISION)
		bf_bg_decision(g, cmd->decision, r);
	else
		bf_bg_scale_down(g, cmd->scale_down, r);
}

void bf_bg_acked(bf_bg *g)
{
	int_fast64_t none = 0;

	if (g->cur >= 0 && g->cur < BF_K_N)
		atomic_compare_exchange_strong(&g->ack[g->cur], &none, bench_now_ns());
	g->cur = -1;
}

int bf_bg_times(bf_bg *g, bf_kind k, int64_t since, int64_t t0, bench_samples *rx,
	bench_samples *acked)
{
	int64_t r = atomic_load(&g->rx[k]), x = atomic_load(&g->ack[k]);

	if (r == 0 || r < since)
		return 0;
	if (rx != NULL)
		bench_samples_add(rx, r - t0);
	if (x != 0 && acked != NULL)
		bench_samples_add(acked, x - t0);
	return x != 0;
}
