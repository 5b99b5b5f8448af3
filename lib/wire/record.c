/* Records: encode and decode each record type as typed attributes. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "proctrail/wire.h"
#include "fields.h"

/* ---------- the attribute tables, for both directions ---------- */

/* A hash is written, or its absent reason, never both; a script's pair only with a script. */
static bool no_hash(const void *in) { return ((const struct pt_exec *)in)->hash_status != PT_HASH_OK; }
static bool has_hash(const void *in) { return !no_hash(in); }
static bool no_script(const void *in) { return !((const struct pt_exec *)in)->script_path.len; }
static bool no_script_hash(const void *in)
{
	return no_script(in) || ((const struct pt_exec *)in)->script_hash_status != PT_HASH_OK;
}
static bool no_script_status(const void *in)
{
	return no_script(in) || ((const struct pt_exec *)in)->script_hash_status == PT_HASH_OK;
}
static bool no_range(const void *in) { return !((const struct pt_loss *)in)->has_seq_range; }

/* Context attributes are written when PT_EXEC_CONTEXT says they are known (names: when they
 * could be resolved). */
#define EXEC_OMIT_UNLESS(fn, flag) \
	static bool fn(const void *in) { return !(((const struct pt_exec *)in)->ctx_flags & (flag)); }
#define EXEC_OMIT_EMPTY(fn, member) \
	static bool fn(const void *in) { return !((const struct pt_exec *)in)->member.len; }
EXEC_OMIT_UNLESS(no_ctx, PT_CTX_F_PRESENT)
EXEC_OMIT_UNLESS(no_parent, PT_CTX_F_PARENT_KNOWN)
EXEC_OMIT_UNLESS(no_pgid_leader, PT_CTX_F_PGID_LEADER)
EXEC_OMIT_UNLESS(no_sid_leader, PT_CTX_F_SID_LEADER)
EXEC_OMIT_UNLESS(no_sid_path, PT_CTX_F_SID_KNOWN)
EXEC_OMIT_UNLESS(no_entry, PT_CTX_F_ENTRY_KNOWN)
EXEC_OMIT_UNLESS(no_entry_leader, PT_CTX_F_ENTRY_LEADER)
EXEC_OMIT_UNLESS(no_tty, PT_CTX_F_TTY)
EXEC_OMIT_UNLESS(no_login_uid, PT_CTX_F_LOGIN_UID)
EXEC_OMIT_UNLESS(no_session_id, PT_CTX_F_SESSION_ID)
EXEC_OMIT_UNLESS(no_container, PT_CTX_F_CONTAINER)
EXEC_OMIT_EMPTY(no_user_name, user_name)
EXEC_OMIT_EMPTY(no_real_user_name, real_user_name)
EXEC_OMIT_EMPTY(no_group_name, group_name)
EXEC_OMIT_EMPTY(no_real_group_name, real_group_name)
EXEC_OMIT_EMPTY(no_login_user_name, login_user_name)
EXEC_OMIT_EMPTY(no_cgroup_path, cgroup_path)
static bool no_exit_ctx(const void *in) { return !((const struct pt_exit *)in)->ctx_flags; }
static bool no_exit_path(const void *in)
{
	return !(((const struct pt_exit *)in)->ctx_flags & PT_EXIT_CTX_F_KNOWN);
}
static bool no_exit_lifetime(const void *in)
{
	return !(((const struct pt_exit *)in)->ctx_flags & PT_EXIT_CTX_F_PRESENT);
}

#define HAS(seen, type) (((seen) >> (type)) & 1)
#define F(t, k, m) PT_FIELD(t, k, struct pt_exec, m)
#define FI(t, k, m, omit) PT_FIELD_IF(t, k, struct pt_exec, m, omit)
#define FS(t, m, max, omit) PT_FIELD_STR_IF(t, struct pt_exec, m, max, omit)
#define FX(t, m, omit) PT_FIELD_FIXED_IF(t, struct pt_exec, m, PT_ENTITY_ID_LEN, omit)

