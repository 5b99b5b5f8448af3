/* The collector's hand-off of WAL checkpoints (checkpoint.h) from the store's own connection.
 * Server-only: tests and other users of pt_store keep SQLite's automatic checkpoints.
 */
#ifndef PROCTRAIL_SERVER_STORE_WAL_H
#define PROCTRAIL_SERVER_STORE_WAL_H

#include <stdint.h>

#include "proctrail/store.h"

/* From now on the store does not checkpoint on commit; fn(arg, wal_bytes) is called on the
 * store's thread after every commit, once it is durable, with the size of the WAL's pages. */
void pt_store_wal_hook(struct pt_store *s, void (*fn)(void *arg, uint64_t wal_bytes), void *arg);

#endif
