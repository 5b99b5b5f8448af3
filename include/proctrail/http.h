/* The CLI's HTTP/1.1 client side, without I/O: an incremental response parser and a
 * Server-Sent Events parser. Bytes go in as they arrive from the TLS stream; the parsers hold
 * at most the limits below, so a hostile or broken server cannot make the CLI allocate more.
 *
 * Hand-written (with a libFuzzer harness, tests/fuzz/fuzz_http.c): the CLI must not pull in
 * libevent for one request; the parsers are small and strict.
 *
 * Ownership: each struct owns its buffers; *_free() releases them and is NULL-safe.
 */
#ifndef PROCTRAIL_HTTP_H
#define PROCTRAIL_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proctrail/buf.h"

#define PT_HTTP_HEAD_MAX     (32u << 10)   /* status line + headers */
#define PT_HTTP_HEADERS_MAX  64u
#define PT_HTTP_CHUNK_LINE_MAX 256u        /* a chunk-size line with its extensions */
#define PT_HTTP_TRAILER_MAX  (8u << 10)
#define PT_HTTP_CTYPE_MAX    128u
#define PT_SSE_LINE_MAX      (1u << 20)    /* one SSE line: an event's data */
#define PT_SSE_ID_MAX        128u

/* Body bytes as they are decoded (chunked or not); a non-zero return stops the parser with it. */
typedef int (*pt_http_body_fn)(void *arg, const uint8_t *data, size_t len);

enum pt_http_state { PT_HTTP_HEAD, PT_HTTP_BODY_LEN, PT_HTTP_BODY_CLOSE, PT_HTTP_CHUNK_SIZE,
		     PT_HTTP_CHUNK_DATA, PT_HTTP_CHUNK_CRLF, PT_HTTP_TRAILER, PT_HTTP_DONE };

struct pt_http_resp {
	enum pt_http_state state;
	int status;                      /* 100..599 */
	bool chunked;
	bool has_length;
	uint64_t length;                 /* Content-Length, or what is left of the body / chunk */
	uint64_t body_max;               /* decoded body bytes accepted in all */
	uint64_t body_seen;
	char content_type[PT_HTTP_CTYPE_MAX];   /* empty when absent; lower-cased */
	struct pt_buf line;              /* the head, a chunk-size line, or trailers */
	pt_http_body_fn on_body;
	void *arg;
	bool head_request;
};

/* body_max: the most decoded body bytes accepted (-EMSGSIZE past it). */
void pt_http_resp_init(struct pt_http_resp *r, uint64_t body_max, pt_http_body_fn on_body,
		       void *arg);
void pt_http_resp_free(struct pt_http_resp *r);
/* Feeds n bytes. Returns 0 (more wanted), 1 (the response is complete; *used tells how many
 * bytes were its own), -EPROTO (not HTTP/1.x or malformed), -EMSGSIZE (a limit), or the body
 * callback's own return. */
int pt_http_resp_feed(struct pt_http_resp *r, const uint8_t *data, size_t n, size_t *used);
/* The peer closed: 1 when that ends the response (a body read until close), -EPIPE when the
 * response was cut short. */
int pt_http_resp_eof(struct pt_http_resp *r);

/* One event of a text/event-stream (WHATWG HTML, "Server-sent events"). */
typedef int (*pt_sse_event_fn)(void *arg, const char *event, const char *id,
			       const uint8_t *data, size_t len);

struct pt_sse {
	struct pt_buf line;    /* the line being read */
	struct pt_buf data;    /* data lines of the event being read, "\n"-joined */
	char event[64];
	char id[PT_SSE_ID_MAX];    /* the last event id (kept across events, as the spec says) */
	bool cr;               /* the previous byte was a CR (a CRLF is one line end) */
	bool bom_checked;
	pt_sse_event_fn on_event;
	void *arg;
};

void pt_sse_init(struct pt_sse *s, pt_sse_event_fn on_event, void *arg);
void pt_sse_free(struct pt_sse *s);
/* 0, -EMSGSIZE (a line or an event's data over PT_SSE_LINE_MAX), or the callback's return. */
int pt_sse_feed(struct pt_sse *s, const uint8_t *data, size_t n);

#endif
