/* The HTTP API's listener, TLS, authentication, sessions and routing (api.h, docs/api.md).
 * The HTTP parsing is libevent's evhttp; each connection is a bufferevent_openssl. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "api-int.h"
#include "metrics.h"
#include "api.h"
#include "console.h"
#include "proctrail/clock.h"
#include "proctrail/hex.h"
#include "proctrail/store.h"

void api_headers(struct evhttp_request *req, const char *content_type)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Type", content_type);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
}

static const char *reason(int code)
{
	switch (code) {
	case 200: return "OK";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	default: return "Internal Server Error";
	}
}

sqlite3 *api_rw_db(struct pt_api *a)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(a->db_path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 5000);
	return db;
}

void api_reply(struct evhttp_request *req, int code, struct pt_buf *body)
{
	struct evbuffer *b = evbuffer_new();

	api_headers(req, "application/json");
	if (b && body && body->len)
		evbuffer_add(b, body->data, body->len);
	evhttp_send_reply(req, code, reason(code), b);
	if (b)
		evbuffer_free(b);
}

bool api_admin(struct evhttp_request *req, const struct api_who *who)
{
	if (who->role == PT_ROLE_ADMIN)
		return true;
	api_error(req, 403, "admin role required");
	return false;
}

void api_error(struct evhttp_request *req, int code, const char *msg)
{
	struct pt_buf out;
	struct pt_json j = { .out = &out };

	pt_buf_init(&out, 8192);
	pt_json_raw(&j, "{");
	pt_json_kcstr(&j, "error", msg);
	pt_json_raw(&j, "}\n");
	api_reply(req, code, &out);
	pt_buf_free(&out);
}

int api_query(struct evhttp_request *req, struct evkeyvalq *q, enum pt_api_params kind,
	      struct pt_api_filter *f)
{
	const char *qs = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	char err[256];

	TAILQ_INIT(q);
	if (qs && strlen(qs) > 8 * PT_API_VALUE_MAX) {
		api_error(req, 400, "query: too long");
		return -EINVAL;
	}
	if (qs && *qs && evhttp_parse_query_str(qs, q) < 0) {
		api_error(req, 400, "query: malformed");
		return -EINVAL;
	}
	if (pt_api_filter_parse(f, q, kind, pt_real_ns(), err, sizeof(err))) {
		api_error(req, 400, err);
		return -EINVAL;
	}
	return 0;
}

int api_begin(struct pt_api *a)
{
	static const char BEGIN_PG[] = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY";

	if (!a->pg)
		return pt_qdb_exec(a->q, "BEGIN");
	pt_qdb_check(a->q);
	if (!pt_qdb_exec(a->q, BEGIN_PG))
		return 0;
	/* the server restarted since the last answer: libpq learns it from this failure */
	pt_qdb_check(a->q);
	return pt_qdb_exec(a->q, BEGIN_PG);
}

void api_end(struct pt_api *a)
{
	if (pt_qdb_in_tx(a->q))
		pt_qdb_exec(a->q, "COMMIT");
}

bool api_sqlite_only(struct pt_api *a, struct evhttp_request *req)
{
	if (!a->pg)
		return true;
	api_error(req, 501, "not available with a PostgreSQL database yet (docs/api.md)");
	return false;
}

/* ---- operators and sessions ---- */

/* Re-reads operators.tsv when it changed. A file that cannot be read or parsed leaves no
 * operator at all (fail closed), logged once per change. */
