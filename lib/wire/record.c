/* Records: encode and decode each record type as typed attributes. */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "proctrail/wire.h"
#include "fields.h"

/* ---------- encoding ---------- */

static int encode_exec(struct pt_writer *w, const struct pt_exec *e)
{
	int err;

	if ((err = pt_str_check(e->path, PT_PATH_MAX)) ||
	    (err = pt_str_check(e->cwd, PT_PATH_MAX)) ||
	    (err = pt_str_check(e->comm, PT_COMM_MAX)) ||
	    (err = pt_str_check(e->script_path, PT_PATH_MAX)) ||
	    (err = pt_argv_check(e->argv.ptr, e->argv.len)))
		return err;
	if (e->hash_status > PT_HASH_STATUS_MAX || e->script_hash_status > PT_HASH_STATUS_MAX)
		return -EINVAL;

	pt_put_u64(w, PT_EXEC_TIME_NS, e->time_ns);
	pt_put_u64(w, PT_EXEC_START_NS, e->start_ns);
	pt_put_u32(w, PT_EXEC_PID, e->pid);
	pt_put_u32(w, PT_EXEC_TID, e->tid);
	pt_put_u32(w, PT_EXEC_PPID, e->ppid);
	pt_put_bytes(w, PT_EXEC_ENTITY_ID, e->entity_id, PT_ENTITY_ID_LEN);
	pt_put_bytes(w, PT_EXEC_PARENT_ENTITY_ID, e->parent_entity_id, PT_ENTITY_ID_LEN);
	pt_put_u32(w, PT_EXEC_UID, e->uid);
	pt_put_u32(w, PT_EXEC_EUID, e->euid);
	pt_put_u32(w, PT_EXEC_GID, e->gid);
	pt_put_u32(w, PT_EXEC_EGID, e->egid);
	pt_put_u64(w, PT_EXEC_CGROUP_ID, e->cgroup_id);
	pt_put_str(w, PT_EXEC_PATH, e->path);
	pt_put_str(w, PT_EXEC_CWD, e->cwd);
	pt_put_str(w, PT_EXEC_COMM, e->comm);
	pt_put_str(w, PT_EXEC_ARGV, e->argv);
	pt_put_u32(w, PT_EXEC_ARGS_COUNT, e->args_count);
	pt_put_u32(w, PT_EXEC_FLAGS, e->flags);
	pt_put_u32(w, PT_EXEC_MODE, e->mode);
	pt_put_u64(w, PT_EXEC_DEV, e->dev);
	pt_put_u64(w, PT_EXEC_INO, e->ino);
	pt_put_u64(w, PT_EXEC_SIZE, e->size);
	pt_put_u64(w, PT_EXEC_MTIME_NS, e->mtime_ns);
	pt_put_u64(w, PT_EXEC_CTIME_NS, e->ctime_ns);
	if (e->hash_status == PT_HASH_OK)
		pt_put_bytes(w, PT_EXEC_SHA256, e->sha256, PT_SHA256_LEN);
	else
		pt_put_u8(w, PT_EXEC_HASH_STATUS, e->hash_status);
	if (e->script_path.len) {
		pt_put_str(w, PT_EXEC_SCRIPT_PATH, e->script_path);
		if (e->script_hash_status == PT_HASH_OK)
			pt_put_bytes(w, PT_EXEC_SCRIPT_SHA256, e->script_sha256, PT_SHA256_LEN);
		else
			pt_put_u8(w, PT_EXEC_SCRIPT_HASH_STATUS, e->script_hash_status);
	}
	return 0;
}

static int encode_exit(struct pt_writer *w, const struct pt_exit *e)
{
	int err = pt_str_check(e->comm, PT_COMM_MAX);

	if (err)
		return err;
	pt_put_u64(w, PT_EXIT_TIME_NS, e->time_ns);
	pt_put_u64(w, PT_EXIT_START_NS, e->start_ns);
	pt_put_u32(w, PT_EXIT_PID, e->pid);
	pt_put_bytes(w, PT_EXIT_ENTITY_ID, e->entity_id, PT_ENTITY_ID_LEN);
	pt_put_u32(w, PT_EXIT_CODE, e->code);
	pt_put_u32(w, PT_EXIT_SIGNAL, e->signal);
	pt_put_str(w, PT_EXIT_COMM, e->comm);
	return 0;
}

