/* `proctrail events --json` where no API is configured (no --url, $PROCTRAIL_URL or
 * HOME/api.url), or with --db: the stored records read from the collector's database (its
 * SQLite file on this host, or PostgreSQL),
 * decoded with lib/wire and printed with the same ECS formatter as `proctrail-agent --stdout`. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "dbq.h"
#include "proctrail/buf.h"
#include "proctrail/conf.h"
#include "proctrail/ecs.h"
#include "proctrail/hex.h"
#include "proctrail/log.h"
#include "proctrail/wire.h"

int cli_local_events(const struct cli_env *env, int argc, char **argv)
{
	const char *agent = NULL;
	uint8_t sha[PT_SHA256_LEN];
	int has_sha = 0, json = 0, a, ret = 1, rc;
	uint64_t limit = 0;
	char err[256], sql[1024];
	struct pt_qdb *db = NULL;
	struct pt_q *st = NULL;
	struct pt_buf line;
	uint64_t bad = 0;

	pt_buf_init(&line, 1u << 20);
	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--json")) {
			json = 1;
		} else if (!strcmp(argv[a], "--sha256") && a + 1 < argc) {
			const char *hex = argv[++a];

			if (pt_hex_decode(hex, strlen(hex), sha, PT_SHA256_LEN)) {
				fprintf(stderr, "proctrail events: --sha256 wants 64 hex digits\n");
				return 2;
			}
			has_sha = 1;
		} else if (!strcmp(argv[a], "--agent") && a + 1 < argc) {
			agent = argv[++a];
		} else if (!strcmp(argv[a], "--limit") && a + 1 < argc) {
			if (pt_conf_u64("--limit", argv[++a], 1, INT64_MAX, &limit, err, sizeof(err))) {
				fprintf(stderr, "proctrail events: %s\n", err);
				return 2;
			}
		} else {
			fprintf(stderr, "usage: proctrail events --json [--sha256 HEX] [--agent NAME]"
					" [--limit N]\n");
			return 2;
		}
	}
	if (!json) {
		fprintf(stderr, "proctrail events: only --json output exists for now\n");
		return 2;
	}
	/* --limit N: the N most recent, printed oldest first like tail(1). One text for SQLite
	 * and PostgreSQL (which wants the derived table named, and no negative LIMIT). */
	snprintf(sql, sizeof(sql),
		 "SELECT * FROM (SELECT e.id, e.record, a.name, h.name, e.stream_id, e.seq"
		 " FROM events e JOIN agents a ON a.id = e.agent LEFT JOIN hosts h ON h.id = e.host"
		 " WHERE (?1 IS NULL OR e.sha256 = ?1) AND (?2 IS NULL OR a.name = ?2)"
		 " ORDER BY e.id DESC%s) AS t ORDER BY 1", limit ? " LIMIT ?3" : "");
	db = cli_qdb_open(env);
	if (!db)
		goto out;
	if (!(st = pt_q_prepare_stream(db, sql))) {
		log_warnx("query: %s", pt_qdb_errmsg(db));
		goto out;
	}
	pt_q_bind_blob(st, 1, has_sha ? sha : NULL, sizeof(sha));
	pt_q_bind_text(st, 2, agent);
	if (limit)
		pt_q_bind_i64(st, 3, (int64_t)limit);
	while ((rc = pt_q_step(st)) == 1) {
		size_t len, used;
		const uint8_t *rec = pt_q_blob(st, 1, &len);
		const char *name = pt_q_text(st, 2, NULL);
		const char *host = pt_q_text(st, 3, NULL);
		struct pt_ecs_context ctx = {
			.agent_id = name, .agent_name = name, .host_name = host,
			.stream_id = (uint64_t)pt_q_i64(st, 4),
			.sequence = (uint64_t)pt_q_i64(st, 5), .has_sequence = true,
		};
		struct pt_record r;

		pt_buf_reset(&line);
		if (!rec || pt_record_decode(rec, len, &r, &used, NULL) || used != len ||
		    r.type == PT_REC_UNKNOWN || pt_ecs_format(&r, &ctx, &line) ||
		    pt_buf_append(&line, "\n", 1)) {
			bad++;   /* a newer record type, or not decodable: reported below */
			continue;
		}
		if (fwrite(line.data, 1, line.len, stdout) != line.len)
			goto out;
	}
	if (rc != 0) {
		log_warnx("query: %s", pt_qdb_errmsg(db));
		goto out;
	}
	if (bad)
		log_warnx("%llu stored records could not be shown (unknown type or undecodable)",
			  (unsigned long long)bad);
	ret = fflush(stdout) ? 1 : 0;
out:
	pt_buf_free(&line);
	pt_q_finalize(st);
	pt_qdb_close(db);
	return ret;
}
