/* lib/ecs: every record type gives valid JSON, every ECS field has its ECS name and type
 * (checked against tests/unit/ecs_fields.tsv, a copy of the ECS field list), a missing hash
 * is absent with a reason, and hostile strings never break the JSON. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "proctrail/ecs.h"

/* ---- a strict little JSON reader: flattens objects into "a.b.c" leaves ---- */

enum jtype { J_STRING, J_NUMBER, J_INTEGER, J_BOOL, J_NULL, J_OBJECT, J_ARRAY };

struct leaf {
	char key[256];
	enum jtype type;
	enum jtype elem;      /* arrays: type of the elements (J_NULL: empty) */
	char str[512];        /* strings: the decoded value (truncated) */
	long long num;
};

struct jp {
	const char *p, *end;
	struct leaf leaves[256];
	int n;
	bool ok;
};

static void ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\t' || *j->p == '\r'))
		j->p++;
}

static bool jfail(struct jp *j)
{
	j->ok = false;
	return false;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) { o[0] = (char)cp; return 1; }
	if (cp < 0x800) { o[0] = (char)(0xc0 | cp >> 6); o[1] = (char)(0x80 | (cp & 63)); return 2; }
	o[0] = (char)(0xe0 | cp >> 12); o[1] = (char)(0x80 | ((cp >> 6) & 63));
	o[2] = (char)(0x80 | (cp & 63));
	return 3;
}

/* Parses a string; validates UTF-8 and escapes; decoded text into out (cap bytes). */
static bool jstring(struct jp *j, char *out, size_t cap)
{
	size_t o = 0;

	if (j->p >= j->end || *j->p != '"')
		return jfail(j);
	j->p++;
	while (j->p < j->end && *j->p != '"') {
		unsigned char c = (unsigned char)*j->p;
		char tmp[4];
		size_t tl = 0;

		if (c < 0x20)
			return jfail(j);
		if (c == '\\') {
			j->p++;
			if (j->p >= j->end)
				return jfail(j);
			switch (*j->p) {
			case '"': tmp[0] = '"'; tl = 1; break;
			case '\\': tmp[0] = '\\'; tl = 1; break;
			case '/': tmp[0] = '/'; tl = 1; break;
			case 'n': tmp[0] = '\n'; tl = 1; break;
			case 't': tmp[0] = '\t'; tl = 1; break;
			case 'r': tmp[0] = '\r'; tl = 1; break;
			case 'b': tmp[0] = '\b'; tl = 1; break;
			case 'f': tmp[0] = '\f'; tl = 1; break;
			case 'u': {
				unsigned cp;
				char hex[5] = { 0 };

				if (j->end - j->p < 5)
					return jfail(j);
				/* the output is not NUL-terminated: sscanf would read past it */
				memcpy(hex, j->p + 1, 4);
				if (sscanf(hex, "%4x", &cp) != 1)
					return jfail(j);
				if (cp >= 0xd800 && cp <= 0xdfff)
					return jfail(j);   /* we never write surrogates */
				tl = put_utf8(tmp, cp);
				j->p += 4;
				break;
			}
			default:
				return jfail(j);
			}
			j->p++;
		} else if (c < 0x80) {
			tmp[0] = (char)c;
			tl = 1;
			j->p++;
		} else {
			/* strict UTF-8 */
			int n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 :
				c >= 0xf0 && c <= 0xf4 ? 4 : 0;
			const unsigned char *u = (const unsigned char *)j->p;

			if (!n || j->end - j->p < n)
				return jfail(j);
			for (int i = 1; i < n; i++)
				if ((u[i] & 0xc0) != 0x80)
					return jfail(j);
			if ((c == 0xe0 && u[1] < 0xa0) || (c == 0xed && u[1] > 0x9f) ||
			    (c == 0xf0 && u[1] < 0x90) || (c == 0xf4 && u[1] > 0x8f))
				return jfail(j);
			memcpy(tmp, u, (size_t)n);
			tl = (size_t)n;
			j->p += n;
		}
		if (out && o + tl < cap) {
			memcpy(out + o, tmp, tl);
			o += tl;
		}
	}
	if (j->p >= j->end)
		return jfail(j);
	j->p++;
	if (out)
		out[o < cap ? o : cap - 1] = '\0';
	return true;
}

static bool jvalue(struct jp *j, const char *prefix, enum jtype *type, struct leaf *lf);

