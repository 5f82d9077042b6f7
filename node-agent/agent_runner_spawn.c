/*
 * agent_runner_spawn.c - turning an agent_proc_spec into a running process:
 * argv splitting without a shell, the clean environment, the user switch and
 * fork/exec with the exec result passed back through a CLOEXEC pipe.
 *
 * Everything that allocates or reads files is done before fork(): between
 * fork and exec the child of a threaded process may only make
 * async-signal-safe calls.
 */
#include "agent_runner_int.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ospec/checks.h"
#include "ospec/log.h"
#include "ospec/util.h"

#define AGENT_SPAWN_PATH "/usr/local/bin:/usr/bin:/bin"
#define AGENT_SPAWN_MAX_GROUPS 1024

/* Where the child failed, reported through the pipe with errno. */
enum agent_spawn_stage {
	AGENT_STAGE_SETUP = 1,
	AGENT_STAGE_CHDIR,
	AGENT_STAGE_SETGROUPS,
	AGENT_STAGE_SETGID,
	AGENT_STAGE_SETUID,
	AGENT_STAGE_EXEC,
};

typedef struct agent_spawn_report {
	int stage;
	int err;
} agent_spawn_report;

void agent_runner_errfmt(char *err, size_t errlen, const char *what, int e)
{
	char tmp[128], msg[128];

	osp_strlcpy(msg, strerror_r(e, tmp, sizeof(tmp)), sizeof(msg));
	msg[0] = (char)tolower((unsigned char)msg[0]);
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s: %s", what, msg);
}

