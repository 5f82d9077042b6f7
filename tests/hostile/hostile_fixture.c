/*
 * hostile_fixture.c - hostile_conn's fixture (hostile.h): the fleet under
 * attack (a coordinator with its control endpoint also on TLS, three agents
 * and a recorded rollout), the probe's checks, the stored events read back,
 * and the two drips that run beside every attack from the set-up on.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "harness.h"
#include "hostile.h"
#include "ospec/json.h"
#include "ospec/tls.h"
#include "ospec/util.h"
#include "ospec/wire.h"
#include "ospec/v1/control.pb-c.h"

/* hs_env_frame encodes env without a message id (a pipelining attacker's
 * frames are all alike) into b as one SP frame. */
void hs_env_frame(osp_buf *b, osp_env *env, uint32_t req_id)
{
	nng_msg *m = NULL;

	env->has_msg_id = 0;
	assert_int_equal(osp_wire_encode(env, &m), OSP_OK);
	hs_frame(b, req_id, nng_msg_body(m), nng_msg_len(m));
	nng_msg_free(m);
}

/* hs_window_check asserts what the probe saw since hs_probe_window. */
void hs_window_check(hs_fx *f, const char *what)
{
	hs_probe *p = &f->probe;
	long probes, fails, rss_max, at_end;
	int64_t worst, end = osp_now_mono_ms() + h_ms(15000);
	char fail_what[256];

	/* two more probes after the attack (the second began after it), waited
	 * for rather than slept on: the window must hold a probe of the
	 * coordinator as the attack left it */
	pthread_mutex_lock(&p->mtx);
	at_end = p->probes;
	pthread_mutex_unlock(&p->mtx);
	for (;;) {
		pthread_mutex_lock(&p->mtx);
		probes = p->probes;
		pthread_mutex_unlock(&p->mtx);
		if (probes >= at_end + 2 || osp_now_mono_ms() >= end)
			break;
		osp_sleep_ms(50);
	}
	if (probes < at_end + 2)
		fail_msg("%s: no probe of the coordinator completed after the attack", what);
	pthread_mutex_lock(&p->mtx);
	probes = p->probes;
	fails = p->fails;
	worst = p->worst_ms;
	rss_max = p->rss_max_kb;
	snprintf(fail_what, sizeof(fail_what), "%s", p->fail_what);
	pthread_mutex_unlock(&p->mtx);
	print_message("%s: %ld probes, slowest 'ospecctl nodes' %lld ms, coordinator VmRSS "
		      "max %ld kB (before the attacks %ld kB)\n",
		what, probes, (long long)worst, rss_max, f->rss_base_kb);
	if (fails > 0)
		fail_msg("%s: %ld of %ld probes failed; first: %s", what, fails, probes, fail_what);
	assert_true(probes >= 3);
	if (HS_RSS_CHECKED && rss_max >= HS_RSS_MAX_KB)
		fail_msg("%s: coordinator VmRSS reached %ld kB (limit %d kB)", what, rss_max,
			HS_RSS_MAX_KB);
}

/* hs_rollout_seqs reads the seqs of the rollout's events into seq (cap). */
size_t hs_rollout_seqs(hs_fx *f, uint64_t *seq, size_t cap)
{
	osp_json *j = NULL;
	const osp_json *ev;
	size_t n = 0;

	/* a coordinator busy with an attack may take a while to answer */
	for (int64_t end = osp_now_mono_ms() + h_ms(60000); j == NULL && osp_now_mono_ms() < end;) {
		pthread_mutex_lock(&hs_run_lock);
		j = h_ctl_json(f->e, NULL, "history", "--rollout", f->rollout, NULL);
		pthread_mutex_unlock(&hs_run_lock);
	}
	ev = osp_json_get(j, "events");
	for (size_t i = 0; ev != NULL && i < ev->n && n < cap; i++)
		seq[n++] = (uint64_t)osp_json_get_int(ev->items[i], "seq", 0);
	osp_json_free(j);
	return n;
}

/* hs_count_kind counts the stored events of kind (the newest 100000). */
long hs_count_kind(hs_fx *f, const char *kind)
{
	osp_json *j;
	const osp_json *ev;
	long n = 0;

	pthread_mutex_lock(&hs_run_lock);
	j = h_ctl_json(f->e, NULL, "history", "--limit", "100000", NULL);
	pthread_mutex_unlock(&hs_run_lock);
	if ((ev = osp_json_get(j, "events")) == NULL)
		n = -1;
	for (size_t i = 0; ev != NULL && i < ev->n; i++)
		n += strcmp(h_str(ev->items[i], "kind"), kind) == 0;
	osp_json_free(j);
	return n;
}

