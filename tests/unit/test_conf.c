#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "proctrail/conf.h"

static int parse(struct pt_conf *c, const char *s, char *err, size_t errlen)
{
	pt_conf_init(c, "test.conf");
	return pt_conf_parse(c, s, strlen(s), err, errlen);
}

static void test_basic(void **state)
{
	struct pt_conf c;
	char err[256] = "";
	size_t pos = 0;

	(void)state;
	assert_int_equal(parse(&c, "# comment\n\n  listen = 127.0.0.1:7443  \n"
				   "name=\"  spaced  \"\ncollector = a\ncollector = b\nempty =\n",
			       err, sizeof(err)), 0);
	assert_int_equal(c.n, 5);
	assert_string_equal(pt_conf_get(&c, "listen"), "127.0.0.1:7443");
	assert_string_equal(pt_conf_get(&c, "name"), "  spaced  ");
	assert_string_equal(pt_conf_get(&c, "collector"), "b");
	assert_string_equal(pt_conf_get(&c, "empty"), "");
	assert_null(pt_conf_get(&c, "missing"));
	assert_string_equal(pt_conf_next(&c, "collector", &pos), "a");
	assert_string_equal(pt_conf_next(&c, "collector", &pos), "b");
	assert_null(pt_conf_next(&c, "collector", &pos));
	assert_int_equal(c.v[0].line, 3);
	pt_conf_free(&c);
	pt_conf_free(NULL);
}

static void test_errors(void **state)
{
	struct pt_conf c;
	char err[256];
	char *big;

	(void)state;
	assert_int_equal(parse(&c, "a = 1\nnovalue\n", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "test.conf:2: expected '=' after key");
	assert_int_equal(c.n, 0);
	assert_int_equal(parse(&c, "= 3\n", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "test.conf:1: expected a key");
	assert_int_equal(parse(&c, "k = \"open\n", err, sizeof(err)), -EINVAL);
	assert_int_equal(parse(&c, "k = \"a\"b\"\n", err, sizeof(err)), -EINVAL);
	assert_int_equal(parse(&c, "k$ = 1\n", err, sizeof(err)), -EINVAL);

	big = malloc(PT_CONF_LINE_MAX + 16);
	assert_non_null(big);
	memset(big, 'x', PT_CONF_LINE_MAX + 8);
	memcpy(big, "k = ", 4);
	big[PT_CONF_LINE_MAX + 8] = '\0';
	assert_int_equal(parse(&c, big, err, sizeof(err)), -EMSGSIZE);
	assert_string_equal(err, "test.conf:1: line longer than 4096 bytes");
	/* exactly at the limit is accepted */
	big[PT_CONF_LINE_MAX] = '\0';
	assert_int_equal(parse(&c, big, err, sizeof(err)), 0);
	assert_int_equal(strlen(pt_conf_get(&c, "k")), PT_CONF_LINE_MAX - 4);
	pt_conf_free(&c);
	free(big);

	pt_conf_init(&c, "nul");
	assert_int_equal(pt_conf_parse(&c, "a = b\0c", 7, err, sizeof(err)), -EINVAL);
}

static void test_too_many(void **state)
{
	struct pt_conf c;
	char err[256];
	char *s = malloc((PT_CONF_ENTRIES_MAX + 1) * 8 + 1);
	size_t i, off = 0;

	(void)state;
	assert_non_null(s);
	for (i = 0; i <= PT_CONF_ENTRIES_MAX; i++)
		off += (size_t)snprintf(s + off, 9, "k = %03zu\n", i % 1000);
	assert_int_equal(parse(&c, s, err, sizeof(err)), -EMSGSIZE);
	assert_int_equal(c.n, 0);
	free(s);
}

static void test_values(void **state)
{
	char err[256];
	uint64_t v = 0;
	int b = -1;

	(void)state;
	assert_int_equal(pt_conf_u64("n", "42", 0, 100, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 42);
	assert_int_equal(pt_conf_u64("n", "101", 0, 100, &v, err, sizeof(err)), -ERANGE);
	assert_string_equal(err, "n: 101 is outside [0, 100]");
	assert_int_equal(pt_conf_u64("n", "-1", 0, 100, &v, err, sizeof(err)), -EINVAL);
	assert_int_equal(pt_conf_u64("n", "4x", 0, 100, &v, err, sizeof(err)), -EINVAL);
	assert_int_equal(pt_conf_u64("n", "", 0, 100, &v, err, sizeof(err)), -EINVAL);
	assert_int_equal(pt_conf_u64("n", "99999999999999999999999", 0, UINT64_MAX, &v, err,
				     sizeof(err)), -ERANGE);
	assert_int_equal(pt_conf_bool("b", "yes", &b, err, sizeof(err)), 0);
	assert_int_equal(b, 1);
	assert_int_equal(pt_conf_bool("b", "off", &b, err, sizeof(err)), 0);
	assert_int_equal(b, 0);
	assert_int_equal(pt_conf_bool("b", "maybe", &b, err, sizeof(err)), -EINVAL);
}

static void test_load(void **state)
{
	struct pt_conf c;
	char err[256], path[] = "/tmp/test_conf_XXXXXX";
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "a = 1\nb = two\n", 14), 14);
	close(fd);
	pt_conf_init(&c, NULL);
	assert_int_equal(pt_conf_load(&c, path, err, sizeof(err)), 0);
	assert_string_equal(pt_conf_get(&c, "b"), "two");
	pt_conf_free(&c);
	unlink(path);
	pt_conf_init(&c, NULL);
	assert_int_equal(pt_conf_load(&c, path, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, path));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_too_many),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
