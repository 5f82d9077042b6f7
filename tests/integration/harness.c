/* harness.c - see harness.h. */
#include "harness.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ospec/util.h"
#include <pthread.h>
#include <stdatomic.h>

int h_ms(int ms)
{
	const char *s = getenv("OSPEC_TEST_SLOW");
	int f = s ? atoi(s) : 1;

	return ms * (f > 0 ? f : 1);
}

const char *h_bin(const char *name)
{
	static char path[8][512];
	static int next;
	char *p = path[next++ % 8];

	if (strcmp(name, "ospec-coordinator") == 0 || strcmp(name, "ospecctl") == 0)
		snprintf(p, 512, "%s/coordinator/%s", OSPEC_BINARY_DIR, name);
	else if (strcmp(name, "ospec-agent") == 0)
		snprintf(p, 512, "%s/node-agent/%s", OSPEC_BINARY_DIR, name);
	else if (strcmp(name, "hello") == 0)
		snprintf(p, 512, "%s/deploy/examples/hello/hello", OSPEC_BINARY_DIR);
	else
		snprintf(p, 512, "%s/%s", OSPEC_BINARY_DIR, name);
	return p;
}

int h_free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t l = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s >= 0 && bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 &&
		getsockname(s, (struct sockaddr *)&a, &l) == 0)
		port = ntohs(a.sin_port);
	if (s >= 0)
		close(s);
	return port;
}

h_env *h_setup(const char *name)
{
	h_env *e = calloc(1, sizeof(*e));

	if (e == NULL)
		return NULL;
	snprintf(e->dir, sizeof(e->dir), "/tmp/ospec-it-%s-XXXXXX", name);
	if (mkdtemp(e->dir) == NULL) {
		free(e);
		return NULL;
	}
	e->agents_port = h_free_port();
	snprintf(e->agents_url, sizeof(e->agents_url), "tcp://127.0.0.1:%d", e->agents_port);
	snprintf(e->http, sizeof(e->http), "127.0.0.1:%d", h_free_port());
	snprintf(e->ctl_url, sizeof(e->ctl_url), "ipc://%s/ctl.sock", e->dir);
	return e;
}

/* h_link_mentions reports whether /proc/PID/<link> points under needle (apps
 * run as "bin/hello" from their release dir). */
static bool h_link_mentions(pid_t pid, const char *link, const char *needle)
{
	char path[64], target[4096];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, link);
	n = readlink(path, target, sizeof(target) - 1);
	if (n <= 0)
		return false;
	target[n] = '\0';
	return strstr(target, needle) != NULL;
}

/* h_scan_mentions calls fn for every process (not this one) whose command
 * line, working directory or executable mentions needle; returns how many
 * there were. */
static int h_scan_mentions(const char *needle, void (*fn)(pid_t pid))
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int count = 0;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		char path[300], buf[4096];
		pid_t pid = (pid_t)atoi(de->d_name);
		ssize_t n;
		int fd;

		if (pid <= 1 || pid == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
		if ((fd = open(path, O_RDONLY)) < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] == '\0')
				buf[i] = ' ';
		buf[n] = '\0';
		if (strstr(buf, needle) == NULL && !h_link_mentions(pid, "cwd", needle) &&
			!h_link_mentions(pid, "exe", needle))
			continue;
		count++;
		if (fn != NULL)
			fn(pid);
	}
	closedir(d);
	return count;
}

static void h_kill9(pid_t pid)
{
	kill(pid, SIGKILL);
}

int h_count_procs(const char *needle)
{
	return h_scan_mentions(needle, NULL);
}

void h_teardown(h_env *e)
{
	char cmd[400];

	if (e == NULL)
		return;
	for (size_t i = 0; i < e->nprocs; i++) {
		if (e->procs[i].pid > 0) {
			kill(e->procs[i].pid, SIGKILL);
			waitpid(e->procs[i].pid, NULL, 0);
			e->procs[i].pid = 0;
		}
	}
	h_scan_mentions(e->dir, h_kill9);
	if (getenv("OSPEC_TEST_KEEP") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "harness: cannot remove %s\n", e->dir);
	} else {
		fprintf(stderr, "harness: kept %s\n", e->dir);
	}
	free(e);
}

