/* agent_store_lmdb.c - the agent's state in LMDB (STATE/db). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_store.h"
#include "ospec/store.h"
#include "ospec/util.h"

#define AGENT_SCHEMA 1

typedef struct agent_lmdb {
	agent_store pub;
	osp_store *st;
	uint64_t retain;
} agent_lmdb;

static osp_store *agent_lmdb_st(agent_store *s)
{
	return ((agent_lmdb *)s->impl)->st;
}

/* agent_lmdb_write_one puts key = val into db in a transaction of its own,
 * or deletes key when del (val unused). */
static osp_err agent_lmdb_write_one(agent_store *s, const char *db, const void *key, size_t kl,
	bool del, const void *val, size_t vl)
{
	osp_txn *t = NULL;
	osp_err rv;

	if ((rv = osp_store_txn_begin(agent_lmdb_st(s), true, &t)) != OSP_OK)
		return rv;
	rv = del ? osp_store_del(t, db, key, kl) : osp_store_put(t, db, key, kl, val, vl);
	if (rv != OSP_OK) {
		osp_store_txn_abort(t);
		return rv;
	}
	return osp_store_txn_commit(t);
}

/* agent_lmdb_read_one copies the value of key in db into *val (heap, the
 * caller's; at least one byte) and *len. OSP_ENOENT, OSP_ENOMEM, store errors. */
static osp_err agent_lmdb_read_one(
	agent_store *s, const char *db, const void *key, size_t kl, uint8_t **val, size_t *len)
{
	osp_txn *t = NULL;
	const void *v;
	size_t vl;
	osp_err rv;

	if ((rv = osp_store_txn_begin(agent_lmdb_st(s), false, &t)) != OSP_OK)
		return rv;
	rv = osp_store_get(t, db, key, kl, &v, &vl);
	if (rv == OSP_OK) {
		/* copied out before the abort: v is valid only inside t */
		if ((*val = malloc(vl ? vl : 1)) == NULL) {
			rv = OSP_ENOMEM;
		} else {
			memcpy(*val, v, vl);
			*len = vl;
		}
	}
	osp_store_txn_abort(t);
	return rv;
}

static osp_err agent_lmdb_meta_get(agent_store *s, const char *key, char *val, size_t len)
{
	uint8_t *v = NULL;
	size_t vl = 0;
	osp_err rv = agent_lmdb_read_one(s, "meta", key, strlen(key), &v, &vl);

	if (rv == OSP_OK) {
		if (vl >= len) {
			rv = OSP_ETOOBIG;
		} else {
			memcpy(val, v, vl);
			val[vl] = '\0';
		}
	}
	free(v);
	return rv;
}

static osp_err agent_lmdb_meta_put(agent_store *s, const char *key, const char *val)
{
	return agent_lmdb_write_one(s, "meta", key, strlen(key), false, val, strlen(val));
}

struct agent_lmdb_old {
	uint64_t below, hard_below;
	uint64_t keys[256];
	size_t n;
};

/* agent_lmdb_old_cb collects results below the window: acknowledged ones,
 * and unacknowledged ones only when far behind (they wait to be re-sent). */
static int agent_lmdb_old_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	struct agent_lmdb_old *o = arg;
	uint64_t seq;

	if (kl != 8)
		return 0;
	seq = osp_be64_get(k);
	if (seq >= o->below)
		return 1;
	if ((vl >= 1 && ((const uint8_t *)v)[0] == 1) || seq < o->hard_below)
		o->keys[o->n++] = seq;
	return o->n == sizeof(o->keys) / sizeof(o->keys[0]) ? 1 : 0;
}

/* agent_lmdb_trim deletes the results below seq `below` (the sequence may
 * have gaps, so every one, not only below-1), keeping unacknowledged ones
 * until they are ten windows old. */
static osp_err agent_lmdb_trim(osp_txn *t, uint64_t below, uint64_t retain)
{
	struct agent_lmdb_old o = { .below = below };
	uint8_t key[8];
	osp_err rv;

	o.hard_below = below > 10 * retain ? below - 10 * retain : 0;
	do {
		o.n = 0;
		rv = osp_store_foreach(t, "results", NULL, 0, false, agent_lmdb_old_cb, &o);
		for (size_t i = 0; i < o.n && rv == OSP_OK; i++) {
			osp_be64_put(key, o.keys[i]);
			rv = osp_store_del(t, "results", key, 8);
		}
	} while (rv == OSP_OK && o.n == sizeof(o.keys) / sizeof(o.keys[0]));
	return rv;
}

