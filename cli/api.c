/* The CLI's HTTPS client of the collector's API (see api.h): one request per connection,
 * "Connection: close", the response read through the bounded parser of lib/http. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "api.h"
#include "proctrail/escape.h"
#include "proctrail/jsonread.h"
#include "proctrail/tls.h"
#include "proctrail/version.h"

#define API_TIMEOUT_MS 60000

int cli_api_opt(struct cli_api_opts *o, int argc, char **argv, int *a)
{
	const char **slot = NULL;

	if (!strcmp(argv[*a], "--url"))
		slot = &o->url;
	else if (!strcmp(argv[*a], "--token-file"))
		slot = &o->token_file;
	else if (!strcmp(argv[*a], "--ca"))
		slot = &o->ca;
	if (!slot || *a + 1 >= argc)
		return 0;
	*slot = argv[++*a];
	return 1;
}

/* Reads a small file's first line into out (without its line end). */
static int read_line_file(const char *path, char *out, size_t cap)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return -errno;
	n = fread(out, 1, cap - 1, f);
	if (ferror(f) || (n == cap - 1 && fgetc(f) != EOF)) {
		fclose(f);
		return -EMSGSIZE;
	}
	fclose(f);
	out[n] = '\0';
	out[strcspn(out, "\r\n")] = '\0';
	return 0;
}

