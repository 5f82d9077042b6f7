/*
 * coord_logs.c - `ospecctl logs NODE APP` (protocol 1.4). The agent only
 * ever talks to the coordinator by its own requests, so a log read waits in
 * memory (coord.logs) for the node's next poll or heartbeat: a held poll is
 * answered at once with it (Commands.logs), a heartbeat reply carries it
 * too (HeartbeatAck.logs; the session thread may be busy with a long
 * Stage). The agent answers with a LogChunk, which goes to the waiting
 * control request as its reply (coord_control_deferred): the control thread
 * and coord.mtx are never held while a node is slow.
 *
 * A log read is not a state change: never in the command log, no sequence,
 * nothing stored, forgotten by a restart (ospecctl then sees its request
 * time out or the coordinator unreachable, and asks again).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord.h"
#include "coord_control.h"

/* coord_logs_arg_u64 parses argument key (absent: 0) as a decimal number. */
static bool coord_logs_arg_u64(coord_ctl_req *rq, const char *key, uint64_t max, uint64_t *out)
{
	const char *s = coord_ctl_arg(rq, key);
	char *end = NULL;
	unsigned long long v;

	*out = 0;
	if (s == NULL || s[0] == '\0')
		return true;
	if (s[0] < '0' || s[0] > '9')
		return false;
	v = strtoull(s, &end, 10);
	if (*end != '\0' || v > max)
		return false;
	*out = v;
	return true;
}

/* coord_logs_slot picks the slot to read: the one asked for, else the
 * app's active blue/green slot in the node's last report, else "main".
 * false (err, status 4) when the node reports no such app. */
static bool coord_logs_slot(const coord_node *n, const char *app, const char *asked,
	char *slot, size_t len, char *err, size_t errlen)
{
	const Ospec__V1__AppState *st = NULL;

	for (size_t i = 0; i < n->n_apps && st == NULL; i++)
		if (n->apps[i]->app != NULL && strcmp(n->apps[i]->app, app) == 0)
			st = n->apps[i];
	if (st == NULL) {
		snprintf(err, errlen, "node '%s' reports no app '%s'", n->id, app);
		return false;
	}
	if (asked != NULL && asked[0] != '\0')
		osp_strlcpy(slot, asked, len);
	else if (st->active_slot != NULL && (strcmp(st->active_slot, "blue") == 0 ||
			 strcmp(st->active_slot, "green") == 0))
		osp_strlcpy(slot, st->active_slot, len);
	else
		osp_strlcpy(slot, "main", len);
	return true;
}

/* coord_logs_node_ok checks that node n can be asked now: 0, or 1 with err. */
static int coord_logs_node_ok(coord *c, const coord_node *n, char *err, size_t errlen)
{
	size_t mine = 0, all = 0;
	char ts[40];

	if (n->state != COORD_NODE_UP || n->pipe_id == 0) {
		osp_time_fmt(n->last_seen_wall, ts, sizeof(ts));
		snprintf(err, errlen, "node '%s' is down (last seen %s): its agent cannot be asked "
			"for logs", n->id, n->last_seen_wall > 0 ? ts : "never");
		return 1;
	}
	if (n->proto_minor < COORD_LOGS_PROTO_MINOR) {
		snprintf(err, errlen, "node '%s' runs ospec-agent %s (protocol 1.%u), which has no "
			"logs (protocol 1.%d); upgrade ospec-agent", n->id,
			n->agent_version[0] ? n->agent_version : "?", n->proto_minor,
			COORD_LOGS_PROTO_MINOR);
		return 1;
	}
	for (size_t i = 0; i < COORD_LOGS_MAX; i++) {
		all += c->logs[i].used;
		mine += c->logs[i].used && strcmp(c->logs[i].node, n->id) == 0;
	}
	if (mine >= COORD_LOGS_PER_NODE || all >= COORD_LOGS_MAX) {
		snprintf(err, errlen, "%zu log reads are waiting for %s already; try again in a "
			"few seconds", mine >= COORD_LOGS_PER_NODE ? mine : all,
			mine >= COORD_LOGS_PER_NODE ? "this node" : "nodes");
		return 1;
	}
	return 0;
}

/* coord_logs_args reads the request's app, slot, lines and offsets into r;
 * 0, or 2 (usage) with err. */
