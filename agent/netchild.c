/* The network child: loads the CA, certificate and key while still root, becomes the network
 * user, confines itself (no file, no new socket, no exec), verifies that it is confined, does
 * the TLS handshake on the socket the agent connected, then relays: frames from the collector
 * that decode go to the agent as FRAME messages; the agent's SEND messages go out over TLS.
 * It never sees the spool, the BPF objects or any file. Single-threaded. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "proctrail/clock.h"
#include "proctrail/confine.h"
#include "proctrail/conf.h"
#include "proctrail/log.h"
#include "proctrail/tls.h"
#include "netchild.h"
#include "netmsg.h"
#include "uplink_io.h"

/* Frames from the collector waiting for the agent: above this, the child stops reading TLS
 * (TCP back-pressure on the collector) until the agent caught up. */
#define TO_PARENT_HIGH (2u * PT_NETMSG_MAX)

struct nc {
	const char *ca, *cert, *key, *user, *host, *name;
	unsigned timeout_ms;
	int verbose;
	int ps;                  /* the socketpair to the agent */
	struct pt_conn tls;
	struct pt_buf pin;       /* messages from the agent */
	struct pt_buf pout;      /* messages to the agent */
};

bool pt_netchild_wanted(int argc, char **argv)
{
	return argc > 1 && !strcmp(argv[1], PT_NETCHILD_FLAG);
}

static int parse_args(struct nc *n, int argc, char **argv)
{
	char err[256];
	uint64_t v;

	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "-v")) {
			n->verbose++;
			continue;
		}
		if (!val)
			return -EINVAL;
		i++;
		if (!strcmp(a, "--ca"))
			n->ca = val;
		else if (!strcmp(a, "--cert"))
			n->cert = val;
		else if (!strcmp(a, "--key"))
			n->key = val;
		else if (!strcmp(a, "--user"))
			n->user = val;
		else if (!strcmp(a, "--host"))
			n->host = val;
		else if (!strcmp(a, "--name"))
			n->name = val;
		else if (!strcmp(a, "--timeout-ms") &&
			 pt_conf_u64("--timeout-ms", val, 100, 3600000, &v, err, sizeof(err)) == 0)
			n->timeout_ms = (unsigned)v;
		else
			return -EINVAL;
	}
	return n->ca && n->cert && n->key && n->user && n->host && n->name && n->timeout_ms
		       ? 0 : -EINVAL;
}

/* Whatever the agent left open without close-on-exec (none should be: this is the guard)
 * must not reach an unprivileged process. */
static void close_others(void)
{
	int from = PT_NETCHILD_TCP_FD + 1;

	if (syscall(SYS_close_range, (unsigned)from, ~0u, 0) == 0)
		return;
	long max = sysconf(_SC_OPEN_MAX);
	for (int fd = from; fd < (max > 0 && max < 65536 ? max : 65536); fd++)
		close(fd);
}

/* Queues a message to the agent (written by flush_parent). */
static int queue_msg(struct nc *n, uint8_t type, const void *p, size_t len)
{
	uint8_t hdr[PT_NETMSG_HDR_LEN];
	int rc;

	pt_netmsg_header(hdr, type, len);
	if ((rc = pt_buf_reserve(&n->pout, sizeof(hdr) + len)) < 0)
		return rc;
	pt_buf_append(&n->pout, hdr, sizeof(hdr));
	return len ? pt_buf_append(&n->pout, p, len) : 0;
}

static int queue_text(struct nc *n, uint8_t type, const char *text)
{
	size_t len = strlen(text);

	return queue_msg(n, type, text, len > PT_NETMSG_TEXT_MAX ? PT_NETMSG_TEXT_MAX : len);
}

