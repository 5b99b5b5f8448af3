/* lib/wire: round-trip property tests over random records and frames, and the refusals that
 * keep a decoder safe (truncation, oversize lengths, duplicates, unknown types). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <zstd.h>

#include "proctrail/wire.h"

/* WIRE_ROUNDS and WIRE_SEED (environment) run the random round trip longer or from another
 * seed, for the figures in docs/wire-format.md; make test keeps the defaults. */
static long rounds = 3000;
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	/* xorshift64*: deterministic, so a failing round can be replayed. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

static uint32_t rnd_below(uint32_t n) { return (uint32_t)(rnd() % n); }

static void rnd_bytes(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
}

/* A string with no NUL, any other byte (paths are bytes, not text). */
static struct pt_str rnd_str(char *store, uint32_t max)
{
	uint32_t len = rnd_below(4) == 0 ? max : rnd_below(max + 1);

	if (rnd_below(3) == 0)
		len = rnd_below(len + 1 > 40 ? 40 : len + 1);
	for (uint32_t i = 0; i < len; i++)
		store[i] = (char)(1 + rnd_below(255));
	return (struct pt_str){ store, len };
}

static struct pt_str rnd_argv(char *store, uint32_t *count)
{
	uint32_t len = 0, n = 0, max = rnd_below(2) ? PT_ARGV_MAX : 200;

	while (len + 2 <= max && n < PT_ARGS_MAX && rnd_below(8) != 0) {
		uint32_t arg = rnd_below(20);

		if (len + arg + 1 > max)
			break;
		for (uint32_t i = 0; i < arg; i++)
			store[len++] = (char)(1 + rnd_below(255));
		store[len++] = '\0';
		n++;
	}
	*count = n;
	return (struct pt_str){ store, len };
}

struct rec_store {
	char path[PT_PATH_MAX], cwd[PT_PATH_MAX], comm[PT_COMM_MAX], script[PT_PATH_MAX];
	char argv[PT_ARGV_MAX];
	char ppath[PT_PATH_MAX], pargv[PT_ARGV_MAX], sid_path[PT_PATH_MAX], entry_path[PT_PATH_MAX];
	char names[5][PT_USER_NAME_MAX], cid[PT_CONTAINER_ID_MAX], rt[PT_RUNTIME_MAX];
	char cgroup[PT_PATH_MAX];
};

/* The context: any consistent set of flags, each with its attributes. */
static void rnd_context(struct pt_exec *e, struct rec_store *s)
{
	uint32_t n;

	if (rnd_below(4) == 0)
		return;   /* a record without context, as an older agent writes */
	e->ctx_flags = PT_CTX_F_PRESENT | ((uint32_t)rnd() & PT_CTX_F_ALL);
	if (!(e->ctx_flags & PT_CTX_F_ENTRY_KNOWN))
		e->ctx_flags &= ~(uint32_t)PT_CTX_F_ENTRY_LEADER;
	e->pgid = (uint32_t)rnd(); e->sid = (uint32_t)rnd(); e->vpid = (uint32_t)rnd();
	e->tty_major = (uint32_t)rnd(); e->tty_minor = (uint32_t)rnd();
	e->login_uid = (uint32_t)rnd(); e->session_id = (uint32_t)rnd();
	rnd_bytes(e->pgid_entity_id, PT_ENTITY_ID_LEN);
	rnd_bytes(e->sid_entity_id, PT_ENTITY_ID_LEN);
	rnd_bytes(e->entry_entity_id, PT_ENTITY_ID_LEN);
	e->entry_type = (uint8_t)rnd();
	if (e->ctx_flags & PT_CTX_F_PARENT_KNOWN) {
		e->parent_path = rnd_str(s->ppath, PT_PATH_MAX);
		e->parent_argv = rnd_argv(s->pargv, &n);
		e->parent_args_count = n + rnd_below(3);
	}
	if (e->ctx_flags & PT_CTX_F_SID_KNOWN)
		e->sid_path = rnd_str(s->sid_path, PT_PATH_MAX);
	if (e->ctx_flags & PT_CTX_F_ENTRY_KNOWN)
		e->entry_path = rnd_str(s->entry_path, PT_PATH_MAX);
	e->user_name = rnd_str(s->names[0], PT_USER_NAME_MAX);
	e->real_user_name = rnd_str(s->names[1], PT_USER_NAME_MAX);
	e->group_name = rnd_str(s->names[2], PT_USER_NAME_MAX);
	e->real_group_name = rnd_str(s->names[3], PT_USER_NAME_MAX);
	e->login_user_name = rnd_str(s->names[4], PT_USER_NAME_MAX);
	if (e->ctx_flags & PT_CTX_F_CONTAINER) {
		e->container_id = rnd_str(s->cid, PT_CONTAINER_ID_MAX);
		e->container_runtime = rnd_str(s->rt, PT_RUNTIME_MAX);
	}
	e->cgroup_path = rnd_str(s->cgroup, rnd_below(2) ? 200 : PT_PATH_MAX);
}

