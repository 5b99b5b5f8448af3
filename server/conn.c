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

#include "proctrail/clock.h"
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
	srv_sample_detach(c);
	if (c->sess) {
		pt_session_detach(c->sess, pt_real_ns());
		pt_session_unref(c->sess);
	}
	if (c->timer)
		event_free(c->timer);
	if (c->watch)
		event_free(c->watch);
	if (c->bev)
		bufferevent_free(c->bev);
	if (c->starved)
		srv->nstarved--;
	if (c->handshaking)
		hs_pool_remove(&srv->hs, c);
	else if (c->sess)
		srv->nestablished--;
	TAILQ_REMOVE(&srv->conns, c, link);
	srv->nconns--;
	free(c);
}

/* Arms the watch for at_ns unless it fires earlier already. */
static void watch_at(struct conn *c, uint64_t at_ns)
{
	uint64_t now = pt_mono_ns(), d = at_ns > now ? at_ns - now : 0;
	struct timeval tv = { (time_t)(d / 1000000000ull), (suseconds_t)(d % 1000000000ull / 1000) };

	if (c->watch_at_ns && c->watch_at_ns <= at_ns)
		return;
	c->watch_at_ns = at_ns;
	evtimer_add(c->watch, &tv);
}

/* Whether the connection waits on us (window, writer, rate limit): its clocks do not run. */
static int conn_held(const struct conn *c)
{
	return c->rate_paused || c->starved || c->srv->stopping || !c->sess ||
	       !pt_session_wants_input(c->sess);
}

/* The deadlines: a handshake is done HANDSHAKE_TIMEOUT_S after accept; a frame is whole
 * frame-timeout after its first byte; an established connection brings a whole frame at least
 * once per idle timeout. Only whole frames count: bytes trickled into a frame (or into a TLS
 * record) extend nothing. */
static void watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct server *srv = c->srv;
	uint64_t now = pt_mono_ns(), next, at;

	(void)fd;
	(void)what;
	c->watch_at_ns = 0;
	if (c->closing)
		return;               /* the linger timer ends it */
	if (c->handshaking) {
		at = c->accepted_ns + HANDSHAKE_TIMEOUT_S * 1000000000ull;
		if (now < at) {
			watch_at(c, at);
			return;
		}
		srv_count(srv, SRV_HANDSHAKE_TIMEOUTS);
		if (srv_log_allowed(&srv->rl_timeout))
			log_warnx("%s: TLS handshake not finished after %u s, closing", c->address,
				  HANDSHAKE_TIMEOUT_S);
		pt_conn_free(c);
		return;
	}
	if (!c->sess)
		return;
	if (conn_held(c)) {
		watch_at(c, now + srv->idle_timeout_ns);
		return;
	}
	if (c->frame_started_ns) {
		at = c->frame_started_ns + srv->frame_timeout_ns;
		if (now >= at) {
			srv_count(srv, SRV_FRAME_TIMEOUTS);
			pt_session_fail(c->sess, PT_ERR_LIMIT, 0,
					"frame not complete %llu s after its first byte",
					(unsigned long long)(srv->frame_timeout_ns / 1000000000ull));
			return;
		}
	}
	at = c->last_progress_ns + srv->idle_timeout_ns;
	if (now >= at) {
		srv_count(srv, SRV_IDLE_TIMEOUTS);
		if (srv_log_allowed(&srv->rl_timeout))
			log_warnx("agent %s (%s): no whole frame for %llu s, closing", c->sess->agent_id,
				  c->address, (unsigned long long)(srv->idle_timeout_ns / 1000000000ull));
		pt_conn_free(c);
		return;
	}
	next = at;
	if (c->frame_started_ns && c->frame_started_ns + srv->frame_timeout_ns < next)
		next = c->frame_started_ns + srv->frame_timeout_ns;
	watch_at(c, next);
}

