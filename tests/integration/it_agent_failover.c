/*
 * it_agent_failover.c - an agent given several coordinator URLs follows the
 * one that serves (issue 15: only the leader of a highly available
 * coordinator listens for agents). Real processes: one ospec-agent with
 * "--coordinator A,B", coordinators started and killed (kill -9) under it.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "harness.h"
#include "ospec/util.h"

/* How long after the next coordinator is ready the node may take to be up
 * there: the agent's pause once a round over both URLs failed (below 2 s
 * while the coordinator has been away less than 16 s), the dial, the
 * register and ospecctl's view of it. */
#define IT_FAILOVER_UP_MS 5000
/* The agent's pause before it dials the next URL after losing a leader that
 * served a second or more (AGENT_FOLLOW_SWITCH_MS): less than this. */
#define IT_FAILOVER_SWITCH_MS 300

typedef struct it_fx {
	h_env *e;
	char url_a[64], url_b[64], urls[160];
	h_proc *agent;
} it_fx;

static int it_setup(void **state)
{
	it_fx *f;

	if (h_fixture_setup(state, sizeof(it_fx), "agent_failover") != 0)
		return -1;
	f = *state;
	snprintf(f->url_a, sizeof(f->url_a), "tcp://127.0.0.1:%d", h_free_port());
	snprintf(f->url_b, sizeof(f->url_b), "%s", f->e->agents_url);
	snprintf(f->urls, sizeof(f->urls), "%s,%s", f->url_a, f->url_b);
	return 0;
}

/* it_coord_on starts a coordinator listening for agents on url with its
 * own fresh data dir DIR/coord-<name> (a standby that took over, as far as
 * the agent can tell) and the config file cfg (NULL: none); waits until it
 * is ready. */
static h_proc *it_coord_on(it_fx *f, const char *url, const char *name, char *cfg)
{
	char data[320];
	char *extra[] = { "--data", data, cfg != NULL ? "-c" : NULL, cfg, NULL };

	snprintf(data, sizeof(data), "%s/coord-%s", f->e->dir, name);
	osp_strlcpy(f->e->agents_url, url, sizeof(f->e->agents_url));
	return h_coord_start(f->e, "500ms", extra);
}

/* it_agent_alive fails the test if the agent exited. */
static void it_agent_alive(it_fx *f)
{
	int st = 0;

	if (waitpid(f->agent->pid, &st, WNOHANG) != 0)
		fail_msg("the agent exited (status 0x%x); log: %s", st, f->agent->log);
}

/* it_kill_coord kills the running coordinator (kill -9: no goodbye). */
static void it_kill_coord(it_fx *f)
{
	assert_non_null(f->e->coord);
	h_kill(f->e, f->e->coord, SIGKILL);
	f->e->coord = NULL;
}

/* it_up_on waits until the node is up at the coordinator just started on
 * url and the agent's log says it registered there; returns the ms it took
 * from ready_at. */
static int64_t it_up_on(it_fx *f, const char *url, int64_t ready_at)
{
	char needle[128];
	int64_t took;

	if (!h_wait_nodes_up(f->e, 1, h_ms(IT_FAILOVER_UP_MS)))
		fail_msg("node not up at '%s' within %d ms; agent log: %s", url,
			h_ms(IT_FAILOVER_UP_MS), f->agent->log);
	took = osp_now_mono_ms() - ready_at;
	snprintf(needle, sizeof(needle), "registered with '%s'", url);
	assert_true(h_wait_log(f->agent->log, needle, h_ms(2000)));
	it_agent_alive(f);
	return took;
}

/* it_switch_pause reads the pause the agent announced after losing the
 * session with from ("session with 'FROM' lost ...; registering with 'TO'
 * in N ms"); -1 when the line is not there (yet). */
static long it_switch_pause(it_fx *f, const char *from, const char *to)
{
	char head[160], tail[160], *log = NULL;
	const char *at, *in;
	size_t len = 0;
	long ms = -1;

	snprintf(head, sizeof(head), "session with '%s' lost", from);
	snprintf(tail, sizeof(tail), "registering with '%s' in ", to);
	if (osp_file_read(f->agent->log, 1 << 20, &log, &len) != OSP_OK)
		return -1;
	at = strstr(log, head);
	in = at != NULL ? strstr(at, tail) : NULL;
	if (in != NULL)
		ms = strtol(in + strlen(tail), NULL, 10);
	free(log);
	return ms;
}