static int token_valid(const char *t)
{
	size_t n = strlen(t);

	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = t[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* https://HOST[:PORT][/PREFIX]; HOST may be [v6]. */
static int parse_url(struct cli_api *api, const char *url)
{
	const char *h, *end, *slash, *colon;
	size_t hl;

	if (strncmp(url, "https://", 8))
		return -EINVAL;
	h = url + 8;
	slash = strchr(h, '/');
	end = slash ? slash : h + strlen(h);
	if (*h == '[') {
		const char *rb = memchr(h, ']', (size_t)(end - h));

		if (!rb)
			return -EINVAL;
		hl = (size_t)(rb - h - 1);
		if (hl >= sizeof(api->host))
			return -EINVAL;
		memcpy(api->host, h + 1, hl);
		colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
		if (rb + 1 < end && !colon)
			return -EINVAL;
	} else {
		colon = memchr(h, ':', (size_t)(end - h));
		hl = (size_t)((colon ? colon : end) - h);
		if (hl >= sizeof(api->host))
			return -EINVAL;
		memcpy(api->host, h, hl);
	}
	api->host[hl] = '\0';
	if (!hl)
		return -EINVAL;
	if (colon) {
		size_t pl = (size_t)(end - colon - 1);

		if (!pl || pl >= sizeof(api->port))
			return -EINVAL;
		memcpy(api->port, colon + 1, pl);
		api->port[pl] = '\0';
		for (size_t i = 0; i < pl; i++)
			if (api->port[i] < '0' || api->port[i] > '9')
				return -EINVAL;
	} else {
		snprintf(api->port, sizeof(api->port), "443");
	}
	api->prefix[0] = '\0';
	if (slash) {
		size_t pl = strlen(slash);

		while (pl && slash[pl - 1] == '/')
			pl--;
		if (pl >= sizeof(api->prefix))
			return -EINVAL;
		memcpy(api->prefix, slash, pl);
		api->prefix[pl] = '\0';
		for (size_t i = 0; i < pl; i++)
			if ((unsigned char)slash[i] <= 0x20 || (unsigned char)slash[i] >= 0x7f)
				return -EINVAL;
	}
	return 0;
}

int cli_api_configured(const struct cli_env *env, const struct cli_api_opts *o)
{
	char path[CLI_PATH_MAX];
	const char *e = getenv("PROCTRAIL_URL");

	if (o->url || (e && *e))
		return 1;
	return !cli_path(env, path, sizeof(path), "api.url") && access(path, F_OK) == 0;
}

int cli_api_open(struct cli_api *api, const struct cli_env *env, const struct cli_api_opts *o)
{
	char path[CLI_PATH_MAX], url[1024];
	const char *e;
	int ret;

	memset(api, 0, sizeof(*api));
	api->timeout_ms = API_TIMEOUT_MS;
	if (o->url) {
		snprintf(url, sizeof(url), "%s", o->url);
	} else if ((e = getenv("PROCTRAIL_URL")) && *e) {
		snprintf(url, sizeof(url), "%s", e);
	} else {
		if (cli_path(env, path, sizeof(path), "api.url"))
			return -ENAMETOOLONG;
		if ((ret = read_line_file(path, url, sizeof(url)))) {
			fprintf(stderr, "proctrail: no API address: give --url https://HOST:PORT, set "
					"PROCTRAIL_URL, or write it into %s (%s)\n", path, strerror(-ret));
			return ret;
		}
	}
	snprintf(api->url, sizeof(api->url), "%s", url);
	if (parse_url(api, url)) {
		struct pt_esc m;

		fprintf(stderr, "proctrail: '%s' is not an https://HOST[:PORT] address\n",
			pt_esc(&m, url, strlen(url)));
		return -EINVAL;
	}

	if (o->token_file) {
		snprintf(path, sizeof(path), "%s", o->token_file);
	} else if ((e = getenv("PROCTRAIL_TOKEN")) && *e) {
		if (strlen(e) >= sizeof(api->token) || !token_valid(e)) {
			fprintf(stderr, "proctrail: PROCTRAIL_TOKEN is not a token\n");
			return -EINVAL;
		}
		snprintf(api->token, sizeof(api->token), "%s", e);
		path[0] = '\0';
	} else if (cli_path(env, path, sizeof(path), "operators/local.token")) {
		return -ENAMETOOLONG;
	}
	if (path[0]) {
		if ((ret = read_line_file(path, api->token, sizeof(api->token)))) {
			fprintf(stderr, "proctrail: operator token %s: %s (give --token-file, or set "
					"PROCTRAIL_TOKEN; `proctrail pki operator NAME` issues one)\n",
				path, strerror(-ret));
			return ret;
		}
		if (!token_valid(api->token)) {
			fprintf(stderr, "proctrail: %s does not hold a token\n", path);
			return -EINVAL;
		}
	}

	if (o->ca)
		snprintf(api->ca, sizeof(api->ca), "%s", o->ca);
	else if (cli_path(env, api->ca, sizeof(api->ca), "pki/ca.crt"))
		return -ENAMETOOLONG;
	api->ctx = SSL_CTX_new(TLS_client_method());
	if (!api->ctx || !SSL_CTX_set_min_proto_version(api->ctx, TLS1_2_VERSION) ||
	    SSL_CTX_load_verify_locations(api->ctx, api->ca, NULL) != 1) {
		char err[256];

		pt_tls_errstr(err, sizeof(err));
		fprintf(stderr, "proctrail: CA %s: %s (give --ca FILE)\n", api->ca, err);
		cli_api_close(api);
		return -EINVAL;
	}
	/* no system roots: the deployment's CA only */
	SSL_CTX_set_verify(api->ctx, SSL_VERIFY_PEER, NULL);
	return 0;
}

void cli_api_close(struct cli_api *api)
{
	if (!api)
		return;
	SSL_CTX_free(api->ctx);
	api->ctx = NULL;
	OPENSSL_cleanse(api->token, sizeof(api->token));
}

static int tcp_connect(const struct cli_api *api, int *fdp)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL, *ai;
	int fd = -1, ret = -EHOSTUNREACH, g;

	if ((g = getaddrinfo(api->host, api->port, &hints, &res))) {
		fprintf(stderr, "proctrail: %s: %s\n", api->host, gai_strerror(g));
		return -EHOSTUNREACH;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		struct pollfd pfd;
		int err = 0;
		socklen_t el = sizeof(err);
		struct timeval tv = { .tv_sec = api->timeout_ms / 1000,
				      .tv_usec = (api->timeout_ms % 1000) * 1000 };

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
			    ai->ai_protocol);
		if (fd < 0) {
			ret = -errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) && errno != EINPROGRESS) {
			ret = -errno;
			goto next;
		}
		pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
		if (poll(&pfd, 1, api->timeout_ms) != 1) {
			ret = -ETIMEDOUT;
			goto next;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) || err) {
			ret = -(err ? err : errno);
			goto next;
		}
		/* blocking from here, with a deadline on each read and write */
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		*fdp = fd;
		freeaddrinfo(res);
		return 0;
