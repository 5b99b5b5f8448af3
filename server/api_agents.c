/* /api/v1/agents: each agent's health, version, connection, queue and spool, every loss
 * counter, unexplained gaps and how long it has been silent (docs/api.md). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "api-int.h"
#include "proctrail/clock.h"
#include "proctrail/store.h"
#include "proctrail/wire.h"

static void col_str(struct pt_json *j, const char *key, struct pt_q *st, int col)
{
	size_t len;
	const char *s = pt_q_text(st, col, &len);

	if (s)
		pt_json_kstr(j, key, s, len);
	else
		pt_json_kcstr(j, key, "");
}

static void col_u64_or_null(struct pt_json *j, const char *key, struct pt_q *st, int col)
{
	if (pt_q_null(st, col)) {
		pt_json_key(j, key);
		pt_json_raw(j, "null");
	} else {
		pt_json_ku64(j, key, (uint64_t)pt_q_i64(st, col));
	}
}

static void counter_name(uint32_t id, char *buf, size_t len)
{
	const char *n = id < PT_SRV_COUNTER_BASE ? pt_loss_counter_name(id) : pt_srv_counter_name(id);

	if (n)
		snprintf(buf, len, "%s", n);
	else if (id >= PT_SRV_UNKNOWN_RECORD_BASE && id <= PT_SRV_UNKNOWN_RECORD_BASE + 0xffff)
		snprintf(buf, len, "unknown_record_%u", id - PT_SRV_UNKNOWN_RECORD_BASE);
	else
		snprintf(buf, len, "%u", id);
}

/* counters: the agent's own loss totals and the collector's counters of it; loss_reported:
 * the sums of its LOSS records. */
static int counters(struct pt_q *c, struct pt_json *j, int64_t agent)
{
	char name[48];
	int rc, pass;

	for (pass = 0; pass < 2; pass++) {
		pt_q_reset(c);
		pt_q_bind_i64(c, 1, agent);
		pt_json_open(j, pass ? "loss_reported" : "counters", '{');
		while ((rc = pt_q_step(c)) == 1) {
			uint32_t id = (uint32_t)pt_q_i64(c, 0);

			if (pass && id >= PT_SRV_COUNTER_BASE)
				continue;
			counter_name(id, name, sizeof(name));
			pt_json_ku64(j, name, (uint64_t)pt_q_i64(c, pass ? 2 : 1));
		}
		pt_json_close(j, '}');
		if (rc != 0)
			return -EIO;
	}
	return 0;
}

static int one_row(struct pt_q *g, struct pt_json *j, int64_t agent)
{
	pt_q_reset(g);
	pt_q_bind_i64(g, 1, agent);
	if (pt_q_step(g) != 1)
		return -EIO;
	pt_json_ku64(j, "gaps", (uint64_t)pt_q_i64(g, 0));
	pt_json_ku64(j, "unexplained_missing", (uint64_t)pt_q_i64(g, 1));
	pt_json_ku64(j, "sequence_regressions", (uint64_t)pt_q_i64(g, 2));
	return 0;
}

void api_agents(struct pt_api *a, struct evhttp_request *req)
{
	struct pt_q *st = NULL, *c = NULL, *g = NULL;
	struct pt_json j = { .out = &a->out };
	struct evkeyvalq q;
	struct pt_api_filter f;
	uint64_t now = pt_real_ns();
	int rc, n = 0;

	if (api_query(req, &q, PT_API_P_NONE, &f))
		goto out;
	pt_buf_reset(&a->out);
	if (api_begin(a) ||
	    !(st = pt_q_prepare(a->q,
			       "SELECT agents.id, name, hostname, agents.version, connected, last_seen_ns,"
			       " health, queue_depth, spool_bytes,"
			       " coalesce(p.version, agents.policy_version), events, duplicates, mode,"
			       " address, first_seen_ns, last_pong_ns, p.since_ns, p.result_version,"
			       " p.result_code, p.result_message"
			       " FROM agents LEFT JOIN agent_policy p ON p.agent = agents.name"
			       " ORDER BY name")) ||
	    !(c = pt_q_prepare(a->q, "SELECT counter, total, reported FROM agent_counters"
				     " WHERE agent = ? ORDER BY counter")) ||
	    /* CAST: PostgreSQL's sum of bigints is a numeric */
	    !(g = pt_q_prepare(a->q, "SELECT (SELECT count(*) FROM gaps WHERE agent = ?1),"
				     " (SELECT CAST(coalesce(sum(last_seq - first_seq + 1), 0) AS BIGINT)"
				     " FROM gaps WHERE agent = ?1),"
				     " (SELECT count(*) FROM regressions WHERE agent = ?1)"))) {
		api_error(req, 500, "database error");
		goto out;
	}
	pt_json_raw(&j, "{");
	pt_json_open(&j, "agents", '[');
	while ((rc = pt_q_step(st)) == 1) {
		int64_t id = pt_q_i64(st, 0);
		uint64_t last = (uint64_t)pt_q_i64(st, 5);

		pt_json_open(&j, NULL, '{');
		col_str(&j, "name", st, 1);
		col_str(&j, "host", st, 2);
		col_str(&j, "version", st, 3);
		pt_json_kbool(&j, "connected", pt_q_i64(st, 4) != 0);
		if (!pt_q_null(st, 5))
			pt_json_ktime(&j, "last_seen", last);
		pt_json_ku64(&j, "silent_seconds", now > last ? (now - last) / 1000000000ull : 0);
		col_str(&j, "health", st, 6);
		col_u64_or_null(&j, "queue_depth", st, 7);
		col_u64_or_null(&j, "spool_bytes", st, 8);
		if (counters(c, &j, id) || one_row(g, &j, id)) {
			api_error(req, 500, "database error");
			goto out;
		}
		col_u64_or_null(&j, "policy_version", st, 9);
		/* since when the agent acknowledged (POLICY_RESULT) the version it enforces, and its
		 * last answer (a refusal keeps the version it enforced before) */
		if (!pt_q_null(st, 16)) {
			pt_json_ktime(&j, "policy_since", (uint64_t)pt_q_i64(st, 16));
		} else {
			pt_json_key(&j, "policy_since");
			pt_json_raw(&j, "null");
		}
		col_u64_or_null(&j, "policy_result_version", st, 17);
		col_u64_or_null(&j, "policy_result_code", st, 18);
		if (!pt_q_null(st, 19))
			col_str(&j, "policy_result_message", st, 19);
		pt_json_ku64(&j, "events", (uint64_t)pt_q_i64(st, 10));
		pt_json_ku64(&j, "duplicates", (uint64_t)pt_q_i64(st, 11));
		pt_json_kcstr(&j, "mode", pt_q_i64(st, 12) == PT_MODE_PULL ? "pull" : "stream");
		col_str(&j, "address", st, 13);
		if (!pt_q_null(st, 14))
			pt_json_ktime(&j, "first_seen", (uint64_t)pt_q_i64(st, 14));
		if (!pt_q_null(st, 15))
			pt_json_ktime(&j, "last_pong", (uint64_t)pt_q_i64(st, 15));
		pt_json_close(&j, '}');
		n++;
	}
	pt_json_close(&j, ']');
	pt_json_raw(&j, "}\n");
	if (rc != 0 || j.err)
		api_error(req, j.err ? 413 : 500, j.err ? "answer too large" : "database error");
	else
		api_reply(req, 200, &a->out);
out:
	pt_q_finalize(st);
	pt_q_finalize(c);
	pt_q_finalize(g);
	evhttp_clear_headers(&q);
}