static bool jobject(struct jp *j, const char *prefix)
{
	j->p++;
	ws(j);
	if (j->p < j->end && *j->p == '}') {
		j->p++;
		return true;
	}
	for (;;) {
		char key[200], full[256];
		enum jtype t;
		struct leaf lf = { 0 };

		ws(j);
		if (!jstring(j, key, sizeof(key)))
			return false;
		/* duplicate keys are not valid for consumers: check */
		snprintf(full, sizeof(full), "%s%s%s", prefix, *prefix ? "." : "", key);
		for (int i = 0; i < j->n; i++)
			if (!strcmp(j->leaves[i].key, full))
				return jfail(j);
		ws(j);
		if (j->p >= j->end || *j->p != ':')
			return jfail(j);
		j->p++;
		ws(j);
		if (!jvalue(j, full, &t, &lf))
			return false;
		if (t != J_OBJECT) {
			if (j->n >= 256)
				return jfail(j);
			lf.type = t;
			snprintf(lf.key, sizeof(lf.key), "%s", full);
			j->leaves[j->n++] = lf;
		}
		ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == '}') {
			j->p++;
			return true;
		}
		return jfail(j);
	}
}

static bool jvalue(struct jp *j, const char *prefix, enum jtype *type, struct leaf *lf)
{
	if (j->p >= j->end)
		return jfail(j);
	switch (*j->p) {
	case '{':
		*type = J_OBJECT;
		return jobject(j, prefix);
	case '[':
		*type = J_ARRAY;
		lf->elem = J_NULL;
		j->p++;
		ws(j);
		if (j->p < j->end && *j->p == ']') {
			j->p++;
			return true;
		}
		for (;;) {
			enum jtype t;
			struct leaf inner = { 0 };

			ws(j);
			if (!jvalue(j, prefix, &t, &inner) || t == J_OBJECT)
				return jfail(j);   /* our arrays hold scalars only */
			if (lf->elem != J_NULL && lf->elem != t)
				return jfail(j);
			if (lf->elem == J_NULL)
				snprintf(lf->str, sizeof(lf->str), "%s", inner.str);
			lf->elem = t;
			ws(j);
			if (j->p < j->end && *j->p == ',') {
				j->p++;
				continue;
			}
			if (j->p < j->end && *j->p == ']') {
				j->p++;
				return true;
			}
			return jfail(j);
		}
	case '"':
		*type = J_STRING;
		return jstring(j, lf->str, sizeof(lf->str));
	case 't':
		*type = J_BOOL;
		if (j->end - j->p < 4 || strncmp(j->p, "true", 4))
			return jfail(j);
		j->p += 4;
		return true;
	case 'f':
		*type = J_BOOL;
		if (j->end - j->p < 5 || strncmp(j->p, "false", 5))
			return jfail(j);
		j->p += 5;
		return true;
	default: {
		char *e;
		const char *s = j->p;

		if (*s != '-' && (*s < '0' || *s > '9'))
			return jfail(j);
		lf->num = strtoll(s, &e, 10);
		*type = J_INTEGER;
		if (*e == '.' || *e == 'e' || *e == 'E') {
			strtod(s, &e);
			*type = J_NUMBER;
		}
		j->p = e;
		return true;
	}
	}
}

static void parse(struct jp *j, const uint8_t *text, size_t len)
{
	enum jtype t;
	struct leaf lf = { 0 };

	memset(j, 0, sizeof(*j));
	j->p = (const char *)text;
	j->end = j->p + len;
	j->ok = true;
	ws(j);
	assert_true(j->p < j->end && *j->p == '{');
	assert_true(jvalue(j, "", &t, &lf));
	ws(j);
	assert_true(j->ok);
	assert_true(j->p == j->end);   /* exactly one object, nothing after it */
}

static const struct leaf *find(const struct jp *j, const char *key)
{
	for (int i = 0; i < j->n; i++)
		if (!strcmp(j->leaves[i].key, key))
			return &j->leaves[i];
	return NULL;
}

/* ---- the ECS field list ---- */

struct field {
	char name[160];
	char type[40];
	bool array;
};

static struct field *fields;
static int n_fields;

