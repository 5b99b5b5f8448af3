/* SHA-256 of executed files, on worker threads, with a cache keyed by file identity.
 *
 * The hash must be of the file the kernel executed (design invariant 5). The kernel reports
 * the file's identity (device, inode, size, mtime, ctime); a worker opens the path, else
 * /proc/PID/exe while the process lives, and hashes only a file whose fstat() matches that
 * identity before and after reading. Otherwise the hash is absent with a pt_hash_status.
 *
 * Ownership: the hasher owns its threads and cache; jobs belong to the caller, who must not
 * touch a submitted job until its `done` flag is set (release store by the worker). When a job
 * finishes the worker writes 1 to notify_fd (an eventfd the caller polls). A caller that stops
 * waiting (a read stuck on a hung file system) hands the job over with pt_hasher_abandon():
 * the hasher then free()s it when its worker is done, so a job that may be abandoned must come
 * from malloc() in one block with the strings it points to.
 */
#ifndef PROCTRAIL_AGENT_HASH_H
#define PROCTRAIL_AGENT_HASH_H

#include <stdbool.h>
#include <stdint.h>

#include "proctrail/wire.h"

struct pt_file_id {
	uint64_t dev;        /* userspace dev_t (makedev) */
	uint64_t ino, size, mtime_ns, ctime_ns;
};

struct pt_hash_job {
	/* in */
	struct pt_file_id id;
	uint32_t pid;
	bool memfd;
	const char *path;          /* absolute path the kernel resolved; may be NULL */
	const char *script_path;   /* NULL: not a script */
	uint64_t exec_time_ns;     /* realtime of the exec: a script changed since is not hashed */
	/* out */
	uint8_t sha256[PT_SHA256_LEN];
	uint8_t status;            /* pt_hash_status */
	bool deleted;              /* hashed through /proc/PID/exe of an unlinked file */
	uint8_t script_sha256[PT_SHA256_LEN];
	uint8_t script_status;
	int done;                  /* 0 pending, 1 finished (release store), 2 abandoned */
	struct pt_hash_job *next;  /* hasher's queue link */
};

struct pt_hash_stats {
	uint64_t hits, misses, hashed_bytes;
};

struct pt_hasher;

/* workers >= 1; max_bytes: files larger are not read (PT_HASH_TOO_LARGE); cache_entries is
 * rounded up to a multiple of 4. notify_fd: eventfd written when a job finishes (-1: none). */
int pt_hasher_new(unsigned workers, uint64_t max_bytes, unsigned cache_entries, int notify_fd,
		  struct pt_hasher **out);
void pt_hasher_free(struct pt_hasher *h);   /* joins the workers; NULL-safe */

/* Fills the job from the cache when both hashes it needs are cached: returns true and sets
 * done. Otherwise false; the caller then submits it. Counts hits and misses. */
bool pt_hasher_try_cache(struct pt_hasher *h, struct pt_hash_job *job);
void pt_hasher_submit(struct pt_hasher *h, struct pt_hash_job *job);
/* Gives up on a submitted job. Returns true if it was still pending: the hasher now owns it
 * (the caller must not touch it again). False: it had finished, it is still the caller's. */
bool pt_hasher_abandon(struct pt_hasher *h, struct pt_hash_job *job);
/* Jobs submitted and not yet finished, abandoned ones included. */
unsigned pt_hasher_outstanding(struct pt_hasher *h);
void pt_hasher_stats(struct pt_hasher *h, struct pt_hash_stats *st);

/* The synchronous core, for workers and tests: hashes the executed file. Returns a
 * pt_hash_status; sha256 is set when it returns PT_HASH_OK. */
int pt_hash_executed(const struct pt_file_id *id, const char *path, uint32_t pid, bool memfd,
		     uint64_t max_bytes, uint8_t sha256[PT_SHA256_LEN], bool *deleted);
/* Hashes an open file descriptor, at most max_bytes+1 read. Returns 0, -EFBIG, or -errno. */
/* A readable descriptor of the file an O_PATH descriptor names (through /proc/self/fd, so the
 * name is never looked up again), or -errno. pfd stays the caller's. */
int pt_fd_reopen_read(int pfd);
int pt_hash_fd(int fd, uint64_t max_bytes, uint8_t sha256[PT_SHA256_LEN], uint64_t *nread);
struct stat;
/* st is a regular file with exactly that identity (ctime included). */
bool pt_file_id_same(const struct pt_file_id *id, const struct stat *st);
/* Two fstat()s of one file: nothing changed between them (size, mtime, ctime). */
bool pt_stat_same(const struct stat *a, const struct stat *b);
/* SHA-256 of a small buffer (entity ids). */
int pt_sha256_buf(const void *p, size_t len, uint8_t out[PT_SHA256_LEN]);

#endif
