/* /api/v1/binaries and /api/v1/binaries/{sha256}: prevalence by SHA-256, fewest hosts first
 * (docs/api.md). Paths and size come from binary_paths (kept by the lookup-table fill) and the
 * execs committed after its mark; a binary without a row there, from its newest execs.
 * PostgreSQL: the store's views over events (docs/operations.md) under the same names. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "api-int.h"
#include "proctrail/hex.h"
#include "proctrail/store.h"

#define PATHS_MAX      PT_STORE_BIN_PATHS_MAX
#define PATH_EVENTS    32      /* newest execs read for paths and size */
#define BIN_AGENTS_MAX 10000

#define BIN_COLS "b.sha256, b.first_seen_ns, b.last_seen_ns, b.hosts, b.execs, p.size," \
		 " p.paths, p.sha256 IS NOT NULL FROM binaries b" \
		 " LEFT JOIN binary_paths p ON p.sha256 = b.sha256"

struct paths {
	size_t off[PATHS_MAX];      /* into store, which may move as it grows */
	size_t len[PATHS_MAX];
	unsigned n;
	uint64_t size;
	bool has_size;
	struct pt_buf store;
};

static bool sha_match(const struct pt_record *r, const void *arg)
{
	return r->type == PT_REC_PROCESS_EXEC && r->u.exec.hash_status == PT_HASH_OK &&
	       !memcmp(r->u.exec.sha256, arg, PT_SHA256_LEN);
}

/* Adds a path unless listed or the list is full. */
static int paths_push(struct paths *p, const void *path, size_t len)
{
	unsigned i;

	for (i = 0; i < p->n; i++)
		if (p->len[i] == len && !memcmp(p->store.data + p->off[i], path, len))
			return 0;
	if (p->n == PATHS_MAX)
		return 0;
	p->off[p->n] = p->store.len;
	if (pt_buf_append(&p->store, path, len))
		return -EMSGSIZE;
	p->len[p->n++] = len;
	return 0;
}

static int path_row(struct pt_q *st, void *arg)
{
	struct paths *p = arg;
	struct pt_record r;

	if (api_record(st, 2, &r) || r.type != PT_REC_PROCESS_EXEC)
		return 0;
	if (!p->has_size) {
		p->size = r.u.exec.size;
		p->has_size = true;
	}
	return r.u.exec.path.ptr && paths_push(p, r.u.exec.path.ptr, r.u.exec.path.len) ? 1 : 0;
}

/* The binary's execs above the fill mark (newest first), then its stored paths and size. */
static int stored_paths(struct pt_api *a, const uint8_t *sha, struct pt_q *st, int col,
			struct paths *p)
{
	size_t olen, at = 0;
	const uint8_t *old = pt_q_blob(st, col + 1, &olen);
	struct pt_q *t;
	int rc, ret = 0;

	if (!(t = pt_q_prepare(a->q, "SELECT id, time_ns, record FROM events WHERE id > (SELECT"
			       " CAST(value AS BIGINT) FROM meta WHERE key = 'key_indexed_upto')"
			       " AND sha256 = ?1 ORDER BY id DESC LIMIT ?2")))
		return -EIO;
	pt_q_bind_blob(t, 1, sha, PT_SHA256_LEN);
	pt_q_bind_i64(t, 2, PATH_EVENTS);
	while ((rc = pt_q_step(t)) == 1) {
		struct pt_record r;

		if (api_record(t, 2, &r) || !sha_match(&r, sha))
			continue;
		if (path_row(t, p))
			break;
	}
	if (rc < 0)
		ret = -EIO;
	pt_q_finalize(t);
	if (!p->has_size && !pt_q_null(st, col)) {
		p->size = (uint64_t)pt_q_i64(st, col);
		p->has_size = true;
	}
	while (!ret && old && at < olen && p->n < PATHS_MAX) {
		const uint8_t *z = memchr(old + at, 0, olen - at);
		size_t l = z ? (size_t)(z - (old + at)) : olen - at;

		ret = paths_push(p, old + at, l);
		at += l + 1;
	}
	return ret;
}