static int load_fields(void **state)
{
	const char *path = getenv("ECS_FIELDS") ? getenv("ECS_FIELDS") : "tests/unit/ecs_fields.tsv";
	FILE *f = fopen(path, "r");
	char line[512];
	int cap = 0;

	(void)state;
	if (!f) {
		fprintf(stderr, "cannot open %s (run from the repository root)\n", path);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *name, *type, *norm, *save;

		if (line[0] == '#')
			continue;
		name = strtok_r(line, "\t\n", &save);
		type = strtok_r(NULL, "\t\n", &save);
		norm = strtok_r(NULL, "\t\n", &save);
		if (!name || !type)
			continue;
		if (n_fields == cap) {
			cap = cap ? 2 * cap : 1024;
			fields = realloc(fields, (size_t)cap * sizeof(*fields));
			if (!fields)
				return -1;
		}
		snprintf(fields[n_fields].name, sizeof(fields[0].name), "%s", name);
		snprintf(fields[n_fields].type, sizeof(fields[0].type), "%s", type);
		fields[n_fields].array = norm && strstr(norm, "array");
		n_fields++;
	}
	fclose(f);
	return n_fields > 100 ? 0 : -1;
}

static int free_fields(void **state)
{
	(void)state;
	free(fields);
	fields = NULL;
	n_fields = 0;
	return 0;
}

static const struct field *ecs_field(const char *name)
{
	for (int i = 0; i < n_fields; i++)
		if (!strcmp(fields[i].name, name))
			return &fields[i];
	return NULL;
}

static bool is_rfc3339_ns(const char *s)
{
	int y, mo, d, h, mi, sec, n = 0;
	char ns[16];

	return strlen(s) == 30 &&
	       sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%9[0-9]Z%n", &y, &mo, &d, &h, &mi, &sec, ns, &n) == 7 &&
	       n == 30 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h < 24 && mi < 60 && sec < 61;
}

/* Every leaf outside "proctrail." must be an ECS field with the JSON shape of its type. */
static void check_types(const struct jp *j)
{
	for (int i = 0; i < j->n; i++) {
		const struct leaf *lf = &j->leaves[i];
		const struct field *f;
		enum jtype t;

		if (!strncmp(lf->key, "proctrail.", 10))
			continue;
		f = ecs_field(lf->key);
		if (!f)
			fail_msg("%s is not an ECS field: put it under proctrail.", lf->key);
		t = lf->type;
		if (f->array) {
			if (t != J_ARRAY)
				fail_msg("%s: ECS says array", lf->key);
			t = lf->elem;
			if (t == J_NULL)
				continue;
		} else if (t == J_ARRAY) {
			fail_msg("%s: ECS says not an array", lf->key);
		}
		if (!strcmp(f->type, "keyword") || !strcmp(f->type, "wildcard") ||
		    !strcmp(f->type, "match_only_text") || !strcmp(f->type, "constant_keyword")) {
			if (t != J_STRING)
				fail_msg("%s: ECS type %s needs a JSON string", lf->key, f->type);
		} else if (!strcmp(f->type, "long") || !strcmp(f->type, "integer") ||
			   !strcmp(f->type, "unsigned_long")) {
			if (t != J_INTEGER)
				fail_msg("%s: ECS type %s needs a JSON integer", lf->key, f->type);
		} else if (!strcmp(f->type, "date")) {
			if (t != J_STRING || (!f->array && !is_rfc3339_ns(lf->str)))
				fail_msg("%s: ECS date needs an RFC 3339 string, got '%s'", lf->key, lf->str);
		} else if (!strcmp(f->type, "boolean")) {
			if (t != J_BOOL)
				fail_msg("%s: ECS boolean", lf->key);
		} else {
			fail_msg("%s: ECS type %s not handled by this test", lf->key, f->type);
		}
	}
}

/* ---- records ---- */

#define S(lit) ((struct pt_str){ lit, sizeof(lit) - 1 })

