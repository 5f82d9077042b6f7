/* soak_check.c - the soak's assertions (soak.h): a round's outcome against
 * its release kind, and the fleet's convergence after it. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ospec/json.h"
#include "ospec/util.h"
#include "soak.h"

/* What one node shows for one app. Strings are "" when absent. */
typedef struct soak_node_view {
	char up[16];                     /* nodes --json state */
	char served[SOAK_VER_LEN];       /* GET / on the app's port, or haproxy's frontend */
	char inv[SOAK_VER_LEN];          /* nodes --json apps[].version */
	char slot[16];                   /* nodes --json apps[].active_slot */
	char slot_served[SOAK_VER_LEN];  /* blue-green: GET / on the active slot's port */
	char status_ver[SOAK_VER_LEN];   /* status --json R: nodes[].version */
	char step[24];                   /* status --json R: nodes[].step */
	bool in_status;
} soak_node_view;

typedef struct soak_view {
	soak_node_view n[SOAK_APPS][SOAK_NODES];
	bool have_status;
} soak_view;

void soak_fail(soak *s, soak_round *r, const char *fmt, ...)
{
	char msg[1024];
	size_t used = strlen(r->why);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	printf("soak: FAIL round %d (seed %llu): %s\n", r->n, (unsigned long long)s->o.seed, msg);
	fflush(stdout);
	r->ok = false;
	if (used == 0)
		osp_strlcpy(r->why, msg, sizeof(r->why));
	else if (used + 3 < sizeof(r->why))
		snprintf(r->why + used, sizeof(r->why) - used, "; %s", msg);
}

static bool soak_terminal(const char *state)
{
	static const char *const t[] = { "succeeded", "failed", "aborted", "rolled_back", NULL };

	for (size_t i = 0; state != NULL && t[i] != NULL; i++)
		if (strcmp(state, t[i]) == 0)
			return true;
	return false;
}

/* soak_outcome_judge compares a terminal state with the release kind and the
 * exit code of deploy --wait (0 only for succeeded, 1 otherwise). */
static void soak_outcome_judge(soak *s, soak_round *r, const char *reason)
{
	bool won = strcmp(r->state, "succeeded") == 0;

	if (r->kind == SOAK_HEALTHY && !won)
		soak_fail(s, r, "%s %s: a healthy release ended '%s': %s", soak_app_names[r->app],
			r->version, r->state, reason ? reason : "(no reason)");
	if (r->kind != SOAK_HEALTHY && won)
		soak_fail(s, r, "%s %s: a %s release ended 'succeeded'", soak_app_names[r->app],
			r->version, soak_kind_names[r->kind]);
	if (r->exit_code != (won ? 0 : 1))
		soak_fail(s, r, "deploy --wait exited %d but rollout %s is '%s' (want exit %d)",
			r->exit_code, r->id, r->state, won ? 0 : 1);
}

bool soak_outcome(soak *s, soak_round *r)
{
	int64_t end = osp_now_mono_ms() + h_ms(120000);
	osp_json *st = NULL;
	const char *state = NULL;
	bool was_ok = r->ok;

	if (r->id[0] == '\0') {
		osp_strlcpy(r->state, "-", sizeof(r->state));
		soak_fail(s, r, "deploy printed no rollout id (exit %d)", r->exit_code);
		return false;
	}
	for (;;) {
		st = h_status(s->e, r->id);
		state = st != NULL ? osp_json_get_str(st, "state") : NULL;
		if (soak_terminal(state) || osp_now_mono_ms() >= end)
			break;
		osp_json_free(st);
		st = NULL;
		osp_sleep_ms(500);
	}
	osp_strlcpy(r->state, state != NULL ? state : "?", sizeof(r->state));
	if (!soak_terminal(state))
		soak_fail(s, r, "rollout %s is still '%s' 120 s after deploy --wait returned %d",
			r->id, r->state, r->exit_code);
	else
		soak_outcome_judge(s, r, osp_json_get_str(st, "reason"));
	osp_json_free(st);
	return was_ok && r->ok;
}

