/* Samples fetched from agents (docs/response.md): the requests an operator made, their state,
 * and the content-addressed store beside the database (DIR/samples/SHA256HEX).
 *
 *   requested -> transferring -> stored
 *                             -> refused (reason: the agent's code and message, or the
 *                                collector's: disabled, too_large, hash_mismatch)
 *
 * A hash is stored once: a request for a hash already stored is "stored" at once. These
 * functions take a caller-owned SQLite handle (one thread at a time), return 0 or -errno. */
#ifndef PROCTRAIL_SERVER_SAMPLES_H
#define PROCTRAIL_SERVER_SAMPLES_H

#include <stddef.h>
#include <stdint.h>

#include "proctrail/wire.h"

struct sqlite3;

#define SRV_SAMPLE_MAX_BYTES_DEFAULT (64ull << 20)
#define SRV_SAMPLE_REASON_MAX 1100u
#define SRV_SAMPLE_OPEN_MAX   1000u    /* requests not finished, all agents */

int srv_sample_schema(struct sqlite3 *db);
/* DIR/samples for the database at db_path into out; -ENAMETOOLONG. */
int srv_sample_dir(const char *db_path, char *out, size_t cap);
/* A new request (state "stored" when the hash is stored already). -EAGAIN over
 * SRV_SAMPLE_OPEN_MAX requests not finished. */
int srv_sample_request(struct sqlite3 *db, const uint8_t sha[PT_SHA256_LEN], const char *agent,
		       const char *operator_name, uint64_t now_ns, int64_t *id);
int srv_sample_set_state(struct sqlite3 *db, int64_t id, const char *state, const char *reason,
			 uint64_t size, uint64_t received, uint64_t now_ns);
/* Records the stored file (once per hash) and sets the request "stored". */
int srv_sample_stored(struct sqlite3 *db, int64_t id, const uint8_t sha[PT_SHA256_LEN],
		      const char *agent, uint64_t size, uint64_t now_ns);

#endif
