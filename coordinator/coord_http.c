/* coord_http.c - /healthz (the process answers), /readyz (store open,
 * agents' socket listening, in-flight work re-derived) and /metrics
 * (Prometheus text format, coord_metrics.c) over nng's HTTP server. */
#include <stdio.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

#include "coord.h"
#include "ospec/prom.h"

static void coord_http_answer(nng_aio *aio, uint16_t status, const char *body)
{
	osp_http_reply(aio, status, "text/plain", body, strlen(body));
}

static void coord_http_healthz(nng_aio *aio)
{
	coord_http_answer(aio, 200, "ok\n");
}

static void coord_http_readyz(nng_aio *aio)
{
	nng_http_handler *h = nng_aio_get_input(aio, 1);
	coord *c = nng_http_handler_get_data(h);
	bool ready;

	pthread_mutex_lock(&c->mtx);
	ready = c->ready && !atomic_load(&c->stopping);
	pthread_mutex_unlock(&c->mtx);
	coord_http_answer(aio, ready ? 200 : 503, ready ? "ready\n" : "not ready\n");
}

/* coord_http_metrics renders the page under the lock; a store that cannot
 * be read is a 500 with a plain message. */
static void coord_http_metrics(nng_aio *aio)
{
	nng_http_handler *h = nng_aio_get_input(aio, 1);
	coord *c = nng_http_handler_get_data(h);
	osp_buf page;
	char msg[160];
	osp_err rv;

	static coord_ratelog rl; /* under c->mtx: a scraper retries every few seconds */
	uint64_t held = 0;
	bool say = false;

	osp_buf_init(&page, COORD_METRICS_MAX);
	pthread_mutex_lock(&c->mtx);
	rv = coord_metrics_render(c, &page);
	if (rv != OSP_OK)
		say = coord_ratelog_due(&rl, osp_now_mono_ms(), &held);
	pthread_mutex_unlock(&c->mtx);
	if (rv != OSP_OK) {
		if (say)
			OSP_WARN("COORD-METRICS", "/metrics not rendered: %s (%llu more failures "
				"since the last report)", osp_strerror(rv), (unsigned long long)held);
		snprintf(msg, sizeof(msg), "metrics unavailable: %s\n", osp_strerror(rv));
		coord_http_answer(aio, 500, msg);
	} else {
		osp_http_reply(aio, 200, OSP_PROM_CTYPE, page.data ? page.data : "", page.len);
	}
	osp_buf_fini(&page);
}

static osp_err coord_http_add(coord *c, const char *path, void (*cb)(nng_aio *))
{
	nng_http_handler *h = NULL;
	int rv;

	if ((rv = nng_http_handler_alloc(&h, path, cb)) != 0)
		return osp_nng_err(rv);
	nng_http_handler_set_method(h, "GET");
	nng_http_handler_set_data(h, c, NULL);
	if ((rv = nng_http_server_add_handler(c->http, h)) != 0) {
		nng_http_handler_free(h);
		return osp_nng_err(rv);
	}
	return OSP_OK;
}

osp_err coord_http_start(coord *c, char *err, size_t errlen)
{
	char urlstr[300];
	nng_url *url = NULL;
	nng_http_server *srv = NULL;
	int rv;

	if (c->cfg.http == NULL || c->cfg.http[0] == '\0' || strcmp(c->cfg.http, "off") == 0)
		return OSP_OK;
	snprintf(urlstr, sizeof(urlstr), "http://%s", c->cfg.http);
	if ((rv = nng_url_parse(&url, urlstr)) != 0) {
		snprintf(err, errlen, "--http: '%s' is not HOST:PORT", c->cfg.http);
		return OSP_EINVAL;
	}
	rv = nng_http_server_hold(&srv, url);
	nng_url_free(url);
	if (rv != 0) {
		snprintf(err, errlen, "--http %s: %s", c->cfg.http, nng_strerror(rv));
		return osp_nng_err(rv);
	}
	c->http = srv;
	if (coord_http_add(c, "/healthz", coord_http_healthz) != OSP_OK ||
		coord_http_add(c, "/readyz", coord_http_readyz) != OSP_OK ||
		coord_http_add(c, "/metrics", coord_http_metrics) != OSP_OK) {
		snprintf(err, errlen, "--http: cannot add handlers");
		return OSP_ENOMEM;
	}
	if ((rv = nng_http_server_start(srv)) != 0) {
		snprintf(err, errlen, "cannot serve HTTP on %s: %s", c->cfg.http, nng_strerror(rv));
		return osp_nng_err(rv);
	}
	return OSP_OK;
}

void coord_http_stop(coord *c)
{
	if (c->http == NULL)
		return;
	nng_http_server_stop(c->http);
	nng_http_server_release(c->http);
	c->http = NULL;
}
