/* main.c - ospec-coordinator: flags and config, start-up, signals, shutdown. */
#include <malloc.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coord.h"
#include "coord_analysis.h"
#include "coord_backup.h"
#include "coord_engine_hooks.h"
#include "coord_leader.h"
#include "coord_standby.h"
#include "coord_webhooks.h"
#include "ospec/opts.h"
#include "ospec/sdnotify.h"
#include "ospec/tls.h"

static const char *const coord_levels[] = { "debug", "info", "warn", "error", NULL };
static const char *const coord_formats[] = { "text", "json", NULL };
static const char *const coord_listen_urls[] = { "tcp://", "tls+tcp://", NULL };
static const char *const coord_control_urls[] = { "ipc://", "tcp://", NULL };
static const char *const coord_control_tls_urls[] = { "tls+tcp://", NULL };

static osp_err coord_cfg_tls(void *target, const osp_cfg_doc *d, const osp_cfg_node *n,
	char *err, size_t errlen);
static void coord_cfg_tls_free(void *target);

/* Durations go to agents as 32-bit milliseconds (Registered, HeartbeatAck):
 * each is bounded well inside that, to what makes sense for a fleet. */
#define COORD_HEARTBEAT_MIN_MS 100ULL
#define COORD_HEARTBEAT_MAX_MS (10ULL * 60 * 1000)
#define COORD_POLL_HOLD_MIN_MS 100ULL
#define COORD_POLL_HOLD_MAX_MS (10ULL * 60 * 1000)

