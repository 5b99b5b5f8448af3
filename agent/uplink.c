/* The uplink thread: failover and backoff, the session (HELLO, batches, ACK, PING, COLLECT). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <openssl/x509.h>
#include <zstd.h>

#include "proctrail/clock.h"
#include "proctrail/escape.h"
#include "proctrail/log.h"
#include "proctrail/tls.h"
#include "proctrail/version.h"
#include "enforce.h"
#include "policy_file.h"
#include "ring_id.h"
#include "sample.h"
#include "uplink.h"
#include "uplink_io.h"

#define WINDOW_MAX 64u

const unsigned pt_uplink_lat_bounds_ms[PT_UPLINK_LAT_BUCKETS] = {
	5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000,
};

struct pt_uplink {
	struct pt_uplink_opts o;
	char *addrs[PT_UPLINK_COLLECTORS_MAX];
	struct pt_spool *sp;
	struct pt_queue *q;
	SSL_CTX *ctx;
	char agent_name[PT_TLS_CN_MAX + 1];
	char hostname[PT_NAME_MAX + 1];
	uint8_t boot_id[PT_BOOT_ID_LEN];
	int efd;                       /* notify: new records */
	int stopfd;                    /* readable once stopping */
	volatile int stop;
	pthread_t thr;
	bool running;

	/* shared with other threads, under lock */
	pthread_mutex_t lock;
	SSL_CTX *next_ctx;             /* reloaded TLS settings, taken at the next connect */
	char *ca, *cert, *key;         /* the files, for the network child of each connection */
	char *user;                    /* the network child's user */
	struct pt_uplink_stats st;

	/* session state, uplink thread only */
	struct pt_conn c;
	struct pt_spool_cursor cur;
	uint64_t stream_id;
	uint64_t sent_seq;             /* highest seq sent on this connection */
	uint64_t inflight[WINDOW_MAX]; /* last seq of each unacknowledged batch, oldest first */
	uint64_t inflight_ns[WINDOW_MAX];   /* when each was sent */
	uint32_t inflight_n[WINDOW_MAX];    /* records in each */
	unsigned ninflight;
	uint64_t last_progress_ms;     /* last ACK, or when the window became non-empty */
	uint64_t collect_until;        /* pull mode: send up to this seq */
	struct pt_buf recs;            /* records of the batch being built */
	uint64_t recs_first;
	uint32_t recs_count;
	struct pt_buf carry;           /* a record that did not continue the batch's sequence */
	uint64_t carry_seq;
	uint8_t *out, *scratch;
	size_t out_cap, scratch_cap;
	ZSTD_CCtx *zc;                 /* reused for every batch: a new one costs its tables */
};

static int send_frame(struct pt_uplink *u, const uint8_t *p, size_t len)
{
	return pt_conn_write(&u->c, p, len, u->o.timeout_ms);
}

static int send_error(struct pt_uplink *u, uint32_t code, uint8_t ftype, const char *msg)
{
	uint8_t buf[PT_MESSAGE_MAX + 64];
	struct pt_writer w;
	struct pt_error e = { .code = code, .frame_type = ftype,
			      .message = { msg, (uint32_t)strlen(msg) } };
	pt_writer_init(&w, buf, sizeof(buf));
	int rc = pt_error_encode(&w, &e);
	return rc < 0 ? rc : send_frame(u, buf, w.len);
}

static int send_pong(struct pt_uplink *u, uint64_t nonce)
{
	uint8_t buf[2048];
	struct pt_writer w;
	struct pt_pong p = { .nonce = nonce };
	struct pt_spool_stats st;
	uint64_t tot[PT_LOSS_COUNTER_MAX + 1];

	pt_spool_get_stats(u->sp, &st);
	pt_queue_counters(u->q, tot);
	p.queue_depth = pt_queue_depth(u->q);
	p.spool_bytes = st.bytes;
	p.next_seq = pt_spool_next_seq(u->sp) + p.queue_depth;
	p.acked_seq = pt_spool_acked_seq(u->sp);
	for (unsigned i = 1; i <= PT_LOSS_COUNTER_MAX; i++)
		p.counters[p.n_counters++] = (struct pt_counter){ (uint16_t)i, tot[i] };
	pt_writer_init(&w, buf, sizeof(buf));
	int rc = pt_pong_encode(&w, &p);
	return rc < 0 ? rc : send_frame(u, buf, w.len);
}

