/* The sensor's reading thread: ring -> decoded records -> in-order queue -> emit(). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "proctrail.h"
#include "proctrail/log.h"
#include "hash.h"
#include "ring.h"
#include "sensor.h"

#define INFLIGHT_MAX 4096u
/* Hash jobs not finished, abandoned ones included: beyond this an exec goes out without a hash
 * (counted as PT_LOSS_HASH_QUEUE) rather than queueing more behind stuck reads. */
#define HASH_OUTSTANDING_MAX 1024u

struct slot {
	struct pt_record rec;
	uint64_t ring_pos;
	bool hashing;              /* job submitted; wait for job->done */
	struct pt_hash_job *job;   /* NULL: no hash could be asked for (reason: unreadable) */
	uint64_t deadline_ns;      /* CLOCK_MONOTONIC: give up on the hash after this */
	char path[PT_PATH_MAX + 1];
	char cwd[PT_PATH_MAX + 1];
	char script[PT_PATH_MAX + 1];
	char argv[PT_K_ARGV_MAX + 1];
	char comm[PT_COMM_MAX + 1];
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
	uint8_t boot_id[PT_BOOT_ID_LEN];
	int64_t boot_to_real_ns;
	uint64_t skip_until;
	uint64_t commit_target;    /* atomic: highest position the consumer committed */
	struct slot *slots;
	unsigned head, count;      /* circular queue over slots[cfg.max_inflight] */
	uint64_t user_loss[PT_LOSS_COUNTER_MAX + 1];   /* losses found in user space */
	uint64_t reported[PT_LOSS_COUNTER_MAX + 1];        /* kernel counts reported (also pinned) */
	uint64_t reported_user[PT_LOSS_COUNTER_MAX + 1];   /* user_loss reported */
	uint64_t n_exec, n_exit, hash_timeouts;
	bool unflushed;            /* emitted since the last flush */
	EVP_MD_CTX *md_ctx;        /* entity ids: one context reused, not one allocated per id */
	EVP_MD *md;
	/* Recent entity ids: a process's exit, and most parents, repeat an id just computed. */
	struct eid_entry {
		uint64_t start;
		uint32_t tgid;
		uint8_t id[PT_ENTITY_ID_LEN];
	} eid_cache[256];
};

static int read_boot_id(uint8_t out[PT_BOOT_ID_LEN])
{
	char text[64];
	unsigned n = 0;
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
	int err = -EINVAL;

	if (!f)
		return -errno;
	if (!fgets(text, sizeof(text), f))
		goto cleanup;
	for (const char *p = text; *p && n < 2 * PT_BOOT_ID_LEN; p++) {
		int v;

		if (*p == '-')
			continue;
		if (*p >= '0' && *p <= '9')
			v = *p - '0';
		else if (*p >= 'a' && *p <= 'f')
			v = *p - 'a' + 10;
		else
			break;
		if (n % 2 == 0)
			out[n / 2] = (uint8_t)(v << 4);
		else
			out[n / 2] |= (uint8_t)v;
		n++;
	}
	if (n == 2 * PT_BOOT_ID_LEN)
		err = 0;
cleanup:
	fclose(f);
	return err;
}

static void entity_id(struct pt_sensor *s, uint32_t tgid, uint64_t start_boottime,
		      uint8_t out[PT_ENTITY_ID_LEN])
{
	uint8_t in[PT_BOOT_ID_LEN + 4 + 8], sha[PT_SHA256_LEN];

	unsigned int n = 0;
	struct eid_entry *c = &s->eid_cache[(tgid ^ (start_boottime >> 6) ^ (start_boottime >> 20)) & 255];

	if (c->tgid == tgid && c->start == start_boottime && start_boottime) {
		memcpy(out, c->id, PT_ENTITY_ID_LEN);
		return;
	}
	memcpy(in, s->boot_id, PT_BOOT_ID_LEN);
	pt_be32_put(in + PT_BOOT_ID_LEN, tgid);
	pt_be64_put(in + PT_BOOT_ID_LEN + 4, start_boottime);
	if (!EVP_DigestInit_ex(s->md_ctx, s->md, NULL) || !EVP_DigestUpdate(s->md_ctx, in, sizeof(in)) ||
	    !EVP_DigestFinal_ex(s->md_ctx, sha, &n))
		memset(sha, 0, sizeof(sha));
	memcpy(out, sha, PT_ENTITY_ID_LEN);
	c->tgid = tgid;
	c->start = start_boottime;
	memcpy(c->id, sha, PT_ENTITY_ID_LEN);
}

