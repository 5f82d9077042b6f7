/*
 * coord_active_cmd.c - an active rollout's actions as commands in its nodes'
 * logs (Stage, Revert, Stop, the switch's Prepare and Decision, ScaleDown,
 * Stats), unanswered ones voided, and the switch's decision recorded before
 * any node can read it: in the transaction of the engine step they follow
 * from (coord_active_event).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_active_int.h"
#include "coord_releases.h"
#include "coord_secrets.h"

/* coord_active_member_node returns the node of step st, or NULL when it
 * was forgotten since the rollout was created (a node that registers again
 * under that id is a new node: no rollout of before reaches it). */
static coord_node *coord_active_member_node(coord *c, const coord_ro_entry *e,
	const coord_ro_step *st)
{
	coord_node *n = coord_node_find(c, st->node);

	if (n != NULL && e->rec->created_ms > 0 && n->first_seen_ms > e->rec->created_ms)
		return NULL;
	return n;
}

/* coord_ro_stage_cmd fills a Stage command from the record. */
static void coord_ro_stage_cmd(const Ospec__V1__RolloutRecord *r, Ospec__V1__Stage *s)
{
	ospec__v1__stage__init(s);
	s->app = r->app;
	s->version = r->version;
	s->artifact_url = r->artifact;
	s->sha256 = r->sha256;
	s->run = r->run;
	s->slot = "main";
	s->has_port = 1;
	s->port = r->port;
	s->health_path = r->health_path;
	s->has_health_interval_ms = s->has_health_rise = s->has_health_fall = 1;
	s->health_interval_ms = r->health_interval_ms;
	s->health_rise = r->health_rise;
	s->health_fall = r->health_fall;
	s->has_health_timeout_ms = s->has_health_deadline_ms = 1;
	s->health_timeout_ms = r->health_timeout_ms;
	s->health_deadline_ms = r->health_deadline_ms;
	coord_secrets_stage(r, s);
}

/* coord_ro_revert_cmd fills a Revert that undoes the rollout's release: the
 * agent goes back to what its own record names as previous, if it runs this
 * release at all (never a target guessed from a heartbeat snapshot). */
static void coord_ro_revert_cmd(coord_ro_entry *e, Ospec__V1__Revert *rev)
{
	ospec__v1__revert__init(rev);
	rev->app = e->ro.app;
	rev->version = "";
	rev->sha256 = "";
	rev->from_sha256 = e->ro.sha256;
	rev->slot = "main";
}

