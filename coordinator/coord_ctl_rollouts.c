/* coord_ctl_rollouts.c - control verbs about rollouts: deploy, rollouts,
 * status, history, pause, resume, abort (rollback: coord_ctl_rollback.c),
 * and the helpers both files use (coord_control.h). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_control.h"
#include "coord_ctl_checks.h"
#include "coord_plans.h"
#include "coord_releases.h"
#include "coord_rollouts.h"
#include "coord_webhooks.h"

int coord_ctl_count(const char *s, uint32_t min, uint32_t max, uint32_t *n, bool *pct)
{
	char buf[32];
	size_t l;
	uint64_t v;

	if (s == NULL || (l = strlen(s)) == 0 || l >= sizeof(buf))
		return -1;
	osp_strlcpy(buf, s, sizeof(buf));
	*pct = buf[l - 1] == '%';
	if (*pct)
		buf[l - 1] = '\0';
	if (osp_u64_parse(buf, *pct ? 0 : min, *pct ? 100 : max, &v) != OSP_OK)
		return -1;
	if (*pct && v == 0 && min > 0)
		return -1;
	*n = (uint32_t)v;
	return 0;
}

static bool coord_ctl_hex64(const char *s)
{
	if (s == NULL || strlen(s) != 64)
		return false;
	for (size_t i = 0; i < 64; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return false;
	return true;
}


/* coord_ctl_ms reads an optional duration argument (with a default) of 1 ms
 * to max_ms: every max fits the record's field (32 bits for the health
 * settings), so nothing is cut to its low bits on the way. */
int coord_ctl_ms(coord_ctl_req *rq, const char *key, const char *def, int64_t max_ms,
	int64_t *ms, char *err, size_t errlen)
{
	const char *v = coord_ctl_arg(rq, key);
	char hi[32], shown[80];

	if (v == NULL)
		v = def;
	if (osp_duration_parse(v, ms) != OSP_OK || *ms <= 0 || *ms > max_ms) {
		osp_duration_fmt(max_ms, hi, sizeof(hi));
		osp_str_show(v, shown, sizeof(shown));
		snprintf(err, errlen, "--%s: expected a duration from 1ms to %s, got '%s'", key,
			hi, shown);
		return -1;
	}
	return 0;
}

int coord_ctl_u32(coord_ctl_req *rq, const char *key, const char *def, uint32_t min,
	uint32_t max, uint32_t *out, char *err, size_t errlen)
{
	const char *v = coord_ctl_arg(rq, key);
	uint64_t n;

	if (v == NULL)
		v = def;
	if (osp_u64_parse(v, min, max, &n) != OSP_OK) {
		char shown[80];
		snprintf(err, errlen, "--%s: expected a number %u..%u, got '%s'", key, min, max,
			osp_str_show(v, shown, sizeof(shown)));
		return -1;
	}
	*out = (uint32_t)n;
	return 0;
}

static char *coord_ctl_dup(coord_ctl_req *rq, const char *key)
{
	const char *v = coord_ctl_arg(rq, key);

	return v ? strdup(v) : NULL;
}

/* coord_ctl_watch reads the post-deploy watch: --watch D, or for blue-green
 * its older name --rollback-window D (both: they must agree). Default 2m,
 * blue-green 5m; 0 means no watch. */
static int coord_ctl_watch(coord_ctl_req *rq, coord_ro_strategy st, int64_t *ms, char *err,
	size_t errlen)
{
	const char *w = coord_ctl_arg(rq, "watch"), *rw = coord_ctl_arg(rq, "rollback-window");
	int64_t a = 0, b = 0;

	if (w != NULL && (osp_duration_parse(w, &a) != OSP_OK || a < 0 || a > 7LL * 86400000)) {
		snprintf(err, errlen, "--watch: expected a duration from 0 to 7d, got '%s'", w);
		return -1;
	}
	if (rw != NULL && (osp_duration_parse(rw, &b) != OSP_OK || b < 0 || b > 7LL * 86400000)) {
		snprintf(err, errlen, "--rollback-window: expected a duration from 0 to 7d, got '%s'",
			rw);
		return -1;
	}
	if (w != NULL && rw != NULL && a != b) {
		snprintf(err, errlen, "--watch and --rollback-window are one setting: give one");
		return -1;
	}
	if (w != NULL)
		*ms = a;
	else if (rw != NULL)
		*ms = b;
	else
		*ms = coord_ro_slotted(st) ? 5 * 60000 : 2 * 60000;
	return 0;
}

