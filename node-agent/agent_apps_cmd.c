/*
 * agent_apps_cmd.c - the Stage, Revert and Stop handlers of the single slot
 * "main" (agent_apps.h). Each handler validates, refuses a stale generation,
 * records the new desired state first (write-ahead), then acts on the
 * process and health-checks it. The result and Stage helpers here
 * (agent_apps_result, agent_apps_stage_fields, agent_apps_stage_health) serve
 * the blue-green handlers too (agent_bluegreen.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_apps.h"
#include "agent_checks.h"
#include "agent_drain.h"
#include "agent_health.h"
#include "agent_hooks.h"
#include "agent_redact.h"
#include "ospec/url_redact.h"

static char agent_apps_main_slot[] = AGENT_APPS_SLOT;

/* The state of one command being executed (heap: records are large). */
typedef struct agent_apps_work {
	agent_app_rec rec;
	bool found;
	uint64_t gen;        /* the command's generation */
	agent_rel rel;       /* the release to run */
	agent_rel tmp;
	char dir[PATH_MAX];  /* its release directory */
	char err[1024];
	bool fresh;          /* this command started the process */
	agent_drain *drain;  /* the proxy drain held while the process is replaced */
} agent_apps_work;

/* Liveness of the process under a health check: it counts as dead when the
 * runner has restarted it since the check began. */
typedef struct agent_apps_watch {
	agent_apps *p;
	const char *app;
	const char *slot;
	unsigned restarts;
} agent_apps_watch;

void agent_apps_result(Ospec__V1__CommandResult *res, Ospec__V1__ResultStatus status,
	char *msg, size_t msglen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, msglen, fmt, ap); /* a long reason is cut, never overflows */
	va_end(ap);
	res->status = status;
	res->message = msg;
}

/* agent_apps_fail finishes res as failed with the reason already in msg. */
static void agent_apps_fail(Ospec__V1__CommandResult *res, char *msg)
{
	res->status = OSPEC__V1__RESULT_STATUS__RESULT_FAILED;
	res->message = msg;
}

/* agent_apps_begin checks the app and slot, loads the record and refuses a
 * stale generation. Returns false when res is final. */
static bool agent_apps_begin(agent_apps *p, const Ospec__V1__Command *cmd, const char *app,
	const char *slot, agent_apps_work *w, Ospec__V1__CommandResult *res, char *msg,
	size_t msglen)
{
	osp_err rv;

	if (app == NULL || !osp_valid_id(app)) {
		agent_apps_result(res, AGENT_RES_REFUSED, msg, msglen, "invalid app name");
		return false;
	}
	if (slot != NULL && slot[0] != '\0' && strcmp(slot, AGENT_APPS_SLOT) != 0) {
		if (strcmp(slot, "blue") == 0 || strcmp(slot, "green") == 0)
			agent_apps_result(res, AGENT_RES_REFUSED, msg, msglen,
				"blue-green is not supported yet");
		else
			agent_apps_result(res, AGENT_RES_REFUSED, msg, msglen, "unknown slot");
		return false;
	}
	rv = agent_apps_rec_load(p, app, &w->rec, &w->found);
	if (rv == OSP_EDECODE) {
		/* start over rather than be stuck: the command says what is wanted */
		OSP_ERROR("AGENT-APP-RECORD", "record of app '%s' is corrupt; replacing it", app);
		rv = OSP_OK;
	}
	if (rv != OSP_OK) {
		agent_apps_result(res, AGENT_RES_FAILED, msg, msglen,
			"cannot read the record of app '%s': %s", app, osp_strerror(rv));
		return false;
	}
	w->gen = cmd->has_generation ? cmd->generation : 0;
	if (w->found && w->gen < w->rec.generation) {
		agent_apps_result(res, AGENT_RES_REFUSED, msg, msglen,
			"stale generation %llu < %llu", (unsigned long long)w->gen,
			(unsigned long long)w->rec.generation);
		return false;
	}
	if (w->gen > w->rec.generation)
		w->rec.generation = w->gen;
	return true;
}

static bool agent_apps_alive(void *arg)
{
	agent_apps_watch *wt = arg;
	agent_proc_status st;

	if (agent_runner_status(wt->p->runner, wt->app, wt->slot, &st) != OSP_OK)
		return false;
	return st.running && st.restarts == wt->restarts;
}

