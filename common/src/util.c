/* util.c - time, durations, sizes, strings, buffers, ids, files and locks. */
#include "ospec/util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int64_t osp_now_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t osp_now_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void osp_sleep_ms(int64_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* osp_num_prefix parses leading digits of s into *v; returns the rest or NULL. */
static const char *osp_num_prefix(const char *s, uint64_t *v)
{
	uint64_t n = 0;

	if (!isdigit((unsigned char)*s))
		return NULL;
	while (isdigit((unsigned char)*s)) {
		uint64_t d = (uint64_t)(*s - '0');
		if (n > (UINT64_MAX - d) / 10)
			return NULL;
		n = n * 10 + d;
		s++;
	}
	*v = n;
	return s;
}

osp_err osp_duration_parse(const char *s, int64_t *ms)
{
	uint64_t n, mult;
	const char *rest;

	if (s == NULL || (rest = osp_num_prefix(s, &n)) == NULL)
		return OSP_EINVAL;
	if (strcmp(rest, "ms") == 0)
		mult = 1;
	else if (strcmp(rest, "s") == 0 || *rest == '\0')
		mult = 1000;
	else if (strcmp(rest, "m") == 0)
		mult = 60000;
	else if (strcmp(rest, "h") == 0)
		mult = 3600000;
	else
		return OSP_EINVAL;
	if (n > (uint64_t)INT64_MAX / mult / 1000)
		return OSP_EINVAL;
	*ms = (int64_t)(n * mult);
	return OSP_OK;
}

void osp_duration_fmt(int64_t ms, char *buf, size_t len)
{
	if (ms != 0 && ms % 3600000 == 0)
		snprintf(buf, len, "%lldh", (long long)(ms / 3600000));
	else if (ms != 0 && ms % 60000 == 0)
		snprintf(buf, len, "%lldm", (long long)(ms / 60000));
	else if (ms % 1000 == 0)
		snprintf(buf, len, "%llds", (long long)(ms / 1000));
	else
		snprintf(buf, len, "%lldms", (long long)ms);
}

osp_err osp_size_parse(const char *s, uint64_t *bytes)
{
	uint64_t n, mult;
	const char *rest;

	if (s == NULL || (rest = osp_num_prefix(s, &n)) == NULL)
		return OSP_EINVAL;
	if (*rest == '\0' || strcmp(rest, "B") == 0)
		mult = 1;
	else if (strcmp(rest, "KiB") == 0)
		mult = 1024;
	else if (strcmp(rest, "MiB") == 0)
		mult = 1024 * 1024;
	else if (strcmp(rest, "GiB") == 0)
		mult = 1024ULL * 1024 * 1024;
	else if (strcmp(rest, "TiB") == 0)
		mult = 1024ULL * 1024 * 1024 * 1024;
	else
		return OSP_EINVAL;
	if (n > UINT64_MAX / mult)
		return OSP_EINVAL;
	*bytes = n * mult;
	return OSP_OK;
}

osp_err osp_u64_parse(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t n;
	const char *rest;

	if (s == NULL || (rest = osp_num_prefix(s, &n)) == NULL || *rest != '\0')
		return OSP_EINVAL;
	if (n < min || n > max)
		return OSP_EINVAL;
	*out = n;
	return OSP_OK;
}

void osp_time_fmt(int64_t wall_ms, char *buf, size_t len)
{
	time_t t = (time_t)(wall_ms / 1000);
	struct tm tm;

	if (wall_ms <= 0) {
		osp_strlcpy(buf, "-", len);
		return;
	}
	gmtime_r(&t, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		(int)(wall_ms % 1000));
}

