/*
 * coord_ctl_ipc.h - the ipc:// control socket file: claimed at start only if
 * nothing answers on it, removed at stop only if it is still the one this
 * coordinator made. A second coordinator given the same --control path must
 * neither take the socket over nor delete it.
 */
#ifndef COORD_CTL_IPC_H
#define COORD_CTL_IPC_H

#include "coord.h"

/* coord_ctl_ipc_claim prepares url (ipc://PATH; anything else: OSP_OK, no
 * change) for a listener: creates PATH's directory and removes a stale socket
 * file, one nothing accepts on (connect(2) says ECONNREFUSED), left by a
 * coordinator that was killed. OSP_EBUSY when a process accepts on PATH,
 * OSP_EEXIST when PATH is not a socket, OSP_EIO when it cannot be checked;
 * err says which and what to do. */
osp_err coord_ctl_ipc_claim(const char *url, char *err, size_t errlen);

/* coord_ctl_ipc_own records the socket file the listener just created
 * (device and inode) as c's. */
void coord_ctl_ipc_own(coord *c);

/* coord_ctl_ipc_release removes the socket file if it is still the one
 * coord_ctl_ipc_own recorded; never someone else's. */
void coord_ctl_ipc_release(coord *c);

#endif
