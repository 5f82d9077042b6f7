/*
 * hostile_conn.c - one hostile peer against a live coordinator with three
 * real agents (issue 10, items 1-3; docs/security.md, "Connection limits"):
 *
 *   1. pipelined requests that are never read, on the agent port and on the
 *      control TLS endpoint (a certificate without a role);
 *   2. 100k refused registers (no nonce);
 *   3. many half-sent large frames, and one-byte drips (unregistered and
 *      registered).
 *
 * Throughout, a probe runs "ospecctl nodes" every ~200 ms: the three agents
 * must stay up, the answer must come within 1 s, and the coordinator's VmRSS
 * must stay under 64 MB. At the end the rollout history recorded before the
 * attacks must still be there after the event retention ran. The fleet, the
 * probe's checks and the drips are the fixture's: hostile_fixture.c.
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

/* -- the attacks ---------------------------------------------------------- */

/* hs_flood keeps n connections writing buf (repeated) for ms, reconnecting
 * each one the coordinator closes; returns how many it closed. */
static int hs_flood(hs_fx *f, int port, bool tls, const osp_buf *buf, int n, int ms,
	uint64_t *frames)
{
	hs_conn c[8];
	int closed = 0;
	int64_t end = osp_now_mono_ms() + ms;

	memset(c, 0, sizeof(c));

	assert_true(n <= 8);
	*frames = 0;
	for (int i = 0; i < n; i++)
		c[i].fd = -1;
	while (osp_now_mono_ms() < end) {
		for (int i = 0; i < n; i++) {
			if (c[i].fd < 0) {
				bool ok = tls ? hs_connect_tls(&c[i], f->e, "web-9", port)
					      : hs_connect(&c[i], port);
				if (!ok)
					continue;
				c[i].buf = (const uint8_t *)buf->data;
				c[i].len = buf->len;
				c[i].repeat = true;
			}
			if (!hs_pump(&c[i])) {
				closed++;
				*frames += c[i].frames_sent;
				hs_close(&c[i]);
			}
		}
		osp_sleep_ms(1);
	}
	for (int i = 0; i < n; i++) {
		*frames += c[i].frames_sent;
		hs_close(&c[i]);
	}
	return closed;
}

/* Pipelined Hellos on the agent port from connections that never read a
 * reply: before, every context ended up waiting to send to them and the
 * real nodes went down. */
static void test_hostile_pipelined_agent_port(void **state)
{
	hs_fx *f = *state;
	osp_env env;
	Ospec__V1__Hello hello;
	osp_buf b;
	uint64_t chunks = 0;
	int closed;

	osp_buf_init(&b, 1 << 20);
	osp_wire_env_init(&env, "evil-1", NULL, 0);
	ospec__v1__hello__init(&hello);
	env.body_case = OSPEC__V1__ENVELOPE__BODY_HELLO;
	env.hello = &hello;
	for (uint32_t i = 0; i < 256; i++)
		hs_env_frame(&b, &env, i);
	hs_probe_window(&f->probe);
	closed = hs_flood(f, f->e->agents_port, false, &b, 4, 8000, &chunks);
	print_message("agent port: %llu x 256 pipelined hellos never read; %d connections seen "
		      "closed here\n",
		(unsigned long long)chunks, closed);
	osp_buf_fini(&b);
	hs_window_check(f, "pipelined agent port");
	/* the coordinator gave up on them (what this side sees of it lags behind
	 * the replies the kernel still holds) */
	assert_true(h_file_contains(f->e->coord->log, "COORD-CONN-STUCK"));
}

/* hs_ctl_frames appends control requests: two signed with a certificate
 * that has no role, then unsigned ones (refused as fast as they come). */
