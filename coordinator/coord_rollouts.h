/*
 * coord_rollouts.h - rollouts in the coordinator: records in LMDB, the
 * active ones in memory, driven by the pure engine (coord_rollout.h).
 *
 * The write-ahead rule: an engine step's new state and the commands that
 * follow from it are appended in the same transaction, committed before any
 * agent can fetch them (agents read the logs only from committed data).
 * All functions are called with coord.mtx held.
 */
#ifndef COORD_ROLLOUTS_H
#define COORD_ROLLOUTS_H

#include "coord.h"
#include "coord_rollout.h"

/* One rollout: the engine's state plus what it does not need (release, run
 * command, health settings...) kept in its record. */
typedef struct coord_ro_entry {
	coord_rollout ro;
	Ospec__V1__RolloutRecord *rec; /* owned; steps[] kept in ro.steps */
	struct coord_ro_entry *next;
	/* What the store holds, as far as this entry knows (coord_ro_save
	 * writes only what differs): a copy of each step as last loaded or
	 * written, the header's last written encoding, and the store's
	 * write-failure count when they were taken (a moved count: a write
	 * may have been discarded, so everything is written again). */
	coord_ro_step *stored;
	size_t nstored;
	uint8_t *stored_hdr;
	size_t stored_hdr_len;
	bool stored_ok;
	uint64_t stored_failures;
	/* changed by an engine event of a group commit, not written yet
	 * (coord_rollouts_save_due) */
	bool save_due;
	/* the steps by node (coord_rollouts_node_steps): open addressing,
	 * step index + 1 (0: empty), built at the first lookup for these
	 * steps (step_tab_for, step_tab_nsteps) */
	uint32_t *step_tab;
	size_t step_tab_n;
	const coord_ro_step *step_tab_for;
	size_t step_tab_nsteps;
} coord_ro_entry;

/*
 * The rollout record's one owner (coord_rollouts_rec.c): the only code that
 * reads or writes the databases "rollouts", "switches" and "requests" and
 * the meta key "rollout_seq" ("steps": coord_rollouts_steps.c; coord_db.c
 * still drops old requests, coord_exec.c still reads "switches"). Engine and record are
 * tied by one field map there; adding a field is its declaration in
 * coord_rollout.h and store.proto plus one row of the map.
 *
 * coord_ro_from_rec fills e->ro (steps allocated) from e->rec: OSP_ENOMEM.
 * coord_ro_save writes e->ro into e->rec and stores what changed in t.
 * coord_ro_stats_from copies wire counters into the engine's (NULL: zeros).
 */
osp_err coord_ro_from_rec(coord_ro_entry *e);
void coord_ro_stats_from(coord_ro_stats *o, const Ospec__V1__SlotStats *s);
osp_err coord_ro_save(coord *c, osp_txn *t, coord_ro_entry *e);
/* coord_ro_stored_init notes e->ro's steps as what the store holds (after
 * a load in t); coord_ro_stored_fini frees that copy (accepts a zeroed one). */
osp_err coord_ro_stored_init(osp_txn *t, coord_ro_entry *e);
void coord_ro_stored_fini(coord_ro_entry *e);

/* What a field of the engine or of a record holds (a protobuf bool is an
 * int), as COORD_RF_KIND(member) tells from its type: the field maps of
 * coord_rollouts_rec.c and the rollout spec (coord_ctl_spec.c) use it.
 * coord_rf_get reads an integer field of kind k at p (a U64 as its bits),
 * coord_rf_set writes one; both ignore STR and STATS. */
typedef enum coord_rf_kind {
	COORD_RF_BOOL = 0,
	COORD_RF_I32,
	COORD_RF_U32,
	COORD_RF_I64,
	COORD_RF_U64,
	COORD_RF_STR,   /* engine: a char buffer; record: a char * */
	COORD_RF_STATS, /* engine: coord_ro_stats; record: a SlotStats * */
} coord_rf_kind;
#define COORD_RF_KIND(x) \
	_Generic((x), bool: COORD_RF_BOOL, int32_t: COORD_RF_I32, uint32_t: COORD_RF_U32, \
		int64_t: COORD_RF_I64, uint64_t: COORD_RF_U64, char *: COORD_RF_STR, \
		coord_ro_stats: COORD_RF_STATS, Ospec__V1__SlotStats *: COORD_RF_STATS)
