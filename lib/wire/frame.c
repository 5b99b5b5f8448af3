/* Frames of the agent-collector channel: header, builder, split, and typed contents. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "proctrail/wire.h"
#include "fields.h"

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

/* A frame whose attributes are all in its table. */
static int frame_encode(struct pt_writer *w, uint8_t type, const struct pt_field *fields,
			size_t n_fields, const void *in)
{
	struct pt_frame_builder fb;
	int err;

	pt_frame_begin(&fb, w, type);
	if ((err = pt_fields_encode(w, fields, n_fields, in)) && !w->err)
		w->err = err;   /* pt_frame_end takes back what was written and returns it */
	return pt_frame_end(&fb);
}

#define FRAME_ENCODE(w, type, table, in) \
	frame_encode(w, type, table, sizeof(table) / sizeof((table)[0]), in)

/* Frames other than BATCH carry no body. */
static int frame_decode(const struct pt_frame *f, uint8_t type, const struct pt_field *fields,
			size_t n_fields, void *out, uint64_t *seen, struct pt_decode_stats *st)
{
	if (f->type != type)
		return -EINVAL;
	if (f->body_len)
		return -EBADMSG;
	*seen = 0;
	return pt_fields_decode(f->attrs, f->attrs_len, fields, n_fields, out, seen, st);
}

#define FRAME_DECODE(f, type, table, out, seen, st) \
	frame_decode(f, type, table, sizeof(table) / sizeof((table)[0]), out, seen, st)
#define HAS(seen, type) (((seen) >> (type)) & 1)

/* ---- HELLO ---- */

static const struct pt_field hello_fields[] = {
	PT_FIELD_STR(PT_HELLO_VERSION, struct pt_hello, version, PT_NAME_MAX),
	PT_FIELD_STR(PT_HELLO_HOSTNAME, struct pt_hello, hostname, PT_NAME_MAX),
	PT_FIELD_FIXED(PT_HELLO_BOOT_ID, struct pt_hello, boot_id, PT_BOOT_ID_LEN),
	PT_FIELD(PT_HELLO_STREAM_ID, PT_F_U64, struct pt_hello, stream_id),
	PT_FIELD(PT_HELLO_FIRST_SEQ, PT_F_U64, struct pt_hello, first_seq),
	PT_FIELD(PT_HELLO_NEXT_SEQ, PT_F_U64, struct pt_hello, next_seq),
	PT_FIELD(PT_HELLO_MODE, PT_F_U8, struct pt_hello, mode),
	PT_FIELD_STR(PT_HELLO_AGENT_NAME, struct pt_hello, agent_name, PT_NAME_MAX),
	PT_FIELD(PT_HELLO_POLICY_VERSION, PT_F_U64, struct pt_hello, policy_version),
};

int pt_hello_encode(struct pt_writer *w, const struct pt_hello *m)
{
	return FRAME_ENCODE(w, PT_FRAME_HELLO, hello_fields, m);
}

int pt_hello_decode(const struct pt_frame *f, struct pt_hello *m, struct pt_decode_stats *st)
{
	const uint64_t required = PT_BIT(PT_HELLO_STREAM_ID) | PT_BIT(PT_HELLO_NEXT_SEQ) |
				  PT_BIT(PT_HELLO_AGENT_NAME) | PT_BIT(PT_HELLO_MODE);
	uint64_t seen;
	int err;

	memset(m, 0, sizeof(*m));
	if ((err = FRAME_DECODE(f, PT_FRAME_HELLO, hello_fields, m, &seen, st)))
		return err;
	if ((seen & required) != required)
		return -EBADMSG;
	if (m->mode != PT_MODE_STREAM && m->mode != PT_MODE_PULL)
		return -EBADMSG;
	return 0;
}

/* ---- WELCOME ---- */

static bool no_acked_seq(const void *in) { return !((const struct pt_welcome *)in)->has_acked_seq; }

static const struct pt_field welcome_fields[] = {
	PT_FIELD_STR(PT_WELCOME_VERSION, struct pt_welcome, version, PT_NAME_MAX),
	PT_FIELD_IF(PT_WELCOME_ACKED_SEQ, PT_F_U64, struct pt_welcome, acked_seq, no_acked_seq),
	PT_FIELD(PT_WELCOME_PING_INTERVAL_MS, PT_F_U32, struct pt_welcome, ping_interval_ms),
};

int pt_welcome_encode(struct pt_writer *w, const struct pt_welcome *m)
{
	return FRAME_ENCODE(w, PT_FRAME_WELCOME, welcome_fields, m);
}

