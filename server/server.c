/* The collector process: listener, timers, signals, privilege drop, the writer; connections
 * are in conn.c. */
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
#include <sys/resource.h>
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
#include "proctrail/confine.h"
#include "proctrail/log.h"
#include "proctrail/register.h"
#include "proctrail/store.h"
#include "store_pg.h"
#include "proctrail/tls.h"
#include "api.h"
#include "checkpoint.h"
#include "detect.h"
#include "server.h"
#include "server-int.h"
#include "session.h"
#include "store_wal.h"
#include "writer.h"
static void job_done(struct pt_job *job, void *arg)
{
	struct server *srv = arg;
	struct conn *c, *next;

	srv->queued_bytes -= job->bytes < srv->queued_bytes ? job->bytes : srv->queued_bytes;
	srv_metrics_job(srv, job, pt_real_ns());
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
		pt_conn_resume(c);
	}
}

static void ping_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	struct conn *c;
	uint64_t now = pt_real_ns();

	(void)fd;
	(void)what;
	TAILQ_FOREACH(c, &srv->conns, link)
		if (c->sess && !c->closing)
			pt_session_ping(c->sess, now);
}

static void collect_all(struct server *srv)
{
	struct conn *c;
	uint64_t now = pt_real_ns();

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
				pt_conn_free(c);
			else if (!c->closing)
				pt_conn_close(c);
		}
		if (TAILQ_EMPTY(&srv->conns) || pt_mono_ns() - srv->stop_started_ns > 3000000000ull) {
			event_base_loopbreak(srv->base);
			return;
		}
	}
	evtimer_add(srv->stop_ev, &tv);
}

/* ---- revocation ---- */

#define CRL_WARN_INTERVAL_NS (10ull * 1000000000ull)   /* repeated CRL warnings: one per 10 s */

/* Rate limit for the warnings repeated while the CRL is unusable (*last: when that kind of
 * warning was last logged, 0 for never); 1 when one is due. */
static int crl_warn_due(struct server *srv, uint64_t *last)
{
	uint64_t now = pt_mono_ns();

	if (*last && now - *last < CRL_WARN_INTERVAL_NS) {
		srv->crl.warn_suppressed++;
		return 0;
	}
	*last = now;
	return 1;
}

/* After a CRL reload: every open connection's certificate is looked up in the new CRL, and a
 * revoked one gets ERROR and is closed at once. Its session is closed with it, so batches of
 * it still in the writer are not acknowledged; the agent keeps them. */
static void pt_server_recheck_revoked(struct server *srv)
{
	char serial[PT_REG_SERIAL_MAX + 1];
	struct conn *c, *next;
	unsigned n = 0;
	SSL *ssl;

	for (c = TAILQ_FIRST(&srv->conns); c; c = next) {
		next = TAILQ_NEXT(c, link);
		if (!c->bev || c->closing)
			continue;
		ssl = bufferevent_openssl_get_ssl(c->bev);
		/* A handshake still running verifies against the new store already. */
		if (!ssl || !SSL_is_init_finished(ssl) ||
		    pt_tls_server_peer_revoked(&srv->tls, ssl, serial, sizeof(serial)) != 1)
			continue;
		n++;
		srv->crl.revoked_closed++;
		if (c->sess) {
			pt_session_fail(c->sess, PT_ERR_IDENTITY, 0,
					"certificate serial %s is revoked", serial);
		} else {
			log_warnx("%s: certificate serial %s is revoked; closing", c->address, serial);
			pt_conn_free(c);
		}
	}
	if (n)
		log_warnx("CRL: closed %u connection%s with a revoked certificate (%llu since start)",
			  n, n == 1 ? "" : "s", (unsigned long long)srv->crl.revoked_closed);
}

/* Fail closed: with no CRL to check against, no connection can be shown unrevoked. */
static void crl_close_all(struct server *srv)
{
	struct conn *c, *next;

	for (c = TAILQ_FIRST(&srv->conns); c; c = next) {
		next = TAILQ_NEXT(c, link);
		if (!c->sess)
			pt_conn_free(c);
		else if (!c->closing)
			pt_session_fail(c->sess, PT_ERR_INTERNAL, 0,
					"the collector has no valid CRL; try again later");
	}
}