/* coord_ctl_ports parses "blue=N,green=M". */
static int coord_ctl_ports(const char *s, uint32_t *blue, uint32_t *green)
{
	unsigned b = 0, g = 0;
	int n = 0;

	if (sscanf(s, "blue=%u,green=%u%n", &b, &g, &n) != 2 || s[n] != '\0')
		return -1;
	if (b == 0 || b > 65535 || g == 0 || g > 65535 || b == g)
		return -1;
	*blue = b;
	*green = g;
	return 0;
}

/* coord_ctl_deploy_rec validates the deploy arguments into a new record. */
Ospec__V1__RolloutRecord *coord_ctl_deploy_rec(coord_ctl_req *rq, char *err, size_t errlen)
{
	Ospec__V1__RolloutRecord *r = calloc(1, sizeof(*r));
	const char *app = coord_ctl_arg(rq, "app"), *ver = coord_ctl_arg(rq, "version");
	const char *url = coord_ctl_arg(rq, "artifact"), *sha = coord_ctl_arg(rq, "sha256");
	const char *run = coord_ctl_arg(rq, "run"), *strat = coord_ctl_arg(rq, "strategy");
	const char *port = coord_ctl_arg(rq, "port"), *ports = coord_ctl_arg(rq, "ports");
	coord_ro_strategy st = COORD_RO_ROLLING;
	uint32_t n;
	int64_t ms;
	bool pct;

	if (r == NULL)
		return NULL;
	ospec__v1__rollout_record__init(r);
	if (app == NULL || !osp_valid_id(app) || strlen(app) > 40) {
		snprintf(err, errlen, "--app: expected 1-40 characters of A-Z a-z 0-9 . _ -");
		goto fail;
	}
	if (ver == NULL || !osp_wire_valid_version(ver)) {
		snprintf(err, errlen, "--version: expected 1-128 characters of A-Z a-z 0-9 . _ + -");
		goto fail;
	}
	if (url == NULL || strlen(url) > OSP_WIRE_MAX_URL ||
		(strncmp(url, "file://", 7) != 0 && strncmp(url, "http://", 7) != 0 &&
			strncmp(url, "https://", 8) != 0)) {
		snprintf(err, errlen, "--artifact: expected a file://, http:// or https:// URL");
		goto fail;
	}
	if (!coord_ctl_hex64(sha)) {
		snprintf(err, errlen, "--sha256: expected 64 lowercase hex digits");
		goto fail;
	}
	if (run == NULL || run[0] == '\0' || strlen(run) > OSP_WIRE_MAX_RUN) {
		snprintf(err, errlen, "--run: expected the command line that starts the app");
		goto fail;
	}
	if (strat != NULL && coord_ro_strategy_parse(strat, &st) != 0) {
		snprintf(err, errlen, "--strategy: expected rolling, blue_green, canary or recreate");
		goto fail;
	}
	if (coord_ro_slotted(st) && ports == NULL) {
		snprintf(err, errlen, "--strategy %s needs --ports blue=N,green=M",
			coord_ro_strategy_name(st));
		goto fail;
	}
	r->strategy = st;
	r->has_strategy = 1;
	if (ports != NULL && coord_ctl_ports(ports, &r->blue_port, &r->green_port) != 0) {
		snprintf(err, errlen, "--ports: expected blue=PORT,green=PORT");
		goto fail;
	}
	if (port != NULL) {
		if (coord_ctl_u32(rq, "port", "0", 1, 65535, &r->port, err, errlen) != 0)
			goto fail;
		r->has_port = 1;
	} else if (ports == NULL) {
		snprintf(err, errlen, "--port N (or --ports blue=N,green=M) is required");
		goto fail;
	}
	if (coord_ctl_count(coord_ctl_arg(rq, "batch") ? coord_ctl_arg(rq, "batch") : "1", 1,
		    100000, &n, &pct) != 0) {
		snprintf(err, errlen, "--batch: expected a count >= 1 or a percentage 1%%..100%%");
		goto fail;
	}
	r->batch = n;
	r->batch_pct = pct;
	r->has_batch = r->has_batch_pct = 1;
	if (coord_ctl_count(coord_ctl_arg(rq, "max-failures") ? coord_ctl_arg(rq, "max-failures")
							       : "0",
		    0, 100000, &n, &pct) != 0) {
		snprintf(err, errlen, "--max-failures: expected a count or a percentage 0%%..100%%");
		goto fail;
	}
	r->max_failures = n;
	r->max_failures_pct = pct;
	r->has_max_failures = r->has_max_failures_pct = 1;
	r->health_path = strdup(coord_ctl_arg(rq, "health-path") ? coord_ctl_arg(rq, "health-path")
								  : "/health");
	if (r->health_path[0] != '/' || strlen(r->health_path) > OSP_WIRE_MAX_PATH) {
		snprintf(err, errlen, "--health-path: expected a path starting with '/'");
		goto fail;
	}
	if (coord_ctl_ms(rq, "health-interval", "500ms", COORD_CTL_HOUR, &ms, err, errlen) != 0)
		goto fail;
	r->health_interval_ms = (uint32_t)ms;
	if (coord_ctl_ms(rq, "health-timeout", "2s", COORD_CTL_HOUR, &ms, err, errlen) != 0)
		goto fail;
	r->health_timeout_ms = (uint32_t)ms;
	if (coord_ctl_ms(rq, "health-deadline", "60s", COORD_CTL_DAY, &ms, err, errlen) != 0)
		goto fail;
	r->health_deadline_ms = (uint32_t)ms;
	if (coord_ctl_u32(rq, "health-rise", "2", 1, 100, &r->health_rise, err, errlen) != 0 ||
		coord_ctl_u32(rq, "health-fall", "3", 1, 100, &r->health_fall, err, errlen) != 0)
		goto fail;
	r->has_health_interval_ms = r->has_health_timeout_ms = r->has_health_deadline_ms = 1;
	r->has_health_rise = r->has_health_fall = 1;
	if (coord_ctl_ms(rq, "progress-deadline", "10m", 7 * COORD_CTL_DAY,
		    &r->progress_deadline_ms, err, errlen) != 0 ||
		coord_ctl_watch(rq, st, &r->rollback_window_ms, err, errlen) != 0 ||
		coord_ctl_ms(rq, "scale-down-delay", "10m", 7 * COORD_CTL_DAY,
			&r->scale_down_delay_ms, err, errlen) != 0)
		goto fail;
	r->has_no_auto_rollback = 1;
	r->no_auto_rollback = coord_ctl_arg(rq, "no-auto-rollback") != NULL &&
		strcmp(coord_ctl_arg(rq, "no-auto-rollback"), "true") == 0;
	if (coord_ctl_ms(rq, "prepare-deadline", "30s", COORD_CTL_DAY, &r->prepare_deadline_ms,
		    err, errlen) != 0)
		goto fail;
	r->has_prepare_deadline_ms = 1;
	r->has_progress_deadline_ms = r->has_rollback_window_ms = r->has_scale_down_delay_ms = 1;
	if (coord_ro_slotted(st) && r->scale_down_delay_ms <= r->rollback_window_ms) {
		snprintf(err, errlen,
			"--scale-down-delay must be longer than --watch (the old slot is "
			"what a switch back needs)");
		goto fail;
	}
	if (r->progress_deadline_ms <= (int64_t)r->health_deadline_ms) {
		snprintf(err, errlen,
			"--progress-deadline must be longer than --health-deadline (a node needs "
			"time to fetch and check)");
		goto fail;
	}
	r->app = strdup(app);
	r->version = strdup(ver);
	r->artifact = strdup(url);
	r->sha256 = strdup(sha);
	r->run = strdup(run);
	r->select = coord_ctl_dup(rq, "select");
	if (r->select != NULL && r->select[0] != '\0') {
		osp_labels sel = { 0 };
		osp_err bad = osp_labels_parse_list(&sel, r->select);
		osp_labels_fini(&sel);
		if (bad != OSP_OK) {
			char shown[160];
			snprintf(err, errlen, "--select: expected K=V[,K=V...], got '%s'",
				osp_str_show(r->select, shown, sizeof(shown)));
			goto fail;
		}
	}
	if (coord_ctl_checks(rq, r, err, errlen) != 0 || /* --require-env, --smoke */
		coord_ctl_canary(rq, r, err, errlen) != 0 || /* --canary-*, --analysis-* */
		coord_wh_args(coord_ctl_arg(rq, "webhook"), r, err, errlen) != 0) /* --webhook */
		goto fail;
	return r;
fail:
	ospec__v1__rollout_record__free_unpacked(r, NULL);
	return NULL;
}