#define CO(f) offsetof(coord_cfg, f)
static const osp_opt coord_opts[] = {
	{ .name = "config", .short_name = 'c', .type = OSP_OPT_STR, .offset = CO(config),
		.metavar = "FILE", .help = "YAML config file (keys are the flag names)",
		.flag_only = true },
	{ .name = "data", .type = OSP_OPT_STR, .offset = CO(data), .metavar = "DIR",
		.help = "LMDB data directory (created, locked)",
		.defval = "/var/lib/ospec/coordinator", .form = OSP_FORM_PATH },
	{ .name = "init", .type = OSP_OPT_BOOL, .offset = CO(init),
		.help = "start with an empty store where data.mdb was lost (emptied or removed)" },
	{ .name = "restore", .type = OSP_OPT_STR, .offset = CO(restore), .metavar = "FILE",
		.help = "copy this backup ('ospecctl backup') into an empty --data, then start",
		.form = OSP_FORM_PATH, .flag_only = true },
	{ .name = "force-restore", .type = OSP_OPT_BOOL, .offset = CO(force_restore),
		.help = "with --restore: move a non-empty --data aside (DIR.before-restore-<time>)",
		.flag_only = true },
	{ .name = "listen", .type = OSP_OPT_STR, .offset = CO(listen), .metavar = "URL",
		.help = "where agents connect (tcp:// or tls+tcp://)",
		.defval = "tcp://127.0.0.1:7400", .form = OSP_FORM_URL,
		.choices = coord_listen_urls },
	{ .name = "control", .type = OSP_OPT_STR, .offset = CO(control), .metavar = "URL",
		.help = "where ospecctl connects (ipc:// socket is mode 0600)",
		.defval = "ipc:///run/ospec/ctl.sock", .form = OSP_FORM_URL,
		.choices = coord_control_urls },
	{ .name = "control-group", .type = OSP_OPT_STR, .offset = CO(control_group),
		.metavar = "GROUP",
		.help = "also let this group use the ipc control socket (mode 0660)" },
	{ .name = "control-tls", .type = OSP_OPT_STR, .offset = CO(control_tls),
		.metavar = "URL",
		.help = "also serve ospecctl on tls+tcp://HOST:PORT (client certificates with a role)",
		.form = OSP_FORM_URL, .choices = coord_control_tls_urls },
	{ .name = "http", .type = OSP_OPT_STR, .offset = CO(http), .metavar = "ADDR",
		.help = "HTTP address for /healthz and /readyz ('off' to disable)",
		.defval = "127.0.0.1:7401" },
	{ .name = "heartbeat", .type = OSP_OPT_DURATION, .offset = CO(heartbeat),
		.metavar = "DURATION", .help = "heartbeat interval agents use; down after 3 missed",
		.defval = "5s", .min = COORD_HEARTBEAT_MIN_MS, .max = COORD_HEARTBEAT_MAX_MS },
	{ .name = "poll-hold", .type = OSP_OPT_DURATION, .offset = CO(poll_hold),
		.metavar = "DURATION", .help = "how long a poll without commands is held",
		.defval = "20s", .min = COORD_POLL_HOLD_MIN_MS, .max = COORD_POLL_HOLD_MAX_MS },
	{ .name = "map-size", .type = OSP_OPT_SIZE, .offset = CO(map_size), .metavar = "SIZE",
		.help = "LMDB map size", .defval = "1GiB", .min = 1ULL << 20, .max = 16ULL << 40 },
	{ .name = "event-retention", .type = OSP_OPT_UINT, .offset = CO(event_retention),
		.metavar = "N", .help = "events kept in the store", .defval = "100000",
		.min = 100, .max = 100000000 },
	{ .name = "max-contexts", .type = OSP_OPT_UINT, .offset = CO(max_contexts),
		.metavar = "N", .help = "most requests held at once (about 2 per agent)",
		.defval = "65536", .min = 16, .max = 1000000 },
	{ .name = "log-level", .type = OSP_OPT_STR, .offset = CO(log_level),
		.metavar = "LEVEL", .help = "debug|info|warn|error", .defval = "info",
		.choices = coord_levels },
	{ .name = "log-format", .type = OSP_OPT_STR, .offset = CO(log_format),
		.metavar = "FORMAT", .help = "text|json", .defval = "text",
		.choices = coord_formats },
	{ .name = "webhook", .type = OSP_OPT_STR, .offset = CO(webhook_flag), .metavar = "URL",
		.help = "POST every rollout's transitions to this http(s) URL (repeatable; config: "
			"webhooks: [URL, ...])", .flag_only = true },
	{ .name = "webhooks", .type = OSP_OPT_CUSTOM, .offset = CO(webhooks), .config_only = true,
		.custom = coord_webhooks_cfg, .custom_free = coord_webhooks_cfg_free,
		.help = "[URL, ...]: webhooks for every rollout (docs/webhooks.md)" },
	{ .name = "webhook-secret-file", .type = OSP_OPT_STR, .offset = CO(webhook_secret_file),
		.metavar = "FILE", .help = "HMAC-SHA256 key that signs webhook bodies "
			"(X-Ospec-Signature)", .form = OSP_FORM_PATH },
	{ .name = "store", .type = OSP_OPT_STR, .offset = CO(store), .metavar = "URL",
		.help = "etcd://HOST:PORT[,HOST:PORT...][/PREFIX]: a store shared by highly "
			"available coordinators (docs/ha.md); default: LMDB in --data" },
	{ .name = "name", .type = OSP_OPT_STR, .offset = CO(name), .metavar = "NAME",
		.help = "this coordinator's name among several (default: the host name)" },
	{ .name = "lease-ttl", .type = OSP_OPT_DURATION, .offset = CO(lease_ttl),
		.metavar = "DURATION", .help = "with --store etcd://: the leader's lease; a "
			"standby takes over this long after the leader stops", .defval = "5s",
		.min = 2000, .max = 60000 },
	{ .name = "advertise-control", .type = OSP_OPT_STR, .offset = CO(advertise_control),
		.metavar = "URL", .help = "with --store etcd://: the control URL standbys send "
			"ospecctl to when this one leads (default: --control)",
		.form = OSP_FORM_URL },
	{ .name = "tls", .type = OSP_OPT_CUSTOM, .config_only = true, .custom = coord_cfg_tls,
		.custom_free = coord_cfg_tls_free,
		.help = "{ca: FILE, cert: FILE, key: FILE} for tls+tcp:// listen and control-tls" },
};
#define COORD_NOPTS (sizeof(coord_opts) / sizeof(coord_opts[0]))

