/*
 * agent_apps.c - the apps context, the durable app records, the restore at
 * agent start, the apps report and the release garbage collection. The
 * command handlers are in agent_apps_cmd.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent_apps.h"
#include "agent_bluegreen.h"
#include "agent_checks.h"
#include "ospec/v1/agent.pb-c.h"

/* One element of the apps report: free(&blk->st) frees it all. */
typedef struct agent_apps_state_blk {
	Ospec__V1__AppState st; /* first: the element's address is the block's */
	char app[OSP_WIRE_MAX_ID + 1];
	agent_bluegreen_state_bufs b;  /* slot, version, sha256, idle_version */
	char *env_names[OSP_WIRE_MAX_ENV_NAMES];
	char env_text[];               /* the env names (agent_checks_env_put) */
} agent_apps_state_blk;

osp_err agent_apps_alloc(const agent_cfg *cfg, agent_store *store, agent_apps **out)
{
	agent_apps *p = NULL;
	osp_err rv;

	*out = NULL;
	if (cfg == NULL || store == NULL || cfg->state == NULL || cfg->state[0] == '\0')
		return OSP_EINVAL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return OSP_ENOMEM;
	p->cfg = cfg;
	p->store = store;
	pthread_mutex_init(&p->mtx, NULL);
	if ((rv = osp_mkdir_p(cfg->state, 0700)) != OSP_OK)
		goto fail;
	/* the runner needs an absolute release dir, and --state may be relative */
	if (realpath(cfg->state, p->state) == NULL) {
		OSP_ERROR("AGENT-APPS-STATE", "cannot resolve state dir '%s': %s", cfg->state,
			strerror(errno));
		rv = OSP_EIO;
		goto fail;
	}
	if ((rv = agent_runner_alloc(&p->runner, p->state)) != OSP_OK)
		goto fail;
	agent_release_clean_tmp(p->state);
	*out = p;
	return OSP_OK;
fail:
	agent_apps_free(p);
	return rv;
}

void agent_apps_free(agent_apps *p)
{
	if (p == NULL)
		return;
	agent_runner_free(p->runner);
	pthread_mutex_destroy(&p->mtx);
	free(p);
}

/* agent_apps_cpy copies src (NULL = "") into dst; OSP_EDECODE if too long. */
static osp_err agent_apps_cpy(char *dst, size_t len, const char *src)
{
	if (src == NULL)
		src = "";
	if (osp_strlcpy(dst, src, len) >= len)
		return OSP_EDECODE;
	return OSP_OK;
}

static osp_err agent_apps_rel_from(agent_rel *rel, const Ospec__V1__ReleaseRef *r)
{
	osp_err rv;

	memset(rel, 0, sizeof(*rel));
	if (r == NULL)
		return OSP_OK;
	if ((rv = agent_apps_cpy(rel->version, sizeof(rel->version), r->version)) != OSP_OK ||
		(rv = agent_apps_cpy(rel->sha256, sizeof(rel->sha256), r->sha256)) != OSP_OK ||
		(rv = agent_apps_cpy(rel->run, sizeof(rel->run), r->run)) != OSP_OK ||
		(rv = agent_apps_cpy(rel->url, sizeof(rel->url), r->artifact_url)) != OSP_OK)
		return rv;
	/* the sha256 names directories: a record must never name another path */
	if (!agent_release_sha_valid(rel->sha256) || (r->has_port && r->port > 65535))
		return OSP_EDECODE;
	rel->port = r->has_port ? r->port : 0;
	rel->set = true;
	return OSP_OK;
}

/* agent_apps_slot_name_ok accepts "", "blue" and "green". */
static bool agent_apps_slot_name_ok(const char *s)
{
	return s[0] == '\0' || strcmp(s, "blue") == 0 || strcmp(s, "green") == 0;
}