static void update_clock(struct pt_sensor *s)
{
	struct timespec rt, bt;

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_BOOTTIME, &bt);
	s->boot_to_real_ns = ((int64_t)rt.tv_sec - bt.tv_sec) * 1000000000ll + (rt.tv_nsec - bt.tv_nsec);
}

static uint64_t to_real(const struct pt_sensor *s, uint64_t boot_ns)
{
	return (uint64_t)((int64_t)boot_ns + s->boot_to_real_ns);
}

/* Components come leaf first (see bpf/proctrail.h); writes "/a/b/c", or for a file on an
 * internal mount its bare name ("memfd:x"). When the kernel stopped before the root (cut), the
 * top is unknown and the path starts with ".../" so nobody takes it for an absolute path.
 * Returns the length; sets *trunc when the output buffer cut it. */
static size_t join_components(const char *p, uint32_t len, bool bare, bool cut, char *out,
			      size_t cap, bool *trunc)
{
	const char *comp[PT_K_DEPTH_MAX + 1];
	unsigned n = 0;
	size_t o = 0;

	for (uint32_t i = 0; i < len && n < PT_K_DEPTH_MAX + 1;) {
		size_t l = strnlen(p + i, len - i);

		comp[n++] = p + i;
		i += (uint32_t)l + 1;
	}
	if (cut) {
		memcpy(out, "...", 3);
		o = 3;
		bare = false;
	}
	if (n == 0 && !bare && !cut)
		out[o++] = '/';
	for (unsigned j = n; j-- > 0;) {
		size_t l = strnlen(comp[j], (size_t)(p + len - comp[j]));

		if (!(bare && j == n - 1)) {
			if (o + 1 >= cap) {
				*trunc = true;
				break;
			}
			out[o++] = '/';
		}
		if (o + l >= cap) {
			l = cap - 1 - o;
			*trunc = true;
		}
		memcpy(out + o, comp[j], l);
		o += l;
	}
	out[o] = '\0';
	return o;
}

/* Drops "." components and repeated slashes in place. ".." stays: with symlinks on the way
 * it is not a lexical operation. */
static void drop_dot_components(char *p)
{
	char *r = p, *w = p;

	while (*r) {
		if (r[0] == '/' && (r[1] == '/' || (r[1] == '.' && (r[2] == '/' || r[2] == '\0')))) {
			r += r[1] == '/' ? 1 : 2;
			continue;
		}
		*w++ = *r++;
	}
	if (w == p && *p)
		*w++ = '/';
	*w = '\0';
}

static struct pt_str str_of(const char *p, size_t n)
{
	return (struct pt_str){ p, (uint32_t)n };
}

static struct slot *queue_push(struct pt_sensor *s)
{
	struct slot *sl;

	if (s->count == s->cfg.max_inflight)
		return NULL;
	sl = &s->slots[(s->head + s->count) % s->cfg.max_inflight];
	s->count++;
	memset(&sl->rec, 0, sizeof(sl->rec));
	sl->hashing = false;
	sl->job = NULL;
	return sl;
}

