/* `proctrail agents --json` where no API is configured: one object per agent with its
 * health, loss counters and unexplained gaps, read from the collector's database
 * (SQLite, or PostgreSQL with --db). */
#include <stdio.h>
#include <string.h>

#include "../lib/ecs/json.h"
#include "db.h"
#include "dbq.h"
#include "proctrail/log.h"
#include "proctrail/store.h"
#include "proctrail/wire.h"

static void kcol_str(struct pt_json *j, const char *key, struct pt_q *st, int col)
{
	size_t len;
	const char *s = pt_q_text(st, col, &len);

	if (s)
		pt_json_kstr(j, key, s, len);
}

static void kcol_u64(struct pt_json *j, const char *key, struct pt_q *st, int col)
{
	if (!pt_q_null(st, col))
		pt_json_ku64(j, key, (uint64_t)pt_q_i64(st, col));
}

static void kcol_time(struct pt_json *j, const char *key, struct pt_q *st, int col)
{
	if (!pt_q_null(st, col))
		pt_json_ktime(j, key, (uint64_t)pt_q_i64(st, col));
}

static int counters(struct pt_qdb *db, struct pt_json *j, int64_t agent)
{
	struct pt_q *st = NULL;
	int rc;

	if (!(st = pt_q_prepare(db, "SELECT counter, total, reported FROM agent_counters"
				  " WHERE agent=? AND counter<? ORDER BY counter")))
		return -1;
	pt_q_bind_i64(st, 1, agent);
	pt_q_bind_i64(st, 2, PT_SRV_COUNTER_BASE);
	pt_json_open(j, "loss", '{');
	while ((rc = pt_q_step(st)) == 1) {
		const char *name = pt_loss_counter_name((unsigned)pt_q_i64(st, 0));
		char num[16];

		if (!name) {
			snprintf(num, sizeof(num), "%d", (int)pt_q_i64(st, 0));
			name = num;
		}
		pt_json_open(j, name, '{');
		kcol_u64(j, "total", st, 1);         /* the agent's own count (PONG) */
		kcol_u64(j, "reported", st, 2);      /* sum of its LOSS records */
		pt_json_close(j, '}');
	}
	pt_json_close(j, '}');
	pt_q_finalize(st);
	return rc == 0 ? 0 : -1;
}

/* What the collector itself throttled, refused or could not interpret for this agent. */
static int collector_counters(struct pt_qdb *db, struct pt_json *j, int64_t agent)
{
	struct pt_q *st = NULL;
	int rc;

	if (!(st = pt_q_prepare(db, "SELECT counter, total FROM agent_counters"
				  " WHERE agent=? AND counter>=? ORDER BY counter")))
		return -1;
	pt_q_bind_i64(st, 1, agent);
	pt_q_bind_i64(st, 2, PT_SRV_COUNTER_BASE);
	pt_json_open(j, "collector", '{');
	while ((rc = pt_q_step(st)) == 1) {
		uint32_t id = (uint32_t)pt_q_i64(st, 0);
		const char *name = pt_srv_counter_name(id);
		char buf[40];

		if (!name && id >= PT_SRV_UNKNOWN_RECORD_BASE && id <= PT_SRV_UNKNOWN_RECORD_BASE + 0xffff) {
			if (id == PT_SRV_UNKNOWN_RECORD_BASE)
				snprintf(buf, sizeof(buf), "unknown_record_other");
			else
				snprintf(buf, sizeof(buf), "unknown_record_%u", id - PT_SRV_UNKNOWN_RECORD_BASE);
			name = buf;
		} else if (!name) {
			snprintf(buf, sizeof(buf), "%u", id);
			name = buf;
		}
		kcol_u64(j, name, st, 1);
	}
	pt_json_close(j, '}');
	pt_q_finalize(st);
	return rc == 0 ? 0 : -1;
}

static int gaps(struct pt_qdb *db, struct pt_json *j, int64_t agent)
{
	struct pt_q *st = NULL;
	uint64_t n = 0, missing = 0;
	int rc;

	if (!(st = pt_q_prepare(db, "SELECT stream_id, first_seq, last_seq FROM gaps WHERE agent=?"
				  " ORDER BY stream_id, first_seq")))
		return -1;
	pt_q_bind_i64(st, 1, agent);
	pt_json_open(j, "gaps", '[');
	while ((rc = pt_q_step(st)) == 1) {
		uint64_t f = (uint64_t)pt_q_i64(st, 1);
		uint64_t l = (uint64_t)pt_q_i64(st, 2);

		pt_json_open(j, NULL, '{');
		pt_json_ku64(j, "stream_id", (uint64_t)pt_q_i64(st, 0));
		pt_json_ku64(j, "first_seq", f);
		pt_json_ku64(j, "last_seq", l);
		pt_json_close(j, '}');
		n++;
		missing += l - f + 1;
	}
	pt_json_close(j, ']');
	pt_json_ku64(j, "unexplained_gaps", n);
	pt_json_ku64(j, "unexplained_missing", missing);
	pt_q_finalize(st);
	return rc == 0 ? 0 : -1;
}