/* coord_cfg_tls reads tls: {ca, cert, key} (all three required). */
static osp_err coord_cfg_tls(void *target, const osp_cfg_doc *d, const osp_cfg_node *n,
	char *err, size_t errlen)
{
	coord_cfg *cfg = target;
	const char *keys[] = { "ca", "cert", "key" };
	char **dst[] = { &cfg->tls_ca, &cfg->tls_cert, &cfg->tls_key };
	char path[64];

	if (n->kind != OSP_CFG_MAP)
		return osp_cfg_errorf(d, n, "tls", err, errlen, "expected {ca: FILE, cert: FILE, key: FILE}");
	coord_cfg_tls_free(cfg);
	for (size_t i = 0; i < n->n; i++) {
		const osp_cfg_node *it = n->items[i];
		const char *s = NULL;
		size_t k;
		osp_err rv;

		snprintf(path, sizeof(path), "tls.%s", it->key);
		for (k = 0; k < 3; k++)
			if (strcmp(it->key, keys[k]) == 0)
				break;
		if (k == 3)
			return osp_cfg_errorf(d, it, path, err, errlen, "unknown key (ca, cert, key)");
		if ((rv = osp_cfg_str(d, it, path, 4096, &s, err, errlen)) != OSP_OK)
			return rv;
		if (s[0] == '\0')
			return osp_cfg_errorf(d, it, path, err, errlen, "expected a file, got \"\"");
		free(*dst[k]);
		if ((*dst[k] = strdup(s)) == NULL)
			return OSP_ENOMEM;
	}
	for (size_t k = 0; k < 3; k++)
		if (*dst[k] == NULL)
			return osp_cfg_errorf(d, n, "tls", err, errlen, "'%s' is missing", keys[k]);
	return OSP_OK;
}

static void coord_cfg_tls_free(void *target)
{
	coord_cfg *cfg = target;

	free(cfg->tls_ca);
	free(cfg->tls_cert);
	free(cfg->tls_key);
	cfg->tls_ca = cfg->tls_cert = cfg->tls_key = NULL;
}

/* coord_cfg_check_http: --http is 'off' or HOST:PORT (port 1..65535).
 * Returns 0 or prints why and returns 2. */
static int coord_cfg_check_http(const coord_cfg *cfg)
{
	const char *h = cfg->http, *colon;
	uint64_t port;

	if (h == NULL || h[0] == '\0' || strcmp(h, "off") == 0)
		return 0;
	colon = strrchr(h, ':');
	if (colon != NULL && colon > h && strcspn(h, "/ \t\r\n") == strlen(h) &&
		colon[1] >= '0' && colon[1] <= '9' &&
		osp_u64_parse(colon + 1, 1, 65535, &port) == OSP_OK)
		return 0;
	fprintf(stderr, "ospec-coordinator: --http: expected HOST:PORT (port 1..65535) or "
			"'off', got '%.64s'\n", h);
	return 2;
}

/* coord_cfg_check_tls: a TLS endpoint needs the tls block; a control-tls URL
 * must be tls+tcp://. Returns 0 or prints why and returns 2. */
static int coord_cfg_check_tls(const coord_cfg *cfg)
{
	bool listen_tls = osp_tls_url_is_tls(cfg->listen);

	if (cfg->control_tls != NULL && !osp_tls_url_is_tls(cfg->control_tls)) {
		fprintf(stderr, "ospec-coordinator: --control-tls: expected tls+tcp://HOST:PORT, "
				"got '%s'\n", cfg->control_tls);
		return 2;
	}
	if ((listen_tls || cfg->control_tls != NULL) && cfg->tls_ca == NULL) {
		fprintf(stderr,
			"ospec-coordinator: %s '%s' needs TLS files: add "
			"'tls: {ca: FILE, cert: FILE, key: FILE}' to the config file (-c); "
			"'ospecctl certs init' and 'certs issue --coordinator NAME' make them\n",
			listen_tls ? "--listen" : "--control-tls",
			listen_tls ? cfg->listen : cfg->control_tls);
		return 2;
	}
	return 0;
}

