/* /api/v1/events, /api/v1/events/{id}: stored events, newest first, by the best lookup table
 * for the filters given (PostgreSQL: the events table's own columns), every filter then
 * checked on the decoded record (docs/api.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "api-int.h"
#include "proctrail/ecs.h"
#include "proctrail/store.h"

#define COLS "e.id, e.time_ns, e.record, e.stream_id, e.seq, a.name, h.name"
/* CROSS JOIN: SQLite's order, events first (PostgreSQL has no CROSS JOIN ... ON) */
#define JOINS " CROSS JOIN agents a ON a.id = e.agent LEFT JOIN hosts h ON h.id = e.host"
#define JOINS_ANY " JOIN agents a ON a.id = e.agent LEFT JOIN hosts h ON h.id = e.host"
/* PostgreSQL reads events in queries of this many rows at most: a scan that ends early (the
 * limit reached) leaves at most that many unread rows to drain, and each query is one more
 * read of the partitions (no index), so a whole examination budget is 20 of them. */
#define PG_CHUNK 10000u

int api_record(struct pt_q *st, int col, struct pt_record *r)
{
	size_t len, used;
	const uint8_t *rec = pt_q_blob(st, col, &len);

	if (!rec || pt_record_decode(rec, len, r, &used, NULL) || used != len)
		return -EBADMSG;
	return 0;
}

int api_event_json(struct pt_q *st, int col, const struct pt_api_filter *f, struct pt_buf *out)
{
	const char *agent = pt_q_text(st, col + 5, NULL);
	const char *host = pt_q_text(st, col + 6, NULL);
	struct pt_record r;
	struct pt_api_row row;
	struct pt_ecs_context ctx;

	if (api_record(st, col + 2, &r) || r.type == PT_REC_UNKNOWN)
		return -EBADMSG;
	row = (struct pt_api_row){
		.id = (uint64_t)pt_q_i64(st, col),
		.time_ns = (uint64_t)pt_q_i64(st, col + 1),
		.r = &r, .agent = agent, .host = host,
	};
	if (f && !pt_api_filter_match(f, &row))
		return 1;
	ctx = (struct pt_ecs_context){
		.agent_id = agent, .agent_name = agent, .host_name = host,
		.stream_id = (uint64_t)pt_q_i64(st, col + 3),
		.sequence = (uint64_t)pt_q_i64(st, col + 4), .has_sequence = true,
		.event_id = row.id, .has_event_id = true,
	};
	return pt_ecs_format(&r, &ctx, out);
}

/* Where the candidates of a query come from. tail: the source is a table filled behind the
 * writer up to `upto`; rows above it are read from events itself first. */
struct source {
	const char *sql;
	bool tail, epochs;        /* epochs: the table is read one epoch at a time, newest first */
	const char *upto_key;     /* meta key of the table's fill mark */
	int64_t key;
	char pg_sql[1024];        /* PostgreSQL's one query */
};

/* PostgreSQL has no lookup table: the events table's columns narrow the rows (every filter
 * they hold, all of them exact for the decoded record's values), newest first, at most the
 * examination budget; the rest (executable, command line, ...) is checked on the record. */
static void pick_source_pg(const struct pt_api_filter *f, struct source *s)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->pg_sql, sizeof(s->pg_sql), "SELECT " COLS " FROM events e" JOINS_ANY
		 " WHERE e.id < ?2%s%s%s%s%s%s ORDER BY e.id DESC LIMIT ?12",
		 (f->set & PT_F_ENTITY) ? " AND e.entity_id = ?10" : "",
		 (f->set & PT_F_SHA256) ? " AND e.sha256 = ?11" : "",
		 (f->set & PT_F_AGENT) ? " AND a.name = ?5" : "",
		 (f->set & PT_F_PID) ? " AND e.pid = ?8" : "",
		 (f->set & PT_F_FROM) ? " AND e.time_ns >= ?6" : "",
		 (f->set & PT_F_TO) ? " AND e.time_ns <= ?7" : "");
	s->sql = s->pg_sql;
}

