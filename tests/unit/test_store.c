/* The collector's SQLite store on a real (temporary) database: dedup, gaps and LOSS ranges,
 * prevalence, the pid lookup table. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "fixture.h"
#include <sqlite3.h>

#include "proctrail/log.h"
#include "proctrail/store.h"

struct fx {
	char dir[PT_TMPDIR_LEN], path[96];
	struct pt_store *s;
	struct pt_store_hello_result h;
	uint8_t raw[64];
};

static int64_t q1(struct fx *f, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -1;

	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	uint8_t boot[PT_BOOT_ID_LEN] = { 1 };
	struct pt_store_hello h = { .agent_name = "a1", .hostname = "host-a1", .version = "t",
		.address = "127.0.0.1:1", .boot_id = boot, .stream_id = 7, .first_seq = 1,
		.next_seq = 1, .mode = PT_MODE_STREAM };

	log_init("test_store", 0);
	assert_int_equal(pt_tmpdir_make(f->dir, "test_store"), 0);
	snprintf(f->path, sizeof(f->path), "%s/db", f->dir);
	assert_int_equal(pt_store_open(&f->s, f->path), 0);
	assert_int_equal(pt_store_begin(f->s), 0);
	assert_int_equal(pt_store_hello(f->s, &h, 1000, &f->h), 0);
	assert_int_equal(pt_store_commit(f->s), 0);
	assert_false(f->h.has_acked);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	int rc;

	pt_store_close(f->s);
	pt_store_close(NULL);
	rc = pt_tmpdir_remove(f->dir);
	free(f);
	return rc;
}

/* A batch of n exec-like events (only the extracted fields matter to the store), with the
 * Sigma matches the session found in it. */
static int put_alerts(struct fx *f, uint64_t stream, uint64_t first, uint32_t n, int sha_mod,
		      const struct pt_store_alert *alerts, uint32_t n_alerts,
		      struct pt_store_batch_result *r)
{
	struct pt_store_event *ev = calloc(n, sizeof(*ev));
	struct pt_store_batch b = { .agent = f->h.agent, .host = f->h.host, .stream_id = stream,
		.first_seq = first, .count = n, .raw = f->raw, .raw_len = 8, .ev = ev,
		.alerts = alerts, .n_alerts = n_alerts };
	uint32_t i;
	int ret;

	for (i = 0; i < n; i++) {
		ev[i].seq = first + i;
		ev[i].type = PT_REC_PROCESS_EXEC;
		ev[i].time_ns = 100 + first + i;
		ev[i].pid = 1000 + (uint32_t)((first + i) % 7);
		ev[i].has_pid = true;
		ev[i].has_sha = sha_mod > 0;
		if (sha_mod > 0)
			ev[i].sha256[0] = (uint8_t)((first + i) % (uint64_t)sha_mod);
		ev[i].len = 8;
	}
	ret = pt_store_begin(f->s);
	if (!ret)
		ret = pt_store_batch(f->s, &b, 2000, r);
	if (!ret)
		ret = pt_store_commit(f->s);
	free(ev);
	return ret;
}

static int put(struct fx *f, uint64_t stream, uint64_t first, uint32_t n, int sha_mod,
	       struct pt_store_batch_result *r)
{
	return put_alerts(f, stream, first, n, sha_mod, NULL, 0, r);
}

/* An alert row is made with the event row it names, never for a resent event: exactly one
 * per (event, rule) however often a batch comes, tied to the stored row. */
