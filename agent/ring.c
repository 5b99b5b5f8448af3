#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "proctrail/clock.h"
#include "proctrail/log.h"
#include "ring.h"

/* Bytes of the data area mapped at a time. Every mapped page of the ring counts in the agent's
 * RSS (the kernel inserts them all at mmap time), so the whole 16 MiB ring, mapped twice, was
 * 32 MiB of it; a 1 MiB window is moved about once a second at the maximum exec rate. */
#define WINDOW_BYTES (1u << 20)

struct pt_ring {
	int map_fd;
	uint64_t mask;
	size_t page;
	uint64_t *consumer_pos;     /* shared with the kernel, RW */
	const uint64_t *producer_pos;
	uint8_t *area;              /* reserved: size + page bytes, the window at its start */
	size_t area_len;
	size_t win_min;             /* min(WINDOW_BYTES, size) */
	size_t win_len;             /* bytes of data mapped at area; 0: none */
	uint64_t win_pos;           /* ring position of area[0], page-aligned */
	uint64_t read_pos;          /* ours: records before it were handed out */
	uint64_t moves, move_ns;    /* for the debug line at close */
	int last_err;               /* a failure is logged once, not on every retry */
};


static int reserve(struct pt_ring *r, size_t off, size_t len)
{
	void *p = mmap(r->area ? r->area + off : NULL, len, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | (r->area ? MAP_FIXED : 0), -1, 0);

	if (p == MAP_FAILED)
		return -errno;
	if (!r->area)
		r->area = p;
	return 0;
}

/* Maps the data from pos (rounded down to a page) for at least need bytes past pos. Any start
 * in the data area with a length up to size + page stays inside the kernel's double mapping
 * (data pages twice in a row), so a record, at most size bytes, is always whole in one window.
 * MAP_FIXED over the reserved range drops the old window's pages before the new ones are
 * inserted: RSS never holds two windows. */
static int map_window(struct pt_ring *r, uint64_t pos, uint64_t need)
{
	uint64_t start = pos & ~(uint64_t)(r->page - 1);
	uint64_t len = r->win_min, t0 = pt_mono_ns();
	void *p;
	int err;

	if (pos - start + need > len)
		len = (pos - start + need + r->page - 1) & ~(uint64_t)(r->page - 1);
	if (len > r->area_len) {
		err = -EBADMSG;
		goto cleanup;
	}
	p = mmap(r->area, (size_t)len, PROT_READ, MAP_SHARED | MAP_FIXED, r->map_fd,
		 (off_t)(2 * r->page + (start & r->mask)));
	if (p == MAP_FAILED) {
		err = -errno;
		/* the old window may be gone with the failed call: hold the range again */
		r->win_len = 0;
		reserve(r, 0, r->area_len);
		goto cleanup;
	}
	if (len < r->win_len && reserve(r, (size_t)len, r->win_len - (size_t)len) < 0)
		munmap(r->area + len, r->win_len - (size_t)len);   /* a hole, but no stale pages */
	r->win_pos = start;
	r->win_len = (size_t)len;
	r->moves++;
	r->move_ns += pt_mono_ns() - t0;
	err = 0;
cleanup:
	if (err && err != r->last_err)
		log_warnx("ring buffer: map %llu bytes at %llu: %s (records wait, none lost)",
			  (unsigned long long)len, (unsigned long long)start, strerror(-err));
	r->last_err = err;
	return err;
}

static const uint8_t *at(struct pt_ring *r, uint64_t pos, uint64_t need, int *err)
{
	*err = 0;
	if (!r->win_len || pos < r->win_pos || pos - r->win_pos + need > r->win_len)
		*err = map_window(r, pos, need);
	return *err ? NULL : r->area + (pos - r->win_pos);
}

