/*
 * coord_webhooks.c - webhooks (coord_webhooks.h): URL checks, the body and
 * its Slack text, the HMAC signature, the retry schedule, and the
 * coordinator's settings (--webhook, webhooks:, --webhook-secret-file).
 * The outbox and the worker are in coord_webhooks_outbox.c.
 */
#include "coord_webhooks.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/md.h>

#include "ospec/json.h"
#include "ospec/log.h"
#include "ospec/util.h"

bool coord_wh_url_ok(const char *url)
{
	size_t skip, l;

	if (url == NULL)
		return false;
	if (strncmp(url, "http://", 7) == 0)
		skip = 7;
	else if (strncmp(url, "https://", 8) == 0)
		skip = 8;
	else
		return false;
	l = strlen(url);
	if (l > COORD_WH_URL_MAX || url[skip] == '\0' || url[skip] == '/' || url[skip] == ':' ||
		url[skip] == '?' || url[skip] == '#')
		return false; /* no host */
	for (size_t i = 0; i < l; i++)
		if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f)
			return false;
	return true;
}

void coord_wh_url_show(const char *url, char *buf, size_t len)
{
	const char *sep = url != NULL ? strstr(url, "://") : NULL, *host, *end;

	if (len == 0)
		return;
	if (sep == NULL) {
		osp_strlcpy(buf, "(a webhook URL)", len);
		return;
	}
	host = sep + 3;
	end = host + strcspn(host, "/?#");
	for (const char *p = host; p < end; p++)
		if (*p == '@')
			host = p + 1; /* user:password@ is never shown */
	snprintf(buf, len, "%.*s%.*s", (int)(sep + 3 - url), url, (int)(end - host), host);
}

