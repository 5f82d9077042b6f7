/*
 * log.h - leveled logging with stable message ids, text or JSON lines.
 *
 * OSP_LOG checks the level before evaluating its arguments. Messages are
 * lowercase, without a full stop, subjects quoted. Secrets are never logged.
 */
#ifndef OSPEC_LOG_H
#define OSPEC_LOG_H

#include <stdio.h>

typedef enum osp_log_level {
	OSP_LOG_DEBUG = 0,
	OSP_LOG_INFO,
	OSP_LOG_WARN,
	OSP_LOG_ERROR,
} osp_log_level;

typedef enum osp_log_format {
	OSP_LOG_TEXT = 0,
	OSP_LOG_JSON,
} osp_log_format;

/* Read by OSP_LOG in every thread; osp_log_set_level changes it at run time
 * (SIGHUP: docs/systemd.md), hence atomic. */
extern _Atomic osp_log_level osp_log_min_level;

/* osp_log_setup sets the minimum level, the format, the program name and the
 * stream (NULL means stderr). Not thread-safe; call before starting threads. */
void osp_log_setup(osp_log_level level, osp_log_format fmt, const char *prog, FILE *out);

/* osp_log_set_level changes the minimum level while threads log (a reload);
 * thread-safe. */
void osp_log_set_level(osp_log_level level);

/* osp_log_level_name returns "debug", "info", "warn" or "error". */
const char *osp_log_level_name(osp_log_level level);

/* osp_log_level_parse parses "debug|info|warn|error". Returns 0 or -1. */
int osp_log_level_parse(const char *s, osp_log_level *out);

/* osp_log_format_parse parses "text|json". Returns 0 or -1. */
int osp_log_format_parse(const char *s, osp_log_format *out);

/* osp_log_write writes one line; use OSP_LOG instead. Thread-safe. */
void osp_log_write(osp_log_level level, const char *id, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define OSP_LOG(level, id, ...)                                  \
	do {                                                     \
		if ((level) >= osp_log_min_level)                \
			osp_log_write((level), (id), __VA_ARGS__); \
	} while (0)

#define OSP_DEBUG(id, ...) OSP_LOG(OSP_LOG_DEBUG, id, __VA_ARGS__)
#define OSP_INFO(id, ...) OSP_LOG(OSP_LOG_INFO, id, __VA_ARGS__)
#define OSP_WARN(id, ...) OSP_LOG(OSP_LOG_WARN, id, __VA_ARGS__)
#define OSP_ERROR(id, ...) OSP_LOG(OSP_LOG_ERROR, id, __VA_ARGS__)

#endif
