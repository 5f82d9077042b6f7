/* coord_ctl_ipc.c - the control listener: claim and release its ipc:// socket file. */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/transport/ipc/ipc.h>

#include "coord_ctl_ipc.h"

/* coord_ctl_ipc_path returns the path of an ipc:// url, or NULL. */
static const char *coord_ctl_ipc_path(const char *url)
{
	if (url == NULL || strncmp(url, "ipc://", 6) != 0 || url[6] == '\0')
		return NULL;
	return url + 6;
}

/* coord_ctl_ipc_probe dials url as ospecctl would (req0, a full nng
 * handshake: a bare connect(2) closed before it makes nng 1.5's listener stop
 * answering): 0 when something serves it, NNG_ECONNREFUSED when the socket
 * file is stale, another NNG_* error otherwise. */
static int coord_ctl_ipc_probe(const char *url)
{
	nng_socket s = NNG_SOCKET_INITIALIZER;
	int rv;

	if ((rv = nng_req0_open(&s)) != 0)
		return rv;
	rv = nng_dial(s, url, NULL, 0); /* synchronous: connected and negotiated, or why not */
	nng_close(s);
	return rv;
}

osp_err coord_ctl_ipc_claim(const char *url, char *err, size_t errlen)
{
	const char *path = coord_ctl_ipc_path(url);
	char dir[PATH_MAX];
	struct stat st;
	int e;

	if (path == NULL)
		return OSP_OK;
	osp_strlcpy(dir, path, sizeof(dir));
	osp_mkdir_p(dirname(dir), 0755);
	if (lstat(path, &st) != 0)
		return OSP_OK; /* nothing there yet */
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "--control: '%s' exists and is not a socket: refusing to "
			"replace it; choose another path", path);
		return OSP_EEXIST;
	}
	e = coord_ctl_ipc_probe(url);
	if (e == 0) {
		snprintf(err, errlen, "--control: another process (a coordinator?) is serving "
			"'%s': stop it first or choose another path", path);
		return OSP_EBUSY;
	}
	if (e == NNG_ENOENT)
		return OSP_OK; /* gone meanwhile */
	if (e != NNG_ECONNREFUSED) {
		snprintf(err, errlen, "--control: cannot check whether '%s' is in use: %s", path,
			nng_strerror(e));
		return OSP_EIO;
	}
	/* a socket nobody listens on: left by a coordinator that was killed */
	if (unlink(path) != 0 && errno != ENOENT) {
		snprintf(err, errlen, "--control: cannot remove the stale socket '%s': %s", path,
			strerror(errno));
		return OSP_EIO;
	}
	OSP_INFO("COORD-CTL-STALE", "removed the stale control socket '%s'", path);
	return OSP_OK;
}

/* coord_ctl_ipc_file_own records url's socket file, as it is now, in *f. */
static void coord_ctl_ipc_file_own(const char *url, coord_ctl_ipc_file *f)
{
	const char *path = coord_ctl_ipc_path(url);
	struct stat st;

	memset(f, 0, sizeof(*f));
	if (path == NULL || lstat(path, &st) != 0 || !S_ISSOCK(st.st_mode))
		return;
	f->dev = (uint64_t)st.st_dev;
	f->ino = (uint64_t)st.st_ino;
	f->owned = true;
}

void coord_ctl_ipc_file_release(const char *url, coord_ctl_ipc_file *f)
{
	const char *path = coord_ctl_ipc_path(url);
	struct stat st;
	bool owned = f->owned;

	f->owned = false;
	if (path == NULL || !owned)
		return;
	/* the file may be another process's by now (ours was removed and the
	 * path reused): only the very file we made goes */
	if (lstat(path, &st) == 0 && (uint64_t)st.st_dev == f->dev && (uint64_t)st.st_ino == f->ino)
		unlink(path);
}

osp_err coord_ctl_listen(nng_socket s, const char *url, nng_listener *l, coord_ctl_ipc_file *f,
	char *err, size_t errlen)
{
	osp_err orv;
	int rv;

	memset(f, 0, sizeof(*f));
	/* a live socket at the path is another process's: never take it over */
	if ((orv = coord_ctl_ipc_claim(url, err, errlen)) != OSP_OK)
		return orv;
	if ((rv = nng_listener_create(l, s, url)) != 0 ||
		(coord_ctl_ipc_path(url) != NULL &&
			(rv = nng_listener_set_int(*l, NNG_OPT_IPC_PERMISSIONS, 0600)) != 0) ||
		(rv = nng_listener_start(*l, 0)) != 0) {
		snprintf(err, errlen, "cannot listen for control on '%s': %s", url, nng_strerror(rv));
		return osp_nng_err(rv);
	}
	coord_ctl_ipc_file_own(url, f);
	return OSP_OK;
}

void coord_ctl_ipc_release(coord *c)
{
	coord_ctl_ipc_file f = { c->ctl_ipc_owned, c->ctl_ipc_dev, c->ctl_ipc_ino };

	coord_ctl_ipc_file_release(c->cfg.control, &f);
	c->ctl_ipc_owned = false;
}
