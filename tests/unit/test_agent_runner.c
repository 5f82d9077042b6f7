/*
 * test_agent_runner.c - the runner with real child processes: /bin/sh scripts
 * written into a temp release dir. Waits are generous polls (never tight
 * timing); only lower bounds of durations are asserted.
 */
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent_runner.h"
#include "ospec/util.h"
#include "test_support.h"

#define WAIT_MS 20000 /* generous: the machine may be loaded */

typedef struct fx {
	char root[64];
	char state[128];
	char rel[128];
	agent_runner *r;
} fx;

static int fx_setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	ts_mkdtemp(f->root, sizeof(f->root), "/tmp/ospec-runner-XXXXXX");
	assert_int_equal(chmod(f->root, 0755), 0); /* searchable for the user test */
	snprintf(f->state, sizeof(f->state), "%s/state", f->root);
	snprintf(f->rel, sizeof(f->rel), "%s/rel", f->root);
	assert_int_equal(mkdir(f->rel, 0755), 0);
	assert_int_equal(agent_runner_alloc(&f->r, f->state), OSP_OK);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	fx *f = *state;

	agent_runner_free(f->r);
	ts_kill_pidfiles(f->state);
	ts_rmtree(f->root);
	free(f);
	return 0;
}

static void write_file(const char *dir, const char *name, const char *text, mode_t mode)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(osp_file_write_atomic(path, text, strlen(text), mode), OSP_OK);
	assert_int_equal(chmod(path, mode), 0);
}

/* read_text returns the content of dir/name (heap) or NULL. */
static char *read_text(const char *dir, const char *name, size_t *lenp)
{
	char path[512], *text = NULL;
	size_t len = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (osp_file_read(path, 1 << 20, &text, &len) != OSP_OK)
		return NULL;
	if (lenp != NULL)
		*lenp = len;
	return text;
}

static bool file_contains(const char *dir, const char *name, const char *needle)
{
	char *t = read_text(dir, name, NULL);
	bool found = t != NULL && strstr(t, needle) != NULL;

	free(t);
	return found;
}

static bool path_exists(const char *dir, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

/* pid_alive: the process exists and is not a zombie. */
static bool pid_alive(pid_t pid)
{
	char path[64], *text = NULL, *p;
	size_t len;
	bool alive;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (osp_file_read(path, 4096, &text, &len) != OSP_OK)
		return false;
	p = strrchr(text, ')');
	alive = p != NULL && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
	free(text);
	return alive;
}

static agent_proc_spec spec_of(fx *f, const char *app, const char *slot, const char *run, unsigned port)
{
	agent_proc_spec s;

	memset(&s, 0, sizeof(s));
	s.app = app;
	s.slot = slot;
	s.release_dir = f->rel;
	s.run = run;
	s.port = port;
	return s;
}

static void start_ok(fx *f, const agent_proc_spec *s)
{
	char err[512] = "";
	osp_err rv = agent_runner_start(f->r, s, err, sizeof(err));

	if (rv != OSP_OK)
		fail_msg("start %s/%s: %s: %s", s->app, s->slot, osp_strerror(rv), err);
}

static agent_proc_status status_of(agent_runner *r, const char *app, const char *slot)
{
	agent_proc_status st;

	assert_int_equal(agent_runner_status(r, app, slot, &st), OSP_OK);
	return st;
}

/* wait_restarts polls until app/slot has at least n restarts (and runs, if
 * need_running). */
static bool wait_restarts(agent_runner *r, const char *app, const char *slot, unsigned n, bool need_running)
{
	for (int64_t end = osp_now_mono_ms() + WAIT_MS; osp_now_mono_ms() < end; osp_sleep_ms(50)) {
		agent_proc_status st = status_of(r, app, slot);
		if (st.restarts >= n && (st.running || !need_running))
			return true;
	}
	return false;
}

static bool wait_file(const char *dir, const char *name, const char *needle)
{
	for (int64_t end = osp_now_mono_ms() + WAIT_MS; osp_now_mono_ms() < end; osp_sleep_ms(50))
		if (file_contains(dir, name, needle))
			return true;
	return false;
}

static pid_t read_pid(const char *dir, const char *name)
{
	char *t = read_text(dir, name, NULL);
	pid_t pid = t != NULL ? (pid_t)atoi(t) : 0;

	free(t);
	return pid;
}

static int count_lines(const char *dir, const char *name)
{
	char *t = read_text(dir, name, NULL);
	int n = 0;

	for (char *p = t; p != NULL && *p != '\0'; p++)
		n += *p == '\n';
	free(t);
	return n;
}

/* wait_lines polls until dir/name has at least n lines; returns the count. */
static int wait_lines(const char *dir, const char *name, int n)
{
	int got = 0;

	for (int64_t end = osp_now_mono_ms() + WAIT_MS; osp_now_mono_ms() < end; osp_sleep_ms(50)) {
		got = count_lines(dir, name);
		if (got >= n)
			break;
	}
	return got;
}

/* has_line reports whether text has a line equal to line. */
static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; p != NULL; p = strchr(p, '\n'), p = p != NULL ? p + 1 : NULL)
		if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
			return true;
	return false;
}

