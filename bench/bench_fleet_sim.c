/*
 * bench_fleet_sim.c - simulated agents for bench_fleet: each speaks the real
 * protocol (Hello -> Challenge -> Register -> Registered, then a held Poll and
 * a Heartbeat every interval) over its own req0 socket, with the timeouts and
 * back-off of ospec-agent (node-agent/agent_session.c). A Stage command is
 * answered at once with RESULT_OK, so a deploy can run to its end.
 *
 * Every step is an nng aio callback: the poll context and the heartbeat
 * context of an agent each have one aio, and nng's small thread pool runs
 * them all.
 */
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "bench_fleet.h"
#include "ospec/util.h"
#include "ospec/wire.h"
#include "bench_fleet_bg.h"

#define BF_REQ_TIMEOUT_MS 5000 /* ospec-agent: hello, register, result */
#define BF_BACKOFF_MIN_MS 250
#define BF_BACKOFF_MAX_MS 30000
#define BF_POLL_EXTRA_MS 10000 /* ospec-agent: poll hold + 10 s */
#define BF_SHA "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

typedef enum bf_req {
	BF_REQ_HELLO = 0,
	BF_REQ_REGISTER,
	BF_REQ_POLL,
	BF_REQ_RESULT,
	BF_REQ_HEARTBEAT,
} bf_req;

typedef enum bf_io {
	BF_IO_IDLE = 0,
	BF_IO_SEND,
	BF_IO_RECV,
} bf_io;

typedef struct bf_agent {
	bf_sim *sim;
	size_t idx;
	char id[32];
	char uuid[OSP_UUID_LEN + 1];
	nng_socket sock;
	nng_dialer dialer;
	atomic_uint_fast32_t pipe_id; /* the connection while it is up, else 0 */
	int64_t away_since;           /* ms (osp_now_mono_ms) the session was lost */
	nng_ctx pctx, hctx;
	nng_aio *paio, *haio;     /* requests: send then receive */
	nng_aio *ptimer, *htimer; /* naps; never on the request aios (nng 1.5.2 can
				   * then complete a later receive with no message) */
	bf_io pio, hio;
	bf_req preq;
	atomic_uint_fast64_t msg_id;
	atomic_uint_fast64_t cursor;
	atomic_bool registered;
	bool hb_started;
	uint8_t nonce[OSP_WIRE_NONCE_LEN];
	int64_t backoff_ms;
	unsigned seed;
	int64_t reg_done;      /* ns, first Registered */
	int64_t reg_last;      /* ns, latest Registered */
	int64_t hb_sent, hb_next;
	uint64_t result_seq;   /* result being reported */
	int64_t stage_rx, acked_at;
	bf_bg bg;              /* blue-green answers and command times (bench_scale) */
} bf_agent;

struct bf_sim {
	char url[128];
	size_t n;
	int hb_ms;
	bf_agent *agents;
	atomic_bool stopping;
	atomic_bool hb_on;
	int64_t t0;
	pthread_mutex_t mtx; /* hb samples */
	bench_samples hb;
	/* agents to dial anew (bf_redial_main): nng_dialer_close waits for nng's
	 * task threads, so an aio callback must not call it */
	pthread_t redialer;
	bool redialer_started;
	pthread_mutex_t rmtx;
	pthread_cond_t rcv;
	size_t *rq, rq_head, rq_len; /* a ring of agent indices, n long */
	atomic_uint_fast64_t registered, registers, reg_retries, errors, timeouts, heartbeats,
		staged, acked;
};

static const char *const bf_apps[3] = { "checkout", "search", "metrics-sidecar" };
static const char *const bf_vers[3] = { "2024.06.1", "1.14.3", "0.9.0" };

/* bf_apps_fill makes the 3-app report every agent sends. */
static void bf_apps_fill(Ospec__V1__AppState *a, Ospec__V1__AppState **ap)
{
	for (int i = 0; i < 3; i++) {
		ospec__v1__app_state__init(&a[i]);
		a[i].app = (char *)bf_apps[i];
		a[i].active_slot = "main";
		a[i].version = (char *)bf_vers[i];
		a[i].sha256 = BF_SHA;
		a[i].has_generation = a[i].has_running = a[i].has_healthy = 1;
		a[i].generation = 1;
		a[i].running = a[i].healthy = 1;
		ap[i] = &a[i];
	}
}

