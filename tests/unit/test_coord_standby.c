/* test_coord_standby.c - unit tests for coordinator/coord_standby.c: a
 * standby's control socket answers every request, as a real ospecctl sends
 * it over a real ipc:// socket, with a redirect to the leader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include "coord_ctl_ipc.h"
#include "coord_standby.h"
#include "ospec/v1/control.pb-c.h"
#include "test_support.h"

typedef struct sb_fixture {
	char dir[256];
	char url[320];
	char name[64], control[320]; /* what the leader function answers */
	int calls;
	coord_standby *sb;
} sb_fixture;

static void sb_leader(void *arg, char *name, size_t nlen, char *control, size_t clen)
{
	sb_fixture *f = arg;

	f->calls++;
	osp_strlcpy(name, f->name, nlen);
	osp_strlcpy(control, f->control, clen);
}

static int sb_setup(void **state)
{
	sb_fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	ts_mkdtemp(f->dir, sizeof(f->dir), "/tmp/ospec-standby-XXXXXX");
	snprintf(f->url, sizeof(f->url), "ipc://%s/run/ctl.sock", f->dir);
	*state = f;
	return 0;
}

static int sb_teardown(void **state)
{
	sb_fixture *f = *state;

	coord_standby_stop(f->sb);
	ts_rmtree(f->dir);
	free(f);
	return 0;
}

/* sb_start starts the standby "c2" on f's URL, f's leader function. */
static void sb_start(sb_fixture *f)
{
	char err[512] = "";

	if (coord_standby_start(f->url, "c2", sb_leader, f, &f->sb, err, sizeof(err)) != OSP_OK)
		fail_msg("coord_standby_start: %s", err);
}

/* sb_send sends body (len bytes) to url as ospecctl does (req0) and returns
 * the decoded reply (the caller frees it); fails the test without one. */
static Ospec__V1__CtlReply *sb_send(const char *url, const void *body, size_t len)
{
	nng_socket s = NNG_SOCKET_INITIALIZER;
	nng_msg *m = NULL;
	Ospec__V1__CtlReply *r;
	int rv;

	assert_int_equal(nng_req0_open(&s), 0);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 5000);
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 5000);
	if ((rv = nng_dial(s, url, NULL, 0)) != 0)
		fail_msg("dial %s: %s", url, nng_strerror(rv));
	assert_int_equal(nng_msg_alloc(&m, len), 0);
	if (len > 0)
		memcpy(nng_msg_body(m), body, len);
	assert_int_equal(nng_sendmsg(s, m, 0), 0);
	if ((rv = nng_recvmsg(s, &m, 0)) != 0)
		fail_msg("no answer from %s: %s", url, nng_strerror(rv));
	r = ospec__v1__ctl_reply__unpack(NULL, nng_msg_len(m), nng_msg_body(m));
	nng_msg_free(m);
	nng_close(s);
	assert_non_null(r);
	return r;
}

/* sb_ask sends a well-formed CtlRequest for verb. */
static Ospec__V1__CtlReply *sb_ask(const char *url, const char *verb)
{
	Ospec__V1__CtlRequest q;
	uint8_t buf[256];
	size_t len;

	ospec__v1__ctl_request__init(&q);
	q.version_major = 1;
	q.verb = (char *)verb;
	q.request_id = "4f0c6f5e-2b7a-4c1e-9d3a-0b1c2d3e4f50";
	len = ospec__v1__ctl_request__get_packed_size(&q);
	assert_true(len <= sizeof(buf));
	ospec__v1__ctl_request__pack(&q, buf);
	return sb_send(url, buf, len);
}

/* sb_expect fails the test unless r is the standby's redirect to the
 * leader (name, control) with error want. Frees r. */
static void sb_expect(Ospec__V1__CtlReply *r, const char *name, const char *control,
	const char *want)
{
	assert_int_equal(r->status, 3);
	assert_true(r->has_standby && r->standby);
	assert_non_null(r->leader_name);
	assert_string_equal(r->leader_name, name);
	assert_non_null(r->leader_control);
	assert_string_equal(r->leader_control, control);
	assert_non_null(r->error);
	assert_string_equal(r->error, want);
	assert_null(r->json);
	ospec__v1__ctl_reply__free_unpacked(r, NULL);
}

/* a request gets status 3, standby, the leader as the function says now,
 * and the one-line error naming both; the socket file is mode 0600 */