static const char SLEEPER[] = "#!/bin/sh\necho $$ >> starts.$OSPEC_SLOT\nexec sleep 1000\n";

static void test_agent_runner_start_status_stop(void **state)
{
	fx *f = *state;
	agent_proc_spec s = spec_of(f, "web", "blue", "./app.sh", 18080);
	agent_proc_status st;
	char run_dir[192];
	pid_t pid, gc;
	int64_t t0;

	write_file(f->rel, "app.sh", "#!/bin/sh\nsleep 1000 &\necho $! > gc.pid\nwait\n", 0755);
	start_ok(f, &s);
	st = status_of(f->r, "web", "blue");
	assert_true(st.running);
	assert_true(st.pid > 0);
	assert_int_equal(st.restarts, 0);
	assert_int_equal(st.last_exit_status, -1);
	assert_true(st.started_wall_ms > 0);
	pid = st.pid;
	assert_int_equal(getpgid(pid), pid); /* its own process group */
	assert_true(wait_file(f->rel, "gc.pid", "\n"));
	gc = read_pid(f->rel, "gc.pid");
	assert_true(gc > 0 && pid_alive(gc));
	snprintf(run_dir, sizeof(run_dir), "%s/run", f->state);
	assert_true(path_exists(run_dir, "web.blue.pid"));

	t0 = osp_now_mono_ms();
	assert_int_equal(agent_runner_stop(f->r, "web", "blue", 15000), OSP_OK);
	/* SIGTERM was enough: no need to wait out the grace period */
	assert_true(osp_now_mono_ms() - t0 < 14000);
	assert_false(pid_alive(pid));
	assert_false(pid_alive(gc)); /* the grandchild went with the group */
	assert_false(path_exists(run_dir, "web.blue.pid"));
	assert_int_equal(agent_runner_status(f->r, "web", "blue", &st), OSP_ENOENT);
	assert_int_equal(agent_runner_stop(f->r, "web", "blue", 1000), OSP_ENOENT);
}

static void test_agent_runner_stop_escalates_to_sigkill(void **state)
{
	fx *f = *state;
	agent_proc_spec s = spec_of(f, "web", "blue", "./stubborn.sh", 18080);
	pid_t pid, gc;
	int64_t t0;

	write_file(f->rel, "stubborn.sh",
		"#!/bin/sh\ntrap '' TERM\nsleep 1000 &\necho $! > gc.pid\nwhile :; do sleep 1; done\n", 0755);
	start_ok(f, &s);
	pid = status_of(f->r, "web", "blue").pid;
	assert_true(wait_file(f->rel, "gc.pid", "\n"));
	gc = read_pid(f->rel, "gc.pid");
	t0 = osp_now_mono_ms();
	assert_int_equal(agent_runner_stop(f->r, "web", "blue", 300), OSP_OK);
	assert_true(osp_now_mono_ms() - t0 >= 300); /* it ignored SIGTERM for the whole grace */
	assert_false(pid_alive(pid));
	assert_false(pid_alive(gc));
}

