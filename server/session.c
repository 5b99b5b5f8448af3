#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proctrail/escape.h"
#include "proctrail/log.h"
#include "proctrail/version.h"
#include "session.h"

#define SMALL_FRAME_MAX (PT_MESSAGE_MAX + 256)

struct pt_session *pt_session_new(const char *agent_id, const char *address,
				  const struct pt_session_ops *ops, void *io, void *ctx,
				  const struct pt_session_limits *lim, uint64_t now_ns)
{
	struct pt_session *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->refs = 1;
	s->state = PT_SESS_HELLO;
	s->ops = ops;
	s->io = io;
	s->ctx = ctx;
	s->lim = lim;
	snprintf(s->agent_id, sizeof(s->agent_id), "%s", agent_id);
	snprintf(s->address, sizeof(s->address), "%s", address);
	s->tok_records = (struct pt_bucket){ (int64_t)lim->records_per_s, now_ns };
	s->tok_bytes = (struct pt_bucket){ (int64_t)lim->bytes_per_s, now_ns };
	s->tok_frames = (struct pt_bucket){ (int64_t)lim->frames_per_s, now_ns };
	s->connected_ns = s->last_pong_ns = now_ns;
	return s;
}

void pt_session_ref(struct pt_session *s)
{
	s->refs++;
}

void pt_session_unref(struct pt_session *s)
{
	if (!s || --s->refs > 0)
		return;
	free(s);
}

static void send_frame(struct pt_session *s, const struct pt_writer *w)
{
	if (s->io && s->state != PT_SESS_CLOSED && !w->err)
		s->ops->send(s->io, w->buf, w->len);
}

static void close_session(struct pt_session *s)
{
	if (s->state == PT_SESS_CLOSED)
		return;
	s->state = PT_SESS_CLOSED;
	if (s->io)
		s->ops->close(s->io);
}

void pt_session_fail(struct pt_session *s, uint32_t code, uint8_t frame_type, const char *fmt, ...)
{
	uint8_t buf[SMALL_FRAME_MAX];
	char msg[PT_MESSAGE_MAX];
	struct pt_esc shown;   /* msg may quote the peer */
	struct pt_writer w;
	struct pt_error e = { .code = code, .frame_type = frame_type };
	va_list ap;

	if (s->state == PT_SESS_CLOSED)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("agent %s (%s): %s; closing the connection", s->agent_id, s->address,
		  pt_esc(&shown, msg, strlen(msg)));
	e.message.ptr = msg;
	e.message.len = (uint32_t)strlen(msg);
	pt_writer_init(&w, buf, sizeof(buf));
	if (pt_error_encode(&w, &e) == 0)
		send_frame(s, &w);
	close_session(s);
}

int pt_session_frame_len(struct pt_session *s, const uint8_t *buf, size_t avail, size_t *total)
{
	struct pt_frame_header h;
	int ret = pt_frame_header_parse(buf, avail, s->lim->max_frame, &h);

	if (ret == -EAGAIN)
		return ret;
	if (ret == -EMSGSIZE) {
		pt_session_fail(s, PT_ERR_LIMIT, buf[3], "frame of %u bytes over the limit of %u",
				PT_FRAME_HDR_LEN + pt_be32_get(buf + 4), s->lim->max_frame);
		return ret;
	}
	if (ret) {
		pt_session_fail(s, PT_ERR_PROTOCOL, 0, "bad frame header (magic or version)");
		return ret;
	}
	*total = PT_FRAME_HDR_LEN + (size_t)h.payload_len;
	return 0;
}

bool pt_session_wants_input(const struct pt_session *s)
{
	if (s->state == PT_SESS_HELLO)
		return true;
	return s->state == PT_SESS_READY && s->inflight < s->lim->window;
}

static struct pt_job *job_new(struct pt_session *s, enum pt_job_type type, uint64_t now_ns)
{
	struct pt_job *job = calloc(1, sizeof(*job));

	if (!job)
		return NULL;
	job->type = type;
	job->now_ns = now_ns;
	job->sess = s;
	job->agent = s->agent_row;
	job->bytes = sizeof(*job);
	pt_session_ref(s);
	return job;
}