/* Loads the CRL when it changed (force: regardless). 0 while a valid CRL is in force. */
static int crl_refresh(struct server *srv, int force, const char *why)
{
	int was_failed = pt_tls_server_crl_failed(&srv->tls);
	int ret = pt_tls_server_reload(&srv->tls, force, srv->crl.err, sizeof(srv->crl.err));

	if (ret > 0) {
		if (was_failed)
			log_warnx("CRL: %s is valid again (%s); admitting agents (%llu connections "
				  "were refused without it)", srv->cfg->crl, why,
				  (unsigned long long)srv->crl.refused);
		else
			log_info("CRL: %s reloaded (%s)", srv->cfg->crl, why);
		srv->crl.err[0] = '\0';
		srv->crl.warn_ns = srv->crl.refuse_warn_ns = 0;
		pt_server_recheck_revoked(srv);
		return 0;
	}
	if (ret == 0)
		return 0;
	srv->crl.reload_failures++;
	if (!was_failed) {
		log_warnx("CRL: %s; failing closed: refusing new agent connections and closing the "
			  "%u open ones until a valid CRL is readable", srv->crl.err, srv->nconns);
		srv->crl.warn_ns = pt_mono_ns();
		crl_close_all(srv);
	} else if (crl_warn_due(srv, &srv->crl.warn_ns)) {
		log_warnx("CRL: still unusable: %s (%llu failed reloads, %llu connections refused, "
			  "%llu warnings suppressed)", srv->crl.err,
			  (unsigned long long)srv->crl.reload_failures,
			  (unsigned long long)srv->crl.refused,
			  (unsigned long long)srv->crl.warn_suppressed);
		srv->crl.warn_suppressed = 0;
	}
	return -EPERM;
}

int pt_server_crl_admit(struct server *srv)
{
	if (crl_refresh(srv, 0, "file changed") == 0)
		return 0;
	srv->crl.refused++;
	if (crl_warn_due(srv, &srv->crl.refuse_warn_ns)) {
		log_warnx("refusing a connection: no valid CRL: %s (%llu refused)", srv->crl.err,
			  (unsigned long long)srv->crl.refused);
		srv->crl.warn_suppressed = 0;
	}
	return -EPERM;
}

/* An operator's `proctrail revoke` takes effect without a signal: the file is looked at every
 * PT_TLS_CRL_POLL_MS, and retried that often while it is unusable. */
static void crl_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	crl_refresh(arg, 0, "file changed");
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;
	struct conn *c;
	struct timeval tv = { 0, 0 };

	(void)what;
	switch (sig) {
	case SIGHUP:
		pt_sd_notify_reloading(&srv->notify);
		srv_reload_config(srv);
		if (srv->cfg->rules[0])
			srv_rules_reload(srv, "SIGHUP");
		if (!srv->cfg->crl[0])
			log_info("SIGHUP: no CRL configured, nothing to reload");
		else
			crl_refresh(srv, 1, "SIGHUP");
		pt_sd_notify(&srv->notify, "READY=1");
		break;
	case SIGUSR1:
		log_info("SIGUSR1: sending COLLECT to pull-mode agents");
		collect_all(srv);
		break;
	default:
		if (srv->stopping)
			break;
		log_info("signal %d: stopping after the last commit", (int)sig);
		pt_sd_notify(&srv->notify, "STOPPING=1");
		srv->stopping = 1;
		srv->stop_started_ns = pt_mono_ns();
		evconnlistener_disable(srv->listener);
		TAILQ_FOREACH(c, &srv->conns, link)
			if (c->bev && !c->closing)
				bufferevent_disable(c->bev, EV_READ);
		evtimer_add(srv->stop_ev, &tv);
		break;
	}
}

/* accept() failed. Without this callback libevent logs and retries at once: with the
 * descriptors exhausted (EMFILE) the socket stays readable, and the loop spins at 100 % CPU
 * writing the same warning millions of times. The listener rests instead; connections that
 * end meanwhile give their descriptors back. */
static void accept_error_cb(struct evconnlistener *l, void *arg)
{
	int err = EVUTIL_SOCKET_ERROR();
	struct server *srv = arg;
	struct timeval tv = { 0, ACCEPT_PAUSE_MS * 1000 };

	evconnlistener_disable(l);
	evtimer_add(srv->accept_resume_ev, &tv);
	srv_count(srv, SRV_ACCEPT_PAUSES);
	if (srv_log_allowed(&srv->rl_accept))
		log_warnx("accept: %s; not accepting for %u ms (%u established, %u handshaking)",
			  strerror(err), ACCEPT_PAUSE_MS, srv->nestablished, srv->hs.n);
}

