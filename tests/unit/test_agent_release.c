/*
 * test_agent_release.c - releases on the agent: fetch (file:// and http://),
 * sha256 verification, the cache, gc and temp cleanup. The refusal of
 * hostile archives and the path checks are in test_agent_release_archive.c.
 *
 * Archives are built with the shared fixture (test_support_release.h); an
 * http server runs on a thread on 127.0.0.1 with a random port. Every test
 * has its own temp directory, removed afterwards.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mbedtls/sha256.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent_release.h"
#include "ospec/log.h"
#include "ospec/util.h"
#include "test_support.h"
#include "test_support_release.h"

static const struct ts_rel_ent good_ents[] = {
	{ "bin", 'd', NULL, 0755 },
	{ "bin/hello", 'f', "#!/bin/sh\necho hi\n", 04755 },
	{ "VERSION", 'f', "1\n", 0644 },
	{ "lib", 'd', NULL, 0555 },
	{ "lib/data.txt", 'f', "data\n", 0444 },
	{ "lib/up", 'l', "../VERSION", 0 },
	{ "current", 'l', "bin/hello", 0 },
	{ "hl", 'h', "VERSION", 0 },
};

static void test_agent_release_sha_invalid(void **state)
{
	struct ts_rel_fx *x = *state;
	const char *bad[] = { "", "abc",
		"ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789",
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0",
		"g123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(agent_release_sha_valid(bad[i]));
		assert_int_equal(agent_release_fetch(x->state, "file:///dev/null", bad[i], x->err,
					 sizeof(x->err)),
			OSP_EINVAL);
		assert_non_null(strstr(x->err, "invalid sha256"));
		assert_int_equal(agent_release_unpack(x->state, bad[i], x->dir, sizeof(x->dir),
					 x->err, sizeof(x->err)),
			OSP_EINVAL);
	}
	assert_int_equal(agent_release_fetch(x->state, "file:///dev/null", NULL, x->err,
				 sizeof(x->err)),
		OSP_EINVAL);
	assert_int_equal(ts_rel_count_sub(x, "cache"), -1);
}

static void check_good_release(const char *dir)
{
	char p[PATH_MAX], *data, link[64];
	size_t len;
	struct stat st;
	ssize_t n;

	snprintf(p, sizeof(p), "%s/VERSION", dir);
	assert_int_equal(osp_file_read(p, 100, &data, &len), OSP_OK);
	assert_string_equal(data, "1\n");
	free(data);
	snprintf(p, sizeof(p), "%s/bin/hello", dir);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755); /* setuid dropped */
	snprintf(p, sizeof(p), "%s/lib", dir);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0700, 0700); /* stays deletable */
	snprintf(p, sizeof(p), "%s/current", dir);
	n = readlink(p, link, sizeof(link) - 1);
	assert_int_equal(n, 9);
	link[n] = '\0';
	assert_string_equal(link, "bin/hello");
	snprintf(p, sizeof(p), "%s/lib/up", dir);
	assert_int_equal(osp_file_read(p, 100, &data, &len), OSP_OK); /* through the link */
	assert_string_equal(data, "1\n");
	free(data);
	snprintf(p, sizeof(p), "%s/hl", dir);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_nlink, 2);
}