static int encode_blocked(struct pt_writer *w, const struct pt_exec_blocked *b)
{
	int err = pt_str_check(b->path, PT_PATH_MAX);

	if (err)
		return err;
	pt_put_u64(w, PT_BLOCKED_TIME_NS, b->time_ns);
	pt_put_u32(w, PT_BLOCKED_PID, b->pid);
	pt_put_u32(w, PT_BLOCKED_UID, b->uid);
	pt_put_str(w, PT_BLOCKED_PATH, b->path);
	pt_put_bytes(w, PT_BLOCKED_SHA256, b->sha256, PT_SHA256_LEN);
	pt_put_u64(w, PT_BLOCKED_POLICY_VERSION, b->policy_version);
	pt_put_bytes(w, PT_BLOCKED_ENTITY_ID, b->entity_id, PT_ENTITY_ID_LEN);
	return 0;
}

static int encode_loss(struct pt_writer *w, const struct pt_loss *l)
{
	if (l->counter == 0)
		return -EINVAL;
	if (l->has_seq_range && l->first_seq > l->last_seq)
		return -EINVAL;
	pt_put_u64(w, PT_LOSS_TIME_NS, l->time_ns);
	pt_put_u16(w, PT_LOSS_COUNTER, l->counter);
	pt_put_u64(w, PT_LOSS_COUNT, l->count);
	if (l->has_seq_range) {
		pt_put_u64(w, PT_LOSS_FIRST_SEQ, l->first_seq);
		pt_put_u64(w, PT_LOSS_LAST_SEQ, l->last_seq);
	}
	return 0;
}

static int encode_status(struct pt_writer *w, const struct pt_agent_status *s)
{
	if (s->n_counters > PT_COUNTERS_MAX)
		return -EMSGSIZE;
	pt_put_u64(w, PT_STATUS_TIME_NS, s->time_ns);
	pt_put_u64(w, PT_STATUS_QUEUE_DEPTH, s->queue_depth);
	pt_put_u64(w, PT_STATUS_SPOOL_BYTES, s->spool_bytes);
	pt_put_u64(w, PT_STATUS_UPTIME_NS, s->uptime_ns);
	pt_put_u64(w, PT_STATUS_EVENTS, s->events);
	pt_put_counters(w, PT_STATUS_COUNTER, s->counters, s->n_counters);
	return 0;
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
	switch (r->type) {
	case PT_REC_PROCESS_EXEC: err = encode_exec(w, &r->u.exec); break;
	case PT_REC_PROCESS_EXIT: err = encode_exit(w, &r->u.exit); break;
	case PT_REC_EXEC_BLOCKED: err = encode_blocked(w, &r->u.blocked); break;
	case PT_REC_LOSS: err = encode_loss(w, &r->u.loss); break;
	case PT_REC_AGENT_STATUS: err = encode_status(w, &r->u.status); break;
	default: err = -EINVAL; break;
	}
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

#define HAS(seen, type) (((seen) >> (type)) & 1)
#define F(t, k, m) PT_FIELD(t, k, struct pt_exec, m)

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
	PT_FIELD_FIXED(PT_EXEC_SHA256, struct pt_exec, sha256, PT_SHA256_LEN),
	F(PT_EXEC_HASH_STATUS, PT_F_U8, hash_status),
	PT_FIELD_STR(PT_EXEC_SCRIPT_PATH, struct pt_exec, script_path, PT_PATH_MAX),
	PT_FIELD_FIXED(PT_EXEC_SCRIPT_SHA256, struct pt_exec, script_sha256, PT_SHA256_LEN),
	F(PT_EXEC_SCRIPT_HASH_STATUS, PT_F_U8, script_hash_status),
};
#undef F

#define F(t, k, m) PT_FIELD(t, k, struct pt_exit, m)
static const struct pt_field exit_fields[] = {
	F(PT_EXIT_TIME_NS, PT_F_U64, time_ns),
	F(PT_EXIT_START_NS, PT_F_U64, start_ns),
	F(PT_EXIT_PID, PT_F_U32, pid),
	PT_FIELD_FIXED(PT_EXIT_ENTITY_ID, struct pt_exit, entity_id, PT_ENTITY_ID_LEN),
	F(PT_EXIT_CODE, PT_F_U32, code),
	F(PT_EXIT_SIGNAL, PT_F_U32, signal),
	PT_FIELD_STR(PT_EXIT_COMM, struct pt_exit, comm, PT_COMM_MAX),
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
	F(PT_LOSS_FIRST_SEQ, PT_F_U64, first_seq),
	F(PT_LOSS_LAST_SEQ, PT_F_U64, last_seq),
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

#define DECODE(c, table, out, seen, st) \
	pt_fields_decode((c)->p, (c)->len, table, sizeof(table) / sizeof(table[0]), out, seen, st)

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
