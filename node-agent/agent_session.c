/*
 * agent_session.c - the agent's side of the protocol: dial (agent_dial.c:
 * bounded, jittered pauses after a lost coordinator), hello + register, poll
 * with the cursor, execute, record, report. A second thread heartbeats.
 * Nothing here exits because the coordinator is away.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "agent.h"
#include "agent_logs.h"
#include "ospec/tls.h"
#include "ospec/fault.h"

#define AGENT_REQ_TIMEOUT_MS 5000
#define AGENT_BACKOFF_MIN_MS 250
#define AGENT_BACKOFF_MAX_MS 30000
#define AGENT_AWAY_WARN_MS 60000       /* failed registers log at warn after this */
#define AGENT_FAIL_LOG_FIRST 3         /* failed attempts logged each; then one a minute */
#define AGENT_SESSION_STABLE_MS 30000  /* a session this long resets the backoff */

/* agent_jitter returns a random duration in [ms/2, ms]. */
static int64_t agent_jitter(int64_t ms)
{
	uint32_t r = 0;

	osp_random_bytes(&r, sizeof(r));
	return ms / 2 + (int64_t)(r % (uint32_t)(ms / 2 + 1));
}

/* agent_nap sleeps ms in small steps so a stop is noticed quickly. */
static void agent_nap(agent *a, int64_t ms)
{
	int64_t end = osp_now_mono_ms() + ms;

	while (!atomic_load(&a->stopping) && osp_now_mono_ms() < end)
		osp_sleep_ms(50);
}

osp_err agent_alloc(const agent_cfg *cfg, agent_store *store, agent **out, char *err,
	size_t errlen)
{
	agent *a = calloc(1, sizeof(*a));
	char stored_id[OSP_WIRE_MAX_ID + 1];
	osp_err rv;

	if (a == NULL)
		return OSP_ENOMEM;
	a->cfg = cfg;
	a->store = store;
	pthread_mutex_init(&a->mtx, NULL);
	atomic_init(&a->msg_id, 1);
	atomic_init(&a->heartbeat_ms, 5000);
	osp_strlcpy(a->id, cfg->id, sizeof(a->id));
	rv = store->ops->meta_get(store, "node_id", stored_id, sizeof(stored_id));
	if (rv == OSP_OK && strcmp(stored_id, a->id) != 0) {
		snprintf(err, errlen,
			"state dir '%s' belongs to node '%s', not '%s' (use another --state)",
			cfg->state, stored_id, a->id);
		rv = OSP_ECONFIG;
		goto fail;
	}
	rv = store->ops->meta_get(store, "instance_uuid", a->uuid, sizeof(a->uuid));
	if (rv == OSP_ENOENT) {
		/* first start: this installation's identity, kept for good */
		if ((rv = osp_uuid_new(a->uuid)) != OSP_OK ||
			(rv = store->ops->meta_put(store, "node_id", a->id)) != OSP_OK ||
			(rv = store->ops->meta_put(store, "instance_uuid", a->uuid)) != OSP_OK) {
			snprintf(err, errlen, "cannot record the identity: %s", osp_strerror(rv));
			goto fail;
		}
		OSP_INFO("AGENT-IDENTITY-NEW", "node '%s' is instance %s", a->id, a->uuid);
	} else if (rv != OSP_OK) {
		snprintf(err, errlen, "cannot read the identity: %s", osp_strerror(rv));
		goto fail;
	}
	if ((rv = store->ops->cursor_get(store, &a->cursor)) != OSP_OK) {
		snprintf(err, errlen, "cannot read the cursor: %s", osp_strerror(rv));
		goto fail;
	}
	if ((rv = agent_dispatch_alloc(a, &a->dispatch)) != OSP_OK) {
		snprintf(err, errlen, "cannot start the command dispatcher: %s", osp_strerror(rv));
		goto fail;
	}
	*out = a;
	return OSP_OK;
fail:
	a->store = NULL; /* still the caller's on failure */
	agent_free(a);
	return rv;
}