/* bf_send encodes env as agent a and sends it on ctx/aio (io becomes SEND).
 * Returns 0 or -1 (nothing was sent). */
static int bf_send(bf_agent *a, nng_ctx ctx, nng_aio *aio, bf_io *io, osp_env *env,
	int timeout_ms)
{
	nng_msg *m = NULL;

	env->node_id = a->id;
	env->instance_uuid = a->uuid;
	env->has_msg_id = 1;
	env->msg_id = atomic_fetch_add(&a->msg_id, 1);
	if (osp_wire_encode(env, &m) != OSP_OK)
		return -1;
	*io = BF_IO_SEND;
	nng_aio_set_msg(aio, m);
	nng_aio_set_timeout(aio, timeout_ms);
	nng_ctx_send(ctx, aio);
	return 0;
}

static void bf_send_hello(bf_agent *a)
{
	osp_env env;
	Ospec__V1__Hello h;

	osp_wire_env_init(&env, NULL, NULL, 0);
	ospec__v1__hello__init(&h);
	h.agent_version = "bench";
	env.body_case = OSPEC__V1__ENVELOPE__BODY_HELLO;
	env.hello = &h;
	a->preq = BF_REQ_HELLO;
	bf_send(a, a->pctx, a->paio, &a->pio, &env, BF_REQ_TIMEOUT_MS);
}

static void bf_send_register(bf_agent *a)
{
	osp_env env;
	Ospec__V1__Register r;
	Ospec__V1__Label l[3], *lp[3];
	Ospec__V1__AppState apps[3], *appp[3];
	char rack[16];

	osp_wire_env_init(&env, NULL, NULL, 0);
	ospec__v1__register__init(&r);
	r.nonce.data = a->nonce;
	r.nonce.len = sizeof(a->nonce);
	for (int i = 0; i < 3; i++) {
		ospec__v1__label__init(&l[i]);
		lp[i] = &l[i];
	}
	snprintf(rack, sizeof(rack), "r%02zu", a->idx % 40);
	l[0].key = "region";
	l[0].value = a->idx % 2 ? "eu-west" : "us-east";
	l[1].key = "rack";
	l[1].value = rack;
	l[2].key = "role";
	l[2].value = "web";
	r.n_labels = 3;
	r.labels = lp;
	r.has_cursor = 1;
	r.cursor = atomic_load(&a->cursor);
	r.hostname = a->id;
	r.agent_version = "bench";
	bf_apps_fill(apps, appp);
	r.n_apps = 3;
	r.apps = appp;
	env.body_case = OSPEC__V1__ENVELOPE__BODY_REGISTER;
	env.register_ = &r;
	a->preq = BF_REQ_REGISTER;
	bf_send(a, a->pctx, a->paio, &a->pio, &env, BF_REQ_TIMEOUT_MS);
}

static void bf_send_poll(bf_agent *a)
{
	osp_env env;
	Ospec__V1__Poll p;

	osp_wire_env_init(&env, NULL, NULL, 0);
	ospec__v1__poll__init(&p);
	p.cursor = atomic_load(&a->cursor);
	p.has_max_entries = 1;
	p.max_entries = 32;
	env.body_case = OSPEC__V1__ENVELOPE__BODY_POLL;
	env.poll = &p;
	a->preq = BF_REQ_POLL;
	/* the coordinator's default hold is 20 s */
	bf_send(a, a->pctx, a->paio, &a->pio, &env, 20000 + BF_POLL_EXTRA_MS);
}

static void bf_send_result(bf_agent *a, const Ospec__V1__Command *cmd)
{
	osp_env env;
	Ospec__V1__CommandResult r;

	osp_wire_env_init(&env, NULL, NULL, 0);
	ospec__v1__command_result__init(&r);
	r.seq = cmd->seq;
	r.status = OSPEC__V1__RESULT_STATUS__RESULT_OK;
	if (cmd->kind_case == OSPEC__V1__COMMAND__KIND_STAGE) {
		r.message = "healthy after 2 checks";
		r.app = cmd->stage->app;
		r.version = cmd->stage->version;
		r.slot = cmd->stage->slot;
	}
	bf_bg_answer(&a->bg, cmd, &r);
	r.has_finished_ms = 1;
	r.finished_ms = (uint64_t)osp_now_wall_ms();
	env.body_case = OSPEC__V1__ENVELOPE__BODY_RESULT;
	env.result = &r;
	a->result_seq = cmd->seq;
	a->preq = BF_REQ_RESULT;
	bf_send(a, a->pctx, a->paio, &a->pio, &env, BF_REQ_TIMEOUT_MS);
}

