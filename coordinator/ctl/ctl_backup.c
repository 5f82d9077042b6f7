/* ctl_backup.c - backup FILE: the coordinator copies its store to FILE. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"

#define CTL_BACKUP_TIMEOUT_MS (10 * 60 * 1000LL)
#define CTL_BACKUP_TIMEOUT_MAX_MS (24 * 3600 * 1000LL) /* nng durations are 32-bit ms */

/* ctl_backup_path makes FILE absolute: against the current directory when
 * the coordinator is on this machine (ipc://), refused otherwise. */
static bool ctl_backup_path(const ctl *c, const char *file, char *out, size_t len)
{
	char cwd[4096];

	if (file[0] == '/') {
		if (osp_strlcpy(out, file, len) < len)
			return true;
		ctl_errorf("backup: path too long");
		return false;
	}
	if (!ctl_urls_local(c)) {
		ctl_errorf("backup: '%s' is relative, and '%s' may be another machine: give an "
			   "absolute path on the coordinator's machine", file, c->url);
		return false;
	}
	if (getcwd(cwd, sizeof(cwd)) == NULL ||
		(size_t)snprintf(out, len, "%s/%s", strcmp(cwd, "/") == 0 ? "" : cwd, file) >= len) {
		ctl_errorf("backup: cannot make '%s' an absolute path", file);
		return false;
	}
	return true;
}

int ctl_backup(const ctl *c, int argc, char **argv)
{
	ctl_req rq = { .verb = "backup", .mutates = true, .timeout_ms = CTL_BACKUP_TIMEOUT_MS };
	const char *file = NULL, *v;
	char path[4096];
	char *json = NULL;
	osp_json *j;
	int code;

	for (int i = 1; i < argc; i++) {
		if ((v = ctl_flag(argc, argv, &i, "timeout")) != NULL) {
			if (!ctl_timeout_flag("backup", v, &rq.timeout_ms))
				return CTL_EXIT_USAGE;
			if (rq.timeout_ms <= 0 || rq.timeout_ms > CTL_BACKUP_TIMEOUT_MAX_MS) {
				ctl_errorf("backup: --timeout: expected 1ms to 24h, got '%s'", v);
				return CTL_EXIT_USAGE;
			}
		} else if (argv[i][0] == '-' || file != NULL) {
			ctl_errorf("backup: unexpected argument '%s' (see 'ospecctl backup --help')",
				argv[i]);
			return CTL_EXIT_USAGE;
		} else {
			file = argv[i];
		}
	}
	if (file == NULL || file[0] == '\0') {
		ctl_errorf("backup: expected FILE (see 'ospecctl backup --help')");
		return CTL_EXIT_USAGE;
	}
	if (!ctl_backup_path(c, file, path, sizeof(path)))
		return CTL_EXIT_USAGE;
	ctl_req_arg(&rq, "file", path);
	if ((code = ctl_call(c, &rq, &json, NULL, 0)) != CTL_EXIT_OK) {
		free(json);
		return code;
	}
	if (c->json) {
		printf("%s\n", json ? json : "null");
	} else if ((j = ctl_parse_json(json)) != NULL) {
		const osp_json *b = osp_json_get(j, "bytes"), *s = osp_json_get(j, "schema");
		const osp_json *t = osp_json_get(j, "took_ms");

		printf("backup written to '%s' on the coordinator's machine: %lld bytes, store "
		       "schema %lld, %lld ms\n", osp_json_get_str(j, "path"),
			b ? (long long)b->i : 0LL, s ? (long long)s->i : 0LL,
			t ? (long long)t->i : 0LL);
		osp_json_free(j);
	} else {
		code = CTL_EXIT_FAILED;
	}
	free(json);
	return code;
}
