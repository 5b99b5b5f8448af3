/* The agent's on-disk spool: append-only segment files of framed records, with torn-tail
 * recovery, corruption skipping, an acknowledgement cursor, and a total size bound.
 * docs/spool.md is the normative description of the files; this header mirrors it.
 *
 * Directory:
 *   spool.meta                  stream id, acknowledged sequence, ring identity and offset
 *                               (rewritten by tmp + rename; the cursor lazily, see pt_spool_ack)
 *   seg-<first seq, 16 hex>.pts segments, in sequence order; the highest one is appended to
 *   anything else               foreign: logged once at open and ignored, never fatal
 *
 * Segment header (40 bytes, big-endian):
 *   0 magic "PTSG" | 4 version u32 | 8 stream id u64 | 16 first seq u64 (next seq when created)
 *   | 24 ring position u64 (highest taken when created) | 32 reserved u32 | 36 CRC32C of 0..36
 *
 * Record frame (28-byte header + the record's wire bytes):
 *   0 magic "PTR1" | 4 length u32 (8..PT_RECORD_MAX) | 8 seq u64 | 16 ring position u64
 *   | 24 CRC32C over bytes 0..24 and the record
 *
 * Recovery at open: a partial frame at the end of the newest segment is a torn write and is
 * truncated; any other frame that fails its checks (magic, length 0 or over the maximum, CRC,
 * sequence not increasing) starts a corrupt region which is skipped up to the next valid frame.
 * The sequence numbers a corrupt region swallowed ([last good + 1, next good - 1], restricted to
 * what was not yet acknowledged) are reported through pt_spool_take_losses().
 *
 * Policy at the size bound: refuse new records (pt_spool_append returns -ENOSPC); the caller
 * keeps them in memory and counts what it then drops. A full filesystem is handled the same way.
 *
 * Thread-safety: every function takes the spool's lock; one writer thread and any number of
 * reader cursors may use one spool. fsync runs outside the lock.
 *
 * Ownership: pt_spool_open() returns a spool the caller frees with pt_spool_close() (NULL-safe).
 * A cursor owns its buffer and file descriptor (pt_spool_cursor_free, NULL-safe); the record
 * returned by pt_spool_read() points into the cursor and is valid until its next use.
 */
#ifndef PROCTRAIL_SPOOL_H
#define PROCTRAIL_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PT_SPOOL_SEG_HDR_LEN     40u
#define PT_SPOOL_REC_HDR_LEN     28u
#define PT_SPOOL_REC_MIN         8u                   /* a wire record header */
#define PT_SPOOL_SEGMENT_MAX     (64ull << 20)        /* larger files are not ours */
#define PT_SPOOL_SEGMENT_DEFAULT (8ull << 20)
#define PT_SPOOL_BYTES_DEFAULT   (1ull << 30)
#define PT_SPOOL_BYTES_MIN       (128ull << 10)
#define PT_SPOOL_LOSSES_MAX      256u                 /* pending loss ranges kept; merged past it */
#define PT_SPOOL_RING_ID_LEN     20u                  /* boot id + ring map id */
#define PT_SPOOL_ACK_SYNC_DEFAULT 1000u               /* ms; see pt_spool_ack */

struct pt_spool;

struct pt_spool_opts {
	const char *dir;
	uint64_t max_bytes;       /* bound on the segments' total size; 0: default */
	uint64_t segment_bytes;   /* rotate when a segment reaches this; 0: default */
	unsigned ack_sync_ms;     /* most ms an acknowledgement waits to be saved; 0: default */
};

/* Records lost inside the spool. has_range: the lost records' sequence numbers are known. */
struct pt_spool_loss {
	uint64_t first_seq, last_seq;
	uint64_t count;
	bool has_range;
};

struct pt_spool_stats {
	uint64_t bytes;             /* segment bytes on disk */
	uint64_t segments;
	uint64_t corrupt_regions;   /* skipped at open */
	uint64_t corrupt_records;   /* sequence numbers known lost to corruption (unacked only) */
	uint64_t torn_bytes;        /* truncated at open */
	uint64_t foreign_files;
	uint64_t refused;           /* appends refused at the bound or for ENOSPC */
	uint64_t write_errors;
};

/* Opens or creates the spool in o->dir (created 0700 if missing). The directory must not be a
 * symbolic link (-ELOOP), must belong to the effective uid and must not be writable by group
 * or others (-EPERM); group/other read access is removed (docs/spool.md, "The directory").
 * Returns 0 or -errno. */
int pt_spool_open(const struct pt_spool_opts *o, struct pt_spool **out);
void pt_spool_close(struct pt_spool *s);

