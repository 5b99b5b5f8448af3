/* The collector's session state machine with fake transport and writer: identity, order of
 * frames, batch validation, window, ACK only after the writer reported the commit. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "proctrail/log.h"
#include "proctrail/wire.h"
#include "../../server/session.h"

struct fake {
	uint8_t out[1 << 16];
	size_t out_len;
	int closed, paused, resumed;
	struct pt_job *jobs[64];
	int njobs;
};

static void f_send(void *io, const uint8_t *buf, size_t len)
{
	struct fake *f = io;

	assert_true(f->out_len + len <= sizeof(f->out));
	memcpy(f->out + f->out_len, buf, len);
	f->out_len += len;
}
static void f_close(void *io) { ((struct fake *)io)->closed++; }
static void f_pause(void *io, uint64_t ms) { (void)ms; ((struct fake *)io)->paused++; }
static void f_resume(void *io) { ((struct fake *)io)->resumed++; }
static void f_submit(void *ctx, struct pt_job *job)
{
	struct fake *f = ctx;

	assert_true(f->njobs < 64);
	f->jobs[f->njobs++] = job;
}

static const struct pt_session_ops ops = { f_send, f_close, f_pause, f_resume, f_submit };
static const struct pt_session_limits lim = { .max_frame = 1 << 20, .window = 2,
	.ping_interval_ms = 1000 };

/* The frames the session sent, in order: types and, for ERROR, the code. */
static int out_frame(struct fake *f, int idx, struct pt_frame *fr)
{
	size_t off = 0;
	struct pt_frame_header h;

	while (off < f->out_len) {
		assert_int_equal(pt_frame_header_parse(f->out + off, f->out_len - off, PT_FRAME_MAX, &h), 0);
		if (idx-- == 0) {
			assert_int_equal(pt_frame_split(f->out + off, PT_FRAME_HDR_LEN + h.payload_len, fr), 0);
			return 0;
		}
		off += PT_FRAME_HDR_LEN + h.payload_len;
	}
	return -ENOENT;
}

static uint32_t out_error(struct fake *f, int idx)
{
	struct pt_frame fr;
	struct pt_error e;

	assert_int_equal(out_frame(f, idx, &fr), 0);
	assert_int_equal(fr.type, PT_FRAME_ERROR);
	assert_int_equal(pt_error_decode(&fr, &e, NULL), 0);
	return e.code;
}

static size_t hello(uint8_t *buf, size_t cap, const char *name, uint64_t stream)
{
	struct pt_writer w;
	struct pt_hello h = { .version = { "t", 1 }, .hostname = { "h", 1 },
		.agent_name = { name, (uint32_t)strlen(name) }, .stream_id = stream, .first_seq = 1,
		.next_seq = 11, .mode = PT_MODE_STREAM };

	pt_writer_init(&w, buf, cap);
	assert_int_equal(pt_hello_encode(&w, &h), 0);
	return w.len;
}

static size_t batch(uint8_t *buf, size_t cap, uint64_t stream, uint64_t first, uint32_t n,
		    int corrupt)
{
	uint8_t recs[8192];
	struct pt_writer w, fw;
	uint32_t i;

	pt_writer_init(&w, recs, sizeof(recs));
	for (i = 0; i < n; i++) {
		struct pt_record r = { .type = PT_REC_PROCESS_EXIT, .version = 1 };

		r.u.exit.pid = 100 + i;
		r.u.exit.time_ns = 5 + i;
		r.u.exit.comm = (struct pt_str){ "sh", 2 };
		assert_int_equal(pt_record_encode(&w, &r), 0);
	}
	if (corrupt)
		recs[5] = 0xff;          /* the attribute section now runs past the batch */
	pt_writer_init(&fw, buf, cap);
	assert_int_equal(pt_batch_encode(&fw, stream, first, n, recs, w.len, PT_CODEC_NONE, NULL, 0), 0);
	return fw.len;
}

static struct pt_session *ready_session(struct fake *f, uint64_t stream)
{
	uint8_t buf[1024];
	struct pt_session *s = pt_session_new("agent1", "127.0.0.1:9", &ops, f, f, &lim, 1);
	size_t n = hello(buf, sizeof(buf), "agent1", stream), total = 0;