static void str_copy(char *dst, size_t cap, struct pt_str src)
{
	size_t n = src.len < cap - 1 ? src.len : cap - 1;

	if (n)              /* an absent optional string is a NULL view */
		memcpy(dst, src.ptr, n);
	dst[n] = '\0';
}

static void peer_log_name(const struct pt_session *s, char *out, size_t cap)
{
	snprintf(out, cap, "agent %s (%s)", s->agent_id, s->address);
}

/* Lines an agent's frames trigger without ending its connection (ERROR(DISABLED), skipped
 * frames): it may send them as fast as it likes, so they share one limiter. */
static bool peer_log_allowed(struct pt_session *s)
{
	char what[PT_TLS_CN_MAX + 96];

	peer_log_name(s, what, sizeof(what));
	return log_ratelimit_allow(&s->peer_log, what);
}

static int on_hello(struct pt_session *s, const struct pt_frame *f, uint64_t now_ns)
{
	struct pt_hello m;
	struct pt_job *job;
	int ret = pt_hello_decode(f, &m, &s->stats);

	if (ret) {
		pt_session_fail(s, PT_ERR_PROTOCOL, f->type, "malformed HELLO (%s)", strerror(-ret));
		return ret;
	}
	/* Identity is the certificate's: a payload naming anyone else is refused outright. */
	if (m.agent_name.len != strlen(s->agent_id) ||
	    memcmp(m.agent_name.ptr, s->agent_id, m.agent_name.len)) {
		pt_session_fail(s, PT_ERR_IDENTITY, f->type,
				"HELLO names agent '%.*s' but the certificate is '%s'",
				(int)(m.agent_name.len > 64 ? 64 : m.agent_name.len), m.agent_name.ptr,
				s->agent_id);
		return -EPERM;
	}
	/* The host name and version are the agent's claims, shown to operators: text that could
	 * rewrite a terminal or a log line is refused, not stored (docs/security.md). */
	if (!pt_str_is_clean(m.hostname.ptr, m.hostname.len) ||
	    !pt_str_is_clean(m.version.ptr, m.version.len)) {
		pt_session_fail(s, PT_ERR_PROTOCOL, f->type,
				"HELLO host name or version is not printable UTF-8 text "
				"(control, bidi or invalid bytes)");
		return -EBADMSG;
	}
	if (m.first_seq == 0 || m.first_seq > m.next_seq) {
		pt_session_fail(s, PT_ERR_PROTOCOL, f->type,
				"HELLO sequence range [%llu, %llu) is invalid",
				(unsigned long long)m.first_seq, (unsigned long long)m.next_seq);
		return -EBADMSG;
	}
	job = job_new(s, PT_JOB_HELLO, now_ns);
	if (!job) {
		pt_session_fail(s, PT_ERR_INTERNAL, f->type, "out of memory");
		return -ENOMEM;
	}
	snprintf(job->agent_name, sizeof(job->agent_name), "%s", s->agent_id);
	str_copy(job->hostname, sizeof(job->hostname), m.hostname);
	str_copy(job->version, sizeof(job->version), m.version);
	snprintf(job->address, sizeof(job->address), "%s", s->address);
	memcpy(job->boot_id, m.boot_id, PT_BOOT_ID_LEN);
	job->hello = (struct pt_store_hello){
		.agent_name = job->agent_name, .hostname = job->hostname, .version = job->version,
		.address = job->address, .boot_id = job->boot_id, .stream_id = m.stream_id,
		.first_seq = m.first_seq, .next_seq = m.next_seq,
		.policy_version = m.policy_version, .mode = m.mode,
	};
	s->stream_id = m.stream_id;
	s->mode = m.mode;
	s->state = PT_SESS_WELCOME_WAIT;
	s->ops->submit(s->ctx, job);
	return 0;
}

/* Takes n tokens; returns how many ms until the bucket is positive again (0: it is). The
 * clock advances only by the time the granted tokens stand for, so frequent small charges
 * still refill (whole tokens only: a remainder would otherwise be lost at every call). */
