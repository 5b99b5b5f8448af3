/* Hashing one executed file, and proving it is the one the kernel executed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "enforce.h"
#include "hash.h"

#define READ_CHUNK (256u << 10)

static const EVP_MD *sha256_md(void)
{
	/* an explicit fetch once, not the implicit per-call lookup of EVP_sha256() */
	static const EVP_MD *md;
	const EVP_MD *m = __atomic_load_n(&md, __ATOMIC_ACQUIRE);

	if (!m) {
		m = EVP_MD_fetch(NULL, "SHA256", NULL);
		if (m)
			__atomic_store_n(&md, m, __ATOMIC_RELEASE);
	}
	return m ? m : EVP_sha256();
}

int pt_sha256_buf(const void *p, size_t len, uint8_t out[PT_SHA256_LEN])
{
	unsigned int n = 0;

	if (!EVP_Digest(p, len, out, &n, sha256_md(), NULL) || n != PT_SHA256_LEN)
		return -EIO;
	return 0;
}

int pt_hash_fd(int fd, uint64_t max_bytes, uint8_t sha256[PT_SHA256_LEN], uint64_t *nread)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t *buf = malloc(READ_CHUNK);
	uint64_t total = 0;
	unsigned int n = 0;
	off_t off = 0;
	int err;

	if (!ctx || !buf) {
		err = -ENOMEM;
		goto cleanup;
	}
	if (!EVP_DigestInit_ex(ctx, sha256_md(), NULL)) {
		err = -EIO;
		goto cleanup;
	}
	for (;;) {
		ssize_t r = pread(fd, buf, READ_CHUNK, off);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto cleanup;
		}
		if (r == 0)
			break;
		total += (uint64_t)r;
		off += r;
		if (total > max_bytes) {
			err = -EFBIG;
			goto cleanup;
		}
		if (!EVP_DigestUpdate(ctx, buf, (size_t)r)) {
			err = -EIO;
			goto cleanup;
		}
	}
	if (!EVP_DigestFinal_ex(ctx, sha256, &n) || n != PT_SHA256_LEN) {
		err = -EIO;
		goto cleanup;
	}
	err = 0;
cleanup:
	if (nread)
		*nread = total;
	EVP_MD_CTX_free(ctx);
	free(buf);
	return err;
}

/* The identity check. Unlinking a file (rm, or a rename over its name) sets its ctime, so an
 * executable deleted or replaced after its exec no longer has the ctime the kernel reported.
 * Such a file, reached through /proc/PID/exe (which is the executed file) and with no name
 * left (st_nlink 0), is accepted on (dev, ino, size, mtime): its content can only have changed
 * with its mtime, or through a descriptor opened for writing before, which exec refuses
 * (ETXTBSY). Everything else must match exactly, ctime included. */
static bool same_file(const struct pt_file_id *id, const struct stat *st, bool unlinked_ok)
{
	bool ctime_eq = (uint64_t)st->st_ctim.tv_sec * 1000000000ull + (uint64_t)st->st_ctim.tv_nsec ==
			id->ctime_ns;

	return (uint64_t)st->st_dev == id->dev && (uint64_t)st->st_ino == id->ino &&
	       (uint64_t)st->st_size == id->size &&
	       (uint64_t)st->st_mtim.tv_sec * 1000000000ull + (uint64_t)st->st_mtim.tv_nsec == id->mtime_ns &&
	       (ctime_eq || (unlinked_ok && st->st_nlink == 0));
}

static bool same_stat(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

bool pt_file_id_same(const struct pt_file_id *id, const struct stat *st)
{
	return S_ISREG(st->st_mode) && same_file(id, st, false);
}

bool pt_stat_same(const struct stat *a, const struct stat *b)
{
	return same_stat(a, b);
}

/* Opens name and keeps it only if it is the executed file. Returns a readable fd, or -errno;
 * -ESTALE when a file was there but it is another one. The name is first opened O_PATH: a
 * device or FIFO put at the path is then never opened for reading (no side effects, no
 * blocking), only looked at; the identity check is what proves the file, so symlinks may be
 * followed. */
int pt_fd_reopen_read(int pfd)
{
	char self[32];
	int fd;

	snprintf(self, sizeof(self), "/proc/self/fd/%d", pfd);
	fd = open(self, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	return fd < 0 ? -errno : fd;
}

static int open_matching(const char *name, bool is_exe, const struct pt_file_id *id,
			 struct stat *st)
{
	int pfd, err;

	pfd = open(name, O_PATH | O_CLOEXEC);
	if (pfd < 0)
		return -errno;
	if (fstat(pfd, st) < 0) {
		err = -errno;
		goto cleanup;
	}
	if (!S_ISREG(st->st_mode) || !same_file(id, st, is_exe)) {
		err = -ESTALE;
		goto cleanup;
	}
	err = pt_fd_reopen_read(pfd);
cleanup:
	close(pfd);
	return err;
}

static int status_of(int err)
{
	switch (err) {
	case -ESTALE:
		return PT_HASH_CHANGED;
	case -ENOENT: case -ESRCH: case -ENOTDIR:
		return PT_HASH_GONE;
	default:
		return PT_HASH_UNREADABLE;
	}
}

int pt_hash_executed(const struct pt_file_id *id, const char *path, uint32_t pid, bool memfd,
		     uint64_t max_bytes, uint8_t sha256[PT_SHA256_LEN], bool *deleted)
{
	char exe[64];
	/* zeroed: clang's analyzer does not know a failed open's -errno is negative */
	struct stat st = { 0 }, st2;
	int fd = -1, err_path = -ENOENT, err_exe, status, r;

	*deleted = false;
	if (id->size > max_bytes)
		return PT_HASH_TOO_LARGE;
	if (path && path[0] == '/' && !memfd) {
		fd = open_matching(path, false, id, &st);
		err_path = fd;
	}
	if (fd < 0) {
		/* the path names another file now, or none: the process still maps the one it ran */
		snprintf(exe, sizeof(exe), "/proc/%u/exe", pid);
		fd = open_matching(exe, true, id, &st);
		err_exe = fd;
		if (fd < 0) {
			/* hashed before it ran by the enforcer's memfd mark, when it has one */
			if (memfd)
				return pt_memfd_hash_get(id, sha256) ? PT_HASH_OK : PT_HASH_MEMFD;
			/* report the most telling failure: a changed file beats a vanished one */
			if (err_path == -ESTALE || err_exe == -ESTALE)
				return PT_HASH_CHANGED;
			if (err_path == -EACCES || err_path == -EPERM)
				return PT_HASH_UNREADABLE;
			return status_of(err_exe == -ENOENT || err_exe == -ESRCH ? err_exe : err_path);
		}
		*deleted = st.st_nlink == 0;
	}
	r = pt_hash_fd(fd, max_bytes, sha256, NULL);
	if (r == -EFBIG)      /* NOLINTNEXTLINE(bugprone-branch-clone): two causes, one status */
		status = PT_HASH_CHANGED;     /* grew past the size the kernel saw */
	else if (r < 0)
		status = PT_HASH_UNREADABLE;
	else if (fstat(fd, &st2) < 0 || !same_stat(&st, &st2))
		status = PT_HASH_CHANGED;     /* written to while we read it */
	else
		status = PT_HASH_OK;
	close(fd);
	return status;
}
