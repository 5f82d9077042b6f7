/*
 * bench_wire.c - encode and decode throughput of typical agent-protocol
 * envelopes through osp_wire_encode / osp_wire_decode / osp_wire_free, the
 * functions every request and reply of the coordinator and the agent goes
 * through.
 *
 *   bench_wire [--iterations N] [--seconds S] [--case NAME]
 *
 * Without --iterations each case runs for about S seconds (default 0.5) per
 * direction. With --iterations the count is fixed, which is what callgrind
 * wants: valgrind --tool=callgrind bench_wire --iterations 10000 --case poll
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "ospec/wire.h"

#define BW_NODE "web-0042.us-east"
#define BW_UUID "3f2c9a1e-7b4d-4e8a-9c61-0d5e2b7a4f10"
#define BW_SHA "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define BW_MAX_STAGES 32

/* Everything one case points at: the envelope is built from locals here. */
typedef struct bw_msgs {
	osp_env env;
	Ospec__V1__Heartbeat hb;
	Ospec__V1__AppState app[3], *appp[3];
	Ospec__V1__Poll poll;
	Ospec__V1__Commands cmds;
	Ospec__V1__Command cmd[BW_MAX_STAGES], *cmdp[BW_MAX_STAGES];
	Ospec__V1__Stage stage[BW_MAX_STAGES];
	Ospec__V1__CommandResult res;
} bw_msgs;

typedef struct bw_case {
	const char *name;
	const char *what;
	void (*build)(bw_msgs *m);
} bw_case;

static void bw_env(bw_msgs *m)
{
	osp_wire_env_init(&m->env, BW_NODE, BW_UUID, 123456);
}

static void bw_build_heartbeat(bw_msgs *m)
{
	static const char *const apps[3] = { "checkout", "search", "metrics-sidecar" };
	static const char *const vers[3] = { "2024.06.1", "1.14.3", "0.9.0+build.77" };

	bw_env(m);
	ospec__v1__heartbeat__init(&m->hb);
	m->hb.has_cursor = 1;
	m->hb.cursor = 41;
	for (int i = 0; i < 3; i++) {
		Ospec__V1__AppState *a = &m->app[i];
		ospec__v1__app_state__init(a);
		a->app = (char *)apps[i];
		a->active_slot = (char *)(i == 0 ? "blue" : "main");
		a->version = (char *)vers[i];
		a->sha256 = (char *)BW_SHA;
		a->has_generation = a->has_running = a->has_healthy = 1;
		a->generation = 17 + (uint64_t)i;
		a->running = a->healthy = 1;
		a->idle_version = (char *)(i == 0 ? "2024.05.3" : "");
		m->appp[i] = a;
	}
	m->hb.n_apps = 3;
	m->hb.apps = m->appp;
	m->env.body_case = OSPEC__V1__ENVELOPE__BODY_HEARTBEAT;
	m->env.heartbeat = &m->hb;
}

static void bw_build_poll(bw_msgs *m)
{
	bw_env(m);
	ospec__v1__poll__init(&m->poll);
	m->poll.cursor = 41;
	m->poll.has_max_entries = 1;
	m->poll.max_entries = 32;
	m->env.body_case = OSPEC__V1__ENVELOPE__BODY_POLL;
	m->env.poll = &m->poll;
}

/* bw_build_commands makes a Commands reply with n Stage entries, as the
 * coordinator sends for a rolling deploy. */
