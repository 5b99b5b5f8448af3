/* proctrail replay client: speaks the real agent protocol over real TLS 1.3, with synthetic
 * exec records instead of the kernel. The ingest benchmark and the collector's integration
 * tests use it as their agent.
 *
 *   replay --bundle DIR [--connect 127.0.0.1:7443] [--connections N] [--events N] [--batch N]
 *          [--window N] [--zstd] [--name NAME] [--stream ID] [--mode stream|pull]
 *          [--first-seq N] [--skip A-B] [--loss A-B] [--passes N] [--malformed]
 *          [--no-cert] [--no-pong] [--pace-ms N] [--verify-db FILE] [--timeout SEC]
 *          [--hostname TEXT] [--error-flood N] [--error-message TEXT] [--seed N]
 *          [--pong-flood] [--unknown BYTES [--unknown-zeros]] [--tree]
 *
 * Hostile modes (tests/integration/security_*.sh), after WELCOME instead of the records:
 * --pong-flood sends PONGs nobody asked for as fast as the connection takes them (with
 * --flood-type N, empty frames of type N instead);
 * --unknown BYTES sends one BATCH of records of an unknown type totalling BYTES (random
 * payload, raw when it fits a frame); with --unknown-zeros the payload is zeros, compressed
 * with zstd at its strongest (a decompression bomb).
 *
 * The ok line ends with the latency the collector gave: HELLO->WELCOME (the slowest
 * connection) and BATCH->ACK percentiles over every batch.
 *
 * --bundle is an enrollment directory (agent.crt, agent.key, ca.crt). With several
 * connections, connection i uses the bundle's certificate and --name (default: the bundle's
 * directory name) for all, each on its own stream (stream id + i), so the collector sees one
 * agent with many streams — enough load, one enrollment.
 *
 * --seed N makes the records (hashes, entity ids, times) the same on every run with that N,
 * so two collectors (SQLite and PostgreSQL) can be sent identical batches and compared.
 * --tree makes the execs one process tree: record i's parent is record (i - 1) / 2, so the
 * API's tree walk has ancestors and descendants to find.
 *
 * --hostname replaces the HELLO host name (default: the name); --error-flood sends N
 * ERROR(DISABLED) frames carrying --error-message after WELCOME, before the batches: a hostile
 * agent for the log-injection tests.
 *
 * Output: one "result:" line, e.g.
 *   result: ok connections=1 events=1000 acked=1000 seconds=0.12 events_per_sec=8333
 *   result: error code=2 message=...      (the collector sent ERROR)
 *   result: refused reason=...            (handshake or connection failed before WELCOME)
 * Exit status 0 only for "ok".
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <sqlite3.h>
#include <zstd.h>

#include "proctrail/clock.h"
#include "proctrail/tls.h"
#include "proctrail/wire.h"

#define POOL_RECORDS 4096
#define MAX_BATCH    PT_BATCH_RECORDS_MAX

struct opts {
	const char *bundle, *connect, *name, *verify_db, *mode, *hostname, *error_message;
	unsigned connections, batch, window, passes, timeout_s, pace_ms, error_flood;
	uint64_t events, stream, first_seq, skip_a, skip_b, loss_a, loss_b, seed;
	int zstd, malformed, no_cert, no_pong, pong_flood, unknown_zeros, flood_type, tree;
	uint64_t unknown_bytes;
};

enum cstate { C_HANDSHAKE, C_WELCOME, C_COLLECT, C_SENDING, C_DONE, C_FAILED };

struct replay;

struct rconn {
	struct replay *r;
	unsigned idx;
	struct bufferevent *bev;
	enum cstate st;
	uint64_t stream, next_seq, last_seq, acked, pass;
	unsigned inflight;
	struct event *pace_ev;
	double hello_t;
	double *sent_t;                /* ring of window entries: when each unACKed batch left */
	unsigned sent_head;
	uint64_t pongs_sent;
};

struct replay {
	struct opts o;
	struct event_base *base;
	SSL_CTX *ctx;
	struct rconn *c;
	unsigned done, failed;
	uint64_t acked_events;
	uint64_t rnd;                 /* --seed: the current splitmix64 word */
	double t_start, t_end;
	uint8_t *pool;                 /* POOL_RECORDS encoded exec records */
	uint32_t pool_off[POOL_RECORDS + 1];
	uint64_t t0;
	uint8_t *loss_rec;
	size_t loss_len;
	uint8_t *frame, *scratch;
	size_t frame_cap, scratch_cap;
	sqlite3 *db;
	char result[512];
	char name[PT_TLS_CN_MAX + 1];
	double welcome_ms_max;
	double *lat_ms;                /* BATCH->ACK of every batch */
	size_t n_lat, cap_lat;
};



