/*
 * it_checks.c - a rollout's checks end to end (issue 11, the agent part):
 * required secrets (deploy --require-env: names the app's env_file must
 * define on every member, checked before anything is sent; only names ever
 * leave a host) and smoke checks (deploy --smoke: run by the agent on the
 * new release after its health check), with a real coordinator, three real
 * agents each giving the sample app its own port and env file, and the
 * sample app (GET / and /health answer 200, other paths 404).
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

#define IT_NODES 3
#define IT_SECRET "hunter2-7d3f9a61-c0ffee-NEVER-SHOWN"

/* The fleet of one test (on its stack; the state is the h_env). */
typedef struct it_fleet {
	h_env *e;
	int ports[IT_NODES];
	char env[IT_NODES][400];
	char secrets[400]; /* the env files' dir: the only place the value may be */
	char url[3][600];
	char sha[3][65];
} it_fleet;

static const char *const it_ids[IT_NODES] = { "n1", "n2", "n3" };

static int it_setup(void **state)
{
	*state = h_setup("checks");
	return *state != NULL ? 0 : -1;
}

static int it_teardown(void **state)
{
	h_teardown(*state);
	return 0;
}

/* it_env_write writes node i's env file: DATABASE_URL, and NEXTAUTH_SECRET
 * when full (both hold the secret value). */
static void it_env_write(it_fleet *f, int i, bool full)
{
	char text[512];

	snprintf(text, sizeof(text),
		"# the app's secrets\nDATABASE_URL=postgres://app:" IT_SECRET "@db/app\n%s",
		full ? "export NEXTAUTH_SECRET=\"" IT_SECRET "\"\n" : "");
	assert_int_equal(osp_file_write_atomic(f->env[i], text, strlen(text), 0600), OSP_OK);
}

struct it_names {
	const char *node;
	size_t n; /* env names reported for hello */
};

static bool it_names_are(h_env *e, void *arg)
{
	struct it_names *w = arg;
	osp_json *nodes = h_ctl_json(e, NULL, "nodes", NULL);
	const osp_json *app = h_node_app(h_node(nodes, w->node), "hello");
	const osp_json *names = app != NULL ? osp_json_get(app, "env_names") : NULL;
	bool ok = names != NULL && names->n == w->n &&
		strcmp(h_str(h_node(nodes, w->node), "state"), "up") == 0;

	osp_json_free(nodes);
	return ok;
}

/* it_fleet_start: a coordinator and three agents, n2's env file without
 * NEXTAUTH_SECRET unless all_full; artifacts 1 and 2 (both good). */
static void it_fleet_start(it_fleet *f, bool all_full)
{
	assert_non_null(h_coord_start(f->e, "500ms", NULL));
	snprintf(f->secrets, sizeof(f->secrets), "%s/secrets/", f->e->dir);
	assert_int_equal(osp_mkdir_p(f->secrets, 0700), OSP_OK);
	for (int i = 0; i < IT_NODES; i++) {
		struct it_names w = { it_ids[i], all_full || i != 1 ? 2 : 1 };

		snprintf(f->env[i], sizeof(f->env[i]), "%s%s.env", f->secrets, it_ids[i]);
		it_env_write(f, i, all_full || i != 1);
		f->ports[i] = h_free_port();
		assert_non_null(h_agent_start_env(f->e, it_ids[i], "role=web", "hello", f->ports[i],
			f->env[i]));
		assert_true(h_wait_for(it_names_are, f->e, &w, h_ms(20000)));
	}
	assert_true(h_artifact(f->e, "1", NULL, f->url[1], f->sha[1]));
	assert_true(h_artifact(f->e, "2", NULL, f->url[2], f->sha[2]));
}

static void it_assert_all(it_fleet *f, const char *version)
{
	char got[64];

	for (int i = 0; i < IT_NODES; i++) {
		h_app_answer(f->ports[i], got, sizeof(got));
		if (strcmp(got, version) != 0)
			fail_msg("node %s answers '%s', expected '%s'", it_ids[i], got, version);
	}
}

/* it_succeeded checks that rollout id succeeded and every node answers
 * version; returns its status (the caller frees it) after checking that its
 * list key has n entries. */
static osp_json *it_succeeded(it_fleet *f, const char *id, const char *version,
	const char *key, size_t n)
{
	osp_json *st = h_status(f->e, id);
	const osp_json *list;

	it_assert_all(f, version);
	assert_non_null(st);
	assert_string_equal(h_str(st, "state"), "succeeded");
	list = osp_json_get(st, key);
	assert_non_null(list);
	assert_int_equal(list->n, n);
	return st;
}

