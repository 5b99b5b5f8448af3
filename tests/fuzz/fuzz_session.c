/* libFuzzer harness for the collector's frame-decoding path: bytes arrive as if from an
 * authenticated agent and go through the same framing and session code as the server, with an
 * in-memory SQLite store run synchronously in place of the writer thread.
 *
 * Input: first byte's low bit set: a valid HELLO is sent first (so the fuzzer reaches BATCH,
 * PONG and ERROR handling); bit 1 set: frames go through pt_session_frame_take() (the server's
 * batch path) instead of pt_session_frame(); the rest is the byte stream of the connection. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proctrail/log.h"
#include "proctrail/store.h"
#include "proctrail/wire.h"
#include "../../server/session.h"

static struct pt_store *store;
static int closed;

static void f_send(void *io, const uint8_t *buf, size_t len)
{
	struct pt_frame_header h;

	(void)io;
	/* whatever the session sends must itself be a well-formed frame */
	if (pt_frame_header_parse(buf, len, PT_FRAME_MAX, &h) || len != PT_FRAME_HDR_LEN + h.payload_len)
		abort();
}
static void f_close(void *io) { (void)io; closed = 1; }
static void f_pause(void *io, uint64_t ms) { (void)io; (void)ms; }
static void f_resume(void *io) { (void)io; }
static void f_submit(void *ctx, struct pt_job *job)
{
	(void)ctx;
	if (pt_store_begin(store) == 0) {
		job->ret = pt_job_run(store, job);
		if (pt_store_commit(store))
			job->ret = -5;
	}
	pt_session_job_done(job);
}

static const struct pt_session_ops ops = { f_send, f_close, f_pause, f_resume, f_submit };
static const struct pt_session_limits lim = { .max_frame = 1 << 20, .window = 1024,
	.ping_interval_ms = 1000 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pt_session *s;
	uint8_t hello_buf[512];
	struct pt_writer w;
	size_t off = 0, total;
	uint64_t now = 1;
	int take = 0;
	struct pt_hello h = { .version = { "f", 1 }, .hostname = { "h", 1 },
		.agent_name = { "fuzz", 4 }, .stream_id = 1, .first_seq = 1, .next_seq = 1,
		.mode = PT_MODE_PULL };

	if (!store) {
		log_init("fuzz_session", 0);
		if (pt_store_open(&store, ":memory:"))
			abort();
	}
	closed = 0;
	s = pt_session_new("fuzz", "fuzz", &ops, &closed, NULL, &lim, now);
	if (!s)
		return 0;
	if (size && (data[0] & 1)) {
		pt_writer_init(&w, hello_buf, sizeof(hello_buf));
		if (pt_hello_encode(&w, &h) || pt_session_frame(s, w.buf, w.len, now))
			abort();
	}
	if (size) {
		take = data[0] & 2;
		data++;
		size--;
	}
	while (!closed && pt_session_wants_input(s) && off < size) {
		if (pt_session_frame_len(s, data + off, size - off, &total))
			break;
		if (total > size - off)
			break;
		if (take) {
			/* the server's own path for batches: a malloc'ed copy the session takes */
			uint8_t *own = malloc(total);

			if (!own)
				break;
			memcpy(own, data + off, total);
			pt_session_frame_take(s, own, total, ++now);
		} else {
			pt_session_frame(s, data + off, total, ++now);
		}
		off += total;
	}
	if (s->state == PT_SESS_READY)
		pt_session_ping(s, now + 5000000000ull);
	pt_session_detach(s, now);
	pt_session_unref(s);
	return 0;
}