static int coord_logs_args(coord_ctl_req *rq, coord_log_req *r, const char **app,
	const char **slot, char *err, size_t errlen)
{
	const char *follow = coord_ctl_arg(rq, "follow");
	uint64_t lines = 0;
	char shown[160];

	*app = coord_ctl_arg(rq, "app");
	*slot = coord_ctl_arg(rq, "slot");
	if (*app == NULL || !osp_valid_id(*app)) {
		snprintf(err, errlen, "logs: expected an app id, got '%s'",
			osp_str_show(*app, shown, sizeof(shown)));
		return 2;
	}
	if (*slot != NULL && (*slot)[0] != '\0' && (strcmp(*slot, "main") != 0 &&
			strcmp(*slot, "blue") != 0 && strcmp(*slot, "green") != 0)) {
		snprintf(err, errlen, "logs: --slot: expected main, blue or green, got '%s'",
			osp_str_show(*slot, shown, sizeof(shown)));
		return 2;
	}
	if (!coord_logs_arg_u64(rq, "lines", OSP_WIRE_MAX_LOG_LINES, &lines) ||
		!coord_logs_arg_u64(rq, "out_offset", INT64_MAX, &r->out_offset) ||
		!coord_logs_arg_u64(rq, "err_offset", INT64_MAX, &r->err_offset)) {
		snprintf(err, errlen, "logs: --lines: expected 1..%d (offsets: numbers)",
			OSP_WIRE_MAX_LOG_LINES);
		return 2;
	}
	r->lines = lines == 0 ? 100 : (uint32_t)lines;
	r->follow = follow != NULL && strcmp(follow, "1") == 0;
	return 0;
}

int coord_verb_logs(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen)
{
	coord_log_req r = { 0 };
	coord_node *n;
	const char *id = coord_ctl_arg(rq, "node"), *app, *slot;
	char shown[160];
	int status;

	(void)json;
	if (id == NULL || !osp_valid_id(id)) {
		snprintf(err, errlen, "logs: expected a node id, got '%s'",
			osp_str_show(id, shown, sizeof(shown)));
		return 2;
	}
	if ((status = coord_logs_args(rq, &r, &app, &slot, err, errlen)) != 0)
		return status;
	if ((n = coord_node_find(c, id)) == NULL) {
		snprintf(err, errlen, "node '%s' is not known", id);
		return 4;
	}
	if ((status = coord_logs_node_ok(c, n, err, errlen)) != 0)
		return status;
	if (!coord_logs_slot(n, app, slot, r.slot, sizeof(r.slot), err, errlen))
		return 4;
	if (rq->defer == NULL) {
		snprintf(err, errlen, "logs: this request cannot wait for the node");
		return 1;
	}
	for (size_t i = 0; i < COORD_LOGS_MAX; i++) {
		if (c->logs[i].used)
			continue;
		if (c->logs_next_id == 0 && osp_random_bytes(&c->logs_next_id,
						sizeof(c->logs_next_id)) != OSP_OK)
			c->logs_next_id = (uint64_t)osp_now_wall_ms() << 16;
		/* random start: a late chunk of a read before a restart never
		 * matches a new one */
		r.id = ++c->logs_next_id;
		r.used = true;
		osp_strlcpy(r.node, n->id, sizeof(r.node));
		osp_strlcpy(r.app, app, sizeof(r.app));
		r.deadline = osp_now_mono_ms() + COORD_LOGS_WAIT_MS;
		r.reply = rq->defer;
		c->logs[i] = r;
		coord_agents_wake(c, n); /* a held poll takes it now */
		return COORD_CTL_DEFERRED;
	}
	snprintf(err, errlen, "too many log reads are waiting; try again in a few seconds");
	return 1;
}

bool coord_logs_waiting(const coord *c, const coord_node *n)
{
	for (size_t i = 0; i < COORD_LOGS_MAX; i++)
		if (c->logs[i].used && !c->logs[i].sent_poll && strcmp(c->logs[i].node, n->id) == 0)
			return true;
	return false;
}

size_t coord_logs_for_node(coord *c, const coord_node *n, bool poll,
	Ospec__V1__LogRequest *lr, Ospec__V1__LogRequest **lrp)
{
	size_t k = 0;

	for (size_t i = 0; i < COORD_LOGS_MAX && k < COORD_LOGS_PER_NODE; i++) {
		coord_log_req *r = &c->logs[i];

		if (!r->used || strcmp(r->node, n->id) != 0 || (poll ? r->sent_poll : r->sent_hb))
			continue;
		if (poll)
			r->sent_poll = true;
		else
			r->sent_hb = true;
		ospec__v1__log_request__init(&lr[k]);
		lr[k].id = r->id;
		lr[k].app = r->app;
		lr[k].slot = r->slot;
		lr[k].has_lines = 1;
		lr[k].lines = r->lines;
		if (r->follow) {
			lr[k].has_follow = lr[k].has_out_offset = lr[k].has_err_offset = 1;
			lr[k].follow = true;
			lr[k].out_offset = r->out_offset;
			lr[k].err_offset = r->err_offset;
		}
		lrp[k] = &lr[k];
		k++;
	}
	return k;
}

