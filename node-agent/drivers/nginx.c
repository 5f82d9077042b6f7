/*
 * nginx.c - the nginx traffic driver: the agent owns one small include file
 * per app, holding the `server` line of the active slot, and reloads nginx.
 *
 * proxy: {driver: nginx, nginx: {binary: /usr/sbin/nginx, prefix: DIR,
 * conf: FILE, upstream_file: FILE}}. The operator's nginx.conf includes the
 * file inside the app's upstream block (docs/drivers.md):
 *
 *   upstream hello { include /etc/nginx/ospec/hello.upstream; keepalive 16; }
 *
 * and the agent writes it as
 *
 *   # ospec-agent: app hello, active slot green (rewritten by the agent)
 *   server 127.0.0.1:8082;
 *
 * commit: the new content goes to a temp file in the same directory, is
 * renamed over the include (the old one kept as a hard link), `nginx -t`
 * checks the whole config (on failure the old file is put back), then
 * `nginx -s reload`, then a read-back of the file. prepare writes the
 * candidate to the temp file and runs `nginx -t` on the installed config
 * (the candidate differs from it only in the port), so nothing nginx could
 * read changes before the decision. nginx is always run without a shell
 * (agent_runner_run), with the configured -c/-p and `-e stderr`, a timeout,
 * and its stderr in the error.
 *
 * A canary (weight) writes both servers with nginx weights,
 *
 *   # ospec-agent: app hello, active slot blue, canary green 10% (...)
 *   server 127.0.0.1:8081 weight=90;
 *   server 127.0.0.1:8082 weight=10;
 *
 * through the same nginx -t / rename / reload / read-back path; weight 0 is
 * the plain include of the active slot, 100 names the canary alone. The
 * canary's counters come from an access log (nginx_log.c).
 *
 * nginx reads the include at start and reload, so a restarted nginx keeps
 * the switch; watch() still re-asserts (rewrite if needed, reload) when the
 * master pid changed, the file no longer names the active slot, or the last
 * reload failed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent_runner.h"
#include "nginx.h"

#define AGENT_NGINX_BINARY "/usr/sbin/nginx"
#define AGENT_NGINX_PID_DEFAULT "/run/nginx.pid" /* Debian's --pid-path */
#define AGENT_NGINX_TIMEOUT_MS 10000
#define AGENT_NGINX_FILE_MAX (64 * 1024)   /* the include */
#define AGENT_NGINX_CONF_MAX (1024 * 1024) /* nginx.conf, read for its pid directive */

static const char *const agent_nginx_slots[2] = { "blue", "green" };

static void agent_nginx_free(agent_nginx *h)
{
	if (h == NULL)
		return;
	agent_traffic_lock_put(h->lock);
	free(h->binary);
	free(h->prefix);
	free(h->conf);
	free(h->file);
	agent_nginx_log_fini(&h->log);
	free(h);
}

static osp_err agent_nginx_check_path(const char *key, const char *v, bool required, char *err,
	size_t errlen)
{
	if (v == NULL || v[0] == '\0') {
		if (!required)
			return OSP_OK;
		agent_traffic_seterr(err, errlen, "proxy.nginx.%s: required by the nginx driver", key);
		return OSP_ECONFIG;
	}
	if (v[0] != '/' || strlen(v) > AGENT_NGINX_PATH_MAX || strchr(v, '\n') != NULL) {
		agent_traffic_seterr(err, errlen,
			"proxy.nginx.%s: expected an absolute path of at most %d bytes, got \"%.200s\"",
			key, AGENT_NGINX_PATH_MAX, v);
		return OSP_ECONFIG;
	}
	return OSP_OK;
}