static void test_alerts_once_per_event(void **state)
{
	struct fx *f = *state;
	struct pt_store_batch_result r;
	const struct pt_store_alert first[] = {
		{ 0, "rule-a", "A", "high", "a.yml" }, { 2, "rule-a", "A", "high", "a.yml" },
		{ 2, "rule-b", "B", "low", "b.yml" }, { 3, "rule-b", "B", "low", "b.yml" },
	};
	/* seq 3..6: 3 and 4 are stored already (evaluated again, differently: ignored) */
	const struct pt_store_alert again[] = {
		{ 0, "rule-a", "A", "high", "a.yml" }, { 0, "rule-b", "B", "low", "b.yml" },
		{ 1, "rule-b", "B", "low", "b.yml" }, { 2, "rule-a", "A", "high", "a.yml" },
	};

	assert_int_equal(put_alerts(f, 7, 1, 4, 0, first, 4, &r), 0);
	assert_int_equal(r.inserted, 4);
	assert_int_equal(q1(f, "SELECT count(*) FROM alerts"), 4);
	assert_int_equal(put_alerts(f, 7, 1, 4, 0, first, 4, &r), 0);     /* resent whole */
	assert_int_equal(r.inserted, 0);
	assert_int_equal(q1(f, "SELECT count(*) FROM alerts"), 4);
	assert_int_equal(put_alerts(f, 7, 3, 4, 0, again, 4, &r), 0);     /* half resent */
	assert_int_equal(r.inserted, 2);
	assert_int_equal(q1(f, "SELECT count(*) FROM alerts"), 5);
	assert_int_equal(pt_store_alerts(f->s), 5);
	/* each alert names its own event's row */
	assert_int_equal(q1(f, "SELECT count(*) FROM alerts a JOIN events e ON e.id = a.event"
			      " WHERE (e.seq, a.rule_id) IN (VALUES (1, 'rule-a'), (3, 'rule-a'),"
			      " (3, 'rule-b'), (4, 'rule-b'), (5, 'rule-a'))"), 5);
	assert_int_equal(q1(f, "SELECT count(*) FROM alerts a JOIN events e ON e.id = a.event"
			      " WHERE a.time_ns = e.time_ns AND a.level IN ('high', 'low')"), 5);
}

static void test_dedup(void **state)
{
	struct fx *f = *state;
	struct pt_store_batch_result r;

	assert_int_equal(put(f, 7, 1, 100, 0, &r), 0);
	assert_int_equal(r.inserted, 100);
	assert_int_equal(r.high_seq, 100);
	assert_int_equal(put(f, 7, 51, 100, 0, &r), 0);     /* half resent */
	assert_int_equal(r.inserted, 50);
	assert_int_equal(put(f, 7, 1, 150, 0, &r), 0);      /* all resent */
	assert_int_equal(r.inserted, 0);
	assert_int_equal(q1(f, "SELECT count(*) FROM events"), 150);
	assert_int_equal(q1(f, "SELECT duplicates FROM agents"), 200);
	assert_int_equal(q1(f, "SELECT count(*) FROM gaps"), 0);
	/* invalid batches are refused before any write */
	assert_int_equal(put(f, 7, 0, 1, 0, &r), -EINVAL);
}

static void test_gaps_and_loss(void **state)
{
	struct fx *f = *state;
	struct pt_store_batch_result r;
	struct pt_store_event loss = { .seq = 31, .type = PT_REC_LOSS, .loss_counter = PT_LOSS_SPOOL_FULL,
		.loss_count = 5, .loss_has_range = true, .loss_first = 12, .loss_last = 16, .len = 8 };
	struct pt_store_batch b = { .agent = f->h.agent, .host = f->h.host, .stream_id = 7,
		.first_seq = 31, .count = 1, .raw = f->raw, .raw_len = 8, .ev = &loss };

	assert_int_equal(put(f, 7, 1, 10, 0, &r), 0);
	assert_int_equal(put(f, 7, 21, 10, 0, &r), 0);      /* 11..20 missing */
	assert_int_equal(q1(f, "SELECT first_seq*100+last_seq FROM gaps"), 1120);
	/* a new stream is a new sequence space, not a gap */
	assert_int_equal(put(f, 8, 1, 5, 0, &r), 0);
	assert_int_equal(q1(f, "SELECT count(*) FROM gaps"), 1);
	/* LOSS for 12..16 splits the gap into 11 and 17..20 */
	assert_int_equal(pt_store_begin(f->s), 0);
	assert_int_equal(pt_store_batch(f->s, &b, 3000, &r), 0);
	assert_int_equal(pt_store_commit(f->s), 0);
	assert_int_equal(q1(f, "SELECT count(*) FROM gaps"), 2);
	assert_int_equal(q1(f, "SELECT sum(last_seq - first_seq + 1) FROM gaps"), 5);
	assert_int_equal(q1(f, "SELECT reported FROM agent_counters WHERE counter=4"), 5);
	/* The same LOSS resent (an agent restarted before the ACK) is stored once and counted once. */
	assert_int_equal(pt_store_begin(f->s), 0);
	assert_int_equal(pt_store_batch(f->s, &b, 3100, &r), 0);
	assert_int_equal(pt_store_commit(f->s), 0);
	assert_int_equal(r.inserted, 0);
	assert_int_equal(q1(f, "SELECT reported FROM agent_counters WHERE counter=4"), 5);
	/* a late resend fills 17..20; only 11 stays unexplained */
	assert_int_equal(put(f, 7, 17, 4, 0, &r), 0);
	assert_int_equal(q1(f, "SELECT first_seq*100+last_seq FROM gaps"), 1111);
	/* a LOSS range already known explains a gap found later (stream 8: 6..9 covered) */
}