static void test_agent_runner_restart_with_backoff(void **state)
{
	fx *f = *state;
	agent_proc_spec s = spec_of(f, "web", "blue", "./crash.sh", 18080);
	agent_proc_status st;
	int64_t t0 = osp_now_mono_ms();

	write_file(f->rel, "crash.sh", "#!/bin/sh\necho \"boom $$\" >&2\necho x >> starts\nexit 3\n", 0755);
	start_ok(f, &s);
	assert_true(wait_restarts(f->r, "web", "blue", 2, false));
	/* backoff 1s then 2s: the second restart cannot come sooner */
	assert_true(osp_now_mono_ms() - t0 >= 2900);
	st = status_of(f->r, "web", "blue");
	assert_int_equal(st.last_exit_status, 3);
	assert_true(wait_lines(f->rel, "starts", 3) >= 3);
	assert_int_equal(agent_runner_stop(f->r, "web", "blue", 5000), OSP_OK);
}

/* The environment the env test expects, besides HOME. */
static const char *const ENV_WANT[] = { "PATH=/usr/local/bin:/usr/bin:/bin", "PORT=18081", "OSPEC_APP=envapp",
	"OSPEC_SLOT=green", "FOO=bar", "QUOTED=a b" };

/* env_expected reports whether line is one of the variables we passed. */
static bool env_expected(const char *line, const char *home_line)
{
	for (size_t i = 0; i < sizeof(ENV_WANT) / sizeof(ENV_WANT[0]); i++)
		if (strcmp(line, ENV_WANT[i]) == 0)
			return true;
	return strcmp(line, home_line) == 0;
}

static void test_agent_runner_clean_env(void **state)
{
	fx *f = *state;
	agent_proc_spec s = spec_of(f, "envapp", "green", "/usr/bin/env", 18081);
	struct passwd *pw = getpwuid(geteuid());
	char env_file[192], home_line[256], logs[192], *text, *line, *nl;

	assert_non_null(pw);
	snprintf(home_line, sizeof(home_line), "HOME=%s", pw->pw_dir);
	setenv("OSPEC_TEST_LEAK", "must-not-reach-the-app", 1);
	write_file(f->root, "app.env", "# settings\nFOO=bar\n\nexport QUOTED=\"a b\"\nPORT=1\n", 0644);
	snprintf(env_file, sizeof(env_file), "%s/app.env", f->root);
	s.env_file = env_file;
	start_ok(f, &s);
	snprintf(logs, sizeof(logs), "%s/logs", f->state);
	assert_true(wait_file(logs, "envapp.green.out", "OSPEC_SLOT=green"));
	assert_int_equal(agent_runner_stop(f->r, "envapp", "green", 5000), OSP_OK);
	text = read_text(logs, "envapp.green.out", NULL);
	assert_non_null(text);
	for (size_t i = 0; i < sizeof(ENV_WANT) / sizeof(ENV_WANT[0]); i++)
		if (!has_line(text, ENV_WANT[i]))
			fail_msg("missing from the app's environment: %s", ENV_WANT[i]);
	assert_true(has_line(text, home_line));
	for (line = text; *line != '\0'; line = nl + 1) {
		nl = strchr(line, '\n');
		assert_non_null(nl);
		*nl = '\0';
		if (!env_expected(line, home_line))
			fail_msg("unexpected variable in the app's environment: %s", line);
	}
	free(text);
	unsetenv("OSPEC_TEST_LEAK");
}

