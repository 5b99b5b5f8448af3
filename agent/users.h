/* User and group names for ids, from /etc/passwd and /etc/group read by the agent itself: no
 * NSS call (getpwuid) on the exec path, which could block on a directory service or load
 * modules into the agent. The files are re-read when they change (checked at most once a
 * second); names from other NSS sources (LDAP, sssd) are not resolved, the record then has
 * the id only.
 *
 * The parser is pure and fuzzed (tests/fuzz/fuzz_context.c). Bounds: PT_USERS_FILE_MAX bytes
 * per file, PT_USERS_ENTRIES_MAX entries, names of at most PT_USER_NAME_MAX bytes; a line
 * over a bound or malformed is skipped and counted, the rest is kept.
 *
 * Ownership: pt_users_new() returns a handle freed by pt_users_free() (NULL-safe). Names
 * returned are valid until the next pt_users_refresh(). One thread.
 */
#ifndef PROCTRAIL_AGENT_USERS_H
#define PROCTRAIL_AGENT_USERS_H

#include <stddef.h>
#include <stdint.h>

#include "proctrail/wire.h"

#define PT_USERS_FILE_MAX    (4u << 20)
#define PT_USERS_ENTRIES_MAX 65536u

struct pt_idname {
	uint32_t id;
	uint32_t off;          /* of the name in names */
	uint16_t len;
};

struct pt_idmap {
	struct pt_idname *v;   /* sorted by id; the first line of an id wins, as getpwuid */
	size_t n;
	char *names;
	uint64_t skipped;      /* lines refused */
};

/* Parses passwd or group text ("name:x:ID:..."). Returns 0 or -ENOMEM; *m is replaced. */
int pt_idmap_parse(const char *text, size_t len, struct pt_idmap *m);
void pt_idmap_free(struct pt_idmap *m);
/* The name of id, or NULL; *len set. */
const char *pt_idmap_name(const struct pt_idmap *m, uint32_t id, size_t *len);

struct pt_users;

/* NULL paths: /etc/passwd, /etc/group. The files are read at once. */
int pt_users_new(const char *passwd, const char *group, struct pt_users **out);
void pt_users_free(struct pt_users *u);
/* Re-reads a file that changed since it was read, at most once per second of now_ns. */
void pt_users_refresh(struct pt_users *u, uint64_t now_ns);
struct pt_str pt_users_user(const struct pt_users *u, uint32_t uid);
struct pt_str pt_users_group(const struct pt_users *u, uint32_t gid);
uint64_t pt_users_reloads(const struct pt_users *u);

#endif
