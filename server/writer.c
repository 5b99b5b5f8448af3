#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proctrail/log.h"
#include "proctrail/store.h"
#include "session.h"
#include "writer.h"

/* One transaction holds at most this much, so a commit (and the ACKs behind it) is never
 * delayed by an unbounded group. 16 MiB of batches keep a group's dirty pages
 * well inside the store's 64 MiB page cache; 64 MiB groups did not, and cost about 8 % more
 * writer CPU with 100 connections (docs/benchmarks.md), with ACKs later and in bursts. */
#define GROUP_JOBS_MAX   4096
#define GROUP_BYTES_MAX  (16u << 20)
/* One connection's share of a group (it always gets at least one job in): its further jobs
 * wait for the next group, and the other connections' jobs queued behind them go first. */
#define GROUP_CONN_BYTES_MAX (4u << 20)

struct pt_writer_thread {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct pt_job_list in, done;
	size_t pending;
	int stop;
	uint64_t unindexed, groups;
	const struct pt_store_ops *ops;
	void *store;
	struct event *done_ev;
	pt_writer_done_fn done_fn;
	void *arg;
};

/* The pid lookup table is filled in bulk, sorted, in its own transaction: when enough events
 * are waiting, or when the writer has nothing else to do. */
static void run_index(struct pt_writer_thread *w)
{
	uint64_t n = 0;
	int ret;

	if (!w->ops->index) {    /* a backend without lookup tables behind the writer */
		w->unindexed = 0;
		return;
	}
	ret = w->ops->begin(w->store);
	if (!ret)
		ret = w->ops->index(w->store, 4 * PT_STORE_INDEX_EVERY, &n);
	if (!ret)
		ret = w->ops->commit(w->store);
	if (ret) {
		log_warnx("pid index update failed: %s", strerror(-ret));
		w->ops->rollback(w->store);
		return;
	}
	/* Fewer than asked for: caught up with every committed event. */
	w->unindexed = n < 4 * PT_STORE_INDEX_EVERY ? 0 : w->unindexed - (n < w->unindexed ? n : w->unindexed);
}

static void run_group(struct pt_writer_thread *w, struct pt_job_list *group)
{
	struct pt_job *job;
	int ret = w->ops->begin(w->store);

	TAILQ_FOREACH(job, group, link) {
		job->ret = ret ? ret : pt_job_exec(w->ops, w->store, job);
		if (job->type == PT_JOB_BATCH && !job->ret)
			w->unindexed += job->batch_res.inserted;
	}
	if (!ret)
		ret = w->ops->commit(w->store);
	if (ret) {
		/* Nothing of the group is durable: no job may be acknowledged. */
		log_warnx("store transaction failed: %s", strerror(-ret));
		w->ops->rollback(w->store);
		TAILQ_FOREACH(job, group, link)
			job->ret = ret;
	}
}

/* Whether job may join the group being formed: in queue order per connection (a connection
 * held back once stays held back for this group, so its jobs, and so its ACKs, keep their
 * order), and within that connection's share. */
static bool take_job(struct pt_job *job, uint64_t group_id)
{
	struct pt_session *s = job->sess;

	if (s->wr_group != group_id) {
		s->wr_group = group_id;
		s->wr_bytes = 0;
		s->wr_held = false;
	}
	if (s->wr_held || (s->wr_bytes && s->wr_bytes + job->bytes > GROUP_CONN_BYTES_MAX)) {
		s->wr_held = true;
		return false;
	}
	s->wr_bytes += job->bytes;
	return true;
}

size_t pt_writer_take_group(struct pt_job_list *in, struct pt_job_list *group, uint64_t group_id)
{
	struct pt_job *job, *next;
	size_t n = 0, bytes = 0;

	for (job = TAILQ_FIRST(in); job && n < GROUP_JOBS_MAX; job = next) {
		next = TAILQ_NEXT(job, link);
		if (n && bytes + job->bytes > GROUP_BYTES_MAX)
			break;
		if (!take_job(job, group_id))
			continue;
		TAILQ_REMOVE(in, job, link);
		TAILQ_INSERT_TAIL(group, job, link);
		n++;
		bytes += job->bytes;
	}
	return n;
}