static void test_agent_runner_port_substitution(void **state)
{
	fx *f = *state;
	agent_proc_spec s = spec_of(f, "web", "blue",
		"./args.sh --listen=127.0.0.1:{port} \"two words\" 'single {port}' esc\\ aped", 18082);
	char err[256];
	char *args;

	write_file(f->rel, "args.sh", "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > args.tmp\n"
				      "mv args.tmp args.out\nexec sleep 1000\n",
		0755);
	start_ok(f, &s);
	assert_true(wait_file(f->rel, "args.out", "\n"));
	args = read_text(f->rel, "args.out", NULL);
	assert_string_equal(args, "--listen=127.0.0.1:18082\ntwo words\nsingle 18082\nesc aped\n");
	free(args);
	assert_int_equal(agent_runner_stop(f->r, "web", "blue", 5000), OSP_OK);

	/* a program without a '/' is found in the clean PATH */
	s = spec_of(f, "web", "green", "sleep 1000", 18083);
	start_ok(f, &s);
	assert_true(status_of(f->r, "web", "green").running);
	assert_int_equal(agent_runner_stop(f->r, "web", "green", 5000), OSP_OK);

	/* no shell: shell syntax is refused rather than passed on as words */
	s = spec_of(f, "web", "green", "./args.sh | tee x", 18083);
	assert_int_equal(agent_runner_start(f->r, &s, err, sizeof(err)), OSP_EINVAL);
	assert_non_null(strstr(err, "'|' needs a shell"));
	s.run = "./args.sh 'open";
	assert_int_equal(agent_runner_start(f->r, &s, err, sizeof(err)), OSP_EINVAL);
	assert_non_null(strstr(err, "unterminated"));
}

static void test_agent_runner_exec_failure(void **state)
{
	fx *f = *state;
	agent_proc_spec s = spec_of(f, "web", "blue", "./missing --flag", 18080);
	agent_proc_status st;
	char err[512], run_dir[192];

	assert_int_equal(agent_runner_start(f->r, &s, err, sizeof(err)), OSP_ENOENT);
	assert_string_equal(err, "exec './missing': no such file or directory");
	assert_int_equal(agent_runner_status(f->r, "web", "blue", &st), OSP_ENOENT);
	snprintf(run_dir, sizeof(run_dir), "%s/run", f->state);
	assert_false(path_exists(run_dir, "web.blue.pid"));

	write_file(f->rel, "noexec.sh", "#!/bin/sh\nexit 0\n", 0644);
	s.run = "./noexec.sh";
	assert_int_equal(agent_runner_start(f->r, &s, err, sizeof(err)), OSP_EPERM);
	assert_string_equal(err, "exec './noexec.sh': permission denied");

	s.run = "no-such-program-ospec";
	assert_int_equal(agent_runner_start(f->r, &s, err, sizeof(err)), OSP_ENOENT);
	assert_non_null(strstr(err, "not found"));

	s.run = "sleep 1000";
	s.release_dir = "/nonexistent-ospec-release";
	assert_int_equal(agent_runner_start(f->r, &s, err, sizeof(err)), OSP_ENOENT);
	assert_string_equal(err, "chdir '/nonexistent-ospec-release': no such file or directory");

	s.release_dir = f->rel;
	s.user = "no-such-user-ospec";
	assert_int_equal(agent_runner_start(f->r, &s, err, sizeof(err)), OSP_ENOENT);
	assert_string_equal(err, "user 'no-such-user-ospec' does not exist");

	s.user = NULL;
	s.env_file = "/nonexistent-ospec.env";
	assert_int_equal(agent_runner_start(f->r, &s, err, sizeof(err)), OSP_ENOENT);
	assert_non_null(strstr(err, "env file"));
	assert_int_equal(agent_runner_status(f->r, "web", "blue", &st), OSP_ENOENT);
}

/* start_sleepers starts SLEEPER as web/blue (port 18080) and web/green
 * (18081) and returns their pids. */
static void start_sleepers(fx *f, pid_t *pid_blue, pid_t *pid_green)
{
	agent_proc_spec blue = spec_of(f, "web", "blue", "./sleeper.sh", 18080);
	agent_proc_spec green = spec_of(f, "web", "green", "./sleeper.sh", 18081);

	write_file(f->rel, "sleeper.sh", SLEEPER, 0755);
	start_ok(f, &blue);
	start_ok(f, &green);
	*pid_blue = status_of(f->r, "web", "blue").pid;
	*pid_green = status_of(f->r, "web", "green").pid;
}