/* Results are stored as one flag byte (1 = acked) followed by the record. */
static osp_err agent_lmdb_result_put(agent_store *s, uint64_t seq, const void *val, size_t len,
	bool acked)
{
	agent_lmdb *l = s->impl;
	osp_txn *t = NULL;
	uint8_t key[8], *buf = NULL;
	char cur[32];
	osp_err rv;

	if ((buf = malloc(len + 1)) == NULL)
		return OSP_ENOMEM;
	buf[0] = acked ? 1 : 0;
	memcpy(buf + 1, val, len);
	osp_be64_put(key, seq);
	snprintf(cur, sizeof(cur), "%llu", (unsigned long long)seq);
	if ((rv = osp_store_txn_begin(l->st, true, &t)) != OSP_OK)
		goto out;
	if ((rv = osp_store_put(t, "results", key, 8, buf, len + 1)) != OSP_OK ||
		(rv = osp_store_put(t, "meta", "cursor", 6, cur, strlen(cur))) != OSP_OK)
		goto out;
	if (seq > l->retain && (rv = agent_lmdb_trim(t, seq - l->retain + 1, l->retain)) != OSP_OK)
		goto out;
	rv = osp_store_txn_commit(t);
	t = NULL;
out:
	osp_store_txn_abort(t);
	free(buf);
	return rv;
}

static osp_err agent_lmdb_result_get(agent_store *s, uint64_t seq, void **val, size_t *len,
	bool *acked)
{
	uint8_t key[8], *v = NULL;
	size_t vl = 0;
	osp_err rv;

	osp_be64_put(key, seq);
	rv = agent_lmdb_read_one(s, "results", key, 8, &v, &vl);
	if (rv == OSP_OK && vl < 1)
		rv = OSP_ESTORE;
	if (rv != OSP_OK) {
		free(v);
		return rv;
	}
	/* the flag byte first, then the record: the caller gets the record */
	if (acked != NULL)
		*acked = v[0] == 1;
	memmove(v, v + 1, vl - 1);
	*val = v;
	*len = vl - 1;
	return OSP_OK;
}

static osp_err agent_lmdb_result_ack(agent_store *s, uint64_t seq)
{
	osp_txn *t = NULL;
	uint8_t key[8], *buf = NULL;
	const void *v;
	size_t vl;
	osp_err rv;

	osp_be64_put(key, seq);
	if ((rv = osp_store_txn_begin(agent_lmdb_st(s), true, &t)) != OSP_OK)
		return rv;
	if ((rv = osp_store_get(t, "results", key, 8, &v, &vl)) != OSP_OK || vl < 1)
		goto out;
	if (((const uint8_t *)v)[0] == 1)
		goto out;
	if ((buf = malloc(vl)) == NULL) {
		rv = OSP_ENOMEM;
		goto out;
	}
	memcpy(buf, v, vl);
	buf[0] = 1;
	if ((rv = osp_store_put(t, "results", key, 8, buf, vl)) != OSP_OK)
		goto out;
	rv = osp_store_txn_commit(t);
	t = NULL;
out:
	osp_store_txn_abort(t);
	free(buf);
	return rv;
}

struct agent_lmdb_iter {
	agent_store_iter_fn fn;
	void *arg;
	bool unacked_only;
};

static int agent_lmdb_iter_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	struct agent_lmdb_iter *it = arg;
	char key[128];

	if (it->unacked_only) {
		if (vl < 1 || ((const uint8_t *)v)[0] == 1)
			return 0;
		return it->fn(it->arg, NULL, (const uint8_t *)v + 1, vl - 1);
	}
	if (kl >= sizeof(key))
		return 0;
	memcpy(key, k, kl);
	key[kl] = '\0';
	return it->fn(it->arg, key, v, vl);
}

/* agent_lmdb_list calls fn for every entry of db (of "results": the
 * unacknowledged ones) in a read transaction. */
