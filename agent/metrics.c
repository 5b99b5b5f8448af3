/* Every series the agent exports. Names follow Prometheus' conventions: a unit suffix,
 * _total for counters; one label (agent) on all, counter labels bounded by the enums. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "proctrail/escape.h"
#include "metrics.h"

struct out {
	struct pt_buf *b;
	const char *agent;
	int rc;
};

static void header(struct out *o, const char *name, const char *type, const char *help)
{
	if (!o->rc && pt_buf_printf(o->b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type) < 0)
		o->rc = -ENOBUFS;
}

/* One sample; extra is "" or `,key="value"` with a value known to need no escaping. */
static void sample(struct out *o, const char *name, const char *extra, uint64_t v)
{
	if (!o->rc && pt_buf_printf(o->b, "%s{agent=\"%s\"%s} %" PRIu64 "\n", name, o->agent,
				    extra, v) < 0)
		o->rc = -ENOBUFS;
}

static void metric(struct out *o, const char *name, const char *type, const char *help,
		   uint64_t v)
{
	header(o, name, type, help);
	sample(o, name, "", v);
}

/* Label values must escape backslash, quote and newline; a CN is [A-Za-z0-9._-] already, this
 * keeps the format valid whatever the certificate says. */
static void label_value(char *dst, size_t n, const char *s)
{
	size_t j = 0;

	for (; s && *s && j + 3 < n; s++) {
		if (*s == '\\' || *s == '"') {
			dst[j++] = '\\';
			dst[j++] = *s;
		} else if (*s == '\n') {
			dst[j++] = '\\';
			dst[j++] = 'n';
		} else {
			dst[j++] = *s;
		}
	}
	dst[j] = '\0';
}

int pt_agent_metrics_format(struct pt_buf *b, const struct pt_agent_metrics_src *m)
{
	char agent[160], extra[96];
	struct out o = { b, agent, 0 };
	uint64_t cum = 0;
	unsigned i;

	label_value(agent, sizeof(agent), m->agent);
	header(&o, "proctrail_agent_events_total", "counter",
	       "Records produced by the sensor, by kind.");
	sample(&o, "proctrail_agent_events_total", ",kind=\"exec\"", m->sensor.execs);
	sample(&o, "proctrail_agent_events_total", ",kind=\"exit\"", m->sensor.exits);
	metric(&o, "proctrail_agent_queue_accepted_total", "counter",
	       "Records given a sequence number (events and loss records).", m->queue_accepted);
	header(&o, "proctrail_agent_sent_records_total", "counter",
	       "Records sent to a collector (a resend counts again).");
	sample(&o, "proctrail_agent_sent_records_total", "", m->up.records_sent);
	metric(&o, "proctrail_agent_acked_records_total", "counter",
	       "Records a collector acknowledged as durably stored.", m->up.records_acked);
	metric(&o, "proctrail_agent_sent_batches_total", "counter", "Batches sent.",
	       m->up.batches_sent);
	metric(&o, "proctrail_agent_acked_batches_total", "counter", "Batches acknowledged.",
	       m->up.batches_acked);
	header(&o, "proctrail_agent_lost_records_total", "counter",
	       "Records lost, by the counter that reports them (each is also sent as a LOSS record).");
	for (i = 1; i <= PT_LOSS_COUNTER_MAX; i++) {
		const char *n = pt_loss_counter_name(i);

		snprintf(extra, sizeof(extra), ",counter=\"%s\"", n ? n : "unknown");
		sample(&o, "proctrail_agent_lost_records_total", extra, m->loss[i]);
	}
	metric(&o, "proctrail_agent_hash_timeouts_total", "counter",
	       "Execs sent without a hash because hashing took too long.", m->sensor.hash_timeouts);
	metric(&o, "proctrail_agent_queue_depth_records", "gauge",
	       "Records in memory, not yet in the spool.", m->queue_depth);
	metric(&o, "proctrail_agent_spool_bytes", "gauge", "Bytes of spool segments on disk.",
	       m->spool.bytes);
	metric(&o, "proctrail_agent_spool_segments", "gauge", "Spool segment files.",
	       m->spool.segments);
	metric(&o, "proctrail_agent_spool_unacked_records", "gauge",
	       "Records in the spool not yet acknowledged.",
	       m->next_seq > m->acked_seq + 1 ? m->next_seq - m->acked_seq - 1 : 0);
	metric(&o, "proctrail_agent_spool_refused_total", "counter",
	       "Spool appends refused at its bound or for lack of space.", m->spool.refused);
	metric(&o, "proctrail_agent_spool_write_errors_total", "counter", "Spool write errors.",
	       m->spool.write_errors);
	metric(&o, "proctrail_agent_spool_corrupt_records", "gauge",
	       "Sequence numbers found lost to spool corruption at open.", m->spool.corrupt_records);
	metric(&o, "proctrail_agent_acked_sequence", "gauge",
	       "Highest sequence number the collector acknowledged.", m->acked_seq);
	metric(&o, "proctrail_agent_connected", "gauge",
	       "1 while a session with a collector is up.", m->up.connected ? 1 : 0);
	metric(&o, "proctrail_agent_collector_index", "gauge",
	       "Which configured collector (0-based) is in use or was last tried.", m->up.collector);
	metric(&o, "proctrail_agent_connects_total", "counter", "Sessions established.",
	       m->up.connects);
	metric(&o, "proctrail_agent_connect_failures_total", "counter",
	       "Connection attempts that did not reach WELCOME.", m->up.connect_failures);
	metric(&o, "proctrail_agent_inflight_batches", "gauge",
	       "Batches sent and not yet acknowledged.", m->up.inflight);
	header(&o, "proctrail_agent_ack_latency_seconds", "histogram",
	       "From a batch's send to the ACK that covers it.");
	for (i = 0; i <= PT_UPLINK_LAT_BUCKETS; i++) {
		cum += m->up.lat_count[i];
		if (i < PT_UPLINK_LAT_BUCKETS)
			snprintf(extra, sizeof(extra), ",le=\"%g\"",
				 pt_uplink_lat_bounds_ms[i] / 1000.0);
		else
			snprintf(extra, sizeof(extra), ",le=\"+Inf\"");
		sample(&o, "proctrail_agent_ack_latency_seconds_bucket", extra, cum);
	}
	if (!o.rc && pt_buf_printf(b, "proctrail_agent_ack_latency_seconds_sum{agent=\"%s\"} "
				   "%" PRIu64 ".%06" PRIu64 "\n", agent, m->up.lat_sum_us / 1000000,
				   m->up.lat_sum_us % 1000000) < 0)
		o.rc = -ENOBUFS;
	sample(&o, "proctrail_agent_ack_latency_seconds_count", "", cum);
	if (m->policy_version >= 0)
		metric(&o, "proctrail_agent_policy_version", "gauge",
		       "Version of the block policy in force.", (uint64_t)m->policy_version);
	metric(&o, "proctrail_agent_tls_reloads_total", "counter",
	       "Certificate, key and CA reloads (SIGHUP).", m->up.tls_reloads);
	metric(&o, "proctrail_agent_config_reloads_total", "counter",
	       "SIGHUP reloads of the configuration that were applied.", m->reloads);
	metric(&o, "proctrail_agent_config_reload_failures_total", "counter",
	       "SIGHUP reloads refused (the file did not parse).", m->reload_failures);
	return o.rc;
}
