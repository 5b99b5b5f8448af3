/* libFuzzer harness for the CLI's HTTP response parser and event-stream parser: any bytes, in
 * any split, never read or write out of bounds, never accept more body than allowed, and give
 * the same result whole or split. The first byte picks the split size and body limit. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proctrail/http.h"

struct sink {
	struct pt_buf body;
	struct pt_sse sse;
	uint64_t events;
	int sse_err;      /* sticky: a stream parser stops at its first error */
};

static int on_event(void *arg, const char *event, const char *id, const uint8_t *data,
		    size_t len)
{
	struct sink *s = arg;

	if (strlen(event) >= 64 || strlen(id) >= PT_SSE_ID_MAX || len > PT_SSE_LINE_MAX)
		abort();
	if (len && !data)
		abort();
	s->events++;
	return 0;
}

static int on_body(void *arg, const uint8_t *data, size_t len)
{
	struct sink *s = arg;

	if (pt_buf_append(&s->body, data, len))
		return -1;
	if (!s->sse_err)
		s->sse_err = pt_sse_feed(&s->sse, data, len);
	return 0;
}

static int parse(const uint8_t *data, size_t size, size_t step, uint64_t max, struct sink *s,
		 int *status)
{
	struct pt_http_resp r;
	size_t off = 0, used;
	int ret = 0;

	pt_buf_init(&s->body, 1u << 24);
	pt_sse_init(&s->sse, on_event, s);
	s->events = 0;
	s->sse_err = 0;
	pt_http_resp_init(&r, max, on_body, s);
	while (off < size) {
		size_t k = size - off < step ? size - off : step;

		ret = pt_http_resp_feed(&r, data + off, k, &used);
		if (used > k)
			abort();
		off += used;
		if (ret)
			break;
	}
	if (!ret)
		ret = pt_http_resp_eof(&r);
	if (r.body_seen > max || s->body.len != r.body_seen)
		abort();
	*status = r.status;
	pt_http_resp_free(&r);
	return ret;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sink a, b;
	size_t step;
	uint64_t max;
	int sa, sb, ra, rb;

	if (size < 1)
		return 0;
	step = (size_t)(data[0] & 0x0f) + 1;
	max = (data[0] & 0x80) ? 64 : (1u << 20);
	data++, size--;
	ra = parse(data, size, size ? size : 1, max, &a, &sa);
	rb = parse(data, size, step, max, &b, &sb);
	/* split or whole, the same answer; the same body and events when it was accepted (a
	 * refused one stops wherever the split put the limit) */
	if (ra != rb || sa != sb)
		abort();
	if (ra == 1 && (a.body.len != b.body.len ||
	    (a.body.len && memcmp(a.body.data, b.body.data, a.body.len)) || a.events != b.events ||
	    a.sse_err != b.sse_err))
		abort();
	pt_buf_free(&a.body);
	pt_buf_free(&b.body);
	pt_sse_free(&a.sse);
	pt_sse_free(&b.sse);
	return 0;
}