static void pick_source(const struct pt_api_filter *f, struct source *s)
{
	memset(s, 0, sizeof(*s));
	s->tail = true;
	s->upto_key = "key_indexed_upto";
	if (f->set & PT_F_ENTITY) {
		s->key = pt_store_key('e', f->entity, PT_ENTITY_ID_LEN);
	} else if (f->set & PT_F_SHA256) {
		s->key = pt_store_key('h', f->sha, PT_SHA256_LEN);
	} else if (f->set & PT_F_EXE) {
		s->key = pt_store_key('x', f->exe, strlen(f->exe));
	} else if (f->set & PT_F_CMDLINE) {
		s->sql = "SELECT " COLS " FROM ev_key k CROSS JOIN events e ON e.id = k.event" JOINS
			 " WHERE k.epoch = ?9 AND k.k IN (SELECT id FROM cmdlines WHERE epoch = ?9"
			 " AND instr(text, ?4) > 0) AND k.event < ?2 ORDER BY k.event DESC";
		s->epochs = true;
	} else if (f->set & PT_F_AGENT) {
		s->sql = "SELECT " COLS " FROM events_by_agent b CROSS JOIN events e ON e.id = b.event"
			 JOINS " WHERE b.epoch = ?9 AND b.agent = (SELECT id FROM agents WHERE name = ?5)"
			 " AND b.time_ns >= ?6 AND b.time_ns <= ?7 AND b.event < ?2"
			 " ORDER BY b.event DESC";
		s->epochs = true;
	} else if (f->set & PT_F_PID) {
		s->sql = "SELECT " COLS " FROM events_by_pid p CROSS JOIN events e ON e.id = p.event"
			 JOINS " WHERE p.pid = ?8 AND p.event < ?2 ORDER BY p.event DESC";
		s->upto_key = "pid_indexed_upto";
	} else if (f->set & (PT_F_FROM | PT_F_TO)) {
		s->sql = "SELECT " COLS " FROM events e" JOINS " WHERE e.time_ns >= ?6"
			 " AND e.time_ns <= ?7 AND e.id < ?2 ORDER BY e.id DESC";
		s->tail = false;
	} else {
		s->sql = "SELECT " COLS " FROM events e" JOINS " WHERE e.id < ?2 ORDER BY e.id DESC";
		s->tail = false;
	}
	if (!s->sql) {
		s->sql = "SELECT " COLS " FROM ev_key k CROSS JOIN events e ON e.id = k.event" JOINS
			 " WHERE k.epoch = ?9 AND k.k = ?3 AND k.event < ?2 ORDER BY k.event DESC";
		s->epochs = true;
	}
}

static int meta_u64(struct pt_api *a, const char *key, uint64_t *v)
{
	struct pt_q *st;
	int rc;

	*v = 0;
	if (!(st = pt_q_prepare(a->q, "SELECT CAST(value AS BIGINT) FROM meta WHERE key = ?")))
		return -EIO;
	pt_q_bind_text(st, 1, key);
	rc = pt_q_step(st);
	if (rc == 1)
		*v = (uint64_t)pt_q_i64(st, 0);
	pt_q_finalize(st);
	return rc >= 0 ? 0 : -EIO;
}

struct scan {
	const struct pt_api_filter *f;
	struct pt_buf *out;
	unsigned found, examined;
	uint64_t last_emitted, last_examined;
	bool full, budget;
	int err;
};

/* Steps st, appending matches; stops at the limit or the examination budget. */
static void scan_run(struct pt_api *a, struct pt_q *st, struct scan *sc)
{
	int rc = 0;

	while (!sc->full && !sc->budget && (rc = pt_q_step(st)) == 1) {
		size_t mark = sc->out->len;
		int r;

		sc->last_examined = (uint64_t)pt_q_i64(st, 0);
		sc->examined++;
		if (sc->found && pt_buf_append(sc->out, ",", 1)) {
			sc->err = -EMSGSIZE;
			return;
		}
		r = api_event_json(st, 0, sc->f, sc->out);
		if (r) {
			sc->out->len = mark;     /* filtered out or not decodable */
			if (r == -EMSGSIZE || r == -ENOMEM) {
				sc->err = r;
				return;
			}
		} else {
			sc->found++;
			sc->last_emitted = sc->last_examined;
			sc->full = sc->found >= sc->f->limit;
		}
		sc->budget = sc->examined >= API_SCAN_MAX;
	}
	if (!sc->full && !sc->budget && rc != 0) {
		log_warnx("API events: %s", pt_qdb_errmsg(a->q));
		sc->err = -EIO;
	}
}

