/* Holds N live processes for the context table's memory figure (bench/context_rss.sh): each
 * child execs this program again with its own arguments (so the agent's table holds N distinct
 * images, the worst case, not N forks sharing one) and sleeps until killed.
 *
 *   live_procs N SECS     start N, print "ready N" when all have exec'd, hold SECS, kill them
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	unsigned long n, secs;
	pid_t *kids;
	int pfd[2];

	if (argc == 4 && !strcmp(argv[1], "hold")) {
		/* tell the parent this image is in place, then wait to be killed */
		if (write(atoi(argv[2]), "x", 1) != 1)
			return 1;
		for (;;)
			pause();
	}
	if (argc != 3) {
		fprintf(stderr, "usage: live_procs N SECS\n");
		return 2;
	}
	n = strtoul(argv[1], NULL, 10);
	secs = strtoul(argv[2], NULL, 10);
	kids = calloc(n, sizeof(*kids));
	/* no SA_RESTART: a TERM during the wait for the children must end that wait */
	struct sigaction sa = { .sa_handler = on_term };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (!kids || pipe(pfd) < 0)
		return 1;
	for (unsigned long i = 0; i < n; i++) {
		char id[32], fd[16];

		snprintf(id, sizeof(id), "proc-%lu", i);
		snprintf(fd, sizeof(fd), "%d", pfd[1]);
		kids[i] = fork();
		if (kids[i] < 0) {
			fprintf(stderr, "fork %lu: %s\n", i, strerror(errno));
			n = i;
			break;
		}
		if (kids[i] == 0) {
			/* a killed parent takes its children along (kept across exec) */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			close(pfd[0]);
			execl("/proc/self/exe", "live_procs", "hold", fd, id, (char *)NULL);
			_exit(127);
		}
	}
	close(pfd[1]);
	for (unsigned long got = 0; got < n;) {
		char buf[256];
		ssize_t r = read(pfd[0], buf, sizeof(buf));

		if (r <= 0)
			break;
		got += (unsigned long)r;
	}
	printf("ready %lu\n", n);
	fflush(stdout);
	for (unsigned long t = 0; t < secs && !stop; t++)
		sleep(1);
	for (unsigned long i = 0; i < n; i++)
		kill(kids[i], SIGKILL);
	while (wait(NULL) > 0)
		;
	return 0;
}
