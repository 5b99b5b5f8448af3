#include <errno.h>
#include <stdlib.h>

#include "detect.h"
#include "job.h"
#include "session.h"

int pt_job_exec(const struct pt_store_ops *ops, void *store, struct pt_job *job)
{
	int ret = 0;

	switch (job->type) {
	case PT_JOB_HELLO:
		return ops->hello(store, &job->hello, job->now_ns, &job->hello_res);
	case PT_JOB_BATCH:
		ret = ops->batch(store, &job->batch, job->now_ns, &job->batch_res);
		if (!ret && job->n_unknown)
			ret = ops->counters_add(store, job->agent, job->unknown, job->n_unknown);
		return ret;
	case PT_JOB_PONG:
		if (job->has_pong)
			ret = ops->pong(store, job->agent, &job->pong, job->now_ns);
		if (!ret && job->n_counters)
			ret = ops->counters_add(store, job->agent, job->counters, job->n_counters);
		return ret;
	case PT_JOB_HEALTH:
		return ops->health(store, job->agent, job->health, job->now_ns);
	}
	return -EINVAL;
}

int pt_job_run(struct pt_store *store, struct pt_job *job)
{
	return pt_job_exec(&pt_store_sqlite_ops, store, job);
}

void pt_job_free(struct pt_job *job)
{
	if (!job)
		return;
	free(job->raw);
	free(job->ev);
	free(job->alerts);
	pt_detect_rules_unref(job->rules);
	pt_session_unref(job->sess);
	free(job);
}