static void rnd_record(struct pt_record *r, struct rec_store *s)
{
	memset(r, 0, sizeof(*r));
	r->type = (uint16_t)(1 + rnd_below(5));
	switch (r->type) {
	case PT_REC_PROCESS_EXEC: {
		struct pt_exec *e = &r->u.exec;

		e->time_ns = rnd(); e->start_ns = rnd(); e->cgroup_id = rnd();
		e->pid = (uint32_t)rnd(); e->tid = (uint32_t)rnd(); e->ppid = (uint32_t)rnd();
		e->uid = (uint32_t)rnd(); e->euid = (uint32_t)rnd();
		e->gid = (uint32_t)rnd(); e->egid = (uint32_t)rnd();
		rnd_bytes(e->entity_id, sizeof(e->entity_id));
		rnd_bytes(e->parent_entity_id, sizeof(e->parent_entity_id));
		e->path = rnd_str(s->path, PT_PATH_MAX);
		e->cwd = rnd_str(s->cwd, PT_PATH_MAX);
		e->comm = rnd_str(s->comm, PT_COMM_MAX);
		e->argv = rnd_argv(s->argv, &e->args_count);
		e->flags = (uint32_t)rnd(); e->mode = (uint32_t)rnd();
		e->dev = rnd(); e->ino = rnd(); e->size = rnd();
		e->mtime_ns = rnd(); e->ctime_ns = rnd();
		e->hash_status = (uint8_t)rnd_below(PT_HASH_STATUS_MAX + 1);
		if (e->hash_status == PT_HASH_OK)
			rnd_bytes(e->sha256, sizeof(e->sha256));
		if (rnd_below(3) == 0) {
			e->script_path = rnd_str(s->script, 300);
			if (e->script_path.len) {
				e->script_hash_status = (uint8_t)rnd_below(PT_HASH_STATUS_MAX + 1);
				if (e->script_hash_status == PT_HASH_OK)
					rnd_bytes(e->script_sha256, sizeof(e->script_sha256));
			}
		}
		rnd_context(e, s);
		break;
	}
	case PT_REC_PROCESS_EXIT:
		r->u.exit.time_ns = rnd(); r->u.exit.start_ns = rnd();
		r->u.exit.pid = (uint32_t)rnd(); r->u.exit.code = rnd_below(256);
		r->u.exit.signal = rnd_below(65);
		rnd_bytes(r->u.exit.entity_id, PT_ENTITY_ID_LEN);
		r->u.exit.comm = rnd_str(s->comm, PT_COMM_MAX);
		if (rnd_below(4)) {
			r->u.exit.ctx_flags = PT_EXIT_CTX_F_PRESENT | ((uint32_t)rnd() & 6u);
			r->u.exit.lifetime_ns = rnd();
			if (r->u.exit.ctx_flags & PT_EXIT_CTX_F_KNOWN)
				r->u.exit.path = rnd_str(s->path, PT_PATH_MAX);
		}
		break;
	case PT_REC_EXEC_BLOCKED:
		r->u.blocked.time_ns = rnd(); r->u.blocked.policy_version = rnd();
		r->u.blocked.pid = (uint32_t)rnd(); r->u.blocked.uid = (uint32_t)rnd();
		rnd_bytes(r->u.blocked.entity_id, PT_ENTITY_ID_LEN);
		rnd_bytes(r->u.blocked.sha256, PT_SHA256_LEN);
		r->u.blocked.path = rnd_str(s->path, PT_PATH_MAX);
		break;
	case PT_REC_LOSS:
		r->u.loss.time_ns = rnd();
		r->u.loss.counter = (uint16_t)(1 + rnd_below(PT_LOSS_COUNTER_MAX));
		r->u.loss.count = rnd();
		r->u.loss.has_seq_range = rnd_below(2);
		if (r->u.loss.has_seq_range) {
			r->u.loss.first_seq = rnd() >> 1;
			r->u.loss.last_seq = r->u.loss.first_seq + rnd_below(1000);
		}
		break;
	case PT_REC_AGENT_STATUS:
		r->u.status.time_ns = rnd(); r->u.status.queue_depth = rnd();
		r->u.status.spool_bytes = rnd(); r->u.status.uptime_ns = rnd();
		r->u.status.events = rnd();
		r->u.status.n_counters = rnd_below(PT_COUNTERS_MAX + 1);
		for (uint32_t i = 0; i < r->u.status.n_counters; i++) {
			r->u.status.counters[i].id = (uint16_t)rnd();
			r->u.status.counters[i].value = rnd();
		}
		break;
	}
}

static void assert_str_equal(struct pt_str a, struct pt_str b)
{
	assert_int_equal(a.len, b.len);
	if (a.len)
		assert_memory_equal(a.ptr, b.ptr, a.len);
}

static void assert_context_equal(const struct pt_exec *x, const struct pt_exec *y)
{
	uint32_t f = x->ctx_flags;

	assert_int_equal(f, y->ctx_flags);
	if (f & PT_CTX_F_PRESENT)
		assert_true(x->pgid == y->pgid && x->sid == y->sid && x->vpid == y->vpid);
	if (f & PT_CTX_F_PARENT_KNOWN) {
		assert_str_equal(x->parent_path, y->parent_path);
		assert_str_equal(x->parent_argv, y->parent_argv);
		assert_int_equal(x->parent_args_count, y->parent_args_count);
	}
	if (f & PT_CTX_F_PGID_LEADER)
		assert_memory_equal(x->pgid_entity_id, y->pgid_entity_id, PT_ENTITY_ID_LEN);
	if (f & PT_CTX_F_SID_LEADER)
		assert_memory_equal(x->sid_entity_id, y->sid_entity_id, PT_ENTITY_ID_LEN);
	if (f & PT_CTX_F_SID_KNOWN)
		assert_str_equal(x->sid_path, y->sid_path);
	if (f & PT_CTX_F_ENTRY_KNOWN) {
		assert_str_equal(x->entry_path, y->entry_path);
		assert_int_equal(x->entry_type, y->entry_type);
	}
	if (f & PT_CTX_F_ENTRY_LEADER)
		assert_memory_equal(x->entry_entity_id, y->entry_entity_id, PT_ENTITY_ID_LEN);
	if (f & PT_CTX_F_TTY)
		assert_true(x->tty_major == y->tty_major && x->tty_minor == y->tty_minor);
	if (f & PT_CTX_F_LOGIN_UID)
		assert_int_equal(x->login_uid, y->login_uid);
	if (f & PT_CTX_F_SESSION_ID)
		assert_int_equal(x->session_id, y->session_id);
	if (f & PT_CTX_F_CONTAINER) {
		assert_str_equal(x->container_id, y->container_id);
		assert_str_equal(x->container_runtime, y->container_runtime);
	}
	/* names and the cgroup path are written when known (not empty) */
	assert_str_equal(x->user_name, y->user_name);
	assert_str_equal(x->real_user_name, y->real_user_name);
	assert_str_equal(x->group_name, y->group_name);
	assert_str_equal(x->real_group_name, y->real_group_name);
	assert_str_equal(x->login_user_name, y->login_user_name);
	assert_str_equal(x->cgroup_path, y->cgroup_path);
}

