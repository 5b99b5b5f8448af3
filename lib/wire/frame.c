/* Frames of the agent-collector channel: header, builder, split, and typed contents. */
#include <errno.h>
#include <string.h>

#include "proctrail/wire.h"

int pt_frame_header_parse(const uint8_t *buf, size_t len, size_t max_frame,
			  struct pt_frame_header *h)
{
	uint32_t payload;

	if (len < PT_FRAME_HDR_LEN)
		return -EAGAIN;
	if (pt_be16_get(buf) != PT_FRAME_MAGIC)
		return -EPROTO;
	if (buf[2] != PT_WIRE_VERSION)
		return -EPROTO;
	payload = pt_be32_get(buf + 4);
	if (max_frame > PT_FRAME_MAX)
		max_frame = PT_FRAME_MAX;
	/* Refused here, before the reader allocates or waits for a single payload byte. */
	if (payload > max_frame - PT_FRAME_HDR_LEN)
		return -EMSGSIZE;
	if (payload < 4)
		return -EPROTO;
	h->version = buf[2];
	h->type = buf[3];
	h->payload_len = payload;
	return 0;
}

void pt_frame_begin(struct pt_frame_builder *fb, struct pt_writer *w, uint8_t type)
{
	uint8_t hdr[PT_FRAME_HDR_LEN + 4] = { 0 };

	pt_be16_put(hdr, PT_FRAME_MAGIC);
	hdr[2] = PT_WIRE_VERSION;
	hdr[3] = type;
	fb->w = w;
	fb->start = w->len;
	pt_put_raw(w, hdr, sizeof(hdr));
	fb->attrs_start = w->len;
}

void pt_frame_end_attrs(struct pt_frame_builder *fb)
{
	struct pt_writer *w = fb->w;
	size_t attrs = w->len - fb->attrs_start;

	if (w->err)
		return;
	if (attrs > PT_FRAME_ATTRS_MAX) {
		w->err = -EMSGSIZE;
		return;
	}
	pt_be32_put(w->buf + fb->attrs_start - 4, (uint32_t)attrs);
	/* Marks the attribute section closed: pt_frame_end will not overwrite its length. */
	fb->attrs_start = 0;
}

int pt_frame_end(struct pt_frame_builder *fb)
{
	struct pt_writer *w = fb->w;
	size_t payload;

	if (fb->attrs_start)
		pt_frame_end_attrs(fb);
	if (!w->err) {
		payload = w->len - fb->start - PT_FRAME_HDR_LEN;
		if (w->len - fb->start > PT_FRAME_MAX)
			w->err = -EMSGSIZE;
		else
			pt_be32_put(w->buf + fb->start + 4, (uint32_t)payload);
	}
	if (w->err) {
		int err = w->err;

		w->len = fb->start;
		w->err = 0;
		return err;
	}
	return 0;
}

int pt_frame_split(const uint8_t *frame, size_t len, struct pt_frame *f)
{
	struct pt_frame_header h;
	uint32_t attrs;
	int err;

	err = pt_frame_header_parse(frame, len, PT_FRAME_MAX, &h);
	if (err == -EAGAIN)
		return -EBADMSG;
	if (err)
		return err;
	/* A frame must be consumed exactly: no trailing bytes, no short payload. */
	if (len != PT_FRAME_HDR_LEN + (size_t)h.payload_len)
		return -EBADMSG;
	attrs = pt_be32_get(frame + PT_FRAME_HDR_LEN);
	if (attrs > h.payload_len - 4 || attrs > PT_FRAME_ATTRS_MAX)
		return -EBADMSG;
	f->type = h.type;
	f->attrs = frame + PT_FRAME_HDR_LEN + 4;
	f->attrs_len = attrs;
	f->body = f->attrs + attrs;
	f->body_len = h.payload_len - 4 - attrs;
	return 0;
}

/* Frames other than BATCH carry no body. */
static int expect(const struct pt_frame *f, uint8_t type, struct pt_cursor *c)
{
	if (f->type != type)
		return -EINVAL;
	if (f->body_len)
		return -EBADMSG;
	pt_cursor_init(c, f->attrs, f->attrs_len);
	return 0;
}

#define HAS(seen, type) (((seen) >> (type)) & 1)

static void skipped(struct pt_decode_stats *st)
{
	if (st)
		st->unknown_attrs++;
}

