/* bench_fleet_proc.c - child processes, /proc readings and ports for bench_fleet. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_fleet.h"

#define BF_OUT_MAX (64u * 1024 * 1024)

/* bf_child_exec runs in the forked child: only async-signal-safe calls. */
static void bf_child_exec(char *const argv[], int out_fd, const char *out_path,
	const char *err_path)
{
	int fd;

	prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the benchmark */
	if (out_fd >= 0) {
		dup2(out_fd, 1);
	} else {
		fd = open(out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0)
			dup2(fd, 1);
	}
	fd = open(err_path ? err_path : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (fd >= 0)
		dup2(fd, 2);
	execv(argv[0], argv);
	_exit(127);
}

pid_t bf_spawn(char *const argv[], const char *out_path, const char *err_path)
{
	pid_t pid = fork();

	if (pid == 0)
		bf_child_exec(argv, -1, out_path, err_path);
	return pid;
}

static int bf_status_code(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return -1;
}

int bf_wait_pid(pid_t pid, int timeout_ms)
{
	int64_t end = bench_now_ns() + (int64_t)timeout_ms * 1000000;
	int st = 0;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		struct timespec ts = { 0, 2000000 };

		if (r == pid)
			return bf_status_code(st);
		if (r < 0 && errno != EINTR)
			return -1;
		if (bench_now_ns() >= end)
			return -2;
		nanosleep(&ts, NULL);
	}
}

/* bf_drain reads fd until EOF or the deadline into r (kept when keep). */
static int bf_drain(int fd, int64_t end, bool keep, bf_run_result *r)
{
	size_t cap = 0;
	char tmp[65536];

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = (end - bench_now_ns()) / 1000000;
		ssize_t n;

		if (left <= 0)
			return -1;
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		n = read(fd, tmp, sizeof(tmp));
		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		r->out_bytes += (size_t)n;
		if (!keep || r->out_bytes > BF_OUT_MAX)
			continue;
		if (r->out_bytes + 1 > cap) {
			size_t nc = cap ? cap * 2 : 65536;
			char *p2;
			while (nc < r->out_bytes + 1)
				nc *= 2;
			if ((p2 = realloc(r->out, nc)) == NULL)
				return -1;
			r->out = p2;
			cap = nc;
		}
		memcpy(r->out + r->out_bytes - (size_t)n, tmp, (size_t)n);
		r->out[r->out_bytes] = '\0';
	}
}

int bf_run(char *const argv[], const char *err_path, int timeout_ms, bool keep,
	bf_run_result *r)
{
	int64_t start = bench_now_ns(), end = start + (int64_t)timeout_ms * 1000000;
	int fds[2];
	pid_t pid;
	int drained;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	if (pipe2(fds, O_CLOEXEC) != 0)
		return -1;
	if ((pid = fork()) < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0)
		bf_child_exec(argv, fds[1], NULL, err_path);
	close(fds[1]);
	drained = bf_drain(fds[0], end, keep, r);
	close(fds[0]);
	r->status = bf_wait_pid(pid, drained == 0 ? timeout_ms : 0);
	if (r->status == -2) {
		kill(pid, SIGKILL);
		r->status = bf_wait_pid(pid, 5000);
	}
	r->elapsed = bench_now_ns() - start;
	return 0;
}

int bf_proc_status(pid_t pid, uint64_t *vmrss_kb, uint64_t *rssanon_kb)
{
	char path[64], line[256];
	FILE *f;

	*vmrss_kb = *rssanon_kb = 0;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned long long v;
		if (sscanf(line, "VmRSS: %llu", &v) == 1)
			*vmrss_kb = v;
		else if (sscanf(line, "RssAnon: %llu", &v) == 1)
			*rssanon_kb = v;
	}
	fclose(f);
	return 0;
}

int64_t bf_proc_cpu_ns(pid_t pid)
{
	char path[64], buf[2048], *p;
	unsigned long long ut = 0, st = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* fields after the command name, which may hold spaces: state is 3rd */
	if ((p = strrchr(buf, ')')) == NULL ||
		sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) !=
			2)
		return -1;
	return (int64_t)((ut + st) * (1000000000ULL / (unsigned long long)sysconf(_SC_CLK_TCK)));
}

int bf_free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = 0;

	if (fd < 0)
		return 0;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
		getsockname(fd, (struct sockaddr *)&a, &al) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* bf_word returns the next space-separated word of *p (NUL-terminated in
 * place) and advances *p; NULL at the end. */
static char *bf_word(char **p)
{
	char *w = *p + strspn(*p, " \n");
	size_t n = strcspn(w, " \n");

	if (n == 0)
		return NULL;
	*p = w[n] != '\0' ? w + n + 1 : w + n;
	w[n] = '\0';
	return w;
}

/* bf_listen_overflows reads TcpExt ListenOverflows (system-wide) from
 * /proc/net/netstat: connections dropped because an accept queue was full. */
uint64_t bf_listen_overflows(void)
{
	FILE *f = fopen("/proc/net/netstat", "r");
	char names[4096], vals[4096];
	uint64_t v = 0;

	if (f == NULL)
		return 0;
	while (fgets(names, sizeof(names), f) != NULL && fgets(vals, sizeof(vals), f) != NULL) {
		char *pn = names, *pv = vals, *n = bf_word(&pn), *x = bf_word(&pv);
		if (n == NULL || strcmp(n, "TcpExt:") != 0)
			continue;
		while ((n = bf_word(&pn)) != NULL && (x = bf_word(&pv)) != NULL)
			if (strcmp(n, "ListenOverflows") == 0)
				v = strtoull(x, NULL, 10);
	}
	fclose(f);
	return v;
}
