/* A reader over a BPF ring buffer map that separates reading from releasing.
 *
 * libbpf's ring_buffer__consume() releases a record (advances the kernel's consumer position)
 * as soon as its callback returns; a record the agent has read but not yet made durable would
 * then be lost by a kill -9. This reader hands out each record with its ring position and
 * releases space only when pt_ring_release() is told the consumer holds everything up to a
 * position. Layout as in the kernel (kernel/bpf/ringbuf.c) and libbpf's ringbuf.c:
 *
 *   mmap offset 0           consumer page (RW): u64 consumer position
 *   mmap offset page        producer page (RO): u64 producer position
 *   mmap offset 2 * page    data, mapped twice in a row so a record never wraps
 *
 *   each record: u32 length | BUSY (1 << 31) | DISCARD (1 << 30), u32 page offset,
 *                then the sample, padded to 8 bytes
 *
 * Positions are byte counts since the map was created: they only grow, so a position names one
 * record for the map's whole life, across agent restarts (the map is pinned).
 *
 * Ownership: pt_ring_open() dups nothing: map_fd stays the caller's. pt_ring_close() unmaps and
 * frees; NULL-safe. One thread reads; pt_ring_release() may be called from that thread only.
 */
#ifndef PROCTRAIL_AGENT_RING_H
#define PROCTRAIL_AGENT_RING_H

#include <stddef.h>
#include <stdint.h>

struct pt_ring;

int pt_ring_open(int map_fd, struct pt_ring **out);
void pt_ring_close(struct pt_ring *r);

/* The next complete record after the read cursor. Returns 1 with *data, *len and *end_pos (the
 * position just past the record: release up to it to free it), 0 when nothing is ready. The
 * data stays valid until the record is released. Discarded records are stepped over. */
int pt_ring_next(struct pt_ring *r, const void **data, uint32_t *len, uint64_t *end_pos);

/* Lets the kernel reuse the space of every record ending at or before pos. */
void pt_ring_release(struct pt_ring *r, uint64_t pos);

/* Bytes written by the kernel and not yet read by pt_ring_next(). */
uint64_t pt_ring_unread(const struct pt_ring *r);
uint64_t pt_ring_size(const struct pt_ring *r);
/* The kernel's consumer position (what has been released), and the read cursor. */
uint64_t pt_ring_released(const struct pt_ring *r);
uint64_t pt_ring_read_pos(const struct pt_ring *r);

#endif