/* avail bytes of an unfinished frame are buffered: its deadline starts with the first. */
static void frame_pending(struct conn *c, size_t avail)
{
	uint64_t now;

	if (!avail) {
		c->frame_started_ns = 0;
		return;
	}
	if (c->frame_started_ns)
		return;
	now = pt_mono_ns();
	c->frame_started_ns = now;
	watch_at(c, now + c->srv->frame_timeout_ns);
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
	c->last_progress_ns = pt_mono_ns();
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
	c->frame_started_ns = 0;      /* held by us: the peer's clock restarts on resume */
	bufferevent_disable(c->bev, EV_READ);
	evtimer_del(c->timer);
	evtimer_add(c->timer, &tv);
}

static void op_resume(void *io)
{
	struct conn *c = io;

	if (c->closing || c->rate_paused || c->srv->stopping)
		return;
	c->last_progress_ns = pt_mono_ns();
	bufferevent_enable(c->bev, EV_READ);
	process_input(c);
}

static void op_submit(void *ctx, struct pt_job *job)
{
	struct server *srv = ctx;

	srv->queued_bytes += job->bytes;
	pt_writer_submit(srv->writer, job);
}

static void op_ready(void *io)
{
	struct conn *c = io;

	srv_policy_send(c->srv, c);
	srv_sample_ready(c->srv, c);
}

static void op_sample_data(void *io, const struct pt_sample_data *d, bool disabled)
{
	struct conn *c = io;

	srv_sample_data(c->srv, c, d, disabled);
}

static void op_policy_result(void *io, uint64_t version, uint32_t code, const char *message)
{
	struct conn *c = io;

	srv_policy_result(c->srv, c, version, code, message);
}

static const struct pt_session_ops conn_ops = {
	.send = op_send, .close = op_close, .pause = op_pause, .resume = op_resume,
	.submit = op_submit, .ready = op_ready, .policy_result = op_policy_result,
	.sample_data = op_sample_data,
	.detect = srv_rules_detect,
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
			c->frame_started_ns = 0;
			bufferevent_disable(c->bev, EV_READ);
			return;
		}
		if (!pt_session_wants_input(c->sess)) {
			/* The window is full: stop reading, TCP pushes back on this agent only. */
			c->frame_started_ns = 0;
			bufferevent_disable(c->bev, EV_READ);
			return;
		}
		avail = evbuffer_get_length(in);
		if (avail < PT_FRAME_HDR_LEN) {
			frame_pending(c, avail);
			return;
		}
		p = evbuffer_pullup(in, PT_FRAME_HDR_LEN);
		ret = pt_session_frame_len(c->sess, p, PT_FRAME_HDR_LEN, &total);
		if (ret)
			return;
		/* Nothing is allocated for the frame before it is whole: the input buffer grows
		 * only by the bytes that arrived, and the deadline bounds how long they stay. */
		if (avail < total) {
			frame_pending(c, avail);
			return;
		}
		if (p[3] == PT_FRAME_BATCH) {
			/* Moved straight into the buffer the writer will read: one copy. */
			uint8_t *frame = malloc(total);

			if (!frame || evbuffer_remove(in, frame, total) != (int)total) {
				free(frame);
				pt_session_fail(c->sess, PT_ERR_INTERNAL, 0, "out of memory");
				return;
			}
			ret = pt_session_frame_take(c->sess, frame, total, pt_real_ns());
		} else {
			p = evbuffer_pullup(in, (ssize_t)total);
			if (!p) {
				pt_session_fail(c->sess, PT_ERR_INTERNAL, 0, "out of memory");
				return;
			}
			ret = pt_session_frame(c->sess, p, total, pt_real_ns());
			evbuffer_drain(in, total);
		}
		c->frame_started_ns = 0;
		c->last_progress_ns = pt_mono_ns();
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
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
	unsigned long e;
	char buf[256];
	int logged = 0;

	srv_count(c->srv, SRV_HANDSHAKE_FAILED);
	if (!srv_log_allowed(&c->srv->rl_handshake))
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

