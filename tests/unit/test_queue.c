/* agent/queue: sequence numbers, delivery into the spool, drops at the bound counted exactly
 * and reported as LOSS records, commit positions, spool corruption reported with its range. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../agent/queue.h"
#include "proctrail/spool.h"
#include "proctrail/wire.h"

struct fx {
	char dir[PT_TMPDIR_LEN];
	uint64_t committed;
	int notified;
};

PT_TMPDIR_FIXTURE(struct fx, "test_queue")

static void on_commit(void *ctx, uint64_t pos)
{
	struct fx *f = ctx;
	assert_true(pos >= f->committed);   /* never goes back */
	f->committed = pos;
}

static void on_notify(void *ctx)
{
	((struct fx *)ctx)->notified++;
}

static struct pt_record exit_rec(uint32_t pid)
{
	struct pt_record r = { .type = PT_REC_PROCESS_EXIT };
	r.u.exit.pid = pid;
	r.u.exit.time_ns = 1000 + pid;
	r.u.exit.comm = (struct pt_str){ "true", 4 };
	return r;
}

struct seen {
	uint64_t n, exits, loss_total[PT_LOSS_COUNTER_MAX + 1];
	uint64_t last_seq;
	struct pt_loss ranges[8];
	size_t nranges;
};

/* Reads the spool from seq 1; checks sequence numbers are consecutive except where allowed. */
static void scan(struct pt_spool *sp, struct seen *s)
{
	struct pt_spool_cursor c;
	struct pt_spool_item it;
	memset(s, 0, sizeof(*s));
	assert_int_equal(pt_spool_cursor_init(&c), 0);
	while (pt_spool_read(sp, &c, &it) == 1) {
		struct pt_record r;
		size_t used;
		assert_int_equal(pt_record_decode(it.rec, it.len, &r, &used, NULL), 0);
		assert_int_equal(used, it.len);
		assert_true(it.seq > s->last_seq);
		s->last_seq = it.seq;
		s->n++;
		if (r.type == PT_REC_PROCESS_EXIT)
			s->exits++;
		if (r.type == PT_REC_LOSS) {
			s->loss_total[r.u.loss.counter] += r.u.loss.count;
			if (r.u.loss.has_seq_range && s->nranges < 8)
				s->ranges[s->nranges++] = r.u.loss;
		}
	}
	pt_spool_cursor_free(&c);
}

static void test_sequence_and_commit(void **state)
{
	struct fx *f = *state;
	struct pt_spool_opts so = { .dir = f->dir };
	struct pt_spool *sp;
	struct pt_queue *q;
	struct seen s;

	assert_int_equal(pt_spool_open(&so, &sp), 0);
	assert_int_equal(pt_queue_new(sp, NULL, &q), 0);
	assert_int_equal(pt_queue_start(q, on_commit, on_notify, f), 0);
	for (uint32_t i = 1; i <= 1000; i++) {
		struct pt_record r = exit_rec(i);
		assert_int_equal(pt_queue_push(q, &r, i * 10), 0);
	}
	/* The writer thread gets them to disk on its own, well within a second. */
	for (int i = 0; i < 100 && f->committed < 10000; i++)
		usleep(20000);
	assert_int_equal(f->committed, 10000);
	assert_true(f->notified > 0);
	assert_int_equal(pt_queue_depth(q), 0);
	assert_int_equal(pt_queue_events(q), 1000);
	scan(sp, &s);
	assert_int_equal(s.n, 1000);
	assert_int_equal(s.last_seq, 1000);
	pt_queue_free(q);
	pt_spool_close(sp);

	/* After a restart the numbering continues. */
	assert_int_equal(pt_spool_open(&so, &sp), 0);
	assert_int_equal(pt_spool_ring_pos(sp), 10000);
	assert_int_equal(pt_queue_new(sp, NULL, &q), 0);
	struct pt_record r = exit_rec(5);
	assert_int_equal(pt_queue_push(q, &r, 10010), 0);
	assert_int_equal(pt_queue_flush(q), 0);
	scan(sp, &s);
	assert_int_equal(s.last_seq, 1001);
	pt_queue_free(q);
	pt_spool_close(sp);
}

