/*
 * agent_bluegreen.c - the blue-green command handlers (agent_bluegreen.h):
 * Stage into a slot, SwitchPrepare, SwitchDecision, ScaleDown (the canary's
 * TrafficWeight and TrafficStats are in agent_bluegreen_canary.c). Each handler
 * records the new desired state before it touches a process or the proxy
 * (write-ahead), and converges when the same command comes again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_bluegreen.h"
#include "agent_checks.h"
#include "agent_health.h"
#include "agent_hooks.h"

/* res->slot points at one of these (they outlive every result). */
static char agent_bluegreen_blue[] = "blue";
static char agent_bluegreen_green[] = "green";

/* The state of one command being executed (heap: records are large). */
typedef struct agent_bluegreen_work {
	agent_app_rec rec;
	bool found;
	agent_slot_rec *sl; /* the command's slot inside rec */
	agent_rel rel;      /* the release to run */
	char dir[PATH_MAX];
	char err[1024];
	bool fresh; /* this command started the process */
} agent_bluegreen_work;

bool agent_bluegreen_is_slot(const char *slot)
{
	return slot != NULL && (strcmp(slot, "blue") == 0 || strcmp(slot, "green") == 0);
}

char *agent_bluegreen_slot_word(const char *slot)
{
	if (slot != NULL && strcmp(slot, "blue") == 0)
		return agent_bluegreen_blue;
	if (slot != NULL && strcmp(slot, "green") == 0)
		return agent_bluegreen_green;
	return NULL;
}

agent_slot_rec *agent_bluegreen_slot(agent_app_rec *rec, const char *name)
{
	if (name != NULL && strcmp(name, "blue") == 0)
		return &rec->blue;
	if (name != NULL && strcmp(name, "green") == 0)
		return &rec->green;
	return NULL;
}

/* agent_bluegreen_load checks app and loads its record into w. Returns false with
 * res final (status fail_status) when that failed. */
static bool agent_bluegreen_load(agent_bluegreen *g, const char *app, agent_bluegreen_work *w,
	Ospec__V1__ResultStatus fail_status, Ospec__V1__CommandResult *res, char *msg,
	size_t msglen)
{
	osp_err rv;

	if (app == NULL || !osp_valid_id(app)) {
		agent_apps_result(res,
			fail_status == AGENT_RES_NO ? AGENT_RES_NO : AGENT_RES_REFUSED, msg, msglen,
			"invalid app name");
		return false;
	}
	rv = agent_apps_rec_load(g->p, app, &w->rec, &w->found);
	if (rv != OSP_OK) {
		/* a corrupt record may hold a prepared switch: never guess */
		agent_apps_result(res, fail_status, msg, msglen,
			"cannot read the record of app '%s': %s", app, osp_strerror(rv));
		return false;
	}
	return true;
}

/* agent_bluegreen_save writes w->rec; on failure res is final (FAILED or status). */
static bool agent_bluegreen_save(agent_bluegreen *g, agent_bluegreen_work *w,
	Ospec__V1__ResultStatus fail_status, Ospec__V1__CommandResult *res, char *msg,
	size_t msglen)
{
	osp_err rv = agent_apps_rec_save(g->p, &w->rec);

	if (rv != OSP_OK) {
		agent_apps_result(res, fail_status, msg, msglen, "cannot record app '%s': %s",
			w->rec.app, osp_strerror(rv));
		return false;
	}
	w->found = true;
	return true;
}

/* agent_bluegreen_ports finds the slot's port: the host's apps.<app>.ports, else
 * the Stage's blue_port/green_port. Both must be known. */
static unsigned agent_bluegreen_ports(
	agent_bluegreen *g, const Ospec__V1__Stage *s, const char *slot)
{
	const agent_app_cfg *ac = agent_cfg_app(g->p->cfg, s->app);
	uint64_t blue = s->has_blue_port ? s->blue_port : 0;
	uint64_t green = s->has_green_port ? s->green_port : 0;

	if (ac != NULL && ac->blue_port > 0 && ac->green_port > 0) {
		blue = ac->blue_port;
		green = ac->green_port;
	}
	if (blue == 0 || green == 0 || blue > 65535 || green > 65535 || blue == green)
		return 0;
	return (unsigned)(strcmp(slot, "blue") == 0 ? blue : green);
}

