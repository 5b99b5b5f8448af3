/* BATCH frames: a run of consecutive records, raw or zstd-compressed. */
#include <errno.h>
#include <string.h>
#include <zstd.h>

#include "proctrail/wire.h"
#include "fields.h"

/* Below this size compression rarely pays for its CPU. */
#define PT_BATCH_COMPRESS_MIN 512u

int pt_batch_encode(struct pt_writer *w, uint64_t stream_id, uint64_t first_seq, uint32_t count,
		    const uint8_t *records, size_t records_len, int codec, uint8_t *scratch,
		    size_t scratch_cap)
{
	return pt_batch_encode_cctx(w, stream_id, first_seq, count, records, records_len, codec,
				    scratch, scratch_cap, NULL);
}

int pt_batch_encode_cctx(struct pt_writer *w, uint64_t stream_id, uint64_t first_seq,
			 uint32_t count, const uint8_t *records, size_t records_len, int codec,
			 uint8_t *scratch, size_t scratch_cap, ZSTD_CCtx *cctx)
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
		/* ZSTD_compress() makes and frees a context (its tables) on every call. */
		size_t n = cctx ? ZSTD_compressCCtx(cctx, scratch, scratch_cap, records, records_len, 1)
			       : ZSTD_compress(scratch, scratch_cap, records, records_len, 1);

		/* Sent raw when zstd fails or does not shrink it (the receiver handles both), and
		 * when it shrinks it more than a receiver accepts. */
		if (!ZSTD_isError(n) && n < records_len &&
		    records_len <= (uint64_t)n * PT_BATCH_ZSTD_RATIO_MAX) {
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

static const struct pt_field batch_fields[] = {
	PT_FIELD(PT_BATCH_STREAM_ID, PT_F_U64, struct pt_batch, stream_id),
	PT_FIELD(PT_BATCH_FIRST_SEQ, PT_F_U64, struct pt_batch, first_seq),
	PT_FIELD(PT_BATCH_COUNT, PT_F_U32, struct pt_batch, count),
	PT_FIELD(PT_BATCH_CODEC, PT_F_U8, struct pt_batch, codec),
	PT_FIELD(PT_BATCH_RAW_LEN, PT_F_U32, struct pt_batch, raw_len),
};

int pt_batch_decode(const struct pt_frame *f, struct pt_batch *m, struct pt_decode_stats *st)
{
	const uint64_t required = PT_BIT(PT_BATCH_STREAM_ID) | PT_BIT(PT_BATCH_FIRST_SEQ) |
				  PT_BIT(PT_BATCH_COUNT) | PT_BIT(PT_BATCH_CODEC) |
				  PT_BIT(PT_BATCH_RAW_LEN);
	uint64_t seen = 0;
	int err;

	memset(m, 0, sizeof(*m));
	if (f->type != PT_FRAME_BATCH)
		return -EINVAL;
	err = pt_fields_decode(f->attrs, f->attrs_len, batch_fields,
			       sizeof(batch_fields) / sizeof(batch_fields[0]), m, &seen, st);
	if (err)
		return err;
	if ((seen & required) != required)
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
	if (m->codec == PT_CODEC_ZSTD &&
	    (uint64_t)m->raw_len > (uint64_t)f->body_len * PT_BATCH_ZSTD_RATIO_MAX)
		return -EMSGSIZE;
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