static void test_unencodable_counted(void **state)
{
	struct fx *f = *state;
	struct pt_spool_opts so = { .dir = f->dir };
	struct pt_spool *sp;
	struct pt_queue *q;
	uint64_t tot[PT_LOSS_COUNTER_MAX + 1];
	struct seen s;

	assert_int_equal(pt_spool_open(&so, &sp), 0);
	assert_int_equal(pt_queue_new(sp, NULL, &q), 0);
	struct pt_record r = exit_rec(1);
	char big[64];
	memset(big, 'x', sizeof(big));
	r.u.exit.comm = (struct pt_str){ big, sizeof(big) };   /* over PT_COMM_MAX */
	assert_true(pt_queue_push(q, &r, 1) < 0);
	r = exit_rec(2);
	assert_int_equal(pt_queue_push(q, &r, 2), 0);
	assert_int_equal(pt_queue_flush(q), 0);
	pt_queue_counters(q, tot);
	assert_int_equal(tot[PT_LOSS_ENCODE], 1);
	scan(sp, &s);
	assert_int_equal(s.exits, 1);
	assert_int_equal(s.loss_total[PT_LOSS_ENCODE], 1);
	assert_int_equal(s.last_seq, 2);   /* the dropped record never had a number */
	pt_queue_free(q);
	pt_spool_close(sp);
}

/* Adds the records from seq `from` to the end into *s (without resetting it). */
static void scan_from(struct pt_spool *sp, uint64_t from, struct seen *s)
{
	struct pt_spool_cursor c;
	struct pt_spool_item it;
	assert_int_equal(pt_spool_cursor_init(&c), 0);
	pt_spool_cursor_seek(&c, from);
	while (pt_spool_read(sp, &c, &it) == 1) {
		struct pt_record r;
		size_t used;
		assert_int_equal(pt_record_decode(it.rec, it.len, &r, &used, NULL), 0);
		assert_int_equal(it.seq, s->last_seq + 1);   /* no gap, no repeat */
		s->last_seq = it.seq;
		s->n++;
		if (r.type == PT_REC_PROCESS_EXIT)
			s->exits++;
		if (r.type == PT_REC_LOSS)
			s->loss_total[r.u.loss.counter] += r.u.loss.count;
	}
	pt_spool_cursor_free(&c);
}

/* Reads what is unacknowledged into *s, then acknowledges it, as the uplink would. */
static void deliver(struct pt_spool *sp, struct seen *s)
{
	scan_from(sp, s->last_seq + 1, s);
	assert_int_equal(pt_spool_ack(sp, s->last_seq), 0);
}

/* Spool at its bound, queue at its bound: every push is either stored or counted, and the
 * count reaches the spool as LOSS records once acknowledgements free room: exits stored plus
 * losses reported equals records pushed, exactly. */
static void test_full_spool_drops_counted(void **state)
{
	struct fx *f = *state;
	struct pt_spool_opts so = { .dir = f->dir, .max_bytes = 256 << 10, .segment_bytes = 16384 };
	struct pt_queue_opts qo = { .max_bytes = 2 * (PT_SPOOL_REC_HDR_LEN + PT_RECORD_MAX) };
	struct pt_spool *sp;
	struct pt_queue *q;
	uint64_t tot[PT_LOSS_COUNTER_MAX + 1];
	uint64_t refused = 0;
	const uint32_t pushes = 20000;
	struct seen s = { 0 };

	assert_int_equal(pt_spool_open(&so, &sp), 0);
	assert_int_equal(pt_queue_new(sp, &qo, &q), 0);
	for (uint32_t i = 1; i <= pushes; i++) {
		struct pt_record r = exit_rec(i);
		refused += pt_queue_push(q, &r, i) != 0;
		if (i % 100 == 0)
			pt_queue_flush(q);
		if (i == pushes / 2) {
			/* The collector comes back for a moment half way. */
			deliver(sp, &s);
			pt_queue_flush(q);
		}
	}
	assert_true(refused > 0);
	pt_queue_counters(q, tot);
	assert_int_equal(tot[PT_LOSS_SPOOL_FULL] + tot[PT_LOSS_QUEUE_FULL], refused);
	assert_true(tot[PT_LOSS_SPOOL_FULL] > 0);
	assert_true(pt_queue_depth(q) > 0);
	/* Not everything durable: the ring must not be committed past the drops yet. */
	assert_true(pt_spool_durable_ring_pos(sp) < pushes);

	for (int round = 0; round < 50 && pt_queue_depth(q); round++) {
		deliver(sp, &s);
		pt_queue_flush(q);
	}
	struct pt_record r = exit_rec(pushes + 1);
	assert_int_equal(pt_queue_push(q, &r, pushes + 1), 0);   /* carries the last drops out */
	assert_int_equal(pt_queue_flush(q), 0);
	deliver(sp, &s);
	assert_int_equal(pt_queue_depth(q), 0);
	assert_int_equal(pt_spool_durable_ring_pos(sp), pushes + 1);

	assert_int_equal(s.exits + s.loss_total[PT_LOSS_SPOOL_FULL] + s.loss_total[PT_LOSS_QUEUE_FULL],
			 pushes + 1);
	assert_int_equal(s.loss_total[PT_LOSS_SPOOL_FULL] + s.loss_total[PT_LOSS_QUEUE_FULL], refused);
	pt_queue_free(q);
	pt_spool_close(sp);
}