static void ops_refresh(struct pt_api *a)
{
	struct stat st;
	size_t bad = 0;
	int ret;

	memset(&st, 0, sizeof(st));
	if (stat(a->ops_path, &st) && errno != ENOENT)
		memset(&st, 0xff, sizeof(st.st_ino));
	if (a->ops_loaded && st.st_ino == a->ops_st.st_ino && st.st_dev == a->ops_st.st_dev &&
	    st.st_size == a->ops_st.st_size && st.st_mtim.tv_sec == a->ops_st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == a->ops_st.st_mtim.tv_nsec &&
	    st.st_ctim.tv_sec == a->ops_st.st_ctim.tv_sec &&
	    st.st_ctim.tv_nsec == a->ops_st.st_ctim.tv_nsec)
		return;
	pt_operators_free(&a->ops);
	ret = pt_operators_load(&a->ops, a->ops_path, &bad);
	a->ops_st = st;
	a->ops_loaded = true;
	if (ret) {
		if (bad)
			log_warnx("%s: line %zu is not NAME<TAB>read|admin<TAB>SHA256; no operator is "
				  "accepted until it is fixed", a->ops_path, bad);
		else
			log_warnx("%s: %s; no operator is accepted until it is readable", a->ops_path,
				  strerror(-ret));
		a->ops_failed = true;
	} else {
		if (a->ops_failed || log_verbose())
			log_info("API operators: %zu from %s", a->ops.n, a->ops_path);
		a->ops_failed = false;
	}
}

static struct api_session *session_find(struct pt_api *a, const char *cookie, size_t len)
{
	uint64_t now = pt_mono_ns();
	struct api_session *hit = NULL;
	uint8_t sha[32];
	size_t i;

	SHA256((const unsigned char *)cookie, len, sha);
	for (i = 0; i < API_SESSIONS_MAX; i++) {
		struct api_session *s = &a->sessions[i];

		if (s->used && s->expires_ns <= now)
			memset(s, 0, sizeof(*s));
		if (s->used && !CRYPTO_memcmp(s->id_sha, sha, 32))
			hit = s;
	}
	return hit;
}

/* The pt_session cookie's value (64 hex digits) or NULL. */
static const char *cookie_value(struct evhttp_request *req, char out[65])
{
	const char *c = evhttp_find_header(evhttp_request_get_input_headers(req), "Cookie");
	const char *p;

	while (c && (p = strstr(c, "pt_session="))) {
		if (p == c || p[-1] == ' ' || p[-1] == ';') {
			size_t n = strspn(p + 11, "0123456789abcdef");

			if (n == 64) {
				memcpy(out, p + 11, 64);
				out[64] = 0;
				return out;
			}
		}
		c = p + 11;
	}
	return NULL;
}

/* 0 with *who filled, or the answer sent (401) and -EPERM. */
static int authenticate(struct pt_api *a, struct evhttp_request *req, struct api_who *who)
{
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	const char *auth = evhttp_find_header(h, "Authorization");
	const struct pt_operator *o = NULL;
	char cookie[65];

	ops_refresh(a);
	memset(who, 0, sizeof(*who));
	if (auth && !strncmp(auth, "Bearer ", 7)) {
		o = pt_operators_find_token(&a->ops, auth + 7, strlen(auth + 7));
	} else if (!auth && cookie_value(req, cookie)) {
		struct api_session *s = session_find(a, cookie, 64);

		/* the operator must still exist: a revoked operator's sessions end with it */
		if (s && !(o = pt_operators_find(&a->ops, s->op)))
			memset(s, 0, sizeof(*s));
		who->by_cookie = o != NULL;
	}
	if (!o) {
		api_error(req, 401, "unauthorized");
		return -EPERM;
	}
	snprintf(who->name, sizeof(who->name), "%s", o->name);
	who->role = o->role;
	return 0;
}

static void whoami(struct evhttp_request *req, const struct api_who *who)
{
	struct pt_buf out;
	struct pt_json j = { .out = &out };

	pt_buf_init(&out, 4096);
	pt_json_raw(&j, "{");
	pt_json_kcstr(&j, "operator", who->name);
	pt_json_kcstr(&j, "role", pt_op_role_name(who->role));
	pt_json_raw(&j, "}\n");
	api_reply(req, 200, &out);
	pt_buf_free(&out);
}