#define COORD_RF_NOHAS SIZE_MAX /* a field without a has_ flag */
int64_t coord_rf_get(const void *p, coord_rf_kind k);
void coord_rf_set(void *p, coord_rf_kind k, int64_t v);

/* coord_pb_foreach calls fn with every record of database db decoded as
 * desc (fn owns it: protobuf_c_message_free_unpacked; nonzero stops), in key
 * order; an undecodable one is logged and skipped. Store errors. */
typedef int (*coord_pb_fn)(void *arg, ProtobufCMessage *m);
osp_err coord_pb_foreach(osp_txn *t, const char *db, const ProtobufCMessageDescriptor *desc,
	coord_pb_fn fn, void *arg);
/* coord_ro_rec_foreach calls fn with every stored rollout record (an
 * Ospec__V1__RolloutRecord, its header: no steps; fn owns it) in key order
 * (coord_pb_foreach: an undecodable one is logged and skipped). */
osp_err coord_ro_rec_foreach(osp_txn *t, coord_pb_fn fn, void *arg);
/* coord_ro_rec_keys runs fn over the raw records, undecoded (the
 * migration's scan; /metrics counts states from the bytes). */
osp_err coord_ro_rec_keys(osp_txn *t, osp_store_iter_fn fn, void *arg);
/* coord_ro_rec_get_key reads the header stored under key (*out: the
 * caller's): OSP_ENOENT, OSP_ESTORE if undecodable, store errors. */
osp_err coord_ro_rec_get_key(osp_txn *t, const void *key, size_t kl,
	Ospec__V1__RolloutRecord **out);
/* coord_ro_rec_put stores r as it is under r->id (its steps too, if it
 * holds any: only the migration writes a header it read). */
osp_err coord_ro_rec_put(osp_txn *t, const Ospec__V1__RolloutRecord *r);
/* coord_pb_get reads the record of database db under key decoded as desc
 * (*out: the caller's, NULL on failure): OSP_ENOENT, OSP_ESTORE if
 * undecodable, store errors. */
osp_err coord_pb_get(osp_txn *t, const char *db, const void *key, size_t kl,
	const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out);
/* coord_pb_put packs m and stores it in database db under key (the put
 * every record owner uses): OSP_ENOMEM, store errors. */
osp_err coord_pb_put(osp_txn *t, const char *db, const char *key, const ProtobufCMessage *m);
/* coord_ro_rec_decide records the decision of switch switch_id ("commit"
 * or "abort"); coord_ro_rec_decision reads it (*commit may be NULL):
 * OSP_ENOENT when none is recorded (a presumed abort). */
osp_err coord_ro_rec_decide(osp_txn *t, const char *switch_id, bool commit);
osp_err coord_ro_rec_decision(osp_txn *t, const char *switch_id, bool *commit);
/* coord_ro_rec_request_get reads the stored reply of request rid (*out:
 * the caller's): OSP_ENOENT, OSP_ESTORE if undecodable, store errors;
 * coord_ro_rec_request_put stores it (now, status, error, json: borrowed). */
osp_err coord_ro_rec_request_get(osp_txn *t, const char *rid, Ospec__V1__RequestRecord **out);
osp_err coord_ro_rec_request_put(osp_txn *t, const char *rid, uint32_t status,
	const char *error, const char *json);

/* Steps in their own records (coord_rollouts_steps.c, database "steps", key
 * <rollout id> NUL <index as big-endian u32>):
 * coord_ro_steps_put stores step i of rollout id (a packed StepRecord);
 * coord_ro_steps_del deletes every step of rollout id;
 * coord_ro_steps_read fills r->steps (owned by r, freed with it) from the
 * store when r has none embedded: OSP_ESTORE if one is undecodable;
 * coord_migrate_1_2 is the schema migration 1 -> 2 (coord_backup.c): it
 * moves the steps embedded in every stored rollout record into "steps". */
osp_err coord_ro_steps_put(osp_txn *t, const char *id, uint32_t i, const void *val,
	size_t vlen);
osp_err coord_ro_steps_del(osp_txn *t, const char *id);
osp_err coord_ro_steps_read(osp_txn *t, Ospec__V1__RolloutRecord *r);
osp_err coord_migrate_1_2(osp_txn *t, char *err, size_t errlen);

