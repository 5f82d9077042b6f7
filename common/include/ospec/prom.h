/*
 * prom.h - what both programs' /metrics pages share: a page writer whose
 * first error sticks, and the reply of an nng HTTP handler.
 */
#ifndef OSPEC_PROM_H
#define OSPEC_PROM_H

#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>

#include "ospec/err.h"
#include "ospec/util.h"

/* The Prometheus text exposition format, version 0.0.4. */
#define OSP_PROM_CTYPE "text/plain; version=0.0.4; charset=utf-8"

/* A page being written: the first error sticks, later writes are no-ops. */
typedef struct osp_prom_w {
	osp_buf *b;
	osp_err err;
} osp_prom_w;

/* osp_prom_printf appends one formatted line (at most 511 bytes: a longer
 * one is OSP_ETOOBIG, a bug in the caller, never a cut line). */
void osp_prom_printf(osp_prom_w *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* osp_http_reply answers an nng HTTP handler's aio with status and len
 * bytes of body (copied) as ctype; NNG_ENOMEM when it cannot. */
void osp_http_reply(nng_aio *aio, uint16_t status, const char *ctype, const char *body,
	size_t len);

#endif