h_proc *h_spawn(h_env *e, const char *name, char *const argv[])
{
	h_proc *p;
	pid_t pid;

	if (e->nprocs >= H_MAX_PROCS)
		return NULL;
	p = &e->procs[e->nprocs++];
	osp_strlcpy(p->name, name, sizeof(p->name));
	{
		char log[sizeof(p->log)];
		snprintf(log, sizeof(log), "%s/%s.log", e->dir, p->name);
		memcpy(p->log, log, sizeof(log));
	}
	pid = fork();
	if (pid < 0)
		return NULL;
	if (pid == 0) {
		int fd = open(p->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		setpgid(0, 0);
		execv(argv[0], argv);
		_exit(127);
	}
	p->pid = pid;
	return p;
}

static bool h_ready(h_env *e, void *arg)
{
	char *body = NULL;
	int port = atoi(strchr(e->http, ':') + 1), st;

	(void)arg;
	st = h_http_get(port, "/readyz", &body);
	free(body);
	return st == 200;
}

h_proc *h_coord_start(h_env *e, const char *heartbeat, char *const extra[])
{
	char data[300], hb[32];
	char *argv[40];
	int n = 0;
	h_proc *p;

	snprintf(data, sizeof(data), "%s/coord", e->dir);
	snprintf(hb, sizeof(hb), "%s", heartbeat ? heartbeat : "500ms");
	argv[n++] = (char *)h_bin("ospec-coordinator");
	argv[n++] = "--data";
	argv[n++] = data;
	argv[n++] = "--listen";
	argv[n++] = e->agents_url;
	argv[n++] = "--control";
	argv[n++] = e->ctl_url;
	argv[n++] = "--http";
	argv[n++] = e->http;
	argv[n++] = "--heartbeat";
	argv[n++] = hb;
	argv[n++] = "--log-level";
	argv[n++] = "debug";
	for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 38; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	p = h_spawn(e, "coordinator", argv);
	if (p == NULL || !h_wait_for(h_ready, e, NULL, h_ms(15000)))
		return NULL;
	e->coord = p;
	return p;
}

h_proc *h_agent_start(h_env *e, const char *id, const char *labels, char *const extra[])
{
	char state[300], name[80], lbl[16][128];
	char *argv[64];
	int n = 0, nl = 0;

	snprintf(state, sizeof(state), "%s/agent-%s", e->dir, id);
	snprintf(name, sizeof(name), "agent-%s", id);
	argv[n++] = (char *)h_bin("ospec-agent");
	argv[n++] = "--id";
	argv[n++] = (char *)id;
	argv[n++] = "--coordinator";
	argv[n++] = e->agents_url;
	argv[n++] = "--state";
	argv[n++] = state;
	argv[n++] = "--log-level";
	argv[n++] = "debug";
	if (labels != NULL) {
		char tmp[512], *save = NULL;
		snprintf(tmp, sizeof(tmp), "%s", labels);
		for (char *t = strtok_r(tmp, ",", &save); t && nl < 16;
			t = strtok_r(NULL, ",", &save)) {
			snprintf(lbl[nl], sizeof(lbl[nl]), "%s", t);
			argv[n++] = "--label";
			argv[n++] = lbl[nl++];
		}
	}
	for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 62; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	return h_spawn(e, name, argv);
}

int h_wait_exit(h_proc *p, int ms)
{
	int64_t end = osp_now_mono_ms() + ms;
	int st;

	while (osp_now_mono_ms() < end) {
		pid_t r = waitpid(p->pid, &st, WNOHANG);
		if (r == p->pid) {
			p->pid = 0;
			return st;
		}
		if (r < 0)
			return -1;
		osp_sleep_ms(20);
	}
	return -1;
}

int h_kill(h_env *e, h_proc *p, int sig)
{
	int st = -1;

	(void)e;
	if (p == NULL || p->pid <= 0)
		return -1;
	kill(p->pid, sig);
	if (sig == SIGKILL || sig == SIGTERM) {
		st = h_wait_exit(p, h_ms(20000));
		if (st == -1 && p->pid > 0) {
			kill(p->pid, SIGKILL);
			waitpid(p->pid, &st, 0);
			p->pid = 0;
		}
	}
	return st;
}

/* h_drain reads what is available from fd into b. */
static void h_drain(int fd, osp_buf *b, bool *open_)
{
	char buf[4096];
	ssize_t r = read(fd, buf, sizeof(buf));

	if (r > 0)
		osp_buf_append(b, buf, (size_t)r);
	else if (r == 0 || (errno != EINTR && errno != EAGAIN))
		*open_ = false;
}

int h_run(char *const argv[], int timeout_ms, char **out, char **err)
{
	int po[2], pe[2], st = 0, code = -1;
	osp_buf bo, be;
	bool oo = true, eo = true;
	int64_t end = osp_now_mono_ms() + timeout_ms;
	pid_t pid;

	if (pipe(po) != 0 || pipe(pe) != 0)
		return -1;
	osp_buf_init(&bo, 64 << 20);
	osp_buf_init(&be, 64 << 20);
	if ((pid = fork()) == 0) {
		dup2(po[1], 1);
		dup2(pe[1], 2);
		close(po[0]);
		close(pe[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execv(argv[0], argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	while ((oo || eo) && osp_now_mono_ms() < end) {
		struct pollfd f[2] = { { po[0], POLLIN, 0 }, { pe[0], POLLIN, 0 } };
		if (poll(f, 2, 100) <= 0)
			continue;
		if (oo && (f[0].revents & (POLLIN | POLLHUP)))
			h_drain(po[0], &bo, &oo);
		if (eo && (f[1].revents & (POLLIN | POLLHUP)))
			h_drain(pe[0], &be, &eo);
	}
	if (oo || eo)
		kill(pid, SIGKILL);
	if (waitpid(pid, &st, 0) == pid && !(oo || eo) && WIFEXITED(st))
		code = WEXITSTATUS(st);
	close(po[0]);
	close(pe[0]);
	if (out != NULL) {
		*out = bo.data ? bo.data : strdup("");
		bo.data = NULL;
	}
	if (err != NULL) {
		*err = be.data ? be.data : strdup("");
		be.data = NULL;
	}
	osp_buf_fini(&bo);
	osp_buf_fini(&be);
	return code;
}

/* h_ctl_argv builds "ospecctl [--json] --coordinator URL args...". */
static int h_ctl_argv(h_env *e, bool json, va_list ap, char **argv, int max)
{
	int n = 0;
	const char *a;

	argv[n++] = (char *)h_bin("ospecctl");
	argv[n++] = "--coordinator";
	argv[n++] = e->ctl_url;
	if (json)
		argv[n++] = "--json";
	while ((a = va_arg(ap, const char *)) != NULL && n < max - 1)
		argv[n++] = (char *)a;
	argv[n] = NULL;
	return n;
}

int h_ctl(h_env *e, char **out, char **err, ...)
{
	char *argv[64];
	va_list ap;

	va_start(ap, err);
	h_ctl_argv(e, false, ap, argv, 64);
	va_end(ap);
	return h_run(argv, h_ms(60000), out, err);
}

osp_json *h_ctl_json(h_env *e, int *code, ...)
{
	char *argv[64], *out = NULL, *err = NULL, msg[256];
	osp_json *j = NULL;
	va_list ap;
	int c;

	va_start(ap, code);
	h_ctl_argv(e, true, ap, argv, 64);
	va_end(ap);
	c = h_run(argv, h_ms(60000), &out, &err);
	if (code != NULL)
		*code = c;
	if (c == 0 && out != NULL && osp_json_parse(out, strlen(out), &j, msg, sizeof(msg)) != OSP_OK)
		fprintf(stderr, "harness: bad JSON from ospecctl: %s\n%s\n", msg, out);
	if (c != 0)
		fprintf(stderr, "harness: ospecctl exit %d: %s", c, err ? err : "");
	free(out);
	free(err);
	return j;
}

const osp_json *h_node(const osp_json *nodes, const char *id)
{
	for (size_t i = 0; nodes != NULL && i < nodes->n; i++) {
		const char *nid = osp_json_get_str(nodes->items[i], "id");
		if (nid != NULL && strcmp(nid, id) == 0)
			return nodes->items[i];
	}
	return NULL;
}

int h_nodes_up(h_env *e)
{
	osp_json *j = h_ctl_json(e, NULL, "nodes", NULL);
	int up = 0;

	if (j == NULL)
		return -1;
	for (size_t i = 0; i < j->n; i++) {
		const char *s = osp_json_get_str(j->items[i], "state");
		up += s != NULL && strcmp(s, "up") == 0;
	}
	osp_json_free(j);
	return up;
}

bool h_wait_for(bool (*fn)(h_env *e, void *arg), h_env *e, void *arg, int ms)
{
	int64_t end = osp_now_mono_ms() + ms;

	do {
		if (fn(e, arg))
			return true;
		osp_sleep_ms(100);
	} while (osp_now_mono_ms() < end);
	return fn(e, arg);
}

bool h_file_contains(const char *path, const char *needle)
{
	char *data = NULL;
	size_t len;
	bool found;

	if (osp_file_read(path, 64 << 20, &data, &len) != OSP_OK)
		return false;
	found = strstr(data, needle) != NULL;
	free(data);
	return found;
}

static size_t h_curl_write(char *p, size_t sz, size_t n, void *arg)
{
	osp_buf_append(arg, p, sz * n);
	return sz * n;
}

int h_http_get(int port, const char *path, char **body)
{
	CURL *c = curl_easy_init();
	char url[256];
	osp_buf b;
	long code = -1;

	if (c == NULL)
		return -1;
	osp_buf_init(&b, 1 << 20);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 3000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, h_curl_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	if (body != NULL) {
		*body = b.data ? b.data : strdup("");
		b.data = NULL;
	}
	osp_buf_fini(&b);
	return (int)code;
}

h_proc *h_agent_start_app(h_env *e, const char *id, const char *labels, const char *app,
	int port)
{
	char cfg[400], body[512];
	char *extra[3];

	snprintf(cfg, sizeof(cfg), "%s/agent-%s.yaml", e->dir, id);
	snprintf(body, sizeof(body), "apps:\n  %s:\n    port: %d\n", app, port);
	if (osp_file_write_atomic(cfg, body, strlen(body), 0644) != OSP_OK)
		return NULL;
	extra[0] = "-c";
	extra[1] = cfg;
	extra[2] = NULL;
	return h_agent_start(e, id, labels, extra);
}

bool h_artifact(h_env *e, const char *v, const char *const markers[], char *url, char *sha)
{
	char pack[512], stage[400], out[400], shafile[420];
	char *argv[32], *data = NULL;
	size_t len;
	int n = 0;

	snprintf(pack, sizeof(pack), "%s/deploy/examples/hello/pack.sh", OSPEC_SOURCE_DIR);
	snprintf(stage, sizeof(stage), "%s/art/stage-%s", e->dir, v);
	snprintf(out, sizeof(out), "%s/art/hello-%s.tar.gz", e->dir, v);
	argv[n++] = "/bin/sh";
	argv[n++] = pack;
	argv[n++] = (char *)h_bin("hello");
	argv[n++] = (char *)v;
	argv[n++] = stage;
	argv[n++] = out;
	for (size_t i = 0; markers != NULL && markers[i] != NULL && n < 30; i++)
		argv[n++] = (char *)markers[i];
	argv[n] = NULL;
	if (h_run(argv, h_ms(30000), NULL, NULL) != 0)
		return false;
	snprintf(shafile, sizeof(shafile), "%s.sha256", out);
	if (osp_file_read(shafile, 128, &data, &len) != OSP_OK)
		return false;
	snprintf(sha, 65, "%.64s", data);
	free(data);
	snprintf(url, 600, "file://%s", out);
	return true;
}

int h_deploy(h_env *e, const char *v, const char *url, const char *sha, char *id,
	char **err, ...)
{
	char *argv[64], *out = NULL;
	const char *a;
	va_list ap;
	int n = 0, code;

	argv[n++] = (char *)h_bin("ospecctl");
	argv[n++] = "--coordinator";
	argv[n++] = e->ctl_url;
	argv[n++] = "deploy";
	argv[n++] = "--app";
	argv[n++] = "hello";
	argv[n++] = "--version";
	argv[n++] = (char *)v;
	argv[n++] = "--artifact";
	argv[n++] = (char *)url;
	argv[n++] = "--sha256";
	argv[n++] = (char *)sha;
	argv[n++] = "--run";
	argv[n++] = "bin/hello --port {port}";
	argv[n++] = "--port";
	argv[n++] = "8080";
	va_start(ap, err);
	while ((a = va_arg(ap, const char *)) != NULL && n < 62)
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n] = NULL;
	code = h_run(argv, h_ms(300000), &out, err);
	if (id != NULL) {
		id[0] = '\0';
		if (out != NULL)
			sscanf(out, "%63s", id);
	}
	free(out);
	return code;
}

void h_app_answer(int port, char *buf, size_t len)
{
	char *body = NULL;

	buf[0] = '\0';
	if (h_http_get(port, "/", &body) == 200 && body != NULL) {
		body[strcspn(body, "\n")] = '\0';
		osp_strlcpy(buf, body, len);
	}
	free(body);
}

osp_json *h_status(h_env *e, const char *id)
{
	return h_ctl_json(e, NULL, "status", id, NULL);
}

h_proc *h_proc_named(h_env *e, const char *name)
{
	for (size_t i = e->nprocs; i > 0; i--)
		if (strcmp(e->procs[i - 1].name, name) == 0)
			return &e->procs[i - 1];
	return NULL;
}

h_proc *h_haproxy_start(h_env *e, const char *name, int front_port, int blue_port,
	int green_port)
{
	char cfg[400], sock[400], body[2048], pname[80];
	char *argv[6];

	snprintf(cfg, sizeof(cfg), "%s/%s.cfg", e->dir, name);
	snprintf(sock, sizeof(sock), "%s/%s.sock", e->dir, name);
	snprintf(body, sizeof(body),
		"global\n"
		"  stats socket %s mode 600 level admin\n"
		"  maxconn 2000\n"
		"defaults\n"
		"  mode http\n"
		"  timeout connect 2s\n"
		"  timeout client 10s\n"
		"  timeout server 10s\n"
		"  retries 3\n"
		"  option redispatch\n"
		"frontend fe\n"
		"  bind 127.0.0.1:%d\n"
		"  default_backend hello\n"
		"backend hello\n"
		"  server hello_blue 127.0.0.1:%d\n"
		"  server hello_green 127.0.0.1:%d disabled\n",
		sock, front_port, blue_port, green_port);
	if (osp_file_write_atomic(cfg, body, strlen(body), 0644) != OSP_OK)
		return NULL;
	snprintf(pname, sizeof(pname), "haproxy-%s", name);
	argv[0] = "/usr/sbin/haproxy";
	argv[1] = "-db";
	argv[2] = "-f";
	argv[3] = cfg;
	argv[4] = NULL;
	return h_spawn(e, pname, argv);
}

h_proc *h_agent_start_bg(h_env *e, const char *id, const char *labels, int blue_port,
	int green_port, const char *haproxy_name, const char *extra_cfg)
{
	char cfg[400], body[2048];
	char *extra[3];

	snprintf(cfg, sizeof(cfg), "%s/agent-%s.yaml", e->dir, id);
	snprintf(body, sizeof(body),
		"apps:\n"
		"  hello:\n"
		"    ports: {blue: %d, green: %d}\n"
		"    proxy:\n"
		"      driver: haproxy\n"
		"      socket: %s/%s.sock\n"
		"      backend: hello\n"
		"      servers: {blue: hello_blue, green: hello_green}\n"
		"%s",
		blue_port, green_port, e->dir, haproxy_name, extra_cfg ? extra_cfg : "");
	if (osp_file_write_atomic(cfg, body, strlen(body), 0644) != OSP_OK)
		return NULL;
	extra[0] = "-c";
	extra[1] = cfg;
	extra[2] = NULL;
	return h_agent_start(e, id, labels, extra);
}

struct h_load {
	pthread_t thr;
	int ports[16];
	size_t nports;
	int64_t end;
	atomic_bool stop;
	long requests, failures;
	bool seen[10];
};

static size_t h_load_write(char *p, size_t sz, size_t n, void *arg)
{
	osp_buf_append(arg, p, sz * n);
	return sz * n;
}

/* h_load_one sends one request on c (reused or not) and records it. */
static void h_load_one(h_load *l, CURL *c, int port, bool fresh)
{
	char url[64];
	osp_buf b;
	long code = 0;

	osp_buf_init(&b, 4096);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, fresh ? 1L : 0L);
	curl_easy_setopt(c, CURLOPT_FORBID_REUSE, fresh ? 1L : 0L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, h_load_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	l->requests++;
	if (curl_easy_perform(c) != CURLE_OK ||
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK || code != 200 ||
		b.data == NULL) {
		l->failures++;
	} else if (b.data[0] >= '0' && b.data[0] <= '9') {
		l->seen[b.data[0] - '0'] = true;
	}
	osp_buf_fini(&b);
}

static void *h_load_main(void *arg)
{
	h_load *l = arg;
	CURL *ka = curl_easy_init(), *nc = curl_easy_init();

	curl_easy_setopt(ka, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(nc, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(ka, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(nc, CURLOPT_NOSIGNAL, 1L);
	while (!atomic_load(&l->stop) && osp_now_mono_ms() < l->end) {
		for (size_t i = 0; i < l->nports; i++) {
			h_load_one(l, ka, l->ports[i], false); /* keep-alive */
			h_load_one(l, nc, l->ports[i], true);  /* a new connection */
		}
		osp_sleep_ms(5);
	}
	curl_easy_cleanup(ka);
	curl_easy_cleanup(nc);
	return NULL;
}

h_load *h_load_start(const int *ports, size_t nports, int max_seconds)
{
	h_load *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	for (size_t i = 0; i < nports && i < 16; i++)
		l->ports[l->nports++] = ports[i];
	l->end = osp_now_mono_ms() + (int64_t)max_seconds * 1000;
	if (pthread_create(&l->thr, NULL, h_load_main, l) != 0) {
		free(l);
		return NULL;
	}
	return l;
}

void h_load_stop(h_load *l, long *requests, long *failures, bool seen[10])
{
	atomic_store(&l->stop, true);
	pthread_join(l->thr, NULL);
	*requests = l->requests;
	*failures = l->failures;
	memcpy(seen, l->seen, sizeof(l->seen));
	free(l);
}

int h_certs(h_env *e, const char *sub, const char *dir, ...)
{
	char *argv[32], path[400];
	const char *a;
	va_list ap;
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s", e->dir, dir);
	argv[n++] = (char *)h_bin("ospecctl");
	argv[n++] = "certs";
	argv[n++] = (char *)sub;
	argv[n++] = "--dir";
	argv[n++] = path;
	va_start(ap, dir);
	while ((a = va_arg(ap, const char *)) != NULL && n < 31)
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n] = NULL;
	return h_run(argv, h_ms(30000), NULL, NULL);
}

bool h_tls_yaml(h_env *e, const char *file, const char *ca_dir, const char *cert_dir,
	const char *name, const char *extra, char *path, size_t len)
{
	char body[4096];
	int n;

	snprintf(path, len, "%s/%s", e->dir, file);
	n = snprintf(body, sizeof(body),
		"tls:\n  ca: %s/%s/ca.pem\n  cert: %s/%s/%s.pem\n  key: %s/%s/%s.key\n%s", e->dir,
		ca_dir, e->dir, cert_dir, name, e->dir, cert_dir, name, extra ? extra : "");
	if (n < 0 || (size_t)n >= sizeof(body))
		return false;
	return osp_file_write_atomic(path, body, (size_t)n, 0644) == OSP_OK;
}

void h_use_tls(h_env *e)
{
	snprintf(e->agents_url, sizeof(e->agents_url), "tls+tcp://127.0.0.1:%d", e->agents_port);
}

int h_ctl_as(h_env *e, const char *url, const char *name, char **out, char **err, ...)
{
	char *argv[64], cert[400], key[400], ca[400];
	const char *a;
	va_list ap;
	int n = 0;

	argv[n++] = (char *)h_bin("ospecctl");
	argv[n++] = "--coordinator";
	argv[n++] = (char *)url;
	if (name != NULL) {
		snprintf(cert, sizeof(cert), "%s/pki/%s.pem", e->dir, name);
		snprintf(key, sizeof(key), "%s/pki/%s.key", e->dir, name);
		snprintf(ca, sizeof(ca), "%s/pki/ca.pem", e->dir);
		argv[n++] = "--cert";
		argv[n++] = cert;
		argv[n++] = "--key";
		argv[n++] = key;
		argv[n++] = "--ca";
		argv[n++] = ca;
	}
	va_start(ap, err);
	while ((a = va_arg(ap, const char *)) != NULL && n < 63)
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n] = NULL;
	return h_run(argv, h_ms(60000), out, err);
}

bool h_wait_log(const char *path, const char *needle, int ms)
{
	int64_t end = osp_now_mono_ms() + ms;

	while (!h_file_contains(path, needle)) {
		if (osp_now_mono_ms() >= end)
			return false;
		osp_sleep_ms(100);
	}
	return true;
}
