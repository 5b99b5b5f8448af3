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
#include "checkpoint.h"
#include "server.h"
#include "session.h"
#include "store_wal.h"
#include "writer.h"

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
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void conn_free(struct conn *c)
{
	struct server *srv = c->srv;

	if (c->sess) {
		pt_session_detach(c->sess, now_ns());
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
		conn_free(c);          /* linger over: the peer did not close in time */
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
			ret = pt_session_frame_take(c->sess, frame, total, now_ns());
		} else {
			p = evbuffer_pullup(in, (ssize_t)total);
			if (!p) {
				pt_session_fail(c->sess, PT_ERR_INTERNAL, 0, "out of memory");
				return;
			}
			ret = pt_session_frame(c->sess, p, total, now_ns());
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
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
	unsigned long e;
	char buf[256];
	int logged = 0;

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
			conn_free(c);
			return;
		}
		c->sess = pt_session_new(cn, c->address, &conn_ops, c, srv, &srv->cfg->lim,
					 now_ns());
		if (!c->sess) {
			conn_free(c);
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
	conn_free(c);
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
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
		conn_free(c);
		return;
	}
	/* No read callback until the handshake verified the peer: nothing is parsed before. */
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	bufferevent_setcb(c->bev, NULL, NULL, event_cb, c);
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void job_done(struct pt_job *job, void *arg)
{
	struct server *srv = arg;
	struct conn *c, *next;

	srv->queued_bytes -= job->bytes < srv->queued_bytes ? job->bytes : srv->queued_bytes;
	pt_session_job_done(job);
	if (!srv->nstarved || srv->queued_bytes > QUEUED_BYTES_MAX / 2 || srv->stopping)
		return;
	/* Below half the bound again: read the connections that were held back. */
	for (c = TAILQ_FIRST(&srv->conns); c && srv->nstarved; c = next) {
		next = TAILQ_NEXT(c, link);
		if (!c->starved)
			continue;
		c->starved = 0;
		srv->nstarved--;
		op_resume(c);
	}
}

static void ping_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	struct conn *c;
	uint64_t now = now_ns();

	(void)fd;
	(void)what;
	TAILQ_FOREACH(c, &srv->conns, link)
		if (c->sess && !c->closing)
			pt_session_ping(c->sess, now);
}

static void collect_all(struct server *srv)
{
	struct conn *c;
	uint64_t now = now_ns();

	TAILQ_FOREACH(c, &srv->conns, link)
		if (c->sess && !c->closing)
			pt_session_collect(c->sess, now);
}

static void collect_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	collect_all(arg);
}

/* Shutdown: stop reading, let the writer commit what it has, let the ACKs go out, close. */
static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	struct conn *c, *next;
	struct timeval tv = { 0, 50000 };

	(void)fd;
	(void)what;
	if (pt_writer_pending(srv->writer) == 0) {
		for (c = TAILQ_FIRST(&srv->conns); c; c = next) {
			next = TAILQ_NEXT(c, link);
			if (!c->sess)
				conn_free(c);
			else if (!c->closing)
				op_close(c);
		}
		if (TAILQ_EMPTY(&srv->conns) || now_ns() - srv->stop_started_ns > 3000000000ull) {
			event_base_loopbreak(srv->base);
			return;
		}
	}
	evtimer_add(srv->stop_ev, &tv);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;
	char err[512];
	struct conn *c;
	struct timeval tv = { 0, 0 };

	(void)what;
	switch (sig) {
	case SIGHUP:
		if (pt_tls_server_reload(&srv->tls, 1, err, sizeof(err)) < 0)
			log_warnx("SIGHUP: keeping the previous CA/CRL: %s", err);
		else
			log_info("SIGHUP: CA and CRL reloaded");
		break;
	case SIGUSR1:
		log_info("SIGUSR1: sending COLLECT to pull-mode agents");
		collect_all(srv);
		break;
	default:
		if (srv->stopping)
			break;
		log_info("signal %d: stopping after the last commit", (int)sig);
		srv->stopping = 1;
		srv->stop_started_ns = now_ns();
		evconnlistener_disable(srv->listener);
		TAILQ_FOREACH(c, &srv->conns, link)
			if (c->bev && !c->closing)
				bufferevent_disable(c->bev, EV_READ);
		evtimer_add(srv->stop_ev, &tv);
		break;
	}
}

static int drop_privileges(const char *user)
{
	struct passwd *pw;

	if (geteuid() != 0)
		return 0;
	pw = getpwnam(user);
	if (!pw) {
		log_warnx("user '%s' does not exist: create it (useradd --system %s) or pass --user",
			  user, user);
		return -ENOENT;
	}
	if (pw->pw_uid == 0) {
		log_warnx("--user %s is root; refusing to run the collector as root", user);
		return -EPERM;
	}
	if (setgroups(1, &pw->pw_gid) < 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0) {
		log_warn("dropping privileges to %s", user);
		return -EPERM;
	}
	if (setuid(0) == 0) {
		log_warnx("could regain root after dropping privileges");
		return -EPERM;
	}
	log_info("running as %s (uid %u)", user, (unsigned)pw->pw_uid);
	return 0;
}

