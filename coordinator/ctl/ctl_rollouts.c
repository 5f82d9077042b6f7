/* ctl_rollouts.c - deploy, rollouts, status, history, pause, resume, abort. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* Flags of deploy passed through to the coordinator as they are. */
const char *const ctl_deploy_flags[] = { "app", "version", "artifact", "sha256", "run",
	"port", "ports", "strategy", "select", "batch", "max-failures", "canary", "health-path",
	"health-interval", "health-rise", "health-fall", "health-timeout", "health-deadline",
	"progress-deadline", "prepare-deadline", "rollback-window", "scale-down-delay", "watch",
	"canary-bake", "canary-initial", "canary-step", "canary-max", "analysis-interval",
	"analysis-threshold", "analysis-success-rate", "analysis-max-latency",
	"analysis-min-requests", "analysis-url", "analysis-query", "analysis-query-min",
	"analysis-query-max", NULL };

bool ctl_canary_line(const osp_json *r, char *buf, size_t len)
{
	const osp_json *c = osp_json_get(r, "canary"), *a;
	const char *next, *rate;
	size_t n;

	if (c == NULL || c->type != OSP_JSON_OBJ || len == 0)
		return false;
	snprintf(buf, len, "canary: weight %lld%% (step %lld, max %lld%%), failed analyses %lld "
		"of %lld", (long long)osp_json_get_int(c, "weight", 0),
		(long long)osp_json_get_int(c, "step", 0), (long long)osp_json_get_int(c, "max_weight", 0),
		(long long)osp_json_get_int(c, "failed_checks", 0),
		(long long)osp_json_get_int(c, "threshold", 0));
	if ((next = osp_json_get_str(c, "next_analysis")) != NULL && next[0] != '\0' &&
		(n = strlen(buf)) < len)
		snprintf(buf + n, len - n, "; next analysis %s", next);
	a = osp_json_get(c, "last_analysis");
	if (a != NULL && a->type == OSP_JSON_OBJ && (n = strlen(buf)) < len) {
		const osp_json *lat = osp_json_get(a, "latency_ms");

		rate = osp_json_get_str(a, "success_rate");
		snprintf(buf + n, len - n, "; last analysis %s: %lld requests, %lld errors, success "
			"%s%%", osp_json_get(a, "passed") && osp_json_get(a, "passed")->b ? "passed"
											: "failed",
			(long long)osp_json_get_int(a, "requests", 0),
			(long long)osp_json_get_int(a, "errors", 0), rate ? rate : "-");
		if (lat != NULL && lat->type == OSP_JSON_NUM && (n = strlen(buf)) < len)
			snprintf(buf + n, len - n, ", latency %lld ms",
				(long long)osp_json_get_int(a, "latency_ms", 0));
	}
	return true;
}

bool ctl_is_terminal(const char *state)
{
	static const char *const t[] = { "succeeded", "failed", "aborted", "rolled_back", NULL };

	for (size_t i = 0; state != NULL && t[i] != NULL; i++)
		if (strcmp(state, t[i]) == 0)
			return true;
	return false;
}

/* ctl_status_doc fetches a rollout's status; *code is the exit code. The
 * coordinator's error goes to err (errlen bytes) if not NULL, else to stderr. */
osp_json *ctl_status_doc(const ctl *c, const char *id, int *code, char *err,
	size_t errlen)
{
	ctl_req rq = { .verb = "status" };
	char *json = NULL;
	osp_json *j = NULL;

	ctl_req_arg(&rq, "rollout", id);
	*code = ctl_call(c, &rq, &json, err, errlen);
	if (*code == CTL_EXIT_OK)
		j = ctl_parse_json(json);
	free(json);
	return j;
}

static void ctl_print_switches(const osp_json *sw)
{
	for (size_t i = 0; sw != NULL && i < sw->n; i++) {
		const osp_json *x = sw->items[i], *skew = osp_json_get(x, "skew_ms");
		char sk[32] = "-";

		if (skew != NULL && skew->type == OSP_JSON_NUM)
			snprintf(sk, sizeof(sk), "%lld ms", (long long)skew->i);
		printf("  switch %s (%s): %s, %lld members, flip skew %s\n",
			osp_json_get_str(x, "id"), osp_json_get_str(x, "to"),
			osp_json_get_str(x, "decision"), (long long)osp_json_get_int(x, "members", 0),
			sk);
	}
}

