/*
 * it_ha.c - highly available coordinators on a real 3-member etcd cluster
 * on loopback (docs/ha.md): two ospec-coordinator processes share the store
 * (--store etcd://...), agents and ospecctl know both. The leader is killed
 * with SIGKILL mid-rolling-deploy and mid-blue-green-switch (before and
 * after the decision): the standby takes over within the lease TTL plus a
 * second, the rollout finishes, every node ends on the recorded decision.
 * etcd members are stopped: one changes nothing; two stop writes with a
 * clear error, and the cluster recovers when they return.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "etcd_fixture.h"
#include "harness.h"
#include "ospec/util.h"

#define HA_NODES 3
#define HA_TTL_MS 3000
#define HA_COORDS 2

typedef struct ha_fleet {
	h_env *e;
	te_cluster etcd;
	char store[400];
	int agents_port[HA_COORDS];
	char ctl[HA_COORDS][320];
	h_proc *coord[HA_COORDS];
	int front[HA_NODES], blue[HA_NODES], green[HA_NODES], port[HA_NODES];
	char url[4][600];
	char sha[4][65];
} ha_fleet;

static const char *const ha_ids[HA_NODES] = { "n1", "n2", "n3" };
static const char *const ha_names[HA_COORDS] = { "ca", "cb" };

static int ha_teardown(void **state)
{
	ha_fleet *f = *state;

	if (f == NULL)
		return 0;
	h_teardown(f->e); /* the coordinators first: they talk to etcd */
	te_stop_all(&f->etcd);
	free(f);
	return 0;
}

/* ha_setup: the env, a 3-member etcd, and the URL lists agents and
 * ospecctl use (every coordinator's). */
static int ha_setup(void **state)
{
	ha_fleet *f = calloc(1, sizeof(*f));
	char dir[400];

	if (f == NULL || (f->e = h_setup("ha")) == NULL) {
		free(f);
		return -1;
	}
	*state = f;
	snprintf(dir, sizeof(dir), "%s/etcd", f->e->dir);
	if (te_start(&f->etcd, 3, dir) != 0) {
		ha_teardown(state);
		return -1;
	}
	snprintf(f->store, sizeof(f->store), "etcd://%s/it-ha", f->etcd.endpoints);
	f->e->agents_url[0] = '\0';
	f->e->ctl_url[0] = '\0';
	for (int k = 0; k < HA_COORDS; k++) {
		size_t n = strlen(f->e->agents_url), m = strlen(f->e->ctl_url);

		f->agents_port[k] = h_free_port();
		snprintf(f->ctl[k], sizeof(f->ctl[k]), "ipc://%s/ctl-%s.sock", f->e->dir, ha_names[k]);
		snprintf(f->e->agents_url + n, sizeof(f->e->agents_url) - n, "%stcp://127.0.0.1:%d",
			k ? "," : "", f->agents_port[k]);
		snprintf(f->e->ctl_url + m, sizeof(f->e->ctl_url) - m, "%s%s", k ? "," : "",
			f->ctl[k]);
	}
	return 0;
}

/* ha_coord starts coordinator k (a crash point, or NULL) without waiting:
 * it campaigns; ha_wait_role waits for its log to say what it became. */
static h_proc *ha_coord(ha_fleet *f, int k, const char *crash)
{
	char data[320], listen[64], http[64], name[32];
	h_proc *p;

	snprintf(data, sizeof(data), "%s/coord-%s", f->e->dir, ha_names[k]);
	snprintf(listen, sizeof(listen), "tcp://127.0.0.1:%d", f->agents_port[k]);
	snprintf(http, sizeof(http), "127.0.0.1:%d", h_free_port());
	snprintf(name, sizeof(name), "coord-%s-%zu", ha_names[k], f->e->nprocs);
	if (crash != NULL)
		setenv("OSPEC_CRASH_POINT", crash, 1);
	p = h_spawn(f->e, name,
		(char *[]){ (char *)h_prog(f->e, "ospec-coordinator"), "--store", f->store, "--name",
			(char *)ha_names[k], "--lease-ttl", "3s", "--data", data, "--listen", listen,
			"--control", f->ctl[k], "--http", http, "--heartbeat", "500ms",
			"--log-level", "debug", NULL });
	unsetenv("OSPEC_CRASH_POINT");
	f->coord[k] = p;
	return p;
}

