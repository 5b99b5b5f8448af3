/* /api/v1/events/stream and /api/v1/alerts/stream: Server-Sent Events of new stored events
 * (with the events filters) or alerts (rule, level, agent). A timer reads what was committed
 * since the last look (in id order, a bounded batch per tick) and sends each stream what
 * passes its filters. Slow readers are dropped, not buffered. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "api-int.h"
#include "proctrail/clock.h"

#define COLS "e.id, e.time_ns, e.record, e.stream_id, e.seq, a.name, h.name"

struct api_stream {
	struct pt_api *api;
	struct evhttp_request *req;
	struct evhttp_connection *conn;
	struct evkeyvalq q;           /* owns the strings f points into */
	struct pt_api_filter f;
	uint64_t last_id;             /* sent or skipped up to here */
	uint64_t keepalive_ns;
	bool alerts;                  /* ids are alert ids */
	TAILQ_ENTRY(api_stream) link;
};

static void stream_free(struct api_stream *s, bool close_conn)
{
	struct pt_api *a = s->api;

	TAILQ_REMOVE(&a->streams, s, link);
	a->nstreams--;
	if (s->conn)
		evhttp_connection_set_closecb(s->conn, NULL, NULL);
	if (close_conn && s->conn)
		evhttp_connection_free(s->conn);    /* frees the request with it */
	evhttp_clear_headers(&s->q);
	free(s);
}

static void closed_cb(struct evhttp_connection *conn, void *arg)
{
	struct api_stream *s = arg;

	(void)conn;
	s->conn = NULL;
	stream_free(s, false);
}

static uint64_t max_id(struct pt_api *a, bool alerts)
{
	struct pt_q *st = pt_q_prepare(a->q, alerts ? "SELECT coalesce(max(id), 0) FROM alerts" :
				       "SELECT coalesce(max(id), 0) FROM events");
	uint64_t v = 0;

	if (st && pt_q_step(st) == 1)
		v = (uint64_t)pt_q_i64(st, 0);
	pt_q_finalize(st);
	return v;
}

static void stream_open(struct pt_api *a, struct evhttp_request *req, bool alerts)
{
	struct api_stream *s;
	const char *last;
	struct evbuffer *b;

	if (a->nstreams >= API_STREAMS_MAX) {
		api_error(req, 429, "too many streams");
		return;
	}
	if (!(s = calloc(1, sizeof(*s)))) {
		api_error(req, 500, "out of memory");
		return;
	}
	if (api_query(req, &s->q, alerts ? PT_API_P_ALERT_STREAM : PT_API_P_STREAM, &s->f)) {
		evhttp_clear_headers(&s->q);
		free(s);
		return;
	}
	s->api = a;
	s->alerts = alerts;
	s->req = req;
	s->conn = evhttp_request_get_connection(req);
	last = evhttp_find_header(evhttp_request_get_input_headers(req), "Last-Event-ID");
	if (last && *last && strlen(last) <= 19 && strspn(last, "0123456789") == strlen(last))
		s->last_id = strtoull(last, NULL, 10);
	else
		s->last_id = max_id(a, alerts);
	s->keepalive_ns = pt_mono_ns() + API_KEEPALIVE_S * 1000000000ull;
	TAILQ_INSERT_TAIL(&a->streams, s, link);
	a->nstreams++;
	evhttp_connection_set_closecb(s->conn, closed_cb, s);
	api_headers(req, "text/event-stream");
	evhttp_send_reply_start(req, 200, "OK");
	/* a first comment line, so the client knows the stream is open */
	if ((b = evbuffer_new())) {
		evbuffer_add_printf(b, ": proctrail %s from %llu\n\n", alerts ? "alerts" : "events",
				    (unsigned long long)s->last_id);
		evhttp_send_reply_chunk(req, b);
		evbuffer_free(b);
	}
}

void api_stream_open(struct pt_api *a, struct evhttp_request *req)
{
	stream_open(a, req, false);
}

void api_alert_stream_open(struct pt_api *a, struct evhttp_request *req)
{
	stream_open(a, req, true);
}