static void assert_record_equal(const struct pt_record *a, const struct pt_record *b)
{
	assert_int_equal(a->type, b->type);
	switch (a->type) {
	case PT_REC_PROCESS_EXEC: {
		const struct pt_exec *x = &a->u.exec, *y = &b->u.exec;

		assert_true(x->time_ns == y->time_ns && x->start_ns == y->start_ns);
		assert_true(x->cgroup_id == y->cgroup_id);
		assert_true(x->pid == y->pid && x->tid == y->tid && x->ppid == y->ppid);
		assert_true(x->uid == y->uid && x->euid == y->euid);
		assert_true(x->gid == y->gid && x->egid == y->egid);
		assert_memory_equal(x->entity_id, y->entity_id, PT_ENTITY_ID_LEN);
		assert_memory_equal(x->parent_entity_id, y->parent_entity_id, PT_ENTITY_ID_LEN);
		assert_str_equal(x->path, y->path);
		assert_str_equal(x->cwd, y->cwd);
		assert_str_equal(x->comm, y->comm);
		assert_str_equal(x->argv, y->argv);
		assert_int_equal(x->args_count, y->args_count);
		assert_int_equal(x->flags, y->flags);
		assert_int_equal(x->mode, y->mode);
		assert_true(x->dev == y->dev && x->ino == y->ino && x->size == y->size);
		assert_true(x->mtime_ns == y->mtime_ns && x->ctime_ns == y->ctime_ns);
		assert_int_equal(x->hash_status, y->hash_status);
		if (x->hash_status == PT_HASH_OK)
			assert_memory_equal(x->sha256, y->sha256, PT_SHA256_LEN);
		assert_str_equal(x->script_path, y->script_path);
		if (x->script_path.len) {
			assert_int_equal(x->script_hash_status, y->script_hash_status);
			if (x->script_hash_status == PT_HASH_OK)
				assert_memory_equal(x->script_sha256, y->script_sha256,
						    PT_SHA256_LEN);
		}
		assert_context_equal(x, y);
		break;
	}
	case PT_REC_PROCESS_EXIT:
		assert_true(a->u.exit.time_ns == b->u.exit.time_ns);
		assert_true(a->u.exit.start_ns == b->u.exit.start_ns);
		assert_int_equal(a->u.exit.pid, b->u.exit.pid);
		assert_int_equal(a->u.exit.code, b->u.exit.code);
		assert_int_equal(a->u.exit.signal, b->u.exit.signal);
		assert_memory_equal(a->u.exit.entity_id, b->u.exit.entity_id, PT_ENTITY_ID_LEN);
		assert_str_equal(a->u.exit.comm, b->u.exit.comm);
		assert_int_equal(a->u.exit.ctx_flags, b->u.exit.ctx_flags);
		if (a->u.exit.ctx_flags & PT_EXIT_CTX_F_PRESENT)
			assert_true(a->u.exit.lifetime_ns == b->u.exit.lifetime_ns);
		if (a->u.exit.ctx_flags & PT_EXIT_CTX_F_KNOWN)
			assert_str_equal(a->u.exit.path, b->u.exit.path);
		break;
	case PT_REC_EXEC_BLOCKED:
		assert_true(a->u.blocked.time_ns == b->u.blocked.time_ns);
		assert_true(a->u.blocked.policy_version == b->u.blocked.policy_version);
		assert_int_equal(a->u.blocked.pid, b->u.blocked.pid);
		assert_int_equal(a->u.blocked.uid, b->u.blocked.uid);
		assert_memory_equal(a->u.blocked.sha256, b->u.blocked.sha256, PT_SHA256_LEN);
		assert_memory_equal(a->u.blocked.entity_id, b->u.blocked.entity_id,
				    PT_ENTITY_ID_LEN);
		assert_str_equal(a->u.blocked.path, b->u.blocked.path);
		break;
	case PT_REC_LOSS:
		assert_true(a->u.loss.time_ns == b->u.loss.time_ns);
		assert_int_equal(a->u.loss.counter, b->u.loss.counter);
		assert_true(a->u.loss.count == b->u.loss.count);
		assert_int_equal(a->u.loss.has_seq_range, b->u.loss.has_seq_range);
		if (a->u.loss.has_seq_range) {
			assert_true(a->u.loss.first_seq == b->u.loss.first_seq);
			assert_true(a->u.loss.last_seq == b->u.loss.last_seq);
		}
		break;
	case PT_REC_AGENT_STATUS:
		assert_true(a->u.status.time_ns == b->u.status.time_ns);
		assert_true(a->u.status.queue_depth == b->u.status.queue_depth);
		assert_true(a->u.status.spool_bytes == b->u.status.spool_bytes);
		assert_true(a->u.status.uptime_ns == b->u.status.uptime_ns);
		assert_true(a->u.status.events == b->u.status.events);
		assert_int_equal(a->u.status.n_counters, b->u.status.n_counters);
		for (uint32_t i = 0; i < a->u.status.n_counters; i++) {
			assert_int_equal(a->u.status.counters[i].id, b->u.status.counters[i].id);
			assert_true(a->u.status.counters[i].value ==
				    b->u.status.counters[i].value);
		}
		break;
	}
}

static uint8_t big[PT_RECORD_MAX + 64];

/* A context flag without its attribute, or an attribute without its flag, is refused. */
static void test_context_flags_match_attributes(void **state)
{
	uint8_t buf[512], id[PT_ENTITY_ID_LEN] = { 1 };
	struct pt_record r;
	size_t used;

	(void)state;
	for (int variant = 0; variant < 4; variant++) {
		struct pt_writer w;
		size_t body;

		pt_writer_init(&w, buf, sizeof(buf));
		pt_put_raw(&w, (uint8_t[PT_RECORD_HDR_LEN]){ 0 }, PT_RECORD_HDR_LEN);
		pt_put_u64(&w, PT_EXEC_TIME_NS, 1);
		pt_put_u32(&w, PT_EXEC_PID, 2);
		pt_put_bytes(&w, PT_EXEC_ENTITY_ID, id, sizeof(id));
		pt_put_cstr(&w, PT_EXEC_PATH, "/bin/x");
		pt_put_u8(&w, PT_EXEC_HASH_STATUS, PT_HASH_GONE);
		pt_put_u32(&w, PT_EXEC_CONTEXT, variant == 1 ? PT_CTX_F_PRESENT | PT_CTX_F_TTY :
				 variant == 3 ? PT_CTX_F_TTY : PT_CTX_F_PRESENT);
		pt_put_u32(&w, PT_EXEC_PGID, 2);
		pt_put_u32(&w, PT_EXEC_SID, 2);
		pt_put_u32(&w, PT_EXEC_VPID, 2);
		if (variant == 2)
			pt_put_u32(&w, PT_EXEC_TTY_MAJOR, 136);   /* no TTY flag */
		assert_int_equal(w.err, 0);
		body = w.len - PT_RECORD_HDR_LEN;
		pt_be16_put(buf, PT_REC_PROCESS_EXEC);
		buf[2] = PT_WIRE_VERSION;
		pt_be32_put(buf + 4, (uint32_t)body);
		assert_int_equal(pt_record_decode(buf, w.len, &r, &used, NULL),
				 variant == 0 ? 0 : -EBADMSG);
	}
}

static void test_record_roundtrip_random(void **state)
{
	static struct rec_store s;
	struct pt_record in, out;
	struct pt_writer w;
	struct pt_decode_stats st = { 0 };
	size_t used;

	(void)state;
	for (long round = 0; round < rounds; round++) {
		rnd_record(&in, &s);
		pt_writer_init(&w, big, sizeof(big));
		assert_int_equal(pt_record_encode(&w, &in), 0);
		int derr = pt_record_decode(big, w.len, &out, &used, &st);

		if (derr)
			fail_msg("round %ld: type %u decode %d", round, in.type, derr);
		assert_int_equal(used, w.len);
		assert_record_equal(&in, &out);
	}
	assert_int_equal(st.unknown_attrs, 0);
	assert_int_equal(st.unknown_records, 0);
}

/* Encoding into every buffer size from 0 up never writes a byte past the buffer and either
 * fits exactly or fails leaving the writer where it was. */
static void test_record_encode_never_overflows(void **state)
{
	static struct rec_store s;
	static uint8_t buf[PT_RECORD_MAX + 64];
	struct pt_record in;
	struct pt_writer w;
	size_t need;

	(void)state;
	for (int round = 0; round < 200; round++) {
		rnd_record(&in, &s);
		pt_writer_init(&w, buf, sizeof(buf));
		assert_int_equal(pt_record_encode(&w, &in), 0);
		need = w.len;
		for (size_t cap = need > 64 ? need - 64 : 0; cap <= need; cap++) {
			memset(buf, 0xA5, sizeof(buf));
			pt_writer_init(&w, buf, cap);
			int err = pt_record_encode(&w, &in);

			if (cap < need) {
				assert_int_equal(err, -ENOBUFS);
				assert_int_equal(w.len, 0);
				assert_int_equal(w.err, 0);
			} else {
				assert_int_equal(err, 0);
			}
			for (size_t i = cap; i < cap + 64 && i < sizeof(buf); i++)
				assert_int_equal(buf[i], 0xA5);
		}
	}
}

