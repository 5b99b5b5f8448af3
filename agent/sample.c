/* Serving samples: verify once (identity, then the whole file re-hashed), then chunks. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proctrail/escape.h"
#include "proctrail/hex.h"
#include "proctrail/log.h"
#include "hash.h"
#include "sample.h"

struct pt_sampler {
	struct pt_seen *seen;
	uint64_t max_bytes;
	int fd;                            /* verified file; -1: none */
	uint8_t sha256[PT_SHA256_LEN];     /* what fd was verified to hold */
	struct stat st;                    /* its fstat at verification */
	char path[PT_PATH_MAX + 1];
	uint8_t *chunk;                    /* PT_SAMPLE_CHUNK_MAX */
	char msg[PT_MESSAGE_MAX];
};

int pt_sampler_new(struct pt_seen *seen, uint64_t max_bytes, struct pt_sampler **out)
{
	struct pt_sampler *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s || !(s->chunk = malloc(PT_SAMPLE_CHUNK_MAX))) {
		free(s);
		return -ENOMEM;
	}
	s->seen = seen;
	s->max_bytes = max_bytes ? max_bytes : PT_SAMPLE_MAX_BYTES_DEFAULT;
	s->fd = -1;
	*out = s;
	return 0;
}

static void drop(struct pt_sampler *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

void pt_sampler_free(struct pt_sampler *s)
{
	if (!s)
		return;
	drop(s);
	free(s->chunk);
	free(s);
}

/* The message names the recorded path (a user's file name: escaped) and says why. */
static uint32_t refuse(struct pt_sampler *s, uint32_t code, const char *path, const char *why)
{
	struct pt_esc shown;

	snprintf(s->msg, sizeof(s->msg), "%s%s%s", path ? pt_esc(&shown, path, strlen(path)) : "",
		 path ? ": " : "", why);
	drop(s);
	return code;
}

/* Opens the recorded file and proves it is the one executed, with the hash asked for. */
static uint32_t verify(struct pt_sampler *s, const uint8_t sha[PT_SHA256_LEN])
{
	struct pt_file_id id;
	struct stat st, st2;
	uint8_t got[PT_SHA256_LEN];
	int pfd, fd, rc;

	drop(s);
	if (!pt_seen_find(s->seen, sha, s->path, &id))
		return refuse(s, PT_SAMPLE_NOT_SEEN, NULL,
			      "no file with this hash was seen executed");
	if (id.size > s->max_bytes) {
		snprintf(s->msg, sizeof(s->msg), "%llu bytes, over sample-max-bytes %llu",
			 (unsigned long long)id.size, (unsigned long long)s->max_bytes);
		return PT_SAMPLE_TOO_LARGE;
	}
	/* as the exec path code: a name is only looked at, never followed or opened for
	 * reading, before its identity proves it is the executed file */
	pfd = open(s->path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return refuse(s, PT_SAMPLE_GONE, s->path, "gone");
		if (errno == ELOOP)
			return refuse(s, PT_SAMPLE_CHANGED, s->path, "a symbolic link now");
		return refuse(s, PT_SAMPLE_UNREADABLE, s->path, "cannot open");
	}
	if (fstat(pfd, &st) < 0 || !pt_file_id_same(&id, &st)) {
		close(pfd);
		return refuse(s, PT_SAMPLE_CHANGED, s->path, "another file than the one executed");
	}
	fd = pt_fd_reopen_read(pfd);
	close(pfd);
	if (fd < 0)
		return refuse(s, PT_SAMPLE_UNREADABLE, s->path, "cannot read");
	s->fd = fd;
	rc = pt_hash_fd(fd, s->max_bytes, got, NULL);
	if (rc == -EFBIG)
		return refuse(s, PT_SAMPLE_CHANGED, s->path, "grew since it was executed");
	if (rc < 0)
		return refuse(s, PT_SAMPLE_UNREADABLE, s->path, "read error");
	if (fstat(fd, &st2) < 0 || !pt_stat_same(&st, &st2) || memcmp(got, sha, PT_SHA256_LEN))
		return refuse(s, PT_SAMPLE_CHANGED, s->path, "no longer has this hash");
	memcpy(s->sha256, sha, PT_SHA256_LEN);
	s->st = st;
	return PT_SAMPLE_OK;
}

void pt_sampler_serve(struct pt_sampler *s, const struct pt_sample_get *g,
		      struct pt_sample_data *d)
{
	struct stat st;
	ssize_t r = 0;
	size_t want;

	memset(d, 0, sizeof(*d));
	d->id = g->id;
	d->offset = g->offset;
	memcpy(d->sha256, g->sha256, PT_SHA256_LEN);
	s->msg[0] = '\0';
	if (!g->length || g->length > PT_SAMPLE_CHUNK_MAX) {
		d->code = refuse(s, PT_SAMPLE_BAD_REQUEST, NULL, "chunk length out of range");
		goto out;
	}
	/* the first chunk, or after a reconnect: the file is verified again */
	if (s->fd < 0 || memcmp(s->sha256, g->sha256, PT_SHA256_LEN) || g->offset == 0) {
		if ((d->code = verify(s, g->sha256)))
			goto out;
		char hex[2 * PT_SHA256_LEN + 1];
		struct pt_esc shown;

		pt_hex_encode(g->sha256, PT_SHA256_LEN, hex);
		log_info("sample: %s (%s, %llu bytes) verified; sending from offset %llu", hex,
			 pt_esc(&shown, s->path, strlen(s->path)), (unsigned long long)s->st.st_size,
			 (unsigned long long)g->offset);
	}
	d->size = (uint64_t)s->st.st_size;
	if (g->offset > d->size) {
		d->code = refuse(s, PT_SAMPLE_BAD_REQUEST, NULL, "offset past the end of the file");
		goto out;
	}
	want = d->size - g->offset < g->length ? (size_t)(d->size - g->offset) : g->length;
	while (want && (r = pread(s->fd, s->chunk, want, (off_t)g->offset)) < 0 && errno == EINTR)
		;
	if (r < 0 || (size_t)r != want) {
		d->code = refuse(s, PT_SAMPLE_UNREADABLE, s->path, "read error");
		goto out;
	}
	/* what was read is what was hashed: the file did not change since */
	if (fstat(s->fd, &st) < 0 || !pt_stat_same(&s->st, &st)) {
		d->code = refuse(s, PT_SAMPLE_CHANGED, s->path, "changed during the transfer");
		goto out;
	}
	d->body = s->chunk;
	d->body_len = want;
out:
	if (d->code) {
		d->size = 0;
		d->message = (struct pt_str){ s->msg, (uint32_t)strlen(s->msg) };
	}
}
