/* PostgreSQL store of the collector (libpq): schema, time partitions and their retention,
 * batch insert by binary COPY with dedup by (agent, stream, seq), gaps, loss counters.
 * One thread per handle, like the SQLite store. docs/operations.md describes the schema. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>

#include <libpq-fe.h>

#include "proctrail/buf.h"
#include "proctrail/clock.h"
#include "proctrail/log.h"
#include "proctrail/store.h"
#include "store_pg.h"

#define DAY_NS (86400ull * 1000000000ull)

/* Names sort bytewise (COLLATE "C"), as in SQLite, so listings come out in the same order.
 * Every table leads its key with the agent, the column Citus would distribute by; the small
 * hosts, agents and meta tables would be reference tables. events is partitioned by the day
 * the collector stored the row (its own clock: an agent's event time is the agent's to set, and
 * a hostile or skewed clock must not create partitions or escape retention). A unique index
 * on a partitioned table must hold the partition key, so it could not dedup across days:
 * streams.high_seq and gaps do, as in the SQLite store (every sequence at or below high_seq
 * is stored or in a gap; only a gap's sequences are new), under the stream row's lock. events
 * has no index at all: a (agent, stream_id, seq, stored_ns) key cost 23 % more PostgreSQL CPU
 * per event (docs/benchmarks.md), and nothing on the write path reads it. */
static const char SCHEMA[] =
	"SET client_min_messages = warning;"
	"CREATE TABLE IF NOT EXISTS meta(key text PRIMARY KEY, value text);"
	"INSERT INTO meta VALUES('schema_version', '1') ON CONFLICT DO NOTHING;"
	"CREATE TABLE IF NOT EXISTS hosts(id bigserial PRIMARY KEY,"
	"  name text COLLATE \"C\" NOT NULL UNIQUE);"
	"CREATE TABLE IF NOT EXISTS agents("
	"  id bigserial PRIMARY KEY, name text COLLATE \"C\" NOT NULL UNIQUE, hostname text,"
	"  version text,"
	"  address text, boot_id bytea, mode integer, stream_id bigint, last_seq bigint,"
	"  policy_version bigint, first_seen_ns bigint, last_seen_ns bigint,"
	"  last_pong_ns bigint, health text, connected integer DEFAULT 0,"
	"  queue_depth bigint, spool_bytes bigint, agent_next_seq bigint,"
	"  agent_acked_seq bigint, events bigint DEFAULT 0, duplicates bigint DEFAULT 0);"
	"CREATE TABLE IF NOT EXISTS streams(agent bigint NOT NULL, stream_id bigint NOT NULL,"
	"  high_seq bigint NOT NULL, first_seen_ns bigint, PRIMARY KEY(agent, stream_id));"
	"CREATE TABLE IF NOT EXISTS gaps(agent bigint NOT NULL, stream_id bigint NOT NULL,"
	"  first_seq bigint NOT NULL, last_seq bigint NOT NULL, detected_ns bigint,"
	"  PRIMARY KEY(agent, stream_id, first_seq));"
	"CREATE TABLE IF NOT EXISTS loss_ranges(agent bigint NOT NULL, stream_id bigint NOT NULL,"
	"  first_seq bigint NOT NULL, last_seq bigint NOT NULL, counter integer NOT NULL,"
	"  PRIMARY KEY(agent, stream_id, first_seq, last_seq, counter));"
	"CREATE TABLE IF NOT EXISTS agent_counters(agent bigint NOT NULL, counter bigint NOT NULL,"
	"  total bigint NOT NULL DEFAULT 0, reported bigint NOT NULL DEFAULT 0,"
	"  PRIMARY KEY(agent, counter));"
	"CREATE TABLE IF NOT EXISTS regressions(agent bigint NOT NULL, stream_id bigint NOT NULL,"
	"  agent_next_seq bigint NOT NULL, stored_high bigint NOT NULL, detected_ns bigint NOT NULL,"
	"  PRIMARY KEY(agent, stream_id, detected_ns));"
	/* what `proctrail agents --json` joins; filled once policies run on PostgreSQL */
	"CREATE TABLE IF NOT EXISTS agent_policy(agent text PRIMARY KEY, version bigint,"
	"  since_ns bigint, result_version bigint, result_code bigint, result_message text);"
	"CREATE SEQUENCE IF NOT EXISTS events_id_seq;"
	"CREATE TABLE IF NOT EXISTS events(id bigint NOT NULL DEFAULT nextval('events_id_seq'),"
	"  agent bigint NOT NULL, stream_id bigint NOT NULL, seq bigint NOT NULL,"
	"  type integer NOT NULL, time_ns bigint, pid bigint, entity_id bytea, sha256 bytea,"
	"  host bigint, stored_ns bigint NOT NULL, record bytea NOT NULL)"
	"  PARTITION BY RANGE (stored_ns);"
	/* The binaries the API lists (server/api_binaries.c), under the names of the SQLite
	 * store's tables so its queries are written once: views over the execs with a hash
	 * (type 1, PT_REC_PROCESS_EXEC), nothing on the write path, an aggregate per request.
	 * binary_paths is empty: a binary's paths come from its newest execs. */
	"CREATE OR REPLACE VIEW binary_agent_stats AS SELECT sha256, agent,"
	"  min(time_ns) AS first_seen_ns, max(time_ns) AS last_seen_ns, count(*) AS execs"
	"  FROM events WHERE type = 1 AND sha256 IS NOT NULL GROUP BY sha256, agent;"
	"CREATE OR REPLACE VIEW binaries AS SELECT sha256, min(first_seen_ns) AS first_seen_ns,"
	"  max(last_seen_ns) AS last_seen_ns, count(*) AS hosts,"
	"  CAST(sum(execs) AS bigint) AS execs FROM binary_agent_stats GROUP BY sha256;"
	"CREATE OR REPLACE VIEW binary_paths AS SELECT CAST(NULL AS bytea) AS sha256,"
	"  CAST(NULL AS bigint) AS size, CAST(NULL AS bytea) AS paths WHERE false;";

