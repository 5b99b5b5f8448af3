/* proctrail/dbq.h on SQLite, handing PostgreSQL connections to dbq_pg.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "dbq-int.h"

struct pt_qdb {
	sqlite3 *lite;
	struct pt_pg *pg;
};

struct pt_q {
	sqlite3_stmt *st;
	bool borrowed;          /* pt_q_wrap(): the statement is the caller's */
	struct pt_pgq *pq;
};

/* PostgreSQL's type ids for the parameters (pg_type.dat): bytea, int8, text. */
#define OID_BYTEA 17u
#define OID_INT8  20u
#define OID_TEXT  25u

struct pt_qdb *pt_qdb_sqlite(sqlite3 *lite)
{
	struct pt_qdb *db = calloc(1, sizeof(*db));

	if (!db) {
		sqlite3_close(lite);
		return NULL;
	}
	db->lite = lite;
	return db;
}

struct pt_qdb *pt_qdb_pg(const char *url)
{
	struct pt_qdb *db = calloc(1, sizeof(*db));

	if (db && !(db->pg = pt_pg_open(url))) {
		free(db);
		db = NULL;
	}
	return db;
}

void pt_qdb_close(struct pt_qdb *db)
{
	if (!db)
		return;
	sqlite3_close(db->lite);
	pt_pg_close(db->pg);
	free(db);
}

const char *pt_qdb_errmsg(struct pt_qdb *db)
{
	return db->pg ? pt_pg_errmsg(db->pg) : sqlite3_errmsg(db->lite);
}

bool pt_qdb_is_pg(const struct pt_qdb *db)
{
	return db->pg != NULL;
}

sqlite3 *pt_qdb_sqlite_handle(struct pt_qdb *db)
{
	return db->lite;
}

int pt_qdb_exec(struct pt_qdb *db, const char *sql)
{
	if (db->pg)
		return pt_pg_exec(db->pg, sql);
	return sqlite3_exec(db->lite, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}

bool pt_qdb_in_tx(struct pt_qdb *db)
{
	return db->pg ? pt_pg_in_tx(db->pg) : !sqlite3_get_autocommit(db->lite);
}

void pt_qdb_check(struct pt_qdb *db)
{
	if (db->pg)
		pt_pg_check(db->pg);
}

static struct pt_q *prepare(struct pt_qdb *db, const char *sql, bool stream)
{
	struct pt_q *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	if (db->pg ? !(q->pq = pt_pg_prepare(db->pg, sql, stream)) :
		     sqlite3_prepare_v2(db->lite, sql, -1, &q->st, NULL) != SQLITE_OK) {
		free(q);
		return NULL;
	}
	return q;
}

struct pt_q *pt_q_prepare(struct pt_qdb *db, const char *sql)
{
	return prepare(db, sql, false);
}

struct pt_q *pt_q_prepare_stream(struct pt_qdb *db, const char *sql)
{
	return prepare(db, sql, true);
}

struct pt_q *pt_q_wrap(sqlite3_stmt *st)
{
	struct pt_q *q = calloc(1, sizeof(*q));

	if (q) {
		q->st = st;
		q->borrowed = true;
	}
	return q;
}

void pt_q_bind_i64(struct pt_q *q, int i, int64_t v)
{
	uint8_t be[8];

	if (!q->pq) {
		sqlite3_bind_int64(q->st, i, v);
		return;
	}
	for (int b = 0; b < 8; b++)
		be[b] = (uint8_t)((uint64_t)v >> (56 - 8 * b));
	pt_pg_bind(q->pq, i, OID_INT8, be, 8);
}

void pt_q_bind_textn(struct pt_q *q, int i, const char *v, size_t len)
{
	if (q->pq)
		pt_pg_bind(q->pq, i, OID_TEXT, v, v ? len : 0);
	else if (v && len <= INT32_MAX)
		sqlite3_bind_text(q->st, i, v, (int)len, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(q->st, i);
}

void pt_q_bind_text(struct pt_q *q, int i, const char *v)
{
	pt_q_bind_textn(q, i, v, v ? strlen(v) : 0);
}

void pt_q_bind_blob(struct pt_q *q, int i, const void *v, size_t len)
{
	if (q->pq)
		pt_pg_bind(q->pq, i, OID_BYTEA, v, len);
	else if (v && len <= INT32_MAX)
		sqlite3_bind_blob(q->st, i, v, (int)len, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(q->st, i);
}

int pt_q_step(struct pt_q *q)
{
	int rc;

	if (q->pq)
		return pt_pg_step(q->pq);
	rc = sqlite3_step(q->st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

void pt_q_reset(struct pt_q *q)
{
	if (q->pq)
		pt_pg_reset(q->pq);
	else
		sqlite3_reset(q->st);
}

bool pt_q_null(struct pt_q *q, int col)
{
	return q->pq ? pt_pg_null(q->pq, col) : sqlite3_column_type(q->st, col) == SQLITE_NULL;
}

int64_t pt_q_i64(struct pt_q *q, int col)
{
	return q->pq ? pt_pg_i64(q->pq, col) : sqlite3_column_int64(q->st, col);
}

const char *pt_q_text(struct pt_q *q, int col, size_t *len)
{
	const char *s;

	if (q->pq)
		return pt_pg_bytes(q->pq, col, len);
	s = (const char *)sqlite3_column_text(q->st, col);
	if (len)
		*len = s ? (size_t)sqlite3_column_bytes(q->st, col) : 0;
	return s;
}

const void *pt_q_blob(struct pt_q *q, int col, size_t *len)
{
	const void *p;

	if (q->pq)
		return pt_pg_bytes(q->pq, col, len);
	p = sqlite3_column_blob(q->st, col);
	if (len)
		*len = p ? (size_t)sqlite3_column_bytes(q->st, col) : 0;
	return p;
}

void pt_q_finalize(struct pt_q *q)
{
	if (!q)
		return;
	if (!q->borrowed)
		sqlite3_finalize(q->st);
	pt_pg_finalize(q->pq);
	free(q);
}
