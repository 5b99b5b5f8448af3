/* Collector mode: wires the sensor to the queue, the queue to the spool, the spool to the
 * uplink, and shuts them down in the order that keeps every record. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "proctrail/log.h"
#include "collector_mode.h"
#include "config.h"
#include "enforce.h"
#include "policy_file.h"
#include "control.h"
#include "queue.h"
#include "ring_id.h"
#include "sample.h"
#include "seen.h"
#include "sensor.h"
#include "signals.h"
#include "uplink.h"

struct ctx {
	struct pt_sensor *sensor;
	uint64_t ring_offset;          /* added to the sensor's ring positions (see ring_id.h) */
	struct pt_queue *q;
	struct pt_uplink *up;
	struct pt_enforcer *enf;
	struct pt_seen *seen;          /* executed files by hash: where samples come from */
	struct pt_sampler *sampler;
};

/* A blocked hash that ran anyway (an exec no permission event covers, such as a memfd's, or
 * one that raced a policy change): reported as exec_blocked "not stopped". */
static void report_not_stopped(struct ctx *c, const struct pt_exec *x)
{
	struct pt_policy_rule rule;
	uint64_t version;
	struct pt_record r = { .type = PT_REC_EXEC_BLOCKED };
	struct pt_exec_blocked *b = &r.u.blocked;

	if (!pt_enforcer_match(c->enf, x->sha256, &rule, &version) ||
	    (rule.flags & PT_RULE_F_AUDIT))
		return;
	b->time_ns = x->time_ns;
	b->pid = x->pid;
	b->ppid = x->ppid;
	b->uid = x->uid;
	b->path = x->path;
	b->comm = x->comm;
	memcpy(b->sha256, x->sha256, PT_SHA256_LEN);
	memcpy(b->entity_id, x->entity_id, PT_ENTITY_ID_LEN);
	b->size = x->size;
	b->policy_version = version;
	b->rule_id = rule.rule_id;
	b->action = PT_BLOCKED_NOT_STOPPED;
	pt_queue_push(c->q, &r, 0);
}

static int emit(void *arg, const struct pt_record *rec, uint64_t ring_pos)
{
	struct ctx *c = arg;
	/* A refused record is counted by the queue and reported; the sensor goes on. */
	pt_queue_push(c->q, rec, ring_pos ? ring_pos + c->ring_offset : 0);
	if (c->seen && rec->type == PT_REC_PROCESS_EXEC)
		pt_seen_note(c->seen, &rec->u.exec);
	if (c->enf && rec->type == PT_REC_PROCESS_EXEC && rec->u.exec.hash_status == PT_HASH_OK)
		report_not_stopped(c, &rec->u.exec);
	return 0;
}

/* exec_blocked records, from the enforcer thread (after the exec was answered). */
static void emit_blocked(void *arg, const struct pt_record *rec)
{
	struct ctx *c = arg;
	pt_queue_push(c->q, rec, 0);
}

static void on_commit(void *arg, uint64_t ring_pos)
{
	struct ctx *c = arg;
	if (c->sensor && ring_pos > c->ring_offset)
		pt_sensor_commit(c->sensor, ring_pos - c->ring_offset);
}

static void on_notify(void *arg)
{
	struct ctx *c = arg;
	if (c->up)
		pt_uplink_notify(c->up);
}

/* One line at exit that accounts for every record: what the sensor produced, what the queue
 * accepted into the stream, what it dropped (and reported). Tests compare it with the collector. */