static osp_err agent_nginx_check_cfg(const agent_proxy_cfg *cfg, char *err, size_t errlen)
{
	osp_err rv = agent_nginx_check_path("conf", cfg->nginx_conf, true, err, errlen);

	if (rv == OSP_OK)
		rv = agent_nginx_check_path("upstream_file", cfg->nginx_upstream_file, true, err,
			errlen);
	if (rv == OSP_OK)
		rv = agent_nginx_check_path("binary", cfg->nginx_binary, false, err, errlen);
	if (rv == OSP_OK)
		rv = agent_nginx_check_path("prefix", cfg->nginx_prefix, false, err, errlen);
	if (rv == OSP_OK)
		rv = agent_nginx_check_path("access_log", cfg->nginx_access_log, false, err,
			errlen);
	if (rv == OSP_OK && access(cfg->nginx_binary != NULL && cfg->nginx_binary[0] != '\0'
					   ? cfg->nginx_binary
					   : AGENT_NGINX_BINARY,
				    X_OK) != 0) {
		agent_traffic_seterr(err, errlen,
			"proxy.nginx.binary: '%.200s' is not an executable file (is nginx installed?)",
			cfg->nginx_binary != NULL ? cfg->nginx_binary : AGENT_NGINX_BINARY);
		rv = OSP_ECONFIG;
	}
	return rv;
}

static osp_err agent_nginx_open(agent_traffic *t, const agent_proxy_cfg *cfg, char *err,
	size_t errlen)
{
	agent_nginx *h = NULL;
	const char *base;
	osp_err rv = agent_nginx_check_cfg(cfg, err, errlen);

	if (rv != OSP_OK)
		return rv;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		goto nomem;
	h->binary = strdup(cfg->nginx_binary != NULL && cfg->nginx_binary[0] != '\0'
			? cfg->nginx_binary
			: AGENT_NGINX_BINARY);
	h->prefix = cfg->nginx_prefix != NULL && cfg->nginx_prefix[0] != '\0'
		? strdup(cfg->nginx_prefix)
		: NULL;
	h->conf = strdup(cfg->nginx_conf);
	h->file = strdup(cfg->nginx_upstream_file);
	if (h->binary == NULL || h->conf == NULL || h->file == NULL ||
		(cfg->nginx_prefix != NULL && cfg->nginx_prefix[0] != '\0' && h->prefix == NULL))
		goto nomem;
	/* the temp and backup files sit beside the include: a rename stays in
	 * one file system, and a hidden name is not matched by `include *.conf` */
	base = strrchr(h->file, '/') + 1;
	snprintf(h->tmp, sizeof(h->tmp), "%.*s.%s.ospec-new", (int)(base - h->file), h->file, base);
	snprintf(h->old, sizeof(h->old), "%.*s.%s.ospec-old", (int)(base - h->file), h->file, base);
	if (agent_traffic_lock_get(h->conf, &h->lock) != OSP_OK ||
		agent_nginx_log_init(&h->log, cfg->nginx_access_log) != OSP_OK)
		goto nomem;
	t->drv = h;
	return OSP_OK;
nomem:
	agent_nginx_free(h);
	agent_traffic_seterr(err, errlen, "out of memory");
	return OSP_ENOMEM;
}

static void agent_nginx_close(agent_traffic *t)
{
	agent_nginx_free(t->drv);
	t->drv = NULL;
}

/* agent_nginx_run runs nginx with the configured -c/-p and one action
 * ("-t" or "-s reload"); stderr goes into err on failure. */
static osp_err agent_nginx_run(agent_nginx *h, const char *a1, const char *a2, char *err,
	size_t errlen)
{
	char *argv[12];
	size_t n = 0;
	agent_run_result *res = malloc(sizeof(*res));
	char why[256], text[AGENT_RUN_TAIL + 1];
	osp_err rv;

	if (res == NULL) {
		agent_traffic_seterr(err, errlen, "out of memory");
		return OSP_ENOMEM;
	}
	argv[n++] = h->binary;
	argv[n++] = "-e"; /* nginx's start-up messages to our pipe, not a log file */
	argv[n++] = "stderr";
	argv[n++] = "-c";
	argv[n++] = h->conf;
	if (h->prefix != NULL) {
		argv[n++] = "-p";
		argv[n++] = h->prefix;
	}
	argv[n++] = (char *)a1;
	if (a2 != NULL)
		argv[n++] = (char *)a2;
	argv[n] = NULL;
	rv = agent_runner_run(&(agent_run_spec){ .argv = argv, .timeout_ms = AGENT_NGINX_TIMEOUT_MS },
		res, why, sizeof(why));
	if (rv == OSP_OK && res->code != 0)
		rv = OSP_EREFUSED;
	if (rv != OSP_OK) {
		size_t o = 0;
		for (const char *p = res->err; *p != '\0' && o + 1 < sizeof(text); p++)
			text[o++] = (*p == '\n' || *p == '\t') ? ' ' : *p;
		text[o] = '\0';
		agent_traffic_seterr(err, errlen, "nginx %s%s%s%s%s%s%s", a1, a2 ? " " : "",
			a2 ? a2 : "", rv == OSP_EREFUSED ? " failed" : ": ",
			rv == OSP_EREFUSED ? "" : why, text[0] ? ": " : "", text);
	}
	free(res);
	return rv;
}

