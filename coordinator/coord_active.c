/* coord_active.c - the active rollouts: loaded, created, driven by engine
 * events, reaped; the commands their actions become: coord_active_cmd.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_releases.h"
#include "coord_active.h"
#include "coord_active_int.h"
#include "coord_control.h"
#include "coord_plans.h"
#include "coord_secrets.h"
#include "coord_webhooks.h"
#include "ospec/fault.h"

static void coord_ro_entry_free(coord_ro_entry *e)
{
	if (e == NULL)
		return;
	free(e->ro.steps);
	free(e->step_tab);
	coord_ro_stored_fini(e);
	if (e->rec != NULL)
		ospec__v1__rollout_record__free_unpacked(e->rec, NULL);
	free(e);
}

/* coord_active_rec_scale_down_pending is coord_ro_scale_down_pending for
 * a stored record: a cheap filter at load, so that every succeeded
 * blue-green rollout ever is not converted at each start (the loaded entry
 * then asks the engine). */
static bool coord_active_rec_scale_down_pending(const Ospec__V1__RolloutRecord *r)
{
	if (r->state != COORD_RO_SUCCEEDED || r->scale_down_at_ms <= 0)
		return false;
	if (!r->scale_down_sent)
		return true;
	for (size_t i = 0; i < r->n_steps; i++)
		if (r->steps[i]->cmd == COORD_RO_CMD_SCALE_DOWN)
			return true;
	return false;
}

bool coord_active_scale_down_pending(const coord_ro_entry *e)
{
	return coord_ro_scale_down_pending(&e->ro);
}

void coord_active_free_entry(coord_ro_entry *e)
{
	coord_ro_entry_free(e);
}

/* coord_active_step_tab (re)builds e's index of steps by node; false
 * without memory. */
static bool coord_active_step_tab(coord_ro_entry *e)
{
	size_t nb = 16;
	uint32_t *tab;

	if (e->step_tab != NULL && e->step_tab_for == e->ro.steps &&
		e->step_tab_nsteps == e->ro.nsteps)
		return true;
	while (nb < 2 * e->ro.nsteps)
		nb *= 2;
	if ((tab = calloc(nb, sizeof(*tab))) == NULL)
		return false;
	for (size_t i = 0; i < e->ro.nsteps; i++) {
		size_t b = coord_hash_id(e->ro.steps[i].node) & (nb - 1);

		while (tab[b] != 0)
			b = (b + 1) & (nb - 1);
		tab[b] = (uint32_t)(i + 1);
	}
	free(e->step_tab);
	e->step_tab = tab;
	e->step_tab_n = nb;
	e->step_tab_for = e->ro.steps;
	e->step_tab_nsteps = e->ro.nsteps;
	return true;
}

size_t coord_active_node_steps(coord_ro_entry *e, const char *node, size_t *idx, size_t cap)
{
	size_t n = 0;

	if (!coord_active_step_tab(e)) {
		/* no memory for the index: the scan it replaces */
		for (size_t i = 0; i < e->ro.nsteps && n < cap; i++)
			if (strcmp(e->ro.steps[i].node, node) == 0)
				idx[n++] = i;
		return n;
	}
	for (size_t b = coord_hash_id(node) & (e->step_tab_n - 1); e->step_tab[b] != 0 && n < cap;
		b = (b + 1) & (e->step_tab_n - 1))
		if (strcmp(e->ro.steps[e->step_tab[b] - 1].node, node) == 0)
			idx[n++] = e->step_tab[b] - 1;
	return n;
}

coord_ro_entry *coord_active_of_app(coord *c, const char *app)
{
	coord_ro_entry *best = NULL;

	for (coord_ro_entry *e = c->rollouts; e != NULL; e = e->next)
		if (strcmp(e->ro.app, app) == 0 && !coord_ro_terminal(e->ro.state) &&
			(best == NULL || e->rec->created_seq < best->rec->created_seq))
			best = e;
	return best;
}

coord_ro_entry *coord_active_find(coord *c, const char *id)
{
	for (coord_ro_entry *e = c->rollouts; e != NULL; e = e->next)
		if (strcmp(e->ro.id, id) == 0)
			return e;
	return NULL;
}

