/* Records: encode and decode each record type as typed attributes. */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "proctrail/wire.h"

/* ---------- encoding ---------- */

static int check_str(struct pt_str s, uint32_t max)
{
	if (s.len > max)
		return -EMSGSIZE;
	if (s.len && !s.ptr)
		return -EINVAL;
	if (s.len && memchr(s.ptr, '\0', s.len))
		return -EINVAL;
	return 0;
}

/* argv is a sequence of NUL-terminated strings: empty, or ending in NUL, at most PT_ARGS_MAX. */
static int check_argv(struct pt_str argv)
{
	uint32_t n = 0;

	if (argv.len > PT_ARGV_MAX)
		return -EMSGSIZE;
	if (argv.len == 0)
		return 0;
	if (!argv.ptr || argv.ptr[argv.len - 1] != '\0')
		return -EINVAL;
	for (uint32_t i = 0; i < argv.len; i++)
		if (argv.ptr[i] == '\0' && ++n > PT_ARGS_MAX)
			return -EMSGSIZE;
	return 0;
}

static int encode_exec(struct pt_writer *w, const struct pt_exec *e)
{
	int err;

	if ((err = check_str(e->path, PT_PATH_MAX)) || (err = check_str(e->cwd, PT_PATH_MAX)) ||
	    (err = check_str(e->comm, PT_COMM_MAX)) ||
	    (err = check_str(e->script_path, PT_PATH_MAX)) || (err = check_argv(e->argv)))
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
	int err = check_str(e->comm, PT_COMM_MAX);

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
	int err = check_str(b->path, PT_PATH_MAX);

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

#define NEED(seen, type) (((seen) >> (type)) & 1)

static int decode_argv(const struct pt_attr *a, struct pt_str *argv)
{
	struct pt_str s = { (const char *)a->val, a->len };
	uint32_t n = 0;

	if (a->len > PT_ARGV_MAX)
		return -EMSGSIZE;
	if (a->len && a->val[a->len - 1] != '\0')
		return -EBADMSG;
	for (uint32_t i = 0; i < a->len; i++)
		if (a->val[i] == '\0' && ++n > PT_ARGS_MAX)
			return -EMSGSIZE;
	*argv = s;
	return 0;
}

static int decode_exec(struct pt_cursor *c, struct pt_exec *e, struct pt_decode_stats *st)
{
	uint64_t seen = 0;
	struct pt_attr a;
	int rc, err = 0;

	while ((rc = pt_cursor_next_attr(c, &a)) > 0) {
		if ((err = pt_attr_seen(&seen, a.type)))
			return err;
		switch (a.type) {
		case PT_EXEC_TIME_NS: err = pt_attr_u64(&a, &e->time_ns); break;
		case PT_EXEC_START_NS: err = pt_attr_u64(&a, &e->start_ns); break;
		case PT_EXEC_PID: err = pt_attr_u32(&a, &e->pid); break;
		case PT_EXEC_TID: err = pt_attr_u32(&a, &e->tid); break;
		case PT_EXEC_PPID: err = pt_attr_u32(&a, &e->ppid); break;
		case PT_EXEC_ENTITY_ID: err = pt_attr_fixed(&a, e->entity_id, PT_ENTITY_ID_LEN); break;
		case PT_EXEC_PARENT_ENTITY_ID:
			err = pt_attr_fixed(&a, e->parent_entity_id, PT_ENTITY_ID_LEN);
			break;
		case PT_EXEC_UID: err = pt_attr_u32(&a, &e->uid); break;
		case PT_EXEC_EUID: err = pt_attr_u32(&a, &e->euid); break;
		case PT_EXEC_GID: err = pt_attr_u32(&a, &e->gid); break;
		case PT_EXEC_EGID: err = pt_attr_u32(&a, &e->egid); break;
		case PT_EXEC_CGROUP_ID: err = pt_attr_u64(&a, &e->cgroup_id); break;
		case PT_EXEC_PATH: err = pt_attr_str(&a, PT_PATH_MAX, &e->path); break;
		case PT_EXEC_CWD: err = pt_attr_str(&a, PT_PATH_MAX, &e->cwd); break;
		case PT_EXEC_COMM: err = pt_attr_str(&a, PT_COMM_MAX, &e->comm); break;
		case PT_EXEC_ARGV: err = decode_argv(&a, &e->argv); break;
		case PT_EXEC_ARGS_COUNT: err = pt_attr_u32(&a, &e->args_count); break;
		case PT_EXEC_FLAGS: err = pt_attr_u32(&a, &e->flags); break;
		case PT_EXEC_MODE: err = pt_attr_u32(&a, &e->mode); break;
		case PT_EXEC_DEV: err = pt_attr_u64(&a, &e->dev); break;
		case PT_EXEC_INO: err = pt_attr_u64(&a, &e->ino); break;
		case PT_EXEC_SIZE: err = pt_attr_u64(&a, &e->size); break;
		case PT_EXEC_MTIME_NS: err = pt_attr_u64(&a, &e->mtime_ns); break;
		case PT_EXEC_CTIME_NS: err = pt_attr_u64(&a, &e->ctime_ns); break;
		case PT_EXEC_SHA256: err = pt_attr_fixed(&a, e->sha256, PT_SHA256_LEN); break;
		case PT_EXEC_HASH_STATUS: err = pt_attr_u8(&a, &e->hash_status); break;
		case PT_EXEC_SCRIPT_PATH: err = pt_attr_str(&a, PT_PATH_MAX, &e->script_path); break;
		case PT_EXEC_SCRIPT_SHA256:
			err = pt_attr_fixed(&a, e->script_sha256, PT_SHA256_LEN);
			break;
		case PT_EXEC_SCRIPT_HASH_STATUS: err = pt_attr_u8(&a, &e->script_hash_status); break;
		default:
			if (st)
				st->unknown_attrs++;
			break;
		}
		if (err)
			return err;
	}
	if (rc < 0)
		return rc;
	if (!NEED(seen, PT_EXEC_TIME_NS) || !NEED(seen, PT_EXEC_PID) ||
	    !NEED(seen, PT_EXEC_ENTITY_ID) || !NEED(seen, PT_EXEC_PATH))
		return -EBADMSG;
	/* Exactly one of a hash or a reason for its absence. */
	if (NEED(seen, PT_EXEC_SHA256) == NEED(seen, PT_EXEC_HASH_STATUS))
		return -EBADMSG;
	if (NEED(seen, PT_EXEC_HASH_STATUS) &&
	    (e->hash_status == PT_HASH_OK || e->hash_status > PT_HASH_STATUS_MAX))
		return -EBADMSG;
	if (e->script_path.len) {
		if (NEED(seen, PT_EXEC_SCRIPT_SHA256) == NEED(seen, PT_EXEC_SCRIPT_HASH_STATUS))
			return -EBADMSG;
		if (NEED(seen, PT_EXEC_SCRIPT_HASH_STATUS) &&
		    (e->script_hash_status == PT_HASH_OK ||
		     e->script_hash_status > PT_HASH_STATUS_MAX))
			return -EBADMSG;
	} else if (NEED(seen, PT_EXEC_SCRIPT_SHA256) || NEED(seen, PT_EXEC_SCRIPT_HASH_STATUS)) {
		return -EBADMSG;
	}
	return 0;
}

static int decode_exit(struct pt_cursor *c, struct pt_exit *e, struct pt_decode_stats *st)
{
	uint64_t seen = 0;
	struct pt_attr a;
	int rc, err = 0;

	while ((rc = pt_cursor_next_attr(c, &a)) > 0) {
		if ((err = pt_attr_seen(&seen, a.type)))
			return err;
		switch (a.type) {
		case PT_EXIT_TIME_NS: err = pt_attr_u64(&a, &e->time_ns); break;
		case PT_EXIT_START_NS: err = pt_attr_u64(&a, &e->start_ns); break;
		case PT_EXIT_PID: err = pt_attr_u32(&a, &e->pid); break;
		case PT_EXIT_ENTITY_ID: err = pt_attr_fixed(&a, e->entity_id, PT_ENTITY_ID_LEN); break;
		case PT_EXIT_CODE: err = pt_attr_u32(&a, &e->code); break;
		case PT_EXIT_SIGNAL: err = pt_attr_u32(&a, &e->signal); break;
		case PT_EXIT_COMM: err = pt_attr_str(&a, PT_COMM_MAX, &e->comm); break;
		default:
			if (st)
				st->unknown_attrs++;
			break;
		}
		if (err)
			return err;
	}
	if (rc < 0)
		return rc;
	if (!NEED(seen, PT_EXIT_TIME_NS) || !NEED(seen, PT_EXIT_PID) ||
	    !NEED(seen, PT_EXIT_ENTITY_ID))
		return -EBADMSG;
	return 0;
}

static int decode_blocked(struct pt_cursor *c, struct pt_exec_blocked *b,
			  struct pt_decode_stats *st)
{
	uint64_t seen = 0;
	struct pt_attr a;
	int rc, err = 0;

	while ((rc = pt_cursor_next_attr(c, &a)) > 0) {
		if ((err = pt_attr_seen(&seen, a.type)))
			return err;
		switch (a.type) {
		case PT_BLOCKED_TIME_NS: err = pt_attr_u64(&a, &b->time_ns); break;
		case PT_BLOCKED_PID: err = pt_attr_u32(&a, &b->pid); break;
		case PT_BLOCKED_UID: err = pt_attr_u32(&a, &b->uid); break;
		case PT_BLOCKED_PATH: err = pt_attr_str(&a, PT_PATH_MAX, &b->path); break;
		case PT_BLOCKED_SHA256: err = pt_attr_fixed(&a, b->sha256, PT_SHA256_LEN); break;
		case PT_BLOCKED_POLICY_VERSION: err = pt_attr_u64(&a, &b->policy_version); break;
		case PT_BLOCKED_ENTITY_ID:
			err = pt_attr_fixed(&a, b->entity_id, PT_ENTITY_ID_LEN);
			break;
		default:
			if (st)
				st->unknown_attrs++;
			break;
		}
		if (err)
			return err;
	}
	if (rc < 0)
		return rc;
	if (!NEED(seen, PT_BLOCKED_TIME_NS) || !NEED(seen, PT_BLOCKED_SHA256))
		return -EBADMSG;
	return 0;
}

static int decode_loss(struct pt_cursor *c, struct pt_loss *l, struct pt_decode_stats *st)
{
	uint64_t seen = 0;
	struct pt_attr a;
	int rc, err = 0;

	while ((rc = pt_cursor_next_attr(c, &a)) > 0) {
		if ((err = pt_attr_seen(&seen, a.type)))
			return err;
		switch (a.type) {
		case PT_LOSS_TIME_NS: err = pt_attr_u64(&a, &l->time_ns); break;
		case PT_LOSS_COUNTER: err = pt_attr_u16(&a, &l->counter); break;
		case PT_LOSS_COUNT: err = pt_attr_u64(&a, &l->count); break;
		case PT_LOSS_FIRST_SEQ: err = pt_attr_u64(&a, &l->first_seq); break;
		case PT_LOSS_LAST_SEQ: err = pt_attr_u64(&a, &l->last_seq); break;
		default:
			if (st)
				st->unknown_attrs++;
			break;
		}
		if (err)
			return err;
	}
	if (rc < 0)
		return rc;
	if (!NEED(seen, PT_LOSS_COUNTER) || !NEED(seen, PT_LOSS_COUNT) || l->counter == 0)
		return -EBADMSG;
	if (NEED(seen, PT_LOSS_FIRST_SEQ) != NEED(seen, PT_LOSS_LAST_SEQ))
		return -EBADMSG;
	l->has_seq_range = NEED(seen, PT_LOSS_FIRST_SEQ) != 0;
	if (l->has_seq_range && l->first_seq > l->last_seq)
		return -EBADMSG;
	return 0;
}

static int decode_status(struct pt_cursor *c, struct pt_agent_status *s,
			 struct pt_decode_stats *st)
{
	uint64_t seen = 0;
	struct pt_attr a;
	int rc, err = 0;

	while ((rc = pt_cursor_next_attr(c, &a)) > 0) {
		if (a.type != PT_STATUS_COUNTER && (err = pt_attr_seen(&seen, a.type)))
			return err;
		switch (a.type) {
		case PT_STATUS_TIME_NS: err = pt_attr_u64(&a, &s->time_ns); break;
		case PT_STATUS_QUEUE_DEPTH: err = pt_attr_u64(&a, &s->queue_depth); break;
		case PT_STATUS_SPOOL_BYTES: err = pt_attr_u64(&a, &s->spool_bytes); break;
		case PT_STATUS_UPTIME_NS: err = pt_attr_u64(&a, &s->uptime_ns); break;
		case PT_STATUS_EVENTS: err = pt_attr_u64(&a, &s->events); break;
		case PT_STATUS_COUNTER:
			if (s->n_counters >= PT_COUNTERS_MAX)
				return -EMSGSIZE;
			err = pt_attr_counter(&a, &s->counters[s->n_counters++]);
			break;
		default:
			if (st)
				st->unknown_attrs++;
			break;
		}
		if (err)
			return err;
	}
	if (rc < 0)
		return rc;
	if (!NEED(seen, PT_STATUS_TIME_NS))
		return -EBADMSG;
	return 0;
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
