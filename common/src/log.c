/* log.c - leveled logging with stable message ids, text or JSON lines. */
#include "ospec/log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <string.h>

#include "ospec/util.h"

_Atomic osp_log_level osp_log_min_level = OSP_LOG_INFO;

static osp_log_format osp_log_fmt = OSP_LOG_TEXT;
static const char *osp_log_prog = "ospec";
static FILE *osp_log_out;
static pthread_mutex_t osp_log_mtx = PTHREAD_MUTEX_INITIALIZER;
static const char *const osp_log_names[] = { "debug", "info", "warn", "error" };

void osp_log_setup(osp_log_level level, osp_log_format fmt, const char *prog, FILE *out)
{
	osp_log_min_level = level;
	osp_log_fmt = fmt;
	if (prog != NULL)
		osp_log_prog = prog;
	osp_log_out = out;
}

void osp_log_set_level(osp_log_level level)
{
	atomic_store(&osp_log_min_level, level);
}

const char *osp_log_level_name(osp_log_level level)
{
	return (unsigned)level <= (unsigned)OSP_LOG_ERROR ? osp_log_names[level] : "?";
}

int osp_log_level_parse(const char *s, osp_log_level *out)
{
	for (int i = 0; i < 4; i++) {
		if (strcmp(s, osp_log_names[i]) == 0) {
			*out = (osp_log_level)i;
			return 0;
		}
	}
	return -1;
}

int osp_log_format_parse(const char *s, osp_log_format *out)
{
	if (strcmp(s, "text") == 0)
		*out = OSP_LOG_TEXT;
	else if (strcmp(s, "json") == 0)
		*out = OSP_LOG_JSON;
	else
		return -1;
	return 0;
}

/* osp_log_json_str appends s as a JSON string body (escaped) to b. */
static void osp_log_json_str(osp_buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			osp_buf_printf(b, "\\%c", c);
		else if (c < 0x20)
			osp_buf_printf(b, "\\u%04x", c);
		else
			osp_buf_append(b, s, 1);
	}
}

void osp_log_write(osp_log_level level, const char *id, const char *fmt, ...)
{
	char msg[2048], ts[40];
	va_list ap;
	osp_buf line;
	FILE *out = osp_log_out ? osp_log_out : stderr;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* keep one message on one line whatever it carries */
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	osp_time_fmt(osp_now_wall_ms(), ts, sizeof(ts));
	osp_buf_init(&line, 8192);
	if (osp_log_fmt == OSP_LOG_JSON) {
		osp_buf_printf(&line, "{\"ts\":\"%s\",\"level\":\"%s\",\"prog\":\"", ts,
			osp_log_names[level]);
		osp_log_json_str(&line, osp_log_prog);
		osp_buf_puts(&line, "\",\"id\":\"");
		osp_log_json_str(&line, id);
		osp_buf_puts(&line, "\",\"msg\":\"");
		osp_log_json_str(&line, msg);
		osp_buf_puts(&line, "\"}\n");
	} else {
		osp_buf_printf(&line, "%s %s %-5s %s %s\n", ts, osp_log_prog,
			osp_log_names[level], id, msg);
	}
	pthread_mutex_lock(&osp_log_mtx);
	if (line.data != NULL)
		fwrite(line.data, 1, line.len, out);
	fflush(out);
	pthread_mutex_unlock(&osp_log_mtx);
	osp_buf_fini(&line);
}