void agent_runner_strv_free(char **v)
{
	if (v == NULL)
		return;
	for (size_t i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* agent_runner_subst_port returns a heap copy of w with "{port}" replaced. */
static char *agent_runner_subst_port(const char *w, unsigned port)
{
	osp_buf b;
	char num[16];
	const char *p;

	osp_buf_init(&b, AGENT_RUNNER_MAX_RUN * 2);
	snprintf(num, sizeof(num), "%u", port);
	while ((p = strstr(w, "{port}")) != NULL) {
		if (osp_buf_append(&b, w, (size_t)(p - w)) != OSP_OK || osp_buf_puts(&b, num) != OSP_OK)
			goto fail;
		w = p + 6;
	}
	if (osp_buf_puts(&b, w) != OSP_OK)
		goto fail;
	return b.data; /* handed to the caller */
fail:
	osp_buf_fini(&b);
	return NULL;
}

/* agent_runner_split_push ends the current word and appends it to argv. */
static osp_err agent_runner_split_push(char **argv, size_t *argc, osp_buf *word, unsigned port, char *err,
	size_t errlen)
{
	if (*argc >= AGENT_RUNNER_MAX_ARGS) {
		snprintf(err, errlen, "run: more than %d words", AGENT_RUNNER_MAX_ARGS);
		return OSP_EINVAL;
	}
	if (osp_buf_append(word, "", 0) != OSP_OK)
		return OSP_ENOMEM;
	argv[*argc] = agent_runner_subst_port(word->data, port);
	if (argv[*argc] == NULL)
		return OSP_ENOMEM;
	(*argc)++;
	osp_buf_reset(word);
	return OSP_OK;
}

/* agent_runner_split_char handles c (at s) outside quotes; returns how many
 * extra bytes were consumed, or -1 with err set. */
static int agent_runner_split_char(const char *s, char *quote, osp_buf *word, char *err, size_t errlen)
{
	char c = *s;

	if (c == '\'' || c == '"') {
		*quote = c;
		return 0;
	}
	if (c == '\\') {
		if (s[1] == '\0') {
			snprintf(err, errlen, "run: trailing backslash");
			return -1;
		}
		if (osp_buf_append(word, s + 1, 1) != OSP_OK)
			goto toolong;
		return 1;
	}
	if (strchr("|&;<>()`$", c) != NULL) {
		snprintf(err, errlen, "run: '%c' needs a shell (no shell is used; quote it, or run sh -c '...' explicitly)", c);
		return -1;
	}
	if (osp_buf_append(word, s, 1) != OSP_OK)
		goto toolong;
	return 0;
toolong:
	snprintf(err, errlen, "run: a word is longer than %d bytes", AGENT_RUNNER_MAX_RUN);
	return -1;
}

osp_err agent_runner_split_run(const char *run, unsigned port, char ***out, char *err, size_t errlen)
{
	char **argv = NULL;
	size_t argc = 0;
	osp_buf word;
	bool in_word = false;
	char quote = 0;
	osp_err rv = OSP_EINVAL;

	osp_buf_init(&word, AGENT_RUNNER_MAX_RUN);
	argv = calloc(AGENT_RUNNER_MAX_ARGS + 1, sizeof(*argv));
	if (argv == NULL) {
		rv = OSP_ENOMEM;
		goto out;
	}
	for (const char *s = run; *s != '\0'; s++) {
		if (quote == '\'') {
			if (*s == '\'')
				quote = 0;
			else if (osp_buf_append(&word, s, 1) != OSP_OK)
				goto toolong;
			continue;
		}
		if (quote == '"') {
			if (*s == '"') {
				quote = 0;
			} else if (*s == '$' || *s == '`') {
				snprintf(err, errlen, "run: '%c' needs a shell (no expansion is done; use {port})", *s);
				goto out;
			} else if (*s == '\\' && s[1] != '\0' && strchr("\"\\", s[1]) != NULL) {
				if (osp_buf_append(&word, ++s, 1) != OSP_OK)
					goto toolong;
			} else if (osp_buf_append(&word, s, 1) != OSP_OK) {
				goto toolong;
			}
			continue;
		}
		if (*s == ' ' || *s == '\t' || *s == '\n') {
			if (in_word) {
				rv = agent_runner_split_push(argv, &argc, &word, port, err, errlen);
				if (rv != OSP_OK)
					goto out;
				rv = OSP_EINVAL;
			}
			in_word = false;
			continue;
		}
		in_word = true;
		int used = agent_runner_split_char(s, &quote, &word, err, errlen);
		if (used < 0)
			goto out;
		s += used;
	}
	if (quote != 0) {
		snprintf(err, errlen, "run: unterminated %c quote", quote);
		goto out;
	}
	if (in_word) {
		rv = agent_runner_split_push(argv, &argc, &word, port, err, errlen);
		if (rv != OSP_OK)
			goto out;
	}
	if (argc == 0) {
		snprintf(err, errlen, "run: empty command");
		rv = OSP_EINVAL;
		goto out;
	}
	*out = argv;
	argv = NULL; /* handed to the caller */
	rv = OSP_OK;
	goto out;
toolong:
	snprintf(err, errlen, "run: a word is longer than %d bytes", AGENT_RUNNER_MAX_RUN);
	rv = OSP_EINVAL;
out:
	agent_runner_strv_free(argv);
	osp_buf_fini(&word);
	return rv;
}

/* agent_runner_env_set sets KEY=VALUE in envp (n entries), replacing an entry
 * with the same key. */
static osp_err agent_runner_env_set(char **envp, size_t *n, const char *key, size_t klen, const char *val,
	size_t vlen)
{
	char *e = malloc(klen + vlen + 2);

	if (e == NULL)
		return OSP_ENOMEM;
	memcpy(e, key, klen);
	e[klen] = '=';
	memcpy(e + klen + 1, val, vlen);
	e[klen + vlen + 1] = '\0';
	for (size_t i = 0; i < *n; i++) {
		if (strncmp(envp[i], e, klen + 1) == 0) {
			free(envp[i]);
			envp[i] = e;
			return OSP_OK;
		}
	}
	envp[(*n)++] = e;
	return OSP_OK;
}

int agent_runner_env_split(char *line, char **key, char **val, size_t *vlen)
{
	size_t len;
	char *eq;

	while (*line == ' ' || *line == '\t')
		line++;
	len = strlen(line);
	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
		line[--len] = '\0';
	if (len == 0 || line[0] == '#')
		return 0;
	if (strncmp(line, "export ", 7) == 0)
		line += 7;
	if ((eq = strchr(line, '=')) == NULL)
		return -1;
	*eq = '\0';
	*key = line;
	*val = eq + 1;
	*vlen = strlen(*val);
	if (*vlen >= 2 && ((*val)[0] == '"' || (*val)[0] == '\'') && (*val)[*vlen - 1] == (*val)[0]) {
		(*val)++;
		*vlen -= 2;
	}
	return 1;
}

bool agent_runner_env_reserved(const char *key)
{
	return strcmp(key, "PORT") == 0 || strcmp(key, "OSPEC_APP") == 0 ||
		strcmp(key, "OSPEC_SLOT") == 0;
}

/* agent_runner_env_line parses one env file line into envp (the rules of
 * agent_runner_env_split). */
static osp_err agent_runner_env_line(char *line, const char *path, int lineno, char **envp, size_t *n,
	char *err, size_t errlen)
{
	char *key = NULL, *val = NULL;
	size_t len = 0;
	int kind = agent_runner_env_split(line, &key, &val, &len);

	if (kind == 0)
		return OSP_OK;
	if (kind < 0 || !osp_checks_env_key(key)) {
		snprintf(err, errlen, "env file '%s':%d: expected KEY=VALUE", path, lineno);
		return OSP_EINVAL;
	}
	if (agent_runner_env_reserved(key)) {
		OSP_WARN("OSP-RUN-ENV-RESERVED", "env file '%s':%d: '%s' is set by the agent, ignored", path,
			lineno, key);
		return OSP_OK;
	}
	if (*n >= AGENT_RUNNER_MAX_ENV + 5) {
		snprintf(err, errlen, "env file '%s': more than %d entries", path, AGENT_RUNNER_MAX_ENV);
		return OSP_EINVAL;
	}
	return agent_runner_env_set(envp, n, key, strlen(key), val, len);
}

/* agent_runner_env_file adds the entries of spec->env_file to envp. */
static osp_err agent_runner_env_file(const char *path, char **envp, size_t *n, char *err, size_t errlen)
{
	char *text = NULL, *line, *nl;
	size_t len;
	int lineno = 0;
	osp_err rv = osp_file_read(path, AGENT_RUNNER_ENV_FILE_MAX, &text, &len);

	if (rv == OSP_ENOENT) {
		snprintf(err, errlen, "env file '%s': no such file", path);
		return rv;
	}
	if (rv != OSP_OK) {
		snprintf(err, errlen, "env file '%s': %s", path, osp_strerror(rv));
		return rv;
	}
	for (line = text; line != NULL && rv == OSP_OK; line = nl) {
		nl = strchr(line, '\n');
		if (nl != NULL)
			*nl++ = '\0';
		rv = agent_runner_env_line(line, path, ++lineno, envp, n, err, errlen);
	}
	free(text);
	return rv;
}

/* agent_runner_env_build builds the clean environment (heap vector). */
static osp_err agent_runner_env_build(const agent_proc_spec *spec, const char *home, char ***out, char *err,
	size_t errlen)
{
	char **envp = calloc(AGENT_RUNNER_MAX_ENV + 6, sizeof(*envp));
	size_t n = 0;
	char port[16];
	const char *const vars[][2] = {
		{ "PATH", AGENT_SPAWN_PATH },
		{ "HOME", home },
		{ "PORT", port },
		{ "OSPEC_APP", spec->app },
		{ "OSPEC_SLOT", spec->slot },
	};
	osp_err rv = OSP_OK;

	if (envp == NULL)
		return OSP_ENOMEM;
	snprintf(port, sizeof(port), "%u", spec->port);
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		rv = agent_runner_env_set(envp, &n, vars[i][0], strlen(vars[i][0]), vars[i][1], strlen(vars[i][1]));
		if (rv != OSP_OK)
			goto out;
	}
	if (spec->env_file != NULL) {
		rv = agent_runner_env_file(spec->env_file, envp, &n, err, errlen);
		if (rv != OSP_OK)
			goto out;
	}
	*out = envp;
	envp = NULL; /* handed to the caller */
out:
	if (rv == OSP_ENOMEM)
		snprintf(err, errlen, "out of memory");
	agent_runner_strv_free(envp);
	return rv;
}

osp_err agent_runner_env_app(const char *home, const char *env_file, char *const *extra,
	char ***out, char *err, size_t errlen)
{
	char **envp = calloc(AGENT_RUNNER_MAX_ENV + 8 + AGENT_RUN_MAX_ENV, sizeof(*envp));
	size_t n = 0;
	osp_err rv;

	if (envp == NULL)
		return OSP_ENOMEM;
	rv = agent_runner_env_set(envp, &n, "PATH", 4, AGENT_SPAWN_PATH, strlen(AGENT_SPAWN_PATH));
	if (rv == OSP_OK)
		rv = agent_runner_env_set(envp, &n, "HOME", 4, home, strlen(home));
	if (rv == OSP_OK && env_file != NULL)
		rv = agent_runner_env_file(env_file, envp, &n, err, errlen);
	/* the caller's entries win over the file's: at most AGENT_RUN_MAX_ENV */
	for (size_t i = 0; rv == OSP_OK && extra != NULL && extra[i] != NULL &&
		i < AGENT_RUN_MAX_ENV; i++) {
		const char *eq = strchr(extra[i], '=');
		if (eq == NULL)
			continue;
		rv = agent_runner_env_set(envp, &n, extra[i], (size_t)(eq - extra[i]), eq + 1,
			strlen(eq + 1));
	}
	if (rv == OSP_OK) {
		*out = envp;
		envp = NULL; /* handed to the caller */
	} else if (rv == OSP_ENOMEM) {
		snprintf(err, errlen, "out of memory");
	}
	agent_runner_strv_free(envp);
	return rv;
}

/* agent_runner_user looks up the user to run as (NULL = the agent's own),
 * fills uid/gid/groups/home and decides whether the child must switch. */
osp_err agent_runner_user(const char *user, agent_spawn_ctx *c, char *err, size_t errlen)
{
	struct passwd pw, *res = NULL;
	char buf[16384];
	int ng = AGENT_SPAWN_MAX_GROUPS;

	/* res stays NULL for a missing user as for a failed lookup */
	if (user == NULL)
		getpwuid_r(geteuid(), &pw, buf, sizeof(buf), &res);
	else
		getpwnam_r(user, &pw, buf, sizeof(buf), &res);
	if (res == NULL && user != NULL) {
		snprintf(err, errlen, "user '%s' does not exist", user);
		return OSP_ENOENT;
	}
	osp_strlcpy(c->home, res != NULL ? res->pw_dir : "/", sizeof(c->home));
	if (user == NULL || res->pw_uid == geteuid())
		return OSP_OK; /* already that user: nothing to switch */
	if (geteuid() != 0) {
		snprintf(err, errlen, "cannot run as user '%s': the agent is not root", user);
		return OSP_EPERM;
	}
	c->drop = true;
	c->uid = res->pw_uid;
	c->gid = res->pw_gid;
	c->groups = calloc(AGENT_SPAWN_MAX_GROUPS, sizeof(gid_t));
	if (c->groups == NULL)
		return OSP_ENOMEM;
	if (getgrouplist(user, res->pw_gid, c->groups, &ng) < 0) {
		snprintf(err, errlen, "user '%s': more than %d groups", user, AGENT_SPAWN_MAX_GROUPS);
		return OSP_EINVAL;
	}
	c->ngroups = ng;
	return OSP_OK;
}

/* agent_runner_resolve finds the program: relative to the release dir if it
 * has a '/', else in the clean PATH. */
static osp_err agent_runner_resolve(const char *cwd, const char *prog, char *exe, size_t len, char *err,
	size_t errlen)
{
	static const char *const dirs[] = { "/usr/local/bin", "/usr/bin", "/bin" };
	size_t n;

	if (strchr(prog, '/') != NULL) {
		if (prog[0] == '/')
			n = osp_strlcpy(exe, prog, len);
		else
			n = (size_t)snprintf(exe, len, "%s/%s", cwd, prog);
		if (n >= len) {
			snprintf(err, errlen, "exec '%s': path too long", prog);
			return OSP_ETOOBIG;
		}
		return OSP_OK;
	}
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if ((size_t)snprintf(exe, len, "%s/%s", dirs[i], prog) < len && access(exe, X_OK) == 0)
			return OSP_OK;
	}
	snprintf(err, errlen, "exec '%s': not found in %s", prog, AGENT_SPAWN_PATH);
	return OSP_ENOENT;
}

