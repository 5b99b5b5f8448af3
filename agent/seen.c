/* The table of executed files by SHA-256: chained by the hash's first bytes (uniform already);
 * when full, a new hash replaces the least recently executed entry (a scan, paid only by a
 * hash never seen before in a full table, not by the repeated execs of the same binaries). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "seen.h"

struct entry {
	uint8_t sha256[PT_SHA256_LEN];
	struct pt_file_id id;
	uint64_t stamp;            /* 0: free */
	char *path;                /* malloc'ed */
	struct entry *next;        /* bucket chain */
};

struct pt_seen {
	pthread_mutex_t lock;
	struct entry *entries;
	struct entry **buckets;
	unsigned n, used, nbuckets;
	uint64_t clock;
};

int pt_seen_new(unsigned entries, struct pt_seen **out)
{
	struct pt_seen *t;

	*out = NULL;
	if (!entries)
		entries = PT_SEEN_ENTRIES_DEFAULT;
	if (entries > PT_SEEN_ENTRIES_MAX)
		return -EINVAL;
	if (!(t = calloc(1, sizeof(*t))))
		return -ENOMEM;
	t->n = entries;
	t->nbuckets = entries;
	t->entries = calloc(entries, sizeof(*t->entries));
	/* a table of pointers: NOLINTNEXTLINE(bugprone-sizeof-expression) */
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	if (!t->entries || !t->buckets) {
		pt_seen_free(t);
		return -ENOMEM;
	}
	pthread_mutex_init(&t->lock, NULL);
	*out = t;
	return 0;
}

void pt_seen_free(struct pt_seen *t)
{
	if (!t)
		return;
	if (t->entries) {
		for (unsigned i = 0; i < t->n; i++)
			free(t->entries[i].path);
		pthread_mutex_destroy(&t->lock);
	}
	free(t->entries);
	free(t->buckets);
	free(t);
}

static struct entry **bucket(struct pt_seen *t, const uint8_t sha[PT_SHA256_LEN])
{
	uint32_t h;

	memcpy(&h, sha, sizeof(h));   /* a SHA-256 is uniform already */
	return &t->buckets[h % t->nbuckets];
}

/* caller holds lock */
static struct entry *lookup(struct pt_seen *t, const uint8_t sha[PT_SHA256_LEN])
{
	for (struct entry *e = *bucket(t, sha); e; e = e->next)
		if (!memcmp(e->sha256, sha, PT_SHA256_LEN))
			return e;
	return NULL;
}

/* caller holds lock: a free entry, or the least recently executed one, unlinked */
static struct entry *take(struct pt_seen *t)
{
	struct entry *victim;

	if (t->used < t->n)
		return &t->entries[t->used++];
	victim = &t->entries[0];
	for (unsigned i = 1; i < t->n; i++)
		if (t->entries[i].stamp < victim->stamp)
			victim = &t->entries[i];
	for (struct entry **pp = bucket(t, victim->sha256); *pp; pp = &(*pp)->next)
		if (*pp == victim) {
			*pp = victim->next;
			break;
		}
	free(victim->path);
	memset(victim, 0, sizeof(*victim));
	return victim;
}

void pt_seen_note(struct pt_seen *t, const struct pt_exec *x)
{
	struct pt_file_id id = { x->dev, x->ino, x->size, x->mtime_ns, x->ctime_ns };
	struct entry *e;
	char *p;

	if (!t || x->hash_status != PT_HASH_OK || (x->flags & (PT_EXEC_F_MEMFD | PT_EXEC_F_DELETED |
							       PT_EXEC_F_PATH_TRUNCATED)) ||
	    !x->path.len || x->path.len > PT_PATH_MAX || x->path.ptr[0] != '/')
		return;
	pthread_mutex_lock(&t->lock);
	if ((e = lookup(t, x->sha256))) {
		e->stamp = ++t->clock;
		/* the same content at the same place: nearly every exec, nothing to copy */
		if (!memcmp(&e->id, &id, sizeof(id)) && strlen(e->path) == x->path.len &&
		    !memcmp(e->path, x->path.ptr, x->path.len))
			goto out;
	} else {
		e = take(t);
		memcpy(e->sha256, x->sha256, PT_SHA256_LEN);
		e->stamp = ++t->clock;
		e->next = *bucket(t, x->sha256);
		*bucket(t, x->sha256) = e;
	}
	if ((p = malloc(x->path.len + 1))) {
		memcpy(p, x->path.ptr, x->path.len);
		p[x->path.len] = '\0';
		free(e->path);
		e->path = p;
		e->id = id;
	}
out:
	pthread_mutex_unlock(&t->lock);
}

bool pt_seen_find(struct pt_seen *t, const uint8_t sha256[PT_SHA256_LEN], char *path,
		  struct pt_file_id *id)
{
	struct entry *e;
	bool found = false;

	if (!t)
		return false;
	pthread_mutex_lock(&t->lock);
	if ((e = lookup(t, sha256)) && e->path) {
		memcpy(path, e->path, strlen(e->path) + 1);
		*id = e->id;
		found = true;
	}
	pthread_mutex_unlock(&t->lock);
	return found;
}