/* coord_cfg_check_store parses --store etcd://... and fills a missing
 * --name with the host name; 0 or the exit code 2. */
static int coord_cfg_check_store(coord *c)
{
	char err[512], host[256];

	if (c->cfg.store == NULL)
		return 0;
	if (coord_store_url_parse(c->cfg.store, c->etcd_endpoints, sizeof(c->etcd_endpoints),
		    c->etcd_prefix, sizeof(c->etcd_prefix), err, sizeof(err)) != OSP_OK) {
		fprintf(stderr, "ospec-coordinator: %s\n", err);
		return 2;
	}
	if (c->cfg.restore != NULL) {
		fprintf(stderr, "ospec-coordinator: --restore restores an LMDB store; an etcd "
				"store is restored with etcd's own snapshots (docs/ha.md)\n");
		return 2;
	}
	if (c->cfg.name == NULL) {
		if (gethostname(host, sizeof(host)) != 0)
			osp_strlcpy(host, "coordinator", sizeof(host));
		host[sizeof(host) - 1] = '\0';
		if ((c->cfg.name = strdup(host)) == NULL)
			return 1;
	}
	return 0;
}

/* coord_trim applies the event retention and forgets day-old request ids
 * (once a minute is plenty). */
static void coord_trim(coord *c)
{
	osp_txn *t = NULL;

	if (osp_store_txn_begin(c->store, true, &t) != OSP_OK)
		return;
	if (coord_db_trim_events(c, t) != OSP_OK ||
		coord_db_trim_requests(c, t, osp_now_wall_ms() - 24 * 3600 * 1000LL) != OSP_OK) {
		osp_store_txn_abort(t);
		return;
	}
	coord_db_commit(c, t, "event retention");
}

/* The command line, kept for coord_reload_log (SIGHUP). */
static int coord_argc;
static char **coord_argv;

/* coord_ticker_main drives the timers; it also pings systemd's watchdog
 * (docs/systemd.md) right after a tick held the lock: a coordinator whose
 * lock is stuck stops pinging and systemd restarts it. */
static void *coord_ticker_main(void *arg)
{
	coord *c = arg;
	int64_t last_trim = osp_now_mono_ms(), last_ping = 0;
	int64_t ping_ms = (int64_t)(osp_sd_watchdog_usec() / 2000);

	while (!atomic_load(&c->stopping)) {
		int64_t now = osp_now_mono_ms();

		pthread_mutex_lock(&c->mtx);
		coord_registry_tick(c, now);
		coord_agents_tick(c, now);
		coord_engine_tick(c, now);
		if (now - last_trim >= 60000) {
			last_trim = now;
			coord_trim(c);
		}
		pthread_mutex_unlock(&c->mtx);
		if (ping_ms > 0 && now - last_ping >= ping_ms) {
			last_ping = now;
			osp_sd_notify("WATCHDOG=1");
		}
		osp_sleep_ms(100);
	}
	return NULL;
}

/* coord_reload_log (SIGHUP) reads the config file and the flags again, as at
 * start, and applies their log_level; nothing else changes. A config that
 * no longer loads keeps the current level. */
