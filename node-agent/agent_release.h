/*
 * agent_release.h - releases on the agent: fetch, verify, unpack, clean up.
 *
 * A release is identified by the sha256 of its artifact. On disk, under the
 * agent's state directory STATE:
 *
 *   STATE/cache/<sha256>          the verified artifact (any archive format)
 *   STATE/cache/tmp-XXXXXX        a download in progress (removed at start)
 *   STATE/releases/<sha256>/      the unpacked release
 *   STATE/releases/.tmp-<sha256>-XXXXXX/   an unpack in progress
 *
 * An artifact enters the cache only after its sha256 matched; a release
 * directory appears only after every entry of the archive passed the checks
 * (the rename is the commit point). Nothing is ever written outside
 * STATE/cache and STATE/releases.
 *
 * Every <sha256> argument is 64 lowercase hex digits; anything else is
 * OSP_EINVAL. Errors that a human reads are written to the caller's buffer
 * err (errlen bytes, always NUL-terminated, may be NULL when errlen is 0).
 * URLs in messages go through osp_url_redact (ospec/url_redact.h): no
 * user:password, no signature or token parameter values.
 *
 * Threads: the functions may be called from several threads. Two calls for
 * the same sha256 at once are safe (both succeed, one copy stays). The caller
 * serialises agent_release_gc and agent_release_clean_tmp against fetches and
 * unpacks (the agent calls clean_tmp once at start, before anything else).
 */
#ifndef AGENT_RELEASE_H
#define AGENT_RELEASE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ospec/err.h"

#define AGENT_RELEASE_SHA256_LEN 64 /* hex digits, without the NUL */
#define AGENT_RELEASE_TIMEOUT_DEFAULT_MS (10L * 60 * 1000) /* a whole fetch */

/* Limits of a download. A zero field means its default. */
typedef struct agent_release_opts {
	uint64_t max_size;       /* largest artifact accepted (default 2 GiB) */
	uint64_t min_free;       /* free space required in STATE/cache when the
	                            server does not announce the size (64 MiB) */
	long connect_timeout_ms; /* connection set-up limit (10 s) */
	long low_speed_limit;    /* a download slower than this many bytes/s ... */
	long low_speed_time;     /* ... for this many seconds fails (1024, 30) */
	long timeout_ms;         /* the whole fetch, connect to last byte: a
	                            server that drips just above the low-speed
	                            limit still ends here (10 min) */
	const atomic_bool *cancel; /* NULL, or a flag another thread may set:
	                            the fetch then stops within about a second
	                            (OSP_ECLOSED); the caller's, read only */
} agent_release_opts;

/* agent_release_sha_valid reports whether s is 64 lowercase hex digits. */
bool agent_release_sha_valid(const char *s);

/*
 * agent_release_fetch downloads url (file://, http:// or https://; up to 5
 * redirects, which may only lead to http or https) into the cache as
 * STATE/cache/<sha256_hex>, with the default limits. A file:// URL must
 * name a regular file: it is opened with O_NONBLOCK and checked with fstat,
 * so a FIFO, a device or a directory is refused at once (OSP_EPERM), never
 * waited on. See agent_release_fetch_opts.
 */
osp_err agent_release_fetch(const char *state_dir, const char *url, const char *sha256_hex,
	char *err, size_t errlen);

/*
 * agent_release_fetch_opts is agent_release_fetch with explicit limits (opts
 * may be NULL for the defaults).
 *
 * A cached file whose content still matches sha256_hex is not downloaded
 * again (its mtime is refreshed); a cached file that no longer matches is
 * replaced. The download goes to STATE/cache/tmp-XXXXXX, is hashed as it
 * arrives and is renamed into place only if the sha256 matches.
 *
 * Returns OSP_OK; OSP_EINVAL (bad sha256, empty url, unsupported scheme);
 * OSP_ECHECKSUM ("sha256 mismatch: expected <exp>, got <got>"; nothing is
 * kept); OSP_ETOOBIG (artifact above opts->max_size); OSP_ENOENT (file://
 * source missing); OSP_EPERM (file:// source is not a regular file);
 * OSP_ETIMEDOUT (connect timeout, stalled transfer, or the total deadline
 * opts->timeout_ms passed: "not finished within the fetch deadline of 10m
 * ..."); OSP_ECLOSED (opts->cancel was set); OSP_ENET (other transfer
 * failures, HTTP status >= 400); OSP_EIO (local file system errors, not
 * enough free space); OSP_ENOMEM. Nothing of a failed fetch is kept.
 */
