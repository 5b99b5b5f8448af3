/* API query benchmark (docs/benchmarks.md, "HTTP API queries").
 *
 *   api_query build DB [EVENTS] [AGENTS]
 *       A database like a fleet's week: AGENTS agents (default 1,000), EVENTS events (default
 *       10,000,000; half execs, half exits), written through the collector's own store
 *       (pt_store_batch, then pt_store_index as the writer does), so the schema and lookup
 *       tables are exactly the collector's. Deterministic (seeded).
 *   api_query query ADDR:PORT CA TOKEN_FILE [RUNS] [EVENTS] [AGENTS]
 *       Times RUNS requests (default 50) of each kind against a running collector's API over
 *       TLS with keep-alive, and prints p50/p95/max per kind. Parameters are drawn from the
 *       same generator as the build (the same EVENTS and AGENTS), so every query hits data.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>

#include "proctrail/clock.h"
#include "proctrail/hex.h"
#include "proctrail/store.h"
#include "proctrail/wire.h"

#define BINS        2000        /* common binaries, Zipf-like popularity */
#define RARE_EVERY  100         /* one exec in RARE_EVERY runs a binary of its agent's own */
#define SPAN_NS     (7ull * 86400 * 1000000000ull)
#define BATCH       1000

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545F4914F6CDD1Dull;
}

static void sha_of(const char *tag, uint64_t n, uint8_t out[32])
{
	char s[64];

	snprintf(s, sizeof(s), "%s-%llu", tag, (unsigned long long)n);
	SHA256((const unsigned char *)s, strlen(s), out);
}

static void entity_of(uint64_t agent, uint64_t proc, uint8_t out[16])
{
	uint8_t md[32];

	sha_of("entity", agent << 32 | proc, md);
	memcpy(out, md, 16);
}

/* popularity: binary b in 0..BINS-1, small b far more often */
static unsigned pick_bin(void)
{
	double u = (double)(rnd() >> 11) / (double)(1ull << 53);

	return (unsigned)((double)BINS * u * u * u);
}

static const char *const DIRS[] = { "/usr/bin/", "/usr/sbin/", "/usr/lib/x/", "/opt/app/bin/" };

static void bin_path(unsigned b, char *out, size_t len)
{
	snprintf(out, len, "%stool%u", DIRS[b % 4], b);
}

struct gen {
	uint64_t events, agents, t0;
};

/* Process p of agent a: which binary, its times (exec and exit are one process). */
struct proc {
	uint64_t agent, idx, time_ns;
	unsigned bin;
	bool rare;
	uint64_t parent;     /* index of the parent process of the same agent */
	uint32_t job;
};

static void proc_of(const struct gen *g, uint64_t a, uint64_t i, struct proc *p)
{
	uint64_t per = g->events / 2 / g->agents;

	rng_state = (a * 1000003 + i) * 0x9E3779B97F4A7C15ull + 1;
	rnd();
	p->agent = a;
	p->idx = i;
	p->time_ns = g->t0 + SPAN_NS * i / (per ? per : 1) + rnd() % 1000000;
	p->rare = rnd() % RARE_EVERY == 0;
	p->bin = pick_bin();
	p->parent = i > 0 ? i - 1 - rnd() % (i < 50 ? i : 50) : 0;
	p->job = (uint32_t)(rnd() % 1000000);
}