static void *writer_main(void *arg)
{
	struct pt_writer_thread *w = arg;
	struct pt_job_list group;
	struct timespec until;

	pthread_mutex_lock(&w->mu);
	w->unindexed = 1;      /* catch up on whatever a previous run left unindexed */
	for (;;) {
		while (TAILQ_EMPTY(&w->in) && !w->stop) {
			if (w->unindexed) {
				clock_gettime(CLOCK_REALTIME, &until);
				until.tv_sec += 1;
				if (pthread_cond_timedwait(&w->cv, &w->mu, &until) == ETIMEDOUT &&
				    TAILQ_EMPTY(&w->in)) {
					pthread_mutex_unlock(&w->mu);
					run_index(w);
					pthread_mutex_lock(&w->mu);
				}
				continue;
			}
			pthread_cond_wait(&w->cv, &w->mu);
		}
		if (TAILQ_EMPTY(&w->in) && w->stop)
			break;
		TAILQ_INIT(&group);
		pt_writer_take_group(&w->in, &group, ++w->groups);
		pthread_mutex_unlock(&w->mu);
		run_group(w, &group);
		pthread_mutex_lock(&w->mu);
		TAILQ_CONCAT(&w->done, &group, link);
		event_active(w->done_ev, EV_READ, 0);
		if (w->unindexed >= PT_STORE_INDEX_EVERY) {
			pthread_mutex_unlock(&w->mu);
			run_index(w);
			pthread_mutex_lock(&w->mu);
		}
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static void deliver(struct pt_writer_thread *w)
{
	struct pt_job_list done;
	struct pt_job *job;

	TAILQ_INIT(&done);
	pthread_mutex_lock(&w->mu);
	TAILQ_CONCAT(&done, &w->done, link);
	pthread_mutex_unlock(&w->mu);
	while ((job = TAILQ_FIRST(&done))) {
		TAILQ_REMOVE(&done, job, link);
		pthread_mutex_lock(&w->mu);
		w->pending--;
		pthread_mutex_unlock(&w->mu);
		w->done_fn(job, w->arg);
	}
}

static void done_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	deliver(arg);
}

int pt_writer_start(struct pt_writer_thread **out, struct event_base *base,
		    const struct pt_store_ops *ops, void *store, pt_writer_done_fn done, void *arg)
{
	struct pt_writer_thread *w = calloc(1, sizeof(*w));
	int ret;

	*out = NULL;
	if (!w)
		return -ENOMEM;
	TAILQ_INIT(&w->in);
	TAILQ_INIT(&w->done);
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	w->ops = ops;
	w->store = store;
	w->done_fn = done;
	w->arg = arg;
	w->done_ev = event_new(base, -1, 0, done_cb, w);
	if (!w->done_ev) {
		free(w);
		return -ENOMEM;
	}
	ret = -pthread_create(&w->thread, NULL, writer_main, w);
	if (ret) {
		event_free(w->done_ev);
		free(w);
		return ret;
	}
	*out = w;
	return 0;
}

void pt_writer_submit(struct pt_writer_thread *w, struct pt_job *job)
{
	pthread_mutex_lock(&w->mu);
	TAILQ_INSERT_TAIL(&w->in, job, link);
	w->pending++;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

size_t pt_writer_pending(struct pt_writer_thread *w)
{
	size_t n;

	pthread_mutex_lock(&w->mu);
	n = w->pending;
	pthread_mutex_unlock(&w->mu);
	return n;
}

void pt_writer_stop(struct pt_writer_thread *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	deliver(w);
	event_free(w->done_ev);
	w->ops->close(w->store);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w);
}
