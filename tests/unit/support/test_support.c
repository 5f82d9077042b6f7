/*
 * test_support.c - helpers shared by the unit tests (test_support.h).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
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

#include "ospec/util.h"
#include "test_support.h"
#include "test_port.h"

void ts_mkdtemp(char *dir, size_t len, const char *tmpl)
{
	assert_true(osp_strlcpy(dir, tmpl, len) < len);
	if (mkdtemp(dir) == NULL)
		fail_msg("mkdtemp %s: %s", tmpl, strerror(errno));
}

static int ts_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int ts_rmtree(const char *path)
{
	return nftw(path, ts_rm, 16, FTW_DEPTH | FTW_PHYS);
}

int ts_bind_loopback(unsigned *port)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

unsigned ts_free_port(void)
{
	int port = tp_free_port();

	assert_true(port > 0);
	return (unsigned)port;
}

bool ts_recv_head(int fd, char *buf, size_t cap)
{
	size_t n = 0;

	buf[0] = '\0';
	while (n < cap - 1) {
		ssize_t r = recv(fd, buf + n, cap - 1 - n, 0);
		if (r <= 0)
			return false;
		n += (size_t)r;
		buf[n] = '\0';
		if (strstr(buf, "\r\n\r\n") != NULL)
			break;
	}
	return true;
}

bool ts_http_get(unsigned port, char *body, size_t len)
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

bool ts_answers(unsigned port)
{
	char body[256];

	return ts_http_get(port, body, sizeof(body));
}

void ts_assert_answers(unsigned port, const char *want)
{
	char body[256];

	if (!ts_http_get(port, body, sizeof(body)))
		fail_msg("nothing answers on port %u (want version %s)", port, want);
	assert_string_equal(body, want);
}

bool ts_wait_answers(unsigned port, const char *want, int64_t wait_ms)
{
	char body[256];

	for (int64_t end = osp_now_mono_ms() + wait_ms; osp_now_mono_ms() < end; osp_sleep_ms(100))
		if (ts_http_get(port, body, sizeof(body)) && strcmp(body, want) == 0)
			return true;
	return false;
}

void ts_hello_artifact(int v, char *url, size_t urllen, char *sha, size_t shalen)
{
	char path[512], *text = NULL;
	size_t len = 0;

	assert_true(shalen > TS_SHA256_LEN);
	snprintf(path, sizeof(path), "%s/artifacts/hello-%d.tar.gz.sha256", OSPEC_BINARY_DIR, v);
	if (osp_file_read(path, 4096, &text, &len) != OSP_OK || len < TS_SHA256_LEN)
		fail_msg("missing %s: build the hello_artifacts target first", path);
	memcpy(sha, text, TS_SHA256_LEN);
	sha[TS_SHA256_LEN] = '\0';
	free(text);
	snprintf(url, urllen, "file://%s/artifacts/hello-%d.tar.gz", OSPEC_BINARY_DIR, v);
}

void ts_kill_pidfiles(const char *state)
{
	char dir[192], path[448], *text;
	struct dirent *de;
	size_t len;
	DIR *d;

	if (state[0] == '\0')
		return; /* never "/run" */
	snprintf(dir, sizeof(dir), "%s/run", state);
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

void ts_kill_wait(pid_t pid, int64_t wait_ms)
{
	assert_int_equal(kill(-pid, SIGKILL), 0);
	for (int64_t end = osp_now_mono_ms() + wait_ms; osp_now_mono_ms() < end; osp_sleep_ms(20)) {
		if (waitpid(pid, NULL, WNOHANG) == pid || (kill(pid, 0) != 0 && errno == ESRCH))
			return;
	}
	fail_msg("pid %d did not die", (int)pid);
}

void ts_assert_has(const char *text, const char *needle)
{
	if (strstr(text, needle) == NULL)
		fail_msg("message '%s' lacks '%s'", text, needle);
}
