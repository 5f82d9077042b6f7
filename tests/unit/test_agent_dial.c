/*
 * test_agent_dial.c - the agent's way back to a lost coordinator
 * (node-agent/agent_dial.c): the pause before each attempt is bounded and
 * jittered (agent_reconnect_delay), and a real agent whose coordinator went
 * away for a while registers again within one spread window once it is
 * back, dialing on its own (nng's growing back-off once made that 15-32 s
 * for a fleet of 200; docs/benchmarks.md, "Restart").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent.h"
#include "ospec/util.h"
#include "ospec/wire.h"
#include "test_support.h"
#include "test_support_agent.h"

/* the cap agent_reconnect_delay promises for a coordinator away away_ms */
static int64_t dial_cap(int64_t away_ms)
{
	int64_t cap = away_ms / AGENT_RECONNECT_AWAY_DIV;

	if (cap < AGENT_RECONNECT_SPREAD_MS)
		cap = AGENT_RECONNECT_SPREAD_MS;
	return cap > AGENT_RECONNECT_MAX_MS ? AGENT_RECONNECT_MAX_MS : cap;
}

/* Every pause is in [0, cap): the extremes of the random number and of the
 * time away included (a clock that went far, a negative one). */
static void test_agent_dial_delay_bounded(void **state)
{
	static const int64_t away[] = { -5000, 0, 1, 999, 2000, 16000, 16001, 60000, 240000,
		3600000, INT64_MAX / 2, INT64_MAX };
	static const uint32_t rnd[] = { 0, 1, 1999, 2000, 7499, 29999, 30000, 0x7fffffffu,
		0x80000000u, UINT32_MAX };

	(void)state;
	for (size_t i = 0; i < sizeof(away) / sizeof(away[0]); i++) {
		int64_t cap = dial_cap(away[i] > 0 ? away[i] : 0);
		for (size_t k = 0; k < sizeof(rnd) / sizeof(rnd[0]); k++) {
			int64_t d = agent_reconnect_delay(away[i], rnd[k]);
			if (d < 0 || d >= cap)
				fail_msg("away %lld ms, rnd %u: %lld ms outside [0, %lld)",
					(long long)away[i], rnd[k], (long long)d, (long long)cap);
		}
	}
	/* a restart (away less than 8 spreads) is always retried within the
	 * spread, however long the agent kept trying */
	assert_true(agent_reconnect_delay(16000, UINT32_MAX) < AGENT_RECONNECT_SPREAD_MS);
	assert_true(agent_reconnect_delay(INT64_MAX, UINT32_MAX) < AGENT_RECONNECT_MAX_MS);
	assert_true(AGENT_RECONNECT_MAX_MS <= 30000); /* never the old 30 s-per-doubling tail */
}

/* sample draws n pauses at away_ms with real randomness: min, max, mean. */
static void sample(int64_t away_ms, int n, int64_t *min, int64_t *max, double *mean)
{
	double sum = 0;

	*min = INT64_MAX;
	*max = -1;
	for (int i = 0; i < n; i++) {
		uint32_t r = 0;
		int64_t d;

		assert_int_equal(osp_random_bytes(&r, sizeof(r)), OSP_OK);
		d = agent_reconnect_delay(away_ms, r);
		*min = d < *min ? d : *min;
		*max = d > *max ? d : *max;
		sum += (double)d;
	}
	*mean = sum / n;
}

/* A fleet that lost its coordinator spreads over the whole window: not all
 * at once (no thundering herd), not bunched at one end. */
static void test_agent_dial_delay_jittered(void **state)
{
	int64_t min, max;
	double mean;

	(void)state;
	sample(0, 4000, &min, &max, &mean);
	print_message("just lost: %lld..%lld ms, mean %.0f\n", (long long)min, (long long)max,
		mean);
	assert_true(min < AGENT_RECONNECT_SPREAD_MS / 20);
	assert_true(max > AGENT_RECONNECT_SPREAD_MS * 19 / 20);
	assert_true(mean > AGENT_RECONNECT_SPREAD_MS * 0.4 && mean < AGENT_RECONNECT_SPREAD_MS * 0.6);
}

/* Away longer, tried less often: the window is an eighth of the time away,
 * up to AGENT_RECONNECT_MAX_MS. */
static void test_agent_dial_delay_grows(void **state)
{
	int64_t min, max;
	double mean;

	(void)state;
	sample(60000, 4000, &min, &max, &mean); /* a minute: 7.5 s */
	assert_true(max < 7500 && max > 7000);
	sample(3600000, 4000, &min, &max, &mean); /* an hour: the cap */
	assert_true(max < AGENT_RECONNECT_MAX_MS && max > AGENT_RECONNECT_MAX_MS * 0.95);
	assert_true(mean > AGENT_RECONNECT_MAX_MS * 0.4);
}

