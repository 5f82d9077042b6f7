/*
 * ctl_watch.c - `ospecctl watch ROLLOUT`: follow a rollout or a plan until it
 * ends, and exit with its code (0 succeeded, 1 otherwise; 3, 4 as usual).
 *
 * On a terminal: a view redrawn in place, one line per stage (a plain
 * rollout is one stage) with a progress bar, nodes done/failed, the gate or
 * the bake countdown, and the last event. Not a terminal: one plain line per
 * change (ctl_wait_until). --json: one JSON object per line at every change.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

#define CTL_WATCH_POLL_MS 500

/* ctl_watch_last_event fetches the newest event of rollout id into buf. */
static void ctl_watch_last_event(const ctl *c, const char *id, char *buf, size_t len,
	char *ts, size_t tslen)
{
	ctl_req rq = { .verb = "history" };
	char *json = NULL, err[256];
	osp_json *j = NULL;

	ctl_req_arg(&rq, "rollout", id);
	ctl_req_arg(&rq, "limit", "1");
	if (ctl_call(c, &rq, &json, err, sizeof(err)) == CTL_EXIT_OK &&
		osp_json_parse(json, strlen(json), &j, err, sizeof(err)) == OSP_OK) {
		const osp_json *ev = NULL, *list = osp_json_get(j, "events");
		if (list == NULL && j->type == OSP_JSON_ARR)
			list = j;
		if (list != NULL && list->n > 0)
			ev = list->items[list->n - 1];
		const char *t = ev ? osp_json_get_str(ev, "ts") : NULL;
		if (t == NULL && ev != NULL)
			t = osp_json_get_str(ev, "time");
		if (ev != NULL && (t == NULL || strcmp(t, ts) > 0)) {
			char line[400];
			ctl_one_line(osp_json_get_str(ev, "message"), line, sizeof(line));
			snprintf(buf, len, "%s %s", osp_json_get_str(ev, "kind"), line);
			osp_strlcpy(ts, t ? t : "", tslen);
		}
	}
	osp_json_free(j);
	free(json);
}

static void ctl_watch_bar(long long done, long long total, char *buf, size_t len)
{
	const int width = 20;
	int fill = total > 0 ? (int)(done * width / total) : 0;
	size_t o = 0;

	buf[o++] = '[';
	for (int i = 0; i < width && o + 2 < len; i++)
		buf[o++] = i < fill ? '#' : '.';
	buf[o++] = ']';
	buf[o] = '\0';
}

/* ctl_watch_stage_line writes one stage's (or a rollout's) line. */
static void ctl_watch_stage_line(const osp_json *s, const char *name, const char *plan_state,
	char *buf, size_t len)
{
	long long done = osp_json_get_int(s, "nodes_done", 0);
	long long total = osp_json_get_int(s, "nodes_total", 0);
	long long failed = osp_json_get_int(s, "nodes_failed", 0);
	const char *state = osp_json_get_str(s, "state"), *phase = osp_json_get_str(s, "phase");
	const char *until = osp_json_get_str(s, "watch_until");
	const osp_json *gate = osp_json_get(s, "gate");
	char bar[32], extra[600] = "";

	ctl_watch_bar(done, total, bar, sizeof(bar));
	if (state != NULL && strcmp(state, "waiting_approval") == 0)
		snprintf(extra, sizeof(extra), "  gate: waiting for approval (%s)",
			osp_json_get_str(s, "gate_why") ? osp_json_get_str(s, "gate_why") : "");
	else if (until != NULL && until[0] != '\0' && phase != NULL &&
		(strcmp(phase, "watching") == 0 || strcmp(phase, "verifying") == 0))
		snprintf(extra, sizeof(extra), "  %s until %s",
			strcmp(phase, "watching") == 0 ? "bake" : "verify", until);
	else if (ctl_canary_line(s, extra + 2, sizeof(extra) - 2))
		memcpy(extra, "  ", 2);
	else if (gate != NULL && gate->b && osp_json_get_str(s, "approved_by") &&
		osp_json_get_str(s, "approved_by")[0])
		snprintf(extra, sizeof(extra), "  approved by %s", osp_json_get_str(s, "approved_by"));
	(void)plan_state;
	snprintf(buf, len, "%-12s %-17s %s %lld/%lld done, %lld failed%s%s%s", name,
		state ? state : "?", bar, done, total, failed,
		phase && phase[0] && strcmp(phase, "done") != 0 ? "  (" : "",
		phase && phase[0] && strcmp(phase, "done") != 0 ? phase : "",
		phase && phase[0] && strcmp(phase, "done") != 0 ? ")" : "");
	if (extra[0] != '\0')
		snprintf(buf + strlen(buf), len - strlen(buf), "%s", extra);
}

/* ctl_watch_draw redraws the view (lines: how many it drew last time). */
static void ctl_watch_draw(const osp_json *r, const char *event, size_t *lines)
{
	const osp_json *stages = osp_json_get(r, "stages");
	const char *kind = osp_json_get_str(r, "kind");
	bool plan = kind != NULL && strcmp(kind, "plan") == 0 && stages != NULL;
	char line[512];
	size_t n = 0;

	for (size_t i = 0; i < *lines; i++)
		fputs("\033[1A\033[2K", stdout);
	printf("%s %s: %s %s %s (%s)\n", plan ? "plan" : "rollout", osp_json_get_str(r, "id"),
		osp_json_get_str(r, "app"), osp_json_get_str(r, "version"),
		osp_json_get_str(r, "state"), osp_json_get_str(r, "strategy"));
	n++;
	if (plan) {
		for (size_t i = 0; i < stages->n; i++) {
			ctl_watch_stage_line(stages->items[i], osp_json_get_str(stages->items[i], "name"),
				osp_json_get_str(r, "state"), line, sizeof(line));
			printf("  %s\n", line);
			n++;
		}
	} else {
		ctl_watch_stage_line(r, "nodes", osp_json_get_str(r, "state"), line, sizeof(line));
		printf("  %s\n", line);
		n++;
	}
	printf("  last event: %s\n", event[0] ? event : "-");
	n++;
	fflush(stdout);
	*lines = n;
}

