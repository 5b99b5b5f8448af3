/* The sensor's reading thread: ring -> decoded records -> in-order queue -> emit(). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "proctrail/clock.h"
#include "proctrail/escape.h"
#include "proctrail/log.h"
#include "hash.h"
#include "ring.h"
#include "ring_id.h"
#include "sensor-int.h"
#include "sensor_context.h"
#include "sensor_decode.h"

#define INFLIGHT_MAX 4096u
/* Hash jobs not finished, abandoned ones included: beyond this an exec goes out without a hash
 * (counted as PT_LOSS_HASH_QUEUE) rather than queueing more behind stuck reads. */
#define HASH_OUTSTANDING_MAX 1024u

struct slot {
	uint64_t ring_pos;
	bool hashing;              /* job submitted; wait for job->done */
	struct pt_hash_job *job;   /* NULL: no hash could be asked for (reason: unreadable);
				    * &hit, or malloc'd when handed to the hasher */
	struct pt_hash_job hit;    /* the job of a cache hit: no allocation */
	uint64_t deadline_ns;      /* CLOCK_MONOTONIC: give up on the hash after this */
	struct pt_sensor_decoded d;   /* d.rec's strings point into d and into hold */
	struct pt_context_hold hold;
};

struct pt_sensor {
	struct pt_sensor_config cfg;
	char pin_dir[256];
	pt_sensor_emit_fn emit;
	void *ctx;
	struct pt_sensor_kernel k;
	struct pt_ring *ring;
	struct pt_hasher *hasher;
	int wake_fd, epoll_fd;
	volatile sig_atomic_t stop;
	struct pt_sensor_decoder dec;
	struct pt_context *context;
	uint64_t skip_until;
	uint64_t commit_target;    /* atomic: highest position the consumer committed */
	struct slot *slots;
	unsigned head, count;      /* circular queue over slots[cfg.max_inflight] */
	uint64_t user_loss[PT_LOSS_COUNTER_MAX + 1];   /* losses found in user space */
	uint64_t reported[PT_LOSS_COUNTER_MAX + 1];        /* kernel counts reported (also pinned) */
	uint64_t reported_user[PT_LOSS_COUNTER_MAX + 1];   /* user_loss reported */
	uint64_t n_exec, n_exit, hash_timeouts;
	bool unflushed;            /* emitted since the last flush */
};

static void update_clock(struct pt_sensor *s)
{
	s->dec.boot_to_real_ns = pt_boot_to_real_ns();
}

static struct slot *queue_push(struct pt_sensor *s)
{
	struct slot *sl;

	if (s->count == s->cfg.max_inflight)
		return NULL;
	sl = &s->slots[(s->head + s->count) % s->cfg.max_inflight];
	s->count++;
	/* d.rec is cleared by pt_sensor_decode() (or push_loss()), hold by pt_context_apply() */
	memset(sl->hold.img, 0, sizeof(sl->hold.img));
	sl->hashing = false;
	sl->job = NULL;
	return sl;
}

static void count_user_loss(struct pt_sensor *s, unsigned which)
{
	s->user_loss[which]++;
}


/* The cache is asked first with the slot's own job (sl->hit): a hit, nearly every exec, costs
 * no allocation and no copy of the path (the profile at 1,600 exec/s, docs/benchmarks.md).
 * Only a job handed to the hasher is one malloc'd block with copies of its strings, so it can
 * be abandoned to the hasher (which frees it) if its read never returns. */
