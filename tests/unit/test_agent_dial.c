/*
 * test_agent_dial.c - the agent's way back to a lost coordinator
 * (node-agent/agent_dial.c): the pause before each attempt is bounded and
 * jittered (agent_reconnect_delay), and a real agent whose coordinator went
 * away for a while registers again within one spread window once it is
 * back, dialing on its own (nng's growing back-off once made that 15-32 s
 * for a fleet of 200; docs/benchmarks.md, "Restart").
 *
 * With several coordinator URLs (issue 15, highly available coordinators)
 * the agent moves on round robin (agent_follow), and a coordinator that
 * answers "not the leader" sends it on to the next URL, where it registers.
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
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

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

/* Round robin: each failure moves to the next URL; a round is over once
 * every URL failed in a row; a register starts a new round from where the
 * agent is. One URL: every failure is a round, the URL stays. */
static void test_agent_dial_follow_order(void **state)
{
	static const size_t want_at[] = { 1, 2, 0, 1, 2, 0 };
	static const bool want_round[] = { false, false, true, false, false, true };
	agent_follow f;

	(void)state;
	agent_follow_init(&f, 3);
	assert_int_equal(f.at, 0);
	for (size_t i = 0; i < 6; i++) {
		bool round = agent_follow_failed(&f);
		if (f.at != want_at[i] || round != want_round[i])
			fail_msg("failure %zu: at %zu (want %zu), round %d (want %d)", i + 1, f.at,
				want_at[i], round, want_round[i]);
	}
	/* 0 failed, registered at 1: the next round is 3 failures from there */
	assert_false(agent_follow_failed(&f));
	agent_follow_ok(&f);
	assert_int_equal(f.at, 1);
	assert_false(agent_follow_failed(&f));
	assert_false(agent_follow_failed(&f));
	assert_true(agent_follow_failed(&f));
	assert_int_equal(f.at, 1);

	agent_follow_init(&f, 1);
	for (int i = 0; i < 3; i++) {
		assert_true(agent_follow_failed(&f));
		assert_int_equal(f.at, 0);
	}
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

/* dial_wait_listening waits up to ms until something accepts TCP
 * connections at url (tcp://127.0.0.1:PORT). */
static bool dial_wait_listening(const char *url, int64_t ms)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int64_t t0 = osp_now_mono_ms();

	sa.sin_port = htons((uint16_t)atoi(strrchr(url, ':') + 1));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	while (osp_now_mono_ms() - t0 < ms) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int rv = fd >= 0 ? connect(fd, (struct sockaddr *)&sa, sizeof(sa)) : -1;

		if (fd >= 0)
			close(fd);
		if (rv == 0)
			return true;
		osp_sleep_ms(20);
	}
	return false;
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
	char standby[64], urls[160];
	agent_cfg cfg;
	agent *a;
	pid_t coord;
	nng_socket rep;  /* a coordinator that is not the leader (dial_standby) */
	pthread_t rep_thread;
	bool rep_started;
	atomic_int rep_seen; /* requests it answered */
} dial_fx;

/* dial_fx_urls gives f's agent the coordinator URLs text (as the config's
 * "URL,URL"). */
static void dial_fx_urls(dial_fx *f, const char *text)
{
	char err[256] = "";

	snprintf(f->urls, sizeof(f->urls), "%s", text);
	for (size_t i = 0; i < f->cfg.ncoordinators; i++)
		free(f->cfg.coordinators[i]);
	f->cfg.ncoordinators = 0;
	f->cfg.coordinator = f->urls;
	if (agent_cfg_coordinators(&f->cfg, err, sizeof(err)) != OSP_OK)
		fail_msg("%s: %s", text, err);
}

/* dial_standby_main answers every request with Error{ERR_NOT_LEADER}, as a
 * coordinator that lost (or never had) the leadership. */
static void *dial_standby_main(void *arg)
{
	dial_fx *f = arg;

	for (;;) {
		Ospec__V1__Error e;
		osp_env env;
		nng_msg *m = NULL, *r = NULL;

		if (nng_recvmsg(f->rep, &m, 0) != 0)
			return NULL;
		nng_msg_free(m);
		osp_wire_env_init(&env, NULL, NULL, 0);
		ospec__v1__error__init(&e);
		e.code = OSPEC__V1__ERROR_CODE__ERR_NOT_LEADER;
		e.message = "standby";
		env.body_case = OSPEC__V1__ENVELOPE__BODY_ERROR;
		env.error = &e;
		if (osp_wire_encode(&env, &r) != OSP_OK)
			return NULL;
		atomic_fetch_add(&f->rep_seen, 1);
		if (nng_sendmsg(f->rep, r, 0) != 0)
			nng_msg_free(r);
	}
}

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
	snprintf(f->standby, sizeof(f->standby), "tcp://127.0.0.1:%u", ts_free_port());
	dial_fx_urls(f, f->url);
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
	if (f->rep_started) {
		nng_close(f->rep);
		pthread_join(f->rep_thread, NULL);
	}
	for (size_t i = 0; i < f->cfg.ncoordinators; i++)
		free(f->cfg.coordinators[i]);
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

