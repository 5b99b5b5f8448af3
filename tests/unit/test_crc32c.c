#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "proctrail/crc32c.h"

/* RFC 3720 B.4 check values and the classic "123456789" check value. */
static void test_known_vectors(void **state)
{
	(void)state;
	uint8_t buf[32];

	assert_int_equal(pt_crc32c(0, "123456789", 9), 0xE3069283u);
	assert_int_equal(pt_crc32c_sw(0, "123456789", 9), 0xE3069283u);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(pt_crc32c(0, buf, 32), 0x8A9136AAu);
	memset(buf, 0xff, sizeof(buf));
	assert_int_equal(pt_crc32c(0, buf, 32), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	assert_int_equal(pt_crc32c(0, buf, 32), 0x46DD794Eu);
	assert_int_equal(pt_crc32c_sw(0, buf, 32), 0x46DD794Eu);
	assert_int_equal(pt_crc32c(0, NULL, 0), 0);
}

/* Hardware and table agree on every length and alignment, and chaining equals one pass. */
static void test_hw_sw_agree(void **state)
{
	(void)state;
	uint8_t buf[1100];
	uint32_t x = 12345;

	for (size_t i = 0; i < sizeof(buf); i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (uint8_t)(x >> 16);
	}
	for (size_t off = 0; off < 9; off++)
		for (size_t len = 0; len < 1024; len += 7) {
			uint32_t a = pt_crc32c(0, buf + off, len);
			assert_int_equal(a, pt_crc32c_sw(0, buf + off, len));
			size_t half = len / 3;
			uint32_t b = pt_crc32c(pt_crc32c(0, buf + off, half), buf + off + half, len - half);
			assert_int_equal(a, b);
		}
}

static void test_detects_bit_flip(void **state)
{
	(void)state;
	uint8_t buf[256] = { 0 };
	uint32_t ref = pt_crc32c(0, buf, sizeof(buf));

	for (size_t bit = 0; bit < sizeof(buf) * 8; bit += 13) {
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_not_equal(pt_crc32c(0, buf, sizeof(buf)), ref);
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_vectors),
		cmocka_unit_test(test_hw_sw_agree),
		cmocka_unit_test(test_detects_bit_flip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