static void test_agent_release_fetch_file_cached(void **state)
{
	struct ts_rel_fx *x = *state;
	char sha[65], url[PATH_MAX], expect[PATH_MAX], cached[PATH_MAX], got[65];

	ts_rel_src_archive(x, "good.tgz", good_ents, 8, sha, url, sizeof(url));
	assert_int_equal(agent_release_fetch(x->state, url, sha, x->err, sizeof(x->err)), OSP_OK);
	snprintf(cached, sizeof(cached), "%s/cache/%s", x->state, sha);
	ts_rel_sha_file(cached, got);
	assert_string_equal(got, sha);
	assert_int_equal(ts_rel_count_sub(x, "cache"), 1); /* no temp file left */

	assert_int_equal(agent_release_unpack(x->state, sha, x->dir, sizeof(x->dir), x->err,
				 sizeof(x->err)),
		OSP_OK);
	snprintf(expect, sizeof(expect), "%s/releases/%s", x->state, sha);
	assert_string_equal(x->dir, expect);
	check_good_release(x->dir);
	assert_int_equal(ts_rel_count_sub(x, "releases"), 1);

	/* the source is gone: the second fetch is served from the cache */
	snprintf(url, sizeof(url), "%s/good.tgz", x->src);
	assert_int_equal(unlink(url), 0);
	snprintf(url, sizeof(url), "file://%s/good.tgz", x->src);
	assert_int_equal(agent_release_fetch(x->state, url, sha, x->err, sizeof(x->err)), OSP_OK);
	memset(x->dir, 0, sizeof(x->dir));
	assert_int_equal(agent_release_prepare(x->state, url, sha, x->dir, sizeof(x->dir), x->err,
				 sizeof(x->err)),
		OSP_OK);
	assert_string_equal(x->dir, expect);

	/* a buffer too small for the path is refused, not truncated */
	assert_int_equal(agent_release_unpack(x->state, sha, x->dir, 10, x->err, sizeof(x->err)),
		OSP_ETOOBIG);
}

static void test_agent_release_relative_state_dir(void **state)
{
	struct ts_rel_fx *x = *state;
	char sha[65], url[PATH_MAX], cwd[PATH_MAX], after[PATH_MAX], expect[PATH_MAX];

	ts_rel_src_archive(x, "good.tgz", good_ents, 8, sha, url, sizeof(url));
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(x->root), 0);
	osp_err rv = agent_release_prepare("state", url, sha, x->dir, sizeof(x->dir), x->err,
		sizeof(x->err));
	/* unpacking must not move the process's working directory */
	assert_non_null(getcwd(after, sizeof(after)));
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(rv, OSP_OK);
	assert_string_equal(after, x->root);
	snprintf(expect, sizeof(expect), "state/releases/%s", sha);
	assert_string_equal(x->dir, expect);
	snprintf(expect, sizeof(expect), "%s/state/releases/%s", x->root, sha);
	check_good_release(expect);
}

static void test_agent_release_fetch_sha_mismatch(void **state)
{
	struct ts_rel_fx *x = *state;
	char sha[65], url[PATH_MAX], want[600];
	const char *wrong = "0000000000000000000000000000000000000000000000000000000000000000";

	ts_rel_src_archive(x, "good.tgz", good_ents, 8, sha, url, sizeof(url));
	assert_int_equal(agent_release_fetch(x->state, url, wrong, x->err, sizeof(x->err)),
		OSP_ECHECKSUM);
	/* a file:// URL reads a host file: its digest is never shown */
	snprintf(want, sizeof(want),
		"sha256 mismatch: expected %s (the local file's own digest is not shown)", wrong);
	assert_string_equal(x->err, want);
	assert_null(strstr(x->err, sha));
	assert_int_equal(ts_rel_count_sub(x, "cache"), 0);
	assert_int_equal(agent_release_prepare(x->state, url, wrong, x->dir, sizeof(x->dir),
				 x->err, sizeof(x->err)),
		OSP_ECHECKSUM);
	assert_int_equal(ts_rel_count_sub(x, "cache"), 0);
	assert_int_equal(ts_rel_count_sub(x, "releases"), -1);
	assert_int_equal(agent_release_unpack(x->state, wrong, x->dir, sizeof(x->dir), x->err,
				 sizeof(x->err)),
		OSP_ENOENT);
}

static void test_agent_release_fetch_errors(void **state)
{
	struct ts_rel_fx *x = *state;
	char sha[65], url[PATH_MAX], path[PATH_MAX];
	agent_release_opts o = { .max_size = 10 };

	ts_rel_src_archive(x, "good.tgz", good_ents, 8, sha, url, sizeof(url));
	snprintf(path, sizeof(path), "file://%s/missing.tgz", x->src);
	assert_int_equal(agent_release_fetch(x->state, path, sha, x->err, sizeof(x->err)),
		OSP_ENOENT);
	assert_int_equal(agent_release_fetch(x->state, "gopher://127.0.0.1/x", sha, x->err,
				 sizeof(x->err)),
		OSP_EINVAL);
	assert_int_equal(agent_release_fetch(x->state, "", sha, x->err, sizeof(x->err)),
		OSP_EINVAL);
	assert_int_equal(agent_release_fetch_opts(x->state, url, sha, &o, x->err, sizeof(x->err)),
		OSP_ETOOBIG);
	assert_non_null(strstr(x->err, "above the limit of 10"));
	assert_int_equal(ts_rel_count_sub(x, "cache"), 0);
}