void agent_free(agent *a)
{
	if (a == NULL)
		return;
	agent_dispatch_free(a->dispatch);
	agent_store_close(a->store);
	pthread_mutex_destroy(&a->mtx);
	free(a);
}

osp_err agent_request(agent *a, nng_ctx ctx, osp_env *env, int timeout_ms, osp_env **rep,
	Ospec__V1__ErrorCode *code, char *err, size_t errlen)
{
	nng_msg *m = NULL, *r = NULL;
	osp_env *e = NULL;
	osp_err rv;

	*rep = NULL;
	env->node_id = a->id;
	env->instance_uuid = a->uuid;
	env->has_msg_id = 1;
	env->msg_id = atomic_fetch_add(&a->msg_id, 1);
	if ((rv = osp_wire_encode(env, &m)) != OSP_OK) {
		snprintf(err, errlen, "cannot encode: %s", osp_strerror(rv));
		return rv;
	}
	if ((rv = osp_req_call(ctx, m, timeout_ms, &r)) != OSP_OK) {
		snprintf(err, errlen, "%s", osp_strerror(rv));
		return rv;
	}
	rv = osp_wire_decode(nng_msg_body(r), nng_msg_len(r), &e, err, errlen);
	nng_msg_free(r);
	if (rv != OSP_OK) {
		osp_wire_free(e);
		return rv;
	}
	if (e->body_case == OSPEC__V1__ENVELOPE__BODY_ERROR) {
		if (code != NULL)
			*code = e->error->code;
		snprintf(err, errlen, "%s", e->error->message ? e->error->message : "error");
		osp_wire_free(e);
		return OSP_EREFUSED;
	}
	*rep = e;
	return OSP_OK;
}

/* agent_tls_proof reads the certificate chain and key files and signs the
 * register message of nonce into reg (chain is the caller's to free, sig
 * OSP_TLS_MAX_SIG bytes). OSP_ECONFIG with err saying why. */
static osp_err agent_tls_proof(agent *a, const uint8_t *nonce, Ospec__V1__Register *reg,
	char **chain, size_t *chain_len, uint8_t *sig, char *err, size_t errlen)
{
	char *key = NULL, why[256];
	size_t key_len = 0, sig_len = 0;
	osp_err rv;

	/* read at every register: renewed files are used without a restart */
	if (osp_tls_read_pem(a->cfg->tls_cert, chain, chain_len) != OSP_OK) {
		snprintf(err, errlen, "cannot read certificate '%s'", a->cfg->tls_cert);
		return OSP_ECONFIG;
	}
	if (osp_tls_read_pem(a->cfg->tls_key, &key, &key_len) != OSP_OK) {
		snprintf(err, errlen, "cannot read key '%s'", a->cfg->tls_key);
		return OSP_ECONFIG;
	}
	rv = osp_tls_sign_register(key, nonce, OSP_WIRE_NONCE_LEN, a->id, a->uuid, sig,
		OSP_TLS_MAX_SIG, &sig_len, why, sizeof(why));
	osp_tls_pem_free(key, key_len);
	if (rv != OSP_OK) {
		snprintf(err, errlen, "cannot sign with key '%s': %s", a->cfg->tls_key, why);
		return OSP_ECONFIG;
	}
	reg->has_cert_chain_pem = 1;
	reg->cert_chain_pem.data = (uint8_t *)*chain;
	reg->cert_chain_pem.len = *chain_len;
	reg->has_signature = 1;
	reg->signature.data = sig;
	reg->signature.len = sig_len;
	return OSP_OK;
}