/* agent_apps_running reports whether app's slot runs; *restarts (may be
 * NULL) is the runner's restart count. */
static bool agent_apps_running(agent_apps *p, const char *app, const char *slot,
	unsigned *restarts)
{
	agent_proc_status st;

	if (agent_runner_status(p->runner, app, slot, &st) != OSP_OK)
		return false;
	if (restarts != NULL)
		*restarts = st.restarts;
	return st.running;
}

/* agent_apps_check is agent_apps_check_slot for the main slot. */
static osp_err agent_apps_check(agent_apps *p, const char *app, bool fresh,
	agent_health_spec *hs, char *msg, size_t msglen)
{
	return agent_apps_check_slot(p, app, AGENT_APPS_SLOT, fresh, hs, msg, msglen);
}

void agent_apps_fail_reason(agent_apps *p, const char *app, const char *slot, const char *err,
	char *msg, size_t msglen)
{
	const agent_app_cfg *ac = agent_cfg_app(p->cfg, app);
	char tail[2048], why[512];
	size_t n;

	if (agent_runner_stderr_tail(p->runner, app, slot, AGENT_APPS_TAIL_LINES, tail,
		    sizeof(tail)) != OSP_OK)
		tail[0] = '\0';
	/* the app may print its environment: the env file's values never
	 * leave the host (the reason goes to the coordinator's store) */
	if (ac != NULL && agent_redact_env_text(ac->env_file, tail, sizeof(tail), why,
			  sizeof(why)) != OSP_OK) {
		OSP_WARN("AGENT-APP-REDACT", "app '%s': stderr not reported, cannot redact it: %s",
			app, why);
		osp_strlcpy(tail, "(not shown: the env file could not be read to redact it)",
			sizeof(tail));
	}
	n = strlen(tail);
	while (n > 0 && (tail[n - 1] == '\n' || tail[n - 1] == '\r'))
		tail[--n] = '\0';
	/* the app wrote it: no terminal controls in what operators read */
	for (size_t i = 0; i < n; i++)
		if (((unsigned char)tail[i] < 0x20 && tail[i] != '\n' && tail[i] != '\t') ||
			tail[i] == 0x7f)
			tail[i] = '?';
	snprintf(msg, msglen, "%s; stderr: %s", err, n > 0 ? tail : "(empty)");
}

osp_err agent_apps_check_slot(agent_apps *p, const char *app, const char *slot, bool fresh,
	agent_health_spec *hs, char *msg, size_t msglen)
{
	agent_apps_watch wt = { .p = p, .app = app, .slot = slot };
	agent_proc_status st;
	char err[1024];
	bool main_slot = strcmp(slot, AGENT_APPS_SLOT) == 0;
	osp_err rv;

	if (!fresh)
		agent_apps_running(p, app, slot, &wt.restarts);
	hs->alive = agent_apps_alive;
	hs->arg = &wt;
	hs->cancel = &p->stopping;
	rv = agent_health_wait(hs, err, sizeof(err));
	if (rv == OSP_ECLOSED && atomic_load(&p->stopping)) {
		/* the agent stops: no verdict on the app; the command is not
		 * answered and runs again at the next start (agent_session_run_command) */
		snprintf(msg, msglen, "%s: the agent is stopping", err);
		return rv;
	}
	if (rv == OSP_OK) {
		if (main_slot)
			agent_apps_health_set(p, app, AGENT_APPS_HEALTH_OK);
		return OSP_OK;
	}
	if (main_slot)
		agent_apps_health_set(p, app, AGENT_APPS_HEALTH_FAILED);
	if (rv == OSP_ECLOSED && agent_runner_status(p->runner, app, slot, &st) == OSP_OK &&
		st.last_exit_status >= 0)
		snprintf(err, sizeof(err), "process exited with status %d", st.last_exit_status);
	agent_apps_fail_reason(p, app, slot, err, msg, msglen);
	OSP_WARN("AGENT-APP-UNHEALTHY", "app '%s' slot '%s': %s", app, slot, err);
	return rv;
}

