/* ECS-shaped JSON for decoded records: one object per record, the contract shared by
 * `proctrail-agent --stdout`, `proctrail events --json` and the HTTP API (docs/ecs.md).
 *
 * Fields ECS defines carry their ECS type (keyword -> JSON string, long -> integer,
 * date -> RFC 3339 string); fields ECS does not define live under "proctrail.".
 * Strings are escaped; bytes that are not valid UTF-8 are written as \u00XX escapes of
 * U+FFFD so the output is always valid JSON.
 */
#ifndef PROCTRAIL_ECS_H
#define PROCTRAIL_ECS_H

#include <stdbool.h>
#include <stdint.h>

#include "proctrail/buf.h"
#include "proctrail/wire.h"

struct pt_ecs_context {
	const char *agent_id;     /* NULL: field omitted */
	const char *agent_name;   /* NULL: omitted */
	const char *host_name;    /* NULL: omitted */
	uint64_t stream_id;       /* proctrail.stream_id when has_sequence */
	uint64_t sequence;        /* event.sequence */
	bool has_sequence;
	uint64_t event_id;        /* proctrail.event_id (a string) when has_event_id: the */
	bool has_event_id;        /* collector's row id */
};

/* Appends one JSON object for r (no trailing newline) to out. Returns 0, -EMSGSIZE when out's
 * maximum is reached (out is then left as it was), or -EINVAL for PT_REC_UNKNOWN. */
int pt_ecs_format(const struct pt_record *r, const struct pt_ecs_context *ctx, struct pt_buf *out);

/* Lower-case hex of an entity id; out gets 32 characters and a NUL. */
void pt_entity_id_hex(const uint8_t id[PT_ENTITY_ID_LEN], char out[2 * PT_ENTITY_ID_LEN + 1]);

#endif