struct pt_store_pg {
	PGconn *db;
	char where[256];              /* the URL without its password, for logs */
	unsigned retention_days;
	int64_t ensured_day;          /* partitions exist up to this day (days since 1970) */
	struct pt_buf copy;           /* one batch's COPY data, kept between batches */
};

static int pg_err(struct pt_store_pg *s, const char *what, const PGresult *r)
{
	const char *msg = r ? PQresultErrorMessage(r) : PQerrorMessage(s->db);

	log_warnx("%s: %s: %.*s", s->where, what, (int)strcspn(msg, "\n"), msg);
	return -EIO;
}

/* Runs SQL with text parameters; wants `want` (PGRES_COMMAND_OK or PGRES_TUPLES_OK). The
 * result is returned in *out when out is not NULL (the caller clears it). */
static int run(struct pt_store_pg *s, const char *sql, int n, const char *const *v,
	       const int *len, const int *fmt, ExecStatusType want, PGresult **out)
{
	PGresult *r = n ? PQexecParams(s->db, sql, n, NULL, v, len, fmt, 0) : PQexec(s->db, sql);
	int ret = 0;

	if (PQresultStatus(r) != want)
		ret = pg_err(s, sql, r);
	if (out && !ret)
		*out = r;
	else
		PQclear(r);
	return ret;
}

static int cmd(struct pt_store_pg *s, const char *sql)
{
	return run(s, sql, 0, NULL, NULL, NULL, PGRES_COMMAND_OK, NULL);
}

/* Text parameters: u64 values as their two's-complement int64 image, like SQLite's. */
struct params {
	char num[12][24];
	const char *v[12];
	int len[12], fmt[12], n;
};

static void p_i64(struct params *p, int64_t v)
{
	snprintf(p->num[p->n], sizeof(p->num[0]), "%" PRId64, v);
	p->v[p->n] = p->num[p->n];
	p->len[p->n] = 0;
	p->fmt[p->n++] = 0;
}

static void p_u64(struct params *p, uint64_t v)
{
	p_i64(p, (int64_t)v);
}

static void p_str(struct params *p, const char *v)
{
	p->v[p->n] = v;
	p->len[p->n] = 0;
	p->fmt[p->n++] = 0;
}

static void p_bin(struct params *p, const void *v, int len)
{
	p->v[p->n] = v;
	p->len[p->n] = len;
	p->fmt[p->n++] = 1;
}

static int prun(struct pt_store_pg *s, const char *sql, const struct params *p, ExecStatusType want,
		PGresult **out)
{
	return run(s, sql, p->n, p->v, p->len, p->fmt, want, out);
}