/* agent_apps_replace stops what runs in app's main slot and starts w->rel
 * from w->dir, drained from its proxy first when it has one (agent_drain.h;
 * the handler's end puts it back). Returns false with res final when the
 * start failed. */
static bool agent_apps_replace(agent_apps *p, const char *app, agent_apps_work *w,
	Ospec__V1__CommandResult *res, char *msg, size_t msglen)
{
	osp_err rv;

	if (w->drain == NULL)
		agent_drain_begin(p, app, &w->drain);
	rv = agent_runner_stop(p->runner, app, AGENT_APPS_SLOT, AGENT_APPS_STOP_GRACE_MS);

	if (rv != OSP_OK && rv != OSP_ENOENT)
		OSP_WARN("AGENT-APP-STOP", "stopping app '%s': %s", app, osp_strerror(rv));
	rv = agent_apps_start(p, app, &w->rel, w->dir, w->err, sizeof(w->err));
	if (rv != OSP_OK) {
		agent_apps_result(res, rv == OSP_EBUSY ? AGENT_RES_REFUSED : AGENT_RES_FAILED, msg,
			msglen, "cannot start version %s: %s", w->rel.version, w->err);
		OSP_WARN("AGENT-APP-START", "app '%s': %s", app, msg);
		return false;
	}
	OSP_INFO("AGENT-APP-START", "app '%s' version '%s' started on port %u", app,
		w->rel.version, w->rel.port);
	w->fresh = true;
	return true;
}

/* agent_apps_halt records app as stopped (optionally forgetting its current
 * release), then stops its process. Returns false with res final when the
 * record could not be written (then nothing was stopped). */
static bool agent_apps_halt(agent_apps *p, agent_apps_work *w, bool forget,
	Ospec__V1__CommandResult *res, char *msg, size_t msglen)
{
	osp_err rv;

	if (w->found) {
		w->rec.running = false;
		if (forget)
			memset(&w->rec.current, 0, sizeof(w->rec.current));
		if ((rv = agent_apps_rec_save(p, &w->rec)) != OSP_OK) {
			agent_apps_result(res, AGENT_RES_FAILED, msg, msglen,
				"cannot record app '%s': %s", w->rec.app, osp_strerror(rv));
			return false;
		}
	}
	agent_apps_health_set(p, w->rec.app, AGENT_APPS_HEALTH_UNKNOWN);
	rv = agent_runner_stop(p->runner, w->rec.app, AGENT_APPS_SLOT, AGENT_APPS_STOP_GRACE_MS);
	if (rv == OSP_OK)
		OSP_INFO("AGENT-APP-STOP", "app '%s' stopped", w->rec.app);
	else if (rv != OSP_ENOENT)
		OSP_WARN("AGENT-APP-STOP", "stopping app '%s': %s", w->rec.app, osp_strerror(rv));
	return true;
}

bool agent_apps_stage_fields(const Ospec__V1__Stage *s, agent_rel *r,
	Ospec__V1__CommandResult *res, char *msg, size_t msglen)
{
	memset(r, 0, sizeof(*r));
	if (s->sha256 == NULL || !agent_release_sha_valid(s->sha256)) {
		agent_apps_result(res, AGENT_RES_REFUSED, msg, msglen,
			"invalid sha256: expected 64 lowercase hex digits");
		return false;
	}
	if (s->version == NULL || s->version[0] == '\0' || s->run == NULL || s->run[0] == '\0' ||
		s->artifact_url == NULL || s->artifact_url[0] == '\0') {
		agent_apps_result(res, AGENT_RES_REFUSED, msg, msglen,
			"stage needs a version, an artifact url and a run command");
		return false;
	}
	if (osp_strlcpy(r->version, s->version, sizeof(r->version)) >= sizeof(r->version) ||
		osp_strlcpy(r->run, s->run, sizeof(r->run)) >= sizeof(r->run) ||
		strlen(s->artifact_url) >= sizeof(r->url)) {
		agent_apps_result(res, AGENT_RES_REFUSED, msg, msglen, "a field is too long");
		return false;
	}
	/* the record keeps the url for people only (fetches use the command's):
	 * without credentials; a cut copy is fine */
	(void)osp_url_redact(s->artifact_url, r->url, sizeof(r->url));
	osp_strlcpy(r->sha256, s->sha256, sizeof(r->sha256));
	return true;
}