static uint64_t bucket_take(struct pt_bucket *b, uint64_t rate, uint64_t n, uint64_t now_ns)
{
	uint64_t dt, add;

	if (!rate)
		return 0;
	dt = now_ns > b->ns ? now_ns - b->ns : 0;
	if (dt >= 1000000000ull) {
		b->tokens = (int64_t)rate;
		b->ns = now_ns;
	} else {
		add = (uint64_t)((unsigned __int128)dt * rate / 1000000000ull);
		b->tokens += (int64_t)add;
		b->ns += (uint64_t)((unsigned __int128)add * 1000000000ull / rate);
		if (b->tokens >= (int64_t)rate) {
			b->tokens = (int64_t)rate;
			b->ns = now_ns;
		}
	}
	b->tokens -= (int64_t)n;
	if (b->tokens >= 0)
		return 0;
	return (uint64_t)((unsigned __int128)(uint64_t)-b->tokens * 1000 / rate) + 1;
}

static void count(struct pt_session *s, enum pt_srv_counter c)
{
	s->srv_counters[c - PT_SRV_COUNTER_BASE]++;
}

/* Token buckets for frames, records and bytes: a frame may overdraw once, then the connection
 * is not read until every bucket is positive again, which TCP turns into back-pressure on that
 * agent alone. Every frame is charged, whatever its type. */
static int charge(struct pt_session *s, uint64_t records, uint64_t bytes, uint64_t now_ns)
{
	const struct pt_session_limits *l = s->lim;
	uint64_t wait_ms = 0, ms;
	const char *which = NULL;

	if ((ms = bucket_take(&s->tok_frames, l->frames_per_s, 1, now_ns)) > wait_ms)
		wait_ms = ms, which = "frames";
	if (l->frames_per_s && s->tok_frames.tokens + 1 >= (int64_t)l->frames_per_s)
		s->frames_over_ns = 0;       /* it was full: the agent stayed under the rate */
	else if (ms && !s->frames_over_ns)
		s->frames_over_ns = now_ns;
	if (s->frames_over_ns && now_ns - s->frames_over_ns >= PT_FRAME_FLOOD_NS) {
		count(s, PT_SRV_FLOOD_CLOSED);
		pt_session_fail(s, PT_ERR_LIMIT, 0, "over %llu frames/s for %llu s",
				(unsigned long long)l->frames_per_s,
				(unsigned long long)(PT_FRAME_FLOOD_NS / 1000000000ull));
		return -EMSGSIZE;
	}
	if ((ms = bucket_take(&s->tok_records, l->records_per_s, records, now_ns)) > wait_ms)
		wait_ms = ms, which = "records";
	if ((ms = bucket_take(&s->tok_bytes, l->bytes_per_s, bytes, now_ns)) > wait_ms)
		wait_ms = ms, which = "bytes";
	if (!wait_ms || !s->io || s->state == PT_SESS_CLOSED)
		return 0;
	count(s, PT_SRV_THROTTLED);
	if (!s->throttle_logged_ns || now_ns - s->throttle_logged_ns >= PT_THROTTLE_LOG_NS) {
		s->throttle_logged_ns = now_ns;
		log_info("agent %s (%s): over its %s/s limit; not read for %llu ms (%llu times so far)",
			 s->agent_id, s->address, which, (unsigned long long)wait_ms,
			 (unsigned long long)s->srv_counters[PT_SRV_THROTTLED - PT_SRV_COUNTER_BASE]);
	}
	s->ops->pause(s->io, wait_ms);
	return 0;
}

/* Sends the newest PONG and the collector's counters to the writer, unless a job of this kind
 * is there already (then job_done sends them): one such job per connection at most, however
 * fast PONGs come. final: the connection is gone; send what is left regardless. */