static int pexec(struct pt_store_pg *s, const char *sql, const struct params *p)
{
	return prun(s, sql, p, PGRES_COMMAND_OK, NULL);
}

static uint64_t col_u64(const PGresult *r, int row, int col)
{
	return (uint64_t)strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static void day_name(char *out, size_t cap, int64_t day)
{
	time_t t = (time_t)(day * 86400);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, cap, "events_%04d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

/* Today's and tomorrow's partitions (tomorrow's made a day ahead, so midnight never waits on
 * DDL), and the days older than the retention dropped whole: no row-by-row DELETE. Runs in
 * its own transaction, before a group. */
static int partitions(struct pt_store_pg *s, uint64_t now_ns)
{
	int64_t today = (int64_t)(now_ns / DAY_NS), d;
	PGresult *r = NULL;
	char sql[512], name[32];
	int ret = 0, i;

	if (today + 1 <= s->ensured_day)
		return 0;
	for (d = today; d <= today + 1 && !ret; d++) {
		day_name(name, sizeof(name), d);
		snprintf(sql, sizeof(sql), "CREATE TABLE IF NOT EXISTS %s PARTITION OF events"
			 " FOR VALUES FROM (%" PRId64 ") TO (%" PRId64 ")", name,
			 (int64_t)(d * (int64_t)DAY_NS), (int64_t)((d + 1) * (int64_t)DAY_NS));
		ret = cmd(s, sql);
	}
	if (!ret && s->retention_days &&
	    !(ret = run(s, "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
			" WHERE i.inhparent = 'events'::regclass ORDER BY 1", 0, NULL, NULL, NULL,
			PGRES_TUPLES_OK, &r))) {
		day_name(name, sizeof(name), today - (int64_t)s->retention_days);
		/* events_YYYYMMDD sorts like its day: older than the oldest day kept goes */
		for (i = 0; i < PQntuples(r) && !ret; i++) {
			const char *rel = PQgetvalue(r, i, 0);

			if (strlen(rel) != strlen(name) || strncmp(rel, "events_", 7) ||
			    strcmp(rel, name) >= 0)
				continue;
			snprintf(sql, sizeof(sql), "DROP TABLE %s", rel);
			if (!(ret = cmd(s, sql)))
				log_info("%s: retention of %u days: partition %s dropped", s->where,
					 s->retention_days, rel);
		}
		PQclear(r);
	}
	if (!ret)
		s->ensured_day = today + 1;
	return ret;
}

static void quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;    /* NOTICEs (IF NOT EXISTS ...) are not the log's business */
}

void pt_store_pg_close(struct pt_store_pg *s)
{
	if (!s)
		return;
	PQfinish(s->db);
	pt_buf_free(&s->copy);
	free(s);
}

/* The URL for logs: scheme, then host and what follows, never the user's password. */
static void redact(char *out, size_t cap, const char *url)
{
	const char *at = strchr(url, '@'), *rest = strstr(url, "://");

	rest = rest ? rest + 3 : url;
	if (at && at > rest)
		snprintf(out, cap, "%.*s...@%s", (int)(rest - url), url, at + 1);
	else
		snprintf(out, cap, "%s", url);
}

int pt_store_pg_open(struct pt_store_pg **out, const char *url, unsigned retention_days)
{
	struct pt_store_pg *s = calloc(1, sizeof(*s));
	PGresult *r = NULL;
	int ret = -EIO;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	redact(s->where, sizeof(s->where), url);
	s->retention_days = retention_days;
	pt_buf_init(&s->copy, 256u << 20);
	s->db = PQconnectdb(url);
	if (!s->db || PQstatus(s->db) != CONNECTION_OK) {
		ret = s->db ? pg_err(s, "connect", NULL) : -ENOMEM;
		goto out;
	}
	PQsetNoticeProcessor(s->db, quiet, NULL);
	/* An ACK promises the batch survives a crash: COMMIT must wait for the WAL flush
	 * whatever the server's default, and a server without fsync cannot keep that promise. */
	if ((ret = cmd(s, "SET synchronous_commit = on")) || (ret = cmd(s, SCHEMA)) ||
	    (ret = run(s, "SHOW fsync", 0, NULL, NULL, NULL, PGRES_TUPLES_OK, &r)))
		goto out;
	if (strcmp(PQgetvalue(r, 0, 0), "on"))
		log_warnx("%s: the server runs with fsync=%s: acknowledged batches are not durable",
			  s->where, PQgetvalue(r, 0, 0));
	ret = partitions(s, pt_real_ns());
out:
	PQclear(r);
	if (ret)
		pt_store_pg_close(s);
	else
		*out = s;
	return ret;
}

static int pg_begin(void *arg)
{
	struct pt_store_pg *s = arg;
	int ret;

	/* a lost connection is retried here, once per group: its jobs fail, the agents resend */
	if (PQstatus(s->db) != CONNECTION_OK) {
		PQreset(s->db);
		if (PQstatus(s->db) != CONNECTION_OK)
			return pg_err(s, "reconnect", NULL);
		if ((ret = cmd(s, "SET synchronous_commit = on")))
			return ret;
	}
	/* the day's DDL in a transaction of its own, only when the day changed */
	if (pt_real_ns() / DAY_NS + 1 > (uint64_t)s->ensured_day &&
	    ((ret = cmd(s, "BEGIN")) || (ret = partitions(s, pt_real_ns())) ||
	     (ret = cmd(s, "COMMIT"))))
		return ret;
	return cmd(s, "BEGIN");
}

static int pg_commit(void *arg)
{
	return cmd(arg, "COMMIT");
}

static void pg_rollback(void *arg)
{
	struct pt_store_pg *s = arg;

	if (PQtransactionStatus(s->db) != PQTRANS_IDLE)
		cmd(s, "ROLLBACK");
}

/* Each call in its own savepoint, as in SQLite: one refused call keeps the others. */
static int release(struct pt_store_pg *s, int ret)
{
	if (ret) {
		cmd(s, "ROLLBACK TO SAVEPOINT c");
		cmd(s, "RELEASE SAVEPOINT c");
		return ret;
	}
	return cmd(s, "RELEASE SAVEPOINT c");
}

/* Removes [a, b] from the stream's gaps, splitting a gap that straddles it. */
static int gaps_subtract(struct pt_store_pg *s, int64_t agent, uint64_t stream, uint64_t a,
			 uint64_t b, uint64_t now_ns)
{
	struct params p = { .n = 0 };
	PGresult *r = NULL;
	int ret, i;

	p_i64(&p, agent);
	p_u64(&p, stream);
	p_u64(&p, b);
	p_u64(&p, a);
	if ((ret = prun(s, "DELETE FROM gaps WHERE agent=$1 AND stream_id=$2 AND first_seq<=$3"
			" AND last_seq>=$4 RETURNING first_seq, last_seq, detected_ns", &p,
			PGRES_TUPLES_OK, &r)))
		return ret;
	for (i = 0; i < PQntuples(r) && !ret; i++) {
		uint64_t f = col_u64(r, i, 0), l = col_u64(r, i, 1), t = col_u64(r, i, 2);
		struct params g = { .n = 0 };

		p_i64(&g, agent);
		p_u64(&g, stream);
		if (f < a) {
			p_u64(&g, f);
			p_u64(&g, a - 1);
		}
		if (l > b) {
			p_u64(&g, b + 1);
			p_u64(&g, l);
		}
		p_u64(&g, t ? t : now_ns);
		if (g.n == 5)
			ret = pexec(s, "INSERT INTO gaps VALUES($1,$2,$3,$4,$5)", &g);
		else if (g.n == 7)
			ret = pexec(s, "INSERT INTO gaps VALUES($1,$2,$3,$4,$7),($1,$2,$5,$6,$7)", &g);
	}
	PQclear(r);
	return ret;
}

/* Records [a, b] as unexplained, minus whatever LOSS ranges already cover. */
static int gap_add(struct pt_store_pg *s, int64_t agent, uint64_t stream, uint64_t a, uint64_t b,
		   uint64_t now_ns)
{
	struct params p = { .n = 0 };
	PGresult *r = NULL;
	int ret, i;

	p_i64(&p, agent);
	p_u64(&p, stream);
	p_u64(&p, a);
	p_u64(&p, b);
	p_u64(&p, now_ns);
	if ((ret = pexec(s, "INSERT INTO gaps VALUES($1,$2,$3,$4,$5) ON CONFLICT(agent, stream_id,"
			 " first_seq) DO UPDATE SET last_seq=excluded.last_seq,"
			 " detected_ns=excluded.detected_ns", &p)))
		return ret;
	p.n = 4;
	p.v[2] = p.num[3];    /* first_seq <= b AND last_seq >= a */
	p.v[3] = p.num[2];
	if ((ret = prun(s, "SELECT first_seq, last_seq FROM loss_ranges WHERE agent=$1"
			" AND stream_id=$2 AND first_seq<=$3 AND last_seq>=$4", &p, PGRES_TUPLES_OK,
			&r)))
		return ret;
	for (i = 0; i < PQntuples(r) && !ret; i++)
		ret = gaps_subtract(s, agent, stream, col_u64(r, i, 0), col_u64(r, i, 1), now_ns);
	PQclear(r);
	return ret;
}

static int stream_put(struct pt_store_pg *s, int64_t agent, uint64_t stream, uint64_t high,
		      uint64_t now_ns)
{
	struct params p = { .n = 0 };

	p_i64(&p, agent);
	p_u64(&p, stream);
	p_u64(&p, high);
	p_u64(&p, now_ns);
	return pexec(s, "INSERT INTO streams VALUES($1,$2,$3,$4) ON CONFLICT(agent, stream_id)"
		     " DO UPDATE SET high_seq=excluded.high_seq", &p);
}

/* The stream's row, locked for the transaction: a second collector writing the same stream
 * waits instead of deciding the same records are new. */
static int stream_get(struct pt_store_pg *s, int64_t agent, uint64_t stream, bool *found,
		      uint64_t *high)
{
	struct params p = { .n = 0 };
	PGresult *r = NULL;
	int ret;

	p_i64(&p, agent);
	p_u64(&p, stream);
	if ((ret = prun(s, "SELECT high_seq FROM streams WHERE agent=$1 AND stream_id=$2"
			" FOR UPDATE", &p, PGRES_TUPLES_OK, &r)))
		return ret;
	*found = PQntuples(r) > 0;
	*high = *found ? col_u64(r, 0, 0) : 0;
	PQclear(r);
	return 0;
}

static int id_of(struct pt_store_pg *s, const char *sql, const struct params *p, int64_t *id)
{
	PGresult *r = NULL;
	int ret = prun(s, sql, p, PGRES_TUPLES_OK, &r);

	if (!ret && PQntuples(r) != 1)
		ret = pg_err(s, "no id returned", NULL);
	if (!ret)
		*id = (int64_t)col_u64(r, 0, 0);
	PQclear(r);
	return ret;
}

static int pg_hello(void *arg, const struct pt_store_hello *h, uint64_t now_ns,
		    struct pt_store_hello_result *r)
{
	struct pt_store_pg *s = arg;
	struct params p = { .n = 0 }, q = { .n = 0 };
	uint64_t high = 0;
	bool found;
	int ret;

	memset(r, 0, sizeof(*r));
	if ((ret = cmd(s, "SAVEPOINT c")))
		return ret;
	p_str(&p, h->agent_name);
	p_str(&p, h->hostname);
	p_str(&p, h->version);
	p_str(&p, h->address);
	p_bin(&p, h->boot_id, PT_BOOT_ID_LEN);
	p_i64(&p, h->mode);
	p_u64(&p, h->stream_id);
	p_u64(&p, h->policy_version);
	p_u64(&p, now_ns);
	p_u64(&p, h->next_seq);
	p_str(&q, h->hostname);
	if ((ret = id_of(s, "INSERT INTO agents(name, hostname, version, address, boot_id, mode,"
			 " stream_id, policy_version, first_seen_ns, last_seen_ns, health,"
			 " connected, agent_next_seq) VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$9,'ok',1,$10)"
			 " ON CONFLICT(name) DO UPDATE SET hostname=excluded.hostname,"
			 " version=excluded.version, address=excluded.address,"
			 " boot_id=excluded.boot_id, mode=excluded.mode,"
			 " stream_id=excluded.stream_id, policy_version=excluded.policy_version,"
			 " last_seen_ns=excluded.last_seen_ns, health='ok', connected=1,"
			 " agent_next_seq=excluded.agent_next_seq RETURNING id", &p, &r->agent)) ||
	    (ret = id_of(s, "WITH n AS (INSERT INTO hosts(name) VALUES($1) ON CONFLICT DO NOTHING"
			 " RETURNING id) SELECT id FROM n UNION ALL"
			 " SELECT id FROM hosts WHERE name=$1", &q, &r->host)) ||
	    (ret = stream_get(s, r->agent, h->stream_id, &found, &high)))
		goto out;
	if (h->first_seq > high + 1) {
		if ((ret = gap_add(s, r->agent, h->stream_id, high + 1, h->first_seq - 1, now_ns)))
			goto out;
		high = h->first_seq - 1;
		found = true;
		if ((ret = stream_put(s, r->agent, h->stream_id, high, now_ns)))
			goto out;
	}
	if (found && h->next_seq <= high) {
		struct params g = { .n = 0 };

		p_i64(&g, r->agent);
		p_u64(&g, h->stream_id);
		p_u64(&g, h->next_seq);
		p_u64(&g, high);
		p_u64(&g, now_ns);
		if ((ret = pexec(s, "INSERT INTO regressions VALUES($1,$2,$3,$4,$5)"
				 " ON CONFLICT DO NOTHING", &g)))
			goto out;
		r->regressed = true;
	}
	r->has_acked = found;
	r->acked_seq = high;
out:
	return release(s, ret);
}

#define FRESH_WORDS ((PT_BATCH_RECORDS_MAX + 63) / 64)

static bool is_fresh(const uint64_t *fresh, uint32_t i)
{
	return fresh[i / 64] >> (i % 64) & 1;
}

/* Which of the batch's records are new: above the stream's high-water mark, or inside one of
 * its gaps (a resend filling what was missing). The rest were stored before, maybe in an
 * older partition. */
static int fresh_set(struct pt_store_pg *s, const struct pt_store_batch *b, uint64_t high,
		     uint64_t fresh[FRESH_WORDS], uint32_t *n)
{
	uint64_t last = b->first_seq + b->count - 1, f, l, q;
	struct params p = { .n = 0 };
	PGresult *r = NULL;
	uint32_t i;
	int ret, g;

	*n = 0;
	for (i = 0; i < b->count; i++)
		if (b->first_seq + i > high) {
			fresh[i / 64] |= 1ull << (i % 64);
			(*n)++;
		}
	if (b->first_seq > high)
		return 0;
	p_i64(&p, b->agent);
	p_u64(&p, b->stream_id);
	p_u64(&p, last < high ? last : high);
	p_u64(&p, b->first_seq);
	if ((ret = prun(s, "SELECT first_seq, last_seq FROM gaps WHERE agent=$1 AND stream_id=$2"
			" AND first_seq<=$3 AND last_seq>=$4", &p, PGRES_TUPLES_OK, &r)))
		return ret;
	for (g = 0; g < PQntuples(r); g++) {
		f = col_u64(r, g, 0);
		l = col_u64(r, g, 1);
		for (q = f > b->first_seq ? f : b->first_seq; q <= l && q <= last && q <= high; q++) {
			i = (uint32_t)(q - b->first_seq);
			if (!is_fresh(fresh, i)) {
				fresh[i / 64] |= 1ull << (i % 64);
				(*n)++;
			}
		}
	}
	PQclear(r);
	return 0;
}

/* Binary COPY: 16-bit field count, then per field a 32-bit length (-1: NULL) and the value,
 * all big-endian (PostgreSQL's COPY BINARY format). The buffer is reserved for the whole
 * batch first (ROW_MAX per row beside the record), so these appends cannot fail. */
#define ROW_MAX (2 + 11 * 4 + 7 * 8 + 4 + PT_ENTITY_ID_LEN + PT_SHA256_LEN)
static void cp_u16(struct pt_buf *c, uint16_t v)
{
	v = htons(v);
	(void)pt_buf_append(c, &v, 2);
}

static void cp_u32(struct pt_buf *c, uint32_t v)
{
	v = htonl(v);
	(void)pt_buf_append(c, &v, 4);
}

static void cp_i64(struct pt_buf *c, int64_t v)
{
	cp_u32(c, 8);
	cp_u32(c, (uint32_t)((uint64_t)v >> 32));
	cp_u32(c, (uint32_t)v);
}

static void cp_bytes(struct pt_buf *c, bool has, const void *p, uint32_t len)
{
	if (!has) {
		cp_u32(c, UINT32_MAX);
		return;
	}
	cp_u32(c, len);
	(void)pt_buf_append(c, p, len);
}

static int copy_events(struct pt_store_pg *s, const struct pt_store_batch *b,
		       const uint64_t fresh[FRESH_WORDS], uint64_t now_ns)
{
	static const char HDR[19] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";
	struct pt_buf *c = &s->copy;
	PGresult *r;
	size_t need = sizeof(HDR) + 2;
	uint32_t i;
	int ret = 0;

	for (i = 0; i < b->count; i++)
		need += is_fresh(fresh, i) ? ROW_MAX + b->ev[i].len : 0;
	pt_buf_reset(c);
	if ((ret = pt_buf_reserve(c, need)))
		return ret;
	(void)pt_buf_append(c, HDR, sizeof(HDR));
	for (i = 0; i < b->count; i++) {
		const struct pt_store_event *e = &b->ev[i];

		if (!is_fresh(fresh, i))
			continue;
		cp_u16(c, 11);
		cp_i64(c, b->agent);
		cp_i64(c, (int64_t)b->stream_id);
		cp_i64(c, (int64_t)e->seq);
		cp_u32(c, 4);
		cp_u32(c, e->type);
		cp_i64(c, (int64_t)e->time_ns);
		if (e->has_pid)
			cp_i64(c, e->pid);
		else
			cp_u32(c, UINT32_MAX);
		cp_bytes(c, e->has_entity, e->entity_id, PT_ENTITY_ID_LEN);
		cp_bytes(c, e->has_sha, e->sha256, PT_SHA256_LEN);
		cp_i64(c, b->host);
		cp_i64(c, (int64_t)now_ns);
		cp_bytes(c, true, b->raw + e->off, e->len);
	}
	cp_u16(c, UINT16_MAX);
	r = PQexec(s->db, "COPY events(agent, stream_id, seq, type, time_ns, pid, entity_id,"
		   " sha256, host, stored_ns, record) FROM STDIN (FORMAT binary)");
	if (PQresultStatus(r) != PGRES_COPY_IN) {
		ret = pg_err(s, "COPY", r);
		PQclear(r);
		return ret;
	}
	PQclear(r);
	if (PQputCopyData(s->db, (const char *)c->data, (int)c->len) != 1 ||
	    PQputCopyEnd(s->db, NULL) != 1)
		ret = pg_err(s, "COPY data", NULL);
	while ((r = PQgetResult(s->db))) {
		if (!ret && PQresultStatus(r) != PGRES_COMMAND_OK)
			ret = pg_err(s, "COPY", r);
		PQclear(r);
	}
	return ret;
}

/* A resent LOSS record (already stored) must not add its count again. */
static int loss_record(struct pt_store_pg *s, const struct pt_store_batch *b,
		       const struct pt_store_event *e, bool fresh, uint64_t now_ns)
{
	struct params p = { .n = 0 }, l = { .n = 0 };
	int ret;

	p_i64(&p, b->agent);
	p_i64(&p, e->loss_counter);
	p_u64(&p, e->loss_count);
	if (fresh && (ret = pexec(s, "INSERT INTO agent_counters(agent, counter, reported)"
				  " VALUES($1,$2,$3) ON CONFLICT(agent, counter) DO UPDATE SET"
				  " reported=agent_counters.reported+excluded.reported", &p)))
		return ret;
	if (!e->loss_has_range || e->loss_first > e->loss_last)
		return 0;
	p_i64(&l, b->agent);
	p_u64(&l, b->stream_id);
	p_u64(&l, e->loss_first);
	p_u64(&l, e->loss_last);
	p_i64(&l, e->loss_counter);
	if ((ret = pexec(s, "INSERT INTO loss_ranges VALUES($1,$2,$3,$4,$5) ON CONFLICT DO NOTHING",
			 &l)))
		return ret;
	return gaps_subtract(s, b->agent, b->stream_id, e->loss_first, e->loss_last, now_ns);
}

static int pg_batch(void *arg, const struct pt_store_batch *b, uint64_t now_ns,
		    struct pt_store_batch_result *r)
{
	struct pt_store_pg *s = arg;
	uint64_t high = 0, last, fresh[FRESH_WORDS] = { 0 };
	struct params p = { .n = 0 };
	uint32_t i;
	bool found;
	int ret;

	memset(r, 0, sizeof(*r));
	if (b->count == 0 || b->count > PT_BATCH_RECORDS_MAX || b->first_seq == 0 ||
	    b->first_seq > UINT64_MAX - b->count)
		return -EINVAL;
	last = b->first_seq + b->count - 1;
	if ((ret = cmd(s, "SAVEPOINT c")))
		return ret;
	if ((ret = stream_get(s, b->agent, b->stream_id, &found, &high)) ||
	    (ret = fresh_set(s, b, high, fresh, &r->inserted)) ||
	    (r->inserted && (ret = copy_events(s, b, fresh, now_ns))))
		goto out;
	if (b->first_seq > high + 1)
		ret = gap_add(s, b->agent, b->stream_id, high + 1, b->first_seq - 1, now_ns);
	else if (b->first_seq <= high)
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
		    (ret = loss_record(s, b, &b->ev[i], is_fresh(fresh, i), now_ns)))
			goto out;
	p_i64(&p, b->agent);
	p_u64(&p, b->stream_id);
	p_u64(&p, high);
	p_u64(&p, now_ns);
	p_i64(&p, r->inserted);
	p_i64(&p, b->count - r->inserted);
	ret = pexec(s, "UPDATE agents SET stream_id=$2, last_seq=$3, last_seen_ns=$4,"
		    " events=events+$5, duplicates=duplicates+$6 WHERE id=$1", &p);
	r->high_seq = high;
out:
	return release(s, ret);
}

