/* The connection adapter: a TLS bufferevent per agent, feeding its session frames and
 * carrying out what the session asks (send, close, pause, resume, submit to the writer). */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <openssl/err.h>
#include <sqlite3.h>

#include "proctrail/log.h"
#include "proctrail/store.h"
#include "proctrail/tls.h"
#include "server-int.h"
#include "session.h"
#include "writer.h"

void pt_conn_free(struct conn *c)
{
	struct server *srv;

	if (!c)
		return;
	srv = c->srv;
	if (c->sess) {
		pt_session_detach(c->sess, srv_now_ns());
		pt_session_unref(c->sess);
	}
	if (c->timer)
		event_free(c->timer);
	if (c->bev)
		bufferevent_free(c->bev);
	if (c->starved)
		srv->nstarved--;
	TAILQ_REMOVE(&srv->conns, c, link);
	srv->nconns--;
	free(c);
}

static void process_input(struct conn *c);

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	if (c->closing) {
		pt_conn_free(c);          /* linger over: the peer did not close in time */
		return;
	}
	c->rate_paused = 0;
	bufferevent_enable(c->bev, EV_READ);
	process_input(c);
}

/* ---- session ops ---- */
static void op_send(void *io, const uint8_t *buf, size_t len)
{
	struct conn *c = io;

	bufferevent_write(c->bev, buf, len);
}

static void op_close(void *io)
{
	struct conn *c = io;
	struct timeval tv = { LINGER_TIMEOUT_S, 0 };

	/* Flush what was queued (an ERROR, the last ACKs), then half-close and wait a little for
	 * the peer's close, so our FIN does not become a RST that destroys the ERROR unread. */
	c->closing = 1;
	evtimer_del(c->timer);
	evtimer_add(c->timer, &tv);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		bufferevent_trigger(c->bev, EV_WRITE, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

static void op_pause(void *io, uint64_t ms)
{
	struct conn *c = io;
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };

	if (c->closing)
		return;
	c->rate_paused = 1;
	bufferevent_disable(c->bev, EV_READ);
	evtimer_del(c->timer);
	evtimer_add(c->timer, &tv);
}

static void op_resume(void *io)
{
	struct conn *c = io;

	if (c->closing || c->rate_paused || c->srv->stopping)
		return;
	bufferevent_enable(c->bev, EV_READ);
	process_input(c);
}

static void op_submit(void *ctx, struct pt_job *job)
{
	struct server *srv = ctx;

	srv->queued_bytes += job->bytes;
	pt_writer_submit(srv->writer, job);
}

static const struct pt_session_ops conn_ops = {
	.send = op_send, .close = op_close, .pause = op_pause, .resume = op_resume,
	.submit = op_submit,
};

static void process_input(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t avail, total;
	uint8_t *p;
	int ret;

	while (!c->closing && !c->rate_paused && !c->srv->stopping) {
		if (c->srv->queued_bytes > QUEUED_BYTES_MAX) {
			if (!c->starved) {
				c->starved = 1;
				c->srv->nstarved++;
			}
			bufferevent_disable(c->bev, EV_READ);
			return;
		}
		if (!pt_session_wants_input(c->sess)) {
			/* The window is full: stop reading, TCP pushes back on this agent only. */
			bufferevent_disable(c->bev, EV_READ);
			return;
		}
		avail = evbuffer_get_length(in);
		if (avail < PT_FRAME_HDR_LEN)
			return;
		p = evbuffer_pullup(in, PT_FRAME_HDR_LEN);
		ret = pt_session_frame_len(c->sess, p, PT_FRAME_HDR_LEN, &total);
		if (ret)
			return;
		if (avail < total)
			return;
		if (p[3] == PT_FRAME_BATCH) {
			/* Moved straight into the buffer the writer will read: one copy. */
			uint8_t *frame = malloc(total);

			if (!frame || evbuffer_remove(in, frame, total) != (int)total) {
				free(frame);
				pt_session_fail(c->sess, PT_ERR_INTERNAL, 0, "out of memory");
				return;
			}
			ret = pt_session_frame_take(c->sess, frame, total, srv_now_ns());
		} else {
			p = evbuffer_pullup(in, (ssize_t)total);
			if (!p) {
				pt_session_fail(c->sess, PT_ERR_INTERNAL, 0, "out of memory");
				return;
			}
			ret = pt_session_frame(c->sess, p, total, srv_now_ns());
			evbuffer_drain(in, total);
		}
		if (ret)
			return;
	}
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->closing) {
		evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
		return;
	}
	process_input(c);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->closing && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		shutdown(bufferevent_getfd(bev), SHUT_WR);
}

