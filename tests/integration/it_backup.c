/*
 * it_backup.c - `ospecctl backup FILE` and `ospec-coordinator --restore FILE`
 * with real processes (docs/backup.md): a backup taken mid-rollout, the
 * coordinator killed after it went further, a new coordinator restored from
 * the backup into a new data dir on the same ports: the rollout resumes and
 * succeeds, every node runs the new version, no app was started twice. And
 * the refusals: a backup onto an existing file, by a viewer; a restore into
 * a non-empty data dir (unless --force-restore, which moves it aside), of a
 * garbage file.
 */
#include <dirent.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "ospec/util.h"

#define IT_NODES 3

static const char *const it_ids[IT_NODES] = { "n1", "n2", "n3" };

static int it_setup(void **state)
{
	return h_env_fixture_setup(state, "backup");
}

/* it_steps counts the steps of rollout id in state st. */
struct it_steps {
	const char *id;
	const char *state;
	int want;
};

static int it_count_steps(h_env *e, const char *id, const char *st)
{
	osp_json *s = h_status(e, id);
	const osp_json *nodes = s ? osp_json_get(s, "nodes") : NULL;
	int n = 0;

	for (size_t i = 0; nodes != NULL && i < nodes->n; i++)
		n += strcmp(h_str(nodes->items[i], "step"), st) == 0;
	osp_json_free(s);
	return n;
}

static bool it_steps_at_least(h_env *e, void *arg)
{
	struct it_steps *w = arg;

	return it_count_steps(e, w->id, w->state) >= w->want;
}

/* it_count_in counts needle in the file at path. */
static int it_count_in(const char *path, const char *needle)
{
	char *data = NULL, *p;
	size_t len = 0;
	int n = 0;

	if (osp_file_read(path, 64 * 1024 * 1024, &data, &len) != OSP_OK)
		return -1;
	for (p = data; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	free(data);
	return n;
}

/* it_fleet starts a coordinator and IT_NODES agents with hello on ports. */
static void it_fleet(h_env *e, int ports[IT_NODES])
{
	assert_non_null(h_coord_start(e, "500ms", NULL));
	for (int i = 0; i < IT_NODES; i++) {
		ports[i] = h_free_port();
		assert_non_null(h_agent_start_app(e, it_ids[i], "role=web", "hello", ports[i]));
	}
	assert_true(h_wait_nodes_up(e, IT_NODES, h_ms(20000)));
}

static void test_backup_restore_mid_rollout(void **state)
{
	h_env *e = *state;
	static const char *const slow[] = { "START_DELAY=2500", NULL };
	int ports[IT_NODES];
	char url1[600], sha1[65], url2[600], sha2[65], id[64], st[32], file[400], newdir[400];
	char needle[128], got[64], *out = NULL, *err = NULL;
	struct it_steps staging = { NULL, "staging", 1 }, done = { NULL, "done", 2 };

	it_fleet(e, ports);
	assert_true(h_artifact(e, "1", NULL, url1, sha1));
	assert_true(h_artifact(e, "2", slow, url2, sha2));
	assert_int_equal(h_deploy(e, "1", url1, sha1, id, NULL, "--batch", "3", "--wait",
				 "--timeout", "60s", NULL), 0);

	/* v2 one node at a time, each start taking 2.5 s */
	assert_int_equal(h_deploy(e, "2", url2, sha2, id, NULL, "--batch", "1", NULL), 0);
	staging.id = done.id = id;
	assert_true(h_wait_for(it_steps_at_least, e, &staging, h_ms(20000)));
	assert_int_equal(it_count_steps(e, id, "done"), 0);
	snprintf(file, sizeof(file), "%s/mid-rollout.mdb", e->dir);
	assert_int_equal(h_ctl(e, &out, &err, "backup", file, NULL), 0);
	assert_non_null(strstr(out, "backup written to"));
	assert_non_null(strstr(out, file));
	assert_non_null(strstr(out, "store schema 2"));
	free(out);
	free(err);
	out = err = NULL;

	/* the coordinator goes further than the backup (two nodes done: results
	 * it acknowledged), then dies */
	assert_true(h_wait_for(it_steps_at_least, e, &done, h_ms(30000)));
	assert_true(h_kill(e, e->coord, SIGKILL) >= 0);

	/* a new coordinator, restored into a new data dir, on the same ports */
	snprintf(newdir, sizeof(newdir), "%s/restored", e->dir);
	{
		char *extra[] = { "--data", newdir, "--restore", file, NULL };
		assert_non_null(h_coord_start(e, "500ms", extra));
	}
	assert_true(h_file_contains(e->coord->log, "COORD-RESTORE"));
	assert_true(h_wait_terminal(e, id, h_ms(60000), st, sizeof(st)));
	assert_string_equal(st, "succeeded");
	assert_int_equal(it_count_steps(e, id, "done"), IT_NODES);
	for (int i = 0; i < IT_NODES; i++) {
		h_app_answer(ports[i], got, sizeof(got));
		assert_string_equal(got, "2");
	}
	/* the node that finished after the backup had its stage sent again (its
	 * result was acknowledged by the lost coordinator): it converged */
	assert_true(h_file_contains(e->coord->log, "COORD-RESENT"));
	/* nothing ran twice: every node started version 2 exactly once */
	snprintf(needle, sizeof(needle), "app 'hello' version '2' started");
	for (int i = 0; i < IT_NODES; i++) {
		char name[32];
		h_proc *a;

		snprintf(name, sizeof(name), "agent-%s", it_ids[i]);
		assert_non_null(a = h_proc_named(e, name));
		if (it_count_in(a->log, needle) != 1)
			fail_msg("%s started version 2 %d times (want 1)", it_ids[i],
				it_count_in(a->log, needle));
	}
}

/* it_coord_run runs ospec-coordinator with args to its end (a refusal) and
 * checks its exit code and stderr. */
static void it_coord_refused(h_env *e, int code, const char *msg, const char *data,
	const char *file, const char *flag)
{
	char *out = NULL, *err = NULL;
	char *argv[] = { (char *)h_bin("ospec-coordinator"), "--data", (char *)data, "--listen",
		e->agents_url, "--control", e->ctl_url, "--http", e->http, "--restore",
		(char *)file, (char *)flag, NULL };
	int got = h_run(argv, h_ms(10000), &out, &err);

	if (got != code || strstr(err ? err : "", msg) == NULL)
		fail_msg("--restore '%s' into '%s': exit %d (want %d), stderr '%s' (want '%s')", file,
			data, got, code, err ? err : "", msg);
	free(out);
	free(err);
}

static void test_backup_refusals(void **state)
{
	h_env *e = *state;
	char file[400], garbage[400], data[400], moved[600] = "", *out = NULL, *err = NULL;
	struct dirent *de;
	DIR *d;
	FILE *fp;

	assert_non_null(h_coord_start(e, "500ms", NULL));
	snprintf(file, sizeof(file), "%s/b.mdb", e->dir);
	assert_int_equal(h_ctl(e, &out, &err, "backup", file, NULL), 0);
	free(out);
	free(err);
	/* never onto an existing file */
	assert_int_equal(h_ctl(e, &out, &err, "backup", file, NULL), 1);
	assert_non_null(strstr(err, "exists: a backup never replaces a file"));
	free(out);
	free(err);
	assert_int_equal(h_ctl(e, &out, &err, "backup", NULL), 2);
	free(out);
	free(err);
	assert_true(h_kill(e, e->coord, SIGTERM) >= 0);

	/* the data dir in use (not empty) */
	snprintf(data, sizeof(data), "%s/coord", e->dir);
	it_coord_refused(e, 2, "is not empty", data, file, NULL);
	/* garbage, and a file that is not there */
	snprintf(garbage, sizeof(garbage), "%s/garbage.mdb", e->dir);
	assert_non_null(fp = fopen(garbage, "w"));
	for (int i = 0; i < 2000; i++)
		fputs("not an lmdb file ", fp);
	fclose(fp);
	snprintf(data, sizeof(data), "%s/fresh", e->dir);
	it_coord_refused(e, 2, "not an LMDB store file", data, garbage, NULL);
	assert_int_not_equal(access(data, F_OK), 0); /* nothing made */
	it_coord_refused(e, 2, "cannot open", data, "/nonexistent/b.mdb", NULL);

	/* --force-restore moves the old data dir aside and starts */
	snprintf(data, sizeof(data), "%s/coord", e->dir);
	{
		char *extra[] = { "--restore", file, "--force-restore", NULL };
		assert_non_null(h_coord_start(e, "500ms", extra));
	}
	assert_non_null(d = opendir(e->dir));
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, "coord.before-restore-", 21) == 0)
			snprintf(moved, sizeof(moved), "%s/%s/data.mdb", e->dir, de->d_name);
	closedir(d);
	assert_true(moved[0] != '\0');
	assert_int_equal(access(moved, F_OK), 0);
	assert_int_equal(h_nodes_up(e), 0);
}

