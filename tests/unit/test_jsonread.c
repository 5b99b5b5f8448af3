/* The CLI's JSON reader: strict RFC 8259, bounded, spans kept for verbatim output. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "proctrail/jsonread.h"

static int parse(struct pt_jr *d, const char *s)
{
	return pt_jr_parse(d, s, strlen(s), 1000);
}

static void test_objects_paths_and_spans(void **state)
{
	const char *s = "{\"events\":[{\"@timestamp\":\"2026-12-03T14:00:00Z\",\"process\":{\"pid\":42,"
			"\"args\":[\"ls\",\"-l\"],\"parent\":{\"pid\":1}},\"agent.id\":\"a1\","
			"\"proctrail\":{\"stream_id\":18446744073709551615}},{\"x\":null}],"
			"\"next_cursor\":null}";
	struct pt_jr d;
	int arr, ev, t;
	uint64_t u;
	int64_t i;
	char buf[64];
	size_t n;
	const char *raw;

	(void)state;
	assert_int_equal(parse(&d, s), 0);
	arr = pt_jr_get(&d, 0, "events");
	assert_int_equal(d.tok[arr].type, PT_JR_ARRAY);
	assert_int_equal(d.tok[arr].count, 2);
	ev = pt_jr_index(&d, arr, 0);
	assert_int_equal(pt_jr_u64(&d, pt_jr_path(&d, ev, "process.pid"), &u), 0);
	assert_int_equal(u, 42);
	assert_int_equal(pt_jr_i64(&d, pt_jr_path(&d, ev, "process.parent.pid"), &i), 0);
	assert_int_equal(i, 1);
	/* a member named with a dot, and a full uint64 */
	assert_int_equal(pt_jr_text(&d, pt_jr_path(&d, ev, "agent.id"), buf, sizeof(buf)), 2);
	assert_string_equal(buf, "a1");
	assert_int_equal(pt_jr_u64(&d, pt_jr_path(&d, ev, "proctrail.stream_id"), &u), 0);
	assert_true(u == UINT64_MAX);
	assert_int_equal(pt_jr_i64(&d, pt_jr_path(&d, ev, "proctrail.stream_id"), &i), -EINVAL);
	t = pt_jr_path(&d, ev, "process.args");
	assert_int_equal(pt_jr_text(&d, pt_jr_index(&d, t, 1), buf, sizeof(buf)), 2);
	assert_string_equal(buf, "-l");
	assert_int_equal(pt_jr_index(&d, t, 2), -1);
	assert_int_equal(pt_jr_path(&d, ev, "process.nope"), -1);
	/* the raw span of the second event, and the next sibling walk */
	raw = pt_jr_raw(&d, (int)d.tok[ev].next, &n);
	assert_int_equal(n, 10);
	assert_memory_equal(raw, "{\"x\":null}", 10);
	assert_int_equal(d.tok[pt_jr_get(&d, 0, "next_cursor")].type, PT_JR_NULL);
	pt_jr_free(&d);
	pt_jr_free(NULL);
}

static void test_string_escapes(void **state)
{
	struct pt_jr d;
	char buf[64];

	(void)state;
	assert_int_equal(parse(&d, "[\"a\\n\\u001b[31m\\u00e9\\ud83d\\ude00\\ud800x\\\"\\/\"]"), 0);
	assert_int_equal(pt_jr_text(&d, 1, buf, sizeof(buf)), 19);
	assert_string_equal(buf, "a\n\x1b[31m\xc3\xa9\xf0\x9f\x98\x80\xef\xbf\xbdx\"/");
	assert_true(d.tok[1].escaped);
	/* too small: what fits, and -EMSGSIZE */
	assert_int_equal(pt_jr_text(&d, 1, buf, 4), -EMSGSIZE);
	assert_string_equal(buf, "a\n\x1b");
	pt_jr_free(&d);
	/* an escaped key is still found */
	assert_int_equal(parse(&d, "{\"a\\u0062\":1}"), 0);
	assert_true(pt_jr_get(&d, 0, "ab") > 0);
	pt_jr_free(&d);
}

