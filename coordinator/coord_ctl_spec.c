/*
 * coord_ctl_spec.c - a rollout's spec: the settings a rollout record is
 * created with. deploy builds it from its arguments (coord_ctl_deploy_rec;
 * apply makes a plan's template with it), rollback from the rollout it
 * undoes (coord_ctl_spec_copy). One table, coord_ctl_spec, lists the
 * settings the way coordinator/main.c lists its options (osp_opt: the flag
 * name, its type, default and range, what a bad value is told), each with
 * the record field it fills; adding a setting is one row there (and its
 * field in store.proto).
 */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_control.h"
#include "coord_ctl_checks.h"
#include "coord_active.h"
#include "coord_webhooks.h"
#include "ospec/opts.h"

int coord_ctl_count(const char *s, uint32_t min, uint32_t max, uint32_t *n, bool *pct)
{
	char buf[32];
	size_t l;
	uint64_t v;

	if (s == NULL || (l = strlen(s)) == 0 || l >= sizeof(buf))
		return -1;
	osp_strlcpy(buf, s, sizeof(buf));
	*pct = buf[l - 1] == '%';
	if (*pct)
		buf[l - 1] = '\0';
	if (osp_u64_parse(buf, *pct ? 0 : min, *pct ? 100 : max, &v) != OSP_OK)
		return -1;
	if (*pct && v == 0 && min > 0)
		return -1;
	*n = (uint32_t)v;
	return 0;
}

