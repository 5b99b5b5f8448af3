/* The HTTP API's parameter parsers: times and relative ages, cursors, query parameters,
 * operators.tsv and the filters' test of a record. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/queue.h>
#include <cmocka.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "../../server/api_params.h"
#include "proctrail/operators.h"

#define S 1000000000ull

static void test_rfc3339(void **state)
{
	uint64_t t;

	(void)state;
	assert_int_equal(pt_api_time_parse("1970-01-01T00:00:00Z", 0, &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(pt_api_time_parse("2026-12-03T14:00:00Z", 0, &t), 0);
	assert_int_equal(t, 1796306400ull * S);
	assert_int_equal(pt_api_time_parse("2026-12-03T14:00:00.123456789Z", 0, &t), 0);
	assert_int_equal(t, 1796306400ull * S + 123456789);
	assert_int_equal(pt_api_time_parse("2026-12-03T14:00:00.5Z", 0, &t), 0);
	assert_int_equal(t, 1796306400ull * S + 500000000);
	assert_int_equal(pt_api_time_parse("2026-12-03T15:30:00+01:30", 0, &t), 0);
	assert_int_equal(t, 1796306400ull * S);
	assert_int_equal(pt_api_time_parse("2026-12-03T12:00:00-02:00", 0, &t), 0);
	assert_int_equal(t, 1796306400ull * S);
	assert_int_equal(pt_api_time_parse("2024-02-29T00:00:00Z", 0, &t), 0);
	assert_int_equal(t, 1709164800ull * S);
	/* refused */
	assert_int_equal(pt_api_time_parse("2023-02-29T00:00:00Z", 0, &t), -EINVAL);
	assert_int_equal(pt_api_time_parse("2026-13-01T00:00:00Z", 0, &t), -EINVAL);
	assert_int_equal(pt_api_time_parse("2026-12-03T24:00:00Z", 0, &t), -EINVAL);
	assert_int_equal(pt_api_time_parse("2026-12-03T14:00:00", 0, &t), -EINVAL);
	assert_int_equal(pt_api_time_parse("2026-12-03 14:00:00Z", 0, &t), -EINVAL);
	assert_int_equal(pt_api_time_parse("2026-12-03T14:00:00.Z", 0, &t), -EINVAL);
	assert_int_equal(pt_api_time_parse("2026-12-03T14:00:00.1234567890Z", 0, &t), -EINVAL);
	assert_int_equal(pt_api_time_parse("2026-12-03T14:00:00+1:00", 0, &t), -EINVAL);
	assert_int_equal(pt_api_time_parse("2026-12-03T14:00:00Zjunk", 0, &t), -EINVAL);
	assert_int_equal(pt_api_time_parse("1969-12-31T23:59:59Z", 0, &t), -EINVAL);
	assert_int_equal(pt_api_time_parse("", 0, &t), -EINVAL);
}

static void test_relative(void **state)
{
	uint64_t now = 1796306400ull * S, t;

	(void)state;
	assert_int_equal(pt_api_time_parse("30s", now, &t), 0);
	assert_int_equal(t, now - 30 * S);
	assert_int_equal(pt_api_time_parse("15m", now, &t), 0);
	assert_int_equal(t, now - 900 * S);
	assert_int_equal(pt_api_time_parse("1h", now, &t), 0);
	assert_int_equal(t, now - 3600 * S);
	assert_int_equal(pt_api_time_parse("7d", now, &t), 0);
	assert_int_equal(t, now - 7 * 86400 * S);
	assert_int_equal(pt_api_time_parse("0s", now, &t), 0);
	assert_int_equal(t, now);
	assert_int_equal(pt_api_time_parse("99999d", now, &t), 0);
	assert_int_equal(t, 0);      /* before the epoch: clamped */
	assert_int_equal(pt_api_time_parse("9999999999d", now, &t), -EINVAL);   /* overflows */
	assert_int_equal(pt_api_time_parse("1w", now, &t), -EINVAL);
	assert_int_equal(pt_api_time_parse("h", now, &t), -EINVAL);
	assert_int_equal(pt_api_time_parse("-1h", now, &t), -EINVAL);
	assert_int_equal(pt_api_time_parse("1.5h", now, &t), -EINVAL);
}

