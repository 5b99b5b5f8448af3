/* The files this agent saw executed, by SHA-256: where a sample may be taken from.
 *
 * A fetch names only a hash; the path and the identity (dev, ino, size, mtime, ctime) come
 * from here, i.e. from the agent's own exec records, never from the request. An entry is added
 * for every exec whose hash the sensor took (PT_HASH_OK) from a file with a name (not a memfd,
 * not deleted). Bounded: the least recently executed entry gives way.
 *
 * Ownership: pt_seen_new() returns a table freed by pt_seen_free() (NULL-safe). Thread-safe:
 * the sensor thread notes, the uplink thread looks up. */
#ifndef PROCTRAIL_AGENT_SEEN_H
#define PROCTRAIL_AGENT_SEEN_H

#include <stdbool.h>
#include <stdint.h>

#include "proctrail/wire.h"
#include "hash.h"

#define PT_SEEN_ENTRIES_DEFAULT 4096u
#define PT_SEEN_ENTRIES_MAX     (1u << 20)

struct pt_seen;

int pt_seen_new(unsigned entries, struct pt_seen **out);
void pt_seen_free(struct pt_seen *t);
/* Remembers the file of an exec record (ignored unless hashed, named and not deleted). */
void pt_seen_note(struct pt_seen *t, const struct pt_exec *x);
/* The path (NUL-terminated, into path[PT_PATH_MAX + 1]) and identity last seen executed with
 * this hash: true, or false when none is known. */
bool pt_seen_find(struct pt_seen *t, const uint8_t sha256[PT_SHA256_LEN], char *path,
		  struct pt_file_id *id);

#endif
