/* ctl_client.c - ospecctl's control client: one nng req0 call per request,
 * to the first of the --coordinator addresses that answers as the leader. */
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

/* ctl_dial connects s to url: as it is, or over TLS with the operator's
 * certificate (the coordinator's is checked against --ca and the URL host).
 * CTL_EXIT_UNREACHABLE with why (whylen bytes) when url cannot be reached;
 * a usage or configuration error is printed (CTL_EXIT_USAGE, _FAILED). */
static int ctl_dial(const ctl *c, const char *url, nng_socket s, char *why, size_t whylen)
{
	nng_tls_config *cfg = NULL;
	nng_dialer d;
	char host[256], err[512];
	int rv;

	if (!osp_tls_url_is_tls(url)) {
		if ((rv = nng_dial(s, url, NULL, 0)) == 0)
			return CTL_EXIT_OK;
		osp_strlcpy(why, nng_strerror(rv), whylen);
		return CTL_EXIT_UNREACHABLE;
	}
	if (c->cert == NULL || c->key == NULL || c->ca == NULL) {
		ctl_errorf("'%s' needs --cert FILE, --key FILE and --ca FILE (or OSPEC_CERT, "
			   "OSPEC_KEY, OSPEC_CA): an operator certificate from 'ospecctl certs "
			   "issue --admin|--viewer NAME'", url);
		return CTL_EXIT_USAGE;
	}
	if (osp_tls_url_host(url, host, sizeof(host)) != OSP_OK) {
		ctl_errorf("no host name in '%s'", url);
		return CTL_EXIT_USAGE;
	}
	if (osp_tls_client_config(c->ca, c->cert, c->key, host, &cfg, err, sizeof(err)) != OSP_OK) {
		ctl_errorf("%s", err);
		return CTL_EXIT_FAILED;
	}
	if ((rv = nng_dialer_create(&d, s, url)) == 0 &&
		(rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg)) == 0)
		rv = nng_dialer_start(d, 0);
	nng_tls_config_free(cfg); /* a dialer holds its own reference */
	if (rv == 0)
		return CTL_EXIT_OK;
	osp_strlcpy(why, ctl_tls_why(rv), whylen);
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

/*
 * Where one call goes: the addresses of --coordinator in order, with the
 * leader a standby names put right after that standby (once: an address is
 * asked at most once per call). Each address tried gets why it did not
 * answer as the leader.
 */
#define CTL_ROUTE_MAX (2 * CTL_URLS_MAX)
#define CTL_WHY_MAX 512

typedef struct ctl_route {
	char url[CTL_ROUTE_MAX][CTL_URL_MAX];
	char why[CTL_ROUTE_MAX][CTL_WHY_MAX];
	size_t n;    /* addresses known */
	size_t at;   /* the one being tried */
} ctl_route;

/* One call: the request, its id, its proof over TLS (made once, at the first
 * tls+tcp:// address). */
typedef struct ctl_call_st {
	const ctl *c;
	const ctl_req *rq;
	char rid[OSP_UUID_LEN + 1];
	ctl_proof pf;
	bool proved;
	ctl_route route;
} ctl_call_st;

/* ctl_route_leader puts url (a leader a standby named) right after the
 * address being tried, unless it was tried already or is too long; an
 * address listed later moves up. No room: not asked. */
static void ctl_route_leader(ctl_route *rt, const char *url)
{
	size_t k;

	if (url == NULL || url[0] == '\0' || strlen(url) >= CTL_URL_MAX)
		return;
	for (k = 0; k < rt->n && strcmp(rt->url[k], url) != 0; k++)
		;
	if (k <= rt->at && k < rt->n)
		return; /* asked already in this call */
	if (k < rt->n) { /* listed later: it moves up */
		memmove(rt->url[k], rt->url[k + 1], (rt->n - k - 1) * sizeof(rt->url[0]));
		rt->n--;
	}
	if (rt->n >= CTL_ROUTE_MAX)
		return;
	memmove(rt->url[rt->at + 2], rt->url[rt->at + 1],
		(rt->n - rt->at - 1) * sizeof(rt->url[0]));
	osp_strlcpy(rt->url[rt->at + 1], url, CTL_URL_MAX);
	rt->n++;
}

/* ctl_route_failed prints why no address answered as the leader: as one
 * address always did ("cannot reach the coordinator at 'URL': why"), or
 * every address tried with its reason. */
static void ctl_route_failed(const ctl_route *rt)
{
	char msg[4096];
	size_t o;

	if (rt->n == 1) {
		ctl_errorf("cannot reach the coordinator at '%s': %s", rt->url[0], rt->why[0]);
		return;
	}
	o = (size_t)snprintf(msg, sizeof(msg), "cannot reach the coordinator (tried %zu "
		"addresses):", rt->n);
	for (size_t k = 0; k < rt->n && o < sizeof(msg); k++)
		o += (size_t)snprintf(msg + o, sizeof(msg) - o, "%s '%s': %s", k ? ";" : "",
			rt->url[k], rt->why[k]);
	ctl_errorf("%s", msg);
}