static void test_agent_release_fetch_corrupt_cache(void **state)
{
	struct ts_rel_fx *x = *state;
	char sha[65], url[PATH_MAX], cached[PATH_MAX], got[65];

	ts_rel_src_archive(x, "good.tgz", good_ents, 8, sha, url, sizeof(url));
	assert_int_equal(osp_mkdir_p(x->state, 0755), OSP_OK);
	snprintf(cached, sizeof(cached), "%s/cache", x->state);
	assert_int_equal(mkdir(cached, 0700), 0);
	snprintf(cached, sizeof(cached), "%s/cache/%s", x->state, sha);

	/* unpack hashes the cached file again and drops a corrupt one */
	assert_int_equal(osp_file_write_atomic(cached, "garbage", 7, 0600), OSP_OK);
	assert_int_equal(agent_release_unpack(x->state, sha, x->dir, sizeof(x->dir), x->err,
				 sizeof(x->err)),
		OSP_ECHECKSUM);
	assert_non_null(strstr(x->err, "corrupt"));
	assert_int_equal(ts_rel_count_sub(x, "cache"), 0);

	/* fetch replaces a corrupt copy */
	assert_int_equal(osp_file_write_atomic(cached, "garbage", 7, 0600), OSP_OK);
	assert_int_equal(agent_release_fetch(x->state, url, sha, x->err, sizeof(x->err)), OSP_OK);
	ts_rel_sha_file(cached, got);
	assert_string_equal(got, sha);
}

/* make_fake_release creates cache/<sha> and releases/<sha>/f with mtimes. */
static void make_fake_release(struct ts_rel_fx *x, const char *sha, time_t cache_t, time_t rel_t)
{
	char p[PATH_MAX];
	struct timespec ts[2];

	snprintf(p, sizeof(p), "%s/cache/%s", x->state, sha);
	assert_int_equal(osp_file_write_atomic(p, "x", 1, 0600), OSP_OK);
	ts[0].tv_sec = ts[1].tv_sec = cache_t;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
	snprintf(p, sizeof(p), "%s/releases/%s/sub", x->state, sha);
	assert_int_equal(osp_mkdir_p(p, 0755), OSP_OK);
	assert_int_equal(chmod(p, 0555), 0); /* read-only dirs are still deleted */
	snprintf(p, sizeof(p), "%s/releases/%s", x->state, sha);
	ts[0].tv_sec = ts[1].tv_sec = rel_t;
	assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
}

static bool has_release(struct ts_rel_fx *x, const char *sha)
{
	char p[PATH_MAX];
	bool c, r;

	snprintf(p, sizeof(p), "%s/cache", x->state);
	c = ts_rel_exists_at(p, sha);
	snprintf(p, sizeof(p), "%s/releases", x->state);
	r = ts_rel_exists_at(p, sha);
	assert_int_equal(c, r);
	return c;
}

