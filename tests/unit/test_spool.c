/* lib/spool: round trip, restart, acknowledgement and segment deletion, torn tail, corruption
 * of every kind, foreign files, the size bound, the directory's owner, mode and link checks.
 * Real files in a temporary directory. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "fixture.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proctrail/spool.h"
#include "proctrail/wire.h"

struct fx {
	char dir[PT_TMPDIR_LEN];
};

PT_TMPDIR_FIXTURE(struct fx, "test_spool")

/* Payload of record `seq`: recognisable bytes, length varying with seq. */
static size_t payload(uint64_t seq, uint8_t *out)
{
	size_t len = 8 + (seq * 37) % 300;
	for (size_t i = 0; i < len; i++)
		out[i] = (uint8_t)(seq * 7 + i);
	pt_be64_put(out, seq);
	return len;
}

static size_t frame(uint8_t *out, uint64_t seq)
{
	size_t len = payload(seq, out + PT_SPOOL_REC_HDR_LEN);
	pt_spool_frame_header(out, seq, seq * 100, out + PT_SPOOL_REC_HDR_LEN, (uint32_t)len);
	return PT_SPOOL_REC_HDR_LEN + len;
}

static struct pt_spool *open_spool(const char *dir, uint64_t max, uint64_t segsz)
{
	struct pt_spool_opts o = { .dir = dir, .max_bytes = max, .segment_bytes = segsz };
	struct pt_spool *s = NULL;
	assert_int_equal(pt_spool_open(&o, &s), 0);
	assert_non_null(s);
	return s;
}

/* Appends records seq..seq+n-1 one call at a time. Returns how many were taken. */
static uint64_t append_n(struct pt_spool *s, uint64_t seq, uint64_t n)
{
	uint8_t buf[1024];
	uint64_t i;
	for (i = 0; i < n; i++) {
		size_t len = frame(buf, seq + i), used = 0;
		int rc = pt_spool_append(s, buf, len, &used);
		if (rc == -ENOSPC) {
			assert_int_equal(used, 0);
			break;
		}
		assert_int_equal(rc, 0);
		assert_int_equal(used, len);
	}
	return i;
}

/* Reads everything from seq `from` and checks each record's bytes; returns the seqs seen. */
static size_t read_all(struct pt_spool *s, uint64_t from, uint64_t *seqs, size_t max)
{
	struct pt_spool_cursor c;
	struct pt_spool_item it;
	uint8_t want[1024];
	size_t n = 0;
	int rc;

	assert_int_equal(pt_spool_cursor_init(&c), 0);
	pt_spool_cursor_seek(&c, from);
	while ((rc = pt_spool_read(s, &c, &it)) == 1) {
		size_t len = payload(it.seq, want);
		assert_int_equal(it.len, len);
		assert_memory_equal(it.rec, want, len);
		assert_int_equal(it.ring_pos, it.seq * 100);
		assert_true(n < max);
		seqs[n++] = it.seq;
	}
	assert_int_equal(rc, 0);
	pt_spool_cursor_free(&c);
	return n;
}

static int count_segments(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;
	while ((de = readdir(d)))
		n += !strncmp(de->d_name, "seg-", 4);
	closedir(d);
	return n;
}

/* Path of the newest (or oldest) segment. */
static void seg_path(const char *dir, bool newest, char *out, size_t outlen)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char best[300] = "";
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "seg-", 4))
			continue;
		if (!best[0] || (newest ? strcmp(de->d_name, best) > 0 : strcmp(de->d_name, best) < 0))
			snprintf(best, sizeof(best), "%s", de->d_name);
	}
	closedir(d);
	assert_true(best[0] != 0);
	snprintf(out, outlen, "%s/%s", dir, best);
}

