/*
 * agent_runner.h - supervised app processes (DESIGN.md "The agent" -> runner).
 *
 * One runner supervises any number of (app, slot) processes. Each process:
 *  - is started without a shell: `run` is split into argv (quotes as in sh,
 *    "{port}" replaced by the port), argv[0] with a '/' is relative to the
 *    release dir, one without is looked up in the clean PATH;
 *  - runs in its own process group, cwd = release dir, stdin /dev/null, umask
 *    022, signal mask and dispositions reset, every other fd closed;
 *  - gets a clean environment: PATH=/usr/local/bin:/usr/bin:/bin, HOME, PORT,
 *    OSPEC_APP, OSPEC_SLOT, then the env file's KEY=VALUE lines (which may
 *    override PATH and HOME, never PORT/OSPEC_APP/OSPEC_SLOT);
 *  - runs as `user` if given (the agent must be root unless it is that user);
 *  - appends stdout/stderr to STATE/logs/<app>.<slot>.out / .err (never a
 *    pipe); past log_max_bytes the supervisor copies the last log_max_bytes
 *    into <file>.1 and truncates the file (the app keeps writing, O_APPEND);
 *  - has a pidfile STATE/run/<app>.<slot>.pid (pid, start time, boot id,
 *    where its run's stderr begins and the spec) so that a new runner can
 *    adopt it, but only an exact match.
 *
 * A process that exits while wanted is restarted with backoff 1s, 2s, 4s ...
 * capped at 30s; the backoff resets once a process ran for 60s.
 *
 * agent_runner_free leaves the processes running (the agent's SIGTERM leaves
 * apps running); the agent's systemd unit therefore needs KillMode=process.
 *
 * All functions are thread-safe. The runner installs no signal handlers: a
 * supervisor thread polls waitpid(pid, WNOHANG) on its own pids only.
 */
#ifndef AGENT_RUNNER_H
#define AGENT_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ospec/err.h"

#define AGENT_RUNNER_MAX_ARGS 64      /* words in `run` */
#define AGENT_RUNNER_MAX_RUN 4096     /* bytes in `run` */
#define AGENT_RUNNER_MAX_ENV 256      /* entries in an env file */
#define AGENT_RUNNER_ENV_FILE_MAX 65536 /* bytes of an env file */
#define AGENT_RUNNER_LOG_MAX_DEFAULT (10u * 1024u * 1024u)

typedef struct agent_runner agent_runner;

/* What to run. All strings are copied by agent_runner_start; none may
 * contain a newline. app and slot must pass osp_valid_id. */
typedef struct agent_proc_spec {
	const char *app;
	const char *slot;
	const char *release_dir; /* absolute; the process's cwd */
	const char *run;         /* command line, split without a shell */
	unsigned port;           /* 1..65535: PORT and {port} */
	const char *user;        /* NULL = the agent's own user */
	const char *env_file;    /* NULL or a file of KEY=VALUE lines */
	uint64_t log_max_bytes;  /* 0 = 10 MiB */
} agent_proc_spec;

typedef struct agent_proc_status {
	bool running;            /* a process is alive right now */
	pid_t pid;               /* its pid, 0 if none (waiting to restart) */
	unsigned restarts;       /* restarts after unexpected exits */
	int last_exit_status;    /* exit code, 128+signal, or -1 if none/unknown */
	int64_t started_wall_ms; /* when the current process started */
} agent_proc_status;

/* agent_runner_alloc creates a runner keeping its pidfiles in STATE/run and
 * logs in STATE/logs (both created, mode 0750) and starts its supervisor
 * thread. Free with agent_runner_free. Returns OSP_EINVAL, OSP_ETOOBIG (path
 * too long), OSP_EIO (directories) or OSP_ENOMEM. */
osp_err agent_runner_alloc(agent_runner **out, const char *state_dir);

/* agent_runner_free stops supervising and frees the runner; the processes
 * keep running and their pidfiles stay for a later adopt. Accepts NULL. Must
 * not race with other calls on the same runner. */
void agent_runner_free(agent_runner *r);

/* agent_runner_start starts spec->app/spec->slot and supervises it. Returns
 * after the exec succeeded (or failed). Errors, with a reason in err:
 * OSP_EINVAL (bad spec, bad `run`, bad env file line), OSP_EBUSY (this
 * (app, slot) is already supervised, or its port is used by another:
 * "port 8080 is already used by app 'x' slot 'blue'"), OSP_ENOENT (no such
 * user, program, env file or release dir), OSP_EPERM (not allowed to become
 * the user, or to execute the program), OSP_EIO, OSP_ENOMEM. */
osp_err agent_runner_start(agent_runner *r, const agent_proc_spec *spec, char *err, size_t errlen);

/* agent_runner_stop stops supervising app/slot: SIGTERM to its process group,
 * up to grace_ms for the group to exit, then SIGKILL to the group; the pidfile
 * is removed. Works for adopted processes too. Returns OSP_ENOENT if the
 * runner does not supervise app/slot, OSP_EBUSY if another stop of it is in
 * progress. */
osp_err agent_runner_stop(agent_runner *r, const char *app, const char *slot, int64_t grace_ms);