static void status_flush(struct pt_session *s, uint64_t now_ns, bool final)
{
	struct pt_job *job;
	size_t i;
	bool counters = false;

	if (!s->welcomed || (s->status_inflight && !final))
		return;
	for (i = 0; i < PT_SRV_COUNTER_END - PT_SRV_COUNTER_BASE; i++)
		counters |= s->srv_counters[i] != 0;
	if (!s->pong_pending && !counters)
		return;
	job = job_new(s, PT_JOB_PONG, s->pong_pending ? s->pong_next_ns : now_ns);
	if (!job)
		return;              /* kept for the next flush */
	if (s->pong_pending) {
		job->has_pong = true;
		job->pong = s->pong_next;
		s->pong_pending = false;
	}
	for (i = 0; i < PT_SRV_COUNTER_END - PT_SRV_COUNTER_BASE; i++) {
		if (!s->srv_counters[i])
			continue;
		job->counters[job->n_counters++] = (struct pt_store_counter){
			.id = PT_SRV_COUNTER_BASE + (uint32_t)i, .delta = s->srv_counters[i] };
		s->srv_counters[i] = 0;
	}
	s->status_inflight = true;
	s->ops->submit(s->ctx, job);
}

static void count_unknown(struct pt_job *job, uint16_t type)
{
	uint32_t id = PT_SRV_UNKNOWN_RECORD_BASE + type, i;

	for (i = 0; i < job->n_unknown; i++) {
		if (job->unknown[i].id == id) {
			job->unknown[i].delta++;
			return;
		}
	}
	if (job->n_unknown < PT_JOB_UNKNOWN_TYPES_MAX - 1) {
		job->unknown[job->n_unknown++] = (struct pt_store_counter){ id, 1 };
		return;
	}
	/* The last slot takes every further type. */
	if (job->n_unknown == PT_JOB_UNKNOWN_TYPES_MAX - 1)
		job->unknown[job->n_unknown++] = (struct pt_store_counter){ PT_SRV_UNKNOWN_RECORD_BASE, 0 };
	job->unknown[job->n_unknown - 1].delta++;
}

/* Decodes every record of the batch before anything is queued: a batch is stored whole or
 * not at all. */
static int decode_records(struct pt_session *s, struct pt_job *job, const struct pt_batch *m,
			  uint8_t **owned)
{
	const uint8_t *recs;
	size_t len, off = 0, used;
	struct pt_record r;
	uint32_t i, unknown_bytes = 0;
	int ret;

	if (m->codec == PT_CODEC_NONE && owned && *owned) {
		/* The frame is ours already: its body is the records, no copy. */
		job->raw = *owned;
		*owned = NULL;
		recs = m->body;
		len = m->body_len;
	} else if (m->codec == PT_CODEC_NONE) {
		job->raw = malloc(m->body_len ? m->body_len : 1);
		if (!job->raw)
			return -ENOMEM;
		memcpy(job->raw, m->body, m->body_len);
		recs = job->raw;
		len = m->body_len;
	} else {
		job->raw = malloc(m->raw_len ? m->raw_len : 1);
		if (!job->raw)
			return -ENOMEM;
		ret = pt_batch_records(m, job->raw, m->raw_len, &recs, &len);
		if (ret)
			return ret;
	}
	job->ev = calloc(m->count, sizeof(*job->ev));
	if (!job->ev)
		return -ENOMEM;
	job->bytes += len + (size_t)m->count * sizeof(*job->ev);
	for (i = 0; i < m->count; i++) {
		struct pt_store_event *ev = &job->ev[i];

		if (off >= len)
			return -EBADMSG;       /* fewer records than COUNT */
		ret = pt_record_decode(recs + off, len - off, &r, &used, &s->stats);
		if (ret)
			return ret;
		pt_store_event_from_record(ev, &r);
		ev->type = r.wire_type;      /* unknown types are kept, to be read by newer code */
		if (r.type == PT_REC_UNKNOWN) {
			unknown_bytes += (uint32_t)used;
			if (unknown_bytes > PT_BATCH_UNKNOWN_BYTES_MAX)
				return -E2BIG;
			count_unknown(job, r.wire_type);
		}
		if (r.type == PT_REC_PROCESS_EXEC && s->ops->detect &&
		    (ret = s->ops->detect(s->ctx, job, i, &r.u.exec)))
			return ret;
		ev->seq = m->first_seq + i;
		ev->off = (uint32_t)off;
		ev->len = (uint32_t)used;
		off += used;
	}
	if (off != len)
		return -EBADMSG;               /* more bytes than COUNT records */
	job->batch = (struct pt_store_batch){
		.agent = s->agent_row, .host = s->host_row, .stream_id = m->stream_id,
		.first_seq = m->first_seq, .count = m->count, .raw = recs, .raw_len = len,
		.ev = job->ev, .alerts = job->alerts, .n_alerts = job->n_alerts,
	};
	return 0;
}