/* agent_bluegreen_stage_rel checks a Stage's release and the slot's state and
 * fills w->rel. Returns false with res final when the Stage is refused. */
static bool agent_bluegreen_stage_rel(agent_bluegreen *g, const Ospec__V1__Stage *s,
	agent_bluegreen_work *w, Ospec__V1__CommandResult *res, char *msg, size_t msglen)
{
	agent_rel *r = &w->rel;

	if (s->stop_only || s->no_start) {
		agent_apps_result(res, AGENT_RES_REFUSED, msg, msglen,
			"stop_only and no_start do not apply to slot '%s'", s->slot);
		return false;
	}
	if (!agent_apps_stage_fields(s, r, res, msg, msglen))
		return false;
	if (s->health_path != NULL && strlen(s->health_path) > OSP_WIRE_MAX_PATH) {
		agent_apps_result(res, AGENT_RES_REFUSED, msg, msglen, "a field is too long");
		return false;
	}
	if ((r->port = agent_bluegreen_ports(g, s, s->slot)) == 0) {
		agent_apps_result(res, AGENT_RES_REFUSED, msg, msglen,
			"no blue and green ports for app '%s' (none in the command or the host "
			"config, or they are equal)",
			s->app);
		return false;
	}
	r->set = true;
	if (w->rec.prepared_switch_id[0] != '\0') {
		agent_apps_result(res, AGENT_RES_REFUSED, msg, msglen,
			"switch '%s' is prepared: slots are locked", w->rec.prepared_switch_id);
		return false;
	}
	if (strcmp(w->rec.active_slot, s->slot) == 0) {
		agent_apps_result(res, AGENT_RES_REFUSED, msg, msglen,
			"slot '%s' is active: stage into the idle slot", s->slot);
		return false;
	}
	return !agent_bluegreen_canary_busy(&w->rec, s->slot, res, msg, msglen);
}

/* agent_bluegreen_same reports whether the slot already runs w->rel (a re-sent
 * Stage, or the release it holds already). */
static bool agent_bluegreen_same(
	agent_bluegreen *g, const agent_bluegreen_work *w, const char *slot)
{
	return w->sl->running && agent_apps_rel_same(&w->sl->rel, &w->rel) &&
		agent_apps_runs_slot(g->p, w->rec.app, slot, &w->rel);
}

/* agent_bluegreen_slot_fill records the Stage's release and settings in the slot. */
static void agent_bluegreen_slot_fill(const Ospec__V1__Command *cmd, agent_bluegreen_work *w)
{
	const Ospec__V1__Stage *s = cmd->stage;
	agent_slot_rec *sl = w->sl;

	sl->rel = w->rel;
	sl->running = true;
	sl->generation = cmd->has_generation ? cmd->generation : 0;
	osp_strlcpy(sl->health_path, s->health_path != NULL ? s->health_path : "",
		sizeof(sl->health_path));
	sl->health_rise = s->has_health_rise ? s->health_rise : 0;
	sl->health_timeout_ms = s->has_health_timeout_ms ? s->health_timeout_ms : 0;
}

/* agent_bluegreen_hook runs hook k of w's app (agent_hooks.h) for rel in
 * slot, unpacked in dir ("": found from the cache); OSPEC_PREVIOUS_VERSION
 * is the other slot's release: the one serving before a stage or switch.
 * Returns OSP_OK (also when there is no such hook) or the hook's error with
 * its reason in msg. */
static osp_err agent_bluegreen_hook(agent_bluegreen *g, const Ospec__V1__Command *cmd,
	agent_hook_kind k, agent_bluegreen_work *w, const char *slot, const agent_rel *rel,
	char *msg, size_t msglen)
{
	const agent_app_cfg *ac = agent_cfg_app(g->p->cfg, w->rec.app);
	const agent_slot_rec *other =
		agent_bluegreen_slot(&w->rec, strcmp(slot, "blue") == 0 ? "green" : "blue");
	agent_hook_env he = { .app = w->rec.app, .node = g->p->cfg->id, .version = rel->version,
		.sha256 = rel->sha256,
		.previous_version = other != NULL && other->rel.set ? other->rel.version : "",
		.release_dir = w->dir, .slot = slot, .port = rel->port,
		.rollout = cmd->rollout_id };

	if (!agent_hook_configured(ac, k))
		return OSP_OK;
	if (w->dir[0] == '\0' && agent_apps_release_dir(g->p, rel, w->dir, sizeof(w->dir), w->err,
					 sizeof(w->err)) != OSP_OK)
		w->dir[0] = '\0';
	return agent_hook_run(ac, k, &he, msg, msglen);
}

