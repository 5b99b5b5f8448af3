/* The kernel sensor: loads (or reuses) the BPF programs, reads the ring buffer, resolves and
 * hashes, and hands complete records to one consumer in kernel order.
 *
 *   kernel ring --(read, never released early)--> in-order queue --(hash workers)--> emit()
 *                                                                                      |
 *   kernel consumer position  <------------------ pt_sensor_commit(pos) <-------------'
 *
 * Every record handed to emit() carries its ring position (the ring byte offset just past it;
 * it only grows for the pinned map's life, across agent restarts). Space in the ring is given
 * back to the kernel only up to what the consumer committed, so a kill -9 loses nothing: a
 * restarted sensor reads again everything not committed. A consumer that kept the position of
 * the last record it made durable passes it to pt_sensor_skip_until() to avoid duplicates.
 *
 * Ownership: pt_sensor_open() returns a handle the caller frees with pt_sensor_free()
 * (NULL-safe). The pinned kernel objects outlive the handle; pt_sensor_uninstall() removes them.
 * Threads: emit() runs on the thread inside pt_sensor_run(). pt_sensor_stop() is async-signal-
 * safe; pt_sensor_commit() may be called from any thread.
 */
#ifndef PROCTRAIL_AGENT_SENSOR_H
#define PROCTRAIL_AGENT_SENSOR_H

#include <stdint.h>

#include "proctrail/wire.h"

#define PT_SENSOR_PIN_DIR "/sys/fs/bpf/proctrail"

/* Optional: called on the sensor thread after a burst of emit() calls, before the sensor
 * sleeps. A consumer that batches (writes, encodes) finishes the batch here and commits.
 * Non-zero stops pt_sensor_run() like emit(). */
typedef int (*pt_sensor_flush_fn)(void *ctx);

struct pt_sensor_config {
	const char *pin_dir;       /* NULL: PT_SENSOR_PIN_DIR */
	unsigned hash_workers;     /* 0: 2 */
	uint64_t hash_max_bytes;   /* 0: 256 MiB; larger executables get PT_HASH_TOO_LARGE */
	unsigned poll_ms;          /* 0: 100; how often the ring is read without a wake-up */
	uint64_t ring_bytes;       /* 0: 16 MiB; power of two; used when the ring is created */
	unsigned cache_entries;    /* 0: 4096 */
	unsigned max_inflight;     /* 0: 128 records read but not yet emitted */
	unsigned hash_timeout_ms;  /* 0: 10000; an exec waits this long for its hash at most */
	pt_sensor_flush_fn flush;  /* NULL: none */
	unsigned proc_table_max;   /* 0: 65536 live processes in the context table */
};

struct pt_sensor;

/* rec is valid only during the call. Returning non-zero stops pt_sensor_run(), which returns
 * that value. ring_pos is 0 for records the sensor makes itself (PT_REC_LOSS). */
typedef int (*pt_sensor_emit_fn)(void *ctx, const struct pt_record *rec, uint64_t ring_pos);

int pt_sensor_open(const struct pt_sensor_config *cfg, pt_sensor_emit_fn emit, void *ctx,
		   struct pt_sensor **out);
void pt_sensor_skip_until(struct pt_sensor *s, uint64_t ring_pos);
void pt_sensor_commit(struct pt_sensor *s, uint64_t ring_pos);
int pt_sensor_run(struct pt_sensor *s);
void pt_sensor_stop(struct pt_sensor *s);
/* Totals since the ring map was created, indexed by enum pt_loss_counter (kernel counters plus
 * the sensor's own). */
int pt_sensor_counters(struct pt_sensor *s, uint64_t totals[PT_LOSS_COUNTER_MAX + 1]);
struct pt_sensor_stats {
	uint64_t execs, exits;              /* records emitted */
	uint64_t hash_hits, hash_misses;    /* cache lookups */
	uint64_t hashed_bytes;
	uint64_t hash_timeouts;             /* execs sent without a hash after hash_timeout_ms */
	uint64_t proc_live, proc_seeded;    /* the context table now */
	uint64_t proc_evicted;              /* entries its bound pushed out */
	uint64_t parent_unknown;            /* execs whose parent it did not know */
};
void pt_sensor_stats(struct pt_sensor *s, struct pt_sensor_stats *st);
void pt_sensor_free(struct pt_sensor *s);
/* Detaches the programs and removes every pin under pin_dir (NULL: the default). */
int pt_sensor_uninstall(const char *pin_dir);

#endif