static void operators_list(struct pt_api *a, struct evhttp_request *req)
{
	struct pt_buf out;
	struct pt_json j = { .out = &out };
	size_t i;

	pt_buf_init(&out, 1u << 20);
	pt_json_raw(&j, "{");
	pt_json_open(&j, "operators", '[');
	for (i = 0; i < a->ops.n; i++) {
		pt_json_open(&j, NULL, '{');
		pt_json_kcstr(&j, "name", a->ops.v[i].name);
		pt_json_kcstr(&j, "role", pt_op_role_name(a->ops.v[i].role));
		pt_json_close(&j, '}');
	}
	pt_json_close(&j, ']');
	pt_json_raw(&j, "}\n");
	api_reply(req, 200, &out);
	pt_buf_free(&out);
}

/* Pulls "key":"value" out of a small flat JSON object: the string members the session and
 * policy endpoints take, without escapes (a value with a backslash is refused). */
int api_json_member(const char *body, size_t len, const char *key, char *out, size_t outlen)
{
	char pat[32];
	const char *p, *e, *end = body + len;
	size_t n;

	snprintf(pat, sizeof(pat), "\"%s\"", key);
	p = memmem(body, len, pat, strlen(pat));
	if (!p)
		return -ENOENT;
	p += strlen(pat);
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	if (p >= end || *p++ != ':')
		return -EINVAL;
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	if (p >= end || *p++ != '"')
		return -EINVAL;
	e = memchr(p, '"', (size_t)(end - p));
	if (!e || memchr(p, '\\', (size_t)(e - p)))
		return -EINVAL;
	n = (size_t)(e - p);
	if (n >= outlen)
		return -EMSGSIZE;
	memcpy(out, p, n);
	out[n] = 0;
	return 0;
}

static void session_create(struct pt_api *a, struct evhttp_request *req)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	char body[4096], name[PT_OP_NAME_MAX + 1], token[128], hex[65], hdr[160];
	const struct pt_operator *o;
	struct api_session *slot = NULL;
	uint64_t now = pt_mono_ns();
	uint8_t id[32];
	size_t i;

	if (len >= sizeof(body)) {
		api_error(req, 413, "body too large");
		return;
	}
	evbuffer_copyout(in, body, len);
	body[len] = 0;
	if (api_json_member(body, len, "operator", name, sizeof(name)) ||
	    api_json_member(body, len, "token", token, sizeof(token))) {
		api_error(req, 400, "body: {\"operator\":NAME,\"token\":TOKEN}");
		return;
	}
	ops_refresh(a);
	o = pt_operators_find_token(&a->ops, token, strlen(token));
	OPENSSL_cleanse(token, sizeof(token));
	if (!o || strcmp(o->name, name)) {
		api_error(req, 401, "unauthorized");
		return;
	}
	for (i = 0; i < API_SESSIONS_MAX; i++) {
		struct api_session *s = &a->sessions[i];

		if (s->used && s->expires_ns <= now)
			memset(s, 0, sizeof(*s));
		if (!s->used && !slot)
			slot = s;
	}
	if (!slot) {
		api_error(req, 429, "too many sessions");
		return;
	}
	if (RAND_bytes(id, sizeof(id)) != 1) {
		api_error(req, 500, "no random bytes");
		return;
	}
	pt_hex_encode(id, sizeof(id), hex);
	SHA256((const unsigned char *)hex, 64, slot->id_sha);
	snprintf(slot->op, sizeof(slot->op), "%s", o->name);
	slot->expires_ns = now + API_SESSION_TTL_S * 1000000000ull;
	slot->used = true;
	snprintf(hdr, sizeof(hdr), "pt_session=%s; Path=/; HttpOnly; Secure; SameSite=Strict; "
		 "Max-Age=%d", hex, API_SESSION_TTL_S);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Set-Cookie", hdr);
	OPENSSL_cleanse(hex, sizeof(hex));
	api_reply(req, 204, NULL);
}

static void session_delete(struct pt_api *a, struct evhttp_request *req)
{
	char cookie[65];
	struct api_session *s;

	if (cookie_value(req, cookie) && (s = session_find(a, cookie, 64)))
		memset(s, 0, sizeof(*s));
	evhttp_add_header(evhttp_request_get_output_headers(req), "Set-Cookie",
			  "pt_session=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0");
	api_reply(req, 204, NULL);
}

