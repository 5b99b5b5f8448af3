/* The uplink: one thread that delivers the spool to a collector over TLS 1.3 and frees what
 * the collector acknowledged.
 *
 *   connect (next address, jittered exponential backoff) -> TLS (client cert, pinned CA)
 *   -> HELLO -> WELCOME(acked) -> BATCHes from the spool (bounded window) <- ACK -> spool ack
 *   PING -> PONG(health)      COLLECT -> (pull mode) send everything held
 *
 * Nothing is freed before an ACK: the uplink reads the spool through a cursor and only
 * pt_spool_ack() deletes. After any reconnect it resends from the acknowledged sequence on.
 *
 * The TLS connection itself lives in a network child process by default (uplink_io.h).
 *
 * Ownership: pt_uplink_new() borrows the spool and the queue (they must outlive it) and copies
 * every string it is given; pt_uplink_free() stops the thread and is NULL-safe.
 */
#ifndef PROCTRAIL_AGENT_UPLINK_H
#define PROCTRAIL_AGENT_UPLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proctrail/spool.h"
#include "proctrail/wire.h"
#include "queue.h"

struct pt_enforcer;
struct pt_sampler;

#define PT_UPLINK_COLLECTORS_MAX 16u

struct pt_uplink_opts {
	const char *collectors[PT_UPLINK_COLLECTORS_MAX];   /* "host:port" */
	unsigned n_collectors;
	const char *ca, *cert, *key;
	uint8_t mode;                /* PT_MODE_STREAM or PT_MODE_PULL */
	bool allow_collect, allow_ping, allow_policy, allow_sample;
	struct pt_sampler *sampler;     /* borrowed; NULL: SAMPLE_GET refused (DISABLED) */
	uint64_t sample_max_bytes;      /* for the sampler (config); 0: its default */
	struct pt_enforcer *enforcer;   /* borrowed; NULL: POLICY refused (DISABLED) */
	const char *policy_file;        /* where an applied policy is saved; NULL: nowhere */
	uint8_t codec;               /* PT_CODEC_ZSTD or PT_CODEC_NONE */
	unsigned batch_records;      /* 0: 2048 */
	unsigned batch_bytes;        /* 0: 1 MiB of records */
	unsigned window;             /* batches in flight; 0: 8 */
	unsigned backoff_min_ms;     /* 0: 250 */
	unsigned backoff_max_ms;     /* 0: 30000 */
	unsigned timeout_ms;         /* connect, handshake, WELCOME, a stalled ACK; 0: 30000 */
	/* TLS and frame decoding in a network child per connection, unprivileged and confined
	 * (agent/netchild.c); false: in the uplink thread, as root */
	bool network_child;
	const char *network_user;    /* the child's user; NULL: PT_UPLINK_NETWORK_USER */
};

#define PT_UPLINK_NETWORK_USER "nobody"

struct pt_uplink;

/* ACK latency buckets (ms, upper bounds) of struct pt_uplink_stats: from a batch's send to the
 * ACK that covers it. */
#define PT_UPLINK_LAT_BUCKETS 12
extern const unsigned pt_uplink_lat_bounds_ms[PT_UPLINK_LAT_BUCKETS];

/* What the uplink did since start, for the metrics (a consistent copy). */
struct pt_uplink_stats {
	bool connected;                /* WELCOME received, the session is up */
	unsigned collector;            /* index of the address in use (or last tried) */
	uint64_t connects, connect_failures;   /* sessions welcomed; attempts that were not */
	uint64_t batches_sent, records_sent;   /* resends counted again */
	uint64_t batches_acked, records_acked;
	uint64_t lat_count[PT_UPLINK_LAT_BUCKETS + 1];   /* last: over the largest bound */
	uint64_t lat_sum_us;
	unsigned inflight;
	uint64_t tls_reloads;
};

int pt_uplink_new(const struct pt_uplink_opts *o, struct pt_spool *sp, struct pt_queue *q,
		  struct pt_uplink **out);
int pt_uplink_start(struct pt_uplink *u);
/* New records are in the spool. Safe from any thread (it is the queue's notify callback). */
void pt_uplink_notify(void *u);
void pt_uplink_free(struct pt_uplink *u);
/* The agent's name (its certificate's CN) into out. */
void pt_uplink_agent_name(struct pt_uplink *u, char *out, size_t outlen);
void pt_uplink_get_stats(struct pt_uplink *u, struct pt_uplink_stats *st);
/* SIGHUP: CA, certificate and key read again, used from the next connection on. Refused
 * (-EINVAL, reason in err) when they do not load or the certificate names another agent.
 * Any thread. */
int pt_uplink_reload_tls(struct pt_uplink *u, const char *ca, const char *cert, const char *key,
			 char *err, size_t errlen);

#endif
