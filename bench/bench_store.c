/*
 * bench_store.c - the coordinator's LMDB write path, with the coordinator's
 * own functions (coord_db_open, coord_db_cmd_append, coord_db_event,
 * coord_db_commit, coord_db_cmd_read) on a temporary data directory.
 *
 *   bench_store [--dir PARENT] [--seconds S] [--batch N] [--log N]
 *
 * Commits are synced (the coordinator's default: fsync at every commit), so
 * the numbers are mostly the disk's fsync rate; --dir /dev/shm shows the CPU
 * side alone.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench_common.h"
#include "coord.h"

#define BS_NODES 128
#define BS_SHA "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

typedef struct bs_opts {
	const char *parent;
	double seconds;
	uint64_t batch;
	uint64_t log;
} bs_opts;

typedef struct bs_ctx {
	coord c;
	coord_node nodes[BS_NODES];
	Ospec__V1__Command cmd;
	Ospec__V1__Stage stage;
} bs_ctx;

/* bs_cmd_init makes the Stage command a rolling deploy appends. */
static void bs_cmd_init(bs_ctx *b)
{
	Ospec__V1__Stage *s = &b->stage;

	ospec__v1__stage__init(s);
	s->app = "checkout";
	s->version = "2024.06.2";
	s->artifact_url = "https://releases.example.com/checkout/checkout-2024.06.2.tar.gz";
	s->sha256 = BS_SHA;
	s->run = "./bin/checkout --port {port} --config /etc/checkout/prod.yaml";
	s->slot = "main";
	s->has_port = 1;
	s->port = 8080;
	s->health_path = "/health";
	ospec__v1__command__init(&b->cmd);
	b->cmd.has_generation = 1;
	b->cmd.rollout_id = "r-000173";
	b->cmd.kind_case = OSPEC__V1__COMMAND__KIND_STAGE;
	b->cmd.stage = s;
}

/* bs_txn appends one command to each of n nodes (from *next, round robin)
 * plus one event, and commits. Returns the osp_err. */
static osp_err bs_txn(bs_ctx *b, uint64_t n, size_t *next)
{
	osp_txn *t = NULL;
	osp_err rv;

	if ((rv = osp_store_txn_begin(b->c.store, true, &t)) != OSP_OK)
		return rv;
	for (uint64_t i = 0; i < n; i++) {
		coord_node *nd = &b->nodes[*next];
		*next = (*next + 1) % BS_NODES;
		b->cmd.generation = nd->log_end + 1;
		if ((rv = coord_db_cmd_append(&b->c, t, nd, &b->cmd)) != OSP_OK) {
			osp_store_txn_abort(t);
			return rv;
		}
	}
	rv = coord_db_event(&b->c, t, "step.staging", b->nodes[0].id, "r-000173", "checkout",
		"coordinator", "%llu nodes: staging 2024.06.2", (unsigned long long)n);
	if (rv != OSP_OK) {
		osp_store_txn_abort(t);
		return rv;
	}
	return coord_db_commit(&b->c, t, "bench");
}

/* bs_write_phase runs txns of n commands for o->seconds and prints a row. */
static int bs_write_phase(bs_ctx *b, const bs_opts *o, uint64_t n, const char *what)
{
	bench_samples lat = { 0 };
	int64_t start = bench_now_ns(), limit = (int64_t)(o->seconds * 1e9), el;
	uint64_t txns = 0;
	size_t next = 0;
	osp_err rv = OSP_OK;

	do {
		int64_t t0 = bench_now_ns();
		if ((rv = bs_txn(b, n, &next)) != OSP_OK)
			break;
		bench_samples_add(&lat, bench_now_ns() - t0);
		txns++;
		el = bench_now_ns() - start;
	} while (el < limit);
	el = bench_now_ns() - start;
	if (rv != OSP_OK) {
		fprintf(stderr, "bench_store: %s: %s\n", what, osp_strerror(rv));
		bench_samples_fini(&lat);
		return 1;
	}
	printf("| %-38s | %9.0f | %11.0f | %8.2f | %8.2f |\n", what, (double)txns * 1e9 / el,
		(double)(txns * n) * 1e9 / el, bench_samples_pct(&lat, 50) / 1e6,
		bench_samples_pct(&lat, 99) / 1e6);
	fflush(stdout);
	bench_samples_fini(&lat);
	return 0;
}

/* bs_fill_log gives node 0 a log of o->log commands (1000 per txn). */
static osp_err bs_fill_log(bs_ctx *b, const bs_opts *o)
{
	coord_node *nd = &b->nodes[0];
	uint64_t done = 0;
	osp_err rv = OSP_OK;

	while (done < o->log && rv == OSP_OK) {
		osp_txn *t = NULL;
		if ((rv = osp_store_txn_begin(b->c.store, true, &t)) != OSP_OK)
			break;
		for (int i = 0; i < 1000 && done < o->log && rv == OSP_OK; i++, done++)
			rv = coord_db_cmd_append(&b->c, t, nd, &b->cmd);
		if (rv != OSP_OK)
			osp_store_txn_abort(t);
		else
			rv = coord_db_commit(&b->c, t, "bench fill");
	}
	return rv;
}

/* bs_read_phase reads 32 entries after random cursors of node 0's log (a
 * poll that finds commands) for o->seconds and prints a row. */
