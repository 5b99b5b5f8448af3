/* /api/v1/alerts: the Sigma matches the collector stored (docs/detection.md), newest first,
 * each with the event that matched as /api/v1/events shows it. Filters: rule (id), level,
 * agent, from/to (the event's time), cursor, limit. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "api-int.h"

#define EV_COLS "e.id, e.time_ns, e.record, e.stream_id, e.seq, a.name, h.name"

const char API_ALERT_SELECT[] =
	"SELECT al.id, al.rule_id, al.title, al.level, al.rule_file, al.time_ns, al.created_ns, "
	EV_COLS " FROM alerts al CROSS JOIN events e ON e.id = al.event"
	" CROSS JOIN agents a ON a.id = al.agent LEFT JOIN hosts h ON h.id = al.host";

static const char *text(struct pt_q *st, int i)
{
	const char *s = pt_q_text(st, i, NULL);

	return s ? s : "";
}

int api_alert_json(struct pt_q *st, const struct pt_api_filter *f, struct pt_buf *out)
{
	struct pt_json j = { .out = out };
	const char *agent = pt_q_text(st, 12, NULL);
	const char *host = pt_q_text(st, 13, NULL);
	size_t mark = out->len;
	int ret;

	if (f && (((f->set & PT_F_RULE) && strcmp(text(st, 1), f->rule)) ||
		  ((f->set & PT_F_LEVEL) && strcmp(text(st, 3), f->level)) ||
		  ((f->set & PT_F_AGENT) && (!agent || strcmp(agent, f->agent)))))
		return 1;
	pt_json_open(&j, NULL, '{');
	pt_json_ku64_str(&j, "alert_id", (uint64_t)pt_q_i64(st, 0));
	pt_json_ktime(&j, "@timestamp", (uint64_t)pt_q_i64(st, 5));
	pt_json_ktime(&j, "created", (uint64_t)pt_q_i64(st, 6));
	pt_json_open(&j, "rule", '{');
	pt_json_kcstr(&j, "id", text(st, 1));
	pt_json_kcstr(&j, "name", text(st, 2));
	pt_json_kcstr(&j, "level", text(st, 3));
	pt_json_kcstr(&j, "ruleset", "sigma");
	pt_json_kcstr(&j, "file", text(st, 4));
	pt_json_close(&j, '}');
	if (agent) {
		pt_json_open(&j, "agent", '{');
		pt_json_kcstr(&j, "name", agent);
		pt_json_close(&j, '}');
	}
	if (host) {
		pt_json_open(&j, "host", '{');
		pt_json_kcstr(&j, "name", host);
		pt_json_close(&j, '}');
	}
	pt_json_ku64_str(&j, "event_id", (uint64_t)pt_q_i64(st, 7));
	pt_json_key(&j, "event");
	if (j.err || (ret = api_event_json(st, 7, NULL, out))) {
		out->len = mark;
		return j.err ? j.err : ret;
	}
	j.need_comma = true;
	pt_json_close(&j, '}');
	if (j.err) {
		out->len = mark;
		return j.err;
	}
	return 0;
}

void api_alerts(struct pt_api *a, struct evhttp_request *req)
{
	struct evkeyvalq q;
	struct pt_api_filter f;
	struct pt_q *st = NULL;
	char sql[1024], cur[PT_API_CURSOR_MAX];
	unsigned n = 0;
	uint64_t last = 0;
	bool more = false;
	int rc, ret = 0;

	if (api_query(req, &q, PT_API_P_ALERTS, &f))
		goto out;
	/* alerts are few next to events: the filters go into SQL, the table's order is id */
	snprintf(sql, sizeof(sql), "%s WHERE al.id < ?1 AND (?2 IS NULL OR al.rule_id = ?2)"
		 " AND (?3 IS NULL OR al.level = ?3) AND (?4 IS NULL OR a.name = ?4)"
		 " AND al.time_ns >= ?5 AND al.time_ns <= ?6 ORDER BY al.id DESC LIMIT ?7",
		 API_ALERT_SELECT);
	pt_buf_reset(&a->out);
	if ((ret = api_begin(a)))
		goto fail;
	if (!(st = pt_q_prepare_stream(a->q, sql))) {
		ret = -EIO;
		goto fail;
	}
	pt_q_bind_i64(st, 1, f.cursor ? (int64_t)f.cursor : INT64_MAX);
	pt_q_bind_text(st, 2, (f.set & PT_F_RULE) ? f.rule : NULL);
	pt_q_bind_text(st, 3, (f.set & PT_F_LEVEL) ? f.level : NULL);
	pt_q_bind_text(st, 4, (f.set & PT_F_AGENT) ? f.agent : NULL);
	pt_q_bind_i64(st, 5, (f.set & PT_F_FROM) ? (int64_t)f.from_ns : INT64_MIN);
	pt_q_bind_i64(st, 6, (f.set & PT_F_TO) ? (int64_t)f.to_ns : INT64_MAX);
	pt_q_bind_i64(st, 7, (int64_t)f.limit + 1);
	if (pt_buf_append_str(&a->out, "{\"alerts\":[")) {
		ret = -EMSGSIZE;
		goto fail;
	}
	while ((rc = pt_q_step(st)) == 1) {
		if (n == f.limit) {
			more = true;
			break;
		}
		if (n && pt_buf_append(&a->out, ",", 1)) {
			ret = -EMSGSIZE;
			goto fail;
		}
		ret = api_alert_json(st, NULL, &a->out);
		if (ret == -EBADMSG) {      /* an undecodable event: the alert without it */
			if (n)
				a->out.len--;
			continue;
		}
		if (ret)
			goto fail;
		last = (uint64_t)pt_q_i64(st, 0);
		n++;
	}
	if (rc < 0) {
		ret = -EIO;
		goto fail;
	}
	pt_q_finalize(st);
	st = NULL;
	api_end(a);
	if (more)
		pt_api_cursor_events(last, cur);
	if (pt_buf_printf(&a->out, "],\"next_cursor\":%s%s%s}\n", more ? "\"" : "",
			  more ? cur : "null", more ? "\"" : "")) {
		ret = -EMSGSIZE;
		goto fail;
	}
	api_reply(req, 200, &a->out);
	goto out;
fail:
	pt_q_finalize(st);
	api_end(a);
	api_error(req, ret == -EMSGSIZE ? 413 : 500,
		  ret == -EMSGSIZE ? "answer too large: lower limit" : "database error");
out:
	evhttp_clear_headers(&q);
}