	assert_non_null(s);
	assert_int_equal(pt_session_frame_len(s, buf, n, &total), 0);
	assert_int_equal(total, n);
	assert_int_equal(pt_session_frame(s, buf, n, 2), 0);
	assert_int_equal(f->njobs, 1);
	assert_int_equal(f->jobs[0]->type, PT_JOB_HELLO);
	assert_string_equal(f->jobs[0]->hello.agent_name, "agent1");
	/* nothing is read while the store answers the HELLO */
	assert_false(pt_session_wants_input(s));
	assert_int_equal(f->out_len, 0);
	f->jobs[0]->hello_res.agent = 3;
	f->jobs[0]->hello_res.has_acked = true;
	f->jobs[0]->hello_res.acked_seq = 0;
	pt_session_job_done(f->jobs[0]);
	f->njobs = 0;
	assert_true(pt_session_wants_input(s));
	return s;
}

static void test_identity_refused(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));
	uint8_t buf[1024];
	struct pt_session *s = pt_session_new("agent1", "127.0.0.1:9", &ops, f, f, &lim, 1);
	size_t n = hello(buf, sizeof(buf), "agent2", 1);

	(void)state;
	assert_int_equal(pt_session_frame(s, buf, n, 2), -EPERM);
	assert_int_equal(f->njobs, 0);               /* nothing reaches the store */
	assert_int_equal(f->closed, 1);
	assert_int_equal(out_error(f, 0), PT_ERR_IDENTITY);
	pt_session_detach(s, 3);
	assert_int_equal(f->njobs, 0);               /* unknown agent: no health row either */
	pt_session_unref(s);
	free(f);
}

static void test_first_frame_must_be_hello(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));
	uint8_t buf[8192];
	struct pt_session *s = pt_session_new("agent1", "a", &ops, f, f, &lim, 1);
	size_t n = batch(buf, sizeof(buf), 1, 1, 3, 0);

	(void)state;
	assert_true(pt_session_frame(s, buf, n, 2) < 0);
	assert_int_equal(f->njobs, 0);
	assert_int_equal(out_error(f, 0), PT_ERR_PROTOCOL);
	assert_int_equal(f->closed, 1);
	pt_session_unref(s);
	free(f);
}

static void test_batch_ack_after_commit(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));
	struct pt_session *s = ready_session(f, 7);
	uint8_t buf[8192];
	size_t n;
	struct pt_frame fr;
	struct pt_ack a;
	struct pt_welcome w;

	(void)state;
	assert_int_equal(out_frame(f, 0, &fr), 0);
	assert_int_equal(fr.type, PT_FRAME_WELCOME);
	assert_int_equal(pt_welcome_decode(&fr, &w, NULL), 0);
	assert_true(w.has_acked_seq);
	f->out_len = 0;

	n = batch(buf, sizeof(buf), 7, 1, 3, 0);
	assert_int_equal(pt_session_frame(s, buf, n, 3), 0);
	n = batch(buf, sizeof(buf), 7, 4, 2, 0);
	{
		/* the server's path: the session takes over a malloc'ed frame */
		uint8_t *own = malloc(n);

		memcpy(own, buf, n);
		assert_int_equal(pt_session_frame_take(s, own, n, 3), 0);
		memset(buf, 0, sizeof(buf));   /* the job must not depend on the caller's buffer */
	}
	assert_int_equal(f->njobs, 2);
	assert_int_equal(f->jobs[1]->ev[1].pid, 101);
	assert_int_equal(f->jobs[1]->batch.raw_len, f->jobs[1]->ev[1].off + f->jobs[1]->ev[1].len);
	assert_int_equal(f->jobs[0]->batch.count, 3);
	assert_int_equal(f->jobs[0]->ev[2].seq, 3);
	assert_int_equal(f->jobs[0]->ev[2].pid, 102);
	assert_int_equal(f->jobs[1]->batch.first_seq, 4);
	/* window of 2 reached: no more input; and no ACK before the writer answered */
	assert_false(pt_session_wants_input(s));
	assert_int_equal(f->out_len, 0);

	pt_session_job_done(f->jobs[0]);
	assert_int_equal(out_frame(f, 0, &fr), 0);
	assert_int_equal(pt_ack_decode(&fr, &a, NULL), 0);
	assert_int_equal(a.stream_id, 7);
	assert_int_equal(a.seq, 3);
	assert_true(pt_session_wants_input(s));
	/* a failed commit is never acknowledged: ERROR and close instead */
	f->jobs[1]->ret = -EIO;
	pt_session_job_done(f->jobs[1]);
	assert_int_equal(out_error(f, 1), PT_ERR_INTERNAL);
	assert_int_equal(f->closed, 1);
	assert_int_equal(out_frame(f, 2, &fr), -ENOENT);
	pt_session_unref(s);
	free(f);
}

