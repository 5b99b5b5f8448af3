/* Uplink transport: TCP connect with a timeout, TLS 1.3 handshake, whole-frame writes and
 * frame reads over a non-blocking socket; or the same through the network child. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "proctrail/clock.h"
#include "proctrail/log.h"
#include "proctrail/tls.h"
#include "uplink_io.h"


int pt_uplink_split_addr(const char *addr, char *host, size_t hostlen, char *port, size_t portlen)
{
	const char *colon;
	size_t hl;

	if (addr[0] == '[') {   /* [v6]:port */
		const char *end = strchr(addr, ']');
		if (!end || end[1] != ':')
			return -EINVAL;
		hl = (size_t)(end - addr - 1);
		colon = end + 1;
		addr++;
	} else {
		colon = strrchr(addr, ':');
		if (!colon)
			return -EINVAL;
		hl = (size_t)(colon - addr);
	}
	if (hl == 0 || hl >= hostlen || !colon[1] || strlen(colon + 1) >= portlen)
		return -EINVAL;
	memcpy(host, addr, hl);
	host[hl] = '\0';
	snprintf(port, portlen, "%s", colon + 1);
	return 0;
}

int pt_tls_ctx_cn(SSL_CTX *ctx, char *out, size_t outlen)
{
	X509 *x = SSL_CTX_get0_certificate(ctx);
	if (!x)
		return -ENOENT;
	int n = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, out, (int)outlen);
	if (n <= 0 || (size_t)n >= outlen || !pt_tls_name_valid(out))
		return -EINVAL;
	return 0;
}

int pt_wait_fd(int fd, short events, int stopfd, uint64_t deadline)
{
	for (;;) {
		uint64_t now = pt_mono_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		struct pollfd p[2] = { { .fd = fd, .events = events }, { .fd = stopfd, .events = POLLIN } };
		int n = poll(p, stopfd >= 0 ? 2 : 1, (int)(deadline - now));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (stopfd >= 0 && (p[1].revents & POLLIN))
			return -ECANCELED;
		if (p[0].revents)
			return 0;
	}
}

static int tcp_connect(const char *host, const char *port, int stopfd, uint64_t deadline)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL, *ai;
	int fd = -1, rc;

	rc = getaddrinfo(host, port, &hints, &res);
	if (rc)
		return rc == EAI_SYSTEM ? -errno : -EHOSTUNREACH;
	rc = -ECONNREFUSED;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0) {
			rc = -errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS) {
			rc = pt_wait_fd(fd, POLLOUT, stopfd, deadline);
			int soerr = 0;
			socklen_t sl = sizeof(soerr);
			if (rc == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && !soerr)
				break;
			if (rc == 0)
				rc = -(soerr ? soerr : ECONNREFUSED);
		} else {
			rc = -errno;
		}
		close(fd);
		fd = -1;
		if (rc == -ECANCELED)
			break;
	}
	freeaddrinfo(res);
	return fd >= 0 ? fd : rc;
}

int pt_conn_open(struct pt_conn *c, const struct pt_transport *t, const char *addr, int stopfd,
		 unsigned timeout_ms, char *err, size_t errlen)
{
	char host[256], port[32];
	uint64_t deadline = pt_mono_ms() + timeout_ms;
	int fd;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->stopfd = stopfd;
	if (pt_uplink_split_addr(addr, host, sizeof(host), port, sizeof(port)) < 0) {
		snprintf(err, errlen, "bad collector address");
		return -EINVAL;
	}
	/* The connection is made here (name resolution and connect need what the network
	 * child has given up); the child gets the connected socket. */
	fd = tcp_connect(host, port, stopfd, deadline);
	if (fd < 0) {
		snprintf(err, errlen, "connect: %s", strerror(-fd));
		return fd;
	}
	if (!t->ctx)
		return pt_conn_child_open(c, t, fd, host, timeout_ms, deadline, err, errlen);
	return pt_conn_tls(c, t->ctx, fd, host, stopfd, deadline, err, errlen);
}

