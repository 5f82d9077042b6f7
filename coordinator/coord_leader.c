/*
 * coord_leader.c - the leader election of highly available coordinators on
 * etcd (coord_leader.h, docs/ha.md).
 *
 * A coordinator grants itself a lease, keeps it alive from a thread, and
 * campaigns with one Txn: "if PREFIX_leader does not exist, put it with my
 * lease". The put's revision is the leader key's create_revision: the fence
 * every later commit of this leader compares (store_etcd.c). A standby reads
 * the key's value (who leads, where its control is) for coord_standby.c.
 *
 * Losing: the lease is gone when etcd says so (the keep-alive thread), or
 * may be gone once no keep-alive sent in the last TTL - margin was answered
 * (the clock thread, which no blocked request delays; etcd counts the TTL
 * from its own receipt, which is later than our send: we stop first). The
 * leader then exits at once (coord_leader_lost), never writing or sending
 * another command; a standby wins after the TTL.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "coord_leader.h"
#include "ospec/etcd.h"
#include "ospec/json.h"
#include "ospec/log.h"
#include "ospec/sdnotify.h"
#include "ospec/util.h"

struct coord_leader {
	osp_etcd *campaign_cli; /* the campaigning thread's (a client is one thread's) */
	osp_etcd *keep_cli;     /* the keep-alive thread's */
	char endpoints[1024];
	char key[300];
	char name[256];
	char control[512];
	char agents[512];
	int64_t ttl_ms;
	void (*lost)(void *arg, const char *why);
	void *lost_arg;
	atomic_llong lease;     /* 0 until granted (the campaign regrants; the keeper reads) */
	int64_t rev;            /* the create_revision we won; 0 as a standby */
	pthread_mutex_t mtx;    /* guards the leader info below and lease/lost_why */
	char cur_name[256];     /* the leader as last read */
	char cur_control[512];
	char lost_why[256];
	pthread_t keeper, clock;
	bool keeper_started, clock_started;
	atomic_bool stop;
	atomic_bool gone;          /* the leadership was lost (given up once) */
	atomic_llong last_ok_sent; /* monotonic ms at which the last answered keep-alive left */
};

