/* An incremental, bounded HTTP/1.1 response parser (see proctrail/http.h). RFC 9112: status
 * line, header fields, then a body delimited by Content-Length, chunked coding, or the close
 * of the connection. */
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "proctrail/http.h"

void pt_http_resp_init(struct pt_http_resp *r, uint64_t body_max, pt_http_body_fn on_body,
		       void *arg)
{
	memset(r, 0, sizeof(*r));
	r->body_max = body_max;
	r->on_body = on_body;
	r->arg = arg;
	pt_buf_init(&r->line, PT_HTTP_HEAD_MAX);
}

void pt_http_resp_free(struct pt_http_resp *r)
{
	if (r)
		pt_buf_free(&r->line);
}

static bool is_tchar(unsigned char c)
{
	return isalnum(c) || strchr("!#$%&'*+-.^_`|~", c);
}

static void trim(const char **s, size_t *n)
{
	while (*n && ((*s)[0] == ' ' || (*s)[0] == '\t'))
		(*s)++, (*n)--;
	while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
		(*n)--;
}

static int parse_u64_dec(const char *s, size_t n, uint64_t *v)
{
	uint64_t x = 0;

	if (!n || n > 19)
		return -EPROTO;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EPROTO;
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	*v = x;
	return 0;
}

static int header(struct pt_http_resp *r, const char *l, size_t n)
{
	const char *colon = memchr(l, ':', n), *v;
	size_t nl, vl;

	if (!colon || colon == l)
		return -EPROTO;
	nl = (size_t)(colon - l);
	for (size_t i = 0; i < nl; i++)
		if (!is_tchar((unsigned char)l[i]))
			return -EPROTO;   /* also refuses "Name :" (request smuggling's favourite) */
	v = colon + 1;
	vl = n - nl - 1;
	trim(&v, &vl);
	for (size_t i = 0; i < vl; i++)
		if ((unsigned char)v[i] < 0x20 && v[i] != '\t')
			return -EPROTO;
	if (nl == 14 && !strncasecmp(l, "content-length", 14)) {
		uint64_t len;

		if (parse_u64_dec(v, vl, &len) || (r->has_length && len != r->length))
			return -EPROTO;
		r->has_length = true;
		r->length = len;
	} else if (nl == 17 && !strncasecmp(l, "transfer-encoding", 17)) {
		/* only "chunked" is understood; any other coding cannot be delimited */
		if (vl != 7 || strncasecmp(v, "chunked", 7) || r->chunked)
			return -EPROTO;
		r->chunked = true;
	} else if (nl == 12 && !strncasecmp(l, "content-type", 12)) {
		size_t i;

		for (i = 0; i < vl && i < sizeof(r->content_type) - 1; i++)
			r->content_type[i] = (char)tolower((unsigned char)v[i]);
		r->content_type[i] = '\0';
	}
	return 0;
}

/* The head in r->line, without its final empty line. */
static int parse_head(struct pt_http_resp *r)
{
	const char *s = (const char *)r->line.data, *end = s + r->line.len, *eol;
	unsigned headers = 0;
	int ret;

	eol = memchr(s, '\n', (size_t)(end - s));
	if (!eol || eol - s < 12 || memcmp(s, "HTTP/1.", 7) || (s[7] != '0' && s[7] != '1') ||
	    s[8] != ' ' || !isdigit((unsigned char)s[9]) || !isdigit((unsigned char)s[10]) ||
	    !isdigit((unsigned char)s[11]) || (eol - s > 12 && s[12] != ' ' && s[12] != '\r'))
		return -EPROTO;
	r->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	if (r->status < 100 || r->status > 599)
		return -EPROTO;
	for (s = eol + 1; s < end; s = eol + 1) {
		size_t n;

		eol = memchr(s, '\n', (size_t)(end - s));
		if (!eol)
			eol = end;
		n = (size_t)(eol - s);
		if (n && s[n - 1] == '\r')
			n--;
		if (!n)
			break;
		if (s[0] == ' ' || s[0] == '\t')
			return -EPROTO;   /* obsolete line folding */
		if (++headers > PT_HTTP_HEADERS_MAX)
			return -EMSGSIZE;
		if ((ret = header(r, s, n)))
			return ret;
		if (eol == end)
			break;
	}
	if (r->chunked && r->has_length)
		return -EPROTO;
	if (r->has_length && r->length > r->body_max)
		return -EMSGSIZE;
	if (r->head_request || r->status == 204 || r->status == 304 || r->status < 200)
		r->state = PT_HTTP_DONE;
	else if (r->chunked)
		r->state = PT_HTTP_CHUNK_SIZE;
	else if (r->has_length)
		r->state = r->length ? PT_HTTP_BODY_LEN : PT_HTTP_DONE;
	else
		r->state = PT_HTTP_BODY_CLOSE;
	return 0;
}

static int body(struct pt_http_resp *r, const uint8_t *p, size_t n)
{
	if (!n)
		return 0;
	if (n > r->body_max - r->body_seen)
		return -EMSGSIZE;
	r->body_seen += n;
	return r->on_body ? r->on_body(r->arg, p, n) : 0;
}

/* Appends bytes to r->line up to and including a LF; returns how many were taken, with *eol
 * set when the LF was among them. */