static void ctl_print_status(const osp_json *r)
{
	const osp_json *nodes = osp_json_get(r, "nodes");
	ctl_table t;
	const char *hdr[] = { "NODE", "BATCH", "STEP", "VERSION", "SECONDS", "REASON" };
	const char *kind = osp_json_get_str(r, "kind");

	if (kind != NULL && strcmp(kind, "plan") == 0) {
		ctl_print_plan(r);
		return;
	}

	printf("rollout %s: %s %s %s (%s)\n", osp_json_get_str(r, "id"),
		osp_json_get_str(r, "app"), osp_json_get_str(r, "version"),
		osp_json_get_str(r, "state"), osp_json_get_str(r, "strategy"));
	printf("  created %s by %s; nodes %lld, done %lld, failed %lld; batch %lld of %lld\n",
		osp_json_get_str(r, "created"), osp_json_get_str(r, "actor"),
		(long long)osp_json_get_int(r, "nodes_total", 0),
		(long long)osp_json_get_int(r, "nodes_done", 0),
		(long long)osp_json_get_int(r, "nodes_failed", 0),
		(long long)osp_json_get_int(r, "current_batch", 0),
		(long long)osp_json_get_int(r, "batches", 0));
	printf("  phase %s; sha256 %s\n", osp_json_get_str(r, "phase") ? osp_json_get_str(r, "phase")
								  : "-",
		osp_json_get_str(r, "sha256") ? osp_json_get_str(r, "sha256") : "-");
	if (osp_json_get_str(r, "watch_until") && strcmp(osp_json_get_str(r, "phase"), "done") != 0)
		printf("  watching health until %s\n", osp_json_get_str(r, "watch_until"));
	{
		char line[600];

		if (ctl_canary_line(r, line, sizeof(line)))
			printf("  %s\n", line);
	}
	if (osp_json_get_str(r, "reason") && osp_json_get_str(r, "reason")[0]) {
		char reason[1024];
		ctl_one_line(osp_json_get_str(r, "reason"), reason, sizeof(reason));
		printf("  %s\n", reason);
	}
	ctl_print_switches(osp_json_get(r, "switches"));
	ctl_table_init(&t, 6);
	ctl_table_row(&t, hdr);
	for (size_t i = 0; nodes != NULL && i < nodes->n; i++) {
		const osp_json *n = nodes->items[i];
		char batch[16], secs[16], reason[512];
		const char *row[6];
		const osp_json *s = osp_json_get(n, "seconds");

		snprintf(batch, sizeof(batch), "%lld", (long long)osp_json_get_int(n, "batch", 0));
		if (s != NULL && s->type == OSP_JSON_NUM)
			snprintf(secs, sizeof(secs), "%lld", (long long)s->i);
		else
			osp_strlcpy(secs, "-", sizeof(secs));
		row[0] = osp_json_get_str(n, "node");
		row[1] = batch;
		row[2] = osp_json_get_str(n, "step");
		row[3] = osp_json_get_str(n, "version");
		row[4] = secs;
		ctl_one_line(osp_json_get_str(n, "reason"), reason, sizeof(reason));
		row[5] = reason;
		ctl_table_row(&t, row);
	}
	ctl_table_print(&t);
	ctl_table_fini(&t);
}

/* ctl_switched: a blue-green rollout whose forward switch committed and
 * is being verified (what --wait=switch waits for). */
static bool ctl_switched(const osp_json *r)
{
	const char *phase = osp_json_get_str(r, "phase");

	return phase != NULL && strcmp(phase, "verifying") == 0;
}

/* ctl_wait follows a rollout until it is terminal (or, with until_switch,
 * switched), riding out a restarting coordinator, and returns the exit code
 * (0 only for succeeded, or switched). */
