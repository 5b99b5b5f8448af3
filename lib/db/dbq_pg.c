/* proctrail/dbq.h on PostgreSQL (libpq): ?N parameters become $N, every parameter and column goes
 * in binary, so integers and blobs read back exactly as SQLite gives them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "dbq-int.h"
#include "proctrail/log.h"

struct pt_pg {
	PGconn *conn;
};

struct pt_pgq {
	struct pt_pg *db;
	char *sql;
	PGresult *res;
	int nparams;
	bool failed;                  /* a parameter could not be kept, or the query failed */
	bool started, done, stream;
	int row;                      /* the row read, in a whole (not streamed) result */
	unsigned oid[PT_Q_PARAMS_MAX];
	char *val[PT_Q_PARAMS_MAX];
	int len[PT_Q_PARAMS_MAX], fmt[PT_Q_PARAMS_MAX];
};

struct pt_pg *pt_pg_open(const char *url)
{
	struct pt_pg *db = calloc(1, sizeof(*db));

	if (!db)
		return NULL;
	db->conn = PQconnectdb(url);
	if (!db->conn || PQstatus(db->conn) != CONNECTION_OK) {
		const char *m = db->conn ? PQerrorMessage(db->conn) : "out of memory";

		log_warnx("PostgreSQL: %.*s", (int)strcspn(m, "\n"), m);
		pt_pg_close(db);
		return NULL;
	}
	return db;
}

void pt_pg_close(struct pt_pg *db)
{
	if (!db)
		return;
	PQfinish(db->conn);
	free(db);
}

const char *pt_pg_errmsg(struct pt_pg *db)
{
	return PQerrorMessage(db->conn);
}

int pt_pg_exec(struct pt_pg *db, const char *sql)
{
	PGresult *r = PQexec(db->conn, sql);
	int ret = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -EIO;

	if (ret) {
		const char *m = PQerrorMessage(db->conn);

		log_warnx("PostgreSQL: %s: %.*s", sql, (int)strcspn(m, "\n"), m);
	}
	PQclear(r);
	return ret;
}

bool pt_pg_in_tx(struct pt_pg *db)
{
	return PQtransactionStatus(db->conn) != PQTRANS_IDLE;
}

/* A restarted server or a cut connection: one reset per check, the next request retries. */
void pt_pg_check(struct pt_pg *db)
{
	if (PQstatus(db->conn) != CONNECTION_OK)
		PQreset(db->conn);
}

/* ?N -> $N, and a bare ? -> the next number (dbq.h: no '?' in a literal). */
struct pt_pgq *pt_pg_prepare(struct pt_pg *db, const char *sql, bool stream)
{
	struct pt_pgq *q = calloc(1, sizeof(*q));
	size_t i, o = 0;
	int next = 1, n;

	if (!q || !(q->sql = malloc(strlen(sql) * 2 + 1))) {
		free(q);
		return NULL;
	}
	q->db = db;
	q->stream = stream;
	for (i = 0; sql[i]; i++) {
		if (sql[i] != '?') {
			q->sql[o++] = sql[i];
			continue;
		}
		q->sql[o++] = '$';
		n = sql[i + 1] >= '0' && sql[i + 1] <= '9' ? atoi(sql + i + 1) : next++;
		if (sql[i + 1] < '0' || sql[i + 1] > '9')
			o += (size_t)snprintf(q->sql + o, 4, "%d", n % 1000);
		/* every $N the query names is sent, NULL when never bound */
		q->nparams = n > q->nparams ? (n < PT_Q_PARAMS_MAX ? n : PT_Q_PARAMS_MAX) : q->nparams;
	}
	q->sql[o] = '\0';
	return q;
}