/* agent_apps_stage_rel checks a Stage and fills w->rel. Returns false with
 * res final when the command is refused. */
static bool agent_apps_stage_rel(agent_apps *p, const Ospec__V1__Stage *s, agent_apps_work *w,
	Ospec__V1__CommandResult *res, char *msg, size_t msglen)
{
	agent_rel *r = &w->rel;

	if (!agent_apps_stage_fields(s, r, res, msg, msglen))
		return false;
	r->port = agent_apps_port(p, s->app, s->has_port ? s->port : 0);
	if (r->port == 0) {
		agent_apps_result(res, AGENT_RES_REFUSED, msg, msglen,
			"no port for app '%s' (none in the command or the host config)", s->app);
		return false;
	}
	r->set = true;
	return true;
}

/* agent_apps_same reports whether the recorded current release is w->rel
 * and runs (a re-sent command after an agent crash). */
static bool agent_apps_same(agent_apps *p, const agent_apps_work *w)
{
	return w->found && w->rec.running && agent_apps_rel_same(&w->rec.current, &w->rel) &&
		agent_apps_runs(p, w->rec.app, &w->rel);
}

/* agent_apps_hook runs hook k of the app for w->rel in the main slot
 * (agent_hooks.h): prev is the release the app ran before it. Returns false
 * with res final (FAILED, the hook's reason) when the hook failed. */
static bool agent_apps_hook(agent_apps *p, const Ospec__V1__Command *cmd, agent_hook_kind k,
	agent_apps_work *w, const agent_rel *prev, Ospec__V1__CommandResult *res, char *msg,
	size_t msglen)
{
	const agent_app_cfg *ac = agent_cfg_app(p->cfg, w->rec.app);
	agent_hook_env he = { .app = w->rec.app, .node = p->cfg->id, .version = w->rel.version,
		.sha256 = w->rel.sha256, .previous_version = prev->set ? prev->version : "",
		.release_dir = w->dir, .slot = AGENT_APPS_SLOT, .port = w->rel.port,
		.rollout = cmd->rollout_id };

	if (!agent_hook_configured(ac, k))
		return true;
	/* a converged Stage never unpacked: the hook still runs in the release */
	if (w->dir[0] == '\0' && agent_apps_release_dir(p, &w->rel, w->dir, sizeof(w->dir), w->err,
					 sizeof(w->err)) != OSP_OK)
		w->dir[0] = '\0';
	if (agent_hook_run(ac, k, &he, msg, msglen) == OSP_OK)
		return true;
	agent_apps_fail(res, msg);
	return false;
}

/* agent_apps_stage_install fetches, runs the pre_stage hook, records and
 * (unless no_start) starts the release. Returns false with res final on
 * failure. */
static bool agent_apps_stage_install(agent_apps *p, const Ospec__V1__Command *cmd,
	agent_apps_work *w, Ospec__V1__CommandResult *res, char *msg, size_t msglen)
{
	const Ospec__V1__Stage *s = cmd->stage;
	const agent_rel *cur = &w->rec.current;
	osp_err rv;

	rv = agent_apps_prepare(p, s->artifact_url, w->rel.sha256, w->dir, sizeof(w->dir), w->err,
		sizeof(w->err));
	if (rv != OSP_OK) {
		/* nothing changed: the old release keeps running */
		agent_apps_result(res, AGENT_RES_FAILED, msg, msglen, "%s", w->err);
		OSP_WARN("AGENT-APP-FETCH", "app '%s' version '%s': %s", s->app, s->version, w->err);
		return false;
	}
	/* before anything changes: a failed pre_stage leaves the old release
	 * running and recorded, so a Revert finds nothing to undo */
	if (!agent_apps_hook(p, cmd, AGENT_HOOK_PRE_STAGE, w,
		    cur->set && strcmp(cur->sha256, w->rel.sha256) != 0 ? cur : &w->rec.previous, res,
		    msg, msglen))
		return false;
	/* write-ahead: the new desired state is durable before the process changes */
	if (!w->rec.current.set || strcmp(w->rec.current.sha256, w->rel.sha256) != 0)
		w->rec.previous = w->rec.current;
	w->rec.current = w->rel;
	w->rec.running = !s->no_start;
	osp_strlcpy(w->rec.health_path, s->health_path != NULL ? s->health_path : "",
		sizeof(w->rec.health_path));
	if ((rv = agent_apps_rec_save(p, &w->rec)) != OSP_OK) {
		agent_apps_result(res, AGENT_RES_FAILED, msg, msglen, "cannot record app '%s': %s",
			s->app, osp_strerror(rv));
		return false;
	}
	w->found = true;
	agent_apps_health_set(p, s->app, AGENT_APPS_HEALTH_UNKNOWN);
	if (s->no_start) {
		rv = agent_runner_stop(p->runner, s->app, AGENT_APPS_SLOT, AGENT_APPS_STOP_GRACE_MS);
		if (rv != OSP_OK && rv != OSP_ENOENT)
			OSP_WARN("AGENT-APP-STOP", "stopping app '%s': %s", s->app, osp_strerror(rv));
		return true;
	}
	return agent_apps_replace(p, s->app, w, res, msg, msglen);
}

