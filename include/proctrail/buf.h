/* A growable byte buffer with a hard maximum, in the manner of curl's dynbuf.
 *
 * Ownership: the buffer owns .data; pt_buf_free() releases it and is NULL-safe.
 * Every append either fits under .max or fails with -EMSGSIZE and leaves the contents as they
 * were, so a caller can never build something larger than it declared it would accept.
 */
#ifndef PROCTRAIL_BUF_H
#define PROCTRAIL_BUF_H

#include <stddef.h>
#include <stdint.h>

struct pt_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	size_t max;
};

void pt_buf_init(struct pt_buf *b, size_t max);
void pt_buf_free(struct pt_buf *b);
void pt_buf_reset(struct pt_buf *b);
/* Makes room for at least `extra` more bytes. Returns 0, -EMSGSIZE or -ENOMEM. */
int  pt_buf_reserve(struct pt_buf *b, size_t extra);
int  pt_buf_append(struct pt_buf *b, const void *data, size_t len);
int  pt_buf_append_str(struct pt_buf *b, const char *s);
int  pt_buf_printf(struct pt_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drops the first n bytes (consumed input). */
void pt_buf_consume(struct pt_buf *b, size_t n);

#endif