static int bind_run(struct pt_api *a, const char *sql, const struct pt_api_filter *f,
		    const struct source *src, uint64_t lo, uint64_t hi, int64_t epoch, struct scan *sc)
{
	struct pt_q *st;

	/* streamed: a PostgreSQL scan holds one row at a time, not the budget's worth */
	if (!(st = pt_q_prepare_stream(a->q, sql))) {
		log_warnx("API events: %s", pt_qdb_errmsg(a->q));
		return -EIO;
	}
	/* every statement takes the same numbered parameters, whichever it names */
	pt_q_bind_i64(st, 1, (int64_t)lo);
	pt_q_bind_i64(st, 2, (int64_t)hi);
	pt_q_bind_i64(st, 3, src->key);
	pt_q_bind_textn(st, 4, f->cmdline, f->cmdline_len);
	pt_q_bind_text(st, 5, f->agent);
	pt_q_bind_i64(st, 6, (f->set & PT_F_FROM) ? (int64_t)f->from_ns : 0);
	pt_q_bind_i64(st, 7, (f->set & PT_F_TO) ? (int64_t)f->to_ns : INT64_MAX);
	pt_q_bind_i64(st, 8, f->pid);
	pt_q_bind_i64(st, 9, epoch);
	pt_q_bind_blob(st, 10, (f->set & PT_F_ENTITY) ? f->entity : NULL, PT_ENTITY_ID_LEN);
	pt_q_bind_blob(st, 11, (f->set & PT_F_SHA256) ? f->sha : NULL, PT_SHA256_LEN);
	pt_q_bind_i64(st, 12, API_SCAN_MAX - sc->examined < PG_CHUNK ?
			  (int64_t)(API_SCAN_MAX - sc->examined) : (int64_t)PG_CHUNK);
	scan_run(a, st, sc);
	pt_q_finalize(st);
	return sc->err;
}

#define FTS_IDS_MAX 1024u   /* command lines of one epoch looked up by id; more: that epoch scans */

/* Runs the events of the epoch's matching command lines (ids, a JSON array), or the scan of
 * the epoch's cmdlines when there were too many of them to list. */
static int cmdline_epoch_run(struct pt_api *a, const struct pt_api_filter *f,
			     const struct source *src, uint64_t hi, int64_t ep, struct pt_buf *ids,
			     bool overflow, struct scan *sc)
{
	static const char BY_ID[] = "SELECT " COLS " FROM ev_key k CROSS JOIN events e"
				    " ON e.id = k.event" JOINS " WHERE k.epoch = ?9 AND k.k IN"
				    " (SELECT value FROM json_each(?4)) AND k.event < ?2"
				    " ORDER BY k.event DESC";
	struct pt_api_filter g;

	if (overflow)
		return bind_run(a, src->sql, f, src, 0, hi, ep, sc);
	if (pt_buf_append(ids, "]", 1))
		return -ENOMEM;
	g = *f;          /* ?4 carries the ids, the record is still checked with f */
	g.cmdline = (const char *)ids->data;
	g.cmdline_len = ids->len;
	return bind_run(a, BY_ID, &g, src, 0, hi, ep, sc);
}

/* Epochs top..bottom (bottom >= the first one the index covers) by the FTS index, newest
 * first: one query over the index, its rows grouped by epoch (rowid order is epoch order). */
static int cmdline_fts_run(struct pt_api *a, const struct pt_api_filter *f,
			   const struct source *src, uint64_t hi, int64_t top, int64_t bottom,
			   struct scan *sc)
{
	sqlite3_stmt *st = NULL;
	struct pt_buf q, ids;
	int64_t cur = -1;
	unsigned n = 0;
	bool overflow = false;
	int rc = SQLITE_DONE, ret = 0;

