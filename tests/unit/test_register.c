#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "proctrail/register.h"

#define HDR PT_REG_HEADER "\n"

static int parse(struct pt_register *r, const char *s, size_t *bad)
{
	pt_register_init(r);
	return pt_register_parse(r, s, strlen(s), bad);
}

static void test_parse_ok(void **state)
{
	struct pt_register r;
	size_t bad = 99;

	(void)state;
	assert_int_equal(parse(&r, HDR "A0B1\tproctrail-server\t100\t200\tV\t-\n"
				       "# a comment\n"
				       "FF\talpha\t100\t200\tR\t150\n"
				       "1\talpha.b_c-d\t0\t0\tV\t-", &bad), 0);
	assert_int_equal(bad, 0);
	assert_int_equal(r.n, 3);
	assert_string_equal(r.v[0].serial, "A0B1");
	assert_string_equal(r.v[0].name, "proctrail-server");
	assert_int_equal(r.v[0].not_before, 100);
	assert_int_equal(r.v[0].not_after, 200);
	assert_int_equal(r.v[0].status, PT_REG_VALID);
	assert_int_equal(r.v[0].revoked_at, 0);
	assert_int_equal(r.v[1].status, PT_REG_REVOKED);
	assert_int_equal(r.v[1].revoked_at, 150);
	assert_non_null(pt_register_find(&r, "FF"));
	assert_null(pt_register_find(&r, "ff"));
	pt_register_free(&r);
	pt_register_free(NULL);
}

static void test_parse_malformed(void **state)
{
	static const struct {
		const char *text;
		size_t line;
	} bad_cases[] = {
		{ HDR "\n", 2 },                                        /* empty line */
		{ HDR "A\talpha\t1\t2\tV\n", 2 },                       /* five fields */
		{ HDR "A\talpha\t1\t2\tV\t-\textra\n", 2 },             /* seven fields */
		{ HDR "A\talpha\t1\t2\tV\t-\t\n", 2 },                  /* trailing tab */
		{ HDR "a0\talpha\t1\t2\tV\t-\n", 2 },                   /* lower-case serial */
		{ HDR "0A\talpha\t1\t2\tV\t-\n", 2 },                   /* leading zero */
		{ HDR "XY\talpha\t1\t2\tV\t-\n", 2 },                   /* not hex */
		{ HDR "\talpha\t1\t2\tV\t-\n", 2 },                     /* empty serial */
		{ HDR "12345678901234567890123456789012345678901\ta\t1\t2\tV\t-\n", 2 }, /* 41 digits */
		{ HDR "A\t-alpha\t1\t2\tV\t-\n", 2 },                   /* bad name */
		{ HDR "A\tal pha\t1\t2\tV\t-\n", 2 },
		{ HDR "A\t\t1\t2\tV\t-\n", 2 },
		{ HDR "A\talpha\t-1\t2\tV\t-\n", 2 },                   /* negative */
		{ HDR "A\talpha\t1x\t2\tV\t-\n", 2 },
		{ HDR "A\talpha\t3\t2\tV\t-\n", 2 },                    /* notAfter before notBefore */
		{ HDR "A\talpha\t1\t99999999999999999999\tV\t-\n", 2 }, /* overflow */
		{ HDR "A\talpha\t1\t9223372036854775808\tV\t-\n", 2 },  /* INT64_MAX + 1 */
		{ HDR "A\talpha\t1\t2\tX\t-\n", 2 },                    /* status */
		{ HDR "A\talpha\t1\t2\tVV\t-\n", 2 },
		{ HDR "A\talpha\t1\t2\tV\t5\n", 2 },                    /* valid with a date */
		{ HDR "A\talpha\t1\t2\tR\t-\n", 2 },                    /* revoked without one */
		{ HDR "A\talpha\t1\t2\tR\t0\n", 2 },
		{ HDR "A\talpha\t1\t2\tV\t-\nA\tbeta\t1\t2\tV\t-\n", 3 }, /* duplicate serial */
		{ HDR "A\talpha\t1\t2\tV\t-\r\n", 2 },                  /* CRLF */
	};
	struct pt_register r;
	size_t i, bad;

	(void)state;
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		bad = 0;
		assert_int_equal(parse(&r, bad_cases[i].text, &bad), -EBADMSG);
		assert_int_equal(bad, bad_cases[i].line);
		assert_int_equal(r.n, 0);
		assert_null(r.v);
	}
}

