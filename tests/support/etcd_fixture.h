/*
 * etcd_fixture.h - real etcd members on loopback for tests (prefix te_):
 * a cluster of 1 or 3 `etcd` processes (/usr/bin/etcd, from Debian's
 * etcd-server), each with its own data dir under dir and free loopback
 * ports (tests/support/test_port.h), started with the limits ospec needs
 * (docs/ha.md: --max-txn-ops, --max-request-bytes). te_start waits until
 * the cluster answers a write; te_stop_all kills every member (SIGKILL) and
 * removes the data dirs; it is safe to call twice and after a failed start.
 */
#ifndef OSPEC_ETCD_FIXTURE_H
#define OSPEC_ETCD_FIXTURE_H

#include <stdbool.h>
#include <sys/types.h>

#define TE_MAX_MEMBERS 3

typedef struct te_cluster {
	int n;
	char dir[400];
	char endpoints[256];              /* "127.0.0.1:P1,127.0.0.1:P2,..." (client URLs) */
	int client_port[TE_MAX_MEMBERS];
	int peer_port[TE_MAX_MEMBERS];
	pid_t pid[TE_MAX_MEMBERS];        /* 0: not running */
} te_cluster;

/* te_start starts n (1 or 3) members under dir (created if missing) and
 * waits up to 30 s for the cluster to take a write; 0, or -1 with a reason
 * on stderr (every member started is stopped again). */
int te_start(te_cluster *c, int n, const char *dir);

/* te_stop_member kills member i (SIGKILL) and waits for it; te_start_member
 * starts it again on its ports and data dir (the cluster's existing state);
 * 0 or -1. te_wait_quorum waits up to ms for a write to go through. */
int te_stop_member(te_cluster *c, int i);
int te_start_member(te_cluster *c, int i);
int te_wait_quorum(te_cluster *c, int ms);

/* te_pause_member stops member i with SIGSTOP and waits until every thread
 * of it is stopped (a signal is delivered after kill returns: a request
 * sent at once could still be answered); it keeps its connections, so a
 * request sent to it gets no answer. te_resume_member continues it
 * (SIGCONT). 0 or -1. */
int te_pause_member(te_cluster *c, int i);
int te_resume_member(te_cluster *c, int i);

/* te_stop_all kills every member and removes dir's member data. */
void te_stop_all(te_cluster *c);

#endif
