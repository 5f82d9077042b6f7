/*
 * exec.c - the exec traffic driver: the operator's own scripts switch the
 * proxy (a cloud load balancer, a service mesh, anything the agent has no
 * driver for).
 *
 * proxy: {driver: exec, exec: {prepare: PATH, commit: PATH, abort: PATH,
 * current: PATH, weight: PATH, stats: PATH, timeout: 30s}}; commit is
 * required, the others optional (weight and stats for a canary).
 * Each script runs without a shell (agent_runner_run: fork/execve, its own
 * process group, killed with SIGKILL at the timeout) as `SCRIPT PHASE`, with
 * only PATH and the OSPEC_* variables below in its environment:
 *
 *   OSPEC_APP        the app
 *   OSPEC_PHASE      prepare | commit | abort | current | weight | stats
 *   OSPEC_TO_SLOT    the slot that is to take the traffic (blue | green)
 *   OSPEC_FROM_SLOT  the other slot
 *   OSPEC_TO_PORT, OSPEC_FROM_PORT   their ports ("" when unknown)
 *
 * weight also gets OSPEC_WEIGHT (0..100: percent to the canary; 0 = back to
 * the active slot alone), OSPEC_CANARY_SLOT, OSPEC_ACTIVE_SLOT,
 * OSPEC_CANARY_PORT, OSPEC_ACTIVE_PORT (TO is the canary); stats gets
 * OSPEC_SLOT and OSPEC_PORT and prints one line
 * "requests=N errors=N [rtime_ms=N] [weight=N] [proxy_start=N]", cumulative
 * counters (the coordinator takes differences).
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

enum { XS_PREPARE, XS_COMMIT, XS_ABORT, XS_CURRENT, XS_WEIGHT, XS_STATS, XS_N };

static const char *const agent_exec_drv_keys[XS_N] = { "prepare", "commit", "abort", "current",
	"weight", "stats" };

#define AGENT_EXEC_DRV_ENV_EXTRA 6 /* the phase's own OSPEC_* variables */

typedef struct agent_exec_drv {
	char *script[XS_N]; /* NULL: not configured */
	int64_t timeout_ms;
	agent_traffic_lock *lock;
	char prepared[AGENT_TRAFFIC_SLOT_MAX]; /* "" none */
	char committed[AGENT_TRAFFIC_SLOT_MAX];
	char weighted[48]; /* "ACTIVE CANARY W" the weight script last applied; "" none */
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
		cfg->exec_current, cfg->exec_weight, cfg->exec_stats };
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

/* agent_exec_drv_run runs script `which` for phase with to_slot ("" for none)
 * and extra (NULL or NULL-terminated, at most AGENT_EXEC_DRV_ENV_EXTRA) in the
 * environment; res is the caller's (large: it holds both tails). */
