/*
 * coord_active_int.h - between coord_active.c and coord_active_cmd.c: the
 * commands an engine action becomes. All in t, with coord.mtx held.
 */
#ifndef COORD_ACTIVE_INT_H
#define COORD_ACTIVE_INT_H

#include "coord_active.h"

/* coord_ro_send appends step st's outstanding command to its node's log. */
osp_err coord_ro_send(coord *c, osp_txn *t, coord_ro_entry *e, coord_ro_step *st);
/* coord_ro_void voids st's unanswered command (a no-op if the node has not
 * executed it; a rolling stage gets a revert queued behind it). */
osp_err coord_ro_void(coord *c, osp_txn *t, coord_ro_entry *e, coord_ro_step *st);
/* coord_ro_decide records e's switch decision and its switch record. */
osp_err coord_ro_decide(coord *c, osp_txn *t, coord_ro_entry *e);

#endif