/* agent_bluegreen_install fetches the release, runs the pre_stage hook,
 * records it in the slot and replaces the slot's process. Returns false
 * with res final. */
static bool agent_bluegreen_install(agent_bluegreen *g, const Ospec__V1__Command *cmd,
	agent_bluegreen_work *w, Ospec__V1__CommandResult *res, char *msg, size_t msglen)
{
	const Ospec__V1__Stage *s = cmd->stage;
	osp_err rv;

	rv = agent_apps_prepare(g->p, s->artifact_url, w->rel.sha256, w->dir, sizeof(w->dir),
		w->err, sizeof(w->err));
	if (rv != OSP_OK) {
		/* nothing changed: the slot keeps what it had */
		agent_apps_result(res, AGENT_RES_FAILED, msg, msglen, "%s", w->err);
		OSP_WARN(
			"AGENT-APP-FETCH", "app '%s' version '%s': %s", s->app, s->version, w->err);
		return false;
	}
	/* before the slot changes: a failed pre_stage leaves it as it was */
	if (agent_bluegreen_hook(g, cmd, AGENT_HOOK_PRE_STAGE, w, s->slot, &w->rel, msg, msglen) !=
		OSP_OK) {
		res->status = AGENT_RES_FAILED;
		res->message = msg;
		return false;
	}
	agent_bluegreen_slot_fill(cmd, w);
	if (!agent_bluegreen_save(g, w, AGENT_RES_FAILED, res, msg, msglen))
		return false;
	rv = agent_runner_stop(g->p->runner, s->app, s->slot, AGENT_APPS_STOP_GRACE_MS);
	if (rv != OSP_OK && rv != OSP_ENOENT)
		OSP_WARN("AGENT-APP-STOP", "stopping app '%s' slot '%s': %s", s->app, s->slot,
			osp_strerror(rv));
	rv = agent_apps_start_slot(g->p, s->app, s->slot, &w->rel, w->dir, w->err, sizeof(w->err));
	if (rv != OSP_OK) {
		agent_apps_result(res, rv == OSP_EBUSY ? AGENT_RES_REFUSED : AGENT_RES_FAILED,
			msg, msglen, "cannot start version %s in slot '%s': %s", w->rel.version,
			s->slot, w->err);
		OSP_WARN("AGENT-APP-START", "app '%s': %s", s->app, msg);
		return false;
	}
	OSP_INFO("AGENT-APP-START", "app '%s' version '%s' started in slot '%s' on port %u", s->app,
		w->rel.version, s->slot, w->rel.port);
	w->fresh = true;
	return true;
}

/* agent_bluegreen_stage_check health-checks the staged slot, runs the
 * post_stage hook and finishes res. */
static void agent_bluegreen_stage_check(agent_bluegreen *g, const Ospec__V1__Command *cmd,
	agent_bluegreen_work *w, Ospec__V1__CommandResult *res, char *msg, size_t msglen)
{
	const Ospec__V1__Stage *s = cmd->stage;
	agent_health_spec hs;

	agent_apps_stage_health(s, w->rel.port, &hs);
	if (agent_checks_stage_verify(g->p, s, s->slot, w->fresh, &hs, msg, msglen) != OSP_OK) {
		/* the record stays: the coordinator decides what comes next */
		res->status = AGENT_RES_FAILED;
		res->message = msg;
		return;
	}
	/* a failed post_stage fails the Stage like a failed health check; no
	 * traffic goes to the slot, the coordinator decides what comes next */
	if (agent_bluegreen_hook(g, cmd, AGENT_HOOK_POST_STAGE, w, s->slot, &w->rel, msg, msglen) !=
		OSP_OK) {
		res->status = AGENT_RES_FAILED;
		res->message = msg;
		return;
	}
	agent_apps_result(res, AGENT_RES_OK, msg, msglen,
		"version %s is running and healthy in slot '%s' on port %u", w->rel.version,
		s->slot, w->rel.port);
	OSP_INFO("AGENT-APP-HEALTHY", "app '%s' version '%s' is healthy in slot '%s'", s->app,
		w->rel.version, s->slot);
	agent_apps_gc(g->p);
}

