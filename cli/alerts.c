/* proctrail alerts: the Sigma matches the collector stored (docs/detection.md), newest last,
 * as a table or one JSON object per line with the event that matched in ECS. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../lib/ecs/json.h"
#include "db.h"
#include "proctrail/buf.h"
#include "proctrail/conf.h"
#include "proctrail/ecs.h"
#include "proctrail/escape.h"
#include "proctrail/log.h"
#include "proctrail/wire.h"

#define ALERTS_USAGE "usage: proctrail alerts [--json] [--rule ID] [--level LEVEL] " \
		     "[--agent NAME] [--limit N]\n"

static const char *col(sqlite3_stmt *st, int i)
{
	const char *s = (const char *)sqlite3_column_text(st, i);

	return s ? s : "";
}

static void print_row(sqlite3_stmt *st, const struct pt_record *r)
{
	struct pt_esc t, a, x;
	char when[32];
	time_t sec = (time_t)(sqlite3_column_int64(st, 6) / 1000000000);
	struct tm tm;
	const char *exe = "", *title = col(st, 2), *agent = col(st, 4);
	size_t exe_len = 0;

	gmtime_r(&sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (r && r->type == PT_REC_PROCESS_EXEC) {
		exe = r->u.exec.path.ptr;
		exe_len = r->u.exec.path.len;
	}
	printf("%-20s  %-13s  %-8s  %-40s  %-12s  %s\n", when, col(st, 8), col(st, 3),
	       pt_esc(&t, title, strlen(title)), pt_esc(&a, agent, strlen(agent)),
	       pt_esc(&x, exe ? exe : "", exe ? exe_len : 0));
}

static int print_json(sqlite3_stmt *st, const struct pt_record *r, struct pt_buf *line)
{
	const char *agent = (const char *)sqlite3_column_text(st, 4);
	const char *host = (const char *)sqlite3_column_text(st, 5);
	struct pt_ecs_context ctx = { .agent_id = agent, .agent_name = agent, .host_name = host };
	struct pt_json j = { .out = line };

	pt_buf_reset(line);
	pt_json_open(&j, NULL, '{');
	pt_json_ku64_str(&j, "alert_id", (uint64_t)sqlite3_column_int64(st, 0));
	pt_json_ktime(&j, "@timestamp", (uint64_t)sqlite3_column_int64(st, 6));
	pt_json_ktime(&j, "created", (uint64_t)sqlite3_column_int64(st, 7));
	pt_json_open(&j, "rule", '{');
	pt_json_kcstr(&j, "id", col(st, 1));
	pt_json_kcstr(&j, "name", col(st, 2));
	pt_json_kcstr(&j, "level", col(st, 3));
	pt_json_kcstr(&j, "ruleset", "sigma");
	pt_json_kcstr(&j, "file", col(st, 9));
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
	pt_json_ku64_str(&j, "event_id", (uint64_t)sqlite3_column_int64(st, 8));
	if (j.err)
		return j.err;
	if (r) {
		pt_json_key(&j, "event");
		if (j.err || pt_ecs_format(r, &ctx, line))
			return -EMSGSIZE;
		j.need_comma = true;
	}
	pt_json_close(&j, '}');
	if (j.err || pt_buf_append(line, "\n", 1))
		return -EMSGSIZE;
	return fwrite(line->data, 1, line->len, stdout) == line->len ? 0 : -EIO;
}

int cmd_alerts(const struct cli_env *env, int argc, char **argv)
{
	const char *rule = NULL, *level = NULL, *agent = NULL;
	int json = 0, a, ret = 1, rc;
	uint64_t limit = 0;
	char err[256];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	struct pt_buf line;

	pt_buf_init(&line, 1u << 20);
	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--json")) {
			json = 1;
		} else if (!strcmp(argv[a], "--rule") && a + 1 < argc) {
			rule = argv[++a];
		} else if (!strcmp(argv[a], "--level") && a + 1 < argc) {
			level = argv[++a];
		} else if (!strcmp(argv[a], "--agent") && a + 1 < argc) {
			agent = argv[++a];
		} else if (!strcmp(argv[a], "--limit") && a + 1 < argc) {
			if (pt_conf_u64("--limit", argv[++a], 1, INT64_MAX, &limit, err, sizeof(err))) {
				fprintf(stderr, "proctrail alerts: %s\n", err);
				return 2;
			}
		} else {
			fputs(ALERTS_USAGE, stderr);
			return 2;
		}
	}
	db = cli_db_open(env);
	if (!db)
		goto out;
	/* --limit N: the N most recent, printed oldest first like tail(1) */
	if (sqlite3_prepare_v2(db,
		"SELECT * FROM (SELECT al.id, al.rule_id, al.title, al.level, a.name, h.name,"
		" al.time_ns, al.created_ns, al.event, al.rule_file, e.record"
		" FROM alerts al JOIN agents a ON a.id = al.agent LEFT JOIN hosts h ON h.id = al.host"
		" LEFT JOIN events e ON e.id = al.event"
		" WHERE (?1 IS NULL OR al.rule_id = ?1) AND (?2 IS NULL OR al.level = ?2)"
		" AND (?3 IS NULL OR a.name = ?3) ORDER BY al.id DESC LIMIT ?4) ORDER BY 1",
		-1, &st, NULL) != SQLITE_OK) {
		log_warnx("query: %s", sqlite3_errmsg(db));
		goto out;
	}
	if (rule)
		sqlite3_bind_text(st, 1, rule, -1, SQLITE_STATIC);
	if (level)
		sqlite3_bind_text(st, 2, level, -1, SQLITE_STATIC);
	if (agent)
		sqlite3_bind_text(st, 3, agent, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, limit ? (sqlite3_int64)limit : -1);
	if (!json)
		printf("%-20s  %-13s  %-8s  %-40s  %-12s  %s\n", "time", "event", "level", "rule",
		       "agent", "executable");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const uint8_t *rec = sqlite3_column_blob(st, 10);
		size_t len = (size_t)sqlite3_column_bytes(st, 10), used;
		struct pt_record r, *rp = NULL;

		if (rec && !pt_record_decode(rec, len, &r, &used, NULL) && used == len &&
		    r.type != PT_REC_UNKNOWN)
			rp = &r;
		if (!json) {
			print_row(st, rp);
		} else if (print_json(st, rp, &line)) {
			log_warnx("alert %lld could not be written", (long long)sqlite3_column_int64(st, 0));
			goto out;
		}
	}
	if (rc != SQLITE_DONE) {
		log_warnx("query: %s", sqlite3_errmsg(db));
		goto out;
	}
	ret = fflush(stdout) ? 1 : 0;
out:
	pt_buf_free(&line);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return ret;
}
