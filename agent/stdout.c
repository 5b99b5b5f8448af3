#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proctrail/ecs.h"
#include "proctrail/log.h"
#include "signals.h"
#include "stdout.h"

#define LINE_MAX_BYTES  (256u << 10)
#define BATCH_BYTES     (64u << 10)     /* write(2) when this much is waiting */
#define OUT_MAX_BYTES   (BATCH_BYTES + LINE_MAX_BYTES)

struct out_ctx {
	struct pt_sensor *sensor;
	struct pt_buf out;
	uint64_t out_pos;          /* ring position of the last record in out */
	struct pt_ecs_context ecs;
	char host[256];
};

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Writes what is batched, then commits: a record is released from the ring only once the
 * kernel holds its line. */
static int flush_out(void *vctx)
{
	struct out_ctx *c = vctx;
	int err;

	if (!c->out.len)
		return 0;
	err = write_all(STDOUT_FILENO, c->out.data, c->out.len);
	if (err) {
		log_warnx("write to standard output: %s", strerror(-err));
		return err;
	}
	pt_buf_reset(&c->out);
	if (c->out_pos)
		pt_sensor_commit(c->sensor, c->out_pos);
	return 0;
}

/* Formatted straight into the batch, which always has room for a whole line (it is flushed
 * before it holds BATCH_BYTES): no copy of each line. A line over LINE_MAX_BYTES is refused as
 * it would be by a buffer of that size. */
static int emit_line(void *vctx, const struct pt_record *rec, uint64_t ring_pos)
{
	struct out_ctx *c = vctx;
	size_t start = c->out.len;
	int err;

	c->ecs.sequence++;
	err = pt_ecs_format(rec, &c->ecs, &c->out);
	if (!err)
		err = pt_buf_append(&c->out, "\n", 1);
	if (!err && c->out.len - start > LINE_MAX_BYTES)
		err = -EMSGSIZE;
	if (err) {
		/* a record too large for a line is reported and skipped, not a reason to stop */
		c->out.len = start;
		log_warnx("record %llu not printed: %s", (unsigned long long)c->ecs.sequence,
			  strerror(-err));
		if (ring_pos)
			c->out_pos = ring_pos;
		return 0;
	}
	if (ring_pos)
		c->out_pos = ring_pos;
	return c->out.len >= BATCH_BYTES ? flush_out(c) : 0;
}

/* One line at exit: what an operator (and bench/) needs to see that nothing was lost. */
static void log_summary(struct pt_sensor *s)
{
	struct pt_sensor_stats st;
	uint64_t loss[PT_LOSS_COUNTER_MAX + 1] = { 0 };

	pt_sensor_stats(s, &st);
	pt_sensor_counters(s, loss);
	log_info("summary: execs %llu exits %llu ring_full %llu kernel_error %llu hash_queue %llu "
		 "hash_hits %llu hash_misses %llu hashed_bytes %llu hash_timeouts %llu "
		 "proc_live %llu proc_seeded %llu proc_evicted %llu parent_unknown %llu",
		 (unsigned long long)st.execs, (unsigned long long)st.exits,
		 (unsigned long long)loss[PT_LOSS_RING_FULL], (unsigned long long)loss[PT_LOSS_KERNEL_ERROR],
		 (unsigned long long)loss[PT_LOSS_HASH_QUEUE], (unsigned long long)st.hash_hits,
		 (unsigned long long)st.hash_misses, (unsigned long long)st.hashed_bytes,
		 (unsigned long long)st.hash_timeouts, (unsigned long long)st.proc_live,
		 (unsigned long long)st.proc_seeded, (unsigned long long)st.proc_evicted,
		 (unsigned long long)st.parent_unknown);
}

int pt_stdout_main(const struct pt_sensor_config *cfg)
{
	struct pt_sensor_config sc = *cfg;
	struct out_ctx c = { 0 };
	int err, status = 1;

	pt_buf_init(&c.out, OUT_MAX_BYTES);
	sc.flush = flush_out;
	if (gethostname(c.host, sizeof(c.host) - 1) == 0)
		c.ecs.host_name = c.host;
	c.ecs.has_sequence = true;
	err = pt_sensor_open(&sc, emit_line, &c, &c.sensor);
	if (err) {
		log_warnx("cannot start the sensor: %s", strerror(-err));
		goto cleanup;
	}
	log_info("recording every exec and exit (BPF objects pinned under %s); stop with Ctrl-C",
		 sc.pin_dir ? sc.pin_dir : PT_SENSOR_PIN_DIR);
	pt_agent_stop_on_signals(c.sensor);
	err = pt_sensor_run(c.sensor);
	if (!err)
		err = flush_out(&c);
	status = err && err != -EPIPE ? 1 : 0;
	log_summary(c.sensor);
cleanup:
	pt_agent_stop_on_signals(NULL);
	pt_sensor_free(c.sensor);
	pt_buf_free(&c.out);
	return status;
}