size_t osp_strlcpy(char *dst, const char *src, size_t len)
{
	size_t n = strlen(src);

	if (len > 0) {
		size_t c = n < len - 1 ? n : len - 1;
		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

/* osp_str_esc writes the shown form of byte c into e; returns its length. */
static size_t osp_str_esc(unsigned char c, char e[8])
{
	if (c == '\n' || c == '\t' || c == '\r')
		return (size_t)snprintf(e, 8, "\\%c", c == '\n' ? 'n' : c == '\t' ? 't' : 'r');
	if (c < 0x20 || c == 0x7f)
		return (size_t)snprintf(e, 8, "\\x%02x", c);
	e[0] = (char)c;
	e[1] = '\0';
	return 1;
}

char *osp_str_show(const char *s, char *buf, size_t len)
{
	size_t need = 0, room, k = 0;
	const char *p;
	char e[8];
	bool cut;

	if (len == 0)
		return buf;
	for (p = s ? s : ""; *p != '\0'; p++)
		need += osp_str_esc((unsigned char)*p, e);
	cut = need >= len;
	room = !cut ? len - 1 : len > 4 ? len - 4 : 0;
	for (p = s ? s : ""; *p != '\0'; p++) {
		size_t n = osp_str_esc((unsigned char)*p, e);
		if (k + n > room) {
			/* stopped inside a UTF-8 character: drop its first bytes too */
			if (((unsigned char)*p & 0xC0) == 0x80) {
				while (k > 0 && ((unsigned char)buf[k - 1] & 0xC0) == 0x80)
					k--;
				if (k > 0 && (unsigned char)buf[k - 1] >= 0xC0)
					k--;
			}
			break;
		}
		memcpy(buf + k, e, n);
		k += n;
	}
	if (cut && len > 4) {
		memcpy(buf + k, "...", 3);
		k += 3;
	}
	buf[k] = '\0';
	return buf;
}

char *osp_strdup_n(const char *s, size_t max)
{
	size_t n = strnlen(s, max);
	char *d = malloc(n + 1);

	if (d == NULL)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

osp_err osp_random_bytes(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t r = getrandom(p, len, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return OSP_EIO;
		}
		p += r;
		len -= (size_t)r;
	}
	return OSP_OK;
}

osp_err osp_uuid_new(char *buf)
{
	uint8_t b[16];
	osp_err rv;

	if ((rv = osp_random_bytes(b, sizeof(b))) != OSP_OK)
		return rv;
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	snprintf(buf, OSP_UUID_LEN + 1,
		"%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
		b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
		b[14], b[15]);
	return OSP_OK;
}

void osp_hex_encode(const uint8_t *in, size_t len, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 0xf];
	}
	out[2 * len] = '\0';
}

void osp_fixbuf_put(osp_fixbuf *o, const char *s, size_t n)
{
	size_t room = o->len - 1 - o->n;

	if (o->cut)
		return;
	if (n > room) {
		n = room;
		o->cut = true;
	}
	memcpy(o->p + o->n, s, n);
	o->n += n;
	o->p[o->n] = '\0';
}

