/* Small files read whole and replaced atomically (lib/util/file.c). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "fixture.h"
#include "proctrail/file.h"

struct fx {
	char dir[PT_TMPDIR_LEN];
	char path[PT_TMPDIR_LEN + 32];
};
PT_TMPDIR_FIXTURE(struct fx, "test_file")

static struct fx *fx_path(void **state, const char *name)
{
	struct fx *f = *state;

	snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, name);
	return f;
}

static void test_replace_then_read(void **state)
{
	struct fx *f = fx_path(state, "a");
	struct stat st;
	char *out;
	size_t len;

	umask(077);
	assert_int_equal(pt_file_replace(f->path, "one\n", 4, 0644, (gid_t)-1), 0);
	assert_int_equal(stat(f->path, &st), 0);
	/* The mode is exact, not filtered by the umask. */
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(pt_file_replace(f->path, "second", 6, 0600, (gid_t)-1), 0);
	assert_int_equal(pt_file_read(f->path, 0, 64, &out, &len), 0);
	assert_int_equal(len, 6);
	assert_string_equal(out, "second");
	free(out);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	strcat(f->path, ".tmp");
	assert_int_equal(access(f->path, F_OK), -1);
}

static void test_read_bounds(void **state)
{
	struct fx *f = fx_path(state, "b");
	char *out = (char *)1;
	size_t len = 99;

	assert_int_equal(pt_file_replace(f->path, "12345678", 8, 0600, (gid_t)-1), 0);
	assert_int_equal(pt_file_read(f->path, 0, 8, &out, &len), 0);
	assert_int_equal(len, 8);
	free(out);
	out = (char *)1;
	assert_int_equal(pt_file_read(f->path, 0, 7, &out, NULL), -EMSGSIZE);
	assert_null(out);
	assert_int_equal(pt_file_replace(f->path, "", 0, 0600, (gid_t)-1), 0);
	assert_int_equal(pt_file_read(f->path, 0, 0, &out, &len), 0);
	assert_int_equal(len, 0);
	assert_string_equal(out, "");
	free(out);
	strcat(f->path, "-missing");
	assert_int_equal(pt_file_read(f->path, 0, 8, &out, NULL), -ENOENT);
}

static void test_nofollow_and_stale_tmp(void **state)
{
	struct fx *f = fx_path(state, "c");
	char link[sizeof(f->path) + 8], tmp[sizeof(f->path) + 8];
	char *out;

	snprintf(tmp, sizeof(tmp), "%s.tmp", f->path);
	/* A temporary file left by a crash is replaced, not appended to or refused. */
	assert_int_equal(pt_file_replace(tmp, "stale", 5, 0600, (gid_t)-1), 0);
	assert_int_equal(pt_file_replace(f->path, "fresh", 5, 0600, (gid_t)-1), 0);
	assert_int_equal(pt_file_read(f->path, 0, 16, &out, NULL), 0);
	assert_string_equal(out, "fresh");
	free(out);
	snprintf(link, sizeof(link), "%s.lnk", f->path);
	assert_int_equal(symlink(f->path, link), 0);
	assert_int_equal(pt_file_read(link, O_NOFOLLOW, 16, &out, NULL), -ELOOP);
	assert_int_equal(pt_file_read(link, 0, 16, &out, NULL), 0);
	free(out);
}

static void test_replace_fails_cleanly(void **state)
{
	struct fx *f = fx_path(state, "no-such-dir/d");

	assert_int_equal(pt_file_replace(f->path, "x", 1, 0600, (gid_t)-1), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_replace_then_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nofollow_and_stale_tmp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replace_fails_cleanly, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
