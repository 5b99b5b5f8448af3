/* Tables for people (see table.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proctrail/escape.h"
#include "table.h"

static unsigned cp_width(uint32_t cp)
{
	if ((cp >= 0x300 && cp <= 0x36f) || (cp >= 0x200b && cp <= 0x200d) || cp == 0xfe0f)
		return 0;   /* combining marks, zero-width (hostile ones are already escaped) */
	if ((cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) ||
	    (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
	    (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
	    (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1f64f) ||
	    (cp >= 0x1f900 && cp <= 0x1f9ff) || (cp >= 0x20000 && cp <= 0x3fffd))
		return 2;
	return 1;
}

unsigned cli_width(const char *s, size_t len)
{
	unsigned w = 0;
	uint32_t cp;

	for (size_t i = 0, l; i < len; i += l) {
		l = pt_utf8_decode((const uint8_t *)s + i, len - i, &cp);
		if (!l) {
			l = 1;
			cp = '?';
		}
		w += cp_width(cp);
	}
	return w;
}

const char *cli_cell(char *out, size_t cap, const char *in, size_t len, unsigned max)
{
	const size_t el = sizeof(CLI_ELLIPSIS) - 1;
	unsigned w = 0;
	size_t i, l, keep = 0;
	uint32_t cp;
	size_t n;

	if (!cap)
		return out;
	pt_escape(out, cap, in, len);
	n = strlen(out);
	if (!max || cli_width(out, n) <= max)
		return out;
	/* keep what fits in max - 1 columns, then the ellipsis */
	for (i = 0; i < n; i += l) {
		unsigned cw;

		l = pt_utf8_decode((const uint8_t *)out + i, n - i, &cp);
		if (!l)
			l = 1, cp = '?';
		cw = cp_width(cp);
		if (w + cw > max - 1)
			break;
		w += cw;
		keep = i + l;
	}
	if (keep + el + 1 > cap)
		keep = cap - el - 1;
	memcpy(out + keep, CLI_ELLIPSIS, el);
	out[keep + el] = '\0';
	return out;
}

int cli_table_init(struct cli_table *t, const struct cli_col *cols, unsigned ncols)
{
	memset(t, 0, sizeof(*t));
	if (!ncols || ncols > CLI_TABLE_COLS_MAX)
		return -EINVAL;
	t->ncols = ncols;
	for (unsigned i = 0; i < ncols; i++) {
		t->cols[i] = cols[i];
		t->cols[i].width = cli_width(cols[i].title, strlen(cols[i].title));
	}
	return 0;
}

void cli_table_free(struct cli_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->nrows = t->cap = 0;
}

int cli_table_add(struct cli_table *t, const char *const *vals, const size_t *lens)
{
	char cell[CLI_CELL_MAX];
	size_t base;

	if (t->nrows >= CLI_TABLE_ROWS_MAX) {
		t->dropped++;
		return -E2BIG;
	}
	if (t->nrows == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 64;
		char **c = realloc(t->cells, nc * t->ncols * sizeof(*c));

		if (!c)
			return -ENOMEM;
		t->cells = c;
		t->cap = nc;
	}
	base = t->nrows * t->ncols;
	for (unsigned i = 0; i < t->ncols; i++) {
		const char *v = vals[i] ? vals[i] : "";
		size_t len = lens ? lens[i] : strlen(v);
		unsigned w;

		if (!vals[i])
			len = 0;
		cli_cell(cell, sizeof(cell), v, len, t->cols[i].max);
		t->cells[base + i] = strdup(cell);
		if (!t->cells[base + i]) {
			while (i--)
				free(t->cells[base + i]);
			return -ENOMEM;
		}
		w = cli_width(cell, strlen(cell));
		if (w > t->cols[i].width)
			t->cols[i].width = w;
	}
	t->nrows++;
	return 0;
}

static void put_cell(FILE *f, const char *s, unsigned width, bool right, bool last)
{
	unsigned w = cli_width(s, strlen(s));
	unsigned pad = width > w ? width - w : 0;

	if (right)
		fprintf(f, "%*s%s", (int)pad, "", s);
	else if (last)
		fputs(s, f);
	else
		fprintf(f, "%s%*s", s, (int)pad, "");
	fputs(last ? "\n" : "  ", f);
}

int cli_table_print(struct cli_table *t, FILE *f)
{
	for (unsigned i = 0; i < t->ncols; i++)
		put_cell(f, t->cols[i].title, t->cols[i].width, t->cols[i].right, i + 1 == t->ncols);
	for (size_t r = 0; r < t->nrows; r++)
		for (unsigned i = 0; i < t->ncols; i++)
			put_cell(f, t->cells[r * t->ncols + i], t->cols[i].width, t->cols[i].right,
				 i + 1 == t->ncols);
	if (t->dropped)
		fprintf(f, "(%zu more rows not shown)\n", t->dropped);
	return ferror(f) ? -EIO : 0;
}

static unsigned stream_width(const struct cli_col *c)
{
	unsigned tw = cli_width(c->title, strlen(c->title));

	return c->max > tw ? c->max : tw;
}

int cli_table_print_head(const struct cli_table *t, FILE *f)
{
	for (unsigned i = 0; i < t->ncols; i++)
		put_cell(f, t->cols[i].title, stream_width(&t->cols[i]), t->cols[i].right,
			 i + 1 == t->ncols);
	return ferror(f) ? -EIO : 0;
}

int cli_table_print_row(const struct cli_table *t, const char *const *vals, const size_t *lens,
			FILE *f)
{
	char cell[CLI_CELL_MAX];

	for (unsigned i = 0; i < t->ncols; i++) {
		const char *v = vals[i] ? vals[i] : "";

		cli_cell(cell, sizeof(cell), v, vals[i] ? (lens ? lens[i] : strlen(v)) : 0,
			 t->cols[i].max);
		put_cell(f, cell, stream_width(&t->cols[i]), t->cols[i].right, i + 1 == t->ncols);
	}
	return fflush(f) ? -EIO : 0;
}

static int digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

const char *cli_local_time(char *out, size_t cap, const char *s)
{
	struct tm tm = { 0 }, lt;
	int y, mo, d, h, mi, sec, ms = 0;
	size_t n = s ? strlen(s) : 0, i = 19;
	time_t t;

	if (!s)
		s = "";
	if (n < 20 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
	    digits(s + 8, 2, &d) || s[10] != 'T' || digits(s + 11, 2, &h) || s[13] != ':' ||
	    digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &sec))
		goto raw;
	if (s[i] == '.') {
		int k = 0;

		for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, k++)
			if (k < 3)
				ms = ms * 10 + (s[i] - '0');
		for (; k < 3; k++)
			ms *= 10;
	}
	if (i + 1 != n || s[i] != 'Z')
		goto raw;
	tm.tm_year = y - 1900, tm.tm_mon = mo - 1, tm.tm_mday = d;
	tm.tm_hour = h, tm.tm_min = mi, tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1 || !localtime_r(&t, &lt))
		goto raw;
	snprintf(out, cap, "%04d-%02d-%02d %02d:%02d:%02d.%03d", lt.tm_year + 1900, lt.tm_mon + 1,
		 lt.tm_mday, lt.tm_hour, lt.tm_min, lt.tm_sec, ms);
	return out;
raw:
	return pt_escape(out, cap, s, n);
}

const char *cli_human(char *out, size_t cap, uint64_t v)
{
	static const char units[] = "KMGTPE";
	double x = (double)v;
	int u = -1;

	if (v < 1024) {
		snprintf(out, cap, "%llu", (unsigned long long)v);
		return out;
	}
	do {            /* once at least: v, so x, is 1024 or more */
		x /= 1024;
		u++;
	} while (x >= 1024 && u < 5);
	snprintf(out, cap, x < 10 ? "%.1f%c" : "%.0f%c", x, units[u]);
	return out;
}
