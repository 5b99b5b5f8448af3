/* proctrail load generator: N simulated agents, each with its own certificate issued on the
 * fly by the deployment's CA (HOME/pki/ca.key, a test CA), each on its own connection from one
 * of K loopback source addresses (127.0.0.0/8: no ephemeral port exhaustion), sending exec and
 * exit records at a fleet-wide rate, then checking the database: every acknowledged record
 * stored exactly once.
 *
 *   loadgen --home HOME --connect 127.0.0.1:PORT --agents N [--rate EV/S] [--seconds S]
 *           [--batch N] [--sources K] [--prefix NAME] [--verify-db FILE] [--hold S]
 *           [--connect-rate N/S] [--binaries N]
 *
 * Connections that fail before WELCOME (a busy collector's handshake timeout or full pool) are
 * retried, as agents do, after 1..6 s, up to 40 times; the count is printed.
 *
 * Records: each exec is followed by its exit. Binaries follow a Zipf law (s = 1.1) over
 * --binaries paths with fixed hashes (a few are everywhere, most are rare), plus one binary per
 * agent that only it runs: the prevalence a fleet shows.
 *
 * Output: "connected N agents in S s", then after the run one line:
 *   result: ok agents=N events=E acked=E seconds=S events_per_sec=R ack_p50_ms=.. ack_p99_ms=..
 *   [verified=E duplicates=0 missing=0]
 * --hold S keeps every connection open S seconds once all connected (for measuring the
 * collector's memory per agent), printing "holding" when it starts. Exit 0 only for ok. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <sqlite3.h>
#include <zstd.h>

#include "proctrail/clock.h"
#include "proctrail/tls.h"
#include "proctrail/wire.h"

#define WINDOW 4u

struct lg;

struct lconn {
	struct lg *g;
	unsigned idx;
	char name[40];
	struct bufferevent *bev;
	X509 *cert;
	int st;                        /* 0 connecting, 1 welcome wait, 2 ready, 3 failed */
	uint64_t stream, next_seq, acked;
	unsigned inflight;
	double sent_t[WINDOW];
	unsigned head;
	unsigned attempts;             /* connections tried before WELCOME */
	double retry_at;
};

struct lg {
	const char *home, *connect, *prefix, *verify_db;
	unsigned agents, batch, sources, seconds, hold, binaries, connect_rate;
	double rate;
	struct event_base *base;
	SSL_CTX *ctx;
	EVP_PKEY *key;
	X509 *ca;
	EVP_PKEY *ca_key;
	struct lconn *c;
	unsigned started, ready, failed, retries;
	unsigned *retry_q, retry_head, retry_n;   /* agents to reconnect, in order */
	uint64_t sent, acked;
	double t_connected, t_run, t_end, budget;
	uint8_t (*sha)[PT_SHA256_LEN];
	double *zipf_cdf;
	uint8_t *frame, *scratch, *records;
	size_t frame_cap, scratch_cap;
	double *lat;
	size_t nlat, caplat;
	struct sockaddr_in dst;
	struct event *tick;
	char why[256];
	int phase;                     /* 0 connecting, 1 holding, 2 running, 3 draining */
};

static int mint(struct lg *g, struct lconn *c)
{
	X509 *x = X509_new();
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	static const struct { int nid; const char *v; } exts[] = {
		{ NID_basic_constraints, "critical,CA:FALSE" },
		{ NID_key_usage, "critical,digitalSignature" },
		{ NID_ext_key_usage, "clientAuth" },
	};
	unsigned char serial[16];
	BIGNUM *bn;

	if (!x)
		return -ENOMEM;
	RAND_bytes(serial, sizeof(serial));
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
	BN_free(bn);
	X509_set_version(x, 2);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, g->key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_UTF8,
				   (const unsigned char *)c->name, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(g->ca));
	X509V3_set_ctx(&v3, g->ca, x, NULL, NULL, 0);
	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		ext = X509V3_EXT_conf_nid(NULL, &v3, exts[i].nid, exts[i].v);
		if (!ext || !X509_add_ext(x, ext, -1)) {
			X509_EXTENSION_free(ext);
			X509_free(x);
			return -EINVAL;
		}
		X509_EXTENSION_free(ext);
	}
	if (!X509_sign(x, g->ca_key, EVP_sha256())) {
		X509_free(x);
		return -EINVAL;
	}
	c->cert = x;
	return 0;
}

