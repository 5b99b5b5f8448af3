/* The spool handle: open (directory listing + recovery), acknowledgement, accessors. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proctrail/clock.h"
#include "proctrail/log.h"
#include "proctrail/wire.h"
#include "spool-int.h"

int spool_seg_add(struct pt_spool *s, const struct seg *sg)
{
	if (s->nsegs == s->segcap) {
		size_t ncap = s->segcap ? s->segcap * 2 : 16;
		struct seg *n = realloc(s->segs, ncap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		s->segs = n;
		s->segcap = ncap;
	}
	size_t i = s->nsegs;
	while (i > 0 && s->segs[i - 1].id > sg->id) {
		s->segs[i] = s->segs[i - 1];
		i--;
	}
	s->segs[i] = *sg;
	s->nsegs++;
	return 0;
}

void spool_seg_remove(struct pt_spool *s, size_t i)
{
	memmove(&s->segs[i], &s->segs[i + 1], (s->nsegs - i - 1) * sizeof(s->segs[0]));
	s->nsegs--;
}

void spool_add_loss(struct pt_spool *s, uint64_t first, uint64_t last, uint64_t count,
		    bool has_range)
{
	if (has_range) {
		if (last <= s->acked_seq)
			return;
		if (first <= s->acked_seq)
			first = s->acked_seq + 1;
		count = last - first + 1;
	}
	if (s->nlosses == PT_SPOOL_LOSSES_MAX) {
		/* Out of slots: the last one becomes a plain count (still exact in number). */
		struct pt_spool_loss *l = &s->losses[s->nlosses - 1];
		l->count += count;
		l->has_range = false;
		s->st.corrupt_records += count;
		return;
	}
	s->losses[s->nlosses++] = (struct pt_spool_loss){
		.first_seq = first, .last_seq = last, .count = count, .has_range = has_range,
	};
	s->st.corrupt_records += count;
}

static int list_dir(struct pt_spool *s)
{
	DIR *d;
	struct dirent *de;
	int fd, rc = 0;

	fd = dup(s->dirfd);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		rc = -errno;
		close(fd);
		return rc;
	}
	while ((de = readdir(d))) {
		uint64_t id;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !strcmp(de->d_name, META_NAME) ||
		    /* the agent's saved block policy (agent/policy_file.h) and its temporary */
		    !strcmp(de->d_name, "policy.frame") || !strcmp(de->d_name, "policy.frame.tmp"))
			continue;
		if (!strcmp(de->d_name, META_TMP)) {
			unlinkat(s->dirfd, META_TMP, 0);   /* an interrupted cursor update */
			continue;
		}
		if (spool_seg_parse_name(de->d_name, &id) == 0 && id > 0) {
			struct seg sg = { .id = id };
			if ((rc = spool_seg_add(s, &sg)) < 0)
				break;
			continue;
		}
		log_warnx("spool: foreign file %s/%s ignored", s->dir, de->d_name);
		s->st.foreign_files++;
	}
	rewinddir(d);
	closedir(d);
	return rc;
}

/* Whether gc_segments() would delete something. */
static bool gc_due(const struct pt_spool *s)
{
	for (size_t i = 0; i + 1 < s->nsegs; i++)
		if (s->segs[i].last_seq <= s->acked_seq)
			return true;
	return false;
}

/* Deletes every segment but the newest whose records are all acknowledged. */
static void gc_segments(struct pt_spool *s)
{
	char name[64];

	for (size_t i = 0; i < s->nsegs;) {
		struct seg *sg = &s->segs[i];
		/* The newest segment always stays: its header and records carry the next sequence
		 * and the ring position a restarted agent resumes from. */
		if (i + 1 == s->nsegs || sg->last_seq > s->acked_seq) {
			i++;
			continue;
		}
		spool_seg_name(name, sizeof(name), sg->id);
		if (unlinkat(s->dirfd, name, 0) < 0 && errno != ENOENT) {
			log_warn("spool: unlink %s/%s", s->dir, name);
			i++;
			continue;
		}
		s->bytes -= sg->size;
		spool_seg_remove(s, i);
	}
}