void agent_apps_stage_health(const Ospec__V1__Stage *s, unsigned port, agent_health_spec *hs)
{
	*hs = (agent_health_spec){
		.port = port,
		.path = s->health_path != NULL && s->health_path[0] != '\0' ? s->health_path : NULL,
		.interval_ms = s->has_health_interval_ms ? s->health_interval_ms : 0,
		.timeout_ms = s->has_health_timeout_ms ? s->health_timeout_ms : 0,
		.deadline_ms = s->has_health_deadline_ms ? s->health_deadline_ms : 0,
		.rise = s->has_health_rise ? s->health_rise : 0,
		.fall = s->has_health_fall ? s->health_fall : 0,
	};
}

/* agent_apps_stage_check health-checks a staged release with the command's
 * settings (zero = the defaults), runs the post_stage hook and finishes res. */
static void agent_apps_stage_check(agent_apps *p, const Ospec__V1__Command *cmd,
	agent_apps_work *w, Ospec__V1__CommandResult *res, char *msg, size_t msglen)
{
	const Ospec__V1__Stage *s = cmd->stage;
	agent_health_spec hs;

	agent_apps_stage_health(s, w->rel.port, &hs);
	if (agent_checks_stage_verify(p, s, AGENT_APPS_SLOT, w->fresh, &hs, msg, msglen) != OSP_OK) {
		/* the record stays: the coordinator decides (it sends a Revert) */
		agent_apps_fail(res, msg);
		return;
	}
	/* a failed post_stage fails the Stage like a failed health check: the
	 * record stays and the coordinator's Revert puts the old release back */
	if (!agent_apps_hook(p, cmd, AGENT_HOOK_POST_STAGE, w, &w->rec.previous, res, msg, msglen))
		return;
	agent_apps_result(res, AGENT_RES_OK, msg, msglen,
		"version %s is running and healthy on port %u", w->rel.version, w->rel.port);
	OSP_INFO("AGENT-APP-HEALTHY", "app '%s' version '%s' is healthy", s->app, w->rel.version);
	agent_apps_gc(p);
}

/* agent_apps_stage_report names in res what the app runs now (its record)
 * and what a revert of this stage would go back to: the recorded previous
 * release when the stage's release is current, else the current one (the
 * stage changed nothing). */
static void agent_apps_stage_report(agent_apps *p, const Ospec__V1__Stage *s,
	const agent_apps_work *w, Ospec__V1__CommandResult *res)
{
	const agent_rel *cur = &w->rec.current;
	bool took = w->found && cur->set && s->sha256 != NULL && strcmp(cur->sha256, s->sha256) == 0;

	if (!w->found)
		return;
	agent_apps_result_runs(p, res, w->rec.running ? cur : NULL,
		took ? &w->rec.previous : cur);
}

