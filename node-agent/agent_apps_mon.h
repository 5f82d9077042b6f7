/*
 * agent_apps_mon.h - the live health of the apps in the main slot (rolling
 * deploys), so that the apps report's `healthy` follows what the app
 * answers at all times, not only during a Stage or Revert.
 *
 * Each round (the blue-green monitor thread runs one every
 * AGENT_BLUEGREEN_MONITOR_MS, agent_bluegreen.h) lists the app records and
 * GETs the health path (the record's, else /health) of every app recorded
 * as running in the main slot, on its effective port. A success publishes
 * OK, AGENT_BLUEGREEN_MONITOR_FALL consecutive failures publish FAILED, into
 * the health table of agent_apps.h.
 *
 * The handlers own the table too: a Stage or Revert sets UNKNOWN at its
 * start and OK/FAILED after its own wait. A round reads the app's health
 * epoch before it reads the record and probes, and publishes with that
 * epoch (agent_apps_health_publish), so a check begun before a handler's
 * result can never overwrite it; a new epoch starts the failure count over.
 * While a handler's UNKNOWN stands (it is still deciding) the app is left
 * to the handler. Blue-green apps are watched by agent_bluegreen_mon.c.
 *
 * Threads: one thread (the monitor's) calls agent_apps_mon_round; the
 * state is its own.
 */
#ifndef AGENT_APPS_MON_H
#define AGENT_APPS_MON_H

#include "agent_apps.h"

typedef struct agent_apps_mon agent_apps_mon;

/* agent_apps_mon_alloc makes the monitor's state over p (the caller's; it
 * must outlive it). Free with agent_apps_mon_free. Returns OSP_ENOMEM. */
osp_err agent_apps_mon_alloc(agent_apps *p, agent_apps_mon **out);

/* agent_apps_mon_free frees m; accepts NULL. */
void agent_apps_mon_free(agent_apps_mon *m);

/* agent_apps_mon_round checks every app running in the main slot once and
 * publishes changes of its health (see above); state changes are logged.
 * Takes about AGENT_BLUEGREEN_MONITOR_TIMEOUT_MS per app that hangs. */
void agent_apps_mon_round(agent_apps_mon *m);

#endif
