/*
 * agent_hooks.h - an app's hooks (docs/hooks.md): the operator's own
 * executables run by the agent at four points of a deploy,
 *
 *   pre_stage    the release is fetched, verified and unpacked; its process
 *                is not started yet (rolling: the old one still runs)
 *   post_stage   the new process passed its health and smoke checks
 *   pre_switch   blue-green SwitchPrepare, before the vote (failure: NO)
 *   post_switch  blue-green SwitchDecision COMMIT, after the switch is
 *                applied and verified (failure: the decision's result is
 *                FAILED; the switch stays)
 *
 * configured per app in the agent config:
 *
 *   apps.<app>.hooks: {pre_stage: PATH, post_stage: PATH, pre_switch: PATH,
 *                      post_switch: PATH, timeout: 60s}
 *
 * Each hook runs through agent_runner_run (the exec driver's runner): no
 * shell, as `PATH HOOKNAME`, its own process group killed with SIGKILL at the
 * timeout, stdin /dev/null, cwd the release directory, as the app's user
 * with the app's env_file, plus PATH, HOME and the OSPEC_* variables of
 * agent_hook_env. stdout and stderr are captured together (the last 4 KiB),
 * redacted with the env_file's values (agent_redact.h) and logged.
 *
 * Hooks never run for Revert, Stop, ScaleDown, TrafficWeight or a SwitchDecision
 * ABORT: the way back must not depend on a script.
 */
#ifndef AGENT_HOOKS_H
#define AGENT_HOOKS_H

#include <stddef.h>

#include "agent.h"

typedef enum agent_hook_kind {
	AGENT_HOOK_PRE_STAGE = 0,
	AGENT_HOOK_POST_STAGE,
	AGENT_HOOK_PRE_SWITCH,
	AGENT_HOOK_POST_SWITCH,
} agent_hook_kind; /* AGENT_HOOKS_N of them (agent.h) */

#define AGENT_HOOK_TIMEOUT_MS 60000       /* default */
#define AGENT_HOOK_TIMEOUT_MAX_MS 3600000 /* 1h; the least is 1ms */
#define AGENT_HOOK_TAIL_LINES 5           /* output lines in a failure's reason */
#define AGENT_HOOK_TAIL_BYTES 1024        /* at most, cut at the start */

/* What a hook's environment describes (the strings stay the caller's; NULL
 * is ""). */
typedef struct agent_hook_env {
	const char *app;              /* OSPEC_APP */
	const char *node;             /* OSPEC_NODE: the agent's id */
	const char *version;          /* OSPEC_VERSION: the release being deployed */
	const char *sha256;           /* OSPEC_SHA256 */
	const char *previous_version; /* OSPEC_PREVIOUS_VERSION: what runs/serves before */
	const char *release_dir;      /* OSPEC_RELEASE_DIR and the cwd ("": /) */
	const char *slot;             /* OSPEC_SLOT: main | blue | green */
	unsigned port;                /* OSPEC_PORT: the slot's port (0: "") */
	const char *rollout;          /* OSPEC_ROLLOUT: the command's rollout id */
} agent_hook_env;

/* agent_hook_name returns "pre_stage", "post_stage", "pre_switch" or
 * "post_switch" ("?" for another value). */
const char *agent_hook_name(agent_hook_kind k);

/*
 * agent_hooks_cfg_read reads the map n (config path `path`, e.g.
 * "apps.web.hooks") into *h: the four hook names, each an absolute path
 * (relative: a config error; whether it is executable is found when it
 * runs), and timeout (a duration, 1ms..1h). An unknown key is an error.
 * Returns OSP_OK or the osp_cfg_* errors with err saying where (h may hold
 * what was read; agent_hooks_cfg_free frees it).
 */
osp_err agent_hooks_cfg_read(agent_hooks_cfg *h, const osp_cfg_doc *d, const osp_cfg_node *n,
	const char *path, char *err, size_t errlen);

/* agent_hooks_cfg_free frees h's strings and zeroes it; zeroed memory is fine. */
void agent_hooks_cfg_free(agent_hooks_cfg *h);

/* agent_hook_configured reports whether ac (may be NULL) has hook k. */
bool agent_hook_configured(const agent_app_cfg *ac, agent_hook_kind k);

/*
 * agent_hook_run runs hook k of app ac (NULL, or no such hook: OSP_OK and
 * nothing runs) with env and waits for it (its timeout). OSP_OK when it
 * exited 0. Otherwise msg (msglen bytes) says
 *   "hook pre_stage failed (exit 3): <its last output lines, redacted>"
 *   "hook pre_stage failed (killed after the timeout of 60s): <...>"
 *   "hook pre_stage failed (cannot run it: exec '/x': permission denied)"
 * and the result is OSP_EREFUSED (non-zero exit), OSP_ETIMEDOUT, or the
 * error of agent_runner_run that kept it from starting. Runs on the
 * caller's thread; thread-safe.
 */
osp_err agent_hook_run(const agent_app_cfg *ac, agent_hook_kind k, const agent_hook_env *env,
	char *msg, size_t msglen);

#endif