/* agent_hello asks for this connection's nonce (OSP_WIRE_NONCE_LEN bytes). */
static osp_err agent_hello(agent *a, uint8_t *nonce, Ospec__V1__ErrorCode *code, char *err,
	size_t errlen)
{
	osp_env env, *rep = NULL;
	Ospec__V1__Hello hello;
	osp_err rv;

	osp_wire_env_init(&env, NULL, NULL, 0);
	ospec__v1__hello__init(&hello);
	hello.agent_version = OSPEC_VERSION;
	env.body_case = OSPEC__V1__ENVELOPE__BODY_HELLO;
	env.hello = &hello;
	rv = agent_request(a, a->poll_ctx, &env, AGENT_REQ_TIMEOUT_MS, &rep, code, err, errlen);
	if (rv == OSP_OK && rep->body_case != OSPEC__V1__ENVELOPE__BODY_CHALLENGE) {
		rv = OSP_EDECODE;
		snprintf(err, errlen, "expected a challenge");
	}
	if (rv == OSP_OK)
		memcpy(nonce, rep->challenge->nonce.data, OSP_WIRE_NONCE_LEN);
	osp_wire_free(rep);
	return rv;
}

/* agent_register says hello and registers, with the apps report and the
 * in-doubt switches (the coordinator re-sends or presumes their decision). */
static osp_err agent_register(agent *a)
{
	osp_env env, *rep = NULL;
	Ospec__V1__Register reg;
	Ospec__V1__Label lbl[OSP_LABELS_MAX], *lblp[OSP_LABELS_MAX];
	Ospec__V1__AppState **apps = NULL;
	Ospec__V1__InDoubt **doubt = NULL;
	Ospec__V1__ErrorCode code = 0;
	uint8_t nonce[OSP_WIRE_NONCE_LEN], sig[OSP_TLS_MAX_SIG];
	char host[256] = "", err[512], *chain = NULL;
	size_t chain_len = 0;
	osp_err rv;

	if ((rv = agent_hello(a, nonce, &code, err, sizeof(err))) != OSP_OK)
		goto out;
	osp_wire_env_init(&env, NULL, NULL, 0);
	ospec__v1__register__init(&reg);
	reg.nonce.data = nonce;
	reg.nonce.len = sizeof(nonce);
	for (size_t i = 0; i < a->cfg->labels.n; i++) {
		ospec__v1__label__init(&lbl[i]);
		lbl[i].key = a->cfg->labels.keys[i];
		lbl[i].value = a->cfg->labels.vals[i];
		lblp[i] = &lbl[i];
	}
	reg.n_labels = a->cfg->labels.n;
	reg.labels = lblp;
	reg.has_cursor = 1;
	reg.cursor = a->cursor;
	gethostname(host, sizeof(host) - 1);
	reg.hostname = host;
	reg.agent_version = OSPEC_VERSION;
	if (osp_tls_url_is_tls(agent_dial_url(a)) &&
		(rv = agent_tls_proof(a, nonce, &reg, &chain, &chain_len, sig, err, sizeof(err))) !=
			OSP_OK)
		goto out;
	reg.n_apps = agent_dispatch_apps(a->dispatch, &apps);
	reg.apps = apps;
	reg.n_in_doubt = agent_dispatch_in_doubt(a->dispatch, &doubt);
	reg.in_doubt = doubt;
	env.body_case = OSPEC__V1__ENVELOPE__BODY_REGISTER;
	env.register_ = &reg;
	rv = agent_request(a, a->poll_ctx, &env, AGENT_REQ_TIMEOUT_MS, &rep, &code, err,
		sizeof(err));
	agent_dispatch_apps_free(apps, reg.n_apps);
	agent_dispatch_in_doubt_free(doubt, reg.n_in_doubt);
	if (rv != OSP_OK)
		goto out;
	if (rep->body_case != OSPEC__V1__ENVELOPE__BODY_REGISTERED) {
		rv = OSP_EDECODE;
		snprintf(err, sizeof(err), "expected registered");
		goto out;
	}
	/* the coordinator bounds both to 10 minutes (--heartbeat, --poll-hold):
	 * a bigger value is not from it, and would overflow the poll's timeout */
	if (rep->registered->heartbeat_ms >= 100 && rep->registered->heartbeat_ms <= 600000)
		atomic_store(&a->heartbeat_ms, rep->registered->heartbeat_ms);
	a->poll_hold_ms = rep->registered->has_poll_hold_ms ? rep->registered->poll_hold_ms
							     : 20000;
	if (a->poll_hold_ms > 600000)
		a->poll_hold_ms = 600000;
	atomic_store(&a->registered, true);
	OSP_INFO("AGENT-REGISTERED", "registered with '%s' as '%s' (cursor %llu)",
		agent_dial_url(a), a->id, (unsigned long long)a->cursor);
out:
	if (rv == OSP_EREFUSED && code == OSPEC__V1__ERROR_CODE__ERR_NOT_LEADER) {
		/* no refusal of us: another coordinator leads (the session moves on) */
		char said[256];
		rv = OSP_ESTATE;
		osp_strlcpy(said, err, sizeof(said));
		snprintf(err, sizeof(err), "not the leader: %s", said);
	}
	if (rv != OSP_OK) {
		if (rv == OSP_EREFUSED && code == OSPEC__V1__ERROR_CODE__ERR_REFUSED)
			OSP_ERROR("AGENT-REFUSED", "coordinator refused node '%s': %s", a->id, err);
		else if (rv == OSP_ECONFIG)
			OSP_ERROR("AGENT-TLS-FILES", "cannot prove node '%s': %s", a->id, err);
		/* the session loop logs it, with its backoff */
		osp_strlcpy(a->register_err, err, sizeof(a->register_err));
	}
	free(chain);
	osp_wire_free(rep);
	return rv;
}

