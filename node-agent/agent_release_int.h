/*
 * agent_release_int.h - helpers shared by agent_release.c,
 * agent_release_fetch.c and agent_release_unpack.c. Not part of the
 * agent's interface.
 */
#ifndef AGENT_RELEASE_INT_H
#define AGENT_RELEASE_INT_H

#include <stddef.h>

#include "agent_release.h"
#include "ospec/err.h"

/* agent_release_errf formats a message into err (if err and errlen). */
void agent_release_errf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* agent_release_check_args validates state_dir and sha (OSP_EINVAL + err). */
osp_err agent_release_check_args(const char *state_dir, const char *sha, char *err,
	size_t errlen);

/* agent_release_path writes "STATE/sub/name" (or "STATE/sub" when name is
 * empty) into buf; OSP_ETOOBIG (+ err) if it does not fit. */
osp_err agent_release_path(char *buf, size_t len, const char *state_dir, const char *sub,
	const char *name, char *err, size_t errlen);

/* agent_release_touch sets the mtime of path to now (best effort). */
void agent_release_touch(const char *path);

/* agent_release_hash_file writes the sha256 of a file as hex into hex.
 * Returns OSP_OK, OSP_ENOENT or OSP_EIO. */
osp_err agent_release_hash_file(const char *path, char hex[AGENT_RELEASE_SHA256_LEN + 1]);

/* agent_release_rm_tree removes path (a file, or a directory tree without
 * following symlinks). A missing path is OSP_OK; otherwise OSP_EIO. */
osp_err agent_release_rm_tree(const char *path);

/* agent_release_tree_check checks every symlink under the directory root
 * (not followed) with agent_release_path_check, relative to where it is.
 * Returns OSP_OK, OSP_EPERM with err naming the first escaping link
 * ("archive entry 'x' -> '../y': ..."), OSP_EIO when the walk fails. */
osp_err agent_release_tree_check(const char *root, char *err, size_t errlen);

/* agent_release_unpack_verified is agent_release_unpack for a cached file
 * the caller has just verified (it is not hashed again). */
osp_err agent_release_unpack_verified(const char *state_dir, const char *sha256_hex,
	char *dir_out, size_t dir_len, char *err, size_t errlen);

#endif
