/* Minimal JSON writing into a bounded pt_buf, for the ECS formatter. Errors are sticky in
 * struct pt_json so the formatter writes straight-line code and checks once at the end. */
#ifndef PROCTRAIL_ECS_JSON_H
#define PROCTRAIL_ECS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proctrail/buf.h"

struct pt_json {
	struct pt_buf *out;
	int err;
	bool need_comma;
};

void pt_json_raw(struct pt_json *j, const char *s);
/* A JSON string literal of len bytes: escapes, and U+FFFD for bytes that are not UTF-8. */
void pt_json_string(struct pt_json *j, const char *s, size_t len);
/* Writes "key": with a comma before. key is written unescaped: a constant of the formatter's,
 * printable ASCII without quote or backslash, never input. */
void pt_json_key(struct pt_json *j, const char *key);
void pt_json_open(struct pt_json *j, const char *key, char brace);  /* key may be NULL */
void pt_json_close(struct pt_json *j, char brace);
void pt_json_kstr(struct pt_json *j, const char *key, const char *s, size_t len);
void pt_json_kcstr(struct pt_json *j, const char *key, const char *s);
void pt_json_ku64(struct pt_json *j, const char *key, uint64_t v);
void pt_json_ku64_str(struct pt_json *j, const char *key, uint64_t v);  /* ECS keyword ids */
void pt_json_kbool(struct pt_json *j, const char *key, bool v);
void pt_json_khex(struct pt_json *j, const char *key, const uint8_t *p, size_t len);
void pt_json_ktime(struct pt_json *j, const char *key, uint64_t ns);    /* RFC 3339, ns */
void pt_json_elem_str(struct pt_json *j, const char *s, size_t len);   /* array element */
/* "key": an array of the NUL-separated strings in argv[0..len) (the wire's argv); a last
 * string without its NUL is kept. argv may be NULL: an empty array. */
void pt_json_kargv(struct pt_json *j, const char *key, const char *argv, size_t len);

#endif