static bool ha_wait_role(ha_fleet *f, int k, const char *role, int ms)
{
	return h_wait_log(f->coord[k]->log, role, ms);
}

#define HA_LEADS "is the leader"
#define HA_STANDS "is a standby"

/* ha_start: ca leads, cb stands by (cb with a crash point, or NULL). */
static void ha_start(ha_fleet *f, const char *crash_b)
{
	assert_non_null(ha_coord(f, 0, NULL));
	assert_true(ha_wait_role(f, 0, HA_LEADS, h_ms(20000)));
	assert_non_null(ha_coord(f, 1, crash_b));
	assert_true(ha_wait_role(f, 1, HA_STANDS, h_ms(20000)));
	f->e->coord = f->coord[0];
}

/* ha_takeover kills the leader k with SIGKILL (unless it died already, at a
 * crash point) and waits for the other to lead: returns the ms it took. */
static int64_t ha_takeover(ha_fleet *f, int k)
{
	int other = 1 - k;
	int64_t t0 = osp_now_mono_ms(), took;

	if (f->coord[k]->pid > 0) { /* not at a crash point, reaped already */
		kill(f->coord[k]->pid, SIGKILL);
		assert_int_not_equal(h_wait_exit(f->coord[k], h_ms(10000)), -1);
	}
	assert_true(ha_wait_role(f, other, HA_LEADS, h_ms(HA_TTL_MS + 10000)));
	took = osp_now_mono_ms() - t0;
	fprintf(stderr, "it_ha: '%s' took over %lld ms after '%s' died\n", ha_names[other],
		(long long)took, ha_names[k]);
	f->e->coord = f->coord[other];
	return took;
}

static void ha_nodes_up(ha_fleet *f)
{
	assert_true(h_wait_nodes_up(f->e, HA_NODES, h_ms(30000)));
}

/* ha_rolling_fleet: ca leads, cb stands by, an agent per node runs the
 * app on its own port, every node up. */
static void ha_rolling_fleet(ha_fleet *f)
{
	ha_start(f, NULL);
	for (int i = 0; i < HA_NODES; i++) {
		f->port[i] = h_free_port();
		assert_non_null(h_agent_start_app(f->e, ha_ids[i], "role=web", "hello", f->port[i]));
	}
	ha_nodes_up(f);
}

static int ha_done_steps(h_env *e, const char *id)
{
	osp_json *st = h_status(e, id);
	const osp_json *nodes = st != NULL ? osp_json_get(st, "nodes") : NULL;
	int done = 0;

	for (size_t i = 0; nodes != NULL && i < nodes->n; i++)
		done += strcmp(h_str(nodes->items[i], "step"), "succeeded") == 0;
	osp_json_free(st);
	return done;
}

static const char *ha_state(ha_fleet *f, const char *id, char *buf, size_t len)
{
	osp_json *st = h_status(f->e, id);

	osp_strlcpy(buf, st != NULL ? h_str(st, "state") : "?", len);
	osp_json_free(st);
	return buf;
}

static void ha_assert_answers(const int *ports, const char *version)
{
	char got[64];

	for (int i = 0; i < HA_NODES; i++) {
		h_app_answer(ports[i], got, sizeof(got));
		if (strcmp(got, version) != 0)
			fail_msg("%s answers '%s', expected '%s'", ha_ids[i], got, version);
	}
}

/* Rolling: the leader dies after the first node took the new release;
 * the standby leads within the TTL plus a second and finishes the rollout;
 * each node runs the new release exactly once. */
