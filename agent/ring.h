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
 * The data is not mapped whole: every mapped page counts in the agent's RSS (the kernel inserts
 * them all at mmap time), and the default 16 MiB ring mapped twice would be 32 MiB of it. The
 * reader maps a window of 1 MiB (or the ring's size, if smaller) from the page of the record it
 * reads, and moves it when the next record is not whole inside; the double mapping makes any
 * window start valid, and a larger window is mapped for a record that needs it.
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
 * position just past the record: release up to it to free it), 0 when nothing is ready, -errno
 * when the window could not be moved (logged; nothing is skipped: the record is read again by
 * the next call). The data stays valid until the next pt_ring_next() or pt_ring_close() (the
 * window moves), and only while the record is not released: copy what is kept. Discarded
 * records are stepped over. */
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
