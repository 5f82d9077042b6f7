/*
 * agent_runner.c - supervision of app processes: the list of (app, slot)
 * entries, the supervisor thread (reaping, liveness of adopted processes,
 * restarts with backoff, log rotation), stop and adopt.
 *
 * One mutex guards the runner. Spawning happens under it (it only waits for
 * the exec). Stop releases it while it waits for a process group to exit; the
 * entry is marked `stopping` meanwhile, which keeps it in place (only the
 * stopper unlinks it) and keeps the supervisor from restarting it.
 */
#include "agent_runner.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent_runner_int.h"
#include "ospec/log.h"
#include "ospec/util.h"

#define AGENT_TICK_MS 100          /* supervisor period */
#define AGENT_ADOPTED_EVERY 2      /* ticks between liveness polls of adopted processes */
#define AGENT_ROTATE_EVERY 5       /* ticks between log size checks */
#define AGENT_BACKOFF_MIN_MS 1000
#define AGENT_BACKOFF_MAX_MS 30000
#define AGENT_BACKOFF_RESET_MS 60000
#define AGENT_KILL_WAIT_MS 5000    /* after SIGKILL, how long stop waits for the leader */
#define AGENT_STOP_POLL_MS 20

typedef struct agent_rproc {
	struct agent_rproc *next;
	char app[64];
	char slot[64];
	char *release_dir, *run, *user, *env_file; /* owned copies of the spec */
	unsigned port;
	uint64_t log_max;
	pid_t pid;                     /* 0 while waiting to restart */
	unsigned long long start_time; /* of pid, from /proc */
	bool adopted;                  /* not our child: liveness by polling */
	bool stopping;                 /* agent_runner_stop owns the entry */
	unsigned restarts;
	int last_exit;
	int64_t started_wall_ms, started_mono_ms;
	int64_t restart_at; /* monotonic ms, 0 = none */
	int64_t backoff_ms;
	agent_log_mark err_mark; /* where this run's stderr begins */
} agent_rproc;

struct agent_runner {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	bool thread_started;
	bool closing;
	unsigned tick;
	char state_dir[PATH_MAX];
	char boot_id[AGENT_BOOT_ID_LEN];
	agent_rproc *procs;
};

static void agent_rproc_free(agent_rproc *p)
{
	if (p == NULL)
		return;
	free(p->release_dir);
	free(p->run);
	free(p->user);
	free(p->env_file);
	free(p);
}

/* agent_rproc_dup copies s (NULL stays NULL); false on allocation failure. */
static bool agent_rproc_dup(char **dst, const char *s)
{
	*dst = NULL;
	if (s == NULL)
		return true;
	*dst = strdup(s);
	return *dst != NULL;
}

static agent_rproc *agent_rproc_new(const agent_proc_spec *s)
{
	agent_rproc *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	osp_strlcpy(p->app, s->app, sizeof(p->app));
	osp_strlcpy(p->slot, s->slot, sizeof(p->slot));
	if (!agent_rproc_dup(&p->release_dir, s->release_dir) || !agent_rproc_dup(&p->run, s->run) ||
	    !agent_rproc_dup(&p->user, s->user) || !agent_rproc_dup(&p->env_file, s->env_file)) {
		agent_rproc_free(p);
		return NULL;
	}
	p->port = s->port;
	p->log_max = s->log_max_bytes ? s->log_max_bytes : AGENT_RUNNER_LOG_MAX_DEFAULT;
	p->last_exit = -1;
	p->backoff_ms = AGENT_BACKOFF_MIN_MS;
	return p;
}

/* agent_rproc_spec fills a spec view of p (pointing into p). */
static void agent_rproc_spec(const agent_rproc *p, agent_proc_spec *s)
{
	memset(s, 0, sizeof(*s));
	s->app = p->app;
	s->slot = p->slot;
	s->release_dir = p->release_dir;
	s->run = p->run;
	s->port = p->port;
	s->user = p->user;
	s->env_file = p->env_file;
	s->log_max_bytes = p->log_max;
}

static agent_rproc *agent_runner_find(agent_runner *r, const char *app, const char *slot)
{
	for (agent_rproc *p = r->procs; p != NULL; p = p->next)
		if (strcmp(p->app, app) == 0 && strcmp(p->slot, slot) == 0)
			return p;
	return NULL;
}