osp_err coord_store_url_parse(const char *url, char *endpoints, size_t elen, char *prefix,
	size_t plen, char *err, size_t errlen)
{
	const char *rest, *slash;
	size_t n;

	if (strncmp(url, "etcd://", 7) != 0) {
		snprintf(err, errlen, "--store '%s': expected etcd://HOST:PORT[,HOST:PORT...][/PREFIX]",
			url);
		return OSP_EINVAL;
	}
	rest = url + 7;
	slash = strchr(rest, '/');
	n = slash != NULL ? (size_t)(slash - rest) : strlen(rest);
	if (n == 0 || n >= elen) {
		snprintf(err, errlen, "--store '%s': %s", url,
			n == 0 ? "no etcd endpoint (HOST:PORT)" : "the endpoint list is too long");
		return OSP_EINVAL;
	}
	memcpy(endpoints, rest, n);
	endpoints[n] = '\0';
	if (slash == NULL || slash[1] == '\0')
		slash = "/ospec";
	for (const char *p = slash + 1; *p != '\0'; p++)
		if (!(*p == '-' || *p == '_' || *p == '.' || *p == '/' ||
			    (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			    (*p >= '0' && *p <= '9'))) {
			snprintf(err, errlen, "--store '%s': the prefix may hold letters, digits, "
					      "'-', '_', '.' and '/' only", url);
			return OSP_EINVAL;
		}
	n = strlen(slash);
	if (n + 2 > plen) {
		snprintf(err, errlen, "--store '%s': the prefix is too long", url);
		return OSP_EINVAL;
	}
	memcpy(prefix, slash, n);
	if (prefix[n - 1] != '/')
		prefix[n++] = '/';
	prefix[n] = '\0';
	return OSP_OK;
}

osp_err coord_leader_new(const coord_leader_opts *o, coord_leader **out, char *err,
	size_t errlen)
{
	coord_leader *l = calloc(1, sizeof(*l));
	int64_t ttl = o->ttl_ms < 2000 ? 2000 : o->ttl_ms;
	osp_err rv;

	if (l == NULL)
		return OSP_ENOMEM;
	osp_strlcpy(l->endpoints, o->endpoints, sizeof(l->endpoints));
	snprintf(l->key, sizeof(l->key), "%s_leader", o->prefix);
	osp_strlcpy(l->name, o->name, sizeof(l->name));
	osp_strlcpy(l->control, o->control, sizeof(l->control));
	osp_strlcpy(l->agents, o->agents != NULL ? o->agents : "", sizeof(l->agents));
	l->ttl_ms = (ttl + 999) / 1000 * 1000;
	l->lost = o->lost;
	l->lost_arg = o->lost_arg;
	pthread_mutex_init(&l->mtx, NULL);
	/* one request may take a quarter of the TTL: the keeper then has three
	 * tries before the clock gives up (at TTL - margin) */
	if ((rv = osp_etcd_new(l->endpoints, l->ttl_ms / 4, &l->campaign_cli, err, errlen)) !=
			OSP_OK ||
		(rv = osp_etcd_new(l->endpoints, l->ttl_ms / 4, &l->keep_cli, err, errlen)) != OSP_OK) {
		coord_leader_free(l, false);
		return rv;
	}
	*out = l;
	return OSP_OK;
}

const char *coord_leader_key(const coord_leader *l)
{
	return l->key;
}

int64_t coord_leader_rev(const coord_leader *l)
{
	return l->rev;
}

void coord_leader_current(void *arg, char *name, size_t nlen, char *control, size_t clen)
{
	coord_leader *l = arg;

	pthread_mutex_lock(&l->mtx);
	osp_strlcpy(name, l->cur_name, nlen);
	osp_strlcpy(control, l->cur_control, clen);
	pthread_mutex_unlock(&l->mtx);
}

void coord_leader_lost(void *arg)
{
	coord_leader *l = arg;
	char why[256];

	pthread_mutex_lock(&l->mtx);
	osp_strlcpy(why, l->lost_why[0] ? l->lost_why : "a commit was fenced: another "
		"coordinator holds the leadership", sizeof(why));
	pthread_mutex_unlock(&l->mtx);
	OSP_ERROR("COORD-LEADER-LOST", "%s: '%s' stops now (exit %d) and acts no more; its "
		"supervisor starts it again as a standby", why, l->name, COORD_LEADER_EXIT);
	_exit(COORD_LEADER_EXIT);
}

/* coord_leader_value writes the leader key's value: who leads, and where. */
static osp_err coord_leader_value(const coord_leader *l, osp_buf *b)
{
	osp_jw w;

	osp_jw_init(&w, b);
	osp_jw_obj_begin(&w);
	osp_jw_key(&w, "name");
	osp_jw_str(&w, l->name);
	osp_jw_key(&w, "control");
	osp_jw_str(&w, l->control);
	osp_jw_key(&w, "agents");
	osp_jw_str(&w, l->agents);
	osp_jw_key(&w, "pid");
	osp_jw_int(&w, (int64_t)getpid());
	osp_jw_obj_end(&w);
	return osp_jw_err(&w);
}

/* coord_leader_note reads who leads from the key's value. */
static void coord_leader_note(coord_leader *l, const osp_etcd_kv *kv)
{
	osp_json *j = NULL;
	char err[64];
	const char *name = "", *control = "";

	if (kv != NULL && osp_json_parse(kv->val, kv->vlen, &j, err, sizeof(err)) == OSP_OK) {
		name = osp_json_get_str(j, "name");
		control = osp_json_get_str(j, "control");
	}
	pthread_mutex_lock(&l->mtx);
	osp_strlcpy(l->cur_name, name != NULL ? name : "", sizeof(l->cur_name));
	osp_strlcpy(l->cur_control, control != NULL ? control : "", sizeof(l->cur_control));
	pthread_mutex_unlock(&l->mtx);
	osp_json_free(j);
}

/* coord_leader_give_up records why the leadership is lost and acts on it:
 * the lost hook once, or coord_leader_lost (which exits). Either thread may
 * find it first: the first one acts. */
static void coord_leader_give_up(coord_leader *l, const char *why)
{
	if (atomic_exchange(&l->gone, true))
		return;
	pthread_mutex_lock(&l->mtx);
	osp_strlcpy(l->lost_why, why, sizeof(l->lost_why));
	pthread_mutex_unlock(&l->mtx);
	if (l->lost == NULL)
		coord_leader_lost(l); /* does not return */
	l->lost(l->lost_arg, why);
}

/* coord_leader_keeper keeps the lease alive every TTL/4 (each request may
 * take as long: the client's timeout); once it leads, etcd saying the lease
 * is gone ends the leadership at once. */
static void *coord_leader_keeper(void *arg)
{
	coord_leader *l = arg;

	while (!atomic_load(&l->stop) && !atomic_load(&l->gone)) {
		int64_t sent = osp_now_mono_ms(), left = 0;
		char err[512], why[640];
		osp_err rv = osp_etcd_lease_keepalive(l->keep_cli, atomic_load(&l->lease), &left,
			err, sizeof(err));

		if (rv == OSP_OK && left > 0)
			atomic_store(&l->last_ok_sent, sent);
		if (__atomic_load_n(&l->rev, __ATOMIC_ACQUIRE) != 0 &&
			(rv == OSP_ENOENT || (rv == OSP_OK && left <= 0))) {
			snprintf(why, sizeof(why), "etcd says the lease is gone (%s)",
				rv == OSP_OK ? "ttl 0" : err);
			coord_leader_give_up(l, why);
			return NULL;
		}
		for (int64_t t = 0; t < l->ttl_ms / 4 && !atomic_load(&l->stop); t += 50)
			osp_sleep_ms(50);
	}
	return NULL;
}

/* coord_leader_clock watches the lease on its own clock, never blocked by a
 * request: a leader whose last answered keep-alive left TTL - margin ago
 * gives up before etcd can expire the lease and a standby win (etcd counts
 * from its receipt, later than our send). A standby pings systemd's
 * watchdog from here (docs/systemd.md): its campaign may block on etcd. */
static void *coord_leader_clock(void *arg)
{
	coord_leader *l = arg;
	int64_t margin = l->ttl_ms / 4 < 1000 ? l->ttl_ms / 4 : 1000, last_ping = 0;

	while (!atomic_load(&l->stop) && !atomic_load(&l->gone)) {
		int64_t now = osp_now_mono_ms();

		if (__atomic_load_n(&l->rev, __ATOMIC_ACQUIRE) != 0) {
			if (now - atomic_load(&l->last_ok_sent) >= l->ttl_ms - margin) {
				coord_leader_give_up(l, "no keep-alive of the lease was answered in "
							"time");
				return NULL;
			}
		} else if (now - last_ping >= 1000) {
			osp_sd_notify("WATCHDOG=1");
			last_ping = now;
		}
		osp_sleep_ms(20);
	}
	return NULL;
}

/* coord_leader_grant gets a fresh lease (the old one, if any, expired while
 * etcd was away) and starts the keeper once. */
static osp_err coord_leader_grant(coord_leader *l, char *err, size_t errlen)
{
	int64_t id = 0, sent = osp_now_mono_ms(); /* etcd counts from its receipt: later */
	osp_err rv = osp_etcd_lease_grant(l->campaign_cli, l->ttl_ms / 1000, &id, err, errlen);

	if (rv != OSP_OK)
		return rv;
	atomic_store(&l->lease, id);
	atomic_store(&l->last_ok_sent, sent);
	if (!l->keeper_started) {
		if (pthread_create(&l->keeper, NULL, coord_leader_keeper, l) != 0) {
			snprintf(err, errlen, "cannot start the lease keep-alive thread");
			return OSP_EIO;
		}
		l->keeper_started = true;
		if (pthread_create(&l->clock, NULL, coord_leader_clock, l) != 0) {
			snprintf(err, errlen, "cannot start the lease clock thread");
			return OSP_EIO;
		}
		l->clock_started = true;
	}
	return OSP_OK;
}

/* coord_leader_try makes one attempt: OSP_OK and l->rev set when we won;
 * OSP_EBUSY when another leads (noted for the standby's answers). */
static osp_err coord_leader_try(coord_leader *l, char *err, size_t errlen)
{
	osp_buf val;
	osp_etcd_cmp cmp = { .key = l->key, .klen = strlen(l->key), .target = OSP_ETCD_CREATE };
	osp_etcd_op op = { .key = l->key, .klen = strlen(l->key), .lease = atomic_load(&l->lease) };
	osp_etcd_kv kv = { 0 };
	bool won = false;
	int64_t rev = 0;
	osp_err rv;

	osp_buf_init(&val, 4096);
	if ((rv = coord_leader_value(l, &val)) != OSP_OK) {
		osp_buf_fini(&val);
		return rv;
	}
	op.val = val.data;
	op.vlen = val.len;
	rv = osp_etcd_txn(l->campaign_cli, &cmp, 1, &op, 1, &won, &rev, err, errlen);
	osp_buf_fini(&val);
	if (rv != OSP_OK)
		return rv;
	if (won) {
		__atomic_store_n(&l->rev, rev, __ATOMIC_RELEASE);
		pthread_mutex_lock(&l->mtx);
		osp_strlcpy(l->cur_name, l->name, sizeof(l->cur_name));
		osp_strlcpy(l->cur_control, l->control, sizeof(l->cur_control));
		pthread_mutex_unlock(&l->mtx);
		return OSP_OK;
	}
	rv = osp_etcd_get(l->campaign_cli, l->key, strlen(l->key), 0, &kv, NULL, err, errlen);
	if (rv == OSP_OK && kv.lease == atomic_load(&l->lease)) {
		/* our put of an earlier try applied, its answer was lost: we won then */
		__atomic_store_n(&l->rev, kv.create_rev, __ATOMIC_RELEASE);
		coord_leader_note(l, &kv);
		osp_etcd_kv_free(&kv);
		return OSP_OK;
	}
	if (rv == OSP_OK || rv == OSP_ENOENT)
		coord_leader_note(l, rv == OSP_OK ? &kv : NULL);
	osp_etcd_kv_free(&kv);
	return rv == OSP_OK || rv == OSP_ENOENT ? OSP_EBUSY : rv;
}

/* coord_leader_wait waits ms for a signal of set: true when one came. */
static bool coord_leader_wait(const sigset_t *set, int64_t ms, int *sig)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
	int s = sigtimedwait(set, NULL, &ts);

	if (s <= 0)
		return false;
	*sig = s;
	return true;
}