/* An agent given a standby first (it answers ERR_NOT_LEADER) and the leader
 * second moves on at once and registers with the leader: not stuck backing
 * off at the standby as after a refusal. */
static void test_agent_dial_not_leader_moves_on(void **state)
{
	dial_fx *f = *state;
	char urls[160];
	int64_t took;

	assert_int_equal(nng_rep0_open(&f->rep), 0);
	assert_int_equal(nng_listen(f->rep, f->standby, NULL, 0), 0);
	assert_int_equal(pthread_create(&f->rep_thread, NULL, dial_standby_main, f), 0);
	f->rep_started = true;
	snprintf(urls, sizeof(urls), "%s,%s", f->standby, f->url);
	dial_fx_urls(f, urls);
	f->coord = dial_coord_start(f->data, f->url, f->ctl, f->log);
	assert_true(dial_wait_listening(f->url, 15000));
	f->a = ts_agent_alloc(&f->cfg);
	assert_int_equal(agent_start(f->a), OSP_OK);
	took = dial_wait_registered(f->a, true, 10000);
	print_message("registered with the leader after %lld ms, %d answers from the standby\n",
		(long long)took, atomic_load(&f->rep_seen));
	assert_true(took >= 0);
	assert_true(atomic_load(&f->rep_seen) >= 1);
	assert_string_equal(agent_dial_url(f->a), f->url);
	/* the standby answered at once: one switch, no back-off */
	assert_true(took < AGENT_FOLLOW_SWITCH_MS + 2000);
}

/* A TCP port that takes each connection and closes it at once, counting
 * them: a coordinator URL where nothing serves, whose dials can be counted. */
typedef struct dial_sink {
	int fd;
	unsigned port;
	atomic_int accepted;
	pthread_t thread;
} dial_sink;

static void *dial_sink_main(void *arg)
{
	dial_sink *k = arg;

	for (;;) {
		int c = accept(k->fd, NULL, NULL);
		if (c < 0)
			return NULL; /* shut down */
		close(c);
		atomic_fetch_add(&k->accepted, 1);
	}
}

static void dial_sink_start(dial_sink *k)
{
	k->fd = ts_bind_loopback(&k->port);
	assert_true(k->fd >= 0);
	assert_int_equal(listen(k->fd, 16), 0);
	assert_int_equal(pthread_create(&k->thread, NULL, dial_sink_main, k), 0);
}

static void dial_sink_stop(dial_sink *k)
{
	shutdown(k->fd, SHUT_RDWR);
	pthread_join(k->thread, NULL);
	close(k->fd);
}

/* Three URLs where nothing serves, for 10 s: each is dialled, in turn, but a
 * round over all three is paced like one URL alone (a pause below 2 s per
 * round while away less than 16 s, one dial per URL per round): about 7
 * rounds, 21 dials. Unpaced (only a switch's pause, under 300 ms) it would
 * be about 55. The bounds sit between (each side more than 3.5 standard
 * deviations away). */
static void test_agent_dial_rounds_paced(void **state)
{
	dial_fx *f = *state;
	dial_sink k[3];
	char urls[160];
	int total = 0;

	memset(k, 0, sizeof(k));
	for (int i = 0; i < 3; i++)
		dial_sink_start(&k[i]);
	snprintf(urls, sizeof(urls), "tcp://127.0.0.1:%u,tcp://127.0.0.1:%u,tcp://127.0.0.1:%u",
		k[0].port, k[1].port, k[2].port);
	dial_fx_urls(f, urls);
	f->a = ts_agent_alloc(&f->cfg);
	assert_int_equal(agent_start(f->a), OSP_OK);
	osp_sleep_ms(10000);
	agent_stop(f->a);
	for (int i = 0; i < 3; i++) {
		dial_sink_stop(&k[i]);
		total += atomic_load(&k[i].accepted);
		print_message("URL %d dialled %d times in 10 s\n", i + 1,
			atomic_load(&k[i].accepted));
	}
	for (int i = 0; i < 3; i++) {
		assert_true(atomic_load(&k[i].accepted) >= 1); /* round robin reached it */
		assert_true(atomic_load(&k[i].accepted) <= 13); /* one a round */
	}
	assert_true(total <= 39);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agent_dial_delay_bounded),
		cmocka_unit_test(test_agent_dial_delay_jittered),
		cmocka_unit_test(test_agent_dial_delay_grows),
		cmocka_unit_test(test_agent_dial_follow_order),
		cmocka_unit_test_setup_teardown(test_agent_dial_not_leader_moves_on, dial_setup,
			dial_teardown),
		cmocka_unit_test_setup_teardown(test_agent_dial_rounds_paced, dial_setup,
			dial_teardown),
		cmocka_unit_test_setup_teardown(test_agent_dial_back_after_outage, dial_setup,
			dial_teardown),
	};

	osp_log_setup(OSP_LOG_ERROR, OSP_LOG_TEXT, "test_agent_dial", NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
