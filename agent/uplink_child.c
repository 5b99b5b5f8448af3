/* The agent's end of the network child: one child per connection, started with the connected
 * TCP socket and one end of a socketpair, then spoken to in netmsg.h messages.
 *
 * A child per connection rather than one for the agent's life: nothing of a connection
 * (a compromised child's state included) survives into the next one, the certificate files
 * are read afresh by each child (a SIGHUP reload or a renewed certificate needs no restart
 * protocol), and a child that dies is "the connection was lost": the uplink's reconnect,
 * backoff and resend from the acknowledged sequence already handle that, so nothing is lost.
 * The price is a fork, an exec and a certificate load per connection. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proctrail/clock.h"
#include "proctrail/escape.h"
#include "proctrail/log.h"
#include "netchild.h"
#include "netmsg.h"
#include "uplink_io.h"

extern char **environ;

#define REAP_WAIT_MS 2000u

static int spawn(const struct pt_transport *t, int sock, int tcpfd, const char *host,
		 unsigned timeout_ms, pid_t *pid)
{
	char tmo[16];
	const char *argv[] = {
		"proctrail-agent", PT_NETCHILD_FLAG, "--ca", t->ca, "--cert", t->cert, "--key", t->key,
		"--user", t->user, "--host", host, "--name", t->name, "--timeout-ms", tmo,
		t->verbose ? "-v" : NULL, NULL,
	};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none;
	int rc;

	snprintf(tmo, sizeof(tmo), "%u", timeout_ms);
	sigemptyset(&none);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	/* Both descriptors are above PT_NETCHILD_TCP_FD (the caller made sure), so neither dup2
	 * overwrites the other's source; dup2 clears close-on-exec on the copies only. */
	posix_spawn_file_actions_adddup2(&fa, sock, PT_NETCHILD_PARENT_FD);
	posix_spawn_file_actions_adddup2(&fa, tcpfd, PT_NETCHILD_TCP_FD);
	/* the agent blocks SIGHUP in every thread (control.c); the child starts clean */
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK);
	/* /proc/self/exe: this very binary, even if the file was replaced since it started */
	rc = posix_spawn(pid, "/proc/self/exe", &fa, &at, (char *const *)(uintptr_t)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	return -rc;
}

/* Moves fd to a number >= PT_NETCHILD_TCP_FD + 1, close-on-exec. */
static int high_fd(int fd)
{
	if (fd > PT_NETCHILD_TCP_FD)
		return fd;
	int n = fcntl(fd, F_DUPFD_CLOEXEC, PT_NETCHILD_TCP_FD + 1);
	int rc = n < 0 ? -errno : n;

	close(fd);
	return rc;
}

