/* Fetching samples from agents, on the event-loop thread: the requests the API made in the
 * database (looked at every second, and when an agent connects) are sent to a connected agent
 * as SAMPLE_GET, one chunk at a time; each chunk is written at its offset into
 * samples/HEX.part, whose size is where a transfer resumes after a reconnect or a restart.
 * The whole file is hashed on arrival and becomes samples/HEX only if it has the hash. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "proctrail/escape.h"
#include "proctrail/hex.h"
#include "proctrail/log.h"
#include "samples.h"
#include "server-int.h"
#include "session.h"

#define SAMPLE_POLL_MS 1000
#define SAMPLE_POLL_ROWS 100

struct srv_sample_xfer {
	int64_t id;
	uint8_t sha[PT_SHA256_LEN];
	char hex[2 * PT_SHA256_LEN + 1];
	int fd;                        /* HEX.part */
	uint64_t offset, size;         /* size 0: not known yet */
	bool size_known;
};

static void part_path(const struct server *srv, const char *hex, char *out, size_t cap,
		      bool part)
{
	snprintf(out, cap, "%s/%s%s", srv->samples.dir, hex, part ? ".part" : "");
}

static void xfer_free(struct conn *c)
{
	if (!c->sample)
		return;
	if (c->sample->fd >= 0)
		close(c->sample->fd);
	free(c->sample);
	c->sample = NULL;
}

void srv_sample_detach(struct conn *c)
{
	/* the request stays "transferring": it resumes when the agent is back */
	xfer_free(c);
}

static void finish(struct server *srv, struct conn *c, const char *state, const char *reason,
		   bool remove_part)
{
	struct srv_sample_xfer *x = c->sample;
	char path[PT_SERVER_PATH_MAX + 96];

	if (srv_sample_set_state(srv->policy.db, x->id, state, reason, x->size, x->offset,
				 pt_real_ns()) < 0)
		log_warnx("sample: request %lld: %s", (long long)x->id, sqlite3_errmsg(srv->policy.db));
	if (reason) {
		struct pt_esc shown;
		log_warnx("sample: request %lld (%s from %s) %s: %s", (long long)x->id, x->hex,
			  c->sess->agent_id, state, pt_esc(&shown, reason, strlen(reason)));
	}
	if (remove_part) {
		part_path(srv, x->hex, path, sizeof(path), true);
		unlink(path);
	}
	xfer_free(c);
}

static int ask(struct server *srv, struct conn *c)
{
	struct srv_sample_xfer *x = c->sample;
	struct pt_sample_get g = { .id = (uint64_t)x->id, .offset = x->offset,
				   .length = srv->cfg->sample_chunk_bytes };
	uint8_t buf[256];
	struct pt_writer w;

	memcpy(g.sha256, x->sha, PT_SHA256_LEN);
	pt_writer_init(&w, buf, sizeof(buf));
	if (pt_sample_get_encode(&w, &g) < 0 || !pt_session_send(c->sess, buf, w.len))
		return -EIO;
	return 0;
}

static bool hash_busy(struct server *srv, const uint8_t sha[PT_SHA256_LEN])
{
	struct conn *o;

	TAILQ_FOREACH(o, &srv->conns, link)
		if (o->sample && !memcmp(o->sample->sha, sha, PT_SHA256_LEN))
			return true;
	return false;
}