static const osp_json *soak_find(const osp_json *arr, const char *key, const char *val)
{
	for (size_t i = 0; arr != NULL && i < arr->n; i++) {
		const char *v = osp_json_get_str(arr->items[i], key);
		if (v != NULL && strcmp(v, val) == 0)
			return arr->items[i];
	}
	return NULL;
}

static void soak_copy(char *dst, size_t len, const char *src)
{
	osp_strlcpy(dst, src != NULL ? src : "", len);
}

/* soak_observe_inventory fills what `nodes --json` says and what the apps
 * answer on their ports. */
static void soak_observe_inventory(soak *s, soak_view *v)
{
	osp_json *nodes = h_ctl_json(s->e, NULL, "nodes", NULL);

	for (int i = 0; i < SOAK_NODES; i++) {
		const osp_json *node = h_node(nodes, soak_ids[i]);
		for (int a = 0; a < SOAK_APPS; a++) {
			soak_node_view *nv = &v->n[a][i];
			const osp_json *app = soak_find(osp_json_get(node, "apps"), "app",
				soak_app_names[a]);
			int port = 0;

			soak_copy(nv->up, sizeof(nv->up), osp_json_get_str(node, "state"));
			soak_copy(nv->inv, sizeof(nv->inv), osp_json_get_str(app, "version"));
			soak_copy(nv->slot, sizeof(nv->slot), osp_json_get_str(app, "active_slot"));
			if (a == SOAK_ROLLING) {
				h_app_answer(s->port[i], nv->served, sizeof(nv->served));
				continue;
			}
			if (s->version[a] == 0)
				continue; /* never deployed: haproxy would only time out */
			h_app_answer(s->front[i], nv->served, sizeof(nv->served));
			if (strcmp(nv->slot, "blue") == 0)
				port = s->blue[i];
			else if (strcmp(nv->slot, "green") == 0)
				port = s->green[i];
			if (port > 0)
				h_app_answer(port, nv->slot_served, sizeof(nv->slot_served));
		}
	}
	osp_json_free(nodes);
}

/* soak_observe_status fills each node's step and version from status --json
 * of the round's rollout. */
static void soak_observe_status(soak *s, soak_round *r, soak_view *v)
{
	osp_json *st;
	const osp_json *steps;

	if (r->id[0] == '\0')
		return;
	st = h_status(s->e, r->id);
	steps = osp_json_get(st, "nodes");
	v->have_status = steps != NULL;
	for (int i = 0; i < SOAK_NODES; i++) {
		soak_node_view *nv = &v->n[r->app][i];
		const osp_json *step = soak_find(steps, "node", soak_ids[i]);

		nv->in_status = step != NULL;
		soak_copy(nv->status_ver, sizeof(nv->status_ver), osp_json_get_str(step, "version"));
		soak_copy(nv->step, sizeof(nv->step), osp_json_get_str(step, "step"));
	}
	osp_json_free(st);
}

/* soak_expect returns the version node i must serve for app a after round
 * r: the new one if the rollout succeeded, or (rolling only) if the node's
 * step is done (a rolling deploy failing in a later batch keeps the earlier
 * batches, docs/rollouts.md); what it served before otherwise. */
static const char *soak_expect(const soak *s, const soak_round *r, const soak_view *v, int a,
	int i, const char **why)
{
	if (a != (int)r->app) {
		*why = "not deployed this round";
		return s->served[a][i];
	}
	if (strcmp(r->state, "succeeded") == 0) {
		*why = "rollout succeeded";
		return r->version;
	}
	if (a == SOAK_ROLLING && v->have_status && strcmp(v->n[a][i].step, "done") == 0) {
		*why = "rollout did not succeed, node's step done";
		return r->version;
	}
	*why = "rollout did not succeed";
	return s->served[a][i];
}