static void set_result(struct replay *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_result(struct replay *r, const char *fmt, ...)
{
	va_list ap;

	if (r->result[0])
		return;          /* the first failure is the interesting one */
	va_start(ap, fmt);
	vsnprintf(r->result, sizeof(r->result), fmt, ap);
	va_end(ap);
}

/* Random bytes, or with --seed a fixed stream of them (splitmix64), so two runs send the same
 * records: a store compared with another must be given identical batches. */
static void fill_bytes(struct replay *r, uint8_t *p, size_t n)
{
	size_t i;

	if (!r->o.seed) {
		RAND_bytes(p, (int)n);
		return;
	}
	for (i = 0; i < n; i++) {
		uint64_t z;

		if (i % 8 == 0) {
			z = (r->o.seed += 0x9e3779b97f4a7c15ull);
			z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
			z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
			r->rnd = z ^ (z >> 31);
		}
		p[i] = (uint8_t)(r->rnd >> (8 * (i % 8)));
	}
}

/* Exec records that look like a busy build host: 64 binaries, varied argv. */
static int build_pool(struct replay *r)
{
	static const char *const bins[] = { "/usr/bin/cc", "/usr/bin/ld", "/usr/bin/make",
		"/usr/bin/sh", "/usr/bin/sed", "/usr/bin/awk", "/usr/bin/grep", "/usr/bin/cat" };
	size_t cap = (size_t)POOL_RECORDS * 1024, i;
	struct pt_writer w;
	/* with --seed, a fixed clock too (2023-11-14) */
	uint64_t t = r->o.seed ? 1700000000ull * 1000000000ull : pt_real_ns();
	uint8_t shas[64][PT_SHA256_LEN];
	static uint8_t ents[POOL_RECORDS][PT_ENTITY_ID_LEN];

	r->pool = malloc(cap);
	if (!r->pool)
		return -ENOMEM;
	fill_bytes(r, &shas[0][0], sizeof(shas));
	pt_writer_init(&w, r->pool, cap);
	for (i = 0; i < POOL_RECORDS; i++) {
		char path[64], argv[256];
		int alen = snprintf(argv, sizeof(argv), "%s%c-O2%c-c%cfile%zu.c%c-o%cfile%zu.o%c",
				    bins[i % 8], 0, 0, 0, i, 0, 0, i, 0);
		struct pt_record rec = { .type = PT_REC_PROCESS_EXEC, .version = 1 };
		struct pt_exec *e = &rec.u.exec;

		snprintf(path, sizeof(path), "%s", bins[i % 8]);
		e->time_ns = t + i * 1000;
		e->start_ns = i * 1000;
		e->pid = 10000 + (uint32_t)i;
		e->tid = e->pid;
		e->ppid = 9999;
		fill_bytes(r, e->entity_id, PT_ENTITY_ID_LEN);
		fill_bytes(r, e->parent_entity_id, PT_ENTITY_ID_LEN);
		memcpy(ents[i], e->entity_id, PT_ENTITY_ID_LEN);
		if (r->o.tree && i > 0) {
			memcpy(e->parent_entity_id, ents[(i - 1) / 2], PT_ENTITY_ID_LEN);
			e->ppid = 10000 + (uint32_t)((i - 1) / 2);
		}
		e->uid = e->euid = e->gid = e->egid = 1000;
		e->path = (struct pt_str){ path, (uint32_t)strlen(path) };
		e->cwd = (struct pt_str){ "/home/build/src", 15 };
		e->comm = (struct pt_str){ path + 9, (uint32_t)strlen(path + 9) };
		e->argv = (struct pt_str){ argv, (uint32_t)alen };
		e->args_count = 6;
		e->mode = 0100755;
		e->dev = 0x801;
		e->ino = 1000 + i % 64;
		e->size = 100000 + i % 64;
		memcpy(e->sha256, shas[i % 64], PT_SHA256_LEN);
		e->hash_status = PT_HASH_OK;
		r->pool_off[i] = (uint32_t)w.len;
		if (pt_record_encode(&w, &rec))
			return -EINVAL;
	}
	r->pool_off[POOL_RECORDS] = (uint32_t)w.len;
	r->t0 = t;
	if (pt_be16_get(r->pool + PT_RECORD_HDR_LEN) != PT_EXEC_TIME_NS ||
	    pt_be16_get(r->pool + PT_RECORD_HDR_LEN + 2) != 8)
		return -EINVAL;      /* the encoder's attribute order changed: fix fill_records */
	if (r->o.loss_b) {
		struct pt_record rec = { .type = PT_REC_LOSS, .version = 1 };

		rec.u.loss = (struct pt_loss){ .time_ns = t, .counter = PT_LOSS_SPOOL_CORRUPT,
			.count = r->o.loss_b - r->o.loss_a + 1, .first_seq = r->o.loss_a,
			.last_seq = r->o.loss_b, .has_seq_range = true };
		r->loss_rec = malloc(256);
		pt_writer_init(&w, r->loss_rec, 256);
		if (!r->loss_rec || pt_record_encode(&w, &rec))
			return -EINVAL;
		r->loss_len = w.len;
	}
	return 0;
}

static void conn_finish(struct rconn *c, enum cstate st)
{
	struct replay *r = c->r;

	if (c->st == C_DONE || c->st == C_FAILED)
		return;
	c->st = st;
	if (st == C_DONE)
		r->done++;
	else
		r->failed++;
	if (c->bev) {
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	if (r->done + r->failed == r->o.connections) {
		r->t_end = pt_mono_s();
		event_base_loopexit(r->base, NULL);
	}
}

static void send_buf(struct rconn *c, const struct pt_writer *w)
{
	bufferevent_write(c->bev, w->buf, w->len);
}

static void send_hello(struct rconn *c)
{
	struct replay *r = c->r;
	uint8_t buf[1024];
	struct pt_writer w;
	struct pt_hello h = {
		.version = { "replay-0.1", 10 },
		.hostname = { r->name, (uint32_t)strlen(r->name) },
		.agent_name = { r->name, (uint32_t)strlen(r->name) },
		.stream_id = c->stream,
		.first_seq = r->o.first_seq,
		.next_seq = r->o.first_seq + r->o.events + (r->o.loss_b ? 1 : 0),
		.mode = strcmp(r->o.mode, "pull") ? PT_MODE_STREAM : PT_MODE_PULL,
	};

	if (r->o.name)
		h.agent_name = (struct pt_str){ r->o.name, (uint32_t)strlen(r->o.name) };
	if (r->o.hostname)
		h.hostname = (struct pt_str){ r->o.hostname, (uint32_t)strlen(r->o.hostname) };
	pt_writer_init(&w, buf, sizeof(buf));
	if (pt_hello_encode(&w, &h) == 0)
		send_buf(c, &w);
	c->hello_t = pt_mono_s();
	c->st = C_WELCOME;
}

/* Fills records seq..seq+n-1 from the pool; the LOSS record, if any, is the stream's last. */
static size_t fill_records(struct replay *r, uint8_t *out, uint64_t seq, uint32_t n)
{
	size_t len = 0;
	uint32_t i;

	for (i = 0; i < n; i++, seq++) {
		uint64_t rel = seq - r->o.first_seq;

		if (r->loss_len && rel == r->o.events) {
			memcpy(out + len, r->loss_rec, r->loss_len);
			len += r->loss_len;
			continue;
		}
		uint32_t k = (uint32_t)(rel % POOL_RECORDS);
		uint32_t l = r->pool_off[k + 1] - r->pool_off[k];

		memcpy(out + len, r->pool + r->pool_off[k], l);
		/* Time moves forward with the sequence, as on a real host: the exec record's
		 * first attribute is its u64 time (checked when the pool was built). */
		pt_be64_put(out + len + PT_RECORD_HDR_LEN + PT_ATTR_HDR_LEN, r->t0 + seq * 1000);
		len += l;
	}
	return len;
}

static void pump(struct rconn *c)
{
	struct replay *r = c->r;
	uint8_t *records = r->scratch + ZSTD_compressBound(PT_BATCH_RAW_MAX);

	if (r->o.pace_ms && evtimer_pending(c->pace_ev, NULL))
		return;

	while (c->st == C_SENDING && c->inflight < r->o.window && c->next_seq <= c->last_seq) {
		uint64_t n = c->last_seq - c->next_seq + 1;
		struct pt_writer w;
		size_t len;

		/* The skipped range is never sent: a gap the collector must notice. */
		if (r->o.skip_b && c->next_seq >= r->o.skip_a && c->next_seq <= r->o.skip_b) {
			c->next_seq = r->o.skip_b + 1;
			continue;
		}
		if (r->o.skip_b && c->next_seq < r->o.skip_a && c->next_seq + n > r->o.skip_a)
			n = r->o.skip_a - c->next_seq;
		if (n > r->o.batch)
			n = r->o.batch;
		len = fill_records(r, records, c->next_seq, (uint32_t)n);
		pt_writer_init(&w, r->frame, r->frame_cap);
		if (pt_batch_encode(&w, c->stream, c->next_seq, (uint32_t)n, records, len,
				    r->o.zstd ? PT_CODEC_ZSTD : PT_CODEC_NONE, r->scratch,
				    ZSTD_compressBound(PT_BATCH_RAW_MAX))) {
			set_result(r, "result: failed reason=batch-encode");
			conn_finish(c, C_FAILED);
			return;
		}
		send_buf(c, &w);
		c->sent_t[(c->sent_head + c->inflight) % r->o.window] = pt_mono_s();
		c->next_seq += n;
		c->inflight++;
		if (r->o.pace_ms) {
			struct timeval tv = { r->o.pace_ms / 1000, (r->o.pace_ms % 1000) * 1000 };

			evtimer_add(c->pace_ev, &tv);
			return;
		}
	}
}

static void pace_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pump(arg);
}

static void read_cb(struct bufferevent *bev, void *arg);
static void event_cb(struct bufferevent *bev, short what, void *arg);

static void flood_cb(struct bufferevent *bev, void *arg)
{
	struct rconn *c = arg;
	uint8_t buf[256];
	struct pt_writer w;
	int i;

	pt_writer_init(&w, buf, sizeof(buf));
	if (c->r->o.flood_type) {
		/* A frame of a type no collector knows: skipped, costs it no store work. */
		static const uint8_t hdr[12] = { 0x50, 0x54, PT_WIRE_VERSION, 0, 0, 0, 0, 4 };

		memcpy(buf, hdr, sizeof(hdr));
		buf[3] = (uint8_t)c->r->o.flood_type;
		w.len = sizeof(hdr);
	} else if (pt_pong_encode(&w, &(struct pt_pong){ .nonce = 1 })) {
		return;
	}
	for (i = 0; i < 1024; i++)
		bufferevent_write(bev, w.buf, w.len);
	c->pongs_sent += 1024;
}

static void put_attr(uint8_t **p, uint16_t type, uint64_t v, unsigned len)
{
	pt_be16_put(*p, type);
	pt_be16_put(*p + 2, (uint16_t)len);
	for (unsigned i = 0; i < len; i++)
		(*p)[4 + i] = (uint8_t)(v >> (8 * (len - 1 - i)));
	*p += 4 + len;
}

/* One BATCH of records of a type no collector knows (0x7fff), built by hand: the encoder
 * would refuse to compress past the ratio bound, which is what the collector must check. */
static int send_unknown(struct rconn *c, uint64_t from)
{
	struct replay *r = c->r;
	uint8_t *records = r->scratch + ZSTD_compressBound(PT_BATCH_RAW_MAX), *body = r->scratch;
	size_t rec_len = 512, n = r->o.unknown_bytes / rec_len, len = n * rec_len, blen, i;
	uint8_t codec = PT_CODEC_ZSTD, *p;

	if (!n || n > PT_BATCH_RECORDS_MAX || len > PT_BATCH_RAW_MAX)
		return -EMSGSIZE;
	for (i = 0; i < n; i++) {
		uint8_t *q = records + i * rec_len;

		if (r->o.unknown_zeros)
			memset(q, 0, rec_len);
		else
			RAND_bytes(q, (int)rec_len);
		pt_be16_put(q, 0x7fff);
		q[2] = 1;
		q[3] = 0;
		pt_be32_put(q + 4, (uint32_t)(rec_len - PT_RECORD_HDR_LEN));
	}
	if (!r->o.unknown_zeros && len + 256 < r->frame_cap) {
		codec = PT_CODEC_NONE;
		body = records;
		blen = len;
	} else {
		blen = ZSTD_compress(body, ZSTD_compressBound(PT_BATCH_RAW_MAX), records, len, 19);
		if (ZSTD_isError(blen))
			return -EIO;
	}
	p = r->frame + PT_FRAME_HDR_LEN + 4;
	put_attr(&p, PT_BATCH_STREAM_ID, c->stream, 8);
	put_attr(&p, PT_BATCH_FIRST_SEQ, from, 8);
	put_attr(&p, PT_BATCH_COUNT, n, 4);
	put_attr(&p, PT_BATCH_CODEC, codec, 1);
	put_attr(&p, PT_BATCH_RAW_LEN, len, 4);
	pt_be32_put(r->frame + PT_FRAME_HDR_LEN, (uint32_t)(p - r->frame - PT_FRAME_HDR_LEN - 4));
	if ((size_t)(p - r->frame) + blen > r->frame_cap)
		return -EMSGSIZE;
	memcpy(p, body, blen);
	p += blen;
	r->frame[0] = 0x50;
	r->frame[1] = 0x54;
	r->frame[2] = PT_WIRE_VERSION;
	r->frame[3] = PT_FRAME_BATCH;
	pt_be32_put(r->frame + 4, (uint32_t)(p - r->frame - PT_FRAME_HDR_LEN));
	bufferevent_write(c->bev, r->frame, (size_t)(p - r->frame));
	fprintf(stderr, "replay: sent a BATCH of %zu unknown records, %zu bytes as %zu on the wire\n",
		n, len, blen);
	c->sent_t[c->sent_head % r->o.window] = pt_mono_s();
	c->next_seq = from + n;
	c->last_seq = c->next_seq - 1;
	c->inflight = 1;
	return 0;
}

static void start_sending(struct rconn *c, uint64_t from)
{
	struct replay *r = c->r;

	c->st = C_SENDING;
	c->next_seq = from;
	if (r->o.pong_flood) {
		/* Refilled whenever the collector took most of what was queued. */
		bufferevent_setwatermark(c->bev, EV_WRITE, 16384, 0);
		bufferevent_setcb(c->bev, read_cb, flood_cb, event_cb, c);
		flood_cb(c->bev, c);
		return;
	}
	if (r->o.unknown_bytes) {
		if (send_unknown(c, from)) {
			set_result(r, "result: failed reason=unknown-batch-encode");
			conn_finish(c, C_FAILED);
		}
		return;
	}
	if (r->o.malformed) {
		static const uint8_t junk[16] = "XX\x01\x03garbage!!";

		bufferevent_write(c->bev, junk, sizeof(junk));
		return;
	}
	for (unsigned i = 0; i < r->o.error_flood; i++) {
		const char *m = r->o.error_message ? r->o.error_message : "disabled";
		struct pt_error e = { .code = PT_ERR_DISABLED, .frame_type = PT_FRAME_POLICY,
				      .message = { m, (uint32_t)strlen(m) } };
		uint8_t buf[PT_MESSAGE_MAX + 256];
		struct pt_writer w;

		pt_writer_init(&w, buf, sizeof(buf));
		if (pt_error_encode(&w, &e) == 0)
			send_buf(c, &w);
	}
	r->o.error_flood = 0;   /* once, not again on a second pass */
	if (c->next_seq > c->last_seq) {
		conn_finish(c, C_DONE);
		return;
	}
	pump(c);
}

/* ACKed means committed: the rows must be visible to another reader right now. */
static int verify_acked(struct replay *r, struct rconn *c, uint64_t seq)
{
	sqlite3_stmt *st = NULL;
	sqlite3_int64 n = -1;
	uint64_t lo = r->o.first_seq, expect;

	if (!r->db)
		return 0;
	expect = seq - lo + 1;
	if (r->o.skip_b && seq >= r->o.skip_a)
		expect -= (seq < r->o.skip_b ? seq : r->o.skip_b) - r->o.skip_a + 1;
	if (sqlite3_prepare_v2(r->db, "SELECT count(*) FROM events e JOIN agents a ON a.id=e.agent"
				      " WHERE a.name=? AND e.stream_id=? AND e.seq BETWEEN ? AND ?",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, r->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)c->stream);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)lo);
		sqlite3_bind_int64(st, 4, (sqlite3_int64)seq);
		if (sqlite3_step(st) == SQLITE_ROW)
			n = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	if (n != (sqlite3_int64)expect) {
		set_result(r, "result: failed reason=ack-before-commit seq=%llu rows=%lld expected=%llu",
			   (unsigned long long)seq, (long long)n, (unsigned long long)expect);
		return -1;
	}
	return 0;
}

