/*
 * fuzz_archive_path.c - libFuzzer target for agent_release_path_check, the
 * gate every archive entry passes before extraction.
 *
 * Input: one mode byte (0 a plain entry, 1 a symlink, 2 a hard link), then
 * the entry path, a NUL, and the link target. Every accepted entry is
 * checked again by an independent oracle that walks the path with a depth
 * counter: an accepted path (or link) that climbs out of the release
 * directory is a finding (abort).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent_release.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_walk walks p from depth; returns the final depth, or -1 if it ever
 * goes above the release directory. */
static long fuzz_walk(const char *p, long depth)
{
	while (*p != '\0') {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (--depth < 0)
				return -1;
		} else if (n > 0 && !(n == 1 && p[0] == '.')) {
			depth++;
		}
		p += n;
		if (*p == '/')
			p++;
	}
	return depth;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *entry, *target = NULL;
	const char *why;
	int mode;
	size_t n;
	long d;

	if (size < 1)
		return 0;
	mode = data[0] % 3;
	entry = malloc(size);
	if (entry == NULL)
		return 0;
	memcpy(entry, data + 1, size - 1);
	entry[size - 1] = '\0';
	n = strlen(entry);
	if (mode != 0)
		target = n + 1 < size - 1 ? entry + n + 1 : entry + n; /* "" if absent */
	why = agent_release_path_check(entry, target, mode == 1);
	if (why != NULL) {
		if (why[0] == '\0' || agent_release_path_ok(entry, target, mode == 1))
			abort(); /* a refusal always says why, and both calls agree */
		free(entry);
		return 0;
	}
	/* accepted: the oracle must agree it stays inside */
	if (entry[0] == '\0' || entry[0] == '/' || strlen(entry) > 4096)
		abort();
	if ((d = fuzz_walk(entry, 0)) < 0)
		abort();
	if (mode == 1) {
		/* from the link's own directory */
		if (target[0] == '/' || d < 1 || fuzz_walk(target, d - 1) < 0)
			abort();
	} else if (mode == 2) {
		if (target[0] == '/' || fuzz_walk(target, 0) < 1)
			abort();
	}
	free(entry);
	return 0;
}
