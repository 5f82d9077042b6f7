/* ctl_client.c - ospecctl's control client: one nng req0 call per request. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "ctl.h"
#include "ospec/tls.h"
#include "ospec/v1/control.pb-c.h"

#define CTL_TIMEOUT_MS 30000

void ctl_errorf(const char *fmt, ...)
{
	char msg[4096], shown[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* one error, one line: an id or argument with a newline (typed by the
	 * operator, or echoed by the coordinator) is shown escaped */
	fprintf(stderr, "ospecctl: %s\n", osp_str_show(msg, shown, sizeof(shown)));
}

void ctl_req_arg(ctl_req *rq, const char *key, const char *val)
{
	if (rq->nargs >= CTL_MAX_ARGS || val == NULL)
		return;
	rq->keys[rq->nargs] = key;
	rq->vals[rq->nargs] = val;
	rq->nargs++;
}

/* A request's proof over tls+tcp:// (coord_control_tls.h). */
typedef struct ctl_proof {
	uint64_t ts_ms;
	char *chain;
	size_t chain_len;
	uint8_t sig[OSP_TLS_MAX_SIG];
	size_t sig_len;
} ctl_proof;

/* ctl_sign signs rq (with its request id) with the operator's key. */
static int ctl_sign(const ctl *c, const ctl_req *rq, const char *rid, ctl_proof *pf)
{
	char *key = NULL, err[256];
	size_t key_len = 0;
	osp_buf b;
	int code = CTL_EXIT_FAILED;

	osp_buf_init(&b, 4 * 1024 * 1024);
	pf->ts_ms = (uint64_t)osp_now_wall_ms();
	if (osp_tls_read_pem(c->cert, &pf->chain, &pf->chain_len) != OSP_OK) {
		ctl_errorf("cannot read certificate '%s'", c->cert);
		goto out;
	}
	if (osp_tls_read_pem(c->key, &key, &key_len) != OSP_OK) {
		ctl_errorf("cannot read key '%s'", c->key);
		goto out;
	}
	if (osp_tls_ctl_msg(&b, rid, rq->verb, pf->ts_ms, rq->nargs, rq->keys, rq->vals) !=
		OSP_OK) {
		ctl_errorf("request too big");
		goto out;
	}
	if (osp_tls_sign(key, b.data, b.len, pf->sig, sizeof(pf->sig), &pf->sig_len, err,
		    sizeof(err)) != OSP_OK) {
		ctl_errorf("cannot sign with key '%s': %s", c->key, err);
		goto out;
	}
	code = CTL_EXIT_OK;
out:
	osp_tls_pem_free(key, key_len);
	osp_buf_fini(&b);
	return code;
}

/* ctl_tls_why explains a failed TLS dial. */
static const char *ctl_tls_why(int rv)
{
	if (rv == NNG_ECRYPTO || rv == NNG_EPEERAUTH)
		return "TLS handshake failed: the coordinator's certificate is not signed by the "
		       "CA given with --ca or not made for the host name in the URL, or the "
		       "coordinator refused the certificate given with --cert";
	if (rv == NNG_ECONNSHUT || rv == NNG_ECONNRESET || rv == NNG_ECLOSED)
		return "the coordinator closed the connection during the TLS handshake: is the "
		       "certificate given with --cert signed by its CA?";
	return nng_strerror(rv);
}

/* ctl_dial connects s to c->url: as it is, or over TLS with the operator's
 * certificate (the coordinator's is checked against --ca and the URL host). */
static int ctl_dial(const ctl *c, nng_socket s)
{
	nng_tls_config *cfg = NULL;
	nng_dialer d;
	char host[256], err[512];
	int rv;

	if (!osp_tls_url_is_tls(c->url)) {
		if ((rv = nng_dial(s, c->url, NULL, 0)) == 0)
			return CTL_EXIT_OK;
		ctl_errorf("cannot reach the coordinator at '%s': %s", c->url, nng_strerror(rv));
		return CTL_EXIT_UNREACHABLE;
	}
	if (c->cert == NULL || c->key == NULL || c->ca == NULL) {
		ctl_errorf("'%s' needs --cert FILE, --key FILE and --ca FILE (or OSPEC_CERT, "
			   "OSPEC_KEY, OSPEC_CA): an operator certificate from 'ospecctl certs "
			   "issue --admin|--viewer NAME'", c->url);
		return CTL_EXIT_USAGE;
	}
	if (osp_tls_url_host(c->url, host, sizeof(host)) != OSP_OK) {
		ctl_errorf("no host name in '%s'", c->url);
		return CTL_EXIT_USAGE;
	}
	if (osp_tls_client_config(c->ca, c->cert, c->key, host, &cfg, err, sizeof(err)) != OSP_OK) {
		ctl_errorf("%s", err);
		return CTL_EXIT_FAILED;
	}
	if ((rv = nng_dialer_create(&d, s, c->url)) == 0 &&
		(rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg)) == 0)
		rv = nng_dialer_start(d, 0);
	nng_tls_config_free(cfg); /* a dialer holds its own reference */
	if (rv == 0)
		return CTL_EXIT_OK;
	ctl_errorf("cannot reach the coordinator at '%s': %s", c->url, ctl_tls_why(rv));
	return CTL_EXIT_UNREACHABLE;
}