static void test_agent_runner_adopt_after_free(void **state)
{
	fx *f = *state;
	agent_proc_status st;
	char run_dir[192];
	pid_t pid_blue, pid_green;
	bool adopted = false;

	start_sleepers(f, &pid_blue, &pid_green);
	assert_int_equal(wait_lines(f->rel, "starts.blue", 1), 1);
	assert_int_equal(wait_lines(f->rel, "starts.green", 1), 1);
	agent_runner_free(f->r); /* the agent exits; its apps keep running */
	f->r = NULL;
	assert_true(pid_alive(pid_blue) && pid_alive(pid_green));

	assert_int_equal(agent_runner_alloc(&f->r, f->state), OSP_OK);
	assert_int_equal(agent_runner_adopt(f->r, "web", "blue", &adopted), OSP_OK);
	assert_true(adopted);
	assert_int_equal(agent_runner_adopt_all(f->r), OSP_OK);
	assert_int_equal(status_of(f->r, "web", "blue").pid, pid_blue);
	assert_int_equal(status_of(f->r, "web", "green").pid, pid_green);
	/* adopting again changes nothing; starting again is refused */
	assert_int_equal(agent_runner_adopt(f->r, "web", "blue", &adopted), OSP_OK);
	assert_true(adopted);
	/* well past the first backoff: still the same single process */
	osp_sleep_ms(1500);
	st = status_of(f->r, "web", "blue");
	assert_true(st.running);
	assert_int_equal(st.pid, pid_blue);
	assert_int_equal(st.restarts, 0);
	assert_int_equal(count_lines(f->rel, "starts.blue"), 1);
	assert_int_equal(count_lines(f->rel, "starts.green"), 1);

	/* an adopted process that dies is restarted from its pidfile's spec */
	kill(pid_blue, SIGKILL);
	assert_true(wait_restarts(f->r, "web", "blue", 1, true));
	st = status_of(f->r, "web", "blue");
	assert_true(st.pid != pid_blue);
	assert_int_equal(st.last_exit_status, 128 + SIGKILL);
	assert_int_equal(wait_lines(f->rel, "starts.blue", 2), 2);

	assert_int_equal(agent_runner_stop(f->r, "web", "green", 5000), OSP_OK);
	assert_false(pid_alive(pid_green));
	assert_int_equal(agent_runner_stop(f->r, "web", "blue", 5000), OSP_OK);
	assert_false(pid_alive(st.pid));
	snprintf(run_dir, sizeof(run_dir), "%s/run", f->state);
	assert_false(path_exists(run_dir, "web.blue.pid"));
	assert_false(path_exists(run_dir, "web.green.pid"));
}

/* edit_pidfile replaces the value of key in STATE/run/<name>. */
static void edit_pidfile(fx *f, const char *name, const char *key, const char *value)
{
	char dir[192], out[4096], *text, *p, *eol;

	snprintf(dir, sizeof(dir), "%s/run", f->state);
	text = read_text(dir, name, NULL);
	assert_non_null(text);
	p = strstr(text, key);
	assert_non_null(p);
	eol = strchr(p, '\n');
	assert_non_null(eol);
	snprintf(out, sizeof(out), "%.*s%s=%s%s", (int)(p - text), text, key, value, eol);
	free(text);
	write_file(dir, name, out, 0640);
}

static void test_agent_runner_adopt_refuses_mismatch(void **state)
{
	fx *f = *state;
	agent_proc_status st;
	char run_dir[192];
	pid_t pid_blue, pid_green;
	bool adopted = true;

	start_sleepers(f, &pid_blue, &pid_green);
	agent_runner_free(f->r);
	f->r = NULL;
	/* same pid, other process (a recycled pid), or another boot */
	edit_pidfile(f, "web.blue.pid", "start_time", "1");
	edit_pidfile(f, "web.green.pid", "boot_id", "00000000-0000-0000-0000-000000000000");

	assert_int_equal(agent_runner_alloc(&f->r, f->state), OSP_OK);
	assert_int_equal(agent_runner_adopt(f->r, "web", "blue", &adopted), OSP_OK);
	assert_false(adopted);
	assert_int_equal(agent_runner_adopt_all(f->r), OSP_OK);
	assert_int_equal(agent_runner_status(f->r, "web", "blue", &st), OSP_ENOENT);
	assert_int_equal(agent_runner_status(f->r, "web", "green", &st), OSP_ENOENT);
	snprintf(run_dir, sizeof(run_dir), "%s/run", f->state);
	assert_false(path_exists(run_dir, "web.blue.pid")); /* stale: removed */
	assert_false(path_exists(run_dir, "web.green.pid"));
	assert_int_equal(agent_runner_adopt(f->r, "web", "blue", &adopted), OSP_ENOENT);
	/* not ours any more, so not touched */
	assert_true(pid_alive(pid_blue) && pid_alive(pid_green));
	kill(-pid_blue, SIGKILL);
	kill(-pid_green, SIGKILL);
	waitpid(pid_blue, NULL, 0);
	waitpid(pid_green, NULL, 0);
}

