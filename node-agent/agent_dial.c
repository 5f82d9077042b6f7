/*
 * agent_dial.c - the agent's connection to the coordinator. The session
 * thread dials, in the foreground and on its own schedule
 * (agent_reconnect_delay): bounded, jittered, growing with the outage.
 *
 * nng's own redial is not used for that: after a lost connection it waits a
 * random time below a back-off that doubles at every refused attempt up to
 * NNG_OPT_RECONNMAXT, and nng 1.5.2 takes half of those waits as zero (a
 * signed modulo in dialer_timer_start_locked), so a few attempts during a
 * coordinator's short restart could push an agent's next one 30 s away: a
 * fleet of 200 took 15-32 s to come back (docs/benchmarks.md, "Restart").
 * A dialer whose connection is gone is therefore closed and replaced; nng's
 * redial only covers the moments before the session thread notices.
 *
 * With several coordinator URLs (a highly available coordinator: only the
 * leader listens) the session follows the leader: agent_follow says which
 * URL is dialled and when a round over all of them is over (agent.h).
 */
#include <stdio.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

#include "agent.h"
#include "ospec/tls.h"

int64_t agent_reconnect_delay(int64_t away_ms, uint32_t rnd)
{
	int64_t cap = away_ms > 0 ? away_ms / AGENT_RECONNECT_AWAY_DIV : 0;

	if (cap < AGENT_RECONNECT_SPREAD_MS)
		cap = AGENT_RECONNECT_SPREAD_MS;
	if (cap > AGENT_RECONNECT_MAX_MS)
		cap = AGENT_RECONNECT_MAX_MS;
	/* full jitter: uniform over the window, so a fleet arrives evenly */
	return (int64_t)(rnd % (uint32_t)cap);
}

void agent_follow_init(agent_follow *f, size_t n)
{
	f->n = n > 0 ? n : 1;
	f->at = 0;
	f->failed = 0;
}

bool agent_follow_failed(agent_follow *f)
{
	f->at = (f->at + 1) % f->n;
	if (++f->failed < f->n)
		return false;
	f->failed = 0; /* the next round begins */
	return true;
}

void agent_follow_ok(agent_follow *f)
{
	f->failed = 0;
}

const char *agent_dial_url(agent *a)
{
	size_t at = atomic_load(&a->coord_at);

	return at < a->cfg->ncoordinators ? a->cfg->coordinators[at] : a->cfg->coordinator;
}

bool agent_dial_move(agent *a)
{
	bool round = agent_follow_failed(&a->follow);

	a->redial = a->follow.n > 1;
	atomic_store(&a->coord_at, a->follow.at);
	return round;
}

/* agent_dial_pipe_cb tracks the connection: its pipe id while it is up. */
static void agent_dial_pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	agent *a = arg;
	uint_fast32_t id = (uint_fast32_t)nng_pipe_id(p);

	if (ev == NNG_PIPE_EV_ADD_POST) {
		atomic_store(&a->pipe_id, id);
		return;
	}
	/* the pipe of a replaced dialer may go after the new one came */
	atomic_compare_exchange_strong(&a->pipe_id, &id, 0);
}

bool agent_dial_connected(agent *a)
{
	return atomic_load(&a->pipe_id) != 0;
}

/* agent_dial_tls_why explains a failed TLS dial. */
static const char *agent_dial_tls_why(int rv)
{
	switch (rv) {
	case NNG_ECRYPTO:
	case NNG_EPEERAUTH:
		/* nng says no more: it is either side's refusal */
		return "the coordinator's certificate is not signed by our CA or not made for "
		       "the host name we dialed (refusing to talk to it), or the coordinator "
		       "refused our certificate";
	case NNG_ECONNSHUT:
	case NNG_ECONNRESET:
	case NNG_ECLOSED:
		return "the coordinator closed the connection during the handshake: is our "
		       "certificate signed by its CA?";
	default:
		return "the coordinator is not reachable";
	}
}

/* agent_dial_tls_log says how a TLS dial went (nng's background redials are
 * silent); a failure like the previous one (*last) at debug level only. */
static void agent_dial_tls_log(agent *a, int rv, int *last)
{
	if (rv == 0) {
		OSP_INFO("AGENT-TLS-CONNECTED", "TLS connection to '%s' verified",
			agent_dial_url(a));
	} else if (rv == *last) {
		OSP_DEBUG("AGENT-TLS-FAIL", "TLS dial to '%s' failed again: %s",
			agent_dial_url(a), nng_strerror(rv));
	} else if (rv == NNG_ECONNREFUSED || rv == NNG_ETIMEDOUT || rv == NNG_EUNREACHABLE ||
		rv == NNG_EADDRINVAL) {
		OSP_INFO("AGENT-TLS-FAIL", "cannot reach '%s': %s (retrying)",
			agent_dial_url(a), nng_strerror(rv));
	} else {
		OSP_ERROR("AGENT-TLS-FAIL", "TLS handshake with '%s' failed: %s: %s (retrying)",
			agent_dial_url(a), nng_strerror(rv), agent_dial_tls_why(rv));
	}
	*last = rv;
}

/* agent_dial_new creates a dialer for coordinator URL at (with its TLS
 * configuration if any), not started. */
static int agent_dial_new(agent *a, size_t at, nng_dialer *d)
{
	nng_tls_config *tls = a->tls[at];
	int rv = nng_dialer_create(d, a->sock, a->cfg->coordinators[at]);

	if (rv == 0 && tls != NULL && (rv = nng_dialer_set_ptr(*d, NNG_OPT_TLS_CONFIG, tls)) != 0)
		nng_dialer_close(*d);
	return rv;
}

