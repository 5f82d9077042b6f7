/*
 * harness_fixture.c - what the integration tests' cmocka fixtures share
 * (harness.h): the fixture's allocation around an h_env, the wait for the
 * fleet's nodes, ports for a blue-green node, the sample app's artifacts, a
 * blue-green deploy, and the checks of an ospecctl exit and a rollout's end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void h_expect_end(h_env *e, const char *id, const char *want, int ms)
{
	char state[32];

	if (!h_wait_terminal(e, id, ms, state, sizeof(state)))
		fail_msg("rollout %s still '%s' after %d s, expected it to end '%s'", id, state,
			ms / 1000, want);
	if (strcmp(state, want) != 0) {
		osp_json *st = h_status(e, id);
		fail_msg("rollout %s ended '%s', expected '%s'; reason: %s", id, state, want,
			h_str(st, "reason"));
	}
}

void h_slot_ports(int *front, int *blue, int *green)
{
	*front = h_free_port();
	do
		*blue = h_free_port();
	while (*blue == *front);
	do
		*green = h_free_port();
	while (*green == *front || *green == *blue);
}

int h_deploy_bg(h_env *e, int v, const char *url, const char *sha, int blue, int green, char *id)
{
	char ports[64], ver[12], *err = NULL;
	int code;

	snprintf(ver, sizeof(ver), "%d", v);
	snprintf(ports, sizeof(ports), "blue=%d,green=%d", blue, green);
	code = h_deploy(e, ver, url, sha, id, &err, "--strategy", "blue_green", "--ports", ports,
		"--batch", "100%", "--watch", "0", "--wait", NULL);
	if (code != 0)
		fprintf(stderr, "deploy %d: exit %d: %s\n", v, code, err ? err : "");
	free(err);
	return code;
}

int h_env_fixture_setup(void **state, const char *name)
{
	h_env *e = h_setup(name);

	if (e == NULL)
		return -1;
	*state = e;
	return 0;
}

int h_env_fixture_teardown(void **state)
{
	h_teardown(*state);
	return 0;
}