/* ctl_call_reply turns the leader's reply r into ctl_call's results (see
 * ctl_call) and frees it; returns the exit code. */
static int ctl_call_reply(Ospec__V1__CtlReply *r, char **json, char *errbuf, size_t errlen)
{
	int code = r->status > 5 ? CTL_EXIT_FAILED : (int)r->status;

	if (code == CTL_EXIT_OK && r->json != NULL && !ctl_reply_complete(r->json)) {
		ctl_errorf("the coordinator's answer is not a complete JSON document (%zu bytes); "
			   "nothing printed", strlen(r->json));
		code = CTL_EXIT_FAILED;
	} else if (r->json != NULL && (*json = strdup(r->json)) == NULL) {
		code = CTL_EXIT_FAILED;
	}
	if (code != 0 && r->status != 0) {
		char why[64];
		const char *e = r->error;
		/* an empty proto3 string unpacks as NULL: never exit silently */
		if (e == NULL || e[0] == '\0') {
			snprintf(why, sizeof(why), "the coordinator answered status %u without a reason",
				r->status);
			e = why;
		}
		if (errbuf != NULL)
			osp_strlcpy(errbuf, e, errlen);
		else
			ctl_errorf("%s", e);
	}
	ospec__v1__ctl_reply__free_unpacked(r, NULL);
	return code;
}

/* An address that did not answer as the leader: ask the next one. */
#define CTL_TRY_NEXT (-1)

