/*
 * test_agent_apps.c - the agent's app handlers (Stage, Revert, Stop, restore,
 * apps report) driven through the exec layer, without a coordinator, with
 * the real sample app: <build>/artifacts/hello-N.tar.gz (1, 2 good; 3 fails
 * its health check; 5 crashes at start). Waits are generous; nothing asserts
 * an upper bound of a duration.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent.h"
#include "agent_runner.h"
#include "ospec/v1/agent.pb-c.h"

#define WAIT_MS 30000  /* generous: loaded machine, valgrind */
#define NVERSIONS 6    /* hello-1 .. hello-5 */
#define APP "hello"
#define OTHER "other"
#define RUN "bin/hello --port {port}"

typedef struct cmdbuf {
	Ospec__V1__Command cmd;
	Ospec__V1__Stage stage;
	Ospec__V1__Revert revert;
	Ospec__V1__Stop stop;
	char version[16];
	Ospec__V1__CommandResult res;
	char msg[OSP_WIRE_MAX_TEXT];
} cmdbuf;

typedef struct fx {
	cmdbuf c; /* here, not on the heap: a failed assert leaks nothing */
	char root[64];
	char state[128];
	char id[16];
	agent_cfg cfg;
	agent *a;
	char url[NVERSIONS][512];
	char sha[NVERSIONS][65];
} fx;

static int fx_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* fx_artifacts finds hello-N.tar.gz and its sha256 in the build tree. */
static void fx_artifacts(fx *f)
{
	for (int v = 1; v < NVERSIONS; v++) {
		char path[512], *text = NULL;
		size_t len = 0;

		snprintf(path, sizeof(path), "%s/artifacts/hello-%d.tar.gz.sha256", OSPEC_BINARY_DIR, v);
		if (osp_file_read(path, 4096, &text, &len) != OSP_OK || len < 64)
			fail_msg("missing %s: build the hello_artifacts target first", path);
		memcpy(f->sha[v], text, 64);
		f->sha[v][64] = '\0';
		free(text);
		snprintf(f->url[v], sizeof(f->url[v]), "file://%s/artifacts/hello-%d.tar.gz",
			OSPEC_BINARY_DIR, v);
	}
}

static int fx_setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	agent_store *store = NULL;
	char err[512] = "";

	assert_non_null(f);
	fx_artifacts(f);
	snprintf(f->root, sizeof(f->root), "/tmp/ospec-apps-XXXXXX");
	assert_non_null(mkdtemp(f->root));
	snprintf(f->state, sizeof(f->state), "%s/state", f->root);
	assert_int_equal(mkdir(f->state, 0700), 0);
	snprintf(f->id, sizeof(f->id), "node-1");
	f->cfg.id = f->id;
	f->cfg.state = f->state;
	f->cfg.keep_releases = 5;
	if (agent_store_lmdb_open(f->state, 100, &store, err, sizeof(err)) != OSP_OK)
		fail_msg("store: %s", err);
	if (agent_alloc(&f->cfg, store, &f->a, err, sizeof(err)) != OSP_OK)
		fail_msg("agent: %s", err);
	*state = f;
	return 0;
}

/* fx_kill_leftovers kills what a failed test may have left running: every
 * process group named by a pidfile. */