static uint32_t zipf_pick(struct lg *g)
{
	uint32_t r;
	double u;
	size_t lo = 0, hi = g->binaries - 1;

	RAND_bytes((unsigned char *)&r, sizeof(r));
	u = r / 4294967296.0;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (g->zipf_cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (uint32_t)lo;
}

/* One exec (even seq) or the exit of the exec before it (odd seq). */
static int encode_rec(struct lg *g, struct lconn *c, uint64_t seq, struct pt_writer *w)
{
	struct pt_record rec = { .version = 1 };
	uint64_t now = pt_real_ns();
	uint32_t pid = 1000 + (uint32_t)(seq / 2 % 4000000);
	uint8_t ent[PT_ENTITY_ID_LEN] = { 0 };
	char path[64], argv[96];
	uint32_t b;

	memcpy(ent, &c->idx, sizeof(c->idx));
	memcpy(ent + 4, &pid, sizeof(pid));
	if (seq % 2 == 1) {
		rec.type = PT_REC_PROCESS_EXIT;
		rec.u.exit = (struct pt_exit){ .time_ns = now, .start_ns = now - 1000000, .pid = pid,
					       .comm = { "proc", 4 } };
		memcpy(rec.u.exit.entity_id, ent, PT_ENTITY_ID_LEN);
		return pt_record_encode(w, &rec);
	}
	/* one exec in 50 is of the agent's own binary: the rare tail */
	b = seq % 100 == 0 ? g->binaries + c->idx : zipf_pick(g);
	if (b >= g->binaries)
		snprintf(path, sizeof(path), "/opt/%s/bin/tool", c->name);
	else
		snprintf(path, sizeof(path), "/usr/bin/prog%05u", b);
	int alen = snprintf(argv, sizeof(argv), "%s%c--run%c%llu", path, 0, 0,
			    (unsigned long long)seq) + 1;
	rec.type = PT_REC_PROCESS_EXEC;
	struct pt_exec *e = &rec.u.exec;
	e->time_ns = now;
	e->start_ns = now - 1000000;
	e->pid = e->tid = pid;
	e->ppid = 1;
	memcpy(e->entity_id, ent, PT_ENTITY_ID_LEN);
	e->uid = e->euid = e->gid = e->egid = 1000;
	e->path = (struct pt_str){ path, (uint32_t)strlen(path) };
	e->cwd = (struct pt_str){ "/", 1 };
	e->comm = (struct pt_str){ "prog", 4 };
	e->argv = (struct pt_str){ argv, (uint32_t)alen };
	e->args_count = 3;
	e->mode = 0100755;
	e->dev = 0x801;
	e->ino = b;
	e->size = 10000 + b;
	if (b < g->binaries)
		memcpy(e->sha256, g->sha[b], PT_SHA256_LEN);
	else
		RAND_bytes(e->sha256, PT_SHA256_LEN);   /* agent-unique binary */
	e->hash_status = PT_HASH_OK;
	return pt_record_encode(w, &rec);
}

static void fail_conn(struct lconn *c, const char *why)
{
	struct lg *g = c->g;

	if (c->st == 3)
		return;
	/* Before WELCOME, while connecting, a real agent retries with backoff: so does this one
	 * (a busy collector times handshakes out or refuses them when its pool is full). */
	if (c->st < 2 && g->phase == 0 && c->attempts < 40) {
		if (c->bev) {
			bufferevent_free(c->bev);
			c->bev = NULL;
		}
		c->st = 0;
		c->retry_at = pt_mono_s() + 1 + (c->attempts < 5 ? c->attempts : 5);
		g->retry_q[(g->retry_head + g->retry_n++) % g->agents] = c->idx;
		g->retries++;
		return;
	}
	if (!g->why[0])
		snprintf(g->why, sizeof(g->why), "%s: %s", c->name, why);
	if (c->st == 2)
		g->ready--;
	c->st = 3;
	g->failed++;
	if (c->bev) {
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
}

static void send_batch(struct lconn *c)
{
	struct lg *g = c->g;
	struct pt_writer w;
	size_t len;

	if (c->st != 2 || c->inflight >= WINDOW)
		return;
	pt_writer_init(&w, g->records, (size_t)g->batch * 1024);
	for (unsigned i = 0; i < g->batch; i++)
		if (encode_rec(g, c, c->next_seq + i, &w))
			return fail_conn(c, "record encode");
	len = w.len;
	pt_writer_init(&w, g->frame, g->frame_cap);
	if (pt_batch_encode(&w, c->stream, c->next_seq, g->batch, g->records, len, PT_CODEC_ZSTD,
			    g->scratch, g->scratch_cap))
		return fail_conn(c, "batch encode");
	bufferevent_write(c->bev, w.buf, w.len);
	c->sent_t[(c->head + c->inflight) % WINDOW] = pt_mono_s();
	c->inflight++;
	c->next_seq += g->batch;
	g->sent += g->batch;
}

static void send_hello(struct lconn *c)
{
	uint8_t buf[512];
	struct pt_writer w;
	struct pt_hello h = {
		.version = { "loadgen-0.1", 11 },
		.hostname = { c->name, (uint32_t)strlen(c->name) },
		.agent_name = { c->name, (uint32_t)strlen(c->name) },
		.stream_id = c->stream, .first_seq = 1, .next_seq = 1, .mode = PT_MODE_STREAM,
	};

	pt_writer_init(&w, buf, sizeof(buf));
	if (pt_hello_encode(&w, &h) == 0)
		bufferevent_write(c->bev, w.buf, w.len);
	c->st = 1;
}

static void on_frame(struct lconn *c, const uint8_t *p, size_t len)
{
	struct lg *g = c->g;
	struct pt_frame f;
	struct pt_welcome wm;
	struct pt_ack a;
	struct pt_ping pg;
	uint8_t buf[256];
	struct pt_writer w;

	if (pt_frame_split(p, len, &f))
		return fail_conn(c, "bad frame");
	switch (f.type) {
	case PT_FRAME_WELCOME:
		if (c->st != 1 || pt_welcome_decode(&f, &wm, NULL))
			return fail_conn(c, "bad WELCOME");
		c->st = 2;
		c->next_seq = c->acked + 1;
		g->ready++;
		if (g->ready + g->failed == g->agents && !g->t_connected)
			g->t_connected = pt_mono_s();
		return;
	case PT_FRAME_ACK:
		if (pt_ack_decode(&f, &a, NULL) || !c->inflight || a.seq < c->acked)
			return fail_conn(c, "bad ACK");
		c->inflight--;
		if (g->nlat < g->caplat)
			g->lat[g->nlat++] = (pt_mono_s() - c->sent_t[c->head % WINDOW]) * 1000;
		c->head++;
		g->acked += a.seq - c->acked;
		c->acked = a.seq;
		return;
	case PT_FRAME_PING:
		if (pt_ping_decode(&f, &pg, NULL))
			return fail_conn(c, "bad PING");
		pt_writer_init(&w, buf, sizeof(buf));
		if (pt_pong_encode(&w, &(struct pt_pong){ .nonce = pg.nonce, .next_seq = c->next_seq,
							  .acked_seq = c->acked }) == 0)
			bufferevent_write(c->bev, w.buf, w.len);
		return;
	case PT_FRAME_ERROR:
		return fail_conn(c, "ERROR from the collector");
	default:
		return;
	}
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct lconn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct pt_frame_header h;
	uint8_t *p;
	size_t total;

	while (c->bev && evbuffer_get_length(in) >= PT_FRAME_HDR_LEN) {
		p = evbuffer_pullup(in, PT_FRAME_HDR_LEN);
		if (pt_frame_header_parse(p, PT_FRAME_HDR_LEN, PT_FRAME_MAX, &h))
			return fail_conn(c, "bad header");
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
	struct lconn *c = arg;
	char buf[256] = "closed";
	unsigned long e;

	if (what & BEV_EVENT_CONNECTED) {
		int one = 1;

		setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		send_hello(c);
		return;
	}
	while ((e = bufferevent_get_openssl_error(bev)))
		ERR_error_string_n(e, buf, sizeof(buf));
	fail_conn(c, buf);
}

static int connect_one(struct lg *g, struct lconn *c)
{
	struct sockaddr_in src = { .sin_family = AF_INET };
	SSL *ssl = SSL_new(g->ctx);
	int fd, one = 1;

	if (!ssl || SSL_use_certificate(ssl, c->cert) != 1 || SSL_use_PrivateKey(ssl, g->key) != 1 ||
	    pt_tls_client_expect_host(ssl, "127.0.0.1"))
		return -EINVAL;
	/* source 127.0.(1+i/250).(1+i%250) over --sources addresses */
	unsigned s = c->idx % g->sources;
	src.sin_addr.s_addr = htonl(0x7f000000u | ((1 + s / 250) << 8) | (1 + s % 250));
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
		close(fd);
		return -errno;
	}
	c->bev = bufferevent_openssl_socket_new(g->base, fd, ssl, BUFFEREVENT_SSL_CONNECTING,
						BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev)
		return -ENOMEM;
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&g->dst, sizeof(g->dst)) < 0)
		return -errno;
	return 0;
}