/* agent_bluegreen_stage_report names in res the slot staged into, the
 * active slot and what it runs (traffic still goes there): the coordinator
 * takes them from here, never from a heartbeat snapshot. */
static void agent_bluegreen_stage_report(agent_bluegreen *g, const agent_bluegreen_work *w,
	const char *slot, Ospec__V1__CommandResult *res)
{
	agent_app_rec *rec = (agent_app_rec *)&w->rec;
	const agent_slot_rec *act = agent_bluegreen_slot(rec, rec->active_slot);

	res->slot = agent_bluegreen_slot_word(slot);
	res->active_slot = agent_bluegreen_slot_word(rec->active_slot);
	/* res->version stays the staged release; previous_version is what
	 * traffic still goes to */
	osp_strlcpy(g->p->res.previous, act != NULL && act->rel.set ? act->rel.version : "",
		sizeof(g->p->res.previous));
	res->previous_version = g->p->res.previous;
}

void agent_bluegreen_stage(agent_bluegreen *g, const Ospec__V1__Command *cmd0,
	Ospec__V1__CommandResult *res, char *msg, size_t msglen)
{
	Ospec__V1__Command cmd1 = *cmd0, *cmd = &cmd1;
	Ospec__V1__Stage s1 = *cmd0->stage, *s = &s1;
	agent_bluegreen_work *w = calloc(1, sizeof(*w));
	uint64_t gen = cmd->has_generation ? cmd->generation : 0;

	cmd1.stage = &s1;
	res->app = s->app;
	res->version = s->version;
	res->slot = agent_bluegreen_slot_word(s->slot);
	if (w == NULL) {
		agent_apps_result(res, AGENT_RES_FAILED, msg, msglen, "out of memory");
		return;
	}
	if (!agent_bluegreen_is_slot(s->slot) && (s->slot == NULL || strcmp(s->slot, "idle") != 0)) {
		agent_apps_result(res, AGENT_RES_REFUSED, msg, msglen, "unknown slot");
		goto out;
	}
	if (!agent_bluegreen_load(g, s->app, w, AGENT_RES_FAILED, res, msg, msglen))
		goto out;
	/* "idle": the slot traffic does not go to, by this agent's own record
	 * (blue on a first deploy) */
	if (strcmp(s->slot, "idle") == 0)
		s1.slot = strcmp(w->rec.active_slot, "blue") == 0 ? agent_bluegreen_green
								   : agent_bluegreen_blue;
	agent_bluegreen_stage_report(g, w, s->slot, res);
	if (w->found && gen < w->rec.generation) {
		agent_apps_result(res, AGENT_RES_REFUSED, msg, msglen,
			"stale generation %llu < %llu", (unsigned long long)gen,
			(unsigned long long)w->rec.generation);
		goto out;
	}
	if (!agent_checks_stage_env(g->p, s, res, msg, msglen))
		goto out;
	w->rec.generation = gen > w->rec.generation ? gen : w->rec.generation;
	w->sl = agent_bluegreen_slot(&w->rec, s->slot);
	if (!agent_bluegreen_stage_rel(g, s, w, res, msg, msglen))
		goto out;
	agent_bluegreen_monitor_add(g, s->app);
	if (agent_bluegreen_same(g, w, s->slot)) {
		OSP_INFO("AGENT-APP-CONVERGED",
			"app '%s' slot '%s' already runs version '%s'; checking health", s->app,
			s->slot, w->rel.version);
		agent_bluegreen_slot_fill(cmd, w);
		if (!agent_bluegreen_save(g, w, AGENT_RES_FAILED, res, msg, msglen))
			goto out;
	} else if (!agent_bluegreen_install(g, cmd, w, res, msg, msglen)) {
		goto out;
	}
	agent_bluegreen_stage_check(g, cmd, w, res, msg, msglen);
out:
	free(w);
}

