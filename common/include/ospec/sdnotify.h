/*
 * sdnotify.h - systemd's service notification protocol without libsystemd
 * (docs/systemd.md): one datagram of "KEY=VALUE\n..." lines to the AF_UNIX
 * socket named by $NOTIFY_SOCKET (a path, or an abstract name when it starts
 * with '@'). Every call is a no-op returning OSP_OK when NOTIFY_SOCKET is
 * unset: a daemon started by hand, by a test or by another supervisor.
 *
 * The environment is read at each call and never changed (the agent starts
 * its apps with a clean environment of its own, so they do not inherit it).
 * Thread-safe as long as nobody calls setenv() meanwhile.
 */
#ifndef OSPEC_SDNOTIFY_H
#define OSPEC_SDNOTIFY_H

#include <stdint.h>

#include "ospec/err.h"

#define OSP_SD_STATE_MAX 1024 /* longest message sent; longer is OSP_ETOOBIG */

/* osp_sd_notify sends state ("READY=1", "STOPPING=1", "WATCHDOG=1",
 * "STATUS=text", several separated by '\n') to $NOTIFY_SOCKET. Returns OSP_OK
 * once sent or when NOTIFY_SOCKET is unset; OSP_EINVAL for a NOTIFY_SOCKET that
 * is neither an absolute path nor '@name' or is too long for a socket
 * address, or an empty state; OSP_ETOOBIG for a state over OSP_SD_STATE_MAX;
 * OSP_EIO when the socket cannot be made or the datagram is not sent (no
 * listener). Nothing is retried: systemd's side is a local datagram socket. */
osp_err osp_sd_notify(const char *state);

/* osp_sd_notifyf formats the state (snprintf rules) and sends it as
 * osp_sd_notify does; a state cut by OSP_SD_STATE_MAX is OSP_ETOOBIG, not
 * sent. */
osp_err osp_sd_notifyf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* osp_sd_watchdog_usec returns the watchdog interval systemd asks for
 * ($WATCHDOG_USEC, microseconds) when it is meant for this process
 * ($WATCHDOG_PID unset or our pid) and NOTIFY_SOCKET is set; 0 otherwise
 * (no watchdog, or a malformed value). Send "WATCHDOG=1" at least every
 * half of it. */
uint64_t osp_sd_watchdog_usec(void);

#endif