static int check_name(struct pt_str s, uint32_t max)
{
	if (s.len > max || (s.len && memchr(s.ptr, '\0', s.len)))
		return -EMSGSIZE;
	return 0;
}

/* ---- HELLO ---- */
int pt_hello_encode(struct pt_writer *w, const struct pt_hello *m)
{
	struct pt_frame_builder fb;

	if (check_name(m->version, PT_NAME_MAX) || check_name(m->hostname, PT_NAME_MAX) ||
	    check_name(m->agent_name, PT_NAME_MAX))
		return -EMSGSIZE;
	pt_frame_begin(&fb, w, PT_FRAME_HELLO);
	pt_put_str(w, PT_HELLO_VERSION, m->version);
	pt_put_str(w, PT_HELLO_HOSTNAME, m->hostname);
	pt_put_bytes(w, PT_HELLO_BOOT_ID, m->boot_id, PT_BOOT_ID_LEN);
	pt_put_u64(w, PT_HELLO_STREAM_ID, m->stream_id);
	pt_put_u64(w, PT_HELLO_FIRST_SEQ, m->first_seq);
	pt_put_u64(w, PT_HELLO_NEXT_SEQ, m->next_seq);
	pt_put_u8(w, PT_HELLO_MODE, m->mode);
	pt_put_str(w, PT_HELLO_AGENT_NAME, m->agent_name);
	pt_put_u64(w, PT_HELLO_POLICY_VERSION, m->policy_version);
	return pt_frame_end(&fb);
}

int pt_hello_decode(const struct pt_frame *f, struct pt_hello *m, struct pt_decode_stats *st)
{
	struct pt_cursor c;
	struct pt_attr a;
	uint64_t seen = 0;
	int rc, err;

	memset(m, 0, sizeof(*m));
	if ((err = expect(f, PT_FRAME_HELLO, &c)))
		return err;
	while ((rc = pt_cursor_next_attr(&c, &a)) > 0) {
		if ((err = pt_attr_seen(&seen, a.type)))
			return err;
		switch (a.type) {
		case PT_HELLO_VERSION: err = pt_attr_str(&a, PT_NAME_MAX, &m->version); break;
		case PT_HELLO_HOSTNAME: err = pt_attr_str(&a, PT_NAME_MAX, &m->hostname); break;
		case PT_HELLO_BOOT_ID: err = pt_attr_fixed(&a, m->boot_id, PT_BOOT_ID_LEN); break;
		case PT_HELLO_STREAM_ID: err = pt_attr_u64(&a, &m->stream_id); break;
		case PT_HELLO_FIRST_SEQ: err = pt_attr_u64(&a, &m->first_seq); break;
		case PT_HELLO_NEXT_SEQ: err = pt_attr_u64(&a, &m->next_seq); break;
		case PT_HELLO_MODE: err = pt_attr_u8(&a, &m->mode); break;
		case PT_HELLO_AGENT_NAME: err = pt_attr_str(&a, PT_NAME_MAX, &m->agent_name); break;
		case PT_HELLO_POLICY_VERSION: err = pt_attr_u64(&a, &m->policy_version); break;
		default: skipped(st); break;
		}
		if (err)
			return err;
	}
	if (rc < 0)
		return rc;
	if (!HAS(seen, PT_HELLO_STREAM_ID) || !HAS(seen, PT_HELLO_NEXT_SEQ) ||
	    !HAS(seen, PT_HELLO_AGENT_NAME) || !HAS(seen, PT_HELLO_MODE))
		return -EBADMSG;
	if (m->mode != PT_MODE_STREAM && m->mode != PT_MODE_PULL)
		return -EBADMSG;
	return 0;
}

/* ---- WELCOME ---- */
int pt_welcome_encode(struct pt_writer *w, const struct pt_welcome *m)
{
	struct pt_frame_builder fb;

	if (check_name(m->version, PT_NAME_MAX))
		return -EMSGSIZE;
	pt_frame_begin(&fb, w, PT_FRAME_WELCOME);
	pt_put_str(w, PT_WELCOME_VERSION, m->version);
	if (m->has_acked_seq)
		pt_put_u64(w, PT_WELCOME_ACKED_SEQ, m->acked_seq);
	pt_put_u32(w, PT_WELCOME_PING_INTERVAL_MS, m->ping_interval_ms);
	return pt_frame_end(&fb);
}

