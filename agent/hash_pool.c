/* The hash workers and the identity-keyed cache. A binary already hashed is not read again:
 * the key is the kernel's (dev, ino, size, mtime, ctime), so a rewritten file misses. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hash.h"

#define WAYS 4
#define SCRIPT_MAX_BYTES (1u << 20)
/* File timestamps come from the kernel's coarse clock, up to one tick (10 ms at HZ=100)
 * behind the exec's precise time; twice that, so a script written or swapped in at the exec
 * is never taken for one that was there before it. */
#define SCRIPT_CTIME_MARGIN_NS (20ull * 1000000ull)

struct cache_entry {
	struct pt_file_id id;
	uint64_t stamp;            /* 0: empty */
	uint8_t sha256[PT_SHA256_LEN];
};

struct pt_hasher {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct pt_hash_job *head, *tail;
	bool stopping;
	unsigned n_workers, n_started;
	pthread_t *threads;
	uint64_t max_bytes;
	int notify_fd;
	struct cache_entry *cache;
	unsigned sets;
	uint64_t clock;
	struct pt_hash_stats stats;
	unsigned outstanding;      /* atomic */
};

static uint64_t id_hash(const struct pt_file_id *id)
{
	uint64_t x = id->dev * 0x9e3779b97f4a7c15ull ^ id->ino * 0xc2b2ae3d27d4eb4full ^
		     id->size ^ id->mtime_ns * 0x165667b19e3779f9ull ^ id->ctime_ns;

	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ull;
	return x ^ (x >> 29);
}

static bool id_eq(const struct pt_file_id *a, const struct pt_file_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns;
}

/* caller holds lock */
static bool cache_get(struct pt_hasher *h, const struct pt_file_id *id, uint8_t out[PT_SHA256_LEN])
{
	struct cache_entry *set = &h->cache[(id_hash(id) % h->sets) * WAYS];

	for (unsigned i = 0; i < WAYS; i++) {
		if (set[i].stamp && id_eq(&set[i].id, id)) {
			set[i].stamp = ++h->clock;
			memcpy(out, set[i].sha256, PT_SHA256_LEN);
			return true;
		}
	}
	return false;
}

/* caller holds lock; replaces the least recently used way of the set */
static void cache_put(struct pt_hasher *h, const struct pt_file_id *id, const uint8_t sha[PT_SHA256_LEN])
{
	struct cache_entry *set = &h->cache[(id_hash(id) % h->sets) * WAYS], *victim = &set[0];

	for (unsigned i = 0; i < WAYS; i++) {
		if (set[i].stamp && id_eq(&set[i].id, id)) {
			victim = &set[i];
			break;
		}
		if (set[i].stamp < victim->stamp)
			victim = &set[i];
	}
	victim->id = *id;
	victim->stamp = ++h->clock;
	memcpy(victim->sha256, sha, PT_SHA256_LEN);
}

static uint64_t ns_of(const struct timespec *t)
{
	return (uint64_t)t->tv_sec * 1000000000ull + (uint64_t)t->tv_nsec;
}

/* True when st is an inode nobody created, renamed, linked, written or chmod'ed at since
 * before the exec: its ctime is older than the exec by more than the coarse clock can lag. */
static bool older_than_exec(const struct stat *st, uint64_t exec_time_ns)
{
	return exec_time_ns > SCRIPT_CTIME_MARGIN_NS &&
	       ns_of(&st->st_ctim) < exec_time_ns - SCRIPT_CTIME_MARGIN_NS;
}

static bool same_link(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_mode == b->st_mode &&
	       ns_of(&a->st_ctim) == ns_of(&b->st_ctim);
}

/* Opens the script the exec named, or returns -ENOENT, -ESTALE (another file, or one that
 * cannot be told apart from another), or -errno.
 *
 * The kernel does not report the script's inode: binfmt_script has released it when the exec
 * tracepoint fires. So the identity is inferred from what a swap cannot hide: every way to
 * put another file at the path (create, rename, link, symlink, write) gives the inode now
 * there, or the symlink now in the last component, a ctime after the exec. The name is opened
 * O_PATH first, so a device or FIFO put there is looked at, never opened for reading; the last
 * component is lstat'ed before and after, so a swap between the checks is seen too. */
