/*
 * it_ctl_failover.c - ospecctl with several coordinators (issue 15): a list
 * of --coordinator addresses (or $OSPEC_COORDINATOR) asked in order, a
 * standby's redirect to the leader followed, clear errors naming every
 * address when none answers as the leader, and a request that was sent and
 * got no answer never sent to another address. A real coordinator and agent,
 * the real ospecctl; the standbys are coord_standby.c served from this
 * process, as a standby coordinator serves them. Also: a failure answered
 * without a reason is still said on stderr.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

#include "coord_standby.h"
#include "ospec/v1/control.pb-c.h"
#include "harness.h"
#include "ospec/util.h"

typedef struct it_fx {
	h_env *e;               /* first: h_fixture_setup */
	coord_standby *sb;
	char sb_url[320];       /* the standby's control URL */
	char dead[2][320];      /* addresses nothing serves */
	char leader[64], leader_url[320]; /* what the standby says; "": none */
} it_fx;

static void it_leader(void *arg, char *name, size_t nlen, char *control, size_t clen)
{
	it_fx *f = arg;

	osp_strlcpy(name, f->leader, nlen);
	osp_strlcpy(control, f->leader_url, clen);
}

/* it_setup: addresses only, no coordinator. */
static int it_setup(void **state)
{
	it_fx *f;

	if (h_fixture_setup(state, sizeof(it_fx), "ctl_failover") != 0)
		return -1;
	f = *state;
	snprintf(f->sb_url, sizeof(f->sb_url), "ipc://%s/standby/ctl.sock", f->e->dir);
	snprintf(f->dead[0], sizeof(f->dead[0]), "tcp://127.0.0.1:%d", h_free_port());
	snprintf(f->dead[1], sizeof(f->dead[1]), "ipc://%s/gone/ctl.sock", f->e->dir);
	return 0;
}

/* it_setup_live: and a real coordinator (the leader) with agent web-1 up. */
static int it_setup_live(void **state)
{
	it_fx *f;

	if (it_setup(state) != 0)
		return -1;
	f = *state;
	if (h_coord_start(f->e, "500ms", NULL) == NULL ||
		h_agent_start(f->e, "web-1", "role=web", NULL) == NULL ||
		!h_wait_nodes_up(f->e, 1, h_ms(20000)))
		return -1;
	return 0;
}

static int it_teardown(void **state)
{
	it_fx *f = *state;

	coord_standby_stop(f->sb);
	return h_fixture_teardown(state);
}

/* it_standby starts the standby "c2" saying the leader is name at url
 * (NULL: none known). */
static void it_standby(it_fx *f, const char *name, const char *url)
{
	char err[512] = "";

	osp_strlcpy(f->leader, name ? name : "", sizeof(f->leader));
	osp_strlcpy(f->leader_url, url ? url : "", sizeof(f->leader_url));
	if (coord_standby_start(f->sb_url, "c2", it_leader, f, &f->sb, err, sizeof(err)) != OSP_OK)
		fail_msg("standby: %s", err);
}

/* it_list writes "a,b[,c]" (c may be NULL) into buf. */
static const char *it_list(char *buf, size_t len, const char *a, const char *b, const char *c)
{
	snprintf(buf, len, "%s,%s%s%s", a, b, c ? "," : "", c ? c : "");
	return buf;
}

/* it_nodes_from_leader fails the test unless `ospecctl --coordinator list
 * nodes` exits 0 and prints the leader's inventory, nothing on stderr. */
static void it_nodes_from_leader(it_fx *f, const char *list)
{
	char *out = NULL, *err = NULL;
	int code = h_ctl_as(f->e, list, NULL, &out, &err, "nodes", NULL);

	if (code != 0 || out == NULL || strstr(out, "web-1") == NULL)
		fail_msg("--coordinator %s nodes: exit %d, stdout '%s', stderr '%s'", list, code,
			out ? out : "", err ? err : "");
	assert_string_equal(err, "");
	free(out);
	free(err);
}

/* it_one_line fails the test unless err is one "ospecctl: " line. */
static void it_one_line(const char *err)
{
	assert_non_null(err);
	assert_true(strncmp(err, "ospecctl: ", 10) == 0);
	assert_non_null(strchr(err, '\n'));
	assert_null(strchr(err, '\n')[1] == '\0' ? NULL : err);
}

/* it_cordoned reads whether web-1 is cordoned from the leader (fails the
 * test when it cannot tell). */
static bool it_cordoned(it_fx *f)
{
	int code = -1;
	osp_json *nodes = h_ctl_json(f->e, &code, "nodes", NULL);
	const osp_json *c = osp_json_get(h_node(nodes, "web-1"), "cordoned");
	bool b;

	if (c == NULL || c->type != OSP_JSON_BOOL)
		fail_msg("nodes --json (exit %d): no web-1 with a cordoned flag", code);
	b = c->b;
	osp_json_free(nodes);
	return b;
}