static void test_ha_leader_killed_mid_rolling_deploy(void **state)
{
	ha_fleet *f = *state;
	char id[64], buf[32];
	int64_t took, end;

	ha_rolling_fleet(f);
	assert_true(h_artifact(f->e, "1", NULL, f->url[1], f->sha[1]));
	assert_true(h_artifact(f->e, "2", NULL, f->url[2], f->sha[2]));
	assert_int_equal(h_deploy(f->e, "1", f->url[1], f->sha[1], id, NULL, "--batch", "3",
				 "--wait", NULL), 0);
	ha_assert_answers(f->port, "1");
	assert_int_equal(h_deploy(f->e, "2", f->url[2], f->sha[2], id, NULL, "--batch", "1",
				 "--health-rise", "3", NULL), 0);
	end = osp_now_mono_ms() + h_ms(60000);
	while (ha_done_steps(f->e, id) < 1 && osp_now_mono_ms() < end)
		osp_sleep_ms(20);
	assert_int_equal(ha_done_steps(f->e, id) < HA_NODES, 1); /* mid-rollout */
	took = ha_takeover(f, 0);
	assert_true(took <= HA_TTL_MS + h_ms(1000));
	assert_int_equal(h_ctl(f->e, NULL, NULL, "watch", id, NULL), 0);
	assert_string_equal(ha_state(f, id, buf, sizeof(buf)), "succeeded");
	ha_assert_answers(f->port, "2");
	for (int i = 0; i < HA_NODES; i++) {
		char under[64];

		snprintf(under, sizeof(under), "agent-%s/releases/", ha_ids[i]);
		assert_int_equal(h_count_procs(f->e, under), 1); /* one app, not two */
	}
	/* the killed one comes back as a standby */
	assert_non_null(ha_coord(f, 0, NULL));
	assert_true(ha_wait_role(f, 0, HA_STANDS, h_ms(20000)));
}

/* ha_bg_fleet: haproxy and a blue-green agent per node, v1 deployed by ca;
 * then ca stops (SIGTERM: it resigns) and cb, which carries crash, leads;
 * ca comes back as the standby. */
static void ha_bg_fleet(ha_fleet *f, const char *crash)
{
	char name[16], id[64];

	ha_start(f, crash);
	for (int i = 0; i < HA_NODES; i++) {
		f->front[i] = h_free_port();
		f->blue[i] = h_free_port();
		f->green[i] = h_free_port();
		snprintf(name, sizeof(name), "px%d", i + 1);
		assert_non_null(h_haproxy_start(f->e, name, f->front[i], f->blue[i], f->green[i]));
		assert_non_null(h_agent_start_bg(f->e, ha_ids[i], "role=web", f->blue[i],
			f->green[i], name, NULL));
	}
	ha_nodes_up(f);
	assert_true(h_artifact(f->e, "1", NULL, f->url[1], f->sha[1]));
	assert_true(h_artifact(f->e, "2", NULL, f->url[2], f->sha[2]));
	assert_int_equal(h_deploy_bg(f->e, 1, f->url[1], f->sha[1], f->blue[0], f->green[0], id),
		0);
	ha_assert_answers(f->front, "1");
	/* a clean stop resigns: the standby leads at once, not after the TTL */
	assert_int_equal(h_kill(f->e, f->coord[0], SIGTERM), 0); /* waited for: exit 0 */
	/* unscaled: without the revoke the lease would outlive the exit by at
	 * least 2.25 s (its last keep-alive left at most TTL/4 before it) */
	assert_true(ha_wait_role(f, 1, HA_LEADS, 1500));
	f->e->coord = f->coord[1];
	assert_non_null(ha_coord(f, 0, NULL));
	assert_true(ha_wait_role(f, 0, HA_STANDS, h_ms(20000)));
	ha_nodes_up(f);
}

