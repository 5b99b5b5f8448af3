/* The collector's internals shared by the process lifecycle (server.c) and the connection
 * adapter (conn.c): the server owns the list of connections; each connection owns its
 * bufferevent, timer and session. Not for other programs. */
#ifndef PROCTRAIL_SERVER_SERVER_INT_H
#define PROCTRAIL_SERVER_SERVER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "proctrail/buf.h"
#include "proctrail/clock.h"
#include "proctrail/sdnotify.h"
#include "proctrail/tls.h"
#include "config.h"
#include "metrics.h"

/* From accept to a verified peer, absolute: bytes trickled into the handshake do not extend it. */
#define HANDSHAKE_TIMEOUT_S 15
#define LINGER_TIMEOUT_S    3
/* Descriptors kept beside the connections (listener, SQLite database, WAL and shm for the
 * writer and the checkpointer, stdio, the event loop's epoll and notification pipes). */
#define FD_RESERVE          32
/* accept() failed for lack of descriptors or memory: the listener rests this long. */
#define ACCEPT_PAUSE_MS     250
/* Warnings an attacker can cause (refusals, timeouts) are logged at most this many times per
 * period per kind; the rest are counted and summed up in one line. */
#define RATELOG_PERIOD_S    10
/* Decoded batches waiting for the writer, all connections together: over this, connections
 * stop being read until the writer catches up (each connection is bounded by its window too). */
#define QUEUED_BYTES_MAX    (256u << 20)


/* Every refusal and drop of a connection, for the counters line (stats.c). */
enum srv_counter {
	SRV_REFUSED_MAX_CONNECTIONS,  /* handshake done, but max-connections established */
	SRV_REFUSED_HANDSHAKES_FULL,  /* handshake pool full, newcomer's address has its share */
	SRV_REFUSED_PER_ADDRESS,      /* max-handshakes-per-address from this address */
	SRV_EVICTED_HANDSHAKES,       /* a handshake dropped for a newcomer (hs_pool_victim) */
	SRV_HANDSHAKE_TIMEOUTS,
	SRV_HANDSHAKE_FAILED,         /* certificate refused, TLS error, peer gone */
	SRV_REPLACED_PER_AGENT,       /* oldest connection of a certificate over max-per-agent */
	SRV_FRAME_TIMEOUTS,
	SRV_IDLE_TIMEOUTS,
	SRV_ACCEPT_PAUSES,            /* accept() failed (EMFILE...): listener paused */
	SRV_POLICY_UNSOLICITED,       /* policy answers to no POLICY sent: ignored */
	SRV_COUNTERS
};

/* A warning that may come in floods: LOG_RATELIMIT_LINES lines per RATELOG_PERIOD_S. */
struct srv_ratelog {
	const char *what;
	struct log_ratelimit rl;
};

struct peer_key {
	uint16_t family;
	uint8_t addr[16];
};

/* Connections in the TLS handshake, by source address (handshakes.c). */
struct hs_addr;
struct hs_pool {
	struct hs_addr **buckets;
	size_t nbuckets;
	TAILQ_HEAD(, hs_addr) addrs;
	unsigned n;
};

struct server;
struct sqlite3;

/* Block policies (policy_push.c): the loop's own connection to the database, the version last
 * pushed to every agent. */
struct srv_policy {
	struct sqlite3 *db;
	uint64_t version;
	struct event *poll_ev;
};

/* Sample fetching (sample_fetch.c). */
struct srv_samples {
	char dir[PT_SERVER_PATH_MAX + 16];   /* DIR-of-the-database/samples */
	struct event *poll_ev;
};
struct srv_sample_xfer;
struct pt_sample_data;

struct conn {
	struct server *srv;
	struct srv_sample_xfer *sample;   /* the transfer in progress on it; NULL: none */
	struct bufferevent *bev;
	struct pt_session *sess;
	struct event *timer;          /* rate-limit resume, or linger on close */
	struct event *watch;          /* handshake, frame and idle deadlines */
	char address[64];
	struct peer_key peer;         /* source address without the port */
	struct hs_addr *hs_addr;      /* while handshaking */
	uint64_t cn_hash;             /* of sess->agent_id, for the per-agent cap */
	uint64_t accepted_ns;
	uint64_t frame_started_ns;    /* first byte of an unfinished frame seen; 0: none */
	uint64_t last_progress_ns;    /* last whole frame, or reading resumed */
	uint64_t watch_at_ns;         /* when watch fires; 0: not armed */
	int closing, rate_paused, freed, starved, handshaking;
	/* POLICY frames sent and not yet answered: only such an answer is stored, so an agent
	 * answering frames nobody sent cannot make the loop write the database per frame. */
	unsigned policy_answers_owed;
	TAILQ_ENTRY(conn) link;
	TAILQ_ENTRY(conn) hs_link;    /* in its hs_addr while handshaking */
};