/* bf_nap sleeps the poll aio for ms, then the agent says hello again
 * (ospec-agent's session loop). */
static void bf_nap(bf_agent *a, int64_t ms)
{
	a->pio = BF_IO_IDLE;
	nng_sleep_aio((nng_duration)ms, a->ptimer);
}

/* bf_jitter returns a random duration in [ms/2, ms] (ospec-agent's). */
static int64_t bf_jitter(bf_agent *a, int64_t ms)
{
	return ms / 2 + (int64_t)((unsigned)rand_r(&a->seed) % (unsigned)(ms / 2 + 1));
}

/* bf_poll_fail handles a failed request of the poll context (rv 0: an Error
 * reply or junk, which ospec-agent takes as a refusal). */
static void bf_poll_fail(bf_agent *a, int rv)
{
	bf_sim *s = a->sim;
	uint32_t r = (uint32_t)rand_r(&a->seed);

	if (rv == NNG_ETIMEDOUT)
		atomic_fetch_add(&s->timeouts, 1);
	if (a->preq == BF_REQ_HELLO || a->preq == BF_REQ_REGISTER) {
		atomic_fetch_add(&s->reg_retries, 1);
		if (rv != 0) { /* no answer: agent_session_pause */
			if (a->away_since == 0)
				a->away_since = osp_now_mono_ms();
			bf_nap(a, agent_reconnect_delay(osp_now_mono_ms() - a->away_since, r));
			return;
		}
		bf_nap(a, bf_jitter(a, a->backoff_ms));
		a->backoff_ms = a->backoff_ms * 2 > BF_BACKOFF_MAX_MS ? BF_BACKOFF_MAX_MS
								      : a->backoff_ms * 2;
		return;
	}
	/* the session is lost: agent_session_lost after a session that lasted */
	atomic_store(&a->registered, false);
	a->away_since = osp_now_mono_ms();
	bf_nap(a, (int64_t)(r % AGENT_RECONNECT_SPREAD_MS));
}

/* bf_on_commands answers the first command after the cursor, or polls on. */
static void bf_on_commands(bf_agent *a, const Ospec__V1__Commands *c)
{
	uint64_t cur = atomic_load(&a->cursor);

	for (size_t i = 0; i < c->n_entries; i++) {
		const Ospec__V1__Command *cmd = c->entries[i];
		if (cmd->seq <= cur)
			continue;
		if (cmd->kind_case == OSPEC__V1__COMMAND__KIND_STAGE && a->stage_rx == 0) {
			a->stage_rx = bench_now_ns();
			atomic_fetch_add(&a->sim->staged, 1);
		}
		bf_send_result(a, cmd);
		return;
	}
	bf_send_poll(a);
}

/* bf_on_registered starts the heartbeat loop (once) and the first poll. */
static void bf_on_registered(bf_agent *a)
{
	bf_sim *s = a->sim;

	a->backoff_ms = BF_BACKOFF_MIN_MS;
	a->away_since = 0;
	a->reg_last = bench_now_ns();
	atomic_fetch_add(&s->registers, 1);
	if (a->reg_done == 0) {
		a->reg_done = bench_now_ns();
		atomic_fetch_add(&s->registered, 1);
	}
	atomic_store(&a->registered, true);
	if (!a->hb_started) {
		/* real agents are spread over the interval */
		int64_t j = (int64_t)((unsigned)rand_r(&a->seed) % (unsigned)s->hb_ms);
		a->hb_started = true;
		a->hb_next = bench_now_ns() + j * 1000000;
		nng_sleep_aio((nng_duration)j, a->htimer);
	}
	bf_send_poll(a);
}