static void test_bad_batches(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));
	struct pt_session *s = ready_session(f, 7);
	uint8_t buf[8192];
	size_t n;

	(void)state;
	f->out_len = 0;
	n = batch(buf, sizeof(buf), 7, 1, 3, 1);            /* a record that does not decode */
	assert_true(pt_session_frame(s, buf, n, 3) < 0);
	assert_int_equal(f->njobs, 0);
	assert_int_equal(out_error(f, 0), PT_ERR_PROTOCOL);
	pt_session_unref(s);

	memset(f, 0, sizeof(*f));
	s = ready_session(f, 7);
	f->out_len = 0;
	n = batch(buf, sizeof(buf), 8, 1, 3, 0);            /* another stream than HELLO's */
	assert_true(pt_session_frame(s, buf, n, 3) < 0);
	assert_int_equal(f->njobs, 0);
	pt_session_unref(s);

	memset(f, 0, sizeof(*f));
	s = ready_session(f, 7);
	f->out_len = 0;
	{
		/* COUNT says 4, the body holds 3 records */
		uint8_t recs[1024];
		struct pt_writer w, fw;
		struct pt_record r = { .type = PT_REC_PROCESS_EXIT, .version = 1 };
		int i;

		pt_writer_init(&w, recs, sizeof(recs));
		for (i = 0; i < 3; i++)
			assert_int_equal(pt_record_encode(&w, &r), 0);
		pt_writer_init(&fw, buf, sizeof(buf));
		assert_int_equal(pt_batch_encode(&fw, 7, 1, 4, recs, w.len, PT_CODEC_NONE, NULL, 0), 0);
		assert_int_equal(pt_session_frame(s, buf, fw.len, 3), -EBADMSG);
		assert_int_equal(f->njobs, 0);
		assert_int_equal(out_error(f, 0), PT_ERR_PROTOCOL);
	}
	pt_session_unref(s);
	free(f);
}

static void test_unknown_and_unexpected_frames(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));
	struct pt_session *s = ready_session(f, 7);
	uint8_t buf[256];
	struct pt_writer w;
	struct pt_frame_builder fb;

	(void)state;
	f->out_len = 0;
	/* a frame type from the future: skipped, counted, connection kept */
	pt_writer_init(&w, buf, sizeof(buf));
	pt_frame_begin(&fb, &w, 200);
	pt_put_u64(&w, 1, 42);
	assert_int_equal(pt_frame_end(&fb), 0);
	assert_int_equal(pt_session_frame(s, buf, w.len, 3), 0);
	assert_int_equal(s->stats.unknown_frames, 1);
	assert_int_equal(f->closed, 0);
	/* a collector-only frame from the agent: protocol error */
	pt_writer_init(&w, buf, sizeof(buf));
	assert_int_equal(pt_ack_encode(&w, &(struct pt_ack){ .stream_id = 7, .seq = 1 }), 0);
	assert_int_equal(pt_session_frame(s, buf, w.len, 3), -EBADMSG);
	assert_int_equal(out_error(f, 0), PT_ERR_PROTOCOL);
	assert_int_equal(f->closed, 1);
	pt_session_unref(s);
	free(f);
}