int pt_welcome_decode(const struct pt_frame *f, struct pt_welcome *m, struct pt_decode_stats *st)
{
	uint64_t seen;
	int err;

	memset(m, 0, sizeof(*m));
	if ((err = FRAME_DECODE(f, PT_FRAME_WELCOME, welcome_fields, m, &seen, st)))
		return err;
	m->has_acked_seq = HAS(seen, PT_WELCOME_ACKED_SEQ);
	return 0;
}

/* ---- ACK ---- */

static const struct pt_field ack_fields[] = {
	PT_FIELD(PT_ACK_STREAM_ID, PT_F_U64, struct pt_ack, stream_id),
	PT_FIELD(PT_ACK_SEQ, PT_F_U64, struct pt_ack, seq),
};

int pt_ack_encode(struct pt_writer *w, const struct pt_ack *m)
{
	return FRAME_ENCODE(w, PT_FRAME_ACK, ack_fields, m);
}

int pt_ack_decode(const struct pt_frame *f, struct pt_ack *m, struct pt_decode_stats *st)
{
	const uint64_t required = PT_BIT(PT_ACK_STREAM_ID) | PT_BIT(PT_ACK_SEQ);
	uint64_t seen;
	int err;

	memset(m, 0, sizeof(*m));
	if ((err = FRAME_DECODE(f, PT_FRAME_ACK, ack_fields, m, &seen, st)))
		return err;
	return (seen & required) == required ? 0 : -EBADMSG;
}

/* ---- PING, COLLECT: a nonce each ---- */
static int nonce_encode(struct pt_writer *w, uint8_t type, uint16_t attr, uint64_t nonce)
{
	const struct pt_field fields[] = { { attr, PT_F_U64, 0, 0, 0, 0 } };

	return frame_encode(w, type, fields, 1, &nonce);
}

static int nonce_decode(const struct pt_frame *f, uint8_t type, uint16_t attr, uint64_t *nonce,
			struct pt_decode_stats *st)
{
	const struct pt_field fields[] = { { attr, PT_F_U64, 0, 0, 0, 0 } };
	uint64_t seen;

	*nonce = 0;
	return frame_decode(f, type, fields, 1, nonce, &seen, st);
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

static const struct pt_field pong_fields[] = {
	PT_FIELD(PT_PONG_NONCE, PT_F_U64, struct pt_pong, nonce),
	PT_FIELD(PT_PONG_QUEUE_DEPTH, PT_F_U64, struct pt_pong, queue_depth),
	PT_FIELD(PT_PONG_SPOOL_BYTES, PT_F_U64, struct pt_pong, spool_bytes),
	PT_FIELD(PT_PONG_NEXT_SEQ, PT_F_U64, struct pt_pong, next_seq),
	PT_FIELD(PT_PONG_ACKED_SEQ, PT_F_U64, struct pt_pong, acked_seq),
	PT_FIELD_REPEAT(PT_PONG_COUNTER, PT_F_COUNTER, 10, struct pt_pong, counters, n_counters,
			PT_COUNTERS_MAX),
};

int pt_pong_encode(struct pt_writer *w, const struct pt_pong *m)
{
	return FRAME_ENCODE(w, PT_FRAME_PONG, pong_fields, m);
}

int pt_pong_decode(const struct pt_frame *f, struct pt_pong *m, struct pt_decode_stats *st)
{
	uint64_t seen;

	memset(m, 0, offsetof(struct pt_pong, counters));
	return FRAME_DECODE(f, PT_FRAME_PONG, pong_fields, m, &seen, st);
}

/* ---- ERROR ---- */

static bool no_frame_type(const void *in) { return !((const struct pt_error *)in)->frame_type; }

static const struct pt_field error_fields[] = {
	PT_FIELD(PT_ERROR_CODE, PT_F_U32, struct pt_error, code),
	PT_FIELD_STR(PT_ERROR_MESSAGE, struct pt_error, message, PT_MESSAGE_MAX),
	PT_FIELD_IF(PT_ERROR_FRAME_TYPE, PT_F_U8, struct pt_error, frame_type, no_frame_type),
};

int pt_error_encode(struct pt_writer *w, const struct pt_error *m)
{
	struct pt_error cut = *m;

	/* An error message is advisory: cut it rather than fail to report the error. */
	if (cut.message.len > PT_MESSAGE_MAX)
		cut.message.len = PT_MESSAGE_MAX;
	if (cut.message.len && memchr(cut.message.ptr, '\0', cut.message.len))
		cut.message.len = (uint32_t)strnlen(cut.message.ptr, cut.message.len);
	return FRAME_ENCODE(w, PT_FRAME_ERROR, error_fields, &cut);
}

int pt_error_decode(const struct pt_frame *f, struct pt_error *m, struct pt_decode_stats *st)
{
	uint64_t seen;
	int err;

	memset(m, 0, sizeof(*m));
	if ((err = FRAME_DECODE(f, PT_FRAME_ERROR, error_fields, m, &seen, st)))
		return err;
	return HAS(seen, PT_ERROR_CODE) ? 0 : -EBADMSG;
}

/* ---- POLICY_RESULT ---- */

static const struct pt_field policy_result_fields[] = {
	PT_FIELD(PT_POLICY_RESULT_VERSION, PT_F_U64, struct pt_policy_result, version),
	PT_FIELD(PT_POLICY_RESULT_CODE, PT_F_U32, struct pt_policy_result, code),
	PT_FIELD_STR(PT_POLICY_RESULT_MESSAGE, struct pt_policy_result, message, PT_MESSAGE_MAX),
};

int pt_policy_result_encode(struct pt_writer *w, const struct pt_policy_result *m)
{
	return FRAME_ENCODE(w, PT_FRAME_POLICY_RESULT, policy_result_fields, m);
}

int pt_policy_result_decode(const struct pt_frame *f, struct pt_policy_result *m,
			    struct pt_decode_stats *st)
{
	const uint64_t required = PT_BIT(PT_POLICY_RESULT_VERSION) | PT_BIT(PT_POLICY_RESULT_CODE);
	uint64_t seen;
	int err;