/* Every strict prefix of a valid record is refused (never read past, never accepted). */
static void test_record_truncations_refused(void **state)
{
	static struct rec_store s;
	struct pt_record in, out;
	struct pt_writer w;
	size_t used;

	(void)state;
	for (int round = 0; round < 100; round++) {
		rnd_record(&in, &s);
		pt_writer_init(&w, big, sizeof(big));
		assert_int_equal(pt_record_encode(&w, &in), 0);
		for (size_t cut = 0; cut < w.len; cut += 1 + cut / 8) {
			uint8_t *copy = malloc(cut ? cut : 1);

			memcpy(copy, big, cut);
			assert_int_not_equal(pt_record_decode(copy, cut, &out, &used, NULL), 0);
			free(copy);
		}
	}
}

static size_t sample_exec(uint8_t *buf, size_t cap)
{
	struct pt_record r = { .type = PT_REC_PROCESS_EXEC };
	struct pt_writer w;

	r.u.exec.time_ns = 1;
	r.u.exec.pid = 42;
	r.u.exec.path = (struct pt_str){ "/bin/true", 9 };
	r.u.exec.argv = (struct pt_str){ "true\0", 5 };
	r.u.exec.args_count = 1;
	r.u.exec.hash_status = PT_HASH_GONE;
	pt_writer_init(&w, buf, cap);
	assert_int_equal(pt_record_encode(&w, &r), 0);
	return w.len;
}

static void test_record_limits(void **state)
{
	static char path[PT_PATH_MAX + 1];
	static char argv[PT_ARGS_MAX * 2 + 2];
	struct pt_record r = { .type = PT_REC_PROCESS_EXEC };
	struct pt_writer w;

	(void)state;
	memset(path, 'a', sizeof(path));
	r.u.exec.path = (struct pt_str){ path, PT_PATH_MAX + 1 };
	r.u.exec.hash_status = PT_HASH_GONE;
	pt_writer_init(&w, big, sizeof(big));
	assert_int_equal(pt_record_encode(&w, &r), -EMSGSIZE);
	assert_int_equal(w.len, 0);

	r.u.exec.path = (struct pt_str){ "a\0b", 3 };
	assert_int_equal(pt_record_encode(&w, &r), -EINVAL);

	/* argv that does not end in NUL, and argv with too many entries */
	r.u.exec.path = (struct pt_str){ "/x", 2 };
	r.u.exec.argv = (struct pt_str){ "ab", 2 };
	assert_int_equal(pt_record_encode(&w, &r), -EINVAL);
	for (size_t i = 0; i < sizeof(argv); i += 2) {
		argv[i] = 'x';
		if (i + 1 < sizeof(argv))
			argv[i + 1] = '\0';
	}
	r.u.exec.argv = (struct pt_str){ argv, sizeof(argv) };
	assert_int_equal(pt_record_encode(&w, &r), -EMSGSIZE);

	/* A record claiming a body over PT_RECORD_MAX is refused from its header alone. */
	uint8_t hdr[8] = { 0, 1, 1, 0, 0xff, 0xff, 0xff, 0xff };
	struct pt_record out;
	size_t used;

	assert_int_equal(pt_record_decode(hdr, sizeof(hdr), &out, &used, NULL), -EMSGSIZE);
}

static void test_unknown_skipped_and_counted(void **state)
{
	uint8_t buf[512];
	struct pt_record out;
	struct pt_decode_stats st = { 0 };
	size_t len, used;

	(void)state;
	len = sample_exec(buf, sizeof(buf));
	/* Append an attribute of a type this decoder does not know. */
	uint8_t extra[] = { 0x7f, 0x00, 0x00, 0x03, 'n', 'e', 'w' };

	memcpy(buf + len, extra, sizeof(extra));
	pt_be32_put(buf + 4, pt_be32_get(buf + 4) + sizeof(extra));
	assert_int_equal(pt_record_decode(buf, len + sizeof(extra), &out, &used, &st), 0);
	assert_int_equal(out.type, PT_REC_PROCESS_EXEC);
	assert_int_equal(st.unknown_attrs, 1);
	assert_int_equal(out.u.exec.pid, 42);

	/* An unknown record type is skipped whole. */
	pt_be16_put(buf, 999);
	assert_int_equal(pt_record_decode(buf, len + sizeof(extra), &out, &used, &st), 0);
	assert_int_equal(out.type, PT_REC_UNKNOWN);
	assert_int_equal(out.wire_type, 999);
	assert_int_equal(used, len + sizeof(extra));
	assert_int_equal(st.unknown_records, 1);

	/* ...unless it is from a newer version and marked critical. */
	buf[2] = PT_WIRE_VERSION + 1;
	buf[3] = PT_RECORD_F_CRITICAL;
	assert_int_equal(pt_record_decode(buf, len + sizeof(extra), &out, &used, &st),
			 -EPROTONOSUPPORT);
}

static void test_duplicate_and_missing_refused(void **state)
{
	uint8_t buf[512];
	struct pt_record out;
	size_t len, used;

	(void)state;
	len = sample_exec(buf, sizeof(buf));
	/* A second PID attribute. */
	uint8_t dup[] = { 0, PT_EXEC_PID, 0, 4, 0, 0, 0, 7 };

	memcpy(buf + len, dup, sizeof(dup));
	pt_be32_put(buf + 4, pt_be32_get(buf + 4) + sizeof(dup));
	assert_int_equal(pt_record_decode(buf, len + sizeof(dup), &out, &used, NULL), -EBADMSG);

	/* A PID attribute with the wrong width. */
	len = sample_exec(buf, sizeof(buf));
	uint8_t wide[] = { 0, PT_EXEC_TID, 0, 3, 0, 0, 7 };

	memcpy(buf + len, wide, sizeof(wide));
	pt_be32_put(buf + 4, pt_be32_get(buf + 4) + sizeof(wide));
	assert_int_equal(pt_record_decode(buf, len + sizeof(wide), &out, &used, NULL), -EBADMSG);

	/* An attribute whose length runs past the record. */
	len = sample_exec(buf, sizeof(buf));
	uint8_t over[] = { 0, 100, 0x10, 0 };

	memcpy(buf + len, over, sizeof(over));
	pt_be32_put(buf + 4, pt_be32_get(buf + 4) + sizeof(over));
	assert_int_equal(pt_record_decode(buf, len + sizeof(over), &out, &used, NULL), -EBADMSG);

	/* A LOSS with no counter. */
	uint8_t loss[] = { 0, PT_REC_LOSS, 1, 0, 0, 0, 0, 12, 0, PT_LOSS_COUNT, 0, 8,
			   0, 0, 0, 0, 0, 0, 0, 1 };

	assert_int_equal(pt_record_decode(loss, sizeof(loss), &out, &used, NULL), -EBADMSG);
}

