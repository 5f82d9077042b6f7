/* agent_cfg.c - the agent's flags and config file (CLI.md), apps block included. */
#include <errno.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "agent_hooks.h"
#include "agent_metrics.h"
#include "agent_regfile.h"
#include "ospec/opts.h"
#include "ospec/tls.h"

static const char *const agent_levels[] = { "debug", "info", "warn", "error", NULL };
static const char *const agent_formats[] = { "text", "json", NULL };
static const char *const agent_urls[] = { "tcp://", "tls+tcp://", NULL };

static osp_err agent_cfg_tls(void *target, const osp_cfg_doc *d, const osp_cfg_node *n,
	char *err, size_t errlen);
static osp_err agent_cfg_apps(void *target, const osp_cfg_doc *d, const osp_cfg_node *n,
	char *err, size_t errlen);
static void agent_cfg_apps_free(void *target);
static void agent_cfg_tls_free(void *target);

#define AO(f) offsetof(agent_cfg, f)
static const osp_opt agent_opts[] = {
	{ .name = "config", .short_name = 'c', .type = OSP_OPT_STR, .offset = AO(config),
		.metavar = "FILE", .help = "YAML config file", .flag_only = true },
	{ .name = "id", .type = OSP_OPT_STR, .offset = AO(id), .metavar = "ID",
		.help = "node id (default: the hostname)" },
	{ .name = "label", .type = OSP_OPT_LABELS, .offset = AO(labels), .metavar = "KEY=VALUE",
		.help = "a label (repeatable): region, zone, role, ..." },
	{ .name = "coordinator", .type = OSP_OPT_STR, .offset = AO(coordinator),
		.metavar = "URL[,URL...]", .help = "the coordinators' agent URLs (highly "
		"available: the agent follows the leader among them)",
		.defval = "tcp://127.0.0.1:7400", .form = OSP_FORM_URL, .choices = agent_urls,
		.list = true },
	{ .name = "state", .type = OSP_OPT_STR, .offset = AO(state), .metavar = "DIR",
		.help = "state directory (created, locked)", .defval = "/var/lib/ospec/agent",
		.form = OSP_FORM_PATH },
	{ .name = "init", .type = OSP_OPT_BOOL, .offset = AO(init),
		.help = "start with an empty store where STATE/db/data.mdb was lost" },
	{ .name = "keep-releases", .type = OSP_OPT_UINT, .offset = AO(keep_releases),
		.metavar = "N", .help = "releases kept in the cache", .defval = "5", .min = 1,
		.max = 1000 },
	{ .name = "retain-results", .type = OSP_OPT_UINT, .offset = AO(retain_results),
		.metavar = "N", .help = "command results kept", .defval = "1000", .min = 10,
		.max = 1000000 },
	{ .name = "fetch-timeout", .type = OSP_OPT_DURATION, .offset = AO(fetch_timeout),
		.metavar = "DURATION", .help = "deadline of one artifact download",
		.defval = "10m", .min = 1000, .max = 24ULL * 3600 * 1000 },
	{ .name = "metrics", .type = OSP_OPT_STR, .offset = AO(metrics), .metavar = "ADDR",
		.help = "HOST:PORT for Prometheus GET /metrics ('off', the default, to disable)",
		.defval = "off" },
	{ .name = "log-level", .type = OSP_OPT_STR, .offset = AO(log_level),
		.metavar = "LEVEL", .help = "debug|info|warn|error", .defval = "info",
		.choices = agent_levels },
	{ .name = "log-format", .type = OSP_OPT_STR, .offset = AO(log_format),
		.metavar = "FORMAT", .help = "text|json", .defval = "text",
		.choices = agent_formats },
	{ .name = "tls", .type = OSP_OPT_CUSTOM, .config_only = true, .custom = agent_cfg_tls,
		.custom_free = agent_cfg_tls_free, .help = "{ca: FILE, cert: FILE, key: FILE}" },
	{ .name = "apps", .type = OSP_OPT_CUSTOM, .config_only = true,
		.custom = agent_cfg_apps, .custom_free = agent_cfg_apps_free,
		.help = "host-local settings per app" },
};
#define AGENT_NOPTS (sizeof(agent_opts) / sizeof(agent_opts[0]))