/* agent_send_result reports one result; acknowledged results are marked. */
static osp_err agent_send_result(agent *a, const void *buf, size_t len)
{
	Ospec__V1__CommandResult *res = ospec__v1__command_result__unpack(NULL, len, buf);
	osp_env env, *rep = NULL;
	char err[512];
	osp_err rv;

	if (res == NULL)
		return OSP_EDECODE;
	osp_wire_env_init(&env, NULL, NULL, 0);
	env.body_case = OSPEC__V1__ENVELOPE__BODY_RESULT;
	env.result = res;
	rv = agent_request(a, a->poll_ctx, &env, AGENT_REQ_TIMEOUT_MS, &rep, NULL, err,
		sizeof(err));
	if (rv == OSP_OK)
		rv = a->store->ops->result_ack(a->store, res->seq);
	else
		OSP_DEBUG("AGENT-RESULT-UNSENT", "result %llu not delivered: %s",
			(unsigned long long)res->seq, err);
	osp_wire_free(rep);
	ospec__v1__command_result__free_unpacked(res, NULL);
	return rv;
}

static int agent_resend_cb(void *arg, const char *key, const void *val, size_t len)
{
	agent *a = arg;

	(void)key;
	if (agent_send_result(a, val, len) == OSP_OK)
		return 0;
	a->resend = true; /* again before the next poll */
	return 1;
}

/* agent_session_run_command runs one command (or answers a repeat from the record),
 * records the result durably with the cursor, then reports it. */
