/* coord_db.c - the coordinator's records in LMDB: nodes, command logs, events. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord.h"
#include "coord_backup.h"
#include "coord_leader.h"

static const char *const coord_db_names[] = {
	"nodes", "cmdlog", "events", "requests", "rollouts", "switches",
	"releases", /* (app, version) <-> sha256: one version names one release */
	"plans",    /* OSpec plans: stages run as rollouts (coord_plans.c) */
	"outbox",   /* webhook deliveries not made yet (coord_webhooks_outbox.c) */
	"steps",    /* a rollout's steps, one record each (coord_record_steps.c) */
};

osp_err coord_db_open(coord *c, char *err, size_t errlen)
{
	osp_store_opts o = {
		.dir = c->cfg.data,
		.map_size = c->cfg.map_size,
		.dbs = coord_db_names,
		.ndbs = sizeof(coord_db_names) / sizeof(coord_db_names[0]),
		.schema = COORD_SCHEMA,
		.init = c->cfg.init,
	};
	osp_err rv;

	o.migrations = coord_backup_migrations(&o.nmigrations); /* coord_backup.c */
	if (c->leader != NULL) { /* the shared etcd store, fenced by our leadership */
		o.backend = OSP_STORE_ETCD;
		o.etcd_endpoints = c->etcd_endpoints;
		o.etcd_prefix = c->etcd_prefix;
		o.etcd_fence_key = coord_leader_key(c->leader);
		o.etcd_fence_rev = coord_leader_rev(c->leader);
		o.etcd_fenced = coord_leader_lost;
		o.etcd_fenced_arg = c->leader;
	}
	if ((rv = osp_store_open(&o, &c->store, err, errlen)) != OSP_OK)
		return rv;
	c->event_seq = 0; /* found at the first event write */
	return OSP_OK;
}

osp_err coord_db_commit(coord *c, osp_txn *t, const char *what)
{
	osp_err rv = osp_store_txn_commit(t);

	(void)c;
	if (rv == OSP_EMAPFULL)
		OSP_ERROR("COORD-STORE-FULL",
			"store is full while saving %s: raise map_size and restart", what);
	else if (rv != OSP_OK)
		OSP_ERROR("COORD-STORE-FAIL", "cannot save %s: %s", what, osp_strerror(rv));
	return rv;
}

static void coord_db_rec_from_node(const coord_node *n, Ospec__V1__NodeRecord *r,
	Ospec__V1__Label *lbl, Ospec__V1__Label **lblp)
{
	ospec__v1__node_record__init(r);
	r->id = (char *)n->id;
	r->instance_uuid = (char *)n->uuid;
	for (size_t i = 0; i < n->labels.n; i++) {
		ospec__v1__label__init(&lbl[i]);
		lbl[i].key = n->labels.keys[i];
		lbl[i].value = n->labels.vals[i];
		lblp[i] = &lbl[i];
	}
	r->n_labels = n->labels.n;
	r->labels = lblp;
	r->has_cordoned = 1;
	r->cordoned = n->cordoned;
	r->has_first_seen_ms = 1;
	r->first_seen_ms = n->first_seen_ms;
	r->has_last_seen_ms = 1;
	r->last_seen_ms = n->last_seen_wall;
	r->hostname = (char *)n->hostname;
	r->agent_version = (char *)n->agent_version;
	r->has_proto_minor = 1;
	r->proto_minor = n->proto_minor;
	r->n_apps = n->n_apps;
	r->apps = n->apps;
	r->has_log_end = 1;
	r->log_end = n->log_end;
	r->has_acked = 1;
	r->acked = n->acked;
}

osp_err coord_db_save_node(coord *c, osp_txn *t, const coord_node *n)
{
	Ospec__V1__NodeRecord r;
	Ospec__V1__Label lbl[OSP_LABELS_MAX];
	Ospec__V1__Label *lblp[OSP_LABELS_MAX];
	uint8_t *buf;
	size_t len;
	osp_err rv;

	(void)c;
	coord_db_rec_from_node(n, &r, lbl, lblp);
	len = ospec__v1__node_record__get_packed_size(&r);
	if ((buf = malloc(len ? len : 1)) == NULL)
		return OSP_ENOMEM;
	ospec__v1__node_record__pack(&r, buf);
	rv = osp_store_put(t, "nodes", n->id, strlen(n->id), buf, len);
	free(buf);
	return rv;
}

