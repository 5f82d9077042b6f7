/*
 * agent_runner_run.c - short-lived commands run to completion: the traffic
 * drivers' `nginx -t`, `nginx -s reload` and the exec driver's scripts.
 * The child is set up exactly as a supervised app (agent_runner_fork), but
 * its stdout and stderr are pipes whose tails are kept, and it is waited for
 * with a deadline after which its whole process group is killed.
 */
#include "agent_runner_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ospec/util.h"

#define AGENT_RUN_POLL_MS 50
#define AGENT_RUN_DRAIN_MS 200 /* reading on after the child exited (a grandchild may hold the pipe) */

/* One captured stream: the last AGENT_RUN_TAIL bytes. */
typedef struct agent_run_tail {
	int fd;
	char *buf; /* AGENT_RUN_TAIL + 1 bytes */
	size_t len;
} agent_run_tail;

static void agent_run_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* agent_run_read reads what is there; closes the fd at EOF or an error. */
static void agent_run_read(agent_run_tail *t)
{
	char chunk[AGENT_RUN_TAIL];
	ssize_t n;

	do {
		n = read(t->fd, chunk, sizeof(chunk));
	} while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0) {
		agent_run_close(&t->fd);
		return;
	}
	if (t->len + (size_t)n > AGENT_RUN_TAIL) {
		size_t drop = t->len + (size_t)n - AGENT_RUN_TAIL;
		if (drop > t->len)
			drop = t->len;
		memmove(t->buf, t->buf + drop, t->len - drop);
		t->len -= drop;
	}
	memcpy(t->buf + t->len, chunk, (size_t)n); /* n <= AGENT_RUN_TAIL: it fits */
	t->len += (size_t)n;
	t->buf[t->len] = '\0';
}

/* agent_run_wait collects output until the child exited and the pipes are
 * closed, or the deadline passed (then the group is killed). */
static osp_err agent_run_wait(pid_t pid, agent_run_tail t[2], int64_t timeout_ms,
	agent_run_result *res)
{
	int64_t deadline = osp_now_mono_ms() + timeout_ms, drain_until = 0;
	bool exited = false;
	int st;

	for (;;) {
		struct pollfd pfd[2];
		int64_t now = osp_now_mono_ms();
		nfds_t n = 0;

		if (!exited && waitpid(pid, &st, WNOHANG) == pid) {
			exited = true;
			res->code = agent_runner_exit_code(st);
			drain_until = now + AGENT_RUN_DRAIN_MS;
		}
		if (exited && ((t[0].fd < 0 && t[1].fd < 0) || now >= drain_until))
			return OSP_OK;
		if (!exited && now >= deadline) {
			kill(-pid, SIGKILL);
			while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
				;
			res->code = agent_runner_exit_code(st);
			res->timed_out = true;
			return OSP_ETIMEDOUT;
		}
		for (int i = 0; i < 2; i++) {
			if (t[i].fd >= 0) {
				pfd[n].fd = t[i].fd;
				pfd[n].events = POLLIN;
				pfd[n].revents = 0;
				n++;
			}
		}
		if (n == 0) {
			osp_sleep_ms(AGENT_RUN_POLL_MS / 5);
			continue;
		}
		if (poll(pfd, n, AGENT_RUN_POLL_MS) <= 0)
			continue;
		for (nfds_t k = 0; k < n; k++) {
			if (pfd[k].revents == 0)
				continue;
			for (int i = 0; i < 2; i++)
				if (t[i].fd == pfd[k].fd)
					agent_run_read(&t[i]);
		}
	}
}

static bool agent_run_count(char *const *v, size_t max)
{
	size_t n = 0;

	while (v[n] != NULL)
		if (++n > max)
			return false;
	return true;
}