static bool agent_session_run_command(agent *a, const Ospec__V1__Command *cmd)
{
	Ospec__V1__CommandResult res;
	char msg[OSP_WIRE_MAX_TEXT];
	uint8_t *buf;
	size_t len;
	osp_err rv;

	if (cmd->seq <= a->cursor)
		return true; /* executed already; its result is re-sent if unacked */
	if (cmd->seq != a->cursor + 1)
		OSP_WARN("AGENT-CURSOR-GAP", "command %llu follows %llu",
			(unsigned long long)cmd->seq, (unsigned long long)a->cursor);
	ospec__v1__command_result__init(&res);
	msg[0] = '\0';
	agent_dispatch_run(a->dispatch, cmd, &res, msg, sizeof(msg));
	if (!agent_dispatch_result_stands((int)res.status, atomic_load(&a->stopping))) {
		/* most likely cut short by the stop (a cancelled fetch or health
		 * wait: a failure, a NO vote, a refused canary weight): not a
		 * result; the next start executes it again (handlers converge; a
		 * prepare votes again) */
		OSP_INFO("AGENT-CMD-INTERRUPTED", "command %llu interrupted by the stop, not "
			"recorded: %s", (unsigned long long)cmd->seq, msg);
		return false;
	}
	res.seq = cmd->seq;
	res.has_finished_ms = 1;
	res.finished_ms = (uint64_t)osp_now_wall_ms();
	len = ospec__v1__command_result__get_packed_size(&res);
	if ((buf = malloc(len ? len : 1)) == NULL)
		return false;
	ospec__v1__command_result__pack(&res, buf);
	rv = a->store->ops->result_put(a->store, cmd->seq, buf, len, false);
	if (rv != OSP_OK) {
		/* not recorded: do not advance; the coordinator re-sends it */
		OSP_ERROR("AGENT-STORE-FAIL", "cannot record result %llu: %s",
			(unsigned long long)cmd->seq, osp_strerror(rv));
		free(buf);
		agent_nap(a, 1000);
		return false; /* the rest of the batch waits: order matters */
	}
	a->cursor = cmd->seq;
	if (agent_send_result(a, buf, len) != OSP_OK)
		a->resend = true; /* re-sent before the next poll */
	free(buf);
	/* tests: a node that voted YES dies before it hears the decision */
	if (res.status == OSPEC__V1__RESULT_STATUS__RESULT_VOTE_YES)
		osp_fault_point("agent-after-vote");
	return true;
}

/* agent_session_gone: an Error with code ends the session (registered
 * again, or with the next coordinator URL when this one is not the leader). */
static bool agent_session_gone(Ospec__V1__ErrorCode code)
{
	return code == OSPEC__V1__ERROR_CODE__ERR_NOT_REGISTERED ||
		code == OSPEC__V1__ERROR_CODE__ERR_NOT_LEADER;
}

/* agent_poll_loop polls and executes until the connection or registration
 * is lost. */
static void agent_poll_loop(agent *a)
{
	while (!atomic_load(&a->stopping) && atomic_load(&a->registered)) {
		osp_env env, *rep = NULL;
		Ospec__V1__Poll poll;
		Ospec__V1__ErrorCode code = 0;
		char err[512];
		osp_err rv;

		if (a->resend) {
			/* a result the coordinator did not take: before anything else */
			a->resend = false;
			a->store->ops->result_unacked(a->store, agent_resend_cb, a);
		}
		osp_wire_env_init(&env, NULL, NULL, 0);
		ospec__v1__poll__init(&poll);
		poll.cursor = a->cursor;
		poll.has_max_entries = 1;
		poll.max_entries = 32;
		env.body_case = OSPEC__V1__ENVELOPE__BODY_POLL;
		env.poll = &poll;
		rv = agent_request(a, a->poll_ctx, &env, (int)a->poll_hold_ms + 10000, &rep, &code,
			err, sizeof(err));
		if (rv != OSP_OK) {
			if (rv != OSP_EREFUSED || agent_session_gone(code))
				atomic_store(&a->registered, false);
			OSP_INFO("AGENT-POLL-FAIL", "poll: %s", err);
			return;
		}
		if (rep->body_case == OSPEC__V1__ENVELOPE__BODY_COMMANDS) {
			/* log reads first: they are quick, and an operator waits
			 * for them while a Stage below may take a minute */
			agent_logs_answer(a, a->poll_ctx, rep->commands->logs,
				rep->commands->n_logs);
			for (size_t i = 0; i < rep->commands->n_entries; i++) {
				if (atomic_load(&a->stopping) ||
					!agent_session_run_command(a, rep->commands->entries[i]))
					break;
			}
		}
		osp_wire_free(rep);
	}
}

