/* hash_miss: time of one hash cache miss on a file of a given size (default 1 MiB): the full
 * verified path a worker takes (open, fstat against the identity, read, SHA-256, re-fstat).
 * The file is in the page cache, as a binary that was just executed is. Prints the median
 * and the 90th percentile over N runs.
 *
 * usage: hash_miss [bytes|/path/of/a/file] [runs]
 *
 * With a path (it must start with '/'), that file is hashed and kept, so the same file can be
 * timed with sha256sum beside it (bench/compare.sh).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "proctrail/clock.h"

#include "../agent/hash.h"

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	const char *given = argc > 1 && argv[1][0] == '/' ? argv[1] : NULL;
	size_t bytes = argc > 1 && !given ? strtoull(argv[1], NULL, 10) : (1u << 20);
	int runs = argc > 2 ? atoi(argv[2]) : 200;
	char path[4096] = "/tmp/pt-hash-miss-XXXXXX";
	struct pt_file_id id;
	struct stat st;
	uint8_t sha[32];
	double *t;
	char *buf;
	bool deleted;
	int fd;

	if (runs < 1 || runs > 100000 || bytes > (1u << 30))
		return 2;
	t = calloc((size_t)runs, sizeof(*t));
	if (given) {
		if (strlen(given) >= sizeof(path) || stat(given, &st))
			return 1;
		memcpy(path, given, strlen(given) + 1);
		bytes = (size_t)st.st_size;
		buf = NULL;
	} else {
		fd = mkstemp(path);
		buf = malloc(bytes);
		if (fd < 0 || !buf || !t)
			return 1;
		for (size_t i = 0; i < bytes; i++)
			buf[i] = (char)(i * 131 + (i >> 9));
		if (write(fd, buf, bytes) != (ssize_t)bytes || fstat(fd, &st))
			return 1;
		close(fd);
	}
	if (!t)
		return 1;
	id = (struct pt_file_id){ st.st_dev, st.st_ino, (uint64_t)st.st_size,
		(uint64_t)st.st_mtim.tv_sec * 1000000000ull + (uint64_t)st.st_mtim.tv_nsec,
		(uint64_t)st.st_ctim.tv_sec * 1000000000ull + (uint64_t)st.st_ctim.tv_nsec };
	for (int i = 0; i < runs; i++) {
		uint64_t t0 = pt_mono_ns();

		if (pt_hash_executed(&id, path, 0, false, 1ull << 30, sha, &deleted) != PT_HASH_OK)
			return 1;
		t[i] = (double)(pt_mono_ns() - t0) / 1e3;
	}
	if (!given)
		unlink(path);
	qsort(t, (size_t)runs, sizeof(*t), cmp);
	printf("bytes=%zu runs=%d median_us=%.1f p90_us=%.1f\n", bytes, runs, t[runs / 2],
	       t[runs * 9 / 10]);
	free(buf);
	free(t);
	return 0;
}