static void test_frames_roundtrip(void **state)
{
	static uint8_t buf[PT_FRAME_MAX];
	struct pt_writer w;
	struct pt_frame f;
	struct pt_frame_header h;

	(void)state;
	for (long round = 0; round < rounds / 6; round++) {
		pt_writer_init(&w, buf, sizeof(buf));
		switch (round % 7) {
		case 0: {
			struct pt_hello in = { .version = { "1.0", 3 }, .hostname = { "host", 4 },
					       .agent_name = { "agent-1", 7 },
					       .stream_id = rnd(), .first_seq = rnd(),
					       .next_seq = rnd(), .mode = PT_MODE_PULL,
					       .policy_version = rnd() }, out;

			rnd_bytes(in.boot_id, sizeof(in.boot_id));
			assert_int_equal(pt_hello_encode(&w, &in), 0);
			assert_int_equal(pt_frame_split(buf, w.len, &f), 0);
			assert_int_equal(pt_hello_decode(&f, &out, NULL), 0);
			assert_str_equal(in.agent_name, out.agent_name);
			assert_str_equal(in.hostname, out.hostname);
			assert_memory_equal(in.boot_id, out.boot_id, PT_BOOT_ID_LEN);
			assert_true(in.stream_id == out.stream_id && in.next_seq == out.next_seq);
			assert_true(in.first_seq == out.first_seq);
			assert_true(in.policy_version == out.policy_version);
			assert_int_equal(out.mode, PT_MODE_PULL);
			break;
		}
		case 1: {
			struct pt_welcome in = { .version = { "1", 1 }, .acked_seq = rnd(),
						 .has_acked_seq = rnd_below(2),
						 .ping_interval_ms = 5000 }, out;

			assert_int_equal(pt_welcome_encode(&w, &in), 0);
			assert_int_equal(pt_frame_split(buf, w.len, &f), 0);
			assert_int_equal(pt_welcome_decode(&f, &out, NULL), 0);
			assert_int_equal(in.has_acked_seq, out.has_acked_seq);
			if (in.has_acked_seq)
				assert_true(in.acked_seq == out.acked_seq);
			assert_int_equal(out.ping_interval_ms, 5000);
			break;
		}
		case 2: {
			struct pt_ack in = { rnd(), rnd() }, out;

			assert_int_equal(pt_ack_encode(&w, &in), 0);
			assert_int_equal(pt_frame_split(buf, w.len, &f), 0);
			assert_int_equal(pt_ack_decode(&f, &out, NULL), 0);
			assert_true(in.stream_id == out.stream_id && in.seq == out.seq);
			break;
		}
		case 3: {
			struct pt_pong in = { .nonce = rnd(), .queue_depth = rnd(),
					      .spool_bytes = rnd(), .next_seq = rnd(),
					      .acked_seq = rnd(),
					      .n_counters = rnd_below(PT_COUNTERS_MAX + 1) }, out;

			for (uint32_t i = 0; i < in.n_counters; i++)
				in.counters[i] = (struct pt_counter){ (uint16_t)rnd(), rnd() };
			assert_int_equal(pt_pong_encode(&w, &in), 0);
			assert_int_equal(pt_frame_split(buf, w.len, &f), 0);
			assert_int_equal(pt_pong_decode(&f, &out, NULL), 0);
			assert_true(in.nonce == out.nonce && in.spool_bytes == out.spool_bytes);
			assert_int_equal(in.n_counters, out.n_counters);
			for (uint32_t i = 0; i < in.n_counters; i++)
				assert_true(in.counters[i].value == out.counters[i].value);
			break;
		}
		case 4: {
			struct pt_error in = { .code = PT_ERR_IDENTITY, .frame_type = PT_FRAME_HELLO,
					       .message = { "not you", 7 } }, out;

			assert_int_equal(pt_error_encode(&w, &in), 0);
			assert_int_equal(pt_frame_split(buf, w.len, &f), 0);
			assert_int_equal(pt_error_decode(&f, &out, NULL), 0);
			assert_int_equal(out.code, PT_ERR_IDENTITY);
			assert_int_equal(out.frame_type, PT_FRAME_HELLO);
			assert_str_equal(in.message, out.message);
			break;
		}
		case 5: {
			static uint8_t hashes[100][PT_SHA256_LEN];
			uint32_t n = rnd_below(100);
			struct pt_policy out;
			struct pt_policy_iter it;
			uint8_t h32[PT_SHA256_LEN];
			uint32_t seen = 0;

			rnd_bytes(&hashes[0][0], sizeof(hashes));
			assert_int_equal(pt_policy_encode(&w, 7, (const uint8_t(*)[32])hashes, n), 0);
			assert_int_equal(pt_frame_split(buf, w.len, &f), 0);
			assert_int_equal(pt_policy_decode(&f, &out, NULL), 0);
			assert_int_equal(out.n_hashes, n);
			assert_true(out.version == 7);
			pt_policy_iter_init(&it, &f);
			while (pt_policy_next_hash(&it, h32) == 1)
				assert_memory_equal(h32, hashes[seen++], PT_SHA256_LEN);
			assert_int_equal(seen, n);
			break;
		}
		case 6: {
			struct pt_ping in = { rnd() }, out;
			struct pt_collect cin = { rnd() }, cout;

			assert_int_equal(pt_ping_encode(&w, &in), 0);
			assert_int_equal(pt_frame_split(buf, w.len, &f), 0);
			assert_int_equal(pt_ping_decode(&f, &out, NULL), 0);
			assert_true(in.nonce == out.nonce);
			/* Wrong typed decoder for a frame: refused. */
			assert_int_equal(pt_collect_decode(&f, &cout, NULL), -EINVAL);
			pt_writer_init(&w, buf, sizeof(buf));
			assert_int_equal(pt_collect_encode(&w, &cin), 0);
			assert_int_equal(pt_frame_split(buf, w.len, &f), 0);
			assert_int_equal(pt_collect_decode(&f, &cout, NULL), 0);
			assert_true(cin.nonce == cout.nonce);
			break;
		}
		}
		assert_int_equal(pt_frame_header_parse(buf, w.len, PT_FRAME_MAX, &h), 0);
		assert_int_equal(h.payload_len + PT_FRAME_HDR_LEN, w.len);
		/* A frame must be consumed exactly: one byte more or less is malformed. */
		assert_int_equal(pt_frame_split(buf, w.len + 1, &f), -EBADMSG);
		assert_int_equal(pt_frame_split(buf, w.len - 1, &f), -EBADMSG);
	}
}

static void test_frame_header_refusals(void **state)
{
	uint8_t hdr[8] = { 0x50, 0x54, PT_WIRE_VERSION, PT_FRAME_PING, 0, 0, 0, 12 };
	struct pt_frame_header h;

	(void)state;
	assert_int_equal(pt_frame_header_parse(hdr, 7, PT_FRAME_MAX, &h), -EAGAIN);
	assert_int_equal(pt_frame_header_parse(hdr, 8, PT_FRAME_MAX, &h), 0);
	assert_int_equal(h.payload_len, 12);
	pt_be32_put(hdr + 4, PT_FRAME_MAX);
	assert_int_equal(pt_frame_header_parse(hdr, 8, PT_FRAME_MAX, &h), -EMSGSIZE);
	/* A per-connection limit below the global one is honoured. */
	pt_be32_put(hdr + 4, 5000);
	assert_int_equal(pt_frame_header_parse(hdr, 8, 4096, &h), -EMSGSIZE);
	pt_be32_put(hdr + 4, 12);
	hdr[0] = 'X';
	assert_int_equal(pt_frame_header_parse(hdr, 8, PT_FRAME_MAX, &h), -EPROTO);
	hdr[0] = 0x50;
	hdr[2] = 99;
	assert_int_equal(pt_frame_header_parse(hdr, 8, PT_FRAME_MAX, &h), -EPROTO);
}