static void ask_hash(struct pt_sensor *s, struct slot *sl, const char *path)
{
	const struct pt_exec *x = &sl->d.rec.u.exec;
	struct pt_hash_job *job = &sl->hit;
	size_t pl, spl;
	char *p;

	*job = (struct pt_hash_job){
		.id = { x->dev, x->ino, x->size, x->mtime_ns, x->ctime_ns },
		.pid = x->pid,
		.exec_time_ns = x->time_ns,
		.memfd = x->flags & PT_EXEC_F_MEMFD,
		.path = path,
		.script_path = sl->d.script[0] ? sl->d.script : NULL,
	};
	sl->job = job;
	if (pt_hasher_try_cache(s->hasher, job))
		return;
	sl->job = NULL;
	if (pt_hasher_outstanding(s->hasher) >= HASH_OUTSTANDING_MAX) {
		count_user_loss(s, PT_LOSS_HASH_QUEUE);
		return;
	}
	pl = path ? strlen(path) + 1 : 0;
	spl = job->script_path ? strlen(job->script_path) + 1 : 0;
	job = malloc(sizeof(*job) + pl + spl);
	if (!job)
		return;
	*job = sl->hit;   /* with what the cache said (a binary's hash before its script's) */
	p = (char *)(job + 1);
	job->path = NULL;
	if (pl) {
		memcpy(p, path, pl);
		job->path = p;
		p += pl;
	}
	job->script_path = NULL;
	if (spl) {
		memcpy(p, sl->d.script, spl);
		job->script_path = p;
	}
	sl->job = job;
	sl->hashing = true;
	sl->deadline_ns = pt_mono_ns() + (uint64_t)s->cfg.hash_timeout_ms * 1000000u;
	pt_hasher_submit(s->hasher, job);
}

/* The slot's job, unless it is the slot's own (a cache hit) */
static void job_free(struct slot *sl)
{
	if (sl->job != &sl->hit)
		free(sl->job);
	sl->job = NULL;
}

static void push_loss(struct pt_sensor *s, unsigned counter, uint64_t count)
{
	struct slot *sl = queue_push(s);

	if (!sl)
		return;   /* check_loss() leaves room: cannot happen */
	memset(&sl->d.rec, 0, sizeof(sl->d.rec));
	sl->ring_pos = 0;
	sl->d.rec.type = sl->d.rec.wire_type = PT_REC_LOSS;
	sl->d.rec.version = PT_WIRE_VERSION;
	sl->d.rec.u.loss.time_ns = pt_real_ns();
	sl->d.rec.u.loss.counter = (uint16_t)counter;
	sl->d.rec.u.loss.count = count;
}

/* Reads records while the queue has room. Returns how many it took from the ring. */
static unsigned read_ring(struct pt_sensor *s)
{
	const void *data;
	uint32_t len;
	uint64_t pos;
	unsigned n = 0;

	uint64_t now = pt_mono_ns();

	while (s->count < s->cfg.max_inflight && pt_ring_next(s->ring, &data, &len, &pos) == 1) {
		struct slot *sl;

		n++;
		sl = queue_push(s);   /* the loop condition left room */
		if (pt_sensor_decode(&s->dec, data, len, &sl->d)) {
			/* not what our BPF program writes: counted, and the slot given back */
			s->count--;
			if (pos > s->skip_until)
				count_user_loss(s, PT_LOSS_KERNEL_ERROR);
			continue;
		}
		/* in kernel order, records taken before a restart included: they tell the table
		 * about processes that still run */
		pt_context_apply(s->context, &sl->d, &sl->hold, now);
		if (sl->d.is_fork || pos <= s->skip_until) {
			pt_context_release(&sl->hold);
			s->count--;
			continue;
		}
		sl->ring_pos = pos;
		if (sl->d.rec.type == PT_REC_PROCESS_EXEC)
			ask_hash(s, sl, sl->d.hash_path ? sl->d.path : NULL);
	}
	return n;
}

static void finish_exec(struct slot *sl)
{
	struct pt_exec *x = &sl->d.rec.u.exec;
	const struct pt_hash_job *job = sl->job;

	if (!job) {
		/* no job (allocation, too many outstanding) or given up on (timeout) */
		x->hash_status = PT_HASH_UNREADABLE;
		x->script_hash_status = PT_HASH_UNREADABLE;
		return;
	}
	x->hash_status = job->status;
	if (x->hash_status == PT_HASH_OK)
		memcpy(x->sha256, job->sha256, PT_SHA256_LEN);
	if (job->deleted)
		x->flags |= PT_EXEC_F_DELETED;
	if (job->script_path) {
		x->script_hash_status = job->script_status;
		if (x->script_hash_status == PT_HASH_OK)
			memcpy(x->script_sha256, job->script_sha256, PT_SHA256_LEN);
	}
}

