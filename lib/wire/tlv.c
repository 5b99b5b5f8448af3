/* Bounded attribute writer and cursor: the only code that touches raw TLV bytes. */
#include <errno.h>
#include <string.h>

#include "proctrail/wire.h"

void pt_writer_init(struct pt_writer *w, void *buf, size_t cap)
{
	w->buf = buf;
	w->cap = cap;
	w->len = 0;
	w->err = 0;
}

/* Reserves n bytes and returns where they go, or NULL with the sticky error set. */
static uint8_t *writer_take(struct pt_writer *w, size_t n)
{
	uint8_t *p;

	if (w->err)
		return NULL;
	if (n > w->cap - w->len) {
		w->err = -ENOBUFS;
		return NULL;
	}
	p = w->buf + w->len;
	w->len += n;
	return p;
}

static uint8_t *attr_begin(struct pt_writer *w, uint16_t type, size_t len)
{
	uint8_t *p;

	if (!w->err && len > UINT16_MAX)
		w->err = -EMSGSIZE;
	p = writer_take(w, PT_ATTR_HDR_LEN + len);
	if (!p)
		return NULL;
	pt_be16_put(p, type);
	pt_be16_put(p + 2, (uint16_t)len);
	return p + PT_ATTR_HDR_LEN;
}

void pt_put_u8(struct pt_writer *w, uint16_t type, uint8_t v)
{
	uint8_t *p = attr_begin(w, type, 1);

	if (p)
		p[0] = v;
}

void pt_put_u16(struct pt_writer *w, uint16_t type, uint16_t v)
{
	uint8_t *p = attr_begin(w, type, 2);

	if (p)
		pt_be16_put(p, v);
}

void pt_put_u32(struct pt_writer *w, uint16_t type, uint32_t v)
{
	uint8_t *p = attr_begin(w, type, 4);

	if (p)
		pt_be32_put(p, v);
}

void pt_put_u64(struct pt_writer *w, uint16_t type, uint64_t v)
{
	uint8_t *p = attr_begin(w, type, 8);

	if (p)
		pt_be64_put(p, v);
}

void pt_put_bytes(struct pt_writer *w, uint16_t type, const void *v, size_t len)
{
	uint8_t *p = attr_begin(w, type, len);

	if (p && len)
		memcpy(p, v, len);
}

void pt_put_str(struct pt_writer *w, uint16_t type, struct pt_str s)
{
	pt_put_bytes(w, type, s.ptr, s.len);
}

void pt_put_cstr(struct pt_writer *w, uint16_t type, const char *s)
{
	pt_put_bytes(w, type, s, s ? strlen(s) : 0);
}

void pt_put_raw(struct pt_writer *w, const void *v, size_t len)
{
	uint8_t *p = writer_take(w, len);

	if (p && len)
		memcpy(p, v, len);
}

void pt_put_counters(struct pt_writer *w, uint16_t type, const struct pt_counter *c, uint32_t n)
{
	uint8_t v[10];

	for (uint32_t i = 0; i < n; i++) {
		pt_be16_put(v, c[i].id);
		pt_be64_put(v + 2, c[i].value);
		pt_put_bytes(w, type, v, sizeof(v));
	}
}

void pt_cursor_init(struct pt_cursor *c, const void *p, size_t len)
{
	c->p = p;
	c->len = len;
	c->off = 0;
}

int pt_cursor_next_attr(struct pt_cursor *c, struct pt_attr *a)
{
	size_t left = c->len - c->off;
	uint16_t len;

	if (left == 0)
		return 0;
	if (left < PT_ATTR_HDR_LEN)
		return -EBADMSG;
	len = pt_be16_get(c->p + c->off + 2);
	if (len > left - PT_ATTR_HDR_LEN)
		return -EBADMSG;
	a->type = pt_be16_get(c->p + c->off);
	a->len = len;
	a->val = c->p + c->off + PT_ATTR_HDR_LEN;
	c->off += PT_ATTR_HDR_LEN + len;
	return 1;
}

int pt_attr_u8(const struct pt_attr *a, uint8_t *v)
{
	if (a->len != 1)
		return -EBADMSG;
	*v = a->val[0];
	return 0;
}

int pt_attr_u16(const struct pt_attr *a, uint16_t *v)
{
	if (a->len != 2)
		return -EBADMSG;
	*v = pt_be16_get(a->val);
	return 0;
}

int pt_attr_u32(const struct pt_attr *a, uint32_t *v)
{
	if (a->len != 4)
		return -EBADMSG;
	*v = pt_be32_get(a->val);
	return 0;
}

int pt_attr_u64(const struct pt_attr *a, uint64_t *v)
{
	if (a->len != 8)
		return -EBADMSG;
	*v = pt_be64_get(a->val);
	return 0;
}

int pt_attr_str(const struct pt_attr *a, uint32_t max, struct pt_str *s)
{
	if (a->len > max)
		return -EMSGSIZE;
	if (a->len && memchr(a->val, '\0', a->len))
		return -EBADMSG;
	s->ptr = (const char *)a->val;
	s->len = a->len;
	return 0;
}

int pt_attr_fixed(const struct pt_attr *a, void *out, size_t len)
{
	if (a->len != len)
		return -EBADMSG;
	memcpy(out, a->val, len);
	return 0;
}

int pt_attr_counter(const struct pt_attr *a, struct pt_counter *c)
{
	if (a->len != 10)
		return -EBADMSG;
	c->id = pt_be16_get(a->val);
	c->value = pt_be64_get(a->val + 2);
	return 0;
}

/* Two values for one field would let a sender show one thing to one reader and another to
 * the next, so a repeated non-repeatable attribute makes the message malformed. */
int pt_attr_seen(uint64_t *seen, uint16_t type)
{
	uint64_t bit;

	if (type >= 64)
		return 0;
	bit = 1ull << type;
	if (*seen & bit)
		return -EBADMSG;
	*seen |= bit;
	return 0;
}
