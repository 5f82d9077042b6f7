/* harness.c - see harness.h. */
#include "harness.h"
#include "test_port.h"

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

/* h_bin_resolve writes the path of program name in this build to out. */
static void h_bin_resolve(const char *name, char *out, size_t len)
{
	if (strcmp(name, "ospec-coordinator") == 0 || strcmp(name, "ospecctl") == 0)
		snprintf(out, len, "%s/coordinator/%s", OSPEC_BINARY_DIR, name);
	else if (strcmp(name, "ospec-agent") == 0)
		snprintf(out, len, "%s/node-agent/%s", OSPEC_BINARY_DIR, name);
	else if (strcmp(name, "hello") == 0)
		snprintf(out, len, "%s/deploy/examples/hello/hello", OSPEC_BINARY_DIR);
	else
		snprintf(out, len, "%s/%s", OSPEC_BINARY_DIR, name);
}

const char *h_bin(const char *name)
{
	/* one entry per name, resolved once: a path handed out is never
	 * overwritten, whatever the caller holds it for */
	static struct {
		char name[64];
		char path[512];
	} tab[H_BIN_MAX];
	static size_t n;
	static pthread_mutex_t mtx = PTHREAD_MUTEX_INITIALIZER;
	const char *p = NULL;

	pthread_mutex_lock(&mtx);
	for (size_t i = 0; i < n && p == NULL; i++)
		if (strcmp(tab[i].name, name) == 0)
			p = tab[i].path;
	if (p == NULL && n < H_BIN_MAX && strlen(name) < sizeof(tab[n].name)) {
		snprintf(tab[n].name, sizeof(tab[n].name), "%s", name);
		h_bin_resolve(name, tab[n].path, sizeof(tab[n].path));
		p = tab[n++].path;
	}
	pthread_mutex_unlock(&mtx);
	if (p == NULL) {
		/* a test's own mistake (more programs than H_BIN_MAX) */
		fprintf(stderr, "h_bin: no room for program '%s'\n", name);
		abort();
	}
	return p;
}

const char *h_prog(const h_env *e, const char *name)
{
	const char *o = NULL;

	if (strcmp(name, "ospec-coordinator") == 0)
		o = e->coord_bin;
	else if (strcmp(name, "ospecctl") == 0)
		o = e->ctl_bin;
	else if (strcmp(name, "ospec-agent") == 0)
		o = e->agent_bin;
	return o != NULL ? o : h_bin(name);
}