static const struct pt_field exec_fields[] = {
	F(PT_EXEC_TIME_NS, PT_F_U64, time_ns),
	F(PT_EXEC_START_NS, PT_F_U64, start_ns),
	F(PT_EXEC_PID, PT_F_U32, pid),
	F(PT_EXEC_TID, PT_F_U32, tid),
	F(PT_EXEC_PPID, PT_F_U32, ppid),
	PT_FIELD_FIXED(PT_EXEC_ENTITY_ID, struct pt_exec, entity_id, PT_ENTITY_ID_LEN),
	PT_FIELD_FIXED(PT_EXEC_PARENT_ENTITY_ID, struct pt_exec, parent_entity_id,
		       PT_ENTITY_ID_LEN),
	F(PT_EXEC_UID, PT_F_U32, uid),
	F(PT_EXEC_EUID, PT_F_U32, euid),
	F(PT_EXEC_GID, PT_F_U32, gid),
	F(PT_EXEC_EGID, PT_F_U32, egid),
	F(PT_EXEC_CGROUP_ID, PT_F_U64, cgroup_id),
	PT_FIELD_STR(PT_EXEC_PATH, struct pt_exec, path, PT_PATH_MAX),
	PT_FIELD_STR(PT_EXEC_CWD, struct pt_exec, cwd, PT_PATH_MAX),
	PT_FIELD_STR(PT_EXEC_COMM, struct pt_exec, comm, PT_COMM_MAX),
	F(PT_EXEC_ARGV, PT_F_ARGV, argv),
	F(PT_EXEC_ARGS_COUNT, PT_F_U32, args_count),
	F(PT_EXEC_FLAGS, PT_F_U32, flags),
	F(PT_EXEC_MODE, PT_F_U32, mode),
	F(PT_EXEC_DEV, PT_F_U64, dev),
	F(PT_EXEC_INO, PT_F_U64, ino),
	F(PT_EXEC_SIZE, PT_F_U64, size),
	F(PT_EXEC_MTIME_NS, PT_F_U64, mtime_ns),
	F(PT_EXEC_CTIME_NS, PT_F_U64, ctime_ns),
	PT_FIELD_FIXED_IF(PT_EXEC_SHA256, struct pt_exec, sha256, PT_SHA256_LEN, no_hash),
	PT_FIELD_IF(PT_EXEC_HASH_STATUS, PT_F_U8, struct pt_exec, hash_status, has_hash),
	PT_FIELD_STR_IF(PT_EXEC_SCRIPT_PATH, struct pt_exec, script_path, PT_PATH_MAX, no_script),
	PT_FIELD_FIXED_IF(PT_EXEC_SCRIPT_SHA256, struct pt_exec, script_sha256, PT_SHA256_LEN,
			  no_script_hash),
	PT_FIELD_IF(PT_EXEC_SCRIPT_HASH_STATUS, PT_F_U8, struct pt_exec, script_hash_status,
		    no_script_status),
	FI(PT_EXEC_CONTEXT, PT_F_U32, ctx_flags, no_ctx),
	FS(PT_EXEC_PARENT_PATH, parent_path, PT_PATH_MAX, no_parent),
	FI(PT_EXEC_PARENT_ARGV, PT_F_ARGV, parent_argv, no_parent),
	FI(PT_EXEC_PARENT_ARGS_COUNT, PT_F_U32, parent_args_count, no_parent),
	FI(PT_EXEC_PGID, PT_F_U32, pgid, no_ctx),
	FX(PT_EXEC_PGID_ENTITY_ID, pgid_entity_id, no_pgid_leader),
	FI(PT_EXEC_SID, PT_F_U32, sid, no_ctx),
	FX(PT_EXEC_SID_ENTITY_ID, sid_entity_id, no_sid_leader),
	FS(PT_EXEC_SID_PATH, sid_path, PT_PATH_MAX, no_sid_path),
	FX(PT_EXEC_ENTRY_ENTITY_ID, entry_entity_id, no_entry_leader),
	FS(PT_EXEC_ENTRY_PATH, entry_path, PT_PATH_MAX, no_entry),
	FI(PT_EXEC_ENTRY_TYPE, PT_F_U8, entry_type, no_entry),
	FI(PT_EXEC_TTY_MAJOR, PT_F_U32, tty_major, no_tty),
	FI(PT_EXEC_TTY_MINOR, PT_F_U32, tty_minor, no_tty),
	FI(PT_EXEC_VPID, PT_F_U32, vpid, no_ctx),
	FI(PT_EXEC_LOGIN_UID, PT_F_U32, login_uid, no_login_uid),
	FI(PT_EXEC_SESSION_ID, PT_F_U32, session_id, no_session_id),
	FS(PT_EXEC_USER_NAME, user_name, PT_USER_NAME_MAX, no_user_name),
	FS(PT_EXEC_REAL_USER_NAME, real_user_name, PT_USER_NAME_MAX, no_real_user_name),
	FS(PT_EXEC_GROUP_NAME, group_name, PT_USER_NAME_MAX, no_group_name),
	FS(PT_EXEC_REAL_GROUP_NAME, real_group_name, PT_USER_NAME_MAX, no_real_group_name),
	FS(PT_EXEC_LOGIN_USER_NAME, login_user_name, PT_USER_NAME_MAX, no_login_user_name),
	FS(PT_EXEC_CONTAINER_ID, container_id, PT_CONTAINER_ID_MAX, no_container),
	FS(PT_EXEC_CONTAINER_RUNTIME, container_runtime, PT_RUNTIME_MAX, no_container),
	FS(PT_EXEC_CGROUP_PATH, cgroup_path, PT_PATH_MAX, no_cgroup_path),
};
#undef F
#undef FI
#undef FS
#undef FX

