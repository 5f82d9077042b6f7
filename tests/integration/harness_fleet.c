/* harness_fleet.c - fleet helpers of the integration harness (harness.h):
 * deploys, artifacts, haproxy, a load generator, certificates and TLS. */
#include "harness.h"

#include <curl/curl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ospec/util.h"

h_proc *h_agent_start_app(h_env *e, const char *id, const char *labels, const char *app,
	int port)
{
	return h_agent_start_env(e, id, labels, app, port, NULL);
}

h_proc *h_agent_start_env(h_env *e, const char *id, const char *labels, const char *app,
	int port, const char *env_file)
{
	char cfg[400], body[1024];
	char *extra[3];

	snprintf(cfg, sizeof(cfg), "%s/agent-%s.yaml", e->dir, id);
	snprintf(body, sizeof(body), "apps:\n  %s:\n    port: %d\n%s%s%s", app, port,
		env_file != NULL ? "    env_file: " : "", env_file != NULL ? env_file : "",
		env_file != NULL ? "\n" : "");
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
	bool watch = false;

	argv[n++] = (char *)h_prog(e, "ospecctl");
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
	while ((a = va_arg(ap, const char *)) != NULL && n < 60) {
		watch = watch || strcmp(a, "--watch") == 0 || strcmp(a, "--rollback-window") == 0 ||
			strncmp(a, "--watch=", 8) == 0;
		argv[n++] = (char *)a;
	}
	va_end(ap);
	if (!watch) { /* tests of the watch say so; the others need none */
		argv[n++] = "--watch";
		argv[n++] = "0";
	}
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

bool h_answers_are(h_env *e, void *arg)
{
	const h_answers *a = arg;
	char got[64];

	(void)e;
	for (size_t i = 0; i < a->n; i++) {
		h_app_answer(a->ports[i], got, sizeof(got));
		if (strcmp(got, a->version) != 0)
			return false;
	}
	return true;
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

/* h_haproxy_run writes DIR/<name>.cfg (admin socket DIR/<name>.sock, a
 * frontend on front_port to backend "hello" holding servers, the text of
 * its server lines) and starts haproxy on it. */
static h_proc *h_haproxy_run(h_env *e, const char *name, int front_port, int retries,
	const char *servers)
{
	char cfg[400], sock[400], body[4096], pname[80];
	int n;

	snprintf(cfg, sizeof(cfg), "%s/%s.cfg", e->dir, name);
	snprintf(sock, sizeof(sock), "%s/%s.sock", e->dir, name);
	n = snprintf(body, sizeof(body),
		"global\n"
		"  stats socket %s mode 600 level admin\n"
		"  maxconn 2000\n"
		"defaults\n"
		"  mode http\n"
		"  timeout connect 2s\n"
		"  timeout client 10s\n"
		"  timeout server 10s\n"
		"  retries %d\n"
		"  option redispatch\n"
		"frontend fe\n"
		"  bind 127.0.0.1:%d\n"
		"  default_backend hello\n"
		"backend hello\n"
		"%s",
		sock, retries, front_port, servers);
	if (n < 0 || (size_t)n >= sizeof(body) ||
		osp_file_write_atomic(cfg, body, (size_t)n, 0644) != OSP_OK)
		return NULL;
	snprintf(pname, sizeof(pname), "haproxy-%s", name);
	return h_spawn(e, pname, (char *[]){ "/usr/sbin/haproxy", "-db", "-f", cfg, NULL });
}

h_proc *h_haproxy_start(h_env *e, const char *name, int front_port, int blue_port,
	int green_port)
{
	char servers[256];

	snprintf(servers, sizeof(servers),
		"  server hello_blue 127.0.0.1:%d\n"
		"  server hello_green 127.0.0.1:%d disabled\n",
		blue_port, green_port);
	return h_haproxy_run(e, name, front_port, 3, servers);
}

h_proc *h_agent_start_bg(h_env *e, const char *id, const char *labels, int blue_port,
	int green_port, const char *haproxy_name, const char *extra_cfg)
{
	char proxy[2048];

	snprintf(proxy, sizeof(proxy),
		"      driver: haproxy\n"
		"      socket: %s/%s.sock\n"
		"      backend: hello\n"
		"      servers: {blue: hello_blue, green: hello_green}\n"
		"%s",
		e->dir, haproxy_name, extra_cfg ? extra_cfg : "");
	return h_agent_start_proxy(e, id, labels, blue_port, green_port, proxy);
}

h_proc *h_agent_start_proxy(h_env *e, const char *id, const char *labels, int blue_port,
	int green_port, const char *proxy)
{
	char cfg[400], body[2048];
	char *extra[3];
	int n;

	snprintf(cfg, sizeof(cfg), "%s/agent-%s.yaml", e->dir, id);
	n = snprintf(body, sizeof(body),
		"apps:\n"
		"  hello:\n"
		"    ports: {blue: %d, green: %d}\n"
		"    proxy:\n"
		"%s",
		blue_port, green_port, proxy);
	if (n < 0 || (size_t)n >= sizeof(body) ||
		osp_file_write_atomic(cfg, body, (size_t)n, 0644) != OSP_OK)
		return NULL;
	extra[0] = "-c";
	extra[1] = cfg;
	extra[2] = NULL;
	return h_agent_start(e, id, labels, extra);
}

static bool h_nginx_listens(h_env *e, void *arg)
{
	(void)e;
	return h_http_get(*(int *)arg, "/", NULL) != -1; /* 502 until a slot runs */
}

h_proc *h_nginx_start(h_env *e, const char *name, int front_port, int blue_port)
{
	char dir[400], conf[420], inc[420], body[4096];
	h_proc *p;
	int n;

	snprintf(dir, sizeof(dir), "%s/%s", e->dir, name);
	snprintf(conf, sizeof(conf), "%s/nginx.conf", dir);
	snprintf(inc, sizeof(inc), "%s/hello.upstream", dir);
	if (mkdir(dir, 0755) != 0)
		return NULL;
	/* the include exists before nginx starts (it refuses a missing one),
	 * naming blue as the agent would (docs/drivers.md) */
	n = snprintf(body, sizeof(body),
		"# ospec-agent: app hello, active slot blue (rewritten by the agent: do not edit)\n"
		"server 127.0.0.1:%d;\n",
		blue_port);
	if (osp_file_write_atomic(inc, body, (size_t)n, 0644) != OSP_OK)
		return NULL;
	/* working_directory: the workers' cwd is under the test's dir, so
	 * h_teardown finds them too (their command line does not say) */
	n = snprintf(body, sizeof(body),
		"%s"
		"worker_processes 1;\n"
		"working_directory %s;\n"
		"pid %s/nginx.pid;\n"
		"error_log %s/error.log notice;\n"
		"events { worker_connections 512; }\n"
		"http {\n"
		"  log_format ospec '$upstream_addr $upstream_status $upstream_response_time';\n"
		"  access_log %s/access.log ospec;\n"
		"  client_body_temp_path %s/tmp-body;\n  proxy_temp_path %s/tmp-proxy;\n"
		"  fastcgi_temp_path %s/tmp-fcgi;\n  uwsgi_temp_path %s/tmp-uwsgi;\n"
		"  scgi_temp_path %s/tmp-scgi;\n"
		"  upstream hello { include %s; keepalive 16; }\n"
		"  server {\n"
		"    listen 127.0.0.1:%d;\n"
		"    location / { proxy_pass http://hello; proxy_http_version 1.1;\n"
		"      proxy_set_header Connection \"\"; }\n"
		"  }\n"
		"}\n",
		geteuid() == 0 ? "user root;\n" : "", dir, dir, dir, dir, dir, dir, dir, dir, dir,
		inc, front_port);
	if (n < 0 || (size_t)n >= sizeof(body) ||
		osp_file_write_atomic(conf, body, (size_t)n, 0644) != OSP_OK)
		return NULL;
	snprintf(body, sizeof(body), "nginx-%s", name);
	p = h_spawn(e, body, (char *[]){ "/usr/sbin/nginx", "-e", "stderr", "-p", dir, "-c", conf,
		"-g", "daemon off;", NULL });
	if (p == NULL || !h_wait_for(h_nginx_listens, e, &front_port, h_ms(15000)))
		return NULL;
	return p;
}

h_proc *h_haproxy_start_rolling(h_env *e, const char *name, int front_port, int local_port,
	const int *backup_ports, size_t nbackup)
{
	char servers[2048];
	size_t o;

	o = (size_t)snprintf(servers, sizeof(servers), "  server local 127.0.0.1:%d\n",
		local_port);
	for (size_t i = 0; i < nbackup && o < sizeof(servers); i++)
		o += (size_t)snprintf(servers + o, sizeof(servers) - o,
			"  server peer%zu 127.0.0.1:%d backup\n", i + 1, backup_ports[i]);
	if (o >= sizeof(servers))
		return NULL;
	/* no retries: a retry would hide the restart gap that drain must close */
	return h_haproxy_run(e, name, front_port, 0, servers);
}

h_proc *h_agent_start_drain(h_env *e, const char *id, const char *labels, int port,
	const char *haproxy_name)
{
	char cfg[400], body[2048];
	char *extra[3];
	int n;

	snprintf(cfg, sizeof(cfg), "%s/agent-%s.yaml", e->dir, id);
	n = snprintf(body, sizeof(body), "apps:\n  hello:\n    port: %d\n", port);
	if (haproxy_name != NULL)
		n += snprintf(body + n, sizeof(body) - (size_t)n,
			"    proxy:\n"
			"      driver: haproxy\n"
			"      socket: %s/%s.sock\n"
			"      backend: hello\n"
			"      server: local\n"
			"      drain_timeout: 30s\n",
			e->dir, haproxy_name);
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
	atomic_long requests, failures; /* read while the load runs */
	atomic_bool seen[10];
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
	atomic_fetch_add(&l->requests, 1);
	if (curl_easy_perform(c) != CURLE_OK ||
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK || code != 200 ||
		b.data == NULL) {
		atomic_fetch_add(&l->failures, 1);
	} else if (b.data[0] >= '0' && b.data[0] <= '9') {
		atomic_store(&l->seen[b.data[0] - '0'], true);
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
	*requests = atomic_load(&l->requests);
	*failures = atomic_load(&l->failures);
	for (int v = 0; v < 10; v++)
		seen[v] = atomic_load(&l->seen[v]);
	free(l);
}

bool h_load_wait_seen(h_load *l, int v, int ms)
{
	int64_t end = osp_now_mono_ms() + ms;

	if (v < 0 || v > 9)
		return false;
	while (!atomic_load(&l->seen[v]) && osp_now_mono_ms() < end)
		osp_sleep_ms(20);
	return atomic_load(&l->seen[v]);
}

bool h_load_wait_more(h_load *l, long n, int ms)
{
	int64_t end = osp_now_mono_ms() + ms;
	long want = atomic_load(&l->requests) + n;

	while (atomic_load(&l->requests) < want && osp_now_mono_ms() < end)
		osp_sleep_ms(20);
	return atomic_load(&l->requests) >= want;
}

int h_certs(h_env *e, const char *sub, const char *dir, ...)
{
	char *argv[32], path[400];
	const char *a;
	va_list ap;
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s", e->dir, dir);
	argv[n++] = (char *)h_prog(e, "ospecctl");
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

	argv[n++] = (char *)h_prog(e, "ospecctl");
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

const char *h_str(const osp_json *o, const char *key)
{
	const char *s = o != NULL ? osp_json_get_str(o, key) : NULL;

	return s != NULL ? s : "";
}

const osp_json *h_step(const osp_json *status, const char *node)
{
	const osp_json *nodes = status != NULL ? osp_json_get(status, "nodes") : NULL;

	for (size_t i = 0; nodes != NULL && i < nodes->n; i++)
		if (strcmp(h_str(nodes->items[i], "node"), node) == 0)
			return nodes->items[i];
	return NULL;
}

const osp_json *h_node_app(const osp_json *node, const char *app)
{
	const osp_json *apps = node != NULL ? osp_json_get(node, "apps") : NULL;

	for (size_t i = 0; apps != NULL && i < apps->n; i++)
		if (strcmp(h_str(apps->items[i], "app"), app) == 0)
			return apps->items[i];
	return NULL;
}

/* h_terminal_state reports whether s names a state a rollout never leaves. */
static bool h_terminal_state(const char *s)
{
	return strcmp(s, "succeeded") == 0 || strcmp(s, "failed") == 0 ||
		strcmp(s, "aborted") == 0 || strcmp(s, "rolled_back") == 0;
}

bool h_wait_terminal(h_env *e, const char *id, int ms, char *state, size_t len)
{
	int64_t end = osp_now_mono_ms() + ms;
	bool done = false;

	osp_strlcpy(state, "?", len);
	for (;;) {
		osp_json *st = h_status(e, id);

		if (st != NULL)
			osp_strlcpy(state, h_str(st, "state"), len);
		osp_json_free(st);
		done = h_terminal_state(state);
		if (done || osp_now_mono_ms() >= end)
			return done;
		osp_sleep_ms(200);
	}
}

/* h_tree_scan_* is the state of one h_tree_find walk (nftw has no argument). */
static const char *h_tree_needle, *h_tree_skip;
static char *h_tree_found;
static size_t h_tree_found_len;

static int h_tree_scan(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	char *data = NULL;
	size_t len;
	osp_err rv;

	(void)f;
	if (flag != FTW_F || !S_ISREG(st->st_mode) ||
		(h_tree_skip != NULL && strncmp(path, h_tree_skip, strlen(h_tree_skip)) == 0))
		return 0;
	rv = osp_file_read(path, 256 << 20, &data, &len);
	if (rv == OSP_ENOENT)
		return 0; /* went away meanwhile */
	/* what cannot be read cannot be cleared: it counts as found */
	if ((rv != OSP_OK || memmem(data, len, h_tree_needle, strlen(h_tree_needle)) != NULL) &&
		h_tree_found[0] == '\0')
		snprintf(h_tree_found, h_tree_found_len, "%s%s", path,
			rv != OSP_OK ? " (unreadable)" : "");
	free(data);
	return 0;
}

bool h_tree_find(const char *dir, const char *needle, const char *skip, char *found, size_t len)
{
	found[0] = '\0';
	h_tree_needle = needle;
	h_tree_skip = skip;
	h_tree_found = found;
	h_tree_found_len = len;
	nftw(dir, h_tree_scan, 16, FTW_PHYS);
	return found[0] != '\0';
}
