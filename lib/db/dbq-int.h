/* The PostgreSQL side of proctrail/dbq.h (dbq_pg.c), behind the functions of dbq.c. */
#ifndef PROCTRAIL_LIB_DBQ_INT_H
#define PROCTRAIL_LIB_DBQ_INT_H

#include "proctrail/dbq.h"

struct pt_pg;
struct pt_pgq;

struct pt_pg *pt_pg_open(const char *url);
void pt_pg_close(struct pt_pg *db);
const char *pt_pg_errmsg(struct pt_pg *db);
int pt_pg_exec(struct pt_pg *db, const char *sql);
bool pt_pg_in_tx(struct pt_pg *db);
void pt_pg_check(struct pt_pg *db);
struct pt_pgq *pt_pg_prepare(struct pt_pg *db, const char *sql, bool stream);
void pt_pg_bind(struct pt_pgq *q, int i, unsigned oid, const void *v, size_t len);
int pt_pg_step(struct pt_pgq *q);
void pt_pg_reset(struct pt_pgq *q);
bool pt_pg_null(struct pt_pgq *q, int col);
int64_t pt_pg_i64(struct pt_pgq *q, int col);
const void *pt_pg_bytes(struct pt_pgq *q, int col, size_t *len);
void pt_pg_finalize(struct pt_pgq *q);

#endif
