/* agent/seen + agent/sample: a sample is only a file the agent recorded executing with that
 * hash, and only while it still is that file with that content; chunks cover it exactly. */
#include <errno.h>
#include <fcntl.h>
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

#include "fixture.h"

#include "../../agent/hash.h"
#include "../../agent/sample.h"
#include "../../agent/seen.h"

struct fixture {
	char dir[PT_TMPDIR_LEN];
	char path[128];
	struct pt_seen *seen;
	struct pt_sampler *s;
	uint8_t sha[PT_SHA256_LEN];
	size_t size;
};

PT_TMPDIR_FIXTURE(struct fixture, "pt-test-sample")

/* Writes n bytes, and notes an exec of the file with its identity and `sha` (NULL: its real
 * hash), as the sensor's record would. */
static void make_exec(struct fixture *f, size_t n, const uint8_t *sha)
{
	struct pt_exec x = { 0 };
	struct stat st;
	uint8_t *buf = malloc(n);
	int fd;

	assert_non_null(buf);
	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t)(i * 31 + 7);
	snprintf(f->path, sizeof(f->path), "%s/bin", f->dir);
	fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, n), (ssize_t)n);
	close(fd);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(pt_sha256_buf(buf, n, f->sha), 0);
	free(buf);
	f->size = n;
	x.path = (struct pt_str){ f->path, (uint32_t)strlen(f->path) };
	x.dev = st.st_dev;
	x.ino = st.st_ino;
	x.size = (uint64_t)st.st_size;
	x.mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000ull + (uint64_t)st.st_mtim.tv_nsec;
	x.ctime_ns = (uint64_t)st.st_ctim.tv_sec * 1000000000ull + (uint64_t)st.st_ctim.tv_nsec;
	x.hash_status = PT_HASH_OK;
	memcpy(x.sha256, sha ? sha : f->sha, PT_SHA256_LEN);
	if (sha)
		memcpy(f->sha, sha, PT_SHA256_LEN);
	assert_int_equal(pt_seen_new(8, &f->seen), 0);
	assert_int_equal(pt_sampler_new(f->seen, 1u << 20, &f->s), 0);
	pt_seen_note(f->seen, &x);
}

static void done(struct fixture *f)
{
	pt_sampler_free(f->s);
	pt_seen_free(f->seen);
	f->s = NULL;
	f->seen = NULL;
}

static uint32_t ask(struct fixture *f, uint64_t off, uint32_t len, struct pt_sample_data *d)
{
	struct pt_sample_get g = { .id = 9, .offset = off, .length = len };

	memcpy(g.sha256, f->sha, PT_SHA256_LEN);
	pt_sampler_serve(f->s, &g, d);
	assert_int_equal(d->id, 9);
	return d->code;
}

static void test_chunks_cover_the_file(void **state)
{
	struct fixture *f = *state;
	struct pt_sample_data d;
	uint8_t got[PT_SHA256_LEN], *all;
	uint64_t off = 0;

	make_exec(f, 300000, NULL);
	all = malloc(f->size);
	assert_non_null(all);
	while (off < f->size) {
		assert_int_equal(ask(f, off, 65536, &d), PT_SAMPLE_OK);
		assert_int_equal(d.size, f->size);
		assert_int_equal(d.offset, off);
		assert_true(d.body_len > 0 && d.body_len <= 65536);
		memcpy(all + off, d.body, d.body_len);
		off += d.body_len;
	}
	assert_int_equal(off, f->size);
	assert_int_equal(pt_sha256_buf(all, f->size, got), 0);
	assert_memory_equal(got, f->sha, PT_SHA256_LEN);
	/* at the end: an empty chunk; past it: refused */
	assert_int_equal(ask(f, f->size, 65536, &d), PT_SAMPLE_OK);
	assert_int_equal(d.body_len, 0);
	assert_int_equal(ask(f, f->size + 1, 65536, &d), PT_SAMPLE_BAD_REQUEST);
	assert_int_equal(ask(f, 0, PT_SAMPLE_CHUNK_MAX + 1, &d), PT_SAMPLE_BAD_REQUEST);
	free(all);
	done(f);
}

static void test_never_seen(void **state)
{
	struct fixture *f = *state;
	struct pt_sample_data d;

	make_exec(f, 100, NULL);
	f->sha[0] ^= 1;
	assert_int_equal(ask(f, 0, 4096, &d), PT_SAMPLE_NOT_SEEN);
	assert_int_equal(d.body_len, 0);
	assert_true(d.message.len > 0);
	done(f);
}

