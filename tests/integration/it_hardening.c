/*
 * it_hardening.c - the clumsy operator and the second process (issue 10,
 * items 7-11 and notes), with the real programs: a second coordinator on the
 * same control socket, empty paths, values out of range, a damaged store, a
 * config file that is a FIFO, and what ospecctl says about ids it was given.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <dirent.h>

#include "harness.h"
#include "ospec/util.h"

static int it_setup(void **state)
{
	return h_env_fixture_setup(state, "hardening");
}

/* it_coord_argv fills argv with a coordinator on data dir DIR/name, its own
 * ports, e's control URL and extra args (NULL-terminated, may be NULL). */
static void it_coord_argv(h_env *e, const char *name, char *const extra[], char **argv,
	char bufs[3][320])
{
	int n = 0;

	snprintf(bufs[0], 320, "%s/%s", e->dir, name);
	snprintf(bufs[1], 320, "tcp://127.0.0.1:%d", h_free_port());
	snprintf(bufs[2], 320, "127.0.0.1:%d", h_free_port());
	argv[n++] = (char *)h_bin("ospec-coordinator");
	argv[n++] = "--data";
	argv[n++] = bufs[0];
	argv[n++] = "--listen";
	argv[n++] = bufs[1];
	argv[n++] = "--http";
	argv[n++] = bufs[2];
	argv[n++] = "--control";
	argv[n++] = e->ctl_url;
	for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 30; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
}