/* (a) dead addresses first: the live coordinator answers, from
 * --coordinator and from $OSPEC_COORDINATOR alike */
static void test_ctl_failover_dead_then_live(void **state)
{
	it_fx *f = *state;
	char list[1200];
	char *argv[] = { (char *)h_prog(f->e, "ospecctl"), "nodes", NULL };
	char *out = NULL, *err = NULL;
	int code;

	it_nodes_from_leader(f, it_list(list, sizeof(list), f->dead[0], f->e->ctl_url, NULL));
	it_nodes_from_leader(f, it_list(list, sizeof(list), f->dead[0], f->dead[1],
		f->e->ctl_url));
	/* blanks around an address are dropped */
	snprintf(list, sizeof(list), " %s , %s", f->dead[1], f->e->ctl_url);
	it_nodes_from_leader(f, list);
	it_list(list, sizeof(list), f->dead[1], f->e->ctl_url, NULL);
	assert_int_equal(setenv("OSPEC_COORDINATOR", list, 1), 0);
	code = h_run(argv, h_ms(60000), &out, &err);
	unsetenv("OSPEC_COORDINATOR");
	if (code != 0 || strstr(out ? out : "", "web-1") == NULL)
		fail_msg("OSPEC_COORDINATOR=%s nodes: exit %d, stderr '%s'", list, code,
			err ? err : "");
	free(out);
	free(err);
}

/* (b) a standby redirects to the leader: reads and a change go through, the
 * change applied once */
static void test_ctl_failover_standby_redirects(void **state)
{
	it_fx *f = *state;
	char list[1200], *out = NULL, *err = NULL;
	int code;

	it_standby(f, "c1", f->e->ctl_url);
	it_nodes_from_leader(f, f->sb_url);
	/* the leader listed after the standby is asked once, right after it */
	it_nodes_from_leader(f, it_list(list, sizeof(list), f->sb_url, f->e->ctl_url, NULL));
	it_nodes_from_leader(f, it_list(list, sizeof(list), f->dead[0], f->sb_url, f->dead[1]));
	code = h_ctl_as(f->e, f->sb_url, NULL, &out, &err, "cordon", "web-1", NULL);
	h_expect_exit(code, 0, "cordon through the standby", &err);
	free(out);
	assert_true(it_cordoned(f));
}

/* (c) a standby that knows no leader: exit 3 and its message; one that
 * names a dead leader: both addresses and why */
static void test_ctl_failover_standby_no_leader(void **state)
{
	it_fx *f = *state;
	char *out = NULL, *err = NULL, want[1500];
	int code;

	it_standby(f, NULL, NULL);
	code = h_ctl_as(f->e, f->sb_url, NULL, &out, &err, "nodes", NULL);
	assert_int_equal(code, 3);
	assert_string_equal(out, "");
	snprintf(want, sizeof(want), "ospecctl: cannot reach the coordinator at '%s': "
		"coordinator c2 is a standby; no leader is elected yet (is etcd reachable?)\n",
		f->sb_url);
	assert_string_equal(err, want);
	free(out);
	free(err);
	coord_standby_stop(f->sb);
	f->sb = NULL;
	it_standby(f, "c1", f->dead[1]);
	code = h_ctl_as(f->e, f->sb_url, NULL, &out, &err, "nodes", NULL);
	assert_int_equal(code, 3);
	it_one_line(err);
	snprintf(want, sizeof(want), "ospecctl: cannot reach the coordinator (tried 2 "
		"addresses): '%s': coordinator c2 is a standby; the leader is c1 at %s; '%s': ",
		f->sb_url, f->dead[1], f->dead[1]);
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("stderr '%s', expected it to start with '%s'", err, want);
	free(out);
	free(err);
}

/* (d) every address dead: exit 3, one line naming each and why; a single
 * dead address keeps the message it always had */
