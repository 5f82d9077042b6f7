/* main.c - ospec-agent: config, lock, store, run until SIGTERM (apps stay up);
 * SIGHUP re-reads the log level; systemd notifications (docs/systemd.md). */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "agent_metrics.h"
#include "ospec/sdnotify.h"

/* The heartbeat loop may wait this long beyond two heartbeats (its request's
 * deadline) before the watchdog stops being pinged. */
#define AGENT_WATCHDOG_SLACK_MS 15000

/* agent_main_reload_log (SIGHUP) loads the config file and the flags again,
 * as at start, and applies their log_level; nothing else changes. */
static void agent_main_reload_log(const agent_cfg *cfg, int argc, char **argv)
{
	agent_cfg fresh;
	osp_log_level lvl = OSP_LOG_INFO, old = atomic_load(&osp_log_min_level);
	char err[1024] = "";
	int action = 0;

	memset(&fresh, 0, sizeof(fresh));
	if (cfg->config == NULL) {
		OSP_INFO("AGENT-RELOAD", "SIGHUP without a config file (-c): log level stays '%s'",
			osp_log_level_name(old));
	} else if (agent_cfg_load(&fresh, argc, argv, &action, err, sizeof(err)) != OSP_OK ||
		osp_log_level_parse(fresh.log_level, &lvl) != 0) {
		OSP_WARN("AGENT-RELOAD", "SIGHUP: config not reloaded, log level stays '%s': %s",
			osp_log_level_name(old), err);
	} else {
		osp_log_set_level(lvl);
		/* written whatever the new level: the operator asked for it */
		osp_log_write(OSP_LOG_INFO, "AGENT-RELOAD", "SIGHUP: log level '%s' (was '%s')",
			osp_log_level_name(lvl), osp_log_level_name(old));
	}
	agent_cfg_free(&fresh);
}

/* agent_main_tick pings systemd's watchdog while the heartbeat loop turns
 * (a stuck agent is restarted; its apps keep running) and says in STATUS
 * whether the agent is registered, and with which coordinator URL.
 * *last_ping, *was_reg and *was_url are the caller's. */
static void agent_main_tick(agent *a, int64_t ping_ms, int64_t *last_ping, int *was_reg,
	const char **was_url)
{
	const char *url = agent_dial_url(a);
	int64_t now = osp_now_mono_ms();
	int64_t allowed = 2 * (int64_t)atomic_load(&a->heartbeat_ms) + AGENT_WATCHDOG_SLACK_MS;
	int reg = atomic_load(&a->registered) ? 1 : 0;

	if (ping_ms > 0 && now - *last_ping >= ping_ms &&
		now - (int64_t)atomic_load(&a->hb_alive_ms) <= allowed) {
		*last_ping = now;
		osp_sd_notify("WATCHDOG=1");
	}
	if (reg != *was_reg || url != *was_url) {
		*was_reg = reg;
		*was_url = url;
		osp_sd_notifyf("STATUS=%s '%.200s'", reg ? "registered with" : "registering with",
			url);
	}
}

int main(int argc, char **argv)
{
	agent_cfg cfg;
	agent_store *store = NULL;
	agent *a = NULL;
	agent_metrics_srv *metrics = NULL;
	char err[1024];
	struct timespec turn = { .tv_sec = 1, .tv_nsec = 0 };
	int64_t ping_ms = (int64_t)(osp_sd_watchdog_usec() / 2000), last_ping = 0;
	int was_reg = -1;
	const char *was_url = NULL;
	sigset_t set;
	int action = 0, sig = 0, lockfd = -1, code = 1;
	osp_log_level lvl = OSP_LOG_INFO;
	osp_log_format fmt = OSP_LOG_TEXT;
	osp_err rv;

	memset(&cfg, 0, sizeof(cfg));
	rv = agent_cfg_load(&cfg, argc, argv, &action, err, sizeof(err));
	if (rv != OSP_OK) {
		fprintf(stderr, "ospec-agent: %s\n", err);
		agent_cfg_free(&cfg);
		return 2;
	}
	if (action == 1) {
		agent_cfg_usage();
		agent_cfg_free(&cfg);
		return 0;
	}
	if (action == 2) {
		printf("ospec-agent %s\n", OSPEC_VERSION);
		agent_cfg_free(&cfg);
		return 0;
	}
	osp_log_level_parse(cfg.log_level, &lvl);
	osp_log_format_parse(cfg.log_format, &fmt);
	osp_log_setup(lvl, fmt, "ospec-agent", NULL);

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (osp_mkdir_p(cfg.state, 0700) != OSP_OK) {
		OSP_ERROR("AGENT-STATE", "cannot create state dir '%s'", cfg.state);
		goto out;
	}
	rv = osp_dir_lock(cfg.state, "agent.lock", &lockfd);
	if (rv != OSP_OK) {
		OSP_ERROR("AGENT-LOCKED", "state dir '%s' %s", cfg.state,
			rv == OSP_ELOCKED ? "is in use by another agent" : "cannot be locked");
		goto out;
	}
	if (agent_store_lmdb_open(cfg.state, cfg.retain_results, cfg.init, &store, err,
		    sizeof(err)) != OSP_OK) {
		OSP_ERROR("AGENT-STORE-OPEN", "%s", err);
		goto out;
	}
	if (agent_alloc(&cfg, store, &a, err, sizeof(err)) != OSP_OK) {
		OSP_ERROR("AGENT-START", "%s", err);
		agent_store_close(store);
		goto out;
	}
	if (agent_start(a) != OSP_OK) {
		OSP_ERROR("AGENT-START", "cannot start the session with '%s'", cfg.coordinator);
		agent_stop(a);
		goto out;
	}
	if (cfg.metrics != NULL &&
		agent_metrics_start(a, cfg.metrics, &metrics, err, sizeof(err)) != OSP_OK) {
		OSP_ERROR("AGENT-START", "%s", err);
		agent_stop(a);
		goto out;
	}
	OSP_INFO("AGENT-START", "node '%s' (instance %s) dialing '%s', state in '%s'%s%s", a->id,
		a->uuid, cfg.coordinator, cfg.state, metrics ? ", metrics on " : "",
		metrics ? cfg.metrics : "");
	/* ready once the apps are restored and the loops run: not waiting for
	 * the coordinator, which may be away (docs/systemd.md) */
	atomic_store(&a->hb_alive_ms, osp_now_mono_ms());
	osp_sd_notify("READY=1");
	for (;;) {
		agent_main_tick(a, ping_ms, &last_ping, &was_reg, &was_url);
		sig = sigtimedwait(&set, NULL, &turn);
		if (sig == SIGHUP)
			agent_main_reload_log(&cfg, argc, argv);
		else if (sig > 0)
			break;
	}
	OSP_INFO("AGENT-STOP", "signal %d: stopping (apps keep running)", sig);
	osp_sd_notify("STOPPING=1\nSTATUS=stopping (apps keep running)");
	agent_metrics_stop(metrics);
	agent_stop(a);
	code = 0;
out:
	agent_free(a);
	if (lockfd >= 0)
		close(lockfd);
	agent_cfg_free(&cfg);
	return code;
}