static void test_agent_release_gc(void **state)
{
	struct ts_rel_fx *x = *state;
	char sha[6][65], p[PATH_MAX];
	const char *prot[1];
	const char *badprot[1] = { "nope" };

	snprintf(p, sizeof(p), "%s/cache", x->state);
	assert_int_equal(osp_mkdir_p(p, 0700), OSP_OK);
	for (int i = 0; i < 6; i++) {
		unsigned char d[32];
		char seed[8];
		snprintf(seed, sizeof(seed), "r%d", i);
		mbedtls_sha256_ret((const unsigned char *)seed, strlen(seed), d, 0);
		osp_hex_encode(d, sizeof(d), sha[i]);
		/* release i used at 1000+i; release 1's directory was used last */
		make_fake_release(x, sha[i], 1000 + i, i == 1 ? 5000 : 1000 + i);
	}
	snprintf(p, sizeof(p), "%s/cache/tmp-keepme", x->state);
	assert_int_equal(osp_file_write_atomic(p, "x", 1, 0600), OSP_OK);
	snprintf(p, sizeof(p), "%s/releases/not-a-sha", x->state);
	assert_int_equal(mkdir(p, 0755), 0);

	/* an invalid protected entry deletes nothing */
	assert_int_equal(agent_release_gc(x->state, 0, badprot, 1), OSP_EINVAL);
	assert_int_equal(ts_rel_count_sub(x, "releases"), 7);

	prot[0] = sha[0];
	assert_int_equal(agent_release_gc(x->state, 2, prot, 1), OSP_OK);
	assert_true(has_release(x, sha[0]));  /* protected, oldest */
	assert_true(has_release(x, sha[1]));  /* newest by its release dir */
	assert_true(has_release(x, sha[5]));  /* second newest */
	assert_false(has_release(x, sha[2]));
	assert_false(has_release(x, sha[3]));
	assert_false(has_release(x, sha[4]));
	assert_int_equal(ts_rel_count_sub(x, "cache"), 4);    /* 3 + tmp-keepme */
	assert_int_equal(ts_rel_count_sub(x, "releases"), 4); /* 3 + not-a-sha */

	/* keep nothing, protect nothing: every release goes, other names stay */
	assert_int_equal(agent_release_gc(x->state, 0, NULL, 0), OSP_OK);
	assert_int_equal(ts_rel_count_sub(x, "cache"), 1);
	assert_int_equal(ts_rel_count_sub(x, "releases"), 1);
}

static void test_agent_release_gc_touch_on_use(void **state)
{
	struct ts_rel_fx *x = *state;
	char sha_a[65], sha_b[65], url_a[PATH_MAX], url_b[PATH_MAX], p[PATH_MAX];
	const struct ts_rel_ent eb[] = { { "VERSION", 'f', "2\n", 0 } };
	struct timespec ts[2] = { { 1000, 0 }, { 1000, 0 } };

	ts_rel_src_archive(x, "a.tgz", good_ents, 8, sha_a, url_a, sizeof(url_a));
	ts_rel_src_archive(x, "b.tgz", eb, 1, sha_b, url_b, sizeof(url_b));
	assert_int_equal(agent_release_prepare(x->state, url_a, sha_a, x->dir, sizeof(x->dir),
				 x->err, sizeof(x->err)),
		OSP_OK);
	assert_int_equal(agent_release_prepare(x->state, url_b, sha_b, x->dir, sizeof(x->dir),
				 x->err, sizeof(x->err)),
		OSP_OK);
	/* age both, then use a again: a is the most recently used */
	const char *shas[2] = { sha_a, sha_b };
	for (int i = 0; i < 2; i++) {
		snprintf(p, sizeof(p), "%s/cache/%s", x->state, shas[i]);
		assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
		snprintf(p, sizeof(p), "%s/releases/%s", x->state, shas[i]);
		assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
	}
	assert_int_equal(agent_release_prepare(x->state, url_a, sha_a, x->dir, sizeof(x->dir),
				 x->err, sizeof(x->err)),
		OSP_OK);
	assert_int_equal(agent_release_gc(x->state, 1, NULL, 0), OSP_OK);
	assert_true(has_release(x, sha_a));
	assert_false(has_release(x, sha_b));
}