/* coord_logs_bytes writes data as a JSON string (the agent replaced NUL
 * bytes; one from elsewhere ends the string there). */
static void coord_logs_bytes(osp_jw *w, osp_buf *tmp, const ProtobufCBinaryData *d,
	protobuf_c_boolean has)
{
	osp_buf_reset(tmp);
	if (has && d->len > 0 && osp_buf_append(tmp, d->data, d->len) == OSP_OK)
		osp_jw_str(w, tmp->data);
	else
		osp_jw_str(w, "");
}

/* coord_logs_answer sends chunk ch as the reply of r. */
static void coord_logs_answer(const coord_log_req *r, const Ospec__V1__LogChunk *ch)
{
	osp_buf json, tmp;
	osp_jw w;
	char err[OSP_WIRE_MAX_TEXT + 256];

	if (ch->error != NULL && ch->error[0] != '\0') {
		snprintf(err, sizeof(err), "node '%s': %s", r->node, ch->error);
		coord_control_deferred(r->reply, ch->has_not_found && ch->not_found ? 4 : 1, err,
			NULL);
		return;
	}
	osp_buf_init(&json, 1024 * 1024); /* escapes: up to 6 bytes a byte */
	osp_buf_init(&tmp, 2 * OSP_WIRE_MAX_LOG_DATA);
	osp_jw_init(&w, &json);
	osp_jw_obj_begin(&w);
	osp_jw_key(&w, "node");
	osp_jw_str(&w, r->node);
	osp_jw_key(&w, "app");
	osp_jw_str(&w, r->app);
	osp_jw_key(&w, "slot");
	osp_jw_str(&w, r->slot);
	osp_jw_key(&w, "stdout");
	coord_logs_bytes(&w, &tmp, &ch->out, ch->has_out);
	osp_jw_key(&w, "stderr");
	coord_logs_bytes(&w, &tmp, &ch->err, ch->has_err);
	osp_jw_key(&w, "stdout_next");
	osp_jw_uint(&w, ch->out_next);
	osp_jw_key(&w, "stderr_next");
	osp_jw_uint(&w, ch->err_next);
	osp_jw_key(&w, "stdout_reset");
	osp_jw_bool(&w, ch->has_out_reset && ch->out_reset);
	osp_jw_key(&w, "stderr_reset");
	osp_jw_bool(&w, ch->has_err_reset && ch->err_reset);
	osp_jw_key(&w, "more");
	osp_jw_bool(&w, ch->has_more && ch->more);
	osp_jw_obj_end(&w);
	if (osp_jw_err(&w) == OSP_OK)
		coord_control_deferred(r->reply, 0, NULL, json.data);
	else
		coord_control_deferred(r->reply, 1, "the node's answer could not be written", NULL);
	osp_buf_fini(&tmp);
	osp_buf_fini(&json);
}

void coord_logs_on_chunk(coord *c, const coord_node *n, const Ospec__V1__LogChunk *chunk)
{
	for (size_t i = 0; i < COORD_LOGS_MAX; i++) {
		coord_log_req *r = &c->logs[i];

		/* only the node that was asked answers its read */
		if (!r->used || r->id != chunk->id || strcmp(r->node, n->id) != 0)
			continue;
		coord_logs_answer(r, chunk);
		memset(r, 0, sizeof(*r));
		return;
	}
}

void coord_logs_tick(coord *c, int64_t now_mono)
{
	char err[256];

	for (size_t i = 0; i < COORD_LOGS_MAX; i++) {
		coord_log_req *r = &c->logs[i];
		coord_node *n;

		if (!r->used)
			continue;
		n = coord_node_find(c, r->node);
		if (n == NULL || n->state != COORD_NODE_UP)
			snprintf(err, sizeof(err), "node '%s' went down before its agent answered",
				r->node);
		else if (now_mono >= r->deadline)
			snprintf(err, sizeof(err), "node '%s' did not answer in time (%d s): its "
				"agent may be cut off or overloaded", r->node,
				COORD_LOGS_WAIT_MS / 1000);
		else
			continue;
		coord_control_deferred(r->reply, 1, err, NULL);
		memset(r, 0, sizeof(*r));
	}
}

size_t coord_logs_count(const coord *c)
{
	size_t n = 0;

	for (size_t i = 0; i < COORD_LOGS_MAX; i++)
		n += c->logs[i].used;
	return n;
}

void coord_logs_drop(coord *c)
{
	memset(c->logs, 0, sizeof(c->logs));
}