static osp_err agent_apps_slot_from(agent_slot_rec *sl, const Ospec__V1__SlotRecord *r)
{
	osp_err rv;

	memset(sl, 0, sizeof(*sl));
	if (r == NULL)
		return OSP_OK;
	if ((rv = agent_apps_rel_from(&sl->rel, r->release)) != OSP_OK ||
		(rv = agent_apps_cpy(sl->health_path, sizeof(sl->health_path), r->health_path)) !=
			OSP_OK)
		return rv;
	sl->running = r->has_running && r->running;
	sl->generation = r->has_generation ? r->generation : 0;
	sl->health_rise = r->has_health_rise ? r->health_rise : 0;
	sl->health_timeout_ms = r->has_health_timeout_ms ? r->health_timeout_ms : 0;
	return OSP_OK;
}

/* agent_apps_bg_from reads the blue-green fields of r into rec. */
static osp_err agent_apps_bg_from(agent_app_rec *rec, const Ospec__V1__AgentAppRecord *r)
{
	osp_err rv;

	if ((rv = agent_apps_slot_from(&rec->blue, r->blue)) != OSP_OK ||
		(rv = agent_apps_slot_from(&rec->green, r->green)) != OSP_OK ||
		(rv = agent_apps_cpy(rec->active_slot, sizeof(rec->active_slot), r->active_slot)) !=
			OSP_OK ||
		(rv = agent_apps_cpy(rec->prepared_switch_id, sizeof(rec->prepared_switch_id),
			 r->prepared_switch_id)) != OSP_OK ||
		(rv = agent_apps_cpy(rec->prepared_to_slot, sizeof(rec->prepared_to_slot),
			 r->prepared_to_slot)) != OSP_OK ||
		(rv = agent_apps_cpy(rec->committed_switch_id, sizeof(rec->committed_switch_id),
			 r->committed_switch_id)) != OSP_OK ||
		(rv = agent_apps_cpy(rec->canary_slot, sizeof(rec->canary_slot), r->canary_slot)) !=
			OSP_OK)
		return rv;
	if (!agent_apps_slot_name_ok(rec->active_slot) ||
		!agent_apps_slot_name_ok(rec->prepared_to_slot) ||
		!agent_apps_slot_name_ok(rec->canary_slot) ||
		(r->has_canary_weight && r->canary_weight > 100))
		return OSP_EDECODE;
	/* a weight without a slot is no canary */
	rec->canary_weight = r->has_canary_weight && rec->canary_slot[0] != '\0' ? r->canary_weight
										 : 0;
	if (rec->canary_weight == 0)
		rec->canary_slot[0] = '\0';
	return OSP_OK;
}

osp_err agent_apps_rec_load(agent_apps *p, const char *app, agent_app_rec *rec, bool *found)
{
	Ospec__V1__AgentAppRecord *r = NULL;
	void *val = NULL;
	size_t len = 0;
	osp_err rv;

	memset(rec, 0, sizeof(*rec));
	*found = false;
	if (!osp_valid_id(app))
		return OSP_EINVAL;
	osp_strlcpy(rec->app, app, sizeof(rec->app));
	rv = p->store->ops->app_get(p->store, app, &val, &len);
	if (rv == OSP_ENOENT)
		return OSP_OK;
	if (rv != OSP_OK)
		return rv;
	r = ospec__v1__agent_app_record__unpack(NULL, len, val);
	free(val);
	if (r == NULL || r->app == NULL || strcmp(r->app, app) != 0) {
		rv = OSP_EDECODE;
		goto out;
	}
	if ((rv = agent_apps_rel_from(&rec->current, r->current)) != OSP_OK ||
		(rv = agent_apps_rel_from(&rec->previous, r->previous)) != OSP_OK ||
		(rv = agent_apps_cpy(rec->health_path, sizeof(rec->health_path), r->health_path)) !=
			OSP_OK ||
		(rv = agent_apps_bg_from(rec, r)) != OSP_OK)
		goto out;
	rec->running = r->has_running && r->running;
	rec->generation = r->has_generation ? r->generation : 0;
	*found = true;
out:
	if (r != NULL)
		ospec__v1__agent_app_record__free_unpacked(r, NULL);
	return rv;
}