static void test_batch_roundtrip_zstd_and_raw(void **state)
{
	static struct rec_store s;
	static uint8_t records[1 << 20], frame[PT_FRAME_MAX], scratch[1 << 21], out[1 << 20];
	struct pt_writer rw, fw;
	struct pt_record in[64], dec;
	struct pt_frame f;
	struct pt_batch b;
	const uint8_t *recs;
	size_t recs_len, off, used;
	uint32_t n;

	(void)state;
	for (int codec = PT_CODEC_NONE; codec <= PT_CODEC_ZSTD; codec++) {
		for (int round = 0; round < 20; round++) {
			n = 1 + rnd_below(64);
			pt_writer_init(&rw, records, sizeof(records));
			for (uint32_t i = 0; i < n; i++) {
				/* Exec-like records repeat a lot, which is what zstd is for. */
				rnd_record(&in[i], &s);
				in[i].type = PT_REC_LOSS;
				in[i].u.loss.counter = PT_LOSS_RING_FULL;
				in[i].u.loss.count = i;
				in[i].u.loss.has_seq_range = false;
				assert_int_equal(pt_record_encode(&rw, &in[i]), 0);
			}
			pt_writer_init(&fw, frame, sizeof(frame));
			assert_int_equal(pt_batch_encode(&fw, 77, 1000, n, records, rw.len, codec,
							 scratch, sizeof(scratch)), 0);
			assert_int_equal(pt_frame_split(frame, fw.len, &f), 0);
			assert_int_equal(pt_batch_decode(&f, &b, NULL), 0);
			assert_true(b.stream_id == 77 && b.first_seq == 1000);
			assert_int_equal(b.count, n);
			if (codec == PT_CODEC_ZSTD && rw.len >= 512)
				assert_int_equal(b.codec, PT_CODEC_ZSTD);
			assert_int_equal(pt_batch_records(&b, out, sizeof(out), &recs, &recs_len), 0);
			assert_int_equal(recs_len, rw.len);
			off = 0;
			for (uint32_t i = 0; i < n; i++) {
				assert_int_equal(pt_record_decode(recs + off, recs_len - off, &dec,
								  &used, NULL), 0);
				assert_record_equal(&in[i], &dec);
				off += used;
			}
			assert_int_equal(off, recs_len);
		}
	}
}

/* A reused context must give exactly the bytes a fresh one gives, batch after batch (state
 * left over from a previous batch would show up as a difference). */
static void test_batch_cctx_same_bytes(void **state)
{
	static struct rec_store s;
	static uint8_t records[1 << 20], a[1 << 21], b[1 << 21], sa[1 << 21], sb[1 << 21];
	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	struct pt_writer rw, wa, wb;
	struct pt_record r;
	struct pt_frame f;
	struct pt_batch m;
	bool compressed = false;

	(void)state;
	assert_non_null(cctx);
	for (int round = 0; round < 30; round++) {
		uint32_t n = 1 + rnd_below(round % 2 ? 64 : 200);
		int codec = round % 5 == 4 ? PT_CODEC_NONE : PT_CODEC_ZSTD;
		size_t one = sample_exec(records, sizeof(records));

		/* Alternate repetitive (compressible) and random (often not) batches. */
		pt_writer_init(&rw, records, sizeof(records));
		for (uint32_t i = 0; i < n; i++) {
			if (round % 2) {
				rnd_record(&r, &s);
				assert_int_equal(pt_record_encode(&rw, &r), 0);
			} else {
				memmove(records + rw.len, records, one);
				rw.len += one;
			}
		}
		pt_writer_init(&wa, a, sizeof(a));
		pt_writer_init(&wb, b, sizeof(b));
		assert_int_equal(pt_batch_encode(&wa, 9, 5, n, records, rw.len, codec, sa,
						 sizeof(sa)), 0);
		assert_int_equal(pt_batch_encode_cctx(&wb, 9, 5, n, records, rw.len, codec, sb,
						      sizeof(sb), cctx), 0);
		assert_int_equal(wa.len, wb.len);
		assert_memory_equal(a, b, wa.len);
		assert_int_equal(pt_frame_split(b, wb.len, &f), 0);
		assert_int_equal(pt_batch_decode(&f, &m, NULL), 0);
		if (m.codec == PT_CODEC_ZSTD)
			compressed = true;
		assert_true(codec == PT_CODEC_ZSTD || m.codec == PT_CODEC_NONE);
	}
	assert_true(compressed);
	ZSTD_freeCCtx(cctx);
}

static void test_batch_refusals(void **state)
{
	static uint8_t frame[1 << 16], scratch[1 << 16], out[1 << 16];
	uint8_t rec[1024];
	size_t rlen = sample_exec(rec, sizeof(rec));
	struct pt_writer w;
	struct pt_frame f;
	struct pt_batch b;
	const uint8_t *recs;
	size_t recs_len;

	(void)state;
	pt_writer_init(&w, frame, sizeof(frame));
	assert_int_equal(pt_batch_encode(&w, 1, 1, 0, rec, rlen, PT_CODEC_NONE, NULL, 0),
			 -EMSGSIZE);
	assert_int_equal(pt_batch_encode(&w, 1, 1, PT_BATCH_RECORDS_MAX + 1, rec, rlen,
					 PT_CODEC_NONE, NULL, 0), -EMSGSIZE);

	/* first_seq 0 is not a sequence number. */
	pt_writer_init(&w, frame, sizeof(frame));
	assert_int_equal(pt_batch_encode(&w, 1, 0, 1, rec, rlen, PT_CODEC_NONE, NULL, 0), 0);
	assert_int_equal(pt_frame_split(frame, w.len, &f), 0);
	assert_int_equal(pt_batch_decode(&f, &b, NULL), -EBADMSG);

	/* A zstd body whose declared size differs from raw_len is refused before decompressing. */
	static uint8_t big_rec[4096];

	memset(big_rec, 'z', sizeof(big_rec));
	size_t clen = ZSTD_compress(scratch, sizeof(scratch), big_rec, sizeof(big_rec), 1);

	assert_false(ZSTD_isError(clen));
	b = (struct pt_batch){ .stream_id = 1, .first_seq = 1, .count = 1, .codec = PT_CODEC_ZSTD,
			       .raw_len = 100, .body = scratch, .body_len = clen };
	assert_int_equal(pt_batch_records(&b, out, sizeof(out), &recs, &recs_len), -EBADMSG);
	b.raw_len = sizeof(big_rec);
	assert_int_equal(pt_batch_records(&b, out, 100, &recs, &recs_len), -EMSGSIZE);
	assert_int_equal(pt_batch_records(&b, out, sizeof(out), &recs, &recs_len), 0);
	assert_int_equal(recs_len, sizeof(big_rec));
}