void agent_apps_stage(agent_apps *p, const Ospec__V1__Command *cmd,
	Ospec__V1__CommandResult *res, char *msg, size_t msglen)
{
	const Ospec__V1__Stage *s = cmd->stage;
	agent_apps_work *w = calloc(1, sizeof(*w));
	osp_err rv;

	res->app = s->app;
	res->version = s->version;
	res->slot = agent_apps_main_slot;
	if (w == NULL) {
		agent_apps_result(res, AGENT_RES_FAILED, msg, msglen, "out of memory");
		return;
	}
	if (!agent_apps_begin(p, cmd, s->app, s->slot, w, res, msg, msglen) ||
		!agent_checks_stage_env(p, s, res, msg, msglen))
		goto out;
	if (s->stop_only) {
		if (agent_apps_halt(p, w, false, res, msg, msglen))
			agent_apps_result(res, AGENT_RES_OK, msg, msglen, "stopped");
		goto out;
	}
	if (!agent_apps_stage_rel(p, s, w, res, msg, msglen))
		goto out;
	if (!s->no_start && agent_apps_same(p, w)) {
		OSP_INFO("AGENT-APP-CONVERGED", "app '%s' already runs version '%s'; checking health",
			s->app, w->rel.version);
		if ((rv = agent_apps_rec_save(p, &w->rec)) != OSP_OK) {
			agent_apps_result(res, AGENT_RES_FAILED, msg, msglen,
				"cannot record app '%s': %s", s->app, osp_strerror(rv));
			goto out;
		}
	} else if (!agent_apps_stage_install(p, cmd, w, res, msg, msglen)) {
		goto out;
	}
	if (s->no_start)
		agent_apps_result(res, AGENT_RES_OK, msg, msglen, "version %s staged, not started",
			w->rel.version);
	else
		agent_apps_stage_check(p, cmd, w, res, msg, msglen);
out:
	agent_apps_stage_report(p, s, w, res);
	agent_drain_end(w->drain, res->status == AGENT_RES_OK);
	free(w);
}

/* agent_apps_revert_target picks the release a Revert asks for: the recorded
 * previous or current one, else one described by the command itself. Fills
 * w->rel (with the effective port) and w->dir. Returns false with res final. */
static bool agent_apps_revert_target(agent_apps *p, const Ospec__V1__Revert *c, agent_apps_work *w,
	bool *is_cur, Ospec__V1__CommandResult *res, char *msg, size_t msglen)
{
	const agent_rel *cur = &w->rec.current, *prev = &w->rec.previous;
	agent_rel *r = &w->rel;

	*is_cur = w->found && cur->set && strcmp(cur->sha256, c->sha256) == 0;
	if (w->found && prev->set && strcmp(prev->sha256, c->sha256) == 0) {
		*r = *prev;
		*is_cur = false;
	} else if (*is_cur) {
		*r = *cur;
	} else if (c->run != NULL && c->run[0] != '\0' &&
		osp_strlcpy(r->run, c->run, sizeof(r->run)) < sizeof(r->run) &&
		osp_strlcpy(r->version, c->version, sizeof(r->version)) < sizeof(r->version)) {
		osp_strlcpy(r->sha256, c->sha256, sizeof(r->sha256));
		r->port = 0;
		r->set = true;
	} else {
		agent_apps_result(res, AGENT_RES_FAILED, msg, msglen,
			"release %s is not known to this agent for app '%s'", c->version, c->app);
		return false;
	}
	r->port = agent_apps_port(p, c->app, r->port != 0 ? r->port : (c->has_port ? c->port : 0));
	if (r->port == 0) {
		agent_apps_result(res, AGENT_RES_REFUSED, msg, msglen, "no port for app '%s'",
			c->app);
		return false;
	}
	if (agent_apps_release_dir(p, r, w->dir, sizeof(w->dir), w->err, sizeof(w->err)) != OSP_OK) {
		agent_apps_result(res, AGENT_RES_FAILED, msg, msglen, "%s", w->err);
		return false;
	}
	return true;
}

/* agent_apps_revert_to records w->rel as current (the failed release becomes
 * previous) and restarts the app on it, unless it already runs it. */
