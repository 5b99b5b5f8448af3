/* Reading JSON answers of the collector's HTTP API (the CLI). A strict, bounded tokenizer in
 * the manner of jsmn: one pass fills a caller-sized array of tokens, each naming the bytes
 * [start, end) of its value in the input. Nothing is copied, so `proctrail events --json` can
 * print an event exactly as the collector's ECS formatter wrote it.
 *
 * Hand-written because the libraries Debian ships (jansson, json-c) parse integers into int64
 * or double (stream ids and cgroup ids are full uint64) and give no source spans.
 *
 * Ownership: struct pt_jr owns .tok (pt_jr_free, NULL-safe); the input stays the caller's and
 * must outlive the document. Limits: PT_JR_DEPTH_MAX nesting, the token count given to
 * pt_jr_parse; anything past them is refused (-E2BIG), as is anything that is not RFC 8259
 * JSON (-EINVAL).
 */
#ifndef PROCTRAIL_JSONREAD_H
#define PROCTRAIL_JSONREAD_H

#include <stddef.h>
#include <stdint.h>

#define PT_JR_DEPTH_MAX 64

enum pt_jr_type { PT_JR_NULL, PT_JR_FALSE, PT_JR_TRUE, PT_JR_NUMBER, PT_JR_STRING,
		  PT_JR_ARRAY, PT_JR_OBJECT };

struct pt_jr_tok {
	uint8_t type;      /* enum pt_jr_type */
	uint8_t escaped;   /* a string holding a backslash escape */
	uint32_t start;    /* strings: after the opening quote */
	uint32_t end;      /* strings: at the closing quote */
	uint32_t next;     /* index of the token after this value and everything in it */
	uint32_t count;    /* arrays: elements; objects: members (a key and its value each) */
};

struct pt_jr {
	const char *src;
	size_t len;
	struct pt_jr_tok *tok;
	uint32_t ntok;
};

/* Parses src[0..len) (len < 4 GiB) into at most max_tokens tokens. 0, -EINVAL (not JSON),
 * -E2BIG (too deep or too many tokens), -ENOMEM. Token 0 is the top value. */
int pt_jr_parse(struct pt_jr *doc, const char *src, size_t len, uint32_t max_tokens);
void pt_jr_free(struct pt_jr *doc);

/* The value of member key in the object at token obj, or -1 (not an object, no such key).
 * key is compared with the member name decoded. */
int pt_jr_get(const struct pt_jr *doc, int obj, const char *key);
/* Like pt_jr_get, then again for each '.'-separated part: "process.parent.pid". A member
 * whose own name holds the dots ("agent.id") is found first. */
int pt_jr_path(const struct pt_jr *doc, int obj, const char *path);
/* The i-th element of the array at token arr, or -1. Linear in i; to walk all, use
 * pt_jr_first / doc->tok[i].next. */
int pt_jr_index(const struct pt_jr *doc, int arr, uint32_t i);
/* First element (arrays) or first key (objects), -1 when empty or not a container. */
int pt_jr_first(const struct pt_jr *doc, int tok);

/* A string value decoded into out (NUL-terminated; \u0000 kept as a byte), a number, true,
 * false or null as its text. Returns the decoded length, -ENOENT (tok < 0), -EMSGSIZE when
 * out is too small (out then holds what fitted), -EINVAL for a container. */
int pt_jr_text(const struct pt_jr *doc, int tok, char *out, size_t cap);
/* For display: the value's text as pt_jr_text gives it, cut to what fits in out; "" for a
 * missing value, null or a container. Returns strlen(out). */
size_t pt_jr_cell(const struct pt_jr *doc, int tok, char *out, size_t cap);
/* For display: the texts of the array arr's elements joined with sep, cut to what fits;
 * "" when arr is not an array. Returns strlen(out). */
size_t pt_jr_join(const struct pt_jr *doc, int arr, const char *sep, char *out, size_t cap);
/* Numbers: 0, -ENOENT, -EINVAL (not an integer of that range). */
int pt_jr_u64(const struct pt_jr *doc, int tok, uint64_t *v);
int pt_jr_i64(const struct pt_jr *doc, int tok, int64_t *v);
/* 1 true, 0 false, -EINVAL otherwise. */
int pt_jr_bool(const struct pt_jr *doc, int tok);
/* The raw bytes of a value (strings with their quotes). */
const char *pt_jr_raw(const struct pt_jr *doc, int tok, size_t *len);

#endif