/* bf_poll_reply handles a decoded reply on the poll context. */
static void bf_poll_reply(bf_agent *a, const osp_env *e)
{
	bf_sim *s = a->sim;

	if (e->body_case == OSPEC__V1__ENVELOPE__BODY_ERROR) {
		atomic_fetch_add(&s->errors, 1);
		bf_poll_fail(a, 0);
	} else if (a->preq == BF_REQ_HELLO && e->body_case == OSPEC__V1__ENVELOPE__BODY_CHALLENGE &&
		e->challenge->nonce.len == OSP_WIRE_NONCE_LEN) {
		memcpy(a->nonce, e->challenge->nonce.data, OSP_WIRE_NONCE_LEN);
		bf_send_register(a);
	} else if (a->preq == BF_REQ_REGISTER &&
		e->body_case == OSPEC__V1__ENVELOPE__BODY_REGISTERED) {
		bf_on_registered(a);
	} else if (a->preq == BF_REQ_POLL && e->body_case == OSPEC__V1__ENVELOPE__BODY_COMMANDS) {
		bf_on_commands(a, e->commands);
	} else if (a->preq == BF_REQ_RESULT && e->body_case == OSPEC__V1__ENVELOPE__BODY_ACK) {
		atomic_store(&a->cursor, a->result_seq);
		bf_bg_acked(&a->bg);
		if (a->stage_rx != 0 && a->acked_at == 0) {
			a->acked_at = bench_now_ns();
			atomic_fetch_add(&s->acked, 1);
		}
		bf_send_poll(a);
	} else {
		atomic_fetch_add(&s->errors, 1);
		bf_poll_fail(a, 0);
	}
}

static void bf_poll_cb(void *arg)
{
	bf_agent *a = arg;
	int rv = nng_aio_result(a->paio);
	nng_msg *m;
	osp_env *e = NULL;
	char err[256];

	if (atomic_load(&a->sim->stopping) || rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
		if (a->pio == BF_IO_SEND && rv != 0)
			nng_msg_free(nng_aio_get_msg(a->paio));
		a->pio = BF_IO_IDLE;
		return;
	}
	switch (a->pio) {
	case BF_IO_SEND:
		if (rv != 0) {
			nng_msg_free(nng_aio_get_msg(a->paio));
			bf_poll_fail(a, rv);
			return;
		}
		a->pio = BF_IO_RECV;
		nng_ctx_recv(a->pctx, a->paio);
		return;
	case BF_IO_RECV:
		if (rv != 0) {
			bf_poll_fail(a, rv);
			return;
		}
		m = nng_aio_get_msg(a->paio);
		nng_aio_set_msg(a->paio, NULL);
		if (m == NULL) {
			atomic_fetch_add(&a->sim->errors, 1);
			bf_poll_fail(a, 0);
			return;
		}
		rv = osp_wire_decode(nng_msg_body(m), nng_msg_len(m), &e, err, sizeof(err));
		nng_msg_free(m);
		if (rv != OSP_OK) {
			osp_wire_free(e);
			atomic_fetch_add(&a->sim->errors, 1);
			bf_poll_fail(a, 0);
			return;
		}
		bf_poll_reply(a, e);
		osp_wire_free(e);
		return;
	default:
		return;
	}
}

/* bf_hb_sleep sleeps until the next heartbeat is due (every hb_ms). */
static void bf_hb_sleep(bf_agent *a)
{
	int64_t now = bench_now_ns(), ms;

	a->hb_next += (int64_t)a->sim->hb_ms * 1000000;
	if (a->hb_next < now)
		a->hb_next = now;
	ms = (a->hb_next - now) / 1000000;
	a->hio = BF_IO_IDLE;
	nng_sleep_aio((nng_duration)(ms > 0 ? ms : 1), a->htimer);
}

static void bf_hb_send(bf_agent *a)
{
	osp_env env;
	Ospec__V1__Heartbeat h;
	Ospec__V1__AppState apps[3], *appp[3];

	if (!atomic_load(&a->registered)) {
		bf_hb_sleep(a);
		return;
	}
	osp_wire_env_init(&env, NULL, NULL, 0);
	ospec__v1__heartbeat__init(&h);
	h.has_cursor = 1;
	h.cursor = atomic_load(&a->cursor);
	bf_apps_fill(apps, appp);
	h.n_apps = 3;
	h.apps = appp;
	env.body_case = OSPEC__V1__ENVELOPE__BODY_HEARTBEAT;
	env.heartbeat = &h;
	a->hb_sent = bench_now_ns();
	if (bf_send(a, a->hctx, a->haio, &a->hio, &env, 2 * a->sim->hb_ms) != 0)
		bf_hb_sleep(a);
}