static void hs_ctl_frames(hs_fx *f, osp_buf *b)
{
	Ospec__V1__CtlRequest rq;
	char path[400], *chain = NULL, *key = NULL, rid[32];
	size_t chain_len = 0, key_len = 0, sig_len = 0;
	uint8_t sig[OSP_TLS_MAX_SIG], *packed;
	osp_buf m;
	char err[256];

	snprintf(path, sizeof(path), "%s/pki/web-9.pem", f->e->dir);
	assert_int_equal(osp_tls_read_pem(path, &chain, &chain_len), OSP_OK);
	snprintf(path, sizeof(path), "%s/pki/web-9.key", f->e->dir);
	assert_int_equal(osp_tls_read_pem(path, &key, &key_len), OSP_OK);
	osp_buf_init(&m, 1 << 20);
	for (uint32_t i = 0; i < 1000; i++) {
		ospec__v1__ctl_request__init(&rq);
		rq.version_major = 1;
		rq.verb = "nodes";
		if (i < 2) {
			snprintf(rid, sizeof(rid), "hostile-%u", i);
			rq.request_id = rid;
			rq.has_ts_ms = 1;
			rq.ts_ms = (uint64_t)osp_now_wall_ms();
			assert_int_equal(osp_tls_ctl_msg(&m, rid, "nodes", rq.ts_ms, 0, NULL, NULL),
				OSP_OK);
			assert_int_equal(osp_tls_sign(key, m.data, m.len, sig, sizeof(sig), &sig_len,
						 err, sizeof(err)),
				OSP_OK);
			rq.has_cert_chain_pem = rq.has_signature = 1;
			rq.cert_chain_pem.data = (uint8_t *)chain;
			rq.cert_chain_pem.len = chain_len;
			rq.signature.data = sig;
			rq.signature.len = sig_len;
		}
		packed = malloc(ospec__v1__ctl_request__get_packed_size(&rq));
		assert_non_null(packed);
		hs_frame(b, i, packed, ospec__v1__ctl_request__pack(&rq, packed));
		free(packed);
	}
	osp_buf_fini(&m);
	osp_tls_pem_free(chain, chain_len);
	osp_tls_pem_free(key, key_len);
}

struct hs_admin {
	hs_fx *f;
	int code;
	int64_t took;
};

/* hs_admin_main runs "ospecctl nodes" as admin alice over the TLS endpoint. */
static void *hs_admin_main(void *arg)
{
	struct hs_admin *a = arg;
	int64_t t0;

	osp_sleep_ms(4000);
	pthread_mutex_lock(&hs_run_lock);
	t0 = osp_now_mono_ms();
	a->code = h_ctl_as(a->f->e, a->f->ctl_tls_url, "alice", NULL, NULL, "nodes", NULL);
	a->took = osp_now_mono_ms() - t0;
	pthread_mutex_unlock(&hs_run_lock);
	return NULL;
}

/* The same on the control TLS endpoint with a node's certificate (no role):
 * before, the control thread waited for it forever and admins timed out. */
static void test_hostile_pipelined_control_tls(void **state)
{
	hs_fx *f = *state;
	struct hs_admin admin = { .f = f, .code = -1 };
	pthread_t th;
	osp_buf b;
	uint64_t chunks = 0;
	int closed;

	osp_buf_init(&b, 4 << 20);
	hs_ctl_frames(f, &b);
	hs_probe_window(&f->probe);
	assert_int_equal(pthread_create(&th, NULL, hs_admin_main, &admin), 0);
	closed = hs_flood(f, f->ctl_tls_port, true, &b, 2, 8000, &chunks);
	pthread_join(th, NULL);
	print_message("control TLS: %llu x 1000 pipelined requests never read; %d connections "
		      "seen closed here; admin over TLS meanwhile: exit %d in %lld ms\n",
		(unsigned long long)chunks, closed, admin.code, (long long)admin.took);
	osp_buf_fini(&b);
	hs_window_check(f, "pipelined control TLS");
	assert_int_equal(admin.code, 0);
	assert_true(admin.took <= h_ms(5000));
	assert_true(h_file_contains(f->e->coord->log, "COORD-CTL-STUCK"));
}

/* 100k registers without the connection's nonce: refused, counted, logged a
 * few times, and nothing written: before, each was a stored event and the
 * retention pushed the rollout history out. */