static void test_hello_gap(void **state)
{
	struct fx *f = *state;
	struct pt_store_hello_result hr;
	uint8_t boot[PT_BOOT_ID_LEN] = { 2 };
	struct pt_store_hello h = { .agent_name = "a1", .hostname = "host-a1", .version = "t",
		.address = "x", .boot_id = boot, .stream_id = 9, .first_seq = 40, .next_seq = 50,
		.mode = PT_MODE_PULL };
	struct pt_store_batch_result r;

	assert_int_equal(pt_store_begin(f->s), 0);
	assert_int_equal(pt_store_hello(f->s, &h, 5000, &hr), 0);
	assert_int_equal(pt_store_commit(f->s), 0);
	assert_true(hr.has_acked);
	assert_int_equal(hr.acked_seq, 39);
	assert_int_equal(hr.agent, f->h.agent);             /* same name, same agent row */
	assert_int_equal(q1(f, "SELECT first_seq*100+last_seq FROM gaps WHERE stream_id=9"), 139);
	assert_int_equal(put(f, 9, 40, 10, 0, &r), 0);
	/* a second HELLO on the same stream reports what is held */
	h.first_seq = 50;
	assert_int_equal(pt_store_begin(f->s), 0);
	assert_int_equal(pt_store_hello(f->s, &h, 6000, &hr), 0);
	assert_int_equal(pt_store_commit(f->s), 0);
	assert_int_equal(hr.acked_seq, 49);
	assert_int_equal(q1(f, "SELECT count(*) FROM gaps"), 1);
}

