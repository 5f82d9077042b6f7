/*
 * exec.c - the exec traffic driver: the operator's own scripts switch the
 * proxy (a cloud load balancer, a service mesh, anything the agent has no
 * driver for).
 *
 * proxy: {driver: exec, exec: {prepare: PATH, commit: PATH, abort: PATH,
 * current: PATH, timeout: 30s}}; commit is required, the others optional.
 * Each script runs without a shell (agent_runner_run: fork/execve, its own
 * process group, killed with SIGKILL at the timeout) as `SCRIPT PHASE`, with
 * only PATH and the OSPEC_* variables below in its environment:
 *
 *   OSPEC_APP        the app
 *   OSPEC_PHASE      prepare | commit | abort | current
 *   OSPEC_TO_SLOT    the slot that is to take the traffic (blue | green)
 *   OSPEC_FROM_SLOT  the other slot
 *   OSPEC_TO_PORT, OSPEC_FROM_PORT   their ports ("" when unknown)
 *
 * Exit 0 is success; anything else fails the phase, with the tail of the
 * script's stderr (else stdout) in the error. `current` prints the active
 * slot (blue, green, or nothing) on stdout; with it, commit verifies its
 * work by a read-back and watch() re-runs commit when the proxy drifted.
 * Without it, current() returns the slot last committed (in memory).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent_runner.h"
#include "agent_traffic.h"

#define AGENT_EXEC_DRV_TIMEOUT_MS 30000

enum { XS_PREPARE, XS_COMMIT, XS_ABORT, XS_CURRENT, XS_N };

static const char *const agent_exec_drv_keys[XS_N] = { "prepare", "commit", "abort", "current" };

typedef struct agent_exec_drv {
	char *script[XS_N]; /* NULL: not configured */
	int64_t timeout_ms;
	agent_traffic_lock *lock;
	char prepared[AGENT_TRAFFIC_SLOT_MAX]; /* "" none */
	char committed[AGENT_TRAFFIC_SLOT_MAX];
} agent_exec_drv;

static void agent_exec_drv_free(agent_exec_drv *x)
{
	if (x == NULL)
		return;
	agent_traffic_lock_put(x->lock);
	for (int i = 0; i < XS_N; i++)
		free(x->script[i]);
	free(x);
}

/* agent_exec_drv_check_cfg: commit set, every script absolute and executable. */
static osp_err agent_exec_drv_check_cfg(const char *const s[XS_N], char *err, size_t errlen)
{
	if (s[XS_COMMIT] == NULL || s[XS_COMMIT][0] == '\0') {
		agent_traffic_seterr(err, errlen, "proxy.exec.commit: required by the exec driver");
		return OSP_ECONFIG;
	}
	for (int i = 0; i < XS_N; i++) {
		if (s[i] == NULL)
			continue;
		if (s[i][0] != '/') {
			agent_traffic_seterr(err, errlen,
				"proxy.exec.%s: expected an absolute path, got \"%.200s\"",
				agent_exec_drv_keys[i], s[i]);
			return OSP_ECONFIG;
		}
		if (access(s[i], X_OK) != 0) {
			agent_traffic_seterr(err, errlen,
				"proxy.exec.%s: '%.200s' is not an executable file", agent_exec_drv_keys[i],
				s[i]);
			return OSP_ECONFIG;
		}
	}
	return OSP_OK;
}

static osp_err agent_exec_drv_open(agent_traffic *t, const agent_proxy_cfg *cfg, char *err,
	size_t errlen)
{
	const char *s[XS_N] = { cfg->exec_prepare, cfg->exec_commit, cfg->exec_abort,
		cfg->exec_current };
	agent_exec_drv *x = NULL;
	osp_err rv = agent_exec_drv_check_cfg(s, err, errlen);

	if (rv != OSP_OK)
		return rv;
	x = calloc(1, sizeof(*x));
	if (x == NULL)
		goto nomem;
	x->timeout_ms = cfg->exec_timeout > 0 ? cfg->exec_timeout : AGENT_EXEC_DRV_TIMEOUT_MS;
	for (int i = 0; i < XS_N; i++) {
		if (s[i] != NULL && s[i][0] != '\0' && (x->script[i] = strdup(s[i])) == NULL)
			goto nomem;
	}
	if (agent_traffic_lock_get(x->script[XS_COMMIT], &x->lock) != OSP_OK)
		goto nomem;
	t->drv = x;
	return OSP_OK;
nomem:
	agent_exec_drv_free(x);
	agent_traffic_seterr(err, errlen, "out of memory");
	return OSP_ENOMEM;
}

