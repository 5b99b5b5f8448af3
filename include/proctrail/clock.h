#ifndef PROCTRAIL_CLOCK_H
#define PROCTRAIL_CLOCK_H
/* The clocks proctrail reads, in one place.
 *
 * Monotonic time measures intervals: timeouts, backoff, rates. Real (wall) time is what records
 * and logs carry. Boot time is what the kernel stamps BPF records with (bpf_ktime_get_boot_ns),
 * so the sensor converts it to real time with pt_boot_to_real_ns(). */
#include <stdint.h>
#include <time.h>

static inline uint64_t pt_clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t pt_mono_ns(void) { return pt_clock_ns(CLOCK_MONOTONIC); }
static inline uint64_t pt_mono_ms(void) { return pt_mono_ns() / 1000000ull; }
static inline double pt_mono_s(void) { return (double)pt_mono_ns() / 1e9; }
static inline uint64_t pt_real_ns(void) { return pt_clock_ns(CLOCK_REALTIME); }

/* Real minus boot time now: add it to a boot-time stamp to get real time. It moves when the
 * wall clock is set, so callers refresh it rather than keep it. */
static inline int64_t pt_boot_to_real_ns(void)
{
	struct timespec rt, bt;

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_BOOTTIME, &bt);
	return ((int64_t)rt.tv_sec - bt.tv_sec) * 1000000000ll + (rt.tv_nsec - bt.tv_nsec);
}
#endif