static void test_binaries_and_index(void **state)
{
	struct fx *f = *state;
	struct pt_store_batch_result r;
	uint64_t n;

	assert_int_equal(put(f, 7, 1, 300, 3, &r), 0);    /* 3 distinct hashes */
	assert_int_equal(put(f, 7, 301, 30, 3, &r), 0);
	assert_int_equal(q1(f, "SELECT count(*) FROM binaries"), 3);
	assert_int_equal(q1(f, "SELECT sum(execs) FROM binaries"), 330);
	/* a resent batch stores nothing: no exec is counted again */
	assert_int_equal(put(f, 7, 1, 300, 3, &r), 0);
	assert_int_equal(r.inserted, 0);
	assert_int_equal(q1(f, "SELECT sum(execs) FROM binaries"), 330);
	assert_int_equal(q1(f, "SELECT sum(execs) FROM binary_agent_stats"), 330);
	assert_int_equal(q1(f, "SELECT max(hosts) FROM binaries"), 1);
	assert_int_equal(q1(f, "SELECT min(first_seen_ns) FROM binaries"), 101);
	assert_int_equal(q1(f, "SELECT max(last_seen_ns) FROM binaries"), 430);

	assert_int_equal(pt_store_begin(f->s), 0);
	assert_int_equal(pt_store_index(f->s, 100, &n), 0);
	assert_int_equal(n, 100);
	assert_int_equal(pt_store_index(f->s, 1000, &n), 0);
	assert_int_equal(n, 230);
	assert_int_equal(pt_store_index(f->s, 1000, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(pt_store_commit(f->s), 0);
	assert_int_equal(q1(f, "SELECT count(*) FROM events_by_pid"), 330);
	assert_int_equal(q1(f, "SELECT count(*) FROM events_by_pid WHERE pid=1000"),
			 q1(f, "SELECT count(*) FROM events WHERE pid=1000"));
}

/* The API's lookup tables: keys of real exec records, the agent/time table, the distinct
 * command lines, and the per-agent prevalence. */
static void test_api_keys(void **state)
{
	static const char argv[] = "/bin/x\0-a\0b c\0";
	struct fx *f = *state;
	uint8_t raw[4096];
	struct pt_store_event ev[3];
	struct pt_store_batch b = { .agent = f->h.agent, .host = f->h.host, .stream_id = 7,
		.first_seq = 1, .count = 3, .raw = raw, .ev = ev };
	struct pt_store_batch_result r;
	struct pt_writer w;
	char sql[256];
	uint64_t n;

	pt_writer_init(&w, raw, sizeof(raw));
	for (int i = 0; i < 3; i++) {
		struct pt_record rec = { .type = PT_REC_PROCESS_EXEC, .version = 1 }, back;
		size_t off = w.len, used;

		rec.u.exec.time_ns = 1000 + (uint64_t)i;
		rec.u.exec.pid = 10;
		memset(rec.u.exec.entity_id, i + 1, PT_ENTITY_ID_LEN);
		memset(rec.u.exec.parent_entity_id, 9, PT_ENTITY_ID_LEN);
		rec.u.exec.path = (struct pt_str){ "/bin/x", 6 };
		rec.u.exec.argv = (struct pt_str){ argv, sizeof(argv) - 1 };
		memset(rec.u.exec.sha256, i ? 0xbb : 0xaa, PT_SHA256_LEN);
		rec.u.exec.hash_status = PT_HASH_OK;
		assert_int_equal(pt_record_encode(&w, &rec), 0);
		assert_int_equal(pt_record_decode(raw + off, w.len - off, &back, &used, NULL), 0);
		pt_store_event_from_record(&ev[i], &back);
		ev[i].seq = 1 + (uint64_t)i;
		ev[i].off = (uint32_t)off;
		ev[i].len = (uint32_t)(w.len - off);
	}
	b.raw_len = w.len;
	assert_int_equal(pt_store_begin(f->s), 0);
	assert_int_equal(pt_store_batch(f->s, &b, 5000, &r), 0);
	assert_int_equal(pt_store_commit(f->s), 0);
	assert_int_equal(q1(f, "SELECT value FROM meta WHERE key='key_indexed_upto'"), 0);
	/* committed, not yet indexed: in events only (the API reads them there) */
	assert_int_equal(q1(f, "SELECT count(*) FROM cmdline_fts"), 0);
	assert_int_equal(q1(f, "SELECT count(*) FROM ev_key"), 0);
	assert_int_equal(pt_store_begin(f->s), 0);
	assert_int_equal(pt_store_index(f->s, 1000, &n), 0);
	assert_int_equal(pt_store_commit(f->s), 0);
	assert_int_equal(n, 3);
	assert_int_equal(q1(f, "SELECT value FROM meta WHERE key='key_indexed_upto'"), 3);
	{
		uint8_t e[PT_ENTITY_ID_LEN], sha[PT_SHA256_LEN];

		memset(e, 2, sizeof(e));
		snprintf(sql, sizeof(sql), "SELECT group_concat(event) FROM ev_key WHERE k=%lld",
			 (long long)pt_store_key('e', e, sizeof(e)));
		assert_int_equal(q1(f, sql), 2);
		memset(e, 9, sizeof(e));
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM ev_key WHERE k=%lld",
			 (long long)pt_store_key('P', e, sizeof(e)));
		assert_int_equal(q1(f, sql), 3);
		memset(sha, 0xbb, sizeof(sha));
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM ev_key WHERE k=%lld",
			 (long long)pt_store_key('h', sha, sizeof(sha)));
		assert_int_equal(q1(f, sql), 2);
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM ev_key WHERE k=%lld",
			 (long long)pt_store_key('x', "/bin/x", 6));
		assert_int_equal(q1(f, sql), 3);
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM ev_key WHERE k=%lld",
			 (long long)pt_store_key('c', "/bin/x -a b c", 13));
		assert_int_equal(q1(f, sql), 3);
	}
	assert_int_equal(q1(f, "SELECT count(*) FROM cmdlines WHERE text='/bin/x -a b c'"), 1);
	/* the trigram index has each distinct command line once, with its epoch and id */
	assert_int_equal(q1(f, "SELECT count(*) FROM cmdline_fts"), 1);
	assert_int_equal(q1(f, "SELECT count(*) FROM cmdline_fts WHERE cmdline_fts MATCH '\"-a b\"'"), 1);
	assert_int_equal(q1(f, "SELECT count(*) FROM cmdline_fts WHERE cmdline_fts MATCH '\"-A b\"'"), 0);
	assert_int_equal(q1(f, "SELECT count(*) FROM cmdline_fts WHERE cmdline_fts MATCH '\"b c d\"'"), 0);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM cmdline_fts f JOIN cmdlines c"
		 " ON c.epoch = f.epoch AND c.id = f.k WHERE f.k=%lld AND f.epoch = 0",
		 (long long)pt_store_key('c', "/bin/x -a b c", 13));
	assert_int_equal(q1(f, sql), 1);
	assert_int_equal(q1(f, "SELECT value FROM meta WHERE key='cmdline_fts_from'"), 0);
	assert_int_equal(q1(f, "SELECT count(*) FROM events_by_agent WHERE time_ns BETWEEN 1001 AND 1002"), 2);
	assert_int_equal(q1(f, "SELECT sum(execs) FROM binary_agent_stats"), 3);
	assert_int_equal(q1(f, "SELECT count(*) FROM binary_agent_stats"), 2);
	/* the two tables keep their own marks: caught up, nothing more */
	assert_int_equal(pt_store_begin(f->s), 0);
	assert_int_equal(pt_store_index(f->s, 1000, &n), 0);
	assert_int_equal(pt_store_commit(f->s), 0);
	assert_int_equal(n, 0);
	/* binary_paths: each hash's newest size and distinct paths, newest first */
	assert_int_equal(q1(f, "SELECT count(*) FROM binary_paths"), 2);
	assert_int_equal(q1(f, "SELECT count(*) FROM binary_paths WHERE hex(paths) = hex('/bin/x') || '00'"
			    " AND size = 0"), 2);
	/* a newer exec of hash bb from another path, with a size: committed, not yet indexed,
	 * then indexed (its path first, the older one kept) */
	pt_writer_init(&w, raw, sizeof(raw));
	{
		struct pt_record rec = { .type = PT_REC_PROCESS_EXEC, .version = 1 }, back;
		size_t used;

		rec.u.exec.time_ns = 2000;
		rec.u.exec.pid = 11;
		rec.u.exec.path = (struct pt_str){ "/opt/y", 6 };
		rec.u.exec.argv = (struct pt_str){ argv, sizeof(argv) - 1 };
		rec.u.exec.size = 77;
		memset(rec.u.exec.sha256, 0xbb, PT_SHA256_LEN);
		rec.u.exec.hash_status = PT_HASH_OK;
		assert_int_equal(pt_record_encode(&w, &rec), 0);
		assert_int_equal(pt_record_decode(raw, w.len, &back, &used, NULL), 0);
		pt_store_event_from_record(&ev[0], &back);
		ev[0].seq = 4;
		ev[0].off = 0;
		ev[0].len = (uint32_t)w.len;
	}
	b.first_seq = 4;
	b.count = 1;
	b.raw_len = w.len;
	assert_int_equal(pt_store_begin(f->s), 0);
	assert_int_equal(pt_store_batch(f->s, &b, 6000, &r), 0);
	assert_int_equal(pt_store_commit(f->s), 0);
	assert_int_equal(q1(f, "SELECT count(*) FROM binary_paths WHERE size = 77"), 0);
	assert_int_equal(pt_store_begin(f->s), 0);
	assert_int_equal(pt_store_index(f->s, 1000, &n), 0);
	assert_int_equal(pt_store_commit(f->s), 0);
	assert_int_equal(n, 1);
	assert_int_equal(q1(f, "SELECT count(*) FROM binary_paths WHERE size = 77 AND hex(paths) ="
			    " hex('/opt/y') || '00' || hex('/bin/x') || '00'"), 1);
	assert_int_equal(q1(f, "SELECT count(*) FROM binary_paths WHERE size = 0"), 1);
	/* the same command line again: not a second row in the trigram index */
	assert_int_equal(q1(f, "SELECT count(*) FROM cmdline_fts"), 1);
}

