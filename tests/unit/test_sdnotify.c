#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <cmocka.h>

#include "proctrail/sdnotify.h"

/* A listening datagram socket standing in for the service manager; returns its fd. */
static int manager(struct sockaddr_un *sa, socklen_t salen)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)sa, salen), 0);
	return fd;
}

static void expect_msg(int fd, const char *want)
{
	char buf[1024];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, want);
}

static void test_path_socket(void **state)
{
	char dir[] = "/tmp/pt-sdnotify.XXXXXX", path[64];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct pt_sd_notify n;
	char buf[256];
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/notify", dir);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = manager(&sa, sizeof(sa));
	setenv("NOTIFY_SOCKET", path, 1);
	assert_int_equal(pt_sd_notify_open(&n), 0);
	assert_true(n.fd >= 0);
	/* children must not inherit it */
	assert_null(getenv("NOTIFY_SOCKET"));
	assert_int_equal(pt_sd_notify(&n, "READY=1"), 0);
	expect_msg(fd, "READY=1");
	assert_int_equal(pt_sd_notify_reloading(&n), 0);
	assert_int_equal(recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT) > 0, 1);
	assert_memory_equal(buf, "RELOADING=1\nMONOTONIC_USEC=", 27);
	assert_int_equal(pt_sd_notify(&n, "STOPPING=1"), 0);
	expect_msg(fd, "STOPPING=1");
	pt_sd_notify_close(&n);
	pt_sd_notify_close(&n);    /* twice: harmless */
	pt_sd_notify_close(NULL);
	close(fd);
	unlink(path);
	rmdir(dir);
}

static void test_abstract_socket(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct pt_sd_notify n;
	char name[64];
	int fd, len;

	(void)state;
	len = snprintf(name, sizeof(name), "@pt-sdnotify-%d", (int)getpid());
	memcpy(sa.sun_path, name, (size_t)len);
	sa.sun_path[0] = '\0';
	fd = manager(&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
	setenv("NOTIFY_SOCKET", name, 1);
	assert_int_equal(pt_sd_notify_open(&n), 0);
	assert_int_equal(pt_sd_notify(&n, "STATUS=serving\nREADY=1"), 0);
	expect_msg(fd, "STATUS=serving\nREADY=1");
	pt_sd_notify_close(&n);
	close(fd);
}

static void test_absent_and_bad(void **state)
{
	struct pt_sd_notify n;
	char big[PT_SD_STATE_MAX + 2];

	(void)state;
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(pt_sd_notify_open(&n), 0);
	assert_int_equal(n.fd, -1);
	assert_int_equal(pt_sd_notify(&n, "READY=1"), 0);   /* no manager: nothing to do */
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	assert_int_equal(pt_sd_notify_open(&n), -EINVAL);
	setenv("NOTIFY_SOCKET", "/nonexistent/pt-notify", 1);
	assert_true(pt_sd_notify_open(&n) < 0);
	assert_int_equal(n.fd, -1);
	unsetenv("NOTIFY_SOCKET");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	n.fd = STDERR_FILENO;   /* any socket-less fd: the size check comes first */
	assert_int_equal(pt_sd_notify(&n, big), -EMSGSIZE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_socket),
		cmocka_unit_test(test_abstract_socket),
		cmocka_unit_test(test_absent_and_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