static uint64_t name_hash(const char *s)
{
	uint64_t h = 14695981039346656037ull;   /* FNV-1a */

	while (*s)
		h = (h ^ (uint8_t)*s++) * 1099511628211ull;
	return h;
}

/* max-per-agent: the newest connection of a certificate is the one kept, so an agent that
 * reconnects over a path whose old connection is not yet timed out is never locked out by
 * it. Returns whether an older connection was closed to make room. */
static int replace_oldest_of_agent(struct conn *c)
{
	struct server *srv = c->srv;
	struct conn *o, *oldest = NULL;
	unsigned n = 0;

	if (!srv->cfg->max_per_agent)
		return 0;
	TAILQ_FOREACH(o, &srv->conns, link) {
		if (o == c || !o->sess || o->closing || o->cn_hash != c->cn_hash ||
		    strcmp(o->sess->agent_id, c->sess->agent_id))
			continue;
		if (!oldest)
			oldest = o;
		n++;
	}
	if (n < srv->cfg->max_per_agent)
		return 0;
	srv_count(srv, SRV_REPLACED_PER_AGENT);
	pt_session_fail(oldest->sess, PT_ERR_LIMIT, 0,
			"replaced by a newer connection of this agent from %s (max-per-agent %u)",
			c->address, srv->cfg->max_per_agent);
	return 1;
}

static void event_cb(struct bufferevent *bev, short what, void *arg);

static void established(struct conn *c)
{
	struct server *srv = c->srv;
	struct bufferevent *bev = c->bev;
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	char cn[PT_TLS_CN_MAX + 1];
	uint64_t now = pt_mono_ns();

	hs_pool_remove(&srv->hs, c);
	c->handshaking = 0;
	/* Verified by OpenSSL against the CA and CRL; the CN is the agent's id. */
	if (pt_tls_peer_cn(ssl, cn, sizeof(cn))) {
		srv_count(srv, SRV_HANDSHAKE_FAILED);
		if (srv_log_allowed(&srv->rl_handshake))
			log_warnx("%s: refused: certificate has no valid agent name", c->address);
		pt_conn_free(c);
		return;
	}
	c->sess = pt_session_new(cn, c->address, &conn_ops, c, srv, &srv->cfg->lim, now);
	if (!c->sess) {
		pt_conn_free(c);
		return;
	}
	srv->nestablished++;
	c->cn_hash = name_hash(cn);
	/* A replaced connection frees its slot within the linger: not a reason to refuse. */
	if (!replace_oldest_of_agent(c) && srv->nestablished > srv->max_connections) {
		srv_count(srv, SRV_REFUSED_MAX_CONNECTIONS);
		if (srv_log_allowed(&srv->rl_refused))
			log_warnx("agent %s (%s): refused: max-connections (%u) reached", cn,
				  c->address, srv->max_connections);
		pt_conn_free(c);
		return;
	}
	log_debug("%s: TLS established for agent %s", c->address, cn);
	c->last_progress_ns = now;
	/* The idle and frame deadlines are the watch's, counted in whole frames: a read
	 * timeout would be reset by every trickled byte. */
	bufferevent_set_timeouts(bev, NULL, NULL);
	bufferevent_setcb(bev, read_cb, write_cb, event_cb, c);
	bufferevent_setwatermark(bev, EV_READ, 0, (size_t)srv->cfg->lim.max_frame + 65536);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	watch_at(c, now + srv->idle_timeout_ns);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		established(c);
		return;
	}
	if (!c->sess) {
		log_tls_failure(c, what);
	} else if (!c->closing) {
		if ((what & BEV_EVENT_ERROR) && errno && errno != ECONNRESET)
			log_warnx("agent %s (%s): connection lost: %s", c->sess->agent_id, c->address,
				  strerror(errno));
		else
			log_info("agent %s (%s): disconnected", c->sess->agent_id, c->address);
	}
	pt_conn_free(c);
}

