/* The policy the agent enforces, kept on disk beside its spool, so that an agent restarted
 * while its collector is unreachable goes on enforcing the last version it applied (the
 * collector sends the current one again at connection).
 *
 * The file holds one POLICY frame as on the wire (docs/wire-format.md), written to a temporary
 * file, fsync'ed and renamed over the old one; it is read back with lib/wire's decoder and its
 * bounds, so a damaged file is refused whole (and logged), never half-applied. */
#ifndef PROCTRAIL_AGENT_POLICY_FILE_H
#define PROCTRAIL_AGENT_POLICY_FILE_H

#include <stdint.h>

#include "proctrail/wire.h"
#include "enforce.h"

#define PT_POLICY_FILE_NAME "policy.frame"

/* Writes the rules as version's POLICY frame to path. 0 or -errno. */
int pt_policy_file_save(const char *path, uint64_t version, const struct pt_policy_rule *rules,
			uint32_t n);
/* Applies the saved policy to e. 0 (also when there is none: -ENOENT is not an error to the
 * caller, who logs what it gets), or -errno with msg. */
int pt_policy_file_load(const char *path, struct pt_enforcer *e, char *msg, size_t msglen);

#endif