/* soak_appendf appends to the NUL-terminated buf (len bytes), truncating. */
static void soak_appendf(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void soak_appendf(char *buf, size_t len, const char *fmt, ...)
{
	size_t used = strlen(buf);
	va_list ap;

	if (used + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}

/* soak_node_ok checks node i for app a; when it disagrees, msg says how. */
static bool soak_node_ok(const soak *s, const soak_round *r, const soak_view *v, int a, int i,
	char *msg, size_t len)
{
	const soak_node_view *nv = &v->n[a][i];
	const char *why, *want = soak_expect(s, r, v, a, i, &why);
	bool status = a == (int)r->app && v->have_status;
	bool ok = strcmp(nv->up, "up") == 0 && strcmp(nv->served, want) == 0 &&
		strcmp(nv->inv, want) == 0;

	if (status)
		ok = ok && nv->in_status && strcmp(nv->status_ver, want) == 0;
	if (a == SOAK_BLUE_GREEN)
		ok = ok && strcmp(nv->slot_served, want) == 0;
	if (ok)
		return true;
	msg[0] = '\0';
	soak_appendf(msg, len, "node %s app %s: expected '%s' (%s); %s '%s', nodes --json '%s' (node %s)",
		soak_ids[i], soak_app_names[a], want, why,
		a == SOAK_BLUE_GREEN ? "haproxy serves" : "serves", nv->served, nv->inv,
		nv->up[0] != '\0' ? nv->up : "missing");
	if (status)
		soak_appendf(msg, len, ", status --json '%s' (step %s)", nv->status_ver,
			nv->in_status ? nv->step : "missing");
	else if (a == (int)r->app)
		soak_appendf(msg, len, ", no status --json");
	if (a == SOAK_BLUE_GREEN)
		soak_appendf(msg, len, ", active slot '%s' serves '%s'", nv->slot, nv->slot_served);
	return false;
}

/* soak_count_bad counts the (app, node) pairs that disagree; the first one's
 * message goes to first (len bytes) if first is still empty. */
static int soak_count_bad(const soak *s, const soak_round *r, const soak_view *v, char *first,
	size_t len)
{
	char msg[768];
	int bad = 0;

	for (int a = 0; a < SOAK_APPS; a++) {
		for (int i = 0; i < SOAK_NODES; i++) {
			if (soak_node_ok(s, r, v, a, i, msg, sizeof(msg)))
				continue;
			if (bad++ == 0 && first[0] == '\0')
				osp_strlcpy(first, msg, len);
		}
	}
	return bad;
}

bool soak_converge(soak *s, soak_round *r)
{
	int64_t start = osp_now_mono_ms(), end = start + h_ms(s->o.converge_ms);
	soak_view *v = calloc(1, sizeof(*v));
	char msg[768], first[768] = "";
	int bad, secs;

	if (v == NULL) {
		soak_fail(s, r, "out of memory");
		return false;
	}
	for (;;) {
		memset(v, 0, sizeof(*v));
		soak_observe_inventory(s, v);
		soak_observe_status(s, r, v);
		bad = soak_count_bad(s, r, v, first, sizeof(first));
		if (bad == 0 || osp_now_mono_ms() >= end)
			break;
		osp_sleep_ms(500);
	}
	secs = (int)((osp_now_mono_ms() - start) / 1000);
	for (int a = 0; a < SOAK_APPS && bad > 0; a++)
		for (int i = 0; i < SOAK_NODES; i++)
			if (!soak_node_ok(s, r, v, a, i, msg, sizeof(msg)))
				soak_fail(s, r, "not converged after %d s: %s", secs, msg);
	if (bad == 0 && first[0] != '\0' && secs >= 5) /* converged, but slowly: what lagged */
		printf("soak: note: round %d converged only after %d s; first seen: %s\n", r->n,
			secs, first);
	/* the next round's "before" is what the fleet really served */
	for (int a = 0; a < SOAK_APPS; a++)
		for (int i = 0; i < SOAK_NODES; i++)
			osp_strlcpy(s->served[a][i], v->n[a][i].served, SOAK_VER_LEN);
	free(v);
	return bad == 0;
}