/* File offset of record `seq` inside segment file path. */
static off_t record_offset(const char *path, uint64_t seq)
{
	uint8_t buf[1 << 16];
	int fd = open(path, O_RDONLY);
	ssize_t n = read(fd, buf, sizeof(buf));
	close(fd);
	size_t off = PT_SPOOL_SEG_HDR_LEN;
	while (off + PT_SPOOL_REC_HDR_LEN <= (size_t)n) {
		if (pt_be64_get(buf + off + 8) == seq)
			return (off_t)off;
		off += PT_SPOOL_REC_HDR_LEN + pt_be32_get(buf + off + 4);
	}
	fail_msg("record %llu not found", (unsigned long long)seq);
	return -1;
}

static void patch(const char *path, off_t off, const void *bytes, size_t len)
{
	int fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, bytes, len, off), (ssize_t)len);
	close(fd);
}

static void test_roundtrip_and_restart(void **state)
{
	struct fx *f = *state;
	uint64_t seqs[200];
	struct pt_spool *s = open_spool(f->dir, 0, 0);
	assert_true(pt_spool_new_stream(s));
	uint64_t stream = pt_spool_stream_id(s);
	assert_int_not_equal(stream, 0);
	assert_int_equal(pt_spool_next_seq(s), 1);
	assert_int_equal(append_n(s, 1, 100), 100);
	assert_int_equal(pt_spool_next_seq(s), 101);
	assert_int_equal(pt_spool_ring_pos(s), 10000);
	assert_int_equal(pt_spool_sync(s), 0);
	assert_int_equal(pt_spool_durable_ring_pos(s), 10000);
	assert_int_equal(read_all(s, 1, seqs, 200), 100);
	for (int i = 0; i < 100; i++)
		assert_int_equal(seqs[i], i + 1);
	assert_int_equal(read_all(s, 51, seqs, 200), 50);
	assert_int_equal(seqs[0], 51);

	/* A frame whose sequence does not continue is refused. */
	uint8_t buf[1024];
	size_t used, len = frame(buf, 105);
	assert_int_equal(pt_spool_append(s, buf, len, &used), -EINVAL);
	assert_int_equal(used, 0);
	pt_spool_close(s);

	s = open_spool(f->dir, 0, 0);
	assert_false(pt_spool_new_stream(s));
	assert_int_equal(pt_spool_stream_id(s), stream);
	assert_int_equal(pt_spool_next_seq(s), 101);
	assert_int_equal(pt_spool_ring_pos(s), 10000);
	assert_int_equal(pt_spool_acked_seq(s), 0);
	assert_int_equal(pt_spool_first_held(s), 1);
	struct pt_spool_loss l;
	assert_int_equal(pt_spool_take_losses(s, &l, 1), 0);
	assert_int_equal(append_n(s, 101, 10), 10);
	assert_int_equal(read_all(s, 1, seqs, 200), 110);
	pt_spool_close(s);
}

/* The acknowledged seq spool.meta holds on disk now (what a kill -9 would leave). */
static uint64_t meta_acked_on_disk(const char *dir)
{
	char path[128];
	uint8_t b[60];
	snprintf(path, sizeof(path), "%s/spool.meta", dir);
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, b, sizeof(b), 0), (ssize_t)sizeof(b));
	close(fd);
	return pt_be64_get(b + 16);
}

/* The cursor is saved lazily, but always before a segment it covers is deleted, and never past
 * what was acknowledged. */