/* ctl_pack builds the request message (with pf's proof if not NULL). */
static nng_msg *ctl_pack(const ctl_req *rq, const char *rid, const ctl_proof *pf)
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
	if (pf != NULL) {
		m.has_ts_ms = 1;
		m.ts_ms = pf->ts_ms;
		m.has_cert_chain_pem = 1;
		m.cert_chain_pem.data = (uint8_t *)pf->chain;
		m.cert_chain_pem.len = pf->chain_len;
		m.has_signature = 1;
		m.signature.data = (uint8_t *)pf->sig;
		m.signature.len = pf->sig_len;
	}
	len = ospec__v1__ctl_request__get_packed_size(&m);
	if (nng_msg_alloc(&msg, len) != 0)
		return NULL;
	ospec__v1__ctl_request__pack(&m, nng_msg_body(msg));
	return msg;
}

/* ctl_reply_complete reports whether a reply document is one whole JSON
 * value: a cut one (a coordinator that ran out of reply room) must never be
 * printed as if it were the answer. */
static bool ctl_reply_complete(const char *json)
{
	osp_json *j = NULL;
	char err[128];

	if (osp_json_parse(json, strlen(json), &j, err, sizeof(err)) != OSP_OK)
		return false;
	osp_json_free(j);
	return true;
}

int ctl_call(const ctl *c, const ctl_req *rq, char **json, char *errbuf, size_t errlen)
{
	nng_socket s = NNG_SOCKET_INITIALIZER;
	nng_msg *req = NULL, *rep = NULL;
	Ospec__V1__CtlReply *r = NULL;
	char rid[OSP_UUID_LEN + 1] = "";
	ctl_proof pf = { 0 };
	bool tls = osp_tls_url_is_tls(c->url);
	int rv, code = CTL_EXIT_UNREACHABLE;

	*json = NULL;
	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	/* over TLS every request has an id: the coordinator refuses a repeat */
	if ((rq->mutates || tls) && osp_uuid_new(rid) != OSP_OK)
		rid[0] = '\0';
	if ((rv = nng_req0_open(&s)) != 0) {
		ctl_errorf("cannot open a socket: %s", nng_strerror(rv));
		return CTL_EXIT_FAILED;
	}
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO,
		rq->timeout_ms > 0 ? (nng_duration)rq->timeout_ms : CTL_TIMEOUT_MS);
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, CTL_TIMEOUT_MS);
	/* the request id makes a re-send safe; never re-send on our own */
	nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, 64 * 1024 * 1024);
	if ((code = ctl_dial(c, s)) != CTL_EXIT_OK)
		goto out;
	code = CTL_EXIT_UNREACHABLE;
	if (tls && (code = ctl_sign(c, rq, rid, &pf)) != CTL_EXIT_OK)
		goto out;
	code = CTL_EXIT_UNREACHABLE;
	if ((req = ctl_pack(rq, rid[0] ? rid : NULL, tls ? &pf : NULL)) == NULL) {
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
	if (code == CTL_EXIT_OK && r->json != NULL && !ctl_reply_complete(r->json)) {
		ctl_errorf("the coordinator's answer is not a complete JSON document (%zu bytes); "
			   "nothing printed", strlen(r->json));
		code = CTL_EXIT_FAILED;
	} else if (r->json != NULL && (*json = strdup(r->json)) == NULL) {
		code = CTL_EXIT_FAILED;
	}
	if (code != 0 && r->error != NULL) {
		if (errbuf != NULL)
			osp_strlcpy(errbuf, r->error, errlen);
		else
			ctl_errorf("%s", r->error);
	}
	ospec__v1__ctl_reply__free_unpacked(r, NULL);
out:
	free(pf.chain);
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
