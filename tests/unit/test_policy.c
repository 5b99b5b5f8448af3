/* Block policies: the POLICY frame's rules, the versioned store (lib/policy) on an in-memory
 * SQLite database, and the exec_blocked record's ECS decision. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "proctrail/ecs.h"
#include "proctrail/policy.h"
#include "proctrail/wire.h"

#define HEX_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HEX_B "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"

static void test_policy_frame_rules(void **state)
{
	static uint8_t buf[1 << 16];
	struct pt_policy_rule in[3] = { 0 }, out;
	struct pt_writer w;
	struct pt_frame_header h;
	struct pt_frame f;
	struct pt_policy m;
	struct pt_policy_iter it;

	(void)state;
	for (int i = 0; i < 3; i++) {
		memset(in[i].sha256, 0x10 + i, PT_SHA256_LEN);
		in[i].rule_id = 1000u + (unsigned)i;
		in[i].flags = i == 1 ? PT_RULE_F_AUDIT : 0;
	}
	pt_writer_init(&w, buf, sizeof(buf));
	assert_int_equal(pt_policy_rules_encode(&w, 42, in, 3), 0);
	assert_int_equal(pt_frame_header_parse(buf, w.len, PT_FRAME_MAX, &h), 0);
	assert_int_equal(pt_frame_split(buf, w.len, &f), 0);
	assert_int_equal(pt_policy_decode(&f, &m, NULL), 0);
	assert_int_equal(m.version, 42);
	assert_int_equal(m.n_rules, 3);
	assert_int_equal(m.n_hashes, 0);
	pt_policy_iter_init(&it, &f);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(pt_policy_next_rule(&it, &out), 1);
		assert_memory_equal(out.sha256, in[i].sha256, PT_SHA256_LEN);
		assert_int_equal(out.rule_id, in[i].rule_id);
		assert_int_equal(out.flags, in[i].flags);
	}
	assert_int_equal(pt_policy_next_rule(&it, &out), 0);

	/* the older SHA256-only form still reads, as block rules with id 0 */
	uint8_t hashes[2][PT_SHA256_LEN];
	memset(hashes, 0x77, sizeof(hashes));
	pt_writer_init(&w, buf, sizeof(buf));
	assert_int_equal(pt_policy_encode(&w, 7, (const uint8_t (*)[PT_SHA256_LEN])hashes, 2), 0);
	assert_int_equal(pt_frame_split(buf, w.len, &f), 0);
	assert_int_equal(pt_policy_decode(&f, &m, NULL), 0);
	assert_int_equal(m.n_hashes, 2);
	pt_policy_iter_init(&it, &f);
	assert_int_equal(pt_policy_next_rule(&it, &out), 1);
	assert_int_equal(out.rule_id, 0);
	assert_int_equal(out.flags, 0);

	/* a rule of the wrong width is malformed */
	pt_writer_init(&w, buf, sizeof(buf));
	struct pt_frame_builder fb;
	pt_frame_begin(&fb, &w, PT_FRAME_POLICY);
	pt_put_u64(&w, PT_POLICY_VERSION, 1);
	pt_put_bytes(&w, PT_POLICY_RULE, hashes[0], PT_SHA256_LEN);
	assert_int_equal(pt_frame_end(&fb), 0);
	assert_int_equal(pt_frame_split(buf, w.len, &f), 0);
	assert_true(pt_policy_decode(&f, &m, NULL) < 0);
	assert_int_equal(pt_policy_rules_encode(&w, 1, in, PT_POLICY_HASHES_MAX + 1), -EMSGSIZE);
}

static sqlite3 *mem_db(void)
{
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	assert_int_equal(pt_policy_schema(db), 0);
	return db;
}

static int count_rule(void *ctx, const struct pt_policy_rule_info *r)
{
	(void)r;
	(*(int *)ctx)++;
	return 0;
}

