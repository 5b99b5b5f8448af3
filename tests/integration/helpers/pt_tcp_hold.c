/* Test helper: holds many plain TCP connections to the collector that never start a TLS
 * handshake, from several loopback source addresses, reopening each one the server closes.
 *
 *   pt_tcp_hold --connect 127.0.0.1:PORT --from 127.0.0.2,127.0.0.3 --per-source N
 *               [--seconds S] [--reopen-ms MS] [--trickle-ms MS]
 *
 * With --trickle-ms each connection starts a TLS record (a ClientHello announcing 16 KiB) and
 * sends one more byte of it every MS, so that it looks busy but never finishes the handshake.
 *
 * Runs S seconds (default 3600) or until SIGTERM, then prints one line:
 *   result: opened=N closed_by_server=N connect_failed=N open_now=N
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SOURCES_MAX 64

struct slot {
	int fd, connecting;
	unsigned src;
	double reopen_at, next_byte;
	unsigned sent;
};

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int open_one(struct slot *s, const struct sockaddr_in *dst, const struct in_addr *src)
{
	struct sockaddr_in from = { .sin_family = AF_INET, .sin_addr = *src };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&from, sizeof(from)) < 0 ||
	    (connect(fd, (const struct sockaddr *)dst, sizeof(*dst)) < 0 && errno != EINPROGRESS)) {
		int e = -errno;

		close(fd);
		return e;
	}
	s->fd = fd;
	s->connecting = 1;
	return 0;
}

int main(int argc, char **argv)
{
	struct in_addr src[SOURCES_MAX];
	struct sockaddr_in dst = { .sin_family = AF_INET };
	unsigned nsrc = 0, per = 0, i, n;
	double seconds = 3600, reopen_ms = 50, trickle_ms = 0, end;
	static const unsigned char hello[] = { 0x16, 0x03, 0x01, 0x40, 0x00, 0x01 };
	unsigned long long opened = 0, closed = 0, failed = 0;
	struct slot *slots;
	struct pollfd *pfd;
	char *list = NULL, *tok, *save, *colon;
	int a;

	for (a = 1; a + 1 < argc; a += 2) {
		if (!strcmp(argv[a], "--connect")) {
			colon = strrchr(argv[a + 1], ':');
			if (!colon)
				return 2;
			*colon = '\0';
			if (inet_pton(AF_INET, argv[a + 1], &dst.sin_addr) != 1)
				return 2;
			dst.sin_port = htons((uint16_t)atoi(colon + 1));
		} else if (!strcmp(argv[a], "--from")) {
			list = argv[a + 1];
		} else if (!strcmp(argv[a], "--per-source")) {
			per = (unsigned)atoi(argv[a + 1]);
		} else if (!strcmp(argv[a], "--seconds")) {
			seconds = atof(argv[a + 1]);
		} else if (!strcmp(argv[a], "--reopen-ms")) {
			reopen_ms = atof(argv[a + 1]);
		} else if (!strcmp(argv[a], "--trickle-ms")) {
			trickle_ms = atof(argv[a + 1]);
		} else {
			fprintf(stderr, "pt_tcp_hold: unknown option %s\n", argv[a]);
			return 2;
		}
	}
	for (tok = list ? strtok_r(list, ",", &save) : NULL; tok && nsrc < SOURCES_MAX;
	     tok = strtok_r(NULL, ",", &save))
		if (inet_pton(AF_INET, tok, &src[nsrc++]) != 1)
			return 2;
	if (!dst.sin_port || !nsrc || !per) {
		fprintf(stderr, "usage: pt_tcp_hold --connect IP:PORT --from IP[,IP...] --per-source N"
				" [--seconds S] [--reopen-ms MS]\n");
		return 2;
	}
	n = nsrc * per;
	slots = calloc(n, sizeof(*slots));
	pfd = calloc(n, sizeof(*pfd));
	if (!slots || !pfd)
		return 1;
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < n; i++) {
		slots[i].fd = -1;
		slots[i].src = i % nsrc;
	}
	end = now_s() + seconds;
	while (!stop && now_s() < end) {
		double t = now_s();

		for (i = 0; i < n; i++) {
			if (slots[i].fd >= 0 || t < slots[i].reopen_at)
				continue;
			if (open_one(&slots[i], &dst, &src[slots[i].src]) == 0) {
				opened++;
				slots[i].sent = 0;
				slots[i].next_byte = t;
			} else {
				failed++;
				slots[i].reopen_at = t + reopen_ms / 1000;
			}
		}
		for (i = 0; i < n; i++) {
			pfd[i].fd = slots[i].fd;
			pfd[i].events = slots[i].connecting ? POLLOUT : POLLIN;
			pfd[i].revents = 0;
		}
		if (poll(pfd, n, 20) < 0 && errno != EINTR)
			return 1;
		for (i = 0; trickle_ms > 0 && i < n; i++) {
			struct slot *sl = &slots[i];

			if (sl->fd < 0 || sl->connecting || now_s() < sl->next_byte)
				continue;
			/* the record header, then padding bytes of a ClientHello that never ends */
			if (write(sl->fd, sl->sent < sizeof(hello) ? &hello[sl->sent] : &hello[5], 1) == 1)
				sl->sent++;
			sl->next_byte = now_s() + trickle_ms / 1000;
		}
		for (i = 0; i < n; i++) {
			char b[64];
			int err = 0;
			socklen_t el = sizeof(err);

			if (slots[i].fd < 0 || !pfd[i].revents)
				continue;
			if (slots[i].connecting && !(pfd[i].revents & (POLLERR | POLLHUP))) {
				getsockopt(slots[i].fd, SOL_SOCKET, SO_ERROR, &err, &el);
				if (!err) {
					slots[i].connecting = 0;
					continue;
				}
			} else if (!slots[i].connecting && read(slots[i].fd, b, sizeof(b)) > 0) {
				continue;       /* nothing is expected; keep holding */
			}
			if (slots[i].connecting)
				failed++;
			else
				closed++;
			close(slots[i].fd);
			slots[i].fd = -1;
			slots[i].reopen_at = now_s() + reopen_ms / 1000;
		}
	}
	for (i = 0, a = 0; i < n; i++)
		if (slots[i].fd >= 0 && !slots[i].connecting)
			a++;
	printf("result: opened=%llu closed_by_server=%llu connect_failed=%llu open_now=%d\n",
	       opened, closed, failed, a);
	return 0;
}