/* ---- routing ---- */

static bool id_chars(const char *s, const char *set, size_t max)
{
	size_t n = strlen(s);

	return n > 0 && n <= max && strspn(s, set) == n;
}

void pt_api_set_metrics(struct pt_api *a,
			int (*fn)(void *arg, struct pt_buf *out, unsigned timeout_ms), void *arg)
{
	a->metrics_fn = fn;
	a->metrics_arg = arg;
}

void pt_api_set_rules(struct pt_api *a, int (*state)(void *arg, struct pt_buf *out),
		      int (*reload)(void *arg, const char *why), void *arg)
{
	a->rules_state_fn = state;
	a->rules_reload_fn = reload;
	a->rules_arg = arg;
}

/* Prometheus scrapes with a bearer token (`authorization: credentials_file:` in its config). */
static void metrics(struct pt_api *a, struct evhttp_request *req)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	struct evbuffer *b;
	struct api_who who;
	struct pt_buf out;
	int rc;

	if (authenticate(a, req, &who))
		return;
	if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_HEAD) {
		api_error(req, 405, "GET only");
		return;
	}
	if (evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req))) {
		api_error(req, 400, "/metrics takes no parameter");
		return;
	}
	pt_buf_init(&out, SRV_METRICS_TEXT_MAX);
	rc = a->metrics_fn(a->metrics_arg, &out, 2000);
	if (rc) {
		pt_buf_free(&out);
		api_error(req, 503, rc == -ETIMEDOUT ? "metrics: the collector did not answer"
						      : "metrics unavailable");
		return;
	}
	b = evbuffer_new();
	api_headers(req, "text/plain; version=0.0.4; charset=utf-8");
	if (b)
		evbuffer_add(b, out.data, out.len);
	evhttp_send_reply(req, 200, "OK", b);
	if (b)
		evbuffer_free(b);
	pt_buf_free(&out);
}

