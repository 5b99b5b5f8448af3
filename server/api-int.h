/* Internals of the HTTP API shared by its files (api*.c); not for other programs. Everything
 * here runs on the API thread only. */
#ifndef PROCTRAIL_SERVER_API_INT_H
#define PROCTRAIL_SERVER_API_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/stat.h>

#include <event2/event.h>
#include <event2/http.h>
#include <openssl/ssl.h>
#include <sqlite3.h>

#include "../lib/ecs/json.h"
#include "api_params.h"
#include "proctrail/dbq.h"
#include "config.h"
#include "proctrail/buf.h"
#include "proctrail/log.h"
#include "proctrail/operators.h"

#define API_SESSIONS_MAX     1024
#define API_SESSION_TTL_S    43200
#define API_BODY_MAX         (64u << 10)
#define API_HEADERS_MAX      (16u << 10)
#define API_TIMEOUT_S        60
#define API_REPLY_MAX        (32u << 20)    /* one JSON answer */
#define API_SCAN_MAX         200000u        /* rows one events request may examine */
#define API_STREAMS_MAX      64
#define API_STREAM_POLL_MS   250
#define API_STREAM_BATCH     2000           /* rows read per poll */
#define API_STREAM_QUEUE_MAX (8u << 20)     /* unsent bytes before a slow client is dropped */
#define API_KEEPALIVE_S      15

struct api_session {
	uint8_t id_sha[32];             /* SHA-256 of the cookie value; 0: free slot */
	char op[PT_OP_NAME_MAX + 1];
	uint64_t expires_ns;            /* monotonic */
	bool used;
};

struct api_stream;

struct pt_api {
	struct event_base *base;
	struct evhttp *http;
	SSL_CTX *ctx;
	pthread_t thread;
	bool running;
	/* The read connection (proctrail/dbq.h) of the endpoints written for both databases;
	 * db is its SQLite handle for the SQLite-only ones (NULL on PostgreSQL, where they
	 * answer 501: api_sqlite_only). */
	struct pt_qdb *q;
	sqlite3 *db;
	bool pg;
	char db_path[PT_SERVER_PATH_MAX], ops_path[PT_SERVER_PATH_MAX], listen[256];
	struct pt_operators ops;
	struct stat ops_st;
	bool ops_loaded, ops_failed;
	struct api_session sessions[API_SESSIONS_MAX];
	struct event *poll_ev, *keepalive_ev;
	TAILQ_HEAD(, api_stream) streams;
	unsigned nstreams;
	uint64_t stream_last_id;        /* highest event id already looked at by the poll */
	uint64_t streams_dropped;       /* slow clients closed */
	struct pt_buf out;
	/* /metrics (server/metrics.c): the collector's exposition, made on its event loop */
	int (*metrics_fn)(void *arg, struct pt_buf *out, unsigned timeout_ms);
	void *metrics_arg;
	/* /api/v1/rules (api_rules.c): the --rules directory, whether uploads are on, and the
	 * collector's rule set */
	char rules_dir[PT_SERVER_PATH_MAX];
	bool rules_upload;
	int (*rules_state_fn)(void *arg, struct pt_buf *out);
	int (*rules_reload_fn)(void *arg, const char *why);
	void *rules_arg;
};

/* The operator a request acts as. */
struct api_who {
	char name[PT_OP_NAME_MAX + 1];
	enum pt_op_role role;
	bool by_cookie;
};

/* Answers: JSON with the headers every answer carries. reply takes body's bytes. */
/* A read-write connection of its own for a change (the API's is read-only); NULL on error.
 * The caller closes it. */
sqlite3 *api_rw_db(struct pt_api *a);
void api_reply(struct evhttp_request *req, int code, struct pt_buf *body);
void api_error(struct evhttp_request *req, int code, const char *msg);
/* true for an admin; otherwise answers 403 and returns false. The one role check of every
 * endpoint that changes something or hands out what an admin alone may see. */
bool api_admin(struct evhttp_request *req, const struct api_who *who);
void api_headers(struct evhttp_request *req, const char *content_type);
/* true on SQLite; on PostgreSQL answers 501 (what is not there yet, docs/api.md) and returns
 * false. */
