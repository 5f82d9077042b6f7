/*
 * test_sdnotify.c - osp_sd_notify (common/src/sdnotify.c): what systemd
 * receives on a real AF_UNIX datagram socket named by NOTIFY_SOCKET, a path
 * or an abstract name; nothing at all without NOTIFY_SOCKET; the watchdog
 * interval only for this process. Then the real daemons under a stand-in
 * for systemd (docs/systemd.md): READY=1, WATCHDOG=1 at half of
 * WATCHDOG_USEC, SIGHUP re-reading log_level, STOPPING=1 and exit 0.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ospec/sdnotify.h"
#include "ospec/util.h"
#include "test_support.h"

/* A listening datagram socket standing in for systemd's. */
typedef struct sd_listener {
	int fd;
	char name[108]; /* as NOTIFY_SOCKET says it */
	char path[108]; /* the file to remove; "" for an abstract socket */
} sd_listener;

/* sd_listen binds a datagram socket: a file in /tmp, or an abstract name. */
static void sd_listen(sd_listener *l, int abstract)
{
	struct sockaddr_un addr;
	socklen_t alen;
	struct timeval tv = { .tv_sec = 2, .tv_usec = 0 };

	memset(l, 0, sizeof(*l));
	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(l->fd >= 0);
	if (abstract) {
		snprintf(l->name, sizeof(l->name), "@ospec-test-notify-%ld", (long)getpid());
		memcpy(addr.sun_path + 1, l->name + 1, strlen(l->name) - 1);
		alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(l->name));
	} else {
		snprintf(l->path, sizeof(l->path), "/tmp/ospec-test-notify-%ld.sock", (long)getpid());
		unlink(l->path);
		snprintf(l->name, sizeof(l->name), "%s", l->path);
		memcpy(addr.sun_path, l->path, strlen(l->path));
		alen = sizeof(addr);
	}
	assert_int_equal(bind(l->fd, (struct sockaddr *)&addr, alen), 0);
	/* a test must not hang on a datagram that never comes */
	assert_int_equal(setsockopt(l->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	assert_int_equal(setenv("NOTIFY_SOCKET", l->name, 1), 0);
}

static void sd_close(sd_listener *l)
{
	close(l->fd);
	if (l->path[0] != '\0')
		unlink(l->path);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

/* sd_recv_is checks that the next datagram is exactly want. */
static void sd_recv_is(sd_listener *l, const char *want)
{
	char buf[2048];
	ssize_t n = recv(l->fd, buf, sizeof(buf) - 1, 0);

	assert_true(n >= 0);
	buf[n] = '\0';
	assert_string_equal(buf, want);
}

/* sd_nothing_pending checks that no datagram waits. */
static void sd_nothing_pending(sd_listener *l)
{
	char buf[16];

	assert_true(recv(l->fd, buf, sizeof(buf), MSG_DONTWAIT) < 0);
}

static void test_sdnotify_path_socket(void **state)
{
	sd_listener l;

	(void)state;
	sd_listen(&l, 0);
	assert_int_equal(osp_sd_notify("READY=1\nSTATUS=listening"), OSP_OK);
	sd_recv_is(&l, "READY=1\nSTATUS=listening");
	assert_int_equal(osp_sd_notifyf("STATUS=%d nodes up", 12), OSP_OK);
	sd_recv_is(&l, "STATUS=12 nodes up");
	assert_int_equal(osp_sd_notify("STOPPING=1"), OSP_OK);
	sd_recv_is(&l, "STOPPING=1");
	sd_nothing_pending(&l);
	sd_close(&l);
}

static void test_sdnotify_abstract_socket(void **state)
{
	sd_listener l;

	(void)state;
	sd_listen(&l, 1);
	assert_int_equal(osp_sd_notify("WATCHDOG=1"), OSP_OK);
	sd_recv_is(&l, "WATCHDOG=1");
	sd_close(&l);
}

static void test_sdnotify_unset_is_noop(void **state)
{
	sd_listener l;

	(void)state;
	sd_listen(&l, 0);
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(osp_sd_notify("READY=1"), OSP_OK);
	assert_int_equal(osp_sd_notifyf("STATUS=%s", "x"), OSP_OK);
	sd_nothing_pending(&l);
	setenv("NOTIFY_SOCKET", "", 1);
	assert_int_equal(osp_sd_notify("READY=1"), OSP_OK);
	sd_nothing_pending(&l);
	sd_close(&l);
}

static void test_sdnotify_bad_socket_and_state(void **state)
{
	char big[OSP_SD_STATE_MAX + 2], name[200];

	(void)state;
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	assert_int_equal(osp_sd_notify("READY=1"), OSP_EINVAL);
	setenv("NOTIFY_SOCKET", "@", 1);
	assert_int_equal(osp_sd_notify("READY=1"), OSP_EINVAL);
	memset(name, 'a', sizeof(name) - 1);
	name[0] = '/';
	name[sizeof(name) - 1] = '\0';
	setenv("NOTIFY_SOCKET", name, 1);
	assert_int_equal(osp_sd_notify("READY=1"), OSP_EINVAL);
	/* a well-formed name where nobody listens: not sent */
	setenv("NOTIFY_SOCKET", "/tmp/ospec-test-notify-nobody.sock", 1);
	assert_int_equal(osp_sd_notify("READY=1"), OSP_EIO);
	assert_int_equal(osp_sd_notify(""), OSP_EINVAL);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(osp_sd_notify(big), OSP_ETOOBIG);
	assert_int_equal(osp_sd_notifyf("STATUS=%s", big), OSP_ETOOBIG);
	unsetenv("NOTIFY_SOCKET");
}

static void test_sdnotify_watchdog_usec(void **state)
{
	char pid[32];

	(void)state;
	setenv("WATCHDOG_USEC", "30000000", 1);
	assert_int_equal(osp_sd_watchdog_usec(), 0); /* no NOTIFY_SOCKET: nowhere to ping */
	setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1);
	assert_int_equal(osp_sd_watchdog_usec(), 30000000);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(osp_sd_watchdog_usec(), 30000000);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid() + 1);
	setenv("WATCHDOG_PID", pid, 1); /* meant for another process */
	assert_int_equal(osp_sd_watchdog_usec(), 0);
	unsetenv("WATCHDOG_PID");
	setenv("WATCHDOG_USEC", "30s", 1);
	assert_int_equal(osp_sd_watchdog_usec(), 0);
	setenv("WATCHDOG_USEC", "0", 1);
	assert_int_equal(osp_sd_watchdog_usec(), 0);
	unsetenv("WATCHDOG_USEC");
	assert_int_equal(osp_sd_watchdog_usec(), 0);
	unsetenv("NOTIFY_SOCKET");
}