/* bf_hb_done records one heartbeat round trip (while measuring). */
static void bf_hb_done(bf_agent *a)
{
	bf_sim *s = a->sim;
	nng_msg *m = nng_aio_get_msg(a->haio);
	int64_t rtt = bench_now_ns() - a->hb_sent;
	osp_env *e = NULL;
	char err[256];

	nng_aio_set_msg(a->haio, NULL);
	if (m == NULL) {
		atomic_fetch_add(&s->errors, 1);
		return;
	}
	if (osp_wire_decode(nng_msg_body(m), nng_msg_len(m), &e, err, sizeof(err)) != OSP_OK ||
		e->body_case != OSPEC__V1__ENVELOPE__BODY_HEARTBEAT_ACK) {
		atomic_fetch_add(&s->errors, 1);
	} else {
		atomic_fetch_add(&s->heartbeats, 1);
		if (atomic_load(&s->hb_on)) {
			pthread_mutex_lock(&s->mtx);
			bench_samples_add(&s->hb, rtt);
			pthread_mutex_unlock(&s->mtx);
		}
	}
	osp_wire_free(e);
	nng_msg_free(m);
}

static void bf_hb_cb(void *arg)
{
	bf_agent *a = arg;
	int rv = nng_aio_result(a->haio);

	if (atomic_load(&a->sim->stopping) || rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
		if (a->hio == BF_IO_SEND && rv != 0)
			nng_msg_free(nng_aio_get_msg(a->haio));
		a->hio = BF_IO_IDLE;
		return;
	}
	switch (a->hio) {
	case BF_IO_SEND:
		if (rv != 0) {
			nng_msg_free(nng_aio_get_msg(a->haio));
			if (rv == NNG_ETIMEDOUT)
				atomic_fetch_add(&a->sim->timeouts, 1);
			bf_hb_sleep(a);
			return;
		}
		a->hio = BF_IO_RECV;
		nng_ctx_recv(a->hctx, a->haio);
		return;
	case BF_IO_RECV:
		if (rv == 0)
			bf_hb_done(a);
		else if (rv == NNG_ETIMEDOUT)
			atomic_fetch_add(&a->sim->timeouts, 1);
		bf_hb_sleep(a);
		return;
	default:
		return;
	}
}

/* bf_dial dials a's coordinator in the background (hello waits for it). */
static void bf_dial(bf_agent *a)
{
	if (nng_dialer_create(&a->dialer, a->sock, a->sim->url) != 0 ||
		nng_dialer_start(a->dialer, NNG_FLAG_NONBLOCK) != 0)
		atomic_fetch_add(&a->sim->errors, 1);
}

/* bf_ptimer_cb ends a nap of the poll side: without a connection a fresh
 * dialer first (agent_dial, on the redial thread), then hello again. */
static void bf_ptimer_cb(void *arg)
{
	bf_agent *a = arg;
	bf_sim *s = a->sim;

	if (atomic_load(&s->stopping) || nng_aio_result(a->ptimer) != 0)
		return;
	if (atomic_load(&a->pipe_id) != 0) {
		bf_send_hello(a);
		return;
	}
	pthread_mutex_lock(&s->rmtx);
	s->rq[(s->rq_head + s->rq_len++) % s->n] = a->idx; /* one nap each: never full */
	pthread_cond_signal(&s->rcv);
	pthread_mutex_unlock(&s->rmtx);
}

/* bf_redial_main closes the dialers of the agents queued by bf_ptimer_cb,
 * dials anew and sends their hello. */
static void *bf_redial_main(void *arg)
{
	bf_sim *s = arg;

	pthread_mutex_lock(&s->rmtx);
	while (!atomic_load(&s->stopping)) {
		bf_agent *a;

		if (s->rq_len == 0) {
			pthread_cond_wait(&s->rcv, &s->rmtx);
			continue;
		}
		a = &s->agents[s->rq[s->rq_head]];
		s->rq_head = (s->rq_head + 1) % s->n;
		s->rq_len--;
		pthread_mutex_unlock(&s->rmtx);
		nng_dialer_close(a->dialer);
		bf_dial(a);
		bf_send_hello(a);
		pthread_mutex_lock(&s->rmtx);
	}
	pthread_mutex_unlock(&s->rmtx);
	return NULL;
}