osp_err coord_db_delete_node(coord *c, osp_txn *t, const char *id)
{
	uint8_t prefix[OSP_WIRE_MAX_ID + 2];
	size_t idl = strlen(id);
	osp_err rv;

	(void)c;
	if (idl > OSP_WIRE_MAX_ID)
		return OSP_EINVAL; /* no valid id is longer; the key buffer is not */
	memcpy(prefix, id, idl);
	prefix[idl] = '\0';
	if ((rv = osp_store_del(t, "nodes", id, idl)) != OSP_OK && rv != OSP_ENOENT)
		return rv;
	return osp_store_del_prefix(t, "cmdlog", prefix, idl + 1, NULL);
}

/* coord_db_load_node_cb restores one NodeRecord into the registry (down). */
static int coord_db_load_node_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	coord *c = arg;
	Ospec__V1__NodeRecord *r;
	coord_node *n;

	(void)k;
	(void)kl;
	r = ospec__v1__node_record__unpack(NULL, vl, v);
	if (r == NULL) {
		OSP_ERROR("COORD-STORE-CORRUPT", "undecodable node record skipped");
		return 0;
	}
	if (!osp_valid_id(r->id) || (n = coord_node_add(c, r->id, r->instance_uuid)) == NULL) {
		ospec__v1__node_record__free_unpacked(r, NULL);
		return 0;
	}
	for (size_t i = 0; i < r->n_labels; i++)
		osp_labels_set(&n->labels, r->labels[i]->key, r->labels[i]->value);
	n->cordoned = r->cordoned;
	n->first_seen_ms = r->first_seen_ms;
	n->last_seen_wall = r->last_seen_ms;
	osp_strlcpy(n->hostname, r->hostname ? r->hostname : "", sizeof(n->hostname));
	osp_strlcpy(n->agent_version, r->agent_version ? r->agent_version : "",
		sizeof(n->agent_version));
	n->log_end = r->log_end;
	n->acked = r->acked;
	n->proto_minor = r->proto_minor;
	coord_node_set_apps(n, r->apps, r->n_apps);
	ospec__v1__node_record__free_unpacked(r, NULL);
	return 0;
}

osp_err coord_db_load_nodes(coord *c)
{
	osp_txn *t = NULL;
	osp_err rv;

	if ((rv = osp_store_txn_begin(c->store, false, &t)) != OSP_OK)
		return rv;
	rv = osp_store_foreach(t, "nodes", NULL, 0, false, coord_db_load_node_cb, c);
	osp_store_txn_abort(t);
	return rv;
}

/* coord_db_last_event_cb remembers the first (highest) key of a reverse scan. */
static int coord_db_last_event_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	(void)v;
	(void)vl;
	if (kl == 8)
		*(uint64_t *)arg = osp_be64_get(k);
	return 1;
}

osp_err coord_db_event(coord *c, osp_txn *t, const char *kind, const char *node,
	const char *rollout, const char *app, const char *actor, const char *fmt, ...)
{
	Ospec__V1__EventRecord e;
	char msg[OSP_WIRE_MAX_TEXT];
	uint8_t key[8], *buf;
	size_t len;
	va_list ap;
	osp_err rv;

	if (c->event_seq == 0)
		osp_store_foreach(t, "events", NULL, 0, true, coord_db_last_event_cb,
			&c->event_seq);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ospec__v1__event_record__init(&e);
	e.ts_ms = osp_now_wall_ms();
	e.kind = (char *)kind;
	e.node = (char *)node;
	e.rollout = (char *)rollout;
	e.app = (char *)app;
	e.actor = (char *)actor;
	e.message = msg;
	len = ospec__v1__event_record__get_packed_size(&e);
	if ((buf = malloc(len)) == NULL)
		return OSP_ENOMEM;
	ospec__v1__event_record__pack(&e, buf);
	osp_be64_put(key, c->event_seq + 1);
	rv = osp_store_put(t, "events", key, 8, buf, len);
	free(buf);
	if (rv == OSP_OK)
		c->event_seq++;
	return rv;
}

static bool coord_db_prefix(const char *s, const char *prefix)
{
	return s != NULL && strncmp(s, prefix, strlen(prefix)) == 0;
}

bool coord_db_event_is_noise(const char *kind, const char *rollout, const char *actor)
{
	if (rollout != NULL && rollout[0] != '\0')
		return false;
	if (actor != NULL && actor[0] != '\0' && strcmp(actor, "coordinator") != 0 &&
		strcmp(actor, "node") != 0)
		return false; /* an operator's: "uid:1000", "cert:alice" */
	return coord_db_prefix(kind, "node.") || coord_db_prefix(kind, "agent.");
}

/* Keys to delete, oldest first: node noise, and the rest in case the noise
 * alone is not enough. */
