/* Recovery at open: reads every segment, truncates a torn tail, skips and reports corrupt
 * regions, and rebuilds the in-memory index (sequence and ring ranges per segment). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proctrail/log.h"
#include "proctrail/wire.h"
#include "spool-int.h"

struct scan_state {
	uint64_t last_good;     /* highest good seq seen so far, across segments */
	uint64_t pend_regions;  /* corrupt regions since the last good record */
	uint64_t max_hdr_first; /* highest "first seq" of a segment header */
	uint64_t tail_seq;      /* seq of a whole but corrupt frame at the very end, 0 if none */
};

/* A good record after corrupt regions bounds what they swallowed. */
static void scan_settle(struct pt_spool *s, struct scan_state *ss, uint64_t next_good)
{
	if (!ss->pend_regions)
		return;
	if (next_good > ss->last_good + 1) {
		spool_add_loss(s, ss->last_good + 1, next_good - 1, next_good - 1 - ss->last_good,
			       true);
	} else {
		log_warnx("spool: %llu corrupt region(s) held no record of this stream",
			  (unsigned long long)ss->pend_regions);
	}
	ss->pend_regions = 0;
}

static int read_all(int fd, uint8_t *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = pread(fd, buf + off, len - off, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;   /* shrank under us */
		off += (size_t)n;
	}
	return 0;
}

/* Scans segment i. Returns 0, 1 when the segment is not ours (to be left alone), or -errno. */
static int scan_segment(struct pt_spool *s, size_t i, struct scan_state *ss, bool *have_stream)
{
	struct seg *sg = &s->segs[i];
	bool newest = i + 1 == s->nsegs;
	char name[64];
	uint8_t *buf = NULL;
	struct stat stt;
	uint64_t hstream, hfirst, hring;
	size_t off, len;
	int fd = -1, rc;

	spool_seg_name(name, sizeof(name), sg->id);
	fd = openat(s->dirfd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &stt) < 0) {
		rc = -errno;
		goto cleanup;
	}
	if (!S_ISREG(stt.st_mode) || (uint64_t)stt.st_size > PT_SPOOL_SEGMENT_MAX) {
		log_warnx("spool: %s/%s is not a spool segment (type or size), ignored", s->dir, name);
		s->st.foreign_files++;
		rc = 1;
		goto cleanup;
	}
	len = (size_t)stt.st_size;
	buf = malloc(len ? len : 1);
	if (!buf) {
		rc = -ENOMEM;
		goto cleanup;
	}
	if ((rc = read_all(fd, buf, len)) < 0)
		goto cleanup;

	if (spool_seg_header_check(buf, len, &hstream, &hfirst, &hring) == 0) {
		if (!*have_stream) {
			s->stream_id = hstream;
			*have_stream = true;
		} else if (hstream != s->stream_id) {
			log_warnx("spool: %s/%s belongs to stream %016llx, not %016llx; ignored",
				  s->dir, name, (unsigned long long)hstream,
				  (unsigned long long)s->stream_id);
			s->st.foreign_files++;
			rc = 1;
			goto cleanup;
		}
		if (hfirst > ss->max_hdr_first)
			ss->max_hdr_first = hfirst;
		if (hring > s->ring_pos)
			s->ring_pos = hring;
	} else if (len < PT_SPOOL_SEG_HDR_LEN && newest) {
		/* Created but its header never fully written: nothing can be in it. */
		log_warnx("spool: %s/%s: incomplete header, removed", s->dir, name);
		s->st.torn_bytes += len;
		unlinkat(s->dirfd, name, 0);
		rc = 2;
		goto cleanup;
	} else {
		log_warnx("spool: %s/%s: corrupt segment header; reading its records anyway",
			  s->dir, name);
		s->st.corrupt_regions++;
		ss->pend_regions++;
	}

	sg->size = len;
	off = PT_SPOOL_SEG_HDR_LEN;
	while (off < len) {
		struct pt_spool_item it;
		int r = pt_spool_frame_parse(buf + off, len - off, &it);

		if (r == PT_SPOOL_FRAME_OK && it.seq > ss->last_good) {
			scan_settle(s, ss, it.seq);
			if (!sg->first_seq)
				sg->first_seq = it.seq;
			sg->last_seq = it.seq;
			ss->last_good = it.seq;
			if (it.ring_pos > sg->max_ring)
				sg->max_ring = it.ring_pos;
			off += PT_SPOOL_REC_HDR_LEN + it.len;
			continue;
		}
		long long nxt = spool_resync(buf, len, off + 1, ss->last_good + 1);
		if (nxt >= 0) {
			log_warnx("spool: %s/%s: corrupt bytes %zu..%lld skipped", s->dir, name, off,
				  nxt);
			s->st.corrupt_regions++;
			ss->pend_regions++;
			off = (size_t)nxt;
			continue;
		}
		/* Nothing valid follows: the tail. */
		if (r == PT_SPOOL_FRAME_SHORT && newest) {
			log_warnx("spool: %s/%s: torn tail of %zu bytes truncated", s->dir, name,
				  len - off);
			s->st.torn_bytes += len - off;
		} else {
			log_warnx("spool: %s/%s: corrupt tail of %zu bytes skipped", s->dir, name,
				  len - off);
			s->st.corrupt_regions++;
			ss->pend_regions++;
			/* A whole frame whose header still names the next sequence was that record. */
			if (len - off >= PT_SPOOL_REC_HDR_LEN &&
			    pt_be32_get(buf + off) == REC_MAGIC &&
			    pt_be64_get(buf + off + 8) == ss->last_good + 1)
				ss->tail_seq = ss->last_good + 1;
		}
		if (newest) {
			if (ftruncate(fd, (off_t)off) < 0) {
				rc = -errno;
				goto cleanup;
			}
			sg->size = off;
		}
		break;
	}
	if (sg->max_ring > s->ring_pos)
		s->ring_pos = sg->max_ring;
	/* A killed agent's last writes may still be only in the page cache; the sensor is about
	 * to be told they are durable (pt_sensor_skip_until), so make them so. */
	if (newest && fsync(fd) < 0) {
		rc = -errno;
		goto cleanup;
	}
	rc = 0;
