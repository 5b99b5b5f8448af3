/* lib/util/escape: peer strings are shown with every control, bidi override and invalid byte
 * escaped, readable back, and bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "proctrail/escape.h"

static const char *esc(const char *in, size_t len)
{
	static char out[256];

	return pt_escape(out, sizeof(out), in, len);
}

#define ESC(lit) esc(lit, sizeof(lit) - 1)

static void test_plain_text_is_kept(void **state)
{
	(void)state;
	assert_string_equal(ESC("db1.example.org"), "db1.example.org");
	assert_string_equal(ESC("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80"),
			    "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80");
	assert_string_equal(esc(NULL, 0), "");
}

static void test_controls_are_escaped(void **state)
{
	(void)state;
	/* the planted log line of the finding: newline, fake text, ESC */
	assert_string_equal(ESC("x\nagent db1 (10.9.9.9:1) connected\x1b[31m"),
			    "x\\nagent db1 (10.9.9.9:1) connected\\x1b[31m");
	assert_string_equal(ESC("a\rb\tc\\d\x7f\x01"), "a\\rb\\tc\\\\d\\x7f\\x01");
	assert_string_equal(esc("a\0b", 3), "a\\x00b");
}

static void test_c1_and_bidi_are_escaped(void **state)
{
	(void)state;
	assert_string_equal(ESC("\xc2\x9b" "31m"), "\\u009b31m");              /* C1 CSI */
	assert_string_equal(ESC("\xc2\x85"), "\\u0085");                      /* NEL */
	assert_string_equal(ESC("db1\xe2\x80\xae" "cod.exe"), "db1\\u202ecod.exe");   /* RLO */
	assert_string_equal(ESC("\xe2\x80\xaa\xe2\x81\xa6\xe2\x81\xa9\xe2\x80\x8e\xe2\x80\x8f\xd8\x9c"),
			    "\\u202a\\u2066\\u2069\\u200e\\u200f\\u061c");
	assert_string_equal(ESC("\xe2\x80\xa8\xe2\x80\xa9"), "\\u2028\\u2029");
	assert_false(pt_codepoint_is_hostile(0xa0));
	assert_false(pt_codepoint_is_hostile(0x202f));
	assert_true(pt_codepoint_is_hostile(0x9f));
}

static void test_invalid_utf8_is_escaped_bytewise(void **state)
{
	(void)state;
	assert_string_equal(ESC("\xff\xfe"), "\\xff\\xfe");
	assert_string_equal(ESC("\xc0\xaf"), "\\xc0\\xaf");                   /* overlong '/' */
	assert_string_equal(ESC("\xe0\x80\xaf"), "\\xe0\\x80\\xaf");           /* overlong */
	assert_string_equal(ESC("\xed\xa0\x80"), "\\xed\\xa0\\x80");           /* surrogate */
	assert_string_equal(ESC("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  /* > U+10FFFF */
	assert_string_equal(ESC("\xe2\x80"), "\\xe2\\x80");                    /* cut short */
	assert_string_equal(ESC("\xc2"), "\\xc2");
}

static void test_clean_check(void **state)
{
	(void)state;
	assert_true(pt_str_is_clean("db1-01.example", 14));
	assert_true(pt_str_is_clean("caf\xc3\xa9", 5));
	assert_true(pt_str_is_clean(NULL, 0));
	assert_false(pt_str_is_clean("db1\x1b[2J", 7));
	assert_false(pt_str_is_clean("db1\xe2\x80\xae", 6));
	assert_false(pt_str_is_clean("\xc2\x9b", 2));
	assert_false(pt_str_is_clean("a\0b", 3));
	assert_false(pt_str_is_clean("\xff", 1));
}

static void test_output_is_bounded(void **state)
{
	char out[16], in[100];
	struct pt_esc b;

	(void)state;
	memset(in, 'a', sizeof(in));
	assert_string_equal(pt_escape(out, sizeof(out), in, sizeof(in)), "aaaaaaaaaaa\\...");
	/* exactly fitting input gets no marker */
	assert_string_equal(pt_escape(out, sizeof(out), in, 15), "aaaaaaaaaaaaaaa");
	/* an escape is never cut in half */
	assert_string_equal(pt_escape(out, sizeof(out), "aaaaaaaaaa\x1b\x1b\x1b", 13),
			    "aaaaaaaaaa\\...");
	/* nor a UTF-8 sequence */
	assert_string_equal(pt_escape(out, 8, "abc\xe6\x97\xa5\xe6\x97\xa5", 9), "abc\\...");
	assert_string_equal(pt_escape(out, 4, "abcdef", 6), "");
	assert_string_equal(pt_escape(out, 5, "abcdef", 6), "\\...");
	memset(in, '\n', sizeof(in));
	assert_true(strlen(pt_esc(&b, in, sizeof(in))) < PT_ESCAPE_LOG_MAX);
	assert_true(strlen(pt_esc(&b, in, sizeof(in))) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_text_is_kept),
		cmocka_unit_test(test_controls_are_escaped),
		cmocka_unit_test(test_c1_and_bidi_are_escaped),
		cmocka_unit_test(test_invalid_utf8_is_escaped_bytewise),
		cmocka_unit_test(test_clean_check),
		cmocka_unit_test(test_output_is_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
