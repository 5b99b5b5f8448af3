/* Versioned block policies of the collector, in its SQLite database (docs/policy.md).
 *
 * Every change (block, unblock) makes a new version. A rule names a SHA-256, an optional
 * agent (NULL: every agent), audit or enforce, a reason and the operator; it is active from
 * the version that added it until the version that removed it. The collector sends each agent
 * the rules of the newest version that concern it (POLICY), and keeps what each agent answered
 * (POLICY_RESULT) in agent_policy.
 *
 * These functions are the whole policy logic; the CLI and the HTTP API are thin layers on top.
 * They take a caller-owned SQLite handle (one thread at a time) and return 0 or -errno, with a
 * message for an operator in err (bad hash, guardrail, ...).
 */
#ifndef PROCTRAIL_POLICY_H
#define PROCTRAIL_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proctrail/wire.h"

struct sqlite3;

#define PT_POLICY_REASON_MAX 512u

/* Creates the tables if missing. */
int pt_policy_schema(struct sqlite3 *db);

/* Parses 64 hex digits (either case); -EINVAL with a message otherwise. */
int pt_policy_parse_sha256(const char *hex, uint8_t out[PT_SHA256_LEN], char *err, size_t errlen);

/* Refuses (-EPERM, message naming the file) a hash of what a machine needs to run the agent:
 * the calling program and its ancestors up to init (the shell it runs from, the service
 * manager), init, /bin/sh, and the proctrail programs beside the calling one. Agents apply
 * the same guardrail on their side. */
int pt_policy_guardrail(const uint8_t sha[PT_SHA256_LEN], char *err, size_t errlen);
/* Hashes those files now, for a process that cannot read them later (the confined collector);
 * pt_policy_guardrail() then compares with these. Call once, before threads start. -ENOENT
 * when none could be read. */
int pt_policy_guardrail_init(void);

struct pt_policy_change {
	const char *sha256_hex;
	const char *reason;        /* block: required, printable, <= PT_POLICY_REASON_MAX */
	const char *agent;         /* NULL: every agent */
	bool audit;                /* report "would have blocked", allow */
	const char *operator_name; /* who asked */
};
/* New version with the rule added (replacing an active rule of the same hash and agent). */
int pt_policy_block(struct sqlite3 *db, const struct pt_policy_change *c, uint64_t now_ns,
		    uint64_t *version, char *err, size_t errlen);
/* New version without the active rules of that hash (for that agent only, if given);
 * -ENOENT when none is active. */
int pt_policy_unblock(struct sqlite3 *db, const struct pt_policy_change *c, uint64_t now_ns,
		      uint64_t *version, char *err, size_t errlen);

/* The newest version (0: none ever made). */
int pt_policy_version(struct sqlite3 *db, uint64_t *version);

struct pt_policy_rule_info {
	uint64_t id, added_version;
	uint8_t sha256[PT_SHA256_LEN];
	const char *agent;         /* NULL: all; views valid during the callback only */
	const char *reason, *operator_name;
	bool audit;
	uint64_t created_ns;
};
typedef int (*pt_policy_rule_fn)(void *ctx, const struct pt_policy_rule_info *r);
/* Active rules of the newest version, in id order. A non-zero return of fn stops and is
 * returned. */
int pt_policy_list(struct sqlite3 *db, pt_policy_rule_fn fn, void *ctx);

/* The rules that concern agent `name` at `version` (malloc'ed, caller frees; *n may be 0). */
int pt_policy_rules_for(struct sqlite3 *db, const char *name, uint64_t version,
			struct pt_policy_rule **rules, uint32_t *n);

/* What an agent answered: code 0 moves its enforced version (and since when, if it changed);
 * otherwise the refusal is kept beside the version it still enforces. */
int pt_policy_result_store(struct sqlite3 *db, const char *agent, uint64_t version,
			   uint32_t code, const char *message, uint64_t now_ns);

#endif
