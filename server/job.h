/* Work for the store's writer thread, and its answer.
 *
 * A job is made by a session on the event-loop thread, run by pt_job_run() on the writer thread
 * inside a group transaction, and handed back to the loop once that transaction committed
 * (ret 0) or failed (ret < 0). Ownership: the job owns its copies (raw, ev, strings) and one
 * reference on its session; pt_job_free() releases all of it and is NULL-safe.
 */
#ifndef PROCTRAIL_SERVER_JOB_H
#define PROCTRAIL_SERVER_JOB_H

#include <sys/queue.h>

#include "proctrail/store.h"
#include "proctrail/wire.h"

struct pt_session;
struct pt_detect_rules;

/* Distinct unknown record types counted one by one per batch; the rest are counted together
 * under PT_SRV_UNKNOWN_RECORD_BASE + 0 (type 0 is never sent). */
#define PT_JOB_UNKNOWN_TYPES_MAX 8

enum pt_job_type { PT_JOB_HELLO, PT_JOB_BATCH, PT_JOB_PONG, PT_JOB_HEALTH };

struct pt_job {
	TAILQ_ENTRY(pt_job) link;
	enum pt_job_type type;
	struct pt_session *sess;
	int ret;
	uint64_t now_ns;
	size_t bytes;                  /* memory held, for the writer's bound */
	/* HELLO */
	struct pt_store_hello hello;
	char agent_name[PT_NAME_MAX + 1], hostname[PT_NAME_MAX + 1], version[PT_NAME_MAX + 1];
	char address[64];
	uint8_t boot_id[PT_BOOT_ID_LEN];
	struct pt_store_hello_result hello_res;
	/* BATCH */
	struct pt_store_batch batch;
	uint8_t *raw;
	struct pt_store_event *ev;
	struct pt_store_batch_result batch_res;
	/* Sigma matches made by the session (batch.alerts), naming rules of the set held */
	struct pt_store_alert *alerts;
	uint32_t n_alerts, cap_alerts;
	struct pt_detect_rules *rules;
	/* Records of unknown types in the batch, per type (stored with it) */
	struct pt_store_counter unknown[PT_JOB_UNKNOWN_TYPES_MAX];
	uint32_t n_unknown;
	/* PONG (pong when has_pong, then the collector's counters), HEALTH */
	int64_t agent;
	bool has_pong;
	struct pt_pong pong;
	struct pt_store_counter counters[PT_SRV_COUNTER_END - PT_SRV_COUNTER_BASE];
	uint32_t n_counters;
	const char *health;            /* static string */
};

TAILQ_HEAD(pt_job_list, pt_job);

/* Runs job against a backend (include/proctrail/store.h); pt_job_run() on a SQLite store. */
int pt_job_exec(const struct pt_store_ops *ops, void *store, struct pt_job *job);
int pt_job_run(struct pt_store *store, struct pt_job *job);
void pt_job_free(struct pt_job *job);

#endif