/* it_save keeps an ospecctl output in the test dir for the secret scan. */
static void it_save(it_fleet *f, const char *name, const char *text)
{
	char path[400];

	snprintf(path, sizeof(path), "%s/out-%s.txt", f->e->dir, name);
	assert_int_equal(osp_file_write_atomic(path, text ? text : "", text ? strlen(text) : 0,
				 0644),
		OSP_OK);
}

/* it_save_ctl runs ospecctl ARGS (NULL-ended), keeps stdout and stderr, and
 * returns the exit code. */
static int it_save_ctl(it_fleet *f, const char *name, ...)
{
	char *argv[16], *out = NULL, *err = NULL, outn[64];
	const char *a;
	va_list ap;
	int n = 0, code;

	argv[n++] = (char *)h_bin("ospecctl");
	argv[n++] = "--coordinator";
	argv[n++] = f->e->ctl_url;
	va_start(ap, name);
	while ((a = va_arg(ap, const char *)) != NULL && n < 15)
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n] = NULL;
	code = h_run(argv, h_ms(60000), &out, &err);
	snprintf(outn, sizeof(outn), "%s-stdout", name);
	it_save(f, outn, out);
	snprintf(outn, sizeof(outn), "%s-stderr", name);
	it_save(f, outn, err);
	free(out);
	free(err);
	return code;
}

/* it_assert_untouched: no node got a command (log_end 0 in the inventory)
 * and no agent fetched or started anything. */
static void it_assert_untouched(it_fleet *f)
{
	osp_json *nodes = h_ctl_json(f->e, NULL, "nodes", NULL);
	char name[32];

	assert_non_null(nodes);
	for (int i = 0; i < IT_NODES; i++) {
		const osp_json *n = h_node(nodes, it_ids[i]);
		h_proc *p;

		assert_non_null(n);
		assert_int_equal(osp_json_get_int(n, "log_end", -1), 0);
		snprintf(name, sizeof(name), "agent-%s", it_ids[i]);
		assert_non_null(p = h_proc_named(f->e, name));
		assert_false(h_file_contains(p->log, "OSP-REL-FETCHED"));
		assert_false(h_file_contains(p->log, "AGENT-APP-START"));
		assert_false(h_file_contains(p->log, "AGENT-APP-SECRETS"));
		assert_int_equal(h_http_get(f->ports[i], "/", NULL), -1); /* nothing runs */
	}
	osp_json_free(nodes);
}

/* it_assert_no_secret: the value is in no file of the test but the env files
 * (every log, the coordinator's and agents' LMDB files, ospecctl outputs). */
static void it_assert_no_secret(it_fleet *f, const char *when)
{
	char found[512], dir[400];

	if (h_tree_find(f->e->dir, IT_SECRET, f->secrets, found, sizeof(found)))
		fail_msg("%s: the secret's value is in '%s'", when, found);
	/* the scan can find it: the env files hold it */
	assert_true(h_tree_find(f->e->dir, IT_SECRET, NULL, found, sizeof(found)));
	/* and it reads the stores: the coordinator's inventory holds the names */
	snprintf(dir, sizeof(dir), "%s/coord", f->e->dir);
	assert_true(h_tree_find(dir, "NEXTAUTH_SECRET", NULL, found, sizeof(found)));
	assert_non_null(strstr(found, "data.mdb"));
}