static void accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	(void)fd;
	(void)what;
	if (!srv->stopping)
		evconnlistener_enable(srv->listener);
}

static void stats_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	srv_stats_log(arg, 0);
}

/* Every connection is a descriptor: the connection limits must fit RLIMIT_NOFILE with room for
 * the rest, or accept() fails with EMFILE long before max-connections. The soft limit is raised
 * to the hard one (systemd's default soft limit is 1024), then the limits are lowered to fit. */
static int fit_descriptors(struct server *srv)
{
	const struct pt_server_config *cfg = srv->cfg;
	struct rlimit rl;
	uint64_t have, need, room;

	srv->max_connections = cfg->max_connections;
	srv->max_handshakes = cfg->max_handshakes;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		int ret = -errno;

		log_warn("getrlimit(RLIMIT_NOFILE)");
		return ret;
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < rl.rlim_max) {
		struct rlimit up = { rl.rlim_max, rl.rlim_max };

		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			rl.rlim_cur = rl.rlim_max;
	}
	if (rl.rlim_cur == RLIM_INFINITY)
		return 0;
	have = rl.rlim_cur;
	need = (uint64_t)srv->max_connections + srv->max_handshakes + FD_RESERVE;
	if (have >= need)
		return 0;
	if (have < FD_RESERVE + 2) {
		log_warnx("RLIMIT_NOFILE is %llu: the collector needs at least %u descriptors",
			  (unsigned long long)have, FD_RESERVE + 2);
		return -EMFILE;
	}
	room = have - FD_RESERVE;
	/* The handshake pool keeps at most a quarter; established agents get the rest. */
	if (srv->max_handshakes > room / 4)
		srv->max_handshakes = room / 4 ? (unsigned)(room / 4) : 1;
	if (srv->max_connections > room - srv->max_handshakes)
		srv->max_connections = (unsigned)(room - srv->max_handshakes);
	log_warnx("RLIMIT_NOFILE is %llu: max-connections %u -> %u, max-handshakes %u -> %u"
		  " (%u descriptors kept for the rest); raise LimitNOFILE= to keep the settings",
		  (unsigned long long)have, cfg->max_connections, srv->max_connections,
		  cfg->max_handshakes, srv->max_handshakes, FD_RESERVE);
	return 0;
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

/* The directory part of path ("." for a bare name), into out of PT_SERVER_PATH_MAX bytes. */
static void dir_of(const char *path, char out[PT_SERVER_PATH_MAX])
{
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;

	if (!slash)
		snprintf(out, PT_SERVER_PATH_MAX, ".");
	else
		snprintf(out, PT_SERVER_PATH_MAX, "%.*s", (int)(n ? n : 1), path);
}

/* What the collector reaches once it serves: its database directory (the WAL and its index
 * come and go there), and to read, the directories of the CA and CRL that SIGHUP reloads.
 * Connections it has are kept; no new TCP bind or connect. */