static void test_agent_runner_stderr_tail(void **state)
{
	fx *f = *state;
	agent_proc_spec s = spec_of(f, "web", "blue", "./errs.sh", 18080);
	char buf[256], small[14];

	write_file(f->rel, "errs.sh",
		"#!/bin/sh\nfor i in 1 2 3 4 5; do echo \"err line $i\" >&2; done\necho done > ready\nexec sleep 1000\n",
		0755);
	assert_int_equal(agent_runner_stderr_tail(f->r, "web", "blue", 2, buf, sizeof(buf)), OSP_ENOENT);
	start_ok(f, &s);
	assert_true(wait_file(f->rel, "ready", "done"));
	assert_int_equal(agent_runner_stderr_tail(f->r, "web", "blue", 2, buf, sizeof(buf)), OSP_OK);
	assert_string_equal(buf, "err line 4\nerr line 5");
	assert_int_equal(agent_runner_stderr_tail(f->r, "web", "blue", 50, buf, sizeof(buf)), OSP_OK);
	assert_string_equal(buf, "err line 1\nerr line 2\nerr line 3\nerr line 4\nerr line 5");
	/* too small a buffer keeps the newest whole lines */
	assert_int_equal(agent_runner_stderr_tail(f->r, "web", "blue", 3, small, sizeof(small)), OSP_OK);
	assert_string_equal(small, "err line 5");
	assert_int_equal(agent_runner_stop(f->r, "web", "blue", 5000), OSP_OK);
	/* the log outlives the process: the reason for a failure stays readable */
	assert_int_equal(agent_runner_stderr_tail(f->r, "web", "blue", 1, buf, sizeof(buf)), OSP_OK);
	assert_string_equal(buf, "err line 5");
}

/* The stderr log of a slot spans its earlier runs (earlier releases): the
 * tail of a failure reason must hold only the current run's lines, also
 * after an adopt and after the log was rotated. */
static void test_agent_runner_stderr_tail_this_run(void **state)
{
	fx *f = *state;
	agent_proc_spec s = spec_of(f, "web", "blue", "./old.sh", 18080);
	char logs[192], buf[256];
	bool adopted = false;

	snprintf(logs, sizeof(logs), "%s/logs", f->state);
	write_file(f->rel, "old.sh", "#!/bin/sh\necho OLD-LINE >&2\nexit 1\n", 0755);
	write_file(f->rel, "new.sh", "#!/bin/sh\necho NEW-LINE >&2\necho done > ready\nexec sleep 1000\n", 0755);
	start_ok(f, &s);
	assert_true(wait_file(logs, "web.blue.err", "OLD-LINE"));
	assert_int_equal(agent_runner_stop(f->r, "web", "blue", 5000), OSP_OK);

	s.run = "./new.sh";
	start_ok(f, &s);
	assert_true(wait_file(f->rel, "ready", "done"));
	assert_int_equal(agent_runner_stderr_tail(f->r, "web", "blue", 5, buf, sizeof(buf)), OSP_OK);
	assert_string_equal(buf, "NEW-LINE");

	/* the pidfile carries where the run began: an adopting runner knows */
	agent_runner_free(f->r);
	assert_int_equal(agent_runner_alloc(&f->r, f->state), OSP_OK);
	assert_int_equal(agent_runner_adopt(f->r, "web", "blue", &adopted), OSP_OK);
	assert_true(adopted);
	assert_int_equal(agent_runner_stderr_tail(f->r, "web", "blue", 5, buf, sizeof(buf)), OSP_OK);
	assert_string_equal(buf, "NEW-LINE");
	assert_int_equal(agent_runner_stop(f->r, "web", "blue", 5000), OSP_OK);
}