	pt_buf_init(&q, 2 * PT_API_VALUE_MAX + 2);
	pt_buf_init(&ids, FTS_IDS_MAX * 24 + 8);
	/* one FTS5 string: the substring between double quotes, each quote doubled */
	ret = pt_buf_append(&q, "\"", 1);
	for (size_t i = 0; !ret && i < f->cmdline_len; i++)
		ret = pt_buf_append(&q, f->cmdline[i] == '"' ? "\"\"" : &f->cmdline[i],
				    f->cmdline[i] == '"' ? 2 : 1);
	if (ret || (ret = pt_buf_append(&q, "\"", 1)))
		goto out;
	if (sqlite3_prepare_v2(a->db, "SELECT epoch, k FROM cmdline_fts WHERE cmdline_fts MATCH ?1"
			       " ORDER BY rowid DESC", -1, &st, NULL) != SQLITE_OK) {
		log_warnx("API events: %s", sqlite3_errmsg(a->db));
		ret = -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, (const char *)q.data, (int)q.len, SQLITE_STATIC);
	while (!sc->full && !sc->budget && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t ep = sqlite3_column_int64(st, 0);

		if (ep > top)
			continue;
		if (ep != cur) {
			if (cur >= 0 && (ret = cmdline_epoch_run(a, f, src, hi, cur, &ids, overflow, sc)))
				goto out;
			cur = -1;
			if (ep < bottom || sc->full || sc->budget)
				break;
			cur = ep;
			n = 0;
			overflow = false;
			pt_buf_reset(&ids);
		}
		if (overflow)
			continue;
		if (n++ == FTS_IDS_MAX) {
			overflow = true;
			continue;
		}
		if ((ret = pt_buf_printf(&ids, "%c%lld", n == 1 ? '[' : ',',
					 (long long)sqlite3_column_int64(st, 1))))
			goto out;
	}
	if (cur >= 0 && !sc->full && !sc->budget)
		ret = cmdline_epoch_run(a, f, src, hi, cur, &ids, overflow, sc);
	else if (!sc->full && !sc->budget && rc != SQLITE_DONE && rc != SQLITE_ROW) {
		log_warnx("API events: %s", sqlite3_errmsg(a->db));
		ret = -EIO;
	}
out:
	sqlite3_finalize(st);
	pt_buf_free(&q);
	pt_buf_free(&ids);
	return ret;
}

