/*
 * agent_runner_files.c - the runner's view of the file system: /proc entries
 * (start time, process groups, boot id), pidfiles and size-capped logs.
 */
#include "agent_runner_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ospec/util.h"

#define AGENT_TAIL_READ (64 * 1024) /* bytes read from the end of each log */

osp_err agent_runner_path(char *buf, size_t len, const char *state_dir, const char *sub, const char *app,
	const char *slot, const char *suffix)
{
	if ((size_t)snprintf(buf, len, "%s/%s/%s.%s%s", state_dir, sub, app, slot, suffix) >= len)
		return OSP_ETOOBIG;
	return OSP_OK;
}

/* agent_runner_stat_fields reads state (field 3), pgrp (5) and starttime (22)
 * of /proc/PID/stat. The comm field may hold spaces and ')', so parsing starts
 * after the last ')'. */
static osp_err agent_runner_stat_fields(pid_t pid, char *state, long *pgrp, unsigned long long *start)
{
	char path[64], buf[1024], *p, *end;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return (errno == ENOENT || errno == ESRCH) ? OSP_ENOENT : OSP_EIO;
	do {
		n = read(fd, buf, sizeof(buf) - 1);
	} while (n < 0 && errno == EINTR);
	close(fd);
	if (n <= 0)
		return OSP_ENOENT; /* the process went away while we read */
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (p == NULL || p[1] != ' ' || p[2] == '\0')
		return OSP_EDECODE;
	p += 2;
	*state = *p;
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (p == NULL)
			return OSP_EDECODE;
		p++;
		if (field == 4) /* p is now at field 5 */
			*pgrp = strtol(p, NULL, 10);
	}
	errno = 0;
	*start = strtoull(p, &end, 10);
	if (errno != 0 || end == p)
		return OSP_EDECODE;
	return OSP_OK;
}

osp_err agent_runner_proc_stat(pid_t pid, char *state, unsigned long long *start_time)
{
	long pgrp;

	if (pid <= 0)
		return OSP_ENOENT;
	return agent_runner_stat_fields(pid, state, &pgrp, start_time);
}

bool agent_runner_group_alive(pid_t pgid)
{
	struct dirent *de;
	DIR *d;
	bool alive = false;

	if (kill(-pgid, 0) != 0 && errno == ESRCH)
		return false;
	d = opendir("/proc");
	if (d == NULL)
		return true; /* cannot tell: assume the worst */
	while (!alive && (de = readdir(d)) != NULL) {
		char *end, state;
		long pgrp = 0, pid = strtol(de->d_name, &end, 10);
		unsigned long long st;

		if (pid <= 0 || *end != '\0')
			continue;
		if (agent_runner_stat_fields((pid_t)pid, &state, &pgrp, &st) == OSP_OK && pgrp == (long)pgid &&
		    state != 'Z' && state != 'X')
			alive = true;
	}
	closedir(d);
	return alive;
}

void agent_runner_boot_id(char *buf, size_t len)
{
	char *text = NULL;
	size_t n = 0;

	buf[0] = '\0';
	if (osp_file_read("/proc/sys/kernel/random/boot_id", 256, &text, &n) != OSP_OK)
		return;
	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == ' '))
		text[--n] = '\0';
	if (n < len)
		osp_strlcpy(buf, text, len);
	free(text);
}

osp_err agent_runner_pidfile_write(const char *state_dir, const agent_pidfile *pf)
{
	const agent_proc_spec *s = &pf->spec;
	char path[PATH_MAX];
	osp_buf b;
	osp_err rv;

	rv = agent_runner_path(path, sizeof(path), state_dir, "run", s->app, s->slot, ".pid");
	if (rv != OSP_OK)
		return rv;
	osp_buf_init(&b, 64 * 1024);
	rv = osp_buf_printf(&b,
		"pid=%d\nstart_time=%llu\nboot_id=%s\nstarted_wall_ms=%" PRId64 "\napp=%s\nslot=%s\n"
		"port=%u\nrelease_dir=%s\nrun=%s\nlog_max_bytes=%" PRIu64 "\n",
		(int)pf->pid, pf->start_time, pf->boot_id, pf->started_wall_ms, s->app, s->slot, s->port,
		s->release_dir, s->run, s->log_max_bytes);
	if (rv == OSP_OK && s->user != NULL)
		rv = osp_buf_printf(&b, "user=%s\n", s->user);
	if (rv == OSP_OK && s->env_file != NULL)
		rv = osp_buf_printf(&b, "env_file=%s\n", s->env_file);
	if (rv == OSP_OK && pf->err_mark.set)
		rv = osp_buf_printf(&b, "%s=%" PRIu64 "\n", pf->err_mark.old ? "err_start_rotated" : "err_start",
			pf->err_mark.off);
	if (rv == OSP_OK)
		rv = osp_file_write_atomic(path, b.data, b.len, 0640);
	osp_buf_fini(&b);
	return rv;
}

