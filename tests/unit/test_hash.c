/* agent/hash: a hash is of the executed file or absent with the right reason; the cache
 * keyed by file identity serves a second request without reading. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "fixture.h"

#include "../../agent/hash.h"

/* SHA-256("abc"), FIPS 180-2 */
static const uint8_t abc_sha[32] = {
	0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
	0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
};

#define NO_PID 0x7ffffff0u   /* above pid_max: /proc/NO_PID/exe never exists */

struct fixture {
	char dir[PT_TMPDIR_LEN];
	char path[128];
};

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void id_of(const char *path, struct pt_file_id *id)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	*id = (struct pt_file_id){ st.st_dev, st.st_ino, (uint64_t)st.st_size,
		(uint64_t)st.st_mtim.tv_sec * 1000000000ull + (uint64_t)st.st_mtim.tv_nsec,
		(uint64_t)st.st_ctim.tv_sec * 1000000000ull + (uint64_t)st.st_ctim.tv_nsec };
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	if (pt_tmpdir_make(f->dir, "test_hash"))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/bin", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	int rc = pt_tmpdir_remove(f->dir);

	free(f);
	return rc;
}

static void test_matching_file(void **state)
{
	struct fixture *f = *state;
	struct pt_file_id id;
	uint8_t sha[32];
	bool deleted = true;

	write_file(f->path, "abc");
	id_of(f->path, &id);
	assert_int_equal(pt_hash_executed(&id, f->path, NO_PID, false, 1 << 20, sha, &deleted), PT_HASH_OK);
	assert_memory_equal(sha, abc_sha, 32);
	assert_false(deleted);
}

static void test_too_large_is_not_read(void **state)
{
	struct fixture *f = *state;
	struct pt_file_id id;
	uint8_t sha[32];
	bool deleted;

	write_file(f->path, "abc");
	id_of(f->path, &id);
	assert_int_equal(pt_hash_executed(&id, f->path, NO_PID, false, 2, sha, &deleted),
			 PT_HASH_TOO_LARGE);
}

static void test_replaced_file_is_changed(void **state)
{
	struct fixture *f = *state;
	struct pt_file_id id;
	char other[160];
	uint8_t sha[32];
	bool deleted;

	write_file(f->path, "abc");
	id_of(f->path, &id);
	snprintf(other, sizeof(other), "%s/other", f->dir);
	write_file(other, "abd");
	assert_int_equal(rename(other, f->path), 0);
	assert_int_equal(pt_hash_executed(&id, f->path, NO_PID, false, 1 << 20, sha, &deleted),
			 PT_HASH_CHANGED);
}

static void test_modified_in_place_is_changed(void **state)
{
	struct fixture *f = *state;
	struct pt_file_id id;
	uint8_t sha[32];
	bool deleted;
	int fd;

	write_file(f->path, "abc");
	id_of(f->path, &id);
	usleep(10000);
	fd = open(f->path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "d", 1), 1);
	close(fd);
	assert_int_equal(pt_hash_executed(&id, f->path, NO_PID, false, 1 << 20, sha, &deleted),
			 PT_HASH_CHANGED);
}

static void test_fifo_at_path_is_not_opened(void **state)
{
	struct fixture *f = *state;
	struct pt_file_id id;
	uint8_t sha[32];
	bool deleted;

	/* a FIFO put where the binary was: opening it for reading would block forever */
	write_file(f->path, "abc");
	id_of(f->path, &id);
	assert_int_equal(unlink(f->path), 0);
	assert_int_equal(mkfifo(f->path, 0644), 0);
	assert_int_equal(pt_hash_executed(&id, f->path, NO_PID, false, 1 << 20, sha, &deleted),
			 PT_HASH_CHANGED);
}

static void test_vanished_file_is_gone(void **state)
{
	struct fixture *f = *state;
	struct pt_file_id id;
	uint8_t sha[32];
	bool deleted;

	write_file(f->path, "abc");
	id_of(f->path, &id);
	assert_int_equal(unlink(f->path), 0);
	assert_int_equal(pt_hash_executed(&id, f->path, NO_PID, false, 1 << 20, sha, &deleted),
			 PT_HASH_GONE);
}

