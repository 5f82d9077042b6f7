/* coord_secrets.c - required env names against the nodes' inventory
 * (coord_secrets.h). Only names are handled here: values never reach the
 * coordinator. */
#include "coord_secrets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_active.h"
#include "ospec/checks.h"

bool coord_secrets_missing(coord *c, const char *node, const char *app, char *const *names,
	size_t n, char *missing, size_t len)
{
	const coord_node *nd = coord_node_find(c, node);
	const Ospec__V1__AppState *a = NULL;

	for (size_t i = 0; nd != NULL && i < nd->n_apps && a == NULL; i++)
		if (nd->apps[i]->app != NULL && strcmp(nd->apps[i]->app, app) == 0)
			a = nd->apps[i];
	if (osp_checks_env_missing(a != NULL ? a->env_names : NULL, a != NULL ? a->n_env_names : 0,
		    names, n, missing, len) == 0)
		return false;
	/* a cut list proves nothing missing: the agent's check decides */
	return a == NULL || !a->env_names_cut;
}

/* coord_secrets_put appends text to err at *off; false (nothing written)
 * when it would not fit with room for the end (reserve bytes). */
static bool coord_secrets_put(char *err, size_t errlen, size_t *off, size_t reserve,
	const char *text)
{
	size_t l = strlen(text);

	if (*off + l + reserve >= errlen)
		return false;
	memcpy(err + *off, text, l + 1);
	*off += l;
	return true;
}

osp_err coord_secrets_check(coord *c, const char *app, char *const *names, size_t n,
	const char *const *nodes, size_t nnodes, char *err, size_t errlen)
{
	char missing[512], one[700], end[160];
	size_t off = 0, shown = 0, more = 0;

	if (errlen == 0)
		return OSP_EINVAL;
	err[0] = '\0';
	if (n == 0)
		return OSP_OK;
	snprintf(end, sizeof(end), " (app %s's env_file)", app);
	/* room is kept for the end and an "and N more nodes" */
	coord_secrets_put(err, errlen, &off, 0, "required secrets missing: ");
	for (size_t i = 0; i < nnodes; i++) {
		if (!coord_secrets_missing(c, nodes[i], app, names, n, missing, sizeof(missing)))
			continue;
		snprintf(one, sizeof(one), "%s%s lacks %s", shown > 0 ? "; " : "", nodes[i],
			missing);
		if (more == 0 && coord_secrets_put(err, errlen, &off, strlen(end) + 32, one))
			shown++;
		else
			more++;
	}
	if (shown == 0 && more == 0) {
		err[0] = '\0';
		return OSP_OK;
	}
	if (more > 0) {
		snprintf(one, sizeof(one), "%s%zu %snode%s", shown > 0 ? "; and " : "", more,
			shown > 0 ? "more " : "", more == 1 ? "" : "s");
		coord_secrets_put(err, errlen, &off, 0, one);
	}
	coord_secrets_put(err, errlen, &off, 0, end);
	return OSP_EREFUSED;
}

osp_err coord_secrets_check_rollout(coord *c, const struct coord_ro_entry *e, char *err,
	size_t errlen)
{
	const char **nodes;
	size_t n = 0;
	osp_err rv;

	if (e->rec->n_require_env == 0)
		return OSP_OK;
	if ((nodes = calloc(e->ro.nsteps + 1, sizeof(*nodes))) == NULL)
		return OSP_ENOMEM;
	for (size_t i = 0; i < e->ro.nsteps; i++)
		if (e->ro.steps[i].state != COORD_STEP_SKIPPED)
			nodes[n++] = e->ro.steps[i].node;
	rv = coord_secrets_check(c, e->rec->app, e->rec->require_env, e->rec->n_require_env,
		nodes, n, err, errlen);
	free(nodes);
	return rv;
}

void coord_secrets_stage(const Ospec__V1__RolloutRecord *r, Ospec__V1__Stage *s)
{
	s->n_require_env = r->n_require_env;
	s->require_env = r->require_env;
	s->n_smoke = r->n_smoke;
	s->smoke = r->smoke;
}

/* coord_secrets_json_names writes "key": [names]. */
static void coord_secrets_json_names(osp_jw *w, const char *key, char *const *v, size_t n)
{
	osp_jw_key(w, key);
	osp_jw_arr_begin(w);
	for (size_t i = 0; i < n; i++)
		osp_jw_str(w, v[i]);
	osp_jw_arr_end(w);
}

void coord_secrets_json_app(osp_jw *w, const Ospec__V1__AppState *a)
{
	coord_secrets_json_names(w, "env_names", a->env_names, a->n_env_names);
	osp_jw_key(w, "env_names_cut");
	osp_jw_bool(w, a->env_names_cut);
}

void coord_secrets_json_rollout(osp_jw *w, const Ospec__V1__RolloutRecord *r)
{
	coord_secrets_json_names(w, "require_env", r->require_env, r->n_require_env);
	osp_jw_key(w, "smoke");
	osp_jw_arr_begin(w);
	for (size_t i = 0; i < r->n_smoke; i++) {
		osp_jw_obj_begin(w);
		osp_jw_key(w, "method");
		osp_jw_str(w, r->smoke[i]->method);
		osp_jw_key(w, "path");
		osp_jw_str(w, r->smoke[i]->path);
		osp_jw_key(w, "status");
		osp_jw_uint(w, r->smoke[i]->status);
		osp_jw_obj_end(w);
	}
	osp_jw_arr_end(w);
}