/* bf_pipe_cb tracks a's connection (agent_dial_pipe_cb). */
static void bf_pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	bf_agent *a = arg;
	uint_fast32_t id = (uint_fast32_t)nng_pipe_id(p);

	if (ev == NNG_PIPE_EV_ADD_POST)
		atomic_store(&a->pipe_id, id);
	else
		atomic_compare_exchange_strong(&a->pipe_id, &id, 0);
}

/* bf_htimer_cb: the next heartbeat is due. */
static void bf_htimer_cb(void *arg)
{
	bf_agent *a = arg;

	if (atomic_load(&a->sim->stopping) || nng_aio_result(a->htimer) != 0)
		return;
	bf_hb_send(a);
}

/* bf_agent_open makes agent i's socket, contexts and aios. */
static int bf_agent_open(bf_sim *s, size_t i, char *err, size_t errlen)
{
	bf_agent *a = &s->agents[i];
	int rv;

	a->sim = s;
	a->idx = i;
	a->seed = (unsigned)(i * 2654435761u + 1);
	a->backoff_ms = BF_BACKOFF_MIN_MS;
	atomic_init(&a->msg_id, 1);
	atomic_init(&a->cursor, 0);
	atomic_init(&a->registered, false);
	snprintf(a->id, sizeof(a->id), "sim-%05zu", i);
	if (osp_uuid_new(a->uuid) != OSP_OK) {
		snprintf(err, errlen, "no randomness for a uuid");
		return -1;
	}
	if ((rv = nng_req0_open(&a->sock)) != 0 ||
		(rv = nng_socket_set_size(a->sock, NNG_OPT_RECVMAXSZ, OSP_WIRE_MAX_MSG)) != 0 ||
		(rv = nng_socket_set_ms(a->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE)) !=
			0 ||
		(rv = nng_socket_set_ms(a->sock, NNG_OPT_RECONNMINT, AGENT_RECONNECT_SPREAD_MS)) !=
			0 ||
		(rv = nng_socket_set_ms(a->sock, NNG_OPT_RECONNMAXT, AGENT_RECONNECT_SPREAD_MS)) !=
			0 ||
		(rv = nng_pipe_notify(a->sock, NNG_PIPE_EV_ADD_POST, bf_pipe_cb, a)) != 0 ||
		(rv = nng_pipe_notify(a->sock, NNG_PIPE_EV_REM_POST, bf_pipe_cb, a)) != 0 ||
		(rv = nng_ctx_open(&a->pctx, a->sock)) != 0 ||
		(rv = nng_ctx_open(&a->hctx, a->sock)) != 0 ||
		(rv = nng_aio_alloc(&a->paio, bf_poll_cb, a)) != 0 ||
		(rv = nng_aio_alloc(&a->haio, bf_hb_cb, a)) != 0 ||
		(rv = nng_aio_alloc(&a->ptimer, bf_ptimer_cb, a)) != 0 ||
		(rv = nng_aio_alloc(&a->htimer, bf_htimer_cb, a)) != 0) {
		snprintf(err, errlen, "agent %zu: %s", i, nng_strerror(rv));
		return -1;
	}
	return 0;
}

int bf_sim_open(const char *url, size_t n, int hb_ms, bf_sim **out, char *err, size_t errlen)
{
	bf_sim *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (s == NULL || (s->agents = calloc(n, sizeof(*s->agents))) == NULL) {
		free(s);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	osp_strlcpy(s->url, url, sizeof(s->url));
	s->n = n;
	s->hb_ms = hb_ms > 0 ? hb_ms : 1000;
	pthread_mutex_init(&s->mtx, NULL);
	pthread_mutex_init(&s->rmtx, NULL);
	pthread_cond_init(&s->rcv, NULL);
	if ((s->rq = calloc(n, sizeof(*s->rq))) == NULL ||
		pthread_create(&s->redialer, NULL, bf_redial_main, s) != 0) {
		snprintf(err, errlen, "out of memory or threads");
		s->n = 0;
		bf_sim_close(s);
		return -1;
	}
	s->redialer_started = true;
	for (size_t i = 0; i < n; i++) {
		if (bf_agent_open(s, i, err, errlen) != 0) {
			s->n = i + 1; /* close what was opened */
			bf_sim_close(s);
			return -1;
		}
	}
	*out = s;
	return 0;
}

void bf_sim_start(bf_sim *s)
{
	s->t0 = bench_now_ns();
	for (size_t i = 0; i < s->n; i++) {
		bf_agent *a = &s->agents[i];
		/* non-blocking: the hello waits in the context until connected */
		bf_dial(a);
		bf_send_hello(a);
	}
}

void bf_sim_counters_get(bf_sim *s, bf_sim_counters *c)
{
	c->registered = atomic_load(&s->registered);
	c->registers = atomic_load(&s->registers);
	c->reg_retries = atomic_load(&s->reg_retries);
	c->errors = atomic_load(&s->errors);
	c->timeouts = atomic_load(&s->timeouts);
	c->heartbeats = atomic_load(&s->heartbeats);
	c->staged = atomic_load(&s->staged);
	c->acked = atomic_load(&s->acked);
}

void bf_sim_reg_times(bf_sim *s, bench_samples *out)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->agents[i].reg_done != 0)
			bench_samples_add(out, s->agents[i].reg_done - s->t0);
}