static size_t pending(struct api_stream *s)
{
	struct bufferevent *bev = s->conn ? evhttp_connection_get_bufferevent(s->conn) : NULL;

	return bev ? evbuffer_get_length(bufferevent_get_output(bev)) : 0;
}

/* Sends the rows committed since the lowest last_id of the streams of one kind. */
static void poll_kind(struct pt_api *a, struct evbuffer *b, bool alerts)
{
	struct api_stream *s;
	struct pt_q *st;
	uint64_t from = UINT64_MAX;
	char sql[1024];
	bool any = false;

	TAILQ_FOREACH(s, &a->streams, link)
		if (s->alerts == alerts) {
			any = true;
			if (s->last_id < from)
				from = s->last_id;
		}
	if (!any)
		return;
	if (alerts)
		snprintf(sql, sizeof(sql), "%s WHERE al.id > ?1 ORDER BY al.id LIMIT ?2",
			 API_ALERT_SELECT);
	else
		/* CROSS JOIN keeps SQLite on events first; PostgreSQL has no CROSS JOIN ... ON */
		snprintf(sql, sizeof(sql), "SELECT " COLS " FROM events e %s agents a"
			 " ON a.id = e.agent LEFT JOIN hosts h ON h.id = e.host"
			 " WHERE e.id > ?1 ORDER BY e.id LIMIT ?2", a->pg ? "JOIN" : "CROSS JOIN");
	if (!(st = pt_q_prepare_stream(a->q, sql)))
		return;
	pt_q_bind_i64(st, 1, (int64_t)from);
	pt_q_bind_i64(st, 2, API_STREAM_BATCH);
	/* a failed step only ends this poll: last_id moved for sent rows only, the next resumes */
	while (pt_q_step(st) == 1) {
		uint64_t id = (uint64_t)pt_q_i64(st, 0);

		TAILQ_FOREACH(s, &a->streams, link) {
			if (s->alerts != alerts || id <= s->last_id)
				continue;
			s->last_id = id;
			pt_buf_reset(&a->out);
			if (alerts ? api_alert_json(st, &s->f, &a->out) :
				     api_event_json(st, 0, &s->f, &a->out))
				continue;
			evbuffer_add_printf(b, "id: %llu\nevent: %s\ndata: ", (unsigned long long)id,
					    alerts ? "alert" : "event");
			evbuffer_add(b, a->out.data, a->out.len);
			evbuffer_add(b, "\n\n", 2);
			evhttp_send_reply_chunk(s->req, b);
		}
	}
	pt_q_finalize(st);
}

void api_stream_poll(struct pt_api *a)
{
	struct api_stream *s, *next;
	uint64_t now = pt_mono_ns();
	struct evbuffer *b;

	if (TAILQ_EMPTY(&a->streams))
		return;
	if (!(b = evbuffer_new()))
		return;
	pt_qdb_check(a->q);     /* PostgreSQL restarted: reconnect */
	poll_kind(a, b, false);
	poll_kind(a, b, true);
	api_end(a);
	for (s = TAILQ_FIRST(&a->streams); s; s = next) {
		next = TAILQ_NEXT(s, link);
		if (pending(s) > API_STREAM_QUEUE_MAX) {
			a->streams_dropped++;
			log_warnx("API: a stream reader is too slow (%zu bytes unsent); closed "
				  "(%llu so far)", pending(s),
				  (unsigned long long)a->streams_dropped);
			stream_free(s, true);
			continue;
		}
		if (now >= s->keepalive_ns) {
			evbuffer_add(b, ": keepalive\n\n", 13);
			evhttp_send_reply_chunk(s->req, b);
			s->keepalive_ns = now + API_KEEPALIVE_S * 1000000000ull;
		}
	}
	evbuffer_free(b);
}

void api_stream_free_all(struct pt_api *a)
{
	/* stream_free unlinks it: the analyzer does not see TAILQ_REMOVE of the first element
	 * move tqh_first, and takes the freed one for the next */
	while (!TAILQ_EMPTY(&a->streams)) /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc) */
		stream_free(TAILQ_FIRST(&a->streams), true);
}