static int on_batch(struct pt_session *s, const struct pt_frame *f, size_t frame_len,
		    uint64_t now_ns, uint8_t **owned)
{
	struct pt_batch m;
	struct pt_job *job = NULL;
	int ret = pt_batch_decode(f, &m, &s->stats);

	if (ret == -EMSGSIZE && (m.raw_len > PT_BATCH_RAW_MAX || m.count > PT_BATCH_RECORDS_MAX ||
				 (uint64_t)m.raw_len > (uint64_t)f->body_len * PT_BATCH_ZSTD_RATIO_MAX)) {
		/* Over a bound of the decompressed size (absolute or ratio) or of COUNT, from the
		 * header: nothing was allocated or inflated. */
		count(s, PT_SRV_BATCH_REFUSED);
		pt_session_fail(s, PT_ERR_LIMIT, f->type,
				"BATCH refused: RAW_LEN %u for a body of %zu bytes, COUNT %u"
				" (limits %u bytes, %ux, %u records)", m.raw_len, f->body_len, m.count,
				PT_BATCH_RAW_MAX, PT_BATCH_ZSTD_RATIO_MAX, PT_BATCH_RECORDS_MAX);
		goto out;
	}
	if (ret) {
		pt_session_fail(s, PT_ERR_PROTOCOL, f->type, "malformed BATCH (%s)", strerror(-ret));
		goto out;
	}
	if (m.stream_id != s->stream_id) {
		ret = -EBADMSG;
		pt_session_fail(s, PT_ERR_PROTOCOL, f->type,
				"BATCH for stream %llu on a connection for stream %llu",
				(unsigned long long)m.stream_id, (unsigned long long)s->stream_id);
		goto out;
	}
	job = job_new(s, PT_JOB_BATCH, now_ns);
	if (!job) {
		ret = -ENOMEM;
		pt_session_fail(s, PT_ERR_INTERNAL, f->type, "out of memory");
		goto out;
	}
	ret = decode_records(s, job, &m, owned);
	if (ret == -E2BIG) {
		count(s, PT_SRV_BATCH_REFUSED);
		pt_session_fail(s, PT_ERR_LIMIT, f->type,
				"BATCH %llu+%u refused: over %u bytes of records of unknown types",
				(unsigned long long)m.first_seq, m.count, PT_BATCH_UNKNOWN_BYTES_MAX);
		goto out;
	}
	if (ret) {
		pt_session_fail(s, ret == -ENOMEM ? PT_ERR_INTERNAL : PT_ERR_PROTOCOL, f->type,
				"BATCH %llu+%u refused: a record does not decode (%s)",
				(unsigned long long)m.first_seq, m.count, strerror(-ret));
		goto out;
	}
	s->inflight++;
	s->batches++;
	s->records += m.count;
	/* Bytes count decompressed: what the store and the writer pay for. */
	s->charge_records = m.count;
	s->charge_bytes = frame_len - m.body_len + (m.codec == PT_CODEC_NONE ? m.body_len : m.raw_len);
	s->ops->submit(s->ctx, job);
	job = NULL;
out:
	pt_job_free(job);
	return ret;
}