/* coord_ro_send appends the step's outstanding command to its node's log. */
osp_err coord_ro_send(coord *c, osp_txn *t, coord_ro_entry *e, coord_ro_step *st)
{
	Ospec__V1__Command cmd;
	Ospec__V1__Stage stage;
	Ospec__V1__Revert rev;
	Ospec__V1__Stop stop;
	Ospec__V1__SwitchPrepare prep;
	Ospec__V1__SwitchDecision dec;
	Ospec__V1__ScaleDown sd;
	Ospec__V1__TrafficWeight tw;
	Ospec__V1__TrafficStats ts;
	char step_id[80];
	coord_node *n = coord_active_member_node(c, e, st);
	osp_err rv;

	if (n == NULL) /* forgotten since: the deadline makes it unreachable */
		return OSP_OK;
	ospec__v1__command__init(&cmd);
	cmd.rollout_id = e->ro.id;
	switch (st->cmd) {
	case COORD_RO_CMD_STAGE:
		coord_ro_stage_cmd(e->rec, &stage);
		if (coord_ro_slotted(e->ro.strategy)) {
			/* the agent picks its idle slot from its own record and
			 * names it (and the active one) in the result */
			stage.slot = "idle";
			stage.has_blue_port = stage.has_green_port = 1;
			stage.blue_port = e->rec->blue_port;
			stage.green_port = e->rec->green_port;
			stage.has_port = 0;
		}
		cmd.kind_case = OSPEC__V1__COMMAND__KIND_STAGE;
		cmd.stage = &stage;
		break;
	case COORD_RO_CMD_REVERT:
		coord_ro_revert_cmd(e, &rev);
		cmd.kind_case = OSPEC__V1__COMMAND__KIND_REVERT;
		cmd.revert = &rev;
		break;
	case COORD_RO_CMD_STOP:
		ospec__v1__stop__init(&stop);
		stop.app = e->ro.app;
		cmd.kind_case = OSPEC__V1__COMMAND__KIND_STOP;
		cmd.stop = &stop;
		break;
	case COORD_RO_CMD_PREPARE:
		ospec__v1__switch_prepare__init(&prep);
		prep.switch_id = e->ro.switch_id;
		prep.app = e->ro.app;
		prep.to_slot = st->to_slot;
		/* going forward the new release must be there; going back, the old */
		prep.expect_version = strcmp(st->to_slot, st->slot) == 0 ? e->ro.version
			: st->prev_version[0]				? st->prev_version
									: NULL;
		cmd.kind_case = OSPEC__V1__COMMAND__KIND_PREPARE;
		cmd.prepare = &prep;
		break;
	case COORD_RO_CMD_DECIDE:
		ospec__v1__switch_decision__init(&dec);
		dec.switch_id = e->ro.switch_id;
		dec.app = e->ro.app;
		dec.commit = st->decide_commit;
		cmd.kind_case = OSPEC__V1__COMMAND__KIND_DECISION;
		cmd.decision = &dec;
		break;
	case COORD_RO_CMD_SCALE_DOWN:
		ospec__v1__scale_down__init(&sd);
		sd.app = e->ro.app;
		sd.slot = st->old_slot;
		/* the generation this rollout staged with: the agent refuses when the
		 * old slot is active again or was staged again after it */
		sd.slot_generation = st->stage_generation;
		cmd.kind_case = OSPEC__V1__COMMAND__KIND_SCALE_DOWN;
		cmd.scale_down = &sd;
		break;
	case COORD_RO_CMD_WEIGHT:
		/* the recorded weight: committed with this command */
		ospec__v1__traffic_weight__init(&tw);
		tw.app = e->ro.app;
		tw.slot = st->slot;
		tw.weight = e->ro.canary.weight;
		{
			/* an id's length at most (the wire's limit): the rollout id
			 * is shortened, never the step number */
			char sfx[16];
			int sl = snprintf(sfx, sizeof(sfx), "-w%u", e->ro.canary.step_no);

			snprintf(step_id, sizeof(step_id), "%.*s%s",
				OSP_WIRE_MAX_ID - (sl > 0 ? sl : 0), e->ro.id, sfx);
		}
		tw.step_id = step_id;
		cmd.kind_case = OSPEC__V1__COMMAND__KIND_WEIGHT;
		cmd.weight = &tw;
		break;
	case COORD_RO_CMD_STATS:
		ospec__v1__traffic_stats__init(&ts);
		ts.app = e->ro.app;
		ts.slot = st->slot;
		cmd.kind_case = OSPEC__V1__COMMAND__KIND_STATS;
		cmd.stats = &ts;
		break;
	default:
		return OSP_OK;
	}
	if ((rv = coord_db_cmd_append(c, t, n, &cmd)) != OSP_OK)
		return rv;
	/* the generation this rollout took the slot over with: its stage, or
	 * its first prepare when the idle slot already ran the release */
	if (st->cmd == COORD_RO_CMD_STAGE ||
		(st->cmd == COORD_RO_CMD_PREPARE && st->stage_generation == 0))
		st->stage_generation = cmd.generation;
	st->seq = cmd.seq;
	return OSP_OK;
}

/* coord_ro_cancel voids a command the node has not executed yet (it is
 * unreachable): the log entry becomes a no-op so it never runs late. */
