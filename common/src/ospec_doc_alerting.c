/*
 * ospec_doc_alerting.c - monitoring.alerting of an OSpec document: the
 * http:// and https:// URLs of its channels become apply's webhooks
 * (docs/webhooks.md); named channels ("slack", "pagerduty") and the rest of
 * the block are left alone with a warning, as before.
 */
#include <stdio.h>
#include <string.h>

#include "ospec/util.h"
#include "ospec_doc_int.h"

/* osp_doc_webhook_ok: http:// or https://, a host, printable, no spaces. */
static bool osp_doc_webhook_ok(const char *s)
{
	size_t skip = strncmp(s, "https://", 8) == 0 ? 8 : 7;

	if (strlen(s) > OSP_DOC_WEBHOOK_MAX || s[skip] == '\0' || strchr("/:?#", s[skip]) != NULL)
		return false;
	for (const char *p = s; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return false;
	return true;
}

/* osp_doc_alert_channel reads one channel: an http(s) URL becomes a webhook,
 * anything else ("slack", "pagerduty") is left alone with a warning. */
static void osp_doc_alert_channel(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	osp_doc_plan *p = c->p;
	char host[64];
	const char *s;

	if (!osp_doc_str(c, n, path, OSP_DOC_WEBHOOK_MAX + 64, &s))
		return;
	if (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0) {
		osp_doc_warn(c, n, path, "not used by ospec: only http:// and https:// channels "
			"are used (as webhooks)");
		return;
	}
	if (!osp_doc_webhook_ok(s)) {
		osp_doc_err(c, n, path, "expected an http:// or https:// URL with a host, without "
			"spaces, at most %d bytes", OSP_DOC_WEBHOOK_MAX);
		return;
	}
	for (size_t i = 0; i < p->nwebhooks; i++)
		if (strcmp(p->webhooks[i], s) == 0)
			return;
	if (p->nwebhooks >= OSP_DOC_MAX_WEBHOOKS) {
		osp_doc_err(c, n, path, "more than %d webhook URLs", OSP_DOC_MAX_WEBHOOKS);
		return;
	}
	osp_strlcpy(p->webhooks[p->nwebhooks++], s, sizeof(p->webhooks[0]));
	/* the note shows the host only: a webhook's path is often its secret */
	snprintf(host, sizeof(host), "%.*s", (int)strcspn(s + (s[4] == 's' ? 8 : 7), "/?#"),
		s + (s[4] == 's' ? 8 : 7));
	osp_doc_notef(c, path, "--webhook %s://%s/...", s[4] == 's' ? "https" : "http", host);
}

static void osp_doc_alert_channels(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	char sub[OSP_DOC_PATH_MAX];

	if (n->kind == OSP_CFG_SCALAR && n->is_null)
		return;
	if (!osp_doc_claim(c, &c->pv->webhooks, 1, path))
		return;
	c->p->nwebhooks = 0; /* lists replace: an environment's list is the list */
	if (n->kind == OSP_CFG_SCALAR) {
		osp_doc_alert_channel(c, n, path);
		return;
	}
	if (!osp_doc_list(c, n, path))
		return;
	for (size_t i = 0; i < n->n; i++) {
		osp_doc_join(sub, sizeof(sub), path, NULL, i);
		osp_doc_alert_channel(c, n->items[i], sub);
	}
}

void osp_doc_alerting(osp_doc_ctx *c, const osp_cfg_node *n, const char *path)
{
	static const osp_doc_key keys[] = {
		{ "channels", osp_doc_alert_channels, NULL },
		{ NULL, NULL, NULL },
	};

	if (n->kind != OSP_CFG_MAP) {
		osp_doc_warn(c, n, path, "not used by ospec: only the http:// and https:// URLs "
			"of monitoring.alerting.channels are used (as webhooks)");
		return;
	}
	osp_doc_walk(c, n, path, keys, false);
}
