/* Appending frames: segment rotation, the size bound, group commit. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proctrail/log.h"
#include "proctrail/wire.h"
#include "spool-int.h"

static int write_all(int fd, const uint8_t *p, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int rotate(struct pt_spool *s)
{
	uint8_t hdr[PT_SPOOL_SEG_HDR_LEN];
	char name[64];
	int fd, rc;

	if (s->bytes + PT_SPOOL_SEG_HDR_LEN > s->max_bytes)
		return -ENOSPC;
	/* An older segment with this number holds no record (else next_seq would be past it).
	 * nsegs > 0 means segs is allocated:
	 * NOLINTNEXTLINE(clang-analyzer-core.NullDereference) */
	if (s->nsegs && s->segs[s->nsegs - 1].id == s->next_seq) {
		spool_seg_name(name, sizeof(name), s->next_seq);
		unlinkat(s->dirfd, name, 0);
		s->bytes -= s->segs[s->nsegs - 1].size;
		spool_seg_remove(s, s->nsegs - 1);
	}
	if (s->fd >= 0) {
		/* The old segment's frames become durable before it stops being the active one,
		 * so pt_spool_sync() only ever needs the active descriptor. */
		if (fsync(s->fd) < 0)
			log_warn("spool: fsync");
		close(s->fd);
		s->fd = -1;
	}
	spool_seg_name(name, sizeof(name), s->next_seq);
	fd = openat(s->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 && errno == EEXIST) {
		/* A file recovery refused (another stream's, or not a segment) has the name:
		 * move it aside rather than lose it or stop. */
		char aside[80];
		snprintf(aside, sizeof(aside), "%s.foreign", name);
		log_warnx("spool: %s/%s is in the way; renamed to %s", s->dir, name, aside);
		if (renameat(s->dirfd, name, s->dirfd, aside) == 0)
			fd = openat(s->dirfd, name,
				    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	}
	if (fd < 0)
		return -errno;
	spool_seg_header(hdr, s->stream_id, s->next_seq, s->ring_pos);
	if ((rc = write_all(fd, hdr, sizeof(hdr), 0)) < 0) {
		close(fd);
		unlinkat(s->dirfd, name, 0);
		return rc;
	}
	struct seg sg = { .id = s->next_seq, .size = PT_SPOOL_SEG_HDR_LEN };
	if ((rc = spool_seg_add(s, &sg)) < 0) {
		close(fd);
		unlinkat(s->dirfd, name, 0);
		return rc;
	}
	s->fd = fd;
	s->bytes += PT_SPOOL_SEG_HDR_LEN;
	s->dir_dirty = true;
	return 0;
}

/* Header fields of the frame at p, checked enough to keep the files well-formed. */
static int frame_peek(const uint8_t *p, size_t len, uint64_t *seq, uint64_t *ring, size_t *fsz)
{
	if (len < PT_SPOOL_REC_HDR_LEN || pt_be32_get(p) != REC_MAGIC)
		return -EINVAL;
	uint32_t rlen = pt_be32_get(p + 4);
	if (rlen < PT_SPOOL_REC_MIN || rlen > PT_RECORD_MAX || len - PT_SPOOL_REC_HDR_LEN < rlen)
		return -EINVAL;
	*seq = pt_be64_get(p + 8);
	*ring = pt_be64_get(p + 16);
	*fsz = PT_SPOOL_REC_HDR_LEN + rlen;
	return 0;
}

int pt_spool_append(struct pt_spool *s, const uint8_t *frames, size_t len, size_t *consumed)
{
	size_t off = 0;
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	while (off < len) {
		uint64_t seq, ring, fseq = 0, lseq = 0, mring = 0;
		size_t fsz, end = off;
		bool full = false;

		if ((rc = frame_peek(frames + off, len - off, &seq, &ring, &fsz)) < 0)
			break;
		struct seg *act = s->fd >= 0 ? &s->segs[s->nsegs - 1] : NULL;
		if (!act || act->size >= s->segment_bytes ||
		    (act->size > PT_SPOOL_SEG_HDR_LEN && act->size + fsz > s->segment_bytes)) {
			if ((rc = rotate(s)) < 0)
				break;
			act = &s->segs[s->nsegs - 1];
		}
		uint64_t expect = s->next_seq;
		while (end < len) {
			if ((rc = frame_peek(frames + end, len - end, &seq, &ring, &fsz)) < 0)
				break;
			if (seq != expect) {
				rc = -EINVAL;
				break;
			}
			size_t run = end - off;
			if (run && act->size + run + fsz > s->segment_bytes)
				break;
			if (s->bytes + run + fsz > s->max_bytes) {
				full = true;
				break;
			}
			if (!fseq)
				fseq = seq;
			lseq = seq;
			if (ring > mring)
				mring = ring;
			end += fsz;
			expect++;
		}
		if (end == off) {
			if (full)
				rc = -ENOSPC;
			break;
		}
		int wrc = write_all(s->fd, frames + off, end - off, act->size);
		if (wrc < 0) {
			/* Leave only whole frames behind: readers trust act->size, recovery the file. */
			if (ftruncate(s->fd, (off_t)act->size) < 0)
				log_warn("spool: ftruncate after failed write");
			rc = wrc;
			break;
		}
		act->size += end - off;
		s->bytes += end - off;
		if (!act->first_seq)
			act->first_seq = fseq;
		act->last_seq = lseq;
		if (mring > act->max_ring)
			act->max_ring = mring;
		if (mring > s->ring_pos)
			s->ring_pos = mring;
		s->next_seq = lseq + 1;
		off = end;
		if (rc < 0)
			break;
	}
	if (rc == -ENOSPC || rc == -EDQUOT) {
		rc = -ENOSPC;
		s->st.refused++;
	} else if (rc < 0 && rc != -EINVAL) {
		s->st.write_errors++;
	}
	*consumed = off;
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int pt_spool_sync(struct pt_spool *s)
{
	int fd = -1, rc = 0;
	bool dirty;
	uint64_t ring;

	pthread_mutex_lock(&s->lock);
	if (s->fd >= 0)
		fd = dup(s->fd);
	ring = s->ring_pos;
	dirty = s->dir_dirty;
	s->dir_dirty = false;
	pthread_mutex_unlock(&s->lock);

	if (fd >= 0 && fsync(fd) < 0)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	if (!rc && dirty && fsync(s->dirfd) < 0)
		rc = -errno;

	pthread_mutex_lock(&s->lock);
	if (rc) {
		s->dir_dirty = s->dir_dirty || dirty;
		s->st.write_errors++;
	} else if (ring > s->durable_ring) {
		s->durable_ring = ring;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}
