/*
 * ctl_logs.c - `ospecctl logs NODE APP [--follow] [--lines N] [--slot S]`:
 * an app's captured output, read by its node's agent and handed over by the
 * coordinator (protocol 1.4, docs/cli.md). The app's stdout goes to stdout,
 * its stderr to stderr (as `docker logs` does); --json prints the answer
 * document (one per line with --follow).
 *
 * --follow asks again every CTL_LOGS_POLL_MS with the offsets the last answer
 * gave, on the slot the first answer named (a blue-green switch meanwhile
 * does not move it to the other slot's files), until interrupted. Once it
 * has had an answer it rides out failures (a coordinator restart, a node
 * away for a while) and tries again every second: an error of the
 * coordinator's is said once until it changes, an unreachable coordinator
 * at each try (ctl_call says it); "not found" and usage errors end it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

#define CTL_LOGS_POLL_MS 500
#define CTL_LOGS_RETRY_MS 1000
#define CTL_LOGS_TIMEOUT_MS 20000 /* the coordinator gives a node 10 s */
#define CTL_LOGS_DEFAULT_LINES "100"
#define CTL_LOGS_MAX_LINES 1000

typedef struct ctl_logs_state {
	const char *node, *app;
	char slot[16];
	const char *lines;
	bool follow;
	unsigned long long out_off, err_off;
} ctl_logs_state;

/* ctl_logs_lines_ok checks --lines: 1..CTL_LOGS_MAX_LINES. */
static bool ctl_logs_lines_ok(const char *v)
{
	char *end = NULL;
	long n;

	if (v == NULL || v[0] < '0' || v[0] > '9')
		return false;
	n = strtol(v, &end, 10);
	return *end == '\0' && n >= 1 && n <= CTL_LOGS_MAX_LINES;
}

/* ctl_logs_args parses argv into st; the exit code (0 or usage). */
static int ctl_logs_args(int argc, char **argv, ctl_logs_state *st)
{
	const char *v;

	st->lines = CTL_LOGS_DEFAULT_LINES;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--follow") == 0 || strcmp(argv[i], "-f") == 0) {
			st->follow = true;
		} else if ((v = ctl_flag(argc, argv, &i, "lines")) != NULL ||
			(strcmp(argv[i], "-n") == 0 && i + 1 < argc && (v = argv[++i]) != NULL)) {
			if (!ctl_logs_lines_ok(v)) {
				ctl_errorf("logs: --lines: expected 1..%d, got '%s'",
					CTL_LOGS_MAX_LINES, v);
				return CTL_EXIT_USAGE;
			}
			st->lines = v;
		} else if ((v = ctl_flag(argc, argv, &i, "slot")) != NULL) {
			if (strcmp(v, "main") != 0 && strcmp(v, "blue") != 0 &&
				strcmp(v, "green") != 0) {
				ctl_errorf("logs: --slot: expected main, blue or green, got '%s'", v);
				return CTL_EXIT_USAGE;
			}
			osp_strlcpy(st->slot, v, sizeof(st->slot));
		} else if (argv[i][0] == '-' || (st->node != NULL && st->app != NULL)) {
			ctl_errorf("logs: unexpected argument '%s' (see 'ospecctl logs --help')",
				argv[i]);
			return CTL_EXIT_USAGE;
		} else if (st->node == NULL) {
			st->node = argv[i];
		} else {
			st->app = argv[i];
		}
	}
	if (st->node == NULL || st->app == NULL) {
		ctl_errorf("logs: expected NODE APP (see 'ospecctl logs --help')");
		return CTL_EXIT_USAGE;
	}
	return CTL_EXIT_OK;
}

/* ctl_logs_bool reads the boolean member key of j (absent: false). */
static bool ctl_logs_bool(const osp_json *j, const char *key)
{
	const osp_json *v = osp_json_get(j, key);

	return v != NULL && v->type == OSP_JSON_BOOL && v->b;
}

