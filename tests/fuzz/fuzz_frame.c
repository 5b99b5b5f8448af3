/* libFuzzer: arbitrary bytes as a frame, through every typed decoder and, for BATCH, the
 * decompression and the records inside. Nothing may read out of bounds or allocate past a
 * maximum; typed frames that decode must survive re-encoding. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proctrail/wire.h"

static uint8_t raw[PT_BATCH_RAW_MAX];
static uint8_t reenc[PT_FRAME_MAX];

static void check_batch(const struct pt_frame *f)
{
	struct pt_batch b;
	const uint8_t *recs;
	size_t len, off = 0, used;
	uint32_t n = 0;

	if (pt_batch_decode(f, &b, NULL) != 0)
		return;
	if (pt_batch_records(&b, raw, sizeof(raw), &recs, &len) != 0)
		return;
	if (len != b.raw_len)
		abort();
	while (off < len && n < b.count) {
		struct pt_record r;

		if (pt_record_decode(recs + off, len - off, &r, &used, NULL) != 0)
			break;
		off += used;
		n++;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pt_frame_header h;
	struct pt_frame f, f2;
	struct pt_writer w;
	struct pt_decode_stats st = { 0 };

	if (pt_frame_header_parse(data, size, PT_FRAME_MAX, &h) != 0)
		return 0;
	if (pt_frame_split(data, size < PT_FRAME_HDR_LEN + (size_t)h.payload_len
				       ? size : PT_FRAME_HDR_LEN + (size_t)h.payload_len, &f) != 0)
		return 0;
	pt_writer_init(&w, reenc, sizeof(reenc));
	switch (f.type) {
	case PT_FRAME_HELLO: {
		struct pt_hello m, m2;

		if (pt_hello_decode(&f, &m, &st) == 0) {
			if (pt_hello_encode(&w, &m) || pt_frame_split(reenc, w.len, &f2) ||
			    pt_hello_decode(&f2, &m2, NULL) || m.stream_id != m2.stream_id ||
			    m.agent_name.len != m2.agent_name.len)
				abort();
		}
		break;
	}
	case PT_FRAME_WELCOME: {
		struct pt_welcome m;

		if (pt_welcome_decode(&f, &m, &st) == 0 && pt_welcome_encode(&w, &m))
			abort();
		break;
	}
	case PT_FRAME_BATCH:
		check_batch(&f);
		break;
	case PT_FRAME_ACK: {
		struct pt_ack m;

		if (pt_ack_decode(&f, &m, &st) == 0 && pt_ack_encode(&w, &m))
			abort();
		break;
	}
	case PT_FRAME_PING: {
		struct pt_ping m;

		if (pt_ping_decode(&f, &m, &st) == 0 && pt_ping_encode(&w, &m))
			abort();
		break;
	}
	case PT_FRAME_PONG: {
		struct pt_pong m, m2;

		if (pt_pong_decode(&f, &m, &st) == 0) {
			if (pt_pong_encode(&w, &m) || pt_frame_split(reenc, w.len, &f2) ||
			    pt_pong_decode(&f2, &m2, NULL) || m2.n_counters != m.n_counters)
				abort();
		}
		break;
	}
	case PT_FRAME_COLLECT: {
		struct pt_collect m;

		if (pt_collect_decode(&f, &m, &st) == 0 && pt_collect_encode(&w, &m))
			abort();
		break;
	}
	case PT_FRAME_POLICY: {
		struct pt_policy m;
		struct pt_policy_iter it;
		uint8_t h32[PT_SHA256_LEN];
		uint32_t n = 0;

		if (pt_policy_decode(&f, &m, &st) == 0) {
			pt_policy_iter_init(&it, &f);
			while (pt_policy_next_hash(&it, h32) == 1)
				n++;
			if (n != m.n_hashes)
				abort();
			/* rules: both kinds of entry, each walked once */
			struct pt_policy_rule r;
			n = 0;
			pt_policy_iter_init(&it, &f);
			while (pt_policy_next_rule(&it, &r) == 1)
				n++;
			if (n != m.n_hashes + m.n_rules)
				abort();
		}
		break;
	}
	case PT_FRAME_POLICY_RESULT: {
		struct pt_policy_result m;

		if (pt_policy_result_decode(&f, &m, &st) == 0 && pt_policy_result_encode(&w, &m))
			abort();
		break;
	}
	case PT_FRAME_SAMPLE_GET: {
		struct pt_sample_get m;

		if (pt_sample_get_decode(&f, &m, &st) == 0 && pt_sample_get_encode(&w, &m))
			abort();
		break;
	}
	case PT_FRAME_SAMPLE_DATA: {
		struct pt_sample_data m, m2;

		if (pt_sample_data_decode(&f, &m, &st) != 0)
			break;
		if (m.body_len > PT_SAMPLE_CHUNK_MAX || (m.code && m.body_len) ||
		    (!m.code && m.offset + m.body_len > m.size))
			abort();
		/* what decodes re-encodes, and decodes to the same chunk */
		if (pt_sample_data_encode(&w, &m) || pt_frame_split(reenc, w.len, &f2) ||
		    pt_sample_data_decode(&f2, &m2, NULL) || m2.body_len != m.body_len ||
		    (m.body_len && memcmp(m2.body, m.body, m.body_len)))
			abort();
		break;
	}
	case PT_FRAME_ERROR: {
		struct pt_error m;

		if (pt_error_decode(&f, &m, &st) == 0 && pt_error_encode(&w, &m))
			abort();
		break;
	}
	default:
		break;
	}
	return 0;
}