/* coord_verb_dry_run builds the rollout in the request's transaction, prints
 * the plan, and has the transaction thrown away (nothing is stored, nothing
 * is started). */
static int coord_verb_dry_run(coord *c, coord_ctl_req *rq, Ospec__V1__RolloutRecord *rec,
	osp_buf *json, char *err, size_t errlen)
{
	coord_ro_entry *e = NULL;
	Ospec__V1__RolloutRecord *stored = NULL;
	osp_jw w;
	int status = 1;

	rq->discard = true;
	rq->on_abort = coord_rollouts_reload_hook; /* memory follows the store */
	rec->state = COORD_RO_PENDING;
	/* why it would be refused (e.g. required secrets missing) is said */
	if (coord_rollouts_create(c, rq->txn, rec, true, "dry-run", &e, err, errlen) != OSP_OK)
		return 1;
	if (coord_rollout_get(c, rq->txn, e->ro.id, &stored) == OSP_OK) {
		osp_jw_init(&w, json);
		coord_json_rollout(c, &w, stored, true);
		ospec__v1__rollout_record__free_unpacked(stored, NULL);
		status = 0;
	}
	return status;
}

static int coord_verb_deploy_one(coord *c, coord_ctl_req *rq, osp_buf *json, char *err,
	size_t errlen)
{
	Ospec__V1__RolloutRecord *rec = coord_ctl_deploy_rec(rq, err, errlen);
	const char *q = coord_ctl_arg(rq, "queue"), *dry = coord_ctl_arg(rq, "dry-run");
	coord_ro_entry *running, *e = NULL;
	char id[64];
	uint64_t seq = 0;
	osp_jw w;

	if (rec == NULL)
		return 2;
	rec->actor = strdup(rq->actor);
	rec->created_ms = osp_now_wall_ms();
	rec->has_created_ms = 1;
	/* a version names one release: a usage error, before anything else */
	if (coord_releases_check(c, rq->txn, rec->app, rec->version, rec->sha256, err,
		    errlen) == OSP_EEXIST) {
		ospec__v1__rollout_record__free_unpacked(rec, NULL);
		return 2;
	}
	if (dry != NULL && strcmp(dry, "true") == 0) {
		rec->id = strdup("dry-run");
		return coord_verb_dry_run(c, rq, rec, json, err, errlen);
	}
	if (coord_plans_active(rq->txn, rec->app, id, sizeof(id))) {
		snprintf(err, errlen, "app '%s' has plan '%s' in progress: wait for it or abort it",
			rec->app, id);
		ospec__v1__rollout_record__free_unpacked(rec, NULL);
		return 1;
	}
	running = coord_rollouts_active(c, rec->app);
	if (running != NULL && (q == NULL || strcmp(q, "true") != 0)) {
		snprintf(err, errlen,
			"app '%s' already has rollout '%s' (%s): wait for it, abort it, or use --queue",
			rec->app, running->ro.id, coord_ro_state_name(running->ro.state));
		ospec__v1__rollout_record__free_unpacked(rec, NULL);
		return 1;
	}
	if (coord_rollouts_next_seq(c, rq->txn, &seq) != OSP_OK) {
		snprintf(err, errlen, "cannot number the rollout");
		ospec__v1__rollout_record__free_unpacked(rec, NULL);
		return 1;
	}
	snprintf(id, sizeof(id), "%s-%llu", rec->app, (unsigned long long)seq);
	rec->id = strdup(id);
	rec->created_seq = seq;
	rec->has_created_seq = 1;
	rec->state = COORD_RO_PENDING;
	rq->on_abort = coord_rollouts_reload_hook;
	rq->after_commit = coord_rollouts_after_commit_hook;
	if (coord_rollouts_create(c, rq->txn, rec, running != NULL, rq->actor, &e, err, errlen) !=
		OSP_OK)
		return 1;
	osp_jw_init(&w, json);
	osp_jw_obj_begin(&w);
	coord_jw_kv(&w, "id", e->ro.id);
	coord_jw_kv(&w, "state", coord_ro_state_name(e->ro.state));
	osp_jw_key(&w, "nodes");
	osp_jw_uint(&w, e->ro.nsteps);
	osp_jw_obj_end(&w);
	return 0;
}

