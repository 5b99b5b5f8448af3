/* The writer thread: takes jobs from the loop, runs them against the store in group
 * transactions (one COMMIT, one WAL fsync, for everything that queued up meanwhile), and hands
 * them back to the loop through an event made active from the thread (libevent_pthreads).
 *
 * Ownership: the writer owns the store it was given and every job between submit and the
 * done callback; the done callback owns the job it receives.
 */
#ifndef PROCTRAIL_SERVER_WRITER_H
#define PROCTRAIL_SERVER_WRITER_H

#include <event2/event.h>

#include "job.h"

struct pt_writer_thread;
typedef void (*pt_writer_done_fn)(struct pt_job *job, void *arg);

int pt_writer_start(struct pt_writer_thread **out, struct event_base *base, struct pt_store *store,
		    pt_writer_done_fn done, void *arg);
void pt_writer_submit(struct pt_writer_thread *w, struct pt_job *job);
/* Jobs submitted and not yet handed back. */
size_t pt_writer_pending(struct pt_writer_thread *w);
/* Runs what is queued, stops the thread, closes the store. Jobs handed back after this are
 * delivered by a final call of the done callback from the caller's thread. */
void pt_writer_stop(struct pt_writer_thread *w);

#endif
