/* ctl_table.c - aligned text tables for terminals. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

void ctl_table_init(ctl_table *t, size_t ncols)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
}

/* ctl_one_line copies the first line of text into buf ("..." when more
 * lines follow or it was cut): a reason is one row in a table; the whole
 * text is in --json. */
void ctl_one_line(const char *text, char *buf, size_t len)
{
	size_t n = 0;

	if (text == NULL)
		text = "";
	while (text[n] != '\0' && text[n] != '\n' && text[n] != '\r')
		n++;
	if (n + 4 >= len || text[n] != '\0') {
		size_t keep = n + 4 >= len ? len - 4 : n;
		snprintf(buf, len, "%.*s...", (int)keep, text);
		return;
	}
	snprintf(buf, len, "%s", text);
}

void ctl_table_row(ctl_table *t, const char *const *cells)
{
	char line[1024];

	if ((t->nrows + 1) * t->ncols > t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : t->ncols * 16;
		char **p = realloc(t->cells, ncap * sizeof(*p));
		if (p == NULL)
			return;
		t->cells = p;
		t->cap = ncap;
	}
	for (size_t i = 0; i < t->ncols; i++)
	{
		/* one line per row whatever a cell holds (reasons carry stderr) */
		ctl_one_line(cells[i], line, sizeof(line));
		t->cells[t->nrows * t->ncols + i] = strdup(line);
	}
	t->nrows++;
}

void ctl_table_print(const ctl_table *t)
{
	size_t w[32] = { 0 };

	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols && c < 32; c++) {
			const char *s = t->cells[r * t->ncols + c];
			size_t l = s ? strlen(s) : 0;
			if (l > w[c])
				w[c] = l;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols && c < 32; c++) {
			const char *s = t->cells[r * t->ncols + c];
			if (c + 1 == t->ncols)
				printf("%s", s ? s : "");
			else
				printf("%-*s  ", (int)w[c], s ? s : "");
		}
		putchar('\n');
	}
}

void ctl_table_fini(ctl_table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}