int coord_verb_deploy(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen)
{
	if (coord_ctl_arg(rq, "canary") != NULL)
		return coord_ctl_deploy_canary(c, rq, json, err, errlen);
	if (coord_ctl_arg(rq, "canary-bake") != NULL ||
		(coord_ctl_arg(rq, "canary-approval") != NULL &&
			(coord_ctl_arg(rq, "strategy") == NULL ||
				strcmp(coord_ctl_arg(rq, "strategy"), "canary") != 0))) {
		snprintf(err, errlen, "--canary-bake needs --canary N; --canary-approval needs "
			"--canary N or --strategy canary");
		return 2;
	}
	return coord_verb_deploy_one(c, rq, json, err, errlen);
}

int coord_ctl_rollout_arg(coord *c, coord_ctl_req *rq, osp_txn *t,
	Ospec__V1__RolloutRecord **out, char *err, size_t errlen)
{
	const char *id = coord_ctl_arg(rq, "rollout");
	char shown[160];

	if (id == NULL || id[0] == '\0') {
		snprintf(err, errlen, "a rollout id is required");
		return 2;
	}
	if (coord_rollout_get(c, t, id, out) != OSP_OK) {
		/* shown escaped: the id is whatever the operator typed */
		snprintf(err, errlen, "rollout '%s' is not known",
			osp_str_show(id, shown, sizeof(shown)));
		return 4;
	}
	return 0;
}