static void test_checks_required_secrets(void **state)
{
	it_fleet fleet = { .e = *state }, *f = &fleet;
	char id[64], *err = NULL;
	struct it_names full = { "n2", 2 };
	osp_json *nodes, *list;
	const osp_json *names;

	it_fleet_start(f, false);
	nodes = h_ctl_json(f->e, NULL, "nodes", NULL);
	names = osp_json_get(h_node_app(h_node(nodes, "n1"), "hello"), "env_names");
	assert_string_equal(names->items[0]->str, "DATABASE_URL");
	assert_string_equal(names->items[1]->str, "NEXTAUTH_SECRET");
	osp_json_free(nodes);

	/* (a) n2 lacks one: refused whole, before anything is sent */
	assert_int_equal(h_deploy(f->e, "1", f->url[1], f->sha[1], id, &err, "--require-env",
				 "DATABASE_URL", "--require-env", "NEXTAUTH_SECRET", "--wait", NULL),
		1);
	assert_string_equal(id, "");
	if (err == NULL || strstr(err, "ospecctl: required secrets missing: n2 lacks "
				       "NEXTAUTH_SECRET (app hello's env_file)") == NULL)
		fail_msg("deploy said: %s", err ? err : "(nothing)");
	it_save(f, "refused-stderr", err);
	free(err);
	err = NULL;
	it_assert_untouched(f);
	list = h_ctl_json(f->e, NULL, "rollouts", NULL);
	assert_non_null(list);
	assert_int_equal(list->n, 0); /* nothing stored */
	osp_json_free(list);
	assert_int_equal(it_save_ctl(f, "nodes1", "--json", "nodes", NULL), 0);
	assert_int_equal(it_save_ctl(f, "history1", "--json", "history", NULL), 0);
	it_assert_no_secret(f, "after the refused deploy");

	/* (b) n2 gets it (seen at its next heartbeat): the same deploy succeeds */
	it_env_write(f, 1, true);
	assert_true(h_wait_for(it_names_are, f->e, &full, h_ms(20000)));
	assert_int_equal(h_deploy(f->e, "1", f->url[1], f->sha[1], id, &err, "--require-env",
				 "DATABASE_URL,NEXTAUTH_SECRET", "--batch", "3", "--wait", NULL),
		0);
	free(err);
	osp_json_free(it_succeeded(f, id, "1", "require_env", 2));
	assert_int_equal(it_save_ctl(f, "status", "--json", "status", id, NULL), 0);
	assert_int_equal(it_save_ctl(f, "nodes2", "--json", "nodes", NULL), 0);
	assert_int_equal(it_save_ctl(f, "history2", "--json", "history", NULL), 0);
	it_assert_no_secret(f, "after the deploy");
}

static void test_checks_smoke(void **state)
{
	it_fleet fleet = { .e = *state }, *f = &fleet;
	char id[64], *err = NULL;
	osp_json *st;
	const osp_json *smoke;
	const char *reason;

	it_fleet_start(f, true);
	assert_int_equal(h_deploy(f->e, "1", f->url[1], f->sha[1], id, NULL, "--batch", "3",
				 "--wait", NULL),
		0);
	it_assert_all(f, "1");

	/* (c) a smoke check the new release fails (404): the first node is
	 * reverted, the rollout fails naming the check */
	assert_int_equal(h_deploy(f->e, "2", f->url[2], f->sha[2], id, &err, "--smoke",
				 "GET / 200", "--smoke", "GET /api/ping 200", "--wait", NULL),
		1);
	free(err);
	err = NULL;
	st = h_status(f->e, id);
	assert_non_null(st);
	assert_string_equal(h_str(st, "state"), "failed");
	assert_non_null(strstr(h_str(st, "reason"), "n1"));
	reason = h_str(h_step(st, "n1"), "reason");
	if (strstr(reason, "smoke check GET /api/ping: expected 200, got 404") == NULL)
		fail_msg("n1's reason: %s", reason);
	assert_string_equal(h_str(h_step(st, "n1"), "step"), "reverted");
	assert_string_equal(h_str(h_step(st, "n2"), "step"), "pending");
	osp_json_free(st);
	it_assert_all(f, "1");

	/* (d) checks the release passes: it goes everywhere */
	assert_int_equal(h_deploy(f->e, "2", f->url[2], f->sha[2], id, &err, "--smoke",
				 "GET / 200", "--smoke", "HEAD /health 200", "--batch", "2", "--wait",
				 NULL),
		0);
	free(err);
	st = it_succeeded(f, id, "2", "smoke", 2);
	smoke = osp_json_get(st, "smoke");
	assert_string_equal(h_str(smoke->items[1], "method"), "HEAD");
	assert_string_equal(h_str(smoke->items[1], "path"), "/health");
	assert_int_equal(osp_json_get_int(smoke->items[1], "status", 0), 200);
	osp_json_free(st);
	for (int i = 0; i < IT_NODES; i++) {
		char name[32];
		snprintf(name, sizeof(name), "agent-%s", it_ids[i]);
		assert_true(h_file_contains(h_proc_named(f->e, name)->log, "2 smoke checks passed"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_checks_required_secrets, it_setup, it_teardown),
		cmocka_unit_test_setup_teardown(test_checks_smoke, it_setup, it_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