static int parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	int l = sizeof(*ss);

	memset(ss, 0, sizeof(*ss));
	if (evutil_parse_sockaddr_port(s, (struct sockaddr *)ss, &l) < 0)
		return -EINVAL;
	*len = (socklen_t)l;
	return 0;
}

int pt_server_run(const struct pt_server_config *cfg)
{
	static const int sigs[4] = { SIGHUP, SIGUSR1, SIGTERM, SIGINT };
	struct server srv = { .cfg = cfg };
	struct sockaddr_storage ss;
	struct pt_store *store = NULL;
	struct timeval tv;
	socklen_t sslen;
	char err[512];
	int i, ret = -EINVAL;

	TAILQ_INIT(&srv.conns);
	signal(SIGPIPE, SIG_IGN);
	/* Before SQLite initialises: its allocation statistics take a global mutex per malloc,
	 * a few percent of the writer thread, and nothing here reads them. */
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	if (evthread_use_pthreads() < 0 || !(srv.base = event_base_new())) {
		log_warnx("libevent initialisation failed");
		return -ENOMEM;
	}
	if ((ret = pt_tls_server_init(&srv.tls, cfg->ca, cfg->cert, cfg->key,
				      cfg->crl[0] ? cfg->crl : NULL, err, sizeof(err)))) {
		log_warnx("TLS: %s", err);
		goto out;
	}
	if (parse_listen(cfg->listen, &ss, &sslen)) {
		log_warnx("--listen %s: expected ADDRESS:PORT", cfg->listen);
		ret = -EINVAL;
		goto out;
	}
	srv.listener = evconnlistener_new_bind(srv.base, accept_cb, &srv,
					       LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
					       LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_DISABLED,
					       1024, (struct sockaddr *)&ss, (int)sslen);
	if (!srv.listener) {
		ret = -errno;
		log_warn("listening on %s", cfg->listen);
		goto out;
	}
	if ((ret = drop_privileges(cfg->user)))
		goto out;
	if ((ret = pt_store_open(&store, cfg->db)))
		goto out;
	if ((ret = pt_checkpointer_start(&srv.ckpt, cfg->db))) {
		pt_store_close(store);
		goto out;
	}
	pt_store_wal_hook(store, pt_checkpointer_kick, srv.ckpt);
	if ((ret = pt_writer_start(&srv.writer, srv.base, store, job_done, &srv))) {
		pt_store_close(store);
		goto out;
	}
	srv.ping_ev = event_new(srv.base, -1, EV_PERSIST, ping_cb, &srv);
	srv.collect_ev = event_new(srv.base, -1, EV_PERSIST, collect_cb, &srv);
	srv.stop_ev = evtimer_new(srv.base, stop_cb, &srv);
	for (i = 0; i < 4; i++) {
		srv.sig_ev[i] = evsignal_new(srv.base, sigs[i], signal_cb, &srv);
		if (!srv.sig_ev[i] || evsignal_add(srv.sig_ev[i], NULL) < 0) {
			ret = -ENOMEM;
			goto out;
		}
	}
	tv.tv_sec = cfg->lim.ping_interval_ms / 1000;
	tv.tv_usec = (cfg->lim.ping_interval_ms % 1000) * 1000;
	event_add(srv.ping_ev, &tv);
	tv.tv_sec = cfg->collect_interval_s;
	tv.tv_usec = 0;
	event_add(srv.collect_ev, &tv);
	evconnlistener_enable(srv.listener);
	log_info("listening on %s (TLS 1.3, client certificates from %s), database %s",
		 cfg->listen, cfg->ca, cfg->db);
	event_base_dispatch(srv.base);
	ret = 0;
out:
	while (!TAILQ_EMPTY(&srv.conns))
		conn_free(TAILQ_FIRST(&srv.conns));
	pt_writer_stop(srv.writer);    /* commits what is queued; the store is closed with it */
	pt_checkpointer_stop(srv.ckpt);  /* the last connection: copies the rest, removes the WAL */
	if (srv.writer)
		log_info("stopped; every acknowledged batch is committed");
	for (i = 0; i < 4; i++)
		if (srv.sig_ev[i])
			event_free(srv.sig_ev[i]);
	if (srv.ping_ev)
		event_free(srv.ping_ev);
	if (srv.collect_ev)
		event_free(srv.collect_ev);
	if (srv.stop_ev)
		event_free(srv.stop_ev);
	if (srv.listener)
		evconnlistener_free(srv.listener);
	pt_tls_server_free(&srv.tls);
	event_base_free(srv.base);
	return ret;
}