static int open_script(const char *path, uint64_t exec_time_ns, struct stat *st)
{
	struct stat l1, l2;
	int pfd, err;

	if (lstat(path, &l1) < 0)
		return -errno;
	pfd = open(path, O_PATH | O_CLOEXEC);
	if (pfd < 0)
		return -errno;
	if (fstat(pfd, st) < 0 || lstat(path, &l2) < 0) {
		err = -errno;
		goto cleanup;
	}
	if (!S_ISREG(st->st_mode) || !older_than_exec(st, exec_time_ns) || !same_link(&l1, &l2) ||
	    (S_ISLNK(l1.st_mode) ? !older_than_exec(&l1, exec_time_ns) : !same_link(&l1, st))) {
		err = -ESTALE;
		goto cleanup;
	}
	err = pt_fd_reopen_read(pfd);
cleanup:
	close(pfd);
	return err;
}

/* The script's hash, keyed in the cache by its own fstat identity. */
static void hash_script(struct pt_hasher *h, struct pt_hash_job *job)
{
	/* zeroed: clang's analyzer does not know a failed open's -errno is negative */
	struct stat st = { 0 }, st2;
	struct pt_file_id id;
	int fd = open_script(job->script_path, job->exec_time_ns, &st);
	int r;

	if (fd < 0) {
		job->script_status = fd == -ENOENT || fd == -ENOTDIR ? PT_HASH_GONE :
				     fd == -ESTALE ? PT_HASH_CHANGED : PT_HASH_UNREADABLE;
		return;
	}
	if ((uint64_t)st.st_size > SCRIPT_MAX_BYTES || (uint64_t)st.st_size > h->max_bytes) {
		job->script_status = PT_HASH_TOO_LARGE;
		goto cleanup;
	}
	id = (struct pt_file_id){ st.st_dev, st.st_ino, (uint64_t)st.st_size,
		ns_of(&st.st_mtim), ns_of(&st.st_ctim) };
	pthread_mutex_lock(&h->lock);
	r = cache_get(h, &id, job->script_sha256);
	pthread_mutex_unlock(&h->lock);
	if (r) {
		job->script_status = PT_HASH_OK;
		goto cleanup;
	}
	r = pt_hash_fd(fd, h->max_bytes, job->script_sha256, NULL);
	if (r == 0 && (fstat(fd, &st2) < 0 || !same_link(&st, &st2) || st.st_size != st2.st_size))
		r = -EFBIG;   /* written to while we read it */
	job->script_status = r == 0 ? PT_HASH_OK : r == -EFBIG ? PT_HASH_CHANGED : PT_HASH_UNREADABLE;
	if (r == 0) {
		pthread_mutex_lock(&h->lock);
		cache_put(h, &id, job->script_sha256);
		pthread_mutex_unlock(&h->lock);
	}
cleanup:
	close(fd);
}

static void run_job(struct pt_hasher *h, struct pt_hash_job *job)
{
	bool cached;

	pthread_mutex_lock(&h->lock);
	cached = job->status == PT_HASH_OK || cache_get(h, &job->id, job->sha256);
	pthread_mutex_unlock(&h->lock);
	if (!cached) {
		job->status = pt_hash_executed(&job->id, job->path, job->pid, job->memfd, h->max_bytes,
					       job->sha256, &job->deleted);
		pthread_mutex_lock(&h->lock);
		if (job->status == PT_HASH_OK) {
			cache_put(h, &job->id, job->sha256);
			h->stats.hashed_bytes += job->id.size;
		}
		pthread_mutex_unlock(&h->lock);
	} else {
		job->status = PT_HASH_OK;
	}
	if (job->script_path)
		hash_script(h, job);
}

