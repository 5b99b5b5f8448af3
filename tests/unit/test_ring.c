/* agent/ring: the reader maps a moving window of the ring, not all of it. Records written by a
 * real BPF program (a syscall program run by BPF_PROG_TEST_RUN, so the sizes and the contents
 * are chosen here) come back whole, in order, byte for byte, at contiguous positions, over
 * several laps of the ring, with backlogs larger than the window, after a reopen at a position
 * that is not page-aligned, and for records wider than the window. Needs root (BPF). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "../../agent/ring.h"

#define DATA_MAX 60000u        /* the largest sample the program writes */
#define RECS_MAX 65536u

struct fixture {
	int ring_fd, src_fd, prog_fd;
	uint8_t *src;              /* u32 length, pad, sample: the array map's value */
	uint32_t size;
	uint32_t lens[RECS_MAX];   /* sample length of record seq */
	uint64_t ends[RECS_MAX];   /* ring position just past record seq */
	uint32_t written;
};

/* r0 = bpf_ringbuf_output(ring, &src[8], *(u32 *)src, 0), src the value of array[0] */
static int load_prog(int src_fd, int ring_fd)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ST | BPF_MEM | BPF_W, .dst_reg = 10, .off = -4, .imm = 0 },
		{ .code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = 1, .src_reg = BPF_PSEUDO_MAP_FD,
		  .imm = src_fd },
		{ 0 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = 2, .src_reg = 10 },
		{ .code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = 2, .imm = -4 },
		{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_map_lookup_elem },
		{ .code = BPF_JMP | BPF_JEQ | BPF_K, .dst_reg = 0, .off = 10, .imm = 0 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = 6, .src_reg = 0 },
		{ .code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = 3, .src_reg = 6, .off = 0 },
		{ .code = BPF_JMP | BPF_JGT | BPF_K, .dst_reg = 3, .off = 7, .imm = DATA_MAX },
		{ .code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = 1, .src_reg = BPF_PSEUDO_MAP_FD,
		  .imm = ring_fd },
		{ 0 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = 2, .src_reg = 6 },
		{ .code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = 2, .imm = 8 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 4, .imm = 0 },
		{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_ringbuf_output },
		{ .code = BPF_JMP | BPF_EXIT },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = -1 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	static char logbuf[65536];
	LIBBPF_OPTS(bpf_prog_load_opts, o, .prog_flags = BPF_F_SLEEPABLE, .log_buf = logbuf,
		    .log_size = sizeof(logbuf), .log_level = 1);
	int fd = bpf_prog_load(BPF_PROG_TYPE_SYSCALL, "pt_ring_test", "GPL", insns,
			       sizeof(insns) / sizeof(insns[0]), &o);

	if (fd < 0)
		print_message("prog load: %s\n%s\n", strerror(errno), logbuf);
	return fd;
}

static uint8_t byte_of(uint32_t seq, uint32_t i)
{
	return (uint8_t)(seq * 131u + i * 7u + (i >> 8));
}

static int setup_size(void **state, uint32_t size)
{
	struct fixture *f;

	*state = NULL;
	if (geteuid() != 0)
		return 0;   /* the test skips */
	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->size = size;
	f->src = calloc(1, 8 + DATA_MAX);
	assert_non_null(f->src);
	f->ring_fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "pt_ring_test", 0, 0, size, NULL);
	f->src_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "pt_ring_src", 4, 8 + DATA_MAX, 1, NULL);
	assert_true(f->ring_fd >= 0 && f->src_fd >= 0);
	f->prog_fd = load_prog(f->src_fd, f->ring_fd);
	assert_true(f->prog_fd >= 0);
	*state = f;
	return 0;
}

static int setup_4m(void **state) { return setup_size(state, 4u << 20); }
static int setup_16k(void **state) { return setup_size(state, 16384); }

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (!f)
		return 0;
	close(f->prog_fd);
	close(f->src_fd);
	close(f->ring_fd);
	free(f->src);
	free(f);
	return 0;
}

/* Writes record f->written with a sample of len bytes. Returns the program's result: 0, or
 * -EAGAIN when the ring has no room (then nothing was written). */
static int produce(struct fixture *f, uint32_t len)
{
	LIBBPF_OPTS(bpf_test_run_opts, o);
	uint32_t seq = f->written, k = 0;

	assert_true(seq < RECS_MAX && len <= DATA_MAX);
	memcpy(f->src, &len, 4);
	for (uint32_t i = 0; i < len; i++)
		f->src[8 + i] = byte_of(seq, i);
	assert_int_equal(bpf_map_update_elem(f->src_fd, &k, f->src, 0), 0);
	assert_int_equal(bpf_prog_test_run_opts(f->prog_fd, &o), 0);
	if ((int)o.retval)
		return (int)o.retval;
	f->lens[seq] = len;
	f->ends[seq] = (seq ? f->ends[seq - 1] : 0) + ((len + BPF_RINGBUF_HDR_SZ + 7u) & ~7u);
	f->written++;
	return 0;
}

static void expect(struct fixture *f, struct pt_ring *r, uint32_t seq)
{
	const uint8_t *d;
	const void *data;
	uint32_t len;
	uint64_t end;

	assert_int_equal(pt_ring_next(r, &data, &len, &end), 1);
	assert_int_equal(len, f->lens[seq]);
	assert_int_equal(end, f->ends[seq]);
	d = data;
	for (uint32_t i = 0; i < len; i++)
		if (d[i] != byte_of(seq, i))
			fail_msg("record %u byte %u of %u: %02x, wrote %02x", seq, i, len, d[i],
				 byte_of(seq, i));
}

