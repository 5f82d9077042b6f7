/* agent_regfile.c - only regular files, never a hang (agent_regfile.h). */
#include "agent_regfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *agent_regfile_kind(mode_t mode)
{
	if (S_ISREG(mode))
		return "a regular file";
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISSOCK(mode))
		return "a socket";
	return "not a plain file";
}

static void agent_regfile_why(char *why, size_t whylen, const char *text)
{
	if (why != NULL && whylen > 0)
		snprintf(why, whylen, "%s", text);
}

osp_err agent_regfile_open(const char *path, int *fd, char *why, size_t whylen)
{
	struct stat st;
	char text[96];
	int f;

	*fd = -1;
	if (path == NULL || path[0] == '\0') {
		agent_regfile_why(why, whylen, "no file name");
		return OSP_EINVAL;
	}
	/* O_NONBLOCK: open() of a FIFO without a writer would wait forever;
	 * O_NOCTTY: a terminal never becomes ours */
	f = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (f < 0) {
		int e = errno;
		agent_regfile_why(why, whylen, e == ENOENT ? "no such file" : strerror(e));
		return e == ENOENT ? OSP_ENOENT : OSP_EIO;
	}
	if (fstat(f, &st) != 0) {
		agent_regfile_why(why, whylen, strerror(errno));
		close(f);
		return OSP_EIO;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(text, sizeof(text), "is %s, not a regular file", agent_regfile_kind(st.st_mode));
		agent_regfile_why(why, whylen, text);
		close(f);
		return OSP_EPERM;
	}
	*fd = f;
	return OSP_OK;
}

osp_err agent_regfile_read(const char *path, size_t max, char **data, size_t *len, char *why,
	size_t whylen)
{
	char *buf = NULL;
	size_t n = 0;
	int fd = -1;
	osp_err rv;

	*data = NULL;
	*len = 0;
	rv = agent_regfile_open(path, &fd, why, whylen);
	if (rv != OSP_OK)
		return rv;
	buf = malloc(max + 1);
	if (buf == NULL) {
		agent_regfile_why(why, whylen, "out of memory");
		rv = OSP_ENOMEM;
		goto out;
	}
	for (;;) {
		/* one byte more than max: tells "exactly max" from "too big" */
		ssize_t r = read(fd, buf + n, max + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			agent_regfile_why(why, whylen, errno == EAGAIN ?
				"reading would block: not a plain file" : strerror(errno));
			rv = OSP_EIO;
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			agent_regfile_why(why, whylen, "file is too large");
			rv = OSP_ETOOBIG;
			goto out;
		}
	}
	buf[n] = '\0';
	*data = buf;
	*len = n;
	buf = NULL; /* the caller's now */
out:
	free(buf);
	close(fd);
	return rv;
}
