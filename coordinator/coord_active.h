/*
 * coord_active.h - the active rollouts: loaded into memory from their
 * records (coord_record.h), driven by the pure engine (coord_rollout.h),
 * their actions turned into commands in the nodes' logs.
 *
 * The write-ahead rule: an engine step's new state and the commands that
 * follow from it are appended in the same transaction, committed before any
 * agent can fetch them (agents read the logs only from committed data).
 * All functions are called with coord.mtx held.
 */
#ifndef COORD_ACTIVE_H
#define COORD_ACTIVE_H

#include "coord.h"
#include "coord_rollout.h"
#include "coord_record.h"

/* A step as the store holds it (coord_record.c: coord_ro_step_form). */
typedef struct coord_ro_form {
	uint8_t *b;
	size_t len;
} coord_ro_form;

/* One rollout: the engine's state plus what it does not need (release, run
 * command, health settings...) kept in its record. */
typedef struct coord_ro_entry {
	coord_rollout ro;
	Ospec__V1__RolloutRecord *rec; /* owned; steps[] kept in ro.steps */
	struct coord_ro_entry *next;
	/* What the store holds, as far as this entry knows (coord_ro_save
	 * writes only what differs): the form of each step as last loaded
	 * or written, the header's last written encoding, and the store's
	 * write-failure count when they were taken (a moved count: a write
	 * may have been discarded, so everything is written again). */
	coord_ro_form *stored;
	size_t nstored;
	uint8_t *stored_hdr;
	size_t stored_hdr_len;
	bool stored_ok;
	uint64_t stored_failures;
	/* changed by an engine event of a group commit, not written yet
	 * (coord_active_save_due) */
	bool save_due;
	/* the steps by node (coord_active_node_steps): open addressing,
	 * step index + 1 (0: empty), built at the first lookup for these
	 * steps (step_tab_for, step_tab_nsteps) */
	uint32_t *step_tab;
	size_t step_tab_n;
	const coord_ro_step *step_tab_for;
	size_t step_tab_nsteps;
} coord_ro_entry;

/* coord_active_load reads the non-terminal rollouts and restarts them. */
osp_err coord_active_load(coord *c);

/* coord_active_free frees the active list. */
void coord_active_free(coord *c);

/* coord_active_node_steps writes into idx (cap entries) the indexes of
 * e's steps on node, in order, and returns how many (at most cap): an
 * index lookup, where results and heartbeats used to scan every step. */
size_t coord_active_node_steps(coord_ro_entry *e, const char *node, size_t *idx, size_t cap);

/* coord_active_of_app returns the running/paused/pending rollout of app,
 * the oldest first; NULL if none. */
coord_ro_entry *coord_active_of_app(coord *c, const char *app);

/* coord_active_find returns the active rollout with id, or NULL. */
coord_ro_entry *coord_active_find(coord *c, const char *id);

/* coord_active_create builds a rollout from rec (taken over, freed on
 * failure too) for the nodes selected now, stores it in t and starts it
 * unless queued (it then waits, PENDING, behind the app's running rollout).
 * *out is the entry (in the active list); err says why it failed. */
osp_err coord_active_create(coord *c, osp_txn *t, Ospec__V1__RolloutRecord *rec,
	bool queued, const char *actor, coord_ro_entry **out, char *err, size_t errlen);

/* coord_active_event applies ev to e inside t (commands appended, record
 * saved, events written). A terminal rollout leaves the active list after
 * the caller's commit (coord_active_reap). */
osp_err coord_active_event(coord *c, osp_txn *t, coord_ro_entry *e, const coord_ro_event *ev,
	const char *actor);

/* coord_active_save_due writes (coord_ro_save) the active rollouts whose
 * records an engine event changed while c->ro_defer_save held them back,
 * then e (may be NULL, need not be in the list) if its save is due. On an
 * error the caller aborts t and reloads. */
osp_err coord_active_save_due(coord *c, osp_txn *t, coord_ro_entry *e);

/* coord_active_reap drops terminal entries and starts queued rollouts of
 * their apps (in their own transaction). */
void coord_active_reap(coord *c);

/* coord_active_reload re-reads the active set and node log ends from the
 * store after a failed commit, so memory follows what is durable. */
void coord_active_reload(coord *c);

/* coord_active_scale_down_pending: a succeeded blue-green rollout whose
 * old slots still wait for their scale-down (kept in the active list). */
bool coord_active_scale_down_pending(const coord_ro_entry *e);

/* coord_active_free_entry frees one entry that is not in the list. */
void coord_active_free_entry(coord_ro_entry *e);

/* coord_active_kick answers held polls of nodes that have new commands
 * (marked by coord_db_cmd_append), through c->answer_polls. */
void coord_active_kick(coord *c);

/* coord_rollout_get reads any rollout (active or not) from the store into a
 * record, its steps with it; the caller frees it with ospec__v1__rollout_record__free_unpacked. */
osp_err coord_rollout_get(coord *c, osp_txn *t, const char *id,
	Ospec__V1__RolloutRecord **out);

/* coord_active_resend appends again, at new sequences, the outstanding
 * commands of node n's steps that n executed already (sequence <= cursor)
 * without this store holding a result: after a restore the result may have
 * been acknowledged by the coordinator whose newer history was lost, so the
 * agent never re-sends it (coord_backup.c). Handlers converge, so the node
 * answers the repeat from what it runs. One transaction; *count (may be
 * NULL) gets how many were sent. */
osp_err coord_active_resend(coord *c, coord_node *n, uint64_t cursor, size_t *count);

/* coord_active_next_seq returns the next creation number (meta counter
 * "rollout_seq": rollouts and plans share it); coord_active_mint_id takes
 * one and names it "<app>-<seq>" into id (OSP_ETOOBIG if idlen is short). */
osp_err coord_active_next_seq(coord *c, osp_txn *t, uint64_t *seq);
osp_err coord_active_mint_id(coord *c, osp_txn *t, const char *app, char *id, size_t idlen,
	uint64_t *seq);

#endif
