/*
 * agent_logs.c - an app's captured output for `ospecctl logs` (protocol
 * 1.4): tails and follow reads of the runner's log files, bounded and
 * redacted, answered as LogChunk messages (agent_logs.h).
 */
#include "agent_logs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "agent_redact.h"
#include "agent_runner.h"

#define AGENT_LOGS_DEFAULT_LINES 100
#define AGENT_LOGS_REQ_TIMEOUT_MS 5000

/* agent_logs_pread reads up to len bytes of fd at off into buf; returns how
 * many, or -1. */
static ssize_t agent_logs_pread(int fd, char *buf, size_t len, uint64_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t r = pread(fd, buf + got, len - got, (off_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* agent_logs_open opens path for reading with its size in *size; -1 with
 * errno when it cannot. */
static int agent_logs_open(const char *path, uint64_t *size)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	*size = 0;
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	*size = (uint64_t)st.st_size;
	return fd;
}

/* agent_logs_count_lines counts the lines in buf (a last one without a
 * newline counts). */
static size_t agent_logs_count_lines(const char *buf, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += buf[i] == '\n';
	return n + (len > 0 && buf[len - 1] != '\n');
}

/* agent_logs_keep_last keeps the last `lines` lines of s->data; with
 * partial_head, the first line may be cut by the read and goes first. */
static void agent_logs_keep_last(agent_log_stream *s, uint32_t lines, bool partial_head)
{
	size_t end = s->len, start, n = 0;

	/* a last line without its newline counts as one */
	start = end;
	if (start > 0 && s->data[start - 1] == '\n')
		start--;
	for (; start > 0; start--) {
		if (s->data[start - 1] == '\n' && ++n == lines)
			break;
	}
	if (start == 0 && partial_head) {
		/* the oldest line was cut by the read: not shown */
		char *nl = memchr(s->data, '\n', s->len);
		start = nl != NULL ? (size_t)(nl - s->data) + 1 : s->len;
	}
	memmove(s->data, s->data + start, end - start);
	s->len = end - start;
	s->data[s->len] = '\0';
}

osp_err agent_logs_tail_file(const char *path, uint32_t lines, agent_log_stream *s)
{
	char old[PATH_MAX];
	uint64_t size = 0, osize = 0, from;
	ssize_t r;
	int fd, ofd;
	bool partial;

	s->len = 0;
	s->data[0] = '\0';
	s->next = 0;
	s->found = false;
	if (lines == 0 || lines > OSP_WIRE_MAX_LOG_LINES)
		lines = lines == 0 ? AGENT_LOGS_DEFAULT_LINES : OSP_WIRE_MAX_LOG_LINES;
	if ((size_t)snprintf(old, sizeof(old), "%s.1", path) >= sizeof(old))
		return OSP_EIO;
	if ((fd = agent_logs_open(path, &size)) < 0 && errno != ENOENT)
		return OSP_EIO;
	if (fd >= 0) {
		s->found = true;
		s->next = size;
		from = size > OSP_WIRE_LOG_READ ? size - OSP_WIRE_LOG_READ : 0;
		r = agent_logs_pread(fd, s->data, (size_t)(size - from), from);
		close(fd);
		if (r < 0)
			return OSP_EIO;
		s->len = (size_t)r;
		partial = from > 0;
		if (partial || agent_logs_count_lines(s->data, s->len) >= lines) {
			agent_logs_keep_last(s, lines, partial);
			return OSP_OK;
		}
	}
	/* the current file has fewer lines than asked: the rotated one's last
	 * ones go before them, as far as the read budget goes */
	if ((ofd = agent_logs_open(old, &osize)) < 0)
		goto done;
	s->found = true;
	if (osize > 0 && s->len < OSP_WIRE_LOG_READ) {
		size_t room = OSP_WIRE_LOG_READ - s->len, take;

		take = osize < room ? (size_t)osize : room;
		/* the rotated file may end without a newline: add one */
		memmove(s->data + take + 1, s->data, s->len);
		r = agent_logs_pread(ofd, s->data, take, osize - take);
		if (r == (ssize_t)take) {
			size_t head = take;
			if (take > 0 && s->data[take - 1] != '\n')
				s->data[head++] = '\n';
			memmove(s->data + head, s->data + take + 1, s->len);
			s->len += head;
			close(ofd);
			agent_logs_keep_last(s, lines, osize > take);
			return OSP_OK;
		}
		memmove(s->data, s->data + take + 1, s->len);
	}
	close(ofd);
done:
	s->data[s->len] = '\0';
	return OSP_OK;
}

osp_err agent_logs_after_file(const char *path, uint64_t off, agent_log_stream *s)
{
	uint64_t size = 0, n;
	ssize_t r;
	int fd;

	s->len = 0;
	s->data[0] = '\0';
	s->reset = false;
	s->more = false;
	s->found = false;
	s->next = off;
	if ((fd = agent_logs_open(path, &size)) < 0) {
		if (errno != ENOENT)
			return OSP_EIO;
		/* gone meanwhile: what comes next starts at 0 */
		s->reset = off > 0;
		s->next = 0;
		return OSP_OK;
	}
	s->found = true;
	if (off > size) {
		s->reset = true;
		off = 0;
	}
	n = size - off > OSP_WIRE_LOG_READ ? OSP_WIRE_LOG_READ : size - off;
	r = agent_logs_pread(fd, s->data, (size_t)n, off);
	close(fd);
	if (r < 0)
		return OSP_EIO;
	s->len = (size_t)r;
	if (off + s->len < size) {
		/* cut after the last whole line, unless one line fills the read */
		char *nl = memrchr(s->data, '\n', s->len);
		if (nl != NULL)
			s->len = (size_t)(nl - s->data) + 1;
		s->more = true;
	}
	s->next = off + s->len;
	s->data[s->len] = '\0';
	return OSP_OK;
}

/* agent_logs_redact makes s->data text (NUL bytes become '?') and redacts
 * it with env_file's values; false with why when it cannot. */
static bool agent_logs_redact(agent_log_stream *s, const char *env_file, char *why,
	size_t whylen)
{
	char err[512];

	for (size_t i = 0; i < s->len; i++)
		if (s->data[i] == '\0')
			s->data[i] = '?';
	s->data[s->len] = '\0';
	if (env_file == NULL || env_file[0] == '\0' || s->len == 0)
		return true;
	if (agent_redact_env_text(env_file, s->data, sizeof(s->data), err, sizeof(err)) !=
		OSP_OK) {
		snprintf(why, whylen, "the output is not shown: it cannot be redacted (%s)", err);
		return false;
	}
	s->len = strlen(s->data);
	return true;
}

osp_err agent_logs_read(const char *state_dir, const agent_log_query *q, agent_log_answer *ans)
{
	const char *slot = q->slot != NULL && q->slot[0] != '\0' ? q->slot : "main";
	char out[PATH_MAX], err[PATH_MAX];
	osp_err r1, r2;

	memset(ans, 0, sizeof(*ans));
	if (state_dir == NULL || q->app == NULL || !osp_valid_id(q->app) ||
		!osp_wire_valid_slot(slot))
		return OSP_EINVAL;
	if ((size_t)snprintf(out, sizeof(out), "%s/logs/%s.%s.out", state_dir, q->app, slot) >=
			sizeof(out) ||
		(size_t)snprintf(err, sizeof(err), "%s/logs/%s.%s.err", state_dir, q->app, slot) >=
			sizeof(err)) {
		snprintf(ans->error, sizeof(ans->error), "state dir path too long");
		return OSP_OK;
	}
	if (q->follow) {
		r1 = agent_logs_after_file(out, q->out_offset, &ans->out);
		r2 = agent_logs_after_file(err, q->err_offset, &ans->err);
	} else {
		r1 = agent_logs_tail_file(out, q->lines, &ans->out);
		r2 = agent_logs_tail_file(err, q->lines, &ans->err);
	}
	if (r1 != OSP_OK || r2 != OSP_OK) {
		snprintf(ans->error, sizeof(ans->error), "cannot read the output of app '%s' slot "
			"'%s' (%s)", q->app, slot, r1 != OSP_OK ? out : err);
		return OSP_OK;
	}
	/* a follow read of files that went away is not "not found": the app was
	 * there, and its output may come back */
	if (!ans->out.found && !ans->err.found && !q->follow) {
		ans->not_found = true;
		snprintf(ans->error, sizeof(ans->error), "no captured output of app '%s' slot '%s' "
			"on this node", q->app, slot);
		return OSP_OK;
	}
	if (!agent_logs_redact(&ans->out, q->env_file, ans->error, sizeof(ans->error)) ||
		!agent_logs_redact(&ans->err, q->env_file, ans->error, sizeof(ans->error))) {
		ans->out.len = ans->err.len = 0;
		ans->out.data[0] = ans->err.data[0] = '\0';
	}
	return OSP_OK;
}

/* agent_logs_seen reports whether id was answered already, and notes it. */
static bool agent_logs_seen(agent *a, uint64_t id)
{
	bool seen = false;

	pthread_mutex_lock(&a->mtx);
	for (size_t i = 0; i < AGENT_LOGS_SEEN; i++)
		seen = seen || a->logs_seen[i] == id;
	if (!seen) {
		a->logs_seen[a->logs_seen_at] = id;
		a->logs_seen_at = (a->logs_seen_at + 1) % AGENT_LOGS_SEEN;
	}
	pthread_mutex_unlock(&a->mtx);
	return seen;
}

/* agent_logs_send sends ans as the LogChunk answering req. */
static void agent_logs_send(agent *a, nng_ctx ctx, const Ospec__V1__LogRequest *req,
	const agent_log_answer *ans)
{
	osp_env env, *rep = NULL;
	Ospec__V1__LogChunk ch;
	char err[256];

	osp_wire_env_init(&env, NULL, NULL, 0);
	ospec__v1__log_chunk__init(&ch);
	ch.id = req->id;
	ch.app = req->app;
	ch.slot = req->slot != NULL && req->slot[0] != '\0' ? req->slot : "main";
	if (ans->error[0] != '\0') {
		ch.error = (char *)ans->error;
		ch.has_not_found = 1;
		ch.not_found = ans->not_found;
	} else {
		ch.has_out = ch.has_err = 1;
		ch.out.data = (uint8_t *)ans->out.data;
		ch.out.len = ans->out.len;
		ch.err.data = (uint8_t *)ans->err.data;
		ch.err.len = ans->err.len;
		ch.has_out_next = ch.has_err_next = 1;
		ch.out_next = ans->out.next;
		ch.err_next = ans->err.next;
		ch.has_out_reset = ch.has_err_reset = 1;
		ch.out_reset = ans->out.reset;
		ch.err_reset = ans->err.reset;
		ch.has_more = 1;
		ch.more = ans->out.more || ans->err.more;
	}
	env.body_case = OSPEC__V1__ENVELOPE__BODY_LOG_CHUNK;
	env.log_chunk = &ch;
	if (agent_request(a, ctx, &env, AGENT_LOGS_REQ_TIMEOUT_MS, &rep, NULL, err,
		    sizeof(err)) != OSP_OK)
		OSP_DEBUG("AGENT-LOGS-UNSENT", "log read %llu of app '%s' not delivered: %s",
			(unsigned long long)req->id, req->app, err);
	osp_wire_free(rep);
}

void agent_logs_answer(agent *a, nng_ctx ctx, Ospec__V1__LogRequest **reqs, size_t n)
{
	agent_log_answer *ans;

	if (n == 0 || (ans = malloc(sizeof(*ans))) == NULL)
		return;
	for (size_t i = 0; i < n && !atomic_load(&a->stopping); i++) {
		const Ospec__V1__LogRequest *req = reqs[i];
		const agent_app_cfg *ac = agent_cfg_app(a->cfg, req->app);
		agent_log_query q = {
			.app = req->app,
			.slot = req->slot,
			.lines = req->lines,
			.follow = req->has_follow && req->follow,
			.out_offset = req->out_offset,
			.err_offset = req->err_offset,
			.env_file = ac != NULL ? ac->env_file : NULL,
		};

		if (agent_logs_seen(a, req->id))
			continue;
		if (agent_logs_read(agent_dispatch_state_dir(a->dispatch), &q, ans) != OSP_OK)
			snprintf(ans->error, sizeof(ans->error), "bad log request");
		agent_logs_send(a, ctx, req, ans);
	}
	free(ans);
}
