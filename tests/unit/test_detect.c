/* The collector's adapter from an exec record to the rule engine's event view: the fields the
 * rules see, and the ones they must not see (unknown context stays absent). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "fixture.h"

#include "../../server/detect.h"
#include "proctrail/log.h"

static void field_is(const struct pt_detect_view *v, unsigned f, const char *want)
{
	if (!want) {
		assert_null(v->ev.f[f].ptr);
		return;
	}
	assert_non_null(v->ev.f[f].ptr);
	assert_int_equal(v->ev.f[f].len, strlen(want));
	assert_memory_equal(v->ev.f[f].ptr, want, strlen(want));
}

static void test_fields_from_the_record(void **st)
{
	static struct pt_detect_view v;
	struct pt_exec x = { 0 };
	static const char argv[] = "nc\0-e\0/bin/sh\0", pargv[] = "git\0-p\0help\0";

	(void)st;
	x.path = (struct pt_str){ "/usr/bin/nc", 11 };
	x.argv = (struct pt_str){ argv, sizeof(argv) - 1 };
	x.cwd = (struct pt_str){ "/root", 5 };
	memset(x.sha256, 0xab, sizeof(x.sha256));
	x.hash_status = PT_HASH_OK;
	x.ctx_flags = PT_CTX_F_PRESENT | PT_CTX_F_PARENT_KNOWN | PT_CTX_F_LOGIN_UID;
	x.parent_path = (struct pt_str){ "/usr/bin/git", 12 };
	x.parent_argv = (struct pt_str){ pargv, sizeof(pargv) - 1 };
	x.user_name = (struct pt_str){ "root", 4 };
	x.login_uid = 1000;
	pt_detect_view_fill(&v, &x);
	field_is(&v, PT_SF_IMAGE, "/usr/bin/nc");
	field_is(&v, PT_SF_COMMAND_LINE, "nc -e /bin/sh");
	field_is(&v, PT_SF_CWD, "/root");
	field_is(&v, PT_SF_PARENT_IMAGE, "/usr/bin/git");
	field_is(&v, PT_SF_PARENT_COMMAND_LINE, "git -p help");
	field_is(&v, PT_SF_USER, "root");
	field_is(&v, PT_SF_LOGON_ID, "1000");
	field_is(&v, PT_SF_SHA256, "abababababababababababababababababababababababababababababababab");
	field_is(&v, PT_SF_HASHES,
		 "SHA256=abababababababababababababababababababababababababababababababab");
}

static void test_unknown_context_is_absent(void **st)
{
	static struct pt_detect_view v;
	struct pt_exec x = { 0 };

	(void)st;
	x.path = (struct pt_str){ "/bin/true", 9 };
	x.argv = (struct pt_str){ "true", 5 };
	x.hash_status = 2;      /* not PT_HASH_OK: no hash fields */
	x.parent_path = (struct pt_str){ "/stale", 6 };   /* without PARENT_KNOWN: ignored */
	pt_detect_view_fill(&v, &x);
	field_is(&v, PT_SF_COMMAND_LINE, "true");
	field_is(&v, PT_SF_PARENT_IMAGE, NULL);
	field_is(&v, PT_SF_PARENT_COMMAND_LINE, NULL);
	field_is(&v, PT_SF_USER, NULL);
	field_is(&v, PT_SF_LOGON_ID, NULL);
	field_is(&v, PT_SF_SHA256, NULL);
	field_is(&v, PT_SF_HASHES, NULL);
	field_is(&v, PT_SF_CWD, NULL);
}

static void write_rule(const char *dir, const char *name, const char *text)
{
	char path[PT_TMPDIR_LEN + 64];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
}

#define RULE(id, title) "title: " title "\nid: " id "\nlevel: high\nlogsource:\n" \
	"  category: process_creation\ndetection:\n  sel:\n    Image|endswith: /nc\n" \
	"  condition: sel\n"

/* The state list (/api/v1/rules): every file, loaded or refused, in the loader's order, a
 * refused one with its reason; a refusal in between does not move the others. */
static void test_state_lists_every_file(void **st)
{
	char dir[PT_TMPDIR_LEN], sub[PT_TMPDIR_LEN + 8];
	struct pt_sigma_set *s = NULL;
	struct pt_buf out;
	unsigned loaded, refused;
	char *j;

	(void)st;
	log_init("test_detect", 0);
	assert_int_equal(pt_tmpdir_make(dir, "test_detect"), 0);
	write_rule(dir, "a.yml", RULE("id-a", "first"));
	write_rule(dir, "b.yml", "title: [broken\n");
	write_rule(dir, "c.yaml", RULE("id-c", "third \"quoted\""));
	snprintf(sub, sizeof(sub), "%s/d", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	write_rule(sub, "e.yml", RULE("id-e", "in a subdirectory"));
	write_rule(dir, "f.yml", "title: x\nlogsource: {category: process_creation}\n"
		   "detection:\n  sel:\n    OriginalFileName: x\n  condition: sel\n");
	write_rule(dir, "notes.txt", "not a rule");
	pt_buf_init(&out, 1 << 20);
	assert_int_equal(pt_detect_load(dir, &s, &loaded, &refused, &out), 0);
	assert_int_equal(loaded, 3);
	assert_int_equal(refused, 2);
	assert_int_equal(pt_sigma_count(s), 3);
	assert_int_equal(pt_buf_append(&out, "", 1), 0);
	j = (char *)out.data;
	assert_non_null(strstr(j, "{\"file\":\"a.yml\",\"state\":\"loaded\",\"id\":\"id-a\","
			       "\"title\":\"first\",\"level\":\"high\"}"));
	assert_non_null(strstr(j, "{\"file\":\"b.yml\",\"state\":\"refused\",\"reason\":\"YAML"));
	assert_non_null(strstr(j, "\"title\":\"third \\\"quoted\\\"\""));
	assert_non_null(strstr(j, "{\"file\":\"f.yml\",\"state\":\"refused\",\"reason\":\"field "
			       "'OriginalFileName' is not recorded by proctrail\"}"));
	assert_null(strstr(j, "notes.txt"));
	/* the walk's order: a, b, c, d/e, f */
	assert_true(strstr(j, "\"a.yml\"") < strstr(j, "\"b.yml\""));
	assert_true(strstr(j, "\"b.yml\"") < strstr(j, "\"c.yaml\""));
	assert_true(strstr(j, "\"c.yaml\"") < strstr(j, "\"d/e.yml\""));
	assert_true(strstr(j, "\"d/e.yml\"") < strstr(j, "\"f.yml\""));
	assert_int_equal(j[0], '[');
	assert_int_equal(j[out.len - 2], ']');
	pt_sigma_free(s);
	pt_buf_free(&out);
	assert_int_equal(pt_tmpdir_remove(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_lists_every_file),
		cmocka_unit_test(test_fields_from_the_record),
		cmocka_unit_test(test_unknown_context_is_absent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