#define F(t, k, m) PT_FIELD(t, k, struct pt_exit, m)
static const struct pt_field exit_fields[] = {
	F(PT_EXIT_TIME_NS, PT_F_U64, time_ns),
	F(PT_EXIT_START_NS, PT_F_U64, start_ns),
	F(PT_EXIT_PID, PT_F_U32, pid),
	PT_FIELD_FIXED(PT_EXIT_ENTITY_ID, struct pt_exit, entity_id, PT_ENTITY_ID_LEN),
	F(PT_EXIT_CODE, PT_F_U32, code),
	F(PT_EXIT_SIGNAL, PT_F_U32, signal),
	PT_FIELD_STR(PT_EXIT_COMM, struct pt_exit, comm, PT_COMM_MAX),
	PT_FIELD_IF(PT_EXIT_CONTEXT, PT_F_U32, struct pt_exit, ctx_flags, no_exit_ctx),
	PT_FIELD_STR_IF(PT_EXIT_PATH, struct pt_exit, path, PT_PATH_MAX, no_exit_path),
	PT_FIELD_IF(PT_EXIT_LIFETIME_NS, PT_F_U64, struct pt_exit, lifetime_ns, no_exit_lifetime),
};
#undef F

#define F(t, k, m) PT_FIELD(t, k, struct pt_exec_blocked, m)
static const struct pt_field blocked_fields[] = {
	F(PT_BLOCKED_TIME_NS, PT_F_U64, time_ns),
	F(PT_BLOCKED_PID, PT_F_U32, pid),
	F(PT_BLOCKED_UID, PT_F_U32, uid),
	PT_FIELD_STR(PT_BLOCKED_PATH, struct pt_exec_blocked, path, PT_PATH_MAX),
	PT_FIELD_FIXED(PT_BLOCKED_SHA256, struct pt_exec_blocked, sha256, PT_SHA256_LEN),
	F(PT_BLOCKED_POLICY_VERSION, PT_F_U64, policy_version),
	PT_FIELD_FIXED(PT_BLOCKED_ENTITY_ID, struct pt_exec_blocked, entity_id, PT_ENTITY_ID_LEN),
};
#undef F

#define F(t, k, m) PT_FIELD(t, k, struct pt_loss, m)
static const struct pt_field loss_fields[] = {
	F(PT_LOSS_TIME_NS, PT_F_U64, time_ns),
	F(PT_LOSS_COUNTER, PT_F_U16, counter),
	F(PT_LOSS_COUNT, PT_F_U64, count),
	PT_FIELD_IF(PT_LOSS_FIRST_SEQ, PT_F_U64, struct pt_loss, first_seq, no_range),
	PT_FIELD_IF(PT_LOSS_LAST_SEQ, PT_F_U64, struct pt_loss, last_seq, no_range),
};
#undef F