static void log_summary(struct pt_sensor *s, struct pt_queue *q, struct pt_spool *sp)
{
	struct pt_sensor_stats st;
	uint64_t tot[PT_LOSS_COUNTER_MAX + 1];
	struct pt_spool_stats ss;

	pt_sensor_stats(s, &st);
	pt_queue_counters(q, tot);
	pt_spool_get_stats(sp, &ss);
	log_info("summary: sensor execs %llu exits %llu; stream %016llx next seq %llu acked %llu "
		 "accepted %llu; lost spool_full %llu queue_full %llu encode %llu spool_corrupt %llu "
		 "ring_full %llu; spool bytes %llu; proc_live %llu proc_seeded %llu proc_evicted %llu "
		 "parent_unknown %llu",
		 (unsigned long long)st.execs, (unsigned long long)st.exits,
		 (unsigned long long)pt_spool_stream_id(sp), (unsigned long long)pt_spool_next_seq(sp),
		 (unsigned long long)pt_spool_acked_seq(sp), (unsigned long long)pt_queue_events(q),
		 (unsigned long long)tot[PT_LOSS_SPOOL_FULL], (unsigned long long)tot[PT_LOSS_QUEUE_FULL],
		 (unsigned long long)tot[PT_LOSS_ENCODE], (unsigned long long)tot[PT_LOSS_SPOOL_CORRUPT],
		 (unsigned long long)tot[PT_LOSS_RING_FULL], (unsigned long long)ss.bytes,
		 (unsigned long long)st.proc_live, (unsigned long long)st.proc_seeded,
		 (unsigned long long)st.proc_evicted, (unsigned long long)st.parent_unknown);
}

bool pt_collector_mode_wanted(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--collector") || !strncmp(argv[i], "--collector=", 12) ||
		    !strcmp(argv[i], "--config") || !strncmp(argv[i], "--config=", 9))
			return true;
	return false;
}