static int on_pong(struct pt_session *s, const struct pt_frame *f, uint64_t now_ns)
{
	struct pt_pong p;
	int ret = pt_pong_decode(f, &p, &s->stats);

	if (ret) {
		pt_session_fail(s, PT_ERR_PROTOCOL, f->type, "malformed PONG (%s)", strerror(-ret));
		return ret;
	}
	if (!s->pongs_owed) {
		/* Not an answer to a PING: ignored (nothing stored), counted, and bounded. */
		count(s, PT_SRV_PONG_FLOOD);
		if (++s->pongs_unsolicited > PT_PONG_UNSOLICITED_MAX) {
			pt_session_fail(s, PT_ERR_LIMIT, f->type,
					"more than %u PONGs without a PING", PT_PONG_UNSOLICITED_MAX);
			return -EMSGSIZE;
		}
		return 0;
	}
	s->pongs_owed--;
	if (p.nonce != s->ping_nonce && log_verbose() && peer_log_allowed(s))
		log_debug("agent %s: PONG for nonce %llu, expected %llu", s->agent_id,
			  (unsigned long long)p.nonce, (unsigned long long)s->ping_nonce);
	s->last_pong_ns = now_ns;
	s->ping_outstanding = false;
	s->stale = false;
	s->pong_next = p;
	s->pong_next_ns = now_ns;
	s->pong_pending = true;
	status_flush(s, now_ns, false);
	return 0;
}

static int on_policy_result(struct pt_session *s, const struct pt_frame *f)
{
	struct pt_policy_result r;
	char msg[PT_MESSAGE_MAX + 1];

	if (pt_policy_result_decode(f, &r, &s->stats)) {
		pt_session_fail(s, PT_ERR_PROTOCOL, f->type, "malformed POLICY_RESULT");
		return -EBADMSG;
	}
	memcpy(msg, r.message.ptr, r.message.len);
	msg[r.message.len] = 0;
	if (s->ops->policy_result)
		s->ops->policy_result(s->io, r.version, r.code, msg);
	return 0;
}

/* A chunk is charged like every frame (handle_frame: its whole length, body included). */
static int on_sample_data(struct pt_session *s, const struct pt_frame *f)
{
	struct pt_sample_data d;

	if (pt_sample_data_decode(f, &d, &s->stats)) {
		pt_session_fail(s, PT_ERR_PROTOCOL, f->type, "malformed SAMPLE_DATA");
		return -EBADMSG;
	}
	if (s->ops->sample_data)
		s->ops->sample_data(s->io, &d, false);
	return 0;
}

bool pt_session_send(struct pt_session *s, const uint8_t *frame, size_t len)
{
	if (s->state != PT_SESS_READY || !s->io)
		return false;
	s->ops->send(s->io, frame, len);
	return true;
}

static int on_error(struct pt_session *s, const struct pt_frame *f)
{
	struct pt_error e;

	if (pt_error_decode(f, &e, &s->stats)) {
		pt_session_fail(s, PT_ERR_PROTOCOL, f->type, "malformed ERROR");
		return -EBADMSG;
	}
	/* DISABLED refuses one command; the connection stays. Anything else ends it. */
	if (peer_log_allowed(s)) {
		struct pt_esc shown;

		log_warnx("agent %s (%s): ERROR %u: %s", s->agent_id, s->address, e.code,
			  pt_esc(&shown, e.message.ptr, e.message.len));
	}
	if (e.code == PT_ERR_DISABLED) {
		if (e.frame_type == PT_FRAME_POLICY && s->ops->policy_result)
			s->ops->policy_result(s->io, 0, PT_ERR_DISABLED,
					      "POLICY disabled by the agent's configuration");
		if (e.frame_type == PT_FRAME_SAMPLE_GET && s->ops->sample_data)
			s->ops->sample_data(s->io, NULL, true);
		return 0;
	}
	close_session(s);
	return -ECONNABORTED;
}

