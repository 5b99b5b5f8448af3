/* Store-and-forward throughput: records through the agent's queue into the spool (write +
 * group-commit fsync, as in production), then read back as the uplink reads them.
 *
 *   build/bench/spool [DIR] [RECORDS]      (default: a new directory under /var/tmp, 500000)
 *
 * Prints records/s and MB/s for each phase. DIR should be on the disk the agent would use
 * (not tmpfs, where fsync is free). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../agent/queue.h"
#include "proctrail/clock.h"
#include "proctrail/log.h"
#include "proctrail/spool.h"
#include "proctrail/wire.h"


static uint64_t committed;

static void on_commit(void *ctx, uint64_t pos)
{
	(void)ctx;
	__atomic_store_n(&committed, pos, __ATOMIC_RELEASE);
}

int main(int argc, char **argv)
{
	char tmpl[] = "/var/tmp/proctrail-bench-spool.XXXXXX";
	const char *dir = argc > 1 ? argv[1] : mkdtemp(tmpl);
	uint64_t n = argc > 2 ? strtoull(argv[2], NULL, 10) : 500000;
	struct pt_spool_opts so = { .dir = dir };
	struct pt_spool *sp = NULL;
	struct pt_queue *q = NULL;
	char argvbuf[] = "/usr/bin/make\0-j2\0all\0";
	int rc;

	log_init("bench-spool", 0);
	if (!dir || !n) {
		fprintf(stderr, "usage: spool [DIR] [RECORDS]\n");
		return 2;
	}
	so.max_bytes = 16ull << 30;
	if ((rc = pt_spool_open(&so, &sp)) < 0 || (rc = pt_queue_new(sp, NULL, &q)) < 0 ||
	    (rc = pt_queue_start(q, on_commit, NULL, NULL)) < 0) {
		fprintf(stderr, "bench-spool: %s: %s\n", dir, strerror(-rc));
		return 1;
	}
	/* An exec record of a typical size (~300 bytes). */
	struct pt_record r = { .type = PT_REC_PROCESS_EXEC };
	r.u.exec.path = (struct pt_str){ "/usr/bin/make", 13 };
	r.u.exec.cwd = (struct pt_str){ "/home/user/src/project", 22 };
	r.u.exec.comm = (struct pt_str){ "make", 4 };
	r.u.exec.argv = (struct pt_str){ argvbuf, sizeof(argvbuf) - 1 };
	r.u.exec.args_count = 3;
	r.u.exec.size = 260000;
	memset(r.u.exec.sha256, 0xab, sizeof(r.u.exec.sha256));

	uint64_t base = pt_spool_ring_pos(sp), first = pt_spool_next_seq(sp);
	double t0 = pt_mono_s();
	for (uint64_t i = 1; i <= n; i++) {
		r.u.exec.pid = (uint32_t)i;
		r.u.exec.time_ns = i;
		/* Faster than any disk: keep below the memory bound rather than measure drops. */
		if ((i & 1023) == 0)
			while (pt_queue_depth(q) > 10000)
				usleep(200);
		if (pt_queue_push(q, &r, base + i) < 0)
			return 1;
	}
	double t1 = pt_mono_s();
	while (__atomic_load_n(&committed, __ATOMIC_ACQUIRE) < base + n)
		usleep(1000);
	double t2 = pt_mono_s();
	struct pt_spool_stats st;
	pt_spool_get_stats(sp, &st);
	uint64_t tot[PT_LOSS_COUNTER_MAX + 1];
	pt_queue_counters(q, tot);

	struct pt_spool_cursor c;
	struct pt_spool_item it;
	uint64_t got = 0, bytes = 0;
	pt_spool_cursor_init(&c);
	pt_spool_cursor_seek(&c, first);
	double t3 = pt_mono_s();
	while (pt_spool_read(sp, &c, &it) == 1) {
		got++;
		bytes += it.len;
	}
	double t4 = pt_mono_s();
	pt_spool_cursor_free(&c);

	printf("records %llu, spool %.1f MB in %s\n", (unsigned long long)n, st.bytes / 1e6, dir);
	printf("push (sensor thread):      %.0f records/s, %.0f ns/record\n", n / (t1 - t0),
	       (t1 - t0) / n * 1e9);
	printf("durable (write+fsync):     %.0f records/s, %.1f MB/s (all committed %.3f s after the last push)\n",
	       n / (t2 - t0), st.bytes / 1e6 / (t2 - t0), t2 - t1);
	printf("read back (uplink cursor): %.0f records/s, %.1f MB/s (%llu records)\n",
	       got / (t4 - t3), bytes / 1e6 / (t4 - t3), (unsigned long long)got);
	printf("queue drops: %llu\n",
	       (unsigned long long)(tot[PT_LOSS_QUEUE_FULL] + tot[PT_LOSS_SPOOL_FULL]));
	pt_queue_free(q);
	pt_spool_close(sp);
	if (argc <= 1) {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			return 1;
	}
	return got == n ? 0 : 1;
}
