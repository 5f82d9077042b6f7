/*
 * agent_hooks.c - an app's hooks (agent_hooks.h, docs/hooks.md): their
 * config block and one run of a hook through agent_runner_run, with the
 * release described in its environment and its output captured, redacted
 * and logged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_hooks.h"
#include "agent_redact.h"
#include "agent_runner.h"

static const char *const agent_hook_names[AGENT_HOOKS_N] = { "pre_stage", "post_stage",
	"pre_switch", "post_switch" };

#define AGENT_HOOK_NVARS 10 /* the OSPEC_* variables of one run */
#define AGENT_HOOK_VAR_MAX (PATH_MAX + 32)
#define AGENT_HOOK_LOG_BYTES 1500 /* of output in the log line (a log message is 2 KiB) */

/* One run's buffers (heap: the result alone is 8 KiB). */
typedef struct agent_hook_work {
	agent_run_result res;
	char vars[AGENT_HOOK_NVARS][AGENT_HOOK_VAR_MAX];
	char *envp[AGENT_HOOK_NVARS + 1];
	char text[2 * AGENT_RUN_TAIL]; /* the output, redacted: marks may be longer */
	char why[512];
} agent_hook_work;

const char *agent_hook_name(agent_hook_kind k)
{
	return (int)k >= 0 && (int)k < AGENT_HOOKS_N ? agent_hook_names[k] : "?";
}

osp_err agent_hooks_cfg_read(agent_hooks_cfg *h, const osp_cfg_doc *d, const osp_cfg_node *n,
	const char *path, char *err, size_t errlen)
{
	char p[300];
	osp_err rv = OSP_OK;

	if (n->kind != OSP_CFG_MAP)
		return osp_cfg_errorf(d, n, path, err, errlen,
			"expected a map {pre_stage: PATH, post_stage: PATH, pre_switch: PATH, "
			"post_switch: PATH, timeout: DURATION}");
	for (size_t i = 0; i < n->n && rv == OSP_OK; i++) {
		const osp_cfg_node *it = n->items[i];
		const char *s = NULL;
		int k;

		snprintf(p, sizeof(p), "%s.%s", path, it->key);
		if (strcmp(it->key, "timeout") == 0) {
			rv = osp_cfg_duration(d, it, p, &h->timeout, err, errlen);
			if (rv == OSP_OK && (h->timeout < 1 || h->timeout > AGENT_HOOK_TIMEOUT_MAX_MS))
				rv = osp_cfg_errorf(d, it, p, err, errlen,
					"expected a duration from 1ms to 1h, got \"%s\"", it->value);
			continue;
		}
		for (k = 0; k < AGENT_HOOKS_N; k++)
			if (strcmp(it->key, agent_hook_names[k]) == 0)
				break;
		if (k == AGENT_HOOKS_N)
			return osp_cfg_errorf(d, it, p, err, errlen,
				"unknown key (expected pre_stage, post_stage, pre_switch, "
				"post_switch or timeout)");
		rv = osp_cfg_str(d, it, p, PATH_MAX - 1, &s, err, errlen);
		/* an executable, run without a shell or a PATH search */
		if (rv == OSP_OK && s[0] != '/')
			rv = osp_cfg_errorf(d, it, p, err, errlen,
				"expected the absolute path of an executable, got \"%s\"", s);
		if (rv != OSP_OK)
			break;
		free(h->path[k]);
		if ((h->path[k] = strdup(s)) == NULL)
			rv = OSP_ENOMEM;
	}
	return rv;
}

void agent_hooks_cfg_free(agent_hooks_cfg *h)
{
	for (int k = 0; k < AGENT_HOOKS_N; k++)
		free(h->path[k]);
	memset(h, 0, sizeof(*h));
}

bool agent_hook_configured(const agent_app_cfg *ac, agent_hook_kind k)
{
	return ac != NULL && (int)k >= 0 && (int)k < AGENT_HOOKS_N && ac->hooks.path[k] != NULL;
}

/* agent_hook_env_fill writes the OSPEC_* variables of one run into w. */
static void agent_hook_env_fill(agent_hook_work *w, agent_hook_kind k, const agent_hook_env *e)
{
	const char *const kv[AGENT_HOOK_NVARS][2] = {
		{ "OSPEC_HOOK", agent_hook_name(k) },
		{ "OSPEC_APP", e->app },
		{ "OSPEC_NODE", e->node },
		{ "OSPEC_VERSION", e->version },
		{ "OSPEC_SHA256", e->sha256 },
		{ "OSPEC_PREVIOUS_VERSION", e->previous_version },
		{ "OSPEC_RELEASE_DIR", e->release_dir },
		{ "OSPEC_SLOT", e->slot },
		{ "OSPEC_ROLLOUT", e->rollout },
		{ "OSPEC_PORT", "" },
	};

	for (int i = 0; i < AGENT_HOOK_NVARS; i++) {
		snprintf(w->vars[i], sizeof(w->vars[i]), "%s=%s", kv[i][0],
			kv[i][1] != NULL ? kv[i][1] : "");
		w->envp[i] = w->vars[i];
	}
	if (e->port != 0)
		snprintf(w->vars[AGENT_HOOK_NVARS - 1], sizeof(w->vars[0]), "OSPEC_PORT=%u", e->port);
	w->envp[AGENT_HOOK_NVARS] = NULL;
}

/* agent_hook_output redacts the captured output into w->text with the env
 * file's values, makes control characters but newline and tab visible as
 * '?' and drops trailing newlines. */