	memset(m, 0, sizeof(*m));
	if ((err = FRAME_DECODE(f, PT_FRAME_POLICY_RESULT, policy_result_fields, m, &seen, st)))
		return err;
	return (seen & required) == required ? 0 : -EBADMSG;
}

/* ---- SAMPLE_GET, SAMPLE_DATA ---- */

static const struct pt_field sample_get_fields[] = {
	PT_FIELD(PT_SAMPLE_GET_ID, PT_F_U64, struct pt_sample_get, id),
	PT_FIELD_FIXED(PT_SAMPLE_GET_SHA256, struct pt_sample_get, sha256, PT_SHA256_LEN),
	PT_FIELD(PT_SAMPLE_GET_OFFSET, PT_F_U64, struct pt_sample_get, offset),
	PT_FIELD(PT_SAMPLE_GET_LENGTH, PT_F_U32, struct pt_sample_get, length),
};

int pt_sample_get_encode(struct pt_writer *w, const struct pt_sample_get *m)
{
	return FRAME_ENCODE(w, PT_FRAME_SAMPLE_GET, sample_get_fields, m);
}

int pt_sample_get_decode(const struct pt_frame *f, struct pt_sample_get *m,
			 struct pt_decode_stats *st)
{
	const uint64_t required = PT_BIT(PT_SAMPLE_GET_ID) | PT_BIT(PT_SAMPLE_GET_SHA256) |
				  PT_BIT(PT_SAMPLE_GET_OFFSET) | PT_BIT(PT_SAMPLE_GET_LENGTH);
	uint64_t seen;
	int err;

	memset(m, 0, sizeof(*m));
	if ((err = FRAME_DECODE(f, PT_FRAME_SAMPLE_GET, sample_get_fields, m, &seen, st)))
		return err;
	return (seen & required) == required ? 0 : -EBADMSG;
}

static bool no_sample_message(const void *in)
{
	return !((const struct pt_sample_data *)in)->message.len;
}

static const struct pt_field sample_data_fields[] = {
	PT_FIELD(PT_SAMPLE_DATA_ID, PT_F_U64, struct pt_sample_data, id),
	PT_FIELD_FIXED(PT_SAMPLE_DATA_SHA256, struct pt_sample_data, sha256, PT_SHA256_LEN),
	PT_FIELD(PT_SAMPLE_DATA_OFFSET, PT_F_U64, struct pt_sample_data, offset),
	PT_FIELD(PT_SAMPLE_DATA_SIZE, PT_F_U64, struct pt_sample_data, size),
	PT_FIELD(PT_SAMPLE_DATA_CODE, PT_F_U32, struct pt_sample_data, code),
	PT_FIELD_STR_IF(PT_SAMPLE_DATA_MESSAGE, struct pt_sample_data, message, PT_MESSAGE_MAX,
			no_sample_message),
};

int pt_sample_data_encode(struct pt_writer *w, const struct pt_sample_data *m)
{
	struct pt_frame_builder fb;
	int err;

	if (m->body_len > PT_SAMPLE_CHUNK_MAX || (m->code && m->body_len))
		return -EMSGSIZE;
	pt_frame_begin(&fb, w, PT_FRAME_SAMPLE_DATA);
	if ((err = pt_fields_encode(w, sample_data_fields,
				    sizeof(sample_data_fields) / sizeof(sample_data_fields[0]), m)) &&
	    !w->err)
		w->err = err;
	pt_frame_end_attrs(&fb);
	if (m->body_len)
		pt_put_raw(w, m->body, m->body_len);
	return pt_frame_end(&fb);
}

int pt_sample_data_decode(const struct pt_frame *f, struct pt_sample_data *m,
			  struct pt_decode_stats *st)
{
	const uint64_t required = PT_BIT(PT_SAMPLE_DATA_ID) | PT_BIT(PT_SAMPLE_DATA_SHA256) |
				  PT_BIT(PT_SAMPLE_DATA_OFFSET) | PT_BIT(PT_SAMPLE_DATA_SIZE) |
				  PT_BIT(PT_SAMPLE_DATA_CODE);
	uint64_t seen = 0;
	int err;