static void on_frame(struct rconn *c, const uint8_t *p, size_t len)
{
	struct replay *r = c->r;
	struct pt_frame f;
	struct pt_welcome wm;
	struct pt_ack a;
	struct pt_ping pg;
	struct pt_error e;
	uint8_t buf[256];
	struct pt_writer w;

	if (pt_frame_split(p, len, &f)) {
		set_result(r, "result: failed reason=bad-frame-from-collector");
		conn_finish(c, C_FAILED);
		return;
	}
	switch (f.type) {
	case PT_FRAME_WELCOME:
		if (c->st != C_WELCOME || pt_welcome_decode(&f, &wm, NULL))
			goto bad;
		if (r->t_start == 0)
			r->t_start = pt_mono_s();
		if ((pt_mono_s() - c->hello_t) * 1000 > r->welcome_ms_max)
			r->welcome_ms_max = (pt_mono_s() - c->hello_t) * 1000;
		/* Drop what the collector already holds, unless we were asked to resend it. */
		c->acked = wm.has_acked_seq ? wm.acked_seq : r->o.first_seq - 1;
		if (!strcmp(r->o.mode, "pull")) {
			c->st = C_COLLECT;
			return;
		}
		start_sending(c, r->o.passes > 1 ? r->o.first_seq :
			      (c->acked >= r->o.first_seq ? c->acked + 1 : r->o.first_seq));
		return;
	case PT_FRAME_COLLECT:
		if (c->st == C_COLLECT)
			start_sending(c, c->acked >= r->o.first_seq ? c->acked + 1 : r->o.first_seq);
		return;
	case PT_FRAME_ACK:
		if (c->st != C_SENDING || pt_ack_decode(&f, &a, NULL) || a.stream_id != c->stream ||
		    !c->inflight)
			goto bad;
		c->inflight--;
		if (r->n_lat < r->cap_lat)
			r->lat_ms[r->n_lat++] = (pt_mono_s() - c->sent_t[c->sent_head % r->o.window]) * 1000;
		c->sent_head++;
		if (verify_acked(r, c, a.seq)) {
			conn_finish(c, C_FAILED);
			return;
		}
		r->acked_events += a.seq >= c->acked ? a.seq - c->acked : 0;
		if (a.seq > c->acked)
			c->acked = a.seq;
		if (c->inflight == 0 && c->next_seq > c->last_seq) {
			if (++c->pass < r->o.passes) {
				start_sending(c, r->o.first_seq);   /* resend everything: dedup test */
				return;
			}
			conn_finish(c, C_DONE);
			return;
		}
		pump(c);
		return;
	case PT_FRAME_PING:
		if (pt_ping_decode(&f, &pg, NULL))
			goto bad;
		if (r->o.no_pong)       /* an agent that stopped answering: the collector marks it stale */
			return;
		pt_writer_init(&w, buf, sizeof(buf));
		if (pt_pong_encode(&w, &(struct pt_pong){ .nonce = pg.nonce, .next_seq = c->last_seq + 1,
							  .acked_seq = c->acked }) == 0)
			send_buf(c, &w);
		return;
	case PT_FRAME_ERROR:
		if (pt_error_decode(&f, &e, NULL))
			goto bad;
		set_result(r, "result: error code=%u message=%.*s", e.code, (int)e.message.len,
			   e.message.ptr);
		conn_finish(c, C_FAILED);
		return;
	default:
		return;
	}
bad:
	set_result(r, "result: failed reason=unexpected-frame type=%u", f.type);
	conn_finish(c, C_FAILED);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct rconn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct pt_frame_header h;
	uint8_t *p;
	size_t total;

	while (c->bev && evbuffer_get_length(in) >= PT_FRAME_HDR_LEN) {
		p = evbuffer_pullup(in, PT_FRAME_HDR_LEN);
		if (pt_frame_header_parse(p, PT_FRAME_HDR_LEN, PT_FRAME_MAX, &h)) {
			set_result(c->r, "result: failed reason=bad-header-from-collector");
			conn_finish(c, C_FAILED);
			return;
		}
		total = PT_FRAME_HDR_LEN + h.payload_len;
		if (evbuffer_get_length(in) < total)
			return;
		p = evbuffer_pullup(in, (ssize_t)total);
		on_frame(c, p, total);
		if (c->bev)
			evbuffer_drain(in, total);
	}
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct rconn *c = arg;
	struct replay *r = c->r;
	unsigned long e;
	char buf[256] = "";

	if (what & BEV_EVENT_CONNECTED) {
		int one = 1;

		setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		send_hello(c);
		return;
	}
	read_cb(bev, c);        /* an ERROR may have arrived with the close */
	if (!c->bev)
		return;
	while ((e = bufferevent_get_openssl_error(bev)))
		ERR_error_string_n(e, buf, sizeof(buf));
	if (c->st == C_HANDSHAKE || c->st == C_WELCOME)
		set_result(r, "result: refused reason=%s", buf[0] ? buf : "connection closed");
	else
		set_result(r, "result: failed reason=closed-by-collector %s", buf);
	conn_finish(c, C_FAILED);
}

