/* Serves the web console (see console.h): static files only, from the table built into the
 * binary, so the console needs nothing from outside and the collector reads no file for it. */
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "console.h"

const struct console_file *console_find(const char *path)
{
	/* the console's pages are one document; "/index.html" is the same as "/" */
	if (!strcmp(path, "/index.html"))
		path = "/";
	for (const struct console_file *f = console_files; f->path; f++)
		if (!strcmp(f->path, path))
			return f;
	return NULL;
}

static void headers(struct evhttp_request *req, const char *type)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Type", type);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "Content-Security-Policy", CONSOLE_CSP);
	evhttp_add_header(h, "X-Frame-Options", "DENY");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	evhttp_add_header(h, "Cross-Origin-Opener-Policy", "same-origin");
}

static void text(struct evhttp_request *req, int code, const char *reason, const char *msg)
{
	struct evbuffer *b = evbuffer_new();

	headers(req, "text/plain; charset=utf-8");
	if (b)
		evbuffer_add(b, msg, strlen(msg));
	evhttp_send_reply(req, code, reason, b);
	if (b)
		evbuffer_free(b);
}

void console_serve(struct evhttp_request *req, const char *path)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	const struct console_file *f;
	struct evbuffer *b;

	if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
		text(req, 405, "Method Not Allowed", "GET only\n");
		return;
	}
	f = console_find(path);
	if (!f) {
		text(req, 404, "Not Found", "not found\n");
		return;
	}
	b = evbuffer_new();
	headers(req, f->content_type);
	/* the table lives as long as the program: no copy */
	if (b)
		evbuffer_add_reference(b, f->data, f->len, NULL, NULL);
	evhttp_send_reply(req, 200, "OK", b);
	if (b)
		evbuffer_free(b);
}