/* Under valgrind, opening /proc/PID/exe gives this program but stat() of it the tool: this
 * process has no /proc/PID/exe the kernel's way, so the fallback cannot be tried. */
static bool exe_is_virtual(void)
{
	struct stat viastat, viaopen;
	char exe[64];
	int pfd;
	bool differ;

	snprintf(exe, sizeof(exe), "/proc/%d/exe", (int)getpid());
	pfd = open(exe, O_PATH | O_CLOEXEC);
	assert_true(pfd >= 0);
	assert_int_equal(fstat(pfd, &viaopen), 0);
	close(pfd);
	assert_int_equal(stat(exe, &viastat), 0);
	differ = viastat.st_dev != viaopen.st_dev || viastat.st_ino != viaopen.st_ino;
	if (differ)
		fprintf(stderr, "%s is not this program's image to stat() (valgrind?): skipped\n", exe);
	return differ;
}

static void test_proc_exe_fallback(void **state)
{
	struct pt_file_id id;
	uint8_t sha[32], want[32];
	bool deleted;
	int fd;

	(void)state;
	if (exe_is_virtual())
		skip();
	/* our own executable, reached only through /proc/PID/exe: the path names nothing */
	id_of("/proc/self/exe", &id);
	assert_int_equal(pt_hash_executed(&id, "/nonexistent/bin", (uint32_t)getpid(), false,
					  1ull << 30, sha, &deleted), PT_HASH_OK);
	fd = open("/proc/self/exe", O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pt_hash_fd(fd, 1ull << 30, want, NULL), 0);
	close(fd);
	assert_memory_equal(sha, want, 32);
	assert_false(deleted);
}

static pid_t run_copy_of_sleep(const char *path)
{
	char cmd[256];
	pid_t p;

	snprintf(cmd, sizeof(cmd), "cp /bin/sleep '%s'", path);
	assert_int_equal(system(cmd), 0);
	p = fork();
	if (p == 0) {
		execl(path, "sleep", "5", (char *)NULL);
		_exit(127);
	}
	assert_true(p > 0);
	usleep(100000);   /* exec done */
	return p;
}

static void stop_child(pid_t p)
{
	kill(p, SIGKILL);
	waitpid(p, NULL, 0);
}

/* rm of a running binary sets its ctime: still hashed, through /proc/PID/exe, marked deleted */
static void test_deleted_running_binary(void **state)
{
	struct fixture *f = *state;
	struct pt_file_id id;
	uint8_t sha[32], want[32];
	bool deleted = false;
	pid_t p = run_copy_of_sleep(f->path);
	int fd = open(f->path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pt_hash_fd(fd, 1 << 30, want, NULL), 0);
	close(fd);
	id_of(f->path, &id);
	usleep(30000);    /* past the coarse clock's tick, so the unlink's ctime differs */
	assert_int_equal(unlink(f->path), 0);
	assert_int_equal(pt_hash_executed(&id, f->path, (uint32_t)p, false, 1 << 30, sha, &deleted),
			 PT_HASH_OK);
	assert_memory_equal(sha, want, 32);
	assert_true(deleted);
	stop_child(p);
}

/* a metadata change of a binary that still has its name is not waved through */
static void test_chmod_running_binary_is_changed(void **state)
{
	struct fixture *f = *state;
	struct pt_file_id id;
	uint8_t sha[32];
	bool deleted;
	pid_t p = run_copy_of_sleep(f->path);

	id_of(f->path, &id);
	usleep(30000);
	assert_int_equal(chmod(f->path, 0700), 0);
	assert_int_equal(pt_hash_executed(&id, f->path, (uint32_t)p, false, 1 << 30, sha, &deleted),
			 PT_HASH_CHANGED);
	stop_child(p);
}

static void test_memfd_without_process(void **state)
{
	struct pt_file_id id = { 1, 2, 3, 4, 5 };
	uint8_t sha[32];
	bool deleted;

	(void)state;
	assert_int_equal(pt_hash_executed(&id, NULL, NO_PID, true, 1 << 20, sha, &deleted), PT_HASH_MEMFD);
}