/* agent_apps_rel_to points r at rel's buffers (valid while rel is). */
static Ospec__V1__ReleaseRef *agent_apps_rel_to(Ospec__V1__ReleaseRef *r, const agent_rel *rel)
{
	if (!rel->set)
		return NULL;
	ospec__v1__release_ref__init(r);
	r->version = (char *)rel->version;
	r->sha256 = (char *)rel->sha256;
	r->run = (char *)rel->run;
	r->artifact_url = (char *)rel->url;
	r->has_port = 1;
	r->port = rel->port;
	return r;
}

/* agent_apps_slot_to points r at sl's buffers (NULL for an unused slot). */
static Ospec__V1__SlotRecord *agent_apps_slot_to(Ospec__V1__SlotRecord *r,
	Ospec__V1__ReleaseRef *rel, const agent_slot_rec *sl)
{
	if (!sl->rel.set && !sl->running && sl->generation == 0)
		return NULL;
	ospec__v1__slot_record__init(r);
	r->release = agent_apps_rel_to(rel, &sl->rel);
	r->has_running = r->has_generation = 1;
	r->running = sl->running;
	r->generation = sl->generation;
	r->health_path = sl->health_path[0] != '\0' ? (char *)sl->health_path : NULL;
	r->has_health_rise = sl->health_rise != 0;
	r->health_rise = sl->health_rise;
	r->has_health_timeout_ms = sl->health_timeout_ms != 0;
	r->health_timeout_ms = sl->health_timeout_ms;
	return r;
}

/* agent_apps_str_or_null is s, or NULL when it is empty (field absent). */
static char *agent_apps_str_or_null(const char *s)
{
	return s[0] != '\0' ? (char *)s : NULL;
}

osp_err agent_apps_rec_save(agent_apps *p, const agent_app_rec *rec)
{
	Ospec__V1__AgentAppRecord r;
	Ospec__V1__ReleaseRef cur, prev, brel, grel;
	Ospec__V1__SlotRecord blue, green;
	uint8_t *buf;
	size_t len;
	osp_err rv;

	ospec__v1__agent_app_record__init(&r);
	r.app = (char *)rec->app;
	r.current = agent_apps_rel_to(&cur, &rec->current);
	r.previous = agent_apps_rel_to(&prev, &rec->previous);
	r.has_running = 1;
	r.running = rec->running;
	r.has_generation = 1;
	r.generation = rec->generation;
	r.health_path = rec->health_path[0] != '\0' ? (char *)rec->health_path : NULL;
	r.blue = agent_apps_slot_to(&blue, &brel, &rec->blue);
	r.green = agent_apps_slot_to(&green, &grel, &rec->green);
	r.active_slot = agent_apps_str_or_null(rec->active_slot);
	r.prepared_switch_id = agent_apps_str_or_null(rec->prepared_switch_id);
	r.prepared_to_slot = agent_apps_str_or_null(rec->prepared_to_slot);
	r.committed_switch_id = agent_apps_str_or_null(rec->committed_switch_id);
	r.canary_slot = rec->canary_weight > 0 ? agent_apps_str_or_null(rec->canary_slot) : NULL;
	r.has_canary_weight = r.canary_slot != NULL;
	r.canary_weight = r.canary_slot != NULL ? rec->canary_weight : 0;
	len = ospec__v1__agent_app_record__get_packed_size(&r);
	if ((buf = malloc(len ? len : 1)) == NULL)
		return OSP_ENOMEM;
	ospec__v1__agent_app_record__pack(&r, buf);
	rv = p->store->ops->app_put(p->store, rec->app, buf, len);
	free(buf);
	if (rv != OSP_OK)
		OSP_ERROR("AGENT-APP-RECORD", "cannot record app '%s': %s", rec->app,
			osp_strerror(rv));
	return rv;
}