/* Begins (or resumes, from what HEX.part holds) request id on c. */
static void start(struct server *srv, struct conn *c, int64_t id, const char *hex)
{
	char path[PT_SERVER_PATH_MAX + 96];
	struct srv_sample_xfer *x;
	struct stat st;
	uint8_t sha[PT_SHA256_LEN];

	if (pt_hex_decode(hex, strlen(hex), sha, sizeof(sha)) || hash_busy(srv, sha))
		return;
	if (!(x = calloc(1, sizeof(*x))))
		return;
	x->id = id;
	x->fd = -1;
	memcpy(x->sha, sha, PT_SHA256_LEN);
	pt_hex_encode(sha, PT_SHA256_LEN, x->hex);
	c->sample = x;
	part_path(srv, x->hex, path, sizeof(path), false);
	if (stat(path, &st) == 0) {
		/* stored meanwhile, by another request */
		x->size = x->offset = (uint64_t)st.st_size;
		if (srv_sample_stored(srv->policy.db, id, sha, c->sess->agent_id, x->size,
				      pt_real_ns()) < 0)
			log_warnx("sample: request %lld: %s", (long long)id,
				  sqlite3_errmsg(srv->policy.db));
		xfer_free(c);
		return;
	}
	part_path(srv, x->hex, path, sizeof(path), true);
	x->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (x->fd < 0 || fstat(x->fd, &st) < 0) {
		log_warn("sample: %s", path);
		xfer_free(c);
		return;
	}
	x->offset = (uint64_t)st.st_size;
	log_info("sample: request %lld: asking %s for %s from offset %llu", (long long)id,
		 c->sess->agent_id, x->hex, (unsigned long long)x->offset);
	if (srv_sample_set_state(srv->policy.db, id, "transferring", NULL, 0, x->offset,
				 pt_real_ns()) < 0 || ask(srv, c) < 0)
		xfer_free(c);
}

/* Gives every open request whose agent is connected and idle a transfer. only: one agent's
 * connection (it just became ready), or NULL for all. */
