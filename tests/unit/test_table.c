/* The CLI's tables for people: hostile strings shown escaped, long values shortened with an
 * ellipsis, columns aligned, times local. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "../../cli/table.h"
#include "proctrail/escape.h"

static void test_cell_escapes_controls_and_sequences(void **state)
{
	char out[256];

	(void)state;
	/* ESC [ 2 J (clear screen), a newline planting a fake row, a BEL, a bidi override */
	cli_cell(out, sizeof(out), "a\x1b[2Jb\nc\x07\xe2\x80\xae", 12, 0);
	assert_string_equal(out, "a\\x1b[2Jb\\nc\\x07\\u202e");
	assert_true(pt_str_is_clean(out, strlen(out)));
	/* a C1 control (CSI, U+009B) and a byte that is not UTF-8 */
	cli_cell(out, sizeof(out), "\xc2\x9b" "1m\xff", 5, 0);
	assert_string_equal(out, "\\u009b1m\\xff");
	/* a NUL inside a value does not end it */
	cli_cell(out, sizeof(out), "x\0y", 3, 0);
	assert_string_equal(out, "x\\x00y");
}

static void test_cell_shortens_with_ellipsis(void **state)
{
	char out[256];

	(void)state;
	cli_cell(out, sizeof(out), "/usr/bin/python3", 16, 10);
	assert_string_equal(out, "/usr/bin/" CLI_ELLIPSIS);
	assert_int_equal(cli_width(out, strlen(out)), 10);
	cli_cell(out, sizeof(out), "short", 5, 10);
	assert_string_equal(out, "short");
	cli_cell(out, sizeof(out), "exactly10!", 10, 10);
	assert_string_equal(out, "exactly10!");
	/* the escaped form is what is measured: 4 visible columns per escaped byte */
	cli_cell(out, sizeof(out), "\x1b\x1b\x1b", 3, 6);
	assert_string_equal(out, "\\x1b\\" CLI_ELLIPSIS);
	/* never a split UTF-8 sequence: é is two bytes, one column */
	cli_cell(out, sizeof(out), "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 8, 3);
	assert_string_equal(out, "\xc3\xa9\xc3\xa9" CLI_ELLIPSIS);
	assert_true(pt_str_is_clean(out, strlen(out)));
	/* wide characters count two columns */
	assert_int_equal(cli_width("\xe6\x97\xa5\xe6\x9c\xac", 6), 4);
	cli_cell(out, sizeof(out), "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 9, 4);
	assert_string_equal(out, "\xe6\x97\xa5" CLI_ELLIPSIS);
}

static char *print(struct cli_table *t)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(cli_table_print(t, f), 0);
	fclose(f);
	return buf;
}

static void test_table_aligns_columns(void **state)
{
	static const struct cli_col cols[] = {
		{ "NAME", 8, 0, 0 }, { "N", 0, 1, 0 }, { "PATH", 12, 0, 0 },
	};
	const char *r1[] = { "a", "5", "/bin/true" };
	const char *r2[] = { "longer-than-eight", "12345", "/usr/local/bin/something" };
	const char *r3[] = { "evil\x1b[31m", NULL, "x\ny" };
	struct cli_table t;
	char *out;

	(void)state;
	assert_int_equal(cli_table_init(&t, cols, 3), 0);
	assert_int_equal(cli_table_add(&t, r1, NULL), 0);
	assert_int_equal(cli_table_add(&t, r2, NULL), 0);
	assert_int_equal(cli_table_add(&t, r3, NULL), 0);
	out = print(&t);
	assert_string_equal(out,
		"NAME          N  PATH\n"
		"a             5  /bin/true\n"
		"longer-" CLI_ELLIPSIS "  12345  /usr/local/" CLI_ELLIPSIS "\n"
		"evil\\x1" CLI_ELLIPSIS "         x\\ny\n");
	assert_null(strchr(out, '\x1b'));
	free(out);
	cli_table_free(&t);
	cli_table_free(NULL);
}

static void test_table_rows_bounded(void **state)
{
	static const struct cli_col cols[] = { { "X", 0, 0, 0 } };
	struct cli_table t;

	(void)state;
	assert_int_equal(cli_table_init(&t, cols, 0), -EINVAL);
	assert_int_equal(cli_table_init(&t, cols, CLI_TABLE_COLS_MAX + 1), -EINVAL);
	assert_int_equal(cli_table_init(&t, cols, 1), 0);
	t.nrows = CLI_TABLE_ROWS_MAX;   /* as if full: the next row is counted, not added */
	{
		const char *r[] = { "x" };

		assert_int_equal(cli_table_add(&t, r, NULL), -E2BIG);
	}
	assert_int_equal(t.dropped, 1);
	t.nrows = 0;
	cli_table_free(&t);
}

static void test_stream_rows_fixed_width(void **state)
{
	static const struct cli_col cols[] = { { "A", 4, 0, 0 }, { "B", 3, 1, 0 } };
	const char *r[] = { "abcdef", "7" };
	struct cli_table t;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_int_equal(cli_table_init(&t, cols, 2), 0);
	cli_table_print_head(&t, f);
	cli_table_print_row(&t, r, NULL, f);
	fclose(f);
	assert_string_equal(buf, "A       B\nabc" CLI_ELLIPSIS "    7\n");
	free(buf);
	cli_table_free(&t);
}

static void test_local_time(void **state)
{
	char out[64];

	(void)state;
	setenv("TZ", "UTC", 1);
	tzset();
	assert_string_equal(cli_local_time(out, sizeof(out), "2026-12-03T14:00:00.123456789Z"),
			    "2026-12-03 14:00:00.123");
	setenv("TZ", "Europe/Paris", 1);   /* UTC+1 in December (tzdata), else stays UTC */
	tzset();
	cli_local_time(out, sizeof(out), "2026-12-03T23:30:00Z");
	assert_true(!strcmp(out, "2026-12-04 00:30:00.000") || !strcmp(out, "2026-12-03 23:30:00.000"));
	setenv("TZ", "UTC", 1);
	tzset();
	assert_string_equal(cli_local_time(out, sizeof(out), "2026-12-03T14:00:00.5Z"),
			    "2026-12-03 14:00:00.500");
	/* not a time: shown escaped, as it came */
	assert_string_equal(cli_local_time(out, sizeof(out), "yesterday\x1b"), "yesterday\\x1b");
	assert_string_equal(cli_local_time(out, sizeof(out), NULL), "");
}

static void test_human(void **state)
{
	char out[16];

	(void)state;
	assert_string_equal(cli_human(out, sizeof(out), 0), "0");
	assert_string_equal(cli_human(out, sizeof(out), 1023), "1023");
	assert_string_equal(cli_human(out, sizeof(out), 1536), "1.5K");
	assert_string_equal(cli_human(out, sizeof(out), 200u << 20), "200M");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cell_escapes_controls_and_sequences),
		cmocka_unit_test(test_cell_shortens_with_ellipsis),
		cmocka_unit_test(test_table_aligns_columns),
		cmocka_unit_test(test_table_rows_bounded),
		cmocka_unit_test(test_stream_rows_fixed_width),
		cmocka_unit_test(test_local_time),
		cmocka_unit_test(test_human),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