	memset(m, 0, sizeof(*m));
	if (f->type != PT_FRAME_SAMPLE_DATA)
		return -EINVAL;
	if ((err = pt_fields_decode(f->attrs, f->attrs_len, sample_data_fields,
				    sizeof(sample_data_fields) / sizeof(sample_data_fields[0]), m,
				    &seen, st)))
		return err;
	if ((seen & required) != required)
		return -EBADMSG;
	if (f->body_len > PT_SAMPLE_CHUNK_MAX || (m->code && f->body_len))
		return -EBADMSG;
	/* a chunk past the file's end is malformed, whatever the file */
	if (!m->code && (m->offset > m->size || f->body_len > m->size - m->offset))
		return -EBADMSG;
	m->body = f->body;
	m->body_len = f->body_len;
	return 0;
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

static const struct pt_field policy_fields[] = {
	PT_FIELD(PT_POLICY_VERSION, PT_F_U64, struct pt_policy, version),
	PT_FIELD_REPEAT(PT_POLICY_SHA256, PT_F_COUNT_ONLY, PT_SHA256_LEN, struct pt_policy, n_hashes,
			n_hashes, PT_POLICY_HASHES_MAX),
	PT_FIELD_REPEAT(PT_POLICY_RULE, PT_F_COUNT_ONLY, PT_POLICY_RULE_LEN, struct pt_policy,
			n_rules, n_rules, PT_POLICY_HASHES_MAX),
};

int pt_policy_rules_encode(struct pt_writer *w, uint64_t version,
			   const struct pt_policy_rule *rules, uint32_t n)
{
	struct pt_frame_builder fb;
	uint8_t v[PT_POLICY_RULE_LEN];

	if (n > PT_POLICY_HASHES_MAX)
		return -EMSGSIZE;
	pt_frame_begin(&fb, w, PT_FRAME_POLICY);
	pt_put_u64(w, PT_POLICY_VERSION, version);
	for (uint32_t i = 0; i < n; i++) {
		memcpy(v, rules[i].sha256, PT_SHA256_LEN);
		pt_be64_put(v + PT_SHA256_LEN, rules[i].rule_id);
		v[PT_SHA256_LEN + 8] = rules[i].flags;
		pt_put_bytes(w, PT_POLICY_RULE, v, sizeof(v));
	}
	return pt_frame_end(&fb);
}

int pt_policy_next_rule(struct pt_policy_iter *it, struct pt_policy_rule *out)
{
	struct pt_attr a;
	int rc;

	while ((rc = pt_cursor_next_attr(&it->c, &a)) > 0) {
		if (a.type == PT_POLICY_SHA256 && a.len == PT_SHA256_LEN) {
			memset(out, 0, sizeof(*out));
			memcpy(out->sha256, a.val, PT_SHA256_LEN);
			return 1;
		}
		if (a.type == PT_POLICY_RULE && a.len == PT_POLICY_RULE_LEN) {
			memcpy(out->sha256, a.val, PT_SHA256_LEN);
			out->rule_id = pt_be64_get(a.val + PT_SHA256_LEN);
			out->flags = a.val[PT_SHA256_LEN + 8];
			return 1;
		}
	}
	return rc;
}

int pt_policy_decode(const struct pt_frame *f, struct pt_policy *m, struct pt_decode_stats *st)
{
	uint64_t seen;
	int err;

	memset(m, 0, sizeof(*m));
	if ((err = FRAME_DECODE(f, PT_FRAME_POLICY, policy_fields, m, &seen, st)))
		return err;
	if ((uint64_t)m->n_hashes + m->n_rules > PT_POLICY_HASHES_MAX)
		return -EMSGSIZE;
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
