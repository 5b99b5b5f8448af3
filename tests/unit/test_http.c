/* The CLI's HTTP/1.1 response and event-stream parsers: bodies by length, chunked and until
 * close; every limit refused; bytes arriving one at a time give the same result. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "proctrail/http.h"

static int collect(void *arg, const uint8_t *data, size_t len)
{
	return pt_buf_append(arg, data, len) ? -EMSGSIZE : 0;
}

/* Feeds s in pieces of step bytes; returns the parser's last result. */
static int run(const char *s, size_t step, uint64_t max, struct pt_buf *body, int *status)
{
	struct pt_http_resp r;
	size_t n = strlen(s), off = 0, used;
	int ret = 0;

	pt_buf_reset(body);
	pt_http_resp_init(&r, max, collect, body);
	while (off < n) {
		size_t k = n - off < step ? n - off : step;

		ret = pt_http_resp_feed(&r, (const uint8_t *)s + off, k, &used);
		off += used;
		if (ret)
			break;
	}
	if (!ret)
		ret = pt_http_resp_eof(&r);
	*status = r.status;
	pt_http_resp_free(&r);
	return ret;
}

static void test_bodies(void **state)
{
	static const struct { const char *in, *body; int status; } ok[] = {
		{ "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: application/json\r\n\r\nhello",
		  "hello", 200 },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n"
		  "6\r\n world\r\n0\r\nX-Trailer: y\r\n\r\n", "hello world", 200 },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n",
		  "0123456789", 200 },
		{ "HTTP/1.0 401 Unauthorized\r\nContent-Length: 24\r\n\r\n{\"error\":\"unauthorized\"}",
		  "{\"error\":\"unauthorized\"}", 401 },
		{ "HTTP/1.1 204 No Content\r\n\r\n", "", 204 },
		{ "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil close", "until close", 200 },
		{ "HTTP/1.1 200 OK\nContent-Length: 2\n\nok", "ok", 200 },
	};
	struct pt_buf body;
	int status;

	(void)state;
	pt_buf_init(&body, 1 << 20);
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		for (size_t step = 1; step <= 4096; step *= 8) {
			int r = run(ok[i].in, step, 1 << 20, &body, &status);

			if (r != 1)
				fail_msg("case %zu step %zu: %d", i, step, r);
			assert_int_equal(status, ok[i].status);
			assert_int_equal(body.len, strlen(ok[i].body));
			assert_memory_equal(body.data, ok[i].body, body.len);
		}
	pt_buf_free(&body);
}

static void test_content_type_and_used(void **state)
{
	const char *two = "HTTP/1.1 200 OK\r\nContent-Type: Text/Event-Stream\r\nContent-Length: 1"
			  "\r\n\r\nxHTTP/1.1";
	struct pt_http_resp r;
	size_t used;

	(void)state;
	pt_http_resp_init(&r, 100, NULL, NULL);
	assert_int_equal(pt_http_resp_feed(&r, (const uint8_t *)two, strlen(two), &used), 1);
	assert_int_equal(used, strlen(two) - 8);   /* what follows is not this response's */
	assert_string_equal(r.content_type, "text/event-stream");
	pt_http_resp_free(&r);
	pt_http_resp_free(NULL);
}

static void test_refusals(void **state)
{
	static const struct { const char *in; int want; } bad[] = {
		{ "HTTP/2 200\r\n\r\n", -EPROTO },
		{ "HTTP/1.1 20 OK\r\n\r\n", -EPROTO },
		{ "HTTP/1.1 999 OK\r\n\r\n", -EPROTO },
		{ "ICY 200 OK\r\n\r\n", -EPROTO },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", -EPROTO },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", -EPROTO },
		{ "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", -EPROTO },
		{ "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n", -EPROTO },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", -EPROTO },
		{ "HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n", -EPROTO },
		{ "HTTP/1.1 200 OK\r\nX: a\x01\r\n\r\n", -EPROTO },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", -EPROTO },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n", -EPROTO },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFF\r\n", -EMSGSIZE },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n401\r\n", -EMSGSIZE },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 1025\r\n\r\n", -EMSGSIZE },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", -EPIPE },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", -EPIPE },
		{ "HTTP/1.1 200 OK\r\n", -EPIPE },
	};
	struct pt_buf body;
	int status;

	(void)state;
	pt_buf_init(&body, 1 << 20);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r1 = run(bad[i].in, 1, 1024, &body, &status);
		int r2 = run(bad[i].in, 4096, 1024, &body, &status);

		if (r1 != bad[i].want || r2 != bad[i].want)
			fail_msg("case %zu: %d / %d, want %d", i, r1, r2, bad[i].want);
	}
	pt_buf_free(&body);
}

static void test_head_and_headers_bounded(void **state)
{
	static char big[PT_HTTP_HEAD_MAX + 100];
	struct pt_buf body;
	int status;
	size_t n;

	(void)state;
	pt_buf_init(&body, 1024);
	n = (size_t)snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\nX: ");
	memset(big + n, 'a', sizeof(big) - n - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(run(big, 4096, 1024, &body, &status), -EMSGSIZE);
	n = (size_t)snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\n");
	for (unsigned i = 0; i <= PT_HTTP_HEADERS_MAX; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "X-%u: y\r\n", i);
	snprintf(big + n, sizeof(big) - n, "\r\n");
	assert_int_equal(run(big, 4096, 1024, &body, &status), -EMSGSIZE);
	pt_buf_free(&body);
}

struct events {
	char got[1024];
	int n;
};

static int on_event(void *arg, const char *event, const char *id, const uint8_t *data,
		    size_t len)
{
	struct events *e = arg;
	size_t l = strlen(e->got);

	snprintf(e->got + l, sizeof(e->got) - l, "[%s|%s|%.*s]", event, id, (int)len,
		 (const char *)data);
	e->n++;
	return 0;
}

static void test_sse(void **state)
{
	const char *s = "\xef\xbb\xbf: keepalive\r\n\r\nid: 7\nevent: event\ndata: {\"a\":1}\n\n"
			"data: x\rdata: y\r\n\r\nretry: 5\nunknown: z\n\n: c\n\nid: 9\ndata:z\n\n"
			"data: incomplete";
	struct events e;
	struct pt_sse sse;

	(void)state;
	for (size_t step = 1; step <= 256; step *= 4) {
		memset(&e, 0, sizeof(e));
		pt_sse_init(&sse, on_event, &e);
		for (size_t off = 0; off < strlen(s); off += step) {
			size_t k = strlen(s) - off < step ? strlen(s) - off : step;

			assert_int_equal(pt_sse_feed(&sse, (const uint8_t *)s + off, k), 0);
		}
		assert_string_equal(e.got, "[event|7|{\"a\":1}][message|7|x\ny][message|9|z]");
		pt_sse_free(&sse);
	}
	pt_sse_free(NULL);
}

static void test_sse_bounded(void **state)
{
	static uint8_t line[PT_SSE_LINE_MAX + 10];
	struct events e = { 0 };
	struct pt_sse sse;

	(void)state;
	pt_sse_init(&sse, on_event, &e);
	memcpy(line, "data: ", 6);
	memset(line + 6, 'a', sizeof(line) - 6);
	assert_int_equal(pt_sse_feed(&sse, line, sizeof(line)), -EMSGSIZE);
	pt_sse_free(&sse);
	assert_int_equal(e.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bodies),
		cmocka_unit_test(test_content_type_and_used),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_head_and_headers_bounded),
		cmocka_unit_test(test_sse),
		cmocka_unit_test(test_sse_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