/* Writes what the agent can take now; with wait, everything (before exiting). */
static int flush_parent(struct nc *n, bool wait)
{
	uint64_t deadline = pt_mono_ms() + n->timeout_ms;

	while (n->pout.len) {
		ssize_t w = send(n->ps, n->pout.data, n->pout.len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			pt_buf_consume(&n->pout, (size_t)w);
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN)
			return -errno;
		if (!wait)
			return 0;
		int rc = pt_wait_fd(n->ps, POLLOUT, -1, deadline);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Ends the connection with a reason for the agent; the exit status says nothing more. */
__attribute__((format(printf, 2, 3)))
static int down(struct nc *n, const char *fmt, ...)
{
	char why[PT_NETMSG_TEXT_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	queue_text(n, PT_NETMSG_DOWN, why);
	flush_parent(n, true);
	return 0;
}

static int become_user(const char *user, char *err, size_t errlen)
{
	struct passwd *pw;

	if (geteuid() != 0)
		return 0;   /* not root: nothing to give up (and no way to) */
	errno = 0;
	pw = getpwnam(user);
	if (!pw) {
		snprintf(err, errlen, "network user '%s': %s", user, errno ? strerror(errno) : "no such user");
		return -ENOENT;
	}
	if (pw->pw_uid == 0) {
		snprintf(err, errlen, "network user '%s' is root", user);
		return -EPERM;
	}
	if (setgroups(0, NULL) < 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0) {
		snprintf(err, errlen, "becoming '%s': %s", user, strerror(errno));
		return -EPERM;
	}
	if (setuid(0) == 0 || geteuid() == 0) {
		snprintf(err, errlen, "becoming '%s': root regained", user);
		return -EPERM;
	}
	/* credentials changed, so the parent-death signal must be set now, not before */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	return 0;
}

/* The confinement is checked, not assumed: "/" is readable by everyone and a socket needs no
 * privilege, so both must fail now. */
static int verify_confined(char *out, size_t outlen)
{
	int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int open_err = errno;

	if (fd >= 0) {
		close(fd);
		snprintf(out, outlen, "confinement not effective: \"/\" opened");
		return -EPERM;
	}
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int sock_err = errno;
	if (s >= 0) {
		close(s);
		snprintf(out, outlen, "confinement not effective: a socket was created");
		return -EPERM;
	}
	snprintf(out, outlen, "open(\"/\") refused (%s), socket() refused (%s)", strerror(open_err),
		 strerror(sock_err));
	return 0;
}

static int setup(struct nc *n, SSL_CTX **ctx, char *err, size_t errlen)
{
	struct pt_confine conf = { .no_files = true, .no_sockets = true };
	struct pt_confine_result cr;
	char cn[PT_TLS_CN_MAX + 1], check[256];
	unsigned char seed;
	int rc;

	*ctx = pt_tls_client_ctx(n->ca, n->cert, n->key, err, errlen);
	if (!*ctx)
		return -EINVAL;
	if (pt_tls_ctx_cn(*ctx, cn, sizeof(cn)) < 0 || strcmp(cn, n->name)) {
		snprintf(err, errlen, "%s does not name this agent ('%s'); restart to change it",
			 n->cert, n->name);
		return -EINVAL;
	}
	/* the random generator seeds itself now, while it could still open a device */
	if (RAND_bytes(&seed, 1) != 1) {
		snprintf(err, errlen, "no random numbers");
		return -EIO;
	}
	if ((rc = become_user(n->user, err, errlen)) < 0)
		return rc;
	if ((rc = pt_confine_self(&conf, &cr, err, errlen)) < 0)
		return rc;
	if ((rc = verify_confined(check, sizeof(check))) < 0) {
		snprintf(err, errlen, "%s", check);
		return rc;
	}
	log_info("network child for %s: uid %u, no_new_privs, seccomp %s, Landlock %s (ABI %d); %s",
		 n->host, (unsigned)getuid(), cr.seccomp ? "on" : "off",
		 cr.landlock_abi ? "on" : "off", cr.landlock_abi, check);
	return 0;
}

/* Frames from the collector: each one decoded here first; the first that does not ends the
 * connection (the collector is told, as the agent itself would tell it). */
static int from_collector(struct nc *n)
{
	struct pt_frame f;
	size_t flen;
	int rc = 0;

	while (n->pout.len < TO_PARENT_HIGH && (rc = pt_conn_next_frame(&n->tls, &f, &flen)) == 1) {
		if ((rc = pt_netmsg_frame_check(&f)) < 0) {
			const char *name = pt_frame_type_name(f.type);
			uint8_t buf[256];
			struct pt_writer w;
			const char *msg = rc == -EPROTO ? "unexpected frame" : "malformed frame";
			struct pt_error e = { .code = PT_ERR_PROTOCOL, .frame_type = f.type,
					      .message = { msg, (uint32_t)strlen(msg) } };
			pt_writer_init(&w, buf, sizeof(buf));
			if (pt_error_encode(&w, &e) == 0)
				pt_conn_write(&n->tls, buf, w.len, n->timeout_ms);
			return down(n, rc == -EPROTO ? "unexpected %s frame from the collector"
						     : "malformed %s frame from the collector",
				    name ? name : "unknown");
		}
		if ((rc = queue_msg(n, PT_NETMSG_FRAME, n->tls.in.data, flen)) < 0)
			return down(n, "%s", strerror(-rc));
		pt_buf_consume(&n->tls.in, flen);
	}
	if (rc < 0 && n->pout.len < TO_PARENT_HIGH)
		return down(n, "bad frame from the collector: %s", strerror(-rc));
	return 1;
}

/* SEND messages from the agent, written out whole. 1 to go on, 0 when done. */
static int from_agent(struct nc *n)
{
	struct pt_netmsg m;
	int rc;

	while ((rc = pt_netmsg_parse(n->pin.data, n->pin.len, &m)) == 1) {
		if (m.type != PT_NETMSG_SEND)
			return down(n, "unexpected message %u from the agent", m.type);
		if ((rc = pt_conn_write(&n->tls, m.payload, m.len, n->timeout_ms)) < 0)
			return down(n, "write: %s", strerror(-rc));
		pt_buf_consume(&n->pin, m.total);
	}
	if (rc < 0)
		return down(n, "bad message from the agent: %s", strerror(-rc));
	return 1;
}

static int read_agent(struct nc *n)
{
	uint8_t tmp[65536];

	for (;;) {
		size_t room = n->pin.max - n->pin.len;
		if (!room)
			return 1;   /* a whole message is in: from_agent takes it */
		ssize_t r = read(n->ps, tmp, room < sizeof(tmp) ? room : sizeof(tmp));
		if (r > 0) {
			pt_buf_append(&n->pin, tmp, (size_t)r);
			continue;
		}
		if (r == 0)
			return 0;   /* the agent closed the connection, or is gone */
		if (errno == EINTR)
			continue;
		return errno == EAGAIN ? 1 : down(n, "reading from the agent: %s", strerror(errno));
	}
}

static int relay(struct nc *n)
{
	int rc;

	for (;;) {
		if ((rc = from_collector(n)) <= 0 || (rc = from_agent(n)) <= 0)
			return rc;
		if ((rc = flush_parent(n, false)) < 0)
			return 0;   /* the agent is gone */
		bool take_tls = n->pout.len < TO_PARENT_HIGH;
		if (take_tls && pt_conn_pending(&n->tls)) {
			rc = pt_conn_fill(&n->tls);
			if (rc < 0)
				return down(n, "connection lost: %s", strerror(-rc));
			continue;
		}
		struct pollfd p[2] = {
			{ .fd = n->ps, .events = POLLIN | (n->pout.len ? POLLOUT : 0) },
			{ .fd = take_tls ? n->tls.fd : -1, .events = POLLIN },
		};
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			return down(n, "poll: %s", strerror(errno));
		if ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) && (rc = read_agent(n)) <= 0)
			return rc;
		if (p[1].revents && (rc = pt_conn_fill(&n->tls)) < 0) {
			from_collector(n);   /* what came before the end still reaches the agent */
			return down(n, "connection lost: %s", strerror(-rc));
		}
	}
}

int pt_netchild_main(int argc, char **argv)
{
	struct nc n = { .ps = PT_NETCHILD_PARENT_FD };
	SSL_CTX *ctx = NULL;
	char err[PT_NETMSG_TEXT_MAX];
	int rc, status = 1;

	close_others();
	signal(SIGPIPE, SIG_IGN);
	memset(&n.tls, 0, sizeof(n.tls));
	n.tls.fd = -1;
	pt_buf_init(&n.pin, PT_NETMSG_MAX + 65536);
	pt_buf_init(&n.pout, TO_PARENT_HIGH + PT_NETMSG_MAX);
	if (parse_args(&n, argc, argv) < 0) {
		log_init("proctrail-net", 0);
		log_warnx("the network child is started by the agent, not by hand");
		status = 2;
		goto out;
	}
	log_init("proctrail-net", n.verbose);
	if (fcntl(n.ps, F_SETFL, O_NONBLOCK) < 0 ||
	    fcntl(PT_NETCHILD_TCP_FD, F_GETFL) < 0) {
		log_warn("network child: descriptors");
		status = 2;
		goto out;
	}
	if ((rc = setup(&n, &ctx, err, sizeof(err))) < 0) {
		log_warnx("network child: %s", err);
		queue_text(&n, PT_NETMSG_FAIL, err);
		flush_parent(&n, true);
		goto out;
	}
	/* the agent closing the socketpair cancels the handshake */
	rc = pt_conn_tls(&n.tls, ctx, PT_NETCHILD_TCP_FD, n.host, n.ps,
			 pt_mono_ms() + n.timeout_ms, err, sizeof(err));
	n.tls.stopfd = -1;   /* from now on the socketpair carries SENDs: readable is no stop */
	if (rc < 0) {
		queue_text(&n, PT_NETMSG_FAIL, err);
		flush_parent(&n, true);
		status = 0;   /* a refused handshake is the collector's doing, not a crash */
		goto out;
	}
	queue_msg(&n, PT_NETMSG_UP, NULL, 0);
	status = relay(&n) < 0 ? 1 : 0;
out:
	pt_conn_close(&n.tls);
	SSL_CTX_free(ctx);
	pt_buf_free(&n.pin);
	pt_buf_free(&n.pout);
	return status;
}
