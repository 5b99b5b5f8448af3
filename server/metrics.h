/* The collector's Prometheus metrics: counted on the event-loop thread as jobs come back from
 * the writer (srv_metrics_job), and written as the text exposition format (0.0.4) by
 * pt_server_metrics_text() for the API listener's /metrics.
 *
 * Per-agent series are bounded: the loss counters agents report are kept per agent (at most
 * SRV_METRICS_AGENTS_MAX names; beyond, counted as untracked) but exported as a fleet-wide sum
 * per counter plus the SRV_METRICS_TOP agents with the most losses, so a fleet of any size
 * gives at most SRV_METRICS_TOP x counters labelled series.
 *
 * Ownership: struct srv_metrics lives in struct server; srv_metrics_free() releases its table
 * and is NULL-safe. Not thread-safe: the event-loop thread only. */
#ifndef PROCTRAIL_SERVER_METRICS_H
#define PROCTRAIL_SERVER_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "proctrail/buf.h"
#include "proctrail/wire.h"

#define SRV_METRICS_AGENTS_MAX 65536u
#define SRV_METRICS_TOP        10u
#define SRV_METRICS_LAT_BUCKETS 12
#define SRV_METRICS_TEXT_MAX   (256u << 10)

struct srv_metrics_agent;

struct srv_metrics {
	uint64_t batches, batch_failures;          /* committed / failed with the group */
	uint64_t records_received, records_inserted, records_duplicate;
	uint64_t hellos, pongs;
	uint64_t lat_count[SRV_METRICS_LAT_BUCKETS + 1];
	uint64_t lat_sum_us;
	uint64_t last_lag_ns;                      /* receipt to commit, the last batch */
	struct srv_metrics_agent *agents;          /* open addressing, SRV_METRICS_AGENTS_MAX */
	size_t nagents;
	uint64_t untracked_agents;
};

struct server;
struct pt_job;

/* A job handed back by the writer, before the session sees it. */
void srv_metrics_job(struct server *srv, const struct pt_job *job, uint64_t now_real_ns);
void srv_metrics_free(struct srv_metrics *m);
/* Appends the exposition to out (which should allow SRV_METRICS_TEXT_MAX). 0, -ENOBUFS. */
int pt_server_metrics_text(struct server *srv, struct pt_buf *out);

/* The same, from any thread: the text is made on the event loop (event_base_once) while the
 * caller waits at most timeout_ms. 0, -ENOBUFS, -ETIMEDOUT (the loop did not run it: stopping
 * or stuck), -ENOMEM. arg is the struct server. */
int pt_server_metrics_from_thread(void *srv, struct pt_buf *out, unsigned timeout_ms);

#endif
