/*
 * coord_standby.c - a standby's control socket: one thread, rep0, every
 * request answered at once with the same redirect to the leader. The request
 * is never decoded: a malformed one gets the same answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

#include "coord.h"
#include "coord_control.h"
#include "coord_ctl_ipc.h"
#include "coord_standby.h"

#define COORD_STANDBY_NAME_MAX 256
#define COORD_STANDBY_URL_MAX 1024
#define COORD_STANDBY_SEND_MS 1000 /* a client that does not read its answer */

struct coord_standby {
	nng_socket sock;
	bool open;
	nng_listener listener;
	coord_ctl_ipc_file file; /* the ipc:// socket file the listener made */
	char *url;
	char *self;
	coord_standby_leader_fn fn;
	void *arg;
	pthread_t thread;
	bool started;
};

/* coord_standby_error writes the one-line answer into buf. */
static void coord_standby_error(const char *self, const char *name, const char *control,
	char *buf, size_t len)
{
	if (name[0] != '\0' && control[0] != '\0')
		snprintf(buf, len, "coordinator %s is a standby; the leader is %s at %s", self, name,
			control);
	else if (name[0] != '\0')
		snprintf(buf, len, "coordinator %s is a standby; the leader is %s (its control URL "
			"is not known)", self, name);
	else
		snprintf(buf, len, "coordinator %s is a standby; no leader is elected yet (is etcd "
			"reachable?)", self);
}

/* coord_standby_reply builds the answer to any request; NULL out of memory. */
static nng_msg *coord_standby_reply(coord_standby *sb)
{
	Ospec__V1__CtlReply r;
	char name[COORD_STANDBY_NAME_MAX] = "", control[COORD_STANDBY_URL_MAX] = "";
	char error[COORD_STANDBY_NAME_MAX * 2 + COORD_STANDBY_URL_MAX + 128];

	if (sb->fn != NULL)
		sb->fn(sb->arg, name, sizeof(name), control, sizeof(control));
	name[sizeof(name) - 1] = '\0'; /* whatever fn did */
	control[sizeof(control) - 1] = '\0';
	coord_standby_error(sb->self, name, control, error, sizeof(error));
	ospec__v1__ctl_reply__init(&r);
	r.status = COORD_STANDBY_STATUS;
	r.error = error;
	r.has_standby = 1;
	r.standby = 1;
	r.leader_name = name;
	r.leader_control = control;
	return coord_control_pack(&r);
}

static void *coord_standby_main(void *arg)
{
	coord_standby *sb = arg;

	for (;;) {
		nng_msg *req = NULL, *rep;
		int rv = nng_recvmsg(sb->sock, &req, 0);

		if (rv == NNG_ECLOSED)
			break; /* coord_standby_stop */
		if (rv != 0)
			continue;
		nng_msg_free(req); /* never read: every request gets the same answer */
		if ((rep = coord_standby_reply(sb)) == NULL)
			continue; /* no memory: the client's own timeout tells */
		if (nng_sendmsg(sb->sock, rep, 0) != 0)
			nng_msg_free(rep); /* not sent: still ours */
	}
	return NULL;
}

/* coord_standby_open opens sb's socket and listens on its URL. */
static osp_err coord_standby_open(coord_standby *sb, char *err, size_t errlen)
{
	int rv;

	if ((rv = nng_rep0_open(&sb->sock)) != 0) {
		snprintf(err, errlen, "cannot open the control socket: %s", nng_strerror(rv));
		return osp_nng_err(rv);
	}
	sb->open = true;
	/* nothing is read from a request: a small one is all an ospecctl sends */
	nng_socket_set_size(sb->sock, NNG_OPT_RECVMAXSZ, 1024 * 1024);
	nng_socket_set_ms(sb->sock, NNG_OPT_SENDTIMEO, COORD_STANDBY_SEND_MS);
	return coord_ctl_listen(sb->sock, sb->url, &sb->listener, &sb->file, err, errlen);
}

osp_err coord_standby_start(const char *control_url, const char *self_name,
	coord_standby_leader_fn fn, void *arg, coord_standby **out, char *err, size_t errlen)
{
	coord_standby *sb = NULL;
	osp_err rv;

	*out = NULL;
	if ((sb = calloc(1, sizeof(*sb))) == NULL || (sb->url = strdup(control_url)) == NULL ||
		(sb->self = strdup(self_name != NULL ? self_name : "")) == NULL) {
		snprintf(err, errlen, "out of memory");
		coord_standby_stop(sb);
		return OSP_ENOMEM;
	}
	sb->fn = fn;
	sb->arg = arg;
	if ((rv = coord_standby_open(sb, err, errlen)) != OSP_OK) {
		coord_standby_stop(sb);
		return rv;
	}
	if (pthread_create(&sb->thread, NULL, coord_standby_main, sb) != 0) {
		snprintf(err, errlen, "cannot start the standby's control thread");
		coord_standby_stop(sb);
		return OSP_EIO;
	}
	sb->started = true;
	OSP_INFO("COORD-STANDBY", "control '%s' answers as a standby: requests are sent to the "
		"leader", sb->url);
	*out = sb;
	return OSP_OK;
}

void coord_standby_stop(coord_standby *sb)
{
	if (sb == NULL)
		return;
	if (sb->open)
		nng_close(sb->sock); /* the thread's receive ends: NNG_ECLOSED */
	if (sb->started)
		pthread_join(sb->thread, NULL);
	if (sb->url != NULL)
		coord_ctl_ipc_file_release(sb->url, &sb->file);
	free(sb->url);
	free(sb->self);
	free(sb);
}