static void test_frame_limits(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));
	struct pt_session_limits small = lim;
	struct pt_session *s;
	uint8_t hdr[8] = { 0x50, 0x54, PT_WIRE_VERSION, PT_FRAME_BATCH, 0, 0x10, 0, 0 };
	size_t total;

	(void)state;
	small.max_frame = 4096;
	s = pt_session_new("agent1", "a", &ops, f, f, &small, 1);
	assert_int_equal(pt_session_frame_len(s, hdr, 4, &total), -EAGAIN);
	assert_int_equal(pt_session_frame_len(s, hdr, 8, &total), -EMSGSIZE);
	assert_int_equal(out_error(f, 0), PT_ERR_LIMIT);
	assert_int_equal(f->closed, 1);
	pt_session_unref(s);
	memset(f, 0, sizeof(*f));
	s = pt_session_new("agent1", "a", &ops, f, f, &small, 1);
	hdr[0] = 'X';
	assert_int_equal(pt_session_frame_len(s, hdr, 8, &total), -EPROTO);
	assert_int_equal(out_error(f, 0), PT_ERR_PROTOCOL);
	pt_session_unref(s);
	free(f);
}

static void test_rate_limit_pauses(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));
	struct pt_session_limits rl = lim;
	struct pt_session *s;
	uint8_t buf[8192];
	size_t n;

	(void)state;
	rl.records_per_s = 4;
	rl.window = 8;
	f->njobs = 0;
	s = pt_session_new("agent1", "a", &ops, f, f, &rl, 1);
	n = hello(buf, sizeof(buf), "agent1", 7);
	assert_int_equal(pt_session_frame(s, buf, n, 1), 0);
	pt_session_job_done(f->jobs[0]);
	f->njobs = 0;
	n = batch(buf, sizeof(buf), 7, 1, 3, 0);
	assert_int_equal(pt_session_frame(s, buf, n, 1), 0);
	assert_int_equal(f->paused, 0);                      /* 3 of 4 tokens */
	n = batch(buf, sizeof(buf), 7, 4, 3, 0);
	assert_int_equal(pt_session_frame(s, buf, n, 1), 0);
	assert_int_equal(f->paused, 1);                      /* overdrawn: reading stops */
	while (f->njobs)
		pt_session_job_done(f->jobs[--f->njobs]);
	pt_session_unref(s);
	free(f);
}

static size_t pong(uint8_t *buf, size_t cap, uint64_t nonce, uint64_t depth)
{
	struct pt_writer w;

	pt_writer_init(&w, buf, cap);
	assert_int_equal(pt_pong_encode(&w, &(struct pt_pong){ .nonce = nonce, .queue_depth = depth }), 0);
	return w.len;
}

static struct pt_job *job_of(struct fake *f, enum pt_job_type type, int *count)
{
	struct pt_job *last = NULL;

	*count = 0;
	for (int i = 0; i < f->njobs; i++) {
		if (f->jobs[i]->type == type) {
			last = f->jobs[i];
			(*count)++;
		}
	}
	return last;
}

static uint64_t job_counter(const struct pt_job *job, uint32_t id)
{
	for (uint32_t i = 0; job && i < job->n_counters; i++)
		if (job->counters[i].id == id)
			return job->counters[i].delta;
	return 0;
}

/* PONGs answer PINGs: one writer job per connection at most, the newest PONG wins; PONGs
 * nobody asked for are not stored, are counted, and past a bound close the connection. */
static void test_pong_coalesced_and_bounded(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));
	struct pt_session *s = ready_session(f, 7);
	struct pt_job *job;
	uint8_t buf[512];
	size_t n;
	int cnt;
	unsigned i;

	(void)state;
	for (i = 0; i < 3; i++)
		pt_session_ping(s, 10 + i);
	for (i = 0; i < 3; i++) {
		n = pong(buf, sizeof(buf), i + 1, 100 + i);
		assert_int_equal(pt_session_frame(s, buf, n, 20 + i), 0);
	}
	job = job_of(f, PT_JOB_PONG, &cnt);
	assert_int_equal(cnt, 1);                     /* the first; the others wait for it */
	assert_true(job->has_pong);
	assert_int_equal(job->pong.queue_depth, 100);
	f->njobs = 0;
	pt_session_job_done(job);
	job = job_of(f, PT_JOB_PONG, &cnt);
	assert_int_equal(cnt, 1);                     /* then only the newest */
	assert_int_equal(job->pong.queue_depth, 102);
	f->njobs = 0;
	pt_session_job_done(job);
	assert_int_equal(f->njobs, 0);

	/* Every PING answered: further PONGs are unsolicited. */
	for (i = 0; i < PT_PONG_UNSOLICITED_MAX; i++) {
		n = pong(buf, sizeof(buf), 9, 1);
		assert_int_equal(pt_session_frame(s, buf, n, 30 + i), 0);
	}
	job = job_of(f, PT_JOB_PONG, &cnt);
	assert_int_equal(cnt, 0);                     /* nothing for the store */
	assert_int_equal(f->closed, 0);
	n = pong(buf, sizeof(buf), 9, 1);
	assert_int_equal(pt_session_frame(s, buf, n, 50), -EMSGSIZE);
	assert_int_equal(f->closed, 1);
	assert_int_equal(out_error(f, 4), PT_ERR_LIMIT);   /* after WELCOME and 3 PINGs */
	pt_session_detach(s, 60);
	job = job_of(f, PT_JOB_PONG, &cnt);
	assert_int_equal(cnt, 1);                     /* the counters, stored at the end */
	assert_false(job->has_pong);
	assert_int_equal(job_counter(job, PT_SRV_PONG_FLOOD), PT_PONG_UNSOLICITED_MAX + 1);
	while (f->njobs)
		pt_session_job_done(f->jobs[--f->njobs]);
	pt_session_unref(s);
	free(f);
}