static void agent_exec_drv_close(agent_traffic *t)
{
	agent_exec_drv_free(t->drv);
	t->drv = NULL;
}

/* agent_exec_drv_text makes a captured tail one line: control characters
 * become spaces, runs of them one, the ends trimmed. */
static void agent_exec_drv_text(const char *in, char *out, size_t len)
{
	size_t o = 0;
	bool space = false;

	for (; *in != '\0' && o + 1 < len; in++) {
		unsigned char c = (unsigned char)*in;
		if (c < 32 || c == 127) {
			space = o > 0;
			continue;
		}
		if (space && o + 2 < len)
			out[o++] = ' ';
		space = false;
		out[o++] = (char)c;
	}
	out[o] = '\0';
}

/* agent_exec_drv_fail reports a failed run: the end of its output matters
 * most, so a long tail is cut at its start. */
static osp_err agent_exec_drv_fail(const char *phase, const char *script,
	const agent_run_result *res, osp_err rv, const char *why, char *err, size_t errlen)
{
	char text[AGENT_RUN_TAIL + 1], head[400];
	size_t hl, tl, room;

	agent_exec_drv_text(res->err[0] != '\0' ? res->err : res->out, text, sizeof(text));
	if (rv == OSP_ETIMEDOUT || rv == OSP_OK)
		snprintf(head, sizeof(head), "exec driver: %s script '%.200s' %s", phase, script,
			rv == OSP_OK ? why : "timed out (killed)");
	else
		snprintf(head, sizeof(head), "exec driver: %s script '%.200s': %s", phase, script,
			why);
	hl = strlen(head);
	tl = strlen(text);
	room = errlen > hl + 8 ? errlen - hl - 8 : 0;
	if (tl == 0 || room == 0)
		agent_traffic_seterr(err, errlen, "%s", head);
	else if (tl <= room)
		agent_traffic_seterr(err, errlen, "%s: %s", head, text);
	else
		agent_traffic_seterr(err, errlen, "%s: ...%s", head, text + (tl - room));
	return rv == OSP_OK ? OSP_EREFUSED : rv;
}

/* agent_exec_drv_run runs script `which` for phase with to_slot ("" for none);
 * res is the caller's (large: it holds both tails). */
static osp_err agent_exec_drv_run(agent_traffic *t, int which, const char *phase,
	const char *to_slot, agent_run_result *res, char *err, size_t errlen)
{
	agent_exec_drv *x = t->drv;
	int to = strcmp(to_slot, "green") == 0 ? 1 : 0;
	const char *from_slot = to_slot[0] == '\0' ? "" : to == 1 ? "blue" : "green";
	char e_app[96], e_phase[32], e_to[32], e_from[32], e_top[32], e_fromp[32];
	char *envp[] = { "PATH=/usr/local/bin:/usr/bin:/bin", e_app, e_phase, e_to, e_from, e_top,
		e_fromp, NULL };
	char *argv[] = { x->script[which], (char *)phase, NULL };
	char why[256], code[32];
	osp_err rv;

	snprintf(e_app, sizeof(e_app), "OSPEC_APP=%s", t->app);
	snprintf(e_phase, sizeof(e_phase), "OSPEC_PHASE=%s", phase);
	snprintf(e_to, sizeof(e_to), "OSPEC_TO_SLOT=%s", to_slot);
	snprintf(e_from, sizeof(e_from), "OSPEC_FROM_SLOT=%s", from_slot);
	if (to_slot[0] != '\0' && t->port[to] != 0)
		snprintf(e_top, sizeof(e_top), "OSPEC_TO_PORT=%u", t->port[to]);
	else
		snprintf(e_top, sizeof(e_top), "OSPEC_TO_PORT=");
	if (to_slot[0] != '\0' && t->port[1 - to] != 0)
		snprintf(e_fromp, sizeof(e_fromp), "OSPEC_FROM_PORT=%u", t->port[1 - to]);
	else
		snprintf(e_fromp, sizeof(e_fromp), "OSPEC_FROM_PORT=");
	rv = agent_runner_run(&(agent_run_spec){ .argv = argv, .envp = envp,
				      .timeout_ms = x->timeout_ms },
		res, why, sizeof(why));
	if (rv == OSP_OK && res->code == 0)
		return OSP_OK;
	if (rv == OSP_OK) {
		snprintf(code, sizeof(code), "exited %d", res->code);
		return agent_exec_drv_fail(phase, x->script[which], res, rv, code, err, errlen);
	}
	return agent_exec_drv_fail(phase, x->script[which], res, rv, why, err, errlen);
}

