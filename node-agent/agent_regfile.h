/*
 * agent_regfile.h - opening files named by a config or a command without
 * ever hanging on them: a FIFO blocks open() until a writer comes, a device
 * or a /proc file may block every read. Only regular files are accepted.
 * Used for file:// artifacts (agent_release.c), the apps' env files
 * (agent_cfg.c, agent_redact.c).
 */
#ifndef AGENT_REGFILE_H
#define AGENT_REGFILE_H

#include <stddef.h>
#include <sys/types.h>

#include "ospec/err.h"

/* agent_regfile_kind names the file type of mode for a message: "a FIFO",
 * "a directory", "a character device", ... (static text). */
const char *agent_regfile_kind(mode_t mode);

/*
 * agent_regfile_open opens path read-only with O_NONBLOCK (so that open()
 * of a FIFO returns at once) and accepts it only if fstat says it is a
 * regular file. O_NONBLOCK stays set: a "regular" file of a pseudo file
 * system that would block a read fails with EAGAIN instead. On OSP_OK *fd is
 * the caller's to close; otherwise it is -1 and why (whylen bytes, may be
 * NULL when whylen is 0) says what is wrong, without the path: "no such
 * file", "is a FIFO, not a regular file", "Permission denied".
 *
 * Returns OSP_OK; OSP_ENOENT (missing); OSP_EPERM (not a regular file);
 * OSP_EIO (other open or fstat failures); OSP_EINVAL (path NULL or empty).
 */
osp_err agent_regfile_open(const char *path, int *fd, char *why, size_t whylen);

/*
 * agent_regfile_read reads the whole regular file path (at most max bytes)
 * into a NUL-terminated heap buffer *data of *len bytes, which the caller
 * frees. Errors are those of agent_regfile_open, plus OSP_ETOOBIG (larger
 * than max), OSP_EIO (a read failed or would block), OSP_ENOMEM; why as for
 * agent_regfile_open; *data is NULL on error.
 */
osp_err agent_regfile_read(const char *path, size_t max, char **data, size_t *len, char *why,
	size_t whylen);

#endif