int ctl_wait_until(const ctl *c, const char *id, int64_t timeout_ms, bool until_switch)
{
	int64_t end = timeout_ms > 0 ? osp_now_mono_ms() + timeout_ms : INT64_MAX;
	char last[512] = "", err[512];
	bool warned = false;

	for (;;) {
		int code;
		osp_json *r = ctl_status_doc(c, id, &code, err, sizeof(err));

		if (r != NULL) {
			const char *state = osp_json_get_str(r, "state");
			char now[512];
			const char *phase = osp_json_get_str(r, "phase");
			const char *kind = osp_json_get_str(r, "kind");
			bool plan = kind != NULL && strcmp(kind, "plan") == 0;
			bool show = phase != NULL && (plan || strcmp(phase, "watching") == 0 ||
				strcmp(phase, "verifying") == 0 || strcmp(phase, "reverting") == 0 ||
				strcmp(phase, "switching_back") == 0);
			snprintf(now, sizeof(now), "%s: %s%s%s%s, %lld/%lld nodes done, %lld failed", id,
				state, show ? " (" : "", show ? phase : "", show ? ")" : "",
				(long long)osp_json_get_int(r, "nodes_done", 0),
				(long long)osp_json_get_int(r, "nodes_total", 0),
				(long long)osp_json_get_int(r, "nodes_failed", 0));
			if (strcmp(now, last) != 0) {
				fprintf(stderr, "%s\n", now);
				osp_strlcpy(last, now, sizeof(last));
			}
			warned = false;
			if (until_switch && ctl_switched(r)) {
				fprintf(stderr, "%s: switched; verifying until %s\n", id,
					osp_json_get_str(r, "watch_until") ? osp_json_get_str(r, "watch_until")
									 : "-");
				osp_json_free(r);
				return 0;
			}
			if (ctl_is_terminal(state)) {
				int rc = strcmp(state, "succeeded") == 0 ? 0 : 1;
				if (rc != 0 && osp_json_get_str(r, "reason"))
					fprintf(stderr, "%s\n", osp_json_get_str(r, "reason"));
				osp_json_free(r);
				return rc;
			}
			osp_json_free(r);
		} else if (code == CTL_EXIT_UNREACHABLE && !warned) {
			fprintf(stderr, "%s: coordinator unreachable, waiting for it\n", id);
			warned = true;
		} else if (code != CTL_EXIT_UNREACHABLE) {
			/* not known (4), refused, ...: say so, never exit silently */
			if (code != CTL_EXIT_OK)
				ctl_errorf("%s", err[0] ? err : "the coordinator refused the request");
			return code == CTL_EXIT_OK ? CTL_EXIT_FAILED : code;
		}
		if (osp_now_mono_ms() >= end) {
			ctl_errorf("rollout '%s' did not finish within the timeout", id);
			return CTL_EXIT_TIMEOUT;
		}
		osp_sleep_ms(300);
	}
}


/* The --wait of deploy and rollback: none, until terminal, until switched. */


/* ctl_wait_flag parses --wait / --wait=end / --wait=switch at argv[i];
 * returns 1 if it was one (*mode set), 0 if not, -1 for a bad value. */
int ctl_wait_flag(const char *arg, int *mode)
{
	if (strcmp(arg, "--wait") == 0 || strcmp(arg, "--wait=end") == 0) {
		*mode = CTL_WAIT_END;
		return 1;
	}
	if (strcmp(arg, "--wait=switch") == 0) {
		*mode = CTL_WAIT_SWITCH;
		return 1;
	}
	if (strncmp(arg, "--wait=", 7) == 0)
		return -1;
	return 0;
}

/* ctl_started prints a new rollout's id as the first line of stdout, flushed
 * before anything else (CLI.md; with --json {"id", "state"}), then follows
 * it with --wait. Returns the exit code. */
int ctl_started(const ctl *c, const osp_json *j, int wait, int64_t timeout)
{
	const char *id = osp_json_get_str(j, "id");

	if (id == NULL) {
		ctl_errorf("the coordinator answered without a rollout id");
		return CTL_EXIT_FAILED;
	}
	if (c->json) {
		osp_buf b;
		osp_jw w;

		osp_buf_init(&b, 4096);
		osp_jw_init(&w, &b);
		osp_jw_obj_begin(&w);
		osp_jw_key(&w, "id");
		osp_jw_str(&w, id);
		osp_jw_key(&w, "state");
		osp_jw_str(&w, osp_json_get_str(j, "state"));
		osp_jw_obj_end(&w);
		printf("%s\n", b.data ? b.data : "{}");
		osp_buf_fini(&b);
	} else {
		printf("%s\n", id);
	}
	fflush(stdout);
	if (wait == CTL_WAIT_NONE)
		return CTL_EXIT_OK;
	return ctl_wait_until(c, id, timeout, wait == CTL_WAIT_SWITCH);
}

