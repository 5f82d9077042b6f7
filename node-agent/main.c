/* main.c - ospec-agent: config, lock, store, run until SIGTERM (apps stay up). */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"

int main(int argc, char **argv)
{
	agent_cfg cfg;
	agent_store *store = NULL;
	agent *a = NULL;
	char err[1024];
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
	OSP_INFO("AGENT-START", "node '%s' (instance %s) dialing '%s', state in '%s'", a->id,
		a->uuid, cfg.coordinator, cfg.state);
	while (sigwait(&set, &sig) != 0)
		;
	OSP_INFO("AGENT-STOP", "signal %d: stopping (apps keep running)", sig);
	agent_stop(a);
	code = 0;
out:
	agent_free(a);
	if (lockfd >= 0)
		close(lockfd);
	agent_cfg_free(&cfg);
	return code;
}