/* Frames of any type are charged: a flood of frames the collector skips still pauses reading
 * (back-pressure), and each pause is counted. */
static void test_frames_rate_limit(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));
	struct pt_session_limits rl = lim;
	struct pt_session *s;
	uint8_t buf[1024], unknown[12] = { 0x50, 0x54, PT_WIRE_VERSION, 200, 0, 0, 0, 4 };
	struct pt_job *job;
	size_t n;
	int cnt;

	(void)state;
	rl.frames_per_s = 10;
	s = pt_session_new("agent1", "a", &ops, f, f, &rl, 1);
	n = hello(buf, sizeof(buf), "agent1", 7);
	assert_int_equal(pt_session_frame(s, buf, n, 1), 0);
	f->jobs[0]->hello_res.agent = 3;
	pt_session_job_done(f->jobs[0]);
	f->njobs = 0;
	for (int i = 0; i < 9; i++)            /* HELLO took the 10th token */
		assert_int_equal(pt_session_frame(s, unknown, sizeof(unknown), 2), 0);
	assert_int_equal(f->paused, 0);
	assert_int_equal(pt_session_frame(s, unknown, sizeof(unknown), 2), 0);
	assert_int_equal(f->paused, 1);
	/* A second later the bucket is full again. */
	assert_int_equal(pt_session_frame(s, unknown, sizeof(unknown), 1000000002ull), 0);
	assert_int_equal(f->paused, 1);
	/* Faster than 10/s: paused again and again (9 tokens, then one per 100 ms). */
	for (int i = 1; i <= 100; i++)
		assert_int_equal(pt_session_frame(s, unknown, sizeof(unknown),
						  1000000002ull + i * 1000000ull), 0);
	assert_int_equal(f->paused, 1 + 91);
	/* At the rate exactly, never. */
	for (int i = 1; i <= 30; i++)
		assert_int_equal(pt_session_frame(s, unknown, sizeof(unknown),
						  3000000000ull + i * 100000000ull), 0);
	assert_int_equal(f->paused, 1 + 91);
	/* Kept over the rate (the bucket never full again) for 10 s: ERROR(LIMIT), closed. */
	uint64_t t = 7000000000ull;
	int ret = 0;

	for (int i = 0; i < 2000 && !ret; i++, t += 10000000ull)       /* 100 frames/s */
		ret = pt_session_frame(s, unknown, sizeof(unknown), t);
	assert_int_equal(ret, -EMSGSIZE);
	assert_true(t >= 7000000000ull + PT_FRAME_FLOOD_NS);
	assert_int_equal(f->closed, 1);
	assert_int_equal(out_error(f, 1), PT_ERR_LIMIT);              /* after WELCOME */
	pt_session_detach(s, t);
	job = job_of(f, PT_JOB_PONG, &cnt);
	assert_int_equal(cnt, 1);
	assert_true(job_counter(job, PT_SRV_THROTTLED) == (uint64_t)f->paused);
	assert_int_equal(job_counter(job, PT_SRV_FLOOD_CLOSED), 1);
	while (f->njobs)
		pt_session_job_done(f->jobs[--f->njobs]);
	pt_session_unref(s);
	free(f);
}