/* Emits the completed records at the head of the queue, in kernel order. */
static int emit_ready(struct pt_sensor *s)
{
	while (s->count) {
		struct slot *sl = &s->slots[s->head];
		int r;

		if (sl->hashing && sl->job && !__atomic_load_n(&sl->job->done, __ATOMIC_ACQUIRE)) {
			if (pt_mono_ns() < sl->deadline_ns)
				return 0;
			/* a read that does not return (a hung network file system) must not hold
			 * back every record behind it: go on without the hash */
			if (pt_hasher_abandon(s->hasher, sl->job)) {
				/* the path is a user's file name; any user can make reads hang
				 * (a FUSE mount): escaped, and limited (only this thread logs it) */
				static struct log_ratelimit timeout_log;
				struct pt_esc shown;

				if (log_ratelimit_allow(&timeout_log, "hash timeouts"))
					log_warnx("hash of %s (pid %u) not done after %u ms: sent without it",
						  pt_esc(&shown, sl->d.rec.u.exec.path.ptr,
							 sl->d.rec.u.exec.path.len),
						  sl->d.rec.u.exec.pid, s->cfg.hash_timeout_ms);
				sl->job = NULL;
				s->hash_timeouts++;
			}
		}
		if (sl->d.rec.type == PT_REC_PROCESS_EXEC)
			finish_exec(sl);
		r = s->emit(s->ctx, &sl->d.rec, sl->ring_pos);
		if (r)
			return r;
		job_free(sl);
		sl->hashing = false;
		pt_context_release(&sl->hold);
		s->unflushed = true;
		s->n_exec += sl->d.rec.type == PT_REC_PROCESS_EXEC;
		s->n_exit += sl->d.rec.type == PT_REC_PROCESS_EXIT;
		s->head = (s->head + 1) % s->cfg.max_inflight;
		s->count--;
	}
	return 0;
}

/* Turns counter growth into loss records. Kernel counts live as long as the pinned map, so what
 * was reported of them is kept in the map too (a restarted agent reports only new ones); the
 * sensor's own counts start at 0 with each run and are tracked here. */
static void check_loss(struct pt_sensor *s)
{
	for (unsigned c = 1; c <= PT_LOSS_COUNTER_MAX; c++) {
		uint64_t kernel = 0, delta;

		if (s->count >= s->cfg.max_inflight)
			return;
		if ((c == PT_LOSS_RING_FULL || c == PT_LOSS_KERNEL_ERROR) &&
		    pt_sensor_kernel_read_loss(s->k.loss_fd, c, &kernel))
			continue;
		if (kernel < s->reported[c])
			s->reported[c] = kernel;   /* a map that is not the one reported on */
		delta = (kernel - s->reported[c]) + (s->user_loss[c] - s->reported_user[c]);
		if (!delta)
			continue;
		push_loss(s, c, delta);
		s->reported_user[c] = s->user_loss[c];
		if (kernel != s->reported[c]) {
			s->reported[c] = kernel;
			pt_sensor_kernel_write_loss(s->k.loss_fd, PT_K_LOSS_REPORTED_BASE + c, kernel);
		}
	}
}

int pt_sensor_counters(struct pt_sensor *s, uint64_t totals[PT_LOSS_COUNTER_MAX + 1])
{
	for (unsigned c = 0; c <= PT_LOSS_COUNTER_MAX; c++) {
		uint64_t v = 0;

		if (c == PT_LOSS_RING_FULL || c == PT_LOSS_KERNEL_ERROR) {
			int err = pt_sensor_kernel_read_loss(s->k.loss_fd, c, &v);

			if (err)
				return err;
		}
		totals[c] = v + s->user_loss[c];
	}
	return 0;
}

void pt_sensor_skip_until(struct pt_sensor *s, uint64_t ring_pos)
{
	s->skip_until = ring_pos;
	pt_sensor_commit(s, ring_pos);
}

