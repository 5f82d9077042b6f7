/*
 * nginx_reload.c - waiting for an nginx reload to take effect.
 *
 * `nginx -s reload` only signals the master: the new configuration serves
 * once the master has started new workers and the old ones stopped
 * accepting (they close their listening sockets, then call themselves
 * "worker process is shutting down"). Until then a new connection may still
 * reach an old worker and the old upstream. A commit that returned at the
 * signal answered "switched" tens of milliseconds (under load: more) before
 * it was true; it_drivers saw the old release answer after a switch.
 */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nginx.h"
#include "ospec/util.h"

#define AGENT_NGINX_TITLE "nginx: worker process"
#define AGENT_NGINX_SHUTTING " is shutting down"

/* agent_nginx_child reads pid's parent and whether its title says it is a
 * worker that accepts (1), a worker shutting down (2), or neither (0). */
static int agent_nginx_child(long pid, long *ppid)
{
	char path[64], buf[512];
	size_t n;
	FILE *f;
	const char *p;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* "pid (comm) state ppid ...": comm may hold anything, so from the last ')' */
	if ((p = strrchr(buf, ')')) == NULL || sscanf(p + 1, " %*c %ld", ppid) != 1)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (strncmp(buf, AGENT_NGINX_TITLE, strlen(AGENT_NGINX_TITLE)) != 0)
		return 0;
	return strstr(buf, AGENT_NGINX_SHUTTING) != NULL ? 2 : 1;
}

size_t agent_nginx_workers(long master, long *v, size_t max)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	size_t n = 0;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL && n < max) {
		long pid, ppid = 0;
		char *end;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = strtol(de->d_name, &end, 10);
		if (*end != '\0' || pid <= 0)
			continue;
		if (agent_nginx_child(pid, &ppid) == 1 && ppid == master)
			v[n++] = pid;
	}
	closedir(d);
	return n;
}

static bool agent_nginx_in(const long *v, size_t n, long pid)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == pid)
			return true;
	return false;
}

osp_err agent_nginx_reload_wait(long master, const long *old, size_t nold, int64_t ms,
	char *err, size_t errlen)
{
	int64_t end = osp_now_mono_ms() + ms;
	long now[AGENT_NGINX_WORKERS_MAX];

	if (master <= 0 || nold == 0)
		return OSP_OK; /* no master/worker processes to watch (master_process off) */
	for (;;) {
		size_t n = agent_nginx_workers(master, now, AGENT_NGINX_WORKERS_MAX), fresh = 0;
		bool old_serving = false;

		for (size_t i = 0; i < n; i++) {
			if (agent_nginx_in(old, nold, now[i]))
				old_serving = true;
			else
				fresh++;
		}
		if (fresh > 0 && !old_serving)
			return OSP_OK;
		if (osp_now_mono_ms() >= end) {
			agent_traffic_seterr(err, errlen,
				"nginx driver: the reload did not take effect within %lld ms (master %ld: "
				"%zu new worker%s, old workers %s)", (long long)ms, master, fresh,
				fresh == 1 ? "" : "s", old_serving ? "still accepting" : "gone");
			return OSP_ETIMEDOUT;
		}
		osp_sleep_ms(10);
	}
}