static int pg_pong(void *arg, int64_t agent, const struct pt_pong *pg, uint64_t now_ns)
{
	struct pt_store_pg *s = arg;
	struct params p = { .n = 0 };
	uint32_t i;
	int ret;

	if ((ret = cmd(s, "SAVEPOINT c")))
		return ret;
	p_i64(&p, agent);
	p_u64(&p, now_ns);
	p_u64(&p, pg->queue_depth);
	p_u64(&p, pg->spool_bytes);
	p_u64(&p, pg->next_seq);
	p_u64(&p, pg->acked_seq);
	if ((ret = pexec(s, "UPDATE agents SET last_pong_ns=$2, last_seen_ns=$2, health='ok',"
			 " connected=1, queue_depth=$3, spool_bytes=$4, agent_next_seq=$5,"
			 " agent_acked_seq=$6 WHERE id=$1", &p)))
		goto out;
	for (i = 0; i < pg->n_counters && i < PT_COUNTERS_MAX && !ret; i++) {
		struct params c = { .n = 0 };

		p_i64(&c, agent);
		p_i64(&c, pg->counters[i].id);
		p_u64(&c, pg->counters[i].value);
		ret = pexec(s, "INSERT INTO agent_counters(agent, counter, total) VALUES($1,$2,$3)"
			    " ON CONFLICT(agent, counter) DO UPDATE SET total=excluded.total", &c);
	}
out:
	return release(s, ret);
}

