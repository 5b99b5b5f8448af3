/* Uplink transport (agent/uplink_io.c): TCP connect with a timeout, then either TLS 1.3 in this
 * process, or the network child (agent/uplink_child.c, agent/netchild.c), a process of its own
 * without privileges that does the TLS and the frame decoding; uplink.c sees the same calls.
 *
 * Ownership: a pt_conn owns its socket (the TCP socket, or the socketpair to its child), its SSL
 * or its child process, and its input buffer; pt_conn_close() releases them (the child is
 * reaped) and may be called on a failed open. */
#ifndef PROCTRAIL_AGENT_UPLINK_IO_H
#define PROCTRAIL_AGENT_UPLINK_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "proctrail/buf.h"
#include "proctrail/wire.h"

struct pt_conn {
	int fd, stopfd;
	SSL *ssl;               /* TLS in this process */
	pid_t child;            /* > 0: the network child holds the TLS; fd is the socketpair */
	struct pt_buf in;       /* TLS plaintext, or the child's messages (netmsg.h) */
};

/* How to reach a collector: TLS in this process with ctx, or (ctx NULL) a network child that
 * loads ca, cert and key itself, checks that the certificate's CN is name, and runs as user. */
struct pt_transport {
	SSL_CTX *ctx;
	const char *ca, *cert, *key, *user, *name;
	int verbose;
};

/* "host:port" or "[v6]:port". */
int pt_uplink_split_addr(const char *addr, char *host, size_t hostlen, char *port, size_t portlen);
/* The CN of ctx's certificate into out (a valid agent name), or -ENOENT / -EINVAL. */
int pt_tls_ctx_cn(SSL_CTX *ctx, char *out, size_t outlen);
/* Waits for events on fd until deadline (pt_mono_ms); -ECANCELED once stopfd (if >= 0) is
 * readable, -ETIMEDOUT. */
int pt_wait_fd(int fd, short events, int stopfd, uint64_t deadline);
/* Connects and completes a TLS 1.3 handshake that verified the collector for host. */
int pt_conn_open(struct pt_conn *c, const struct pt_transport *t, const char *addr, int stopfd,
		 unsigned timeout_ms, char *err, size_t errlen);
/* The handshake on a connected TCP socket fd, which c owns from then on (the network child's
 * half of pt_conn_open). */
int pt_conn_tls(struct pt_conn *c, SSL_CTX *ctx, int fd, const char *host, int stopfd,
		uint64_t deadline, char *err, size_t errlen);
void pt_conn_close(struct pt_conn *c);
/* Writes one whole frame. */
int pt_conn_write(struct pt_conn *c, const uint8_t *p, size_t len, unsigned timeout_ms);
/* Reads what is available without blocking. 0, or -ECONNRESET / -EPIPE / -EMSGSIZE / -EPROTO. */
int pt_conn_fill(struct pt_conn *c);
/* 1 with the next whole frame (f points into c->in, *flen to consume), 0 when incomplete. */
int pt_conn_next_frame(struct pt_conn *c, struct pt_frame *f, size_t *flen);
/* Input read from the socket but not yet in c->in (TLS records OpenSSL holds): poll would not
 * see it. */
bool pt_conn_pending(const struct pt_conn *c);

/* The network child's side of pt_conn (agent/uplink_child.c), called by the functions above. */
int pt_conn_child_open(struct pt_conn *c, const struct pt_transport *t, int tcpfd,
		       const char *host, unsigned timeout_ms, uint64_t deadline, char *err,
		       size_t errlen);
int pt_conn_child_write(struct pt_conn *c, const uint8_t *p, size_t len, uint64_t deadline);
int pt_conn_child_fill(struct pt_conn *c);
int pt_conn_child_next_frame(struct pt_conn *c, struct pt_frame *f, size_t *flen);
void pt_conn_child_close(struct pt_conn *c);

#endif
