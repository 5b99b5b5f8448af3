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
	};

	log_init("test_session", 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