static int pg_counters_add(void *arg, int64_t agent, const struct pt_store_counter *c, size_t n)
{
	struct pt_store_pg *s = arg;
	size_t i;
	int ret;

	if ((ret = cmd(s, "SAVEPOINT c")))
		return ret;
	for (i = 0; i < n && !ret; i++) {
		struct params p = { .n = 0 };

		if (!c[i].delta)
			continue;
		p_i64(&p, agent);
		p_i64(&p, c[i].id);
		p_u64(&p, c[i].delta);
		ret = pexec(s, "INSERT INTO agent_counters(agent, counter, total) VALUES($1,$2,$3)"
			    " ON CONFLICT(agent, counter) DO UPDATE SET"
			    " total=agent_counters.total+excluded.total", &p);
	}
	return release(s, ret);
}

static int pg_health(void *arg, int64_t agent, const char *health, uint64_t now_ns)
{
	struct params p = { .n = 0 };

	p_i64(&p, agent);
	p_str(&p, health);
	p_u64(&p, now_ns);
	return pexec(arg, "UPDATE agents SET health=$2, connected=($2<>'disconnected')::int,"
		     " last_seen_ns=greatest(coalesce(last_seen_ns,0), $3) WHERE id=$1", &p);
}

static void pg_close(void *arg)
{
	pt_store_pg_close(arg);
}

const struct pt_store_ops pt_store_pg_ops = {
	.name = "postgresql",
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.hello = pg_hello,
	.batch = pg_batch,
	.pong = pg_pong,
	.counters_add = pg_counters_add,
	.health = pg_health,
	.index = NULL,
	.close = pg_close,
};