static void bw_build_commands(bw_msgs *m, size_t n)
{
	osp_wire_env_init(&m->env, NULL, NULL, 0); /* replies carry no identity */
	ospec__v1__commands__init(&m->cmds);
	for (size_t i = 0; i < n; i++) {
		Ospec__V1__Stage *s = &m->stage[i];
		Ospec__V1__Command *c = &m->cmd[i];

		ospec__v1__stage__init(s);
		s->app = "checkout";
		s->version = "2024.06.2";
		s->artifact_url = "https://releases.example.com/checkout/checkout-2024.06.2.tar.gz";
		s->sha256 = BW_SHA;
		s->run = "./bin/checkout --port {port} --config /etc/checkout/prod.yaml";
		s->slot = "main";
		s->has_port = 1;
		s->port = 8080;
		s->health_path = "/health";
		s->has_health_interval_ms = s->has_health_rise = s->has_health_fall = 1;
		s->health_interval_ms = 500;
		s->health_rise = 2;
		s->health_fall = 3;
		s->has_health_timeout_ms = s->has_health_deadline_ms = 1;
		s->health_timeout_ms = 2000;
		s->health_deadline_ms = 60000;
		ospec__v1__command__init(c);
		c->seq = 42 + i;
		c->has_generation = 1;
		c->generation = 42 + i;
		c->rollout_id = "r-000173";
		c->kind_case = OSPEC__V1__COMMAND__KIND_STAGE;
		c->stage = s;
		m->cmdp[i] = c;
	}
	m->cmds.n_entries = n;
	m->cmds.entries = m->cmdp;
	m->cmds.has_log_end = 1;
	m->cmds.log_end = 42 + n - 1;
	m->env.body_case = OSPEC__V1__ENVELOPE__BODY_COMMANDS;
	m->env.commands = &m->cmds;
}

static void bw_build_commands1(bw_msgs *m)
{
	bw_build_commands(m, 1);
}

static void bw_build_commands32(bw_msgs *m)
{
	bw_build_commands(m, BW_MAX_STAGES);
}

static void bw_build_result(bw_msgs *m)
{
	bw_env(m);
	ospec__v1__command_result__init(&m->res);
	m->res.seq = 42;
	m->res.status = OSPEC__V1__RESULT_STATUS__RESULT_OK;
	m->res.message = "healthy after 2 checks (GET /health 200 in 3 ms)";
	m->res.app = "checkout";
	m->res.version = "2024.06.2";
	m->res.slot = "main";
	m->res.has_finished_ms = 1;
	m->res.finished_ms = 1718000000123ULL;
	m->env.body_case = OSPEC__V1__ENVELOPE__BODY_RESULT;
	m->env.result = &m->res;
}

static const bw_case bw_cases[] = {
	{ "heartbeat", "Heartbeat, 3 apps", bw_build_heartbeat },
	{ "poll", "Poll", bw_build_poll },
	{ "commands1", "Commands, 1 Stage", bw_build_commands1 },
	{ "commands32", "Commands, 32 Stage", bw_build_commands32 },
	{ "result", "CommandResult", bw_build_result },
};
#define BW_NCASES (sizeof(bw_cases) / sizeof(bw_cases[0]))

typedef struct bw_opts {
	uint64_t iterations; /* 0: run for seconds */
	double seconds;
	const char *only;
} bw_opts;

/* bw_run_encode encodes env repeatedly; returns ops/s or <0 on an error. */
static double bw_run_encode(const osp_env *env, const bw_opts *o)
{
	int64_t start = bench_now_ns(), limit = (int64_t)(o->seconds * 1e9), el;
	uint64_t ops = 0;

	do {
		for (int i = 0; i < 256 && (o->iterations == 0 || ops < o->iterations); i++) {
			nng_msg *m = NULL;
			if (osp_wire_encode(env, &m) != OSP_OK)
				return -1;
			nng_msg_free(m);
			ops++;
		}
		el = bench_now_ns() - start;
	} while (o->iterations ? ops < o->iterations : el < limit);
	return (double)ops * 1e9 / (double)(el > 0 ? el : 1);
}

/* bw_run_decode decodes buf repeatedly; returns ops/s or <0 on an error. */
static double bw_run_decode(const void *buf, size_t len, const bw_opts *o)
{
	int64_t start = bench_now_ns(), limit = (int64_t)(o->seconds * 1e9), el;
	uint64_t ops = 0;
	char err[256];

	do {
		for (int i = 0; i < 256 && (o->iterations == 0 || ops < o->iterations); i++) {
			osp_env *e = NULL;
			osp_err rv = osp_wire_decode(buf, len, &e, err, sizeof(err));
			osp_wire_free(e);
			if (rv != OSP_OK) {
				fprintf(stderr, "bench_wire: decode: %s\n", err);
				return -1;
			}
			ops++;
		}
		el = bench_now_ns() - start;
	} while (o->iterations ? ops < o->iterations : el < limit);
	return (double)ops * 1e9 / (double)(el > 0 ? el : 1);
}