static void test_hostile_refused_registers(void **state)
{
	hs_fx *f = *state;
	osp_env env;
	Ospec__V1__Register reg;
	uint8_t zero[OSP_WIRE_NONCE_LEN] = { 0 };
	hs_conn c[8] = { 0 };
	osp_buf b;
	uint64_t frames = 0;
	int closed = 0;
	long lines, stored;
	int64_t end = osp_now_mono_ms() + 30000;

	osp_buf_init(&b, 1 << 20);
	osp_wire_env_init(&env, "evil-2", HS_UUID, 0);
	ospec__v1__register__init(&reg);
	reg.nonce.data = zero;
	reg.nonce.len = sizeof(zero);
	env.body_case = OSPEC__V1__ENVELOPE__BODY_REGISTER;
	env.register_ = &reg;
	for (uint32_t i = 0; i < 1000; i++)
		hs_env_frame(&b, &env, i);
	for (int i = 0; i < 8; i++)
		c[i].fd = -1;
	hs_probe_window(&f->probe);
	while (frames < 100 && osp_now_mono_ms() < end) { /* in thousands */
		for (int i = 0; i < 8 && frames < 100; i++) {
			if (c[i].fd < 0) {
				if (!hs_connect(&c[i], f->e->agents_port))
					continue;
				c[i].buf = (const uint8_t *)b.data;
				c[i].len = b.len;
				c[i].repeat = true;
			}
			if (!hs_pump(&c[i])) {
				closed++;
				frames += c[i].frames_sent;
				hs_close(&c[i]);
			}
		}
		osp_sleep_ms(1);
	}
	for (int i = 0; i < 8; i++) {
		frames += c[i].frames_sent;
		hs_close(&c[i]);
	}
	osp_buf_fini(&b);
	osp_sleep_ms(1000);
	lines = hs_count_lines(f->e->coord->log, "COORD-REGISTER-REFUSED");
	stored = hs_count_kind(f, "node.refused");
	print_message("refused registers: %llu000 sent on %d connections the coordinator "
		      "closed; %ld log lines, %ld stored events\n",
		(unsigned long long)frames, closed, lines, stored);
	hs_window_check(f, "refused registers");
	assert_true(frames >= 100);
	assert_int_equal(stored, 0);
	assert_true(lines >= 1 && lines <= 20);
}

/* hs_half_open opens n connections that each send the header of a frame of
 * body bytes and all of it but the last 100 bytes; returns how many opened. */
static int hs_half_open(hs_fx *f, hs_conn *c, int n, const osp_buf *buf)
{
	int opened = 0;

	for (int i = 0; i < n; i++) {
		if (!hs_connect(&c[i], f->e->agents_port))
			continue;
		c[i].buf = (const uint8_t *)buf->data;
		c[i].len = buf->len;
		opened++;
	}
	return opened;
}

/* hs_half_pump writes until every connection sent all it will or was closed
 * (or ms passed); returns how many are still open. */
static int hs_half_pump(hs_conn *c, int n, int ms)
{
	int64_t end = osp_now_mono_ms() + ms;
	int open, busy;

	do {
		open = busy = 0;
		for (int i = 0; i < n; i++) {
			if (c[i].fd < 0 || !hs_pump(&c[i]))
				continue;
			open++;
			busy += c[i].off < c[i].len;
		}
		if (busy > 0)
			osp_sleep_ms(2);
	} while (busy > 0 && osp_now_mono_ms() < end);
	return open;
}

/* Frames announced large and never finished, from 500 connections: nng
 * allocates a message when its length arrives. Before: 2 MiB each, 1 GB of
 * coordinator memory, kept as long as the connections stayed. */