static int dispatch(struct pt_session *s, const uint8_t *frame, size_t len, uint64_t now_ns,
		    uint8_t **owned)
{
	struct pt_frame f;
	int ret;

	ret = pt_frame_split(frame, len, &f);
	if (ret) {
		pt_session_fail(s, PT_ERR_PROTOCOL, 0, "malformed frame (%s)", strerror(-ret));
		return ret;
	}
	if (s->state == PT_SESS_HELLO) {
		if (f.type != PT_FRAME_HELLO) {
			pt_session_fail(s, PT_ERR_PROTOCOL, f.type, "expected HELLO, got %s",
					pt_frame_type_name(f.type) ? pt_frame_type_name(f.type) : "?");
			return -EBADMSG;
		}
		return on_hello(s, &f, now_ns);
	}
	switch (f.type) {
	case PT_FRAME_BATCH:
		return on_batch(s, &f, len, now_ns, owned);
	case PT_FRAME_PONG:
		return on_pong(s, &f, now_ns);
	case PT_FRAME_ERROR:
		return on_error(s, &f);
	case PT_FRAME_POLICY_RESULT:
		return on_policy_result(s, &f);
	case PT_FRAME_SAMPLE_DATA:
		return on_sample_data(s, &f);
	case PT_FRAME_SAMPLE_GET:
	case PT_FRAME_HELLO:
	case PT_FRAME_WELCOME:
	case PT_FRAME_ACK:
	case PT_FRAME_PING:
	case PT_FRAME_COLLECT:
	case PT_FRAME_POLICY:
		break;
	default:
		/* A newer agent's frame type: skipped and counted (docs/wire-format.md). */
		s->stats.unknown_frames++;
		if (log_verbose() && peer_log_allowed(s))
			log_debug("agent %s: skipped unknown frame type %u", s->agent_id, f.type);
		return 0;
	}
	/* A collector's frame, or a second HELLO, coming from an agent. */
	pt_session_fail(s, PT_ERR_PROTOCOL, f.type, "unexpected %s frame from an agent",
			pt_frame_type_name(f.type));
	return -EBADMSG;
}

static int handle_frame(struct pt_session *s, const uint8_t *frame, size_t len, uint64_t now_ns,
			uint8_t **owned)
{
	int ret;

	if (s->state == PT_SESS_CLOSED)
		return -ECONNABORTED;
	s->charge_records = 0;
	s->charge_bytes = len;
	ret = dispatch(s, frame, len, now_ns, owned);
	if (!ret)
		ret = charge(s, s->charge_records, s->charge_bytes, now_ns);
	return ret;
}

int pt_session_frame(struct pt_session *s, const uint8_t *frame, size_t len, uint64_t now_ns)
{
	return handle_frame(s, frame, len, now_ns, NULL);
}

int pt_session_frame_take(struct pt_session *s, uint8_t *frame, size_t len, uint64_t now_ns)
{
	uint8_t *owned = frame;
	int ret = handle_frame(s, frame, len, now_ns, &owned);

	free(owned);          /* NULL when a batch job took it */
	return ret;
}

static void hello_done(struct pt_session *s, struct pt_job *job)
{
	uint8_t buf[SMALL_FRAME_MAX];
	struct pt_writer w;
	struct pt_welcome m = {
		.version = { PROCTRAIL_VERSION, sizeof(PROCTRAIL_VERSION) - 1 },
		.has_acked_seq = job->hello_res.has_acked,
		.acked_seq = job->hello_res.acked_seq,
		.ping_interval_ms = s->lim->ping_interval_ms,
	};

	if (job->ret) {
		pt_session_fail(s, PT_ERR_INTERNAL, PT_FRAME_HELLO, "store refused HELLO");
		return;
	}
	s->agent_row = job->hello_res.agent;
	s->host_row = job->hello_res.host;
	pt_writer_init(&w, buf, sizeof(buf));
	if (pt_welcome_encode(&w, &m)) {
		pt_session_fail(s, PT_ERR_INTERNAL, PT_FRAME_HELLO, "cannot encode WELCOME");
		return;
	}
	send_frame(s, &w);
	s->state = PT_SESS_READY;
	if (job->hello_res.regressed)
		log_warnx("agent %s (%s): stream %llu went back: the agent numbers its next record "
			  "%llu but %llu are stored (an old snapshot of its spool, or a copied one); "
			  "what it numbers <= %llu counts as duplicate, not stored",
			  s->agent_id, s->address, (unsigned long long)s->stream_id,
			  (unsigned long long)job->hello.next_seq,
			  (unsigned long long)job->hello_res.acked_seq,
			  (unsigned long long)job->hello_res.acked_seq);
	s->welcomed = true;
	if (s->ops->ready)
		s->ops->ready(s->io);
	log_info("agent %s (%s) connected: stream %llu, %s mode, collector holds up to %llu",
		 s->agent_id, s->address, (unsigned long long)s->stream_id,
		 s->mode == PT_MODE_PULL ? "pull" : "stream",
		 (unsigned long long)job->hello_res.acked_seq);
}