osp_err coord_active_event(coord *c, osp_txn *t, coord_ro_entry *e, const coord_ro_event *ev,
	const char *actor)
{
	coord_ro_actions acts = { 0 };
	size_t need = 2 * e->ro.nsteps + 16;
	bool was_terminal, was_pending;
	osp_err rv;

	/* one buffer for every event, grown to the largest rollout (56 bytes
	 * an action; their messages in text, grown by the engine) */
	if (c->ro_acts_cap < need) {
		void *v = realloc(c->ro_acts, need * sizeof(coord_ro_action));
		if (v == NULL)
			return OSP_ENOMEM;
		c->ro_acts = v;
		c->ro_acts_cap = need;
	}
	acts.v = c->ro_acts;
	acts.cap = need;
	acts.text = c->ro_text;
	acts.text_cap = c->ro_text_cap;
	was_terminal = coord_ro_terminal(e->ro.state);
	was_pending = e->ro.state == COORD_RO_PENDING;
	rv = coord_ro_apply(&e->ro, ev, &acts);
	c->ro_text = acts.text; /* the engine may have grown it */
	c->ro_text_cap = acts.text_cap;
	if (rv != OSP_OK)
		goto out;
	/* webhooks: written in this transaction, first the start, then the
	 * events in their order (coord_webhooks.h) */
	if (was_pending && ev->kind == COORD_RO_EV_START && e->ro.state != COORD_RO_PENDING) {
		char msg[160];
		snprintf(msg, sizeof(msg), "%s %s to %zu node%s (%s)", e->ro.app, e->ro.version,
			e->ro.nsteps, e->ro.nsteps == 1 ? "" : "s",
			coord_ro_strategy_name(e->ro.strategy));
		if ((rv = coord_webhooks_rollout(c, t, e, "rollout.started", msg)) != OSP_OK)
			goto out;
	}
	for (size_t i = 0; i < acts.n && rv == OSP_OK; i++) {
		coord_ro_action *a = &acts.v[i];
		coord_ro_step *st = a->step < e->ro.nsteps ? &e->ro.steps[a->step] : NULL;

		switch (a->kind) {
		case COORD_RO_ACT_SEND:
			if (st != NULL)
				rv = coord_ro_send(c, t, e, st);
			break;
		case COORD_RO_ACT_CANCEL:
			if (st != NULL)
				rv = coord_ro_void(c, t, e, st);
			break;
		case COORD_RO_ACT_EVENT:
			rv = coord_db_event(c, t, a->event, st ? st->node : NULL, e->ro.id,
				e->ro.app, actor, "%s", coord_ro_action_msg(&acts, a));
			OSP_INFO("COORD-ROLLOUT", "rollout '%s': %s", e->ro.id,
				coord_ro_action_msg(&acts, a));
			if (rv == OSP_OK)
				rv = coord_webhooks_rollout(c, t, e, a->event,
					coord_ro_action_msg(&acts, a));
			if (strcmp(a->event, "switch.committed") == 0)
				coord_metrics_switch_skew(c, e->ro.last_ack_ms - e->ro.first_ack_ms);
			break;
		case COORD_RO_ACT_DONE:
			break;
		case COORD_RO_ACT_QUERY:
			if (c->ask_metric != NULL)
				c->ask_metric(c, e);
			break;
		case COORD_RO_ACT_DECIDE:
			rv = coord_ro_decide(c, t, e);
			break;
		}
	}
	if (rv == OSP_OK && (acts.n > 0 || ev->kind == COORD_RO_EV_START)) {
		e->save_due = true;
		/* in a group commit the record is written once, at its end
		 * (coord_ro_save compares every step); a plan reads its stages'
		 * records when one ends or starts, so those write what is due at
		 * once. A rollout that had ended (the scale-down's results) waits
		 * for the end as well: saved at each result, 2000 ScaleDown
		 * results compared 2000 steps each (300 ms a group of 1000) */
		if (!c->ro_defer_save || ev->kind == COORD_RO_EV_START ||
			(!was_terminal && coord_ro_terminal(e->ro.state)))
			rv = coord_active_save_due(c, t, e);
	}
	/* the ticker sleeps until the earliest deadline: this one may be it */
	if (coord_ro_next_deadline(&e->ro, NULL) < c->ro_wake_ms)
		c->ro_wake_ms = coord_ro_next_deadline(&e->ro, NULL);
	/* a plan's stage ended: the plan moves on in this transaction (after
	 * the loop: starting the next stage reuses the action buffer) */
	if (rv == OSP_OK && !was_terminal && coord_ro_terminal(e->ro.state))
		rv = coord_plans_child_done(c, t, e, actor);
out:
	return rv;
}