static void test_hostile_half_sent_frames(void **state)
{
	hs_fx *f = *state;
	hs_conn *c = calloc(HS_HALF_CONNS, sizeof(*c));
	int late_total = 0, opened_min = HS_HALF_CONNS;
	long rss_max = 0;
	/* under the receive limit first (the coordinator holds what arrives of
	 * each until the register deadline), then past it as in the report */
	static const size_t sizes[] = { 120 * 1024, 2 * 1024 * 1024 - 100 };
	static const uint8_t zeros[65536];
	osp_buf b;

	assert_non_null(c);
	hs_probe_window(&f->probe);
	for (size_t s = 0; s < 2; s++) {
		int opened, open, at_once = 0, late = 0;
		int64_t t0, t1;
		long rss;

		osp_buf_init(&b, 4 << 20);
		hs_frame_len(&b, sizes[s]);
		while (b.len < 12 + sizes[s] - 100) {
			size_t k = 12 + sizes[s] - 100 - b.len;
			assert_int_equal(osp_buf_append(&b, zeros, k < sizeof(zeros) ? k : sizeof(zeros)),
				OSP_OK);
		}
		t0 = osp_now_mono_ms();
		opened = hs_half_open(f, c, HS_HALF_CONNS, &b);
		t1 = osp_now_mono_ms();
		open = hs_half_pump(c, HS_HALF_CONNS, 20000);
		rss = hs_rss_kb(f->e->coord->pid);
		print_message("half-sent frames of %zu bytes: %d connections in %lld ms, %d still "
			      "open after sending (%lld ms), coordinator VmRSS %ld kB\n",
			sizes[s], opened, (long long)(t1 - t0), open,
			(long long)(osp_now_mono_ms() - t1), rss);
		rss_max = rss > rss_max ? rss : rss_max;
		/* the coordinator lets none of them stay: at once past the limits,
		 * the others at the register deadline (10 s) */
		for (int64_t end = osp_now_mono_ms() + h_ms(15000); osp_now_mono_ms() < end;) {
			int left = 0;
			for (int i = 0; i < HS_HALF_CONNS; i++)
				left += c[i].fd >= 0 && !hs_closed(&c[i]);
			if (left == 0)
				break;
			osp_sleep_ms(100);
		}
		for (int i = 0; i < HS_HALF_CONNS; i++) {
			if (c[i].fd < 0)
				continue;
			if (!hs_closed(&c[i]))
				late++;
			else if (c[i].t_closed - c[i].t_open < 1000)
				at_once++;
			else if (c[i].t_closed - c[i].t_open > h_ms(13000))
				late++;
			hs_close(&c[i]);
		}
		print_message("  closed at once: %d, open past the deadline: %d\n", at_once, late);
		osp_buf_fini(&b);
		late_total += late;
		opened_min = opened < opened_min ? opened : opened_min;
	}
	free(c);
	hs_window_check(f, "half-sent frames");
	assert_true(!HS_RSS_CHECKED || rss_max < HS_RSS_MAX_KB);
	assert_int_equal(late_total, 0);
	assert_true(opened_min >= HS_HALF_CONNS - 10);
}

/* One byte a second: unregistered, closed at the register deadline (10 s);
 * registered, closed when silent for 10 s (6 heartbeats, at least 10 s). */
static void test_hostile_drip(void **state)
{
	hs_fx *f = *state;
	int64_t unreg, reg;

	/* the drips started with the set-up; give them their time */
	while (osp_now_mono_ms() - f->drip_unreg.t_open < h_ms(15000) &&
		!(hs_closed(&f->drip_unreg) && hs_closed(&f->drip_reg)))
		osp_sleep_ms(100);
	unreg = hs_closed(&f->drip_unreg) ? f->drip_unreg.t_closed - f->drip_unreg.t_open : -1;
	reg = hs_closed(&f->drip_reg) ? f->drip_reg.t_closed - f->drip_reg_last : -1;
	print_message("drips: unregistered closed after %lld ms (%zu bytes sent), registered "
		      "after %lld ms of silence (%zu bytes)\n",
		(long long)unreg, f->drip_unreg.off, (long long)reg, f->drip_reg.off);
	assert_true(unreg >= 9000 && unreg <= h_ms(13000));
	assert_true(reg >= 9000 && reg <= h_ms(14000));
}

