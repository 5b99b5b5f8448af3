/* spool.meta: the stream id, the acknowledged-sequence cursor, and which kernel ring the
 * spooled ring positions belong to.
 *
 * Rewritten whole (tmp, fsync, rename) so a crash leaves either the old or the new cursor.
 * Each rewrite makes a new inode and fsyncs it, the costliest thing delivery did per ACK, so
 * pt_spool_ack() saves the cursor only when it must (before deleting segments) or now and then.
 * The directory is not fsync'ed for it: losing the newest cursor only means acknowledged
 * records are sent again, and the collector deduplicates them. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proctrail/clock.h"
#include "proctrail/crc32c.h"
#include "proctrail/log.h"
#include "proctrail/wire.h"
#include "spool-int.h"

int spool_meta_read(struct pt_spool *s, uint64_t *stream_id, uint64_t *acked,
		    uint8_t ring_id[PT_SPOOL_RING_ID_LEN], uint64_t *ring_offset)
{
	uint8_t b[META_LEN + 1];
	int fd, rc;
	ssize_t n;

	fd = openat(s->dirfd, META_NAME, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	n = pread(fd, b, sizeof(b), 0);
	if (n < 0) {
		rc = -errno;
		goto cleanup;
	}
	if (n != META_LEN || pt_be32_get(b) != META_MAGIC || pt_be32_get(b + 4) != SPOOL_VERSION ||
	    pt_crc32c(0, b, META_LEN - 4) != pt_be32_get(b + META_LEN - 4)) {
		rc = -EBADMSG;
		goto cleanup;
	}
	*stream_id = pt_be64_get(b + 8);
	*acked = pt_be64_get(b + 16);
	memcpy(ring_id, b + 24, PT_SPOOL_RING_ID_LEN);
	*ring_offset = pt_be64_get(b + 48);
	rc = 0;
cleanup:
	close(fd);
	return rc;
}


int spool_meta_write(struct pt_spool *s)
{
	uint8_t b[META_LEN];
	int fd, rc = 0;

	pt_be32_put(b, META_MAGIC);
	pt_be32_put(b + 4, SPOOL_VERSION);
	pt_be64_put(b + 8, s->stream_id);
	pt_be64_put(b + 16, s->acked_seq);
	memcpy(b + 24, s->ring_id, PT_SPOOL_RING_ID_LEN);
	pt_be32_put(b + 44, 0);
	pt_be64_put(b + 48, s->ring_offset);
	pt_be32_put(b + META_LEN - 4, pt_crc32c(0, b, META_LEN - 4));

	fd = openat(s->dirfd, META_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (pwrite(fd, b, sizeof(b), 0) != (ssize_t)sizeof(b) || fsync(fd) < 0)
		rc = errno ? -errno : -EIO;
	if (close(fd) < 0 && !rc)
		rc = -errno;
	if (!rc && renameat(s->dirfd, META_TMP, s->dirfd, META_NAME) < 0)
		rc = -errno;
	if (rc) {
		unlinkat(s->dirfd, META_TMP, 0);
		return rc;
	}
	s->meta_acked = s->acked_seq;
	s->meta_ms = pt_mono_ms();
	return 0;
}
