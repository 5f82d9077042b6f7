/*
 * ctl_plans.c - `plan`, `apply` and `approve`: an OSpec document read here,
 * on the operator's machine (ospec_doc.h), and sent as deploy's arguments
 * plus the stages; the coordinator resolves the nodes (docs/ospec.md).
 * Flags given on the command line win over the document.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ospec/ospec_doc.h"

/* Room kept in a request for what the document adds (ctl_plan_args): up to
 * 20 deploy settings, 7 canary settings, switch-gate, stages, env, file. */
#define CTL_PLAN_DOC_ARGS 32

/* Everything one plan/apply request needs to keep alive until it is sent. */
typedef struct ctl_plan_req {
	ctl_req rq;
	osp_doc_plan doc;
	const char *file, *env;
	const char *flags[CTL_MAX_ARGS][2]; /* deploy flags given on the command line */
	size_t nflags;
	char port[16], ports[48], watch[32], hint[32], hto[32], fall[16], rise[16];
	char cinit[8], cstep[8], cmax[8], aint[32], athr[16], alat[32]; /* canary */
	char artifact[2048], secrets[OSP_DOC_MAX_SECRETS * 130], smoke[OSP_DOC_MAX_SMOKE * 280];
	osp_buf stages;
	int wait;
	int64_t timeout;
	bool bg; /* blue_green or canary: a traffic-switch gate holds the (full) switch */
	ctl_checks ck; /* --require-env, --smoke, --webhook */
	/* the document's webhooks (monitoring.alerting.channels), then --webhook's */
	char webhook[OSP_DOC_MAX_WEBHOOKS * (OSP_DOC_WEBHOOK_MAX + 1) + sizeof(ctl_checks)];
} ctl_plan_req;

static bool ctl_plan_given(const ctl_plan_req *p, const char *name)
{
	for (size_t i = 0; i < p->nflags; i++)
		if (strcmp(p->flags[i][0], name) == 0)
			return true;
	return false;
}

/* ctl_plan_default adds key=val unless the command line gave key or val is
 * empty. */
static void ctl_plan_default(ctl_plan_req *p, const char *key, const char *val)
{
	if (val != NULL && val[0] != '\0' && !ctl_plan_given(p, key))
		ctl_req_arg(&p->rq, key, val);
}

/* ctl_plan_template replaces {app} and {version} in the artifact template. */
static void ctl_plan_template(const char *tpl, const char *app, const char *version, char *out,
	size_t len)
{
	size_t o = 0;

	for (const char *s = tpl; *s != '\0' && o + 1 < len;) {
		const char *rep = NULL;
		if (strncmp(s, "{app}", 5) == 0) {
			rep = app;
			s += 5;
		} else if (strncmp(s, "{version}", 9) == 0) {
			rep = version;
			s += 9;
		}
		if (rep != NULL) {
			o += (size_t)snprintf(out + o, len - o, "%s", rep);
			if (o >= len)
				o = len - 1;
		} else {
			out[o++] = *s++;
		}
	}
	out[o] = '\0';
}

static void ctl_plan_stages_json(ctl_plan_req *p)
{
	osp_jw w;

	osp_buf_init(&p->stages, 4096);
	osp_jw_init(&w, &p->stages);
	osp_jw_arr_begin(&w);
	for (size_t i = 0; i < p->doc.nstages; i++) {
		const osp_doc_stage *s = &p->doc.stages[i];
		bool gate = s->approval || (i == 0 && p->doc.switch_approval && !p->bg);
		osp_jw_obj_begin(&w);
		osp_jw_key(&w, "name");
		osp_jw_str(&w, s->name);
		osp_jw_key(&w, "select");
		osp_jw_str(&w, s->select);
		osp_jw_key(&w, "nodes");
		osp_jw_str(&w, s->nodes);
		osp_jw_key(&w, "batch");
		osp_jw_str(&w, s->batch);
		osp_jw_key(&w, "max_failures");
		osp_jw_str(&w, s->max_failures);
		osp_jw_key(&w, "bake_ms");
		osp_jw_int(&w, s->bake_ms);
		osp_jw_key(&w, "progress_deadline_ms");
		osp_jw_int(&w, s->progress_deadline_ms);
		osp_jw_key(&w, "gate");
		osp_jw_bool(&w, gate);
		osp_jw_key(&w, "gate_why");
		osp_jw_str(&w, s->approval ? s->approval_why
					   : gate ? p->doc.switch_approval_why : "");
		osp_jw_obj_end(&w);
	}
	osp_jw_arr_end(&w);
}