static void test_ctl_failover_all_dead(void **state)
{
	it_fx *f = *state;
	char list[1200], *out = NULL, *err = NULL, want[800];
	int code;

	it_list(list, sizeof(list), f->dead[0], f->dead[1], NULL);
	code = h_ctl_as(f->e, list, NULL, &out, &err, "nodes", NULL);
	assert_int_equal(code, 3);
	assert_string_equal(out, "");
	it_one_line(err);
	snprintf(want, sizeof(want), "ospecctl: cannot reach the coordinator (tried 2 "
		"addresses): '%s': Connection refused; '%s': ", f->dead[0], f->dead[1]);
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("stderr '%s', expected it to start with '%s'", err, want);
	free(out);
	free(err);
	code = h_ctl_as(f->e, f->dead[0], NULL, &out, &err, "nodes", NULL);
	assert_int_equal(code, 3);
	snprintf(want, sizeof(want), "ospecctl: cannot reach the coordinator at '%s': Connection "
		"refused\n", f->dead[0]);
	assert_string_equal(err, want);
	free(out);
	free(err);
	/* an empty list is a usage error */
	code = h_ctl_as(f->e, " , ", NULL, &out, &err, "nodes", NULL);
	assert_int_equal(code, 2);
	free(out);
	free(err);
}

/* (e) an address that takes the request and never answers: the request may
 * have been applied there, so the live coordinator after it is not asked */
static void test_ctl_failover_no_answer_not_resent(void **state)
{
	it_fx *f = *state;
	nng_socket hole = NNG_SOCKET_INITIALIZER;
	nng_msg *m = NULL;
	char url[320], list[1200], *out = NULL, *err = NULL, want[800];
	int code;

	snprintf(url, sizeof(url), "ipc://%s/hole.sock", f->e->dir);
	assert_int_equal(nng_rep0_open(&hole), 0);
	assert_int_equal(nng_listen(hole, url, NULL, 0), 0); /* takes requests, never answers */
	code = h_ctl_as(f->e, it_list(list, sizeof(list), url, f->e->ctl_url, NULL), NULL, &out,
		&err, "cordon", "web-1", NULL);
	assert_int_equal(code, 3);
	it_one_line(err);
	snprintf(want, sizeof(want), "ospecctl: no answer from the coordinator at '%s': Timed "
		"out; the request may have been applied there, so it was not sent to another "
		"address\n", url);
	assert_string_equal(err, want);
	free(out);
	free(err);
	/* it was sent there, and only there */
	assert_int_equal(nng_recvmsg(hole, &m, NNG_FLAG_NONBLOCK), 0);
	nng_msg_free(m);
	nng_close(hole);
	assert_false(it_cordoned(f));
}

/* it_mute answers the first request on its socket with status 1 and no
 * error text: an empty proto3 string is not on the wire and unpacks as NULL. */
static void *it_mute(void *arg)
{
	nng_socket *s = arg;
	Ospec__V1__CtlReply r = OSPEC__V1__CTL_REPLY__INIT;
	nng_msg *m = NULL;

	if (nng_recvmsg(*s, &m, 0) != 0)
		return NULL;
	r.status = 1;
	r.error = "";
	nng_msg_clear(m);
	if (nng_msg_realloc(m, ospec__v1__ctl_reply__get_packed_size(&r)) == 0) {
		ospec__v1__ctl_reply__pack(&r, nng_msg_body(m));
		if (nng_sendmsg(*s, m, 0) == 0)
			return NULL;
	}
	nng_msg_free(m);
	return NULL;
}

/* (f) a coordinator failing a request without a reason: ospecctl still
 * says why it exits 1 (it printed nothing at all before) */
static void test_ctl_failover_reply_without_reason(void **state)
{
	it_fx *f = *state;
	nng_socket s = NNG_SOCKET_INITIALIZER;
	pthread_t th;
	char url[320], *out = NULL, *err = NULL;
	int code;

	snprintf(url, sizeof(url), "ipc://%s/mute.sock", f->e->dir);
	assert_int_equal(nng_rep0_open(&s), 0);
	assert_int_equal(nng_listen(s, url, NULL, 0), 0);
	assert_int_equal(pthread_create(&th, NULL, it_mute, &s), 0);
	code = h_ctl_as(f->e, url, NULL, &out, &err, "rollback", "r-1", NULL);
	nng_close(s); /* ends it_mute if it got nothing */
	pthread_join(th, NULL);
	assert_int_equal(code, 1);
	it_one_line(err);
	assert_string_equal(err, "ospecctl: the coordinator answered status 1 without a reason\n");
	free(out);
	free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ctl_failover_dead_then_live, it_setup_live,
			it_teardown),
		cmocka_unit_test_setup_teardown(test_ctl_failover_standby_redirects, it_setup_live,
			it_teardown),
		cmocka_unit_test_setup_teardown(test_ctl_failover_standby_no_leader, it_setup,
			it_teardown),
		cmocka_unit_test_setup_teardown(test_ctl_failover_all_dead, it_setup, it_teardown),
		cmocka_unit_test_setup_teardown(test_ctl_failover_no_answer_not_resent, it_setup_live,
			it_teardown),
		cmocka_unit_test_setup_teardown(test_ctl_failover_reply_without_reason, it_setup,
			it_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