/* agent_nginx_content writes the include for slot idx into buf. */
static osp_err agent_nginx_content(agent_traffic *t, int idx, char *buf, size_t len, char *err,
	size_t errlen)
{
	if (t->port[idx] == 0) {
		agent_traffic_seterr(err, errlen,
			"nginx driver: the port of slot '%s' of app '%s' is not known (set "
			"apps.%s.ports or deploy with --ports)", agent_nginx_slots[idx], t->app, t->app);
		return OSP_ECONFIG;
	}
	snprintf(buf, len,
		"# ospec-agent: app %s, active slot %s (rewritten by the agent: do not edit)\n"
		"server 127.0.0.1:%u;\n",
		t->app, agent_nginx_slots[idx], t->port[idx]);
	return OSP_OK;
}

/* agent_nginx_content_weighted writes the include of a canary: weight
 * percent (1..100) to slot can, the rest to act. nginx weights are >= 1, so
 * 100 names the canary alone. */
static osp_err agent_nginx_content_weighted(agent_traffic *t, int act, int can, unsigned w,
	char *buf, size_t len, char *err, size_t errlen)
{
	char line[2][64];
	osp_err rv = agent_nginx_content(t, act, buf, len, err, errlen);

	if (rv == OSP_OK)
		rv = agent_nginx_content(t, can, buf, len, err, errlen); /* both ports known */
	if (rv != OSP_OK)
		return rv;
	snprintf(line[0], sizeof(line[0]), "server 127.0.0.1:%u weight=%u;\n", t->port[act],
		AGENT_TRAFFIC_WEIGHT_MAX - w);
	snprintf(line[1], sizeof(line[1]), "server 127.0.0.1:%u weight=%u;\n", t->port[can], w);
	snprintf(buf, len,
		"# ospec-agent: app %s, active slot %s, canary %s %u%% (rewritten by the agent: "
		"do not edit)\n%s%s",
		t->app, agent_nginx_slots[act], agent_nginx_slots[can], w,
		w < AGENT_TRAFFIC_WEIGHT_MAX ? line[0] : "", line[1]);
	return OSP_OK;
}

osp_err agent_nginx_read(agent_nginx *h, const char *path, char **data, char *err,
	size_t errlen)
{
	size_t len;
	osp_err rv = osp_file_read(path, AGENT_NGINX_FILE_MAX, data, &len);

	if (rv == OSP_ENOENT) {
		*data = strdup("");
		return *data != NULL ? OSP_OK : OSP_ENOMEM;
	}
	if (rv != OSP_OK)
		agent_traffic_seterr(err, errlen, "nginx driver: cannot read '%s' (%s%s)", path,
			osp_strerror(rv), rv == OSP_ETOOBIG ? ": larger than 64 KiB" : "");
	(void)h;
	return rv;
}

static osp_err agent_nginx_write(const char *path, const char *data, char *err, size_t errlen)
{
	osp_err rv = osp_file_write_atomic(path, data, strlen(data), 0644);

	if (rv != OSP_OK)
		agent_traffic_seterr(err, errlen, "nginx driver: cannot write '%s': %s", path,
			osp_strerror(rv));
	return rv;
}

