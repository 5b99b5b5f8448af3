/* The agent's queue: records from the sensor get their sequence number here and reach the
 * spool file within max_delay_ms; the spool is what the uplink sends from.
 *
 *   sensor thread --push()--> pending (memory, bounded) --writer thread--> spool (write(2))
 *                                                              | group commit (fsync)
 *   kernel ring consumer position <--commit(durable ring pos)--'
 *
 * Why everything goes to disk: the agent may be killed at any moment; the kernel ring buffer
 * keeps every event until commit() says the spool holds it durably, so nothing is ever freed
 * on the strength of memory alone. Writing promptly costs one write(2) per flush and one fsync
 * per group commit.
 *
 * Losses: a record that finds the memory bound full (because the spool refuses: at its size
 * bound or the filesystem full) is dropped before it gets a sequence number and counted
 * (PT_LOSS_SPOOL_FULL while the spool refuses, PT_LOSS_QUEUE_FULL otherwise); a record that
 * cannot be encoded counts PT_LOSS_ENCODE. The counts go out as PT_REC_LOSS records as soon as
 * there is room, and the kernel ring is committed past dropped events only once that record is
 * durable, so a crash in between cannot hide a drop. Losses the spool found at open (corrupt
 * records) go out as PT_REC_LOSS with their sequence range.
 *
 * Ownership: pt_queue_new() borrows the spool (it must outlive the queue); pt_queue_free()
 * stops the writer, flushes, and is NULL-safe.
 * Threads: pt_queue_push() from one producer thread; the rest from any thread.
 */
#ifndef PROCTRAIL_AGENT_QUEUE_H
#define PROCTRAIL_AGENT_QUEUE_H

#include <stdint.h>

#include "proctrail/spool.h"
#include "proctrail/wire.h"

#define PT_QUEUE_BYTES_DEFAULT   (8u << 20)
#define PT_QUEUE_DELAY_DEFAULT   100u     /* ms a record may wait before write(2) */
#define PT_QUEUE_FSYNC_DEFAULT   200u     /* ms between group commits */

struct pt_queue_opts {
	uint64_t max_bytes;       /* memory for records not yet in the spool file (x2 while a
				   * refused write is retried) */
	unsigned max_delay_ms;
	unsigned fsync_ms;
};

/* commit: every record with ring position <= ring_pos is durable (called from the writer). */
typedef void (*pt_queue_commit_fn)(void *ctx, uint64_t ring_pos);
/* notify: new records are in the spool (called from the writer). */
typedef void (*pt_queue_notify_fn)(void *ctx);

struct pt_queue;

int pt_queue_new(struct pt_spool *sp, const struct pt_queue_opts *o, struct pt_queue **out);
/* Starts the writer thread. Callbacks may be NULL. */
int pt_queue_start(struct pt_queue *q, pt_queue_commit_fn commit, pt_queue_notify_fn notify,
		   void *ctx);
/* Accepts rec (copied). Returns 0, or -ENOBUFS / -EMSGSIZE / -EINVAL when it was dropped
 * (and counted). */
int pt_queue_push(struct pt_queue *q, const struct pt_record *rec, uint64_t ring_pos);
/* Writes what waits to the spool and fsyncs; the writer thread does this on its own, tests and
 * shutdown call it directly. Returns 0 or the spool's error (-ENOSPC: some still wait). */
int pt_queue_flush(struct pt_queue *q);
/* Joins the writer and spools (and fsyncs) everything left; callbacks run in the caller. */
void pt_queue_stop(struct pt_queue *q);
void pt_queue_free(struct pt_queue *q);

uint64_t pt_queue_depth(struct pt_queue *q);          /* records not yet in the spool */
/* Totals since start, by pt_loss_counter, of every loss that went through the queue (its own
 * drops and the sensor's PT_REC_LOSS records). */
void pt_queue_counters(struct pt_queue *q, uint64_t totals[PT_LOSS_COUNTER_MAX + 1]);
uint64_t pt_queue_events(struct pt_queue *q);         /* records accepted since start */

#endif
