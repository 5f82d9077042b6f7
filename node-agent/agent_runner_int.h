/*
 * agent_runner_int.h - internals shared by agent_runner.c (supervision),
 * agent_runner_spawn.c (argv, environment, fork/exec) and agent_runner_files.c
 * (/proc, pidfiles, logs). Not for use outside the runner.
 */
#ifndef AGENT_RUNNER_INT_H
#define AGENT_RUNNER_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent_runner.h"
#include "ospec/err.h"

#define AGENT_BOOT_ID_LEN 64

/* Where the output of a slot's current run (since its last
 * agent_runner_start; restarts by the backoff continue the run) begins in
 * its stderr log: byte off of <log>.err, or of the rotated <log>.err.1 when
 * old. Unset (a pidfile of an older agent): the whole log. */
typedef struct agent_log_mark {
	bool set;
	bool old;
	uint64_t off;
} agent_log_mark;

/* What a pidfile holds; the strings point into pidfile text owned by the
 * caller of agent_runner_pidfile_parse. */
typedef struct agent_pidfile {
	pid_t pid;
	unsigned long long start_time; /* field 22 of /proc/PID/stat */
	const char *boot_id;
	int64_t started_wall_ms;
	agent_log_mark err_mark;
	agent_proc_spec spec;
} agent_pidfile;

/* Everything the child needs, prepared before fork. */
typedef struct agent_spawn_ctx {
	char **argv;
	char **envp;
	char exe[PATH_MAX];
	const char *cwd;
	bool drop;
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	int ngroups;
	char home[PATH_MAX];
	int null_fd, out_fd, err_fd, pipe_r, pipe_w;
	int max_fd;
} agent_spawn_ctx;

/* agent_runner_fork forks a child that sets itself up from c (its own process
 * group, fds 0..2 from c's null/out/err fds, signals reset, other fds closed,
 * cwd, user) and execs c->exe; waits for the exec report through c's pipe
 * (c->pipe_w is closed here). On OSP_OK *out is the running child, which the
 * caller reaps; on failure the child is reaped and err says why. */
osp_err agent_runner_fork(agent_spawn_ctx *c, pid_t *out, char *err, size_t errlen);

/* agent_runner_high_fd moves fd to >= 4 (CLOEXEC) so that the child's dup2
 * onto 0..3 never overwrites another of its fds; closes the old fd. */
int agent_runner_high_fd(int fd);

/* agent_runner_exit_code maps a wait status to an exit code or 128+signal. */
int agent_runner_exit_code(int st);

/* agent_runner_split_run splits run into a NULL-terminated argv (heap; free
 * with agent_runner_strv_free), replacing "{port}" by port in every word.
 * Returns OSP_EINVAL with a reason in err for bad quoting, shell syntax or
 * too many/too long words, OSP_ENOMEM. */
osp_err agent_runner_split_run(const char *run, unsigned port, char ***argv, char *err, size_t errlen);

/* agent_runner_strv_free frees a NULL-terminated heap vector; accepts NULL. */
void agent_runner_strv_free(char **v);

/* agent_runner_spawn starts spec (already validated) and waits until exec
 * succeeded; *pid and *start_time describe the new process and *err_size
 * (may be NULL) is the size of its stderr log before it could write to it.
 * Errors as for agent_runner_start, with a reason in err. */
osp_err agent_runner_spawn(const char *state_dir, const agent_proc_spec *spec, pid_t *pid,
	unsigned long long *start_time, uint64_t *err_size, char *err, size_t errlen);

/* agent_runner_path writes STATE/<sub>/<app>.<slot><suffix> into buf. */
osp_err agent_runner_path(char *buf, size_t len, const char *state_dir, const char *sub, const char *app,
	const char *slot, const char *suffix);

/* agent_runner_proc_stat reads the state letter and start time of pid.
 * Returns OSP_ENOENT if there is no such process, OSP_EDECODE, OSP_EIO. */
osp_err agent_runner_proc_stat(pid_t pid, char *state, unsigned long long *start_time);

/* agent_runner_group_alive reports whether process group pgid has a member
 * that is not a zombie (zombies may linger where pid 1 does not reap). */
bool agent_runner_group_alive(pid_t pgid);

/* agent_runner_boot_id reads the kernel boot id into buf (empty on error). */
void agent_runner_boot_id(char *buf, size_t len);

/* agent_runner_pidfile_write writes the pidfile of pf->spec atomically. */
osp_err agent_runner_pidfile_write(const char *state_dir, const agent_pidfile *pf);

/* agent_runner_pidfile_parse parses pidfile text (modified in place) into
 * *pf. Returns OSP_EDECODE if a required key is missing or malformed. */
osp_err agent_runner_pidfile_parse(char *text, agent_pidfile *pf);

/* agent_runner_log_rotate rotates path if it is larger than max bytes: the
 * last max bytes go into path.1, then path is truncated. *mark (may be NULL
 * or unset) is moved along when the rotation is done: it then points into
 * path.1, or at 0 of path when nothing of its run had been copied. */
osp_err agent_runner_log_rotate(const char *path, uint64_t max, agent_log_mark *mark);

/* agent_runner_log_tail reads the last max_lines lines of path.1 + path,
 * only from *mark on when mark is set (mark may be NULL). */
osp_err agent_runner_log_tail(const char *path, const agent_log_mark *mark, size_t max_lines, char *buf,
	size_t len);

/* agent_runner_user looks up user (NULL: the agent's own) into c: home,
 * and uid/gid/groups with c->drop when the child must switch to it (heap
 * c->groups: the caller frees it). OSP_ENOENT (no such user), OSP_EPERM (the
 * agent is not root), OSP_EINVAL, OSP_ENOMEM; err says why. */
osp_err agent_runner_user(const char *user, agent_spawn_ctx *c, char *err, size_t errlen);

/* agent_runner_env_app builds an app-like environment (heap vector; free
 * with agent_runner_strv_free): PATH, HOME=home, the entries of env_file
 * (NULL: none; read as for an app), then extra's (NULL-terminated, may be
 * NULL), each replacing an earlier entry of the same name. Errors of the env
 * file (err says why), OSP_ENOMEM. */
osp_err agent_runner_env_app(const char *home, const char *env_file, char *const *extra,
	char ***out, char *err, size_t errlen);

/* agent_runner_errfmt writes "what: <strerror(e) lowercased>" into err. */
void agent_runner_errfmt(char *err, size_t errlen, const char *what, int e);

#endif