/* ctl_watch_json prints one compact line: the status without per-node detail. */
static void ctl_watch_json(const osp_json *r)
{
	const osp_json *stages = osp_json_get(r, "stages");
	osp_buf b;
	osp_jw w;

	osp_buf_init(&b, 1024);
	osp_jw_init(&w, &b);
	osp_jw_obj_begin(&w);
	static const char *const keys[] = { "id", "kind", "state", "phase", "reason", NULL };
	for (size_t i = 0; keys[i] != NULL; i++) {
		osp_jw_key(&w, keys[i]);
		osp_jw_str(&w, osp_json_get_str(r, keys[i]) ? osp_json_get_str(r, keys[i]) : "");
	}
	static const char *const nums[] = { "nodes_total", "nodes_done", "nodes_failed", NULL };
	for (size_t i = 0; nums[i] != NULL; i++) {
		osp_jw_key(&w, nums[i]);
		osp_jw_int(&w, osp_json_get_int(r, nums[i], 0));
	}
	if (stages != NULL) {
		osp_jw_key(&w, "stages");
		osp_jw_arr_begin(&w);
		for (size_t i = 0; i < stages->n; i++) {
			const osp_json *s = stages->items[i];
			osp_jw_obj_begin(&w);
			osp_jw_key(&w, "name");
			osp_jw_str(&w, osp_json_get_str(s, "name"));
			osp_jw_key(&w, "state");
			osp_jw_str(&w, osp_json_get_str(s, "state"));
			osp_jw_key(&w, "rollout");
			osp_jw_str(&w, osp_json_get_str(s, "rollout"));
			for (size_t k = 0; nums[k] != NULL; k++) {
				osp_jw_key(&w, nums[k]);
				osp_jw_int(&w, osp_json_get_int(s, nums[k], 0));
			}
			osp_jw_obj_end(&w);
		}
		osp_jw_arr_end(&w);
	}
	osp_jw_obj_end(&w);
	printf("%s\n", b.data ? b.data : "{}");
	fflush(stdout);
	osp_buf_fini(&b);
}

int ctl_watch(const ctl *c, int argc, char **argv)
{
	char event[512] = "", ts[64] = "", err[512];
	char *last = NULL;
	size_t lines = 0;

	if (argc != 2 || argv[1][0] == '-') {
		ctl_errorf("watch: expected exactly one ROLLOUT");
		return CTL_EXIT_USAGE;
	}
	if (!c->json && !c->is_tty)
		return ctl_wait_until(c, argv[1], 0, false);
	for (bool warned = false;;) {
		int code;
		osp_json *r = ctl_status_doc(c, argv[1], &code, err, sizeof(err));

		if (r == NULL) {
			if (code == CTL_EXIT_UNREACHABLE) {
				if (!warned)
					fprintf(stderr, "%s: coordinator unreachable, waiting for it\n", argv[1]);
				warned = true;
				osp_sleep_ms(CTL_WATCH_POLL_MS);
				continue;
			}
			ctl_errorf("%s", err[0] ? err : "the coordinator refused the request");
			free(last);
			return code == CTL_EXIT_OK ? CTL_EXIT_FAILED : code;
		}
		warned = false;
		const char *state = osp_json_get_str(r, "state");
		bool end = ctl_is_terminal(state);
		int rc = state != NULL && strcmp(state, "succeeded") == 0 ? 0 : 1;
		if (c->json) {
			/* a line per change: compare the compact form */
			osp_buf b;
			osp_jw w;
			osp_buf_init(&b, 256);
			osp_jw_init(&w, &b);
			osp_jw_str(&w, state);
			osp_jw_int(&w, osp_json_get_int(r, "nodes_done", 0));
			osp_jw_int(&w, osp_json_get_int(r, "nodes_failed", 0));
			osp_jw_str(&w, osp_json_get_str(r, "phase"));
			if (last == NULL || b.data == NULL || strcmp(last, b.data) != 0) {
				ctl_watch_json(r);
				free(last);
				last = b.data != NULL ? strdup(b.data) : NULL;
			}
			osp_buf_fini(&b);
		} else {
			const osp_json *stages = osp_json_get(r, "stages");
			ctl_watch_last_event(c, argv[1], event, sizeof(event), ts, sizeof(ts));
			for (size_t i = 0; stages != NULL && i < stages->n; i++) {
				const char *child = osp_json_get_str(stages->items[i], "rollout");
				if (child != NULL && child[0] != '\0')
					ctl_watch_last_event(c, child, event, sizeof(event), ts, sizeof(ts));
			}
			ctl_watch_draw(r, event, &lines);
		}
		osp_json_free(r);
		if (end) {
			free(last);
			return rc;
		}
		osp_sleep_ms(CTL_WATCH_POLL_MS);
	}
}