static int encode_proc(const struct proc *p, bool exit_rec, struct pt_writer *w)
{
	struct pt_record r = { .version = 1 };
	char path[64], argv[128];
	int alen;

	if (p->rare)
		snprintf(path, sizeof(path), "/tmp/.cache/agent%llu-%llu",
			 (unsigned long long)p->agent, (unsigned long long)p->idx % 50);
	else
		bin_path(p->bin, path, sizeof(path));
	if (exit_rec) {
		r.type = PT_REC_PROCESS_EXIT;
		r.u.exit.time_ns = p->time_ns + 5000000;
		r.u.exit.pid = 1000 + (uint32_t)(p->idx % 60000);
		entity_of(p->agent, p->idx, r.u.exit.entity_id);
		r.u.exit.code = p->job % 3;
		r.u.exit.comm = (struct pt_str){ "tool", 4 };
		return pt_record_encode(w, &r);
	}
	r.type = PT_REC_PROCESS_EXEC;
	alen = snprintf(argv, sizeof(argv), "%s%c--job%cjob-%u%c--verbose%c", path, 0, 0, p->job, 0, 0);
	r.u.exec.time_ns = p->time_ns;
	r.u.exec.pid = 1000 + (uint32_t)(p->idx % 60000);
	r.u.exec.tid = r.u.exec.pid;
	r.u.exec.ppid = 1000 + (uint32_t)(p->parent % 60000);
	entity_of(p->agent, p->idx, r.u.exec.entity_id);
	entity_of(p->agent, p->parent, r.u.exec.parent_entity_id);
	r.u.exec.uid = r.u.exec.euid = (uint32_t)(p->job % 4 ? 1000 : 0);
	r.u.exec.path = (struct pt_str){ path, (uint32_t)strlen(path) };
	r.u.exec.cwd = (struct pt_str){ "/home/u", 7 };
	r.u.exec.comm = (struct pt_str){ "tool", 4 };
	r.u.exec.argv = (struct pt_str){ argv, (uint32_t)alen };
	r.u.exec.args_count = 4;
	r.u.exec.mode = 0100755;
	r.u.exec.size = 10000 + p->bin;
	if (p->rare)
		sha_of("rare", p->agent << 8 | p->idx % 50, r.u.exec.sha256);
	else
		sha_of("bin", p->bin, r.u.exec.sha256);
	r.u.exec.hash_status = PT_HASH_OK;
	return pt_record_encode(w, &r);
}

static int build(const char *db, struct gen *g)
{
	struct pt_store *s = NULL;
	struct pt_store_event *ev = calloc(BATCH, sizeof(*ev));
	uint8_t *raw = malloc(BATCH * 512);
	int64_t *agent_id = calloc(g->agents, sizeof(int64_t)), *host_id = calloc(g->agents, sizeof(int64_t));
	uint64_t per = g->events / 2 / g->agents, done = 0, i, a, n_idx;
	uint64_t *seq = calloc(g->agents, sizeof(uint64_t));
	double t_start = pt_mono_s(), t_ins;
	int ret;

	if (!ev || !raw || !agent_id || !host_id || !seq)
		return -ENOMEM;
	if ((ret = pt_store_open(&s, db)))
		return ret;
	if ((ret = pt_store_begin(s)))
		return ret;
	for (a = 0; a < g->agents; a++) {
		char name[32];
		uint8_t boot[PT_BOOT_ID_LEN] = { 1 };
		struct pt_store_hello h = { .agent_name = name, .hostname = name, .version = "bench",
			.address = "10.0.0.1:1", .boot_id = boot, .stream_id = a + 1, .first_seq = 1,
			.next_seq = 1, .mode = PT_MODE_STREAM };
		struct pt_store_hello_result hr;

		snprintf(name, sizeof(name), "host%04llu", (unsigned long long)a);
		if ((ret = pt_store_hello(s, &h, g->t0, &hr)))
			return ret;
		agent_id[a] = hr.agent;
		host_id[a] = hr.host;
	}
	if ((ret = pt_store_commit(s)))
		return ret;
	/* agents take turns, BATCH/2 processes (an exec and its exit each) a batch */
	for (i = 0; i < per; i += BATCH / 2) {
		if ((ret = pt_store_begin(s)))
			return ret;
		for (a = 0; a < g->agents; a++) {
			struct pt_writer w;
			struct pt_store_batch b = { .agent = agent_id[a], .host = host_id[a],
				.stream_id = a + 1, .first_seq = seq[a] + 1, .raw = raw, .ev = ev };
			uint64_t k;

			pt_writer_init(&w, raw, BATCH * 512);
			for (k = i; k < i + BATCH / 2 && k < per; k++) {
				struct proc p;

				proc_of(g, a, k, &p);
				for (int x = 0; x < 2; x++) {
					struct pt_record r;
					size_t off = w.len, used;

					if (encode_proc(&p, x, &w))
						return -EINVAL;
					pt_record_decode(raw + off, w.len - off, &r, &used, NULL);
					pt_store_event_from_record(&ev[b.count], &r);
					ev[b.count].seq = b.first_seq + b.count;
					ev[b.count].off = (uint32_t)off;
					ev[b.count].len = (uint32_t)(w.len - off);
					b.count++;
				}
			}
			b.raw_len = w.len;
			struct pt_store_batch_result br;

			if ((ret = pt_store_batch(s, &b, g->t0, &br)))
				return ret;
			seq[a] += b.count;
			done += b.count;
		}
		if ((ret = pt_store_commit(s)))
			return ret;
		fprintf(stderr, "\r%llu events", (unsigned long long)done);
	}
	t_ins = pt_mono_s();
	fprintf(stderr, "\ninserted %llu events in %.1f s; filling the lookup tables\n",
		(unsigned long long)done, t_ins - t_start);
	do {
		if ((ret = pt_store_begin(s)) ||
		    (ret = pt_store_index(s, 4 * PT_STORE_INDEX_EVERY, &n_idx)) ||
		    (ret = pt_store_commit(s)))
			return ret;
	} while (n_idx == 4 * PT_STORE_INDEX_EVERY);
	fprintf(stderr, "indexed in %.1f s\n", pt_mono_s() - t_ins);
	pt_store_close(s);
	free(ev);
	free(raw);
	free(agent_id);
	free(host_id);
	free(seq);
	return 0;
}