void pt_sensor_commit(struct pt_sensor *s, uint64_t ring_pos)
{
	uint64_t cur = __atomic_load_n(&s->commit_target, __ATOMIC_RELAXED);

	while (ring_pos > cur &&
	       !__atomic_compare_exchange_n(&s->commit_target, &cur, ring_pos, false,
					    __ATOMIC_RELEASE, __ATOMIC_RELAXED))
		;
}

void pt_sensor_stop(struct pt_sensor *s)
{
	uint64_t one = 1;

	s->stop = 1;
	if (write(s->wake_fd, &one, sizeof(one)) < 0) {
		/* eventfd overflow only: the loop is awake */
	}
}

int pt_sensor_run(struct pt_sensor *s)
{
	struct epoll_event ev[4];
	uint64_t last_loss_s = 0, now_s;
	int err = 0;

	while (!s->stop) {
		uint64_t drain;
		unsigned got;
		int n, timeout;

		update_clock(s);
		got = read_ring(s);
		err = emit_ready(s);
		if (err)
			break;
		pt_ring_release(s->ring, __atomic_load_n(&s->commit_target, __ATOMIC_ACQUIRE));
		now_s = pt_mono_ns() / 1000000000ull;
		if (now_s != last_loss_s) {
			last_loss_s = now_s;
			check_loss(s);
		}
		/* more is waiting and there is room: go on without sleeping (not when the next record
		 * is still being written: that would spin) */
		if (got && s->count < s->cfg.max_inflight && pt_ring_unread(s->ring))
			continue;
		if (s->unflushed && s->cfg.flush) {
			s->unflushed = false;
			err = s->cfg.flush(s->ctx);
			if (err)
				break;
			pt_ring_release(s->ring, __atomic_load_n(&s->commit_target, __ATOMIC_ACQUIRE));
		}
		timeout = (int)s->cfg.poll_ms;
		n = epoll_wait(s->epoll_fd, ev, 4, timeout);
		if (n < 0 && errno != EINTR) {
			err = -errno;
			break;
		}
		if (read(s->wake_fd, &drain, sizeof(drain)) < 0) {
			/* EAGAIN: nothing signalled */
		}
	}
	update_clock(s);
	return err;
}

int pt_sensor_open(const struct pt_sensor_config *cfg, pt_sensor_emit_fn emit, void *ctx,
		   struct pt_sensor **out)
{
	struct pt_sensor *s;
	struct epoll_event ev = { 0 };
	uint8_t boot_id[PT_BOOT_ID_LEN];
	int err, n;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->k.ring_fd = s->k.loss_fd = s->k.lock_fd = -1;
	s->wake_fd = s->epoll_fd = -1;
	s->cfg = *cfg;
	if (!s->cfg.hash_workers)
		s->cfg.hash_workers = 2;
	if (!s->cfg.hash_max_bytes)
		s->cfg.hash_max_bytes = 256ull << 20;
	if (!s->cfg.poll_ms)
		s->cfg.poll_ms = 100;
	if (!s->cfg.ring_bytes)
		s->cfg.ring_bytes = 16u << 20;
	if (!s->cfg.cache_entries)
		s->cfg.cache_entries = 4096;
	if (!s->cfg.max_inflight)
		s->cfg.max_inflight = 128;
	if (!s->cfg.hash_timeout_ms)
		s->cfg.hash_timeout_ms = 10000;
	n = snprintf(s->pin_dir, sizeof(s->pin_dir), "%s", cfg->pin_dir ? cfg->pin_dir : PT_SENSOR_PIN_DIR);
	if (n < 0 || (size_t)n >= sizeof(s->pin_dir) || s->cfg.max_inflight > INFLIGHT_MAX ||
	    (s->cfg.ring_bytes & (s->cfg.ring_bytes - 1)) || s->cfg.ring_bytes < 4096 ||
	    s->cfg.ring_bytes > (1u << 30)) {
		err = -EINVAL;
		goto cleanup;
	}
	s->emit = emit;
	s->ctx = ctx;
	err = pt_boot_id(boot_id);
	if (err) {
		log_warnx("read boot id: %s", strerror(-err));
		goto cleanup;
	}
	err = pt_sensor_decoder_init(&s->dec, boot_id);
	if (err)
		goto cleanup;

