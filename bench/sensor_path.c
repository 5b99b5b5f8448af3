/* sensor_path: the agent's user-space CPU per process on its record path, without the kernel:
 * synthetic ring records (a fork, an exec of /usr/bin/true with its arguments, cwd and a
 * systemd session's cgroup, an exit) go through decoding, the context (process table, user
 * names) and the ECS formatter of --stdout, as bench/sensor.sh's spawners make them. Prints the
 * CPU ns per process (fork + exec + exit), the median of R runs of N processes.
 *
 * usage: sensor_path [processes] [runs]
 *
 * It leaves out what the context did not change (reading the ring, the hash cache lookup,
 * write(2)), so a before/after of decode/context/format code is resolved on a loaded machine,
 * where bench/sensor.sh cost mostly measures the load.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proctrail/buf.h"
#include "proctrail/ecs.h"

#include "../agent/sensor_context.h"
#include "../agent/sensor_decode.h"

static size_t comps(char *out, const char *const *c, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(c[i]) + 1;

		memcpy(out + o, c[i], l);
		o += l;
	}
	return o;
}

/* An exec record of tgid (started at start) whose parent is ppid (started at pstart). */
static size_t exec_rec(uint8_t *buf, uint32_t tgid, uint64_t start, uint32_t ppid, uint64_t pstart,
		       const char *argv, size_t argv_len, uint32_t argc)
{
	static const char *const path[] = { "true", "bin", "usr" };
	static const char *const cwd[] = { "cost", "wt", "work" };
	static const char *const cg[] = { "session-3.scope", "user-0.slice", "user.slice" };
	struct pt_k_exec e = { 0 };
	char *d = (char *)buf + sizeof(e);
	size_t n = 0;

	e.h.type = PT_K_EXEC;
	e.h.tgid = tgid;
	e.h.time_boot_ns = start + 200000;
	e.h.start_boottime = start;
	e.parent_start_boottime = pstart;
	e.cgroup_id = 4242;
	e.ino = 1234567;
	e.size = 35336;
	e.mtime_sec = e.ctime_sec = 1700000000;
	e.dev = 8 << 20 | 1;
	e.mode = 0100755;
	e.nlink = 1;
	e.tid = tgid;
	e.ppid = ppid;
	e.argc = argc;
	memcpy(e.comm, "true", 5);
	e.pgid = e.sid = ppid;
	e.pgid_start = e.sid_start = pstart;
	e.tty = 136 << 20 | 0;
	e.loginuid = 0;
	e.sessionid = 3;
	e.vpid = tgid;
	e.path_len = (uint16_t)comps(d + n, path, 3);
	n += e.path_len;
	e.cwd_len = (uint16_t)comps(d + n, cwd, 3);
	n += e.cwd_len;
	memcpy(d + n, argv, argv_len);
	e.argv_len = (uint16_t)argv_len;
	n += argv_len;
	e.cgroup_len = (uint16_t)comps(d + n, cg, 3);
	n += e.cgroup_len;
	memcpy(buf, &e, sizeof(e));
	return sizeof(e) + n;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	static struct pt_sensor_decoded d;
	static uint8_t rec[sizeof(struct pt_k_exec) + PT_K_DATA_MAX];
	const uint8_t boot_id[PT_BOOT_ID_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
	static const char spawner_argv[] = "build/bench/exec_spawn\0-p\0" "2\0-s\0" "10";
	static const char true_argv[] = "/bin/true";
	long procs = argc > 1 ? atol(argv[1]) : 20000, runs = argc > 2 ? atol(argv[2]) : 7;
	struct pt_sensor_decoder dec;
	struct pt_context *ctx;
	struct pt_context_hold hold;
	struct pt_ecs_context ecs = { .host_name = "bench-host", .has_sequence = true };
	struct pt_buf out;
	double *res;
	uint32_t spawner = 1000, tgid = 100000;
	uint64_t t = 1000000000000ull, spawner_start = t;
	size_t n;

	if (procs <= 0 || runs <= 0 || !(res = calloc((size_t)runs, sizeof(*res))))
		return 2;
	if (pt_sensor_decoder_init(&dec, boot_id) || pt_context_new(0, NULL, NULL, &ctx))
		return 1;
	pt_buf_init(&out, 1u << 20);
	/* the spawner: forked and exec'd once, the parent of every process after */
	n = exec_rec(rec, spawner, spawner_start, 1, 1, spawner_argv, sizeof(spawner_argv), 5);
	if (pt_sensor_decode(&dec, rec, n, &d))
		return 1;
	pt_context_apply(ctx, &d, &hold, 0);
	pt_context_release(&hold);
	for (long r = 0; r < runs; r++) {
		double t0 = cpu_ns();

		for (long i = 0; i < procs; i++, tgid = tgid >= 4000000 ? 100000 : tgid + 1) {
			struct pt_k_fork f = { { PT_K_FORK, tgid, t, t }, spawner_start, spawner, 0 };
			struct pt_k_exit x = { { PT_K_EXIT, tgid, t + 900000, t }, tgid, 0, "true" };

			if (pt_sensor_decode(&dec, &f, sizeof(f), &d))
				return 1;
			pt_context_apply(ctx, &d, &hold, 0);
			pt_context_release(&hold);
			n = exec_rec(rec, tgid, t, spawner, spawner_start, true_argv, sizeof(true_argv), 1);
			if (pt_sensor_decode(&dec, rec, n, &d))
				return 1;
			pt_context_apply(ctx, &d, &hold, 0);
			ecs.sequence++;
			if (pt_ecs_format(&d.rec, &ecs, &out) || pt_buf_append(&out, "\n", 1))
				return 1;
			pt_context_release(&hold);
			if (pt_sensor_decode(&dec, &x, sizeof(x), &d))
				return 1;
			pt_context_apply(ctx, &d, &hold, 0);
			ecs.sequence++;
			if (pt_ecs_format(&d.rec, &ecs, &out) || pt_buf_append(&out, "\n", 1))
				return 1;
			pt_context_release(&hold);
			if (out.len >= (64u << 10))
				pt_buf_reset(&out);
			t += 1000000;
		}
		res[r] = (cpu_ns() - t0) / (double)procs;
	}
	qsort(res, (size_t)runs, sizeof(*res), cmp);
	printf("processes=%ld runs=%ld ns_per_process_median=%.0f min=%.0f max=%.0f\n", procs, runs,
	       res[runs / 2], res[0], res[runs - 1]);
	pt_buf_free(&out);
	pt_context_free(ctx);
	pt_sensor_decoder_fini(&dec);
	free(res);
	return 0;
}
