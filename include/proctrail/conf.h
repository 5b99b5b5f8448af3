/* A small `key = value` configuration file parser, shared by proctrail-agent and
 * proctrail-server.
 *
 * Syntax, one setting per line:
 *
 *     # a comment (only at the start of a line, after optional blanks)
 *     key = value
 *     key = "value with leading or trailing blanks"
 *
 * Keys are [A-Za-z0-9_.-]+. Values run to the end of the line with surrounding blanks trimmed;
 * a value wrapped in double quotes keeps its inner blanks (no escapes inside). A key may repeat
 * (e.g. several collector addresses); pt_conf_get() returns the last one, pt_conf_next() walks
 * them all in file order. NUL bytes, overlong lines, too many entries and files over
 * PT_CONF_FILE_MAX are errors, reported as "path:line: reason" in the caller's err buffer.
 *
 * Ownership: struct pt_conf owns its entries and strings; pt_conf_free() releases them and is
 * NULL-safe. The strings returned by the getters live as long as the pt_conf.
 */
#ifndef PROCTRAIL_CONF_H
#define PROCTRAIL_CONF_H

#include <stddef.h>
#include <stdint.h>

#define PT_CONF_LINE_MAX     4096u      /* bytes in one line, newline excluded */
#define PT_CONF_KEY_MAX      64u
#define PT_CONF_ENTRIES_MAX  512u
#define PT_CONF_FILE_MAX     (1u << 20)

struct pt_conf_entry {
	char *key;
	char *value;
	unsigned line;
};

struct pt_conf {
	struct pt_conf_entry *v;
	size_t n;
	char name[256];            /* file name used in messages */
};

void pt_conf_init(struct pt_conf *c, const char *name);
void pt_conf_free(struct pt_conf *c);

/* Parses len bytes. Returns 0, -EINVAL (syntax: err says where), -EMSGSIZE (a limit),
 * -ENOMEM. On error c holds nothing. */
int pt_conf_parse(struct pt_conf *c, const char *data, size_t len, char *err, size_t errlen);
/* Reads and parses a file; -errno from open/read as well. */
int pt_conf_load(struct pt_conf *c, const char *path, char *err, size_t errlen);

/* Last value of key, or NULL. */
const char *pt_conf_get(const struct pt_conf *c, const char *key);
/* Iteration over every entry of key: start with *pos = 0; returns NULL at the end. */
const char *pt_conf_next(const struct pt_conf *c, const char *key, size_t *pos);

/* Value conversions, usable on flags as well. Return 0 or -EINVAL / -ERANGE with err filled
 * ("key: reason"). */
int pt_conf_u64(const char *key, const char *s, uint64_t min, uint64_t max, uint64_t *out,
		char *err, size_t errlen);
int pt_conf_bool(const char *key, const char *s, int *out, char *err, size_t errlen);

#endif
