/* coord_clock.c - the rollout clock (coord_clock.h). */
#include "coord_clock.h"

#include "ospec/util.h"

void coord_clock_anchor(coord_clock *k, int64_t wall, int64_t mono)
{
	k->wall0 = wall;
	k->mono0 = mono;
	k->set = true;
}

void coord_clock_init(coord_clock *k)
{
	coord_clock_anchor(k, osp_now_wall_ms(), osp_now_mono_ms());
}

int64_t coord_clock_at(coord_clock *k, int64_t now_mono)
{
	if (!k->set)
		coord_clock_init(k);
	return k->wall0 + (now_mono - k->mono0);
}

int64_t coord_clock_now(coord_clock *k)
{
	return coord_clock_at(k, osp_now_mono_ms());
}
