/*
 * nginx.h - inside the nginx traffic driver: its state, shared by nginx.c
 * (the include, nginx -t, reload, weights) and nginx_log.c (the canary
 * counters from the access log). Not for use outside drivers/nginx*.c.
 */
#ifndef AGENT_DRIVERS_NGINX_H
#define AGENT_DRIVERS_NGINX_H

#include <sys/types.h>

#include "agent_traffic.h"

#define AGENT_NGINX_PATH_MAX 1024
#define AGENT_NGINX_RT_RING 1024 /* response times kept per slot, as haproxy's rtime */

/* The counters of one slot's port, cumulative since the driver opened. */
typedef struct agent_nginx_slot_count {
	unsigned port; /* the port they are about; another port starts over */
	uint64_t requests, errors;
	uint32_t rt[AGENT_NGINX_RT_RING]; /* the last response times, ms */
	unsigned rt_n, rt_next;
} agent_nginx_slot_count;

/* The access-log reader (proxy.nginx.access_log). */
typedef struct agent_nginx_log {
	char *path;     /* NULL: not configured */
	int64_t start;  /* when counting began (Unix s): SlotStats.proxy_start */
	uint64_t off;   /* bytes of the file already counted */
	dev_t dev;
	ino_t ino;      /* another inode or a shorter file: rotated, start from 0 */
	bool opened;    /* read once: what was in the file before is not counted */
	agent_nginx_slot_count slot[2];
} agent_nginx_log;

/* nginx_reload.c: after `nginx -s reload`, wait until it serves. */
#define AGENT_NGINX_WORKERS_MAX 256
#define AGENT_NGINX_RELOAD_WAIT_MS 10000

/* agent_nginx_workers writes the pids of master's workers that accept
 * connections (title "nginx: worker process", not shutting down) into v (at
 * most max); returns how many. */
size_t agent_nginx_workers(long master, long *v, size_t max);

/* agent_nginx_reload_wait waits up to ms until master runs a worker not in
 * old (the workers before the reload) and none of old accepts any more.
 * OSP_OK at once without a master or old workers; OSP_ETIMEDOUT (err says
 * what it saw). */
osp_err agent_nginx_reload_wait(long master, const long *old, size_t nold, int64_t ms,
	char *err, size_t errlen);

typedef struct agent_nginx {
	char *binary, *prefix, *conf, *file;
	char tmp[AGENT_NGINX_PATH_MAX + 32], old[AGENT_NGINX_PATH_MAX + 32];
	agent_traffic_lock *lock;
	bool seen;   /* pid holds the master pid the last watch() saw */
	long pid;
	bool dirty;  /* the file was changed but the reload failed */
	agent_nginx_log log;
} agent_nginx;

/* agent_nginx_read reads the installed include ("" when it is missing) into
 * *data (heap, the caller frees it). (nginx.c) */
osp_err agent_nginx_read(agent_nginx *h, const char *path, char **data, char *err,
	size_t errlen);

/* agent_nginx_log_init sets up l for path (NULL or "": not configured);
 * OSP_ENOMEM. agent_nginx_log_fini frees it; accepts a zeroed l. */
osp_err agent_nginx_log_init(agent_nginx_log *l, const char *path);
void agent_nginx_log_fini(agent_nginx_log *l);

/* agent_nginx_log_read counts the lines appended to the log since the last
 * call into l's slots (port[0] blue, port[1] green; 0: unknown). OSP_ENOENT
 * or OSP_EIO with err when the log cannot be read. */
osp_err agent_nginx_log_read(agent_nginx_log *l, const unsigned port[2], char *err,
	size_t errlen);

/* agent_nginx_stats is the driver's stats op (nginx_log.c). */
osp_err agent_nginx_stats(agent_traffic *t, const char *slot, agent_traffic_slot_stats *st,
	char *err, size_t errlen);

#endif