bool agent_bluegreen_slot_ready(agent_bluegreen *g, const char *app, const char *slot,
	const char *expect_version, const agent_slot_rec *sl, char *msg, size_t msglen)
{
	agent_health_spec hs = {
		.port = sl->rel.port,
		.path = sl->health_path[0] != '\0' ? sl->health_path : NULL,
		.timeout_ms = sl->health_timeout_ms,
		.interval_ms = AGENT_BLUEGREEN_RECHECK_INTERVAL_MS,
		.deadline_ms = AGENT_BLUEGREEN_PREPARE_DEADLINE_MS,
		.rise = sl->health_rise,
	};
	char why[OSP_WIRE_MAX_TEXT / 2];

	if (!sl->rel.set || !sl->running) {
		snprintf(msg, msglen, "slot '%s' holds no running release", slot);
		return false;
	}
	if (expect_version != NULL && expect_version[0] != '\0' &&
		strcmp(sl->rel.version, expect_version) != 0) {
		snprintf(msg, msglen, "slot '%s' holds version %s, not %s", slot, sl->rel.version,
			expect_version);
		return false;
	}
	if (!agent_apps_runs_slot(g->p, app, slot, &sl->rel)) {
		snprintf(msg, msglen, "slot '%s' is not running version %s", slot,
			sl->rel.version);
		return false;
	}
	if (agent_apps_check_slot(g->p, app, slot, false, &hs, why, sizeof(why)) != OSP_OK) {
		snprintf(msg, msglen, "slot '%s' failed its health check: %s", slot, why);
		return false;
	}
	return true;
}

/* agent_bluegreen_prepare_check verifies that to_slot may take the traffic
 * (agent_bluegreen_slot_ready). Returns false with the reason in msg. */
static bool agent_bluegreen_prepare_check(agent_bluegreen *g, const Ospec__V1__SwitchPrepare *c,
	agent_bluegreen_work *w, char *msg, size_t msglen)
{
	return agent_bluegreen_slot_ready(g, c->app, c->to_slot, c->expect_version, w->sl, msg,
		msglen);
}

/* agent_bluegreen_prepare_proxy readies the driver and records the switch as
 * prepared. Returns false with the reason in msg (nothing recorded). */
static bool agent_bluegreen_prepare_proxy(agent_bluegreen *g, const Ospec__V1__SwitchPrepare *c,
	agent_bluegreen_work *w, char *msg, size_t msglen)
{
	agent_traffic *t = NULL;
	osp_err rv;

	if (agent_bluegreen_traffic(g, &w->rec, &t, w->err, sizeof(w->err)) != OSP_OK ||
		agent_traffic_prepare(t, c->to_slot, w->err, sizeof(w->err)) != OSP_OK) {
		snprintf(msg, msglen, "proxy: %s", w->err);
		return false;
	}
	osp_strlcpy(w->rec.prepared_switch_id, c->switch_id, sizeof(w->rec.prepared_switch_id));
	osp_strlcpy(w->rec.prepared_to_slot, c->to_slot, sizeof(w->rec.prepared_to_slot));
	if ((rv = agent_apps_rec_save(g->p, &w->rec)) != OSP_OK) {
		snprintf(msg, msglen, "cannot record the prepared switch: %s", osp_strerror(rv));
		if (agent_traffic_abort(t, w->err, sizeof(w->err)) != OSP_OK)
			OSP_WARN("AGENT-SWITCH-ABORT", "app '%s': proxy: %s", c->app, w->err);
		return false;
	}
	return true;
}