static void test_agent_runner_stderr_tail_after_rotation(void **state)
{
	fx *f = *state;
	agent_proc_spec s = spec_of(f, "web", "blue", "./old.sh", 18080);
	char logs[192], buf[2048];
	int n = 0;

	/* 30 old lines (360 bytes), then 60 new ones (720): past the 1024-byte
	 * cap the rotation copies old and new lines into .err.1 */
	snprintf(logs, sizeof(logs), "%s/logs", f->state);
	write_file(f->rel, "old.sh",
		"#!/bin/sh\ni=10\nwhile [ $i -lt 40 ]; do echo \"OLD-LINE $i\" >&2; i=$((i+1)); done\n"
		"echo done > ready-old\nexec sleep 1000\n",
		0755);
	write_file(f->rel, "new.sh",
		"#!/bin/sh\ni=10\nwhile [ $i -lt 70 ]; do echo \"NEW-LINE $i\" >&2; i=$((i+1)); done\n"
		"exec sleep 1000\n",
		0755);
	s.log_max_bytes = 1024;
	start_ok(f, &s);
	assert_true(wait_file(f->rel, "ready-old", "done"));
	assert_int_equal(agent_runner_stop(f->r, "web", "blue", 5000), OSP_OK);
	assert_false(path_exists(logs, "web.blue.err.1"));
	s.run = "./new.sh";
	start_ok(f, &s);
	for (int64_t end = osp_now_mono_ms() + WAIT_MS; osp_now_mono_ms() < end; osp_sleep_ms(50))
		if (file_contains(logs, "web.blue.err.1", "NEW-LINE 69"))
			break;
	assert_true(file_contains(logs, "web.blue.err.1", "OLD-LINE 39"));
	assert_true(file_contains(logs, "web.blue.err.1", "NEW-LINE 69"));
	assert_int_equal(agent_runner_stderr_tail(f->r, "web", "blue", 100, buf, sizeof(buf)), OSP_OK);
	assert_null(strstr(buf, "OLD-LINE"));
	assert_memory_equal(buf, "NEW-LINE 10\n", 12);
	for (const char *p = buf; (p = strchr(p, '\n')) != NULL; p++)
		n++;
	assert_int_equal(n, 59); /* 60 lines, the last without its newline */
	assert_int_equal(agent_runner_stop(f->r, "web", "blue", 5000), OSP_OK);
}

static void test_agent_runner_log_rotation(void **state)
{
	fx *f = *state;
	agent_proc_spec s = spec_of(f, "web", "blue", "./chatty.sh", 18080);
	char logs[192], *old, *cur;
	size_t old_len = 0, cur_len = 0;
	int64_t end;

	write_file(f->rel, "chatty.sh",
		"#!/bin/sh\ni=0\nwhile :; do echo \"line $i\" >&2; i=$((i+1)); sleep 0.02; done\n", 0755);
	s.log_max_bytes = 1024;
	start_ok(f, &s);
	snprintf(logs, sizeof(logs), "%s/logs", f->state);
	end = osp_now_mono_ms() + 2 * WAIT_MS;
	while (!path_exists(logs, "web.blue.err.1") && osp_now_mono_ms() < end)
		osp_sleep_ms(100);
	assert_true(path_exists(logs, "web.blue.err.1"));
	assert_int_equal(agent_runner_stop(f->r, "web", "blue", 5000), OSP_OK);

	old = read_text(logs, "web.blue.err.1", &old_len);
	assert_non_null(old);
	assert_true(old_len > 0 && old_len <= 1024);
	assert_memory_equal(old, "line ", 5); /* starts at a whole line */
	assert_int_equal(old[old_len - 1], '\n');
	free(old);
	/* the app appends: after the truncate it writes from 0, leaving no hole */
	cur = read_text(logs, "web.blue.err", &cur_len);
	assert_non_null(cur);
	assert_true(cur_len < 64 * 1024);
	assert_null(memchr(cur, '\0', cur_len));
	free(cur);
}