cleanup:
	if (rc < 0)
		log_warnx("spool: %s/%s: %s", s->dir, name, strerror(-rc));
	free(buf);
	if (fd >= 0)
		close(fd);
	return rc;
}

int spool_scan(struct pt_spool *s)
{
	struct scan_state ss = { 0 };
	uint64_t mstream = 0, macked = 0;
	bool have_stream = false;
	int rc;

	rc = spool_meta_read(s, &mstream, &macked, s->ring_id, &s->ring_offset);
	if (rc == 0) {
		s->stream_id = mstream;
		s->acked_seq = s->meta_acked = macked;
		have_stream = true;
	} else if (rc != -ENOENT) {
		log_warnx("spool: %s/%s unreadable (%s): acknowledged records may be sent again",
			  s->dir, META_NAME, strerror(-rc));
	}

	for (size_t i = 0; i < s->nsegs;) {
		rc = scan_segment(s, i, &ss, &have_stream);
		if (rc < 0)
			return rc;
		if (rc > 0) {
			spool_seg_remove(s, i);
			continue;
		}
		i++;
	}
	if (ss.pend_regions) {
		if (ss.tail_seq) {
			scan_settle(s, &ss, ss.tail_seq + 1);
			ss.last_good = ss.tail_seq;
		} else {
			/* Corrupt to the end with no sequence to bound it: at least one record. */
			if (ss.last_good + 1 > s->acked_seq)
				spool_add_loss(s, 0, 0, 1, false);
		}
	}
	if (!have_stream) {
		if (getentropy(&s->stream_id, sizeof(s->stream_id)) < 0)
			return -errno;
		if (!s->stream_id)
			s->stream_id = 1;
		s->new_stream = true;
		s->acked_seq = 0;
	}
	uint64_t last = ss.last_good;
	if (ss.max_hdr_first && ss.max_hdr_first - 1 > last)
		last = ss.max_hdr_first - 1;
	if (s->acked_seq > last)
		last = s->acked_seq;
	s->next_seq = last + 1;
	s->durable_ring = s->ring_pos;
	return 0;
}