static void test_agent_release_clean_tmp(void **state)
{
	struct ts_rel_fx *x = *state;
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/cache", x->state);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/cache/tmp-abc123", x->state);
	assert_int_equal(osp_file_write_atomic(p, "partial", 7, 0600), OSP_OK);
	snprintf(p, sizeof(p), "%s/cache/keep", x->state);
	assert_int_equal(osp_file_write_atomic(p, "x", 1, 0600), OSP_OK);
	snprintf(p, sizeof(p), "%s/releases/.tmp-abc-XYZ/deep/er", x->state);
	assert_int_equal(osp_mkdir_p(p, 0755), OSP_OK);
	snprintf(p, sizeof(p), "%s/releases/keepdir", x->state);
	assert_int_equal(mkdir(p, 0755), 0);

	agent_release_clean_tmp(x->state);
	assert_false(ts_rel_exists_at(x->state, "cache/tmp-abc123"));
	assert_false(ts_rel_exists_at(x->state, "releases/.tmp-abc-XYZ"));
	assert_true(ts_rel_exists_at(x->state, "cache/keep"));
	assert_true(ts_rel_exists_at(x->state, "releases/keepdir"));
	agent_release_clean_tmp(x->root); /* no cache/ or releases/: nothing to do */
}

/* ---- a tiny http server on a thread ---- */

struct srv {
	int lfd;
	int port;
	volatile int stop;
	pthread_t th;
	const char *body; /* the archive */
	size_t body_len;
};

static void srv_reply(int fd, const char *head, const char *body, size_t blen)
{
	size_t off = 0, hl = strlen(head);

	while (off < hl) {
		ssize_t w = send(fd, head + off, hl - off, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		off += (size_t)w;
	}
	for (off = 0; off < blen;) {
		ssize_t w = send(fd, body + off, blen - off, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		off += (size_t)w;
	}
}

static void srv_handle(struct srv *s, int fd)
{
	char req[4096], head[256], path[256] = "";

	(void)ts_recv_head(fd, req, sizeof(req)); /* a cut request gets its answer too */
	sscanf(req, "GET %255s", path);
	if (strcmp(path, "/good.tgz") == 0) {
		snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n"
			"Connection: close\r\n\r\n", s->body_len);
		srv_reply(fd, head, s->body, s->body_len);
	} else if (strcmp(path, "/nolen.tgz") == 0) {
		srv_reply(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", s->body,
			s->body_len);
	} else if (strcmp(path, "/redirect") == 0) {
		srv_reply(fd, "HTTP/1.1 302 Found\r\nLocation: /good.tgz\r\nContent-Length: 0\r\n"
			"Connection: close\r\n\r\n", "", 0);
	} else if (strcmp(path, "/tofile") == 0) {
		srv_reply(fd, "HTTP/1.1 302 Found\r\nLocation: file:///etc/hostname\r\n"
			"Content-Length: 0\r\nConnection: close\r\n\r\n", "", 0);
	} else if (strcmp(path, "/loop") == 0) {
		srv_reply(fd, "HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\n"
			"Connection: close\r\n\r\n", "", 0);
	} else {
		srv_reply(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
			"Connection: close\r\n\r\n", "", 0);
	}
}

static void *srv_main(void *arg)
{
	struct srv *s = arg;

	while (!s->stop) {
		int fd = accept(s->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		if (!s->stop)
			srv_handle(s, fd);
		close(fd);
	}
	return NULL;
}

static void srv_start(struct srv *s)
{
	unsigned port;

	s->lfd = ts_bind_loopback(&port);
	assert_int_equal(listen(s->lfd, 16), 0);
	s->port = (int)port;
	assert_int_equal(pthread_create(&s->th, NULL, srv_main, s), 0);
}

static void srv_stop(struct srv *s)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	s->stop = 1;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)s->port);
	if (fd >= 0) { /* wake the accept */
		(void)connect(fd, (struct sockaddr *)&sa, sizeof(sa));
		close(fd);
	}
	pthread_join(s->th, NULL);
	close(s->lfd);
}

