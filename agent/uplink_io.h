/* Uplink transport helpers (agent/uplink_io.c). Ownership: a pt_conn owns its socket, its SSL
 * and its input buffer; pt_conn_close() releases them and may be called on a failed open. */
#ifndef PROCTRAIL_AGENT_UPLINK_IO_H
#define PROCTRAIL_AGENT_UPLINK_IO_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "proctrail/buf.h"
#include "proctrail/wire.h"

struct pt_conn {
	int fd, stopfd;
	SSL *ssl;
	struct pt_buf in;
};

/* "host:port" or "[v6]:port". */
int pt_uplink_split_addr(const char *addr, char *host, size_t hostlen, char *port, size_t portlen);
/* Connects and completes a TLS 1.3 handshake that verified the collector for host. */
int pt_conn_open(struct pt_conn *c, SSL_CTX *ctx, const char *addr, int stopfd,
		 unsigned timeout_ms, char *err, size_t errlen);
void pt_conn_close(struct pt_conn *c);
int pt_conn_write(struct pt_conn *c, const uint8_t *p, size_t len, unsigned timeout_ms);
/* Reads what is available without blocking. 0, or -ECONNRESET / -EPIPE / -EMSGSIZE. */
int pt_conn_fill(struct pt_conn *c);
/* 1 with the next whole frame (f points into c->in, *flen to consume), 0 when incomplete. */
int pt_conn_next_frame(struct pt_conn *c, struct pt_frame *f, size_t *flen);

#endif
