#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "proctrail/sdnotify.h"

int pt_sd_notify_open(struct pt_sd_notify *n)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len;
	socklen_t salen;
	int fd, ret;

	n->fd = -1;
	if (!path || !*path)
		return 0;
	len = strlen(path);
	/* A path socket must be absolute; '@' is the abstract namespace (a leading NUL). */
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path))
		return -EINVAL;
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (path[0] == '/'));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, salen) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	unsetenv("NOTIFY_SOCKET");
	n->fd = fd;
	return 0;
}

int pt_sd_notify(struct pt_sd_notify *n, const char *state)
{
	size_t len = strlen(state);
	ssize_t w;

	if (!n || n->fd < 0)
		return 0;
	if (len > PT_SD_STATE_MAX)
		return -EMSGSIZE;
	do
		w = send(n->fd, state, len, MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		return -errno;
	return (size_t)w == len ? 0 : -EIO;
}

int pt_sd_notify_reloading(struct pt_sd_notify *n)
{
	char msg[96];
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000);
	return pt_sd_notify(n, msg);
}

void pt_sd_notify_close(struct pt_sd_notify *n)
{
	if (!n || n->fd < 0)
		return;
	close(n->fd);
	n->fd = -1;
}