/* dial_coord_start starts the real ospec-coordinator on data and url (its
 * output appended to log). */
static pid_t dial_coord_start(const char *data, const char *url, const char *ctl,
	const char *log)
{
	char *argv[] = { OSPEC_BINARY_DIR "/coordinator/ospec-coordinator", "--data",
		(char *)data, "--listen", (char *)url, "--control", (char *)ctl, "--http", "off",
		NULL };
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(127);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* dial_wait_registered waits up to ms for a's registered flag to be want;
 * returns the ms it took, or -1. */
static int64_t dial_wait_registered(agent *a, bool want, int64_t ms)
{
	int64_t t0 = osp_now_mono_ms();

	while (osp_now_mono_ms() - t0 < ms) {
		if (atomic_load(&a->registered) == want)
			return osp_now_mono_ms() - t0;
		osp_sleep_ms(10);
	}
	return -1;
}

/* The live test's processes and files, cleaned up by its teardown even
 * when an assert failed half-way. */
typedef struct dial_fx {
	char root[64], st[128], data[128], ctl[160], log[128], url[64], id[16];
	agent_cfg cfg;
	agent *a;
	pid_t coord;
} dial_fx;

static int dial_setup(void **state)
{
	dial_fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	ts_mkdtemp(f->root, sizeof(f->root), "/tmp/test_agent_dial-XXXXXX");
	snprintf(f->st, sizeof(f->st), "%s/state", f->root);
	snprintf(f->data, sizeof(f->data), "%s/data", f->root);
	snprintf(f->ctl, sizeof(f->ctl), "ipc://%s/ctl.sock", f->root);
	snprintf(f->log, sizeof(f->log), "%s/coordinator.log", f->root);
	snprintf(f->url, sizeof(f->url), "tcp://127.0.0.1:%u", ts_free_port());
	snprintf(f->id, sizeof(f->id), "node-1");
	f->cfg.id = f->id;
	f->cfg.state = f->st;
	f->cfg.coordinator = f->url;
	f->cfg.keep_releases = 5;
	*state = f;
	return mkdir(f->st, 0700);
}

static int dial_teardown(void **state)
{
	dial_fx *f = *state;
	int status;

	if (f->a != NULL) {
		agent_stop(f->a);
		agent_free(f->a);
	}
	if (f->coord > 0) {
		kill(f->coord, SIGKILL);
		waitpid(f->coord, &status, 0);
	}
	ts_rmtree(f->root);
	free(f);
	return 0;
}

/* A real agent (session thread, agent_dial) whose coordinator is killed
 * (kill -9) and comes back 4 s later, every dial refused meanwhile, is
 * registered again within one spread window of the restart. */
static void test_agent_dial_back_after_outage(void **state)
{
	dial_fx *f = *state;
	int64_t took;
	int status;

	f->coord = dial_coord_start(f->data, f->url, f->ctl, f->log);
	f->a = ts_agent_alloc(&f->cfg);
	assert_int_equal(agent_start(f->a), OSP_OK);
	took = dial_wait_registered(f->a, true, 15000);
	print_message("registered after %lld ms\n", (long long)took);
	assert_true(took >= 0);
	osp_sleep_ms(500); /* its poll is held */

	assert_int_equal(kill(f->coord, SIGKILL), 0);
	assert_int_equal(waitpid(f->coord, &status, 0), f->coord);
	f->coord = 0;
	osp_sleep_ms(4000); /* every dial refused meanwhile */
	assert_false(agent_dial_connected(f->a));
	assert_false(atomic_load(&f->a->registered));

	f->coord = dial_coord_start(f->data, f->url, f->ctl, f->log);
	took = dial_wait_registered(f->a, true, 30000);
	print_message("registered again %lld ms after the restart\n", (long long)took);
	assert_true(took >= 0);
	/* the coordinator's start, a pause of at most the spread, the dial and
	 * two round trips (before: nng's doubled back-off, often 5-30 s) */
	assert_true(took < AGENT_RECONNECT_SPREAD_MS + 3000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agent_dial_delay_bounded),
		cmocka_unit_test(test_agent_dial_delay_jittered),
		cmocka_unit_test(test_agent_dial_delay_grows),
		cmocka_unit_test_setup_teardown(test_agent_dial_back_after_outage, dial_setup,
			dial_teardown),
	};

	osp_log_setup(OSP_LOG_ERROR, OSP_LOG_TEXT, "test_agent_dial", NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