/* ha_bg_decision returns the decision the store records for rollout id's
 * switch ("commit", "abort"), or "" while there is none. */
static const char *ha_bg_decision(ha_fleet *f, const char *id, char *buf, size_t len)
{
	osp_json *st = h_status(f->e, id);
	const osp_json *sw = st != NULL ? osp_json_get(st, "switches") : NULL;

	osp_strlcpy(buf, sw != NULL && sw->n > 0 ? h_str(sw->items[sw->n - 1], "decision") : "",
		len);
	osp_json_free(st);
	return buf;
}

/* ha_bg_kill: cb leads v2's switch and dies at its crash point; ca takes
 * over within the TTL plus a second, the rollout ends, and every proxy
 * answers what the recorded decision says: v2 after "commit", v1 after
 * "abort". Returns the decision. */
static const char *ha_bg_kill(ha_fleet *f, char *decision, size_t len)
{
	char id[64] = "", ports[64], buf[32];
	h_answers want = { f->front, HA_NODES, NULL };
	int64_t took;

	snprintf(ports, sizeof(ports), "blue=%d,green=%d", f->blue[0], f->green[0]);
	h_deploy(f->e, "2", f->url[2], f->sha[2], id, NULL, "--strategy", "blue_green",
		"--ports", ports, "--batch", "100%", "--watch", "0", NULL);
	assert_true(id[0] != '\0');
	assert_int_not_equal(h_wait_exit(f->coord[1], h_ms(60000)), -1);
	assert_true(h_file_contains(f->coord[1]->log, "OSP-CRASH-POINT"));
	took = ha_takeover(f, 1);
	assert_true(took <= HA_TTL_MS + h_ms(1000));
	h_ctl(f->e, NULL, NULL, "watch", id, NULL);
	assert_true(h_wait_terminal(f->e, id, h_ms(60000), buf, sizeof(buf)));
	ha_bg_decision(f, id, decision, len);
	fprintf(stderr, "it_ha: rollout %s ended %s, decision '%s'\n", id, buf, decision);
	/* "": it ended before a switch was recorded, traffic never moved */
	assert_true(strcmp(decision, "commit") == 0 || strcmp(decision, "abort") == 0 ||
		decision[0] == '\0');
	want.version = strcmp(decision, "commit") == 0 ? "2" : "1";
	assert_true(h_wait_for(h_answers_are, f->e, &want, h_ms(20000)));
	assert_int_equal(strcmp(buf, "succeeded") == 0, strcmp(decision, "commit") == 0);
	return decision;
}

/* Blue-green, after the decision: the leader committed "commit" and died
 * before any node heard it; the new leader sends it, every proxy flips. */
static void test_ha_leader_killed_after_bluegreen_decision(void **state)
{
	ha_fleet *f = *state;
	char decision[16];

	ha_bg_fleet(f, "coordinator-after-decision");
	assert_string_equal(ha_bg_kill(f, decision, sizeof(decision)), "commit");
}

/* Blue-green, before the decision: the leader died before it committed
 * the first prepare result; the new leader finds no decision and settles
 * the switch: every proxy ends on the one release the store records. */
static void test_ha_leader_killed_before_bluegreen_decision(void **state)
{
	ha_fleet *f = *state;
	char decision[16];

	ha_bg_fleet(f, "coordinator-before-result-commit");
	ha_bg_kill(f, decision, sizeof(decision));
}

/* ha_cordon runs "ospecctl cordon NODE" and returns its exit code and
 * stderr (the caller frees it). */
static int ha_cordon(ha_fleet *f, const char *verb, const char *node, char **err)
{
	return h_ctl(f->e, NULL, err, verb, node, NULL);
}

/* etcd members: one stopped changes nothing; two stopped (no quorum) stop
 * every write with a clear error and the leader steps down (exit 75); when
 * they return, the standby leads and writes work again. */