/* ctl_open opens the socket of one try; CTL_EXIT_FAILED (printed) if not. */
static int ctl_open(const ctl_req *rq, nng_socket *s)
{
	int rv;

	if ((rv = nng_req0_open(s)) != 0) {
		ctl_errorf("cannot open a socket: %s", nng_strerror(rv));
		return CTL_EXIT_FAILED;
	}
	nng_socket_set_ms(*s, NNG_OPT_RECVTIMEO,
		rq->timeout_ms > 0 ? (nng_duration)rq->timeout_ms : CTL_TIMEOUT_MS);
	nng_socket_set_ms(*s, NNG_OPT_SENDTIMEO, CTL_TIMEOUT_MS);
	/* the request id makes a re-send safe; never re-send on our own */
	nng_socket_set_ms(*s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	nng_socket_set_size(*s, NNG_OPT_RECVMAXSZ, 64 * 1024 * 1024);
	return CTL_EXIT_OK;
}

/* ctl_send sends st's request on s, connected to url: CTL_EXIT_OK, or
 * CTL_TRY_NEXT with why when it could not be sent, or CTL_EXIT_FAILED
 * (printed: no proof, no memory). */
static int ctl_send(ctl_call_st *st, nng_socket s, const char *url, char *why, size_t whylen)
{
	bool tls = osp_tls_url_is_tls(url);
	nng_msg *req;
	int rv;

	/* over TLS every request has an id: the coordinator refuses a repeat */
	if (tls && st->rid[0] == '\0' && osp_uuid_new(st->rid) != OSP_OK)
		st->rid[0] = '\0';
	if (tls && !st->proved) {
		if ((rv = ctl_sign(st->c, st->rq, st->rid, &st->pf)) != CTL_EXIT_OK)
			return rv;
		st->proved = true;
	}
	if ((req = ctl_pack(st->rq, st->rid[0] ? st->rid : NULL, tls ? &st->pf : NULL)) == NULL) {
		ctl_errorf("out of memory");
		return CTL_EXIT_FAILED;
	}
	if ((rv = nng_sendmsg(s, req, 0)) != 0) {
		nng_msg_free(req); /* not sent: still ours */
		osp_strlcpy(why, nng_strerror(rv), whylen);
		return CTL_TRY_NEXT;
	}
	return CTL_EXIT_OK;
}

/* ctl_no_answer says that the address being tried took the request and did
 * not answer: it may have been applied, so no other address is asked. */
static void ctl_no_answer(const ctl_route *rt, int rv)
{
	if (rt->n == 1)
		ctl_errorf("no answer from the coordinator at '%s': %s", rt->url[rt->at],
			nng_strerror(rv));
	else
		ctl_errorf("no answer from the coordinator at '%s': %s; the request may have been "
			   "applied there, so it was not sent to another address", rt->url[rt->at],
			nng_strerror(rv));
}

/* ctl_recv waits for the answer on s: the leader's reply handled
 * (ctl_call_reply), or CTL_TRY_NEXT when a standby answered (its leader is
 * asked next), or an error printed. Returns the exit code. */
static int ctl_recv(ctl_call_st *st, nng_socket s, char **json, char *errbuf, size_t errlen)
{
	ctl_route *rt = &st->route;
	Ospec__V1__CtlReply *r;
	nng_msg *rep = NULL;
	int rv;

	if ((rv = nng_recvmsg(s, &rep, 0)) != 0) {
		ctl_no_answer(rt, rv);
		return CTL_EXIT_UNREACHABLE;
	}
	r = ospec__v1__ctl_reply__unpack(NULL, nng_msg_len(rep), nng_msg_body(rep));
	nng_msg_free(rep);
	if (r == NULL) {
		ctl_errorf("undecodable answer from the coordinator at '%s'", rt->url[rt->at]);
		return CTL_EXIT_FAILED;
	}
	if (!r->has_standby || !r->standby)
		return ctl_call_reply(r, json, errbuf, errlen);
	/* a standby: it ran nothing, so asking the leader is safe */
	osp_strlcpy(rt->why[rt->at], r->error ? r->error : "a standby", CTL_WHY_MAX);
	ctl_route_leader(rt, r->leader_control);
	ospec__v1__ctl_reply__free_unpacked(r, NULL);
	return CTL_TRY_NEXT;
}

/* ctl_try asks the address being tried (st->route.at): CTL_TRY_NEXT with
 * why when it cannot be reached or is a standby, else ctl_call's exit code. */
static int ctl_try(ctl_call_st *st, char **json, char *errbuf, size_t errlen)
{
	ctl_route *rt = &st->route;
	nng_socket s = NNG_SOCKET_INITIALIZER;
	int code;

	if ((code = ctl_open(st->rq, &s)) != CTL_EXIT_OK)
		return code;
	code = ctl_dial(st->c, rt->url[rt->at], s, rt->why[rt->at], CTL_WHY_MAX);
	if (code == CTL_EXIT_UNREACHABLE)
		code = CTL_TRY_NEXT;
	if (code == CTL_EXIT_OK)
		code = ctl_send(st, s, rt->url[rt->at], rt->why[rt->at], CTL_WHY_MAX);
	if (code == CTL_EXIT_OK)
		code = ctl_recv(st, s, json, errbuf, errlen);
	nng_close(s);
	return code;
}

int ctl_call(const ctl *c, const ctl_req *rq, char **json, char *errbuf, size_t errlen)
{
	ctl_call_st st = { .c = c, .rq = rq };
	ctl_route *rt = &st.route;
	int code = CTL_TRY_NEXT;

	*json = NULL;
	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	if (rq->mutates && osp_uuid_new(st.rid) != OSP_OK)
		st.rid[0] = '\0';
	for (size_t k = 0; k < c->nurls; k++)
		osp_strlcpy(rt->url[rt->n++], c->urls[k], CTL_URL_MAX);
	for (rt->at = 0; rt->at < rt->n && code == CTL_TRY_NEXT; rt->at++)
		code = ctl_try(&st, json, errbuf, errlen);
	if (code == CTL_TRY_NEXT) {
		ctl_route_failed(rt);
		code = CTL_EXIT_UNREACHABLE;
	}
	free(st.pf.chain);
	return code;
}

/* ctl_urls_add adds the URL of len bytes at u to c (blanks around it
 * dropped; a repeat or an empty one is skipped); false after printing why. */
static bool ctl_urls_add(ctl *c, const char *u, size_t len)
{
	while (len > 0 && (*u == ' ' || *u == '\t')) {
		u++;
		len--;
	}
	while (len > 0 && (u[len - 1] == ' ' || u[len - 1] == '\t'))
		len--;
	if (len == 0)
		return true;
	if (len >= CTL_URL_MAX) {
		ctl_errorf("--coordinator: an address is longer than %d bytes", CTL_URL_MAX - 1);
		return false;
	}
	for (size_t k = 0; k < c->nurls; k++)
		if (strncmp(c->urls[k], u, len) == 0 && c->urls[k][len] == '\0')
			return true;
	if (c->nurls >= CTL_URLS_MAX) {
		ctl_errorf("--coordinator: more than %d addresses", CTL_URLS_MAX);
		return false;
	}
	memcpy(c->urls[c->nurls], u, len);
	c->urls[c->nurls++][len] = '\0';
	return true;
}

bool ctl_urls_parse(ctl *c)
{
	const char *p = c->url, *comma;

	c->nurls = 0;
	for (;;) {
		comma = strchr(p, ',');
		if (!ctl_urls_add(c, p, comma ? (size_t)(comma - p) : strlen(p)))
			return false;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	if (c->nurls == 0) {
		ctl_errorf("--coordinator: no address in '%s'", c->url);
		return false;
	}
	return true;
}

bool ctl_urls_local(const ctl *c)
{
	for (size_t k = 0; k < c->nurls; k++)
		if (strncmp(c->urls[k], "ipc://", 6) != 0)
			return false;
	return c->nurls > 0;
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