/* agent_cfg_strdup reads a string node into *dst (replacing it). */
static osp_err agent_cfg_strdup(const osp_cfg_doc *d, const osp_cfg_node *n, const char *path,
	char **dst, char *err, size_t errlen)
{
	const char *s;
	osp_err rv = osp_cfg_str(d, n, path, 4096, &s, err, errlen);

	if (rv != OSP_OK)
		return rv;
	free(*dst);
	*dst = strdup(s);
	return *dst ? OSP_OK : OSP_ENOMEM;
}

struct agent_cfg_field {
	const char *key;
	size_t off;
};

/* agent_cfg_strings reads a map whose keys are all strings from fields. */
static osp_err agent_cfg_strings(const osp_cfg_doc *d, const osp_cfg_node *map,
	const char *path, void *base, const struct agent_cfg_field *f, size_t nf, char *err,
	size_t errlen)
{
	char p[256];
	osp_err rv;

	if (map->kind != OSP_CFG_MAP)
		return osp_cfg_errorf(d, map, path, err, errlen, "expected a map");
	for (size_t i = 0; i < map->n; i++) {
		const osp_cfg_node *it = map->items[i];
		size_t j;

		snprintf(p, sizeof(p), "%s.%s", path, it->key);
		for (j = 0; j < nf; j++)
			if (strcmp(f[j].key, it->key) == 0)
				break;
		if (j == nf)
			return osp_cfg_errorf(d, it, p, err, errlen, "unknown key");
		rv = agent_cfg_strdup(d, it, p, (char **)((char *)base + f[j].off), err, errlen);
		if (rv != OSP_OK)
			return rv;
	}
	return OSP_OK;
}

static osp_err agent_cfg_tls(void *target, const osp_cfg_doc *d, const osp_cfg_node *n,
	char *err, size_t errlen)
{
	static const struct agent_cfg_field f[] = {
		{ "ca", AO(tls_ca) }, { "cert", AO(tls_cert) }, { "key", AO(tls_key) },
	};
	osp_err rv = agent_cfg_strings(d, n, "tls", target, f, 3, err, errlen);
	char p[16];

	for (size_t i = 0; rv == OSP_OK && i < 3; i++) {
		const char *v = *(char **)((char *)target + f[i].off);
		if (v != NULL && v[0] == '\0') {
			snprintf(p, sizeof(p), "tls.%s", f[i].key);
			return osp_cfg_errorf(d, osp_cfg_get(n, f[i].key), p, err, errlen,
				"expected a file, got \"\"");
		}
	}
	return rv;
}