void api_events(struct pt_api *a, struct evhttp_request *req)
{
	static const char TAIL[] = "SELECT " COLS " FROM events e" JOINS
				   " WHERE e.id > ?1 AND e.id < ?2 ORDER BY e.id DESC";
	struct evkeyvalq q;
	struct pt_api_filter f;
	struct source src;
	struct scan sc = { 0 };
	uint64_t hi, upto = 0, fts_from = 0;
	char cur[PT_API_CURSOR_MAX];
	int ret;

	if (api_query(req, &q, PT_API_P_EVENTS, &f))
		goto out;
	if (a->pg)
		pick_source_pg(&f, &src);
	else
		pick_source(&f, &src);
	hi = f.cursor ? f.cursor : (uint64_t)INT64_MAX;
	pt_buf_reset(&a->out);
	sc.f = &f;
	sc.out = &a->out;
	if ((ret = api_begin(a)) || (src.tail && (ret = meta_u64(a, src.upto_key, &upto))))
		goto fail;
	if (pt_buf_append_str(&a->out, "{\"events\":[")) {
		ret = -EMSGSIZE;
		goto fail;
	}
	/* committed but not yet in the lookup table: read from events itself, newest first */
	if (src.tail && hi > upto + 1 && (ret = bind_run(a, TAIL, &f, &src, upto, hi, 0, &sc)))
		goto fail;
	if (src.tail && hi > upto + 1)
		hi = upto + 1;
	if (!src.epochs) {
		unsigned before;

		do {    /* once on SQLite; chunk by chunk on PostgreSQL */
			before = sc.examined;
			if (!sc.full && !sc.budget &&
			    (ret = bind_run(a, src.sql, &f, &src, 0, hi, 0, &sc)))
				goto fail;
			hi = sc.last_examined;
		} while (a->pg && !sc.full && !sc.budget && sc.examined - before == PG_CHUNK);
	} else if (hi > 1) {
		int64_t ep = (int64_t)((hi - 1) >> PT_STORE_EPOCH_BITS);

		if (pt_api_cmdline_indexed(&f)) {
			/* the index has every epoch above the one its mark falls in */
			if ((ret = meta_u64(a, "cmdline_fts_from", &fts_from)))
				goto fail;
			int64_t fts_bottom =
				fts_from ? (int64_t)(fts_from >> PT_STORE_EPOCH_BITS) + 1 : 0;
			if (fts_bottom <= ep) {
				if ((ret = cmdline_fts_run(a, &f, &src, hi, ep, fts_bottom, &sc)))
					goto fail;
				ep = fts_bottom - 1;
			}
		}
		for (; ep >= 0 && !sc.full && !sc.budget; ep--)
			if ((ret = bind_run(a, src.sql, &f, &src, 0, hi, ep, &sc)))
				goto fail;
	}
	api_end(a);
	if (sc.full || sc.budget)
		pt_api_cursor_events(sc.full ? sc.last_emitted : sc.last_examined, cur);
	if (pt_buf_printf(&a->out, "],\"next_cursor\":%s%s%s}\n", (sc.full || sc.budget) ? "\"" : "",
			  (sc.full || sc.budget) ? cur : "null", (sc.full || sc.budget) ? "\"" : "")) {
		ret = -EMSGSIZE;
		goto fail;
	}
	api_reply(req, 200, &a->out);
	goto out;
fail:
	api_end(a);
	api_error(req, ret == -EMSGSIZE ? 413 : 500,
		  ret == -EMSGSIZE ? "answer too large: lower limit" : "database error");
out:
	evhttp_clear_headers(&q);
}

void api_event_one(struct pt_api *a, struct evhttp_request *req, const char *id)
{
	struct pt_q *st = NULL;
	struct evkeyvalq q;
	struct pt_api_filter f;
	int rc;

	if (api_query(req, &q, PT_API_P_NONE, &f))
		goto out;
	pt_buf_reset(&a->out);
	pt_qdb_check(a->q);
	if (!(st = pt_q_prepare(a->q, "SELECT " COLS " FROM events e" JOINS_ANY
				" WHERE e.id = ?"))) {
		api_error(req, 500, "database error");
		goto out;
	}
	pt_q_bind_i64(st, 1, strtoll(id, NULL, 10));
	rc = pt_q_step(st);
	if (rc == 0) {
		api_error(req, 404, "no such event");
	} else if (rc != 1 || api_event_json(st, 0, NULL, &a->out) ||
		   pt_buf_append(&a->out, "\n", 1)) {
		api_error(req, 500, "event not readable");
	} else {
		api_reply(req, 200, &a->out);
	}
out:
	pt_q_finalize(st);
	evhttp_clear_headers(&q);
}

/* PostgreSQL's side of api_key_rows: the entity id and SHA-256 are columns of events; any
 * other key (a parent entity) is found by scanning the execs with tail_match. */
