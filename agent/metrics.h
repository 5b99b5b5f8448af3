/* The agent's Prometheus metrics, in the text exposition format (version 0.0.4), from a
 * snapshot of its parts. Formatting only: control.c takes the snapshot and writes the file.
 *
 * Ownership: the caller owns out (a pt_buf with a maximum); nothing is kept. */
#ifndef PROCTRAIL_AGENT_METRICS_H
#define PROCTRAIL_AGENT_METRICS_H

#include <stdint.h>

#include "proctrail/buf.h"
#include "proctrail/spool.h"
#include "proctrail/wire.h"
#include "sensor.h"
#include "uplink.h"

#define PT_AGENT_METRICS_MAX (64u << 10)   /* bytes of one exposition */

struct pt_agent_metrics_src {
	const char *agent;                          /* certificate CN, a label value */
	struct pt_sensor_stats sensor;
	uint64_t queue_depth, queue_accepted;
	uint64_t loss[PT_LOSS_COUNTER_MAX + 1];     /* by pt_loss_counter */
	struct pt_spool_stats spool;
	uint64_t next_seq, acked_seq;               /* the spool's */
	struct pt_uplink_stats up;
	int64_t policy_version;                     /* -1: no policy in force (series omitted) */
	uint64_t reloads, reload_failures;          /* SIGHUP */
};

/* Appends the exposition to out. 0, or -ENOBUFS when out's maximum is reached. */
int pt_agent_metrics_format(struct pt_buf *out, const struct pt_agent_metrics_src *m);

#endif