#define PO(x) offsetof(agent_proxy_cfg, x)
static osp_err agent_cfg_proxy(agent_proxy_cfg *px, const osp_cfg_doc *d,
	const osp_cfg_node *n, const char *path, char *err, size_t errlen)
{
	static const struct agent_cfg_field top[] = {
		{ "driver", PO(driver) }, { "socket", PO(socket) }, { "backend", PO(backend) },
		{ "check_url", PO(check_url) }, { "server", PO(server) },
	};
	static const struct agent_cfg_field servers[] = {
		{ "blue", PO(server_blue) }, { "green", PO(server_green) },
	};
	static const struct agent_cfg_field nginx[] = {
		{ "binary", PO(nginx_binary) }, { "prefix", PO(nginx_prefix) },
		{ "conf", PO(nginx_conf) }, { "upstream_file", PO(nginx_upstream_file) },
		{ "access_log", PO(nginx_access_log) },
	};
	static const struct agent_cfg_field ex[] = {
		{ "prepare", PO(exec_prepare) }, { "commit", PO(exec_commit) },
		{ "abort", PO(exec_abort) }, { "current", PO(exec_current) },
		{ "weight", PO(exec_weight) }, { "stats", PO(exec_stats) },
	};
	char p[256];
	osp_err rv = OSP_OK;

	if (n->kind != OSP_CFG_MAP)
		return osp_cfg_errorf(d, n, path, err, errlen, "expected a map");
	for (size_t i = 0; i < n->n && rv == OSP_OK; i++) {
		const osp_cfg_node *it = n->items[i];
		size_t j;

		snprintf(p, sizeof(p), "%s.%s", path, it->key);
		if (strcmp(it->key, "servers") == 0) {
			rv = agent_cfg_strings(d, it, p, px, servers, 2, err, errlen);
		} else if (strcmp(it->key, "drain_timeout") == 0) {
			/* rolling drain (docs/rollouts.md): bounded like every duration */
			rv = osp_cfg_duration(d, it, p, &px->drain_timeout, err, errlen);
			if (rv == OSP_OK && (px->drain_timeout < 1 || px->drain_timeout > 600000))
				rv = osp_cfg_errorf(d, it, p, err, errlen,
					"expected a duration from 1ms to 10m, got \"%s\"", it->value);
		} else if (strcmp(it->key, "nginx") == 0) {
			rv = agent_cfg_strings(d, it, p, px, nginx, 5, err, errlen);
		} else if (strcmp(it->key, "exec") == 0) {
			const osp_cfg_node *to = osp_cfg_get(it, "timeout");
			/* timeout is the one non-string key of exec */
			for (j = 0; j < it->n && rv == OSP_OK; j++) {
				const osp_cfg_node *e = it->items[j];
				char pe[300];
				size_t k;
				snprintf(pe, sizeof(pe), "%s.%s", p, e->key);
				if (e == to) {
					rv = osp_cfg_duration(d, e, pe, &px->exec_timeout, err,
						errlen);
					/* bounded like every duration (issue 10) */
					if (rv == OSP_OK && (px->exec_timeout < 1 ||
							px->exec_timeout > 3600000))
						rv = osp_cfg_errorf(d, e, pe, err, errlen,
							"expected a duration from 1ms to 1h, got "
							"\"%s\"", e->value);
					continue;
				}
				for (k = 0; k < 6; k++)
					if (strcmp(ex[k].key, e->key) == 0)
						break;
				if (k == 6)
					return osp_cfg_errorf(d, e, pe, err, errlen, "unknown key");
				rv = agent_cfg_strdup(d, e, pe,
					(char **)((char *)px + ex[k].off), err, errlen);
				/* scripts run without a shell or a PATH search */
				if (rv == OSP_OK && e->value != NULL && e->value[0] != '/')
					rv = osp_cfg_errorf(d, e, pe, err, errlen,
						"expected an absolute path, got \"%s\"", e->value);
			}
		} else {
			for (j = 0; j < 5; j++)
				if (strcmp(top[j].key, it->key) == 0)
					break;
			if (j == 5)
				return osp_cfg_errorf(d, it, p, err, errlen, "unknown key");
			rv = agent_cfg_strdup(d, it, p, (char **)((char *)px + top[j].off), err,
				errlen);
		}
	}
	if (rv == OSP_OK && px->driver != NULL && strcmp(px->driver, "haproxy") != 0 &&
		strcmp(px->driver, "nginx") != 0 && strcmp(px->driver, "exec") != 0 &&
		strcmp(px->driver, "none") != 0) {
		snprintf(p, sizeof(p), "%s.driver", path);
		return osp_cfg_errorf(d, osp_cfg_get(n, "driver"), p, err, errlen,
			"expected haproxy, nginx, exec or none, got \"%s\"", px->driver);
	}
	return rv;
}

/* agent_cfg_check_user makes a user that does not exist a config error at
 * start, not a failed deploy later. */
static osp_err agent_cfg_check_user(const char *user, const osp_cfg_doc *d,
	const osp_cfg_node *n, const char *path, char *err, size_t errlen)
{
	struct passwd pw, *res = NULL;
	char buf[16384];
	int e = getpwnam_r(user, &pw, buf, sizeof(buf), &res);

	if (res != NULL)
		return OSP_OK;
	if (e != 0 && e != ENOENT && e != ESRCH)
		return osp_cfg_errorf(d, n, path, err, errlen, "cannot look up user '%s': %s",
			user, strerror(e));
	return osp_cfg_errorf(d, n, path, err, errlen, "user '%s' does not exist on this host",
		user);
}