	update_clock(s);
	s->slots = calloc(s->cfg.max_inflight, sizeof(*s->slots));
	if (!s->slots) {
		err = -ENOMEM;
		goto cleanup;
	}
	s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	s->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (s->wake_fd < 0 || s->epoll_fd < 0) {
		err = -errno;
		goto cleanup;
	}
	err = pt_sensor_kernel_open(s->pin_dir, s->cfg.ring_bytes, &s->k);
	if (err)
		goto cleanup;
	/* seeded once the programs are attached (a process started during the load is then in
	 * /proc or in the ring, never in neither) and before the first record is read: the
	 * ring's backlog then updates it in kernel order */
	err = pt_context_new(s->cfg.proc_table_max, NULL, NULL, &s->context);
	if (err)
		goto cleanup;
	err = pt_ring_open(s->k.ring_fd, &s->ring);
	if (err) {
		log_warnx("map the ring buffer: %s", strerror(-err));
		goto cleanup;
	}
	/* edge-triggered: the kernel reports the ring readable whenever records are unreleased,
	 * which is always true while a consumer holds uncommitted records */
	ev.events = EPOLLIN | EPOLLET;
	if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, s->k.ring_fd, &ev) < 0) {
		err = -errno;
		goto cleanup;
	}
	ev.events = EPOLLIN;
	if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, s->wake_fd, &ev) < 0) {
		err = -errno;
		goto cleanup;
	}
	err = pt_hasher_new(s->cfg.hash_workers, s->cfg.hash_max_bytes, s->cfg.cache_entries,
			    s->wake_fd, &s->hasher);
	if (err)
		goto cleanup;
	for (unsigned c = 1; c <= PT_LOSS_COUNTER_MAX; c++)
		pt_sensor_kernel_read_loss(s->k.loss_fd, PT_K_LOSS_REPORTED_BASE + c, &s->reported[c]);
	log_debug("sensor %s: ring %llu bytes, %llu unread, released at %llu",
		  s->k.reused ? "reused the pinned programs" : "loaded",
		  (unsigned long long)pt_ring_size(s->ring), (unsigned long long)pt_ring_unread(s->ring),
		  (unsigned long long)pt_ring_released(s->ring));
	*out = s;
	s = NULL;
	err = 0;
cleanup:
	pt_sensor_free(s);
	return err;
}

void pt_sensor_stats(struct pt_sensor *s, struct pt_sensor_stats *st)
{
	struct pt_hash_stats h;

	pt_hasher_stats(s->hasher, &h);
	struct pt_context_stats c;

	pt_context_stats(s->context, &c);
	*st = (struct pt_sensor_stats){ s->n_exec, s->n_exit, h.hits, h.misses, h.hashed_bytes,
					s->hash_timeouts, c.table.live, c.table.seeded,
					c.table.evicted, c.parent_unknown };
}

void pt_sensor_free(struct pt_sensor *s)
{
	if (!s)
		return;
	/* the workers may still hold queued jobs: join them (they finish every job) first */
	pt_hasher_free(s->hasher);
	for (unsigned i = 0; s->slots && i < s->count; i++) {
		job_free(&s->slots[(s->head + i) % s->cfg.max_inflight]);
		pt_context_release(&s->slots[(s->head + i) % s->cfg.max_inflight].hold);
	}
	if (s->ring)
		pt_ring_release(s->ring, __atomic_load_n(&s->commit_target, __ATOMIC_ACQUIRE));
	pt_ring_close(s->ring);
	pt_sensor_kernel_close(&s->k);
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	if (s->epoll_fd >= 0)
		close(s->epoll_fd);
	free(s->slots);
	pt_context_free(s->context);
	pt_sensor_decoder_fini(&s->dec);
	free(s);
}
