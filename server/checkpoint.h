/* WAL checkpoints on a thread and SQLite connection of their own.
 *
 * A checkpoint copies committed pages from the WAL into the database file (read the WAL, write
 * the file, fsync it): about a sixth of the writer thread's time when it ran there, after every
 * commit (docs/benchmarks.md). Here it runs beside the writer, which only inserts and commits.
 * Durability does not depend on it: a commit is durable once its WAL frames are fsync'ed.
 *
 * The WAL can only start over from its beginning when a write transaction begins with every
 * frame already copied, which never happens while the writer is busy and the copy runs
 * concurrently; so above PT_CKPT_WAL_BYTES_MAX the writer waits for one complete pass after its
 * commit (the work it used to do itself after every commit), and the WAL is reset.
 *
 * Ownership: the checkpointer owns its connection; pt_checkpointer_stop() closes it and is
 * NULL-safe. pt_checkpointer_kick() is the store's WAL hook (store_wal.h), called on the writer
 * thread after each commit.
 */
#ifndef PROCTRAIL_SERVER_CHECKPOINT_H
#define PROCTRAIL_SERVER_CHECKPOINT_H

#include <stdint.h>

/* A pass once the WAL holds this much (what the store's automatic checkpoint of 4000 pages
 * of 4 KiB was). */
#define PT_CKPT_WAL_BYTES      (16ull << 20)
/* Over this the writer waits for the copy, so that the WAL restarts. */
#define PT_CKPT_WAL_BYTES_MAX  (256ull << 20)

struct pt_checkpointer;

/* Opens its own connection to the database at path (created already, in WAL mode). Returns 0
 * or -errno. */
int pt_checkpointer_start(struct pt_checkpointer **out, const char *path);
/* After a commit that left wal_bytes in the WAL: asks for a pass, and waits for it when the
 * WAL is over PT_CKPT_WAL_BYTES_MAX. */
void pt_checkpointer_kick(void *checkpointer, uint64_t wal_bytes);
/* Stops the thread after its current pass and closes the connection. */
void pt_checkpointer_stop(struct pt_checkpointer *c);

#endif
