/* SQLite store of the collector: schema, prepared statements, batch insert with dedup, gap
 * accounting and binary prevalence. One thread per handle (SQLITE_OPEN_NOMUTEX). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>
#include <sqlite3.h>

#include "proctrail/buf.h"
#include "proctrail/log.h"
#include "proctrail/store.h"
#include "store_wal.h"

static const char SCHEMA[] =
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);"
	"INSERT OR IGNORE INTO meta VALUES('schema_version', '1');"
	"CREATE TABLE IF NOT EXISTS hosts(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
	"CREATE TABLE IF NOT EXISTS agents("
	"  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, hostname TEXT, version TEXT,"
	"  address TEXT, boot_id BLOB, mode INTEGER, stream_id INTEGER, last_seq INTEGER,"
	"  policy_version INTEGER, first_seen_ns INTEGER, last_seen_ns INTEGER,"
	"  last_pong_ns INTEGER, health TEXT, connected INTEGER DEFAULT 0,"
	"  queue_depth INTEGER, spool_bytes INTEGER, agent_next_seq INTEGER,"
	"  agent_acked_seq INTEGER, events INTEGER DEFAULT 0, duplicates INTEGER DEFAULT 0);"
	"CREATE TABLE IF NOT EXISTS streams(agent INTEGER NOT NULL, stream_id INTEGER NOT NULL,"
	"  high_seq INTEGER NOT NULL, first_seen_ns INTEGER,"
	"  PRIMARY KEY(agent, stream_id)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS gaps(agent INTEGER NOT NULL, stream_id INTEGER NOT NULL,"
	"  first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL, detected_ns INTEGER,"
	"  PRIMARY KEY(agent, stream_id, first_seq)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS loss_ranges(agent INTEGER NOT NULL, stream_id INTEGER NOT NULL,"
	"  first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL, counter INTEGER NOT NULL,"
	"  PRIMARY KEY(agent, stream_id, first_seq, last_seq, counter)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS agent_counters(agent INTEGER NOT NULL, counter INTEGER NOT NULL,"
	"  total INTEGER NOT NULL DEFAULT 0, reported INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY(agent, counter)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS events(id INTEGER PRIMARY KEY, agent INTEGER NOT NULL,"
	"  stream_id INTEGER NOT NULL, seq INTEGER NOT NULL, type INTEGER NOT NULL,"
	"  time_ns INTEGER, pid INTEGER, entity_id BLOB, sha256 BLOB, host INTEGER,"
	"  record BLOB NOT NULL);"
	"CREATE UNIQUE INDEX IF NOT EXISTS events_key ON events(agent, stream_id, seq);"
	"CREATE INDEX IF NOT EXISTS events_time ON events(time_ns);"
	/* By process id and entity id: not an index on events, which would be a random-key
	 * insert per event on the hot path (it cut ingest by half or more, docs/benchmarks.md),
	 * but a side table filled in bulk, sorted, every PT_STORE_INDEX_EVERY events (or when
	 * the writer is idle); rows above meta.pid_indexed_upto are the small unindexed tail. */
	"CREATE TABLE IF NOT EXISTS events_by_pid(pid INTEGER NOT NULL, entity_id BLOB,"
	"  event INTEGER NOT NULL, PRIMARY KEY(pid, entity_id, event)) WITHOUT ROWID;" /* entity x'' when none */
	"INSERT OR IGNORE INTO meta VALUES('pid_indexed_upto', '0');"
	"CREATE TABLE IF NOT EXISTS binaries(sha256 BLOB PRIMARY KEY, first_seen_ns INTEGER,"
	"  last_seen_ns INTEGER, hosts INTEGER NOT NULL DEFAULT 0,"
	"  execs INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS binary_agents(sha256 BLOB NOT NULL, agent INTEGER NOT NULL,"
	"  PRIMARY KEY(sha256, agent)) WITHOUT ROWID;"
	/* A HELLO whose stream is behind what is stored: the agent's spool went back in time (an
	 * old snapshot restored, a spool copied from another machine). Kept, never acted on
	 * silently: records it makes under numbers already stored are duplicates to us. */
	/* The API's lookup tables (docs/api.md, "Speed"), filled in bulk behind the writer like
	 * events_by_pid, up to meta.key_indexed_upto. Each row leads with the epoch of its event
	 * (id >> PT_STORE_EPOCH_BITS), so a fill appends to the newest epoch's part of each
	 * B-tree instead of touching pages all over it; a lookup seeks once per epoch.
	 * ev_key.k is pt_store_key(): 63 bits of SHA-256 over a tag and the value (entity id 'e',
	 * parent entity id 'P', file hash 'h', executable 'x', command line 'c'). A lookup can
	 * return a colliding event; the API checks every filter on the decoded record. */
	"CREATE TABLE IF NOT EXISTS ev_key(epoch INTEGER NOT NULL, k INTEGER NOT NULL,"
	"  event INTEGER NOT NULL, PRIMARY KEY(epoch, k, event)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS events_by_agent(epoch INTEGER NOT NULL, agent INTEGER NOT NULL,"
	"  time_ns INTEGER NOT NULL, event INTEGER NOT NULL,"
	"  PRIMARY KEY(epoch, agent, time_ns, event)) WITHOUT ROWID;"
	/* distinct command lines (args joined by spaces) of each epoch, for substring search */
	"CREATE TABLE IF NOT EXISTS cmdlines(epoch INTEGER NOT NULL, id INTEGER NOT NULL,"
	"  text TEXT NOT NULL, PRIMARY KEY(epoch, id)) WITHOUT ROWID;"
	"INSERT OR IGNORE INTO meta VALUES('key_indexed_upto', '0');"
	/* The command lines again, as an FTS5 trigram index, so a substring search reads the
	 * posting lists of its trigrams instead of every distinct command line. Each row is a new
	 * cmdlines row (same epoch and id), so rowid order is epoch order. A database made before
	 * it has cmdlines up to cmdline_fts_from that are not in it: their epochs keep the scan. */
	"CREATE VIRTUAL TABLE IF NOT EXISTS cmdline_fts USING fts5(text, epoch UNINDEXED,"
	"  k UNINDEXED, tokenize='trigram case_sensitive 1');"
	"INSERT OR IGNORE INTO meta SELECT 'cmdline_fts_from', value FROM meta"
	"  WHERE key='key_indexed_upto';"
	/* What a binary's page shows besides its counts: the size of its newest exec and its most
	 * recent distinct paths (PT_STORE_BIN_PATHS_MAX, newest first, each ending in a NUL),
	 * kept by the fill up to key_indexed_upto. A binary without a row (a database from before
	 * the table) is read from its execs. */
	"CREATE TABLE IF NOT EXISTS binary_paths(sha256 BLOB PRIMARY KEY, size INTEGER,"
	"  paths BLOB NOT NULL) WITHOUT ROWID;"
	/* rare binaries: fewest hosts first, then newest */
	"CREATE INDEX IF NOT EXISTS binaries_rare ON binaries(hosts, first_seen_ns DESC);"
	/* one binary's agents with their own first/last seen and exec count */
	"CREATE TABLE IF NOT EXISTS binary_agent_stats(sha256 BLOB NOT NULL, agent INTEGER NOT NULL,"
	"  first_seen_ns INTEGER, last_seen_ns INTEGER, execs INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY(sha256, agent)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS regressions(agent INTEGER NOT NULL, stream_id INTEGER NOT NULL,"
	"  agent_next_seq INTEGER NOT NULL, stored_high INTEGER NOT NULL, detected_ns INTEGER NOT NULL,"
	"  PRIMARY KEY(agent, stream_id, detected_ns)) WITHOUT ROWID;"
	/* Sigma matches (docs/detection.md): one row per (event, rule), made in the transaction
	 * that inserts the event, so a resent batch (no new event row) makes no second alert. */
	"CREATE TABLE IF NOT EXISTS alerts(id INTEGER PRIMARY KEY, event INTEGER NOT NULL,"
	"  rule_id TEXT NOT NULL, title TEXT NOT NULL, level TEXT NOT NULL, agent INTEGER NOT NULL,"
	"  host INTEGER, time_ns INTEGER, created_ns INTEGER NOT NULL, rule_file TEXT,"
	"  UNIQUE(event, rule_id));";

#define PATH_BYTES_MAX (16u << 20)   /* paths the fill holds for binary_paths before writing */