static void test_ack_saved_lazily(void **state)
{
	struct fx *f = *state;
	struct pt_spool_opts o = { .dir = f->dir, .segment_bytes = 4096, .ack_sync_ms = 3600000 };
	struct pt_spool *s = NULL;
	uint64_t seqs[2000];

	assert_int_equal(pt_spool_open(&o, &s), 0);
	assert_int_equal(append_n(s, 1, 1000), 1000);
	int before = count_segments(f->dir);
	assert_true(before > 20);

	/* Inside the first segment: nothing to delete, nothing written. */
	assert_int_equal(pt_spool_ack(s, 2), 0);
	assert_int_equal(pt_spool_acked_seq(s), 2);
	assert_int_equal(meta_acked_on_disk(f->dir), 0);
	assert_int_equal(count_segments(f->dir), before);

	/* Past whole segments: they go, and the cursor on disk covers them first. */
	assert_int_equal(pt_spool_ack(s, 500), 0);
	assert_int_equal(meta_acked_on_disk(f->dir), 500);
	assert_true(count_segments(f->dir) < before);
	uint64_t first = pt_spool_first_held(s);
	assert_true(first <= 501);

	/* A little more, within the segment now first: lazy again. */
	uint64_t more = first + 1 < 1000 ? first + 1 : 1000;
	int mid = count_segments(f->dir);
	assert_int_equal(pt_spool_ack(s, more), 0);
	if (count_segments(f->dir) == mid)
		assert_int_equal(meta_acked_on_disk(f->dir), 500);

	/* A crash now: the restart resends from the saved cursor, nothing unacknowledged is
	 * missing and no loss is reported. */
	char cp[256];
	snprintf(cp, sizeof(cp), "cp -a %s %s.crash", f->dir, f->dir);
	assert_int_equal(system(cp), 0);
	pt_spool_close(s);
	assert_int_equal(meta_acked_on_disk(f->dir), more);   /* close saves it */

	char crash[80];
	snprintf(crash, sizeof(crash), "%s.crash", f->dir);
	struct pt_spool_opts oc = { .dir = crash, .segment_bytes = 4096 };
	assert_int_equal(pt_spool_open(&oc, &s), 0);
	assert_int_equal(pt_spool_acked_seq(s), 500);
	struct pt_spool_loss l;
	assert_int_equal(pt_spool_take_losses(s, &l, 1), 0);
	size_t n = read_all(s, 501, seqs, 2000);
	assert_int_equal(n, 500);
	assert_int_equal(seqs[0], 501);
	pt_spool_close(s);
	assert_int_equal(pt_tmpdir_remove(crash), 0);

	/* With a short interval every ACK is saved once the interval has passed. */
	o.ack_sync_ms = 1;
	assert_int_equal(pt_spool_open(&o, &s), 0);
	usleep(5000);
	assert_int_equal(pt_spool_ack(s, more + 1), 0);
	assert_int_equal(meta_acked_on_disk(f->dir), more + 1);
	pt_spool_close(s);
}

static void test_ack_deletes_segments(void **state)
{
	struct fx *f = *state;
	uint64_t seqs[2000];
	struct pt_spool *s = open_spool(f->dir, 0, 4096);
	assert_int_equal(append_n(s, 1, 1000), 1000);
	int before = count_segments(f->dir);
	assert_true(before > 20);
	struct pt_spool_stats st;
	pt_spool_get_stats(s, &st);
	assert_int_equal(st.segments, (uint64_t)before);

	assert_int_equal(pt_spool_ack(s, 500), 0);
	assert_int_equal(pt_spool_acked_seq(s), 500);
	int mid = count_segments(f->dir);
	assert_true(mid < before && mid > 1);
	assert_true(pt_spool_first_held(s) <= 501);
	/* A reader from the cursor sees exactly the unacknowledged records. */
	assert_int_equal(read_all(s, 501, seqs, 2000), 500);
	assert_int_equal(seqs[0], 501);

	/* Acknowledging beyond what exists is clamped. */
	assert_int_equal(pt_spool_ack(s, 5000), 0);
	assert_int_equal(pt_spool_acked_seq(s), 1000);
	assert_int_equal(count_segments(f->dir), 1);   /* the newest always stays */
	pt_spool_close(s);

	/* The cursor survives a restart; the stream and the numbering go on. */
	s = open_spool(f->dir, 0, 4096);
	assert_int_equal(pt_spool_acked_seq(s), 1000);
	assert_int_equal(pt_spool_next_seq(s), 1001);
	assert_int_equal(pt_spool_ring_pos(s), 100000);
	assert_int_equal(pt_spool_first_held(s), 1001);
	assert_int_equal(append_n(s, 1001, 5), 5);
	assert_int_equal(read_all(s, pt_spool_acked_seq(s) + 1, seqs, 2000), 5);
	pt_spool_close(s);
}