static int agent_apps_names_cb(void *arg, const char *key, const void *val, size_t len)
{
	agent_apps_names *nm = arg;

	(void)val;
	(void)len;
	if (key == NULL || !osp_valid_id(key))
		return 0;
	if (nm->n == nm->cap) {
		size_t cap = nm->cap ? nm->cap * 2 : 16;
		void *v;

		if (cap > AGENT_APPS_MAX_RECORDS || (v = realloc(nm->v, cap * sizeof(*nm->v))) == NULL) {
			nm->oom = true;
			return 1;
		}
		nm->v = v;
		nm->cap = cap;
	}
	osp_strlcpy(nm->v[nm->n++], key, sizeof(nm->v[0]));
	return 0;
}

osp_err agent_apps_names_get(agent_apps *p, agent_apps_names *nm)
{
	osp_err rv;

	memset(nm, 0, sizeof(*nm));
	rv = p->store->ops->app_list(p->store, agent_apps_names_cb, nm);
	if (rv == OSP_OK && nm->oom)
		rv = nm->cap >= AGENT_APPS_MAX_RECORDS ? OSP_ETOOBIG : OSP_ENOMEM;
	if (rv != OSP_OK) {
		free(nm->v);
		memset(nm, 0, sizeof(*nm));
	}
	return rv;
}

/* agent_apps_health_slot returns the index of app in the health table,
 * added (h UNKNOWN, epoch 0) when add and there is room, else -1. Caller
 * holds p->mtx. */
static long agent_apps_health_slot(agent_apps *p, const char *app, bool add)
{
	size_t i;

	for (i = 0; i < p->nhealth; i++)
		if (strcmp(p->health[i].app, app) == 0)
			return (long)i;
	if (!add || i >= AGENT_APPS_HEALTH_MAX)
		return -1;
	memset(&p->health[i], 0, sizeof(p->health[i]));
	osp_strlcpy(p->health[i].app, app, sizeof(p->health[i].app));
	p->nhealth++;
	return (long)i;
}

void agent_apps_health_set(agent_apps *p, const char *app, agent_apps_health h)
{
	long i;

	pthread_mutex_lock(&p->mtx);
	if ((i = agent_apps_health_slot(p, app, true)) >= 0) {
		p->health[i].h = h;
		p->health[i].epoch++;
	}
	pthread_mutex_unlock(&p->mtx);
}

agent_apps_health agent_apps_health_get(agent_apps *p, const char *app)
{
	agent_apps_health h = AGENT_APPS_HEALTH_UNKNOWN;

	agent_apps_health_epoch(p, app, &h);
	return h;
}

uint64_t agent_apps_health_epoch(agent_apps *p, const char *app, agent_apps_health *h)
{
	uint64_t epoch = 0;
	long i;

	pthread_mutex_lock(&p->mtx);
	if ((i = agent_apps_health_slot(p, app, false)) >= 0)
		epoch = p->health[i].epoch;
	if (h != NULL)
		*h = i >= 0 ? p->health[i].h : AGENT_APPS_HEALTH_UNKNOWN;
	pthread_mutex_unlock(&p->mtx);
	return epoch;
}

bool agent_apps_health_publish(agent_apps *p, const char *app, uint64_t epoch, agent_apps_health h)
{
	bool written = false;
	long i;

	pthread_mutex_lock(&p->mtx);
	/* an app never set is at epoch 0: a first publish adds it */
	i = agent_apps_health_slot(p, app, epoch == 0);
	if (i >= 0 && p->health[i].epoch == epoch) {
		p->health[i].h = h;
		written = true;
	}
	pthread_mutex_unlock(&p->mtx);
	return written;
}