static int send_batch(struct pt_uplink *u)
{
	struct pt_writer w;
	int rc;

	if (!u->recs_count)
		return 0;
	pt_writer_init(&w, u->out, u->out_cap);
	rc = pt_batch_encode_cctx(&w, u->stream_id, u->recs_first, u->recs_count, u->recs.data,
				  u->recs.len, u->o.codec, u->scratch, u->scratch_cap, u->zc);
	if (rc < 0) {
		log_warnx("uplink: batch %llu+%u: %s", (unsigned long long)u->recs_first,
			  u->recs_count, strerror(-rc));
		return rc;
	}
	if ((rc = send_frame(u, u->out, w.len)) < 0)
		return rc;
	if (!u->ninflight)
		u->last_progress_ms = pt_mono_ms();
	u->sent_seq = u->recs_first + u->recs_count - 1;
	u->inflight_ns[u->ninflight] = pt_mono_ns();
	u->inflight_n[u->ninflight] = u->recs_count;
	u->inflight[u->ninflight++] = u->sent_seq;
	pthread_mutex_lock(&u->lock);
	u->st.batches_sent++;
	u->st.records_sent += u->recs_count;
	u->st.inflight = u->ninflight;
	pthread_mutex_unlock(&u->lock);
	log_debug("uplink: sent %u record(s) from %llu", u->recs_count,
		  (unsigned long long)u->recs_first);
	pt_buf_reset(&u->recs);
	u->recs_count = 0;
	return 0;
}

static bool may_send(struct pt_uplink *u)
{
	if (u->ninflight >= u->o.window)
		return false;
	if (u->o.mode == PT_MODE_PULL)
		return u->collect_until > u->sent_seq;
	return true;
}

/* Builds and sends batches while the window and the mode allow and records are available.
 * A batch holds consecutive sequence numbers only: a record that does not continue it (after
 * corrupt records, which recovery reported) is carried over to start the next one. */
static int pump(struct pt_uplink *u)
{
	struct pt_spool_item it;
	int rc;

	while (may_send(u)) {
		uint64_t limit = u->o.mode == PT_MODE_PULL ? u->collect_until : UINT64_MAX;
		pt_buf_reset(&u->recs);
		u->recs_count = 0;
		if (u->carry.len) {
			if (u->carry_seq > limit)
				break;
			if ((rc = pt_buf_append(&u->recs, u->carry.data, u->carry.len)) < 0)
				return rc;
			u->recs_first = u->carry_seq;
			u->recs_count = 1;
			pt_buf_reset(&u->carry);
		}
		while (u->recs_count < u->o.batch_records && u->recs.len < u->o.batch_bytes) {
			rc = pt_spool_read(u->sp, &u->cur, &it);
			if (rc < 0)
				return rc;
			if (rc == 0)
				break;
			if (it.seq > limit ||
			    (u->recs_count && (it.seq != u->recs_first + u->recs_count ||
					       u->recs.len + it.len > u->o.batch_bytes))) {
				if ((rc = pt_buf_append(&u->carry, it.rec, it.len)) < 0)
					return rc;
				u->carry_seq = it.seq;
				break;
			}
			if (!u->recs_count)
				u->recs_first = it.seq;
			if ((rc = pt_buf_append(&u->recs, it.rec, it.len)) < 0)
				return rc;
			u->recs_count++;
		}
		if (!u->recs_count)
			break;
		if ((rc = send_batch(u)) < 0)
			return rc;
	}
	return 0;
}