static void test_cursors(void **state)
{
	char c[PT_API_CURSOR_MAX];
	uint8_t sha[32], back[32];
	uint64_t id, h, f;

	(void)state;
	pt_api_cursor_events(12345, c);
	assert_int_equal(pt_api_cursor_events_parse(c, &id), 0);
	assert_int_equal(id, 12345);
	pt_api_cursor_events(UINT64_MAX >> 1, c);
	assert_int_equal(pt_api_cursor_events_parse(c, &id), 0);
	assert_int_equal(id, UINT64_MAX >> 1);
	assert_int_equal(pt_api_cursor_events_parse("e0000000000000000", &id), -EINVAL);
	assert_int_equal(pt_api_cursor_events_parse("e00000000000001", &id), -EINVAL);
	assert_int_equal(pt_api_cursor_events_parse("x0000000000000001", &id), -EINVAL);
	assert_int_equal(pt_api_cursor_events_parse("e000000000000000g", &id), -EINVAL);
	for (int i = 0; i < 32; i++)
		sha[i] = (uint8_t)(i * 7);
	pt_api_cursor_binaries(3, 1796306400ull * S, sha, c);
	assert_int_equal(pt_api_cursor_binaries_parse(c, &h, &f, back), 0);
	assert_int_equal(h, 3);
	assert_int_equal(f, 1796306400ull * S);
	assert_memory_equal(sha, back, 32);
	c[strlen(c) - 1] = 0;
	assert_int_equal(pt_api_cursor_binaries_parse(c, &h, &f, back), -EINVAL);
	/* an events cursor is not a binaries cursor */
	pt_api_cursor_events(1, c);
	assert_int_equal(pt_api_cursor_binaries_parse(c, &h, &f, back), -EINVAL);
}

static int parse(const char *qs, enum pt_api_params kind, struct pt_api_filter *f, char *err)
{
	struct evkeyvalq q;
	int ret;

	TAILQ_INIT(&q);
	if (evhttp_parse_query_str(qs, &q) < 0)
		return -EBADMSG;
	ret = pt_api_filter_parse(f, &q, kind, 1796306400ull * S, err, 256);
	/* f's strings point into q: copy what the test reads before freeing */
	if (!ret && f->exe)
		assert_true(strlen(f->exe) > 0);
	evhttp_clear_headers(&q);
	return ret;
}

static void test_params(void **state)
{
	struct pt_api_filter f;
	char err[256];

	(void)state;
	assert_int_equal(parse("", PT_API_P_EVENTS, &f, err), 0);
	assert_int_equal(f.set, 0);
	assert_int_equal(f.limit, PT_API_LIMIT_DEFAULT);
	assert_int_equal(parse("pid=42&limit=7&from=1h&action=exit&user=1000", PT_API_P_EVENTS, &f, err), 0);
	assert_int_equal(f.set, PT_F_PID | PT_F_FROM | PT_F_ACTION | PT_F_USER);
	assert_int_equal(f.pid, 42);
	assert_int_equal(f.limit, 7);
	assert_int_equal(f.from_ns, 1796306400ull * S - 3600 * S);
	assert_int_equal(f.action, PT_REC_PROCESS_EXIT);
	assert_true(f.user_is_id);
	assert_int_equal(f.uid, 1000);
	assert_int_equal(parse("user=root", PT_API_P_EVENTS, &f, err), 0);
	assert_false(f.user_is_id);
	assert_int_equal(parse("entity_id=00112233445566778899AABBCCDDEEFF", PT_API_P_EVENTS, &f, err), 0);
	assert_int_equal(f.entity[15], 0xff);
	/* refusals name the parameter */
	assert_int_equal(parse("nope=1", PT_API_P_EVENTS, &f, err), -EINVAL);
	assert_non_null(strstr(err, "nope"));
	assert_int_equal(parse("limit=0", PT_API_P_EVENTS, &f, err), -EINVAL);
	assert_non_null(strstr(err, "limit"));
	assert_int_equal(parse("limit=1001", PT_API_P_EVENTS, &f, err), -EINVAL);
	assert_int_equal(parse("pid=1&pid=2", PT_API_P_EVENTS, &f, err), -EINVAL);
	assert_non_null(strstr(err, "twice"));
	assert_int_equal(parse("pid=", PT_API_P_EVENTS, &f, err), -EINVAL);
	assert_int_equal(parse("pid=4294967296", PT_API_P_EVENTS, &f, err), -EINVAL);
	assert_int_equal(parse("sha256=abc", PT_API_P_EVENTS, &f, err), -EINVAL);
	assert_int_equal(parse("from=2h&to=3h", PT_API_P_EVENTS, &f, err), -EINVAL);
	assert_non_null(strstr(err, "after"));
	/* the stream takes no cursor or limit; binaries take their own */
	assert_int_equal(parse("limit=5", PT_API_P_STREAM, &f, err), -EINVAL);
	assert_int_equal(parse("cursor=e0000000000000001", PT_API_P_STREAM, &f, err), -EINVAL);
	assert_int_equal(parse("exe=/bin/sh", PT_API_P_BINARIES, &f, err), -EINVAL);
	assert_int_equal(parse("max_hosts=2&since=7d", PT_API_P_BINARIES, &f, err), 0);
	assert_int_equal(f.max_hosts, 2);
	assert_int_equal(parse("max_hosts=2", PT_API_P_EVENTS, &f, err), -EINVAL);
	assert_int_equal(parse("cursor=e0000000000000001", PT_API_P_BINARIES, &f, err), -EINVAL);
	assert_int_equal(parse("x=1", PT_API_P_NONE, &f, err), -EINVAL);
	/* alerts: rule, level, agent, from/to, limit, cursor; the stream no time/limit/cursor */
	assert_int_equal(parse("rule=abc&level=high&agent=a&from=1h&to=1m&limit=5&cursor=e0000000000000009",
			       PT_API_P_ALERTS, &f, err), 0);
	assert_true((f.set & (PT_F_RULE | PT_F_LEVEL | PT_F_AGENT)) ==
		    (PT_F_RULE | PT_F_LEVEL | PT_F_AGENT));
	assert_int_equal(f.limit, 5);
	assert_int_equal(f.cursor, 9);
	assert_int_equal(parse("exe=/bin/sh", PT_API_P_ALERTS, &f, err), -EINVAL);
	assert_int_equal(parse("rule=x", PT_API_P_EVENTS, &f, err), -EINVAL);
	assert_int_equal(parse("rule=x&level=low&agent=a", PT_API_P_ALERT_STREAM, &f, err), 0);
	assert_int_equal(parse("limit=5", PT_API_P_ALERT_STREAM, &f, err), -EINVAL);
	assert_int_equal(parse("from=1h", PT_API_P_ALERT_STREAM, &f, err), -EINVAL);
}