static void schedule(struct server *srv, struct conn *only)
{
	sqlite3_stmt *st;
	struct conn *c;

	if (!srv->policy.db ||
	    sqlite3_prepare_v2(srv->policy.db, "SELECT id, sha256, agent FROM sample_requests"
			       " WHERE state IN ('requested','transferring') ORDER BY id LIMIT ?1",
			       -1, &st, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_int(st, 1, SAMPLE_POLL_ROWS);
	while (sqlite3_step(st) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		const char *hex = (const char *)sqlite3_column_text(st, 1);
		const char *agent = (const char *)sqlite3_column_text(st, 2);

		if (!hex || !agent)
			continue;
		TAILQ_FOREACH(c, &srv->conns, link) {
			if ((only && c != only) || !c->sess || c->closing || c->sample ||
			    c->sess->state != PT_SESS_READY || strcmp(c->sess->agent_id, agent))
				continue;
			/* copies: start() writes the database, which may move this row's text */
			char h[2 * PT_SHA256_LEN + 1];
			snprintf(h, sizeof(h), "%s", hex);
			start(srv, c, id, h);
			break;
		}
	}
	sqlite3_finalize(st);
}

void srv_sample_ready(struct server *srv, struct conn *c)
{
	schedule(srv, c);
}

static int hash_part(int fd, uint8_t out[PT_SHA256_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t buf[65536];
	unsigned int n = 0;
	off_t off = 0;
	ssize_t r;
	int rc = -EIO;

	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
		goto out;
	while ((r = pread(fd, buf, sizeof(buf), off)) > 0) {
		if (!EVP_DigestUpdate(ctx, buf, (size_t)r))
			goto out;
		off += r;
	}
	if (r == 0 && EVP_DigestFinal_ex(ctx, out, &n) && n == PT_SHA256_LEN)
		rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

static void complete(struct server *srv, struct conn *c)
{
	struct srv_sample_xfer *x = c->sample;
	char part[PT_SERVER_PATH_MAX + 96], final[PT_SERVER_PATH_MAX + 96];
	uint8_t got[PT_SHA256_LEN];

	if (ftruncate(x->fd, (off_t)x->size) < 0 || fsync(x->fd) < 0 || hash_part(x->fd, got) < 0) {
		finish(srv, c, "refused", "collector: cannot write or read the sample file", true);
		return;
	}
	if (memcmp(got, x->sha, PT_SHA256_LEN)) {
		finish(srv, c, "refused", "hash_mismatch: the bytes received do not have this hash",
		       true);
		return;
	}
	part_path(srv, x->hex, part, sizeof(part), true);
	part_path(srv, x->hex, final, sizeof(final), false);
	if (rename(part, final) < 0) {
		finish(srv, c, "refused", "collector: cannot store the sample file", true);
		return;
	}
	if (srv_sample_stored(srv->policy.db, x->id, x->sha, c->sess->agent_id, x->size,
			      pt_real_ns()) < 0)
		log_warnx("sample: request %lld: %s", (long long)x->id, sqlite3_errmsg(srv->policy.db));
	log_info("sample: request %lld: %s stored (%llu bytes from %s)", (long long)x->id, x->hex,
		 (unsigned long long)x->size, c->sess->agent_id);
	xfer_free(c);
	schedule(srv, c);
}

void srv_sample_data(struct server *srv, struct conn *c, const struct pt_sample_data *d,
		     bool disabled)
{
	struct srv_sample_xfer *x = c->sample;
	char reason[SRV_SAMPLE_REASON_MAX];

	if (!x)
		return;   /* an answer to a transfer this connection no longer has */
	if (disabled) {
		finish(srv, c, "refused", "disabled: the agent's configuration refuses samples", true);
		return;
	}
	if (d->id != (uint64_t)x->id || memcmp(d->sha256, x->sha, PT_SHA256_LEN))
		return;
	if (d->code) {
		struct pt_esc shown;
		const char *name = pt_sample_code_name(d->code);

		snprintf(reason, sizeof(reason), "%s: %s", name ? name : "unknown",
			 pt_esc(&shown, d->message.ptr, d->message.len));
		finish(srv, c, "refused", reason, true);
		return;
	}
	if (d->offset != x->offset) {
		/* not what was asked for: the transfer starts over at the next poll */
		log_warnx("sample: request %lld: chunk at %llu, asked for %llu", (long long)x->id,
			  (unsigned long long)d->offset, (unsigned long long)x->offset);
		xfer_free(c);
		return;
	}
	if (d->size > srv->cfg->sample_max_bytes) {
		snprintf(reason, sizeof(reason), "too_large: %llu bytes, over the collector's "
			 "sample-max-bytes %llu", (unsigned long long)d->size,
			 (unsigned long long)srv->cfg->sample_max_bytes);
		finish(srv, c, "refused", reason, true);
		return;
	}
	if (x->size_known && d->size != x->size) {
		finish(srv, c, "refused", "changed: the file's size changed during the transfer", true);
		return;
	}
	x->size = d->size;
	x->size_known = true;
	if (x->offset > x->size) {
		finish(srv, c, "refused", "changed: the file is shorter than what was received", true);
		return;
	}
	if (d->body_len) {
		if (pwrite(x->fd, d->body, d->body_len, (off_t)x->offset) != (ssize_t)d->body_len) {
			log_warn("sample: %s.part", x->hex);
			xfer_free(c);
			return;
		}
		x->offset += d->body_len;
	}
	if (x->offset == x->size) {
		complete(srv, c);
		return;
	}
	if (!d->body_len) {
		finish(srv, c, "refused", "protocol: an empty chunk before the end", true);
		return;
	}
	srv_sample_set_state(srv->policy.db, x->id, "transferring", NULL, x->size, x->offset,
			     pt_real_ns());
	if (ask(srv, c) < 0)
		xfer_free(c);
}

static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	schedule(arg, NULL);
}

int srv_sample_start(struct server *srv)
{
	struct timeval tv = { SAMPLE_POLL_MS / 1000, (SAMPLE_POLL_MS % 1000) * 1000 };

	if (srv_sample_dir(srv->cfg->db, srv->samples.dir, sizeof(srv->samples.dir)) < 0)
		return -ENAMETOOLONG;
	if (mkdir(srv->samples.dir, 0700) < 0 && errno != EEXIST) {
		log_warn("samples: %s", srv->samples.dir);
		return -errno;
	}
	if (srv_sample_schema(srv->policy.db) < 0) {
		log_warnx("samples: %s", sqlite3_errmsg(srv->policy.db));
		return -EIO;
	}
	srv->samples.poll_ev = event_new(srv->base, -1, EV_PERSIST, poll_cb, srv);
	if (!srv->samples.poll_ev || event_add(srv->samples.poll_ev, &tv) < 0)
		return -ENOMEM;
	return 0;
}

void srv_sample_stop(struct server *srv)
{
	if (srv->samples.poll_ev)
		event_free(srv->samples.poll_ev);
	srv->samples.poll_ev = NULL;
}