static int on_ack(struct pt_uplink *u, const struct pt_ack *a)
{
	if (a->stream_id != u->stream_id) {
		log_warnx("uplink: ACK for stream %016llx, ours is %016llx; ignored",
			  (unsigned long long)a->stream_id, (unsigned long long)u->stream_id);
		return 0;
	}
	if (a->seq > u->sent_seq) {
		log_warnx("uplink: ACK of %llu beyond what was sent (%llu)",
			  (unsigned long long)a->seq, (unsigned long long)u->sent_seq);
		return -EPROTO;
	}
	unsigned k = 0;
	uint64_t now = pt_mono_ns();
	pthread_mutex_lock(&u->lock);
	while (k < u->ninflight && u->inflight[k] <= a->seq) {
		uint64_t us = (now - u->inflight_ns[k]) / 1000;
		unsigned b = 0;
		while (b < PT_UPLINK_LAT_BUCKETS && us > pt_uplink_lat_bounds_ms[b] * 1000ull)
			b++;
		u->st.lat_count[b]++;
		u->st.lat_sum_us += us;
		u->st.batches_acked++;
		u->st.records_acked += u->inflight_n[k];
		k++;
	}
	memmove(u->inflight, u->inflight + k, (u->ninflight - k) * sizeof(u->inflight[0]));
	memmove(u->inflight_ns, u->inflight_ns + k, (u->ninflight - k) * sizeof(u->inflight_ns[0]));
	memmove(u->inflight_n, u->inflight_n + k, (u->ninflight - k) * sizeof(u->inflight_n[0]));
	u->ninflight -= k;
	u->st.inflight = u->ninflight;
	pthread_mutex_unlock(&u->lock);
	u->last_progress_ms = pt_mono_ms();
	int rc = pt_spool_ack(u->sp, a->seq);
	if (rc < 0)
		log_warnx("uplink: saving the acknowledgement cursor: %s", strerror(-rc));
	return 0;
}

static int send_policy_result(struct pt_uplink *u, uint64_t version, uint32_t code,
			      const char *msg)
{
	uint8_t buf[PT_MESSAGE_MAX + 64];
	struct pt_writer w;
	size_t len = strlen(msg);
	struct pt_policy_result r = { .version = version, .code = code,
				      .message = { msg, (uint32_t)(len > PT_MESSAGE_MAX ?
								   PT_MESSAGE_MAX : len) } };
	pt_writer_init(&w, buf, sizeof(buf));
	int rc = pt_policy_result_encode(&w, &r);
	return rc < 0 ? rc : send_frame(u, buf, w.len);
}

/* A policy is applied whole or not at all; either way the collector hears which. */
static int on_policy(struct pt_uplink *u, const struct pt_frame *f, const struct pt_policy *pm)
{
	uint32_t n = pm->n_hashes + pm->n_rules, i = 0;
	struct pt_policy_rule *rules = n ? malloc((size_t)n * sizeof(*rules)) : NULL;
	struct pt_policy_iter it;
	char msg[PT_MESSAGE_MAX];
	int rc;

	if (n && !rules)
		return send_policy_result(u, pm->version, PT_ERR_INTERNAL, "out of memory");
	pt_policy_iter_init(&it, f);
	while (i < n && pt_policy_next_rule(&it, &rules[i]) == 1)
		i++;
	rc = pt_enforcer_apply(u->o.enforcer, pm->version, rules, i, msg, sizeof(msg));
	if (rc == 0 && u->o.policy_file) {
		int src = pt_policy_file_save(u->o.policy_file, pm->version, rules, i);
		if (src < 0)
			log_warnx("policy version %llu applied but not saved (%s): a restart "
				  "without the collector would not enforce it",
				  (unsigned long long)pm->version, strerror(-src));
	}
	free(rules);
	if (rc < 0) {
		log_warnx("policy version %llu refused: %s", (unsigned long long)pm->version, msg);
		return send_policy_result(u, pm->version,
					  rc == -E2BIG ? PT_ERR_LIMIT : PT_ERR_POLICY, msg);
	}
	snprintf(msg, sizeof(msg), "%u rule(s) enforced", i);
	log_info("policy version %llu applied: %s", (unsigned long long)pm->version, msg);
	return send_policy_result(u, pm->version, 0, msg);
}

