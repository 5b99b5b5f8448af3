/* live_sleepers: N live processes for the agent's footprint with many processes alive
 * (bench/compare.sh). Starts N copies of /bin/sleep (each a real exec the agent sees), prints
 * "ready N" once all run, and on SIGTERM, SIGINT or end of standard input kills and reaps them.
 *
 *   live_sleepers [N=10000]
 */
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static volatile sig_atomic_t stop;

static void on_sig(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 10000;
	char *args[] = { "/bin/sleep", "3600", NULL };
	struct sigaction sa = { .sa_handler = on_sig };
	pid_t *pids;
	long started = 0;
	char c;

	if (n < 1 || n > 30000 || (argc > 1 && !strcmp(argv[1], "--help"))) {
		fprintf(stderr, "usage: live_sleepers [N<=30000]\n");
		return 2;
	}
	pids = calloc((size_t)n, sizeof(*pids));
	if (!pids)
		return 1;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	for (; started < n && !stop; started++)
		if (posix_spawn(&pids[started], args[0], NULL, NULL, args, environ) != 0)
			break;
	printf("ready %ld\n", started);
	fflush(stdout);
	while (!stop && read(0, &c, 1) > 0)
		;
	for (long i = 0; i < started; i++)
		kill(pids[i], SIGKILL);
	for (long i = 0; i < started; i++)
		waitpid(pids[i], NULL, 0);
	free(pids);
	return started == n ? 0 : 1;
}