int pt_conn_tls(struct pt_conn *c, SSL_CTX *ctx, int fd, const char *host, int stopfd,
		uint64_t deadline, char *err, size_t errlen)
{
	int rc;

	c->fd = fd;
	c->stopfd = stopfd;
	c->child = 0;
	pt_buf_init(&c->in, PT_FRAME_MAX + 65536);
	c->ssl = SSL_new(ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1 || pt_tls_client_expect_host(c->ssl, host) < 0) {
		pt_tls_errstr(err, errlen);
		return -ENOMEM;
	}
	SSL_set_mode(c->ssl, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	for (;;) {
		ERR_clear_error();
		int r = SSL_connect(c->ssl);
		if (r == 1)
			break;
		int e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			rc = pt_wait_fd(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, stopfd, deadline);
			if (rc < 0) {
				snprintf(err, errlen, "TLS handshake: %s", strerror(-rc));
				return rc;
			}
			continue;
		}
		char tls[256];
		pt_tls_errstr(tls, sizeof(tls));
		long vr = SSL_get_verify_result(c->ssl);
		snprintf(err, errlen, "TLS handshake: %s%s%s", tls, vr != X509_V_OK ? ": " : "",
			 vr != X509_V_OK ? X509_verify_cert_error_string(vr) : "");
		return -EPROTO;
	}
	if (SSL_version(c->ssl) != TLS1_3_VERSION) {
		snprintf(err, errlen, "collector did not negotiate TLS 1.3");
		return -EPROTO;
	}
	return 0;
}

void pt_conn_close(struct pt_conn *c)
{
	if (c->child > 0)
		pt_conn_child_close(c);
	if (c->ssl) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	pt_buf_free(&c->in);
}

int pt_conn_write(struct pt_conn *c, const uint8_t *p, size_t len, unsigned timeout_ms)
{
	uint64_t deadline = pt_mono_ms() + timeout_ms;
	size_t off = 0;

	if (c->child > 0)
		return pt_conn_child_write(c, p, len, deadline);
	while (off < len) {
		ERR_clear_error();
		int n = SSL_write(c->ssl, p + off, (int)(len - off > (1u << 30) ? 1u << 30 : len - off));
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		int e = SSL_get_error(c->ssl, n);
		if (e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ)
			return -EPIPE;
		int rc = pt_wait_fd(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, c->stopfd, deadline);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int pt_conn_fill(struct pt_conn *c)
{
	uint8_t tmp[16384];

	if (c->child > 0)
		return pt_conn_child_fill(c);
	for (;;) {
		ERR_clear_error();
		int n = SSL_read(c->ssl, tmp, sizeof(tmp));
		if (n > 0) {
			int rc = pt_buf_append(&c->in, tmp, (size_t)n);
			if (rc < 0)
				return rc;
			continue;
		}
		int e = SSL_get_error(c->ssl, n);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			return 0;
		if (e == SSL_ERROR_ZERO_RETURN)
			return -ECONNRESET;
		return -EPIPE;
	}
}

int pt_conn_next_frame(struct pt_conn *c, struct pt_frame *f, size_t *flen)
{
	struct pt_frame_header h;
	int rc;

	if (c->child > 0)
		return pt_conn_child_next_frame(c, f, flen);
	rc = pt_frame_header_parse(c->in.data, c->in.len, PT_FRAME_MAX, &h);
	if (rc == -EAGAIN)
		return 0;
	if (rc < 0)
		return rc;
	size_t total = PT_FRAME_HDR_LEN + (size_t)h.payload_len;
	if (c->in.len < total)
		return 0;
	if ((rc = pt_frame_split(c->in.data, total, f)) < 0)
		return rc;
	*flen = total;
	return 1;
}

bool pt_conn_pending(const struct pt_conn *c)
{
	return c->ssl && SSL_pending(c->ssl) > 0;
}
