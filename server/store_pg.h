/* The collector's PostgreSQL store (store_pg.c), used through pt_store_pg_ops
 * (include/proctrail/store.h). Server-only: it is what links libpq.
 */
#ifndef PROCTRAIL_SERVER_STORE_PG_H
#define PROCTRAIL_SERVER_STORE_PG_H

#include <stdbool.h>

#include "proctrail/store.h"

struct pt_store_pg;

/* Connects (libpq URL), sets synchronous_commit=on, creates the schema and today's and
 * tomorrow's partitions, drops partitions older than retention_days (0: keeps every day).
 * Returns 0 or -errno (-EIO for database errors, logged without the URL's password). */
int pt_store_pg_open(struct pt_store_pg **out, const char *url, unsigned retention_days);
void pt_store_pg_close(struct pt_store_pg *s);

/* The ops over a struct pt_store_pg handle. */
extern const struct pt_store_ops pt_store_pg_ops;

#endif
