/* exec_spawn: the load for the sensor benchmarks (bench/sensor.sh). P spawner processes each
 * run PATH (default /bin/true) with posix_spawn and wait for it, for S seconds, either as fast
 * as they can or paced to a total rate. Prints one line:
 *
 *   execs=N seconds=S rate=R failed=F cpu_us_per_exec=C
 *
 * C is the CPU (user+system) of the spawners and of every process they ran, per exec: the
 * cost an exec pays, including what a monitor adds inside the exec's own syscalls.
 *
 * usage: exec_spawn [-p procs] [-s seconds] [-r total_rate_per_s] [path]
 */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proctrail/clock.h"

extern char **environ;


struct shared {
	uint64_t execs, failed;
};

static void spawner(const char *path, double seconds, double rate, struct shared *sh)
{
	char *argv[] = { (char *)path, NULL };
	double start = pt_mono_s(), next = start;
	uint64_t n = 0, bad = 0;

	while (pt_mono_s() - start < seconds) {
		pid_t pid;
		int st;

		if (rate > 0) {
			double t = pt_mono_s();

			if (t < next) {
				struct timespec d = { (time_t)(next - t), (long)((next - t - (time_t)(next - t)) * 1e9) };

				nanosleep(&d, NULL);
			}
			next += 1.0 / rate;
		}
		if (posix_spawn(&pid, path, NULL, NULL, argv, environ) != 0) {
			bad++;
			continue;
		}
		if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			bad++;
		n++;
	}
	__atomic_add_fetch(&sh->execs, n, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&sh->failed, bad, __ATOMIC_SEQ_CST);
}

int main(int argc, char **argv)
{
	int procs = 2, c;
	double seconds = 5, rate = 0, start, took;
	const char *path = "/bin/true";
	struct shared *sh;
	struct rusage ru;

	while ((c = getopt(argc, argv, "p:s:r:")) != -1) {
		switch (c) {
		case 'p': procs = atoi(optarg); break;
		case 's': seconds = atof(optarg); break;
		case 'r': rate = atof(optarg); break;
		default:
			fprintf(stderr, "usage: exec_spawn [-p procs] [-s seconds] [-r rate] [path]\n");
			return 2;
		}
	}
	if (optind < argc)
		path = argv[optind];
	if (procs < 1 || procs > 256 || seconds <= 0)
		return 2;
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 1;
	start = pt_mono_s();
	for (int i = 0; i < procs; i++) {
		pid_t p = fork();

		if (p == 0) {
			spawner(path, seconds, rate / procs, sh);
			_exit(0);
		}
		if (p < 0)
			return 1;
	}
	while (wait(NULL) > 0)
		;
	took = pt_mono_s() - start;
	getrusage(RUSAGE_CHILDREN, &ru);
	printf("execs=%llu seconds=%.3f rate=%.1f failed=%llu cpu_us_per_exec=%.2f\n",
	       (unsigned long long)sh->execs, took, (double)sh->execs / took,
	       (unsigned long long)sh->failed,
	       sh->execs ? ((double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec) * 1e6 / (double)sh->execs +
	       ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / (double)sh->execs : 0.0);
	return sh->failed ? 1 : 0;
}