static void agent_hook_output(agent_hook_work *w, const char *app, const char *env_file)
{
	char why[256];
	size_t n;

	osp_strlcpy(w->text, w->res.out, sizeof(w->text));
	/* the hook may print its environment: the env file's values never
	 * leave the host (the reason goes to the coordinator's store) */
	if (agent_redact_env_text(env_file, w->text, sizeof(w->text), why, sizeof(why)) != OSP_OK) {
		OSP_WARN("AGENT-HOOK-REDACT", "app '%s': hook output not shown, cannot redact it: %s",
			app, why);
		osp_strlcpy(w->text, "(not shown: the env file could not be read to redact it)",
			sizeof(w->text));
	}
	n = strlen(w->text);
	for (size_t i = 0; i < n; i++)
		if (((unsigned char)w->text[i] < 0x20 && w->text[i] != '\n' && w->text[i] != '\t') ||
			w->text[i] == 0x7f)
			w->text[i] = '?';
	while (n > 0 && w->text[n - 1] == '\n')
		w->text[--n] = '\0';
}

/* agent_hook_tail returns where the last lines of text begin: at most
 * AGENT_HOOK_TAIL_LINES lines and AGENT_HOOK_TAIL_BYTES bytes (*cut: a line
 * was cut at its start). */
static const char *agent_hook_tail(const char *text, bool *cut)
{
	size_t n = strlen(text), i = n;
	int lines = 0;

	while (i > 0 && n - i < AGENT_HOOK_TAIL_BYTES) {
		if (text[i - 1] == '\n' && ++lines == AGENT_HOOK_TAIL_LINES)
			break;
		i--;
	}
	*cut = i > 0 && text[i - 1] != '\n';
	return text + i;
}

/* agent_hook_fail writes the reason of a failed run into msg. */
static void agent_hook_fail(agent_hook_work *w, agent_hook_kind k, osp_err rv, int64_t timeout,
	char *msg, size_t msglen)
{
	char head[700], dur[32];
	bool cut = false;
	const char *tail = agent_hook_tail(w->text, &cut);

	if (rv == OSP_ETIMEDOUT) {
		osp_duration_fmt(timeout, dur, sizeof(dur));
		snprintf(head, sizeof(head), "hook %s failed (killed after the timeout of %s)",
			agent_hook_name(k), dur);
	} else if (rv == OSP_OK) {
		snprintf(head, sizeof(head), "hook %s failed (exit %d)", agent_hook_name(k),
			w->res.code);
	} else {
		snprintf(head, sizeof(head), "hook %s failed (cannot run it: %s)",
			agent_hook_name(k), w->why);
	}
	if (tail[0] == '\0')
		snprintf(msg, msglen, "%s", head);
	else
		snprintf(msg, msglen, "%s: %s%s", head, cut ? "..." : "", tail);
}

osp_err agent_hook_run(const agent_app_cfg *ac, agent_hook_kind k, const agent_hook_env *env,
	char *msg, size_t msglen)
{
	agent_hook_work *w = NULL;
	char *argv[3];
	const char *log;
	int64_t t0, timeout;
	osp_err rv;

	if (!agent_hook_configured(ac, k))
		return OSP_OK;
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		snprintf(msg, msglen, "hook %s failed (cannot run it: out of memory)",
			agent_hook_name(k));
		return OSP_ENOMEM;
	}
	timeout = ac->hooks.timeout > 0 ? ac->hooks.timeout : AGENT_HOOK_TIMEOUT_MS;
	argv[0] = ac->hooks.path[k];
	argv[1] = (char *)agent_hook_name(k);
	argv[2] = NULL;
	agent_hook_env_fill(w, k, env);
	OSP_INFO("AGENT-HOOK-RUN", "app '%s' version '%s': running hook %s '%s'", ac->name,
		env->version != NULL ? env->version : "", agent_hook_name(k), argv[0]);
	t0 = osp_now_mono_ms();
	rv = agent_runner_run(&(agent_run_spec){ .argv = argv, .envp = w->envp,
				      .timeout_ms = timeout,
				      .cwd = env->release_dir != NULL && env->release_dir[0] != '\0'
					      ? env->release_dir
					      : NULL,
				      .app_env = true, .user = ac->user, .env_file = ac->env_file,
				      .merge_output = true },
		&w->res, w->why, sizeof(w->why));
	agent_hook_output(w, ac->name, ac->env_file);
	log = w->text + (strlen(w->text) > AGENT_HOOK_LOG_BYTES
				? strlen(w->text) - AGENT_HOOK_LOG_BYTES
				: 0);
	/* the output, redacted, at info: operators read it in the agent's log */
	if (rv == OSP_OK || rv == OSP_ETIMEDOUT)
		OSP_INFO("AGENT-HOOK-OUTPUT", "app '%s' hook %s output: %s", ac->name,
			agent_hook_name(k), log[0] != '\0' ? log : "(none)");
	if (rv == OSP_OK && w->res.code == 0) {
		OSP_INFO("AGENT-HOOK-OK", "app '%s' hook %s exited 0 after %lldms", ac->name,
			agent_hook_name(k), (long long)(osp_now_mono_ms() - t0));
		free(w);
		return OSP_OK;
	}
	agent_hook_fail(w, k, rv, timeout, msg, msglen);
	OSP_WARN("AGENT-HOOK-FAILED", "app '%s' after %lldms: %s", ac->name,
		(long long)(osp_now_mono_ms() - t0), msg);
	free(w);
	return rv == OSP_OK ? OSP_EREFUSED : rv;
}