int coord_verb_status(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen)
{
	Ospec__V1__RolloutRecord *r = NULL;
	osp_txn *t = NULL;
	osp_jw w;
	int status;

	if (coord_ctl_arg(rq, "rollout") != NULL) {
		int st = coord_ctl_plan_status(c, coord_ctl_arg(rq, "rollout"), json);
		if (st == 0)
			return 0; /* a plan */
		if (st == 1) {
			char shown[160];
			snprintf(err, errlen, "plan '%s' cannot be read from the store (see the "
				"coordinator's log)",
				osp_str_show(coord_ctl_arg(rq, "rollout"), shown, sizeof(shown)));
			return 1;
		}
	}
	if (osp_store_txn_begin(c->store, false, &t) != OSP_OK)
		return 1;
	status = coord_ctl_rollout_arg(c, rq, t, &r, err, errlen);
	osp_store_txn_abort(t);
	if (status != 0)
		return status;
	osp_jw_init(&w, json);
	coord_json_rollout(c, &w, r, true);
	ospec__v1__rollout_record__free_unpacked(r, NULL);
	return 0;
}

static int coord_ctl_list_cb(void *arg, Ospec__V1__RolloutRecord *r)
{
	struct coord_ctl_list *l = arg;

	if ((l->app != NULL && strcmp(l->app, r->app) != 0) || l->n >= l->cap ||
		(l->t != NULL && coord_ro_steps_read(l->t, r) != OSP_OK)) {
		ospec__v1__rollout_record__free_unpacked(r, NULL);
		return 0;
	}
	l->v[l->n++] = r;
	return 0;
}