/* ---- a keep-alive HTTPS client, enough for timing GETs ---- */
struct client {
	SSL_CTX *ctx;
	SSL *ssl;
	int fd;
	char host[256], port[16], auth[128];
	char *body;
	size_t body_cap;
};

static int client_connect(struct client *c)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;

	if (getaddrinfo(c->host, c->port, &hints, &ai))
		return -1;
	c->fd = socket(ai->ai_family, SOCK_STREAM, 0);
	if (c->fd < 0 || connect(c->fd, ai->ai_addr, ai->ai_addrlen)) {
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	c->ssl = SSL_new(c->ctx);
	SSL_set_fd(c->ssl, c->fd);
	SSL_set1_host(c->ssl, c->host);
	return SSL_connect(c->ssl) == 1 ? 0 : -1;
}

/* GET path; returns the status, the body in c->body (NUL-terminated). */
static int get(struct client *c, const char *path, size_t *blen)
{
	char req[2048], hdr[8192];
	size_t hl = 0, need, have;
	int n, status;
	char *p, *cl;

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n\r\n",
		 path, c->host, c->auth);
	if (SSL_write(c->ssl, req, (int)strlen(req)) <= 0)
		return -1;
	for (;;) {
		if (hl == sizeof(hdr) - 1)
			return -1;
		n = SSL_read(c->ssl, hdr + hl, 1);
		if (n <= 0)
			return -1;
		hl++;
		if (hl >= 4 && !memcmp(hdr + hl - 4, "\r\n\r\n", 4))
			break;
	}
	hdr[hl] = 0;
	status = atoi(hdr + 9);
	cl = strcasestr(hdr, "Content-Length:");
	need = cl ? strtoul(cl + 15, NULL, 10) : 0;
	if (need + 1 > c->body_cap) {
		c->body_cap = need + 1;
		c->body = realloc(c->body, c->body_cap);
	}
	for (have = 0; have < need; have += (size_t)n)
		if ((n = SSL_read(c->ssl, c->body + have, (int)(need - have))) <= 0)
			return -1;
	c->body[need] = 0;
	*blen = need;
	p = c->body;
	(void)p;
	return status;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

enum { Q_HASH, Q_TREE, Q_AGENT_HOUR, Q_EXE, Q_RARE, Q_AGENTS, Q_CMDLINE, Q_N };
static const char *const QNAME[Q_N] = { "hash", "entity tree", "agent + 1 h window",
	"exact executable", "rare binaries", "agents page", "command-line substring" };

static void make_query(const struct gen *g, int kind, unsigned run, char *out, size_t len)
{
	uint64_t per = g->events / 2 / g->agents;
	uint64_t a = (run * 7919u) % g->agents, i = per ? (run * 104729u) % per : 0;
	uint8_t sha[32], ent[16];
	char hex[65], path[64];
	struct proc p;

	proc_of(g, a, i, &p);
	switch (kind) {
	case Q_HASH:
		sha_of("bin", 50 + run % 500, sha);     /* binaries of middling popularity */
		pt_hex_encode(sha, 32, hex);
		snprintf(out, len, "/api/v1/events?sha256=%s&limit=100", hex);
		break;
	case Q_TREE:
		entity_of(a, i, ent);
		pt_hex_encode(ent, 16, hex);
		snprintf(out, len, "/api/v1/tree/%s", hex);
		break;
	case Q_AGENT_HOUR: {
		uint64_t from = p.time_ns / 1000000000ull, to = from + 3600;
		char f[32], t[32];
		time_t tf = (time_t)from, tt = (time_t)to;
		struct tm tm;

		strftime(f, sizeof(f), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&tf, &tm));
		strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&tt, &tm));
		snprintf(out, len, "/api/v1/events?agent=host%04llu&from=%s&to=%s&limit=100",
			 (unsigned long long)a, f, t);
		break;
	}
	case Q_EXE:
		bin_path(100 + run % 900, path, sizeof(path));
		snprintf(out, len, "/api/v1/events?exe=%s&limit=100", path);
		break;
	case Q_RARE:
		snprintf(out, len, "/api/v1/binaries?max_hosts=2&limit=100");
		break;
	case Q_AGENTS:
		snprintf(out, len, "/api/v1/agents");
		break;
	case Q_CMDLINE:
		/* a job number: a handful of events in the whole database */
		snprintf(out, len, "/api/v1/events?cmdline=job-%u%%20--verbose&limit=100", p.job);
		break;
	}
}