static void test_pong_health(void **state)
{
	struct fx *f = *state;
	struct pt_pong p = { .nonce = 1, .queue_depth = 5, .spool_bytes = 4096, .next_seq = 9,
		.acked_seq = 8, .n_counters = 2 };

	p.counters[0] = (struct pt_counter){ PT_LOSS_RING_FULL, 3 };
	p.counters[1] = (struct pt_counter){ PT_LOSS_QUEUE_FULL, 4 };
	assert_int_equal(pt_store_begin(f->s), 0);
	assert_int_equal(pt_store_health(f->s, f->h.agent, "stale", 10), 0);
	assert_int_equal(pt_store_commit(f->s), 0);
	assert_int_equal(q1(f, "SELECT health='stale' FROM agents"), 1);
	assert_int_equal(pt_store_begin(f->s), 0);
	assert_int_equal(pt_store_pong(f->s, f->h.agent, &p, 20), 0);
	assert_int_equal(pt_store_commit(f->s), 0);
	assert_int_equal(q1(f, "SELECT health='ok' AND queue_depth=5 AND spool_bytes=4096 FROM agents"), 1);
	assert_int_equal(q1(f, "SELECT sum(total) FROM agent_counters"), 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dedup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alerts_once_per_event, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gaps_and_loss, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hello_gap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_binaries_and_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pong_health, setup, teardown),
		cmocka_unit_test_setup_teardown(test_api_keys, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