/* agent_runner_high_fd makes sure fd is >= 4 so that the child's dup2 onto
 * 0..3 never overwrites another of its fds. */
int agent_runner_high_fd(int fd)
{
	int nfd;

	if (fd < 0 || fd >= 4)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 4);
	close(fd);
	return nfd;
}

/* agent_runner_open_fds opens /dev/null, the logs and the report pipe. */
static osp_err agent_runner_open_fds(const char *state_dir, const agent_proc_spec *spec, agent_spawn_ctx *c,
	char *err, size_t errlen)
{
	char path[PATH_MAX];
	int p[2];

	c->null_fd = agent_runner_high_fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
	if (agent_runner_path(path, sizeof(path), state_dir, "logs", spec->app, spec->slot, ".out") != OSP_OK) {
		snprintf(err, errlen, "log path too long");
		return OSP_ETOOBIG;
	}
	c->out_fd = agent_runner_high_fd(open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
	if (c->out_fd < 0) {
		agent_runner_errfmt(err, errlen, path, errno);
		return OSP_EIO;
	}
	if (agent_runner_path(path, sizeof(path), state_dir, "logs", spec->app, spec->slot, ".err") != OSP_OK) {
		snprintf(err, errlen, "log path too long");
		return OSP_ETOOBIG;
	}
	c->err_fd = agent_runner_high_fd(open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
	if (c->err_fd < 0) {
		agent_runner_errfmt(err, errlen, path, errno);
		return OSP_EIO;
	}
	if (c->null_fd < 0 || pipe2(p, O_CLOEXEC) != 0) {
		agent_runner_errfmt(err, errlen, "spawn", errno);
		return OSP_EIO;
	}
	c->pipe_r = agent_runner_high_fd(p[0]);
	c->pipe_w = agent_runner_high_fd(p[1]);
	if (c->pipe_r < 0 || c->pipe_w < 0) {
		agent_runner_errfmt(err, errlen, "spawn", errno);
		return OSP_EIO;
	}
	return OSP_OK;
}

/* agent_runner_child runs in the forked child: async-signal-safe calls only. */
static void agent_runner_child(const agent_spawn_ctx *c)
{
	agent_spawn_report rep = { AGENT_STAGE_SETUP, 0 };
	struct sigaction sa;
	sigset_t all;
	int report_fd = c->pipe_w; /* fd 3 once the dups are done */

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL); /* fails harmlessly for SIGKILL/SIGSTOP */
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	if (setpgid(0, 0) != 0 || dup2(c->null_fd, 0) < 0 || dup2(c->out_fd, 1) < 0 || dup2(c->err_fd, 2) < 0 ||
	    dup3(c->pipe_w, 3, O_CLOEXEC) < 0)
		goto fail;
	report_fd = 3;
	if (close_range(4, ~0U, 0) != 0) {
		for (int fd = 4; fd <= c->max_fd; fd++)
			close(fd);
	}
	umask(022);
	rep.stage = AGENT_STAGE_CHDIR;
	if (chdir(c->cwd) != 0)
		goto fail;
	if (c->drop) {
		rep.stage = AGENT_STAGE_SETGROUPS;
		if (setgroups((size_t)c->ngroups, c->groups) != 0)
			goto fail;
		rep.stage = AGENT_STAGE_SETGID;
		if (setgid(c->gid) != 0)
			goto fail;
		rep.stage = AGENT_STAGE_SETUID;
		if (setuid(c->uid) != 0)
			goto fail;
	}
	rep.stage = AGENT_STAGE_EXEC;
	execve(c->exe, c->argv, c->envp);
fail:
	rep.err = errno;
	if (write(report_fd, &rep, sizeof(rep)) < 0)
		_exit(126);
	_exit(127);
}

/* agent_runner_report_err turns a child's failure report into err. */
static osp_err agent_runner_report_err(const agent_spawn_ctx *c, const agent_spawn_report *rep, char *err,
	size_t errlen)
{
	char what[PATH_MAX + 32];

	switch (rep->stage) {
	case AGENT_STAGE_CHDIR:
		snprintf(what, sizeof(what), "chdir '%s'", c->cwd);
		break;
	case AGENT_STAGE_SETGROUPS:
	case AGENT_STAGE_SETGID:
	case AGENT_STAGE_SETUID:
		snprintf(what, sizeof(what), "switch to uid %u", (unsigned)c->uid);
		break;
	case AGENT_STAGE_EXEC:
		snprintf(what, sizeof(what), "exec '%s'", c->argv[0]);
		break;
	default:
		snprintf(what, sizeof(what), "spawn");
		break;
	}
	agent_runner_errfmt(err, errlen, what, rep->err);
	if (rep->err == ENOENT || rep->err == ENOTDIR)
		return OSP_ENOENT;
	if (rep->err == EACCES || rep->err == EPERM)
		return OSP_EPERM;
	return rep->err == ENOMEM ? OSP_ENOMEM : OSP_EIO;
}

/* agent_runner_fork forks the child and waits for its exec report. */
osp_err agent_runner_fork(agent_spawn_ctx *c, pid_t *out, char *err, size_t errlen)
{
	agent_spawn_report rep;
	ssize_t n;
	pid_t pid = fork();

	if (pid < 0) {
		agent_runner_errfmt(err, errlen, "fork", errno);
		return OSP_EIO;
	}
	if (pid == 0)
		agent_runner_child(c); /* never returns */
	close(c->pipe_w);
	c->pipe_w = -1;
	do {
		n = read(c->pipe_r, &rep, sizeof(rep));
	} while (n < 0 && errno == EINTR);
	if (n == 0) {
		*out = pid;
		return OSP_OK; /* EOF: the exec closed the pipe */
	}
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof(rep)) {
		snprintf(err, errlen, "spawn: lost the child's exec report");
		return OSP_EIO;
	}
	return agent_runner_report_err(c, &rep, err, errlen);
}