/* coord_ro_entry_load makes an entry from a stored record (taken over) with
 * its steps, read in t. */
static coord_ro_entry *coord_ro_entry_load(osp_txn *t, Ospec__V1__RolloutRecord *rec)
{
	coord_ro_entry *e = calloc(1, sizeof(*e));

	if (e == NULL) {
		ospec__v1__rollout_record__free_unpacked(rec, NULL);
		return NULL;
	}
	e->rec = rec;
	if (coord_ro_from_rec(e) != OSP_OK || coord_ro_stored_init(t, e) != OSP_OK) {
		coord_ro_entry_free(e);
		return NULL;
	}
	/* the engine holds the steps now: the record keeps only its header */
	for (size_t i = 0; i < rec->n_steps; i++)
		ospec__v1__step_record__free_unpacked(rec->steps[i], NULL);
	free(rec->steps);
	rec->steps = NULL;
	rec->n_steps = 0;
	return e;
}

typedef struct coord_active_ld {
	coord *c;
	osp_txn *t;
} coord_active_ld;

static int coord_active_load_cb(void *arg, ProtobufCMessage *m)
{
	Ospec__V1__RolloutRecord *rec = (Ospec__V1__RolloutRecord *)m;
	coord_active_ld *ld = arg;
	coord *c = ld->c;
	coord_ro_entry *e;

	/* a terminal one is read no further (its steps are not needed) unless
	 * its scale-downs may be outstanding */
	if (coord_ro_terminal((coord_ro_state)rec->state) &&
		(rec->scale_down_at_ms <= 0 || rec->state != COORD_RO_SUCCEEDED)) {
		ospec__v1__rollout_record__free_unpacked(rec, NULL);
		return 0;
	}
	if (coord_ro_steps_read(ld->t, rec) != OSP_OK) {
		OSP_ERROR("COORD-STORE-CORRUPT", "rollout '%s': undecodable steps: skipped", rec->id);
		ospec__v1__rollout_record__free_unpacked(rec, NULL);
		return 0;
	}
	if (coord_ro_terminal((coord_ro_state)rec->state) &&
		!coord_active_rec_scale_down_pending(rec)) {
		ospec__v1__rollout_record__free_unpacked(rec, NULL);
		return 0;
	}
	if ((e = coord_ro_entry_load(ld->t, rec)) != NULL) {
		e->next = c->rollouts;
		c->rollouts = e;
		c->ro_wake_ms = 0; /* its deadlines: the ticker looks at once */
	}
	return 0;
}

/* coord_active_start_pending starts the oldest pending rollout of app if
 * no other of the app is running. */
static void coord_active_start_app(coord *c, const char *app)
{
	coord_ro_entry *e = coord_active_of_app(c, app);
	coord_ro_event ev = { .kind = COORD_RO_EV_START };
	osp_txn *t = NULL;

	if (e == NULL || e->ro.state != COORD_RO_PENDING)
		return;
	if (osp_store_txn_begin(c->store, true, &t) != OSP_OK)
		return;
	ev.now_ms = coord_clock_now(&c->clock);
	if (coord_active_event(c, t, e, &ev, "coordinator") != OSP_OK) {
		osp_store_txn_abort(t);
		coord_active_reload(c);
		return;
	}
	if (coord_db_commit(c, t, "rollout start") != OSP_OK)
		coord_active_reload(c);
}

