/* Reading the spool back: a cursor walks the segments in order, through a window buffer,
 * skipping corrupt regions the same way recovery does. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proctrail/log.h"
#include "proctrail/wire.h"
#include "spool-int.h"

#define WINDOW (256u << 10)   /* holds any whole frame (PT_RECORD_MAX + header) */

int pt_spool_cursor_init(struct pt_spool_cursor *c)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->from_seq = 1;
	c->buf = malloc(WINDOW);
	if (!c->buf)
		return -ENOMEM;
	c->cap = WINDOW;
	return 0;
}

void pt_spool_cursor_free(struct pt_spool_cursor *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	c->buf = NULL;
	c->fd = -1;
}

void pt_spool_cursor_seek(struct pt_spool_cursor *c, uint64_t from_seq)
{
	c->seg_id = 0;
	c->off = 0;
	c->from_seq = from_seq ? from_seq : 1;
	c->buf_len = 0;
}

/* Makes buf hold [off, off + want) of the segment, or as much of it as exists below limit. */
static int window(struct pt_spool *s, struct pt_spool_cursor *c, const struct seg *sg,
		  uint64_t off, size_t want, uint64_t limit)
{
	if (c->buf_seg == sg->id && c->buf_len && off >= c->buf_off &&
	    off + want <= c->buf_off + c->buf_len)
		return 0;
	if (c->fd < 0 || c->fd_seg != sg->id) {
		char name[64];
		if (c->fd >= 0)
			close(c->fd);
		spool_seg_name(name, sizeof(name), sg->id);
		c->fd = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (c->fd < 0)
			return -errno;
		c->fd_seg = sg->id;
	}
	size_t n = limit - off < c->cap ? (size_t)(limit - off) : c->cap;
	size_t got = 0;
	while (got < n) {
		ssize_t r = pread(c->fd, c->buf + got, n - got, (off_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	c->buf_seg = sg->id;
	c->buf_off = off;
	c->buf_len = got;
	return 0;
}

/* Moves on to the segment after sg, from its start. A segment is named by its first seq, so
 * the next one may be numbered sg->id + 1 (sg held one record): the offset reached in sg must
 * not carry over into it, or its first records are skipped. */
static void next_segment(struct pt_spool_cursor *c, const struct seg *sg)
{
	c->seg_id = sg->id + 1;
	c->off = 0;
}

int pt_spool_read(struct pt_spool *s, struct pt_spool_cursor *c, struct pt_spool_item *it)
{
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		const struct seg *sg = NULL;
		size_t idx;
		for (idx = 0; idx < s->nsegs; idx++) {
			if (s->segs[idx].id >= c->seg_id) {
				sg = &s->segs[idx];
				break;
			}
		}
		if (!sg)
			break;
		if (sg->id != c->seg_id || c->off < PT_SPOOL_SEG_HDR_LEN) {
			c->seg_id = sg->id;
			c->off = PT_SPOOL_SEG_HDR_LEN;
		}
		/* Whole segments below the wanted sequence are skipped without reading them. */
		if (sg->last_seq && sg->last_seq < c->from_seq && idx + 1 < s->nsegs) {
			next_segment(c, sg);
			continue;
		}
		if (c->off >= sg->size) {
			if (idx + 1 == s->nsegs)
				break;
			next_segment(c, sg);
			continue;
		}
		uint64_t left = sg->size - c->off;
		rc = window(s, c, sg, c->off, left < PT_SPOOL_REC_HDR_LEN ? left : PT_SPOOL_REC_HDR_LEN,
			    sg->size);
		if (rc < 0)
			break;
		const uint8_t *p = c->buf + (c->off - c->buf_off);
		size_t avail = c->buf_len - (size_t)(c->off - c->buf_off);
		if (avail >= 8 && pt_be32_get(p) == REC_MAGIC) {
			uint64_t need = PT_SPOOL_REC_HDR_LEN + (uint64_t)pt_be32_get(p + 4);
			if (need <= PT_SPOOL_REC_HDR_LEN + PT_RECORD_MAX && need <= left && need > avail) {
				if ((rc = window(s, c, sg, c->off, need, sg->size)) < 0)
					break;
				p = c->buf + (c->off - c->buf_off);
				avail = c->buf_len - (size_t)(c->off - c->buf_off);
			}
		}
		int r = pt_spool_frame_parse(p, avail, it);
		if (r == PT_SPOOL_FRAME_OK) {
			c->off += PT_SPOOL_REC_HDR_LEN + it->len;
			if (it->seq < c->from_seq)
				continue;
			c->from_seq = it->seq + 1;
			rc = 1;
			break;
		}
		/* Corrupt (already reported by recovery): look for the next frame in this window,
		 * else move the window on. */
		long long nxt = spool_resync(p, avail, 1, c->from_seq);
		if (nxt >= 0)
			c->off += (uint64_t)nxt;
		else if (c->off + avail >= sg->size)
			c->off = sg->size;
		else
			c->off += avail > 3 ? avail - 3 : 1;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}