int pt_welcome_decode(const struct pt_frame *f, struct pt_welcome *m, struct pt_decode_stats *st)
{
	struct pt_cursor c;
	struct pt_attr a;
	uint64_t seen = 0;
	int rc, err;

	memset(m, 0, sizeof(*m));
	if ((err = expect(f, PT_FRAME_WELCOME, &c)))
		return err;
	while ((rc = pt_cursor_next_attr(&c, &a)) > 0) {
		if ((err = pt_attr_seen(&seen, a.type)))
			return err;
		switch (a.type) {
		case PT_WELCOME_VERSION: err = pt_attr_str(&a, PT_NAME_MAX, &m->version); break;
		case PT_WELCOME_ACKED_SEQ:
			err = pt_attr_u64(&a, &m->acked_seq);
			m->has_acked_seq = true;
			break;
		case PT_WELCOME_PING_INTERVAL_MS: err = pt_attr_u32(&a, &m->ping_interval_ms); break;
		default: skipped(st); break;
		}
		if (err)
			return err;
	}
	return rc < 0 ? rc : 0;
}

/* ---- ACK ---- */
int pt_ack_encode(struct pt_writer *w, const struct pt_ack *m)
{
	struct pt_frame_builder fb;

	pt_frame_begin(&fb, w, PT_FRAME_ACK);
	pt_put_u64(w, PT_ACK_STREAM_ID, m->stream_id);
	pt_put_u64(w, PT_ACK_SEQ, m->seq);
	return pt_frame_end(&fb);
}

int pt_ack_decode(const struct pt_frame *f, struct pt_ack *m, struct pt_decode_stats *st)
{
	struct pt_cursor c;
	struct pt_attr a;
	uint64_t seen = 0;
	int rc, err;

	memset(m, 0, sizeof(*m));
	if ((err = expect(f, PT_FRAME_ACK, &c)))
		return err;
	while ((rc = pt_cursor_next_attr(&c, &a)) > 0) {
		if ((err = pt_attr_seen(&seen, a.type)))
			return err;
		switch (a.type) {
		case PT_ACK_STREAM_ID: err = pt_attr_u64(&a, &m->stream_id); break;
		case PT_ACK_SEQ: err = pt_attr_u64(&a, &m->seq); break;
		default: skipped(st); break;
		}
		if (err)
			return err;
	}
	if (rc < 0)
		return rc;
	return HAS(seen, PT_ACK_STREAM_ID) && HAS(seen, PT_ACK_SEQ) ? 0 : -EBADMSG;
}

/* ---- PING, COLLECT: a nonce each ---- */
static int nonce_encode(struct pt_writer *w, uint8_t type, uint16_t attr, uint64_t nonce)
{
	struct pt_frame_builder fb;

	pt_frame_begin(&fb, w, type);
	pt_put_u64(w, attr, nonce);
	return pt_frame_end(&fb);
}

static int nonce_decode(const struct pt_frame *f, uint8_t type, uint16_t attr, uint64_t *nonce,
			struct pt_decode_stats *st)
{
	struct pt_cursor c;
	struct pt_attr a;
	uint64_t seen = 0;
	int rc, err;

	*nonce = 0;
	if ((err = expect(f, type, &c)))
		return err;
	while ((rc = pt_cursor_next_attr(&c, &a)) > 0) {
		if ((err = pt_attr_seen(&seen, a.type)))
			return err;
		if (a.type == attr)
			err = pt_attr_u64(&a, nonce);
		else
			skipped(st);
		if (err)
			return err;
	}
	return rc < 0 ? rc : 0;
}

int pt_ping_encode(struct pt_writer *w, const struct pt_ping *m)
{
	return nonce_encode(w, PT_FRAME_PING, PT_PING_NONCE, m->nonce);
}

int pt_ping_decode(const struct pt_frame *f, struct pt_ping *m, struct pt_decode_stats *st)
{
	return nonce_decode(f, PT_FRAME_PING, PT_PING_NONCE, &m->nonce, st);
}

int pt_collect_encode(struct pt_writer *w, const struct pt_collect *m)
{
	return nonce_encode(w, PT_FRAME_COLLECT, PT_COLLECT_NONCE, m->nonce);
}

int pt_collect_decode(const struct pt_frame *f, struct pt_collect *m, struct pt_decode_stats *st)
{
	return nonce_decode(f, PT_FRAME_COLLECT, PT_COLLECT_NONCE, &m->nonce, st);
}

