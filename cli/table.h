/* Tables for people: aligned columns, long values shortened with an ellipsis, every control
 * character and escape sequence shown escaped (proctrail/escape.h) so nothing a peer sent
 * reaches the terminal as anything but text.
 *
 * Ownership: struct cli_table owns its cells (cli_table_free, NULL-safe).
 */
#ifndef PROCTRAIL_CLI_TABLE_H
#define PROCTRAIL_CLI_TABLE_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#define CLI_TABLE_COLS_MAX 16
#define CLI_TABLE_ROWS_MAX 100000u
#define CLI_CELL_MAX       4096      /* bytes of one escaped cell before it is shortened */
#define CLI_ELLIPSIS       "\xe2\x80\xa6"   /* U+2026 */

struct cli_col {
	const char *title;
	unsigned max;        /* display columns at most; 0: no limit */
	int right;           /* right-aligned (numbers) */
	unsigned width;      /* computed: the widest cell */
};

struct cli_table {
	unsigned ncols;
	struct cli_col cols[CLI_TABLE_COLS_MAX];
	char **cells;        /* nrows * ncols escaped, shortened strings */
	size_t nrows, cap;
	size_t dropped;      /* rows over CLI_TABLE_ROWS_MAX */
};

/* cols: ncols column descriptions (title, max, right). 0 or -EINVAL. */
int cli_table_init(struct cli_table *t, const struct cli_col *cols, unsigned ncols);
void cli_table_free(struct cli_table *t);
/* One row of ncols values (NULL shows as empty). Each is escaped, then shortened. lens[i]
 * gives a value's length (it may hold NUL); lens NULL: the values are C strings. 0, -ENOMEM,
 * -E2BIG (the row is counted in dropped). */
int cli_table_add(struct cli_table *t, const char *const *vals, const size_t *lens);
/* Prints the titles and rows aligned, columns two spaces apart; a line saying how many rows
 * were dropped if any. 0 or -EIO. */
int cli_table_print(struct cli_table *t, FILE *f);

/* For streams (one row at a time, no look-ahead): each column printed at its max width. */
int cli_table_print_head(const struct cli_table *t, FILE *f);
int cli_table_print_row(const struct cli_table *t, const char *const *vals, const size_t *lens,
			FILE *f);

/* The escaped form of in[0..len), shortened to at most max display columns (0: not
 * shortened) with CLI_ELLIPSIS as its last column. out gets at most cap bytes with the NUL. */
const char *cli_cell(char *out, size_t cap, const char *in, size_t len, unsigned max);
/* Display columns of valid UTF-8 s (wide East Asian characters count 2, combining marks 0). */
unsigned cli_width(const char *s, size_t len);

/* An RFC 3339 UTC time ("2026-12-03T14:00:00.123456789Z") as local time with milliseconds
 * ("2026-12-03 15:00:00.123"); anything else comes back escaped. */
const char *cli_local_time(char *out, size_t cap, const char *rfc3339);
/* 1536 -> "1.5K", bytes and counts in a few columns. */
const char *cli_human(char *out, size_t cap, uint64_t v);

#endif