static int bs_read_phase(bs_ctx *b, const bs_opts *o)
{
	const coord_node *nd = &b->nodes[0];
	bench_samples lat = { 0 };
	int64_t start = bench_now_ns(), limit = (int64_t)(o->seconds * 1e9), el;
	uint64_t reads = 0, entries = 0, span = nd->log_end > 32 ? nd->log_end - 32 : 1;
	unsigned seed = 42;
	osp_err rv = OSP_OK;

	do {
		Ospec__V1__Command **cmds = NULL;
		size_t n = 0;
		osp_txn *t = NULL;
		int64_t t0 = bench_now_ns();
		uint64_t after = (uint64_t)rand_r(&seed) % span;

		if ((rv = osp_store_txn_begin(b->c.store, false, &t)) != OSP_OK)
			break;
		rv = coord_db_cmd_read(&b->c, t, nd->id, after, 32, &cmds, &n);
		osp_store_txn_abort(t);
		if (rv != OSP_OK)
			break;
		coord_db_cmds_free(cmds, n);
		bench_samples_add(&lat, bench_now_ns() - t0);
		reads++;
		entries += n;
		el = bench_now_ns() - start;
	} while (el < limit);
	el = bench_now_ns() - start;
	if (rv != OSP_OK) {
		fprintf(stderr, "bench_store: read: %s\n", osp_strerror(rv));
		bench_samples_fini(&lat);
		return 1;
	}
	printf("| %-38s | %9.0f | %11.0f | %8.3f | %8.3f |\n",
		"read 32 after a cursor (read txn)", (double)reads * 1e9 / el,
		(double)entries * 1e9 / el, bench_samples_pct(&lat, 50) / 1e6,
		bench_samples_pct(&lat, 99) / 1e6);
	bench_samples_fini(&lat);
	return 0;
}

static int bs_usage(FILE *f)
{
	fprintf(f, "usage: bench_store [--dir PARENT] [--seconds S] [--batch N] [--log N]\n"
		   "  --dir PARENT  where the temporary data dir goes ($TMPDIR or /tmp)\n"
		   "  --seconds S   time per phase (2)\n"
		   "  --batch N     commands per transaction in the batched phase (100)\n"
		   "  --log N       log length of the node read in the read phase (10000)\n");
	return f == stdout ? 0 : 2;
}

static int bs_parse(int argc, char **argv, bs_opts *o)
{
	for (int i = 1; i < argc;) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return bs_usage(stdout) + 100;
		if (v == NULL)
			return bs_usage(stderr);
		if (strcmp(argv[i], "--dir") == 0) {
			o->parent = v;
		} else if (strcmp(argv[i], "--seconds") == 0) {
			o->seconds = atof(v);
			if (o->seconds <= 0 || o->seconds > 20)
				return bs_usage(stderr);
		} else if (strcmp(argv[i], "--batch") == 0) {
			if (bench_arg_u64(v, &o->batch) != 0 || o->batch == 0 || o->batch > 10000)
				return bs_usage(stderr);
		} else if (strcmp(argv[i], "--log") == 0) {
			if (bench_arg_u64(v, &o->log) != 0 || o->log < 64 || o->log > 1000000)
				return bs_usage(stderr);
		} else {
			return bs_usage(stderr);
		}
		i += 2; /* the option and its value */
	}
	return 0;
}

static void bs_print_size(const char *dir)
{
	char path[4200];
	struct stat st;

	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	if (stat(path, &st) == 0)
		printf("\ndata.mdb after the run: %.1f MiB\n", (double)st.st_size / 1048576.0);
}

int main(int argc, char **argv)
{
	bs_opts o = { .seconds = 2, .batch = 100, .log = 10000 };
	bs_ctx *b = NULL;
	char dir[4096] = "", err[512], what[64];
	int code = 1, rc;

	if ((rc = bs_parse(argc, argv, &o)) != 0)
		return rc >= 100 ? 0 : rc;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return 1;
	pthread_mutex_init(&b->c.mtx, NULL);
	if (bench_tmpdir(o.parent, "store", dir, sizeof(dir)) != 0) {
		fprintf(stderr, "bench_store: cannot make a temporary directory\n");
		goto out;
	}
	osp_log_setup(OSP_LOG_WARN, OSP_LOG_TEXT, "bench_store", NULL);
	b->c.cfg.data = dir;
	b->c.cfg.map_size = 1ULL << 30;
	b->c.cfg.event_retention = 100000;
	if (coord_db_open(&b->c, err, sizeof(err)) != OSP_OK) {
		fprintf(stderr, "bench_store: %s\n", err);
		goto out;
	}
	for (int i = 0; i < BS_NODES; i++)
		snprintf(b->nodes[i].id, sizeof(b->nodes[i].id), "web-%04d.us-east", i);
	bs_cmd_init(b);
	bench_header(argc, argv);
	printf("# data dir on %s (%s), LMDB synced commits (the coordinator's default)\n\n",
		bench_fs_type(dir), dir);
	printf("| %-38s | %9s | %11s | %8s | %8s |\n", "operation", "txn/s", "commands/s",
		"p50 ms", "p99 ms");
	printf("|%s|%s|%s|%s|%s|\n", "----------------------------------------", "----------:",
		"------------:", "---------:", "---------:");
	if (bs_write_phase(b, &o, 1, "1 command + 1 event per txn, commit") != 0)
		goto out;
	snprintf(what, sizeof(what), "%llu commands + 1 event per txn, commit",
		(unsigned long long)o.batch);
	if (bs_write_phase(b, &o, o.batch, what) != 0)
		goto out;
	if (bs_fill_log(b, &o) != OSP_OK) {
		fprintf(stderr, "bench_store: cannot fill the log\n");
		goto out;
	}
	if (bs_read_phase(b, &o) != 0)
		goto out;
	printf("\nread rows: txn/s = reads/s, commands/s = entries/s; node log: %llu entries\n",
		(unsigned long long)b->nodes[0].log_end);
	bs_print_size(dir);
	code = 0;
out:
	if (b->c.store != NULL)
		osp_store_close(b->c.store);
	bench_rmtree(dir);
	pthread_mutex_destroy(&b->c.mtx);
	free(b);
	return code;
}