/* One chunk per request: the collector paces the transfer, batches go on in between. */
static int send_sample(struct pt_uplink *u, const struct pt_sample_get *g)
{
	struct pt_sample_data d;
	struct pt_writer w;
	int rc;

	pt_sampler_serve(u->o.sampler, g, &d);
	if (d.code) {
		struct pt_esc shown;
		log_warnx("sample request %llu refused: %s: %s", (unsigned long long)g->id,
			  pt_sample_code_name(d.code), pt_esc(&shown, d.message.ptr, d.message.len));
	}
	pt_writer_init(&w, u->out, u->out_cap);
	if ((rc = pt_sample_data_encode(&w, &d)) < 0)
		return rc;
	return send_frame(u, u->out, w.len);
}

static int on_frame(struct pt_uplink *u, const struct pt_frame *f)
{
	struct pt_decode_stats st = { 0 };
	int rc;

	switch (f->type) {
	case PT_FRAME_ACK: {
		struct pt_ack a;
		if ((rc = pt_ack_decode(f, &a, &st)) < 0)
			break;
		return on_ack(u, &a);
	}
	case PT_FRAME_PING: {
		struct pt_ping p;
		if ((rc = pt_ping_decode(f, &p, &st)) < 0)
			break;
		if (!u->o.allow_ping)
			return send_error(u, PT_ERR_DISABLED, f->type, "PING disabled by configuration");
		return send_pong(u, p.nonce);
	}
	case PT_FRAME_COLLECT: {
		struct pt_collect cm;
		if ((rc = pt_collect_decode(f, &cm, &st)) < 0)
			break;
		if (!u->o.allow_collect)
			return send_error(u, PT_ERR_DISABLED, f->type,
					  "COLLECT disabled by configuration");
		/* Everything held now, including what still waits in memory. */
		pt_queue_flush(u->q);
		u->collect_until = pt_spool_next_seq(u->sp) - 1;
		log_info("uplink: COLLECT: sending up to seq %llu",
			 (unsigned long long)u->collect_until);
		return 0;
	}
	case PT_FRAME_POLICY: {
		struct pt_policy pm;
		if ((rc = pt_policy_decode(f, &pm, &st)) < 0)
			break;
		if (!u->o.allow_policy || !u->o.enforcer)
			return send_error(u, PT_ERR_DISABLED, f->type,
					  "POLICY disabled by configuration");
		return on_policy(u, f, &pm);
	}
	case PT_FRAME_SAMPLE_GET: {
		struct pt_sample_get g;
		if ((rc = pt_sample_get_decode(f, &g, &st)) < 0)
			break;
		if (!u->o.allow_sample || !u->o.sampler)
			return send_error(u, PT_ERR_DISABLED, f->type,
					  "SAMPLE_GET disabled by configuration");
		return send_sample(u, &g);
	}
	case PT_FRAME_ERROR: {
		struct pt_error e;
		struct pt_esc shown;
		if ((rc = pt_error_decode(f, &e, &st)) < 0)
			break;
		/* once per connection: it ends it */
		log_warnx("uplink: collector error %u: %s", e.code,
			  pt_esc(&shown, e.message.ptr, e.message.len));
		return -ECONNABORTED;
	}
	default:
		log_warnx("uplink: unexpected %s frame", pt_frame_type_name(f->type) ?
			  pt_frame_type_name(f->type) : "unknown");
		send_error(u, PT_ERR_PROTOCOL, f->type, "unexpected frame");
		return -EPROTO;
	}
	log_warnx("uplink: malformed %s frame: %s", pt_frame_type_name(f->type), strerror(-rc));
	send_error(u, PT_ERR_PROTOCOL, f->type, "malformed frame");
	return -EPROTO;
}

/* Handles every whole frame received so far. */
static int drain_input(struct pt_uplink *u)
{
	struct pt_frame f;
	size_t flen;
	int rc;

	while ((rc = pt_conn_next_frame(&u->c, &f, &flen)) == 1) {
		rc = on_frame(u, &f);
		pt_buf_consume(&u->c.in, flen);
		if (rc < 0)
			return rc;
	}
	return rc;
}