uint64_t pt_spool_stream_id(struct pt_spool *s);
uint64_t pt_spool_next_seq(struct pt_spool *s);     /* sequence the next record must carry */
uint64_t pt_spool_acked_seq(struct pt_spool *s);
uint64_t pt_spool_first_held(struct pt_spool *s);   /* lowest unacknowledged seq, or next_seq */
uint64_t pt_spool_ring_pos(struct pt_spool *s);     /* highest ring position ever stored */
uint64_t pt_spool_durable_ring_pos(struct pt_spool *s); /* highest one fsync'ed */
bool pt_spool_new_stream(struct pt_spool *s);       /* true when open created the stream */
void pt_spool_get_stats(struct pt_spool *s, struct pt_spool_stats *st);

/* Ring positions in the spool only grow, across kernel rings: a new ring (after a reboot or an
 * uninstall) starts again at 0, so its positions are stored plus an offset. Given the identity
 * of the ring the sensor uses, sets *offset to add to its positions. Returns 0 when it is the
 * ring the spool last saw (nothing of it to skip beyond pt_spool_ring_pos() - offset), 1 when
 * it is another one (the offset moved past everything stored, which is then saved), -errno. */
int pt_spool_ring_epoch(struct pt_spool *s, const uint8_t id[PT_SPOOL_RING_ID_LEN],
			uint64_t *offset);

/* Moves up to max pending losses into out; returns how many. */
size_t pt_spool_take_losses(struct pt_spool *s, struct pt_spool_loss *out, size_t max);
size_t pt_spool_losses_pending(struct pt_spool *s);   /* how many are left to take */

/* Writes a frame header for rec into hdr (rec follows it in the caller's buffer). */
void pt_spool_frame_header(uint8_t hdr[PT_SPOOL_REC_HDR_LEN], uint64_t seq, uint64_t ring_pos,
			   const uint8_t *rec, uint32_t len);

/* Appends whole frames (concatenated, as built with pt_spool_frame_header; their sequence
 * numbers must continue from pt_spool_next_seq()). Takes as many whole frames as the bound and
 * the filesystem allow and sets *consumed to their bytes. Returns 0 when everything was taken,
 * -ENOSPC when the bound or the filesystem refused the rest, -EINVAL for a malformed or
 * out-of-order frame, other -errno on I/O errors (nothing partial is left in the file). */
int pt_spool_append(struct pt_spool *s, const uint8_t *frames, size_t len, size_t *consumed);

/* Group commit: fsyncs what was appended so far (and the directory after a rotation). */
int pt_spool_sync(struct pt_spool *s);

/* Everything <= seq is acknowledged: deletes the segments whose records are all acknowledged.
 * The cursor is saved (spool.meta, fsync'ed) before any segment is deleted, at most every
 * ack_sync_ms otherwise, and at close. So the saved cursor may lag the real one (after a crash
 * acknowledged records are sent again and the collector deduplicates them), but it never
 * points past an unacknowledged record nor, unless the write failed, before a deleted segment.
 * Returns 0 or the meta write's -errno (the segments are deleted all the same). */
int pt_spool_ack(struct pt_spool *s, uint64_t seq);

/* ---- Reading ---- */
struct pt_spool_cursor {
	uint64_t seg_id;          /* segment being read (its file name's number) */
	uint64_t off;             /* next frame offset in it */
	uint64_t from_seq;        /* records below this are skipped */
	int fd;
	uint64_t fd_seg;
	uint8_t *buf;
	size_t cap, buf_len;
	uint64_t buf_off;         /* file offset of buf[0] */
	uint64_t buf_seg;
};

struct pt_spool_item {
	uint64_t seq, ring_pos;
	const uint8_t *rec;
	uint32_t len;
};

int pt_spool_cursor_init(struct pt_spool_cursor *c);
void pt_spool_cursor_free(struct pt_spool_cursor *c);
/* Positions the cursor at the first record with seq >= from_seq. */
void pt_spool_cursor_seek(struct pt_spool_cursor *c, uint64_t from_seq);
/* Next stored record: 1 with *it filled, 0 when there is none yet, -errno. */
int pt_spool_read(struct pt_spool *s, struct pt_spool_cursor *c, struct pt_spool_item *it);

/* For the fuzz harness and the scanner: classifies the frame at buf[0..len). Returns
 * PT_SPOOL_FRAME_OK with *item filled, _SHORT when more bytes are needed (header valid so far),
 * or _BAD. */
enum { PT_SPOOL_FRAME_OK = 0, PT_SPOOL_FRAME_SHORT = 1, PT_SPOOL_FRAME_BAD = 2 };
int pt_spool_frame_parse(const uint8_t *buf, size_t len, struct pt_spool_item *item);

#endif