struct server {
	const struct pt_server_config *cfg;   /* &live */
	struct pt_server_config live;         /* the start-up settings; SIGHUP changes some */
	struct pt_sd_notify notify;           /* the service manager, if any (READY=1...) */
	struct srv_metrics metrics;           /* metrics.c, for /metrics */
	struct event_base *base;
	struct evconnlistener *listener;
	struct pt_tls_server tls;
	struct pt_writer_thread *writer;
	struct pt_checkpointer *ckpt;
	struct pt_api *api;               /* NULL without --api */
	struct event *ping_ev, *collect_ev, *stop_ev, *sig_ev[4];
	struct event *accept_resume_ev, *stats_ev;
	TAILQ_HEAD(, conn) conns;         /* in accept order: the oldest first */
	struct hs_pool hs;                /* the subset still handshaking */
	unsigned nconns, nestablished;
	/* cfg's limits, lowered to fit RLIMIT_NOFILE at start */
	unsigned max_connections, max_handshakes;
	uint64_t idle_timeout_ns, frame_timeout_ns;
	uint64_t counters[SRV_COUNTERS], counters_logged[SRV_COUNTERS];
	unsigned established_logged, handshaking_logged;
	struct srv_ratelog rl_refused, rl_handshake, rl_timeout, rl_accept, rl_policy;
	int stopping;
	uint64_t stop_started_ns;
	size_t queued_bytes;          /* job bytes between submit and done */
	unsigned nstarved;
	struct srv_policy policy;
	struct srv_samples samples;
	struct srv_crl_state {        /* revocation: server.c, pt_server_crl_admit() */
		struct event *poll_ev;
		char err[512];            /* why the CRL is unusable, while it is */
		uint64_t reload_failures, refused, revoked_closed;
		uint64_t warn_ns, refuse_warn_ns, warn_suppressed;   /* log rate limits */
	} crl;
	struct srv_rules {            /* --rules: rules.c */
		/* the loop thread's: the set it evaluates, and the scratch of an evaluation */
		struct pt_detect_rules *cur;
		struct pt_detect_view *view;
		atomic_uint_least64_t alerts_dropped;  /* over ALERTS_PER_BATCH_MAX in one batch */
		/* a reload's new set, taken by the loop at the next batch with an exec */
		atomic_bool changed;
		struct pt_detect_rules *next;     /* under lock */
		pthread_mutex_t lock;     /* one reload at a time, from the loop or the API thread */
		struct pt_buf state;      /* the last load's files, a JSON array */
		unsigned loaded, refused;
		uint64_t loaded_ns;       /* 0: never loaded */
		char err[256];            /* why the last reload failed, "" when it did not */
	} rules;
};


/* Counts one event of kind k. */
static inline void srv_count(struct server *srv, enum srv_counter k)
{
	srv->counters[k]++;
}

/* Whether a line of r's kind may be logged now; if not it is counted as suppressed. */
static inline int srv_log_allowed(struct srv_ratelog *r)
{
	r->rl.window_ms = RATELOG_PERIOD_S * 1000;
	return log_ratelimit_allow(&r->rl, r->what);
}

/* Logs how many lines of r's kind were suppressed since the last such line. */
static inline void srv_log_flush(struct srv_ratelog *r)
{
	log_ratelimit_flush(&r->rl, r->what);
}
/* The rule set (rules.c): init/free around the server's life; reload from any thread (0, or
 * -errno with the rules in use kept and the reason logged). */
int srv_rules_init(struct server *srv);
void srv_rules_free(struct server *srv);
int srv_rules_reload(struct server *srv, const char *why);
/* The session's detect hook (pt_session_ops): ctx is the server; loop thread. */
struct pt_job;
struct pt_exec;
int srv_rules_detect(void *ctx, struct pt_job *job, uint32_t i, const struct pt_exec *x);
/* The same, for the API (arg is the server): reload, and the state object of docs/api.md
 * (GET /api/v1/rules) appended to out. */
int pt_server_rules_reload(void *arg, const char *why);
int pt_server_rules_state(void *arg, struct pt_buf *out);
/* SIGHUP: parses the configuration again and applies what can change while serving
 * (reload.c). 0, or -errno with the old settings kept and the reason logged. */
int srv_reload_config(struct server *srv);
/* Logs the counters line if a counter or the number of connections changed since the last
 * one (always when forced). */
void srv_stats_log(struct server *srv, int force);

/* The handshake pool. hs_pool_add returns 0 or -ENOMEM; hs_pool_free is NULL-safe and frees
 * the pool's index, not the connections. */
int hs_pool_init(struct hs_pool *p, unsigned max_handshakes);
void hs_pool_free(struct hs_pool *p);
int hs_pool_add(struct hs_pool *p, struct conn *c);
void hs_pool_remove(struct hs_pool *p, struct conn *c);
unsigned hs_pool_count(const struct hs_pool *p, const struct peer_key *k);
/* The connection to drop for a newcomer whose address has newcomer_count handshakes in the
 * pool, or NULL if the newcomer should be refused. */
struct conn *hs_pool_victim(const struct hs_pool *p, unsigned newcomer_count);

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

/* Opens the policy connection and starts polling for new versions (every second). */
int srv_policy_start(struct server *srv);
void srv_policy_stop(struct server *srv);
/* Sends c's agent the rules of the current version (nothing before any version exists). */
void srv_policy_send(struct server *srv, struct conn *c);
void srv_policy_result(struct server *srv, struct conn *c, uint64_t version, uint32_t code,
		       const char *message);

/* Samples (after srv_policy_start: they use its database connection). */
int srv_sample_start(struct server *srv);
void srv_sample_stop(struct server *srv);
/* c's agent is ready: its pending requests start now. */
void srv_sample_ready(struct server *srv, struct conn *c);
/* A SAMPLE_DATA from c, or (disabled) its ERROR(DISABLED) for a SAMPLE_GET. */
void srv_sample_data(struct server *srv, struct conn *c, const struct pt_sample_data *d,
		     bool disabled);
/* c goes away: its transfer is dropped (to resume later). */
void srv_sample_detach(struct conn *c);

#endif