next:
		close(fd);
	}
	freeaddrinfo(res);
	fprintf(stderr, "proctrail: cannot connect to %s:%s: %s (is the collector running with "
			"--api?)\n", api->host, api->port, strerror(-ret));
	return ret;
}

struct conn {
	int fd;
	SSL *ssl;
};

static void conn_close(struct conn *c)
{
	if (c->ssl) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	if (c->fd >= 0)
		close(c->fd);
	c->ssl = NULL;
	c->fd = -1;
}

static int conn_open(struct cli_api *api, struct conn *c)
{
	char err[256];
	int ret;

	c->fd = -1;
	c->ssl = NULL;
	if ((ret = tcp_connect(api, &c->fd)))
		return ret;
	c->ssl = SSL_new(api->ctx);
	if (!c->ssl || pt_tls_client_expect_host(c->ssl, api->host) || !SSL_set_fd(c->ssl, c->fd)) {
		conn_close(c);
		return -ENOMEM;
	}
	if (SSL_connect(c->ssl) != 1) {
		long v = SSL_get_verify_result(c->ssl);

		pt_tls_errstr(err, sizeof(err));
		fprintf(stderr, "proctrail: TLS with %s:%s: %s%s%s\n", api->host, api->port, err,
			v != X509_V_OK ? "; certificate: " : "",
			v != X509_V_OK ? X509_verify_cert_error_string(v) : "");
		conn_close(c);
		return -EPROTO;
	}
	return 0;
}

/* json: a POST's body (NULL: a GET). */
static int send_request(struct cli_api *api, struct conn *c, const char *path,
			const char *accept, const char *last_id, const char *json)
{
	char req[CLI_QUERY_MAX + 2048], clen[96] = "";
	int n;

	if (json)
		snprintf(clen, sizeof(clen), "Content-Type: application/json\r\n"
			 "Content-Length: %zu\r\n", strlen(json));
	n = snprintf(req, sizeof(req),
		     "%s %s%s HTTP/1.1\r\nHost: %s%s%s:%s\r\nUser-Agent: proctrail/%s\r\n"
		     "Accept: %s\r\nAuthorization: Bearer %s\r\n%s%s%s%sConnection: close\r\n\r\n%s",
		     json ? "POST" : "GET", api->prefix, path, strchr(api->host, ':') ? "[" : "",
		     api->host, strchr(api->host, ':') ? "]" : "", api->port, PROCTRAIL_VERSION,
		     accept, api->token, last_id ? "Last-Event-ID: " : "", last_id ? last_id : "",
		     last_id ? "\r\n" : "", clen, json ? json : "");
	if (n < 0 || (size_t)n >= sizeof(req))
		return -EMSGSIZE;
	if (SSL_write(c->ssl, req, n) != n) {
		OPENSSL_cleanse(req, sizeof(req));
		fprintf(stderr, "proctrail: sending the request failed\n");
		return -EPIPE;
	}
	OPENSSL_cleanse(req, sizeof(req));
	return 0;
}

/* Reads until the parser says the response is complete. */
static int read_response(struct conn *c, struct pt_http_resp *r)
{
	uint8_t buf[16384];

	for (;;) {
		int n = SSL_read(c->ssl, buf, sizeof(buf)), ret;
		size_t used, off = 0;

		if (n <= 0) {
			int e = SSL_get_error(c->ssl, n);

			if (e == SSL_ERROR_ZERO_RETURN ||
			    (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && errno == 0))
				return pt_http_resp_eof(r) == 1 ? 0 : -EPIPE;
			if (e == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK))
				return -ETIMEDOUT;
			/* a peer that closes without close_notify after a delimited body is fine */
			if (pt_http_resp_eof(r) == 1)
				return 0;
			return -EPIPE;
		}
		while (off < (size_t)n) {
			ret = pt_http_resp_feed(r, buf + off, (size_t)n - off, &used);
			off += used;
			if (ret < 0)
				return ret;
			if (ret == 1)
				return 0;
		}
	}
}

static int collect(void *arg, const uint8_t *data, size_t len)
{
	return pt_buf_append(arg, data, len) ? -EMSGSIZE : 0;
}

static const char *strerr(int ret)
{
	return ret == -EPROTO ? "malformed HTTP answer" : ret == -EMSGSIZE ? "answer too large"
	       : strerror(-ret);
}

