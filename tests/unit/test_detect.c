/* The collector's adapter from an exec record to the rule engine's event view: the fields the
 * rules see, and the ones they must not see (unknown context stays absent). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "../../server/detect.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields_from_the_record),
		cmocka_unit_test(test_unknown_context_is_absent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