osp_err coord_leader_campaign(coord_leader *l, const sigset_t *set, int *sig)
{
	char err[512], last[512] = "";
	bool said_standby = false;

	for (;;) {
		osp_err rv = OSP_OK;
		bool expired = atomic_load(&l->lease) == 0 ||
			osp_now_mono_ms() - atomic_load(&l->last_ok_sent) >= l->ttl_ms;

		err[0] = '\0';
		if (expired)
			rv = coord_leader_grant(l, err, sizeof(err));
		if (rv == OSP_OK)
			rv = coord_leader_try(l, err, sizeof(err));
		if (rv == OSP_OK) {
			OSP_INFO("COORD-LEADER", "'%s' is the leader (lease %llx, ttl %llds, fence "
				"revision %lld)", l->name, (unsigned long long)atomic_load(&l->lease),
				(long long)(l->ttl_ms / 1000), (long long)l->rev);
			return OSP_OK;
		}
		if (rv == OSP_EBUSY && !said_standby) {
			char name[256], control[512];

			coord_leader_current(l, name, sizeof(name), control, sizeof(control));
			OSP_INFO("COORD-STANDBY", "'%s' is a standby: '%s' leads (control '%s'); "
				"it takes over when that lease ends", l->name, name, control);
			said_standby = true;
			last[0] = '\0';
		} else if (rv != OSP_EBUSY && strcmp(last, err) != 0) {
			OSP_WARN("COORD-LEADER-ETCD", "cannot campaign on etcd '%s': %s (trying "
				"again every %d ms)", l->endpoints, err, COORD_LEADER_POLL_MS);
			osp_strlcpy(last, err, sizeof(last));
			said_standby = false;
		}
		if (coord_leader_wait(set, COORD_LEADER_POLL_MS, sig))
			return OSP_ECLOSED;
	}
}

void coord_leader_free(coord_leader *l, bool resign)
{
	char err[256];

	if (l == NULL)
		return;
	atomic_store(&l->stop, true);
	if (l->keeper_started)
		pthread_join(l->keeper, NULL);
	if (l->clock_started)
		pthread_join(l->clock, NULL);
	if (resign && l->rev != 0 && atomic_load(&l->lease) != 0 &&
		osp_etcd_lease_revoke(l->campaign_cli, atomic_load(&l->lease), err, sizeof(err)) !=
			OSP_OK)
		OSP_WARN("COORD-LEADER", "cannot revoke the lease (a standby takes over when "
			"it ends): %s", err);
	osp_etcd_free(l->campaign_cli);
	osp_etcd_free(l->keep_cli);
	pthread_mutex_destroy(&l->mtx);
	free(l);
}