/* A BATCH frame built by hand with any RAW_LEN and body: what a hostile agent can send. */
static size_t hand_batch(uint8_t *frame, uint32_t count, uint8_t codec, uint32_t raw_len,
			 const uint8_t *body, size_t body_len)
{
	uint8_t *p = frame + PT_FRAME_HDR_LEN + 4;
	const struct { uint16_t type; uint64_t v; unsigned len; } attrs[] = {
		{ PT_BATCH_STREAM_ID, 1, 8 }, { PT_BATCH_FIRST_SEQ, 1, 8 },
		{ PT_BATCH_COUNT, count, 4 }, { PT_BATCH_CODEC, codec, 1 },
		{ PT_BATCH_RAW_LEN, raw_len, 4 },
	};

	for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
		pt_be16_put(p, attrs[i].type);
		pt_be16_put(p + 2, (uint16_t)attrs[i].len);
		for (unsigned k = 0; k < attrs[i].len; k++)
			p[4 + k] = (uint8_t)(attrs[i].v >> (8 * (attrs[i].len - 1 - k)));
		p += 4 + attrs[i].len;
	}
	pt_be32_put(frame + PT_FRAME_HDR_LEN, (uint32_t)(p - frame - PT_FRAME_HDR_LEN - 4));
	memcpy(p, body, body_len);
	p += body_len;
	frame[0] = 0x50;
	frame[1] = 0x54;
	frame[2] = PT_WIRE_VERSION;
	frame[3] = PT_FRAME_BATCH;
	pt_be32_put(frame + 4, (uint32_t)(p - frame - PT_FRAME_HDR_LEN));
	return (size_t)(p - frame);
}

/* A zstd body that would expand more than PT_BATCH_ZSTD_RATIO_MAX times is refused from the
 * header (before any allocation or inflating); at the bound it is accepted. */
static void test_batch_ratio_bound(void **state)
{
	static uint8_t raw[PT_BATCH_RAW_MAX], z[1 << 16], frame[1 << 17];
	struct pt_frame f;
	struct pt_batch b;
	size_t zlen, n;

	(void)state;
	memset(raw, 0, sizeof(raw));
	zlen = ZSTD_compress(z, sizeof(z), raw, sizeof(raw), 19);
	assert_false(ZSTD_isError(zlen));
	assert_true(zlen * PT_BATCH_ZSTD_RATIO_MAX < sizeof(raw));
	n = hand_batch(frame, 1, PT_CODEC_ZSTD, PT_BATCH_RAW_MAX, z, zlen);
	assert_int_equal(pt_frame_split(frame, n, &f), 0);
	assert_int_equal(pt_batch_decode(&f, &b, NULL), -EMSGSIZE);
	/* The same body declaring exactly ratio x its size passes the header check (the zstd
	 * frame's own size then decides, in pt_batch_records). */
	n = hand_batch(frame, 1, PT_CODEC_ZSTD, (uint32_t)(zlen * PT_BATCH_ZSTD_RATIO_MAX), z, zlen);
	assert_int_equal(pt_frame_split(frame, n, &f), 0);
	assert_int_equal(pt_batch_decode(&f, &b, NULL), 0);
	/* Over the absolute bound, whatever the ratio. */
	n = hand_batch(frame, 1, PT_CODEC_ZSTD, PT_BATCH_RAW_MAX + 1, z, zlen);
	assert_int_equal(pt_frame_split(frame, n, &f), 0);
	assert_int_equal(pt_batch_decode(&f, &b, NULL), -EMSGSIZE);
}

/* The most repetitive honest batch (one exec over and over, as a busy loop makes) stays
 * inside the ratio; a body that would not is sent raw by the encoder instead. */
static void test_batch_ratio_honest(void **state)
{
	static uint8_t records[1 << 20], frame[PT_FRAME_MAX], scratch[1 << 21];
	uint8_t rec[1024];
	size_t rlen = sample_exec(rec, sizeof(rec)), len = 0;
	struct pt_writer w;
	struct pt_frame f;
	struct pt_batch b;
	uint32_t n = 0;

	(void)state;
	while (len + rlen <= sizeof(records) && n < 2048) {
		memcpy(records + len, rec, rlen);
		len += rlen;
		n++;
	}
	pt_writer_init(&w, frame, sizeof(frame));
	assert_int_equal(pt_batch_encode(&w, 1, 1, n, records, len, PT_CODEC_ZSTD, scratch,
					 sizeof(scratch)), 0);
	assert_int_equal(pt_frame_split(frame, w.len, &f), 0);
	assert_int_equal(pt_batch_decode(&f, &b, NULL), 0);
	print_message("identical exec records: %zu bytes as %zu (%s, %.0fx)\n", len, b.body_len,
		      b.codec == PT_CODEC_ZSTD ? "zstd" : "raw", (double)len / (double)b.body_len);
	/* Byte-identical records are beyond any honest batch: the encoder falls back to raw. */
	assert_int_equal(b.codec, PT_CODEC_NONE);

	/* The same command in a loop, as a host makes it: time, pid and entity id differ. */
	pt_writer_init(&w, records, sizeof(records));
	for (n = 0; n < 2048; n++) {
		struct pt_record r = { .type = PT_REC_PROCESS_EXEC };

		r.u.exec.time_ns = 1700000000000000000ull + n * 150000ull;
		r.u.exec.pid = 4000 + n;
		r.u.exec.ppid = 3999;
		for (unsigned k = 0; k < PT_ENTITY_ID_LEN; k++)
			r.u.exec.entity_id[k] = (uint8_t)rnd_below(256);
		r.u.exec.path = (struct pt_str){ "/bin/true", 9 };
		r.u.exec.argv = (struct pt_str){ "true\0", 5 };
		r.u.exec.args_count = 1;
		r.u.exec.hash_status = PT_HASH_GONE;
		assert_int_equal(pt_record_encode(&w, &r), 0);
	}
	len = w.len;
	pt_writer_init(&w, frame, sizeof(frame));
	assert_int_equal(pt_batch_encode(&w, 1, 1, n, records, len, PT_CODEC_ZSTD, scratch,
					 sizeof(scratch)), 0);
	assert_int_equal(pt_frame_split(frame, w.len, &f), 0);
	assert_int_equal(pt_batch_decode(&f, &b, NULL), 0);
	print_message("one command in a loop: %u bytes as %zu (%.1fx)\n", b.raw_len, b.body_len,
		      (double)b.raw_len / (double)b.body_len);
	assert_int_equal(b.codec, PT_CODEC_ZSTD);
	assert_true((uint64_t)b.raw_len * 4 <= (uint64_t)b.body_len * PT_BATCH_ZSTD_RATIO_MAX);
}

/* SAMPLE_GET / SAMPLE_DATA: a chunk round-trips with its body; a refusal carries none; a
 * chunk past the file's end, a body over PT_SAMPLE_CHUNK_MAX and a missing attribute are
 * refused by the decoder, so the collector never writes outside the file it expects. */
