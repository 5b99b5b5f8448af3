/* What /metrics says about the collector. Names: proctrail_collector_*, a unit suffix,
 * _total on counters. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <time.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "proctrail/tls.h"
#include "metrics.h"
#include "server-int.h"
#include "writer.h"

static const unsigned lat_bounds_ms[SRV_METRICS_LAT_BUCKETS] = {
	5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000,
};

struct srv_metrics_agent {
	char name[PT_TLS_CN_MAX + 1];              /* "" : free slot */
	uint64_t loss[PT_LOSS_COUNTER_MAX + 1];    /* totals from the agent's last PONG */
	uint64_t sum;
};

static uint64_t name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;       /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* The agent's slot, created on first sight; NULL when the table is full. */
static struct srv_metrics_agent *agent_slot(struct srv_metrics *m, const char *name)
{
	size_t i, mask = SRV_METRICS_AGENTS_MAX - 1;

	if (!m->agents && !(m->agents = calloc(SRV_METRICS_AGENTS_MAX, sizeof(*m->agents))))
		return NULL;
	for (i = name_hash(name) & mask;; i = (i + 1) & mask) {
		struct srv_metrics_agent *a = &m->agents[i];

		if (!a->name[0]) {
			/* a quarter kept free, so probes stay short */
			if (m->nagents >= SRV_METRICS_AGENTS_MAX / 4 * 3)
				return NULL;
			snprintf(a->name, sizeof(a->name), "%s", name);
			m->nagents++;
			return a;
		}
		if (!strcmp(a->name, name))
			return a;
	}
}

void srv_metrics_job(struct server *srv, const struct pt_job *job, uint64_t now)
{
	struct srv_metrics *m = &srv->metrics;
	struct srv_metrics_agent *a;
	uint64_t us;
	unsigned b;

	switch (job->type) {
	case PT_JOB_BATCH:
		if (job->ret < 0) {
			m->batch_failures++;
			break;
		}
		m->batches++;
		m->records_received += job->batch.count;
		m->records_inserted += job->batch_res.inserted;
		m->records_duplicate += job->batch.count - job->batch_res.inserted;
		/* the realtime clock may step back: such a sample counts as 0 */
		m->last_lag_ns = now > job->now_ns ? now - job->now_ns : 0;
		us = m->last_lag_ns / 1000;
		for (b = 0; b < SRV_METRICS_LAT_BUCKETS && us > lat_bounds_ms[b] * 1000ull; b++)
			;
		m->lat_count[b]++;
		m->lat_sum_us += us;
		break;
	case PT_JOB_HELLO:
		m->hellos += job->ret >= 0;
		break;
	case PT_JOB_PONG:
		if (job->ret < 0 || !job->has_pong || !job->sess)
			break;
		m->pongs++;
		if (!(a = agent_slot(m, job->sess->agent_id))) {
			m->untracked_agents++;
			break;
		}
		for (uint32_t i = 0; i < job->pong.n_counters; i++) {
			const struct pt_counter *c = &job->pong.counters[i];

			if (c->id >= 1 && c->id <= PT_LOSS_COUNTER_MAX)
				a->loss[c->id] = c->value;
		}
		a->sum = 0;
		for (b = 1; b <= PT_LOSS_COUNTER_MAX; b++)
			a->sum += a->loss[b];
		break;
	default:
		break;
	}
}

void srv_metrics_free(struct srv_metrics *m)
{
	if (!m)
		return;
	free(m->agents);
	m->agents = NULL;
	m->nagents = 0;
}

struct out {
	struct pt_buf *b;
	int rc;
};

static void emit(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(struct out *o, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	if (o->rc)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) || pt_buf_append(o->b, line, (size_t)n) < 0)
		o->rc = -ENOBUFS;
}

