/* The agent's queue: sequence numbers, the memory bound, the writer thread, loss accounting. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proctrail/buf.h"
#include "proctrail/clock.h"
#include "proctrail/log.h"
#include "queue.h"

struct pt_queue {
	struct pt_spool *sp;
	uint64_t max_bytes;
	unsigned delay_ms, fsync_ms;

	pthread_mutex_t lock;          /* everything below up to `wlock` */
	pthread_cond_t cond;
	pthread_cond_t flushed;        /* a flush attempt finished: flush_done moved */
	uint64_t flush_started, flush_done;
	struct pt_buf pending;         /* framed records waiting for the writer */
	uint64_t next_seq;
	uint64_t events;
	uint64_t totals[PT_LOSS_COUNTER_MAX + 1];
	uint64_t unreported[PT_LOSS_COUNTER_MAX + 1];
	uint64_t drop_ring;            /* highest ring position dropped and not yet reported */
	bool spool_refusing;
	bool kick, stop;
	bool idle;                     /* the writer sleeps until a push: nothing to do */

	pthread_mutex_t wlock;         /* one flusher at a time; owns `writing` */
	struct pt_buf writing;         /* taken from pending; what the spool refused stays here */
	bool dirty;                    /* appended since the last fsync (changed under both locks) */
	uint64_t sync_due_ms;          /* when dirty: fsync_ms after the first unsynced append */

	pthread_t thr;
	bool running;
	pt_queue_commit_fn commit;
	pt_queue_notify_fn notify;
	void *ctx;
};



/* Encodes rec at the end of pending with the next sequence number. Returns 0, -ENOBUFS (no
 * room in the bound), or the encoder's -EMSGSIZE / -EINVAL. */
static int append_locked(struct pt_queue *q, const struct pt_record *rec, uint64_t ring_pos)
{
	struct pt_writer w;
	size_t room = q->max_bytes - q->pending.len;
	int rc;

	if (room < PT_SPOOL_REC_HDR_LEN + PT_RECORD_HDR_LEN)
		return -ENOBUFS;
	room -= PT_SPOOL_REC_HDR_LEN;
	if (room > PT_RECORD_MAX)
		room = PT_RECORD_MAX;
	if ((rc = pt_buf_reserve(&q->pending, PT_SPOOL_REC_HDR_LEN + room)) < 0)
		return rc == -ENOMEM ? -ENOBUFS : rc;
	uint8_t *hdr = q->pending.data + q->pending.len;
	pt_writer_init(&w, hdr + PT_SPOOL_REC_HDR_LEN, room);
	rc = pt_record_encode(&w, rec);
	if (rc == -ENOBUFS && room == PT_RECORD_MAX)
		rc = -EMSGSIZE;   /* it would not fit anywhere */
	if (rc < 0)
		return rc;
	pt_spool_frame_header(hdr, q->next_seq, ring_pos, hdr + PT_SPOOL_REC_HDR_LEN,
			      (uint32_t)w.len);
	q->pending.len += PT_SPOOL_REC_HDR_LEN + w.len;
	q->next_seq++;
	q->events++;
	if (q->pending.len > q->max_bytes / 2)
		q->kick = true;
	return 0;
}

/* Emits a LOSS record for every counter with unreported drops, while there is room. */
static void report_drops_locked(struct pt_queue *q)
{
	bool all = true;

	for (unsigned c = 1; c <= PT_LOSS_COUNTER_MAX; c++) {
		if (!q->unreported[c])
			continue;
		struct pt_record r = { .type = PT_REC_LOSS };
		r.u.loss.time_ns = pt_real_ns();
		r.u.loss.counter = (uint16_t)c;
		r.u.loss.count = q->unreported[c];
		if (append_locked(q, &r, q->drop_ring) < 0) {
			all = false;
			break;
		}
		q->unreported[c] = 0;
	}
	if (all)
		q->drop_ring = 0;
}

static void drop_locked(struct pt_queue *q, unsigned counter, uint64_t count, uint64_t ring_pos)
{
	q->totals[counter] += count;
	q->unreported[counter] += count;
	if (ring_pos > q->drop_ring)
		q->drop_ring = ring_pos;
}