/* agent_exec_drv_slot runs `current` and parses its first word. */
static osp_err agent_exec_drv_slot(agent_traffic *t, char *slot, size_t len, char *err,
	size_t errlen)
{
	agent_exec_drv *x = t->drv;
	agent_run_result *res = malloc(sizeof(*res));
	char word[16] = "";
	osp_err rv;

	if (res == NULL) {
		agent_traffic_seterr(err, errlen, "out of memory");
		return OSP_ENOMEM;
	}
	rv = agent_exec_drv_run(t, XS_CURRENT, "current", "", res, err, errlen);
	if (rv == OSP_OK && sscanf(res->out, "%15s", word) != 1)
		word[0] = '\0';
	if (rv == OSP_OK && word[0] != '\0' && strcmp(word, "blue") != 0 &&
		strcmp(word, "green") != 0) {
		agent_traffic_seterr(err, errlen,
			"exec driver: current script '%.200s' printed \"%.16s\": expected blue, "
			"green or nothing", x->script[XS_CURRENT], word);
		rv = OSP_EDECODE;
	}
	if (rv == OSP_OK)
		osp_strlcpy(slot, word, len);
	free(res);
	return rv;
}

/* agent_exec_drv_phase runs one phase's script, if configured, under the lock. */
static osp_err agent_exec_drv_phase(agent_traffic *t, int which, const char *phase,
	const char *to_slot, char *err, size_t errlen)
{
	agent_exec_drv *x = t->drv;
	agent_run_result *res;
	osp_err rv;

	if (x->script[which] == NULL)
		return OSP_OK;
	res = malloc(sizeof(*res));
	if (res == NULL) {
		agent_traffic_seterr(err, errlen, "out of memory");
		return OSP_ENOMEM;
	}
	rv = agent_exec_drv_run(t, which, phase, to_slot, res, err, errlen);
	free(res);
	return rv;
}

static osp_err agent_exec_drv_prepare(agent_traffic *t, const char *to_slot, char *err,
	size_t errlen)
{
	agent_exec_drv *x = t->drv;
	osp_err rv;

	pthread_mutex_lock(agent_traffic_lock_mutex(x->lock));
	rv = agent_exec_drv_phase(t, XS_PREPARE, "prepare", to_slot, err, errlen);
	if (rv == OSP_OK)
		osp_strlcpy(x->prepared, to_slot, sizeof(x->prepared));
	pthread_mutex_unlock(agent_traffic_lock_mutex(x->lock));
	return rv;
}

/* agent_exec_drv_commit_locked runs commit and, with a current script, reads
 * the result back. */
