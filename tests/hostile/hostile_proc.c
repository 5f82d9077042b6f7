/* hostile_proc.c - what the hostile tests read off a process: its open
 * descriptors, lines of its log. */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "hostile.h"

/* hs_count_lines counts the lines of the file at path that contain needle. */
long hs_count_lines(const char *path, const char *needle)
{
	FILE *fp = fopen(path, "r");
	char line[4096];
	long n = 0;

	if (fp == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL)
		n += strstr(line, needle) != NULL;
	fclose(fp);
	return n;
}

/* hs_fd_count counts pid's open file descriptors (-1 if unknown). */
int hs_fd_count(pid_t pid)
{
	char path[64];
	struct dirent *d;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if ((dir = opendir(path)) == NULL)
		return -1;
	while ((d = readdir(dir)) != NULL)
		n += d->d_name[0] != '.';
	closedir(dir);
	return n;
}
