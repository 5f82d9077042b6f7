/*
 * nginx_log.c - the nginx driver's canary counters. Open-source nginx keeps
 * no per-upstream counters, so the agent reads an access log the operator
 * writes for the app (proxy.nginx.access_log) with
 *
 *   log_format ospec '$upstream_addr $upstream_status $upstream_response_time';
 *   access_log /var/log/nginx/hello.ospec.log ospec;
 *
 * Each stats() reads the lines appended since the last read (the byte offset
 * lives in the driver; another inode or a shorter file means the log was
 * rotated: it starts again from 0) and counts, per slot, the lines whose
 * upstream address is 127.0.0.1:PORT of the slot. When nginx retried
 * ("a, b" in each of the three variables), the last upstream counts. A
 * status of 500 or more, or "-" (no answer), is an error; the response time
 * is the mean of the slot's last 1024 upstream_response_time values (ms).
 * The counters are cumulative since the driver opened (the agent's start:
 * SlotStats.proxy_start), so the coordinator's differences work as with
 * haproxy.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nginx.h"

#define AGENT_NGINX_LOG_CHUNK (64 * 1024)        /* also the longest line counted */
#define AGENT_NGINX_LOG_READ_MAX (64LL << 20)    /* per call; the next one goes on */
#define AGENT_NGINX_LOG_TOKENS 96                /* 32 upstreams tried */

osp_err agent_nginx_log_init(agent_nginx_log *l, const char *path)
{
	memset(l, 0, sizeof(*l));
	l->start = (int64_t)time(NULL);
	if (path == NULL || path[0] == '\0')
		return OSP_OK;
	l->path = strdup(path);
	return l->path != NULL ? OSP_OK : OSP_ENOMEM;
}

void agent_nginx_log_fini(agent_nginx_log *l)
{
	free(l->path);
	l->path = NULL;
}

/* agent_nginx_log_ms parses "0.012" (seconds, nginx's format) into ms. */
static bool agent_nginx_log_ms(const char *s, uint32_t *ms)
{
	uint64_t whole = 0, frac = 0;
	int fd = 0;

	if (*s < '0' || *s > '9')
		return false;
	for (; *s >= '0' && *s <= '9'; s++)
		if ((whole = whole * 10 + (uint64_t)(*s - '0')) > 4000000)
			return false;
	if (*s == '.')
		for (s++; *s >= '0' && *s <= '9'; s++, fd++)
			if (fd < 3)
				frac = frac * 10 + (uint64_t)(*s - '0');
	if (*s != '\0')
		return false;
	for (; fd < 3; fd++)
		frac *= 10;
	*ms = (uint32_t)(whole * 1000 + frac);
	return true;
}

/* agent_nginx_log_line counts one line (NUL-terminated, changed in place):
 * three variables of k values each (", " between them, " : " after an
 * internal redirect); the last of each is the upstream that answered. */
static void agent_nginx_log_line(agent_nginx_log *l, char *line)
{
	char *tok[AGENT_NGINX_LOG_TOKENS], *p = line, *end;
	size_t n = 0, k;
	char want[32];

	while (*p != '\0') {
		p += strspn(p, " \t\r");
		if (*p == '\0')
			break;
		end = p + strcspn(p, " \t\r");
		if (*end != '\0')
			*end++ = '\0';
		if (p[strlen(p) - 1] == ',')
			p[strlen(p) - 1] = '\0';
		if (p[0] != '\0' && strcmp(p, ":") != 0) {
			if (n == AGENT_NGINX_LOG_TOKENS)
				return; /* not a line of log_format ospec */
			tok[n++] = p;
		}
		p = end;
	}
	if (n == 0 || n % 3 != 0)
		return;
	k = n / 3;
	for (int i = 0; i < 2; i++) {
		agent_nginx_slot_count *c = &l->slot[i];
		char *e;
		long status;
		uint32_t ms;

		if (c->port == 0)
			continue;
		snprintf(want, sizeof(want), "127.0.0.1:%u", c->port);
		if (strcmp(tok[k - 1], want) != 0)
			continue;
		c->requests++;
		errno = 0;
		status = strtol(tok[2 * k - 1], &e, 10);
		if (errno != 0 || e == tok[2 * k - 1] || *e != '\0' || status >= 500)
			c->errors++; /* "-": no answer from the upstream */
		if (agent_nginx_log_ms(tok[3 * k - 1], &ms)) {
			c->rt[c->rt_next] = ms;
			c->rt_next = (c->rt_next + 1) % AGENT_NGINX_RT_RING;
			if (c->rt_n < AGENT_NGINX_RT_RING)
				c->rt_n++;
		}
	}
}

/* agent_nginx_log_ports starts a slot's counters over when its port changed. */
static void agent_nginx_log_ports(agent_nginx_log *l, const unsigned port[2])
{
	for (int i = 0; i < 2; i++) {
		if (l->slot[i].port == port[i])
			continue;
		memset(&l->slot[i], 0, sizeof(l->slot[i]));
		l->slot[i].port = port[i];
	}
}