/* agent_runner_pidfile_num parses a decimal value of a pidfile key. */
static bool agent_runner_pidfile_num(const char *v, uint64_t max, uint64_t *out)
{
	return osp_u64_parse(v, 0, max, out) == OSP_OK;
}

/* agent_runner_pidfile_kv stores one key=value of a pidfile in *pf. */
static bool agent_runner_pidfile_kv(const char *k, const char *v, agent_pidfile *pf)
{
	uint64_t n;

	if (strcmp(k, "pid") == 0) {
		if (!agent_runner_pidfile_num(v, INT32_MAX, &n) || n == 0)
			return false;
		pf->pid = (pid_t)n;
	} else if (strcmp(k, "start_time") == 0) {
		if (!agent_runner_pidfile_num(v, UINT64_MAX, &n))
			return false;
		pf->start_time = n;
	} else if (strcmp(k, "started_wall_ms") == 0) {
		if (!agent_runner_pidfile_num(v, INT64_MAX, &n))
			return false;
		pf->started_wall_ms = (int64_t)n;
	} else if (strcmp(k, "port") == 0) {
		if (!agent_runner_pidfile_num(v, 65535, &n) || n == 0)
			return false;
		pf->spec.port = (unsigned)n;
	} else if (strcmp(k, "log_max_bytes") == 0) {
		if (!agent_runner_pidfile_num(v, UINT64_MAX, &n))
			return false;
		pf->spec.log_max_bytes = n;
	} else if (strcmp(k, "err_start") == 0 || strcmp(k, "err_start_rotated") == 0) {
		if (!agent_runner_pidfile_num(v, INT64_MAX, &n))
			return false;
		pf->err_mark.set = true;
		pf->err_mark.old = strcmp(k, "err_start_rotated") == 0;
		pf->err_mark.off = n;
	} else if (strcmp(k, "boot_id") == 0) {
		pf->boot_id = v;
	} else if (strcmp(k, "app") == 0) {
		pf->spec.app = v;
	} else if (strcmp(k, "slot") == 0) {
		pf->spec.slot = v;
	} else if (strcmp(k, "release_dir") == 0) {
		pf->spec.release_dir = v;
	} else if (strcmp(k, "run") == 0) {
		pf->spec.run = v;
	} else if (strcmp(k, "user") == 0) {
		pf->spec.user = v;
	} else if (strcmp(k, "env_file") == 0) {
		pf->spec.env_file = v;
	} /* unknown keys are skipped: a newer agent may add some */
	return true;
}

osp_err agent_runner_pidfile_parse(char *text, agent_pidfile *pf)
{
	char *line, *nl, *eq;

	memset(pf, 0, sizeof(*pf));
	for (line = text; line != NULL && *line != '\0'; line = nl) {
		nl = strchr(line, '\n');
		if (nl != NULL)
			*nl++ = '\0';
		if (*line == '\0')
			continue;
		eq = strchr(line, '=');
		if (eq == NULL)
			return OSP_EDECODE;
		*eq = '\0';
		if (!agent_runner_pidfile_kv(line, eq + 1, pf))
			return OSP_EDECODE;
	}
	if (pf->pid == 0 || pf->start_time == 0 || pf->boot_id == NULL || pf->spec.port == 0 ||
	    pf->spec.app == NULL || pf->spec.slot == NULL || pf->spec.release_dir == NULL || pf->spec.run == NULL ||
	    !osp_valid_id(pf->spec.app) || !osp_valid_id(pf->spec.slot))
		return OSP_EDECODE;
	return OSP_OK;
}

/* agent_runner_copy_tail copies bytes [off, off+n) of in to out, starting
 * after the first newline of the first chunk so .1 begins with a whole line;
 * *begin is the offset in `in` of the first byte copied. */
static osp_err agent_runner_copy_tail(int in, int out, off_t off, uint64_t n, uint64_t *begin)
{
	char chunk[65536];
	bool first = true;

	*begin = (uint64_t)off;

	while (n > 0) {
		size_t want = n < sizeof(chunk) ? (size_t)n : sizeof(chunk);
		ssize_t r = pread(in, chunk, want, off);
		char *p = chunk;

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r == 0 ? OSP_OK : OSP_EIO;
		off += r;
		n -= (uint64_t)r;
		if (first && off > r) {
			char *nl = memchr(chunk, '\n', (size_t)r);
			if (nl != NULL && nl + 1 < chunk + r)
				p = nl + 1;
			*begin += (uint64_t)(p - chunk);
		}
		first = false;
		for (size_t left = (size_t)(chunk + r - p); left > 0;) {
			ssize_t w = write(out, p, left);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return OSP_EIO;
			p += w;
			left -= (size_t)w;
		}
	}
	return OSP_OK;
}

/* agent_runner_mark_rotated moves mark (of a log of size bytes whose bytes
 * from begin on were copied into .1) along with a done rotation. */