static int hello(struct pt_uplink *u)
{
	uint8_t buf[1024];
	struct pt_writer w;
	struct pt_hello h = { 0 };
	int rc;

	h.version = (struct pt_str){ PROCTRAIL_VERSION, (uint32_t)strlen(PROCTRAIL_VERSION) };
	h.hostname = (struct pt_str){ u->hostname, (uint32_t)strlen(u->hostname) };
	h.agent_name = (struct pt_str){ u->agent_name, (uint32_t)strlen(u->agent_name) };
	memcpy(h.boot_id, u->boot_id, PT_BOOT_ID_LEN);
	h.stream_id = u->stream_id;
	h.first_seq = pt_spool_first_held(u->sp);
	h.next_seq = pt_spool_next_seq(u->sp) + pt_queue_depth(u->q);
	h.mode = u->o.mode;
	if (u->o.enforcer)
		h.policy_version = pt_enforcer_version(u->o.enforcer, NULL);
	pt_writer_init(&w, buf, sizeof(buf));
	if ((rc = pt_hello_encode(&w, &h)) < 0 || (rc = send_frame(u, buf, w.len)) < 0)
		return rc;

	uint64_t deadline = pt_mono_ms() + u->o.timeout_ms;
	for (;;) {
		struct pt_frame f;
		size_t flen;
		if ((rc = pt_conn_fill(&u->c)) < 0)
			return rc;
		rc = pt_conn_next_frame(&u->c, &f, &flen);
		if (rc < 0)
			return rc;
		if (rc == 1) {
			struct pt_welcome wm;
			if (f.type == PT_FRAME_ERROR) {
				on_frame(u, &f);
				return -ECONNABORTED;
			}
			if (f.type != PT_FRAME_WELCOME || pt_welcome_decode(&f, &wm, NULL) < 0) {
				log_warnx("uplink: expected WELCOME, got frame type %u", f.type);
				return -EPROTO;
			}
			if (wm.has_acked_seq) {
				if (wm.acked_seq >= pt_spool_next_seq(u->sp))
					log_warnx("uplink: collector acknowledges %llu, beyond our %llu",
						  (unsigned long long)wm.acked_seq,
						  (unsigned long long)pt_spool_next_seq(u->sp) - 1);
				else if (wm.acked_seq > pt_spool_acked_seq(u->sp)) {
					/* the collector stored these before the last connection died,
					 * and its ACK never arrived: not resent */
					log_info("uplink: collector already stored %llu..%llu (ACK lost)",
						 (unsigned long long)pt_spool_acked_seq(u->sp) + 1,
						 (unsigned long long)wm.acked_seq);
					pt_spool_ack(u->sp, wm.acked_seq);
				}
			}
			pt_buf_consume(&u->c.in, flen);
			return 0;
		}
		uint64_t now = pt_mono_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		struct pollfd p[2] = { { .fd = u->c.fd, .events = POLLIN },
				       { .fd = u->stopfd, .events = POLLIN } };
		if (poll(p, 2, (int)(deadline - now)) < 0 && errno != EINTR)
			return -errno;
		if (p[1].revents)
			return -ECANCELED;
	}
}