/* Reports what waits to be reported, then appends rec unless an unreported drop is still
 * ahead of it: nothing overtakes an unreported drop, since a record stored after it would
 * move the ring position a restart resumes from past events whose loss is not on disk yet. */
static int append_in_order_locked(struct pt_queue *q, const struct pt_record *rec,
				  uint64_t ring_pos)
{
	report_drops_locked(q);
	return q->drop_ring ? -ENOBUFS : append_locked(q, rec, ring_pos);
}

/* The bound was reached, but the writer may not have looked at the spool since room came
 * back (space freed, an acknowledgement deleted a segment): a record made now must not be
 * dropped for that. Waits for one flush attempt that starts after this call, so the record is
 * dropped only if the spool still refuses, or the writer could not free room, once it has
 * looked. The exec path never waits on this: meanwhile the kernel ring holds the events. */
static void wait_for_writer_locked(struct pt_queue *q)
{
	uint64_t want = q->flush_started + 1;

	q->kick = true;
	q->idle = false;
	pthread_cond_signal(&q->cond);
	while (q->flush_done < want && !q->stop)
		pthread_cond_wait(&q->flushed, &q->lock);
}

int pt_queue_push(struct pt_queue *q, const struct pt_record *rec, uint64_t ring_pos)
{
	bool is_loss = rec->type == PT_REC_LOSS && rec->u.loss.counter >= 1 &&
		       rec->u.loss.counter <= PT_LOSS_COUNTER_MAX;
	int rc;

	pthread_mutex_lock(&q->lock);
	if (is_loss)
		q->totals[rec->u.loss.counter] += rec->u.loss.count;
	rc = append_in_order_locked(q, rec, ring_pos);
	if (rc == -ENOBUFS && q->running && !q->stop) {
		wait_for_writer_locked(q);
		rc = append_in_order_locked(q, rec, ring_pos);
	}
	if (rc == -ENOBUFS && is_loss) {
		/* A loss report is never itself lost: its count waits for room. */
		q->unreported[rec->u.loss.counter] += rec->u.loss.count;
		if (ring_pos > q->drop_ring)
			q->drop_ring = ring_pos;
	} else if (rc == -ENOBUFS) {
		drop_locked(q, q->spool_refusing ? PT_LOSS_SPOOL_FULL : PT_LOSS_QUEUE_FULL, 1,
			    ring_pos);
	} else if (rc < 0) {
		log_warnx("queue: record of type %u dropped: %s", rec->type, strerror(-rc));
		drop_locked(q, PT_LOSS_ENCODE, 1, ring_pos);
	}
	if (q->kick || (q->idle && q->pending.len)) {
		q->idle = false;
		pthread_cond_signal(&q->cond);
	}
	pthread_mutex_unlock(&q->lock);
	return rc;
}

/* Losses recovery found in the spool go out with their sequence ranges. */
static void report_spool_losses(struct pt_queue *q)
{
	struct pt_spool_loss l;

	pthread_mutex_lock(&q->lock);
	while (q->pending.len + 4096 < q->max_bytes && pt_spool_take_losses(q->sp, &l, 1) == 1) {
		struct pt_record r = { .type = PT_REC_LOSS };
		r.u.loss.time_ns = pt_real_ns();
		r.u.loss.counter = PT_LOSS_SPOOL_CORRUPT;
		r.u.loss.count = l.count;
		r.u.loss.has_seq_range = l.has_range;
		r.u.loss.first_seq = l.first_seq;
		r.u.loss.last_seq = l.last_seq;
		q->totals[PT_LOSS_SPOOL_CORRUPT] += l.count;
		if (l.has_range)
			log_warnx("queue: spool records %llu..%llu were corrupt; reported as lost",
				  (unsigned long long)l.first_seq, (unsigned long long)l.last_seq);
		else
			log_warnx("queue: %llu spooled record(s) were corrupt; reported as lost",
				  (unsigned long long)l.count);
		if (append_locked(q, &r, 0) < 0)
			q->unreported[PT_LOSS_SPOOL_CORRUPT] += l.count;   /* range lost, count kept */
	}
	pthread_mutex_unlock(&q->lock);
}