/* {"sha256","paths","size","first_seen","last_seen","hosts","execs" (without the brace).
 * st: sha256, first_seen_ns, last_seen_ns, hosts, execs, then binary_paths' size and paths
 * and whether it has a row. */
static int binary_fields(struct pt_api *a, struct pt_json *j, struct pt_q *st)
{
	size_t shalen;
	const uint8_t *sha = pt_q_blob(st, 0, &shalen);
	struct paths p = { 0 };
	unsigned i;
	int ret;

	if (!sha || shalen != PT_SHA256_LEN)
		return -EBADMSG;
	pt_buf_init(&p.store, PATHS_MAX * (PT_PATH_MAX + 1));
	if (pt_q_i64(st, 7))
		ret = stored_paths(a, sha, st, 5, &p);
	else
		ret = api_key_rows(a, 'h', sha, PT_SHA256_LEN, 0, sha_match, sha, PATH_EVENTS,
				   path_row, &p);
	pt_json_khex(j, "sha256", sha, PT_SHA256_LEN);
	pt_json_open(j, "paths", '[');
	for (i = 0; i < p.n; i++)
		pt_json_elem_str(j, (const char *)p.store.data + p.off[i], p.len[i]);
	pt_json_close(j, ']');
	if (p.has_size)
		pt_json_ku64(j, "size", p.size);
	else
		pt_json_key(j, "size"), pt_json_raw(j, "null");
	pt_json_ktime(j, "first_seen", (uint64_t)pt_q_i64(st, 1));
	pt_json_ktime(j, "last_seen", (uint64_t)pt_q_i64(st, 2));
	pt_json_ku64(j, "hosts", (uint64_t)pt_q_i64(st, 3));
	pt_json_ku64(j, "execs", (uint64_t)pt_q_i64(st, 4));
	pt_buf_free(&p.store);
	return ret;
}

void api_binaries(struct pt_api *a, struct evhttp_request *req)
{
	struct pt_q *st = NULL;
	struct pt_json j = { .out = &a->out };
	struct evkeyvalq q;
	struct pt_api_filter f;
	uint64_t last_hosts = 0, last_first = 0;
	uint8_t last_sha[PT_SHA256_LEN];
	char cur[PT_API_CURSOR_MAX];
	unsigned n = 0;
	int rc;

	if (api_query(req, &q, PT_API_P_BINARIES, &f))
		goto out;
	pt_buf_reset(&a->out);
	/* whole result: each row's paths are a query of their own */
	if (api_begin(a) ||
	    !(st = pt_q_prepare(a->q,
			       "SELECT " BIN_COLS " WHERE (?1 < 0 OR b.hosts <= ?1)"
			       " AND b.first_seen_ns >= ?2 AND (?3 IS NULL OR b.sha256 = ?3)"
			       " AND (?4 < 0 OR b.hosts > ?4 OR (b.hosts = ?4 AND (b.first_seen_ns < ?5"
			       " OR (b.first_seen_ns = ?5 AND b.sha256 > ?6))))"
			       " ORDER BY b.hosts ASC, b.first_seen_ns DESC, b.sha256 ASC LIMIT ?7"))) {
		api_error(req, 500, "database error");
		goto out;
	}
	pt_q_bind_i64(st, 1, (f.set & PT_F_MAX_HOSTS) ? (int64_t)f.max_hosts : -1);
	pt_q_bind_i64(st, 2, (f.set & PT_F_SINCE) ? (int64_t)f.since_ns : INT64_MIN);
	pt_q_bind_blob(st, 3, (f.set & PT_F_SHA256) ? f.sha : NULL, PT_SHA256_LEN);
	pt_q_bind_i64(st, 4, (f.set & PT_F_CURSOR) ? (int64_t)f.cur_hosts : -1);
	pt_q_bind_i64(st, 5, (int64_t)f.cur_first);
	pt_q_bind_blob(st, 6, f.cur_sha, PT_SHA256_LEN);
	pt_q_bind_i64(st, 7, f.limit);
	pt_json_raw(&j, "{");
	pt_json_open(&j, "binaries", '[');
	while ((rc = pt_q_step(st)) == 1) {
		pt_json_open(&j, NULL, '{');
		if (binary_fields(a, &j, st)) {
			rc = -1;
			break;
		}
		pt_json_close(&j, '}');
		last_hosts = (uint64_t)pt_q_i64(st, 3);
		last_first = (uint64_t)pt_q_i64(st, 1);
		memcpy(last_sha, pt_q_blob(st, 0, NULL), PT_SHA256_LEN);
		n++;
	}
	pt_json_close(&j, ']');
	if (n == f.limit) {
		pt_api_cursor_binaries(last_hosts, last_first, last_sha, cur);
		pt_json_kcstr(&j, "next_cursor", cur);
	} else {
		pt_json_key(&j, "next_cursor");
		pt_json_raw(&j, "null");
	}
	pt_json_raw(&j, "}\n");
	if (rc != 0 || j.err)
		api_error(req, j.err ? 413 : 500, j.err ? "answer too large: lower limit" : "database error");
	else
		api_reply(req, 200, &a->out);
out:
	pt_q_finalize(st);
	evhttp_clear_headers(&q);
}

