/*
 * coord_backup.h - the coordinator's store over its lifetime: hot backups
 * (`ospecctl backup FILE`), `--restore FILE` before start, what a restored
 * coordinator does when agents that ran ahead of it register, and the
 * store's schema migrations. docs/backup.md says why it works this way.
 */
#ifndef COORD_BACKUP_H
#define COORD_BACKUP_H

#include "coord.h"
#include "coord_control.h"

/* coord_verb_backup is the `backup` verb (admin only; runs without coord.mtx
 * and without a transaction: coord_verb.nolock). Argument "file": an
 * absolute path on the coordinator's machine that must not exist. Writes a
 * compacted copy of the store there (osp_store_copy) and answers {"path",
 * "bytes", "schema", "took_ms", "at"}. 2 for a missing or relative path, 1
 * when the file exists or the copy fails (err says why). */
int coord_verb_backup(coord *c, coord_ctl_req *rq, osp_buf *json, char *err, size_t errlen);

/* coord_backup_restore copies the backup cfg->restore into cfg->data before
 * anything opens it: the file must be an ospec store with a schema version
 * this program knows or can migrate from; cfg->data must be absent or empty,
 * or (cfg->force_restore) is moved aside to DATA.before-restore-<UTC time>
 * (never deleted; refused while a process holds its lock). The copy is
 * written to data.mdb.tmp, fsynced and renamed, the directory fsynced.
 * Returns 0, 2 for a refusal or 1 for an I/O failure, with err. */
int coord_backup_restore(const coord_cfg *cfg, char *err, size_t errlen);

/* coord_backup_on_register: a node registered with its cursor. After a
 * restore (c->restored), the outstanding commands it executed already are
 * sent again (coord_active_resend). Caller holds c->mtx. */
void coord_backup_on_register(coord *c, coord_node *n, uint64_t cursor);

/* coord_backup_migrations returns the coordinator's schema migration steps
 * (for osp_store_opts) and their count in *n. */
const osp_store_migration *coord_backup_migrations(size_t *n);

/* coord_backup_can_open reports whether a store at schema version v opens
 * with this program: v == COORD_SCHEMA, or older with a step for every
 * version up to it. */
bool coord_backup_can_open(uint64_t v);

#endif
