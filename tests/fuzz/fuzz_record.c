/* libFuzzer: arbitrary bytes as a run of records. Whatever decodes must re-encode, and the
 * re-encoding must decode to the same bytes again (decode -> encode is a fixed point). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proctrail/wire.h"

static uint8_t out1[PT_RECORD_MAX], out2[PT_RECORD_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pt_decode_stats st = { 0 };
	size_t off = 0;

	while (off < size) {
		struct pt_record r, r2;
		struct pt_writer w1, w2;
		size_t used = 0, used2 = 0;

		if (pt_record_decode(data + off, size - off, &r, &used, &st) != 0)
			break;
		if (used == 0 || used > size - off)
			abort();
		off += used;
		if (r.type == PT_REC_UNKNOWN)
			continue;
		pt_writer_init(&w1, out1, sizeof(out1));
		/* Decoded values are within every maximum, so encoding must succeed. */
		if (pt_record_encode(&w1, &r) != 0)
			abort();
		if (pt_record_decode(out1, w1.len, &r2, &used2, NULL) != 0 || used2 != w1.len)
			abort();
		pt_writer_init(&w2, out2, sizeof(out2));
		if (pt_record_encode(&w2, &r2) != 0 || w2.len != w1.len ||
		    memcmp(out1, out2, w1.len) != 0)
			abort();
	}
	return 0;
}
