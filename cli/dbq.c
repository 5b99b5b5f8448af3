/* cli/dbq.h on SQLite, handing PostgreSQL URLs to dbq_pg.c. */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "db.h"
#include "dbq.h"
#include "proctrail/log.h"
#include "proctrail/store.h"

struct cli_qdb {
	sqlite3 *lite;
	struct cli_pg *pg;
};

struct cli_q {
	struct cli_qdb *db;
	sqlite3_stmt *st;
	struct cli_pgq *pq;
};

/* PostgreSQL's type ids for the parameters (pg_type.dat): bytea, int8, text. */
#define OID_BYTEA 17u
#define OID_INT8  20u
#define OID_TEXT  25u

struct cli_qdb *cli_qdb_open(const struct cli_env *env)
{
	struct cli_qdb *db = calloc(1, sizeof(*db));

	if (!db)
		return NULL;
	if (env->db[0] && pt_store_is_pg_url(env->db))
		db->pg = cli_pg_open(env->db);
	else
		db->lite = cli_db_open(env);
	if (!db->pg && !db->lite) {
		free(db);
		return NULL;
	}
	return db;
}

void cli_qdb_close(struct cli_qdb *db)
{
	if (!db)
		return;
	sqlite3_close(db->lite);
	cli_pg_close(db->pg);
	free(db);
}

const char *cli_qdb_errmsg(struct cli_qdb *db)
{
	return db->pg ? cli_pg_errmsg(db->pg) : sqlite3_errmsg(db->lite);
}

static struct cli_q *prepare(struct cli_qdb *db, const char *sql, bool stream)
{
	struct cli_q *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->db = db;
	if (db->pg ? !(q->pq = cli_pg_prepare(db->pg, sql, stream)) :
		     sqlite3_prepare_v2(db->lite, sql, -1, &q->st, NULL) != SQLITE_OK) {
		free(q);
		return NULL;
	}
	return q;
}

struct cli_q *cli_q_prepare(struct cli_qdb *db, const char *sql)
{
	return prepare(db, sql, false);
}

struct cli_q *cli_q_prepare_stream(struct cli_qdb *db, const char *sql)
{
	return prepare(db, sql, true);
}

void cli_q_bind_i64(struct cli_q *q, int i, int64_t v)
{
	uint64_t be = 0;

	if (!q->pq) {
		sqlite3_bind_int64(q->st, i, v);
		return;
	}
	for (int b = 0; b < 8; b++)
		((uint8_t *)&be)[b] = (uint8_t)((uint64_t)v >> (56 - 8 * b));
	cli_pg_bind(q->pq, i, OID_INT8, &be, 8);
}

void cli_q_bind_text(struct cli_q *q, int i, const char *v)
{
	if (q->pq)
		cli_pg_bind(q->pq, i, OID_TEXT, v, v ? strlen(v) : 0);
	else
		sqlite3_bind_text(q->st, i, v, -1, SQLITE_TRANSIENT);
}

void cli_q_bind_blob(struct cli_q *q, int i, const void *v, size_t len)
{
	if (q->pq)
		cli_pg_bind(q->pq, i, OID_BYTEA, v, len);
	else if (v)
		sqlite3_bind_blob(q->st, i, v, (int)len, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(q->st, i);
}

int cli_q_step(struct cli_q *q)
{
	int rc;

	if (q->pq)
		return cli_pg_step(q->pq);
	rc = sqlite3_step(q->st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

bool cli_q_null(struct cli_q *q, int col)
{
	return q->pq ? cli_pg_null(q->pq, col) : sqlite3_column_type(q->st, col) == SQLITE_NULL;
}

int64_t cli_q_i64(struct cli_q *q, int col)
{
	return q->pq ? cli_pg_i64(q->pq, col) : sqlite3_column_int64(q->st, col);
}

const char *cli_q_text(struct cli_q *q, int col, size_t *len)
{
	const char *s;

	if (q->pq)
		return cli_pg_bytes(q->pq, col, len);
	s = (const char *)sqlite3_column_text(q->st, col);
	if (len)
		*len = s ? (size_t)sqlite3_column_bytes(q->st, col) : 0;
	return s;
}

const void *cli_q_blob(struct cli_q *q, int col, size_t *len)
{
	const void *p;

	if (q->pq)
		return cli_pg_bytes(q->pq, col, len);
	p = sqlite3_column_blob(q->st, col);
	*len = p ? (size_t)sqlite3_column_bytes(q->st, col) : 0;
	return p;
}

void cli_q_finalize(struct cli_q *q)
{
	if (!q)
		return;
	sqlite3_finalize(q->st);
	cli_pg_finalize(q->pq);
	free(q);
}