int pt_collector_mode_main(int argc, char **argv)
{
	struct pt_agent_config cfg;
	struct ctx c = { 0 };
	struct pt_spool *sp = NULL;
	struct pt_agent_control *ctl = NULL;
	int rc, status = 1;

	/* Before any thread exists: only the control thread takes SIGHUP. */
	pt_agent_control_block_signals();
	log_init("proctrail-agent", 0);
	rc = pt_agent_config_load(&cfg, argc, argv);
	log_set_verbose(cfg.verbose);
	if (rc) {
		status = rc > 0 ? 0 : 2;
		goto cleanup;
	}
	if ((rc = pt_spool_open(&cfg.spool, &sp)) < 0) {
		log_warnx("spool %s: %s", cfg.spool_dir, strerror(-rc));
		goto cleanup;
	}
	if ((rc = pt_queue_new(sp, &cfg.queue, &c.q)) < 0) {
		log_warnx("queue: %s", strerror(-rc));
		goto cleanup;
	}
	/* The enforcer exists when policies or memfd hashing are on; without rules it has no
	 * permission mark on the exec path (enforce.h). */
	if (cfg.uplink.allow_policy || cfg.enforce.hash_memfd) {
		if ((rc = pt_enforcer_new(&cfg.enforce, emit_blocked, &c, &c.enf)) < 0) {
			log_warnx("enforcer: %s", strerror(-rc));
			goto cleanup;
		}
	}
	cfg.uplink.enforcer = cfg.uplink.allow_policy ? c.enf : NULL;
	/* The last policy applied, before the first exec is seen: enforced while no collector
	 * is reachable (the collector's current version replaces it at connection). */
	char policy_path[4200], msg[PT_MESSAGE_MAX];
	if (cfg.uplink.enforcer &&
	    snprintf(policy_path, sizeof(policy_path), "%s/" PT_POLICY_FILE_NAME, cfg.spool_dir) <
		    (int)sizeof(policy_path)) {
		cfg.uplink.policy_file = policy_path;
		rc = pt_policy_file_load(policy_path, c.enf, msg, sizeof(msg));
		if (rc == 0)
			log_info("policy: saved %s applied", msg);
		else if (rc != -ENOENT)
			log_warnx("policy: saved policy not applied: %s", msg[0] ? msg : strerror(-rc));
	}
	if (cfg.uplink.allow_sample &&
	    ((rc = pt_seen_new(0, &c.seen)) < 0 ||
	     (rc = pt_sampler_new(c.seen, cfg.uplink.sample_max_bytes, &c.sampler)) < 0)) {
		log_warnx("samples: %s", strerror(-rc));
		goto cleanup;
	}
	cfg.uplink.sampler = c.sampler;
	if ((rc = pt_uplink_new(&cfg.uplink, sp, c.q, &c.up)) < 0) {
		log_warnx("uplink: %s", strerror(-rc));
		goto cleanup;
	}
	if ((rc = pt_sensor_open(&cfg.sensor, emit, &c, &c.sensor)) < 0) {
		log_warnx("cannot start the sensor: %s", strerror(-rc));
		goto cleanup;
	}
	/* Events up to the spool's ring position are in the spool already (taken before a
	 * restart) -- if the ring is the same one: after a reboot or a reinstall it is new. */
	uint8_t rid[PT_SPOOL_RING_ID_LEN];
	if ((rc = pt_ring_identity(cfg.sensor.pin_dir, rid)) < 0) {
		log_warnx("ring identity: %s; treating the ring as new", strerror(-rc));
		memset(rid, 0xff, sizeof(rid));
	}
	rc = pt_spool_ring_epoch(sp, rid, &c.ring_offset);
	if (rc < 0)
		log_warnx("spool: saving the ring identity: %s", strerror(-rc));
	if (rc == 0 && pt_spool_ring_pos(sp) > c.ring_offset) {
		log_debug("resuming the kernel ring after position %llu",
			  (unsigned long long)(pt_spool_ring_pos(sp) - c.ring_offset));
		pt_sensor_skip_until(c.sensor, pt_spool_ring_pos(sp) - c.ring_offset);
	} else if (rc != 0) {
		log_info("kernel ring not seen before by this spool: reading all of it");
	}
	if ((rc = pt_queue_start(c.q, on_commit, on_notify, &c)) < 0 ||
	    (rc = pt_uplink_start(c.up)) < 0) {
		log_warnx("threads: %s", strerror(-rc));
		goto cleanup;
	}
	if ((rc = pt_agent_control_start(&cfg, argc, argv, c.up, c.q, sp, c.sensor, &ctl)) < 0) {
		log_warnx("control thread: %s", strerror(-rc));
		goto cleanup;
	}
	pt_agent_stop_on_signals(c.sensor);
	log_info("collecting: spool %s, %u collector(s), %s mode", cfg.spool_dir,
		 cfg.uplink.n_collectors, cfg.uplink.mode == PT_MODE_PULL ? "pull" : "stream");
	pt_agent_control_ready(ctl);
	rc = pt_sensor_run(c.sensor);
	pt_agent_control_stopping(ctl);
	status = rc ? 1 : 0;
	if (rc)
		log_warnx("sensor: %s", strerror(rc < 0 ? -rc : rc));
cleanup:
	pt_agent_stop_on_signals(NULL);
	/* Order: no new records (the sensor returned), everything in memory to the spool,
	 * fsync'ed and committed to the kernel ring; then the uplink, which reads the queue and
	 * the spool; then the rest. The uplink leaves nothing behind: the spool holds it all. */
	pt_queue_stop(c.q);
	if (c.sensor && c.q)
		log_summary(c.sensor, c.q, sp);
	pt_agent_control_stop(ctl);   /* writes the last metrics, so before the uplink goes */
	pt_uplink_free(c.up);
	c.up = NULL;
	pt_enforcer_free(c.enf);      /* after the uplink, which borrows it */
	c.enf = NULL;
	pt_sampler_free(c.sampler);   /* after the uplink too */
	pt_queue_free(c.q);
	pt_sensor_free(c.sensor);
	pt_seen_free(c.seen);         /* the sensor's emit notes into it: after the sensor */
	pt_spool_close(sp);
	pt_agent_config_free(&cfg);
	return status;
}