static int query(const char *addr, const char *ca, const char *token_file, unsigned runs,
		 struct gen *g)
{
	struct client c = { .fd = -1 };
	double *t = calloc(runs, sizeof(double));
	FILE *f = fopen(token_file, "r");
	const char *colon = strrchr(addr, ':');
	char path[1024];
	int kind;

	if (!t || !f || !colon || !fgets(c.auth, sizeof(c.auth), f))
		return -EINVAL;
	fclose(f);
	c.auth[strcspn(c.auth, "\r\n")] = 0;
	snprintf(c.host, sizeof(c.host), "%.*s", (int)(colon - addr), addr);
	snprintf(c.port, sizeof(c.port), "%s", colon + 1);
	c.ctx = SSL_CTX_new(TLS_client_method());
	if (SSL_CTX_load_verify_locations(c.ctx, ca, NULL) != 1)
		return -EINVAL;
	SSL_CTX_set_verify(c.ctx, SSL_VERIFY_PEER, NULL);
	if (client_connect(&c)) {
		fprintf(stderr, "connect %s failed\n", addr);
		return -EIO;
	}
	printf("%-24s %8s %8s %8s %8s  %s\n", "query", "p50 ms", "p95 ms", "max ms", "items",
	       "example");
	for (kind = 0; kind < Q_N; kind++) {
		size_t blen = 0, items = 0;

		for (unsigned r = 0; r < runs; r++) {
			double t0;
			int st;

			make_query(g, kind, r, path, sizeof(path));
			t0 = pt_mono_s();
			st = get(&c, path, &blen);
			t[r] = (pt_mono_s() - t0) * 1000;
			if (st != 200) {
				fprintf(stderr, "%s: status %d: %.200s\n", path, st, c.body ? c.body : "");
				return -EIO;
			}
			/* answer size as a count of objects: every ECS event has "@timestamp", a node
			 * "entity_id", a binary "sha256", an agent "silent_seconds" */
			for (char *p = c.body; (p = strstr(p, kind == Q_TREE ? "\"execs\"" :
							      kind == Q_RARE ? "\"paths\"" :
							      kind == Q_AGENTS ? "\"silent_seconds\"" :
							      "\"@timestamp\"")); p++)
				items++;
		}
		qsort(t, runs, sizeof(double), cmp_d);
		make_query(g, kind, 0, path, sizeof(path));
		printf("%-24s %8.1f %8.1f %8.1f %8.1f  %.90s\n", QNAME[kind], t[runs / 2],
		       t[(runs * 95 + 99) / 100 - 1], t[runs - 1], (double)items / runs, path);
	}
	SSL_free(c.ssl);
	SSL_CTX_free(c.ctx);
	close(c.fd);
	free(c.body);
	free(t);
	return 0;
}

int main(int argc, char **argv)
{
	struct gen g = { .events = 10000000, .agents = 1000, .t0 = 1796000000ull * 1000000000ull };

	if (argc >= 3 && !strcmp(argv[1], "build")) {
		if (argc > 3)
			g.events = strtoull(argv[3], NULL, 10);
		if (argc > 4)
			g.agents = strtoull(argv[4], NULL, 10);
		return build(argv[2], &g) ? 1 : 0;
	}
	if (argc >= 5 && !strcmp(argv[1], "query")) {
		unsigned runs = argc > 5 ? (unsigned)atoi(argv[5]) : 50;

		if (argc > 6)
			g.events = strtoull(argv[6], NULL, 10);
		if (argc > 7)
			g.agents = strtoull(argv[7], NULL, 10);
		return query(argv[2], argv[3], argv[4], runs ? runs : 1, &g) ? 1 : 0;
	}
	fprintf(stderr, "usage: api_query build DB [EVENTS] [AGENTS]\n"
			"       api_query query ADDR:PORT CA TOKEN_FILE [RUNS] [EVENTS] [AGENTS]\n");
	return 2;
}