static void test_coord_standby_redirects(void **state)
{
	sb_fixture *f = *state;
	char want[1024];
	struct stat st;

	osp_strlcpy(f->name, "c1", sizeof(f->name));
	snprintf(f->control, sizeof(f->control), "ipc://%s/c1.sock", f->dir);
	sb_start(f);
	assert_int_equal(stat(f->url + 6, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(want, sizeof(want), "coordinator c2 is a standby; the leader is c1 at %s",
		f->control);
	sb_expect(sb_ask(f->url, "nodes"), "c1", f->control, want);
	/* the leader changed: the next answer names the new one */
	osp_strlcpy(f->name, "c3", sizeof(f->name));
	osp_strlcpy(f->control, "tcp://127.0.0.1:7499", sizeof(f->control));
	sb_expect(sb_ask(f->url, "deploy"), "c3", "tcp://127.0.0.1:7499",
		"coordinator c2 is a standby; the leader is c3 at tcp://127.0.0.1:7499");
	assert_int_equal(f->calls, 2);
}

/* no leader known: empty fields and the etcd hint */
static void test_coord_standby_no_leader(void **state)
{
	sb_fixture *f = *state;
	const char *want = "coordinator c2 is a standby; no leader is elected yet (is etcd "
			   "reachable?)";

	sb_start(f);
	sb_expect(sb_ask(f->url, "nodes"), "", "", want);
	/* a leader whose control URL is not known yet is named, not followed */
	osp_strlcpy(f->name, "c1", sizeof(f->name));
	sb_expect(sb_ask(f->url, "nodes"), "c1", "",
		"coordinator c2 is a standby; the leader is c1 (its control URL is not known)");
}

/* garbage, an empty message and a request of another major version get the
 * same answer, and the standby goes on answering */
static void test_coord_standby_garbage(void **state)
{
	sb_fixture *f = *state;
	static const uint8_t junk[] = { 0xff, 0xff, 0xff, 0x0f, 0x08, 0x80, 0x80, 0x80, 0x80 };
	Ospec__V1__CtlRequest q;
	uint8_t buf[64];
	size_t len;
	const char *want = "coordinator c2 is a standby; the leader is c1 at tcp://10.0.0.1:7402";

	osp_strlcpy(f->name, "c1", sizeof(f->name));
	osp_strlcpy(f->control, "tcp://10.0.0.1:7402", sizeof(f->control));
	sb_start(f);
	sb_expect(sb_send(f->url, junk, sizeof(junk)), "c1", f->control, want);
	sb_expect(sb_send(f->url, "", 0), "c1", f->control, want);
	ospec__v1__ctl_request__init(&q);
	q.version_major = 9;
	q.verb = "nodes";
	len = ospec__v1__ctl_request__get_packed_size(&q);
	ospec__v1__ctl_request__pack(&q, buf);
	sb_expect(sb_send(f->url, buf, len), "c1", f->control, want);
	sb_expect(sb_ask(f->url, "nodes"), "c1", f->control, want);
}

/* a second standby on a live URL is refused; after stop the URL is free:
 * the real control server's listening code (coord_ctl_listen) takes it,
 * and so does a standby after a killed one's stale socket file */
static void test_coord_standby_stop_relisten(void **state)
{
	sb_fixture *f = *state;
	coord_standby *other = NULL;
	coord_ctl_ipc_file file = { 0 };
	nng_socket rep = NNG_SOCKET_INITIALIZER;
	nng_listener l;
	char err[512] = "";

	sb_start(f);
	assert_int_equal(coord_standby_start(f->url, "c3", NULL, NULL, &other, err, sizeof(err)),
		OSP_EBUSY);
	assert_null(other);
	ts_assert_has(err, "another process");
	sb_expect(sb_ask(f->url, "nodes"), "", "",
		"coordinator c2 is a standby; no leader is elected yet (is etcd reachable?)");
	coord_standby_stop(f->sb);
	f->sb = NULL;
	assert_int_equal(nng_rep0_open(&rep), 0);
	if (coord_ctl_listen(rep, f->url, &l, &file, err, sizeof(err)) != OSP_OK)
		fail_msg("listen again on %s: %s", f->url, err);
	assert_true(file.owned);
	nng_close(rep);
	coord_ctl_ipc_file_release(f->url, &file);
	sb_start(f);
	sb_expect(sb_ask(f->url, "nodes"), "", "",
		"coordinator c2 is a standby; no leader is elected yet (is etcd reachable?)");
}

/* a stale socket file (nothing accepts on it: a killed coordinator's) is
 * removed and the standby listens; a file that is not a socket is kept */
static void test_coord_standby_stale_socket(void **state)
{
	sb_fixture *f = *state;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	coord_standby *sb = NULL;
	char err[512] = "", plain[320];
	int fd;
	FILE *fp;

	snprintf(plain, sizeof(plain), "%s/run", f->dir);
	assert_int_equal(mkdir(plain, 0755), 0);
	osp_strlcpy(sa.sun_path, f->url + 6, sizeof(sa.sun_path));
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd); /* bound, never listened: connect says ECONNREFUSED */
	sb_start(f);
	sb_expect(sb_ask(f->url, "nodes"), "", "",
		"coordinator c2 is a standby; no leader is elected yet (is etcd reachable?)");
	snprintf(plain, sizeof(plain), "ipc://%s/plain", f->dir);
	assert_non_null(fp = fopen(plain + 6, "w"));
	fclose(fp);
	assert_int_equal(coord_standby_start(plain, "c3", NULL, NULL, &sb, err, sizeof(err)),
		OSP_EEXIST);
	assert_null(sb);
	assert_int_equal(access(plain + 6, F_OK), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_coord_standby_redirects, sb_setup, sb_teardown),
		cmocka_unit_test_setup_teardown(test_coord_standby_no_leader, sb_setup, sb_teardown),
		cmocka_unit_test_setup_teardown(test_coord_standby_garbage, sb_setup, sb_teardown),
		cmocka_unit_test_setup_teardown(test_coord_standby_stop_relisten, sb_setup,
			sb_teardown),
		cmocka_unit_test_setup_teardown(test_coord_standby_stale_socket, sb_setup,
			sb_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
