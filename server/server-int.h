/* The collector's internals shared by the process lifecycle (server.c) and the connection
 * adapter (conn.c): the server owns the list of connections; each connection owns its
 * bufferevent, timer and session. Not for other programs. */
#ifndef PROCTRAIL_SERVER_SERVER_INT_H
#define PROCTRAIL_SERVER_SERVER_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "proctrail/tls.h"
#include "config.h"

#define HANDSHAKE_TIMEOUT_S 15
#define LINGER_TIMEOUT_S    3
/* Decoded batches waiting for the writer, all connections together: over this, connections
 * stop being read until the writer catches up (each connection is bounded by its window too). */
#define QUEUED_BYTES_MAX    (256u << 20)


struct server;

struct conn {
	struct server *srv;
	struct bufferevent *bev;
	struct pt_session *sess;
	struct event *timer;          /* rate-limit resume, or linger on close */
	char address[64];
	int closing, rate_paused, freed, starved;
	TAILQ_ENTRY(conn) link;
};

struct server {
	const struct pt_server_config *cfg;
	struct event_base *base;
	struct evconnlistener *listener;
	struct pt_tls_server tls;
	struct pt_writer_thread *writer;
	struct pt_checkpointer *ckpt;
	struct event *ping_ev, *collect_ev, *stop_ev, *sig_ev[4];
	TAILQ_HEAD(, conn) conns;
	unsigned nconns;
	int stopping;
	uint64_t stop_started_ns;
	size_t queued_bytes;          /* job bytes between submit and done */
	unsigned nstarved;
	struct srv_crl_state {        /* revocation: server.c, pt_server_crl_admit() */
		struct event *poll_ev;
		char err[512];            /* why the CRL is unusable, while it is */
		uint64_t reload_failures, refused, revoked_closed;
		uint64_t warn_ns, refuse_warn_ns, warn_suppressed;   /* log rate limits */
	} crl;
};

static inline uint64_t srv_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The listener's callback: a new TCP connection; nothing is read from it before the TLS
 * handshake verified the peer. */
void pt_conn_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
		    void *srv);
/* Frees c and removes it from its server; its session is detached. NULL-safe. */
void pt_conn_free(struct conn *c);
/* Sends what is queued, half-closes, and frees c after the peer closed or a linger. */
void pt_conn_close(struct conn *c);
/* Reads c again after a pause (window, starvation), unless it is closing or rate-paused. */
void pt_conn_resume(struct conn *c);
/* Before a new connection's handshake: loads the CRL if it changed on disk (closing the open
 * connections it revokes). 0 to go on; -EPERM while no valid CRL is readable, the refusal
 * counted and logged (rate-limited): the collector fails closed. */
int pt_server_crl_admit(struct server *srv);

#endif