static osp_err agent_nginx_prepare(agent_traffic *t, const char *to_slot, char *err,
	size_t errlen)
{
	agent_nginx *h = t->drv;
	char want[256], *got = NULL;
	osp_err rv = agent_nginx_content(t, strcmp(to_slot, "green") == 0, want, sizeof(want), err,
		errlen);

	if (rv != OSP_OK)
		return rv;
	pthread_mutex_lock(agent_traffic_lock_mutex(h->lock));
	rv = agent_nginx_write(h->tmp, want, err, errlen);
	if (rv == OSP_OK)
		rv = agent_nginx_read(h, h->tmp, &got, err, errlen);
	if (rv == OSP_OK && strcmp(got, want) != 0) {
		agent_traffic_seterr(err, errlen, "nginx driver: '%s' does not read back", h->tmp);
		rv = OSP_EIO;
	}
	if (rv == OSP_OK && access(h->file, R_OK) != 0) {
		agent_traffic_seterr(err, errlen,
			"nginx driver: '%s' (proxy.nginx.upstream_file) is missing: create it once "
			"(docs/drivers.md) so that nginx.conf can include it", h->file);
		rv = OSP_ENOENT;
	}
	if (rv == OSP_OK)
		rv = agent_nginx_run(h, "-t", NULL, err, errlen);
	pthread_mutex_unlock(agent_traffic_lock_mutex(h->lock));
	free(got);
	return rv;
}

/* agent_nginx_install puts want in place and has nginx check it; on a
 * refused config the previous file is put back. */
static osp_err agent_nginx_install(agent_nginx *h, const char *want, char *err, size_t errlen)
{
	bool had_old;
	osp_err rv = agent_nginx_write(h->tmp, want, err, errlen);

	if (rv != OSP_OK)
		return rv;
	(void)unlink(h->old);
	had_old = link(h->file, h->old) == 0;
	if (rename(h->tmp, h->file) != 0) {
		agent_traffic_seterr(err, errlen, "nginx driver: rename to '%s': %s", h->file,
			strerror(errno));
		return OSP_EIO;
	}
	rv = agent_nginx_run(h, "-t", NULL, err, errlen);
	if (rv != OSP_OK) {
		if (had_old ? rename(h->old, h->file) != 0 : unlink(h->file) != 0)
			OSP_ERROR("AGENT-TRAFFIC-RESTORE",
				"nginx driver: cannot put back the previous '%s': %s", h->file,
				strerror(errno));
		return rv;
	}
	if (had_old)
		(void)unlink(h->old);
	return OSP_OK;
}

static osp_err agent_nginx_master(agent_nginx *h, long *pid, char *err, size_t errlen);

/* agent_nginx_apply_locked installs want, reloads nginx and reads the file
 * back; what names the change in the error. The caller holds the lock. */
static osp_err agent_nginx_apply_locked(agent_nginx *h, const char *want, const char *what,
	char *err, size_t errlen)
{
	char *got = NULL, ignored[16];
	long master = 0, old[AGENT_NGINX_WORKERS_MAX];
	size_t nold = 0;
	osp_err rv = agent_nginx_install(h, want, err, errlen);

	if (rv != OSP_OK)
		return rv;
	h->dirty = true;
	/* the workers serving now: the reload has taken effect once they stopped
	 * accepting and new ones run (without a pid file: not waited for) */
	if (agent_nginx_master(h, &master, ignored, sizeof(ignored)) == OSP_OK)
		nold = agent_nginx_workers(master, old, AGENT_NGINX_WORKERS_MAX);
	rv = agent_nginx_run(h, "-s", "reload", err, errlen);
	if (rv == OSP_OK)
		rv = agent_nginx_reload_wait(master, old, nold, AGENT_NGINX_RELOAD_WAIT_MS, err,
			errlen);
	if (rv == OSP_OK)
		h->dirty = false;
	if (rv == OSP_OK)
		rv = agent_nginx_read(h, h->file, &got, err, errlen);
	if (rv == OSP_OK && strcmp(got, want) != 0) {
		agent_traffic_seterr(err, errlen, "nginx driver: read-back of '%s' after %s differs",
			h->file, what);
		rv = OSP_EIO;
	}
	free(got);
	return rv;
}