unsigned agent_apps_port(const agent_apps *p, const char *app, unsigned fallback)
{
	const agent_app_cfg *ac = agent_cfg_app(p->cfg, app);

	if (ac != NULL && ac->port > 0 && ac->port <= 65535)
		return (unsigned)ac->port;
	return fallback <= 65535 ? fallback : 0;
}

osp_err agent_apps_release_dir(agent_apps *p, const agent_rel *rel, char *dir, size_t len,
	char *err, size_t errlen)
{
	struct stat st;
	int n;
	osp_err rv;

	if (!agent_release_sha_valid(rel->sha256)) {
		snprintf(err, errlen, "invalid sha256 for release %s", rel->version);
		return OSP_EINVAL;
	}
	n = snprintf(dir, len, "%s/releases/%s", p->state, rel->sha256);
	if (n < 0 || (size_t)n >= len) {
		snprintf(err, errlen, "release path too long");
		return OSP_ETOOBIG;
	}
	if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
		return OSP_OK;
	rv = agent_release_unpack(p->state, rel->sha256, dir, len, err, errlen);
	if (rv == OSP_ENOENT)
		snprintf(err, errlen, "release %s is no longer in the cache", rel->version);
	return rv;
}

void agent_apps_result_runs(agent_apps *p, Ospec__V1__CommandResult *res, const agent_rel *rel,
	const agent_rel *prev)
{
	bool set = rel != NULL && rel->set;

	osp_strlcpy(p->res.version, set ? rel->version : "", sizeof(p->res.version));
	osp_strlcpy(p->res.sha256, set ? rel->sha256 : "", sizeof(p->res.sha256));
	res->version = p->res.version;
	res->sha256 = p->res.sha256;
	if (prev == NULL)
		return;
	osp_strlcpy(p->res.previous, prev->set ? prev->version : "", sizeof(p->res.previous));
	res->previous_version = p->res.previous;
}

bool agent_apps_rel_same(const agent_rel *a, const agent_rel *b)
{
	return a->set && strcmp(a->sha256, b->sha256) == 0 && strcmp(a->version, b->version) == 0 &&
		strcmp(a->run, b->run) == 0 && a->port == b->port;
}

bool agent_apps_runs(agent_apps *p, const char *app, const agent_rel *rel)
{
	return agent_apps_runs_slot(p, app, AGENT_APPS_SLOT, rel);
}

bool agent_apps_runs_slot(agent_apps *p, const char *app, const char *slot,
	const agent_rel *rel)
{
	agent_proc_status st;
	char path[PATH_MAX], want[OSP_WIRE_MAX_RUN + 64], *text = NULL;
	size_t len = 0;
	bool same = false;
	int n;

	if (agent_runner_status(p->runner, app, slot, &st) != OSP_OK || !st.running)
		return false;
	n = snprintf(path, sizeof(path), "%s/run/%s.%s.pid", p->state, app, slot);
	if (n < 0 || (size_t)n >= sizeof(path) ||
		osp_file_read(path, AGENT_RUNNER_MAX_RUN + 8192, &text, &len) != OSP_OK)
		return false;
	/* every key of the pidfile but the first follows a newline */
	n = snprintf(want, sizeof(want), "\nrelease_dir=%s/releases/%s\n", p->state, rel->sha256);
	if (n < 0 || (size_t)n >= sizeof(want) || strstr(text, want) == NULL)
		goto out;
	snprintf(want, sizeof(want), "\nport=%u\n", rel->port);
	if (strstr(text, want) == NULL)
		goto out;
	n = snprintf(want, sizeof(want), "\nrun=%s\n", rel->run);
	same = n >= 0 && (size_t)n < sizeof(want) && strstr(text, want) != NULL;
out:
	free(text);
	return same;
}

osp_err agent_apps_start(agent_apps *p, const char *app, const agent_rel *rel, const char *dir,
	char *err, size_t errlen)
{
	return agent_apps_start_slot(p, app, AGENT_APPS_SLOT, rel, dir, err, errlen);
}