void bf_sim_reg_since(bf_sim *s, int64_t t0, bench_samples *out)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->agents[i].reg_last >= t0)
			bench_samples_add(out, s->agents[i].reg_last - t0);
}

void bf_sim_hb_measure(bf_sim *s, bool on)
{
	atomic_store(&s->hb_on, on);
}

void bf_sim_hb_samples(bf_sim *s, bench_samples *out)
{
	pthread_mutex_lock(&s->mtx);
	for (size_t i = 0; i < s->hb.n; i++)
		bench_samples_add(out, s->hb.v[i]);
	bench_samples_fini(&s->hb);
	pthread_mutex_unlock(&s->mtx);
}

void bf_sim_deploy_times(bf_sim *s, int64_t t0, bench_samples *stage, bench_samples *acked)
{
	for (size_t i = 0; i < s->n; i++) {
		const bf_agent *a = &s->agents[i];
		if (a->stage_rx != 0)
			bench_samples_add(stage, a->stage_rx - t0);
		if (a->acked_at != 0)
			bench_samples_add(acked, a->acked_at - t0);
	}
}

void bf_sim_close(bf_sim *s)
{
	if (s == NULL)
		return;
	atomic_store(&s->stopping, true);
	if (s->redialer_started) {
		pthread_mutex_lock(&s->rmtx);
		pthread_cond_signal(&s->rcv);
		pthread_mutex_unlock(&s->rmtx);
		pthread_join(s->redialer, NULL);
	}
	/* stop every callback first, then close the sockets, then free */
	for (size_t i = 0; i < s->n; i++) {
		bf_agent *a = &s->agents[i];
		nng_aio *aios[4] = { a->ptimer, a->htimer, a->paio, a->haio };
		for (int k = 0; k < 4; k++)
			if (aios[k] != NULL)
				nng_aio_stop(aios[k]);
	}
	for (size_t i = 0; i < s->n; i++)
		if (nng_socket_id(s->agents[i].sock) > 0)
			nng_close(s->agents[i].sock);
	for (size_t i = 0; i < s->n; i++) {
		nng_aio_free(s->agents[i].paio);
		nng_aio_free(s->agents[i].haio);
		nng_aio_free(s->agents[i].ptimer);
		nng_aio_free(s->agents[i].htimer);
	}
	bench_samples_fini(&s->hb);
	pthread_mutex_destroy(&s->mtx);
	pthread_mutex_destroy(&s->rmtx);
	pthread_cond_destroy(&s->rcv);
	free(s->rq);
	free(s->agents);
	free(s);
}

void bf_sim_kind_times(bf_sim *s, bf_kind k, int64_t since, int64_t t0, bench_samples *rx,
	bench_samples *acked)
{
	for (size_t i = 0; i < s->n; i++)
		bf_bg_times(&s->agents[i].bg, k, since, t0, rx, acked);
}

size_t bf_sim_kind_acked(bf_sim *s, bf_kind k, int64_t since)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n; i++)
		n += bf_bg_times(&s->agents[i].bg, k, since, 0, NULL, NULL);
	return n;
}

uint64_t bf_sim_bg_refused(bf_sim *s)
{
	uint64_t n = 0;

	for (size_t i = 0; i < s->n; i++)
		n += atomic_load(&s->agents[i].bg.refused);
	return n;
}