bool api_sqlite_only(struct pt_api *a, struct evhttp_request *req);
/* A request's query parsed for kind; on error answers 400 and returns -EINVAL. q must be
 * cleared by the caller (evhttp_clear_headers) either way. */
int api_query(struct evhttp_request *req, struct evkeyvalq *q, enum pt_api_params kind,
	      struct pt_api_filter *f);

/* A read transaction around one answer: every statement in it sees one snapshot. */
int api_begin(struct pt_api *a);
void api_end(struct pt_api *a);

/* Handlers: path_rest is what follows the endpoint's prefix. */
void api_events(struct pt_api *a, struct evhttp_request *req);
void api_event_one(struct pt_api *a, struct evhttp_request *req, const char *id);
void api_stream_open(struct pt_api *a, struct evhttp_request *req);
void api_stream_poll(struct pt_api *a);
void api_stream_free_all(struct pt_api *a);
void api_tree(struct pt_api *a, struct evhttp_request *req, const char *entity);
void api_binaries(struct pt_api *a, struct evhttp_request *req);
void api_binary_one(struct pt_api *a, struct evhttp_request *req, const char *sha);
void api_agents(struct pt_api *a, struct evhttp_request *req);
/* /api/v1/policy and /api/v1/policy/{block,unblock} (path is the whole path). */
void api_samples(struct pt_api *a, struct evhttp_request *req, const struct api_who *who,
		 const char *path);
void api_policy(struct pt_api *a, struct evhttp_request *req, const struct api_who *who,
		const char *path);
/* The string member key of a flat JSON object (no escapes): 0, -ENOENT, -EINVAL, -EMSGSIZE. */
int api_json_member(const char *body, size_t len, const char *key, char *out, size_t outlen);
void api_alerts(struct pt_api *a, struct evhttp_request *req);
/* /api/v1/rules and /api/v1/rules/{name} (path is the whole path). */
void api_rules(struct pt_api *a, struct evhttp_request *req, const struct api_who *who,
	       const char *path);
void api_alert_stream_open(struct pt_api *a, struct evhttp_request *req);

/* Alerts (docs/detection.md): API_ALERT_SELECT's columns are alert id, rule id, title, level,
 * rule file, event time, created, then the event's as api_event_json's (from column 7).
 * api_alert_json appends one alert object with its event, or returns 1 when f is given and
 * the alert does not pass its rule/level/agent filters; -errno (undecodable event -EBADMSG). */
extern const char API_ALERT_SELECT[];
int api_alert_json(struct pt_q *st, const struct pt_api_filter *f, struct pt_buf *out);

/* One stored event as ECS JSON (the agent's --stdout object plus who sent it and the row id)
 * appended to out. Columns of st from col: id, time_ns, record, stream_id, seq, agent name,
 * host name. When f is not NULL and the row does not pass it, nothing is written and 1 is
 * returned; 0 written; -errno (undecodable: -EBADMSG). */
int api_event_json(struct pt_q *st, int col, const struct pt_api_filter *f, struct pt_buf *out);
/* The record of column col decoded into r, all of it: 0 or -EBADMSG. */
int api_record(struct pt_q *st, int col, struct pt_record *r);

/* Events stored under lookup key (tag, v, len) (pt_store_key) newest first, of one agent
 * when agent is not 0. SQLite: the unindexed tail (rows above meta.key_indexed_upto, tested
 * by tail_match on the decoded record) then the key table epoch by epoch. PostgreSQL (no
 * lookup tables): the entity id ('e') and SHA-256 ('h') columns, any other key by scanning
 * the execs (of the agent) with tail_match. fn gets each row of st (columns as
 * api_event_json's from 0, then the agent's id) and returns nonzero to stop; it runs no
 * query of its own (the rows may be streamed). At most max rows. Returns 0 or -EIO. */
int api_key_rows(struct pt_api *a, char tag, const void *v, size_t len, int64_t agent,
		 bool (*tail_match)(const struct pt_record *r, const void *arg), const void *arg,
		 unsigned max, int (*fn)(struct pt_q *st, void *arg2), void *arg2);

#endif