osp_err agent_apps_start_slot(agent_apps *p, const char *app, const char *slot,
	const agent_rel *rel, const char *dir, char *err, size_t errlen)
{
	const agent_app_cfg *ac = agent_cfg_app(p->cfg, app);
	agent_proc_spec spec = {
		.app = app,
		.slot = slot,
		.release_dir = dir,
		.run = rel->run,
		.port = rel->port,
		.user = ac != NULL ? ac->user : NULL,
		.env_file = ac != NULL ? ac->env_file : NULL,
	};

	return agent_runner_start(p->runner, &spec, err, errlen);
}

osp_err agent_apps_prepare(agent_apps *p, const char *url, const char *sha256, char *dir,
	size_t len, char *err, size_t errlen)
{
	agent_release_opts o = {
		.timeout_ms = p->cfg->fetch_timeout > 0 ? (long)p->cfg->fetch_timeout : 0,
		.cancel = &p->stopping,
	};

	return agent_release_prepare_opts(p->state, url, sha256, &o, dir, len, err, errlen);
}

/* agent_apps_restore_one brings one recorded app to its desired state. */
static void agent_apps_restore_one(agent_apps *p, const agent_app_rec *rec)
{
	agent_proc_status st;
	agent_rel rel;
	char dir[PATH_MAX], err[512];
	bool supervised = agent_runner_status(p->runner, rec->app, AGENT_APPS_SLOT, &st) == OSP_OK;
	osp_err rv;

	if (!rec->running || !rec->current.set) {
		/* a stop was recorded but the agent went down before it happened */
		if (supervised) {
			OSP_INFO("AGENT-APP-RESTORE", "stopping app '%s': it is recorded as stopped",
				rec->app);
			agent_runner_stop(p->runner, rec->app, AGENT_APPS_SLOT, AGENT_APPS_STOP_GRACE_MS);
		}
		return;
	}
	rel = rec->current;
	rel.port = agent_apps_port(p, rec->app, rel.port);
	if (supervised && agent_apps_runs(p, rec->app, &rel)) {
		OSP_INFO("AGENT-APP-RESTORE", "app '%s' version '%s' is running (pid %d)", rec->app,
			rel.version, (int)st.pid);
		return;
	}
	if (supervised) {
		/* the agent went down between the record and the restart */
		OSP_INFO("AGENT-APP-RESTORE", "app '%s' does not run version '%s'; restarting",
			rec->app, rel.version);
		agent_runner_stop(p->runner, rec->app, AGENT_APPS_SLOT, AGENT_APPS_STOP_GRACE_MS);
	}
	if (rel.port == 0) {
		OSP_ERROR("AGENT-APP-RESTORE", "cannot restore app '%s' version '%s': no port",
			rec->app, rel.version);
		return;
	}
	rv = agent_apps_release_dir(p, &rel, dir, sizeof(dir), err, sizeof(err));
	if (rv == OSP_OK)
		rv = agent_apps_start(p, rec->app, &rel, dir, err, sizeof(err));
	if (rv != OSP_OK) {
		OSP_ERROR("AGENT-APP-RESTORE", "cannot restore app '%s' version '%s': %s", rec->app,
			rel.version, err);
		return;
	}
	OSP_INFO("AGENT-APP-RESTORE",
		"restarted app '%s' version '%s' on port %u (no health wait at restore)", rec->app,
		rel.version, rel.port);
}