/* ---- PONG ---- */
int pt_pong_encode(struct pt_writer *w, const struct pt_pong *m)
{
	struct pt_frame_builder fb;

	if (m->n_counters > PT_COUNTERS_MAX)
		return -EMSGSIZE;
	pt_frame_begin(&fb, w, PT_FRAME_PONG);
	pt_put_u64(w, PT_PONG_NONCE, m->nonce);
	pt_put_u64(w, PT_PONG_QUEUE_DEPTH, m->queue_depth);
	pt_put_u64(w, PT_PONG_SPOOL_BYTES, m->spool_bytes);
	pt_put_u64(w, PT_PONG_NEXT_SEQ, m->next_seq);
	pt_put_u64(w, PT_PONG_ACKED_SEQ, m->acked_seq);
	pt_put_counters(w, PT_PONG_COUNTER, m->counters, m->n_counters);
	return pt_frame_end(&fb);
}

int pt_pong_decode(const struct pt_frame *f, struct pt_pong *m, struct pt_decode_stats *st)
{
	struct pt_cursor c;
	struct pt_attr a;
	uint64_t seen = 0;
	int rc, err;

	memset(m, 0, sizeof(*m));
	if ((err = expect(f, PT_FRAME_PONG, &c)))
		return err;
	while ((rc = pt_cursor_next_attr(&c, &a)) > 0) {
		if (a.type != PT_PONG_COUNTER && (err = pt_attr_seen(&seen, a.type)))
			return err;
		switch (a.type) {
		case PT_PONG_NONCE: err = pt_attr_u64(&a, &m->nonce); break;
		case PT_PONG_QUEUE_DEPTH: err = pt_attr_u64(&a, &m->queue_depth); break;
		case PT_PONG_SPOOL_BYTES: err = pt_attr_u64(&a, &m->spool_bytes); break;
		case PT_PONG_NEXT_SEQ: err = pt_attr_u64(&a, &m->next_seq); break;
		case PT_PONG_ACKED_SEQ: err = pt_attr_u64(&a, &m->acked_seq); break;
		case PT_PONG_COUNTER:
			if (m->n_counters >= PT_COUNTERS_MAX)
				return -EMSGSIZE;
			err = pt_attr_counter(&a, &m->counters[m->n_counters++]);
			break;
		default: skipped(st); break;
		}
		if (err)
			return err;
	}
	return rc < 0 ? rc : 0;
}

/* ---- ERROR ---- */
int pt_error_encode(struct pt_writer *w, const struct pt_error *m)
{
	struct pt_frame_builder fb;
	struct pt_str msg = m->message;

	/* An error message is advisory: cut it rather than fail to report the error. */
	if (msg.len > PT_MESSAGE_MAX)
		msg.len = PT_MESSAGE_MAX;
	if (msg.len && memchr(msg.ptr, '\0', msg.len))
		msg.len = (uint32_t)strnlen(msg.ptr, msg.len);
	pt_frame_begin(&fb, w, PT_FRAME_ERROR);
	pt_put_u32(w, PT_ERROR_CODE, m->code);
	pt_put_str(w, PT_ERROR_MESSAGE, msg);
	if (m->frame_type)
		pt_put_u8(w, PT_ERROR_FRAME_TYPE, m->frame_type);
	return pt_frame_end(&fb);
}

int pt_error_decode(const struct pt_frame *f, struct pt_error *m, struct pt_decode_stats *st)
{
	struct pt_cursor c;
	struct pt_attr a;
	uint64_t seen = 0;
	int rc, err;

	memset(m, 0, sizeof(*m));
	if ((err = expect(f, PT_FRAME_ERROR, &c)))
		return err;
	while ((rc = pt_cursor_next_attr(&c, &a)) > 0) {
		if ((err = pt_attr_seen(&seen, a.type)))
			return err;
		switch (a.type) {
		case PT_ERROR_CODE: err = pt_attr_u32(&a, &m->code); break;
		case PT_ERROR_MESSAGE: err = pt_attr_str(&a, PT_MESSAGE_MAX, &m->message); break;
		case PT_ERROR_FRAME_TYPE: err = pt_attr_u8(&a, &m->frame_type); break;
		default: skipped(st); break;
		}
		if (err)
			return err;
	}
	if (rc < 0)
		return rc;
	return HAS(seen, PT_ERROR_CODE) ? 0 : -EBADMSG;
}