osp_err agent_runner_run(const agent_run_spec *spec, agent_run_result *res, char *err,
	size_t errlen)
{
	static char *const path_only[] = { "PATH=/usr/local/bin:/usr/bin:/bin", NULL };
	agent_run_tail t[2] = { { -1, res->out, 0 }, { -1, res->err, 0 } };
	agent_spawn_ctx c;
	struct rlimit rl;
	int out[2] = { -1, -1 }, errp[2] = { -1, -1 }, rep[2] = { -1, -1 };
	char **app_envp = NULL;
	pid_t pid = 0;
	osp_err rv;

	memset(res, 0, sizeof(*res));
	res->code = -1;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (spec->argv == NULL || spec->argv[0] == NULL || spec->argv[0][0] != '/' ||
		spec->timeout_ms <= 0 || !agent_run_count(spec->argv, AGENT_RUN_MAX_ARGS) ||
		(spec->envp != NULL && !agent_run_count(spec->envp, AGENT_RUN_MAX_ENV))) {
		snprintf(err, errlen, "run: needs an absolute program path, at most %d arguments "
				      "and %d variables, and a timeout", AGENT_RUN_MAX_ARGS, AGENT_RUN_MAX_ENV);
		return OSP_EINVAL;
	}
	memset(&c, 0, sizeof(c));
	c.null_fd = c.out_fd = c.err_fd = c.pipe_r = c.pipe_w = -1;
	c.argv = (char **)spec->argv;
	c.envp = (char **)(spec->envp != NULL ? spec->envp : path_only);
	c.cwd = spec->cwd != NULL ? spec->cwd : "/";
	c.max_fd = (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536) ? (int)rl.rlim_cur : 65536;
	if (osp_strlcpy(c.exe, spec->argv[0], sizeof(c.exe)) >= sizeof(c.exe)) {
		snprintf(err, errlen, "run: program path too long");
		return OSP_ETOOBIG;
	}
	if (spec->app_env) {
		/* app_envp is freed at out; c.envp only borrows it */
		rv = agent_runner_user(spec->user, &c, err, errlen);
		if (rv == OSP_OK)
			rv = agent_runner_env_app(c.home, spec->env_file, spec->envp, &app_envp, err,
				errlen);
		if (rv != OSP_OK)
			goto out;
		c.envp = app_envp;
	}
	c.null_fd = agent_runner_high_fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
	if (pipe2(out, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0 || pipe2(rep, O_CLOEXEC) != 0) {
		agent_runner_errfmt(err, errlen, "run: pipe", errno);
		rv = OSP_EIO;
		goto out;
	}
	c.out_fd = agent_runner_high_fd(out[1]);
	if (spec->merge_output) {
		/* one pipe for both: the child's dup2 gives fds 1 and 2 the same end */
		c.err_fd = c.out_fd >= 0 ? fcntl(c.out_fd, F_DUPFD_CLOEXEC, 4) : -1;
		close(errp[1]); /* errp[0] reads EOF at once */
	} else {
		c.err_fd = agent_runner_high_fd(errp[1]);
	}
	c.pipe_r = agent_runner_high_fd(rep[0]);
	c.pipe_w = agent_runner_high_fd(rep[1]);
	out[1] = errp[1] = rep[0] = rep[1] = -1; /* now c's */
	if (c.null_fd < 0 || c.out_fd < 0 || c.err_fd < 0 || c.pipe_r < 0 || c.pipe_w < 0) {
		agent_runner_errfmt(err, errlen, "run: fds", errno);
		rv = OSP_EIO;
		goto out;
	}
	rv = agent_runner_fork(&c, &pid, err, errlen);
	agent_run_close(&c.out_fd); /* the child's ends: EOF once it (and its children) exit */
	agent_run_close(&c.err_fd);
	if (rv != OSP_OK)
		goto out;
	t[0].fd = out[0];
	t[1].fd = errp[0];
	out[0] = errp[0] = -1; /* now t's */
	fcntl(t[0].fd, F_SETFL, O_NONBLOCK);
	fcntl(t[1].fd, F_SETFL, O_NONBLOCK);
	rv = agent_run_wait(pid, t, spec->timeout_ms, res);
	if (rv == OSP_ETIMEDOUT)
		snprintf(err, errlen, "'%s' did not finish within %lldms: killed", spec->argv[0],
			(long long)spec->timeout_ms);
out:
	agent_run_close(&t[0].fd);
	agent_run_close(&t[1].fd);
	agent_run_close(&out[0]);
	agent_run_close(&out[1]);
	agent_run_close(&errp[0]);
	agent_run_close(&errp[1]);
	agent_run_close(&rep[0]);
	agent_run_close(&rep[1]);
	agent_run_close(&c.null_fd);
	agent_run_close(&c.out_fd);
	agent_run_close(&c.err_fd);
	agent_run_close(&c.pipe_r);
	agent_run_close(&c.pipe_w);
	agent_runner_strv_free(app_envp);
	free(c.groups);
	return rv;
}