static int connect_one(struct replay *r, struct rconn *c, struct sockaddr *sa, int salen)
{
	SSL *ssl = SSL_new(r->ctx);
	char host[64];
	const char *colon;

	if (!ssl)
		return -ENOMEM;
	colon = strrchr(r->o.connect, ':');
	snprintf(host, sizeof(host), "%.*s", (int)(colon - r->o.connect), r->o.connect);
	if (pt_tls_client_expect_host(ssl, host)) {
		SSL_free(ssl);
		return -EINVAL;
	}
	c->bev = bufferevent_openssl_socket_new(r->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
						BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev)
		return -ENOMEM;
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(c->bev, sa, salen) < 0)
		return -errno;
	return 0;
}

static void timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct replay *r = arg;

	(void)fd;
	(void)what;
	set_result(r, "result: failed reason=timeout done=%u failed=%u acked=%llu", r->done,
		   r->failed, (unsigned long long)r->acked_events);
	event_base_loopexit(r->base, NULL);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest rank of sorted v. */
static double percentile(const double *v, size_t n, unsigned pct)
{
	size_t k;

	if (!n)
		return 0;
	k = (n * pct + 99) / 100;
	return v[k ? k - 1 : 0];
}

static int parse_range(const char *s, uint64_t *a, uint64_t *b)
{
	unsigned long long x, y;

	if (sscanf(s, "%llu-%llu", &x, &y) != 2 || x == 0 || x > y)
		return -EINVAL;
	*a = x;
	*b = y;
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: replay --bundle DIR [--connect ADDR:PORT] [--connections N]"
			" [--events N] [--batch N] [--window N] [--zstd] [--name NAME] [--stream ID]"
			" [--mode stream|pull] [--first-seq N] [--skip A-B] [--loss A-B]"
			" [--passes N] [--malformed] [--no-cert] [--no-pong] [--pace-ms N] [--verify-db FILE] [--seed N] [--tree]"
		" [--hostname TEXT] [--error-flood N] [--error-message TEXT]"
			" [--timeout SEC] [--pong-flood] [--unknown BYTES [--unknown-zeros]]\n");
	exit(2);
}