void agent_apps_restore(agent_apps *p)
{
	agent_apps_names nm;
	agent_app_rec *rec = NULL;
	bool found;
	osp_err rv;

	rv = agent_runner_adopt_all(p->runner);
	if (rv != OSP_OK)
		OSP_WARN("AGENT-APP-ADOPT", "adopting running apps: %s", osp_strerror(rv));
	if ((rv = agent_apps_names_get(p, &nm)) != OSP_OK) {
		OSP_ERROR("AGENT-APP-RESTORE", "cannot list the app records: %s", osp_strerror(rv));
		return;
	}
	if ((rec = malloc(sizeof(*rec))) == NULL) {
		OSP_ERROR("AGENT-APP-RESTORE", "cannot restore the apps: out of memory");
		goto out;
	}
	for (size_t i = 0; i < nm.n; i++) {
		rv = agent_apps_rec_load(p, nm.v[i], rec, &found);
		if (rv != OSP_OK) {
			OSP_ERROR("AGENT-APP-RESTORE", "cannot read the record of app '%s': %s",
				nm.v[i], osp_strerror(rv));
			continue;
		}
		if (found)
			agent_apps_restore_one(p, rec);
	}
out:
	free(rec);
	free(nm.v);
}

/* agent_apps_state_new makes one report element for rec, with the names
 * of its env file in env. */
static Ospec__V1__AppState *agent_apps_state_new(agent_apps *p, const agent_app_rec *rec,
	const agent_env_names *env)
{
	agent_apps_state_blk *b = calloc(1, sizeof(*b) + env->used);
	agent_proc_status st;
	agent_apps_health h;
	bool running;

	if (b == NULL)
		return NULL;
	ospec__v1__app_state__init(&b->st);
	osp_strlcpy(b->app, rec->app, sizeof(b->app));
	b->st.app = b->app;
	agent_checks_env_put(&b->st, b->env_names, b->env_text, env);
	if (agent_bluegreen_rec_is_bg(rec)) {
		agent_bluegreen_state_fill(p, rec, &b->st, &b->b);
		return &b->st;
	}
	running = agent_runner_status(p->runner, rec->app, AGENT_APPS_SLOT, &st) == OSP_OK &&
		st.running;
	if (rec->current.set) {
		osp_strlcpy(b->b.slot, AGENT_APPS_SLOT, sizeof(b->b.slot));
		osp_strlcpy(b->b.version, rec->current.version, sizeof(b->b.version));
		osp_strlcpy(b->b.sha256, rec->current.sha256, sizeof(b->b.sha256));
		b->st.version = b->b.version;
		b->st.sha256 = b->b.sha256;
	}
	b->st.active_slot = b->b.slot;
	b->st.has_generation = 1;
	b->st.generation = rec->generation;
	b->st.has_running = 1;
	b->st.running = running;
	h = agent_apps_health_get(p, rec->app);
	b->st.has_healthy = 1;
	b->st.healthy = running && h != AGENT_APPS_HEALTH_FAILED;
	return &b->st;
}

/* agent_apps_report_one adds the element of rec (its env names within
 * *budget) to apps[*n]; false when memory ran out. */
static bool agent_apps_report_one(agent_apps *p, const agent_app_rec *rec, agent_env_names *env,
	agent_env_budget *budget, Ospec__V1__AppState **apps, size_t *n)
{
	agent_checks_env_report(p->cfg, rec->app, env, budget);
	if ((apps[*n] = agent_apps_state_new(p, rec, env)) == NULL)
		return false;
	(*n)++;
	return true;
}