static bool coord_ctl_hex64(const char *s)
{
	if (s == NULL || strlen(s) != 64)
		return false;
	for (size_t i = 0; i < 64; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return false;
	return true;
}


/* coord_ctl_ms reads an optional duration argument (with a default) of 1 ms
 * to max_ms: every max fits the record's field (32 bits for the health
 * settings), so nothing is cut to its low bits on the way. */
int coord_ctl_ms(coord_ctl_req *rq, const char *key, const char *def, int64_t max_ms,
	int64_t *ms, char *err, size_t errlen)
{
	const char *v = coord_ctl_arg(rq, key);
	char hi[32], shown[80];

	if (v == NULL)
		v = def;
	if (osp_duration_parse(v, ms) != OSP_OK || *ms <= 0 || *ms > max_ms) {
		osp_duration_fmt(max_ms, hi, sizeof(hi));
		osp_str_show(v, shown, sizeof(shown));
		snprintf(err, errlen, "--%s: expected a duration from 1ms to %s, got '%s'", key,
			hi, shown);
		return -1;
	}
	return 0;
}

int coord_ctl_u32(coord_ctl_req *rq, const char *key, const char *def, uint32_t min,
	uint32_t max, uint32_t *out, char *err, size_t errlen)
{
	const char *v = coord_ctl_arg(rq, key);
	uint64_t n;

	if (v == NULL)
		v = def;
	if (osp_u64_parse(v, min, max, &n) != OSP_OK) {
		char shown[80];
		snprintf(err, errlen, "--%s: expected a number %u..%u, got '%s'", key, min, max,
			osp_str_show(v, shown, sizeof(shown)));
		return -1;
	}
	*out = (uint32_t)n;
	return 0;
}

/* coord_ctl_watch reads the post-deploy watch: --watch D, or for blue-green
 * its older name --rollback-window D (both: they must agree). Default 2m,
 * blue-green 5m; 0 means no watch. */
static int coord_ctl_watch(coord_ctl_req *rq, coord_ro_strategy st, int64_t *ms, char *err,
	size_t errlen)
{
	const char *w = coord_ctl_arg(rq, "watch"), *rw = coord_ctl_arg(rq, "rollback-window");
	int64_t a = 0, b = 0;

	if (w != NULL && (osp_duration_parse(w, &a) != OSP_OK || a < 0 || a > 7LL * 86400000)) {
		snprintf(err, errlen, "--watch: expected a duration from 0 to 7d, got '%s'", w);
		return -1;
	}
	if (rw != NULL && (osp_duration_parse(rw, &b) != OSP_OK || b < 0 || b > 7LL * 86400000)) {
		snprintf(err, errlen, "--rollback-window: expected a duration from 0 to 7d, got '%s'",
			rw);
		return -1;
	}
	if (w != NULL && rw != NULL && a != b) {
		snprintf(err, errlen, "--watch and --rollback-window are one setting: give one");
		return -1;
	}
	if (w != NULL)
		*ms = a;
	else if (rw != NULL)
		*ms = b;
	else
		*ms = coord_ro_slotted(st) ? 5 * 60000 : 2 * 60000;
	return 0;
}

/* coord_ctl_ports parses "blue=N,green=M". */
static int coord_ctl_ports(const char *s, uint32_t *blue, uint32_t *green)
{
	unsigned b = 0, g = 0;
	int n = 0;

	if (sscanf(s, "blue=%u,green=%u%n", &b, &g, &n) != 2 || s[n] != '\0')
		return -1;
	if (b == 0 || b > 65535 || g == 0 || g > 65535 || b == g)
		return -1;
	*blue = b;
	*green = g;
	return 0;
}


/* How a setting reaches the record: from deploy's argument of the row's
 * name (ARG), and from the rollout a rollback undoes (CARRY). */
enum {
	COORD_SPEC_ARG = 1,
	COORD_SPEC_CARRY = 2,
};

/* One setting: an option (osp_opt: name, type, default, range; help is the
 * usage error of a count) and the RolloutRecord field it fills: value,
 * has_ flag, and for a count (OSP_OPT_UINT with a pct field) "N or N%"
 * its percent flag. */
typedef struct coord_spec_row {
	osp_opt opt;
	size_t off, has, pct, pct_has;
	coord_rf_kind kind;
	unsigned flags;
} coord_spec_row;

#define SPEC_R Ospec__V1__RolloutRecord
#define SPEC(f, fl, ...) { .opt = { __VA_ARGS__ }, .off = offsetof(SPEC_R, f), \
	.has = offsetof(SPEC_R, has_##f), .pct = COORD_RF_NOHAS, .pct_has = COORD_RF_NOHAS, \
	.kind = COORD_RF_KIND(((SPEC_R *)0)->f), .flags = fl }
#define SPEC_COUNT(f, fl, ...) { .opt = { __VA_ARGS__ }, .off = offsetof(SPEC_R, f), \
	.has = offsetof(SPEC_R, has_##f), .pct = offsetof(SPEC_R, f##_pct), \
	.pct_has = offsetof(SPEC_R, has_##f##_pct), \
	.kind = COORD_RF_KIND(((SPEC_R *)0)->f), .flags = fl }
#define SPEC_STR(f, fl, ...) { .opt = { __VA_ARGS__ }, .off = offsetof(SPEC_R, f), \
	.has = COORD_RF_NOHAS, .pct = COORD_RF_NOHAS, .pct_has = COORD_RF_NOHAS, \
	.kind = COORD_RF_STR, .flags = fl }
#define ARG COORD_SPEC_ARG
#define CARRY COORD_SPEC_CARRY
static const coord_spec_row coord_ctl_spec[] = {
	/* deploy reads these in its own code (they depend on each other) */
	SPEC(strategy, CARRY, .name = "strategy"),
	SPEC(port, CARRY, .name = "port"),
	SPEC(blue_port, CARRY, .name = "ports"),
	SPEC(green_port, CARRY, .name = "ports"),
	/* in this order: the first bad one is the one told */
	SPEC_COUNT(batch, ARG | CARRY, .name = "batch", .type = OSP_OPT_UINT, .defval = "1",
		.min = 1, .max = 100000,
		.help = "--batch: expected a count >= 1 or a percentage 1%..100%"),
	SPEC_COUNT(max_failures, ARG | CARRY, .name = "max-failures", .type = OSP_OPT_UINT,
		.defval = "0", .min = 0, .max = 100000,
		.help = "--max-failures: expected a count or a percentage 0%..100%"),
	SPEC_STR(health_path, ARG | CARRY, .name = "health-path", .type = OSP_OPT_STR,
		.defval = "/health"),
	SPEC(health_interval_ms, ARG | CARRY, .name = "health-interval",
		.type = OSP_OPT_DURATION, .defval = "500ms", .max = COORD_CTL_HOUR),
	SPEC(health_timeout_ms, ARG | CARRY, .name = "health-timeout", .type = OSP_OPT_DURATION,
		.defval = "2s", .max = COORD_CTL_HOUR),
	SPEC(health_deadline_ms, ARG | CARRY, .name = "health-deadline",
		.type = OSP_OPT_DURATION, .defval = "60s", .max = COORD_CTL_DAY),
	SPEC(health_rise, ARG | CARRY, .name = "health-rise", .type = OSP_OPT_UINT,
		.defval = "2", .min = 1, .max = 100),
	SPEC(health_fall, ARG | CARRY, .name = "health-fall", .type = OSP_OPT_UINT,
		.defval = "3", .min = 1, .max = 100),
	SPEC(progress_deadline_ms, ARG | CARRY, .name = "progress-deadline",
		.type = OSP_OPT_DURATION, .defval = "10m", .max = 7 * COORD_CTL_DAY),
	/* --watch and --rollback-window: coord_ctl_watch */
	SPEC(rollback_window_ms, CARRY, .name = "watch"),
	SPEC(scale_down_delay_ms, ARG | CARRY, .name = "scale-down-delay",
		.type = OSP_OPT_DURATION, .defval = "10m", .max = 7 * COORD_CTL_DAY),
	SPEC(no_auto_rollback, ARG, .name = "no-auto-rollback", .type = OSP_OPT_BOOL),
	SPEC(prepare_deadline_ms, ARG | CARRY, .name = "prepare-deadline",
		.type = OSP_OPT_DURATION, .defval = "30s", .max = COORD_CTL_DAY),
	SPEC_STR(select, ARG | CARRY, .name = "select", .type = OSP_OPT_STR),
};
#undef ARG
#undef CARRY
#undef SPEC
#undef SPEC_COUNT
#undef SPEC_STR
#undef SPEC_R
#define COORD_SPEC_N (sizeof(coord_ctl_spec) / sizeof(coord_ctl_spec[0]))

/* coord_ctl_spec_arg reads row f's argument (or its default) into r. */
static int coord_ctl_spec_arg(coord_ctl_req *rq, const coord_spec_row *f,
	Ospec__V1__RolloutRecord *r, char *err, size_t errlen)
{
	const osp_opt *o = &f->opt;
	const char *v = coord_ctl_arg(rq, o->name);
	char *p = (char *)r;
	uint32_t n = 0;
	int64_t ms = 0;
	bool pct = false;

	switch (o->type) {
	case OSP_OPT_STR:
		v = v != NULL ? v : o->defval;
		if (v != NULL && (*(char **)(p + f->off) = strdup(v)) == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		return 0;
	case OSP_OPT_BOOL:
		coord_rf_set(p + f->off, f->kind, v != NULL && strcmp(v, "true") == 0);
		break;
	case OSP_OPT_DURATION:
		if (coord_ctl_ms(rq, o->name, o->defval, (int64_t)o->max, &ms, err, errlen) != 0)
			return -1;
		coord_rf_set(p + f->off, f->kind, ms);
		break;
	case OSP_OPT_UINT:
		if (f->pct == COORD_RF_NOHAS) {
			if (coord_ctl_u32(rq, o->name, o->defval, (uint32_t)o->min, (uint32_t)o->max,
				    &n, err, errlen) != 0)
				return -1;
		} else if (coord_ctl_count(v != NULL ? v : o->defval, (uint32_t)o->min,
				   (uint32_t)o->max, &n, &pct) != 0) {
			snprintf(err, errlen, "%s", o->help);
			return -1;
		} else {
			*(protobuf_c_boolean *)(p + f->pct) = pct;
			*(protobuf_c_boolean *)(p + f->pct_has) = 1;
		}
		coord_rf_set(p + f->off, f->kind, n);
		break;
	default:
		return 0;
	}
	*(protobuf_c_boolean *)(p + f->has) = 1;
	return 0;
}

/* coord_ctl_spec_args reads every ARG row of the spec into r, in order:
 * 0, or -1 with err (the first bad argument). */
static int coord_ctl_spec_args(coord_ctl_req *rq, Ospec__V1__RolloutRecord *r, char *err,
	size_t errlen)
{
	for (size_t i = 0; i < COORD_SPEC_N; i++)
		if ((coord_ctl_spec[i].flags & COORD_SPEC_ARG) &&
			coord_ctl_spec_arg(rq, &coord_ctl_spec[i], r, err, errlen) != 0)
			return -1;
	return 0;
}

int coord_ctl_spec_copy(Ospec__V1__RolloutRecord *n, const Ospec__V1__RolloutRecord *r)
{
	const char *from = (const char *)r;
	char *to = (char *)n;

	for (size_t i = 0; i < COORD_SPEC_N; i++) {
		const coord_spec_row *f = &coord_ctl_spec[i];

		if (!(f->flags & COORD_SPEC_CARRY))
			continue;
		if (f->kind == COORD_RF_STR) {
			const char *s = *(char *const *)(from + f->off);

			s = s != NULL ? s : f->opt.defval;
			if (s != NULL && (*(char **)(to + f->off) = strdup(s)) == NULL)
				return -1;
			continue;
		}
		coord_rf_set(to + f->off, f->kind, coord_rf_get(from + f->off, f->kind));
		*(protobuf_c_boolean *)(to + f->has) = *(const protobuf_c_boolean *)(from + f->has);
		if (f->pct != COORD_RF_NOHAS) {
			*(protobuf_c_boolean *)(to + f->pct) = *(const protobuf_c_boolean *)(from + f->pct);
			*(protobuf_c_boolean *)(to + f->pct_has) =
				*(const protobuf_c_boolean *)(from + f->pct_has);
		}
	}
	return 0;
}

/* coord_ctl_deploy_rec validates the deploy arguments into a new record. */
Ospec__V1__RolloutRecord *coord_ctl_deploy_rec(coord_ctl_req *rq, char *err, size_t errlen)
{
	Ospec__V1__RolloutRecord *r = calloc(1, sizeof(*r));
	const char *app = coord_ctl_arg(rq, "app"), *ver = coord_ctl_arg(rq, "version");
	const char *url = coord_ctl_arg(rq, "artifact"), *sha = coord_ctl_arg(rq, "sha256");
	const char *run = coord_ctl_arg(rq, "run"), *strat = coord_ctl_arg(rq, "strategy");
	const char *port = coord_ctl_arg(rq, "port"), *ports = coord_ctl_arg(rq, "ports");
	coord_ro_strategy st = COORD_RO_ROLLING;

	if (r == NULL)
		return NULL;
	ospec__v1__rollout_record__init(r);
	if (app == NULL || !osp_valid_id(app) || strlen(app) > 40) {
		snprintf(err, errlen, "--app: expected 1-40 characters of A-Z a-z 0-9 . _ -");
		goto fail;
	}
	if (ver == NULL || !osp_wire_valid_version(ver)) {
		snprintf(err, errlen, "--version: expected 1-128 characters of A-Z a-z 0-9 . _ + -");
		goto fail;
	}
	if (url == NULL || strlen(url) > OSP_WIRE_MAX_URL ||
		(strncmp(url, "file://", 7) != 0 && strncmp(url, "http://", 7) != 0 &&
			strncmp(url, "https://", 8) != 0)) {
		snprintf(err, errlen, "--artifact: expected a file://, http:// or https:// URL");
		goto fail;
	}
	if (!coord_ctl_hex64(sha)) {
		snprintf(err, errlen, "--sha256: expected 64 lowercase hex digits");
		goto fail;
	}
	if (run == NULL || run[0] == '\0' || strlen(run) > OSP_WIRE_MAX_RUN) {
		snprintf(err, errlen, "--run: expected the command line that starts the app");
		goto fail;
	}
	if (strat != NULL && coord_ro_strategy_parse(strat, &st) != 0) {
		snprintf(err, errlen, "--strategy: expected rolling, blue_green, canary or recreate");
		goto fail;
	}
	if (coord_ro_slotted(st) && ports == NULL) {
		snprintf(err, errlen, "--strategy %s needs --ports blue=N,green=M",
			coord_ro_strategy_name(st));
		goto fail;
	}
	r->strategy = st;
	r->has_strategy = 1;
	if (ports != NULL && coord_ctl_ports(ports, &r->blue_port, &r->green_port) != 0) {
		snprintf(err, errlen, "--ports: expected blue=PORT,green=PORT");
		goto fail;
	}
	/* present, so that they are stored (packed) with the record */
	r->has_blue_port = r->has_green_port = ports != NULL;
	if (port != NULL) {
		if (coord_ctl_u32(rq, "port", "0", 1, 65535, &r->port, err, errlen) != 0)
			goto fail;
		r->has_port = 1;
	} else if (ports == NULL) {
		snprintf(err, errlen, "--port N (or --ports blue=N,green=M) is required");
		goto fail;
	}
	if (coord_ctl_spec_args(rq, r, err, errlen) != 0)
		goto fail;
	if (r->health_path[0] != '/' || strlen(r->health_path) > OSP_WIRE_MAX_PATH) {
		snprintf(err, errlen, "--health-path: expected a path starting with '/'");
		goto fail;
	}
	if (coord_ctl_watch(rq, st, &r->rollback_window_ms, err, errlen) != 0)
		goto fail;
	r->has_rollback_window_ms = 1;
	if (coord_ro_slotted(st) && r->scale_down_delay_ms <= r->rollback_window_ms) {
		snprintf(err, errlen,
			"--scale-down-delay must be longer than --watch (the old slot is "
			"what a switch back needs)");
		goto fail;
	}
	if (r->progress_deadline_ms <= (int64_t)r->health_deadline_ms) {
		snprintf(err, errlen,
			"--progress-deadline must be longer than --health-deadline (a node needs "
			"time to fetch and check)");
		goto fail;
	}
	r->app = strdup(app);
	r->version = strdup(ver);
	r->artifact = strdup(url);
	r->sha256 = strdup(sha);
	r->run = strdup(run);
	if (r->select != NULL && r->select[0] != '\0') {
		osp_labels sel = { 0 };
		osp_err bad = osp_labels_parse_list(&sel, r->select);
		osp_labels_fini(&sel);
		if (bad != OSP_OK) {
			char shown[160];
			snprintf(err, errlen, "--select: expected K=V[,K=V...], got '%s'",
				osp_str_show(r->select, shown, sizeof(shown)));
			goto fail;
		}
	}
	if (coord_ctl_checks(rq, r, err, errlen) != 0 || /* --require-env, --smoke */
		coord_ctl_canary(rq, r, err, errlen) != 0 || /* --canary-*, --analysis-* */
		coord_wh_args(coord_ctl_arg(rq, "webhook"), r, err, errlen) != 0) /* --webhook */
		goto fail;
	return r;
fail:
	ospec__v1__rollout_record__free_unpacked(r, NULL);
	return NULL;
}