static void test_refuses_what_is_not_json(void **state)
{
	static const char *const bad[] = {
		"", " ", "{", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "01", "1.", "-", "1e",
		"\"\x01\"", "\"\\x\"", "\"\\u12\"", "\"abc", "tru", "nul", "[1 2]", "{} {}",
		"\"\xff\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "[\"a\"]]", "'a'",
	};
	struct pt_jr d;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = parse(&d, bad[i]);

		if (r != -EINVAL)
			fail_msg("accepted or wrong error for case %zu: %d", i, r);
		assert_null(d.tok);
	}
	assert_int_equal(parse(&d, " -0.5e+3 "), 0);
	assert_int_equal(d.tok[0].type, PT_JR_NUMBER);
	pt_jr_free(&d);
}

static void test_limits(void **state)
{
	char deep[200];
	struct pt_jr d;

	(void)state;
	memset(deep, '[', 100);
	memset(deep + 100, ']', 100);
	assert_int_equal(pt_jr_parse(&d, deep, 200, 1000), -E2BIG);
	assert_int_equal(pt_jr_parse(&d, deep + 100 - PT_JR_DEPTH_MAX, 2 * PT_JR_DEPTH_MAX, 1000), 0);
	pt_jr_free(&d);
	assert_int_equal(pt_jr_parse(&d, "[1,2,3,4]", 9, 4), -E2BIG);
	assert_int_equal(pt_jr_parse(&d, "[1,2,3,4]", 9, 5), 0);
	pt_jr_free(&d);
}

static void test_cells_for_display(void **state)
{
	const char *s = "{\"a\":[\"ls\",\"-l\",\"x y\"],\"n\":null,\"o\":{},\"s\":\"abcdef\","
			"\"e\":[],\"k\":[{\"x\":1},\"z\"],\"after\":\"q\"}";
	struct pt_jr d;
	char out[8];

	(void)state;
	assert_int_equal(parse(&d, s), 0);
	assert_int_equal(pt_jr_join(&d, pt_jr_get(&d, 0, "a"), " ", out, sizeof(out)), 7);
	assert_string_equal(out, "ls -l x");   /* cut to what fits */
	assert_int_equal(pt_jr_join(&d, pt_jr_get(&d, 0, "e"), ", ", out, sizeof(out)), 0);
	assert_int_equal(pt_jr_join(&d, pt_jr_get(&d, 0, "s"), ", ", out, sizeof(out)), 0);
	assert_int_equal(pt_jr_join(&d, -1, ", ", out, sizeof(out)), 0);
	/* A container element stops the line; the walk never runs past the array. */
	assert_int_equal(pt_jr_join(&d, pt_jr_get(&d, 0, "k"), ",", out, sizeof(out)), 0);
	assert_int_equal(pt_jr_cell(&d, pt_jr_get(&d, 0, "s"), out, sizeof(out)), 6);
	assert_string_equal(out, "abcdef");
	assert_int_equal(pt_jr_cell(&d, pt_jr_get(&d, 0, "s"), out, 4), 3);
	assert_string_equal(out, "abc");
	assert_int_equal(pt_jr_cell(&d, pt_jr_get(&d, 0, "n"), out, sizeof(out)), 0);
	assert_int_equal(pt_jr_cell(&d, pt_jr_get(&d, 0, "o"), out, sizeof(out)), 0);
	assert_int_equal(pt_jr_cell(&d, pt_jr_get(&d, 0, "missing"), out, sizeof(out)), 0);
	assert_string_equal(out, "");
	pt_jr_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_objects_paths_and_spans),
		cmocka_unit_test(test_string_escapes),
		cmocka_unit_test(test_refuses_what_is_not_json),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_cells_for_display),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
