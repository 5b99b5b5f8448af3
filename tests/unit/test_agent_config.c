/* agent/config.c: file + flags, precedence, collector lists, refusals. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../agent/config.h"
#include "proctrail/log.h"

static char path[64];

static int write_conf(void **state)
{
	(void)state;
	snprintf(path, sizeof(path), "/tmp/test_agent_config.XXXXXX");
	int fd = mkstemp(path);
	if (fd < 0)
		return -1;
	const char *text =
		"# test\n"
		"collector = 10.0.0.1:7443\n"
		"collector = 10.0.0.2:7443\n"
		"ca = /etc/proctrail/ca.crt\n"
		"cert = /etc/proctrail/agent.crt\n"
		"key = /etc/proctrail/agent.key\n"
		"mode = pull\n"
		"spool-max-bytes = 1048576\n"
		"allow-collect = no\n"
		"compress = none\n"
		"window = 4\n";
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		return -1;
	close(fd);
	return 0;
}

static int rm_conf(void **state)
{
	(void)state;
	unlink(path);
	return 0;
}

static int load(struct pt_agent_config *c, int n, const char **args)
{
	char *argv[64];
	assert_true(n < 63);
	argv[0] = (char *)"proctrail-agent";
	for (int i = 0; i < n && i < 63; i++)
		argv[i + 1] = (char *)args[i];
	return pt_agent_config_load(c, n + 1, argv);
}

static void test_file_then_flags(void **state)
{
	(void)state;
	struct pt_agent_config c;
	const char *args[] = { "--config", path, "--mode", "stream", "--window=6" };
	assert_int_equal(load(&c, 5, args), 0);
	assert_int_equal(c.uplink.n_collectors, 2);
	assert_string_equal(c.uplink.collectors[1], "10.0.0.2:7443");
	assert_string_equal(c.uplink.ca, "/etc/proctrail/ca.crt");
	assert_int_equal(c.uplink.mode, PT_MODE_STREAM);      /* the flag wins */
	assert_int_equal(c.uplink.window, 6);
	assert_int_equal(c.spool.max_bytes, 1048576);
	assert_false(c.uplink.allow_collect);
	assert_true(c.uplink.allow_ping);                     /* default kept */
	assert_int_equal(c.uplink.codec, PT_CODEC_NONE);
	assert_string_equal(c.spool.dir, PT_AGENT_SPOOL_DIR_DEFAULT);
	pt_agent_config_free(&c);
}

static void test_flag_collectors_replace_file(void **state)
{
	(void)state;
	struct pt_agent_config c;
	const char *args[] = { "--config", path, "--collector", "127.0.0.1:1", "--spool-dir", "/x" };
	assert_int_equal(load(&c, 6, args), 0);
	assert_int_equal(c.uplink.n_collectors, 1);
	assert_string_equal(c.uplink.collectors[0], "127.0.0.1:1");
	assert_string_equal(c.spool.dir, "/x");
	pt_agent_config_free(&c);
}

static void test_refusals(void **state)
{
	(void)state;
	struct pt_agent_config c;
	const char *missing[] = { "--collector", "127.0.0.1:1" };
	assert_int_equal(load(&c, 2, missing), -EINVAL);        /* no ca/cert/key */
	pt_agent_config_free(&c);
	const char *bad_mode[] = { "--config", path, "--mode", "push" };
	assert_int_equal(load(&c, 4, bad_mode), -EINVAL);
	pt_agent_config_free(&c);
	const char *small[] = { "--config", path, "--spool-max-bytes", "10" };
	assert_int_equal(load(&c, 4, small), -EINVAL);          /* under the minimum */
	pt_agent_config_free(&c);
	const char *unknown[] = { "--config", path, "--frobnicate", "1" };
	assert_int_equal(load(&c, 4, unknown), -EINVAL);
	pt_agent_config_free(&c);
	const char *novalue[] = { "--config", path, "--window" };
	assert_int_equal(load(&c, 3, novalue), -EINVAL);
	pt_agent_config_free(&c);
	const char *many[40];
	int n = 0;
	for (int i = 0; i < 17; i++) {
		many[n++] = "--collector";
		many[n++] = "127.0.0.1:1";
	}
	assert_int_equal(load(&c, n, many), -EINVAL);           /* over PT_UPLINK_COLLECTORS_MAX */
	pt_agent_config_free(&c);
}

int main(void)
{
	log_init("test_agent_config", 0);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_then_flags),
		cmocka_unit_test(test_flag_collectors_replace_file),
		cmocka_unit_test(test_refusals),
	};
	return cmocka_run_group_tests(tests, write_conf, rm_conf);
}