static void route(struct pt_api *a, struct evhttp_request *req, const char *path)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	struct api_who who;
	const char *rest;

	if (!strcmp(path, "/metrics") && a->metrics_fn) {
		metrics(a, req);
		return;
	}
	if (strncmp(path, "/api/", 5)) {
		console_serve(req, path);   /* server/console.c: the web console's files */
		return;
	}
	/* signing in is the one request without credentials */
	if (!strcmp(path, "/api/v1/session") && m == EVHTTP_REQ_POST) {
		if (evhttp_find_header(evhttp_request_get_input_headers(req), "Cookie") &&
		    !evhttp_find_header(evhttp_request_get_input_headers(req), "X-Proctrail-CSRF")) {
			api_error(req, 403, "X-Proctrail-CSRF: 1 required with a cookie");
			return;
		}
		session_create(a, req);
		return;
	}
	if (authenticate(a, req, &who))
		return;
	/* A cookie rides along with any request the browser makes: a change of state by cookie
	 * needs a header a cross-site form cannot set. */
	if (who.by_cookie && m != EVHTTP_REQ_GET && m != EVHTTP_REQ_HEAD) {
		const char *csrf = evhttp_find_header(evhttp_request_get_input_headers(req),
						      "X-Proctrail-CSRF");

		if (!csrf || strcmp(csrf, "1")) {
			api_error(req, 403, "X-Proctrail-CSRF: 1 required with a cookie");
			return;
		}
	}
	if (!strcmp(path, "/api/v1/session")) {
		if (m == EVHTTP_REQ_DELETE)
			session_delete(a, req);
		else
			api_error(req, 405, "POST or DELETE");
		return;
	}
	if (!strncmp(path, "/api/v1/policy", 14) && (!path[14] || path[14] == '/')) {
		if (api_sqlite_only(a, req))
			api_policy(a, req, &who, path);
		return;
	}
	if (!strncmp(path, "/api/v1/samples", 15) && (!path[15] || path[15] == '/')) {
		if (api_sqlite_only(a, req))
			api_samples(a, req, &who, path);
		return;
	}
	if (!strncmp(path, "/api/v1/rules", 13) && (!path[13] || path[13] == '/')) {
		if (api_sqlite_only(a, req))
			api_rules(a, req, &who, path);
		return;
	}
	if (m != EVHTTP_REQ_GET) {
		api_error(req, 405, "GET only");
		return;
	}
	if (!strcmp(path, "/api/v1/whoami")) {
		whoami(req, &who);
	} else if (!strcmp(path, "/api/v1/operators")) {
		if (api_admin(req, &who))
			operators_list(a, req);
	} else if (!strcmp(path, "/api/v1/events")) {
		api_events(a, req);
	} else if (!strcmp(path, "/api/v1/events/stream")) {
		api_stream_open(a, req);
	} else if (!strncmp(path, "/api/v1/events/", 15)) {
		rest = path + 15;
		if (!id_chars(rest, "0123456789", 19))
			api_error(req, 404, "no such event");
		else
			api_event_one(a, req, rest);
	} else if (!strncmp(path, "/api/v1/tree/", 13)) {
		rest = path + 13;
		if (!id_chars(rest, "0123456789abcdefABCDEF", 2 * PT_ENTITY_ID_LEN))
			api_error(req, 400, "entity_id: 32 hex digits");
		else
			api_tree(a, req, rest);
	} else if (!strcmp(path, "/api/v1/binaries")) {
		api_binaries(a, req);
	} else if (!strncmp(path, "/api/v1/binaries/", 17)) {
		rest = path + 17;
		if (!id_chars(rest, "0123456789abcdefABCDEF", 2 * PT_SHA256_LEN))
			api_error(req, 400, "sha256: 64 hex digits");
		else
			api_binary_one(a, req, rest);
	} else if (!strcmp(path, "/api/v1/agents")) {
		api_agents(a, req);
	} else if (!strcmp(path, "/api/v1/alerts")) {
		if (api_sqlite_only(a, req))
			api_alerts(a, req);
	} else if (!strcmp(path, "/api/v1/alerts/stream")) {
		if (api_sqlite_only(a, req))
			api_alert_stream_open(a, req);
	} else {
		api_error(req, 404, "not found");
	}
}

static void gen_cb(struct evhttp_request *req, void *arg)
{
	struct pt_api *a = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;

	if (!path || !*path) {
		api_error(req, 400, "no path");
		return;
	}
	route(a, req, path);
	api_end(a);     /* a handler's read transaction never outlives its answer */
}

static struct bufferevent *bev_cb(struct event_base *base, void *arg)
{
	struct pt_api *a = arg;
	SSL *ssl = SSL_new(a->ctx);

	if (!ssl)
		return NULL;
	return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
					      BEV_OPT_CLOSE_ON_FREE);
}