/* a viewer may not take a backup; an admin may (over tls+tcp://, with an
 * absolute path on the coordinator's machine) */
static void test_backup_viewer_refused(void **state)
{
	h_env *e = *state;
	char url[64], cfg[400], file[400], *out = NULL, *err = NULL;
	char *extra[] = { "-c", cfg, "--control-tls", url, NULL };
	struct stat st;

	snprintf(url, sizeof(url), "tls+tcp://127.0.0.1:%d", h_free_port());
	assert_int_equal(h_certs(e, "init", "pki", NULL), 0);
	assert_int_equal(h_certs(e, "issue", "pki", "--coordinator", "127.0.0.1", NULL), 0);
	assert_int_equal(h_certs(e, "issue", "pki", "--admin", "alice", NULL), 0);
	assert_int_equal(h_certs(e, "issue", "pki", "--viewer", "bob", NULL), 0);
	assert_true(h_tls_yaml(e, "coordinator.yaml", "pki", "pki", "127.0.0.1", NULL, cfg,
		sizeof(cfg)));
	assert_non_null(h_coord_start(e, "500ms", extra));

	snprintf(file, sizeof(file), "%s/by-bob.mdb", e->dir);
	assert_int_equal(h_ctl_as(e, url, "bob", &out, &err, "backup", file, NULL), 1);
	assert_non_null(strstr(err, "role 'viewer' may not run 'backup'"));
	assert_int_not_equal(stat(file, &st), 0);
	free(out);
	free(err);
	/* a relative path means nothing to a remote coordinator */
	assert_int_equal(h_ctl_as(e, url, "alice", &out, &err, "backup", "rel.mdb", NULL), 2);
	assert_non_null(strstr(err, "absolute path"));
	free(out);
	free(err);
	snprintf(file, sizeof(file), "%s/by-alice.mdb", e->dir);
	assert_int_equal(h_ctl_as(e, url, "alice", &out, &err, "backup", file, NULL), 0);
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_true(h_file_contains(e->coord->log, "cert:alice: copying the store"));
	free(out);
	free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_backup_restore_mid_rollout, it_setup,
			h_env_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_backup_refusals, it_setup,
			h_env_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_backup_viewer_refused, it_setup,
			h_env_fixture_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