#define F(t, k, m) PT_FIELD(t, k, struct pt_agent_status, m)
static const struct pt_field status_fields[] = {
	F(PT_STATUS_TIME_NS, PT_F_U64, time_ns),
	F(PT_STATUS_QUEUE_DEPTH, PT_F_U64, queue_depth),
	F(PT_STATUS_SPOOL_BYTES, PT_F_U64, spool_bytes),
	F(PT_STATUS_UPTIME_NS, PT_F_U64, uptime_ns),
	F(PT_STATUS_EVENTS, PT_F_U64, events),
	PT_FIELD_REPEAT(PT_STATUS_COUNTER, PT_F_COUNTER, 10, struct pt_agent_status, counters,
			n_counters, PT_COUNTERS_MAX),
};
#undef F

/* ---------- encoding ---------- */

#define ENCODE(w, table, in) pt_fields_encode(w, table, sizeof(table) / sizeof((table)[0]), in)

/* What the tables cannot say: value ranges of the record as a whole. */
static int encode_checked(struct pt_writer *w, const struct pt_record *r)
{
	switch (r->type) {
	case PT_REC_PROCESS_EXEC:
		if (r->u.exec.hash_status > PT_HASH_STATUS_MAX ||
		    r->u.exec.script_hash_status > PT_HASH_STATUS_MAX)
			return -EINVAL;
		return ENCODE(w, exec_fields, &r->u.exec);
	case PT_REC_PROCESS_EXIT: return ENCODE(w, exit_fields, &r->u.exit);
	case PT_REC_EXEC_BLOCKED: return ENCODE(w, blocked_fields, &r->u.blocked);
	case PT_REC_LOSS:
		if (r->u.loss.counter == 0 ||
		    (r->u.loss.has_seq_range && r->u.loss.first_seq > r->u.loss.last_seq))
			return -EINVAL;
		return ENCODE(w, loss_fields, &r->u.loss);
	case PT_REC_AGENT_STATUS: return ENCODE(w, status_fields, &r->u.status);
	}
	return -EINVAL;
}

int pt_record_encode(struct pt_writer *w, const struct pt_record *r)
{
	size_t start = w->len;
	int saved_err = w->err;
	uint8_t hdr[PT_RECORD_HDR_LEN] = { 0 };
	size_t body;
	int err;

	if (saved_err)
		return saved_err;
	pt_put_raw(w, hdr, sizeof(hdr));
	err = encode_checked(w, r);
	if (!err)
		err = w->err;
	if (!err && w->len - start > PT_RECORD_MAX)
		err = -EMSGSIZE;
	if (err) {
		/* A failed record leaves nothing behind, so the caller can flush and retry. */
		w->len = start;
		w->err = 0;
		return err;
	}
	body = w->len - start - PT_RECORD_HDR_LEN;
	pt_be16_put(w->buf + start, r->type);
	w->buf[start + 2] = PT_WIRE_VERSION;
	w->buf[start + 3] = 0;
	pt_be32_put(w->buf + start + 4, (uint32_t)body);
	return 0;
}

/* ---------- decoding ---------- */

#define DECODE(c, table, out, seen, st) \
	pt_fields_decode((c)->p, (c)->len, table, sizeof(table) / sizeof((table)[0]), out, seen, st)

/* A hash is present, or absent with a reason, never both and never neither. */
static int check_hash_pair(uint64_t seen, uint16_t hash_attr, uint16_t status_attr,
			   uint8_t status)
{
	if (HAS(seen, hash_attr) == HAS(seen, status_attr))
		return -EBADMSG;
	if (HAS(seen, status_attr) && (status == PT_HASH_OK || status > PT_HASH_STATUS_MAX))
		return -EBADMSG;
	return 0;
}

/* The context flags and the attributes they announce agree, both ways: a flag without its
 * attribute would show zeros as facts, an attribute without its flag a value nobody vouched for. */