/* ctl_plan_canary adds the document's canary settings (the flags given on
 * the command line win); only for a plan that runs as canary, since the
 * coordinator refuses them with another strategy. */
static void ctl_plan_canary(ctl_plan_req *p)
{
	const osp_doc_plan *d = &p->doc;

	if (d->canary_initial > 0)
		snprintf(p->cinit, sizeof(p->cinit), "%u", d->canary_initial);
	if (d->canary_step > 0)
		snprintf(p->cstep, sizeof(p->cstep), "%u", d->canary_step);
	if (d->canary_max > 0)
		snprintf(p->cmax, sizeof(p->cmax), "%u", d->canary_max);
	if (d->analysis_interval_ms > 0)
		snprintf(p->aint, sizeof(p->aint), "%lldms", (long long)d->analysis_interval_ms);
	if (d->analysis_threshold > 0)
		snprintf(p->athr, sizeof(p->athr), "%u", d->analysis_threshold);
	if (d->analysis_max_latency_ms > 0)
		snprintf(p->alat, sizeof(p->alat), "%lldms", (long long)d->analysis_max_latency_ms);
	ctl_plan_default(p, "canary-initial", p->cinit);
	ctl_plan_default(p, "canary-step", p->cstep);
	ctl_plan_default(p, "canary-max", p->cmax);
	ctl_plan_default(p, "analysis-interval", p->aint);
	ctl_plan_default(p, "analysis-threshold", p->athr);
	ctl_plan_default(p, "analysis-success-rate", d->analysis_success_rate);
	ctl_plan_default(p, "analysis-max-latency", p->alat);
}

