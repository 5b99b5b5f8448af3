/* Reads of the collector's database, the same on SQLite and on PostgreSQL, for the CLI and
 * the HTTP API: a query is written once, with ?N (or ?) parameters, and read column by column.
 * Integers are int64 (u64 values as their two's-complement image, as the stores write them);
 * a boolean column reads as 0 or 1. On PostgreSQL ?N becomes $N (no '?' may appear in a
 * literal) and every parameter and column travels in binary.
 *
 * Ownership: a pt_qdb owns its connection (pt_qdb_sqlite() takes the handle it is given); a
 * query belongs to its connection and is finalized before it is closed; text and blob pointers
 * last until the next step or reset. pt_qdb_close() and pt_q_finalize() are NULL-safe. One
 * thread per connection.
 */
#ifndef PROCTRAIL_DBQ_H
#define PROCTRAIL_DBQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PT_Q_PARAMS_MAX 12

struct sqlite3;
struct sqlite3_stmt;
struct pt_qdb;
struct pt_q;

/* NULL when out of memory (the handle is then closed). */
struct pt_qdb *pt_qdb_sqlite(struct sqlite3 *db);
/* NULL with a logged message (the URL's password never logged) when it cannot connect. */
struct pt_qdb *pt_qdb_pg(const char *url);
void pt_qdb_close(struct pt_qdb *db);
const char *pt_qdb_errmsg(struct pt_qdb *db);
bool pt_qdb_is_pg(const struct pt_qdb *db);
/* The SQLite handle, for what exists on SQLite only; NULL on PostgreSQL. */
struct sqlite3 *pt_qdb_sqlite_handle(struct pt_qdb *db);
/* A statement without parameters or rows (BEGIN, COMMIT): 0 or -EIO. */
int pt_qdb_exec(struct pt_qdb *db, const char *sql);
bool pt_qdb_in_tx(struct pt_qdb *db);
/* PostgreSQL: a broken connection is reset (the next statement may then work); SQLite: no-op. */
void pt_qdb_check(struct pt_qdb *db);

/* Returns NULL (see pt_qdb_errmsg) when the statement is refused. A query made by
 * pt_q_prepare_stream() reads its rows one at a time (PostgreSQL: single-row mode) and no
 * other query may run on the connection until it ended or was reset; pt_q_prepare() ones may
 * nest. */
struct pt_q *pt_q_prepare(struct pt_qdb *db, const char *sql);
struct pt_q *pt_q_prepare_stream(struct pt_qdb *db, const char *sql);
/* A SQLite statement read through this interface (code shared with SQLite-only endpoints);
 * the statement stays the caller's: pt_q_finalize() frees only the wrapper. */
struct pt_q *pt_q_wrap(struct sqlite3_stmt *st);
/* i from 1. A NULL v binds a NULL of that type: PostgreSQL must know every parameter's. */
void pt_q_bind_i64(struct pt_q *q, int i, int64_t v);
void pt_q_bind_text(struct pt_q *q, int i, const char *v);
void pt_q_bind_textn(struct pt_q *q, int i, const char *v, size_t len);
void pt_q_bind_blob(struct pt_q *q, int i, const void *v, size_t len);
/* 1: a row, 0: no more, -1: an error. */
int pt_q_step(struct pt_q *q);
/* Ends the run (its bindings stay) so the next step runs the query again. */
void pt_q_reset(struct pt_q *q);
bool pt_q_null(struct pt_q *q, int col);
int64_t pt_q_i64(struct pt_q *q, int col);
/* NULL for a NULL column; *len (when not NULL) is its length. */
const char *pt_q_text(struct pt_q *q, int col, size_t *len);
const void *pt_q_blob(struct pt_q *q, int col, size_t *len);
void pt_q_finalize(struct pt_q *q);

#endif
