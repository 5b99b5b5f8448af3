/* The writer's group formation: one connection with a deep queue of large jobs must not fill
 * every group while another connection's job waits behind it; each connection's jobs keep
 * their order (its ACKs follow its batches in order). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "proctrail/log.h"
#include "../../server/session.h"
#include "../../server/writer.h"

static void f_send(void *io, const uint8_t *buf, size_t len) { (void)io; (void)buf; (void)len; }
static void f_close(void *io) { (void)io; }
static void f_pause(void *io, uint64_t ms) { (void)io; (void)ms; }
static void f_resume(void *io) { (void)io; }
static void f_submit(void *ctx, struct pt_job *job) { (void)ctx; pt_job_free(job); }

static const struct pt_session_ops ops = { f_send, f_close, f_pause, f_resume, f_submit };
static const struct pt_session_limits lim = { .max_frame = 1 << 20, .window = 8,
	.ping_interval_ms = 1000 };

static struct pt_job *job(struct pt_session *s, size_t bytes, uint64_t tag)
{
	struct pt_job *j = calloc(1, sizeof(*j));

	assert_non_null(j);
	j->type = PT_JOB_BATCH;
	j->sess = s;
	j->bytes = bytes;
	j->now_ns = tag;
	pt_session_ref(s);
	return j;
}

/* TAILQ_INSERT_TAIL evaluates its element more than once. */
static void add(struct pt_job_list *l, struct pt_job *j)
{
	TAILQ_INSERT_TAIL(l, j, link);
}

static void free_list(struct pt_job_list *l)
{
	struct pt_job *j;

	while ((j = TAILQ_FIRST(l))) {
		TAILQ_REMOVE(l, j, link);
		pt_job_free(j);
	}
}

static void test_group_shares(void **state)
{
	struct pt_session *flood = pt_session_new("flood", "a", &ops, NULL, NULL, &lim, 1);
	struct pt_session *good = pt_session_new("good", "b", &ops, NULL, NULL, &lim, 1);
	struct pt_job_list in, group;
	struct pt_job *j;
	uint64_t id = 0, last_flood = 0;
	int good_group = 0, groups = 0;

	(void)state;
	TAILQ_INIT(&in);
	/* 8 batches of 3 MiB (a full window of large decompressed batches), then the other
	 * connection's small one. FIFO would need 2 groups before the small one. */
	for (uint64_t i = 1; i <= 8; i++)
		add(&in, job(flood, 3u << 20, i));
	add(&in, job(good, 4096, 100));
	while (!TAILQ_EMPTY(&in)) {
		TAILQ_INIT(&group);
		assert_true(pt_writer_take_group(&in, &group, ++id) > 0);
		groups++;
		TAILQ_FOREACH(j, &group, link) {
			if (j->sess == good) {
				good_group = groups;
				continue;
			}
			assert_true(j->now_ns == last_flood + 1);   /* in order */
			last_flood = j->now_ns;
		}
		free_list(&group);
	}
	assert_int_equal(good_group, 1);
	assert_int_equal(last_flood, 8);
	assert_int_equal(groups, 8);             /* 3 MiB jobs: one per group under a 4 MiB share */

	/* Small jobs of one connection alone still fill a group up to its share. */
	for (uint64_t i = 1; i <= 100; i++)
		add(&in, job(flood, 65536, i));
	TAILQ_INIT(&group);
	assert_int_equal(pt_writer_take_group(&in, &group, ++id), 64);
	free_list(&group);
	free_list(&in);
	pt_session_unref(flood);
	pt_session_unref(good);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_group_shares),
	};

	log_init("test_writer", 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