int pt_spool_open(const struct pt_spool_opts *o, struct pt_spool **out)
{
	struct pt_spool *s;
	int rc;

	*out = NULL;
	if (!o->dir || !*o->dir)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	s->fd = -1;
	s->dirfd = -1;
	s->max_bytes = o->max_bytes ? o->max_bytes : PT_SPOOL_BYTES_DEFAULT;
	s->segment_bytes = o->segment_bytes ? o->segment_bytes : PT_SPOOL_SEGMENT_DEFAULT;
	s->ack_sync_ms = o->ack_sync_ms ? o->ack_sync_ms : PT_SPOOL_ACK_SYNC_DEFAULT;
	if (s->max_bytes < PT_SPOOL_BYTES_MIN || s->segment_bytes > PT_SPOOL_SEGMENT_MAX / 2 ||
	    s->segment_bytes < 4096) {
		rc = -EINVAL;
		goto fail;
	}
	if (strlen(o->dir) >= sizeof(s->dir)) {
		rc = -ENAMETOOLONG;
		goto fail;
	}
	snprintf(s->dir, sizeof(s->dir), "%s", o->dir);
	if ((rc = spool_dir_open(s->dir, &s->dirfd)) < 0)
		goto fail;
	if ((rc = list_dir(s)) < 0 || (rc = spool_scan(s)) < 0)
		goto fail;
	for (size_t i = 0; i < s->nsegs; i++)
		s->bytes += s->segs[i].size;
	if (s->new_stream || s->meta_acked != s->acked_seq) {
		if ((rc = spool_meta_write(s)) < 0)
			log_warnx("spool: %s/%s: %s", s->dir, META_NAME, strerror(-rc));
	}
	gc_segments(s);
	log_info("spool: %s: stream %016llx, next seq %llu, acked %llu, %zu segment(s), %llu bytes",
		 s->dir, (unsigned long long)s->stream_id, (unsigned long long)s->next_seq,
		 (unsigned long long)s->acked_seq, s->nsegs, (unsigned long long)s->bytes);
	*out = s;
	return 0;
fail:
	pt_spool_close(s);
	return rc;
}

void pt_spool_close(struct pt_spool *s)
{
	if (!s)
		return;
	if (s->fd >= 0) {
		fsync(s->fd);
		close(s->fd);
	}
	if (s->dirfd >= 0) {
		if (s->acked_seq != s->meta_acked)
			spool_meta_write(s);
		close(s->dirfd);
	}
	pthread_mutex_destroy(&s->lock);
	free(s->segs);
	free(s);
}

#define GETTER(name, field)                                   \
	uint64_t pt_spool_##name(struct pt_spool *s)          \
	{                                                     \
		pthread_mutex_lock(&s->lock);                 \
		uint64_t v = s->field;                        \
		pthread_mutex_unlock(&s->lock);               \
		return v;                                     \
	}
GETTER(stream_id, stream_id)
GETTER(next_seq, next_seq)
GETTER(acked_seq, acked_seq)
GETTER(ring_pos, ring_pos)
GETTER(durable_ring_pos, durable_ring)

uint64_t pt_spool_first_held(struct pt_spool *s)
{
	pthread_mutex_lock(&s->lock);
	uint64_t v = s->acked_seq + 1;
	for (size_t i = 0; i < s->nsegs; i++) {
		if (s->segs[i].last_seq > s->acked_seq) {
			if (s->segs[i].first_seq > v)
				v = s->segs[i].first_seq;
			break;
		}
	}
	if (v > s->next_seq)
		v = s->next_seq;
	pthread_mutex_unlock(&s->lock);
	return v;
}

bool pt_spool_new_stream(struct pt_spool *s)
{
	return s->new_stream;
}

void pt_spool_get_stats(struct pt_spool *s, struct pt_spool_stats *st)
{
	pthread_mutex_lock(&s->lock);
	*st = s->st;
	st->bytes = s->bytes;
	st->segments = s->nsegs;
	pthread_mutex_unlock(&s->lock);
}

size_t pt_spool_take_losses(struct pt_spool *s, struct pt_spool_loss *out, size_t max)
{
	pthread_mutex_lock(&s->lock);
	size_t n = s->nlosses < max ? s->nlosses : max;
	memcpy(out, s->losses, n * sizeof(*out));
	memmove(s->losses, s->losses + n, (s->nlosses - n) * sizeof(*out));
	s->nlosses -= n;
	pthread_mutex_unlock(&s->lock);
	return n;
}

size_t pt_spool_losses_pending(struct pt_spool *s)
{
	pthread_mutex_lock(&s->lock);
	size_t n = s->nlosses;
	pthread_mutex_unlock(&s->lock);
	return n;
}

int pt_spool_ring_epoch(struct pt_spool *s, const uint8_t id[PT_SPOOL_RING_ID_LEN],
			uint64_t *offset)
{
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	if (memcmp(s->ring_id, id, PT_SPOOL_RING_ID_LEN) == 0) {
		*offset = s->ring_offset;
	} else {
		memcpy(s->ring_id, id, PT_SPOOL_RING_ID_LEN);
		/* +1: position 0 means "no ring position" (records the sensor makes itself). */
		s->ring_offset = s->ring_pos ? s->ring_pos + 1 : 0;
		*offset = s->ring_offset;
		rc = spool_meta_write(s);
		rc = rc < 0 ? rc : 1;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int pt_spool_ack(struct pt_spool *s, uint64_t seq)
{
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	if (seq >= s->next_seq)
		seq = s->next_seq - 1;   /* never beyond what exists */
	if (seq > s->acked_seq) {
		s->acked_seq = seq;
		/* Saved before segments go, so the cursor a restart reads covers them. If it
		 * cannot be saved (a full filesystem) they go anyway: freeing space matters more,
		 * and the collector's WELCOME brings a restarted agent its acknowledged cursor. */
		bool due = gc_due(s);
		if (due || pt_mono_ms() - s->meta_ms >= s->ack_sync_ms)
			rc = spool_meta_write(s);
		if (due)
			gc_segments(s);
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}
