/* The CLI's client of the collector's HTTP API (docs/api.md): where it is, the operator's
 * token, the CA to pin, and one HTTPS request per connection over OpenSSL.
 *
 * Ownership: struct cli_api owns its SSL_CTX (cli_api_close, NULL-safe). Bodies go into a
 * caller's pt_buf whose maximum bounds the answer.
 */
#ifndef PROCTRAIL_CLI_API_H
#define PROCTRAIL_CLI_API_H

#include <openssl/ssl.h>

#include "cli.h"
#include "proctrail/buf.h"
#include "proctrail/http.h"

#define CLI_TOKEN_MAX   256
#define CLI_BODY_MAX    (64u << 20)   /* one answer of the API */
#define CLI_QUERY_MAX   8192

struct cli_api_opts {
	const char *url;          /* --url */
	const char *token_file;   /* --token-file */
	const char *ca;           /* --ca */
};

struct cli_api {
	char host[256];
	char port[8];
	char prefix[512];         /* a path the API sits below ("" for the root) */
	char token[CLI_TOKEN_MAX];
	char ca[CLI_PATH_MAX];
	char url[1024];
	SSL_CTX *ctx;
	int timeout_ms;           /* connect, and each read: a silent server is an error */
};

/* Consumes --url/--token-file/--ca VALUE at argv[*a] (advancing *a): 1 when it did, 0 when
 * argv[*a] is not one of them. */
int cli_api_opt(struct cli_api_opts *o, int argc, char **argv, int *a);

/* Whether an API address is configured at all (--url, $PROCTRAIL_URL or HOME/api.url). */
int cli_api_configured(const struct cli_env *env, const struct cli_api_opts *o);

/* Finds URL (--url, $PROCTRAIL_URL, HOME/api.url), token (--token-file, $PROCTRAIL_TOKEN,
 * HOME/operators/local.token) and CA (--ca, HOME/pki/ca.crt), and builds the TLS context.
 * 0 or -errno, with a message on stderr naming what is missing. */
int cli_api_open(struct cli_api *api, const struct cli_env *env, const struct cli_api_opts *o);
void cli_api_close(struct cli_api *api);

/* GET prefix+path (path holds its query, already encoded). The body goes into body (reset
 * first). Returns the HTTP status, or -errno (connection, TLS, protocol or size). */
int cli_api_get(struct cli_api *api, const char *path, struct pt_buf *body);

/* POST json (a small JSON document) to prefix+path; as cli_api_get otherwise. */
int cli_api_post(struct cli_api *api, const char *path, const char *json, struct pt_buf *body);

/* GET an event stream: each event to fn until the server closes, fn returns non-zero, or an
 * error. last_id (may be NULL) is sent as Last-Event-ID. Returns 0 when the server closed,
 * the status when it was not 200, fn's return, or -errno. */
int cli_api_stream(struct cli_api *api, const char *path, const char *last_id,
		   pt_sse_event_fn fn, void *arg);

/* For a failed answer: prints "proctrail CMD: STATUS MESSAGE" (the API's "error" text,
 * escaped) to stderr. Returns 1 (the exit status). */
int cli_api_fail(const char *cmd, int status, const struct pt_buf *body);

/* Appends "&name=value" (or "?name=value" to a path without '?') percent-encoded to q.
 * 0, or -EMSGSIZE past CLI_QUERY_MAX. */
int cli_query_add(char *q, size_t cap, const char *name, const char *value);

#endif
