/* sdnotify.c - systemd notifications over $NOTIFY_SOCKET (sdnotify.h). */
#include "ospec/sdnotify.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ospec/util.h"

/* osp_sd_addr fills addr from name (NOTIFY_SOCKET): "/path" or "@abstract".
 * Returns OSP_EINVAL for anything else or a name too long. */
static osp_err osp_sd_addr(const char *name, struct sockaddr_un *addr, socklen_t *len)
{
	size_t n = strlen(name);

	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	if (name[0] == '@') {
		/* abstract: a leading NUL, then the name without one at the end */
		if (n < 2 || n > sizeof(addr->sun_path))
			return OSP_EINVAL;
		memcpy(addr->sun_path + 1, name + 1, n - 1);
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
		return OSP_OK;
	}
	if (name[0] != '/' || n >= sizeof(addr->sun_path))
		return OSP_EINVAL;
	memcpy(addr->sun_path, name, n);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	return OSP_OK;
}

osp_err osp_sd_notify(const char *state)
{
	const char *name = getenv("NOTIFY_SOCKET");
	struct sockaddr_un addr;
	socklen_t alen = 0;
	size_t n;
	ssize_t sent;
	int fd;
	osp_err rv;

	if (name == NULL || name[0] == '\0')
		return OSP_OK;
	if (state == NULL || state[0] == '\0')
		return OSP_EINVAL;
	n = strlen(state);
	if (n > OSP_SD_STATE_MAX)
		return OSP_ETOOBIG;
	if ((rv = osp_sd_addr(name, &addr, &alen)) != OSP_OK)
		return rv;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return OSP_EIO;
	sent = sendto(fd, state, n, MSG_NOSIGNAL, (const struct sockaddr *)&addr, alen);
	close(fd);
	return sent == (ssize_t)n ? OSP_OK : OSP_EIO;
}

osp_err osp_sd_notifyf(const char *fmt, ...)
{
	char state[OSP_SD_STATE_MAX + 1];
	va_list ap;
	int n;

	if (getenv("NOTIFY_SOCKET") == NULL)
		return OSP_OK; /* nothing to format for */
	va_start(ap, fmt);
	n = vsnprintf(state, sizeof(state), fmt, ap);
	va_end(ap);
	if (n < 0)
		return OSP_EINVAL;
	if ((size_t)n >= sizeof(state))
		return OSP_ETOOBIG;
	return osp_sd_notify(state);
}

uint64_t osp_sd_watchdog_usec(void)
{
	const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	uint64_t v = 0, p = 0;

	if (getenv("NOTIFY_SOCKET") == NULL || usec == NULL)
		return 0;
	/* another process's watchdog (a daemon started by a supervised one) */
	if (pid != NULL && (osp_u64_parse(pid, 1, UINT32_MAX, &p) != OSP_OK ||
				   p != (uint64_t)getpid()))
		return 0;
	if (osp_u64_parse(usec, 1, UINT64_MAX / 2, &v) != OSP_OK)
		return 0;
	return v;
}
