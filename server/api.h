/* The collector's HTTP API (docs/api.md): evhttp over TLS (bufferevent_openssl) on its own
 * event base and thread, reading the database through its own read-only SQLite connection.
 *
 * Lifecycle: pt_api_open() binds and loads the certificate (before the privilege drop and the
 * confinement: binding is then no longer allowed); pt_api_start() opens the database and starts
 * the thread; pt_api_free() stops and frees, NULL-safe. The server owns the handle. */
#ifndef PROCTRAIL_SERVER_API_H
#define PROCTRAIL_SERVER_API_H

#include "config.h"
#include "proctrail/buf.h"

struct pt_api;

int pt_api_open(struct pt_api **out, const struct pt_server_config *cfg);
int pt_api_start(struct pt_api *a);
void pt_api_free(struct pt_api *a);
/* GET /metrics (same authentication as /api/, any role) answers with what fn writes into out
 * (Prometheus text format), called on the API's thread; before it is set, 404. */
void pt_api_set_metrics(struct pt_api *a,
			int (*fn)(void *arg, struct pt_buf *out, unsigned timeout_ms), void *arg);

/* /api/v1/rules (server/api_rules.c): state appends the rule set's state object, reload
 * reloads --rules DIR as SIGHUP does; both called on the API's thread. Before it is set (no
 * --rules), the endpoints answer 409. */
void pt_api_set_rules(struct pt_api *a, int (*state)(void *arg, struct pt_buf *out),
		      int (*reload)(void *arg, const char *why), void *arg);

#endif
