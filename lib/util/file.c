#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proctrail/file.h"

int pt_file_read(const char *path, int extra_flags, size_t max, char **out, size_t *outlen)
{
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd, ret = 0;

	*out = NULL;
	if (max >= SSIZE_MAX - 1)
		return -EINVAL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | extra_flags)) < 0)
		return -errno;
	/* One byte over the maximum tells "too large" from "exactly at the limit". */
	if (!(buf = malloc(max + 2))) {
		ret = -ENOMEM;
		goto out;
	}
	while (len < max + 1) {
		n = read(fd, buf + len, max + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max) {
		ret = -EMSGSIZE;
		goto out;
	}
	buf[len] = '\0';
	*out = buf;
	buf = NULL;
	if (outlen)
		*outlen = len;
out:
	free(buf);
	close(fd);
	return ret;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int pt_file_replace(const char *path, const void *data, size_t len, mode_t mode, gid_t gid)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	int fd, dfd, ret = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp) ||
	    snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, mode) < 0 || (gid != (gid_t)-1 && fchown(fd, (uid_t)-1, gid) < 0))
		ret = -errno;
	if (!ret)
		ret = write_all(fd, data, len);
	if (!ret && fsync(fd) < 0)
		ret = -errno;
	if (close(fd) < 0 && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path) < 0)
		ret = -errno;
	if (ret) {
		unlink(tmp);
		return ret;
	}
	/* The rename is durable once the directory is. */
	if ((dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		if (fsync(dfd) < 0)
			ret = -errno;
		close(dfd);
	}
	return ret;
}