static void set_peer(struct conn *c, const struct sockaddr *sa)
{
	c->peer.family = sa->sa_family;
	if (sa->sa_family == AF_INET)
		memcpy(c->peer.addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	else if (sa->sa_family == AF_INET6)
		memcpy(c->peer.addr, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
}

/* Admission of an unauthenticated connection: one address holds at most its share of the
 * handshake pool; a full pool makes room only at the expense of an address holding more
 * (hs_pool_victim). Established agents are never touched. Returns 0 to admit. */
static int admit(struct server *srv, const struct conn *newc, const char **why)
{
	unsigned same = hs_pool_count(&srv->hs, &newc->peer);
	uint64_t now = pt_mono_ns();
	struct conn *o;

	if (srv->cfg->max_handshakes_per_address && same >= srv->cfg->max_handshakes_per_address) {
		srv_count(srv, SRV_REFUSED_PER_ADDRESS);
		*why = "max-handshakes-per-address reached";
		return -EBUSY;
	}
	if (srv->hs.n < srv->max_handshakes)
		return 0;
	o = hs_pool_victim(&srv->hs, same);
	if (!o) {
		srv_count(srv, SRV_REFUSED_HANDSHAKES_FULL);
		*why = "max-handshakes reached";
		return -EBUSY;
	}
	srv_count(srv, SRV_EVICTED_HANDSHAKES);
	if (srv_log_allowed(&srv->rl_refused))
		log_warnx("%s: dropped after %llu ms in the TLS handshake to admit another address"
			  " (max-handshakes %u)", o->address,
			  (unsigned long long)((now - o->accepted_ns) / 1000000ull), srv->max_handshakes);
	pt_conn_free(o);
	return 0;
}

void pt_conn_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
		    void *arg)
{
	struct server *srv = arg;
	struct sockaddr_in *sin = (struct sockaddr_in *)sa;
	char ip[INET6_ADDRSTRLEN] = "?";
	const char *why = "shutting down";
	struct conn *c;
	SSL *ssl;
	int one = 1;

	(void)l;
	(void)salen;
	/* A changed CRL is loaded before this handshake; without a valid one nobody is admitted
	 * (before the handshake pool, so a refused peer evicts nobody). */
	if (pt_server_crl_admit(srv) < 0) {
		evutil_closesocket(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		evutil_closesocket(fd);
		return;
	}
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr, ip, sizeof(ip));
	snprintf(c->address, sizeof(c->address), "%s:%u", ip, ntohs(sin->sin_port));
	set_peer(c, sa);
	if (srv->stopping || admit(srv, c, &why)) {
		if (srv_log_allowed(&srv->rl_refused))
			log_warnx("%s: refusing a connection: %s", c->address, why);
		free(c);
		evutil_closesocket(fd);
		return;
	}
	ssl = SSL_new(srv->tls.ctx);
	if (!ssl) {
		free(c);
		evutil_closesocket(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->srv = srv;
	c->accepted_ns = pt_mono_ns();
	c->timer = evtimer_new(srv->base, timer_cb, c);
	c->watch = evtimer_new(srv->base, watch_cb, c);
	c->bev = bufferevent_openssl_socket_new(srv->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
						BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	TAILQ_INSERT_TAIL(&srv->conns, c, link);
	srv->nconns++;
	c->handshaking = !hs_pool_add(&srv->hs, c);
	if (!c->bev || !c->timer || !c->watch || !c->handshaking) {
		if (!c->bev)
			evutil_closesocket(fd);
		pt_conn_free(c);
		return;
	}
	/* No read callback until the handshake verified the peer: nothing is parsed before. */
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	bufferevent_setcb(c->bev, NULL, NULL, event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	watch_at(c, c->accepted_ns + HANDSHAKE_TIMEOUT_S * 1000000000ull);
}
void pt_conn_close(struct conn *c)
{
	op_close(c);
}

void pt_conn_resume(struct conn *c)
{
	op_resume(c);
}