/* agent_nginx_commit_locked: the caller holds the conf's lock. */
static osp_err agent_nginx_commit_locked(agent_traffic *t, int to, char *err, size_t errlen)
{
	char want[256], what[64];
	osp_err rv = agent_nginx_content(t, to, want, sizeof(want), err, errlen);

	snprintf(what, sizeof(what), "the switch to '%s'", agent_nginx_slots[to]);
	if (rv == OSP_OK)
		rv = agent_nginx_apply_locked(t->drv, want, what, err, errlen);
	return rv;
}

static osp_err agent_nginx_commit(agent_traffic *t, const char *to_slot, char *err,
	size_t errlen)
{
	agent_nginx *h = t->drv;
	osp_err rv;

	pthread_mutex_lock(agent_traffic_lock_mutex(h->lock));
	rv = agent_nginx_commit_locked(t, strcmp(to_slot, "green") == 0, err, errlen);
	pthread_mutex_unlock(agent_traffic_lock_mutex(h->lock));
	return rv;
}

/* agent_nginx_abort drops the candidate; the installed file never changed. */
static osp_err agent_nginx_abort(agent_traffic *t, char *err, size_t errlen)
{
	agent_nginx *h = t->drv;
	osp_err rv = OSP_OK;

	pthread_mutex_lock(agent_traffic_lock_mutex(h->lock));
	if (unlink(h->tmp) != 0 && errno != ENOENT) {
		agent_traffic_seterr(err, errlen, "nginx driver: remove '%s': %s", h->tmp,
			strerror(errno));
		rv = OSP_EIO;
	}
	pthread_mutex_unlock(agent_traffic_lock_mutex(h->lock));
	return rv;
}

/* agent_nginx_parse finds the slot the include names: its header's word,
 * confirmed by the server line when the slot's port is known. */
static const char *agent_nginx_parse(const agent_traffic *t, const char *data)
{
	for (int i = 0; i < 2; i++) {
		char head[64], server[64];
		snprintf(head, sizeof(head), ", active slot %s ", agent_nginx_slots[i]);
		snprintf(server, sizeof(server), "\nserver 127.0.0.1:%u;", t->port[i]);
		if (strncmp(data, "# ospec-agent: app ", 19) == 0 && strstr(data, head) != NULL &&
			(t->port[i] == 0 || strstr(data, server) != NULL))
			return agent_nginx_slots[i];
	}
	return "";
}

static osp_err agent_nginx_current(agent_traffic *t, char *slot, size_t len, char *err,
	size_t errlen)
{
	agent_nginx *h = t->drv;
	char *data = NULL;
	osp_err rv;

	pthread_mutex_lock(agent_traffic_lock_mutex(h->lock));
	rv = agent_nginx_read(h, h->file, &data, err, errlen);
	pthread_mutex_unlock(agent_traffic_lock_mutex(h->lock));
	if (rv == OSP_OK)
		osp_strlcpy(slot, agent_nginx_parse(t, data), len);
	free(data);
	return rv;
}

/* agent_nginx_pidfile finds the main config's top-level `pid` directive
 * (relative to the prefix), else Debian's default. */
static void agent_nginx_pidfile(agent_nginx *h, char *path, size_t len)
{
	char *conf = NULL, *p;
	size_t n;

	osp_strlcpy(path, AGENT_NGINX_PID_DEFAULT, len);
	if (osp_file_read(h->conf, AGENT_NGINX_CONF_MAX, &conf, &n) != OSP_OK)
		return;
	for (p = conf; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		char word[AGENT_NGINX_PATH_MAX + 1];
		p += strspn(p, " \t");
		if (strncmp(p, "pid", 3) != 0 || (p[3] != ' ' && p[3] != '\t'))
			continue;
		p += 3 + strspn(p + 3, " \t");
		n = strcspn(p, "; \t\n");
		if (n == 0 || n >= sizeof(word))
			break;
		memcpy(word, p, n);
		word[n] = '\0';
		if (word[0] == '/' || h->prefix == NULL)
			osp_strlcpy(path, word, len);
		else
			snprintf(path, len, "%s/%s", h->prefix, word);
		break;
	}
	free(conf);
}