/* The longest --timeout of --wait: 30 days (0: none). */
#define CTL_TIMEOUT_MAX_MS (30LL * 24 * 3600 * 1000)

/* ctl_timeout_flag parses --timeout D of verb; prints why and returns false
 * for a bad or too long one. */
bool ctl_timeout_flag(const char *verb, const char *v, int64_t *ms)
{
	if (osp_duration_parse(v, ms) == OSP_OK && *ms <= CTL_TIMEOUT_MAX_MS)
		return true;
	ctl_errorf("%s: --timeout: expected a duration from 0 to 720h, like 30s or 10m, got '%s'",
		verb, v);
	return false;
}

/* ctl_flag matches "--name VALUE" or "--name=VALUE" at argv[*i]. */
const char *ctl_flag(int argc, char **argv, int *i, const char *name)
{
	size_t l = strlen(name);

	if (strncmp(argv[*i], "--", 2) != 0 || strncmp(argv[*i] + 2, name, l) != 0)
		return NULL;
	if (argv[*i][2 + l] == '=')
		return argv[*i] + 3 + l;
	if (argv[*i][2 + l] == '\0' && *i + 1 < argc)
		return argv[++*i];
	return NULL;
}

int ctl_deploy(const ctl *c, int argc, char **argv)
{
	ctl_req rq = { .verb = "deploy", .mutates = true };
	ctl_checks ck = { .env = "" };
	bool dry = false, queue = false, noauto = false;
	int64_t timeout = 0;
	char *json = NULL;
	osp_json *j;
	int code, wait = CTL_WAIT_NONE, w;

	for (int i = 1; i < argc; i++) {
		const char *v = NULL;
		size_t k;

		if ((w = ctl_wait_flag(argv[i], &wait)) != 0) {
			if (w < 0) {
				ctl_errorf("deploy: --wait: expected --wait, --wait=end or "
					   "--wait=switch");
				return CTL_EXIT_USAGE;
			}
			continue;
		}
		if (strcmp(argv[i], "--no-auto-rollback") == 0) {
			noauto = true;
			continue;
		}
		if (strcmp(argv[i], "--canary-approval") == 0) {
			ctl_req_arg(&rq, "canary-approval", "true");
			continue;
		}
		if (strcmp(argv[i], "--auto-rollback") == 0) {
			noauto = false;
			continue;
		}
		if (strcmp(argv[i], "--dry-run") == 0) {
			dry = true;
			continue;
		}
		if (strcmp(argv[i], "--queue") == 0) {
			queue = true;
			continue;
		}
		if ((v = ctl_flag(argc, argv, &i, "timeout")) != NULL) {
			if (!ctl_timeout_flag("deploy", v, &timeout))
				return CTL_EXIT_USAGE;
			continue;
		}
		if ((w = ctl_checks_flag(&ck, "deploy", argc, argv, &i)) != 0) {
			if (w < 0)
				return CTL_EXIT_USAGE;
			continue;
		}
		for (k = 0; ctl_deploy_flags[k] != NULL; k++)
			if ((v = ctl_flag(argc, argv, &i, ctl_deploy_flags[k])) != NULL)
				break;
		if (v == NULL) {
			ctl_errorf("deploy: unexpected argument '%s' (see 'ospecctl deploy --help')",
				argv[i]);
			return CTL_EXIT_USAGE;
		}
		ctl_req_arg(&rq, ctl_deploy_flags[k], v);
	}
	if (dry)
		ctl_req_arg(&rq, "dry-run", "true");
	if (queue)
		ctl_req_arg(&rq, "queue", "true");
	if (noauto)
		ctl_req_arg(&rq, "no-auto-rollback", "true");
	ctl_checks_args(&ck, &rq);
	if ((code = ctl_call(c, &rq, &json, NULL, 0)) != CTL_EXIT_OK) {
		free(json);
		return code;
	}
	if ((j = ctl_parse_json(json)) == NULL) {
		free(json);
		return CTL_EXIT_FAILED;
	}
	if (dry) {
		if (c->json)
			printf("%s\n", json);
		else
			ctl_print_status(j);
		free(json);
		osp_json_free(j);
		return CTL_EXIT_OK;
	}
	code = ctl_started(c, j, wait, timeout);
	osp_json_free(j);
	free(json);
	return code;
}

