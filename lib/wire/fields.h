/* Table-driven attributes: one table per record and frame type drives both the encoder and
 * the decoder, so widths, maxima, duplicates and unknown attributes are written once and the
 * two sides cannot disagree. Internal to lib/wire. */
#ifndef PROCTRAIL_WIRE_FIELDS_H
#define PROCTRAIL_WIRE_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proctrail/wire.h"

enum pt_field_kind {
	PT_F_U8,
	PT_F_U16,
	PT_F_U32,
	PT_F_U64,
	PT_F_STR,        /* struct pt_str, at most .len bytes, no NUL */
	PT_F_FIXED,      /* exactly .len bytes copied into a byte array */
	PT_F_ARGV,       /* struct pt_str of NUL-terminated entries */
	PT_F_COUNTER,    /* repeated: struct pt_counter array with a uint32_t count */
	PT_F_COUNT_ONLY, /* repeated: each exactly .len bytes, only counted into a uint32_t */
};

struct pt_field {
	uint16_t type;
	uint8_t kind;
	uint32_t len;          /* STR: maximum; FIXED, COUNT_ONLY: exact width */
	uint32_t max;          /* COUNTER, COUNT_ONLY: most repeats */
	size_t offset;         /* of the value in the decoded struct */
	size_t count_offset;   /* COUNTER, COUNT_ONLY: of the uint32_t count */
	/* Encoding: the attribute is left out when this says so (a hash or its absent reason,
	 * an optional range). NULL: always written. The decoder ignores it. */
	bool (*omit)(const void *in);
};

#define PT_FIELD(t, k, st, member) { (t), (k), 0, 0, offsetof(st, member), 0 }
#define PT_FIELD_STR(t, st, member, max) { (t), PT_F_STR, (max), 0, offsetof(st, member), 0 }
#define PT_FIELD_FIXED(t, st, member, n) { (t), PT_F_FIXED, (n), 0, offsetof(st, member), 0 }
#define PT_FIELD_REPEAT(t, k, width, st, member, count, most) \
	{ (t), (k), (width), (most), offsetof(st, member), offsetof(st, count) }
#define PT_FIELD_IF(t, k, st, member, omit) { (t), (k), 0, 0, offsetof(st, member), 0, (omit) }
#define PT_FIELD_STR_IF(t, st, member, max, omit) \
	{ (t), PT_F_STR, (max), 0, offsetof(st, member), 0, (omit) }
#define PT_FIELD_FIXED_IF(t, st, member, n, omit) \
	{ (t), PT_F_FIXED, (n), 0, offsetof(st, member), 0, (omit) }

#define PT_BIT(type) (1ull << (type))

/* A string field: -EMSGSIZE over max, -EINVAL with a NUL inside (or no bytes behind a length). */
int pt_str_check(struct pt_str s, uint32_t max);

/* argv: empty, or NUL-terminated entries ending in NUL; -EMSGSIZE over PT_ARGV_MAX bytes or
 * PT_ARGS_MAX entries, -EINVAL when the last entry has no terminator. */
int pt_argv_check(const char *p, uint32_t len);

/* Appends in's attributes by the table, in table order. Returns 0, -EMSGSIZE (a string, argv
 * or repeat over its maximum), or -EINVAL (a NUL inside a string, an unterminated argv, a
 * decode-only field); on error the caller discards what was written (w->len is not reset). */
int pt_fields_encode(struct pt_writer *w, const struct pt_field *fields, size_t n_fields,
		     const void *in);

/* Decodes attrs into out by the table. *seen gets a bit per attribute type present.
 * Unknown attribute types are counted in st and skipped. Returns 0 or -EBADMSG/-EMSGSIZE. */
int pt_fields_decode(const uint8_t *attrs, size_t len, const struct pt_field *fields,
		     size_t n_fields, void *out, uint64_t *seen, struct pt_decode_stats *st);

#endif
