/* Spool frames and segment headers: encoding, checking, resynchronisation after corruption. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "proctrail/crc32c.h"
#include "proctrail/hex.h"
#include "proctrail/wire.h"
#include "spool-int.h"

void pt_spool_frame_header(uint8_t hdr[PT_SPOOL_REC_HDR_LEN], uint64_t seq, uint64_t ring_pos,
			   const uint8_t *rec, uint32_t len)
{
	pt_be32_put(hdr, REC_MAGIC);
	pt_be32_put(hdr + 4, len);
	pt_be64_put(hdr + 8, seq);
	pt_be64_put(hdr + 16, ring_pos);
	uint32_t crc = pt_crc32c(0, hdr, 24);
	pt_be32_put(hdr + 24, pt_crc32c(crc, rec, len));
}

int pt_spool_frame_parse(const uint8_t *buf, size_t len, struct pt_spool_item *it)
{
	static const uint8_t magic[4] = { 'P', 'T', 'R', '1' };

	if (len < 4)
		return memcmp(buf, magic, len) ? PT_SPOOL_FRAME_BAD : PT_SPOOL_FRAME_SHORT;
	if (pt_be32_get(buf) != REC_MAGIC)
		return PT_SPOOL_FRAME_BAD;
	if (len < 8)
		return PT_SPOOL_FRAME_SHORT;
	uint32_t rlen = pt_be32_get(buf + 4);
	if (rlen < PT_SPOOL_REC_MIN || rlen > PT_RECORD_MAX)
		return PT_SPOOL_FRAME_BAD;
	if (len < PT_SPOOL_REC_HDR_LEN + (size_t)rlen)
		return PT_SPOOL_FRAME_SHORT;
	uint32_t crc = pt_crc32c(0, buf, 24);
	crc = pt_crc32c(crc, buf + PT_SPOOL_REC_HDR_LEN, rlen);
	if (crc != pt_be32_get(buf + 24))
		return PT_SPOOL_FRAME_BAD;
	uint64_t seq = pt_be64_get(buf + 8);
	if (seq == 0)
		return PT_SPOOL_FRAME_BAD;
	it->seq = seq;
	it->ring_pos = pt_be64_get(buf + 16);
	it->rec = buf + PT_SPOOL_REC_HDR_LEN;
	it->len = rlen;
	return PT_SPOOL_FRAME_OK;
}

long long spool_resync(const uint8_t *buf, size_t len, size_t from, uint64_t min_seq)
{
	static const uint8_t magic[4] = { 'P', 'T', 'R', '1' };
	struct pt_spool_item it;

	while (from < len) {
		const uint8_t *p = memmem(buf + from, len - from, magic, sizeof(magic));
		if (!p)
			return -1;
		size_t off = (size_t)(p - buf);
		if (pt_spool_frame_parse(p, len - off, &it) == PT_SPOOL_FRAME_OK && it.seq >= min_seq)
			return (long long)off;
		from = off + 1;
	}
	return -1;
}

void spool_seg_header(uint8_t hdr[PT_SPOOL_SEG_HDR_LEN], uint64_t stream_id, uint64_t first_seq,
		      uint64_t ring_pos)
{
	memset(hdr, 0, PT_SPOOL_SEG_HDR_LEN);
	pt_be32_put(hdr, SEG_MAGIC);
	pt_be32_put(hdr + 4, SPOOL_VERSION);
	pt_be64_put(hdr + 8, stream_id);
	pt_be64_put(hdr + 16, first_seq);
	pt_be64_put(hdr + 24, ring_pos);
	pt_be32_put(hdr + 36, pt_crc32c(0, hdr, 36));
}

int spool_seg_header_check(const uint8_t *hdr, size_t len, uint64_t *stream_id,
			   uint64_t *first_seq, uint64_t *ring_pos)
{
	if (len < PT_SPOOL_SEG_HDR_LEN || pt_be32_get(hdr) != SEG_MAGIC ||
	    pt_be32_get(hdr + 4) != SPOOL_VERSION ||
	    pt_crc32c(0, hdr, 36) != pt_be32_get(hdr + 36))
		return -EBADMSG;
	*stream_id = pt_be64_get(hdr + 8);
	*first_seq = pt_be64_get(hdr + 16);
	*ring_pos = pt_be64_get(hdr + 24);
	return 0;
}

void spool_seg_name(char *out, size_t outlen, uint64_t id)
{
	snprintf(out, outlen, "seg-%016llx.pts", (unsigned long long)id);
}

int spool_seg_parse_name(const char *name, uint64_t *id)
{
	uint8_t be[8];
	uint64_t v = 0;
	char canonical[32];

	if (strlen(name) != 24 || strncmp(name, "seg-", 4) || strcmp(name + 20, ".pts"))
		return -EINVAL;
	if (pt_hex_decode(name + 4, 16, be, sizeof(be)))
		return -EINVAL;
	for (int i = 0; i < 8; i++)
		v = v << 8 | be[i];
	/* one spelling per id: "seg-00AB…" is not segment 0xab but a stranger's file */
	spool_seg_name(canonical, sizeof(canonical), v);
	if (strcmp(canonical, name))
		return -EINVAL;
	*id = v;
	return 0;
}
