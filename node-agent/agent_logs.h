/*
 * agent_logs.h - `ospecctl logs` on the agent's side (protocol 1.4): read
 * the captured output of an app's slot (the runner's STATE/logs/<app>.<slot>
 * .out and .err, with the rotated .1 files, agent_runner.h), bounded and
 * redacted, for a LogRequest the coordinator put in a poll or heartbeat
 * reply; answered with a LogChunk.
 *
 * Bounds: at most OSP_WIRE_LOG_READ bytes of each stream are read per
 * answer and at most OSP_WIRE_MAX_LOG_LINES lines; the text is redacted with
 * the app's env_file values (agent_redact.h), which may make it longer, up
 * to OSP_WIRE_MAX_LOG_DATA. A NUL byte in the output becomes '?'.
 *
 * Offsets are byte offsets in the current (not rotated) file. The runner
 * rotates by copy and truncate: a file shorter than the offset asked for was
 * rotated (or truncated by someone), and is read again from 0 (reset).
 */
#ifndef AGENT_LOGS_H
#define AGENT_LOGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>

#include "ospec/err.h"
#include "ospec/wire.h"

struct agent;

/* What was read of one stream. */
typedef struct agent_log_stream {
	char data[OSP_WIRE_MAX_LOG_DATA + 1]; /* NUL-terminated, redacted */
	size_t len;
	uint64_t next;  /* where the next follow read starts */
	bool reset;     /* the file was shorter than the offset: read from 0 */
	bool more;      /* the read was cut: more is waiting */
	bool found;     /* the file (or its .1) exists */
} agent_log_stream;

/* The answer to one log read (large: allocate it). */
typedef struct agent_log_answer {
	agent_log_stream out, err;
	bool not_found;   /* no captured output of the app's slot at all */
	char error[1024]; /* "": read; otherwise why nothing is shown */
} agent_log_answer;

/* What to read. */
typedef struct agent_log_query {
	const char *app;      /* osp_valid_id */
	const char *slot;     /* "main", "blue" or "green" (NULL, "": "main") */
	uint32_t lines;       /* tail: 1..OSP_WIRE_MAX_LOG_LINES (0: 100) */
	bool follow;          /* read after the offsets instead of a tail */
	uint64_t out_offset, err_offset;
	const char *env_file; /* the app's env_file: its values are redacted (NULL: none) */
} agent_log_query;

/*
 * agent_logs_read reads q's output under state_dir/logs into *ans (which it
 * fills whole). Always returns OSP_OK unless an argument is bad (OSP_EINVAL);
 * a problem with the files goes into ans->error (ans->not_found when there is
 * no output of that app and slot at all). When the env file cannot be read to
 * redact the text, nothing is shown (ans->error says why).
 */
osp_err agent_logs_read(const char *state_dir, const agent_log_query *q, agent_log_answer *ans);

/* agent_logs_tail_file reads the last `lines` lines of path (and of path.1
 * before it when path has fewer), at most OSP_WIRE_LOG_READ bytes, into s
 * (not redacted); s->next is path's size when it was read. For tests and
 * agent_logs_read. OSP_EIO. */
osp_err agent_logs_tail_file(const char *path, uint32_t lines, agent_log_stream *s);

/* agent_logs_after_file reads what path holds after byte off, at most
 * OSP_WIRE_LOG_READ bytes (cut after the last whole line when there is more:
 * s->more), into s (not redacted); a file shorter than off is read from 0
 * (s->reset). OSP_EIO. */
osp_err agent_logs_after_file(const char *path, uint64_t off, agent_log_stream *s);

/* agent_logs_answer answers each of the n log reads reqs (from a poll or a
 * heartbeat reply) with a LogChunk on ctx; an id answered already (the same
 * read comes in both replies) is skipped. Runs on the session or the
 * heartbeat thread; never fails the caller (an undelivered chunk is the
 * coordinator's timeout). */
void agent_logs_answer(struct agent *a, nng_ctx ctx, Ospec__V1__LogRequest **reqs, size_t n);

#endif