/* The file keeps the identity recorded at the exec but its content does not have the hash the
 * record says (what a rewrite that preserved every timestamp would look like): the re-hash
 * before sending catches it. */
static void test_rehash_refuses_other_content(void **state)
{
	struct fixture *f = *state;
	struct pt_sample_data d;
	uint8_t other[PT_SHA256_LEN];

	memset(other, 0x11, sizeof(other));
	make_exec(f, 5000, other);
	assert_int_equal(ask(f, 0, 4096, &d), PT_SAMPLE_CHANGED);
	assert_non_null(strstr(d.message.ptr, "no longer has this hash"));
	done(f);
}

static void test_changed_gone_symlink(void **state)
{
	struct fixture *f = *state;
	struct pt_sample_data d;
	char target[160];
	int fd;

	make_exec(f, 5000, NULL);
	assert_int_equal(ask(f, 0, 4096, &d), PT_SAMPLE_OK);
	/* written after the exec (mtime/ctime move): another file now, even mid-transfer */
	fd = open(f->path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	close(fd);
	assert_int_equal(ask(f, 4096, 4096, &d), PT_SAMPLE_CHANGED);
	assert_int_equal(ask(f, 0, 4096, &d), PT_SAMPLE_CHANGED);
	done(f);

	make_exec(f, 5000, NULL);
	snprintf(target, sizeof(target), "%s/elsewhere", f->dir);
	assert_int_equal(rename(f->path, target), 0);
	assert_int_equal(ask(f, 0, 4096, &d), PT_SAMPLE_GONE);
	/* a symlink put at the recorded path, to the very file: not followed */
	assert_int_equal(symlink(target, f->path), 0);
	assert_int_equal(ask(f, 0, 4096, &d), PT_SAMPLE_CHANGED);
	done(f);
}

static void test_size_limit_and_memfd(void **state)
{
	struct fixture *f = *state;
	struct pt_sample_data d;
	struct pt_exec x = { .hash_status = PT_HASH_OK, .flags = PT_EXEC_F_MEMFD,
			     .path = { "/memfd:x", 8 } };
	char path[PT_PATH_MAX + 1];
	struct pt_file_id id;

	make_exec(f, 5000, NULL);
	pt_sampler_free(f->s);
	assert_int_equal(pt_sampler_new(f->seen, 4999, &f->s), 0);
	assert_int_equal(ask(f, 0, 4096, &d), PT_SAMPLE_TOO_LARGE);
	/* a memfd has no name to read it from again: never recorded */
	memset(x.sha256, 0x22, PT_SHA256_LEN);
	pt_seen_note(f->seen, &x);
	assert_false(pt_seen_find(f->seen, x.sha256, path, &id));
	done(f);
}

/* The table is bounded: the least recently executed hash gives way. */
static void test_seen_bounded(void **state)
{
	struct pt_seen *t;
	struct pt_exec x = { .hash_status = PT_HASH_OK, .path = { "/bin/x", 6 } };
	char path[PT_PATH_MAX + 1];
	struct pt_file_id id;

	(void)state;
	assert_int_equal(pt_seen_new(4, &t), 0);
	for (int i = 0; i < 5; i++) {
		memset(x.sha256, i + 1, PT_SHA256_LEN);
		pt_seen_note(t, &x);
		if (i == 3) {   /* 1 is executed again: 2 is now the oldest */
			memset(x.sha256, 1, PT_SHA256_LEN);
			pt_seen_note(t, &x);
		}
	}
	memset(x.sha256, 2, PT_SHA256_LEN);
	assert_false(pt_seen_find(t, x.sha256, path, &id));
	for (int i = 1; i <= 5; i++) {
		if (i == 2)
			continue;
		memset(x.sha256, i, PT_SHA256_LEN);
		assert_true(pt_seen_find(t, x.sha256, path, &id));
		assert_string_equal(path, "/bin/x");
	}
	pt_seen_free(t);
	pt_seen_free(NULL);
	pt_sampler_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_chunks_cover_the_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_never_seen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rehash_refuses_other_content, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changed_gone_symlink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_size_limit_and_memfd, setup, teardown),
		cmocka_unit_test(test_seen_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