osp_err coord_ctl_list_read(osp_txn *t, struct coord_ctl_list *l)
{
	return coord_ro_rec_foreach(t, coord_ctl_list_cb, l);
}

int coord_ctl_by_seq_desc(const void *a, const void *b)
{
	const Ospec__V1__RolloutRecord *x = *(Ospec__V1__RolloutRecord *const *)a;
	const Ospec__V1__RolloutRecord *y = *(Ospec__V1__RolloutRecord *const *)b;

	return x->created_seq < y->created_seq ? 1 : x->created_seq > y->created_seq ? -1 : 0;
}

int coord_verb_rollouts(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen)
{
	struct coord_ctl_list l = { .cap = 100000, .app = coord_ctl_arg(rq, "app") };
	osp_txn *t = NULL;
	osp_jw w;
	size_t limit = 200;

	Ospec__V1__PlanRecord **plans = NULL;
	size_t np = 0, ip = 0, ir = 0;

	(void)err;
	(void)errlen;
	if ((l.v = calloc(l.cap, sizeof(*l.v))) == NULL)
		return 1;
	if (osp_store_txn_begin(c->store, false, &t) != OSP_OK) {
		free(l.v);
		return 1;
	}
	l.t = t; /* the list counts done and failed nodes */
	coord_ctl_list_read(t, &l);
	np = coord_ctl_plans_list(t, l.app, limit, &plans);
	qsort(l.v, l.n, sizeof(*l.v), coord_ctl_by_seq_desc);
	osp_jw_init(&w, json);
	osp_jw_arr_begin(&w);
	/* rollouts and plans, newest first (one numbering for both) */
	while ((ir < l.n || ip < np) && ir + ip < limit) {
		if (ip < np && (ir >= l.n || plans[ip]->created_seq > l.v[ir]->created_seq))
			coord_json_plan_row(c, t, &w, plans[ip++]);
		else
			coord_json_rollout(c, &w, l.v[ir++], false);
	}
	osp_jw_arr_end(&w);
	osp_store_txn_abort(t);
	for (size_t i = 0; i < l.n; i++)
		ospec__v1__rollout_record__free_unpacked(l.v[i], NULL);
	for (size_t i = 0; i < np; i++)
		ospec__v1__plan_record__free_unpacked(plans[i], NULL);
	free(plans);
	free(l.v);
	return 0;
}

/* The history reply stops adding events past this many bytes, well inside
 * the reply buffer's cap (coord_control.c: 16 MiB) whatever one event holds
 * (a message is at most a few KiB), and says where the next page starts. */
#define COORD_CTL_HIST_BUDGET (8u * 1024 * 1024)

struct coord_ctl_hist {
	osp_jw *w;
	const char *app, *rollout;
	size_t n, max;
	uint64_t last;      /* seq of the last event written */
	bool truncated;     /* stopped by the budget, not by max */
};