int ctl_status(const ctl *c, int argc, char **argv)
{
	osp_json *r;
	int code;

	if (argc != 2 || argv[1][0] == '-') {
		ctl_errorf("status: expected exactly one ROLLOUT");
		return CTL_EXIT_USAGE;
	}
	if (c->json) {
		ctl_req rq = { .verb = "status" };
		char *json = NULL;
		ctl_req_arg(&rq, "rollout", argv[1]);
		code = ctl_call(c, &rq, &json, NULL, 0);
		if (code == CTL_EXIT_OK)
			printf("%s\n", json);
		free(json);
		return code;
	}
	if ((r = ctl_status_doc(c, argv[1], &code, NULL, 0)) == NULL)
		return code == CTL_EXIT_OK ? CTL_EXIT_FAILED : code;
	ctl_print_status(r);
	osp_json_free(r);
	return CTL_EXIT_OK;
}

/* ctl_simple_list runs a read verb and prints JSON or a table. */
static int ctl_read(const ctl *c, ctl_req *rq, void (*table)(const osp_json *))
{
	char *json = NULL;
	osp_json *j;
	int code = ctl_call(c, rq, &json, NULL, 0);

	if (code == CTL_EXIT_OK) {
		if (c->json)
			printf("%s\n", json);
		else if ((j = ctl_parse_json(json)) != NULL) {
			table(j);
			osp_json_free(j);
		} else {
			code = CTL_EXIT_FAILED;
		}
	}
	free(json);
	return code;
}

static void ctl_rollouts_table(const osp_json *list)
{
	ctl_table t;
	const char *hdr[] = { "ID", "APP", "VERSION", "STATE", "STRATEGY", "NODES", "CREATED" };

	ctl_table_init(&t, 7);
	ctl_table_row(&t, hdr);
	for (size_t i = 0; list != NULL && i < list->n; i++) {
		const osp_json *r = list->items[i];
		const char *kind = osp_json_get_str(r, "kind");
		char nodes[48], strategy[48];
		const char *row[7];

		snprintf(nodes, sizeof(nodes), "%lld/%lld", (long long)osp_json_get_int(r, "nodes_done", 0),
			(long long)osp_json_get_int(r, "nodes_total", 0));
		row[0] = osp_json_get_str(r, "id");
		row[1] = osp_json_get_str(r, "app");
		row[2] = osp_json_get_str(r, "version");
		row[3] = osp_json_get_str(r, "state");
		/* a plan: its stages run as the rollouts <plan>.<stage> */
		snprintf(strategy, sizeof(strategy), "%s%s", osp_json_get_str(r, "strategy"),
			kind != NULL && strcmp(kind, "plan") == 0 ? " (plan)" : "");
		row[4] = strategy;
		row[5] = nodes;
		row[6] = osp_json_get_str(r, "created");
		ctl_table_row(&t, row);
	}
	ctl_table_print(&t);
	ctl_table_fini(&t);
}

int ctl_rollouts(const ctl *c, int argc, char **argv)
{
	ctl_req rq = { .verb = "rollouts" };

	for (int i = 1; i < argc; i++) {
		const char *v = ctl_flag(argc, argv, &i, "app");
		if (v == NULL) {
			ctl_errorf("rollouts: unexpected argument '%s'", argv[i]);
			return CTL_EXIT_USAGE;
		}
		ctl_req_arg(&rq, "app", v);
	}
	return ctl_read(c, &rq, ctl_rollouts_table);
}

static void ctl_history_table(const osp_json *doc)
{
	const osp_json *ev = osp_json_get(doc, "events"), *cut = osp_json_get(doc, "truncated");

	/* the document is newest first; a terminal reads oldest first */
	for (size_t i = ev ? ev->n : 0; i > 0; i--) {
		const osp_json *e = ev->items[i - 1];
		const char *node = osp_json_get_str(e, "node");
		const char *ro = osp_json_get_str(e, "rollout");
		printf("%s %-18s %s%s%s%s%s [%s] %s\n", osp_json_get_str(e, "ts"),
			osp_json_get_str(e, "kind"), ro && ro[0] ? ro : "", ro && ro[0] ? " " : "",
			node && node[0] ? "node=" : "", node && node[0] ? node : "",
			node && node[0] ? "" : "", osp_json_get_str(e, "actor"),
			osp_json_get_str(e, "message"));
	}
	if (cut != NULL && cut->type == OSP_JSON_BOOL && cut->b)
		fprintf(stderr, "ospecctl: history: more events than fit in one answer; the older "
				"ones: ospecctl history --before %lld\n",
			(long long)osp_json_get_int(doc, "next", 0));
}