static void test_ha_etcd_members_stopped(void **state)
{
	ha_fleet *f = *state;
	char *err = NULL;
	int st;

	ha_rolling_fleet(f);
	assert_int_equal(te_stop_member(&f->etcd, 2), 0);
	assert_int_equal(ha_cordon(f, "cordon", "n1", NULL), 0);
	assert_int_equal(ha_cordon(f, "uncordon", "n1", NULL), 0);
	osp_sleep_ms(HA_TTL_MS + 500); /* a lease outliving one member's loss */
	assert_true(h_file_contains(f->coord[0]->log, "COORD-LEADER-LOST") == false);
	assert_int_equal(te_stop_member(&f->etcd, 1), 0);
	assert_int_not_equal(ha_cordon(f, "cordon", "n2", &err), 0);
	fprintf(stderr, "it_ha: a write without etcd quorum: %s", err ? err : "(no stderr)\n");
	assert_non_null(err);
	assert_true(strlen(err) > 0);
	free(err);
	err = NULL;
	st = h_wait_exit(f->coord[0], h_ms(HA_TTL_MS + 15000));
	assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 75);
	assert_true(h_file_contains(f->coord[0]->log, "COORD-LEADER-LOST"));
	assert_int_not_equal(ha_cordon(f, "cordon", "n2", &err), 0);
	fprintf(stderr, "it_ha: a write with no leader: %s", err ? err : "(no stderr)\n");
	free(err);
	assert_int_equal(te_start_member(&f->etcd, 1), 0);
	assert_int_equal(te_start_member(&f->etcd, 2), 0);
	assert_int_equal(te_wait_quorum(&f->etcd, h_ms(30000)), 0);
	assert_true(ha_wait_role(f, 1, HA_LEADS, h_ms(30000)));
	f->e->coord = f->coord[1];
	assert_int_equal(ha_cordon(f, "cordon", "n2", NULL), 0);
	ha_nodes_up(f);
}

/* A leader paused (SIGSTOP: a stopped VM, a long stall) loses its lease;
 * the standby leads and writes. Resumed, the old leader finds its lease
 * gone and stops (exit 75) without undoing anything: the standby's write
 * stands and it keeps the fleet. */
static void test_ha_paused_leader_stops(void **state)
{
	ha_fleet *f = *state;
	osp_json *nodes;
	int st;

	ha_rolling_fleet(f);
	assert_int_equal(kill(f->coord[0]->pid, SIGSTOP), 0);
	assert_true(ha_wait_role(f, 1, HA_LEADS, h_ms(HA_TTL_MS + 10000)));
	f->e->coord = f->coord[1];
	assert_int_equal(ha_cordon(f, "cordon", "n1", NULL), 0);
	assert_int_equal(kill(f->coord[0]->pid, SIGCONT), 0);
	st = h_wait_exit(f->coord[0], h_ms(HA_TTL_MS + 5000));
	assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 75);
	assert_true(h_file_contains(f->coord[0]->log, "COORD-LEADER-LOST"));
	ha_nodes_up(f);
	nodes = h_ctl_json(f->e, &st, "nodes", NULL);
	assert_int_equal(st, 0);
	assert_non_null(nodes);
	assert_true(osp_json_get(h_node(nodes, "n1"), "cordoned")->b);
	osp_json_free(nodes);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ha_leader_killed_mid_rolling_deploy, ha_setup,
			ha_teardown),
		cmocka_unit_test_setup_teardown(test_ha_leader_killed_after_bluegreen_decision,
			ha_setup, ha_teardown),
		cmocka_unit_test_setup_teardown(test_ha_leader_killed_before_bluegreen_decision,
			ha_setup, ha_teardown),
		cmocka_unit_test_setup_teardown(test_ha_etcd_members_stopped, ha_setup, ha_teardown),
		cmocka_unit_test_setup_teardown(test_ha_paused_leader_stops, ha_setup, ha_teardown),
	};

	if (argc > 1) /* it_ha test_ha_etcd_* runs the tests that match */
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