/* agent_backoff_next doubles a backoff up to AGENT_BACKOFF_MAX_MS. */
static int64_t agent_backoff_next(int64_t backoff)
{
	return backoff * 2 > AGENT_BACKOFF_MAX_MS ? AGENT_BACKOFF_MAX_MS : backoff * 2;
}

/* agent_rand returns 32 random bits. */
static uint32_t agent_rand(void)
{
	uint32_t r = 0;

	osp_random_bytes(&r, sizeof(r));
	return r;
}

/* agent_register_failed logs a failed dial or register at url with the
 * pause before the next, and the URL moved to (next, NULL: the same): the
 * first AGENT_FAIL_LOG_FIRST each, then one a minute (a coordinator away for
 * an hour is tried a few hundred times); info while the coordinator has been
 * away less than a minute, warn after that (an operator should look). */
static void agent_register_failed(agent *a, const char *url, const char *next,
	unsigned attempt, int64_t since, int64_t pause, int64_t *last_log)
{
	int64_t now = osp_now_mono_ms(), away = now - since;
	const char *why = a->register_err[0] ? a->register_err : "no answer";
	char dur[32], then[320] = "";

	osp_duration_fmt(pause, dur, sizeof(dur));
	if (next != NULL)
		snprintf(then, sizeof(then), " with '%.256s'", next);
	if (attempt > AGENT_FAIL_LOG_FIRST && now - *last_log < AGENT_AWAY_WARN_MS) {
		OSP_DEBUG("AGENT-REGISTER-FAIL", "attempt %u at '%s': %s; next try%s in %s",
			attempt, url, why, then, dur);
		return;
	}
	*last_log = now;
	if (away >= AGENT_AWAY_WARN_MS)
		OSP_WARN("AGENT-REGISTER-FAIL",
			"cannot register with '%s' for %llds (attempt %u): %s; next try%s in %s",
			url, (long long)(away / 1000), attempt, why, then, dur);
	else
		OSP_INFO("AGENT-REGISTER-FAIL", "cannot register with '%s' (attempt %u): %s; next "
			"try%s in %s", url, attempt, why, then, dur);
}

/* What the session loop keeps between attempts. */
typedef struct agent_retry {
	int64_t backoff;      /* after a refusal: doubled up to AGENT_BACKOFF_MAX_MS */
	int64_t lost_backoff; /* after a session that ended at once (agent_session_lost) */
	int64_t since;        /* monotonic ms since when no coordinator answers; 0: one does */
	int64_t last_log;     /* of agent_register_failed's rate limit */
	unsigned attempt;     /* failed dials and registers in a row */
} agent_retry;

/* agent_session_backoff returns the pause after a refusal or our own
 * configuration (they will not change soon): jittered, *backoff doubled. */
static int64_t agent_session_backoff(int64_t *backoff)
{
	int64_t pause = agent_jitter(*backoff);

	*backoff = agent_backoff_next(*backoff);
	return pause;
}

/* agent_session_retry says how long to wait after a failed dial (dial) or
 * register and logs it. A refused register or our configuration stays at
 * its URL and backs off (they log themselves); anything else, a certificate
 * refused at one of several URLs included, is a coordinator away: the next
 * URL is tried at once within a round (agent_follow), after
 * agent_reconnect_delay's bounded pause once a round is over. */
static int64_t agent_session_retry(agent *a, osp_err rv, bool dial, agent_retry *r)
{
	const char *url = agent_dial_url(a);
	int64_t now = osp_now_mono_ms(), pause;
	bool refused = rv == OSP_EREFUSED || rv == OSP_ECONFIG;

	if (r->since == 0)
		r->since = now;
	if (refused && !(dial && rv == OSP_EREFUSED && a->follow.n > 1))
		return agent_session_backoff(&r->backoff);
	if (agent_dial_move(a))
		pause = agent_reconnect_delay(now - r->since, agent_rand());
	else
		pause = (int64_t)(agent_rand() % AGENT_FOLLOW_SWITCH_MS);
	agent_register_failed(a, url, a->follow.n > 1 ? agent_dial_url(a) : NULL, ++r->attempt,
		r->since, pause, &r->last_log);
	return pause;
}

