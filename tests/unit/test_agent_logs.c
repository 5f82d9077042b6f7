/*
 * test_agent_logs.c - the agent's reads of an app's captured output for
 * `ospecctl logs` (node-agent/agent_logs.c): the last N lines (with the
 * rotated .1 file), reads after an offset, rotation and truncation, the
 * bounds (lines, bytes, whole lines), NUL bytes and the redaction of the
 * app's env_file values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent_logs.h"
#include "ospec/util.h"
#include "test_support.h"

#define SECRET "s3cr3t-VALUE-4f7b9e2a"

typedef struct tl {
	char dir[256];
	char out[400], err[400];
	agent_log_stream *s;
	agent_log_answer *ans;
} tl;

static int tl_setup(void **state)
{
	tl *t = calloc(1, sizeof(*t));
	char logs[300];

	assert_non_null(t);
	ts_mkdtemp(t->dir, sizeof(t->dir), "/tmp/ospec-test-logs-XXXXXX");
	snprintf(logs, sizeof(logs), "%s/logs", t->dir);
	assert_int_equal(mkdir(logs, 0750), 0);
	snprintf(t->out, sizeof(t->out), "%s/hello.main.out", logs);
	snprintf(t->err, sizeof(t->err), "%s/hello.main.err", logs);
	t->s = malloc(sizeof(*t->s));
	t->ans = malloc(sizeof(*t->ans));
	assert_non_null(t->s);
	assert_non_null(t->ans);
	*state = t;
	return 0;
}

static int tl_teardown(void **state)
{
	tl *t = *state;

	ts_rmtree(t->dir);
	free(t->s);
	free(t->ans);
	free(t);
	return 0;
}

/* tl_write writes len bytes of text to path (truncating it). */
static void tl_write(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void tl_puts(const char *path, const char *text)
{
	tl_write(path, text, strlen(text));
}

/* tl_lines writes lines "<prefix> <i>\n" for i in from..to-1. */
static void tl_lines(const char *path, const char *prefix, int from, int to)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	for (int i = from; i < to; i++)
		fprintf(f, "%s %d\n", prefix, i);
	assert_int_equal(fclose(f), 0);
}

static void test_agent_logs_tail(void **state)
{
	tl *t = *state;

	tl_puts(t->out, "one\ntwo\nthree\nfour\n");
	assert_int_equal(agent_logs_tail_file(t->out, 2, t->s), OSP_OK);
	assert_string_equal(t->s->data, "three\nfour\n");
	assert_int_equal(t->s->next, 19); /* the file's size: a follow starts there */
	assert_true(t->s->found);
	assert_int_equal(agent_logs_tail_file(t->out, 10, t->s), OSP_OK);
	assert_string_equal(t->s->data, "one\ntwo\nthree\nfour\n");

	/* a last line still being written counts as one, and is shown */
	tl_puts(t->out, "one\ntwo\nthr");
	assert_int_equal(agent_logs_tail_file(t->out, 2, t->s), OSP_OK);
	assert_string_equal(t->s->data, "two\nthr");
	assert_int_equal(t->s->next, 11);

	/* fewer lines than asked: the rotated file's last ones come first */
	tl_puts(t->out, "new 1\nnew 2\n");
	{
		char old[420];
		snprintf(old, sizeof(old), "%s.1", t->out);
		tl_puts(old, "old 1\nold 2\nold 3"); /* cut without its newline */
		assert_int_equal(agent_logs_tail_file(t->out, 4, t->s), OSP_OK);
		assert_string_equal(t->s->data, "old 2\nold 3\nnew 1\nnew 2\n");
		assert_int_equal(t->s->next, 12); /* offsets are the current file's */
		/* only the rotated file left (the app wrote nothing since) */
		unlink(t->out);
		assert_int_equal(agent_logs_tail_file(t->out, 2, t->s), OSP_OK);
		assert_string_equal(t->s->data, "old 2\nold 3\n");
		assert_int_equal(t->s->next, 0);
		assert_true(t->s->found);
		unlink(old);
	}
	/* nothing at all */
	assert_int_equal(agent_logs_tail_file(t->out, 2, t->s), OSP_OK);
	assert_false(t->s->found);
	assert_int_equal(t->s->len, 0);
}