struct coord_db_trim {
	uint8_t (*noise)[8], (*other)[8];
	size_t nnoise, nother, want;
};

static int coord_db_trim_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	struct coord_db_trim *tr = arg;
	Ospec__V1__EventRecord *r;
	bool noise;

	if (kl != 8)
		return 0;
	/* an undecodable record is worth nothing: it goes first */
	r = ospec__v1__event_record__unpack(NULL, vl, v);
	noise = r == NULL || coord_db_event_is_noise(r->kind, r->rollout, r->actor);
	if (r != NULL)
		ospec__v1__event_record__free_unpacked(r, NULL);
	if (noise)
		memcpy(tr->noise[tr->nnoise++], k, 8);
	else if (tr->nother < tr->want)
		memcpy(tr->other[tr->nother++], k, 8);
	return tr->nnoise >= tr->want ? 1 : 0;
}

osp_err coord_db_trim_events(coord *c, osp_txn *t)
{
	uint64_t keep = c->cfg.event_retention ? c->cfg.event_retention : 100000, count = 0;
	struct coord_db_trim tr = { 0 };
	osp_err rv;

	/* counted, not derived from the keys: an aborted transaction leaves a
	 * gap in them */
	if ((rv = osp_store_count(t, "events", &count)) != OSP_OK || count <= keep)
		return rv;
	tr.want = count - keep > COORD_DB_TRIM_MAX ? COORD_DB_TRIM_MAX : count - keep;
	tr.noise = calloc(tr.want, sizeof(*tr.noise));
	tr.other = calloc(tr.want, sizeof(*tr.other));
	if (tr.noise == NULL || tr.other == NULL) {
		rv = OSP_ENOMEM;
		goto out;
	}
	/* node noise (liveness, an agent's own events) goes before anything a
	 * rollout or an operator did, however old: a flapping or hostile node
	 * cannot push the audit history out */
	rv = osp_store_foreach(t, "events", NULL, 0, false, coord_db_trim_cb, &tr);
	for (size_t i = 0; i < tr.nnoise && rv == OSP_OK; i++)
		rv = osp_store_del(t, "events", tr.noise[i], 8);
	for (size_t i = 0; i < tr.want - tr.nnoise && i < tr.nother && rv == OSP_OK; i++)
		rv = osp_store_del(t, "events", tr.other[i], 8);
out:
	free(tr.noise);
	free(tr.other);
	return rv;
}

static size_t coord_db_cmd_key(uint8_t *key, const char *node, uint64_t seq)
{
	size_t l = strlen(node);

	memcpy(key, node, l);
	key[l] = '\0';
	osp_be64_put(key + l + 1, seq);
	return l + 9;
}

osp_err coord_db_cmd_append(coord *c, osp_txn *t, coord_node *n, Ospec__V1__Command *cmd)
{
	uint8_t key[OSP_WIRE_MAX_ID + 10], *buf;
	size_t kl, len;
	osp_err rv;

	(void)c;
	cmd->seq = n->log_end + 1;
	/* its place in the node's log orders the app's commands on the agent */
	cmd->has_generation = 1;
	cmd->generation = cmd->seq;
	kl = coord_db_cmd_key(key, n->id, cmd->seq);
	len = ospec__v1__command__get_packed_size(cmd);
	if ((buf = malloc(len)) == NULL)
		return OSP_ENOMEM;
	ospec__v1__command__pack(cmd, buf);
	rv = osp_store_put(t, "cmdlog", key, kl, buf, len);
	free(buf);
	if (rv == OSP_OK) {
		n->log_end = cmd->seq; /* the caller commits, or reloads on failure */
		n->kick = true;        /* its held polls are answered after the commit */
	}
	return rv;
}

struct coord_db_cmd_read {
	Ospec__V1__Command **cmds;
	size_t n, max;
	uint64_t after;
};

static int coord_db_cmd_read_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	struct coord_db_cmd_read *r = arg;
	Ospec__V1__Command *cmd;

	if (kl < 9 || osp_be64_get((const uint8_t *)k + kl - 8) <= r->after)
		return 0;
	if (r->n >= r->max)
		return 1;
	cmd = ospec__v1__command__unpack(NULL, vl, v);
	if (cmd == NULL)
		return -1;
	r->cmds[r->n++] = cmd;
	return 0;
}