static void count_user_loss(struct pt_sensor *s, unsigned which)
{
	s->user_loss[which]++;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The job is one malloc'd block with copies of its strings, so it can be abandoned to the
 * hasher (which frees it) if its read never returns. */
static void ask_hash(struct pt_sensor *s, struct slot *sl, const char *path)
{
	const struct pt_exec *x = &sl->rec.u.exec;
	size_t pl = path ? strlen(path) + 1 : 0, spl = sl->script[0] ? strlen(sl->script) + 1 : 0;
	struct pt_hash_job *job = calloc(1, sizeof(*job) + pl + spl);
	char *p;

	sl->job = job;
	if (!job)
		return;
	p = (char *)(job + 1);
	if (pl) {
		memcpy(p, path, pl);
		job->path = p;
		p += pl;
	}
	if (spl) {
		memcpy(p, sl->script, spl);
		job->script_path = p;
	}
	job->id = (struct pt_file_id){ x->dev, x->ino, x->size, x->mtime_ns, x->ctime_ns };
	job->pid = x->pid;
	job->memfd = x->flags & PT_EXEC_F_MEMFD;
	if (pt_hasher_try_cache(s->hasher, job))
		return;
	if (pt_hasher_outstanding(s->hasher) >= HASH_OUTSTANDING_MAX) {
		count_user_loss(s, PT_LOSS_HASH_QUEUE);
		free(job);
		sl->job = NULL;
		return;
	}
	sl->hashing = true;
	sl->deadline_ns = mono_ns() + (uint64_t)s->cfg.hash_timeout_ms * 1000000u;
	pt_hasher_submit(s->hasher, job);
}

static void decode_exec(struct pt_sensor *s, const struct pt_k_exec *e, uint32_t len, uint64_t pos)
{
	const char *data = (const char *)(e + 1);
	struct slot *sl;
	struct pt_exec *x;
	bool trunc = false, cwd_trunc = false;
	size_t n, plen, clen;
	uint32_t off;

	if ((uint64_t)sizeof(*e) + e->path_len + e->cwd_len + e->argv_len + e->fname_len > len) {
		count_user_loss(s, PT_LOSS_KERNEL_ERROR);
		return;
	}
	sl = queue_push(s);   /* the caller checked there is room */
	sl->ring_pos = pos;
	sl->rec.type = sl->rec.wire_type = PT_REC_PROCESS_EXEC;
	sl->rec.version = PT_WIRE_VERSION;
	x = &sl->rec.u.exec;
	x->time_ns = to_real(s, e->h.time_boot_ns);
	x->start_ns = e->h.start_boottime;
	x->cgroup_id = e->cgroup_id;
	x->pid = e->h.tgid;
	x->tid = e->tid;
	x->ppid = e->ppid;
	x->uid = e->uid;
	x->euid = e->euid;
	x->gid = e->gid;
	x->egid = e->egid;
	entity_id(s, e->h.tgid, e->h.start_boottime, x->entity_id);
	entity_id(s, e->ppid, e->parent_start_boottime, x->parent_entity_id);

	plen = join_components(data, e->path_len, e->kflags & PT_K_F_INTERNAL_MNT,
			       e->kflags & PT_K_F_PATH_TRUNC, sl->path, sizeof(sl->path), &trunc);
	off = e->path_len;
	clen = join_components(data + off, e->cwd_len, e->kflags & PT_K_F_CWD_INTERNAL,
			       e->kflags & PT_K_F_CWD_TRUNC, sl->cwd, sizeof(sl->cwd), &cwd_trunc);
	off += e->cwd_len;
	x->path = str_of(sl->path, plen);
	x->cwd = str_of(sl->cwd, clen);

	memcpy(sl->argv, data + off, e->argv_len);
	n = e->argv_len;
	if (n && sl->argv[n - 1] != '\0')
		sl->argv[n++] = '\0';   /* cut inside an argument: close it */
	x->argv = str_of(sl->argv, n);
	x->args_count = e->argc;
	off += e->argv_len;

	n = strnlen(e->comm, sizeof(e->comm));
	memcpy(sl->comm, e->comm, n);
	sl->comm[n] = '\0';
	x->comm = str_of(sl->comm, n);

	x->flags = 0;
	if (trunc || (e->kflags & PT_K_F_PATH_TRUNC))
		x->flags |= PT_EXEC_F_PATH_TRUNCATED;
	if (cwd_trunc || (e->kflags & PT_K_F_CWD_TRUNC))
		x->flags |= PT_EXEC_F_CWD_TRUNCATED;
	if (e->kflags & PT_K_F_ARGV_TRUNC)
		x->flags |= PT_EXEC_F_ARGV_TRUNCATED;
	if ((e->kflags & PT_K_F_INTERNAL_MNT) && !strncmp(sl->path, "memfd:", 6))
		x->flags |= PT_EXEC_F_MEMFD;
	if (e->euid != e->uid)
		x->flags |= PT_EXEC_F_SETUID;
	if (e->egid != e->gid)
		x->flags |= PT_EXEC_F_SETGID;
	if (e->kflags & PT_K_F_UNLINKED)
		x->flags |= PT_EXEC_F_DELETED;
	x->mode = e->mode;
	x->dev = makedev(e->dev >> 20, e->dev & 0xfffff);
	x->ino = e->ino;
	x->size = e->size;
	/* since 6.13 the kernel keeps a flag in bit 31 of the ctime nanoseconds (multigrain
	 * timestamps, I_CTIME_QUERIED); nanoseconds fit in 30 bits */
	x->mtime_ns = (uint64_t)e->mtime_sec * 1000000000ull + (e->mtime_nsec & 0x3fffffffu);
	x->ctime_ns = (uint64_t)e->ctime_sec * 1000000000ull + (e->ctime_nsec & 0x3fffffffu);

	sl->script[0] = '\0';
	if ((e->kflags & PT_K_F_SCRIPT) && e->fname_len) {
		const char *fn = data + off;
		size_t fl = strnlen(fn, e->fname_len);
		int w;

		/* relative script names are relative to the cwd at exec (the kernel opened them so) */
		if (fn[0] == '/' || !clen || (e->kflags & (PT_K_F_CWD_INTERNAL | PT_K_F_CWD_TRUNC)))
			w = snprintf(sl->script, sizeof(sl->script), "%.*s", (int)fl, fn);
		else
			w = snprintf(sl->script, sizeof(sl->script), "%s/%.*s",
				     strcmp(sl->cwd, "/") ? sl->cwd : "", (int)fl, fn);
		if (w < 0)
			sl->script[0] = '\0';
		if (sl->script[0] == '/')
			drop_dot_components(sl->script);
		x->script_path = str_of(sl->script, strlen(sl->script));
	}

	ask_hash(s, sl, (e->kflags & PT_K_F_INTERNAL_MNT) ? NULL : sl->path);
}

static void decode_exit(struct pt_sensor *s, const struct pt_k_exit *e, uint64_t pos)
{
	struct slot *sl = queue_push(s);
	struct pt_exit *x;
	size_t n;

	sl->ring_pos = pos;
	sl->rec.type = sl->rec.wire_type = PT_REC_PROCESS_EXIT;
	sl->rec.version = PT_WIRE_VERSION;
	x = &sl->rec.u.exit;
	x->time_ns = to_real(s, e->h.time_boot_ns);
	x->start_ns = e->h.start_boottime;
	x->pid = e->h.tgid;
	x->signal = e->exit_status & 0x7f;
	x->code = x->signal ? 0 : (e->exit_status >> 8) & 0xff;
	entity_id(s, e->h.tgid, e->h.start_boottime, x->entity_id);
	n = strnlen(e->comm, sizeof(e->comm));
	memcpy(sl->comm, e->comm, n);
	sl->comm[n] = '\0';
	x->comm = str_of(sl->comm, n);
}

static void push_loss(struct pt_sensor *s, unsigned counter, uint64_t count)
{
	struct slot *sl = queue_push(s);
	struct timespec ts;

	sl->ring_pos = 0;
	sl->rec.type = sl->rec.wire_type = PT_REC_LOSS;
	sl->rec.version = PT_WIRE_VERSION;
	clock_gettime(CLOCK_REALTIME, &ts);
	sl->rec.u.loss.time_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	sl->rec.u.loss.counter = (uint16_t)counter;
	sl->rec.u.loss.count = count;
}

/* Reads records while the queue has room. Returns how many it took from the ring. */
static unsigned read_ring(struct pt_sensor *s)
{
	const void *data;
	uint32_t len;
	uint64_t pos;
	unsigned n = 0;

	while (s->count < s->cfg.max_inflight && pt_ring_next(s->ring, &data, &len, &pos) == 1) {
		const struct pt_k_hdr *h = data;

		n++;
		if (pos <= s->skip_until)
			continue;
		if (len < sizeof(*h)) {
			count_user_loss(s, PT_LOSS_KERNEL_ERROR);
			continue;
		}
		if (h->type == PT_K_EXEC)
			decode_exec(s, data, len, pos);
		else if (h->type == PT_K_EXIT && len >= sizeof(struct pt_k_exit))
			decode_exit(s, data, pos);
		else
			count_user_loss(s, PT_LOSS_KERNEL_ERROR);
	}
	return n;
}

static void finish_exec(struct slot *sl)
{
	struct pt_exec *x = &sl->rec.u.exec;
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
			if (mono_ns() < sl->deadline_ns)
				return 0;
			/* a read that does not return (a hung network file system) must not hold
			 * back every record behind it: go on without the hash */
			if (pt_hasher_abandon(s->hasher, sl->job)) {
				log_warnx("hash of %.*s (pid %u) not done after %u ms: sent without it",
					  (int)sl->rec.u.exec.path.len, sl->rec.u.exec.path.ptr,
					  sl->rec.u.exec.pid, s->cfg.hash_timeout_ms);
				sl->job = NULL;
				s->hash_timeouts++;
			}
		}
		if (sl->rec.type == PT_REC_PROCESS_EXEC)
			finish_exec(sl);
		r = s->emit(s->ctx, &sl->rec, sl->ring_pos);
		if (r)
			return r;
		free(sl->job);
		sl->job = NULL;
		sl->hashing = false;
		s->unflushed = true;
		s->n_exec += sl->rec.type == PT_REC_PROCESS_EXEC;
		s->n_exit += sl->rec.type == PT_REC_PROCESS_EXIT;
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
	struct timespec last_loss = { 0, 0 }, now;
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
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec != last_loss.tv_sec) {
			last_loss = now;
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
	err = read_boot_id(s->boot_id);
	if (err) {
		log_warnx("read boot id: %s", strerror(-err));
		goto cleanup;
	}
	update_clock(s);
	s->md_ctx = EVP_MD_CTX_new();
	s->md = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (!s->md_ctx || !s->md) {
		err = -ENOMEM;
		goto cleanup;
	}
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
	*st = (struct pt_sensor_stats){ s->n_exec, s->n_exit, h.hits, h.misses, h.hashed_bytes,
					s->hash_timeouts };
}

void pt_sensor_free(struct pt_sensor *s)
{
	if (!s)
		return;
	/* the workers may still hold queued jobs: join them (they finish every job) first */
	pt_hasher_free(s->hasher);
	for (unsigned i = 0; s->slots && i < s->count; i++)
		free(s->slots[(s->head + i) % s->cfg.max_inflight].job);
	if (s->ring)
		pt_ring_release(s->ring, __atomic_load_n(&s->commit_target, __ATOMIC_ACQUIRE));
	pt_ring_close(s->ring);
	pt_sensor_kernel_close(&s->k);
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	if (s->epoll_fd >= 0)
		close(s->epoll_fd);
	free(s->slots);
	EVP_MD_CTX_free(s->md_ctx);
	EVP_MD_free(s->md);
	free(s);
}