static osp_err coord_ro_cancel(coord *c, osp_txn *t, coord_ro_entry *e, coord_ro_step *st)
{
	coord_node *n = coord_active_member_node(c, e, st);
	Ospec__V1__Command cmd, **cur = NULL;
	Ospec__V1__Noop noop;
	size_t ncur = 0;
	bool ours;

	if (n == NULL || st->seq == 0 || st->seq <= n->acked || st->seq > n->log_end)
		return OSP_OK;
	/* only void the entry this step wrote (the log may have been dropped
	 * by a forget and the sequence reused since) */
	if (coord_db_cmd_read(c, t, n->id, st->seq - 1, 1, &cur, &ncur) != OSP_OK)
		return OSP_OK;
	ours = ncur == 1 && cur[0]->seq == st->seq && cur[0]->rollout_id != NULL &&
		strcmp(cur[0]->rollout_id, e->ro.id) == 0;
	coord_db_cmds_free(cur, ncur);
	if (!ours)
		return OSP_OK;
	ospec__v1__command__init(&cmd);
	ospec__v1__noop__init(&noop);
	noop.note = "cancelled: the node did not answer in time";
	cmd.seq = st->seq;
	cmd.rollout_id = e->ro.id;
	cmd.kind_case = OSPEC__V1__COMMAND__KIND_NOOP;
	cmd.noop = &noop;
	return coord_db_cmd_put(c, t, n->id, &cmd);
}

/* coord_ro_void voids an unanswered command: the log entry becomes a no-op
 * if the node has not executed it, and a rolling stage gets a revert queued
 * behind it. The node may have fetched the stage before it went away (or
 * recorded it and died): whatever it did with it, when it comes back the
 * revert returns it to the release it ran before, health-checked. A revert
 * that finds the node not running this release changes nothing. */
osp_err coord_ro_void(coord *c, osp_txn *t, coord_ro_entry *e, coord_ro_step *st)
{
	coord_node *n = coord_active_member_node(c, e, st);
	Ospec__V1__Command cmd;
	Ospec__V1__Revert rev;
	osp_err rv;

	if ((rv = coord_ro_cancel(c, t, e, st)) != OSP_OK || n == NULL || st->seq == 0 ||
		coord_ro_slotted(e->ro.strategy) || st->void_seq != 0)
		return rv; /* blue-green stages touch only the idle slot */
	if (e->ro.strategy == COORD_RO_RECREATE && !st->stopped)
		return OSP_OK; /* its stop was voided: it never got this release */
	ospec__v1__command__init(&cmd);
	coord_ro_revert_cmd(e, &rev);
	cmd.rollout_id = e->ro.id;
	cmd.kind_case = OSPEC__V1__COMMAND__KIND_REVERT;
	cmd.revert = &rev;
	if ((rv = coord_db_cmd_append(c, t, n, &cmd)) != OSP_OK)
		return rv;
	st->void_seq = cmd.seq;
	return OSP_OK;
}

/* coord_ro_decide records the switch decision (before any DECIDE command of
 * it can be seen: same transaction, committed synced). */
osp_err coord_ro_decide(coord *c, osp_txn *t, coord_ro_entry *e)
{
	const char *d = e->ro.decision == COORD_RO_DECISION_COMMIT ? "commit" : "abort";

	Ospec__V1__RolloutRecord *r = e->rec;
	Ospec__V1__SwitchRecord *sw, **v;
	uint32_t members = 0;

	(void)c;
	OSP_INFO("COORD-SWITCH-DECIDED", "switch '%s' of rollout '%s': %s", e->ro.switch_id,
		e->ro.id, d);
	/* kept in the rollout for status: the flip skew of every switch */
	for (size_t i = 0; i < e->ro.nsteps; i++)
		members += e->ro.steps[i].in_switch;
	if ((sw = calloc(1, sizeof(*sw))) == NULL)
		return OSP_ENOMEM;
	if ((v = realloc(r->switches, (r->n_switches + 1) * sizeof(*v))) == NULL) {
		free(sw);
		return OSP_ENOMEM;
	}
	r->switches = v;
	ospec__v1__switch_record__init(sw);
	sw->id = strdup(e->ro.switch_id);
	sw->to = strdup(e->ro.switch_no > 1 ? "back" : "new");
	sw->decision = strdup(d);
	sw->has_decided_ms = sw->has_members = 1;
	sw->decided_ms = osp_now_wall_ms();
	sw->members = members;
	r->switches[r->n_switches++] = sw;
	return coord_ro_rec_decide(t, e->ro.switch_id, e->ro.decision == COORD_RO_DECISION_COMMIT);
}