osp_err coord_active_load(coord *c)
{
	osp_txn *t = NULL;
	coord_ro_event ev = { .kind = COORD_RO_EV_START };
	osp_err rv;

	if ((rv = osp_store_txn_begin(c->store, false, &t)) != OSP_OK)
		return rv;
	rv = coord_ro_rec_foreach(t, coord_active_load_cb, &(coord_active_ld){ .c = c, .t = t });
	osp_store_txn_abort(t);
	if (rv != OSP_OK)
		return rv;
	/* resume running ones (no command is sent twice: the engine knows
	 * which are outstanding); then start queued ones whose turn it is */
	if ((rv = osp_store_txn_begin(c->store, true, &t)) != OSP_OK)
		return rv;
	ev.now_ms = coord_clock_now(&c->clock);
	for (coord_ro_entry *e = c->rollouts; e != NULL && rv == OSP_OK; e = e->next) {
		/* a paused canary still analyses: its query in flight is asked again */
		if (e->ro.state != COORD_RO_RUNNING &&
			!(e->ro.state == COORD_RO_PAUSED && e->ro.strategy == COORD_RO_CANARY &&
				e->ro.phase == COORD_CN_ANALYZE))
			continue;
		OSP_INFO("COORD-ROLLOUT-RESUME", "rollout '%s' resumes after a restart", e->ro.id);
		rv = coord_active_event(c, t, e, &ev, "coordinator");
	}
	if (rv != OSP_OK) {
		osp_store_txn_abort(t);
		return rv;
	}
	if ((rv = coord_db_commit(c, t, "rollout resume")) != OSP_OK)
		return rv;
	if ((rv = coord_plans_resume(c)) != OSP_OK)
		return rv;
	coord_active_reap(c);
	return OSP_OK;
}

void coord_active_free(coord *c)
{
	/* the action buffer is kept across reloads; coord_engine_fini frees it */
	while (c->rollouts != NULL) {
		coord_ro_entry *e = c->rollouts;
		c->rollouts = e->next;
		coord_ro_entry_free(e);
	}
}

void coord_active_reap(coord *c)
{
	char apps[64][64];
	size_t napps = 0;

	for (coord_ro_entry **pp = &c->rollouts; *pp != NULL;) {
		coord_ro_entry *e = *pp;
		if (!coord_ro_terminal(e->ro.state) || coord_active_scale_down_pending(e)) {
			pp = &e->next;
			continue;
		}
		if (napps < 64)
			osp_strlcpy(apps[napps++], e->ro.app, sizeof(apps[0]));
		*pp = e->next;
		coord_ro_entry_free(e);
	}
	/* the apps with a rollout that just ended, and every app at start */
	for (coord_ro_entry *e = c->rollouts; e != NULL; e = e->next)
		if (e->ro.state == COORD_RO_PENDING && napps < 64)
			osp_strlcpy(apps[napps++], e->ro.app, sizeof(apps[0]));
	for (size_t i = 0; i < napps; i++)
		coord_active_start_app(c, apps[i]);
	coord_active_kick(c);
}

void coord_active_reload(coord *c)
{
	OSP_WARN("COORD-ROLLOUT-RELOAD", "a change was not saved: reloading rollouts from the store");
	coord_active_free(c);
	coord_db_reload_log_ends(c);
	osp_txn *t = NULL;
	if (osp_store_txn_begin(c->store, false, &t) == OSP_OK) {
		coord_ro_rec_foreach(t, coord_active_load_cb, &(coord_active_ld){ .c = c, .t = t });
		osp_store_txn_abort(t);
	}
}

osp_err coord_active_save_due(coord *c, osp_txn *t, coord_ro_entry *e)
{
	osp_err rv = OSP_OK;

	for (coord_ro_entry *o = c->rollouts; o != NULL && rv == OSP_OK; o = o->next) {
		if (!o->save_due || o == e)
			continue;
		if ((rv = coord_ro_save(c, t, o)) == OSP_OK)
			o->save_due = false;
	}
	if (rv == OSP_OK && e != NULL && e->save_due)
		rv = coord_ro_save(c, t, e);
	if (rv == OSP_OK && e != NULL)
		e->save_due = false;
	return rv;
}