static void test_agent_logs_tail_bounds(void **state)
{
	tl *t = *state;
	char want[64];

	/* at most OSP_WIRE_MAX_LOG_LINES lines, whatever is asked */
	tl_lines(t->out, "l", 0, 3000);
	assert_int_equal(agent_logs_tail_file(t->out, 5000, t->s), OSP_OK);
	assert_true(t->s->len <= OSP_WIRE_LOG_READ);
	assert_int_equal(strncmp(t->s->data, "l 2000\n", 7), 0);
	snprintf(want, sizeof(want), "l 2999\n");
	assert_string_equal(t->s->data + t->s->len - strlen(want), want);

	/* at most OSP_WIRE_LOG_READ bytes: the newest whole lines */
	tl_lines(t->out, "a rather long line of output, to fill the read budget quickly", 0,
		1000);
	assert_int_equal(agent_logs_tail_file(t->out, 1000, t->s), OSP_OK);
	assert_true(t->s->len <= OSP_WIRE_LOG_READ);
	assert_true(t->s->len > OSP_WIRE_LOG_READ - 100);
	assert_int_equal(strncmp(t->s->data, "a rather long line", 18), 0); /* never a cut line */
	assert_int_equal(t->s->data[t->s->len - 1], '\n');
	assert_non_null(strstr(t->s->data, " 999\n"));
}

static void test_agent_logs_after(void **state)
{
	tl *t = *state;
	char big[OSP_WIRE_LOG_READ + 64];

	tl_puts(t->out, "one\ntwo\n");
	assert_int_equal(agent_logs_after_file(t->out, 4, t->s), OSP_OK);
	assert_string_equal(t->s->data, "two\n");
	assert_int_equal(t->s->next, 8);
	assert_false(t->s->reset);
	assert_false(t->s->more);
	/* nothing new */
	assert_int_equal(agent_logs_after_file(t->out, 8, t->s), OSP_OK);
	assert_int_equal(t->s->len, 0);
	assert_int_equal(t->s->next, 8);

	/* rotated (copied and truncated): shorter than the offset, read from 0 */
	tl_puts(t->out, "x\n");
	assert_int_equal(agent_logs_after_file(t->out, 8, t->s), OSP_OK);
	assert_true(t->s->reset);
	assert_string_equal(t->s->data, "x\n");
	assert_int_equal(t->s->next, 2);
	/* gone: what comes next starts at 0 */
	unlink(t->out);
	assert_int_equal(agent_logs_after_file(t->out, 2, t->s), OSP_OK);
	assert_true(t->s->reset);
	assert_int_equal(t->s->next, 0);
	assert_int_equal(agent_logs_after_file(t->out, 0, t->s), OSP_OK);
	assert_false(t->s->reset);

	/* more than one read: cut after the last whole line, the rest next */
	memset(big, 'b', sizeof(big));
	big[99] = '\n';
	big[OSP_WIRE_LOG_READ - 10] = '\n';
	big[sizeof(big) - 1] = '\n';
	tl_write(t->out, big, sizeof(big));
	assert_int_equal(agent_logs_after_file(t->out, 0, t->s), OSP_OK);
	assert_true(t->s->more);
	assert_int_equal(t->s->len, OSP_WIRE_LOG_READ - 9);
	assert_int_equal(t->s->next, OSP_WIRE_LOG_READ - 9);
	assert_int_equal(agent_logs_after_file(t->out, t->s->next, t->s), OSP_OK);
	assert_false(t->s->more);
	assert_int_equal(t->s->next, sizeof(big));
	/* one line longer than a read: cut inside it rather than never move */
	memset(big, 'c', sizeof(big));
	tl_write(t->out, big, sizeof(big));
	assert_int_equal(agent_logs_after_file(t->out, 0, t->s), OSP_OK);
	assert_true(t->s->more);
	assert_int_equal(t->s->next, OSP_WIRE_LOG_READ);
}