/* agent_cfg_check_env_file makes a missing, unreadable or non-regular env
 * file a config error at start (opened without blocking: a FIFO fails). */
static osp_err agent_cfg_check_env_file(const char *file, const osp_cfg_doc *d,
	const osp_cfg_node *n, const char *path, char *err, size_t errlen)
{
	char why[128];
	int fd = -1;
	osp_err rv = agent_regfile_open(file, &fd, why, sizeof(why));

	if (rv == OSP_OK) {
		close(fd);
		return OSP_OK;
	}
	if (rv == OSP_ENOENT)
		return osp_cfg_errorf(d, n, path, err, errlen, "env file '%s' does not exist",
			file);
	if (rv == OSP_EPERM)
		return osp_cfg_errorf(d, n, path, err, errlen, "env file '%s' %s", file, why);
	return osp_cfg_errorf(d, n, path, err, errlen, "env file '%s' cannot be read: %s", file,
		why);
}

static osp_err agent_cfg_read_app(agent_app_cfg *app, const osp_cfg_doc *d, const osp_cfg_node *n,
	const char *path, char *err, size_t errlen)
{
	char p[256];
	osp_err rv = OSP_OK;

	if (n->kind != OSP_CFG_MAP)
		return osp_cfg_errorf(d, n, path, err, errlen, "expected a map");
	for (size_t i = 0; i < n->n && rv == OSP_OK; i++) {
		const osp_cfg_node *it = n->items[i];

		snprintf(p, sizeof(p), "%s.%s", path, it->key);
		if (strcmp(it->key, "port") == 0) {
			rv = osp_cfg_u64(d, it, p, 1, 65535, &app->port, err, errlen);
		} else if (strcmp(it->key, "ports") == 0) {
			const osp_cfg_node *b = osp_cfg_get(it, "blue");
			const osp_cfg_node *g = osp_cfg_get(it, "green");
			if (it->kind != OSP_CFG_MAP || b == NULL || g == NULL || it->n != 2)
				return osp_cfg_errorf(d, it, p, err, errlen,
					"expected {blue: PORT, green: PORT}");
			if ((rv = osp_cfg_u64(d, b, p, 1, 65535, &app->blue_port, err,
				     errlen)) == OSP_OK)
				rv = osp_cfg_u64(d, g, p, 1, 65535, &app->green_port, err, errlen);
			if (rv == OSP_OK && app->blue_port == app->green_port)
				return osp_cfg_errorf(d, it, p, err, errlen,
					"blue and green need different ports");
		} else if (strcmp(it->key, "user") == 0) {
			rv = agent_cfg_strdup(d, it, p, &app->user, err, errlen);
			if (rv == OSP_OK)
				rv = agent_cfg_check_user(app->user, d, it, p, err, errlen);
		} else if (strcmp(it->key, "env_file") == 0) {
			rv = agent_cfg_strdup(d, it, p, &app->env_file, err, errlen);
			if (rv == OSP_OK)
				rv = agent_cfg_check_env_file(app->env_file, d, it, p, err, errlen);
		} else if (strcmp(it->key, "proxy") == 0) {
			rv = agent_cfg_proxy(&app->proxy, d, it, p, err, errlen);
		} else if (strcmp(it->key, "hooks") == 0) {
			rv = agent_hooks_cfg_read(&app->hooks, d, it, p, err, errlen);
		} else {
			return osp_cfg_errorf(d, it, p, err, errlen, "unknown key");
		}
	}
	return rv;
}

