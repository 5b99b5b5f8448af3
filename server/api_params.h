/* The HTTP API's query parameters: times (RFC 3339 or a relative age), opaque cursors, the
 * event filters and the test of one stored record against them. Pure: no I/O, no allocation;
 * fuzzed by tests/fuzz/fuzz_api_params.c.
 *
 * A filter's strings point into the parsed query (struct evkeyvalq): valid while it lives. */
#ifndef PROCTRAIL_SERVER_API_PARAMS_H
#define PROCTRAIL_SERVER_API_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proctrail/wire.h"

struct evkeyvalq;

#define PT_API_LIMIT_MAX      1000u
#define PT_API_LIMIT_DEFAULT  100u
#define PT_API_VALUE_MAX      4096u    /* bytes of any one parameter value */
#define PT_API_PARAMS_MAX     32u      /* parameters in one query */

/* Which parameters an endpoint takes. */
enum pt_api_params {
	PT_API_P_EVENTS = 1,       /* filters + limit + cursor */
	PT_API_P_STREAM,           /* filters only */
	PT_API_P_BINARIES,         /* max_hosts, since, sha256, limit, cursor */
	PT_API_P_NONE,             /* no parameter at all */
	PT_API_P_ALERTS,           /* rule, level, agent, from, to, limit, cursor */
	PT_API_P_ALERT_STREAM,     /* rule, level, agent */
};

enum pt_api_filter_bits {
	PT_F_AGENT = 1u << 0, PT_F_HOST = 1u << 1, PT_F_FROM = 1u << 2, PT_F_TO = 1u << 3,
	PT_F_PID = 1u << 4, PT_F_ENTITY = 1u << 5, PT_F_EXE = 1u << 6, PT_F_EXE_PREFIX = 1u << 7,
	PT_F_EXE_GLOB = 1u << 8, PT_F_NAME = 1u << 9, PT_F_USER = 1u << 10, PT_F_ACTION = 1u << 11,
	PT_F_SHA256 = 1u << 12, PT_F_CMDLINE = 1u << 13, PT_F_CURSOR = 1u << 14,
	PT_F_MAX_HOSTS = 1u << 15, PT_F_SINCE = 1u << 16, PT_F_RULE = 1u << 17, PT_F_LEVEL = 1u << 18,
};

struct pt_api_filter {
	unsigned set;                      /* PT_F_* given */
	const char *agent, *host, *exe, *exe_prefix, *exe_glob, *name, *user, *cmdline;
	const char *rule, *level;          /* alerts: a rule id, a rule level */
	size_t exe_prefix_len, cmdline_len;
	uint64_t from_ns, to_ns, since_ns;
	uint32_t pid, uid;
	bool user_is_id;                   /* user was all digits: compared with the uid */
	uint8_t entity[PT_ENTITY_ID_LEN], sha[PT_SHA256_LEN];
	uint16_t action;                   /* pt_record_type */
	unsigned limit;
	uint64_t max_hosts;
	/* cursors: events continue below event id `cursor`; binaries after (hosts, first_seen,
	 * sha) in their order */
	uint64_t cursor;
	uint64_t cur_hosts, cur_first;
	uint8_t cur_sha[PT_SHA256_LEN];
};

/* One stored event as the filters see it. */
struct pt_api_row {
	uint64_t id, time_ns;
	const struct pt_record *r;
	const char *agent, *host;          /* NULL when unknown */
};

/* RFC 3339 (`2026-12-03T14:00:00Z`, `...14:00:00.5+01:00`, seconds required, fraction up to
 * 9 digits) or a relative age before now (`30s`, `15m`, `1h`, `7d`; 1..10 digits). 0 or
 * -EINVAL. */
int pt_api_time_parse(const char *s, uint64_t now_ns, uint64_t *out_ns);

/* Cursors are opaque to clients: "e" + 16 hex digits (events), "b" + hosts, first_seen and
 * sha256 in hex (binaries). Parsers return 0 or -EINVAL. */
#define PT_API_CURSOR_MAX 128
void pt_api_cursor_events(uint64_t id, char out[PT_API_CURSOR_MAX]);
int pt_api_cursor_events_parse(const char *s, uint64_t *id);
void pt_api_cursor_binaries(uint64_t hosts, uint64_t first_ns, const uint8_t sha[PT_SHA256_LEN],
			    char out[PT_API_CURSOR_MAX]);
int pt_api_cursor_binaries_parse(const char *s, uint64_t *hosts, uint64_t *first_ns,
				 uint8_t sha[PT_SHA256_LEN]);

/* "exec", "exit", "exec_blocked", "loss", "agent_status" -> record type; 0 if none. */
uint16_t pt_api_action_parse(const char *s);

/* Fills f from the query for the endpoint kind. Unknown, repeated, empty-when-not-allowed or
 * too long parameters are errors: -EINVAL with a message naming the parameter in err. */
int pt_api_filter_parse(struct pt_api_filter *f, const struct evkeyvalq *q, enum pt_api_params kind,
			uint64_t now_ns, char *err, size_t errlen);

/* Whether the row passes every filter of f (cursor and limit aside). */
bool pt_api_filter_match(const struct pt_api_filter *f, const struct pt_api_row *row);

/* process.command_line of an exec: its args joined by single spaces, into out (NUL-terminated,
 * cut at outlen - 1). Returns the length written. */
size_t pt_api_cmdline(const struct pt_exec *x, char *out, size_t outlen);

/* Whether f's command-line substring can be looked up in the FTS5 trigram index (cmdline_fts):
 * 3 bytes or more, all ASCII. Otherwise the API scans the distinct command lines. */
bool pt_api_cmdline_indexed(const struct pt_api_filter *f);

#endif