void agent_bluegreen_prepare(agent_bluegreen *g, const Ospec__V1__Command *cmd,
	Ospec__V1__CommandResult *res, char *msg, size_t msglen)
{
	const Ospec__V1__SwitchPrepare *c = cmd->prepare;
	agent_bluegreen_work *w = calloc(1, sizeof(*w));

	res->app = c->app;
	res->switch_id = c->switch_id;
	res->slot = agent_bluegreen_slot_word(c->to_slot);
	res->version = c->expect_version;
	if (w == NULL) {
		agent_apps_result(res, AGENT_RES_NO, msg, msglen, "out of memory");
		return;
	}
	if (c->switch_id == NULL || c->switch_id[0] == '\0' ||
		strlen(c->switch_id) > OSP_WIRE_MAX_ID || !agent_bluegreen_is_slot(c->to_slot)) {
		agent_apps_result(res, AGENT_RES_NO, msg, msglen, "invalid switch id or slot");
		goto out;
	}
	if (!agent_bluegreen_load(g, c->app, w, AGENT_RES_NO, res, msg, msglen))
		goto out;
	if (strcmp(w->rec.prepared_switch_id, c->switch_id) == 0) {
		/* the same prepare again: the vote stands */
		if (strcmp(w->rec.prepared_to_slot, c->to_slot) == 0)
			agent_apps_result(res, AGENT_RES_YES, msg, msglen,
				"switch '%s' to slot '%s' is prepared", c->switch_id, c->to_slot);
		else
			agent_apps_result(res, AGENT_RES_NO, msg, msglen,
				"switch '%s' is prepared to slot '%s'", c->switch_id,
				w->rec.prepared_to_slot);
		goto out;
	}
	if (w->rec.prepared_switch_id[0] != '\0') {
		agent_apps_result(res, AGENT_RES_NO, msg, msglen,
			"switch '%s' is prepared: slots are locked", w->rec.prepared_switch_id);
		goto out;
	}
	w->sl = agent_bluegreen_slot(&w->rec, c->to_slot);
	/* pre_switch runs once the slot is ready and before anything is
	 * prepared: its failure is a NO vote with its reason, nothing to undo */
	if (!agent_bluegreen_prepare_check(g, c, w, msg, msglen) ||
		agent_bluegreen_hook(g, cmd, AGENT_HOOK_PRE_SWITCH, w, c->to_slot, &w->sl->rel, msg,
			msglen) != OSP_OK ||
		!agent_bluegreen_prepare_proxy(g, c, w, msg, msglen)) {
		res->status = AGENT_RES_NO;
		res->message = msg;
		OSP_WARN("AGENT-SWITCH-VOTE-NO", "app '%s' switch '%s': %s", c->app, c->switch_id,
			msg);
		goto out;
	}
	agent_apps_result(res, AGENT_RES_YES, msg, msglen,
		"switch '%s' to slot '%s' (version %s) is prepared", c->switch_id, c->to_slot,
		w->sl->rel.version);
	OSP_INFO("AGENT-SWITCH-PREPARED", "app '%s' switch '%s' to slot '%s' prepared: voted yes",
		c->app, c->switch_id, c->to_slot);
out:
	free(w);
}

/* agent_bluegreen_commit applies w's prepared switch under g->sw: the proxy first
 * (retried), then the record. Returns false with res final. The decision is
 * COMMIT even when the proxy did not take it: it is recorded as the desired
 * state all the same, which the monitor's watch (and a restart) keep
 * re-asserting, so the node converges to the decision once the proxy is back. */
static bool agent_bluegreen_commit(agent_bluegreen *g, const Ospec__V1__SwitchDecision *d,
	agent_bluegreen_work *w, Ospec__V1__CommandResult *res, char *msg, size_t msglen)
{
	char to[AGENT_APPS_SLOT_LEN];
	agent_traffic *t = NULL;
	osp_err rv = agent_bluegreen_traffic(g, &w->rec, &t, w->err, sizeof(w->err));
	int tries = 0;

	osp_strlcpy(to, w->rec.prepared_to_slot, sizeof(to));
	while (t != NULL) {
		tries++;
		rv = agent_traffic_commit(t, to, w->err, sizeof(w->err));
		if (rv == OSP_OK || tries >= AGENT_BLUEGREEN_COMMIT_ATTEMPTS)
			break;
		OSP_WARN("AGENT-SWITCH-RETRY", "app '%s' switch '%s': proxy: %s; retrying", d->app,
			d->switch_id, w->err);
		osp_sleep_ms(AGENT_BLUEGREEN_COMMIT_PAUSE_MS);
	}
	osp_strlcpy(w->rec.active_slot, to, sizeof(w->rec.active_slot));
	osp_strlcpy(w->rec.committed_switch_id, d->switch_id, sizeof(w->rec.committed_switch_id));
	w->rec.prepared_switch_id[0] = '\0';
	w->rec.prepared_to_slot[0] = '\0';
	/* a promoted canary is the active slot now (the commit restored the
	 * proxy's weights): no canary left to re-assert */
	w->rec.canary_slot[0] = '\0';
	w->rec.canary_weight = 0;
	if (!agent_bluegreen_save(g, w, AGENT_RES_FAILED, res, msg, msglen))
		return false;
	agent_bluegreen_monitor_reset(
		g, d->app, to, rv == OSP_OK ? AGENT_APPS_HEALTH_OK : AGENT_APPS_HEALTH_UNKNOWN);
	if (rv != OSP_OK) {
		agent_apps_result(res, AGENT_RES_FAILED, msg, msglen,
			"switch '%s' to slot '%s' not applied (%d attempts): proxy: %s; the agent "
			"keeps re-asserting slot '%s'",
			d->switch_id, to, tries, w->err, to);
		OSP_ERROR("AGENT-SWITCH-FAILED", "app '%s': %s", d->app, msg);
		return false;
	}
	return true;
}

