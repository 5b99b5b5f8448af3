#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include <sqlite3.h>

#include "proctrail/log.h"
#include "checkpoint.h"

struct pt_checkpointer {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;              /* work asked for, or stop */
	pthread_cond_t done_cv;         /* a pass finished */
	uint64_t wanted, done;          /* passes asked for / completed, by generation */
	int stop, failed_logged;
	sqlite3 *db;
};

static void *checkpointer_main(void *arg)
{
	struct pt_checkpointer *c = arg;
	uint64_t gen;
	int rc, log_pages, ckpt_pages;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (c->done == c->wanted && !c->stop)
			pthread_cond_wait(&c->cv, &c->mu);
		if (c->stop)
			break;
		gen = c->wanted;
		pthread_mutex_unlock(&c->mu);
		/* PASSIVE: never waits for the writer or for readers, copies what it can. */
		rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log_pages,
					       &ckpt_pages);
		if (rc != SQLITE_OK && rc != SQLITE_BUSY && !c->failed_logged) {
			log_warnx("WAL checkpoint failed: %s (the WAL grows until one succeeds)",
				  sqlite3_errmsg(c->db));
			c->failed_logged = 1;
		}
		pthread_mutex_lock(&c->mu);
		c->done = gen;
		pthread_cond_broadcast(&c->done_cv);
	}
	/* Nobody waits for a pass that will not run. */
	c->done = c->wanted;
	pthread_cond_broadcast(&c->done_cv);
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

int pt_checkpointer_start(struct pt_checkpointer **out, const char *path)
{
	struct pt_checkpointer *c = calloc(1, sizeof(*c));
	char *msg = NULL;
	int ret = -EIO;

	*out = NULL;
	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	pthread_cond_init(&c->done_cv, NULL);
	if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		log_warnx("%s: open for checkpoints: %s", path, sqlite3_errmsg(c->db));
		goto out;
	}
	/* The database file is fsync'ed before the WAL may be reused (as with the store's own
	 * connection). */
	if (sqlite3_exec(c->db, "PRAGMA synchronous=FULL", NULL, NULL, &msg) != SQLITE_OK) {
		log_warnx("%s: %s", path, msg ? msg : "?");
		sqlite3_free(msg);
		goto out;
	}
	ret = -pthread_create(&c->thread, NULL, checkpointer_main, c);
out:
	if (ret) {
		sqlite3_close(c->db);
		pthread_mutex_destroy(&c->mu);
		pthread_cond_destroy(&c->cv);
		pthread_cond_destroy(&c->done_cv);
		free(c);
	} else {
		*out = c;
	}
	return ret;
}

void pt_checkpointer_kick(void *checkpointer, uint64_t wal_bytes)
{
	struct pt_checkpointer *c = checkpointer;
	uint64_t gen;

	if (wal_bytes < PT_CKPT_WAL_BYTES)
		return;
	pthread_mutex_lock(&c->mu);
	gen = ++c->wanted;
	pthread_cond_signal(&c->cv);
	/* The pass asked for now starts after this commit, so it copies the whole WAL; then the
	 * writer's next transaction begins with nothing left to copy and rewinds the WAL. */
	while (wal_bytes >= PT_CKPT_WAL_BYTES_MAX && c->done < gen)
		pthread_cond_wait(&c->done_cv, &c->mu);
	pthread_mutex_unlock(&c->mu);
}

void pt_checkpointer_stop(struct pt_checkpointer *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	c->stop = 1;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->thread, NULL);
	sqlite3_close(c->db);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	pthread_cond_destroy(&c->done_cv);
	free(c);
}