static osp_err agent_exec_drv_run_env(agent_traffic *t, int which, const char *phase,
	const char *to_slot, char *const *extra, agent_run_result *res, char *err, size_t errlen)
{
	agent_exec_drv *x = t->drv;
	int to = strcmp(to_slot, "green") == 0 ? 1 : 0;
	const char *from_slot = to_slot[0] == '\0' ? "" : to == 1 ? "blue" : "green";
	char e_app[96], e_phase[32], e_to[32], e_from[32], e_top[32], e_fromp[32];
	char *envp[8 + AGENT_EXEC_DRV_ENV_EXTRA] = { "PATH=/usr/local/bin:/usr/bin:/bin", e_app,
		e_phase, e_to, e_from, e_top, e_fromp, NULL };
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
	for (size_t i = 0; extra != NULL && extra[i] != NULL && i < AGENT_EXEC_DRV_ENV_EXTRA; i++)
		envp[7 + i] = extra[i]; /* envp[7 + i + 1] stays NULL */
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

static osp_err agent_exec_drv_run(agent_traffic *t, int which, const char *phase,
	const char *to_slot, agent_run_result *res, char *err, size_t errlen)
{
	return agent_exec_drv_run_env(t, which, phase, to_slot, NULL, res, err, errlen);
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
	x->weighted[0] = '\0'; /* the balancer changed: a weight runs its script again */
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

/* agent_exec_drv_weight runs the weight script (phase "weight", OSPEC_WEIGHT
 * and the slots and ports of the canary and the active slot) when the weight
 * differs from the one it last applied in this process: the watch calls
 * weight() every few seconds while a canary is on, and a balancer's API
 * should not be called that often. Without a weight script a canary is
 * refused; weight 0 is then a commit of the active slot. */
static osp_err agent_exec_drv_weight(agent_traffic *t, const char *active_slot,
	const char *canary_slot, unsigned weight, char *err, size_t errlen)
{
	agent_exec_drv *x = t->drv;
	int can = strcmp(canary_slot, "green") == 0 ? 1 : 0;
	char e[5][48], memo[sizeof(x->weighted)];
	char *extra[] = { e[0], e[1], e[2], e[3], e[4], NULL };
	agent_run_result *res = NULL;
	osp_err rv = OSP_OK;

	if (x->script[XS_WEIGHT] == NULL && weight > 0) {
		agent_traffic_seterr(err, errlen, "proxy driver exec has no weight script "
			"(proxy.exec.weight): a canary cannot be weighted (docs/drivers.md)");
		return OSP_ESTATE;
	}
	snprintf(memo, sizeof(memo), "%s %s %u", active_slot, canary_slot, weight);
	snprintf(e[0], sizeof(e[0]), "OSPEC_WEIGHT=%u", weight);
	snprintf(e[1], sizeof(e[1]), "OSPEC_CANARY_SLOT=%s", canary_slot);
	snprintf(e[2], sizeof(e[2]), "OSPEC_ACTIVE_SLOT=%s", active_slot);
	snprintf(e[3], sizeof(e[3]), "OSPEC_CANARY_PORT=%.0u", t->port[can]);
	snprintf(e[4], sizeof(e[4]), "OSPEC_ACTIVE_PORT=%.0u", t->port[1 - can]);
	pthread_mutex_lock(agent_traffic_lock_mutex(x->lock));
	if (x->script[XS_WEIGHT] == NULL) {
		rv = agent_exec_drv_commit_locked(t, active_slot, err, errlen);
	} else if (strcmp(x->weighted, memo) != 0) {
		res = malloc(sizeof(*res));
		rv = res == NULL ? OSP_ENOMEM
				 : agent_exec_drv_run_env(t, XS_WEIGHT, "weight", canary_slot, extra,
					   res, err, errlen);
		if (rv == OSP_ENOMEM)
			agent_traffic_seterr(err, errlen, "out of memory");
		osp_strlcpy(x->weighted, rv == OSP_OK ? memo : "", sizeof(x->weighted));
		if (rv == OSP_OK && weight == 0)
			osp_strlcpy(x->committed, active_slot, sizeof(x->committed));
	}
	pthread_mutex_unlock(agent_traffic_lock_mutex(x->lock));
	free(res);
	return rv;
}

/* agent_exec_drv_num parses "key=N" for key into *v (digits only, at most
 * 18 of them); false for another key or value. */
static bool agent_exec_drv_num(const char *tok, const char *key, uint64_t *v)
{
	size_t k = strlen(key), n;

	if (strncmp(tok, key, k) != 0 || tok[k] != '=')
		return false;
	tok += k + 1;
	n = strspn(tok, "0123456789");
	if (n == 0 || n > 18 || tok[n] != '\0')
		return false;
	*v = strtoull(tok, NULL, 10);
	return true;
}

/* agent_exec_drv_parse_stats reads the stats script's one line
 * "requests=N errors=N [rtime_ms=N] [weight=N] [proxy_start=N]", strictly:
 * single spaces, each key once, requests and errors required, nothing else. */
static bool agent_exec_drv_parse_stats(const char *out, agent_traffic_slot_stats *st)
{
	static const char *const keys[] = { "requests", "errors", "rtime_ms", "weight",
		"proxy_start" };
	char line[256], *p, *sp;
	unsigned seen = 0;
	size_t n = strlen(out);
	uint64_t v[5] = { 0 };

	if (n > 0 && out[n - 1] == '\n')
		n--;
	if (n == 0 || n >= sizeof(line) || memchr(out, '\n', n) != NULL)
		return false;
	memcpy(line, out, n);
	line[n] = '\0';
	for (p = line; p != NULL; p = sp != NULL ? sp + 1 : NULL) {
		size_t k;
		sp = strchr(p, ' ');
		if (sp != NULL)
			*sp = '\0';
		for (k = 0; k < 5 && !agent_exec_drv_num(p, keys[k], &v[k]); k++)
			;
		if (k == 5 || (seen & (1u << k)) != 0)
			return false;
		seen |= 1u << k;
	}
	if ((seen & 3u) != 3u || v[1] > v[0] || v[2] > UINT32_MAX || v[3] > UINT32_MAX ||
		v[4] > INT64_MAX)
		return false;
	st->requests = v[0];
	st->errors = v[1];
	st->has_rtime = (seen & 4u) != 0;
	st->rtime_ms = (uint32_t)v[2];
	st->weight = (uint32_t)v[3];
	st->proxy_start = (int64_t)v[4];
	return true;
}

/* agent_exec_drv_stats runs the stats script (phase "stats", OSPEC_SLOT and
 * OSPEC_PORT of the slot) and parses its output. */
static osp_err agent_exec_drv_stats(agent_traffic *t, const char *slot,
	agent_traffic_slot_stats *st, char *err, size_t errlen)
{
	agent_exec_drv *x = t->drv;
	char e[2][48], text[80];
	char *extra[] = { e[0], e[1], NULL };
	agent_run_result *res;
	osp_err rv;

	if (x->script[XS_STATS] == NULL) {
		agent_traffic_seterr(err, errlen, "proxy driver exec has no stats script "
			"(proxy.exec.stats): no counters for a canary analysis (docs/drivers.md)");
		return OSP_ESTATE;
	}
	snprintf(e[0], sizeof(e[0]), "OSPEC_SLOT=%s", slot);
	snprintf(e[1], sizeof(e[1]), "OSPEC_PORT=%.0u", t->port[strcmp(slot, "green") == 0]);
	if ((res = malloc(sizeof(*res))) == NULL) {
		agent_traffic_seterr(err, errlen, "out of memory");
		return OSP_ENOMEM;
	}
	pthread_mutex_lock(agent_traffic_lock_mutex(x->lock));
	rv = agent_exec_drv_run_env(t, XS_STATS, "stats", slot, extra, res, err, errlen);
	pthread_mutex_unlock(agent_traffic_lock_mutex(x->lock));
	if (rv == OSP_OK && !agent_exec_drv_parse_stats(res->out, st)) {
		agent_exec_drv_text(res->out, text, sizeof(text));
		agent_traffic_seterr(err, errlen,
			"exec driver: stats script '%.200s' printed \"%s\": expected one line "
			"\"requests=N errors=N [rtime_ms=N]\"", x->script[XS_STATS], text);
		rv = OSP_EDECODE;
	}
	free(res);
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
	.weight = agent_exec_drv_weight,
	.stats = agent_exec_drv_stats,
	.close = agent_exec_drv_close,
};
