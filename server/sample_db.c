/* The sample tables: requests with their state, and the stored samples. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "proctrail/hex.h"
#include "samples.h"

int srv_sample_schema(sqlite3 *db)
{
	static const char sql[] =
		"CREATE TABLE IF NOT EXISTS sample_requests ("
		" id INTEGER PRIMARY KEY, sha256 TEXT NOT NULL, agent TEXT NOT NULL,"
		" operator TEXT NOT NULL, requested_ns INTEGER NOT NULL, updated_ns INTEGER NOT NULL,"
		" state TEXT NOT NULL, reason TEXT, size INTEGER, received INTEGER NOT NULL DEFAULT 0);"
		"CREATE INDEX IF NOT EXISTS sample_requests_open ON sample_requests(state, id);"
		"CREATE INDEX IF NOT EXISTS sample_requests_sha ON sample_requests(sha256, id);"
		"CREATE TABLE IF NOT EXISTS samples ("
		" sha256 TEXT PRIMARY KEY, size INTEGER NOT NULL, stored_ns INTEGER NOT NULL,"
		" agent TEXT NOT NULL, request_id INTEGER NOT NULL);";

	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}

int srv_sample_dir(const char *db_path, char *out, size_t cap)
{
	const char *slash = strrchr(db_path, '/');
	int n = slash ? snprintf(out, cap, "%.*s/samples", (int)(slash - db_path), db_path)
		      : snprintf(out, cap, "samples");

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

static int step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

int srv_sample_request(sqlite3 *db, const uint8_t sha[PT_SHA256_LEN], const char *agent,
		       const char *operator_name, uint64_t now_ns, int64_t *id)
{
	char hex[2 * PT_SHA256_LEN + 1];
	sqlite3_stmt *st = NULL;
	int64_t open = 0, size = -1;
	int rc = -EIO;

	pt_hex_encode(sha, PT_SHA256_LEN, hex);
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return -EIO;
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM sample_requests WHERE state IN"
			       " ('requested','transferring')", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW)
		goto out;
	open = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	if (open >= SRV_SAMPLE_OPEN_MAX) {
		rc = -EAGAIN;
		goto out;
	}
	if (sqlite3_prepare_v2(db, "SELECT size FROM samples WHERE sha256 = ?1", -1, &st, NULL) !=
	    SQLITE_OK)
		goto out;
	sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		size = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_prepare_v2(db, "INSERT INTO sample_requests (sha256, agent, operator,"
			       " requested_ns, updated_ns, state, size, received)"
			       " VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7)", -1, &st, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, agent, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, operator_name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (int64_t)now_ns);
	sqlite3_bind_text(st, 5, size >= 0 ? "stored" : "requested", -1, SQLITE_STATIC);
	if (size >= 0) {
		sqlite3_bind_int64(st, 6, size);
		sqlite3_bind_int64(st, 7, size);
	} else {
		sqlite3_bind_null(st, 6);
		sqlite3_bind_int64(st, 7, 0);
	}
	rc = step_done(st);
	st = NULL;
	*id = sqlite3_last_insert_rowid(db);
out:
	sqlite3_finalize(st);
	sqlite3_exec(db, rc ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL);
	return rc;
}

int srv_sample_set_state(sqlite3 *db, int64_t id, const char *state, const char *reason,
			 uint64_t size, uint64_t received, uint64_t now_ns)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db, "UPDATE sample_requests SET state = ?2, reason = ?3,"
			       " size = CASE WHEN ?4 > 0 THEN ?4 ELSE size END, received = ?5,"
			       " updated_ns = ?6 WHERE id = ?1", -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
	if (reason)
		sqlite3_bind_text(st, 3, reason, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 3);
	sqlite3_bind_int64(st, 4, (int64_t)size);
	sqlite3_bind_int64(st, 5, (int64_t)received);
	sqlite3_bind_int64(st, 6, (int64_t)now_ns);
	return step_done(st);
}

int srv_sample_stored(sqlite3 *db, int64_t id, const uint8_t sha[PT_SHA256_LEN],
		      const char *agent, uint64_t size, uint64_t now_ns)
{
	char hex[2 * PT_SHA256_LEN + 1];
	sqlite3_stmt *st;
	int rc;

	pt_hex_encode(sha, PT_SHA256_LEN, hex);
	if (sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO samples (sha256, size, stored_ns, agent,"
			       " request_id) VALUES (?1, ?2, ?3, ?4, ?5)", -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (int64_t)size);
	sqlite3_bind_int64(st, 3, (int64_t)now_ns);
	sqlite3_bind_text(st, 4, agent, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, id);
	if ((rc = step_done(st)))
		return rc;
	return srv_sample_set_state(db, id, "stored", NULL, size, size, now_ns);
}