void pt_pg_bind(struct pt_pgq *q, int i, unsigned oid, const void *v, size_t len)
{
	if (i < 1 || i > PT_Q_PARAMS_MAX || len > INT32_MAX) {
		q->failed = true;
		return;
	}
	free(q->val[i - 1]);
	q->val[i - 1] = NULL;
	q->oid[i - 1] = oid;
	if (!v)
		return;
	if (!(q->val[i - 1] = malloc(len + 1))) {
		q->failed = true;
		return;
	}
	memcpy(q->val[i - 1], v, len);
	q->len[i - 1] = (int)len;
	q->fmt[i - 1] = 1;
}

/* Reads what is left of the query's results, so the connection is free again. */
static void drain(struct pt_pgq *q)
{
	PGresult *r;

	while ((r = PQgetResult(q->db->conn)))
		PQclear(r);
}

/* Rows one at a time (single-row mode): events --json over millions of rows holds one. The
 * others take their whole result at once, so the caller may run queries between rows. */
int pt_pg_step(struct pt_pgq *q)
{
	ExecStatusType st;

	if (q->failed)
		return -1;
	if (!q->stream) {
		if (!q->started) {
			q->started = q->done = true;
			q->res = PQexecParams(q->db->conn, q->sql, q->nparams, q->oid,
					      (const char *const *)q->val, q->len, q->fmt, 1);
			if (PQresultStatus(q->res) != PGRES_TUPLES_OK)
				return q->failed = true, -1;
			q->row = -1;
		}
		return ++q->row < PQntuples(q->res) ? 1 : 0;
	}
	if (!q->started) {
		q->started = true;
		if (!PQsendQueryParams(q->db->conn, q->sql, q->nparams, q->oid,
				       (const char *const *)q->val, q->len, q->fmt, 1) ||
		    !PQsetSingleRowMode(q->db->conn))
			return q->failed = true, -1;
	}
	if (q->done)
		return 0;
	PQclear(q->res);
	q->res = PQgetResult(q->db->conn);
	st = PQresultStatus(q->res);
	if (st == PGRES_SINGLE_TUPLE)
		return 1;
	q->failed = st != PGRES_TUPLES_OK;
	q->done = true;
	drain(q);
	return q->failed ? -1 : 0;
}

bool pt_pg_null(struct pt_pgq *q, int col)
{
	return PQgetisnull(q->res, q->row, col);
}

int64_t pt_pg_i64(struct pt_pgq *q, int col)
{
	const uint8_t *p = (const uint8_t *)PQgetvalue(q->res, q->row, col);
	int n = PQgetlength(q->res, q->row, col);
	uint64_t v = 0;

	if (PQgetisnull(q->res, q->row, col) || (n != 1 && n != 2 && n != 4 && n != 8))
		return 0;
	if (n == 1)             /* a boolean */
		return p[0] != 0;
	for (int b = 0; b < n; b++)
		v = v << 8 | p[b];
	if (n < 8 && (p[0] & 0x80))    /* sign-extend int2/int4 */
		v |= ~0ull << (8 * n);
	return (int64_t)v;
}

const void *pt_pg_bytes(struct pt_pgq *q, int col, size_t *len)
{
	if (PQgetisnull(q->res, q->row, col)) {
		if (len)
			*len = 0;
		return NULL;
	}
	if (len)
		*len = (size_t)PQgetlength(q->res, q->row, col);
	return PQgetvalue(q->res, q->row, col);   /* libpq ends every value with a NUL */
}

void pt_pg_reset(struct pt_pgq *q)
{
	PQclear(q->res);
	q->res = NULL;
	if (q->started && !q->done)
		drain(q);
	q->started = q->done = false;   /* a failure stays: the query is not run again */
	q->row = 0;
}

void pt_pg_finalize(struct pt_pgq *q)
{
	if (!q)
		return;
	PQclear(q->res);
	q->res = NULL;
	if (q->started && !q->done)
		drain(q);    /* a query left before its end: the connection takes the next one */
	for (int i = 0; i < PT_Q_PARAMS_MAX; i++)
		free(q->val[i]);
	free(q->sql);
	free(q);
}