static const struct { uint32_t flag; uint16_t attr; } ctx_attrs[] = {
	{ PT_CTX_F_PRESENT, PT_EXEC_PGID }, { PT_CTX_F_PRESENT, PT_EXEC_SID },
	{ PT_CTX_F_PRESENT, PT_EXEC_VPID },
	{ PT_CTX_F_PARENT_KNOWN, PT_EXEC_PARENT_PATH }, { PT_CTX_F_PARENT_KNOWN, PT_EXEC_PARENT_ARGV },
	{ PT_CTX_F_PARENT_KNOWN, PT_EXEC_PARENT_ARGS_COUNT },
	{ PT_CTX_F_PGID_LEADER, PT_EXEC_PGID_ENTITY_ID }, { PT_CTX_F_SID_LEADER, PT_EXEC_SID_ENTITY_ID },
	{ PT_CTX_F_SID_KNOWN, PT_EXEC_SID_PATH },
	{ PT_CTX_F_ENTRY_LEADER, PT_EXEC_ENTRY_ENTITY_ID }, { PT_CTX_F_ENTRY_KNOWN, PT_EXEC_ENTRY_PATH },
	{ PT_CTX_F_ENTRY_KNOWN, PT_EXEC_ENTRY_TYPE },
	{ PT_CTX_F_TTY, PT_EXEC_TTY_MAJOR }, { PT_CTX_F_TTY, PT_EXEC_TTY_MINOR },
	{ PT_CTX_F_LOGIN_UID, PT_EXEC_LOGIN_UID }, { PT_CTX_F_SESSION_ID, PT_EXEC_SESSION_ID },
	{ PT_CTX_F_CONTAINER, PT_EXEC_CONTAINER_ID }, { PT_CTX_F_CONTAINER, PT_EXEC_CONTAINER_RUNTIME },
};

static int check_context(uint64_t seen, uint32_t flags)
{
	if ((flags & ~(uint32_t)PT_CTX_F_ALL) || (flags && !(flags & PT_CTX_F_PRESENT)) ||
	    ((flags & PT_CTX_F_ENTRY_LEADER) && !(flags & PT_CTX_F_ENTRY_KNOWN)))
		return -EBADMSG;
	for (size_t i = 0; i < sizeof(ctx_attrs) / sizeof(ctx_attrs[0]); i++)
		if (HAS(seen, ctx_attrs[i].attr) != !!(flags & ctx_attrs[i].flag))
			return -EBADMSG;
	return 0;
}

static int decode_exec(struct pt_cursor *c, struct pt_exec *e, struct pt_decode_stats *st)
{
	const uint64_t required = PT_BIT(PT_EXEC_TIME_NS) | PT_BIT(PT_EXEC_PID) |
				  PT_BIT(PT_EXEC_ENTITY_ID) | PT_BIT(PT_EXEC_PATH);
	uint64_t seen = 0;
	int err;

	if ((err = DECODE(c, exec_fields, e, &seen, st)))
		return err;
	if ((seen & required) != required)
		return -EBADMSG;
	if ((err = check_hash_pair(seen, PT_EXEC_SHA256, PT_EXEC_HASH_STATUS, e->hash_status)))
		return err;
	if ((err = check_context(seen, e->ctx_flags)))
		return err;
	if (e->script_path.len)
		return check_hash_pair(seen, PT_EXEC_SCRIPT_SHA256, PT_EXEC_SCRIPT_HASH_STATUS,
				       e->script_hash_status);
	if (HAS(seen, PT_EXEC_SCRIPT_SHA256) || HAS(seen, PT_EXEC_SCRIPT_HASH_STATUS))
		return -EBADMSG;
	return 0;
}

static int decode_exit(struct pt_cursor *c, struct pt_exit *e, struct pt_decode_stats *st)
{
	const uint64_t required = PT_BIT(PT_EXIT_TIME_NS) | PT_BIT(PT_EXIT_PID) |
				  PT_BIT(PT_EXIT_ENTITY_ID);
	uint64_t seen = 0;
	int err = DECODE(c, exit_fields, e, &seen, st);

	if (err)
		return err;
	if ((e->ctx_flags & ~7u) || (e->ctx_flags && !(e->ctx_flags & PT_EXIT_CTX_F_PRESENT)) ||
	    HAS(seen, PT_EXIT_PATH) != !!(e->ctx_flags & PT_EXIT_CTX_F_KNOWN) ||
	    HAS(seen, PT_EXIT_LIFETIME_NS) != !!(e->ctx_flags & PT_EXIT_CTX_F_PRESENT))
		return -EBADMSG;
	return (seen & required) == required ? 0 : -EBADMSG;
}

static int decode_blocked(struct pt_cursor *c, struct pt_exec_blocked *b,
			  struct pt_decode_stats *st)
{
	const uint64_t required = PT_BIT(PT_BLOCKED_TIME_NS) | PT_BIT(PT_BLOCKED_SHA256);
	uint64_t seen = 0;
	int err = DECODE(c, blocked_fields, b, &seen, st);