/* Unknown record types are stored and counted per type, up to a bound per batch; over it the
 * batch is refused with ERROR(LIMIT) and nothing is queued. */
static void test_unknown_records_bounded(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));
	struct pt_session_limits big = lim;
	struct pt_session *s;
	static uint8_t recs[PT_BATCH_UNKNOWN_BYTES_MAX + 4096], frame[PT_BATCH_UNKNOWN_BYTES_MAX + 8192];
	struct pt_writer fw;
	struct pt_job *job;
	uint32_t i, n;
	int cnt;

	(void)state;
	big.window = 8;
	s = pt_session_new("agent1", "a", &ops, f, f, &big, 1);
	{
		uint8_t buf[1024];
		size_t hl = hello(buf, sizeof(buf), "agent1", 7);

		assert_int_equal(pt_session_frame(s, buf, hl, 1), 0);
		f->jobs[0]->hello_res.agent = 3;
		pt_session_job_done(f->jobs[0]);
		f->njobs = 0;
	}
	/* 4 records of type 0x7001 and 2 of 0x7002, 512 bytes each. */
	for (i = 0; i < 6; i++) {
		memset(recs + i * 512, 0, 512);
		pt_be16_put(recs + i * 512, i < 4 ? 0x7001 : 0x7002);
		recs[i * 512 + 2] = 1;
		pt_be32_put(recs + i * 512 + 4, 512 - PT_RECORD_HDR_LEN);
	}
	pt_writer_init(&fw, frame, sizeof(frame));
	assert_int_equal(pt_batch_encode(&fw, 7, 1, 6, recs, 6 * 512, PT_CODEC_NONE, NULL, 0), 0);
	assert_int_equal(pt_session_frame(s, frame, fw.len, 2), 0);
	job = job_of(f, PT_JOB_BATCH, &cnt);
	assert_int_equal(cnt, 1);
	assert_int_equal(job->n_unknown, 2);
	assert_int_equal(job->unknown[0].id, PT_SRV_UNKNOWN_RECORD_BASE + 0x7001);
	assert_int_equal(job->unknown[0].delta, 4);
	assert_int_equal(job->unknown[1].delta, 2);
	assert_int_equal(job->ev[5].type, 0x7002);

	/* One record more than the bound allows. */
	n = PT_BATCH_UNKNOWN_BYTES_MAX / 512 + 1;
	for (i = 0; i < n; i++) {
		memset(recs + i * 512, 0, 512);
		pt_be16_put(recs + i * 512, 0x7001);
		recs[i * 512 + 2] = 1;
		pt_be32_put(recs + i * 512 + 4, 512 - PT_RECORD_HDR_LEN);
	}
	pt_writer_init(&fw, frame, sizeof(frame));
	assert_int_equal(pt_batch_encode(&fw, 7, 7, n, recs, n * 512, PT_CODEC_NONE, NULL, 0), 0);
	assert_int_equal(pt_session_frame(s, frame, fw.len, 3), -E2BIG);
	job_of(f, PT_JOB_BATCH, &cnt);
	assert_int_equal(cnt, 1);                     /* the refused batch was not queued */
	assert_int_equal(f->closed, 1);
	pt_session_detach(s, 4);
	job = job_of(f, PT_JOB_PONG, &cnt);
	assert_int_equal(job_counter(job, PT_SRV_BATCH_REFUSED), 1);
	while (f->njobs)
		pt_session_job_done(f->jobs[--f->njobs]);
	pt_session_unref(s);
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity_refused),
		cmocka_unit_test(test_first_frame_must_be_hello),
		cmocka_unit_test(test_batch_ack_after_commit),
		cmocka_unit_test(test_bad_batches),
		cmocka_unit_test(test_unknown_and_unexpected_frames),
		cmocka_unit_test(test_frame_limits),
		cmocka_unit_test(test_rate_limit_pauses),
		cmocka_unit_test(test_pong_coalesced_and_bounded),
		cmocka_unit_test(test_frames_rate_limit),
		cmocka_unit_test(test_unknown_records_bounded),
	};

	log_init("test_session", 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