/* it_exit_code: the exit code of a wait status, -1 for a signal or none. */
static int it_exit_code(int st)
{
	return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* it_nodes_answer: `ospecctl nodes` answers with exit 0. */
static void it_nodes_answer(h_env *e)
{
	char *out = NULL, *err = NULL;
	int code = h_ctl(e, &out, &err, "nodes", NULL);

	if (code != 0)
		fail_msg("ospecctl nodes: exit %d: %s", code, err ? err : "");
	free(out);
	free(err);
}

/* Item 8: a second coordinator with another data dir but the same control
 * path took the socket over and deleted it when it stopped; now it refuses
 * to start and leaves the socket alone, whichever way it fails. */
static void test_hardening_control_socket_kept(void **state)
{
	h_env *e = *state;
	char *argv[32], bufs[3][320], *listen_same[] = { "--listen", e->agents_url, NULL };
	struct stat before, after;
	h_proc *p;
	int st;

	assert_non_null(h_coord_start(e, "500ms", NULL));
	it_nodes_answer(e);
	assert_int_equal(stat(e->ctl_url + 6, &before), 0);

	it_coord_argv(e, "second", NULL, argv, bufs);
	p = h_spawn(e, "second", argv);
	assert_non_null(p);
	st = h_wait_exit(p, h_ms(15000));
	if (st == -1)
		h_kill(e, p, SIGTERM); /* it took the socket over: stop it as an operator would */
	assert_int_equal(it_exit_code(st), 1);
	assert_true(h_file_contains(p->log, "another process (a coordinator?) is serving"));
	it_nodes_answer(e);

	/* one that fails before its control socket (the agents' port is taken)
	 * must not delete the socket on its way out either */
	it_coord_argv(e, "third", listen_same, argv, bufs);
	p = h_spawn(e, "third", argv);
	assert_non_null(p);
	assert_int_equal(it_exit_code(h_wait_exit(p, h_ms(15000))), 1);
	it_nodes_answer(e);
	assert_int_equal(stat(e->ctl_url + 6, &after), 0);
	assert_int_equal(after.st_ino, before.st_ino);

	/* a socket left by a killed coordinator is stale: the next one takes it */
	h_kill(e, e->coord, SIGKILL);
	assert_int_equal(stat(e->ctl_url + 6, &after), 0);
	assert_non_null(h_coord_start(e, "500ms", NULL));
	it_nodes_answer(e);
	assert_true(h_file_contains(e->coord->log, "COORD-CTL-STALE"));
}

/* it_run runs argv in cwd dir; returns the exit code (-1: a signal or a hang
 * of 10 s); stderr to *err. */
static int it_run_in(const char *dir, char *const argv[], char **err)
{
	char old[4096];
	int code;

	assert_non_null(getcwd(old, sizeof(old)));
	assert_int_equal(chdir(dir), 0);
	code = h_run(argv, h_ms(10000), NULL, err);
	assert_int_equal(chdir(old), 0);
	return code;
}

/* it_refused asserts exit 2 with want in stderr. */
static void it_refused(const char *dir, char *const argv[], const char *want)
{
	char *err = NULL;
	int code = it_run_in(dir, argv, &err);

	if (code != 2 || strstr(err, want) == NULL)
		fail_msg("%s %s: exit %d, stderr: %s", argv[0], argv[1], code, err ? err : "");
	free(err);
}

static bool it_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* Item 9: --data "" made /data.mdb, agent --state "" /agent.lock and /db/:
 * empty paths are usage errors, found before anything is created */
static void test_hardening_empty_paths(void **state)
{
	h_env *e = *state;
	char run[300], yaml[340], ctl[340];
	bool had_data = it_exists("/data.mdb"), had_lock = it_exists("/agent.lock");
	char *coord_data[] = { (char *)h_bin("ospec-coordinator"), "--data", "", "--control", ctl,
		NULL };
	char *coord_ctl[] = { (char *)h_bin("ospec-coordinator"), "--data", "d", "--control",
		"ipc://", NULL };
	char *agent_state[] = { (char *)h_bin("ospec-agent"), "--id", "n1", "--state", "", NULL };
	char *agent_tls[] = { (char *)h_bin("ospec-agent"), "--id", "n1", "--state", "s", "-c",
		yaml, NULL };
	char *coord_yaml[] = { (char *)h_bin("ospec-coordinator"), "-c", yaml, "--data", "d",
		"--control", ctl, NULL };
	DIR *d;
	int files = 0;

	snprintf(run, sizeof(run), "%s/cwd", e->dir);
	assert_int_equal(osp_mkdir_p(run, 0700), OSP_OK);
	snprintf(ctl, sizeof(ctl), "ipc://%s/x.sock", run);
	snprintf(yaml, sizeof(yaml), "%s/tls.yaml", e->dir);
	it_refused(run, coord_data, "--data: expected a path (not empty), got ''");
	it_refused(run, coord_ctl, "--control: expected a URL ipc://PATH or tcp://HOST:PORT, got "
		"'ipc://'");
	it_refused(run, agent_state, "--state: expected a path (not empty), got ''");
	assert_int_equal(osp_file_write_atomic(yaml, "tls: {ca: '', cert: c.pem, key: c.key}\n",
				 39, 0600), OSP_OK);
	it_refused(run, agent_tls, "tls.ca: expected a file, got \"\"");
	it_refused(run, coord_yaml, "tls.ca: expected a file, got \"\"");
	assert_int_equal(osp_file_write_atomic(yaml, "data: ''\n", 9, 0600), OSP_OK);
	coord_yaml[3] = "--log-level";
	coord_yaml[4] = "info";
	it_refused(run, coord_yaml, "data: expected a path (not empty), got \"\"");
	/* nothing was made, neither at / nor here */
	assert_true(had_data || !it_exists("/data.mdb"));
	assert_true(had_lock || !it_exists("/agent.lock"));
	d = opendir(run);
	assert_non_null(d);
	for (struct dirent *de = readdir(d); de != NULL; de = readdir(d))
		files += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	closedir(d);
	assert_int_equal(files, 0);
}

/* Item 11 and the notes: values a field cannot hold, addresses that cannot
 * be listened on, a config file that is a FIFO: exit 2 with the flag and
 * what it takes, before anything starts */
static void test_hardening_values_exit_2(void **state)
{
	h_env *e = *state;
	char fifo[300], yaml[300], ctl[340];
	char *bin = (char *)h_bin("ospec-coordinator");
	char *hb[] = { bin, "--data", "d", "--control", ctl, "--heartbeat", "4294967396ms", NULL };
	char *ph[] = { bin, "--data", "d", "--control", ctl, "--poll-hold", "1000000h", NULL };
	char *ls[] = { bin, "--data", "d", "--control", ctl, "--listen", "foo", NULL };
	char *ms[] = { bin, "--data", "d", "--control", ctl, "--map-size", "1B", NULL };
	char *ht[] = { bin, "--data", "d", "--control", ctl, "--http", "localhost", NULL };
	char *cf[] = { bin, "-c", yaml, "--data", "d", "--control", ctl, NULL };
	char *ff[] = { bin, "-c", fifo, "--data", "d", "--control", ctl, NULL };
	char *ag[] = { (char *)h_bin("ospec-agent"), "--id", "n1", "--state", "s", "-c", fifo,
		NULL };
	const char *exec_to = "apps:\n  web:\n    proxy:\n      driver: exec\n"
			      "      exec: {timeout: 1000000h}\n";

	snprintf(ctl, sizeof(ctl), "ipc://%s/x.sock", e->dir);
	it_refused(e->dir, hb, "--heartbeat: expected a duration from 100ms to 10m, got "
		"'4294967396ms'");
	it_refused(e->dir, ph, "--poll-hold: expected a duration from 100ms to 10m, got "
		"'1000000h'");
	it_refused(e->dir, ls, "--listen: expected a URL tcp://HOST:PORT or tls+tcp://HOST:PORT");
	it_refused(e->dir, ms, "--map-size: expected a size from 1MiB to 16TiB, got '1B'");
	it_refused(e->dir, ht, "--http: expected HOST:PORT");
	snprintf(yaml, sizeof(yaml), "%s/coord.yaml", e->dir);
	assert_int_equal(osp_file_write_atomic(yaml, "heartbeat: 4294967396ms\n", 24, 0600),
		OSP_OK);
	it_refused(e->dir, cf, "heartbeat: expected a duration from 100ms to 10m");
	snprintf(fifo, sizeof(fifo), "%s/fifo.yaml", e->dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	it_refused(e->dir, ff, "not a regular file");
	it_refused(e->dir, ag, "not a regular file");
	/* the agent's one duration key besides fetch_timeout */
	snprintf(yaml, sizeof(yaml), "%s/agent.yaml", e->dir);
	assert_int_equal(osp_file_write_atomic(yaml, exec_to, strlen(exec_to), 0600), OSP_OK);
	ag[6] = yaml;
	it_refused(e->dir, ag, "apps.web.proxy.exec.timeout: expected a duration from 1ms to 1h");
	assert_false(it_exists("d")); /* relative to e->dir: nothing made */
}

/* it_truncate cuts the file at path to size bytes. */
static void it_truncate(const char *path, off_t size)
{
	assert_int_equal(truncate(path, size), 0);
}

/* Item 7: a truncated data.mdb was a SIGBUS (exit 135, no log line); an
 * emptied one started an empty coordinator without a word. Now: exit 1 with
 * what is wrong, and --init to start empty on purpose. */
static void test_hardening_damaged_store(void **state)
{
	h_env *e = *state;
	char dir[300], data[320], adata[320], astate[300], *err = NULL;
	char *coord[] = { (char *)h_bin("ospec-coordinator"), "--data", dir, "--control",
		e->ctl_url, "--listen", e->agents_url, "--http", e->http, NULL };
	char *agent[] = { (char *)h_bin("ospec-agent"), "--id", "n1", "--state", astate,
		"--coordinator", e->agents_url, NULL };
	char *init[] = { "--init", NULL };
	int code;
	h_proc *p;

	snprintf(dir, sizeof(dir), "%s/coord", e->dir); /* h_coord_start's */
	snprintf(data, sizeof(data), "%s/data.mdb", dir);
	assert_non_null(h_coord_start(e, "500ms", NULL));
	h_kill(e, e->coord, SIGTERM);
	it_truncate(data, 12288);
	code = h_run(coord, h_ms(10000), NULL, &err);
	if (code != 1 || strstr(err, "data.mdb is damaged: 12288 bytes") == NULL)
		fail_msg("truncated store: exit %d: %s", code, err);
	free(err);
	err = NULL;
	it_truncate(data, 0);
	code = h_run(coord, h_ms(10000), NULL, &err);
	if (code != 1 || strstr(err, "--init") == NULL)
		fail_msg("emptied store: exit %d: %s", code, err);
	free(err);
	err = NULL;
	assert_non_null(h_coord_start(e, "500ms", init));
	it_nodes_answer(e);
	h_kill(e, e->coord, SIGTERM);

	/* the agent's own store */
	snprintf(astate, sizeof(astate), "%s/agent-n1", e->dir);
	p = h_spawn(e, "agent-n1", agent);
	assert_non_null(p);
	assert_true(h_wait_log(p->log, "AGENT-START", h_ms(10000)));
	h_kill(e, p, SIGTERM);
	snprintf(adata, sizeof(adata), "%s/db/data.mdb", astate);
	it_truncate(adata, 8192);
	code = h_run(agent, h_ms(10000), NULL, &err);
	if (code != 1 || strstr(err, "data.mdb is damaged: 8192 bytes") == NULL)
		fail_msg("agent, truncated store: exit %d: %s", code, err);
	free(err);
}

/* the notes: what ospecctl says about a rollout it does not know, an id with
 * a newline, and the biggest history it may ask for */
static void test_hardening_ctl_answers(void **state)
{
	h_env *e = *state;
	char *out = NULL, *err = NULL, perr[128];
	osp_json *doc = NULL;
	int code;

	assert_non_null(h_coord_start(e, "500ms", NULL));
	code = h_ctl(e, &out, &err, "watch", "nosuch", NULL);
	assert_int_equal(code, 4);
	assert_string_equal(err, "ospecctl: rollout 'nosuch' is not known\n");
	free(out);
	free(err);
	code = h_ctl(e, &out, &err, "status", "a\nb", NULL);
	assert_int_equal(code, 4);
	assert_string_equal(err, "ospecctl: rollout 'a\\nb' is not known\n");
	free(out);
	free(err);
	code = h_ctl(e, &out, &err, "cordon", "x\ny", NULL);
	assert_int_equal(code, 4);
	assert_string_equal(err, "ospecctl: node 'x\\ny' is not known\n");
	free(out);
	free(err);
	code = h_ctl(e, &out, &err, "--json", "history", "--limit", "100000", NULL);
	assert_int_equal(code, 0);
	assert_int_equal(osp_json_parse(out, strlen(out), &doc, perr, sizeof(perr)), OSP_OK);
	assert_non_null(osp_json_get(doc, "events"));
	osp_json_free(doc);
	free(out);
	free(err);
}

/* nng 1.5.2 wedges an ipc:// listener for good when a client connects and
 * hangs up before the handshake (one core spinning on EPOLLHUP, every
 * ospecctl call timing out): the coordinator's watchdog listens again. */
static void test_hardening_ipc_wedge_recovers(void **state)
{
	h_env *e = *state;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = e->ctl_url + strlen("ipc://");
	char *out = NULL, *err = NULL, log[600];
	int fd, code = -1;

	assert_non_null(h_coord_start(e, "500ms", NULL));
	assert_int_equal(h_ctl(e, NULL, NULL, "nodes", NULL), 0);
	osp_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
	/* one hang-up wedges it about every other time: thirty always do */
	for (int i = 0; i < 30; i++) {
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		assert_true(fd >= 0);
		assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		close(fd); /* before nng's handshake */
		usleep(10 * 1000);
	}
	/* without the watchdog this never answers again */
	for (int i = 0; i < 40 && code != 0; i++) {
		code = h_ctl(e, &out, &err, "nodes", NULL);
		free(out);
		free(err);
		out = err = NULL;
		if (code != 0)
			usleep(500 * 1000);
	}
	assert_int_equal(code, 0);
	snprintf(log, sizeof(log), "%s/coordinator.log", e->dir);
	if (!h_file_contains(log, "COORD-CTL-WEDGED"))
		fprintf(stderr, "note: the listener was not wedged this time\n");
}

static bool it_agent_logged_attempts(h_env *e, void *arg)
{
	char log[600];

	(void)arg;
	snprintf(log, sizeof(log), "%s/agent-lonely.log", e->dir);
	return h_file_contains(log, "AGENT-REGISTER-FAIL") &&
		h_file_contains(log, "(attempt 1)") && h_file_contains(log, "next try in");
}

/* an agent whose coordinator is away says so at info level, each attempt
 * with its backoff (it logged nothing for 12 s before) */
static void test_hardening_agent_logs_unreachable(void **state)
{
	h_env *e = *state;
	char *const extra[] = { "--log-level", "info", NULL };

	/* no coordinator on e's agents port */
	assert_non_null(h_agent_start(e, "lonely", NULL, extra));
	assert_true(h_wait_for(it_agent_logged_attempts, e, NULL, h_ms(15000)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hardening_control_socket_kept, it_setup,
			h_env_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_hardening_empty_paths, it_setup,
			h_env_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_hardening_values_exit_2, it_setup,
			h_env_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_hardening_damaged_store, it_setup,
			h_env_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_hardening_ctl_answers, it_setup,
			h_env_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_hardening_ipc_wedge_recovers, it_setup,
			h_env_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_hardening_agent_logs_unreachable, it_setup,
			h_env_fixture_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
