/* Block by SHA-256: the agent refuses an exec before it completes, with fanotify
 * FAN_OPEN_EXEC_PERM on the file systems that hold executables (docs/sensor.md, "Blocking").
 *
 *   kernel: execve() opens the file --FAN_OPEN_EXEC_PERM--> enforcer thread
 *     fstat(event fd) -> identity cache -> else hash that fd (bounded) -> rules (sorted, bsearch)
 *     -> FAN_ALLOW / FAN_DENY (EPERM to the exec) -> an exec_blocked record to emit()
 *
 * Allow cache (docs/sensor.md, "Allow cache"): a file allowed after its hash was checked gets
 * an inode mark with FAN_OPEN_EXEC_PERM in its ignore mask (without SURV_MODIFY: the kernel
 * clears it at the next write), so its next execs make no permission event. Every policy
 * applied flushes those marks before pt_enforcer_apply() returns; the number of marks is
 * bounded (all flushed at the bound); memfds, unlinked files and files under a rule never get
 * one.
 *
 * It decides on the descriptor fanotify hands over, never on a path looked up again. With no
 * rule there is no fanotify group and no mark at all, except (hash_memfd) one mark on the
 * kernel's internal memfd file system, which only memfd execs reach.
 *
 * Fail open. A watchdog *process* (forked, sharing the fanotify descriptor) watches a heartbeat
 * the enforcer thread updates: when the thread has been stuck on one event or silent for
 * decide_ms (a hung read, a SIGSTOP of the whole agent), the watchdog answers FAN_ALLOW to the
 * pending event and to every new one until the heartbeat resumes. It dies with the agent
 * (PR_SET_PDEATHSIG), and the kernel allows every pending event when the last descriptor of the
 * group closes. Linux has no timeout of its own for permission events.
 *
 * Ownership: pt_enforcer_new() returns a handle freed by pt_enforcer_free() (NULL-safe), which
 * removes every mark. Threads: pt_enforcer_apply() from one thread (the uplink); emit() is
 * called on the enforcer thread, after the exec was answered.
 */
#ifndef PROCTRAIL_AGENT_ENFORCE_H
#define PROCTRAIL_AGENT_ENFORCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proctrail/wire.h"
#include "hash.h"

struct pt_enforce_opts {
	uint64_t hash_max_bytes;   /* 0: 256 MiB; a larger file is allowed unchecked, counted */
	unsigned decide_ms;        /* 0: 1000; the watchdog allows what waits longer */
	uint32_t max_rules;        /* 0: PT_POLICY_HASHES_MAX; a larger policy is refused whole */
	bool hash_memfd;           /* mark the memfd file system even without a policy */
	bool allow_cache;          /* ignore marks on allowed files (false: every exec asks) */
	uint32_t allow_cache_marks; /* 0: min(8192, max_user_marks / 4); all flushed at it */
};

struct pt_enforce_stats {
	uint64_t events, denied, audited, cache_hits, hashed;
	uint64_t unchecked_too_large;   /* allowed: over hash_max_bytes */
	uint64_t unchecked_error;       /* allowed: the fd could not be read or changed meanwhile */
	uint64_t watchdog_allowed;      /* allowed by the watchdog (stuck or stopped agent) */
	uint64_t memfd_hashed;
	/* the allow cache */
	uint64_t allow_marks;           /* ignore marks held now (an evicted inode drops its own) */
	uint64_t allow_marked;          /* ignore marks added */
	uint64_t allow_raced;           /* removed again: the file changed while it was marked */
	uint64_t allow_mark_failed;     /* fanotify_mark refused (the file keeps asking) */
	uint64_t allow_flush_policy;    /* flushes by a policy applied */
	uint64_t allow_flush_full;      /* flushes at the bound */
};

/* rec is valid only during the call. */
typedef void (*pt_enforce_emit_fn)(void *ctx, const struct pt_record *rec);

struct pt_enforcer;

int pt_enforcer_new(const struct pt_enforce_opts *o, pt_enforce_emit_fn emit, void *ctx,
		    struct pt_enforcer **out);
/* Replaces the rules with these (any order, duplicates allowed) as `version`. All or nothing:
 * on error (-E2BIG too many, -EPERM a guardrail, -errno from fanotify) nothing changed and
 * msg says why. n == 0 removes every mark. On success every allow-cache mark made under the
 * previous rules is gone and every exec answered from now on was decided under these. */
int pt_enforcer_apply(struct pt_enforcer *e, uint64_t version, const struct pt_policy_rule *rules,
		      uint32_t n, char *msg, size_t msglen);
/* Whether sha is under a rule now (for execs no permission event covered: the sensor's
 * records); fills the rule and the version. */
bool pt_enforcer_match(struct pt_enforcer *e, const uint8_t sha[PT_SHA256_LEN],
		       struct pt_policy_rule *rule, uint64_t *version);
/* The version enforced (0: none yet) and since when (CLOCK_REALTIME ns). */
uint64_t pt_enforcer_version(struct pt_enforcer *e, uint64_t *since_ns);
void pt_enforcer_stats(struct pt_enforcer *e, struct pt_enforce_stats *st);
void pt_enforcer_free(struct pt_enforcer *e);

/* Guardrail: the files a policy must never block on this machine (the agent, init, the
 * agent's ancestors up to init: its service manager and the shell it was started from, and
 * /bin/sh). Fills up to max hashes with their paths; returns how many. */
unsigned pt_enforce_protected(uint8_t (*sha)[PT_SHA256_LEN], char (*paths)[256], unsigned max);

/* memfd execs hashed by the enforcer, by identity, for the sensor's exec record (which cannot
 * open a memfd by path). Thread-safe; a small table, the oldest entry replaced. */
void pt_memfd_hash_put(const struct pt_file_id *id, const uint8_t sha256[PT_SHA256_LEN]);
bool pt_memfd_hash_get(const struct pt_file_id *id, uint8_t sha256[PT_SHA256_LEN]);

#endif