enum stmt_id {
	S_EVENT, S_STREAM_GET, S_STREAM_PUT, S_GAP_ADD, S_GAP_OVERLAP, S_GAP_DEL, S_LOSS_ADD,
	S_LOSS_OVERLAP, S_COUNTER_REPORTED, S_COUNTER_TOTAL, S_COUNTER_ADD, S_BIN_AGENT, S_BIN_UPSERT,
	S_AGENT_BATCH, S_AGENT_UPSERT, S_AGENT_ID, S_HOST_ADD, S_HOST_ID, S_AGENT_PONG,
	S_AGENT_HEALTH, S_SAVEPOINT, S_RELEASE, S_ROLLBACK_TO, S_INDEX_UPTO, S_INDEX_MAXID,
	S_INDEX_FILL, S_INDEX_SET, S_REGRESSION_ADD, S_BIN_AGENT_STATS, S_KEY_UPTO, S_KEY_SET,
	S_KEY_ROWS, S_KEY_ADD, S_AGENT_TIME_ADD, S_CMDLINE_ADD, S_CMDLINE_FTS_ADD, S_BIN_PATHS_GET, S_BIN_PATHS_PUT, S_ALERT, S_MAX
};

static const char *const SQL[S_MAX] = {
	[S_EVENT] = "INSERT OR IGNORE INTO events(agent, stream_id, seq, type, time_ns, pid,"
		    " entity_id, sha256, host, record) VALUES(?,?,?,?,?,?,?,?,?,?)",
	[S_STREAM_GET] = "SELECT high_seq FROM streams WHERE agent=? AND stream_id=?",
	[S_STREAM_PUT] = "INSERT INTO streams(agent, stream_id, high_seq, first_seen_ns)"
			 " VALUES(?,?,?,?) ON CONFLICT(agent, stream_id)"
			 " DO UPDATE SET high_seq=excluded.high_seq",
	[S_GAP_ADD] = "INSERT OR REPLACE INTO gaps VALUES(?,?,?,?,?)",
	[S_GAP_OVERLAP] = "SELECT first_seq, last_seq, detected_ns FROM gaps WHERE agent=?"
			  " AND stream_id=? AND first_seq<=? AND last_seq>=?",
	[S_GAP_DEL] = "DELETE FROM gaps WHERE agent=? AND stream_id=? AND first_seq=?",
	[S_LOSS_ADD] = "INSERT OR IGNORE INTO loss_ranges VALUES(?,?,?,?,?)",
	[S_REGRESSION_ADD] = "INSERT OR IGNORE INTO regressions VALUES(?,?,?,?,?)",
	[S_ALERT] = "INSERT OR IGNORE INTO alerts(event, rule_id, title, level, agent, host, time_ns,"
		" created_ns, rule_file) VALUES(?,?,?,?,?,?,?,?,?)",
	[S_LOSS_OVERLAP] = "SELECT first_seq, last_seq FROM loss_ranges WHERE agent=?"
			   " AND stream_id=? AND first_seq<=? AND last_seq>=?",
	[S_COUNTER_REPORTED] = "INSERT INTO agent_counters(agent, counter, reported) VALUES(?,?,?)"
			       " ON CONFLICT(agent, counter) DO UPDATE SET"
			       " reported=reported+excluded.reported",
	[S_COUNTER_TOTAL] = "INSERT INTO agent_counters(agent, counter, total) VALUES(?,?,?)"
			    " ON CONFLICT(agent, counter) DO UPDATE SET total=excluded.total",
	[S_COUNTER_ADD] = "INSERT INTO agent_counters(agent, counter, total) VALUES(?,?,?)"
			  " ON CONFLICT(agent, counter) DO UPDATE SET total=total+excluded.total",
	[S_BIN_AGENT] = "INSERT OR IGNORE INTO binary_agents VALUES(?,?)",
	[S_BIN_UPSERT] = "INSERT INTO binaries(sha256, first_seen_ns, last_seen_ns, hosts, execs)"
			 " VALUES(?1,?2,?3,?4,?5) ON CONFLICT(sha256) DO UPDATE SET"
			 " first_seen_ns=min(first_seen_ns, excluded.first_seen_ns),"
			 " last_seen_ns=max(last_seen_ns, excluded.last_seen_ns),"
			 " hosts=hosts+excluded.hosts, execs=execs+excluded.execs",
	[S_AGENT_BATCH] = "UPDATE agents SET stream_id=?2, last_seq=?3, last_seen_ns=?4,"
			  " events=events+?5, duplicates=duplicates+?6 WHERE id=?1",
	[S_AGENT_UPSERT] = "INSERT INTO agents(name, hostname, version, address, boot_id, mode,"
			   " stream_id, policy_version, first_seen_ns, last_seen_ns, health,"
			   " connected, agent_next_seq) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?9,'ok',1,?10)"
			   " ON CONFLICT(name) DO UPDATE SET hostname=excluded.hostname,"
			   " version=excluded.version, address=excluded.address,"
			   " boot_id=excluded.boot_id, mode=excluded.mode,"
			   " stream_id=excluded.stream_id, policy_version=excluded.policy_version,"
			   " last_seen_ns=excluded.last_seen_ns, health='ok', connected=1,"
			   " agent_next_seq=excluded.agent_next_seq",
	[S_AGENT_ID] = "SELECT id FROM agents WHERE name=?",
	[S_HOST_ADD] = "INSERT OR IGNORE INTO hosts(name) VALUES(?)",
	[S_HOST_ID] = "SELECT id FROM hosts WHERE name=?",
	[S_AGENT_PONG] = "UPDATE agents SET last_pong_ns=?2, last_seen_ns=?2, health='ok', connected=1,"
			 " queue_depth=?3, spool_bytes=?4, agent_next_seq=?5, agent_acked_seq=?6"
			 " WHERE id=?1",
	[S_AGENT_HEALTH] = "UPDATE agents SET health=?2, connected=(?2<>'disconnected'),"
			   " last_seen_ns=max(coalesce(last_seen_ns,0), ?3) WHERE id=?1",
	[S_SAVEPOINT] = "SAVEPOINT call",
	[S_RELEASE] = "RELEASE call",
	[S_ROLLBACK_TO] = "ROLLBACK TO call",
	[S_INDEX_UPTO] = "SELECT CAST(value AS INTEGER) FROM meta WHERE key='pid_indexed_upto'",
	[S_INDEX_MAXID] = "SELECT coalesce(max(id), 0) FROM events",
	[S_INDEX_FILL] = "INSERT OR IGNORE INTO events_by_pid"
			 " SELECT pid, coalesce(entity_id, x''), id FROM events"
			 " WHERE id > ?1 AND id <= ?2 AND pid IS NOT NULL ORDER BY pid, entity_id, id",
	[S_INDEX_SET] = "UPDATE meta SET value=?1 WHERE key='pid_indexed_upto'",
	[S_BIN_AGENT_STATS] = "INSERT INTO binary_agent_stats VALUES(?1,?2,?3,?4,?5)"
			      " ON CONFLICT(sha256, agent) DO UPDATE SET"
			      " first_seen_ns=min(first_seen_ns, excluded.first_seen_ns),"
			      " last_seen_ns=max(last_seen_ns, excluded.last_seen_ns),"
			      " execs=execs+excluded.execs",
	[S_KEY_UPTO] = "SELECT CAST(value AS INTEGER) FROM meta WHERE key='key_indexed_upto'",
	[S_KEY_SET] = "UPDATE meta SET value=?1 WHERE key='key_indexed_upto'",
	[S_KEY_ROWS] = "SELECT id, agent, time_ns, record FROM events WHERE id > ?1 AND id <= ?2"
		       " ORDER BY id",
	[S_KEY_ADD] = "INSERT OR IGNORE INTO ev_key VALUES(?1,?2,?3)",
	[S_AGENT_TIME_ADD] = "INSERT OR IGNORE INTO events_by_agent VALUES(?1,?2,?3,?4)",
	[S_CMDLINE_ADD] = "INSERT OR IGNORE INTO cmdlines VALUES(?1,?2,?3)",
	[S_CMDLINE_FTS_ADD] = "INSERT INTO cmdline_fts(text, epoch, k) VALUES(?3,?1,?2)",
	[S_BIN_PATHS_GET] = "SELECT paths FROM binary_paths WHERE sha256 = ?",
	[S_BIN_PATHS_PUT] = "INSERT OR REPLACE INTO binary_paths VALUES(?1,?2,?3)",
};

struct bin_agg;
struct key_row;
struct agent_row;
struct path_row;

struct pt_store {
	sqlite3 *db;
	sqlite3_stmt *st[S_MAX];
	struct bin_agg *agg;          /* prevalence of this transaction, written at commit */
	struct key_row *keys;         /* the lookup tables' fill: kept between fills, so a fill */
	struct agent_row *agent_rows; /* neither allocates nor faults its pages in again */
	struct path_row *path_rows;   /* the fill's execs with a hash, for binary_paths */
	size_t npath_rows;
	struct pt_buf path_bytes;     /* their paths */
	size_t agg_n, agg_cap, agg_pending;
	void (*wal_fn)(void *arg, uint64_t wal_bytes);
	void *wal_arg;
	uint64_t page_size;
	char path[512];
	uint64_t alerts;
};