/* agent_nginx_log_scan counts the complete lines of fd from l->off on. */
static osp_err agent_nginx_log_scan(agent_nginx_log *l, int fd, char *buf, char *err,
	size_t errlen)
{
	size_t have = 0;
	long long total = 0;

	if (lseek(fd, (off_t)l->off, SEEK_SET) < 0)
		goto fail;
	while (total < AGENT_NGINX_LOG_READ_MAX) {
		ssize_t r = read(fd, buf + have, AGENT_NGINX_LOG_CHUNK - have);
		char *p = buf, *nl;

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto fail;
		if (r == 0)
			break;
		total += r;
		have += (size_t)r;
		buf[have] = '\0';
		while ((nl = memchr(p, '\n', have - (size_t)(p - buf))) != NULL) {
			*nl = '\0';
			agent_nginx_log_line(l, p);
			l->off += (uint64_t)(nl + 1 - p);
			p = nl + 1;
		}
		have -= (size_t)(p - buf);
		memmove(buf, p, have);
		if (have == AGENT_NGINX_LOG_CHUNK) {
			l->off += have; /* a line this long is not ours: skipped */
			have = 0;
		}
	}
	return OSP_OK; /* a partial last line is counted once it is complete */
fail:
	agent_traffic_seterr(err, errlen, "nginx driver: access_log '%s': %s", l->path,
		strerror(errno));
	return OSP_EIO;
}

osp_err agent_nginx_log_read(agent_nginx_log *l, const unsigned port[2], char *err,
	size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	int fd;
	osp_err rv;

	agent_nginx_log_ports(l, port);
	fd = open(l->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT)
			l->opened = true; /* when it appears, every line in it is new */
		agent_traffic_seterr(err, errlen, "nginx driver: access_log '%s': %s%s", l->path,
			strerror(errno),
			errno == ENOENT ? " (does nginx write it? see docs/drivers.md)" : "");
		return errno == ENOENT ? OSP_ENOENT : OSP_EIO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		agent_traffic_seterr(err, errlen, "nginx driver: access_log '%s': not a file",
			l->path);
		close(fd);
		return OSP_EIO;
	}
	if (!l->opened) {
		/* the lines before the agent counted belong to no interval (after an
		 * agent restart: the previous release's traffic on the same port) */
		l->opened = true;
		l->off = (uint64_t)st.st_size;
		l->dev = st.st_dev;
		l->ino = st.st_ino;
	} else if (st.st_dev != l->dev || st.st_ino != l->ino || (uint64_t)st.st_size < l->off) {
		l->off = 0; /* rotated: the new file is all new */
		l->dev = st.st_dev;
		l->ino = st.st_ino;
	}
	buf = malloc(AGENT_NGINX_LOG_CHUNK + 1);
	if (buf == NULL) {
		agent_traffic_seterr(err, errlen, "out of memory");
		close(fd);
		return OSP_ENOMEM;
	}
	rv = agent_nginx_log_scan(l, fd, buf, err, errlen);
	free(buf);
	close(fd);
	return rv;
}

/* agent_nginx_log_weight reads slot port's weight from the include: its
 * `weight=N`, 100 for a server line without one, 0 when it is absent. */
static uint32_t agent_nginx_log_weight(const char *data, unsigned port)
{
	char want[48];
	const char *p;
	unsigned w;

	snprintf(want, sizeof(want), "\nserver 127.0.0.1:%u", port);
	p = strstr(data, want);
	if (p == NULL || (p[strlen(want)] != ';' && p[strlen(want)] != ' '))
		return 0;
	p += strlen(want);
	if (sscanf(p, " weight=%u;", &w) == 1)
		return w;
	return AGENT_TRAFFIC_WEIGHT_MAX;
}

osp_err agent_nginx_stats(agent_traffic *t, const char *slot, agent_traffic_slot_stats *st,
	char *err, size_t errlen)
{
	agent_nginx *h = t->drv;
	int idx = strcmp(slot, "green") == 0;
	const agent_nginx_slot_count *c = &h->log.slot[idx];
	char *data = NULL;
	uint64_t sum = 0;
	osp_err rv;

	if (h->log.path == NULL) {
		agent_traffic_seterr(err, errlen,
			"nginx driver: no access_log configured for app %s; canary analysis needs "
			"it (docs/drivers.md)", t->app);
		return OSP_ESTATE;
	}
	if (t->port[idx] == 0) {
		agent_traffic_seterr(err, errlen,
			"nginx driver: the port of slot '%s' of app '%s' is not known", slot, t->app);
		return OSP_ECONFIG;
	}
	pthread_mutex_lock(agent_traffic_lock_mutex(h->lock));
	rv = agent_nginx_log_read(&h->log, t->port, err, errlen);
	if (rv == OSP_OK)
		rv = agent_nginx_read(h, h->file, &data, err, errlen);
	if (rv == OSP_OK) {
		st->requests = c->requests;
		st->errors = c->errors;
		for (unsigned i = 0; i < c->rt_n; i++)
			sum += c->rt[i];
		st->has_rtime = c->rt_n > 0;
		st->rtime_ms = c->rt_n > 0 ? (uint32_t)(sum / c->rt_n) : 0;
		st->weight = agent_nginx_log_weight(data, t->port[idx]);
		st->proxy_start = h->log.start;
	}
	pthread_mutex_unlock(agent_traffic_lock_mutex(h->lock));
	free(data);
	return rv;
}
