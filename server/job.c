#include <errno.h>
#include <stdlib.h>

#include "job.h"
#include "session.h"

int pt_job_run(struct pt_store *store, struct pt_job *job)
{
	switch (job->type) {
	case PT_JOB_HELLO:
		return pt_store_hello(store, &job->hello, job->now_ns, &job->hello_res);
	case PT_JOB_BATCH:
		return pt_store_batch(store, &job->batch, job->now_ns, &job->batch_res);
	case PT_JOB_PONG:
		return pt_store_pong(store, job->agent, &job->pong, job->now_ns);
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
	pt_session_unref(job->sess);
	free(job);
}