static osp_err agent_cfg_apps(void *target, const osp_cfg_doc *d, const osp_cfg_node *n,
	char *err, size_t errlen)
{
	agent_cfg *cfg = target;
	char p[128];
	osp_err rv;

	if (n->kind != OSP_CFG_MAP)
		return osp_cfg_errorf(d, n, "apps", err, errlen, "expected a map of app names");
	if (n->n > AGENT_MAX_APPS)
		return osp_cfg_errorf(d, n, "apps", err, errlen, "more than %d apps",
			AGENT_MAX_APPS);
	agent_cfg_apps_free(cfg);
	for (size_t i = 0; i < n->n; i++) {
		const osp_cfg_node *it = n->items[i];
		agent_app_cfg *app = &cfg->apps[cfg->napps];

		snprintf(p, sizeof(p), "apps.%s", it->key);
		if (!osp_valid_id(it->key))
			return osp_cfg_errorf(d, it, p, err, errlen,
				"app names are 1-63 characters of A-Z a-z 0-9 . _ -");
		memset(app, 0, sizeof(*app));
		osp_strlcpy(app->name, it->key, sizeof(app->name));
		cfg->napps++;
		if (it->kind == OSP_CFG_SCALAR && it->is_null)
			continue;
		if ((rv = agent_cfg_read_app(app, d, it, p, err, errlen)) != OSP_OK)
			return rv;
	}
	return OSP_OK;
}

static void agent_cfg_proxy_free(agent_proxy_cfg *px)
{
	char **s[] = { &px->driver, &px->socket, &px->backend, &px->server_blue,
		&px->server_green, &px->server, &px->check_url, &px->nginx_binary, &px->nginx_prefix,
		&px->nginx_conf, &px->nginx_upstream_file, &px->nginx_access_log, &px->exec_prepare,
		&px->exec_commit, &px->exec_abort, &px->exec_current, &px->exec_weight,
		&px->exec_stats };

	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		free(*s[i]);
		*s[i] = NULL;
	}
}

static void agent_cfg_apps_free(void *target)
{
	agent_cfg *cfg = target;

	for (size_t i = 0; i < cfg->napps; i++) {
		free(cfg->apps[i].user);
		free(cfg->apps[i].env_file);
		agent_cfg_proxy_free(&cfg->apps[i].proxy);
		agent_hooks_cfg_free(&cfg->apps[i].hooks);
	}
	cfg->napps = 0;
}

static void agent_cfg_tls_free(void *target)
{
	agent_cfg *cfg = target;

	free(cfg->tls_ca);
	free(cfg->tls_cert);
	free(cfg->tls_key);
	cfg->tls_ca = cfg->tls_cert = cfg->tls_key = NULL;
}

osp_err agent_cfg_load(agent_cfg *cfg, int argc, char **argv, int *action, char *err,
	size_t errlen)
{
	osp_opts_action act = OSP_OPTS_RUN;
	char host[256];
	osp_err rv;

	rv = osp_opts_load(agent_opts, AGENT_NOPTS, argc, argv, cfg, &act, err, errlen);
	*action = (int)act;
	if (rv != OSP_OK || act != OSP_OPTS_RUN)
		return rv;
	if (cfg->id == NULL) {
		if (gethostname(host, sizeof(host)) != 0)
			osp_strlcpy(host, "localhost", sizeof(host));
		host[sizeof(host) - 1] = '\0';
		/* a FQDN's first label is the id */
		host[strcspn(host, ".")] = '\0';
		if ((cfg->id = strdup(host)) == NULL)
			return OSP_ENOMEM;
	}
	if (!osp_valid_id(cfg->id)) {
		snprintf(err, errlen,
			"--id: '%s' is not a valid node id (1-63 of A-Z a-z 0-9 . _ -)", cfg->id);
		return OSP_EINVAL;
	}
	if (cfg->metrics != NULL && strcmp(cfg->metrics, "off") == 0) {
		free(cfg->metrics);
		cfg->metrics = NULL;
	}
	if (cfg->metrics != NULL && !agent_metrics_addr_ok(cfg->metrics)) {
		snprintf(err, errlen, "--metrics: expected HOST:PORT (port 1..65535) or 'off', "
			"got '%.64s'", cfg->metrics);
		return OSP_EINVAL;
	}
	if ((rv = agent_cfg_coordinators(cfg, err, errlen)) != OSP_OK)
		return rv;
	if (osp_tls_url_is_tls(cfg->coordinators[0]) &&
		(cfg->tls_ca == NULL || cfg->tls_cert == NULL || cfg->tls_key == NULL)) {
		snprintf(err, errlen,
			"--coordinator '%.1024s' needs TLS files: add 'tls: {ca: FILE, cert: FILE, key: "
			"FILE}' to the config file (-c); 'ospecctl certs issue --node %s' makes them",
			cfg->coordinator, cfg->id);
		return OSP_EINVAL;
	}
	return OSP_OK;
}