/* Bytes of this process's address space mapped from BPF maps: the ring is the only map it maps. */
static uint64_t bpf_mapped(void)
{
	FILE *fp = fopen("/proc/self/maps", "r");
	char line[512];
	uint64_t sum = 0;

	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp)) {
		unsigned long a, b;

		if (strstr(line, "bpf-map") && sscanf(line, "%lx-%lx", &a, &b) == 2)
			sum += b - a;
	}
	fclose(fp);
	return sum;
}

static uint32_t rnd(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(*s >> 33);
}

static uint32_t rnd_len(uint64_t *s)
{
	uint32_t p = rnd(s) % 100;

	if (p < 70)
		return rnd(s) % 500;
	if (p < 95)
		return 500 + rnd(s) % 7500;
	return 8000 + rnd(s) % (DATA_MAX - 8000 + 1);
}

/* Three and a half laps of a 4 MiB ring with 1 MiB windows: backlogs of up to 3.5 MiB read
 * before anything is released, a reopen every few rounds at the last release (which is not
 * page-aligned), and never more than the window (plus a record) mapped. */
static void window_moves_over_laps(void **state)
{
	struct fixture *f = *state;
	struct pt_ring *r = NULL;
	uint64_t seed = 42, page = (uint64_t)sysconf(_SC_PAGESIZE), most = 0;
	uint32_t next = 0, released = 0, round = 0;   /* next to read; records released */

	if (!f)
		skip();   /* needs root: BPF maps and programs */
	assert_int_equal(pt_ring_open(f->ring_fd, &r), 0);
	assert_int_equal(pt_ring_size(r), f->size);
	while (f->written == 0 || f->ends[f->written - 1] < 14u * (1u << 20)) {
		uint32_t want = 1 + rnd(&seed) % ((7u << 19) / 2900);   /* up to ~3.5 MiB */
		const void *data;
		uint32_t len, keep;
		uint64_t end;

		for (uint32_t i = 0; i < want; i++)
			if (produce(f, rnd_len(&seed)))
				break;
		while (next < f->written)
			expect(f, r, next++);
		assert_int_equal(pt_ring_next(r, &data, &len, &end), 0);
		if (bpf_mapped() > most)
			most = bpf_mapped();
		/* release all, or keep the last few read (a consumer that has not made them durable) */
		keep = round % 3 ? 0 : rnd(&seed) % (next - released + 1);
		if (next - keep > released) {
			released = next - keep;
			pt_ring_release(r, f->ends[released - 1]);
			assert_int_equal(pt_ring_released(r), f->ends[released - 1]);
		}
		if (round % 4 == 3) {
			/* a restart reads again what was not released */
			pt_ring_close(r);
			r = NULL;
			assert_int_equal(pt_ring_open(f->ring_fd, &r), 0);
			next = released;
			assert_int_equal(pt_ring_read_pos(r), released ? f->ends[released - 1] : 0);
		}
		round++;
	}
	while (next < f->written)
		expect(f, r, next++);
	assert_true(f->ends[f->written - 1] > 3 * (uint64_t)f->size);
	/* consumer and producer pages, the window, and at most a record's worth more */
	assert_true(most >= (1u << 20));
	if (most > 2 * page + (1u << 20) + DATA_MAX + page)
		fail_msg("%llu bytes of the ring mapped", (unsigned long long)most);
	pt_ring_close(r);
}

/* A 16 KiB ring: the window is the ring's size, and a record that starts late in a page and is
 * nearly as long as the ring needs a wider window (up to size + page), then a normal one again. */
static void record_wider_than_window(void **state)
{
	struct fixture *f = *state;
	struct pt_ring *r = NULL;
	uint64_t seed = 7;
	uint32_t next = 0;

	if (!f)
		skip();
	assert_int_equal(pt_ring_open(f->ring_fd, &r), 0);
	assert_int_equal(produce(f, 4000 - BPF_RINGBUF_HDR_SZ), 0);
	expect(f, r, next++);
	pt_ring_release(r, f->ends[next - 1]);
	assert_int_equal(produce(f, 14000 - BPF_RINGBUF_HDR_SZ), 0);   /* 4000 + 14000 > 16384 */
	expect(f, r, next++);
	pt_ring_release(r, f->ends[next - 1]);
	for (int i = 0; i < 2000; i++) {
		/* the kernel takes a record while it needs at most size - 8 bytes */
		uint32_t len = rnd(&seed) % 2 ? rnd(&seed) % 16369 : rnd(&seed) % 600;

		assert_int_equal(produce(f, len), 0);
		expect(f, r, next++);
		if (rnd(&seed) % 5 == 0) {
			pt_ring_close(r);
			r = NULL;
			assert_int_equal(pt_ring_open(f->ring_fd, &r), 0);
			expect(f, r, next - 1);   /* not released: read again */
		}
		pt_ring_release(r, f->ends[next - 1]);
	}
	assert_true(f->ends[next - 1] > 100u * f->size);
	pt_ring_close(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(window_moves_over_laps, setup_4m, teardown),
		cmocka_unit_test_setup_teardown(record_wider_than_window, setup_16k, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