/* ctl_plan_args turns the document (and the flags) into the request. */
static void ctl_plan_args(ctl_plan_req *p)
{
	const osp_doc_plan *d = &p->doc;
	const char *app = d->app;
	size_t o = 0;

	for (size_t i = 0; i < p->nflags; i++) {
		ctl_req_arg(&p->rq, p->flags[i][0], p->flags[i][1]);
		if (strcmp(p->flags[i][0], "app") == 0)
			app = p->flags[i][1];
	}
	ctl_plan_default(p, "app", d->app);
	ctl_plan_default(p, "run", d->run);
	if (d->port > 0)
		snprintf(p->port, sizeof(p->port), "%u", d->port);
	if (d->blue_port > 0 && d->green_port > 0)
		snprintf(p->ports, sizeof(p->ports), "blue=%u,green=%u", d->blue_port, d->green_port);
	if (!ctl_plan_given(p, "ports"))
		ctl_plan_default(p, "port", p->port);
	if (!ctl_plan_given(p, "port"))
		ctl_plan_default(p, "ports", p->ports);
	if (d->artifact[0] != '\0') {
		const char *version = NULL;
		for (size_t i = 0; i < p->rq.nargs; i++)
			if (strcmp(p->rq.keys[i], "version") == 0)
				version = p->rq.vals[i];
		ctl_plan_template(d->artifact, app, version ? version : "", p->artifact,
			sizeof(p->artifact));
		ctl_plan_default(p, "artifact", p->artifact);
	}
	ctl_plan_default(p, "strategy", d->strategy);
	ctl_plan_default(p, "select", d->select);
	ctl_plan_default(p, "batch", d->batch);
	ctl_plan_default(p, "max-failures", d->max_failures);
	if (d->watch_ms >= 0) {
		snprintf(p->watch, sizeof(p->watch), "%lldms", (long long)d->watch_ms);
		ctl_plan_default(p, "watch", p->watch);
	}
	ctl_plan_default(p, "health-path", d->health_path);
	if (d->health_interval_ms > 0) {
		snprintf(p->hint, sizeof(p->hint), "%lldms", (long long)d->health_interval_ms);
		ctl_plan_default(p, "health-interval", p->hint);
	}
	if (d->health_timeout_ms > 0) {
		snprintf(p->hto, sizeof(p->hto), "%lldms", (long long)d->health_timeout_ms);
		ctl_plan_default(p, "health-timeout", p->hto);
	}
	if (d->health_fall > 0) {
		snprintf(p->fall, sizeof(p->fall), "%u", d->health_fall);
		ctl_plan_default(p, "health-fall", p->fall);
	}
	if (d->health_rise > 0) {
		snprintf(p->rise, sizeof(p->rise), "%u", d->health_rise);
		ctl_plan_default(p, "health-rise", p->rise);
	}
	for (size_t i = 0; i < d->nsecrets; i++)
		o += (size_t)snprintf(p->secrets + o, sizeof(p->secrets) - o, "%s%s", i ? "," : "",
			d->secrets[i]);
	ctl_plan_default(p, "require-env", p->secrets);
	o = 0;
	for (size_t i = 0; i < d->nsmoke; i++)
		o += (size_t)snprintf(p->smoke + o, sizeof(p->smoke) - o, "%s%s %s %u", i ? ";" : "",
			d->smoke[i].method, d->smoke[i].path, d->smoke[i].status);
	ctl_plan_default(p, "smoke", p->smoke);
	/* webhooks add up: the document's and the command line's */
	o = 0;
	for (size_t i = 0; i < d->nwebhooks; i++)
		o += (size_t)snprintf(p->webhook + o, sizeof(p->webhook) - o, "%s%s", o ? " " : "",
			d->webhooks[i]);
	if (p->ck.webhook[0] != '\0')
		snprintf(p->webhook + o, sizeof(p->webhook) - o, "%s%s", o ? " " : "", p->ck.webhook);
	if (p->webhook[0] != '\0')
		ctl_req_arg(&p->rq, "webhook", p->webhook);
	for (size_t i = 0; i < p->rq.nargs; i++) {
		if (strcmp(p->rq.keys[i], "strategy") != 0)
			continue;
		p->bg = strcmp(p->rq.vals[i], "blue_green") == 0 ||
			strcmp(p->rq.vals[i], "canary") == 0;
		if (strcmp(p->rq.vals[i], "canary") == 0)
			ctl_plan_canary(p);
	}
	if (p->bg && d->switch_approval)
		ctl_req_arg(&p->rq, "switch-gate", "true");
	ctl_plan_stages_json(p);
	ctl_req_arg(&p->rq, "stages", p->stages.data != NULL ? p->stages.data : "[]");
	if (p->env != NULL)
		ctl_req_arg(&p->rq, "env", p->env);
	ctl_req_arg(&p->rq, "file", p->file);
}

/* ctl_plan_parse reads the flags of plan/apply and the document; returns -1
 * to go on, else the exit code. */