/* coord_rollouts_load reads the non-terminal rollouts and restarts them. */
osp_err coord_rollouts_load(coord *c);

/* coord_rollouts_free frees the active list. */
void coord_rollouts_free(coord *c);

/* coord_rollouts_node_steps writes into idx (cap entries) the indexes of
 * e's steps on node, in order, and returns how many (at most cap): an
 * index lookup, where results and heartbeats used to scan every step. */
size_t coord_rollouts_node_steps(coord_ro_entry *e, const char *node, size_t *idx, size_t cap);

/* coord_rollouts_active returns the running/paused/pending rollout of app,
 * the oldest first; NULL if none. */
coord_ro_entry *coord_rollouts_active(coord *c, const char *app);

/* coord_rollouts_find returns the active rollout with id, or NULL. */
coord_ro_entry *coord_rollouts_find(coord *c, const char *id);

/* coord_rollouts_create builds a rollout from rec (taken over, freed on
 * failure too) for the nodes selected now, stores it in t and starts it
 * unless queued (it then waits, PENDING, behind the app's running rollout).
 * *out is the entry (in the active list); err says why it failed. */
osp_err coord_rollouts_create(coord *c, osp_txn *t, Ospec__V1__RolloutRecord *rec,
	bool queued, const char *actor, coord_ro_entry **out, char *err, size_t errlen);

/* coord_rollouts_event applies ev to e inside t (commands appended, record
 * saved, events written). A terminal rollout leaves the active list after
 * the caller's commit (coord_rollouts_reap). */
osp_err coord_rollouts_event(coord *c, osp_txn *t, coord_ro_entry *e, const coord_ro_event *ev,
	const char *actor);

/* coord_rollouts_save_due writes (coord_ro_save) the active rollouts whose
 * records an engine event changed while c->ro_defer_save held them back,
 * then e (may be NULL, need not be in the list) if its save is due. On an
 * error the caller aborts t and reloads. */
osp_err coord_rollouts_save_due(coord *c, osp_txn *t, coord_ro_entry *e);

/* coord_rollouts_reap drops terminal entries and starts queued rollouts of
 * their apps (in their own transaction). */
void coord_rollouts_reap(coord *c);

/* coord_rollouts_reload re-reads the active set and node log ends from the
 * store after a failed commit, so memory follows what is durable. */
void coord_rollouts_reload(coord *c);

/* coord_rollouts_scale_down_pending: a succeeded blue-green rollout whose
 * old slots still wait for their scale-down (kept in the active list). */
bool coord_rollouts_scale_down_pending(const coord_ro_entry *e);

/* coord_rollouts_free_entry frees one entry that is not in the list. */
void coord_rollouts_free_entry(coord_ro_entry *e);

/* coord_rollouts_kick answers held polls of nodes that have new commands
 * (marked by coord_db_cmd_append), through c->answer_polls. */
void coord_rollouts_kick(coord *c);

/* coord_rollout_get reads any rollout (active or not) from the store into a
 * record, its steps with it; the caller frees it with ospec__v1__rollout_record__free_unpacked. */
osp_err coord_rollout_get(coord *c, osp_txn *t, const char *id,
	Ospec__V1__RolloutRecord **out);

/* coord_rollouts_resend appends again, at new sequences, the outstanding
 * commands of node n's steps that n executed already (sequence <= cursor)
 * without this store holding a result: after a restore the result may have
 * been acknowledged by the coordinator whose newer history was lost, so the
 * agent never re-sends it (coord_backup.c). Handlers converge, so the node
 * answers the repeat from what it runs. One transaction; *count (may be
 * NULL) gets how many were sent. */
osp_err coord_rollouts_resend(coord *c, coord_node *n, uint64_t cursor, size_t *count);

/* coord_rollouts_next_seq returns the next creation number (meta counter
 * "rollout_seq": rollouts and plans share it); coord_rollouts_mint_id takes
 * one and names it "<app>-<seq>" into id (OSP_ETOOBIG if idlen is short). */
osp_err coord_rollouts_next_seq(coord *c, osp_txn *t, uint64_t *seq);
osp_err coord_rollouts_mint_id(coord *c, osp_txn *t, const char *app, char *id, size_t idlen,
	uint64_t *seq);

#endif