/* agent_bluegreen_post_switch runs the post_switch hook of a switch just
 * committed (outside g->sw: the proxy watch must not wait for a script). The
 * switch stays whatever the hook does: the agent never half-undoes a
 * decision. A failure makes res FAILED, saying both, so that the
 * coordinator counts the node as failed and the operator sees why. */
static void agent_bluegreen_post_switch(agent_bluegreen *g, const Ospec__V1__Command *cmd,
	agent_bluegreen_work *w, Ospec__V1__CommandResult *res, char *msg, size_t msglen)
{
	const agent_slot_rec *sl = agent_bluegreen_slot(&w->rec, w->rec.active_slot);
	char why[2048];

	if (sl == NULL || !sl->rel.set ||
		agent_bluegreen_hook(g, cmd, AGENT_HOOK_POST_SWITCH, w, w->rec.active_slot, &sl->rel,
			why, sizeof(why)) == OSP_OK)
		return;
	agent_apps_result(res, AGENT_RES_FAILED, msg, msglen,
		"switch '%s' committed (slot '%s' is active and stays so), but %s",
		cmd->decision->switch_id, w->rec.active_slot, why);
}

void agent_bluegreen_decision(agent_bluegreen *g, const Ospec__V1__Command *cmd,
	Ospec__V1__CommandResult *res, char *msg, size_t msglen)
{
	const Ospec__V1__SwitchDecision *d = cmd->decision;
	agent_bluegreen_work *w = calloc(1, sizeof(*w));
	bool ok, applied = false;

	res->app = d->app;
	res->switch_id = d->switch_id;
	if (w == NULL) {
		agent_apps_result(res, AGENT_RES_FAILED, msg, msglen, "out of memory");
		return;
	}
	if (d->switch_id == NULL || d->switch_id[0] == '\0') {
		agent_apps_result(res, AGENT_RES_REFUSED, msg, msglen, "invalid switch id");
		goto out;
	}
	pthread_mutex_lock(&g->sw);
	ok = agent_bluegreen_load(g, d->app, w, AGENT_RES_FAILED, res, msg, msglen);
	if (ok && strcmp(w->rec.prepared_switch_id, d->switch_id) != 0) {
		/* presumed abort reaches nodes that never voted; a re-sent commit
		 * finds the switch applied */
		if (d->commit && strcmp(w->rec.committed_switch_id, d->switch_id) == 0)
			agent_apps_result(res, AGENT_RES_OK, msg, msglen,
				"switch '%s' is applied: slot '%s' is active", d->switch_id,
				w->rec.active_slot);
		else if (d->commit)
			/* never switch without having voted: the coordinator must not
			 * count this node as switched */
			agent_apps_result(res, OSPEC__V1__RESULT_STATUS__RESULT_REFUSED, msg,
				msglen, "switch '%s' was not prepared here: not switching",
				d->switch_id);
		else
			agent_apps_result(res, AGENT_RES_OK, msg, msglen,
				"nothing prepared for switch '%s'", d->switch_id);
		ok = false;
	}
	res->slot = agent_bluegreen_slot_word(w->rec.prepared_to_slot);
	if (ok && d->commit && agent_bluegreen_commit(g, d, w, res, msg, msglen)) {
		agent_apps_result(res, AGENT_RES_OK, msg, msglen,
			"switch '%s' committed: slot '%s' is active", d->switch_id,
			w->rec.active_slot);
		OSP_INFO("AGENT-SWITCH-COMMITTED", "app '%s' switch '%s': slot '%s' is active",
			d->app, d->switch_id, w->rec.active_slot);
		applied = true;
	} else if (ok && !d->commit) {
		w->rec.prepared_switch_id[0] = '\0';
		w->rec.prepared_to_slot[0] = '\0';
		if (agent_bluegreen_save(g, w, AGENT_RES_FAILED, res, msg, msglen)) {
			agent_traffic *t = NULL;

			if (agent_bluegreen_traffic(g, &w->rec, &t, w->err, sizeof(w->err)) !=
					OSP_OK ||
				agent_traffic_abort(t, w->err, sizeof(w->err)) != OSP_OK)
				OSP_WARN("AGENT-SWITCH-ABORT", "app '%s': proxy: %s", d->app,
					w->err);
			agent_apps_result(res, AGENT_RES_OK, msg, msglen, "switch '%s' aborted",
				d->switch_id);
			OSP_INFO("AGENT-SWITCH-ABORTED", "app '%s' switch '%s' aborted", d->app,
				d->switch_id);
		}
	}
	pthread_mutex_unlock(&g->sw);
	if (applied)
		agent_bluegreen_post_switch(g, cmd, w, res, msg, msglen);
out:
	free(w);
}