/* agent_session_lost says how long to wait after a session ended: a session
 * that lasted lost its coordinator (a restart: the fleet spreads over
 * AGENT_RECONNECT_SPREAD_MS); one that ended at once (a peer answering junk)
 * waits longer each time, *lost_backoff doubled up to AGENT_BACKOFF_MAX_MS. */
static int64_t agent_session_lost(int64_t began, int64_t *lost_backoff)
{
	int64_t pause;

	if (osp_now_mono_ms() - began >= AGENT_SESSION_STABLE_MS)
		*lost_backoff = AGENT_RECONNECT_SPREAD_MS;
	pause = (int64_t)(agent_rand() % (uint32_t)*lost_backoff);
	*lost_backoff = agent_backoff_next(*lost_backoff);
	return pause;
}

/* agent_session_ended says how long to wait after the session that began at
 * began ended, and logs it: as agent_session_lost with one coordinator URL;
 * with several the next is dialled, after less than AGENT_FOLLOW_SWITCH_MS
 * when the session was with a live leader (AGENT_FOLLOW_LIVE_MS): the one
 * that took over is found at once. */
static int64_t agent_session_ended(agent *a, int64_t began, agent_retry *r)
{
	const char *url = agent_dial_url(a);
	int64_t now = osp_now_mono_ms(), pause = agent_session_lost(began, &r->lost_backoff);

	r->since = now; /* away from now on */
	agent_dial_move(a);
	if (a->follow.n > 1 && now - began >= AGENT_FOLLOW_LIVE_MS)
		pause = (int64_t)(agent_rand() % AGENT_FOLLOW_SWITCH_MS);
	OSP_INFO("AGENT-SESSION-LOST", "session with '%s' lost after %llds; registering %s'%s' "
		"in %lld ms", url, (long long)((now - began) / 1000),
		a->follow.n > 1 ? "with " : "again with ", agent_dial_url(a), (long long)pause);
	return pause;
}

/* agent_session_up resets r after a register; logs a success after failures. */
static void agent_session_up(agent *a, agent_retry *r)
{
	if (r->attempt > 0)
		OSP_INFO("AGENT-REGISTERED", "registered after %u failed attempt%s", r->attempt,
			r->attempt == 1 ? "" : "s");
	agent_follow_ok(&a->follow);
	r->since = 0;
	r->attempt = 0;
	r->backoff = AGENT_BACKOFF_MIN_MS;
}

static void *agent_session_main(void *arg)
{
	agent *a = arg;
	agent_retry r = { .backoff = AGENT_BACKOFF_MIN_MS,
		.lost_backoff = AGENT_RECONNECT_SPREAD_MS };
	int64_t began;
	int dial_err = 0;

	while (!atomic_load(&a->stopping)) {
		bool dial_failed = false;
		osp_err rv = OSP_OK;

		a->register_err[0] = '\0';
		/* no connection (the first, it went, or another URL's turn) */
		if (!agent_dial_connected(a) || a->redial) {
			rv = agent_dial(a, &dial_err);
			dial_failed = rv != OSP_OK;
		}
		if (rv == OSP_OK)
			rv = agent_register(a);
		if (rv != OSP_OK) {
			if (atomic_load(&a->stopping))
				break;
			agent_nap(a, agent_session_retry(a, rv, dial_failed, &r));
			continue;
		}
		agent_session_up(a, &r);
		began = osp_now_mono_ms();
		/* results recorded while the coordinator was away */
		a->store->ops->result_unacked(a->store, agent_resend_cb, a);
		agent_poll_loop(a);
		if (atomic_load(&a->stopping))
			break;
		agent_nap(a, agent_session_ended(a, began, &r));
	}
	return NULL;
}