static osp_err agent_exec_drv_commit_locked(agent_traffic *t, const char *to_slot, char *err,
	size_t errlen)
{
	agent_exec_drv *x = t->drv;
	char cur[AGENT_TRAFFIC_SLOT_MAX] = "";
	osp_err rv = agent_exec_drv_phase(t, XS_COMMIT, "commit", to_slot, err, errlen);

	if (rv == OSP_OK && x->script[XS_CURRENT] != NULL) {
		rv = agent_exec_drv_slot(t, cur, sizeof(cur), err, errlen);
		if (rv == OSP_OK && strcmp(cur, to_slot) != 0) {
			agent_traffic_seterr(err, errlen,
				"exec driver: read-back after the switch to '%s': the current script "
				"says \"%s\"", to_slot, cur);
			rv = OSP_EIO;
		}
	}
	if (rv == OSP_OK) {
		osp_strlcpy(x->committed, to_slot, sizeof(x->committed));
		x->prepared[0] = '\0';
	}
	return rv;
}

static osp_err agent_exec_drv_commit(agent_traffic *t, const char *to_slot, char *err,
	size_t errlen)
{
	agent_exec_drv *x = t->drv;
	osp_err rv;

	pthread_mutex_lock(agent_traffic_lock_mutex(x->lock));
	rv = agent_exec_drv_commit_locked(t, to_slot, err, errlen);
	pthread_mutex_unlock(agent_traffic_lock_mutex(x->lock));
	return rv;
}

/* agent_exec_drv_abort runs the abort script with the slot last prepared
 * ("" after an agent restart: the script must cope). */
static osp_err agent_exec_drv_abort(agent_traffic *t, char *err, size_t errlen)
{
	agent_exec_drv *x = t->drv;
	osp_err rv;

	pthread_mutex_lock(agent_traffic_lock_mutex(x->lock));
	rv = agent_exec_drv_phase(t, XS_ABORT, "abort", x->prepared, err, errlen);
	if (rv == OSP_OK)
		x->prepared[0] = '\0';
	pthread_mutex_unlock(agent_traffic_lock_mutex(x->lock));
	return rv;
}

static osp_err agent_exec_drv_current(agent_traffic *t, char *slot, size_t len, char *err,
	size_t errlen)
{
	agent_exec_drv *x = t->drv;
	osp_err rv = OSP_OK;

	pthread_mutex_lock(agent_traffic_lock_mutex(x->lock));
	if (x->script[XS_CURRENT] != NULL)
		rv = agent_exec_drv_slot(t, slot, len, err, errlen);
	else
		osp_strlcpy(slot, x->committed, len);
	pthread_mutex_unlock(agent_traffic_lock_mutex(x->lock));
	return rv;
}

/* agent_exec_drv_watch: only a current script can tell drift; without one
 * there is nothing to watch. */
static osp_err agent_exec_drv_watch(agent_traffic *t, const char *active_slot, bool *reasserted,
	char *err, size_t errlen)
{
	agent_exec_drv *x = t->drv;
	char cur[AGENT_TRAFFIC_SLOT_MAX] = "";
	osp_err rv = OSP_OK;

	*reasserted = false;
	if (x->script[XS_CURRENT] == NULL || active_slot[0] == '\0')
		return OSP_OK;
	pthread_mutex_lock(agent_traffic_lock_mutex(x->lock));
	rv = agent_exec_drv_slot(t, cur, sizeof(cur), err, errlen);
	if (rv == OSP_OK && strcmp(cur, active_slot) != 0) {
		rv = agent_exec_drv_commit_locked(t, active_slot, err, errlen);
		*reasserted = rv == OSP_OK;
		if (rv == OSP_OK)
			OSP_WARN("AGENT-TRAFFIC-REASSERT",
				"exec driver: app '%s' drifted from slot '%s' (current: %s): "
				"re-asserted", t->app, active_slot, cur[0] != '\0' ? cur : "none");
	}
	pthread_mutex_unlock(agent_traffic_lock_mutex(x->lock));
	return rv;
}

const agent_traffic_ops agent_traffic_exec_ops = {
	.name = "exec",
	.open = agent_exec_drv_open,
	.prepare = agent_exec_drv_prepare,
	.commit = agent_exec_drv_commit,
	.abort = agent_exec_drv_abort,
	.current = agent_exec_drv_current,
	.watch = agent_exec_drv_watch,
	.close = agent_exec_drv_close,
};
