/* pt_confine_self in a child process: what it opened before stays usable, the directories it
 * named are reachable as named, everything else is refused, and exec fails. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "fixture.h"
#include "proctrail/confine.h"

struct fx {
	char dir[PT_TMPDIR_LEN];
};

PT_TMPDIR_FIXTURE(struct fx, "test_confine")

enum {
	OK_RW_CREATE = 1 << 0, OK_RO_READ = 1 << 1, DENIED_RO_CREATE = 1 << 2,
	DENIED_OUTSIDE = 1 << 3, DENIED_EXEC = 1 << 4, OK_OLD_FD = 1 << 5,
	DENIED_CONNECT = 1 << 6, NO_NEW_PRIVS = 1 << 7,
};

static int child(const char *dir, int old_fd, int listen_port, int *abi_out)
{
	char rw[128], ro[128], p[160], err[256];
	struct pt_confine c = { 0 };
	struct pt_confine_result r;
	int got = 0, fd;

	snprintf(rw, sizeof(rw), "%s/rw", dir);
	snprintf(ro, sizeof(ro), "%s/ro", dir);
	c.read_write[0] = rw;
	c.read_only[0] = ro;
	if (pt_confine_self(&c, &r, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		_exit(255);
	}
	*abi_out = r.landlock_abi;
	snprintf(p, sizeof(p), "%s/new", rw);
	if ((fd = open(p, O_CREAT | O_WRONLY, 0600)) >= 0 && write(fd, "x", 1) == 1)
		got |= OK_RW_CREATE;
	snprintf(p, sizeof(p), "%s/data", ro);
	if ((fd = open(p, O_RDONLY)) >= 0)
		got |= OK_RO_READ;
	snprintf(p, sizeof(p), "%s/new", ro);
	if (open(p, O_CREAT | O_WRONLY, 0600) < 0 && errno == EACCES)
		got |= DENIED_RO_CREATE;
	snprintf(p, sizeof(p), "%s/outside", dir);
	if (open(p, O_RDONLY) < 0 && errno == EACCES)
		got |= DENIED_OUTSIDE;
	if (write(old_fd, "y", 1) == 1)
		got |= OK_OLD_FD;
	execl("/bin/true", "true", (char *)NULL);
	if (errno == EPERM || errno == EACCES)
		got |= DENIED_EXEC;
	{
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)listen_port),
			.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		int s = socket(AF_INET, SOCK_STREAM, 0);

		if (s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno == EACCES)
			got |= DENIED_CONNECT;
	}
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1)
		got |= NO_NEW_PRIVS;
	return got;
}

static void mkfile(const char *path)
{
	int fd = open(path, O_CREAT | O_WRONLY, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "d", 1), 1);
	close(fd);
}

static void test_confined_child(void **state)
{
	struct fx *f = *state;
	char p[160];
	int report[2], old_fd, lfd, port, status, res[2] = { 0, 0 };
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t salen = sizeof(sa);
	pid_t pid;

	snprintf(p, sizeof(p), "%s/rw", f->dir);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/ro", f->dir);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/ro/data", f->dir);
	mkfile(p);
	snprintf(p, sizeof(p), "%s/outside", f->dir);
	mkfile(p);
	snprintf(p, sizeof(p), "%s/opened-before", f->dir);
	old_fd = open(p, O_CREAT | O_WRONLY, 0600);
	assert_true(old_fd >= 0);
	/* a listener the child may not connect to once confined */
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &salen), 0);
	port = ntohs(sa.sin_port);
	assert_int_equal(pipe(report), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int abi = 0;

		res[0] = child(f->dir, old_fd, port, &abi);
		res[1] = abi;
		_exit(write(report[1], res, sizeof(res)) == sizeof(res) ? 0 : 1);
	}
	close(report[1]);
	assert_int_equal(read(report[0], res, sizeof(res)), sizeof(res));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(report[0]);
	close(old_fd);
	close(lfd);

	assert_true(res[0] & NO_NEW_PRIVS);
	assert_true(res[0] & OK_OLD_FD);
	assert_true(res[0] & DENIED_EXEC);
	if (res[1] == 0) {
		print_message("no Landlock in this kernel: file system and network rules untested\n");
		return;
	}
	assert_true(res[0] & OK_RW_CREATE);
	assert_true(res[0] & OK_RO_READ);
	assert_true(res[0] & DENIED_RO_CREATE);
	assert_true(res[0] & DENIED_OUTSIDE);
	if (res[1] >= 4)
		assert_true(res[0] & DENIED_CONNECT);
}

/* no_files and no_sockets (the agent's network child): seccomp alone refuses every open and
 * every new socket, even with no Landlock; a descriptor held before still works. */
static void test_no_files_no_sockets(void **state)
{
	int sv[2], status, got = 0;
	pid_t pid;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct pt_confine c = { .no_files = true, .no_sockets = true };
		struct pt_confine_result r;
		char err[256];
		int fds[2];

		close(sv[0]);
		if (pt_confine_self(&c, &r, err, sizeof(err)))
			_exit(255);
		if (open("/", O_RDONLY | O_DIRECTORY) < 0 && errno == EPERM)
			got |= 1;
		if (openat(AT_FDCWD, "/etc/hostname", O_RDONLY) < 0 && errno == EPERM)
			got |= 2;
		if (socket(AF_INET, SOCK_STREAM, 0) < 0 && errno == EPERM)
			got |= 4;
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) < 0 && errno == EPERM)
			got |= 8;
		_exit(write(sv[1], &got, sizeof(got)) == sizeof(got) ? 0 : 1);
	}
	close(sv[1]);
	assert_int_equal(read(sv[0], &got, sizeof(got)), sizeof(got));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(sv[0]);
	assert_int_equal(got, 1 | 2 | 4 | 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_confined_child, setup, teardown),
		cmocka_unit_test(test_no_files_no_sockets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
