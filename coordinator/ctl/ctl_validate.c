/* ctl_validate.c - "ospecctl validate -f FILE... [--env ENV]": OSpec documents
 * checked locally, without the coordinator (docs/ospec.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ospec/ospec_doc.h"

/* ctl_validate_args collects -f FILE (also --file, -f=FILE, --file=FILE)
 * and --env ENV; exit code 2 on a usage error, else -1. */
static int ctl_validate_args(int argc, char **argv, const char **files, size_t *nfiles,
	const char **env)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = NULL;
		bool file = false;

		if (strcmp(a, "-f") == 0 || strcmp(a, "--file") == 0 || strcmp(a, "--env") == 0) {
			if (i + 1 >= argc) {
				ctl_errorf("validate: %s needs a value", a);
				return CTL_EXIT_USAGE;
			}
			file = strcmp(a, "--env") != 0;
			v = argv[++i];
		} else if (strncmp(a, "-f=", 3) == 0 || strncmp(a, "--file=", 7) == 0) {
			file = true;
			v = strchr(a, '=') + 1;
		} else if (strncmp(a, "--env=", 6) == 0) {
			v = a + 6;
		} else {
			ctl_errorf("validate: unknown argument '%s' (see 'ospecctl validate --help')",
				a);
			return CTL_EXIT_USAGE;
		}
		if (file)
			files[(*nfiles)++] = v;
		else
			*env = v;
	}
	if (*nfiles == 0) {
		ctl_errorf("validate: -f FILE is required");
		return CTL_EXIT_USAGE;
	}
	return -1;
}

static void ctl_validate_json_file(osp_jw *w, const char *path, const osp_doc_findings *f)
{
	osp_jw_obj_begin(w);
	osp_jw_key(w, "file");
	osp_jw_str(w, path);
	osp_jw_key(w, "valid");
	osp_jw_bool(w, f->errors == 0);
	osp_jw_key(w, "errors");
	osp_jw_uint(w, f->errors);
	osp_jw_key(w, "warnings");
	osp_jw_uint(w, f->warnings);
	osp_jw_obj_end(w);
}

static void ctl_validate_json_findings(osp_jw *w, const char *path, const osp_doc_findings *f)
{
	for (size_t i = 0; i < f->n; i++) {
		const osp_doc_finding *x = &f->v[i];

		osp_jw_obj_begin(w);
		osp_jw_key(w, "file");
		osp_jw_str(w, path);
		osp_jw_key(w, "line");
		osp_jw_int(w, x->line);
		osp_jw_key(w, "col");
		osp_jw_int(w, x->col);
		osp_jw_key(w, "path");
		osp_jw_str(w, x->path);
		osp_jw_key(w, "severity");
		osp_jw_str(w, x->error ? "error" : "warning");
		osp_jw_key(w, "message");
		osp_jw_str(w, x->msg);
		osp_jw_obj_end(w);
	}
}

/* ctl_validate_json prints one document: files, findings and the totals. */
static int ctl_validate_json(const char **files, const osp_doc_findings *fs, size_t n,
	size_t invalid, size_t errors, size_t warnings)
{
	osp_buf b;
	osp_jw w;

	osp_buf_init(&b, 0);
	osp_jw_init(&w, &b);
	osp_jw_obj_begin(&w);
	osp_jw_key(&w, "files");
	osp_jw_arr_begin(&w);
	for (size_t i = 0; i < n; i++)
		ctl_validate_json_file(&w, files[i], &fs[i]);
	osp_jw_arr_end(&w);
	osp_jw_key(&w, "findings");
	osp_jw_arr_begin(&w);
	for (size_t i = 0; i < n; i++)
		ctl_validate_json_findings(&w, files[i], &fs[i]);
	osp_jw_arr_end(&w);
	osp_jw_key(&w, "invalid");
	osp_jw_uint(&w, invalid);
	osp_jw_key(&w, "errors");
	osp_jw_uint(&w, errors);
	osp_jw_key(&w, "warnings");
	osp_jw_uint(&w, warnings);
	osp_jw_obj_end(&w);
	if (osp_jw_err(&w) != OSP_OK) {
		osp_buf_fini(&b);
		ctl_errorf("validate: cannot write the JSON answer: %s",
			osp_strerror(osp_jw_err(&w)));
		return CTL_EXIT_FAILED;
	}
	printf("%s\n", b.data);
	osp_buf_fini(&b);
	return -1;
}

int ctl_validate(const ctl *c, int argc, char **argv)
{
	const char **files = calloc((size_t)argc, sizeof(*files)), *env = NULL;
	osp_doc_findings *fs = calloc((size_t)argc, sizeof(*fs));
	osp_doc_plan *plan = malloc(sizeof(*plan));
	size_t n = 0, invalid = 0, errors = 0, warnings = 0;
	int code;

	if (files == NULL || fs == NULL || plan == NULL) {
		ctl_errorf("validate: out of memory");
		code = CTL_EXIT_FAILED;
		goto out;
	}
	if ((code = ctl_validate_args(argc, argv, files, &n, &env)) >= 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (osp_doc_load(files[i], env, plan, &fs[i]) == OSP_ENOMEM) {
			ctl_errorf("validate: %s: out of memory", files[i]);
			code = CTL_EXIT_FAILED;
			goto out;
		}
		invalid += fs[i].errors > 0;
		errors += fs[i].errors;
		warnings += fs[i].warnings;
		if (!c->json)
			osp_doc_findings_print(&fs[i], stdout);
	}
	if (c->json && (code = ctl_validate_json(files, fs, n, invalid, errors, warnings)) >= 0)
		goto out;
	if (!c->json)
		printf("%zu file%s: %zu invalid, %zu warning%s, %zu error%s\n", n,
			n == 1 ? "" : "s", invalid, warnings, warnings == 1 ? "" : "s", errors,
			errors == 1 ? "" : "s");
	code = invalid > 0 ? CTL_EXIT_FAILED : CTL_EXIT_OK;
out:
	for (size_t i = 0; fs != NULL && i < n; i++)
		osp_doc_findings_free(&fs[i]);
	free(files);
	free(fs);
	free(plan);
	return code;
}