static void test_too_long(void **state)
{
	static char qs[PT_API_VALUE_MAX + 64];
	struct pt_api_filter f;
	char err[256];

	(void)state;
	memcpy(qs, "exe=", 4);
	memset(qs + 4, 'a', PT_API_VALUE_MAX + 1);
	qs[4 + PT_API_VALUE_MAX + 1] = 0;
	assert_int_equal(parse(qs, PT_API_P_EVENTS, &f, err), -EINVAL);
	assert_non_null(strstr(err, "exe"));
	memcpy(qs, "cmdline=", 8);
	memset(qs + 8, 'a', 1025);
	qs[8 + 1025] = 0;
	assert_int_equal(parse(qs, PT_API_P_EVENTS, &f, err), -EINVAL);
}

static void test_match(void **state)
{
	static const char argv[] = "/bin/ls\0-l\0/tmp\0";
	struct pt_record r = { .type = PT_REC_PROCESS_EXEC };
	struct pt_api_row row = { .id = 5, .time_ns = 100, .r = &r, .agent = "a", .host = "h" };
	struct pt_api_filter f;
	struct evkeyvalq q;
	char err[256], cmd[64];

	(void)state;
	r.u.exec.path = (struct pt_str){ "/bin/ls", 7 };
	r.u.exec.argv = (struct pt_str){ argv, sizeof(argv) - 1 };
	r.u.exec.pid = 9;
	r.u.exec.euid = 1000;
	r.u.exec.hash_status = PT_HASH_OK;
	memset(r.u.exec.sha256, 0xab, 32);
	assert_int_equal(pt_api_cmdline(&r.u.exec, cmd, sizeof(cmd)), 15);
	assert_string_equal(cmd, "/bin/ls -l /tmp");
	assert_int_equal(pt_api_cmdline(&r.u.exec, cmd, 5), 4);
	assert_string_equal(cmd, "/bin");
#define M(qs, want) do { \
		TAILQ_INIT(&q); \
		assert_int_equal(evhttp_parse_query_str(qs, &q), 0); \
		assert_int_equal(pt_api_filter_parse(&f, &q, PT_API_P_EVENTS, 1000, err, sizeof(err)), 0); \
		assert_int_equal(pt_api_filter_match(&f, &row), want); \
		evhttp_clear_headers(&q); \
	} while (0)
	M("exe=/bin/ls", true);
	M("exe=/bin/l", false);
	M("exe_prefix=/bin/", true);
	M("exe_prefix=/usr/", false);
	M("exe_glob=/b*/%5Bkl%5Ds", true);
	M("exe_glob=/b*/%5Bk%5Ds", false);
	M("name=ls", true);
	M("name=bin", false);
	M("cmdline=-l%20/t", true);
	M("cmdline=-L", false);
	M("user=1000", true);
	M("user=0", false);
	M("user=someone", false);
	M("pid=9&agent=a&host=h", true);
	M("agent=b", false);
	M("host=a", false);
	M("from=1970-01-01T00:00:00.0000002Z", false);
	M("from=1970-01-01T00:00:00.0000001Z", true);
	M("to=1970-01-01T00:00:00.0000001Z", true);
	M("action=exec", true);
	M("action=exit", false);
	M("sha256=abababababababababababababababababababababababababababababababab", true);
	M("sha256=abababababababababababababababababababababababababababababababaa", false);
	r.u.exec.hash_status = PT_HASH_OK + 1;
	M("sha256=abababababababababababababababababababababababababababababababab", false);