static int coord_ctl_hist_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	struct coord_ctl_hist *h = arg;
	Ospec__V1__EventRecord *e;

	if (kl != 8)
		return 0;
	if (h->w->out->len >= COORD_CTL_HIST_BUDGET) {
		h->truncated = true;
		return 1;
	}
	if ((e = ospec__v1__event_record__unpack(NULL, vl, v)) == NULL)
		return 0;
	if ((h->app == NULL || (e->app && strcmp(h->app, e->app) == 0)) &&
		(h->rollout == NULL || (e->rollout && strcmp(h->rollout, e->rollout) == 0))) {
		h->last = osp_be64_get(k);
		osp_jw_obj_begin(h->w);
		osp_jw_key(h->w, "seq");
		osp_jw_uint(h->w, h->last);
		coord_jw_time(h->w, "ts", e->ts_ms);
		coord_jw_kv(h->w, "kind", e->kind);
		coord_jw_kv(h->w, "node", e->node);
		coord_jw_kv(h->w, "rollout", e->rollout);
		coord_jw_kv(h->w, "app", e->app);
		coord_jw_kv(h->w, "actor", e->actor);
		coord_jw_kv(h->w, "message", e->message);
		osp_jw_obj_end(h->w);
		h->n++;
	}
	ospec__v1__event_record__free_unpacked(e, NULL);
	return h->n >= h->max ? 1 : 0;
}

/* history [--app A] [--rollout R] [--limit N] [--before SEQ]: events newest
 * first, at most N (default 1000) and at most COORD_CTL_HIST_BUDGET bytes of
 * them; a reply cut by the budget has "truncated": true and "next": the SEQ
 * to ask for the older ones with (--before). */
int coord_verb_history(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen)
{
	osp_jw w;
	struct coord_ctl_hist h = { .w = &w, .app = coord_ctl_arg(rq, "app"),
		.rollout = coord_ctl_arg(rq, "rollout"), .max = 1000 };
	const char *lim = coord_ctl_arg(rq, "limit"), *before = coord_ctl_arg(rq, "before");
	uint64_t n, below = 0;
	uint8_t key[8];
	osp_txn *t = NULL;
	osp_err rv = OSP_ESTORE;

	if (lim != NULL) {
		if (osp_u64_parse(lim, 1, 100000, &n) != OSP_OK) {
			snprintf(err, errlen, "--limit: expected 1..100000");
			return 2;
		}
		h.max = n;
	}
	if (before != NULL && osp_u64_parse(before, 1, UINT64_MAX, &below) != OSP_OK) {
		snprintf(err, errlen, "--before: expected the SEQ of an event (a 'next' of history)");
		return 2;
	}
	osp_jw_init(&w, json);
	osp_jw_obj_begin(&w);
	osp_jw_key(&w, "events");
	osp_jw_arr_begin(&w);
	/* newest first while scanning, so the limit keeps the latest */
	if (osp_store_txn_begin(c->store, false, &t) == OSP_OK) {
		osp_be64_put(key, below);
		rv = below != 0
			? osp_store_foreach_before(t, "events", NULL, 0, key, 8, coord_ctl_hist_cb, &h)
			: osp_store_foreach(t, "events", NULL, 0, true, coord_ctl_hist_cb, &h);
		osp_store_txn_abort(t);
	}
	osp_jw_arr_end(&w);
	if (h.truncated) {
		osp_jw_key(&w, "truncated");
		osp_jw_bool(&w, true);
		osp_jw_key(&w, "next");
		osp_jw_uint(&w, h.last);
	}
	osp_jw_obj_end(&w);
	if (rv != OSP_OK) {
		snprintf(err, errlen, "cannot read the history: %s", osp_strerror(rv));
		return 1;
	}
	if (osp_jw_err(&w) != OSP_OK) {
		/* never a cut document: the client would print half of it */
		snprintf(err, errlen, "the history does not fit in one reply: ask for fewer "
			"events (--limit)");
		return 1;
	}
	return 0;
}

