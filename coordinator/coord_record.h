/*
 * coord_record.h - the stored rollout record: its one owner
 * (coord_record.c) and its steps (coord_record_steps.c).
 */
#ifndef COORD_RECORD_H
#define COORD_RECORD_H

#include "coord.h"
#include "coord_rollout.h"

typedef struct coord_ro_entry coord_ro_entry; /* coord_active.h */

/*
 * The rollout record's one owner (coord_record.c): the only code that
 * reads or writes the databases "rollouts", "switches" and "requests" and
 * the meta key "rollout_seq" ("steps": coord_record_steps.c; coord_db.c
 * still drops old requests). Engine and record are tied by one field map
 * there; adding a field is its declaration in
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
 * coord_record.c and the rollout spec (coord_ctl_spec.c) use it.
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

/* Steps in their own records (coord_record_steps.c, database "steps", key
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

#endif