/* agent_runner_status fills *st for app/slot. Returns OSP_ENOENT if the
 * runner does not supervise it (never started, or stopped). */
osp_err agent_runner_status(agent_runner *r, const char *app, const char *slot, agent_proc_status *st);

/* agent_runner_adopt reads STATE/run/<app>.<slot>.pid and supervises the
 * process it names if that pid exists and its start time and the boot id
 * match the pidfile exactly (*adopted = true). Otherwise the pidfile is stale:
 * it is removed, *adopted = false and OSP_OK is returned. If the runner
 * already supervises app/slot, *adopted = true and nothing changes. Returns
 * OSP_ENOENT if there is no pidfile, OSP_EDECODE if it is malformed (it is
 * then removed too), OSP_EINVAL for bad names, OSP_EIO, OSP_ENOMEM. */
osp_err agent_runner_adopt(agent_runner *r, const char *app, const char *slot, bool *adopted);

/* agent_runner_adopt_all calls agent_runner_adopt for every pidfile in
 * STATE/run (removing stale and malformed ones). Returns the first error
 * other than a stale or malformed pidfile, after trying all of them. */
osp_err agent_runner_adopt_all(agent_runner *r);

/* agent_runner_stderr_tail writes the last max_lines lines of the stderr log
 * of app/slot (including the rotated .err.1 when needed) into buf,
 * NUL-terminated; if they do not fit, the oldest lines are dropped. For a
 * supervised app/slot only what was written since its last
 * agent_runner_start (or the start an adopted process's pidfile records)
 * counts: the log also holds earlier releases' output. Restarts by the
 * backoff continue the same run. For an app/slot the runner does not
 * supervise, the tail of the whole log. Returns OSP_ENOENT if there is no
 * log, OSP_EINVAL, OSP_EIO. */
osp_err agent_runner_stderr_tail(agent_runner *r, const char *app, const char *slot, size_t max_lines,
	char *buf, size_t len);

/* agent_runner_env_split splits one line of an env file in place: leading
 * blanks and trailing blanks/CR dropped, "export " allowed, one pair of
 * matching quotes around the value stripped. Returns 0 for a blank line or a
 * comment, -1 for a line without '=', 1 with *key (NUL-terminated) and the
 * value (*val, *vlen bytes, not NUL-terminated when quotes were stripped)
 * pointing into line. The runner and the redaction of stderr tails share it. */
int agent_runner_env_split(char *line, char **key, char **val, size_t *vlen);

/* agent_runner_env_reserved reports whether key is set by the agent (PORT,
 * OSPEC_APP, OSPEC_SLOT): an env file cannot set it. */
bool agent_runner_env_reserved(const char *key);

/* One short-lived command run to completion (agent_runner_run). */
#define AGENT_RUN_TAIL 4096     /* bytes of stdout and of stderr kept: the tail */
#define AGENT_RUN_MAX_ARGS 64
#define AGENT_RUN_MAX_ENV 64

typedef struct agent_run_spec {
	char *const *argv;  /* NULL-terminated; argv[0] an absolute path; at most 64 */
	char *const *envp;  /* NULL-terminated, at most 64; NULL: PATH only */
	int64_t timeout_ms; /* > 0 */
	/* optional (zero: the defaults the traffic drivers use) */
	const char *cwd;    /* NULL: "/" */
	bool app_env;       /* run as an app would (hooks, agent_hooks.h): as user,
			     * with PATH, HOME, env_file's entries, then envp's */
	const char *user;   /* app_env: the user to run as (NULL: the agent's) */
	const char *env_file; /* app_env: its KEY=VALUE entries (NULL: none) */
	bool merge_output;  /* stderr into the same pipe as stdout: res->out holds
			     * both, interleaved as written; res->err stays "" */
} agent_run_spec;

typedef struct agent_run_result {
	int code;                       /* exit code, 128+signal, -1 unknown */
	bool timed_out;                 /* killed (SIGKILL, whole group) at the timeout */
	char out[AGENT_RUN_TAIL + 1];   /* the last bytes of stdout, NUL-terminated */
	char err[AGENT_RUN_TAIL + 1];   /* the last bytes of stderr, NUL-terminated */
} agent_run_result;

/*
 * agent_runner_run runs spec->argv[0] without a shell (fork/execve, its own
 * process group, stdin /dev/null, cwd spec->cwd or /, signals reset, other
 * fds closed), captures the tails of its stdout and stderr in res and waits
 * for it to exit. With app_env the environment is built as an app's
 * (agent_runner_start): PATH, HOME of the user, the env file's entries (PORT,
 * OSPEC_APP and OSPEC_SLOT skipped), then envp's, each replacing an earlier
 * entry of the same name; the user switch needs a root agent. After timeout_ms the whole group gets SIGKILL. Returns OSP_OK when
 * the command ran and exited (any code: see res->code), OSP_ETIMEDOUT when it
 * was killed at the timeout (res->timed_out, the tails hold what it wrote),
 * OSP_ENOENT / OSP_EPERM / OSP_EIO when it could not be started, OSP_EINVAL
 * for a bad spec; err says why. Thread-safe; res is the caller's.
 */
osp_err agent_runner_run(const agent_run_spec *spec, agent_run_result *res, char *err,
	size_t errlen);

#endif
