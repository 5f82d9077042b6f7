/* coord_ctl_nodes.c - control verbs about the inventory: nodes, cordon,
 * uncordon, forget, stats. */
#include <stdio.h>
#include <string.h>

#include "coord_control.h"
#include "coord_secrets.h"

static void coord_json_app(osp_jw *w, const Ospec__V1__AppState *a)
{
	osp_jw_obj_begin(w);
	osp_jw_key(w, "app");
	osp_jw_str(w, a->app);
	osp_jw_key(w, "active_slot");
	osp_jw_str(w, a->active_slot ? a->active_slot : "");
	osp_jw_key(w, "version");
	osp_jw_str(w, a->version ? a->version : "");
	osp_jw_key(w, "idle_version");
	osp_jw_str(w, a->idle_version ? a->idle_version : "");
	osp_jw_key(w, "running");
	osp_jw_bool(w, a->running);
	osp_jw_key(w, "healthy");
	osp_jw_bool(w, a->healthy);
	coord_secrets_json_app(w, a);
	osp_jw_obj_end(w);
}

void coord_json_node(osp_jw *w, const coord_node *n)
{
	char ts[40];

	osp_jw_obj_begin(w);
	osp_jw_key(w, "id");
	osp_jw_str(w, n->id);
	osp_jw_key(w, "labels");
	osp_jw_obj_begin(w);
	for (size_t i = 0; i < n->labels.n; i++) {
		osp_jw_key(w, n->labels.keys[i]);
		osp_jw_str(w, n->labels.vals[i]);
	}
	osp_jw_obj_end(w);
	osp_jw_key(w, "state");
	osp_jw_str(w, n->state == COORD_NODE_UP ? "up" : "down");
	osp_jw_key(w, "cordoned");
	osp_jw_bool(w, n->cordoned);
	osp_jw_key(w, "last_seen");
	osp_time_fmt(n->last_seen_wall, ts, sizeof(ts));
	osp_jw_str(w, ts);
	osp_jw_key(w, "instance_uuid");
	osp_jw_str(w, n->uuid);
	osp_jw_key(w, "hostname");
	osp_jw_str(w, n->hostname);
	osp_jw_key(w, "agent_version");
	osp_jw_str(w, n->agent_version);
	osp_jw_key(w, "protocol"); /* what the agent spoke at its last register */
	snprintf(ts, sizeof(ts), "%d.%u", OSP_PROTO_MAJOR, n->proto_minor);
	osp_jw_str(w, ts);
	osp_jw_key(w, "cursor");
	osp_jw_uint(w, n->acked);
	osp_jw_key(w, "log_end");
	osp_jw_uint(w, n->log_end);
	osp_jw_key(w, "apps");
	osp_jw_arr_begin(w);
	for (size_t i = 0; i < n->n_apps; i++)
		coord_json_app(w, n->apps[i]);
	osp_jw_arr_end(w);
	osp_jw_obj_end(w);
}

int coord_verb_nodes(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen)
{
	osp_labels sel = { 0 };
	const char *s = coord_ctl_arg(rq, "select");
	char shown[160];
	osp_jw w;

	if (s != NULL && s[0] != '\0' && osp_labels_parse_list(&sel, s) != OSP_OK) {
		snprintf(err, errlen, "--select: expected K=V[,K=V...], got '%s'",
			osp_str_show(s, shown, sizeof(shown)));
		osp_labels_fini(&sel);
		return 2;
	}
	osp_jw_init(&w, json);
	osp_jw_arr_begin(&w);
	for (coord_node *n = c->nodes; n != NULL; n = n->next)
		if (osp_labels_match(&n->labels, &sel))
			coord_json_node(&w, n);
	osp_jw_arr_end(&w);
	osp_labels_fini(&sel);
	return osp_jw_err(&w) == OSP_OK ? 0 : 1;
}

/* coord_verb_node_arg finds the node named by the "node" argument. */
static coord_node *coord_verb_node_arg(coord *c, coord_ctl_req *rq, int *status, char *err,
	size_t errlen)
{
	const char *id = coord_ctl_arg(rq, "node");
	char shown[160];
	coord_node *n;

	if (id == NULL || id[0] == '\0') {
		snprintf(err, errlen, "a node id is required");
		*status = 2;
		return NULL;
	}
	if ((n = coord_node_find(c, id)) == NULL) {
		snprintf(err, errlen, "node '%s' is not known", osp_str_show(id, shown, sizeof(shown)));
		*status = 4;
	}
	return n;
}

static void coord_verb_cordon_undo(coord *c, coord_ctl_req *rq)
{
	coord_node *n = coord_node_find(c, coord_ctl_arg(rq, "node"));

	if (n != NULL)
		n->cordoned = !n->cordoned;
}