static int ctl_plan_parse(const char *verb, ctl_plan_req *p, int argc, char **argv, bool apply)
{
	osp_doc_findings f = { 0 };
	osp_err rv;

	for (int i = 1; i < argc; i++) {
		const char *v = NULL;
		int w;
		size_t k;

		if (apply && (w = ctl_wait_flag(argv[i], &p->wait)) != 0) {
			if (w < 0) {
				ctl_errorf("%s: --wait: expected --wait, --wait=end or --wait=switch", verb);
				return CTL_EXIT_USAGE;
			}
			continue;
		}
		if (strcmp(argv[i], "-f") == 0 && i + 1 < argc) {
			p->file = argv[++i];
			continue;
		}
		if ((v = ctl_flag(argc, argv, &i, "file")) != NULL) {
			p->file = v;
			continue;
		}
		if ((v = ctl_flag(argc, argv, &i, "env")) != NULL) {
			p->env = v;
			continue;
		}
		if (apply && (v = ctl_flag(argc, argv, &i, "timeout")) != NULL) {
			if (!ctl_timeout_flag(verb, v, &p->timeout))
				return CTL_EXIT_USAGE;
			continue;
		}
		if ((w = ctl_checks_flag(&p->ck, verb, argc, argv, &i)) != 0) {
			if (w < 0)
				return CTL_EXIT_USAGE;
			continue;
		}
		if (strcmp(argv[i], "--no-auto-rollback") == 0 &&
			p->nflags < CTL_MAX_ARGS - CTL_PLAN_DOC_ARGS) {
			p->flags[p->nflags][0] = "no-auto-rollback";
			p->flags[p->nflags++][1] = "true";
			continue;
		}
		if (apply && strcmp(argv[i], "--queue") == 0) {
			ctl_errorf("%s: --queue: a plan starts only when its app has no rollout or plan "
				"in progress; wait for it, or abort it", verb);
			return CTL_EXIT_USAGE;
		}
		for (k = 0; ctl_deploy_flags[k] != NULL; k++)
			if ((v = ctl_flag(argc, argv, &i, ctl_deploy_flags[k])) != NULL)
				break;
		if (v == NULL || p->nflags >= CTL_MAX_ARGS - CTL_PLAN_DOC_ARGS) {
			ctl_errorf("%s: unexpected argument '%s' (see 'ospecctl %s --help')", verb,
				argv[i], verb);
			return CTL_EXIT_USAGE;
		}
		p->flags[p->nflags][0] = ctl_deploy_flags[k];
		p->flags[p->nflags++][1] = v;
	}
	/* the check flags replace the document's secrets / smoke checks */
	if (p->ck.env[0] != '\0') {
		p->flags[p->nflags][0] = "require-env";
		p->flags[p->nflags++][1] = p->ck.env;
	}
	if (p->ck.smoke[0] != '\0') {
		p->flags[p->nflags][0] = "smoke";
		p->flags[p->nflags++][1] = p->ck.smoke;
	}
	if (p->file == NULL) {
		ctl_errorf("%s: -f FILE is required (an OSpec document)", verb);
		return CTL_EXIT_USAGE;
	}
	if (!ctl_plan_given(p, "version")) {
		ctl_errorf("%s: --version V is required", verb);
		return CTL_EXIT_USAGE;
	}
	rv = osp_doc_load(p->file, p->env, &p->doc, &f);
	/* warnings go to stderr, never stdout: the rollout id is stdout's first line */
	osp_doc_findings_print(&f, stderr);
	osp_doc_findings_free(&f);
	if (rv != OSP_OK) {
		ctl_errorf("%s: %s is not a valid plan (ospecctl validate -f %s)", verb, p->file,
			p->file);
		return CTL_EXIT_FAILED;
	}
	ctl_plan_args(p);
	return -1;
}

static void ctl_plan_print(const ctl_plan_req *p, const osp_json *j)
{
	const osp_json *stages = osp_json_get(j, "stages");

	printf("plan: %s %s (%s), %lld nodes in %zu stage%s%s%s\n", osp_json_get_str(j, "app"),
		osp_json_get_str(j, "version"), osp_json_get_str(j, "strategy"),
		(long long)osp_json_get_int(j, "nodes_total", 0), stages ? stages->n : 0,
		stages && stages->n == 1 ? "" : "s", p->env ? ", env " : "", p->env ? p->env : "");
	for (size_t i = 0; stages != NULL && i < stages->n; i++) {
		const osp_json *s = stages->items[i], *nodes = osp_json_get(s, "nodes");
		const char *sel = osp_json_get_str(s, "select");
		long long bake = osp_json_get_int(s, "bake_ms", 0);
		char bk[32];

		osp_duration_fmt(bake, bk, sizeof(bk));
		if (osp_json_get(s, "gate") != NULL && osp_json_get(s, "gate")->b)
			printf("  gate: approval before stage %s (%s)\n", osp_json_get_str(s, "name"),
				osp_json_get_str(s, "gate_why"));
		printf("  stage %zu %s: %lld node%s (%s), batch %s, max failures %s, bake %s\n", i + 1,
			osp_json_get_str(s, "name"), (long long)osp_json_get_int(s, "nodes_total", 0),
			osp_json_get_int(s, "nodes_total", 0) == 1 ? "" : "s",
			sel && sel[0] ? sel : "every node", osp_json_get_str(s, "batch_size"),
			osp_json_get_str(s, "max_failures"), bk);
		for (size_t k = 0; nodes != NULL && k < nodes->n; k++)
			printf("    batch %lld: %s\n", (long long)osp_json_get_int(nodes->items[k], "batch", 0),
				osp_json_get_str(nodes->items[k], "node"));
	}
	if (p->doc.nnotes > 0)
		printf("from the document:\n");
	for (size_t i = 0; i < p->doc.nnotes; i++)
		printf("  %s -> %s\n", p->doc.notes[i].key, p->doc.notes[i].became);
	if (osp_json_get(j, "switch_gate") != NULL && osp_json_get(j, "switch_gate")->b)
		printf("gate: approval before the %s (%s)\n",
			strcmp(osp_json_get_str(j, "strategy"), "canary") == 0 ?
			"promotion, after the last canary weight" : "first traffic switch",
			p->doc.switch_approval_why);
}