static void agent_runner_unlink(agent_runner *r, agent_rproc *p)
{
	for (agent_rproc **pp = &r->procs; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			return;
		}
	}
}

static osp_err agent_runner_write_pidfile(agent_runner *r, const agent_rproc *p)
{
	agent_pidfile pf;

	memset(&pf, 0, sizeof(pf));
	pf.pid = p->pid;
	pf.start_time = p->start_time;
	pf.boot_id = r->boot_id;
	pf.started_wall_ms = p->started_wall_ms;
	pf.err_mark = p->err_mark;
	agent_rproc_spec(p, &pf.spec);
	return agent_runner_pidfile_write(r->state_dir, &pf);
}

static void agent_runner_remove_pidfile(agent_runner *r, const char *app, const char *slot)
{
	char path[PATH_MAX];

	if (agent_runner_path(path, sizeof(path), r->state_dir, "run", app, slot, ".pid") == OSP_OK)
		unlink(path);
}

int agent_runner_exit_code(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return -1;
}

/* agent_runner_gone reports whether p's process is gone, reaping it if it is
 * our child; *code is its exit code or -1 if unknown. An adopted pid is only
 * waited for once its start time matched, so that a recycled pid which is a
 * child of ours for another reason is never reaped here. */
static bool agent_runner_gone(agent_rproc *p, int *code)
{
	unsigned long long start;
	char state;
	int st;
	pid_t w;

	*code = -1;
	if (!p->adopted) {
		w = waitpid(p->pid, &st, WNOHANG);
		if (w == p->pid) {
			*code = agent_runner_exit_code(st);
			return true;
		}
		if (w == 0)
			return false;
	}
	/* adopted, or somebody else reaped our child: ask /proc */
	osp_err rv = agent_runner_proc_stat(p->pid, &state, &start);
	if (rv == OSP_ENOENT || (rv == OSP_OK && start != p->start_time))
		return true;
	if (rv != OSP_OK || (state != 'Z' && state != 'X'))
		return false;
	if (waitpid(p->pid, &st, WNOHANG) == p->pid)
		*code = agent_runner_exit_code(st);
	return true;
}

/* agent_runner_exited records that p's process is gone and, unless p is being
 * stopped, schedules a restart with backoff. */
static void agent_runner_exited(agent_rproc *p, int code)
{
	int64_t now = osp_now_mono_ms();
	char ran[32], wait[32];

	p->pid = 0;
	p->last_exit = code;
	if (p->stopping)
		return;
	if (now - p->started_mono_ms >= AGENT_BACKOFF_RESET_MS)
		p->backoff_ms = AGENT_BACKOFF_MIN_MS;
	p->restart_at = now + p->backoff_ms;
	osp_duration_fmt(now - p->started_mono_ms, ran, sizeof(ran));
	osp_duration_fmt(p->backoff_ms, wait, sizeof(wait));
	OSP_WARN("OSP-RUN-EXIT", "app '%s' slot '%s' exited with status %d after %s, restarting in %s", p->app,
		p->slot, code, ran, wait);
	p->backoff_ms = p->backoff_ms * 2 > AGENT_BACKOFF_MAX_MS ? AGENT_BACKOFF_MAX_MS : p->backoff_ms * 2;
}

/* agent_runner_restart starts p again from its spec (under the lock). */
static void agent_runner_restart(agent_runner *r, agent_rproc *p)
{
	agent_proc_spec spec;
	char err[512];
	osp_err rv;

	agent_rproc_spec(p, &spec);
	p->restart_at = 0;
	/* the same run goes on: p->err_mark stays */
	rv = agent_runner_spawn(r->state_dir, &spec, &p->pid, &p->start_time, NULL, err, sizeof(err));
	if (rv != OSP_OK) {
		p->pid = 0;
		p->restart_at = osp_now_mono_ms() + p->backoff_ms;
		OSP_ERROR("OSP-RUN-RESTART-FAIL", "app '%s' slot '%s' could not be restarted: %s", p->app, p->slot,
			err);
		p->backoff_ms = p->backoff_ms * 2 > AGENT_BACKOFF_MAX_MS ? AGENT_BACKOFF_MAX_MS : p->backoff_ms * 2;
		return;
	}
	p->adopted = false;
	p->restarts++;
	p->started_wall_ms = osp_now_wall_ms();
	p->started_mono_ms = osp_now_mono_ms();
	if (agent_runner_write_pidfile(r, p) != OSP_OK)
		OSP_WARN("OSP-RUN-PIDFILE", "app '%s' slot '%s': cannot write the pidfile", p->app, p->slot);
	OSP_INFO("OSP-RUN-RESTART", "app '%s' slot '%s' restarted (pid %d, restart %u)", p->app, p->slot,
		(int)p->pid, p->restarts);
}