static bool agent_apps_revert_to(agent_apps *p, agent_apps_work *w, bool is_cur,
	Ospec__V1__CommandResult *res, char *msg, size_t msglen)
{
	osp_err rv;

	if (is_cur && w->rec.running && agent_apps_runs(p, w->rec.app, &w->rel)) {
		OSP_INFO("AGENT-APP-CONVERGED", "app '%s' already runs version '%s'", w->rec.app,
			w->rel.version);
		if ((rv = agent_apps_rec_save(p, &w->rec)) != OSP_OK) {
			agent_apps_result(res, AGENT_RES_FAILED, msg, msglen,
				"cannot record app '%s': %s", w->rec.app, osp_strerror(rv));
			return false;
		}
		return true;
	}
	if (!is_cur) {
		w->tmp = w->rec.current; /* the release being reverted */
		if (w->tmp.set && strcmp(w->tmp.sha256, w->rel.sha256) != 0)
			w->rec.previous = w->tmp;
	}
	w->rec.current = w->rel;
	w->rec.running = true;
	if ((rv = agent_apps_rec_save(p, &w->rec)) != OSP_OK) {
		agent_apps_result(res, AGENT_RES_FAILED, msg, msglen, "cannot record app '%s': %s",
			w->rec.app, osp_strerror(rv));
		return false;
	}
	w->found = true;
	agent_apps_health_set(p, w->rec.app, AGENT_APPS_HEALTH_UNKNOWN);
	return agent_apps_replace(p, w->rec.app, w, res, msg, msglen);
}

/* agent_apps_undo executes a Revert with from_sha256: the app goes back to
 * the release its own record names as previous if it runs from_sha256 now
 * (stopped when there is none), and stays as it is otherwise. The previous
 * release is in the cache: gc never removes it. Fills res. */
static void agent_apps_undo(agent_apps *p, const Ospec__V1__Revert *c, agent_apps_work *w,
	agent_health_spec *hs, Ospec__V1__CommandResult *res, char *msg, size_t msglen)
{
	const agent_rel *cur = &w->rec.current;

	if (!agent_release_sha_valid(c->from_sha256)) {
		agent_apps_result(res, AGENT_RES_REFUSED, msg, msglen,
			"invalid from_sha256: expected 64 lowercase hex digits");
		return;
	}
	/* until it changes, it runs what it runs */
	agent_apps_result_runs(p, res, w->found && w->rec.running ? cur : NULL, NULL);
	if (!w->found || !cur->set || strcmp(cur->sha256, c->from_sha256) != 0) {
		/* undone already: by a run of this command that the agent's stop
		 * cut short in its health wait (not answered, so run again) */
		bool undone = w->found && w->rec.running && cur->set && w->rec.previous.set &&
			strcmp(w->rec.previous.sha256, c->from_sha256) == 0;

		/* else the release never took its place here: nothing to undo
		 * (the record keeps the command's generation) */
		if (w->found && agent_apps_rec_save(p, &w->rec) != OSP_OK) {
			agent_apps_result(res, AGENT_RES_FAILED, msg, msglen,
				"cannot record app '%s'", c->app);
			return;
		}
		if (undone) {
			hs->port = agent_apps_port(p, c->app, cur->port);
			hs->path = w->rec.health_path[0] != '\0' ? w->rec.health_path : NULL;
			if (agent_apps_check(p, c->app, false, hs, msg, msglen) != OSP_OK) {
				agent_apps_fail(res, msg);
				return;
			}
			agent_apps_result(res, AGENT_RES_OK, msg, msglen, "reverted to %s",
				cur->version);
			return;
		}
		agent_apps_result(res, AGENT_RES_OK, msg, msglen, "nothing to undo: %s%s",
			w->found && w->rec.running && cur->set ? "runs " : "the app is not running",
			w->found && w->rec.running && cur->set ? cur->version : "");
		return;
	}
	if (!w->rec.previous.set) {
		if (agent_apps_halt(p, w, true, res, msg, msglen)) {
			agent_apps_result_runs(p, res, NULL, NULL);
			agent_apps_result(res, AGENT_RES_OK, msg, msglen,
				"stopped (no previous release)");
		}
		return;
	}
	w->rel = w->rec.previous;
	w->rel.port = agent_apps_port(p, c->app, w->rel.port != 0 ? w->rel.port : 0);
	if (w->rel.port == 0) {
		agent_apps_result(res, AGENT_RES_REFUSED, msg, msglen, "no port for app '%s'",
			c->app);
		return;
	}
	if (agent_apps_release_dir(p, &w->rel, w->dir, sizeof(w->dir), w->err,
		    sizeof(w->err)) != OSP_OK) {
		agent_apps_result(res, AGENT_RES_FAILED, msg, msglen, "%s", w->err);
		return;
	}
	if (!agent_apps_revert_to(p, w, false, res, msg, msglen))
		return;
	agent_apps_result_runs(p, res, &w->rel, NULL);
	hs->port = w->rel.port;
	hs->path = w->rec.health_path[0] != '\0' ? w->rec.health_path : NULL;
	if (agent_apps_check(p, c->app, w->fresh, hs, msg, msglen) != OSP_OK) {
		agent_apps_fail(res, msg);
		return;
	}
	agent_apps_result(res, AGENT_RES_OK, msg, msglen, "reverted to %s", w->rel.version);
	OSP_INFO("AGENT-APP-REVERTED", "app '%s' reverted to version '%s'", c->app, w->rel.version);
	agent_apps_gc(p);
}

