/* Minimal JSON writing into a bounded pt_buf, for the ECS formatter. Errors are sticky in
 * struct pt_json so the formatter writes straight-line code and checks once at the end.
 *
 * The keyed writers (pt_json_k*) are inline so that the length of a constant key is known at
 * compile time: an exec record has about 150 keys, and a strlen() of each showed in the
 * agent's profile (docs/benchmarks.md, "Context"). */
#ifndef PROCTRAIL_ECS_JSON_H
#define PROCTRAIL_ECS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proctrail/buf.h"

struct pt_json {
	struct pt_buf *out;
	int err;
	bool need_comma;
};

void pt_json_raw_n(struct pt_json *j, const char *s, size_t n);
static inline void pt_json_raw(struct pt_json *j, const char *s)
{
	pt_json_raw_n(j, s, strlen(s));
}
/* A JSON string literal of len bytes: escapes, and U+FFFD for bytes that are not UTF-8. */
void pt_json_string(struct pt_json *j, const char *s, size_t len);
/* Writes "key": with a comma before. key is written unescaped: a constant of the formatter's,
 * printable ASCII without quote or backslash, never input. */
void pt_json_key_slow(struct pt_json *j, const char *key, size_t n);
/* Inline too: with a constant key the copy is a few moves, not a call. */
static inline void pt_json_key_n(struct pt_json *j, const char *key, size_t n)
{
	struct pt_buf *b = j->out;
	uint8_t *o;

	if (j->err || b->cap - b->len < n + 4) {
		pt_json_key_slow(j, key, n);
		return;
	}
	o = b->data + b->len;
	if (j->need_comma)
		*o++ = ',';
	*o++ = '"';
	memcpy(o, key, n);
	o += n;
	*o++ = '"';
	*o++ = ':';
	b->len = (size_t)(o - b->data);
	j->need_comma = true;
}
static inline void pt_json_key(struct pt_json *j, const char *key)
{
	pt_json_key_n(j, key, strlen(key));
}
/* Values without a key (after pt_json_key); the keyed forms below are what callers use. */
void pt_json_u64(struct pt_json *j, uint64_t v);
void pt_json_u64_str(struct pt_json *j, uint64_t v);
void pt_json_bool(struct pt_json *j, bool v);
void pt_json_hex(struct pt_json *j, const uint8_t *p, size_t len);
void pt_json_time(struct pt_json *j, uint64_t ns);
void pt_json_argv(struct pt_json *j, const char *argv, size_t len);
void pt_json_joined(struct pt_json *j, const char *argv, size_t len);
void pt_json_comma(struct pt_json *j);               /* the comma before an element */
void pt_json_brace(struct pt_json *j, char brace);   /* opens, no comma */
void pt_json_elem_str(struct pt_json *j, const char *s, size_t len);   /* array element */

static inline void pt_json_open(struct pt_json *j, const char *key, char brace)  /* key may be NULL */
{
	if (key)
		pt_json_key(j, key);
	else
		pt_json_comma(j);
	pt_json_brace(j, brace);
}
void pt_json_close(struct pt_json *j, char brace);
static inline void pt_json_kstr(struct pt_json *j, const char *key, const char *s, size_t len)
{
	pt_json_key(j, key);
	pt_json_string(j, s, len);
}
static inline void pt_json_kcstr(struct pt_json *j, const char *key, const char *s)
{
	pt_json_kstr(j, key, s, strlen(s));
}
static inline void pt_json_ku64(struct pt_json *j, const char *key, uint64_t v)
{
	pt_json_key(j, key);
	pt_json_u64(j, v);
}
static inline void pt_json_ku64_str(struct pt_json *j, const char *key, uint64_t v)  /* ECS keyword ids */
{
	pt_json_key(j, key);
	pt_json_u64_str(j, v);
}
static inline void pt_json_kbool(struct pt_json *j, const char *key, bool v)
{
	pt_json_key(j, key);
	pt_json_bool(j, v);
}
/* at most 64 bytes; more is an error (-EINVAL) */
static inline void pt_json_khex(struct pt_json *j, const char *key, const uint8_t *p, size_t len)
{
	pt_json_key(j, key);
	pt_json_hex(j, p, len);
}
static inline void pt_json_ktime(struct pt_json *j, const char *key, uint64_t ns)  /* RFC 3339, ns */
{
	pt_json_key(j, key);
	pt_json_time(j, ns);
}
/* "key": an array of the NUL-separated strings in argv[0..len) (the wire's argv); a last
 * string without its NUL is kept. argv may be NULL: an empty array. */
static inline void pt_json_kargv(struct pt_json *j, const char *key, const char *argv, size_t len)
{
	pt_json_key(j, key);
	pt_json_argv(j, argv, len);
}
/* "key": one string of the NUL-separated entries of argv[0..len) joined with single spaces
 * (each NUL but a last one becomes a space), escaped like any string. len is capped at
 * PT_ARGV_MAX. */
static inline void pt_json_kjoined(struct pt_json *j, const char *key, const char *argv, size_t len)
{
	pt_json_key(j, key);
	pt_json_joined(j, argv, len);
}

#endif