static void sample_exec(struct pt_record *r)
{
	struct pt_exec *x = &r->u.exec;
	static const char argv[] = "ls\0-l\0/tmp\0";

	memset(r, 0, sizeof(*r));
	r->type = PT_REC_PROCESS_EXEC;
	x->time_ns = 1764059252123456789ull;
	x->start_ns = 725693486639ull;
	x->pid = 4242;
	x->tid = 4243;
	x->ppid = 1;
	x->uid = 1000;
	x->euid = 0;
	x->gid = 100;
	x->egid = 100;
	for (int i = 0; i < 16; i++) {
		x->entity_id[i] = (uint8_t)(0xa0 + i);
		x->parent_entity_id[i] = (uint8_t)i;
	}
	x->path = S("/usr/bin/ls");
	x->cwd = S("/home/u");
	x->comm = S("ls");
	x->argv = (struct pt_str){ argv, sizeof(argv) - 1 };
	x->args_count = 3;
	x->flags = PT_EXEC_F_SETUID;
	x->mode = 0104755;
	x->dev = 65024;
	x->ino = 247728;
	x->size = 151344;
	x->mtime_ns = 1663687647000000000ull;
	x->ctime_ns = 1663687649147483648ull;
	for (int i = 0; i < 32; i++)
		x->sha256[i] = (uint8_t)(i * 7);
	x->hash_status = PT_HASH_OK;
}

static void format_ok(const struct pt_record *r, const struct pt_ecs_context *ctx, struct jp *j,
		      struct pt_buf *b)
{
	pt_buf_init(b, 1 << 20);
	assert_int_equal(pt_ecs_format(r, ctx, b), 0);
	parse(j, b->data, b->len);
	check_types(j);
}

static void expect_str(const struct jp *j, const char *key, const char *want)
{
	const struct leaf *lf = find(j, key);

	if (!lf)
		fail_msg("missing %s", key);
	assert_int_equal(lf->type, J_STRING);
	assert_string_equal(lf->str, want);
}

static void expect_int(const struct jp *j, const char *key, long long want)
{
	const struct leaf *lf = find(j, key);

	if (!lf)
		fail_msg("missing %s", key);
	assert_int_equal(lf->type, J_INTEGER);
	assert_int_equal(lf->num, want);
}