static int session(struct pt_uplink *u, const char *addr, bool *welcomed)
{
	char err[512];
	int rc;

	*welcomed = false;
	pthread_mutex_lock(&u->lock);
	if (u->next_ctx) {
		SSL_CTX_free(u->ctx);
		u->ctx = u->next_ctx;
		u->next_ctx = NULL;
	}
	/* copied: a SIGHUP may replace them while the connection is made */
	char ca[4096], cert[4096], key[4096];
	snprintf(ca, sizeof(ca), "%s", u->ca);
	snprintf(cert, sizeof(cert), "%s", u->cert);
	snprintf(key, sizeof(key), "%s", u->key);
	pthread_mutex_unlock(&u->lock);
	struct pt_transport t = { .ctx = u->o.network_child ? NULL : u->ctx, .ca = ca, .cert = cert,
				  .key = key, .user = u->user, .name = u->agent_name,
				  .verbose = log_verbose() };
	rc = pt_conn_open(&u->c, &t, addr, u->stopfd, u->o.timeout_ms, err, sizeof(err));
	if (rc < 0) {
		if (rc != -ECANCELED)
			log_warnx("uplink: %s: %s", addr, err);
		goto cleanup;
	}
	if ((rc = hello(u)) < 0) {
		if (rc != -ECANCELED)
			log_warnx("uplink: %s: HELLO: %s", addr, strerror(-rc));
		goto cleanup;
	}
	*welcomed = true;
	pthread_mutex_lock(&u->lock);
	u->st.connected = true;
	u->st.connects++;
	pthread_mutex_unlock(&u->lock);
	log_info("uplink: connected to %s (stream %016llx, acked %llu, mode %s)", addr,
		 (unsigned long long)u->stream_id, (unsigned long long)pt_spool_acked_seq(u->sp),
		 u->o.mode == PT_MODE_PULL ? "pull" : "stream");

	/* Resend everything not acknowledged. */
	pt_spool_cursor_seek(&u->cur, pt_spool_acked_seq(u->sp) + 1);
	u->sent_seq = pt_spool_acked_seq(u->sp);
	u->ninflight = 0;
	u->collect_until = 0;
	pt_buf_reset(&u->recs);
	pt_buf_reset(&u->carry);
	u->recs_count = 0;

	while (!u->stop) {
		if ((rc = drain_input(u)) < 0 || (rc = pump(u)) < 0)
			break;
		if (u->ninflight && pt_mono_ms() - u->last_progress_ms > u->o.timeout_ms) {
			log_warnx("uplink: %s: no ACK for %u ms; reconnecting", addr, u->o.timeout_ms);
			rc = -ETIMEDOUT;
			break;
		}
		struct pollfd p[3] = { { .fd = u->c.fd, .events = POLLIN },
				       { .fd = u->efd, .events = POLLIN },
				       { .fd = u->stopfd, .events = POLLIN } };
		if (!pt_conn_pending(&u->c) && poll(p, 3, 1000) < 0 && errno != EINTR) {
			rc = -errno;
			break;
		}
		if (p[1].revents & POLLIN) {
			uint64_t v;
			if (read(u->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				log_warn("uplink: eventfd");
		}
		if ((rc = pt_conn_fill(&u->c)) < 0)
			break;
	}
	if (rc < 0 && rc != -ECANCELED && !u->stop)
		log_warnx("uplink: %s: connection lost: %s", addr, strerror(-rc));
cleanup:
	pt_conn_close(&u->c);
	pthread_mutex_lock(&u->lock);
	if (!*welcomed)
		u->st.connect_failures++;
	u->st.connected = false;
	u->st.inflight = 0;
	pthread_mutex_unlock(&u->lock);
	return rc;
}

static void *uplink_main(void *arg)
{
	struct pt_uplink *u = arg;
	unsigned idx = 0, attempt = 0;

	while (!u->stop) {
		bool welcomed;
		pthread_mutex_lock(&u->lock);
		u->st.collector = idx;
		pthread_mutex_unlock(&u->lock);
		session(u, u->addrs[idx], &welcomed);
		if (u->stop)
			break;
		if (welcomed)
			attempt = 0;
		idx = (idx + 1) % u->o.n_collectors;   /* fail over to the next address */
		/* Full jitter over an exponentially growing ceiling, so a fleet that lost its
		 * collector does not come back in lockstep. */
		uint64_t ceil = (uint64_t)u->o.backoff_min_ms << (attempt < 16 ? attempt : 16);
		if (ceil > u->o.backoff_max_ms)
			ceil = u->o.backoff_max_ms;
		uint32_t r;
		if (getentropy(&r, sizeof(r)) < 0)
			r = (uint32_t)pt_mono_ms();
		uint64_t delay = ceil / 2 + r % (ceil / 2 + 1);
		attempt++;
		log_debug("uplink: next attempt in %llu ms", (unsigned long long)delay);
		struct pollfd p = { .fd = u->stopfd, .events = POLLIN };
		poll(&p, 1, (int)delay);
	}
	return NULL;
}

int pt_uplink_new(const struct pt_uplink_opts *o, struct pt_spool *sp, struct pt_queue *q,
		  struct pt_uplink **out)
{
	struct pt_uplink *u;
	char err[512];
	int rc;

	*out = NULL;
	if (!o->n_collectors || o->n_collectors > PT_UPLINK_COLLECTORS_MAX || !o->ca || !o->cert ||
	    !o->key || (o->mode != PT_MODE_STREAM && o->mode != PT_MODE_PULL))
		return -EINVAL;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->efd = u->stopfd = -1;
	u->c.fd = -1;
	pthread_mutex_init(&u->lock, NULL);
	u->cur.fd = -1;
	u->o = *o;
	u->sp = sp;
	u->q = q;
	if (!u->o.batch_records || u->o.batch_records > PT_BATCH_RECORDS_MAX)
		u->o.batch_records = 2048;
	if (!u->o.batch_bytes || u->o.batch_bytes > (2u << 20))
		u->o.batch_bytes = 1u << 20;
	if (!u->o.window || u->o.window > WINDOW_MAX)
		u->o.window = 8;
	if (!u->o.backoff_min_ms)
		u->o.backoff_min_ms = 250;
	if (!u->o.backoff_max_ms)
		u->o.backoff_max_ms = 30000;
	if (u->o.backoff_max_ms < u->o.backoff_min_ms)
		u->o.backoff_max_ms = u->o.backoff_min_ms;
	if (!u->o.timeout_ms)
		u->o.timeout_ms = 30000;
	for (unsigned i = 0; i < o->n_collectors; i++) {
		char h[256], p[32];
		if (pt_uplink_split_addr(o->collectors[i], h, sizeof(h), p, sizeof(p)) < 0) {
			log_warnx("uplink: bad collector address '%s' (want HOST:PORT)", o->collectors[i]);
			rc = -EINVAL;
			goto fail;
		}
		if (!(u->addrs[i] = strdup(o->collectors[i]))) {
			rc = -ENOMEM;
			goto fail;
		}
		u->o.collectors[i] = u->addrs[i];
	}
	u->ca = strdup(o->ca);
	u->cert = strdup(o->cert);
	u->key = strdup(o->key);
	u->user = strdup(o->network_user ? o->network_user : PT_UPLINK_NETWORK_USER);
	u->o.network_user = NULL;
	if (!u->ca || !u->cert || !u->key || !u->user) {
		rc = -ENOMEM;
		goto fail;
	}
	u->o.ca = u->o.cert = u->o.key = NULL;   /* u->ca, u->cert, u->key from now on */
	u->ctx = pt_tls_client_ctx(o->ca, o->cert, o->key, err, sizeof(err));
	if (!u->ctx) {
		log_warnx("uplink: TLS: %s", err);
		rc = -EINVAL;
		goto fail;
	}
	if ((rc = pt_tls_ctx_cn(u->ctx, u->agent_name, sizeof(u->agent_name))) < 0) {
		log_warnx("uplink: %s: no usable CN in the certificate", o->cert);
		goto fail;
	}
	if (gethostname(u->hostname, sizeof(u->hostname) - 1) < 0)
		snprintf(u->hostname, sizeof(u->hostname), "unknown");
	if (pt_boot_id(u->boot_id) < 0)
		log_warnx("uplink: no boot id; HELLO carries zeros");
	u->stream_id = pt_spool_stream_id(sp);
	u->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	u->stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (u->efd < 0 || u->stopfd < 0) {
		rc = -errno;
		goto fail;
	}
	pt_buf_init(&u->recs, u->o.batch_bytes + PT_RECORD_MAX);
	pt_buf_init(&u->carry, PT_RECORD_MAX);
	u->scratch_cap = ZSTD_compressBound(u->o.batch_bytes + PT_RECORD_MAX);
	u->out_cap = u->scratch_cap + 4096;
	if (u->out_cap < PT_SAMPLE_CHUNK_MAX + 4096)
		u->out_cap = PT_SAMPLE_CHUNK_MAX + 4096;   /* a SAMPLE_DATA is built there too */
	u->scratch = malloc(u->scratch_cap);
	u->out = malloc(u->out_cap);
	u->zc = ZSTD_createCCtx();
	if (!u->scratch || !u->out || !u->zc) {
		rc = -ENOMEM;
		goto fail;
	}
	if ((rc = pt_spool_cursor_init(&u->cur)) < 0)
		goto fail;
	*out = u;
	return 0;
fail:
	pt_uplink_free(u);
	return rc;
}

int pt_uplink_start(struct pt_uplink *u)
{
	int rc = pthread_create(&u->thr, NULL, uplink_main, u);
	if (rc)
		return -rc;
	u->running = true;
	return 0;
}

void pt_uplink_notify(void *arg)
{
	struct pt_uplink *u = arg;
	uint64_t one = 1;
	if (u && write(u->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("uplink: notify");
}

void pt_uplink_free(struct pt_uplink *u)
{
	if (!u)
		return;
	if (u->running) {
		uint64_t one = 1;
		u->stop = 1;
		if (write(u->stopfd, &one, sizeof(one)) < 0)
			log_warn("uplink: stop");
		pthread_join(u->thr, NULL);
	}
	pt_spool_cursor_free(&u->cur);
	pt_buf_free(&u->recs);
	pt_buf_free(&u->carry);
	free(u->scratch);
	free(u->out);
	ZSTD_freeCCtx(u->zc);
	if (u->ctx)
		SSL_CTX_free(u->ctx);
	SSL_CTX_free(u->next_ctx);
	free(u->ca);
	free(u->cert);
	free(u->key);
	free(u->user);
	pthread_mutex_destroy(&u->lock);
	if (u->efd >= 0)
		close(u->efd);
	if (u->stopfd >= 0)
		close(u->stopfd);
	for (unsigned i = 0; i < PT_UPLINK_COLLECTORS_MAX; i++)
		free(u->addrs[i]);
	free(u);
}

void pt_uplink_get_stats(struct pt_uplink *u, struct pt_uplink_stats *st)
{
	pthread_mutex_lock(&u->lock);
	*st = u->st;
	pthread_mutex_unlock(&u->lock);
}

int pt_uplink_reload_tls(struct pt_uplink *u, const char *ca, const char *cert, const char *key,
			 char *err, size_t errlen)
{
	char cn[PT_TLS_CN_MAX + 1];
	SSL_CTX *ctx = pt_tls_client_ctx(ca, cert, key, err, errlen);

	if (!ctx)
		return -EINVAL;
	/* The agent's name is fixed for the life of its stream: the collector keys it by name. */
	if (pt_tls_ctx_cn(ctx, cn, sizeof(cn)) < 0 || strcmp(cn, u->agent_name)) {
		snprintf(err, errlen, "%s names agent '%s', this agent is '%s'; restart to change it",
			 cert, pt_tls_ctx_cn(ctx, cn, sizeof(cn)) < 0 ? "?" : cn, u->agent_name);
		SSL_CTX_free(ctx);
		return -EINVAL;
	}
	char *nca = strdup(ca), *ncert = strdup(cert), *nkey = strdup(key);
	if (!nca || !ncert || !nkey) {
		free(nca);
		free(ncert);
		free(nkey);
		SSL_CTX_free(ctx);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	pthread_mutex_lock(&u->lock);
	SSL_CTX_free(u->next_ctx);
	u->next_ctx = ctx;
	free(u->ca);
	free(u->cert);
	free(u->key);
	u->ca = nca;
	u->cert = ncert;
	u->key = nkey;
	u->st.tls_reloads++;
	pthread_mutex_unlock(&u->lock);
	return 0;
}

void pt_uplink_agent_name(struct pt_uplink *u, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s", u->agent_name);
}
