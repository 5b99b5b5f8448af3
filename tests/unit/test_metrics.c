#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../agent/metrics.h"
#include "../../server/job.h"
#include "../../server/server-int.h"
#include "../../server/session.h"
#include "metrics_check.h"

static void expect_valid(const struct pt_buf *b)
{
	char why[256] = "";
	int rc = metrics_check((const char *)b->data, b->len, why, sizeof(why));

	if (rc)
		fprintf(stderr, "exposition refused: %s\n%.*s", why, (int)b->len, (const char *)b->data);
	assert_int_equal(rc, 0);
}

/* Not strstr: the exposition is not NUL-terminated (valgrind saw it read past the end). */
static bool has_text(const struct pt_buf *b, const char *s)
{
	return memmem(b->data, b->len, s, strlen(s)) != NULL;
}

static int has_line(const struct pt_buf *b, const char *line)
{
	char *text = strndup((const char *)b->data, b->len), *p = text;
	size_t n = strlen(line);
	int found = 0;

	for (; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, line, n) && (p[n] == '\n' || p[n] == '\0'))
			found = 1;
	free(text);
	return found;
}

/* The checker itself refuses what it must. */
static void test_checker_refuses(void **state)
{
	static const char *const bad[] = {
		"x 1\n",                                            /* no TYPE */
		"# TYPE x_total counter\nx_total -1\n",              /* negative counter */
		"# TYPE x counter\nx 1\n",                           /* counter without _total */
		"# TYPE x gauge\nx{a=\"b} 1\n",                      /* open label */
		"# TYPE x gauge\nx{a=\"\\q\"} 1\n",                  /* bad escape */
		"# TYPE x gauge\nx 1\nx 2\n",                        /* series twice */
		"# TYPE x gauge\nx one\n",                           /* value */
		"# TYPE x gauge\nx 1",                               /* no newline */
		"# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n",
		"# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 3\n",
		"# TYPE x gauge\nx 1\n# TYPE y gauge\ny 1\n# TYPE x gauge\n",
		"# TYPE x gauge\ny 1\n",
	};
	char why[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(metrics_check(bad[i], strlen(bad[i]), why, sizeof(why)), -1);
	const char *good = "# HELP x y\n# TYPE x gauge\nx{a=\"q\\\"\"} 1.5\n";
	assert_int_equal(metrics_check(good, strlen(good), why, sizeof(why)), 0);
}

static void test_agent_exposition(void **state)
{
	struct pt_agent_metrics_src m = { .agent = "web\"1\n", .policy_version = 7 };
	struct pt_buf b;

	(void)state;
	m.sensor.execs = 10;
	m.sensor.exits = 9;
	m.loss[PT_LOSS_RING_FULL] = 3;
	m.loss[PT_LOSS_SPOOL_FULL] = 2;
	m.next_seq = 101;
	m.acked_seq = 90;
	m.spool.bytes = 4096;
	m.up.connected = true;
	m.up.records_acked = 90;
	m.up.lat_count[0] = 4;
	m.up.lat_count[3] = 1;
	m.up.lat_count[PT_UPLINK_LAT_BUCKETS] = 1;
	m.up.lat_sum_us = 45000123;
	pt_buf_init(&b, PT_AGENT_METRICS_MAX);
	assert_int_equal(pt_agent_metrics_format(&b, &m), 0);
	expect_valid(&b);
	assert_true(has_line(&b, "proctrail_agent_events_total{agent=\"web\\\"1\\n\",kind=\"exec\"} 10"));
	assert_true(has_line(&b, "proctrail_agent_lost_records_total{agent=\"web\\\"1\\n\","
				 "counter=\"ring_full\"} 3"));
	assert_true(has_line(&b, "proctrail_agent_spool_unacked_records{agent=\"web\\\"1\\n\"} 10"));
	assert_true(has_line(&b, "proctrail_agent_ack_latency_seconds_bucket{agent=\"web\\\"1\\n\","
				 "le=\"0.05\"} 5"));
	assert_true(has_line(&b, "proctrail_agent_ack_latency_seconds_count{agent=\"web\\\"1\\n\"} 6"));
	assert_true(has_line(&b, "proctrail_agent_ack_latency_seconds_sum{agent=\"web\\\"1\\n\"} 45.000123"));
	assert_true(has_line(&b, "proctrail_agent_policy_version{agent=\"web\\\"1\\n\"} 7"));
	/* every loss counter has its series */
	for (unsigned i = 1; i <= PT_LOSS_COUNTER_MAX; i++) {
		char want[160];

		snprintf(want, sizeof(want), "counter=\"%s\"}", pt_loss_counter_name(i));
		assert_true(has_text(&b, want));
	}
	/* no policy: no series */
	pt_buf_reset(&b);
	m.policy_version = -1;
	assert_int_equal(pt_agent_metrics_format(&b, &m), 0);
	assert_false(has_text(&b, "policy_version"));
	pt_buf_free(&b);
	/* too small a buffer: an error, never a truncated exposition passed as whole */
	pt_buf_init(&b, 512);
	assert_int_equal(pt_agent_metrics_format(&b, &m), -ENOBUFS);
	pt_buf_free(&b);
}

static void pong_of(struct server *srv, const char *agent, uint64_t ring_full, uint64_t encode)
{
	struct pt_session sess = { 0 };
	struct pt_job job = { .type = PT_JOB_PONG, .sess = &sess, .has_pong = true };

	snprintf(sess.agent_id, sizeof(sess.agent_id), "%s", agent);
	job.pong.counters[0] = (struct pt_counter){ PT_LOSS_RING_FULL, ring_full };
	job.pong.counters[1] = (struct pt_counter){ PT_LOSS_ENCODE, encode };
	job.pong.n_counters = 2;
	srv_metrics_job(srv, &job, 0);
}

static void test_collector_exposition(void **state)
{
	struct server *srv = calloc(1, sizeof(*srv));
	struct pt_job batch = { .type = PT_JOB_BATCH, .now_ns = 1000000000ull };
	struct pt_buf b;
	char agent[32];

	(void)state;
	assert_non_null(srv);
	srv->nestablished = 3;
	srv->counters[SRV_HANDSHAKE_FAILED] = 2;
	batch.batch.count = 100;
	batch.batch_res.inserted = 90;
	srv_metrics_job(srv, &batch, 1000000000ull + 30000000ull);   /* 30 ms */
	batch.ret = -EIO;
	srv_metrics_job(srv, &batch, 2000000000ull);
	/* more agents with losses than the top list holds, one agent's PONG twice */
	for (int i = 0; i < 25; i++) {
		snprintf(agent, sizeof(agent), "agent%02d", i);
		pong_of(srv, agent, (uint64_t)i, 1);
	}
	pong_of(srv, "agent00", 1000, 0);
	pong_of(srv, "quiet", 0, 0);
	pt_buf_init(&b, SRV_METRICS_TEXT_MAX);
	assert_int_equal(pt_server_metrics_text(srv, &b), 0);
	expect_valid(&b);
	assert_true(has_line(&b, "proctrail_collector_records_total{outcome=\"stored\"} 90"));
	assert_true(has_line(&b, "proctrail_collector_records_total{outcome=\"duplicate\"} 10"));
	assert_true(has_line(&b, "proctrail_collector_batch_commit_failures_total 1"));
	assert_true(has_line(&b, "proctrail_collector_ack_latency_seconds_bucket{le=\"0.025\"} 0"));
	assert_true(has_line(&b, "proctrail_collector_ack_latency_seconds_bucket{le=\"0.05\"} 1"));
	assert_true(has_line(&b, "proctrail_collector_writer_lag_seconds 0.030000000"));
	assert_true(has_line(&b, "proctrail_collector_connections{state=\"established\"} 3"));
	assert_true(has_line(&b, "proctrail_collector_connection_events_total{reason=\"handshake_failed\"} 2"));
	/* the fleet sum uses each agent's latest totals: 1000 + 1..24 */
	assert_true(has_line(&b, "proctrail_collector_agent_lost_records{counter=\"ring_full\"} 1300"));
	assert_true(has_line(&b, "proctrail_collector_agent_lost_records{counter=\"encode\"} 24"));
	/* the top list: bounded, largest first, agents without losses absent */
	assert_true(has_line(&b, "proctrail_collector_agent_lost_records_top{agent=\"agent00\","
				 "counter=\"ring_full\"} 1000"));
	assert_true(has_line(&b, "proctrail_collector_agent_lost_records_top{agent=\"agent24\","
				 "counter=\"ring_full\"} 24"));
	assert_true(has_line(&b, "proctrail_collector_agent_lost_records_top{agent=\"agent16\","
				 "counter=\"ring_full\"} 16"));
	assert_false(has_text(&b, "agent=\"agent15\""));
	assert_false(has_text(&b, "agent=\"quiet\""));
	assert_true(has_line(&b, "proctrail_collector_agents_tracked 26"));
	pt_buf_free(&b);
	srv_metrics_free(&srv->metrics);
	free(srv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_checker_refuses),
		cmocka_unit_test(test_agent_exposition),
		cmocka_unit_test(test_collector_exposition),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