static int coord_verb_set_cordon(coord *c, coord_ctl_req *rq, osp_buf *json, bool on,
	char *err, size_t errlen)
{
	int status = 0;
	coord_node *n = coord_verb_node_arg(c, rq, &status, err, errlen);
	osp_jw w;

	if (n == NULL)
		return status;
	if (n->cordoned != on) {
		n->cordoned = on;
		rq->on_abort = coord_verb_cordon_undo;
		if (coord_db_save_node(c, rq->txn, n) != OSP_OK ||
			coord_db_event(c, rq->txn, on ? "node.cordoned" : "node.uncordoned", n->id,
				NULL, NULL, rq->actor, "%s", on ? "cordoned" : "uncordoned") !=
				OSP_OK) {
			snprintf(err, errlen, "cannot save node '%s'", n->id);
			n->cordoned = !on;
			rq->on_abort = NULL;
			return 1;
		}
		OSP_INFO(on ? "COORD-NODE-CORDONED" : "COORD-NODE-UNCORDONED",
			"node '%s' %s by %s", n->id, on ? "cordoned" : "uncordoned", rq->actor);
	}
	osp_jw_init(&w, json);
	coord_json_node(&w, n);
	return 0;
}

int coord_verb_cordon(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen)
{
	return coord_verb_set_cordon(c, rq, json, true, err, errlen);
}

int coord_verb_uncordon(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen)
{
	return coord_verb_set_cordon(c, rq, json, false, err, errlen);
}

/* coord_verb_forget_commit drops the node from memory once the store forgot it. */
static void coord_verb_forget_commit(coord *c, coord_ctl_req *rq)
{
	coord_node *n = coord_node_find(c, coord_ctl_arg(rq, "node"));

	if (n != NULL)
		coord_node_remove(c, n);
}

int coord_verb_forget(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen)
{
	int status = 0;
	coord_node *n = coord_verb_node_arg(c, rq, &status, err, errlen);
	osp_jw w;

	if (n == NULL)
		return status;
	if (n->state == COORD_NODE_UP) {
		snprintf(err, errlen,
			"node '%s' is up: stop its agent first (forget is for nodes that are gone)",
			n->id);
		return 1;
	}
	if (coord_db_delete_node(c, rq->txn, n->id) != OSP_OK ||
		coord_db_event(c, rq->txn, "node.forgotten", n->id, NULL, NULL, rq->actor,
			"instance %s forgotten", n->uuid) != OSP_OK) {
		snprintf(err, errlen, "cannot forget node '%s'", n->id);
		return 1;
	}
	rq->after_commit = coord_verb_forget_commit;
	OSP_INFO("COORD-NODE-FORGOTTEN", "node '%s' forgotten by %s", n->id, rq->actor);
	osp_jw_init(&w, json);
	osp_jw_obj_begin(&w);
	osp_jw_key(&w, "id");
	osp_jw_str(&w, n->id);
	osp_jw_key(&w, "forgotten");
	osp_jw_bool(&w, true);
	osp_jw_obj_end(&w);
	return 0;
}

int coord_verb_stats(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen)
{
	osp_jw w;
	size_t up = 0, total = 0;

	(void)rq;
	(void)err;
	(void)errlen;
	for (coord_node *n = c->nodes; n != NULL; n = n->next) {
		total++;
		up += n->state == COORD_NODE_UP;
	}
	osp_jw_init(&w, json);
	osp_jw_obj_begin(&w);
	osp_jw_key(&w, "nodes");
	osp_jw_uint(&w, total);
	osp_jw_key(&w, "nodes_up");
	osp_jw_uint(&w, up);
	osp_jw_key(&w, "requests");
	osp_jw_uint(&w, c->stats.requests);
	osp_jw_key(&w, "decode_errors");
	osp_jw_uint(&w, c->stats.decode_errors);
	osp_jw_key(&w, "version_errors");
	osp_jw_uint(&w, c->stats.version_errors);
	osp_jw_key(&w, "too_big");
	osp_jw_uint(&w, c->stats.too_big);
	osp_jw_key(&w, "not_registered");
	osp_jw_uint(&w, c->stats.not_registered);
	osp_jw_key(&w, "refused");
	osp_jw_uint(&w, c->stats.refused);
	osp_jw_key(&w, "replays");
	osp_jw_uint(&w, c->stats.replays);
	osp_jw_key(&w, "conn_limit");
	osp_jw_uint(&w, c->stats.conn_limit);
	osp_jw_key(&w, "conn_stuck");
	osp_jw_uint(&w, c->stats.conn_stuck);
	osp_jw_key(&w, "conn_deadline");
	osp_jw_uint(&w, c->stats.conn_deadline);
	osp_jw_key(&w, "conn_idle");
	osp_jw_uint(&w, c->stats.conn_idle);
	osp_jw_key(&w, "dropped");
	osp_jw_uint(&w, c->stats.dropped);
	osp_jw_key(&w, "ctl_relistens");
	osp_jw_uint(&w, atomic_load(&c->ctl_relistens));
	osp_jw_key(&w, "contexts");
	osp_jw_uint(&w, c->nctx);
	osp_jw_key(&w, "held_polls");
	osp_jw_uint(&w, c->nheld);
	osp_jw_key(&w, "log_reads_waiting"); /* ospecctl logs (coord_logs.c) */
	osp_jw_uint(&w, coord_logs_count(c));
	osp_jw_obj_end(&w);
	return 0;
}
