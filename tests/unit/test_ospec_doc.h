/* test_ospec_doc.h - what the two tests of the OSpec reader share
 * (test_ospec_doc.c: the mapping rules; test_ospec_doc_input.c: hostile
 * input and the real examples): one plan and its findings per test, and
 * assertions on them. Included once per test executable, after cmocka.h. */
#ifndef TEST_OSPEC_DOC_H
#define TEST_OSPEC_DOC_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ospec/ospec_doc.h"

#define EXAMPLES OSPEC_SOURCE_DIR "/tests/fixtures/ospec-examples"

static osp_doc_plan plan;
static osp_doc_findings fnd;

static inline int teardown(void **state)
{
	(void)state;
	osp_doc_findings_free(&fnd);
	memset(&fnd, 0, sizeof(fnd));
	return 0;
}

static inline osp_err doc(const char *text, const char *env)
{
	teardown(NULL);
	return osp_doc_parse("t.yaml", text, strlen(text), env, &plan, &fnd);
}

static inline osp_err example(const char *name, const char *env)
{
	char path[512];

	teardown(NULL);
	snprintf(path, sizeof(path), "%s/%s", EXAMPLES, name);
	return osp_doc_load(path, env, &plan, &fnd);
}

/* has reports whether a finding "line:col: path: error|warning: msg..." (msg
 * a prefix of the message) is there. */
static inline bool has(const char *want)
{
	char line[640];

	for (size_t i = 0; i < fnd.n; i++) {
		const osp_doc_finding *x = &fnd.v[i];
		snprintf(line, sizeof(line), "%d:%d: %s%s%s: %s", x->line, x->col, x->path,
			x->path[0] ? ": " : "", x->error ? "error" : "warning", x->msg);
		if (strncmp(line, want, strlen(want)) == 0)
			return true;
	}
	return false;
}

static inline void assert_has(const char *want)
{
	if (!has(want)) {
		osp_doc_findings_print(&fnd, stderr);
		fail_msg("no finding '%s'", want);
	}
}

/* note returns what key became ("" when there is no note for key). */
static inline const char *note(const char *key)
{
	for (size_t i = 0; i < plan.nnotes; i++)
		if (strcmp(plan.notes[i].key, key) == 0)
			return plan.notes[i].became;
	return "";
}

static inline void assert_ok(const char *text, const char *env)
{
	if (doc(text, env) != OSP_OK) {
		osp_doc_findings_print(&fnd, stderr);
		fail_msg("document refused");
	}
}

#define T(name) cmocka_unit_test_teardown(name, teardown)

#endif