/* ctl_plan_json prints the coordinator's plan with the document's notes. */
static void ctl_plan_json(const ctl_plan_req *p, const char *json)
{
	size_t l = strlen(json);
	osp_buf b;
	osp_jw w;

	while (l > 0 && json[l - 1] != '}')
		l--;
	if (l == 0) {
		printf("%s\n", json);
		return;
	}
	osp_buf_init(&b, 4096);
	osp_jw_init(&w, &b);
	osp_jw_arr_begin(&w);
	for (size_t i = 0; i < p->doc.nnotes; i++) {
		osp_jw_obj_begin(&w);
		osp_jw_key(&w, "key");
		osp_jw_str(&w, p->doc.notes[i].key);
		osp_jw_key(&w, "became");
		osp_jw_str(&w, p->doc.notes[i].became);
		osp_jw_obj_end(&w);
	}
	osp_jw_arr_end(&w);
	printf("%.*s, \"notes\": %s}\n", (int)(l - 1), json, b.data ? b.data : "[]");
	osp_buf_fini(&b);
}

/* ctl_plan_run is plan (apply false: print what would run) and apply. */
static int ctl_plan_run(const ctl *c, int argc, char **argv, bool apply)
{
	ctl_plan_req *p = calloc(1, sizeof(*p));
	const char *verb = apply ? "apply" : "plan";
	char *json = NULL;
	osp_json *j = NULL;
	int code;

	if (p == NULL)
		return CTL_EXIT_FAILED;
	p->rq.verb = verb;
	p->rq.mutates = apply;
	if ((code = ctl_plan_parse(verb, p, argc, argv, apply)) >= 0)
		goto out;
	if ((code = ctl_call(c, &p->rq, &json, NULL, 0)) != CTL_EXIT_OK)
		goto out;
	if (!apply && c->json) {
		ctl_plan_json(p, json);
		goto out;
	}
	if ((j = ctl_parse_json(json)) == NULL)
		code = CTL_EXIT_FAILED;
	else if (apply)
		code = ctl_started(c, j, p->wait, p->timeout);
	else
		ctl_plan_print(p, j);
	osp_json_free(j);
out:
	free(json);
	osp_buf_fini(&p->stages);
	free(p);
	return code;
}

int ctl_plan(const ctl *c, int argc, char **argv)
{
	return ctl_plan_run(c, argc, argv, false);
}

int ctl_apply(const ctl *c, int argc, char **argv)
{
	return ctl_plan_run(c, argc, argv, true);
}