static void test_exec_contract(void **state)
{
	struct pt_record r;
	struct pt_ecs_context ctx = { .agent_id = "agent-1", .host_name = "h", .has_sequence = true,
				      .sequence = 77, .stream_id = 5 };
	struct pt_buf b;
	struct jp j;
	const struct leaf *args;

	(void)state;
	sample_exec(&r);
	format_ok(&r, &ctx, &j, &b);
	expect_str(&j, "@timestamp", "2025-11-25T08:27:32.123456789Z");
	expect_str(&j, "event.action", "exec");
	args = find(&j, "event.category");
	assert_non_null(args);
	assert_int_equal(args->type, J_ARRAY);
	assert_string_equal(args->str, "process");
	args = find(&j, "event.type");
	assert_non_null(args);
	assert_string_equal(args->str, "start");
	expect_int(&j, "event.sequence", 77);
	expect_int(&j, "process.pid", 4242);
	expect_int(&j, "process.thread.id", 4243);
	expect_str(&j, "process.entity_id", "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
	expect_str(&j, "process.parent.entity_id", "000102030405060708090a0b0c0d0e0f");
	expect_int(&j, "process.parent.pid", 1);
	expect_str(&j, "process.name", "ls");
	expect_str(&j, "process.executable", "/usr/bin/ls");
	args = find(&j, "process.args");
	assert_non_null(args);
	assert_int_equal(args->elem, J_STRING);
	assert_string_equal(args->str, "ls");
	expect_int(&j, "process.args_count", 3);
	expect_str(&j, "process.working_directory", "/home/u");
	expect_str(&j, "process.hash.sha256",
		   "00070e151c232a31383f464d545b626970777e858c939aa1a8afb6bdc4cbd2d9");
	expect_str(&j, "process.user.id", "0");
	expect_str(&j, "process.real_user.id", "1000");
	expect_str(&j, "file.path", "/usr/bin/ls");
	expect_int(&j, "file.size", 151344);
	expect_str(&j, "file.inode", "247728");
	expect_str(&j, "file.device", "65024");
	expect_str(&j, "file.mode", "4755");
	expect_str(&j, "file.ctime", "2022-09-20T15:27:29.147483648Z");
	expect_str(&j, "proctrail.hash_status", "ok");
	expect_str(&j, "agent.id", "agent-1");
	expect_str(&j, "host.name", "h");
	assert_non_null(find(&j, "proctrail.setuid"));
	pt_buf_free(&b);
}

static void test_exec_without_hash_says_why(void **state)
{
	static const uint8_t statuses[] = { PT_HASH_TOO_LARGE, PT_HASH_GONE, PT_HASH_CHANGED,
					    PT_HASH_MEMFD, PT_HASH_UNREADABLE };
	static const char *const names[] = { "too_large", "gone", "changed", "memfd", "unreadable" };

	(void)state;
	for (unsigned i = 0; i < sizeof(statuses); i++) {
		struct pt_record r;
		struct pt_buf b;
		struct jp j;

		sample_exec(&r);
		r.u.exec.hash_status = statuses[i];
		format_ok(&r, NULL, &j, &b);
		assert_null(find(&j, "process.hash.sha256"));
		assert_null(find(&j, "file.hash.sha256"));
		expect_str(&j, "proctrail.hash_status", names[i]);
		assert_null(find(&j, "event.sequence"));   /* no context: no sequence */
		pt_buf_free(&b);
	}
}

static void test_script(void **state)
{
	struct pt_record r;
	struct pt_buf b;
	struct jp j;

	(void)state;
	sample_exec(&r);
	r.u.exec.script_path = S("/tmp/x.sh");
	r.u.exec.script_hash_status = PT_HASH_OK;
	memset(r.u.exec.script_sha256, 0xab, 32);
	format_ok(&r, NULL, &j, &b);
	expect_str(&j, "proctrail.script.path", "/tmp/x.sh");
	expect_str(&j, "proctrail.script.hash_status", "ok");
	expect_str(&j, "proctrail.script.sha256",
		   "abababababababababababababababababababababababababababababababab");
	pt_buf_free(&b);
}

static void test_exit_code_and_signal(void **state)
{
	struct pt_record r = { .type = PT_REC_PROCESS_EXIT };
	struct pt_buf b;
	struct jp j;
	const struct leaf *t;

	(void)state;
	r.u.exit.time_ns = 1;
	r.u.exit.pid = 9;
	r.u.exit.code = 3;
	r.u.exit.comm = S("false");
	format_ok(&r, NULL, &j, &b);
	expect_str(&j, "@timestamp", "1970-01-01T00:00:00.000000001Z");
	expect_str(&j, "event.action", "exit");
	t = find(&j, "event.type");
	assert_non_null(t);
	assert_string_equal(t->str, "end");
	expect_int(&j, "process.pid", 9);
	expect_int(&j, "process.exit_code", 3);
	expect_int(&j, "proctrail.signal", 0);
	assert_non_null(find(&j, "process.entity_id"));
	pt_buf_free(&b);

	r.u.exit.code = 0;
	r.u.exit.signal = 9;
	format_ok(&r, NULL, &j, &b);
	expect_int(&j, "process.exit_code", 137);
	expect_int(&j, "proctrail.signal", 9);
	pt_buf_free(&b);
}

/* Every context field, and nothing of it when the agent knew nothing (no context attribute). */
static void test_exec_context(void **state)
{
	static const char pargv[] = "sh\0-c\0ls -l | wc\0";
	struct pt_record r;
	struct pt_exec *x = &r.u.exec;
	struct pt_buf b;
	struct jp j;

	(void)state;
	sample_exec(&r);
	x->ctx_flags = PT_CTX_F_ALL & ~PT_CTX_F_PARENT_SEEDED;
	x->parent_path = S("/usr/bin/dash");
	x->parent_argv = (struct pt_str){ pargv, sizeof(pargv) - 1 };
	x->parent_args_count = 3;
	x->pgid = 4242;
	x->sid = 100;
	x->vpid = 2;
	x->tty_major = 136;
	x->tty_minor = 3;
	x->login_uid = 1000;
	x->session_id = 7;
	memset(x->pgid_entity_id, 0x11, 16);
	memset(x->sid_entity_id, 0x22, 16);
	memset(x->entry_entity_id, 0x33, 16);
	x->sid_path = S("/usr/bin/bash");
	x->entry_path = S("/usr/sbin/sshd");
	x->entry_type = PT_ENTRY_SSHD;
	x->user_name = S("root");
	x->real_user_name = S("alice");
	x->group_name = S("users");
	x->real_group_name = S("users");
	x->login_user_name = S("alice");
	x->container_id = S("abc");
	x->container_runtime = S("docker");
	x->cgroup_path = S("/system.slice/docker-abc.scope");
	format_ok(&r, NULL, &j, &b);
	expect_str(&j, "process.command_line", "ls -l /tmp");
	expect_str(&j, "process.parent.executable", "/usr/bin/dash");
	expect_str(&j, "process.parent.name", "dash");
	expect_int(&j, "process.parent.args_count", 3);
	/* the arguments joined with single spaces, nothing quoted */
	expect_str(&j, "process.parent.command_line", "sh -c ls -l | wc");
	expect_int(&j, "process.group_leader.pid", 4242);
	expect_str(&j, "process.group_leader.entity_id", "11111111111111111111111111111111");
	expect_int(&j, "process.session_leader.pid", 100);
	expect_str(&j, "process.session_leader.entity_id", "22222222222222222222222222222222");
	expect_str(&j, "process.session_leader.executable", "/usr/bin/bash");
	expect_str(&j, "process.session_leader.name", "bash");
	expect_str(&j, "process.entry_leader.entity_id", "33333333333333333333333333333333");
	expect_str(&j, "process.entry_leader.executable", "/usr/sbin/sshd");
	expect_str(&j, "process.entry_leader.entry_meta.type", "sshd");
	expect_int(&j, "process.tty.char_device.major", 136);
	expect_int(&j, "process.tty.char_device.minor", 3);
	assert_int_equal(find(&j, "process.interactive")->type, J_BOOL);
	expect_int(&j, "process.vpid", 2);
	expect_str(&j, "process.user.name", "root");
	expect_str(&j, "process.real_user.name", "alice");
	expect_str(&j, "process.group.name", "users");
	expect_str(&j, "user.name", "root");
	expect_str(&j, "user.id", "0");
	expect_str(&j, "group.name", "users");
	expect_str(&j, "proctrail.login_user.id", "1000");
	expect_str(&j, "proctrail.login_user.name", "alice");
	expect_int(&j, "proctrail.audit_session_id", 7);
	expect_str(&j, "container.id", "abc");
	expect_str(&j, "container.runtime", "docker");
	expect_str(&j, "proctrail.cgroup_path", "/system.slice/docker-abc.scope");
	pt_buf_free(&b);

	/* an unknown parent is said so; no leader whose start is unknown gets an id */
	x->ctx_flags = PT_CTX_F_PRESENT;
	format_ok(&r, NULL, &j, &b);
	assert_null(find(&j, "process.parent.executable"));
	assert_null(find(&j, "process.parent.command_line"));
	assert_null(find(&j, "process.group_leader.entity_id"));
	assert_null(find(&j, "process.entry_leader.executable"));
	assert_null(find(&j, "process.tty.char_device.major"));
	assert_null(find(&j, "container.id"));
	assert_null(find(&j, "proctrail.login_user.id"));
	assert_non_null(find(&j, "proctrail.parent.known"));
	assert_int_equal(find(&j, "proctrail.parent.known")->type, J_BOOL);
	pt_buf_free(&b);

	/* a record from an agent without context: none of it */
	x->ctx_flags = 0;
	x->user_name = x->real_user_name = x->group_name = x->real_group_name = (struct pt_str){ 0 };
	x->cgroup_path = (struct pt_str){ 0 };
	format_ok(&r, NULL, &j, &b);
	assert_null(find(&j, "process.vpid"));
	assert_null(find(&j, "proctrail.parent.known"));
	assert_null(find(&j, "process.user.name"));
	expect_str(&j, "process.command_line", "ls -l /tmp");
	pt_buf_free(&b);
}

static void test_exit_context(void **state)
{
	struct pt_record r = { .type = PT_REC_PROCESS_EXIT };
	struct pt_buf b;
	struct jp j;

	(void)state;
	r.u.exit.time_ns = 3000000000ull;
	r.u.exit.pid = 9;
	r.u.exit.comm = S("kworker-ish");
	r.u.exit.ctx_flags = PT_EXIT_CTX_F_PRESENT | PT_EXIT_CTX_F_KNOWN;
	r.u.exit.path = S("/usr/bin/sleep");
	r.u.exit.lifetime_ns = 2500000000ull;
	format_ok(&r, NULL, &j, &b);
	expect_str(&j, "process.executable", "/usr/bin/sleep");
	expect_str(&j, "process.name", "sleep");
	expect_str(&j, "process.start", "1970-01-01T00:00:00.500000000Z");
	expect_int(&j, "process.uptime", 2);
	expect_int(&j, "proctrail.lifetime_ns", 2500000000ll);
	expect_str(&j, "proctrail.comm", "kworker-ish");
	pt_buf_free(&b);

	r.u.exit.ctx_flags = PT_EXIT_CTX_F_PRESENT;   /* executable unknown: comm is the name */
	format_ok(&r, NULL, &j, &b);
	assert_null(find(&j, "process.executable"));
	expect_str(&j, "process.name", "kworker-ish");
	pt_buf_free(&b);
}

static void test_other_records(void **state)
{
	struct pt_record r;
	struct pt_buf b;
	struct jp j;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.type = PT_REC_EXEC_BLOCKED;
	r.u.blocked.path = S("/tmp/evil");
	r.u.blocked.policy_version = 4;
	format_ok(&r, NULL, &j, &b);
	expect_str(&j, "event.action", "exec_blocked");
	expect_str(&j, "process.executable", "/tmp/evil");
	expect_int(&j, "proctrail.policy_version", 4);
	pt_buf_free(&b);

	memset(&r, 0, sizeof(r));
	r.type = PT_REC_LOSS;
	r.u.loss.counter = PT_LOSS_RING_FULL;
	r.u.loss.count = 12;
	r.u.loss.has_seq_range = true;
	r.u.loss.first_seq = 5;
	r.u.loss.last_seq = 16;
	format_ok(&r, NULL, &j, &b);
	expect_str(&j, "event.action", "loss");
	expect_str(&j, "proctrail.loss.counter", "ring_full");
	expect_int(&j, "proctrail.loss.count", 12);
	expect_int(&j, "proctrail.loss.last_seq", 16);
	pt_buf_free(&b);

	memset(&r, 0, sizeof(r));
	r.type = PT_REC_AGENT_STATUS;
	r.u.status.queue_depth = 3;
	r.u.status.n_counters = 2;
	r.u.status.counters[0] = (struct pt_counter){ PT_LOSS_SPOOL_FULL, 7 };
	r.u.status.counters[1] = (struct pt_counter){ 999, 1 };
	format_ok(&r, NULL, &j, &b);
	expect_str(&j, "event.action", "agent_status");
	expect_int(&j, "proctrail.status.queue_depth", 3);
	expect_int(&j, "proctrail.status.counters.spool_full", 7);
	expect_int(&j, "proctrail.status.counters.999", 1);
	pt_buf_free(&b);

	memset(&r, 0, sizeof(r));
	r.type = PT_REC_UNKNOWN;
	pt_buf_init(&b, 1024);
	assert_int_equal(pt_ecs_format(&r, NULL, &b), -EINVAL);
	assert_int_equal(b.len, 0);
	pt_buf_free(&b);
}

static void test_hostile_strings(void **state)
{
	/* quotes, backslash, controls, DEL, and bytes that are not UTF-8: a lone continuation
	 * byte, 0xff, an overlong '/', a UTF-16 surrogate, a cut 4-byte sequence; then valid
	 * multi-byte text that must survive unchanged */
	static const char path[] = "/t\"q\\b\n\r\x01\x1f\x7f|\x80|\xff|\xc0\xaf|\xed\xa0\x80|\xf0\x9f\x98|"
				   "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
	static const char argv[] = "a\"\0\xff\0";
	struct pt_record r;
	struct pt_buf b;
	struct jp j;
	const struct leaf *lf;

	(void)state;
	sample_exec(&r);
	r.u.exec.path = (struct pt_str){ path, sizeof(path) - 1 };
	r.u.exec.argv = (struct pt_str){ argv, sizeof(argv) - 1 };
	r.u.exec.comm = (struct pt_str){ "\x01\xfe", 2 };
	format_ok(&r, NULL, &j, &b);
	lf = find(&j, "process.executable");
	assert_non_null(lf);
	assert_string_equal(lf->str, "/t\"q\\b\n\r\x01\x1f\x7f|\xef\xbf\xbd|\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd|"
			    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|"
			    "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	expect_str(&j, "proctrail.comm", "\x01\xef\xbf\xbd");
	lf = find(&j, "process.args");
	assert_non_null(lf);
	assert_string_equal(lf->str, "a\"");
	pt_buf_free(&b);
}

/* Valid UTF-8 that is legal JSON as it is but rewrites a terminal: C1 controls, bidi
 * overrides, line separators, DEL. Written as \u escapes, so the raw output has none of their
 * bytes, and a JSON reader still gets the stored text back. */
static void test_terminal_hostile_code_points(void **state)
{
	static const char host[] = "db1\xe2\x80\xae" "exe.\xc2\x9b" "31m\xe2\x80\xa8\xe2\x81\xa6\x7f\xc2\xa0";
	static const char *const raw[] = { "\xe2\x80\xae", "\xc2\x9b", "\xe2\x80\xa8", "\xe2\x81\xa6", "\x7f" };
	struct pt_record r;
	struct pt_buf b;
	struct jp j;
	const struct leaf *lf;

	(void)state;
	sample_exec(&r);
	r.u.exec.path = (struct pt_str){ host, sizeof(host) - 1 };
	format_ok(&r, NULL, &j, &b);
	for (size_t i = 0; i < sizeof(raw) / sizeof(raw[0]); i++)
		assert_null(memmem(b.data, b.len, raw[i], strlen(raw[i])));
	{
		static const char want[] = "db1\\u202eexe.\\u009b31m\\u2028\\u2066\\u007f\xc2\xa0";

		assert_non_null(memmem(b.data, b.len, want, sizeof(want) - 1));
	}
	lf = find(&j, "process.executable");
	assert_non_null(lf);
	assert_string_equal(lf->str, host);
	pt_buf_free(&b);
}

static void test_bounded_output(void **state)
{
	struct pt_record r;
	struct pt_buf b;
	size_t full;

	(void)state;
	sample_exec(&r);
	pt_buf_init(&b, 1 << 20);
	assert_int_equal(pt_ecs_format(&r, NULL, &b), 0);
	full = b.len;
	pt_buf_free(&b);
	/* one byte short: refused, and what was in the buffer before stays */
	pt_buf_init(&b, full + 9);
	assert_int_equal(pt_buf_append(&b, "previous\n", 9), 0);
	b.max = full + 8;
	assert_int_equal(pt_ecs_format(&r, NULL, &b), -EMSGSIZE);
	assert_int_equal(b.len, 9);
	assert_memory_equal(b.data, "previous\n", 9);
	b.max = full + 9;
	assert_int_equal(pt_ecs_format(&r, NULL, &b), 0);
	assert_int_equal(b.len, full + 9);
	pt_buf_free(&b);
}

/* The hand-written RFC 3339 formatter against gmtime_r over many instants. */
static void test_timestamps_match_gmtime(void **state)
{
	uint64_t x = 88172645463325252ull;
	static const uint64_t fixed[] = { 0, 951782400000000000ull /* 2000-02-29 */,
					  4107542400123456789ull /* 2100-03-01 */, 18446744073709551615ull };

	(void)state;
	for (int i = 0; i < 20000; i++) {
		struct pt_record r = { .type = PT_REC_PROCESS_EXIT };
		struct pt_buf b;
		struct jp j;
		char want[96];
		struct tm tm;
		time_t sec;
		uint64_t ns;

		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		ns = i < 4 ? fixed[i] : x;
		sec = (time_t)(ns / 1000000000u);
		assert_non_null(gmtime_r(&sec, &tm));
		snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02d.%09uZ", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			 (unsigned)(ns % 1000000000u));
		r.u.exit.time_ns = ns;
		pt_buf_init(&b, 4096);
		assert_int_equal(pt_ecs_format(&r, NULL, &b), 0);
		parse(&j, b.data, b.len);
		expect_str(&j, "@timestamp", want);
		pt_buf_free(&b);
	}
}

static void test_entity_hex(void **state)
{
	uint8_t id[16];
	char hex[33];

	(void)state;
	for (int i = 0; i < 16; i++)
		id[i] = (uint8_t)(0xf0 | i);
	pt_entity_id_hex(id, hex);
	assert_string_equal(hex, "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exec_contract),
		cmocka_unit_test(test_exec_without_hash_says_why),
		cmocka_unit_test(test_exec_context),
		cmocka_unit_test(test_exit_context),
		cmocka_unit_test(test_script),
		cmocka_unit_test(test_exit_code_and_signal),
		cmocka_unit_test(test_other_records),
		cmocka_unit_test(test_hostile_strings),
		cmocka_unit_test(test_terminal_hostile_code_points),
		cmocka_unit_test(test_bounded_output),
		cmocka_unit_test(test_timestamps_match_gmtime),
		cmocka_unit_test(test_entity_hex),
	};

	return cmocka_run_group_tests(tests, load_fields, free_fields);
}