static void test_agent_logs_read(void **state)
{
	tl *t = *state;
	char env[300];
	agent_log_query q = { .app = "hello", .lines = 10 };

	tl_puts(t->out, "hello 1.0 listening on port 8080\n");
	tl_write(t->err, "warn: nul\0here\n", 15);
	assert_int_equal(agent_logs_read(t->dir, &q, t->ans), OSP_OK);
	assert_string_equal(t->ans->error, "");
	assert_string_equal(t->ans->out.data, "hello 1.0 listening on port 8080\n");
	assert_string_equal(t->ans->err.data, "warn: nul?here\n"); /* a NUL would cut the text */
	assert_int_equal(t->ans->out.next, 33);
	assert_int_equal(t->ans->err.next, 15);

	/* follow: after the offsets */
	tl_puts(t->out, "hello 1.0 listening on port 8080\nGET /\n");
	q.follow = true;
	q.out_offset = 33;
	q.err_offset = 15;
	assert_int_equal(agent_logs_read(t->dir, &q, t->ans), OSP_OK);
	assert_string_equal(t->ans->out.data, "GET /\n");
	assert_int_equal(t->ans->err.len, 0);
	assert_int_equal(t->ans->out.next, 39);

	/* the env_file's values never leave the node */
	snprintf(env, sizeof(env), "%s/hello.env", t->dir);
	tl_puts(env, "DB_PASSWORD=" SECRET "\nSHORT=abc\n");
	tl_puts(t->out, "config: DB_PASSWORD=" SECRET " SHORT=abc\n");
	tl_puts(t->err, "connecting with " SECRET "\n");
	q.follow = false;
	q.env_file = env;
	assert_int_equal(agent_logs_read(t->dir, &q, t->ans), OSP_OK);
	assert_string_equal(t->ans->out.data, "config: DB_PASSWORD=[redacted] SHORT=abc\n");
	assert_string_equal(t->ans->err.data, "connecting with [redacted]\n");
	assert_int_equal(t->ans->out.len, strlen(t->ans->out.data));
	/* ... also in a follow read */
	tl_puts(t->out, "x\nagain " SECRET "\n");
	q.follow = true;
	q.out_offset = 2;
	assert_int_equal(agent_logs_read(t->dir, &q, t->ans), OSP_OK);
	assert_string_equal(t->ans->out.data, "again [redacted]\n");
	/* an env file that cannot be read: nothing is shown */
	snprintf(env, sizeof(env), "%s/no-such.env", t->dir);
	assert_int_equal(agent_logs_read(t->dir, &q, t->ans), OSP_OK);
	ts_assert_has(t->ans->error, "cannot be redacted");
	assert_int_equal(t->ans->out.len, 0);
	assert_null(strstr(t->ans->out.data, SECRET));

	/* an app or slot without output */
	q.env_file = NULL;
	q.follow = false;
	q.slot = "green";
	assert_int_equal(agent_logs_read(t->dir, &q, t->ans), OSP_OK);
	assert_true(t->ans->not_found);
	ts_assert_has(t->ans->error, "no captured output of app 'hello' slot 'green'");
	/* names never become paths of their own */
	q.slot = "../main";
	assert_int_equal(agent_logs_read(t->dir, &q, t->ans), OSP_EINVAL);
	q.slot = NULL;
	q.app = "../hello";
	assert_int_equal(agent_logs_read(t->dir, &q, t->ans), OSP_EINVAL);
}

/* A mark is longer than the value it replaces: a read full of short
 * secrets still fits the wire's limit. */
static void test_agent_logs_redact_bound(void **state)
{
	tl *t = *state;
	char env[300], *text = malloc(OSP_WIRE_LOG_READ + 1);
	agent_log_query q = { .app = "hello", .lines = 1000, .follow = true };

	assert_non_null(text);
	snprintf(env, sizeof(env), "%s/hello.env", t->dir);
	tl_puts(env, "K=abcd\n");
	q.env_file = env;
	for (size_t i = 0; i < OSP_WIRE_LOG_READ; i++)
		text[i] = (i % 64 == 63) ? '\n' : "abcd"[i % 4];
	tl_write(t->out, text, OSP_WIRE_LOG_READ);
	assert_int_equal(agent_logs_read(t->dir, &q, t->ans), OSP_OK);
	assert_string_equal(t->ans->error, "");
	assert_true(t->ans->out.len <= OSP_WIRE_MAX_LOG_DATA);
	assert_null(strstr(t->ans->out.data, "abcd"));
	assert_non_null(strstr(t->ans->out.data, "[redacted][redacted]"));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_agent_logs_tail, tl_setup, tl_teardown),
		cmocka_unit_test_setup_teardown(test_agent_logs_tail_bounds, tl_setup, tl_teardown),
		cmocka_unit_test_setup_teardown(test_agent_logs_after, tl_setup, tl_teardown),
		cmocka_unit_test_setup_teardown(test_agent_logs_read, tl_setup, tl_teardown),
		cmocka_unit_test_setup_teardown(test_agent_logs_redact_bound, tl_setup,
			tl_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