static void test_parse_limits(void **state)
{
	struct pt_register r;
	char line[PT_REG_LINE_MAX + 64];
	char nul[] = HDR "A\talpha\t1\t2\tV\t-\n";
	size_t bad;

	(void)state;
	/* An overlong comment line. */
	memset(line, '#', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	assert_int_equal(parse(&r, line, &bad), -EBADMSG);
	assert_int_equal(bad, 1);
	/* A NUL byte anywhere. */
	nul[sizeof(PT_REG_HEADER) + 1] = '\0';
	pt_register_init(&r);
	assert_int_equal(pt_register_parse(&r, nul, sizeof(nul) - 1, &bad), -EBADMSG);
	/* Over the file size bound: refused before looking at the bytes. */
	assert_int_equal(pt_register_parse(&r, nul, (size_t)PT_REG_FILE_MAX + 1, &bad), -E2BIG);
}

static void test_add_and_canon(void **state)
{
	struct pt_register r;
	struct pt_reg_entry e = { .serial = "ABC", .name = "alpha", .not_before = 1,
				  .not_after = 2, .status = PT_REG_VALID };
	char c[PT_REG_SERIAL_MAX + 1];

	(void)state;
	pt_register_init(&r);
	assert_int_equal(pt_register_add(&r, &e), 0);
	assert_int_equal(pt_register_add(&r, &e), -EEXIST);
	e.status = 'Q';
	snprintf(e.serial, sizeof(e.serial), "ABD");
	assert_int_equal(pt_register_add(&r, &e), -EINVAL);
	e.status = PT_REG_REVOKED;
	assert_int_equal(pt_register_add(&r, &e), -EINVAL);     /* revoked without a time */
	pt_register_free(&r);

	assert_int_equal(pt_register_serial_canon(c, "000a0b"), 0);
	assert_string_equal(c, "A0B");
	assert_int_equal(pt_register_serial_canon(c, "0"), 0);
	assert_string_equal(c, "0");
	assert_int_equal(pt_register_serial_canon(c, ""), -EINVAL);
	assert_int_equal(pt_register_serial_canon(c, "0x12"), -EINVAL);
	assert_int_equal(pt_register_serial_canon(c, "12345678901234567890123456789012345678901"),
			 -EINVAL);
}

static void test_save_load_roundtrip(void **state)
{
	char dir[] = "/tmp/test_register.XXXXXX", path[128], tmp[160];
	struct pt_register r, back;
	struct pt_reg_entry e = { .not_before = 1700000000, .not_after = 1800000000,
				  .status = PT_REG_VALID };
	struct stat st;
	size_t bad, i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/issued.tsv", dir);
	pt_register_init(&r);
	pt_register_init(&back);
	assert_int_equal(pt_register_load(&back, path, &bad), -ENOENT);
	for (i = 0; i < 100; i++) {
		snprintf(e.serial, sizeof(e.serial), "%zX", i + 1);
		snprintf(e.name, sizeof(e.name), "agent-%zu", i % 7);
		e.status = i % 3 ? PT_REG_VALID : PT_REG_REVOKED;
		e.revoked_at = i % 3 ? 0 : 1750000000 + (int64_t)i;
		assert_int_equal(pt_register_add(&r, &e), 0);
	}
	umask(077);
	assert_int_equal(pt_register_save(&r, path, 0644), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);       /* not narrowed by the umask */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_equal(access(tmp, F_OK), -1);         /* no temporary left behind */
	assert_int_equal(pt_register_load(&back, path, &bad), 0);
	assert_int_equal(back.n, r.n);
	for (i = 0; i < r.n; i++) {
		assert_string_equal(back.v[i].serial, r.v[i].serial);
		assert_string_equal(back.v[i].name, r.v[i].name);
		assert_int_equal(back.v[i].not_before, r.v[i].not_before);
		assert_int_equal(back.v[i].not_after, r.v[i].not_after);
		assert_int_equal(back.v[i].status, r.v[i].status);
		assert_int_equal(back.v[i].revoked_at, r.v[i].revoked_at);
	}
	pt_register_free(&back);
	pt_register_free(&r);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_parse_limits),
		cmocka_unit_test(test_add_and_canon),
		cmocka_unit_test(test_save_load_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