static void test_hash_fd_cap(void **state)
{
	struct fixture *f = *state;
	uint8_t sha[32];
	uint64_t n;
	int fd;

	write_file(f->path, "abc");
	fd = open(f->path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pt_hash_fd(fd, 2, sha, &n), -EFBIG);
	assert_int_equal(pt_hash_fd(fd, 3, sha, &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(sha, abc_sha, 32);
	close(fd);
}

static void wait_done(struct pt_hash_job *job)
{
	for (int i = 0; i < 5000 && !__atomic_load_n(&job->done, __ATOMIC_ACQUIRE); i++)
		usleep(1000);
	assert_true(__atomic_load_n(&job->done, __ATOMIC_ACQUIRE));
}

static void test_pool_and_cache(void **state)
{
	struct fixture *f = *state;
	struct pt_hasher *h;
	struct pt_hash_job job = { 0 }, again = { 0 };
	struct pt_hash_stats st;
	uint64_t ev;
	int efd = eventfd(0, EFD_CLOEXEC);

	assert_true(efd >= 0);
	write_file(f->path, "abc");
	assert_int_equal(pt_hasher_new(0, 1 << 20, 16, efd, &h), -EINVAL);
	assert_int_equal(pt_hasher_new(2, 1 << 20, 16, efd, &h), 0);
	id_of(f->path, &job.id);
	job.path = f->path;
	job.pid = NO_PID;
	assert_false(pt_hasher_try_cache(h, &job));
	pt_hasher_submit(h, &job);
	wait_done(&job);
	assert_int_equal(read(efd, &ev, sizeof(ev)), (ssize_t)sizeof(ev));
	assert_int_equal(job.status, PT_HASH_OK);
	assert_memory_equal(job.sha256, abc_sha, 32);

	/* the same identity again: answered from the cache even though the file is gone now */
	assert_int_equal(unlink(f->path), 0);
	again.id = job.id;
	again.path = f->path;
	again.pid = NO_PID;
	assert_true(pt_hasher_try_cache(h, &again));
	assert_int_equal(again.status, PT_HASH_OK);
	assert_int_equal(again.done, 1);
	assert_memory_equal(again.sha256, abc_sha, 32);

	/* another identity (a rewritten file) misses */
	again.id.mtime_ns++;
	again.done = 0;
	assert_false(pt_hasher_try_cache(h, &again));
	pt_hasher_submit(h, &again);
	wait_done(&again);
	assert_int_equal(again.status, PT_HASH_GONE);

	pt_hasher_stats(h, &st);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.misses, 2);
	pt_hasher_free(h);
	pt_hasher_free(NULL);
	close(efd);
}

/* A job given up on while a worker is busy: the hasher owns it and frees it (ASan checks). */
/* The worker is held by its own completion write into a full pipe, not by a file that takes
 * "long enough" to hash: the small job is then still queued when it is abandoned, however the
 * threads are scheduled (valgrind's scheduler finished both jobs before the check). */
static void fill_pipe(int fd)
{
	uint64_t one = 1;
	int fl = fcntl(fd, F_GETFL);

	assert_int_equal(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
	while (write(fd, &one, sizeof(one)) == (ssize_t)sizeof(one))
		;
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(fcntl(fd, F_SETFL, fl), 0);
}

static void drain_pipe(int fd)
{
	char buf[4096];
	int fl = fcntl(fd, F_GETFL);

	assert_int_equal(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	assert_int_equal(fcntl(fd, F_SETFL, fl), 0);
}

static void test_abandoned_job_is_freed_by_the_hasher(void **state)
{
	struct fixture *f = *state;
	struct pt_hasher *h;
	struct pt_hash_job first = { 0 }, *small = calloc(1, sizeof(*small));
	int notify[2];

	assert_non_null(small);
	write_file(f->path, "abc");
	assert_int_equal(pipe2(notify, O_CLOEXEC), 0);
	fill_pipe(notify[1]);
	assert_int_equal(pt_hasher_new(1, 1 << 20, 16, notify[1], &h), 0);
	id_of(f->path, &first.id);
	first.path = f->path;
	first.pid = NO_PID;
	pt_hasher_submit(h, &first);
	wait_done(&first);
	assert_int_equal(first.status, PT_HASH_OK);
	assert_false(pt_hasher_abandon(h, &first));   /* finished: still ours */
	/* the one worker now blocks in its notify write: the next job stays queued */
	id_of(f->path, &small->id);
	small->path = f->path;
	small->pid = NO_PID;
	pt_hasher_submit(h, small);
	assert_true(pt_hasher_abandon(h, small));
	drain_pipe(notify[0]);
	/* the worker runs the abandoned job and frees it (ASan and valgrind report it otherwise) */
	for (int i = 0; i < 60000 && pt_hasher_outstanding(h); i++)
		usleep(1000);
	assert_int_equal(pt_hasher_outstanding(h), 0);
	pt_hasher_free(h);
	close(notify[0]);
	close(notify[1]);
}

static void test_cache_is_bounded(void **state)
{
	struct fixture *f = *state;
	struct pt_hasher *h;
	struct pt_hash_job job;
	struct pt_file_id first, last;
	struct pt_hash_stats st;
	char p[160];

	assert_int_equal(pt_hasher_new(1, 1 << 20, 4, -1, &h), 0);
	/* 4 entries, 12 files hashed in turn: the first is evicted, the last is still there */
	for (unsigned i = 0; i < 12; i++) {
		snprintf(p, sizeof(p), "%s/other", f->dir);
		write_file(p, i % 2 ? "abc" : "xyz");
		memset(&job, 0, sizeof(job));
		id_of(p, &job.id);
		job.path = p;
		job.pid = NO_PID;
		assert_false(pt_hasher_try_cache(h, &job));
		pt_hasher_submit(h, &job);
		wait_done(&job);
		assert_int_equal(job.status, PT_HASH_OK);
		if (i == 0)
			first = job.id;
		last = job.id;
		/* a new inode for the next round: keep this one alive under another name */
		snprintf(p, sizeof(p), "%s/keep%u", f->dir, i);
		{
			char from[160];

			snprintf(from, sizeof(from), "%s/other", f->dir);
			assert_int_equal(rename(from, p), 0);
		}
	}
	memset(&job, 0, sizeof(job));
	job.id = first;
	job.path = "/nonexistent";
	job.pid = NO_PID;
	assert_false(pt_hasher_try_cache(h, &job));
	job.id = last;
	assert_true(pt_hasher_try_cache(h, &job));
	assert_memory_equal(job.sha256, abc_sha, 32);
	pt_hasher_stats(h, &st);
	assert_int_equal(st.hits, 1);
	pt_hasher_free(h);
	for (unsigned i = 0; i < 12; i++) {
		snprintf(p, sizeof(p), "%s/keep%u", f->dir, i);
		unlink(p);
	}
}

static uint64_t now_real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t ctime_of(const char *path)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	return (uint64_t)st.st_ctim.tv_sec * 1000000000ull + (uint64_t)st.st_ctim.tv_nsec;
}

/* Waits (polling the clock) until the file at path is older than any ctime margin. */
static void age(const char *path)
{
	uint64_t c = ctime_of(path);

	while (now_real_ns() < c + 200000000ull)
		usleep(10000);
}

static uint8_t run_script_job(const char *script, uint64_t exec_time_ns, uint8_t sha[32])
{
	struct pt_hasher *h;
	struct pt_hash_job job = { 0 };

	assert_int_equal(pt_hasher_new(1, 1 << 20, 16, -1, &h), 0);
	job.path = "/nonexistent";
	job.pid = NO_PID;
	job.script_path = script;
	job.exec_time_ns = exec_time_ns;
	assert_false(pt_hasher_try_cache(h, &job));
	pt_hasher_submit(h, &job);
	wait_done(&job);
	pt_hasher_free(h);
	memcpy(sha, job.script_sha256, 32);
	return job.script_status;
}

/* A script that was there before the exec is hashed. */
static void test_script_hashed(void **state)
{
	struct fixture *f = *state;
	uint8_t sha[32];

	write_file(f->path, "abc");
	age(f->path);
	assert_int_equal(run_script_job(f->path, now_real_ns(), sha), PT_HASH_OK);
	assert_memory_equal(sha, abc_sha, 32);
	/* written at the exec: cannot be told from a swap, so no hash */
	write_file(f->path, "abc");
	assert_int_equal(run_script_job(f->path, now_real_ns(), sha), PT_HASH_CHANGED);
}

/* The script path swapped after the exec for a symlink to an older file: the hash would be of
 * that file, so there is none. */
static void test_script_swapped_for_symlink_is_changed(void **state)
{
	struct fixture *f = *state;
	char other[160];
	uint8_t sha[32];
	uint64_t exec_time;

	snprintf(other, sizeof(other), "%s/other", f->dir);
	write_file(other, "abc");
	write_file(f->path, "the script");
	age(other);
	exec_time = now_real_ns();
	assert_int_equal(unlink(f->path), 0);
	assert_int_equal(symlink(other, f->path), 0);
	assert_int_equal(run_script_job(f->path, exec_time, sha), PT_HASH_CHANGED);
	/* ... and renamed over it: the renamed inode's ctime is new */
	assert_int_equal(unlink(f->path), 0);
	assert_int_equal(rename(other, f->path), 0);
	assert_int_equal(run_script_job(f->path, exec_time, sha), PT_HASH_CHANGED);
}

/* The child sleeps in open(2): /proc/PID/syscall names the call it is blocked in. */
static bool blocked_in_fifo_open(pid_t p)
{
	char path[64];
	long nr = -1;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)p);
	fp = fopen(path, "r");
	if (!fp)
		return false;
	if (fscanf(fp, "%ld", &nr) != 1)
		nr = -1;
	fclose(fp);
	return nr == SYS_openat || nr == SYS_open;
}