static void agent_runner_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

osp_err agent_runner_spawn(const char *state_dir, const agent_proc_spec *spec, pid_t *pid,
	unsigned long long *start_time, uint64_t *err_size, char *err, size_t errlen)
{
	agent_spawn_ctx c;
	struct rlimit rl;
	struct stat st;
	char state;
	osp_err rv;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	memset(&c, 0, sizeof(c));
	c.null_fd = c.out_fd = c.err_fd = c.pipe_r = c.pipe_w = -1;
	c.cwd = spec->release_dir;
	c.max_fd = (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536) ? (int)rl.rlim_cur : 65536;
	rv = agent_runner_split_run(spec->run, spec->port, &c.argv, err, errlen);
	if (rv == OSP_OK)
		rv = agent_runner_user(spec->user, &c, err, errlen);
	if (rv == OSP_OK)
		rv = agent_runner_env_build(spec, c.home, &c.envp, err, errlen);
	if (rv == OSP_OK)
		rv = agent_runner_resolve(c.cwd, c.argv[0], c.exe, sizeof(c.exe), err, errlen);
	if (rv == OSP_OK)
		rv = agent_runner_open_fds(state_dir, spec, &c, err, errlen);
	/* where this process's stderr will begin: its slot's earlier runs (and
	 * releases) wrote what is before */
	if (rv == OSP_OK && err_size != NULL)
		*err_size = fstat(c.err_fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	if (rv == OSP_OK)
		rv = agent_runner_fork(&c, pid, err, errlen);
	if (rv != OSP_OK)
		goto out;
	/* The start time is set at fork and survives exec; the pid cannot have
	 * been reaped yet since only the runner (under its lock) reaps it. */
	if (agent_runner_proc_stat(*pid, &state, start_time) != OSP_OK)
		*start_time = 0;
out:
	if (rv == OSP_ENOMEM && err != NULL && errlen > 0 && err[0] == '\0')
		snprintf(err, errlen, "out of memory");
	agent_runner_close(&c.null_fd);
	agent_runner_close(&c.out_fd);
	agent_runner_close(&c.err_fd);
	agent_runner_close(&c.pipe_r);
	agent_runner_close(&c.pipe_w);
	agent_runner_strv_free(c.argv);
	agent_runner_strv_free(c.envp);
	free(c.groups);
	return rv;
}