static void coord_reload_log(const coord *c)
{
	coord_cfg fresh;
	osp_opts_action act = OSP_OPTS_RUN;
	osp_log_level lvl = OSP_LOG_INFO, old = atomic_load(&osp_log_min_level);
	char err[1024] = "";

	memset(&fresh, 0, sizeof(fresh));
	if (c->cfg.config == NULL) {
		OSP_INFO("COORD-RELOAD", "SIGHUP without a config file (-c): log level stays '%s'",
			osp_log_level_name(old));
	} else if (osp_opts_load(coord_opts, COORD_NOPTS, coord_argc, coord_argv, &fresh, &act,
			   err, sizeof(err)) != OSP_OK ||
		osp_log_level_parse(fresh.log_level, &lvl) != 0) {
		OSP_WARN("COORD-RELOAD", "SIGHUP: config not reloaded, log level stays '%s': %s",
			osp_log_level_name(old), err);
	} else {
		osp_log_set_level(lvl);
		/* written whatever the new level: the operator asked for it */
		osp_log_write(OSP_LOG_INFO, "COORD-RELOAD", "SIGHUP: log level '%s' (was '%s')",
			osp_log_level_name(lvl), osp_log_level_name(old));
	}
	osp_opts_free(coord_opts, COORD_NOPTS, &fresh);
}

static int coord_setup_log(coord *c)
{
	osp_log_level lvl = OSP_LOG_INFO;
	osp_log_format fmt = OSP_LOG_TEXT;

	osp_log_level_parse(c->cfg.log_level, &lvl);
	osp_log_format_parse(c->cfg.log_format, &fmt);
	osp_log_setup(lvl, fmt, "ospec-coordinator", NULL);
	return 0;
}

/* coord_main_where names the store for messages. */
static const char *coord_main_where(const coord *c)
{
	return c->cfg.store != NULL ? c->cfg.store : c->cfg.data;
}

/* coord_main_campaign (--store etcd://) waits as a standby, answering
 * ospecctl with a redirect (coord_standby.c), until this coordinator wins
 * the leadership: -1 then, to go on starting; or the exit code (0 after
 * SIGTERM/SIGINT, 1 on a setup error). */
static int coord_main_campaign(coord *c, const sigset_t *set)
{
	coord_leader_opts o = {
		.endpoints = c->etcd_endpoints,
		.prefix = c->etcd_prefix,
		.name = c->cfg.name,
		.control = c->cfg.advertise_control != NULL ? c->cfg.advertise_control
							    : c->cfg.control,
		.agents = c->cfg.listen,
		.ttl_ms = c->cfg.lease_ttl,
	};
	coord_standby *sb = NULL;
	char err[1024];
	int sig = 0;
	osp_err rv;

	if (coord_leader_new(&o, &c->leader, err, sizeof(err)) != OSP_OK) {
		OSP_ERROR("COORD-START", "%s", err);
		return 1;
	}
	if (coord_standby_start(c->cfg.control, c->cfg.name, coord_leader_current, c->leader,
		    &sb, err, sizeof(err)) != OSP_OK) {
		OSP_ERROR("COORD-START", "%s", err);
		coord_leader_free(c->leader, false);
		c->leader = NULL;
		return 1;
	}
	/* a standby is a started service: systemd must not time its start out */
	osp_sd_notifyf("READY=1\nSTATUS=standby: campaigning on etcd %.200s", c->etcd_endpoints);
	/* SIGHUP (systemctl reload) reloads the log level, as when leading */
	while ((rv = coord_leader_campaign(c->leader, set, &sig)) == OSP_ECLOSED &&
		sig == SIGHUP)
		coord_reload_log(c);
	coord_standby_stop(sb); /* the control server listens there next */
	if (rv == OSP_OK)
		return -1;
	OSP_INFO("COORD-STOP", "signal %d: stopping (a standby)", sig);
	coord_leader_free(c->leader, false);
	c->leader = NULL;
	return 0;
}