static void test_versions_and_scope(void **state)
{
	sqlite3 *db = mem_db();
	char err[512];
	uint64_t v = 0, cur;
	struct pt_policy_rule *rules;
	uint32_t n;
	int listed = 0;

	(void)state;
	assert_int_equal(pt_policy_version(db, &cur), 0);
	assert_int_equal(cur, 0);
	struct pt_policy_change a = { .sha256_hex = HEX_A, .reason = "test", .audit = true,
				      .operator_name = "unit" };
	assert_int_equal(pt_policy_block(db, &a, 1, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 1);
	struct pt_policy_change b = { .sha256_hex = HEX_B, .reason = "one agent", .agent = "host-1",
				      .audit = true };
	assert_int_equal(pt_policy_block(db, &b, 2, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 2);
	assert_int_equal(pt_policy_version(db, &cur), 0);
	assert_int_equal(cur, 2);

	assert_int_equal(pt_policy_rules_for(db, "host-1", 2, &rules, &n), 0);
	assert_int_equal(n, 2);
	assert_true(rules[0].flags & PT_RULE_F_AUDIT);
	free(rules);
	assert_int_equal(pt_policy_rules_for(db, "host-2", 2, &rules, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(rules[0].sha256[0], 0xaa);
	free(rules);
	/* version 1 did not have B yet */
	assert_int_equal(pt_policy_rules_for(db, "host-1", 1, &rules, &n), 0);
	assert_int_equal(n, 1);
	free(rules);

	assert_int_equal(pt_policy_unblock(db, &a, 3, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 3);
	assert_int_equal(pt_policy_rules_for(db, "host-2", 3, &rules, &n), 0);
	assert_int_equal(n, 0);
	free(rules);
	/* nothing active: refused, and no version made */
	assert_int_equal(pt_policy_unblock(db, &a, 4, &v, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "no active rule"));
	assert_int_equal(pt_policy_version(db, &cur), 0);
	assert_int_equal(cur, 3);
	assert_int_equal(pt_policy_list(db, count_rule, &listed), 0);
	assert_int_equal(listed, 1);
	sqlite3_close(db);
}

static void test_refusals(void **state)
{
	sqlite3 *db = mem_db();
	char err[512];
	uint64_t v = 0, cur;
	uint8_t sha[PT_SHA256_LEN];

	(void)state;
	assert_int_equal(pt_policy_parse_sha256("abc", sha, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "malformed SHA-256"));
	assert_int_equal(pt_policy_parse_sha256(HEX_A "0", sha, err, sizeof(err)), -EINVAL);
	char bad[] = HEX_A;
	bad[10] = 'g';
	assert_int_equal(pt_policy_parse_sha256(bad, sha, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "non-hex"));

	struct pt_policy_change c = { .sha256_hex = HEX_A, .audit = true };
	assert_int_equal(pt_policy_block(db, &c, 1, &v, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "reason"));
	c.reason = "bidi \xe2\x80\xae text";
	assert_int_equal(pt_policy_block(db, &c, 1, &v, err, sizeof(err)), -EINVAL);
	c.reason = "ok";
	c.agent = "bad name/..";
	assert_int_equal(pt_policy_block(db, &c, 1, &v, err, sizeof(err)), -EINVAL);
	assert_int_equal(pt_policy_version(db, &cur), 0);
	assert_int_equal(cur, 0);   /* nothing refused made a version */
	sqlite3_close(db);
}

static void test_guardrail_own_program(void **state)
{
	uint8_t sha[PT_SHA256_LEN];
	char err[512];
	FILE *f = fopen("/proc/self/exe", "rb");
	(void)state;
	assert_non_null(f);
	fclose(f);
	/* the shell this test runs under is an ancestor; /bin/sh at least is always refused */
	sqlite3 *db = mem_db();
	FILE *p = popen("sha256sum /bin/sh", "r");
	char hex[80] = "";
	assert_non_null(p);
	assert_non_null(fgets(hex, sizeof(hex), p));
	pclose(p);
	hex[64] = 0;
	assert_int_equal(pt_policy_parse_sha256(hex, sha, err, sizeof(err)), 0);
	assert_int_equal(pt_policy_guardrail(sha, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "refused"));
	struct pt_policy_change c = { .sha256_hex = hex, .reason = "no" };
	uint64_t v;
	assert_int_equal(pt_policy_block(db, &c, 1, &v, err, sizeof(err)), -EPERM);
	/* audit-only never blocks anything: allowed */
	c.audit = true;
	assert_int_equal(pt_policy_block(db, &c, 1, &v, err, sizeof(err)), 0);
	sqlite3_close(db);
}

static void test_result_since(void **state)
{
	sqlite3 *db = mem_db();
	sqlite3_stmt *st;

	(void)state;
	assert_int_equal(pt_policy_result_store(db, "a", 3, 0, "ok", 100), 0);
	assert_int_equal(pt_policy_result_store(db, "a", 3, 0, "ok", 200), 0);   /* same version */
	assert_int_equal(pt_policy_result_store(db, "a", 4, 7, "refused", 300), 0);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT version, since_ns, result_version,"
					    " result_code FROM agent_policy WHERE agent='a'", -1, &st,
					    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int64(st, 0), 3);     /* still enforces 3 */
	assert_int_equal(sqlite3_column_int64(st, 1), 100);   /* since it first applied it */
	assert_int_equal(sqlite3_column_int64(st, 2), 4);
	assert_int_equal(sqlite3_column_int64(st, 3), 7);
	sqlite3_finalize(st);
	assert_int_equal(pt_policy_result_store(db, "a", 5, 0, "ok", 400), 0);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT version, since_ns FROM agent_policy", -1, &st,
					    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int64(st, 0), 5);
	assert_int_equal(sqlite3_column_int64(st, 1), 400);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static void test_blocked_record_round_trip(void **state)
{
	uint8_t buf[4096];
	struct pt_writer w;
	struct pt_record r = { .type = PT_REC_EXEC_BLOCKED }, d;
	size_t used;

	(void)state;
	r.u.blocked.time_ns = 5;
	memset(r.u.blocked.sha256, 0xab, PT_SHA256_LEN);
	r.u.blocked.ppid = 9;
	r.u.blocked.size = 1234;
	r.u.blocked.rule_id = 77;
	r.u.blocked.action = PT_BLOCKED_AUDIT;
	r.u.blocked.comm = (struct pt_str){ "bash", 4 };
	r.u.blocked.parent_path = (struct pt_str){ "/bin/bash", 9 };
	pt_writer_init(&w, buf, sizeof(buf));
	assert_int_equal(pt_record_encode(&w, &r), 0);
	assert_int_equal(pt_record_decode(buf, w.len, &d, &used, NULL), 0);
	assert_int_equal(used, w.len);
	assert_int_equal(d.u.blocked.ppid, 9);
	assert_int_equal(d.u.blocked.size, 1234);
	assert_int_equal(d.u.blocked.rule_id, 77);
	assert_int_equal(d.u.blocked.action, PT_BLOCKED_AUDIT);
	assert_int_equal(d.u.blocked.parent_path.len, 9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_frame_rules),
		cmocka_unit_test(test_versions_and_scope),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_guardrail_own_program),
		cmocka_unit_test(test_result_since),
		cmocka_unit_test(test_blocked_record_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