void osp_buf_init(osp_buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void osp_buf_fini(osp_buf *b)
{
	if (b == NULL)
		return;
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void osp_buf_reset(osp_buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

osp_err osp_buf_append(osp_buf *b, const void *data, size_t len)
{
	size_t max = b->max ? b->max : (size_t)64 * 1024 * 1024;

	if (len > max || b->len > max - len)
		return OSP_ETOOBIG;
	if (b->len + len + 1 > b->cap) {
		size_t ncap = b->cap ? b->cap : 256;
		char *p;
		while (ncap < b->len + len + 1)
			ncap *= 2;
		p = realloc(b->data, ncap);
		if (p == NULL)
			return OSP_ENOMEM;
		b->data = p;
		b->cap = ncap;
	}
	if (len > 0)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return OSP_OK;
}

osp_err osp_buf_puts(osp_buf *b, const char *s)
{
	return osp_buf_append(b, s, strlen(s));
}

osp_err osp_buf_printf(osp_buf *b, const char *fmt, ...)
{
	char small[512];
	va_list ap;
	int n;
	char *big;
	osp_err rv;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return OSP_EINVAL;
	if ((size_t)n < sizeof(small))
		return osp_buf_append(b, small, (size_t)n);
	big = malloc((size_t)n + 1);
	if (big == NULL)
		return OSP_ENOMEM;
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	rv = osp_buf_append(b, big, (size_t)n);
	free(big);
	return rv;
}

osp_err osp_mkdir_p(const char *dir, unsigned mode)
{
	char path[PATH_MAX];
	size_t n;

	if (osp_strlcpy(path, dir, sizeof(path)) >= sizeof(path))
		return OSP_ETOOBIG;
	n = strlen(path);
	for (size_t i = 1; i <= n; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		char c = path[i];
		path[i] = '\0';
		if (mkdir(path, (mode_t)mode) != 0 && errno != EEXIST)
			return OSP_EIO;
		path[i] = c;
	}
	return OSP_OK;
}

osp_err osp_dir_lock(const char *dir, const char *lockname, int *fd)
{
	char path[PATH_MAX];
	int f;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, lockname) >= sizeof(path))
		return OSP_ETOOBIG;
	f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (f < 0)
		return OSP_EIO;
	if (flock(f, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		close(f);
		return e == EWOULDBLOCK ? OSP_ELOCKED : OSP_EIO;
	}
	*fd = f;
	return OSP_OK;
}

osp_err osp_file_read(const char *path, size_t max, char **data, size_t *len)
{
	int fd = -1;
	osp_buf b;
	char chunk[8192];
	struct stat st;
	osp_err rv = OSP_OK;

	/* never block: a FIFO would hang at open or read; only regular files */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return errno == ENOENT ? OSP_ENOENT : OSP_EIO;
	if (fstat(fd, &st) != 0)
		rv = OSP_EIO;
	else if (!S_ISREG(st.st_mode))
		rv = OSP_EINVAL;
	if (rv != OSP_OK) {
		close(fd);
		return rv;
	}
	osp_buf_init(&b, max);
	for (;;) {
		ssize_t r = read(fd, chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rv = OSP_EIO;
			goto out;
		}
		if (r == 0)
			break;
		if ((rv = osp_buf_append(&b, chunk, (size_t)r)) != OSP_OK)
			goto out;
	}
	if (b.data == NULL && (rv = osp_buf_append(&b, "", 0)) != OSP_OK)
		goto out;
	*data = b.data;
	*len = b.len;
	b.data = NULL; /* handed to the caller */
out:
	close(fd);
	osp_buf_fini(&b);
	return rv;
}

osp_err osp_file_write_atomic(const char *path, const void *data, size_t len, unsigned mode)
{
	char tmp[PATH_MAX];
	const char *p = data;
	int fd;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= sizeof(tmp))
		return OSP_ETOOBIG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
	if (fd < 0)
		return OSP_EIO;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			close(fd);
			unlink(tmp);
			return OSP_EIO;
		}
		p += w;
		len -= (size_t)w;
	}
	if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
		unlink(tmp);
		return OSP_EIO;
	}
	return OSP_OK;
}

bool osp_valid_id(const char *s)
{
	size_t n;

	if (s == NULL || !isalnum((unsigned char)s[0]))
		return false;
	n = strlen(s);
	if (n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && c != '.' && c != '_' && c != '-')
			return false;
	}
	return true;
}

bool osp_valid_label(const char *key, const char *value)
{
	size_t n;

	if (key == NULL || value == NULL || !isalnum((unsigned char)key[0]))
		return false;
	if (strlen(key) > 63 || (n = strlen(value)) > 63)
		return false;
	for (const char *k = key; *k; k++) {
		unsigned char c = (unsigned char)*k;
		if (!isalnum(c) && c != '.' && c != '_' && c != '-' && c != '/')
			return false;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)value[i];
		if (c < 0x21 || c > 0x7e || c == ',' || c == '=' || c == '"' || c == '\\')
			return false;
	}
	return true;
}