osp_err coord_db_cmd_read(coord *c, osp_txn *t, const char *node, uint64_t after,
	uint32_t max, Ospec__V1__Command ***out, size_t *n)
{
	struct coord_db_cmd_read r = { .after = after, .max = max ? max : 64 };
	uint8_t key[OSP_WIRE_MAX_ID + 10];
	size_t idl = strlen(node);
	osp_err rv;

	(void)c;
	if (idl > OSP_WIRE_MAX_ID)
		return OSP_EINVAL; /* no valid id is longer; the key buffer is not */
	if (r.max > OSP_WIRE_MAX_CMDS)
		r.max = OSP_WIRE_MAX_CMDS;
	if ((r.cmds = calloc(r.max, sizeof(*r.cmds))) == NULL)
		return OSP_ENOMEM;
	/* seek straight to the first sequence after the cursor */
	coord_db_cmd_key(key, node, after + 1);
	rv = osp_store_foreach_from(t, "cmdlog", key, idl + 1, key, idl + 9,
		coord_db_cmd_read_cb, &r);
	if (rv != OSP_OK) {
		coord_db_cmds_free(r.cmds, r.n);
		return rv;
	}
	*out = r.cmds;
	*n = r.n;
	return OSP_OK;
}

void coord_db_cmds_free(Ospec__V1__Command **cmds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ospec__v1__command__free_unpacked(cmds[i], NULL);
	free(cmds);
}

osp_err coord_db_cmd_put(coord *c, osp_txn *t, const char *node, Ospec__V1__Command *cmd)
{
	uint8_t key[OSP_WIRE_MAX_ID + 10], *buf;
	size_t kl, len;
	osp_err rv;

	(void)c;
	kl = coord_db_cmd_key(key, node, cmd->seq);
	len = ospec__v1__command__get_packed_size(cmd);
	if ((buf = malloc(len)) == NULL)
		return OSP_ENOMEM;
	ospec__v1__command__pack(cmd, buf);
	rv = osp_store_put(t, "cmdlog", key, kl, buf, len);
	free(buf);
	return rv;
}

/* coord_db_last_seq_cb takes the sequence of the first key of a reverse scan. */
static int coord_db_last_seq_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	(void)v;
	(void)vl;
	if (kl >= 9)
		*(uint64_t *)arg = osp_be64_get((const uint8_t *)k + kl - 8);
	return 1;
}

void coord_db_reload_log_ends(coord *c)
{
	coord_db_log_ends(c, false);
}

void coord_db_log_ends(coord *c, bool at_start)
{
	osp_txn *t = NULL;

	if (osp_store_txn_begin(c->store, false, &t) != OSP_OK)
		return;
	for (coord_node *n = c->nodes; n != NULL; n = n->next) {
		uint8_t prefix[OSP_WIRE_MAX_ID + 2];
		size_t l = strlen(n->id);
		uint64_t last = 0;

		memcpy(prefix, n->id, l);
		prefix[l] = '\0';
		osp_store_foreach(t, "cmdlog", prefix, l + 1, true, coord_db_last_seq_cb, &last);
		/* an agent's cursor past the last entry counts (coord_reg_facts in
		 * coord_register.c); at start the record's log end (saved with such
		 * a cursor) too */
		if (at_start)
			n->log_end = last > n->log_end ? last : n->log_end;
		else
			n->log_end = last > n->acked ? last : n->acked;
	}
	osp_store_txn_abort(t);
}

struct coord_db_old_requests {
	int64_t before;
	char (*keys)[128];
	size_t n, cap;
};

static int coord_db_old_request_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	struct coord_db_old_requests *o = arg;
	Ospec__V1__RequestRecord *r = ospec__v1__request_record__unpack(NULL, vl, v);
	bool old = r == NULL || r->ts_ms < o->before;

	if (r != NULL)
		ospec__v1__request_record__free_unpacked(r, NULL);
	if (!old || kl >= sizeof(o->keys[0]))
		return 0;
	memcpy(o->keys[o->n], k, kl);
	o->keys[o->n][kl] = '\0';
	return ++o->n >= o->cap ? 1 : 0;
}

osp_err coord_db_trim_requests(coord *c, osp_txn *t, int64_t before_ms)
{
	struct coord_db_old_requests o = { .before = before_ms, .cap = 4096 };
	osp_err rv;

	(void)c;
	if ((o.keys = calloc(o.cap, sizeof(*o.keys))) == NULL)
		return OSP_ENOMEM;
	rv = osp_store_foreach(t, "requests", NULL, 0, false, coord_db_old_request_cb, &o);
	for (size_t i = 0; i < o.n && rv == OSP_OK; i++) {
		rv = osp_store_del(t, "requests", o.keys[i], strlen(o.keys[i]));
		if (rv == OSP_ENOENT)
			rv = OSP_OK;
	}
	free(o.keys);
	return rv;
}