/* bw_case_run measures one case and prints its table row. */
static int bw_case_run(const bw_case *c, const bw_opts *o)
{
	bw_msgs *m = calloc(1, sizeof(*m));
	nng_msg *enc = NULL;
	double eps, dps;
	size_t len;
	int code = 1;

	if (m == NULL)
		return 1;
	c->build(m);
	if (osp_wire_encode(&m->env, &enc) != OSP_OK) {
		fprintf(stderr, "bench_wire: cannot encode '%s'\n", c->name);
		goto out;
	}
	len = nng_msg_len(enc);
	if ((eps = bw_run_encode(&m->env, o)) < 0 ||
		(dps = bw_run_decode(nng_msg_body(enc), len, o)) < 0)
		goto out;
	printf("| %-20s | %6zu | %12.0f | %12.0f | %8.1f | %8.1f | %9.2f |\n", c->what, len,
		eps, dps, eps * (double)len / 1e6, dps * (double)len / 1e6,
		1e6 / eps + 1e6 / dps);
	fflush(stdout);
	code = 0;
out:
	nng_msg_free(enc);
	free(m);
	return code;
}

static int bw_usage(FILE *f)
{
	fprintf(f, "usage: bench_wire [--iterations N] [--seconds S] [--case NAME]\n"
		   "  --iterations N  exactly N encodes and N decodes per case (for callgrind)\n"
		   "  --seconds S     time per case and direction without --iterations (0.5)\n"
		   "  --case NAME     only this case:");
	for (size_t i = 0; i < BW_NCASES; i++)
		fprintf(f, " %s", bw_cases[i].name);
	fprintf(f, "\n");
	return f == stdout ? 0 : 2;
}

int main(int argc, char **argv)
{
	bw_opts o = { .seconds = 0.5 };
	int code = 0;
	bool found = false;

	for (int i = 1; i < argc; i += 2) { /* every option takes a value */
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return bw_usage(stdout);
		if (strcmp(argv[i], "--iterations") == 0 && v != NULL) {
			if (bench_arg_u64(v, &o.iterations) != 0 || o.iterations == 0)
				return bw_usage(stderr);
		} else if (strcmp(argv[i], "--seconds") == 0 && v != NULL) {
			o.seconds = atof(v);
			if (o.seconds <= 0 || o.seconds > 30)
				return bw_usage(stderr);
		} else if (strcmp(argv[i], "--case") == 0 && v != NULL) {
			o.only = v;
		} else {
			return bw_usage(stderr);
		}
	}
	bench_header(argc, argv);
	printf("# osp_wire_encode (pack into a new nng_msg, then nng_msg_free) and\n"
	       "# osp_wire_decode + osp_wire_free (unpack, check every limit), one thread\n\n");
	printf("| %-20s | %6s | %12s | %12s | %8s | %8s | %9s |\n", "message", "bytes",
		"encode/s", "decode/s", "enc MB/s", "dec MB/s", "us/rt");
	printf("|%s|%s|%s|%s|%s|%s|%s|\n", "----------------------", "-------:",
		"-------------:", "-------------:", "---------:", "---------:", "----------:");
	for (size_t i = 0; i < BW_NCASES; i++) {
		if (o.only != NULL && strcmp(o.only, bw_cases[i].name) != 0)
			continue;
		found = true;
		if (bw_case_run(&bw_cases[i], &o) != 0)
			code = 1;
	}
	if (!found) {
		fprintf(stderr, "bench_wire: no case '%s'\n", o.only ? o.only : "");
		return 2;
	}
	printf("\nus/rt: microseconds to encode once and decode once (one side of a request)\n");
	return code;
}