/* coord_run starts every part, waits for SIGTERM/SIGINT and stops in order. */
static int coord_run(coord *c)
{
	char err[1024], ctls[400] = "";
	sigset_t set;
	int sig = 0, code = 1;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL); /* every thread inherits this */
	signal(SIGPIPE, SIG_IGN);

	if (c->cfg.store != NULL) {
		if ((code = coord_main_campaign(c, &set)) != -1)
			return code;
		code = 1;
	}
	if (coord_db_open(c, err, sizeof(err)) != OSP_OK) {
		OSP_ERROR("COORD-STORE-OPEN", "%s", err);
		coord_leader_free(c->leader, true);
		return 1;
	}
	if (coord_db_load_nodes(c) == OSP_OK)
		coord_db_log_ends(c, true);
	if (coord_engine_start(c) != OSP_OK) {
		OSP_ERROR("COORD-STORE-LOAD", "cannot load state from '%s'", coord_main_where(c));
		goto out_store;
	}
	if (strncmp(c->cfg.listen, "tcp://", 6) == 0 &&
		strncmp(c->cfg.listen, "tcp://127.", 10) != 0 &&
		strncmp(c->cfg.listen, "tcp://localhost:", 16) != 0 &&
		strncmp(c->cfg.listen, "tcp://[::1]:", 12) != 0)
		OSP_WARN("COORD-PLAINTEXT", "listening on '%s' without TLS", c->cfg.listen);
	if (coord_agents_start(c, err, sizeof(err)) != OSP_OK ||
		coord_control_start(c, err, sizeof(err)) != OSP_OK ||
		coord_http_start(c, err, sizeof(err)) != OSP_OK) {
		OSP_ERROR("COORD-START", "%s", err);
		goto out_stop;
	}
	if (pthread_create(&c->ticker, NULL, coord_ticker_main, c) != 0)
		goto out_stop;
	c->ticker_started = true;
	pthread_mutex_lock(&c->mtx);
	c->ready = true;
	pthread_mutex_unlock(&c->mtx);
	if (c->cfg.control_tls != NULL)
		snprintf(ctls, sizeof(ctls), " and '%s' (client certificates)", c->cfg.control_tls);
	OSP_INFO("COORD-START", "listening for agents on '%s'%s, control on '%s'%s, data in '%s'",
		c->cfg.listen, osp_tls_url_is_tls(c->cfg.listen) ? " (mutual TLS, proof required)" : "",
		c->cfg.control, ctls, coord_main_where(c));
	osp_sd_notifyf("READY=1\nSTATUS=listening for agents on %.200s", c->cfg.listen);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig != SIGHUP)
			break;
		coord_reload_log(c);
	}
	OSP_INFO("COORD-STOP", "signal %d: stopping", sig);
	code = 0;
out_stop:
	osp_sd_notify("STOPPING=1\nSTATUS=stopping");
	atomic_store(&c->stopping, true);
	if (c->ticker_started)
		pthread_join(c->ticker, NULL);
	coord_analysis_stop(c); /* its answers touch the agents' side: stop it first */
	coord_http_stop(c);
	coord_control_stop(c);
	coord_agents_stop(c);
out_store:
	coord_analysis_stop(c); /* again (a no-op then), or after a failed load */
	coord_engine_fini(c);
	coord_registry_free(c);
	osp_store_close(c->store);
	c->store = NULL;
	coord_leader_free(c->leader, true); /* a standby wins now, not after the TTL */
	c->leader = NULL;
	return code;
}

/* coord_main_restore copies the --restore backup into --data before the
 * store is opened (coord_backup.c); 0, or the exit code (2: refused, 1: I/O)
 * after printing why. */
static int coord_main_restore(coord *c)
{
	char err[1024];
	int code;

	if (c->cfg.force_restore && c->cfg.restore == NULL) {
		fprintf(stderr, "ospec-coordinator: --force-restore needs --restore FILE\n");
		return 2;
	}
	if ((code = coord_backup_restore(&c->cfg, err, sizeof(err))) != 0) {
		fprintf(stderr, "ospec-coordinator: %s\n", err);
		return code;
	}
	c->restored = true; /* coord_backup_on_register */
	return 0;
}

