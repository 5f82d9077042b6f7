/*
 * harness_fixture.c - what the integration tests' cmocka fixtures share
 * (harness.h): the fixture's allocation around an h_env, the wait for the
 * fleet's nodes, the sample app's artifacts and an ospecctl exit check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#include "harness.h"
#include "ospec/util.h"

int h_fixture_setup(void **state, size_t size, const char *name)
{
	h_env **f = calloc(1, size < sizeof(*f) ? sizeof(*f) : size);

	if (f == NULL || (*f = h_setup(name)) == NULL) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

int h_fixture_teardown(void **state)
{
	h_env **f = *state;

	h_teardown(*f);
	free(f);
	return 0;
}

/* h_nodes_up_is: h_wait_for's test for h_wait_nodes_up (arg: the count). */
static bool h_nodes_up_is(h_env *e, void *arg)
{
	return h_nodes_up(e) == *(const int *)arg;
}

bool h_wait_nodes_up(h_env *e, int want, int ms)
{
	return h_wait_for(h_nodes_up_is, e, &want, ms);
}

void h_art_make(h_env *e, h_art *a, const char *v, const char *marker)
{
	const char *const m[] = { marker, NULL };

	osp_strlcpy(a->v, v, sizeof(a->v));
	if (!h_artifact(e, v, marker != NULL ? m : NULL, a->url, a->sha))
		fail_msg("cannot pack artifact %s", v);
}

void h_expect_exit(int code, int want, const char *what, char **err)
{
	char *e = err != NULL ? *err : NULL;

	if (code != want)
		fail_msg("%s: ospecctl exited %d, expected %d; stderr:\n%s", what, code, want,
			e != NULL ? e : "");
	free(e);
	if (err != NULL)
		*err = NULL;
}