/* agent_nginx_master reads the master's pid from its pid file. */
static osp_err agent_nginx_master(agent_nginx *h, long *pid, char *err, size_t errlen)
{
	char path[AGENT_NGINX_PATH_MAX + 64], *data = NULL, *end;
	size_t n;
	osp_err rv;

	agent_nginx_pidfile(h, path, sizeof(path));
	rv = osp_file_read(path, 64, &data, &n);
	if (rv == OSP_OK) {
		errno = 0;
		*pid = strtol(data, &end, 10);
		if (errno != 0 || end == data || *pid <= 0)
			rv = OSP_EDECODE;
	}
	if (rv != OSP_OK)
		agent_traffic_seterr(err, errlen, "nginx driver: pid file '%s': %s (is nginx "
			"running?)", path, osp_strerror(rv));
	free(data);
	return rv;
}

static osp_err agent_nginx_watch(agent_traffic *t, const char *active_slot, bool *reasserted,
	char *err, size_t errlen)
{
	agent_nginx *h = t->drv;
	char *data = NULL;
	const char *cur = "";
	bool restarted;
	long pid = 0;
	osp_err rv;

	*reasserted = false;
	pthread_mutex_lock(agent_traffic_lock_mutex(h->lock));
	rv = agent_nginx_master(h, &pid, err, errlen);
	if (rv != OSP_OK || active_slot[0] == '\0')
		goto out;
	restarted = h->seen && pid != h->pid;
	rv = agent_nginx_read(h, h->file, &data, err, errlen);
	if (rv != OSP_OK)
		goto out;
	cur = agent_nginx_parse(t, data);
	if (restarted || h->dirty || strcmp(cur, active_slot) != 0) {
		rv = agent_nginx_commit_locked(t, strcmp(active_slot, "green") == 0, err, errlen);
		if (rv != OSP_OK)
			goto out; /* not recorded as seen: the next call tries again */
		*reasserted = true;
		OSP_WARN("AGENT-TRAFFIC-REASSERT",
			"nginx '%s': %s: re-asserted slot '%s' of app '%s'", h->conf,
			restarted ? "master restarted" : "include drifted or reload pending",
			active_slot, t->app);
	}
out:
	if (rv == OSP_OK) {
		h->seen = true;
		h->pid = pid;
	}
	pthread_mutex_unlock(agent_traffic_lock_mutex(h->lock));
	free(data);
	return rv;
}

/* agent_nginx_weight writes the weighted include (weight 0: the plain one
 * of the active slot) and reloads nginx, unless the installed file already
 * holds it and the last reload worked: nginx reads the include at start, so
 * a restarted nginx has the weights, and the watch's re-assert is one read. */
static osp_err agent_nginx_weight(agent_traffic *t, const char *active_slot,
	const char *canary_slot, unsigned weight, char *err, size_t errlen)
{
	agent_nginx *h = t->drv;
	int act = strcmp(active_slot, "green") == 0, can = strcmp(canary_slot, "green") == 0;
	char want[512], what[64], *got = NULL;
	osp_err rv = weight == 0
		? agent_nginx_content(t, act, want, sizeof(want), err, errlen)
		: agent_nginx_content_weighted(t, act, can, weight, want, sizeof(want), err, errlen);

	if (rv != OSP_OK)
		return rv;
	snprintf(what, sizeof(what), "weight %u%% to '%s'", weight, canary_slot);
	pthread_mutex_lock(agent_traffic_lock_mutex(h->lock));
	rv = agent_nginx_read(h, h->file, &got, err, errlen);
	if (rv == OSP_OK && (h->dirty || strcmp(got, want) != 0))
		rv = agent_nginx_apply_locked(h, want, what, err, errlen);
	pthread_mutex_unlock(agent_traffic_lock_mutex(h->lock));
	free(got);
	return rv;
}

const agent_traffic_ops agent_traffic_nginx_ops = {
	.name = "nginx",
	.open = agent_nginx_open,
	.prepare = agent_nginx_prepare,
	.commit = agent_nginx_commit,
	.abort = agent_nginx_abort,
	.current = agent_nginx_current,
	.watch = agent_nginx_watch,
	.weight = agent_nginx_weight,
	.stats = agent_nginx_stats,
	.close = agent_nginx_close,
};
