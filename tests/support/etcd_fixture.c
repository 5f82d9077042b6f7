/*
 * etcd_fixture.c - real etcd members on loopback for the tests
 * (etcd_fixture.h).
 *
 * Each member is /usr/bin/etcd with its own data dir (DIR/memberI), log
 * (DIR/memberI.log, zap) and two ports from tp_free_port. The flags that
 * matter beyond the addresses:
 *   --max-txn-ops 100000 --max-request-bytes 33554432: the etcd store
 *     commits a write transaction as ONE etcd Txn with an operation per key
 *     it changed (docs/ha.md); etcd's defaults (128 operations, 1.5 MiB)
 *     would refuse a migration or a big rollout's first save.
 *   --heartbeat-interval 50 --election-timeout 500: a killed member's
 *     successor is elected in about a second instead of ten, so the
 *     cluster tests stay short (loopback has no latency to allow for).
 *   --pre-vote=true (3.5's default): a member that was cut off and ran up
 *     its term does not depose a healthy leader when it comes back.
 * A member started again (te_start_member) finds its data dir and ignores
 * the --initial-* flags, rejoining the cluster it was part of.
 */
#include "etcd_fixture.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ospec/etcd.h"
#include "ospec/util.h"
#include "test_port.h"

#define TE_ETCD "/usr/bin/etcd"
#define TE_START_MS 30000

/* te_url writes http://127.0.0.1:port into buf. */
static void te_url(char *buf, size_t len, int port)
{
	snprintf(buf, len, "http://127.0.0.1:%d", port);
}

/* te_initial_cluster writes m0=PEER0,m1=PEER1,... */
static void te_initial_cluster(const te_cluster *c, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (int i = 0; i < c->n && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%sm%d=http://127.0.0.1:%d", i ? "," : "",
			i, c->peer_port[i]);
}

/* te_exec runs etcd as member i in the child; it only returns on failure. */
static void te_exec(const te_cluster *c, int i)
{
	char name[16], data[512], logs[520], out[520], cu[64], pu[64], init[256], token[64];
	int fd;

	snprintf(name, sizeof(name), "m%d", i);
	snprintf(data, sizeof(data), "%s/member%d", c->dir, i);
	snprintf(logs, sizeof(logs), "--log-outputs=%s/member%d.log", c->dir, i);
	snprintf(out, sizeof(out), "%s/member%d.out", c->dir, i);
	te_url(cu, sizeof(cu), c->client_port[i]);
	te_url(pu, sizeof(pu), c->peer_port[i]);
	te_initial_cluster(c, init, sizeof(init));
	snprintf(token, sizeof(token), "te-%d-%d", (int)getppid(), c->peer_port[0]);
	/* a test that dies takes its members with it */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	fd = open(out, O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
	}
	execl(TE_ETCD, TE_ETCD, "--name", name, "--data-dir", data, "--listen-client-urls", cu,
		"--advertise-client-urls", cu, "--listen-peer-urls", pu,
		"--initial-advertise-peer-urls", pu, "--initial-cluster", init,
		"--initial-cluster-state", "new", "--initial-cluster-token", token, "--logger=zap",
		logs, "--max-txn-ops", "100000", "--max-request-bytes", "33554432",
		"--heartbeat-interval", "50", "--election-timeout", "500", "--pre-vote=true",
		(char *)NULL);
	fprintf(stderr, "te: exec %s: %s\n", TE_ETCD, strerror(errno));
}

int te_start_member(te_cluster *c, int i)
{
	pid_t pid;

	if (i < 0 || i >= c->n || c->pid[i] != 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		te_exec(c, i);
		_exit(127);
	}
	c->pid[i] = pid;
	return 0;
}

int te_stop_member(te_cluster *c, int i)
{
	if (i < 0 || i >= c->n)
		return -1;
	if (c->pid[i] == 0)
		return 0;
	kill(c->pid[i], SIGKILL);
	while (waitpid(c->pid[i], NULL, 0) < 0 && errno == EINTR)
		;
	c->pid[i] = 0;
	return 0;
}