static int take_line(struct pt_http_resp *r, const uint8_t *p, size_t n, size_t max,
		     size_t *took, bool *eol)
{
	const uint8_t *lf = memchr(p, '\n', n);
	size_t k = lf ? (size_t)(lf - p) + 1 : n;

	if (r->line.len + k > max)
		return -EMSGSIZE;
	if (pt_buf_append(&r->line, p, k))
		return -EMSGSIZE;
	*took = k;
	*eol = lf != NULL;
	return 0;
}

static int chunk_size(struct pt_http_resp *r)
{
	const char *s = (const char *)r->line.data;
	size_t n = r->line.len, i;
	uint64_t x = 0;

	if (n >= 2 && s[n - 2] == '\r')
		n -= 2;
	else
		n -= 1;
	for (i = 0; i < n && isxdigit((unsigned char)s[i]); i++) {
		if (x >> 60)
			return -EMSGSIZE;
		x = x << 4 | (uint64_t)(isdigit((unsigned char)s[i]) ? s[i] - '0'
							 : (tolower((unsigned char)s[i]) - 'a' + 10));
	}
	if (!i || (i < n && s[i] != ';' && s[i] != ' ' && s[i] != '\t'))
		return -EPROTO;
	if (x > r->body_max - r->body_seen)
		return -EMSGSIZE;
	r->length = x;
	return 0;
}

int pt_http_resp_feed(struct pt_http_resp *r, const uint8_t *data, size_t n, size_t *used)
{
	size_t off = 0;
	int ret;

	*used = 0;
	while (off < n || r->state == PT_HTTP_DONE) {
		const uint8_t *p = data + off;
		size_t left = n - off, took, k;
		bool eol;

		switch (r->state) {
		case PT_HTTP_HEAD: {
			const uint8_t *lf = memchr(p, '\n', left);

			k = lf ? (size_t)(lf - p) + 1 : left;
			if (r->line.len + k > PT_HTTP_HEAD_MAX || pt_buf_append(&r->line, p, k))
				return -EMSGSIZE;
			off += k;
			if (lf) {
				const uint8_t *b = r->line.data;
				size_t l = r->line.len;

				/* the head ends with an empty line (CRLF or a bare LF) */
				if ((l >= 2 && b[l - 2] == '\n') ||
				    (l >= 3 && b[l - 3] == '\n' && b[l - 2] == '\r')) {
					ret = parse_head(r);
					pt_buf_reset(&r->line);
					if (ret)
						return ret;
				}
			}
			break;
		}
		case PT_HTTP_BODY_LEN:
		case PT_HTTP_CHUNK_DATA:
			/* A Content-Length body and a chunk's data differ only in what follows them. */
			k = left < r->length ? left : (size_t)r->length;
			if ((ret = body(r, p, k)))
				return ret;
			off += k;
			r->length -= k;
			if (!r->length)
				r->state = r->state == PT_HTTP_BODY_LEN ? PT_HTTP_DONE : PT_HTTP_CHUNK_CRLF;
			break;
		case PT_HTTP_BODY_CLOSE:
			if ((ret = body(r, p, left)))
				return ret;
			off += left;
			break;
		case PT_HTTP_CHUNK_SIZE:
			if ((ret = take_line(r, p, left, PT_HTTP_CHUNK_LINE_MAX, &took, &eol)))
				return ret;
			off += took;
			if (!eol)
				break;
			ret = chunk_size(r);
			pt_buf_reset(&r->line);
			if (ret)
				return ret;
			r->state = r->length ? PT_HTTP_CHUNK_DATA : PT_HTTP_TRAILER;
			break;
		case PT_HTTP_CHUNK_CRLF:
			/* the CRLF after a chunk's data (a bare LF is tolerated) */
			if (take_line(r, p, left, 2, &took, &eol))
				return -EPROTO;
			off += took;
			if (!eol)
				break;
			if (!(r->line.len == 1 || (r->line.len == 2 && r->line.data[0] == '\r')))
				return -EPROTO;
			pt_buf_reset(&r->line);
			r->state = PT_HTTP_CHUNK_SIZE;
			break;
		case PT_HTTP_TRAILER:
			/* trailer fields are read and dropped; an empty line ends the message */
			if ((ret = take_line(r, p, left, PT_HTTP_TRAILER_MAX, &took, &eol)))
				return ret;
			off += took;
			if (!eol)
				break;
			{
				const uint8_t *b = r->line.data;
				size_t l = r->line.len;

				if (l == 1 || (l == 2 && b[0] == '\r') ||
				    (l >= 2 && b[l - 2] == '\n') ||
				    (l >= 3 && b[l - 3] == '\n' && b[l - 2] == '\r')) {
					pt_buf_reset(&r->line);
					r->state = PT_HTTP_DONE;
				}
			}
			break;
		case PT_HTTP_DONE:
			*used = off;
			return 1;
		}
	}
	*used = off;
	return 0;
}

int pt_http_resp_eof(struct pt_http_resp *r)
{
	if (r->state == PT_HTTP_DONE || r->state == PT_HTTP_BODY_CLOSE) {
		r->state = PT_HTTP_DONE;
		return 1;
	}
	return -EPIPE;
}