void api_binary_one(struct pt_api *a, struct evhttp_request *req, const char *hex)
{
	struct pt_q *st = NULL, *g = NULL;
	struct pt_json j = { .out = &a->out };
	struct evkeyvalq q;
	struct pt_api_filter f;
	uint8_t sha[PT_SHA256_LEN];
	unsigned n = 0;
	int rc;

	if (api_query(req, &q, PT_API_P_NONE, &f))
		goto out;
	if (pt_hex_decode(hex, strlen(hex), sha, sizeof(sha))) {
		api_error(req, 400, "sha256: 64 hex digits");
		goto out;
	}
	pt_buf_reset(&a->out);
	if (api_begin(a) ||
	    !(st = pt_q_prepare(a->q, "SELECT " BIN_COLS " WHERE b.sha256 = ?")) ||
	    !(g = pt_q_prepare(a->q, "SELECT a.name, a.hostname, s.first_seen_ns, s.last_seen_ns,"
				      " s.execs FROM binary_agent_stats s JOIN agents a ON a.id = s.agent"
				      " WHERE s.sha256 = ? ORDER BY s.first_seen_ns, a.name LIMIT ?"))) {
		api_error(req, 500, "database error");
		goto out;
	}
	pt_q_bind_blob(st, 1, sha, PT_SHA256_LEN);
	rc = pt_q_step(st);
	if (rc == 0) {
		api_error(req, 404, "no such binary");
		goto out;
	}
	pt_json_raw(&j, "{");
	if (rc != 1 || binary_fields(a, &j, st)) {
		api_error(req, 500, "database error");
		goto out;
	}
	pt_q_bind_blob(g, 1, sha, PT_SHA256_LEN);
	pt_q_bind_i64(g, 2, BIN_AGENTS_MAX + 1);
	pt_json_open(&j, "agents", '[');
	while ((rc = pt_q_step(g)) == 1 && n < BIN_AGENTS_MAX) {
		const char *name = pt_q_text(g, 0, NULL);
		const char *host = pt_q_text(g, 1, NULL);

		pt_json_open(&j, NULL, '{');
		pt_json_kcstr(&j, "agent", name ? name : "");
		pt_json_kcstr(&j, "host", host ? host : "");
		pt_json_ktime(&j, "first_seen", (uint64_t)pt_q_i64(g, 2));
		pt_json_ktime(&j, "last_seen", (uint64_t)pt_q_i64(g, 3));
		pt_json_ku64(&j, "execs", (uint64_t)pt_q_i64(g, 4));
		pt_json_close(&j, '}');
		n++;
	}
	pt_json_close(&j, ']');
	pt_json_kbool(&j, "truncated", rc == 1);
	pt_json_raw(&j, "}\n");
	if (rc < 0 || j.err)
		api_error(req, j.err ? 413 : 500, j.err ? "answer too large" : "database error");
	else
		api_reply(req, 200, &a->out);
out:
	pt_q_finalize(st);
	pt_q_finalize(g);
	evhttp_clear_headers(&q);
}