static int tls_ctx(struct pt_api *a, const struct pt_server_config *cfg)
{
	a->ctx = SSL_CTX_new(TLS_server_method());
	if (!a->ctx)
		return -ENOMEM;
	/* Browsers and curl speak 1.2 and 1.3; older versions are refused. */
	SSL_CTX_set_min_proto_version(a->ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(a->ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	if (SSL_CTX_use_certificate_chain_file(a->ctx, cfg->cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(a->ctx, cfg->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(a->ctx) != 1) {
		char e[256];

		ERR_error_string_n(ERR_get_error(), e, sizeof(e));
		log_warnx("API TLS: %s / %s: %s", cfg->cert, cfg->key, e);
		return -EINVAL;
	}
	return 0;
}

int pt_api_open(struct pt_api **out, const struct pt_server_config *cfg)
{
	struct pt_api *a = calloc(1, sizeof(*a));
	char host[256];
	const char *colon;
	long port;
	char *end;
	int ret = -EINVAL;

	*out = NULL;
	if (!a)
		return -ENOMEM;
	TAILQ_INIT(&a->streams);
	pt_buf_init(&a->out, API_REPLY_MAX);
	snprintf(a->db_path, sizeof(a->db_path), "%s", cfg->db);
	a->pg = pt_store_is_pg_url(cfg->db);
	snprintf(a->ops_path, sizeof(a->ops_path), "%s", cfg->operators);
	snprintf(a->listen, sizeof(a->listen), "%s", cfg->api);
	snprintf(a->rules_dir, sizeof(a->rules_dir), "%s", cfg->rules);
	a->rules_upload = cfg->rules_upload;
	colon = strrchr(cfg->api, ':');
	if (!colon || colon == cfg->api || (size_t)(colon - cfg->api) >= sizeof(host)) {
		log_warnx("--api %s: expected ADDRESS:PORT", cfg->api);
		goto fail;
	}
	memcpy(host, cfg->api, (size_t)(colon - cfg->api));
	host[colon - cfg->api] = 0;
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = 0;
	}
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 1 || port > 65535) {
		log_warnx("--api %s: expected ADDRESS:PORT", cfg->api);
		goto fail;
	}
	if ((ret = tls_ctx(a, cfg)))
		goto fail;
	ret = -ENOMEM;
	if (!(a->base = event_base_new()) || !(a->http = evhttp_new(a->base)))
		goto fail;
	evhttp_set_bevcb(a->http, bev_cb, a);
	evhttp_set_gencb(a->http, gen_cb, a);
	evhttp_set_max_headers_size(a->http, API_HEADERS_MAX);
	evhttp_set_max_body_size(a->http, API_BODY_MAX);
	evhttp_set_timeout(a->http, API_TIMEOUT_S);
	evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_DELETE |
				   EVHTTP_REQ_PUT | EVHTTP_REQ_HEAD);
	if (evhttp_bind_socket(a->http, host, (ev_uint16_t)port) < 0) {
		ret = errno ? -errno : -EADDRINUSE;
		log_warn("API: listening on %s", cfg->api);
		goto fail;
	}
	*out = a;
	return 0;
fail:
	pt_api_free(a);
	return ret;
}

static void *api_main(void *arg)
{
	struct pt_api *a = arg;

	event_base_dispatch(a->base);
	return NULL;
}

static void poll_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	api_stream_poll(arg);
}

int pt_api_start(struct pt_api *a)
{
	struct timeval tv = { 0, API_STREAM_POLL_MS * 1000 };
	sqlite3 *lite = NULL;

	if (a->pg) {
		if (!(a->q = pt_qdb_pg(a->db_path)))
			return -EIO;     /* logged, without the password */
	} else {
		if (sqlite3_open_v2(a->db_path, &lite, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
				    NULL) != SQLITE_OK) {
			log_warnx("API: %s: %s", a->db_path, lite ? sqlite3_errmsg(lite) :
				  "open failed");
			sqlite3_close(lite);
			return -EIO;
		}
		sqlite3_busy_timeout(lite, 2000);
		sqlite3_exec(lite, "PRAGMA cache_size=-65536", NULL, NULL, NULL);
		if (!(a->q = pt_qdb_sqlite(lite)))
			return -ENOMEM;
		a->db = lite;
	}
	ops_refresh(a);
	a->poll_ev = event_new(a->base, -1, EV_PERSIST, poll_cb, a);
	if (!a->poll_ev || event_add(a->poll_ev, &tv) < 0)
		return -ENOMEM;
	if (pthread_create(&a->thread, NULL, api_main, a))
		return -EAGAIN;
	a->running = true;
	log_info("API listening on https://%s (operators from %s)", a->listen, a->ops_path);
	return 0;
}

void pt_api_free(struct pt_api *a)
{
	if (!a)
		return;
	if (a->running) {
		event_base_loopexit(a->base, NULL);
		pthread_join(a->thread, NULL);
	}
	api_stream_free_all(a);
	if (a->poll_ev)
		event_free(a->poll_ev);
	if (a->http)
		evhttp_free(a->http);
	if (a->base)
		event_base_free(a->base);
	SSL_CTX_free(a->ctx);
	pt_qdb_close(a->q);     /* and a->db, its handle */
	pt_operators_free(&a->ops);
	pt_buf_free(&a->out);
	free(a);
}
