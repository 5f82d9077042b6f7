/* coord_rollout_names.c - the names of rollout states, step states and
 * strategies as operators see them (CLI.md), and their parsing. */
#include "coord_rollout.h"

#include <string.h>

static const char *const coord_ro_state_names[] = {
	[COORD_RO_PENDING] = "pending",
	[COORD_RO_RUNNING] = "running",
	[COORD_RO_PAUSED] = "paused",
	[COORD_RO_WAITING_APPROVAL] = "waiting_approval",
	[COORD_RO_SUCCEEDED] = "succeeded",
	[COORD_RO_FAILED] = "failed",
	[COORD_RO_ABORTED] = "aborted",
	[COORD_RO_ROLLED_BACK] = "rolled_back",
};

static const char *const coord_step_state_names[] = {
	[COORD_STEP_PENDING] = "pending",
	[COORD_STEP_STAGING] = "staging",
	[COORD_STEP_READY] = "ready",
	[COORD_STEP_SWITCHING] = "switching",
	[COORD_STEP_DONE] = "done",
	[COORD_STEP_FAILED] = "failed",
	[COORD_STEP_UNREACHABLE] = "unreachable",
	[COORD_STEP_SKIPPED] = "skipped",
	[COORD_STEP_REVERTED] = "reverted",
};

static const char *const coord_ro_strategy_names[] = {
	[COORD_RO_ROLLING] = "rolling",
	[COORD_RO_BLUE_GREEN] = "blue_green",
	[COORD_RO_CANARY] = "canary",
	[COORD_RO_RECREATE] = "recreate",
};

#define COORD_RO_NAMES_LEN(a) (sizeof(a) / sizeof((a)[0]))

const char *coord_ro_state_name(coord_ro_state s)
{
	if ((unsigned)s >= COORD_RO_NAMES_LEN(coord_ro_state_names))
		return "unknown";
	return coord_ro_state_names[s];
}

const char *coord_step_state_name(coord_step_state s)
{
	if ((unsigned)s >= COORD_RO_NAMES_LEN(coord_step_state_names))
		return "unknown";
	return coord_step_state_names[s];
}

const char *coord_ro_strategy_name(coord_ro_strategy s)
{
	if ((unsigned)s >= COORD_RO_NAMES_LEN(coord_ro_strategy_names))
		return "unknown";
	return coord_ro_strategy_names[s];
}

int coord_ro_strategy_parse(const char *s, coord_ro_strategy *out)
{
	size_t i;

	if (s == NULL || out == NULL)
		return -1;
	for (i = 0; i < COORD_RO_NAMES_LEN(coord_ro_strategy_names); i++) {
		if (strcmp(s, coord_ro_strategy_names[i]) == 0) {
			*out = (coord_ro_strategy)i;
			return 0;
		}
	}
	return -1;
}

bool coord_ro_terminal(coord_ro_state s)
{
	return s == COORD_RO_SUCCEEDED || s == COORD_RO_FAILED || s == COORD_RO_ABORTED ||
	       s == COORD_RO_ROLLED_BACK;
}


bool coord_ro_slotted(coord_ro_strategy s)
{
	return s == COORD_RO_BLUE_GREEN || s == COORD_RO_CANARY;
}

uint32_t coord_ro_canary_next_weight(const coord_ro_canary *c, uint32_t w)
{
	uint64_t n = (uint64_t)w + c->step;

	if (w >= c->max || c->step == 0)
		return w;
	return n > c->max ? c->max : (uint32_t)n;
}

const char *coord_ro_phase_name(coord_ro_strategy strategy, coord_ro_state state, uint32_t phase)
{
	if (coord_ro_terminal(state))
		return "done";
	if (state == COORD_RO_PENDING)
		return "queued";
	if (coord_ro_slotted(strategy)) {
		switch (phase) {
		case COORD_CN_WEIGHT:
			return "weighting";
		case COORD_CN_BAKE:
			return "baking";
		case COORD_CN_ANALYZE:
			return "analysing";
		case COORD_CN_GATE:
			return "promotion_gate";
		case COORD_CN_RESET:
			return "resetting";
		case COORD_BG_STAGE:
			return "staging";
		case COORD_BG_PREPARE:
			return "preparing";
		case COORD_BG_COMMIT:
			return "switching";
		case COORD_BG_VERIFY:
			return "verifying";
		case COORD_BG_BACK_PREPARE:
		case COORD_BG_BACK_COMMIT:
			return "switching_back";
		default:
			return "unknown";
		}
	}
	if (phase == COORD_RO_WATCH)
		return "watching";
	if (phase == COORD_RO_BACK)
		return "reverting";
	if (strategy == COORD_RO_RECREATE)
		return phase == 0 ? "stopping" : "starting";
	return "batches";
}