static void test_agent_runner_port_clash(void **state)
{
	fx *f = *state;
	agent_proc_spec x = spec_of(f, "x", "blue", "sleep 1000", 18090);
	agent_proc_spec y = spec_of(f, "y", "green", "sleep 1000", 18090);
	char err[256];

	start_ok(f, &x);
	assert_int_equal(agent_runner_start(f->r, &y, err, sizeof(err)), OSP_EBUSY);
	assert_string_equal(err, "port 18090 is already used by app 'x' slot 'blue'");
	x.port = 18091;
	assert_int_equal(agent_runner_start(f->r, &x, err, sizeof(err)), OSP_EBUSY);
	assert_non_null(strstr(err, "already supervised"));
	assert_int_equal(agent_runner_stop(f->r, "x", "blue", 5000), OSP_OK);
	start_ok(f, &y); /* the port is free again */
	assert_int_equal(agent_runner_stop(f->r, "y", "green", 5000), OSP_OK);
}

static void test_agent_runner_runs_as_user(void **state)
{
	fx *f = *state;
	agent_proc_spec s = spec_of(f, "web", "blue", "./who.sh", 18080);
	struct passwd *pw = getpwnam("nobody");
	char logs[192], want[32];

	if (geteuid() != 0 || pw == NULL)
		skip();
	write_file(f->rel, "who.sh", "#!/bin/sh\necho \"uid=$(id -u) gid=$(id -g)\"\nexec sleep 1000\n", 0755);
	s.user = "nobody";
	start_ok(f, &s);
	snprintf(logs, sizeof(logs), "%s/logs", f->state);
	snprintf(want, sizeof(want), "uid=%u gid=%u", (unsigned)pw->pw_uid, (unsigned)pw->pw_gid);
	assert_true(wait_file(logs, "web.blue.out", want));
	assert_int_equal(agent_runner_stop(f->r, "web", "blue", 5000), OSP_OK);
}

/* A process running from the state dir's releases that no pidfile names (an
 * agent died between starting it and recording it) is killed at adopt_all;
 * one that is not under releases/ is left alone. */
static void test_agent_runner_orphan_killed(void **state)
{
	fx *f = *state;
	char orphan_dir[256], other_dir[256];
	pid_t orphan, other;
	int st = 0;

	snprintf(orphan_dir, sizeof(orphan_dir), "%s/releases/abc", f->state);
	snprintf(other_dir, sizeof(other_dir), "%s", f->rel);
	assert_int_equal(osp_mkdir_p(orphan_dir, 0755), OSP_OK);
	for (int i = 0; i < 2; i++) {
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			setpgid(0, 0);
			if (chdir(i == 0 ? orphan_dir : other_dir) != 0)
				_exit(2);
			execl("/bin/sleep", "sleep", "60", (char *)NULL);
			_exit(127);
		}
		if (i == 0)
			orphan = pid;
		else
			other = pid;
	}
	/* let both exec and settle in their directories */
	for (int i = 0; i < 100; i++) {
		char link[64], cwd[512];
		ssize_t n;
		snprintf(link, sizeof(link), "/proc/%d/cwd", (int)orphan);
		n = readlink(link, cwd, sizeof(cwd) - 1);
		if (n > 0 && (size_t)n == strlen(orphan_dir))
			break;
		osp_sleep_ms(20);
	}
	assert_int_equal(agent_runner_adopt_all(f->r), OSP_OK);
	assert_int_equal(waitpid(orphan, &st, 0), orphan);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	assert_int_equal(waitpid(other, &st, WNOHANG), 0); /* still running */
	kill(other, SIGKILL);
	waitpid(other, &st, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_agent_runner_start_status_stop, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_runner_orphan_killed, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_runner_stop_escalates_to_sigkill, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_runner_restart_with_backoff, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_runner_clean_env, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_runner_port_substitution, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_runner_exec_failure, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_runner_adopt_after_free, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_runner_adopt_refuses_mismatch, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_runner_stderr_tail, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_runner_stderr_tail_this_run, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_runner_stderr_tail_after_rotation, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_runner_log_rotation, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_runner_port_clash, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_runner_runs_as_user, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
