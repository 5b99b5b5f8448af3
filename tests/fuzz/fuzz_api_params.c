/* libFuzzer harness for the HTTP API's query parameters: the input is a query string, parsed
 * by libevent into pairs and then by api_params.c for each endpoint kind; whatever parses is
 * tested against a record and its cursors must round-trip. Never a crash or a leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "../../server/api_params.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char argv[] = "/bin/sh\0-c\0echo hi\0";
	struct pt_record r = { .type = PT_REC_PROCESS_EXEC };
	struct pt_api_row row = { .id = 1, .time_ns = 1, .r = &r, .agent = "a", .host = "h" };
	char *qs = malloc(size + 1), err[256], cur[PT_API_CURSOR_MAX];
	struct evkeyvalq q;
	struct pt_api_filter f;
	uint64_t id, h, t;
	uint8_t sha[32];

	if (!qs)
		return 0;
	memcpy(qs, data, size);
	qs[size] = 0;
	r.u.exec.path = (struct pt_str){ "/bin/sh", 7 };
	r.u.exec.argv = (struct pt_str){ argv, sizeof(argv) - 1 };
	for (int kind = PT_API_P_EVENTS; kind <= PT_API_P_NONE; kind++) {
		TAILQ_INIT(&q);
		if (evhttp_parse_query_str(qs, &q) == 0 &&
		    pt_api_filter_parse(&f, &q, kind, 1796306400000000000ull, err, sizeof(err)) == 0) {
			if (f.limit < 1 || f.limit > PT_API_LIMIT_MAX)
				abort();
			(void)pt_api_filter_match(&f, &row);
			if (f.set & PT_F_CURSOR) {
				if (kind == PT_API_P_BINARIES) {
					pt_api_cursor_binaries(f.cur_hosts, f.cur_first, f.cur_sha, cur);
					if (pt_api_cursor_binaries_parse(cur, &h, &t, sha) ||
					    h != f.cur_hosts || t != f.cur_first)
						abort();
				} else {
					pt_api_cursor_events(f.cursor, cur);
					if (pt_api_cursor_events_parse(cur, &id) || id != f.cursor)
						abort();
				}
			}
		} else if (!memchr(err, 0, sizeof(err))) {
			abort();
		}
		evhttp_clear_headers(&q);
	}
	(void)pt_api_time_parse(qs, 1796306400000000000ull, &t);
	free(qs);
	return 0;
}