/* hs_node_up reports whether node id is listed up. */
bool hs_node_up(hs_fx *f, const char *id)
{
	osp_json *j;
	bool up;

	pthread_mutex_lock(&hs_run_lock);
	j = h_ctl_json(f->e, NULL, "nodes", NULL);
	pthread_mutex_unlock(&hs_run_lock);
	up = strcmp(h_str(h_node(j, id), "state"), "up") == 0;
	osp_json_free(j);
	return up;
}

/* -- the drips ---------------------------------------------------------- */

/* hs_drip_register makes c a registered node "drip-1" (plain tcp:// lets
 * anyone register), with Hello and Register read back. */
static bool hs_drip_register(hs_conn *c, int port)
{
	osp_env env, *rep = NULL;
	Ospec__V1__Hello hello;
	Ospec__V1__Register reg;
	osp_buf b;
	uint8_t *body = NULL, nonce[OSP_WIRE_NONCE_LEN];
	size_t len = 0;
	bool hdr = false, ok = false;
	char err[256];

	osp_buf_init(&b, 1 << 20);
	if (!hs_connect(c, port))
		goto out;
	osp_wire_env_init(&env, "drip-1", HS_UUID, 1);
	ospec__v1__hello__init(&hello);
	env.body_case = OSPEC__V1__ENVELOPE__BODY_HELLO;
	env.hello = &hello;
	hs_env_frame(&b, &env, 1);
	c->buf = (const uint8_t *)b.data;
	c->len = b.len;
	if (!hs_pump(c) || !hs_read_reply(c, 5000, &hdr, &body, &len) ||
		osp_wire_decode(body, len, &rep, err, sizeof(err)) != OSP_OK ||
		rep->body_case != OSPEC__V1__ENVELOPE__BODY_CHALLENGE)
		goto out;
	memcpy(nonce, rep->challenge->nonce.data, sizeof(nonce));
	osp_wire_free(rep);
	rep = NULL;
	free(body);
	body = NULL;
	osp_buf_reset(&b);
	osp_wire_env_init(&env, "drip-1", HS_UUID, 2);
	ospec__v1__register__init(&reg);
	reg.nonce.data = nonce;
	reg.nonce.len = sizeof(nonce);
	env.body_case = OSPEC__V1__ENVELOPE__BODY_REGISTER;
	env.register_ = &reg;
	hs_env_frame(&b, &env, 2);
	c->buf = (const uint8_t *)b.data;
	c->len = b.len;
	c->off = 0;
	ok = hs_pump(c) && hs_read_reply(c, 5000, &hdr, &body, &len) &&
		osp_wire_decode(body, len, &rep, err, sizeof(err)) == OSP_OK &&
		rep->body_case == OSPEC__V1__ENVELOPE__BODY_REGISTERED;
out:
	osp_wire_free(rep);
	free(body);
	osp_buf_fini(&b);
	c->buf = NULL;
	c->len = c->off = 0;
	return ok;
}

static void *hs_drip_main(void *arg)
{
	hs_fx *f = arg;
	int64_t end = osp_now_mono_ms() + 40000;

	while (!atomic_load(&f->drip_stop) && osp_now_mono_ms() < end) {
		hs_drip_byte(&f->drip_unreg);
		hs_drip_byte(&f->drip_reg);
		if (hs_closed(&f->drip_unreg) && (f->drip_reg.fd < 0 || hs_closed(&f->drip_reg)))
			break;
		for (int i = 0; i < 10 && !atomic_load(&f->drip_stop); i++)
			osp_sleep_ms(100); /* one byte a second */
	}
	return NULL;
}

/* hs_drip_start opens both drips: an unregistered connection that sends a
 * 1000-byte message one byte a second, and a registered one that then does
 * the same with its next heartbeat. */