osp_err agent_dial(agent *a, int *last)
{
	nng_dialer d;
	int rv;

	if (a->dial_started) {
		/* its connection is gone (or another URL's turn came): close it
		 * with nng's redial, dial anew */
		nng_dialer_close(a->dialer);
		a->redial = false;
		if ((rv = agent_dial_new(a, atomic_load(&a->coord_at), &d)) != 0) {
			snprintf(a->register_err, sizeof(a->register_err), "cannot dial: %s",
				nng_strerror(rv));
			return osp_nng_err(rv);
		}
		a->dialer = d;
	}
	a->dial_started = true;
	/* in the foreground: the result is known, and nothing retries behind
	 * our back; agent_stop's nng_close ends a dial in progress */
	rv = nng_dialer_start(a->dialer, 0);
	if (atomic_load(&a->stopping))
		return OSP_ECLOSED;
	if (a->tls[0] != NULL)
		agent_dial_tls_log(a, rv, last);
	if (rv == 0) {
		*last = 0;
		return OSP_OK;
	}
	snprintf(a->register_err, sizeof(a->register_err), "cannot connect: %s",
		nng_strerror(rv));
	/* a certificate refused (logged above) is no outage: it backs off like
	 * a refused register, sparing the coordinator a handshake a second */
	if (rv == NNG_ECRYPTO || rv == NNG_EPEERAUTH)
		return OSP_EREFUSED;
	return osp_nng_err(rv);
}

/* agent_dial_tls_url makes the TLS client configuration of URL at: our
 * certificate, the coordinator's verified against the CA and that URL's
 * host. Logs what is wrong; OSP_ECONFIG. */
static osp_err agent_dial_tls_url(agent *a, size_t at)
{
	const char *url = a->cfg->coordinators[at];
	char host[256], err[512];

	if (osp_tls_url_host(url, host, sizeof(host)) != OSP_OK) {
		OSP_ERROR("AGENT-TLS-CONFIG", "no host name in '%s'", url);
		return OSP_ECONFIG;
	}
	if (osp_tls_client_config(a->cfg->tls_ca, a->cfg->tls_cert, a->cfg->tls_key, host,
		    &a->tls[at], err, sizeof(err)) != OSP_OK) {
		OSP_ERROR("AGENT-TLS-CONFIG", "%s", err);
		return OSP_ECONFIG;
	}
	return OSP_OK;
}

/* agent_dial_tls_config makes the TLS client configuration of every URL
 * and checks our certificate against the CA once. Logs what is wrong;
 * OSP_ECONFIG. */
static osp_err agent_dial_tls_config(agent *a)
{
	char err[512];

	for (size_t i = 0; i < a->cfg->ncoordinators; i++)
		if (agent_dial_tls_url(a, i) != OSP_OK)
			return OSP_ECONFIG;
	/* a handshake failure says nothing more than "cryptographic error":
	 * say now what can be seen from here */
	if (osp_tls_check_cert(a->cfg->tls_ca, a->cfg->tls_cert, err, sizeof(err)) != OSP_OK)
		OSP_WARN("AGENT-TLS-CONFIG", "%s: a coordinator whose CA is that one will refuse us",
			err);
	return OSP_OK;
}

osp_err agent_dial_init(agent *a)
{
	int rv;

	/* nng redials only until the session thread notices (agent_dial): at
	 * most this long, never doubled */
	nng_socket_set_ms(a->sock, NNG_OPT_RECONNMINT, AGENT_RECONNECT_SPREAD_MS);
	nng_socket_set_ms(a->sock, NNG_OPT_RECONNMAXT, AGENT_RECONNECT_SPREAD_MS);
	if ((rv = nng_pipe_notify(a->sock, NNG_PIPE_EV_ADD_POST, agent_dial_pipe_cb, a)) != 0 ||
		(rv = nng_pipe_notify(a->sock, NNG_PIPE_EV_REM_POST, agent_dial_pipe_cb, a)) != 0)
		return osp_nng_err(rv);
	if (a->cfg->ncoordinators == 0) {
		OSP_ERROR("AGENT-DIAL", "no coordinator URL");
		return OSP_ECONFIG;
	}
	agent_follow_init(&a->follow, a->cfg->ncoordinators);
	atomic_store(&a->coord_at, 0);
	if (osp_tls_url_is_tls(a->cfg->coordinators[0]) && agent_dial_tls_config(a) != OSP_OK)
		return OSP_ECONFIG;
	/* created now so that a bad URL fails the start; the first one is
	 * started by the session thread */
	for (size_t i = a->cfg->ncoordinators; i-- > 0;) {
		if ((rv = agent_dial_new(a, i, &a->dialer)) != 0) {
			OSP_ERROR("AGENT-DIAL", "cannot dial '%s': %s", a->cfg->coordinators[i],
				nng_strerror(rv));
			return osp_nng_err(rv);
		}
		if (i > 0)
			nng_dialer_close(a->dialer);
	}
	return OSP_OK;
}

void agent_dial_fini(agent *a)
{
	/* the socket is closed (agent_stop): its dialers went with it */
	for (size_t i = 0; i < AGENT_MAX_COORDINATORS; i++) {
		if (a->tls[i] != NULL)
			nng_tls_config_free(a->tls[i]);
		a->tls[i] = NULL;
	}
}
