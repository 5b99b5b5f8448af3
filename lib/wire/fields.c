#include <errno.h>
#include <string.h>

#include "fields.h"

static const struct pt_field *field_find(const struct pt_field *fields, size_t n, uint16_t type)
{
	for (size_t i = 0; i < n; i++)
		if (fields[i].type == type)
			return &fields[i];
	return NULL;
}

int pt_str_check(struct pt_str s, uint32_t max)
{
	if (s.len > max)
		return -EMSGSIZE;
	if (s.len && !s.ptr)
		return -EINVAL;
	if (s.len && memchr(s.ptr, '\0', s.len))
		return -EINVAL;
	return 0;
}

int pt_argv_check(const char *p, uint32_t len)
{
	uint32_t n = 0;

	if (len > PT_ARGV_MAX)
		return -EMSGSIZE;
	if (len == 0)
		return 0;
	if (!p || p[len - 1] != '\0')
		return -EINVAL;
	for (uint32_t i = 0; i < len; i++)
		if (p[i] == '\0' && ++n > PT_ARGS_MAX)
			return -EMSGSIZE;
	return 0;
}

static int field_put(struct pt_writer *w, const struct pt_field *f, const uint8_t *base)
{
	const void *src = base + f->offset;
	uint32_t count;
	int err;

	switch (f->kind) {
	case PT_F_U8: pt_put_u8(w, f->type, *(const uint8_t *)src); return 0;
	case PT_F_U16: pt_put_u16(w, f->type, *(const uint16_t *)src); return 0;
	case PT_F_U32: pt_put_u32(w, f->type, *(const uint32_t *)src); return 0;
	case PT_F_U64: pt_put_u64(w, f->type, *(const uint64_t *)src); return 0;
	case PT_F_STR:
		if ((err = pt_str_check(*(const struct pt_str *)src, f->len)))
			return err;
		pt_put_str(w, f->type, *(const struct pt_str *)src);
		return 0;
	case PT_F_FIXED: pt_put_bytes(w, f->type, src, f->len); return 0;
	case PT_F_ARGV: {
		const struct pt_str *argv = src;

		if ((err = pt_argv_check(argv->ptr, argv->len)))
			return err;
		pt_put_str(w, f->type, *argv);
		return 0;
	}
	case PT_F_COUNTER:
		count = *(const uint32_t *)(base + f->count_offset);
		if (count > f->max)
			return -EMSGSIZE;
		pt_put_counters(w, f->type, src, count);
		return 0;
	case PT_F_COUNT_ONLY:
		break;   /* its values are not in the struct: the type's own encoder writes them */
	}
	return -EINVAL;
}

int pt_fields_encode(struct pt_writer *w, const struct pt_field *fields, size_t n_fields,
		     const void *in)
{
	int err;

	for (size_t i = 0; i < n_fields; i++) {
		if (fields[i].omit && fields[i].omit(in))
			continue;
		if ((err = field_put(w, &fields[i], in)))
			return err;
	}
	return 0;
}

static int field_store(const struct pt_field *f, const struct pt_attr *a, uint8_t *base)
{
	void *dst = base + f->offset;
	uint32_t *count = (uint32_t *)(base + f->count_offset);
	int err;

	switch (f->kind) {
	case PT_F_U8: return pt_attr_u8(a, dst);
	case PT_F_U16: return pt_attr_u16(a, dst);
	case PT_F_U32: return pt_attr_u32(a, dst);
	case PT_F_U64: return pt_attr_u64(a, dst);
	case PT_F_STR: return pt_attr_str(a, f->len, dst);
	case PT_F_FIXED: return pt_attr_fixed(a, dst, f->len);
	case PT_F_ARGV:
		/* On the receiving side a missing terminator is a malformed record. */
		err = pt_argv_check((const char *)a->val, a->len);
		if (err)
			return err == -EINVAL ? -EBADMSG : err;
		((struct pt_str *)dst)->ptr = (const char *)a->val;
		((struct pt_str *)dst)->len = a->len;
		return 0;
	case PT_F_COUNTER:
		if (*count >= f->max)
			return -EMSGSIZE;
		err = pt_attr_counter(a, (struct pt_counter *)dst + *count);
		if (!err)
			(*count)++;
		return err;
	case PT_F_COUNT_ONLY:
		if (a->len != f->len)
			return -EBADMSG;
		if (*count >= f->max)
			return -EMSGSIZE;
		(*count)++;
		return 0;
	}
	return -EINVAL;
}

int pt_fields_decode(const uint8_t *attrs, size_t len, const struct pt_field *fields,
		     size_t n_fields, void *out, uint64_t *seen, struct pt_decode_stats *st)
{
	const struct pt_field *f;
	struct pt_cursor c;
	struct pt_attr a;
	int rc, err;

	pt_cursor_init(&c, attrs, len);
	while ((rc = pt_cursor_next_attr(&c, &a)) > 0) {
		f = field_find(fields, n_fields, a.type);
		if (!f) {
			if (st)
				st->unknown_attrs++;
			continue;
		}
		if (f->kind == PT_F_COUNTER || f->kind == PT_F_COUNT_ONLY) {
			if (a.type < 64)
				*seen |= PT_BIT(a.type);
		} else if ((err = pt_attr_seen(seen, a.type))) {
			return err;
		}
		if ((err = field_store(f, &a, out)))
			return err;
	}
	return rc < 0 ? rc : 0;
}
