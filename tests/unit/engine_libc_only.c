/*
 * engine_libc_only.c - a program linked against the rollout engine
 * (ospec_engine) and libc only, nothing else of ospec: if the engine needed
 * ospec_common, nng, LMDB or protobuf, this would not link. It also drives a
 * three-node rolling rollout to success, so the library it links is the
 * working engine, not an empty shell. engine_deps.cmake then checks the
 * program's shared libraries and the archive's undefined symbols.
 * No cmocka on purpose (cmocka is one more library); exit 0 is a pass.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_rollout.h"

#define NODES 3

static int engine_fail(const char *what)
{
	fprintf(stderr, "engine_libc_only: %s\n", what);
	return 1;
}

int main(void)
{
	static coord_ro_action acts[2 * NODES + 8];
	coord_ro_actions out = { .v = acts, .cap = sizeof(acts) / sizeof(acts[0]) };
	coord_ro_step steps[NODES];
	coord_rollout r;
	coord_ro_strategy st;
	int64_t now = 1000;
	uint64_t seq = 0;

	memset(&r, 0, sizeof(r));
	memset(steps, 0, sizeof(steps));
	snprintf(r.id, sizeof(r.id), "ro-1");
	snprintf(r.app, sizeof(r.app), "hello");
	snprintf(r.version, sizeof(r.version), "2.0");
	r.batch = 1;
	r.current_batch = -1;
	r.progress_deadline_ms = 60000;
	r.nsteps = NODES;
	r.steps = steps;
	for (size_t i = 0; i < NODES; i++)
		snprintf(steps[i].node, sizeof(steps[i].node), "web-%zu", i + 1);
	if (coord_ro_strategy_parse("rolling", &st) != 0 || st != COORD_RO_ROLLING)
		return engine_fail("strategy names");
	if (coord_ro_apply(&r, &(coord_ro_event){ .kind = COORD_RO_EV_START, .now_ms = now },
			   &out) != OSP_OK)
		return engine_fail("start refused");
	/* one node per batch: answer each stage as it is sent */
	for (int round = 0; round < NODES; round++) {
		size_t i = 0;

		while (i < NODES && steps[i].cmd != COORD_RO_CMD_STAGE)
			i++;
		if (i == NODES)
			return engine_fail("no stage sent");
		steps[i].seq = ++seq;
		now += 100;
		out.n = 0;
		if (coord_ro_apply(&r, &(coord_ro_event){ .kind = COORD_RO_EV_RESULT, .now_ms = now,
					      .node = steps[i].node, .seq = seq, .ok = true },
				   &out) != OSP_OK)
			return engine_fail("result refused");
	}
	if (r.state != COORD_RO_SUCCEEDED || strcmp(coord_ro_state_name(r.state), "succeeded") != 0)
		return engine_fail("the rollout did not succeed");
	if (coord_ro_next_deadline(&r, NULL) != COORD_RO_NEVER)
		return engine_fail("a finished rolling rollout still has a deadline");
	printf("engine_libc_only: %s (%s)\n", coord_ro_state_name(r.state), r.reason);
	free(out.text);
	return 0;
}