static SSL_CTX *make_ctx(struct replay *r)
{
	char ca[1024], cert[1024], key[1024], err[512];
	SSL_CTX *ctx;

	snprintf(ca, sizeof(ca), "%s/ca.crt", r->o.bundle);
	snprintf(cert, sizeof(cert), "%s/agent.crt", r->o.bundle);
	snprintf(key, sizeof(key), "%s/agent.key", r->o.bundle);
	if (!r->o.no_cert) {
		ctx = pt_tls_client_ctx(ca, cert, key, err, sizeof(err));
		if (!ctx)
			fprintf(stderr, "replay: %s\n", err);
		return ctx;
	}
	/* A client that presents no certificate at all, but is otherwise correct. */
	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx && (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
		    !SSL_CTX_load_verify_locations(ctx, ca, NULL))) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	return ctx;
}

int main(int argc, char **argv)
{
	struct replay r = { 0 };
	struct sockaddr_storage ss;
	struct event *tev;
	struct timeval tv;
	int salen = sizeof(ss), a, ret = 1;
	unsigned i;
	const char *slash;

	r.o = (struct opts){ .connect = "127.0.0.1:7443", .connections = 1, .events = 1000,
		.batch = 1000, .window = 4, .passes = 1, .timeout_s = 120, .first_seq = 1,
		.mode = "stream" };
	for (a = 1; a < argc; a++) {
		const char *k = argv[a], *v = a + 1 < argc ? argv[a + 1] : NULL;

		if (!strcmp(k, "--zstd")) { r.o.zstd = 1; continue; }
		if (!strcmp(k, "--malformed")) { r.o.malformed = 1; continue; }
		if (!strcmp(k, "--no-cert")) { r.o.no_cert = 1; continue; }
		if (!strcmp(k, "--no-pong")) { r.o.no_pong = 1; continue; }
		if (!strcmp(k, "--pong-flood")) { r.o.pong_flood = 1; continue; }
		if (!strcmp(k, "--unknown-zeros")) { r.o.unknown_zeros = 1; continue; }
		if (!strcmp(k, "--tree")) { r.o.tree = 1; continue; }
		if (!v)
			usage();
		a++;
		if (!strcmp(k, "--bundle")) r.o.bundle = v;
		else if (!strcmp(k, "--connect")) r.o.connect = v;
		else if (!strcmp(k, "--name")) r.o.name = v;
		else if (!strcmp(k, "--verify-db")) r.o.verify_db = v;
		else if (!strcmp(k, "--mode")) r.o.mode = v;
		else if (!strcmp(k, "--hostname")) r.o.hostname = v;
		else if (!strcmp(k, "--error-message")) r.o.error_message = v;
		else if (!strcmp(k, "--error-flood")) r.o.error_flood = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(k, "--connections")) r.o.connections = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(k, "--events")) r.o.events = strtoull(v, NULL, 10);
		else if (!strcmp(k, "--batch")) r.o.batch = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(k, "--window")) r.o.window = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(k, "--passes")) r.o.passes = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(k, "--timeout")) r.o.timeout_s = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(k, "--pace-ms")) r.o.pace_ms = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(k, "--flood-type")) { r.o.flood_type = atoi(v); r.o.pong_flood = 1; }
		else if (!strcmp(k, "--unknown")) r.o.unknown_bytes = strtoull(v, NULL, 10);
		else if (!strcmp(k, "--stream")) r.o.stream = strtoull(v, NULL, 10);
		else if (!strcmp(k, "--first-seq")) r.o.first_seq = strtoull(v, NULL, 10);
		else if (!strcmp(k, "--seed")) r.o.seed = strtoull(v, NULL, 10);
		else if (!strcmp(k, "--skip")) { if (parse_range(v, &r.o.skip_a, &r.o.skip_b)) usage(); }
		else if (!strcmp(k, "--loss")) { if (parse_range(v, &r.o.loss_a, &r.o.loss_b)) usage(); }
		else usage();
	}
	if (!r.o.bundle || !r.o.connections || !r.o.events || !r.o.batch || !r.o.window ||
	    r.o.batch > MAX_BATCH || !r.o.first_seq || !r.o.passes)
		usage();
	slash = strrchr(r.o.bundle, '/');
	snprintf(r.name, sizeof(r.name), "%s", slash && slash[1] ? slash + 1 : r.o.bundle);
	if (r.o.name)
		snprintf(r.name, sizeof(r.name), "%s", r.o.name);
	if (!r.o.stream) {
		RAND_bytes((uint8_t *)&r.o.stream, sizeof(r.o.stream));
		r.o.stream = (r.o.stream >> 2) + 1;    /* positive when stored as int64 */
	}
	signal(SIGPIPE, SIG_IGN);
	if (build_pool(&r)) {
		fprintf(stderr, "replay: cannot build records\n");
		return 2;
	}
	r.frame_cap = PT_FRAME_MAX;
	r.scratch_cap = ZSTD_compressBound(PT_BATCH_RAW_MAX) + PT_BATCH_RAW_MAX;
	r.frame = malloc(r.frame_cap);
	r.scratch = malloc(r.scratch_cap);
	r.ctx = make_ctx(&r);
	r.base = event_base_new();
	r.c = calloc(r.o.connections, sizeof(*r.c));
	r.cap_lat = (size_t)r.o.connections * r.o.passes * (r.o.events / r.o.batch + 2);
	r.lat_ms = calloc(r.cap_lat, sizeof(*r.lat_ms));
	if (!r.frame || !r.scratch || !r.ctx || !r.base || !r.c || !r.lat_ms) {
		fprintf(stderr, "replay: setup failed\n");
		return 2;
	}
	if (r.o.verify_db && sqlite3_open_v2(r.o.verify_db, &r.db, SQLITE_OPEN_READONLY, NULL)) {
		fprintf(stderr, "replay: %s: %s\n", r.o.verify_db, sqlite3_errmsg(r.db));
		return 2;
	}
	if (evutil_parse_sockaddr_port(r.o.connect, (struct sockaddr *)&ss, &salen) < 0) {
		fprintf(stderr, "replay: --connect %s: expected ADDR:PORT\n", r.o.connect);
		return 2;
	}
	for (i = 0; i < r.o.connections; i++) {
		struct rconn *c = &r.c[i];

		c->r = &r;
		c->idx = i;
		c->stream = r.o.stream + i;
		c->last_seq = r.o.first_seq + r.o.events - 1 + (r.o.loss_b ? 1 : 0);
		c->pace_ev = evtimer_new(r.base, pace_cb, c);
		c->sent_t = calloc(r.o.window, sizeof(*c->sent_t));
		if (!c->sent_t) {
			fprintf(stderr, "replay: out of memory\n");
			return 2;
		}
		if (connect_one(&r, c, (struct sockaddr *)&ss, salen)) {
			fprintf(stderr, "replay: connection %u could not start\n", i);
			return 2;
		}
	}
	tv.tv_sec = r.o.timeout_s;
	tv.tv_usec = 0;
	tev = evtimer_new(r.base, timeout_cb, &r);
	evtimer_add(tev, &tv);
	event_base_dispatch(r.base);
	if (r.failed == 0 && r.done == r.o.connections) {
		double secs = r.t_end - r.t_start;

		qsort(r.lat_ms, r.n_lat, sizeof(*r.lat_ms), cmp_double);
		printf("result: ok connections=%u events=%llu acked=%llu seconds=%.3f events_per_sec=%.0f"
		       " welcome_ms=%.1f ack_p50_ms=%.1f ack_p99_ms=%.1f ack_max_ms=%.1f\n",
		       r.o.connections, (unsigned long long)(r.o.events * r.o.connections),
		       (unsigned long long)r.acked_events, secs,
		       secs > 0 ? (double)r.acked_events / secs : 0.0, r.welcome_ms_max,
		       percentile(r.lat_ms, r.n_lat, 50), percentile(r.lat_ms, r.n_lat, 99),
		       r.n_lat ? r.lat_ms[r.n_lat - 1] : 0.0);
		ret = 0;
	} else {
		printf("%s\n", r.result[0] ? r.result : "result: failed reason=unknown");
	}
	fflush(stdout);
	for (i = 0; i < r.o.connections; i++) {
		if (r.o.pong_flood)
			fprintf(stderr, "replay: connection %u sent %llu PONGs\n", i,
				(unsigned long long)r.c[i].pongs_sent);
		if (r.c[i].bev)
			bufferevent_free(r.c[i].bev);
		event_free(r.c[i].pace_ev);
		free(r.c[i].sent_t);
	}
	free(r.lat_ms);
	event_free(tev);
	event_base_free(r.base);
	SSL_CTX_free(r.ctx);
	sqlite3_close(r.db);
	free(r.c);
	free(r.frame);
	free(r.scratch);
	free(r.pool);
	free(r.loss_rec);
	return ret;
}