static void test_sample_frames(void **state)
{
	static uint8_t buf[PT_SAMPLE_CHUNK_MAX + 4096], chunk[PT_SAMPLE_CHUNK_MAX + 1];
	struct pt_sample_get g = { .id = 42, .offset = 1u << 20, .length = 65536 }, g2;
	struct pt_sample_data d, d2;
	struct pt_writer w;
	struct pt_frame f;

	(void)state;
	memset(g.sha256, 0x5a, PT_SHA256_LEN);
	pt_writer_init(&w, buf, sizeof(buf));
	assert_int_equal(pt_sample_get_encode(&w, &g), 0);
	assert_int_equal(pt_frame_split(buf, w.len, &f), 0);
	assert_int_equal(pt_sample_get_decode(&f, &g2, NULL), 0);
	assert_memory_equal(&g, &g2, sizeof(g));

	for (size_t i = 0; i < sizeof(chunk); i++)
		chunk[i] = (uint8_t)(i * 7);
	d = (struct pt_sample_data){ .id = 42, .offset = 100, .size = 100 + PT_SAMPLE_CHUNK_MAX,
				     .body = chunk, .body_len = PT_SAMPLE_CHUNK_MAX };
	memcpy(d.sha256, g.sha256, PT_SHA256_LEN);
	pt_writer_init(&w, buf, sizeof(buf));
	assert_int_equal(pt_sample_data_encode(&w, &d), 0);
	assert_int_equal(pt_frame_split(buf, w.len, &f), 0);
	assert_int_equal(pt_sample_data_decode(&f, &d2, NULL), 0);
	assert_int_equal(d2.code, 0);
	assert_int_equal(d2.offset, 100);
	assert_int_equal(d2.size, 100 + PT_SAMPLE_CHUNK_MAX);
	assert_int_equal(d2.body_len, PT_SAMPLE_CHUNK_MAX);
	assert_memory_equal(d2.body, chunk, PT_SAMPLE_CHUNK_MAX);

	/* the same chunk announced in a file one byte shorter: past its end */
	d.size--;
	pt_writer_init(&w, buf, sizeof(buf));
	assert_int_equal(pt_sample_data_encode(&w, &d), 0);
	assert_int_equal(pt_frame_split(buf, w.len, &f), 0);
	assert_int_equal(pt_sample_data_decode(&f, &d2, NULL), -EBADMSG);

	/* over the chunk maximum, or a body with a refusal: not encoded */
	d.size = 1u << 30;
	d.body_len = PT_SAMPLE_CHUNK_MAX + 1;
	pt_writer_init(&w, buf, sizeof(buf));
	assert_int_equal(pt_sample_data_encode(&w, &d), -EMSGSIZE);
	d.body_len = 1;
	d.code = PT_SAMPLE_CHANGED;
	assert_int_equal(pt_sample_data_encode(&w, &d), -EMSGSIZE);

	/* a refusal: code and message, no body, no size needed */
	d = (struct pt_sample_data){ .id = 42, .offset = 7, .code = PT_SAMPLE_NOT_SEEN,
				     .message = { "never seen", 10 } };
	pt_writer_init(&w, buf, sizeof(buf));
	assert_int_equal(pt_sample_data_encode(&w, &d), 0);
	assert_int_equal(pt_frame_split(buf, w.len, &f), 0);
	assert_int_equal(pt_sample_data_decode(&f, &d2, NULL), 0);
	assert_int_equal(d2.code, PT_SAMPLE_NOT_SEEN);
	assert_int_equal(d2.body_len, 0);
	assert_int_equal(d2.message.len, 10);
	assert_memory_equal(d2.message.ptr, "never seen", 10);
	/* a refusal with bytes behind it, made by hand: refused */
	{
		struct pt_frame_builder fb;
		pt_writer_init(&w, buf, sizeof(buf));
		pt_frame_begin(&fb, &w, PT_FRAME_SAMPLE_DATA);
		pt_put_u64(&w, PT_SAMPLE_DATA_ID, 1);
		pt_put_bytes(&w, PT_SAMPLE_DATA_SHA256, g.sha256, PT_SHA256_LEN);
		pt_put_u64(&w, PT_SAMPLE_DATA_OFFSET, 0);
		pt_put_u64(&w, PT_SAMPLE_DATA_SIZE, 10);
		pt_put_u32(&w, PT_SAMPLE_DATA_CODE, PT_SAMPLE_CHANGED);
		pt_frame_end_attrs(&fb);
		pt_put_raw(&w, "abc", 3);
		assert_int_equal(pt_frame_end(&fb), 0);
		assert_int_equal(pt_frame_split(buf, w.len, &f), 0);
		assert_int_equal(pt_sample_data_decode(&f, &d2, NULL), -EBADMSG);
	}
	/* SAMPLE_GET without its offset */
	{
		struct pt_frame_builder fb;
		pt_writer_init(&w, buf, sizeof(buf));
		pt_frame_begin(&fb, &w, PT_FRAME_SAMPLE_GET);
		pt_put_u64(&w, PT_SAMPLE_GET_ID, 1);
		pt_put_bytes(&w, PT_SAMPLE_GET_SHA256, g.sha256, PT_SHA256_LEN);
		pt_put_u32(&w, PT_SAMPLE_GET_LENGTH, 10);
		assert_int_equal(pt_frame_end(&fb), 0);
		assert_int_equal(pt_frame_split(buf, w.len, &f), 0);
		assert_int_equal(pt_sample_get_decode(&f, &g2, NULL), -EBADMSG);
	}
	assert_string_equal(pt_sample_code_name(PT_SAMPLE_NOT_SEEN), "not_seen");
	assert_string_equal(pt_frame_type_name(PT_FRAME_SAMPLE_DATA), "SAMPLE_DATA");
	assert_null(pt_sample_code_name(PT_SAMPLE_CODE_MAX + 1));
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(pt_hash_status_name(PT_HASH_TOO_LARGE), "too_large");
	assert_string_equal(pt_hash_status_name(PT_HASH_MEMFD), "memfd");
	assert_null(pt_hash_status_name(99));
	assert_string_equal(pt_loss_counter_name(PT_LOSS_SPOOL_CORRUPT), "spool_corrupt");
	assert_null(pt_loss_counter_name(0));
	assert_string_equal(pt_frame_type_name(PT_FRAME_COLLECT), "COLLECT");
	assert_null(pt_frame_type_name(200));
}

int main(void)
{
	const char *r = getenv("WIRE_ROUNDS"), *seed = getenv("WIRE_SEED");

	if (r && strtol(r, NULL, 10) > 0)
		rounds = strtol(r, NULL, 10);
	if (seed && strtoull(seed, NULL, 0))
		rng_state = strtoull(seed, NULL, 0);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_roundtrip_random),
		cmocka_unit_test(test_context_flags_match_attributes),
		cmocka_unit_test(test_record_encode_never_overflows),
		cmocka_unit_test(test_record_truncations_refused),
		cmocka_unit_test(test_record_limits),
		cmocka_unit_test(test_unknown_skipped_and_counted),
		cmocka_unit_test(test_duplicate_and_missing_refused),
		cmocka_unit_test(test_frames_roundtrip),
		cmocka_unit_test(test_frame_header_refusals),
		cmocka_unit_test(test_batch_roundtrip_zstd_and_raw),
		cmocka_unit_test(test_batch_cctx_same_bytes),
		cmocka_unit_test(test_batch_refusals),
		cmocka_unit_test(test_batch_ratio_bound),
		cmocka_unit_test(test_batch_ratio_honest),
		cmocka_unit_test(test_sample_frames),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