osp_err agent_release_fetch_opts(const char *state_dir, const char *url, const char *sha256_hex,
	const agent_release_opts *opts, char *err, size_t errlen);

/*
 * agent_release_unpack unpacks the cached STATE/cache/<sha256_hex> into
 * STATE/releases/<sha256_hex> and writes that path into dir_out (dir_len
 * bytes). An existing release directory is returned as is (its mtime is
 * refreshed, which marks it as recently used for agent_release_gc).
 *
 * The cached file is hashed again first (a corrupt one is deleted and
 * reported as OSP_ECHECKSUM). Any format and compression libarchive reads is
 * accepted except mtree (which names files outside the archive). Entries go
 * into a temp directory with libarchive's secure extraction flags, owners are
 * not restored, setuid/setgid/sticky bits are dropped, directories stay
 * writable by their owner. Every entry is also checked with
 * agent_release_path_check, and device, fifo and socket entries are refused:
 * one bad entry refuses the WHOLE archive, with a message naming the entry
 * ("archive entry '../x': path escapes the release directory"); the temp
 * directory is deleted.
 *
 * Returns OSP_OK; OSP_EINVAL (bad sha256); OSP_ENOENT (not in the cache);
 * OSP_ECHECKSUM; OSP_EPERM (an entry was refused); OSP_EDECODE (not a
 * readable archive); OSP_ETOOBIG (dir_len too small, too many entries);
 * OSP_EIO (file system errors, not enough free space); OSP_ENOMEM.
 */
osp_err agent_release_unpack(const char *state_dir, const char *sha256_hex, char *dir_out,
	size_t dir_len, char *err, size_t errlen);

/*
 * agent_release_prepare is agent_release_fetch followed by the unpack, with
 * the artifact hashed only once. Errors are those of both.
 */
osp_err agent_release_prepare(const char *state_dir, const char *url, const char *sha256_hex,
	char *dir_out, size_t dir_len, char *err, size_t errlen);

/* agent_release_prepare_opts is agent_release_prepare with the limits of
 * agent_release_fetch_opts (opts may be NULL). */
osp_err agent_release_prepare_opts(const char *state_dir, const char *url,
	const char *sha256_hex, const agent_release_opts *opts, char *dir_out, size_t dir_len,
	char *err, size_t errlen);

/*
 * agent_release_clean_tmp removes leftovers of interrupted downloads and
 * unpacks (STATE/cache/tmp-* and STATE/releases/.tmp-*). Failures are logged.
 * Call it at agent start, when no fetch or unpack is running.
 */
void agent_release_clean_tmp(const char *state_dir);

/*
 * agent_release_gc keeps the `keep` most recently used releases (newest
 * mtime of the cache file or the release directory, which fetch and unpack
 * refresh) together with every release named in protected_sha[0..nprot-1],
 * and deletes the cache files and release directories of all others. Names
 * in STATE/cache and STATE/releases that are not a sha256 are left alone.
 *
 * Returns OSP_OK, OSP_EINVAL (a protected entry is not a valid sha256:
 * nothing is deleted), OSP_ENOMEM, or OSP_EIO if something could not be
 * deleted (the rest is still processed; the failures are logged).
 */
osp_err agent_release_gc(const char *state_dir, unsigned keep, const char *const *protected_sha,
	size_t nprot);

/*
 * agent_release_path_check decides whether an archive entry may be
 * extracted: entry_path must be a non-empty relative path (at most 2048
 * bytes) without a ".." component. link_target is the symlink target when
 * is_symlink is non-zero, the hard link target (a path inside the archive,
 * checked like entry_path) when it is zero, or NULL for no link. A symlink
 * target must be non-empty, relative, and may hold ".." components only as a
 * leading run that stays inside the release directory as seen from the
 * entry's own directory (so "lib/x -> ../bin/y" is fine, "x -> ../y",
 * "x -> /etc" and "x -> a/../../y" are not). Pure function, no I/O.
 *
 * Returns NULL if the entry is fine, else a static reason such as "path
 * escapes the release directory".
 */
const char *agent_release_path_check(const char *entry_path, const char *link_target,
	int is_symlink);

/* agent_release_path_ok is agent_release_path_check(...) == NULL. */
bool agent_release_path_ok(const char *entry_path, const char *link_target, int is_symlink);

#endif