int ctl_history(const ctl *c, int argc, char **argv)
{
	ctl_req rq = { .verb = "history" };

	for (int i = 1; i < argc; i++) {
		const char *v;
		if ((v = ctl_flag(argc, argv, &i, "app")) != NULL) {
			ctl_req_arg(&rq, "app", v);
		} else if ((v = ctl_flag(argc, argv, &i, "rollout")) != NULL) {
			ctl_req_arg(&rq, "rollout", v);
		} else if ((v = ctl_flag(argc, argv, &i, "limit")) != NULL) {
			ctl_req_arg(&rq, "limit", v);
		} else if ((v = ctl_flag(argc, argv, &i, "before")) != NULL) {
			ctl_req_arg(&rq, "before", v);
		} else {
			ctl_errorf("history: unexpected argument '%s'", argv[i]);
			return CTL_EXIT_USAGE;
		}
	}
	return ctl_read(c, &rq, ctl_history_table);
}

/* ctl_rollout_verb runs pause/resume/abort ROLLOUT. */
static int ctl_rollout_verb(const ctl *c, const char *verb, int argc, char **argv)
{
	ctl_req rq = { .verb = verb, .mutates = true };
	char *json = NULL;
	osp_json *j;
	int code;

	if (argc != 2 || argv[1][0] == '-') {
		ctl_errorf("%s: expected exactly one ROLLOUT", verb);
		return CTL_EXIT_USAGE;
	}
	ctl_req_arg(&rq, "rollout", argv[1]);
	code = ctl_call(c, &rq, &json, NULL, 0);
	if (code == CTL_EXIT_OK) {
		if (c->json) {
			printf("%s\n", json);
		} else if ((j = ctl_parse_json(json)) != NULL) {
			printf("rollout %s: %s\n", argv[1], osp_json_get_str(j, "state"));
			osp_json_free(j);
		}
	}
	free(json);
	return code;
}

int ctl_pause(const ctl *c, int argc, char **argv)
{
	return ctl_rollout_verb(c, "pause", argc, argv);
}

int ctl_resume(const ctl *c, int argc, char **argv)
{
	return ctl_rollout_verb(c, "resume", argc, argv);
}

int ctl_abort(const ctl *c, int argc, char **argv)
{
	return ctl_rollout_verb(c, "abort", argc, argv);
}

int ctl_rollback(const ctl *c, int argc, char **argv)
{
	ctl_req rq = { .verb = "rollback", .mutates = true };
	int wait = CTL_WAIT_NONE, w;
	int64_t timeout = 0;
	const char *target = NULL, *v;
	char *json = NULL;
	osp_json *j;
	int code;

	for (int i = 1; i < argc; i++) {
		if ((w = ctl_wait_flag(argv[i], &wait)) != 0) {
			if (w < 0) {
				ctl_errorf("rollback: --wait: expected --wait, --wait=end or "
					   "--wait=switch");
				return CTL_EXIT_USAGE;
			}
		} else if ((v = ctl_flag(argc, argv, &i, "timeout")) != NULL) {
			if (!ctl_timeout_flag("rollback", v, &timeout))
				return CTL_EXIT_USAGE;
		} else if (argv[i][0] != '-' && target == NULL) {
			target = argv[i];
		} else {
			ctl_errorf("rollback: unexpected argument '%s'", argv[i]);
			return CTL_EXIT_USAGE;
		}
	}
	if (target == NULL) {
		ctl_errorf("rollback: expected a ROLLOUT");
		return CTL_EXIT_USAGE;
	}
	ctl_req_arg(&rq, "rollout", target);
	if ((code = ctl_call(c, &rq, &json, NULL, 0)) != CTL_EXIT_OK) {
		free(json);
		return code;
	}
	if ((j = ctl_parse_json(json)) == NULL) {
		free(json);
		return CTL_EXIT_FAILED;
	}
	code = ctl_started(c, j, wait, timeout);
	osp_json_free(j);
	free(json);
	return code;
}
