/*
 * fuzz_ospec_doc.c - libFuzzer target for the OSpec reader (osp_doc_parse)
 * over the bounded YAML reader, with and without --env.
 *
 * The result must agree with the findings: OSP_OK with no error and at least
 * one stage, each named; OSP_ECONFIG with at least one error; every finding
 * has a place (line and column 0, or both >= 1) and is printed as one line.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ospec/ospec_doc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_ospec_doc_check(osp_err rv, const osp_doc_plan *plan,
	const osp_doc_findings *f, FILE *null)
{
	if (rv == OSP_ENOMEM)
		return;
	if (rv == OSP_OK && (f->errors != 0 || plan->nstages < 1 ||
		plan->nstages > OSP_DOC_MAX_STAGES))
		abort();
	if (rv == OSP_OK) {
		for (size_t i = 0; i < plan->nstages; i++)
			if (plan->stages[i].name[0] == '\0')
				abort();
	}
	if (rv != OSP_OK && (rv != OSP_ECONFIG || f->errors == 0))
		abort();
	for (size_t i = 0; i < f->n; i++) {
		const osp_doc_finding *x = &f->v[i];
		if (x->line < 0 || x->col < 0 || (x->line == 0) != (x->col == 0))
			abort();
		if (strchr(x->msg, '\n') != NULL || strchr(x->path, '\n') != NULL)
			abort();
	}
	if (null != NULL)
		osp_doc_findings_print(f, null);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const envs[] = { NULL, "production" };
	static osp_doc_plan plan;
	static FILE *null;

	if (null == NULL)
		null = fopen("/dev/null", "w");
	for (size_t i = 0; i < 2; i++) {
		osp_doc_findings f = { 0 };
		osp_err rv = osp_doc_parse("fuzz.yaml", (const char *)data, size, envs[i], &plan,
			&f);
		fuzz_ospec_doc_check(rv, &plan, &f, null);
		osp_doc_findings_free(&f);
	}
	return 0;
}