static void fx_kill_leftovers(fx *f)
{
	char dir[192], path[448], *text;
	struct dirent *de;
	size_t len;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/run", f->state);
	d = opendir(dir);
	while (d != NULL && (de = readdir(d)) != NULL) {
		int pid = 0;
		char *p;

		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (de->d_name[0] == '.' || osp_file_read(path, 65536, &text, &len) != OSP_OK)
			continue;
		p = strstr(text, "pid=");
		if (p != NULL)
			pid = atoi(p + 4);
		if (pid > 1 && getpgid(pid) == pid)
			kill(-pid, SIGKILL);
		free(text);
	}
	if (d != NULL)
		closedir(d);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

static int fx_teardown(void **state)
{
	fx *f = *state;

	if (f->a != NULL) {
		if (f->a->exec != NULL) {
			agent_runner_stop(agent_exec_runner(f->a->exec), APP, "main", 5000);
			agent_runner_stop(agent_exec_runner(f->a->exec), OTHER, "main", 5000);
		}
		agent_free(f->a);
	}
	fx_kill_leftovers(f);
	nftw(f->root, fx_rm, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static unsigned free_port(void)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	unsigned port;

	assert_true(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/* http_get GETs / on 127.0.0.1:port; the body (trimmed) goes into body.
 * Returns false if nothing answered. */
static bool http_get(unsigned port, char *body, size_t len)
{
	static const char req[] = "GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
	struct sockaddr_in sa;
	struct timeval tv = { .tv_sec = 10 };
	char buf[4096], *b;
	size_t got = 0, n;
	ssize_t r;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	body[0] = '\0';
	if (fd < 0)
		return false;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
		write(fd, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1)) {
		close(fd);
		return false;
	}
	while (got < sizeof(buf) - 1 && (r = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)r;
	close(fd);
	buf[got] = '\0';
	if (strncmp(buf, "HTTP/1.", 7) != 0 || (b = strstr(buf, "\r\n\r\n")) == NULL)
		return false;
	osp_strlcpy(body, b + 4, len);
	n = strlen(body);
	while (n > 0 && (body[n - 1] == '\n' || body[n - 1] == '\r'))
		body[--n] = '\0';
	return true;
}

/* assert_answers checks that the app on port answers with version want. */
static void assert_answers(unsigned port, const char *want)
{
	char body[256];

	if (!http_get(port, body, sizeof(body)))
		fail_msg("nothing answers on port %u (want version %s)", port, want);
	assert_string_equal(body, want);
}

/* wait_answers polls until the app on port answers want (restore starts
 * apps without waiting for them). */
static bool wait_answers(unsigned port, const char *want)
{
	char body[256];

	for (int64_t end = osp_now_mono_ms() + WAIT_MS; osp_now_mono_ms() < end; osp_sleep_ms(100))
		if (http_get(port, body, sizeof(body)) && strcmp(body, want) == 0)
			return true;
	return false;
}

static bool answers(unsigned port)
{
	char body[256];

	return http_get(port, body, sizeof(body));
}

static void cmd_init(cmdbuf *c, uint64_t gen)
{
	memset(c, 0, sizeof(*c));
	ospec__v1__command__init(&c->cmd);
	c->cmd.seq = 1;
	c->cmd.has_generation = 1;
	c->cmd.generation = gen;
}

/* stage_of prepares a Stage of hello-v (url and sha256 of version sha_of). */
static void stage_of(fx *f, cmdbuf *c, int v, int sha_of, unsigned port, uint64_t gen)
{
	cmd_init(c, gen);
	ospec__v1__stage__init(&c->stage);
	snprintf(c->version, sizeof(c->version), "%d", v);
	c->stage.app = (char *)APP;
	c->stage.version = c->version;
	c->stage.artifact_url = f->url[v];
	c->stage.sha256 = f->sha[sha_of];
	c->stage.run = (char *)RUN;
	c->stage.has_port = 1;
	c->stage.port = port;
	c->stage.has_health_interval_ms = 1;
	c->stage.health_interval_ms = 100;
	c->cmd.kind_case = OSPEC__V1__COMMAND__KIND_STAGE;
	c->cmd.stage = &c->stage;
}

static void revert_of(fx *f, cmdbuf *c, int v, uint64_t gen)
{
	cmd_init(c, gen);
	ospec__v1__revert__init(&c->revert);
	c->revert.app = (char *)APP;
	if (v > 0)
		snprintf(c->version, sizeof(c->version), "%d", v);
	c->revert.version = c->version;
	c->revert.sha256 = v > 0 ? f->sha[v] : (char *)"";
	c->cmd.kind_case = OSPEC__V1__COMMAND__KIND_REVERT;
	c->cmd.revert = &c->revert;
}

static void stop_of(cmdbuf *c, uint64_t gen)
{
	cmd_init(c, gen);
	ospec__v1__stop__init(&c->stop);
	c->stop.app = (char *)APP;
	c->cmd.kind_case = OSPEC__V1__COMMAND__KIND_STOP;
	c->cmd.stop = &c->stop;
}

/* run executes c and returns the status; the message is c->msg. */
static Ospec__V1__ResultStatus run(fx *f, cmdbuf *c)
{
	ospec__v1__command_result__init(&c->res);
	agent_exec_run(f->a->exec, &c->cmd, &c->res, c->msg, sizeof(c->msg));
	assert_ptr_equal(c->res.message, c->msg);
	return c->res.status;
}

static void run_expect(fx *f, cmdbuf *c, Ospec__V1__ResultStatus want)
{
	Ospec__V1__ResultStatus got = run(f, c);

	if (got != want)
		fail_msg("status %d, want %d: %s", (int)got, (int)want, c->msg);
}

static void assert_msg_has(const cmdbuf *c, const char *needle)
{
	if (strstr(c->msg, needle) == NULL)
		fail_msg("message '%s' lacks '%s'", c->msg, needle);
}

/* record_of reads the app's durable record (NULL if none). */
static Ospec__V1__AgentAppRecord *record_of(fx *f)
{
	Ospec__V1__AgentAppRecord *r;
	void *val = NULL;
	size_t len = 0;

	if (f->a->store->ops->app_get(f->a->store, APP, &val, &len) != OSP_OK)
		return NULL;
	r = ospec__v1__agent_app_record__unpack(NULL, len, val);
	free(val);
	assert_non_null(r);
	return r;
}

/* assert_record checks current/previous versions (NULL: none) and running. */
static void assert_record(fx *f, int cur, int prev, bool running)
{
	Ospec__V1__AgentAppRecord *r = record_of(f);
	char v[16];

	assert_non_null(r);
	if (cur > 0) {
		snprintf(v, sizeof(v), "%d", cur);
		assert_non_null(r->current);
		assert_string_equal(r->current->version, v);
		assert_string_equal(r->current->sha256, f->sha[cur]);
	} else {
		assert_null(r->current);
	}
	if (prev > 0) {
		snprintf(v, sizeof(v), "%d", prev);
		assert_non_null(r->previous);
		assert_string_equal(r->previous->version, v);
		assert_string_equal(r->previous->sha256, f->sha[prev]);
	} else {
		assert_null(r->previous);
	}
	assert_int_equal(r->has_running && r->running, running);
	ospec__v1__agent_app_record__free_unpacked(r, NULL);
}

static agent_proc_status status_of(fx *f)
{
	agent_proc_status st;

	assert_int_equal(agent_runner_status(agent_exec_runner(f->a->exec), APP, "main", &st), OSP_OK);
	return st;
}

/* assert_report checks the apps report of register/heartbeat. */
static void assert_report(fx *f, int v, bool healthy, uint64_t gen)
{
	Ospec__V1__AppState **apps = NULL;
	size_t n = agent_exec_apps(f->a->exec, &apps);
	char want[16];

	snprintf(want, sizeof(want), "%d", v);
	assert_int_equal(n, 1);
	assert_string_equal(apps[0]->app, APP);
	assert_string_equal(apps[0]->active_slot, "main");
	assert_string_equal(apps[0]->version, want);
	assert_string_equal(apps[0]->sha256, f->sha[v]);
	assert_true(apps[0]->has_running && apps[0]->running);
	assert_true(apps[0]->has_healthy);
	assert_int_equal(apps[0]->healthy, healthy);
	assert_int_equal(apps[0]->generation, gen);
	agent_exec_apps_free(apps, n);
}

static void test_agent_apps_upgrade_fail_revert_stop(void **state)
{
	fx *f = *state;
	cmdbuf *c = &f->c;
	unsigned port = free_port();
	char path[512];

	stage_of(f, c, 1, 1, port, 1);
	run_expect(f, c, OSPEC__V1__RESULT_STATUS__RESULT_OK);
	assert_string_equal(c->res.app, APP);
	assert_string_equal(c->res.version, "1");
	assert_string_equal(c->res.slot, "main");
	assert_answers(port, "1");
	assert_record(f, 1, 0, true);
	assert_report(f, 1, true, 1);

	stage_of(f, c, 2, 2, port, 2);
	run_expect(f, c, OSPEC__V1__RESULT_STATUS__RESULT_OK);
	assert_answers(port, "2");
	assert_record(f, 2, 1, true);

	/* hello-3 answers 500 on /health: fails at the deadline, with its stderr */
	stage_of(f, c, 3, 3, port, 3);
	c->stage.has_health_deadline_ms = 1;
	c->stage.health_deadline_ms = 3000;
	run_expect(f, c, OSPEC__V1__RESULT_STATUS__RESULT_FAILED);
	assert_msg_has(c, "health deadline");
	assert_msg_has(c, "stderr: ");
	assert_msg_has(c, "health failing on purpose");
	assert_record(f, 3, 2, true); /* left for the coordinator to revert */
	assert_report(f, 3, false, 3);

	revert_of(f, c, 2, 4);
	run_expect(f, c, OSPEC__V1__RESULT_STATUS__RESULT_OK);
	assert_string_equal(c->msg, "reverted to 2");
	assert_answers(port, "2");
	assert_record(f, 2, 3, true);
	assert_report(f, 2, true, 4);

	/* a revert target that left the cache is refused and changes nothing */
	snprintf(path, sizeof(path), "%s/cache/%s", f->state, f->sha[3]);
	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/releases/%s", f->state, f->sha[3]);
	assert_int_equal(nftw(path, fx_rm, 16, FTW_DEPTH | FTW_PHYS), 0);
	revert_of(f, c, 3, 5);
	run_expect(f, c, OSPEC__V1__RESULT_STATUS__RESULT_FAILED);
	assert_string_equal(c->msg, "release 3 is no longer in the cache");
	assert_answers(port, "2");

	stop_of(c, 6);
	run_expect(f, c, OSPEC__V1__RESULT_STATUS__RESULT_OK);
	assert_false(answers(port));
	assert_record(f, 2, 3, false);
}

static void test_agent_apps_sha_mismatch_keeps_old(void **state)
{
	fx *f = *state;
	cmdbuf *c = &f->c;
	unsigned host_port = free_port(), cmd_port = free_port();

	/* the host's port override wins over the command's */
	f->cfg.napps = 1;
	snprintf(f->cfg.apps[0].name, sizeof(f->cfg.apps[0].name), APP);
	f->cfg.apps[0].port = host_port;
	if (cmd_port == host_port)
		cmd_port = host_port + 1;
	stage_of(f, c, 1, 1, cmd_port, 1);
	run_expect(f, c, OSPEC__V1__RESULT_STATUS__RESULT_OK);
	assert_answers(host_port, "1");
	assert_false(answers(cmd_port));

	/* hello-2's url with hello-3's digest */
	stage_of(f, c, 2, 3, cmd_port, 2);
	run_expect(f, c, OSPEC__V1__RESULT_STATUS__RESULT_FAILED);
	assert_msg_has(c, "sha256 mismatch");
	assert_answers(host_port, "1");
	assert_record(f, 1, 0, true);
}

/* kill_app kills the app's process group behind the runner's back and waits
 * until it is gone. */
static void kill_app(pid_t pid)
{
	assert_int_equal(kill(-pid, SIGKILL), 0);
	for (int64_t end = osp_now_mono_ms() + WAIT_MS; osp_now_mono_ms() < end; osp_sleep_ms(20)) {
		if (waitpid(pid, NULL, WNOHANG) == pid || (kill(pid, 0) != 0 && errno == ESRCH))
			return;
	}
	fail_msg("pid %d did not die", (int)pid);
}

static void test_agent_apps_restore(void **state)
{
	fx *f = *state;
	cmdbuf *c = &f->c;
	unsigned port = free_port();
	char path[512];
	pid_t pid;

	stage_of(f, c, 1, 1, port, 1);
	run_expect(f, c, OSPEC__V1__RESULT_STATUS__RESULT_OK);
	pid = status_of(f).pid;
	/* the same command again (agent crashed before recording the result) */
	run_expect(f, c, OSPEC__V1__RESULT_STATUS__RESULT_OK);
	assert_int_equal(status_of(f).pid, pid);

	/* a new agent adopts the running app: no second process */
	agent_exec_free(f->a->exec);
	f->a->exec = NULL;
	assert_int_equal(agent_exec_alloc(f->a, &f->a->exec), OSP_OK);
	agent_exec_restore(f->a->exec);
	assert_int_equal(status_of(f).pid, pid);
	assert_int_equal(status_of(f).restarts, 0);
	assert_answers(port, "1");
	assert_report(f, 1, true, 1);

	/* the app died while no agent ran, and its release dir is gone: the
	 * restore unpacks it again from the cache and starts it */
	agent_exec_free(f->a->exec);
	f->a->exec = NULL;
	kill_app(pid);
	snprintf(path, sizeof(path), "%s/releases/%s", f->state, f->sha[1]);
	assert_int_equal(nftw(path, fx_rm, 16, FTW_DEPTH | FTW_PHYS), 0);
	assert_int_equal(agent_exec_alloc(f->a, &f->a->exec), OSP_OK);
	agent_exec_restore(f->a->exec);
	assert_true(status_of(f).pid != pid);
	assert_true(wait_answers(port, "1"));
}

/* swap_record swaps current and previous in the stored record: the state
 * after a crash between writing the record and restarting the app. */
static void swap_record(fx *f)
{
	Ospec__V1__AgentAppRecord *r = record_of(f);
	Ospec__V1__ReleaseRef *t;
	uint8_t buf[16384];
	size_t len;

	assert_non_null(r);
	t = r->current;
	r->current = r->previous;
	r->previous = t;
	len = ospec__v1__agent_app_record__get_packed_size(r);
	assert_true(len <= sizeof(buf));
	ospec__v1__agent_app_record__pack(r, buf);
	ospec__v1__agent_app_record__free_unpacked(r, NULL);
	assert_int_equal(f->a->store->ops->app_put(f->a->store, APP, buf, len), OSP_OK);
}

static void test_agent_apps_restore_replaces_other_release(void **state)
{
	fx *f = *state;
	cmdbuf *c = &f->c;
	unsigned port = free_port();
	pid_t pid;

	stage_of(f, c, 2, 2, port, 1);
	run_expect(f, c, OSPEC__V1__RESULT_STATUS__RESULT_OK);
	stage_of(f, c, 1, 1, port, 2);
	run_expect(f, c, OSPEC__V1__RESULT_STATUS__RESULT_OK);
	assert_answers(port, "1");
	pid = status_of(f).pid;

	/* recorded: 2 should run; running: 1 */
	agent_exec_free(f->a->exec);
	f->a->exec = NULL;
	swap_record(f);
	assert_int_equal(agent_exec_alloc(f->a, &f->a->exec), OSP_OK);
	agent_exec_restore(f->a->exec);
	assert_true(status_of(f).pid != pid);
	assert_true(wait_answers(port, "2"));

	/* the re-sent Stage of 2 finds it running and only checks it */
	pid = status_of(f).pid;
	stage_of(f, c, 2, 2, port, 2);
	run_expect(f, c, OSPEC__V1__RESULT_STATUS__RESULT_OK);
	assert_int_equal(status_of(f).pid, pid);
	assert_answers(port, "2");
	assert_record(f, 2, 1, true);
}

static void test_agent_apps_stale_generation(void **state)
{
	fx *f = *state;
	cmdbuf *c = &f->c;
	unsigned port = free_port();

	stage_of(f, c, 1, 1, port, 5);
	run_expect(f, c, OSPEC__V1__RESULT_STATUS__RESULT_OK);
	stage_of(f, c, 2, 2, port, 3);
	run_expect(f, c, OSPEC__V1__RESULT_STATUS__RESULT_REFUSED);
	assert_string_equal(c->msg, "stale generation 3 < 5");
	stop_of(c, 4);
	run_expect(f, c, OSPEC__V1__RESULT_STATUS__RESULT_REFUSED);
	revert_of(f, c, 0, 4);
	run_expect(f, c, OSPEC__V1__RESULT_STATUS__RESULT_REFUSED);
	assert_answers(port, "1");
	assert_record(f, 1, 0, true);
}

static void test_agent_apps_crash_at_start(void **state)
{
	fx *f = *state;
	cmdbuf *c = &f->c;
	agent_proc_status st;
	unsigned port = free_port();

	stage_of(f, c, 5, 5, port, 1);
	run_expect(f, c, OSPEC__V1__RESULT_STATUS__RESULT_FAILED);
	assert_msg_has(c, "process exited with status 3");
	assert_msg_has(c, "stderr: hello: crashing on purpose");
	assert_record(f, 5, 0, true);

	/* nothing to go back to: the revert stops the app */
	revert_of(f, c, 0, 2);
	run_expect(f, c, OSPEC__V1__RESULT_STATUS__RESULT_OK);
	assert_string_equal(c->msg, "stopped (no previous release)");
	assert_record(f, 0, 0, false);
	assert_int_equal(agent_runner_status(agent_exec_runner(f->a->exec), APP, "main", &st),
		OSP_ENOENT);
}

static void test_agent_apps_port_clash_refused(void **state)
{
	fx *f = *state;
	cmdbuf *c = &f->c;
	unsigned port = free_port();

	stage_of(f, c, 2, 2, port, 1);
	c->stage.app = (char *)OTHER;
	run_expect(f, c, OSPEC__V1__RESULT_STATUS__RESULT_OK);
	stage_of(f, c, 1, 1, port, 1);
	run_expect(f, c, OSPEC__V1__RESULT_STATUS__RESULT_REFUSED);
	assert_msg_has(c, "already used by app '" OTHER "'");
	assert_answers(port, "2");
}

static void test_agent_apps_refuses_bad_commands(void **state)
{
	fx *f = *state;
	cmdbuf *c = &f->c;
	unsigned port = free_port();
	char upper[65];

	/* a blue-green slot needs both ports (test_agent_bluegreen.c has the rest) */
	stage_of(f, c, 1, 1, port, 1);
	c->stage.slot = (char *)"blue";
	run_expect(f, c, OSPEC__V1__RESULT_STATUS__RESULT_REFUSED);
	assert_msg_has(c, "no blue and green ports");

	stage_of(f, c, 1, 1, port, 1);
	c->stage.slot = (char *)"purple";
	run_expect(f, c, OSPEC__V1__RESULT_STATUS__RESULT_REFUSED);
	assert_string_equal(c->msg, "unknown slot");

	stage_of(f, c, 1, 1, port, 1);
	c->stage.app = (char *)"../etc";
	run_expect(f, c, OSPEC__V1__RESULT_STATUS__RESULT_REFUSED);

	stage_of(f, c, 1, 1, port, 1);
	osp_strlcpy(upper, f->sha[1], sizeof(upper));
	for (char *p = upper; *p != '\0'; p++)
		*p = (*p >= 'a' && *p <= 'f') ? (char)(*p - 'a' + 'A') : *p;
	c->stage.sha256 = upper;
	run_expect(f, c, OSPEC__V1__RESULT_STATUS__RESULT_REFUSED);

	stage_of(f, c, 1, 1, 0, 1);
	c->stage.has_port = 0;
	run_expect(f, c, OSPEC__V1__RESULT_STATUS__RESULT_REFUSED);
	assert_msg_has(c, "no port");

	/* a release this agent never had */
	revert_of(f, c, 2, 1);
	run_expect(f, c, OSPEC__V1__RESULT_STATUS__RESULT_FAILED);
	assert_msg_has(c, "not known");

	/* none of it left a record, a process or a release */
	assert_null(record_of(f));
	assert_false(answers(port));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_agent_apps_upgrade_fail_revert_stop, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_apps_sha_mismatch_keeps_old, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_apps_restore, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_apps_restore_replaces_other_release, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_apps_stale_generation, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_apps_crash_at_start, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_apps_port_clash_refused, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_agent_apps_refuses_bad_commands, fx_setup, fx_teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
