/* BATCH frames: a run of consecutive records, raw or zstd-compressed. */
#include <errno.h>
#include <string.h>
#include <zstd.h>

#include "proctrail/wire.h"

/* Below this size compression rarely pays for its CPU. */
#define PT_BATCH_COMPRESS_MIN 512u

int pt_batch_encode(struct pt_writer *w, uint64_t stream_id, uint64_t first_seq, uint32_t count,
		    const uint8_t *records, size_t records_len, int codec, uint8_t *scratch,
		    size_t scratch_cap)
{
	struct pt_frame_builder fb;
	const uint8_t *body = records;
	size_t body_len = records_len;
	uint8_t used = PT_CODEC_NONE;

	if (count == 0 || count > PT_BATCH_RECORDS_MAX || records_len > PT_BATCH_RAW_MAX)
		return -EMSGSIZE;
	if (codec != PT_CODEC_NONE && codec != PT_CODEC_ZSTD)
		return -EINVAL;
	if (codec == PT_CODEC_ZSTD && records_len >= PT_BATCH_COMPRESS_MIN && scratch) {
		size_t n = ZSTD_compress(scratch, scratch_cap, records, records_len, 1);

		/* Sent raw when zstd fails or does not shrink it: the receiver handles both. */
		if (!ZSTD_isError(n) && n < records_len) {
			body = scratch;
			body_len = n;
			used = PT_CODEC_ZSTD;
		}
	}
	pt_frame_begin(&fb, w, PT_FRAME_BATCH);
	pt_put_u64(w, PT_BATCH_STREAM_ID, stream_id);
	pt_put_u64(w, PT_BATCH_FIRST_SEQ, first_seq);
	pt_put_u32(w, PT_BATCH_COUNT, count);
	pt_put_u8(w, PT_BATCH_CODEC, used);
	pt_put_u32(w, PT_BATCH_RAW_LEN, (uint32_t)records_len);
	pt_frame_end_attrs(&fb);
	pt_put_raw(w, body, body_len);
	return pt_frame_end(&fb);
}

int pt_batch_decode(const struct pt_frame *f, struct pt_batch *m, struct pt_decode_stats *st)
{
	struct pt_cursor c;
	struct pt_attr a;
	uint64_t seen = 0;
	int rc, err = 0;

	memset(m, 0, sizeof(*m));
	if (f->type != PT_FRAME_BATCH)
		return -EINVAL;
	pt_cursor_init(&c, f->attrs, f->attrs_len);
	while ((rc = pt_cursor_next_attr(&c, &a)) > 0) {
		if ((err = pt_attr_seen(&seen, a.type)))
			return err;
		switch (a.type) {
		case PT_BATCH_STREAM_ID: err = pt_attr_u64(&a, &m->stream_id); break;
		case PT_BATCH_FIRST_SEQ: err = pt_attr_u64(&a, &m->first_seq); break;
		case PT_BATCH_COUNT: err = pt_attr_u32(&a, &m->count); break;
		case PT_BATCH_CODEC: err = pt_attr_u8(&a, &m->codec); break;
		case PT_BATCH_RAW_LEN: err = pt_attr_u32(&a, &m->raw_len); break;
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
	if (seen != ((1ull << PT_BATCH_STREAM_ID) | (1ull << PT_BATCH_FIRST_SEQ) |
		     (1ull << PT_BATCH_COUNT) | (1ull << PT_BATCH_CODEC) | (1ull << PT_BATCH_RAW_LEN)))
		return -EBADMSG;
	if (m->count == 0 || m->count > PT_BATCH_RECORDS_MAX)
		return -EMSGSIZE;
	if (m->raw_len > PT_BATCH_RAW_MAX)
		return -EMSGSIZE;
	/* Sequence numbers start at 1 and the last one must not wrap. */
	if (m->first_seq == 0 || m->first_seq > UINT64_MAX - m->count)
		return -EBADMSG;
	if (m->codec == PT_CODEC_NONE && f->body_len != m->raw_len)
		return -EBADMSG;
	if (m->codec != PT_CODEC_NONE && m->codec != PT_CODEC_ZSTD)
		return -EPROTONOSUPPORT;
	m->body = f->body;
	m->body_len = f->body_len;
	return 0;
}

int pt_batch_records(const struct pt_batch *m, uint8_t *out, size_t out_cap,
		     const uint8_t **records, size_t *records_len)
{
	unsigned long long declared;
	size_t n;

	if (m->codec == PT_CODEC_NONE) {
		*records = m->body;
		*records_len = m->body_len;
		return 0;
	}
	if (m->raw_len > out_cap || m->raw_len > PT_BATCH_RAW_MAX)
		return -EMSGSIZE;
	/* The zstd frame must declare exactly the size the batch header promised, so a small
	 * body cannot expand into more than the bound we already checked. */
	declared = ZSTD_getFrameContentSize(m->body, m->body_len);
	if (declared == ZSTD_CONTENTSIZE_ERROR || declared == ZSTD_CONTENTSIZE_UNKNOWN ||
	    declared != m->raw_len)
		return -EBADMSG;
	n = ZSTD_decompress(out, m->raw_len, m->body, m->body_len);
	if (ZSTD_isError(n) || n != m->raw_len)
		return -EBADMSG;
	*records = out;
	*records_len = n;
	return 0;
}