/* ---- POLICY_RESULT ---- */
int pt_policy_result_encode(struct pt_writer *w, const struct pt_policy_result *m)
{
	struct pt_frame_builder fb;

	if (check_name(m->message, PT_MESSAGE_MAX))
		return -EMSGSIZE;
	pt_frame_begin(&fb, w, PT_FRAME_POLICY_RESULT);
	pt_put_u64(w, PT_POLICY_RESULT_VERSION, m->version);
	pt_put_u32(w, PT_POLICY_RESULT_CODE, m->code);
	pt_put_str(w, PT_POLICY_RESULT_MESSAGE, m->message);
	return pt_frame_end(&fb);
}

int pt_policy_result_decode(const struct pt_frame *f, struct pt_policy_result *m,
			    struct pt_decode_stats *st)
{
	struct pt_cursor c;
	struct pt_attr a;
	uint64_t seen = 0;
	int rc, err;

	memset(m, 0, sizeof(*m));
	if ((err = expect(f, PT_FRAME_POLICY_RESULT, &c)))
		return err;
	while ((rc = pt_cursor_next_attr(&c, &a)) > 0) {
		if ((err = pt_attr_seen(&seen, a.type)))
			return err;
		switch (a.type) {
		case PT_POLICY_RESULT_VERSION: err = pt_attr_u64(&a, &m->version); break;
		case PT_POLICY_RESULT_CODE: err = pt_attr_u32(&a, &m->code); break;
		case PT_POLICY_RESULT_MESSAGE:
			err = pt_attr_str(&a, PT_MESSAGE_MAX, &m->message);
			break;
		default: skipped(st); break;
		}
		if (err)
			return err;
	}
	if (rc < 0)
		return rc;
	return HAS(seen, PT_POLICY_RESULT_VERSION) && HAS(seen, PT_POLICY_RESULT_CODE) ? 0
										       : -EBADMSG;
}

/* ---- POLICY ---- */
int pt_policy_encode(struct pt_writer *w, uint64_t version, const uint8_t (*hashes)[PT_SHA256_LEN],
		     uint32_t n)
{
	struct pt_frame_builder fb;

	if (n > PT_POLICY_HASHES_MAX)
		return -EMSGSIZE;
	pt_frame_begin(&fb, w, PT_FRAME_POLICY);
	pt_put_u64(w, PT_POLICY_VERSION, version);
	for (uint32_t i = 0; i < n; i++)
		pt_put_bytes(w, PT_POLICY_SHA256, hashes[i], PT_SHA256_LEN);
	return pt_frame_end(&fb);
}

int pt_policy_decode(const struct pt_frame *f, struct pt_policy *m, struct pt_decode_stats *st)
{
	struct pt_cursor c;
	struct pt_attr a;
	uint64_t seen = 0;
	int rc, err;

	memset(m, 0, sizeof(*m));
	if ((err = expect(f, PT_FRAME_POLICY, &c)))
		return err;
	while ((rc = pt_cursor_next_attr(&c, &a)) > 0) {
		err = 0;
		switch (a.type) {
		case PT_POLICY_VERSION:
			if ((err = pt_attr_seen(&seen, a.type)))
				return err;
			err = pt_attr_u64(&a, &m->version);
			break;
		case PT_POLICY_SHA256:
			if (a.len != PT_SHA256_LEN)
				return -EBADMSG;
			if (++m->n_hashes > PT_POLICY_HASHES_MAX)
				return -EMSGSIZE;
			break;
		default: skipped(st); break;
		}
		if (err)
			return err;
	}
	if (rc < 0)
		return rc;
	return HAS(seen, PT_POLICY_VERSION) ? 0 : -EBADMSG;
}

void pt_policy_iter_init(struct pt_policy_iter *it, const struct pt_frame *f)
{
	pt_cursor_init(&it->c, f->attrs, f->attrs_len);
}

int pt_policy_next_hash(struct pt_policy_iter *it, uint8_t out[PT_SHA256_LEN])
{
	struct pt_attr a;
	int rc;

	while ((rc = pt_cursor_next_attr(&it->c, &a)) > 0) {
		if (a.type == PT_POLICY_SHA256 && a.len == PT_SHA256_LEN) {
			memcpy(out, a.val, PT_SHA256_LEN);
			return 1;
		}
	}
	return rc;
}