void coord_active_kick(coord *c)
{
	osp_txn *t = NULL;

	if (c->answer_polls == NULL)
		return;
	/* the replies of a fan-out read the commands in one transaction:
	 * 2000 begun and ended one by one took 4-32 ms of a decision's
	 * fan-out (docs/benchmarks.md) */
	if (c->store != NULL && osp_store_txn_begin(c->store, false, &t) == OSP_OK)
		c->fanout_txn = t;
	for (coord_node *n = c->nodes; n != NULL; n = n->next)
		if (n->kick)
			c->answer_polls(c, n);
	c->fanout_txn = NULL;
	if (t != NULL)
		osp_store_txn_abort(t);
}

/* coord_active_member: node nd is one of e's members: one of the nodes
 * named by the record (a plan's stage), else one matching the selector. */
static bool coord_active_member(const coord_ro_entry *e, const coord_node *nd,
	const osp_labels *sel)
{
	if (e->rec->n_nodes == 0)
		return osp_labels_match(&nd->labels, sel);
	for (size_t i = 0; i < e->rec->n_nodes; i++)
		if (strcmp(e->rec->nodes[i], nd->id) == 0)
			return true;
	return false;
}

/* coord_active_members adds one step per member node; cordoned nodes are
 * skipped (visible in status). */
static osp_err coord_active_members(coord *c, coord_ro_entry *e, const osp_labels *sel)
{
	size_t n = 0;

	for (coord_node *nd = c->nodes; nd != NULL; nd = nd->next)
		n += coord_active_member(e, nd, sel);
	if (n > 0 && (e->ro.steps = calloc(n, sizeof(*e->ro.steps))) == NULL)
		return OSP_ENOMEM;
	for (coord_node *nd = c->nodes; nd != NULL; nd = nd->next) {
		coord_ro_step *st;
		if (!coord_active_member(e, nd, sel))
			continue;
		st = &e->ro.steps[e->ro.nsteps++];
		osp_strlcpy(st->node, nd->id, sizeof(st->node));
		st->state = nd->cordoned ? COORD_STEP_SKIPPED : COORD_STEP_PENDING;
		if (nd->cordoned)
			osp_strlcpy(st->reason, "cordoned", sizeof(st->reason));
		/* what the last heartbeat said runs there: only a hint for the
		 * plan and status; the revert target and the blue-green slots
		 * come from the agent's own answer to its stage */
		for (size_t i = 0; i < nd->n_apps; i++) {
			const Ospec__V1__AppState *a = nd->apps[i];
			if (strcmp(a->app, e->ro.app) != 0 || a->version == NULL)
				continue;
			osp_strlcpy(st->prev_version, a->version, sizeof(st->prev_version));
			osp_strlcpy(st->prev_sha256, a->sha256 ? a->sha256 : "",
				sizeof(st->prev_sha256));
			osp_strlcpy(st->version, a->version, sizeof(st->version));
			osp_strlcpy(st->sha256, a->sha256 ? a->sha256 : "", sizeof(st->sha256));
		}
	}
	return OSP_OK;
}

