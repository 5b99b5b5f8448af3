/* lib/util/log: the limiter for lines a peer can trigger lets LOG_RATELIMIT_LINES through per
 * window, holds back the rest, and reports how many it held back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "proctrail/log.h"

/* Runs with stderr sent to a temporary file; returns what was written to it. */
static int saved_stderr = -1;
static FILE *capture;

static void capture_start(void)
{
	capture = tmpfile();
	assert_non_null(capture);
	saved_stderr = dup(STDERR_FILENO);
	assert_true(saved_stderr >= 0);
	assert_true(dup2(fileno(capture), STDERR_FILENO) >= 0);
}

static char *capture_end(void)
{
	static char text[8192];
	size_t n;

	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	rewind(capture);
	n = fread(text, 1, sizeof(text) - 1, capture);
	text[n] = '\0';
	fclose(capture);
	return text;
}

static void test_burst_is_limited_and_counted(void **state)
{
	struct log_ratelimit rl = { 0 };
	unsigned allowed = 0;
	char *out;

	(void)state;
	capture_start();
	for (unsigned i = 0; i < LOG_RATELIMIT_LINES + 25; i++)
		allowed += log_ratelimit_allow(&rl, "agent x (127.0.0.1:1)");
	log_ratelimit_flush(&rl, "agent x (127.0.0.1:1)");
	log_ratelimit_flush(&rl, "agent x (127.0.0.1:1)");   /* nothing more to report */
	log_ratelimit_flush(NULL, "none");
	out = capture_end();
	/* the whole burst fits in one window on any machine: 1 s for 35 calls */
	assert_int_equal(allowed, LOG_RATELIMIT_LINES);
	assert_int_equal(rl.suppressed, 0);
	assert_int_equal(rl.suppressed_total, 25);
	assert_non_null(strstr(out, "agent x (127.0.0.1:1): 25 similar lines suppressed"));
	assert_null(strstr(strstr(out, "suppressed") + 1, "suppressed"));
}

static void test_next_window_reports_and_allows(void **state)
{
	struct log_ratelimit rl = { 0 };
	char *out;
	bool again = false;

	(void)state;
	capture_start();
	for (unsigned i = 0; i < LOG_RATELIMIT_LINES + 3; i++)
		log_ratelimit_allow(&rl, "site");
	/* poll until the window has passed (a deadline that only bounds a failure) */
	for (int i = 0; i < 1000 && !again; i++) {
		usleep(10000);
		again = log_ratelimit_allow(&rl, "site");
	}
	out = capture_end();
	assert_true(again);
	assert_non_null(strstr(out, "site: "));
	assert_non_null(strstr(out, " similar lines suppressed"));
	assert_true(rl.suppressed_total >= 3);
	assert_int_equal(rl.suppressed, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_is_limited_and_counted),
		cmocka_unit_test(test_next_window_reports_and_allows),
	};

	log_init("test_log", 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
