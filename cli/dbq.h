/* The CLI's reads of the collector's database, the same on SQLite and on PostgreSQL: a query
 * is written once, with ?N (or ?) parameters, and read column by column. Integers are
 * int64 (u64 values as their two's-complement image, as the store writes them).
 *
 * Ownership: a query belongs to its connection and is finalized before it is closed; text and
 * blob pointers last until the next step. cli_qdb_close() and cli_q_finalize() are NULL-safe.
 */
#ifndef PROCTRAIL_CLI_DBQ_H
#define PROCTRAIL_CLI_DBQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli.h"

#define CLI_Q_PARAMS_MAX 8

struct cli_qdb;
struct cli_q;

/* env->db when set (a PostgreSQL URL or a SQLite file), else the deployment's SQLite file,
 * read-only. NULL with a message when it cannot be opened. */
struct cli_qdb *cli_qdb_open(const struct cli_env *env);
void cli_qdb_close(struct cli_qdb *db);
const char *cli_qdb_errmsg(struct cli_qdb *db);

/* Returns NULL (see cli_qdb_errmsg) when the statement is refused. A query made by
 * cli_q_prepare_stream() reads its rows one at a time (PostgreSQL: single-row mode) and no
 * other query may run on the connection until it ended; cli_q_prepare() ones may nest. */
struct cli_q *cli_q_prepare(struct cli_qdb *db, const char *sql);
struct cli_q *cli_q_prepare_stream(struct cli_qdb *db, const char *sql);
/* i from 1. A NULL v binds a NULL of that type: PostgreSQL must know every parameter's. */
void cli_q_bind_i64(struct cli_q *q, int i, int64_t v);
void cli_q_bind_text(struct cli_q *q, int i, const char *v);
void cli_q_bind_blob(struct cli_q *q, int i, const void *v, size_t len);
/* 1: a row, 0: no more, -1: an error. */
int cli_q_step(struct cli_q *q);
bool cli_q_null(struct cli_q *q, int col);
int64_t cli_q_i64(struct cli_q *q, int col);
/* NULL for a NULL column; *len (when not NULL) is its length. */
const char *cli_q_text(struct cli_q *q, int col, size_t *len);
const void *cli_q_blob(struct cli_q *q, int col, size_t *len);
void cli_q_finalize(struct cli_q *q);

/* PostgreSQL's side (dbq_pg.c), behind the functions above. */
struct cli_pg;
struct cli_pgq;
struct cli_pg *cli_pg_open(const char *url);
void cli_pg_close(struct cli_pg *db);
const char *cli_pg_errmsg(struct cli_pg *db);
struct cli_pgq *cli_pg_prepare(struct cli_pg *db, const char *sql, bool stream);
void cli_pg_bind(struct cli_pgq *q, int i, unsigned oid, const void *v, size_t len);
int cli_pg_step(struct cli_pgq *q);
bool cli_pg_null(struct cli_pgq *q, int col);
int64_t cli_pg_i64(struct cli_pgq *q, int col);
const void *cli_pg_bytes(struct cli_pgq *q, int col, size_t *len);
void cli_pg_finalize(struct cli_pgq *q);

#endif