static void log_tls_failure(struct conn *c, short what)
{
	/* Anyone who can connect can fail a handshake: one limiter for all of them (the loop
	 * thread is its only user). */
	static struct log_ratelimit handshake_log;
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
	unsigned long e;
	char buf[256];
	int logged = 0;

	if (!log_ratelimit_allow(&handshake_log, "failed TLS handshakes"))
		return;

	/* The verification result names the reason people act on: revoked, unknown CA, none. */
	if (vr != X509_V_OK) {
		log_warnx("%s: TLS handshake refused: client certificate: %s", c->address,
			  X509_verify_cert_error_string(vr));
		logged = 1;
	}
	while (!logged && (e = bufferevent_get_openssl_error(c->bev))) {
		ERR_error_string_n(e, buf, sizeof(buf));
		log_warnx("%s: TLS handshake refused: %s", c->address,
			  ERR_GET_REASON(e) == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE ?
			  "no client certificate" : buf);
		logged = 1;
	}
	if (!logged)
		log_warnx("%s: connection closed during the TLS handshake%s", c->address,
			  (what & BEV_EVENT_TIMEOUT) ? " (timeout)" : "");
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	struct server *srv = c->srv;
	char cn[PT_TLS_CN_MAX + 1];
	struct timeval tv;

	if (what & BEV_EVENT_CONNECTED) {
		SSL *ssl = bufferevent_openssl_get_ssl(bev);

		/* Verified by OpenSSL against the CA and CRL; the CN is the agent's id. */
		if (pt_tls_peer_cn(ssl, cn, sizeof(cn))) {
			log_warnx("%s: refused: certificate has no valid agent name", c->address);
			pt_conn_free(c);
			return;
		}
		c->sess = pt_session_new(cn, c->address, &conn_ops, c, srv, &srv->cfg->lim,
					 srv_now_ns());
		if (!c->sess) {
			pt_conn_free(c);
			return;
		}
		log_debug("%s: TLS established for agent %s", c->address, cn);
		tv.tv_sec = 3 * srv->cfg->lim.ping_interval_ms / 1000 + 30;
		tv.tv_usec = 0;
		bufferevent_set_timeouts(bev, &tv, NULL);
		bufferevent_setcb(bev, read_cb, write_cb, event_cb, c);
		bufferevent_setwatermark(bev, EV_READ, 0, (size_t)srv->cfg->lim.max_frame + 65536);
		bufferevent_enable(bev, EV_READ | EV_WRITE);
		return;
	}
	if (!c->sess) {
		log_tls_failure(c, what);
	} else if (!c->closing) {
		if (what & BEV_EVENT_TIMEOUT)
			log_warnx("agent %s (%s): idle too long, closing", c->sess->agent_id, c->address);
		else if ((what & BEV_EVENT_ERROR) && errno && errno != ECONNRESET)
			log_warnx("agent %s (%s): connection lost: %s", c->sess->agent_id, c->address,
				  strerror(errno));
		else
			log_info("agent %s (%s): disconnected", c->sess->agent_id, c->address);
	}
	pt_conn_free(c);
}

void pt_conn_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
		    void *arg)
{
	struct server *srv = arg;
	struct sockaddr_in *sin = (struct sockaddr_in *)sa;
	char ip[INET6_ADDRSTRLEN] = "?", err[512];
	struct timeval tv = { HANDSHAKE_TIMEOUT_S, 0 };
	struct conn *c;
	SSL *ssl;
	int one = 1;

	(void)l;
	(void)salen;
	if (srv->stopping || srv->nconns >= srv->cfg->max_connections) {
		log_warnx("refusing a connection: %s", srv->stopping ? "shutting down" :
			  "max-connections reached");
		evutil_closesocket(fd);
		return;
	}
	/* The CRL is checked at every handshake, so a revocation takes effect at once. */
	if (pt_tls_server_reload(&srv->tls, 0, err, sizeof(err)) < 0)
		log_warnx("keeping the previous CRL: %s", err);
	c = calloc(1, sizeof(*c));
	ssl = c ? SSL_new(srv->tls.ctx) : NULL;
	if (!ssl) {
		free(c);
		evutil_closesocket(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr, ip, sizeof(ip));
	snprintf(c->address, sizeof(c->address), "%s:%u", ip, ntohs(sin->sin_port));
	c->srv = srv;
	c->timer = evtimer_new(srv->base, timer_cb, c);
	c->bev = bufferevent_openssl_socket_new(srv->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
						BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	TAILQ_INSERT_TAIL(&srv->conns, c, link);
	srv->nconns++;
	if (!c->bev || !c->timer) {
		if (!c->bev)
			evutil_closesocket(fd);
		pt_conn_free(c);
		return;
	}
	/* No read callback until the handshake verified the peer: nothing is parsed before. */
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	bufferevent_setcb(c->bev, NULL, NULL, event_cb, c);
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}
void pt_conn_close(struct conn *c)
{
	op_close(c);
}

void pt_conn_resume(struct conn *c)
{
	op_resume(c);
}