static osp_err agent_lmdb_list(
	agent_store *s, const char *db, bool unacked_only, agent_store_iter_fn fn, void *arg)
{
	struct agent_lmdb_iter it = { fn, arg, unacked_only };
	osp_txn *t = NULL;
	osp_err rv;

	if ((rv = osp_store_txn_begin(agent_lmdb_st(s), false, &t)) != OSP_OK)
		return rv;
	rv = osp_store_foreach(t, db, NULL, 0, false, agent_lmdb_iter_cb, &it);
	osp_store_txn_abort(t);
	return rv;
}

static osp_err agent_lmdb_result_unacked(agent_store *s, agent_store_iter_fn fn, void *arg)
{
	return agent_lmdb_list(s, "results", true, fn, arg);
}

static osp_err agent_lmdb_cursor_get(agent_store *s, uint64_t *cursor)
{
	char v[32];
	osp_err rv = agent_lmdb_meta_get(s, "cursor", v, sizeof(v));

	if (rv == OSP_ENOENT) {
		*cursor = 0;
		return OSP_OK;
	}
	if (rv != OSP_OK)
		return rv;
	return osp_u64_parse(v, 0, UINT64_MAX, cursor) == OSP_OK ? OSP_OK : OSP_ESTORE;
}

static osp_err agent_lmdb_app_put(agent_store *s, const char *app, const void *val, size_t len)
{
	return agent_lmdb_write_one(s, "apps", app, strlen(app), false, val, len);
}

static osp_err agent_lmdb_app_get(agent_store *s, const char *app, void **val, size_t *len)
{
	uint8_t *v = NULL;
	osp_err rv = agent_lmdb_read_one(s, "apps", app, strlen(app), &v, len);

	if (rv == OSP_OK)
		*val = v;
	return rv;
}

static osp_err agent_lmdb_app_del(agent_store *s, const char *app)
{
	return agent_lmdb_write_one(s, "apps", app, strlen(app), true, NULL, 0);
}

static osp_err agent_lmdb_app_list(agent_store *s, agent_store_iter_fn fn, void *arg)
{
	return agent_lmdb_list(s, "apps", false, fn, arg);
}

static void agent_lmdb_close(agent_store *s)
{
	agent_lmdb *l = s->impl;

	osp_store_close(l->st);
	free(l);
}

static const agent_store_ops agent_lmdb_ops = {
	.meta_get = agent_lmdb_meta_get,
	.meta_put = agent_lmdb_meta_put,
	.result_put = agent_lmdb_result_put,
	.result_get = agent_lmdb_result_get,
	.result_ack = agent_lmdb_result_ack,
	.result_unacked = agent_lmdb_result_unacked,
	.cursor_get = agent_lmdb_cursor_get,
	.app_put = agent_lmdb_app_put,
	.app_get = agent_lmdb_app_get,
	.app_del = agent_lmdb_app_del,
	.app_list = agent_lmdb_app_list,
	.close = agent_lmdb_close,
};

osp_err agent_store_lmdb_open(const char *state_dir, uint64_t retain, bool init,
	agent_store **out, char *err, size_t errlen)
{
	static const char *const dbs[] = { "results", "apps" };
	char dir[4096];
	agent_lmdb *l;
	osp_store_opts o = {
		.dir = dir,
		.map_size = 256ULL << 20,
		.dbs = dbs,
		.ndbs = 2,
		.schema = AGENT_SCHEMA,
		.init = init,
	};
	osp_err rv;

	if ((size_t)snprintf(dir, sizeof(dir), "%s/db", state_dir) >= sizeof(dir)) {
		snprintf(err, errlen, "state dir path too long");
		return OSP_ETOOBIG;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return OSP_ENOMEM;
	l->retain = retain ? retain : 1000;
	if ((rv = osp_store_open(&o, &l->st, err, errlen)) != OSP_OK) {
		free(l);
		return rv;
	}
	l->pub.ops = &agent_lmdb_ops;
	l->pub.impl = l;
	*out = &l->pub;
	return OSP_OK;
}

void agent_store_close(agent_store *s)
{
	if (s != NULL)
		s->ops->close(s);
}