static void agent_runner_mark_rotated(agent_log_mark *mark, uint64_t size, uint64_t begin)
{
	if (mark == NULL || !mark->set)
		return;
	if (mark->old) {
		/* the run began before the last rotation: all that was copied is its */
		mark->off = 0;
	} else if (mark->off >= size) {
		/* nothing of the run was copied: it goes on at 0 of the emptied log */
		mark->off = 0;
	} else {
		mark->off = mark->off > begin ? mark->off - begin : 0;
		mark->old = true;
	}
}

osp_err agent_runner_log_rotate(const char *path, uint64_t max, agent_log_mark *mark)
{
	char old[PATH_MAX], tmp[PATH_MAX];
	struct stat st;
	uint64_t begin = 0;
	int in = -1, out = -1;
	osp_err rv = OSP_OK;

	if (stat(path, &st) != 0 || (uint64_t)st.st_size <= max)
		return OSP_OK;
	if ((size_t)snprintf(old, sizeof(old), "%s.1", path) >= sizeof(old) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s.1.tmp", path) >= sizeof(tmp))
		return OSP_ETOOBIG;
	in = open(path, O_RDONLY | O_CLOEXEC);
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (in < 0 || out < 0) {
		rv = OSP_EIO;
		goto out;
	}
	rv = agent_runner_copy_tail(in, out, (off_t)((uint64_t)st.st_size - max), max, &begin);
	if (close(out) != 0 && rv == OSP_OK)
		rv = OSP_EIO;
	out = -1;
	if (rv == OSP_OK && rename(tmp, old) != 0)
		rv = OSP_EIO;
	/* The app appends with O_APPEND, so after the truncate it writes at 0
	 * again; what it wrote since the copy is lost (as with copytruncate). */
	if (rv == OSP_OK && truncate(path, 0) != 0)
		rv = OSP_EIO;
	if (rv == OSP_OK)
		agent_runner_mark_rotated(mark, (uint64_t)st.st_size, begin);
out:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	if (rv != OSP_OK)
		unlink(tmp);
	return rv;
}

/* agent_runner_read_end appends the last AGENT_TAIL_READ bytes of path, none
 * before byte from (from past the end: the file was cut meanwhile; all). */
static osp_err agent_runner_read_end(const char *path, uint64_t from, osp_buf *b)
{
	char chunk[8192];
	struct stat st;
	osp_err rv = OSP_OK;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT ? OSP_ENOENT : OSP_EIO;
	if (fstat(fd, &st) == 0) {
		uint64_t size = (uint64_t)st.st_size;

		if (from > size)
			from = 0;
		if (size > AGENT_TAIL_READ && size - AGENT_TAIL_READ > from)
			from = size - AGENT_TAIL_READ;
		if (from > 0)
			lseek(fd, (off_t)from, SEEK_SET);
	}
	for (size_t total = 0; total < AGENT_TAIL_READ && rv == OSP_OK;) {
		ssize_t r = read(fd, chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rv = r == 0 ? OSP_OK : OSP_EIO;
			break;
		}
		total += (size_t)r;
		rv = osp_buf_append(b, chunk, (size_t)r);
	}
	close(fd);
	return rv;
}

osp_err agent_runner_log_tail(const char *path, const agent_log_mark *mark, size_t max_lines, char *buf,
	size_t len)
{
	char old[PATH_MAX];
	osp_buf b;
	osp_err rv, rv1 = OSP_ENOENT;
	size_t start, end, lines = 0;
	bool set = mark != NULL && mark->set;

	if (buf == NULL || len == 0)
		return OSP_EINVAL;
	buf[0] = '\0';
	if ((size_t)snprintf(old, sizeof(old), "%s.1", path) >= sizeof(old))
		return OSP_ETOOBIG;
	osp_buf_init(&b, 4 * AGENT_TAIL_READ);
	/* a run that began in the current file has nothing in the rotated one */
	if (!set || mark->old)
		rv1 = agent_runner_read_end(old, set ? mark->off : 0, &b);
	if (b.len > 0 && b.data[b.len - 1] != '\n' && osp_buf_append(&b, "\n", 1) != OSP_OK)
		rv1 = OSP_ENOMEM;
	rv = agent_runner_read_end(path, set && !mark->old ? mark->off : 0, &b);
	if (rv == OSP_ENOENT && rv1 == OSP_OK)
		rv = OSP_OK;
	if (rv != OSP_OK || (rv1 != OSP_OK && rv1 != OSP_ENOENT))
		goto out;
	end = b.len;
	while (end > 0 && b.data[end - 1] == '\n')
		end--;
	for (start = end; start > 0 && max_lines > 0; start--) {
		if (b.data[start - 1] == '\n' && ++lines == max_lines)
			break;
	}
	if (max_lines == 0)
		start = end;
	if (end == start)
		goto out;
	if (end - start >= len) {
		/* keep the newest lines that fit, starting at a line boundary */
		char *nl;
		start = end - (len - 1);
		nl = memchr(b.data + start, '\n', end - start);
		if (nl != NULL)
			start = (size_t)(nl - b.data) + 1;
	}
	memcpy(buf, b.data + start, end - start);
	buf[end - start] = '\0';
out:
	osp_buf_fini(&b);
	return rv;
}