int coord_wh_args(const char *list, Ospec__V1__RolloutRecord *r, char *err, size_t errlen)
{
	const char *p = list;

	while (p != NULL && *p != '\0') {
		size_t n = strcspn(p, " ");
		char url[COORD_WH_URL_MAX + 1], shown[120];
		bool dup = false;
		char **v;

		if (n == 0) {
			p++;
			continue;
		}
		if (n > COORD_WH_URL_MAX) {
			snprintf(err, errlen, "--webhook: a URL longer than %d bytes", COORD_WH_URL_MAX);
			return -1;
		}
		memcpy(url, p, n);
		url[n] = '\0';
		p += n;
		if (!coord_wh_url_ok(url)) {
			snprintf(err, errlen, "--webhook: expected an http:// or https:// URL with a "
				"host, got '%s'", osp_str_show(url, shown, sizeof(shown)));
			return -1;
		}
		for (size_t i = 0; i < r->n_webhooks && !dup; i++)
			dup = strcmp(r->webhooks[i], url) == 0;
		if (dup)
			continue;
		if (r->n_webhooks >= COORD_WH_MAX_URLS) {
			snprintf(err, errlen, "--webhook: more than %d URLs", COORD_WH_MAX_URLS);
			return -1;
		}
		if ((v = realloc(r->webhooks, (r->n_webhooks + 1) * sizeof(*v))) == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		r->webhooks = v;
		if ((v[r->n_webhooks] = strdup(url)) == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		r->n_webhooks++;
	}
	return 0;
}

/* coord_wh_verb: what the text says a type did. */
static const char *coord_wh_verb(const char *state)
{
	static const char *const v[][2] = {
		{ "started", "started" }, { "waiting_approval", "waits for approval" },
		{ "succeeded", "succeeded" }, { "failed", "failed" }, { "aborted", "was aborted" },
		{ "rolled_back", "was rolled back" },
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (state != NULL && strcmp(state, v[i][0]) == 0)
			return v[i][1];
	return state != NULL ? state : "changed";
}

static bool coord_wh_set(const char *s)
{
	return s != NULL && s[0] != '\0';
}

void coord_wh_text(const coord_wh_event *ev, char *buf, size_t len)
{
	bool plan_ev = !coord_wh_set(ev->rollout);
	const char *dot = ev->type != NULL ? strchr(ev->type, '.') : NULL;
	const char *verb = coord_wh_verb(dot != NULL ? dot + 1 : ev->state);
	char where[200] = "";
	size_t n;

	if (len == 0)
		return;
	if (!plan_ev && coord_wh_set(ev->plan))
		snprintf(where, sizeof(where), ", stage %s of plan %s",
			coord_wh_set(ev->stage) ? ev->stage : "?", ev->plan);
	if (plan_ev && coord_wh_set(ev->stage))
		snprintf(buf, len, "ospec: plan %s (%s %s): stage %s %s", ev->plan ? ev->plan : "?",
			ev->app ? ev->app : "?", ev->version ? ev->version : "?", ev->stage, verb);
	else
		snprintf(buf, len, "ospec: %s %s (%s %s%s) %s", plan_ev ? "plan" : "rollout",
			plan_ev ? (ev->plan ? ev->plan : "?") : ev->rollout, ev->app ? ev->app : "?",
			ev->version ? ev->version : "?", where, verb);
	n = strlen(buf);
	if (coord_wh_set(ev->message) && n + 2 < len)
		snprintf(buf + n, len - n, ": %s", ev->message);
	for (char *p = buf; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	n = strlen(buf);
	if (n + 1 >= len && len > 4)
		memcpy(buf + len - 4, "...", 4);
}

osp_err coord_wh_body(const coord_wh_event *ev, const char *id, osp_buf *out)
{
	char ts[40], text[COORD_WH_TEXT_MAX];
	osp_jw w;

	osp_time_fmt(ev->ts_ms, ts, sizeof(ts));
	coord_wh_text(ev, text, sizeof(text));
	osp_jw_init(&w, out);
	osp_jw_obj_begin(&w);
	osp_jw_key(&w, "id");
	osp_jw_str(&w, id);
	osp_jw_key(&w, "type");
	osp_jw_str(&w, ev->type);
	osp_jw_key(&w, "rollout");
	osp_jw_str(&w, coord_wh_set(ev->rollout) ? ev->rollout : NULL);
	osp_jw_key(&w, "plan");
	osp_jw_str(&w, coord_wh_set(ev->plan) ? ev->plan : NULL);
	osp_jw_key(&w, "stage");
	osp_jw_str(&w, coord_wh_set(ev->stage) ? ev->stage : NULL);
	osp_jw_key(&w, "app");
	osp_jw_str(&w, ev->app);
	osp_jw_key(&w, "version");
	osp_jw_str(&w, ev->version);
	osp_jw_key(&w, "state");
	osp_jw_str(&w, ev->state);
	osp_jw_key(&w, "message");
	osp_jw_str(&w, ev->message ? ev->message : "");
	osp_jw_key(&w, "ts");
	osp_jw_str(&w, ts);
	osp_jw_key(&w, "text");
	osp_jw_str(&w, text);
	osp_jw_obj_end(&w);
	return osp_jw_err(&w);
}

void coord_wh_sign(const uint8_t *key, size_t klen, const void *body, size_t blen, char hex[65])
{
	static const char digits[] = "0123456789abcdef";
	uint8_t mac[32];

	memset(mac, 0, sizeof(mac));
	mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), key, klen, body, blen, mac);
	for (size_t i = 0; i < 32; i++) {
		hex[2 * i] = digits[mac[i] >> 4];
		hex[2 * i + 1] = digits[mac[i] & 15];
	}
	hex[64] = '\0';
}

int64_t coord_wh_backoff_ms(uint32_t attempts, uint32_t rnd)
{
	int64_t base = COORD_WH_BACKOFF_FIRST_MS, spread, d;

	for (uint32_t i = 1; i < attempts && base < COORD_WH_BACKOFF_MAX_MS; i++)
		base *= 2;
	if (base > COORD_WH_BACKOFF_MAX_MS)
		base = COORD_WH_BACKOFF_MAX_MS;
	/* +-20%: receivers that failed together do not all get the retry at once */
	spread = base * 2 / 5;
	d = base - base / 5 + (int64_t)(rnd % (uint32_t)(spread + 1));
	return d > COORD_WH_BACKOFF_MAX_MS ? COORD_WH_BACKOFF_MAX_MS : d;
}

bool coord_wh_give_up(uint32_t attempts, int64_t first_ms, int64_t now_ms)
{
	return attempts >= COORD_WH_GIVE_UP_ATTEMPTS || now_ms - first_ms >= COORD_WH_GIVE_UP_MS;
}

/* ---- settings ---- */

/* coord_wh_urls_add adds url to l (a repeat is kept once): 0, or -1 with err. */
static int coord_wh_urls_add(struct coord_wh_urls *l, const char *url, char *err, size_t errlen)
{
	char shown[120];

	if (!coord_wh_url_ok(url)) {
		snprintf(err, errlen, "expected an http:// or https:// URL with a host, got '%s'",
			osp_str_show(url, shown, sizeof(shown)));
		return -1;
	}
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], url) == 0)
			return 0;
	if (l->n >= COORD_WH_MAX_URLS) {
		snprintf(err, errlen, "more than %d URLs", COORD_WH_MAX_URLS);
		return -1;
	}
	if ((l->v[l->n] = strdup(url)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	l->n++;
	return 0;
}

osp_err coord_webhooks_cfg(void *target, const osp_cfg_doc *d, const osp_cfg_node *n, char *err,
	size_t errlen)
{
	struct coord_wh_urls *l = target;
	char path[48], why[200];

	coord_webhooks_cfg_free(l);
	if (n->kind != OSP_CFG_SEQ)
		return osp_cfg_errorf(d, n, "webhooks", err, errlen,
			"expected a list of http:// or https:// URLs");
	for (size_t i = 0; i < n->n; i++) {
		const char *s = NULL;
		osp_err rv;

		snprintf(path, sizeof(path), "webhooks[%zu]", i);
		if ((rv = osp_cfg_str(d, n->items[i], path, COORD_WH_URL_MAX, &s, err, errlen)) !=
			OSP_OK)
			return rv;
		if (coord_wh_urls_add(l, s, why, sizeof(why)) != 0)
			return osp_cfg_errorf(d, n->items[i], path, err, errlen, "%s", why);
	}
	return OSP_OK;
}

void coord_webhooks_cfg_free(void *target)
{
	struct coord_wh_urls *l = target;

	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	memset(l, 0, sizeof(*l));
}

int coord_webhooks_flags(coord_cfg *cfg, int argc, char **argv)
{
	struct coord_wh_urls l = { 0 };
	char why[200];
	bool any = false;

	for (int i = 1; i < argc; i++) {
		const char *v = NULL;

		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--webhook") == 0 && i + 1 < argc)
			v = argv[++i];
		else if (strncmp(argv[i], "--webhook=", 10) == 0)
			v = argv[i] + 10;
		else
			continue;
		any = true;
		if (coord_wh_urls_add(&l, v, why, sizeof(why)) != 0) {
			fprintf(stderr, "ospec-coordinator: --webhook: %s\n", why);
			coord_webhooks_cfg_free(&l);
			return 2;
		}
	}
	if (any) { /* a flag wins over the file */
		coord_webhooks_cfg_free(&cfg->webhooks);
		cfg->webhooks = l;
	}
	return 0;
}

/* coord_wh_read_secret reads path into w->key (trailing newlines and blanks
 * dropped). */
static osp_err coord_wh_read_secret(coord_webhooks *w, const char *path, char *err,
	size_t errlen)
{
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, errlen, "--webhook-secret-file '%s': %s", path, strerror(errno));
		return OSP_EIO;
	}
	if (fstat(fd, &st) == 0 && (st.st_mode & S_IROTH))
		OSP_WARN("COORD-WEBHOOK", "webhook secret file '%s' is readable by everyone", path);
	n = read(fd, w->key, sizeof(w->key));
	close(fd);
	if (n < 0 || (size_t)n >= sizeof(w->key)) {
		snprintf(err, errlen, "--webhook-secret-file '%s': %s", path,
			n < 0 ? strerror(errno) : "larger than 4 KiB");
		return OSP_EIO;
	}
	while (n > 0 && strchr(" \t\r\n", w->key[n - 1]) != NULL)
		n--;
	if (n == 0) {
		snprintf(err, errlen, "--webhook-secret-file '%s': empty", path);
		return OSP_EINVAL;
	}
	w->klen = (size_t)n;
	return OSP_OK;
}