size_t agent_apps_report(agent_apps *p, Ospec__V1__AppState ***out)
{
	Ospec__V1__AppState **apps = NULL;
	agent_apps_names nm = { 0 };
	agent_app_rec *rec = NULL;
	agent_env_names *env = NULL;
	agent_env_budget budget = AGENT_ENV_BUDGET_INIT;
	size_t n = 0, i, k;
	bool found, ok = true;

	*out = NULL;
	/* no partial report: the coordinator would take it for the whole */
	if (agent_apps_names_get(p, &nm) != OSP_OK)
		goto out;
	if (nm.n > OSP_WIRE_MAX_APPS) {
		/* the coordinator refuses a longer list whole */
		OSP_WARN("AGENT-APP-REPORT", "%zu apps recorded; reporting the first %d", nm.n,
			OSP_WIRE_MAX_APPS);
		nm.n = OSP_WIRE_MAX_APPS;
	}
	if ((apps = calloc(OSP_WIRE_MAX_APPS, sizeof(*apps))) == NULL ||
		(rec = malloc(sizeof(*rec))) == NULL || (env = malloc(sizeof(*env))) == NULL)
		goto out;
	for (i = 0; i < nm.n && ok; i++) {
		if (agent_apps_rec_load(p, nm.v[i], rec, &found) == OSP_OK && found)
			ok = agent_apps_report_one(p, rec, env, &budget, apps, &n);
	}
	/* a configured app with an env_file and no record yet: its env names
	 * (a rollout may require some before its first deploy) */
	for (i = 0; i < p->cfg->napps && ok && n < OSP_WIRE_MAX_APPS; i++) {
		const agent_app_cfg *ac = &p->cfg->apps[i];

		for (k = 0; k < nm.n && strcmp(nm.v[k], ac->name) != 0; k++)
			;
		if (ac->env_file == NULL || k < nm.n)
			continue;
		memset(rec, 0, sizeof(*rec));
		osp_strlcpy(rec->app, ac->name, sizeof(rec->app));
		ok = agent_apps_report_one(p, rec, env, &budget, apps, &n);
	}
out:
	free(env);
	free(rec);
	free(nm.v);
	if (n == 0) {
		free(apps);
		return 0;
	}
	*out = apps;
	return n;
}

/* agent_apps_protected collects the current, previous, blue and green
 * sha256 of every record into shas (4 per name, heap). */
static osp_err agent_apps_protected(agent_apps *p, const agent_apps_names *nm,
	char (**shas)[AGENT_RELEASE_SHA256_LEN + 1], size_t *n)
{
	agent_app_rec *rec = malloc(sizeof(*rec));
	bool found;
	osp_err rv = OSP_OK;

	*n = 0;
	*shas = calloc(nm->n * 4 + 1, sizeof(**shas));
	if (rec == NULL || *shas == NULL) {
		rv = OSP_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nm->n; i++) {
		if ((rv = agent_apps_rec_load(p, nm->v[i], rec, &found)) != OSP_OK)
			goto out;
		if (found && rec->current.set)
			osp_strlcpy((*shas)[(*n)++], rec->current.sha256, sizeof(**shas));
		if (found && rec->previous.set)
			osp_strlcpy((*shas)[(*n)++], rec->previous.sha256, sizeof(**shas));
		if (found && rec->blue.rel.set)
			osp_strlcpy((*shas)[(*n)++], rec->blue.rel.sha256, sizeof(**shas));
		if (found && rec->green.rel.set)
			osp_strlcpy((*shas)[(*n)++], rec->green.rel.sha256, sizeof(**shas));
	}
out:
	free(rec);
	return rv;
}

void agent_apps_gc(agent_apps *p)
{
	char(*shas)[AGENT_RELEASE_SHA256_LEN + 1] = NULL;
	const char **prot = NULL;
	agent_apps_names nm = { 0 };
	size_t n = 0;
	uint64_t keep = p->cfg->keep_releases ? p->cfg->keep_releases : 5;
	osp_err rv;

	if ((rv = agent_apps_names_get(p, &nm)) != OSP_OK ||
		(rv = agent_apps_protected(p, &nm, &shas, &n)) != OSP_OK)
		goto out;
	if ((prot = calloc(n + 1, sizeof(*prot))) == NULL) {
		rv = OSP_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		prot[i] = shas[i];
	rv = agent_release_gc(p->state, keep > 1000 ? 1000 : (unsigned)keep, prot, n);
out:
	if (rv != OSP_OK)
		OSP_WARN("AGENT-RELEASE-GC", "release cleanup: %s", osp_strerror(rv));
	free(prot);
	free(shas);
	free(nm.v);
}