/* Appends record seq with a payload of len bytes (its first 8 bytes are seq). */
static void append_sized(struct pt_spool *s, uint64_t seq, size_t len)
{
	uint8_t buf[PT_SPOOL_REC_HDR_LEN + 4096];
	size_t used = 0;

	assert_true(len >= 8 && len <= 4096);
	memset(buf + PT_SPOOL_REC_HDR_LEN, (int)(seq & 0xff), len);
	pt_be64_put(buf + PT_SPOOL_REC_HDR_LEN, seq);
	pt_spool_frame_header(buf, seq, seq * 100, buf + PT_SPOOL_REC_HDR_LEN, (uint32_t)len);
	assert_int_equal(pt_spool_append(s, buf, PT_SPOOL_REC_HDR_LEN + len, &used), 0);
	assert_int_equal(used, PT_SPOOL_REC_HDR_LEN + len);
}

/* A segment is named by its first seq, so a segment of one record is followed by one whose
 * number is one higher. The reader moving on from the first must start the second at its
 * beginning, not at the offset where the first ended: it skipped the second's first records,
 * and the collector saw an unexplained gap (delivery_spool_full, after a spool-full phase). */
static void test_one_record_segments(void **state)
{
	struct fx *f = *state;
	struct pt_spool *s = open_spool(f->dir, 0, 4096);
	struct pt_spool_cursor live, fresh;
	struct pt_spool_item it;
	uint64_t seq, want = 1;
	int rc;

	assert_int_equal(pt_spool_cursor_init(&live), 0);
	pt_spool_cursor_seek(&live, 1);
	/* 3,000 bytes: no second one fits in a 4,096-byte segment */
	for (seq = 1; seq <= 6; seq++) {
		append_sized(s, seq, 3000);
		/* a reader that already reached the end of the last segment, as the uplink has */
		assert_int_equal(pt_spool_read(s, &live, &it), 1);
		assert_int_equal(it.seq, seq);
		assert_int_equal(pt_be64_get(it.rec), seq);
		assert_int_equal(pt_spool_read(s, &live, &it), 0);
	}
	assert_int_equal(count_segments(f->dir), 6);
	/* small records behind the last big one share its segment */
	append_sized(s, 7, 100);
	append_sized(s, 8, 100);
	for (seq = 7; seq <= 8; seq++) {
		assert_int_equal(pt_spool_read(s, &live, &it), 1);
		assert_int_equal(it.seq, seq);
	}
	pt_spool_cursor_free(&live);

	/* a reader that finds them all there at once */
	assert_int_equal(pt_spool_cursor_init(&fresh), 0);
	pt_spool_cursor_seek(&fresh, 1);
	while ((rc = pt_spool_read(s, &fresh, &it)) == 1) {
		assert_int_equal(it.seq, want);
		want++;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(want, 9);
	pt_spool_cursor_free(&fresh);
	pt_spool_close(s);
}

static void test_torn_tail_truncated(void **state)
{
	struct fx *f = *state;
	uint64_t seqs[100];
	char path[256];
	uint8_t buf[1024];
	struct pt_spool *s = open_spool(f->dir, 0, 0);
	assert_int_equal(append_n(s, 1, 20), 20);
	pt_spool_close(s);

	/* Half of frame 21 at the end, as a crash in the middle of a write leaves it. */
	seg_path(f->dir, true, path, sizeof(path));
	struct stat st0;
	assert_int_equal(stat(path, &st0), 0);
	size_t len = frame(buf, 21);
	patch(path, st0.st_size, buf, len / 2);

	s = open_spool(f->dir, 0, 0);
	struct pt_spool_stats st;
	pt_spool_get_stats(s, &st);
	assert_int_equal(st.torn_bytes, len / 2);
	assert_int_equal(st.corrupt_regions, 0);
	struct pt_spool_loss l;
	assert_int_equal(pt_spool_take_losses(s, &l, 1), 0);   /* never sequenced durably */
	assert_int_equal(pt_spool_next_seq(s), 21);
	struct stat st1;
	assert_int_equal(stat(path, &st1), 0);
	assert_int_equal(st1.st_size, st0.st_size);
	assert_int_equal(append_n(s, 21, 5), 5);
	assert_int_equal(read_all(s, 1, seqs, 100), 25);
	pt_spool_close(s);
}

/* Damages record 10 of 20 with `how`, reopens, and checks the rest is delivered and exactly
 * seq 10 is reported lost. */
static void corrupt_one(struct fx *f, int how)
{
	uint64_t seqs[100];
	char path[256];
	struct pt_spool *s = open_spool(f->dir, 0, 0);
	assert_int_equal(append_n(s, 1, 20), 20);
	pt_spool_close(s);
	seg_path(f->dir, true, path, sizeof(path));
	off_t off = record_offset(path, 10);
	uint8_t b[4];
	switch (how) {
	case 0: /* flipped bit in the record */
		b[0] = 0x40;
		{
			int fd = open(path, O_RDWR);
			uint8_t x;
			assert_int_equal(pread(fd, &x, 1, off + PT_SPOOL_REC_HDR_LEN + 3), 1);
			x ^= b[0];
			assert_int_equal(pwrite(fd, &x, 1, off + PT_SPOOL_REC_HDR_LEN + 3), 1);
			close(fd);
		}
		break;
	case 1: /* zero length */
		pt_be32_put(b, 0);
		patch(path, off + 4, b, 4);
		break;
	case 2: /* absurd length */
		pt_be32_put(b, 0x7fffffffu);
		patch(path, off + 4, b, 4);
		break;
	case 3: /* flipped bit in the header's magic */
		b[0] = 'X';
		patch(path, off, b, 1);
		break;
	}
	s = open_spool(f->dir, 0, 0);
	struct pt_spool_stats st;
	pt_spool_get_stats(s, &st);
	assert_int_equal(st.corrupt_regions, 1);
	assert_int_equal(st.corrupt_records, 1);
	struct pt_spool_loss l[4];
	assert_int_equal(pt_spool_take_losses(s, l, 4), 1);
	assert_true(l[0].has_range);
	assert_int_equal(l[0].first_seq, 10);
	assert_int_equal(l[0].last_seq, 10);
	assert_int_equal(l[0].count, 1);
	assert_int_equal(pt_spool_take_losses(s, l, 4), 0);   /* taken once */
	assert_int_equal(pt_spool_next_seq(s), 21);
	size_t n = read_all(s, 1, seqs, 100);
	assert_int_equal(n, 19);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(seqs[i], i < 9 ? i + 1 : i + 2);
	/* Appending after a corrupt region still works and is read back. */
	assert_int_equal(append_n(s, 21, 3), 3);
	assert_int_equal(read_all(s, 1, seqs, 100), 22);
	pt_spool_close(s);
}

static void test_corrupt_bitflip(void **state) { corrupt_one(*state, 0); }
static void test_corrupt_zero_length(void **state) { corrupt_one(*state, 1); }
static void test_corrupt_absurd_length(void **state) { corrupt_one(*state, 2); }
static void test_corrupt_magic(void **state) { corrupt_one(*state, 3); }

/* The last record damaged (a whole frame, bad CRC): it is a loss, not a torn tail. */
static void test_corrupt_last_record(void **state)
{
	struct fx *f = *state;
	char path[256];
	uint64_t seqs[100];
	struct pt_spool *s = open_spool(f->dir, 0, 0);
	assert_int_equal(append_n(s, 1, 20), 20);
	pt_spool_close(s);
	seg_path(f->dir, true, path, sizeof(path));
	off_t off = record_offset(path, 20);
	uint8_t x = 0xee;
	patch(path, off + PT_SPOOL_REC_HDR_LEN + 1, &x, 1);
	s = open_spool(f->dir, 0, 0);
	struct pt_spool_loss l[2];
	assert_int_equal(pt_spool_take_losses(s, l, 2), 1);
	assert_true(l[0].has_range);
	assert_int_equal(l[0].first_seq, 20);
	assert_int_equal(l[0].last_seq, 20);
	assert_int_equal(pt_spool_next_seq(s), 21);   /* 20 is not given to another record */
	assert_int_equal(read_all(s, 1, seqs, 100), 19);
	pt_spool_close(s);
}

/* Corruption in records the collector already acknowledged is not a loss. */
static void test_corrupt_acked_not_reported(void **state)
{
	struct fx *f = *state;
	char path[256];
	struct pt_spool *s = open_spool(f->dir, 0, 0);
	assert_int_equal(append_n(s, 1, 20), 20);
	assert_int_equal(pt_spool_ack(s, 15), 0);
	pt_spool_close(s);
	seg_path(f->dir, true, path, sizeof(path));
	uint8_t x = 0;
	patch(path, record_offset(path, 5) + 4, &x, 1);
	s = open_spool(f->dir, 0, 0);
	struct pt_spool_loss l[2];
	assert_int_equal(pt_spool_take_losses(s, l, 2), 0);
	assert_int_equal(pt_spool_first_held(s), 16);
	pt_spool_close(s);
}

static void test_foreign_files_ignored(void **state)
{
	struct fx *f = *state;
	char path[256];
	uint64_t seqs[100];
	struct pt_spool *s = open_spool(f->dir, 0, 0);
	assert_int_equal(append_n(s, 1, 10), 10);
	pt_spool_close(s);
	snprintf(path, sizeof(path), "%s/notes.txt", f->dir);
	FILE *fp = fopen(path, "w");
	fputs("hello\n", fp);
	fclose(fp);
	snprintf(path, sizeof(path), "%s/seg-zzzz.pts", f->dir);
	fp = fopen(path, "w");
	fclose(fp);
	snprintf(path, sizeof(path), "%s/subdir", f->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	/* a segment's name in the wrong case is not that segment */
	snprintf(path, sizeof(path), "%s/seg-00000000000000AB.pts", f->dir);
	fp = fopen(path, "w");
	fclose(fp);
	s = open_spool(f->dir, 0, 0);
	struct pt_spool_stats st;
	pt_spool_get_stats(s, &st);
	assert_int_equal(st.foreign_files, 4);
	assert_int_equal(read_all(s, 1, seqs, 100), 10);
	assert_int_equal(append_n(s, 11, 1), 1);
	pt_spool_close(s);
	/* Untouched. */
	snprintf(path, sizeof(path), "%s/notes.txt", f->dir);
	assert_int_equal(access(path, F_OK), 0);
}

static void test_meta_lost_keeps_stream(void **state)
{
	struct fx *f = *state;
	char path[256];
	struct pt_spool *s = open_spool(f->dir, 0, 0);
	uint64_t stream = pt_spool_stream_id(s);
	assert_int_equal(append_n(s, 1, 10), 10);
	assert_int_equal(pt_spool_ack(s, 4), 0);
	pt_spool_close(s);
	snprintf(path, sizeof(path), "%s/spool.meta", f->dir);
	assert_int_equal(unlink(path), 0);
	s = open_spool(f->dir, 0, 0);
	assert_false(pt_spool_new_stream(s));
	assert_int_equal(pt_spool_stream_id(s), stream);
	assert_int_equal(pt_spool_acked_seq(s), 0);   /* resent; the collector deduplicates */
	assert_int_equal(pt_spool_next_seq(s), 11);
	pt_spool_close(s);

	/* Everything lost: a new stream, numbered from 1 again. */
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -f %s/*", f->dir);
	assert_int_equal(system(cmd), 0);
	s = open_spool(f->dir, 0, 0);
	assert_true(pt_spool_new_stream(s));
	assert_int_not_equal(pt_spool_stream_id(s), stream);
	assert_int_equal(pt_spool_next_seq(s), 1);
	pt_spool_close(s);
}

static void test_size_bound(void **state)
{
	struct fx *f = *state;
	const uint64_t max = 128 << 10;
	struct pt_spool *s = open_spool(f->dir, max, 8192);
	uint64_t n = append_n(s, 1, 100000);
	assert_true(n > 100 && n < 100000);
	struct pt_spool_stats st;
	pt_spool_get_stats(s, &st);
	assert_true(st.bytes <= max);
	assert_int_equal(st.refused, 1);
	assert_int_equal(pt_spool_next_seq(s), n + 1);

	/* A multi-frame append takes the whole frames that fit and says how far it got. */
	uint8_t buf[4096];
	size_t len = 0;
	for (uint64_t i = 0; i < 8; i++)
		len += frame(buf + len, n + 1 + i);
	size_t used = 99;
	assert_int_equal(pt_spool_append(s, buf, len, &used), -ENOSPC);
	assert_int_equal(used, 0);

	/* Acknowledging frees whole segments, and appending resumes. */
	assert_int_equal(pt_spool_ack(s, n), 0);
	pt_spool_get_stats(s, &st);
	assert_true(st.bytes <= 8192);
	assert_int_equal(pt_spool_append(s, buf, len, &used), 0);
	assert_int_equal(used, len);
	assert_int_equal(pt_spool_next_seq(s), n + 9);
	pt_spool_close(s);
}

/* A damaged segment header: its records are still delivered. */
static void test_corrupt_segment_header(void **state)
{
	struct fx *f = *state;
	char path[256];
	uint64_t seqs[100];
	struct pt_spool *s = open_spool(f->dir, 0, 0);
	assert_int_equal(append_n(s, 1, 10), 10);
	pt_spool_close(s);
	seg_path(f->dir, true, path, sizeof(path));
	uint8_t x = 0xff;
	patch(path, 9, &x, 1);
	s = open_spool(f->dir, 0, 0);
	assert_int_equal(read_all(s, 1, seqs, 100), 10);
	struct pt_spool_loss l[2];
	assert_int_equal(pt_spool_take_losses(s, l, 2), 0);
	pt_spool_close(s);
}

/* Ring positions keep growing across kernel rings: a new ring gets an offset past them. */
static void test_ring_epoch(void **state)
{
	struct fx *f = *state;
	uint8_t a[PT_SPOOL_RING_ID_LEN], b[PT_SPOOL_RING_ID_LEN];
	uint64_t off = 99;
	memset(a, 1, sizeof(a));
	memset(b, 2, sizeof(b));
	struct pt_spool *s = open_spool(f->dir, 0, 0);
	assert_int_equal(pt_spool_ring_epoch(s, a, &off), 1);   /* a new spool knows no ring */
	assert_int_equal(off, 0);
	assert_int_equal(pt_spool_ring_epoch(s, a, &off), 0);
	assert_int_equal(off, 0);
	assert_int_equal(append_n(s, 1, 10), 10);                /* ring positions 100..1000 */
	pt_spool_close(s);

	s = open_spool(f->dir, 0, 0);
	assert_int_equal(pt_spool_ring_epoch(s, a, &off), 0);    /* same ring: resume */
	assert_int_equal(off, 0);
	assert_int_equal(pt_spool_ring_epoch(s, b, &off), 1);    /* reboot: a new ring */
	assert_int_equal(off, 1001);
	pt_spool_close(s);

	s = open_spool(f->dir, 0, 0);
	assert_int_equal(pt_spool_ring_epoch(s, b, &off), 0);    /* remembered */
	assert_int_equal(off, 1001);
	pt_spool_close(s);
}

/* ---- The directory (docs/spool.md, "The directory") ---- */

static int open_rc(const char *dir)
{
	struct pt_spool_opts o = { .dir = dir };
	struct pt_spool *s = NULL;
	int rc = pt_spool_open(&o, &s);
	if (rc == 0)
		pt_spool_close(s);
	else
		assert_null(s);
	return rc;
}

static mode_t dir_mode(const char *dir)
{
	struct stat st;
	assert_int_equal(lstat(dir, &st), 0);
	return st.st_mode & 07777;
}

static void test_dir_created_private(void **state)
{
	struct fx *f = *state;
	char sub[128];

	snprintf(sub, sizeof(sub), "%s/spool", f->dir);
	assert_int_equal(open_rc(sub), 0);
	assert_int_equal(dir_mode(sub), 0700);
}

/* root's agent must not spool into (nor chmod) wherever another user's link points. */
static void test_dir_symlink_refused(void **state)
{
	struct fx *f = *state;
	char target[128], link[128];

	snprintf(target, sizeof(target), "%s/elsewhere", f->dir);
	snprintf(link, sizeof(link), "%s/spool", f->dir);
	assert_int_equal(mkdir(target, 0700), 0);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(open_rc(link), -ELOOP);
	/* Nothing was created through the link. */
	DIR *d = opendir(target);
	assert_non_null(d);
	struct dirent *de;
	int n = 0;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	assert_int_equal(n, 0);
	/* A link to a missing directory: not created through either. */
	assert_int_equal(unlink(link), 0);
	assert_int_equal(symlink("/nonexistent-proctrail-spool", link), 0);
	assert_int_equal(open_rc(link), -ELOOP);
}

static void test_dir_writable_by_others_refused(void **state)
{
	struct fx *f = *state;
	static const mode_t modes[] = { 0770, 0702, 0777, 01777 };

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		assert_int_equal(chmod(f->dir, modes[i]), 0);
		assert_int_equal(open_rc(f->dir), -EPERM);
		assert_int_equal(dir_mode(f->dir), modes[i]);   /* refused, not "fixed" */
	}
	assert_int_equal(chmod(f->dir, 0700), 0);
	assert_int_equal(open_rc(f->dir), 0);
}

static void test_dir_readable_by_others_tightened(void **state)
{
	struct fx *f = *state;

	assert_int_equal(chmod(f->dir, 0755), 0);
	assert_int_equal(open_rc(f->dir), 0);
	assert_int_equal(dir_mode(f->dir), 0700);
}

static void test_dir_other_owner_refused(void **state)
{
	struct fx *f = *state;

	if (geteuid() != 0)
		skip();   /* needs root to give the directory away */
	assert_int_equal(chown(f->dir, 65534, 65534), 0);   /* nobody */
	assert_int_equal(open_rc(f->dir), -EPERM);
	assert_int_equal(chown(f->dir, 0, 0), 0);
	assert_int_equal(open_rc(f->dir), 0);
}

static void test_dir_not_a_directory_refused(void **state)
{
	struct fx *f = *state;
	char file[128];

	snprintf(file, sizeof(file), "%s/file", f->dir);
	int fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(open_rc(file), -ENOTDIR);
}

/* Once open, the spool works on its directory descriptor: swapping the path for a link to
 * another directory sends nothing there. */
static void test_dir_swap_after_open_ignored(void **state)
{
	struct fx *f = *state;
	char path[128], moved[128], decoy[128];
	struct pt_spool_stats st;

	snprintf(path, sizeof(path), "%s/spool", f->dir);
	snprintf(moved, sizeof(moved), "%s/moved", f->dir);
	snprintf(decoy, sizeof(decoy), "%s/decoy", f->dir);
	struct pt_spool *s = open_spool(path, 0, 0);
	assert_int_equal(mkdir(decoy, 0700), 0);
	assert_int_equal(rename(path, moved), 0);
	assert_int_equal(symlink(decoy, path), 0);
	assert_int_equal(append_n(s, 1, 10), 10);
	assert_int_equal(pt_spool_sync(s), 0);
	assert_int_equal(pt_spool_ack(s, 5), 0);
	pt_spool_close(s);

	DIR *d = opendir(decoy);
	assert_non_null(d);
	struct dirent *de;
	int n = 0;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	assert_int_equal(n, 0);
	s = open_spool(moved, 0, 0);
	pt_spool_get_stats(s, &st);
	assert_int_equal(pt_spool_next_seq(s), 11);
	assert_true(st.segments >= 1);
	pt_spool_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip_and_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ack_deletes_segments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_record_segments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_bitflip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_zero_length, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_absurd_length, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_magic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_last_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_acked_not_reported, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_files_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_meta_lost_keeps_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ack_saved_lazily, setup, teardown),
		cmocka_unit_test_setup_teardown(test_size_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_segment_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ring_epoch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dir_created_private, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dir_symlink_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dir_writable_by_others_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dir_readable_by_others_tightened, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dir_other_owner_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dir_not_a_directory_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dir_swap_after_open_ignored, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