	if (err)
		return err;
	return (seen & required) == required ? 0 : -EBADMSG;
}

static int decode_loss(struct pt_cursor *c, struct pt_loss *l, struct pt_decode_stats *st)
{
	const uint64_t required = PT_BIT(PT_LOSS_COUNTER) | PT_BIT(PT_LOSS_COUNT);
	uint64_t seen = 0;
	int err = DECODE(c, loss_fields, l, &seen, st);

	if (err)
		return err;
	if ((seen & required) != required || l->counter == 0)
		return -EBADMSG;
	if (HAS(seen, PT_LOSS_FIRST_SEQ) != HAS(seen, PT_LOSS_LAST_SEQ))
		return -EBADMSG;
	l->has_seq_range = HAS(seen, PT_LOSS_FIRST_SEQ);
	if (l->has_seq_range && l->first_seq > l->last_seq)
		return -EBADMSG;
	return 0;
}

static int decode_status(struct pt_cursor *c, struct pt_agent_status *s,
			 struct pt_decode_stats *st)
{
	uint64_t seen = 0;
	int err = DECODE(c, status_fields, s, &seen, st);

	if (err)
		return err;
	return HAS(seen, PT_STATUS_TIME_NS) ? 0 : -EBADMSG;
}

int pt_record_peek(const uint8_t *buf, size_t len, uint16_t *type, size_t *total_len)
{
	uint32_t body;

	if (len < PT_RECORD_HDR_LEN)
		return -EBADMSG;
	body = pt_be32_get(buf + 4);
	if (body > PT_RECORD_MAX - PT_RECORD_HDR_LEN)
		return -EMSGSIZE;
	if (body > len - PT_RECORD_HDR_LEN)
		return -EBADMSG;
	if (type)
		*type = pt_be16_get(buf);
	if (total_len)
		*total_len = PT_RECORD_HDR_LEN + body;
	return 0;
}

int pt_record_decode(const uint8_t *buf, size_t len, struct pt_record *r, size_t *consumed,
		     struct pt_decode_stats *stats)
{
	struct pt_cursor c;
	size_t total;
	uint16_t type;
	int err;

	/* Only the header and the member this type uses are cleared: the union is sized by
	 * the status record's counter array, and clearing all of it per event showed up as a
	 * large share of the collector's decode time. */
	r->type = PT_REC_UNKNOWN;
	r->wire_type = 0;
	r->version = r->flags = 0;
	err = pt_record_peek(buf, len, &type, &total);
	if (err)
		return err;
	r->wire_type = type;
	r->version = buf[2];
	r->flags = buf[3];
	if (r->version == 0)
		return -EBADMSG;
	if (r->version > PT_WIRE_VERSION && (r->flags & PT_RECORD_F_CRITICAL))
		return -EPROTONOSUPPORT;
	pt_cursor_init(&c, buf + PT_RECORD_HDR_LEN, total - PT_RECORD_HDR_LEN);
	r->type = type;
	switch (type) {
	case PT_REC_PROCESS_EXEC:
		memset(&r->u.exec, 0, sizeof(r->u.exec));
		err = decode_exec(&c, &r->u.exec, stats);
		break;
	case PT_REC_PROCESS_EXIT:
		memset(&r->u.exit, 0, sizeof(r->u.exit));
		err = decode_exit(&c, &r->u.exit, stats);
		break;
	case PT_REC_EXEC_BLOCKED:
		memset(&r->u.blocked, 0, sizeof(r->u.blocked));
		err = decode_blocked(&c, &r->u.blocked, stats);
		break;
	case PT_REC_LOSS:
		memset(&r->u.loss, 0, sizeof(r->u.loss));
		err = decode_loss(&c, &r->u.loss, stats);
		break;
	case PT_REC_AGENT_STATUS:
		/* counters[] past n_counters is never read. */
		memset(&r->u.status, 0, offsetof(struct pt_agent_status, counters));
		err = decode_status(&c, &r->u.status, stats);
		break;
	default:
		/* A newer agent's record type: skip it whole, count it, keep going. */
		r->type = PT_REC_UNKNOWN;
		if (stats)
			stats->unknown_records++;
		break;
	}
	if (err)
		return err;
	*consumed = total;
	return 0;
}