#define I(qs, want) do { \
		TAILQ_INIT(&q); \
		assert_int_equal(evhttp_parse_query_str(qs, &q), 0); \
		assert_int_equal(pt_api_filter_parse(&f, &q, PT_API_P_EVENTS, 1000, err, sizeof(err)), 0); \
		assert_int_equal(pt_api_cmdline_indexed(&f), want); \
		evhttp_clear_headers(&q); \
	} while (0)
	/* the trigram index for 3 ASCII bytes or more; shorter or other bytes scan */
	I("cmdline=-l%20", true);
	I("cmdline=%22x%22", true);
	I("cmdline=-l", false);
	I("cmdline=a", false);
	I("cmdline=%C3%A9t%C3%A9", false);
	I("cmdline=ab%01", true);
	I("exe=/bin/ls", false);
	r.type = PT_REC_LOSS;
	M("pid=9", false);
	M("exe_prefix=/", false);
	M("", true);
}

static void test_operators(void **state)
{
	struct pt_operators ops;
	char tok[PT_OP_TOKEN_LEN + 1], text[512], hex[65];
	uint8_t sha[32];
	size_t bad;

	(void)state;
	assert_int_equal(pt_op_token_new(tok, sha), 0);
	assert_int_equal(strlen(tok), PT_OP_TOKEN_LEN);
	assert_memory_equal(tok, "pt_", 3);
	assert_int_equal(strspn(tok + 3, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 43);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", sha[i]);
	snprintf(text, sizeof(text), "# comment\nalice\tadmin\t%s\nbob\tread\t%064d\n", hex, 0);
	assert_int_equal(pt_operators_parse(&ops, text, strlen(text), &bad), 0);
	assert_int_equal(ops.n, 2);
	assert_non_null(pt_operators_find_token(&ops, tok, strlen(tok)));
	assert_string_equal(pt_operators_find_token(&ops, tok, strlen(tok))->name, "alice");
	assert_int_equal(pt_operators_find_token(&ops, tok, strlen(tok))->role, PT_ROLE_ADMIN);
	tok[10] ^= 1;
	assert_null(pt_operators_find_token(&ops, tok, strlen(tok)));
	assert_null(pt_operators_find_token(&ops, tok, 10));
	pt_operators_free(&ops);
	pt_operators_free(&ops);    /* NULL-safe, idempotent */
	assert_int_equal(pt_operators_parse(&ops, "a\troot\t00\n", 10, &bad), -EINVAL);
	assert_int_equal(bad, 1);
	snprintf(text, sizeof(text), "a b\tread\t%064d\n", 0);
	assert_int_equal(pt_operators_parse(&ops, text, strlen(text), &bad), -EINVAL);
	snprintf(text, sizeof(text), "a\tread\t%064d\na\tadmin\t%064d\n", 0, 1);
	assert_int_equal(pt_operators_parse(&ops, text, strlen(text), &bad), -EINVAL);
	assert_int_equal(bad, 2);     /* the same name twice */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc3339),
		cmocka_unit_test(test_relative),
		cmocka_unit_test(test_cursors),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_operators),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
