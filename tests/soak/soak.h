/*
 * soak.h - the randomized soak test (docs/testing.md): SOAK_NODES agents on
 * loopback, each running app "hello" (rolling, one port) and app "hellobg"
 * (blue-green, two slots behind the node's own haproxy), a real coordinator,
 * and many deploys in a row. Each round picks a strategy, a release kind
 * (healthy, failing health, crashing, wrong sha256) and a chaos action (none,
 * kill -9 of an agent, kill -9 of the coordinator), then checks that the
 * fleet converged: every node serves what `status` and `nodes` say.
 *
 * The harness (tests/integration/harness.h) owns every process it starts and
 * removes the temp dir at the end (OSPEC_TEST_KEEP=1 keeps it).
 */
#ifndef SOAK_H
#define SOAK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness.h"

#define SOAK_NODES 4
#define SOAK_APPS 2
#define SOAK_VER_LEN 32

typedef enum soak_app { SOAK_ROLLING = 0, SOAK_BLUE_GREEN = 1 } soak_app;

typedef enum soak_kind {
	SOAK_HEALTHY = 0,
	SOAK_FAIL_HEALTH, /* hello's FAIL_HEALTH marker: /health answers 500 */
	SOAK_CRASH,       /* hello's CRASH marker: exits 3 at start */
	SOAK_WRONG_SHA,   /* a healthy artifact deployed with a random sha256 */
	SOAK_NKINDS
} soak_kind;

typedef enum soak_chaos {
	SOAK_CALM = 0,
	SOAK_KILL_AGENT, /* kill -9 of one agent, restarted with its state dir */
	SOAK_KILL_COORD, /* kill -9 of the coordinator, restarted on its data dir */
	SOAK_NCHAOS
} soak_chaos;

typedef struct soak_opts {
	int rounds;
	uint64_t seed;
	bool strategies[SOAK_APPS]; /* which may be picked */
	bool kinds[SOAK_NKINDS];
	bool chaos[SOAK_NCHAOS];
	bool back_to_back; /* a third of the rounds follow a healthy lead-in deploy */
	char watch[16];  /* deploy --watch value; "" = the flag is not passed */
	bool keep_going; /* go on after a round that did not converge */
	int converge_ms; /* how long a round may take to converge */
	char heartbeat[16]; /* coordinator --heartbeat */
} soak_opts;

typedef struct soak {
	h_env *e;
	soak_opts o;
	uint64_t rng;
	int port[SOAK_NODES];  /* hello */
	int front[SOAK_NODES]; /* hellobg: the node's haproxy frontend */
	int blue[SOAK_NODES], green[SOAK_NODES];
	int version[SOAK_APPS]; /* last version number used, per app */
	/* what each node served after the last round (observed, not assumed) */
	char served[SOAK_APPS][SOAK_NODES][SOAK_VER_LEN];
} soak;

typedef struct soak_round {
	int n; /* 0 = the baseline deploy of version 1 */
	soak_app app;
	soak_kind kind;
	soak_chaos chaos;
	bool back_to_back;     /* a healthy deploy of the app right before, no pause */
	char lead_in[SOAK_VER_LEN]; /* its version, "-" if none */
	int victim;            /* node index, SOAK_KILL_AGENT */
	int chaos_after_ms;    /* from the rollout id on stdout to the kill */
	int chaos_down_ms;     /* from the kill to the restart */
	const char *batch;     /* "2" or "100%" */
	char bad_sha[65];      /* the sha256 of a wrong_sha round */
	char scale_down[16];   /* blue-green --scale-down-delay */
	char version[SOAK_VER_LEN];
	char id[64];
	int exit_code; /* of deploy --wait; -1 if it did not end */
	char state[32];
	char chaos_note[96];
	double seconds;         /* the whole round */
	double converge_seconds; /* of which: after the rollout ended */
	bool ok;
	char why[2048]; /* the first failure, for the summary */
} soak_round;

extern const char *const soak_ids[SOAK_NODES];
extern const char *const soak_app_names[SOAK_APPS];
extern const char *const soak_strategy_names[SOAK_APPS];
extern const char *const soak_kind_names[SOAK_NKINDS];

/* soak_fail records why round r failed (the first reason wins; later ones
 * are appended while there is room) and prints it at once. */
void soak_fail(soak *s, soak_round *r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* soak_outcome waits until round r's rollout is terminal (it fills r->state)
 * and checks the outcome against the release kind and deploy's exit code.
 * Returns false (with soak_fail called) when they disagree. */
bool soak_outcome(soak *s, soak_round *r);

/* soak_converge polls up to o.converge_ms until every node agrees with round
 * r's outcome: it serves the expected version, `nodes --json` and `status
 * --json` report that version, and (blue-green) the active slot serves it
 * through haproxy. On timeout it calls soak_fail naming round, seed, node,
 * expected and seen. Either way s->served takes what was seen last. */
bool soak_converge(soak *s, soak_round *r);

#endif