static unsigned total_inflight(struct lg *g)
{
	unsigned n = 0;

	for (unsigned i = 0; i < g->agents; i++)
		n += g->c[i].st == 2 ? g->c[i].inflight : 0;
	return n;
}

/* Every 10 ms: start connections (at most --connect-rate per second), then send the rate's
 * share of batches round-robin over the ready agents, then stop when the time is up and every
 * batch was acknowledged. */
static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	static unsigned rr;
	struct lg *g = arg;
	double now = pt_mono_s();

	(void)fd;
	(void)what;
	for (unsigned k = 0; k < g->connect_rate / 100 + 1; k++) {
		struct lconn *c;

		if (g->retry_n && g->c[g->retry_q[g->retry_head]].retry_at <= now) {
			c = &g->c[g->retry_q[g->retry_head]];
			g->retry_head = (g->retry_head + 1) % g->agents;
			g->retry_n--;
		} else if (g->started < g->agents) {
			c = &g->c[g->started++];
		} else {
			break;
		}
		c->attempts++;
		if (connect_one(g, c))
			fail_conn(c, "connect");
	}
	if (g->phase == 0 && g->ready + g->failed == g->agents) {
		printf("connected %u agents (%u failed, %u reconnects) in %.1f s\n", g->ready,
		       g->failed, g->retries, g->t_connected - g->t_run);
		fflush(stdout);
		g->phase = g->hold ? 1 : 2;
		if (g->hold)
			printf("holding %u s\n", g->hold), fflush(stdout);
		g->t_run = now;
	}
	if (g->phase == 1 && now - g->t_run >= g->hold) {
		g->phase = 2;
		g->t_run = now;
	}
	if (g->phase == 2) {
		g->budget += g->rate * 0.01;
		for (unsigned tries = 0; g->budget >= g->batch && tries < g->agents; tries++) {
			struct lconn *c = &g->c[rr++ % g->agents];

			if (c->st == 2 && c->inflight < WINDOW) {
				send_batch(c);
				g->budget -= g->batch;
			}
		}
		if (g->budget > g->rate)       /* behind: do not build an unbounded debt */
			g->budget = g->rate;
		if (now - g->t_run >= g->seconds)
			g->phase = 3;
	}
	if (g->phase == 3 && (total_inflight(g) == 0 || now - g->t_run > g->seconds + 60)) {
		g->t_end = now;
		event_base_loopexit(g->base, NULL);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Every acknowledged record stored once: per agent, rows = distinct seqs = acked. */
static int verify(struct lg *g, uint64_t *verified, uint64_t *dups, uint64_t *missing)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int ret = -EIO;

	*verified = *dups = *missing = 0;
	if (sqlite3_open_v2(g->verify_db, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_busy_timeout(db, 10000) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT count(*), count(DISTINCT e.seq) FROM events e JOIN agents a"
			       " ON a.id=e.agent WHERE a.name=? AND e.stream_id=? AND e.seq<=?",
			       -1, &st, NULL) != SQLITE_OK)
		goto out;
	for (unsigned i = 0; i < g->agents; i++) {
		struct lconn *c = &g->c[i];

		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, c->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)c->stream);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)c->acked);
		if (sqlite3_step(st) != SQLITE_ROW)
			goto out;
		uint64_t rows = (uint64_t)sqlite3_column_int64(st, 0);
		uint64_t distinct = (uint64_t)sqlite3_column_int64(st, 1);

		*verified += distinct;
		*dups += rows - distinct;
		*missing += c->acked > distinct ? c->acked - distinct : 0;
	}
	ret = 0;