/* sd_wait_for receives datagrams until one contains want (within 10 s);
 * the others (STATUS=...) are skipped. */
static void sd_wait_for(sd_listener *l, const char *want)
{
	int64_t end = osp_now_mono_ms() + 10000;
	char buf[2048];

	while (osp_now_mono_ms() < end) {
		ssize_t n = recv(l->fd, buf, sizeof(buf) - 1, 0);
		if (n < 0)
			continue; /* SO_RCVTIMEO: look at the clock again */
		buf[n] = '\0';
		if (strstr(buf, want) != NULL)
			return;
	}
	fail_msg("no '%s' from the daemon within 10 s", want);
}

/* sd_write writes text to path (fails the test otherwise). */
static void sd_write(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

/* sd_log_waits waits (10 s) until the file at path contains needle. */
static void sd_log_waits(const char *path, const char *needle)
{
	int64_t end = osp_now_mono_ms() + 10000;
	char buf[16384];

	while (osp_now_mono_ms() < end) {
		FILE *f = fopen(path, "r");
		size_t n = 0;

		if (f != NULL) {
			n = fread(buf, 1, sizeof(buf) - 1, f);
			fclose(f);
		}
		buf[n] = '\0';
		if (strstr(buf, needle) != NULL)
			return;
		osp_sleep_ms(50);
	}
	fail_msg("'%s' never said '%s'; it said:\n%s", path, needle, buf);
}

/* sd_spawn starts argv with NOTIFY_SOCKET (set by sd_listen) and
 * WATCHDOG_USEC=1 s in its environment, its output into log. */
static pid_t sd_spawn(char *const argv[], const char *log)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(127);
		setenv("WATCHDOG_USEC", "1000000", 1);
		unsetenv("WATCHDOG_PID");
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* sd_daemon_lifecycle runs one daemon under the stand-in: ready, two
 * watchdog pings, a log level reload by SIGHUP, a stop. cfg_debug is its
 * config with log_level: debug, written before the SIGHUP. */
static void sd_daemon_lifecycle(char *const argv[], const char *dir, const char *cfg,
	const char *cfg_debug, const char *reload_id)
{
	char log[256], want[128];
	sd_listener l;
	int status = 0;
	pid_t pid;

	snprintf(log, sizeof(log), "%s/daemon.log", dir);
	sd_listen(&l, 0);
	pid = sd_spawn(argv, log);
	sd_wait_for(&l, "READY=1");
	/* every 0.5 s: two in a row prove it is periodic */
	sd_wait_for(&l, "WATCHDOG=1");
	sd_wait_for(&l, "WATCHDOG=1");
	sd_write(cfg, cfg_debug);
	assert_int_equal(kill(pid, SIGHUP), 0);
	snprintf(want, sizeof(want), "%s SIGHUP: log level 'debug' (was 'info')", reload_id);
	sd_log_waits(log, want);
	assert_int_equal(kill(pid, SIGTERM), 0);
	sd_wait_for(&l, "STOPPING=1");
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	sd_close(&l);
}

static void test_sdnotify_coordinator_lifecycle(void **state)
{
	char dir[64], cfg[128], data[128], listen[64], control[160];
	char *argv[] = { OSPEC_BINARY_DIR "/coordinator/ospec-coordinator", "-c", cfg, "--data",
		data, "--listen", listen, "--control", control, "--http", "off", NULL };

	(void)state;
	ts_mkdtemp(dir, sizeof(dir), "/tmp/ospec-tsd-XXXXXX");
	snprintf(cfg, sizeof(cfg), "%s/coordinator.yaml", dir);
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(listen, sizeof(listen), "tcp://127.0.0.1:%u", ts_free_port());
	snprintf(control, sizeof(control), "ipc://%s/ctl.sock", dir);
	sd_write(cfg, "log_level: info\n");
	sd_daemon_lifecycle(argv, dir, cfg, "log_level: debug\n", "COORD-RELOAD");
	ts_rmtree(dir);
}

static void test_sdnotify_agent_lifecycle(void **state)
{
	char dir[64], cfg[128], st[128], coord[64];
	char *argv[] = { OSPEC_BINARY_DIR "/node-agent/ospec-agent", "-c", cfg, "--state", st,
		"--coordinator", coord, "--id", "sd-test", NULL };

	(void)state;
	ts_mkdtemp(dir, sizeof(dir), "/tmp/ospec-tsd-XXXXXX");
	snprintf(cfg, sizeof(cfg), "%s/agent.yaml", dir);
	snprintf(st, sizeof(st), "%s/state", dir);
	/* nobody there: ready and pinging all the same (docs/systemd.md) */
	snprintf(coord, sizeof(coord), "tcp://127.0.0.1:%u", ts_free_port());
	sd_write(cfg, "log_level: info\n");
	sd_daemon_lifecycle(argv, dir, cfg, "log_level: debug\n", "AGENT-RELOAD");
	ts_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sdnotify_path_socket),
		cmocka_unit_test(test_sdnotify_abstract_socket),
		cmocka_unit_test(test_sdnotify_unset_is_noop),
		cmocka_unit_test(test_sdnotify_bad_socket_and_state),
		cmocka_unit_test(test_sdnotify_watchdog_usec),
		cmocka_unit_test(test_sdnotify_coordinator_lifecycle),
		cmocka_unit_test(test_sdnotify_agent_lifecycle),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