/* agent_runner_rotate caps p's logs; the stderr mark follows its rotation
 * (into the pidfile too, so that an adopting runner has it). */
static void agent_runner_rotate(agent_runner *r, agent_rproc *p)
{
	static const char *const sfx[] = { ".out", ".err" };
	agent_log_mark was = p->err_mark;
	char path[PATH_MAX];

	for (int i = 0; i < 2; i++) {
		if (agent_runner_path(path, sizeof(path), r->state_dir, "logs", p->app, p->slot, sfx[i]) != OSP_OK)
			continue;
		if (agent_runner_log_rotate(path, p->log_max, i == 1 ? &p->err_mark : NULL) != OSP_OK)
			OSP_WARN("OSP-RUN-ROTATE", "cannot rotate '%s'", path);
	}
	if ((was.old != p->err_mark.old || was.off != p->err_mark.off) &&
	    agent_runner_write_pidfile(r, p) != OSP_OK)
		OSP_WARN("OSP-RUN-PIDFILE", "app '%s' slot '%s': cannot write the pidfile", p->app, p->slot);
}

/* agent_runner_tick is one supervisor round (under the lock). */
static void agent_runner_tick(agent_runner *r)
{
	int64_t now = osp_now_mono_ms();
	int code;

	r->tick++;
	for (agent_rproc *p = r->procs; p != NULL; p = p->next) {
		if (p->pid > 0) {
			if ((!p->adopted || r->tick % AGENT_ADOPTED_EVERY == 0) && agent_runner_gone(p, &code))
				agent_runner_exited(p, code);
			else if (r->tick % AGENT_ROTATE_EVERY == 0)
				agent_runner_rotate(r, p);
		} else if (!p->stopping && p->restart_at != 0 && now >= p->restart_at) {
			agent_runner_restart(r, p);
		}
	}
}

