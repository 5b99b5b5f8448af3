/* lib/util/buf: a growable buffer never grows past its declared maximum. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "proctrail/buf.h"

static void test_append_up_to_max(void **state)
{
	struct pt_buf b;
	uint8_t chunk[100];

	(void)state;
	memset(chunk, 'x', sizeof(chunk));
	pt_buf_init(&b, 1000);
	for (int i = 0; i < 10; i++)
		assert_int_equal(pt_buf_append(&b, chunk, sizeof(chunk)), 0);
	assert_int_equal(b.len, 1000);
	/* One byte more is refused and the contents stay as they were. */
	assert_int_equal(pt_buf_append(&b, chunk, 1), -EMSGSIZE);
	assert_int_equal(b.len, 1000);
	assert_true(b.cap <= 1000);
	pt_buf_free(&b);
	pt_buf_free(&b);   /* NULL-safe and idempotent */
	pt_buf_free(NULL);
}

static void test_huge_request_refused_before_allocation(void **state)
{
	struct pt_buf b;

	(void)state;
	pt_buf_init(&b, 64);
	assert_int_equal(pt_buf_append(&b, "ab", 2), 0);
	assert_int_equal(pt_buf_reserve(&b, SIZE_MAX), -EMSGSIZE);
	assert_int_equal(pt_buf_reserve(&b, SIZE_MAX - 1), -EMSGSIZE);
	assert_int_equal(b.len, 2);
	pt_buf_free(&b);
}

static void test_printf_and_consume(void **state)
{
	struct pt_buf b;

	(void)state;
	pt_buf_init(&b, 32);
	assert_int_equal(pt_buf_printf(&b, "%s-%d", "abc", 42), 0);
	assert_int_equal(b.len, 6);
	assert_memory_equal(b.data, "abc-42", 6);
	assert_int_equal(pt_buf_printf(&b, "%040d", 1), -EMSGSIZE);
	assert_int_equal(b.len, 6);
	pt_buf_consume(&b, 4);
	assert_int_equal(b.len, 2);
	assert_memory_equal(b.data, "42", 2);
	pt_buf_consume(&b, 10);
	assert_int_equal(b.len, 0);
	pt_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_up_to_max),
		cmocka_unit_test(test_huge_request_refused_before_allocation),
		cmocka_unit_test(test_printf_and_consume),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
