#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "ring.h"

struct pt_ring {
	int map_fd;
	uint64_t mask;
	size_t page;
	uint64_t *consumer_pos;     /* shared with the kernel, RW */
	const uint64_t *producer_pos;
	const uint8_t *data;
	uint64_t read_pos;          /* ours: records before it were handed out */
};

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
	p = mmap(NULL, r->page, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
	if (p == MAP_FAILED) {
		err = -errno;
		goto cleanup;
	}
	r->consumer_pos = p;
	p = mmap(NULL, r->page + 2 * (size_t)info.max_entries, PROT_READ, MAP_SHARED, map_fd,
		 (off_t)r->page);
	if (p == MAP_FAILED) {
		err = -errno;
		goto cleanup;
	}
	r->producer_pos = p;
	r->data = (const uint8_t *)p + r->page;
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
	if (r->consumer_pos)
		munmap(r->consumer_pos, r->page);
	if (r->producer_pos)
		munmap((void *)r->producer_pos, r->page + 2 * (r->mask + 1));
	free(r);
}

int pt_ring_next(struct pt_ring *r, const void **data, uint32_t *len, uint64_t *end_pos)
{
	for (;;) {
		uint64_t prod = __atomic_load_n(r->producer_pos, __ATOMIC_ACQUIRE);
		const uint32_t *hdr;
		uint32_t h, n;

		if (r->read_pos >= prod)
			return 0;
		hdr = (const uint32_t *)(r->data + (r->read_pos & r->mask));
		h = __atomic_load_n(hdr, __ATOMIC_ACQUIRE);
		if (h & BPF_RINGBUF_BUSY_BIT)
			return 0;   /* reserved, not yet committed: records after it wait in order */
		n = h & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
		r->read_pos += ((uint64_t)n + BPF_RINGBUF_HDR_SZ + 7) & ~7ull;
		if (h & BPF_RINGBUF_DISCARD_BIT)
			continue;
		*data = (const uint8_t *)hdr + BPF_RINGBUF_HDR_SZ;
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