/* Only B serves: the node comes up on B. B dies (kill -9) and a coordinator
 * with a fresh store starts on A: the node registers on A within a few
 * seconds; then A dies and B is back: it goes back to B. The agent never
 * exits and logs each move naming both URLs. */
static void test_agent_failover_follows_the_leader(void **state)
{
	it_fx *f = *state;
	static const char *const ids[] = { "n1" };
	char *extra[] = { "--coordinator", f->urls, NULL };
	char needle[256];
	int64_t ready_at, took;
	long pause;

	assert_non_null(it_coord_on(f, f->url_b, "b1", NULL));
	f->agent = h_agent_start(f->e, "n1", "role=web", extra);
	assert_non_null(f->agent);
	took = it_up_on(f, f->url_b, osp_now_mono_ms());
	print_message("up on B (A dead) after %lld ms\n", (long long)took);
	/* it tried A first, found nobody, moved on to B */
	snprintf(needle, sizeof(needle), "cannot register with '%s' (attempt 1): cannot connect: "
		"Connection refused; next try with '%s'", f->url_a, f->url_b);
	assert_true(h_file_contains(f->agent->log, needle));

	/* a live leader: its session has lasted more than a second (the time
	 * is the condition here, so it is waited for; and it still beats) */
	osp_sleep_ms(1500);
	assert_true(h_wait_beats(f->e, ids, 1, 1, h_ms(5000)));
	it_kill_coord(f);
	/* the next URL at once: the takeover is not held up by the agent */
	snprintf(needle, sizeof(needle), "registering with '%s' in", f->url_a);
	assert_true(h_wait_log(f->agent->log, needle, h_ms(5000)));
	pause = it_switch_pause(f, f->url_b, f->url_a);
	print_message("moved on to A after a pause of %ld ms\n", pause);
	assert_true(pause >= 0 && pause < IT_FAILOVER_SWITCH_MS);
	assert_non_null(it_coord_on(f, f->url_a, "a", NULL));
	ready_at = osp_now_mono_ms();
	took = it_up_on(f, f->url_a, ready_at);
	print_message("up on A %lld ms after it was ready\n", (long long)took);

	it_kill_coord(f);
	assert_non_null(it_coord_on(f, f->url_b, "b2", NULL));
	took = it_up_on(f, f->url_b, osp_now_mono_ms());
	print_message("back on B %lld ms after it was ready\n", (long long)took);
	it_agent_alive(f);
}

/* With TLS the certificate of each coordinator is checked against the host
 * name of the URL dialled: A (tls+tcp://localhost:PORT, nobody there) comes
 * first, the coordinator on B (tls+tcp://127.0.0.1:PORT) has a certificate
 * for 127.0.0.1 only, not for localhost. The node comes up on B. */
static void test_agent_failover_tls_host_per_url(void **state)
{
	it_fx *f = *state;
	char coord_cfg[400], agent_cfg[400], needle[160];
	/* the harness's --coordinator is overridden by a later one */
	char *extra[] = { "-c", agent_cfg, "--coordinator", f->urls, NULL };

	assert_int_equal(h_certs(f->e, "init", "pki", NULL), 0);
	assert_int_equal(h_certs(f->e, "issue", "pki", "--coordinator", "127.0.0.1", NULL), 0);
	assert_int_equal(h_certs(f->e, "issue", "pki", "--node", "n1", NULL), 0);
	assert_true(h_tls_yaml(f->e, "coordinator.yaml", "pki", "pki", "127.0.0.1", NULL, coord_cfg,
		sizeof(coord_cfg)));
	snprintf(f->url_a, sizeof(f->url_a), "tls+tcp://localhost:%d", h_free_port());
	h_use_tls(f->e);
	snprintf(f->url_b, sizeof(f->url_b), "%s", f->e->agents_url);
	snprintf(f->urls, sizeof(f->urls), "%s,%s", f->url_a, f->url_b);
	assert_true(h_tls_yaml(f->e, "agent.yaml", "pki", "pki", "n1", NULL, agent_cfg,
		sizeof(agent_cfg)));

	assert_non_null(it_coord_on(f, f->url_b, "b", coord_cfg));
	f->agent = h_agent_start(f->e, "n1", NULL, extra);
	assert_non_null(f->agent);
	it_up_on(f, f->url_b, osp_now_mono_ms());
	snprintf(needle, sizeof(needle), "TLS connection to '%s' verified", f->url_b);
	assert_true(h_file_contains(f->agent->log, needle));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_agent_failover_follows_the_leader, it_setup,
			h_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_agent_failover_tls_host_per_url, it_setup,
			h_fixture_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
