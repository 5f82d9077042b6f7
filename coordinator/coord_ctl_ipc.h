/*
 * coord_ctl_ipc.h - the control listener and its ipc:// socket file: claimed
 * at start only if nothing answers on it, removed at stop only if it is still
 * the one this process made. A second coordinator given the same --control
 * path must neither take the socket over nor delete it. The control server
 * (coord_control.c) and a standby's (coord_standby.c) listen through here.
 */
#ifndef COORD_CTL_IPC_H
#define COORD_CTL_IPC_H

#include <nng/nng.h>

#include "coord.h"

/* The socket file a listener made: which one (device and inode), so that only
 * that very file is removed later. Zeroed: none. */
typedef struct coord_ctl_ipc_file {
	bool owned;
	uint64_t dev, ino;
} coord_ctl_ipc_file;

/* coord_ctl_ipc_claim prepares url (ipc://PATH; anything else: OSP_OK, no
 * change) for a listener: creates PATH's directory and removes a stale socket
 * file, one nothing accepts on (connect(2) says ECONNREFUSED), left by a
 * coordinator that was killed. OSP_EBUSY when a process accepts on PATH,
 * OSP_EEXIST when PATH is not a socket, OSP_EIO when it cannot be checked;
 * err says which and what to do. */
osp_err coord_ctl_ipc_claim(const char *url, char *err, size_t errlen);

/* coord_ctl_listen starts a listener of s on url (into *l): an ipc:// path is
 * claimed first (coord_ctl_ipc_claim) and made mode 0600, and the socket file
 * the listener created is recorded in *f. The errors of coord_ctl_ipc_claim,
 * or nng's with err "cannot listen for control on 'URL': why". */
osp_err coord_ctl_listen(nng_socket s, const char *url, nng_listener *l, coord_ctl_ipc_file *f,
	char *err, size_t errlen);

/* coord_ctl_ipc_file_release removes url's socket file if it is still the
 * one *f records (never someone else's) and clears *f. */
void coord_ctl_ipc_file_release(const char *url, coord_ctl_ipc_file *f);

/* coord_ctl_ipc_release removes c's --control socket file if it is still the
 * one its listener made (c->ctl_ipc_*); never someone else's. */
void coord_ctl_ipc_release(coord *c);

#endif
