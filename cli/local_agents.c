/* `proctrail agents --json` where no API is configured: one object per agent with its
 * health, loss counters and unexplained gaps, read from the collector's SQLite file. */
#include <stdio.h>
#include <string.h>

#include "../lib/ecs/json.h"
#include "db.h"
#include "proctrail/log.h"
#include "proctrail/store.h"
#include "proctrail/wire.h"

static void kcol_str(struct pt_json *j, const char *key, sqlite3_stmt *st, int col)
{
	const char *s = (const char *)sqlite3_column_text(st, col);

	if (s)
		pt_json_kstr(j, key, s, (size_t)sqlite3_column_bytes(st, col));
}

static void kcol_u64(struct pt_json *j, const char *key, sqlite3_stmt *st, int col)
{
	if (sqlite3_column_type(st, col) != SQLITE_NULL)
		pt_json_ku64(j, key, (uint64_t)sqlite3_column_int64(st, col));
}

static void kcol_time(struct pt_json *j, const char *key, sqlite3_stmt *st, int col)
{
	if (sqlite3_column_type(st, col) != SQLITE_NULL)
		pt_json_ktime(j, key, (uint64_t)sqlite3_column_int64(st, col));
}

static int counters(sqlite3 *db, struct pt_json *j, sqlite3_int64 agent)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(db, "SELECT counter, total, reported FROM agent_counters"
				   " WHERE agent=? AND counter<? ORDER BY counter", -1, &st, NULL)
	    != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, agent);
	sqlite3_bind_int64(st, 2, PT_SRV_COUNTER_BASE);
	pt_json_open(j, "loss", '{');
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = pt_loss_counter_name((unsigned)sqlite3_column_int(st, 0));
		char num[16];

		if (!name) {
			snprintf(num, sizeof(num), "%d", sqlite3_column_int(st, 0));
			name = num;
		}
		pt_json_open(j, name, '{');
		kcol_u64(j, "total", st, 1);         /* the agent's own count (PONG) */
		kcol_u64(j, "reported", st, 2);      /* sum of its LOSS records */
		pt_json_close(j, '}');
	}
	pt_json_close(j, '}');
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* What the collector itself throttled, refused or could not interpret for this agent. */
static int collector_counters(sqlite3 *db, struct pt_json *j, sqlite3_int64 agent)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(db, "SELECT counter, total FROM agent_counters"
				   " WHERE agent=? AND counter>=? ORDER BY counter", -1, &st, NULL)
	    != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, agent);
	sqlite3_bind_int64(st, 2, PT_SRV_COUNTER_BASE);
	pt_json_open(j, "collector", '{');
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint32_t id = (uint32_t)sqlite3_column_int64(st, 0);
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
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int gaps(sqlite3 *db, struct pt_json *j, sqlite3_int64 agent)
{
	sqlite3_stmt *st = NULL;
	uint64_t n = 0, missing = 0;
	int rc;

	if (sqlite3_prepare_v2(db, "SELECT stream_id, first_seq, last_seq FROM gaps WHERE agent=?"
				   " ORDER BY stream_id, first_seq", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, agent);
	pt_json_open(j, "gaps", '[');
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint64_t f = (uint64_t)sqlite3_column_int64(st, 1);
		uint64_t l = (uint64_t)sqlite3_column_int64(st, 2);

		pt_json_open(j, NULL, '{');
		pt_json_ku64(j, "stream_id", (uint64_t)sqlite3_column_int64(st, 0));
		pt_json_ku64(j, "first_seq", f);
		pt_json_ku64(j, "last_seq", l);
		pt_json_close(j, '}');
		n++;
		missing += l - f + 1;
	}
	pt_json_close(j, ']');
	pt_json_ku64(j, "unexplained_gaps", n);
	pt_json_ku64(j, "unexplained_missing", missing);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int cli_local_agents(const struct cli_env *env, int argc, char **argv)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	struct pt_buf out;
	int rc, ret = 1;

	(void)argv;
	if (argc != 2 || strcmp(argv[1], "--json")) {
		fprintf(stderr, "usage: proctrail agents --json\n");
		return 2;
	}
	pt_buf_init(&out, 16u << 20);
	db = cli_db_open(env);
	if (!db)
		goto out;
	if (sqlite3_prepare_v2(db,
			       "SELECT id, name, hostname, version, address, mode, stream_id, last_seq,"
			       " first_seen_ns, last_seen_ns, last_pong_ns, health, connected,"
			       " queue_depth, spool_bytes, agent_next_seq, agent_acked_seq, events,"
			       " duplicates, policy_version,"
			       " (SELECT count(*) FROM regressions r WHERE r.agent = agents.id)"
			       " FROM agents ORDER BY name",
			       -1, &st, NULL) != SQLITE_OK) {
		log_warnx("query: %s", sqlite3_errmsg(db));
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct pt_json j = { .out = &out };
		sqlite3_int64 id = sqlite3_column_int64(st, 0);

		pt_buf_reset(&out);
		pt_json_raw(&j, "{");
		kcol_str(&j, "agent.id", st, 1);
		kcol_str(&j, "agent.name", st, 1);
		kcol_str(&j, "host.name", st, 2);
		kcol_str(&j, "agent.version", st, 3);
		kcol_str(&j, "address", st, 4);
		pt_json_kcstr(&j, "mode", sqlite3_column_int(st, 5) == PT_MODE_PULL ? "pull" : "stream");
		kcol_str(&j, "health", st, 11);
		pt_json_kbool(&j, "connected", sqlite3_column_int(st, 12) != 0);
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
		kcol_u64(&j, "policy_version", st, 19);
		/* HELLOs whose stream was behind what is stored (an old snapshot of the spool) */
		kcol_u64(&j, "sequence_regressions", st, 20);
		if (counters(db, &j, id) || collector_counters(db, &j, id) || gaps(db, &j, id)) {
			log_warnx("query: %s", sqlite3_errmsg(db));
			goto out;
		}
		pt_json_raw(&j, "}\n");
		if (j.err) {
			log_warnx("agent record too large to print");
			goto out;
		}
		fwrite(out.data, 1, out.len, stdout);
	}
	if (rc != SQLITE_DONE) {
		log_warnx("query: %s", sqlite3_errmsg(db));
		goto out;
	}
	ret = fflush(stdout) ? 1 : 0;
out:
	pt_buf_free(&out);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return ret;
}