/* A symlink to a FIFO at the script path: opening it for reading would release a writer
 * waiting for a reader (the side effect a device open has too). The agent only looks at it. */
static void test_script_fifo_is_not_opened(void **state)
{
	struct fixture *f = *state;
	char fifo[160];
	uint8_t sha[32];
	pid_t p;
	int st = 0;
	bool released = false;

	snprintf(fifo, sizeof(fifo), "%s/other", f->dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(symlink(fifo, f->path), 0);
	p = fork();
	if (p == 0) {
		int fd;

		alarm(30);   /* never outlives a failed test */
		fd = open(fifo, O_WRONLY);   /* blocks until someone opens it for reading */

		_exit(fd >= 0 ? 0 : 1);
	}
	assert_true(p > 0);
	for (int i = 0; i < 5000 && !blocked_in_fifo_open(p); i++)
		usleep(1000);
	assert_true(blocked_in_fifo_open(p));
	/* an exec time far ahead: only the file type can refuse it */
	assert_int_not_equal(run_script_job(f->path, now_real_ns() + 3600ull * 1000000000ull, sha),
			     PT_HASH_OK);
	for (int i = 0; i < 50 && !released; i++) {
		released = waitpid(p, &st, WNOHANG) == p;
		usleep(10000);
	}
	if (!released) {
		kill(p, SIGKILL);
		waitpid(p, NULL, 0);
	}
	unlink(fifo);
	assert_false(released);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_matching_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_large_is_not_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replaced_file_is_changed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_modified_in_place_is_changed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fifo_at_path_is_not_opened, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vanished_file_is_gone, setup, teardown),
		cmocka_unit_test(test_proc_exe_fallback),
		cmocka_unit_test_setup_teardown(test_deleted_running_binary, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chmod_running_binary_is_changed, setup, teardown),
		cmocka_unit_test(test_memfd_without_process),
		cmocka_unit_test_setup_teardown(test_hash_fd_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pool_and_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abandoned_job_is_freed_by_the_hasher, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_is_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_script_hashed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_script_swapped_for_symlink_is_changed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_script_fifo_is_not_opened, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