static int key_rows_pg(struct pt_api *a, char tag, const void *v, size_t len, int64_t agent,
		       bool (*tail_match)(const struct pt_record *r, const void *arg),
		       const void *arg, unsigned max, int (*fn)(struct pt_q *st, void *arg2),
		       void *arg2)
{
	char sql[512];
	struct pt_q *st;
	struct pt_record r;
	unsigned n = 0;
	int rc = 0, ret = 0;

	/* an exact column: at most max rows, so none is left to drain when max is reached */
	snprintf(sql, sizeof(sql), "SELECT " COLS ", e.agent FROM events e" JOINS_ANY
		 " WHERE %s AND (?2 = 0 OR e.agent = ?2) ORDER BY e.id DESC%s",
		 tag == 'e' ? "e.entity_id = ?1" : tag == 'h' ? "e.sha256 = ?1" : "e.type = ?3",
		 tag == 'e' || tag == 'h' ? " LIMIT ?4" : "");
	/* streamed (fn runs no query of its own): one row held, however many the scan reads */
	if (!(st = pt_q_prepare_stream(a->q, sql)))
		return -EIO;
	pt_q_bind_blob(st, 1, v, len);
	pt_q_bind_i64(st, 2, agent);
	pt_q_bind_i64(st, 3, PT_REC_PROCESS_EXEC);
	pt_q_bind_i64(st, 4, max);
	while (n < max && (rc = pt_q_step(st)) == 1) {
		if (tag != 'e' && tag != 'h' && (api_record(st, 2, &r) || !tail_match(&r, arg)))
			continue;
		n++;
		if (fn(st, arg2))
			goto out;
	}
	if (rc < 0)
		ret = -EIO;
out:
	pt_q_finalize(st);
	return ret;
}

int api_key_rows(struct pt_api *a, char tag, const void *v, size_t len, int64_t agent,
		 bool (*tail_match)(const struct pt_record *r, const void *arg), const void *arg,
		 unsigned max, int (*fn)(struct pt_q *st, void *arg2), void *arg2)
{
	static const char TAIL[] = "SELECT " COLS ", e.agent FROM events e" JOINS
				   " WHERE e.id > ?1 AND (?2 = 0 OR +e.agent = ?2) ORDER BY e.id DESC";
	static const char KEY[] = "SELECT " COLS ", e.agent FROM ev_key k CROSS JOIN events e"
				  " ON e.id = k.event" JOINS " WHERE k.epoch = ?1 AND k.k = ?2"
				  " AND (?3 = 0 OR e.agent = ?3) ORDER BY k.event DESC";
	int64_t k = pt_store_key(tag, v, len), ep;
	struct pt_q *st = NULL;
	uint64_t upto = 0, maxid = 0;
	unsigned n = 0;
	int rc = 0, ret = 0;

	if (a->pg)
		return key_rows_pg(a, tag, v, len, agent, tail_match, arg, max, fn, arg2);
	if (meta_u64(a, "key_indexed_upto", &upto))
		return -EIO;
	if (!(st = pt_q_prepare(a->q, TAIL)))
		return -EIO;
	pt_q_bind_i64(st, 1, (int64_t)upto);
	pt_q_bind_i64(st, 2, agent);
	/* the tail is bounded by how far the fill lags (PT_STORE_INDEX_EVERY, a few times) */
	while (n < max && (rc = pt_q_step(st)) == 1) {
		struct pt_record r;

		if (api_record(st, 2, &r) || !tail_match(&r, arg))
			continue;
		n++;
		if (fn(st, arg2))
			goto out;
	}
	/* a failed step is not the end of the rows: the answer would look complete */
	if (rc < 0) {
		ret = -EIO;
		goto out;
	}
	pt_q_finalize(st);
	if (!(st = pt_q_prepare(a->q, "SELECT coalesce(max(id), 0) FROM events")) ||
	    pt_q_step(st) != 1) {
		ret = -EIO;
		goto out;
	}
	maxid = (uint64_t)pt_q_i64(st, 0);
	pt_q_finalize(st);
	if (upto > maxid)
		upto = maxid;
	if (!(st = pt_q_prepare(a->q, KEY))) {
		ret = -EIO;
		goto out;
	}
	for (ep = (int64_t)(upto >> PT_STORE_EPOCH_BITS); upto && ep >= 0 && n < max; ep--) {
		pt_q_reset(st);
		pt_q_bind_i64(st, 1, ep);
		pt_q_bind_i64(st, 2, k);
		pt_q_bind_i64(st, 3, agent);
		while (n < max && (rc = pt_q_step(st)) == 1) {
			n++;
			if (fn(st, arg2))
				goto out;
		}
		if (rc < 0) {
			ret = -EIO;
			goto out;
		}
	}
out:
	pt_q_finalize(st);
	return ret;
}
