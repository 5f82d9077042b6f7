/*
 * coord_record_steps.c - a rollout's steps in their own records (database
 * "steps", schema 2): key <rollout id> NUL <step index, big-endian u32>, so
 * one rollout's steps are contiguous and in order; the value is a packed
 * StepRecord. The rollout record in "rollouts" holds everything else (its
 * header) and no steps. docs/architecture.md "Store layout".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_active.h"

/* a key: an id of at most 506 bytes, NUL, the index */
#define COORD_RO_STEPS_KEY_MAX 512

/* coord_ro_steps_key writes id's prefix (with i: the step's key) into key. */
static size_t coord_ro_steps_key(uint8_t *key, size_t cap, const char *id, bool with_i,
	uint32_t i)
{
	size_t n = strlen(id);

	if (n + 5 > cap)
		return 0;
	memcpy(key, id, n);
	key[n++] = '\0';
	if (!with_i)
		return n;
	key[n++] = (uint8_t)(i >> 24);
	key[n++] = (uint8_t)(i >> 16);
	key[n++] = (uint8_t)(i >> 8);
	key[n++] = (uint8_t)i;
	return n;
}

osp_err coord_ro_steps_put(osp_txn *t, const char *id, uint32_t i, const void *val,
	size_t vlen)
{
	uint8_t key[COORD_RO_STEPS_KEY_MAX];
	size_t kl = coord_ro_steps_key(key, sizeof(key), id, true, i);

	if (kl == 0)
		return OSP_EINVAL;
	return osp_store_put(t, "steps", key, kl, val, vlen);
}

osp_err coord_ro_steps_del(osp_txn *t, const char *id)
{
	uint8_t key[COORD_RO_STEPS_KEY_MAX];
	size_t kl = coord_ro_steps_key(key, sizeof(key), id, false, 0);

	if (kl == 0)
		return OSP_EINVAL;
	return osp_store_del_prefix(t, "steps", key, kl, NULL);
}

typedef struct coord_ro_steps_rd {
	Ospec__V1__StepRecord **v;
	size_t n, cap;
	size_t plen; /* the key's prefix: the rollout id and its NUL */
	osp_err rv;
} coord_ro_steps_rd;

static int coord_ro_steps_read_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	coord_ro_steps_rd *rd = arg;
	Ospec__V1__StepRecord *s;

	const uint8_t *ki = (const uint8_t *)k + rd->plen;

	/* step n under index n, or the store is damaged: a missing or extra
	 * step would shift every later one (and a save write them back so) */
	if (kl != rd->plen + 4 ||
		((uint32_t)ki[0] << 24 | (uint32_t)ki[1] << 16 | (uint32_t)ki[2] << 8 | ki[3]) !=
			rd->n) {
		rd->rv = OSP_ESTORE;
		return 1;
	}
	if (rd->n == rd->cap) {
		size_t cap = rd->cap ? 2 * rd->cap : 64;
		void *nv = realloc(rd->v, cap * sizeof(*rd->v));
		if (nv == NULL) {
			rd->rv = OSP_ENOMEM;
			return 1;
		}
		rd->v = nv;
		rd->cap = cap;
	}
	if ((s = ospec__v1__step_record__unpack(NULL, vl, v)) == NULL) {
		rd->rv = OSP_ESTORE; /* a rollout missing a step is not loaded half */
		return 1;
	}
	rd->v[rd->n++] = s;
	return 0;
}

osp_err coord_ro_steps_read(osp_txn *t, Ospec__V1__RolloutRecord *r)
{
	uint8_t key[COORD_RO_STEPS_KEY_MAX];
	size_t kl = coord_ro_steps_key(key, sizeof(key), r->id, false, 0);
	coord_ro_steps_rd rd = { .rv = OSP_OK, .plen = kl };
	osp_err rv;

	if (r->n_steps > 0) /* embedded (schema 1, before the migration) */
		return OSP_OK;
	if (kl == 0)
		return OSP_EINVAL;
	rv = osp_store_foreach(t, "steps", key, kl, false, coord_ro_steps_read_cb, &rd);
	if (rv == OSP_OK)
		rv = rd.rv;
	if (rv != OSP_OK) {
		for (size_t i = 0; i < rd.n; i++)
			ospec__v1__step_record__free_unpacked(rd.v[i], NULL);
		free(rd.v);
		return rv;
	}
	/* freed with the record by ospec__v1__rollout_record__free_unpacked */
	r->steps = rd.v;
	r->n_steps = rd.n;
	return OSP_OK;
}