/* Appends what waits to the spool and tells the uplink; fsyncs when sync, or when the group
 * commit is due. When the spool takes all of `writing`, what is pending behind it goes in the
 * same attempt, so one attempt frees the memory bound as far as the spool allows. */
static int flush(struct pt_queue *q, bool sync)
{
	int rc = 0;
	size_t used = 0;
	uint64_t gen;

	pthread_mutex_lock(&q->wlock);
	pthread_mutex_lock(&q->lock);
	gen = ++q->flush_started;
	q->kick = false;
	pthread_mutex_unlock(&q->lock);

	for (int pass = 0; pass < 2; pass++) {
		size_t n = 0;

		pthread_mutex_lock(&q->lock);
		if (q->writing.len == 0) {
			struct pt_buf t = q->writing;
			q->writing = q->pending;
			q->pending = t;
		}
		pthread_mutex_unlock(&q->lock);
		if (!q->writing.len)
			break;
		rc = pt_spool_append(q->sp, q->writing.data, q->writing.len, &n);
		pt_buf_consume(&q->writing, n);
		used += n;
		pthread_mutex_lock(&q->lock);
		if (n && !q->dirty) {
			q->dirty = true;
			q->sync_due_ms = pt_mono_ms() + q->fsync_ms;
		}
		if ((rc == -ENOSPC) != q->spool_refusing)
			log_warnx("queue: spool %s", rc == -ENOSPC ?
				  "full (size bound or filesystem): records wait in memory" :
				  "accepts records again");
		q->spool_refusing = rc == -ENOSPC;
		pthread_mutex_unlock(&q->lock);
		if (rc < 0 && rc != -ENOSPC)
			log_warnx("queue: spool append: %s", strerror(-rc));
		if (rc < 0 || q->writing.len)
			break;
	}
	if (q->dirty && (sync || pt_mono_ms() >= q->sync_due_ms)) {
		int src = pt_spool_sync(q->sp);
		if (src < 0) {
			log_warnx("queue: spool fsync: %s", strerror(-src));
			if (!rc)
				rc = src;
		} else {
			pthread_mutex_lock(&q->lock);
			q->dirty = false;
			pthread_mutex_unlock(&q->lock);
			if (q->commit)
				q->commit(q->ctx, pt_spool_durable_ring_pos(q->sp));
		}
	}
	/* Decided under both locks, so the last flush to run has the last word. */
	pthread_mutex_lock(&q->lock);
	q->idle = !q->pending.len && !q->writing.len && !q->dirty &&
		  !pt_spool_losses_pending(q->sp);
	q->flush_done = gen;
	pthread_cond_broadcast(&q->flushed);
	pthread_mutex_unlock(&q->lock);
	pthread_mutex_unlock(&q->wlock);
	if (used && q->notify)
		q->notify(q->ctx);
	return rc;
}

int pt_queue_flush(struct pt_queue *q)
{
	report_spool_losses(q);
	int rc = flush(q, true);
	/* What was pending behind a first chunk goes too. */
	if (!rc)
		rc = flush(q, true);
	return rc;
}

/* Wakes once per queue-delay-ms on a fixed cadence (so no record waits longer), fsyncs when
 * the group commit is due, and sleeps until the next push once nothing is left to do: every
 * wake-up and every write is paid for by the whole host, at every exec rate. */
