/* The web console's files, built into the collector (scripts/embed-web.py turns web/ into
 * build/gen/console_files.c) and served by the API's listener under / and /assets/. */
#ifndef PROCTRAIL_SERVER_CONSOLE_H
#define PROCTRAIL_SERVER_CONSOLE_H

#include <stddef.h>

struct evhttp_request;

struct console_file {
	const char *path;          /* "/" or "/assets/NAME" */
	const char *content_type;
	const unsigned char *data;
	size_t len;
};

/* The table, ended by an entry with a NULL path. */
extern const struct console_file console_files[];

/* The policy every console page carries (docs/api.md). */
#define CONSOLE_CSP "default-src 'none'; script-src 'self'; style-src 'self'; " \
	"img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; " \
	"form-action 'self'"

/* The file at path, or NULL. */
const struct console_file *console_find(const char *path);
/* Answers a request for a path outside /api/: the file (GET or HEAD) or 404/405. */
void console_serve(struct evhttp_request *req, const char *path);

#endif