static int db_err(struct pt_store *s, const char *what)
{
	log_warnx("%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
	return -EIO;
}

static int exec(struct pt_store *s, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_warnx("%s: %s: %s", s->path, sql, msg ? msg : "?");
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

void pt_store_close(struct pt_store *s)
{
	int i;

	if (!s)
		return;
	for (i = 0; i < S_MAX; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close(s->db);
	free(s->agg);
	free(s->keys);
	free(s->agent_rows);
	free(s->path_rows);
	pt_buf_free(&s->path_bytes);
	free(s);
}

static int page_size(struct pt_store *s, uint64_t *out)
{
	sqlite3_stmt *q = NULL;
	int ret = -EIO;

	if (sqlite3_prepare_v2(s->db, "PRAGMA page_size", -1, &q, NULL) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW) {
		*out = (uint64_t)sqlite3_column_int64(q, 0);
		ret = 0;
	} else {
		ret = db_err(s, "reading the page size");
	}
	sqlite3_finalize(q);
	return ret;
}

/* Gives one database file (the main one when create) mode PT_STORE_FILE_MODE. The database
 * holds every argv the agents saw, so it is not for other local users; SQLite creates the WAL
 * and shm files with the main file's mode, so creating that one private covers them. Opened
 * without following a link: the file is the service user's, and a link there would make the
 * collector chmod another file. An existing group/other readable file is tightened, logged. */
static int private_file(const char *path, bool create)
{
	struct stat st;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (create ? O_CREAT : 0),
		  PT_STORE_FILE_MODE);
	if (fd < 0) {
		if (errno == ENOENT && !create)
			return 0;
		ret = -errno;
		if (ret == -ELOOP)
			log_warnx("%s is a symbolic link; refusing it (give --db the file itself)",
				  path);
		else
			log_warn("%s", path);
		return ret;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		log_warn("%s", path);
	} else if (!S_ISREG(st.st_mode)) {
		log_warnx("%s is not a regular file", path);
		ret = -EINVAL;
	} else if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		if (fchmod(fd, PT_STORE_FILE_MODE) < 0) {
			ret = -errno;
			log_warn("%s: mode %04o, and it cannot be made %04o", path,
				 (unsigned)(st.st_mode & 07777), PT_STORE_FILE_MODE);
		} else {
			log_warnx("%s was readable by group or others (mode %04o); now %04o", path,
				  (unsigned)(st.st_mode & 07777), PT_STORE_FILE_MODE);
		}
	}
	close(fd);
	return ret;
}

/* SQLite's in-memory and URI names are not files of ours. */
static int private_db_files(const char *path)
{
	static const char *const side[] = { "-wal", "-shm" };
	char p[PATH_MAX];
	int ret;

	if (!*path || !strcmp(path, ":memory:") || !strncmp(path, "file:", 5))
		return 0;
	if ((ret = private_file(path, true)))
		return ret;
	for (size_t i = 0; i < sizeof(side) / sizeof(side[0]); i++) {
		if (snprintf(p, sizeof(p), "%s%s", path, side[i]) >= (int)sizeof(p))
			return -ENAMETOOLONG;
		if ((ret = private_file(p, false)))
			return ret;
	}
	return 0;
}

int pt_store_open(struct pt_store **out, const char *path)
{
	struct pt_store *s = calloc(1, sizeof(*s));
	int i, ret = -EIO;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	snprintf(s->path, sizeof(s->path), "%s", path);
	pt_buf_init(&s->path_bytes, PATH_BYTES_MAX);
	if ((ret = private_db_files(path)))
		goto out;
	if (sqlite3_open_v2(path, &s->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		ret = db_err(s, "open");
		goto out;
	}
	sqlite3_busy_timeout(s->db, 5000);
	/* WAL + synchronous=FULL: COMMIT returns after the WAL fsync, which is what an ACK
	 * promises. Readers (the CLI) never block the writer. 16 KiB pages (for a new database;
	 * an existing one keeps its size): about 7 % less writer CPU than 4 KiB for the same rows,
	 * fewer WAL frames and syscalls per commit (docs/benchmarks.md). */
	if ((ret = exec(s, "PRAGMA page_size=16384")) ||
	    (ret = exec(s, "PRAGMA journal_mode=WAL")) ||
	    (ret = exec(s, "PRAGMA synchronous=FULL")) ||
	    (ret = exec(s, "PRAGMA cache_size=-65536")) ||
	    (ret = exec(s, "PRAGMA temp_store=MEMORY")) ||
	    (ret = exec(s, "PRAGMA wal_autocheckpoint=4000")) ||
	    (ret = exec(s, SCHEMA)) ||
	    (ret = page_size(s, &s->page_size)))
		goto out;
	for (i = 0; i < S_MAX; i++) {
		if (sqlite3_prepare_v3(s->db, SQL[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
				       NULL) != SQLITE_OK) {
			ret = db_err(s, SQL[i]);
			goto out;
		}
	}
	ret = 0;
out:
	if (ret)
		pt_store_close(s);
	else
		*out = s;
	return ret;
}

static int wal_hook(void *arg, sqlite3 *db, const char *name, int wal_pages)
{
	struct pt_store *s = arg;

	(void)db;
	(void)name;
	s->wal_fn(s->wal_arg, (uint64_t)wal_pages * s->page_size);
	return SQLITE_OK;
}

void pt_store_wal_hook(struct pt_store *s, void (*fn)(void *arg, uint64_t wal_bytes), void *arg)
{
	s->wal_fn = fn;
	s->wal_arg = arg;
	/* Replaces SQLite's automatic checkpoint, which is itself a WAL hook. */
	sqlite3_wal_hook(s->db, wal_hook, s);
}

int pt_store_begin(struct pt_store *s)
{
	s->agg_n = s->agg_pending = 0;
	return exec(s, "BEGIN IMMEDIATE");
}

static int binaries_flush(struct pt_store *s);

int pt_store_commit(struct pt_store *s)
{
	int ret = binaries_flush(s);

	return ret ? ret : exec(s, "COMMIT");
}

void pt_store_rollback(struct pt_store *s)
{
	s->agg_n = s->agg_pending = 0;
	if (!sqlite3_get_autocommit(s->db))
		exec(s, "ROLLBACK");
}

static int run_stmt(struct pt_store *s, enum stmt_id id)
{
	int rc = sqlite3_step(s->st[id]);

	sqlite3_reset(s->st[id]);
	return rc == SQLITE_DONE ? 0 : db_err(s, SQL[id]);
}

static int savepoint(struct pt_store *s)
{
	return run_stmt(s, S_SAVEPOINT);
}

static int release(struct pt_store *s, int ret)
{
	if (ret) {
		run_stmt(s, S_ROLLBACK_TO);
		run_stmt(s, S_RELEASE);
		return ret;
	}
	return run_stmt(s, S_RELEASE);
}

/* Runs a prepared statement with no result row; resets it whatever happens. */
static int step_done(struct pt_store *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);
	int ret = (rc == SQLITE_DONE || rc == SQLITE_ROW) ? 0 : db_err(s, what);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return ret;
}

static sqlite3_int64 i64(uint64_t v)
{
	return (sqlite3_int64)v;
}

/* Removes [a, b] from the stream's gaps, splitting a gap that straddles it. */
static int gaps_subtract(struct pt_store *s, int64_t agent, uint64_t stream, uint64_t a, uint64_t b,
			 uint64_t now_ns)
{
	sqlite3_stmt *q = s->st[S_GAP_OVERLAP];
	struct { uint64_t f, l, t; } hit[64];
	int n, i, rc, ret;

	/* Gaps are disjoint, so few overlap one range; loop while a page was full. */
	do {
		n = 0;
		sqlite3_bind_int64(q, 1, agent);
		sqlite3_bind_int64(q, 2, i64(stream));
		sqlite3_bind_int64(q, 3, i64(b));
		sqlite3_bind_int64(q, 4, i64(a));
		while (n < 64 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
			hit[n].f = (uint64_t)sqlite3_column_int64(q, 0);
			hit[n].l = (uint64_t)sqlite3_column_int64(q, 1);
			hit[n].t = (uint64_t)sqlite3_column_int64(q, 2);
			n++;
		}
		/* a failed step is not the end of the list: the gaps would stay unexplained */
		if (n < 64 && rc != SQLITE_DONE) {
			ret = db_err(s, "reading gaps");
			sqlite3_reset(q);
			sqlite3_clear_bindings(q);
			return ret;
		}
		sqlite3_reset(q);
		sqlite3_clear_bindings(q);
		for (i = 0; i < n; i++) {
			sqlite3_stmt *d = s->st[S_GAP_DEL], *g = s->st[S_GAP_ADD];

			sqlite3_bind_int64(d, 1, agent);
			sqlite3_bind_int64(d, 2, i64(stream));
			sqlite3_bind_int64(d, 3, i64(hit[i].f));
			if ((ret = step_done(s, d, "deleting gap")))
				return ret;
			if (hit[i].f < a) {
				sqlite3_bind_int64(g, 1, agent);
				sqlite3_bind_int64(g, 2, i64(stream));
				sqlite3_bind_int64(g, 3, i64(hit[i].f));
				sqlite3_bind_int64(g, 4, i64(a - 1));
				sqlite3_bind_int64(g, 5, i64(hit[i].t ? hit[i].t : now_ns));
				if ((ret = step_done(s, g, "trimming gap")))
					return ret;
			}
			if (hit[i].l > b) {
				sqlite3_bind_int64(g, 1, agent);
				sqlite3_bind_int64(g, 2, i64(stream));
				sqlite3_bind_int64(g, 3, i64(b + 1));
				sqlite3_bind_int64(g, 4, i64(hit[i].l));
				sqlite3_bind_int64(g, 5, i64(hit[i].t ? hit[i].t : now_ns));
				if ((ret = step_done(s, g, "trimming gap")))
					return ret;
			}
		}
	} while (n == 64);
	return 0;
}

/* Records [a, b] as unexplained, minus whatever LOSS ranges already cover. */
static int gap_add(struct pt_store *s, int64_t agent, uint64_t stream, uint64_t a, uint64_t b,
		   uint64_t now_ns)
{
	sqlite3_stmt *g = s->st[S_GAP_ADD], *q = s->st[S_LOSS_OVERLAP];
	struct { uint64_t f, l; } cov[64];
	int n = 0, i, ret;

	sqlite3_bind_int64(g, 1, agent);
	sqlite3_bind_int64(g, 2, i64(stream));
	sqlite3_bind_int64(g, 3, i64(a));
	sqlite3_bind_int64(g, 4, i64(b));
	sqlite3_bind_int64(g, 5, i64(now_ns));
	if ((ret = step_done(s, g, "adding gap")))
		return ret;
	sqlite3_bind_int64(q, 1, agent);
	sqlite3_bind_int64(q, 2, i64(stream));
	sqlite3_bind_int64(q, 3, i64(b));
	sqlite3_bind_int64(q, 4, i64(a));
	while (n < 64 && sqlite3_step(q) == SQLITE_ROW) {
		cov[n].f = (uint64_t)sqlite3_column_int64(q, 0);
		cov[n].l = (uint64_t)sqlite3_column_int64(q, 1);
		n++;
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	for (i = 0; i < n; i++)
		if ((ret = gaps_subtract(s, agent, stream, cov[i].f, cov[i].l, now_ns)))
			return ret;
	return 0;
}

static int stream_get(struct pt_store *s, int64_t agent, uint64_t stream, bool *found,
		      uint64_t *high)
{
	sqlite3_stmt *q = s->st[S_STREAM_GET];
	int rc;

	sqlite3_bind_int64(q, 1, agent);
	sqlite3_bind_int64(q, 2, i64(stream));
	rc = sqlite3_step(q);
	*found = rc == SQLITE_ROW;
	if (*found)
		*high = (uint64_t)sqlite3_column_int64(q, 0);
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return (rc == SQLITE_ROW || rc == SQLITE_DONE) ? 0 : db_err(s, "reading stream");
}

static int stream_put(struct pt_store *s, int64_t agent, uint64_t stream, uint64_t high,
		      uint64_t now_ns)
{
	sqlite3_stmt *q = s->st[S_STREAM_PUT];

	sqlite3_bind_int64(q, 1, agent);
	sqlite3_bind_int64(q, 2, i64(stream));
	sqlite3_bind_int64(q, 3, i64(high));
	sqlite3_bind_int64(q, 4, i64(now_ns));
	return step_done(s, q, "writing stream");
}

static int lookup_id(struct pt_store *s, enum stmt_id add, enum stmt_id get, const char *name,
		     int64_t *id)
{
	sqlite3_stmt *q;
	int ret, rc;

	if (add != S_MAX) {
		sqlite3_bind_text(s->st[add], 1, name, -1, SQLITE_STATIC);
		if ((ret = step_done(s, s->st[add], "adding host")))
			return ret;
	}
	q = s->st[get];
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		*id = sqlite3_column_int64(q, 0);
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return rc == SQLITE_ROW ? 0 : db_err(s, "looking up id");
}

int pt_store_hello(struct pt_store *s, const struct pt_store_hello *h, uint64_t now_ns,
		   struct pt_store_hello_result *r)
{
	sqlite3_stmt *q = s->st[S_AGENT_UPSERT];
	uint64_t high = 0;
	bool found;
	int ret;

	memset(r, 0, sizeof(*r));
	if ((ret = savepoint(s)))
		return ret;
	sqlite3_bind_text(q, 1, h->agent_name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, h->hostname, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, h->version, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, h->address, -1, SQLITE_STATIC);
	sqlite3_bind_blob(q, 5, h->boot_id, PT_BOOT_ID_LEN, SQLITE_STATIC);
	sqlite3_bind_int(q, 6, h->mode);
	sqlite3_bind_int64(q, 7, i64(h->stream_id));
	sqlite3_bind_int64(q, 8, i64(h->policy_version));
	sqlite3_bind_int64(q, 9, i64(now_ns));
	sqlite3_bind_int64(q, 10, i64(h->next_seq));
	if ((ret = step_done(s, q, "writing agent")) ||
	    (ret = lookup_id(s, S_MAX, S_AGENT_ID, h->agent_name, &r->agent)) ||
	    (ret = lookup_id(s, S_HOST_ADD, S_HOST_ID, h->hostname, &r->host)) ||
	    (ret = stream_get(s, r->agent, h->stream_id, &found, &high)))
		goto out;
	/* Sequence numbers start at 1: what the agent no longer holds and we never stored was
	 * lost, unless a LOSS record says so (it will remove the gap when it arrives). */
	if (h->first_seq > high + 1) {
		if ((ret = gap_add(s, r->agent, h->stream_id, high + 1, h->first_seq - 1, now_ns)))
			goto out;
		high = h->first_seq - 1;
		found = true;
		if ((ret = stream_put(s, r->agent, h->stream_id, high, now_ns)))
			goto out;
	}
	if (found && h->next_seq <= high) {
		sqlite3_stmt *g = s->st[S_REGRESSION_ADD];

		sqlite3_bind_int64(g, 1, r->agent);
		sqlite3_bind_int64(g, 2, i64(h->stream_id));
		sqlite3_bind_int64(g, 3, i64(h->next_seq));
		sqlite3_bind_int64(g, 4, i64(high));
		sqlite3_bind_int64(g, 5, i64(now_ns));
		if ((ret = step_done(s, g, "writing a regression")))
			goto out;
		r->regressed = true;
	}
	r->has_acked = found;
	r->acked_seq = high;
out:
	return release(s, ret);
}

struct bin_agg {
	uint8_t sha[PT_SHA256_LEN];
	int64_t agent;
	uint64_t first, last, execs;
};

static int cmp_agg(const void *a, const void *b)
{
	const struct bin_agg *x = a, *y = b;
	int c = memcmp(x->sha, y->sha, PT_SHA256_LEN);

	if (c)
		return c;
	return x->agent < y->agent ? -1 : x->agent > y->agent;
}

/* Sorts and merges equal (sha, agent) entries in place; returns the new count. */
static size_t agg_merge(struct bin_agg *v, size_t n)
{
	size_t i, o = 0;

	if (n < 2)
		return n;
	qsort(v, n, sizeof(*v), cmp_agg);
	for (i = 0; i < n; i++) {
		if (o && !cmp_agg(&v[o - 1], &v[i])) {
			v[o - 1].first = v[i].first < v[o - 1].first ? v[i].first : v[o - 1].first;
			v[o - 1].last = v[i].last > v[o - 1].last ? v[i].last : v[o - 1].last;
			v[o - 1].execs += v[i].execs;
		} else {
			v[o++] = v[i];
		}
	}
	return o;
}

/* Prevalence is aggregated per batch, then per transaction, and written at commit: the
 * random-key writes are one per distinct (binary, agent) of the whole group, not per event.
 * Only the batch's new events (fresh) count: a resent exec is not run again. */
static int binaries_collect(struct pt_store *s, const struct pt_store_batch *b,
			    const uint64_t *fresh)
{
	size_t n = 0, i, need;
	struct bin_agg *v;

	for (i = 0; i < b->count; i++)
		n += b->ev[i].has_sha && b->ev[i].type == PT_REC_PROCESS_EXEC &&
		     (fresh[i / 64] >> (i % 64) & 1);
	if (!n)
		return 0;
	need = s->agg_n + n;
	if (need > s->agg_cap) {
		size_t cap = s->agg_cap ? s->agg_cap : 1024;

		while (cap < need)
			cap *= 2;
		v = reallocarray(s->agg, cap, sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->agg = v;
		s->agg_cap = cap;
	}
	v = s->agg + s->agg_n;
	n = 0;
	for (i = 0; i < b->count; i++) {
		const struct pt_store_event *e = &b->ev[i];

		if (!e->has_sha || e->type != PT_REC_PROCESS_EXEC || !(fresh[i / 64] >> (i % 64) & 1))
			continue;
		memcpy(v[n].sha, e->sha256, PT_SHA256_LEN);
		v[n].agent = b->agent;
		v[n].first = v[n].last = e->time_ns;
		v[n].execs = 1;
		n++;
	}
	s->agg_pending = agg_merge(v, n);
	return 0;
}

static int binaries_flush(struct pt_store *s)
{
	sqlite3_stmt *q = s->st[S_BIN_AGENT], *u = s->st[S_BIN_UPSERT];
	sqlite3_stmt *g = s->st[S_BIN_AGENT_STATS];
	size_t n, i;
	int ret = 0;

	n = agg_merge(s->agg, s->agg_n);
	for (i = 0; i < n && !ret; i++) {
		const struct bin_agg *a = &s->agg[i];
		int new_host;

		sqlite3_bind_blob(q, 1, a->sha, PT_SHA256_LEN, SQLITE_STATIC);
		sqlite3_bind_int64(q, 2, a->agent);
		if ((ret = step_done(s, q, "writing binary_agents")))
			break;
		new_host = sqlite3_changes(s->db) > 0;
		sqlite3_bind_blob(g, 1, a->sha, PT_SHA256_LEN, SQLITE_STATIC);
		sqlite3_bind_int64(g, 2, a->agent);
		sqlite3_bind_int64(g, 3, i64(a->first));
		sqlite3_bind_int64(g, 4, i64(a->last));
		sqlite3_bind_int64(g, 5, i64(a->execs));
		if ((ret = step_done(s, g, "writing binary_agent_stats")))
			break;
		sqlite3_bind_blob(u, 1, a->sha, PT_SHA256_LEN, SQLITE_STATIC);
		sqlite3_bind_int64(u, 2, i64(a->first));
		sqlite3_bind_int64(u, 3, i64(a->last));
		sqlite3_bind_int(u, 4, new_host);
		sqlite3_bind_int64(u, 5, i64(a->execs));
		ret = step_done(s, u, "writing binaries");
	}
	s->agg_n = 0;
	return ret;
}

/* A resent LOSS record (already stored) must not add its count again: the range insert and
 * the gap subtraction are idempotent, the counter is not. */
static int loss_record(struct pt_store *s, const struct pt_store_batch *b,
		       const struct pt_store_event *e, bool fresh, uint64_t now_ns)
{
	sqlite3_stmt *c = s->st[S_COUNTER_REPORTED], *l = s->st[S_LOSS_ADD];
	int ret;

	if (fresh) {
		sqlite3_bind_int64(c, 1, b->agent);
		sqlite3_bind_int(c, 2, e->loss_counter);
		sqlite3_bind_int64(c, 3, i64(e->loss_count));
		if ((ret = step_done(s, c, "writing loss counter")))
			return ret;
	}
	if (!e->loss_has_range || e->loss_first > e->loss_last)
		return 0;
	sqlite3_bind_int64(l, 1, b->agent);
	sqlite3_bind_int64(l, 2, i64(b->stream_id));
	sqlite3_bind_int64(l, 3, i64(e->loss_first));
	sqlite3_bind_int64(l, 4, i64(e->loss_last));
	sqlite3_bind_int(l, 5, e->loss_counter);
	if ((ret = step_done(s, l, "writing loss range")))
		return ret;
	return gaps_subtract(s, b->agent, b->stream_id, e->loss_first, e->loss_last, now_ns);
}

#define FRESH_WORDS ((PT_BATCH_RECORDS_MAX + 63) / 64)

/* The alerts of event e (row id event), evaluated by the session: only for a fresh row. */
static int alert_rows(struct pt_store *s, const struct pt_store_batch *b,
		      const struct pt_store_event *e, int64_t event, uint64_t now_ns, uint32_t *k,
		      uint32_t i)
{
	sqlite3_stmt *q = s->st[S_ALERT];
	int ret;

	for (; *k < b->n_alerts && b->alerts[*k].ev == i; (*k)++) {
		const struct pt_store_alert *r = &b->alerts[*k];

		sqlite3_bind_int64(q, 1, event);
		sqlite3_bind_text(q, 2, r->rule_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 3, r->title, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 4, r->level, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 5, b->agent);
		sqlite3_bind_int64(q, 6, b->host);
		sqlite3_bind_int64(q, 7, i64(e->time_ns));
		sqlite3_bind_int64(q, 8, i64(now_ns));
		sqlite3_bind_text(q, 9, r->file, -1, SQLITE_STATIC);
		if ((ret = step_done(s, q, "writing alert")))
			return ret;
		s->alerts += sqlite3_changes(s->db) > 0;
	}
	return 0;
}

uint64_t pt_store_alerts(const struct pt_store *s)
{
	return s->alerts;
}

static int insert_events(struct pt_store *s, const struct pt_store_batch *b, uint32_t *inserted,
			 uint64_t fresh[FRESH_WORDS], uint64_t now_ns)
{
	sqlite3_stmt *q = s->st[S_EVENT];
	uint32_t i, k = 0;
	int rc;

	for (i = 0; i < b->count; i++) {
		const struct pt_store_event *e = &b->ev[i];

		/* a resent event's alerts were made with it */
		while (k < b->n_alerts && b->alerts[k].ev < i)
			k++;
		sqlite3_bind_int64(q, 1, b->agent);
		sqlite3_bind_int64(q, 2, i64(b->stream_id));
		sqlite3_bind_int64(q, 3, i64(e->seq));
		sqlite3_bind_int(q, 4, e->type);
		sqlite3_bind_int64(q, 5, i64(e->time_ns));
		if (e->has_pid)
			sqlite3_bind_int64(q, 6, e->pid);
		else
			sqlite3_bind_null(q, 6);
		if (e->has_entity)
			sqlite3_bind_blob(q, 7, e->entity_id, PT_ENTITY_ID_LEN, SQLITE_STATIC);
		else
			sqlite3_bind_null(q, 7);
		if (e->has_sha)
			sqlite3_bind_blob(q, 8, e->sha256, PT_SHA256_LEN, SQLITE_STATIC);
		else
			sqlite3_bind_null(q, 8);
		sqlite3_bind_int64(q, 9, b->host);
		sqlite3_bind_blob(q, 10, b->raw + e->off, (int)e->len, SQLITE_STATIC);
		rc = sqlite3_step(q);
		sqlite3_reset(q);
		if (rc != SQLITE_DONE)
			return db_err(s, "inserting event");
		if (sqlite3_changes(s->db) > 0) {
			(*inserted)++;
			fresh[i / 64] |= 1ull << (i % 64);
			if (k < b->n_alerts && b->alerts[k].ev == i &&
			    (rc = alert_rows(s, b, e, sqlite3_last_insert_rowid(s->db), now_ns, &k, i)))
				return rc;
		}
	}
	return 0;
}

int pt_store_batch(struct pt_store *s, const struct pt_store_batch *b, uint64_t now_ns,
		   struct pt_store_batch_result *r)
{
	uint64_t high = 0, last, fresh[FRESH_WORDS] = { 0 };
	sqlite3_stmt *q;
	uint32_t i;
	bool found;
	int ret;

	memset(r, 0, sizeof(*r));
	if (b->count == 0 || b->count > PT_BATCH_RECORDS_MAX || b->first_seq == 0 ||
	    b->first_seq > UINT64_MAX - b->count)
		return -EINVAL;
	last = b->first_seq + b->count - 1;
	if ((ret = savepoint(s)))
		return ret;
	if ((ret = stream_get(s, b->agent, b->stream_id, &found, &high)) ||
	    (ret = insert_events(s, b, &r->inserted, fresh, now_ns)))
		goto out;
	if (b->first_seq > high + 1)
		ret = gap_add(s, b->agent, b->stream_id, high + 1, b->first_seq - 1, now_ns);
	else if (b->first_seq <= high)   /* a resend may fill a gap */
		ret = gaps_subtract(s, b->agent, b->stream_id, b->first_seq,
				    last < high ? last : high, now_ns);
	if (ret)
		goto out;
	if (last > high)
		high = last;
	if ((ret = stream_put(s, b->agent, b->stream_id, high, now_ns)))
		goto out;
	for (i = 0; i < b->count; i++)
		if (b->ev[i].type == PT_REC_LOSS &&
		    (ret = loss_record(s, b, &b->ev[i], fresh[i / 64] >> (i % 64) & 1, now_ns)))
			goto out;
	if ((ret = binaries_collect(s, b, fresh)))
		goto out;
	q = s->st[S_AGENT_BATCH];
	sqlite3_bind_int64(q, 1, b->agent);
	sqlite3_bind_int64(q, 2, i64(b->stream_id));
	sqlite3_bind_int64(q, 3, i64(high));
	sqlite3_bind_int64(q, 4, i64(now_ns));
	sqlite3_bind_int64(q, 5, r->inserted);
	sqlite3_bind_int64(q, 6, b->count - r->inserted);
	ret = step_done(s, q, "updating agent");
	r->high_seq = high;
out:
	ret = release(s, ret);
	/* The batch's share of the prevalence aggregate counts only if the batch stayed. */
	if (!ret)
		s->agg_n += s->agg_pending;
	s->agg_pending = 0;
	return ret;
}

int pt_store_pong(struct pt_store *s, int64_t agent, const struct pt_pong *p, uint64_t now_ns)
{
	sqlite3_stmt *q = s->st[S_AGENT_PONG], *c = s->st[S_COUNTER_TOTAL];
	uint32_t i;
	int ret;

	if ((ret = savepoint(s)))
		return ret;
	sqlite3_bind_int64(q, 1, agent);
	sqlite3_bind_int64(q, 2, i64(now_ns));
	sqlite3_bind_int64(q, 3, i64(p->queue_depth));
	sqlite3_bind_int64(q, 4, i64(p->spool_bytes));
	sqlite3_bind_int64(q, 5, i64(p->next_seq));
	sqlite3_bind_int64(q, 6, i64(p->acked_seq));
	if ((ret = step_done(s, q, "writing health")))
		goto out;
	for (i = 0; i < p->n_counters && i < PT_COUNTERS_MAX; i++) {
		sqlite3_bind_int64(c, 1, agent);
		sqlite3_bind_int(c, 2, p->counters[i].id);
		sqlite3_bind_int64(c, 3, i64(p->counters[i].value));
		if ((ret = step_done(s, c, "writing counters")))
			goto out;
	}
out:
	return release(s, ret);
}

int pt_store_counters_add(struct pt_store *s, int64_t agent, const struct pt_store_counter *c,
			  size_t n)
{
	sqlite3_stmt *q = s->st[S_COUNTER_ADD];
	size_t i;
	int ret;

	if ((ret = savepoint(s)))
		return ret;
	for (i = 0; i < n && !ret; i++) {
		if (!c[i].delta)
			continue;
		sqlite3_bind_int64(q, 1, agent);
		sqlite3_bind_int64(q, 2, (sqlite3_int64)c[i].id);
		sqlite3_bind_int64(q, 3, i64(c[i].delta));
		ret = step_done(s, q, "writing collector counters");
	}
	return release(s, ret);
}

int pt_store_health(struct pt_store *s, int64_t agent, const char *health, uint64_t now_ns)
{
	sqlite3_stmt *q = s->st[S_AGENT_HEALTH];

	sqlite3_bind_int64(q, 1, agent);
	sqlite3_bind_text(q, 2, health, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, i64(now_ns));
	return step_done(s, q, "writing health");
}

static int query_u64(struct pt_store *s, enum stmt_id id, uint64_t *out)
{
	int rc = sqlite3_step(s->st[id]);

	if (rc == SQLITE_ROW)
		*out = (uint64_t)sqlite3_column_int64(s->st[id], 0);
	sqlite3_reset(s->st[id]);
	return rc == SQLITE_ROW ? 0 : db_err(s, SQL[id]);
}

int64_t pt_store_key(char tag, const void *p, size_t n)
{
	uint8_t md[SHA256_DIGEST_LENGTH], buf[1 + PT_ARGV_MAX + PT_PATH_MAX];
	uint64_t v = 0;
	int i;

	/* values are bounded by the wire format's maxima; a longer one (a query) is cut, which
	 * can only widen what a lookup returns, and every filter is checked on the record */
	if (n > sizeof(buf) - 1)
		n = sizeof(buf) - 1;
	buf[0] = (uint8_t)tag;
	memcpy(buf + 1, p, n);
	SHA256(buf, n + 1, md);
	for (i = 0; i < 8; i++)
		v = v << 8 | md[i];
	return (int64_t)(v >> 1);
}

struct key_row {
	int64_t epoch, k, event;
};

static int cmp_key_row(const void *a, const void *b)
{
	const struct key_row *x = a, *y = b;

	if (x->epoch != y->epoch)
		return x->epoch < y->epoch ? -1 : 1;
	if (x->k != y->k)
		return x->k < y->k ? -1 : 1;
	return (x->event > y->event) - (x->event < y->event);
}

#define KEYS_PER_EVENT 5
#define KEY_CHUNK      65536u    /* events per sorted insert */

static int key_add(struct pt_store *s, struct key_row *v, size_t *n, int64_t epoch, char tag,
		   const void *p, size_t len, int64_t event)
{
	(void)s;
	v[*n].epoch = epoch;
	v[*n].k = pt_store_key(tag, p, len);
	v[*n].event = event;
	(*n)++;
	return 0;
}

/* The distinct command line of an exec, once per epoch (a small cache of the last ids seen
 * spares most of the lookups: command lines repeat). */
static int cmdline_add(struct pt_store *s, int64_t epoch, const struct pt_exec *x, int64_t *id,
		       int64_t cache[256], int64_t *cache_epoch)
{
	char cmd[PT_ARGV_MAX + 1];
	size_t n = 0, i;
	sqlite3_stmt *q = s->st[S_CMDLINE_ADD];
	int ret;

	for (i = 0; x->argv.ptr && i < x->argv.len && n < PT_ARGV_MAX; i++) {
		char c = x->argv.ptr[i];

		if (c == 0) {
			if (i + 1 == x->argv.len)
				break;
			c = ' ';
		}
		cmd[n++] = c;
	}
	*id = pt_store_key('c', cmd, n);
	if (*cache_epoch != epoch) {
		memset(cache, 0, 256 * sizeof(*cache));
		*cache_epoch = epoch;
	}
	if (cache[(uint64_t)*id & 255] == *id)
		return 0;
	cache[(uint64_t)*id & 255] = *id;
	sqlite3_bind_int64(q, 1, epoch);
	sqlite3_bind_int64(q, 2, *id);
	sqlite3_bind_text(q, 3, cmd, (int)n, SQLITE_STATIC);
	if ((ret = step_done(s, q, "writing cmdlines")) || !sqlite3_changes(s->db))
		return ret;
	q = s->st[S_CMDLINE_FTS_ADD];
	sqlite3_bind_int64(q, 1, epoch);
	sqlite3_bind_int64(q, 2, *id);
	sqlite3_bind_text(q, 3, cmd, (int)n, SQLITE_STATIC);
	return step_done(s, q, "writing cmdline_fts");
}

struct agent_row {
	int64_t epoch, agent, time_ns, event;
};

static int cmp_agent_row(const void *a, const void *b)
{
	const struct agent_row *x = a, *y = b;

	if (x->epoch != y->epoch)
		return x->epoch < y->epoch ? -1 : 1;
	if (x->agent != y->agent)
		return x->agent < y->agent ? -1 : 1;
	if (x->time_ns != y->time_ns)
		return x->time_ns < y->time_ns ? -1 : 1;
	return (x->event > y->event) - (x->event < y->event);
}

/* In place, without the temporary copy (an allocation and its page faults per fill) that
 * glibc's qsort makes for a large array: quicksort, median of three, insertion sort below
 * 16, the smaller side recursed. `type` is a type name, which cannot be parenthesised:
 * NOLINTBEGIN(bugprone-macro-parentheses) */
#define SORT_FN(name, type, cmp)                                                          \
static void name(type *v, size_t n)                                                       \
{                                                                                         \
	while (n > 16) {                                                                  \
		type p, t;                                                                \
		size_t i = 0, j = n - 1, m = n / 2;                                       \
		if (cmp(&v[m], &v[0]) < 0) { t = v[m]; v[m] = v[0]; v[0] = t; }          \
		if (cmp(&v[j], &v[0]) < 0) { t = v[j]; v[j] = v[0]; v[0] = t; }          \
		if (cmp(&v[j], &v[m]) < 0) { t = v[j]; v[j] = v[m]; v[m] = t; }          \
		p = v[m];                                                                 \
		for (;;) {                                                                \
			while (cmp(&v[i], &p) < 0) i++;                                   \
			while (cmp(&p, &v[j]) < 0) j--;                                   \
			if (i >= j) break;                                                \
			t = v[i]; v[i] = v[j]; v[j] = t;                                  \
			i++; j--;                                                         \
		}                                                                         \
		if (j + 1 < n - j - 1) { name(v, j + 1); v += j + 1; n -= j + 1; }        \
		else { name(v + j + 1, n - j - 1); n = j + 1; }                           \
	}                                                                                 \
	for (size_t i = 1; i < n; i++)                                                    \
		for (size_t k = i; k > 0 && cmp(&v[k], &v[k - 1]) < 0; k--) {             \
			type t = v[k]; v[k] = v[k - 1]; v[k - 1] = t;                     \
		}                                                                         \
}
/* NOLINTEND(bugprone-macro-parentheses) */
SORT_FN(sort_keys, struct key_row, cmp_key_row)
SORT_FN(sort_agent_rows, struct agent_row, cmp_agent_row)

/* binary_paths: the fill's execs with a hash, merged per binary into its row. */
struct path_row {
	uint8_t sha[PT_SHA256_LEN];
	int64_t event;
	uint64_t size;
	size_t off;                  /* into pt_store.path_bytes */
	uint32_t len;
};

static int cmp_path_row(const void *a, const void *b)
{
	const struct path_row *x = a, *y = b;
	int c = memcmp(x->sha, y->sha, PT_SHA256_LEN);

	if (c)
		return c;
	return (x->event < y->event) - (x->event > y->event);   /* newest first */
}
SORT_FN(sort_path_rows, struct path_row, cmp_path_row)

/* Appends path (len bytes, no NUL in it) to the list p (*n bytes) of distinct NUL-ended paths, unless
 * it is there or the list is full. */
static void paths_add(uint8_t *p, size_t *n, unsigned *count, const void *path, size_t len)
{
	size_t at = 0;

	if (*count >= PT_STORE_BIN_PATHS_MAX)
		return;
	while (at < *n) {
		size_t l = strlen((const char *)p + at);

		if (l == len && !memcmp(p + at, path, len))
			return;
		at += l + 1;
	}
	memcpy(p + *n, path, len);
	p[*n + len] = 0;
	*n += len + 1;
	(*count)++;
}

static int paths_flush(struct pt_store *s)
{
	uint8_t *list;
	sqlite3_stmt *g = s->st[S_BIN_PATHS_GET], *u = s->st[S_BIN_PATHS_PUT];
	struct path_row *v = s->path_rows;
	size_t i = 0, j, n;
	int ret = 0;

	if (!s->npath_rows)
		return 0;
	if (!(list = malloc(PT_STORE_BIN_PATHS_MAX * (PT_PATH_MAX + 1))))
		return -ENOMEM;
	sort_path_rows(v, s->npath_rows);
	while (i < s->npath_rows && !ret) {
		unsigned count = 0;
		int rc;

		n = 0;
		for (j = i; j < s->npath_rows && !memcmp(v[j].sha, v[i].sha, PT_SHA256_LEN); j++)
			paths_add(list, &n, &count, s->path_bytes.data + v[j].off, v[j].len);
		/* then the paths stored before, still newest first */
		sqlite3_bind_blob(g, 1, v[i].sha, PT_SHA256_LEN, SQLITE_STATIC);
		if ((rc = sqlite3_step(g)) == SQLITE_ROW) {
			const uint8_t *old = sqlite3_column_blob(g, 0);
			size_t olen = (size_t)sqlite3_column_bytes(g, 0), at = 0;

			while (old && at < olen) {
				const uint8_t *z = memchr(old + at, 0, olen - at);
				size_t l = z ? (size_t)(z - (old + at)) : olen - at;

				if (l <= PT_PATH_MAX)
					paths_add(list, &n, &count, old + at, l);
				at += l + 1;
			}
		} else if (rc != SQLITE_DONE) {
			ret = db_err(s, "reading binary_paths");
		}
		sqlite3_reset(g);
		sqlite3_clear_bindings(g);
		if (ret)
			break;
		sqlite3_bind_blob(u, 1, v[i].sha, PT_SHA256_LEN, SQLITE_STATIC);
		sqlite3_bind_int64(u, 2, i64(v[i].size));
		sqlite3_bind_blob(u, 3, list, (int)n, SQLITE_STATIC);
		ret = step_done(s, u, "writing binary_paths");
		i = j;
	}
	free(list);
	s->npath_rows = 0;
	pt_buf_reset(&s->path_bytes);
	return ret;
}

static int path_row_add(struct pt_store *s, int64_t id, const struct pt_exec *x)
{
	struct path_row *r;
	int ret;

	if (x->hash_status != PT_HASH_OK)
		return 0;
	if (!s->path_rows && !(s->path_rows = malloc(KEY_CHUNK * sizeof(*s->path_rows))))
		return -ENOMEM;
	if ((s->npath_rows == KEY_CHUNK ||
	     s->path_bytes.len + x->path.len > PATH_BYTES_MAX) && (ret = paths_flush(s)))
		return ret;
	r = &s->path_rows[s->npath_rows];
	memcpy(r->sha, x->sha256, PT_SHA256_LEN);
	r->event = id;
	r->size = x->size;
	r->off = s->path_bytes.len;
	r->len = x->path.ptr && !memchr(x->path.ptr, 0, x->path.len) ? x->path.len : 0;
	if (r->len && (ret = pt_buf_append(&s->path_bytes, x->path.ptr, r->len)))
		return ret;
	s->npath_rows++;
	return 0;
}

/* Sorted inserts: each B-tree is written in key order, page after page. */
static int keys_flush(struct pt_store *s, struct key_row *v, size_t n, struct agent_row *ag,
		      size_t nag)
{
	sqlite3_stmt *q = s->st[S_KEY_ADD], *a = s->st[S_AGENT_TIME_ADD];
	size_t i;
	int ret = 0;

	sort_keys(v, n);
	for (i = 0; i < n && !ret; i++) {
		if (i && !cmp_key_row(&v[i - 1], &v[i]))
			continue;
		sqlite3_bind_int64(q, 1, v[i].epoch);
		sqlite3_bind_int64(q, 2, v[i].k);
		sqlite3_bind_int64(q, 3, v[i].event);
		ret = step_done(s, q, "writing ev_key");
	}
	sort_agent_rows(ag, nag);
	for (i = 0; i < nag && !ret; i++) {
		sqlite3_bind_int64(a, 1, ag[i].epoch);
		sqlite3_bind_int64(a, 2, ag[i].agent);
		sqlite3_bind_int64(a, 3, ag[i].time_ns);
		sqlite3_bind_int64(a, 4, ag[i].event);
		ret = step_done(s, a, "writing events_by_agent");
	}
	return ret;
}

/* The keys of one event (include/proctrail/store.h, PT_STORE_KEY_*). */
static int event_keys(struct pt_store *s, int64_t id, const uint8_t *rec, size_t len,
		      struct key_row *v, size_t *n, int64_t cache[256], int64_t *cache_epoch)
{
	int64_t epoch = id >> PT_STORE_EPOCH_BITS, cmd;
	struct pt_record r;
	size_t used;
	int ret;

	if (!rec || pt_record_decode(rec, len, &r, &used, NULL) || used != len)
		return 0;      /* kept in events, found by the scans that do not use keys */
	switch (r.type) {
	case PT_REC_PROCESS_EXEC: {
		const struct pt_exec *x = &r.u.exec;

		key_add(s, v, n, epoch, 'e', x->entity_id, PT_ENTITY_ID_LEN, id);
		key_add(s, v, n, epoch, 'P', x->parent_entity_id, PT_ENTITY_ID_LEN, id);
		if (x->hash_status == PT_HASH_OK)
			key_add(s, v, n, epoch, 'h', x->sha256, PT_SHA256_LEN, id);
		key_add(s, v, n, epoch, 'x', x->path.ptr ? x->path.ptr : "", x->path.len, id);
		if ((ret = cmdline_add(s, epoch, x, &cmd, cache, cache_epoch)) ||
		    (ret = path_row_add(s, id, x)))
			return ret;
		v[*n].epoch = epoch;
		v[*n].k = cmd;
		v[*n].event = id;
		(*n)++;
		break;
	}
	case PT_REC_PROCESS_EXIT:
		key_add(s, v, n, epoch, 'e', r.u.exit.entity_id, PT_ENTITY_ID_LEN, id);
		break;
	case PT_REC_EXEC_BLOCKED:
		key_add(s, v, n, epoch, 'e', r.u.blocked.entity_id, PT_ENTITY_ID_LEN, id);
		key_add(s, v, n, epoch, 'h', r.u.blocked.sha256, PT_SHA256_LEN, id);
		key_add(s, v, n, epoch, 'x', r.u.blocked.path.ptr ? r.u.blocked.path.ptr : "",
			r.u.blocked.path.len, id);
		break;
	default:
		break;
	}
	return 0;
}

/* Fills the API's lookup tables for events (upto, to], in chunks of KEY_CHUNK events. */
static int keys_fill(struct pt_store *s, uint64_t upto, uint64_t to)
{
	struct key_row *v;
	struct agent_row *ag;
	sqlite3_stmt *q = s->st[S_KEY_ROWS];
	int64_t cache[256], cache_epoch = -1;
	size_t n = 0, nag = 0;
	int rc, ret = 0;

	if (!s->keys && !(s->keys = malloc(KEY_CHUNK * KEYS_PER_EVENT * sizeof(*s->keys))))
		return -ENOMEM;
	if (!s->agent_rows && !(s->agent_rows = malloc(KEY_CHUNK * sizeof(*s->agent_rows))))
		return -ENOMEM;
	v = s->keys;
	ag = s->agent_rows;
	sqlite3_bind_int64(q, 1, i64(upto));
	sqlite3_bind_int64(q, 2, i64(to));
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(q, 0);

		ag[nag].epoch = id >> PT_STORE_EPOCH_BITS;
		ag[nag].agent = sqlite3_column_int64(q, 1);
		ag[nag].time_ns = sqlite3_column_int64(q, 2);
		ag[nag].event = id;
		nag++;
		if ((ret = event_keys(s, id, sqlite3_column_blob(q, 3),
				      (size_t)sqlite3_column_bytes(q, 3), v, &n, cache, &cache_epoch)))
			break;
		if (nag == KEY_CHUNK) {
			if ((ret = keys_flush(s, v, n, ag, nag)))
				break;
			n = nag = 0;
		}
	}
	if (!ret && rc != SQLITE_DONE && rc != SQLITE_ROW)
		ret = db_err(s, "reading events to index");
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	if (!ret)
		ret = keys_flush(s, v, n, ag, nag);
	if (!ret)
		ret = paths_flush(s);
	s->npath_rows = 0;
	pt_buf_reset(&s->path_bytes);
	return ret;
}

/* The API's lookup tables, behind their own mark (a database from before them catches up
 * from its first event). *indexed becomes the larger of the two tables' progress, so the
 * writer goes on while either is behind. */
static int keys_index(struct pt_store *s, uint64_t max_rows, uint64_t *indexed)
{
	uint64_t upto = 0, maxid = 0, to;
	sqlite3_stmt *q;
	int ret;

	if ((ret = query_u64(s, S_KEY_UPTO, &upto)) || (ret = query_u64(s, S_INDEX_MAXID, &maxid)))
		return ret;
	if (maxid <= upto)
		return 0;
	to = maxid - upto > max_rows ? upto + max_rows : maxid;
	if ((ret = keys_fill(s, upto, to)))
		return ret;
	q = s->st[S_KEY_SET];
	sqlite3_bind_int64(q, 1, i64(to));
	if ((ret = step_done(s, q, "advancing key_indexed_upto")))
		return ret;
	if (to - upto > *indexed)
		*indexed = to - upto;
	return 0;
}

int pt_store_index(struct pt_store *s, uint64_t max_rows, uint64_t *indexed)
{
	uint64_t upto = 0, maxid = 0, to;
	sqlite3_stmt *q;
	int ret;

	*indexed = 0;
	if ((ret = query_u64(s, S_INDEX_UPTO, &upto)) || (ret = query_u64(s, S_INDEX_MAXID, &maxid)))
		return ret;
	if (maxid <= upto)
		return keys_index(s, max_rows, indexed);
	to = maxid - upto > max_rows ? upto + max_rows : maxid;
	q = s->st[S_INDEX_FILL];
	sqlite3_bind_int64(q, 1, i64(upto));
	sqlite3_bind_int64(q, 2, i64(to));
	if ((ret = step_done(s, q, "filling events_by_pid")))
		return ret;
	q = s->st[S_INDEX_SET];
	sqlite3_bind_int64(q, 1, i64(to));
	if ((ret = step_done(s, q, "advancing pid_indexed_upto")))
		return ret;
	*indexed = to - upto;
	return keys_index(s, max_rows, indexed);
}

static int sq_begin(void *s) { return pt_store_begin(s); }
static int sq_commit(void *s) { return pt_store_commit(s); }
static void sq_rollback(void *s) { pt_store_rollback(s); }
static void sq_close(void *s) { pt_store_close(s); }

static int sq_hello(void *s, const struct pt_store_hello *h, uint64_t now_ns,
		    struct pt_store_hello_result *r)
{
	return pt_store_hello(s, h, now_ns, r);
}

static int sq_batch(void *s, const struct pt_store_batch *b, uint64_t now_ns,
		    struct pt_store_batch_result *r)
{
	return pt_store_batch(s, b, now_ns, r);
}

static int sq_pong(void *s, int64_t agent, const struct pt_pong *p, uint64_t now_ns)
{
	return pt_store_pong(s, agent, p, now_ns);
}

static int sq_counters_add(void *s, int64_t agent, const struct pt_store_counter *c, size_t n)
{
	return pt_store_counters_add(s, agent, c, n);
}

static int sq_health(void *s, int64_t agent, const char *health, uint64_t now_ns)
{
	return pt_store_health(s, agent, health, now_ns);
}

static int sq_index(void *s, uint64_t max_rows, uint64_t *indexed)
{
	return pt_store_index(s, max_rows, indexed);
}

const struct pt_store_ops pt_store_sqlite_ops = {
	.name = "sqlite", .begin = sq_begin, .commit = sq_commit, .rollback = sq_rollback,
	.hello = sq_hello, .batch = sq_batch, .pong = sq_pong, .counters_add = sq_counters_add,
	.health = sq_health, .index = sq_index, .close = sq_close,
};

void pt_store_event_from_record(struct pt_store_event *ev, const struct pt_record *r)
{
	ev->type = r->type;
	ev->has_pid = ev->has_entity = ev->has_sha = ev->loss_has_range = false;
	ev->time_ns = 0;
	switch (r->type) {
	case PT_REC_PROCESS_EXEC:
		ev->time_ns = r->u.exec.time_ns;
		ev->pid = r->u.exec.pid;
		ev->has_pid = true;
		memcpy(ev->entity_id, r->u.exec.entity_id, PT_ENTITY_ID_LEN);
		ev->has_entity = true;
		if (r->u.exec.hash_status == PT_HASH_OK) {
			memcpy(ev->sha256, r->u.exec.sha256, PT_SHA256_LEN);
			ev->has_sha = true;
		}
		break;
	case PT_REC_PROCESS_EXIT:
		ev->time_ns = r->u.exit.time_ns;
		ev->pid = r->u.exit.pid;
		ev->has_pid = true;
		memcpy(ev->entity_id, r->u.exit.entity_id, PT_ENTITY_ID_LEN);
		ev->has_entity = true;
		break;
	case PT_REC_EXEC_BLOCKED:
		ev->time_ns = r->u.blocked.time_ns;
		ev->pid = r->u.blocked.pid;
		ev->has_pid = true;
		memcpy(ev->entity_id, r->u.blocked.entity_id, PT_ENTITY_ID_LEN);
		ev->has_entity = true;
		memcpy(ev->sha256, r->u.blocked.sha256, PT_SHA256_LEN);
		ev->has_sha = true;
		break;
	case PT_REC_LOSS:
		ev->time_ns = r->u.loss.time_ns;
		ev->loss_counter = r->u.loss.counter;
		ev->loss_count = r->u.loss.count;
		ev->loss_has_range = r->u.loss.has_seq_range;
		ev->loss_first = r->u.loss.first_seq;
		ev->loss_last = r->u.loss.last_seq;
		break;
	case PT_REC_AGENT_STATUS:
		ev->time_ns = r->u.status.time_ns;
		break;
	default:
		break;
	}
}