static int request(struct cli_api *api, const char *path, const char *json, struct pt_buf *body)
{
	struct pt_http_resp r;
	struct conn c;
	int ret;

	pt_buf_reset(body);
	if ((ret = conn_open(api, &c)))
		return ret;
	pt_http_resp_init(&r, body->max, collect, body);
	if (!(ret = send_request(api, &c, path, "application/json", NULL, json))) {
		ret = read_response(&c, &r);
		if (ret)
			fprintf(stderr, "proctrail: %s:%s: %s\n", api->host, api->port, strerr(ret));
		else
			ret = r.status;
	}
	pt_http_resp_free(&r);
	conn_close(&c);
	return ret;
}

int cli_api_get(struct cli_api *api, const char *path, struct pt_buf *body)
{
	return request(api, path, NULL, body);
}

int cli_api_post(struct cli_api *api, const char *path, const char *json, struct pt_buf *body)
{
	return request(api, path, json, body);
}

struct stream_ctx {
	struct pt_sse sse;
	struct pt_buf err;        /* a non-200 answer's body */
	struct pt_http_resp *r;
};

static int stream_body(void *arg, const uint8_t *data, size_t len)
{
	struct stream_ctx *s = arg;

	if (s->r->status != 200)
		return pt_buf_append(&s->err, data, len) ? -EMSGSIZE : 0;
	return pt_sse_feed(&s->sse, data, len);
}

int cli_api_stream(struct cli_api *api, const char *path, const char *last_id,
		   pt_sse_event_fn fn, void *arg)
{
	struct pt_http_resp r;
	struct stream_ctx s;
	struct conn c;
	int ret;

	if ((ret = conn_open(api, &c)))
		return ret;
	pt_sse_init(&s.sse, fn, arg);
	pt_buf_init(&s.err, 64u << 10);
	s.r = &r;
	/* a stream has no end: only each event is bounded (pt_sse) */
	pt_http_resp_init(&r, UINT64_MAX, stream_body, &s);
	if (!(ret = send_request(api, &c, path, "text/event-stream", last_id, NULL))) {
		ret = read_response(&c, &r);
		if (r.status && r.status != 200) {
			cli_api_fail("events --follow", r.status, &s.err);
			ret = r.status;
		} else if (ret < 0 && ret != -EPIPE) {
			fprintf(stderr, "proctrail: %s:%s: %s\n", api->host, api->port, strerr(ret));
		} else if (ret == -EPIPE) {
			ret = 0;   /* the collector closed the stream */
		}
	}
	pt_http_resp_free(&r);
	pt_sse_free(&s.sse);
	pt_buf_free(&s.err);
	conn_close(&c);
	return ret;
}

int cli_api_fail(const char *cmd, int status, const struct pt_buf *body)
{
	struct pt_jr doc;
	char msg[256] = "";

	if (status < 0)
		return 1;
	if (body && body->len && !pt_jr_parse(&doc, (const char *)body->data, body->len, 64)) {
		char raw[256];
		int n = pt_jr_text(&doc, pt_jr_get(&doc, 0, "error"), raw, sizeof(raw));

		if (n > 0)
			pt_escape(msg, sizeof(msg), raw, (size_t)n);
		pt_jr_free(&doc);
	}
	fprintf(stderr, "proctrail %s: the API answered %d%s%s%s\n", cmd, status,
		msg[0] ? " (" : "", msg, msg[0] ? ")" : "");
	if (status == 401)
		fprintf(stderr, "proctrail %s: the token was refused (give --token-file, or ask for "
				"one: proctrail pki operator NAME)\n", cmd);
	return 1;
}

int cli_query_add(char *q, size_t cap, const char *name, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(q);

	if (cap > CLI_QUERY_MAX)
		cap = CLI_QUERY_MAX;
#define PUT(c) do { if (n + 1 >= cap) return -EMSGSIZE; q[n++] = (c); } while (0)
	PUT(strchr(q, '?') ? '&' : '?');
	for (const char *p = name; *p; p++)
		PUT(*p);
	PUT('=');
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p == '_' || *p == '.' || *p == '~') {
			PUT((char)*p);
		} else {
			PUT('%');
			PUT(hex[*p >> 4]);
			PUT(hex[*p & 15]);
		}
	}
#undef PUT
	q[n] = '\0';
	return 0;
}