static void *writer_main(void *arg)
{
	struct pt_queue *q = arg;
	uint64_t next = pt_mono_ms() + q->delay_ms;

	pthread_mutex_lock(&q->lock);
	while (!q->stop) {
		uint64_t t = pt_mono_ms();
		bool write = q->kick || t >= next;
		bool sync = q->dirty && t >= q->sync_due_ms;
		if (!write && !sync) {
			uint64_t until = next;
			if (q->dirty && q->sync_due_ms < until)
				until = q->sync_due_ms;
			if (q->idle) {
				pthread_cond_wait(&q->cond, &q->lock);
				/* A record arrived just now: it may wait one delay. */
				next = pt_mono_ms() + q->delay_ms;
			} else {
				struct timespec ts = { .tv_sec = (time_t)(until / 1000),
						       .tv_nsec = (long)(until % 1000) * 1000000L };
				pthread_cond_timedwait(&q->cond, &q->lock, &ts);
			}
			continue;
		}
		pthread_mutex_unlock(&q->lock);
		report_spool_losses(q);
		flush(q, false);
		pthread_mutex_lock(&q->lock);
		if (write) {
			next += q->delay_ms;
			if (next <= t)
				next = t + q->delay_ms;
		}
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

int pt_queue_new(struct pt_spool *sp, const struct pt_queue_opts *o, struct pt_queue **out)
{
	struct pt_queue *q = calloc(1, sizeof(*q));

	*out = NULL;
	if (!q)
		return -ENOMEM;
	q->sp = sp;
	q->max_bytes = o && o->max_bytes ? o->max_bytes : PT_QUEUE_BYTES_DEFAULT;
	q->delay_ms = o && o->max_delay_ms ? o->max_delay_ms : PT_QUEUE_DELAY_DEFAULT;
	q->fsync_ms = o && o->fsync_ms ? o->fsync_ms : PT_QUEUE_FSYNC_DEFAULT;
	if (q->max_bytes < 2 * (PT_SPOOL_REC_HDR_LEN + PT_RECORD_MAX)) {
		free(q);
		return -EINVAL;
	}
	pthread_mutex_init(&q->lock, NULL);
	pthread_mutex_init(&q->wlock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);   /* the writer's deadlines are pt_mono_ms() */
	pthread_cond_init(&q->cond, &ca);
	pthread_cond_init(&q->flushed, NULL);
	pthread_condattr_destroy(&ca);
	pt_buf_init(&q->pending, q->max_bytes);
	pt_buf_init(&q->writing, q->max_bytes);
	q->next_seq = pt_spool_next_seq(sp);
	*out = q;
	return 0;
}

int pt_queue_start(struct pt_queue *q, pt_queue_commit_fn commit, pt_queue_notify_fn notify,
		   void *ctx)
{
	int rc;

	q->commit = commit;
	q->notify = notify;
	q->ctx = ctx;
	if ((rc = pthread_create(&q->thr, NULL, writer_main, q)) != 0)
		return -rc;
	q->running = true;
	return 0;
}

void pt_queue_stop(struct pt_queue *q)
{
	if (!q)
		return;
	if (q->running) {
		pthread_mutex_lock(&q->lock);
		q->stop = true;
		pthread_cond_signal(&q->cond);
		pthread_cond_broadcast(&q->flushed);
		pthread_mutex_unlock(&q->lock);
		pthread_join(q->thr, NULL);
		q->running = false;
	}
	if (pt_queue_flush(q) < 0 || q->pending.len || q->writing.len)
		log_warnx("queue: %llu record(s) could not be spooled at shutdown; the kernel ring "
			  "still holds their events", (unsigned long long)pt_queue_depth(q));
}

void pt_queue_free(struct pt_queue *q)
{
	if (!q)
		return;
	pt_queue_stop(q);
	pt_buf_free(&q->pending);
	pt_buf_free(&q->writing);
	pthread_cond_destroy(&q->cond);
	pthread_cond_destroy(&q->flushed);
	pthread_mutex_destroy(&q->wlock);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

uint64_t pt_queue_depth(struct pt_queue *q)
{
	pthread_mutex_lock(&q->lock);
	uint64_t next = q->next_seq;
	pthread_mutex_unlock(&q->lock);
	uint64_t stored = pt_spool_next_seq(q->sp);
	return next > stored ? next - stored : 0;
}

void pt_queue_counters(struct pt_queue *q, uint64_t totals[PT_LOSS_COUNTER_MAX + 1])
{
	pthread_mutex_lock(&q->lock);
	memcpy(totals, q->totals, sizeof(q->totals));
	pthread_mutex_unlock(&q->lock);
}

uint64_t pt_queue_events(struct pt_queue *q)
{
	pthread_mutex_lock(&q->lock);
	uint64_t v = q->events;
	pthread_mutex_unlock(&q->lock);
	return v;
}
