/* The writer thread: takes jobs from the loop, runs them against the store in group
 * transactions (one COMMIT, one WAL fsync, for everything that queued up meanwhile), and hands
 * them back to the loop through an event made active from the thread (libevent_pthreads).
 *
 * The store is any backend behind struct pt_store_ops (SQLite, PostgreSQL).
 * Ownership: the writer owns the store it was given and every job between submit and the
 * done callback; the done callback owns the job it receives.
 */
#ifndef PROCTRAIL_SERVER_WRITER_H
#define PROCTRAIL_SERVER_WRITER_H

#include <event2/event.h>

#include "job.h"

struct pt_writer_thread;
typedef void (*pt_writer_done_fn)(struct pt_job *job, void *arg);

/* store is a handle of ops' backend (include/proctrail/store.h), owned from here on. */
int pt_writer_start(struct pt_writer_thread **out, struct event_base *base,
		    const struct pt_store_ops *ops, void *store, pt_writer_done_fn done, void *arg);
void pt_writer_submit(struct pt_writer_thread *w, struct pt_job *job);
/* Moves the next group's jobs from in to group: in queue order, at most 4096 jobs and 16 MiB,
 * and at most a 4 MiB share per connection (at least one job) while other connections' jobs
 * wait; a connection's jobs keep their order. group_id differs from the previous call's.
 * Returns the number moved. The writer thread's; exposed for tests. */
size_t pt_writer_take_group(struct pt_job_list *in, struct pt_job_list *group, uint64_t group_id);
/* Jobs submitted and not yet handed back. */
size_t pt_writer_pending(struct pt_writer_thread *w);
/* Runs what is queued, stops the thread, closes the store. Jobs handed back after this are
 * delivered by a final call of the done callback from the caller's thread. */
void pt_writer_stop(struct pt_writer_thread *w);

#endif
