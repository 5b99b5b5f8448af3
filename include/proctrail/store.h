/* The collector's SQLite store, and the storage interface every store keeps (struct
 * pt_store_ops below; PostgreSQL's is server/store_pg.h).
 *
 * One pt_store is used by one thread only (the server's writer thread, or a test). The caller
 * groups calls in pt_store_begin()/pt_store_commit(): a commit is durable when it returns
 * (WAL journal, synchronous=FULL: the WAL is fsync'ed before COMMIT returns), and only then may
 * the batches inside it be acknowledged. Each hello/batch/pong call runs in its own savepoint,
 * so one refused call does not undo the others in the same transaction.
 *
 * Schema (see docs/operations.md): events (one row per (agent, stream, seq), with the record's
 * wire bytes), events_by_pid (filled in bulk by pt_store_index()), binaries (by SHA-256: first/last seen, hosts), binary_agents, agents, streams,
 * gaps (unexplained), loss_ranges, agent_counters, hosts.
 *
 * Sequence numbers and stream ids are u64 on the wire and stored as their two's-complement
 * int64 image (SQLite integers are signed); readers convert back with a cast.
 */
#ifndef PROCTRAIL_STORE_H
#define PROCTRAIL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proctrail/wire.h"

struct pt_store;

/* What the session extracts from each decoded record; the store never re-decodes. */
struct pt_store_event {
	uint64_t seq, time_ns;
	uint32_t off, len;          /* the record's bytes in pt_store_batch.raw */
	uint32_t pid;
	uint16_t type;              /* pt_record_type (PT_REC_UNKNOWN for a skipped type) */
	bool has_pid, has_entity, has_sha;
	uint8_t entity_id[PT_ENTITY_ID_LEN];
	uint8_t sha256[PT_SHA256_LEN];
	/* LOSS records */
	uint16_t loss_counter;
	bool loss_has_range;
	uint64_t loss_count, loss_first, loss_last;
};

/* A rule's match on one event of a batch, evaluated before the batch reached the store. The
 * strings are the rule's (NUL-terminated), kept alive by whoever made the batch. */
struct pt_store_alert {
	uint32_t ev;                /* index in pt_store_batch.ev */
	const char *rule_id, *title, *level, *file;
};

struct pt_store_batch {
	int64_t agent;              /* from pt_store_hello() */
	int64_t host;
	uint64_t stream_id, first_seq;
	uint32_t count;
	const uint8_t *raw;         /* concatenated records */
	size_t raw_len;
	const struct pt_store_event *ev;   /* count entries, ev[i].seq == first_seq + i */
	/* Sigma matches, ev ascending: an alert row is made only for an event this batch inserts,
	 * so a resent batch (its events already stored) makes none again. */
	const struct pt_store_alert *alerts;
	uint32_t n_alerts;
};

struct pt_store_hello {
	const char *agent_name;     /* certificate CN */
	const char *hostname, *version, *address;
	const uint8_t *boot_id;     /* PT_BOOT_ID_LEN bytes */
	uint64_t stream_id, first_seq, next_seq, policy_version;
	uint8_t mode;
};

struct pt_store_hello_result {
	int64_t agent, host;
	bool has_acked;
	uint64_t acked_seq;
	bool regressed;             /* HELLO's NEXT_SEQ <= acked_seq: the stream went back */
};

struct pt_store_batch_result {
	uint32_t inserted;          /* new rows; count - inserted were duplicates */
	uint64_t high_seq;          /* highest sequence stored for the stream */
};

/* Mode of the database file (and so of its -wal and -shm): it holds every stored argv. */
#define PT_STORE_FILE_MODE 0600u

/* Opens (creating the schema) read-write. The database file is created PT_STORE_FILE_MODE, an
 * existing one (and its -wal, -shm) readable by group or others is made so (logged), and a
 * symbolic link is refused (-ELOOP). Returns 0 or -errno (-EIO for SQLite errors, logged with
 * the database path). */
int pt_store_open(struct pt_store **out, const char *path);
void pt_store_close(struct pt_store *s);

int pt_store_begin(struct pt_store *s);
int pt_store_commit(struct pt_store *s);
void pt_store_rollback(struct pt_store *s);

int pt_store_hello(struct pt_store *s, const struct pt_store_hello *h, uint64_t now_ns,
		   struct pt_store_hello_result *r);
int pt_store_batch(struct pt_store *s, const struct pt_store_batch *b, uint64_t now_ns,
		   struct pt_store_batch_result *r);
int pt_store_pong(struct pt_store *s, int64_t agent, const struct pt_pong *p, uint64_t now_ns);
/* The collector's own per-agent counters (what it throttled, refused or could not interpret),
 * kept in agent_counters beside the agent's loss counters under ids no PONG can name (an
 * agent's COUNTER id is a u16). `total` is a running sum there, not an agent's report. */