osp_err coord_webhooks_setup(coord *c, char *err, size_t errlen)
{
	coord_webhooks *w = coord_wh_get(c);
	char shown[COORD_WH_MAX_URLS * 80] = "";
	size_t o = 0;
	osp_err rv;

	if (w == NULL) {
		snprintf(err, errlen, "out of memory");
		return OSP_ENOMEM;
	}
	if (c->cfg.webhook_secret_file != NULL &&
		(rv = coord_wh_read_secret(w, c->cfg.webhook_secret_file, err, errlen)) != OSP_OK)
		return rv;
	for (size_t i = 0; i < c->cfg.webhooks.n && o < sizeof(shown); i++) {
		char one[80];
		coord_wh_url_show(c->cfg.webhooks.v[i], one, sizeof(one));
		o += (size_t)snprintf(shown + o, sizeof(shown) - o, "%s'%s'", i ? ", " : "", one);
	}
	if (c->cfg.webhooks.n > 0)
		OSP_INFO("COORD-WEBHOOK", "every rollout's transitions are POSTed to %s", shown);
	if (w->klen == 0)
		OSP_INFO("COORD-WEBHOOK", "no --webhook-secret-file: webhooks are sent without "
			"the X-Ospec-Signature header");
	else
		OSP_INFO("COORD-WEBHOOK", "webhooks are signed (X-Ospec-Signature: sha256=HMAC)");
	return OSP_OK;
}
