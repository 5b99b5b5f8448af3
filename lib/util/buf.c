#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proctrail/buf.h"

void pt_buf_init(struct pt_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void pt_buf_free(struct pt_buf *b)
{
	if (!b)
		return;
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void pt_buf_reset(struct pt_buf *b)
{
	b->len = 0;
}

int pt_buf_reserve(struct pt_buf *b, size_t extra)
{
	size_t want, cap;
	uint8_t *p;

	if (extra > b->max || b->len > b->max - extra)
		return -EMSGSIZE;
	want = b->len + extra;
	if (want <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < want)
		cap = cap > b->max / 2 ? b->max : cap * 2;
	if (cap < want)
		cap = want;
	p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int pt_buf_append(struct pt_buf *b, const void *data, size_t len)
{
	int err = pt_buf_reserve(b, len);

	if (err)
		return err;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	return 0;
}

int pt_buf_append_str(struct pt_buf *b, const char *s)
{
	return pt_buf_append(b, s, strlen(s));
}

int pt_buf_printf(struct pt_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, err;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	/* +1 for vsnprintf's terminator, which is not kept in len. */
	err = pt_buf_reserve(b, (size_t)n + 1);
	if (err)
		return err;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void pt_buf_consume(struct pt_buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}