static void test_agent_release_fetch_http(void **state)
{
	struct ts_rel_fx *x = *state;
	struct srv s = { .lfd = -1 };
	char sha[65], path[PATH_MAX], url[PATH_MAX], *body;
	size_t blen;
	agent_release_opts o = { 0 };

	ts_rel_src_archive(x, "good.tgz", good_ents, 8, sha, NULL, 0);
	snprintf(path, sizeof(path), "%s/good.tgz", x->src);
	assert_int_equal(osp_file_read(path, 1 << 20, &body, &blen), OSP_OK);
	s.body = body;
	s.body_len = blen;
	srv_start(&s);

	snprintf(url, sizeof(url), "http://user:secret@127.0.0.1:%d/missing?token=abc", s.port);
	assert_int_equal(agent_release_fetch(x->state, url, sha, x->err, sizeof(x->err)),
		OSP_ENET);
	snprintf(path, sizeof(path), "fetch 'http://127.0.0.1:%d/missing?token=REDACTED': "
		"HTTP status 404", s.port);
	assert_string_equal(x->err, path); /* no password, no token */

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/tofile", s.port);
	assert_int_not_equal(agent_release_fetch(x->state, url, sha, x->err, sizeof(x->err)),
		OSP_OK);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/loop", s.port);
	assert_int_equal(agent_release_fetch(x->state, url, sha, x->err, sizeof(x->err)),
		OSP_ENET);

	/* size unknown in advance: the free-space minimum applies */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/nolen.tgz", s.port);
	o.min_free = UINT64_MAX / 2;
	assert_int_equal(agent_release_fetch_opts(x->state, url, sha, &o, x->err, sizeof(x->err)),
		OSP_EIO);
	assert_non_null(strstr(x->err, "not enough free space"));
	o.min_free = 0;
	o.max_size = 100;
	assert_int_equal(agent_release_fetch_opts(x->state, url, sha, &o, x->err, sizeof(x->err)),
		OSP_ETOOBIG);
	assert_non_null(strstr(x->err, "larger than the limit of 100 bytes"));
	assert_int_equal(ts_rel_count_sub(x, "cache"), 0);

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/redirect", s.port);
	assert_int_equal(agent_release_prepare(x->state, url, sha, x->dir, sizeof(x->dir), x->err,
				 sizeof(x->err)),
		OSP_OK);
	check_good_release(x->dir);
	srv_stop(&s);
	free(body);
}

struct par {
	struct ts_rel_fx *x;
	const char *url;
	const char *sha;
	osp_err rv;
	char dir[PATH_MAX];
	char err[256];
};

static void *par_main(void *arg)
{
	struct par *p = arg;

	p->rv = agent_release_prepare(p->x->state, p->url, p->sha, p->dir, sizeof(p->dir), p->err,
		sizeof(p->err));
	return NULL;
}

static void test_agent_release_prepare_concurrent(void **state)
{
	struct ts_rel_fx *x = *state;
	char sha[65], url[PATH_MAX];
	struct par p[4];
	pthread_t th[4];

	ts_rel_src_archive(x, "good.tgz", good_ents, 8, sha, url, sizeof(url));
	for (int i = 0; i < 4; i++) {
		p[i] = (struct par){ .x = x, .url = url, .sha = sha };
		assert_int_equal(pthread_create(&th[i], NULL, par_main, &p[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(p[i].rv, OSP_OK);
		assert_string_equal(p[i].dir, p[0].dir);
	}
	check_good_release(p[0].dir);
	assert_int_equal(ts_rel_count_sub(x, "releases"), 1);
	assert_int_equal(ts_rel_count_sub(x, "cache"), 1);
}

#define FX_TEST(f) cmocka_unit_test_setup_teardown(f, ts_rel_setup, ts_rel_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(test_agent_release_sha_invalid),
		FX_TEST(test_agent_release_fetch_file_cached),
		FX_TEST(test_agent_release_relative_state_dir),
		FX_TEST(test_agent_release_fetch_sha_mismatch),
		FX_TEST(test_agent_release_fetch_errors),
		FX_TEST(test_agent_release_fetch_corrupt_cache),
		FX_TEST(test_agent_release_gc),
		FX_TEST(test_agent_release_gc_touch_on_use),
		FX_TEST(test_agent_release_clean_tmp),
		FX_TEST(test_agent_release_fetch_http),
		FX_TEST(test_agent_release_prepare_concurrent),
	};

	osp_log_setup(OSP_LOG_ERROR, OSP_LOG_TEXT, "test_agent_release", NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