static void *worker(void *arg)
{
	struct pt_hasher *h = arg;
	uint64_t one = 1;

	for (;;) {
		struct pt_hash_job *job;

		pthread_mutex_lock(&h->lock);
		while (!h->head && !h->stopping)
			pthread_cond_wait(&h->cond, &h->lock);
		if (!h->head) {
			pthread_mutex_unlock(&h->lock);
			break;
		}
		job = h->head;
		h->head = job->next;
		if (!h->head)
			h->tail = NULL;
		pthread_mutex_unlock(&h->lock);

		run_job(h, job);
		{
			int pending = 0;

			/* pending -> finished, unless the caller gave up on it: then it is ours */
			if (!__atomic_compare_exchange_n(&job->done, &pending, 1, false,
							 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
				free(job);
		}
		__atomic_sub_fetch(&h->outstanding, 1, __ATOMIC_RELEASE);
		if (h->notify_fd >= 0 && write(h->notify_fd, &one, sizeof(one)) < 0) {
			/* an eventfd write fails only on overflow; the reader is awake then anyway */
		}
	}
	return NULL;
}

int pt_hasher_new(unsigned workers, uint64_t max_bytes, unsigned cache_entries, int notify_fd,
		  struct pt_hasher **out)
{
	struct pt_hasher *h;
	int err;

	*out = NULL;
	if (!workers || workers > 64 || !cache_entries || cache_entries > (1u << 22))
		return -EINVAL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	h->max_bytes = max_bytes;
	h->notify_fd = notify_fd;
	h->sets = (cache_entries + WAYS - 1) / WAYS;
	h->cache = calloc((size_t)h->sets * WAYS, sizeof(*h->cache));
	h->threads = calloc(workers, sizeof(*h->threads));
	if (!h->cache || !h->threads) {
		err = -ENOMEM;
		goto cleanup;
	}
	h->n_workers = workers;
	for (; h->n_started < workers; h->n_started++) {
		err = -pthread_create(&h->threads[h->n_started], NULL, worker, h);
		if (err)
			goto cleanup;
	}
	*out = h;
	h = NULL;
	err = 0;
cleanup:
	pt_hasher_free(h);
	return err;
}

void pt_hasher_free(struct pt_hasher *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	h->stopping = true;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
	for (unsigned i = 0; i < h->n_started; i++)
		pthread_join(h->threads[i], NULL);
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->cond);
	free(h->threads);
	free(h->cache);
	free(h);
}

bool pt_hasher_try_cache(struct pt_hasher *h, struct pt_hash_job *job)
{
	bool hit;

	job->done = 0;
	job->status = PT_HASH_UNREADABLE;
	job->deleted = false;
	job->script_status = PT_HASH_UNREADABLE;
	if (job->id.size > h->max_bytes) {
		job->status = PT_HASH_TOO_LARGE;
		if (job->script_path)
			return false;
		job->done = 1;
		return true;
	}
	pthread_mutex_lock(&h->lock);
	hit = !job->memfd && cache_get(h, &job->id, job->sha256);
	if (hit)
		h->stats.hits++;
	else
		h->stats.misses++;
	pthread_mutex_unlock(&h->lock);
	if (hit)
		job->status = PT_HASH_OK;
	if (!hit || job->script_path)
		return false;
	job->done = 1;
	return true;
}

void pt_hasher_submit(struct pt_hasher *h, struct pt_hash_job *job)
{
	job->next = NULL;
	__atomic_store_n(&job->done, 0, __ATOMIC_RELAXED);
	__atomic_add_fetch(&h->outstanding, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&h->lock);
	if (h->tail)
		h->tail->next = job;
	else
		h->head = job;
	h->tail = job;
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
}

bool pt_hasher_abandon(struct pt_hasher *h, struct pt_hash_job *job)
{
	int pending = 0;

	(void)h;
	return __atomic_compare_exchange_n(&job->done, &pending, 2, false, __ATOMIC_ACQ_REL,
					   __ATOMIC_ACQUIRE);
}

unsigned pt_hasher_outstanding(struct pt_hasher *h)
{
	return __atomic_load_n(&h->outstanding, __ATOMIC_ACQUIRE);
}

void pt_hasher_stats(struct pt_hasher *h, struct pt_hash_stats *st)
{
	pthread_mutex_lock(&h->lock);
	*st = h->stats;
	pthread_mutex_unlock(&h->lock);
}
