/* prom.c - the /metrics page writer and HTTP reply both programs use (prom.h). */
#include "ospec/prom.h"

#include <stdarg.h>
#include <stdio.h>

#include <nng/supplemental/http/http.h>

void osp_prom_printf(osp_prom_w *w, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	if (w->err != OSP_OK)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		w->err = OSP_ETOOBIG; /* lines are ours, labels escaped and cut before */
		return;
	}
	w->err = osp_buf_append(w->b, line, (size_t)n);
}

void osp_http_reply(nng_aio *aio, uint16_t status, const char *ctype, const char *body,
	size_t len)
{
	nng_http_res *res = NULL;

	if (nng_http_res_alloc(&res) != 0) {
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	nng_http_res_set_status(res, status);
	nng_http_res_set_header(res, "Content-Type", ctype);
	if (nng_http_res_copy_data(res, body, len) != 0) {
		nng_http_res_free(res);
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}