/* glibc's malloc arenas: at most this many (its default is 8 per core). The
 * coordinator's work is done under one lock, and memory freed in one
 * thread's arena is not reused by another's: at 5000 agents the peak RssAnon
 * of a deploy was 62.1 MiB with the default, 58.1-58.7 MiB with 2, 56.4 MiB
 * with 1, at the same CPU per node (docs/benchmarks.md, "malloc arenas").
 * MALLOC_ARENA_MAX or glibc.malloc.arena_max in GLIBC_TUNABLES still decide. */
#define COORD_MALLOC_ARENAS 2

static void coord_malloc_tune(void)
{
#ifdef M_ARENA_MAX
	const char *tun = getenv("GLIBC_TUNABLES");

	if (getenv("MALLOC_ARENA_MAX") == NULL &&
		(tun == NULL || strstr(tun, "glibc.malloc.arena_max") == NULL))
		mallopt(M_ARENA_MAX, COORD_MALLOC_ARENAS);
#endif
}

int main(int argc, char **argv)
{
	coord c;
	char err[1024];
	osp_opts_action action = OSP_OPTS_RUN;
	osp_err rv;
	int code;

	coord_malloc_tune(); /* before any thread */
	memset(&c, 0, sizeof(c));
	pthread_mutex_init(&c.mtx, NULL);
	coord_clock_init(&c.clock); /* before any thread reads it */
	/* the agent server and the analysis worker call the engine glue
	 * (coord_engine.c), which reaches back to them only through these hooks:
	 * agents -> exec -> rollouts, one way (docs/architecture.md, Modules) */
	c.answer_polls = coord_agents_kick;
	c.ask_metric = coord_analysis_request;
	coord_argc = argc;
	coord_argv = argv;
	rv = osp_opts_load(coord_opts, COORD_NOPTS, argc, argv, &c.cfg, &action, err, sizeof(err));
	if (rv != OSP_OK) {
		fprintf(stderr, "ospec-coordinator: %s\n", err);
		if (rv == OSP_EINVAL)
			fprintf(stderr, "try 'ospec-coordinator --help'\n");
		osp_opts_free(coord_opts, COORD_NOPTS, &c.cfg);
		return 2;
	}
	if (action == OSP_OPTS_HELP) {
		osp_opts_usage(coord_opts, COORD_NOPTS, "ospec-coordinator",
			"the ospec fleet deploy coordinator", stdout);
		osp_opts_free(coord_opts, COORD_NOPTS, &c.cfg);
		return 0;
	}
	if (action == OSP_OPTS_VERSION) {
		printf("ospec-coordinator %s\n", OSPEC_VERSION);
		osp_opts_free(coord_opts, COORD_NOPTS, &c.cfg);
		return 0;
	}
	if ((code = coord_cfg_check_tls(&c.cfg)) != 0 ||
		(code = coord_cfg_check_http(&c.cfg)) != 0 ||
		(code = coord_cfg_check_store(&c)) != 0 ||
		(code = coord_webhooks_flags(&c.cfg, argc, argv)) != 0) {
		osp_opts_free(coord_opts, COORD_NOPTS, &c.cfg);
		return code;
	}
	coord_setup_log(&c);
	if (coord_webhooks_setup(&c, err, sizeof(err)) != OSP_OK) {
		fprintf(stderr, "ospec-coordinator: %s\n", err);
		coord_webhooks_stop(&c);
		osp_opts_free(coord_opts, COORD_NOPTS, &c.cfg);
		return 2;
	}
	if ((c.cfg.restore != NULL || c.cfg.force_restore) &&
		(code = coord_main_restore(&c)) != 0) {
		coord_webhooks_stop(&c); /* frees what coord_webhooks_setup made */
		osp_opts_free(coord_opts, COORD_NOPTS, &c.cfg);
		return code;
	}
	code = coord_run(&c);
	coord_webhooks_stop(&c); /* if coord_run returned before the engine started */
	osp_opts_free(coord_opts, COORD_NOPTS, &c.cfg);
	pthread_mutex_destroy(&c.mtx);
	return code;
}