/* agent_cfg_coordinators_free frees the split list. */
static void agent_cfg_coordinators_free(agent_cfg *cfg)
{
	for (size_t i = 0; i < cfg->ncoordinators; i++) {
		free(cfg->coordinators[i]);
		cfg->coordinators[i] = NULL;
	}
	cfg->ncoordinators = 0;
}

/* agent_cfg_scheme_len is the length of url's "scheme://". */
static size_t agent_cfg_scheme_len(const char *url)
{
	const char *p = strstr(url, "://");

	return p != NULL ? (size_t)(p - url) + 3 : 0;
}

/* agent_cfg_coordinator_add appends url (len bytes) to cfg->coordinators
 * after checking it against those before it. */
static osp_err agent_cfg_coordinator_add(agent_cfg *cfg, const char *url, size_t len,
	char *err, size_t errlen)
{
	const char *first;
	char *copy;

	if (cfg->ncoordinators == AGENT_MAX_COORDINATORS) {
		snprintf(err, errlen, "--coordinator: more than %d URLs", AGENT_MAX_COORDINATORS);
		return OSP_EINVAL;
	}
	if ((copy = strndup(url, len)) == NULL)
		return OSP_ENOMEM;
	cfg->coordinators[cfg->ncoordinators++] = copy;
	first = cfg->coordinators[0];
	for (size_t i = 0; i + 1 < cfg->ncoordinators; i++) {
		if (strcmp(cfg->coordinators[i], copy) == 0) {
			snprintf(err, errlen, "--coordinator: '%.256s' is listed twice", copy);
			return OSP_EINVAL;
		}
	}
	if (agent_cfg_scheme_len(first) != agent_cfg_scheme_len(copy) ||
		strncmp(first, copy, agent_cfg_scheme_len(first)) != 0) {
		snprintf(err, errlen, "--coordinator: '%.256s' and '%.256s' differ in scheme: all "
			"coordinators are reached the same way (a tcp:// one beside tls+tcp:// ones "
			"would take the node's register in clear)", first, copy);
		return OSP_EINVAL;
	}
	return OSP_OK;
}

osp_err agent_cfg_coordinators(agent_cfg *cfg, char *err, size_t errlen)
{
	const char *p = cfg->coordinator;
	osp_err rv;

	agent_cfg_coordinators_free(cfg);
	if (p == NULL || p[0] == '\0') {
		snprintf(err, errlen, "--coordinator: no URL");
		return OSP_EINVAL;
	}
	for (;;) {
		size_t len = strcspn(p, ",");
		if ((rv = agent_cfg_coordinator_add(cfg, p, len, err, errlen)) != OSP_OK)
			return rv;
		if (p[len] == '\0')
			return OSP_OK;
		p += len + 1;
	}
}

void agent_cfg_usage(void)
{
	osp_opts_usage(agent_opts, AGENT_NOPTS, "ospec-agent",
		"the ospec node agent: runs releases for the coordinator", stdout);
}

void agent_cfg_free(agent_cfg *cfg)
{
	osp_opts_free(agent_opts, AGENT_NOPTS, cfg);
	agent_cfg_apps_free(cfg);
	agent_cfg_coordinators_free(cfg);
}

const agent_app_cfg *agent_cfg_app(const agent_cfg *cfg, const char *app)
{
	for (size_t i = 0; i < cfg->napps; i++)
		if (strcmp(cfg->apps[i].name, app) == 0)
			return &cfg->apps[i];
	return NULL;
}