static void family(struct out *o, const char *name, const char *type, const char *help)
{
	emit(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(struct out *o, const char *name, const char *type, const char *help, uint64_t v)
{
	family(o, name, type, help);
	emit(o, "%s %" PRIu64 "\n", name, v);
}

static void seconds(struct out *o, const char *name, const char *help, uint64_t ns)
{
	family(o, name, "gauge", help);
	emit(o, "%s %" PRIu64 ".%09" PRIu64 "\n", name, ns / UINT64_C(1000000000), ns % UINT64_C(1000000000));
}

static const char *const srv_names[SRV_COUNTERS] = {
	[SRV_REFUSED_MAX_CONNECTIONS] = "refused_max_connections",
	[SRV_REFUSED_HANDSHAKES_FULL] = "refused_handshakes_full",
	[SRV_REFUSED_PER_ADDRESS] = "refused_per_address",
	[SRV_EVICTED_HANDSHAKES] = "evicted_handshakes",
	[SRV_HANDSHAKE_TIMEOUTS] = "handshake_timeouts",
	[SRV_HANDSHAKE_FAILED] = "handshake_failed",
	[SRV_REPLACED_PER_AGENT] = "replaced_per_agent",
	[SRV_FRAME_TIMEOUTS] = "frame_timeouts",
	[SRV_IDLE_TIMEOUTS] = "idle_timeouts",
	[SRV_ACCEPT_PAUSES] = "accept_pauses",
	[SRV_POLICY_UNSOLICITED] = "policy_answers_unsolicited",
};

/* The SRV_METRICS_TOP agents with the largest loss sums (none with 0), largest first. */
static size_t top_agents(const struct srv_metrics *m, const struct srv_metrics_agent **top)
{
	size_t n = 0, i, j;

	for (i = 0; m->agents && i < SRV_METRICS_AGENTS_MAX; i++) {
		const struct srv_metrics_agent *a = &m->agents[i];

		if (!a->name[0] || !a->sum)
			continue;
		if (n == SRV_METRICS_TOP && a->sum <= top[n - 1]->sum)
			continue;
		j = n < SRV_METRICS_TOP ? n++ : n - 1;
		while (j > 0 && top[j - 1]->sum < a->sum) {
			top[j] = top[j - 1];
			j--;
		}
		top[j] = a;
	}
	return n;
}

int pt_server_metrics_text(struct server *srv, struct pt_buf *b)
{
	const struct srv_metrics *m = &srv->metrics;
	const struct srv_metrics_agent *top[SRV_METRICS_TOP];
	uint64_t fleet[PT_LOSS_COUNTER_MAX + 1] = { 0 }, cum = 0;
	struct out o = { b, 0 };
	size_t ntop, i;
	unsigned k;

	family(&o, "proctrail_collector_records_total", "counter",
	       "Records in committed batches, by outcome (a resend already stored is a duplicate).");
	emit(&o, "proctrail_collector_records_total{outcome=\"stored\"} %" PRIu64 "\n",
	     m->records_inserted);
	emit(&o, "proctrail_collector_records_total{outcome=\"duplicate\"} %" PRIu64 "\n",
	     m->records_duplicate);
	one(&o, "proctrail_collector_batches_total", "counter",
	    "Batches committed and acknowledged.", m->batches);
	one(&o, "proctrail_collector_batch_commit_failures_total", "counter",
	    "Batches whose group transaction failed (not acknowledged; the agent resends).",
	    m->batch_failures);
	one(&o, "proctrail_collector_hellos_total", "counter", "Sessions that passed HELLO.",
	    m->hellos);
	one(&o, "proctrail_collector_pongs_total", "counter", "PONGs stored.", m->pongs);
	family(&o, "proctrail_collector_ack_latency_seconds", "histogram",
	       "From a BATCH frame's arrival to its ACK, after the durable commit.");
	for (k = 0; k <= SRV_METRICS_LAT_BUCKETS; k++) {
		cum += m->lat_count[k];
		if (k < SRV_METRICS_LAT_BUCKETS)
			emit(&o, "proctrail_collector_ack_latency_seconds_bucket{le=\"%g\"} %" PRIu64
			     "\n", lat_bounds_ms[k] / 1000.0, cum);
		else
			emit(&o, "proctrail_collector_ack_latency_seconds_bucket{le=\"+Inf\"} %" PRIu64
			     "\n", cum);
	}
	emit(&o, "proctrail_collector_ack_latency_seconds_sum %" PRIu64 ".%06" PRIu64 "\n",
	     m->lat_sum_us / UINT64_C(1000000), m->lat_sum_us % UINT64_C(1000000));
	emit(&o, "proctrail_collector_ack_latency_seconds_count %" PRIu64 "\n", cum);
	one(&o, "proctrail_collector_writer_pending_jobs", "gauge",
	    "Jobs (batches, HELLOs, PONGs) submitted to the writer and not yet committed.",
	    srv->writer ? pt_writer_pending(srv->writer) : 0);
	one(&o, "proctrail_collector_writer_queued_bytes", "gauge",
	    "Decoded batches waiting for the writer, all connections together.",
	    srv->queued_bytes);
	seconds(&o, "proctrail_collector_writer_lag_seconds",
		"From arrival to commit of the last acknowledged batch.", m->last_lag_ns);
	family(&o, "proctrail_collector_connections", "gauge", "Agent connections, by state.");
	emit(&o, "proctrail_collector_connections{state=\"established\"} %u\n", srv->nestablished);
	emit(&o, "proctrail_collector_connections{state=\"handshaking\"} %u\n", srv->hs.n);
	one(&o, "proctrail_collector_connections_max", "gauge",
	    "max-connections in force (lowered to fit RLIMIT_NOFILE).", srv->max_connections);
	family(&o, "proctrail_collector_connection_events_total", "counter",
	       "Connections refused, dropped or paused, by reason (the counters log line).");
	for (k = 0; k < SRV_COUNTERS; k++)
		emit(&o, "proctrail_collector_connection_events_total{reason=\"%s\"} %" PRIu64 "\n",
		     srv_names[k], srv->counters[k]);
	family(&o, "proctrail_collector_crl_events_total", "counter", "Revocation checks, by kind.");
	emit(&o, "proctrail_collector_crl_events_total{kind=\"revoked_closed\"} %" PRIu64 "\n",
	     srv->crl.revoked_closed);
	emit(&o, "proctrail_collector_crl_events_total{kind=\"refused_no_crl\"} %" PRIu64 "\n",
	     srv->crl.refused);
	emit(&o, "proctrail_collector_crl_events_total{kind=\"reload_failures\"} %" PRIu64 "\n",
	     srv->crl.reload_failures);
	for (i = 0; m->agents && i < SRV_METRICS_AGENTS_MAX; i++)
		for (k = 1; k <= PT_LOSS_COUNTER_MAX; k++)
			fleet[k] += m->agents[i].loss[k];
	family(&o, "proctrail_collector_agent_lost_records", "gauge",
	       "Sum over agents of the loss totals their last PONG reported, by counter.");
	for (k = 1; k <= PT_LOSS_COUNTER_MAX; k++)
		emit(&o, "proctrail_collector_agent_lost_records{counter=\"%s\"} %" PRIu64 "\n",
		     pt_loss_counter_name(k), fleet[k]);
	ntop = top_agents(m, top);
	family(&o, "proctrail_collector_agent_lost_records_top", "gauge",
	       "Loss totals of the agents with the most losses (at most 10 agents).");
	for (i = 0; i < ntop; i++)
		for (k = 1; k <= PT_LOSS_COUNTER_MAX; k++)
			/* a CN is [A-Za-z0-9._-] (checked at the handshake): nothing to escape */
			emit(&o, "proctrail_collector_agent_lost_records_top{agent=\"%s\",counter=\"%s\"}"
			     " %" PRIu64 "\n", top[i]->name, pt_loss_counter_name(k), top[i]->loss[k]);
	one(&o, "proctrail_collector_agents_tracked", "gauge",
	    "Agents whose loss counters are kept for these metrics.", m->nagents);
	one(&o, "proctrail_collector_agents_untracked_total", "counter",
	    "PONGs of agents beyond the table's bound (their losses are not in the sums).",
	    m->untracked_agents);
	return o.rc;
}

/* ---- from another thread (the API's) ---- */

struct metrics_call {
	struct server *srv;
	struct pt_buf *out;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int done, rc, abandoned;
};

static void call_free(struct metrics_call *mc)
{
	pthread_mutex_destroy(&mc->lock);
	pthread_cond_destroy(&mc->cond);
	free(mc);
}

static void metrics_on_loop(evutil_socket_t fd, short what, void *arg)
{
	struct metrics_call *mc = arg;
	int abandoned;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&mc->lock);
	abandoned = mc->abandoned;
	if (!abandoned)
		mc->rc = pt_server_metrics_text(mc->srv, mc->out);
	mc->done = 1;
	pthread_cond_signal(&mc->cond);
	pthread_mutex_unlock(&mc->lock);
	if (abandoned)
		call_free(mc);
}

int pt_server_metrics_from_thread(void *arg, struct pt_buf *out, unsigned timeout_ms)
{
	struct server *srv = arg;
	struct metrics_call *mc = calloc(1, sizeof(*mc));
	struct timeval now_tv = { 0, 0 };
	struct timespec deadline;
	int rc;

	if (!mc)
		return -ENOMEM;
	mc->srv = srv;
	mc->out = out;
	pthread_mutex_init(&mc->lock, NULL);
	pthread_cond_init(&mc->cond, NULL);
	if (event_base_once(srv->base, -1, EV_TIMEOUT, metrics_on_loop, mc, &now_tv) < 0) {
		call_free(mc);
		return -EAGAIN;
	}
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&mc->lock);
	while (!mc->done)
		if (pthread_cond_timedwait(&mc->cond, &mc->lock, &deadline) == ETIMEDOUT)
			break;
	if (!mc->done) {
		/* the loop is stopping or stuck: it frees the call if it ever runs it */
		mc->abandoned = 1;
		pthread_mutex_unlock(&mc->lock);
		return -ETIMEDOUT;
	}
	rc = mc->rc;
	pthread_mutex_unlock(&mc->lock);
	call_free(mc);
	return rc;
}