out:
	if (ret)
		fprintf(stderr, "loadgen: verify: %s\n", db ? sqlite3_errmsg(db) : "open");
	sqlite3_finalize(st);
	sqlite3_close(db);
	return ret;
}

static int load_ca(struct lg *g)
{
	char p[1024];
	FILE *f;

	snprintf(p, sizeof(p), "%s/pki/ca.crt", g->home);
	if (!(f = fopen(p, "r")) || !(g->ca = PEM_read_X509(f, NULL, NULL, NULL)))
		return fprintf(stderr, "loadgen: %s\n", p), -EINVAL;
	fclose(f);
	snprintf(p, sizeof(p), "%s/pki/ca.key", g->home);
	if (!(f = fopen(p, "r")) || !(g->ca_key = PEM_read_PrivateKey(f, NULL, NULL, NULL)))
		return fprintf(stderr, "loadgen: %s\n", p), -EINVAL;
	fclose(f);
	g->key = EVP_EC_gen("P-256");
	return g->key ? 0 : -ENOMEM;
}

int main(int argc, char **argv)
{
	struct lg g = { .prefix = "lg", .batch = 64, .sources = 200, .seconds = 10, .rate = 10000,
			.binaries = 5000, .connect_rate = 2000 };
	char ca[1024];
	struct timeval tv = { 0, 10000 };
	struct rlimit rl;
	int i;

	for (i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];

		if (!strcmp(k, "--home")) g.home = v;
		else if (!strcmp(k, "--connect")) g.connect = v;
		else if (!strcmp(k, "--agents")) g.agents = (unsigned)atoi(v);
		else if (!strcmp(k, "--rate")) g.rate = atof(v);
		else if (!strcmp(k, "--seconds")) g.seconds = (unsigned)atoi(v);
		else if (!strcmp(k, "--batch")) g.batch = (unsigned)atoi(v);
		else if (!strcmp(k, "--sources")) g.sources = (unsigned)atoi(v);
		else if (!strcmp(k, "--prefix")) g.prefix = v;
		else if (!strcmp(k, "--verify-db")) g.verify_db = v;
		else if (!strcmp(k, "--hold")) g.hold = (unsigned)atoi(v);
		else if (!strcmp(k, "--binaries")) g.binaries = (unsigned)atoi(v);
		else if (!strcmp(k, "--connect-rate")) g.connect_rate = (unsigned)atoi(v);
		else break;
	}
	if (i != argc || !g.home || !g.connect || !g.agents || !g.batch || g.batch > 4096 ||
	    !g.sources || g.sources > 62500 || !g.binaries) {
		fprintf(stderr, "usage: loadgen --home HOME --connect 127.0.0.1:PORT --agents N "
				"[--rate EV/S] [--seconds S] [--batch N] [--sources K] [--prefix NAME]"
				" [--verify-db FILE] [--hold S] [--binaries N] [--connect-rate N/S]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	/* one descriptor per agent, and some */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	int dl = sizeof(g.dst);
	if (evutil_parse_sockaddr_port(g.connect, (struct sockaddr *)&g.dst, &dl) < 0 ||
	    g.dst.sin_family != AF_INET)
		return fprintf(stderr, "loadgen: --connect: want IPV4:PORT\n"), 2;
	if (load_ca(&g))
		return 1;
	snprintf(ca, sizeof(ca), "%s/pki/ca.crt", g.home);
	g.ctx = SSL_CTX_new(TLS_client_method());
	if (!g.ctx || !SSL_CTX_set_min_proto_version(g.ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_load_verify_locations(g.ctx, ca, NULL))
		return fprintf(stderr, "loadgen: TLS context\n"), 1;
	SSL_CTX_set_verify(g.ctx, SSL_VERIFY_PEER, NULL);
	g.c = calloc(g.agents, sizeof(*g.c));
	g.retry_q = calloc(g.agents, sizeof(*g.retry_q));
	g.sha = malloc((size_t)g.binaries * PT_SHA256_LEN);
	g.zipf_cdf = malloc(g.binaries * sizeof(double));
	g.scratch_cap = ZSTD_compressBound((size_t)g.batch * 1024);
	g.frame_cap = g.scratch_cap + 4096;
	g.scratch = malloc(g.scratch_cap);
	g.frame = malloc(g.frame_cap);
	g.records = malloc((size_t)g.batch * 1024);
	g.caplat = 1u << 22;
	g.lat = malloc(g.caplat * sizeof(double));
	g.base = event_base_new();
	if (!g.c || !g.retry_q || !g.sha || !g.zipf_cdf || !g.scratch || !g.frame || !g.records || !g.lat ||
	    !g.base)
		return fprintf(stderr, "loadgen: out of memory\n"), 1;
	RAND_bytes(&g.sha[0][0], (int)(g.binaries * PT_SHA256_LEN));
	double sum = 0;
	for (unsigned b = 0; b < g.binaries; b++)
		sum += 1.0 / pow(b + 1, 1.1);
	double acc = 0;
	for (unsigned b = 0; b < g.binaries; b++)
		g.zipf_cdf[b] = (acc += 1.0 / pow(b + 1, 1.1) / sum);
	double t_mint = pt_mono_s();
	uint64_t stream_base;
	RAND_bytes((unsigned char *)&stream_base, sizeof(stream_base));
	for (unsigned a = 0; a < g.agents; a++) {
		struct lconn *c = &g.c[a];

		c->g = &g;
		c->idx = a;
		snprintf(c->name, sizeof(c->name), "%s-%05u", g.prefix, a);
		c->stream = (stream_base + a) & 0x7fffffffffffffffull;
		if (mint(&g, c))
			return fprintf(stderr, "loadgen: certificate for %s\n", c->name), 1;
	}
	printf("issued %u certificates in %.1f s\n", g.agents, pt_mono_s() - t_mint);
	fflush(stdout);
	g.tick = event_new(g.base, -1, EV_PERSIST, tick_cb, &g);
	event_add(g.tick, &tv);
	g.t_run = pt_mono_s();
	event_base_dispatch(g.base);

	double secs = g.t_end - g.t_run;
	qsort(g.lat, g.nlat, sizeof(double), cmp_double);
	printf("result: %s agents=%u failed=%u events=%llu acked=%llu seconds=%.2f events_per_sec=%.0f"
	       " ack_p50_ms=%.1f ack_p99_ms=%.1f",
	       g.failed || g.acked != g.sent ? "failed" : "ok", g.ready, g.failed,
	       (unsigned long long)g.sent, (unsigned long long)g.acked, secs,
	       secs > 0 ? g.acked / secs : 0, g.nlat ? g.lat[g.nlat / 2] : 0,
	       g.nlat ? g.lat[g.nlat * 99 / 100] : 0);
	int ok = !g.failed && g.acked == g.sent;
	if (g.verify_db) {
		uint64_t v, d, m;

		if (verify(&g, &v, &d, &m) || d || m || v != g.acked)
			ok = 0;
		printf(" verified=%llu duplicates=%llu missing=%llu", (unsigned long long)v,
		       (unsigned long long)d, (unsigned long long)m);
	}
	if (g.why[0])
		printf(" first_failure=\"%s\"", g.why);
	printf("\n");
	for (unsigned a = 0; a < g.agents; a++) {
		if (g.c[a].bev)
			bufferevent_free(g.c[a].bev);
		X509_free(g.c[a].cert);
	}
	event_free(g.tick);
	event_base_free(g.base);
	SSL_CTX_free(g.ctx);
	EVP_PKEY_free(g.key);
	EVP_PKEY_free(g.ca_key);
	X509_free(g.ca);
	free(g.c);
	free(g.retry_q);
	free(g.sha);
	free(g.zipf_cdf);
	free(g.scratch);
	free(g.frame);
	free(g.records);
	free(g.lat);
	return ok ? 0 : 1;
}