/* agent_heartbeat_once sends one heartbeat with the apps report. */
static void agent_heartbeat_once(agent *a, uint32_t hb)
{
	osp_env env, *rep = NULL;
	Ospec__V1__Heartbeat h;
	Ospec__V1__AppState **apps = NULL;
	Ospec__V1__ErrorCode code = 0;
	char err[512];
	osp_err rv;

	osp_wire_env_init(&env, NULL, NULL, 0);
	ospec__v1__heartbeat__init(&h);
	h.has_cursor = 1;
	h.cursor = a->cursor;
	h.n_apps = agent_dispatch_apps(a->dispatch, &apps);
	h.apps = apps;
	env.body_case = OSPEC__V1__ENVELOPE__BODY_HEARTBEAT;
	env.heartbeat = &h;
	rv = agent_request(a, a->hb_ctx, &env, (int)hb * 2, &rep, &code, err, sizeof(err));
	agent_dispatch_apps_free(apps, h.n_apps);
	if (rv == OSP_EREFUSED && agent_session_gone(code))
		atomic_store(&a->registered, false);
	else if (rv != OSP_OK)
		OSP_DEBUG("AGENT-HEARTBEAT-FAIL", "heartbeat: %s", err);
	/* a log read reaches the agent here too while the session thread
	 * executes a long command */
	if (rv == OSP_OK && rep->body_case == OSPEC__V1__ENVELOPE__BODY_HEARTBEAT_ACK)
		agent_logs_answer(a, a->hb_ctx, rep->heartbeat_ack->logs,
			rep->heartbeat_ack->n_logs);
	osp_wire_free(rep);
}

static void *agent_heartbeat_main(void *arg)
{
	agent *a = arg;
	int64_t next = 0;

	while (!atomic_load(&a->stopping)) {
		uint32_t hb = (uint32_t)atomic_load(&a->heartbeat_ms);
		int64_t now = osp_now_mono_ms();

		atomic_store(&a->hb_alive_ms, now);

		if (!atomic_load(&a->registered)) {
			next = 0; /* beat right after the next register */
		} else if (now >= next) {
			next = now + hb;
			agent_heartbeat_once(a, hb);
			continue;
		}
		osp_sleep_ms(50);
	}
	return NULL;
}

osp_err agent_start(agent *a)
{
	osp_err e;
	int rv;

	if ((rv = nng_req0_open(&a->sock)) != 0)
		return osp_nng_err(rv);
	nng_socket_set_size(a->sock, NNG_OPT_RECVMAXSZ, OSP_WIRE_MAX_MSG);
	/* never re-send on our own: a lost connection fails the request at once
	 * (NNG_ECONNRESET) and the session re-registers; the cursor re-sends */
	nng_socket_set_ms(a->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	if ((rv = nng_ctx_open(&a->poll_ctx, a->sock)) != 0 ||
		(rv = nng_ctx_open(&a->hb_ctx, a->sock)) != 0)
		return osp_nng_err(rv);
	/* the session thread dials */
	if ((e = agent_dial_init(a)) != OSP_OK)
		return e;
	agent_dispatch_restore(a->dispatch);
	if (pthread_create(&a->session_thread, NULL, agent_session_main, a) != 0)
		return OSP_EIO;
	if (pthread_create(&a->hb_thread, NULL, agent_heartbeat_main, a) != 0) {
		atomic_store(&a->stopping, true);
		nng_close(a->sock); /* a dial in progress ends */
		pthread_join(a->session_thread, NULL);
		return OSP_EIO;
	}
	a->threads_started = true;
	return OSP_OK;
}

void agent_stop(agent *a)
{
	atomic_store(&a->stopping, true);
	/* a download in flight stops too: its command runs again after the
	 * restart (agent_session_run_command does not record it) */
	agent_dispatch_cancel(a->dispatch);
	/* closing the socket fails the requests in flight at once */
	nng_close(a->sock);
	if (a->threads_started) {
		pthread_join(a->session_thread, NULL);
		pthread_join(a->hb_thread, NULL);
		a->threads_started = false;
	}
	agent_dial_fini(a);
}
