/*
 * coord_standby.h - what a standby coordinator serves on its --control URL
 * (issue 15). Of two or three coordinators sharing an etcd store, only the
 * leader runs the engine and the real control server (coord_control.c); a
 * standby answers every ospecctl request with a redirect to the leader, as it
 * last saw it, and ospecctl asks the leader next (docs/cli.md, "Several
 * coordinators"). Plain control only: a standby does not listen on
 * --control-tls, so ospecctl over tls+tcp:// finds it unreachable and tries
 * the next URL it was given.
 */
#ifndef COORD_STANDBY_H
#define COORD_STANDBY_H

#include <stddef.h>

#include "ospec/err.h"

/* The status of every standby reply: ospecctl's exit code "coordinator
 * unreachable" (CLI.md), for an ospecctl that does not follow the redirect. */
#define COORD_STANDBY_STATUS 3

typedef struct coord_standby coord_standby;

/* coord_standby_leader_fn fills the leader's name and control URL as last
 * seen (empty strings when no leader is known). Called from the standby's
 * thread, once per request: it must be thread-safe and must not block. */
typedef void (*coord_standby_leader_fn)(void *arg, char *name, size_t nlen, char *control,
	size_t clen);

/* coord_standby_start listens on control_url (an ipc:// path is claimed as
 * the control server claims it: a stale socket file is removed, a live one
 * is OSP_EBUSY) and answers every request, well-formed or not, with status
 * COORD_STANDBY_STATUS, standby = true, the leader fn names (fn may be NULL:
 * none) and the one-line error "coordinator SELF is a standby; the leader is
 * NAME at URL" (or "...; no leader is elected yet (is etcd reachable?)").
 * *out is the caller's to stop (coord_standby_stop). OSP_ENOMEM, OSP_EIO (no
 * thread) or the listener's errors (coord_ctl_listen), with err. */
osp_err coord_standby_start(const char *control_url, const char *self_name,
	coord_standby_leader_fn fn, void *arg, coord_standby **out, char *err, size_t errlen);

/* coord_standby_stop closes the socket, waits for the thread, removes the
 * ipc:// socket file it made (never another's) and frees sb; NULL is fine.
 * The real control server can then listen on the same URL. */
void coord_standby_stop(coord_standby *sb);

#endif
