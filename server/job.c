#include <errno.h>
#include <stdlib.h>

#include "detect.h"
#include "job.h"
#include "session.h"

int pt_job_run(struct pt_store *store, struct pt_job *job)
{
	int ret = 0;

	switch (job->type) {
	case PT_JOB_HELLO:
		return pt_store_hello(store, &job->hello, job->now_ns, &job->hello_res);
	case PT_JOB_BATCH:
		ret = pt_store_batch(store, &job->batch, job->now_ns, &job->batch_res);
		if (!ret && job->n_unknown)
			ret = pt_store_counters_add(store, job->agent, job->unknown, job->n_unknown);
		return ret;
	case PT_JOB_PONG:
		if (job->has_pong)
			ret = pt_store_pong(store, job->agent, &job->pong, job->now_ns);
		if (!ret && job->n_counters)
			ret = pt_store_counters_add(store, job->agent, job->counters, job->n_counters);
		return ret;
	case PT_JOB_HEALTH:
		return pt_store_health(store, job->agent, job->health, job->now_ns);
	}
	return -EINVAL;
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