int pt_ring_open(int map_fd, struct pt_ring **out)
{
	struct bpf_map_info info = {};
	uint32_t info_len = sizeof(info);
	struct pt_ring *r = NULL;
	void *p;
	int err;

	*out = NULL;
	if (bpf_obj_get_info_by_fd(map_fd, &info, &info_len) < 0) {
		err = -errno;
		goto cleanup;
	}
	if (info.type != BPF_MAP_TYPE_RINGBUF || !info.max_entries ||
	    (info.max_entries & (info.max_entries - 1))) {
		err = -EINVAL;
		goto cleanup;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		err = -ENOMEM;
		goto cleanup;
	}
	r->map_fd = map_fd;
	r->page = (size_t)sysconf(_SC_PAGESIZE);
	r->mask = info.max_entries - 1;
	r->win_min = info.max_entries < WINDOW_BYTES ? info.max_entries : WINDOW_BYTES;
	if (r->win_min < r->page)
		r->win_min = r->page;
	p = mmap(NULL, r->page, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
	if (p == MAP_FAILED) {
		err = -errno;
		goto cleanup;
	}
	r->consumer_pos = p;
	p = mmap(NULL, r->page, PROT_READ, MAP_SHARED, map_fd, (off_t)r->page);
	if (p == MAP_FAILED) {
		err = -errno;
		goto cleanup;
	}
	r->producer_pos = p;
	r->area_len = (size_t)info.max_entries + r->page;
	if ((err = reserve(r, 0, r->area_len)) < 0)
		goto cleanup;
	/* What the previous reader did not release is read again: it was never made durable. */
	r->read_pos = __atomic_load_n(r->consumer_pos, __ATOMIC_ACQUIRE);
	*out = r;
	r = NULL;
	err = 0;
cleanup:
	pt_ring_close(r);
	return err;
}

void pt_ring_close(struct pt_ring *r)
{
	if (!r)
		return;
	if (r->moves)
		log_debug("ring buffer: window of %zu bytes moved %llu times, %llu us in all",
			  r->win_min, (unsigned long long)r->moves,
			  (unsigned long long)(r->move_ns / 1000));
	if (r->consumer_pos)
		munmap(r->consumer_pos, r->page);
	if (r->producer_pos)
		munmap((void *)r->producer_pos, r->page);
	if (r->area)
		munmap(r->area, r->area_len);
	free(r);
}

int pt_ring_next(struct pt_ring *r, const void **data, uint32_t *len, uint64_t *end_pos)
{
	for (;;) {
		uint64_t prod = __atomic_load_n(r->producer_pos, __ATOMIC_ACQUIRE), total;
		const uint8_t *rec;
		uint32_t h, n;
		int err;

		if (r->read_pos >= prod)
			return 0;
		if (!(rec = at(r, r->read_pos, BPF_RINGBUF_HDR_SZ, &err)))
			return err;
		h = __atomic_load_n((const uint32_t *)rec, __ATOMIC_ACQUIRE);
		if (h & BPF_RINGBUF_BUSY_BIT)
			return 0;   /* reserved, not yet committed: records after it wait in order */
		n = h & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
		total = ((uint64_t)n + BPF_RINGBUF_HDR_SZ + 7) & ~7ull;
		if (!(h & BPF_RINGBUF_DISCARD_BIT) && !(rec = at(r, r->read_pos, total, &err)))
			return err;
		r->read_pos += total;
		if (h & BPF_RINGBUF_DISCARD_BIT)
			continue;
		*data = rec + BPF_RINGBUF_HDR_SZ;
		*len = n;
		*end_pos = r->read_pos;
		return 1;
	}
}

void pt_ring_release(struct pt_ring *r, uint64_t pos)
{
	uint64_t cur = __atomic_load_n(r->consumer_pos, __ATOMIC_RELAXED);

	if (pos > r->read_pos)
		pos = r->read_pos;
	if (pos > cur)
		__atomic_store_n(r->consumer_pos, pos, __ATOMIC_RELEASE);
}

uint64_t pt_ring_unread(const struct pt_ring *r)
{
	return __atomic_load_n(r->producer_pos, __ATOMIC_ACQUIRE) - r->read_pos;
}

uint64_t pt_ring_size(const struct pt_ring *r)
{
	return r->mask + 1;
}

uint64_t pt_ring_released(const struct pt_ring *r)
{
	return __atomic_load_n(r->consumer_pos, __ATOMIC_ACQUIRE);
}

uint64_t pt_ring_read_pos(const struct pt_ring *r)
{
	return r->read_pos;
}
