/* Internals shared by the spool's files. Not installed; see include/proctrail/spool.h. */
#ifndef PROCTRAIL_SPOOL_INT_H
#define PROCTRAIL_SPOOL_INT_H

#include <limits.h>
#include <pthread.h>

#include "proctrail/spool.h"

#define SEG_MAGIC   0x50545347u   /* "PTSG" */
#define REC_MAGIC   0x50545231u   /* "PTR1" */
#define META_MAGIC  0x5054534du   /* "PTSM" */
#define SPOOL_VERSION 1u
#define META_LEN    60u
#define META_NAME   "spool.meta"
#define META_TMP    "spool.meta.tmp"
#define SPOOL_DIR_MODE 0700u    /* the only mode the spool directory keeps */

struct seg {
	uint64_t id;          /* number in the file name: the first seq when it was created */
	uint64_t size;        /* bytes of whole frames (what readers may read) */
	uint64_t first_seq;   /* lowest good record, 0 when none */
	uint64_t last_seq;    /* highest good record, 0 when none */
	uint64_t max_ring;
};

struct pt_spool {
	pthread_mutex_t lock;
	int dirfd;
	char dir[PATH_MAX];
	uint64_t max_bytes, segment_bytes;
	uint64_t stream_id, next_seq, acked_seq, meta_acked;
	unsigned ack_sync_ms;
	uint64_t meta_ms;     /* CLOCK_MONOTONIC ms of the last spool.meta write */
	uint64_t ring_pos, durable_ring;
	uint8_t ring_id[PT_SPOOL_RING_ID_LEN];   /* which kernel ring the positions come from */
	uint64_t ring_offset;                    /* added to that ring's positions */
	bool new_stream;
	struct seg *segs;     /* sorted by id; the last one is the active segment when fd >= 0 */
	size_t nsegs, segcap;
	int fd;               /* active segment, -1 until the first append */
	bool dir_dirty;       /* a segment was created since the last directory fsync */
	uint64_t bytes;
	struct pt_spool_stats st;
	struct pt_spool_loss losses[PT_SPOOL_LOSSES_MAX];
	size_t nlosses;
};

/* Creates (SPOOL_DIR_MODE) or opens dir, refusing a symbolic link (-ELOOP), a directory of
 * another owner than the effective uid or one writable by group or others (-EPERM); closes
 * group/other read access. Sets *dirfd (the caller closes it). Logs why it refused. */
int spool_dir_open(const char *dir, int *dirfd);
void spool_seg_name(char *out, size_t outlen, uint64_t id);
int spool_seg_parse_name(const char *name, uint64_t *id);
int spool_meta_read(struct pt_spool *s, uint64_t *stream_id, uint64_t *acked,
		    uint8_t ring_id[PT_SPOOL_RING_ID_LEN], uint64_t *ring_offset);
int spool_meta_write(struct pt_spool *s);
void spool_seg_header(uint8_t hdr[PT_SPOOL_SEG_HDR_LEN], uint64_t stream_id, uint64_t first_seq,
		      uint64_t ring_pos);
/* 0 when valid, with its fields; -EBADMSG otherwise. */
int spool_seg_header_check(const uint8_t *hdr, size_t len, uint64_t *stream_id,
			   uint64_t *first_seq, uint64_t *ring_pos);
/* Offset of the next valid frame at or after from, or -1. */
long long spool_resync(const uint8_t *buf, size_t len, size_t from, uint64_t min_seq);
void spool_add_loss(struct pt_spool *s, uint64_t first, uint64_t last, uint64_t count,
		    bool has_range);
int spool_scan(struct pt_spool *s);
int spool_seg_add(struct pt_spool *s, const struct seg *sg);
void spool_seg_remove(struct pt_spool *s, size_t i);

#endif