static void describe_exit(int status, char *out, size_t outlen)
{
	if (WIFSIGNALED(status))
		snprintf(out, outlen, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(out, outlen, "exited with status %d", WEXITSTATUS(status));
}

/* Waits for the child (which exits once its socketpair closes), SIGKILL after REAP_WAIT_MS.
 * An exit other than 0 is logged: a crash of the network side is worth knowing about. */
static void reap(struct pt_conn *c)
{
	uint64_t deadline = pt_mono_ms() + REAP_WAIT_MS;
	int status = 0;
	pid_t r;

	for (;;) {
		r = waitpid(c->child, &status, WNOHANG);
		if (r != 0 || pt_mono_ms() >= deadline)
			break;
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	if (r == 0) {
		log_warnx("uplink: network child %d did not exit; killing it", (int)c->child);
		kill(c->child, SIGKILL);
		r = waitpid(c->child, &status, 0);
	}
	if (r == c->child && status != 0) {
		char how[64];
		describe_exit(status, how, sizeof(how));
		log_warnx("uplink: network child %d %s", (int)c->child, how);
	}
	c->child = 0;
}

static int write_all(struct pt_conn *c, uint8_t type, const uint8_t *p, size_t len,
		     uint64_t deadline)
{
	uint8_t hdr[PT_NETMSG_HDR_LEN];
	struct iovec iov[2] = { { hdr, sizeof(hdr) }, { (void *)(uintptr_t)p, len } };
	size_t done = 0, total = sizeof(hdr) + len;

	pt_netmsg_header(hdr, type, len);
	while (done < total) {
		struct iovec v[2];
		int nv = 0;
		size_t skip = done;
		for (int i = 0; i < 2; i++) {
			if (skip >= iov[i].iov_len) {
				skip -= iov[i].iov_len;
				continue;
			}
			v[nv].iov_base = (uint8_t *)iov[i].iov_base + skip;
			v[nv++].iov_len = iov[i].iov_len - skip;
			skip = 0;
		}
		ssize_t n = writev(c->fd, v, nv);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return errno == EPIPE ? -EPIPE : -errno;
		int rc = pt_wait_fd(c->fd, POLLOUT, c->stopfd, deadline);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int pt_conn_child_fill(struct pt_conn *c)
{
	uint8_t tmp[65536];
	bool got = false;

	for (;;) {
		size_t room = c->in.max - c->in.len;
		if (!room)
			return -EMSGSIZE;
		ssize_t n = read(c->fd, tmp, room < sizeof(tmp) ? room : sizeof(tmp));
		if (n > 0) {
			int rc = pt_buf_append(&c->in, tmp, (size_t)n);
			if (rc < 0)
				return rc;
			got = true;
			continue;
		}
		/* The child is gone (reap() says how). Its last messages (a FRAME with the
		 * collector's ERROR, a DOWN with the reason) are handled first: the end is
		 * reported by the next call. */
		if (n == 0)
			return got ? 0 : -ECONNRESET;
		if (errno == EINTR)
			continue;
		return errno == EAGAIN ? 0 : -errno;
	}
}

/* Copies an escaped reason text from the child into out. */
static void reason(const struct pt_netmsg *m, char *out, size_t outlen)
{
	struct pt_esc shown;

	snprintf(out, outlen, "%s", pt_esc(&shown, m->payload, m->len));
}

int pt_conn_child_open(struct pt_conn *c, const struct pt_transport *t, int tcpfd,
		       const char *host, unsigned timeout_ms, uint64_t deadline, char *err,
		       size_t errlen)
{
	int sv[2] = { -1, -1 }, rc;
	struct pt_netmsg m = { 0 };

	pt_buf_init(&c->in, PT_NETMSG_MAX + 65536);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		rc = -errno;
		snprintf(err, errlen, "network child: socketpair: %s", strerror(errno));
		close(tcpfd);
		return rc;
	}
	c->fd = sv[0];
	if ((tcpfd = high_fd(tcpfd)) < 0 || (sv[1] = high_fd(sv[1])) < 0) {
		rc = tcpfd < 0 ? tcpfd : sv[1];
		snprintf(err, errlen, "network child: %s", strerror(-rc));
		goto out;
	}
	rc = spawn(t, sv[1], tcpfd, host, timeout_ms, &c->child);
	if (rc < 0) {
		c->child = 0;
		snprintf(err, errlen, "network child: cannot start: %s", strerror(-rc));
		goto out;
	}
	if (fcntl(c->fd, F_SETFL, O_NONBLOCK) < 0) {
		rc = -errno;
		snprintf(err, errlen, "network child: %s", strerror(errno));
		goto out;
	}
	/* UP or FAIL, within the connection's deadline */
	for (;;) {
		rc = pt_netmsg_parse(c->in.data, c->in.len, &m);
		if (rc < 0) {
			snprintf(err, errlen, "network child: malformed message: %s", strerror(-rc));
			goto out;
		}
		if (rc == 1)
			break;
		rc = pt_wait_fd(c->fd, POLLIN, c->stopfd, deadline);
		if (rc == 0)
			rc = pt_conn_child_fill(c);
		if (rc < 0) {
			snprintf(err, errlen, "network child: %s", rc == -ECONNRESET ?
				 "exited before the handshake ended" : strerror(-rc));
			goto out;
		}
	}
	if (m.type == PT_NETMSG_UP) {
		pt_buf_consume(&c->in, m.total);
		rc = 0;
	} else if (m.type == PT_NETMSG_FAIL) {
		reason(&m, err, errlen);
		rc = -EPROTO;
	} else {
		snprintf(err, errlen, "network child: message %u before the handshake ended", m.type);
		rc = -EPROTO;
	}
out:
	if (sv[1] >= 0)
		close(sv[1]);
	if (tcpfd >= 0)
		close(tcpfd);   /* the child has its copy */
	return rc;
}

int pt_conn_child_write(struct pt_conn *c, const uint8_t *p, size_t len, uint64_t deadline)
{
	if (len > PT_FRAME_MAX)
		return -EMSGSIZE;
	return write_all(c, PT_NETMSG_SEND, p, len, deadline);
}

int pt_conn_child_next_frame(struct pt_conn *c, struct pt_frame *f, size_t *flen)
{
	struct pt_netmsg m;
	char why[PT_ESCAPE_LOG_MAX];
	int rc = pt_netmsg_parse(c->in.data, c->in.len, &m);

	if (rc <= 0)
		return rc;
	switch (m.type) {
	case PT_NETMSG_FRAME:
		if ((rc = pt_frame_split(m.payload, m.len, f)) < 0)
			return rc;
		*flen = m.total;
		return 1;
	case PT_NETMSG_DOWN:
		reason(&m, why, sizeof(why));
		log_warnx("uplink: network child: %s", why);
		pt_buf_consume(&c->in, m.total);
		return -ECONNRESET;
	default:
		return -EPROTO;
	}
}

void pt_conn_child_close(struct pt_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);   /* the child sees the end of its input and exits */
	c->fd = -1;
	reap(c);
}
