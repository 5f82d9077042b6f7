/*
 * coord_leader.h - the leader election of highly available coordinators
 * (--store etcd://..., docs/ha.md). Coordinators that share an etcd store
 * campaign for one key, PREFIX_leader, put with their own etcd lease: the
 * one whose put created it is the leader. It alone opens the store, listens
 * for agents and serves control; the others wait as standbys (coord_standby.c
 * answers their ospecctl with a redirect) and try again every 250 ms.
 *
 * Fencing: every commit of the leader compares the leader key's
 * create_revision with the one its win created (store_etcd.c), so a leader
 * that lost its lease (paused, cut off) cannot write after a successor won.
 * A leader whose keep-alives stop for longer than the lease minus a margin,
 * or whose lease etcd reports gone, or whose commit was fenced, stops at
 * once: it logs COORD-LEADER-LOST and exits with 75 (EX_TEMPFAIL), as a
 * kill -9 would, and its supervisor (systemd Restart=) starts it again as a
 * standby. The durability rules make that safe: every decision is committed
 * before it is acted on, and the successor resumes from the store.
 */
#ifndef OSPEC_COORD_LEADER_H
#define OSPEC_COORD_LEADER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ospec/err.h"

#define COORD_LEADER_EXIT 75 /* EX_TEMPFAIL: lost the leadership */
#define COORD_LEADER_POLL_MS 250

typedef struct coord_leader coord_leader;

typedef struct coord_leader_opts {
	const char *endpoints; /* etcd HOST:PORT,... */
	const char *prefix;    /* the store's prefix, "/ospec/" */
	const char *name;      /* this coordinator's name */
	const char *control;   /* the control URL standbys send operators to */
	const char *agents;    /* the agents' URL (for messages) */
	int64_t ttl_ms;        /* the lease's TTL (rounded up to seconds, >= 2 s) */
	/* what losing the leadership does once it led (NULL: coord_leader_lost,
	 * which exits); a test's hook is called once, from the keep-alive thread,
	 * which then stops */
	void (*lost)(void *arg, const char *why);
	void *lost_arg;
} coord_leader_opts;

/* coord_store_url_parse splits "etcd://HOST:PORT[,HOST:PORT...][/PREFIX]"
 * into endpoints and "/PREFIX/" ("/ospec/" without one). OSP_EINVAL with err
 * when it is not such a URL. */
osp_err coord_store_url_parse(const char *url, char *endpoints, size_t elen, char *prefix,
	size_t plen, char *err, size_t errlen);

/* coord_leader_new copies o (nothing is contacted yet). */
osp_err coord_leader_new(const coord_leader_opts *o, coord_leader **out, char *err,
	size_t errlen);

/* coord_leader_campaign returns OSP_OK once this coordinator is the leader,
 * keeping its lease alive from then on (a thread); or OSP_ECLOSED when one
 * of the signals in set arrived first (*sig gets it). etcd being away is
 * logged (once per outage) and waited out. */
osp_err coord_leader_campaign(coord_leader *l, const sigset_t *set, int *sig);

/* The fence of the leader's writes: the key and the create_revision it won. */
const char *coord_leader_key(const coord_leader *l);
int64_t coord_leader_rev(const coord_leader *l);

/* coord_leader_current (a coord_standby_leader_fn) fills the leader's name
 * and control URL as last read, or empty strings. */
void coord_leader_current(void *arg, char *name, size_t nlen, char *control, size_t clen);

/* coord_leader_lost (the store's fenced callback, and the keep-alive's)
 * logs why and exits with COORD_LEADER_EXIT. */
void coord_leader_lost(void *arg);

/* coord_leader_free stops the keep-alive; when this coordinator led and
 * resign is true, revokes the lease (the key goes, a standby wins at once). */
void coord_leader_free(coord_leader *l, bool resign);

#endif