/* hs_events_said prints how many events the store holds and how many were
 * ever written (the newest seq): whether the retention (--event-retention
 * 1000) had anything to trim, so a reader sees what "kept" proved. */
static void hs_events_said(hs_fx *f)
{
	osp_json *j;
	const osp_json *ev;

	pthread_mutex_lock(&hs_run_lock);
	j = h_ctl_json(f->e, NULL, "history", "--limit", "100000", NULL);
	pthread_mutex_unlock(&hs_run_lock);
	ev = osp_json_get(j, "events");
	if (ev != NULL)
		print_message("events: %zu stored, %lld written (retention 1000: %s)\n", ev->n,
			(long long)(ev->n > 0 ? osp_json_get_int(ev->items[0], "seq", 0) : 0),
			ev->n > 0 && osp_json_get_int(ev->items[0], "seq", 0) > 1000
				? "it trimmed"
				: "nothing to trim: the attacks stored no noise");
	osp_json_free(j);
}

/* After all of it (and the event retention at the coordinator's first
 * minute): the rollout history is whole, the fleet up. */
static void test_hostile_history_kept(void **state)
{
	hs_fx *f = *state;
	uint64_t now[256];
	size_t n;
	int fds;
	int64_t wait = f->coord_start + 65000 - osp_now_mono_ms();

	hs_probe_window(&f->probe);
	if (wait > 0) {
		print_message("waiting %lld ms for the event retention to run\n", (long long)wait);
		osp_sleep_ms(wait);
	}
	n = hs_rollout_seqs(f, now, sizeof(now) / sizeof(now[0]));
	hs_events_said(f);
	for (size_t i = 0; i < f->nseq; i++) {
		bool found = false;
		for (size_t k = 0; k < n && !found; k++)
			found = now[k] == f->seq[i];
		if (!found)
			fail_msg("event %llu of rollout %s is gone (%zu of %zu left)",
				(unsigned long long)f->seq[i], f->rollout, n, f->nseq);
	}
	hs_window_check(f, "after the attacks");
	assert_int_equal(hs_nodes_up(f->e, 5000, NULL), HS_NODES);
	/* nobody is locked out: a new agent joins */
	assert_non_null(h_agent_start(f->e, "web-4", NULL, NULL));
	for (int i = 0; i < 100 && !hs_node_up(f, "web-4"); i++)
		osp_sleep_ms(100);
	fds = hs_fd_count(f->e->coord->pid);
	print_message("a new agent joined after the attacks: %s; coordinator file descriptors "
		      "now %d\n",
		hs_node_up(f, "web-4") ? "yes" : "no", fds);
	/* nng 1.5.2 can stop destroying closed connections after peers that
	 * pipelined without reading go away (docs/security.md): reported, and
	 * the coordinator says so (COORD-NNG-REAPER), but not failed here */
	if (fds > 200)
		print_message("WARNING: %d file descriptors: nng's pipe reaper stopped (%s)\n", fds,
			h_file_contains(f->e->coord->log, "COORD-NNG-REAPER") ? "COORD-NNG-REAPER logged"
									   : "not logged");
	assert_true(hs_node_up(f, "web-4"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostile_pipelined_agent_port),
		cmocka_unit_test(test_hostile_pipelined_control_tls),
		cmocka_unit_test(test_hostile_refused_registers),
		cmocka_unit_test(test_hostile_half_sent_frames),
		cmocka_unit_test(test_hostile_drip),
		cmocka_unit_test(test_hostile_history_kept),
	};

	/* OSPEC_HOSTILE_ONLY=PATTERN runs only the matching attacks (debugging) */
	if (getenv("OSPEC_HOSTILE_ONLY") != NULL)
		cmocka_set_test_filter(getenv("OSPEC_HOSTILE_ONLY"));
	return cmocka_run_group_tests(tests, hs_setup, hs_teardown);
}
