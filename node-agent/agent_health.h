/*
 * agent_health.h - HTTP health checks of a slot (DESIGN.md "health").
 *
 * A check is one libcurl GET without proxy, redirects or signals; any 2xx is
 * healthy. agent_health_wait repeats it every interval until the slot is
 * healthy (`rise` consecutive 2xx), unhealthy (`fall` consecutive non-2xx
 * answers: fail fast), or the deadline passes
 * (the app never became healthy). Defaults follow CLI.md.
 * Thread-safe: every call uses its own curl handle.
 */
#ifndef AGENT_HEALTH_H
#define AGENT_HEALTH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ospec/err.h"

#define AGENT_HEALTH_PATH "/health"
#define AGENT_HEALTH_INTERVAL_MS 500
#define AGENT_HEALTH_TIMEOUT_MS 2000
#define AGENT_HEALTH_DEADLINE_MS 60000
#define AGENT_HEALTH_RISE 2
#define AGENT_HEALTH_FALL 3

/* What to check. Zero values (and NULL strings) mean the defaults above. */
typedef struct agent_health_spec {
	const char *host;      /* NULL = 127.0.0.1; an IPv6 literal is bracketed */
	unsigned port;         /* 1..65535, required */
	const char *path;      /* NULL = /health; must start with '/' */
	int64_t interval_ms;   /* pause between checks */
	int64_t timeout_ms;    /* per check */
	int64_t deadline_ms;   /* for the whole wait */
	unsigned rise, fall;
	bool (*alive)(void *arg); /* optional: false = the process died */
	void *arg;
	const atomic_bool *cancel; /* optional: true = give up (the agent stops) */
} agent_health_spec;

/* agent_health_check_once GETs url with a timeout of timeout_ms (<= 0 means
 * the default). *http_status (may be NULL) is the response code, 0 if none.
 * Returns OSP_OK for a 2xx; otherwise err says why, e.g.
 * "GET http://127.0.0.1:8080/health: HTTP 500" (OSP_EREFUSED),
 * "GET ...: connection refused" (OSP_ENET), "GET ...: timed out after 2000ms"
 * (OSP_ETIMEDOUT); OSP_EINVAL for a bad url, OSP_ENOMEM. */
osp_err agent_health_check_once(const char *url, int64_t timeout_ms, long *http_status, char *err, size_t errlen);

/* agent_health_probe sends one request of method (GET HEAD POST PUT DELETE
 * PATCH OPTIONS; no body) to s's host, port and path with s's timeout
 * (interval, deadline, rise, fall, alive and cancel are not used): a smoke
 * check. Returns OSP_OK for any HTTP answer, *http_status its status;
 * otherwise *http_status is 0 and why (whylen bytes) says what went wrong
 * without the URL: "connection refused" (OSP_ENET), "timed out after 2s"
 * (OSP_ETIMEDOUT), a bad target (OSP_EINVAL), OSP_ENOMEM. */
osp_err agent_health_probe(const agent_health_spec *s, const char *method, long *http_status,
	char *why, size_t whylen);

/* agent_health_wait checks s until one of:
 *  - `rise` consecutive 2xx: OSP_OK;
 *  - `fall` consecutive non-2xx answers: OSP_EREFUSED at once (fail fast),
 *    "unhealthy after 3 failed checks: GET ...: HTTP 500" (a 2xx resets the
 *    count; a refused or timed-out connection neither counts nor resets it:
 *    the app may be starting or the host busy);
 *  - the deadline passed: OSP_ETIMEDOUT naming the last failed check. While
 *    no check ever got an HTTP answer (refused, timed out: the app may still
 *    be starting) only the deadline ends the wait: "never became healthy:
 *    health deadline 60s passed: GET ...: connection refused"; after an
 *    answer, "health deadline 60s passed: GET ...: HTTP 500" (fewer than
 *    `fall` failures in a row, or fewer than `rise` successes);
 *  - s->alive returned false: OSP_ECLOSED, "process exited" (at once, also
 *    between checks);
 *  - *s->cancel became true: OSP_ECLOSED, "health check cancelled".
 * OSP_EINVAL for a bad spec. The reason goes into err. */
osp_err agent_health_wait(const agent_health_spec *s, char *err, size_t errlen);

#endif