int coord_verb_control(coord *c, coord_ctl_req *rq, osp_buf *json, coord_ro_event_kind kind,
	char *err, size_t errlen)
{
	const char *id = coord_ctl_arg(rq, "rollout");
	coord_ro_entry *e = id ? coord_rollouts_find(c, id) : NULL;
	coord_ro_event ev = { .kind = kind, .now_ms = coord_clock_now(&c->clock) };
	Ospec__V1__RolloutRecord *r = NULL;
	Ospec__V1__PlanRecord *p = NULL;
	osp_err rv;
	osp_jw w;

	if (e == NULL && id != NULL && coord_plans_get(rq->txn, id, &p) == OSP_OK) {
		/* a plan: abort it; pause, resume: its running stage */
		const char *stage = p->current < p->n_stages ? p->stages[p->current]->rollout : NULL;
		coord_ro_state st = (coord_ro_state)p->state;
		if (stage != NULL && kind != COORD_RO_EV_ABORT && kind != COORD_RO_EV_ROLLBACK)
			e = coord_rollouts_find(c, stage);
		ospec__v1__plan_record__free_unpacked(p, NULL);
		if (kind == COORD_RO_EV_ABORT)
			return coord_ctl_plan_control(c, rq, id, COORD_PLAN_EV_ABORT, json, err,
				errlen);
		if (kind == COORD_RO_EV_ROLLBACK || e == NULL) {
			snprintf(err, errlen, "plan '%s' is %s: cannot %s it%s", id,
				coord_ro_state_name(st),
				kind == COORD_RO_EV_PAUSE ? "pause" : kind == COORD_RO_EV_RESUME
					? "resume" : "roll back",
				kind == COORD_RO_EV_ROLLBACK ? " (roll back its stage's rollout)" : "");
			return 1;
		}
	}
	if (e == NULL) {
		int st = coord_ctl_rollout_arg(c, rq, rq->txn, &r, err, errlen);
		if (st != 0)
			return st;
		snprintf(err, errlen, "rollout '%s' is %s: nothing to change", r->id,
			coord_ro_state_name((coord_ro_state)r->state));
		ospec__v1__rollout_record__free_unpacked(r, NULL);
		return 1;
	}
	rq->on_abort = coord_rollouts_reload_hook;
	rq->after_commit = coord_rollouts_after_commit_hook;
	rv = coord_rollouts_event(c, rq->txn, e, &ev, rq->actor);
	if (rv == OSP_ESTATE) {
		snprintf(err, errlen, "rollout '%s' is %s: cannot %s it", e->ro.id,
			coord_ro_state_name(e->ro.state),
			kind == COORD_RO_EV_PAUSE    ? "pause"
			: kind == COORD_RO_EV_RESUME ? "resume"
			: kind == COORD_RO_EV_ABORT  ? "abort"
						     : "roll back");
		rq->on_abort = NULL;
		return 1;
	}
	if (rv != OSP_OK) {
		snprintf(err, errlen, "cannot change rollout '%s': %s", e->ro.id, osp_strerror(rv));
		return 1;
	}
	osp_jw_init(&w, json);
	osp_jw_obj_begin(&w);
	coord_jw_kv(&w, "id", e->ro.id);
	coord_jw_kv(&w, "state", coord_ro_state_name(e->ro.state));
	if (kind == COORD_RO_EV_ROLLBACK)
		coord_jw_kv(&w, "rollback_of", e->ro.id);
	osp_jw_obj_end(&w);
	return 0;
}

int coord_verb_pause(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen)
{
	return coord_verb_control(c, rq, json, COORD_RO_EV_PAUSE, err, errlen);
}

int coord_verb_resume(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen)
{
	return coord_verb_control(c, rq, json, COORD_RO_EV_RESUME, err, errlen);
}

int coord_verb_abort(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen)
{
	return coord_verb_control(c, rq, json, COORD_RO_EV_ABORT, err, errlen);
}

void coord_rollouts_reload_hook(coord *c, coord_ctl_req *rq)
{
	(void)rq;
	coord_rollouts_reload(c);
}

void coord_rollouts_after_commit_hook(coord *c, coord_ctl_req *rq)
{
	(void)rq;
	coord_rollouts_reap(c);
	coord_rollouts_kick(c);
}