void agent_bluegreen_scale_down(agent_bluegreen *g, const Ospec__V1__Command *cmd,
	Ospec__V1__CommandResult *res, char *msg, size_t msglen)
{
	const Ospec__V1__ScaleDown *c = cmd->scale_down;
	agent_bluegreen_work *w = calloc(1, sizeof(*w));
	osp_err rv;

	res->app = c->app;
	res->slot = agent_bluegreen_slot_word(c->slot);
	if (w == NULL) {
		agent_apps_result(res, AGENT_RES_FAILED, msg, msglen, "out of memory");
		return;
	}
	if (!agent_bluegreen_is_slot(c->slot)) {
		agent_apps_result(res, AGENT_RES_REFUSED, msg, msglen, "unknown slot");
		goto out;
	}
	if (!agent_bluegreen_load(g, c->app, w, AGENT_RES_FAILED, res, msg, msglen))
		goto out;
	w->sl = agent_bluegreen_slot(&w->rec, c->slot);
	if (strcmp(w->rec.active_slot, c->slot) == 0) {
		agent_apps_result(
			res, AGENT_RES_REFUSED, msg, msglen, "slot '%s' is active again", c->slot);
		goto out;
	}
	if (strcmp(w->rec.prepared_to_slot, c->slot) == 0) {
		agent_apps_result(res, AGENT_RES_REFUSED, msg, msglen,
			"switch '%s' is prepared: slots are locked", w->rec.prepared_switch_id);
		goto out;
	}
	if (agent_bluegreen_canary_busy(&w->rec, c->slot, res, msg, msglen))
		goto out;
	/* the command carries the generation of the rollout's Stage: a slot
	 * staged after it belongs to a newer rollout */
	if (w->sl->generation > c->slot_generation) {
		agent_apps_result(res, AGENT_RES_REFUSED, msg, msglen,
			"slot '%s' was staged again since (generation %llu > %llu)", c->slot,
			(unsigned long long)w->sl->generation,
			(unsigned long long)c->slot_generation);
		goto out;
	}
	if (w->found && w->sl->running) {
		w->sl->running = false;
		if (!agent_bluegreen_save(g, w, AGENT_RES_FAILED, res, msg, msglen))
			goto out;
	}
	rv = agent_runner_stop(g->p->runner, c->app, c->slot, AGENT_APPS_STOP_GRACE_MS);
	if (rv == OSP_OK)
		OSP_INFO("AGENT-APP-STOP", "app '%s' slot '%s' scaled down", c->app, c->slot);
	else if (rv != OSP_ENOENT)
		OSP_WARN("AGENT-APP-STOP", "stopping app '%s' slot '%s': %s", c->app, c->slot,
			osp_strerror(rv));
	agent_apps_result(res, AGENT_RES_OK, msg, msglen, "slot '%s' stopped", c->slot);
out:
	free(w);
}