int ctl_approve(const ctl *c, int argc, char **argv)
{
	ctl_req rq = { .verb = "approve", .mutates = true };
	const char *id = NULL;
	char *json = NULL;
	osp_json *j;
	int code;

	for (int i = 1; i < argc; i++) {
		const char *v;
		if ((v = ctl_flag(argc, argv, &i, "stage")) != NULL) {
			ctl_req_arg(&rq, "stage", v);
		} else if (argv[i][0] != '-' && id == NULL) {
			id = argv[i];
		} else {
			ctl_errorf("approve: unexpected argument '%s' (usage: approve ROLLOUT "
				"[--stage S])", argv[i]);
			return CTL_EXIT_USAGE;
		}
	}
	if (id == NULL) {
		ctl_errorf("approve: expected a ROLLOUT (a plan's id)");
		return CTL_EXIT_USAGE;
	}
	ctl_req_arg(&rq, "rollout", id);
	if ((code = ctl_call(c, &rq, &json, NULL, 0)) != CTL_EXIT_OK) {
		free(json);
		return code;
	}
	if (c->json)
		printf("%s\n", json);
	else if ((j = ctl_parse_json(json)) != NULL) {
		printf("%s: approved, %s\n", osp_json_get_str(j, "id"), osp_json_get_str(j, "state"));
		osp_json_free(j);
	}
	free(json);
	return CTL_EXIT_OK;
}

void ctl_print_plan(const osp_json *p)
{
	const osp_json *stages = osp_json_get(p, "stages");
	const char *hdr[] = { "STAGE", "STATE", "ROLLOUT", "NODES", "FAILED", "GATE" };
	const char *reason = osp_json_get_str(p, "reason");
	ctl_table t;

	printf("plan %s: %s %s %s (%s)%s%s\n", osp_json_get_str(p, "id"), osp_json_get_str(p, "app"),
		osp_json_get_str(p, "version"), osp_json_get_str(p, "state"),
		osp_json_get_str(p, "strategy"), osp_json_get_str(p, "env")[0] ? ", env " : "",
		osp_json_get_str(p, "env"));
	printf("  created %s by %s; nodes %lld, done %lld, failed %lld\n",
		osp_json_get_str(p, "created"), osp_json_get_str(p, "actor"),
		(long long)osp_json_get_int(p, "nodes_total", 0),
		(long long)osp_json_get_int(p, "nodes_done", 0),
		(long long)osp_json_get_int(p, "nodes_failed", 0));
	if (reason != NULL && reason[0] != '\0') {
		char line[512];
		ctl_one_line(reason, line, sizeof(line));
		printf("  reason: %s\n", line);
	}
	ctl_table_init(&t, 6);
	ctl_table_row(&t, hdr);
	for (size_t i = 0; stages != NULL && i < stages->n; i++) {
		const osp_json *s = stages->items[i];
		const osp_json *g = osp_json_get(s, "gate");
		const char *by = osp_json_get_str(s, "approved_by");
		char nodes[48], failed[24], gate[160];
		const char *row[6];

		snprintf(nodes, sizeof(nodes), "%lld/%lld", (long long)osp_json_get_int(s, "nodes_done", 0),
			(long long)osp_json_get_int(s, "nodes_total", 0));
		snprintf(failed, sizeof(failed), "%lld", (long long)osp_json_get_int(s, "nodes_failed", 0));
		if (g == NULL || !g->b)
			snprintf(gate, sizeof(gate), "-");
		else if (by != NULL && by[0] != '\0')
			snprintf(gate, sizeof(gate), "approved by %s", by);
		else
			snprintf(gate, sizeof(gate), "approval (%s)", osp_json_get_str(s, "gate_why"));
		row[0] = osp_json_get_str(s, "name");
		row[1] = osp_json_get_str(s, "state");
		row[2] = osp_json_get_str(s, "rollout")[0] ? osp_json_get_str(s, "rollout") : "-";
		row[3] = nodes;
		row[4] = failed;
		row[5] = gate;
		ctl_table_row(&t, row);
	}
	ctl_table_print(&t);
	ctl_table_fini(&t);
	if (strcmp(osp_json_get_str(p, "state"), "waiting_approval") == 0)
		printf("waiting for approval of stage %s: ospecctl approve %s\n",
			osp_json_get_str(p, "waiting_stage"), osp_json_get_str(p, "id"));
}