/* coord_ro_steps_migrate_one moves the steps embedded in rollout id's record
 * into "steps" and rewrites the record without them. */
static osp_err coord_ro_steps_migrate_one(osp_txn *t, const char *id, size_t idl, char *err,
	size_t errlen)
{
	Ospec__V1__RolloutRecord *r = NULL;
	Ospec__V1__StepRecord **steps;
	size_t n, len;
	uint8_t *buf = NULL;
	osp_err rv;

	if ((rv = coord_ro_rec_get_key(t, id, idl, &r)) != OSP_OK) {
		if (rv == OSP_ESTORE)
			snprintf(err, errlen, "rollout record '%.*s' cannot be decoded", (int)idl, id);
		return rv;
	}
	if (r->n_steps == 0 || strlen(r->id) != idl || memcmp(r->id, id, idl) != 0)
		goto out; /* nothing to move (or a key that is not its id: left as it is) */
	for (size_t i = 0; i < r->n_steps && rv == OSP_OK; i++) {
		len = ospec__v1__step_record__get_packed_size(r->steps[i]);
		if ((buf = malloc(len ? len : 1)) == NULL) {
			rv = OSP_ENOMEM;
			break;
		}
		ospec__v1__step_record__pack(r->steps[i], buf);
		rv = coord_ro_steps_put(t, r->id, (uint32_t)i, buf, len);
		free(buf);
		buf = NULL;
	}
	if (rv != OSP_OK)
		goto out;
	steps = r->steps;
	n = r->n_steps;
	r->steps = NULL;
	r->n_steps = 0;
	rv = coord_ro_rec_put(t, r);
	r->steps = steps;
	r->n_steps = n;
out:
	free(buf);
	ospec__v1__rollout_record__free_unpacked(r, NULL);
	if (rv != OSP_OK && err[0] == '\0')
		snprintf(err, errlen, "rollout '%.*s': %s", (int)idl, id, osp_strerror(rv));
	return rv;
}

typedef struct coord_ro_ids {
	char **v;
	size_t *len;
	size_t n, cap;
	bool nomem;
} coord_ro_ids;

static int coord_ro_ids_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	coord_ro_ids *ids = arg;

	(void)v;
	(void)vl;
	if (ids->n == ids->cap) {
		size_t cap = ids->cap ? 2 * ids->cap : 256;
		char **nv = realloc(ids->v, cap * sizeof(*nv));
		size_t *nl;
		if (nv == NULL) {
			ids->nomem = true;
			return 1;
		}
		ids->v = nv;
		if ((nl = realloc(ids->len, cap * sizeof(*nl))) == NULL) {
			ids->nomem = true;
			return 1;
		}
		ids->len = nl;
		ids->cap = cap;
	}
	if ((ids->v[ids->n] = malloc(kl ? kl : 1)) == NULL) {
		ids->nomem = true;
		return 1;
	}
	memcpy(ids->v[ids->n], k, kl);
	ids->len[ids->n++] = kl;
	return 0;
}

osp_err coord_migrate_1_2(osp_txn *t, char *err, size_t errlen)
{
	coord_ro_ids ids = { 0 };
	osp_err rv;

	/* the keys first: records are rewritten after the scan, not under it */
	rv = coord_ro_rec_keys(t, coord_ro_ids_cb, &ids);
	if (rv == OSP_OK && ids.nomem)
		rv = OSP_ENOMEM;
	for (size_t i = 0; i < ids.n && rv == OSP_OK; i++)
		rv = coord_ro_steps_migrate_one(t, ids.v[i], ids.len[i], err, errlen);
	for (size_t i = 0; i < ids.n; i++)
		free(ids.v[i]);
	free(ids.v);
	free(ids.len);
	return rv;
}