static void hs_drip_start(hs_fx *f)
{
	osp_env env;
	Ospec__V1__Heartbeat hb;
	static uint8_t junk[1000];

	osp_buf_init(&f->drip_unreg_buf, 1 << 20);
	osp_buf_init(&f->drip_reg_buf, 1 << 20);
	assert_true(hs_connect(&f->drip_unreg, f->e->agents_port));
	hs_frame_len(&f->drip_unreg_buf, sizeof(junk));
	osp_buf_append(&f->drip_unreg_buf, junk, sizeof(junk));
	f->drip_unreg.buf = (const uint8_t *)f->drip_unreg_buf.data;
	f->drip_unreg.len = f->drip_unreg_buf.len;

	f->drip_reg_ok = hs_drip_register(&f->drip_reg, f->e->agents_port);
	assert_true(f->drip_reg_ok);
	f->drip_reg_last = osp_now_mono_ms();
	osp_wire_env_init(&env, "drip-1", HS_UUID, 3);
	ospec__v1__heartbeat__init(&hb);
	env.body_case = OSPEC__V1__ENVELOPE__BODY_HEARTBEAT;
	env.heartbeat = &hb;
	hs_env_frame(&f->drip_reg_buf, &env, 3);
	f->drip_reg.buf = (const uint8_t *)f->drip_reg_buf.data;
	f->drip_reg.len = f->drip_reg_buf.len;
	atomic_store(&f->drip_stop, false);
	f->drip_started = pthread_create(&f->drip_th, NULL, hs_drip_main, f) == 0;
}

/* -- set-up --------------------------------------------------------------- */

static void hs_fleet(hs_fx *f)
{
	char cfg[400], url[600], sha[65], id[64], *err = NULL;
	char *extra[] = { "-c", cfg, "--control-tls", f->ctl_tls_url, "--event-retention",
		"1000", NULL };
	h_env *e = f->e;

	assert_int_equal(h_certs(e, "init", "pki", NULL), 0);
	assert_int_equal(h_certs(e, "issue", "pki", "--coordinator", "127.0.0.1", NULL), 0);
	assert_int_equal(h_certs(e, "issue", "pki", "--node", "web-9", NULL), 0);
	assert_int_equal(h_certs(e, "issue", "pki", "--admin", "alice", NULL), 0);
	assert_true(h_tls_yaml(e, "coordinator.yaml", "pki", "pki", "127.0.0.1", NULL, cfg,
		sizeof(cfg)));
	f->ctl_tls_port = h_free_port();
	snprintf(f->ctl_tls_url, sizeof(f->ctl_tls_url), "tls+tcp://127.0.0.1:%d",
		f->ctl_tls_port);
	/* a heartbeat of 1 s: a node is down after 3 s without one */
	assert_non_null(h_coord_start(e, "1s", extra));
	f->coord_start = osp_now_mono_ms();
	for (int i = 1; i <= HS_NODES; i++) {
		char node[16];

		snprintf(node, sizeof(node), "web-%d", i);
		assert_non_null(h_agent_start_app(e, node, "role=web", "hello", h_free_port()));
	}
	for (int i = 0; i < 200 && hs_nodes_up(e, 5000, NULL) != HS_NODES; i++)
		osp_sleep_ms(100);
	assert_int_equal(hs_nodes_up(e, 5000, NULL), HS_NODES);
	/* history worth keeping: a rollout to every node */
	assert_true(h_artifact(e, "1", NULL, url, sha));
	assert_int_equal(h_deploy(e, "1", url, sha, id, &err, "--wait", NULL), 0);
	free(err);
	snprintf(f->rollout, sizeof(f->rollout), "%s", id);
	f->nseq = hs_rollout_seqs(f, f->seq, sizeof(f->seq) / sizeof(f->seq[0]));
	assert_true(f->nseq >= 3);
	f->rss_base_kb = hs_rss_kb(e->coord->pid);
	print_message("fleet up, rollout %s recorded %zu events; coordinator VmRSS %ld kB, "
		      "%d file descriptors\n",
		f->rollout, f->nseq, f->rss_base_kb, hs_fd_count(e->coord->pid));
}

/* hs_setup is the cmocka set-up: a coordinator (control also on TLS) with
 * HS_NODES agents and a recorded rollout, the probe and both drips running. */
int hs_setup(void **state)
{
	hs_fx *f = calloc(1, sizeof(*f));
	struct rlimit rl;

	if (f == NULL)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	/* hundreds of connections here, and as many in the coordinator */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if ((f->e = h_setup("hostile")) == NULL) {
		free(f);
		return -1;
	}
	*state = f;
	hs_fleet(f);
	hs_probe_start(&f->probe, f->e, f->e->coord->pid);
	hs_drip_start(f);
	return 0;
}

/* hs_teardown stops the drips and the probe and tears the fleet down. */
int hs_teardown(void **state)
{
	hs_fx *f = *state;

	if (f->drip_started) {
		atomic_store(&f->drip_stop, true);
		pthread_join(f->drip_th, NULL);
	}
	hs_close(&f->drip_unreg);
	hs_close(&f->drip_reg);
	osp_buf_fini(&f->drip_unreg_buf);
	osp_buf_fini(&f->drip_reg_buf);
	hs_probe_stop(&f->probe);
	h_teardown(f->e);
	free(f);
	return 0;
}