void agent_apps_revert(agent_apps *p, const Ospec__V1__Command *cmd,
	Ospec__V1__CommandResult *res, char *msg, size_t msglen)
{
	const Ospec__V1__Revert *c = cmd->revert;
	agent_apps_work *w = calloc(1, sizeof(*w));
	agent_health_spec hs = { .deadline_ms = AGENT_APPS_REVERT_DEADLINE_MS };
	bool is_cur = false;

	res->app = c->app;
	res->version = c->version;
	res->slot = agent_apps_main_slot;
	if (w == NULL) {
		agent_apps_result(res, AGENT_RES_FAILED, msg, msglen, "out of memory");
		return;
	}
	if (!agent_apps_begin(p, cmd, c->app, c->slot, w, res, msg, msglen))
		goto out;
	if (c->from_sha256 != NULL && c->from_sha256[0] != '\0') {
		agent_apps_undo(p, c, w, &hs, res, msg, msglen);
		goto out;
	}
	if (c->sha256 == NULL || c->sha256[0] == '\0') {
		if (agent_apps_halt(p, w, true, res, msg, msglen))
			agent_apps_result(res, AGENT_RES_OK, msg, msglen,
				"stopped (no previous release)");
		goto out;
	}
	if (!agent_release_sha_valid(c->sha256)) {
		agent_apps_result(res, AGENT_RES_REFUSED, msg, msglen,
			"invalid sha256: expected 64 lowercase hex digits");
		goto out;
	}
	if (!agent_apps_revert_target(p, c, w, &is_cur, res, msg, msglen) ||
		!agent_apps_revert_to(p, w, is_cur, res, msg, msglen))
		goto out;
	hs.port = w->rel.port;
	hs.path = w->rec.health_path[0] != '\0' ? w->rec.health_path : NULL;
	if (agent_apps_check(p, c->app, w->fresh, &hs, msg, msglen) != OSP_OK) {
		agent_apps_fail(res, msg);
		goto out;
	}
	agent_apps_result(res, AGENT_RES_OK, msg, msglen, "reverted to %s", w->rel.version);
	OSP_INFO("AGENT-APP-REVERTED", "app '%s' reverted to version '%s'", c->app, w->rel.version);
	agent_apps_gc(p);
out:
	agent_drain_end(w->drain, res->status == AGENT_RES_OK);
	free(w);
}

void agent_apps_stop(agent_apps *p, const Ospec__V1__Command *cmd,
	Ospec__V1__CommandResult *res, char *msg, size_t msglen)
{
	const Ospec__V1__Stop *c = cmd->stop;
	agent_apps_work *w = calloc(1, sizeof(*w));

	res->app = c->app;
	res->slot = agent_apps_main_slot;
	if (w == NULL) {
		agent_apps_result(res, AGENT_RES_FAILED, msg, msglen, "out of memory");
		return;
	}
	if (agent_apps_begin(p, cmd, c->app, c->slot, w, res, msg, msglen) &&
		agent_apps_halt(p, w, false, res, msg, msglen))
		agent_apps_result(res, AGENT_RES_OK, msg, msglen, "stopped");
	free(w);
}
