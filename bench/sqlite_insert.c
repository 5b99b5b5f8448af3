/* sqlite_insert: the machine's raw SQLite insert rate for the collector's own schema, the
 * reference that the ingest figure is divided by (bench/compare.sh, docs/benchmarks.md).
 *
 * The database is created by pt_store_open (the collector's schema, indexes, page size and
 * pragmas), then reopened with a bare connection under the same durability (WAL,
 * synchronous=FULL) to insert pre-encoded exec records (built once, like bench/replay's) with
 * the collector's event INSERT, ROWS per transaction. No network, no TLS, no decoding, no
 * prevalence, no events_by_pid fill: what is left is the B-tree and fsync work that any
 * collector on this schema must do.
 *
 *   sqlite_insert DB [events=1000000] [rows_per_commit=8000]
 *
 * Prints: events=N seconds=S events_per_sec=R cpu_s=C
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <openssl/rand.h>
#include <sqlite3.h>

#include "proctrail/clock.h"
#include "proctrail/store.h"
#include "proctrail/wire.h"

#define POOL 4096

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

struct row {
	uint32_t off, len;
	uint8_t entity[PT_ENTITY_ID_LEN], sha[PT_SHA256_LEN];
};

static int build_pool(uint8_t *buf, size_t cap, struct row *rows)
{
	uint8_t shas[64][PT_SHA256_LEN];
	struct pt_writer w;

	RAND_bytes(&shas[0][0], sizeof(shas));
	pt_writer_init(&w, buf, cap);
	for (unsigned i = 0; i < POOL; i++) {
		char argv[256];
		int alen = snprintf(argv, sizeof(argv), "/usr/bin/cc%c-O2%c-c%cfile%u.c%c-o%cfile%u.o%c",
				    0, 0, 0, i, 0, 0, i, 0);
		struct pt_record rec = { .type = PT_REC_PROCESS_EXEC, .version = 1 };
		struct pt_exec *e = &rec.u.exec;

		e->time_ns = 1000ull * i;
		e->pid = e->tid = 10000 + i;
		e->ppid = 9999;
		RAND_bytes(e->entity_id, PT_ENTITY_ID_LEN);
		RAND_bytes(e->parent_entity_id, PT_ENTITY_ID_LEN);
		e->uid = e->euid = e->gid = e->egid = 1000;
		e->path = (struct pt_str){ "/usr/bin/cc", 11 };
		e->cwd = (struct pt_str){ "/home/build/src", 15 };
		e->comm = (struct pt_str){ "cc", 2 };
		e->argv = (struct pt_str){ argv, (uint32_t)alen };
		e->args_count = 6;
		e->mode = 0100755;
		e->size = 100000 + i % 64;
		memcpy(e->sha256, shas[i % 64], PT_SHA256_LEN);
		e->hash_status = PT_HASH_OK;
		rows[i].off = (uint32_t)w.len;
		if (pt_record_encode(&w, &rec))
			return -EINVAL;
		rows[i].len = (uint32_t)w.len - rows[i].off;
		memcpy(rows[i].entity, e->entity_id, PT_ENTITY_ID_LEN);
		memcpy(rows[i].sha, e->sha256, PT_SHA256_LEN);
	}
	return 0;
}

static int run(sqlite3 *db, sqlite3_stmt *ins, const uint8_t *pool, const struct row *rows,
	       unsigned long long events, unsigned per_commit)
{
	for (unsigned long long i = 0; i < events;) {
		if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
			return -EIO;
		for (unsigned n = 0; n < per_commit && i < events; n++, i++) {
			const struct row *r = &rows[i % POOL];

			sqlite3_bind_int64(ins, 1, 1);
			sqlite3_bind_int64(ins, 2, 1);
			sqlite3_bind_int64(ins, 3, (sqlite3_int64)i + 1);
			sqlite3_bind_int64(ins, 4, PT_REC_PROCESS_EXEC);
			sqlite3_bind_int64(ins, 5, (sqlite3_int64)(1700000000000000000ull + i * 1000));
			sqlite3_bind_int64(ins, 6, 10000 + (sqlite3_int64)(i % POOL));
			sqlite3_bind_blob(ins, 7, r->entity, PT_ENTITY_ID_LEN, SQLITE_STATIC);
			sqlite3_bind_blob(ins, 8, r->sha, PT_SHA256_LEN, SQLITE_STATIC);
			sqlite3_bind_int64(ins, 9, 1);
			sqlite3_bind_blob(ins, 10, pool + r->off, (int)r->len, SQLITE_STATIC);
			if (sqlite3_step(ins) != SQLITE_DONE)
				return -EIO;
			sqlite3_reset(ins);
		}
		if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
			return -EIO;
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long long events = argc > 2 ? strtoull(argv[2], NULL, 10) : 1000000;
	unsigned per_commit = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 8000;
	static const char *const pragmas[] = { "PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL",
		"PRAGMA cache_size=-65536", "PRAGMA temp_store=MEMORY" };
	size_t cap = (size_t)POOL * 1024;
	uint8_t *pool = malloc(cap);
	struct row *rows = calloc(POOL, sizeof(*rows));
	struct pt_store *st = NULL;
	sqlite3_stmt *ins = NULL;
	sqlite3 *db = NULL;
	double t0, c0;
	int ret = 1;

	if (argc < 2 || !strcmp(argv[1], "--help") || events == 0 || events > 100000000ull ||
	    per_commit == 0 || per_commit > 1000000) {
		fprintf(stderr, "usage: sqlite_insert DB [events] [rows_per_commit]\n");
		goto out;
	}
	if (!pool || !rows || build_pool(pool, cap, rows))
		goto out;
	if (pt_store_open(&st, argv[1]))
		goto out;
	pt_store_close(st);
	if (sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		goto out;
	for (size_t i = 0; i < sizeof(pragmas) / sizeof(*pragmas); i++)
		if (sqlite3_exec(db, pragmas[i], NULL, NULL, NULL) != SQLITE_OK)
			goto out;
	if (sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO events(agent, stream_id, seq, type, time_ns,"
			       " pid, entity_id, sha256, host, record) VALUES(?,?,?,?,?,?,?,?,?,?)",
			       -1, &ins, NULL) != SQLITE_OK)
		goto out;
	t0 = pt_mono_s();
	c0 = cpu_s();
	if (run(db, ins, pool, rows, events, per_commit)) {
		fprintf(stderr, "sqlite_insert: %s\n", sqlite3_errmsg(db));
		goto out;
	}
	t0 = pt_mono_s() - t0;
	printf("events=%llu seconds=%.3f events_per_sec=%.0f cpu_s=%.2f\n", events, t0,
	       (double)events / t0, cpu_s() - c0);
	ret = 0;
out:
	sqlite3_finalize(ins);
	sqlite3_close(db);
	free(pool);
	free(rows);
	return ret;
}