/* The same exactness checked from the records themselves: nothing acknowledged, so every
 * record stays readable. */
static void test_drop_reports_in_stream(void **state)
{
	struct fx *f = *state;
	struct pt_spool_opts so = { .dir = f->dir, .max_bytes = 128 << 10, .segment_bytes = 8192 };
	struct pt_queue_opts qo = { .max_bytes = 2 * (PT_SPOOL_REC_HDR_LEN + PT_RECORD_MAX) };
	struct pt_spool *sp;
	struct pt_queue *q;
	uint64_t refused = 0;
	struct seen s;

	assert_int_equal(pt_spool_open(&so, &sp), 0);
	assert_int_equal(pt_queue_new(sp, &qo, &q), 0);
	for (uint32_t i = 1; i <= 6000; i++) {
		struct pt_record r = exit_rec(i);
		refused += pt_queue_push(q, &r, i) != 0;
		if (i % 50 == 0)
			pt_queue_flush(q);
	}
	assert_true(refused > 0);
	/* Grow the bound: reopen with more room (as when space returns on the filesystem). */
	pt_queue_free(q);
	pt_spool_close(sp);
	so.max_bytes = 8 << 20;
	assert_int_equal(pt_spool_open(&so, &sp), 0);
	scan(sp, &s);
	/* What was in memory at shutdown never reached the spool: those events are still in the
	 * kernel ring (not committed), so only stored + reported must hold for what was stored. */
	uint64_t stored_exits = s.exits;
	assert_true(stored_exits > 0);
	assert_true(stored_exits + refused <= 6000);
	assert_int_equal(s.n, s.last_seq);   /* no gap */
	pt_spool_close(sp);
}

static void test_spool_corruption_reported(void **state)
{
	struct fx *f = *state;
	struct pt_spool_opts so = { .dir = f->dir };
	struct pt_spool *sp;
	struct pt_queue *q;
	struct seen s;
	char path[256];

	assert_int_equal(pt_spool_open(&so, &sp), 0);
	assert_int_equal(pt_queue_new(sp, NULL, &q), 0);
	for (uint32_t i = 1; i <= 30; i++) {
		struct pt_record r = exit_rec(i);
		assert_int_equal(pt_queue_push(q, &r, i), 0);
	}
	pt_queue_free(q);
	pt_spool_close(sp);

	/* Damage record 7: the records are the same size, so its offset is computable. */
	snprintf(path, sizeof(path), "%s/seg-0000000000000001.pts", f->dir);
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	uint8_t hdr[PT_SPOOL_REC_HDR_LEN];
	assert_int_equal(pread(fd, hdr, sizeof(hdr), PT_SPOOL_SEG_HDR_LEN), (ssize_t)sizeof(hdr));
	off_t fsz = PT_SPOOL_REC_HDR_LEN + pt_be32_get(hdr + 4);
	uint8_t x = 0x55;
	assert_int_equal(pwrite(fd, &x, 1, PT_SPOOL_SEG_HDR_LEN + 6 * fsz + 40), 1);
	close(fd);

	assert_int_equal(pt_spool_open(&so, &sp), 0);
	assert_int_equal(pt_queue_new(sp, NULL, &q), 0);
	assert_int_equal(pt_queue_flush(q), 0);
	scan(sp, &s);
	assert_int_equal(s.exits, 29);
	assert_int_equal(s.nranges, 1);
	assert_int_equal(s.ranges[0].counter, PT_LOSS_SPOOL_CORRUPT);
	assert_int_equal(s.ranges[0].first_seq, 7);
	assert_int_equal(s.ranges[0].last_seq, 7);
	assert_int_equal(s.last_seq, 31);   /* the LOSS record itself */
	uint64_t tot[PT_LOSS_COUNTER_MAX + 1];
	pt_queue_counters(q, tot);
	assert_int_equal(tot[PT_LOSS_SPOOL_CORRUPT], 1);
	pt_queue_free(q);
	pt_spool_close(sp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sequence_and_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unencodable_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_spool_drops_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drop_reports_in_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spool_corruption_reported, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
