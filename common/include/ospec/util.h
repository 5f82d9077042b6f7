/*
 * util.h - small helpers shared by every program: time, durations and sizes,
 * bounded strings, a growable buffer with a cap, ids, files and locks.
 */
#ifndef OSPEC_UTIL_H
#define OSPEC_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ospec/err.h"

#define OSP_UUID_LEN 36 /* text form without the NUL */

/* osp_now_mono_ms returns the monotonic clock in milliseconds. */
int64_t osp_now_mono_ms(void);

/* osp_now_wall_ms returns the wall clock in milliseconds since the epoch. */
int64_t osp_now_wall_ms(void);

/* osp_sleep_ms sleeps for ms milliseconds (restarting after signals). */
void osp_sleep_ms(int64_t ms);

/* osp_duration_parse parses "500ms", "30s", "5m", "1h" (or a bare number of
 * seconds) into milliseconds. Returns OSP_EINVAL for anything else. */
osp_err osp_duration_parse(const char *s, int64_t *ms);

/* osp_duration_fmt writes ms in the shortest exact unit ("1500ms", "30s"). */
void osp_duration_fmt(int64_t ms, char *buf, size_t len);

/* osp_size_parse parses "64KiB", "4MiB", "1GiB" or bytes into *bytes. */
osp_err osp_size_parse(const char *s, uint64_t *bytes);

/* osp_u64_parse parses a decimal unsigned integer in [min, max]. */
osp_err osp_u64_parse(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* osp_time_fmt writes wall-clock ms as RFC 3339 UTC with milliseconds. */
void osp_time_fmt(int64_t wall_ms, char *buf, size_t len);

/* osp_strlcpy copies at most len-1 bytes and NUL-terminates; returns
 * strlen(src) so truncation shows as a result >= len. */
size_t osp_strlcpy(char *dst, const char *src, size_t len);

/* osp_str_show copies s (NULL: "") into buf (len bytes) for an error message:
 * a newline becomes \n, a tab \t, a carriage return \r, any other control
 * byte \xNN, so what someone typed cannot start a line of its own; cut with
 * "..." when it does not fit. Returns buf. */
char *osp_str_show(const char *s, char *buf, size_t len);

/* osp_strdup_n duplicates at most max bytes of s; NULL on allocation failure. */
char *osp_strdup_n(const char *s, size_t max);

/* osp_random_bytes fills buf from getrandom(2). */
osp_err osp_random_bytes(void *buf, size_t len);

/* osp_uuid_new writes a random (v4) UUID in text form; buf >= 37 bytes. */
osp_err osp_uuid_new(char *buf);

/* osp_hex_encode writes 2*len hex digits plus NUL into out. */
void osp_hex_encode(const uint8_t *in, size_t len, char *out);

/*
 * osp_buf: a growable byte buffer with a hard cap (curl's dynbuf "toobig").
 * Always NUL-terminated when len > 0. osp_buf_fini frees; accepts zeroed memory.
 */
typedef struct osp_buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max; /* 0 means 64 MiB */
} osp_buf;

void osp_buf_init(osp_buf *b, size_t max);
void osp_buf_fini(osp_buf *b);
void osp_buf_reset(osp_buf *b);
osp_err osp_buf_append(osp_buf *b, const void *data, size_t len);
osp_err osp_buf_puts(osp_buf *b, const char *s);
osp_err osp_buf_printf(osp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * osp_fixbuf: writes into a caller's fixed buffer p of len (> 0) bytes, always
 * NUL-terminated; what does not fit is cut and, once cut, nothing more is
 * added (cut says so). For redacted copies that must never overflow.
 */
typedef struct osp_fixbuf {
	char *p;
	size_t len; /* bytes of p, > 0 */
	size_t n;   /* bytes written, without the NUL */
	bool cut;
} osp_fixbuf;

void osp_fixbuf_put(osp_fixbuf *o, const char *s, size_t n);

/* osp_mkdir_p creates dir and its parents with mode. */
osp_err osp_mkdir_p(const char *dir, unsigned mode);

/* osp_dir_lock takes an exclusive flock on DIR/lockname (created 0600), without
 * blocking. Returns OSP_ELOCKED if another process holds it; *fd is the lock. */
osp_err osp_dir_lock(const char *dir, const char *lockname, int *fd);

/* osp_file_read reads a whole regular file of at most max bytes into a
 * NUL-terminated heap buffer (*data, *len). The caller frees *data. It never
 * blocks: opened O_NONBLOCK and refused unless fstat says regular file
 * (OSP_EINVAL for a FIFO, device or directory; OSP_ENOENT, OSP_EIO,
 * OSP_ETOOBIG past max). */
osp_err osp_file_read(const char *path, size_t max, char **data, size_t *len);

/* osp_file_write_atomic writes data to path via a temp file, fsync and rename. */
osp_err osp_file_write_atomic(const char *path, const void *data, size_t len, unsigned mode);

/* osp_valid_id reports whether s is a valid node/app id: 1..63 characters of
 * [A-Za-z0-9._-], starting with an alphanumeric. */
bool osp_valid_id(const char *s);

/* osp_valid_label reports whether key and value are valid label parts: key as
 * osp_valid_id (plus '/'), value 0..63 printable characters without ',' '='. */
bool osp_valid_label(const char *key, const char *value);

#endif
