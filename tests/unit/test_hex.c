#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "proctrail/hex.h"

static void test_round_trip(void **state)
{
	uint8_t in[32], out[32];
	char text[65];

	(void)state;
	for (int i = 0; i < 32; i++)
		in[i] = (uint8_t)(i * 37 + 11);
	pt_hex_encode(in, sizeof(in), text);
	assert_int_equal(strlen(text), 64);
	assert_int_equal(pt_hex_decode(text, 64, out, sizeof(out)), 0);
	assert_memory_equal(in, out, sizeof(in));
	pt_hex_encode((const uint8_t *)"\x00\xff\x0a", 3, text);
	assert_string_equal(text, "00ff0a");
}

static void test_either_case_in_lower_out(void **state)
{
	uint8_t out[2];

	(void)state;
	assert_int_equal(pt_hex_decode("AbCd", 4, out, 2), 0);
	assert_int_equal(out[0], 0xab);
	assert_int_equal(out[1], 0xcd);
}

static void test_refuses_and_leaves_output(void **state)
{
	uint8_t out[2] = { 0x55, 0x55 };

	(void)state;
	assert_int_equal(pt_hex_decode("abc", 3, out, 2), -EINVAL);      /* odd */
	assert_int_equal(pt_hex_decode("abcdef", 6, out, 2), -EINVAL);   /* long */
	assert_int_equal(pt_hex_decode("ab g", 4, out, 2), -EINVAL);     /* space, g */
	assert_int_equal(pt_hex_decode("ab\0d", 4, out, 2), -EINVAL);    /* NUL inside */
	assert_int_equal(pt_hex_decode("0x12", 4, out, 2), -EINVAL);     /* no prefix */
	assert_int_equal(pt_hex_decode("abc\xff", 4, out, 2), -EINVAL);  /* high byte */
	assert_int_equal(out[0], 0x55);
	assert_int_equal(out[1], 0x55);
	assert_int_equal(pt_hex_digit('/'), -1);
	assert_int_equal(pt_hex_digit(':'), -1);
	assert_int_equal(pt_hex_digit('@'), -1);
	assert_int_equal(pt_hex_digit('G'), -1);
	assert_int_equal(pt_hex_digit('`'), -1);
	assert_int_equal(pt_hex_digit('F'), 15);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_either_case_in_lower_out),
		cmocka_unit_test(test_refuses_and_leaves_output),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