static void *agent_runner_main(void *arg)
{
	agent_runner *r = arg;
	struct timespec ts;

	pthread_mutex_lock(&r->mu);
	while (!r->closing) {
		agent_runner_tick(r);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += AGENT_TICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!r->closing && pthread_cond_timedwait(&r->cv, &r->mu, &ts) == 0)
			;
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

osp_err agent_runner_alloc(agent_runner **out, const char *state_dir)
{
	agent_runner *r = NULL;
	pthread_condattr_t ca;
	char dir[PATH_MAX];
	osp_err rv = OSP_OK;

	if (out == NULL || state_dir == NULL || state_dir[0] == '\0')
		return OSP_EINVAL;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return OSP_ENOMEM;
	pthread_mutex_init(&r->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (osp_strlcpy(r->state_dir, state_dir, sizeof(r->state_dir)) >= sizeof(r->state_dir) - 16) {
		rv = OSP_ETOOBIG;
		goto out;
	}
	agent_runner_boot_id(r->boot_id, sizeof(r->boot_id));
	snprintf(dir, sizeof(dir), "%s/run", state_dir);
	rv = osp_mkdir_p(dir, 0750);
	if (rv != OSP_OK)
		goto out;
	snprintf(dir, sizeof(dir), "%s/logs", state_dir);
	rv = osp_mkdir_p(dir, 0750);
	if (rv != OSP_OK)
		goto out;
	if (pthread_create(&r->thread, NULL, agent_runner_main, r) != 0) {
		rv = OSP_ENOMEM;
		goto out;
	}
	r->thread_started = true;
	*out = r;
	r = NULL; /* handed to the caller */
out:
	agent_runner_free(r);
	return rv;
}

void agent_runner_free(agent_runner *r)
{
	if (r == NULL)
		return;
	if (r->thread_started) {
		pthread_mutex_lock(&r->mu);
		r->closing = true;
		pthread_cond_broadcast(&r->cv);
		pthread_mutex_unlock(&r->mu);
		pthread_join(r->thread, NULL);
	}
	/* The processes keep running; their pidfiles stay for a later adopt. */
	while (r->procs != NULL) {
		agent_rproc *p = r->procs;
		r->procs = p->next;
		agent_rproc_free(p);
	}
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

static bool agent_runner_str_ok(const char *s, bool required)
{
	if (s == NULL)
		return !required;
	return s[0] != '\0' && strchr(s, '\n') == NULL && strlen(s) < PATH_MAX;
}

/* agent_runner_check_spec validates spec and checks it against the entries. */
static osp_err agent_runner_check_spec(agent_runner *r, const agent_proc_spec *s, char *err, size_t errlen)
{
	if (s == NULL || !osp_valid_id(s->app) || !osp_valid_id(s->slot)) {
		snprintf(err, errlen, "invalid app or slot name");
		return OSP_EINVAL;
	}
	if (!agent_runner_str_ok(s->release_dir, true) || s->release_dir[0] != '/') {
		snprintf(err, errlen, "release_dir must be an absolute path");
		return OSP_EINVAL;
	}
	if (!agent_runner_str_ok(s->run, true) || strlen(s->run) > AGENT_RUNNER_MAX_RUN) {
		snprintf(err, errlen, "run must be one line of 1..%d bytes", AGENT_RUNNER_MAX_RUN);
		return OSP_EINVAL;
	}
	if (s->port == 0 || s->port > 65535) {
		snprintf(err, errlen, "port %u is not in 1..65535", s->port);
		return OSP_EINVAL;
	}
	if (!agent_runner_str_ok(s->user, false) || !agent_runner_str_ok(s->env_file, false)) {
		snprintf(err, errlen, "invalid user or env_file");
		return OSP_EINVAL;
	}
	for (agent_rproc *p = r->procs; p != NULL; p = p->next) {
		if (strcmp(p->app, s->app) == 0 && strcmp(p->slot, s->slot) == 0) {
			snprintf(err, errlen, "app '%s' slot '%s' is already supervised (pid %d)", p->app, p->slot,
				(int)p->pid);
			return OSP_EBUSY;
		}
		if (p->port == s->port) {
			snprintf(err, errlen, "port %u is already used by app '%s' slot '%s'", s->port, p->app,
				p->slot);
			return OSP_EBUSY;
		}
	}
	return OSP_OK;
}

/* agent_runner_kill_wait kills the group of a process we could not record
 * and reaps it. */
static void agent_runner_kill_wait(pid_t pid)
{
	kill(-pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

osp_err agent_runner_start(agent_runner *r, const agent_proc_spec *spec, char *err, size_t errlen)
{
	agent_rproc *p = NULL;
	osp_err rv;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (r == NULL)
		return OSP_EINVAL;
	pthread_mutex_lock(&r->mu);
	rv = agent_runner_check_spec(r, spec, err, errlen);
	if (rv != OSP_OK)
		goto out;
	p = agent_rproc_new(spec);
	if (p == NULL) {
		rv = OSP_ENOMEM;
		goto out;
	}
	/* a new run: the stderr tail of this slot starts here */
	p->err_mark.set = true;
	rv = agent_runner_spawn(r->state_dir, spec, &p->pid, &p->start_time, &p->err_mark.off, err, errlen);
	if (rv != OSP_OK)
		goto out;
	p->started_wall_ms = osp_now_wall_ms();
	p->started_mono_ms = osp_now_mono_ms();
	rv = agent_runner_write_pidfile(r, p);
	if (rv != OSP_OK) {
		/* an unrecorded process could never be adopted: do not leave it */
		snprintf(err, errlen, "cannot write the pidfile: %s", osp_strerror(rv));
		agent_runner_kill_wait(p->pid);
		goto out;
	}
	OSP_INFO("OSP-RUN-START", "app '%s' slot '%s' started (pid %d, port %u)", p->app, p->slot, (int)p->pid,
		p->port);
	p->next = r->procs;
	r->procs = p;
	p = NULL; /* owned by the runner */
out:
	pthread_mutex_unlock(&r->mu);
	agent_rproc_free(p);
	return rv;
}

/* agent_runner_stop_wait waits until p's leader is gone and its group has no
 * live member, or until deadline (monotonic ms). Returns true if it is so. */
static bool agent_runner_stop_wait(agent_runner *r, agent_rproc *p, pid_t pgid, int64_t deadline)
{
	int code;

	for (;;) {
		bool leader_gone;

		pthread_mutex_lock(&r->mu);
		if (p->pid > 0 && agent_runner_gone(p, &code))
			agent_runner_exited(p, code);
		leader_gone = p->pid == 0;
		pthread_mutex_unlock(&r->mu);
		if (leader_gone && !agent_runner_group_alive(pgid))
			return true;
		if (osp_now_mono_ms() >= deadline)
			return false;
		osp_sleep_ms(AGENT_STOP_POLL_MS);
	}
}

osp_err agent_runner_stop(agent_runner *r, const char *app, const char *slot, int64_t grace_ms)
{
	agent_rproc *p;
	pid_t pgid = 0;
	int code;

	if (r == NULL || app == NULL || slot == NULL)
		return OSP_EINVAL;
	pthread_mutex_lock(&r->mu);
	p = agent_runner_find(r, app, slot);
	if (p == NULL || p->stopping) {
		pthread_mutex_unlock(&r->mu);
		return p == NULL ? OSP_ENOENT : OSP_EBUSY;
	}
	p->stopping = true;
	p->restart_at = 0;
	/* never signal a pid that is no longer ours (adopted and recycled) */
	if (p->pid > 0 && agent_runner_gone(p, &code))
		agent_runner_exited(p, code);
	if (p->pid > 0) {
		pgid = p->pid;
		if (kill(-pgid, SIGTERM) != 0)
			kill(pgid, SIGTERM);
	}
	pthread_mutex_unlock(&r->mu);
	if (pgid > 0 && !agent_runner_stop_wait(r, p, pgid, osp_now_mono_ms() + (grace_ms > 0 ? grace_ms : 0))) {
		OSP_WARN("OSP-RUN-KILL", "app '%s' slot '%s' did not stop within %lldms, killing it", app, slot,
			(long long)grace_ms);
		kill(-pgid, SIGKILL);
		pthread_mutex_lock(&r->mu);
		if (p->pid > 0)
			kill(p->pid, SIGKILL);
		pthread_mutex_unlock(&r->mu);
		agent_runner_stop_wait(r, p, pgid, osp_now_mono_ms() + AGENT_KILL_WAIT_MS);
	}
	pthread_mutex_lock(&r->mu);
	agent_runner_unlink(r, p);
	agent_runner_remove_pidfile(r, p->app, p->slot);
	pthread_mutex_unlock(&r->mu);
	OSP_INFO("OSP-RUN-STOP", "app '%s' slot '%s' stopped", app, slot);
	agent_rproc_free(p);
	return OSP_OK;
}

osp_err agent_runner_status(agent_runner *r, const char *app, const char *slot, agent_proc_status *st)
{
	agent_rproc *p;
	osp_err rv = OSP_OK;

	if (r == NULL || app == NULL || slot == NULL || st == NULL)
		return OSP_EINVAL;
	pthread_mutex_lock(&r->mu);
	p = agent_runner_find(r, app, slot);
	if (p == NULL) {
		rv = OSP_ENOENT;
	} else {
		memset(st, 0, sizeof(*st));
		st->running = p->pid > 0;
		st->pid = p->pid;
		st->restarts = p->restarts;
		st->last_exit_status = p->last_exit;
		st->started_wall_ms = p->started_wall_ms;
	}
	pthread_mutex_unlock(&r->mu);
	return rv;
}

/* agent_runner_matches reports whether the process a pidfile names is still
 * exactly that process: same boot, pid alive (not a zombie), same start time. */
static bool agent_runner_matches(agent_runner *r, const agent_pidfile *pf)
{
	unsigned long long start;
	char state;

	if (r->boot_id[0] == '\0' || strcmp(pf->boot_id, r->boot_id) != 0)
		return false;
	if (agent_runner_proc_stat(pf->pid, &state, &start) != OSP_OK)
		return false;
	return start == pf->start_time && state != 'Z' && state != 'X';
}

/* agent_runner_adopt_locked adopts from the pidfile text (under the lock). */
static osp_err agent_runner_adopt_locked(agent_runner *r, const char *app, const char *slot, char *text,
	bool *adopted)
{
	agent_pidfile pf;
	agent_rproc *p;

	if (agent_runner_pidfile_parse(text, &pf) != OSP_OK || strcmp(pf.spec.app, app) != 0 ||
	    strcmp(pf.spec.slot, slot) != 0) {
		OSP_WARN("OSP-RUN-PIDFILE-BAD", "removed malformed pidfile of app '%s' slot '%s'", app, slot);
		agent_runner_remove_pidfile(r, app, slot);
		return OSP_EDECODE;
	}
	if (!agent_runner_matches(r, &pf)) {
		OSP_INFO("OSP-RUN-STALE", "removed stale pidfile of app '%s' slot '%s' (pid %d)", app, slot,
			(int)pf.pid);
		agent_runner_remove_pidfile(r, app, slot);
		return OSP_OK;
	}
	p = agent_rproc_new(&pf.spec);
	if (p == NULL)
		return OSP_ENOMEM;
	p->pid = pf.pid;
	p->start_time = pf.start_time;
	p->adopted = true;
	p->started_wall_ms = pf.started_wall_ms;
	p->started_mono_ms = osp_now_mono_ms() - (osp_now_wall_ms() - pf.started_wall_ms);
	p->err_mark = pf.err_mark;
	for (agent_rproc *q = r->procs; q != NULL; q = q->next)
		if (q->port == p->port)
			OSP_WARN("OSP-RUN-PORT", "adopted app '%s' slot '%s' shares port %u with app '%s' slot '%s'",
				app, slot, p->port, q->app, q->slot);
	p->next = r->procs;
	r->procs = p;
	*adopted = true;
	OSP_INFO("OSP-RUN-ADOPT", "adopted app '%s' slot '%s' (pid %d)", app, slot, (int)pf.pid);
	return OSP_OK;
}

osp_err agent_runner_adopt(agent_runner *r, const char *app, const char *slot, bool *adopted)
{
	char path[PATH_MAX];
	char *text = NULL;
	size_t len;
	osp_err rv;

	if (r == NULL || adopted == NULL || !osp_valid_id(app) || !osp_valid_id(slot))
		return OSP_EINVAL;
	*adopted = false;
	rv = agent_runner_path(path, sizeof(path), r->state_dir, "run", app, slot, ".pid");
	if (rv != OSP_OK)
		return rv;
	pthread_mutex_lock(&r->mu);
	if (agent_runner_find(r, app, slot) != NULL) {
		*adopted = true;
		goto out;
	}
	rv = osp_file_read(path, 64 * 1024, &text, &len);
	if (rv == OSP_ETOOBIG) {
		unlink(path);
		rv = OSP_EDECODE;
	}
	if (rv == OSP_OK)
		rv = agent_runner_adopt_locked(r, app, slot, text, adopted);
out:
	pthread_mutex_unlock(&r->mu);
	free(text);
	return rv;
}

/* agent_runner_adopt_file adopts the pidfile at path, naming its app and slot
 * from its content; stale and malformed files are removed. */
static osp_err agent_runner_adopt_file(agent_runner *r, const char *path)
{
	agent_pidfile pf;
	char *text = NULL, app[64], slot[64];
	size_t len;
	bool adopted;
	osp_err rv = osp_file_read(path, 64 * 1024, &text, &len);

	if (rv != OSP_OK)
		return rv == OSP_ENOENT ? OSP_OK : rv; /* a concurrent stop removed it */
	if (agent_runner_pidfile_parse(text, &pf) != OSP_OK) {
		OSP_WARN("OSP-RUN-PIDFILE-BAD", "removed malformed pidfile '%s'", path);
		unlink(path);
		free(text);
		return OSP_OK;
	}
	osp_strlcpy(app, pf.spec.app, sizeof(app));
	osp_strlcpy(slot, pf.spec.slot, sizeof(slot));
	free(text);
	rv = agent_runner_adopt(r, app, slot, &adopted);
	return rv == OSP_EDECODE ? OSP_OK : rv;
}

/* agent_runner_supervises reports whether pgid leads a process group the
 * runner supervises (every app runs in its own group). */
static bool agent_runner_supervises(agent_runner *r, pid_t pgid)
{
	bool found = false;

	pthread_mutex_lock(&r->mu);
	for (agent_rproc *p = r->procs; p != NULL && !found; p = p->next)
		found = p->pid > 0 && p->pid == pgid;
	pthread_mutex_unlock(&r->mu);
	return found;
}

/* agent_runner_reap_orphans kills app processes that run from this state
 * dir's releases but that nothing supervises: an agent killed between
 * starting an app and writing its pidfile leaves such an orphan, which the
 * next agent cannot adopt (nothing proves what it is) and which would hold
 * the app's port against the restart. Only this agent starts processes
 * there (the state dir is locked), so they are ours to end. */
static void agent_runner_reap_orphans(agent_runner *r)
{
	char releases[PATH_MAX], link[64], cwd[PATH_MAX];
	struct dirent *de;
	size_t rl;
	DIR *d;

	if ((size_t)snprintf(releases, sizeof(releases), "%s/releases/", r->state_dir) >=
		sizeof(releases))
		return;
	rl = strlen(releases);
	if ((d = opendir("/proc")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		pid_t pid = (pid_t)atoi(de->d_name), pgid;
		ssize_t n;

		if (pid <= 1 || pid == getpid())
			continue;
		snprintf(link, sizeof(link), "/proc/%d/cwd", (int)pid);
		n = readlink(link, cwd, sizeof(cwd) - 1);
		if (n <= 0)
			continue;
		cwd[n] = '\0';
		if ((size_t)n < rl || strncmp(cwd, releases, rl) != 0)
			continue;
		pgid = getpgid(pid);
		if (pgid <= 0 || agent_runner_supervises(r, pgid))
			continue;
		OSP_WARN("AGENT-RUN-ORPHAN",
			"process %d runs from '%s' but no pidfile names it: killing its group",
			(int)pid, cwd);
		kill(pgid == pid ? -pgid : pid, SIGKILL);
	}
	closedir(d);
}

osp_err agent_runner_adopt_all(agent_runner *r)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	osp_err rv = OSP_OK, rv1;

	if (r == NULL)
		return OSP_EINVAL;
	if ((size_t)snprintf(dir, sizeof(dir), "%s/run", r->state_dir) >= sizeof(dir))
		return OSP_ETOOBIG;
	d = opendir(dir);
	if (d == NULL)
		return errno == ENOENT ? OSP_OK : OSP_EIO;
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		if (n < 5 || strcmp(de->d_name + n - 4, ".pid") != 0)
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path))
			continue;
		rv1 = agent_runner_adopt_file(r, path);
		if (rv == OSP_OK)
			rv = rv1;
	}
	closedir(d);
	agent_runner_reap_orphans(r);
	return rv;
}

osp_err agent_runner_stderr_tail(agent_runner *r, const char *app, const char *slot, size_t max_lines,
	char *buf, size_t len)
{
	char path[PATH_MAX];
	agent_rproc *p;
	osp_err rv;

	if (r == NULL || buf == NULL || len == 0 || !osp_valid_id(app) || !osp_valid_id(slot))
		return OSP_EINVAL;
	rv = agent_runner_path(path, sizeof(path), r->state_dir, "logs", app, slot, ".err");
	if (rv != OSP_OK)
		return rv;
	/* under the lock: the supervisor's rotation cannot move the mark and
	 * the files while they are read */
	pthread_mutex_lock(&r->mu);
	p = agent_runner_find(r, app, slot);
	rv = agent_runner_log_tail(path, p != NULL ? &p->err_mark : NULL, max_lines, buf, len);
	pthread_mutex_unlock(&r->mu);
	return rv;
}