int h_free_port(void)
{
	return tp_free_port();
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
		/* a process in the middle of execve reads an empty command line for a
		 * moment: its working directory and executable still count */
		if (n < 0)
			n = 0;
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

/* h_scan_under is h_scan_mentions for the path "E->dir/under". */
static int h_scan_under(h_env *e, const char *under, void (*fn)(pid_t pid))
{
	char needle[768];
	int n = snprintf(needle, sizeof(needle), "%s/%s", e->dir, under);

	if (n < 0 || (size_t)n >= sizeof(needle))
		return -1;
	return h_scan_mentions(needle, fn);
}

int h_count_procs(h_env *e, const char *under)
{
	return h_scan_under(e, under, NULL);
}

int h_kill_procs(h_env *e, const char *under)
{
	return h_scan_under(e, under, h_kill9);
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
	argv[n++] = (char *)h_prog(e, "ospec-coordinator");
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
	argv[n++] = (char *)h_prog(e, "ospec-agent");
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

	if (p->pid <= 0) /* reaped already: waitpid(0) would reap another child */
		return -1;
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

	argv[n++] = (char *)h_prog(e, "ospecctl");
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

/* h_stat reads key of "ospecctl stats" (-1 when it cannot be read). */
static int64_t h_stat(h_env *e, const char *key)
{
	osp_json *j = h_ctl_json(e, NULL, "stats", NULL);
	int64_t v = j != NULL ? osp_json_get_int(j, key, -1) : -1;

	osp_json_free(j);
	return v;
}

/* h_node_events counts the events of kind about node (history, all of it). */
static int h_node_events(h_env *e, const char *node, const char *kind)
{
	osp_json *j = h_ctl_json(e, NULL, "history", "--limit", "100000", NULL);
	const osp_json *ev = osp_json_get(j, "events");
	int n = ev != NULL ? 0 : -1;

	for (size_t i = 0; ev != NULL && i < ev->n; i++) {
		const char *k = osp_json_get_str(ev->items[i], "kind");
		const char *x = osp_json_get_str(ev->items[i], "node");
		n += k != NULL && x != NULL && strcmp(k, kind) == 0 && strcmp(x, node) == 0;
	}
	osp_json_free(j);
	return n;
}

/* h_node_seen reads node id's state, instance and last_seen ("" if absent). */
static void h_node_seen(h_env *e, const char *id, char *state, char *uuid, char *seen)
{
	osp_json *nodes = h_ctl_json(e, NULL, "nodes", NULL);
	const osp_json *n = h_node(nodes, id);
	const char *s;

	state[0] = uuid[0] = seen[0] = '\0';
	if (n != NULL && (s = osp_json_get_str(n, "state")) != NULL)
		osp_strlcpy(state, s, 16);
	if (n != NULL && (s = osp_json_get_str(n, "instance_uuid")) != NULL)
		osp_strlcpy(uuid, s, 64);
	if (n != NULL && (s = osp_json_get_str(n, "last_seen")) != NULL)
		osp_strlcpy(seen, s, 40);
	osp_json_free(nodes);
}

bool h_node_steady(h_env *e, const char *id, const char *uuid, int64_t refused_min, int beats,
	char *why, size_t len)
{
	int64_t end = osp_now_mono_ms() + h_ms(20000), refused = -1;
	char state[16], got[64], seen[40], last[40] = "";
	int advanced = -1, reg, up, down;

	/* the refused agent retried and the coordinator refused it again */
	while ((refused = h_stat(e, "refused")) < refused_min && osp_now_mono_ms() < end)
		osp_sleep_ms(100);
	if (refused < refused_min) {
		snprintf(why, len, "only %lld refused registers counted, want %lld",
			(long long)refused, (long long)refused_min);
		return false;
	}
	/* then node id heartbeated beats times: each moved its last_seen */
	while (advanced < beats && osp_now_mono_ms() < end) {
		h_node_seen(e, id, state, got, seen);
		if (strcmp(state, "up") != 0 || strcmp(got, uuid) != 0) {
			snprintf(why, len, "node '%s' is '%s' with instance '%s', want up with %s", id,
				state, got, uuid);
			return false;
		}
		if (strcmp(seen, last) > 0) {
			advanced++;
			osp_strlcpy(last, seen, sizeof(last));
		}
		osp_sleep_ms(100);
	}
	if (advanced < beats) {
		snprintf(why, len, "node '%s' heartbeated %d times after the refusals, want %d",
			id, advanced < 0 ? 0 : advanced, beats);
		return false;
	}
	/* never bounced: registered and up once, never down */
	reg = h_node_events(e, id, "node.registered");
	up = h_node_events(e, id, "node.up");
	down = h_node_events(e, id, "node.down");
	if (reg != 1 || up != 1 || down != 0) {
		snprintf(why, len, "node '%s': the history has %d node.registered, %d node.up and "
			"%d node.down events, want 1, 1 and 0", id, reg, up, down);
		return false;
	}
	return true;
}

bool h_wait_beats(h_env *e, const char *const ids[], size_t n, int beats, int ms)
{
	int64_t end = osp_now_mono_ms() + ms;
	char last[H_MAX_PROCS][40] = { { 0 } };
	int moved[H_MAX_PROCS];
	size_t done = 0;

	if (n > H_MAX_PROCS)
		return false;
	for (size_t i = 0; i < n; i++)
		moved[i] = -1; /* the first look is the baseline */
	while (done < n && osp_now_mono_ms() < end) {
		osp_json *nodes = h_ctl_json(e, NULL, "nodes", NULL);

		done = 0;
		for (size_t i = 0; i < n; i++) {
			const char *seen = osp_json_get_str(h_node(nodes, ids[i]), "last_seen");

			if (seen != NULL && strcmp(seen, last[i]) > 0 && moved[i] < beats) {
				moved[i]++;
				osp_strlcpy(last[i], seen, sizeof(last[i]));
			}
			done += moved[i] >= beats;
		}
		osp_json_free(nodes);
		if (done < n)
			osp_sleep_ms(100);
	}
	return done == n;
}
