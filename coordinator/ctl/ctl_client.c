/* ctl_client.c - ospecctl's control client: one nng req0 call per request. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "ctl.h"
#include "ospec/v1/control.pb-c.h"

#define CTL_TIMEOUT_MS 30000

void ctl_errorf(const char *fmt, ...)
{
	va_list ap;

	fputs("ospecctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void ctl_req_arg(ctl_req *rq, const char *key, const char *val)
{
	if (rq->nargs >= CTL_MAX_ARGS || val == NULL)
		return;
	rq->keys[rq->nargs] = key;
	rq->vals[rq->nargs] = val;
	rq->nargs++;
}

/* ctl_pack builds the request message. */
static nng_msg *ctl_pack(const ctl_req *rq, const char *rid)
{
	Ospec__V1__CtlRequest m;
	Ospec__V1__CtlArg args[CTL_MAX_ARGS], *argp[CTL_MAX_ARGS];
	nng_msg *msg = NULL;
	size_t len;

	ospec__v1__ctl_request__init(&m);
	m.version_major = 1;
	m.verb = (char *)rq->verb;
	for (size_t i = 0; i < rq->nargs; i++) {
		ospec__v1__ctl_arg__init(&args[i]);
		args[i].key = (char *)rq->keys[i];
		args[i].value = (char *)rq->vals[i];
		argp[i] = &args[i];
	}
	m.n_args = rq->nargs;
	m.args = argp;
	m.request_id = (char *)rid;
	len = ospec__v1__ctl_request__get_packed_size(&m);
	if (nng_msg_alloc(&msg, len) != 0)
		return NULL;
	ospec__v1__ctl_request__pack(&m, nng_msg_body(msg));
	return msg;
}

int ctl_call(const ctl *c, const ctl_req *rq, char **json, char *errbuf, size_t errlen)
{
	nng_socket s = NNG_SOCKET_INITIALIZER;
	nng_msg *req = NULL, *rep = NULL;
	Ospec__V1__CtlReply *r = NULL;
	char rid[OSP_UUID_LEN + 1] = "";
	int rv, code = CTL_EXIT_UNREACHABLE;

	*json = NULL;
	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	if (rq->mutates && osp_uuid_new(rid) != OSP_OK)
		rid[0] = '\0';
	if ((rv = nng_req0_open(&s)) != 0) {
		ctl_errorf("cannot open a socket: %s", nng_strerror(rv));
		return CTL_EXIT_FAILED;
	}
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, CTL_TIMEOUT_MS);
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, CTL_TIMEOUT_MS);
	/* the request id makes a re-send safe; never re-send on our own */
	nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, 64 * 1024 * 1024);
	if ((rv = nng_dial(s, c->url, NULL, 0)) != 0) {
		ctl_errorf("cannot reach the coordinator at '%s': %s", c->url, nng_strerror(rv));
		goto out;
	}
	if ((req = ctl_pack(rq, rid[0] ? rid : NULL)) == NULL) {
		ctl_errorf("out of memory");
		code = CTL_EXIT_FAILED;
		goto out;
	}
	if ((rv = nng_sendmsg(s, req, 0)) != 0) {
		nng_msg_free(req);
		ctl_errorf("cannot reach the coordinator at '%s': %s", c->url, nng_strerror(rv));
		goto out;
	}
	if ((rv = nng_recvmsg(s, &rep, 0)) != 0) {
		ctl_errorf("no answer from the coordinator at '%s': %s", c->url, nng_strerror(rv));
		goto out;
	}
	r = ospec__v1__ctl_reply__unpack(NULL, nng_msg_len(rep), nng_msg_body(rep));
	nng_msg_free(rep);
	if (r == NULL) {
		ctl_errorf("undecodable answer from the coordinator at '%s'", c->url);
		code = CTL_EXIT_FAILED;
		goto out;
	}
	code = r->status > 5 ? CTL_EXIT_FAILED : (int)r->status;
	if (r->json != NULL && (*json = strdup(r->json)) == NULL)
		code = CTL_EXIT_FAILED;
	if (code != 0 && r->error != NULL) {
		if (errbuf != NULL)
			osp_strlcpy(errbuf, r->error, errlen);
		else
			ctl_errorf("%s", r->error);
	}
	ospec__v1__ctl_reply__free_unpacked(r, NULL);
out:
	nng_close(s);
	return code;
}

osp_json *ctl_parse_json(const char *text)
{
	osp_json *j = NULL;
	char err[256];

	if (text == NULL || osp_json_parse(text, strlen(text), &j, err, sizeof(err)) != OSP_OK) {
		ctl_errorf("undecodable reply document: %s", text ? err : "empty");
		return NULL;
	}
	return j;
}