/* ctl_logs_print prints one answer; false when it is not a document. */
static bool ctl_logs_print(const ctl *c, const char *json, ctl_logs_state *st, bool first,
	bool *more)
{
	osp_json *j = ctl_parse_json(json);
	const char *out, *err, *slot;

	if (j == NULL)
		return false;
	out = osp_json_get_str(j, "stdout");
	err = osp_json_get_str(j, "stderr");
	slot = osp_json_get_str(j, "slot");
	if (first && slot != NULL)
		osp_strlcpy(st->slot, slot, sizeof(st->slot)); /* follow stays on it */
	if (!first && ctl_logs_bool(j, "stdout_reset"))
		ctl_errorf("logs: the stdout of %s@%s on %s was rotated or truncated; reading it "
			   "from the start", st->app, st->slot, st->node);
	if (!first && ctl_logs_bool(j, "stderr_reset"))
		ctl_errorf("logs: the stderr of %s@%s on %s was rotated or truncated; reading it "
			   "from the start", st->app, st->slot, st->node);
	if (c->json) {
		printf("%s\n", json);
	} else {
		fputs(out != NULL ? out : "", stdout);
		fputs(err != NULL ? err : "", stderr);
	}
	fflush(stdout);
	fflush(stderr);
	st->out_off = (unsigned long long)osp_json_get_int(j, "stdout_next", 0);
	st->err_off = (unsigned long long)osp_json_get_int(j, "stderr_next", 0);
	*more = ctl_logs_bool(j, "more");
	osp_json_free(j);
	return true;
}

/* ctl_logs_once asks once; the exit code, err the coordinator's error. */
static int ctl_logs_once(const ctl *c, ctl_logs_state *st, bool first, bool *more,
	char *err, size_t errlen)
{
	ctl_req rq = { .verb = "logs", .timeout_ms = CTL_LOGS_TIMEOUT_MS };
	char out_off[32], err_off[32], *json = NULL;
	int code;

	ctl_req_arg(&rq, "node", st->node);
	ctl_req_arg(&rq, "app", st->app);
	if (st->slot[0] != '\0')
		ctl_req_arg(&rq, "slot", st->slot);
	ctl_req_arg(&rq, "lines", st->lines);
	if (!first) {
		snprintf(out_off, sizeof(out_off), "%llu", st->out_off);
		snprintf(err_off, sizeof(err_off), "%llu", st->err_off);
		ctl_req_arg(&rq, "follow", "1");
		ctl_req_arg(&rq, "out_offset", out_off);
		ctl_req_arg(&rq, "err_offset", err_off);
	}
	code = ctl_call(c, &rq, &json, err, errlen);
	if (code == CTL_EXIT_OK && !ctl_logs_print(c, json, st, first, more))
		code = CTL_EXIT_FAILED;
	free(json);
	return code;
}

/* ctl_logs_follow asks again and again until interrupted (or a not-found or
 * usage error). */
static int ctl_logs_follow(const ctl *c, ctl_logs_state *st)
{
	char err[1024], last[1024] = "";
	bool more = false;

	for (;;) {
		int code;

		if (!more)
			osp_sleep_ms(CTL_LOGS_POLL_MS);
		more = false;
		code = ctl_logs_once(c, st, false, &more, err, sizeof(err));
		if (code == CTL_EXIT_OK) {
			last[0] = '\0';
			continue;
		}
		if (code == CTL_EXIT_NOT_FOUND || code == CTL_EXIT_USAGE) {
			if (err[0] != '\0')
				ctl_errorf("%s", err);
			return code;
		}
		/* said once, until it changes (ctl_call said "unreachable" itself) */
		if (err[0] != '\0' && strcmp(err, last) != 0) {
			ctl_errorf("%s (still trying)", err);
			osp_strlcpy(last, err, sizeof(last));
		}
		osp_sleep_ms(CTL_LOGS_RETRY_MS);
	}
}

int ctl_logs(const ctl *c, int argc, char **argv)
{
	ctl_logs_state st = { 0 };
	char err[1024];
	bool more = false;
	int code;

	if ((code = ctl_logs_args(argc, argv, &st)) != CTL_EXIT_OK)
		return code;
	code = ctl_logs_once(c, &st, true, &more, err, sizeof(err));
	if (code != CTL_EXIT_OK) {
		if (err[0] != '\0')
			ctl_errorf("%s", err);
		return code;
	}
	return st.follow ? ctl_logs_follow(c, &st) : CTL_EXIT_OK;
}