static void batch_done(struct pt_session *s, struct pt_job *job)
{
	uint8_t buf[128];
	struct pt_writer w;
	struct pt_ack a = {
		.stream_id = job->batch.stream_id,
		.seq = job->batch.first_seq + job->batch.count - 1,
	};

	s->inflight--;
	if (job->ret) {
		pt_session_fail(s, PT_ERR_INTERNAL, PT_FRAME_BATCH,
				"BATCH %llu+%u could not be stored; not acknowledged",
				(unsigned long long)job->batch.first_seq, job->batch.count);
		return;
	}
	pt_writer_init(&w, buf, sizeof(buf));
	if (pt_ack_encode(&w, &a) == 0)
		send_frame(s, &w);
}

void pt_session_job_done(struct pt_job *job)
{
	struct pt_session *s = job->sess;

	if (job->type == PT_JOB_PONG) {
		s->status_inflight = false;
		if (s->io)           /* after detach, the final flush went already */
			status_flush(s, job->now_ns, false);
	}
	if (s->state != PT_SESS_CLOSED) {
		if (job->type == PT_JOB_HELLO)
			hello_done(s, job);
		else if (job->type == PT_JOB_BATCH)
			batch_done(s, job);
		if (s->io && pt_session_wants_input(s))
			s->ops->resume(s->io);
	}
	pt_job_free(job);
}

static void send_nonce(struct pt_session *s, uint8_t type, uint64_t nonce)
{
	uint8_t buf[64];
	struct pt_writer w;
	int ret;

	pt_writer_init(&w, buf, sizeof(buf));
	if (type == PT_FRAME_PING)
		ret = pt_ping_encode(&w, &(struct pt_ping){ .nonce = nonce });
	else
		ret = pt_collect_encode(&w, &(struct pt_collect){ .nonce = nonce });
	if (!ret)
		send_frame(s, &w);
}

void pt_session_ping(struct pt_session *s, uint64_t now_ns)
{
	uint64_t limit = 3ull * s->lim->ping_interval_ms * 1000000ull;
	struct pt_job *job;

	if (s->state != PT_SESS_READY)
		return;
	if (!s->stale && now_ns - s->last_pong_ns > limit) {
		s->stale = true;
		log_warnx("agent %s (%s): no PONG for %llu s, marked stale", s->agent_id, s->address,
			  (unsigned long long)((now_ns - s->last_pong_ns) / 1000000000ull));
		job = job_new(s, PT_JOB_HEALTH, now_ns);
		if (job) {
			job->health = "stale";
			s->ops->submit(s->ctx, job);
		}
	}
	status_flush(s, now_ns, false);  /* counters of a connection that sends no PONG */
	s->ping_nonce++;
	s->ping_outstanding = true;
	if (s->pongs_owed < PT_PONG_OWED_MAX)
		s->pongs_owed++;
	send_nonce(s, PT_FRAME_PING, s->ping_nonce);
}

void pt_session_collect(struct pt_session *s, uint64_t now_ns)
{
	(void)now_ns;
	if (s->state == PT_SESS_READY && s->mode == PT_MODE_PULL)
		send_nonce(s, PT_FRAME_COLLECT, ++s->ping_nonce);
}

void pt_session_detach(struct pt_session *s, uint64_t now_ns)
{
	struct pt_job *job;
	char what[PT_TLS_CN_MAX + 96];

	peer_log_name(s, what, sizeof(what));
	log_ratelimit_flush(&s->peer_log, what);
	s->state = PT_SESS_CLOSED;
	s->io = NULL;
	status_flush(s, now_ns, true);
	if (s->agent_row) {
		job = job_new(s, PT_JOB_HEALTH, now_ns);
		if (job) {
			job->health = "disconnected";
			s->ops->submit(s->ctx, job);
		}
	}
}