osp_err coord_active_create(coord *c, osp_txn *t, Ospec__V1__RolloutRecord *rec,
	bool queued, const char *actor, coord_ro_entry **out, char *err, size_t errlen)
{
	coord_ro_entry *e = calloc(1, sizeof(*e));
	coord_ro_event ev = { .kind = COORD_RO_EV_START };
	osp_labels sel = { 0 };
	osp_err rv;

	if (e == NULL) {
		ospec__v1__rollout_record__free_unpacked(rec, NULL);
		return OSP_ENOMEM;
	}
	e->rec = rec;
	if ((rv = coord_ro_from_rec(e)) != OSP_OK)
		goto fail;
	e->ro.current_batch = -1;
	if (rec->select != NULL && rec->select[0] != '\0' &&
		osp_labels_parse_list(&sel, rec->select) != OSP_OK) {
		snprintf(err, errlen, "--select: expected K=V[,K=V...]");
		rv = OSP_EINVAL;
		goto fail;
	}
	rv = coord_active_members(c, e, &sel);
	osp_labels_fini(&sel);
	if (rv == OSP_OK) /* before anything is stored or sent */
		rv = coord_secrets_check_rollout(c, e, err, errlen);
	if (rv == OSP_OK)
		rv = coord_ctl_canary_members(c, e, err, errlen);
	if (rv != OSP_OK)
		goto fail;
	coord_ro_plan(&e->ro);
	if ((rv = coord_releases_check(c, t, rec->app, rec->version, rec->sha256, err,
		     errlen)) != OSP_OK ||
		(rv = coord_releases_bind(c, t, rec->app, rec->version, rec->sha256)) !=
			OSP_OK)
		goto fail;
	if ((rv = coord_db_event(c, t, "rollout.created", NULL, rec->id, rec->app, actor,
		     "%s %s to %zu nodes (%s)%s", rec->app, rec->version, e->ro.nsteps,
		     coord_ro_strategy_name(e->ro.strategy), queued ? ", queued" : "")) != OSP_OK)
		goto fail;
	if (!queued) {
		ev.now_ms = coord_clock_now(&c->clock);
		rv = coord_active_event(c, t, e, &ev, actor);
	} else {
		rv = coord_ro_save(c, t, e);
	}
	if (rv != OSP_OK)
		goto fail;
	e->next = c->rollouts;
	c->rollouts = e;
	*out = e;
	return OSP_OK;
fail:
	if (err[0] == '\0')
		snprintf(err, errlen, "cannot create the rollout: %s", osp_strerror(rv));
	coord_ro_entry_free(e); /* rec with it: it was taken over */
	return rv;
}

osp_err coord_active_resend(coord *c, coord_node *n, uint64_t cursor, size_t *count)
{
	osp_txn *t = NULL;
	size_t sent = 0;
	osp_err rv = OSP_OK;

	for (coord_ro_entry *e = c->rollouts; e != NULL && rv == OSP_OK; e = e->next) {
		bool touched = false;

		/* terminal ones too: a succeeded blue-green rollout stays active
		 * while its scale-downs are outstanding */
		for (size_t i = 0; i < e->ro.nsteps && rv == OSP_OK; i++) {
			coord_ro_step *st = &e->ro.steps[i];
			uint64_t old = st->seq;

			/* only an outstanding command the node executed already; a
			 * voided one has its revert queued (void_seq) and is left alone */
			if (st->cmd == COORD_RO_CMD_NONE || st->seq == 0 || st->seq > cursor ||
				st->void_seq != 0 || strcmp(st->node, n->id) != 0)
				continue;
			if (t == NULL && (rv = osp_store_txn_begin(c->store, true, &t)) != OSP_OK)
				return rv;
			if ((rv = coord_ro_send(c, t, e, st)) != OSP_OK)
				break;
			rv = coord_db_event(c, t, "step.resent", n->id, e->ro.id, e->ro.app,
				"coordinator", "restored store: %s executed command %llu (cursor %llu) "
				"but its result is not in this store: sent again as %llu", n->id,
				(unsigned long long)old, (unsigned long long)cursor,
				(unsigned long long)st->seq);
			OSP_INFO("COORD-RESENT", "rollout '%s': node '%s' executed command %llu "
				"(cursor %llu) but this restored store has no result for it: sent again "
				"as %llu", e->ro.id, n->id, (unsigned long long)old,
				(unsigned long long)cursor, (unsigned long long)st->seq);
			touched = true;
			sent++;
		}
		if (rv == OSP_OK && touched)
			rv = coord_ro_save(c, t, e);
	}
	if (t == NULL)
		goto out;
	if (rv != OSP_OK) {
		osp_store_txn_abort(t);
		coord_active_reload(c);
		return rv;
	}
	if ((rv = coord_db_commit(c, t, "re-sent commands")) != OSP_OK) {
		coord_active_reload(c);
		return rv;
	}
	coord_active_kick(c);
out:
	if (count != NULL)
		*count = sent;
	return rv;
}