static int confine(const struct pt_server_config *cfg)
{
	char db_dir[PT_SERVER_PATH_MAX], ca_dir[PT_SERVER_PATH_MAX], crl_dir[PT_SERVER_PATH_MAX];
	char conf_dir[PT_SERVER_PATH_MAX], ops_dir[PT_SERVER_PATH_MAX];
	struct pt_confine c = { .read_write = { db_dir }, .read_only = { ca_dir } };
	struct pt_confine_result r;
	char err[512];
	int ret, ro = 1;

	/* PostgreSQL: no database directory here; its connection may have to be made again */
	if (pt_store_is_pg_url(cfg->db)) {
		c.read_write[0] = NULL;
		c.allow_tcp_connect = true;
	} else {
		dir_of(cfg->db, db_dir);
	}
	dir_of(cfg->ca, ca_dir);
	if (cfg->crl[0]) {
		dir_of(cfg->crl, crl_dir);
		c.read_only[ro++] = crl_dir;
	}
	if (cfg->api[0]) {   /* the API re-reads its operators file */
		dir_of(cfg->operators, ops_dir);
		c.read_only[ro++] = ops_dir;
	}
	/* SIGHUP re-reads the rule directory; the API writes into it only with --rules-upload */
	if (cfg->rules[0] && cfg->rules_upload && cfg->api[0])
		c.read_write[1] = cfg->rules;
	else if (cfg->rules[0])
		c.read_only[ro++] = cfg->rules;
	/* SIGHUP reads the configuration file again */
	if (cfg->config[0]) {
		dir_of(cfg->config, conf_dir);
		c.read_only[ro++] = conf_dir;
	}
	if ((ret = pt_confine_self(&c, &r, err, sizeof(err)))) {
		log_warnx("%s (--confine no runs without it)", err);
		return ret;
	}
	log_info("confined: Landlock %s%s, seccomp %s, no_new_privs",
		 r.landlock_abi ? "on" : "not in this kernel", r.landlock_net ? " (files and TCP)" : "",
		 r.seccomp ? "on" : "off");
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

/* The PostgreSQL store: no WAL checkpointer (the database server has its own), and for now no
 * block policies (they live in the SQLite file; docs/operations.md). */
static int start_pg(struct server *srv)
{
	const struct pt_server_config *cfg = srv->cfg;
	struct pt_store_pg *pg = NULL;
	int ret;

	if ((ret = pt_store_pg_open(&pg, cfg->db, cfg->retention_days)))
		return ret;
	log_info("store: PostgreSQL; block policies and Sigma alerts are not kept there yet");
	if (cfg->confine && (ret = confine(cfg))) {
		pt_store_pg_close(pg);
		return ret;
	}
	if ((ret = pt_writer_start(&srv->writer, srv->base, &pt_store_pg_ops, pg, job_done, srv)))
		pt_store_pg_close(pg);
	return ret;
}

int pt_server_run(const struct pt_server_config *cfg)
{
	static const int sigs[4] = { SIGHUP, SIGUSR1, SIGTERM, SIGINT };
	struct server srv = { .live = *cfg, .notify = { -1 } };
	struct sockaddr_storage ss;
	struct pt_store *store = NULL;
	struct timeval tv;
	socklen_t sslen;
	char err[512];
	int i, ret = -EINVAL;

	srv.cfg = &srv.live;
	cfg = srv.cfg;
	TAILQ_INIT(&srv.conns);
	srv.rl_refused.what = "refused connections";
	srv.rl_handshake.what = "failed handshakes";
	srv.rl_policy.what = "policy answers";
	srv.rl_timeout.what = "timed out connections";
	srv.rl_accept.what = "accept() failures";
	srv.idle_timeout_ns = (3ull * cfg->lim.ping_interval_ms / 1000 + 30) * 1000000000ull;
	srv.frame_timeout_ns = (uint64_t)cfg->frame_timeout_s * 1000000000ull;
	signal(SIGPIPE, SIG_IGN);
	if ((ret = srv_rules_init(&srv)))
		return ret;
	if ((ret = fit_descriptors(&srv)) || (ret = hs_pool_init(&srv.hs, srv.max_handshakes))) {
		srv_rules_free(&srv);
		return ret;
	}
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
	srv.listener = evconnlistener_new_bind(srv.base, pt_conn_accept, &srv,
					       LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
					       LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_DISABLED,
					       1024, (struct sockaddr *)&ss, (int)sslen);
	if (!srv.listener) {
		ret = -errno;
		log_warn("listening on %s", cfg->listen);
		goto out;
	}
	evconnlistener_set_error_cb(srv.listener, accept_error_cb);
	if (cfg->api[0] && (ret = pt_api_open(&srv.api, cfg)))
		goto out;
	/* Connected before the privilege drop and the confinement, used until exit. */
	if ((ret = pt_sd_notify_open(&srv.notify)))
		log_warnx("NOTIFY_SOCKET: %s; the service manager will not hear READY=1",
			  strerror(-ret));
	if ((ret = drop_privileges(cfg->user)))
		goto out;
	if (pt_store_is_pg_url(cfg->db)) {
		if ((ret = start_pg(&srv)))
			goto out;
		goto serve;
	}
	if ((ret = pt_store_open(&store, cfg->db)))
		goto out;
	if ((ret = srv_policy_start(&srv)) || (ret = srv_sample_start(&srv))) {
		pt_store_close(store);
		goto out;
	}
	/* before any thread starts: Landlock binds this thread and the ones it creates */
	if (cfg->confine && (ret = confine(cfg))) {
		pt_store_close(store);
		goto out;
	}
	if ((ret = pt_checkpointer_start(&srv.ckpt, cfg->db))) {
		pt_store_close(store);
		goto out;
	}
	pt_store_wal_hook(store, pt_checkpointer_kick, srv.ckpt);
	if ((ret = pt_writer_start(&srv.writer, srv.base, &pt_store_sqlite_ops, store, job_done,
				   &srv))) {
		pt_store_close(store);
		goto out;
	}
serve:
	if (cfg->rules[0] && (ret = srv_rules_reload(&srv, "start")))
		goto out;
	if (srv.api) {
		pt_api_set_metrics(srv.api, pt_server_metrics_from_thread, &srv);
		pt_api_set_rules(srv.api, pt_server_rules_state, pt_server_rules_reload, &srv);
	}
	if (srv.api && (ret = pt_api_start(srv.api)))
		goto out;
	srv.ping_ev = event_new(srv.base, -1, EV_PERSIST, ping_cb, &srv);
	srv.collect_ev = event_new(srv.base, -1, EV_PERSIST, collect_cb, &srv);
	srv.stop_ev = evtimer_new(srv.base, stop_cb, &srv);
	srv.accept_resume_ev = evtimer_new(srv.base, accept_resume_cb, &srv);
	srv.stats_ev = event_new(srv.base, -1, EV_PERSIST, stats_cb, &srv);
	if (!srv.ping_ev || !srv.collect_ev || !srv.stop_ev || !srv.accept_resume_ev ||
	    !srv.stats_ev) {
		ret = -ENOMEM;
		goto out;
	}
	if (cfg->crl[0]) {
		srv.crl.poll_ev = event_new(srv.base, -1, EV_PERSIST, crl_poll_cb, &srv);
		tv.tv_sec = PT_TLS_CRL_POLL_MS / 1000;
		tv.tv_usec = (PT_TLS_CRL_POLL_MS % 1000) * 1000;
		if (!srv.crl.poll_ev || event_add(srv.crl.poll_ev, &tv) < 0) {
			ret = -ENOMEM;
			goto out;
		}
	}
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
	if (cfg->stats_interval_s) {
		tv.tv_sec = cfg->stats_interval_s;
		event_add(srv.stats_ev, &tv);
	}
	evconnlistener_enable(srv.listener);
	log_info("listening on %s (TLS 1.3, client certificates from %s), database %s",
		 cfg->listen, cfg->ca, cfg->db);
	pt_sd_notify(&srv.notify, "READY=1");
	event_base_dispatch(srv.base);
	ret = 0;
out:
	pt_api_free(srv.api);     /* its reads end before the writer's last checkpoint */
	while (!TAILQ_EMPTY(&srv.conns))
		pt_conn_free(TAILQ_FIRST(&srv.conns));
	srv_sample_stop(&srv);
	srv_policy_stop(&srv);
	pt_writer_stop(srv.writer);    /* commits what is queued; the store is closed with it */
	pt_checkpointer_stop(srv.ckpt);  /* the last connection: copies the rest, removes the WAL */
	if (srv.writer) {
		srv_stats_log(&srv, 1);
		log_info("stopped; every acknowledged batch is committed");
	}
	for (i = 0; i < 4; i++)
		if (srv.sig_ev[i])
			event_free(srv.sig_ev[i]);
	if (srv.ping_ev)
		event_free(srv.ping_ev);
	if (srv.collect_ev)
		event_free(srv.collect_ev);
	if (srv.stop_ev)
		event_free(srv.stop_ev);
	if (srv.accept_resume_ev)
		event_free(srv.accept_resume_ev);
	if (srv.stats_ev)
		event_free(srv.stats_ev);
	if (srv.crl.poll_ev)
		event_free(srv.crl.poll_ev);
	if (srv.crl.reload_failures || srv.crl.refused || srv.crl.revoked_closed)
		log_info("revocation: %llu connections closed as revoked, %llu refused without a "
			 "valid CRL, %llu failed CRL reloads",
			 (unsigned long long)srv.crl.revoked_closed,
			 (unsigned long long)srv.crl.refused,
			 (unsigned long long)srv.crl.reload_failures);
	if (srv.listener)
		evconnlistener_free(srv.listener);
	pt_tls_server_free(&srv.tls);
	pt_sd_notify_close(&srv.notify);
	srv_metrics_free(&srv.metrics);
	hs_pool_free(&srv.hs);
	srv_rules_free(&srv);
	event_base_free(srv.base);
	return ret;
}