/* te_all_stopped reports whether every thread of pid is in state T. */
static bool te_all_stopped(pid_t pid)
{
	char path[64], line[512];
	struct dirent *d;
	DIR *dir;
	bool all = true;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if ((dir = opendir(path)) == NULL)
		return false;
	while (all && (d = readdir(dir)) != NULL) {
		char stat[300];
		FILE *f;
		const char *p;

		if (d->d_name[0] == '.')
			continue;
		snprintf(stat, sizeof(stat), "%s/%s/stat", path, d->d_name);
		if ((f = fopen(stat, "r")) == NULL)
			continue; /* a thread that just ended */
		/* "TID (comm) S ...": the state follows the last ')' */
		p = fgets(line, sizeof(line), f) != NULL ? strrchr(line, ')') : NULL;
		all = p != NULL && p[1] == ' ' && (p[2] == 'T' || p[2] == 't');
		fclose(f);
	}
	closedir(dir);
	return all;
}

int te_pause_member(te_cluster *c, int i)
{
	int64_t end = osp_now_mono_ms() + 5000;

	if (i < 0 || i >= c->n || c->pid[i] == 0 || kill(c->pid[i], SIGSTOP) != 0)
		return -1;
	while (!te_all_stopped(c->pid[i])) {
		if (osp_now_mono_ms() > end)
			return -1;
		osp_sleep_ms(5);
	}
	return 0;
}

int te_resume_member(te_cluster *c, int i)
{
	if (i < 0 || i >= c->n || c->pid[i] == 0)
		return -1;
	return kill(c->pid[i], SIGCONT) == 0 ? 0 : -1;
}

/* te_try_write puts one key through a client of every member. */
static int te_try_write(osp_etcd *e)
{
	osp_etcd_op op = { .key = "/te/probe", .klen = 9, .val = "1", .vlen = 1 };
	char err[512];
	bool ok = false;

	return osp_etcd_txn(e, NULL, 0, &op, 1, &ok, NULL, err, sizeof(err)) == OSP_OK && ok ?
		0 : -1;
}

int te_wait_quorum(te_cluster *c, int ms)
{
	int64_t end = osp_now_mono_ms() + ms;
	osp_etcd *e = NULL;
	char err[512];
	int rc = -1;

	if (osp_etcd_new(c->endpoints, 1000, &e, err, sizeof(err)) != OSP_OK)
		return -1;
	while (rc != 0 && osp_now_mono_ms() < end) {
		rc = te_try_write(e);
		if (rc != 0)
			osp_sleep_ms(100);
	}
	osp_etcd_free(e);
	return rc;
}

/* te_ports takes 2 ports per member and writes the endpoint list. */
static int te_ports(te_cluster *c)
{
	size_t o = 0;

	for (int i = 0; i < c->n; i++) {
		c->client_port[i] = tp_free_port();
		c->peer_port[i] = tp_free_port();
		if (c->client_port[i] < 0 || c->peer_port[i] < 0)
			return -1;
		o += (size_t)snprintf(c->endpoints + o, sizeof(c->endpoints) - o,
			"%s127.0.0.1:%d", i ? "," : "", c->client_port[i]);
	}
	return 0;
}

int te_start(te_cluster *c, int n, const char *dir)
{
	memset(c, 0, sizeof(*c));
	if ((n != 1 && n != 3) || osp_strlcpy(c->dir, dir, sizeof(c->dir)) >= sizeof(c->dir)) {
		fprintf(stderr, "te_start: n must be 1 or 3 and dir short\n");
		return -1;
	}
	c->n = n;
	if (osp_mkdir_p(dir, 0700) != OSP_OK || te_ports(c) != 0) {
		fprintf(stderr, "te_start: cannot make %s or find free ports\n", dir);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		if (te_start_member(c, i) != 0) {
			fprintf(stderr, "te_start: cannot start member %d\n", i);
			te_stop_all(c);
			return -1;
		}
	}
	if (te_wait_quorum(c, TE_START_MS) != 0) {
		fprintf(stderr, "te_start: etcd at %s took no write in %d ms (logs: %s/member*.log)\n",
			c->endpoints, TE_START_MS, dir);
		te_stop_all(c);
		return -1;
	}
	return 0;
}

/* te_rm_one removes one entry, bottom up (nftw with FTW_DEPTH). */
static int te_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if ((flag == FTW_DP ? rmdir(path) : unlink(path)) != 0)
		fprintf(stderr, "te: cannot remove %s: %s\n", path, strerror(errno));
	return 0;
}

/* te_rm removes DIR/name and everything below it, not following symlinks. */
static void te_rm(const char *dir, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (access(path, F_OK) == 0)
		nftw(path, te_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void te_stop_all(te_cluster *c)
{
	char name[32];

	for (int i = 0; i < c->n; i++) {
		te_stop_member(c, i);
		snprintf(name, sizeof(name), "member%d", i);
		if (c->dir[0] != '\0')
			te_rm(c->dir, name);
	}
}