int cli_local_agents(const struct cli_env *env, int argc, char **argv)
{
	struct pt_qdb *db = NULL;
	struct pt_q *st = NULL;
	struct pt_buf out;
	int rc, ret = 1;

	(void)argv;
	if (argc != 2 || strcmp(argv[1], "--json")) {
		fprintf(stderr, "usage: proctrail agents --json\n");
		return 2;
	}
	pt_buf_init(&out, 16u << 20);
	db = cli_qdb_open(env);
	if (!db)
		goto out;
	if (!(st = pt_q_prepare(db,
			       "SELECT agents.id, name, hostname, agents.version, address, mode, stream_id, last_seq,"
			       " first_seen_ns, last_seen_ns, last_pong_ns, health, connected,"
			       " queue_depth, spool_bytes, agent_next_seq, agent_acked_seq, events,"
			       " duplicates, policy_version,"
			       " (SELECT count(*) FROM regressions r WHERE r.agent = agents.id),"
			       " p.version, p.since_ns, p.result_version, p.result_code,"
			       " p.result_message"
			       " FROM agents LEFT JOIN agent_policy p ON p.agent = agents.name"
			       " ORDER BY name"))) {
		log_warnx("query: %s", pt_qdb_errmsg(db));
		goto out;
	}
	while ((rc = pt_q_step(st)) == 1) {
		struct pt_json j = { .out = &out };
		int64_t id = pt_q_i64(st, 0);

		pt_buf_reset(&out);
		pt_json_raw(&j, "{");
		kcol_str(&j, "agent.id", st, 1);
		kcol_str(&j, "agent.name", st, 1);
		kcol_str(&j, "host.name", st, 2);
		kcol_str(&j, "agent.version", st, 3);
		kcol_str(&j, "address", st, 4);
		pt_json_kcstr(&j, "mode", pt_q_i64(st, 5) == PT_MODE_PULL ? "pull" : "stream");
		kcol_str(&j, "health", st, 11);
		pt_json_kbool(&j, "connected", pt_q_i64(st, 12) != 0);
		kcol_u64(&j, "stream_id", st, 6);
		kcol_u64(&j, "last_seq", st, 7);
		kcol_time(&j, "first_seen", st, 8);
		kcol_time(&j, "last_seen", st, 9);
		kcol_time(&j, "last_pong", st, 10);
		kcol_u64(&j, "queue_depth", st, 13);
		kcol_u64(&j, "spool_bytes", st, 14);
		kcol_u64(&j, "agent_next_seq", st, 15);
		kcol_u64(&j, "agent_acked_seq", st, 16);
		kcol_u64(&j, "events", st, 17);
		kcol_u64(&j, "duplicates", st, 18);
		/* the version the agent acknowledged enforcing (POLICY_RESULT), else its HELLO's */
		kcol_u64(&j, "policy_version", st, !pt_q_null(st, 21) ? 21 : 19);
		kcol_time(&j, "policy_since", st, 22);
		kcol_u64(&j, "policy_result_version", st, 23);
		kcol_u64(&j, "policy_result_code", st, 24);
		kcol_str(&j, "policy_result_message", st, 25);
		/* HELLOs whose stream was behind what is stored (an old snapshot of the spool) */
		kcol_u64(&j, "sequence_regressions", st, 20);
		if (counters(db, &j, id) || collector_counters(db, &j, id) || gaps(db, &j, id)) {
			log_warnx("query: %s", pt_qdb_errmsg(db));
			goto out;
		}
		pt_json_raw(&j, "}\n");
		if (j.err) {
			log_warnx("agent record too large to print");
			goto out;
		}
		fwrite(out.data, 1, out.len, stdout);
	}
	if (rc != 0) {
		log_warnx("query: %s", pt_qdb_errmsg(db));
		goto out;
	}
	ret = fflush(stdout) ? 1 : 0;
out:
	pt_buf_free(&out);
	pt_q_finalize(st);
	pt_qdb_close(db);
	return ret;
}
