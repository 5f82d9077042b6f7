/*
 * test_support.h - helpers shared by the unit tests (tests/unit/test_*.c):
 * temp dirs, loopback ports, a plain HTTP GET against the sample app, its
 * artifacts, and the cleanup of processes a failed test left behind.
 *
 * The helpers fail the running cmocka test (fail_msg, assert_*) when the
 * test's own setup goes wrong, so they may only be called from a test, a
 * setup or a teardown. Built once as the static library ospec_test_support
 * (tests/CMakeLists.txt) and linked into every unit test, as are
 * test_support_agent.h (the agent's command dispatcher) and
 * test_support_rollout.h (the coordinator's rollout state machine).
 */
#ifndef TEST_SUPPORT_H
#define TEST_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TS_SHA256_LEN 64 /* hex digits of a release digest */

/* ts_mkdtemp copies tmpl (a path ending in "XXXXXX") into dir (len bytes)
 * and creates that directory with mkdtemp; fails the test when it does not
 * fit or cannot be created. The caller removes it (ts_rmtree). */
void ts_mkdtemp(char *dir, size_t len, const char *tmpl);

/* ts_rmtree removes path and everything below it, not following symlinks.
 * Returns 0 when all went, else nftw's -1 or remove's result; never fails
 * the test (teardowns call it on half-made fixtures). */
int ts_rmtree(const char *path);

/* ts_bind_loopback returns a TCP socket (close-on-exec) bound to a port the
 * kernel chose on 127.0.0.1, not yet listening; *port is that port. The
 * caller closes it. */
int ts_bind_loopback(unsigned *port);

/* ts_free_port returns a TCP port on 127.0.0.1 that was free a moment ago. */
unsigned ts_free_port(void);

/* ts_recv_head reads an HTTP request head from fd into buf (cap >= 2
 * bytes, NUL-terminated) until its blank line or until buf is full: what a
 * test's little HTTP server does first. Returns false when the peer closed
 * or failed first (buf holds what came). */
bool ts_recv_head(int fd, char *buf, size_t cap);

/* ts_http_get GETs / on 127.0.0.1:port (10 s receive timeout) and copies
 * the response body, trailing newlines cut, into body (len bytes, cut to
 * fit). Returns false (body "") when nothing answered with HTTP/1.x. */
bool ts_http_get(unsigned port, char *body, size_t len);

/* ts_answers reports whether anything answers a GET on port. */
bool ts_answers(unsigned port);

/* ts_assert_answers fails the test unless the sample app on port answers
 * GET / with want (its version). */
void ts_assert_answers(unsigned port, const char *want);

/* ts_wait_answers polls port every 100 ms for up to wait_ms until the app
 * answers want; returns whether it did. */
bool ts_wait_answers(unsigned port, const char *want, int64_t wait_ms);

/* ts_hello_artifact fills url (file://...) and sha (the 64 hex digits, sha
 * needs TS_SHA256_LEN + 1 bytes) of the sample app's release
 * <build>/artifacts/hello-v.tar.gz; fails the test when the hello_artifacts
 * target was not built. */
void ts_hello_artifact(int v, char *url, size_t urllen, char *sha, size_t shalen);

/* ts_kill_pidfiles kills (SIGKILL) the process group of every pid named by
 * a runner pidfile in state/run that still leads its group, then reaps the
 * children of this process that exited; nothing for an empty state. For
 * teardowns after a failed test. */
void ts_kill_pidfiles(const char *state);

/* ts_kill_wait kills pid's process group behind the runner's back and waits
 * up to wait_ms until pid is gone (reaped if it is this process's child);
 * fails the test if it is not. */
void ts_kill_wait(pid_t pid, int64_t wait_ms);

/* ts_assert_has fails the test unless text contains needle; the message
 * shows both ("message '<text>' lacks '<needle>'"). */
void ts_assert_has(const char *text, const char *needle);

#endif
