/* Test helper for tests/integration/sensor_*.sh: the exec edge cases that a shell cannot
 * produce. Compiled by the tests with cc. Usage: pt_exec_helper MODE [args...]
 *
 *   memfd SRC ARG...        copy SRC into a memfd, execve("/proc/self/fd/N", ARG...)
 *   execveat PATH ARG...    open PATH, execveat(fd, "", ARG..., AT_EMPTY_PATH)
 *   thread PATH ARG...      a second thread execs PATH (not the group leader)
 *   failexec PATH...        execve each PATH (each must fail), then exit 7
 *   quick N                 fork N children that exec /bin/true at once; wait for all
 *   selfdelete PATH SECS    unlink PATH (our own binary), then sleep
 *   selfreplace PATH SECS   rename a different file over PATH, then sleep
 *   threads CODE            start 4 threads, then exit_group(CODE) from one of them
 *   sleep SECS              sleep
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static char **exec_argv;
static const char *exec_path;

static void *thread_exec(void *arg)
{
	(void)arg;
	printf("tid %ld\n", (long)syscall(SYS_gettid));
	fflush(stdout);
	execve(exec_path, exec_argv, environ);
	perror("execve");
	exit(99);
}

static void *spin(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static void *group_exit(void *arg)
{
	usleep(100000);
	syscall(SYS_exit_group, (int)(long)arg);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	if (!strcmp(argv[1], "memfd") && argc >= 4) {
		int src = open(argv[2], O_RDONLY), mfd = memfd_create("pt-test", MFD_CLOEXEC * 0);
		char buf[65536], path[64];
		ssize_t n;

		if (src < 0 || mfd < 0)
			return 3;
		while ((n = read(src, buf, sizeof(buf))) > 0)
			if (write(mfd, buf, (size_t)n) != n)
				return 3;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", mfd);
		execve(path, argv + 3, environ);
		perror("execve memfd");
		return 4;
	}
	if (!strcmp(argv[1], "execveat") && argc >= 4) {
		int fd = open(argv[2], O_RDONLY | O_CLOEXEC);

		if (fd < 0)
			return 3;
		syscall(SYS_execveat, fd, "", argv + 3, environ, AT_EMPTY_PATH);
		perror("execveat");
		return 4;
	}
	if (!strcmp(argv[1], "thread") && argc >= 4) {
		pthread_t t;

		exec_path = argv[2];
		exec_argv = argv + 3;
		printf("pid %d\n", getpid());
		fflush(stdout);
		pthread_create(&t, NULL, thread_exec, NULL);
		for (;;)
			pause();
	}
	if (!strcmp(argv[1], "failexec")) {
		for (int i = 2; i < argc; i++) {
			char *av[] = { argv[i], NULL };

			if (execve(argv[i], av, environ) == 0)
				return 5;
		}
		return 7;
	}
	if (!strcmp(argv[1], "quick") && argc >= 3) {
		int n = atoi(argv[2]), bad = 0;

		for (int i = 0; i < n; i++) {
			pid_t p = fork();

			if (p == 0) {
				char *av[] = { "true", NULL };

				execve("/bin/true", av, environ);
				_exit(127);
			}
			if (p > 0)
				printf("%d\n", p);
		}
		for (int st; wait(&st) > 0;)
			bad += !WIFEXITED(st) || WEXITSTATUS(st) != 0;
		return bad ? 6 : 0;
	}
	if (!strcmp(argv[1], "selfdelete") && argc >= 4) {
		if (unlink(argv[2]))
			return 3;
		sleep((unsigned)atoi(argv[3]));
		return 0;
	}
	if (!strcmp(argv[1], "selfreplace") && argc >= 4) {
		char tmp[4096];
		int fd;

		snprintf(tmp, sizeof(tmp), "%s.new", argv[2]);
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0755);
		if (fd < 0 || write(fd, "#!/bin/sh\nexit 0\n", 17) != 17 || close(fd))
			return 3;
		if (rename(tmp, argv[2]))
			return 3;
		sleep((unsigned)atoi(argv[3]));
		return 0;
	}
	if (!strcmp(argv[1], "threads") && argc >= 3) {
		pthread_t t;

		for (int i = 0; i < 3; i++)
			pthread_create(&t, NULL, spin, NULL);
		pthread_create(&t, NULL, group_exit, (void *)(long)atoi(argv[2]));
		for (;;)
			pause();
	}
	if (!strcmp(argv[1], "sleep") && argc >= 3) {
		usleep((useconds_t)(atof(argv[2]) * 1e6));
		return 0;
	}
	return 2;
}
