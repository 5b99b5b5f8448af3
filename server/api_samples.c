/* /api/v1/samples: fetch a sample from an agent (docs/api.md, docs/response.md).
 *   POST /api/v1/samples {"sha256","agent"}   admin: a request, fetched by the collector
 *   GET  /api/v1/samples[?sha256=HEX]         read: the requests and their state
 *   GET  /api/v1/samples/HEX                  admin: the stored file's bytes
 * A thin layer over server/samples.h; the transfer itself is the collector loop's. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "api-int.h"
#include "proctrail/clock.h"
#include "proctrail/hex.h"
#include "proctrail/policy.h"
#include "proctrail/tls.h"
#include "samples.h"

#define LIST_MAX 500

static void sample_post(struct pt_api *a, struct evhttp_request *req, const struct api_who *who)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	char body[4096], hex[80], agent[PT_NAME_MAX + 1], err[256], opname[PT_OP_NAME_MAX + 16];
	uint8_t sha[PT_SHA256_LEN];
	int64_t id = 0;
	int rc;

	if (len >= sizeof(body)) {
		api_error(req, 413, "body too large");
		return;
	}
	evbuffer_copyout(in, body, len);
	body[len] = 0;
	if (api_json_member(body, len, "sha256", hex, sizeof(hex)) ||
	    pt_policy_parse_sha256(hex, sha, err, sizeof(err))) {
		api_error(req, 400, "sha256: required, 64 hexadecimal digits");
		return;
	}
	if (api_json_member(body, len, "agent", agent, sizeof(agent)) || !pt_tls_name_valid(agent)) {
		api_error(req, 400, "agent: required, an agent name");
		return;
	}
	snprintf(opname, sizeof(opname), "api:%s", who->name);
	sqlite3 *db = api_rw_db(a);
	if (!db) {
		api_error(req, 500, "database");
		return;
	}
	rc = srv_sample_request(db, sha, agent, opname, pt_real_ns(), &id);
	sqlite3_close(db);
	if (rc == -EAGAIN) {
		api_error(req, 429, "too many sample requests not finished");
		return;
	}
	if (rc < 0) {
		api_error(req, 500, "database");
		return;
	}
	pt_hex_encode(sha, PT_SHA256_LEN, hex);
	log_info("api: operator %s: sample %s from %s (request %lld)", who->name, hex, agent,
		 (long long)id);
	struct pt_json j = { .out = &a->out };
	pt_buf_reset(&a->out);
	pt_json_raw(&j, "{");
	pt_json_ku64(&j, "id", (uint64_t)id);
	pt_json_raw(&j, "}");
	api_reply(req, 202, &a->out);
}

static void sample_list(struct pt_api *a, struct evhttp_request *req)
{
	struct evkeyvalq q;
	struct pt_json j = { .out = &a->out };
	const char *hexq, *idq;
	uint8_t sha[PT_SHA256_LEN];
	char err[256];
	sqlite3_stmt *st;

	evhttp_parse_query_str(evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req)) ?
			       evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req)) : "", &q);
	hexq = evhttp_find_header(&q, "sha256");
	idq = evhttp_find_header(&q, "id");
	if (hexq && pt_policy_parse_sha256(hexq, sha, err, sizeof(err))) {
		evhttp_clear_headers(&q);
		api_error(req, 400, "sha256: 64 hexadecimal digits");
		return;
	}
	if (sqlite3_prepare_v2(a->db, "SELECT r.id, r.sha256, r.agent, r.operator, r.requested_ns,"
			       " r.updated_ns, r.state, r.reason, r.size, r.received"
			       " FROM sample_requests r WHERE (?1 IS NULL OR r.sha256 = lower(?1))"
			       " AND (?2 IS NULL OR r.id = CAST(?2 AS INTEGER))"
			       " ORDER BY r.id DESC LIMIT ?3", -1, &st, NULL) != SQLITE_OK) {
		evhttp_clear_headers(&q);
		api_error(req, 500, "database");
		return;
	}
	if (hexq)
		sqlite3_bind_text(st, 1, hexq, -1, SQLITE_TRANSIENT);
	if (idq)
		sqlite3_bind_text(st, 2, idq, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 3, LIST_MAX);
	evhttp_clear_headers(&q);
	pt_buf_reset(&a->out);
	pt_json_raw(&j, "{");
	pt_json_open(&j, "requests", '[');
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *reason = (const char *)sqlite3_column_text(st, 7);

		pt_json_open(&j, NULL, '{');
		pt_json_ku64(&j, "id", (uint64_t)sqlite3_column_int64(st, 0));
		pt_json_kcstr(&j, "sha256", (const char *)sqlite3_column_text(st, 1));
		pt_json_kcstr(&j, "agent", (const char *)sqlite3_column_text(st, 2));
		pt_json_kcstr(&j, "operator", (const char *)sqlite3_column_text(st, 3));
		pt_json_ktime(&j, "requested", (uint64_t)sqlite3_column_int64(st, 4));
		pt_json_ktime(&j, "updated", (uint64_t)sqlite3_column_int64(st, 5));
		pt_json_kcstr(&j, "state", (const char *)sqlite3_column_text(st, 6));
		if (reason)
			pt_json_kcstr(&j, "reason", reason);
		if (sqlite3_column_type(st, 8) != SQLITE_NULL)
			pt_json_ku64(&j, "size", (uint64_t)sqlite3_column_int64(st, 8));
		pt_json_ku64(&j, "received", (uint64_t)sqlite3_column_int64(st, 9));
		pt_json_close(&j, '}');
	}
	sqlite3_finalize(st);
	pt_json_close(&j, ']');
	pt_json_raw(&j, "}");
	if (j.err) {
		api_error(req, 500, "answer too large");
		return;
	}
	api_reply(req, 200, &a->out);
}

static void sample_get(struct pt_api *a, struct evhttp_request *req, const char *hexarg)
{
	char dir[PT_SERVER_PATH_MAX + 16], path[PT_SERVER_PATH_MAX + 96], err[256];
	char hex[2 * PT_SHA256_LEN + 1], disp[128];
	uint8_t sha[PT_SHA256_LEN];
	struct evbuffer *b;
	struct stat st;
	int fd;

	if (pt_policy_parse_sha256(hexarg, sha, err, sizeof(err))) {
		api_error(req, 400, "sha256: 64 hexadecimal digits");
		return;
	}
	pt_hex_encode(sha, PT_SHA256_LEN, hex);
	if (srv_sample_dir(a->db_path, dir, sizeof(dir)) < 0 ||
	    snprintf(path, sizeof(path), "%s/%s", dir, hex) >= (int)sizeof(path)) {
		api_error(req, 500, "path too long");
		return;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		api_error(req, 404, "no sample stored with this hash");
		return;
	}
	if (!(b = evbuffer_new())) {
		close(fd);
		api_error(req, 500, "memory");
		return;
	}
	/* evbuffer_add_file takes the descriptor (closed with the buffer, or on failure) */
	if (st.st_size && evbuffer_add_file(b, fd, 0, st.st_size) < 0) {
		evbuffer_free(b);
		api_error(req, 500, "reading the sample");
		return;
	}
	if (!st.st_size)
		close(fd);
	api_headers(req, "application/octet-stream");
	snprintf(disp, sizeof(disp), "attachment; filename=\"%s.sample\"", hex);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Disposition", disp);
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

void api_samples(struct pt_api *a, struct evhttp_request *req, const struct api_who *who,
		 const char *path)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(req);

	if (!strcmp(path, "/api/v1/samples")) {
		if (m == EVHTTP_REQ_GET) {
			sample_list(a, req);
			return;
		}
		if (m != EVHTTP_REQ_POST) {
			api_error(req, 405, "GET or POST");
			return;
		}
		if (!api_admin(req, who))
			return;
		sample_post(a, req, who);
		return;
	}
	if (m != EVHTTP_REQ_GET) {
		api_error(req, 405, "GET only");
		return;
	}
	/* a sample is the file itself, maybe malware: admins only */
	if (!api_admin(req, who))
		return;
	sample_get(a, req, path + 16);
}
