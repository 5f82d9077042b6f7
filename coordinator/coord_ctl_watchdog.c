/*
 * coord_ctl_watchdog.c - keeps the ipc:// control socket answering.
 *
 * nng 1.5.2 has a defect in its ipc transport: one connect(2) to the socket
 * that is closed before nng's handshake (any local process can do it; a
 * client killed at the wrong moment does it) leaves a pipe nng polls for
 * ever (EPOLLHUP, one core at 100%) and the listener accepts nothing more:
 * every ospecctl call times out until the coordinator restarts. Closing the
 * listener frees that pipe; listening again serves everyone. So a thread
 * asks its own control socket every COORD_CTL_WATCHDOG_MS, as ospecctl
 * would (a real nng handshake and request), and after two unanswered tries
 * in a row logs COORD-CTL-WEDGED and listens again. docs/security.md has the
 * reproduction; tests/hostile runs it against a live coordinator.
 */
#include <stdio.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "coord_control.h"
#include "ospec/v1/control.pb-c.h"

#define COORD_CTL_WATCHDOG_MS 2000
#define COORD_CTL_WATCHDOG_WAIT_MS 1500 /* for the answer: verbs are short */

/* coord_ctl_watchdog_ping asks url for an unknown verb; any answer means the
 * control socket serves. Returns true when it answered. */
static bool coord_ctl_watchdog_ping(const char *url)
{
	Ospec__V1__CtlRequest rq = OSPEC__V1__CTL_REQUEST__INIT;
	nng_socket s = NNG_SOCKET_INITIALIZER;
	nng_msg *m = NULL;
	bool ok = false;

	rq.version_major = 1;
	rq.verb = "watchdog.ping";
	if (nng_req0_open(&s) != 0)
		return true; /* cannot tell: never act on our own failure */
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, COORD_CTL_WATCHDOG_WAIT_MS);
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, COORD_CTL_WATCHDOG_WAIT_MS);
	nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, 0);
	if (nng_dial(s, url, NULL, 0) != 0 ||
		nng_msg_alloc(&m, ospec__v1__ctl_request__get_packed_size(&rq)) != 0)
		goto out;
	ospec__v1__ctl_request__pack(&rq, nng_msg_body(m));
	if (nng_sendmsg(s, m, 0) != 0)
		goto out;
	m = NULL; /* nng's now */
	if (nng_recvmsg(s, &m, 0) == 0)
		ok = true;
out:
	if (m != NULL)
		nng_msg_free(m);
	nng_close(s);
	return ok;
}

/* coord_ctl_watchdog_nap sleeps ms in short steps; false once stopping. */
static bool coord_ctl_watchdog_nap(coord *c, int64_t ms)
{
	for (int64_t t = 0; t < ms; t += 100) {
		if (atomic_load(&c->stopping))
			return false;
		osp_sleep_ms(100);
	}
	return !atomic_load(&c->stopping);
}

static void *coord_ctl_watchdog_main(void *arg)
{
	coord *c = arg;
	unsigned missed = 0;
	char err[512];

	while (coord_ctl_watchdog_nap(c, COORD_CTL_WATCHDOG_MS)) {
		if (coord_ctl_watchdog_ping(c->cfg.control)) {
			missed = 0;
			continue;
		}
		if (++missed < 2 || atomic_load(&c->stopping))
			continue;
		missed = 0;
		OSP_WARN("COORD-CTL-WEDGED",
			"control socket '%s' did not answer twice: listening again (a client that "
			"hung up before the handshake wedges nng's ipc listener)",
			c->cfg.control);
		if (coord_control_relisten(c, err, sizeof(err)) != OSP_OK)
			OSP_ERROR("COORD-CTL-WEDGED", "%s", err);
		else
			atomic_fetch_add(&c->ctl_relistens, 1);
	}
	return NULL;
}

void coord_ctl_watchdog_start(coord *c)
{
	if (strncmp(c->cfg.control, "ipc://", 6) != 0)
		return;
	if (pthread_create(&c->ctl_watchdog, NULL, coord_ctl_watchdog_main, c) != 0) {
		OSP_WARN("COORD-CTL-WEDGED", "cannot start the control watchdog");
		return;
	}
	c->ctl_watchdog_started = true;
}

void coord_ctl_watchdog_stop(coord *c)
{
	if (!c->ctl_watchdog_started)
		return;
	atomic_store(&c->stopping, true);
	pthread_join(c->ctl_watchdog, NULL);
	c->ctl_watchdog_started = false;
}
