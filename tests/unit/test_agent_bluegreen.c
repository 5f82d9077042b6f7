/*
 * test_agent_bluegreen.c - the agent's blue-green handlers (Stage into a
 * slot, SwitchPrepare, SwitchDecision, ScaleDown), the restore, the in-doubt
 * list and the live health monitor, driven through the exec layer without a
 * coordinator, with the real sample app (<build>/artifacts/hello-N.tar.gz:
 * 1, 2 good; 4 healthy for 3 s after start, then 500) and the "none" traffic
 * driver (no proxy configured). Waits are generous; nothing asserts an upper
 * bound of a duration tighter than WAIT_MS.
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

#define WAIT_MS 30000 /* generous: loaded machine, valgrind */
#define NVERSIONS 6   /* hello-1 .. hello-5 */
#define APP "hello"
#define RUN "bin/hello --port {port}"

#define R_OK_ OSPEC__V1__RESULT_STATUS__RESULT_OK
#define R_FAILED OSPEC__V1__RESULT_STATUS__RESULT_FAILED
#define R_REFUSED OSPEC__V1__RESULT_STATUS__RESULT_REFUSED
#define R_YES OSPEC__V1__RESULT_STATUS__RESULT_VOTE_YES
#define R_NO OSPEC__V1__RESULT_STATUS__RESULT_VOTE_NO

typedef struct cmdbuf {
	Ospec__V1__Command cmd;
	Ospec__V1__Stage stage;
	Ospec__V1__SwitchPrepare prep;
	Ospec__V1__SwitchDecision dec;
	Ospec__V1__ScaleDown sd;
	char version[16];
	char id[32];
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
	unsigned blue, green; /* the ports */
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

		snprintf(path, sizeof(path), "%s/artifacts/hello-%d.tar.gz.sha256",
			OSPEC_BINARY_DIR, v);
		if (osp_file_read(path, 4096, &text, &len) != OSP_OK || len < 64)
			fail_msg("missing %s: build the hello_artifacts target first", path);
		memcpy(f->sha[v], text, 64);
		f->sha[v][64] = '\0';
		free(text);
		snprintf(f->url[v], sizeof(f->url[v]), "file://%s/artifacts/hello-%d.tar.gz",
			OSPEC_BINARY_DIR, v);
	}
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