#define PT_SRV_COUNTER_BASE        0x10000u
enum pt_srv_counter {
	PT_SRV_THROTTLED = PT_SRV_COUNTER_BASE + 1,   /* reads paused by a rate limit */
	PT_SRV_PONG_FLOOD,          /* unsolicited PONGs (ignored); the last one over the bound closes */
	PT_SRV_BATCH_REFUSED,       /* BATCHes refused for size, ratio or unknown records */
	PT_SRV_FLOOD_CLOSED,        /* connections closed for staying over max-frames-per-sec */
	PT_SRV_COUNTER_END
};
/* Unknown record types, one counter per type: PT_SRV_UNKNOWN_RECORD_BASE + wire type. */
#define PT_SRV_UNKNOWN_RECORD_BASE 0x20000u
struct pt_store_counter {
	uint32_t id;
	uint64_t delta;
};
/* Adds each delta to the agent's counter (a zero delta is skipped), in one savepoint. */
int pt_store_counters_add(struct pt_store *s, int64_t agent, const struct pt_store_counter *c,
			  size_t n);
/* The name `proctrail agents --json` shows for a collector counter id, or NULL. */
const char *pt_srv_counter_name(uint32_t id);

/* health: "ok", "stale", "disconnected". */
int pt_store_health(struct pt_store *s, int64_t agent, const char *health, uint64_t now_ns);

/* Moves up to max_rows events (in id order) into the events_by_pid lookup table, sorted, in
 * the caller's transaction; *indexed says how many ids were covered. */
#define PT_STORE_INDEX_EVERY 262144u
int pt_store_index(struct pt_store *s, uint64_t max_rows, uint64_t *indexed);

/* Alert rows this store made since it was opened (pt_store_batch.alerts). */
uint64_t pt_store_alerts(const struct pt_store *s);
/* The API's lookup tables (ev_key, events_by_agent, cmdlines) are filled by pt_store_index()
 * too, up to meta.key_indexed_upto. Their rows lead with the event's epoch. */
#define PT_STORE_EPOCH_BITS 18
/* binary_paths.paths holds at most this many paths (a binary's page shows as many). */
#define PT_STORE_BIN_PATHS_MAX 16u

/* 63 bits of SHA-256(tag || p[0..n)): ev_key.k and cmdlines.id. Tags: 'e' entity id, 'P'
 * parent entity id (of an exec), 'h' SHA-256 of the file, 'x' executable path, 'c' command
 * line (args joined by single spaces). */
int64_t pt_store_key(char tag, const void *p, size_t n);

/* A storage backend as the collector's writer sees it: the calls above, over an opaque
 * handle. The contract every backend keeps, whatever its database:
 * - one handle is used by one thread; begin/commit/rollback bracket a group of calls;
 * - commit returns 0 only when everything since begin is durable (it survives a crash of the
 *   collector and of the database host): only then are the group's batches acknowledged;
 * - each hello/batch/pong/counters_add call is all or nothing inside the group (a failed one
 *   leaves the others), and a failed commit keeps nothing;
 * - a batch stores each (agent, stream, seq) once, whatever was sent before (inserted counts
 *   only the new ones), records unexplained gaps and removes what a resend or a LOSS range
 *   explains, and keeps each record's wire bytes so readers decode them with lib/wire;
 * - index (the lookup tables filled behind the writer) may be NULL;
 * - a batch's alerts (made by the session's rules) are stored only by a backend that has
 *   the alerts table: SQLite. The collector refuses --rules on any other.
 * SQLite (this file's functions) is pt_store_sqlite_ops; PostgreSQL is server/store_pg.h. */
struct pt_store_ops {
	const char *name;
	int (*begin)(void *s);
	int (*commit)(void *s);
	void (*rollback)(void *s);
	int (*hello)(void *s, const struct pt_store_hello *h, uint64_t now_ns,
		     struct pt_store_hello_result *r);
	int (*batch)(void *s, const struct pt_store_batch *b, uint64_t now_ns,
		     struct pt_store_batch_result *r);
	int (*pong)(void *s, int64_t agent, const struct pt_pong *p, uint64_t now_ns);
	int (*counters_add)(void *s, int64_t agent, const struct pt_store_counter *c, size_t n);
	int (*health)(void *s, int64_t agent, const char *health, uint64_t now_ns);
	int (*index)(void *s, uint64_t max_rows, uint64_t *indexed);
	void (*close)(void *s);
};
extern const struct pt_store_ops pt_store_sqlite_ops;

/* postgresql://... or postgres://...: what --db (collector and CLI) selects PostgreSQL with;
 * anything else is a SQLite file. */
static inline bool pt_store_is_pg_url(const char *url)
{
	return !strncmp(url, "postgresql://", 13) || !strncmp(url, "postgres://", 11);
}

/* Fills the fields of ev from a decoded record (shared by the session and tests). */
void pt_store_event_from_record(struct pt_store_event *ev, const struct pt_record *r);

#endif
