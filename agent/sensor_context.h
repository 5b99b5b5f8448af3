/* The context of each record, added on the sensor's reading thread in kernel order: the
 * parent's executable and arguments, the session and entry leaders, user and group names, an
 * exit's executable. Backed by the process table (proctable.h) and the user cache (users.h).
 *
 * A record's context strings point into images the record holds references to (struct
 * pt_context_hold), so they stay valid until the record is emitted even when the process has
 * exited since; pt_context_release() drops them.
 *
 * Ownership: pt_context_new() returns a handle freed by pt_context_free() (NULL-safe).
 */
#ifndef PROCTRAIL_AGENT_SENSOR_CONTEXT_H
#define PROCTRAIL_AGENT_SENSOR_CONTEXT_H

#include <stdint.h>

#include "proctable.h"
#include "sensor_decode.h"
#include "users.h"

#define PT_CONTEXT_NAMES 5

struct pt_context_hold {
	struct pt_image *img[4];   /* parent, session leader, entry leader, the exiting process */
	char names[PT_CONTEXT_NAMES][PT_USER_NAME_MAX + 1];
};

struct pt_context_stats {
	struct pt_proctable_stats table;
	uint64_t parent_unknown;   /* execs whose parent the table did not have */
	uint64_t user_reloads;
};

struct pt_context;

/* table_max 0: the default. passwd/group NULL: /etc's. Seeds the table from /proc. */
int pt_context_new(uint32_t table_max, const char *passwd, const char *group,
		   struct pt_context **out);
void pt_context_free(struct pt_context *c);

/* Applies a decoded record to the table and completes its context; the hold must be released
 * once the record is no longer needed. Fork records only feed the table. now_ns: monotonic,
 * for the user cache's re-read. */
void pt_context_apply(struct pt_context *c, struct pt_sensor_decoded *d,
		      struct pt_context_hold *h, uint64_t now_ns);
void pt_context_release(struct pt_context_hold *h);
void pt_context_stats(const struct pt_context *c, struct pt_context_stats *st);

#endif