static int fx_setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	agent_store *store = NULL;
	char err[512] = "";

	assert_non_null(f);
	fx_artifacts(f);
	snprintf(f->root, sizeof(f->root), "/tmp/ospec-bg-XXXXXX");
	assert_non_null(mkdtemp(f->root));
	snprintf(f->state, sizeof(f->state), "%s/state", f->root);
	assert_int_equal(mkdir(f->state, 0700), 0);
	snprintf(f->id, sizeof(f->id), "node-1");
	f->cfg.id = f->id;
	f->cfg.state = f->state;
	f->cfg.keep_releases = 5;
	f->blue = free_port();
	do
		f->green = free_port();
	while (f->green == f->blue);
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
	static const char *const slots[] = { "blue", "green", "main" };

	if (f->a != NULL) {
		if (f->a->exec != NULL)
			for (size_t i = 0; i < 3; i++)
				agent_runner_stop(
					agent_exec_runner(f->a->exec), APP, slots[i], 5000);
		agent_free(f->a);
	}
	fx_kill_leftovers(f);
	nftw(f->root, fx_rm, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
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

/* stage_of prepares a Stage of hello-v into slot with the fixture's ports. */
static void stage_of(fx *f, cmdbuf *c, int v, const char *slot, uint64_t gen)
{
	cmd_init(c, gen);
	ospec__v1__stage__init(&c->stage);
	snprintf(c->version, sizeof(c->version), "%d", v);
	c->stage.app = (char *)APP;
	c->stage.version = c->version;
	c->stage.artifact_url = f->url[v];
	c->stage.sha256 = f->sha[v];
	c->stage.run = (char *)RUN;
	c->stage.slot = (char *)slot;
	c->stage.has_port = 1;
	c->stage.port = strcmp(slot, "green") == 0 ? f->green : f->blue;
	c->stage.has_blue_port = c->stage.has_green_port = 1;
	c->stage.blue_port = f->blue;
	c->stage.green_port = f->green;
	c->stage.has_health_interval_ms = 1;
	c->stage.health_interval_ms = 100;
	c->cmd.kind_case = OSPEC__V1__COMMAND__KIND_STAGE;
	c->cmd.stage = &c->stage;
}

/* prepare_of: expect 0 = no expected version. */
static void prepare_of(cmdbuf *c, const char *id, const char *slot, int expect, uint64_t gen)
{
	cmd_init(c, gen);
	ospec__v1__switch_prepare__init(&c->prep);
	osp_strlcpy(c->id, id, sizeof(c->id));
	c->prep.switch_id = c->id;
	c->prep.app = (char *)APP;
	c->prep.to_slot = (char *)slot;
	if (expect > 0) {
		snprintf(c->version, sizeof(c->version), "%d", expect);
		c->prep.expect_version = c->version;
	}
	c->cmd.kind_case = OSPEC__V1__COMMAND__KIND_PREPARE;
	c->cmd.prepare = &c->prep;
}

static void decision_of(cmdbuf *c, const char *id, bool commit, uint64_t gen)
{
	cmd_init(c, gen);
	ospec__v1__switch_decision__init(&c->dec);
	osp_strlcpy(c->id, id, sizeof(c->id));
	c->dec.switch_id = c->id;
	c->dec.app = (char *)APP;
	c->dec.commit = commit;
	c->cmd.kind_case = OSPEC__V1__COMMAND__KIND_DECISION;
	c->cmd.decision = &c->dec;
}

static void scale_down_of(cmdbuf *c, const char *slot, uint64_t slot_gen, uint64_t gen)
{
	cmd_init(c, gen);
	ospec__v1__scale_down__init(&c->sd);
	c->sd.app = (char *)APP;
	c->sd.slot = (char *)slot;
	c->sd.slot_generation = slot_gen;
	c->cmd.kind_case = OSPEC__V1__COMMAND__KIND_SCALE_DOWN;
	c->cmd.scale_down = &c->sd;
}

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

/* assert_switch_state checks the record's active slot and prepared switch
 * ("" = none). */
static void assert_switch_state(fx *f, const char *active, const char *prepared)
{
	Ospec__V1__AgentAppRecord *r = record_of(f);

	assert_non_null(r);
	assert_string_equal(r->active_slot != NULL ? r->active_slot : "", active);
	assert_string_equal(r->prepared_switch_id != NULL ? r->prepared_switch_id : "", prepared);
	ospec__v1__agent_app_record__free_unpacked(r, NULL);
}

/* The report's view of the app. */
typedef struct rep {
	char active[8], version[16], idle[16];
	bool running, healthy;
} rep;

static rep report_of(fx *f)
{
	Ospec__V1__AppState **apps = NULL;
	size_t n = agent_exec_apps(f->a->exec, &apps);
	rep r;

	memset(&r, 0, sizeof(r));
	assert_int_equal(n, 1);
	assert_string_equal(apps[0]->app, APP);
	osp_strlcpy(r.active, apps[0]->active_slot ? apps[0]->active_slot : "", sizeof(r.active));
	osp_strlcpy(r.version, apps[0]->version ? apps[0]->version : "", sizeof(r.version));
	osp_strlcpy(r.idle, apps[0]->idle_version ? apps[0]->idle_version : "", sizeof(r.idle));
	assert_true(apps[0]->has_running && apps[0]->has_healthy);
	r.running = apps[0]->running;
	r.healthy = apps[0]->healthy;
	agent_exec_apps_free(apps, n);
	return r;
}

static void assert_report(
	fx *f, const char *active, const char *version, const char *idle, bool healthy)
{
	rep r = report_of(f);

	assert_string_equal(r.active, active);
	assert_string_equal(r.version, version);
	assert_string_equal(r.idle, idle);
	assert_int_equal(r.running, active[0] != '\0');
	assert_int_equal(r.healthy, healthy);
}

/* in_doubt_is checks the in-doubt list: one switch id, or none for NULL. */
static void in_doubt_is(fx *f, const char *id)
{
	Ospec__V1__InDoubt **v = NULL;
	size_t n = agent_exec_in_doubt(f->a->exec, &v);

	if (id == NULL) {
		assert_int_equal(n, 0);
		assert_null(v);
		return;
	}
	assert_int_equal(n, 1);
	assert_string_equal(v[0]->switch_id, id);
	assert_string_equal(v[0]->app, APP);
	agent_exec_in_doubt_free(v, n);
}

static bool slot_supervised(fx *f, const char *slot, pid_t *pid)
{
	agent_proc_status st;

	if (agent_runner_status(agent_exec_runner(f->a->exec), APP, slot, &st) != OSP_OK)
		return false;
	if (pid != NULL)
		*pid = st.pid;
	return st.running;
}

/* restart_agent frees the executor and makes a new one over the same store
 * (the agent restarted; the apps kept running). */
static void restart_agent(fx *f)
{
	agent_exec_free(f->a->exec);
	f->a->exec = NULL;
	assert_int_equal(agent_exec_alloc(f->a, &f->a->exec), OSP_OK);
	agent_exec_restore(f->a->exec);
}

/* bootstrap stages hello-v into blue and switches to it (first deploy). */
static void bootstrap(fx *f, int v)
{
	cmdbuf *c = &f->c;

	stage_of(f, c, v, "blue", 1);
	run_expect(f, c, R_OK_);
	prepare_of(c, "sw-boot", "blue", v, 2);
	run_expect(f, c, R_YES);
	decision_of(c, "sw-boot", true, 3);
	run_expect(f, c, R_OK_);
	assert_switch_state(f, "blue", "");
}

static void test_agent_bluegreen_first_deploy(void **state)
{
	fx *f = *state;
	cmdbuf *c = &f->c;

	/* first deploy: blue is staged, nothing is active yet */
	stage_of(f, c, 1, "blue", 1);
	run_expect(f, c, R_OK_);
	assert_string_equal(c->res.slot, "blue");
	assert_string_equal(c->res.version, "1");
	assert_answers(f->blue, "1");
	assert_false(answers(f->green));
	assert_report(f, "", "", "", false);

	/* the bootstrap switch: YES (twice: the vote stands), locked, commit */
	prepare_of(c, "sw-1", "blue", 1, 2);
	run_expect(f, c, R_YES);
	assert_string_equal(c->res.switch_id, "sw-1");
	in_doubt_is(f, "sw-1");
	run_expect(f, c, R_YES);
	stage_of(f, c, 2, "green", 3);
	run_expect(f, c, R_REFUSED);
	assert_msg_has(c, "switch 'sw-1' is prepared: slots are locked");
	prepare_of(c, "sw-other", "green", 0, 4);
	run_expect(f, c, R_NO);
	assert_msg_has(c, "slots are locked");
	decision_of(c, "sw-1", true, 5);
	run_expect(f, c, R_OK_);
	assert_msg_has(c, "slot 'blue' is active");
	assert_switch_state(f, "blue", "");
	in_doubt_is(f, NULL);
	assert_report(f, "blue", "1", "", true);
	/* the same decision again (lost result): converged */
	run_expect(f, c, R_OK_);
	assert_msg_has(c, "is applied");
	assert_answers(f->blue, "1");
	assert_false(answers(f->green));
}

static void test_agent_bluegreen_switch_restart_scale_down(void **state)
{
	fx *f = *state;
	cmdbuf *c = &f->c;
	pid_t pid;

	/* v2 goes to the idle slot only; blue keeps answering 1 */
	bootstrap(f, 1);
	stage_of(f, c, 2, "blue", 6);
	run_expect(f, c, R_REFUSED);
	assert_string_equal(c->msg, "slot 'blue' is active: stage into the idle slot");
	stage_of(f, c, 2, "green", 7);
	run_expect(f, c, R_OK_);
	assert_answers(f->blue, "1");
	assert_answers(f->green, "2");
	assert_report(f, "blue", "1", "2", true);

	/* prepared, then the agent restarts: still prepared, not switched */
	prepare_of(c, "sw-2", "green", 2, 8);
	run_expect(f, c, R_YES);
	restart_agent(f);
	assert_switch_state(f, "blue", "sw-2");
	in_doubt_is(f, "sw-2");
	assert_report(f, "blue", "1", "2", true);
	assert_answers(f->blue, "1");
	assert_answers(f->green, "2");
	decision_of(c, "sw-2", true, 9);
	run_expect(f, c, R_OK_);
	assert_string_equal(c->res.slot, "green");
	assert_switch_state(f, "green", "");
	assert_report(f, "green", "2", "1", true);

	/* scale-down: the active slot and a stale generation are refused */
	scale_down_of(c, "green", 7, 10);
	run_expect(f, c, R_REFUSED);
	assert_string_equal(c->msg, "slot 'green' is active again");
	assert_answers(f->green, "2");
	scale_down_of(c, "blue", 7, 11);
	run_expect(f, c, R_OK_);
	assert_false(slot_supervised(f, "blue", NULL));
	assert_false(answers(f->blue));
	assert_report(f, "green", "2", "", true);
	/* again: converged */
	run_expect(f, c, R_OK_);

	/* blue restaged by a newer rollout: the old rollout's scale-down is stale */
	stage_of(f, c, 1, "blue", 12);
	run_expect(f, c, R_OK_);
	assert_true(slot_supervised(f, "blue", &pid));
	scale_down_of(c, "blue", 7, 13);
	run_expect(f, c, R_REFUSED);
	assert_msg_has(c, "staged again");
	assert_answers(f->blue, "1");
	scale_down_of(c, "blue", 12, 14);
	run_expect(f, c, R_OK_);
	assert_false(answers(f->blue));
}

static void test_agent_bluegreen_abort_and_presumed_abort(void **state)
{
	fx *f = *state;
	cmdbuf *c = &f->c;

	bootstrap(f, 1);
	stage_of(f, c, 2, "green", 4);
	run_expect(f, c, R_OK_);

	/* the coordinator aborts: nothing changes, the slots unlock */
	prepare_of(c, "sw-2", "green", 2, 5);
	run_expect(f, c, R_YES);
	decision_of(c, "sw-2", false, 6);
	run_expect(f, c, R_OK_);
	assert_string_equal(c->msg, "switch 'sw-2' aborted");
	assert_switch_state(f, "blue", "");
	in_doubt_is(f, NULL);
	assert_report(f, "blue", "1", "2", true);
	assert_answers(f->blue, "1");
	stage_of(f, c, 2, "green", 7);
	run_expect(f, c, R_OK_);

	/* presumed abort (and a commit) for switches this node never prepared */
	decision_of(c, "sw-never", false, 8);
	run_expect(f, c, R_OK_);
	assert_string_equal(c->msg, "nothing prepared for switch 'sw-never'");
	decision_of(c, "sw-never-2", true, 9);
	run_expect(f, c, R_OK_);
	assert_msg_has(c, "nothing prepared");
	assert_switch_state(f, "blue", "");

	/* a prepared switch ignores another switch's abort */
	prepare_of(c, "sw-3", "green", 2, 10);
	run_expect(f, c, R_YES);
	decision_of(c, "sw-4", false, 11);
	run_expect(f, c, R_OK_);
	assert_switch_state(f, "blue", "sw-3");
	decision_of(c, "sw-3", false, 12);
	run_expect(f, c, R_OK_);

	/* votes NO: the wrong version, a stopped slot; nothing is recorded */
	prepare_of(c, "sw-5", "green", 1, 13);
	run_expect(f, c, R_NO);
	assert_string_equal(c->msg, "slot 'green' holds version 2, not 1");
	scale_down_of(c, "green", 7, 14);
	run_expect(f, c, R_OK_);
	prepare_of(c, "sw-6", "green", 2, 15);
	run_expect(f, c, R_NO);
	assert_string_equal(c->msg, "slot 'green' holds no running release");
	assert_switch_state(f, "blue", "");
	in_doubt_is(f, NULL);
	assert_answers(f->blue, "1");
}

static void test_agent_bluegreen_ports_and_refusals(void **state)
{
	fx *f = *state;
	cmdbuf *c = &f->c;
	unsigned hb = free_port(), hg = free_port();

	/* nothing recorded: every prepare is a NO, scale-down of nothing is OK */
	prepare_of(c, "sw-1", "blue", 0, 1);
	run_expect(f, c, R_NO);
	prepare_of(c, "sw-1", "purple", 0, 1);
	run_expect(f, c, R_NO);
	scale_down_of(c, "purple", 1, 1);
	run_expect(f, c, R_REFUSED);

	/* the Stage without ports, with equal ports */
	stage_of(f, c, 1, "blue", 1);
	c->stage.has_blue_port = c->stage.has_green_port = 0;
	run_expect(f, c, R_REFUSED);
	assert_msg_has(c, "no blue and green ports");
	stage_of(f, c, 1, "blue", 1);
	c->stage.green_port = c->stage.blue_port;
	run_expect(f, c, R_REFUSED);
	stage_of(f, c, 1, "blue", 1);
	c->stage.no_start = 1;
	run_expect(f, c, R_REFUSED);
	assert_null(record_of(f));

	/* the host's ports win over the rollout's */
	while (hg == hb || hb == f->blue || hb == f->green)
		hb = free_port();
	while (hg == hb || hg == f->blue || hg == f->green)
		hg = free_port();
	f->cfg.napps = 1;
	snprintf(f->cfg.apps[0].name, sizeof(f->cfg.apps[0].name), APP);
	f->cfg.apps[0].blue_port = hb;
	f->cfg.apps[0].green_port = hg;
	stage_of(f, c, 1, "blue", 2);
	run_expect(f, c, R_OK_);
	assert_answers(hb, "1");
	assert_false(answers(f->blue));

	/* a stale generation */
	stage_of(f, c, 2, "green", 1);
	run_expect(f, c, R_REFUSED);
	assert_string_equal(c->msg, "stale generation 1 < 2");
	assert_false(answers(hg));
}

/* kill_app kills an app's process group behind the runner's back and reaps
 * it (the runner forked it from this process). */
static void kill_app(pid_t pid)
{
	assert_int_equal(kill(-pid, SIGKILL), 0);
	for (int64_t end = osp_now_mono_ms() + WAIT_MS; osp_now_mono_ms() < end; osp_sleep_ms(20)) {
		if (waitpid(pid, NULL, WNOHANG) == pid || (kill(pid, 0) != 0 && errno == ESRCH))
			return;
	}
	fail_msg("pid %d did not die", (int)pid);
}

static void test_agent_bluegreen_restore(void **state)
{
	fx *f = *state;
	cmdbuf *c = &f->c;
	pid_t bpid, gpid, pid;

	bootstrap(f, 1);
	stage_of(f, c, 2, "green", 4);
	run_expect(f, c, R_OK_);
	assert_true(slot_supervised(f, "blue", &bpid));
	assert_true(slot_supervised(f, "green", &gpid));

	/* adopted, not restarted */
	restart_agent(f);
	assert_true(slot_supervised(f, "blue", &pid));
	assert_int_equal(pid, bpid);
	assert_true(slot_supervised(f, "green", &pid));
	assert_int_equal(pid, gpid);
	assert_answers(f->blue, "1");
	assert_answers(f->green, "2");

	/* both died while no agent ran: the restore starts them again */
	agent_exec_free(f->a->exec);
	f->a->exec = NULL;
	kill_app(bpid);
	kill_app(gpid);
	assert_int_equal(agent_exec_alloc(f->a, &f->a->exec), OSP_OK);
	agent_exec_restore(f->a->exec);
	assert_true(wait_answers(f->blue, "1"));
	assert_true(wait_answers(f->green, "2"));
	assert_switch_state(f, "blue", "");
	assert_report(f, "blue", "1", "2", true);
}

/* wait_healthy polls the report until healthy == want. */
static bool wait_healthy(fx *f, bool want)
{
	for (int64_t end = osp_now_mono_ms() + WAIT_MS; osp_now_mono_ms() < end; osp_sleep_ms(100))
		if (report_of(f).healthy == want)
			return true;
	return false;
}

static void test_agent_bluegreen_monitor(void **state)
{
	fx *f = *state;
	cmdbuf *c = &f->c;
	uint64_t gen = 4;
	bool switched = false;

	bootstrap(f, 1);
	/* a healthy active slot stays healthy over several monitor ticks */
	osp_sleep_ms(3000);
	assert_true(report_of(f).healthy);

	/* hello-4 passes its checks for 3 s after start, then answers 500. On a
	 * very slow machine the prepare may come too late: start it afresh. */
	for (int attempt = 0; attempt < 3 && !switched; attempt++) {
		stage_of(f, c, 4, "green", gen++);
		c->stage.has_health_rise = 1;
		c->stage.health_rise = 1;
		run_expect(f, c, R_OK_);
		prepare_of(c, "sw-4", "green", 4, gen++);
		if (run(f, c) == R_YES) {
			switched = true;
			break;
		}
		scale_down_of(c, "green", gen - 2, gen);
		gen++;
		run_expect(f, c, R_OK_);
	}
	assert_true(switched);
	decision_of(c, "sw-4", true, gen++);
	run_expect(f, c, R_OK_);
	assert_report(f, "green", "4", "1", true);

	/* the monitor notices within seconds; the process still runs */
	assert_true(wait_healthy(f, false));
	assert_true(report_of(f).running);
	assert_answers(f->green, "4");

	/* a restarted agent's monitor finds it unhealthy too */
	restart_agent(f);
	assert_true(wait_healthy(f, false));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_agent_bluegreen_first_deploy, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
			test_agent_bluegreen_switch_restart_scale_down, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
			test_agent_bluegreen_abort_and_presumed_abort, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
			test_agent_bluegreen_ports_and_refusals, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
			test_agent_bluegreen_restore, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
			test_agent_bluegreen_monitor, fx_setup, fx_teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
